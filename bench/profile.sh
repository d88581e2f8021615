# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Sourced by bench/run (its functions and variables are in scope): phase_profile, where the
# daemon's time goes in the figures that miss their goals.
#
#   1. Apply, 1 endpoint: wall time by system call (perf trace -s). Waiting for the disk
#      (fsync) takes no CPU, so a CPU profile alone would not show it.
#   2. Apply with BIG endpoints, and AddEndpoint on a table holding ADD_TOP: CPU profile of the
#      daemon, user and kernel (perf record -g), functions by their own share of the samples.
#
# The tables go to $KS_TMP/profile.md, which report.py includes.

# perf_start VAR OUT ARGS...: perf in the background on the daemon; its PID in VAR.
perf_start() {
    local __var=$1 out=$2; shift 2
    ks_spawn "$__var" "$out.log" perf "$@"
    sleep 0.5   # perf attaches
}
perf_stop() { ks_stop_pid "$1" INT; }
# Nanoseconds on a CPU so far, all threads.
cpu_ns() { cat /proc/"$1"/task/*/schedstat 2>/dev/null | awk '{ n += $1 } END { printf "%d", n }'; }

# Top functions by self time: "| share | function | object |" rows.
perf_top() {
    perf report -i "$1" --stdio --no-children -F overhead,sym,dso -g none --percent-limit "${2:-2}" \
        2>/dev/null | awk '
        /^#/ || NF < 4 { next }
        {
            sym = ""
            for (i = 3; i < NF; i++) sym = sym (sym == "" ? "" : " ") $i
            gsub(/\|/, "\\|", sym)
            dso = $NF; sub(/^.*\//, "", dso)
            printf "| %s | `%s` | %s |\n", $1, sym, dso
        }' | head -n "${3:-12}"
}

phase_profile() {
    local pid md=$KS_TMP/profile.md perf_pid n_calls=200
    if ! ((HAVE_PERF)); then
        echo "   (perf is missing: no profile)"
        return 0
    fi
    ensure_cli_daemon
    pid=$DAEMON_CLI
    : >"$md"

    step "Profile: Apply at 1 endpoint, wall time by system call (perf trace -s)"
    "$KS_BENCH" apply --netns "$B_CLI" --label warm --count 2 --endpoints 1 --tunnel "$B_WGC" >/dev/null
    local d0 b0 d1 b1
    # CPU per call first, without perf (which slows every system call down), then the trace.
    d0=$(cpu_ns "$pid") b0=$(cpu_ns "$KS_BUS_PID")
    kb apply --netns "$B_CLI" --label prof.cpu --count "$n_calls" --endpoints 1 --tunnel "$B_WGC"
    d1=$(cpu_ns "$pid") b1=$(cpu_ns "$KS_BUS_PID")
    perf_start perf_pid "$KS_TMP/trace" trace -s -p "$pid" -o "$KS_TMP/trace.txt"
    kb apply --netns "$B_CLI" --label prof.apply --count "$n_calls" --endpoints 1 --tunnel "$B_WGC"
    perf_stop "$perf_pid"
    {
        echo "### Profile: where an \`Apply\` spends its time"
        echo
        awk -v n="$n_calls" -v med="$(get prof.cpu.median_us)" -v tmed="$(get prof.apply.median_us)" \
            -v d="$((d1 - d0))" -v b="$((b1 - b0))" -v fs="$(get apply.statefs)" 'BEGIN {
            printf "%d `Apply` calls at 1 endpoint, state directory on %s: median %.2f ms as the client saw\n", n, fs, med / 1000
            printf "them, of which the daemon was on a CPU %.3f ms a call and dbus-daemon %.3f ms\n", d / n / 1e6, b / n / 1e6
            printf "(`/proc/PID/task/*/schedstat`). Then %d more under `perf trace -s -p DAEMON` (median %.2f ms;\n", n, tmed / 1000
            printf "tracing slows every system call down): the daemon'\''s system calls by the time spent in them,\n"
            printf "waiting included (`epoll_wait` is the daemon idle between calls):\n"
        }'
        echo
        echo "| system call | calls | total | per \`Apply\` | mean | max |"
        echo "|---|---|---|---|---|---|"
        awk -v n="$n_calls" '
            $1 ~ /^[a-z_0-9]+$/ && $2 ~ /^[0-9]+$/ && NF >= 8 {
                printf "| `%s` | %s | %.1f ms | %.3f ms | %.3f ms | %.2f ms |\n", $1, $2, $4, $4 / n, $6, $7
            }' "$KS_TMP/trace.txt" | sort -t'|' -k5 -rn | head -n 8
        echo
    } >>"$md"

    step "Profile: Apply with $BIG endpoints, CPU (perf record -g)"
    perf_start perf_pid "$KS_TMP/perf-apply" record -g -F 2000 -p "$pid" -o "$KS_TMP/perf-apply.data"
    kb apply --netns "$B_CLI" --label prof.big --count 20 --endpoints "$BIG" --tunnel "$B_WGC"
    perf_stop "$perf_pid"
    {
        echo "### Profile: CPU of \`Apply\` with $(printf "%'d" "$BIG") endpoints"
        echo
        echo "\`perf record -g -p DAEMON\` (user and kernel) over 20 calls, median"
        echo "$(awk -v x="$(get prof.big.median_us)" 'BEGIN { printf "%.1f ms", x / 1000 }'); functions by their own share of the samples:"
        echo
        echo "| self | function | object |"
        echo "|---|---|---|"
        perf_top "$KS_TMP/perf-apply.data" 2 14
        echo
    } >>"$md"

    step "Profile: AddEndpoint on a table holding $ADD_TOP, CPU (perf record -g)"
    "$KS_BENCH" apply --netns "$B_CLI" --label warm --count 1 --endpoints "$ADD_TOP" --tunnel "$B_WGC" >/dev/null
    perf_start perf_pid "$KS_TMP/perf-add" record -g -F 2000 -p "$pid" -o "$KS_TMP/perf-add.data"
    kb add --netns "$B_CLI" --label prof.add --base "$ADD_TOP" --skip-base --count 50 --tunnel "$B_WGC" \
        --max-seconds 15
    perf_stop "$perf_pid"
    {
        echo "### Profile: CPU of \`AddEndpoint\` on a table holding $(printf "%'d" "$ADD_TOP")"
        echo
        echo "\`perf record -g -p DAEMON\` over 50 \`AddEndpoint\` + \`RemoveEndpoint\` pairs,"
        echo "median \`AddEndpoint\`"
        echo "$(awk -v x="$(get prof.add.add.median_us)" 'BEGIN { printf "%.1f ms", x / 1000 }'); functions by their own share of the samples:"
        echo
        echo "| self | function | object |"
        echo "|---|---|---|"
        perf_top "$KS_TMP/perf-add.data" 2 14
        echo
    } >>"$md"
    res profile.report "$md"
}

# --------------------------------------------------------------------------
# phase_packetprofile: where the packet path's cycles go, with and without our table.
#
#   1. The path one packet takes through the tables: nftables tracing (`meta nftrace set 1`
#      from a chain of a table of our own that runs before ours, `nft monitor trace`) of one
#      64-byte datagram over veth and one into the tunnel (and the tunnel's own datagram to
#      the endpoint): every chain it enters and every verdict, in order.
#   2. System-wide `perf record -a -g -e cpu-clock` while `ks-bench blast` sends 64-byte UDP
#      over veth and through WireGuard, once per variant: no table; the bare hooks (base
#      chains with no rule at the hooks ours uses, policy accept); the same with conntrack on
#      (what any "replies only" rule costs); ours at BIG endpoints. packetprofile.py keeps the
#      samples of the processes that carry the packets and sums them by hook, by what ran in
#      the hook (nftables, conntrack) and by function; the set backends' lookup functions show
#      which backend the kernel chose for each set.
#   3. The same recording while one `iperf3` TCP stream runs over veth and through WireGuard:
#      the hooks' share of the CPU time of the sender (the `iperf3` client, where the output
#      and postrouting hooks run, and the receive path when its softirq runs there), of the
#      receiver (the `iperf3` server), of wireguard-go and of the softirq threads. One stream
#      is limited by the CPU of its busiest thread: what the hooks take of it, no table can
#      give back to the throughput.

PP_VARIANTS=(none floor floor_ct ours_big)

pp_trace() {
    local log=$KS_TMP/pp-trace.log mon_pid
    in_ns "$B_CLI" nft -f - <<NFT
table inet killswitchd_trace {
    chain output {
        type filter hook output priority -400; policy accept;
        udp dport { 9, $WG_PORT } meta nftrace set 1
    }
}
NFT
    ks_spawn mon_pid "$log" ip netns exec "$B_CLI" nft monitor trace
    sleep 0.5
    "$KS_BENCH" blast --netns "$B_CLI" --label trace --dst "$SRV_V4" --port 9 --rate 10 --count 1 >/dev/null
    sleep 0.2
    "$KS_BENCH" blast --netns "$B_CLI" --label trace --dst "$TUN_SRV_V4" --port 9 --rate 10 --count 1 >/dev/null
    sleep 0.5
    ks_stop_pid "$mon_pid"
    in_ns "$B_CLI" nft delete table inet killswitchd_trace
    # One line per chain entered or verdict, packets told apart by their trace id.
    awk '$1 == "trace" && $4 != "killswitchd_trace" && $5 != "killswitchd_trace" {
            id = $3
            if (!(id in num)) num[id] = ++n
            $1 = ""; $2 = ""; $3 = ""
            sub(/^ +/, "")
            printf "%d %s\n", num[id], $0
        }' "$log" >"$KS_TMP/pp-trace.txt"
    res pp.trace "$KS_TMP/pp-trace.txt"
}

# pp_reduce DATA PREFIX SENDER_PID [OTHER_PID[:NAME]...]: a recording reduced by
# packetprofile.py into the results, then removed.
pp_reduce() {
    local data=$1 prefix=$2
    shift 2
    if [[ -s $data ]]; then
        perf script -i "$data" -F comm,pid,tid,period,ip,sym 2>/dev/null |
            "$KS_PY" "$BENCH_DIR/packetprofile.py" "$prefix" "$@" >>"$RESULTS" ||
            echo "   (perf script failed: no profile $prefix)"
    else
        echo "   (perf record wrote nothing: no profile $prefix; see $data.log)"
    fi
    rm -f "$data" "$data.old"
}

# pp_record PATH VARIANT: perf while blast sends over PATH (veth or wg).
pp_record() {
    local path=$1 v=$2 dst=$SRV_V4 rate=$BLAST_RATE_VETH also=() data=$KS_TMP/pp-$1-$2.data
    local perf_pid blast_pid others=()
    if [[ $path == wg ]]; then
        dst=$TUN_SRV_V4 rate=$BLAST_RATE_WG also=(--also-pid "$B_WGC_PID") others=("$B_WGC_PID")
    fi
    perf_start perf_pid "$data" record -a -g -e cpu-clock -F "$PP_FREQ" -o "$data"
    "$KS_BENCH" blast --netns "$B_CLI" --label "pp_$path.$v" --dst "$dst" --port 9 --rate "$rate" \
        --count "$((rate * PP_SECONDS))" --max-seconds "$PP_SECONDS" "${also[@]}" \
        >"$KS_TMP/pp-$path-$v.out" &
    blast_pid=$!
    wait "$blast_pid"
    perf_stop "$perf_pid"
    cat "$KS_TMP/pp-$path-$v.out" >>"$RESULTS"
    pp_reduce "$data" "pp|$path|$v" "$blast_pid" "${others[@]}"
}

# pp_record_tcp PATH VARIANT: perf while one iperf3 TCP stream runs over PATH (veth or wg).
pp_record_tcp() {
    local path=$1 v=$2 dst=$SRV_V4 data=$KS_TMP/pt-$1-$2.data out=$KS_TMP/pt-$1-$2.json
    local perf_pid client_pid others=("$IPERF_PID:receiver")
    if [[ $path == wg ]]; then
        dst=$TUN_SRV_V4 others+=("$B_WGC_PID:wireguard-go" "$B_WGS_PID:wireguard-go-server")
    fi
    perf_start perf_pid "$data" record -a -g -e cpu-clock -F "$PP_FREQ" -o "$data"
    # Not in_ns (a shell function: $! would be a subshell): ip netns exec becomes iperf3.
    ip netns exec "$B_CLI" iperf3 -c "$dst" -p "$IPERF_PORT" -t "$PP_SECONDS" -J >"$out" 2>&1 &
    client_pid=$!
    wait "$client_pid" || { perf_stop "$perf_pid"; tail -n 5 "$out" >&2; ks_die "iperf3 to $dst failed"; }
    perf_stop "$perf_pid"
    res "pt_$path.$v.bits_per_second" "$("$KS_PY" -c 'import json, sys
print("%.0f" % json.load(open(sys.argv[1]))["end"]["sum_received"]["bits_per_second"])' "$out")"
    pp_reduce "$data" "pt|$path|$v" "$client_pid" "${others[@]}"
}

# The hooks' share of a group's CPU in one TCP recording, in percent ("-": no samples).
pt_share() {
    awk -v pre="pt|$1|$2|" -v g="$3" '
        index($1, pre) == 1 {
            split(substr($1, length(pre) + 1), k, "|")
            if (k[1] == "total" && k[2] == g) total += $2
            if (k[1] == "hookg" && k[2] == g) hooks += $2
        }
        END { if (total > 0) printf "%.1f", 100 * hooks / total; else printf "-" }' "$RESULTS"
}

phase_packetprofile() {
    local v path
    if ! ((HAVE_PERF)); then
        echo "   (perf is missing: no packet-path profile)"
        return 0
    fi
    ensure_cli_daemon
    step "Packet path: one datagram traced through the tables (nft monitor trace), ours at $BIG endpoints"
    set_variant ours_big
    pp_trace
    sed 's/^/   /' "$KS_TMP/pp-trace.txt" | cut -c1-150 | head -n 40
    res packet.big "$BIG"
    res pp.seconds "$PP_SECONDS"
    res pp.freq "$PP_FREQ"
    ks_spawn IPERF_PID "$KS_TMP/iperf-server.log" ip netns exec "$B_SRV" iperf3 -s -p "$IPERF_PORT"
    wait_until 5 iperf_listening || ks_die "iperf3 server did not start"
    for v in "${PP_VARIANTS[@]}"; do
        step "Packet path profile: $v, 64-byte UDP and one TCP stream, over veth and through WireGuard, ${PP_SECONDS}s each (perf record -a -g)"
        set_variant "$v"
        for path in veth wg; do
            pp_record "$path" "$v"
            printf '   %-4s %-9s %s packets, %s ns CPU a packet (sender + wireguard-go, blast)\n' "$path" "$v" \
                "$(get "pp_$path.$v.packets")" "$(get "pp_$path.$v.cpu_ns")"
            pp_record_tcp "$path" "$v"
            printf '   %-4s %-9s TCP %s bit/s; hooks: %s%% of the sender'"'"'s CPU, %s%% of the receiver'"'"'s\n' \
                "$path" "$v" "$(get "pt_$path.$v.bits_per_second")" "$(pt_share "$path" "$v" sender)" \
                "$(pt_share "$path" "$v" receiver)"
        done
    done
    set_variant none
    ks_stop_pid "$IPERF_PID"
}

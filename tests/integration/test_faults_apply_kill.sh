#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# kill -9 at random points during Apply of 20,000 endpoints (KS_APPLY_EPS),
# 20 times (KS_APPLY_KILLS), with a flood running through the tunnel.
#
# Two settings, A and B, each with 20,000 endpoints besides the VPN server
# (A: port 1/udp, B: port 2/tcp, other tunnel patterns and flags).  Each
# round Applies the other one with busctl and kills the daemon after a
# random delay between 0 and 20 ms more than an uninterrupted Apply takes
# (measured first; busctl alone needs most of it to build the message), so
# that kills land before the daemon has the call, while the kernel takes
# the batch, while the file is written, and after the reply.  Then, before any restart:
#
#   - the kernel's table is exactly A or exactly B (digest of every chain,
#     rule, set and element), never a mix, never absent;
#   - settings.conf is exactly A's or B's text, never a mix or empty;
#   - the file is never newer than the kernel (new file, old table);
#   - an acknowledged Apply is in force in both.
#
# Then the daemon restarts and must enforce exactly the saved settings
# (table digest and GetSettings of the saved side).  No packet may leak.
#
# Control: the same flood without our table (Disable) leaks.

# Functions called indirectly (through as_nobody, expect_ok, loops of names);
# arrays read through namerefs.
# shellcheck disable=SC2317,SC2012,SC2034
set -euo pipefail
source "$(dirname "$0")/lib-faults.sh"
faults_init test_faults_apply_kill
topo_create
tunnel_up
tunnel_flows || ks_die "the tunnel does not carry traffic"
state=$KS_TMP/state
n_eps=${KS_APPLY_EPS:-20000}
rounds=${KS_APPLY_KILLS:-20}

# KS_ARGS_A / KS_ARGS_B: busctl arguments for Apply of A and B.
eps_args() {   # PORT PROTO: the server endpoint and n_eps more
    "$KS_PY" -c 'import sys
n, port, proto, srv, wg = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5]
out = sys.stdout
out.write("%d\0%s\0%s\0udp\0" % (n + 1, srv, wg))
for i in range(n):
    a = 0x0A400000 + i
    out.write("%d.%d.%d.%d\0%s\0%s\0" % (a >> 24, a >> 16 & 255, a >> 8 & 255, a & 255, port, proto))' \
        "$n_eps" "$1" "$2" "$KS_SRV_V4" "$KS_WG_PORT"
}
mapfile -d '' eps_a < <(eps_args 1 udp)
mapfile -d '' eps_b < <(eps_args 2 tcp)
KS_ARGS_A=(Apply 'a{sv}' 5 Enabled b true Persistent b false AllowDhcp b true
           Tunnels as 1 "$KS_WG_CLI" Endpoints 'a(sqs)' "${eps_a[@]}")
KS_ARGS_B=(Apply 'a{sv}' 5 Enabled b true Persistent b true AllowDhcp b false
           Tunnels as 2 "$KS_WG_CLI" 'kb*' Endpoints 'a(sqs)' "${eps_b[@]}")

# apply_call A|B: Apply with busctl (the stack for ~60,000 arguments).
apply_call() {
    local -n args=KS_ARGS_$1
    ulimit -S -s 65536 2>/dev/null || true
    exec busctl --address "$DBUS_SYSTEM_BUS_ADDRESS" --timeout=30 call \
        "$KS_BUS_NAME" "$KS_BUS_PATH" "$KS_BUS_IFACE" "${args[@]}"
}
settings_hash() { settings_now | sha256sum | cut -c 1-16; }

start_daemon "$KS_CLI" "$state"
declare -A DIGEST FILE SETTINGS
for side in A B; do
    t0=$(now_ms)
    (apply_call "$side") >/dev/null || ks_die "Apply of $side failed"
    APPLY_MS=$(($(now_ms) - t0))
    DIGEST[$side]=$(table_digest "$KS_CLI")
    FILE[$side]=$(state_digest "$state")
    SETTINGS[$side]=$(settings_hash)
    ks_log "# $side: $(table_summary "$KS_CLI"); file ${FILE[$side]}; Apply took $APPLY_MS ms"
done
[[ ${DIGEST[A]} != "${DIGEST[B]}" && ${FILE[A]} != "${FILE[B]}" ]] || ks_die "A and B do not differ"
window=$((APPLY_MS + 20))
side_of() {   # DIGEST-OR-FILE-HASH KIND: A, B or the hash itself
    local -n map=$2
    if [[ $1 == "${map[A]}" ]]; then echo A; elif [[ $1 == "${map[B]}" ]]; then echo B; else echo "other($1)"; fi
}

flood_start "$KS_CLI" --canary "$KS_SRV_V4" --canary "$KS_SRV_V6"
counters_reset
cur=B
declare -A OUTCOMES=()
bad=0 lost=0
for ((i = 1; i <= rounds; i++)); do
    new=$([[ $cur == A ]] && echo B || echo A)
    delay=$((RANDOM % window))
    (apply_call "$new") >"$KS_TMP/apply.out" 2>&1 &
    caller=$!
    sleep "$(printf '0.%03d' "$delay")"
    kill_daemon "$KS_DAEMON_PID"
    acked=0
    wait "$caller" && acked=1
    t=$(side_of "$(table_digest "$KS_CLI")" DIGEST)
    f=$(side_of "$(state_digest "$state")" FILE)
    case "$t$f" in
        "$cur$cur") what="before the commit" ;;
        "$new$cur") what="between commit and save" ;;
        "$new$new") what="after the save" ;;
        *) what="INCONSISTENT" ;;
    esac
    ((acked)) && what+=", acknowledged"
    OUTCOMES[$what]=$((${OUTCOMES[$what]:-0} + 1))
    ks_log "# round $i: $cur -> $new, kill after ${delay} ms: table $t, file $f ($what)"
    if [[ $what == INCONSISTENT* ]] || [[ $t != [AB] || $f != [AB] ]]; then
        bad=$((bad + 1))
        ks_fail "round $i: table $t, file $f: not a whole old or new state"
    fi
    if ((acked)) && [[ $t$f != "$new$new" ]]; then
        lost=$((lost + 1))
        ks_fail "round $i: Apply was acknowledged but table $t, file $f"
    fi
    start_daemon "$KS_CLI" "$state"
    on_disk=$f
    [[ $on_disk == [AB] ]] || on_disk=$cur
    got_t=$(side_of "$(table_digest "$KS_CLI")" DIGEST)
    got_s=$(side_of "$(settings_hash)" SETTINGS)
    if [[ $got_t != "$on_disk" || $got_s != "$on_disk" ]]; then
        bad=$((bad + 1))
        ks_fail "round $i: restarted daemon enforces table $got_t, reports settings $got_s; saved: $on_disk"
    fi
    cur=$on_disk
done

ks_step "totals"
flood_stop
expect_no_leaks "$rounds kills during Apply of $n_eps endpoints"
leaks=$(count_leaks)
expect_zero "rounds with a mixed, partial or missing table or file, or a restart enforcing other settings" "$bad"
expect_zero "acknowledged Applies not in force after the kill (settings lost)" "$lost"
for k in "${!OUTCOMES[@]}"; do ks_log "# outcome: $k: ${OUTCOMES[$k]}"; done
expect_ge "kills that landed between the start of the call and the save" \
    $(( ${OUTCOMES["before the commit"]:-0} + ${OUTCOMES["between commit and save"]:-0} )) 1
ks_log "# FIGURES apply-kill: kills=$rounds endpoints=$n_eps apply_ms=$APPLY_MS leaks=$leaks inconsistent=$bad settings_lost=$lost outcomes: $(for k in "${!OUTCOMES[@]}"; do printf '[%s]=%s ' "$k" "${OUTCOMES[$k]}"; done)"
ks_step "control: without the table the canaries leak"
control_without_table
ks_finish

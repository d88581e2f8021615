#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Memory and resource hygiene.  The daemon runs under valgrind's memcheck
# (--leak-check=full --error-exitcode=99 --track-fds=yes) through a
# workload that reaches the paths the other tests reach, and must end with
# no memory error, no leak and no file descriptor of its own left open.
# Then the Applies and flaps run against the daemon without valgrind: its
# open file descriptors and VmRSS must stay flat (under valgrind, VmRSS
# includes valgrind's quarantine of freed blocks and is only reported).  CI size by default; tests/soak/soak.sh
# runs it at soak size:
#
#   KS_VG_APPLIES  valid Apply calls, the settings cycling (1000)
#   KS_VG_FLAPS    tunnel flaps under a flood, 1 in 20 a wireguard-go crash (100)
#   KS_VG_FUZZ     fuzzer calls, bad and valid (1000)
#   KS_VG_ROUNDS   rounds of endpoint, tunnel and property changes and reads (50)
#
# Under valgrind besides: Verify, NotFound, changes refused on a full state
# directory (a tmpfs in the daemon's own mount namespace), and two restarts
# of the bus daemon.  No packet may leak during the flaps.
#
# Control: the same flood without our table (Disable) leaks.

# Functions called indirectly (through as_nobody, expect_ok, loops of names).
# shellcheck disable=SC2317,SC2012
set -euo pipefail
source "$(dirname "$0")/lib-faults.sh"
faults_init test_faults_valgrind
command -v valgrind >/dev/null || ks_die "missing tool: valgrind"
ks_bus_fuzz_binary
topo_create
tunnel_up
tunnel_flows || ks_die "the tunnel does not carry traffic"
state=$KS_TMP/state
applies=${KS_VG_APPLIES:-1000}
flaps=${KS_VG_FLAPS:-100}
fuzz_calls=${KS_VG_FUZZ:-1000}
rounds=${KS_VG_ROUNDS:-50}
vglog=$KS_TMP/valgrind.log

inside() { tmpfs_exec "$pid" "$@"; }
fd_count() { ls "/proc/$pid/fd" | wc -l; }
rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$pid/status"; }
settings() {
    bus_do call Apply 'a{sv}' 7 Enabled b true Tunnels as 1 "$KS_WG_CLI" EndpointMark u 0 \
        Endpoints 'a(sqs)' 1 "$KS_SRV_V4" "$KS_WG_PORT" udp AllowLan b false AllowDhcp b true \
        Persistent b false
    ((BUS_RC == 0)) || ks_fail "settings: $BUS_ERR_NAME $BUS_ERR_MSG"
}
# ASCII strings only: what the daemon answers to other text is
# test_hostile_fuzz's business; here only memory and descriptors count.
fuzzer() { "$KS_BUS_FUZZ" --address "$DBUS_SYSTEM_BUS_ADDRESS" --timeout 10 --ascii "$@"; }

# Warm-up: every kind of call once, and the largest messages the fuzzer
# sends, so that the heap has grown to what the workload needs.
warm_up() {
    settings
    fuzzer --apply-loop 50 >/dev/null || ks_fail "warm-up Applies failed"
    fuzzer --mode invalid --seed 10 --calls 300 --max-violations 0 >/dev/null 2>&1 || true
    for ((i = 0; i < 10; i++)); do tunnel_down; tunnel_up_link; done
    settings
}

# The repetitive part: Applies, flaps under a flood, and (unless --no-fuzz)
# the fuzzer.
workload() {   # LABEL [--no-fuzz]
    local out i
    out=$(fuzzer --apply-loop "$applies") || ks_fail "$1: Apply loop: $out"
    ks_log "# $1: $(grep '^applies=' <<<"$out")"
    APPLY_RATE=$(sed -n 's/.*rate=\([0-9]*\).*/\1/p' <<<"$out")
    settings
    flood_start "$KS_CLI" --canary "$KS_SRV_V4" --canary "$KS_SRV_V6"
    counters_reset
    for ((i = 1; i <= flaps; i++)); do
        if ((i % 20 == 0)); then
            tunnel_kill
            tunnel_up
        else
            tunnel_down
            sleep 0.0$((RANDOM % 10))
            tunnel_up_link
        fi
    done
    tunnel_flows 10 || ks_fail "$1: the tunnel does not come back"
    flood_stop
    expect_no_leaks "$1: $flaps flaps"
    [[ ${2:-} == --no-fuzz ]] && return 0
    out=$(fuzzer --mode invalid --seed 11 --calls $((fuzz_calls / 2)) --max-violations 0 2>&1) || true
    ks_log "# $1, fuzzer: $(grep '^calls=' <<<"$out" || tail -n 1 <<<"$out")"
    out=$(fuzzer --mode mixed --seed 12 --calls $((fuzz_calls / 2)) --max-violations 0 2>&1) || true
    ks_log "# $1, fuzzer: $(grep '^calls=' <<<"$out" || tail -n 1 <<<"$out")"
    expect_ok "$1: the daemon survived the fuzzer" daemon_alive "$pid"
    settings
}

# ==========================================================================
ks_step "under valgrind: warm-up"
# valgrind runs the program in its own process: the PID stays the daemon's.
wrapper=$KS_TMP/killswitchd-valgrind
printf '#!/bin/sh\nexec valgrind --tool=memcheck --leak-check=full --show-leak-kinds=definite,indirect,possible --errors-for-leak-kinds=definite,indirect,possible --error-exitcode=99 --track-fds=yes --num-callers=30 --log-file=%q %q "$@"\n' \
    "$vglog" "$KILLSWITCHD" >"$wrapper"
chmod +x "$wrapper"
KILLSWITCHD=$wrapper start_daemon_tmpfs "$KS_CLI" "$state" 8m
pid=$KS_DAEMON_PID
warm_up
vfds0=$(fd_count) vrss0=$(rss_kb)

ks_step "under valgrind: $applies Applies, $flaps flaps, $fuzz_calls fuzzer calls"
workload "valgrind"
vg_apply_rate=$APPLY_RATE

ks_step "under valgrind: $rounds rounds of single changes and reads"
failed=0
for ((i = 1; i <= rounds; i++)); do
    for call in "call AddEndpoint sqs 198.51.100.$((i % 250 + 1)) $((2000 + i)) udp" \
                "call AddTunnel s vg$i*" \
                "set AllowDhcp b $( ((i % 2)) && echo false || echo true)" \
                "call RemoveEndpoint sqs 198.51.100.$((i % 250 + 1)) $((2000 + i)) udp" \
                "call RemoveTunnel s vg$i*" \
                "call GetSettings" "get ActiveTunnels" "get BlockedPackets"; do
        # shellcheck disable=SC2086 # the words of one call
        bus_do $call
        ((BUS_RC == 0)) || { failed=$((failed + 1)); ks_log "# $call: $BUS_ERR_NAME $BUS_ERR_MSG"; }
    done
    if ((i % 10 == 0)); then
        bus_do call Verify
        ((BUS_RC == 0)) || failed=$((failed + 1))
        bus_do call RemoveTunnel s absent0
        [[ $BUS_ERR_NAME == "$KS_E_NOT_FOUND" ]] || failed=$((failed + 1))
    fi
done
expect_zero "calls that did not get the answer they should" "$failed"

ks_step "under valgrind: a full state directory"
inside sh -c "dd if=/dev/zero of='$state/filler' bs=64k 2>/dev/null" || true
use_up_file_room
expect_bus_error "AddEndpoint refused" "$KS_E_STATE" "" call AddEndpoint sqs 198.51.100.1 1 udp
expect_bus_error "Apply refused" "$KS_E_STATE" "" call Apply 'a{sv}' 1 Tunnels as 2 "$KS_WG_CLI" 'x*'
expect_bus_error "Disable refused" "$KS_E_STATE" "" call Disable
inside rm -f "$state/filler"

ks_step "under valgrind: two bus restarts"
for sig in TERM KILL; do
    bus_restart "$sig"
    expect_ok "back on the bus after a $sig of the bus daemon" wait_until 10 bus_owned_by "$pid"
done
settings

vfds1=$(fd_count) vrss1=$(rss_kb)
ks_log "# under valgrind: $vfds0 -> $vfds1 fds, VmRSS $vrss0 -> $vrss1 kB (valgrind's own memory included)"
expect_eq "under valgrind: open file descriptors flat" "$vfds1" "$vfds0"

ks_step "valgrind's verdict"
stop_daemon "$pid"
wait_until 60 ks_pid_gone "$pid" || ks_fail "the daemon did not stop"
wait_until 10 grep -q 'ERROR SUMMARY' "$vglog" || true
summary=$(grep 'ERROR SUMMARY' "$vglog" | tail -n 1 | sed 's/^==[0-9]*== //')
ks_log "# $summary"
grep -E 'definitely lost|indirectly lost|possibly lost|still reachable|All heap blocks|total heap usage|FILE DESCRIPTORS' "$vglog" |
    sed 's/^==[0-9]*== */# /'
expect_ok "no memory errors, no leaks (ERROR SUMMARY: 0 errors)" grep -q 'ERROR SUMMARY: 0 errors' "$vglog"
if ! grep -q 'ERROR SUMMARY: 0 errors' "$vglog"; then
    grep -A 25 -E 'Invalid|uninitialised|Conditional jump|definitely lost in|indirectly lost in|possibly lost in' "$vglog" |
        head -n 80 | sed 's/^/    /'
fi
# Descriptors open at exit other than those the daemon was started with.
own_fds=$(awk '/Open file descriptor/ { fd = $0; getline; if ($0 !~ /inherited from parent/) print fd }' "$vglog" | wc -l)
expect_zero "file descriptors of its own left open at exit" "$own_fds"

# ==========================================================================
ks_step "without valgrind: the same workload, file descriptors and VmRSS"
# The fuzzer's messages (up to 8 MiB) take the heap to a high-water mark that
# converges over runs (test_hostile_fuzz bounds it); the Applies and flaps
# must not move VmRSS at all.
start_daemon "$KS_CLI" "$state"
pid=$KS_DAEMON_PID
warm_up
fds0=$(fd_count) rss0=$(rss_kb)
workload "native" --no-fuzz
fds1=$(fd_count) rss1=$(rss_kb)
ks_log "# without valgrind: $fds0 -> $fds1 fds, VmRSS $rss0 -> $rss1 kB over $applies Applies and $flaps flaps"
expect_eq "open file descriptors flat" "$fds1" "$fds0"
expect_ok "VmRSS flat: grows by at most 128 kB ($rss0 -> $rss1 kB)" test "$rss1" -le $((rss0 + 128))

control_without_table
ks_log "# FIGURES valgrind: applies=$applies (${vg_apply_rate}/s under valgrind) flaps=$flaps rounds=$rounds fuzz=$fuzz_calls valgrind[$summary; own fds at exit $own_fds; fds $vfds0->$vfds1; rss_kb $vrss0->$vrss1] native[fds $fds0->$fds1; rss_kb $rss0->$rss1]"
ks_finish

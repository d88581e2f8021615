#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Bad input over D-Bus: tests/fuzz/bus/ks-bus-fuzz sends random and
# mutated calls to every method and property of the daemon (right and wrong
# signatures, random variants, nested containers, huge strings, file
# descriptors), reproducible from a seed (KS_FUZZ_SEED; printed; more
# fuzzer options in KS_FUZZ_ARGS).
#
#   1. as root, 100,000 calls (KS_FUZZ_CALLS) none of which is a valid
#      change: every bad call gets an error reply, every valid read an
#      answer, the daemon answers a Get after every 1000 calls and at the
#      end under the same bus connection (no crash, no restart, no hang),
#      and the table, settings.conf and GetSettings are exactly as before;
#      the daemon holds no more file descriptors than before.
#   2. as nobody (no polkit on the bus), 10,000 calls (a tenth of
#      KS_FUZZ_CALLS) including valid changes: each valid change is refused
#      with AccessDenied, nothing changes.
#   3. the marked phase: as root, 10,000 calls (a tenth) with valid changes
#      mixed in;
#      the daemon keeps answering, and a daemon restarted from the state
#      file enforces and reports exactly what the running one did (nothing
#      lost, kernel and file agree).

# Functions called indirectly (through as_nobody, expect_ok, loops of names).
# shellcheck disable=SC2317,SC2012
set -euo pipefail
source "$(dirname "$0")/lib-faults.sh"
faults_init test_hostile_fuzz
ks_bus_fuzz_binary
netns_client
state=$KS_TMP/state
calls=${KS_FUZZ_CALLS:-100000}
side_calls=$((calls / 10))
seed=${KS_FUZZ_SEED:-$((RANDOM << 15 | RANDOM))}
ks_log "# seed $seed (KS_FUZZ_SEED=$seed reproduces this run)"

start_bus_daemon "$KS_CLI" "$state"
chmod o+x "$KS_TMP"   # the bus socket, for the unprivileged caller
expect_bus_ok "settings in force" call Apply 'a{sv}' 5 Enabled b true Persistent b true \
    Tunnels as 2 wg0 'tun*' EndpointMark u 0 \
    Endpoints 'a(sqs)' 3 10.200.0.1 51820 udp 2001:db8:200::1 443 tcp 10.200.0.2 1194 udp

fuzz() {   # LABEL ARGS...: run the fuzzer; its summary in FUZZ_OUT, status in FUZZ_RC
    local label=$1; shift
    local log=$KS_TMP/fuzz.$((++KS_SEQ)).log
    FUZZ_RC=0
    # shellcheck disable=SC2086 # KS_FUZZ_ARGS: extra fuzzer options, word-split
    "$@" --address "$DBUS_SYSTEM_BUS_ADDRESS" ${KS_FUZZ_ARGS:-} >"$log" 2>"$log.err" || FUZZ_RC=$?
    FUZZ_OUT=$(grep '^calls=' "$log" || echo "no summary")
    sed 's/^/    /' "$log"
    if [[ -s $log.err ]]; then
        echo "    fuzzer stderr ($(wc -l <"$log.err") lines, first 20):"
        head -n 20 "$log.err" | cut -c 1-300 | sed 's/^/    /'
    fi
    ks_log "# $label: $FUZZ_OUT"
}
fuzz_field() { sed -n "s/.* $1=\([^ ]*\).*/\1/p" <<<" $FUZZ_OUT"; }

snapshot_all() {
    SNAP_TABLE=$(table_digest "$KS_CLI")
    SNAP_STATE=$(state_digest "$state")
    SNAP_SETTINGS=$(settings_now)
}
expect_all_unchanged() {   # LABEL
    expect_eq "$1: table unchanged (digest)" "$(table_digest "$KS_CLI")" "$SNAP_TABLE"
    expect_eq "$1: settings.conf unchanged" "$(state_digest "$state")" "$SNAP_STATE"
    expect_eq "$1: GetSettings unchanged" "$(settings_now)" "$SNAP_SETTINGS"
    expect_eq "$1: no temporary state files" "$(tmp_files "$state" | wc -l)" 0
}
fd_count() { ls "/proc/$KS_DAEMON_PID/fd" | wc -l; }
rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$KS_DAEMON_PID/status"; }

# --------------------------------------------------------------------------
ks_step "1. root, $calls calls, no valid change among them (seed $seed)"
snapshot_all
fds0=$(fd_count) rss0=$(rss_kb)
pid0=$KS_DAEMON_PID
# In two runs of one stream (--first): the first tenth warms the daemon up
# (its heap grows to the largest message once), the rest must not grow it.
warm=$((calls / 10))
fuzz "root, invalid, warm-up" "$KS_BUS_FUZZ" --mode invalid --seed "$seed" --calls "$warm" \
    --check-every 1000 --max-violations 5
warm_rc=$FUZZ_RC warm_out=$FUZZ_OUT
fds1=$(fd_count) rss1=$(rss_kb)
fuzz "root, invalid" "$KS_BUS_FUZZ" --mode invalid --seed "$seed" --first "$warm" \
    --calls $((calls - warm)) --check-every 1000 --max-violations 5
fds2=$(fd_count) rss2=$(rss_kb)
FUZZ_OUT="calls=$(( $(FUZZ_OUT=$warm_out fuzz_field calls) + $(fuzz_field calls) )) \
replies=$(( $(FUZZ_OUT=$warm_out fuzz_field replies) + $(fuzz_field replies) )) \
violations=$(( $(FUZZ_OUT=$warm_out fuzz_field violations) + $(fuzz_field violations) )) \
seconds=$(awk -v a="$(FUZZ_OUT=$warm_out fuzz_field seconds)" -v b="$(fuzz_field seconds)" 'BEGIN { print a + b }')"
expect_eq "fuzzer: every answer as required (exit status)" "$((warm_rc | FUZZ_RC))" 0
expect_ge "calls sent" "$(fuzz_field calls)" $((calls * 99 / 100))
expect_eq "every call answered" "$(fuzz_field replies)" "$(fuzz_field calls)"
expect_zero "bad calls accepted or left unanswered" "$(fuzz_field violations)"
expect_ok "the daemon is still the same process" daemon_alive "$pid0"
expect_ok "it still owns its bus name" bus_owned_by "$pid0"
expect_all_unchanged "after $calls bad calls"
expect_eq "open file descriptors: $fds0 at the start, $fds1 after warm-up, $fds2 at the end" "$fds2" "$fds0"
ks_log "# daemon VmRSS: ${rss0} kB at the start, ${rss1} kB after $warm calls, ${rss2} kB after $calls"
# AddressSanitizer holds freed memory in quarantine (up to 256 MiB), so RSS says nothing about
# leaks in that build; LeakSanitizer and valgrind (test_faults_valgrind.sh) do that job there.
if grep -q __asan_init "$KILLSWITCHD" 2>/dev/null; then
    ks_log "# VmRSS not judged: the daemon is built with AddressSanitizer"
elif (($(FUZZ_OUT=$warm_out fuzz_field calls) >= warm * 99 / 100)); then
    expect_ok "VmRSS after warm-up grows by at most 4 MiB (${rss1} -> ${rss2} kB)" \
        test "$rss2" -le $((rss1 + 4096))
else
    ks_log "# VmRSS not judged: the warm-up stopped early"
fi
P1_OUT=$FUZZ_OUT
KS_FUZZ_RATE=$(awk -v n="$(fuzz_field calls)" -v s="$(fuzz_field seconds)" 'BEGIN { printf "%.0f", n / s }')

# --------------------------------------------------------------------------
ks_step "2. nobody, $side_calls calls with valid changes among them"
snapshot_all
# A copy the unprivileged user can reach whatever the build directory's modes.
install -m 0755 "$KS_BUS_FUZZ" "$KS_TMP/ks-bus-fuzz-nobody"
fuzz "nobody, denied" "${KS_NOBODY[@]}" "$KS_TMP/ks-bus-fuzz-nobody" --mode denied --seed $((seed + 1)) \
    --calls "$side_calls" --check-every 1000 --max-violations 5
expect_eq "fuzzer as nobody: every change refused with AccessDenied (exit status)" "$FUZZ_RC" 0
expect_zero "changes by nobody accepted, or calls unanswered" "$(fuzz_field violations)"
expect_ok "the daemon is still the same process" daemon_alive "$pid0"
expect_all_unchanged "after $side_calls calls by nobody"

# --------------------------------------------------------------------------
ks_step "3. marked phase: root, $side_calls calls with valid changes mixed in"
fuzz "root, mixed" "$KS_BUS_FUZZ" --mode mixed --seed $((seed + 2)) --calls "$side_calls" \
    --check-every 1000 --max-violations 5
expect_eq "fuzzer, mixed: every bad call refused, every read answered (exit status)" "$FUZZ_RC" 0
expect_ok "the daemon is still the same process" daemon_alive "$pid0"
# Whatever the fuzzer left, enabled: so that there is a table to compare.
expect_bus_ok "Enable after the mixed phase" call Enable
running_settings=$(settings_now)
running_table=$(table_digest "$KS_CLI")
ks_log "# settings after the mixed phase: $(cut -c 1-300 <<<"$running_settings")"
restart_daemon "$KS_CLI" "$state"
expect_eq "restarted from the state file: the same settings (nothing lost)" "$(settings_now)" "$running_settings"
expect_eq "restarted from the state file: the same table" "$(table_digest "$KS_CLI")" "$running_table"
expect_eq "no temporary state files" "$(tmp_files "$state" | wc -l)" 0

ks_step "figures"
ks_log "# FIGURES fuzz: seed=$seed calls=$(FUZZ_OUT=$P1_OUT fuzz_field calls) rate=${KS_FUZZ_RATE}/s fds=$fds0/$fds1/$fds2 rss_kb=$rss0/$rss1/$rss2"
ks_finish

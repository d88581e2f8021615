#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Tamper defence in monitor mode (--protection=monitor): another process
# (nft) deletes our table, flushes the ruleset, deletes a rule, flushes a
# chain, sets a chain's policy to accept, deletes a set element, adds an
# accept rule.  After each, within a second, the table must be back exactly
# as it was (nft -j, counter values and the table's handle aside), Tampered must have been sent
# with a description of the change, and the daemon's log must name the
# culprit "(nft)".  A flood runs meanwhile with the tunnel killed, so that
# every packet meets the kill switch: monitor mode has a window between the
# other process's commit and the restore, and the packets leaked in it are
# reported (not required to be zero).  Afterwards nothing may leak.
#
# Then the same commands against the daemon in owner mode: refused with
# EPERM (a flush of the ruleset skips our table), the table unchanged, no
# Tampered, and zero packets leaked.

source "$(dirname "$0")/lib-net.sh"
ks_init test_tamper_monitor
topo_create
tunnel_up
tunnel_flows || ks_die "the tunnel does not carry traffic"
state=$KS_TMP/state
write_settings "$state" Enabled=true "Tunnel=$KS_WG_CLI" "Endpoint=$KS_SRV_V4 $KS_WG_PORT udp"
net_bus
sig_start

# The tamper commands, run by another process: nft.  Each sets TAMPER_ERR.
tamper() { TAMPER_ERR=$(in_ns "$KS_CLI" nft "$@" 2>&1 >/dev/null); }
rule_handle() {   # CHAIN: the handle of its "jump" rule
    in_ns "$KS_CLI" nft -a list chain inet killswitchd "$1" | sed -n 's/.*jump .*# handle \([0-9]*\)$/\1/p' | head -n1
}
t_delete_table() { tamper delete table inet killswitchd; }
t_flush_ruleset() { tamper flush ruleset; }
t_delete_rule() { tamper delete rule inet killswitchd output handle "$(rule_handle output)"; }
t_flush_chain() { tamper flush chain inet killswitchd output; }
t_policy_accept() { tamper 'chain inet killswitchd output { policy accept; }'; }
t_delete_element() { tamper delete element inet killswitchd endpoints4 "{ $KS_SRV_V4 . udp . $KS_WG_PORT }"; }
t_add_accept() { tamper insert rule inet killswitchd output accept; }

# name|description Tampered must carry (extended regex)
TAMPERS=(
    "t_delete_table|^table deleted$"
    "t_flush_ruleset|^table deleted$"
    "t_delete_rule|^rule deleted from chain output$"
    "t_flush_chain|^rule deleted from chain output$"
    "t_policy_accept|^chain output changed$"
    "t_delete_element|^element deleted from set endpoints4$"
    "t_add_accept|^rule added to chain output$"
)

table_is() { [[ $(table_shape "$KS_CLI" 2>/dev/null) == "$1" ]]; }
culprits() { grep -cE 'changed by pid [0-9]+ \(nft\)' "$KS_DAEMON_LOG" || true; }

ks_step "monitor mode"
start_daemon_monitor "$KS_CLI" "$state"
expect_prop "--protection=monitor" Protection '"monitor"'
flood_start "$KS_CLI" --canary "$KS_SRV_V4" --canary "$KS_SRV_V6"
tunnel_kill   # the flood falls back to the veth: all of it meets the kill switch
before=$(table_shape "$KS_CLI")
total_leaked=0
for entry in "${TAMPERS[@]}"; do
    op=${entry%%|*} want=${entry#*|}
    n0=$(sig_count Tampered) c0=$(culprits)
    counters_reset
    if ! "$op"; then
        ks_fail "$op: nft failed in monitor mode: $TAMPER_ERR"
        continue
    fi
    t0=${EPOCHREALTIME/./}
    wait_until 1 table_is "$before" || true
    restore_ms=$(( (${EPOCHREALTIME/./} - t0) / 1000 ))
    sig_wait Tampered $((n0 + 1)) 1 || true
    sleep 0.2
    leaked=$(count_leaks)
    total_leaked=$((total_leaked + leaked))
    ks_log "   $op: table back after <= $restore_ms ms; $leaked packets leaked in the window ($(counters_summary))"
    expect_same_table "$op: table restored exactly" "$before" "$(table_shape "$KS_CLI")"
    what=$(sig_args Tampered "$n0" | paste -sd' ' -)
    if [[ $(sig_count Tampered) == $((n0 + 1)) ]] && [[ $(sig_args Tampered "$n0" | "$KS_PY" -c 'import json,sys; print(json.load(sys.stdin)[0])') =~ $want ]]; then
        ks_pass "$op: one Tampered $what"
    else
        ks_fail "$op: Tampered signals: ${what:-none} (want one matching /$want/)"
    fi
    expect_eq "$op: log lines naming the culprit (nft)" "$(($(culprits) - c0))" 1
    counters_reset
    sleep 0.3
    expect_no_leaks "$op: after the restore"
done
ks_log "   monitor mode: $total_leaked packets leaked in all in ${#TAMPERS[@]} tamper windows (flood: $(flood_stat sent) sent, $(flood_stat eperm) refused)"
grep -E 'changed by pid [0-9]+ \(nft\)' "$KS_DAEMON_LOG" | head -n1 | sed 's/^/   log: /'

ks_step "owner mode: the same commands are refused"
stop_daemon "$KS_DAEMON_PID"
start_daemon "$KS_CLI" "$state"
expect_prop "without --protection" Protection '"owner"'
before=$(table_shape "$KS_CLI")
n0=$(sig_count Tampered)
counters_reset
for entry in "${TAMPERS[@]}"; do
    op=${entry%%|*}
    if [[ $op == t_flush_ruleset ]]; then
        # Allowed for whatever else there is; the kernel skips our table.
        if "$op"; then ks_log "   $op: nft succeeded"; else ks_log "   $op: nft failed: $TAMPER_ERR"; fi
    elif "$op"; then
        ks_fail "$op: accepted in owner mode"
    elif [[ $TAMPER_ERR == *"Operation not permitted"* ]]; then
        ks_pass "$op: refused with EPERM"
    else
        ks_fail "$op: refused, but not with EPERM: $TAMPER_ERR"
    fi
    expect_same_table "$op: table unchanged" "$before" "$(table_shape "$KS_CLI")"
done
sleep 0.5
expect_eq "owner mode: Tampered signals" "$(($(sig_count Tampered) - n0))" 0
expect_no_leaks "owner mode: flood during all the tampering"
flood_stop

ks_finish

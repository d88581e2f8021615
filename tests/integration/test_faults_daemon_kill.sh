#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# The daemon crashes 100 times (KS_KILLS): each round makes one change
# over D-Bus (an endpoint added or removed, a tunnel pattern added or
# removed, AllowDhcp or Persistent toggled), and as soon as the reply is
# in, kill -9; then the daemon is started again as systemd's
# Restart=on-failure would (RestartSec=100ms).  A flood to the internet
# host runs through the tunnel the whole time, with canary packets to the
# server's address outside the tunnel.
#
# Checked: no packet leaks, ever (server side); the table never goes away
# (right after each kill); every acknowledged change survives the crash
# (GetSettings of the new daemon equals that of the old one after its last
# reply: "settings lost" must be 0); the new daemon enforces the same table
# (digest, every 10th round); it re-takes the table (Protection "owner").
# Control: without the table the canaries leak.

# Functions called indirectly (through as_nobody, expect_ok, loops of names).
# shellcheck disable=SC2317,SC2012
set -euo pipefail
source "$(dirname "$0")/lib-faults.sh"
faults_init test_faults_daemon_kill
topo_create
tunnel_up
tunnel_flows || ks_die "the tunnel does not carry traffic"
state=$KS_TMP/state
rounds=${KS_KILLS:-100}

start_daemon "$KS_CLI" "$state"
expect_bus_ok "settings in force" call Apply 'a{sv}' 3 Enabled b true Tunnels as 1 "$KS_WG_CLI" \
    Endpoints 'a(sqs)' 1 "$KS_SRV_V4" "$KS_WG_PORT" udp
flood_start "$KS_CLI" --canary "$KS_SRV_V4" --canary "$KS_SRV_V6"
counters_reset

# change I: one acknowledged change of the settings, different each round.
change() {
    local i=$1
    local a=$((i % 250 + 1)) b=$((i / 250))
    case $((i % 6)) in
        1) bus_do call AddEndpoint sqs "198.18.$b.$a" $((1000 + i)) udp ;;
        2) bus_do call AddTunnel s "kz$i*" ;;
        3) bus_do set AllowDhcp b "$( ((i % 4 == 3)) && echo false || echo true)" ;;
        4) bus_do call RemoveEndpoint sqs "198.18.$(( (i - 3) / 250 )).$(( (i - 3) % 250 + 1 ))" $((1000 + i - 3)) udp ;;
        5) bus_do call RemoveTunnel s "kz$((i - 3))*" ;;
        0) bus_do call AddEndpoint sqs "2001:db8:18::$i" 443 tcp ;;
    esac
}

lost=0 gone=0 failed=0 differ=0 notowner=0 maxready=0 digests=0
for ((i = 1; i <= rounds; i++)); do
    change "$i"
    if ((BUS_RC != 0)); then
        failed=$((failed + 1))
        ks_fail "round $i: the change was refused: $BUS_ERR_NAME $BUS_ERR_MSG"
    fi
    want=$(settings_now)
    ((i % 10 == 0)) && want_table=$(table_digest "$KS_CLI")
    kill_daemon "$KS_DAEMON_PID"
    table_present "$KS_CLI" || { gone=$((gone + 1)); ks_fail "round $i: no table after kill -9"; }
    sleep "$KS_RESTART_SEC"
    t0=$(now_ms)
    start_daemon "$KS_CLI" "$state"
    t=$(($(now_ms) - t0))
    ((t > maxready)) && maxready=$t
    got=$(settings_now)
    if [[ $got != "$want" ]]; then
        lost=$((lost + 1))
        ks_fail "round $i: settings after the restart differ: got $got, want $want"
    fi
    if ((i % 10 == 0)); then
        digests=$((digests + 1))
        got_table=$(table_digest "$KS_CLI")
        [[ $got_table == "$want_table" ]] || { differ=$((differ + 1)); ks_fail "round $i: table $got_table, want $want_table"; }
        [[ $(prop Protection) == '"owner"' ]] || { notowner=$((notowner + 1)); ks_fail "round $i: Protection $(prop Protection)"; }
    fi
done

ks_step "totals after $rounds crashes"
seen=$(count_tunnel)
flood_stop
expect_no_leaks "$rounds kill -9 and restarts with a flood running"
leaks=$(count_leaks)
expect_zero "changes refused" "$failed"
expect_zero "rounds without a table after kill -9" "$gone"
expect_zero "settings lost (acknowledged changes missing after the restart)" "$lost"
expect_zero "restarted daemons enforcing another table ($digests compared)" "$differ"
expect_zero "restarted daemons not owning the table" "$notowner"
expect_ge "packets through the tunnel (server side)" "$seen" 100
expect_ge "canary packets refused with EPERM" "$(flood_stat eperm)" 100
expect_eq "no temporary state files left" "$(tmp_files "$state" | wc -l)" 0
ks_log "# FIGURES daemon-kill: kills=$rounds leaks=$leaks settings_lost=$lost table_gone=$gone digest_mismatch=$differ slowest_restart_ms=$maxready tunnel_pkts=$seen canary_eperm=$(flood_stat eperm)"

ks_step "control: without the table the canaries leak"
expect_bus_ok "Disable" call Disable
flood_start "$KS_CLI" --canary "$KS_SRV_V4" --canary "$KS_SRV_V6"
sleep 0.5
flood_stop
expect_ge "packets leaked without the table" "$(count_leaks)" 10

ks_finish

#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# The bus daemon restarted under the running daemon, 10 times (KS_BUS_RESTARTS):
# stopped (SIGTERM, or kill -9 every other time), then after a pause a new
# bus daemon on the same socket.  With a flood running through the tunnel
# and canaries outside it.
#
# Checked each time: the daemon process survives; it is back on the bus and
# owns its name within 2 s of the new bus daemon's start (reconnection time
# reported); its settings are unchanged; a change over the new bus works
# and is saved; the table is the same throughout.  Zero packets leak.
#
# Control: the same flood without our table (Disable) leaks.

# Functions called indirectly (through as_nobody, expect_ok, loops of names).
# shellcheck disable=SC2317,SC2012
set -euo pipefail
source "$(dirname "$0")/lib-faults.sh"
faults_init test_faults_bus_restart
topo_create
tunnel_up
tunnel_flows || ks_die "the tunnel does not carry traffic"
state=$KS_TMP/state
rounds=${KS_BUS_RESTARTS:-10}

start_daemon "$KS_CLI" "$state"
pid=$KS_DAEMON_PID
expect_bus_ok "settings in force" call Apply 'a{sv}' 3 Enabled b true Tunnels as 1 "$KS_WG_CLI" \
    Endpoints 'a(sqs)' 1 "$KS_SRV_V4" "$KS_WG_PORT" udp
digest0=$(table_digest "$KS_CLI")
flood_start "$KS_CLI" --canary "$KS_SRV_V4" --canary "$KS_SRV_V6"
counters_reset

slow=0 maxms=0 total=0 lost=0 failed=0 changed=0
for ((i = 1; i <= rounds; i++)); do
    sig=$( ((i % 2)) && echo TERM || echo KILL)
    want=$(settings_now)
    pause=$(( (i % 3) * 700 ))   # 0, 0.7 or 1.4 s without a bus
    ks_stop_pid "$KS_BUS_PID" "$sig"
    sleep "$(printf '%d.%03d' $((pause / 1000)) $((pause % 1000)))"
    [[ $(table_digest "$KS_CLI") == "$digest0" ]] || { changed=$((changed + 1)); ks_fail "round $i: table changed without a bus"; }
    rm -f "$KS_TMP/system_bus_socket"
    KS_BUS_PID=
    t0=$(now_ms)
    start_bus
    KS_PID_START[$KS_BUS_PID]=$(ks_pid_start "$KS_BUS_PID")
    if wait_until 5 bus_owned_by "$pid"; then
        ms=$(($(now_ms) - t0))
    else
        ms=99999
    fi
    total=$((total + ms))
    ((ms > maxms)) && maxms=$ms
    ((ms <= 2000)) || { slow=$((slow + 1)); ks_fail "round $i ($sig, ${pause} ms without a bus): name back after ${ms} ms"; }
    ks_log "# round $i: bus $sig, ${pause} ms without a bus; name owned again after ${ms} ms"
    expect_ok "round $i: the daemon survived" daemon_alive "$pid"
    got=$(settings_now)
    [[ $got == "$want" ]] || { lost=$((lost + 1)); ks_fail "round $i: settings $got, want $want"; }
    # A change over the new bus, saved, and undone.
    bus_do call AddEndpoint sqs 198.51.100.5 443 tcp
    ((BUS_RC == 0)) || { failed=$((failed + 1)); ks_fail "round $i: AddEndpoint over the new bus: $BUS_ERR_NAME $BUS_ERR_MSG"; }
    grep -qx 'Endpoint=198.51.100.5 443 tcp' <<<"$(state_lines "$state")" ||
        { failed=$((failed + 1)); ks_fail "round $i: the change over the new bus is not saved"; }
    bus_do call RemoveEndpoint sqs 198.51.100.5 443 tcp
    ((BUS_RC == 0)) || { failed=$((failed + 1)); ks_fail "round $i: RemoveEndpoint over the new bus: $BUS_ERR_NAME $BUS_ERR_MSG"; }
done
[[ $(table_digest "$KS_CLI") == "$digest0" ]] || { changed=$((changed + 1)); ks_fail "the table differs at the end"; }

ks_step "totals"
flood_stop
expect_no_leaks "$rounds bus restarts with a flood running"
expect_zero "reconnections slower than 2 s" "$slow"
expect_zero "settings lost" "$lost"
expect_zero "changes refused over the new bus" "$failed"
expect_zero "table changes" "$changed"
expect_ge "canary packets refused with EPERM" "$(flood_stat eperm)" 100
ks_log "# FIGURES bus-restart: restarts=$rounds leaks=$(count_leaks) reconnect_ms_max=$maxms reconnect_ms_mean=$((total / rounds)) settings_lost=$lost"
ks_step "control: without the table the canaries leak"
control_without_table
ks_finish

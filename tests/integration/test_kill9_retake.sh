#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Daemon crash and restart: with a flood running through the tunnel (plus
# canary packets to the server in clear), kill -9 the daemon five times.
# Each time the table must stay (orphaned), a new daemon must re-take it
# (READY=1, and then another process still cannot delete it), traffic in
# the tunnel must keep flowing and nothing may leak.  Persistent=false on
# purpose: surviving a crash must not depend on the boot setting.
# Control: without the table the canaries arrive.

set -euo pipefail
source "$(dirname "$0")/lib.sh"
ks_init test_kill9_retake
topo_create
tunnel_up
tunnel_flows || ks_die "the tunnel does not carry traffic"
state=$KS_TMP/state
rounds=5

ks_step "daemon up, flood running"
daemon_apply "$state" Enabled=true Persistent=false "Tunnel=$KS_WG_CLI" "Endpoint=$KS_SRV_V4 $KS_WG_PORT udp"
flood_start "$KS_CLI" --canary "$KS_SRV_V4" --canary "$KS_SRV_V6"
counters_reset

for ((i = 1; i <= rounds; i++)); do
    ks_step "round $i/$rounds: kill -9, restart"
    kill_daemon "$KS_DAEMON_PID"
    expect_ok "round $i: table stays after kill -9" table_present "$KS_CLI"
    seen=$(count_tunnel)
    expect_ok "round $i: tunnel traffic flows while no daemon runs" wait_until 2 tunnel_grew "$seen"
    start_daemon "$KS_CLI" "$state"
    ks_pass "round $i: new daemon (pid $KS_DAEMON_PID) sent READY=1"
    expect_not "round $i: another process cannot delete the re-taken table" \
        nft_other "$KS_CLI" delete table inet killswitchd
    seen=$(count_tunnel)
    expect_ok "round $i: tunnel traffic flows after the restart" wait_until 2 tunnel_grew "$seen"
done

ks_step "totals"
expect_no_leaks "$rounds crashes with a flood running"
expect_ge "packets through the tunnel (server side)" "$(count_tunnel)" 100
expect_ge "canary packets refused with EPERM" "$(flood_stat eperm)" 100

ks_step "control: without the table the canaries leak"
daemon_off
sleep 0.3
expect_ge "packets leaked without the table" "$(count_leaks)" 10

ks_finish

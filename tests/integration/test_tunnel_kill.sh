#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Tunnel failure: with a flood to the internet host running through the
# tunnel, the VPN client dies (wireguard-go killed with -9, the interface
# disappears) and the routes fall back to the veth in clear.  Control
# without the kill switch: packets leak.  With it: zero leaked packets for
# a second, the sender gets EPERM, and when the tunnel comes back traffic
# flows again.  Then the same with the link only set down and up.

set -euo pipefail
source "$(dirname "$0")/lib.sh"
ks_init test_tunnel_kill
topo_create
tunnel_up
tunnel_flows || ks_die "the tunnel does not carry traffic"
state=$KS_TMP/state

# outage LABEL DOWN UP: take the tunnel away for a second under the flood.
outage() {
    local label=$1 down=$2 up=$3 sent0 eperm0 seen
    counters_reset
    sent0=$(flood_stat sent) eperm0=$(flood_stat eperm)
    "$down"
    sleep 1
    LEAKED=$(count_leaks)
    REFUSED=$(($(flood_stat eperm) - eperm0))
    ks_log "   $label: $(($(flood_stat sent) - sent0)) packets sent during the outage, $REFUSED refused with EPERM, $LEAKED leaked ($(counters_summary))"
    "$up"
    seen=$(count_tunnel)
    expect_ok "$label: traffic flows through the tunnel again" wait_until 5 tunnel_grew "$seen"
}
# shellcheck disable=SC2317  # called as "$up"
tunnel_restart() { tunnel_up; }

flood_start "$KS_CLI"
expect_ok "flood flows through the tunnel" wait_until 2 tunnel_grew 50

ks_step "control: no kill switch, wireguard-go killed"
outage "control, tunnel killed" tunnel_kill tunnel_restart
expect_ge "control: packets leaked in clear" "$LEAKED" 10

ks_step "kill switch, wireguard-go killed"
daemon_apply "$state" Enabled=true "Tunnel=$KS_WG_CLI" "Endpoint=$KS_SRV_V4 $KS_WG_PORT udp"
outage "kill switch, tunnel killed" tunnel_kill tunnel_restart
expect_zero "kill switch, tunnel killed: packets leaked" "$LEAKED"
expect_ge "kill switch, tunnel killed: packets refused with EPERM" "$REFUSED" 50

ks_step "kill switch, tunnel link down"
outage "kill switch, link down" tunnel_down tunnel_up_link
expect_zero "kill switch, link down: packets leaked" "$LEAKED"
expect_ge "kill switch, link down: packets refused with EPERM" "$REFUSED" 50

ks_finish

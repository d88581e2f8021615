#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# EndpointMark: with EndpointMark=0x1234 only packets carrying that fwmark
# may reach an endpoint (so only the VPN's own socket can).  Unmarked or
# wrongly marked UDP to the endpoint is dropped, marked UDP passes; the
# WireGuard tunnel stops without `wg set fwmark` and works again with it.

set -euo pipefail
source "$(dirname "$0")/lib.sh"
ks_init test_endpoint_mark
topo_create
tunnel_up
tunnel_flows || ks_die "the tunnel does not carry traffic"
state=$KS_TMP/state
mark=$((0x1234))

ks_step "control: no kill switch, unmarked UDP to the endpoint arrives"
expect_arrives "control" "$KS_CLI" udp "$KS_SRV_V4" "$KS_WG_PORT" veth
expect_arrives "control" "$KS_CLI" udp "$KS_SRV_V6" "$KS_WG_PORT" veth

ks_step "kill switch with EndpointMark=$mark (0x1234)"
daemon_apply "$state" Enabled=true "Tunnel=$KS_WG_CLI" "EndpointMark=$mark" \
    "Endpoint=$KS_SRV_V4 $KS_WG_PORT udp" "Endpoint=$KS_SRV_V6 $KS_WG_PORT udp"
for dst in "$KS_SRV_V4" "$KS_SRV_V6"; do
    expect_blocked "unmarked" "$KS_CLI" udp "$dst" "$KS_WG_PORT"
    expect_blocked "mark 0x1235" "$KS_CLI" udp "$dst" "$KS_WG_PORT" --mark $((mark + 1))
    expect_arrives "mark 0x1234" "$KS_CLI" udp "$dst" "$KS_WG_PORT" veth --mark "$mark"
    # The mark opens the endpoint only, nothing else in clear.
    expect_blocked "mark 0x1234, other port" "$KS_CLI" udp "$dst" 51821 --mark "$mark"
done

ks_step "WireGuard without fwmark is cut off, with fwmark $mark it flows"
counters_reset
expect_not "tunnel without fwmark carries nothing" tunnel_flows 2
expect_zero "unmarked WireGuard packets at the server" "$(count endpoint4 endpoint6)"
tunnel_set_fwmark "$mark"
counters_reset
expect_ok "tunnel with fwmark $mark flows" tunnel_flows 8
expect_ge "marked WireGuard packets at the server" "$(count endpoint4)" 1
expect_arrives "tunnel with fwmark" "$KS_CLI" udp "$KS_INET_V4" 9 tun
expect_arrives "tunnel with fwmark" "$KS_CLI" udp "$KS_INET_V6" 9 tun

ks_finish

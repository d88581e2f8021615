#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Tunnel only: with the kill switch, traffic through the WireGuard tunnel
# and to the configured endpoint passes; anything else to the server in
# clear (other ports, other protocols) is dropped and the sender gets EPERM.
# Run once with an IPv4 endpoint and once with an IPv6 endpoint; every
# blocked probe is first shown to arrive without the kill switch.

set -euo pipefail
source "$(dirname "$0")/lib.sh"
ks_init test_tunnel_only
topo_create
tunnel_up
tunnel_flows || ks_die "the tunnel does not carry traffic"
state=$KS_TMP/state

# The probes sent in clear to the server's veth address.
direct_probes() {   # arrives|blocked LABEL
    local how=$1 label=$2 dst
    for dst in "$KS_SRV_V4" "$KS_SRV_V6"; do
        if [[ $how == arrives ]]; then
            expect_arrives "$label" "$KS_CLI" udp "$dst" 51821 veth
            expect_arrives "$label" "$KS_CLI" tcp "$dst" "$KS_WG_PORT" veth
            expect_arrives "$label" "$KS_CLI" icmp "$dst" 0 veth
        else
            expect_blocked "$label" "$KS_CLI" udp "$dst" 51821
            expect_blocked "$label" "$KS_CLI" tcp "$dst" "$KS_WG_PORT"
            expect_blocked "$label" "$KS_CLI" icmp "$dst" 0
        fi
    done
}

tunnel_probes() {   # LABEL
    local dst
    for dst in "$KS_INET_V4" "$KS_INET_V6"; do
        expect_arrives "$1" "$KS_CLI" udp "$dst" 9 tun
        expect_arrives "$1" "$KS_CLI" tcp "$dst" 80 tun
        expect_arrives "$1" "$KS_CLI" icmp "$dst" 0 tun
    done
}

ks_step "control: no kill switch"
tunnel_probes "control"
direct_probes arrives "control"
expect_arrives "control" "$KS_CLI" udp "$KS_SRV_V4" "$KS_WG_PORT" veth
expect_arrives "control" "$KS_CLI" udp "$KS_SRV_V6" "$KS_WG_PORT" veth

ks_step "kill switch with endpoint $KS_SRV_V4 $KS_WG_PORT udp"
daemon_apply "$state" Enabled=true "Tunnel=$KS_WG_CLI" "Endpoint=$KS_SRV_V4 $KS_WG_PORT udp"
counters_reset
expect_ok "tunnel flows with the kill switch (IPv4 endpoint)" tunnel_flows
expect_ge "WireGuard packets to the IPv4 endpoint" "$(count endpoint4)" 1
tunnel_probes "IPv4 endpoint"
expect_arrives "IPv4 endpoint" "$KS_CLI" udp "$KS_SRV_V4" "$KS_WG_PORT" veth
expect_blocked "IPv4 endpoint (v6 not configured)" "$KS_CLI" udp "$KS_SRV_V6" "$KS_WG_PORT"
direct_probes blocked "IPv4 endpoint"

ks_step "kill switch with endpoint $KS_SRV_V6 $KS_WG_PORT udp"
tunnel_set_endpoint v6
daemon_apply "$state" Enabled=true "Tunnel=$KS_WG_CLI" "Endpoint=$KS_SRV_V6 $KS_WG_PORT udp"
counters_reset
expect_ok "tunnel flows with the kill switch (IPv6 endpoint)" tunnel_flows
expect_ge "WireGuard packets to the IPv6 endpoint" "$(count endpoint6)" 1
expect_zero "WireGuard packets to the old IPv4 endpoint" "$(count endpoint4)"
tunnel_probes "IPv6 endpoint"
expect_arrives "IPv6 endpoint" "$KS_CLI" udp "$KS_SRV_V6" "$KS_WG_PORT" veth
expect_blocked "IPv6 endpoint (v4 no longer configured)" "$KS_CLI" udp "$KS_SRV_V4" "$KS_WG_PORT"
direct_probes blocked "IPv6 endpoint"

ks_finish

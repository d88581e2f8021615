#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# AllowDhcp and AllowLan: with AllowDhcp, DHCPv4 (udp 68->67) and DHCPv6
# (udp 546->547) leave in clear, without it they are dropped.  With
# AllowLan, traffic to the directly connected private subnet (10.200.0.0/24,
# fd00:200::/64, a ULA) passes except DNS (udp and tcp port 53); without
# it, both are dropped.

set -euo pipefail
source "$(dirname "$0")/lib.sh"
ks_init test_dhcp_lan
topo_create
state=$KS_TMP/state

dhcp_probes() {   # arrives|blocked LABEL
    if [[ $1 == arrives ]]; then
        expect_arrives "$2" "$KS_CLI" udp "$KS_SRV_V4" 67 veth --sport 68
        expect_arrives "$2" "$KS_CLI" udp "$KS_SRV_V6" 547 veth --sport 546
    else
        expect_blocked "$2" "$KS_CLI" udp "$KS_SRV_V4" 67 --sport 68
        expect_blocked "$2" "$KS_CLI" udp "$KS_SRV_V6" 547 --sport 546
    fi
}

lan_probes() {   # arrives|blocked LABEL
    local dst
    for dst in "$KS_SRV_V4" "$KS_SRV_V6"; do
        if [[ $1 == arrives ]]; then
            expect_arrives "$2" "$KS_CLI" udp "$dst" 9999 veth
            expect_arrives "$2" "$KS_CLI" tcp "$dst" 9999 veth
            expect_arrives "$2" "$KS_CLI" icmp "$dst" 0 veth
        else
            expect_blocked "$2" "$KS_CLI" udp "$dst" 9999
            expect_blocked "$2" "$KS_CLI" tcp "$dst" 9999
            expect_blocked "$2" "$KS_CLI" icmp "$dst" 0
        fi
    done
}

dns_probes() {   # arrives|blocked LABEL
    local dst proto
    for dst in "$KS_SRV_V4" "$KS_SRV_V6"; do
        for proto in udp tcp; do
            if [[ $1 == arrives ]]; then
                expect_arrives "$2" "$KS_CLI" "$proto" "$dst" 53 veth
            else
                expect_blocked "$2" "$KS_CLI" "$proto" "$dst" 53
            fi
        done
    done
}

ks_step "control: no kill switch"
dhcp_probes arrives "control"
lan_probes arrives "control"
dns_probes arrives "control"

ks_step "AllowDhcp=true AllowLan=false"
daemon_apply "$state" Enabled=true AllowDhcp=true AllowLan=false
dhcp_probes arrives "AllowDhcp=true"
lan_probes blocked "AllowLan=false"
dns_probes blocked "AllowLan=false"

ks_step "AllowDhcp=false AllowLan=false"
daemon_apply "$state" Enabled=true AllowDhcp=false AllowLan=false
dhcp_probes blocked "AllowDhcp=false"
lan_probes blocked "AllowLan=false"

ks_step "AllowDhcp=true AllowLan=true"
daemon_apply "$state" Enabled=true AllowDhcp=true AllowLan=true
lan_probes arrives "AllowLan=true"
dns_probes blocked "AllowLan=true, DNS"
dhcp_probes arrives "AllowDhcp=true"

ks_finish

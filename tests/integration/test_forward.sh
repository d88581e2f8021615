#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Forwarded traffic (a container or VM routed through the host): with the
# kill switch, the container's traffic forwarded into the tunnel passes and
# its replies come back; forwarded out of the veth in clear it is dropped,
# both to the server directly and to the internet host once the tunnel is
# gone.  Without the table the same clear traffic arrives (control).

set -euo pipefail
source "$(dirname "$0")/lib.sh"
ks_init test_forward
topo_create --container
tunnel_up
tunnel_flows || ks_die "the tunnel does not carry traffic"
state=$KS_TMP/state

through_tunnel() {   # LABEL
    local dst
    for dst in "$KS_INET_V4" "$KS_INET_V6"; do
        expect_arrives "$1" "$KS_CTR" udp "$dst" 9 tun
        expect_arrives "$1" "$KS_CTR" tcp "$dst" 80 tun
        expect_ok "$1: container's ping to $dst through the tunnel is answered" ping_ok "$KS_CTR" "$dst"
    done
}

in_clear() {   # arrives|blocked LABEL
    local dst
    for dst in "$KS_SRV_V4" "$KS_SRV_V6"; do
        if [[ $1 == arrives ]]; then
            expect_arrives "$2" "$KS_CTR" udp "$dst" 9999 veth
            expect_arrives "$2" "$KS_CTR" icmp "$dst" 0 veth
        else
            expect_blocked "$2" "$KS_CTR" udp "$dst" 9999
            expect_blocked "$2" "$KS_CTR" tcp "$dst" 9999
            expect_blocked "$2" "$KS_CTR" icmp "$dst" 0
        fi
    done
}

# With the tunnel gone the routes to the internet host fall back to the veth.
tunnel_gone() {   # arrives|blocked LABEL
    local dst
    tunnel_kill
    for dst in "$KS_INET_V4" "$KS_INET_V6"; do
        if [[ $1 == arrives ]]; then
            expect_arrives "$2" "$KS_CTR" udp "$dst" 9 veth
        else
            expect_blocked "$2" "$KS_CTR" udp "$dst" 9
            expect_blocked "$2" "$KS_CTR" icmp "$dst" 0
        fi
    done
    tunnel_up
    tunnel_flows || ks_die "the tunnel does not come back"
}

ks_step "control: no kill switch"
through_tunnel "control"
in_clear arrives "control"
tunnel_gone arrives "control, tunnel killed"

ks_step "kill switch"
daemon_apply "$state" Enabled=true "Tunnel=$KS_WG_CLI" "Endpoint=$KS_SRV_V4 $KS_WG_PORT udp"
through_tunnel "kill switch"
in_clear blocked "kill switch, forwarded in clear"
tunnel_gone blocked "kill switch, tunnel killed"
through_tunnel "kill switch, tunnel back"

ks_finish

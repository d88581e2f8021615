#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Re-routing by another table: a foreign `table inet rerouter` marks the
# packets to the internet host in a `type route` output chain, and an
# `ip rule fwmark` sends marked packets out of the veth in clear.  At
# priority -300 the re-route happens before our output chain; at +300 it
# happens after our output chain has accepted the packet for the tunnel,
# so only the postrouting backstop (priority 500) can stop it.  With our
# table nothing arrives at the server's veth; without it (control) the
# re-routed packets do.

set -euo pipefail
source "$(dirname "$0")/lib.sh"
ks_init test_reroute
topo_create
tunnel_up
tunnel_flows || ks_die "the tunnel does not carry traffic"
state=$KS_TMP/state
mark=0x77

# Marked packets take table 77: the internet host via the veth.
ip -n "$KS_CLI" rule add fwmark "$mark" lookup 77 priority 100
ip -n "$KS_CLI" -6 rule add fwmark "$mark" lookup 77 priority 100
ip -n "$KS_CLI" route add "$KS_INET_V4/32" via "$KS_SRV_V4" dev vethc table 77
ip -n "$KS_CLI" -6 route add "$KS_INET_V6/128" via "$KS_SRV_V6" dev vethc table 77

rerouter_add() {   # PRIORITY
    in_ns "$KS_CLI" nft -f - <<EOF2
table inet rerouter {
    chain out {
        type route hook output priority $1; policy accept;
        ip daddr $KS_INET_V4 meta mark set $mark
        ip6 daddr $KS_INET_V6 meta mark set $mark
    }
}
EOF2
}
rerouter_del() { in_ns "$KS_CLI" nft delete table inet rerouter; }

rerouted_probes() {   # arrives|blocked LABEL
    local dst proto
    for dst in "$KS_INET_V4" "$KS_INET_V6"; do
        for proto in udp tcp icmp; do
            if [[ $1 == arrives ]]; then
                expect_arrives "$2" "$KS_CLI" "$proto" "$dst" 9 veth
            else
                expect_blocked "$2" "$KS_CLI" "$proto" "$dst" 9
            fi
        done
    done
}

ks_step "sanity: without the rerouter the internet host is reached through the tunnel"
expect_arrives "no rerouter" "$KS_CLI" udp "$KS_INET_V4" 9 tun
expect_arrives "no rerouter" "$KS_CLI" udp "$KS_INET_V6" 9 tun

for prio in -300 300; do
    ks_step "rerouter at priority $prio"
    rerouter_add "$prio"
    rerouted_probes arrives "control, rerouter $prio"
    daemon_apply "$state" Enabled=true "Tunnel=$KS_WG_CLI" "Endpoint=$KS_SRV_V4 $KS_WG_PORT udp"
    rerouted_probes blocked "kill switch, rerouter $prio"
    rerouter_del
    expect_arrives "kill switch, rerouter removed" "$KS_CLI" udp "$KS_INET_V4" 9 tun
    expect_arrives "kill switch, rerouter removed" "$KS_CLI" udp "$KS_INET_V6" 9 tun
    daemon_off
done

ks_finish

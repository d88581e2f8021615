#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# NetworkChanged follows the uplink: the client has two uplinks to the
# server namespace (vethc and up2) and the WireGuard tunnel.  The default
# route moves between them, metrics decide, IPv4 wins over IPv6, a default
# route through the tunnel does not count, and links go down and up.  After
# each change NetworkChanged must name the interface that carries the
# default route outside the tunnel ("" when there is none), once; a change
# that leaves that interface as it was must send nothing.

source "$(dirname "$0")/lib-net.sh"
ks_init test_uplink
topo_create
tunnel_up
UP2_GW4=10.211.0.1 UP2_GW6=fd00:211::1
link_add up2 up2s 10.211.0.2/24 fd00:211::2/64 -- "$UP2_GW4/24" "$UP2_GW6/64"
state=$KS_TMP/state
write_settings "$state" Enabled=true "Tunnel=$KS_WG_CLI" "Endpoint=$KS_SRV_V4 $KS_WG_PORT udp"
net_bus
start_daemon "$KS_CLI" "$state"
sig_start

route4() { ip -n "$KS_CLI" -4 route "$@"; }
route6() { ip -n "$KS_CLI" -6 route "$@"; }

# uplink DESC WANT CMD...: after CMD, exactly one NetworkChanged(WANT).
uplink() {
    local desc=$1 want=$2 before got; shift 2
    before=$(sig_count NetworkChanged)
    "$@"
    sig_wait NetworkChanged $((before + 1)) 2 || true
    sleep 0.2   # a second signal would come now
    got=$(sig_args NetworkChanged "$before" | paste -sd' ' -)
    expect_eq "$desc: NetworkChanged" "${got:-none}" "[\"$want\"]"
}
# unchanged DESC CMD...: after CMD, no NetworkChanged.
unchanged() {
    local desc=$1 before got; shift
    before=$(sig_count NetworkChanged)
    "$@"
    sleep 0.3
    got=$(sig_args NetworkChanged "$before" | paste -sd' ' -)
    expect_eq "$desc: no NetworkChanged" "${got:-none}" none
}

ks_step "the default route moves"
uplink "IPv4 default via up2" up2 route4 replace default via "$UP2_GW4" dev up2
uplink "IPv4 default via vethc" vethc route4 replace default via "$KS_SRV_V4" dev vethc

ks_step "the lowest metric wins"
unchanged "a second IPv4 default, via up2 metric 50" route4 add default via "$UP2_GW4" dev up2 metric 50
uplink "the metric 0 default deleted" up2 route4 del default via "$KS_SRV_V4" dev vethc metric 0
uplink "IPv4 default via vethc metric 10" vethc route4 add default via "$KS_SRV_V4" dev vethc metric 10
unchanged "the metric 50 default deleted" route4 del default via "$UP2_GW4" dev up2 metric 50

ks_step "IPv4 wins over IPv6; no default route at all"
unchanged "IPv6 default moved to up2 (IPv4 via vethc still wins)" route6 replace default via "$UP2_GW6" dev up2
uplink "IPv4 default deleted: the IPv6 one" up2 route4 del default via "$KS_SRV_V4" dev vethc metric 10
uplink "IPv6 default deleted: none" "" route6 del default via "$UP2_GW6" dev up2

ks_step "a default route through the tunnel is not an uplink"
unchanged "IPv4 default via the tunnel only" route4 add default dev "$KS_WG_CLI"
uplink "IPv6 default via up2 besides" up2 route6 add default via "$UP2_GW6" dev up2
uplink "IPv4 default via vethc metric 100 besides" vethc route4 add default via "$KS_SRV_V4" dev vethc metric 100

ks_step "links down, up and deleted"
# The kernel removes the routes of a link that goes down and does not put
# them back when it comes up again.
uplink "vethc down: its IPv4 default is gone" up2 ip -n "$KS_CLI" link set vethc down
unchanged "vethc up again, without its default route" ip -n "$KS_CLI" link set vethc up
uplink "up2 down: only the tunnel's default is left" "" ip -n "$KS_CLI" link set up2 down
unchanged "up2 up again, without its default route" ip -n "$KS_CLI" link set up2 up
uplink "IPv4 default via vethc metric 20" vethc route4 add default via "$KS_SRV_V4" dev vethc metric 20
uplink "IPv4 default via up2 metric 10" up2 route4 add default via "$UP2_GW4" dev up2 metric 10
uplink "up2 deleted" vethc ip -n "$KS_CLI" link del up2
uplink "the last default route outside the tunnel deleted" "" route4 del default via "$KS_SRV_V4" dev vethc metric 20

ks_log "   $(sig_count NetworkChanged) NetworkChanged signals in all"
ks_finish

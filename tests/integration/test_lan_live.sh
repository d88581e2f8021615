#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# AllowLan follows the network: with the kill switch on and AllowLan=true,
# addresses, on-link routes and links come and go in the client namespace.
# After each change LanSubnets (read over D-Bus) and the kernel's lan4/lan6
# sets hold exactly the private part of the prefixes of the addresses on
# links that are up (never a route: a DHCP server or a router advertisement
# makes those; see test_hostile_lan for the attacks); traffic to
# a connected subnet passes (the veth's 10.200.0.0/24, and a new link to
# the server namespace), traffic to a private network that is routed but
# not connected (10.77.0.0/16 via 10.200.0.1) does not, nor DNS to the LAN.
# Every blocking check has a passing control: the same probe without the
# kill switch, another port to the same address, or the connected subnet.
# Events the daemon missed (its socket overflowed) are recovered by a full
# re-read.  The LAN changes are set updates: the table itself is never
# replaced.

source "$(dirname "$0")/lib-net.sh"
ks_init test_lan_live
topo_create
net_counters_install
state=$KS_TMP/state

ROUTED_V4=10.77.0.1    ROUTED_V6=fd00:77::1     # routed via the server, not connected
NEW_SRV_V4=10.210.0.1  NEW_SRV_V6=fd00:210::1   # the server's end of the new link
ONLINK_V4=10.220.0.1                            # reached by an on-link route only: not LAN
BASE=(10.200.0.0/24 fd00:200::/64 fe80::/64)    # vethc's subnets, link-local included

ip -n "$KS_SRV" addr add "$ROUTED_V4/32" dev lo
ip -n "$KS_SRV" addr add "$ROUTED_V6/128" dev lo nodad
ip -n "$KS_CLI" route add 10.77.0.0/16 via "$KS_SRV_V4"
ip -n "$KS_CLI" -6 route add fd00:77::/64 via "$KS_SRV_V6"

reaches_all() {   # DESC DST SERVER_IF
    local proto
    for proto in udp tcp icmp; do expect_reaches "$1" "$proto" "$2" 9999 "$3"; done
}
stopped_all() {   # DESC DST
    local proto
    for proto in udp tcp icmp; do expect_stopped "$1" "$proto" "$2" 9999; done
}
dns_stopped() {   # DESC DST
    expect_stopped "$1, DNS" udp "$2" 53
    expect_stopped "$1, DNS" tcp "$2" 53
}
table_handle() {
    nft_table_json "$KS_CLI" | "$KS_PY" -c 'import json,sys
print([o["table"]["handle"] for o in json.load(sys.stdin)["nftables"] if "table" in o][0])'
}

ks_step "control: no kill switch"
reaches_all "control, routed network" "$ROUTED_V4" veths
reaches_all "control, routed network" "$ROUTED_V6" veths
expect_reaches "control, DNS to the LAN" udp "$KS_SRV_V4" 53 veths
expect_reaches "control, DNS to the LAN" tcp "$KS_SRV_V6" 53 veths

ks_step "AllowLan=true: the veth's subnets"
write_settings "$state" Enabled=true AllowLan=true "Tunnel=$KS_WG_CLI" "Endpoint=$KS_SRV_V4 $KS_WG_PORT udp"
net_bus
start_daemon "$KS_CLI" "$state"
handle=$(table_handle)
expect_lan "at start" "${BASE[@]}"
reaches_all "connected subnet" "$KS_SRV_V4" veths
reaches_all "connected subnet" "$KS_SRV_V6" veths
dns_stopped "connected subnet" "$KS_SRV_V4"
dns_stopped "connected subnet" "$KS_SRV_V6"
stopped_all "routed, not connected" "$ROUTED_V4"
stopped_all "routed, not connected" "$ROUTED_V6"

ks_step "a new link to the server namespace"
link_add vethl vethm 10.210.0.2/24 10.230.0.2/24 fd00:210::2/64 -- "$NEW_SRV_V4/24" "$NEW_SRV_V6/64"
net_counter_add vethm
NEW=(10.210.0.0/24 10.230.0.0/24 fd00:210::/64)
expect_lan "new link" "${BASE[@]}" "${NEW[@]}"
reaches_all "new link" "$NEW_SRV_V4" vethm
reaches_all "new link" "$NEW_SRV_V6" vethm
dns_stopped "new link" "$NEW_SRV_V4"
dns_stopped "new link" "$NEW_SRV_V6"

ks_step "an on-link route without an address is no LAN"
ip -n "$KS_SRV" addr add "$ONLINK_V4/24" dev vethm
ip -n "$KS_CLI" route add 10.220.0.0/24 dev vethl
expect_lan "on-link route" "${BASE[@]}" "${NEW[@]}"
expect_stopped "on-link route" udp "$ONLINK_V4" 9999

ks_step "public and too short prefixes are no LAN; a wide one is cut to its private range"
short=(100.64.0.2/7 2001:db8:1::2/15 60.0.0.2/8 3fff::2/16 172.20.1.2/11)
for a in "${short[@]}"; do addr_add "$KS_CLI" vethl "$a"; done
expect_lan "short prefixes" "${BASE[@]}" "${NEW[@]}" 172.16.0.0/12
for a in "${short[@]}"; do ip -n "$KS_CLI" addr del "$a" dev vethl; done
expect_lan "short prefixes removed" "${BASE[@]}" "${NEW[@]}"

ks_step "an address removed"
ip -n "$KS_CLI" addr del 10.210.0.2/24 dev vethl
expect_lan "address removed" "${BASE[@]}" 10.230.0.0/24 fd00:210::/64
# Now routed by default via the veth: no longer a connected subnet.
stopped_all "address removed" "$NEW_SRV_V4"
expect_reaches "address removed, control" udp "$KS_SRV_V4" 9999 veths

ks_step "the link down"
ip -n "$KS_CLI" link set vethl down
expect_lan "link down" "${BASE[@]}"
expect_stopped "link down" udp "$ONLINK_V4" 9999
expect_stopped "link down" udp "$NEW_SRV_V6" 9999
expect_reaches "link down, control" udp "$KS_SRV_V6" 9999 veths

ks_step "the link up again"
# The kernel removed the IPv4 on-link route and the IPv6 address with the
# link (without telling for the route); up again, only the IPv4 address and
# its subnet come back (fe80::/64 is vethc's too).
ip -n "$KS_CLI" link set vethl up
expect_lan "link up again" "${BASE[@]}" 10.230.0.0/24
expect_stopped "link up again" udp "$ONLINK_V4" 9999
expect_reaches "link up again, control" udp "$KS_SRV_V4" 9999 veths

ks_step "the last IPv4 address of the link removed"
# The on-link route again, then the address: the kernel silently removes
# every IPv4 route of a link that has no IPv4 address left.
ip -n "$KS_CLI" route add 10.220.0.0/24 dev vethl
expect_lan "on-link route again" "${BASE[@]}" 10.230.0.0/24
ip -n "$KS_CLI" addr del 10.230.0.2/24 dev vethl
expect_lan "last IPv4 address removed" "${BASE[@]}"
expect_stopped "last IPv4 address removed" udp "$ONLINK_V4" 9999
expect_reaches "last IPv4 address removed, control" udp "$KS_SRV_V4" 9999 veths

ks_step "events lost: re-read"
# The daemon stopped (SIGSTOP) while 400 address events overflow its
# rtnetlink socket: 200 subnets added to vethc, 199 removed again.  Once it
# runs again it must notice the loss (ENOBUFS), re-read everything and end
# with exactly what is connected.
kill -STOP "$KS_DAEMON_PID"
{
    for ((x = 0; x < 200; x++)); do echo "addr add 10.240.$x.1/24 dev vethc"; done
    for ((x = 1; x < 200; x++)); do echo "addr del 10.240.$x.1/24 dev vethc"; done
} | ip -n "$KS_CLI" -batch -
kill -CONT "$KS_DAEMON_PID"
expect_lan "after lost events" "${BASE[@]}" 10.240.0.0/24
expect_ok "the daemon noticed the lost events" grep -q "Network events lost" "$KS_DAEMON_LOG"
ip -n "$KS_CLI" addr del 10.240.0.1/24 dev vethc
expect_lan "after lost events, address removed" "${BASE[@]}"

ks_step "the link deleted"
ip -n "$KS_CLI" link del vethl
expect_lan "link deleted" "${BASE[@]}"
reaches_all "link deleted, control" "$KS_SRV_V4" veths
expect_eq "LAN changes were set updates: table handle unchanged" "$(table_handle)" "$handle"

ks_finish

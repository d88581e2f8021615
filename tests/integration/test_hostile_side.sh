#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Side channels a local root process could use to get traffic past the kill
# switch (AllowDhcp on, the default; AllowLan off):
#
#   - DHCP cannot carry payloads anywhere: UDP 68->67 to 255.255.255.255
#     (bound to the veth) and to the on-link server arrives, to an off-link
#     address routed via the server is dropped; DHCPv6 546->547 to ff02::1:2
#     arrives, to an off-link address is dropped;
#   - neighbour discovery only with hop limit 255, to link-local,
#     solicited-node and on-link destinations: a neighbour solicitation with
#     hop limit 255 to an off-link address, or with hop limit 64 to the
#     on-link server, is dropped; with hop limit 255 to the on-link server it
#     arrives; neighbour discovery itself keeps working (caches flushed, the
#     tunnel and the endpoint still reachable);
#   - packet sockets: hand-made Ethernet frames on the uplink carrying UDP
#     (IPv4 and IPv6, with PACKET_QDISC_BYPASS, with a sockaddr_ll protocol
#     that lies) are dropped; ARP and a DHCPDISCOVER-shaped broadcast frame
#     arrive;
#   - an impostor tunnel: a veth whose name matches Tunnels is not a tunnel
#     kind and is not trusted: UDP routed through it is dropped, whether it
#     existed before the kill switch was enabled or appeared after; the
#     genuine wireguard-go tunnel (kind tun) keeps working.
#
# Every dropped packet is first shown to arrive without the kill switch.
# Frames are counted on the server's side of each link, in a netdev ingress
# chain, which sees them whatever their protocol or checksums.

# Functions called indirectly (through hx_expect and wait_until).
# shellcheck disable=SC2317
set -euo pipefail
source "$(dirname "$0")/lib-hostile.sh"
hx_init test_hostile_side
topo_create
tunnel_up
tunnel_flows || ks_die "the tunnel does not carry traffic"
state=$KS_TMP/state
srv_mac=$(hx_mac "$KS_SRV" veths)
cli_mac=$(hx_mac "$KS_CLI" vethc)

# Off-link addresses the server owns, routed from the client via the server.
off4=198.18.0.1 off6=2001:db8:b::1
ip -n "$KS_SRV" addr add "$off4/32" dev lo
ip -n "$KS_SRV" addr add "$off6/128" dev lo nodad
ip -n "$KS_CLI" route add 198.18.0.0/15 via "$KS_SRV_V4"
ip -n "$KS_CLI" -6 route add 2001:db8:b::/64 via "$KS_SRV_V6"

# The impostor: a veth named like a tunnel (Tunnels has "${KS_ID}v*").
# impostor_add N: ${KS_ID}vN in the client, ${KS_ID}wN in the server,
# 10.21N.0.0/24 on it, and the server's 198.18.0.1N routed through it.
impostor_add() {
    local n=$1
    ip -n "$KS_CLI" link add "${KS_ID}v$n" type veth peer name "${KS_ID}w$n" netns "$KS_SRV"
    ip -n "$KS_SRV" addr add "10.21$n.0.1/24" dev "${KS_ID}w$n"
    ip -n "$KS_SRV" addr add "198.18.0.1$n/32" dev lo
    ip -n "$KS_SRV" link set "${KS_ID}w$n" up
    hx_counters "$KS_SRV" "${KS_ID}w$n" "imp$n=ip daddr 198.18.0.1$n udp dport 9"
    ip -n "$KS_CLI" addr add "10.21$n.0.2/24" dev "${KS_ID}v$n"
    ip -n "$KS_CLI" link set "${KS_ID}v$n" up
    ip -n "$KS_CLI" route add "198.18.0.1$n/32" via "10.21$n.0.1" dev "${KS_ID}v$n"
}
impostor_add 0

# Frame counters on the server's veth (tagged NS: option 253, RFC 4727).
ns_tag='@th,192,8 253'
hx_counters "$KS_SRV" veths \
    "dhcp4_bcast=ip daddr 255.255.255.255 udp sport 68 udp dport 67" \
    "dhcp6_mc=ip6 daddr ff02::1:2 udp sport 546 udp dport 547" \
    "ns_off=ip6 daddr $off6 icmpv6 type nd-neighbor-solicit $ns_tag" \
    "ns_hop64=ip6 daddr $KS_SRV_V6 ip6 hoplimit 64 icmpv6 type nd-neighbor-solicit $ns_tag" \
    "ns_hop255=ip6 daddr $KS_SRV_V6 ip6 hoplimit 255 icmpv6 type nd-neighbor-solicit $ns_tag" \
    "raw4=ip daddr $KS_SRV_V4 udp dport 9" \
    "raw6=ip6 daddr $KS_SRV_V6 udp dport 9" \
    "raw_dhcp_off=ip daddr $off4 udp sport 68 udp dport 67" \
    "arp_tag=arp operation request arp daddr ip 10.200.0.250"

probe_line() { probe "$@"; echo "$PROBE_LINE"; }
rawframe() { hx_py "$KS_CLI" frame --dev vethc --src-mac "$cli_mac" "$@"; }
raw_udp4=(--dst-mac "$srv_mac" --kind udp --src "$KS_CLI_V4" --dst "$KS_SRV_V4" --sport "$KS_PROBE_PORT" --dport 9)
raw_udp6=(--dst-mac "$srv_mac" --kind udp --src "$KS_CLI_V6" --dst "$KS_SRV_V6" --sport "$KS_PROBE_PORT" --dport 9)

dhcp_checks() {   # arrives|blocked (for the off-link ones) LABEL
    hx_expect arrives "$2: UDP 68->67 to 255.255.255.255 on vethc" dhcp4_bcast \
        hx_py "$KS_CLI" udp --dst 255.255.255.255 --port 67 --sport 68 --dev vethc --broadcast
    expect_arrives "$2: on-link DHCP server" "$KS_CLI" udp "$KS_SRV_V4" 67 veth --sport 68
    hx_expect arrives "$2: UDP 546->547 to ff02::1:2 on vethc" dhcp6_mc \
        hx_py "$KS_CLI" udp --dst ff02::1:2 --port 547 --sport 546 --dev vethc
    if [[ $1 == arrives ]]; then
        expect_arrives "$2: off-link DHCP" "$KS_CLI" udp "$off4" 67 veth --sport 68
        expect_arrives "$2: off-link DHCPv6" "$KS_CLI" udp "$off6" 547 veth --sport 546
    else
        expect_blocked "$2: off-link DHCP" "$KS_CLI" udp "$off4" 67 --sport 68
        expect_blocked "$2: off-link DHCPv6" "$KS_CLI" udp "$off6" 547 --sport 546
    fi
}

nd_checks() {   # arrives|blocked LABEL
    hx_expect "$1" "$2: NS hop limit 255 to off-link $off6" ns_off \
        hx_py "$KS_CLI" ns --dst "$off6" --target "$off6" --hops 255
    hx_expect "$1" "$2: NS hop limit 64 to on-link $KS_SRV_V6" ns_hop64 \
        hx_py "$KS_CLI" ns --dst "$KS_SRV_V6" --target "$KS_SRV_V6" --hops 64
    hx_expect arrives "$2: NS hop limit 255 to on-link $KS_SRV_V6" ns_hop255 \
        hx_py "$KS_CLI" ns --dst "$KS_SRV_V6" --target "$KS_SRV_V6" --hops 255
}

raw_checks() {   # arrives|blocked LABEL
    hx_expect "$1" "$2: packet socket, UDP/IPv4 frame" raw4 rawframe "${raw_udp4[@]}"
    hx_expect "$1" "$2: packet socket, UDP/IPv4 frame, PACKET_QDISC_BYPASS" raw4 \
        rawframe "${raw_udp4[@]}" --bypass
    hx_expect "$1" "$2: packet socket, UDP/IPv4 frame, sll_protocol ETH_P_ARP" raw4 \
        rawframe "${raw_udp4[@]}" --sll-proto 0x0806
    hx_expect "$1" "$2: packet socket, UDP/IPv4 frame, sll_protocol ETH_P_ARP, PACKET_QDISC_BYPASS" raw4 \
        rawframe "${raw_udp4[@]}" --sll-proto 0x0806 --bypass
    hx_expect "$1" "$2: packet socket, UDP/IPv4 frame, sll_protocol ETH_P_ALL" raw4 \
        rawframe "${raw_udp4[@]}" --sll-proto 0x0003
    hx_expect "$1" "$2: packet socket, UDP/IPv6 frame" raw6 rawframe "${raw_udp6[@]}"
    hx_expect "$1" "$2: packet socket, UDP/IPv6 frame, PACKET_QDISC_BYPASS" raw6 \
        rawframe "${raw_udp6[@]}" --bypass
    hx_expect "$1" "$2: packet socket, DHCP-shaped UDP 68->67 frame to off-link $off4" raw_dhcp_off \
        rawframe --dst-mac "$srv_mac" --kind udp --src "$KS_CLI_V4" --dst "$off4" --sport 68 --dport 67
    hx_expect arrives "$2: packet socket, ARP request" arp_tag \
        rawframe --kind arp --src "$KS_CLI_V4" --dst 10.200.0.250
    hx_expect arrives "$2: packet socket, DHCPDISCOVER broadcast frame" dhcp4_bcast \
        rawframe --kind dhcp-discover
}

impostor_check() {   # arrives|blocked LABEL N
    hx_expect "$1" "$2: UDP to 198.18.0.1$3 through the impostor ${KS_ID}v$3 (veth)" "imp$3" \
        probe_line "$KS_CLI" udp "198.18.0.1$3" 9 --count 3
}

ks_step "control: no kill switch"
dhcp_checks arrives "control"
nd_checks arrives "control"
raw_checks arrives "control"
impostor_check arrives "control" 0

ks_step "kill switch: Tunnels $KS_WG_CLI and ${KS_ID}v*, AllowDhcp=true, AllowLan=false"
daemon_apply "$state" Enabled=true AllowDhcp=true AllowLan=false \
    "Tunnel=$KS_WG_CLI" "Tunnel=${KS_ID}v*" \
    "Endpoint=$KS_SRV_V4 $KS_WG_PORT udp" "Endpoint=$KS_SRV_V6 $KS_WG_PORT udp"
expect_ok "tunnel flows with the kill switch" tunnel_flows

ks_step "DHCP carries nothing off the link"
dhcp_checks blocked "kill switch"

ks_step "an address with a wide prefix does not make the internet on-link"
# A root process gives the uplink 198.18.0.100/15 (no route): a /15 is wider
# than any DHCP server's subnet (on-link means /16 or longer, /48 for IPv6),
# so the DHCP ports still reach nothing off the link; a /48 is on-link.
ip -n "$KS_CLI" addr add 198.18.0.100/15 dev vethc noprefixroute
ip -n "$KS_CLI" addr add 2001:db8:b::100/32 dev vethc noprefixroute nodad
onlink_has() { in_ns "$KS_CLI" nft list set inet killswitchd onlink4 | grep -q "$1"; }
ip -n "$KS_CLI" addr add 10.200.7.2/16 dev vethc noprefixroute   # a mark the daemon saw it all
wait_until 3 onlink_has 10.200.0.0/16 || ks_log "# 10.200.0.0/16 not in onlink4 after 3 s"
expect_blocked "wide address: off-link DHCP" "$KS_CLI" udp "$off4" 67 --sport 68
expect_blocked "wide address: off-link DHCPv6" "$KS_CLI" udp "$off6" 547 --sport 546
ip -n "$KS_CLI" addr del 198.18.0.100/15 dev vethc
ip -n "$KS_CLI" addr del 2001:db8:b::100/32 dev vethc
ip -n "$KS_CLI" addr del 10.200.7.2/16 dev vethc

ks_step "neighbour discovery: hop limit 255, on-link only"
nd_checks blocked "kill switch"

ks_step "packet sockets on the uplink"
raw_checks blocked "kill switch"

ks_step "an impostor tunnel (a veth named like one) is not trusted"
impostor_check blocked "kill switch" 0
impostor_add 1
# Give the daemon a moment to see the new link (its netdev chain, if any).
netdev_names() { in_ns "$KS_CLI" nft list table netdev killswitchd 2>/dev/null | grep -q "\"$1\""; }
wait_until 3 netdev_names "${KS_ID}v1" ||
    ks_log "# no chain naming ${KS_ID}v1 in table netdev killswitchd after 3 s"
impostor_check blocked "kill switch, impostor added while enabled" 1
expect_arrives "genuine tunnel ${KS_WG_CLI} (tun)" "$KS_CLI" udp "$KS_INET_V4" 9 tun
expect_arrives "genuine tunnel ${KS_WG_CLI} (tun)" "$KS_CLI" udp "$KS_INET_V6" 9 tun

ks_step "neighbour discovery still works (caches flushed)"
ip -n "$KS_CLI" neigh flush dev vethc
ip -n "$KS_SRV" neigh flush dev veths
expect_ok "tunnel flows (IPv4 endpoint, ARP again)" tunnel_flows
expect_arrives "IPv6 endpoint after the flush (NS/NA again)" "$KS_CLI" udp "$KS_SRV_V6" "$KS_WG_PORT" veth
tunnel_set_endpoint v6
ip -n "$KS_CLI" neigh flush dev vethc
counters_reset
expect_ok "tunnel flows over the IPv6 endpoint" tunnel_flows 8
expect_ge "WireGuard packets to the IPv6 endpoint" "$(count endpoint6)" 1
expect_no_leaks "after the neighbour caches were flushed"

((KS_FAILURES == 0)) || hx_dump_ruleset "$KS_CLI"
ks_finish

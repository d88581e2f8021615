#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# A hostile LAN cannot make the internet "LAN".  With AllowLan=true the LAN
# is made only of the addresses of non-tunnel interfaces, never of routes,
# and only of the part of each prefix inside the private and link-local
# ranges (10/8, 172.16/12, 192.168/16, 169.254/16, fc00::/7, fe80::/10).
# Public-looking victims (198.18.0.0/15, 203.0.113.0/24, 2001:db8::/32,
# owned by the server namespace, never the real internet) must stay blocked:
#   - TunnelVision (CVE-2024-3661): gateway-less routes as a rogue DHCP
#     server's option 121 installs them on the uplink;
#   - a rogue router advertisement: on-link prefixes and a SLAAC prefix
#     (the RA itself gets through the kill switch, as it must);
#   - a DHCP lease of a public address (a private lease is LAN, and a
#     prefix wider than a private range is clamped to it);
#   - DNS to the LAN.
# After each change LanSubnets (over D-Bus) and the kernel's lan4/lan6 sets
# are checked, synchronised on a private address added after the hostile
# change.  Every blocked probe has its control: the same probe arrives on
# the server with the kill switch disabled (Disable), then Enable again
# must rebuild the same LAN from scratch.

# shellcheck disable=SC2317  # helpers called through expect_ok and wait_until
source "$(dirname "$0")/lib-net.sh"
ks_init test_hostile_lan
topo_create
state=$KS_TMP/state

TV_V4=198.18.0.1          # behind the option 121 route (RFC 2544 range)
LEASE_V4=203.0.113.1      # in the public lease's subnet (TEST-NET-3)
PRIV_V4=192.168.77.1      # in the private lease's subnet
RA_ONLINK_V6=2001:db8:1::1    # in an on-link prefix of the RA
RA_SLAAC_V6=2001:db8:4860::1  # in the RA's SLAAC prefix
BASE=(10.200.0.0/24 fd00:200::/64 fe80::/64)    # vethc's subnets, link-local included

# The victims are the server's, on its veth: the client reaches them on-link.
for a in "$TV_V4/15" "$LEASE_V4/24" "$PRIV_V4/24" "$RA_ONLINK_V6/48" 2001:db8:2::1/48 "$RA_SLAAC_V6/64"; do
    addr_add "$KS_SRV" veths "$a"
done

# A router advertisement sent from the server's veth to ff02::1: router
# lifetime 0 (not a default router), one Prefix Information option per
# PREFIX,FLAGS argument (L on-link, A autonomous).
cat >"$KS_TMP/ra.py" <<'PYEOF'
import socket, struct, sys

idx = socket.if_nametoindex(sys.argv[1])
ra = struct.pack("!BBHBBHII", 134, 0, 0, 64, 0, 0, 0, 0)
for arg in sys.argv[2:]:
    prefix, flags = arg.split(",")
    net, plen = prefix.split("/")
    bits = (0x80 if "L" in flags else 0) | (0x40 if "A" in flags else 0)
    ra += struct.pack("!BBBBIII", 3, 4, int(plen), bits, 600, 600, 0)
    ra += socket.inet_pton(socket.AF_INET6, net)
s = socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_ICMPV6)
s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_HOPS, 255)
s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_UNICAST_HOPS, 255)
s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_IF, idx)
s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_LOOP, 0)
s.sendto(ra, ("ff02::1", 0, 0, idx))
PYEOF

ks_call() {   # METHOD: Enable or Disable, as root
    bus call "$KS_BUS_SERVICE" "$KS_BUS_OBJECT" "$KS_BUS_IFACE" "$1" >/dev/null || ks_die "$1 failed"
}

# lan_stray SCOPE [INSIDE...]: the LanSubnets entries overlapping SCOPE that
# are not inside one of INSIDE; "none" when there are none.
lan_stray() {
    lan_prop | "$KS_PY" -c 'import ipaddress,sys
scope = ipaddress.ip_network(sys.argv[1])
inside = [ipaddress.ip_network(a) for a in sys.argv[2:]]
text = sys.stdin.read().strip()
out = []
for c in filter(None, text.split(",")):
    try:
        n = ipaddress.ip_network(c)
    except ValueError:
        print("unreadable: " + text)
        sys.exit()
    if n.version == scope.version and n.overlaps(scope) and \
            not any(n.version == i.version and n.subnet_of(i) for i in inside):
        out.append(c)
print(",".join(out) or "none")' "$@"
}
lan_lists() { [[ ,$(lan_prop), == *",$1,"* ]]; }   # CIDR: listed in LanSubnets
# ADDR is (not) in the kernel's lan4/lan6 set; the table must be there.
lan_kernel_has() { in_ns "$KS_CLI" nft get element inet killswitchd "lan$(ks_family "$1")" "{ $1 }" >/dev/null 2>&1; }
lan_kernel_lacks() { table_present "$KS_CLI" && ! lan_kernel_has "$1"; }

# not_lan DESC CIDR ADDR...: nothing of CIDR in LanSubnets, no ADDR in the sets.
not_lan() {
    local desc=$1 cidr=$2 a; shift 2
    expect_eq "$desc: LanSubnets entries inside $cidr" "$(lan_stray "$cidr")" none
    for a in "$@"; do expect_ok "$desc: $a is not in the kernel's lan set" lan_kernel_lacks "$a"; done
}
blocked() {   # DESC DST PORT
    local proto
    for proto in udp tcp; do expect_blocked "$1" "$KS_CLI" "$proto" "$2" "$3"; done
}
arrives() {   # DESC DST PORT
    local proto
    for proto in udp tcp; do expect_arrives "$1" "$KS_CLI" "$proto" "$2" "$3" veth; done
}

ks_step "AllowLan=true: the uplink's subnets"
write_settings "$state" Enabled=true AllowLan=true AllowDhcp=true "Tunnel=$KS_WG_CLI" "Endpoint=$KS_SRV_V4 $KS_WG_PORT udp"
net_bus
start_daemon "$KS_CLI" "$state"
expect_lan "at start" "${BASE[@]}"
arrives "the LAN works" "$KS_SRV_V4" 9999

ks_step "TunnelVision: option 121 routes without a gateway on the uplink"
OPT121=(198.18.0.0/15 10.0.0.0/8 100.64.0.0/10)
for r in "${OPT121[@]}"; do ip -n "$KS_CLI" route add "$r" dev vethc; done
addr_add "$KS_CLI" vethc 172.31.121.1/24   # the sync mark: an address after the routes
expect_lan "option 121 routes" "${BASE[@]}" 172.31.121.0/24
not_lan "option 121 routes" 198.18.0.0/15 "$TV_V4"
not_lan "option 121 routes" 100.64.0.0/10 100.64.0.1 10.77.0.1
blocked "option 121 route" "$TV_V4" 9999
ks_call Disable
arrives "control, kill switch disabled: option 121 route" "$TV_V4" 9999
ks_call Enable
expect_lan "option 121 routes, enabled again" "${BASE[@]}" 172.31.121.0/24
not_lan "option 121 routes, enabled again" 198.18.0.0/15 "$TV_V4"
blocked "option 121 route, enabled again" "$TV_V4" 9999
for r in "${OPT121[@]}"; do ip -n "$KS_CLI" route del "$r" dev vethc; done
ip -n "$KS_CLI" addr del 172.31.121.1/24 dev vethc

ks_step "a rogue router advertisement"
in_ns "$KS_CLI" sysctl -qw net.ipv6.conf.vethc.accept_ra=2 net.ipv6.conf.vethc.autoconf=1
expect_ok "the kill switch is on when the RA comes" table_present "$KS_CLI"
# On-link prefixes, a public SLAAC prefix, then a ULA SLAAC prefix (the sync mark).
in_ns "$KS_SRV" "$KS_PY" "$KS_TMP/ra.py" veths \
    2001:db8:1::/48,L 2001:db8:2::/48,L 2001:db8:4860::/64,A fd00:4860::/64,A
ra_route() { [[ -n $(ip -n "$KS_CLI" -6 route show "$1" dev vethc) ]]; }
ra_addr() { ip -n "$KS_CLI" -6 addr show dev vethc to "$1" | grep -q 'inet6'; }
ra_applied() {
    ra_route 2001:db8:1::/48 && ra_route 2001:db8:2::/48 &&
        ra_addr 2001:db8:4860::/64 && ra_addr fd00:4860::/64
}
expect_ok "the RA got through the kill switch: its routes and SLAAC addresses in the client" \
    wait_until 5 ra_applied
expect_lan "rogue RA" "${BASE[@]}" fd00:4860::/64
not_lan "rogue RA" 2001:db8::/32 "$RA_ONLINK_V6" 2001:db8:2::1 "$RA_SLAAC_V6"
blocked "rogue RA, on-link prefix" "$RA_ONLINK_V6" 9999
blocked "rogue RA, SLAAC prefix" "$RA_SLAAC_V6" 9999
ks_call Disable
arrives "control, kill switch disabled: rogue RA, on-link prefix" "$RA_ONLINK_V6" 9999
arrives "control, kill switch disabled: rogue RA, SLAAC prefix" "$RA_SLAAC_V6" 9999
ks_call Enable
expect_lan "rogue RA, enabled again" "${BASE[@]}" fd00:4860::/64
not_lan "rogue RA, enabled again" 2001:db8::/32 "$RA_ONLINK_V6" "$RA_SLAAC_V6"
in_ns "$KS_CLI" sysctl -qw net.ipv6.conf.vethc.accept_ra=0
for r in 2001:db8:1::/48 2001:db8:2::/48; do ip -n "$KS_CLI" -6 route del "$r" dev vethc; done
for r in 2001:db8:4860::/64 fd00:4860::/64; do ip -n "$KS_CLI" -6 addr flush dev vethc to "$r"; done

ks_step "DHCP leases: a public address, a private one"
addr_add "$KS_CLI" vethc 203.0.113.10/24
addr_add "$KS_CLI" vethc 192.168.77.10/24   # also the sync mark
expect_lan "leases" "${BASE[@]}" 192.168.77.0/24
not_lan "public lease" 203.0.113.0/24 "$LEASE_V4"
blocked "public lease" "$LEASE_V4" 9999
arrives "private lease: the LAN works" "$PRIV_V4" 9999
ks_call Disable
arrives "control, kill switch disabled: public lease" "$LEASE_V4" 9999
ks_call Enable
expect_lan "leases, enabled again" "${BASE[@]}" 192.168.77.0/24
not_lan "public lease, enabled again" 203.0.113.0/24 "$LEASE_V4"

ks_step "DNS to the LAN"
blocked "DNS to the LAN" "$KS_SRV_V4" 53
blocked "DNS to the LAN" "$KS_SRV_V6" 53
blocked "DNS to the private lease's subnet" "$PRIV_V4" 53
ks_call Disable
arrives "control, kill switch disabled: DNS" "$KS_SRV_V4" 53
arrives "control, kill switch disabled: DNS" "$KS_SRV_V6" 53
arrives "control, kill switch disabled: DNS" "$PRIV_V4" 53
ks_call Enable
ip -n "$KS_CLI" addr del 203.0.113.10/24 dev vethc
ip -n "$KS_CLI" addr del 192.168.77.10/24 dev vethc
expect_lan "leases gone" "${BASE[@]}"

ks_step "prefixes wider than a private range are clamped to it"
# 172.0.0.0/8 holds 172.16.0.0/12; 0.0.0.0/4 holds 10.0.0.0/8 only; fc00::/6
# holds fc00::/7 and fe80::/10, but also public space and multicast.
expect_listed() {   # DESC CIDR: CIDR becomes one of LanSubnets (3 s at most)
    wait_until 3 lan_lists "$2" || true
    if lan_lists "$2"; then ks_pass "$1: $2 in LanSubnets"; else ks_fail "$1: $2 should be in LanSubnets (got $(lan_prop))"; fi
}
addr_add "$KS_CLI" vethc 172.20.1.2/8
expect_listed "172.20.1.2/8" 172.16.0.0/12
expect_eq "172.20.1.2/8: LanSubnets entries inside 172.0.0.0/8 but outside 172.16.0.0/12" \
    "$(lan_stray 172.0.0.0/8 172.16.0.0/12)" none
expect_ok "172.20.1.2/8: 172.20.0.1 is in the kernel's lan set" lan_kernel_has 172.20.0.1
for a in 172.15.255.255 172.32.0.0 172.255.0.1; do
    expect_ok "172.20.1.2/8: $a is not in the kernel's lan set" lan_kernel_lacks "$a"
done
ip -n "$KS_CLI" addr del 172.20.1.2/8 dev vethc
addr_add "$KS_CLI" vethc 10.1.2.3/4
addr_add "$KS_CLI" vethc fd00:1::2/6
expect_listed "10.1.2.3/4" 10.0.0.0/8
expect_eq "10.1.2.3/4: LanSubnets entries inside 0.0.0.0/4 but outside 10.0.0.0/8" \
    "$(lan_stray 0.0.0.0/4 10.0.0.0/8)" none
expect_ok "10.1.2.3/4: 10.99.0.1 is in the kernel's lan set" lan_kernel_has 10.99.0.1
for a in 9.255.255.255 11.0.0.0 0.0.0.1; do
    expect_ok "10.1.2.3/4: $a is not in the kernel's lan set" lan_kernel_lacks "$a"
done
expect_listed "fd00:1::2/6" fc00::/7
expect_eq "fd00:1::2/6: LanSubnets entries inside fc00::/6 but outside fc00::/7 and fe80::/10" \
    "$(lan_stray fc00::/6 fc00::/7 fe80::/10)" none
expect_ok "fd00:1::2/6: fc12::1 is in the kernel's lan set" lan_kernel_has fc12::1
for a in fec0::1 ff05::1 ff0e::1; do
    expect_ok "fd00:1::2/6: $a is not in the kernel's lan set" lan_kernel_lacks "$a"
done
ip -n "$KS_CLI" addr del 10.1.2.3/4 dev vethc
ip -n "$KS_CLI" addr del fd00:1::2/6 dev vethc
expect_lan "wide prefixes gone" "${BASE[@]}"

ks_finish

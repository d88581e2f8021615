#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# A hostile LAN spoofs the VPN endpoint, and local users other than root
# try to reach it (AllowLan off):
#
#   - packets forged by the server (the attacker on the LAN) with the
#     endpoint's address and port as their source (CVE-2019-14899 family):
#     UDP to a UDP echo server in the client, at the client's tunnel address
#     and at its veth address, IPv4 and IPv6, and TCP SYNs to a listening
#     port.  With the kill switch, incoming endpoint packets are accepted only
#     as replies to flows the client started, only on a non-tunnel link and
#     only to an address of that link: the echo server receives nothing and
#     no reply (nor SYN-ACK) leaves the client's veth.  Control: without the
#     kill switch the echo server receives them and replies;
#   - the WireGuard tunnel still works, after the spoofing too;
#   - the endpoint is reachable by root's sockets only: UDP to it as nobody
#     is dropped (EPERM), as root it arrives; after Apply EndpointAnyUser=true
#     nobody's UDP arrives too.  Control: without the kill switch, nobody's
#     UDP arrives.

set -euo pipefail
source "$(dirname "$0")/lib-hostile.sh"
hx_init test_hostile_spoof
topo_create
tunnel_up
tunnel_flows || ks_die "the tunnel does not carry traffic"
state=$KS_TMP/state
echo_port=47001
srv_mac=$(hx_mac "$KS_SRV" veths)
cli_mac=$(hx_mac "$KS_CLI" vethc)

# What leaves the client towards the endpoint's address from the echo port
# (replies to the spoofed packets), counted as frames on the server's veth.
hx_counters "$KS_SRV" veths \
    "reply4=ip saddr { $KS_CLI_V4, $KS_TUN_CLI_V4 } udp sport $echo_port udp dport $KS_WG_PORT" \
    "reply6=ip6 saddr { $KS_CLI_V6, $KS_TUN_CLI_V6 } udp sport $echo_port udp dport $KS_WG_PORT" \
    "synack4=ip saddr { $KS_CLI_V4, $KS_TUN_CLI_V4 } tcp sport $echo_port tcp dport $KS_WG_PORT" \
    "synack6=ip6 saddr { $KS_CLI_V6, $KS_TUN_CLI_V6 } tcp sport $echo_port tcp dport $KS_WG_PORT"

echo_log=$KS_TMP/echo.log
ks_spawn echo_pid "$KS_TMP/echo.out" ip netns exec "$KS_CLI" "$KS_PY" "$HX_PY" echo \
    --port "$echo_port" --log "$echo_log" --ready "$KS_TMP/echo.ready"
wait_until 5 test -e "$KS_TMP/echo.ready" || ks_die "the echo server did not start"
echo_count() { grep -c "^udp $1 " "$echo_log" || true; }

# spoof_udp arrives|blocked LABEL DST: three UDP datagrams forged by the
# server, from the endpoint (address:$KS_WG_PORT) to DST:$echo_port.
spoof_udp() {
    local how=$1 label=$2 dst=$3 fam src tag got replies out
    fam=$(ks_family "$dst")
    if ((fam == 4)); then src=$KS_SRV_V4; else src=$KS_SRV_V6; fi
    tag=spoof$((++KS_SEQ))
    hx_reset
    out=$(hx_py "$KS_SRV" frame --dev veths --kind udp --src-mac "$srv_mac" --dst-mac "$cli_mac" \
          --src "$src" --sport "$KS_WG_PORT" --dst "$dst" --dport "$echo_port" --payload "$tag")
    if [[ $how == arrives ]]; then
        wait_until 2 hx_counted "reply$fam" || true
    else
        sleep 0.3
    fi
    got=$(echo_count "$tag") replies=$(hx_count "reply$fam")
    local what="UDP from $src port $KS_WG_PORT to $dst port $echo_port"
    if [[ $how == arrives ]]; then
        if ((got >= 1 && replies >= 1)); then
            ks_pass "$label: $what received ($got) and answered ($replies replies; $out)"
        else
            ks_fail "$label: $what should be received and answered (received $got, $replies replies; $out)"
        fi
    elif ((got == 0 && replies == 0)); then
        ks_pass "$label: $what dropped (received 0, 0 replies; $out)"
    else
        ks_fail "$label: $what should be dropped (received $got, $replies replies left the client; $out)"
    fi
}

# spoof_syn arrives|blocked LABEL DST: forged TCP SYNs from the endpoint
# address:$KS_WG_PORT to the listening DST:$echo_port; "arrives" means a
# SYN-ACK came back.
spoof_syn() {
    local how=$1 label=$2 dst=$3 fam src
    fam=$(ks_family "$dst")
    if ((fam == 4)); then src=$KS_SRV_V4; else src=$KS_SRV_V6; fi
    hx_expect "$how" "$label: TCP SYN from $src port $KS_WG_PORT to $dst port $echo_port (SYN-ACK back)" \
        "synack$fam" hx_py "$KS_SRV" frame --dev veths --kind tcp-syn --src-mac "$srv_mac" \
        --dst-mac "$cli_mac" --src "$src" --sport "$KS_WG_PORT" --dst "$dst" --dport "$echo_port"
}

spoof_all() {   # arrives|blocked LABEL
    local dst
    for dst in "$KS_TUN_CLI_V4" "$KS_CLI_V4" "$KS_TUN_CLI_V6" "$KS_CLI_V6"; do
        spoof_udp "$1" "$2" "$dst"
    done
    for dst in "$KS_TUN_CLI_V4" "$KS_CLI_V4" "$KS_TUN_CLI_V6" "$KS_CLI_V6"; do
        spoof_syn "$1" "$2" "$dst"
    done
}

# Endpoint probes as nobody: lib.sh's probe with a python that drops root.
nobody_endpoint() {   # arrives|blocked LABEL
    local dst
    for dst in "$KS_SRV_V4" "$KS_SRV_V6"; do
        if [[ $1 == arrives ]]; then
            KS_PY=$HX_PY_NOBODY expect_arrives "$2 (nobody)" "$KS_CLI" udp "$dst" "$KS_WG_PORT" veth
        else
            KS_PY=$HX_PY_NOBODY expect_blocked "$2 (nobody)" "$KS_CLI" udp "$dst" "$KS_WG_PORT"
        fi
    done
}

ks_step "control: no kill switch, the spoofed packets are received and answered"
spoof_all arrives "control"
nobody_endpoint arrives "control"

ks_step "kill switch: endpoints $KS_SRV_V4 and $KS_SRV_V6 port $KS_WG_PORT (udp and tcp)"
daemon_apply "$state" Enabled=true "Tunnel=$KS_WG_CLI" \
    "Endpoint=$KS_SRV_V4 $KS_WG_PORT udp" "Endpoint=$KS_SRV_V6 $KS_WG_PORT udp" \
    "Endpoint=$KS_SRV_V4 $KS_WG_PORT tcp" "Endpoint=$KS_SRV_V6 $KS_WG_PORT tcp"
expect_ok "tunnel flows with the kill switch" tunnel_flows
spoof_all blocked "kill switch"

ks_step "the tunnel still works after the spoofing"
expect_ok "tunnel flows after the spoofing" tunnel_flows
expect_arrives "after spoofing" "$KS_CLI" udp "$KS_INET_V4" 9 tun
expect_arrives "after spoofing" "$KS_CLI" udp "$KS_INET_V6" 9 tun

ks_step "the endpoint is for root's sockets only (EndpointAnyUser off by default)"
nobody_endpoint blocked "EndpointAnyUser=false"
for dst in "$KS_SRV_V4" "$KS_SRV_V6"; do
    expect_arrives "EndpointAnyUser=false (root)" "$KS_CLI" udp "$dst" "$KS_WG_PORT" veth
    expect_blocked "EndpointAnyUser=false (root, other port)" "$KS_CLI" udp "$dst" 51821
done

ks_step "Apply EndpointAnyUser=true: any user may reach the endpoint"
expect_bus_ok "Apply EndpointAnyUser=true" call Apply 'a{sv}' 1 EndpointAnyUser b true
nobody_endpoint arrives "EndpointAnyUser=true"
KS_PY=$HX_PY_NOBODY expect_blocked "EndpointAnyUser=true (nobody, other port)" "$KS_CLI" udp "$KS_SRV_V4" 51821
expect_ok "tunnel flows with EndpointAnyUser=true" tunnel_flows
spoof_udp blocked "EndpointAnyUser=true" "$KS_CLI_V4"
spoof_udp blocked "EndpointAnyUser=true" "$KS_TUN_CLI_V6"

ks_step "ICMP from the endpoint: errors about our flows come in, nothing else"
# Nothing listens on the server at 51822: it answers with a port unreachable,
# which conntrack ties to the client's flow (related). An echo request from
# the endpoint's address is no error about anything: dropped.
expect_bus_ok "AddEndpoint $KS_SRV_V4 51822 udp" call AddEndpoint sqs "$KS_SRV_V4" 51822 udp
expect_bus_ok "AddEndpoint $KS_SRV_V6 51822 udp" call AddEndpoint sqs "$KS_SRV_V6" 51822 udp
for dst in "$KS_SRV_V4" "$KS_SRV_V6"; do
    expect_eq "kill switch: port unreachable from $dst reaches the client's socket" \
        "$(hx_py "$KS_CLI" refused --dst "$dst" --port 51822)" refused
done
echo_from_endpoint() { probe "$KS_SRV" icmp "$KS_CLI_V4" 0 --count 3 --timeout 0.5; echo "$PROBE_REPLIED"; }
expect_eq "kill switch: echo requests from the endpoint to $KS_CLI_V4 answered" "$(echo_from_endpoint)" 0
expect_bus_ok "Disable (control)" call Disable
expect_eq "control: port unreachable from $KS_SRV_V4 reaches the client's socket" \
    "$(hx_py "$KS_CLI" refused --dst "$KS_SRV_V4" --port 51822)" refused
expect_ge "control: echo requests from the endpoint to $KS_CLI_V4 answered" "$(echo_from_endpoint)" 1

((KS_FAILURES == 0)) || hx_dump_ruleset "$KS_CLI"
ks_finish

#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# The NetworkManager dispatcher script (contrib/networkmanager/90-killswitchd),
# run as NetworkManager runs it: arguments interface and action, an
# environment holding only NetworkManager's variables (NetworkManager-
# dispatcher(8)) and the connection's keyfile profile; against the real
# daemon on the private bus, with real tunnels and a flood to the internet
# host.  NetworkManager itself does not run.
#
# WireGuard connection (a wireguard-go device with fwmark 51820, as
# NetworkManager would configure one): control, no kill switch: the device
# killed, the flood leaks.  `up` registers the device, its peer's endpoint
# and the fwmark as EndpointMark, enables; traffic flows, nothing leaks;
# device killed: nothing leaks.  `pre-down` then the device removed: tunnel,
# endpoint and mark unregistered, kill switch enabled, nothing leaks; `down`
# after a forced disconnection (no pre-down) unregisters too.
# VPN connection (the OpenVPN plugin's profile, with a real OpenVPN client
# and server): control: client killed, the flood leaks.  `vpn-up` registers
# VPN_IP_IFACE and the servers of the profile's [vpn] remote (not
# VPN_IP4_GATEWAY, the gateway inside the tunnel), enables; traffic flows,
# nothing leaks; client killed: nothing leaks, and it reconnects while
# blocked; `vpn-pre-down` and the client stopped: tunnel unregistered,
# servers kept, kill switch enabled, nothing leaks.
# Then: servers from the user data killswitchd.endpoints (environment or
# [user] section), host names refused, other devices, external connections
# and other actions ignored, and an unreachable daemon reported.

# Helpers are called through vpn_window and expect_ok.
# shellcheck disable=SC2317
set -euo pipefail
source "$(dirname "$0")/lib-vpn.sh"
vpn_init test_nm_dispatcher openvpn openssl
vpn_topology
vpn_counters_openvpn
wg=$KS_WG_CLI
profiles=$KS_TMP/system-connections
mkdir -p "$profiles"
uuid_wg=6f1f2b1c-2a51-4c55-9d1e-3c1a0d2e4b01
uuid_vpn=0c7b8d3e-5f64-4a0e-8a7b-9e2d1c3b5a02

# nm_dispatch IFACE ACTION VAR=VALUE...: the script as NetworkManager's
# dispatcher runs it, in the client namespace; output in NM_OUT.
nm_dispatch() {
    local iface=$1 action=$2
    shift 2
    NM_OUT=$KS_TMP/nm.$((++KS_SEQ)).out
    in_ns "$KS_CLI" env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
        DBUS_SYSTEM_BUS_ADDRESS="$DBUS_SYSTEM_BUS_ADDRESS" KILLSWITCHD_HOOK_STATE_DIR="$KILLSWITCHD_HOOK_STATE_DIR" \
        NM_DISPATCHER_ACTION="$action" "$@" "$KS_HOOK_NM" "$iface" "$action" >"$NM_OUT" 2>&1 </dev/null
}
nm_said() { sed 's/^/   /' "$NM_OUT"; }

# The WireGuard connection as NetworkManager describes it.
cat >"$profiles/wg-home.nmconnection" <<EOF
[connection]
id=wg-home
uuid=$uuid_wg
type=wireguard
interface-name=$wg

[wireguard]
fwmark=51820
private-key-flags=1

[wireguard-peer.$(ks_wg_keys; echo "$KS_WG_SRV_PUB")]
endpoint=$KS_SRV_V4:$KS_WG_PORT
allowed-ips=0.0.0.0/0;::/0;

[ipv4]
address1=$KS_TUN_CLI_V4/24
method=manual

[ipv6]
address1=$KS_TUN_CLI_V6/64
method=manual
EOF
wg_env=(CONNECTION_ID=wg-home "CONNECTION_UUID=$uuid_wg"
    CONNECTION_DBUS_PATH=/org/freedesktop/NetworkManager/Settings/3
    "CONNECTION_FILENAME=$profiles/wg-home.nmconnection"
    "DEVICE_IFACE=$wg" "DEVICE_IP_IFACE=$wg"
    "IP4_ADDRESS_0=$KS_TUN_CLI_V4/24 0.0.0.0" IP4_NUM_ADDRESSES=1 IP4_GATEWAY=0.0.0.0 IP4_NUM_ROUTES=0
    "IP6_ADDRESS_0=$KS_TUN_CLI_V6/64 ::" IP6_NUM_ADDRESSES=1 IP6_GATEWAY=::)
ep_wg=$KS_SRV_V4:$KS_WG_PORT/udp

ks_step "WireGuard connection, control: no kill switch"
tunnel_up 51820
expect_ok "the tunnel carries traffic" tunnel_flows 8
flood_start "$KS_CLI"
vpn_window "control, device killed" 1 tunnel_kill
expect_ge "control, device killed: packets leaked in clear" "$W_LEAKED" 10

ks_step "WireGuard connection: up"
tunnel_up 51820
expect_ok "the tunnel carries traffic" tunnel_flows 8
expect_ok "up" nm_dispatch "$wg" up "${wg_env[@]}"
nm_said
expect_settings "after up" "enabled=true tunnels=$wg endpoints=$ep_wg mark=51820"
expect_eq "after up: EndpointAnyUser untouched for WireGuard" "$(ksv_get EndpointAnyUser)" "b false"
vpn_window "kill switch, tunnel up" 1 true
expect_ge "kill switch, tunnel up: flood through the tunnel" "$W_TUN" 50
expect_zero "kill switch, tunnel up: packets leaked" "$W_LEAKED"
vpn_window "kill switch, device killed" 1 tunnel_kill
expect_zero "kill switch, device killed: packets leaked" "$W_LEAKED"
expect_ge "kill switch, device killed: packets refused with EPERM" "$W_EPERM" 50
tunnel_up 51820
expect_ok "the tunnel carries traffic again" tunnel_flows 8
before=$(ksv_settings)
expect_ok "up again" nm_dispatch "$wg" up "${wg_env[@]}"
expect_eq "up twice: settings unchanged" "$(ksv_settings)" "$before"

ks_step "WireGuard connection: pre-down, then the device goes"
nm_pre_down_and_remove() { nm_dispatch "$wg" pre-down "${wg_env[@]}" && tunnel_kill; }
vpn_window "kill switch, pre-down and device removed" 1 nm_pre_down_and_remove
nm_said
expect_zero "pre-down exit status" "$W_RC"
expect_settings "after pre-down" "enabled=true tunnels=- endpoints=- mark=0"
expect_zero "kill switch, pre-down and device removed: packets leaked" "$W_LEAKED"
expect_ge "kill switch, pre-down and device removed: packets refused with EPERM" "$W_EPERM" 50
expect_ok "down after pre-down" nm_dispatch "$wg" down "${wg_env[@]}"
expect_settings "after down" "enabled=true tunnels=- endpoints=- mark=0"

ks_step "WireGuard connection: down without pre-down (forced disconnection)"
tunnel_up 51820
expect_ok "up" nm_dispatch "$wg" up "${wg_env[@]}"
expect_settings "after up" "enabled=true tunnels=$wg endpoints=$ep_wg mark=51820"
tunnel_kill
expect_ok "down, the device already gone" nm_dispatch "$wg" down "${wg_env[@]}"
nm_said
expect_settings "after down" "enabled=true tunnels=- endpoints=- mark=0"

ks_step "devices that are not ours are ignored"
tunnel_up 51820
before=$(ksv_settings)
expect_ok "up of the ethernet device" nm_dispatch vethc up CONNECTION_ID="Wired connection 1" \
    CONNECTION_UUID=1b2c3d4e-0000-4000-8000-000000000001 DEVICE_IFACE=vethc DEVICE_IP_IFACE=vethc \
    IP4_GATEWAY="$KS_SRV_V4"
expect_ok "up of an external connection (CONNECTION_EXTERNAL=1, e.g. wg-quick's)" \
    nm_dispatch "$wg" up "${wg_env[@]}" CONNECTION_EXTERNAL=1
for action in dhcp4-change connectivity-change hostname reapply vpn-down; do
    expect_ok "$action" nm_dispatch "$wg" "$action" "${wg_env[@]}"
done
expect_eq "nothing registered" "$(ksv_settings)" "$before"
tunnel_kill
flood_stop

# The VPN connection: the OpenVPN plugin's profile and the environment of vpn-up.
ovpn_server_start udp
dev=${KS_ID}v
cat >"$profiles/office.nmconnection" <<EOF
[connection]
id=office
uuid=$uuid_vpn
type=vpn

[vpn]
connection-type=tls
remote=$KS_SRV_V4, [$KS_SRV_V6]:$KS_OVPN_PORT:udp
port=$KS_OVPN_PORT
proto-tcp=no
ca=$KS_TMP/pki/ca.crt
service-type=org.freedesktop.NetworkManager.openvpn

[ipv4]
method=auto
EOF
vpn_env=(CONNECTION_ID=office "CONNECTION_UUID=$uuid_vpn"
    CONNECTION_DBUS_PATH=/org/freedesktop/NetworkManager/Settings/4
    "CONNECTION_FILENAME=$profiles/office.nmconnection"
    DEVICE_IFACE=vethc DEVICE_IP_IFACE=vethc "VPN_IP_IFACE=$dev"
    "IP4_ADDRESS_0=$KS_CLI_V4/24 $KS_SRV_V4" IP4_NUM_ADDRESSES=1 "IP4_GATEWAY=$KS_SRV_V4" IP4_NUM_ROUTES=0
    "VPN_IP4_ADDRESS_0=10.204.0.2/24 10.204.0.1" VPN_IP4_NUM_ADDRESSES=1 VPN_IP4_GATEWAY=10.204.0.1
    "VPN_IP4_ROUTE_0=$KS_INET_V4/32 10.204.0.1 0" VPN_IP4_NUM_ROUTES=1)
eps_vpn="$KS_SRV_V4:$KS_OVPN_PORT/udp,[$KS_SRV_V6]:$KS_OVPN_PORT/udp"
client=$KS_TMP/client-office.conf
# As the plugin runs it: its own helper scripts, not ours.
ovpn_client_conf "$client" udp "$KS_SRV_V4" nohooks

ks_step "VPN connection, control: no kill switch"
ksv_call Apply 'a{sv}' 1 Enabled b false
expect_ok "the client connects" ovpn_client_start "$client"
expect_ok "traffic flows through the tunnel" ovpn_flows
flood_start "$KS_CLI"
vpn_window "control, client killed" 1 ovpn_client_kill
expect_ge "control, client killed: packets leaked in clear" "$W_LEAKED" 10

ks_step "VPN connection: vpn-up"
expect_ok "the client connects" ovpn_client_start "$client"
expect_ok "vpn-up" nm_dispatch "$dev" vpn-up "${vpn_env[@]}"
nm_said
expect_settings "after vpn-up (servers from the profile, not VPN_IP4_GATEWAY)" \
    "enabled=true tunnels=$dev endpoints=$eps_vpn mark=0"
# The plugin's client runs as nm-openvpn and opens a new socket on reconnecting.
expect_eq "after vpn-up: EndpointAnyUser" "$(ksv_get EndpointAnyUser)" "b true"
expect_ok "traffic flows through the tunnel" ovpn_flows
vpn_window "kill switch, tunnel up" 1 true
expect_ge "kill switch, tunnel up: flood through the tunnel" "$W_TUN" 50
expect_zero "kill switch, tunnel up: packets leaked" "$W_LEAKED"
vpn_window "kill switch, client killed" 1 ovpn_client_kill
expect_zero "kill switch, client killed: packets leaked" "$W_LEAKED"
expect_ge "kill switch, client killed: packets refused with EPERM" "$W_EPERM" 50
expect_ok "the client reconnects while everything else is blocked" ovpn_client_start "$client"
expect_ok "vpn-up again" nm_dispatch "$dev" vpn-up "${vpn_env[@]}"
expect_settings "vpn-up twice" "enabled=true tunnels=$dev endpoints=$eps_vpn mark=0"
expect_ok "traffic flows through the tunnel again" ovpn_flows

ks_step "VPN connection: vpn-pre-down, then the client stops"
nm_vpn_pre_down_and_stop() { nm_dispatch "$dev" vpn-pre-down "${vpn_env[@]}" && ovpn_client_stop; }
vpn_window "kill switch, vpn-pre-down and client stopped" 1 nm_vpn_pre_down_and_stop
nm_said
expect_zero "vpn-pre-down exit status" "$W_RC"
expect_settings "after vpn-pre-down (servers kept for reconnecting)" "enabled=true tunnels=- endpoints=$eps_vpn mark=0"
expect_zero "kill switch, vpn-pre-down and client stopped: packets leaked" "$W_LEAKED"
expect_ge "kill switch, vpn-pre-down and client stopped: packets refused with EPERM" "$W_EPERM" 50
expect_ok "vpn-down after vpn-pre-down" nm_dispatch "$dev" vpn-down "${vpn_env[@]}"
expect_settings "after vpn-down" "enabled=true tunnels=- endpoints=$eps_vpn mark=0"
flood_stop

ks_step "where the VPN servers come from"
ksv_call Apply 'a{sv}' 2 Tunnels as 0 Endpoints 'a(sqs)' 0
cat >"$profiles/named.nmconnection" <<EOF
[connection]
id=named
uuid=0c7b8d3e-5f64-4a0e-8a7b-9e2d1c3b5a03
type=vpn

[vpn]
remote=vpn.example.com:1194:udp
service-type=org.freedesktop.NetworkManager.openvpn
EOF
named_env=(CONNECTION_ID=named CONNECTION_UUID=0c7b8d3e-5f64-4a0e-8a7b-9e2d1c3b5a03
    "CONNECTION_FILENAME=$profiles/named.nmconnection" DEVICE_IFACE=vethc DEVICE_IP_IFACE=vethc VPN_IP_IFACE=tun7)
before=$(ksv_settings)
expect_not "a profile with a host name: vpn-up fails" nm_dispatch tun7 vpn-up "${named_env[@]}"
expect_ok "it says why: $(head -c 150 "$NM_OUT")" grep -q 'not an address' "$NM_OUT"
expect_eq "nothing registered" "$(ksv_settings)" "$before"
expect_ok "the same with killswitchd.endpoints in the environment (NetworkManager 1.46+)" \
    nm_dispatch tun7 vpn-up "${named_env[@]}" \
    "CONNECTION_USER_KILLSWITCHD__ENDPOINTS=198.51.100.7:443:tcp, [2001:db8::7]:1194"
expect_settings "servers from CONNECTION_USER_KILLSWITCHD__ENDPOINTS" \
    "enabled=true tunnels=tun7 endpoints=198.51.100.7:443/tcp,[2001:db8::7]:1194/udp mark=0"
printf '\n[user]\nkillswitchd.endpoints=198.51.100.8:51820:udp\n' >>"$profiles/named.nmconnection"
expect_ok "the same with killswitchd.endpoints in the profile's [user] section" \
    nm_dispatch tun8 vpn-up "${named_env[@]}" VPN_IP_IFACE=tun8
expect_settings "servers from the [user] section" \
    "enabled=true tunnels=tun7,tun8 endpoints=198.51.100.7:443/tcp,198.51.100.8:51820/udp,[2001:db8::7]:1194/udp mark=0"
before=$(ksv_settings)
expect_not "a VPN without a profile or user data: vpn-up fails" nm_dispatch tun9 vpn-up CONNECTION_ID=bare \
    CONNECTION_UUID=0c7b8d3e-5f64-4a0e-8a7b-9e2d1c3b5a04 DEVICE_IFACE=vethc VPN_IP_IFACE=tun9
expect_ok "it says why: $(head -c 150 "$NM_OUT")" grep -q 'no VPN server address known' "$NM_OUT"
expect_not "killswitchd unreachable: vpn-up fails" nm_dispatch "$dev" vpn-up "${vpn_env[@]}" \
    DBUS_SYSTEM_BUS_ADDRESS="unix:path=$KS_TMP/no-bus"
expect_ok "it says why: $(head -c 150 "$NM_OUT")" grep -q 'cannot reach killswitchd' "$NM_OUT"
expect_eq "nothing changed by the failures" "$(ksv_settings)" "$before"

ks_finish

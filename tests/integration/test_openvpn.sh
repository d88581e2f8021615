#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# The OpenVPN hook (contrib/openvpn/killswitch-openvpn as --up and --down)
# with a real OpenVPN server (server namespace) and client (client
# namespace), TLS with a throwaway PKI, over UDP to the server's IPv6 address
# and over TCP to its IPv4 address, with a flood to the internet host running.
#
# For each: control, the hooks not configured and no kill switch: the client
# killed, or stopped, sends the flood in clear (packets leak).  With the
# hooks: the up script registers the tun device and the server
# (trusted_ip6/trusted_ip, trusted_port, proto_1), enables the kill switch;
# traffic flows through the tunnel and nothing leaks.  Client killed (kill
# -9): nothing leaks.  The client started again while everything is blocked
# reconnects (its server stayed registered).  Client stopped (down script):
# the tunnel is unregistered, the kill switch stays enabled, nothing leaks.
# The same stop for a client running as nobody, its down script run by
# OpenVPN's down-root plugin (--down).  An unreachable daemon: OpenVPN
# refuses to come up.  Then the script alone with OpenVPN's environment:
# the --remote list and the protocol names, --tunnel with a pattern, restart
# signals, host names.

set -euo pipefail
source "$(dirname "$0")/lib-vpn.sh"
vpn_init test_openvpn openvpn openssl
vpn_topology
vpn_counters_openvpn
ovpn_server_start udp
ovpn_server_start tcp
dev=${KS_ID}v
flood_start "$KS_CLI"

# phase udp|tcp REMOTE ENDPOINT-AS-SETTINGS-SHOW-IT ENDPOINTS-BEFORE
phase() {
    local proto=$1 remote=$2 ep=$3 before=$4 plain hooked eps
    plain=$KS_TMP/client-$proto-plain.conf
    hooked=$KS_TMP/client-$proto-hooks.conf
    ovpn_client_conf "$plain" "$proto" "$remote" nohooks
    ovpn_client_conf "$hooked" "$proto" "$remote" hooks
    eps=$(tr ' ' '\n' <<<"$before $ep" | sed '/^-\?$/d' | sort | paste -sd,)

    ks_step "$proto to $remote, control: no hooks, no kill switch"
    ksv_call Disable
    expect_ok "$proto control: client connects" ovpn_client_start "$plain"
    expect_ok "$proto control: traffic flows through the tunnel" ovpn_flows
    vpn_window "$proto control, tunnel up" 1 true
    expect_ge "$proto control, tunnel up: flood through the tunnel" "$W_TUN" 50
    vpn_window "$proto control, client killed" 1 ovpn_client_kill
    expect_ge "$proto control, client killed: packets leaked in clear" "$W_LEAKED" 10
    expect_ok "$proto control: client connects again" ovpn_client_start "$plain"
    expect_ok "$proto control: traffic flows through the tunnel" ovpn_flows
    vpn_window "$proto control, client stopped" 1 ovpn_client_stop
    expect_ge "$proto control, client stopped: packets leaked in clear" "$W_LEAKED" 10

    ks_step "$proto to $remote with the hooks"
    expect_ok "$proto: client connects, up script runs" ovpn_client_start "$hooked"
    grep -h 'killswitch-openvpn' "$OVPN_LOG" | sed 's/^[0-9: -]*/   /' || true
    expect_settings "$proto, after up" "enabled=true tunnels=$dev endpoints=$eps mark=0"
    expect_ok "$proto: traffic flows through the tunnel" ovpn_flows
    vpn_window "$proto kill switch, tunnel up" 1 true
    expect_ge "$proto kill switch, tunnel up: flood through the tunnel" "$W_TUN" 50
    expect_zero "$proto kill switch, tunnel up: packets leaked" "$W_LEAKED"
    vpn_window "$proto kill switch, client killed" 1 ovpn_client_kill
    expect_zero "$proto kill switch, client killed: packets leaked" "$W_LEAKED"
    expect_ge "$proto kill switch, client killed: packets refused with EPERM" "$W_EPERM" 50
    expect_settings "$proto, after the crash (no script ran)" "enabled=true tunnels=$dev endpoints=$eps mark=0"
    expect_ok "$proto: client reconnects while everything else is blocked" ovpn_client_start "$hooked"
    expect_ok "$proto: traffic flows through the tunnel again" ovpn_flows
    vpn_window "$proto kill switch, client stopped" 1 ovpn_client_stop
    grep -h 'killswitch-openvpn' "$OVPN_LOG" | tail -n 1 | sed 's/^[0-9: -]*/   /' || true
    expect_settings "$proto, after the down script" "enabled=true tunnels=- endpoints=$eps mark=0"
    expect_zero "$proto kill switch, client stopped: packets leaked" "$W_LEAKED"
    expect_ge "$proto kill switch, client stopped: packets refused with EPERM" "$W_EPERM" 50
}

phase udp "$KS_SRV_V6" "[$KS_SRV_V6]:$KS_OVPN_PORT/udp" -
phase tcp "$KS_SRV_V4" "$KS_SRV_V4:$KS_OVPN_PORT/tcp" "[$KS_SRV_V6]:$KS_OVPN_PORT/udp"

ks_step "user nobody: the down script through the down-root plugin (--down)"
eps="$KS_SRV_V4:$KS_OVPN_PORT/tcp,[$KS_SRV_V6]:$KS_OVPN_PORT/udp"
ovpn_client_conf "$KS_TMP/client-downroot.conf" udp "$KS_SRV_V6" downroot
expect_ok "the client connects, up script runs before dropping root" ovpn_client_start "$KS_TMP/client-downroot.conf"
expect_settings "after up" "enabled=true tunnels=$dev endpoints=$eps mark=0"
expect_ok "traffic flows through the tunnel" ovpn_flows
vpn_window "kill switch, unprivileged client stopped" 1 ovpn_client_stop
grep -h 'killswitch-openvpn' "$OVPN_LOG" | tail -n 1 | sed 's/^[0-9: -]*/   /' || true
expect_settings "after the down-root plugin ran the script" "enabled=true tunnels=- endpoints=$eps mark=0"
expect_zero "kill switch, unprivileged client stopped: packets leaked" "$W_LEAKED"
expect_ge "kill switch, unprivileged client stopped: packets refused with EPERM" "$W_EPERM" 50
flood_stop

ks_step "killswitchd unreachable: OpenVPN refuses to come up"
# To a registered server, so that the client gets as far as its up script.
DBUS_SYSTEM_BUS_ADDRESS=unix:path=$KS_TMP/no-bus ovpn_client_conf "$KS_TMP/client-nobus.conf" udp "$KS_SRV_V6" hooks
expect_not "the client does not complete its start" ovpn_client_start "$KS_TMP/client-nobus.conf"
expect_ok "it exits" wait_until 5 ks_pid_gone "$OVPN_PID"
expect_ok "its log says why: $(grep -m1 -o 'killswitch-openvpn: error: .\{0,80\}' "$OVPN_LOG" || true)" \
    grep -q 'cannot reach killswitchd' "$OVPN_LOG"
expect_ok "no tun device is left" ks_link_absent "$KS_CLI" "$dev"

ks_step "the script with OpenVPN's environment"
# ovpn_script VAR=VALUE... -- ARGS...: run the hook as OpenVPN does: nothing
# in the environment but OpenVPN's variables (and the test's bus).
ovpn_script() {
    local vars=()
    while [[ $1 != -- ]]; do vars+=("$1"); shift; done
    shift
    env -i DBUS_SYSTEM_BUS_ADDRESS="$DBUS_SYSTEM_BUS_ADDRESS" KILLSWITCHD_HOOK_STATE_DIR="$KILLSWITCHD_HOOK_STATE_DIR" \
        "${vars[@]}" "$KS_HOOK_OVPN" "$@" >"$KS_TMP/script.out" 2>&1
}
ksv_call Apply 'a{sv}' 2 Tunnels as 0 Endpoints 'a(sqs)' 0
expect_ok "up before connecting: every --remote that is an address, each with its port and protocol" \
    ovpn_script script_type=up dev=ksx0 script_context=init \
    remote_1=192.0.2.10 remote_port_1=443 proto_1=tcp4-client \
    remote_2=2001:db8::10 remote_port_2=1195 proto_2=udp6 \
    remote_3=vpn.example.com remote_port_3=1194 proto_3=udp \
    remote_4=192.0.2.11 remote_port_4=1196 proto_4=tcp -- ksx0 1500 0 10.8.0.2 255.255.255.0 init
sed 's/^/   /' "$KS_TMP/script.out"
expect_settings "--remote list" "enabled=true tunnels=ksx0 endpoints=192.0.2.10:443/tcp,192.0.2.11:1196/tcp,[2001:db8::10]:1195/udp mark=0"
expect_ok "the host name is reported" grep -q 'not registered (host names): vpn.example.com' "$KS_TMP/script.out"
expect_ok "up with --tunnel 'ksx*' and the connected server (trusted_ip, trusted_port)" \
    ovpn_script script_type=up dev=ksx1 trusted_ip=192.0.2.20 trusted_port=1190 proto_1=udp4 \
    remote_1=vpn.example.com remote_port_1=1194 -- --tunnel 'ksx*' ksx1 1500 0 10.8.0.2 255.255.255.0 init
expect_settings "--tunnel pattern" "enabled=true tunnels=ksx*,ksx0 endpoints=192.0.2.10:443/tcp,192.0.2.11:1196/tcp,192.0.2.20:1190/udp,[2001:db8::10]:1195/udp mark=0"
for proto in udp udp4 udp6 tcp tcp4 tcp6 tcp-client tcp4-client tcp6-client; do
    ovpn_script script_type=up dev=ksx2 trusted_ip6=2001:db8::2 trusted_port=2000 proto_1=$proto -- ksx2 || true
done
expect_settings "the nine protocol names" "enabled=true tunnels=ksx*,ksx0,ksx2 endpoints=192.0.2.10:443/tcp,192.0.2.11:1196/tcp,192.0.2.20:1190/udp,[2001:db8::10]:1195/udp,[2001:db8::2]:2000/tcp,[2001:db8::2]:2000/udp mark=0"
before=$(ksv_settings)
expect_ok "up twice: succeeds" ovpn_script script_type=up dev=ksx0 remote_1=192.0.2.10 remote_port_1=443 proto_1=tcp4-client -- ksx0
expect_eq "up twice: settings unchanged" "$(ksv_settings)" "$before"
for sig in sigusr1 sighup ping-restart connection-reset; do
    expect_ok "down on a restart ($sig) succeeds" ovpn_script script_type=down dev=ksx0 signal=$sig -- ksx0
done
expect_eq "down on restarts: the tunnel stays registered" "$(ksv_settings)" "$before"
expect_ok "down on exit (sigterm)" ovpn_script script_type=down dev=ksx0 signal=sigterm -- ksx0
expect_ok "down twice: succeeds" ovpn_script script_type=down dev=ksx0 signal=sigterm -- ksx0
expect_settings "down on exit: tunnel removed, servers and kill switch kept" "enabled=true tunnels=ksx*,ksx2 endpoints=192.0.2.10:443/tcp,192.0.2.11:1196/tcp,192.0.2.20:1190/udp,[2001:db8::10]:1195/udp,[2001:db8::2]:2000/tcp,[2001:db8::2]:2000/udp mark=0"
before=$(ksv_settings)
expect_not "up with only a host name before connecting fails" \
    ovpn_script script_type=up dev=ksx3 remote_1=vpn.example.com remote_port_1=1194 proto_1=udp -- ksx3
expect_ok "it says why: $(head -c 150 "$KS_TMP/script.out")" grep -q 'host name' "$KS_TMP/script.out"
expect_not "an unknown protocol fails" ovpn_script script_type=up dev=ksx3 trusted_ip=192.0.2.30 proto_1=sctp -- ksx3
expect_eq "nothing changed by the failures" "$(ksv_settings)" "$before"
expect_not "run outside OpenVPN (no script_type) fails" ovpn_script -- ksx3

ks_finish

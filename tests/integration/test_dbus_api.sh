#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# The D-Bus API v1 (docs/dbus-api.md), served in full by the real daemon in
# the client namespace, configured only through the bus with busctl:
# introspection (members, signatures, writable and change-signal flags),
# every method and its effect in the kernel's table and in settings.conf,
# every property, every signal (PropertiesChanged after the method's reply,
# TunnelChanged with a real wireguard-go tunnel, NetworkChanged, Tampered
# under --protection=monitor) and every error (NotFound, InvalidArgs,
# LimitExceeded with 33 tunnels and 65537 endpoints, Kernel when another
# process owns a table of the same name).

source "$(dirname "$0")/lib-bus.sh"
ks_bus_init test_dbus_api
topo_create
tunnel_up
tunnel_flows || ks_die "the tunnel does not carry traffic"
tun=$KS_WG_CLI
state=$KS_TMP/state
start_bus_daemon "$KS_CLI" "$state"
mon_start

# state_has LINE...: the settings saved in settings.conf have every line.
state_has() {
    local line saved
    saved=$(state_lines "$state") || return 1
    for line in "$@"; do grep -qxF -- "$line" <<<"$saved" || return 1; done
}
expect_state() { expect_ok "$1: settings.conf has: ${*:2}" state_has "${@:2}"; }
has_element() { local e; e=$(set_elements "$KS_CLI" "$1") && grep -qxF -- "$2" <<<"$e"; }
lacks_element() { local e; e=$(set_elements "$KS_CLI" "$1") && ! grep -qxF -- "$2" <<<"$e"; }
# nft_lists NS WHAT PATTERN: `nft list WHAT` in NS has a line matching PATTERN.
# shellcheck disable=SC2086 # WHAT is words
nft_lists() { local out; out=$(in_ns "$1" nft list $2) && grep -qE -- "$3" <<<"$out"; }
tunnels_set_has() { nft_lists "$KS_CLI" "set inet killswitchd tunnels" "\"$1\""; }

# --------------------------------------------------------------------------
ks_step "introspection: exactly the contract's members, and documented additions"

expect_introspection "busctl introspect $KS_BUS_IFACE" "
method Enable in= out=
method Disable in= out=
method Apply in=a{sv}:* out=
method GetSettings in= out=a{sv}:*
method AddEndpoint in=s:address,q:port,s:protocol out=
method RemoveEndpoint in=s:address,q:port,s:protocol out=
method AddTunnel in=s:name out=
method RemoveTunnel in=s:name out=
method AddExemptCgroup in=s:path out=
method RemoveExemptCgroup in=s:path out=
property Enabled b read emits=true
property Persistent b readwrite emits=true
property Tunnels as read emits=true
property Endpoints a(sqs) read emits=invalidates
property EndpointMark u read emits=true
property AllowLan b readwrite emits=true
property AllowDhcp b readwrite emits=true
property EndpointAnyUser b readwrite emits=true
property Scope s read emits=true
property ExemptCgroups as read emits=true
property ScopedCgroups as read emits=true
property PresentCgroups as read emits=true
property TunnelUp b read emits=true
property ActiveTunnels as read emits=true
property LanSubnets as read emits=true
property BlockedPackets t read emits=false
property Protection s read emits=true
property Version s read emits=const
signal TunnelChanged s:name,b:up
signal NetworkChanged s:interface
signal Tampered s:what"
bus_do introspect
ks_log "$(sed 's/^/   /' <<<"$BUS_OUT")"

# --------------------------------------------------------------------------
ks_step "defaults"

expect_eq "GetSettings: the 7 keys and the additions with their defaults" "$(settings_json)" \
    '{"AllowDhcp":true,"AllowLan":false,"Enabled":false,"EndpointAnyUser":false,"EndpointMark":0,"Endpoints":[],"ExemptCgroups":[],"Persistent":false,"Scope":"system","ScopedCgroups":[],"Tunnels":[]}'
for p in Enabled:false Persistent:false Tunnels:[] Endpoints:[] EndpointMark:0 AllowLan:false \
         AllowDhcp:true TunnelUp:false ActiveTunnels:[] LanSubnets:[] BlockedPackets:0 \
         PresentCgroups:[] 'Protection:"none"'; do
    expect_prop "${p%%:*}" "${p#*:}"
done
version=$(prop Version)
expect_ok "Version is a non-empty string (got $version)" test "${#version}" -gt 2
expect_not "no table before Enable" table_present "$KS_CLI"

# --------------------------------------------------------------------------
ks_step "Enable and Disable"

bus_do call Enable
expect_eq "Enable" "$BUS_RC" 0
expect_changed "Enable" Enabled=true 'Protection="owner"'
expect_ok "Enable: table inet killswitchd in the kernel" table_present "$KS_CLI"
expect_eq "Enable: table flags owner|persist (netlink)" "$(table_flags "$KS_CLI")" $((KS_TABLE_F_OWNER | KS_TABLE_F_PERSIST))
expect_ok "Enable: nft shows the owner flag" nft_lists "$KS_CLI" "table inet killswitchd" "flags owner"
expect_prop Enabled true
expect_prop Protection '"owner"'
expect_state "Enable" Enabled=true
handle=$(table_handle "$KS_CLI")
mon_mark
expect_bus_ok "Enable again (idempotent)" call Enable
expect_eq "Enable again: the table was not rebuilt (same handle)" "$(table_handle "$KS_CLI")" "$handle"
expect_quiet "Enable again"

bus_do call Disable
expect_eq "Disable" "$BUS_RC" 0
expect_changed "Disable" Enabled=false 'Protection="none"'
expect_not "Disable: nft list table inet killswitchd fails" table_present "$KS_CLI"
expect_prop Protection '"none"'
expect_prop BlockedPackets 0
expect_state "Disable" Enabled=false
mon_mark
expect_bus_ok "Disable again (idempotent)" call Disable
expect_not "Disable again: still no table" table_present "$KS_CLI"
expect_quiet "Disable again"

bus_do call Enable
expect_ok "Enable after Disable re-creates the table" table_present "$KS_CLI"
expect_eq "re-created with owner|persist" "$(table_flags "$KS_CLI")" $((KS_TABLE_F_OWNER | KS_TABLE_F_PERSIST))
bus_do call Disable

# --------------------------------------------------------------------------
ks_step "Apply with every key"

mon_mark
bus_do call Apply 'a{sv}' 7 \
    Enabled b true \
    Persistent b true \
    Tunnels as 2 "$tun" 'tun*' \
    Endpoints 'a(sqs)' 3 "$KS_SRV_V4" "$KS_WG_PORT" udp "$KS_SRV_V6" "$KS_WG_PORT" udp 198.51.100.7 443 tcp \
    EndpointMark u 4660 \
    AllowLan b true \
    AllowDhcp b false
expect_eq "Apply (7 keys)" "$BUS_RC:$BUS_ERR_MSG" "0:"
expect_eq "GetSettings matches Apply" "$(settings_json)" \
    "{\"AllowDhcp\":false,\"AllowLan\":true,\"Enabled\":true,\"EndpointAnyUser\":false,\"EndpointMark\":4660,\"Endpoints\":[[\"$KS_SRV_V4\",$KS_WG_PORT,\"udp\"],[\"198.51.100.7\",443,\"tcp\"],[\"$KS_SRV_V6\",$KS_WG_PORT,\"udp\"]],\"ExemptCgroups\":[],\"Persistent\":true,\"Scope\":\"system\",\"ScopedCgroups\":[],\"Tunnels\":[\"$tun\",\"tun*\"]}"
expect_changed "Apply" Enabled=true Persistent=true "Tunnels=[\"$tun\",\"tun*\"]" -Endpoints \
    EndpointMark=4660 AllowLan=true AllowDhcp=false 'Protection="owner"' TunnelUp=true \
    "ActiveTunnels=[\"$tun\"]" LanSubnets
expect_signal "Apply: $tun now matches Tunnels" TunnelChanged "[\"$tun\",true]"
expect_prop Persistent true
expect_prop Tunnels "[\"$tun\",\"tun*\"]"
expect_prop EndpointMark 4660
expect_prop AllowLan true
expect_prop AllowDhcp false
expect_prop TunnelUp true
expect_prop ActiveTunnels "[\"$tun\"]"
lan=$(prop LanSubnets)
expect_ok "LanSubnets lists the veth's subnet 10.200.0.0/24 (got $lan)" grep -qF '"10.200.0.0/24"' <<<"$lan"
expect_not "LanSubnets leaves out the tunnel's subnet" grep -qF '"10.201.0.0/24"' <<<"$lan"
expect_eq "Endpoints property (sorted)" \
    "$(prop Endpoints | "$KS_PY" -c 'import json,sys; print(json.dumps(sorted(json.load(sys.stdin)), separators=(",", ":")))')" \
    "[[\"$KS_SRV_V4\",$KS_WG_PORT,\"udp\"],[\"198.51.100.7\",443,\"tcp\"],[\"$KS_SRV_V6\",$KS_WG_PORT,\"udp\"]]"
expect_ok "the table: endpoints4 has $KS_SRV_V4 . udp . $KS_WG_PORT" has_element endpoints4 "$KS_SRV_V4 . udp . $KS_WG_PORT"
expect_ok "the table: endpoints4 has 198.51.100.7 . tcp . 443" has_element endpoints4 "198.51.100.7 . tcp . 443"
expect_ok "the table: endpoints6 has $KS_SRV_V6 . udp . $KS_WG_PORT" has_element endpoints6 "$KS_SRV_V6 . udp . $KS_WG_PORT"
expect_ok "the table: tunnels has $tun" tunnels_set_has "$tun"
expect_ok "the table: packets to an endpoint must carry mark 4660" \
    nft_lists "$KS_CLI" "chain inet killswitchd endpoint_out" "meta mark != 0x00001234"
expect_state "Apply" Enabled=true Persistent=true AllowLan=true AllowDhcp=false EndpointMark=4660 \
    "Tunnel=$tun" "Tunnel=tun*" "Endpoint=$KS_SRV_V4 $KS_WG_PORT udp" "Endpoint=$KS_SRV_V6 $KS_WG_PORT udp" \
    "Endpoint=198.51.100.7 443 tcp"
# EndpointMark holds even though the endpoint lies in the LAN: WireGuard must mark its packets.
expect_not "the tunnel is cut off without the mark (AllowLan does not reopen the endpoint)" \
    tunnel_flows 2
tunnel_set_fwmark 4660
expect_ok "the tunnel flows under the kill switch with fwmark 4660" tunnel_flows

ks_step "Apply with a subset of the keys"

before=$(settings_json)
bus_do call Apply 'a{sv}' 2 AllowLan b false EndpointMark u 0
expect_eq "Apply (AllowLan, EndpointMark)" "$BUS_RC:$BUS_ERR_MSG" "0:"
expect_eq "GetSettings: those two changed, the rest kept" "$(settings_json)" \
    "$(sed -e 's/"AllowLan":true/"AllowLan":false/' -e 's/"EndpointMark":4660/"EndpointMark":0/' <<<"$before")"
expect_changed "Apply subset" AllowLan=false EndpointMark=0 LanSubnets=[] '!Tunnels' '!Endpoints' '!Enabled'
expect_state "Apply subset" AllowLan=false EndpointMark=0 Persistent=true "Tunnel=$tun"
mon_mark
expect_bus_ok "Apply with no key" call Apply 'a{sv}' 0
expect_eq "Apply with no key: settings kept" "$(settings_json)" \
    "$(sed -e 's/"AllowLan":true/"AllowLan":false/' -e 's/"EndpointMark":4660/"EndpointMark":0/' <<<"$before")"
expect_quiet "Apply with no key"

# --------------------------------------------------------------------------
ks_step "AddEndpoint and RemoveEndpoint"

handle=$(table_handle "$KS_CLI")
for ep in "192.0.2.10 1194 udp endpoints4" "2001:db8::10 443 tcp endpoints6"; do
    read -r addr port proto set <<<"$ep"
    element="$addr . $proto . $port"
    bus_do call AddEndpoint sqs "$addr" "$port" "$proto"
    expect_eq "AddEndpoint $addr $port $proto" "$BUS_RC:$BUS_ERR_MSG" "0:"
    expect_changed "AddEndpoint $addr" -Endpoints '!Tunnels'
    expect_ok "AddEndpoint: $set has $element" has_element "$set" "$element"
    expect_ok "AddEndpoint: Endpoints lists it" eval "prop Endpoints | grep -F '[\"$addr\",$port,\"$proto\"]' >/dev/null"
    expect_state "AddEndpoint $addr" "Endpoint=$addr $port $proto"
    snapshot "$KS_CLI" "$state"
    expect_bus_ok "AddEndpoint $addr again (duplicates collapse)" call AddEndpoint sqs "$addr" "$port" "$proto"
    expect_unchanged "AddEndpoint $addr again"
    bus_do call RemoveEndpoint sqs "$addr" "$port" "$proto"
    expect_eq "RemoveEndpoint $addr $port $proto" "$BUS_RC:$BUS_ERR_MSG" "0:"
    expect_changed "RemoveEndpoint $addr" -Endpoints
    expect_ok "RemoveEndpoint: $set lacks $element" lacks_element "$set" "$element"
    expect_not "RemoveEndpoint: gone from settings.conf" state_has "Endpoint=$addr $port $proto"
    snapshot "$KS_CLI" "$state"
    expect_bus_error "RemoveEndpoint $addr (absent)" "$KS_E_NOT_FOUND" "Endpoints|$addr" \
        call RemoveEndpoint sqs "$addr" "$port" "$proto"
    expect_unchanged "RemoveEndpoint of an absent endpoint"
done
expect_eq "endpoints changed element by element (table handle kept)" "$(table_handle "$KS_CLI")" "$handle"

# --------------------------------------------------------------------------
ks_step "per-application rules: ExemptCgroups, Scope, ScopedCgroups (docs/per-app.md)"
mon_mark
bus_do call AddExemptCgroup s app.slice/game.scope
expect_eq "AddExemptCgroup" "$BUS_RC:$BUS_ERR_MSG" "0:"
expect_changed "AddExemptCgroup" 'ExemptCgroups=["app.slice/game.scope"]' '!Tunnels' '!Scope'
expect_state "AddExemptCgroup" ExemptCgroup=app.slice/game.scope
expect_ok "the table: output looks up the exempt cgroups at level 2" \
    nft_lists "$KS_CLI" "chain inet killswitchd output" "socket cgroupv2 level 2 @exempt_cgroups"
expect_bus_ok "AddExemptCgroup again" call AddExemptCgroup s app.slice/game.scope
expect_bus_error "RemoveExemptCgroup of an absent path" "$KS_E_NOT_FOUND" 'ExemptCgroups|other' \
    call RemoveExemptCgroup s other.slice
bus_do call RemoveExemptCgroup s app.slice/game.scope
expect_eq "RemoveExemptCgroup" "$BUS_RC:$BUS_ERR_MSG" "0:"
expect_prop ExemptCgroups "[]"
expect_not "RemoveExemptCgroup: gone from settings.conf" state_has ExemptCgroup=app.slice/game.scope
mon_mark
expect_bus_ok "Apply Scope=cgroups" call Apply 'a{sv}' 2 Scope s cgroups ScopedCgroups as 1 torrent.slice
expect_changed "Apply Scope" 'Scope="cgroups"' 'ScopedCgroups=["torrent.slice"]' '!Tunnels'
expect_state "Apply Scope" Scope=cgroups ScopedCgroup=torrent.slice
expect_not "Scope=cgroups: no input chain, the rest of the machine untouched" \
    nft_lists "$KS_CLI" "table inet killswitchd" "hook input"
expect_bus_ok "Apply Scope=system" call Apply 'a{sv}' 2 Scope s system ScopedCgroups as 0
expect_prop Scope '"system"'
expect_ok "Scope=system: the input chain is back" \
    nft_lists "$KS_CLI" "table inet killswitchd" "hook input"

ks_step "AddTunnel and RemoveTunnel"

bus_do call AddTunnel s vpn9
expect_eq "AddTunnel vpn9" "$BUS_RC:$BUS_ERR_MSG" "0:"
expect_changed "AddTunnel" "Tunnels=[\"$tun\",\"tun*\",\"vpn9\"]"
expect_prop Tunnels "[\"$tun\",\"tun*\",\"vpn9\"]"
expect_ok "AddTunnel: the tunnels set has vpn9" tunnels_set_has vpn9
expect_state "AddTunnel" Tunnel=vpn9
snapshot "$KS_CLI" "$state"
expect_bus_ok "AddTunnel vpn9 again" call AddTunnel s vpn9
expect_unchanged "AddTunnel again"
bus_do call RemoveTunnel s vpn9
expect_eq "RemoveTunnel vpn9" "$BUS_RC:$BUS_ERR_MSG" "0:"
expect_changed "RemoveTunnel" "Tunnels=[\"$tun\",\"tun*\"]"
expect_not "RemoveTunnel: the tunnels set lacks vpn9" tunnels_set_has vpn9
expect_not "RemoveTunnel: gone from settings.conf" state_has Tunnel=vpn9
snapshot "$KS_CLI" "$state"
expect_bus_error "RemoveTunnel vpn9 (absent)" "$KS_E_NOT_FOUND" 'Tunnels|vpn9' call RemoveTunnel s vpn9
expect_unchanged "RemoveTunnel of an absent tunnel"

# --------------------------------------------------------------------------
ks_step "property writes: Persistent, AllowLan, AllowDhcp"

for w in Persistent:false AllowLan:true AllowDhcp:true Persistent:true AllowLan:false AllowDhcp:false; do
    p=${w%%:*} v=${w#*:}
    bus_do set "$p" b "$v"
    expect_eq "set-property $p $v" "$BUS_RC:$BUS_ERR_MSG" "0:"
    expect_changed "set-property $p $v" "$p=$v"
    expect_prop "$p" "$v"
    expect_state "set-property $p $v" "$p=$v"
done
for p in Enabled:b:false Tunnels:as:0 Endpoints:'a(sqs)':0 EndpointMark:u:1 TunnelUp:b:false \
         ActiveTunnels:as:0 LanSubnets:as:0 PresentCgroups:as:0 BlockedPackets:t:0 Protection:s:none \
         Version:s:9; do
    IFS=: read -r name sig val <<<"$p"
    snapshot "$KS_CLI" "$state"
    # shellcheck disable=SC2086 # an empty array is the one word "0"
    expect_bus_error "set-property $name (read-only)" org.freedesktop.DBus.Error.PropertyReadOnly "" \
        set "$name" "$sig" $val
    expect_unchanged "set-property $name"
done

# --------------------------------------------------------------------------
ks_step "BlockedPackets counts drops"

before=$(prop BlockedPackets)
probe "$KS_CLI" udp 198.51.100.99 9 --count 5 --timeout 0.1
expect_eq "5 probes to a blocked address refused (EPERM)" "$PROBE_EPERM" 5
expect_ge "BlockedPackets grew by the 5 drops (was $before)" "$(prop BlockedPackets)" $((before + 5))

# --------------------------------------------------------------------------
ks_step "TunnelChanged, TunnelUp, ActiveTunnels follow the real tunnel"

# tunnel_event DESC ACTION UP: ACTION changes the tunnel; the signal and the
# properties must follow.
tunnel_event() {
    local desc=$1 action=$2 up=$3 active wait=3 failures=$KS_FAILURES
    [[ $up == true ]] && active="[\"$tun\"]" || active='[]'
    mon_mark
    "$action"
    expect_signal "$desc" TunnelChanged "[\"$tun\",$up]"
    ((KS_FAILURES == failures)) || wait=0
    expect_changed_since "$desc" "TunnelUp=$up" "ActiveTunnels=$active"
    wait_prop TunnelUp "$up" "$wait"
    wait_prop ActiveTunnels "$active" "$wait"
}
tunnel_event "wireguard-go killed" tunnel_kill false
tunnel_event "wireguard-go restarted" tunnel_up true
# The same interface name again, now with another index.
tunnel_event "wireguard-go killed again" tunnel_kill false
tunnel_event "wireguard-go restarted again" tunnel_up true
tunnel_event "link set down" tunnel_down false
tunnel_event "link set up" tunnel_up_link true
expect_ok "the tunnel flows again" tunnel_flows

# --------------------------------------------------------------------------
ks_step "NetworkChanged follows the default route outside the tunnel"

mon_mark
ip -n "$KS_CLI" route del default
ip -n "$KS_CLI" -6 route del default
expect_signal "default routes removed" NetworkChanged '[""]'
mon_mark
ip -n "$KS_CLI" route add default via "$KS_SRV_V4" dev vethc
ip -n "$KS_CLI" -6 route add default via "$KS_SRV_V6" dev vethc
expect_signal "default route back on vethc" NetworkChanged '["vethc"]'

# --------------------------------------------------------------------------
ks_step "InvalidArgs (every argument: test_dbus_bad_input)"

snapshot "$KS_CLI" "$state"
expect_bus_error "AddEndpoint with a host name" "$KS_E_INVALID" 'Endpoints|vpn.example.com' \
    call AddEndpoint sqs vpn.example.com 51820 udp
expect_bus_error "Apply with an unknown key" "$KS_E_INVALID" 'Frobnicate' \
    call Apply 'a{sv}' 1 Frobnicate b true
expect_unchanged "InvalidArgs"

# --------------------------------------------------------------------------
ks_step "Kernel: another process owns a table of the same name"

expect_bus_ok "Disable" call Disable
hold_table_start "$KS_CLI"
snapshot "$KS_CLI" "$state"
expect_bus_error "Enable while another process owns table inet killswitchd" "$KS_E_KERNEL" "" call Enable
expect_unchanged "refused by the kernel"
expect_prop Enabled false
expect_prop Protection '"none"'
hold_table_stop
expect_not "the other process's table went with it" table_present "$KS_CLI"
expect_bus_ok "Enable once it is gone" call Enable
expect_prop Protection '"owner"'

# --------------------------------------------------------------------------
ks_step "Tampered under --protection=monitor"

stop_daemon "$KS_DAEMON_PID"
start_bus_daemon "$KS_CLI" "$state" --protection=monitor
expect_prop Protection '"monitor"'
expect_eq "monitor mode: an unowned table (flags 0)" "$(table_flags "$KS_CLI")" 0
form=$(table_form "$KS_CLI")
restored() { [[ $(table_form "$KS_CLI") == "$form" ]]; }
tamper() {   # DESC WHAT NFT-ARGS...
    local desc=$1 what=$2; shift 2
    mon_mark
    expect_ok "$desc: another process may (monitor mode)" nft_other "$KS_CLI" "$@"
    expect_signal "$desc" Tampered "$what"
    wait_until 5 restored || true
    expect_same_table "$desc: the table is restored (nft -j, handles aside)" "$form" "$(table_form "$KS_CLI")"
}
rule=$(in_ns "$KS_CLI" nft -a list chain inet killswitchd output | sed -n 's/.*jump allow_egress.* handle \([0-9]*\)$/\1/p')
tamper "nft delete rule (output's jump)" '["rule deleted from chain output"]' \
    delete rule inet killswitchd output handle "$rule"
tamper "nft flush chain allow_egress" null flush chain inet killswitchd allow_egress
tamper "nft delete table" '["table deleted"]' delete table inet killswitchd
expect_ok "the daemon logged the culprit" grep -q 'changed by pid' "$KS_DAEMON_LOG"
expect_prop Protection '"monitor"'
expect_ok "the tunnel flows after the restores" tunnel_flows

# --------------------------------------------------------------------------
ks_step "LimitExceeded: 33 tunnels, 65537 endpoints (the default protection again)"

stop_daemon "$KS_DAEMON_PID"
start_bus_daemon "$KS_CLI" "$state"
expect_prop Protection '"owner"'

mapfile -t names < <(seq -f 'lim%g' 1 33)
snapshot "$KS_CLI" "$state"
expect_bus_error "Apply with 33 tunnels" "$KS_E_LIMIT" 'Tunnels|32' call Apply 'a{sv}' 1 Tunnels as 33 "${names[@]}"
expect_unchanged "33 tunnels"
expect_bus_ok "Apply with 32 tunnels" call Apply 'a{sv}' 1 Tunnels as 32 "${names[@]:0:31}" "$tun"
expect_bus_error "AddTunnel of a 33rd" "$KS_E_LIMIT" 'Tunnels|32' call AddTunnel s lim33
expect_bus_ok "back to 2 tunnels" call Apply 'a{sv}' 1 Tunnels as 2 "$tun" 'tun*'

endpoint_args 65537 "$KS_WG_PORT"
snapshot "$KS_CLI" "$state"
t0=$(now_ms)
expect_bus_error "Apply with 65537 endpoints" "$KS_E_LIMIT" 'Endpoints|65536' \
    call --timeout=30 Apply 'a{sv}' 1 Endpoints 'a(sqs)' 65537 "${KS_EP_ARGS[@]}"
ks_log "   refused in $(($(now_ms) - t0)) ms"
expect_unchanged "65537 endpoints"

# The largest set: 65536 (one from the call above left out), plus the VPN's own.
KS_EP_ARGS=("${KS_EP_ARGS[@]:0:$((65535 * 3))}" "$KS_SRV_V4" "$KS_WG_PORT" udp)
t0=$(now_ms)
bus_do call --timeout=30 Apply 'a{sv}' 1 Endpoints 'a(sqs)' 65536 "${KS_EP_ARGS[@]}"
t_apply=$(($(now_ms) - t0))
expect_eq "Apply with 65536 endpoints ($t_apply ms)" "$BUS_RC:$BUS_ERR_MSG" "0:"
expect_eq "Endpoints has 65536 entries" "$(prop Endpoints | "$KS_PY" -c 'import json,sys; print(len(json.load(sys.stdin)))')" 65536
expect_eq "settings.conf has 65536 endpoints" "$(state_lines "$state" | grep -c '^Endpoint=')" 65536
# The daemon's own commit of 65536 elements is no tampering: left alone,
# the table stays as it is.
mon_mark
sleep 2
expect_no_signal "65536 endpoints, nobody touching the table for 2 s" Tampered
handle=$(table_handle "$KS_CLI" || true)
elements=$(set_elements "$KS_CLI" endpoints4 || true)
expect_eq "endpoints4 has 65536 elements" "$(count_lines "$elements")" 65536
expect_bus_error "AddEndpoint beyond 65536" "$KS_E_LIMIT" 'Endpoints|65536' call AddEndpoint sqs 192.0.2.77 1 udp
t0=$(now_ms)
bus_do call RemoveEndpoint sqs 10.64.0.7 "$KS_WG_PORT" udp
t_remove=$(($(now_ms) - t0))
expect_eq "RemoveEndpoint from 65536 ($t_remove ms)" "$BUS_RC:$BUS_ERR_MSG" "0:"
t0=$(now_ms)
bus_do call AddEndpoint sqs 192.0.2.77 1 udp
t_add=$(($(now_ms) - t0))
expect_eq "AddEndpoint to 65535 ($t_add ms)" "$BUS_RC:$BUS_ERR_MSG" "0:"
ks_log "   65536 endpoints: Apply $t_apply ms, RemoveEndpoint $t_remove ms, AddEndpoint $t_add ms"
elements=$(set_elements "$KS_CLI" endpoints4 || true)
expect_ok "the added endpoint is in endpoints4" grep -qxF "192.0.2.77 . udp . 1" <<<"$elements"
expect_not "the removed endpoint left endpoints4" grep -qxF "10.64.0.7 . udp . $KS_WG_PORT" <<<"$elements"
expect_eq "one element each, not a rebuild (table handle kept)" "$(table_handle "$KS_CLI" || true)" "$handle"
expect_ok "the tunnel flows with 65536 endpoints" tunnel_flows
expect_bus_ok "back to one endpoint" call Apply 'a{sv}' 1 Endpoints 'a(sqs)' 1 "$KS_SRV_V4" "$KS_WG_PORT" udp
unset KS_EP_ARGS

# --------------------------------------------------------------------------
ks_step "signals that must never carry a change"

expect_no_change_signal "BlockedPackets (read on demand) and Version (const) never in PropertiesChanged" \
    BlockedPackets Version

ks_finish

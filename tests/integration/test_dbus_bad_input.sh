#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Bad input to every argument of the D-Bus API, sent with busctl to the real
# daemon: addresses, ports, protocols, tunnel names, Apply's keys, variant
# types and duplicates, method and property signatures.  Each is refused
# with the contract's error name (InvalidArgs, LimitExceeded, NotFound) and
# a message naming the field and the value; the daemon keeps serving, and
# the kernel's table (nft -j, counters aside, handles included) and
# settings.conf (byte for byte) are exactly as before.

source "$(dirname "$0")/lib-bus.sh"
ks_bus_init test_dbus_bad_input
netns_client
state=$KS_TMP/state
start_bus_daemon "$KS_CLI" "$state"

# The state every refusal must leave alone: enabled, a tunnel, endpoints of
# both families, LAN and DHCP on.
bus_do call Apply 'a{sv}' 6 Enabled b true Tunnels as 2 wg0 'tun*' \
    Endpoints 'a(sqs)' 2 198.51.100.7 51820 udp 2001:db8::7 443 tcp EndpointMark u 0 \
    AllowLan b true AllowDhcp b true
[[ $BUS_RC == 0 ]] || ks_die "Apply of the initial settings: $BUS_ERR_NAME $BUS_ERR_MSG"
table_present "$KS_CLI" || ks_die "no table after Apply"
settings0=$(settings_json)

# refused DESC ERROR-NAME NEEDLES VERB ARGS...: the error, then the daemon
# still serves and nothing changed.  Every refusal is compared with the one
# snapshot taken here (a new one only after a change, so that one change
# fails one check).
snapshot "$KS_CLI" "$state"
refused() {
    local desc=$1
    expect_bus_error "$@"
    after_refusal "$desc"
}
after_refusal() {
    local failures=$KS_FAILURES
    bus_do get Version
    if ((BUS_RC == 0)); then ks_pass "$1: the daemon still serves (Get Version)"; else ks_fail "$1: the daemon does not answer: $BUS_ERR_MSG"; fi
    expect_unchanged "$1"
    ((KS_FAILURES == failures)) || snapshot "$KS_CLI" "$state"
}

I=$KS_E_INVALID
long_addr=$(printf '1%.0s' {1..300})
long_name=$(printf 'x%.0s' {1..40})

# --------------------------------------------------------------------------
ks_step "addresses"

for a in vpn.example.com 10.1 ::ffff:1.2.3.4 '' 1.2.3.4/32 1.2.3.256 ' 1.2.3.4' '1.2.3.4 ' \
         0.0.0.0 255.255.255.255 224.0.0.1 :: ff02::1 fe80::1%eth0 '[2001:db8::1]' 0x7f000001; do
    refused "AddEndpoint address \"$a\"" "$I" "address|\"$a\"" call AddEndpoint sqs "$a" 51820 udp
done
refused "AddEndpoint address of 300 bytes" "$I" "address|\"${long_addr:0:64}" \
    call AddEndpoint sqs "$long_addr" 51820 udp
for a in 10.1 '' ::ffff:198.51.100.7; do
    refused "RemoveEndpoint address \"$a\" (invalid, not NotFound)" "$I" "address|\"$a\"" \
        call RemoveEndpoint sqs "$a" 51820 udp
done
for a in vpn.example.com 1.2.3.4/32 ::ffff:1.2.3.4; do
    refused "Apply Endpoints with address \"$a\" beside a good one" "$I" "Endpoints|\"$a\"" \
        call Apply 'a{sv}' 1 Endpoints 'a(sqs)' 2 192.0.2.1 1 udp "$a" 51820 udp
done

# --------------------------------------------------------------------------
ks_step "ports"

refused "AddEndpoint port 0" "$I" "port|0" call AddEndpoint sqs 192.0.2.1 0 udp
refused "RemoveEndpoint port 0" "$I" "port|0" call RemoveEndpoint sqs 198.51.100.7 0 udp
refused "Apply Endpoints with port 0" "$I" "port|0" call Apply 'a{sv}' 1 Endpoints 'a(sqs)' 1 192.0.2.1 0 udp
# 65536 is no uint16 (q): busctl cannot even build the call.
for p in 65536 70000 5x; do
    bus_do call AddEndpoint sqs 192.0.2.1 "$p" udp
    if ((BUS_RC != 0)) && [[ -z $BUS_ERR_NAME ]]; then
        ks_pass "AddEndpoint port $p: busctl refuses to build it ($BUS_ERR_MSG)"
    else
        ks_fail "AddEndpoint port $p: want busctl to refuse, got rc $BUS_RC ${BUS_ERR_NAME:-}"
    fi
    after_refusal "port $p"
done

# --------------------------------------------------------------------------
ks_step "protocols"

for p in icmp UDP '' sctp 'udp ' udplite; do
    refused "AddEndpoint protocol \"$p\"" "$I" "protocol|\"$p\"" call AddEndpoint sqs 192.0.2.1 51820 "$p"
done
refused "RemoveEndpoint protocol \"icmp\"" "$I" 'protocol|"icmp"' call RemoveEndpoint sqs 198.51.100.7 51820 icmp
refused "Apply Endpoints with protocol \"icmp\"" "$I" 'protocol|"icmp"' \
    call Apply 'a{sv}' 1 Endpoints 'a(sqs)' 1 192.0.2.1 51820 icmp

# --------------------------------------------------------------------------
ks_step "tunnel names"

for n in wg/0 '*' 'a b' '' abcdefghijklmnop a:b 'tun*x' '**' . .. $'wg\t0' 'wg0é' "$long_name"; do
    # The message quotes at most 32 bytes; an empty name is called empty.
    shown=\"${n:0:32}
    [[ -n $n ]] || shown=empty
    refused "AddTunnel \"$n\"" "$I" "Tunnels|$shown" call AddTunnel s "$n"
done
for n in wg/0 '*' abcdefghijklmnop; do
    refused "RemoveTunnel \"$n\" (invalid, not NotFound)" "$I" "Tunnels|\"$n\"" call RemoveTunnel s "$n"
done
for n in wg/0 '*' 'a b' abcdefghijklmnop; do
    refused "Apply Tunnels with \"$n\" beside a good one" "$I" "Tunnels|\"$n\"" \
        call Apply 'a{sv}' 1 Tunnels as 2 wg1 "$n"
done

# --------------------------------------------------------------------------
ks_step "Apply: keys, types, duplicates"

refused "Apply unknown key" "$I" '"Frobnicate"' call Apply 'a{sv}' 1 Frobnicate b true
refused "Apply unknown key beside good ones" "$I" '"Frobnicate"' \
    call Apply 'a{sv}' 2 AllowLan b false Frobnicate b true
refused "Apply key in the wrong case" "$I" '"enabled"' call Apply 'a{sv}' 1 enabled b false
refused "Apply empty key" "$I" '""' call Apply 'a{sv}' 1 '' b false
for t in "Enabled s true" "Enabled i 0" "Persistent s false" "AllowLan u 1" "AllowDhcp s true" \
         "EndpointMark i 5" "EndpointMark t 5" "EndpointMark q 5" "Tunnels s wg1" \
         "Tunnels a(s) 1 wg1"; do
    read -r key sig val rest <<<"$t"
    want=$(case $key in Tunnels) echo as ;; EndpointMark) echo u ;; *) echo b ;; esac)
    # shellcheck disable=SC2086 # the value's words
    refused "Apply $key as $sig" "$I" "$key|$want|$sig" call Apply 'a{sv}' 1 "$key" "$sig" $val $rest
done
refused "Apply Endpoints as a(ssi)" "$I" 'Endpoints|a(sqs)|a(ssi)' \
    call Apply 'a{sv}' 1 Endpoints 'a(ssi)' 1 192.0.2.1 51820 17
refused "Apply Endpoints as a(sq)" "$I" 'Endpoints|a(sqs)|a(sq)' \
    call Apply 'a{sv}' 1 Endpoints 'a(sq)' 1 192.0.2.1 51820
refused "Apply Endpoints as as" "$I" 'Endpoints|a(sqs)' call Apply 'a{sv}' 1 Endpoints as 1 192.0.2.1
refused "Apply Enabled twice (same value)" "$I" 'Enabled|twice' \
    call Apply 'a{sv}' 2 Enabled b true Enabled b true
refused "Apply Enabled twice (false, then true)" "$I" 'Enabled|twice' \
    call Apply 'a{sv}' 2 Enabled b false Enabled b true
refused "Apply Tunnels twice" "$I" 'Tunnels|twice' call Apply 'a{sv}' 3 Tunnels as 0 AllowLan b false Tunnels as 1 wg1
refused "Apply: a good change and then a bad value" "$I" 'Endpoints|"10.1"' \
    call Apply 'a{sv}' 2 AllowDhcp b false Endpoints 'a(sqs)' 1 10.1 1 udp
refused "Apply: a bad value and then a good change" "$I" 'Tunnels|"a b"' \
    call Apply 'a{sv}' 2 Tunnels as 1 'a b' Enabled b false

# --------------------------------------------------------------------------
ks_step "cgroup paths and Scope (per-application rules)"

deep=$(printf 'l%d/' {1..17}); deep=${deep%/}
long_path=$(printf 'x%.0s' {1..201})
for c in "/user.slice|absolute" "user.slice/../system.slice|\"..\"" "./a.slice|\".\"" "..|\"..\"" \
         "a.slice//b.scope|empty" "a.slice/|ends with" "|empty" "$deep|deeper than 16" \
         "$long_path|longer than 200" $'a.slice/b\nc|printable' $'a.slice/\tb|printable'; do
    path=${c%|*} needle=${c##*|}
    refused "AddExemptCgroup \"${path:0:40}\"" "$I" "ExemptCgroups|$needle" call AddExemptCgroup s "$path"
    refused "Apply ExemptCgroups with \"${path:0:40}\" beside a good one" "$I" "ExemptCgroups|$needle" \
        call Apply 'a{sv}' 1 ExemptCgroups as 2 app.slice "$path"
    refused "Apply ScopedCgroups with \"${path:0:40}\"" "$I" "ScopedCgroups|$needle" \
        call Apply 'a{sv}' 2 Scope s cgroups ScopedCgroups as 1 "$path"
done
refused "RemoveExemptCgroup of an invalid path (invalid, not NotFound)" "$I" 'ExemptCgroups|absolute' \
    call RemoveExemptCgroup s /user.slice
for v in '' System cgroup 'system ' users; do
    refused "Apply Scope \"$v\"" "$I" "Scope|\"$v\"" call Apply 'a{sv}' 1 Scope s "$v"
done
refused "Apply Scope as b" "$I" 'Scope|s|b' call Apply 'a{sv}' 1 Scope b true
refused "Apply ExemptCgroups as s" "$I" 'ExemptCgroups|as' call Apply 'a{sv}' 1 ExemptCgroups s a.slice
mapfile -t cgs < <(seq -f 'c%g.slice' 1 257)
refused "Apply 257 exempt cgroups" "$KS_E_LIMIT" 'ExemptCgroups|256' \
    call Apply 'a{sv}' 1 ExemptCgroups as 257 "${cgs[@]}"

# --------------------------------------------------------------------------
ks_step "signatures of methods and properties"

refused "AddEndpoint with signature ssq" "$I" 'sqs' call AddEndpoint ssq 192.0.2.1 udp 1
refused "AddEndpoint with too few arguments" "$I" 'sqs' call AddEndpoint sq 192.0.2.1 1
refused "AddTunnel with no argument" "$I" '' call AddTunnel
refused "AddTunnel with an array" "$I" '' call AddTunnel as 1 wg1
refused "Apply with a{ss}" "$I" 'a{sv}' call Apply 'a{ss}' 1 Enabled true
refused "Enable with an argument" "$I" '' call Enable b true
for p in Persistent AllowLan AllowDhcp; do
    refused "set-property $p as s" "$I" "$p" set "$p" s true
done

# --------------------------------------------------------------------------
ks_step "limits"

mapfile -t names < <(seq -f 'lim%g' 1 33)
refused "Apply 33 tunnels" "$KS_E_LIMIT" 'Tunnels|32' call Apply 'a{sv}' 1 Tunnels as 33 "${names[@]}"

# --------------------------------------------------------------------------
ks_step "absent entries"

refused "RemoveEndpoint never added" "$KS_E_NOT_FOUND" 'Endpoints|192.0.2.1' call RemoveEndpoint sqs 192.0.2.1 51820 udp
refused "RemoveEndpoint: right address, other port" "$KS_E_NOT_FOUND" 'Endpoints|198.51.100.7' \
    call RemoveEndpoint sqs 198.51.100.7 51821 udp
refused "RemoveEndpoint: right address and port, other protocol" "$KS_E_NOT_FOUND" 'Endpoints|198.51.100.7' \
    call RemoveEndpoint sqs 198.51.100.7 51820 tcp
refused "RemoveEndpoint: the IPv6 one, other spelling of another address" "$KS_E_NOT_FOUND" 'Endpoints|2001:db8::8' \
    call RemoveEndpoint sqs 2001:0db8:0:0::8 443 tcp
refused "RemoveTunnel never added" "$KS_E_NOT_FOUND" 'Tunnels|"wg1"' call RemoveTunnel s wg1
refused "RemoveTunnel: a name the pattern tun* matches" "$KS_E_NOT_FOUND" 'Tunnels|"tun0"' call RemoveTunnel s tun0

# --------------------------------------------------------------------------
ks_step "after all of it"

expect_eq "GetSettings as at the start" "$(settings_json)" "$settings0"
expect_ok "the daemon is still running" ks_is_ours "$KS_DAEMON_PID"

ks_finish

# shellcheck shell=bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Helpers for the tests of the VPN hooks in contrib/ (test_wg_quick.sh,
# test_openvpn.sh, test_nm_dispatcher.sh), on top of lib.sh: the daemon and
# its settings on the private bus, a flood window that measures an outage,
# tunnel counters for every tunnel the server ends, wg-quick driving
# wireguard-go, and an OpenVPN server and client with a throwaway PKI.
#
# The hooks are run exactly as installed: from contrib/, talking to the
# daemon with busctl through DBUS_SYSTEM_BUS_ADDRESS (lib.sh's private bus),
# keeping their bookkeeping in KILLSWITCHD_HOOK_STATE_DIR (the test's temp dir).
#
# SAFETY: as lib.sh: wg-quick and openvpn run only under `ip netns exec` in
# the namespaces lib.sh creates; processes are stopped by their PIDs.

# Variables set here are read by the sourcing tests.
# shellcheck disable=SC2034

source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

KS_HOOK_WG=$KS_SRC_DIR/contrib/wg-quick/killswitch-wg
KS_HOOK_OVPN=$KS_SRC_DIR/contrib/openvpn/killswitch-openvpn
KS_HOOK_NM=$KS_SRC_DIR/contrib/networkmanager/90-killswitchd

KSV_DEST=org.killswitchd.KillSwitch1
KSV_OBJECT=/org/killswitchd/KillSwitch1
KSV_INTERFACE=org.killswitchd.KillSwitch1

KS_OVPN_PORT=1194

# vpn_init NAME [TOOL...]: ks_init, the bus tools and the given ones, and a
# state directory for the hooks' bookkeeping.
vpn_init() {
    local name=$1 tool
    shift
    ks_init "$name"
    for tool in busctl dbus-daemon "$@"; do
        command -v "$tool" >/dev/null || ks_die "missing tool: $tool"
    done
    export KILLSWITCHD_HOOK_STATE_DIR=$KS_TMP/hooks
}

# vpn_topology: lib.sh's server and client namespaces, the tunnel counters,
# and the client's killswitchd (no settings yet: disabled).
vpn_topology() {
    topo_create
    vpn_counters_install
    start_daemon "$KS_CLI" "$KS_TMP/state"
}

# --------------------------------------------------------------------------
# The daemon's settings

ksv_get() { busctl get-property "$KSV_DEST" "$KSV_OBJECT" "$KSV_INTERFACE" "$1"; }
ksv_call() { busctl call "$KSV_DEST" "$KSV_OBJECT" "$KSV_INTERFACE" "$@" >/dev/null; }

# ksv_settings: the settings in one line, lists sorted:
#   enabled=true tunnels=wg0 endpoints=10.0.0.1:51820/udp,[fd00::1]:1194/tcp mark=51820
ksv_settings() {
    busctl --json=short call "$KSV_DEST" "$KSV_OBJECT" "$KSV_INTERFACE" GetSettings |
        "$KS_PY" -c 'import json,sys
d = {k: v["data"] for k, v in json.load(sys.stdin)["data"][0].items()}
eps = sorted(("[%s]:%d/%s" if ":" in a else "%s:%d/%s") % (a, p, pr) for a, p, pr in d["Endpoints"])
print("enabled=%s tunnels=%s endpoints=%s mark=%d" % (str(d["Enabled"]).lower(),
      ",".join(sorted(d["Tunnels"])) or "-", ",".join(eps) or "-", d["EndpointMark"]))'
}
expect_settings() { expect_eq "$1: settings" "$(ksv_settings)" "$2"; }

# --------------------------------------------------------------------------
# Counters

# Packets arriving at the server through any tunnel it ends (the WireGuard
# interface of lib.sh, the OpenVPN servers' tun devices), in a table of our
# own next to lib.sh's kscount.
vpn_counters_install() {
    in_ns "$KS_SRV" nft -f - <<EOF
table inet ksvpn {
    counter tunnel4 { }
    counter tunnel6 { }
    chain pre {
        type filter hook prerouting priority -450; policy accept;
        iifname { "${KS_ID}s", "${KS_ID}u", "${KS_ID}t" } meta nfproto ipv4 counter name "tunnel4"
        iifname { "${KS_ID}s", "${KS_ID}u", "${KS_ID}t" } meta nfproto ipv6 counter name "tunnel6"
    }
}
EOF
}
vpn_count_tunnel() {
    in_ns "$KS_SRV" nft -j list counters table inet ksvpn |
        "$KS_PY" -c 'import json,sys
print(sum(o["counter"]["packets"] for o in json.load(sys.stdin)["nftables"] if "counter" in o))'
}
vpn_counters_reset() {
    counters_reset
    in_ns "$KS_SRV" nft reset counters table inet ksvpn >/dev/null
}
vpn_tunnel_grew() { (($(vpn_count_tunnel) > $1)); }

# The OpenVPN servers' own traffic (UDP and TCP to port KS_OVPN_PORT of the
# server's veth addresses) is the VPN, not a leak: counted apart, ahead of
# lib.sh's leak counters.
vpn_counters_openvpn() {
    in_ns "$KS_SRV" nft -f - <<EOF
add counter inet kscount openvpn { }
insert rule inet kscount from_veth ip daddr $KS_SRV_V4 meta l4proto { udp, tcp } th dport $KS_OVPN_PORT counter name "openvpn" return
insert rule inet kscount from_veth ip6 daddr $KS_SRV_V6 meta l4proto { udp, tcp } th dport $KS_OVPN_PORT counter name "openvpn" return
EOF
}

# vpn_same_blocks: the helpers the hooks share are the same text in each.
vpn_same_blocks() {
    local a b
    a=$(sed -n '/^# --- common: bus/,/^# --- end of common/p' "$KS_HOOK_WG")
    for b in "$KS_HOOK_OVPN" "$KS_HOOK_NM"; do
        [[ -n $a && $a == "$(sed -n '/^# --- common: bus/,/^# --- end of common/p' "$b")" ]] || return 1
    done
    a=$(sed -n '/^# --- common: WireGuard/,/^# --- end of WireGuard/p' "$KS_HOOK_WG")
    [[ -n $a && $a == "$(sed -n '/^# --- common: WireGuard/,/^# --- end of WireGuard/p' "$KS_HOOK_NM")" ]]
}

# vpn_window LABEL SECONDS CMD...: with the flood running, reset the
# counters, run CMD (an outage, a change), let the flood go on for SECONDS.
# Sets W_RC (CMD's exit status), W_SENT, W_EPERM (refused locally),
# W_LEAKED (lib.sh's leak counters), W_CLEAR (packets for the internet host
# that took the veth), W_TUN (packets that arrived through a tunnel) and logs them.
vpn_window() {
    local label=$1 secs=$2 s0 e0
    shift 2
    vpn_counters_reset
    s0=$(flood_stat sent)
    e0=$(flood_stat eperm)
    W_RC=0
    "$@" || W_RC=$?
    sleep "$secs"
    W_LEAKED=$(count_leaks)
    W_CLEAR=$(count_clear_inet)
    W_TUN=$(vpn_count_tunnel)
    W_SENT=$(($(flood_stat sent) - s0))
    W_EPERM=$(($(flood_stat eperm) - e0))
    ks_log "   $label: $W_SENT packets sent, $W_EPERM refused (EPERM), $W_TUN through a tunnel, $W_LEAKED leaked ($(counters_summary))"
}

# --------------------------------------------------------------------------
# wg-quick driving wireguard-go in the client namespace.  The interface is
# lib.sh's client name (${KS_ID}c), so lib.sh's server peer and counters apply.

# wgq_conf DIR ENDPOINT hooks|nohooks: a wg-quick configuration for the
# client, AllowedIPs everything (so wg-quick sets fwmark 51820 and policy
# routing), no DNS= (that would need resolvconf).  Prints the file name.
wgq_conf() {
    local dir=$1 endpoint=$2 hooks=$3 conf
    ks_wg_keys
    mkdir -p "$dir"
    conf=$dir/$KS_WG_CLI.conf
    {
        echo "[Interface]"
        echo "PrivateKey = $(cat "$KS_TMP/wg-cli.key")"
        echo "Address = $KS_TUN_CLI_V4/24, $KS_TUN_CLI_V6/64"
        if [[ $hooks == hooks ]]; then
            echo "PostUp = $KS_HOOK_WG up %i"
            echo "PreDown = $KS_HOOK_WG down %i"
        fi
        echo
        echo "[Peer]"
        echo "PublicKey = $KS_WG_SRV_PUB"
        echo "AllowedIPs = 0.0.0.0/0, ::/0"
        echo "Endpoint = $endpoint"
    } >"$conf"
    chmod 600 "$conf"
    echo "$conf"
}

# wgq CONF up|down: run wg-quick in the client namespace; output in
# WGQ_LOG, exit status returned.  After `up`, the wireguard-go it started is
# in WGQ_PID and tracked for cleanup.
wgq() {
    local conf=$1 verb=$2 rc=0
    WGQ_LOG=$KS_TMP/wg-quick.$((++KS_SEQ)).log
    KS_WG_NAMES+=("$KS_WG_CLI")
    in_ns "$KS_CLI" env WG_QUICK_USERSPACE_IMPLEMENTATION=wireguard-go \
        wg-quick "$verb" "$conf" >"$WGQ_LOG" 2>&1 </dev/null || rc=$?
    if [[ $verb == up ]] && ((rc == 0)); then
        WGQ_PID=$(wgq_find_pid)
        [[ -n $WGQ_PID ]] || ks_die "wg-quick up: no wireguard-go process for $KS_WG_CLI"
        KS_PIDS+=("$WGQ_PID")
        KS_PID_START[$WGQ_PID]=$(ks_pid_start "$WGQ_PID")
    fi
    return "$rc"
}
# The wireguard-go that serves our interface: command line exactly
# "wireguard-go <our unique name>", in our client namespace.
wgq_find_pid() {
    local ns_ino p
    ns_ino=$(stat -L -c %i "/run/netns/$KS_CLI")
    for p in /proc/[0-9]*; do
        [[ $(tr '\0' ' ' 2>/dev/null <"$p/cmdline") == "wireguard-go $KS_WG_CLI " ]] || continue
        [[ $(stat -L -c %i "$p/ns/net" 2>/dev/null) == "$ns_ino" ]] && echo "${p#/proc/}" && return 0
    done
    return 0
}
# wgq_kill: the VPN client crashes: kill -9 wireguard-go, its interface goes.
wgq_kill() {
    ks_stop_pid "$WGQ_PID" KILL
    wait_until 5 ks_link_absent "$KS_CLI" "$KS_WG_CLI" || ks_die "the interface survived kill -9"
    rm -f "/var/run/wireguard/$KS_WG_CLI.sock"
}
# --------------------------------------------------------------------------
# OpenVPN: servers in the server namespace (UDP: tun ${KS_ID}u, TCP: tun
# ${KS_ID}t, both on port KS_OVPN_PORT, both families), one client at a time
# in the client namespace (tun ${KS_ID}v).  The server pushes the routes to
# the internet host, so the client reaches it through the tunnel and, when
# the tunnel is gone, in clear through the veth.

KS_OVPN_CLI_DEV=
# ovpn_pki: a throwaway CA, a server and a client certificate (EC P-256).
ovpn_pki() {
    local d=$KS_TMP/pki who eku
    KS_PKI=$d
    [[ -f $d/client.crt ]] && return 0
    mkdir -p "$d"
    (
        cd "$d"
        umask 077
        openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
            -keyout ca.key -out ca.crt -subj /CN=killswitchd-test-ca
        for who in server client; do
            eku=$([[ $who == server ]] && echo serverAuth || echo clientAuth)
            openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
                -keyout "$who.key" -out "$who.csr" -subj "/CN=$who"
            printf 'basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyAgreement\nextendedKeyUsage=%s\n' \
                "$eku" >"$who.ext"
            openssl x509 -req -in "$who.csr" -CA ca.crt -CAkey ca.key -CAcreateserial -days 2 \
                -extfile "$who.ext" -out "$who.crt"
        done
    ) >"$KS_TMP/pki.log" 2>&1 || ks_die "openssl: $(tail -n 3 "$KS_TMP/pki.log")"
}

# ovpn_server_start udp|tcp: start that server and wait until it serves.
ovpn_server_start() {
    local proto=$1 dev net4 net6 conf log pid
    ovpn_pki
    if [[ $proto == udp ]]; then
        dev=${KS_ID}u net4=10.204.0.0 net6=fd00:204::/64
    else
        dev=${KS_ID}t net4=10.205.0.0 net6=fd00:205::/64
    fi
    conf=$KS_TMP/openvpn-server-$proto.conf
    log=$KS_TMP/openvpn-server-$proto.log
    cat >"$conf" <<EOF
dev $dev
dev-type tun
proto ${proto}6$([[ $proto == tcp ]] && echo -server)
port $KS_OVPN_PORT
topology subnet
server $net4 255.255.255.0
server-ipv6 $net6
push "route $KS_INET_V4 255.255.255.255"
push "route-ipv6 $KS_INET_V6/128"
ca $KS_PKI/ca.crt
cert $KS_PKI/server.crt
key $KS_PKI/server.key
dh none
keepalive 10 60
verb 3
EOF
    ks_spawn pid "$log" ip netns exec "$KS_SRV" openvpn --config "$conf"
    wait_until 10 grep -q 'Initialization Sequence Completed' "$log" ||
        ks_die "openvpn $proto server did not start: $(tail -n 5 "$log")"
}

# ovpn_client_conf FILE udp|tcp REMOTE hooks|downroot|nohooks [LINE...]: a
# client configuration.  hooks: the contrib script as --up and --down (and
# down-pre).  downroot: as an unprivileged client (user nobody) does it: the
# script as --up, and as down command through OpenVPN's down-root plugin.
# OpenVPN gives scripts only its own variables, so the test's bus address
# and state directory are passed with setenv.
ovpn_client_conf() {
    local conf=$1 proto=$2 remote=$3 hooks=$4 line
    shift 4
    ovpn_pki
    KS_OVPN_CLI_DEV=${KS_ID}v
    {
        echo "client"
        echo "dev $KS_OVPN_CLI_DEV"
        echo "dev-type tun"
        echo "proto $([[ $proto == tcp ]] && echo tcp-client || echo udp)"
        echo "remote $remote $KS_OVPN_PORT"
        echo "nobind"
        echo "connect-retry 1 1"
        echo "ca $KS_PKI/ca.crt"
        echo "cert $KS_PKI/client.crt"
        echo "key $KS_PKI/client.key"
        echo "remote-cert-tls server"
        echo "verb 3"
        if [[ $hooks != nohooks ]]; then
            echo "script-security 2"
            echo "setenv DBUS_SYSTEM_BUS_ADDRESS \"$DBUS_SYSTEM_BUS_ADDRESS\""
            echo "setenv KILLSWITCHD_HOOK_STATE_DIR \"$KILLSWITCHD_HOOK_STATE_DIR\""
            echo "up \"$KS_HOOK_OVPN\""
        fi
        if [[ $hooks == hooks ]]; then
            echo "down \"$KS_HOOK_OVPN\""
            echo "down-pre"
        elif [[ $hooks == downroot ]]; then
            echo "plugin $(ovpn_down_root_plugin) \"$KS_HOOK_OVPN --down\""
            echo "user nobody"
            echo "group nogroup"
            echo "persist-tun"
            echo "persist-key"
        fi
        for line in "$@"; do echo "$line"; done
    } >"$conf"
}

# The down-root plugin of the openvpn package.
ovpn_down_root_plugin() {
    local f
    for f in /usr/lib/*/openvpn/plugins/openvpn-plugin-down-root.so /usr/lib/openvpn/openvpn-plugin-down-root.so; do
        [[ -f $f ]] && echo "$f" && return 0
    done
    ks_die "openvpn-plugin-down-root.so not found"
}

# ovpn_client_start CONF: start the client in the client namespace and wait
# (15 s at most) until it is connected, its tun up and the up script done.
# PID in OVPN_PID, log in OVPN_LOG.  Returns 1 if it did not connect.
ovpn_client_start() {
    local conf=$1
    OVPN_LOG=$KS_TMP/openvpn-client.$((++KS_SEQ)).log
    ks_spawn OVPN_PID "$OVPN_LOG" ip netns exec "$KS_CLI" openvpn --config "$conf"
    wait_until 15 ovpn_connected_or_dead || true
    grep -q 'Initialization Sequence Completed' "$OVPN_LOG"
}
ovpn_connected_or_dead() { grep -q 'Initialization Sequence Completed' "$OVPN_LOG" || ! ks_is_ours "$OVPN_PID"; }

# ovpn_client_kill: the VPN client crashes (kill -9); its tun goes with it.
ovpn_client_kill() {
    ks_stop_pid "$OVPN_PID" KILL
    wait_until 5 ks_link_absent "$KS_CLI" "$KS_OVPN_CLI_DEV" || ks_die "the tun device survived kill -9"
}
# ovpn_client_stop: a clean stop (SIGTERM): OpenVPN runs its down script.
ovpn_client_stop() {
    ks_stop_pid "$OVPN_PID" TERM
    wait_until 5 ks_link_absent "$KS_CLI" "$KS_OVPN_CLI_DEV" || ks_die "the tun device survived the stop"
}

# ovpn_flows [TIMEOUT]: the internet host answers (v4 and v6), and the
# packets went through a tunnel.
ovpn_flows() {
    local n0
    n0=$(vpn_count_tunnel)
    wait_until "${1:-8}" ks_ping_both "$KS_CLI" "$KS_INET_V4" "$KS_INET_V6" && vpn_tunnel_grew "$n0"
}

# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Shared harness for the killswitchd integration tests and the demo.
# Sourced by every tests/integration/test_*.sh.
#
# Topology (all in namespaces created and deleted here):
#
#   [ctr ns] eth0 10.203.0.2 ──vethk── [client ns] ──vethc══veths── [server ns]
#                                        wg <KS_ID>c ═══tunnel═══ wg <KS_ID>s
#                                                                  lo: 10.202.0.1
#
# The server's loopback address 10.202.0.1 / fd00:202::1 is the "internet
# host": the client reaches it through the tunnel (more specific route, as
# wg-quick does) and, when the tunnel is gone, falls back to the veth in
# clear.  Packets from the client are counted on the server side of the veth
# (table inet kscount in the server namespace): that is where a leak would
# be seen, so that is where we look.
#
# SAFETY: nothing here touches the root network namespace.  Links are
# created with `ip -n NS`, rules with `ip netns exec NS nft`.  Processes are
# stopped by the PIDs we recorded, never by name.

# Variables set here are read by the sourcing tests; optional arguments are
# optional on purpose; helpers are often called through expect_ok/wait_until.
# shellcheck disable=SC2034,SC2119,SC2120,SC2153,SC2317

set -euo pipefail

KS_LIB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
KS_SRC_DIR=$(cd "$KS_LIB_DIR/../.." && pwd)
KS_PY=${KS_PY:-$(command -v /usr/bin/python3 || command -v python3 || true)}

# Addresses (fixed: they only exist inside our namespaces).
KS_SRV_V4=10.200.0.1      KS_SRV_V6=fd00:200::1
KS_CLI_V4=10.200.0.2      KS_CLI_V6=fd00:200::2
KS_TUN_SRV_V4=10.201.0.1  KS_TUN_SRV_V6=fd00:201::1
KS_TUN_CLI_V4=10.201.0.2  KS_TUN_CLI_V6=fd00:201::2
KS_INET_V4=10.202.0.1     KS_INET_V6=fd00:202::1
KS_CTR_GW_V4=10.203.0.1   KS_CTR_GW_V6=fd00:203::1
KS_CTR_V4=10.203.0.2      KS_CTR_V6=fd00:203::2
KS_WG_PORT=51820
# Source port (and ICMP echo id) of every probe, so the server counts
# probes apart from background noise such as MLD reports.
KS_PROBE_PORT=47000

KS_FAILURES=0
KS_PIDS=()
declare -A KS_PID_START=()
KS_NETNS=()
KS_CLEANUP=()   # commands run at exit, last first (lib-cgroup.sh)
KS_WG_NAMES=()
KS_SEQ=0
KS_TMP=
KS_BUS_PID=

# --------------------------------------------------------------------------
# Output and assertions

ks_log() { printf '%s\n' "$*"; }
ks_step() { printf '\n== %s\n' "$*"; }
ks_pass() { printf 'PASS: %s\n' "$*"; }
ks_fail() { printf 'FAIL: %s\n' "$*"; KS_FAILURES=$((KS_FAILURES + 1)); }
ks_die() { printf 'FAIL: %s: setup: %s\n' "${KS_TEST_NAME:-test}" "$*" >&2; exit 1; }

expect_eq() {   # DESC GOT WANT
    if [[ $2 == "$3" ]]; then ks_pass "$1 (got $2)"; else ks_fail "$1 (got $2, want $3)"; fi
}
expect_zero() { expect_eq "$1" "$2" 0; }
expect_ge() {   # DESC GOT MIN
    if (($2 >= $3)); then ks_pass "$1 (got $2, want >= $3)"; else ks_fail "$1 (got $2, want >= $3)"; fi
}
expect_le() {   # DESC GOT MAX
    if (($2 <= $3)); then ks_pass "$1 (got $2, want <= $3)"; else ks_fail "$1 (got $2, want <= $3)"; fi
}
expect_ok() {   # DESC CMD...: the command must succeed
    local desc=$1; shift
    if "$@"; then ks_pass "$desc"; else ks_fail "$desc (command failed: $*)"; fi
}
expect_not() {  # DESC CMD...: the command must fail
    local desc=$1; shift
    if "$@"; then ks_fail "$desc (command succeeded: $*)"; else ks_pass "$desc"; fi
}

# A property the design wants that the kernel cannot give: reported as
# XFAIL, a failure only with KS_STRICT=1.
ks_known_gap() {
    if [[ ${KS_STRICT:-0} == 1 ]]; then ks_fail "$*"; else printf 'XFAIL (known gap): %s\n' "$*"; fi
}

expect_no_leaks() {   # DESC
    local n
    n=$(count_leaks)
    if ((n == 0)); then ks_pass "$1: 0 packets leaked"; else ks_fail "$1: $n packets leaked ($(counters_summary))"; fi
}

ks_finish() {
    if ((KS_FAILURES)); then
        printf '\nFAIL: %s: %d check(s) failed\n' "$KS_TEST_NAME" "$KS_FAILURES"
        exit 1
    fi
    printf '\nPASS: %s\n' "$KS_TEST_NAME"
    exit 0
}

# wait_until SECONDS CMD...: poll (50 ms) until CMD succeeds; 1 on timeout.
# SECONDS may have a fraction (0.5).
wait_until() {
    local timeout=$1; shift
    local sec=${timeout%%.*} frac=000000
    [[ $timeout == *.* ]] && frac=${timeout#*.}000000
    local deadline=$(( ${EPOCHREALTIME/./} + ${sec:-0} * 1000000 + 10#${frac:0:6} ))
    until "$@"; do
        (( ${EPOCHREALTIME/./} < deadline )) || return 1
        sleep 0.05
    done
}

# --------------------------------------------------------------------------
# Setup and cleanup

ks_require_root() {
    ((EUID == 0)) && return 0
    if [[ -n ${CI:-} ]]; then
        echo "FAIL: integration tests need root (CI is set, so not skipping)" >&2
        exit 1
    fi
    echo "SKIP: integration tests need root" >&2
    exit 77
}

# ks_init NAME: root check, unique id, temp dir, cleanup trap, binary.
ks_init() {
    KS_TEST_NAME=$1
    ks_require_root
    local tool
    for tool in ip nft wg wireguard-go; do
        command -v "$tool" >/dev/null || ks_die "missing tool: $tool"
    done
    [[ -n $KS_PY ]] || ks_die "missing tool: python3"
    # Unique per run: wireguard-go sockets (/var/run/wireguard/NAME.sock)
    # and namespace names are global.  "k" + pid + random, at most 11 bytes,
    # so "<id>c" fits the 15-byte interface name limit.
    KS_ID=$(printf 'k%x%02x' "$$" $((RANDOM % 256)))
    KS_ID=${KS_ID:0:11}
    KS_TMP=$(mktemp -d "${TMPDIR:-/tmp}/killswitchd-it.XXXXXX")
    set -E
    trap 'ks_on_error "$LINENO" "$BASH_COMMAND"' ERR
    trap ks_cleanup EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
    ks_write_net_helper
    ks_select_binary
    [[ ${KS_QUIET:-0} == 1 ]] || ks_log "# $KS_TEST_NAME: id=$KS_ID tmp=$KS_TMP killswitchd=$KILLSWITCHD"
}

# ks_spawn VAR LOG CMD...: start CMD in the background, record its PID for
# cleanup, store it in VAR.  `ip netns exec` and `env` exec, so the PID is
# the real program's.
ks_spawn() {
    local __ks_var=$1 __ks_log=$2; shift 2
    "$@" >"$__ks_log" 2>&1 &
    disown "$!"   # no "Killed" job notices; ks_stop_pid polls instead of wait
    KS_PIDS+=("$!")
    KS_PID_START[$!]=$(ks_pid_start "$!")
    printf -v "$__ks_var" '%s' "$!"
}

# Start time of a process (field 22 of /proc/PID/stat): with the PID it
# identifies our process even if the PID was recycled after it exited.
ks_pid_start() {
    local stat f
    stat=$(cat "/proc/$1/stat" 2>/dev/null) || { echo gone; return 0; }
    stat=${stat##*) }
    read -r -a f <<<"$stat"
    if [[ ${f[0]} == Z ]]; then echo gone; else echo "${f[19]}"; fi
}
ks_is_ours() { [[ -n ${KS_PID_START[$1]:-} && $(ks_pid_start "$1") == "${KS_PID_START[$1]}" ]]; }

# ks_stop_pid PID [SIGNAL]: signal one of our processes and wait (4 s at
# most, then SIGKILL) until it is gone.
ks_stop_pid() {
    local pid=$1 sig=${2:-TERM} i
    ks_is_ours "$pid" || return 0
    kill "-$sig" "$pid" 2>/dev/null || return 0
    for ((i = 0; i < 200; i++)); do
        ks_is_ours "$pid" || return 0
        sleep 0.02
    done
    kill -KILL "$pid" 2>/dev/null || true
    wait_until 2 ks_pid_gone "$pid" || true
}
ks_pid_gone() { ! ks_is_ours "$1"; }

ks_on_error() {
    printf 'FAIL: %s: unexpected error at line %s: %s\n' "${KS_TEST_NAME:-test}" "$1" "$2" >&2
}

ks_cleanup() {
    local rc=$? i name
    set +e
    trap - EXIT INT TERM
    for ((i = ${#KS_PIDS[@]} - 1; i >= 0; i--)); do
        ks_stop_pid "${KS_PIDS[i]}" TERM 2>/dev/null
    done
    for ((i = ${#KS_CLEANUP[@]} - 1; i >= 0; i--)); do
        ${KS_CLEANUP[i]} 2>/dev/null
    done
    for name in "${KS_NETNS[@]}"; do
        ip netns del "$name" 2>/dev/null
    done
    for name in "${KS_WG_NAMES[@]}"; do
        rm -f "/var/run/wireguard/$name.sock"
    done
    if ((rc != 0)) && [[ -n $KS_TMP && -d $KS_TMP ]]; then
        ks_dump_logs
    fi
    if [[ ${KS_KEEP_TMP:-0} == 1 ]]; then
        echo "# kept $KS_TMP"
    elif [[ -n $KS_TMP ]]; then
        # Never into a mount left behind (a cgroup2 mount is the machine's own hierarchy).
        rm -rf --one-file-system "$KS_TMP"
    fi
    exit "$rc"
}

# On failure, show what the daemons and the tunnel said.
ks_dump_logs() {
    local f
    for f in "$KS_TMP"/daemon.*.log "$KS_TMP"/boot.*.log "$KS_TMP"/wg-*.log "$KS_TMP"/bus.log; do
        [[ -s $f ]] || continue
        echo "---- ${f##*/} (last 20 lines)"
        tail -n 20 "$f"
    done
}

netns_add() {
    ip netns add "$1"
    KS_NETNS+=("$1")
    # No duplicate address detection: no tentative link-local addresses,
    # which would delay neighbour discovery for forwarded IPv6 by seconds.
    in_ns "$1" sysctl -qw net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0
    ip -n "$1" link set lo up
}

# in_ns NS CMD...: with KS_IN_CGROUP set (lib-cgroup.sh), CMD also runs in that cgroup.
in_ns() {
    local ns=$1; shift
    if [[ -n ${KS_IN_CGROUP:-} ]]; then
        in_cgroup "$KS_IN_CGROUP" ip netns exec "$ns" "$@"
    else
        ip netns exec "$ns" "$@"
    fi
}

# --------------------------------------------------------------------------
# Topology

# topo_create [--container]: server + client (+ container) namespaces, the
# veth, the leak counters and the server end of the tunnel.
topo_create() {
    KS_SRV=$KS_ID-srv
    KS_CLI=$KS_ID-cli
    KS_WG_SRV=${KS_ID}s
    KS_WG_CLI=${KS_ID}c
    netns_add "$KS_SRV"
    netns_add "$KS_CLI"

    ip -n "$KS_SRV" link add veths type veth peer name vethc netns "$KS_CLI"
    ip -n "$KS_SRV" addr add "$KS_SRV_V4/24" dev veths
    ip -n "$KS_SRV" addr add "$KS_SRV_V6/64" dev veths nodad
    ip -n "$KS_SRV" link set veths up
    ip -n "$KS_SRV" addr add "$KS_INET_V4/32" dev lo
    ip -n "$KS_SRV" addr add "$KS_INET_V6/128" dev lo nodad

    ip -n "$KS_CLI" addr add "$KS_CLI_V4/24" dev vethc
    ip -n "$KS_CLI" addr add "$KS_CLI_V6/64" dev vethc nodad
    ip -n "$KS_CLI" link set vethc up
    ip -n "$KS_CLI" route add default via "$KS_SRV_V4" dev vethc
    ip -n "$KS_CLI" -6 route add default via "$KS_SRV_V6" dev vethc

    counters_install
    tunnel_server_start
    [[ ${1:-} == --container ]] && topo_add_container
    return 0
}

# A third namespace routed through the client (a container or VM).
topo_add_container() {
    KS_CTR=$KS_ID-ctr
    netns_add "$KS_CTR"
    ip -n "$KS_CLI" link add vethk type veth peer name eth0 netns "$KS_CTR"
    ip -n "$KS_CLI" addr add "$KS_CTR_GW_V4/24" dev vethk
    ip -n "$KS_CLI" addr add "$KS_CTR_GW_V6/64" dev vethk nodad
    ip -n "$KS_CLI" link set vethk up
    ip -n "$KS_CTR" addr add "$KS_CTR_V4/24" dev eth0
    ip -n "$KS_CTR" addr add "$KS_CTR_V6/64" dev eth0 nodad
    ip -n "$KS_CTR" link set eth0 up
    ip -n "$KS_CTR" route add default via "$KS_CTR_GW_V4"
    ip -n "$KS_CTR" -6 route add default via "$KS_CTR_GW_V6"
    # Forwarding in the client namespace only.
    in_ns "$KS_CLI" sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1
}

# Leak and flow counters in the server namespace.  Everything the client
# sends on the veth is a leak except WireGuard to the endpoint port and
# neighbour discovery; probes (source port / echo id KS_PROBE_PORT, or the
# DHCP client ports) are also counted on their own.
counters_install() {
    local k
    local leak_counters=""
    for k in leak4_udp leak4_tcp leak4_icmp leak4_other leak6_udp leak6_tcp leak6_icmp leak6_other \
             endpoint4 endpoint6 nd6 clear_inet veth_probe4 veth_probe6 tun4 tun6 tun_probe4 tun_probe6; do
        leak_counters+="counter $k { }"$'\n'
    done
    in_ns "$KS_SRV" nft -f - <<EOF
table inet kscount {
$leak_counters
    chain pre {
        type filter hook prerouting priority -400; policy accept;
        iifname "veths" jump from_veth
        iifname "${KS_ID}s" jump from_tunnel
    }
    chain from_veth {
        ip daddr $KS_INET_V4 counter name "clear_inet"
        ip6 daddr $KS_INET_V6 counter name "clear_inet"
        meta nfproto ipv4 meta l4proto { tcp, udp } th sport { $KS_PROBE_PORT, 68 } counter name "veth_probe4"
        meta nfproto ipv6 meta l4proto { tcp, udp } th sport { $KS_PROBE_PORT, 546 } counter name "veth_probe6"
        icmp type echo-request icmp id $KS_PROBE_PORT counter name "veth_probe4"
        icmpv6 type echo-request icmpv6 id $KS_PROBE_PORT counter name "veth_probe6"
        meta nfproto ipv4 meta l4proto udp udp dport $KS_WG_PORT counter name "endpoint4" return
        meta nfproto ipv6 meta l4proto udp udp dport $KS_WG_PORT counter name "endpoint6" return
        icmpv6 type { nd-router-solicit, nd-router-advert, nd-neighbor-solicit, nd-neighbor-advert } counter name "nd6" return
        meta nfproto ipv4 meta l4proto udp counter name "leak4_udp" return
        meta nfproto ipv4 meta l4proto tcp counter name "leak4_tcp" return
        meta nfproto ipv4 meta l4proto icmp counter name "leak4_icmp" return
        meta nfproto ipv4 counter name "leak4_other" return
        meta nfproto ipv6 meta l4proto udp counter name "leak6_udp" return
        meta nfproto ipv6 meta l4proto tcp counter name "leak6_tcp" return
        meta nfproto ipv6 meta l4proto ipv6-icmp counter name "leak6_icmp" return
        meta nfproto ipv6 counter name "leak6_other" return
    }
    chain from_tunnel {
        meta nfproto ipv4 counter name "tun4"
        meta nfproto ipv6 counter name "tun6"
        meta nfproto ipv4 meta l4proto { tcp, udp } th sport $KS_PROBE_PORT counter name "tun_probe4"
        meta nfproto ipv6 meta l4proto { tcp, udp } th sport $KS_PROBE_PORT counter name "tun_probe6"
        icmp type echo-request icmp id $KS_PROBE_PORT counter name "tun_probe4"
        icmpv6 type echo-request icmpv6 id $KS_PROBE_PORT counter name "tun_probe6"
    }
}
EOF
}

# count NAME...: sum of the named server counters (packets).
count() {
    in_ns "$KS_SRV" nft list counters table inet kscount |
        awk -v want=" $* " '$1 == "counter" { name = $2 }
            $1 == "packets" && index(want, " " name " ") { t += $2 }
            END { print t + 0 }'
}
count_leaks() { count leak4_udp leak4_tcp leak4_icmp leak4_other leak6_udp leak6_tcp leak6_icmp leak6_other; }
count_tunnel() { count tun4 tun6; }
# Packets for the internet host that took the veth in clear (also leaks).
count_clear_inet() { count clear_inet; }
# One line with every non-zero counter, for the log.
counters_summary() {
    in_ns "$KS_SRV" nft list counters table inet kscount |
        awk '$1 == "counter" { name = $2 }
            $1 == "packets" && $2 > 0 { out = out sep name "=" $2; sep = " " }
            END { print (out == "" ? "all zero" : out) }'
}
counters_reset() { in_ns "$KS_SRV" nft reset counters table inet kscount >/dev/null; }

# --------------------------------------------------------------------------
# WireGuard tunnel (wireguard-go, userspace; its socket path is global)

ks_wg_keys() {
    [[ -f $KS_TMP/wg-srv.key ]] && return 0
    (umask 077; wg genkey >"$KS_TMP/wg-srv.key"; wg genkey >"$KS_TMP/wg-cli.key")
    KS_WG_SRV_PUB=$(wg pubkey <"$KS_TMP/wg-srv.key")
    KS_WG_CLI_PUB=$(wg pubkey <"$KS_TMP/wg-cli.key")
}

# wg_start VAR NS NAME: start wireguard-go and wait for its interface.
wg_start() {
    local __wg_var=$1 ns=$2 name=$3 wgpid
    KS_WG_NAMES+=("$name")
    ks_spawn wgpid "$KS_TMP/wg-$name.log" ip netns exec "$ns" env WG_PROCESS_FOREGROUND=1 wireguard-go "$name"
    wait_until 5 ks_wg_ready "$ns" "$name" || ks_die "wireguard-go $name did not start"
    printf -v "$__wg_var" '%s' "$wgpid"
}
ks_wg_ready() { ip -n "$1" link show "$2" >/dev/null 2>&1 && [[ -S /var/run/wireguard/$2.sock ]]; }

tunnel_server_start() {
    ks_wg_keys
    wg_start KS_WG_SRV_PID "$KS_SRV" "$KS_WG_SRV"
    in_ns "$KS_SRV" wg set "$KS_WG_SRV" listen-port "$KS_WG_PORT" private-key "$KS_TMP/wg-srv.key" \
        peer "$KS_WG_CLI_PUB" \
        allowed-ips "$KS_TUN_CLI_V4/32,$KS_TUN_CLI_V6/128,10.203.0.0/24,fd00:203::/64"
    ip -n "$KS_SRV" addr add "$KS_TUN_SRV_V4/24" dev "$KS_WG_SRV"
    ip -n "$KS_SRV" addr add "$KS_TUN_SRV_V6/64" dev "$KS_WG_SRV" nodad
    ip -n "$KS_SRV" link set "$KS_WG_SRV" up
    # Replies to the container network go back through the tunnel.
    ip -n "$KS_SRV" route add 10.203.0.0/24 dev "$KS_WG_SRV"
    ip -n "$KS_SRV" -6 route add fd00:203::/64 dev "$KS_WG_SRV"
}

# Which server address the client's peer uses: v4 or v6.
KS_WG_ENDPOINT_FAMILY=v4
tunnel_endpoint() {
    if [[ $KS_WG_ENDPOINT_FAMILY == v6 ]]; then echo "[$KS_SRV_V6]:$KS_WG_PORT"; else echo "$KS_SRV_V4:$KS_WG_PORT"; fi
}

# tunnel_up [FWMARK]: start the client's wireguard-go and configure it.
tunnel_up() {   # sets KS_WG_CLI_PID
    local fwmark=${1:-0}
    wg_start KS_WG_CLI_PID "$KS_CLI" "$KS_WG_CLI"
    in_ns "$KS_CLI" wg set "$KS_WG_CLI" private-key "$KS_TMP/wg-cli.key" fwmark "$fwmark" \
        peer "$KS_WG_SRV_PUB" allowed-ips 0.0.0.0/0,::/0 endpoint "$(tunnel_endpoint)"
    tunnel_up_link
}

# Addresses and the wg-quick style routes to the internet host.  Idempotent,
# since a link down drops them.
tunnel_up_link() {
    ip -n "$KS_CLI" link set "$KS_WG_CLI" up
    ip -n "$KS_CLI" addr replace "$KS_TUN_CLI_V4/24" dev "$KS_WG_CLI"
    ip -n "$KS_CLI" addr replace "$KS_TUN_CLI_V6/64" dev "$KS_WG_CLI" nodad
    ip -n "$KS_CLI" route replace "$KS_INET_V4/32" dev "$KS_WG_CLI"
    ip -n "$KS_CLI" -6 route replace "$KS_INET_V6/128" dev "$KS_WG_CLI"
}
tunnel_down() { ip -n "$KS_CLI" link set "$KS_WG_CLI" down; }

# tunnel_kill: the VPN client crashes (kill -9); its interface disappears.
tunnel_kill() {
    ks_stop_pid "$KS_WG_CLI_PID" KILL
    wait_until 5 ks_link_absent "$KS_CLI" "$KS_WG_CLI" || ks_die "tunnel interface survived kill -9"
    rm -f "/var/run/wireguard/$KS_WG_CLI.sock"
}
ks_link_absent() { ! ip -n "$1" link show "$2" >/dev/null 2>&1; }

tunnel_set_endpoint() {   # v4|v6
    KS_WG_ENDPOINT_FAMILY=$1
    in_ns "$KS_CLI" wg set "$KS_WG_CLI" peer "$KS_WG_SRV_PUB" endpoint "$(tunnel_endpoint)"
}
tunnel_set_fwmark() { in_ns "$KS_CLI" wg set "$KS_WG_CLI" fwmark "$1"; }

# tunnel_flows [TIMEOUT]: ping the server's tunnel address (v4 and v6) until
# both answer.  The first packet also triggers the WireGuard handshake.
tunnel_flows() {
    wait_until "${1:-5}" ks_ping_both "$KS_CLI" "$KS_TUN_SRV_V4" "$KS_TUN_SRV_V6"
}
ks_ping_both() { ping_ok "$1" "$2" && ping_ok "$1" "$3"; }
# tunnel_grew N: the server has counted more than N packets from the tunnel.
tunnel_grew() { (($(count_tunnel) > $1)); }

# --------------------------------------------------------------------------
# Traffic

# probe NS PROTO DST PORT [--mark M] [--sport S] [--count N] [--timeout T]
# Sends from source port (or echo id) KS_PROBE_PORT unless --sport is given.
# Sets PROBE_SENT PROBE_EPERM PROBE_ERR PROBE_REPLIED.
probe() {
    local ns=$1 proto=$2 dst=$3 port=$4; shift 4
    local out
    local cmd=("$KS_PY" "$KS_NET" probe --proto "$proto" --dst "$dst" --port "$port" --sport "$KS_PROBE_PORT" "$@")
    # With KS_IN_EXEC (--exempt or --scoped), the probe runs through `killswitchctl exec`.
    if [[ -n ${KS_IN_EXEC:-} ]]; then
        out=$(in_ns "$ns" "$KILLSWITCHCTL" exec "$KS_IN_EXEC" -- "${cmd[@]}") || true
    else
        out=$(in_ns "$ns" "${cmd[@]}")
    fi
    PROBE_SENT=0 PROBE_EPERM=0 PROBE_ERR=0 PROBE_REPLIED=0
    local kv
    for kv in $out; do
        case $kv in
            sent=*) PROBE_SENT=${kv#*=} ;;
            eperm=*) PROBE_EPERM=${kv#*=} ;;
            err=*) PROBE_ERR=${kv#*=} ;;
            replied=*) PROBE_REPLIED=${kv#*=} ;;
        esac
    done
    PROBE_LINE=$out
}

# ping_ok NS DST: an ICMP echo answered; up to 3 tries of a second each
# (a loaded machine may lose one).
ping_ok() {
    probe "$1" icmp "$2" 0 --count 3 --timeout 1 --until-reply
    ((PROBE_REPLIED > 0))
}

ks_family() { [[ $1 == *:* ]] && echo 6 || echo 4; }
ks_counted() { (($(count "$@") > 0)); }

# expect_arrives DESC NS PROTO DST PORT veth|tun [probe options]
# The probe's packets must reach the server on the given side.
expect_arrives() {
    local desc=$1 ns=$2 proto=$3 dst=$4 port=$5 side=$6; shift 6
    local fam got
    fam=$(ks_family "$dst")
    counters_reset
    probe "$ns" "$proto" "$dst" "$port" --count 3 "$@"
    # Through the tunnel, packets take a detour via two wireguard-go
    # processes: give them time to arrive.
    wait_until 2 ks_counted "${side}_probe$fam" || true
    got=$(count "${side}_probe$fam")
    if ((got >= 1)); then
        ks_pass "$desc: $proto to $dst port $port arrives via $side ($got packets; $PROBE_LINE)"
    else
        ks_fail "$desc: $proto to $dst port $port should arrive via $side (0 packets; $PROBE_LINE; $(counters_summary))"
    fi
}

# expect_blocked DESC NS PROTO DST PORT [probe options]
# Nothing of the probe reaches the server on either side; a local sender
# (the client itself) gets EPERM for UDP and ICMP.
expect_blocked() {
    local desc=$1 ns=$2 proto=$3 dst=$4 port=$5; shift 5
    local fam got eperm_ok=1
    fam=$(ks_family "$dst")
    counters_reset
    # No reply is expected, so wait little for one; a dropped TCP SYN costs
    # the whole timeout: one is enough.
    probe "$ns" "$proto" "$dst" "$port" --count "$([[ $proto == tcp ]] && echo 1 || echo 3)" --timeout 0.1 "$@"
    # Whatever left the socket may still be on its way through wireguard-go.
    ((PROBE_SENT == 0)) || sleep 0.3
    got=$(count "veth_probe$fam" "tun_probe$fam")
    if [[ $ns == "$KS_CLI" && $proto != tcp ]] && ((PROBE_EPERM < 1)); then
        eperm_ok=0
    fi
    if ((got == 0 && eperm_ok)); then
        ks_pass "$desc: $proto to $dst port $port blocked (0 packets arrived; $PROBE_LINE)"
    else
        ks_fail "$desc: $proto to $dst port $port should be blocked ($got packets arrived; $PROBE_LINE; $(counters_summary))"
    fi
}

# flood_start NS [--canary]: steady UDP (100/s per family), TCP SYN and ICMP
# (10/s per family) to the internet host; --canary also sends UDP to the
# server's veth address, which is never in the tunnel.  Stats in a file.
flood_start() {
    local ns=$1; shift
    KS_FLOOD_STATS=$KS_TMP/flood.$((++KS_SEQ)).json
    ks_spawn KS_FLOOD_PID "$KS_TMP/flood.$KS_SEQ.log" ip netns exec "$ns" "$KS_PY" "$KS_NET" flood \
        --stats "$KS_FLOOD_STATS" --dst "$KS_INET_V4" --dst "$KS_INET_V6" "$@"
    wait_until 5 test -s "$KS_FLOOD_STATS" || ks_die "flood did not start"
}
flood_stop() {
    [[ -n ${KS_FLOOD_PID:-} ]] && ks_stop_pid "$KS_FLOOD_PID" TERM
    KS_FLOOD_PID=
}
# flood_stat KEY: total over all kinds of sent|ok|eperm|err.
flood_stat() {
    "$KS_PY" -c 'import json,sys
d=json.load(open(sys.argv[1])); print(sum(v[sys.argv[2]] for v in d.values()))' "$KS_FLOOD_STATS" "$1"
}

# --------------------------------------------------------------------------
# The daemon

# Which binary: $KILLSWITCHD (ctest sets it), or the build next to this source
# tree, as scripts/test makes it; killswitchctl beside it.
ks_select_binary() {
    KILLSWITCHD=${KILLSWITCHD:-$KS_SRC_DIR/build/src/killswitchd}
    [[ -x $KILLSWITCHD ]] || ks_die "KILLSWITCHD=$KILLSWITCHD is not executable (build it, or set KILLSWITCHD)"
    KILLSWITCHCTL=${KILLSWITCHCTL:-$(dirname "$KILLSWITCHD")/ctl/killswitchctl}
}

# write_settings DIR LINE...: a valid settings.conf with the given lines.
write_settings() {
    local dir=$1; shift
    mkdir -p "$dir"
    { echo "version=1"; printf '%s\n' "$@"; echo "end"; } >"$dir/settings.conf"
}

# state_lines DIR [WRAPPER...]: the settings DIR/settings.conf holds, as
# the daemon reads them (docs/state-file.md: the snapshot, then each
# committed change; an unfinished last change left out), one Key=value line
# each as in a snapshot: the scalars, the tunnels in order, the endpoints
# sorted.  "none" without a file; exit status 1 and the reason on stderr if
# corrupt.  A reader of its own, from the documented format, not the
# daemon's.  WRAPPER runs it elsewhere (another mount namespace).
state_lines() {
    local dir=$1; shift
    [[ -n ${KS_STATE_PY:-} && -f $KS_STATE_PY ]] || ks_write_state_reader
    "$@" "$KS_PY" "$KS_STATE_PY" "$dir/settings.conf"
}
ks_write_state_reader() {
    KS_STATE_PY=$KS_TMP/ksstate.py
    cat >"$KS_STATE_PY" <<'PYEOF'
import socket, sys, zlib

SCALARS = ["Enabled", "Persistent", "AllowLan", "AllowDhcp", "EndpointMark", "EndpointAnyUser"]


def canon(v):
    a, p, proto = v.split(" ")
    fam = socket.AF_INET6 if ":" in a else socket.AF_INET
    return "%s %d %s" % (socket.inet_ntop(fam, socket.inet_pton(fam, a)), int(p), proto)


def main(path):
    try:
        data = open(path, "rb").read()
    except FileNotFoundError:
        print("none")
        return 0
    scal = dict(zip(SCALARS, ["false", "false", "false", "true", "0", "false"]))
    scope = "system"
    lists = {"Tunnel": [], "ExemptCgroup": [], "ScopedCgroup": []}
    tunnels = lists["Tunnel"]
    eps, version, pos = set(), None, 0
    while True:   # the snapshot
        nl = data.find(b"\n", pos)
        line, pos = (data[pos:], len(data)) if nl < 0 else (data[pos:nl], nl + 1)
        if not line and pos >= len(data):
            sys.exit("corrupt: no end")
        s = line.decode()
        if not s or s.startswith("#"):
            continue
        if version is None:
            version = {"version=1": 1, "version=2": 2}[s]
        elif s == "end":
            break
        else:
            k, _, v = s.partition("=")
            if k in lists:
                lists[k] += [] if v in lists[k] else [v]
            elif k == "Scope":
                scope = v
            elif k == "Endpoint":
                eps.add(canon(v))
            elif k in scal:
                scal[k] = v
            else:
                sys.exit("corrupt: %s" % s)
    if version == 1 and pos < len(data):
        sys.exit("corrupt: text after end")
    start, n = pos, 0
    while True:   # the changes, each closed by "commit N CRC"
        nl = data.find(b"\n", pos)
        if nl < 0:
            break   # unfinished: left out
        line, pos = data[pos:nl], nl + 1
        if not line.startswith(b"commit "):
            continue
        head = b"commit %d " % (n + 1)
        if line != head + b"%08x" % zlib.crc32(data[start:nl - 8]):
            if pos == len(data):
                break   # the last change, unfinished: left out
            sys.exit("corrupt: change %d does not check out" % (n + 1))
        for s in data[start:nl - len(line) - 1].decode().splitlines():
            k, _, v = s.partition("=")
            if k[:1] == "+" and k[1:] in lists and v not in lists[k[1:]]:
                lists[k[1:]].append(v)
            elif k[:1] == "-" and k[1:] in lists and v in lists[k[1:]]:
                lists[k[1:]].remove(v)
            elif k == "Scope":
                scope = v
            elif k == "+Endpoint" and canon(v) not in eps:
                eps.add(canon(v))
            elif k == "-Endpoint" and canon(v) in eps:
                eps.remove(canon(v))
            elif k in scal:
                scal[k] = v
            else:
                sys.exit("corrupt: change %d: %s" % (n + 1, s))
        n, start = n + 1, pos
    for k in SCALARS:
        print("%s=%s" % (k, scal[k]))
    if scope != "system":   # per-application rules: only when used, as the daemon writes them
        print("Scope=" + scope)
    for t in tunnels:
        print("Tunnel=" + t)
    for k in ("ExemptCgroup", "ScopedCgroup"):
        for p in lists[k]:
            print(k + "=" + p)
    for e in sorted(eps):
        print("Endpoint=" + e)
    return 0


sys.exit(main(sys.argv[1]))
PYEOF
}

# ks_boot NS DIR: run `killswitchd --boot`; exit status in KS_BOOT_RC,
# output in KS_BOOT_LOG.
ks_boot() {
    local ns=$1 dir=$2
    KS_BOOT_LOG=$KS_TMP/boot.$((++KS_SEQ)).log
    KS_BOOT_RC=0
    in_ns "$ns" "$KILLSWITCHD" --boot --state-dir "$dir" >"$KS_BOOT_LOG" 2>&1 || KS_BOOT_RC=$?
}

# start_bus: a private dbus-daemon standing in for the system bus, so the
# daemon never talks to the host's bus.
start_bus() {
    [[ -n $KS_BUS_PID ]] && return 0
    local sock=$KS_TMP/system_bus_socket
    # --nofork: it stays our child, tracked and stopped like the others.
    ks_spawn KS_BUS_PID "$KS_TMP/bus.log" dbus-daemon --nofork \
        --config-file="$KS_LIB_DIR/dbus-test.conf" --address="unix:path=$sock" --print-address=1
    wait_until 5 test -S "$sock" || ks_die "dbus-daemon did not start"
    export DBUS_SYSTEM_BUS_ADDRESS=unix:path=$sock
}

# start_daemon NS DIR [VAR]: start `killswitchd --state-dir DIR` in NS and
# wait (10 s at most) for READY=1 on its NOTIFY_SOCKET.  PID in VAR
# (default KS_DAEMON_PID).  Fails the setup if it dies or never gets ready.
start_daemon() {
    local ns=$1 dir=$2 __sd_var=${3:-KS_DAEMON_PID}
    local n=$((++KS_SEQ)) sock notes rpid dpid
    if command -v dbus-daemon >/dev/null; then
        start_bus
    else   # never let the daemon reach the host's system bus
        export DBUS_SYSTEM_BUS_ADDRESS=unix:path=$KS_TMP/no-bus
    fi
    sock=$KS_TMP/notify.$n
    notes=$KS_TMP/notify.$n.log
    KS_DAEMON_LOG=$KS_TMP/daemon.$n.log
    ks_spawn rpid "$notes" "$KS_PY" "$KS_NET" notify-wait --socket "$sock" --timeout 12
    wait_until 5 test -S "$sock" || ks_die "notify socket not bound"
    ks_spawn dpid "$KS_DAEMON_LOG" ip netns exec "$ns" env NOTIFY_SOCKET="$sock" \
        "$KILLSWITCHD" --state-dir "$dir"
    # Ready, dead, or 10 s.
    wait_until 10 ks_ready_or_dead "$notes" "$dpid" || true
    ks_stop_pid "$rpid"
    if ! grep -qx 'READY=1' "$notes"; then
        tail -n 20 "$KS_DAEMON_LOG" >&2
        if ks_is_ours "$dpid"; then
            ks_die "daemon (pid $dpid) did not send READY=1 within 10 s"
        fi
        ks_die "daemon exited before READY=1"
    fi
    printf -v "$__sd_var" '%s' "$dpid"
}
ks_ready_or_dead() { grep -qx 'READY=1' "$1" 2>/dev/null || ! ks_is_ours "$2"; }
kill_daemon() { ks_stop_pid "$1" KILL; }   # crash: kill -9

# daemon_apply DIR LINE...: make the client's kill switch use these settings.
# Today: stop the running daemon (the table stays), rewrite settings.conf,
# start a new daemon, which re-takes the table with the new settings.
daemon_apply() {
    local dir=$1; shift
    [[ -n ${KS_DAEMON_PID:-} ]] && stop_daemon "$KS_DAEMON_PID"
    write_settings "$dir" "$@"
    start_daemon "$KS_CLI" "$dir"
}
# Stop the daemon and remove the (then orphaned) table: back to no kill switch.
daemon_off() {
    [[ -n ${KS_DAEMON_PID:-} ]] && stop_daemon "$KS_DAEMON_PID"
    KS_DAEMON_PID=
    table_remove "$KS_CLI"
}

stop_daemon() { ks_stop_pid "$1" TERM; }

table_present() { in_ns "$1" nft list table inet killswitchd >/dev/null 2>&1; }
nft_table_json() { in_ns "$1" nft -j list table inet killswitchd; }
# The JSON without counter values (drops of background traffic move them),
# one object per line so that a difference is readable.
nft_table_shape() {
    nft_table_json "$1" | "$KS_PY" -c 'import json,sys
def strip(o):
    if isinstance(o, dict):
        return {k: strip(v) for k, v in o.items() if k not in ("packets", "bytes")}
    if isinstance(o, list):
        return [strip(v) for v in o]
    return o
for o in json.load(sys.stdin)["nftables"]:
    print(json.dumps(strip(o), sort_keys=True))'
}
expect_same_table() {   # DESC BEFORE AFTER
    if [[ $2 == "$3" ]]; then
        ks_pass "$1"
    else
        ks_fail "$1: differs:"
        diff <(echo "$2") <(echo "$3") | sed 's/^/    /' || true
    fi
}
# nft_other NS ARGS...: nft run as "another process" (a tamper attempt);
# its complaints go to a log, only the exit status matters.
nft_other() { local ns=$1; shift; in_ns "$ns" nft "$@" 2>>"$KS_TMP/nft-other.log"; }
# Remove an orphaned table (allowed: nobody owns it) between test phases.
table_remove() {
    table_present "$1" || return 0
    in_ns "$1" nft delete table inet killswitchd
}

# --------------------------------------------------------------------------
# Python helper: probes, the flood, the sd_notify receiver.

ks_write_net_helper() {
    KS_NET=$KS_TMP/ksnet.py
    cat >"$KS_NET" <<'PYEOF'
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Traffic helper for the killswitchd integration tests."""
import argparse, errno, json, os, select, signal, socket, struct, sys, time

SO_MARK = 36
V4, V6 = socket.AF_INET, socket.AF_INET6


def fam_of(addr):
    return V6 if ":" in addr else V4


def checksum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    s = (s >> 16) + (s & 0xFFFF)
    s += s >> 16
    return ~s & 0xFFFF


def echo_request(fam, ident, seq):
    kind = 8 if fam == V4 else 128
    payload = b"killswitchd-test"
    csum = checksum(struct.pack("!BBHHH", kind, 0, 0, ident, seq) + payload) if fam == V4 else 0
    return struct.pack("!BBHHH", kind, 0, csum, ident, seq) + payload


def is_echo_reply(fam, data, ident):
    if fam == V4:
        data = data[(data[0] & 0xF) * 4:]
    want = 0 if fam == V4 else 129
    return len(data) >= 8 and data[0] == want and struct.unpack("!H", data[4:6])[0] == ident


def new_socket(proto, fam, mark):
    if proto == "icmp":
        s = socket.socket(fam, socket.SOCK_RAW, socket.IPPROTO_ICMP if fam == V4 else socket.IPPROTO_ICMPV6)
    elif proto == "udp":
        s = socket.socket(fam, socket.SOCK_DGRAM)
    else:
        s = socket.socket(fam, socket.SOCK_STREAM)
    if mark:
        s.setsockopt(socket.SOL_SOCKET, SO_MARK, mark)
    return s


def probe_once(a, fam, seq):
    """Returns 'ok', 'replied' or an errno name."""
    s = new_socket(a.proto, fam, a.mark)
    try:
        if a.proto == "icmp":
            s.sendto(echo_request(fam, a.sport, seq), (a.dst, 0))
            end = time.monotonic() + a.timeout
            while (left := end - time.monotonic()) > 0:
                if not select.select([s], [], [], left)[0]:
                    break
                if is_echo_reply(fam, s.recv(2048), a.sport):
                    return "replied"
            return "ok"
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("::" if fam == V6 else "0.0.0.0", a.sport))
        if a.proto == "udp":
            s.sendto(b"killswitchd-probe", (a.dst, a.port))
            return "ok"
        # TCP: no RST lingering, no TIME_WAIT for the fixed source port.
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        s.setblocking(False)
        rc = s.connect_ex((a.dst, a.port))
        if rc not in (0, errno.EINPROGRESS):
            raise OSError(rc, os.strerror(rc))
        if select.select([], [s], [], a.timeout)[1]:
            rc = s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            if rc in (0, errno.ECONNREFUSED):
                return "replied"   # SYN-ACK or RST: the SYN got there
            raise OSError(rc, os.strerror(rc))
        return "ok"
    except OSError as e:
        return errno.errorcode.get(e.errno, str(e.errno))
    finally:
        s.close()


def cmd_probe(a):
    fam = fam_of(a.dst)
    res = {"sent": 0, "eperm": 0, "err": 0, "replied": 0}
    errs = set()
    for i in range(a.count):
        r = probe_once(a, fam, i)
        if r in ("ok", "replied"):
            res["sent"] += 1
            res["replied"] += r == "replied"
            if r == "replied" and a.until_reply:
                break
        elif r == "EPERM":
            res["eperm"] += 1
        else:
            res["err"] += 1
            errs.add(r)
    line = " ".join("%s=%d" % kv for kv in res.items())
    print(line + (" errors=" + ",".join(sorted(errs)) if errs else ""))


def cmd_flood(a):
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    signal.signal(signal.SIGINT, lambda *_: stop.append(1))
    stats = {}
    targets = [(fam_of(d), d) for d in a.dst]
    canaries = [(fam_of(d), d) for d in a.canary]

    def account(kind, fn):
        st = stats.setdefault(kind, {"sent": 0, "ok": 0, "eperm": 0, "err": 0})
        st["sent"] += 1
        try:
            fn()
            st["ok"] += 1
        except BlockingIOError:
            st["ok"] += 1
        except OSError as e:
            st["eperm" if e.errno == errno.EPERM else "err"] += 1

    udp = {V4: socket.socket(V4, socket.SOCK_DGRAM), V6: socket.socket(V6, socket.SOCK_DGRAM)}
    icmp = {V4: new_socket("icmp", V4, 0), V6: new_socket("icmp", V6, 0)}
    for s in list(udp.values()) + list(icmp.values()):
        s.setblocking(False)
    pending = []

    def tcp_syn(fam, dst):
        s = socket.socket(fam, socket.SOCK_STREAM)
        s.setblocking(False)
        pending.append(s)
        rc = s.connect_ex((dst, 80))
        if rc not in (0, errno.EINPROGRESS):
            raise OSError(rc, os.strerror(rc))

    def write_stats():
        tmp = a.stats + ".tmp"
        with open(tmp, "w") as f:
            json.dump(stats, f)
        os.rename(tmp, a.stats)

    period = 1.0 / a.rate
    tick, nxt, last_write = 0, time.monotonic(), 0.0
    while not stop:
        for fam, d in targets:
            v = "4" if fam == V4 else "6"
            account("udp" + v, lambda: udp[fam].sendto(b"flood", (d, 9)))
            if tick % 10 == 0:
                account("icmp" + v, lambda: icmp[fam].sendto(echo_request(fam, 4242, tick & 0xFFFF), (d, 0)))
                account("tcp" + v, lambda: tcp_syn(fam, d))
        for fam, d in canaries:
            v = "4" if fam == V4 else "6"
            account("canary" + v, lambda: udp[fam].sendto(b"canary", (d, 9)))
        if tick % 10 == 0:
            for s in pending[:-2 * len(targets)]:
                s.close()
            del pending[:-2 * len(targets)]
            for s in icmp.values():      # drain replies
                while select.select([s], [], [], 0)[0]:
                    s.recv(2048)
        now = time.monotonic()
        if now - last_write > 0.05:
            write_stats()
            last_write = now
        tick += 1
        nxt += period
        time.sleep(max(0.0, nxt - time.monotonic()))
    write_stats()


def cmd_notify_wait(a):
    """Receive sd_notify datagrams, log them one per line, exit at READY=1."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    tmp = a.socket + ".tmp"
    s.bind(tmp)
    os.rename(tmp, a.socket)   # appears only once bound
    end = time.monotonic() + a.timeout
    while (left := end - time.monotonic()) > 0:
        if not select.select([s], [], [], left)[0]:
            break
        msg = s.recv(65536).decode(errors="replace")
        with open("/dev/stdout", "a") as out:
            for line in msg.splitlines():
                print(line, file=out, flush=True)
        if "READY=1" in msg.splitlines():
            return 0
    return 1


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    pr = sub.add_parser("probe")
    pr.add_argument("--proto", choices=["udp", "tcp", "icmp"], required=True)
    pr.add_argument("--dst", required=True)
    pr.add_argument("--port", type=int, default=0)
    pr.add_argument("--sport", type=int, default=47000)
    pr.add_argument("--mark", type=lambda x: int(x, 0), default=0)
    pr.add_argument("--count", type=int, default=1)
    pr.add_argument("--timeout", type=float, default=0.3)
    pr.add_argument("--until-reply", action="store_true")
    fl = sub.add_parser("flood")
    fl.add_argument("--stats", required=True)
    fl.add_argument("--dst", action="append", default=[])
    fl.add_argument("--canary", action="append", default=[])
    fl.add_argument("--rate", type=float, default=100.0)
    nw = sub.add_parser("notify-wait")
    nw.add_argument("--socket", required=True)
    nw.add_argument("--timeout", type=float, default=10)
    a = p.parse_args()
    if a.cmd == "probe":
        cmd_probe(a)
    elif a.cmd == "flood":
        cmd_flood(a)
    else:
        sys.exit(cmd_notify_wait(a))


main()
PYEOF
}


# SPDX-License-Identifier: LGPL-2.1-or-later
# shellcheck shell=bash
#
# Helpers for the tests of live network awareness and tamper defence, on top
# of lib.sh: the daemon's properties and signals on the private bus, the
# daemon in monitor mode, extra veth links between the client and server
# namespaces, probe counters on every interface of the server namespace, and
# the kernel's LAN sets.
#
# Sourced by test_tunnel_flap.sh, test_lan_live.sh, test_uplink.sh and
# test_tamper_monitor.sh (it sources lib.sh itself).
#
# SAFETY: as in lib.sh, nothing here touches the root network namespace.

source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

KS_BUS_SERVICE=org.killswitchd.KillSwitch1
KS_BUS_OBJECT=/org/killswitchd/KillSwitch1
KS_BUS_IFACE=org.killswitchd.KillSwitch1
# A signal the tests send themselves: seeing it come back proves the monitor
# is subscribed, so nothing the daemon sends after that can be missed.
KS_MARK_OBJECT=/org/killswitchd/Test
KS_MARK_IFACE=org.killswitchd.Test

# --------------------------------------------------------------------------
# The bus

# net_bus: the private bus.  Its PID is also given a start time, so that the
# cleanup, which stops only processes it can identify, stops it too.
net_bus() {
    command -v busctl >/dev/null || ks_die "missing tool: busctl"
    start_bus
    [[ -n ${KS_PID_START[$KS_BUS_PID]:-} ]] || KS_PID_START[$KS_BUS_PID]=$(ks_pid_start "$KS_BUS_PID")
}

bus() { busctl --address "$DBUS_SYSTEM_BUS_ADDRESS" "$@"; }

# prop NAME: the daemon's property as compact JSON ("monitor", true,
# ["a","b"]), or "error: ..." when it cannot be read (the daemon is gone).
prop() {
    local out
    if out=$(bus --json=short get-property "$KS_BUS_SERVICE" "$KS_BUS_OBJECT" "$KS_BUS_IFACE" "$1" 2>&1); then
        "$KS_PY" -c 'import json,sys; print(json.dumps(json.load(sys.stdin)["data"], separators=(",", ":")))' <<<"$out"
    else
        echo "error: $out"
    fi
}
prop_is() { [[ $(prop "$1") == "$2" ]]; }   # NAME WANT

# expect_prop DESC NAME WANT [TIMEOUT]: the property becomes WANT within
# TIMEOUT seconds (default 3): the daemon follows the network asynchronously.
expect_prop() {
    local desc=$1 name=$2 want=$3 timeout=${4:-3}
    wait_until "$timeout" prop_is "$name" "$want" || true
    expect_eq "$desc: $name" "$(prop "$name")" "$want"
}

# --------------------------------------------------------------------------
# Signals

# sig_start: record, from now on, every signal of the daemon's interface
# (one JSON object a line in KS_SIG_LOG).  Returns once the monitor is
# subscribed.
sig_start() {
    net_bus
    KS_SIG_LOG=$KS_TMP/signals.$((++KS_SEQ)).log
    ks_spawn KS_SIG_PID "$KS_SIG_LOG" busctl --address "$DBUS_SYSTEM_BUS_ADDRESS" monitor --json=short \
        --match "type='signal',interface='$KS_BUS_IFACE'" \
        --match "type='signal',interface='$KS_MARK_IFACE'"
    wait_until 5 ks_sig_marked || ks_die "busctl monitor did not start"
}
ks_sig_marked() {
    bus emit "$KS_MARK_OBJECT" "$KS_MARK_IFACE" Mark
    grep -q '"member":"Mark"' "$KS_SIG_LOG"
}
sig_stop() { ks_stop_pid "$KS_SIG_PID" TERM; }

# sig_count MEMBER: how many MEMBER signals were recorded.
sig_count() {
    local n
    n=$(grep -c "\"interface\":\"$KS_BUS_IFACE\",\"member\":\"$1\"" "$KS_SIG_LOG") || true
    echo "${n:-0}"
}

# sig_args MEMBER [FROM]: the arguments of each MEMBER signal, in order, one
# compact JSON array a line (["wg0",false]); FROM skips the first FROM.
sig_args() {
    "$KS_PY" -c 'import json,sys
n=0
for line in open(sys.argv[1]):
    try:
        m=json.loads(line)
    except ValueError:
        continue
    if m.get("interface")==sys.argv[2] and m.get("member")==sys.argv[3]:
        n+=1
        if n>int(sys.argv[4]):
            print(json.dumps(m["payload"]["data"], separators=(",", ":")))' \
        "$KS_SIG_LOG" "$KS_BUS_IFACE" "$1" "${2:-0}"
}

# sig_wait MEMBER N [TIMEOUT]: wait (polling every 10 ms, 2 s by default)
# until N MEMBER signals were recorded in all.
sig_wait() {
    local member=$1 n=$2 timeout=${3:-2}
    local deadline=$(( ${EPOCHREALTIME/./} + ${timeout%.*} * 1000000 ))
    until (($(sig_count "$member") >= n)); do
        (( ${EPOCHREALTIME/./} < deadline )) || return 1
        ks_nap 0.01
    done
}
# ks_nap SECONDS: sleep without starting a process (a read that times out on
# a pipe nobody writes to), which matters when polling hundreds of times.
ks_nap() {
    [[ -n ${KS_NAP_FD:-} ]] || exec {KS_NAP_FD}<> <(:)
    read -rt "$1" -u "$KS_NAP_FD" _ || true
}

# --------------------------------------------------------------------------
# The daemon

# start_daemon_monitor NS DIR [VAR]: start_daemon with --protection=monitor
# (through a wrapper that execs the daemon, so the PID stays the daemon's).
start_daemon_monitor() {
    local wrapper=$KS_TMP/killswitchd-monitor
    printf '#!/bin/sh\nexec %q --protection=monitor "$@"\n' "$KILLSWITCHD" >"$wrapper"
    chmod +x "$wrapper"
    KILLSWITCHD=$wrapper start_daemon "$@"
}

# table_shape NS: nft_table_shape without the table's own handle.  A table
# that was deleted and restored is a new table with a new handle; its
# chains, sets and rules are created in the same order, so everything else,
# their handles included, must be as it was.
table_shape() {
    nft_table_shape "$1" | sed -E 's/^(\{"table": \{"family": "inet", )"handle": [0-9]+, /\1/'
}

# --------------------------------------------------------------------------
# Extra links and probe counters

# net_counters_install: count, per interface of the server namespace, the
# probe packets (source port or echo id KS_PROBE_PORT) that arrive there, and
# all of them together in "any".  lib.sh's counters watch only veths and the
# tunnel; these also see the links a test adds.
net_counters_install() {
    in_ns "$KS_SRV" nft -f - <<EOF
table inet ksnet {
    counter any { }
    chain pre {
        type filter hook prerouting priority -399; policy accept;
        iifname "lo" return
        meta l4proto { tcp, udp } th sport $KS_PROBE_PORT jump probe
        icmp type echo-request icmp id $KS_PROBE_PORT jump probe
        icmpv6 type echo-request icmpv6 id $KS_PROBE_PORT jump probe
    }
    chain probe {
        counter name "any"
    }
}
EOF
    net_counter_add veths
}

# net_counter_add IFNAME: a counter for probes arriving on that server link.
net_counter_add() {
    in_ns "$KS_SRV" nft add counter inet ksnet "in_$1"
    in_ns "$KS_SRV" nft add rule inet ksnet probe iifname "$1" counter name "in_$1"
}

net_count() {   # COUNTER: packets
    in_ns "$KS_SRV" nft -j list counter inet ksnet "$1" |
        "$KS_PY" -c 'import json,sys
print(sum(o["counter"]["packets"] for o in json.load(sys.stdin)["nftables"] if "counter" in o))'
}
net_counters_reset() { in_ns "$KS_SRV" nft reset counters table inet ksnet >/dev/null; }

# addr_add NS DEV ADDR/LEN: IPv6 without duplicate address detection (as in
# lib.sh), so that it is usable at once.
addr_add() {
    if [[ $3 == *:* ]]; then ip -n "$1" addr add "$3" dev "$2" nodad; else ip -n "$1" addr add "$3" dev "$2"; fi
}

# link_add CLIENT_IF SERVER_IF CLIENT_ADDR... -- SERVER_ADDR...: a veth from
# the client namespace to the server namespace, up on both sides.
link_add() {
    local cif=$1 sif=$2 a side=cli; shift 2
    ip -n "$KS_CLI" link add "$cif" type veth peer name "$sif" netns "$KS_SRV"
    for a in "$@"; do
        if [[ $a == -- ]]; then side=srv; continue; fi
        if [[ $side == cli ]]; then addr_add "$KS_CLI" "$cif" "$a"; else addr_add "$KS_SRV" "$sif" "$a"; fi
    done
    ip -n "$KS_SRV" link set "$sif" up
    ip -n "$KS_CLI" link set "$cif" up
}

# expect_reaches DESC PROTO DST PORT SERVER_IF: the probe arrives on that
# server link.
expect_reaches() {
    local desc=$1 proto=$2 dst=$3 port=$4 sif=$5 got
    net_counters_reset
    probe "$KS_CLI" "$proto" "$dst" "$port" --count 3
    got=$(net_count "in_$sif")
    if ((got >= 1)); then
        ks_pass "$desc: $proto to $dst port $port arrives on $sif ($got packets; $PROBE_LINE)"
    else
        ks_fail "$desc: $proto to $dst port $port should arrive on $sif (0 packets, $(net_count any) anywhere; $PROBE_LINE)"
    fi
}

# expect_stopped DESC PROTO DST PORT: nothing of the probe arrives anywhere
# in the server namespace, and the client's UDP and ICMP get EPERM.
expect_stopped() {
    local desc=$1 proto=$2 dst=$3 port=$4 got
    net_counters_reset
    probe "$KS_CLI" "$proto" "$dst" "$port" --count "$([[ $proto == tcp ]] && echo 1 || echo 3)" --timeout 0.1
    got=$(net_count any)
    if ((got == 0)) && { [[ $proto == tcp ]] || ((PROBE_EPERM >= 1)); }; then
        ks_pass "$desc: $proto to $dst port $port blocked (0 packets arrived; $PROBE_LINE)"
    else
        ks_fail "$desc: $proto to $dst port $port should be blocked ($got packets arrived; $PROBE_LINE)"
    fi
}

# --------------------------------------------------------------------------
# The kernel's LAN sets

# lan_kernel: the elements of the client's lan4 and lan6 sets as sorted
# CIDRs, comma-separated, without the link-local multicast prefixes the
# table always has (LanSubnets does not list them).
lan_kernel() {
    { in_ns "$KS_CLI" nft -j list set inet killswitchd lan4
      in_ns "$KS_CLI" nft -j list set inet killswitchd lan6; } | "$KS_PY" -c 'import json,sys
out=[]
for doc in sys.stdin:
    for o in json.loads(doc)["nftables"]:
        for e in o.get("set", {}).get("elem", []):
            if isinstance(e, dict) and "prefix" in e:
                out.append("%s/%d" % (e["prefix"]["addr"], e["prefix"]["len"]))
            elif isinstance(e, dict) and "range" in e:
                out.append("%s-%s" % tuple(e["range"]))
            else:
                out.append("%s/%d" % (e, 128 if ":" in str(e) else 32))
print(",".join(sorted(c for c in out if c not in ("224.0.0.0/24", "ff02::/16"))))'
}

# lan_prop: LanSubnets, sorted, comma-separated.
lan_prop() {
    prop LanSubnets | "$KS_PY" -c 'import json,sys
text=sys.stdin.read()
try:
    print(",".join(sorted(json.loads(text))))
except ValueError:
    print(text.strip())'
}

# expect_lan DESC CIDR...: LanSubnets becomes exactly these (3 s at most),
# and the kernel's sets hold exactly these.
expect_lan() {
    local desc=$1 want; shift
    want=$(printf '%s\n' "$@" | LC_ALL=C sort | paste -sd, -)
    wait_until 3 ks_lan_is "$want" || true
    expect_eq "$desc: LanSubnets" "$(lan_prop)" "$want"
    expect_eq "$desc: lan4 and lan6 in the kernel" "$(lan_kernel)" "$want"
}
ks_lan_is() { [[ $(lan_prop) == "$1" ]]; }

# SPDX-License-Identifier: LGPL-2.1-or-later
# shellcheck shell=bash
#
# Helpers for the hostile-network tests (test_hostile_spoof.sh,
# test_hostile_side.sh): a Python packet forger (Ethernet frames on packet
# sockets, raw ICMPv6 neighbour solicitations, UDP with device binding), a
# UDP echo server, per-test frame counters in a netdev ingress chain on the
# server's side of a link (they see every frame, whatever its checksums or
# protocol), and a way to run the probes of lib.sh as user nobody.  Sources
# lib-bus.sh (and so lib.sh).
#
# SAFETY: as lib.sh: namespaces only, processes stopped by their PIDs.

# shellcheck disable=SC2034 # names and results are for the tests that source this
source "$(dirname "${BASH_SOURCE[0]}")/lib-bus.sh"

# hx_init NAME: ks_init, the tools, the Python helper, the nobody wrapper.
hx_init() {
    ks_init "$1"
    local tool
    for tool in dbus-daemon busctl setpriv; do
        command -v "$tool" >/dev/null || ks_die "missing tool: $tool"
    done
    hx_write_helper
    # lib.sh's probe runs "$KS_PY" "$KS_NET": a wrapper in KS_PY's place
    # runs it as nobody (KS_PY=$HX_PY_NOBODY expect_blocked ...).
    HX_PY_NOBODY=$KS_TMP/python-as-nobody
    printf '#!/bin/sh\nexec setpriv --reuid=65534 --regid=65534 --clear-groups %q "$@"\n' "$KS_PY" >"$HX_PY_NOBODY"
    chmod 755 "$HX_PY_NOBODY"
    chmod o+x "$KS_TMP"   # nobody reads ksnet.py in it
}

# hx_py NS ARGS...: the helper in NS.  It always exits 0 and prints one line.
hx_py() { local ns=$1; shift; in_ns "$ns" "$KS_PY" "$HX_PY" "$@"; }

# hx_mac NS DEV: the link's MAC address.
hx_mac() { in_ns "$1" cat "/sys/class/net/$2/address"; }

# --------------------------------------------------------------------------
# Frame counters on the far side: table netdev kshostile in NS.

# hx_counters NS DEV NAME=MATCH...: one counter per NAME, bumped by a rule
# "MATCH counter name NAME" in an ingress chain of DEV (created on first use).
hx_counters() {
    local ns=$1 dev=$2 kv name match script; shift 2
    script="add table netdev kshostile"$'\n'
    script+="add chain netdev kshostile in_$dev { type filter hook ingress device \"$dev\" priority -500; policy accept; }"$'\n'
    for kv in "$@"; do
        name=${kv%%=*} match=${kv#*=}
        script+="add counter netdev kshostile $name"$'\n'
        script+="add rule netdev kshostile in_$dev $match counter name \"$name\""$'\n'
    done
    in_ns "$ns" nft -f - <<<"$script" || ks_die "hx_counters: nft refused the counters on $dev"
    HX_COUNT_NS=$ns
}
# hx_count NAME...: the sum of these counters (packets).
hx_count() {
    in_ns "$HX_COUNT_NS" nft list counters table netdev kshostile |
        awk -v want=" $* " '$1 == "counter" { name = $2 }
            $1 == "packets" && index(want, " " name " ") { t += $2 }
            END { print t + 0 }'
}
hx_counted() { (($(hx_count "$@") > 0)); }
# Both the frame counters and lib.sh's.
hx_reset() {
    in_ns "$HX_COUNT_NS" nft reset counters table netdev kshostile >/dev/null
    counters_reset
}

# hx_expect arrives|blocked DESC COUNTER CMD...: reset the counters, run CMD
# (a sender; its one-line report is shown), then COUNTER must have moved
# (arrives, waited for up to 2 s) or still be 0 (blocked, after 0.3 s).
hx_expect() {
    local how=$1 desc=$2 ctr=$3 out got; shift 3
    hx_reset
    out=$("$@" 2>&1 || true)
    out=${out//$'\n'/; }
    if [[ $how == arrives ]]; then
        wait_until 2 hx_counted "$ctr" || true
    else
        sleep 0.3
    fi
    got=$(hx_count "$ctr")
    if [[ $how == arrives ]]; then
        if ((got >= 1)); then ks_pass "$desc: arrives ($ctr=$got; $out)"
        else ks_fail "$desc: should arrive ($ctr=0; $out)"; fi
    else
        if ((got == 0)); then ks_pass "$desc: blocked ($ctr=0; $out)"
        else ks_fail "$desc: should be blocked ($ctr=$got arrived; $out)"; fi
    fi
}

# --------------------------------------------------------------------------
# The kill switch's tables, for the log of a failure.

hx_dump_ruleset() {   # NS
    echo "---- nft list ruleset in $1"
    in_ns "$1" nft list ruleset 2>&1 | sed 's/^/    /'
}

# --------------------------------------------------------------------------
# Python helper

hx_write_helper() {
    HX_PY=$KS_TMP/hostile.py
    cat >"$HX_PY" <<'PYEOF'
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Packet forger and echo server for the hostile-network tests."""
import argparse, errno, os, select, socket, struct, sys, time

V4, V6 = socket.AF_INET, socket.AF_INET6
SOL_PACKET, PACKET_QDISC_BYPASS = 263, 20
ICMPV6_ND_OPT_EXPERIMENT = 253   # RFC 4727: ignored by receivers, tags our NS


def fam_of(addr):
    return V6 if ":" in addr else V4


def checksum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s >> 16) + (s & 0xFFFF)
    return ~s & 0xFFFF


def mac(s):
    return bytes(int(x, 16) for x in s.split(":"))


def l4_checksum(src, dst, proto, seg):
    fam = fam_of(dst)
    a, b = socket.inet_pton(fam, src), socket.inet_pton(fam, dst)
    if fam == V4:
        pseudo = a + b + struct.pack("!BBH", 0, proto, len(seg))
    else:
        pseudo = a + b + struct.pack("!I3xB", len(seg), proto)
    c = checksum(pseudo + seg)
    return 0xFFFF if c == 0 and proto == socket.IPPROTO_UDP else c


def udp_segment(src, dst, sport, dport, payload):
    seg = struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload
    c = l4_checksum(src, dst, socket.IPPROTO_UDP, seg)
    return seg[:6] + struct.pack("!H", c) + seg[8:]


def tcp_syn(src, dst, sport, dport, seq):
    seg = struct.pack("!HHIIBBHHH", sport, dport, seq, 0, 5 << 4, 0x02, 64240, 0, 0)
    c = l4_checksum(src, dst, socket.IPPROTO_TCP, seg)
    return seg[:16] + struct.pack("!H", c) + seg[18:]


def ip_packet(src, dst, proto, seg, ident=0):
    if fam_of(dst) == V4:
        h = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(seg), ident, 0x4000, 64, proto, 0,
                        socket.inet_pton(V4, src), socket.inet_pton(V4, dst))
        return h[:10] + struct.pack("!H", checksum(h)) + h[12:] + seg, 0x0800
    h = struct.pack("!IHBB16s16s", 6 << 28, len(seg), proto, 64,
                    socket.inet_pton(V6, src), socket.inet_pton(V6, dst))
    return h + seg, 0x86DD


def dhcp_discover(chaddr, xid):
    bootp = struct.pack("!BBBBIHH4s4s4s4s16s64s128s", 1, 1, 6, 0, xid, 0, 0x8000,
                        b"\0" * 4, b"\0" * 4, b"\0" * 4, b"\0" * 4, chaddr, b"", b"")
    return bootp + bytes([99, 130, 83, 99, 53, 1, 1, 255])


def build_frame(a, i):
    """Ethernet frame and its ethertype."""
    src_mac, dst_mac = mac(a.src_mac), mac(a.dst_mac)
    payload = a.payload.encode()
    if a.kind == "arp":
        body = struct.pack("!HHBBH6s4s6s4s", 1, 0x0800, 6, 4, 1, src_mac, socket.inet_pton(V4, a.src),
                           b"\0" * 6, socket.inet_pton(V4, a.dst))
        return dst_mac + src_mac + struct.pack("!H", 0x0806) + body, 0x0806
    if a.kind == "dhcp-discover":
        seg = udp_segment("0.0.0.0", "255.255.255.255", 68, 67, dhcp_discover(src_mac, 0x4B530000 + i))
        pkt, et = ip_packet("0.0.0.0", "255.255.255.255", socket.IPPROTO_UDP, seg, i)
        return b"\xff" * 6 + src_mac + struct.pack("!H", et) + pkt, et
    if a.kind == "udp":
        seg = udp_segment(a.src, a.dst, a.sport, a.dport, payload)
        pkt, et = ip_packet(a.src, a.dst, socket.IPPROTO_UDP, seg, i)
    else:
        seg = tcp_syn(a.src, a.dst, a.sport, a.dport, 0x4B530000 + i)
        pkt, et = ip_packet(a.src, a.dst, socket.IPPROTO_TCP, seg, i)
    return dst_mac + src_mac + struct.pack("!H", et) + pkt, et


def report(sent, errs):
    line = "sent=%d err=%d" % (sent, len(errs))
    if errs:
        line += " errors=" + ",".join(sorted(set(errs)))
    print(line)


def cmd_frame(a):
    """Hand-made Ethernet frames on an AF_PACKET SOCK_RAW socket."""
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, 0)
    if a.bypass:
        s.setsockopt(SOL_PACKET, PACKET_QDISC_BYPASS, 1)
    sent, errs = 0, []
    for i in range(a.count):
        frame, et = build_frame(a, i)
        proto = et if a.sll_proto is None else a.sll_proto
        try:
            s.sendto(frame, (a.dev, proto))
            sent += 1
        except OSError as e:
            errs.append(errno.errorcode.get(e.errno, str(e.errno)))
    report(sent, errs)


def cmd_udp(a):
    """UDP from a fixed (privileged) source port, optionally bound to a device."""
    fam = fam_of(a.dst)
    sent, errs = 0, []
    for _ in range(a.count):
        s = socket.socket(fam, socket.SOCK_DGRAM)
        try:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if a.dev:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, a.dev.encode())
            if a.broadcast:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
            if fam == V4:
                s.bind(("0.0.0.0", a.sport))
                s.sendto(b"killswitchd-hostile", (a.dst, a.port))
            else:
                scope = socket.if_nametoindex(a.dev) if a.dev else 0
                s.bind(("::", a.sport, 0, 0))
                s.sendto(b"killswitchd-hostile", (a.dst, a.port, 0, scope))
            sent += 1
        except OSError as e:
            errs.append(errno.errorcode.get(e.errno, str(e.errno)))
        finally:
            s.close()
    report(sent, errs)


def cmd_ns(a):
    """ICMPv6 neighbour solicitations with a chosen hop limit (the kernel fills the checksum)."""
    s = socket.socket(V6, socket.SOCK_RAW, socket.IPPROTO_ICMPV6)
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_UNICAST_HOPS, a.hops)
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_HOPS, a.hops)
    sent, errs = 0, []
    for i in range(a.count):
        msg = struct.pack("!BBHI16s", 135, 0, 0, 0, socket.inet_pton(V6, a.target))
        msg += struct.pack("!BB6s", ICMPV6_ND_OPT_EXPERIMENT, 1, b"kshx%02d" % i)
        try:
            s.sendto(msg, (a.dst, 0))
            sent += 1
        except OSError as e:
            errs.append(errno.errorcode.get(e.errno, str(e.errno)))
    report(sent, errs)


def cmd_echo(a):
    """UDP echo (IPv4 and IPv6) and a TCP listener on one port; logs each datagram."""
    socks = []
    for fam, any_ in ((V4, "0.0.0.0"), (V6, "::")):
        u = socket.socket(fam, socket.SOCK_DGRAM)
        t = socket.socket(fam, socket.SOCK_STREAM)
        for s in (u, t):
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if fam == V6:
                s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            s.bind((any_, a.port))
        t.listen(16)
        socks += [u, t]
    log = open(a.log, "a", buffering=1)
    open(a.ready, "w").close()
    while True:
        for s in select.select(socks, [], [])[0]:
            if s.type == socket.SOCK_STREAM:
                c, peer = s.accept()
                print("tcp from %s" % peer[0], file=log)
                c.close()
                continue
            data, peer = s.recvfrom(2048)
            print("udp %s from %s port %d" % (data.decode(errors="replace"), peer[0], peer[1]), file=log)
            try:
                s.sendto(b"echo " + data, peer)
            except OSError as e:
                print("reply failed: %s" % errno.errorcode.get(e.errno, e.errno), file=log)


def cmd_refused(a):
    """A connected UDP socket sends once and waits: "refused" when an ICMP port
    unreachable came back (ECONNREFUSED), else "silent"."""
    s = socket.socket(fam_of(a.dst), socket.SOCK_DGRAM)
    s.settimeout(a.timeout)
    try:
        s.connect((a.dst, a.port))
        s.send(b"killswitchd-hostile")
        s.recv(64)
        print("answered")
    except ConnectionRefusedError:
        print("refused")
    except (socket.timeout, OSError):
        print("silent")
    finally:
        s.close()


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    f = sub.add_parser("frame")
    f.add_argument("--dev", required=True)
    f.add_argument("--kind", choices=["udp", "tcp-syn", "arp", "dhcp-discover"], required=True)
    f.add_argument("--src-mac", required=True)
    f.add_argument("--dst-mac", default="ff:ff:ff:ff:ff:ff")
    f.add_argument("--src", default="0.0.0.0")
    f.add_argument("--dst", default="255.255.255.255")
    f.add_argument("--sport", type=int, default=0)
    f.add_argument("--dport", type=int, default=0)
    f.add_argument("--payload", default="killswitchd-hostile")
    f.add_argument("--count", type=int, default=3)
    f.add_argument("--sll-proto", type=lambda x: int(x, 0), default=None)
    f.add_argument("--bypass", action="store_true")
    u = sub.add_parser("udp")
    u.add_argument("--dst", required=True)
    u.add_argument("--port", type=int, required=True)
    u.add_argument("--sport", type=int, required=True)
    u.add_argument("--dev", default="")
    u.add_argument("--broadcast", action="store_true")
    u.add_argument("--count", type=int, default=3)
    n = sub.add_parser("ns")
    n.add_argument("--dst", required=True)
    n.add_argument("--target", required=True)
    n.add_argument("--hops", type=int, required=True)
    n.add_argument("--count", type=int, default=3)
    e = sub.add_parser("echo")
    e.add_argument("--port", type=int, required=True)
    e.add_argument("--log", required=True)
    e.add_argument("--ready", required=True)
    r = sub.add_parser("refused")
    r.add_argument("--dst", required=True)
    r.add_argument("--port", type=int, required=True)
    r.add_argument("--timeout", type=float, default=1.0)
    a = p.parse_args()
    try:
        {"frame": cmd_frame, "udp": cmd_udp, "ns": cmd_ns, "echo": cmd_echo,
         "refused": cmd_refused}[a.cmd](a)
    except OSError as ex:   # setup failures: reported, never a shell error
        print("error=%s" % errno.errorcode.get(ex.errno, str(ex)))


main()
PYEOF
}

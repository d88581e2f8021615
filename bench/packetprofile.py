# SPDX-License-Identifier: LGPL-2.1-or-later
"""Reduces one system-wide `perf record -g -e cpu-clock` of the packet path to "key value" lines.

Usage: perf script -F comm,pid,tid,period,ip,sym | packetprofile.py PREFIX SENDER_PID [OTHER_PID[:NAME]...]

Only the samples of the processes that carry the packets are kept: the sender (SENDER_PID:
`ks-bench blast` or the `iperf3` client, where the output, postrouting and egress hooks run, and
the receiving side's softirq when it runs in the sender's context), each OTHER_PID (the client's
wireguard-go, which encrypts and sends the datagram on; the `iperf3` server), grouped under NAME
(default: wireguard-go), and the kernel's softirq threads (`ksoftirqd/N`, when they carry the
network's receive work). With `-e cpu-clock` the period of
a sample is the nanoseconds of CPU time it stands for, so the sums below are CPU time.

Every line is "PREFIX|WHAT|... NANOSECONDS" (report.py divides by the packets sent):

  PREFIX|total|GROUP                 all of a group's samples (sender, each NAME, ksoftirqd)
  PREFIX|hook|HOOK|PART              time inside a netfilter hook (nf_hook_slow), by hook (the
                                     function that called nf_hook_slow tells which: __ip_local_out
                                     is output, ip_output postrouting, __dev_queue_xmit the
                                     netdev egress hook, ...) and by what ran there: nftables
                                     (nft_do_chain), conntrack (nf_conntrack_in, nf_confirm) or
                                     the hook machinery itself
  PREFIX|hookg|GROUP|HOOK|PART       the same by group: through WireGuard, the sender's packet goes
                                     into the tunnel, wireguard-go's to the endpoint
  PREFIX|self|FUNCTION               own time of the hottest functions inside the hooks
  PREFIX|selfall|FUNCTION            own time of the hottest functions of the whole path
  PREFIX|backend|FUNCTION|GROUP|HOOK time in a set backend's lookup function (inclusive)
"""
import collections
import re
import sys

PREFIX = sys.argv[1]
SENDER = sys.argv[2]
OTHERS = {}
for arg in sys.argv[3:]:
    pid, _, name = arg.partition(":")
    OTHERS[pid] = name or "wireguard-go"

HEADER = re.compile(r"^(\S.*?)\s+(\d+)/(\d+)\s+(\d+)\s*:?\s*$")
FRAME = re.compile(r"^\s+([0-9a-f]+)\s+(\S+)")

HOOK_OF_CALLER = {
    "__ip_local_out": "output", "ip_local_out": "output",
    "ip_output": "postrouting", "ip_mc_output": "postrouting", "ip_finish_output": "postrouting",
    "ip_rcv": "prerouting", "ip_list_rcv": "prerouting", "ip_sublist_rcv": "prerouting",
    "ip_local_deliver": "input", "ip_forward": "forward",
    "__ip6_local_out": "output6", "ip6_output": "postrouting6", "ipv6_rcv": "prerouting6",
    "ipv6_list_rcv": "prerouting6", "ip6_input": "input6", "ip6_forward": "forward6",
    "__dev_queue_xmit": "egress", "nf_hook_egress": "egress",
    "sch_handle_egress": "egress", "dev_queue_xmit": "egress",
    "__netif_receive_skb_core": "ingress", "nf_hook_ingress": "ingress",
    "__netif_receive_skb_one_core": "ingress",
}
CONNTRACK = ("nf_conntrack_in", "ipv4_conntrack", "ipv6_conntrack", "nf_confirm", "ipv4_confirm",
             "ipv6_confirm", "__nf_conntrack_confirm", "nf_ct_", "__nf_ct_", "resolve_normal_ct",
             "nf_conntrack_")
# The lookup functions of the set backends (net/netfilter/nft_set_*.c). Interval sets of one
# field: rbtree (since Linux 6.18 looked up by binary search in an array built at commit:
# nft_array_lookup_cmp); concatenations with intervals: pipapo (its AVX2 version where the CPU
# has it); exact keys: hash (rhash, resizable; hash, fixed size; hash_fast, 4-byte keys) or
# bitmap (keys of at most 2 bytes).
BACKEND = re.compile(r"^(nft_rbtree_lookup|nft_array_lookup_cmp|nft_pipapo_lookup|nft_pipapo_avx2_lookup"
                     r"|pipapo_get\w*|nft_rhash_lookup|nft_hash_lookup|nft_hash_lookup_fast|nft_bitmap_lookup"
                     r"|nft_rhash_key|nft_rhash_cmp)$")


def base(sym):
    return sym.split("+", 1)[0]


total = collections.Counter()
hooks = collections.Counter()
hooks_by_group = collections.Counter()
self_hook = collections.Counter()
self_all = collections.Counter()
backends = collections.Counter()


def group_of(comm, pid):
    if pid == SENDER:
        return "sender"
    if pid in OTHERS:
        return OTHERS[pid]
    if comm.startswith("ksoftirqd/"):
        return "ksoftirqd"
    return None


def account(group, period, frames):
    if group == "ksoftirqd" and "net_rx_action" not in frames and "net_tx_action" not in frames:
        return   # another subsystem's softirq work
    total[group] += period
    leaf = frames[0] if frames else "[unknown]"
    self_all[leaf] += period
    hook_at = None
    for i, f in enumerate(frames):
        if f in ("nf_hook_slow", "nf_hook_slow_list"):
            hook_at = i
            break
    if hook_at is None:
        return
    caller = frames[hook_at + 1] if hook_at + 1 < len(frames) else "?"
    hook = HOOK_OF_CALLER.get(caller, "from:" + caller)
    inner = frames[:hook_at]
    if any(f.startswith("nft_do_chain") for f in inner):
        part = "nftables"
    elif any(f.startswith(CONNTRACK) for f in inner):
        part = "conntrack"
    else:
        part = "hook"
    hooks[(hook, part)] += period
    hooks_by_group[(group, hook, part)] += period
    self_hook[leaf] += period
    seen = set()
    for f in inner:
        if BACKEND.match(f) and f not in seen:
            seen.add(f)
            backends[(f, group, hook)] += period


group, period, frames = None, 0, []
for line in sys.stdin:
    m = HEADER.match(line)
    if m:
        if group:
            account(group, period, frames)
        group = group_of(m.group(1), m.group(2))
        period, frames = int(m.group(4)), []
        continue
    if group:
        f = FRAME.match(line)
        if f:
            frames.append(base(f.group(2)))
if group:
    account(group, period, frames)

for g, ns in sorted(total.items()):
    print("%s|total|%s %d" % (PREFIX, g, ns))
for (h, p), ns in sorted(hooks.items()):
    print("%s|hook|%s|%s %d" % (PREFIX, h, p, ns))
for (g, h, p), ns in sorted(hooks_by_group.items()):
    print("%s|hookg|%s|%s|%s %d" % (PREFIX, g, h, p, ns))
for f, ns in self_hook.most_common(40):
    print("%s|self|%s %d" % (PREFIX, f, ns))
for f, ns in self_all.most_common(40):
    print("%s|selfall|%s %d" % (PREFIX, f, ns))
for (f, g, h), ns in sorted(backends.items()):
    print("%s|backend|%s|%s|%s %d" % (PREFIX, f, g, h, ns))

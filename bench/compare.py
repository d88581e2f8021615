# SPDX-License-Identifier: LGPL-2.1-or-later
"""Two runs of bench/run side by side: the goals, and the packet-path profile.

Usage: compare.py BEFORE.results AFTER.results [BEFORE_TITLE AFTER_TITLE]
(the results of `bench/run --results FILE`); the Markdown goes to stdout.
"""
import sys


def load(path):
    r, rounds = {}, {}
    with open(path) as f:
        for line in f:
            key, _, value = line.rstrip("\n").partition(" ")
            if not key:
                continue
            r[key] = value
            try:
                rounds.setdefault(key, []).append(float(value))
            except ValueError:
                pass
    return r, rounds


def median(v):
    v = sorted(v)
    if not v:
        return None
    n = len(v)
    return v[n // 2] if n % 2 else (v[n // 2 - 1] + v[n // 2]) / 2


class Run:
    def __init__(self, path):
        self.r, self.rounds = load(path)

    def num(self, key):
        try:
            return float(self.r[key])
        except (KeyError, ValueError):
            return None

    def med(self, key):
        return median(self.rounds.get(key, []))

    def big(self):
        return int(self.num("packet.big") or 10000)

    def small(self):
        return int(self.num("packet.real_endpoints") or 4)

    def goals(self):
        """(figure, value text, value, goal text, met)"""
        out = []
        for path, title in (("veth", "over veth"), ("wg", "through WireGuard")):
            none, ours = self.med("blast_%s.none.cpu_ns" % path), self.med("blast_%s.ours_big.cpu_ns" % path)
            if none and ours:
                x = (ours - none) / none * 100
                out.append(("CPU per 64-byte packet %s, %s endpoints, over no table" % (title, "{:,}".format(self.big())),
                            "%+.1f%% (%.0f vs %.0f ns)" % (x, ours, none), "≤ +2%", x <= 2))
        for t, v, title in (("veth_udp", "ours_small", "64-byte UDP packets/s over veth, %d endpoints" % self.small()),
                            ("veth_udp", "ours_big", "64-byte UDP packets/s over veth, {:,} endpoints".format(self.big())),
                            ("veth_tcp", "ours_big", "TCP throughput over veth, {:,} endpoints".format(self.big())),
                            ("wg_tcp", "ours_big", "TCP throughput through WireGuard, {:,} endpoints".format(self.big()))):
            none, ours = self.med("packet.%s.none" % t), self.med("packet.%s.%s" % (t, v))
            if none and ours:
                out.append((title + ", of no table", "%.1f%%" % (100 * ours / none), "≥ 98%", ours / none >= 0.98))
        adds = sorted(int(k.split(".")[1]) for k in self.r if k.startswith("add.") and k.endswith(".add.median_us"))
        if len(adds) >= 2:
            g = self.num("add.%d.add.median_us" % adds[-1]) / self.num("add.%d.add.median_us" % adds[0])
            out.append(("`AddEndpoint` on {:,} vs on {:,}".format(adds[-1], adds[0]),
                        "%.2f× (%.2f vs %.2f ms)" % (g, self.num("add.%d.add.median_us" % adds[-1]) / 1000,
                                                    self.num("add.%d.add.median_us" % adds[0]) / 1000),
                        "≤ 1.25×", g <= 1.25))
        a, n = self.num("apply.median_us"), self.num("apply.versus.median_us")
        if a and n:
            fl, calls = self.num("apply.flushes"), self.num("apply.flush_calls")
            durable = "" if not calls else ", %.1f flushes a call" % (fl / calls)
            out.append(("`Apply` vs `nft -f`", "%.1f× faster (%.2f vs %.1f ms)%s" % (n / a, a / 1000, n / 1000, durable),
                        "≥ 10×, durable", n / a >= 10 and (not calls or fl / calls >= 1)))
        rss = self.num("footprint.rss_idle_kib")
        if rss:
            out.append(("idle RSS", "%.2f MiB" % (rss / 1024), "< 4 MiB", rss < 4096))
        return out

    def pp(self, path, v, *key):
        packets = self.num("pp_%s.%s.packets" % (path, v))
        x = self.num("pp|%s|%s|%s" % (path, v, "|".join(key)))
        if not packets:
            return None
        return (x or 0) / packets

    def pp_keys(self, path, v, what):
        p = "pp|%s|%s|%s|" % (path, v, what)
        return {k[len(p):] for k in self.r if k.startswith(p)}


def main():
    before, after = Run(sys.argv[1]), Run(sys.argv[2])
    tb, ta = (sys.argv[3], sys.argv[4]) if len(sys.argv) > 4 else ("before", "after")
    print("| figure | goal | %s | %s |" % (tb, ta))
    print("|---|---|---|---|")
    gb = {g[0]: g for g in before.goals()}
    for g in after.goals():
        b = gb.get(g[0])
        print("| %s | %s | %s | %s |" % (g[0], g[2], ("%s %s" % (b[1], "met" if b[3] else "missed")) if b else "—",
                                          "%s %s" % (g[1], "met" if g[3] else "missed")))
    print()
    for path, title in (("veth", "veth"), ("wg", "WireGuard")):
        if before.num("pp_%s.none.packets" % path) is None and after.num("pp_%s.none.packets" % path) is None:
            continue
        print("| %s: ns per packet | %s | %s |" % (title, tb, ta))
        print("|---|---|---|")
        hooks = sorted(before.pp_keys(path, "ours_big", "hook") | after.pp_keys(path, "ours_big", "hook"))
        for h in hooks:
            print("| %s | %s | %s |" % (h.replace("|", ", "),
                                        *["%.0f" % x if x else "—" for x in
                                          (before.pp(path, "ours_big", "hook", *h.split("|")),
                                           after.pp(path, "ours_big", "hook", *h.split("|")))]))
        for run_name, v in (("all hooks, ours", "ours_big"), ("all hooks, empty chains + conntrack", "floor_ct"),
                            ("all hooks, empty chains", "floor")):
            cells = []
            for run in (before, after):
                ks = run.pp_keys(path, v, "hook")
                cells.append("%.0f" % sum(run.pp(path, v, "hook", *k.split("|")) for k in ks) if ks else "—")
            print("| **%s** | %s | %s |" % (run_name, *cells))
        if path == "wg":
            for g, gt in (("sender", "into the tunnel"), ("wireguard-go", "to the endpoint")):
                for part in ("nftables", "conntrack", "hook"):
                    cells = []
                    for run in (before, after):
                        packets = run.num("pp_wg.ours_big.packets")
                        pre = "pp|wg|ours_big|hookg|%s|" % g
                        x = sum(float(val) for k, val in run.r.items() if k.startswith(pre) and k.endswith("|" + part))
                        cells.append("%.0f" % (x / packets) if packets and x else "—")
                    print("| packet %s, %s | %s | %s |" % (gt, part, *cells))
        for run_name, v in (("CPU a packet (blast, during the profile), no table", "none"),
                            ("CPU a packet (blast, during the profile), ours", "ours_big")):
            cells = ["%.0f" % x if x else "—" for x in (before.num("pp_%s.%s.cpu_ns" % (path, v)),
                                                         after.num("pp_%s.%s.cpu_ns" % (path, v)))]
            print("| %s | %s | %s |" % (run_name, *cells))
        print()
        print("| %s: hottest functions in the hooks, ours, ns per packet | %s | %s |" % (title, tb, ta))
        print("|---|---|---|")
        fs = before.pp_keys(path, "ours_big", "self") | after.pp_keys(path, "ours_big", "self")
        fs = sorted(fs, key=lambda f: -max(before.pp(path, "ours_big", "self", f) or 0,
                                            after.pp(path, "ours_big", "self", f) or 0))
        for f in fs[:14]:
            print("| `%s` | %s | %s |" % (f, *["%.0f" % x if x else "—" for x in
                                                (before.pp(path, "ours_big", "self", f),
                                                 after.pp(path, "ours_big", "self", f))]))
        print()


main()

/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <netinet/in.h>

#include <arpa/inet.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <net/if.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "lan.h"
#include "log.h"
#include "state.h"
#include "table-lines.h"
#include "verify.h"

/* Documentation addresses (RFC 5737, RFC 3849): never routed on the internet, so a probe that
 * did leak reaches nobody. */
#define PROBE4 "192.0.2.1"
#define PROBE6 "2001:db8::1"
#define PROBE4_DNS "192.0.2.53"
#define PROBE6_DNS "2001:db8::53"
#define PROBE_SOURCE_PORT 47001

const char *check_status(const Check *c) {
        return !c->passed ? "fail" : c->warning ? "warning" : "ok";
}

void report_done(Report *r) {
        if (!r)
                return;
        free(r->v);
        *r = (Report){};
}

static int report_add(Report *r, const char *name, bool passed, const char *fmt, ...)
        _printf_(4, 5);
static int report_add(Report *r, const char *name, bool passed, const char *fmt, ...) {
        Check *v = realloc(r->v, (r->n + 1) * sizeof(Check));
        va_list ap;

        if (!v)
                return -ENOMEM;
        r->v = v;
        v[r->n] = (Check){.passed = passed};
        snprintf(v[r->n].name, sizeof(v[r->n].name), "%s", name);
        va_start(ap, fmt);
        vsnprintf(v[r->n].detail, sizeof(v[r->n].detail), fmt, ap);
        va_end(ap);
        r->n++;
        return 0;
}

/* ---- the table, read back from the kernel ---- */

/* "a; b; c (+N more)" */
static void summarize(const Lines *l, char *buf, size_t size) {
        size_t used = 0;

        buf[0] = '\0';
        for (size_t i = 0; i < l->n && i < 3; i++)
                used += (size_t)snprintf(buf + used, used < size ? size - used : 0, "%s%s",
                                         i ? "; " : "", l->v[i]);
        if (l->n > 3 && used < size)
                snprintf(buf + used, size - used, " (+%zu more)", l->n - 3);
}

static int check_table(Manager *m, Report *rep, const Lines *have) {
        _cleanup_(lines_done) Lines missing = {}, extra = {};
        char a[200], b[200];
        TableInfo t;
        int r;

        r = nft_get_table(m->nft, NFPROTO_INET, &t);
        if (r < 0)
                return report_add(rep, "table", false, "table inet %s is not in the kernel",
                                  TABLE_NAME);
        if (m->protection == PROTECTION_OWNER &&
            ((t.flags & TABLE_FLAGS_OWNED) != TABLE_FLAGS_OWNED || t.owner != nft_portid(m->nft)))
                return report_add(rep, "table", false,
                                  "protection is owner but the table has flags 0x%x, owner port "
                                  "%u (ours: %u)",
                                  t.flags, t.owner, nft_portid(m->nft));

        r = manager_table_diff(m, have, &missing, &extra);
        if (r < 0)
                return r;
        for (size_t i = 0; i < missing.n; i++)
                log_debug("Verify: missing from the kernel: %s", missing.v[i]);
        for (size_t i = 0; i < extra.n; i++)
                log_debug("Verify: not expected in the kernel: %s", extra.v[i]);
        if (missing.n == 0 && extra.n == 0)
                return report_add(rep, "table", true,
                                  "present, protection %s, contents match the settings (%zu "
                                  "objects)",
                                  protection_to_string(m->protection), have->n);
        summarize(&missing, a, sizeof(a));
        summarize(&extra, b, sizeof(b));
        return report_add(rep, "table", false, "differs from the settings: missing [%s] extra [%s]",
                          a, b);
}

static int check_policies(Manager *m, Report *rep, const Lines *have) {
        static const struct {
                const char *chain;
                unsigned hook;
        } hooks[] = {
                {"output", NF_INET_LOCAL_OUT},
                {"postrouting", NF_INET_POST_ROUTING},
                {"input", NF_INET_LOCAL_IN},
                {"forward", NF_INET_FORWARD},
        };
        /* Scope "cgroups" has only the output hooks. */
        size_t n = m->settings.scoped ? 2 : ELEMENTSOF(hooks);

        for (size_t i = 0; i < n; i++) {
                char prefix[64];
                bool ok = false;

                snprintf(prefix, sizeof(prefix), "chain %s type filter hook %u ", hooks[i].chain,
                         hooks[i].hook);
                for (size_t j = 0; j < have->n; j++)
                        if (strncmp(have->v[j], prefix, strlen(prefix)) == 0)
                                ok = strstr(have->v[j], "policy drop") != NULL;
                if (!ok)
                        return report_add(rep, "policies", false,
                                          "chain %s is missing or its policy is not drop",
                                          hooks[i].chain);
        }
        return report_add(rep, "policies", true, "%s drop by default",
                          m->settings.scoped ? "output and postrouting"
                                             : "input, output, forward and postrouting");
}

/* The listed cgroups: which exist (their ids are in the table: the "table" check compares
 * them). With Scope "cgroups", this process is in none of them, so its probes would prove
 * nothing about the scoped ones: say so rather than count them as leaks. */
static int check_cgroups(Manager *m, Report *rep) {
        const Settings *s = &m->settings;
        int r;

        if (s->exempt_cgroups.n == 0 && !s->scoped)
                return 0;
        r = report_add(rep, "cgroups", true,
                       "Scope %s; %zu of %zu exempt cgroup(s) and %zu of %zu scoped cgroup(s) "
                       "exist and are in the table%s",
                       scope_to_string(s->scoped), m->cgroups.n_exempt, s->exempt_cgroups.n,
                       m->cgroups.n_scoped, s->scoped_cgroups.n,
                       s->scoped ? "; only the scoped cgroups' traffic is held, the rest of the "
                                   "machine is not, and this daemon's probes are not scoped"
                                 : "");
        if (r >= 0 && s->scoped)
                rep->v[rep->n - 1].warning = true;
        return r;
}

/* ---- live probes ---- */

typedef enum Outcome { SENT, REFUSED, NO_ROUTE, FAILED } Outcome;

static Outcome outcome_of(int r) {
        if (r >= 0)
                return SENT;
        switch (-r) {
        case EPERM: return REFUSED;
        case ENOBUFS: /* an egress chain dropped a raw frame */ return REFUSED;
        case ENETUNREACH:
        case EHOSTUNREACH:
        case EADDRNOTAVAIL:
        case ENODEV:
        case ENXIO: return NO_ROUTE;
        default: return FAILED;
        }
}

static void sockaddr_for(int family, const char *addr, uint16_t port, struct sockaddr_storage *sa,
                         socklen_t *len) {
        memset(sa, 0, sizeof(*sa));
        if (family == AF_INET) {
                struct sockaddr_in *in = (struct sockaddr_in *)sa;

                in->sin_family = AF_INET;
                in->sin_port = htons(port);
                inet_pton(AF_INET, addr, &in->sin_addr);
                *len = sizeof(*in);
        } else {
                struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)sa;

                in6->sin6_family = AF_INET6;
                in6->sin6_port = htons(port);
                inet_pton(AF_INET6, addr, &in6->sin6_addr);
                *len = sizeof(*in6);
        }
}

/* One datagram (SOCK_DGRAM) or one bare TCP SYN (SOCK_RAW: a TCP socket's connect() hides the
 * kernel's refusal behind retransmissions; a raw send returns it). 0 if it left, else -errno. */
static int probe(int family, int type, const char *ifname, const char *addr, uint16_t port) {
        _cleanup_(closep) int fd = -EBADF;
        struct sockaddr_storage sa;
        socklen_t len;
        struct tcphdr syn = {
                .source = htons(PROBE_SOURCE_PORT),
                .dest = htons(port),
                .seq = htonl(0x6b736b73),
                .doff = sizeof(struct tcphdr) / 4,
                .syn = 1,
                .window = htons(1024),
        };
        const char payload[] = "killswitchd verify";
        ssize_t n;

        fd = socket(family, type | SOCK_CLOEXEC, type == SOCK_RAW ? IPPROTO_TCP : 0);
        if (fd < 0)
                return -errno;
        if (ifname && setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, ifname, strlen(ifname)) < 0)
                return -errno;
        if (type == SOCK_RAW && family == AF_INET6) {
                int offset = offsetof(struct tcphdr, check);

                (void)setsockopt(fd, IPPROTO_IPV6, IPV6_CHECKSUM, &offset, sizeof(offset));
        }
        /* For raw IPv6 sockets the port field names the protocol: leave it 0. */
        sockaddr_for(family, addr, type == SOCK_RAW ? 0 : port, &sa, &len);
        if (type == SOCK_RAW)
                n = sendto(fd, &syn, sizeof(syn), 0, (struct sockaddr *)&sa, len);
        else
                n = sendto(fd, payload, sizeof(payload), 0, (struct sockaddr *)&sa, len);
        return n < 0 ? -errno : 0;
}

typedef struct Tally {
        unsigned refused, sent, no_route, failed;
        char leaks[400];   /* the probes that left, by kind and interface */
        unsigned omitted;  /* leaks that did not fit in 'leaks' */
        char failure[128]; /* the first probe that could not be tried, and why */
} Tally;

static void tally(Tally *t, int r, const char *what) {
        size_t used = strlen(t->leaks);

        switch (outcome_of(r)) {
        case REFUSED: t->refused++; break;
        case NO_ROUTE: t->no_route++; break;
        case FAILED:
                if (t->failed++ == 0)
                        snprintf(t->failure, sizeof(t->failure), "%s: %s", what, strerror(-r));
                break;
        case SENT:
                t->sent++;
                /* Keep room for the count of those that do not fit. */
                if (used + strlen(what) + 2 < sizeof(t->leaks) - 16)
                        snprintf(t->leaks + used, sizeof(t->leaks) - used, "%s%s", used ? ", " : "",
                                 what);
                else
                        t->omitted++;
                break;
        }
}

static int report_leak(Report *rep, const char *check, const char *what, const Tally *t) {
        return report_add(rep, check, false, "LEAK: %s%s %s", what, t->leaks,
                          t->omitted ? "(and more)" : "");
}

/* UDP and TCP, IPv4 and IPv6, to 'addr4'/'addr6' on 'port', from one interface. */
static void probe_interface(const char *ifname, const char *addr4, const char *addr6, uint16_t port,
                            bool tcp, Tally *t) {
        const struct {
                int family, type;
                const char *label;
        } kinds[] = {
                {AF_INET, SOCK_DGRAM, "udp4"},
                {AF_INET6, SOCK_DGRAM, "udp6"},
                {AF_INET, SOCK_RAW, "tcp4"},
                {AF_INET6, SOCK_RAW, "tcp6"},
        };

        for (size_t i = 0; i < ELEMENTSOF(kinds); i++) {
                char what[64];

                if (kinds[i].type == SOCK_RAW && !tcp)
                        continue;
                snprintf(what, sizeof(what), "%s on %s", kinds[i].label, ifname);
                tally(t,
                      probe(kinds[i].family, kinds[i].type, ifname,
                            kinds[i].family == AF_INET ? addr4 : addr6, port),
                      what);
        }
}

/* Before trusting EPERM: something else (a cgroup filter on this service, another firewall)
 * could refuse everything. Loopback must get through and our counter must move. */
static bool probes_meaningful(void) {
        return probe(AF_INET, SOCK_DGRAM, "lo", "127.0.0.1", 9) >= 0;
}

static int check_outside(Manager *m, Report *rep, const LinkInfo *links, size_t n_links) {
        uint64_t before = 0, after = 0, bytes;
        char suspect[128] = "";
        Tally t = {};

        (void)netwatch_uplink_tunnels(m->netwatch, m->settings.tunnels, m->settings.n_tunnels,
                                      suspect, sizeof(suspect));
        (void)nft_get_counter(m->nft, NFPROTO_INET, &before, &bytes);
        for (size_t i = 0; i < n_links; i++) {
                probe_interface(links[i].name, PROBE4, PROBE6, 9, true, &t);
                /* An endpoint's address on a port that is not the endpoint's. */
                for (size_t e = 0; e < m->settings.n_endpoints && e < 1; e++) {
                        const Endpoint *ep = &m->settings.endpoints[e];
                        char a[INET6_ADDRSTRLEN], what[96];

                        endpoint_address(ep, a, sizeof(a));
                        snprintf(what, sizeof(what), "udp to %s port %u on %s", a,
                                 (unsigned)(ep->port ^ 1), links[i].name);
                        tally(&t,
                              probe(ep->family, SOCK_DGRAM, links[i].name, a,
                                    (uint16_t)(ep->port ^ 1)),
                              what);
                }
        }
        (void)nft_get_counter(m->nft, NFPROTO_INET, &after, &bytes);

        if (t.sent > 0)
                return report_leak(rep, "outside", "sent ", &t);
        /* A Tunnels pattern that matches the physical uplink makes it "inside": nothing above
         * probed it, and everything leaves through it in the clear. */
        if (suspect[0])
                return report_add(rep, "outside", false,
                                  "%s match Tunnels but are Ethernet links carrying the default "
                                  "route: traffic through them is not tunnelled",
                                  suspect);
        if (t.failed > 0)
                return report_add(rep, "outside", false, "%u probe(s) could not be tried (%s)",
                                  t.failed, t.failure);
        if (t.refused > after - before)
                return report_add(rep, "outside", false,
                                  "%u probe(s) refused, but not by the kill switch (its counter "
                                  "moved by %llu)",
                                  t.refused, (unsigned long long)(after - before));
        return report_add(rep, "outside", true,
                          "%u probe(s) on %zu interface(s) refused by the kernel, %u without a "
                          "route",
                          t.refused, n_links, t.no_route);
}

static int check_dns(Manager *m, Report *rep, const LinkInfo *links, size_t n_links) {
        uint64_t before = 0, after = 0, bytes;
        Tally t = {};

        (void)nft_get_counter(m->nft, NFPROTO_INET, &before, &bytes);
        for (size_t i = 0; i < n_links; i++)
                probe_interface(links[i].name, PROBE4_DNS, PROBE6_DNS, 53, true, &t);
        (void)nft_get_counter(m->nft, NFPROTO_INET, &after, &bytes);
        if (t.sent > 0)
                return report_leak(rep, "dns", "DNS sent ", &t);
        if (t.failed > 0)
                return report_add(rep, "dns", false, "%u probe(s) could not be tried (%s)",
                                  t.failed, t.failure);
        if (t.refused > after - before)
                return report_add(rep, "dns", false, "DNS probes not refused by the kill switch");
        return report_add(rep, "dns", true, "DNS outside the tunnel refused (%u probe(s))",
                          t.refused);
}

static int check_tunnels(Manager *m, Report *rep) {
        char refused[200] = "";
        size_t up = 0, used = 0;

        for (size_t i = 0; i < m->n_tunnel_links; i++) {
                Tally t = {};

                if (!m->tunnel_links[i].up)
                        continue;
                up++;
                probe_interface(m->tunnel_links[i].name, PROBE4, PROBE6, 9, false, &t);
                if (t.sent == 0 && used < sizeof(refused))
                        used += (size_t)snprintf(refused + used, sizeof(refused) - used, "%s%s",
                                                 used ? ", " : "", m->tunnel_links[i].name);
        }
        if (up == 0)
                return report_add(rep, "tunnel", true, "no tunnel is up: nothing to try");
        if (refused[0])
                return report_add(rep, "tunnel", false, "traffic into %s is refused", refused);
        return report_add(rep, "tunnel", true, "traffic into %zu tunnel(s) is allowed", up);
}

/* ---- the local-network attacker ---- */

/* LAN is the private part of this machine's own addresses, never a route someone else
 * installed (DHCP option 121, router advertisements). */
static int check_lan(Manager *m, Report *rep) {
        _cleanup_(freep) LanPrefix *lan = NULL, *onlink = NULL;
        size_t n_lan, n_onlink;
        int r;

        if (!m->settings.allow_lan)
                return report_add(rep, "lan", true, "AllowLan is off: no LAN is allowed");
        r = netwatch_prefixes(m->netwatch, m->settings.tunnels, m->settings.n_tunnels, &lan, &n_lan,
                              &onlink, &n_onlink);
        if (r < 0)
                return report_add(rep, "lan", false, "the addresses could not be read: %s",
                                  strerror(-r));
        for (size_t i = 0; i < m->n_lan; i++) {
                LanPrefix parts[8];
                char text[INET6_ADDRSTRLEN + 4];

                if (lan_prefix_private_parts(&m->lan[i], parts) == 1 &&
                    lan_prefix_compare(&parts[0], &m->lan[i]) == 0)
                        continue;
                (void)lan_prefix_format(&m->lan[i], text, sizeof(text));
                return report_add(rep, "lan", false, "%s is allowed as LAN but is not private",
                                  text);
        }
        if (!lan_prefixes_equal(lan, n_lan, m->lan, m->n_lan))
                return report_add(rep, "lan", false,
                                  "the LAN allowed (%zu prefixes) is not what the addresses on "
                                  "the links give now (%zu)",
                                  m->n_lan, n_lan);
        return report_add(rep, "lan", true,
                          "%zu prefix(es), each the private part of an address on a link "
                          "outside the tunnels; routes are not consulted",
                          m->n_lan);
}

static bool lines_have(const Lines *have, const char *prefix, const char *needle) {
        for (size_t i = 0; i < have->n; i++)
                if (strncmp(have->v[i], prefix, strlen(prefix)) == 0 &&
                    (!needle || strstr(have->v[i], needle)))
                        return true;
        return false;
}

/* Nobody on the LAN can reach local sockets by claiming to be the VPN server. */
static int check_unsolicited(Report *rep, const Lines *have) {
        char prerouting[64];

        snprintf(prerouting, sizeof(prerouting), "chain prerouting type filter hook %u ",
                 NF_INET_PRE_ROUTING);
        for (size_t i = 0; i < have->n; i++) {
                const char *l = have->v[i];

                if (strncmp(l, "rule allow_ingress ", 19) == 0 && strstr(l, "set endpoints") &&
                    !strstr(l, "ct load state"))
                        return report_add(rep, "unsolicited", false,
                                          "packets from an endpoint are accepted without being "
                                          "replies");
        }
        if (!lines_have(have, prerouting, NULL) || !lines_have(have, "rule prerouting ", "fib"))
                return report_add(rep, "unsolicited", false,
                                  "no prerouting check: the tunnel's address is reachable from "
                                  "the LAN");
        return report_add(rep, "unsolicited", true,
                          "endpoint packets are accepted only as replies, and only to an "
                          "address of the link they arrive on");
}

/* A raw frame on one link: UDP to PROBE4 port 9, built by hand as an AF_PACKET sender would.
 * 0 if the kernel took it, else -errno (ENOBUFS or EPERM when an egress chain dropped it). */
static int probe_frame(int fd, const GuardedLink *l) {
        uint8_t frame[ETH_HLEN + 28] = {}, *ip = frame + ETH_HLEN, *udp = ip + 20;
        struct sockaddr_ll sa = {
                .sll_family = AF_PACKET,
                .sll_protocol = htons(ETH_P_IP),
                .sll_halen = ETH_ALEN,
        };
        uint32_t sum = 0;
        size_t off = 0;

        sa.sll_ifindex = (int)if_nametoindex(l->name);
        if (sa.sll_ifindex == 0)
                return -errno;
        if (l->layout == LAYOUT_ETHERNET) {
                memset(frame, 0xff, ETH_ALEN); /* broadcast: nobody in particular */
                frame[ETH_ALEN] = 0x02;        /* a locally administered source */
                frame[12] = 0x08;
                off = ETH_HLEN;
        }
        memset(sa.sll_addr, 0xff, ETH_ALEN);
        ip = frame + off;
        udp = ip + 20;
        ip[0] = 0x45;
        ip[3] = 28;
        ip[8] = 64;
        ip[9] = IPPROTO_UDP;
        inet_pton(AF_INET, "192.0.2.2", ip + 12);
        inet_pton(AF_INET, PROBE4, ip + 16);
        for (size_t i = 0; i < 20; i += 2)
                sum += (uint32_t)(ip[i] << 8 | ip[i + 1]);
        sum = (sum & 0xffff) + (sum >> 16);
        sum = (sum & 0xffff) + (sum >> 16);
        ip[10] = (uint8_t)(~sum >> 8);
        ip[11] = (uint8_t)~sum;
        udp[0] = PROBE_SOURCE_PORT >> 8;
        udp[1] = PROBE_SOURCE_PORT & 0xff;
        udp[3] = 9;
        udp[5] = 8;

        if (sendto(fd, frame, off + 28, 0, (struct sockaddr *)&sa, sizeof(sa)) < 0)
                return -errno;
        return 0;
}

/* Raw packet sockets meet an egress chain on every link outside the tunnels. */
static int check_frames(Manager *m, Report *rep, const Lines *have, const LinkInfo *outside,
                        size_t n_outside) {
        uint64_t before = 0, after = 0, bytes;
        _cleanup_(closep) int fd = -EBADF;
        unsigned refused = 0;

        if (!m->frames)
                return report_add(rep, "frames", false,
                                  "the kernel has no egress hook (Linux < 5.16): frames from "
                                  "raw packet sockets (AF_PACKET) are not held");
        for (size_t i = 0; i < m->n_links; i++) {
                char chain[LINK_CHAIN_NAME_MAX + 16], device[IFNAMSIZ + 16];

                snprintf(chain, sizeof(chain), "netdev chain egress_%s ", m->links[i].name);
                snprintf(device, sizeof(device), " device %s", m->links[i].name);
                if (!lines_have(have, chain, device))
                        return report_add(rep, "frames", false,
                                          "%s has no egress chain: raw packet sockets can send "
                                          "on it",
                                          m->links[i].name);
        }
        /* The service's RestrictAddressFamilies= leaves AF_PACKET out (it weighs in its exposure
         * score): the chains above are then the proof. */
        fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return report_add(rep, "frames", true,
                                  "%zu link(s) carry an egress chain (no frame sent: this process "
                                  "may not open AF_PACKET sockets)",
                                  m->n_links);
        (void)nft_get_counter(m->nft, NFPROTO_NETDEV, &before, &bytes);
        /* A frame on every link that is up and outside the tunnels. */
        for (size_t i = 0; i < m->n_links; i++) {
                bool up = false;
                Outcome o;

                for (size_t j = 0; j < n_outside; j++)
                        up = up || strcmp(outside[j].name, m->links[i].name) == 0;
                if (m->links[i].layout == LAYOUT_OTHER || !up)
                        continue;
                o = outcome_of(probe_frame(fd, &m->links[i]));
                if (o == SENT)
                        return report_add(rep, "frames", false,
                                          "LEAK: a raw UDP frame left %s (AF_PACKET)",
                                          m->links[i].name);
                refused += o == REFUSED;
        }
        (void)nft_get_counter(m->nft, NFPROTO_NETDEV, &after, &bytes);
        if (refused > after - before)
                return report_add(rep, "frames", false,
                                  "%u raw frame(s) refused, but not by the kill switch (its "
                                  "counter moved by %llu)",
                                  refused, (unsigned long long)(after - before));
        return report_add(rep, "frames", true,
                          "%zu link(s) carry an egress chain; %u raw frame(s) sent with "
                          "AF_PACKET were dropped",
                          m->n_links, refused);
}

static int check_boot(Manager *m, Report *rep) {
        _cleanup_(settings_done) Settings saved = {};
        Error error = {};
        int r;

        /* A choice, not a fault: the kill switch holds now; say what it means at boot. */
        if (!m->settings.persistent) {
                r = report_add(rep, "boot", true,
                               "Persistent is off: at boot, traffic can leave before the VPN "
                               "starts");
                if (r >= 0)
                        rep->v[rep->n - 1].warning = true;
                return r;
        }
        r = state_load(m->state_dir, &saved, &error);
        if (r < 0)
                return report_add(rep, "boot", false, "saved settings unreadable: %s",
                                  r == -ENOENT ? "none saved" : error.message);
        if (!settings_equal(&saved, &m->settings))
                return report_add(rep, "boot", false,
                                  "saved settings differ from those in force: the boot would "
                                  "install others");
        return report_add(rep, "boot", true, "the saved settings will be installed at boot");
}

int verify_run(Manager *m, Report *ret) {
        _cleanup_(lines_done) Lines have = {};
        _cleanup_(freep) LinkInfo *links = NULL;
        size_t n_links = 0;
        Report rep = {};
        int r;

        if (!m->settings.enabled) {
                r = report_add(&rep, "enabled", false, "the kill switch is disabled");
                if (r < 0)
                        return r;
                *ret = rep;
                return 0;
        }

        r = table_read(m->nft, &have);
        if (r >= 0)
                r = check_table(m, &rep, &have);
        if (r >= 0)
                r = check_policies(m, &rep, &have);
        if (r >= 0)
                r = check_cgroups(m, &rep);
        if (r >= 0)
                r = netwatch_outside_links(m->netwatch, m->settings.tunnels, m->settings.n_tunnels,
                                           &links, &n_links);
        if (r >= 0 && m->settings.scoped)
                ; /* the probes, prerouting and frames are the whole machine's: not held */
        else if (r >= 0 && !probes_meaningful())
                r = report_add(&rep, "probes", false,
                               "even loopback is refused: something other than the kill switch "
                               "blocks this process, so probes prove nothing");
        else if (r >= 0) {
                r = check_outside(m, &rep, links, n_links);
                if (r >= 0)
                        r = check_dns(m, &rep, links, n_links);
                if (r >= 0)
                        r = check_tunnels(m, &rep);
        }
        if (r >= 0)
                r = check_lan(m, &rep);
        if (r >= 0 && !m->settings.scoped)
                r = check_unsolicited(&rep, &have);
        if (r >= 0 && !m->settings.scoped)
                r = check_frames(m, &rep, &have, links, n_links);
        if (r >= 0)
                r = check_boot(m, &rep);
        if (r < 0) {
                report_done(&rep);
                return r;
        }
        *ret = rep;
        return 0;
}

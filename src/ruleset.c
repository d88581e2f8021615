/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The policy: which sets, chains and rules our two tables hold, in which order, and why. How
 * they are written is nft-builder.c's; how a rule reads a packet's fields, packet-match.c's. */
/* Before any linux/ header, so that glibc guards against their duplicate definitions. */
#include <netinet/in.h>

#include <arpa/inet.h>
#include <linux/if_ether.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_conntrack_common.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <string.h>
#include <sys/socket.h>

#include "cgroup.h"
#include "contract/tunnel-name.h"
#include "intervals.h"
#include "nft-builder.h"
#include "packet-match.h"
#include "ruleset.h"

/* Data types as nft(8) numbers them, so that "nft list" prints our sets readably. */
enum {
        NFT_TYPE_IPADDR = 7,
        NFT_TYPE_IP6ADDR = 8,
        NFT_TYPE_INET_PROTOCOL = 12,
        NFT_TYPE_INET_SERVICE = 13,
        NFT_TYPE_IFNAME = 41,
        NFT_TYPE_CGROUPV2 = 46,
        NFT_TYPE_BITS = 6, /* a concatenation packs each member's type in 6 bits */
};

enum {
        SET_TUNNELS = 1,
        SET_TUNNEL_PATTERNS,
        SET_ENDPOINTS4,
        SET_ENDPOINTS6,
        SET_LAN4,
        SET_LAN6,
        SET_ONLINK4,
        SET_ONLINK6,
        SET_EXEMPT_CGROUPS,
        SET_SCOPED_CGROUPS,
        SET_COUNT
};
static const char *const set_names[] = {
        [SET_TUNNELS] = "tunnels",
        [SET_TUNNEL_PATTERNS] = "tunnel_patterns",
        [SET_ENDPOINTS4] = "endpoints4",
        [SET_ENDPOINTS6] = "endpoints6",
        [SET_LAN4] = "lan4",
        [SET_LAN6] = "lan6",
        [SET_ONLINK4] = "onlink4",
        [SET_ONLINK6] = "onlink6",
        [SET_EXEMPT_CGROUPS] = "exempt_cgroups",
        [SET_SCOPED_CGROUPS] = "scoped_cgroups",
};

/* After NAT (srcnat is 100) and after any other table: a packet that another table re-routed
 * after our output chain is checked again on its way out. */
#define PRIORITY_POSTROUTING_LAST 500
#define PRIORITY_FILTER 0   /* nft(8) "priority filter" */
#define PRIORITY_RAW (-300) /* nft(8) "priority raw": before conntrack */

/* Every concatenation member takes whole 32-bit registers. */
#define KEY_MAX 24

/* ---- the sets' elements ---- */

static bool has_tunnel_patterns(const Settings *s) {
        for (size_t i = 0; i < s->n_tunnels; i++)
                if (tunnel_name_is_pattern(s->tunnels[i]))
                        return true;
        return false;
}

/* The interfaces inside: the tunnels' exact names and loopback, so that one hash lookup decides
 * the common packet, and apart, the patterns ("tun*") as intervals of names. */
static void emit_tunnel_elems(Builder *b, const Settings *s) {
        ElemWriter exact = {.b = b, .set = SET_TUNNELS};
        Interval v[TUNNELS_MAX];
        size_t n = 0;

        if (s->n_tunnels > TUNNELS_MAX) {
                builder_fail(b, -E2BIG);
                return;
        }
        for (size_t i = 0; i < s->n_tunnels; i++)
                if (tunnel_name_is_pattern(s->tunnels[i]))
                        tunnel_interval(s->tunnels[i], &v[n++]);
                else {
                        char key[IFNAMSIZ] = {};

                        strncpy(key, s->tunnels[i], sizeof(key) - 1);
                        elems_add(&exact, key, sizeof(key), 0);
                }
        elems_add(&exact, (const char[IFNAMSIZ]){"lo"}, IFNAMSIZ, 0);
        elems_flush(&exact);
        if (n > 0)
                emit_interval_elems(b, SET_TUNNEL_PATTERNS, v, n, IFNAMSIZ);
}

/* One interval set from prefixes, plus the fixed ones of the same family. */
static void emit_prefix_elems(Builder *b, int set, int family, const LanPrefix *v, size_t n,
                              const LanPrefix *fixed, size_t n_fixed) {
        size_t m = 0, len = family == AF_INET ? 4 : 16;
        Interval *iv;

        iv = calloc(n + n_fixed + 1, sizeof(Interval));
        if (!iv) {
                builder_fail(b, -ENOMEM);
                return;
        }
        for (size_t i = 0; i < n; i++)
                if (v[i].family == family)
                        prefix_interval(&v[i], &iv[m++]);
        for (size_t i = 0; i < n_fixed; i++)
                if (fixed[i].family == family)
                        prefix_interval(&fixed[i], &iv[m++]);
        emit_interval_elems(b, set, iv, m, len);
        free(iv);
}

/* The sets that follow the network: LAN (only with AllowLan) and on-link destinations. */
static void emit_network_elems(Builder *b, const Settings *s, const NetView *v) {
        for (int family = AF_INET; family <= AF_INET6; family += AF_INET6 - AF_INET) {
                bool v4 = family == AF_INET;

                if (s->allow_lan)
                        emit_prefix_elems(b, v4 ? SET_LAN4 : SET_LAN6, family, v->lan, v->n_lan,
                                          lan_link_multicast, lan_link_multicast_count);
                emit_prefix_elems(b, v4 ? SET_ONLINK4 : SET_ONLINK6, family, v->onlink, v->n_onlink,
                                  onlink_fixed, onlink_fixed_count);
        }
}

/* addr . l4proto . port: each member padded to whole 32-bit registers, as the kernel loads them. */
static size_t endpoint_key(const Endpoint *e, uint8_t key[static KEY_MAX]) {
        size_t alen = e->family == AF_INET ? 4 : 16;
        uint16_t port = htons(e->port);

        memset(key, 0, KEY_MAX);
        memcpy(key, &e->addr, alen);
        key[alen] = e->protocol;
        memcpy(key + alen + 4, &port, sizeof(port));
        return alen + 8;
}

static void emit_endpoint_elems(Builder *b, const Settings *s) {
        ElemWriter w4 = {.b = b, .set = SET_ENDPOINTS4}, w6 = {.b = b, .set = SET_ENDPOINTS6};

        for (size_t i = 0; i < s->n_endpoints; i++) {
                const Endpoint *e = &s->endpoints[i];
                uint8_t key[KEY_MAX];
                size_t len = endpoint_key(e, key);

                elems_add(e->family == AF_INET ? &w4 : &w6, key, (uint32_t)len, 0);
        }
        elems_flush(&w4);
        elems_flush(&w6);
}

/* The kernel's ids of the listed cgroups that exist: a cgroup that does not exist has no id, so
 * it matches nothing and opens nothing. */
static void emit_cgroup_elems(Builder *b, const NetView *v) {
        ElemWriter exempt = {.b = b, .set = SET_EXEMPT_CGROUPS};
        ElemWriter scoped = {.b = b, .set = SET_SCOPED_CGROUPS};

        for (size_t i = 0; i < v->n_exempt_ids; i++)
                elems_add(&exempt, &v->exempt_ids[i], sizeof(uint64_t), 0);
        for (size_t i = 0; i < v->n_scoped_ids; i++)
                elems_add(&scoped, &v->scoped_ids[i], sizeof(uint64_t), 0);
        elems_flush(&exempt);
        elems_flush(&scoped);
}

/* The levels the listed paths sit at, as bits: a rule per level in use, so that the paths, not
 * which of them exist, decide the rules, and a cgroup that comes or goes is one element. */
static uint32_t cgroup_levels(const CgroupList *l) {
        uint32_t levels = 0;

        for (size_t i = 0; i < l->n; i++)
                levels |= UINT32_C(1) << cgroup_path_level(l->paths[i]);
        return levels;
}

/* ---- the rules common to both tables ---- */

/* DHCP: going out only to the limited broadcast, the DHCPv6 multicast groups and on-link
 * servers, so that the DHCP ports carry nothing anywhere else. */
static void rule_dhcp(Builder *b, const PacketView *v, int family, uint16_t sport, uint16_t dport) {
        struct nftnl_rule *r = rule_new(b, v->chain);

        match_family(b, r, v, family);
        match_l4proto(b, r, v, family, NFT_CMP_EQ, IPPROTO_UDP);
        match_port(b, r, v, family, 0, NFT_CMP_EQ, sport);
        match_port(b, r, v, family, 2, NFT_CMP_EQ, dport);
        if (v->d == EGRESS)
                match_peer_in(b, r, v, family, SET_ONLINK4, SET_ONLINK6);
        put_verdict(b, r, NF_ACCEPT, NULL);
        rule_emit(b, r);
}

/* A hop limit of 255 proves a packet was not routed (RFC 4861). */
static void match_unrouted(Builder *b, struct nftnl_rule *r, const PacketView *v) {
        load_ip_header(b, r, v, 7, 1, reg32(0));
        put_u8_eq(b, r, reg32(0), 255);
}

/* Neighbour discovery: router solicitation/advertisement, neighbour solicitation/
 * advertisement, and redirects coming in; unrouted; going out, only to link-local,
 * solicited-node and on-link destinations. */
static void rule_ndp(Builder *b, const PacketView *v) {
        struct nftnl_rule *r = rule_new(b, v->chain);
        uint8_t first = 133, last = v->d == EGRESS ? 136 : 137;

        match_family(b, r, v, AF_INET6);
        match_l4proto(b, r, v, AF_INET6, NFT_CMP_EQ, IPPROTO_ICMPV6);
        /* The frames chain has always tested the hop limit first. The order means nothing to
         * the kernel; keeping it keeps the tables as they were. */
        if (v->frame)
                match_unrouted(b, r, v);
        load_transport_header(b, r, v, AF_INET6, 0, 1);
        put_cmp(b, r, reg32(0), NFT_CMP_GTE, &first, sizeof(first));
        put_cmp(b, r, reg32(0), NFT_CMP_LTE, &last, sizeof(last));
        if (!v->frame)
                match_unrouted(b, r, v);
        if (v->d == EGRESS)
                match_peer_in(b, r, v, AF_INET6, SET_ONLINK4, SET_ONLINK6);
        put_verdict(b, r, NF_ACCEPT, NULL);
        rule_emit(b, r);
}

/* AllowDhcp: what a machine needs to get its addresses and find its neighbours. */
static void rules_dhcp(Builder *b, const PacketView *v) {
        if (v->d == EGRESS) {
                rule_dhcp(b, v, AF_INET, 68, 67);
                rule_dhcp(b, v, AF_INET6, 546, 547);
        } else {
                rule_dhcp(b, v, AF_INET, 67, 68);
                rule_dhcp(b, v, AF_INET6, 547, 546);
        }
        rule_ndp(b, v);
}

/* LAN peers are allowed, but never DNS: a LAN resolver would see every name looked up. The
 * inet chains drop DNS and accept the rest. A frames chain is an allow list, since it drops
 * whatever no rule names: TCP and UDP but not to port 53, and ICMP; in a frame, IPv6 extension
 * headers (which could hide a DNS query) are not looked into, and not accepted. */
static void rules_lan(Builder *b, const PacketView *v, int family) {
        static const uint8_t dns_protocols[] = {IPPROTO_UDP, IPPROTO_TCP};
        struct nftnl_rule *r;

        for (size_t i = 0; i < ELEMENTSOF(dns_protocols); i++) {
                r = rule_new(b, v->chain);
                match_family(b, r, v, family);
                match_peer_in(b, r, v, family, SET_LAN4, SET_LAN6);
                match_l4proto(b, r, v, family, NFT_CMP_EQ, dns_protocols[i]);
                if (v->frame) {
                        match_port(b, r, v, family, peer_port_offset(v->d), NFT_CMP_NEQ, 53);
                        put_verdict(b, r, NF_ACCEPT, NULL);
                } else {
                        match_port(b, r, v, family, peer_port_offset(v->d), NFT_CMP_EQ, 53);
                        put_counted_drop(b, r);
                }
                rule_emit(b, r);
        }
        r = rule_new(b, v->chain);
        match_family(b, r, v, family);
        match_peer_in(b, r, v, family, SET_LAN4, SET_LAN6);
        if (v->frame)
                match_l4proto(b, r, v, family, NFT_CMP_EQ,
                              family == AF_INET ? IPPROTO_ICMP : IPPROTO_ICMPV6);
        put_verdict(b, r, NF_ACCEPT, NULL);
        rule_emit(b, r);
}

/* ---- the rules: table inet, for everything the IP stack sends, receives and forwards ---- */

static const char *allow_chain(Direction d) {
        return d == EGRESS ? "allow_egress" : "allow_ingress";
}

static void put_iface(Builder *b, struct nftnl_rule *r, Direction d) {
        put_meta(b, r, d == EGRESS ? NFT_META_OIFNAME : NFT_META_IIFNAME, reg32(0));
}

/* Replies to what containers and VMs behind us sent into a tunnel arrive from the tunnel and
 * are forwarded out of their (non-tunnel) veth or bridge: accept those, and only replies.
 * Only in forward and postrouting: there the input interface is the forwarded packet's, and a
 * locally sent packet (re-routed after our output chain or not) has none. */
static void rule_tunnel_replies(Builder *b, const Settings *s, const char *chain, int set) {
        struct nftnl_rule *r = rule_new(b, chain);

        put_iface(b, r, INGRESS);
        put_lookup(b, r, reg32(0), set);
        put_ct_state(b, r, NF_CT_STATE_BIT(IP_CT_ESTABLISHED) | NF_CT_STATE_BIT(IP_CT_RELATED));
        put_verdict(b, r, NF_ACCEPT, NULL);
        rule_emit(b, r);
        if (set == SET_TUNNELS && has_tunnel_patterns(s))
                rule_tunnel_replies(b, s, chain, SET_TUNNEL_PATTERNS);
}

/* The common packet (into or out of a tunnel, or on loopback) is decided here, in the base
 * chain, by one lookup; a second one, in an interval set, only when Tunnels has patterns. */
static void rule_tunnels(Builder *b, const Settings *s, const char *chain, Direction d, int set) {
        struct nftnl_rule *r = rule_new(b, chain);

        put_iface(b, r, d);
        put_lookup(b, r, reg32(0), set);
        put_verdict(b, r, NF_ACCEPT, NULL);
        rule_emit(b, r);
        if (set == SET_TUNNELS && has_tunnel_patterns(s))
                rule_tunnels(b, s, chain, d, SET_TUNNEL_PATTERNS);
}

/* ip daddr . meta l4proto . th dport @endpoints4 (saddr/sport coming in): each member in the
 * registers after the one before, as the set's concatenated key has them. */
static void match_endpoint(Builder *b, struct nftnl_rule *r, const PacketView *v, int family) {
        uint32_t alen = family == AF_INET ? 4 : 16;

        match_family(b, r, v, family);
        put_payload(b, r, NFT_PAYLOAD_NETWORK_HEADER, peer_addr_offset(family, v->d), alen,
                    reg32(0));
        put_meta(b, r, NFT_META_L4PROTO, reg32(alen / 4));
        put_payload(b, r, NFT_PAYLOAD_TRANSPORT_HEADER, peer_port_offset(v->d), 2,
                    reg32(alen / 4 + 1));
        put_lookup(b, r, reg32(0), family == AF_INET ? SET_ENDPOINTS4 : SET_ENDPOINTS6);
}

/* Going out, a packet to an endpoint goes on to "endpoint_out", which decides whose it may be;
 * one lookup either way. Coming in: only replies to flows this machine started (conntrack has
 * seen our packet first), so that nobody on the LAN can reach local sockets by claiming to be
 * the VPN server; the prerouting chain has already dropped what is not for the interface it
 * arrived on. */
static void rule_endpoints(Builder *b, const PacketView *v, int family) {
        struct nftnl_rule *r = rule_new(b, v->chain);

        match_endpoint(b, r, v, family);
        if (v->d == INGRESS) {
                put_ct_state(b, r, NF_CT_STATE_BIT(IP_CT_ESTABLISHED));
                put_verdict(b, r, NF_ACCEPT, NULL);
        } else
                put_verdict(b, r, NFT_GOTO, "endpoint_out");
        rule_emit(b, r);
}

/* The VPN's own socket. Without EndpointAnyUser, a socket opened by another user than root is
 * refused; "meta skuid" finds no owner for the kernel's own sockets (kernel WireGuard) and for
 * forwarded packets, so the rule does not match them and they go on. With EndpointMark, only
 * packets carrying it. */
static void chain_endpoint_out(Builder *b, const Settings *s) {
        uint32_t mark = s->endpoint_mark, root = 0;
        struct nftnl_rule *r;

        emit_chain(b, "endpoint_out", -1, 0, NF_DROP, NULL);
        if (!s->endpoint_any_user) {
                r = rule_new(b, "endpoint_out");
                put_meta(b, r, NFT_META_SKUID, reg32(0));
                put_cmp(b, r, reg32(0), NFT_CMP_NEQ, &root, sizeof(root));
                put_counted_drop(b, r);
                rule_emit(b, r);
        }
        if (mark != 0) {
                r = rule_new(b, "endpoint_out");
                put_meta(b, r, NFT_META_MARK, reg32(0));
                put_cmp(b, r, reg32(0), NFT_CMP_NEQ, &mark, sizeof(mark));
                put_counted_drop(b, r);
                rule_emit(b, r);
        }
        r = rule_new(b, "endpoint_out");
        put_verdict(b, r, NF_ACCEPT, NULL);
        rule_emit(b, r);
}

/* ICMP errors about a flow this machine may have (conntrack ties them to it: "related"):
 * "packet too big" keeps path MTU discovery towards the VPN server working, "port unreachable"
 * tells the VPN client at once. They reach no socket but the flow's. */
static void rules_icmp_errors(Builder *b, const PacketView *v) {
        static const int families[] = {AF_INET, AF_INET6};

        for (size_t i = 0; i < ELEMENTSOF(families); i++) {
                struct nftnl_rule *r = rule_new(b, v->chain);

                match_l4proto(b, r, v, families[i], NFT_CMP_EQ,
                              families[i] == AF_INET ? IPPROTO_ICMP : IPPROTO_ICMPV6);
                put_ct_state(b, r, NF_CT_STATE_BIT(IP_CT_RELATED));
                put_verdict(b, r, NF_ACCEPT, NULL);
                rule_emit(b, r);
        }
}

/* The allow list for one direction outside the tunnels, in a regular chain that returns when
 * nothing matched. */
static void chain_allow(Builder *b, const Settings *s, Direction d) {
        const PacketView v = {.chain = allow_chain(d), .d = d};

        emit_chain(b, v.chain, -1, 0, NF_DROP, NULL);
        rule_endpoints(b, &v, AF_INET);
        rule_endpoints(b, &v, AF_INET6);
        if (d == INGRESS)
                rules_icmp_errors(b, &v);
        if (s->allow_dhcp)
                rules_dhcp(b, &v);
        if (s->allow_lan) {
                rules_lan(b, &v, AF_INET);
                rules_lan(b, &v, AF_INET6);
        }
}

/* For each level in use: the sending socket's cgroup, or its ancestor at that level, is listed
 * in 'set': go to 'chain'. A packet without a socket (forwarded) matches none. */
static void rules_cgroups(Builder *b, const char *chain, uint32_t levels, int set,
                          const char *target) {
        for (uint32_t level = 1; level <= CGROUP_LEVEL_MAX; level++) {
                struct nftnl_rule *r;

                if (!(levels & (UINT32_C(1) << level)))
                        continue;
                r = rule_new(b, chain);
                put_socket_cgroupv2(b, r, level, reg32(0));
                put_lookup(b, r, reg32(0), set);
                put_verdict(b, r, NFT_GOTO, target);
                rule_emit(b, r);
        }
}

/* ExemptCgroups: their sockets leave as if there were no kill switch. The connection is marked,
 * so that its replies come back in (not a blanket accept for their addresses) and the
 * postrouting hook, where the kernel gives no socket match, knows it again; only the mark's bit
 * is set, whatever else others keep in it. */
static void chain_exempt_out(Builder *b) {
        struct nftnl_rule *r;

        emit_chain(b, "exempt_out", -1, 0, NF_DROP, NULL);
        r = rule_new(b, "exempt_out");
        put_ct_mark_add(b, r, EXEMPT_CT_MARK);
        put_verdict(b, r, NF_ACCEPT, NULL);
        rule_emit(b, r);
}

/* Scope "cgroups": what the listed cgroups send is held as the whole machine is otherwise; the
 * connection is marked for the postrouting hook. (The same shape as exempt_out: a mark, then a
 * verdict of its own.) */
static void chain_scoped_out(Builder *b) {
        struct nftnl_rule *r;

        emit_chain(b, "scoped_out", -1, 0, NF_DROP, NULL);
        r = rule_new(b, "scoped_out");
        put_ct_mark_add(b, r, SCOPED_CT_MARK);
        rule_emit(b, r);
        r = rule_new(b, "scoped_out");
        put_verdict(b, r, NFT_JUMP, allow_chain(EGRESS));
        rule_emit(b, r);
        r = rule_new(b, "scoped_out");
        put_counted_drop(b, r);
        rule_emit(b, r);
}

/* A connection carrying the bit: accepted, or sent on to 'target'. */
static void rule_ct_marked(Builder *b, const char *chain, uint32_t bit, const char *target) {
        struct nftnl_rule *r = rule_new(b, chain);

        put_ct_mark_has(b, r, bit);
        put_verdict(b, r, target ? NFT_GOTO : NF_ACCEPT, target);
        rule_emit(b, r);
}

/* The per-application rules of a base chain. Sockets are known at the output hook only
 * ("socket cgroupv2" is refused at postrouting, and a packet coming in has none yet): there the
 * cgroups are looked up and the connection marked; postrouting and input go by the mark. */
static void rules_per_app(Builder *b, const Settings *s, const char *chain, int hook) {
        bool exempt = s->exempt_cgroups.n > 0;

        switch (hook) {
        case NF_INET_LOCAL_OUT:
                rules_cgroups(b, chain, cgroup_levels(&s->exempt_cgroups), SET_EXEMPT_CGROUPS,
                              "exempt_out");
                if (s->scoped)
                        rules_cgroups(b, chain, cgroup_levels(&s->scoped_cgroups),
                                      SET_SCOPED_CGROUPS, "scoped_out");
                break;
        case NF_INET_POST_ROUTING:
                if (exempt)
                        rule_ct_marked(b, chain, EXEMPT_CT_MARK, NULL);
                if (s->scoped)
                        rule_ct_marked(b, chain, SCOPED_CT_MARK, "scoped_out");
                break;
        case NF_INET_LOCAL_IN:
                if (exempt)
                        rule_ct_marked(b, chain, EXEMPT_CT_MARK, NULL);
                break;
        }
}

/* A base chain: the tunnels (and for forwarded packets their replies), the per-application
 * rules, then the allow list, else count and drop (policy drop backs it up). With Scope
 * "cgroups", the output hooks hold only the scoped cgroups' sockets and accept the rest; the
 * policy still drops, so that a chain cut short holds rather than opens. */
static void chain_base(Builder *b, const Settings *s, const char *name, int hook, int priority,
                       Direction d) {
        struct nftnl_rule *r;

        emit_chain(b, name, hook, priority, NF_DROP, NULL);
        rule_tunnels(b, s, name, d, SET_TUNNELS);
        if (hook == NF_INET_FORWARD || hook == NF_INET_POST_ROUTING)
                rule_tunnel_replies(b, s, name, SET_TUNNELS);
        rules_per_app(b, s, name, hook);
        r = rule_new(b, name);
        if (s->scoped)
                put_verdict(b, r, NF_ACCEPT, NULL);
        else
                put_verdict(b, r, NFT_JUMP, allow_chain(d));
        rule_emit(b, r);
        if (s->scoped)
                return;
        r = rule_new(b, name);
        put_counted_drop(b, r);
        rule_emit(b, r);
}

/* Before routing, before conntrack: a packet that arrives on a link other than loopback or a
 * tunnel and is addressed to this machine, but not to an address of that link, is dropped.
 * Above all, nothing from the LAN reaches the tunnel's address (CVE-2019-14899: probing it
 * reveals the tunnel and lets a neighbour inject into its connections). */
static void chain_prerouting(Builder *b, const Settings *s) {
        struct nftnl_rule *r;
        uint32_t local = RTN_LOCAL;

        emit_chain(b, "prerouting", NF_INET_PRE_ROUTING, PRIORITY_RAW, NF_ACCEPT, NULL);
        rule_tunnels(b, s, "prerouting", INGRESS, SET_TUNNELS);
        /* The common case first, one route lookup: for an address of this link. */
        r = rule_new(b, "prerouting");
        put_fib_daddr_type(b, r, true);
        put_cmp(b, r, reg32(0), NFT_CMP_EQ, &local, sizeof(local));
        put_verdict(b, r, NF_ACCEPT, NULL);
        rule_emit(b, r);
        /* Then for another link's address: dropped. Forwarded, broadcast and multicast packets
         * are not local and pass on. */
        r = rule_new(b, "prerouting");
        put_fib_daddr_type(b, r, false);
        put_cmp(b, r, reg32(0), NFT_CMP_EQ, &local, sizeof(local));
        put_counted_drop(b, r);
        rule_emit(b, r);
}

/* ---- the rules: table netdev, for frames that never met the IP stack ---- */

static const char *frames_chain(LinkLayout layout) {
        return layout == LAYOUT_ETHERNET ? "frames_ethernet" : "frames_ip";
}

/* What may leave a link without having been routed by this host: ARP, DHCP and neighbour
 * discovery as the inet table allows them going out, and LAN traffic with AllowLan. This is
 * what a DHCP client's packet socket sends; anything else from an AF_PACKET socket is
 * dropped. */
static void chain_frames(Builder *b, const Settings *s, LinkLayout layout) {
        const PacketView v = {
                .chain = frames_chain(layout), .d = EGRESS, .frame = true, .layout = layout};
        struct nftnl_rule *r;

        emit_chain(b, v.chain, -1, 0, NF_DROP, NULL);
        if (layout == LAYOUT_ETHERNET) {
                uint16_t arp = htons(ETH_P_ARP);

                r = rule_new(b, v.chain);
                put_payload(b, r, NFT_PAYLOAD_LL_HEADER, 12, 2, reg32(0));
                put_cmp(b, r, reg32(0), NFT_CMP_EQ, &arp, sizeof(arp));
                put_verdict(b, r, NF_ACCEPT, NULL);
                rule_emit(b, r);
        }
        if (s->allow_dhcp)
                rules_dhcp(b, &v);
        if (s->allow_lan) {
                rules_lan(b, &v, AF_INET);
                rules_lan(b, &v, AF_INET6);
        }
}

static void link_chain_name(const GuardedLink *l, char buf[static LINK_CHAIN_NAME_MAX]) {
        snprintf(buf, LINK_CHAIN_NAME_MAX, "egress_%s", l->name);
}

/* One base chain on the egress hook of each link that is neither loopback nor a tunnel. A
 * packet that this host routed carries its route (meta rtclassid loads only then), so the inet
 * chains have judged it: accept. An AF_PACKET frame has none: the frames allow list decides.
 * A link named like a tunnel that is no tunnel gets no such pass: what the inet chains let
 * through because of its name is held here to the frames allow list. */
static void chain_link(Builder *b, const GuardedLink *l) {
        char name[LINK_CHAIN_NAME_MAX];
        struct nftnl_rule *r;
        uint32_t zero = 0;

        link_chain_name(l, name);
        emit_chain(b, name, NF_NETDEV_EGRESS, PRIORITY_FILTER, NF_DROP, l->name);
        if (!l->impostor) {
                r = rule_new(b, name);
                put_meta(b, r, NFT_META_RTCLASSID, reg32(0));
                put_cmp(b, r, reg32(0), NFT_CMP_GTE, &zero, sizeof(zero));
                put_verdict(b, r, NF_ACCEPT, NULL);
                rule_emit(b, r);
        }
        if (l->layout != LAYOUT_OTHER) {
                r = rule_new(b, name);
                put_verdict(b, r, NFT_JUMP, frames_chain(l->layout));
                rule_emit(b, r);
        }
        r = rule_new(b, name);
        put_counted_drop(b, r);
        rule_emit(b, r);
}

static void emit_sets_network(Builder *b) {
        emit_set(b, SET_LAN4, NFT_TYPE_IPADDR, 4, true, 0);
        emit_set(b, SET_LAN6, NFT_TYPE_IP6ADDR, 16, true, 0);
        emit_set(b, SET_ONLINK4, NFT_TYPE_IPADDR, 4, true, 0);
        emit_set(b, SET_ONLINK6, NFT_TYPE_IP6ADDR, 16, true, 0);
}

/* Replacing: claim an orphaned table first (only its owner may delete it), then delete and
 * re-create it. One transaction: the old rules stay in force until the new ones are. */
static void table_create(Builder *b, bool adopt, bool replace, uint32_t flags) {
        if (adopt)
                emit_table(b, NFT_MSG_NEWTABLE, flags);
        if (replace)
                emit_table(b, NFT_MSG_DELTABLE, 0);
        emit_table(b, NFT_MSG_NEWTABLE, flags);
}

static void build_inet(Builder *b, const Settings *s, const NetView *v, const RulesetParams *p) {
        table_create(b, p->adopt, p->replace, p->table_flags);

        emit_counter(b, p->blocked_packets, p->blocked_bytes);
        /* Exact names in a hash, the one lookup most packets meet; patterns apart. */
        emit_set(b, SET_TUNNELS, NFT_TYPE_IFNAME, IFNAMSIZ, false, TUNNELS_MAX + 1);
        emit_set(b, SET_TUNNEL_PATTERNS, NFT_TYPE_IFNAME, IFNAMSIZ, true, 0);
        emit_set(b, SET_ENDPOINTS4,
                 (NFT_TYPE_IPADDR << 2 * NFT_TYPE_BITS) |
                         (NFT_TYPE_INET_PROTOCOL << NFT_TYPE_BITS) | NFT_TYPE_INET_SERVICE,
                 12, false, 0);
        emit_set(b, SET_ENDPOINTS6,
                 (NFT_TYPE_IP6ADDR << 2 * NFT_TYPE_BITS) |
                         (NFT_TYPE_INET_PROTOCOL << NFT_TYPE_BITS) | NFT_TYPE_INET_SERVICE,
                 24, false, 0);
        emit_sets_network(b);
        emit_set(b, SET_EXEMPT_CGROUPS, NFT_TYPE_CGROUPV2, sizeof(uint64_t), false, 0);
        emit_set(b, SET_SCOPED_CGROUPS, NFT_TYPE_CGROUPV2, sizeof(uint64_t), false, 0);

        emit_tunnel_elems(b, s);
        emit_endpoint_elems(b, s);
        emit_network_elems(b, s, v);
        emit_cgroup_elems(b, v);

        chain_endpoint_out(b, s);
        chain_allow(b, s, EGRESS);
        if (s->exempt_cgroups.n > 0)
                chain_exempt_out(b);
        if (s->scoped)
                chain_scoped_out(b);
        else {
                /* The whole machine held: what comes in and what is forwarded too. With Scope
                 * "cgroups", only what the scoped cgroups send, and nothing else is touched. */
                chain_allow(b, s, INGRESS);
                chain_prerouting(b, s);
                chain_base(b, s, "input", NF_INET_LOCAL_IN, PRIORITY_FILTER, INGRESS);
        }
        chain_base(b, s, "output", NF_INET_LOCAL_OUT, PRIORITY_FILTER, EGRESS);
        if (!s->scoped)
                chain_base(b, s, "forward", NF_INET_FORWARD, PRIORITY_FILTER, EGRESS);
        chain_base(b, s, "postrouting", NF_INET_POST_ROUTING, PRIORITY_POSTROUTING_LAST, EGRESS);
}

static void build_netdev(Builder *b, const Settings *s, const NetView *v, const RulesetParams *p) {
        table_create(b, p->adopt_frames, p->replace_frames, p->table_flags);
        emit_counter(b, p->blocked_frames, p->blocked_frames_bytes);
        emit_sets_network(b);
        emit_network_elems(b, s, v);
        chain_frames(b, s, LAYOUT_ETHERNET);
        chain_frames(b, s, LAYOUT_IP);
        for (size_t i = 0; i < v->n_links; i++)
                chain_link(b, &v->links[i]);
}

static Builder ruleset_begin(Batch *batch) {
        return builder_begin(batch, set_names, SET_COUNT);
}

int ruleset_build(Batch *batch, const Settings *s, const NetView *v, const RulesetParams *p) {
        Builder b = ruleset_begin(batch);

        build_inet(&b, s, v, p);
        if (p->frames) {
                b.family = NFPROTO_NETDEV;
                build_netdev(&b, s, v, p);
        } else if (p->replace_frames) {
                b.family = NFPROTO_NETDEV;
                emit_table(&b, NFT_MSG_DELTABLE, 0);
        }
        return builder_end(&b);
}

int ruleset_build_endpoint_change(Batch *batch, const Endpoint *e, bool add) {
        Builder b = ruleset_begin(batch);
        uint8_t key[KEY_MAX];
        size_t len = endpoint_key(e, key);

        /* NLM_F_EXCL on add and the kernel's ENOENT on delete keep kernel and settings in step. */
        emit_elem_change(&b, e->family == AF_INET ? SET_ENDPOINTS4 : SET_ENDPOINTS6,
                         add ? NFT_MSG_NEWSETELEM : NFT_MSG_DELSETELEM,
                         add ? NLM_F_CREATE | NLM_F_EXCL : 0, key, (uint32_t)len);
        return builder_end(&b);
}

int ruleset_build_cgroups_update(Batch *batch, const NetView *v) {
        Builder b = ruleset_begin(batch);

        /* Emptied and refilled in one transaction: a cgroup that stays is never missing. */
        emit_set_flush(&b, SET_EXEMPT_CGROUPS);
        emit_set_flush(&b, SET_SCOPED_CGROUPS);
        emit_cgroup_elems(&b, v);
        return builder_end(&b);
}

/* Removing or adding an element costs about what adding one to a new set does; a new table costs
 * that for every endpoint it holds, plus its chains, rules and the old table's removal, which
 * weigh about as much as this many elements (bench/analysis.md: Apply at 1 to 65,536). */
#define LISTS_UPDATE_SLACK 256u

static int count_change(const Endpoint *e, bool add, void *userdata) {
        size_t *budget = userdata;

        (void)e, (void)add;
        if (*budget == 0)
                return -E2BIG;
        (*budget)--;
        return 0;
}

bool ruleset_lists_update_fits(const Settings *old, const Settings *new) {
        size_t budget = new->n_endpoints + LISTS_UPDATE_SLACK;

        if (has_tunnel_patterns(old) != has_tunnel_patterns(new))
                return false;
        /* Every endpoint replaced (another provider's list): a new table is the cheaper. */
        return settings_endpoints_diff(old, new, count_change, &budget) >= 0;
}

/* Per family ([0] IPv4, [1] IPv6), the endpoints to remove and to add. */
typedef struct EndpointChanges {
        ElemWriter removed[2], added[2];
} EndpointChanges;

static int endpoint_change_elem(const Endpoint *e, bool add, void *userdata) {
        EndpointChanges *c = userdata;
        uint8_t key[KEY_MAX];
        size_t len = endpoint_key(e, key);
        int v6 = e->family == AF_INET6;

        elems_add(add ? &c->added[v6] : &c->removed[v6], key, (uint32_t)len, 0);
        return 0;
}

int ruleset_build_lists_update(Batch *batch, const Settings *old, const Settings *new) {
        Builder b = ruleset_begin(batch);

        if (!settings_tunnels_equal(old, new)) {
                /* Patterns merge into each other ("tun*" holds "tun0"): refill rather than
                 * patch. The flush and the new elements are one transaction: no packet sees the
                 * sets empty. */
                emit_set_flush(&b, SET_TUNNELS);
                emit_set_flush(&b, SET_TUNNEL_PATTERNS);
                emit_tunnel_elems(&b, new);
        }
        if (!settings_endpoints_equal(old, new)) {
                /* The kernel's ENOENT on a removal and EEXIST on an addition refuse the batch
                 * if the sets are not what 'old' put there: then the table is rebuilt. */
                EndpointChanges c = {
                        .removed = {{.b = &b, .set = SET_ENDPOINTS4, .removing = true},
                                    {.b = &b, .set = SET_ENDPOINTS6, .removing = true}},
                        .added = {{.b = &b, .set = SET_ENDPOINTS4, .exclusive = true},
                                  {.b = &b, .set = SET_ENDPOINTS6, .exclusive = true}},
                };

                (void)settings_endpoints_diff(old, new, endpoint_change_elem, &c);
                for (size_t i = 0; i < 2; i++) {
                        elems_flush(&c.removed[i]);
                        elems_flush(&c.added[i]);
                }
        }
        return builder_end(&b);
}

/* The sets that follow the network, emptied and refilled in the same transaction. */
static void refill_network_sets(Builder *b, const Settings *s, const NetView *v) {
        for (int set = SET_LAN4; set <= SET_ONLINK6; set++)
                emit_set_flush(b, set);
        emit_network_elems(b, s, v);
}

static bool link_listed(const NetView *v, const GuardedLink *l) {
        for (size_t i = 0; i < v->n_links; i++)
                if (guarded_link_equal(&v->links[i], l))
                        return true;
        return false;
}

int ruleset_build_network_update(Batch *batch, const Settings *s, const NetView *old,
                                 const NetView *now, bool frames) {
        Builder b = ruleset_begin(batch);

        refill_network_sets(&b, s, now);
        if (frames) {
                b.family = NFPROTO_NETDEV;
                refill_network_sets(&b, s, now);
                /* Links that went or changed lose their chain, new ones get one. */
                for (size_t i = 0; i < old->n_links; i++)
                        if (!link_listed(now, &old->links[i])) {
                                char name[LINK_CHAIN_NAME_MAX];

                                link_chain_name(&old->links[i], name);
                                emit_chain_delete(&b, name);
                        }
                for (size_t i = 0; i < now->n_links; i++)
                        if (!link_listed(old, &now->links[i]))
                                chain_link(&b, &now->links[i]);
        }
        return builder_end(&b);
}

int ruleset_build_delete(Batch *batch, bool inet, bool frames) {
        Builder b = ruleset_begin(batch);

        if (inet)
                emit_table(&b, NFT_MSG_DELTABLE, 0);
        if (frames) {
                b.family = NFPROTO_NETDEV;
                emit_table(&b, NFT_MSG_DELTABLE, 0);
        }
        return builder_end(&b);
}

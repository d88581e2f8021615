/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The builder's batch, parsed back with libnftnl: the messages, their order and flags, the
 * chains, the rules' expressions and the set elements byte for byte. No root needed. */
#include <netinet/in.h>

#include <libmnl/libmnl.h>
#include <libnftnl/chain.h>
#include <libnftnl/rule.h>
#include <libnftnl/set.h>
#include <libnftnl/table.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <net/if.h>

#include "ruleset.h"
#include "test.h"

static Error error;

static uint8_t msg_type(const struct nlmsghdr *nlh) {
        return nlh->nlmsg_type & 0xff;
}

static bool is_nft(const struct nlmsghdr *nlh) {
        return (nlh->nlmsg_type >> 8) == NFNL_SUBSYS_NFTABLES;
}

#define for_each_msg(nlh, b)                                                                       \
        for (const struct nlmsghdr *nlh = (const void *)(b)->buf;                                  \
             (const uint8_t *)nlh < (b)->buf + (b)->size;                                          \
             nlh = (const void *)((const uint8_t *)nlh + MNL_ALIGN(nlh->nlmsg_len)))

static void build(Batch *b, const Settings *s, const RulesetParams *p) {
        batch_init(b, 100);
        NetView v = {.lan = lan_private_ranges, .n_lan = lan_private_ranges_count};

        ASSERT_EQ(ruleset_build(b, s, &v, p), 0);
}

static Settings example(void) {
        Settings s;
        Endpoint e;

        settings_init(&s);
        s.enabled = true;
        ASSERT_EQ(settings_add_tunnel(&s, "wg0", &error), 0);
        ASSERT_EQ(settings_add_tunnel(&s, "tun*", &error), 0);
        ASSERT_EQ(settings_add_tunnel(&s, "tun0", &error), 0); /* inside tun*: merged */
        ASSERT_EQ(endpoint_parse("198.51.100.7", 51820, "udp", &e, &error), 0);
        ASSERT_EQ(settings_add_endpoint(&s, &e, &error), 0);
        ASSERT_EQ(endpoint_parse("2001:db8::1", 443, "tcp", &e, &error), 0);
        ASSERT_EQ(settings_add_endpoint(&s, &e, &error), 0);
        return s;
}

TEST(framing) {
        _cleanup_(settings_done) Settings s = example();
        _cleanup_(batch_done) Batch b;
        RulesetParams p = {.table_flags = TABLE_FLAGS_OWNED};
        uint32_t seq = 100;
        size_t n = 0, acks = 0;
        const struct nlmsghdr *last = NULL;

        build(&b, &s, &p);
        for_each_msg(nlh, &b) {
                /* Consecutive sequence numbers: every ACK maps back to its message. */
                ASSERT_EQ(nlh->nlmsg_seq, seq++);
                if (n == 0)
                        ASSERT_EQ(nlh->nlmsg_type, NFNL_MSG_BATCH_BEGIN);
                else if (nlh->nlmsg_type != NFNL_MSG_BATCH_END) {
                        ASSERT(is_nft(nlh));
                        ASSERT(nlh->nlmsg_flags & NLM_F_ACK);
                        acks++;
                }
                last = nlh;
                n++;
        }
        ASSERT_EQ(last->nlmsg_type, NFNL_MSG_BATCH_END);
        ASSERT_EQ(acks, b.n_acks);
        ASSERT_EQ(b.seq, seq);
}

/* The table messages at the start: create; replace; adopt and replace. */
static void table_sequence(const RulesetParams *p, const uint8_t *want, size_t n_want) {
        _cleanup_(settings_done) Settings s = example();
        _cleanup_(batch_done) Batch b;
        size_t n = 0;

        build(&b, &s, p);
        for_each_msg(nlh, &b) {
                struct nftnl_table *t;

                if (!is_nft(nlh) ||
                    (msg_type(nlh) != NFT_MSG_NEWTABLE && msg_type(nlh) != NFT_MSG_DELTABLE))
                        continue;
                ASSERT(n < n_want);
                ASSERT_EQ(msg_type(nlh), want[n]);
                t = nftnl_table_alloc();
                ASSERT_EQ(nftnl_table_nlmsg_parse(nlh, t), 0);
                ASSERT_STREQ(nftnl_table_get_str(t, NFTNL_TABLE_NAME), "killswitchd");
                ASSERT_EQ(nlh->nlmsg_flags & NLM_F_EXCL, 0);
                if (msg_type(nlh) == NFT_MSG_NEWTABLE)
                        ASSERT_EQ(nftnl_table_get_u32(t, NFTNL_TABLE_FLAGS), p->table_flags);
                nftnl_table_free(t);
                n++;
        }
        ASSERT_EQ(n, n_want);
}

TEST(table_messages) {
        const uint8_t create[] = {NFT_MSG_NEWTABLE};
        const uint8_t replace[] = {NFT_MSG_DELTABLE, NFT_MSG_NEWTABLE};
        const uint8_t adopt[] = {NFT_MSG_NEWTABLE, NFT_MSG_DELTABLE, NFT_MSG_NEWTABLE};

        table_sequence(&(RulesetParams){.table_flags = TABLE_FLAGS_OWNED}, create, 1);
        table_sequence(&(RulesetParams){.table_flags = 0}, create, 1);
        table_sequence(&(RulesetParams){.table_flags = TABLE_FLAGS_OWNED, .replace = true}, replace,
                       2);
        table_sequence(
                &(RulesetParams){.table_flags = TABLE_FLAGS_OWNED, .replace = true, .adopt = true},
                adopt, 3);
        ASSERT_EQ(TABLE_FLAGS_OWNED, 0x2 | 0x4);
}

TEST(base_chains_drop) {
        static const struct {
                const char *name;
                uint32_t hook;
                int32_t prio;
        } want[] = {
                {"input", NF_INET_LOCAL_IN, 0},
                {"output", NF_INET_LOCAL_OUT, 0},
                {"forward", NF_INET_FORWARD, 0},
                {"postrouting", NF_INET_POST_ROUTING, 500},
                {"prerouting", NF_INET_PRE_ROUTING, -300},
        };
        _cleanup_(settings_done) Settings s = example();
        _cleanup_(batch_done) Batch b;
        unsigned found = 0, regular = 0;

        build(&b, &s, &(RulesetParams){});
        for_each_msg(nlh, &b) {
                struct nftnl_chain *c;
                const char *name;

                if (!is_nft(nlh) || msg_type(nlh) != NFT_MSG_NEWCHAIN)
                        continue;
                c = nftnl_chain_alloc();
                ASSERT_EQ(nftnl_chain_nlmsg_parse(nlh, c), 0);
                name = nftnl_chain_get_str(c, NFTNL_CHAIN_NAME);
                if (!nftnl_chain_is_set(c, NFTNL_CHAIN_HOOKNUM)) {
                        ASSERT(strncmp(name, "allow_", 6) == 0 ||
                               strcmp(name, "endpoint_out") == 0);
                        regular++;
                }
                for (unsigned i = 0; i < ELEMENTSOF(want); i++) {
                        if (strcmp(name, want[i].name) != 0)
                                continue;
                        ASSERT_EQ(nftnl_chain_get_u32(c, NFTNL_CHAIN_HOOKNUM), want[i].hook);
                        ASSERT_EQ(nftnl_chain_get_s32(c, NFTNL_CHAIN_PRIO), want[i].prio);
                        /* prerouting only drops what it must: the input chain judges the rest. */
                        ASSERT_EQ(nftnl_chain_get_u32(c, NFTNL_CHAIN_POLICY),
                                  want[i].hook == NF_INET_PRE_ROUTING ? NF_ACCEPT : NF_DROP);
                        ASSERT_STREQ(nftnl_chain_get_str(c, NFTNL_CHAIN_TYPE), "filter");
                        found |= 1u << i;
                }
                nftnl_chain_free(c);
        }
        ASSERT_EQ(found, 0x1f);
        ASSERT_EQ(regular, 3);
}

/* The rules of one chain, each rendered by libnftnl as "[ expr ] [ expr ] ...". */
static size_t chain_rules(const Batch *b, const char *chain, char out[][1024], size_t max) {
        size_t n = 0;

        for_each_msg(nlh, b) {
                struct nftnl_rule *r;

                if (!is_nft(nlh) || msg_type(nlh) != NFT_MSG_NEWRULE)
                        continue;
                r = nftnl_rule_alloc();
                ASSERT_EQ(nftnl_rule_nlmsg_parse(nlh, r), 0);
                if (strcmp(nftnl_rule_get_str(r, NFTNL_RULE_CHAIN), chain) == 0) {
                        ASSERT(n < max);
                        nftnl_rule_snprintf(out[n++], 1024, r, NFTNL_OUTPUT_DEFAULT, 0);
                }
                nftnl_rule_free(r);
        }
        return n;
}

static size_t count_matching(char rules[][1024], size_t n, const char *needle) {
        size_t k = 0;

        for (size_t i = 0; i < n; i++)
                if (strstr(rules[i], needle))
                        k++;
        return k;
}

TEST(base_chain_rules) {
        _cleanup_(settings_done) Settings s = example();
        _cleanup_(batch_done) Batch b;
        char rules[8][1024];

        build(&b, &s, &(RulesetParams){});
        /* The common packet is decided by one lookup in the base chain: the tunnels set holds
         * loopback too. */
        ASSERT_EQ(chain_rules(&b, "output", rules, 8), 3);
        ASSERT(strstr(rules[0], "meta load oifname => reg 1"));
        ASSERT(strstr(rules[0], "lookup reg 1 set tunnels"));
        ASSERT(strstr(rules[0], "accept"));
        ASSERT(strstr(rules[1], "jump -> allow_egress"));
        ASSERT(strstr(rules[2], "objref type 1 name blocked"));
        ASSERT(strstr(rules[2], "drop"));
        ASSERT_EQ(chain_rules(&b, "input", rules, 8), 3);
        ASSERT(strstr(rules[0], "meta load iifname => reg 1"));
        ASSERT(strstr(rules[1], "jump -> allow_ingress"));
        /* Forwarded replies from a tunnel: ct state established,related, as nft(8) writes it;
         * only where a packet has an input interface. */
        ASSERT_EQ(chain_rules(&b, "forward", rules, 8), 4);
        ASSERT_EQ(chain_rules(&b, "postrouting", rules, 8), 4);
        ASSERT(strstr(rules[1], "meta load iifname => reg 1"));
        ASSERT(strstr(rules[1], "lookup reg 1 set tunnels"));
        ASSERT(strstr(rules[1], "ct load state => reg 1"));
        ASSERT(strstr(rules[1], "bitwise reg 1 = ( reg 1 & 0x00000006 ) ^ 0x00000000"));
        ASSERT(strstr(rules[1], "cmp neq reg 1 0x00000000"));
        ASSERT(strstr(rules[2], "jump -> allow_egress"));
        /* prerouting: tunnels and loopback pass; for an address of the arrival link, one route
         * lookup; for another link's address, dropped. */
        ASSERT_EQ(chain_rules(&b, "prerouting", rules, 8), 3);
        ASSERT(strstr(rules[1], "fib daddr . iif type => reg 1"));
        ASSERT(strstr(rules[1], "cmp eq reg 1 0x00000002")); /* RTN_LOCAL */
        ASSERT(strstr(rules[1], "accept"));
        ASSERT(strstr(rules[2], "fib daddr type => reg 1"));
        ASSERT(strstr(rules[2], "name blocked"));
}

TEST(allow_rules) {
        _cleanup_(settings_done) Settings s = example();
        _cleanup_(batch_done) Batch b, off, mark, any;
        char rules[32][1024];
        size_t n;

        build(&b, &s, &(RulesetParams){});
        n = chain_rules(&b, "allow_egress", rules, 32);
        /* endpoints v4+v6, DHCPv4, DHCPv6, ICMPv6; no LAN */
        ASSERT_EQ(n, 5);
        /* ip daddr (offset 16) . l4proto . dport (offset 2) in consecutive 32-bit registers,
         * one lookup, then endpoint_out decides whose packet it may be. */
        ASSERT(strstr(rules[0], "payload load 4b @ network header + 16 => reg 1"));
        ASSERT(strstr(rules[0], "meta load l4proto => reg 9"));
        ASSERT(strstr(rules[0], "payload load 2b @ transport header + 2 => reg 10"));
        ASSERT(strstr(rules[0], "lookup reg 1 set endpoints4"));
        ASSERT(strstr(rules[0], "goto -> endpoint_out"));
        ASSERT(strstr(rules[1], "payload load 16b @ network header + 24 => reg 1"));
        ASSERT(strstr(rules[1], "meta load l4proto => reg 2"));
        ASSERT(strstr(rules[1], "lookup reg 1 set endpoints6"));
        /* DHCP only to on-link destinations, neighbour discovery only unrouted (hop limit 255)
         * and to on-link destinations. */
        ASSERT(strstr(rules[2], "cmp eq reg 1 0x00004400")); /* sport 68 */
        ASSERT(strstr(rules[2], "cmp eq reg 1 0x00004300")); /* dport 67 */
        ASSERT(strstr(rules[2], "lookup reg 1 set onlink4"));
        ASSERT(strstr(rules[3], "lookup reg 1 set onlink6"));
        ASSERT(strstr(rules[4], "cmp gte reg 1 0x00000085")); /* 133 */
        ASSERT(strstr(rules[4], "cmp lte reg 1 0x00000088")); /* 136 */
        ASSERT(strstr(rules[4], "payload load 1b @ network header + 7 => reg 1"));
        ASSERT(strstr(rules[4], "cmp eq reg 1 0x000000ff"));
        ASSERT(strstr(rules[4], "lookup reg 1 set onlink6"));

        /* Only root's sockets (and the kernel's, which have no owner) reach an endpoint. */
        n = chain_rules(&b, "endpoint_out", rules, 32);
        ASSERT_EQ(n, 2);
        ASSERT(strstr(rules[0], "meta load skuid => reg 1"));
        ASSERT(strstr(rules[0], "cmp neq reg 1 0x00000000"));
        ASSERT(strstr(rules[0], "name blocked"));
        ASSERT(strstr(rules[1], "accept"));

        /* Ingress: endpoints only as replies (ct state established), ICMP errors about our
         * flows (related), DHCP, unrouted NDP. */
        n = chain_rules(&b, "allow_ingress", rules, 32);
        ASSERT_EQ(n, 7);
        ASSERT(strstr(rules[0], "payload load 4b @ network header + 12 => reg 1"));
        ASSERT(strstr(rules[0], "payload load 2b @ transport header + 0 => reg 10"));
        ASSERT(strstr(rules[0], "ct load state => reg 1"));
        ASSERT(strstr(rules[0], "bitwise reg 1 = ( reg 1 & 0x00000002 ) ^ 0x00000000"));
        ASSERT(strstr(rules[0], "accept"));
        ASSERT(strstr(rules[1], "ct load state => reg 1"));
        ASSERT(strstr(rules[2], "cmp eq reg 1 0x00000001")); /* ICMP */
        ASSERT(strstr(rules[2], "bitwise reg 1 = ( reg 1 & 0x00000004 ) ^ 0x00000000"));
        ASSERT(strstr(rules[3], "cmp eq reg 1 0x0000003a"));  /* ICMPv6 */
        ASSERT(strstr(rules[6], "cmp lte reg 1 0x00000089")); /* redirects too: 137 */
        ASSERT(strstr(rules[6], "cmp eq reg 1 0x000000ff"));

        /* EndpointAnyUser: no owner check. */
        s.endpoint_any_user = true;
        build(&any, &s, &(RulesetParams){});
        n = chain_rules(&any, "endpoint_out", rules, 32);
        ASSERT_EQ(n, 1);
        ASSERT_EQ(count_matching(rules, n, "skuid"), 0);
        s.endpoint_any_user = false;

        /* AllowDhcp off, AllowLan on: LAN accept plus DNS drops for each family. */
        s.allow_dhcp = false;
        s.allow_lan = true;
        build(&off, &s, &(RulesetParams){});
        n = chain_rules(&off, "allow_egress", rules, 32);
        ASSERT_EQ(n, 2 + 6);
        ASSERT_EQ(count_matching(rules, n, "0x00004300"), 0);
        ASSERT_EQ(count_matching(rules, n, "set lan4"), 3);
        ASSERT_EQ(count_matching(rules, n, "set lan6"), 3);
        ASSERT_EQ(count_matching(rules, n, "cmp eq reg 1 0x00003500"), 4); /* port 53 */
        ASSERT_EQ(count_matching(rules, n, "name blocked"), 4);

        /* EndpointMark: only marked packets reach the endpoints, going out. */
        s.endpoint_mark = 0x1234;
        build(&mark, &s, &(RulesetParams){});
        n = chain_rules(&mark, "endpoint_out", rules, 32);
        ASSERT_EQ(n, 3);
        ASSERT(strstr(rules[1], "meta load mark => reg 1"));
        ASSERT(strstr(rules[1], "cmp neq reg 1 0x00001234"));
        ASSERT(strstr(rules[1], "name blocked"));
        n = chain_rules(&mark, "allow_ingress", rules, 32);
        ASSERT_EQ(count_matching(rules, n, "meta load mark"), 0);
}

/* Every element of a set across its NEWSETELEM messages: key bytes and flags, read with
 * libmnl straight from the netlink attributes. */
typedef struct Elem {
        uint8_t key[32];
        uint32_t len, flags;
} Elem;

static void parse_elem(const struct nlattr *elem, Elem *out) {
        const struct nlattr *a, *d;

        *out = (Elem){};
        mnl_attr_for_each_nested (a, elem) {
                if (mnl_attr_get_type(a) == NFTA_SET_ELEM_FLAGS)
                        out->flags = ntohl(mnl_attr_get_u32(a));
                if (mnl_attr_get_type(a) != NFTA_SET_ELEM_KEY)
                        continue;
                mnl_attr_for_each_nested (d, a) {
                        ASSERT_EQ(mnl_attr_get_type(d), NFTA_DATA_VALUE);
                        out->len = mnl_attr_get_payload_len(d);
                        ASSERT(out->len <= sizeof(out->key));
                        memcpy(out->key, mnl_attr_get_payload(d), out->len);
                }
        }
}

static size_t set_elems(const Batch *b, const char *set, Elem *out, size_t max, size_t *messages) {
        size_t n = 0;

        *messages = 0;
        for_each_msg(nlh, b) {
                const struct nlattr *a, *e;
                bool ours = false;

                if (!is_nft(nlh) || msg_type(nlh) != NFT_MSG_NEWSETELEM)
                        continue;
                mnl_attr_for_each (a, nlh, sizeof(struct nfgenmsg)) {
                        if (mnl_attr_get_type(a) == NFTA_SET_ELEM_LIST_SET) {
                                ours = strcmp(mnl_attr_get_str(a), set) == 0;
                                *messages += ours;
                        }
                        if (!ours || mnl_attr_get_type(a) != NFTA_SET_ELEM_LIST_ELEMENTS)
                                continue;
                        mnl_attr_for_each_nested (e, a) {
                                if (n < max)
                                        parse_elem(e, &out[n]);
                                n++;
                        }
                }
        }
        return n;
}

static void assert_elem(const Elem *e, const void *key, uint32_t len, uint32_t flags) {
        ASSERT_EQ(e->len, len);
        ASSERT(memcmp(e->key, key, len) == 0);
        ASSERT_EQ(e->flags, flags);
}

TEST(endpoint_elements) {
        _cleanup_(settings_done) Settings s = example();
        _cleanup_(batch_done) Batch b;
        Elem e[4];
        size_t msgs;
        /* 198.51.100.7 . udp . 51820, each member in whole 32-bit words */
        static const uint8_t k4[12] = {198, 51, 100, 7, 17, 0, 0, 0, 0xca, 0x6c, 0, 0};
        static const uint8_t k6[24] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0,    0,    0, 0,
                                       0,    0,    0,    1,    6, 0, 0, 0, 0x01, 0xbb, 0, 0};

        build(&b, &s, &(RulesetParams){});
        ASSERT_EQ(set_elems(&b, "endpoints4", e, 4, &msgs), 1);
        assert_elem(&e[0], k4, 12, 0);
        ASSERT_EQ(set_elems(&b, "endpoints6", e, 4, &msgs), 1);
        assert_elem(&e[0], k6, 24, 0);
}

TEST(tunnel_intervals) {
        _cleanup_(settings_done) Settings s = example();
        _cleanup_(batch_done) Batch b;
        uint8_t zero[IFNAMSIZ] = {}, tun[IFNAMSIZ] = "tun", tuo[IFNAMSIZ] = "tuo",
                wg0[IFNAMSIZ] = "wg0", wg0_end[IFNAMSIZ] = "wg0", lo[IFNAMSIZ] = "lo",
                lo_end[IFNAMSIZ] = "lo";
        Elem e[8];
        size_t msgs;

        wg0_end[IFNAMSIZ - 1] = 1;
        lo_end[IFNAMSIZ - 1] = 1;
        build(&b, &s, &(RulesetParams){});
        /* tun0 lies inside tun*: merged; loopback is inside too. A leading end marker at zero,
         * as nft(8) writes it. */
        ASSERT_EQ(set_elems(&b, "tunnels", e, 8, &msgs), 7);
        assert_elem(&e[0], zero, IFNAMSIZ, NFT_SET_ELEM_INTERVAL_END);
        assert_elem(&e[1], lo, IFNAMSIZ, 0);
        assert_elem(&e[2], lo_end, IFNAMSIZ, NFT_SET_ELEM_INTERVAL_END);
        assert_elem(&e[3], tun, IFNAMSIZ, 0);
        assert_elem(&e[4], tuo, IFNAMSIZ, NFT_SET_ELEM_INTERVAL_END);
        assert_elem(&e[5], wg0, IFNAMSIZ, 0);
        assert_elem(&e[6], wg0_end, IFNAMSIZ, NFT_SET_ELEM_INTERVAL_END);
}

TEST(lan_intervals) {
        _cleanup_(settings_done) Settings s = example();
        _cleanup_(batch_done) Batch b;
        const LanPrefix lan[] = {
                {.family = AF_INET, .prefixlen = 16, .addr.in.s_addr = htonl(0x0a010000)},
                {.family = AF_INET, .prefixlen = 8, .addr.in.s_addr = htonl(0x0a000000)},
                {.family = AF_INET, .prefixlen = 24, .addr.in.s_addr = htonl(0xc0a80105)},
        };
        static const uint8_t z[4] = {}, a[4] = {10, 0, 0, 0}, a_end[4] = {11, 0, 0, 0},
                             c[4] = {192, 168, 1, 0}, c_end[4] = {192, 168, 2, 0},
                             m[4] = {224, 0, 0, 0}, m_end[4] = {224, 0, 1, 0};
        NetView v = {.lan = lan, .n_lan = ELEMENTSOF(lan)};
        Elem e[16];
        size_t msgs;

        s.allow_lan = true;
        batch_init(&b, 1);
        ASSERT_EQ(ruleset_build(&b, &s, &v, &(RulesetParams){}), 0);
        /* 10.1/16 merges into 10/8; the host bits of 192.168.1.5/24 are masked; link-local
         * multicast is always part of the LAN. */
        ASSERT_EQ(set_elems(&b, "lan4", e, 16, &msgs), 7);
        assert_elem(&e[0], z, 4, NFT_SET_ELEM_INTERVAL_END);
        assert_elem(&e[1], a, 4, 0);
        assert_elem(&e[2], a_end, 4, NFT_SET_ELEM_INTERVAL_END);
        assert_elem(&e[3], c, 4, 0);
        assert_elem(&e[4], c_end, 4, NFT_SET_ELEM_INTERVAL_END);
        assert_elem(&e[5], m, 4, 0);
        assert_elem(&e[6], m_end, 4, NFT_SET_ELEM_INTERVAL_END);
        /* IPv6: only ff02::/16 from the built-in multicast range. */
        ASSERT_EQ(set_elems(&b, "lan6", e, 16, &msgs), 3);

        /* AllowLan off: the LAN sets stay empty. */
        s.allow_lan = false;
        batch_done(&b);
        batch_init(&b, 1);
        ASSERT_EQ(ruleset_build(&b, &s, &v, &(RulesetParams){}), 0);
        ASSERT_EQ(set_elems(&b, "lan4", e, 16, &msgs), 0);
}

TEST(many_endpoints) {
        _cleanup_(settings_done) Settings s;
        _cleanup_(batch_done) Batch b;
        Endpoint ep;
        size_t msgs;

        settings_init(&s);
        s.enabled = true;
        ASSERT_EQ(endpoint_parse("2001:db8::", 51820, "udp", &ep, &error), 0);
        s.endpoints = calloc(ENDPOINTS_MAX, sizeof(Endpoint));
        for (uint32_t i = 0; i < ENDPOINTS_MAX; i++) {
                ep.addr.in6.s6_addr[14] = (uint8_t)(i >> 8);
                ep.addr.in6.s6_addr[15] = (uint8_t)i;
                s.endpoints[s.n_endpoints++] = ep;
        }
        build(&b, &s, &(RulesetParams){});
        ASSERT_EQ(set_elems(&b, "endpoints6", NULL, 0, &msgs), ENDPOINTS_MAX);
        /* Split so that each message stays far below the netlink limits. */
        ASSERT_EQ(msgs, ENDPOINTS_MAX / 512);
        for_each_msg(nlh, &b) ASSERT(nlh->nlmsg_len < BATCH_MESSAGE_MAX);
}

TEST(block_all) {
        _cleanup_(settings_done) Settings s;
        _cleanup_(batch_done) Batch b;
        char rules[32][1024];
        size_t msgs;

        settings_init_block_all(&s);
        build(&b, &s, &(RulesetParams){});
        /* Only loopback gets out: the tunnels set holds it alone, the endpoint sets are empty, no
         * DHCP, no LAN. */
        ASSERT_EQ(chain_rules(&b, "allow_egress", rules, 32), 2);
        /* loopback alone: an end marker at zero, "lo", its end */
        ASSERT_EQ(set_elems(&b, "tunnels", NULL, 0, &msgs), 3);
        ASSERT_EQ(set_elems(&b, "endpoints4", NULL, 0, &msgs), 0);
        ASSERT_EQ(set_elems(&b, "endpoints6", NULL, 0, &msgs), 0);
}

TEST(delete) {
        _cleanup_(batch_done) Batch b;
        uint16_t types[3];
        size_t n = 0;

        batch_init(&b, 7);
        ASSERT_EQ(ruleset_build_delete(&b, true, false), 0);
        for_each_msg(nlh, &b) {
                ASSERT(n < 3);
                types[n++] = nlh->nlmsg_type;
        }
        ASSERT_EQ(n, 3);
        ASSERT_EQ(types[0], NFNL_MSG_BATCH_BEGIN);
        ASSERT_EQ(types[1], (NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_DELTABLE);
        ASSERT_EQ(types[2], NFNL_MSG_BATCH_END);
}

/* AddTunnel and RemoveTunnel: the tunnels set flushed and refilled, nothing else. */
TEST(tunnels_update) {
        _cleanup_(settings_done) Settings s = example();
        _cleanup_(batch_done) Batch b;
        uint8_t types[8];
        size_t n = 0, msgs;

        batch_init(&b, 9);
        ASSERT_EQ(ruleset_build_tunnels_update(&b, &s), 0);
        for_each_msg(nlh, &b) {
                ASSERT(n < ELEMENTSOF(types));
                types[n++] = is_nft(nlh) ? msg_type(nlh) : 0;
        }
        ASSERT_EQ(n, 4);
        ASSERT_EQ(types[1], NFT_MSG_DELSETELEM);
        ASSERT_EQ(types[2], NFT_MSG_NEWSETELEM);
        /* lo, tun*, wg0: an end marker at zero, then three intervals */
        ASSERT_EQ(set_elems(&b, "tunnels", NULL, 0, &msgs), 7);
}

int main(void) {
        RUN(framing);
        RUN(table_messages);
        RUN(base_chains_drop);
        RUN(base_chain_rules);
        RUN(allow_rules);
        RUN(endpoint_elements);
        RUN(tunnel_intervals);
        RUN(lan_intervals);
        RUN(many_endpoints);
        RUN(block_all);
        RUN(delete);
        RUN(tunnels_update);
        return 0;
}

/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The builder's batch, parsed back with libnftnl: the messages, their order and flags, the
 * chains, every rule expression by expression (names and attributes, not libnftnl's text) and
 * the set elements byte for byte. No root needed. */
#include <netinet/in.h>

#include <inttypes.h>
#include <libmnl/libmnl.h>
#include <libnftnl/chain.h>
#include <libnftnl/expr.h>
#include <libnftnl/object.h>
#include <libnftnl/rule.h>
#include <libnftnl/set.h>
#include <libnftnl/table.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_conntrack_common.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <stdarg.h>

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
        ASSERT_EQ(endpoint_parse("198.51.100.7", 51820, "udp", &e, &error), 0);
        ASSERT_EQ(settings_add_endpoint(&s, &e, &error), 0);
        ASSERT_EQ(endpoint_parse("2001:db8::1", 443, "tcp", &e, &error), 0);
        ASSERT_EQ(settings_add_endpoint(&s, &e, &error), 0);
        return s;
}

/* The same with a pattern among the tunnels, and a name it covers. */
static Settings example_with_pattern(void) {
        Settings s = example();

        ASSERT_EQ(settings_add_tunnel(&s, "tun*", &error), 0);
        ASSERT_EQ(settings_add_tunnel(&s, "tun0", &error), 0);
        return s;
}

/* The example with its IPv4 server moved to 198.51.100.8: what a VPN client's Apply does. */
static Settings example_moved(void) {
        Settings s = example();
        Endpoint e;

        ASSERT_EQ(endpoint_parse("198.51.100.7", 51820, "udp", &e, &error), 0);
        ASSERT_EQ(settings_remove_endpoint(&s, &e), 0);
        ASSERT_EQ(endpoint_parse("198.51.100.8", 51820, "udp", &e, &error), 0);
        ASSERT_EQ(settings_add_endpoint(&s, &e, &error), 0);
        return s;
}

TEST(framing) {
        _cleanup_(settings_done) Settings s = example();
        _cleanup_(batch_done) Batch b;
        RulesetParams p = {.table_flags = TABLE_FLAGS_OWNED};
        uint32_t seq = 100;
        size_t n = 0, acks = 0;
        const struct nlmsghdr *last = NULL, *before_last = NULL;

        build(&b, &s, &p);
        for_each_msg(nlh, &b) {
                /* Consecutive sequence numbers: every answer maps back to its message. */
                ASSERT_EQ(nlh->nlmsg_seq, seq++);
                if (n == 0)
                        ASSERT_EQ(nlh->nlmsg_type, NFNL_MSG_BATCH_BEGIN);
                else if (nlh->nlmsg_type != NFNL_MSG_BATCH_END)
                        ASSERT(is_nft(nlh));
                if (nlh->nlmsg_flags & NLM_F_ACK)
                        acks++;
                before_last = last;
                last = nlh;
                n++;
        }
        ASSERT_EQ(last->nlmsg_type, NFNL_MSG_BATCH_END);
        /* One ACK, on the last message: the kernel reports refusals without being asked. */
        ASSERT(n > 3);
        ASSERT_EQ(acks, 1);
        ASSERT(before_last->nlmsg_flags & NLM_F_ACK);
        ASSERT_EQ(b.n_acks, 1);
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
                        /* exempt_out and scoped_out only with per-application rules. */
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

/* ---- rules, parsed back and compared expression by expression ---- */

#define RULES_MAX 32

/* The rules of one chain, in order. */
typedef struct Rules {
        const char *chain;
        struct nftnl_rule *rule[RULES_MAX];
        size_t n;
} Rules;

static Rules chain_rules(const Batch *b, const char *chain) {
        Rules rs = {.chain = chain};

        for_each_msg(nlh, b) {
                struct nftnl_rule *r;

                if (!is_nft(nlh) || msg_type(nlh) != NFT_MSG_NEWRULE)
                        continue;
                r = nftnl_rule_alloc();
                ASSERT_EQ(nftnl_rule_nlmsg_parse(nlh, r), 0);
                if (strcmp(nftnl_rule_get_str(r, NFTNL_RULE_CHAIN), chain) != 0) {
                        nftnl_rule_free(r);
                        continue;
                }
                ASSERT(rs.n < RULES_MAX);
                rs.rule[rs.n++] = r;
        }
        return rs;
}

static void rules_done(Rules *rs) {
        for (size_t i = 0; i < rs->n; i++)
                nftnl_rule_free(rs->rule[i]);
}

/* One expected expression; what each field means depends on the expression's name (see the
 * macros below). A list of them ends with END. */
typedef struct Want {
        const char *name;
        uint32_t key;         /* meta and ct key, payload base, cmp op, fib flags, verdict */
        uint32_t offset, len; /* payload */
        uint32_t reg;     /* the register loaded (meta, payload, ct, fib) or read (cmp, lookup) */
        const void *data; /* cmp data, bitwise mask */
        uint32_t data_len;
        const void * xor ; /* bitwise; NULL: zeroes */
        bool sreg;         /* ct: sets the key from 'reg' rather than loading it */
        const char *str;   /* lookup set, jump or goto target, objref name */
} Want;

#define R1 NFT_REG_1
#define END                                                                                        \
        { NULL }
#define META(k)                                                                                    \
        { .name = "meta", .key = (k), .reg = R1 }
#define META_TO(k, r)                                                                              \
        { .name = "meta", .key = (k), .reg = (r) }
#define PAYLOAD(base, off, l)                                                                      \
        { .name = "payload", .key = (base), .offset = (off), .len = (l), .reg = R1 }
#define PAYLOAD_TO(base, off, l, r)                                                                \
        { .name = "payload", .key = (base), .offset = (off), .len = (l), .reg = (r) }
#define CMP_BYTES(op, bytes, n)                                                                    \
        { .name = "cmp", .key = (op), .reg = R1, .data = (bytes), .data_len = (n) }
#define CMP_U8(op, v) CMP_BYTES(op, ((const uint8_t[]){(v)}), 1)
#define CMP_BE16(op, v) CMP_BYTES(op, ((const uint8_t[]){(v) >> 8, (v)&0xff}), 2)
#define CMP_U32(op, v) CMP_BYTES(op, ((const uint32_t[]){(v)}), 4)
#define BITWISE_AND_U8(m)                                                                          \
        { .name = "bitwise", .reg = R1, .data = (const uint8_t[]){(m)}, .data_len = 1 }
#define BITWISE_AND_U32(m)                                                                         \
        { .name = "bitwise", .reg = R1, .data = (const uint32_t[]){(m)}, .data_len = 4 }
#define LOOKUP(set)                                                                                \
        { .name = "lookup", .reg = R1, .str = (set) }
#define CT_STATE(states)                                                                           \
        {.name = "ct", .key = NFT_CT_STATE, .reg = R1}, BITWISE_AND_U32(states),                   \
                CMP_U32(NFT_CMP_NEQ, 0)
#define CT_MARK_HAS(bits)                                                                          \
        {.name = "ct", .key = NFT_CT_MARK, .reg = R1}, BITWISE_AND_U32(bits),                      \
                CMP_U32(NFT_CMP_NEQ, 0)
#define CT_MARK_ADD(bits)                                                                          \
        {.name = "ct", .key = NFT_CT_MARK, .reg = R1},                                             \
                {.name = "bitwise",                                                                \
                 .reg = R1,                                                                        \
                 .data = (const uint32_t[]){~(uint32_t)(bits)},                                    \
                 .xor = (const uint32_t[]){(bits)},                                                \
                 .data_len = 4},                                                                   \
        {                                                                                          \
                .name = "ct", .key = NFT_CT_MARK, .reg = R1, .sreg = true                          \
        }
#define SOCKET_CGROUP(level)                                                                       \
        { .name = "socket", .key = NFT_SOCKET_CGROUPV2, .offset = (level), .reg = R1 }
#define FIB_DADDR_TYPE(flags)                                                                      \
        { .name = "fib", .key = NFTA_FIB_F_DADDR | (flags), .reg = R1 }
#define VERDICT(v, chain)                                                                          \
        { .name = "immediate", .key = (uint32_t)(v), .str = (chain) }
#define ACCEPT VERDICT(NF_ACCEPT, NULL)
#define JUMP(chain) VERDICT(NFT_JUMP, chain)
#define GOTO(chain) VERDICT(NFT_GOTO, chain)
#define COUNTED_DROP {.name = "objref", .str = "blocked"}, VERDICT(NF_DROP, NULL)

/* The tests that the inet table's rules make. */
#define NFPROTO(family)                                                                            \
        META(NFT_META_NFPROTO),                                                                    \
                CMP_U8(NFT_CMP_EQ, (family) == AF_INET ? NFPROTO_IPV4 : NFPROTO_IPV6)
#define L4PROTO(proto) META(NFT_META_L4PROTO), CMP_U8(NFT_CMP_EQ, proto)
#define NH(off, len) PAYLOAD(NFT_PAYLOAD_NETWORK_HEADER, off, len)
#define TH(off, len) PAYLOAD(NFT_PAYLOAD_TRANSPORT_HEADER, off, len)
#define TH_PORT(off, port) TH(off, 2), CMP_BE16(NFT_CMP_EQ, port)
#define IN_SET(off, len, set) NH(off, len), LOOKUP(set)
#define TUNNELS(meta_key) META(meta_key), LOOKUP("tunnels")
#define TUNNEL_PATTERNS(meta_key) META(meta_key), LOOKUP("tunnel_patterns")

/* Where the expression is, for the failure message. */
typedef struct Place {
        const char *chain;
        size_t rule;
        unsigned expr;
        const char *name;
} Place;

_printf_(2, 3) static void fail(const Place *p, const char *fmt, ...) {
        va_list ap;

        fprintf(stderr, "chain %s, rule %zu, expression %u (%s): ", p->chain, p->rule, p->expr,
                p->name);
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fputc('\n', stderr);
        abort();
}

static void check_u32(const Place *p, const struct nftnl_expr *e, uint16_t attr, const char *what,
                      uint32_t want) {
        if (!nftnl_expr_is_set(e, attr))
                fail(p, "no %s, expected %" PRIu32, what, want);
        if (nftnl_expr_get_u32(e, attr) != want)
                fail(p, "%s %" PRIu32 ", expected %" PRIu32, what, nftnl_expr_get_u32(e, attr),
                     want);
}

/* want == NULL: the attribute is absent. */
static void check_str(const Place *p, const struct nftnl_expr *e, uint16_t attr, const char *what,
                      const char *want) {
        const char *got = nftnl_expr_is_set(e, attr) ? nftnl_expr_get_str(e, attr) : NULL;

        if (!want && got)
                fail(p, "%s \"%s\", expected none", what, got);
        if (want && (!got || strcmp(got, want) != 0))
                fail(p, "%s \"%s\", expected \"%s\"", what, got ? got : "(none)", want);
}

/* "01 02 03" */
static const char *hex(const void *data, uint32_t len, char buf[static 3 * 64]) {
        buf[0] = 0;
        for (uint32_t i = 0; data && i < len && i < 64; i++)
                sprintf(buf + 3 * i, i ? " %02x" : "%02x", ((const uint8_t *)data)[i]);
        return buf;
}

static void check_data(const Place *p, const struct nftnl_expr *e, uint16_t attr, const char *what,
                       const void *want, uint32_t want_len) {
        char got_hex[3 * 64], want_hex[3 * 64];
        uint32_t len = 0;
        const void *got = nftnl_expr_get(e, attr, &len);

        if (!got || len != want_len || memcmp(got, want, len) != 0)
                fail(p, "%s [%s], expected [%s]", what, hex(got, len, got_hex),
                     hex(want, want_len, want_hex));
}

static void check_expr(const Place *p, const struct nftnl_expr *e, const Want *w) {
        static const uint8_t zero[16];
        const char *name = nftnl_expr_get_str(e, NFTNL_EXPR_NAME);

        if (strcmp(name, w->name) != 0)
                fail(p, "found %s instead", name);
        if (strcmp(name, "meta") == 0) {
                check_u32(p, e, NFTNL_EXPR_META_KEY, "key", w->key);
                check_u32(p, e, NFTNL_EXPR_META_DREG, "dreg", w->reg);
        } else if (strcmp(name, "payload") == 0) {
                check_u32(p, e, NFTNL_EXPR_PAYLOAD_BASE, "base", w->key);
                check_u32(p, e, NFTNL_EXPR_PAYLOAD_OFFSET, "offset", w->offset);
                check_u32(p, e, NFTNL_EXPR_PAYLOAD_LEN, "len", w->len);
                check_u32(p, e, NFTNL_EXPR_PAYLOAD_DREG, "dreg", w->reg);
        } else if (strcmp(name, "cmp") == 0) {
                check_u32(p, e, NFTNL_EXPR_CMP_SREG, "sreg", w->reg);
                check_u32(p, e, NFTNL_EXPR_CMP_OP, "op", w->key);
                check_data(p, e, NFTNL_EXPR_CMP_DATA, "data", w->data, w->data_len);
        } else if (strcmp(name, "bitwise") == 0) {
                check_u32(p, e, NFTNL_EXPR_BITWISE_SREG, "sreg", w->reg);
                check_u32(p, e, NFTNL_EXPR_BITWISE_DREG, "dreg", w->reg);
                check_u32(p, e, NFTNL_EXPR_BITWISE_LEN, "len", w->data_len);
                check_data(p, e, NFTNL_EXPR_BITWISE_MASK, "mask", w->data, w->data_len);
                check_data(p, e, NFTNL_EXPR_BITWISE_XOR, "xor", w->xor ? w->xor : zero,
                           w->data_len);
        } else if (strcmp(name, "lookup") == 0) {
                check_u32(p, e, NFTNL_EXPR_LOOKUP_SREG, "sreg", w->reg);
                check_str(p, e, NFTNL_EXPR_LOOKUP_SET, "set", w->str);
                check_u32(p, e, NFTNL_EXPR_LOOKUP_FLAGS, "flags", 0);
        } else if (strcmp(name, "ct") == 0) {
                check_u32(p, e, NFTNL_EXPR_CT_KEY, "key", w->key);
                check_u32(p, e, w->sreg ? NFTNL_EXPR_CT_SREG : NFTNL_EXPR_CT_DREG,
                          w->sreg ? "sreg" : "dreg", w->reg);
        } else if (strcmp(name, "socket") == 0) {
                check_u32(p, e, NFTNL_EXPR_SOCKET_KEY, "key", w->key);
                check_u32(p, e, NFTNL_EXPR_SOCKET_LEVEL, "level", w->offset);
                check_u32(p, e, NFTNL_EXPR_SOCKET_DREG, "dreg", w->reg);
        } else if (strcmp(name, "fib") == 0) {
                check_u32(p, e, NFTNL_EXPR_FIB_FLAGS, "flags", w->key);
                check_u32(p, e, NFTNL_EXPR_FIB_RESULT, "result", NFT_FIB_RESULT_ADDRTYPE);
                check_u32(p, e, NFTNL_EXPR_FIB_DREG, "dreg", w->reg);
        } else if (strcmp(name, "immediate") == 0) {
                check_u32(p, e, NFTNL_EXPR_IMM_DREG, "dreg", NFT_REG_VERDICT);
                check_u32(p, e, NFTNL_EXPR_IMM_VERDICT, "verdict", w->key);
                check_str(p, e, NFTNL_EXPR_IMM_CHAIN, "chain", w->str);
        } else if (strcmp(name, "objref") == 0) {
                check_u32(p, e, NFTNL_EXPR_OBJREF_IMM_TYPE, "type", NFT_OBJECT_COUNTER);
                check_str(p, e, NFTNL_EXPR_OBJREF_IMM_NAME, "name", w->str);
        } else
                fail(p, "no check for this expression");
}

/* Rule i of the chain is exactly the expressions of 'want', in that order. */
static void expect_rule(const Rules *rs, size_t i, const Want *want) {
        Place p = {.chain = rs->chain, .rule = i};
        struct nftnl_expr_iter *it;
        struct nftnl_expr *e;

        if (i >= rs->n)
                fail(&p, "the chain has only %zu rules", rs->n);
        it = nftnl_expr_iter_create(rs->rule[i]);
        ASSERT(it);
        for (; (e = nftnl_expr_iter_next(it)); p.expr++) {
                p.name = want[p.expr].name;
                if (!p.name) {
                        p.name = nftnl_expr_get_str(e, NFTNL_EXPR_NAME);
                        fail(&p, "more expressions than expected");
                }
                check_expr(&p, e, &want[p.expr]);
        }
        nftnl_expr_iter_destroy(it);
        p.name = want[p.expr].name;
        if (p.name)
                fail(&p, "missing: the rule has only %u expressions", p.expr);
}

/* Whether a lookup of the rule's is in the set. */
static bool rule_looks_up(struct nftnl_rule *rule, const char *set) {
        struct nftnl_expr_iter *it = nftnl_expr_iter_create(rule);
        struct nftnl_expr *e;
        bool found = false;

        ASSERT(it);
        while ((e = nftnl_expr_iter_next(it)))
                found |= strcmp(nftnl_expr_get_str(e, NFTNL_EXPR_NAME), "lookup") == 0 &&
                         strcmp(nftnl_expr_get_str(e, NFTNL_EXPR_LOOKUP_SET), set) == 0;
        nftnl_expr_iter_destroy(it);
        return found;
}

/* How many of the chain's expressions load the meta key. */
static size_t count_meta(const Rules *rs, uint32_t key) {
        size_t n = 0;

        for (size_t i = 0; i < rs->n; i++) {
                struct nftnl_expr_iter *it = nftnl_expr_iter_create(rs->rule[i]);
                struct nftnl_expr *e;

                ASSERT(it);
                while ((e = nftnl_expr_iter_next(it)))
                        n += strcmp(nftnl_expr_get_str(e, NFTNL_EXPR_NAME), "meta") == 0 &&
                             nftnl_expr_get_u32(e, NFTNL_EXPR_META_KEY) == key;
                nftnl_expr_iter_destroy(it);
        }
        return n;
}

#define EXPECT_RULE(rs, i, ...) expect_rule(rs, i, (const Want[]){__VA_ARGS__, END})

#define EXPECT_COUNT(rs, count)                                                                    \
        do {                                                                                       \
                if ((rs)->n != (size_t)(count)) {                                                  \
                        fprintf(stderr, "%s:%d: chain %s has %zu rules, expected %d\n", __FILE__,  \
                                __LINE__, (rs)->chain, (rs)->n, (count));                          \
                        abort();                                                                   \
                }                                                                                  \
        } while (0)

TEST(base_chain_rules) {
        _cleanup_(settings_done) Settings s = example_with_pattern();
        _cleanup_(batch_done) Batch b;
        const uint32_t replies =
                NF_CT_STATE_BIT(IP_CT_ESTABLISHED) | NF_CT_STATE_BIT(IP_CT_RELATED);

        build(&b, &s, &(RulesetParams){});
        /* The common packet is decided by one lookup in the base chain: the tunnels set holds
         * the exact names and loopback; Tunnels has a pattern (tun*), so a second lookup in the
         * patterns' interval set follows. */
        _cleanup_(rules_done) Rules output = chain_rules(&b, "output");
        EXPECT_COUNT(&output, 4);
        EXPECT_RULE(&output, 0, TUNNELS(NFT_META_OIFNAME), ACCEPT);
        EXPECT_RULE(&output, 1, TUNNEL_PATTERNS(NFT_META_OIFNAME), ACCEPT);
        EXPECT_RULE(&output, 2, JUMP("allow_egress"));
        EXPECT_RULE(&output, 3, COUNTED_DROP);
        _cleanup_(rules_done) Rules input = chain_rules(&b, "input");
        EXPECT_COUNT(&input, 4);
        EXPECT_RULE(&input, 0, TUNNELS(NFT_META_IIFNAME), ACCEPT);
        EXPECT_RULE(&input, 1, TUNNEL_PATTERNS(NFT_META_IIFNAME), ACCEPT);
        EXPECT_RULE(&input, 2, JUMP("allow_ingress"));
        EXPECT_RULE(&input, 3, COUNTED_DROP);
        /* Forwarded replies from a tunnel (ct state established,related); only where a packet
         * has an input interface. */
        for (unsigned i = 0; i < 2; i++) {
                _cleanup_(rules_done) Rules rs =
                        chain_rules(&b, i == 0 ? "forward" : "postrouting");

                EXPECT_COUNT(&rs, 6);
                EXPECT_RULE(&rs, 0, TUNNELS(NFT_META_OIFNAME), ACCEPT);
                EXPECT_RULE(&rs, 1, TUNNEL_PATTERNS(NFT_META_OIFNAME), ACCEPT);
                EXPECT_RULE(&rs, 2, TUNNELS(NFT_META_IIFNAME), CT_STATE(replies), ACCEPT);
                EXPECT_RULE(&rs, 3, TUNNEL_PATTERNS(NFT_META_IIFNAME), CT_STATE(replies), ACCEPT);
                EXPECT_RULE(&rs, 4, JUMP("allow_egress"));
                EXPECT_RULE(&rs, 5, COUNTED_DROP);
        }
        /* prerouting: tunnels and loopback pass; for an address of the arrival link, one route
         * lookup; for another link's address, dropped. */
        _cleanup_(rules_done) Rules pre = chain_rules(&b, "prerouting");
        EXPECT_COUNT(&pre, 4);
        EXPECT_RULE(&pre, 0, TUNNELS(NFT_META_IIFNAME), ACCEPT);
        EXPECT_RULE(&pre, 1, TUNNEL_PATTERNS(NFT_META_IIFNAME), ACCEPT);
        EXPECT_RULE(&pre, 2, FIB_DADDR_TYPE(NFTA_FIB_F_IIF), CMP_U32(NFT_CMP_EQ, RTN_LOCAL),
                    ACCEPT);
        EXPECT_RULE(&pre, 3, FIB_DADDR_TYPE(0), CMP_U32(NFT_CMP_EQ, RTN_LOCAL), COUNTED_DROP);
}

/* Without a pattern in Tunnels, the interval set is never looked up: one hash lookup decides a
 * packet into or out of a tunnel, and a packet that is not pays no second one. */
TEST(base_chain_rules_exact_names) {
        static const char *const chains[] = {"output", "input", "forward", "postrouting",
                                             "prerouting"};
        static const int counts[] = {3, 3, 4, 4, 3};
        _cleanup_(settings_done) Settings s = example();
        _cleanup_(batch_done) Batch b;

        build(&b, &s, &(RulesetParams){});
        for (size_t i = 0; i < ELEMENTSOF(chains); i++) {
                _cleanup_(rules_done) Rules rs = chain_rules(&b, chains[i]);

                EXPECT_COUNT(&rs, counts[i]);
                EXPECT_RULE(
                        &rs, 0,
                        TUNNELS(i == 0 || i == 2 || i == 3 ? NFT_META_OIFNAME : NFT_META_IIFNAME),
                        ACCEPT);
                for (size_t j = 0; j < rs.n; j++)
                        ASSERT(!rule_looks_up(rs.rule[j], "tunnel_patterns"));
        }
}

TEST(allow_rules) {
        _cleanup_(settings_done) Settings s = example();
        _cleanup_(batch_done) Batch b;
        const uint32_t established = NF_CT_STATE_BIT(IP_CT_ESTABLISHED),
                       related = NF_CT_STATE_BIT(IP_CT_RELATED);

        build(&b, &s, &(RulesetParams){});
        /* Going out: endpoints v4 and v6, DHCPv4, DHCPv6, neighbour discovery; no LAN. */
        _cleanup_(rules_done) Rules out = chain_rules(&b, "allow_egress");
        EXPECT_COUNT(&out, 5);
        /* ip daddr . l4proto . dport in consecutive 32-bit registers, one lookup, then
         * endpoint_out decides whose packet it may be. */
        EXPECT_RULE(&out, 0, NFPROTO(AF_INET), NH(16, 4), META_TO(NFT_META_L4PROTO, NFT_REG32_01),
                    PAYLOAD_TO(NFT_PAYLOAD_TRANSPORT_HEADER, 2, 2, NFT_REG32_02),
                    LOOKUP("endpoints4"), GOTO("endpoint_out"));
        EXPECT_RULE(&out, 1, NFPROTO(AF_INET6), NH(24, 16), META_TO(NFT_META_L4PROTO, NFT_REG_2),
                    PAYLOAD_TO(NFT_PAYLOAD_TRANSPORT_HEADER, 2, 2, NFT_REG32_05),
                    LOOKUP("endpoints6"), GOTO("endpoint_out"));
        /* DHCP only to on-link destinations; neighbour discovery only unrouted (hop limit 255)
         * and to on-link destinations. */
        EXPECT_RULE(&out, 2, NFPROTO(AF_INET), L4PROTO(IPPROTO_UDP), TH_PORT(0, 68), TH_PORT(2, 67),
                    IN_SET(16, 4, "onlink4"), ACCEPT);
        EXPECT_RULE(&out, 3, NFPROTO(AF_INET6), L4PROTO(IPPROTO_UDP), TH_PORT(0, 546),
                    TH_PORT(2, 547), IN_SET(24, 16, "onlink6"), ACCEPT);
        EXPECT_RULE(&out, 4, NFPROTO(AF_INET6), L4PROTO(IPPROTO_ICMPV6), TH(0, 1),
                    CMP_U8(NFT_CMP_GTE, 133), CMP_U8(NFT_CMP_LTE, 136), NH(7, 1),
                    CMP_U8(NFT_CMP_EQ, 255), IN_SET(24, 16, "onlink6"), ACCEPT);

        /* Only root's sockets (and the kernel's, which have no owner) reach an endpoint. */
        _cleanup_(rules_done) Rules endpoint = chain_rules(&b, "endpoint_out");
        EXPECT_COUNT(&endpoint, 2);
        EXPECT_RULE(&endpoint, 0, META(NFT_META_SKUID), CMP_U32(NFT_CMP_NEQ, 0), COUNTED_DROP);
        EXPECT_RULE(&endpoint, 1, ACCEPT);

        /* Coming in: endpoints only as replies (ct state established), ICMP errors about our
         * flows (related), DHCP, unrouted neighbour discovery and redirects. */
        _cleanup_(rules_done) Rules in = chain_rules(&b, "allow_ingress");
        EXPECT_COUNT(&in, 7);
        EXPECT_RULE(&in, 0, NFPROTO(AF_INET), NH(12, 4), META_TO(NFT_META_L4PROTO, NFT_REG32_01),
                    PAYLOAD_TO(NFT_PAYLOAD_TRANSPORT_HEADER, 0, 2, NFT_REG32_02),
                    LOOKUP("endpoints4"), CT_STATE(established), ACCEPT);
        EXPECT_RULE(&in, 1, NFPROTO(AF_INET6), NH(8, 16), META_TO(NFT_META_L4PROTO, NFT_REG_2),
                    PAYLOAD_TO(NFT_PAYLOAD_TRANSPORT_HEADER, 0, 2, NFT_REG32_05),
                    LOOKUP("endpoints6"), CT_STATE(established), ACCEPT);
        EXPECT_RULE(&in, 2, L4PROTO(IPPROTO_ICMP), CT_STATE(related), ACCEPT);
        EXPECT_RULE(&in, 3, L4PROTO(IPPROTO_ICMPV6), CT_STATE(related), ACCEPT);
        EXPECT_RULE(&in, 4, NFPROTO(AF_INET), L4PROTO(IPPROTO_UDP), TH_PORT(0, 67), TH_PORT(2, 68),
                    ACCEPT);
        EXPECT_RULE(&in, 5, NFPROTO(AF_INET6), L4PROTO(IPPROTO_UDP), TH_PORT(0, 547),
                    TH_PORT(2, 546), ACCEPT);
        EXPECT_RULE(&in, 6, NFPROTO(AF_INET6), L4PROTO(IPPROTO_ICMPV6), TH(0, 1),
                    CMP_U8(NFT_CMP_GTE, 133), CMP_U8(NFT_CMP_LTE, 137), NH(7, 1),
                    CMP_U8(NFT_CMP_EQ, 255), ACCEPT);
}

TEST(allow_rules_settings) {
        _cleanup_(settings_done) Settings s = example();
        _cleanup_(batch_done) Batch off, mark, any;

        /* EndpointAnyUser: no owner check. */
        s.endpoint_any_user = true;
        build(&any, &s, &(RulesetParams){});
        _cleanup_(rules_done) Rules any_user = chain_rules(&any, "endpoint_out");
        EXPECT_COUNT(&any_user, 1);
        EXPECT_RULE(&any_user, 0, ACCEPT);
        ASSERT_EQ(count_meta(&any_user, NFT_META_SKUID), 0);
        s.endpoint_any_user = false;

        /* EndpointMark: only marked packets reach the endpoints, going out; coming in, the mark
         * plays no part. */
        s.endpoint_mark = 0x1234;
        build(&mark, &s, &(RulesetParams){});
        _cleanup_(rules_done) Rules marked = chain_rules(&mark, "endpoint_out");
        EXPECT_COUNT(&marked, 3);
        EXPECT_RULE(&marked, 0, META(NFT_META_SKUID), CMP_U32(NFT_CMP_NEQ, 0), COUNTED_DROP);
        EXPECT_RULE(&marked, 1, META(NFT_META_MARK), CMP_U32(NFT_CMP_NEQ, 0x1234), COUNTED_DROP);
        EXPECT_RULE(&marked, 2, ACCEPT);
        _cleanup_(rules_done) Rules marked_in = chain_rules(&mark, "allow_ingress");
        EXPECT_COUNT(&marked_in, 7);
        ASSERT_EQ(count_meta(&marked_in, NFT_META_MARK), 0);
        s.endpoint_mark = 0;

        /* AllowDhcp off, AllowLan on: no DHCP; for each family, DNS to LAN peers counted and
         * dropped, then the LAN accepted. */
        s.allow_dhcp = false;
        s.allow_lan = true;
        build(&off, &s, &(RulesetParams){});
        _cleanup_(rules_done) Rules out = chain_rules(&off, "allow_egress");
        EXPECT_COUNT(&out, 2 + 6);
        EXPECT_RULE(&out, 2, NFPROTO(AF_INET), IN_SET(16, 4, "lan4"), L4PROTO(IPPROTO_UDP),
                    TH_PORT(2, 53), COUNTED_DROP);
        EXPECT_RULE(&out, 3, NFPROTO(AF_INET), IN_SET(16, 4, "lan4"), L4PROTO(IPPROTO_TCP),
                    TH_PORT(2, 53), COUNTED_DROP);
        EXPECT_RULE(&out, 4, NFPROTO(AF_INET), IN_SET(16, 4, "lan4"), ACCEPT);
        EXPECT_RULE(&out, 5, NFPROTO(AF_INET6), IN_SET(24, 16, "lan6"), L4PROTO(IPPROTO_UDP),
                    TH_PORT(2, 53), COUNTED_DROP);
        EXPECT_RULE(&out, 6, NFPROTO(AF_INET6), IN_SET(24, 16, "lan6"), L4PROTO(IPPROTO_TCP),
                    TH_PORT(2, 53), COUNTED_DROP);
        EXPECT_RULE(&out, 7, NFPROTO(AF_INET6), IN_SET(24, 16, "lan6"), ACCEPT);
        /* Coming in, the LAN peer is the source: its address and port. */
        _cleanup_(rules_done) Rules in = chain_rules(&off, "allow_ingress");
        EXPECT_COUNT(&in, 4 + 6);
        EXPECT_RULE(&in, 4, NFPROTO(AF_INET), IN_SET(12, 4, "lan4"), L4PROTO(IPPROTO_UDP),
                    TH_PORT(0, 53), COUNTED_DROP);
        EXPECT_RULE(&in, 9, NFPROTO(AF_INET6), IN_SET(8, 16, "lan6"), ACCEPT);
}

/* The frames tests: the bytes of an IPv4 or IPv6 header, after the Ethernet header. */
#define LL(off, len) PAYLOAD(NFT_PAYLOAD_LL_HEADER, off, len)
#define ETH_IP(off, len) LL(14 + (off), len)
#define ETH_IPV4 LL(12, 2), CMP_BE16(NFT_CMP_EQ, 0x0800), ETH_IP(0, 1), CMP_U8(NFT_CMP_EQ, 0x45)
#define ETH_IPV6                                                                                   \
        LL(12, 2), CMP_BE16(NFT_CMP_EQ, 0x86dd), ETH_IP(0, 1), BITWISE_AND_U8(0xf0),               \
                CMP_U8(NFT_CMP_EQ, 0x60)

TEST(frame_rules) {
        _cleanup_(settings_done) Settings s = example();
        _cleanup_(batch_done) Batch b;
        const GuardedLink links[] = {
                {"eth0", LAYOUT_ETHERNET, false},
                {"ppp0", LAYOUT_IP, false},
                {"can0", LAYOUT_OTHER, false},
                {"tun9", LAYOUT_ETHERNET, true},
        };
        NetView v = {.links = links, .n_links = ELEMENTSOF(links)};
        s.allow_lan = true;
        batch_init(&b, 1);
        ASSERT_EQ(ruleset_build(&b, &s, &v, &(RulesetParams){.frames = true}), 0);
        /* A packet that this host routed has a route (meta rtclassid): the inet chains have
         * judged it. A frame from a packet socket has none: the frames allow list decides. */
        _cleanup_(rules_done) Rules eth0 = chain_rules(&b, "egress_eth0");
        EXPECT_COUNT(&eth0, 3);
        EXPECT_RULE(&eth0, 0, META(NFT_META_RTCLASSID), CMP_U32(NFT_CMP_GTE, 0), ACCEPT);
        EXPECT_RULE(&eth0, 1, JUMP("frames_ethernet"));
        EXPECT_RULE(&eth0, 2, COUNTED_DROP);
        _cleanup_(rules_done) Rules ppp0 = chain_rules(&b, "egress_ppp0");
        EXPECT_COUNT(&ppp0, 3);
        EXPECT_RULE(&ppp0, 1, JUMP("frames_ip"));
        /* A layout we cannot read: only what this host routed. */
        _cleanup_(rules_done) Rules can0 = chain_rules(&b, "egress_can0");
        EXPECT_COUNT(&can0, 2);
        EXPECT_RULE(&can0, 0, META(NFT_META_RTCLASSID), CMP_U32(NFT_CMP_GTE, 0), ACCEPT);
        EXPECT_RULE(&can0, 1, COUNTED_DROP);
        /* Named like a tunnel but none: no pass for routed packets. */
        _cleanup_(rules_done) Rules tun9 = chain_rules(&b, "egress_tun9");
        EXPECT_COUNT(&tun9, 2);
        EXPECT_RULE(&tun9, 0, JUMP("frames_ethernet"));
        EXPECT_RULE(&tun9, 1, COUNTED_DROP);

        /* ARP; DHCP and neighbour discovery as the inet table allows them going out; LAN but
         * never DNS, named protocols only. */
        _cleanup_(rules_done) Rules eth = chain_rules(&b, "frames_ethernet");
        EXPECT_COUNT(&eth, 1 + 3 + 6);
        EXPECT_RULE(&eth, 0, LL(12, 2), CMP_BE16(NFT_CMP_EQ, 0x0806), ACCEPT);
        EXPECT_RULE(&eth, 1, ETH_IPV4, ETH_IP(9, 1), CMP_U8(NFT_CMP_EQ, IPPROTO_UDP), ETH_IP(20, 2),
                    CMP_BE16(NFT_CMP_EQ, 68), ETH_IP(22, 2), CMP_BE16(NFT_CMP_EQ, 67),
                    ETH_IP(16, 4), LOOKUP("onlink4"), ACCEPT);
        EXPECT_RULE(&eth, 2, ETH_IPV6, ETH_IP(6, 1), CMP_U8(NFT_CMP_EQ, IPPROTO_UDP), ETH_IP(40, 2),
                    CMP_BE16(NFT_CMP_EQ, 546), ETH_IP(42, 2), CMP_BE16(NFT_CMP_EQ, 547),
                    ETH_IP(24, 16), LOOKUP("onlink6"), ACCEPT);
        EXPECT_RULE(&eth, 3, ETH_IPV6, ETH_IP(6, 1), CMP_U8(NFT_CMP_EQ, IPPROTO_ICMPV6),
                    ETH_IP(7, 1), CMP_U8(NFT_CMP_EQ, 255), ETH_IP(40, 1), CMP_U8(NFT_CMP_GTE, 133),
                    CMP_U8(NFT_CMP_LTE, 136), ETH_IP(24, 16), LOOKUP("onlink6"), ACCEPT);
        EXPECT_RULE(&eth, 4, ETH_IPV4, ETH_IP(16, 4), LOOKUP("lan4"), ETH_IP(9, 1),
                    CMP_U8(NFT_CMP_EQ, IPPROTO_UDP), ETH_IP(22, 2), CMP_BE16(NFT_CMP_NEQ, 53),
                    ACCEPT);
        EXPECT_RULE(&eth, 5, ETH_IPV4, ETH_IP(16, 4), LOOKUP("lan4"), ETH_IP(9, 1),
                    CMP_U8(NFT_CMP_EQ, IPPROTO_TCP), ETH_IP(22, 2), CMP_BE16(NFT_CMP_NEQ, 53),
                    ACCEPT);
        EXPECT_RULE(&eth, 6, ETH_IPV4, ETH_IP(16, 4), LOOKUP("lan4"), ETH_IP(9, 1),
                    CMP_U8(NFT_CMP_EQ, IPPROTO_ICMP), ACCEPT);
        EXPECT_RULE(&eth, 9, ETH_IPV6, ETH_IP(24, 16), LOOKUP("lan6"), ETH_IP(6, 1),
                    CMP_U8(NFT_CMP_EQ, IPPROTO_ICMPV6), ACCEPT);
        /* Without an Ethernet header the IP header comes first; no ARP. */
        _cleanup_(rules_done) Rules ip = chain_rules(&b, "frames_ip");
        EXPECT_COUNT(&ip, 3 + 6);
        EXPECT_RULE(&ip, 0, NH(0, 1), CMP_U8(NFT_CMP_EQ, 0x45), NH(9, 1),
                    CMP_U8(NFT_CMP_EQ, IPPROTO_UDP), NH(20, 2), CMP_BE16(NFT_CMP_EQ, 68), NH(22, 2),
                    CMP_BE16(NFT_CMP_EQ, 67), NH(16, 4), LOOKUP("onlink4"), ACCEPT);
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

/* The elements of the set in the batch's messages of 'type' (NEWSETELEM, DELSETELEM). */
static size_t set_elems_in(const Batch *b, uint8_t type, const char *set, Elem *out, size_t max,
                           size_t *messages) {
        size_t n = 0;

        *messages = 0;
        for_each_msg(nlh, b) {
                const struct nlattr *a, *e;
                bool ours = false;

                if (!is_nft(nlh) || msg_type(nlh) != type)
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

static size_t set_elems(const Batch *b, const char *set, Elem *out, size_t max, size_t *messages) {
        return set_elems_in(b, NFT_MSG_NEWSETELEM, set, out, max, messages);
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

TEST(tunnel_sets) {
        _cleanup_(settings_done) Settings s = example_with_pattern();
        _cleanup_(batch_done) Batch b;
        uint8_t zero[IFNAMSIZ] = {}, tun[IFNAMSIZ] = "tun", tuo[IFNAMSIZ] = "tuo",
                wg0[IFNAMSIZ] = "wg0", tun0[IFNAMSIZ] = "tun0", lo[IFNAMSIZ] = "lo";
        Elem e[8];
        size_t msgs;

        build(&b, &s, &(RulesetParams){});
        /* The exact names, loopback last, each its own key of a hash set. */
        ASSERT_EQ(set_elems(&b, "tunnels", e, 8, &msgs), 3);
        assert_elem(&e[0], wg0, IFNAMSIZ, 0);
        assert_elem(&e[1], tun0, IFNAMSIZ, 0);
        assert_elem(&e[2], lo, IFNAMSIZ, 0);
        /* tun* as the interval [tun, tuo), after a leading end marker at zero, as nft(8) writes
         * it. */
        ASSERT_EQ(set_elems(&b, "tunnel_patterns", e, 8, &msgs), 3);
        assert_elem(&e[0], zero, IFNAMSIZ, NFT_SET_ELEM_INTERVAL_END);
        assert_elem(&e[1], tun, IFNAMSIZ, 0);
        assert_elem(&e[2], tuo, IFNAMSIZ, NFT_SET_ELEM_INTERVAL_END);
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
        size_t msgs;

        settings_init_block_all(&s);
        build(&b, &s, &(RulesetParams){});
        /* Only loopback gets out: the tunnels set holds it alone, the endpoint sets are empty, no
         * DHCP, no LAN. */
        _cleanup_(rules_done) Rules out = chain_rules(&b, "allow_egress");
        EXPECT_COUNT(&out, 2);
        /* loopback alone, and no pattern */
        ASSERT_EQ(set_elems(&b, "tunnels", NULL, 0, &msgs), 1);
        ASSERT_EQ(set_elems(&b, "tunnel_patterns", NULL, 0, &msgs), 0);
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

/* The message types of a batch, BEGIN and END as 0. */
static size_t batch_types(const Batch *b, uint8_t *types, size_t max) {
        size_t n = 0;

        for_each_msg(nlh, b) {
                ASSERT(n < max);
                types[n++] = is_nft(nlh) ? msg_type(nlh) : 0;
        }
        return n;
}

/* AddTunnel and RemoveTunnel: the tunnels' sets flushed and refilled, nothing else. */
TEST(lists_update_tunnels) {
        _cleanup_(settings_done) Settings s = example_with_pattern(), more = {}, exact;
        _cleanup_(batch_done) Batch b;
        uint8_t types[8];
        size_t msgs;

        ASSERT_EQ(settings_copy(&s, &more), 0);
        ASSERT_EQ(settings_add_tunnel(&more, "wg1", &error), 0);
        batch_init(&b, 9);
        ASSERT_EQ(ruleset_build_lists_update(&b, &s, &more), 0);
        ASSERT_EQ(batch_types(&b, types, ELEMENTSOF(types)), 6);
        ASSERT_EQ(types[1], NFT_MSG_DELSETELEM);
        ASSERT_EQ(types[2], NFT_MSG_DELSETELEM);
        ASSERT_EQ(types[3], NFT_MSG_NEWSETELEM);
        ASSERT_EQ(types[4], NFT_MSG_NEWSETELEM);
        ASSERT_EQ(set_elems(&b, "tunnels", NULL, 0, &msgs), 4); /* wg0, tun0, wg1, lo */
        ASSERT_EQ(set_elems(&b, "tunnel_patterns", NULL, 0, &msgs), 3);
        ASSERT_EQ(set_elems_in(&b, NFT_MSG_DELSETELEM, "endpoints4", NULL, 0, &msgs), 0);
        ASSERT_EQ(msgs, 0);
        /* The patterns' rules are there only with a pattern: an update that adds the first or
         * removes the last one does not fit, and the table is rebuilt instead. */
        settings_init(&exact);
        exact.enabled = true;
        ASSERT_EQ(settings_add_tunnel(&exact, "wg0", &error), 0);
        ASSERT(ruleset_lists_update_fits(&s, &s));
        ASSERT(!ruleset_lists_update_fits(&s, &exact));
        ASSERT(!ruleset_lists_update_fits(&exact, &s));
        ASSERT_EQ(settings_add_tunnel(&exact, "wg1", &error), 0);
        ASSERT(ruleset_lists_update_fits(&exact, &exact));
}

/* An Apply with a new server: the endpoint that went is removed, the one that came is added
 * (exclusively: a set not as 'old' left it refuses the batch), the others and the tunnels are
 * not touched. The same settings: an empty batch. */
TEST(lists_update_endpoints) {
        _cleanup_(settings_done) Settings s = example(), moved = example_moved();
        _cleanup_(batch_done) Batch b, same;
        static const uint8_t k_old[12] = {198, 51, 100, 7, 17, 0, 0, 0, 0xca, 0x6c, 0, 0};
        static const uint8_t k_new[12] = {198, 51, 100, 8, 17, 0, 0, 0, 0xca, 0x6c, 0, 0};
        uint8_t types[8];
        Elem e[2];
        size_t msgs;

        ASSERT(ruleset_lists_update_fits(&s, &moved));

        batch_init(&b, 9);
        ASSERT_EQ(ruleset_build_lists_update(&b, &s, &moved), 0);
        ASSERT_EQ(batch_types(&b, types, ELEMENTSOF(types)), 4);
        ASSERT_EQ(types[1], NFT_MSG_DELSETELEM);
        ASSERT_EQ(types[2], NFT_MSG_NEWSETELEM);
        ASSERT_EQ(set_elems_in(&b, NFT_MSG_DELSETELEM, "endpoints4", e, 2, &msgs), 1);
        assert_elem(&e[0], k_old, sizeof(k_old), 0);
        ASSERT_EQ(set_elems(&b, "endpoints4", e, 2, &msgs), 1);
        assert_elem(&e[0], k_new, sizeof(k_new), 0);
        ASSERT_EQ(set_elems(&b, "endpoints6", NULL, 0, &msgs), 0);
        ASSERT_EQ(set_elems(&b, "tunnels", NULL, 0, &msgs), 0);
        for_each_msg(nlh, &b) if (is_nft(nlh) && msg_type(nlh) == NFT_MSG_NEWSETELEM) ASSERT_EQ(
                nlh->nlmsg_flags & (NLM_F_CREATE | NLM_F_EXCL), NLM_F_CREATE | NLM_F_EXCL);

        batch_init(&same, 20);
        ASSERT_EQ(ruleset_build_lists_update(&same, &s, &s), 0);
        ASSERT_EQ(batch_types(&same, types, ELEMENTSOF(types)), 2);
}

/* Element changes while they are fewer than the endpoints there will be plus 256 (what the rest
 * of a new table weighs); a list replaced whole gets a new table. */
TEST(lists_update_budget) {
        _cleanup_(settings_done) Settings a = {}, b = {};
        Endpoint e;

        settings_init(&a);
        settings_init(&b);
        a.enabled = b.enabled = true;
        for (unsigned i = 0; i < 1000; i++) {
                char addr[32];

                snprintf(addr, sizeof(addr), "198.18.%u.%u", i / 250, i % 250 + 1);
                ASSERT_EQ(endpoint_parse(addr, 51820, "udp", &e, &error), 0);
                ASSERT_EQ(settings_add_endpoint(&a, &e, &error), 0);
                ASSERT_EQ(endpoint_parse(addr, i < 700 ? 51821 : 51820, "udp", &e, &error), 0);
                ASSERT_EQ(settings_add_endpoint(&b, &e, &error), 0);
        }
        /* 700 replaced: 1,400 changes against a new table of 1,000 (+256): a new table */
        ASSERT(!ruleset_lists_update_fits(&a, &b));
        /* 1,000 added to an empty list: 1,000 changes, within 1,000 + 256 */
        ASSERT(ruleset_lists_update_fits(&(Settings){.enabled = true}, &b));
        ASSERT(ruleset_lists_update_fits(&b, &b));
        /* 1,000 removed: more than 0 + 256 */
        ASSERT(!ruleset_lists_update_fits(&a, &(Settings){.enabled = true}));
        /* One replaced in a list of two: 2 changes, within 2 + 256 */
        _cleanup_(settings_done) Settings one = example(), moved = example_moved();
        ASSERT(ruleset_lists_update_fits(&one, &moved));
}

static void add_cgroups(CgroupList *l, const char *const *paths, size_t n) {
        for (size_t i = 0; i < n; i++)
                ASSERT_EQ(cgroup_list_add(l, "ExemptCgroups", paths[i], NULL), 0);
}

/* ExemptCgroups: a rule per level in use at the output hook, before the allow list; their
 * connections marked, and marked connections let through postrouting and their replies in. Their
 * ids are elements of one set, whatever the level. */
TEST(exempt_rules) {
        static const char *const paths[] = {"a.slice/b.scope", "c.slice/d.slice/e.scope",
                                            "f.slice/g.scope"};
        static const uint64_t ids[] = {7, 11};
        _cleanup_(settings_done) Settings s = example();
        _cleanup_(batch_done) Batch b = {};
        NetView v = {.exempt_ids = ids, .n_exempt_ids = ELEMENTSOF(ids)};

        add_cgroups(&s.exempt_cgroups, paths, ELEMENTSOF(paths));
        batch_init(&b, 1);
        ASSERT_EQ(ruleset_build(&b, &s, &v, &(RulesetParams){}), 0);
        _cleanup_(rules_done) Rules output = chain_rules(&b, "output");
        EXPECT_COUNT(&output, 5);
        EXPECT_RULE(&output, 1, SOCKET_CGROUP(2), LOOKUP("exempt_cgroups"), GOTO("exempt_out"));
        EXPECT_RULE(&output, 2, SOCKET_CGROUP(3), LOOKUP("exempt_cgroups"), GOTO("exempt_out"));
        EXPECT_RULE(&output, 3, JUMP("allow_egress"));
        /* The kernel has no socket match at postrouting: the connection's mark says it. */
        _cleanup_(rules_done) Rules post = chain_rules(&b, "postrouting");
        EXPECT_COUNT(&post, 5);
        EXPECT_RULE(&post, 2, CT_MARK_HAS(EXEMPT_CT_MARK), ACCEPT);
        EXPECT_RULE(&post, 3, JUMP("allow_egress"));
        _cleanup_(rules_done) Rules out = chain_rules(&b, "exempt_out");
        EXPECT_COUNT(&out, 1);
        EXPECT_RULE(&out, 0, CT_MARK_ADD(EXEMPT_CT_MARK), ACCEPT);
        _cleanup_(rules_done) Rules in = chain_rules(&b, "input");
        EXPECT_COUNT(&in, 4);
        EXPECT_RULE(&in, 1, CT_MARK_HAS(EXEMPT_CT_MARK), ACCEPT);
        /* Forwarded packets have no socket: forward has no such rule. */
        _cleanup_(rules_done) Rules fwd = chain_rules(&b, "forward");
        EXPECT_COUNT(&fwd, 4);

        Elem e[4];
        size_t msgs;

        ASSERT_EQ(set_elems(&b, "exempt_cgroups", e, 4, &msgs), 2);
        assert_elem(&e[0], &ids[0], sizeof(uint64_t), 0);
        assert_elem(&e[1], &ids[1], sizeof(uint64_t), 0);
        ASSERT_EQ(set_elems(&b, "scoped_cgroups", e, 4, &msgs), 0);

        /* A cgroup that comes or goes: both sets emptied and refilled, nothing else. */
        _cleanup_(batch_done) Batch u = {};
        size_t n = 0;

        batch_init(&u, 1);
        ASSERT_EQ(
                ruleset_build_cgroups_update(&u, &(NetView){.scoped_ids = ids, .n_scoped_ids = 1}),
                0);
        for_each_msg(nlh, &u) n += is_nft(nlh);
        ASSERT_EQ(n, 3); /* two flushes, one message of elements */
        ASSERT_EQ(set_elems(&u, "scoped_cgroups", e, 4, &msgs), 1);
        assert_elem(&e[0], &ids[0], sizeof(uint64_t), 0);
}

/* Scope "cgroups": only the output hooks, holding the scoped cgroups' sockets and accepting the
 * rest; nothing at prerouting, input or forward, and no frames table. */
TEST(scoped_rules) {
        static const char *const paths[] = {"torrent.slice"};
        _cleanup_(settings_done) Settings s = example();
        _cleanup_(batch_done) Batch b = {};
        unsigned chains = 0;

        s.scoped = true;
        add_cgroups(&s.scoped_cgroups, paths, 1);
        batch_init(&b, 1);
        ASSERT_EQ(ruleset_build(&b, &s, &(NetView){}, &(RulesetParams){.frames = false}), 0);
        for_each_msg(nlh, &b) {
                struct nftnl_chain *c;

                if (!is_nft(nlh) || msg_type(nlh) != NFT_MSG_NEWCHAIN)
                        continue;
                c = nftnl_chain_alloc();
                ASSERT_EQ(nftnl_chain_nlmsg_parse(nlh, c), 0);
                if (nftnl_chain_is_set(c, NFTNL_CHAIN_HOOKNUM)) {
                        uint32_t hook = nftnl_chain_get_u32(c, NFTNL_CHAIN_HOOKNUM);

                        ASSERT(hook == NF_INET_LOCAL_OUT || hook == NF_INET_POST_ROUTING);
                        /* Cut short, the chain holds rather than opens. */
                        ASSERT_EQ(nftnl_chain_get_u32(c, NFTNL_CHAIN_POLICY), NF_DROP);
                        chains++;
                }
                nftnl_chain_free(c);
        }
        ASSERT_EQ(chains, 2);
        _cleanup_(rules_done) Rules out = chain_rules(&b, "output");
        EXPECT_COUNT(&out, 3);
        EXPECT_RULE(&out, 0, TUNNELS(NFT_META_OIFNAME), ACCEPT);
        EXPECT_RULE(&out, 1, SOCKET_CGROUP(1), LOOKUP("scoped_cgroups"), GOTO("scoped_out"));
        EXPECT_RULE(&out, 2, ACCEPT);
        _cleanup_(rules_done) Rules post = chain_rules(&b, "postrouting");
        EXPECT_COUNT(&post, 4);
        EXPECT_RULE(&post, 2, CT_MARK_HAS(SCOPED_CT_MARK), GOTO("scoped_out"));
        EXPECT_RULE(&post, 3, ACCEPT);
        _cleanup_(rules_done) Rules held = chain_rules(&b, "scoped_out");
        EXPECT_COUNT(&held, 3);
        EXPECT_RULE(&held, 0, CT_MARK_ADD(SCOPED_CT_MARK));
        EXPECT_RULE(&held, 1, JUMP("allow_egress"));
        EXPECT_RULE(&held, 2, COUNTED_DROP);
}

int main(void) {
        RUN(framing);
        RUN(table_messages);
        RUN(base_chains_drop);
        RUN(base_chain_rules);
        RUN(base_chain_rules_exact_names);
        RUN(allow_rules);
        RUN(allow_rules_settings);
        RUN(frame_rules);
        RUN(endpoint_elements);
        RUN(tunnel_sets);
        RUN(lan_intervals);
        RUN(many_endpoints);
        RUN(block_all);
        RUN(delete);
        RUN(lists_update_tunnels);
        RUN(lists_update_endpoints);
        RUN(lists_update_budget);
        RUN(exempt_rules);
        RUN(scoped_rules);
        return 0;
}

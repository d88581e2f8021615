/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Before any linux/ header, so that glibc guards against their duplicate definitions. */
#include <netinet/in.h>

#include <arpa/inet.h>
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
#include <net/if.h>
#include <string.h>
#include <sys/socket.h>

#include "ruleset.h"

#define LAN4(a, b, c, d, len)                                                                      \
        {                                                                                          \
                .family = AF_INET, .prefixlen = len,                                               \
                .addr.in.s_addr = (uint32_t)((a) | (b) << 8 | (c) << 16 | (uint32_t)(d) << 24)     \
        }
#define LAN6(b0, b1, len)                                                                          \
        {                                                                                          \
                .family = AF_INET6, .prefixlen = len, .addr.in6.s6_addr = { b0, b1 }               \
        }

/* The byte order trick in LAN4 assumes a little-endian host, checked at build time. */
_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "LAN4() needs a little-endian host");

const LanPrefix lan_prefixes_private[] = {
        LAN4(10, 0, 0, 0, 8),     LAN4(172, 16, 0, 0, 12), LAN4(192, 168, 0, 0, 16),
        LAN4(169, 254, 0, 0, 16), LAN6(0xfc, 0x00, 7),     LAN6(0xfe, 0x80, 10),
};
const size_t lan_prefixes_private_count = ELEMENTSOF(lan_prefixes_private);

/* Link-local multicast is part of "LAN" whenever AllowLan is on (mDNS, SSDP, MLD). */
static const LanPrefix lan_multicast[] = {
        LAN4(224, 0, 0, 0, 24),
        LAN6(0xff, 0x02, 16),
};

/* Data types as nft(8) numbers them, so that "nft list" prints our sets readably. */
enum {
        NFT_TYPE_IPADDR = 7,
        NFT_TYPE_IP6ADDR = 8,
        NFT_TYPE_INET_PROTOCOL = 12,
        NFT_TYPE_INET_SERVICE = 13,
        NFT_TYPE_IFNAME = 41,
        NFT_TYPE_BITS = 6, /* a concatenation packs each member's type in 6 bits */
};

enum { SET_TUNNELS = 1, SET_ENDPOINTS4, SET_ENDPOINTS6, SET_LAN4, SET_LAN6 };
static const char *const set_names[] = {
        [SET_TUNNELS] = "tunnels",
        [SET_ENDPOINTS4] = "endpoints4",
        [SET_ENDPOINTS6] = "endpoints6",
        [SET_LAN4] = "lan4",
        [SET_LAN6] = "lan6",
};

/* Elements per NEWSETELEM message: keeps each message far below BATCH_MESSAGE_MAX. */
#define ELEMS_PER_MESSAGE 512

/* Every concatenation member takes whole 32-bit registers. */
#define KEY_MAX 24

typedef struct Builder {
        Batch *batch;
        const Settings *settings;
        int r; /* first error; later calls do nothing */
} Builder;

typedef enum Direction { EGRESS, INGRESS } Direction;

static void builder_fail(Builder *b, int r) {
        if (b->r >= 0)
                b->r = r;
}

/* ---- rule expressions ---- */

/* The i-th 32-bit register, written the way the kernel reports it back: at a 128-bit boundary
 * as NFT_REG_1..4, else as NFT_REG32_nn. Both mean the same to the kernel; one spelling lets
 * Verify compare what we wrote with what the kernel holds. */
static uint32_t reg32(unsigned i) {
        return i % 4 == 0 ? NFT_REG_1 + i / 4 : NFT_REG32_00 + i;
}

static void put_expr(Builder *b, struct nftnl_rule *r, struct nftnl_expr *e) {
        if (!e) {
                builder_fail(b, -ENOMEM);
                return;
        }
        nftnl_rule_add_expr(r, e);
}

static void put_meta(Builder *b, struct nftnl_rule *r, uint32_t key, uint32_t dreg) {
        struct nftnl_expr *e = nftnl_expr_alloc("meta");

        if (e) {
                nftnl_expr_set_u32(e, NFTNL_EXPR_META_KEY, key);
                nftnl_expr_set_u32(e, NFTNL_EXPR_META_DREG, dreg);
        }
        put_expr(b, r, e);
}

static void put_cmp(Builder *b, struct nftnl_rule *r, uint32_t sreg, uint32_t op, const void *data,
                    uint32_t len) {
        struct nftnl_expr *e = nftnl_expr_alloc("cmp");

        if (e) {
                nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_SREG, sreg);
                nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_OP, op);
                nftnl_expr_set(e, NFTNL_EXPR_CMP_DATA, data, len);
        }
        put_expr(b, r, e);
}

static void put_payload(Builder *b, struct nftnl_rule *r, uint32_t base, uint32_t offset,
                        uint32_t len, uint32_t dreg) {
        struct nftnl_expr *e = nftnl_expr_alloc("payload");

        if (e) {
                nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_BASE, base);
                nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_OFFSET, offset);
                nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_LEN, len);
                nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_DREG, dreg);
        }
        put_expr(b, r, e);
}

static void put_lookup(Builder *b, struct nftnl_rule *r, uint32_t sreg, int set) {
        struct nftnl_expr *e = nftnl_expr_alloc("lookup");

        if (e) {
                nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_SREG, sreg);
                nftnl_expr_set_str(e, NFTNL_EXPR_LOOKUP_SET, set_names[set]);
                /* The set is created in this same batch: the kernel finds it by its id. */
                nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_SET_ID, (uint32_t)set);
                /* The kernel reports the flags even when zero: say them, to compare alike. */
                nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_FLAGS, 0);
        }
        put_expr(b, r, e);
}

static void put_verdict(Builder *b, struct nftnl_rule *r, int verdict, const char *chain) {
        struct nftnl_expr *e = nftnl_expr_alloc("immediate");

        if (e) {
                nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_DREG, NFT_REG_VERDICT);
                nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_VERDICT, (uint32_t)verdict);
                if (chain)
                        nftnl_expr_set_str(e, NFTNL_EXPR_IMM_CHAIN, chain);
        }
        put_expr(b, r, e);
}

/* Count into the named counter, then drop. */
static void put_counted_drop(Builder *b, struct nftnl_rule *r) {
        struct nftnl_expr *e = nftnl_expr_alloc("objref");

        if (e) {
                nftnl_expr_set_u32(e, NFTNL_EXPR_OBJREF_IMM_TYPE, NFT_OBJECT_COUNTER);
                nftnl_expr_set_str(e, NFTNL_EXPR_OBJREF_IMM_NAME, COUNTER_NAME);
        }
        put_expr(b, r, e);
        put_verdict(b, r, NF_DROP, NULL);
}

static void put_u8_eq(Builder *b, struct nftnl_rule *r, uint32_t reg, uint8_t v) {
        put_cmp(b, r, reg, NFT_CMP_EQ, &v, sizeof(v));
}

static void put_nfproto(Builder *b, struct nftnl_rule *r, int family) {
        put_meta(b, r, NFT_META_NFPROTO, reg32(0));
        put_u8_eq(b, r, reg32(0), family == AF_INET ? NFPROTO_IPV4 : NFPROTO_IPV6);
}

static void put_l4proto(Builder *b, struct nftnl_rule *r, uint8_t proto) {
        put_meta(b, r, NFT_META_L4PROTO, reg32(0));
        put_u8_eq(b, r, reg32(0), proto);
}

static void put_port_eq(Builder *b, struct nftnl_rule *r, uint32_t offset, uint16_t port) {
        uint16_t be = htons(port);

        put_payload(b, r, NFT_PAYLOAD_TRANSPORT_HEADER, offset, sizeof(be), reg32(0));
        put_cmp(b, r, reg32(0), NFT_CMP_EQ, &be, sizeof(be));
}

/* ---- the messages ---- */

static struct nftnl_rule *rule_new(Builder *b, const char *chain) {
        struct nftnl_rule *r = nftnl_rule_alloc();

        if (!r) {
                builder_fail(b, -ENOMEM);
                return NULL;
        }
        nftnl_rule_set_u32(r, NFTNL_RULE_FAMILY, NFPROTO_INET);
        nftnl_rule_set_str(r, NFTNL_RULE_TABLE, TABLE_NAME);
        nftnl_rule_set_str(r, NFTNL_RULE_CHAIN, chain);
        return r;
}

/* Serializes the rule into the batch and frees it. */
static void rule_emit(Builder *b, struct nftnl_rule *r) {
        struct nlmsghdr *nlh;

        if (!r)
                return;
        if (b->r >= 0) {
                nlh = batch_open(b->batch, NFT_MSG_NEWRULE, NFPROTO_INET,
                                 NLM_F_CREATE | NLM_F_APPEND);
                if (nlh) {
                        nftnl_rule_nlmsg_build_payload(nlh, r);
                        batch_close(b->batch, nlh);
                } else
                        builder_fail(b, -ENOMEM);
        }
        nftnl_rule_free(r);
}

static void emit_table(Builder *b, uint16_t type, uint32_t flags) {
        struct nftnl_table *t = nftnl_table_alloc();
        struct nlmsghdr *nlh;

        if (!t) {
                builder_fail(b, -ENOMEM);
                return;
        }
        nftnl_table_set_u32(t, NFTNL_TABLE_FAMILY, NFPROTO_INET);
        nftnl_table_set_str(t, NFTNL_TABLE_NAME, TABLE_NAME);
        if (type == NFT_MSG_NEWTABLE)
                nftnl_table_set_u32(t, NFTNL_TABLE_FLAGS, flags);
        nlh = batch_open(b->batch, type, NFPROTO_INET, type == NFT_MSG_NEWTABLE ? NLM_F_CREATE : 0);
        if (nlh) {
                nftnl_table_nlmsg_build_payload(nlh, t);
                batch_close(b->batch, nlh);
        } else
                builder_fail(b, -ENOMEM);
        nftnl_table_free(t);
}

static void emit_counter(Builder *b, uint64_t packets, uint64_t bytes) {
        struct nftnl_obj *o = nftnl_obj_alloc();
        struct nlmsghdr *nlh;

        if (!o) {
                builder_fail(b, -ENOMEM);
                return;
        }
        nftnl_obj_set_u32(o, NFTNL_OBJ_FAMILY, NFPROTO_INET);
        nftnl_obj_set_str(o, NFTNL_OBJ_TABLE, TABLE_NAME);
        nftnl_obj_set_str(o, NFTNL_OBJ_NAME, COUNTER_NAME);
        nftnl_obj_set_u32(o, NFTNL_OBJ_TYPE, NFT_OBJECT_COUNTER);
        nftnl_obj_set_u64(o, NFTNL_OBJ_CTR_PKTS, packets);
        nftnl_obj_set_u64(o, NFTNL_OBJ_CTR_BYTES, bytes);
        nlh = batch_open(b->batch, NFT_MSG_NEWOBJ, NFPROTO_INET, NLM_F_CREATE);
        if (nlh) {
                nftnl_obj_nlmsg_build_payload(nlh, o);
                batch_close(b->batch, nlh);
        } else
                builder_fail(b, -ENOMEM);
        nftnl_obj_free(o);
}

/* hook < 0: a regular chain. */
static void emit_chain(Builder *b, const char *name, int hook, int priority) {
        struct nftnl_chain *c = nftnl_chain_alloc();
        struct nlmsghdr *nlh;

        if (!c) {
                builder_fail(b, -ENOMEM);
                return;
        }
        nftnl_chain_set_u32(c, NFTNL_CHAIN_FAMILY, NFPROTO_INET);
        nftnl_chain_set_str(c, NFTNL_CHAIN_TABLE, TABLE_NAME);
        nftnl_chain_set_str(c, NFTNL_CHAIN_NAME, name);
        if (hook >= 0) {
                nftnl_chain_set_u32(c, NFTNL_CHAIN_HOOKNUM, (uint32_t)hook);
                nftnl_chain_set_s32(c, NFTNL_CHAIN_PRIO, priority);
                nftnl_chain_set_str(c, NFTNL_CHAIN_TYPE, "filter");
                /* Default deny: a packet no rule accepts is dropped even if a rule goes missing. */
                nftnl_chain_set_u32(c, NFTNL_CHAIN_POLICY, NF_DROP);
        }
        nlh = batch_open(b->batch, NFT_MSG_NEWCHAIN, NFPROTO_INET, NLM_F_CREATE);
        if (nlh) {
                nftnl_chain_nlmsg_build_payload(nlh, c);
                batch_close(b->batch, nlh);
        } else
                builder_fail(b, -ENOMEM);
        nftnl_chain_free(c);
}

static struct nftnl_set *set_new(Builder *b, int set) {
        struct nftnl_set *s = nftnl_set_alloc();

        if (!s) {
                builder_fail(b, -ENOMEM);
                return NULL;
        }
        nftnl_set_set_u32(s, NFTNL_SET_FAMILY, NFPROTO_INET);
        nftnl_set_set_str(s, NFTNL_SET_TABLE, TABLE_NAME);
        nftnl_set_set_str(s, NFTNL_SET_NAME, set_names[set]);
        nftnl_set_set_u32(s, NFTNL_SET_ID, (uint32_t)set);
        return s;
}

static void emit_set(Builder *b, int set, uint32_t key_type, uint32_t key_len, bool interval) {
        struct nftnl_set *s = set_new(b, set);
        struct nlmsghdr *nlh;

        if (!s)
                return;
        nftnl_set_set_u32(s, NFTNL_SET_KEY_TYPE, key_type);
        nftnl_set_set_u32(s, NFTNL_SET_KEY_LEN, key_len);
        nftnl_set_set_u32(s, NFTNL_SET_FLAGS, interval ? NFT_SET_INTERVAL : 0);
        nlh = batch_open(b->batch, NFT_MSG_NEWSET, NFPROTO_INET, NLM_F_CREATE);
        if (nlh) {
                nftnl_set_nlmsg_build_payload(nlh, s);
                batch_close(b->batch, nlh);
        } else
                builder_fail(b, -ENOMEM);
        nftnl_set_free(s);
}

/* Collects set elements and writes them out ELEMS_PER_MESSAGE at a time. */
typedef struct ElemWriter {
        Builder *b;
        int set;
        struct nftnl_set *pending;
        size_t n_pending;
} ElemWriter;

static void elems_flush(ElemWriter *w) {
        struct nlmsghdr *nlh;

        if (!w->pending)
                return;
        if (w->b->r >= 0) {
                nlh = batch_open(w->b->batch, NFT_MSG_NEWSETELEM, NFPROTO_INET, NLM_F_CREATE);
                if (nlh) {
                        nftnl_set_elems_nlmsg_build_payload(nlh, w->pending);
                        batch_close(w->b->batch, nlh);
                } else
                        builder_fail(w->b, -ENOMEM);
        }
        nftnl_set_free(w->pending);
        w->pending = NULL;
        w->n_pending = 0;
}

static void elems_add(ElemWriter *w, const void *key, uint32_t len, uint32_t flags) {
        struct nftnl_set_elem *e;

        if (w->b->r < 0)
                return;
        if (!w->pending) {
                w->pending = set_new(w->b, w->set);
                if (!w->pending)
                        return;
        }
        e = nftnl_set_elem_alloc();
        if (!e) {
                builder_fail(w->b, -ENOMEM);
                return;
        }
        nftnl_set_elem_set(e, NFTNL_SET_ELEM_KEY, key, len);
        if (flags)
                nftnl_set_elem_set_u32(e, NFTNL_SET_ELEM_FLAGS, flags);
        nftnl_set_elem_add(w->pending, e);
        if (++w->n_pending >= ELEMS_PER_MESSAGE)
                elems_flush(w);
}

/* ---- intervals: tunnel name prefixes and LAN prefixes ---- */

/* [lo, end) over big-endian byte strings; open: no end, up to the largest key. */
typedef struct Interval {
        uint8_t lo[IFNAMSIZ];
        uint8_t end[IFNAMSIZ];
        bool open;
} Interval;

/* Adds one; false when it wraps (the interval then runs to the end of the key space). */
static bool key_increment(uint8_t *k, size_t len) {
        for (size_t i = len; i-- > 0;)
                if (++k[i] != 0)
                        return true;
        return false;
}

static size_t interval_key_len;

static int interval_compare(const void *a, const void *b) {
        return memcmp(((const Interval *)a)->lo, ((const Interval *)b)->lo, interval_key_len);
}

/* Sorts and merges overlapping and touching intervals: the kernel rejects overlaps. */
static size_t intervals_merge(Interval *v, size_t n, size_t len) {
        size_t m = 0;

        if (n == 0)
                return 0;
        interval_key_len = len;
        qsort(v, n, sizeof(Interval), interval_compare);
        for (size_t i = 1; i < n; i++) {
                Interval *cur = &v[m];

                if (cur->open || memcmp(v[i].lo, cur->end, len) <= 0) {
                        if (cur->open)
                                continue;
                        if (v[i].open || memcmp(v[i].end, cur->end, len) > 0) {
                                memcpy(cur->end, v[i].end, len);
                                cur->open = v[i].open;
                        }
                } else
                        v[++m] = v[i];
        }
        return m + 1;
}

/* An interval set as the kernel's rbtree backend takes it, the way nft(8) writes it: a leading
 * end marker at zero, then each start key and, unless open, its end key with INTERVAL_END. */
static void emit_intervals(Builder *b, int set, Interval *v, size_t n, size_t len) {
        static const uint8_t zero[IFNAMSIZ];
        ElemWriter w = {.b = b, .set = set};

        n = intervals_merge(v, n, len);
        if (n > 0 && memcmp(v[0].lo, zero, len) != 0)
                elems_add(&w, zero, len, NFT_SET_ELEM_INTERVAL_END);
        for (size_t i = 0; i < n; i++) {
                elems_add(&w, v[i].lo, len, 0);
                if (!v[i].open)
                        elems_add(&w, v[i].end, len, NFT_SET_ELEM_INTERVAL_END);
        }
        elems_flush(&w);
}

static void tunnel_interval(const char *name, Interval *ret) {
        size_t n = strlen(name);

        *ret = (Interval){};
        if (tunnel_name_is_pattern(name))
                n--;
        memcpy(ret->lo, name, n);
        /* "wg0" is the single key "wg0\0...\0"; "tun*" is every key that starts with "tun". */
        memcpy(ret->end, ret->lo, IFNAMSIZ);
        if (tunnel_name_is_pattern(name))
                ret->open = !key_increment(ret->end, n);
        else
                ret->open = !key_increment(ret->end, IFNAMSIZ);
}

static void lan_interval(const LanPrefix *p, Interval *ret) {
        size_t len = p->family == AF_INET ? 4 : 16;
        unsigned plen = p->prefixlen > len * 8 ? len * 8 : p->prefixlen;

        *ret = (Interval){};
        memcpy(ret->lo, &p->addr, len);
        for (size_t i = 0; i < len; i++) {
                unsigned bits = plen > i * 8 ? plen - i * 8 : 0;
                uint8_t mask = bits >= 8 ? 0xff : (uint8_t)(0xff00 >> bits);

                ret->lo[i] &= mask;
                ret->end[i] = ret->lo[i] | (uint8_t)~mask;
        }
        ret->open = !key_increment(ret->end, len);
}

static void emit_tunnel_elems(Builder *b) {
        Interval v[TUNNELS_MAX];
        size_t n = b->settings->n_tunnels;

        if (n > TUNNELS_MAX) {
                builder_fail(b, -E2BIG);
                return;
        }
        for (size_t i = 0; i < n; i++)
                tunnel_interval(b->settings->tunnels[i], &v[i]);
        emit_intervals(b, SET_TUNNELS, v, n, IFNAMSIZ);
}

static void emit_lan_elems(Builder *b, int family, const LanPrefix *lan, size_t n_lan) {
        size_t n = 0, len = family == AF_INET ? 4 : 16;
        Interval *v;

        v = calloc(n_lan + ELEMENTSOF(lan_multicast), sizeof(Interval));
        if (!v) {
                builder_fail(b, -ENOMEM);
                return;
        }
        for (size_t i = 0; i < n_lan; i++)
                if (lan[i].family == family)
                        lan_interval(&lan[i], &v[n++]);
        for (size_t i = 0; i < ELEMENTSOF(lan_multicast); i++)
                if (lan_multicast[i].family == family)
                        lan_interval(&lan_multicast[i], &v[n++]);
        emit_intervals(b, family == AF_INET ? SET_LAN4 : SET_LAN6, v, n, len);
        free(v);
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

static void emit_endpoint_elems(Builder *b) {
        ElemWriter w4 = {.b = b, .set = SET_ENDPOINTS4}, w6 = {.b = b, .set = SET_ENDPOINTS6};

        for (size_t i = 0; i < b->settings->n_endpoints; i++) {
                const Endpoint *e = &b->settings->endpoints[i];
                uint8_t key[KEY_MAX];
                size_t len = endpoint_key(e, key);

                elems_add(e->family == AF_INET ? &w4 : &w6, key, (uint32_t)len, 0);
        }
        elems_flush(&w4);
        elems_flush(&w6);
}

/* ---- the rules ---- */

static const char *allow_chain(Direction d) {
        return d == EGRESS ? "allow_egress" : "allow_ingress";
}

/* Offsets of the peer's address in the IPv4 and IPv6 headers: destination going out, source
 * coming in; likewise the peer's port in the UDP/TCP header. */
static uint32_t peer_addr_offset(int family, Direction d) {
        if (family == AF_INET)
                return d == EGRESS ? 16 : 12;
        return d == EGRESS ? 24 : 8;
}

static uint32_t peer_port_offset(Direction d) {
        return d == EGRESS ? 2 : 0;
}

static void put_iface(Builder *b, struct nftnl_rule *r, Direction d) {
        put_meta(b, r, d == EGRESS ? NFT_META_OIFNAME : NFT_META_IIFNAME, reg32(0));
}

static void rule_loopback(Builder *b, Direction d) {
        struct nftnl_rule *r = rule_new(b, allow_chain(d));
        char lo[IFNAMSIZ] = "lo";

        put_iface(b, r, d);
        put_cmp(b, r, reg32(0), NFT_CMP_EQ, lo, sizeof(lo));
        put_verdict(b, r, NF_ACCEPT, NULL);
        rule_emit(b, r);
}

/* Replies to what containers and VMs behind us sent into a tunnel arrive from the tunnel and
 * are forwarded out of their (non-tunnel) veth or bridge: accept those, and only replies.
 * In output the input interface is unknown and this never matches; in postrouting it is the
 * forwarded packet's, so locally sent packets re-routed after our output chain never do. */
static void rule_tunnel_replies(Builder *b) {
        struct nftnl_rule *r = rule_new(b, allow_chain(EGRESS));
        struct nftnl_expr *e;
        uint32_t states = NF_CT_STATE_BIT(IP_CT_ESTABLISHED) | NF_CT_STATE_BIT(IP_CT_RELATED),
                 zero = 0;

        put_iface(b, r, INGRESS);
        put_lookup(b, r, reg32(0), SET_TUNNELS);
        e = nftnl_expr_alloc("ct");
        if (e) {
                nftnl_expr_set_u32(e, NFTNL_EXPR_CT_KEY, NFT_CT_STATE);
                nftnl_expr_set_u32(e, NFTNL_EXPR_CT_DREG, reg32(0));
        }
        put_expr(b, r, e);
        e = nftnl_expr_alloc("bitwise");
        if (e) {
                nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_SREG, reg32(0));
                nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_DREG, reg32(0));
                nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_LEN, sizeof(states));
                nftnl_expr_set(e, NFTNL_EXPR_BITWISE_MASK, &states, sizeof(states));
                nftnl_expr_set(e, NFTNL_EXPR_BITWISE_XOR, &zero, sizeof(zero));
        }
        put_expr(b, r, e);
        put_cmp(b, r, reg32(0), NFT_CMP_NEQ, &zero, sizeof(zero));
        put_verdict(b, r, NF_ACCEPT, NULL);
        rule_emit(b, r);
}

static void rule_tunnels(Builder *b, Direction d) {
        struct nftnl_rule *r = rule_new(b, allow_chain(d));

        put_iface(b, r, d);
        put_lookup(b, r, reg32(0), SET_TUNNELS);
        put_verdict(b, r, NF_ACCEPT, NULL);
        rule_emit(b, r);
}

/* ip daddr . meta l4proto . th dport @endpoints4 (saddr/sport coming in). */
static void rule_endpoints(Builder *b, Direction d, int family) {
        struct nftnl_rule *r = rule_new(b, allow_chain(d));
        uint32_t alen = family == AF_INET ? 4 : 16;
        uint32_t mark = b->settings->endpoint_mark;

        put_nfproto(b, r, family);
        /* The VPN's own socket carries the mark; other programs cannot reach the server. */
        if (d == EGRESS && mark != 0) {
                put_meta(b, r, NFT_META_MARK, reg32(0));
                put_cmp(b, r, reg32(0), NFT_CMP_EQ, &mark, sizeof(mark));
        }
        put_payload(b, r, NFT_PAYLOAD_NETWORK_HEADER, peer_addr_offset(family, d), alen, reg32(0));
        put_meta(b, r, NFT_META_L4PROTO, reg32(alen / 4));
        put_payload(b, r, NFT_PAYLOAD_TRANSPORT_HEADER, peer_port_offset(d), 2,
                    reg32(alen / 4 + 1));
        put_lookup(b, r, reg32(0), family == AF_INET ? SET_ENDPOINTS4 : SET_ENDPOINTS6);
        put_verdict(b, r, NF_ACCEPT, NULL);
        rule_emit(b, r);
}

static void rule_udp_ports(Builder *b, Direction d, int family, uint16_t sport, uint16_t dport) {
        struct nftnl_rule *r = rule_new(b, allow_chain(d));

        put_nfproto(b, r, family);
        put_l4proto(b, r, IPPROTO_UDP);
        put_port_eq(b, r, 0, sport);
        put_port_eq(b, r, 2, dport);
        put_verdict(b, r, NF_ACCEPT, NULL);
        rule_emit(b, r);
}

/* DHCPv4 (broadcast and unicast renewals), DHCPv6 and the ICMPv6 a host needs to keep an
 * address: router solicitation/advertisement, neighbour solicitation/advertisement, and
 * redirects coming in. */
static void rules_dhcp(Builder *b, Direction d) {
        struct nftnl_rule *r;
        uint8_t lo = 133, hi = d == EGRESS ? 136 : 137;

        if (d == EGRESS) {
                rule_udp_ports(b, d, AF_INET, 68, 67);
                rule_udp_ports(b, d, AF_INET6, 546, 547);
        } else {
                rule_udp_ports(b, d, AF_INET, 67, 68);
                rule_udp_ports(b, d, AF_INET6, 547, 546);
        }

        r = rule_new(b, allow_chain(d));
        put_nfproto(b, r, AF_INET6);
        put_l4proto(b, r, IPPROTO_ICMPV6);
        put_payload(b, r, NFT_PAYLOAD_TRANSPORT_HEADER, 0, 1, reg32(0));
        put_cmp(b, r, reg32(0), NFT_CMP_GTE, &lo, sizeof(lo));
        put_cmp(b, r, reg32(0), NFT_CMP_LTE, &hi, sizeof(hi));
        put_verdict(b, r, NF_ACCEPT, NULL);
        rule_emit(b, r);
}

static void put_lan_peer(Builder *b, struct nftnl_rule *r, Direction d, int family) {
        put_nfproto(b, r, family);
        put_payload(b, r, NFT_PAYLOAD_NETWORK_HEADER, peer_addr_offset(family, d),
                    family == AF_INET ? 4 : 16, reg32(0));
        put_lookup(b, r, reg32(0), family == AF_INET ? SET_LAN4 : SET_LAN6);
}

/* LAN peers are allowed, but never DNS: a LAN resolver would see every name looked up. */
static void rules_lan(Builder *b, Direction d, int family) {
        static const uint8_t dns_protocols[] = {IPPROTO_UDP, IPPROTO_TCP};
        struct nftnl_rule *r;

        for (size_t i = 0; i < ELEMENTSOF(dns_protocols); i++) {
                r = rule_new(b, allow_chain(d));
                put_lan_peer(b, r, d, family);
                put_l4proto(b, r, dns_protocols[i]);
                put_port_eq(b, r, peer_port_offset(d), 53);
                put_counted_drop(b, r);
                rule_emit(b, r);
        }
        r = rule_new(b, allow_chain(d));
        put_lan_peer(b, r, d, family);
        put_verdict(b, r, NF_ACCEPT, NULL);
        rule_emit(b, r);
}

/* The allow list for one direction, in a regular chain that returns when nothing matched. */
static void rules_allow(Builder *b, Direction d) {
        rule_loopback(b, d);
        rule_tunnels(b, d);
        if (d == EGRESS)
                rule_tunnel_replies(b);
        rule_endpoints(b, d, AF_INET);
        rule_endpoints(b, d, AF_INET6);
        if (b->settings->allow_dhcp)
                rules_dhcp(b, d);
        if (b->settings->allow_lan) {
                rules_lan(b, d, AF_INET);
                rules_lan(b, d, AF_INET6);
        }
}

/* A base chain: consult the allow list, else count and drop (policy drop backs it up). */
static void chain_base(Builder *b, const char *name, int hook, int priority, Direction d) {
        struct nftnl_rule *r;

        emit_chain(b, name, hook, priority);
        r = rule_new(b, name);
        put_verdict(b, r, NFT_JUMP, allow_chain(d));
        rule_emit(b, r);
        r = rule_new(b, name);
        put_counted_drop(b, r);
        rule_emit(b, r);
}

/* After NAT (srcnat is 100) and after any other table: a packet that another table re-routed
 * after our output chain is checked again on its way out. */
#define PRIORITY_POSTROUTING_LAST 500
#define PRIORITY_FILTER 0 /* nft(8) "priority filter" */

int ruleset_build(Batch *batch, const Settings *s, const LanPrefix *lan, size_t n_lan,
                  const RulesetParams *p) {
        Builder b = {.batch = batch, .settings = s};
        int r;

        r = batch_begin(batch);
        if (r < 0)
                return r;

        /* Replacing: claim an orphaned table first (only its owner may delete it), then delete and
         * re-create it. One transaction: the old rules stay in force until the new ones are. */
        if (p->adopt)
                emit_table(&b, NFT_MSG_NEWTABLE, p->table_flags);
        if (p->replace)
                emit_table(&b, NFT_MSG_DELTABLE, 0);
        emit_table(&b, NFT_MSG_NEWTABLE, p->table_flags);

        emit_counter(&b, p->blocked_packets, p->blocked_bytes);
        emit_set(&b, SET_TUNNELS, NFT_TYPE_IFNAME, IFNAMSIZ, true);
        emit_set(&b, SET_ENDPOINTS4,
                 (NFT_TYPE_IPADDR << 2 * NFT_TYPE_BITS) |
                         (NFT_TYPE_INET_PROTOCOL << NFT_TYPE_BITS) | NFT_TYPE_INET_SERVICE,
                 12, false);
        emit_set(&b, SET_ENDPOINTS6,
                 (NFT_TYPE_IP6ADDR << 2 * NFT_TYPE_BITS) |
                         (NFT_TYPE_INET_PROTOCOL << NFT_TYPE_BITS) | NFT_TYPE_INET_SERVICE,
                 24, false);
        emit_set(&b, SET_LAN4, NFT_TYPE_IPADDR, 4, true);
        emit_set(&b, SET_LAN6, NFT_TYPE_IP6ADDR, 16, true);

        emit_tunnel_elems(&b);
        emit_endpoint_elems(&b);
        if (s->allow_lan) {
                emit_lan_elems(&b, AF_INET, lan, n_lan);
                emit_lan_elems(&b, AF_INET6, lan, n_lan);
        }

        emit_chain(&b, allow_chain(EGRESS), -1, 0);
        rules_allow(&b, EGRESS);
        emit_chain(&b, allow_chain(INGRESS), -1, 0);
        rules_allow(&b, INGRESS);

        chain_base(&b, "input", NF_INET_LOCAL_IN, PRIORITY_FILTER, INGRESS);
        chain_base(&b, "output", NF_INET_LOCAL_OUT, PRIORITY_FILTER, EGRESS);
        chain_base(&b, "forward", NF_INET_FORWARD, PRIORITY_FILTER, EGRESS);
        chain_base(&b, "postrouting", NF_INET_POST_ROUTING, PRIORITY_POSTROUTING_LAST, EGRESS);

        if (b.r < 0)
                return b.r;
        return batch_end(batch);
}

int ruleset_build_endpoint_change(Batch *batch, const Endpoint *e, bool add) {
        Builder b = {.batch = batch};
        struct nftnl_set *set;
        struct nftnl_set_elem *elem;
        struct nlmsghdr *nlh;
        uint8_t key[KEY_MAX];
        size_t len = endpoint_key(e, key);
        int r;

        r = batch_begin(batch);
        if (r < 0)
                return r;
        set = nftnl_set_alloc();
        elem = nftnl_set_elem_alloc();
        if (!set || !elem) {
                nftnl_set_free(set);
                nftnl_set_elem_free(elem);
                return -ENOMEM;
        }
        nftnl_set_set_u32(set, NFTNL_SET_FAMILY, NFPROTO_INET);
        nftnl_set_set_str(set, NFTNL_SET_TABLE, TABLE_NAME);
        nftnl_set_set_str(set, NFTNL_SET_NAME,
                          set_names[e->family == AF_INET ? SET_ENDPOINTS4 : SET_ENDPOINTS6]);
        nftnl_set_elem_set(elem, NFTNL_SET_ELEM_KEY, key, (uint32_t)len);
        nftnl_set_elem_add(set, elem);
        /* NLM_F_EXCL on add and the kernel's ENOENT on delete keep kernel and settings in step. */
        nlh = batch_open(batch, add ? NFT_MSG_NEWSETELEM : NFT_MSG_DELSETELEM, NFPROTO_INET,
                         add ? NLM_F_CREATE | NLM_F_EXCL : 0);
        if (nlh) {
                nftnl_set_elems_nlmsg_build_payload(nlh, set);
                batch_close(batch, nlh);
        } else
                builder_fail(&b, -ENOMEM);
        nftnl_set_free(set);
        if (b.r < 0)
                return b.r;
        return batch_end(batch);
}

int ruleset_build_lan_update(Batch *batch, const LanPrefix *lan, size_t n_lan) {
        Builder b = {.batch = batch};
        int r;

        r = batch_begin(batch);
        if (r < 0)
                return r;
        /* A DELSETELEM without elements flushes the set; new elements follow in the same
         * transaction, so no packet ever sees the set empty. */
        for (int set = SET_LAN4; set <= SET_LAN6; set++) {
                struct nftnl_set *s = set_new(&b, set);
                struct nlmsghdr *nlh;

                if (!s)
                        break;
                nftnl_set_unset(s, NFTNL_SET_ID);
                nlh = batch_open(batch, NFT_MSG_DELSETELEM, NFPROTO_INET, 0);
                if (nlh) {
                        nftnl_set_elems_nlmsg_build_payload(nlh, s);
                        batch_close(batch, nlh);
                } else
                        builder_fail(&b, -ENOMEM);
                nftnl_set_free(s);
        }
        emit_lan_elems(&b, AF_INET, lan, n_lan);
        emit_lan_elems(&b, AF_INET6, lan, n_lan);
        if (b.r < 0)
                return b.r;
        return batch_end(batch);
}

int ruleset_build_delete(Batch *batch) {
        Builder b = {.batch = batch};
        int r;

        r = batch_begin(batch);
        if (r < 0)
                return r;
        emit_table(&b, NFT_MSG_DELTABLE, 0);
        if (b.r < 0)
                return b.r;
        return batch_end(batch);
}

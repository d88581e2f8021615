/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Before any linux/ header, so that glibc guards against their duplicate definitions. */
#include <netinet/in.h>

#include <libmnl/libmnl.h>
#include <libnftnl/chain.h>
#include <libnftnl/expr.h>
#include <libnftnl/object.h>
#include <libnftnl/set.h>
#include <libnftnl/table.h>
#include <libnftnl/udata.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <string.h>

#include "nft-builder.h"

/* Elements per NEWSETELEM message: keeps each message far below BATCH_MESSAGE_MAX. */
#define ELEMS_PER_MESSAGE 512

Builder builder_begin(Batch *batch, const char *const *set_names, int n_sets) {
        return (Builder){.batch = batch,
                         .family = NFPROTO_INET,
                         .set_names = set_names,
                         .n_sets = n_sets,
                         .r = batch_begin(batch)};
}

int builder_end(Builder *b) {
        if (b->r < 0)
                return b->r;
        return batch_end(b->batch);
}

void builder_fail(Builder *b, int r) {
        if (b->r >= 0)
                b->r = r;
}

/* 'p', a libnftnl allocation; the builder fails when it is NULL. */
static void *checked(Builder *b, void *p) {
        if (!p)
                builder_fail(b, -ENOMEM);
        return p;
}

/* The header of one message of the table's family, or NULL after an error. */
static struct nlmsghdr *message_open(Builder *b, uint16_t type, uint16_t flags) {
        if (b->r < 0)
                return NULL;
        return checked(b, batch_open(b->batch, type, b->family, flags));
}

/* One message: its header, then the payload that libnftnl's 'build_payload' writes from 'obj'
 * (a macro, since each kind of object has its own function and type). */
#define emit_message(b, type, flags, build_payload, obj)                                           \
        do {                                                                                       \
                struct nlmsghdr *_nlh = message_open(b, type, flags);                              \
                                                                                                   \
                if (_nlh) {                                                                        \
                        build_payload(_nlh, obj);                                                  \
                        batch_close((b)->batch, _nlh);                                             \
                }                                                                                  \
        } while (0)

/* ---- whole objects ---- */

void emit_table(Builder *b, uint16_t type, uint32_t flags) {
        struct nftnl_table *t = checked(b, nftnl_table_alloc());

        if (!t)
                return;
        nftnl_table_set_u32(t, NFTNL_TABLE_FAMILY, b->family);
        nftnl_table_set_str(t, NFTNL_TABLE_NAME, TABLE_NAME);
        if (type == NFT_MSG_NEWTABLE)
                nftnl_table_set_u32(t, NFTNL_TABLE_FLAGS, flags);
        emit_message(b, type, type == NFT_MSG_NEWTABLE ? NLM_F_CREATE : 0,
                     nftnl_table_nlmsg_build_payload, t);
        nftnl_table_free(t);
}

void emit_counter(Builder *b, uint64_t packets, uint64_t bytes) {
        struct nftnl_obj *o = checked(b, nftnl_obj_alloc());

        if (!o)
                return;
        nftnl_obj_set_u32(o, NFTNL_OBJ_FAMILY, b->family);
        nftnl_obj_set_str(o, NFTNL_OBJ_TABLE, TABLE_NAME);
        nftnl_obj_set_str(o, NFTNL_OBJ_NAME, COUNTER_NAME);
        nftnl_obj_set_u32(o, NFTNL_OBJ_TYPE, NFT_OBJECT_COUNTER);
        nftnl_obj_set_u64(o, NFTNL_OBJ_CTR_PKTS, packets);
        nftnl_obj_set_u64(o, NFTNL_OBJ_CTR_BYTES, bytes);
        emit_message(b, NFT_MSG_NEWOBJ, NLM_F_CREATE, nftnl_obj_nlmsg_build_payload, o);
        nftnl_obj_free(o);
}

/* libnftnl has setters of its own for each kind of object: chain_new(), set_new() and
 * rule_new() say the family, the table and the name, each for its kind. */
static struct nftnl_chain *chain_new(Builder *b, const char *name) {
        struct nftnl_chain *c = checked(b, nftnl_chain_alloc());

        if (c) {
                nftnl_chain_set_u32(c, NFTNL_CHAIN_FAMILY, b->family);
                nftnl_chain_set_str(c, NFTNL_CHAIN_TABLE, TABLE_NAME);
                nftnl_chain_set_str(c, NFTNL_CHAIN_NAME, name);
        }
        return c;
}

void emit_chain(Builder *b, const char *name, int hook, int priority, uint32_t policy,
                const char *device) {
        struct nftnl_chain *c = chain_new(b, name);

        if (!c)
                return;
        if (hook >= 0) {
                nftnl_chain_set_u32(c, NFTNL_CHAIN_HOOKNUM, (uint32_t)hook);
                nftnl_chain_set_s32(c, NFTNL_CHAIN_PRIO, priority);
                nftnl_chain_set_str(c, NFTNL_CHAIN_TYPE, "filter");
                nftnl_chain_set_u32(c, NFTNL_CHAIN_POLICY, policy);
                if (device)
                        nftnl_chain_set_str(c, NFTNL_CHAIN_DEV, device);
        }
        emit_message(b, NFT_MSG_NEWCHAIN, NLM_F_CREATE, nftnl_chain_nlmsg_build_payload, c);
        nftnl_chain_free(c);
}

void emit_chain_delete(Builder *b, const char *name) {
        struct nftnl_chain *c = chain_new(b, name);

        if (!c)
                return;
        /* Without NLM_F_NONREC the kernel deletes the chain's rules with it. */
        emit_message(b, NFT_MSG_DELCHAIN, 0, nftnl_chain_nlmsg_build_payload, c);
        nftnl_chain_free(c);
}

/* Set ids name sets created in the same batch; the netdev table's are numbered apart. */
static uint32_t set_id(const Builder *b, int set) {
        return (uint32_t)set + (b->family == NFPROTO_NETDEV ? (uint32_t)b->n_sets : 0);
}

/* 'with_id' for a set created in this batch, which the kernel finds by its id. */
static struct nftnl_set *set_new(Builder *b, int set, bool with_id) {
        struct nftnl_set *s = checked(b, nftnl_set_alloc());

        if (s) {
                nftnl_set_set_u32(s, NFTNL_SET_FAMILY, b->family);
                nftnl_set_set_str(s, NFTNL_SET_TABLE, TABLE_NAME);
                nftnl_set_set_str(s, NFTNL_SET_NAME, b->set_names[set]);
                if (with_id)
                        nftnl_set_set_u32(s, NFTNL_SET_ID, set_id(b, set));
        }
        return s;
}

/* nft(8)'s ifname datatype, and its BYTEORDER_HOST_ENDIAN in a set's user data. */
#define IFNAME_TYPE 41
#define NFT_BYTEORDER_HOST 1

static void set_key_host_order(Builder *b, struct nftnl_set *s) {
        struct nftnl_udata_buf *u = checked(b, nftnl_udata_buf_alloc(NFT_USERDATA_MAXLEN));

        if (!u)
                return;
        if (nftnl_udata_put_u32(u, NFTNL_UDATA_SET_KEYBYTEORDER, NFT_BYTEORDER_HOST))
                nftnl_set_set_data(s, NFTNL_SET_USERDATA, nftnl_udata_buf_data(u),
                                   nftnl_udata_buf_len(u));
        nftnl_udata_buf_free(u);
}

void emit_set(Builder *b, int set, uint32_t key_type, uint32_t key_len, bool interval,
              uint32_t size) {
        struct nftnl_set *s = set_new(b, set, true);

        if (!s)
                return;
        nftnl_set_set_u32(s, NFTNL_SET_KEY_TYPE, key_type);
        nftnl_set_set_u32(s, NFTNL_SET_KEY_LEN, key_len);
        nftnl_set_set_u32(s, NFTNL_SET_FLAGS, interval ? NFT_SET_INTERVAL : 0);
        if (size > 0)
                nftnl_set_set_u32(s, NFTNL_SET_DESC_SIZE, size);
        /* Names are strings in host order: without saying so, nft(8) lists the keys of a set
         * that is not an interval set as "" (its intervals it decodes either way). */
        if (key_type == IFNAME_TYPE)
                set_key_host_order(b, s);
        emit_message(b, NFT_MSG_NEWSET, NLM_F_CREATE, nftnl_set_nlmsg_build_payload, s);
        nftnl_set_free(s);
}

/* ---- set elements ---- */

static void elem_add(Builder *b, struct nftnl_set *s, const void *key, uint32_t len,
                     uint32_t flags) {
        struct nftnl_set_elem *e = checked(b, nftnl_set_elem_alloc());

        if (!e)
                return;
        nftnl_set_elem_set(e, NFTNL_SET_ELEM_KEY, key, len);
        if (flags)
                nftnl_set_elem_set_u32(e, NFTNL_SET_ELEM_FLAGS, flags);
        nftnl_set_elem_add(s, e);
}

void elems_flush(ElemWriter *w) {
        if (!w->pending)
                return;
        emit_message(w->b, w->removing ? NFT_MSG_DELSETELEM : NFT_MSG_NEWSETELEM,
                     w->removing    ? 0
                     : w->exclusive ? NLM_F_CREATE | NLM_F_EXCL
                                    : NLM_F_CREATE,
                     nftnl_set_elems_nlmsg_build_payload, w->pending);
        nftnl_set_free(w->pending);
        w->pending = NULL;
        w->n_pending = 0;
}

void elems_add(ElemWriter *w, const void *key, uint32_t len, uint32_t flags) {
        if (w->b->r < 0)
                return;
        if (!w->pending) {
                w->pending = set_new(w->b, w->set, true);
                if (!w->pending)
                        return;
        }
        elem_add(w->b, w->pending, key, len, flags);
        if (++w->n_pending >= ELEMS_PER_MESSAGE)
                elems_flush(w);
}

/* As the kernel's rbtree backend takes an interval set, and as nft(8) writes it: a leading
 * end marker at zero, then each start key and, unless open, its end key with INTERVAL_END. */
void emit_interval_elems(Builder *b, int set, Interval *v, size_t n, size_t len) {
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

void emit_elem_change(Builder *b, int set, uint16_t type, uint16_t flags, const void *key,
                      uint32_t len) {
        struct nftnl_set *s = set_new(b, set, false);

        if (!s)
                return;
        elem_add(b, s, key, len, 0);
        emit_message(b, type, flags, nftnl_set_elems_nlmsg_build_payload, s);
        nftnl_set_free(s);
}

void emit_set_flush(Builder *b, int set) {
        struct nftnl_set *s = set_new(b, set, false);

        if (!s)
                return;
        emit_message(b, NFT_MSG_DELSETELEM, 0, nftnl_set_elems_nlmsg_build_payload, s);
        nftnl_set_free(s);
}

/* ---- rules ---- */

struct nftnl_rule *rule_new(Builder *b, const char *chain) {
        struct nftnl_rule *r = checked(b, nftnl_rule_alloc());

        if (r) {
                nftnl_rule_set_u32(r, NFTNL_RULE_FAMILY, b->family);
                nftnl_rule_set_str(r, NFTNL_RULE_TABLE, TABLE_NAME);
                nftnl_rule_set_str(r, NFTNL_RULE_CHAIN, chain);
        }
        return r;
}

void rule_emit(Builder *b, struct nftnl_rule *r) {
        if (!r)
                return;
        emit_message(b, NFT_MSG_NEWRULE, NLM_F_CREATE | NLM_F_APPEND,
                     nftnl_rule_nlmsg_build_payload, r);
        nftnl_rule_free(r);
}

/* Written the way the kernel reports it back: at a 128-bit boundary as NFT_REG_1..4, else as
 * NFT_REG32_nn. Both mean the same to the kernel; one spelling lets Verify compare what we
 * wrote with what the kernel holds. */
uint32_t reg32(unsigned i) {
        return i % 4 == 0 ? NFT_REG_1 + i / 4 : NFT_REG32_00 + i;
}

/* A new expression, or NULL when the rule is missing or out of memory. */
static struct nftnl_expr *expr_new(Builder *b, struct nftnl_rule *r, const char *name) {
        return r ? checked(b, nftnl_expr_alloc(name)) : NULL;
}

/* 'e' is set up: the rule takes it. */
static void put_expr(struct nftnl_rule *r, struct nftnl_expr *e) {
        if (e)
                nftnl_rule_add_expr(r, e);
}

/* Every put_*() below has one shape: a new expression, its attributes, added to the rule.
 * libnftnl has a setter per attribute and no way to say a whole expression at once. */
void put_meta(Builder *b, struct nftnl_rule *r, uint32_t key, uint32_t dreg) {
        struct nftnl_expr *e = expr_new(b, r, "meta");

        if (e) {
                nftnl_expr_set_u32(e, NFTNL_EXPR_META_KEY, key);
                nftnl_expr_set_u32(e, NFTNL_EXPR_META_DREG, dreg);
        }
        put_expr(r, e);
}

void put_payload(Builder *b, struct nftnl_rule *r, uint32_t base, uint32_t offset, uint32_t len,
                 uint32_t dreg) {
        struct nftnl_expr *e = expr_new(b, r, "payload");

        if (e) {
                nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_BASE, base);
                nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_OFFSET, offset);
                nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_LEN, len);
                nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_DREG, dreg);
        }
        put_expr(r, e);
}

void put_cmp(Builder *b, struct nftnl_rule *r, uint32_t sreg, uint32_t op, const void *data,
             uint32_t len) {
        struct nftnl_expr *e = expr_new(b, r, "cmp");

        if (e) {
                nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_SREG, sreg);
                nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_OP, op);
                nftnl_expr_set(e, NFTNL_EXPR_CMP_DATA, data, len);
        }
        put_expr(r, e);
}

void put_u8_eq(Builder *b, struct nftnl_rule *r, uint32_t reg, uint8_t v) {
        put_cmp(b, r, reg, NFT_CMP_EQ, &v, sizeof(v));
}

void put_bitwise(Builder *b, struct nftnl_rule *r, uint32_t reg, const void *mask, const void * xor,
                 uint32_t len) {
        struct nftnl_expr *e = expr_new(b, r, "bitwise");

        if (e) {
                nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_SREG, reg);
                nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_DREG, reg);
                nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_LEN, len);
                nftnl_expr_set(e, NFTNL_EXPR_BITWISE_MASK, mask, len);
                nftnl_expr_set(e, NFTNL_EXPR_BITWISE_XOR, xor, len);
        }
        put_expr(r, e);
}

void put_bitwise_and(Builder *b, struct nftnl_rule *r, uint32_t reg, const void *mask,
                     uint32_t len) {
        static const uint8_t zero[16];

        put_bitwise(b, r, reg, mask, zero, len);
}

void put_lookup(Builder *b, struct nftnl_rule *r, uint32_t sreg, int set) {
        struct nftnl_expr *e = expr_new(b, r, "lookup");

        if (e) {
                nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_SREG, sreg);
                nftnl_expr_set_str(e, NFTNL_EXPR_LOOKUP_SET, b->set_names[set]);
                /* The set is created in this same batch: the kernel finds it by its id. */
                nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_SET_ID, set_id(b, set));
                /* The kernel reports the flags even when zero: say them, to compare alike. */
                nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_FLAGS, 0);
        }
        put_expr(r, e);
}

void put_ct_state(Builder *b, struct nftnl_rule *r, uint32_t states) {
        struct nftnl_expr *e = expr_new(b, r, "ct");
        uint32_t zero = 0;

        if (e) {
                nftnl_expr_set_u32(e, NFTNL_EXPR_CT_KEY, NFT_CT_STATE);
                nftnl_expr_set_u32(e, NFTNL_EXPR_CT_DREG, reg32(0));
        }
        put_expr(r, e);
        put_bitwise_and(b, r, reg32(0), &states, sizeof(states));
        put_cmp(b, r, reg32(0), NFT_CMP_NEQ, &zero, sizeof(zero));
}

static void put_ct_mark_load(Builder *b, struct nftnl_rule *r) {
        struct nftnl_expr *e = expr_new(b, r, "ct");

        if (e) {
                nftnl_expr_set_u32(e, NFTNL_EXPR_CT_KEY, NFT_CT_MARK);
                nftnl_expr_set_u32(e, NFTNL_EXPR_CT_DREG, reg32(0));
        }
        put_expr(r, e);
}

void put_ct_mark_has(Builder *b, struct nftnl_rule *r, uint32_t bits) {
        uint32_t zero = 0;

        put_ct_mark_load(b, r);
        put_bitwise_and(b, r, reg32(0), &bits, sizeof(bits));
        put_cmp(b, r, reg32(0), NFT_CMP_NEQ, &zero, sizeof(zero));
}

void put_ct_mark_add(Builder *b, struct nftnl_rule *r, uint32_t bits) {
        uint32_t keep = ~bits;
        struct nftnl_expr *e;

        put_ct_mark_load(b, r);
        put_bitwise(b, r, reg32(0), &keep, &bits, sizeof(bits));
        e = expr_new(b, r, "ct");
        if (e) {
                nftnl_expr_set_u32(e, NFTNL_EXPR_CT_KEY, NFT_CT_MARK);
                nftnl_expr_set_u32(e, NFTNL_EXPR_CT_SREG, reg32(0));
        }
        put_expr(r, e);
}

void put_socket_cgroupv2(Builder *b, struct nftnl_rule *r, uint32_t level, uint32_t dreg) {
        struct nftnl_expr *e = expr_new(b, r, "socket");

        if (e) {
                nftnl_expr_set_u32(e, NFTNL_EXPR_SOCKET_KEY, NFT_SOCKET_CGROUPV2);
                nftnl_expr_set_u32(e, NFTNL_EXPR_SOCKET_LEVEL, level);
                nftnl_expr_set_u32(e, NFTNL_EXPR_SOCKET_DREG, dreg);
        }
        put_expr(r, e);
}

void put_fib_daddr_type(Builder *b, struct nftnl_rule *r, bool iif) {
        struct nftnl_expr *e = expr_new(b, r, "fib");

        if (e) {
                nftnl_expr_set_u32(e, NFTNL_EXPR_FIB_RESULT, NFT_FIB_RESULT_ADDRTYPE);
                nftnl_expr_set_u32(e, NFTNL_EXPR_FIB_FLAGS,
                                   NFTA_FIB_F_DADDR | (iif ? NFTA_FIB_F_IIF : 0));
                nftnl_expr_set_u32(e, NFTNL_EXPR_FIB_DREG, reg32(0));
        }
        put_expr(r, e);
}

void put_verdict(Builder *b, struct nftnl_rule *r, int verdict, const char *chain) {
        struct nftnl_expr *e = expr_new(b, r, "immediate");

        if (e) {
                nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_DREG, NFT_REG_VERDICT);
                nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_VERDICT, (uint32_t)verdict);
                if (chain)
                        nftnl_expr_set_str(e, NFTNL_EXPR_IMM_CHAIN, chain);
        }
        put_expr(r, e);
}

void put_counted_drop(Builder *b, struct nftnl_rule *r) {
        struct nftnl_expr *e = expr_new(b, r, "objref");

        if (e) {
                nftnl_expr_set_u32(e, NFTNL_EXPR_OBJREF_IMM_TYPE, NFT_OBJECT_COUNTER);
                nftnl_expr_set_str(e, NFTNL_EXPR_OBJREF_IMM_NAME, COUNTER_NAME);
        }
        put_expr(r, e);
        put_verdict(b, r, NF_DROP, NULL);
}

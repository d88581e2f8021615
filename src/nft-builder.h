/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "batch.h"
#include "intervals.h"
#include "ruleset.h" /* TABLE_NAME, COUNTER_NAME */

#include <libnftnl/rule.h>

/* Writes nftables objects into a batch: our table, its counter, sets and their elements,
 * chains, rules and the expressions they are made of. It knows what the kernel wants, not what
 * the rules are for (that is ruleset.c). */

typedef struct Builder {
        Batch *batch;
        uint16_t family;              /* the table's: NFPROTO_INET, or NFPROTO_NETDEV */
        const char *const *set_names; /* the caller numbers its sets: names by number */
        int n_sets;
        int r; /* the first error; every later call does nothing */
} Builder;

/* A new transaction: BEGIN, then the inet table's objects. The caller numbers its sets from 1
 * to n_sets - 1 and names them in 'set_names'. */
Builder builder_begin(Batch *batch, const char *const *set_names, int n_sets);
/* END; or the first error, and the batch is to be dropped. */
int builder_end(Builder *b);
void builder_fail(Builder *b, int r);

/* ---- whole objects, one message each ---- */

/* NFT_MSG_NEWTABLE with 'flags', or NFT_MSG_DELTABLE. */
void emit_table(Builder *b, uint16_t type, uint32_t flags);
/* The named counter, starting from the counts given. */
void emit_counter(Builder *b, uint64_t packets, uint64_t bytes);
/* hook < 0: a regular chain. 'device': the link a netdev base chain hooks. */
void emit_chain(Builder *b, const char *name, int hook, int priority, uint32_t policy,
                const char *device);
/* The chain and its rules. */
void emit_chain_delete(Builder *b, const char *name);
/* 'size' > 0: at most that many elements, which lets the kernel pick its fixed-size hash (no
 * resizing to check on each lookup) for a set without intervals. */
void emit_set(Builder *b, int set, uint32_t key_type, uint32_t key_len, bool interval,
              uint32_t size);

/* ---- set elements ---- */

/* Collects the elements of one set and writes them out a bounded number to a message. */
typedef struct ElemWriter {
        Builder *b;
        int set;
        bool removing;  /* DELSETELEM: the kernel refuses a key that is not in the set */
        bool exclusive; /* NEWSETELEM with NLM_F_EXCL: it refuses a key that is already there */
        struct nftnl_set *pending;
        size_t n_pending;
} ElemWriter;

void elems_add(ElemWriter *w, const void *key, uint32_t len, uint32_t flags);
/* Writes what is pending; call it last. */
void elems_flush(ElemWriter *w);

/* The intervals as an interval set's elements, after merging them (which reorders 'v'). */
void emit_interval_elems(Builder *b, int set, Interval *v, size_t n, size_t len);

/* One element in a message of its own, to a set that exists already: type NFT_MSG_NEWSETELEM
 * or NFT_MSG_DELSETELEM. */
void emit_elem_change(Builder *b, int set, uint16_t type, uint16_t flags, const void *key,
                      uint32_t len);

/* A DELSETELEM without elements: the set emptied. */
void emit_set_flush(Builder *b, int set);

/* ---- rules ---- */

/* NULL after an error; the expressions below then do nothing, and rule_emit() neither. */
struct nftnl_rule *rule_new(Builder *b, const char *chain);
/* Appends the rule to its chain and frees it. */
void rule_emit(Builder *b, struct nftnl_rule *r);

/* The i-th 32-bit register. */
uint32_t reg32(unsigned i);

void put_meta(Builder *b, struct nftnl_rule *r, uint32_t key, uint32_t dreg);
void put_payload(Builder *b, struct nftnl_rule *r, uint32_t base, uint32_t offset, uint32_t len,
                 uint32_t dreg);
void put_cmp(Builder *b, struct nftnl_rule *r, uint32_t sreg, uint32_t op, const void *data,
             uint32_t len);
void put_u8_eq(Builder *b, struct nftnl_rule *r, uint32_t reg, uint8_t v);
/* reg = (reg & mask) ^ xor */
void put_bitwise(Builder *b, struct nftnl_rule *r, uint32_t reg, const void *mask, const void * xor,
                 uint32_t len);
/* reg &= mask */
void put_bitwise_and(Builder *b, struct nftnl_rule *r, uint32_t reg, const void *mask,
                     uint32_t len);
void put_lookup(Builder *b, struct nftnl_rule *r, uint32_t sreg, int set);
/* ct state & states != 0 */
void put_ct_state(Builder *b, struct nftnl_rule *r, uint32_t states);
/* ct mark & bits != 0 */
void put_ct_mark_has(Builder *b, struct nftnl_rule *r, uint32_t bits);
/* ct mark set ct mark | bits: the other bits stay as others set them. */
void put_ct_mark_add(Builder *b, struct nftnl_rule *r, uint32_t bits);
/* socket cgroupv2 level N: the id of the sending socket's cgroup's ancestor at that level. */
void put_socket_cgroupv2(Builder *b, struct nftnl_rule *r, uint32_t level, uint32_t dreg);
/* fib daddr [. iif] type */
void put_fib_daddr_type(Builder *b, struct nftnl_rule *r, bool iif);
/* 'chain': the target of NFT_JUMP and NFT_GOTO, else NULL. */
void put_verdict(Builder *b, struct nftnl_rule *r, int verdict, const char *chain);
/* Count into the named counter, then drop. */
void put_counted_drop(Builder *b, struct nftnl_rule *r);

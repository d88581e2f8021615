/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "batch.h"
#include "settings.h" /* netinet/in.h first: glibc then guards linux/ duplicates */

#include <linux/netfilter/nf_tables.h>

#define TABLE_NAME "killswitchd"
#define COUNTER_NAME "blocked"

/* Linux 6.9 added NFT_TABLE_F_PERSIST; older headers lack it. */
#ifndef NFT_TABLE_F_PERSIST
#define NFT_TABLE_F_PERSIST 0x4
#endif
#define TABLE_FLAGS_OWNED (NFT_TABLE_F_OWNER | NFT_TABLE_F_PERSIST)

typedef struct LanPrefix {
        uint8_t family; /* AF_INET or AF_INET6 */
        uint8_t prefixlen;
        union {
                struct in_addr in;
                struct in6_addr in6;
        } addr;
} LanPrefix;

/* Until live discovery of connected subnets: the private, link-local and ULA ranges. */
extern const LanPrefix lan_prefixes_private[];
extern const size_t lan_prefixes_private_count;

typedef struct RulesetParams {
        uint32_t table_flags;     /* TABLE_FLAGS_OWNED, or 0 where the kernel lacks persist */
        bool replace;             /* our table exists: delete it in the same transaction */
        bool adopt;               /* it is an orphaned persist table: claim it first */
        uint64_t blocked_packets; /* carried over into the new counter */
        uint64_t blocked_bytes;
} RulesetParams;

/* Pure: appends BEGIN, the whole table, END. No sockets, no logging. */
int ruleset_build(Batch *b, const Settings *s, const LanPrefix *lan, size_t n_lan,
                  const RulesetParams *p);

/* BEGIN, add or delete one endpoint element, END: cost independent of the set's size. */
int ruleset_build_endpoint_change(Batch *b, const Endpoint *e, bool add);

/* BEGIN, replace the elements of the LAN sets, END: for AllowLan as networks come and go. */
int ruleset_build_lan_update(Batch *b, const LanPrefix *lan, size_t n_lan);

/* BEGIN, delete our table, END. */
int ruleset_build_delete(Batch *b);

/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "batch.h"
#include "lan.h"      /* and network.h */
#include "settings.h" /* netinet/in.h first: glibc then guards linux/ duplicates */

#include <linux/netfilter/nf_tables.h>
#include <net/if.h>

#define TABLE_NAME "killswitchd"
#define COUNTER_NAME "blocked"

/* The bits of the connection mark that say "started by an exempt cgroup's socket" (its replies
 * come back in) and "by a scoped cgroup's" (held at postrouting too). */
#define EXEMPT_CT_MARK 0x00800000u
#define SCOPED_CT_MARK 0x00400000u

/* Linux 6.9 added NFT_TABLE_F_PERSIST; older headers lack it. */
#ifndef NFT_TABLE_F_PERSIST
#define NFT_TABLE_F_PERSIST 0x4
#endif
#define TABLE_FLAGS_OWNED (NFT_TABLE_F_OWNER | NFT_TABLE_F_PERSIST)

/* "egress_" and an interface name. */
#define LINK_CHAIN_NAME_MAX (IFNAMSIZ + 8)

typedef struct RulesetParams {
        uint32_t table_flags;     /* TABLE_FLAGS_OWNED, or 0 where the kernel lacks persist */
        bool replace;             /* our table exists: delete it in the same transaction */
        bool adopt;               /* it is an orphaned persist table: claim it first */
        uint64_t blocked_packets; /* carried over into the new counter */
        uint64_t blocked_bytes;
        /* The netdev table for frames: wanted (the kernel has the egress hook), there, orphaned. */
        bool frames;
        bool replace_frames;
        bool adopt_frames;
        uint64_t blocked_frames;
        uint64_t blocked_frames_bytes;
} RulesetParams;

/* Pure: appends BEGIN, the whole of both tables, END. No sockets, no logging. */
int ruleset_build(Batch *b, const Settings *s, const NetView *v, const RulesetParams *p);

/* BEGIN, add or delete one endpoint element, END: cost independent of the set's size. */
int ruleset_build_endpoint_change(Batch *b, const Endpoint *e, bool add);

/* BEGIN, the exempt and scoped cgroups' sets refilled from the ids in 'v', END. */
int ruleset_build_cgroups_update(Batch *b, const NetView *v);

/* BEGIN, the sets that hold the lists brought from 'old' to 'new', END: the tunnels' sets
 * refilled if the tunnels differ, and only the endpoints that differ removed or added.
 * AddTunnel, RemoveTunnel and an Apply that changes only these lists (a VPN client's new
 * server) cost what they change, not a new table. ruleset_lists_update_fits(old, new) says
 * whether it fits a table built for 'old' (the rules for patterns are there exactly when
 * needed) and is the smaller transaction: not when most endpoints are replaced. */
bool ruleset_lists_update_fits(const Settings *old, const Settings *new);
int ruleset_build_lists_update(Batch *b, const Settings *old, const Settings *new);

/* BEGIN, the network's part of the tables brought from 'old' to 'now', END: the LAN and
 * on-link sets refilled, egress chains for links that came, none for links that went. */
int ruleset_build_network_update(Batch *b, const Settings *s, const NetView *old,
                                 const NetView *now, bool frames);

/* BEGIN, delete our tables (the inet one, the frames one), END. */
int ruleset_build_delete(Batch *b, bool inet, bool frames);

/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "nft.h"
#include "ruleset.h"
#include "table-lines.h"

typedef enum Protection {
        PROTECTION_NONE,    /* not enabled */
        PROTECTION_MONITOR, /* unowned table: others' changes must be watched for and undone */
        PROTECTION_OWNER,   /* owner+persist: the kernel refuses others and keeps it if we die */
} Protection;

const char *protection_to_string(Protection p);

/* Puts our tables in force for the settings and the network, in one transaction: creates them,
 * or replaces the existing ones (re-taking them when orphaned), carrying the blocked counters
 * over. Uses owner+persist where the kernel has them, unless 'unowned'; the netdev table for
 * frames where the kernel has the egress hook (*ret_frames). */
int table_install(Nft *nft, const Settings *s, const NetView *v, bool unowned,
                  Protection *ret_protection, bool *ret_frames, Error *error);

/* Adds or deletes one endpoint element in the table in force. */
int table_change_endpoint(Nft *nft, const Endpoint *e, bool add, Error *error);

/* Brings the tunnels' and endpoints' sets of the table in force, built for 'old', to 'new'. */
int table_update_lists(Nft *nft, const Settings *old, const Settings *new, Error *error);

/* Refills the exempt and scoped cgroups' sets of the table in force. */
int table_update_cgroups(Nft *nft, const NetView *v, Error *error);

/* Brings the network's part of the tables in force from 'old' to 'now'. */
int table_update_network(Nft *nft, const Settings *s, const NetView *old, const NetView *now,
                         bool frames, Error *error);

/* Packets and frames both tables dropped. */
int table_blocked(Nft *nft, uint64_t *ret_packets);

/* Reads our tables back from the kernel as sorted lines (see table-lines.h). */
int table_read(Nft *nft, Lines *ret);

/* What the tables read back ('have', from table_read()) lack and have too much, compared with
 * what the builder writes for these settings and this network. */
int table_diff(const Settings *s, const NetView *v, Protection protection, bool frames,
               const Lines *have, Lines *missing, Lines *extra);

/* Deletes our tables; 0 if there were none. */
int table_remove(Nft *nft, Error *error);

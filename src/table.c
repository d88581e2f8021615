/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Before any linux/ header, so that glibc guards against their duplicate definitions. */
#include <netinet/in.h>

#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <stdio.h>
#include <string.h>

#include "table-lines.h"
#include "table.h"

const char *protection_to_string(Protection p) {
        switch (p) {
        case PROTECTION_OWNER: return "owner";
        case PROTECTION_MONITOR: return "monitor";
        default: return "none";
        }
}

static bool table_is_orphan(const TableInfo *t) {
        /* The kernel clears OWNER when the owning socket closes and PERSIST kept the table. */
        return (t->flags & (NFT_TABLE_F_OWNER | NFT_TABLE_F_PERSIST)) == NFT_TABLE_F_PERSIST;
}

/* Every change to the tables in force ends here: the batch 'b' that a builder returned 'built'
 * for is sent, unless building it failed. */
static int commit(Nft *nft, const Batch *b, int built, Error *error) {
        if (built < 0)
                return error_set(error, ERROR_KERNEL, built, "building the nftables batch: %s",
                                 strerror(-built));
        return nft_commit(nft, b, error);
}

static int commit_table(Nft *nft, const Settings *s, const NetView *v, const RulesetParams *p,
                        Error *error) {
        _cleanup_(batch_done) Batch b = {};

        batch_init(&b, nft_next_seq(nft));
        return commit(nft, &b, ruleset_build(&b, s, v, p), error);
}

/* Looks at one of our tables before replacing it: there or not, orphaned, its counter. */
static int table_probe(Nft *nft, uint16_t family, bool unowned, bool *ret_replace, bool *ret_adopt,
                       uint64_t *ret_packets, uint64_t *ret_bytes, Error *error) {
        TableInfo t;
        int r;

        r = nft_get_table(nft, family, &t);
        if (r == -ENOENT)
                return 0;
        if (r < 0)
                return error_set(error, ERROR_KERNEL, r, "reading table %s %s: %s",
                                 family == NFPROTO_NETDEV ? "netdev" : "inet", TABLE_NAME,
                                 strerror(-r));
        *ret_replace = true;
        *ret_adopt = !unowned && table_is_orphan(&t);
        /* Keep counting from where we were: BlockedPackets is "since enabled". */
        (void)nft_get_counter(nft, family, ret_packets, ret_bytes);
        return 0;
}

int table_install(Nft *nft, const Settings *s, const NetView *v, bool unowned,
                  Protection *ret_protection, bool *ret_frames, Error *error) {
        /* Scope "cgroups" touches nothing but what the scoped cgroups send; a raw frame has no
         * socket to tell whose it is. */
        RulesetParams p = {.table_flags = unowned ? 0 : TABLE_FLAGS_OWNED, .frames = !s->scoped};
        int r;

        r = table_probe(nft, NFPROTO_INET, unowned, &p.replace, &p.adopt, &p.blocked_packets,
                        &p.blocked_bytes, error);
        if (r >= 0)
                r = table_probe(nft, NFPROTO_NETDEV, unowned, &p.replace_frames, &p.adopt_frames,
                                &p.blocked_frames, &p.blocked_frames_bytes, error);
        if (r < 0)
                return r;

        r = commit_table(nft, s, v, &p, error);
        if (r == -EOPNOTSUPP && v->n_links > 0) {
                /* Before Linux 5.16 there is no egress hook: keep the IP stack's table and say
                 * that frames go unchecked (Verify names the gap). */
                p.frames = false;
                r = commit_table(nft, s, v, &p, error);
        }
        if (r == -EOPNOTSUPP && p.table_flags != 0 && !p.adopt && !p.adopt_frames) {
                /* Before Linux 6.9 there is no persist flag, and owner alone would take the table
                 * away with us when we die: fall back to an unowned table. */
                p.table_flags = 0;
                r = commit_table(nft, s, v, &p, error);
        }
        if (r < 0)
                return r;

        *ret_protection =
                p.table_flags == TABLE_FLAGS_OWNED ? PROTECTION_OWNER : PROTECTION_MONITOR;
        *ret_frames = p.frames;
        return 0;
}

int table_remove(Nft *nft, Error *error) {
        _cleanup_(batch_done) Batch b = {};
        TableInfo t;
        bool inet, frames;
        int r;

        r = nft_get_table(nft, NFPROTO_INET, &t);
        if (r < 0 && r != -ENOENT)
                return error_set(error, ERROR_KERNEL, r, "reading table inet %s: %s", TABLE_NAME,
                                 strerror(-r));
        inet = r >= 0;
        frames = nft_get_table(nft, NFPROTO_NETDEV, &t) >= 0;
        if (!inet && !frames)
                return 0;
        batch_init(&b, nft_next_seq(nft));
        return commit(nft, &b, ruleset_build_delete(&b, inet, frames), error);
}

int table_change_endpoint(Nft *nft, const Endpoint *e, bool add, Error *error) {
        _cleanup_(batch_done) Batch b = {};

        batch_init(&b, nft_next_seq(nft));
        return commit(nft, &b, ruleset_build_endpoint_change(&b, e, add), error);
}

int table_update_lists(Nft *nft, const Settings *old, const Settings *new, Error *error) {
        _cleanup_(batch_done) Batch b = {};

        batch_init(&b, nft_next_seq(nft));
        return commit(nft, &b, ruleset_build_lists_update(&b, old, new), error);
}

int table_update_cgroups(Nft *nft, const NetView *v, Error *error) {
        _cleanup_(batch_done) Batch b = {};

        batch_init(&b, nft_next_seq(nft));
        return commit(nft, &b, ruleset_build_cgroups_update(&b, v), error);
}

int table_update_network(Nft *nft, const Settings *s, const NetView *old, const NetView *now,
                         bool frames, Error *error) {
        _cleanup_(batch_done) Batch b = {};

        batch_init(&b, nft_next_seq(nft));
        return commit(nft, &b, ruleset_build_network_update(&b, s, old, now, frames), error);
}

int table_blocked(Nft *nft, uint64_t *ret_packets) {
        uint64_t packets = 0, frames = 0, bytes;
        int r;

        r = nft_get_counter(nft, NFPROTO_INET, &packets, &bytes);
        if (r < 0)
                return r;
        (void)nft_get_counter(nft, NFPROTO_NETDEV, &frames, &bytes);
        *ret_packets = packets + frames;
        return 0;
}

static int collect(const struct nlmsghdr *nlh, void *userdata) {
        return lines_add_message(userdata, nlh) < 0 ? MNL_CB_ERROR : MNL_CB_OK;
}

static int read_family(Nft *nft, uint16_t family, Lines *ret) {
        static const uint16_t dumps[] = {NFT_MSG_GETTABLE, NFT_MSG_GETCHAIN, NFT_MSG_GETRULE,
                                         NFT_MSG_GETSET, NFT_MSG_GETOBJ};
        static const char *const sets[] = {
                "tunnels", "tunnel_patterns", "endpoints4", "endpoints6",     "lan4",
                "lan6",    "onlink4",         "onlink6",    "exempt_cgroups", "scoped_cgroups"};
        int r;

        for (size_t i = 0; i < ELEMENTSOF(dumps); i++) {
                r = nft_dump(nft, family, dumps[i], NULL, collect, ret);
                if (r < 0)
                        return r;
        }
        for (size_t i = 0; i < ELEMENTSOF(sets); i++) {
                /* The frames table has only the network's sets. */
                if (family == NFPROTO_NETDEV && (i < 4 || i > 7))
                        continue;
                r = nft_dump(nft, family, NFT_MSG_GETSETELEM, sets[i], collect, ret);
                if (r < 0)
                        return r;
        }
        return 0;
}

int table_read(Nft *nft, Lines *ret) {
        TableInfo t;
        int r;

        r = read_family(nft, NFPROTO_INET, ret);
        if (r >= 0 && nft_get_table(nft, NFPROTO_NETDEV, &t) >= 0)
                r = read_family(nft, NFPROTO_NETDEV, ret);
        if (r < 0)
                return r;
        lines_sort(ret);
        return 0;
}

int table_diff(const Settings *s, const NetView *v, Protection protection, bool frames,
               const Lines *have, Lines *missing, Lines *extra) {
        _cleanup_(lines_done) Lines want = {};
        _cleanup_(batch_done) Batch b = {};
        RulesetParams p = {
                .table_flags = protection == PROTECTION_OWNER ? TABLE_FLAGS_OWNED : 0,
                .frames = frames,
        };
        int r;

        batch_init(&b, 0);
        r = ruleset_build(&b, s, v, &p);
        if (r >= 0)
                r = lines_add_batch(&want, &b);
        if (r < 0)
                return r;
        lines_sort(&want);
        return lines_diff(&want, have, missing, extra);
}

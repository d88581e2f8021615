/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Before any linux/ header, so that glibc guards against their duplicate definitions. */
#include <netinet/in.h>

#include <linux/netfilter/nf_tables.h>
#include <stdio.h>
#include <string.h>

#include "inspect.h"
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

static int commit_table(Nft *nft, const Settings *s, const LanPrefix *lan, size_t n_lan,
                        const RulesetParams *p, char error[static ERROR_MAX]) {
        _cleanup_(batch_done) Batch b = {};
        int r;

        batch_init(&b, nft_next_seq(nft));
        r = ruleset_build(&b, s, lan, n_lan, p);
        if (r < 0) {
                snprintf(error, ERROR_MAX, "building the ruleset: %s", strerror(-r));
                return r;
        }
        return nft_commit(nft, &b, error);
}

int table_install(Nft *nft, const Settings *s, const LanPrefix *lan, size_t n_lan, bool unowned,
                  Protection *ret_protection, char error[static ERROR_MAX]) {
        RulesetParams p = {.table_flags = unowned ? 0 : TABLE_FLAGS_OWNED};
        TableInfo t;
        int r;

        r = nft_get_table(nft, &t);
        if (r >= 0) {
                p.replace = true;
                p.adopt = !unowned && table_is_orphan(&t);
                /* Keep counting from where we were: BlockedPackets is "since enabled". */
                (void)nft_get_counter(nft, &p.blocked_packets, &p.blocked_bytes);
        } else if (r != -ENOENT) {
                snprintf(error, ERROR_MAX, "reading table inet %s: %s", TABLE_NAME, strerror(-r));
                return r;
        }

        r = commit_table(nft, s, lan, n_lan, &p, error);
        if (r == -EOPNOTSUPP && p.table_flags != 0 && !p.adopt) {
                /* Before Linux 6.9 there is no persist flag, and owner alone would take the table
                 * away with us when we die: fall back to an unowned table. */
                p.table_flags = 0;
                r = commit_table(nft, s, lan, n_lan, &p, error);
        }
        if (r < 0)
                return r;

        *ret_protection =
                p.table_flags == TABLE_FLAGS_OWNED ? PROTECTION_OWNER : PROTECTION_MONITOR;
        return 0;
}

int table_remove(Nft *nft, char error[static ERROR_MAX]) {
        _cleanup_(batch_done) Batch b = {};
        TableInfo t;
        int r;

        r = nft_get_table(nft, &t);
        if (r == -ENOENT)
                return 0;
        if (r < 0) {
                snprintf(error, ERROR_MAX, "reading table inet %s: %s", TABLE_NAME, strerror(-r));
                return r;
        }
        batch_init(&b, nft_next_seq(nft));
        r = ruleset_build_delete(&b);
        if (r < 0)
                return r;
        return nft_commit(nft, &b, error);
}

int table_change_endpoint(Nft *nft, const Endpoint *e, bool add, char error[static ERROR_MAX]) {
        _cleanup_(batch_done) Batch b = {};
        int r;

        batch_init(&b, nft_next_seq(nft));
        r = ruleset_build_endpoint_change(&b, e, add);
        if (r < 0)
                return r;
        return nft_commit(nft, &b, error);
}

int table_update_lan(Nft *nft, const LanPrefix *lan, size_t n_lan, char error[static ERROR_MAX]) {
        _cleanup_(batch_done) Batch b = {};
        int r;

        batch_init(&b, nft_next_seq(nft));
        r = ruleset_build_lan_update(&b, lan, n_lan);
        if (r < 0)
                return r;
        return nft_commit(nft, &b, error);
}

static int collect(const struct nlmsghdr *nlh, void *userdata) {
        return lines_add_message(userdata, nlh) < 0 ? MNL_CB_ERROR : MNL_CB_OK;
}

int table_read(Nft *nft, Lines *ret) {
        static const uint16_t dumps[] = {NFT_MSG_GETTABLE, NFT_MSG_GETCHAIN, NFT_MSG_GETRULE,
                                         NFT_MSG_GETSET, NFT_MSG_GETOBJ};
        static const char *const sets[] = {"tunnels", "endpoints4", "endpoints6", "lan4", "lan6"};
        int r;

        for (size_t i = 0; i < ELEMENTSOF(dumps); i++) {
                r = nft_dump(nft, dumps[i], NULL, collect, ret);
                if (r < 0)
                        return r;
        }
        for (size_t i = 0; i < ELEMENTSOF(sets); i++) {
                r = nft_dump(nft, NFT_MSG_GETSETELEM, sets[i], collect, ret);
                if (r < 0)
                        return r;
        }
        lines_sort(ret);
        return 0;
}

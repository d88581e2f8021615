/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "inspect.h"
#include "nft.h"
#include "ruleset.h"

typedef enum Protection {
        PROTECTION_NONE,    /* not enabled */
        PROTECTION_MONITOR, /* unowned table: others' changes must be watched for and undone */
        PROTECTION_OWNER,   /* owner+persist: the kernel refuses others and keeps it if we die */
} Protection;

const char *protection_to_string(Protection p);

/* Puts our table in force for the settings, in one transaction: creates it, or replaces the
 * existing one (re-taking it when orphaned), carrying the blocked counter over. Uses
 * owner+persist where the kernel has them, unless 'unowned'. */
int table_install(Nft *nft, const Settings *s, const LanPrefix *lan, size_t n_lan, bool unowned,
                  Protection *ret_protection, char error[static ERROR_MAX]);

/* Adds or deletes one endpoint element in the table in force. */
int table_change_endpoint(Nft *nft, const Endpoint *e, bool add, char error[static ERROR_MAX]);

/* Replaces the LAN prefixes in the table in force. */
int table_update_lan(Nft *nft, const LanPrefix *lan, size_t n_lan, char error[static ERROR_MAX]);

/* Reads our table back from the kernel as sorted lines (see inspect.h). */
int table_read(Nft *nft, Lines *ret);

/* Deletes our table; 0 if there was none. */
int table_remove(Nft *nft, char error[static ERROR_MAX]);

/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include <libmnl/libmnl.h>

#include "batch.h"
#include "settings.h"

/* One netlink socket to nf_tables. With the owner flag, the kernel ties our table to this
 * socket: keep it open for as long as the table should stay ours. */
typedef struct Nft Nft;

typedef struct TableInfo {
        uint32_t flags;
        uint32_t owner; /* netlink port id of the owner, 0 if none */
} TableInfo;

int nft_open(Nft **ret);
Nft *nft_free(Nft *nft);
DEFINE_FREEP(Nft, nft_free)

uint32_t nft_portid(const Nft *nft);
/* Sequence number for the next batch. */
uint32_t nft_next_seq(const Nft *nft);

/* Sends the batch and reads the kernel's answers: the ACK of its last message, or errors. On
 * failure the kernel has applied nothing; 'error' names the refused message and the kernel's
 * reason. */
int nft_commit(Nft *nft, const Batch *b, Error *error);

/* Our tables: inet (NFPROTO_INET) for the IP stack, netdev (NFPROTO_NETDEV) for frames. */

/* Dumps objects of our table of 'family' (GETCHAIN, GETRULE, GETSET, GETOBJ; GETSETELEM of
 * 'set'); cb gets each NEW* message the kernel answers with. */
int nft_dump(Nft *nft, uint16_t family, uint16_t type, const char *set, mnl_cb_t cb,
             void *userdata);

/* -ENOENT when our table of 'family' does not exist. */
int nft_get_table(Nft *nft, uint16_t family, TableInfo *ret);
int nft_get_counter(Nft *nft, uint16_t family, uint64_t *ret_packets, uint64_t *ret_bytes);

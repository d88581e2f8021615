/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <linux/netlink.h>
#include <stddef.h>
#include <stdint.h>

/* A growable buffer holding one nftables netlink batch (BEGIN, messages, END). The kernel
 * applies it as one transaction: all messages or none. */
typedef struct Batch {
        uint8_t *buf;
        size_t size;
        size_t allocated;
        uint32_t seq_first; /* sequence number of the BEGIN message */
        uint32_t seq;       /* the next sequence number */
        size_t n_acks;      /* messages that asked for an ACK: the last one, if any */
        size_t last;        /* offset of the last message opened, SIZE_MAX before the first */
} Batch;

/* Room reserved for one message; builders must keep a message below this. */
#define BATCH_MESSAGE_MAX (64u * 1024)

void batch_init(Batch *b, uint32_t seq);
void batch_done(Batch *b);

/* Appends a header for an nf_tables message, or NULL on ENOMEM. The caller fills the payload,
 * then calls batch_close(). */
struct nlmsghdr *batch_open(Batch *b, uint16_t type, uint16_t family, uint16_t flags);
void batch_close(Batch *b, struct nlmsghdr *nlh);

int batch_begin(Batch *b);
/* Closes the batch, and asks for an ACK on its last message only. */
int batch_end(Batch *b);

/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <libmnl/libmnl.h>
#include <libnftnl/common.h>
#include <stdlib.h>
#include <string.h>

#include "batch.h"

void batch_init(Batch *b, uint32_t seq) {
        *b = (Batch){.seq_first = seq, .seq = seq, .last = SIZE_MAX};
}

void batch_done(Batch *b) {
        if (!b)
                return;
        free(b->buf);
        batch_init(b, 0);
}

static void *batch_reserve(Batch *b) {
        if (b->allocated - b->size < BATCH_MESSAGE_MAX) {
                size_t n = b->allocated ? b->allocated * 2 : 4 * BATCH_MESSAGE_MAX;
                uint8_t *p = realloc(b->buf, n);

                if (!p)
                        return NULL;
                b->buf = p;
                b->allocated = n;
        }
        /* libnftnl appends attributes without bounds checks: start from zeroed room. */
        memset(b->buf + b->size, 0, BATCH_MESSAGE_MAX);
        return b->buf + b->size;
}

struct nlmsghdr *batch_open(Batch *b, uint16_t type, uint16_t family, uint16_t flags) {
        void *p = batch_reserve(b);

        if (!p)
                return NULL;
        b->last = b->size;
        return nftnl_nlmsg_build_hdr(p, type, family, flags, b->seq++);
}

void batch_close(Batch *b, struct nlmsghdr *nlh) {
        b->size += MNL_ALIGN(nlh->nlmsg_len);
}

/* BEGIN and END: a message each, without an ACK. */
static int batch_delimit(Batch *b, struct nlmsghdr *(*put)(char *buf, uint32_t seq)) {
        void *p = batch_reserve(b);

        if (!p)
                return -ENOMEM;
        batch_close(b, put(p, b->seq++));
        return 0;
}

int batch_begin(Batch *b) {
        return batch_delimit(b, nftnl_batch_begin);
}

/* The kernel reports every message it refuses, ACK or not, and a commit that fails against
 * BEGIN. An ACK on each message would cost an answer and a recv() per message (about a hundred
 * per Apply); the ACK of the last one says that the kernel read the batch to its end. */
int batch_end(Batch *b) {
        if (b->last != SIZE_MAX) {
                ((struct nlmsghdr *)(b->buf + b->last))->nlmsg_flags |= NLM_F_ACK;
                b->n_acks = 1;
        }
        return batch_delimit(b, nftnl_batch_end);
}

/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <linux/netlink.h>
#include <stdbool.h>
#include <stddef.h>

#include "batch.h"

/* A table described as sorted text lines, one per chain, rule, set, element and object, so
 * that what the builder would write and what the kernel holds can be compared line by line.
 * Pure: no sockets. */
typedef struct Lines {
        char **v;
        size_t n, allocated;
} Lines;

void lines_done(Lines *l);

/* Adds the lines for one NEW* nf_tables message about our table (others are ignored). */
int lines_add_message(Lines *l, const struct nlmsghdr *nlh);
/* Adds the lines for every message of a batch. */
int lines_add_batch(Lines *l, const Batch *b);
void lines_sort(Lines *l);

/* Sorted inputs. missing: in want only; extra: in have only. */
int lines_diff(const Lines *want, const Lines *have, Lines *missing, Lines *extra);

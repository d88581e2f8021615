/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <net/if.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lan.h"

/* The keys of nftables interval sets: tunnel names and their prefixes, address prefixes.
 * Pure: no sockets, no logging. */

/* [lo, end) over big-endian byte strings of up to IFNAMSIZ bytes (an interface name; an IPv6
 * address fits too); open: no end, up to the largest key. */
typedef struct Interval {
        uint8_t lo[IFNAMSIZ];
        uint8_t end[IFNAMSIZ];
        bool open;
} Interval;

/* Sorts and merges overlapping and touching intervals of 'len'-byte keys, since the kernel
 * rejects overlaps; returns how many are left. */
size_t intervals_merge(Interval *v, size_t n, size_t len);

/* "wg0" is the single key "wg0\0...\0"; "tun*" is every key that starts with "tun". */
void tunnel_interval(const char *name, Interval *ret);

/* The addresses of a prefix: 4-byte keys for IPv4, 16-byte ones for IPv6. */
void prefix_interval(const LanPrefix *p, Interval *ret);

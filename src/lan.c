/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "lan.h"
#include "macro.h"

/* The address as bytes in network order: a constant initializer on any host. */
#define V4(a, b, c, d, len)                                                                        \
        {                                                                                          \
                .family = AF_INET, .prefixlen = len, .addr.in6.s6_addr = { a, b, c, d }            \
        }
#define V6(len, ...)                                                                               \
        {                                                                                          \
                .family = AF_INET6, .prefixlen = len, .addr.in6.s6_addr = { __VA_ARGS__ }          \
        }

const LanPrefix lan_private_ranges[] = {
        V4(10, 0, 0, 0, 8),     V4(172, 16, 0, 0, 12), V4(192, 168, 0, 0, 16),
        V4(169, 254, 0, 0, 16), V6(7, 0xfc), /* fc00::/7 */
        V6(10, 0xfe, 0x80)                   /* fe80::/10 */
};
const size_t lan_private_ranges_count = ELEMENTSOF(lan_private_ranges);
/* netwatch.c keeps the parts of one prefix on its stack. */
_Static_assert(ELEMENTSOF(lan_private_ranges) <= 8, "lan_prefix_private_parts() returns at most 8");

const LanPrefix lan_link_multicast[] = {
        V4(224, 0, 0, 0, 24), V6(16, 0xff, 0x02), /* ff02::/16 */
};
const size_t lan_link_multicast_count = ELEMENTSOF(lan_link_multicast);

const LanPrefix onlink_fixed[] = {
        V4(255, 255, 255, 255, 32),
        V6(10, 0xfe, 0x80),                         /* fe80::/10 */
        V6(128, 0xff, 0x02, [15] = 1),              /* ff02::1 */
        V6(128, 0xff, 0x02, [15] = 2),              /* ff02::2 */
        V6(128, 0xff, 0x02, [13] = 1, [15] = 2),    /* ff02::1:2 */
        V6(104, 0xff, 0x02, [11] = 1, [12] = 0xff), /* ff02::1:ff00:0/104 */
};
const size_t onlink_fixed_count = ELEMENTSOF(onlink_fixed);

static size_t addr_len(int family) {
        return family == AF_INET ? 4 : 16;
}

static void clear_host_bits(LanPrefix *p) {
        uint8_t *bytes = (uint8_t *)&p->addr;

        for (size_t i = 0; i < addr_len(p->family); i++) {
                unsigned bits = p->prefixlen > i * 8 ? p->prefixlen - i * 8 : 0;

                bytes[i] &= bits >= 8 ? 0xff : (uint8_t)(0xff00 >> bits);
        }
}

bool lan_prefix_from_address(int family, const void *addr, unsigned prefixlen, LanPrefix *ret) {
        LanPrefix p = {.family = (uint8_t)family, .prefixlen = (uint8_t)prefixlen};

        if ((family != AF_INET && family != AF_INET6) || prefixlen > addr_len(family) * 8)
                return false;
        memcpy(&p.addr, addr, addr_len(family));
        clear_host_bits(&p);
        *ret = p;
        return true;
}

bool lan_prefix_contains(const LanPrefix *outer, const LanPrefix *inner) {
        LanPrefix x = *inner;

        if (outer->family != inner->family || outer->prefixlen > inner->prefixlen)
                return false;
        x.prefixlen = outer->prefixlen;
        clear_host_bits(&x);
        return memcmp(&x.addr, &outer->addr, addr_len(outer->family)) == 0;
}

bool lan_prefix_is_onlink(const LanPrefix *p) {
        return p->prefixlen >=
               (p->family == AF_INET ? ONLINK_PREFIXLEN_MIN4 : ONLINK_PREFIXLEN_MIN6);
}

size_t lan_prefix_private_parts(const LanPrefix *p, LanPrefix *ret) {
        size_t n = 0;

        for (size_t i = 0; i < lan_private_ranges_count; i++) {
                const LanPrefix *range = &lan_private_ranges[i];

                /* Two prefixes either nest or are disjoint: the intersection is the longer. */
                if (lan_prefix_contains(range, p))
                        ret[n++] = *p;
                else if (lan_prefix_contains(p, range))
                        ret[n++] = *range;
        }
        return n;
}

int lan_prefix_compare(const LanPrefix *a, const LanPrefix *b) {
        int r;

        if (a->family != b->family)
                return a->family < b->family ? -1 : 1;
        r = memcmp(&a->addr, &b->addr, addr_len(a->family));
        if (r != 0)
                return r;
        return (int)a->prefixlen - (int)b->prefixlen;
}

static int compare_qsort(const void *a, const void *b) {
        return lan_prefix_compare(a, b);
}

size_t lan_prefixes_normalize(LanPrefix *v, size_t n) {
        size_t m = 0;

        if (n == 0)
                return 0;
        qsort(v, n, sizeof(LanPrefix), compare_qsort);
        for (size_t i = 1; i < n; i++)
                if (lan_prefix_compare(&v[m], &v[i]) != 0)
                        v[++m] = v[i];
        return m + 1;
}

bool lan_prefixes_equal(const LanPrefix *a, size_t na, const LanPrefix *b, size_t nb) {
        if (na != nb)
                return false;
        for (size_t i = 0; i < na; i++)
                if (lan_prefix_compare(&a[i], &b[i]) != 0)
                        return false;
        return true;
}

int lan_prefix_format(const LanPrefix *p, char *buf, size_t size) {
        char a[INET6_ADDRSTRLEN];

        if (!inet_ntop(p->family, &p->addr, a, sizeof(a)))
                return -errno;
        if ((size_t)snprintf(buf, size, "%s/%u", a, p->prefixlen) >= size)
                return -ENOBUFS;
        return 0;
}

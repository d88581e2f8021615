/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <stdlib.h>
#include <string.h>

#include "intervals.h"
#include "settings.h"

/* Adds one; false when it wraps (the interval then runs to the end of the key space). */
static bool key_increment(uint8_t *k, size_t len) {
        for (size_t i = len; i-- > 0;)
                if (++k[i] != 0)
                        return true;
        return false;
}

static int interval_compare(const void *a, const void *b, void *len) {
        return memcmp(((const Interval *)a)->lo, ((const Interval *)b)->lo, *(const size_t *)len);
}

size_t intervals_merge(Interval *v, size_t n, size_t len) {
        size_t m = 0;

        if (n == 0)
                return 0;
        qsort_r(v, n, sizeof(Interval), interval_compare, &len);
        for (size_t i = 1; i < n; i++) {
                Interval *cur = &v[m];

                if (cur->open || memcmp(v[i].lo, cur->end, len) <= 0) {
                        if (cur->open)
                                continue;
                        if (v[i].open || memcmp(v[i].end, cur->end, len) > 0) {
                                memcpy(cur->end, v[i].end, len);
                                cur->open = v[i].open;
                        }
                } else
                        v[++m] = v[i];
        }
        return m + 1;
}

void tunnel_interval(const char *name, Interval *ret) {
        size_t n = strlen(name);

        *ret = (Interval){};
        if (tunnel_name_is_pattern(name))
                n--;
        memcpy(ret->lo, name, n);
        memcpy(ret->end, ret->lo, IFNAMSIZ);
        if (tunnel_name_is_pattern(name))
                ret->open = !key_increment(ret->end, n);
        else
                ret->open = !key_increment(ret->end, IFNAMSIZ);
}

void prefix_interval(const LanPrefix *p, Interval *ret) {
        size_t len = p->family == AF_INET ? 4 : 16;
        unsigned plen = p->prefixlen > len * 8 ? len * 8 : p->prefixlen;

        *ret = (Interval){};
        memcpy(ret->lo, &p->addr, len);
        for (size_t i = 0; i < len; i++) {
                unsigned bits = plen > i * 8 ? plen - i * 8 : 0;
                uint8_t mask = bits >= 8 ? 0xff : (uint8_t)(0xff00 >> bits);

                ret->lo[i] &= mask;
                ret->end[i] = ret->lo[i] | (uint8_t)~mask;
        }
        ret->open = !key_increment(ret->end, len);
}

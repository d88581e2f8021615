/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What counts as LAN and as on-link: from addresses, cut to the private ranges. No root. */
#include <arpa/inet.h>
#include <sys/socket.h>

#include "lan.h"
#include "macro.h"
#include "test.h"

/* "10.1.2.3/4" as an interface address would be configured, through lan_prefix_from_address. */
static LanPrefix address(const char *text) {
        char a[INET6_ADDRSTRLEN];
        unsigned len;
        uint8_t bytes[16];
        int family;
        LanPrefix p;

        ASSERT(sscanf(text, "%45[^/]/%u", a, &len) == 2);
        family = strchr(a, ':') ? AF_INET6 : AF_INET;
        ASSERT(inet_pton(family, a, bytes) == 1);
        ASSERT(lan_prefix_from_address(family, bytes, len, &p));
        return p;
}

static const char *format(const LanPrefix *p) {
        static char buf[4][INET6_ADDRSTRLEN + 4];
        static unsigned i;
        char *b = buf[i++ % 4];

        ASSERT_EQ(lan_prefix_format(p, b, sizeof(buf[0])), 0);
        return b;
}

/* The private parts of an address's prefix, comma-separated. */
static const char *parts(const char *text) {
        static char out[256];
        LanPrefix p = address(text), v[8];
        size_t n = lan_prefix_private_parts(&p, v);

        out[0] = '\0';
        for (size_t i = 0; i < n; i++)
                snprintf(out + strlen(out), sizeof(out) - strlen(out), "%s%s", i ? "," : "",
                         format(&v[i]));
        return out;
}

TEST(subnet_of_address) {
        LanPrefix p = address("192.168.1.5/24");
        uint8_t any[16] = {};

        ASSERT_STREQ(format(&p), "192.168.1.0/24");
        p = address("fd00:200::2/64");
        ASSERT_STREQ(format(&p), "fd00:200::/64");
        ASSERT(!lan_prefix_from_address(AF_INET, any, 33, &p));
        ASSERT(!lan_prefix_from_address(AF_INET6, any, 129, &p));
        ASSERT(!lan_prefix_from_address(AF_UNIX, any, 8, &p));
}

TEST(private_parts) {
        /* Inside a private range: as it is. */
        ASSERT_STREQ(parts("192.168.1.5/24"), "192.168.1.0/24");
        ASSERT_STREQ(parts("10.200.0.2/24"), "10.200.0.0/24");
        ASSERT_STREQ(parts("169.254.7.1/16"), "169.254.0.0/16");
        ASSERT_STREQ(parts("fd00:200::2/64"), "fd00:200::/64");
        ASSERT_STREQ(parts("fe80::1/64"), "fe80::/64");
        /* Public: nothing, whoever handed it out (a lease, an RA's autoconfigured /64). */
        ASSERT_STREQ(parts("8.8.8.10/24"), "");
        ASSERT_STREQ(parts("203.0.113.10/24"), "");
        ASSERT_STREQ(parts("100.64.0.2/10"), ""); /* shared address space is not a LAN */
        ASSERT_STREQ(parts("2001:4860:4860::10/64"), "");
        /* Wider than a private range: cut to it, every range it covers. */
        ASSERT_STREQ(parts("10.1.2.3/4"), "10.0.0.0/8");
        ASSERT_STREQ(parts("172.20.1.2/8"), "172.16.0.0/12");
        ASSERT_STREQ(parts("168.0.0.1/5"), "172.16.0.0/12,169.254.0.0/16");
        ASSERT_STREQ(parts("0.0.0.0/0"), "10.0.0.0/8,172.16.0.0/12,192.168.0.0/16,169.254.0.0/16");
        ASSERT_STREQ(parts("fd00:1::2/6"), "fc00::/7,fe80::/10");
        /* Straddling: 172.0.0.0/11 holds none of 172.16/12. */
        ASSERT_STREQ(parts("172.0.0.1/12"), "");
}

TEST(onlink) {
        LanPrefix p = address("10.200.0.2/24");

        ASSERT(lan_prefix_is_onlink(&p));
        p = address("10.1.2.3/16");
        ASSERT(lan_prefix_is_onlink(&p));
        p = address("8.0.0.1/8"); /* would make the DHCP ports reach 8/8 */
        ASSERT(!lan_prefix_is_onlink(&p));
        p = address("2001:db8:b::100/48");
        ASSERT(lan_prefix_is_onlink(&p));
        p = address("2001:db8::100/32");
        ASSERT(!lan_prefix_is_onlink(&p));
}

TEST(normalize) {
        LanPrefix v[] = {address("fd00::1/64"), address("10.0.0.1/8"), address("10.0.0.9/8"),
                         address("10.0.0.1/16")};
        size_t n = lan_prefixes_normalize(v, ELEMENTSOF(v));

        /* IPv4 first, by address then length; duplicates gone. */
        ASSERT_EQ(n, 3);
        ASSERT_STREQ(format(&v[0]), "10.0.0.0/8");
        ASSERT_STREQ(format(&v[1]), "10.0.0.0/16");
        ASSERT_STREQ(format(&v[2]), "fd00::/64");
        ASSERT(lan_prefixes_equal(v, n, v, n));
        ASSERT(!lan_prefixes_equal(v, n, v, n - 1));
}

TEST(fixed_sets) {
        /* Every fixed range is a prefix with its host bits clear. */
        for (size_t i = 0; i < lan_private_ranges_count; i++) {
                LanPrefix p = lan_private_ranges[i], q;

                ASSERT(lan_prefix_from_address(p.family, &p.addr, p.prefixlen, &q));
                ASSERT_EQ(lan_prefix_compare(&p, &q), 0);
        }
        ASSERT_STREQ(format(&onlink_fixed[0]), "255.255.255.255/32");
        ASSERT_STREQ(format(&onlink_fixed[4]), "ff02::1:2/128");
        ASSERT_STREQ(format(&onlink_fixed[5]), "ff02::1:ff00:0/104");
        ASSERT_STREQ(format(&lan_link_multicast[0]), "224.0.0.0/24");
}

int main(void) {
        RUN(subnet_of_address);
        RUN(private_parts);
        RUN(onlink);
        RUN(normalize);
        RUN(fixed_sets);
        return 0;
}

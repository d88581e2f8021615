/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <arpa/inet.h>
#include <sys/socket.h>

#include "settings-text.h"
#include "settings.h"
#include "test.h"

static Error error;

TEST(defaults) {
        Settings s;

        settings_init(&s);
        ASSERT(!s.enabled && !s.persistent && !s.allow_lan && s.allow_dhcp);
        ASSERT_EQ(s.endpoint_mark, 0);
        ASSERT_EQ(s.n_tunnels, 0);
        ASSERT_EQ(s.n_endpoints, 0);
        settings_init_block_all(&s);
        ASSERT(s.enabled && !s.allow_dhcp && !s.allow_lan);
}

TEST(tunnel_names) {
        static const char *const good[] = {"wg0",         "tun*",           "a", "123456789012345",
                                           "wg-home_1.x", "12345678901234*"};
        static const char *const bad[] = {
                "",   "*",    "1234567890123456", "wg 0", "wg/0", "wg:0", "t*n", "**", ".",
                "..", "wg\t", "caf\xc3\xa9"};

        for (size_t i = 0; i < sizeof(good) / sizeof(*good); i++)
                ASSERT_EQ(tunnel_name_validate(good[i], &error), 0);
        for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
                error = (Error){};
                ASSERT_EQ(tunnel_name_validate(bad[i], &error), -EINVAL);
                ASSERT(strncmp(error.message, "Tunnels: ", 9) == 0);
        }
        /* The message names the value. */
        tunnel_name_validate("wg/0", &error);
        ASSERT(strstr(error.message, "\"wg/0\""));
        ASSERT(tunnel_name_is_pattern("tun*"));
        ASSERT(!tunnel_name_is_pattern("tun"));
}

TEST(tunnel_list) {
        _cleanup_(settings_done) Settings s;
        char name[8];

        settings_init(&s);
        ASSERT_EQ(settings_add_tunnel(&s, "wg0", &error), 0);
        ASSERT_EQ(settings_add_tunnel(&s, "wg0", &error), 0); /* duplicates collapse */
        ASSERT_EQ(s.n_tunnels, 1);
        ASSERT_EQ(settings_add_tunnel(&s, "bad/", &error), -EINVAL);
        ASSERT_EQ(s.n_tunnels, 1);
        for (int i = 1; i < TUNNELS_MAX; i++) {
                snprintf(name, sizeof(name), "t%d", i);
                ASSERT_EQ(settings_add_tunnel(&s, name, &error), 0);
        }
        ASSERT_EQ(s.n_tunnels, TUNNELS_MAX);
        ASSERT_EQ(settings_add_tunnel(&s, "one-too-many", &error), -E2BIG);
        ASSERT(strstr(error.message, "32"));
        ASSERT_EQ(settings_remove_tunnel(&s, "t5"), 0);
        ASSERT_EQ(settings_remove_tunnel(&s, "t5"), -ENOENT);
        ASSERT_EQ(s.n_tunnels, TUNNELS_MAX - 1);
        ASSERT_STREQ(s.tunnels[0], "wg0");
        ASSERT_STREQ(s.tunnels[5], "t6"); /* order kept */
}

TEST(endpoint_parse_good) {
        Endpoint e;
        char buf[80];

        ASSERT_EQ(endpoint_parse("198.51.100.7", 51820, "udp", &e, &error), 0);
        ASSERT_EQ(e.family, AF_INET);
        ASSERT_EQ(e.protocol, IPPROTO_UDP);
        ASSERT_EQ(e.port, 51820);
        ASSERT_EQ(ntohl(e.addr.in.s_addr), 0xc6336407);
        ASSERT_EQ(endpoint_format(&e, buf, sizeof(buf)), 0);
        ASSERT_STREQ(buf, "198.51.100.7 51820 udp");

        ASSERT_EQ(endpoint_parse("2001:DB8:0::1", 443, "tcp", &e, &error), 0);
        ASSERT_EQ(e.family, AF_INET6);
        ASSERT_EQ(e.protocol, IPPROTO_TCP);
        ASSERT_EQ(endpoint_format(&e, buf, sizeof(buf)), 0);
        ASSERT_STREQ(buf, "2001:db8::1 443 tcp"); /* canonical form */

        ASSERT_EQ(endpoint_parse("10.0.0.1", 1, "udp", &e, &error), 0);
        ASSERT_EQ(endpoint_parse("10.0.0.1", 65535, "udp", &e, &error), 0);
}

TEST(endpoint_parse_bad) {
        static const struct {
                const char *addr;
                unsigned port;
                const char *proto;
                const char *needle;
        } bad[] = {
                {"vpn.example.com", 51820, "udp", "vpn.example.com"}, /* no host names */
                {"10.1", 51820, "udp", "10.1"},                       /* no shorthand */
                {"256.1.1.1", 51820, "udp", "256.1.1.1"},
                {" 10.0.0.1", 51820, "udp", "10.0.0.1"},
                {"10.0.0.1/32", 51820, "udp", "10.0.0.1/32"},
                {"fe80::1%eth0", 51820, "udp", "fe80::1%eth0"},
                {"", 51820, "udp", "\"\""},
                {"0.0.0.0", 51820, "udp", "0.0.0.0"},
                {"::", 51820, "udp", "\"::\""},
                {"224.0.0.1", 51820, "udp", "224.0.0.1"},
                {"ff02::1", 51820, "udp", "ff02::1"},
                {"::ffff:10.0.0.1", 51820, "udp", "::ffff:10.0.0.1"},
                {"10.0.0.1", 0, "udp", "port 0"},
                {"10.0.0.1", 65536, "udp", "port 65536"},
                {"10.0.0.1", 51820, "UDP", "UDP"},
                {"10.0.0.1", 51820, "icmp", "icmp"},
                {"10.0.0.1", 51820, "", "\"\""},
        };
        Endpoint e;

        for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
                error = (Error){};
                ASSERT_EQ(endpoint_parse(bad[i].addr, bad[i].port, bad[i].proto, &e, &error),
                          -EINVAL);
                if (!strstr(error.message, bad[i].needle)) {
                        fprintf(stderr, "message \"%s\" does not name \"%s\"\n", error.message,
                                bad[i].needle);
                        ASSERT(false);
                }
                ASSERT(strncmp(error.message, "Endpoints: ", 11) == 0);
        }
}

TEST(endpoint_set) {
        _cleanup_(settings_done) Settings s;
        Endpoint a, b, c;

        settings_init(&s);
        ASSERT_EQ(endpoint_parse("10.0.0.2", 51820, "udp", &a, &error), 0);
        ASSERT_EQ(endpoint_parse("10.0.0.1", 51820, "udp", &b, &error), 0);
        ASSERT_EQ(endpoint_parse("10.0.0.1", 51820, "tcp", &c, &error), 0);
        ASSERT_EQ(settings_add_endpoint(&s, &a, &error), 0);
        ASSERT_EQ(settings_add_endpoint(&s, &b, &error), 0);
        ASSERT_EQ(settings_add_endpoint(&s, &c, &error), 0);
        ASSERT_EQ(settings_add_endpoint(&s, &b, &error), 0); /* duplicates collapse */
        ASSERT_EQ(s.n_endpoints, 3);
        for (size_t i = 1; i < s.n_endpoints; i++)
                ASSERT(endpoint_compare(&s.endpoints[i - 1], &s.endpoints[i]) < 0);
        ASSERT_EQ(settings_remove_endpoint(&s, &b), 0);
        ASSERT_EQ(settings_remove_endpoint(&s, &b), -ENOENT);
        ASSERT_EQ(s.n_endpoints, 2);
}

TEST(endpoint_limit) {
        _cleanup_(settings_done) Settings s;
        Endpoint e;

        settings_init(&s);
        ASSERT_EQ(endpoint_parse("10.0.0.1", 1, "udp", &e, &error), 0);
        for (uint32_t i = 0; i < ENDPOINTS_MAX; i++) {
                e.addr.in.s_addr = htonl(0x0a000000 + i / 2);
                e.protocol = i % 2 ? IPPROTO_TCP : IPPROTO_UDP;
                ASSERT_EQ(settings_add_endpoint(&s, &e, &error), 0);
        }
        ASSERT_EQ(s.n_endpoints, ENDPOINTS_MAX);
        ASSERT_EQ(settings_add_endpoint(&s, &e, &error), 0); /* a duplicate still collapses */
        e.port = 2;
        ASSERT_EQ(settings_add_endpoint(&s, &e, &error), -E2BIG);
        ASSERT_EQ(s.n_endpoints, ENDPOINTS_MAX);
}

/* Copies and grows interleaved: every size from 0 to 40, each copy grown by one. */
TEST(endpoint_copy_then_add) {
        _cleanup_(settings_done) Settings s;
        Endpoint e;

        settings_init(&s);
        ASSERT_EQ(endpoint_parse("10.0.0.1", 1, "udp", &e, &error), 0);
        for (uint16_t n = 1; n <= 40; n++) {
                _cleanup_(settings_done) Settings c = {};

                ASSERT_EQ(settings_copy(&s, &c), 0);
                e.port = n;
                ASSERT_EQ(settings_add_endpoint(&c, &e, &error), 0);
                ASSERT_EQ(c.n_endpoints, s.n_endpoints + 1);
                e.port = (uint16_t)(1000 + n);
                ASSERT_EQ(settings_append_endpoint(&c, &e), 0);
                ASSERT_EQ(settings_normalize_endpoints(&c, &error), 0);
                ASSERT_EQ(c.n_endpoints, s.n_endpoints + 2);
                e.port = n;
                ASSERT_EQ(settings_add_endpoint(&s, &e, &error), 0);
        }
}

static const char full_text[] = "version=1\n"
                                "Enabled=true\n"
                                "Persistent=true\n"
                                "AllowLan=true\n"
                                "AllowDhcp=false\n"
                                "EndpointMark=4660\n"
                                "Tunnel=wg0\n"
                                "Tunnel=tun*\n"
                                "Endpoint=198.51.100.7 51820 udp\n"
                                "Endpoint=2001:db8::1 443 tcp\n"
                                "end\n";

TEST(text_round_trip) {
        _cleanup_(settings_done) Settings s, t;
        _cleanup_(freep) char *text = NULL;

        ASSERT_EQ(settings_from_text(full_text, strlen(full_text), &s, NULL, &error), 1);
        ASSERT(s.enabled && s.persistent && s.allow_lan && !s.allow_dhcp);
        ASSERT_EQ(s.endpoint_mark, 4660);
        ASSERT_EQ(s.n_tunnels, 2);
        ASSERT_STREQ(s.tunnels[1], "tun*");
        ASSERT_EQ(s.n_endpoints, 2);

        ASSERT_EQ(settings_to_text(&s, &text), 0);
        ASSERT_EQ(settings_from_text(text, strlen(text), &t, NULL, &error), 2);
        ASSERT(settings_equal(&s, &t));
        ASSERT(strstr(text, "Endpoint=2001:db8::1 443 tcp\n"));
}

/* Per-application rules: lists of paths kept in order and unique, Scope; in the text form only
 * when used, so that a file without them is as it always was. */
TEST(cgroup_lists) {
        _cleanup_(settings_done) Settings s, t, copy;
        _cleanup_(freep) char *text = NULL, *plain = NULL;

        settings_init(&s);
        ASSERT_EQ(settings_to_text(&s, &plain), 0);
        ASSERT(!strstr(plain, "Scope") && !strstr(plain, "Cgroup"));

        ASSERT_EQ(cgroup_list_add(&s.exempt_cgroups, "ExemptCgroups", "b.slice/x.scope", &error),
                  0);
        ASSERT_EQ(cgroup_list_add(&s.exempt_cgroups, "ExemptCgroups", "a.slice", &error), 0);
        ASSERT_EQ(cgroup_list_add(&s.exempt_cgroups, "ExemptCgroups", "a.slice", &error), 0);
        ASSERT_EQ(s.exempt_cgroups.n, 2);
        ASSERT_STREQ(s.exempt_cgroups.paths[0], "b.slice/x.scope");
        error = (Error){};
        ASSERT_EQ(cgroup_list_add(&s.scoped_cgroups, "ScopedCgroups", "/a", &error), -EINVAL);
        ASSERT(strncmp(error.message, "ScopedCgroups: ", 15) == 0);
        ASSERT_EQ(cgroup_list_add(&s.scoped_cgroups, "ScopedCgroups", "torrent.slice", &error), 0);
        s.scoped = true;
        ASSERT_EQ(cgroup_list_remove(&s.exempt_cgroups, "c.slice"), -ENOENT);

        ASSERT_EQ(settings_copy(&s, &copy), 0);
        ASSERT(settings_equal(&s, &copy));
        ASSERT_EQ(settings_to_text(&s, &text), 0);
        ASSERT(strstr(text, "Scope=cgroups\n"));
        ASSERT(strstr(text, "ExemptCgroup=b.slice/x.scope\nExemptCgroup=a.slice\n"));
        ASSERT(strstr(text, "ScopedCgroup=torrent.slice\n"));
        ASSERT_EQ(settings_from_text(text, strlen(text), &t, NULL, &error), 2);
        ASSERT(settings_equal(&s, &t));

        ASSERT_EQ(cgroup_list_remove(&copy.exempt_cgroups, "b.slice/x.scope"), 0);
        ASSERT(!settings_equal(&s, &copy));
        copy.scoped = false;
        ASSERT_EQ(scope_from_string("Scope", "cgroups", &copy.scoped, &error), 0);
        ASSERT(copy.scoped);
        ASSERT_EQ(scope_from_string("Scope", "System", &copy.scoped, &error), -EINVAL);
        ASSERT(strstr(error.message, "\"System\""));

        cgroup_list_clear(&t.scoped_cgroups);
        for (int i = 0; i < CGROUPS_MAX; i++) {
                char path[32];

                snprintf(path, sizeof(path), "c%d.slice", i);
                ASSERT_EQ(cgroup_list_add(&t.scoped_cgroups, "ScopedCgroups", path, &error), 0);
        }
        ASSERT_EQ(cgroup_list_add(&t.scoped_cgroups, "ScopedCgroups", "one-more.slice", &error),
                  -E2BIG);
        ASSERT_EQ(error.kind, ERROR_LIMIT);
}

TEST(text_defaults_and_comments) {
        _cleanup_(settings_done) Settings s;
        static const char text[] = "# comment\n\nversion=1\nEnabled=true\nend"; /* no final \n */

        ASSERT_EQ(settings_from_text(text, strlen(text), &s, NULL, &error), 1);
        ASSERT(s.enabled && !s.persistent && s.allow_dhcp);
}

TEST(text_corrupt) {
        static const char *const bad[] = {
                "",
                "version=1\n",                                     /* truncated: no end */
                "version=1\nEnabled=true\n",                       /* truncated */
                "Enabled=true\nend\n",                             /* no version */
                "version=3\nend\n",                                /* unknown version */
                "version=1\nEnabled=yes\nend\n",                   /* bad bool */
                "version=1\nEnabled=true\nEnabled=true\nend\n",    /* repeated */
                "version=1\nColour=blue\nend\n",                   /* unknown key */
                "version=1\nEndpointMark=-1\nend\n",               /* bad number */
                "version=1\nEndpointMark=4294967296\nend\n",       /* out of range */
                "version=1\nEndpoint=10.0.0.1 0 udp\nend\n",       /* bad port */
                "version=1\nEndpoint=10.0.0.1 51820\nend\n",       /* missing field */
                "version=1\nEndpoint=10.0.0.1 51820 udp x\nend\n", /* extra field */
                "version=1\nTunnel=*\nend\n",                      /* bad tunnel */
                "version=1\nend\nEnabled=true\n",                  /* text after end */
                "version=1\nnonsense\nend\n",
        };
        Settings s;

        for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
                error = (Error){};
                if (settings_from_text(bad[i], strlen(bad[i]), &s, NULL, &error) != -EBADMSG) {
                        fprintf(stderr, "accepted corrupt text #%zu\n", i);
                        ASSERT(false);
                }
                ASSERT(error_is_set(&error));
        }
        /* A NUL byte anywhere is corruption too. */
        ASSERT_EQ(settings_from_text("version=1\n\0end\n", 15, &s, NULL, &error), -EBADMSG);
}

int main(void) {
        RUN(defaults);
        RUN(tunnel_names);
        RUN(tunnel_list);
        RUN(endpoint_parse_good);
        RUN(endpoint_parse_bad);
        RUN(endpoint_set);
        RUN(endpoint_limit);
        RUN(endpoint_copy_then_add);
        RUN(text_round_trip);
        RUN(cgroup_lists);
        RUN(text_defaults_and_comments);
        RUN(text_corrupt);
        return 0;
}

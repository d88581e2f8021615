/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A D-Bus fuzzer for killswitchd: random and mutated calls to every method and property of
 * org.killswitchd.KillSwitch1 (and to the standard interfaces on its object), with right and
 * wrong signatures, random variants, nested containers, huge strings and file descriptors.
 *
 * It is a client of the contract only (docs/dbus-api.md); the settings keys, their types and
 * limits come from the daemon's table (src/contract), and so does the verdict on random strings
 * given as tunnel names or addresses. It knows, for every call it makes, what the answer must
 * be:
 *
 *   - a call that is malformed or invalid must get an error reply;
 *   - a valid read (Get, GetAll, GetSettings, Introspect, Ping, Verify) must get a return;
 *   - with --mode=invalid (the default) no valid change is ever sent, so the daemon's table and
 *     state file must come out unchanged (the calling script compares them);
 *   - with --mode=mixed valid changes are mixed in (their outcome is not checked, only that the
 *     daemon answers);
 *   - with --mode=denied (run as a user other than root, without polkit) valid changes are sent
 *     too and each must be refused with AccessDenied.
 *
 * Every --check-every calls, and at the end, the daemon must answer a Get, and its bus name
 * must still belong to the same connection (a crash and restart would change it).
 *
 * Reproducible: call N of a run draws its randomness from (seed, N) only, so
 * "--seed S --first N --calls 1" replays that one call. The exit status is 0 when every answer
 * was as required, 1 otherwise (each violation is printed with its call number).
 *
 * --apply-loop N: instead of fuzzing, N valid Apply calls cycling through varied settings, each
 * of which must succeed (the soak test's driver). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-bus.h>
#include <time.h>
#include <unistd.h>

#include "contract/cgroup-path.h"
#include "contract/endpoint.h"
#include "contract/settings-keys.h"
#include "contract/tunnel-name.h"
#include "killswitchd/bus.h"
#include "macro.h"

#define PROPS "org.freedesktop.DBus.Properties"

#define USEC_PER_SEC 1000000ULL

/* ---- randomness: splitmix64, one stream per call ---- */

static uint64_t rng;

static uint64_t rnd(void) {
        uint64_t z = (rng += 0x9E3779B97F4A7C15ULL);

        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
        return z ^ (z >> 31);
}

static uint32_t below(uint32_t n) {
        return n ? (uint32_t)(rnd() % n) : 0;
}

static bool chance(unsigned percent) {
        return below(100) < percent;
}

static void rng_for_call(uint64_t seed, uint64_t index) {
        rng = seed ^ (index * 0xD1B54A32D192ED03ULL);
        (void)rnd();
}

/* ---- the contract ---- */

typedef struct Member {
        const char *name;
        const char *signature;
        bool changes; /* a valid call changes the settings (or needs authorization) */
} Member;

static const Member members[] = {
        {"Enable", "", true},           {"Disable", "", true},
        {"Apply", "a{sv}", true},       {"GetSettings", "", false},
        {"AddEndpoint", "sqs", true},   {"RemoveEndpoint", "sqs", true},
        {"AddTunnel", "s", true},       {"RemoveTunnel", "s", true},
        {"AddExemptCgroup", "s", true}, {"RemoveExemptCgroup", "s", true},
        {"Verify", "", true}, /* reads, but needs the same authorization as a change */
};

typedef struct Property {
        const char *name;
        const char *signature;
        bool writable;
} Property;

static const Property properties[] = {
        {"Enabled", "b", false},        {"Persistent", "b", true},
        {"Tunnels", "as", false},       {"Endpoints", "a(sqs)", false},
        {"EndpointMark", "u", false},   {"AllowLan", "b", true},
        {"AllowDhcp", "b", true},       {"EndpointAnyUser", "b", true},
        {"TunnelUp", "b", false},       {"ActiveTunnels", "as", false},
        {"LanSubnets", "as", false},    {"BlockedPackets", "t", false},
        {"Protection", "s", false},     {"Version", "s", false},
        {"Scope", "s", false},          {"ExemptCgroups", "as", false},
        {"ScopedCgroups", "as", false}, {"PresentCgroups", "as", false},
};

/* ---- what the fuzzer does ---- */

typedef enum Mode { MODE_INVALID, MODE_MIXED, MODE_DENIED } Mode;

typedef enum Expect {
        EXPECT_ERROR,  /* malformed or invalid: an error reply */
        EXPECT_RETURN, /* a valid read: a method return */
        EXPECT_ANY,    /* either (a valid change in mixed mode; unspecified corners) */
        EXPECT_DENIED, /* a valid change by an unauthorized caller: AccessDenied */
} Expect;

typedef struct Call {
        uint64_t index;
        Expect expect;
        char what[120];
} Call;

static struct {
        Mode mode;
        uint64_t seed, first, calls, check_every, window, apply_loop, max_violations;
        const char *address;
        unsigned max_string;
        uint64_t timeout;
        bool verbose, ascii;
} arg = {
        .mode = MODE_INVALID,
        .calls = 100000,
        .check_every = 1000,
        .window = 32,
        .max_string = 4u << 20,
        .timeout = 5 * USEC_PER_SEC,
        .max_violations = 20,
};

static struct {
        uint64_t sent, replies, returns, errors, skipped, violations, checks;
        uint64_t per_member[ELEMENTSOF(members) + 8];
} stats;

static uint64_t outstanding;

/* Error names seen, counted (a short list is enough: sd-bus and the daemon use few). */
static struct {
        char name[96];
        uint64_t n;
} error_names[48];

static void count_error(const char *name) {
        size_t i;

        for (i = 0; i < ELEMENTSOF(error_names) && error_names[i].name[0]; i++)
                if (strcmp(error_names[i].name, name) == 0) {
                        error_names[i].n++;
                        return;
                }
        if (i < ELEMENTSOF(error_names)) {
                snprintf(error_names[i].name, sizeof(error_names[i].name), "%s", name);
                error_names[i].n = 1;
        }
}

/* Valid settings in force when the run started: invalid-mode calls must not hit them (removing
 * an endpoint that is there would be a valid change). */
static char **start_tunnels;
static size_t n_start_tunnels;

/* ---- random values ---- */

static const char ident_first[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_";
static const char ident_rest[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_0123456789";

static size_t random_length(void) {
        switch (below(20)) {
        case 0: return 0;
        case 1: return 16 + below(48);
        case 2: return 256 + below(4096);
        case 3:
                if (chance(10))
                        return 65536 + below(arg.max_string);
                return 4096 + below(60000);
        default: return 1 + below(15);
        }
}

/* Appends one valid UTF-8 character (no NUL, no surrogates, no noncharacters) to p. */
static size_t put_char(char *p) {
        uint32_t c;

        if (arg.ascii) {
                *p = (char)(0x20 + below(0x5F));
                return 1;
        }
        switch (below(8)) {
        case 0: c = 0x80 + below(0x780); break;
        case 1: c = 0x800 + below(0xD000 - 0x800); break;
        case 2: c = 0x10000 + below(0xF0000); break;
        case 3: c = 1 + below(31); break;
        default: c = 0x20 + below(0x5F); break;
        }
        if ((c >= 0xFDD0 && c <= 0xFDEF) || (c & 0xFFFE) == 0xFFFE)
                c = 'x';
        if (c < 0x80) {
                p[0] = (char)c;
                return 1;
        }
        if (c < 0x800) {
                p[0] = (char)(0xC0 | c >> 6);
                p[1] = (char)(0x80 | (c & 0x3F));
                return 2;
        }
        if (c < 0x10000) {
                p[0] = (char)(0xE0 | c >> 12);
                p[1] = (char)(0x80 | (c >> 6 & 0x3F));
                p[2] = (char)(0x80 | (c & 0x3F));
                return 3;
        }
        p[0] = (char)(0xF0 | c >> 18);
        p[1] = (char)(0x80 | (c >> 12 & 0x3F));
        p[2] = (char)(0x80 | (c >> 6 & 0x3F));
        p[3] = (char)(0x80 | (c & 0x3F));
        return 4;
}

/* A random string of about n bytes: ASCII, UTF-8, or one byte repeated. Caller frees. */
static char *random_string_n(size_t n) {
        char *s = malloc(n + 5), *p = s;

        if (!s)
                abort();
        if (n > 4096 && chance(50)) {
                memset(s, 'a' + below(26), n);
                s[n] = 0;
                return s;
        }
        while ((size_t)(p - s) < n)
                p += put_char(p);
        *p = 0;
        return s;
}

static char *random_string(void) {
        return random_string_n(random_length());
}

static void random_identifier(char *buf, size_t max) {
        size_t n = 1 + below(chance(5) ? (uint32_t)max - 1 : 24);

        buf[0] = ident_first[below(sizeof(ident_first) - 1)];
        for (size_t i = 1; i < n; i++)
                buf[i] = ident_rest[below(sizeof(ident_rest) - 1)];
        buf[n] = 0;
}

static void random_path(char *buf, size_t size) {
        size_t n = 0, parts = below(5);

        if (parts == 0) {
                snprintf(buf, size, "/");
                return;
        }
        for (size_t i = 0; i < parts && n + 40 < size; i++) {
                char id[33];

                random_identifier(id, 32);
                n += (size_t)snprintf(buf + n, size - n, "/%s", id);
        }
}

static void random_interface(char *buf, size_t size) {
        size_t n = 0, parts = 2 + below(3);

        for (size_t i = 0; i < parts && n + 40 < size; i++) {
                char id[33];

                random_identifier(id, 32);
                for (char *c = id; *c; c++)
                        if (*c >= '0' && *c <= '9')
                                *c = 'x'; /* no element may start with a digit: keep it simple */
                n += (size_t)snprintf(buf + n, size - n, "%s%s", i ? "." : "", id);
        }
}

/* ---- random types and values ---- */

static const char basic_types[] = "ybnqiuxtdsogh";

/* Appends a random complete type to sig (at most room bytes), nesting at most depth. */
static void random_type(char *sig, size_t *n, size_t room, unsigned depth) {
        unsigned k = depth > 0 && *n + 8 < room ? below(10) : 0;

        switch (k) {
        case 6: /* array */
                sig[(*n)++] = 'a';
                random_type(sig, n, room, depth - 1);
                return;
        case 7: /* dict */
                sig[(*n)++] = 'a';
                sig[(*n)++] = '{';
                sig[(*n)++] = basic_types[below(sizeof(basic_types) - 1)];
                random_type(sig, n, room - 1, depth - 1);
                sig[(*n)++] = '}';
                return;
        case 8: { /* struct */
                unsigned fields = 1 + below(4);

                sig[(*n)++] = '(';
                for (unsigned i = 0; i < fields && *n + 4 < room; i++)
                        random_type(sig, n, room - 1, depth - 1);
                sig[(*n)++] = ')';
                return;
        }
        case 9: sig[(*n)++] = 'v'; return;
        default: sig[(*n)++] = basic_types[below(sizeof(basic_types) - 1)]; return;
        }
}

static void random_signature(char *sig, size_t size, unsigned max_types) {
        size_t n = 0;
        unsigned types = below(max_types + 1);
        unsigned depth = chance(3) ? 20 + below(12) : below(5);

        for (unsigned i = 0; i < types && n + 16 < size; i++)
                random_type(sig, &n, size - 1, depth);
        sig[n] = 0;
}

/* Length of the complete type at s. */
static size_t type_length(const char *s) {
        if (*s == 'a')
                return 1 + type_length(s + 1);
        if (*s == '(' || *s == '{') {
                char close = *s == '(' ? ')' : '}';
                size_t n = 1;

                while (s[n] != close)
                        n += type_length(s + n);
                return n + 1;
        }
        return 1;
}

static int null_fd = -1;
/* Bytes a message may still grow by: deep random types would otherwise multiply without end. */
static size_t budget;
#define BUDGET_PER_MESSAGE (8u << 20)

/* File descriptors a message may still carry: the bus daemon disconnects a client that sends
 * more than its limit (16 on a system bus). */
static unsigned fds_left;
#define FDS_PER_MESSAGE 8

static void spend(size_t n) {
        budget = n < budget ? budget - n : 0;
}
static int append_value(sd_bus_message *m, const char *type, unsigned depth);

static int append_basic(sd_bus_message *m, char t) {
        union {
                uint8_t y;
                int b;
                int16_t n;
                uint16_t q;
                int32_t i;
                uint32_t u;
                int64_t x;
                uint64_t t;
                double d;
        } v;
        char buf[600];
        _cleanup_(freep) char *s = NULL;

        spend(8);
        switch (t) {
        case 'y': v.y = (uint8_t)rnd(); return sd_bus_message_append_basic(m, t, &v.y);
        case 'b': v.b = chance(50); return sd_bus_message_append_basic(m, t, &v.b);
        case 'n': v.n = (int16_t)rnd(); return sd_bus_message_append_basic(m, t, &v.n);
        case 'q':
                v.q = chance(20) ? (uint16_t)below(3) : (uint16_t)rnd();
                return sd_bus_message_append_basic(m, t, &v.q);
        case 'i': v.i = (int32_t)rnd(); return sd_bus_message_append_basic(m, t, &v.i);
        case 'u': v.u = (uint32_t)rnd(); return sd_bus_message_append_basic(m, t, &v.u);
        case 'x': v.x = (int64_t)rnd(); return sd_bus_message_append_basic(m, t, &v.x);
        case 't': v.t = rnd(); return sd_bus_message_append_basic(m, t, &v.t);
        case 'd': {
                uint64_t bits = rnd();

                memcpy(&v.d, &bits, sizeof(v.d));
                return sd_bus_message_append_basic(m, t, &v.d);
        }
        case 's': {
                size_t n = random_length();

                s = random_string_n(n < budget ? n : budget / 2);
                spend(strlen(s) + 8);
                return sd_bus_message_append_basic(m, t, s);
        }
        case 'o':
                random_path(buf, sizeof(buf));
                spend(strlen(buf));
                return sd_bus_message_append_basic(m, t, buf);
        case 'g':
                random_signature(buf, 255, 4);
                spend(strlen(buf));
                return sd_bus_message_append_basic(m, t, buf);
        case 'h':
                if (fds_left == 0)
                        return -E2BIG;
                fds_left--;
                return sd_bus_message_append_basic(m, t, &null_fd);
        default: return -EINVAL;
        }
}

static int append_value(sd_bus_message *m, const char *type, unsigned depth) {
        char contents[256];
        size_t len;
        int r;

        if (depth > 64)
                return -E2BIG;
        switch (type[0]) {
        case 'v': {
                size_t n = 0;

                random_type(contents, &n, 64, chance(5) ? 16 : 3);
                contents[n] = 0;
                r = sd_bus_message_open_container(m, 'v', contents);
                if (r < 0)
                        return r;
                r = append_value(m, contents, depth + 1);
                if (r < 0)
                        return r;
                return sd_bus_message_close_container(m);
        }
        case 'a': {
                unsigned items = chance(90) ? below(5) : chance(90) ? below(200) : below(5000);

                if (depth > 3 && chance(50))
                        items = 0;

                len = type_length(type + 1);
                if (len >= sizeof(contents))
                        return -E2BIG;
                memcpy(contents, type + 1, len);
                contents[len] = 0;
                r = sd_bus_message_open_container(m, 'a', contents);
                if (r < 0)
                        return r;
                for (unsigned i = 0; i < items && budget > 0; i++) {
                        if (fds_left == 0 && strchr(contents, 'h'))
                                break;
                        spend(8); /* length, alignment */
                        r = append_value(m, contents, depth + 1);
                        if (r < 0)
                                return r;
                }
                return sd_bus_message_close_container(m);
        }
        case '(':
        case '{': {
                len = type_length(type);
                if (len - 2 >= sizeof(contents))
                        return -E2BIG;
                memcpy(contents, type + 1, len - 2);
                contents[len - 2] = 0;
                r = sd_bus_message_open_container(m, type[0] == '(' ? 'r' : 'e', contents);
                if (r < 0)
                        return r;
                for (const char *p = contents; *p; p += type_length(p)) {
                        r = append_value(m, p, depth + 1);
                        if (r < 0)
                                return r;
                }
                return sd_bus_message_close_container(m);
        }
        default: return append_basic(m, type[0]);
        }
}

/* Random arguments whose signature is not 'avoid'. */
static int append_random_args(sd_bus_message *m, const char *avoid) {
        char sig[256];

        for (;;) {
                random_signature(sig, sizeof(sig), 4);
                if (strcmp(sig, avoid) != 0)
                        break;
        }
        for (const char *p = sig; *p; p += type_length(p)) {
                int r = append_value(m, p, 0);

                if (r < 0)
                        return r;
        }
        return 0;
}

/* ---- settings values: valid and invalid ---- */

static void valid_tunnel_name(char *buf) {
        size_t n = 1 + below(14);

        for (size_t i = 0; i < n; i++)
                buf[i] = ident_rest[below(sizeof(ident_rest) - 1)];
        buf[n] = 0;
        if (chance(20) && n < 15) {
                buf[n] = '*';
                buf[n + 1] = 0;
        }
}

/* A tunnel name the contract refuses, whatever else is in the call. Caller frees. */
static char *invalid_tunnel_name(void) {
        static const char *const fixed[] = {"",      "*",     ".",    "..",         "a/b",
                                            "wg:0",  "wg 0",  "wg\t", "w*g",        "**",
                                            "tun\n", "\177a", "é",    "wg0\xc2\xa0"};
        char buf[64];
        size_t n;

        switch (below(4)) {
        case 0: return strdup(fixed[below(ELEMENTSOF(fixed))]);
        case 1: /* too long */
                if (chance(10))
                        return random_string_n(16 + below(arg.max_string));
                n = 16 + below(40);
                for (size_t i = 0; i < n; i++)
                        buf[i] = ident_rest[below(sizeof(ident_rest) - 1)];
                buf[n] = 0;
                return strdup(buf);
        default: { /* a forbidden byte somewhere in a name of valid length */
                static const char bad[] = "/: \t\n\r\x01\x1f\x7f*";
                size_t pos;

                valid_tunnel_name(buf);
                n = strlen(buf);
                if (buf[n - 1] == '*')
                        buf[--n] = 0;
                if (n < 2) {
                        buf[n++] = 'x';
                        buf[n] = 0;
                }
                pos = below((uint32_t)n - 1); /* never the last byte: a '*' there is valid */
                buf[pos] = bad[below(sizeof(bad) - 1)];
                if (buf[pos] == '*' && pos == n - 1)
                        buf[pos] = '/';
                return strdup(buf);
        }
        }
}

/* A cgroup path the contract takes: one to three components. */
static void valid_cgroup_path(char *buf, size_t size) {
        switch (below(3)) {
        case 0: snprintf(buf, size, "fuzz-%u.slice", below(8)); break;
        case 1: snprintf(buf, size, "fuzz.slice/app-%u.scope", below(8)); break;
        default: snprintf(buf, size, "user.slice/fuzz-%u.slice/app-%u.scope", below(4), below(4));
        }
}

/* One the contract refuses. Caller frees. */
static char *invalid_cgroup_path(void) {
        /* Invalid UTF-8 cannot travel over D-Bus: the unit tests hold the rule to it. */
        static const char *const fixed[] = {
                "",       "/user.slice", "a.slice/", "a//b",
                "a/../b", "./a",         "..",       ".",
                "a/b\nc", "a/\tb",       "a/\x7f",   "a/b/c/d/e/f/g/h/i/j/k/l/m/n/o/p/q"};

        if (chance(20))
                return random_string_n(201 + below(arg.max_string));
        return strdup(fixed[below(ELEMENTSOF(fixed))]);
}

static void valid_address(char *buf, size_t size) {
        if (chance(60))
                snprintf(buf, size, "10.%u.%u.%u", below(256), below(256), 1 + below(254));
        else
                snprintf(buf, size, "2001:db8:%x:%x::%x", below(65536), below(65536),
                         1 + below(65535));
}

static const char *valid_protocol(void) {
        return chance(50) ? "udp" : "tcp";
}

/* An endpoint the contract refuses: (address, port, protocol). Address freed by the caller. */
static void invalid_endpoint(char **addr, uint16_t *port, const char **proto) {
        static const char *const addrs[] = {
                "",
                "0.0.0.0",
                "255.255.255.255",
                "224.0.0.1",
                "239.1.2.3",
                "::",
                "ff02::1",
                "ff05::2",
                "::ffff:10.0.0.1",
                "10.1",
                "10.0.0.256",
                "vpn.example.com",
                "1.2.3.4%eth0",
                "fe80::1%lo",
                " 10.0.0.1",
                "10.0.0.1 ",
                "10.0.0.1/24",
                "2001:db8::1/64",
                "[2001:db8::1]",
                "10.0.0.1:51820",
                "localhost",
                "::1::2",
                "1.2.3.4.5",
                "0x0a000001",
                "１０.0.0.1",
        };
        static const char *const protos[] = {"",     "UDP", "Tcp",     "icmp",     "udp ", " tcp",
                                             "sctp", "u",   "udplite", "tcp\nudp", "17"};
        char buf[64];

        valid_address(buf, sizeof(buf));
        *addr = strdup(buf);
        *port = (uint16_t)(1 + below(65535));
        *proto = valid_protocol();
        switch (below(3)) {
        case 0:
                free(*addr);
                if (chance(85))
                        *addr = strdup(addrs[below(ELEMENTSOF(addrs))]);
                else {
                        /* 'x' is no hex digit: never an IPv4 or IPv6 literal. */
                        _cleanup_(freep) char *s = random_string();

                        if (asprintf(addr, "x%s", s) < 0)
                                abort();
                }
                break;
        case 1: *port = 0; break;
        default: *proto = protos[below(ELEMENTSOF(protos))]; break;
        }
}

static int append_endpoints(sd_bus_message *m, unsigned n_valid, bool with_invalid,
                            uint16_t port_base) {
        unsigned bad_at = with_invalid ? below(n_valid + 1) : (unsigned)-1;
        int r;

        r = sd_bus_message_open_container(m, 'a', "(sqs)");
        for (unsigned i = 0; r >= 0 && i <= n_valid; i++) {
                if (i == bad_at) {
                        char *addr;
                        uint16_t port;
                        const char *proto;

                        invalid_endpoint(&addr, &port, &proto);
                        r = sd_bus_message_append(m, "(sqs)", addr, port, proto);
                        free(addr);
                } else if (i < n_valid) {
                        char buf[64];

                        if (port_base) /* many distinct ones, cheaply */
                                snprintf(buf, sizeof(buf), "10.%u.%u.%u", 64 + i / 65536,
                                         i / 256 % 256, i % 256);
                        else
                                valid_address(buf, sizeof(buf));
                        r = sd_bus_message_append(m, "(sqs)", buf,
                                                  port_base ? port_base
                                                            : (uint16_t)(1 + below(65535)),
                                                  port_base ? "udp" : valid_protocol());
                }
        }
        return r < 0 ? r : sd_bus_message_close_container(m);
}

static int append_tunnels(sd_bus_message *m, unsigned n_valid, bool with_invalid) {
        unsigned bad_at = with_invalid ? below(n_valid + 1) : (unsigned)-1;
        int r;

        r = sd_bus_message_open_container(m, 'a', "s");
        for (unsigned i = 0; r >= 0 && i <= n_valid; i++) {
                if (i == bad_at) {
                        char *name = invalid_tunnel_name();

                        r = sd_bus_message_append(m, "s", name);
                        free(name);
                } else if (i < n_valid) {
                        char name[20];

                        if (with_invalid || n_valid <= 32)
                                valid_tunnel_name(name);
                        else /* distinct, to pass the limit */
                                snprintf(name, sizeof(name), "t%u", i);
                        r = sd_bus_message_append(m, "s", name);
                }
        }
        return r < 0 ? r : sd_bus_message_close_container(m);
}

/* A valid value of setting key k. */
static int append_valid_setting(sd_bus_message *m, unsigned k) {
        int r = sd_bus_message_open_container(m, 'v', setting_keys[k].signature);

        if (r < 0)
                return r;
        switch (k) {
        case SETTING_SCOPE:
                r = sd_bus_message_append(m, "s", chance(80) ? "system" : "cgroups");
                break;
        case SETTING_EXEMPT_CGROUPS:
        case SETTING_SCOPED_CGROUPS: {
                unsigned n = below(4);

                r = sd_bus_message_open_container(m, 'a', "s");
                for (unsigned i = 0; r >= 0 && i < n; i++) {
                        char path[64];

                        valid_cgroup_path(path, sizeof(path));
                        r = sd_bus_message_append(m, "s", path);
                }
                if (r >= 0)
                        r = sd_bus_message_close_container(m);
                break;
        }
        case SETTING_TUNNELS: r = append_tunnels(m, below(5), false); break;
        case SETTING_ENDPOINTS: r = append_endpoints(m, below(6), false, 0); break;
        case SETTING_ENDPOINT_MARK:
                r = sd_bus_message_append(m, "u", chance(50) ? 0 : (uint32_t)rnd());
                break;
        default: r = sd_bus_message_append(m, "b", chance(50)); break;
        }
        return r < 0 ? r : sd_bus_message_close_container(m);
}

#define ALL_KEYS ((1u << _SETTING_KEY_MAX) - 1)

/* Apply's dictionary: valid entries around one that makes the whole call invalid (unless
 * 'valid'). Sets *what to the kind of damage. */
static int append_apply_dict(sd_bus_message *m, bool valid, const char **what) {
        unsigned used = 0, n = below(4), bad_at = valid ? (unsigned)-1 : below(n + 1);
        int r;

        *what = valid ? "valid" : "?";
        r = sd_bus_message_open_container(m, 'a', "{sv}");
        for (unsigned i = 0; r >= 0 && i <= n; i++) {
                if (i == bad_at) {
                        unsigned k = below(ELEMENTSOF(setting_keys));

                        r = sd_bus_message_open_container(m, 'e', "sv");
                        if (r < 0)
                                return r;
                        switch (below(7)) {
                        case 0: { /* an unknown key */
                                static const char *const near[] = {
                                        "enabled",  "ENABLED",  "Enabled ",  "",     "Tunnel",
                                        "Endpoint", "AllowLAN", "allowdhcp", "Mark", "Version"};
                                _cleanup_(freep) char *s = NULL;

                                *what = "unknown key";
                                if (chance(50))
                                        r = sd_bus_message_append(m, "s",
                                                                  near[below(ELEMENTSOF(near))]);
                                else {
                                        s = random_string();
                                        if (setting_key_from_name(s) >= 0)
                                                s[0] = '#';
                                        r = sd_bus_message_append(m, "s", s);
                                }
                                if (r >= 0)
                                        r = append_value(m, "v", 0);
                                break;
                        }
                        case 1: { /* a known key, a wrong type */
                                char sig[64];
                                size_t len = 0;

                                *what = "wrong type";
                                do {
                                        len = 0;
                                        random_type(sig, &len, 60, chance(20) ? 6 : 2);
                                        sig[len] = 0;
                                } while (strcmp(sig, setting_keys[k].signature) == 0);
                                r = sd_bus_message_append(m, "s", setting_keys[k].name);
                                if (r >= 0)
                                        r = sd_bus_message_open_container(m, 'v', sig);
                                if (r >= 0)
                                        r = append_value(m, sig, 1);
                                if (r >= 0)
                                        r = sd_bus_message_close_container(m);
                                break;
                        }
                        case 2: /* a bad tunnel name */
                        case 3:
                                *what = "bad tunnel";
                                r = sd_bus_message_append(m, "s", "Tunnels");
                                if (r >= 0)
                                        r = sd_bus_message_open_container(m, 'v', "as");
                                if (r >= 0)
                                        r = append_tunnels(m, below(5), true);
                                if (r >= 0)
                                        r = sd_bus_message_close_container(m);
                                break;
                        case 4: /* a bad endpoint */
                        case 5:
                                *what = "bad endpoint";
                                r = sd_bus_message_append(m, "s", "Endpoints");
                                if (r >= 0)
                                        r = sd_bus_message_open_container(m, 'v', "a(sqs)");
                                if (r >= 0)
                                        r = append_endpoints(m, below(6), true, 0);
                                if (r >= 0)
                                        r = sd_bus_message_close_container(m);
                                break;
                        default: /* over a limit */
                                if (chance(97)) {
                                        *what = "too many tunnels";
                                        r = sd_bus_message_append(m, "s", "Tunnels");
                                        if (r >= 0)
                                                r = sd_bus_message_open_container(m, 'v', "as");
                                        if (r >= 0)
                                                r = append_tunnels(m, TUNNELS_MAX + 1 + below(100),
                                                                   false);
                                } else {
                                        *what = "too many endpoints";
                                        r = sd_bus_message_append(m, "s", "Endpoints");
                                        if (r >= 0)
                                                r = sd_bus_message_open_container(m, 'v', "a(sqs)");
                                        if (r >= 0)
                                                r = append_endpoints(m, ENDPOINTS_MAX + 1, false,
                                                                     7);
                                }
                                if (r >= 0)
                                        r = sd_bus_message_close_container(m);
                                break;
                        }
                        if (r >= 0)
                                r = sd_bus_message_close_container(m);
                        continue;
                }
                if (i < n) {
                        unsigned k;

                        /* Distinct keys: a key given twice is its own kind of damage. */
                        do
                                k = below(ELEMENTSOF(setting_keys));
                        while ((used & 1u << k) && used != ALL_KEYS);
                        if (used == ALL_KEYS)
                                continue;
                        used |= 1u << k;
                        r = sd_bus_message_open_container(m, 'e', "sv");
                        if (r >= 0)
                                r = sd_bus_message_append(m, "s", setting_keys[k].name);
                        if (r >= 0)
                                r = append_valid_setting(m, k);
                        if (r >= 0)
                                r = sd_bus_message_close_container(m);
                }
        }
        if (r >= 0 && !valid && bad_at == (unsigned)-1)
                return -EINVAL;
        /* Sometimes the same key twice, instead of (or besides) the damage. */
        if (r >= 0 && !valid && used && chance(10)) {
                unsigned k;

                do
                        k = below(ELEMENTSOF(setting_keys));
                while (!(used & 1u << k));
                r = sd_bus_message_open_container(m, 'e', "sv");
                if (r >= 0)
                        r = sd_bus_message_append(m, "s", setting_keys[k].name);
                if (r >= 0)
                        r = append_valid_setting(m, k);
                if (r >= 0)
                        r = sd_bus_message_close_container(m);
        }
        return r < 0 ? r : sd_bus_message_close_container(m);
}

/* ---- building one call ---- */

static bool is_start_tunnel(const char *name) {
        for (size_t i = 0; i < n_start_tunnels; i++)
                if (strcmp(start_tunnels[i], name) == 0)
                        return true;
        return false;
}

/* The expectation for a valid change. */
static Expect valid_change(void) {
        return arg.mode == MODE_DENIED ? EXPECT_DENIED : EXPECT_ANY;
}

/* Whether valid changes may be sent now. */
static bool changes_allowed(void) {
        return arg.mode != MODE_INVALID;
}

/* A call on our interface to member i: right signature with bad (or, when allowed, good)
 * values, or a wrong signature. */
static int build_member_call(sd_bus *bus, size_t i, sd_bus_message **ret, Call *c) {
        const Member *mb = &members[i];
        sd_bus_message *m = NULL;
        bool wrong = chance(30);
        int r;

        r = sd_bus_message_new_method_call(bus, &m, KS_BUS_NAME, KS_BUS_PATH, KS_BUS_INTERFACE,
                                           mb->name);
        if (r < 0)
                return r;
        *ret = m;
        stats.per_member[i]++;
        if (wrong) {
                c->expect = EXPECT_ERROR;
                snprintf(c->what, sizeof(c->what), "%s with a wrong signature", mb->name);
                return append_random_args(m, mb->signature);
        }

        if (strcmp(mb->name, "Apply") == 0) {
                bool valid = changes_allowed() && chance(30);
                const char *what;

                r = append_apply_dict(m, valid, &what);
                c->expect = valid ? valid_change() : EXPECT_ERROR;
                snprintf(c->what, sizeof(c->what), "Apply (%s)", what);
                return r;
        }
        if (strcmp(mb->name, "AddEndpoint") == 0 || strcmp(mb->name, "RemoveEndpoint") == 0) {
                bool add = mb->name[0] == 'A';
                char *addr, buf[64];
                uint16_t port;
                const char *proto;

                if (changes_allowed() && chance(30)) {
                        valid_address(buf, sizeof(buf));
                        r = sd_bus_message_append(m, "sqs", buf, (uint16_t)(1 + below(65535)),
                                                  valid_protocol());
                        c->expect = valid_change();
                        snprintf(c->what, sizeof(c->what), "%s (valid)", mb->name);
                        return r;
                }
                if (!add && chance(30)) {
                        /* Valid but absent: NotFound. The run's valid endpoints are all in
                         * 10/8 and 2001:db8::/32 (and the test's own are not in 192.0.2/24). */
                        snprintf(buf, sizeof(buf), "192.0.2.%u", 1 + below(254));
                        r = sd_bus_message_append(m, "sqs", buf, (uint16_t)(1 + below(65535)),
                                                  valid_protocol());
                        c->expect = arg.mode == MODE_MIXED ? EXPECT_ANY : EXPECT_ERROR;
                        snprintf(c->what, sizeof(c->what), "RemoveEndpoint (absent)");
                        return r;
                }
                if (chance(10)) {
                        _cleanup_(freep) char *s = random_string();
                        uint16_t q = (uint16_t)below(65536);
                        const char *pr = valid_protocol();
                        Endpoint e;

                        /* Judged by the contract library, as a random tunnel name is (below). */
                        if (endpoint_parse(s, q, pr, &e, NULL) < 0) {
                                c->expect = EXPECT_ERROR;
                                snprintf(c->what, sizeof(c->what), "%s (random, refused)",
                                         mb->name);
                                return sd_bus_message_append(m, "sqs", s, q, pr);
                        }
                }
                invalid_endpoint(&addr, &port, &proto);
                r = sd_bus_message_append(m, "sqs", addr, port, proto);
                free(addr);
                c->expect = EXPECT_ERROR;
                snprintf(c->what, sizeof(c->what), "%s (invalid endpoint)", mb->name);
                return r;
        }
        if (strcmp(mb->name, "AddTunnel") == 0 || strcmp(mb->name, "RemoveTunnel") == 0) {
                bool add = mb->name[0] == 'A';
                char buf[20];
                char *name;

                if (changes_allowed() && chance(30)) {
                        valid_tunnel_name(buf);
                        c->expect = valid_change();
                        snprintf(c->what, sizeof(c->what), "%s (valid)", mb->name);
                        return sd_bus_message_append(m, "s", buf);
                }
                if (!add && chance(30)) {
                        do
                                valid_tunnel_name(buf);
                        while (is_start_tunnel(buf));
                        c->expect = arg.mode == MODE_MIXED ? EXPECT_ANY : EXPECT_ERROR;
                        snprintf(c->what, sizeof(c->what), "RemoveTunnel (absent)");
                        return sd_bus_message_append(m, "s", buf);
                }
                if (chance(10)) {
                        _cleanup_(freep) char *s = random_string();

                        /* Whether any string at all is a tunnel name, the generators cannot
                         * tell: the contract library's rule, the daemon's own, judges it. That
                         * tests the way there (UTF-8, lengths, message to settings), not the
                         * rule, which the fixed cases of invalid_tunnel_name() and the unit
                         * tests hold to the contract's words. A name the rule accepts would be
                         * a valid change: not sent here. */
                        if (tunnel_name_validate(s, NULL) < 0) {
                                c->expect = EXPECT_ERROR;
                                snprintf(c->what, sizeof(c->what), "%s (random, refused)",
                                         mb->name);
                                return sd_bus_message_append(m, "s", s);
                        }
                }
                name = invalid_tunnel_name();
                r = sd_bus_message_append(m, "s", name);
                free(name);
                c->expect = EXPECT_ERROR;
                snprintf(c->what, sizeof(c->what), "%s (invalid name)", mb->name);
                return r;
        }
        if (strcmp(mb->name, "AddExemptCgroup") == 0 ||
            strcmp(mb->name, "RemoveExemptCgroup") == 0) {
                char buf[64];
                char *path;

                if (changes_allowed() && chance(30) && mb->name[0] == 'A') {
                        valid_cgroup_path(buf, sizeof(buf));
                        c->expect = valid_change();
                        snprintf(c->what, sizeof(c->what), "%s (valid)", mb->name);
                        return sd_bus_message_append(m, "s", buf);
                }
                if (chance(10)) {
                        _cleanup_(freep) char *rs = random_string();

                        /* As for tunnel names: the contract library's rule judges a random
                         * string; one it accepts would be a change, and is not sent. */
                        if (cgroup_path_validate("ExemptCgroups", rs, NULL) < 0) {
                                c->expect = EXPECT_ERROR;
                                snprintf(c->what, sizeof(c->what), "%s (random, refused)",
                                         mb->name);
                                return sd_bus_message_append(m, "s", rs);
                        }
                }
                path = invalid_cgroup_path();
                r = sd_bus_message_append(m, "s", path);
                free(path);
                c->expect = EXPECT_ERROR;
                snprintf(c->what, sizeof(c->what), "%s (invalid path)", mb->name);
                return r;
        }
        if (strcmp(mb->name, "GetSettings") == 0) {
                c->expect = EXPECT_RETURN;
                snprintf(c->what, sizeof(c->what), "GetSettings");
                return 0;
        }
        /* Enable, Disable, Verify with no arguments: valid. */
        if (strcmp(mb->name, "Verify") == 0 && (arg.mode == MODE_DENIED || chance(2))) {
                c->expect = arg.mode == MODE_DENIED ? EXPECT_DENIED : EXPECT_RETURN;
                snprintf(c->what, sizeof(c->what), "Verify");
                return 0;
        }
        if (strcmp(mb->name, "Verify") != 0 && changes_allowed()) {
                c->expect = valid_change();
                snprintf(c->what, sizeof(c->what), "%s", mb->name);
                return 0;
        }
        c->expect = EXPECT_ERROR;
        snprintf(c->what, sizeof(c->what), "%s with a wrong signature", mb->name);
        return append_random_args(m, mb->signature);
}

/* org.freedesktop.DBus.Properties on our object. */
static int build_property_call(sd_bus *bus, sd_bus_message **ret, Call *c) {
        static const char *const verbs[] = {"Get", "Set", "GetAll"};
        static const char *const signatures[] = {"ss", "ssv", "s"};
        const char *verb = verbs[below(3)];
        size_t v = verb[0] == 'S' ? 1 : verb[3] == 'A' ? 2 : 0;
        const Property *p = &properties[below(ELEMENTSOF(properties))];
        char iface[300], prop[300];
        bool our_iface = chance(85), known_prop = chance(85);
        sd_bus_message *m = NULL;
        int r;

        r = sd_bus_message_new_method_call(bus, &m, KS_BUS_NAME, KS_BUS_PATH, PROPS, verb);
        if (r < 0)
                return r;
        *ret = m;
        stats.per_member[ELEMENTSOF(members) + v]++;
        if (chance(15)) {
                const char *sig;

                snprintf(c->what, sizeof(c->what), "Properties.%s with a wrong signature", verb);
                r = append_random_args(m, signatures[v]);
                sig = sd_bus_message_get_signature(m, true);
                /* sd-bus reads the arguments it needs and ignores any after them: arguments
                 * that start right are the library's business, not the daemon's. */
                c->expect = sig && strncmp(sig, signatures[v], strlen(signatures[v])) == 0
                                    ? EXPECT_ANY
                                    : EXPECT_ERROR;
                return r;
        }
        if (our_iface)
                snprintf(iface, sizeof(iface), KS_BUS_INTERFACE);
        else
                random_interface(iface, sizeof(iface));
        if (known_prop)
                snprintf(prop, sizeof(prop), "%s", p->name);
        else {
                random_identifier(prop, 64);
                for (size_t i = 0; i < ELEMENTSOF(properties); i++)
                        if (strcmp(prop, properties[i].name) == 0)
                                prop[0] = '_';
        }

        if (v == 2) { /* GetAll */
                r = sd_bus_message_append(m, "s", iface);
                c->expect = our_iface ? EXPECT_RETURN : EXPECT_ANY;
                snprintf(c->what, sizeof(c->what), "GetAll(%.40s)", iface);
                return r;
        }
        r = sd_bus_message_append(m, "ss", iface, prop);
        if (r < 0)
                return r;
        if (v == 0) { /* Get */
                c->expect = our_iface && known_prop ? EXPECT_RETURN : EXPECT_ERROR;
                snprintf(c->what, sizeof(c->what), "Get(%.40s, %.40s)", iface, prop);
                return 0;
        }
        /* Set */
        if (our_iface && known_prop && p->writable && (changes_allowed() ? chance(50) : false)) {
                c->expect = valid_change();
                snprintf(c->what, sizeof(c->what), "Set(%.40s, b)", prop);
                r = sd_bus_message_open_container(m, 'v', "b");
                if (r >= 0)
                        r = sd_bus_message_append(m, "b", chance(50));
                return r < 0 ? r : sd_bus_message_close_container(m);
        }
        {
                char sig[64];
                size_t len;

                /* A writable property gets any type but its own; the others anything. */
                do {
                        len = 0;
                        random_type(sig, &len, 60, chance(20) ? 8 : 2);
                        sig[len] = 0;
                } while (our_iface && known_prop && p->writable && strcmp(sig, p->signature) == 0);
                c->expect = EXPECT_ERROR;
                snprintf(c->what, sizeof(c->what), "Set(%.40s, %.40s, %.20s)", iface, prop, sig);
                r = sd_bus_message_open_container(m, 'v', sig);
                if (r >= 0)
                        r = append_value(m, sig, 1);
                return r < 0 ? r : sd_bus_message_close_container(m);
        }
}

/* Everything else: unknown members, interfaces and objects; the standard interfaces. */
static int build_other_call(sd_bus *bus, sd_bus_message **ret, Call *c) {
        char path[300], iface[300], member[300];
        sd_bus_message *m = NULL;
        int r, k = (int)below(6);

        stats.per_member[ELEMENTSOF(members) + 3]++;
        switch (k) {
        case 0: /* our object and interface, a member it does not have */
                random_identifier(member, chance(5) ? 255 : 32);
                for (size_t i = 0; i < ELEMENTSOF(members); i++)
                        if (strcmp(member, members[i].name) == 0)
                                member[0] = '_';
                r = sd_bus_message_new_method_call(bus, &m, KS_BUS_NAME, KS_BUS_PATH,
                                                   KS_BUS_INTERFACE, member);
                c->expect = EXPECT_ERROR;
                snprintf(c->what, sizeof(c->what), "unknown member %.60s", member);
                break;
        case 1: /* an interface the object does not have */
                random_interface(iface, sizeof(iface));
                random_identifier(member, 32);
                r = sd_bus_message_new_method_call(bus, &m, KS_BUS_NAME, KS_BUS_PATH, iface,
                                                   member);
                c->expect = EXPECT_ERROR;
                snprintf(c->what, sizeof(c->what), "unknown interface %.60s", iface);
                break;
        case 2: /* another object, our interface and a real member */
                random_path(path, sizeof(path));
                if (strcmp(path, KS_BUS_PATH) == 0)
                        snprintf(path, sizeof(path), "%s/x", KS_BUS_PATH);
                r = sd_bus_message_new_method_call(bus, &m, KS_BUS_NAME, path, KS_BUS_INTERFACE,
                                                   members[below(ELEMENTSOF(members))].name);
                c->expect = EXPECT_ERROR;
                snprintf(c->what, sizeof(c->what), "unknown object %.60s", path);
                break;
        case 3: /* introspection, right or wrong */
                r = sd_bus_message_new_method_call(
                        bus, &m, KS_BUS_NAME, chance(80) ? KS_BUS_PATH : "/",
                        "org.freedesktop.DBus.Introspectable", "Introspect");
                c->expect = EXPECT_RETURN;
                snprintf(c->what, sizeof(c->what), "Introspect");
                if (r >= 0 && chance(30)) {
                        c->expect = EXPECT_ERROR;
                        snprintf(c->what, sizeof(c->what), "Introspect with arguments");
                        r = append_random_args(m, "");
                }
                break;
        case 4:
                r = sd_bus_message_new_method_call(bus, &m, KS_BUS_NAME, KS_BUS_PATH,
                                                   "org.freedesktop.DBus.Peer", "Ping");
                c->expect = EXPECT_RETURN;
                snprintf(c->what, sizeof(c->what), "Ping");
                if (r >= 0 && chance(30)) {
                        /* sd-bus answers Ping whatever its arguments. */
                        c->expect = EXPECT_ANY;
                        snprintf(c->what, sizeof(c->what), "Ping with arguments");
                        r = append_random_args(m, "");
                }
                break;
        default: /* ObjectManager and friends the object may or may not have */
                r = sd_bus_message_new_method_call(
                        bus, &m, KS_BUS_NAME, chance(50) ? KS_BUS_PATH : "/",
                        "org.freedesktop.DBus.ObjectManager", "GetManagedObjects");
                c->expect = EXPECT_ANY;
                snprintf(c->what, sizeof(c->what), "GetManagedObjects");
                break;
        }
        *ret = m;
        return r;
}

static int build_call(sd_bus *bus, sd_bus_message **ret, Call *c) {
        unsigned k = below(100);

        budget = BUDGET_PER_MESSAGE;
        fds_left = FDS_PER_MESSAGE;
        if (k < 60)
                return build_member_call(bus, below(ELEMENTSOF(members)), ret, c);
        if (k < 90)
                return build_property_call(bus, ret, c);
        return build_other_call(bus, ret, c);
}

/* ---- sending and checking ---- */

static const char *expect_name(Expect e) {
        switch (e) {
        case EXPECT_ERROR: return "an error";
        case EXPECT_RETURN: return "a return";
        case EXPECT_DENIED: return "AccessDenied";
        default: return "anything";
        }
}

static void violation(const Call *c, const char *got) {
        stats.violations++;
        if (stats.violations <= 50)
                fprintf(stderr,
                        "VIOLATION call %" PRIu64 " (seed %" PRIu64 "): %s: want %s, got %s\n",
                        c->index, arg.seed, c->what, expect_name(c->expect), got);
}

static int on_reply(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        Call *c = userdata;
        const sd_bus_error *e = sd_bus_message_get_error(m);

        (void)ret_error;
        outstanding--;
        stats.replies++;
        if (e) {
                char got[400];

                stats.errors++;
                count_error(e->name);
                snprintf(got, sizeof(got), "%s: %.200s", e->name, e->message ?: "");
                if (strcmp(e->name, SD_BUS_ERROR_NO_REPLY) == 0 ||
                    strcmp(e->name, SD_BUS_ERROR_TIMEOUT) == 0 ||
                    strcmp(e->name, SD_BUS_ERROR_DISCONNECTED) == 0 ||
                    strcmp(e->name, SD_BUS_ERROR_NAME_HAS_NO_OWNER) == 0 ||
                    strcmp(e->name, SD_BUS_ERROR_SERVICE_UNKNOWN) == 0 ||
                    strcmp(e->name, SD_BUS_ERROR_NO_MEMORY) == 0)
                        violation(c, got); /* no answer from the daemon itself */
                else if (c->expect == EXPECT_RETURN)
                        violation(c, got);
                else if (c->expect == EXPECT_DENIED &&
                         strcmp(e->name, SD_BUS_ERROR_ACCESS_DENIED) != 0)
                        violation(c, got);
                else if (arg.verbose)
                        fprintf(stderr, "call %" PRIu64 ": %s: %s\n", c->index, c->what, got);
        } else {
                stats.returns++;
                if (c->expect == EXPECT_ERROR || c->expect == EXPECT_DENIED)
                        violation(c, "a method return (accepted)");
                else if (arg.verbose)
                        fprintf(stderr, "call %" PRIu64 ": %s: ok\n", c->index, c->what);
        }
        return 1; /* c is freed with the call's slot */
}

static int pump(sd_bus *bus, uint64_t until) {
        while (outstanding > until) {
                int r = sd_bus_process(bus, NULL);

                if (r < 0) {
                        fprintf(stderr, "bus: %s\n", strerror(-r));
                        return r;
                }
                if (r > 0)
                        continue;
                r = sd_bus_wait(bus, 30 * USEC_PER_SEC);
                if (r < 0) {
                        fprintf(stderr, "bus wait: %s\n", strerror(-r));
                        return r;
                }
        }
        return 0;
}

static char *name_owner(sd_bus *bus) {
        sd_bus_creds *creds = NULL;
        const char *u;
        char *owner = NULL;

        if (sd_bus_get_name_creds(bus, KS_BUS_NAME, SD_BUS_CREDS_UNIQUE_NAME, &creds) >= 0 &&
            sd_bus_creds_get_unique_name(creds, &u) >= 0)
                owner = strdup(u);
        sd_bus_creds_unref(creds);
        return owner;
}

static char *first_owner;

/* The daemon answers a Get, and its name is still held by the same connection. */
static bool health_check(sd_bus *bus, uint64_t done) {
        sd_bus_error e = SD_BUS_ERROR_NULL;
        char *version = NULL, *owner;
        bool ok = true;
        int r;

        stats.checks++;
        r = sd_bus_get_property_string(bus, KS_BUS_NAME, KS_BUS_PATH, KS_BUS_INTERFACE, "Version",
                                       &e, &version);
        if (r < 0) {
                fprintf(stderr, "CHECK after %" PRIu64 " calls: Get(Version) failed: %s\n", done,
                        e.message ?: strerror(-r));
                ok = false;
        }
        owner = name_owner(bus);
        if (!owner || !first_owner || strcmp(owner, first_owner) != 0) {
                fprintf(stderr, "CHECK after %" PRIu64 " calls: %s is owned by %s, was %s\n", done,
                        KS_BUS_NAME, owner ?: "nobody", first_owner ?: "nobody");
                ok = false;
        }
        free(owner);
        free(version);
        sd_bus_error_free(&e);
        return ok;
}

/* The tunnels in force at the start (so that no "absent" RemoveTunnel hits one). */
static void read_start_settings(sd_bus *bus) {
        sd_bus_error e = SD_BUS_ERROR_NULL;
        char **l = NULL;

        if (sd_bus_get_property_strv(bus, KS_BUS_NAME, KS_BUS_PATH, KS_BUS_INTERFACE, "Tunnels", &e,
                                     &l) >= 0) {
                start_tunnels = l;
                while (l && l[n_start_tunnels])
                        n_start_tunnels++;
        }
        sd_bus_error_free(&e);
}

static double now_sec(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int run_fuzz(sd_bus *bus) {
        double t0 = now_sec(), dt;
        bool healthy = true;

        first_owner = name_owner(bus);
        if (!first_owner) {
                fprintf(stderr, "%s has no owner on this bus\n", KS_BUS_NAME);
                return 1;
        }
        read_start_settings(bus);
        for (uint64_t i = arg.first; i < arg.first + arg.calls; i++) {
                sd_bus_message *m = NULL;
                sd_bus_slot *slot = NULL;
                Call *c = calloc(1, sizeof(Call));
                int r;

                if (!c)
                        abort();
                c->index = i;
                rng_for_call(arg.seed, i);
                r = build_call(bus, &m, c);
                if (r < 0) {
                        /* sd-bus refused to build it (a limit of the format): not a call. */
                        stats.skipped++;
                        sd_bus_message_unref(m);
                        free(c);
                        continue;
                }
                if (arg.verbose)
                        fprintf(stderr, "call %" PRIu64 ": %s: signature '%.80s', ~%zu bytes\n", i,
                                c->what, sd_bus_message_get_signature(m, true),
                                (size_t)BUDGET_PER_MESSAGE - budget);
                r = sd_bus_call_async(bus, &slot, m, on_reply, c, arg.timeout);
                sd_bus_message_unref(m);
                if (r >= 0) {
                        /* The slot frees c after the reply, or when the bus goes away. */
                        (void)sd_bus_slot_set_destroy_callback(slot, free);
                        (void)sd_bus_slot_set_floating(slot, 1);
                        sd_bus_slot_unref(slot);
                        slot = NULL;
                }
                if (r < 0) {
                        if (r == -ENOBUFS || r == -EMSGSIZE || r == -EINVAL) {
                                stats.skipped++;
                                free(c);
                                continue;
                        }
                        fprintf(stderr, "call %" PRIu64 ": cannot send: %s\n", i, strerror(-r));
                        free(c);
                        return 1;
                }
                stats.sent++;
                outstanding++;
                if (pump(bus, arg.window) < 0)
                        return 1;
                if (arg.max_violations && stats.violations >= arg.max_violations) {
                        fprintf(stderr, "stopping after %" PRIu64 " violations\n",
                                stats.violations);
                        break;
                }
                if (arg.check_every && stats.sent % arg.check_every == 0) {
                        if (pump(bus, 0) < 0)
                                return 1;
                        healthy = health_check(bus, stats.sent) && healthy;
                        if (!healthy)
                                break;
                }
        }
        if (pump(bus, 0) < 0)
                return 1;
        healthy = health_check(bus, stats.sent) && healthy;
        dt = now_sec() - t0;

        printf("calls=%" PRIu64 " replies=%" PRIu64 " returns=%" PRIu64 " errors=%" PRIu64
               " skipped=%" PRIu64 " violations=%" PRIu64 " checks=%" PRIu64
               " seconds=%.1f rate=%.0f/s seed=%" PRIu64 "\n",
               stats.sent, stats.replies, stats.returns, stats.errors, stats.skipped,
               stats.violations, stats.checks, dt, dt > 0 ? (double)stats.sent / dt : 0.0,
               arg.seed);
        printf("per target:");
        for (size_t i = 0; i < ELEMENTSOF(members); i++)
                printf(" %s=%" PRIu64, members[i].name, stats.per_member[i]);
        printf(" Properties.Get=%" PRIu64 " Properties.Set=%" PRIu64 " Properties.GetAll=%" PRIu64
               " other=%" PRIu64 "\n",
               stats.per_member[ELEMENTSOF(members)], stats.per_member[ELEMENTSOF(members) + 1],
               stats.per_member[ELEMENTSOF(members) + 2],
               stats.per_member[ELEMENTSOF(members) + 3]);
        printf("error names:");
        for (size_t i = 0; i < ELEMENTSOF(error_names) && error_names[i].name[0]; i++)
                printf(" %s=%" PRIu64, error_names[i].name, error_names[i].n);
        printf("\n");
        return stats.violations == 0 && healthy && stats.replies == stats.sent ? 0 : 1;
}

/* ---- the soak driver: valid Apply calls ---- */

/* Settings number i of the cycle: tunnels, endpoints (up to 96, both families) and every flag
 * vary, and one in ten disables. */
static int append_cycle_settings(sd_bus_message *m, uint64_t i) {
        unsigned n_ep = (unsigned)(i % 7) * 16, n_tun = 1 + (unsigned)(i % 4);
        int r;

        r = sd_bus_message_open_container(m, 'a', "{sv}");
        if (r >= 0)
                r = sd_bus_message_append(m, "{sv}{sv}{sv}{sv}{sv}", "Enabled", "b",
                                          (int)(i % 10 != 9), "AllowLan", "b", (int)(i % 3 == 0),
                                          "AllowDhcp", "b", (int)(i % 2 == 0), "EndpointMark", "u",
                                          (uint32_t)(i % 5 == 0 ? 0 : 0x1000 + i % 5), "Persistent",
                                          "b", (int)(i % 4 == 0));
        if (r >= 0)
                r = sd_bus_message_open_container(m, 'e', "sv");
        if (r >= 0)
                r = sd_bus_message_append(m, "s", "Tunnels");
        if (r >= 0)
                r = sd_bus_message_open_container(m, 'v', "as");
        if (r >= 0)
                r = sd_bus_message_open_container(m, 'a', "s");
        for (unsigned k = 0; r >= 0 && k < n_tun; k++) {
                char name[16];

                snprintf(name, sizeof(name), k == 0 ? "wg%u" : "tun%u*", (unsigned)(i % 50 + k));
                r = sd_bus_message_append(m, "s", name);
        }
        for (int k = 0; r >= 0 && k < 3; k++)
                r = sd_bus_message_close_container(m);
        if (r >= 0)
                r = sd_bus_message_open_container(m, 'e', "sv");
        if (r >= 0)
                r = sd_bus_message_append(m, "s", "Endpoints");
        if (r >= 0)
                r = sd_bus_message_open_container(m, 'v', "a(sqs)");
        if (r >= 0)
                r = sd_bus_message_open_container(m, 'a', "(sqs)");
        for (unsigned k = 0; r >= 0 && k < n_ep; k++) {
                char a[64];

                if (k % 2)
                        snprintf(a, sizeof(a), "2001:db8:%x::%x", (unsigned)(i % 97), k + 1);
                else
                        snprintf(a, sizeof(a), "10.%u.%u.%u", (unsigned)(i % 97), k / 250,
                                 k % 250 + 1);
                r = sd_bus_message_append(m, "(sqs)", a, (uint16_t)(51820 + k % 3),
                                          k % 3 ? "udp" : "tcp");
        }
        for (int k = 0; r >= 0 && k < 4; k++)
                r = sd_bus_message_close_container(m);
        return r;
}

static int run_apply_loop(sd_bus *bus) {
        double t0 = now_sec(), dt;
        uint64_t failed = 0;

        for (uint64_t i = 0; i < arg.apply_loop; i++) {
                sd_bus_message *m = NULL, *reply = NULL;
                sd_bus_error e = SD_BUS_ERROR_NULL;
                int r;

                r = sd_bus_message_new_method_call(bus, &m, KS_BUS_NAME, KS_BUS_PATH,
                                                   KS_BUS_INTERFACE, "Apply");
                if (r >= 0)
                        r = append_cycle_settings(m, i);
                if (r >= 0)
                        r = sd_bus_call(bus, m, 30 * USEC_PER_SEC, &e, &reply);
                if (r < 0) {
                        failed++;
                        if (failed <= 10)
                                fprintf(stderr, "Apply %" PRIu64 " failed: %s\n", i,
                                        e.message ?: strerror(-r));
                }
                sd_bus_error_free(&e);
                sd_bus_message_unref(reply);
                sd_bus_message_unref(m);
        }
        dt = now_sec() - t0;
        printf("applies=%" PRIu64 " failed=%" PRIu64 " seconds=%.1f rate=%.0f/s\n", arg.apply_loop,
               failed, dt, dt > 0 ? (double)arg.apply_loop / dt : 0.0);
        return failed ? 1 : 0;
}

/* ---- main ---- */

static void help(void) {
        printf("Usage: ks-bus-fuzz [OPTIONS]\n\n"
               "  --address ADDR      bus address (default: the system bus, so\n"
               "                      DBUS_SYSTEM_BUS_ADDRESS is honoured)\n"
               "  --seed N            randomness (default: from the clock; printed)\n"
               "  --calls N           how many calls (default 100000)\n"
               "  --first N           number of the first call (to replay one: --calls 1)\n"
               "  --mode MODE         invalid (default): never a valid change;\n"
               "                      mixed: valid changes too; denied: valid changes,\n"
               "                      each of which must be refused (AccessDenied)\n"
               "  --check-every N     a Get and a name-owner check every N calls (1000)\n"
               "  --window N          calls in flight at once (32)\n"
               "  --max-string N      longest random string in bytes (4 MiB)\n"
               "  --timeout SEC       how long a call may wait for its answer (5)\n"
               "  --ascii             random strings in printable ASCII only\n"
               "  --max-violations N  stop after N violations (20; 0: never)\n"
               "  --apply-loop N      N valid Apply calls instead of fuzzing\n"
               "  --verbose           print every call and its answer\n");
}

int main(int argc, char **argv) {
        static const struct option options[] = {
                {"address", required_argument, NULL, 'a'},
                {"seed", required_argument, NULL, 's'},
                {"calls", required_argument, NULL, 'n'},
                {"first", required_argument, NULL, 'f'},
                {"mode", required_argument, NULL, 'm'},
                {"check-every", required_argument, NULL, 'c'},
                {"window", required_argument, NULL, 'w'},
                {"max-string", required_argument, NULL, 'S'},
                {"apply-loop", required_argument, NULL, 'A'},
                {"timeout", required_argument, NULL, 't'},
                {"ascii", no_argument, NULL, 'u'},
                {"max-violations", required_argument, NULL, 'V'},
                {"verbose", no_argument, NULL, 'v'},
                {"help", no_argument, NULL, 'h'},
                {},
        };
        sd_bus *bus = NULL;
        bool seeded = false;
        int c, r;

        while ((c = getopt_long(argc, argv, "", options, NULL)) >= 0) {
                switch (c) {
                case 'a': arg.address = optarg; break;
                case 's':
                        arg.seed = strtoull(optarg, NULL, 0);
                        seeded = true;
                        break;
                case 'n': arg.calls = strtoull(optarg, NULL, 0); break;
                case 'f': arg.first = strtoull(optarg, NULL, 0); break;
                case 'm':
                        if (strcmp(optarg, "invalid") == 0)
                                arg.mode = MODE_INVALID;
                        else if (strcmp(optarg, "mixed") == 0)
                                arg.mode = MODE_MIXED;
                        else if (strcmp(optarg, "denied") == 0)
                                arg.mode = MODE_DENIED;
                        else {
                                fprintf(stderr, "unknown mode %s\n", optarg);
                                return 2;
                        }
                        break;
                case 'c': arg.check_every = strtoull(optarg, NULL, 0); break;
                case 'w': arg.window = strtoull(optarg, NULL, 0) ?: 1; break;
                case 'S': arg.max_string = (unsigned)strtoul(optarg, NULL, 0); break;
                case 'A': arg.apply_loop = strtoull(optarg, NULL, 0); break;
                case 't': arg.timeout = strtoull(optarg, NULL, 0) * USEC_PER_SEC; break;
                case 'u': arg.ascii = true; break;
                case 'V': arg.max_violations = strtoull(optarg, NULL, 0); break;
                case 'v': arg.verbose = true; break;
                case 'h': help(); return 0;
                default: return 2;
                }
        }
        if (!seeded)
                arg.seed = (uint64_t)time(NULL) ^ (uint64_t)getpid() << 32;

        null_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
        if (arg.address) {
                r = sd_bus_new(&bus);
                if (r >= 0)
                        r = sd_bus_set_address(bus, arg.address);
                if (r >= 0)
                        r = sd_bus_set_bus_client(bus, true);
                if (r >= 0)
                        r = sd_bus_negotiate_fds(bus, true);
                if (r >= 0)
                        r = sd_bus_start(bus);
        } else
                r = sd_bus_open_system(&bus);
        if (r < 0) {
                fprintf(stderr, "cannot connect to the bus: %s\n", strerror(-r));
                return 2;
        }
        (void)sd_bus_set_method_call_timeout(bus, 10 * USEC_PER_SEC);
        printf("seed=%" PRIu64 "\n", arg.seed);
        fflush(stdout);

        r = arg.apply_loop ? run_apply_loop(bus) : run_fuzz(bus);
        sd_bus_flush_close_unref(bus);
        for (size_t i = 0; i < n_start_tunnels; i++)
                free(start_tunnels[i]);
        free(start_tunnels);
        free(first_owner);
        if (null_fd >= 0)
                close(null_fd);
        return r;
}

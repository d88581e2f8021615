/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <arpa/inet.h>
#include <fcntl.h>
#include <sys/stat.h>

#include "state.h"
#include "test.h"

static char dir[] = "/tmp/killswitchd-test-state.XXXXXX";
static Error error;

static void path_of(const char *name, char path[static 256]) {
        snprintf(path, 256, "%s/%s", dir, name);
}

static void write_bytes(const char *name, const char *text, size_t n) {
        char path[256];
        FILE *f;

        path_of(name, path);
        f = fopen(path, "w");
        ASSERT(f);
        ASSERT_EQ(fwrite(text, 1, n, f), n);
        fclose(f);
}

static void write_text(const char *name, const char *text) {
        write_bytes(name, text, strlen(text));
}

/* The whole file; its size in *ret_size. */
static char *read_bytes(const char *name, size_t *ret_size) {
        char path[256], *buf;
        struct stat st;
        FILE *f;

        path_of(name, path);
        ASSERT_EQ(stat(path, &st), 0);
        buf = malloc((size_t)st.st_size + 1);
        f = fopen(path, "r");
        ASSERT(buf && f);
        ASSERT_EQ(fread(buf, 1, (size_t)st.st_size, f), (size_t)st.st_size);
        fclose(f);
        buf[st.st_size] = '\0';
        *ret_size = (size_t)st.st_size;
        return buf;
}

static bool exists(const char *name) {
        char path[256];

        path_of(name, path);
        return access(path, F_OK) == 0;
}

static size_t file_size(const char *name) {
        char path[256];
        struct stat st;

        path_of(name, path);
        ASSERT_EQ(stat(path, &st), 0);
        return (size_t)st.st_size;
}

static void clean(void) {
        char path[256];

        path_of(STATE_FILE, path);
        unlink(path);
        path_of(STATE_FILE_BAD, path);
        unlink(path);
}

/* No temporary file of ours in the directory. */
static bool no_temporaries(void) {
        char tmp[64];

        snprintf(tmp, sizeof(tmp), ".%s.%d.tmp", STATE_FILE, (int)getpid());
        return !exists(tmp);
}

/* CRC-32 bit by bit, to check the daemon's table-driven one and to forge commit lines. */
static uint32_t crc32_slow(const char *p, size_t n) {
        uint32_t crc = ~0u;

        while (n-- > 0) {
                crc ^= (uint8_t)*p++;
                for (int k = 0; k < 8; k++)
                        crc = crc & 1 ? (crc >> 1) ^ 0xedb88320 : crc >> 1;
        }
        return ~crc;
}

static Endpoint endpoint(const char *addr, uint32_t port, const char *proto) {
        Endpoint e;

        ASSERT_EQ(endpoint_parse(addr, port, proto, &e, &error), 0);
        return e;
}

/* Settings with n generated endpoints, 10.128.0.0 upwards. */
static void settings_with(Settings *s, size_t n) {
        settings_init(s);
        s->enabled = s->persistent = true;
        ASSERT_EQ(settings_add_tunnel(s, "wg0", &error), 0);
        for (size_t i = 0; i < n; i++) {
                Endpoint e = endpoint("10.128.0.0", 51820, "udp");

                e.addr.in.s_addr = htonl(0x0a800000 + (uint32_t)i);
                ASSERT_EQ(settings_append_endpoint(s, &e), 0);
        }
        ASSERT_EQ(settings_normalize_endpoints(s, &error), 0);
}

static void load_equals(const Settings *want) {
        _cleanup_(settings_done) Settings got = {};

        ASSERT_EQ(state_load(dir, &got, &error), 0);
        ASSERT(settings_equal(want, &got));
}

/* A change from old to new through the daemon's two steps; f as the daemon keeps it. */
static void save_change(StateFile *f, const Settings *old, const Settings *new) {
        StateSave st;

        ASSERT_EQ(state_save_prepare(f, old, new, &st), 0);
        ASSERT_EQ(state_save_finish(f, &st), 0);
}

static void save_endpoint(StateFile *f, Settings *s, const Endpoint *e, bool add) {
        StateSave st;

        ASSERT_EQ(add ? settings_add_endpoint(s, e, &error) : settings_remove_endpoint(s, e), 0);
        ASSERT_EQ(state_save_prepare_endpoint(f, s, e, add, &st), 0);
        ASSERT_EQ(state_save_finish(f, &st), 0);
}

/* What a load tells the daemon about the file matches what its saves made of it. */
static void layout_matches(const StateFile *f) {
        _cleanup_(settings_done) Settings s = {};
        StateFile again = {.dir = dir};

        ASSERT_EQ(state_load_file(&again, &s, &error), 0);
        ASSERT_EQ(again.size, f->size);
        ASSERT_EQ(again.snapshot, f->snapshot);
        ASSERT_EQ(again.changes, f->changes);
        ASSERT_EQ(file_size(STATE_FILE), f->size);
}

TEST(missing) {
        Settings s;

        clean();
        ASSERT_EQ(state_load(dir, &s, &error), -ENOENT);
}

TEST(crc) {
        /* The check value of CRC-32. */
        ASSERT_EQ(crc32_slow("123456789", 9), 0xcbf43926);
}

TEST(round_trip) {
        _cleanup_(settings_done) Settings s, t;
        Endpoint e;
        size_t n;

        clean();
        settings_init(&s);
        s.enabled = s.persistent = true;
        s.endpoint_mark = 7;
        ASSERT_EQ(settings_add_tunnel(&s, "wg0", &error), 0);
        ASSERT_EQ(endpoint_parse("2001:db8::7", 51820, "udp", &e, &error), 0);
        ASSERT_EQ(settings_add_endpoint(&s, &e, &error), 0);

        ASSERT_EQ(state_save(dir, &s), 0);
        ASSERT_EQ(state_load(dir, &t, &error), 0);
        ASSERT(settings_equal(&s, &t));
        ASSERT(no_temporaries());
        free(read_bytes(STATE_FILE, &n));
        ASSERT(n > 0);
}

TEST(overwrite) {
        _cleanup_(settings_done) Settings a, b, got;

        clean();
        settings_init(&a);
        settings_init(&b);
        a.enabled = true;
        b.allow_lan = true;
        ASSERT_EQ(state_save(dir, &a), 0);
        ASSERT_EQ(state_save(dir, &b), 0);
        ASSERT_EQ(state_load(dir, &got, &error), 0);
        ASSERT(settings_equal(&b, &got));
}

TEST(corrupt_is_moved_aside) {
        Settings s;

        clean();
        write_text(STATE_FILE, "version=1\nEnabled=true\n"); /* cut short */
        ASSERT_EQ(state_load(dir, &s, &error), -EBADMSG);
        ASSERT(strstr(error.message, "end"));
        ASSERT(!exists(STATE_FILE));
        ASSERT(exists(STATE_FILE_BAD));
        /* The next load finds nothing rather than the same bad file. */
        ASSERT_EQ(state_load(dir, &s, &error), -ENOENT);

        write_text(STATE_FILE, "\x7f"
                               "ELF garbage");
        ASSERT_EQ(state_load(dir, &s, &error), -EBADMSG);
        ASSERT(exists(STATE_FILE_BAD));
}

TEST(symlink_refused) {
        char target[256], link[256];
        Settings s;

        clean();
        path_of("elsewhere", target);
        path_of(STATE_FILE, link);
        write_text("elsewhere", "version=1\nEnabled=true\nend\n");
        ASSERT_EQ(symlink(target, link), 0);
        ASSERT_EQ(state_load(dir, &s, &error), -EBADMSG);
        unlink(target);
}

TEST(unwritable_dir) {
        Settings s;

        settings_init(&s);
        ASSERT(state_save("/nonexistent/killswitchd", &s) < 0);
}

TEST(two_steps) {
        _cleanup_(settings_done) Settings a = {}, b = {}, got = {};
        _cleanup_(freep) char *before = NULL, *after = NULL;
        StateFile f = {.dir = dir};
        size_t n_before, n_after;
        StateSave st;

        clean();
        settings_init(&a);
        settings_init(&b);
        b.enabled = true;
        ASSERT_EQ(state_save(dir, &a), 0);
        ASSERT_EQ(state_load_file(&f, &got, &error), 0);
        settings_done(&got);
        before = read_bytes(STATE_FILE, &n_before);

        /* Prepared but aborted (the kernel refused): the saved state is still a, byte for
         * byte. Prepared, the change is in the file without its commit line: not yet saved. */
        ASSERT_EQ(state_save_prepare(&f, &a, &b, &st), 0);
        ASSERT(file_size(STATE_FILE) > n_before);
        load_equals(&a);
        /* The room of the commit line is taken, by a line that is not one. */
        after = read_bytes(STATE_FILE, &n_after);
        ASSERT(strstr(after, "\ncancel 1 "));
        ASSERT_EQ(n_after, f.size + strlen("Enabled=true\n") + strlen(st.commit));
        state_save_abort(&f, &st);
        free(after);
        after = read_bytes(STATE_FILE, &n_after);
        ASSERT_EQ(n_after, n_before);
        ASSERT(memcmp(before, after, n_before) == 0);
        load_equals(&a);

        /* Prepared and finished: b, appended. */
        ASSERT_EQ(state_save_prepare(&f, &a, &b, &st), 0);
        ASSERT_EQ(state_save_finish(&f, &st), 0);
        load_equals(&b);
        layout_matches(&f);
        ASSERT_EQ(f.changes, 1);
        ASSERT(no_temporaries());
}

/* Written whole: prepared is a temporary file, aborted it is gone. */
TEST(two_steps_whole) {
        _cleanup_(settings_done) Settings a = {}, b = {};
        StateFile f = {.dir = dir};
        StateSave st;
        char tmp[64];

        clean();
        settings_init(&a);
        settings_init(&b);
        b.enabled = true;
        ASSERT_EQ(state_save(dir, &a), 0);
        /* f.size 0: the daemon has not read this file, so it writes whole. */
        ASSERT_EQ(state_save_prepare(&f, &a, &b, &st), 0);
        snprintf(tmp, sizeof(tmp), ".%s.%d.tmp", STATE_FILE, (int)getpid());
        ASSERT(exists(tmp));
        load_equals(&a);
        state_save_abort(&f, &st);
        ASSERT(!exists(tmp));
        load_equals(&a);
        ASSERT_EQ(state_save_prepare(&f, &a, &b, &st), 0);
        ASSERT_EQ(state_save_finish(&f, &st), 0);
        load_equals(&b);
        layout_matches(&f);
        ASSERT_EQ(f.changes, 0);
}

/* Every kind of change, appended, read back as the daemon holds it after each. */
TEST(changes) {
        _cleanup_(settings_done) Settings s = {}, prev = {}, got = {};
        StateFile f = {.dir = dir};
        Endpoint e1 = endpoint("198.51.100.7", 51820, "udp"),
                 e2 = endpoint("2001:db8::1", 443, "tcp");
        static const char *const tunnel_lists[][3] = {
                {"wg0", "tun*", NULL}, /* appended */
                {"tun*", NULL},        /* removed from the front */
                {"wg0", "tun*", NULL}, /* added before: the order is kept */
                {"tun*", "wg0", NULL}, /* swapped */
                {NULL},                /* none */
        };
        size_t n0;

        clean();
        settings_with(&s, 100);
        ASSERT_EQ(state_save(dir, &s), 0);
        ASSERT_EQ(state_load_file(&f, &got, &error), 0);
        ASSERT(settings_equal(&s, &got));
        n0 = f.size;

        save_endpoint(&f, &s, &e1, true);
        load_equals(&s);
        save_endpoint(&f, &s, &e2, true);
        save_endpoint(&f, &s, &e1, false);
        load_equals(&s);
        layout_matches(&f);
        ASSERT_EQ(f.changes, 3);
        ASSERT_EQ(f.snapshot, n0);

        for (size_t i = 0; i < ELEMENTSOF(tunnel_lists); i++) {
                ASSERT_EQ(settings_copy(&s, &prev), 0);
                while (s.n_tunnels > 0)
                        ASSERT_EQ(settings_remove_tunnel(&s, s.tunnels[0]), 0);
                for (size_t j = 0; tunnel_lists[i][j]; j++)
                        ASSERT_EQ(settings_add_tunnel(&s, tunnel_lists[i][j], &error), 0);
                save_change(&f, &prev, &s);
                load_equals(&s);
                settings_done(&prev);
        }

        /* Scalars, and endpoints added and removed in one change (Apply). */
        ASSERT_EQ(settings_copy(&s, &prev), 0);
        s.allow_lan = true;
        s.allow_dhcp = false;
        s.endpoint_mark = 4660;
        s.endpoint_any_user = true;
        s.persistent = false;
        ASSERT_EQ(settings_remove_endpoint(&s, &s.endpoints[3]), 0);
        ASSERT_EQ(settings_remove_endpoint(&s, &s.endpoints[50]), 0);
        ASSERT_EQ(settings_add_endpoint(&s, &e1, &error), 0);
        save_change(&f, &prev, &s);
        load_equals(&s);
        settings_done(&prev);

        /* Per-application rules: Scope, and paths appended, reordered and removed. */
        static const char *const cgroup_lists[][3] = {
                {"a.slice", "b.slice/c.scope", NULL},
                {"b.slice/c.scope", "a.slice", NULL},
                {NULL},
        };
        for (size_t i = 0; i < ELEMENTSOF(cgroup_lists); i++) {
                ASSERT_EQ(settings_copy(&s, &prev), 0);
                cgroup_list_clear(&s.exempt_cgroups);
                for (size_t j = 0; cgroup_lists[i][j]; j++)
                        ASSERT_EQ(cgroup_list_add(&s.exempt_cgroups, "ExemptCgroups",
                                                  cgroup_lists[i][j], &error),
                                  0);
                s.scoped = i == 0;
                ASSERT_EQ(cgroup_list_add(&s.scoped_cgroups, "ScopedCgroups", "torrent.slice",
                                          &error),
                          0);
                save_change(&f, &prev, &s);
                load_equals(&s);
                settings_done(&prev);
        }

        /* And back again. */
        ASSERT_EQ(settings_copy(&s, &prev), 0);
        s.enabled = false;
        s.allow_lan = false;
        cgroup_list_clear(&s.scoped_cgroups);
        save_change(&f, &prev, &s);
        load_equals(&s);
        layout_matches(&f);
        ASSERT_EQ(f.snapshot, n0);
        ASSERT(no_temporaries());
}

/* Nothing changed: nothing written (a read-only disk does not matter). */
TEST(unchanged_writes_nothing) {
        _cleanup_(settings_done) Settings s = {}, got = {};
        _cleanup_(freep) char *before = NULL, *after = NULL;
        StateFile f = {.dir = dir};
        char path[256];
        StateSave st;
        size_t n, m;

        clean();
        settings_with(&s, 3);
        ASSERT_EQ(state_save(dir, &s), 0);
        ASSERT_EQ(state_load_file(&f, &got, &error), 0);
        before = read_bytes(STATE_FILE, &n);
        ASSERT_EQ(state_save_prepare(&f, &s, &got, &st), 0);
        ASSERT(st.fd < 0);
        ASSERT_EQ(state_save_finish(&f, &st), 0);
        after = read_bytes(STATE_FILE, &m);
        ASSERT_EQ(n, m);
        ASSERT(memcmp(before, after, n) == 0);

        /* Unless the file is not the one the last save left: then it is written whole. */
        path_of(STATE_FILE, path);
        ASSERT_EQ(unlink(path), 0);
        ASSERT_EQ(state_save_prepare(&f, &s, &got, &st), 0);
        ASSERT(st.fd >= 0);
        ASSERT_EQ(state_save_finish(&f, &st), 0);
        load_equals(&s);
        layout_matches(&f);
}

/* Old files load; the first save writes the current version whole. */
TEST(version_1) {
        _cleanup_(settings_done) Settings s = {}, t = {};
        _cleanup_(freep) char *text = NULL;
        StateFile f = {.dir = dir};
        Endpoint e = endpoint("203.0.113.9", 443, "tcp");
        size_t n;

        clean();
        write_text(STATE_FILE, "# an old file\nversion=1\nEnabled=true\nPersistent=true\n"
                               "Tunnel=wg0\nEndpoint=198.51.100.7 51820 udp\nend\n");
        ASSERT_EQ(state_load_file(&f, &s, &error), 0);
        ASSERT(s.enabled && s.persistent && s.allow_dhcp && !s.endpoint_any_user);
        ASSERT_EQ(s.n_endpoints, 1);
        ASSERT_EQ(f.size, 0);
        save_endpoint(&f, &s, &e, true);
        text = read_bytes(STATE_FILE, &n);
        ASSERT(strstr(text, "\nversion=2\n"));
        ASSERT(strstr(text, "\nEndpoint=203.0.113.9 443 tcp\n"));
        ASSERT_EQ(f.changes, 0);
        ASSERT_EQ(state_load(dir, &t, &error), 0);
        ASSERT(settings_equal(&s, &t));
        /* Version 1 has no changes after "end". */
        write_text(STATE_FILE, "version=1\nend\n+Endpoint=198.51.100.7 51820 udp\n");
        ASSERT_EQ(state_load(dir, &t, &error), -EBADMSG);
}

/* Power cut at any instant of an append: the file on disk is any prefix of what was written,
 * or the new size with some of the new bytes never written (zeros). Every such file is the old
 * settings or the new, never a mix, never an error; only the whole new file is the new ones. */
TEST(cut_anywhere) {
        _cleanup_(settings_done) Settings old = {}, new = {}, got = {};
        _cleanup_(freep) char *text = NULL;
        StateFile f = {.dir = dir};
        Endpoint e = endpoint("203.0.113.9", 443, "tcp");
        size_t n, from;

        clean();
        settings_with(&old, 20);
        ASSERT_EQ(state_save(dir, &old), 0);
        ASSERT_EQ(state_load_file(&f, &got, &error), 0);
        settings_done(&got);
        save_endpoint(&f, &old, &e, true); /* a change before, to cut after */
        from = f.size;
        ASSERT_EQ(settings_copy(&old, &new), 0);
        new.allow_lan = true;
        ASSERT_EQ(settings_remove_tunnel(&new, "wg0"), 0);
        ASSERT_EQ(settings_remove_endpoint(&new, &new.endpoints[7]), 0);
        ASSERT_EQ(settings_remove_endpoint(&new, &e), 0);
        save_change(&f, &old, &new);
        text = read_bytes(STATE_FILE, &n);
        ASSERT(n > from);

        for (size_t cut = from; cut <= n; cut++)
                for (int zeros = 0; zeros < 2; zeros++) {
                        _cleanup_(freep) char *t = malloc(n);
                        StateFile layout = {};

                        memcpy(t, text, n);
                        if (zeros)
                                memset(t + cut, 0, n - cut);
                        ASSERT_EQ(state_parse(t, zeros ? n : cut, &got, &layout, &error), 0);
                        ASSERT(settings_equal(&got, cut == n ? &new : &old));
                        /* The daemon appends only after a complete commit. */
                        ASSERT_EQ(layout.size, cut == n ? n : (cut == from && !zeros ? from : 0));
                        settings_done(&got);
                }

        /* The commit line on disk, part of the change not: the checksum tells. */
        for (size_t hole = from; hole < n - 20; hole++) {
                _cleanup_(freep) char *t = malloc(n);

                memcpy(t, text, n);
                t[hole] = t[hole] == '0' ? '1' : '0';
                ASSERT_EQ(state_parse(t, n, &got, NULL, &error), 0);
                ASSERT(settings_equal(&got, &old));
                settings_done(&got);
        }
}

/* Damage anywhere but in the last change is corruption, not a cut: fail closed. */
TEST(damage_is_corrupt) {
        _cleanup_(settings_done) Settings s = {}, got = {};
        _cleanup_(freep) char *text = NULL;
        StateFile f = {.dir = dir};
        Endpoint e1 = endpoint("203.0.113.9", 443, "tcp"), e2 = endpoint("203.0.113.10", 1, "udp");
        const char *c1;
        size_t n;

        clean();
        settings_with(&s, 5);
        ASSERT_EQ(state_save(dir, &s), 0);
        ASSERT_EQ(state_load_file(&f, &got, &error), 0);
        save_endpoint(&f, &s, &e1, true);
        save_endpoint(&f, &s, &e2, true);
        text = read_bytes(STATE_FILE, &n);

        /* The first change's endpoint, one digit off: its commit no longer checks out. */
        c1 = strstr(text, "+Endpoint=203.0.113.9 ");
        ASSERT(c1);
        text[c1 - text + 18] = '8';
        write_bytes(STATE_FILE, text, n);
        ASSERT_EQ(state_load(dir, &got, &error), -EBADMSG);
        ASSERT(strstr(error.message, "change 1"));
        ASSERT(exists(STATE_FILE_BAD));
        ASSERT(!exists(STATE_FILE));
}

static void forge(char *buf, size_t size, const char *snapshot, const char *change) {
        char head[32];
        size_t k;

        snprintf(head, sizeof(head), "commit 1 ");
        k = (size_t)snprintf(buf, size, "%s%s%s", snapshot, change, head);
        snprintf(buf + k, size - k, "%08x\n",
                 crc32_slow(buf + strlen(snapshot), k - strlen(snapshot)));
}

/* Committed changes the daemon would never write: corrupt. */
TEST(changes_strict) {
        static const char snapshot[] =
                "version=2\nTunnel=wg0\nEndpoint=198.51.100.7 51820 udp\nend\n";
        static const struct {
                const char *change, *needle;
        } bad[] = {
                {"+Endpoint=198.51.100.7 51820 udp\n", "already in the list"},
                {"-Endpoint=198.51.100.8 51820 udp\n", "not in the list"},
                {"+Tunnel=tun*\n-Endpoint=198.51.100.7 51820 udp\n"
                 "-Endpoint=198.51.100.7 51820 udp\n",
                 "line 7: -Endpoint=198.51.100.7 51820 udp: not in the list"},
                {"+Tunnel=wg0\n", "already in the list"},
                {"-Tunnel=wg1\n", "not in the list"},
                {"Tunnel=wg1\n", "unknown key"},
                {"Endpoint=198.51.100.8 51820 udp\n", "unknown key"},
                {"+Enabled=true\n", "unknown key"},
                {"Enabled=maybe\n", "neither true nor false"},
                {"+Endpoint=198.51.100.300 1 udp\n", "198.51.100.300"},
                {"\n", "not Key=value"},
                {"# a comment\n", "not Key=value"},
        };
        _cleanup_(settings_done) Settings s = {};
        char buf[512];

        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                error = (Error){};
                forge(buf, sizeof(buf), snapshot, bad[i].change);
                if (state_parse(buf, strlen(buf), &s, NULL, &error) != -EBADMSG ||
                    !strstr(error.message, bad[i].needle) ||
                    strncmp(error.message, "line ", 5) != 0) {
                        fprintf(stderr, "change #%zu: \"%s\"\n", i, error.message);
                        ASSERT(false);
                }
        }
        /* The same change, well-formed, is taken; removing and adding back in one is fine. */
        forge(buf, sizeof(buf), snapshot,
              "-Endpoint=198.51.100.7 51820 udp\n+Endpoint=198.51.100.7 51820 udp\n"
              "+Tunnel=tun*\nEnabled=true\nEnabled=false\n");
        ASSERT_EQ(state_parse(buf, strlen(buf), &s, NULL, &error), 0);
        ASSERT_EQ(s.n_endpoints, 1);
        ASSERT_EQ(s.n_tunnels, 2);
        ASSERT(!s.enabled);
}

/* Changes grow the file up to the size of the snapshot, then it is written whole again. */
TEST(compaction) {
        _cleanup_(settings_done) Settings s = {}, got = {};
        StateFile f = {.dir = dir};
        Endpoint e = endpoint("203.0.113.9", 443, "tcp");
        bool rewritten = false;

        clean();
        settings_with(&s, 100); /* a small snapshot: changes up to 64 KiB, some 1,300 */
        ASSERT_EQ(state_save(dir, &s), 0);
        ASSERT_EQ(state_load_file(&f, &got, &error), 0);
        for (unsigned i = 0; i < 2000; i++) {
                unsigned before = f.changes;

                e.port = (uint16_t)(1 + i / 2);
                save_endpoint(&f, &s, &e, i % 2 == 0);
                ASSERT(f.size - f.snapshot <= 64 * 1024 + 64);
                if (f.changes < before) {
                        rewritten = true;
                        ASSERT_EQ(f.changes, 0);
                        ASSERT(no_temporaries());
                }
        }
        ASSERT(rewritten);
        load_equals(&s);
        layout_matches(&f);
}

/* The file is not what the last save left (moved aside, an unfinished change at its end): the
 * next save writes it whole. */
TEST(not_ours_written_whole) {
        _cleanup_(settings_done) Settings s = {}, got = {};
        _cleanup_(freep) char *text = NULL;
        StateFile f = {.dir = dir};
        Endpoint e = endpoint("203.0.113.9", 443, "tcp");
        char path[256], bad[256];
        size_t n;

        clean();
        settings_with(&s, 3);
        ASSERT_EQ(state_save(dir, &s), 0);
        ASSERT_EQ(state_load_file(&f, &got, &error), 0);
        settings_done(&got);
        path_of(STATE_FILE, path);
        path_of(STATE_FILE_BAD, bad);
        ASSERT_EQ(rename(path, bad), 0);
        save_endpoint(&f, &s, &e, true);
        ASSERT_EQ(f.changes, 0);
        load_equals(&s);

        /* An unfinished change at the end: left out, and the file written whole next. */
        text = read_bytes(STATE_FILE, &n);
        {
                static const char tail[] = "-Endpoint=203.0.113.9 443 tcp\ncommit 1 0";
                _cleanup_(freep) char *t = malloc(n + sizeof(tail));

                memcpy(t, text, n);
                memcpy(t + n, tail, sizeof(tail));
                write_bytes(STATE_FILE, t, n + strlen(tail));
        }
        ASSERT_EQ(state_load_file(&f, &got, &error), 0);
        ASSERT(settings_equal(&s, &got));
        ASSERT_EQ(f.size, 0);
        settings_done(&got);
        save_endpoint(&f, &s, &e, false);
        ASSERT_EQ(f.changes, 0);
        load_equals(&s);
        layout_matches(&f);
}

/* At the endpoint limit, one endpoint added and removed is one line each, and reading a file
 * of thousands of changes stays quick (one sort, not one insertion each). */
TEST(large) {
        _cleanup_(settings_done) Settings s = {}, got = {};
        StateFile f = {.dir = dir};
        Endpoint e = endpoint("203.0.113.9", 443, "tcp");
        size_t before;

        clean();
        settings_with(&s, ENDPOINTS_MAX - 1);
        ASSERT_EQ(state_save(dir, &s), 0);
        ASSERT_EQ(state_load_file(&f, &got, &error), 0);
        ASSERT(settings_equal(&s, &got));
        for (unsigned i = 0; i < 500; i++) {
                Endpoint x = s.endpoints[(i * 7919) % s.n_endpoints];

                before = f.size;
                save_endpoint(&f, &s, &x, false);
                ASSERT(f.size - before < 64);
                save_endpoint(&f, &s, &e, true);
                save_endpoint(&f, &s, &x, true);
                save_endpoint(&f, &s, &e, false);
        }
        ASSERT_EQ(f.changes, 2000);
        load_equals(&s);
        save_endpoint(&f, &s, &e, true);
        ASSERT_EQ(s.n_endpoints, ENDPOINTS_MAX);
        load_equals(&s);
}

TEST(stale_temporaries_removed) {
        Settings s;

        clean();
        write_text(".settings.conf.4242.tmp", "version=1\n");
        write_text("keep.tmp", "not ours\n");
        ASSERT_EQ(state_load(dir, &s, &error), -ENOENT);
        ASSERT(!exists(".settings.conf.4242.tmp"));
        ASSERT(exists("keep.tmp"));
        char path[256];
        path_of("keep.tmp", path);
        unlink(path);
}

int main(void) {
        ASSERT(mkdtemp(dir));
        RUN(missing);
        RUN(crc);
        RUN(round_trip);
        RUN(overwrite);
        RUN(corrupt_is_moved_aside);
        RUN(symlink_refused);
        RUN(unwritable_dir);
        RUN(two_steps);
        RUN(two_steps_whole);
        RUN(changes);
        RUN(unchanged_writes_nothing);
        RUN(version_1);
        RUN(cut_anywhere);
        RUN(damage_is_corrupt);
        RUN(changes_strict);
        RUN(compaction);
        RUN(not_ours_written_whole);
        RUN(large);
        RUN(stale_temporaries_removed);
        clean();
        rmdir(dir);
        return 0;
}

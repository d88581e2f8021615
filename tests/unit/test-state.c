/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <fcntl.h>
#include <sys/stat.h>

#include "state.h"
#include "test.h"

static char dir[] = "/tmp/killswitchd-test-state.XXXXXX";
static char error[ERROR_MAX];

static void write_text(const char *name, const char *text) {
        char path[256];
        FILE *f;

        snprintf(path, sizeof(path), "%s/%s", dir, name);
        f = fopen(path, "w");
        ASSERT(f);
        fputs(text, f);
        fclose(f);
}

static bool exists(const char *name) {
        char path[256];

        snprintf(path, sizeof(path), "%s/%s", dir, name);
        return access(path, F_OK) == 0;
}

static void clean(void) {
        char path[256];

        snprintf(path, sizeof(path), "%s/%s", dir, STATE_FILE);
        unlink(path);
        snprintf(path, sizeof(path), "%s/%s", dir, STATE_FILE_BAD);
        unlink(path);
}

TEST(missing) {
        Settings s;

        clean();
        ASSERT_EQ(state_load(dir, &s, error), -ENOENT);
}

TEST(round_trip) {
        _cleanup_(settings_done) Settings s, t;
        Endpoint e;

        clean();
        settings_init(&s);
        s.enabled = s.persistent = true;
        s.endpoint_mark = 7;
        ASSERT_EQ(settings_add_tunnel(&s, "wg0", error), 0);
        ASSERT_EQ(endpoint_parse("2001:db8::7", 51820, "udp", &e, error), 0);
        ASSERT_EQ(settings_add_endpoint(&s, &e, error), 0);

        ASSERT_EQ(state_save(dir, &s), 0);
        ASSERT_EQ(state_load(dir, &t, error), 0);
        ASSERT(settings_equal(&s, &t));
        /* No temporary file is left behind. */
        char tmp[64];
        snprintf(tmp, sizeof(tmp), ".%s.%d.tmp", STATE_FILE, (int)getpid());
        ASSERT(!exists(tmp));
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
        ASSERT_EQ(state_load(dir, &got, error), 0);
        ASSERT(settings_equal(&b, &got));
}

TEST(corrupt_is_moved_aside) {
        Settings s;

        clean();
        write_text(STATE_FILE, "version=1\nEnabled=true\n"); /* cut short */
        ASSERT_EQ(state_load(dir, &s, error), -EBADMSG);
        ASSERT(strstr(error, "end"));
        ASSERT(!exists(STATE_FILE));
        ASSERT(exists(STATE_FILE_BAD));
        /* The next load finds nothing rather than the same bad file. */
        ASSERT_EQ(state_load(dir, &s, error), -ENOENT);

        write_text(STATE_FILE, "\x7f"
                               "ELF garbage");
        ASSERT_EQ(state_load(dir, &s, error), -EBADMSG);
        ASSERT(exists(STATE_FILE_BAD));
}

TEST(symlink_refused) {
        char target[256], link[256];
        Settings s;

        clean();
        snprintf(target, sizeof(target), "%s/elsewhere", dir);
        snprintf(link, sizeof(link), "%s/%s", dir, STATE_FILE);
        write_text("elsewhere", "version=1\nEnabled=true\nend\n");
        ASSERT_EQ(symlink(target, link), 0);
        ASSERT_EQ(state_load(dir, &s, error), -EBADMSG);
        unlink(target);
}

TEST(unwritable_dir) {
        Settings s;

        settings_init(&s);
        ASSERT(state_save("/nonexistent/killswitchd", &s) < 0);
}

TEST(two_steps) {
        _cleanup_(settings_done) Settings a = {}, b = {}, got = {};
        StateSave st;

        clean();
        settings_init(&a);
        settings_init(&b);
        b.enabled = true;
        ASSERT_EQ(state_save(dir, &a), 0);
        /* Prepared but aborted (the kernel refused): the saved state is still a, no temp. */
        ASSERT_EQ(state_save_prepare(dir, &b, &st), 0);
        ASSERT(exists(st.tmp));
        state_save_abort(&st);
        ASSERT_EQ(state_load(dir, &got, error), 0);
        ASSERT(settings_equal(&a, &got));
        settings_done(&got);
        /* Prepared and finished: b. */
        ASSERT_EQ(state_save_prepare(dir, &b, &st), 0);
        ASSERT_EQ(state_save_finish(&st), 0);
        ASSERT_EQ(state_load(dir, &got, error), 0);
        ASSERT(settings_equal(&b, &got));
}

TEST(stale_temporaries_removed) {
        Settings s;

        clean();
        write_text(".settings.conf.4242.tmp", "version=1\n");
        write_text("keep.tmp", "not ours\n");
        ASSERT_EQ(state_load(dir, &s, error), -ENOENT);
        ASSERT(!exists(".settings.conf.4242.tmp"));
        ASSERT(exists("keep.tmp"));
        char path[256];
        snprintf(path, sizeof(path), "%s/keep.tmp", dir);
        unlink(path);
}

int main(void) {
        ASSERT(mkdtemp(dir));
        RUN(missing);
        RUN(round_trip);
        RUN(overwrite);
        RUN(corrupt_is_moved_aside);
        RUN(symlink_refused);
        RUN(unwritable_dir);
        RUN(two_steps);
        RUN(stale_temporaries_removed);
        clean();
        rmdir(dir);
        return 0;
}

/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* cgroup paths as the settings take them: what is refused, with which words, and their level.
 * No root. */
#include "cgroup.h"
#include "test.h"

TEST(good_paths) {
        static const char *const good[] = {
                "user.slice",
                "user.slice/user-1000.slice/app.slice/app-steam.scope",
                "system.slice/transmission-daemon.service",
                "killswitchd.slice/app-caf\xc3\xa9.scope", /* UTF-8 */
                "a/b/c/d/e/f/g/h/i/j/k/l/m/n/o/p",         /* 16 levels */
                "..hidden/x..y/.z",                        /* dots inside names are names */
        };
        Error e = {};

        for (size_t i = 0; i < ELEMENTSOF(good); i++)
                ASSERT_EQ(cgroup_path_validate("ExemptCgroups", good[i], &e), 0);
        ASSERT(!error_is_set(&e));
}

TEST(bad_paths) {
        static const struct {
                const char *path, *needle;
        } bad[] = {
                {"", "empty"},
                {"/user.slice", "absolute"},
                {"user.slice/", "ends with '/'"},
                {"user.slice//app.slice", "empty"},
                {"user.slice/../system.slice", "\"..\""},
                {"./user.slice", "\".\""},
                {"..", "\"..\""},
                {"user.slice/a\nb", "printable"},
                {"user.slice/a\tb", "printable"},
                {"user.slice/\xff", "printable"},
                {"user.slice/\xc3", "printable"},     /* cut UTF-8 */
                {"user.slice/\xc0\xaf", "printable"}, /* overlong '/' */
                {"a/b/c/d/e/f/g/h/i/j/k/l/m/n/o/p/q", "deeper than 16"},
        };

        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                Error e = {};

                ASSERT_EQ(cgroup_path_validate("ExemptCgroups", bad[i].path, &e), -EINVAL);
                ASSERT_EQ(e.kind, ERROR_INVALID);
                if (strncmp(e.message, "ExemptCgroups: ", 15) != 0 ||
                    !strstr(e.message, bad[i].needle)) {
                        fprintf(stderr, "#%zu: \"%s\" does not name \"%s\"\n", i, e.message,
                                bad[i].needle);
                        ASSERT(false);
                }
        }
}

TEST(too_long) {
        char path[CGROUP_PATH_MAX + 2];
        Error e = {};

        memset(path, 'x', sizeof(path) - 1);
        path[sizeof(path) - 1] = '\0';
        ASSERT_EQ(cgroup_path_validate("ScopedCgroups", path, &e), -EINVAL);
        ASSERT(strstr(e.message, "longer than"));
        path[CGROUP_PATH_MAX] = '\0';
        ASSERT_EQ(cgroup_path_validate("ScopedCgroups", path, NULL), 0);
}

TEST(level) {
        ASSERT_EQ(cgroup_path_level("user.slice"), 1);
        ASSERT_EQ(cgroup_path_level("user.slice/user-1000.slice/app.slice/app-x.scope"), 4);
        ASSERT_EQ(cgroup_path_level(""), 0);
}

TEST(slices) {
        static const struct {
                const char *unit, *path;
        } good[] = {
                {"system.slice", "system.slice"},
                {"killswitch-exempt.slice", "killswitch.slice/killswitch-exempt.slice"},
                {"a-b-c.slice", "a.slice/a-b.slice/a-b-c.slice"},
                {"user-1000.slice", "user.slice/user-1000.slice"},
                {"app\\x2dx.slice", "app\\x2dx.slice"}, /* an escaped '-' does not nest */
        };
        static const char *const bad_units[] = {
                "",          ".slice",    "-.slice",   "-a.slice", "a-.slice",  "a--b.slice",
                "a.service", "a/b.slice", "a b.slice", "slice",    "a.slice.x",
        };
        static const char *const not_slices[] = {
                "system.slice/ssh.service",
                "user.slice/user-1000.slice/app.slice",
                "a-b.slice",
                "b.slice/a-b.slice",
                "a.slice/a-b.slice/x",
                "a.slice/b.slice",
        };

        for (size_t i = 0; i < ELEMENTSOF(good); i++) {
                _cleanup_(freep) char *path = NULL, *unit = NULL;

                ASSERT_EQ(cgroup_path_from_slice(good[i].unit, &path), 0);
                ASSERT_STREQ(path, good[i].path);
                ASSERT_EQ(cgroup_path_to_slice(good[i].path, &unit), 0);
                ASSERT_STREQ(unit, good[i].unit);
        }
        for (size_t i = 0; i < ELEMENTSOF(bad_units); i++) {
                char *path = NULL;

                ASSERT_EQ(cgroup_path_from_slice(bad_units[i], &path), -EINVAL);
                ASSERT(!path);
        }
        for (size_t i = 0; i < ELEMENTSOF(not_slices); i++) {
                char *unit = NULL;

                ASSERT_EQ(cgroup_path_to_slice(not_slices[i], &unit), -EINVAL);
                ASSERT(!unit);
        }
}

int main(void) {
        RUN(good_paths);
        RUN(bad_paths);
        RUN(too_long);
        RUN(level);
        RUN(slices);
        return 0;
}

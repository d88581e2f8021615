/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* cgroup paths as the settings take them: what is refused, with which words, and their level;
 * and the watch that tells when a listed path comes or goes, on a directory tree of the test's
 * own (mkdir and rmdir report to the parent directory as they do in cgroupfs). No root. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

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

/* The manager's part: each report moves the watches again, then the ids would be read. */
typedef struct WatchTest {
        CgroupWatch *watch;
        char *const *paths;
        size_t n_paths;
        unsigned reports;
} WatchTest;

static void on_report(void *userdata) {
        WatchTest *t = userdata;

        t->reports++;
        ASSERT_EQ(cgroup_watch_set(t->watch, t->paths, t->n_paths), 0);
}

/* The reports the events so far bring, dispatched until none is pending; a watch that reported
 * its own moves would never settle. */
static unsigned reports_after(sd_event *event, WatchTest *t) {
        unsigned before = t->reports;

        for (int i = 0; sd_event_run(event, 0) > 0; i++)
                ASSERT(i < 100);
        return t->reports - before;
}

static void in_tree(const char *root, const char *path, int (*op)(const char *)) {
        char full[PATH_MAX];

        ASSERT(snprintf(full, sizeof(full), "%s/%s", root, path) < (int)sizeof(full));
        ASSERT_EQ(op(full), 0);
}

static int make_dir(const char *path) {
        return mkdir(path, 0755);
}

/* A watch on a new temporary root (its name written into 'root'), set on t's paths; the
 * caller's descriptor of the root is closed at once, as the watch keeps its own. */
static void watch_start(char *root, sd_event **ret_event, WatchTest *t) {
        int root_fd;

        ASSERT(mkdtemp(root));
        ASSERT_EQ(sd_event_new(ret_event), 0);
        root_fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        ASSERT(root_fd >= 0);
        ASSERT_EQ(cgroup_watch_new(*ret_event, root_fd, on_report, t, &t->watch), 0);
        close(root_fd);
        ASSERT_EQ(cgroup_watch_set(t->watch, t->paths, t->n_paths), 0);
}

TEST(watch) {
        char root[] = "/tmp/test-cgroup.XXXXXX";
        char *const paths[] = {"a.slice/b.slice/c.scope", "x.slice"};
        _cleanup_(sd_event_unrefp) sd_event *event = NULL;
        WatchTest t = {.paths = paths, .n_paths = ELEMENTSOF(paths)};

        watch_start(root, &event, &t);
        ASSERT_EQ(reports_after(event, &t), 0);
        /* Moving the watches (removing them queues IN_IGNORED) is no change. */
        ASSERT_EQ(cgroup_watch_set(t.watch, paths, ELEMENTSOF(paths)), 0);
        ASSERT_EQ(reports_after(event, &t), 0);

        /* Each level made, then the path itself, is reported once. */
        in_tree(root, "a.slice", make_dir);
        ASSERT_EQ(reports_after(event, &t), 1);
        in_tree(root, "a.slice/b.slice", make_dir);
        ASSERT_EQ(reports_after(event, &t), 1);
        in_tree(root, "a.slice/b.slice/c.scope", make_dir);
        ASSERT_EQ(reports_after(event, &t), 1);
        in_tree(root, "x.slice", make_dir);
        ASSERT_EQ(reports_after(event, &t), 1);
        /* What happens below a listed path is no change of its own. */
        in_tree(root, "a.slice/b.slice/c.scope/app.scope", make_dir);
        ASSERT_EQ(reports_after(event, &t), 0);
        in_tree(root, "a.slice/b.slice/c.scope/app.scope", rmdir);
        ASSERT_EQ(reports_after(event, &t), 0);

        /* Removed, the path is reported by its parent; so is an ancestor removed after it, and
         * made again, the path is still followed. */
        in_tree(root, "a.slice/b.slice/c.scope", rmdir);
        ASSERT_EQ(reports_after(event, &t), 1);
        in_tree(root, "x.slice", rmdir);
        ASSERT_EQ(reports_after(event, &t), 1);
        in_tree(root, "a.slice/b.slice", rmdir);
        ASSERT_EQ(reports_after(event, &t), 1);
        in_tree(root, "a.slice/b.slice", make_dir);
        ASSERT_EQ(reports_after(event, &t), 1);
        in_tree(root, "a.slice/b.slice/c.scope", make_dir);
        ASSERT_EQ(reports_after(event, &t), 1);

        /* No paths, no watches: nothing reports. */
        ASSERT_EQ(cgroup_watch_set(t.watch, NULL, 0), 0);
        in_tree(root, "x.slice", make_dir);
        ASSERT_EQ(reports_after(event, &t), 0);

        cgroup_watch_free(t.watch);
        in_tree(root, "x.slice", rmdir);
        in_tree(root, "a.slice/b.slice/c.scope", rmdir);
        in_tree(root, "a.slice/b.slice", rmdir);
        in_tree(root, "a.slice", rmdir);
        ASSERT_EQ(rmdir(root), 0);
}

/* The hierarchy's mount point can leave the daemon's view while the hierarchy stays: another
 * mount of it unmounted and removed (the daemon found that one first), a mount namespace's copy
 * detached. The watch follows the descriptor it was given, so it goes on reporting. */
TEST(watch_root_moved) {
        char root[] = "/tmp/test-cgroup.XXXXXX", moved[sizeof(root) + 6];
        char *const paths[] = {"a.slice/b.scope"};
        _cleanup_(sd_event_unrefp) sd_event *event = NULL;
        WatchTest t = {.paths = paths, .n_paths = ELEMENTSOF(paths)};

        watch_start(root, &event, &t);

        (void)snprintf(moved, sizeof(moved), "%s.moved", root);
        ASSERT_EQ(rename(root, moved), 0);
        /* Control: the path the root was found at names nothing now. */
        ASSERT(access(root, F_OK) < 0 && errno == ENOENT);
        ASSERT_EQ(cgroup_watch_set(t.watch, paths, ELEMENTSOF(paths)), 0);
        ASSERT_EQ(reports_after(event, &t), 0);
        in_tree(moved, "a.slice", make_dir);
        ASSERT_EQ(reports_after(event, &t), 1);
        in_tree(moved, "a.slice/b.scope", make_dir);
        ASSERT_EQ(reports_after(event, &t), 1);

        cgroup_watch_free(t.watch);
        in_tree(moved, "a.slice/b.scope", rmdir);
        in_tree(moved, "a.slice", rmdir);
        ASSERT_EQ(rmdir(moved), 0);
}

int main(void) {
        RUN(good_paths);
        RUN(bad_paths);
        RUN(too_long);
        RUN(level);
        RUN(slices);
        RUN(watch);
        RUN(watch_root_moved);
        return 0;
}

/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* exec --exempt|--scoped -- COMMAND: COMMAND in a transient scope of systemd's, inside the slice
 * that ExemptCgroups or ScopedCgroups names, as `systemd-run --scope --slice=` would start it.
 * This process moves itself into the scope and then becomes COMMAND, so that COMMAND's first
 * packet is already matched by its cgroup: nothing runs before the move, and nothing runs before
 * the daemon has that slice in its table (PresentCgroups), or a scoped program would leave
 * unheld in between (docs/per-app.md). */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "client.h"
#include "contract/cgroup-path.h"
#include "ctl.h"
#include "killswitchd/bus.h"

#define SYSTEMD_NAME "org.freedesktop.systemd1"
#define SYSTEMD_PATH "/org/freedesktop/systemd1"
#define SYSTEMD_MANAGER SYSTEMD_NAME ".Manager"

/* How long systemd may take to move us, and the daemon to follow the slice. */
#define WAIT_USEC (10 * 1000 * 1000ULL)
#define POLL_USEC (10 * 1000ULL)
#define CALL_TIMEOUT_USEC (3 * 1000 * 1000ULL)

static bool strv_contains(char **l, const char *s) {
        for (char **p = l; p && *p; p++)
                if (strcmp(*p, s) == 0)
                        return true;
        return false;
}

static unsigned long long now_usec(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (unsigned long long)ts.tv_sec * 1000000ULL + (unsigned long long)ts.tv_nsec / 1000;
}

/* Whether this process is in a cgroup at or below 'path' of the cgroup v2 hierarchy, as
 * /proc/self/cgroup says ("0::/path/..."); -ENOENT without a cgroup v2 hierarchy. */
static int self_below(const char *path) {
        FILE *f = fopen("/proc/self/cgroup", "re");
        char line[4096];
        size_t n = strlen(path);
        int r = -ENOENT;

        if (!f)
                return -errno;
        while (fgets(line, sizeof(line), f))
                if (strncmp(line, "0::/", 4) == 0) {
                        const char *p = line + 4;

                        r = strncmp(p, path, n) == 0 && (p[n] == '/' || p[n] == '\n');
                        break;
                }
        fclose(f);
        return r;
}

static int start_scope(sd_bus *systemd, const char *scope, const char *slice, const char *what,
                       char **command) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL, *reply = NULL;
        char description[256];
        int r;

        snprintf(description, sizeof(description), "killswitchctl exec --%s: %s", what, command[0]);
        r = sd_bus_message_new_method_call(systemd, &m, SYSTEMD_NAME, SYSTEMD_PATH, SYSTEMD_MANAGER,
                                           "StartTransientUnit");
        if (r >= 0)
                r = sd_bus_message_append(m, "ss", scope, "fail");
        if (r >= 0)
                r = sd_bus_message_append(m, "a(sv)", 4, "Description", "s", description, "Slice",
                                          "s", slice, "PIDs", "au", 1, (uint32_t)getpid(),
                                          "CollectMode", "s", "inactive-or-failed");
        if (r >= 0)
                r = sd_bus_message_append(m, "a(sa(sv))", 0);
        if (r < 0)
                return ctl_append_error("exec", r);
        /* Root, or polkit's consent for org.freedesktop.systemd1.manage-units (it may ask). */
        r = sd_bus_call(systemd, m, 0, &error, &reply);
        if (r < 0) {
                ctl_error("exec: systemd refused to start %s: %s", scope,
                          error.message ? error.message : strerror(-r));
                return ctl_exit_status(error.name);
        }
        return CTL_EXIT_OK;
}

/* Until 'done' says so, or the time is up. */
static bool wait_for(int (*done)(Ctl *c, const char *path), Ctl *c, const char *path) {
        unsigned long long end = now_usec() + WAIT_USEC;

        for (;;) {
                int r = done(c, path);

                if (r != 0)
                        return r > 0;
                if (now_usec() > end)
                        return false;
                usleep(POLL_USEC);
        }
}

static int moved(Ctl *c _unused_, const char *path) {
        int r = self_below(path);

        return r < 0 ? -1 : r;
}

static int daemon_follows(Ctl *c, const char *path) {
        _cleanup_(strv_freep) char **present = NULL;

        if (ctl_get_strv(c, "PresentCgroups", &present) != CTL_EXIT_OK)
                return -1;
        return strv_contains(present, path);
}

/* The first path of the list that is a slice's: where COMMAND goes. */
static int find_slice(char **paths, char **ret_path, char **ret_unit) {
        for (char **p = paths; p && *p; p++)
                if (cgroup_path_to_slice(*p, ret_unit) >= 0) {
                        *ret_path = *p;
                        return 0;
                }
        return -ENOENT;
}

int verb_exec(Ctl *c, int argc, char **argv) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *systemd = NULL;
        _cleanup_(strv_freep) char **paths = NULL;
        _cleanup_(freep) char *unit = NULL;
        const char *what = NULL, *list, *scope_mode = "system";
        char scope[64], *path = NULL, **command;
        sd_bus *bus;
        int enabled = 0, i = 1, r;

        for (; i < argc && argv[i][0] == '-'; i++) {
                if (strcmp(argv[i], "--") == 0) {
                        i++;
                        break;
                }
                if (strcmp(argv[i], "--exempt") != 0 && strcmp(argv[i], "--scoped") != 0)
                        return ctl_usage_error(argv[0], "unknown option '%s'", argv[i]);
                if (what)
                        return ctl_usage_error(argv[0], "give one of --exempt and --scoped");
                what = argv[i] + 2;
        }
        if (!what)
                return ctl_usage_error(argv[0], "--exempt or --scoped is required");
        if (i >= argc)
                return ctl_usage_error(argv[0], "no command to run");
        command = argv + i;
        list = strcmp(what, "exempt") == 0 ? "ExemptCgroups" : "ScopedCgroups";

        /* A daemon that does not answer must not hold COMMAND back for long (nor start it). */
        r = ctl_bus(c, &bus);
        if (r != CTL_EXIT_OK)
                return r;
        (void)sd_bus_set_method_call_timeout(bus, CALL_TIMEOUT_USEC);

        r = ctl_get_property(c, "Enabled", "b", &reply);
        if (r == CTL_EXIT_OK && sd_bus_message_read(reply, "b", &enabled) < 0)
                r = ctl_reply_error("Enabled", -EBADMSG);
        reply = sd_bus_message_unref(reply);
        if (r == CTL_EXIT_OK)
                r = ctl_get_property(c, "Scope", "s", &reply);
        if (r == CTL_EXIT_OK && sd_bus_message_read(reply, "s", &scope_mode) < 0)
                r = ctl_reply_error("Scope", -EBADMSG);
        if (r == CTL_EXIT_OK)
                r = ctl_get_strv(c, list, &paths);
        if (r != CTL_EXIT_OK)
                return r;
        /* The promise of --scoped is "held to the tunnel": with nothing in force, refuse. */
        if (!enabled && strcmp(what, "scoped") == 0) {
                ctl_error("exec: the kill switch is disabled: %s would not be held to the "
                          "tunnel; enable it first",
                          command[0]);
                return CTL_EXIT_FAILURE;
        }
        if (find_slice(paths, &path, &unit) < 0) {
                if (strcmp(what, "exempt") == 0)
                        ctl_error("exec: ExemptCgroups names no slice to start %s in; add one:\n"
                                  "  killswitchctl exempt add --slice killswitch-exempt.slice",
                                  command[0]);
                else
                        ctl_error("exec: ScopedCgroups names no slice to start %s in; add one:\n"
                                  "  echo '{\"ScopedCgroups\": [\"killswitch.slice/"
                                  "killswitch-scoped.slice\"]}' | killswitchctl apply",
                                  command[0]);
                return CTL_EXIT_NOT_FOUND;
        }

        r = sd_bus_open_system(&systemd);
        if (r < 0) {
                errno_set(r);
                ctl_error("exec: cannot connect to systemd on the system bus: %m");
                return CTL_EXIT_UNREACHABLE;
        }
        (void)sd_bus_set_allow_interactive_authorization(systemd, true);
        snprintf(scope, sizeof(scope), "killswitch-%s-%d.scope", what, (int)getpid());
        r = start_scope(systemd, scope, unit, what, command);
        if (r != CTL_EXIT_OK)
                return r;
        /* systemd moves us when the job runs, after the reply: what counts is where we are. */
        if (!wait_for(moved, c, path)) {
                ctl_error("exec: systemd did not move this process into %s/%s (is cgroup v2 "
                          "mounted?); %s not started",
                          path, scope, command[0]);
                return CTL_EXIT_FAILURE;
        }
        /* The slice may have been made just now, by this scope: the daemon adds it to the table a
         * few milliseconds later. An exempt program would be held until then, a scoped one let
         * go: wait for both. Unless nothing uses the list (disabled; or system scope, where the
         * whole machine is held anyway). */
        if ((enabled && strcmp(what, "exempt") == 0) ||
            (enabled && strcmp(scope_mode, "cgroups") == 0))
                if (!wait_for(daemon_follows, c, path)) {
                        ctl_error("exec: killswitchd does not match %s yet (PresentCgroups); %s "
                                  "not started",
                                  path, command[0]);
                        return CTL_EXIT_FAILURE;
                }

        execvp(command[0], command);
        r = errno;
        ctl_error("exec: cannot run %s: %s", command[0], strerror(r));
        return r == ENOENT ? 127 : 126;
}

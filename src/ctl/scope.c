/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "client.h"
#include "contract/cgroup-path.h"
#include "scope.h"

#define SYSTEMD_NAME "org.freedesktop.systemd1"
#define SYSTEMD_PATH "/org/freedesktop/systemd1"
#define SYSTEMD_MANAGER SYSTEMD_NAME ".Manager"

/* How long systemd may take to move a process, and the daemon to follow the slice. */
#define WAIT_USEC (10 * 1000 * 1000ULL)
#define POLL_USEC (10 * 1000ULL)

static unsigned long long now_usec(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (unsigned long long)ts.tv_sec * 1000000ULL + (unsigned long long)ts.tv_nsec / 1000;
}

int scope_find_slice(char **paths, char **ret_path, char **ret_unit) {
        for (char **p = paths; p && *p; p++)
                if (cgroup_path_to_slice(*p, ret_unit) >= 0) {
                        *ret_path = *p;
                        return 0;
                }
        return -ENOENT;
}

int scope_open_systemd(const char *verb, bool interactive, sd_bus **ret) {
        int r = sd_bus_open_system(ret);

        if (r < 0) {
                errno_set(r);
                ctl_error("%s: cannot connect to systemd on the system bus: %m", verb);
                return CTL_EXIT_UNREACHABLE;
        }
        (void)sd_bus_set_allow_interactive_authorization(*ret, interactive);
        return CTL_EXIT_OK;
}

int scope_start(sd_bus *systemd, const char *verb, const char *scope, const char *unit,
                const char *description, pid_t pid) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL, *reply = NULL;
        int r;

        r = sd_bus_message_new_method_call(systemd, &m, SYSTEMD_NAME, SYSTEMD_PATH, SYSTEMD_MANAGER,
                                           "StartTransientUnit");
        if (r >= 0)
                r = sd_bus_message_append(m, "ss", scope, "fail");
        if (r >= 0)
                r = sd_bus_message_append(m, "a(sv)", 4, "Description", "s", description, "Slice",
                                          "s", unit, "PIDs", "au", 1, (uint32_t)pid, "CollectMode",
                                          "s", "inactive-or-failed");
        if (r >= 0)
                r = sd_bus_message_append(m, "a(sa(sv))", 0);
        if (r < 0)
                return ctl_append_error(verb, r);
        r = sd_bus_call(systemd, m, 0, &error, &reply);
        if (r < 0) {
                ctl_error("%s: systemd refused to start %s: %s", verb, scope,
                          error.message ? error.message : strerror(-r));
                return ctl_exit_status(error.name);
        }
        return CTL_EXIT_OK;
}

int scope_pid_below(pid_t pid, const char *path) {
        char file[64], line[4096];
        size_t n = strlen(path);
        int r = -ENOENT;
        FILE *f;

        snprintf(file, sizeof(file), "/proc/%d/cgroup", (int)pid);
        f = fopen(file, "re");
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

/* Until 'done' says yes (> 0), says it never will (< 0), or the time is up. */
static bool wait_for(int (*done)(Ctl *c, pid_t pid, const char *path), Ctl *c, pid_t pid,
                     const char *path) {
        unsigned long long end = now_usec() + WAIT_USEC;

        for (;;) {
                int r = done(c, pid, path);

                if (r != 0)
                        return r > 0;
                if (now_usec() > end)
                        return false;
                usleep(POLL_USEC);
        }
}

static int moved(Ctl *c _unused_, pid_t pid, const char *path) {
        int r = scope_pid_below(pid, path);

        return r < 0 ? -1 : r;
}

static int followed(Ctl *c, pid_t pid _unused_, const char *path) {
        _cleanup_(strv_freep) char **present = NULL;

        if (ctl_get_strv(c, "PresentCgroups", &present) != CTL_EXIT_OK)
                return -1;
        return strv_contains(present, path);
}

bool scope_wait_moved(pid_t pid, const char *path) {
        return wait_for(moved, NULL, pid, path);
}

bool scope_wait_followed(Ctl *c, const char *path) {
        return wait_for(followed, c, 0, path);
}

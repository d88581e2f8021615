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
#include <unistd.h>

#include "client.h"
#include "ctl.h"
#include "scope.h"

/* A daemon that does not answer must not hold COMMAND back for long (nor start it). */
#define CALL_TIMEOUT_USEC (3 * 1000 * 1000ULL)

int verb_exec(Ctl *c, int argc, char **argv) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *systemd = NULL;
        _cleanup_(strv_freep) char **paths = NULL;
        _cleanup_(freep) char *unit = NULL, *scope_mode = NULL;
        const char *what = NULL, *list;
        char scope[64], description[256], *path = NULL, **command;
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

        r = ctl_bus(c, &bus);
        if (r != CTL_EXIT_OK)
                return r;
        (void)sd_bus_set_method_call_timeout(bus, CALL_TIMEOUT_USEC);

        r = ctl_get_basic(c, "Enabled", 'b', &enabled);
        if (r == CTL_EXIT_OK)
                r = ctl_get_basic(c, "Scope", 's', &scope_mode);
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
        if (scope_find_slice(paths, &path, &unit) < 0) {
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

        r = scope_open_systemd("exec", true, &systemd);
        if (r != CTL_EXIT_OK)
                return r;
        snprintf(scope, sizeof(scope), "killswitch-%s-%d.scope", what, (int)getpid());
        snprintf(description, sizeof(description), "killswitchctl exec --%s: %s", what, command[0]);
        r = scope_start(systemd, "exec", scope, unit, description, getpid());
        if (r != CTL_EXIT_OK)
                return r;
        if (!scope_wait_moved(getpid(), path)) {
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
                if (!scope_wait_followed(c, path)) {
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

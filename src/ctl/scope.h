/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>
#include <sys/types.h>
#include <systemd/sd-bus.h>

#include "ctl.h"

/* A process in a transient scope of systemd's, inside a slice that ExemptCgroups or
 * ScopedCgroups lists, as `systemd-run --scope --slice=` would put it there. Used by
 * "exec" (this process) and "verify" (a child that sends the probes). */

/* The first path of 'paths' that is a slice's, and that slice's unit name: -ENOENT if none. */
int scope_find_slice(char **paths, char **ret_path, char **ret_unit);

/* Connects to systemd on the system bus: CTL_EXIT_*. With 'interactive', polkit may ask. */
int scope_open_systemd(const char *verb, bool interactive, sd_bus **ret);

/* Asks systemd to start the scope 'scope' in the slice 'unit' with 'pid' in it: CTL_EXIT_*.
 * Root, or polkit's consent for org.freedesktop.systemd1.manage-units. */
int scope_start(sd_bus *systemd, const char *verb, const char *scope, const char *unit,
                const char *description, pid_t pid);

/* Whether, within a few seconds, 'pid' is in a cgroup at or below 'path' ("0::/path/..." in
 * /proc/PID/cgroup): systemd moves it when the job runs, after the reply. */
bool scope_wait_moved(pid_t pid, const char *path);

/* Whether, within a few seconds, the daemon lists 'path' in PresentCgroups: a slice made just
 * now by the scope is in its table a few milliseconds after systemd made it. */
bool scope_wait_followed(Ctl *c, const char *path);

/* Whether 'pid' is at or below 'path' now: 1, 0, or -errno (-ENOENT without cgroup v2). */
int scope_pid_below(pid_t pid, const char *path);

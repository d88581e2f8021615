/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "error.h"

/* cgroup v2 paths as ExemptCgroups and ScopedCgroups give them (docs/per-app.md), relative to
 * the cgroup2 root: "user.slice/user-1000.slice/app.slice/app-steam.scope". A path of N
 * components is a cgroup at level N (the root is level 0). */

/* Far deeper than any systemd layout (a user's app scope is at level 4): a rule per level in
 * use, so a limit keeps a caller from making the packet path long. */
#define CGROUP_LEVEL_MAX 16
#define CGROUP_PATH_MAX 200 /* a state file line ("+ExemptCgroup=" and the path) fits 255 bytes */
#define CGROUPS_MAX 256

/* Relative to the cgroup2 root, components separated by single '/', none "." or "..", printable
 * UTF-8 (the state file is line based). 'field' names the setting in the message. */
int cgroup_path_validate(const char *field, const char *path, Error *error);
unsigned cgroup_path_level(const char *path);

/* systemd's slices: "a-b-c.slice" is the cgroup "a.slice/a-b.slice/a-b-c.slice" (each '-'
 * nests one level deeper, systemd.slice(5)); the root slice "-.slice" is not one to name. */

/* The cgroup path of slice unit 'unit' ("killswitch-exempt.slice"). -EINVAL: not a slice name. */
int cgroup_path_from_slice(const char *unit, char **ret);
/* The slice unit whose cgroup 'path' is, or -EINVAL if it is not a slice's (a service, a scope,
 * a cgroup systemd did not name). */
int cgroup_path_to_slice(const char *path, char **ret);

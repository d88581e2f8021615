/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <systemd/sd-event.h>

#include "contract/cgroup-path.h"
#include "error.h"
#include "macro.h"

/* cgroup v2 paths as the settings name them ("user.slice/user-1000.slice/app.slice"), and the
 * ids the kernel matches sockets by (`socket cgroupv2 level N`): a socket carries the cgroup of
 * the process that created it, and the kernel compares that cgroup's ancestor at level N (the
 * root is level 0) with the id given. A path of N components names a cgroup at level N, and
 * matching at level N covers it and all its descendants. */

/* Where this machine mounts cgroup v2: /sys/fs/cgroup (unified), /sys/fs/cgroup/unified
 * (hybrid), or elsewhere; from /proc/self/mountinfo. -ENOENT: none. */
int cgroup2_find_root(char **ret);

/* The kernel's id of the cgroup at 'path' under the root: its directory's inode number, which on
 * 64-bit kernels is the kernfs id sockets carry. -ENOENT: no such cgroup (yet). */
int cgroup_lookup_id(int root_fd, const char *path, uint64_t *ret);

/* The ids of the listed cgroups that exist, each list sorted and unique: what the exempt and
 * scoped sets hold. */
typedef struct CgroupIds {
        uint64_t *exempt;
        size_t n_exempt;
        uint64_t *scoped;
        size_t n_scoped;
} CgroupIds;

void cgroup_ids_done(CgroupIds *c);
/* Whether a sorted list of ids (as cgroup_ids_lookup() makes them) holds 'id'. */
bool cgroup_ids_contain(const uint64_t *ids, size_t n, uint64_t id);
bool cgroup_ids_equal(const CgroupIds *a, const CgroupIds *b);

/* The ids of those of 'paths' that exist now, sorted and unique (root_fd < 0: cgroup2 is not
 * mounted, none exists). */
int cgroup_ids_lookup(int root_fd, char *const *paths, size_t n_paths, uint64_t **ret,
                      size_t *ret_n);

/* Tells when any of the given paths may have appeared or gone: inotify on every existing
 * directory from the root down to each path's parent (a cgroup is made by mkdir and removed by
 * rmdir, which only the parent directory reports). The handler calls cgroup_watch_set() again,
 * which moves the watches to where they must now be, and only then reads the ids: a cgroup made
 * or removed between the two is then either seen by the lookup or reported by the new watch. */
typedef struct CgroupWatch CgroupWatch;
typedef void (*cgroup_handler_t)(void *userdata);

/* root_fd: the hierarchy's root directory, as cgroup_ids_lookup() is given it (the watch keeps
 * a duplicate, so that it follows the same hierarchy whatever becomes of the mount point). */
int cgroup_watch_new(sd_event *event, int root_fd, cgroup_handler_t handler, void *userdata,
                     CgroupWatch **ret);
int cgroup_watch_set(CgroupWatch *w, char *const *paths, size_t n_paths);
CgroupWatch *cgroup_watch_free(CgroupWatch *w);
DEFINE_FREEP(CgroupWatch, cgroup_watch_free)

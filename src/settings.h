/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "contract/cgroup-path.h"
#include "contract/endpoint.h"
#include "contract/settings-keys.h"
#include "contract/tunnel-name.h"
#include "error.h"
#include "macro.h"

/* ExemptCgroups or ScopedCgroups: cgroup v2 paths (contract/cgroup-path.h), unique, in the
 * order given, at most CGROUPS_MAX. */
typedef struct CgroupList {
        char **paths;
        size_t n;
} CgroupList;

/* 'field' names the setting in the message. */
int cgroup_list_add(CgroupList *l, const char *field, const char *path, Error *error);
int cgroup_list_remove(CgroupList *l, const char *path);
void cgroup_list_clear(CgroupList *l);
bool cgroup_list_equal(const CgroupList *a, const CgroupList *b);

/* The daemon's whole configuration: one value, replaced as a whole. */
typedef struct Settings {
        bool enabled;
        bool persistent;
        bool allow_lan;
        bool allow_dhcp;
        uint32_t endpoint_mark;
        bool endpoint_any_user; /* not only root's sockets (and the kernel's) may reach endpoints */
        char **tunnels;         /* unique, in the order given */
        size_t n_tunnels;
        Endpoint *endpoints; /* sorted by endpoint_compare(), unique */
        size_t n_endpoints;
        size_t n_endpoints_allocated;
        CgroupList exempt_cgroups; /* their sockets may leave outside the tunnels */
        bool scoped;               /* Scope "cgroups": only scoped_cgroups' sockets are held */
        CgroupList scoped_cgroups;
} Settings;

void settings_init(Settings *s);
void settings_done(Settings *s);
int settings_copy(const Settings *s, Settings *ret);
bool settings_equal(const Settings *a, const Settings *b);
bool settings_tunnels_equal(const Settings *a, const Settings *b);
bool settings_endpoints_equal(const Settings *a, const Settings *b);

/* Scope: "system" (false) or "cgroups" (true). */
const char *scope_to_string(bool scoped);
int scope_from_string(const char *field, const char *value, bool *ret, Error *error);

/* The fail-closed fallback: enabled, nothing but loopback allowed. */
void settings_init_block_all(Settings *s);

bool settings_has_tunnel(const Settings *s, const char *name);
int settings_add_tunnel(Settings *s, const char *name, Error *error);
int settings_remove_tunnel(Settings *s, const char *name);
void settings_clear_tunnels(Settings *s);

/* Both keep the array sorted and unique; add collapses duplicates, remove returns -ENOENT.
 * Removing never shrinks the array, so adding back what was just removed cannot fail. */
int settings_add_endpoint(Settings *s, const Endpoint *e, Error *error);
int settings_remove_endpoint(Settings *s, const Endpoint *e);
/* Calls 'f' for each endpoint of 'old' not in 'new' (add false) and each of 'new' not in 'old'
 * (add true), in endpoint order: one merge of the two sorted arrays. Stops at the first
 * negative return of 'f', and returns it. */
typedef int (*endpoint_change_fn)(const Endpoint *e, bool add, void *userdata);
int settings_endpoints_diff(const Settings *old, const Settings *new, endpoint_change_fn f,
                            void *userdata);
/* Bulk loading: append in any order, then sort, collapse duplicates and check the limit. */
int settings_append_endpoint(Settings *s, const Endpoint *e);
int settings_normalize_endpoints(Settings *s, Error *error);

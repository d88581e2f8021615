/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <string.h>

#include "settings.h"

void settings_init(Settings *s) {
        *s = (Settings){.allow_dhcp = true};
}

void settings_init_block_all(Settings *s) {
        *s = (Settings){.enabled = true, .allow_dhcp = false};
}

void settings_clear_tunnels(Settings *s) {
        for (size_t i = 0; i < s->n_tunnels; i++)
                free(s->tunnels[i]);
        free(s->tunnels);
        s->tunnels = NULL;
        s->n_tunnels = 0;
}

void cgroup_list_clear(CgroupList *l) {
        for (size_t i = 0; i < l->n; i++)
                free(l->paths[i]);
        free(l->paths);
        *l = (CgroupList){};
}

/* As settings_add_tunnel(), for paths: their own validator, limit and message. */
int cgroup_list_add(CgroupList *l, const char *field, const char *path, Error *error) {
        _cleanup_(freep) char *copy = NULL;
        char **v;
        int r;

        r = cgroup_path_validate(field, path, error);
        if (r < 0)
                return r;
        for (size_t i = 0; i < l->n; i++)
                if (strcmp(l->paths[i], path) == 0)
                        return 0;
        if (l->n >= CGROUPS_MAX)
                return error_set(error, ERROR_LIMIT, -E2BIG, "%s: more than %d entries", field,
                                 CGROUPS_MAX);
        copy = strdup(path);
        if (!copy)
                return -ENOMEM;
        v = reallocarray(l->paths, l->n + 1, sizeof(char *));
        if (!v)
                return -ENOMEM;
        v[l->n++] = TAKE_PTR(copy);
        l->paths = v;
        return 0;
}

int cgroup_list_remove(CgroupList *l, const char *path) {
        for (size_t i = 0; i < l->n; i++)
                if (strcmp(l->paths[i], path) == 0) {
                        free(l->paths[i]);
                        memmove(l->paths + i, l->paths + i + 1, (l->n - i - 1) * sizeof(char *));
                        l->n--;
                        return 0;
                }
        return -ENOENT;
}

bool cgroup_list_equal(const CgroupList *a, const CgroupList *b) {
        if (a->n != b->n)
                return false;
        for (size_t i = 0; i < a->n; i++)
                if (strcmp(a->paths[i], b->paths[i]) != 0)
                        return false;
        return true;
}

/* Valid paths already: only memory can fail. */
static int cgroup_list_copy(const CgroupList *l, CgroupList *ret) {
        *ret = (CgroupList){};
        for (size_t i = 0; i < l->n; i++) {
                int r = cgroup_list_add(ret, "", l->paths[i], NULL);

                if (r < 0)
                        return r;
        }
        return 0;
}

const char *scope_to_string(bool scoped) {
        return scoped ? "cgroups" : "system";
}

int scope_from_string(const char *field, const char *value, bool *ret, Error *error) {
        if (strcmp(value, "system") == 0 || strcmp(value, "cgroups") == 0) {
                *ret = value[0] == 'c';
                return 0;
        }
        return error_set(error, ERROR_INVALID, -EINVAL,
                         "%s: \"%.32s\" is neither \"system\" nor \"cgroups\"", field, value);
}

void settings_done(Settings *s) {
        if (!s)
                return;
        settings_clear_tunnels(s);
        free(s->endpoints);
        cgroup_list_clear(&s->exempt_cgroups);
        cgroup_list_clear(&s->scoped_cgroups);
        settings_init(s);
}

int settings_copy(const Settings *s, Settings *ret) {
        Settings c = *s;

        c.tunnels = NULL;
        c.endpoints = NULL;
        c.n_tunnels = c.n_endpoints = c.n_endpoints_allocated = 0;
        c.exempt_cgroups = c.scoped_cgroups = (CgroupList){};

        if (cgroup_list_copy(&s->exempt_cgroups, &c.exempt_cgroups) < 0 ||
            cgroup_list_copy(&s->scoped_cgroups, &c.scoped_cgroups) < 0) {
                settings_done(&c);
                return -ENOMEM;
        }

        if (s->n_tunnels > 0) {
                c.tunnels = calloc(s->n_tunnels, sizeof(char *));
                if (!c.tunnels)
                        return -ENOMEM;
                for (; c.n_tunnels < s->n_tunnels; c.n_tunnels++) {
                        c.tunnels[c.n_tunnels] = strdup(s->tunnels[c.n_tunnels]);
                        if (!c.tunnels[c.n_tunnels]) {
                                settings_done(&c);
                                return -ENOMEM;
                        }
                }
        }
        if (s->n_endpoints > 0) {
                c.endpoints = malloc(s->n_endpoints * sizeof(Endpoint));
                if (!c.endpoints) {
                        settings_done(&c);
                        return -ENOMEM;
                }
                memcpy(c.endpoints, s->endpoints, s->n_endpoints * sizeof(Endpoint));
                c.n_endpoints = c.n_endpoints_allocated = s->n_endpoints;
        }
        *ret = c;
        return 0;
}

bool settings_tunnels_equal(const Settings *a, const Settings *b) {
        if (a->n_tunnels != b->n_tunnels)
                return false;
        for (size_t i = 0; i < a->n_tunnels; i++)
                if (strcmp(a->tunnels[i], b->tunnels[i]) != 0)
                        return false;
        return true;
}

bool settings_endpoints_equal(const Settings *a, const Settings *b) {
        if (a->n_endpoints != b->n_endpoints)
                return false;
        for (size_t i = 0; i < a->n_endpoints; i++)
                if (endpoint_compare(&a->endpoints[i], &b->endpoints[i]) != 0)
                        return false;
        return true;
}

int settings_endpoints_diff(const Settings *old, const Settings *new, endpoint_change_fn f,
                            void *userdata) {
        for (size_t i = 0, j = 0; i < old->n_endpoints || j < new->n_endpoints;) {
                int c = i == old->n_endpoints ? 1
                        : j == new->n_endpoints
                                ? -1
                                : endpoint_compare(&old->endpoints[i], &new->endpoints[j]);
                int r = 0;

                if (c == 0)
                        i++, j++;
                else if (c < 0)
                        r = f(&old->endpoints[i++], false, userdata);
                else
                        r = f(&new->endpoints[j++], true, userdata);
                if (r < 0)
                        return r;
        }
        return 0;
}

bool settings_equal(const Settings *a, const Settings *b) {
        return a->enabled == b->enabled && a->persistent == b->persistent &&
               a->allow_lan == b->allow_lan && a->allow_dhcp == b->allow_dhcp &&
               a->endpoint_mark == b->endpoint_mark &&
               a->endpoint_any_user == b->endpoint_any_user && settings_tunnels_equal(a, b) &&
               settings_endpoints_equal(a, b) && a->scoped == b->scoped &&
               cgroup_list_equal(&a->exempt_cgroups, &b->exempt_cgroups) &&
               cgroup_list_equal(&a->scoped_cgroups, &b->scoped_cgroups);
}

bool settings_has_tunnel(const Settings *s, const char *name) {
        for (size_t i = 0; i < s->n_tunnels; i++)
                if (strcmp(s->tunnels[i], name) == 0)
                        return true;
        return false;
}

int settings_add_tunnel(Settings *s, const char *name, Error *error) {
        _cleanup_(freep) char *copy = NULL;
        char **t;
        int r;

        r = tunnel_name_validate(name, error);
        if (r < 0)
                return r;
        if (settings_has_tunnel(s, name))
                return 0;
        if (s->n_tunnels >= TUNNELS_MAX)
                return error_set(error, ERROR_LIMIT, -E2BIG, "Tunnels: more than %d entries",
                                 TUNNELS_MAX);

        copy = strdup(name);
        if (!copy)
                return -ENOMEM;
        t = realloc(s->tunnels, (s->n_tunnels + 1) * sizeof(char *));
        if (!t)
                return -ENOMEM;
        t[s->n_tunnels++] = TAKE_PTR(copy);
        s->tunnels = t;
        return 0;
}

int settings_remove_tunnel(Settings *s, const char *name) {
        for (size_t i = 0; i < s->n_tunnels; i++)
                if (strcmp(s->tunnels[i], name) == 0) {
                        free(s->tunnels[i]);
                        memmove(s->tunnels + i, s->tunnels + i + 1,
                                (s->n_tunnels - i - 1) * sizeof(char *));
                        s->n_tunnels--;
                        return 0;
                }
        return -ENOENT;
}

static int endpoint_compare_qsort(const void *a, const void *b) {
        return endpoint_compare(a, b);
}

/* Binary search: index of e, or where it would go. */
static size_t endpoint_find(const Settings *s, const Endpoint *e, bool *found) {
        size_t lo = 0, hi = s->n_endpoints;

        while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;
                int c = endpoint_compare(&s->endpoints[mid], e);

                if (c == 0) {
                        *found = true;
                        return mid;
                }
                if (c < 0)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        *found = false;
        return lo;
}

/* Room for one more, doubling: growth is amortized O(1). */
static int endpoints_reserve(Settings *s) {
        size_t n = s->n_endpoints_allocated ? 2 * s->n_endpoints_allocated : 16;
        Endpoint *v;

        if (s->n_endpoints < s->n_endpoints_allocated)
                return 0;
        v = realloc(s->endpoints, n * sizeof(Endpoint));
        if (!v)
                return -ENOMEM;
        s->endpoints = v;
        s->n_endpoints_allocated = n;
        return 0;
}

int settings_add_endpoint(Settings *s, const Endpoint *e, Error *error) {
        Endpoint *v;
        bool found;
        size_t i;
        int r;

        i = endpoint_find(s, e, &found);
        if (found)
                return 0;
        if (s->n_endpoints >= ENDPOINTS_MAX)
                return error_set(error, ERROR_LIMIT, -E2BIG, "Endpoints: more than %d entries",
                                 ENDPOINTS_MAX);

        r = endpoints_reserve(s);
        if (r < 0)
                return r;
        v = s->endpoints;
        memmove(v + i + 1, v + i, (s->n_endpoints - i) * sizeof(Endpoint));
        v[i] = *e;
        s->n_endpoints++;
        return 0;
}

int settings_remove_endpoint(Settings *s, const Endpoint *e) {
        bool found;
        size_t i;

        i = endpoint_find(s, e, &found);
        if (!found)
                return -ENOENT;
        memmove(s->endpoints + i, s->endpoints + i + 1,
                (s->n_endpoints - i - 1) * sizeof(Endpoint));
        s->n_endpoints--;
        return 0;
}

int settings_append_endpoint(Settings *s, const Endpoint *e) {
        int r = endpoints_reserve(s);

        if (r < 0)
                return r;
        s->endpoints[s->n_endpoints++] = *e;
        return 0;
}

int settings_normalize_endpoints(Settings *s, Error *error) {
        size_t n = 0;

        if (s->n_endpoints == 0)
                return 0;
        qsort(s->endpoints, s->n_endpoints, sizeof(Endpoint), endpoint_compare_qsort);
        for (size_t i = 1; i < s->n_endpoints; i++)
                if (endpoint_compare(&s->endpoints[n], &s->endpoints[i]) != 0)
                        s->endpoints[++n] = s->endpoints[i];
        s->n_endpoints = n + 1;
        if (s->n_endpoints > ENDPOINTS_MAX)
                return error_set(error, ERROR_LIMIT, -E2BIG, "Endpoints: %zu entries, more than %d",
                                 s->n_endpoints, ENDPOINTS_MAX);
        return 0;
}

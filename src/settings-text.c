/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The settings' saved form (docs/state-file.md): a snapshot, and the changes appended to it. */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "settings-text.h"

static const char *bool_to_string(bool b) {
        return b ? "true" : "false";
}

static int endpoint_line(FILE *f, const char *prefix, const Endpoint *e) {
        char text[ENDPOINT_TEXT_MAX];

        if (endpoint_format(e, text, sizeof(text)) < 0)
                return -EINVAL;
        fprintf(f, "%sEndpoint=%s\n", prefix, text);
        return 0;
}

int settings_to_text(const Settings *s, char **ret) {
        _cleanup_(freep) char *buf = NULL;
        size_t size = 0;
        FILE *f;
        int r = 0;

        f = open_memstream(&buf, &size);
        if (!f)
                return -ENOMEM;
        fprintf(f,
                "# killswitchd settings; written by the daemon, see killswitchd(8)\n"
                "version=2\n"
                "Enabled=%s\nPersistent=%s\nAllowLan=%s\nAllowDhcp=%s\nEndpointMark=%" PRIu32 "\n"
                "EndpointAnyUser=%s\n",
                bool_to_string(s->enabled), bool_to_string(s->persistent),
                bool_to_string(s->allow_lan), bool_to_string(s->allow_dhcp), s->endpoint_mark,
                bool_to_string(s->endpoint_any_user));
        /* Per-application rules only when used: a file without them reads the same to a daemon
         * older than they are. */
        if (s->scoped)
                fprintf(f, "Scope=%s\n", scope_to_string(s->scoped));
        for (size_t i = 0; i < s->n_tunnels; i++)
                fprintf(f, "Tunnel=%s\n", s->tunnels[i]);
        for (size_t i = 0; i < s->exempt_cgroups.n; i++)
                fprintf(f, "ExemptCgroup=%s\n", s->exempt_cgroups.paths[i]);
        for (size_t i = 0; i < s->scoped_cgroups.n; i++)
                fprintf(f, "ScopedCgroup=%s\n", s->scoped_cgroups.paths[i]);
        for (size_t i = 0; r >= 0 && i < s->n_endpoints; i++)
                r = endpoint_line(f, "", &s->endpoints[i]);
        fputs("end\n", f);
        if (fclose(f) != 0)
                return -ENOMEM;
        if (r < 0)
                return r;
        *ret = TAKE_PTR(buf);
        return 0;
}

static bool listed(char *const *v, size_t n, const char *s) {
        for (size_t i = 0; i < n; i++)
                if (strcmp(v[i], s) == 0)
                        return true;
        return false;
}

/* A list of names (Tunnel, ExemptCgroup, ScopedCgroup): names gone are removed; new ones are
 * appended. When the names kept are not, in order, the start of the new list, all are removed and
 * the new list added whole: the order is part of the value. */
static void list_changes_to_text(const char *key, char *const *old, size_t n_old, char *const *new,
                                 size_t n_new, FILE *f) {
        size_t kept = 0;
        bool in_order = true;

        for (size_t i = 0; i < n_old; i++)
                if (listed(new, n_new, old[i])) {
                        if (strcmp(old[i], new[kept]) != 0)
                                in_order = false;
                        kept++;
                }
        for (size_t i = 0; i < n_old; i++)
                if (!in_order || !listed(new, n_new, old[i]))
                        fprintf(f, "-%s=%s\n", key, old[i]);
        for (size_t i = in_order ? kept : 0; i < n_new; i++)
                fprintf(f, "+%s=%s\n", key, new[i]);
}

typedef struct ChangeLines {
        FILE *f;
        size_t max;
} ChangeLines;

/* "+Endpoint=" or "-Endpoint=", until the text is longer than 'max'. */
static int endpoint_change_line(const Endpoint *e, bool add, void *userdata) {
        ChangeLines *c = userdata;
        int r = endpoint_line(c->f, add ? "+" : "-", e);

        if (r < 0)
                return r;
        return (size_t)ftell(c->f) > c->max ? -EFBIG : 0;
}

int settings_changes_to_text(const Settings *old, const Settings *new, size_t max, FILE *f) {
        int r;

#define CHANGED_BOOL(key, field)                                                                   \
        if (old->field != new->field)                                                              \
        fprintf(f, key "=%s\n", bool_to_string(new->field))
        CHANGED_BOOL("Enabled", enabled);
        CHANGED_BOOL("Persistent", persistent);
        CHANGED_BOOL("AllowLan", allow_lan);
        CHANGED_BOOL("AllowDhcp", allow_dhcp);
        CHANGED_BOOL("EndpointAnyUser", endpoint_any_user);
#undef CHANGED_BOOL
        if (old->endpoint_mark != new->endpoint_mark)
                fprintf(f, "EndpointMark=%" PRIu32 "\n", new->endpoint_mark);
        if (old->scoped != new->scoped)
                fprintf(f, "Scope=%s\n", scope_to_string(new->scoped));
        list_changes_to_text("Tunnel", old->tunnels, old->n_tunnels, new->tunnels, new->n_tunnels,
                             f);
        list_changes_to_text("ExemptCgroup", old->exempt_cgroups.paths, old->exempt_cgroups.n,
                             new->exempt_cgroups.paths, new->exempt_cgroups.n, f);
        list_changes_to_text("ScopedCgroup", old->scoped_cgroups.paths, old->scoped_cgroups.n,
                             new->scoped_cgroups.paths, new->scoped_cgroups.n, f);

        r = settings_endpoints_diff(old, new, endpoint_change_line,
                                    &(ChangeLines){.f = f, .max = max});
        if (r < 0)
                return r;
        return (size_t)ftell(f) > max ? -EFBIG : 0;
}

int settings_endpoint_change_to_text(const Endpoint *e, bool add, FILE *f) {
        return endpoint_line(f, add ? "+" : "-", e);
}

static int parse_bool(const char *key, const char *v, bool *ret, Error *error) {
        if (strcmp(v, "true") == 0)
                *ret = true;
        else if (strcmp(v, "false") == 0)
                *ret = false;
        else
                return error_set(error, ERROR_INVALID, -EINVAL,
                                 "%s: \"%.32s\" is neither true nor false", key, v);
        return 0;
}

static int parse_u32(const char *key, const char *v, uint32_t *ret, Error *error) {
        uint64_t x = 0;

        if (!*v || strlen(v) > 10)
                return error_set(error, ERROR_INVALID, -EINVAL, "%s: \"%.32s\" is not a number",
                                 key, v);
        for (const char *p = v; *p; p++) {
                if (*p < '0' || *p > '9')
                        return error_set(error, ERROR_INVALID, -EINVAL,
                                         "%s: \"%.32s\" is not a number", key, v);
                x = x * 10 + (uint64_t)(*p - '0');
        }
        if (x > UINT32_MAX)
                return error_set(error, ERROR_INVALID, -ERANGE, "%s: %.32s is out of range", key,
                                 v);
        *ret = x;
        return 0;
}

static int endpoint_from_text(const char *v, Endpoint *ret, Error *error) {
        char addr[64], proto[8], extra;
        uint32_t port;

        if (sscanf(v, "%63s %10" SCNu32 " %7s %c", addr, &port, proto, &extra) != 3)
                return error_set(error, ERROR_INVALID, -EINVAL,
                                 "Endpoint: \"%.80s\" is not \"ADDRESS PORT PROTOCOL\"", v);
        return endpoint_parse(addr, port, proto, ret, error);
}

/* A scalar "Key=value", named as in the contract; 'seen', when given, guards against repeated
 * keys. */
static int parse_scalar(Settings *s, const char *key, const char *v, unsigned *seen, Error *error) {
        int k = setting_key_from_name(key);

        /* The lists have lines of their own, one an entry ("Tunnel=", "Endpoint=", ...). */
        if (k < 0 || k == SETTING_TUNNELS || k == SETTING_ENDPOINTS ||
            k == SETTING_EXEMPT_CGROUPS || k == SETTING_SCOPED_CGROUPS)
                return error_set(error, ERROR_INVALID, -EINVAL, "unknown key \"%.32s\"", key);
        if (seen && (*seen & (1u << k)))
                return error_set(error, ERROR_INVALID, -EINVAL, "%s: given twice", key);
        if (seen)
                *seen |= 1u << k;
        switch (k) {
        case SETTING_ENABLED: return parse_bool(key, v, &s->enabled, error);
        case SETTING_PERSISTENT: return parse_bool(key, v, &s->persistent, error);
        case SETTING_ALLOW_LAN: return parse_bool(key, v, &s->allow_lan, error);
        case SETTING_ALLOW_DHCP: return parse_bool(key, v, &s->allow_dhcp, error);
        case SETTING_ENDPOINT_MARK: return parse_u32(key, v, &s->endpoint_mark, error);
        case SETTING_SCOPE: return scope_from_string(key, v, &s->scoped, error);
        default: return parse_bool(key, v, &s->endpoint_any_user, error);
        }
}

/* Cuts "Key=value" in two, in place: 'line' is the key, *ret the value. */
static int split_line(char *line, char **ret, Error *error) {
        char *v = strchr(line, '=');

        if (!v)
                return error_set(error, ERROR_INVALID, -EINVAL, "line \"%.64s\" is not Key=value",
                                 line);
        *v++ = '\0';
        *ret = v;
        return 0;
}

/* One "Key=value" line of a snapshot. */
static int parse_line(Settings *s, char *line, unsigned *seen, Error *error) {
        Endpoint e;
        char *v = NULL;
        int r;

        r = split_line(line, &v, error);
        if (r < 0)
                return r;

        if (strcmp(line, "Tunnel") == 0)
                return settings_add_tunnel(s, v, error);
        if (strcmp(line, "ExemptCgroup") == 0)
                return cgroup_list_add(&s->exempt_cgroups, line, v, error);
        if (strcmp(line, "ScopedCgroup") == 0)
                return cgroup_list_add(&s->scoped_cgroups, line, v, error);
        if (strcmp(line, "Endpoint") == 0) {
                r = endpoint_from_text(v, &e, error);
                if (r < 0)
                        return r;
                /* Appended now, sorted and checked against the limit once at the end. */
                return settings_append_endpoint(s, &e);
        }
        return parse_scalar(s, line, v, seen, error);
}

/* The next line of text at *pos, NUL-terminated in 'buf' (no valid line is longer; comments may
 * be, and are skipped). Returns 0 at the end, 1 for a line, 2 for a blank or comment line. */
static int next_line(const char *text, size_t size, size_t *pos, char buf[static 256],
                     unsigned lineno, Error *error) {
        const char *p = text + *pos, *nl;
        size_t n;

        if (*pos >= size)
                return 0;
        nl = memchr(p, '\n', size - *pos);
        n = nl ? (size_t)(nl - p) : size - *pos;
        *pos += n + (nl != NULL);
        if (memchr(p, '\0', n))
                return error_set(error, ERROR_INVALID, -EBADMSG, "line %u: contains a NUL byte",
                                 lineno);
        if (n == 0 || p[0] == '#')
                return 2;
        if (n >= 256)
                return error_set(error, ERROR_INVALID, -EBADMSG, "line %u: longer than 255 bytes",
                                 lineno);
        memcpy(buf, p, n);
        buf[n] = '\0';
        return 1;
}

int settings_from_text(const char *text, size_t size, Settings *ret, size_t *ret_size,
                       Error *error) {
        _cleanup_(settings_done) Settings s = {.allow_dhcp = true};
        unsigned version = 0, seen = 0, lineno = 0;
        size_t pos = 0;
        char line[256];
        int r;

        for (;;) {
                r = next_line(text, size, &pos, line, ++lineno, error);
                if (r < 0)
                        return r;
                if (r == 0)
                        /* A missing "end" means the file was cut short. */
                        return error_set(error, ERROR_INVALID, -EBADMSG,
                                         "truncated: no \"%s\" line",
                                         version > 0 ? "end" : "version=");
                if (r == 2)
                        continue;
                if (version == 0) {
                        if (strcmp(line, "version=1") == 0)
                                version = 1;
                        else if (strcmp(line, "version=2") == 0)
                                version = 2;
                        else
                                return error_set(
                                        error, ERROR_INVALID, -EBADMSG,
                                        "line %u: expected \"version=1\" or \"version=2\", "
                                        "got \"%.32s\"",
                                        lineno, line);
                        continue;
                }
                if (strcmp(line, "end") == 0)
                        break;
                r = parse_line(&s, line, &seen, error);
                if (r < 0) {
                        if (r == -ENOMEM)
                                return r;
                        return error_prefix(error, -EBADMSG, "line %u: ", lineno);
                }
        }
        /* Only version 2 has changes after the snapshot. */
        if (pos < size && (version == 1 || !ret_size))
                return error_set(error, ERROR_INVALID, -EBADMSG, "line %u: text after \"end\"",
                                 lineno + 1);
        if (settings_normalize_endpoints(&s, error) < 0)
                return -EBADMSG;

        if (ret_size)
                *ret_size = pos;
        *ret = s;
        settings_init(&s);
        return (int)version;
}

void settings_changes_done(SettingsChanges *c) {
        free(c->endpoints);
        *c = (SettingsChanges){};
}

static int changes_push(SettingsChanges *c, const Endpoint *e, bool add, unsigned line) {
        if (c->n_endpoints == c->n_allocated) {
                size_t n = c->n_allocated ? 2 * c->n_allocated : 16;
                EndpointChange *v = realloc(c->endpoints, n * sizeof(EndpointChange));

                if (!v)
                        return -ENOMEM;
                c->endpoints = v;
                c->n_allocated = n;
        }
        c->endpoints[c->n_endpoints++] = (EndpointChange){.endpoint = *e, .add = add, .line = line};
        return 0;
}

/* "+ExemptCgroup=", "-ScopedCgroup=" and the like: as "+Tunnel=" and "-Tunnel=". */
static int cgroup_change_from_line(Settings *s, const char *key, const char *v, Error *error) {
        CgroupList *l = key[1] == 'E' ? &s->exempt_cgroups : &s->scoped_cgroups;

        if (key[0] == '-') {
                if (cgroup_list_remove(l, v) < 0)
                        return error_set(error, ERROR_INVALID, -EINVAL,
                                         "%s: \"%.64s\" is not in the list", key, v);
                return 0;
        }
        if (listed(l->paths, l->n, v))
                return error_set(error, ERROR_INVALID, -EINVAL,
                                 "%s: \"%.64s\" is already in the list", key, v);
        return cgroup_list_add(l, key + 1, v, error);
}

/* As parse_line() reads a snapshot's line, with a change's keys instead: "+Tunnel=", "-Tunnel=",
 * "+Endpoint=", "-Endpoint=", and scalars given again. */
int settings_change_from_line(Settings *s, SettingsChanges *c, char *line, unsigned lineno,
                              Error *error) {
        Endpoint e;
        char *v = NULL;
        int r;

        r = split_line(line, &v, error);
        if (r < 0)
                return r;

        if (strcmp(line, "+Tunnel") == 0) {
                if (settings_has_tunnel(s, v))
                        return error_set(error, ERROR_INVALID, -EINVAL,
                                         "+Tunnel: \"%s\" is already in the list", v);
                return settings_add_tunnel(s, v, error);
        }
        if (strcmp(line, "-Tunnel") == 0) {
                if (settings_remove_tunnel(s, v) < 0)
                        return error_set(error, ERROR_INVALID, -EINVAL,
                                         "-Tunnel: \"%.32s\" is not in the list", v);
                return 0;
        }
        if ((line[0] == '+' || line[0] == '-') &&
            (strcmp(line + 1, "ExemptCgroup") == 0 || strcmp(line + 1, "ScopedCgroup") == 0))
                return cgroup_change_from_line(s, line, v, error);
        if (strcmp(line, "+Endpoint") == 0 || strcmp(line, "-Endpoint") == 0) {
                r = endpoint_from_text(v, &e, error);
                if (r < 0)
                        return r;
                return changes_push(c, &e, line[0] == '+', lineno);
        }
        /* Scalars may change again in a later change; the last one counts. */
        return parse_scalar(s, line, v, NULL, error);
}

static int endpoint_change_compare(const void *a, const void *b) {
        const EndpointChange *x = a, *y = b;
        int r = endpoint_compare(&x->endpoint, &y->endpoint);

        if (r != 0)
                return r;
        return x->line < y->line ? -1 : x->line > y->line;
}

int settings_changes_apply(Settings *s, SettingsChanges *c, Error *error) {
        _cleanup_(freep) Endpoint *v = NULL;
        size_t n = 0, i = 0, room;

        if (c->n_endpoints == 0)
                return 0;
        /* By endpoint, then in the order written: each endpoint's changes replayed on its own. */
        qsort(c->endpoints, c->n_endpoints, sizeof(EndpointChange), endpoint_change_compare);
        room = s->n_endpoints + c->n_endpoints;
        v = malloc(room * sizeof(Endpoint));
        if (!v)
                return -ENOMEM;
        for (size_t j = 0, k; j < c->n_endpoints; j = k) {
                const Endpoint *e = &c->endpoints[j].endpoint;
                bool present;

                while (i < s->n_endpoints && endpoint_compare(&s->endpoints[i], e) < 0)
                        v[n++] = s->endpoints[i++];
                present = i < s->n_endpoints && endpoint_compare(&s->endpoints[i], e) == 0;
                if (present)
                        i++;
                for (k = j;
                     k < c->n_endpoints && endpoint_compare(&c->endpoints[k].endpoint, e) == 0;
                     k++) {
                        if (c->endpoints[k].add == present) {
                                char text[ENDPOINT_TEXT_MAX];

                                (void)endpoint_format(e, text, sizeof(text));
                                return error_set(
                                        error, ERROR_INVALID, -EINVAL, "line %u: %cEndpoint=%s: %s",
                                        c->endpoints[k].line, present ? '+' : '-', text,
                                        present ? "already in the list" : "not in the list");
                        }
                        present = c->endpoints[k].add;
                }
                if (present)
                        v[n++] = *e;
        }
        if (i < s->n_endpoints)
                memcpy(v + n, s->endpoints + i, (s->n_endpoints - i) * sizeof(Endpoint));
        n += s->n_endpoints - i;
        if (n > ENDPOINTS_MAX)
                return error_set(error, ERROR_LIMIT, -E2BIG, "Endpoints: %zu entries, more than %d",
                                 n, ENDPOINTS_MAX);

        free(s->endpoints);
        s->endpoints = TAKE_PTR(v);
        s->n_endpoints = n;
        s->n_endpoints_allocated = room;
        c->n_endpoints = 0;
        return 0;
}

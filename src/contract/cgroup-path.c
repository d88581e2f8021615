/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "contract/cgroup-path.h"

/* The length of the UTF-8 sequence at s, 0 if it is not one. */
static size_t utf8_sequence(const unsigned char *s) {
        size_t n = *s < 0x80             ? 1
                   : (*s & 0xe0) == 0xc0 ? 2
                   : (*s & 0xf0) == 0xe0 ? 3
                   : (*s & 0xf8) == 0xf0 ? 4
                                         : 0;

        if (n == 2 && *s < 0xc2)
                return 0; /* overlong */
        for (size_t i = 1; i < n; i++)
                if ((s[i] & 0xc0) != 0x80)
                        return 0;
        return n;
}

int cgroup_path_validate(const char *field, const char *path, Error *error) {
        size_t len = strlen(path);
        unsigned level = 0;

        if (len == 0)
                return error_set(error, ERROR_INVALID, -EINVAL, "%s: empty cgroup path", field);
        if (len > CGROUP_PATH_MAX)
                return error_set(error, ERROR_INVALID, -EINVAL,
                                 "%s: \"%.32s...\" is longer than %d bytes", field, path,
                                 CGROUP_PATH_MAX);
        if (path[0] == '/')
                return error_set(error, ERROR_INVALID, -EINVAL,
                                 "%s: \"%.64s\" is absolute; give it relative to the cgroup2 "
                                 "root, without the leading '/'",
                                 field, path);
        for (const char *p = path; *p;) {
                const char *end = strchrnul(p, '/');
                size_t n = (size_t)(end - p);

                if (n == 0 || (n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.'))
                        return error_set(error, ERROR_INVALID, -EINVAL,
                                         "%s: \"%.64s\" has an empty, \".\" or \"..\" component",
                                         field, path);
                for (const char *c = p; c < end;) {
                        size_t k = utf8_sequence((const unsigned char *)c);

                        if (k == 0 || (k == 1 && ((unsigned char)*c < 0x20 || *c == 0x7f)))
                                return error_set(error, ERROR_INVALID, -EINVAL,
                                                 "%s: the path is not printable UTF-8", field);
                        c += k;
                }
                if (++level > CGROUP_LEVEL_MAX)
                        return error_set(error, ERROR_INVALID, -EINVAL,
                                         "%s: \"%.64s\" is deeper than %d levels", field, path,
                                         CGROUP_LEVEL_MAX);
                p = *end ? end + 1 : end;
                if (*end && !*p)
                        return error_set(error, ERROR_INVALID, -EINVAL,
                                         "%s: \"%.64s\" ends with '/'", field, path);
        }
        return 0;
}

unsigned cgroup_path_level(const char *path) {
        unsigned level = *path ? 1 : 0;

        for (const char *p = path; *p; p++)
                level += *p == '/';
        return level;
}

/* A slice name's prefix (without ".slice"): unit name characters, '-' only between parts. */
static bool slice_prefix_valid(const char *p, size_t n) {
        if (n == 0 || p[0] == '-' || p[n - 1] == '-')
                return false;
        for (size_t i = 0; i < n; i++) {
                bool ok = (p[i] >= 'a' && p[i] <= 'z') || (p[i] >= 'A' && p[i] <= 'Z') ||
                          (p[i] >= '0' && p[i] <= '9') || strchr(":_.\\-", p[i]);

                if (!ok || (p[i] == '-' && p[i + 1] == '-'))
                        return false;
        }
        return true;
}

static const char slice_suffix[] = ".slice";
#define SLICE_SUFFIX_LEN (sizeof(slice_suffix) - 1)

/* The length of 'name' without ".slice", or 0 if it does not end so. */
static size_t slice_prefix_len(const char *name, size_t n) {
        if (n <= SLICE_SUFFIX_LEN ||
            memcmp(name + n - SLICE_SUFFIX_LEN, slice_suffix, SLICE_SUFFIX_LEN) != 0)
                return 0;
        return n - SLICE_SUFFIX_LEN;
}

int cgroup_path_from_slice(const char *unit, char **ret) {
        size_t n = slice_prefix_len(unit, strlen(unit)), len = 0;
        char *path;

        if (n == 0 || !slice_prefix_valid(unit, n))
                return -EINVAL;
        /* One component per '-': "a.slice/" then "a-b.slice/" ... then the unit itself. */
        for (size_t i = 0; i <= n; i++)
                if (i == n || unit[i] == '-')
                        len += i + SLICE_SUFFIX_LEN + 1;
        if (len > CGROUP_PATH_MAX + 1)
                return -EINVAL;
        path = malloc(len);
        if (!path)
                return -ENOMEM;
        len = 0;
        for (size_t i = 0; i <= n; i++)
                if (i == n || unit[i] == '-')
                        len += (size_t)sprintf(path + len, "%s%.*s%s", len ? "/" : "", (int)i, unit,
                                               slice_suffix);
        *ret = path;
        return 0;
}

int cgroup_path_to_slice(const char *path, char **ret) {
        const char *last = strrchr(path, '/');
        _cleanup_(freep) char *want = NULL;
        char *unit;
        int r;

        last = last ? last + 1 : path;
        r = cgroup_path_from_slice(last, &want);
        if (r < 0)
                return r;
        /* The unit's name says where systemd puts it: the path must be exactly that. */
        if (strcmp(want, path) != 0)
                return -EINVAL;
        unit = strdup(last);
        if (!unit)
                return -ENOMEM;
        *ret = unit;
        return 0;
}

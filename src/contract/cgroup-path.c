/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
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

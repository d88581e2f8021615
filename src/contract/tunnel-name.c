/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <string.h>

#include "contract/tunnel-name.h"

bool tunnel_name_is_pattern(const char *name) {
        size_t n = strlen(name);
        return n > 0 && name[n - 1] == '*';
}

int tunnel_name_validate(const char *name, Error *error) {
        size_t n = strnlen(name, TUNNEL_NAME_MAX + 1);

        if (n == 0)
                return error_set(error, ERROR_INVALID, -EINVAL, "Tunnels: empty interface name");
        if (n > TUNNEL_NAME_MAX)
                return error_set(error, ERROR_INVALID, -EINVAL,
                                 "Tunnels: \"%.32s\" is longer than %d bytes", name,
                                 TUNNEL_NAME_MAX);
        /* A bare "*" would match every interface, the physical uplink included. */
        if (strcmp(name, "*") == 0)
                return error_set(
                        error, ERROR_INVALID, -EINVAL,
                        "Tunnels: \"*\" would match every interface; give a prefix (\"tun*\")");
        if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
                return error_set(error, ERROR_INVALID, -EINVAL,
                                 "Tunnels: \"%s\" is not an interface name", name);
        for (size_t i = 0; i < n; i++) {
                unsigned char c = name[i];

                if (c == '*' && i == n - 1)
                        continue;
                /* The kernel forbids '/', ':' and white space; we keep to printable ASCII too. */
                if (c <= ' ' || c >= 0x7f || c == '/' || c == ':' || c == '*')
                        return error_set(error, ERROR_INVALID, -EINVAL,
                                         "Tunnels: \"%s\" has an invalid character at byte %zu",
                                         name, i + 1);
        }
        return 0;
}

bool tunnel_name_matches(const char *pattern, const char *ifname) {
        size_t n = strlen(pattern);

        if (tunnel_name_is_pattern(pattern))
                return strncmp(pattern, ifname, n - 1) == 0;
        return strcmp(pattern, ifname) == 0;
}

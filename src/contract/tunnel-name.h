/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>

#include "error.h"

#define TUNNEL_NAME_MAX 15 /* IFNAMSIZ - 1 */

/* An interface name, or a prefix ending in '*' (docs/dbus-api.md, Tunnels). */
int tunnel_name_validate(const char *name, Error *error);
bool tunnel_name_is_pattern(const char *name);
/* "wg0" matches wg0 only; "tun*" matches every name starting with "tun". */
bool tunnel_name_matches(const char *pattern, const char *ifname);

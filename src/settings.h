/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "macro.h"

/* Limits from the D-Bus contract. */
#define TUNNELS_MAX 32
#define TUNNEL_NAME_MAX 15 /* IFNAMSIZ - 1 */
#define ENDPOINTS_MAX 65536

typedef struct Endpoint {
        uint8_t family;   /* AF_INET or AF_INET6 */
        uint8_t protocol; /* IPPROTO_UDP or IPPROTO_TCP */
        uint16_t port;    /* host byte order, 1..65535 */
        union {
                struct in_addr in;
                struct in6_addr in6;
        } addr;
} Endpoint;

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
} Settings;

void settings_init(Settings *s);
void settings_done(Settings *s);
int settings_copy(const Settings *s, Settings *ret);
bool settings_equal(const Settings *a, const Settings *b);

/* The fail-closed fallback: enabled, nothing but loopback allowed. */
void settings_init_block_all(Settings *s);

int tunnel_name_validate(const char *name, Error *error);
bool tunnel_name_is_pattern(const char *name);
/* "wg0" matches wg0 only; "tun*" matches every name starting with "tun". */
bool tunnel_name_matches(const char *pattern, const char *ifname);
int settings_add_tunnel(Settings *s, const char *name, Error *error);
int settings_remove_tunnel(Settings *s, const char *name);

int endpoint_parse(const char *address, uint32_t port, const char *protocol, Endpoint *ret,
                   Error *error);
int endpoint_compare(const Endpoint *a, const Endpoint *b);
/* "198.51.100.7 51820 udp", "2001:db8::1 443 tcp" */
int endpoint_format(const Endpoint *e, char *buf, size_t size);
const char *endpoint_protocol_name(const Endpoint *e);
const char *endpoint_address(const Endpoint *e, char *buf, size_t size);

/* Both keep the array sorted and unique; add collapses duplicates, remove returns -ENOENT.
 * Removing never shrinks the array, so adding back what was just removed cannot fail. */
int settings_add_endpoint(Settings *s, const Endpoint *e, Error *error);
int settings_remove_endpoint(Settings *s, const Endpoint *e);
/* Bulk loading: append in any order, then sort, collapse duplicates and check the limit. */
int settings_append_endpoint(Settings *s, const Endpoint *e);
int settings_normalize_endpoints(Settings *s, Error *error);

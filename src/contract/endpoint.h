/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"

/* A VPN server reachable outside the tunnel, as the contract has it (docs/dbus-api.md,
 * Endpoints): an IPv4 or IPv6 unicast literal, a port 1..65535, UDP or TCP. */
typedef struct Endpoint {
        uint8_t family;   /* AF_INET or AF_INET6 */
        uint8_t protocol; /* IPPROTO_UDP or IPPROTO_TCP */
        uint16_t port;    /* host byte order, 1..65535 */
        union {
                struct in_addr in;
                struct in6_addr in6;
        } addr;
} Endpoint;

/* Room for endpoint_format()'s text. */
#define ENDPOINT_TEXT_MAX (INET6_ADDRSTRLEN + 16)

/* The three fields of the contract's (sqs), checked; on failure the Error names the field. */
int endpoint_parse(const char *address, uint32_t port, const char *protocol, Endpoint *ret,
                   Error *error);
/* A total order: by family, address, protocol, port. */
int endpoint_compare(const Endpoint *a, const Endpoint *b);
/* "198.51.100.7 51820 udp", "2001:db8::1 443 tcp" */
int endpoint_format(const Endpoint *e, char *buf, size_t size);
const char *endpoint_protocol_name(const Endpoint *e);
const char *endpoint_address(const Endpoint *e, char *buf, size_t size);

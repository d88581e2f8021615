/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "contract/endpoint.h"

int endpoint_parse(const char *address, uint32_t port, const char *protocol, Endpoint *ret,
                   Error *error) {
        Endpoint e = {};

        /* inet_pton() takes literals only: no host names, no shorthand like "10.1", no scope ids.
         */
        if (inet_pton(AF_INET, address, &e.addr.in) == 1) {
                e.family = AF_INET;
                if (e.addr.in.s_addr == htonl(INADDR_ANY) ||
                    e.addr.in.s_addr == htonl(INADDR_BROADCAST) ||
                    IN_MULTICAST(ntohl(e.addr.in.s_addr)))
                        return error_set(error, ERROR_INVALID, -EINVAL,
                                         "Endpoints: address \"%s\" is not a unicast address",
                                         address);
        } else if (inet_pton(AF_INET6, address, &e.addr.in6) == 1) {
                e.family = AF_INET6;
                if (IN6_IS_ADDR_UNSPECIFIED(&e.addr.in6) || IN6_IS_ADDR_MULTICAST(&e.addr.in6))
                        return error_set(error, ERROR_INVALID, -EINVAL,
                                         "Endpoints: address \"%s\" is not a unicast address",
                                         address);
                /* IPv4 traffic never carries a mapped address: the endpoint would never match. */
                if (IN6_IS_ADDR_V4MAPPED(&e.addr.in6))
                        return error_set(error, ERROR_INVALID, -EINVAL,
                                         "Endpoints: address \"%s\" is IPv4-mapped; give the IPv4 "
                                         "literal",
                                         address);
        } else
                return error_set(error, ERROR_INVALID, -EINVAL,
                                 "Endpoints: address \"%.64s\" is not an IPv4 or IPv6 literal",
                                 address);

        if (port < 1 || port > 65535)
                return error_set(error, ERROR_INVALID, -EINVAL,
                                 "Endpoints: port %" PRIu32 " is out of range 1..65535", port);
        e.port = port;

        if (strcmp(protocol, "udp") == 0)
                e.protocol = IPPROTO_UDP;
        else if (strcmp(protocol, "tcp") == 0)
                e.protocol = IPPROTO_TCP;
        else
                return error_set(error, ERROR_INVALID, -EINVAL,
                                 "Endpoints: protocol \"%.16s\" is neither \"udp\" nor \"tcp\"",
                                 protocol);

        *ret = e;
        return 0;
}

static size_t endpoint_addr_size(const Endpoint *e) {
        return e->family == AF_INET ? sizeof(struct in_addr) : sizeof(struct in6_addr);
}

int endpoint_compare(const Endpoint *a, const Endpoint *b) {
        int r;

        if (a->family != b->family)
                return a->family < b->family ? -1 : 1;
        r = memcmp(&a->addr, &b->addr, endpoint_addr_size(a));
        if (r != 0)
                return r;
        if (a->protocol != b->protocol)
                return a->protocol < b->protocol ? -1 : 1;
        if (a->port != b->port)
                return a->port < b->port ? -1 : 1;
        return 0;
}

const char *endpoint_protocol_name(const Endpoint *e) {
        return e->protocol == IPPROTO_TCP ? "tcp" : "udp";
}

const char *endpoint_address(const Endpoint *e, char *buf, size_t size) {
        return inet_ntop(e->family, &e->addr, buf, size);
}

int endpoint_format(const Endpoint *e, char *buf, size_t size) {
        char a[INET6_ADDRSTRLEN];

        if (!endpoint_address(e, a, sizeof(a)))
                return -errno;
        if ((size_t)snprintf(buf, size, "%s %u %s", a, e->port, endpoint_protocol_name(e)) >= size)
                return -ENOBUFS;
        return 0;
}

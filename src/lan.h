/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "network.h"

/* What "the local network" means, decided from the addresses configured on the machine's
 * non-tunnel interfaces and nothing else. Pure: no sockets, no logging. See
 * docs/threat-model.md, "The local-network attacker". */

/* The ranges a LAN prefix may come from: RFC 1918, link-local, RFC 4193 unique local. The
 * network hands out addresses (a DHCP lease, a router advertisement's autoconfigured prefix) and
 * must not thereby make public destinations "LAN". */
extern const LanPrefix lan_private_ranges[];
extern const size_t lan_private_ranges_count;

/* Link-local multicast (mDNS, SSDP, neighbour discovery): never routed off the link. */
extern const LanPrefix lan_link_multicast[];
extern const size_t lan_link_multicast_count;

/* Where DHCP and neighbour discovery may always go, besides the on-link prefixes: the limited
 * broadcast; link-local unicast, all-nodes, all-routers, DHCPv6 servers and relays, and
 * solicited-node multicast. */
extern const LanPrefix onlink_fixed[];
extern const size_t onlink_fixed_count;

/* An address's prefix shorter than these is not "on-link" for DHCP and neighbour discovery:
 * a DHCP server or router is on a subnet no wider, and a wider one would let the DHCP and NDP
 * exceptions reach a good part of the internet. */
#define ONLINK_PREFIXLEN_MIN4 16
#define ONLINK_PREFIXLEN_MIN6 48

/* The subnet of an interface address (host bits cleared); false for another family or a prefix
 * length out of range. */
bool lan_prefix_from_address(int family, const void *addr, unsigned prefixlen, LanPrefix *ret);
bool lan_prefix_is_onlink(const LanPrefix *p);

/* The parts of 'p' that lie inside the private ranges: 'p' itself when it is inside one, each
 * range that 'p' is wider than (10.1.2.3/4 gives 10.0.0.0/8; fc00::/6 gives fc00::/7 and
 * fe80::/10). Returns how many, at most lan_private_ranges_count. */
size_t lan_prefix_private_parts(const LanPrefix *p, LanPrefix *ret);

bool lan_prefix_contains(const LanPrefix *outer, const LanPrefix *inner);
int lan_prefix_compare(const LanPrefix *a, const LanPrefix *b);
/* Sorts and drops duplicates; returns the new count. */
size_t lan_prefixes_normalize(LanPrefix *v, size_t n);
bool lan_prefixes_equal(const LanPrefix *a, size_t na, const LanPrefix *b, size_t nb);
/* "10.0.0.0/8" */
int lan_prefix_format(const LanPrefix *p, char *buf, size_t size);

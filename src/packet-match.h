/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "nft-builder.h"
#include "ruleset.h" /* LinkLayout */

/* The tests a rule makes on a packet's fields, written once for the two places our rules read
 * packets: the inet table, where the IP stack says what a packet is (meta nfproto, l4proto)
 * and where its headers are; and a link's egress hook in the netdev table, where a frame is
 * only bytes, counted from the start of the link's header. Each test loads into reg32(0). */

typedef enum Direction { EGRESS, INGRESS } Direction;

typedef struct PacketView {
        const char *chain; /* the chain the rules are written to */
        Direction d;       /* the peer is the destination going out, the source coming in */
        bool frame;        /* the netdev table's view: 'layout' says where the IP header is */
        LinkLayout layout;
} PacketView;

/* Offsets of the peer's address in the IPv4 and IPv6 headers, and of its port in the UDP or
 * TCP header. */
uint32_t peer_addr_offset(int family, Direction d);
uint32_t peer_port_offset(Direction d);

/* IPv4 (in a frame: without options, the layout the tests below read) or IPv6. */
void match_family(Builder *b, struct nftnl_rule *r, const PacketView *v, int family);
/* The IP header's protocol (IPv4) or next header (IPv6). */
void match_l4proto(Builder *b, struct nftnl_rule *r, const PacketView *v, int family, uint32_t op,
                   uint8_t proto);
/* The 16-bit port at 'offset' in the UDP or TCP header: 0 the source, 2 the destination. */
void match_port(Builder *b, struct nftnl_rule *r, const PacketView *v, int family, uint32_t offset,
                uint32_t op, uint16_t port);
/* The peer's address in set4 or set6, whichever is the family's. */
void match_peer_in(Builder *b, struct nftnl_rule *r, const PacketView *v, int family, int set4,
                   int set6);
/* 'len' bytes of the IP header, and of what follows it (the transport header). */
void load_ip_header(Builder *b, struct nftnl_rule *r, const PacketView *v, uint32_t offset,
                    uint32_t len, uint32_t reg);
void load_transport_header(Builder *b, struct nftnl_rule *r, const PacketView *v, int family,
                           uint32_t offset, uint32_t len);

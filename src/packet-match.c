/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Before any linux/ header, so that glibc guards against their duplicate definitions. */
#include <netinet/in.h>

#include <arpa/inet.h>
#include <linux/if_ether.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>

#include "packet-match.h"

/* A frame's IPv4 header is read as one without options, its IPv6 header as one without
 * extension headers: what does not fit matches no rule and meets the chain's drop. */
#define IP4_HLEN 20
#define IP6_HLEN 40

uint32_t peer_addr_offset(int family, Direction d) {
        if (family == AF_INET)
                return d == EGRESS ? 16 : 12;
        return d == EGRESS ? 24 : 8;
}

uint32_t peer_port_offset(Direction d) {
        return d == EGRESS ? 2 : 0;
}

/* In a frame, the IP header starts after the Ethernet header, or at the start on links without
 * one: read from the bytes that go on the wire, never from the socket's claims (an AF_PACKET
 * sender chooses skb->protocol freely). */
void load_ip_header(Builder *b, struct nftnl_rule *r, const PacketView *v, uint32_t offset,
                    uint32_t len, uint32_t reg) {
        if (v->frame && v->layout == LAYOUT_ETHERNET)
                put_payload(b, r, NFT_PAYLOAD_LL_HEADER, ETH_HLEN + offset, len, reg);
        else
                put_payload(b, r, NFT_PAYLOAD_NETWORK_HEADER, offset, len, reg);
}

void load_transport_header(Builder *b, struct nftnl_rule *r, const PacketView *v, int family,
                           uint32_t offset, uint32_t len) {
        if (v->frame)
                load_ip_header(b, r, v, (family == AF_INET ? IP4_HLEN : IP6_HLEN) + offset, len,
                               reg32(0));
        else
                put_payload(b, r, NFT_PAYLOAD_TRANSPORT_HEADER, offset, len, reg32(0));
}

void match_family(Builder *b, struct nftnl_rule *r, const PacketView *v, int family) {
        uint16_t type = htons(family == AF_INET ? ETH_P_IP : ETH_P_IPV6);
        uint8_t v4 = 0x45, v6 = 0x60, mask = 0xf0;

        if (!v->frame) {
                put_meta(b, r, NFT_META_NFPROTO, reg32(0));
                put_u8_eq(b, r, reg32(0), family == AF_INET ? NFPROTO_IPV4 : NFPROTO_IPV6);
                return;
        }
        if (v->layout == LAYOUT_ETHERNET) {
                put_payload(b, r, NFT_PAYLOAD_LL_HEADER, 12, 2, reg32(0));
                put_cmp(b, r, reg32(0), NFT_CMP_EQ, &type, sizeof(type));
        }
        load_ip_header(b, r, v, 0, 1, reg32(0));
        if (family == AF_INET)
                put_u8_eq(b, r, reg32(0), v4);
        else {
                put_bitwise_and(b, r, reg32(0), &mask, sizeof(mask));
                put_u8_eq(b, r, reg32(0), v6);
        }
}

void match_l4proto(Builder *b, struct nftnl_rule *r, const PacketView *v, int family, uint32_t op,
                   uint8_t proto) {
        if (v->frame)
                load_ip_header(b, r, v, family == AF_INET ? 9 : 6, 1, reg32(0));
        else
                put_meta(b, r, NFT_META_L4PROTO, reg32(0));
        put_cmp(b, r, reg32(0), op, &proto, sizeof(proto));
}

void match_port(Builder *b, struct nftnl_rule *r, const PacketView *v, int family, uint32_t offset,
                uint32_t op, uint16_t port) {
        uint16_t be = htons(port);

        load_transport_header(b, r, v, family, offset, sizeof(be));
        put_cmp(b, r, reg32(0), op, &be, sizeof(be));
}

void match_peer_in(Builder *b, struct nftnl_rule *r, const PacketView *v, int family, int set4,
                   int set6) {
        load_ip_header(b, r, v, peer_addr_offset(family, v->d), family == AF_INET ? 4 : 16,
                       reg32(0));
        put_lookup(b, r, reg32(0), family == AF_INET ? set4 : set6);
}

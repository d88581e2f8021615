/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The network as the daemon sees it: what the watcher reports (netwatch.c), what the manager
 * keeps, and what the ruleset turns into sets and chains. Only types: lan.c says which prefixes
 * are LAN, netwatch.c fills them in. */

#include <net/if.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* A prefix of an address configured on a link outside the tunnels. */
typedef struct LanPrefix {
        uint8_t family; /* AF_INET or AF_INET6 */
        uint8_t prefixlen;
        union {
                struct in_addr in;
                struct in6_addr in6;
        } addr;
} LanPrefix;

typedef struct LinkInfo {
        char name[IFNAMSIZ];
        bool up;
} LinkInfo;

/* How the frames a link sends are laid out, for reading them at its egress hook. */
typedef enum LinkLayout {
        LAYOUT_ETHERNET, /* an Ethernet header, then IP or ARP: Ethernet, Wi-Fi, veth, bridges */
        LAYOUT_IP,       /* the IP header first: PPP, raw-IP modems, TUN devices */
        LAYOUT_OTHER,    /* unknown: only what this host routed may leave */
} LinkLayout;

/* A link whose egress hook carries a chain: neither loopback nor a genuine tunnel. */
typedef struct GuardedLink {
        char name[IFNAMSIZ];
        LinkLayout layout;
        bool impostor; /* named like a tunnel, but the kernel says it is not one */
} GuardedLink;

static inline bool guarded_link_equal(const GuardedLink *a, const GuardedLink *b) {
        return strcmp(a->name, b->name) == 0 && a->layout == b->layout &&
               a->impostor == b->impostor;
}

/* The network as the ruleset needs it. */
typedef struct NetView {
        const LanPrefix *lan; /* AllowLan: private prefixes of this machine's addresses */
        size_t n_lan;
        const LanPrefix *onlink; /* all prefixes of this machine's addresses */
        size_t n_onlink;
        const GuardedLink *links;
        size_t n_links;
        /* The kernel's ids of the listed cgroups that exist (cgroup.h). */
        const uint64_t *exempt_ids;
        size_t n_exempt_ids;
        const uint64_t *scoped_ids;
        size_t n_scoped_ids;
} NetView;

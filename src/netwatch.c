/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <netinet/in.h>

#include <arpa/inet.h>
#include <linux/rtnetlink.h>
#include <net/if_arp.h>
#include <netlink/cache.h>
#include <netlink/route/addr.h>
#include <netlink/route/link.h>
#include <netlink/route/route.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "lan.h"
#include "log.h"
#include "netwatch.h"
#include "settings.h"

struct Netwatch {
        struct nl_cache_mngr *mngr;
        struct nl_sock *sync; /* for full refills after lost events */
        struct nl_cache *links, *addrs, *routes;
        sd_event_source *io;
        netwatch_handler_t handler;
        void *userdata;
};

/* libnl's error space to -errno, at the boundary. */
static int errno_from_nl(int nle) {
        switch (nle < 0 ? -nle : nle) {
        case 0: return 0;
        case NLE_NOMEM: return -ENOMEM;
        case NLE_PERM: return -EPERM;
        case NLE_AGAIN: return -EAGAIN;
        case NLE_INTR: return -EINTR;
        case NLE_INVAL: return -EINVAL;
        case NLE_OBJ_NOTFOUND: return -ENOENT;
        case NLE_NOACCESS: return -EACCES;
        case NLE_MSG_OVERFLOW: return -ENOBUFS;
        default: return -EIO;
        }
}

Netwatch *netwatch_free(Netwatch *w) {
        if (!w)
                return NULL;
        sd_event_source_disable_unref(w->io);
        /* The manager owns the caches it allocated. */
        nl_cache_mngr_free(w->mngr);
        nl_socket_free(w->sync);
        free(w);
        return NULL;
}

static int refill_all(Netwatch *w) {
        struct nl_cache *caches[] = {w->links, w->addrs, w->routes};
        int r;

        for (size_t i = 0; i < ELEMENTSOF(caches); i++) {
                r = nl_cache_refill(w->sync, caches[i]);
                if (r < 0)
                        return errno_from_nl(r);
        }
        return 0;
}

/* After an overflow the socket still holds messages from before it: applied on top of a fresh
 * dump they would bring back what is gone. Throw them away first. */
static void drain(int fd) {
        static uint8_t junk[64 * 1024];

        while (recv(fd, junk, sizeof(junk), MSG_DONTWAIT) >= 0 || errno == ENOBUFS ||
               errno == EINTR)
                ;
}

static int on_readable(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        Netwatch *w = userdata;
        int r;

        (void)s, (void)revents;
        r = nl_cache_mngr_data_ready(w->mngr);
        if (r < 0) {
                /* libnl reports the kernel's ENOBUFS as NLE_NOMEM: events were lost. Never act
                 * on a stale view: re-read it all from the kernel. */
                log_warning("Network events lost: re-reading links, addresses and routes.");
                drain(fd);
                r = refill_all(w);
        } else
                /* The kernel drops IPv4 routes with their link, or with its last address,
                 * without a word (no RTM_DELROUTE), and libnl keeps a replaced IPv6 route:
                 * re-read the routes whenever anything happened. */
                r = errno_from_nl(nl_cache_refill(w->sync, w->routes));
        if (r < 0)
                log_error_errno(r, "Failed to re-read the network state: %m");
        w->handler(w->userdata);
        return 0;
}

int netwatch_new(sd_event *event, netwatch_handler_t handler, void *userdata, Netwatch **ret) {
        _cleanup_(netwatch_freep) Netwatch *w = NULL;
        int r;

        w = calloc(1, sizeof(Netwatch));
        if (!w)
                return -ENOMEM;
        w->handler = handler;
        w->userdata = userdata;

        w->sync = nl_socket_alloc();
        if (!w->sync)
                return -ENOMEM;
        r = nl_connect(w->sync, NETLINK_ROUTE);
        if (r < 0)
                return errno_from_nl(r);

        r = nl_cache_mngr_alloc(NULL, NETLINK_ROUTE, NL_AUTO_PROVIDE, &w->mngr);
        if (r < 0)
                return errno_from_nl(r);
        r = nl_cache_mngr_add(w->mngr, "route/link", NULL, NULL, &w->links);
        if (r >= 0)
                r = nl_cache_mngr_add(w->mngr, "route/addr", NULL, NULL, &w->addrs);
        if (r >= 0)
                r = nl_cache_mngr_add(w->mngr, "route/route", NULL, NULL, &w->routes);
        if (r < 0)
                return errno_from_nl(r);

        r = sd_event_add_io(event, &w->io, nl_cache_mngr_get_fd(w->mngr), EPOLLIN, on_readable, w);
        if (r < 0)
                return r;

        *ret = TAKE_PTR(w);
        return 0;
}

static bool matches_any(const char *name, char *const *patterns, size_t n) {
        for (size_t i = 0; i < n; i++)
                if (tunnel_name_matches(patterns[i], name))
                        return true;
        return false;
}

/* The link cache also keeps an AF_INET6 object per link (IPv6 device information), whose flags
 * go stale and which outlives the link: only the AF_UNSPEC object is the link itself. */
static bool link_is_real(struct rtnl_link *link) {
        return rtnl_link_get_family(link) == AF_UNSPEC;
}

static struct rtnl_link *link_by_index(Netwatch *w, int ifindex) {
        for (struct nl_object *o = nl_cache_get_first(w->links); o; o = nl_cache_get_next(o)) {
                struct rtnl_link *link = (struct rtnl_link *)o;

                if (link_is_real(link) && rtnl_link_get_ifindex(link) == ifindex)
                        return link;
        }
        return NULL;
}

static bool link_listed(const LinkInfo *v, size_t n, const char *name) {
        for (size_t i = 0; i < n; i++)
                if (strcmp(v[i].name, name) == 0)
                        return true;
        return false;
}

/* The links 'keep' selects, once each, with their up state. */
static int links_select(Netwatch *w,
                        bool (*keep)(struct rtnl_link *link, char *const *patterns,
                                     size_t n_patterns),
                        char *const *patterns, size_t n_patterns, LinkInfo **ret, size_t *ret_n) {
        _cleanup_(freep) LinkInfo *v = NULL;
        size_t n = 0;

        for (struct nl_object *o = nl_cache_get_first(w->links); o; o = nl_cache_get_next(o)) {
                struct rtnl_link *link = (struct rtnl_link *)o;
                const char *name = rtnl_link_get_name(link);
                LinkInfo *t;

                if (!link_is_real(link) || !name || !keep(link, patterns, n_patterns) ||
                    link_listed(v, n, name))
                        continue;
                t = realloc(v, (n + 1) * sizeof(LinkInfo));
                if (!t)
                        return -ENOMEM;
                v = t;
                v[n] = (LinkInfo){.up = rtnl_link_get_flags(link) & IFF_UP};
                snprintf(v[n].name, sizeof(v[n].name), "%s", name);
                n++;
        }
        *ret = TAKE_PTR(v);
        *ret_n = n;
        return 0;
}

static bool is_tunnel(struct rtnl_link *link, char *const *patterns, size_t n_patterns) {
        return matches_any(rtnl_link_get_name(link), patterns, n_patterns);
}

static bool is_outside(struct rtnl_link *link, char *const *patterns, size_t n_patterns) {
        unsigned flags = rtnl_link_get_flags(link);

        return (flags & IFF_UP) && !(flags & IFF_LOOPBACK) &&
               !matches_any(rtnl_link_get_name(link), patterns, n_patterns);
}

int netwatch_tunnels(Netwatch *w, char *const *patterns, size_t n_patterns, LinkInfo **ret,
                     size_t *ret_n) {
        return links_select(w, is_tunnel, patterns, n_patterns, ret, ret_n);
}

int netwatch_outside_links(Netwatch *w, char *const *patterns, size_t n_patterns, LinkInfo **ret,
                           size_t *ret_n) {
        return links_select(w, is_outside, patterns, n_patterns, ret, ret_n);
}

/* A link that counts as "outside": up, not loopback, not a tunnel. */
static bool link_is_lan(Netwatch *w, int ifindex, char *const *patterns, size_t n_patterns) {
        struct rtnl_link *link = link_by_index(w, ifindex);

        return link && rtnl_link_get_name(link) && is_outside(link, patterns, n_patterns);
}

typedef struct PrefixList {
        LanPrefix *v;
        size_t n;
        int r;
} PrefixList;

static void prefix_push(PrefixList *l, const LanPrefix *p) {
        LanPrefix *t;

        if (l->r < 0)
                return;
        t = realloc(l->v, (l->n + 1) * sizeof(LanPrefix));
        if (!t) {
                l->r = -ENOMEM;
                return;
        }
        l->v = t;
        l->v[l->n++] = *p;
}

static void prefix_list_done(PrefixList *l) {
        free(l->v);
}

/* Sorted and unique, to the caller. */
static void prefix_list_take(PrefixList *l, LanPrefix **ret, size_t *ret_n) {
        *ret_n = lan_prefixes_normalize(l->v, l->n);
        *ret = TAKE_PTR(l->v);
}

/* Only addresses: routes are what a DHCP server (option 121) or a router advertisement's
 * on-link prefixes create, and the kernel marks RA prefix routes "proto kernel" like its own.
 * An address was configured on this machine, from whatever source; and even then only its
 * private part is LAN (a lease of 8.8.8.10/24 must not make 8.8.8.8 "LAN"). */
int netwatch_prefixes(Netwatch *w, char *const *patterns, size_t n_patterns, LanPrefix **ret_lan,
                      size_t *ret_n_lan, LanPrefix **ret_onlink, size_t *ret_n_onlink) {
        _cleanup_(prefix_list_done) PrefixList lan = {}, onlink = {};

        for (struct nl_object *o = nl_cache_get_first(w->addrs); o; o = nl_cache_get_next(o)) {
                struct rtnl_addr *a = (struct rtnl_addr *)o;
                struct nl_addr *local = rtnl_addr_get_local(a);
                LanPrefix p, parts[8];

                if (!local || !link_is_lan(w, rtnl_addr_get_ifindex(a), patterns, n_patterns) ||
                    nl_addr_get_len(local) != (nl_addr_get_family(local) == AF_INET ? 4 : 16) ||
                    !lan_prefix_from_address(nl_addr_get_family(local),
                                             nl_addr_get_binary_addr(local),
                                             (unsigned)rtnl_addr_get_prefixlen(a), &p))
                        continue;
                if (lan_prefix_is_onlink(&p))
                        prefix_push(&onlink, &p);
                for (size_t i = 0, n = lan_prefix_private_parts(&p, parts); i < n; i++)
                        prefix_push(&lan, &parts[i]);
        }
        if (lan.r < 0)
                return lan.r;
        if (onlink.r < 0)
                return onlink.r;
        prefix_list_take(&lan, ret_lan, ret_n_lan);
        prefix_list_take(&onlink, ret_onlink, ret_n_onlink);
        return 0;
}

/* What the kernel calls the links that tunnel: WireGuard, TUN (OpenVPN, wireguard-go and most
 * userspace VPNs), and the kernel's IP-in-IP, GRE and IPsec tunnels. */
static bool kind_is_tunnel(const char *kind) {
        static const char *const kinds[] = {"wireguard", "tun",    "ipip",   "sit",
                                            "gre",       "ip6gre", "ip6tnl", "vti",
                                            "vti6",      "xfrm",   "gretap", "ip6gretap"};

        for (size_t i = 0; i < ELEMENTSOF(kinds); i++)
                if (strcmp(kind, kinds[i]) == 0)
                        return true;
        return false;
}

static LinkLayout link_layout(struct rtnl_link *link) {
        switch (rtnl_link_get_arptype(link)) {
        case ARPHRD_ETHER: return LAYOUT_ETHERNET;
        case ARPHRD_NONE:
        case ARPHRD_RAWIP:
        case ARPHRD_PPP: return LAYOUT_IP;
        default: return LAYOUT_OTHER;
        }
}

int netwatch_guarded_links(Netwatch *w, char *const *patterns, size_t n_patterns, GuardedLink **ret,
                           size_t *ret_n) {
        _cleanup_(freep) GuardedLink *v = NULL;
        size_t n = 0;

        for (struct nl_object *o = nl_cache_get_first(w->links); o; o = nl_cache_get_next(o)) {
                struct rtnl_link *link = (struct rtnl_link *)o;
                const char *name = rtnl_link_get_name(link), *kind = rtnl_link_get_type(link);
                bool named_tunnel;
                GuardedLink *t;

                if (!link_is_real(link) || !name || (rtnl_link_get_flags(link) & IFF_LOOPBACK))
                        continue;
                named_tunnel = matches_any(name, patterns, n_patterns);
                /* A tunnel by name is trusted as one unless the kernel names another kind: a
                 * veth or a bridge called "wg0" is no tunnel. Links without a kind (PPP) keep
                 * the benefit of the doubt. */
                if (named_tunnel && (!kind || kind_is_tunnel(kind)))
                        continue;
                t = realloc(v, (n + 1) * sizeof(GuardedLink));
                if (!t)
                        return -ENOMEM;
                v = t;
                v[n] = (GuardedLink){.layout = link_layout(link), .impostor = named_tunnel};
                snprintf(v[n].name, sizeof(v[n].name), "%s", name);
                n++;
        }
        *ret = TAKE_PTR(v);
        *ret_n = n;
        return 0;
}

int netwatch_uplink_tunnels(Netwatch *w, char *const *patterns, size_t n_patterns, char *buf,
                            size_t size) {
        size_t used = 0;

        buf[0] = '\0';
        for (struct nl_object *o = nl_cache_get_first(w->routes); o; o = nl_cache_get_next(o)) {
                struct rtnl_route *rt = (struct rtnl_route *)o;
                struct nl_addr *dst = rtnl_route_get_dst(rt);
                struct rtnl_link *link;
                const char *name;

                if (rtnl_route_get_table(rt) != RT_TABLE_MAIN || rtnl_route_get_nnexthops(rt) < 1 ||
                    (dst && nl_addr_get_prefixlen(dst) != 0))
                        continue;
                link = link_by_index(w, rtnl_route_nh_get_ifindex(rtnl_route_nexthop_n(rt, 0)));
                if (!link)
                        continue;
                name = rtnl_link_get_name(link);
                if (name && rtnl_link_get_arptype(link) == ARPHRD_ETHER &&
                    matches_any(name, patterns, n_patterns) && !strstr(buf, name) && used < size)
                        used += (size_t)snprintf(buf + used, size - used, "%s%s", used ? ", " : "",
                                                 name);
        }
        return 0;
}

int netwatch_default_interface(Netwatch *w, char *const *patterns, size_t n_patterns,
                               char ret[static IFNAMSIZ]) {
        uint32_t best_priority = UINT32_MAX;
        int best_family = 0, best_ifindex = 0;

        for (struct nl_object *o = nl_cache_get_first(w->routes); o; o = nl_cache_get_next(o)) {
                struct rtnl_route *rt = (struct rtnl_route *)o;
                struct nl_addr *dst = rtnl_route_get_dst(rt);
                int family = rtnl_route_get_family(rt), ifindex;
                uint32_t priority = rtnl_route_get_priority(rt);

                if (rtnl_route_get_table(rt) != RT_TABLE_MAIN ||
                    rtnl_route_get_type(rt) != RTN_UNICAST || rtnl_route_get_nnexthops(rt) < 1 ||
                    (dst && nl_addr_get_prefixlen(dst) != 0))
                        continue;
                ifindex = rtnl_route_nh_get_ifindex(rtnl_route_nexthop_n(rt, 0));
                if (!link_is_lan(w, ifindex, patterns, n_patterns))
                        continue;
                /* IPv4 first (what most uplinks are about), then the lowest metric. */
                if (best_family == 0 || (family == AF_INET && best_family == AF_INET6) ||
                    (family == best_family && priority < best_priority)) {
                        best_family = family;
                        best_priority = priority;
                        best_ifindex = ifindex;
                }
        }
        ret[0] = '\0';
        if (best_ifindex > 0 && link_by_index(w, best_ifindex))
                snprintf(ret, IFNAMSIZ, "%s",
                         rtnl_link_get_name(link_by_index(w, best_ifindex)) ?: "");
        return 0;
}

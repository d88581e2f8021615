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
        LinkInfo *v = NULL;
        size_t n = 0;

        for (struct nl_object *o = nl_cache_get_first(w->links); o; o = nl_cache_get_next(o)) {
                struct rtnl_link *link = (struct rtnl_link *)o;
                const char *name = rtnl_link_get_name(link);
                LinkInfo *t;

                if (!link_is_real(link) || !name || !keep(link, patterns, n_patterns) ||
                    link_listed(v, n, name))
                        continue;
                t = realloc(v, (n + 1) * sizeof(LinkInfo));
                if (!t) {
                        free(v);
                        return -ENOMEM;
                }
                v = t;
                v[n] = (LinkInfo){.up = rtnl_link_get_flags(link) & IFF_UP};
                snprintf(v[n].name, sizeof(v[n].name), "%s", name);
                n++;
        }
        *ret = v;
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

int lan_prefix_compare(const LanPrefix *a, const LanPrefix *b) {
        int r;

        if (a->family != b->family)
                return a->family < b->family ? -1 : 1;
        r = memcmp(&a->addr, &b->addr, a->family == AF_INET ? 4 : 16);
        if (r != 0)
                return r;
        return (int)a->prefixlen - (int)b->prefixlen;
}

static int lan_prefix_compare_qsort(const void *a, const void *b) {
        return lan_prefix_compare(a, b);
}

int lan_prefix_format(const LanPrefix *p, char *buf, size_t size) {
        char a[INET6_ADDRSTRLEN];

        if (!inet_ntop(p->family, &p->addr, a, sizeof(a)))
                return -errno;
        if ((size_t)snprintf(buf, size, "%s/%u", a, p->prefixlen) >= size)
                return -ENOBUFS;
        return 0;
}

typedef struct PrefixList {
        LanPrefix *v;
        size_t n;
        int r;
} PrefixList;

static void prefix_add(PrefixList *l, struct nl_addr *a) {
        int family = nl_addr_get_family(a);
        unsigned plen = nl_addr_get_prefixlen(a), len = family == AF_INET ? 4 : 16;
        LanPrefix p = {.family = (uint8_t)family, .prefixlen = (uint8_t)plen};
        uint8_t *bytes = (uint8_t *)&p.addr;
        LanPrefix *t;

        if (l->r < 0 || (family != AF_INET && family != AF_INET6) || nl_addr_get_len(a) != len)
                return;
        if (plen < (family == AF_INET ? LAN_PREFIXLEN_MIN4 : LAN_PREFIXLEN_MIN6) || plen > len * 8)
                return;
        memcpy(&p.addr, nl_addr_get_binary_addr(a), len);
        /* The subnet, not the host: clear the host bits. */
        for (unsigned i = 0; i < len; i++) {
                unsigned bits = plen > i * 8 ? plen - i * 8 : 0;
                bytes[i] &= bits >= 8 ? 0xff : (uint8_t)(0xff00 >> bits);
        }
        t = realloc(l->v, (l->n + 1) * sizeof(LanPrefix));
        if (!t) {
                l->r = -ENOMEM;
                return;
        }
        l->v = t;
        l->v[l->n++] = p;
}

int netwatch_lan_prefixes(Netwatch *w, char *const *patterns, size_t n_patterns, LanPrefix **ret,
                          size_t *ret_n) {
        PrefixList l = {};
        size_t n = 0;

        for (struct nl_object *o = nl_cache_get_first(w->addrs); o; o = nl_cache_get_next(o)) {
                struct rtnl_addr *a = (struct rtnl_addr *)o;

                if (link_is_lan(w, rtnl_addr_get_ifindex(a), patterns, n_patterns) &&
                    rtnl_addr_get_local(a))
                        prefix_add(&l, rtnl_addr_get_local(a));
        }
        /* Connected routes: in the main table, unicast, no gateway (on-link). */
        for (struct nl_object *o = nl_cache_get_first(w->routes); o; o = nl_cache_get_next(o)) {
                struct rtnl_route *rt = (struct rtnl_route *)o;
                struct rtnl_nexthop *nh;

                if (rtnl_route_get_table(rt) != RT_TABLE_MAIN ||
                    rtnl_route_get_type(rt) != RTN_UNICAST || rtnl_route_get_nnexthops(rt) != 1)
                        continue;
                nh = rtnl_route_nexthop_n(rt, 0);
                if (rtnl_route_nh_get_gateway(nh) || !rtnl_route_get_dst(rt) ||
                    !link_is_lan(w, rtnl_route_nh_get_ifindex(nh), patterns, n_patterns))
                        continue;
                prefix_add(&l, rtnl_route_get_dst(rt));
        }
        if (l.r < 0) {
                free(l.v);
                return l.r;
        }
        if (l.n > 0) {
                qsort(l.v, l.n, sizeof(LanPrefix), lan_prefix_compare_qsort);
                for (size_t i = 1; i < l.n; i++)
                        if (lan_prefix_compare(&l.v[n], &l.v[i]) != 0)
                                l.v[++n] = l.v[i];
                n++;
        }
        *ret = l.v;
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

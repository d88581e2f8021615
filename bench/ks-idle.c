/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * ks-idle: the floor under the daemon's idle memory, for bench/run. It links the libraries the
 * daemon links and does, with each, the least that a daemon of its shape must: an sd-event
 * loop, a connection to the system bus, libnl's caches of links, addresses and routes kept up
 * to date, and a netlink socket to nftables. Then it waits, as the idle daemon does, until
 * SIGTERM. Its resident memory is what those libraries cost before any code of ours runs.
 *
 * Usage: ks-idle (prints "ready" once set up)
 */
#include <netinet/in.h>

#include <libmnl/libmnl.h>
#include <libnftnl/table.h>
#include <linux/netfilter.h>
#include <net/if.h>
#include <netlink/cache.h>
#include <netlink/netlink.h>
#include <netlink/route/link.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-bus.h>
#include <systemd/sd-event.h>

static void check(int r, const char *what) {
        if (r < 0) {
                fprintf(stderr, "ks-idle: %s: %s\n", what, strerror(r < -1 ? -r : 1));
                exit(1);
        }
}

static void check_nl(int r, const char *what) {
        if (r < 0) {
                fprintf(stderr, "ks-idle: %s: %s\n", what, nl_geterror(r));
                exit(1);
        }
}

static int on_netlink(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        (void)s, (void)fd, (void)revents;
        (void)nl_cache_mngr_data_ready(userdata);
        return 0;
}

int main(void) {
        struct nl_cache *links, *addrs, *routes;
        struct nl_cache_mngr *mngr;
        struct nftnl_table *table;
        struct mnl_socket *nft;
        sd_event *event;
        sigset_t mask;
        sd_bus *bus;

        sigemptyset(&mask);
        sigaddset(&mask, SIGTERM);
        check(sigprocmask(SIG_BLOCK, &mask, NULL) < 0 ? -1 : 0, "sigprocmask");
        check(sd_event_default(&event), "sd_event_default");
        check(sd_event_add_signal(event, NULL, SIGTERM, NULL, NULL), "sd_event_add_signal");

        check(sd_bus_open_system(&bus), "sd_bus_open_system");
        check(sd_bus_attach_event(bus, event, SD_EVENT_PRIORITY_NORMAL), "sd_bus_attach_event");

        check_nl(nl_cache_mngr_alloc(NULL, NETLINK_ROUTE, NL_AUTO_PROVIDE, &mngr),
                 "nl_cache_mngr_alloc");
        check_nl(nl_cache_mngr_add(mngr, "route/link", NULL, NULL, &links), "links");
        check_nl(nl_cache_mngr_add(mngr, "route/addr", NULL, NULL, &addrs), "addrs");
        check_nl(nl_cache_mngr_add(mngr, "route/route", NULL, NULL, &routes), "routes");
        check(sd_event_add_io(event, NULL, nl_cache_mngr_get_fd(mngr), EPOLLIN, on_netlink, mngr),
              "sd_event_add_io");

        nft = mnl_socket_open(NETLINK_NETFILTER);
        check(nft && mnl_socket_bind(nft, 0, MNL_SOCKET_AUTOPID) >= 0 ? 0 : -1, "nftables socket");
        table = nftnl_table_alloc();
        check(table ? 0 : -1, "nftnl_table_alloc");
        nftnl_table_free(table);

        /* Read the links once, as the daemon does at start (and so that the linker keeps
         * libnl-route-3, whose constructor provides the caches above). */
        unsigned up = 0;
        for (struct nl_object *o = nl_cache_get_first(links); o; o = nl_cache_get_next(o))
                up += (rtnl_link_get_flags((struct rtnl_link *)o) & IFF_UP) != 0;
        printf("ready (%u link(s) up)\n", up);
        fflush(stdout);
        check(sd_event_loop(event), "sd_event_loop");

        mnl_socket_close(nft);
        nl_cache_mngr_free(mngr);
        sd_bus_flush_close_unref(bus);
        sd_event_unref(event);
        return 0;
}

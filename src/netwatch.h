/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <net/if.h>
#include <systemd/sd-event.h>

#include "macro.h"
#include "network.h"

/* Follows links, addresses and routes through libnl-route-3's cache manager on the event
 * loop: events only, no polling. libnl's -NLE_* codes stop here; callers see -errno. */
typedef struct Netwatch Netwatch;

/* Called once per batch of kernel events, after the caches are up to date. */
typedef void (*netwatch_handler_t)(void *userdata);

int netwatch_new(sd_event *event, netwatch_handler_t handler, void *userdata, Netwatch **ret);
Netwatch *netwatch_free(Netwatch *w);
DEFINE_FREEP(Netwatch, netwatch_free)

/* The links whose names match one of the tunnel patterns. */
int netwatch_tunnels(Netwatch *w, char *const *patterns, size_t n_patterns, LinkInfo **ret,
                     size_t *ret_n);

/* The links that are up and are neither loopback nor tunnels: where a leak would leave. */
int netwatch_outside_links(Netwatch *w, char *const *patterns, size_t n_patterns, LinkInfo **ret,
                           size_t *ret_n);

/* Links matching a tunnel pattern that look like a physical uplink instead: Ethernet, with a
 * default route through them. Their names, comma-separated, in buf ("" if none). */
int netwatch_uplink_tunnels(Netwatch *w, char *const *patterns, size_t n_patterns, char *buf,
                            size_t size);

/* From the addresses on links that are up and are neither loopback nor tunnels: their
 * prefixes ('onlink') and the private part of those ('lan', see lan.h). Sorted, unique. */
int netwatch_prefixes(Netwatch *w, char *const *patterns, size_t n_patterns, LanPrefix **ret_lan,
                      size_t *ret_n_lan, LanPrefix **ret_onlink, size_t *ret_n_onlink);

/* Every link but loopback and genuine tunnels, whether up or not: frames can be sent on a link
 * that is down the moment it goes up. */
int netwatch_guarded_links(Netwatch *w, char *const *patterns, size_t n_patterns, GuardedLink **ret,
                           size_t *ret_n);

/* The interface of the best default route that does not go through a tunnel; "" if none. */
int netwatch_default_interface(Netwatch *w, char *const *patterns, size_t n_patterns,
                               char ret[static IFNAMSIZ]);

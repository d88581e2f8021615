/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <systemd/sd-bus.h>
#include <systemd/sd-event.h>

#include "netwatch.h"
#include "settings.h"
#include "state.h"
#include "table.h"
#include "tamper.h"

/* Owns the event loop, the nftables socket, the bus and the settings; every change goes through
 * here: validate → build → commit → save → emit. */
typedef struct Manager {
        sd_event *event;
        sd_bus *bus;
        sd_event_source *bus_emit;      /* sends queued PropertiesChanged after replies */
        unsigned bus_pending;           /* the properties queued, as bus.c numbers them */
        sd_event_source *bus_reconnect; /* armed when the bus daemon goes away */
        Nft *nft;
        char *state_dir;
        StateFile state; /* where the next save goes */
        Settings settings;
        Protection protection;
        bool frames;  /* the netdev table for frames is in force (the kernel has egress hooks) */
        bool unowned; /* never use owner+persist (--protection=monitor) */

        TamperWatch *tamper_watch; /* others' changes to our table */
        bool tamper_report; /* --tamper=report: only say so, do not undo (diagnostics, tests) */
        unsigned tamper_count;

        /* What the network looks like now, as last reported. */
        Netwatch *netwatch;
        LinkInfo *tunnel_links; /* interfaces matching Tunnels */
        size_t n_tunnel_links;
        LanPrefix *lan; /* private prefixes of addresses outside the tunnels */
        size_t n_lan;
        LanPrefix *onlink; /* all prefixes of addresses outside the tunnels */
        size_t n_onlink;
        GuardedLink *links; /* the links that get an egress chain */
        size_t n_links;
        char uplink[IFNAMSIZ]; /* default route's interface outside the tunnels */
} Manager;

int manager_new(const char *state_dir, Manager **ret);
Manager *manager_free(Manager *m);
DEFINE_FREEP(Manager, manager_free)

/* Loads the saved settings and puts the table in force (adopting an orphaned one). */
int manager_start(Manager *m);
int manager_run(Manager *m);

/* Replaces the settings, which the caller validated: the kernel first, then the state file; on
 * failure neither changes. Takes ownership of *s in every case. */
int manager_set_settings(Manager *m, Settings *s, Error *error);
int manager_add_endpoint(Manager *m, const Endpoint *e, Error *error);
int manager_remove_endpoint(Manager *m, const Endpoint *e, Error *error);

/* Live state for the bus. The string lists are NULL-terminated; free with strv_free(). */
int manager_active_tunnels(Manager *m, char ***ret);
bool manager_tunnel_up(Manager *m);
int manager_lan_subnets(Manager *m, char ***ret);
uint64_t manager_blocked_packets(Manager *m);

/* table_diff() for the settings, network and protection in force. */
int manager_table_diff(Manager *m, const Lines *have, Lines *missing, Lines *extra);

void strv_free(char **l);
DEFINE_FREEP(char *, strv_free)

/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <systemd/sd-event.h>

#include "cgroup.h"
#include "netwatch.h"
#include "settings.h"
#include "state.h"
#include "table.h"
#include "tamper.h"

/* Who hears of what changed, once it is in force: the bus (bus-signals.c). Every member may be
 * NULL. */
typedef struct ManagerListener {
        /* The settings were replaced; 'old' and 'old_protection' are what they replaced. */
        void (*settings_changed)(void *userdata, const Settings *old, Protection old_protection);
        /* One endpoint was added or removed. */
        void (*endpoints_changed)(void *userdata);
        /* An interface matching Tunnels went up or down (an absent one counts as down). */
        void (*tunnel_changed)(void *userdata, const char *name, bool up);
        /* The default route's interface outside the tunnels ("": none). */
        void (*network_changed)(void *userdata, const char *interface);
        /* The tunnels up, or the LAN allowed, may read differently. */
        void (*network_state_changed)(void *userdata, bool tunnels, bool lan);
        /* The listed cgroups that are present (manager_present_cgroups()) may have changed. */
        void (*cgroups_changed)(void *userdata);
        /* Another process changed our table ('what'); it was put back unless --tamper=report. */
        void (*tampered)(void *userdata, const char *what);
} ManagerListener;

/* Owns the event loop, the nftables socket and the settings; every change goes through here:
 * validate → build → commit → save → tell the listener. */
typedef struct Manager {
        sd_event *event;
        const ManagerListener *listener;
        void *listener_data;
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

        /* The cgroups ExemptCgroups and ScopedCgroups list (docs/per-app.md). */
        int cgroup_root_fd; /* the cgroup2 mount; -EBADF without one: none exists */
        CgroupWatch *cgroup_watch;
        CgroupIds cgroups; /* the ids in the table's sets */
} Manager;

int manager_new(const char *state_dir, Manager **ret);
Manager *manager_free(Manager *m);
DEFINE_FREEP(Manager, manager_free)

/* One listener at a time; NULL: nobody. */
void manager_set_listener(Manager *m, const ManagerListener *listener, void *userdata);

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
/* The paths of ExemptCgroups and ScopedCgroups whose cgroup exists now and has its id in the
 * daemon's sets (in the table while enabled; ScopedCgroups only with Scope "cgroups"). */
int manager_present_cgroups(Manager *m, char ***ret);
uint64_t manager_blocked_packets(Manager *m);

/* table_diff() for the settings, network and protection in force. */
int manager_table_diff(Manager *m, const Lines *have, Lines *missing, Lines *extra);

void strv_free(char **l);
DEFINE_FREEP(char *, strv_free)

/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <systemd/sd-event.h>

#include "settings.h"
#include "table.h"

/* Owns the event loop, the nftables socket and the settings; every change goes through here:
 * validate → build → commit → save → emit. */
typedef struct Manager {
        sd_event *event;
        Nft *nft;
        char *state_dir;
        Settings settings;
        Protection protection;
        bool unowned;      /* never use owner+persist (tests, kernels that misbehave) */
        bool save_blocked; /* settings came from a corrupt file: saving would destroy evidence */
} Manager;

int manager_new(const char *state_dir, Manager **ret);
Manager *manager_free(Manager *m);
DEFINE_FREEP(Manager, manager_free)

/* Loads the saved settings and puts the table in force (adopting an orphaned one). */
int manager_start(Manager *m);
int manager_run(Manager *m);

/* Replaces the settings: the kernel first, then the state file; on failure neither changes. */
int manager_apply(Manager *m, const Settings *new_settings, char error[static ERROR_MAX]);

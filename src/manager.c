/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <systemd/sd-daemon.h>

#include "log.h"
#include "manager.h"
#include "state.h"

int manager_new(const char *state_dir, Manager **ret) {
        _cleanup_(manager_freep) Manager *m = NULL;
        int r;

        m = calloc(1, sizeof(Manager));
        if (!m)
                return -ENOMEM;
        settings_init(&m->settings);
        m->state_dir = strdup(state_dir);
        if (!m->state_dir)
                return -ENOMEM;

        r = sd_event_default(&m->event);
        if (r < 0)
                return r;
        r = nft_open(&m->nft);
        if (r < 0)
                return log_error_errno(r, "Failed to open nftables netlink socket: %m");

        *ret = TAKE_PTR(m);
        return 0;
}

Manager *manager_free(Manager *m) {
        if (!m)
                return NULL;
        /* Closing the socket orphans an owned table; the kernel keeps it (persist). */
        nft_free(m->nft);
        sd_event_unref(m->event);
        settings_done(&m->settings);
        free(m->state_dir);
        free(m);
        return NULL;
}

static int manager_commit(Manager *m, const Settings *s, Protection *ret,
                          char error[static ERROR_MAX]) {
        if (!s->enabled) {
                *ret = PROTECTION_NONE;
                return table_remove(m->nft, error);
        }
        return table_install(m->nft, s, lan_prefixes_private, lan_prefixes_private_count,
                             m->unowned, ret, error);
}

int manager_apply(Manager *m, const Settings *new_settings, char error[static ERROR_MAX]) {
        Settings copy;
        Protection p;
        int r;

        r = settings_copy(new_settings, &copy);
        if (r < 0)
                return r;
        r = manager_commit(m, new_settings, &p, error);
        if (r < 0) {
                settings_done(&copy);
                return log_error_errno(r, "Failed to apply settings: %s", error);
        }
        if (!m->save_blocked) {
                r = state_save(m->state_dir, new_settings);
                if (r < 0) {
                        char ignored[ERROR_MAX];

                        /* Put the kernel back as it was so that kernel and file agree. */
                        snprintf(error, ERROR_MAX, "saving settings to %s: %s", m->state_dir,
                                 strerror(-r));
                        (void)manager_commit(m, &m->settings, &m->protection, ignored);
                        settings_done(&copy);
                        return log_error_errno(r, "Failed to save settings: %m");
                }
        }
        settings_done(&m->settings);
        m->settings = copy;
        m->protection = p;
        return 0;
}

/* What to enforce at start: the saved settings, or fail closed. */
static int manager_load(Manager *m) {
        char error[ERROR_MAX] = "";
        TableInfo t;
        int r;

        r = state_load(m->state_dir, &m->settings, error);
        if (r >= 0)
                return 0;
        if (r == -ENOENT) {
                /* No saved settings but a table in force (put there by --boot from settings that
                 * were bad, or by an earlier daemon): keep blocking rather than guess. */
                if (nft_get_table(m->nft, &t) < 0)
                        return 0;
                log_warning("No saved settings but table inet killswitchd exists: blocking all "
                            "traffic until settings are applied.");
        } else
                log_error_errno(r,
                                "Saved settings unusable (%s): blocking all traffic until "
                                "settings are applied.",
                                error);
        settings_init_block_all(&m->settings);
        m->save_blocked = true;
        return 0;
}

int manager_start(Manager *m) {
        char error[ERROR_MAX] = "";
        int r;

        r = manager_load(m);
        if (r < 0)
                return r;
        if (!m->settings.enabled) {
                log_info("Kill switch disabled.");
                return 0;
        }
        r = table_install(m->nft, &m->settings, lan_prefixes_private, lan_prefixes_private_count,
                          m->unowned, &m->protection, error);
        if (r < 0)
                return log_error_errno(r, "Failed to install table inet killswitchd: %s", error);
        log_info("Kill switch enabled: %zu tunnel(s), %zu endpoint(s), protection %s.",
                 m->settings.n_tunnels, m->settings.n_endpoints,
                 protection_to_string(m->protection));
        return 0;
}

static int on_signal(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata) {
        Manager *m = userdata;

        (void)s;
        (void)si;
        /* Stopping never removes the table: only Disable does. */
        return sd_event_exit(m->event, 0);
}

int manager_run(Manager *m) {
        sigset_t mask;
        int r;

        sigemptyset(&mask);
        sigaddset(&mask, SIGTERM);
        sigaddset(&mask, SIGINT);
        if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0)
                return -errno;
        r = sd_event_add_signal(m->event, NULL, SIGTERM, on_signal, m);
        if (r < 0)
                return r;
        r = sd_event_add_signal(m->event, NULL, SIGINT, on_signal, m);
        if (r < 0)
                return r;

        (void)sd_notifyf(false, "READY=1\nSTATUS=%s, protection %s",
                         m->settings.enabled ? "Enabled" : "Disabled",
                         protection_to_string(m->protection));
        r = sd_event_loop(m->event);
        (void)sd_notify(false, "STOPPING=1");
        return r;
}

/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <arpa/inet.h>
#include <net/if.h>
#include <netlink/route/link.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <systemd/sd-daemon.h>

#include "bus.h"
#include "log.h"
#include "manager.h"
#include "state.h"

void strv_free(char **l) {
        if (!l)
                return;
        for (char **p = l; *p; p++)
                free(*p);
        free(l);
}

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
        sd_bus_flush_close_unref(m->bus);
        /* Closing the socket orphans an owned table; the kernel keeps it (persist). */
        nft_free(m->nft);
        sd_event_unref(m->event);
        settings_done(&m->settings);
        free(m->state_dir);
        free(m);
        return NULL;
}

/* Puts the kernel in line with s: the table installed, or removed when disabled. */
static int manager_commit(Manager *m, const Settings *s, Protection *ret,
                          char error[static ERROR_MAX]) {
        if (!s->enabled) {
                *ret = PROTECTION_NONE;
                return table_remove(m->nft, error);
        }
        return table_install(m->nft, s, lan_prefixes_private, lan_prefixes_private_count,
                             m->unowned, ret, error);
}

/* Everything but Persistent shapes the table. */
static bool settings_equal_in_kernel(const Settings *a, const Settings *b) {
        Settings x = *a;

        x.persistent = b->persistent;
        return settings_equal(&x, b);
}

static int fail(Failure *f, FailureKind kind, int r) {
        f->kind = kind;
        return r;
}

static int manager_save(Manager *m, const Settings *s, Failure *f) {
        int r = state_save(m->state_dir, s);

        if (r < 0) {
                snprintf(f->message, ERROR_MAX, "saving settings to %s: %s", m->state_dir,
                         strerror(-r));
                log_error("Failed to save settings: %s", f->message);
                return fail(f, FAILURE_STATE, r);
        }
        return 0;
}

static void manager_log_state(Manager *m) {
        if (m->settings.enabled)
                log_info("Kill switch enabled: %zu tunnel(s), %zu endpoint(s), LAN %s, DHCP %s, "
                         "protection %s.",
                         m->settings.n_tunnels, m->settings.n_endpoints,
                         m->settings.allow_lan ? "allowed" : "blocked",
                         m->settings.allow_dhcp ? "allowed" : "blocked",
                         protection_to_string(m->protection));
        else
                log_info("Kill switch disabled.");
        (void)sd_notifyf(false, "STATUS=%s, protection %s, %zu tunnel(s), %zu endpoint(s)",
                         m->settings.enabled ? "Enabled" : "Disabled",
                         protection_to_string(m->protection), m->settings.n_tunnels,
                         m->settings.n_endpoints);
}

int manager_set_settings(Manager *m, Settings *s, Failure *f) {
        _cleanup_(settings_done) Settings new = *s;
        Settings old;
        Protection p = m->protection, old_protection = m->protection;
        int r;

        settings_init(s);
        if (!settings_equal_in_kernel(&m->settings, &new)) {
                r = manager_commit(m, &new, &p, f->message);
                if (r < 0) {
                        log_error("Kernel refused the new settings: %s", f->message);
                        return fail(f, FAILURE_KERNEL, r);
                }
        }
        r = manager_save(m, &new, f);
        if (r < 0) {
                char ignored[ERROR_MAX];

                /* Kernel and saved state must agree: put the previous table back. */
                if (!settings_equal_in_kernel(&m->settings, &new))
                        (void)manager_commit(m, &m->settings, &m->protection, ignored);
                return r;
        }

        old = m->settings;
        m->settings = new;
        m->protection = p;
        settings_init(&new);
        manager_log_state(m);
        bus_emit_settings_changed(m, &old, old_protection);
        settings_done(&old);
        return 0;
}

/* One element in the kernel rather than the whole table: the cost does not grow with the set. */
static int manager_change_endpoint(Manager *m, const Endpoint *e, bool add, Failure *f) {
        _cleanup_(settings_done) Settings new = {};
        char ignored[ERROR_MAX];
        int r;

        r = settings_copy(&m->settings, &new);
        if (r < 0)
                return fail(f, FAILURE_STATE, r);
        r = add ? settings_add_endpoint(&new, e, f->message) : settings_remove_endpoint(&new, e);
        if (r == -ENOENT) {
                char text[INET6_ADDRSTRLEN + 16];

                (void)endpoint_format(e, text, sizeof(text));
                snprintf(f->message, ERROR_MAX, "Endpoints: %s is not in the list", text);
                return fail(f, FAILURE_NOT_FOUND, r);
        }
        if (r < 0)
                return fail(f, r == -E2BIG ? FAILURE_LIMIT : FAILURE_INVALID, r);
        if (new.n_endpoints == m->settings.n_endpoints)
                return 0; /* already there: duplicates collapse */

        if (m->settings.enabled) {
                r = table_change_endpoint(m->nft, e, add, f->message);
                if (r < 0) {
                        /* The table is not what we last wrote (changed behind our back): rebuild
                         * it whole from the new settings instead. */
                        log_warning("Endpoint change refused (%s): rebuilding the table.",
                                    f->message);
                        r = manager_commit(m, &new, &m->protection, f->message);
                        if (r < 0)
                                return fail(f, FAILURE_KERNEL, r);
                }
        }
        r = manager_save(m, &new, f);
        if (r < 0) {
                if (m->settings.enabled && table_change_endpoint(m->nft, e, !add, ignored) < 0)
                        (void)manager_commit(m, &m->settings, &m->protection, ignored);
                return r;
        }

        settings_done(&m->settings);
        m->settings = new;
        settings_init(&new);
        bus_emit_endpoints_changed(m);
        return 0;
}

int manager_add_endpoint(Manager *m, const Endpoint *e, Failure *f) {
        return manager_change_endpoint(m, e, true, f);
}

int manager_remove_endpoint(Manager *m, const Endpoint *e, Failure *f) {
        return manager_change_endpoint(m, e, false, f);
}

static int strv_push(char ***l, size_t *n, const char *s) {
        char **v = realloc(*l, (*n + 2) * sizeof(char *));

        if (!v)
                return -ENOMEM;
        *l = v;
        v[*n] = strdup(s);
        if (!v[*n])
                return -ENOMEM;
        v[++*n] = NULL;
        return 0;
}

int manager_active_tunnels(Manager *m, char ***ret) {
        struct nl_sock *sk;
        struct nl_cache *cache = NULL;
        char **l = NULL;
        size_t n = 0;
        int r = 0;

        l = calloc(1, sizeof(char *));
        if (!l)
                return -ENOMEM;
        sk = nl_socket_alloc();
        if (!sk) {
                free(l);
                return -ENOMEM;
        }
        if (nl_connect(sk, NETLINK_ROUTE) < 0 || rtnl_link_alloc_cache(sk, AF_UNSPEC, &cache) < 0)
                r = -EIO;
        for (struct nl_object *o = cache ? nl_cache_get_first(cache) : NULL; o && r >= 0;
             o = nl_cache_get_next(o)) {
                struct rtnl_link *link = (struct rtnl_link *)o;
                const char *name = rtnl_link_get_name(link);

                if (!name || !(rtnl_link_get_flags(link) & IFF_UP))
                        continue;
                for (size_t i = 0; i < m->settings.n_tunnels; i++)
                        if (tunnel_name_matches(m->settings.tunnels[i], name)) {
                                r = strv_push(&l, &n, name);
                                break;
                        }
        }
        nl_cache_free(cache);
        nl_socket_free(sk);
        if (r < 0) {
                strv_free(l);
                return r;
        }
        *ret = l;
        return 0;
}

int manager_lan_subnets(Manager *m, char ***ret) {
        char **l = calloc(1, sizeof(char *));
        size_t n = 0;

        if (!l)
                return -ENOMEM;
        for (size_t i = 0; m->settings.allow_lan && i < lan_prefixes_private_count; i++) {
                const LanPrefix *p = &lan_prefixes_private[i];
                char a[INET6_ADDRSTRLEN], cidr[INET6_ADDRSTRLEN + 4];

                inet_ntop(p->family, &p->addr, a, sizeof(a));
                snprintf(cidr, sizeof(cidr), "%s/%u", a, p->prefixlen);
                if (strv_push(&l, &n, cidr) < 0) {
                        strv_free(l);
                        return -ENOMEM;
                }
        }
        *ret = l;
        return 0;
}

uint64_t manager_blocked_packets(Manager *m) {
        uint64_t packets = 0, bytes;

        if (m->settings.enabled)
                (void)nft_get_counter(m->nft, &packets, &bytes);
        return packets;
}

/* What to enforce at start: the saved settings, or fail closed. */
static void manager_load(Manager *m) {
        char error[ERROR_MAX] = "";
        TableInfo t;
        int r;

        r = state_load(m->state_dir, &m->settings, error);
        if (r >= 0)
                return;
        if (r == -ENOENT) {
                /* No saved settings but a table in force (put there by --boot from settings that
                 * were bad, or by an earlier daemon): keep blocking rather than guess. */
                if (nft_get_table(m->nft, &t) < 0)
                        return;
                log_warning("No saved settings but table inet killswitchd exists: blocking all "
                            "traffic until settings are applied.");
        } else
                log_error_errno(r,
                                "Saved settings unusable (%s): blocking all traffic until "
                                "settings are applied.",
                                error);
        settings_init_block_all(&m->settings);
}

int manager_start(Manager *m) {
        char error[ERROR_MAX] = "";
        int r;

        manager_load(m);
        if (m->settings.enabled) {
                r = table_install(m->nft, &m->settings, lan_prefixes_private,
                                  lan_prefixes_private_count, m->unowned, &m->protection, error);
                if (r < 0)
                        return log_error_errno(r, "Failed to install table inet killswitchd: %s",
                                               error);
        }
        manager_log_state(m);
        return bus_setup(m);
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

        (void)sd_notify(false, "READY=1");
        r = sd_event_loop(m->event);
        (void)sd_notify(false, "STOPPING=1");
        return r;
}

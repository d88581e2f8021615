/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/netfilter.h>
#include <net/if.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <systemd/sd-daemon.h>

#include "lan.h"
#include "log.h"
#include "manager.h"

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
        m->state.dir = m->state_dir;
        m->cgroup_root_fd = -EBADF;

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
        tamper_watch_free(m->tamper_watch);
        cgroup_watch_free(m->cgroup_watch);
        cgroup_ids_done(&m->cgroups);
        if (m->cgroup_root_fd >= 0)
                close(m->cgroup_root_fd);
        netwatch_free(m->netwatch);
        free(m->tunnel_links);
        free(m->lan);
        free(m->onlink);
        free(m->links);
        /* Closing the socket orphans an owned table; the kernel keeps it (persist). */
        nft_free(m->nft);
        sd_event_unref(m->event);
        settings_done(&m->settings);
        free(m->state_dir);
        free(m);
        return NULL;
}

void manager_set_listener(Manager *m, const ManagerListener *listener, void *userdata) {
        m->listener = listener;
        m->listener_data = userdata;
}

/* Tells the listener, if there is one and it wants to know. */
#define manager_notify(m, event, ...)                                                              \
        do {                                                                                       \
                if ((m)->listener && (m)->listener->event)                                         \
                        (m)->listener->event((m)->listener_data, ##__VA_ARGS__);                   \
        } while (0)

static NetView manager_view(const Manager *m) {
        return (NetView){
                .lan = m->lan,
                .n_lan = m->n_lan,
                .onlink = m->onlink,
                .n_onlink = m->n_onlink,
                .links = m->links,
                .n_links = m->n_links,
                .exempt_ids = m->cgroups.exempt,
                .n_exempt_ids = m->cgroups.n_exempt,
                .scoped_ids = m->cgroups.scoped,
                .n_scoped_ids = m->cgroups.n_scoped,
        };
}

/* The ids of the cgroups the settings list that exist now. */
static int manager_cgroup_ids(Manager *m, const Settings *s, CgroupIds *ret) {
        CgroupIds ids = {};
        int r;

        r = cgroup_ids_lookup(m->cgroup_root_fd, s->exempt_cgroups.paths, s->exempt_cgroups.n,
                              &ids.exempt, &ids.n_exempt);
        if (r >= 0)
                r = cgroup_ids_lookup(m->cgroup_root_fd, s->scoped_cgroups.paths,
                                      s->scoped_cgroups.n, &ids.scoped, &ids.n_scoped);
        if (r < 0) {
                cgroup_ids_done(&ids);
                return r;
        }
        *ret = ids;
        return 0;
}

/* Puts the kernel in line with s: the tables installed, or removed when disabled. The listed
 * cgroups' ids are read now, for these settings, so that the table never holds another list's. */
static int manager_commit(Manager *m, const Settings *s, Protection *ret, Error *error) {
        _cleanup_(cgroup_ids_done) CgroupIds ids = {};
        NetView v = manager_view(m);
        int r;

        if (!s->enabled) {
                r = table_remove(m->nft, error);
                if (r < 0)
                        return r;
                *ret = PROTECTION_NONE;
                return 0;
        }
        r = manager_cgroup_ids(m, s, &ids);
        if (r < 0)
                return error_set(error, ERROR_KERNEL, r, "reading the cgroups' ids: %s",
                                 strerror(-r));
        v.exempt_ids = ids.exempt, v.n_exempt_ids = ids.n_exempt;
        v.scoped_ids = ids.scoped, v.n_scoped_ids = ids.n_scoped;
        r = table_install(m->nft, s, &v, m->unowned, ret, &m->frames, error);
        if (r < 0)
                return r;
        if (!cgroup_ids_equal(&ids, &m->cgroups))
                manager_notify(m, cgroups_changed);
        SWAP(m->cgroups, ids);
        return 0;
}

/* The listed cgroups came or went, or the list changed: watch where they must now be watched,
 * then (in that order, so that none is missed in between) read their ids, and put the ids that
 * differ in the table, in one transaction ('apply' is false before the table is installed). */
static void manager_update_cgroups(Manager *m, bool apply) {
        _cleanup_(cgroup_ids_done) CgroupIds ids = {};
        const Settings *s = &m->settings;
        Error error = {};
        NetView v;
        int r;

        if (m->cgroup_watch) {
                _cleanup_(freep) char **paths =
                        calloc(s->exempt_cgroups.n + s->scoped_cgroups.n + 1, sizeof(char *));

                if (!paths)
                        return (void)log_error("Out of memory watching the cgroups.");
                /* An empty list has no array at all: memcpy() must not see its NULL. */
                for (size_t i = 0; i < s->exempt_cgroups.n; i++)
                        paths[i] = s->exempt_cgroups.paths[i];
                for (size_t i = 0; i < s->scoped_cgroups.n; i++)
                        paths[s->exempt_cgroups.n + i] = s->scoped_cgroups.paths[i];
                r = cgroup_watch_set(m->cgroup_watch, paths,
                                     s->exempt_cgroups.n + s->scoped_cgroups.n);
                if (r < 0)
                        log_warning_errno(r, "Failed to watch the listed cgroups: %m");
        }
        r = manager_cgroup_ids(m, s, &ids);
        if (r < 0)
                return (void)log_warning_errno(r, "Failed to read the listed cgroups' ids: %m");
        if (cgroup_ids_equal(&ids, &m->cgroups))
                return;
        log_info("Listed cgroups changed: %zu exempt, %zu scoped exist.", ids.n_exempt,
                 ids.n_scoped);
        SWAP(m->cgroups, ids);
        if (apply && s->enabled) {
                v = manager_view(m);
                r = table_update_cgroups(m->nft, &v, &error);
                if (r < 0) {
                        log_warning("Cgroups update refused (%s): rebuilding the table.",
                                    error.message);
                        r = manager_commit(m, s, &m->protection, &error);
                }
                if (r < 0) {
                        /* The table keeps the ids it had, and so do we: PresentCgroups says
                         * what is in force, and the next event tries again. */
                        log_error("Failed to rebuild the table: %s", error.message);
                        SWAP(m->cgroups, ids);
                        return;
                }
        }
        manager_notify(m, cgroups_changed);
}

static void on_cgroup_event(void *userdata) {
        manager_update_cgroups(userdata, true);
}

static void manager_update_network(Manager *m, bool emit);

/* Everything but Persistent shapes the table. */
static bool settings_equal_in_kernel(const Settings *a, const Settings *b) {
        Settings x = *a;

        x.persistent = b->persistent;
        return settings_equal(&x, b);
}

static int save_failed(Manager *m, Error *error, int r) {
        log_error("Failed to save settings to %s: %s", m->state_dir, strerror(-r));
        return error_set(error, ERROR_STATE, r, "saving settings to %s: %s", m->state_dir,
                         strerror(-r));
}

/* Settings are written before the kernel sees them, and become the saved state only after the
 * kernel took them: a full or read-only disk refuses a change before it touches the table, so
 * no window opens. */
static int manager_save_prepare(Manager *m, const Settings *s, StateSave *ret, Error *error) {
        int r = state_save_prepare(&m->state, &m->settings, s, ret);

        return r < 0 ? save_failed(m, error, r) : 0;
}

static int manager_save_finish(Manager *m, StateSave *st, Error *error) {
        int r = state_save_finish(&m->state, st);

        return r < 0 ? save_failed(m, error, r) : 0;
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

/* Enabled before and after, and only the lists kept in sets differ in the kernel's view
 * (AddTunnel, RemoveTunnel, an Apply with new servers): changing those sets' elements is
 * enough, and costs what changed rather than the whole table. */
static bool only_lists_differ(const Settings *a, const Settings *b) {
        Settings x = *a;

        x.tunnels = b->tunnels;
        x.n_tunnels = b->n_tunnels;
        x.endpoints = b->endpoints;
        x.n_endpoints = b->n_endpoints;
        return a->enabled && b->enabled && settings_equal_in_kernel(&x, b);
}

/* Puts the kernel from 'old' to 'new' settings, by the smallest transaction that does it. */
static int manager_commit_change(Manager *m, const Settings *old, const Settings *new,
                                 Protection *ret, Error *error) {
        if (only_lists_differ(old, new) && ruleset_lists_update_fits(old, new)) {
                Error refused = {};

                if (table_update_lists(m->nft, old, new, &refused) >= 0)
                        return 0;
                /* The table is not what we last wrote: rebuild it whole instead. */
                log_warning("Update of the tunnels and endpoints refused (%s): rebuilding the "
                            "table.",
                            refused.message);
        }
        return manager_commit(m, new, ret, error);
}

int manager_set_settings(Manager *m, Settings *s, Error *error) {
        _cleanup_(settings_done) Settings new = *s;
        Settings old;
        StateSave st;
        Protection p = m->protection, old_protection = m->protection;
        int r;

        settings_init(s);
        r = manager_save_prepare(m, &new, &st, error);
        if (r < 0)
                return r;
        if (!settings_equal_in_kernel(&m->settings, &new)) {
                r = manager_commit_change(m, &m->settings, &new, &p, error);
                if (r < 0) {
                        state_save_abort(&m->state, &st);
                        log_error("Kernel refused the new settings: %s",
                                  error ? error->message : strerror(-r));
                        return r;
                }
        }
        r = manager_save_finish(m, &st, error);
        if (r < 0) {
                /* Kernel and saved state must agree: put the previous table back. */
                if (!settings_equal_in_kernel(&m->settings, &new))
                        (void)manager_commit_change(m, &new, &m->settings, &m->protection, NULL);
                return r;
        }

        old = m->settings;
        m->settings = new;
        m->protection = p;
        settings_init(&new);
        manager_log_state(m);
        manager_notify(m, settings_changed, &old, old_protection);
        settings_done(&old);
        /* Other tunnel patterns change what counts as a tunnel, and so as LAN. */
        manager_update_network(m, true);
        /* Other cgroups listed: watched from now on. */
        manager_update_cgroups(m, true);
        return 0;
}

/* Cannot fail: the array still has room for what it held a moment ago. */
static void endpoint_undo(Settings *s, const Endpoint *e, bool add) {
        (void)(add ? settings_remove_endpoint(s, e) : settings_add_endpoint(s, e, NULL));
}

/* One element in the kernel and one line in the state file rather than the whole table and
 * file: the cost does not grow with the set. The settings change in place first (which
 * validates), and are put back if a step fails. */
static int manager_change_endpoint(Manager *m, const Endpoint *e, bool add, Error *error) {
        Settings *s = &m->settings;
        size_t n = s->n_endpoints;
        StateSave st;
        int r;

        r = add ? settings_add_endpoint(s, e, error) : settings_remove_endpoint(s, e);
        if (r == -ENOENT) {
                char text[INET6_ADDRSTRLEN + 16];

                (void)endpoint_format(e, text, sizeof(text));
                return error_set(error, ERROR_NOT_FOUND, r, "Endpoints: %s is not in the list",
                                 text);
        }
        if (r < 0)
                return r;
        if (s->n_endpoints == n)
                return 0; /* already there: duplicates collapse */

        r = state_save_prepare_endpoint(&m->state, s, e, add, &st);
        if (r < 0) {
                endpoint_undo(s, e, add);
                return save_failed(m, error, r);
        }
        if (s->enabled) {
                Error refused = {};

                r = table_change_endpoint(m->nft, e, add, &refused);
                if (r < 0) {
                        /* The table is not what we last wrote (changed behind our back): rebuild
                         * it whole from the new settings instead. */
                        log_warning("Endpoint change refused (%s): rebuilding the table.",
                                    refused.message);
                        r = manager_commit(m, s, &m->protection, error);
                        if (r < 0) {
                                state_save_abort(&m->state, &st);
                                endpoint_undo(s, e, add);
                                return r;
                        }
                }
        }
        r = manager_save_finish(m, &st, error);
        if (r < 0) {
                endpoint_undo(s, e, add);
                if (s->enabled && table_change_endpoint(m->nft, e, !add, NULL) < 0)
                        (void)manager_commit(m, s, &m->protection, NULL);
                return r;
        }

        manager_notify(m, endpoints_changed);
        return 0;
}

int manager_add_endpoint(Manager *m, const Endpoint *e, Error *error) {
        return manager_change_endpoint(m, e, true, error);
}

int manager_remove_endpoint(Manager *m, const Endpoint *e, Error *error) {
        return manager_change_endpoint(m, e, false, error);
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

static char **strv_new(void) {
        return calloc(1, sizeof(char *));
}

int manager_active_tunnels(Manager *m, char ***ret) {
        _cleanup_(strv_freep) char **l = strv_new();
        size_t n = 0;

        if (!l)
                return -ENOMEM;
        for (size_t i = 0; i < m->n_tunnel_links; i++)
                if (m->tunnel_links[i].up && strv_push(&l, &n, m->tunnel_links[i].name) < 0)
                        return -ENOMEM;
        *ret = TAKE_PTR(l);
        return 0;
}

bool manager_tunnel_up(Manager *m) {
        for (size_t i = 0; i < m->n_tunnel_links; i++)
                if (m->tunnel_links[i].up)
                        return true;
        return false;
}

/* A listed path is present when the cgroup at that path now is the one whose id the daemon put
 * in the sets: a cgroup removed, or removed and made again, is not until the daemon has seen it. */
static int present_cgroups_push(Manager *m, const CgroupList *l, const uint64_t *ids, size_t n_ids,
                                char ***strv, size_t *n) {
        for (size_t i = 0; i < l->n; i++) {
                uint64_t id;

                if (m->cgroup_root_fd < 0 ||
                    cgroup_lookup_id(m->cgroup_root_fd, l->paths[i], &id) < 0 ||
                    !cgroup_ids_contain(ids, n_ids, id))
                        continue;
                if (strv_push(strv, n, l->paths[i]) < 0)
                        return -ENOMEM;
        }
        return 0;
}

int manager_present_cgroups(Manager *m, char ***ret) {
        _cleanup_(strv_freep) char **l = strv_new();
        size_t n = 0;
        int r;

        if (!l)
                return -ENOMEM;
        r = present_cgroups_push(m, &m->settings.exempt_cgroups, m->cgroups.exempt,
                                 m->cgroups.n_exempt, &l, &n);
        if (r >= 0)
                r = present_cgroups_push(m, &m->settings.scoped_cgroups, m->cgroups.scoped,
                                         m->cgroups.n_scoped, &l, &n);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(l);
        return 0;
}

int manager_lan_subnets(Manager *m, char ***ret) {
        _cleanup_(strv_freep) char **l = strv_new();
        size_t n = 0;

        if (!l)
                return -ENOMEM;
        for (size_t i = 0; m->settings.allow_lan && i < m->n_lan; i++) {
                char cidr[INET6_ADDRSTRLEN + 4];

                if (lan_prefix_format(&m->lan[i], cidr, sizeof(cidr)) < 0 ||
                    strv_push(&l, &n, cidr) < 0)
                        return -ENOMEM;
        }
        *ret = TAKE_PTR(l);
        return 0;
}

static const LinkInfo *link_find(const LinkInfo *v, size_t n, const char *name) {
        for (size_t i = 0; i < n; i++)
                if (strcmp(v[i].name, name) == 0)
                        return &v[i];
        return NULL;
}

/* TunnelChanged whenever a matching interface's "up" changes, an absent one counting as down:
 * a tunnel that appears up, goes up, goes down or disappears while up is signalled once. (A
 * VPN client's crash is "down" then "deleted" from the kernel: one signal, not two.) */
static bool manager_update_tunnels(Manager *m, bool emit) {
        LinkInfo *links;
        size_t n;
        bool changed = false;

        if (netwatch_tunnels(m->netwatch, m->settings.tunnels, m->settings.n_tunnels, &links, &n) <
            0)
                return false;
        for (size_t i = 0; i < n; i++) {
                const LinkInfo *old = link_find(m->tunnel_links, m->n_tunnel_links, links[i].name);

                if ((old && old->up) == links[i].up)
                        continue;
                changed = true;
                log_info("Tunnel %s is %s.", links[i].name, links[i].up ? "up" : "down");
                if (emit)
                        manager_notify(m, tunnel_changed, links[i].name, links[i].up);
        }
        for (size_t i = 0; i < m->n_tunnel_links; i++) {
                if (!m->tunnel_links[i].up || link_find(links, n, m->tunnel_links[i].name))
                        continue;
                changed = true;
                log_info("Tunnel %s is gone.", m->tunnel_links[i].name);
                if (emit)
                        manager_notify(m, tunnel_changed, m->tunnel_links[i].name, false);
        }
        free(m->tunnel_links);
        m->tunnel_links = links;
        m->n_tunnel_links = n;
        return changed;
}

static bool links_equal(const GuardedLink *a, size_t na, const GuardedLink *b, size_t nb) {
        if (na != nb)
                return false;
        for (size_t i = 0; i < na; i++)
                if (!guarded_link_equal(&a[i], &b[i]))
                        return false;
        return true;
}

/* Addresses or links changed: refill the LAN and on-link sets and give each link its egress
 * chain, in one transaction ('apply' is false before the table is first installed). Returns
 * whether the LAN changed. */
static bool manager_update_lan(Manager *m, bool apply) {
        _cleanup_(freep) LanPrefix *lan = NULL, *onlink = NULL;
        _cleanup_(freep) GuardedLink *links = NULL;
        Error error = {};
        size_t n_lan, n_onlink, n_links;
        bool lan_changed;
        NetView old, now;
        int r;

        if (netwatch_prefixes(m->netwatch, m->settings.tunnels, m->settings.n_tunnels, &lan, &n_lan,
                              &onlink, &n_onlink) < 0 ||
            netwatch_guarded_links(m->netwatch, m->settings.tunnels, m->settings.n_tunnels, &links,
                                   &n_links) < 0)
                return false;
        lan_changed = !lan_prefixes_equal(lan, n_lan, m->lan, m->n_lan);
        if (!lan_changed && lan_prefixes_equal(onlink, n_onlink, m->onlink, m->n_onlink) &&
            links_equal(links, n_links, m->links, m->n_links))
                return false;

        old = manager_view(m);
        now = (NetView){lan, n_lan, onlink, n_onlink, links, n_links};
        if (apply && m->settings.enabled) {
                log_info("Network changed: %zu LAN prefix(es), %zu on-link, %zu link(s) guarded.",
                         n_lan, n_onlink, n_links);
                r = table_update_network(m->nft, &m->settings, &old, &now, m->frames, &error);
                if (r < 0)
                        log_warning("Network update refused (%s): rebuilding the table.",
                                    error.message);
        } else
                r = 0;
        SWAP(m->lan, lan);
        SWAP(m->onlink, onlink);
        SWAP(m->links, links);
        m->n_lan = n_lan;
        m->n_onlink = n_onlink;
        m->n_links = n_links;
        if (r < 0 && manager_commit(m, &m->settings, &m->protection, &error) < 0)
                log_error("Failed to rebuild the table: %s", error.message);
        return lan_changed;
}

static void manager_update_uplink(Manager *m, bool emit) {
        char uplink[IFNAMSIZ];

        if (netwatch_default_interface(m->netwatch, m->settings.tunnels, m->settings.n_tunnels,
                                       uplink) < 0 ||
            strcmp(uplink, m->uplink) == 0)
                return;
        log_info("Default route outside the tunnel: %s.", uplink[0] ? uplink : "none");
        memcpy(m->uplink, uplink, sizeof(uplink));
        if (emit)
                manager_notify(m, network_changed, uplink);
}

/* Recomputes everything derived from the network; when 'emit', signals and updates the kernel
 * (not yet at start, before the table is installed). */
static void manager_update_network(Manager *m, bool emit) {
        bool tunnels = manager_update_tunnels(m, emit);
        bool lan = manager_update_lan(m, emit);

        manager_update_uplink(m, emit);
        if (emit)
                manager_notify(m, network_state_changed, tunnels, lan && m->settings.allow_lan);
}

static void on_network_event(void *userdata) {
        manager_update_network(userdata, true);
}

int manager_table_diff(Manager *m, const Lines *have, Lines *missing, Lines *extra) {
        NetView v = manager_view(m);

        return table_diff(&m->settings, &v, m->protection, m->frames, have, missing, extra);
}

/* Lost nftables events (our own large commits overflow the tamper watch's socket too): look at the
 * table itself rather than assume the worst and rebuild, which would overflow it again. */
static bool manager_table_intact(Manager *m) {
        _cleanup_(lines_done) Lines have = {}, missing = {}, extra = {};

        return table_read(m->nft, &have) >= 0 &&
               manager_table_diff(m, &have, &missing, &extra) >= 0 && missing.n == 0 &&
               extra.n == 0;
}

/* Someone else changed our table: put ours back whole, then say so. */
static void on_tampered(const char *what, const char *culprit, bool lost, void *userdata) {
        Manager *m = userdata;
        Error error = {};
        int r;

        if (!m->settings.enabled)
                return;
        if (lost && manager_table_intact(m)) {
                log_debug("nftables events lost; the table is as it should be.");
                return;
        }
        if (m->tamper_report) {
                log_warning("Table inet killswitchd changed by %s (%s): left as it is "
                            "(--tamper=report).",
                            culprit, what);
                manager_notify(m, tampered, what);
                return;
        }
        r = manager_commit(m, &m->settings, &m->protection, &error);
        if (r < 0) {
                log_error("Table inet killswitchd changed by %s (%s) and could not be restored: %s",
                          culprit, what, error.message);
                return;
        }
        m->tamper_count++;
        log_warning("Table inet killswitchd changed by %s (%s): restored.", culprit, what);
        manager_notify(m, tampered, what);
}

uint64_t manager_blocked_packets(Manager *m) {
        uint64_t packets = 0;

        if (m->settings.enabled)
                (void)table_blocked(m->nft, &packets);
        return packets;
}

/* What to enforce at start: the saved settings, or fail closed. */
static void manager_load(Manager *m) {
        Error error = {};
        TableInfo t;
        int r;

        r = state_load_file(&m->state, &m->settings, &error);
        if (r >= 0)
                return;
        if (r == -ENOENT) {
                /* No saved settings but a table in force (put there by --boot from settings that
                 * were bad, or by an earlier daemon): keep blocking rather than guess. */
                if (nft_get_table(m->nft, NFPROTO_INET, &t) < 0)
                        return;
                log_warning("No saved settings but table inet killswitchd exists: blocking all "
                            "traffic until settings are applied.");
        } else
                log_error_errno(r,
                                "Saved settings unusable (%s): blocking all traffic until "
                                "settings are applied.",
                                error.message);
        settings_init_block_all(&m->settings);
}

/* Without cgroup2 mounted, no listed cgroup exists: exempt opens nothing, scoped holds nothing. */
static void manager_start_cgroups(Manager *m) {
        _cleanup_(freep) char *root = NULL;
        int r;

        r = cgroup2_find_root(&root);
        if (r >= 0) {
                m->cgroup_root_fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                if (m->cgroup_root_fd < 0)
                        r = -errno;
        }
        if (r >= 0)
                r = cgroup_watch_new(m->event, m->cgroup_root_fd, on_cgroup_event, m,
                                     &m->cgroup_watch);
        if (r < 0)
                log_notice_errno(r, "No cgroup2 hierarchy to follow (%m): ExemptCgroups and "
                                    "ScopedCgroups match nothing.");
        manager_update_cgroups(m, false);
}

int manager_start(Manager *m) {
        Error error = {};
        int r;

        manager_load(m);
        r = netwatch_new(m->event, on_network_event, m, &m->netwatch);
        if (r < 0)
                return log_error_errno(r, "Failed to watch the network: %m");
        manager_update_network(m, false);
        manager_start_cgroups(m);
        r = tamper_watch_new(m->event, nft_portid(m->nft), on_tampered, m, &m->tamper_watch);
        if (r < 0)
                return log_error_errno(r, "Failed to watch nftables changes: %m");
        if (m->settings.enabled) {
                NetView v = manager_view(m);

                r = table_install(m->nft, &m->settings, &v, m->unowned, &m->protection, &m->frames,
                                  &error);
                if (r < 0)
                        return log_error_errno(r, "Failed to install table inet killswitchd: %s",
                                               error.message);
        }
        manager_log_state(m);
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

        (void)sd_notify(false, "READY=1");
        r = sd_event_loop(m->event);
        (void)sd_notify(false, "STOPPING=1");
        return r;
}

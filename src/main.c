/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "bus.h"
#include "cgroup.h"
#include "lan.h"
#include "log.h"
#include "manager.h"
#include "state.h"

static const char *arg_state_dir;
static bool arg_boot;
static bool arg_unowned;
static bool arg_tamper_report;

static void help(void) {
        printf("Usage: killswitchd [OPTIONS]\n\n"
               "Enforce a VPN kill switch with one nftables table (table inet killswitchd).\n\n"
               "  --boot              Install the table from the saved settings if Enabled and\n"
               "                      Persistent, then exit; corrupt settings block everything\n"
               "  --state-dir DIR     Where settings are saved (default: $STATE_DIRECTORY,\n"
               "                      else " STATE_DIR_DEFAULT ")\n"
               "  --protection=monitor\n"
               "                      Do not use the kernel's owner/persist table flags\n"
               "  --tamper=report     Report changes others make to the table, do not undo\n"
               "                      them (diagnostics; the default is restore)\n"
               "  --debug             Log debug messages\n"
               "  --version           Show the version\n"
               "  --help              Show this help\n");
}

static int parse_argv(int argc, char *argv[]) {
        enum {
                ARG_BOOT = 0x100,
                ARG_STATE_DIR,
                ARG_PROTECTION,
                ARG_TAMPER,
                ARG_DEBUG,
                ARG_VERSION
        };
        static const struct option options[] = {
                {"boot", no_argument, NULL, ARG_BOOT},
                {"state-dir", required_argument, NULL, ARG_STATE_DIR},
                {"protection", required_argument, NULL, ARG_PROTECTION},
                {"tamper", required_argument, NULL, ARG_TAMPER},
                {"debug", no_argument, NULL, ARG_DEBUG},
                {"version", no_argument, NULL, ARG_VERSION},
                {"help", no_argument, NULL, 'h'},
                {},
        };
        int c;

        while ((c = getopt_long(argc, argv, "h", options, NULL)) >= 0)
                switch (c) {
                case ARG_BOOT: arg_boot = true; break;
                case ARG_STATE_DIR: arg_state_dir = optarg; break;
                case ARG_PROTECTION:
                        if (strcmp(optarg, "monitor") == 0)
                                arg_unowned = true;
                        else if (strcmp(optarg, "auto") != 0) {
                                log_error("--protection: \"%s\" is neither auto nor monitor",
                                          optarg);
                                return -EINVAL;
                        }
                        break;
                case ARG_TAMPER:
                        if (strcmp(optarg, "report") == 0)
                                arg_tamper_report = true;
                        else if (strcmp(optarg, "restore") != 0) {
                                log_error("--tamper: \"%s\" is neither restore nor report", optarg);
                                return -EINVAL;
                        }
                        break;
                case ARG_DEBUG: log_set_max_level(LOG_DEBUG); break;
                case ARG_VERSION: puts(KILLSWITCHD_VERSION); return 0;
                case 'h': help(); return 0;
                default: return -EINVAL;
                }
        if (optind < argc) {
                log_error("Unexpected argument: %s", argv[optind]);
                return -EINVAL;
        }
        if (!arg_state_dir)
                arg_state_dir = state_dir_default();
        return 1;
}

static void boot_no_events(void *userdata) {
        (void)userdata;
}

/* The boot unit: before any interface is configured, put the saved table in force. */
/* The listed cgroups that exist already (systemd makes its slices early); the others, when the
 * service has started and sees them come. */
static void boot_cgroup_ids(const Settings *s, CgroupIds *ret) {
        _cleanup_(freep) char *root = NULL;
        _cleanup_(closep) int fd = -EBADF;

        if (s->exempt_cgroups.n + s->scoped_cgroups.n == 0 || cgroup2_find_root(&root) < 0)
                return;
        fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (cgroup_ids_lookup(fd, s->exempt_cgroups.paths, s->exempt_cgroups.n, &ret->exempt,
                              &ret->n_exempt) < 0 ||
            cgroup_ids_lookup(fd, s->scoped_cgroups.paths, s->scoped_cgroups.n, &ret->scoped,
                              &ret->n_scoped) < 0)
                cgroup_ids_done(ret);
}

static int run_boot(void) {
        _cleanup_(nft_freep) Nft *nft = NULL;
        _cleanup_(sd_event_unrefp) sd_event *event = NULL;
        _cleanup_(netwatch_freep) Netwatch *w = NULL;
        _cleanup_(freep) GuardedLink *links = NULL;
        _cleanup_(cgroup_ids_done) CgroupIds ids = {};
        NetView v = {.lan = lan_private_ranges, .n_lan = lan_private_ranges_count};
        bool frames;
        Error error = {};
        Settings s;
        Protection p;
        int r, load;

        r = nft_open(&nft);
        if (r < 0)
                return log_error_errno(r, "Failed to open nftables netlink socket: %m");

        load = state_load(arg_state_dir, &s, &error);
        if (load == -ENOENT) {
                log_info("No saved settings in %s: nothing to install.", arg_state_dir);
                return 0;
        }
        if (load < 0) {
                log_error_errno(load, "Saved settings unusable (%s): blocking all traffic.",
                                error.message);
                settings_init_block_all(&s);
        } else if (!s.enabled || !s.persistent) {
                log_info("Kill switch not enabled and persistent: nothing to install.");
                settings_done(&s);
                return 0;
        }

        /* Before networking no address is configured: LAN is every private range, and each link
         * there now gets its egress chain. */
        r = sd_event_default(&event);
        if (r >= 0)
                r = netwatch_new(event, boot_no_events, NULL, &w);
        if (r >= 0)
                r = netwatch_guarded_links(w, s.tunnels, s.n_tunnels, &links, &v.n_links);
        if (r < 0)
                log_warning_errno(r, "Failed to list the links (%m): no egress chains until the "
                                     "service starts.");
        v.links = links;
        boot_cgroup_ids(&s, &ids);
        v.exempt_ids = ids.exempt, v.n_exempt_ids = ids.n_exempt;
        v.scoped_ids = ids.scoped, v.n_scoped_ids = ids.n_scoped;
        r = table_install(nft, &s, &v, arg_unowned, &p, &frames, &error);
        settings_done(&s);
        if (r < 0)
                return log_error_errno(r, "Failed to install table inet killswitchd: %s",
                                       error.message);
        log_info("Table inet killswitchd installed, protection %s.", protection_to_string(p));
        /* Corrupt settings: the block-everything table is in force, but the boot failed. */
        return load < 0 ? load : 0;
}

static int run(int argc, char *argv[]) {
        _cleanup_(manager_freep) Manager *m = NULL;
        _cleanup_(bus_freep) Bus *bus = NULL; /* freed first: it listens to m */
        int r;

        r = parse_argv(argc, argv);
        if (r <= 0)
                return r;
        if (arg_boot)
                return run_boot();

        r = manager_new(arg_state_dir, &m);
        if (r < 0)
                return log_error_errno(r, "Failed to set up: %m");
        m->unowned = arg_unowned;
        m->tamper_report = arg_tamper_report;
        r = manager_start(m);
        if (r < 0)
                return r;
        r = bus_setup(m, &bus);
        if (r < 0)
                return r;
        return manager_run(m);
}

int main(int argc, char *argv[]) {
        return run(argc, argv) < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}

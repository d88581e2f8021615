/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* killswitchctl: a thin client over killswitchd's D-Bus API (docs/dbus-api.md).
 * Every verb is a method call or a property access; the daemon validates. */
#include <getopt.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "ctl.h"
#include "killswitchd/bus.h"

#ifndef KILLSWITCHD_VERSION
#define KILLSWITCHD_VERSION "unknown"
#endif

enum {
        VERB_JSON = 1 << 0,   /* accepts --json */
        VERB_STRICT = 1 << 1, /* accepts --strict */
        VERB_SLICE = 1 << 2,  /* accepts --slice */
};

typedef struct Verb {
        const char *name;
        int min_args, max_args;
        unsigned flags;
        CtlVerbFunc run;
        const char *usage; /* after "killswitchctl " */
        const char *summary;
        const char *help; /* the rest of "killswitchctl VERB --help" */
} Verb;

static int verb_help(Ctl *c, int argc, char **argv);

static const char exit_status_help[] =
        "Exit status:\n"
        "  0  success\n"
        "  1  other failure, e.g. the settings could not be saved (org.killswitchd.Error.State)\n"
        "  2  usage error, or input the D-Bus API cannot carry (a port above 65535)\n"
        "  3  the daemon is not reachable: no bus, or nobody owns " KS_BUS_NAME "\n"
        "  4  access denied (org.freedesktop.DBus.Error.AccessDenied)\n"
        "  5  invalid arguments (org.freedesktop.DBus.Error.InvalidArgs)\n"
        "  6  not found (org.killswitchd.Error.NotFound)\n"
        "  7  limit exceeded (org.killswitchd.Error.LimitExceeded)\n"
        "  8  the kernel refused the change; nothing changed (org.killswitchd.Error.Kernel)\n";

static const Verb verbs[] = {
        {"status", 0, 0, VERB_JSON, verb_status, "status [--json]",
         "Show the kill switch (the default command)",
         "Show whether the kill switch is enabled and how it is protected, the tunnels\n"
         "(and which have an interface up), the endpoints, LAN and DHCP access, whether it\n"
         "persists across reboots, and how many packets it has blocked.\n\n"
         "  --json   print one JSON object with every property of the daemon\n"},
        {"enable", 0, 0, 0, verb_enable, "enable", "Turn the kill switch on",
         "Install the kill switch: from now on traffic may leave only through the tunnels,\n"
         "to the endpoints, and as the LAN and DHCP switches allow. Idempotent.\n"},
        {"disable", 0, 0, 0, verb_disable, "disable", "Turn the kill switch off",
         "Remove the kill switch; the settings are kept. Idempotent.\n"},
        {"endpoint", 3, 4, 0, verb_endpoint, "endpoint add|remove ADDRESS PORT [udp|tcp]",
         "Allow a VPN server outside the tunnel, or stop",
         "Add or remove an endpoint: a VPN server that may be reached outside the tunnel.\n"
         "ADDRESS is an IPv4 or IPv6 literal (no brackets, no host names), PORT 1..65535,\n"
         "the protocol udp (the default) or tcp. Removing an absent endpoint fails (6).\n\n"
         "  killswitchctl endpoint add 198.51.100.7 51820\n"
         "  killswitchctl endpoint add 2001:db8::1 443 tcp\n"},
        {"tunnel", 2, 2, 0, verb_tunnel, "tunnel add|remove NAME",
         "Allow all traffic through an interface, or stop",
         "Add or remove a tunnel: an interface through which all traffic may flow. A name\n"
         "ending in * matches every interface starting with the rest (tun*). At most 32.\n"
         "Removing an absent tunnel fails (6).\n\n"
         "  killswitchctl tunnel add wg0\n"
         "  killswitchctl tunnel add 'tun*'\n"},
        {"exempt", 1, 2, VERB_SLICE, verb_exempt,
         "exempt add|remove PATH | exempt add|remove --slice=NAME | exempt list",
         "Let a cgroup's programs go around the kill switch, or stop",
         "Add or remove a cgroup v2 path (relative to the cgroup2 root) whose programs may\n"
         "send outside the tunnels, or list them (ExemptCgroups). A path that does not\n"
         "exist yet opens nothing until it appears; its sub-cgroups are exempt too.\n"
         "Removing an absent path fails (6). See docs/per-app.md.\n\n"
         "  --slice=NAME   the cgroup of systemd's slice unit NAME, for exec --exempt\n\n"
         "  killswitchctl exempt add user.slice/user-1000.slice/app.slice/app-steam.scope\n"
         "  killswitchctl exempt add --slice=killswitch-exempt.slice\n"
         "  killswitchctl exempt list\n"},
        {"exec", 2, INT_MAX, 0, verb_exec, "exec --exempt|--scoped [--] COMMAND [ARGS...]",
         "Run a program exempt from the kill switch, or held to it",
         "Run COMMAND in a transient systemd scope inside the first slice that ExemptCgroups\n"
         "(--exempt) or ScopedCgroups (--scoped) lists, as systemd-run --scope would, once\n"
         "killswitchd matches that slice (PresentCgroups): COMMAND's first packet is\n"
         "already exempt, or held. Options after COMMAND are COMMAND's. Needs root, or\n"
         "polkit's consent to start systemd units; COMMAND runs as the caller.\n"
         "--scoped refuses to run while the kill switch is disabled.\n"
         "Once COMMAND runs, the exit status is COMMAND's; 126 or 127 when it could not be\n"
         "run (127: not found).\n\n"
         "  killswitchctl exempt add --slice=killswitch-exempt.slice\n"
         "  killswitchctl exec --exempt -- steam\n"},
        {"lan", 1, 1, 0, verb_switch, "lan on|off", "Allow the local network (AllowLan)",
         "Allow or block the directly connected subnets and link-local multicast. DNS to\n"
         "them stays blocked. Sets the AllowLan property.\n"},
        {"dhcp", 1, 1, 0, verb_switch, "dhcp on|off",
         "Allow DHCP and neighbour discovery (AllowDhcp)",
         "Allow or block DHCPv4, DHCPv6 and the ICMPv6 neighbour and router discovery a\n"
         "host needs to get an address while blocked. Sets the AllowDhcp property.\n"},
        {"persist", 1, 1, 0, verb_switch, "persist on|off",
         "Keep the kill switch on from boot (Persistent)",
         "With the kill switch enabled, install it at every boot before the network comes\n"
         "up. Sets the Persistent property.\n"},
        {"apply", 0, 1, 0, verb_apply, "apply [FILE|-]",
         "Change several settings at once, from JSON",
         "Read a JSON object of settings from FILE, or standard input, and apply them in one\n"
         "step: all or nothing. Keys left out keep their values. The keys:\n\n"
         "  Enabled, Persistent, AllowLan, AllowDhcp   true or false\n"
         "  Tunnels        [\"wg0\", \"tun*\"]\n"
         "  Endpoints      [{\"address\": \"198.51.100.7\", \"port\": 51820, \"protocol\": "
         "\"udp\"}]\n"
         "                 or [[\"198.51.100.7\", 51820, \"udp\"]]; the protocol defaults to udp\n"
         "  EndpointMark   an integer, 0..4294967295\n\n"
         "  echo '{\"Enabled\": true, \"Tunnels\": [\"wg0\"]}' | killswitchctl apply\n"},
        {"monitor", 0, 0, VERB_JSON, verb_monitor, "monitor [--json]",
         "Print changes and events as they happen",
         "Print one line for every property change and every signal of the daemon\n"
         "(TunnelChanged, NetworkChanged, Tampered) until interrupted. A note that\n"
         "monitoring has begun goes to standard error.\n\n"
         "  --json   one JSON object per line\n"},
        {"verify", 0, 0, VERB_JSON | VERB_STRICT, verb_verify, "verify [--json] [--strict]",
         "Prove, now, that the kill switch holds",
         "Ask the daemon to check, on this machine and right now: that its table in the\n"
         "kernel is exactly what the settings require, that every base chain drops by\n"
         "default, that probe packets sent outside the tunnels (UDP and TCP, IPv4 and IPv6,\n"
         "DNS too, to documentation addresses that reach nobody) are refused by the kernel,\n"
         "that traffic into an up tunnel is allowed, that LAN means only the private part\n"
         "of this machine's addresses, that packets claiming to come from an endpoint are\n"
         "accepted only as replies, that raw frames (AF_PACKET) sent on every link outside\n"
         "the tunnels are dropped, and that the boot will install the same table.\n"
         "With ExemptCgroups or Scope cgroups, it then starts a process of its own in the\n"
         "first listed slice (through systemd) and proves the rules live: the exempt\n"
         "process gets out where this one is refused, the scoped one is refused where\n"
         "this one is not. Prints one line per check; exits 1 if any check failed. A\n"
         "warning (Persistent off, a check that could not be tried) does not fail unless\n"
         "--strict is given.\n\n"
         "  --json     print the checks as a JSON array\n"
         "  --strict   exit 1 on warnings too\n"},
        {"help", 0, 1, 0, verb_help, "help [COMMAND]", "Show this help, or a command's", ""},
};

static const Verb *verb_find(const char *name) {
        for (size_t i = 0; i < ELEMENTSOF(verbs); i++)
                if (strcmp(verbs[i].name, name) == 0)
                        return &verbs[i];
        return NULL;
}

void ctl_error(const char *fmt, ...) {
        va_list ap;

        fputs(CTL_NAME ": ", stderr);
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fputc('\n', stderr);
}

int ctl_usage_error(const char *verb, const char *fmt, ...) {
        va_list ap;

        fputs(CTL_NAME ": ", stderr);
        if (verb)
                fprintf(stderr, "%s: ", verb);
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fprintf(stderr, "\nTry '" CTL_NAME "%s%s --help'.\n", verb ? " " : "", verb ? verb : "");
        return CTL_EXIT_USAGE;
}

static void help_all(void) {
        printf("Usage: " CTL_NAME " [OPTIONS] [COMMAND [ARGS...]]\n\n"
               "Control killswitchd, the VPN kill switch, over D-Bus.\n\n"
               "Commands:\n");
        for (size_t i = 0; i < ELEMENTSOF(verbs); i++) {
                if (strlen(verbs[i].usage) > 24)
                        printf("  %s\n  %-24s  %s\n", verbs[i].usage, "", verbs[i].summary);
                else
                        printf("  %-24s  %s\n", verbs[i].usage, verbs[i].summary);
        }
        printf("\nOptions:\n"
               "  --json             JSON output (status, monitor)\n"
               "  --address=ADDRESS  Connect to this D-Bus address, not the system bus\n"
               "  -h --help          Show this help; after a command, the command's help\n"
               "  --version          Show the version\n\n"
               "The system bus is $DBUS_SYSTEM_BUS_ADDRESS if set. Reading needs no privileges;\n"
               "changing needs root, or polkit's consent for org.killswitchd.manage.\n\n"
               "%s",
               exit_status_help);
}

static void help_verb(const Verb *v) {
        printf("Usage: " CTL_NAME " %s\n\n%s.\n\n%s%s%s", v->usage, v->summary, v->help,
               *v->help ? "\n" : "", exit_status_help);
}

static int verb_help(Ctl *c _unused_, int argc, char **argv) {
        const Verb *v;

        if (argc < 2) {
                help_all();
                return CTL_EXIT_OK;
        }
        v = verb_find(argv[1]);
        if (!v)
                return ctl_usage_error(NULL, "unknown command '%s'", argv[1]);
        help_verb(v);
        return CTL_EXIT_OK;
}

int main(int argc, char **argv) {
        enum { ARG_VERSION = 0x100, ARG_JSON, ARG_ADDRESS, ARG_STRICT, ARG_SLICE };
        static const struct option options[] = {
                {"help", no_argument, NULL, 'h'},
                {"version", no_argument, NULL, ARG_VERSION},
                {"json", no_argument, NULL, ARG_JSON},
                {"address", required_argument, NULL, ARG_ADDRESS},
                {"strict", no_argument, NULL, ARG_STRICT},
                {"slice", required_argument, NULL, ARG_SLICE},
                {},
        };
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        Ctl ctl = {};
        bool help = false;
        const Verb *v;
        char *status_argv[] = {(char *)"status", NULL};
        int opt, opt_argc, r;

        /* Options may come after the command too ("status --json"); a "--"
         * ends them, for a tunnel name that starts with '-'. Not after "exec": what follows
         * is its own options and another program's command line. */
        opt_argc = argc;
        for (int i = 1; i < argc && strcmp(argv[i], "--") != 0; i++) {
                if (strcmp(argv[i], "--address") == 0 || strcmp(argv[i], "--slice") == 0) {
                        i++;
                        continue;
                }
                if (argv[i][0] != '-') {
                        if (strcmp(argv[i], "exec") == 0)
                                opt_argc = i;
                        break;
                }
        }
        opterr = 0;
        while ((opt = getopt_long(opt_argc, argv, "h", options, NULL)) >= 0)
                switch (opt) {
                case 'h': help = true; break;
                case ARG_VERSION: puts(CTL_NAME " " KILLSWITCHD_VERSION); return CTL_EXIT_OK;
                case ARG_JSON: ctl.json = true; break;
                case ARG_ADDRESS: ctl.address = optarg; break;
                case ARG_STRICT: ctl.strict = true; break;
                case ARG_SLICE: ctl.slice = optarg; break;
                case '?':
                        if (optopt == ARG_ADDRESS || optopt == ARG_SLICE)
                                return ctl_usage_error(NULL, "%s needs an argument",
                                                       argv[optind - 1]);
                        if (optopt >= ARG_VERSION)
                                return ctl_usage_error(NULL, "option '%s' takes no argument",
                                                       argv[optind - 1]);
                        if (optopt)
                                return ctl_usage_error(NULL, "unknown option '-%c'", optopt);
                        return ctl_usage_error(NULL, "unknown option '%s'", argv[optind - 1]);
                default: return CTL_EXIT_FAILURE;
                }

        argc -= optind;
        argv += optind;
        if (argc == 0) {
                if (help) {
                        help_all();
                        return CTL_EXIT_OK;
                }
                argc = 1;
                argv = status_argv;
        }

        v = verb_find(argv[0]);
        if (!v) {
                if (help) {
                        help_all();
                        return CTL_EXIT_OK;
                }
                return ctl_usage_error(NULL, "unknown command '%s'", argv[0]);
        }
        /* "exec --help": the only option exec's own parsing leaves to us. */
        if (v->run == verb_exec && argc > 1 &&
            (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0))
                help = true;
        if (help) {
                help_verb(v);
                return CTL_EXIT_OK;
        }
        if (argc - 1 < v->min_args)
                return ctl_usage_error(v->name, "missing arguments; usage: " CTL_NAME " %s",
                                       v->usage);
        if (argc - 1 > v->max_args)
                return ctl_usage_error(v->name, "too many arguments; usage: " CTL_NAME " %s",
                                       v->usage);
        if (ctl.json && !(v->flags & VERB_JSON))
                return ctl_usage_error(v->name, "--json is not supported");
        if (ctl.strict && !(v->flags & VERB_STRICT))
                return ctl_usage_error(v->name, "--strict is not supported");
        if (ctl.slice && !(v->flags & VERB_SLICE))
                return ctl_usage_error(v->name, "--slice is not supported");

        r = v->run(&ctl, argc, argv);
        bus = ctl.bus;
        return r;
}

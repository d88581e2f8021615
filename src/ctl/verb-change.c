/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The verbs that change one thing: each is one method call or property write,
 * with the daemon deciding whether the value is acceptable. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client.h"
#include "contract/cgroup-path.h"
#include "ctl.h"
#include "killswitchd/bus.h"

int verb_enable(Ctl *c, int argc _unused_, char **argv _unused_) {
        return ctl_call_simple(c, "Enable");
}

int verb_disable(Ctl *c, int argc _unused_, char **argv _unused_) {
        return ctl_call_simple(c, "Disable");
}

/* "add" or "remove"; anything else is a usage error. */
static int parse_add_remove(const char *verb, const char *arg, bool *ret_add) {
        if (strcmp(arg, "add") == 0)
                *ret_add = true;
        else if (strcmp(arg, "remove") == 0)
                *ret_add = false;
        else
                return ctl_usage_error(verb, "unknown action '%s', expected add or remove", arg);
        return CTL_EXIT_OK;
}

/* The API carries the port as q (uint16): anything else cannot be sent at
 * all, while 0 is the daemon's to refuse. */
static int parse_port(const char *s, uint16_t *ret) {
        unsigned long v;
        char *end;

        if (s[0] < '0' || s[0] > '9')
                return -EINVAL;
        errno = 0;
        v = strtoul(s, &end, 10);
        if (errno != 0 || *end != '\0' || v > UINT16_MAX)
                return -ERANGE;
        *ret = (uint16_t)v;
        return 0;
}

int verb_endpoint(Ctl *c, int argc, char **argv) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        const char *protocol = argc > 4 ? argv[4] : "udp";
        uint16_t port;
        bool add = false;
        int r;

        r = parse_add_remove(argv[0], argv[1], &add);
        if (r != CTL_EXIT_OK)
                return r;
        if (parse_port(argv[3], &port) < 0)
                return ctl_usage_error(argv[0], "port '%s' is not a number in 0..65535", argv[3]);

        r = ctl_method_new(c, NULL, add ? "AddEndpoint" : "RemoveEndpoint", &m);
        if (r != CTL_EXIT_OK)
                return r;
        r = sd_bus_message_append(m, "sqs", argv[2], port, protocol);
        if (r < 0)
                return ctl_append_error(argv[0], r);
        return ctl_call(c, m, NULL);
}

/* VERB add|remove VALUE: the method 'add' or 'remove' with one string. */
static int call_add_remove(Ctl *c, char **argv, const char *add_method, const char *remove_method) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        bool add = false;
        int r;

        r = parse_add_remove(argv[0], argv[1], &add);
        if (r != CTL_EXIT_OK)
                return r;
        r = ctl_method_new(c, NULL, add ? add_method : remove_method, &m);
        if (r != CTL_EXIT_OK)
                return r;
        r = sd_bus_message_append(m, "s", argv[2]);
        if (r < 0)
                return ctl_append_error(argv[0], r);
        return ctl_call(c, m, NULL);
}

int verb_tunnel(Ctl *c, int argc _unused_, char **argv) {
        return call_add_remove(c, argv, "AddTunnel", "RemoveTunnel");
}

/* exempt add|remove PATH, exempt list: ExemptCgroups, a path at a time (docs/per-app.md). */
int verb_exempt(Ctl *c, int argc, char **argv) {
        int r;

        if (strcmp(argv[1], "list") == 0) {
                _cleanup_(strv_freep) char **paths = NULL;

                if (argc != 2 || c->slice)
                        return ctl_usage_error(argv[0], "list takes no argument");
                r = ctl_get_strv(c, "ExemptCgroups", &paths);
                if (r != CTL_EXIT_OK)
                        return r;
                for (char **p = paths; p && *p; p++)
                        puts(*p);
                return CTL_EXIT_OK;
        }
        if (c->slice) {
                _cleanup_(freep) char *path = NULL;
                char *args[] = {argv[0], argv[1], NULL, NULL};

                if (argc != 2)
                        return ctl_usage_error(argv[0], "give a cgroup path or --slice, not both");
                r = cgroup_path_from_slice(c->slice, &path);
                if (r == -ENOMEM)
                        return ctl_append_error(argv[0], r);
                if (r < 0)
                        return ctl_usage_error(argv[0],
                                               "'%s' is not a slice unit name "
                                               "(such as killswitch-exempt.slice)",
                                               c->slice);
                args[2] = path;
                return call_add_remove(c, args, "AddExemptCgroup", "RemoveExemptCgroup");
        }
        if (argc != 3)
                return ctl_usage_error(argv[0], "%s takes one cgroup path", argv[1]);
        return call_add_remove(c, argv, "AddExemptCgroup", "RemoveExemptCgroup");
}

static int parse_switch(const char *s) {
        static const char *const on[] = {"on", "yes", "true", "1"};
        static const char *const off[] = {"off", "no", "false", "0"};

        for (size_t i = 0; i < ELEMENTSOF(on); i++) {
                if (strcmp(s, on[i]) == 0)
                        return 1;
                if (strcmp(s, off[i]) == 0)
                        return 0;
        }
        return -EINVAL;
}

/* lan, dhcp and persist: the writable properties. */
int verb_switch(Ctl *c, int argc _unused_, char **argv) {
        static const struct {
                const char *verb, *property;
        } table[] = {
                {"lan", "AllowLan"},
                {"dhcp", "AllowDhcp"},
                {"persist", "Persistent"},
        };
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        const char *property = NULL;
        int on, r;

        for (size_t i = 0; i < ELEMENTSOF(table); i++)
                if (strcmp(argv[0], table[i].verb) == 0)
                        property = table[i].property;
        if (!property)
                return ctl_usage_error(argv[0], "not a switch");
        on = parse_switch(argv[1]);
        if (on < 0)
                return ctl_usage_error(argv[0], "'%s' is neither on nor off", argv[1]);

        r = ctl_method_new(c, "org.freedesktop.DBus.Properties", "Set", &m);
        if (r != CTL_EXIT_OK)
                return r;
        r = sd_bus_message_append(m, "ssv", KS_BUS_INTERFACE, property, "b", on);
        if (r < 0)
                return ctl_append_error(argv[0], r);
        return ctl_call(c, m, NULL);
}

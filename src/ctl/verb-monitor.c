/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* monitor: one line per signal of the daemon's object, until interrupted. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <systemd/sd-event.h>

#include "client.h"
#include "ctl.h"
#include "format.h"
#include "json.h"
#include "killswitchd/bus.h"

typedef struct Monitor {
        sd_event *event;
        bool json;
} Monitor;

/* The contract's argument names, which become the keys of --json lines. */
static const struct {
        const char *member;
        const char *args[2];
} signal_args[] = {
        {"TunnelChanged", {"name", "up"}},
        {"NetworkChanged", {"interface"}},
        {"Tampered", {"what"}},
};

static void write_failed(Monitor *mon) {
        ctl_error("cannot write: %m");
        sd_event_exit(mon->event, CTL_EXIT_FAILURE);
}

static void print_line(Monitor *mon, json_object *line) {
        if (json_print(stdout, line, false) < 0)
                write_failed(mon);
}

static void end_line(Monitor *mon) {
        if (putchar('\n') == EOF || fflush(stdout) != 0)
                write_failed(mon);
}

static int read_failed(Monitor *mon, sd_bus_message *m, int r) {
        /* A daemon speaking another dialect: say so, but keep listening. */
        errno_set(r);
        ctl_error("cannot read %s signal: %m", sd_bus_message_get_member(m));
        (void)mon;
        return 0;
}

static int on_properties_changed(sd_bus_message *m, void *userdata, sd_bus_error *error _unused_) {
        Monitor *mon = userdata;
        _cleanup_(json_object_putp) json_object *changed = NULL, *invalidated = NULL, *line = NULL;
        int r;

        r = sd_bus_message_skip(m, "s");
        if (r < 0)
                return read_failed(mon, m, r);
        r = json_from_bus(m, &changed);
        if (r >= 0)
                r = json_from_bus(m, &invalidated);
        if (r < 0)
                return read_failed(mon, m, r);

        if (mon->json) {
                line = json_object_new_object();
                if (!line ||
                    json_object_object_add(line, "signal",
                                           json_object_new_string("PropertiesChanged")) < 0 ||
                    json_object_object_add(line, "changed", json_object_get(changed)) < 0 ||
                    json_object_object_add(line, "invalidated", json_object_get(invalidated)) < 0)
                        return -ENOMEM;
                print_line(mon, line);
                return 0;
        }

        fputs("PropertiesChanged", stdout);
        json_object_object_foreach(changed, name, value) {
                printf(" %s=", name);
                format_value(stdout, value);
        }
        /* Invalidated: changed, but the daemon did not send the value (a long list). */
        for (size_t i = 0; i < json_object_array_length(invalidated); i++)
                printf(" %s=(changed)",
                       json_object_get_string(json_object_array_get_idx(invalidated, i)));
        end_line(mon);
        return 0;
}

static int on_signal(sd_bus_message *m, void *userdata, sd_bus_error *error _unused_) {
        Monitor *mon = userdata;
        _cleanup_(json_object_putp) json_object *args = NULL, *line = NULL;
        const char *member = sd_bus_message_get_member(m);
        const char *const *names = NULL;
        size_t n;
        int r;

        args = json_object_new_array();
        if (!args)
                return -ENOMEM;
        while ((r = sd_bus_message_at_end(m, false)) == 0) {
                json_object *v = NULL;

                r = json_from_bus(m, &v);
                if (r < 0)
                        break;
                if (json_object_array_add(args, v) < 0) {
                        json_object_put(v);
                        return -ENOMEM;
                }
        }
        if (r < 0)
                return read_failed(mon, m, r);
        n = json_object_array_length(args);

        for (size_t i = 0; i < ELEMENTSOF(signal_args); i++)
                if (strcmp(member, signal_args[i].member) == 0) {
                        size_t want = signal_args[i].args[1] ? 2 : 1;

                        if (n == want)
                                names = signal_args[i].args;
                }

        if (mon->json) {
                line = json_object_new_object();
                if (!line ||
                    json_object_object_add(line, "signal", json_object_new_string(member)) < 0)
                        return -ENOMEM;
                if (names) {
                        for (size_t i = 0; i < n; i++)
                                if (json_object_object_add(
                                            line, names[i],
                                            json_object_get(json_object_array_get_idx(args, i))) <
                                    0)
                                        return -ENOMEM;
                } else if (json_object_object_add(line, "args", json_object_get(args)) < 0)
                        return -ENOMEM;
                print_line(mon, line);
                return 0;
        }

        fputs(member, stdout);
        for (size_t i = 0; i < n; i++) {
                json_object *v = json_object_array_get_idx(args, i);

                putchar(' ');
                if (names && strcmp(names[i], "up") == 0)
                        fputs(json_object_get_boolean(v) ? "up" : "down", stdout);
                else if (names && json_object_is_type(v, json_type_string) &&
                         json_object_get_string_len(v) == 0)
                        fputs("(none)", stdout); /* NetworkChanged "": no default route */
                else
                        format_value(stdout, v);
        }
        end_line(mon);
        return 0;
}

static int on_disconnected(sd_bus_message *m _unused_, void *userdata,
                           sd_bus_error *error _unused_) {
        Monitor *mon = userdata;

        ctl_error("the bus connection was closed");
        return sd_event_exit(mon->event, CTL_EXIT_UNREACHABLE);
}

static int on_exit_signal(sd_event_source *s _unused_, const struct signalfd_siginfo *si _unused_,
                          void *userdata) {
        Monitor *mon = userdata;

        return sd_event_exit(mon->event, CTL_EXIT_OK);
}

int verb_monitor(Ctl *c, int argc _unused_, char **argv _unused_) {
        _cleanup_(sd_event_unrefp) sd_event *event = NULL;
        Monitor mon = {.json = c->json};
        sigset_t mask;
        sd_bus *bus;
        int r, code;

        r = ctl_bus(c, &bus);
        if (r != CTL_EXIT_OK)
                return r;

        r = sd_event_new(&event);
        if (r < 0)
                goto fail;
        mon.event = event;

        /* Ctrl+C and SIGTERM end monitoring normally, with status 0. */
        sigemptyset(&mask);
        sigaddset(&mask, SIGINT);
        sigaddset(&mask, SIGTERM);
        if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0) {
                r = -errno;
                goto fail;
        }
        r = sd_event_add_signal(event, NULL, SIGINT, on_exit_signal, &mon);
        if (r >= 0)
                r = sd_event_add_signal(event, NULL, SIGTERM, on_exit_signal, &mon);
        if (r < 0)
                goto fail;

        r = sd_bus_attach_event(bus, event, SD_EVENT_PRIORITY_NORMAL);
        if (r < 0)
                goto fail;

        /* The sender is the well-known name, so the matches follow the daemon across
         * restarts. sd_bus_add_match() waits for the bus to confirm them: once it
         * returns, no signal can be missed. */
        r = sd_bus_add_match(bus, NULL,
                             "type='signal',sender='" KS_BUS_NAME "',path='" KS_BUS_PATH
                             "',interface='" KS_BUS_INTERFACE "'",
                             on_signal, &mon);
        if (r < 0)
                goto fail_match;
        r = sd_bus_add_match(bus, NULL,
                             "type='signal',sender='" KS_BUS_NAME "',path='" KS_BUS_PATH
                             "',interface='org.freedesktop.DBus.Properties',"
                             "member='PropertiesChanged',arg0='" KS_BUS_INTERFACE "'",
                             on_properties_changed, &mon);
        if (r < 0)
                goto fail_match;
        r = sd_bus_match_signal(bus, NULL, "org.freedesktop.DBus.Local",
                                "/org/freedesktop/DBus/Local", "org.freedesktop.DBus.Local",
                                "Disconnected", on_disconnected, &mon);
        if (r < 0)
                goto fail;

        /* On stderr, so that stdout carries only events; also tells a script
         * that the subscription is in place. */
        fprintf(stderr, "Monitoring %s; press Ctrl+C to stop.\n", KS_BUS_NAME);

        r = sd_event_loop(event);
        if (r < 0)
                goto fail;
        code = r;
        /* Leave the bus before the event loop goes away. */
        sd_bus_detach_event(bus);
        return code;

fail_match:
        errno_set(r);
        ctl_error("cannot subscribe to the daemon's signals: %m");
        sd_bus_detach_event(bus);
        return r == -ECONNRESET || r == -ENOTCONN ? CTL_EXIT_UNREACHABLE : CTL_EXIT_FAILURE;
fail:
        errno_set(r);
        ctl_error("monitor: %m");
        if (event)
                sd_bus_detach_event(bus);
        return CTL_EXIT_FAILURE;
}

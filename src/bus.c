/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The D-Bus face of the manager: the contract (docs/dbus-api.md), declared in one vtable
 * (bus-properties.c), served on the system bus under the well-known name, and again after the
 * bus daemon comes back. No policy lives in the bus layer beyond parsing, authorization and
 * error names. */
#include "bus-internal.h"
#include "log.h"

static int bus_connect(Bus *b);

/* The bus daemon went away (restarted, upgraded): keep enforcing, and come back as soon as it
 * accepts connections again. */
static int on_reconnect_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        Bus *b = userdata;

        (void)usec;
        b->bus = sd_bus_flush_close_unref(b->bus);
        if (bus_connect(b) < 0) {
                b->bus = sd_bus_flush_close_unref(b->bus);
                (void)sd_event_source_set_time_relative(s, 1000 * 1000);
                (void)sd_event_source_set_enabled(s, SD_EVENT_ONESHOT);
                return 0;
        }
        log_info("Reconnected to the system bus.");
        return 0;
}

static int on_disconnected(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        Bus *b = userdata;

        (void)msg, (void)error;
        log_warning("Lost the system bus connection; the table stays in force. Reconnecting.");
        /* Not from inside this bus's own callback: close and reconnect from the loop. */
        (void)sd_event_source_set_time_relative(b->reconnect, 0);
        return sd_event_source_set_enabled(b->reconnect, SD_EVENT_ONESHOT);
}

static int bus_connect(Bus *b) {
        int r;

        r = sd_bus_open_system(&b->bus);
        if (r < 0)
                return log_error_errno(r, "Failed to connect to the system bus: %m");
        r = sd_bus_add_object_vtable(b->bus, NULL, KS_BUS_PATH, KS_BUS_INTERFACE, bus_vtable,
                                     b->manager);
        if (r < 0)
                return log_error_errno(r, "Failed to add the object: %m");
        r = sd_bus_match_signal(b->bus, NULL, "org.freedesktop.DBus.Local", NULL,
                                "org.freedesktop.DBus.Local", "Disconnected", on_disconnected, b);
        if (r < 0)
                return r;
        r = sd_bus_attach_event(b->bus, b->manager->event, SD_EVENT_PRIORITY_NORMAL);
        if (r < 0)
                return r;
        r = sd_bus_request_name(b->bus, KS_BUS_NAME, 0);
        if (r < 0)
                return log_error_errno(r, "Failed to take the bus name %s: %m", KS_BUS_NAME);
        return 0;
}

int bus_setup(Manager *m, Bus **ret) {
        _cleanup_(bus_freep) Bus *b = NULL;
        int r;

        b = calloc(1, sizeof(Bus));
        if (!b)
                return -ENOMEM;
        b->manager = m;
        r = sd_event_add_time_relative(m->event, &b->reconnect, CLOCK_MONOTONIC, 0, 0,
                                       on_reconnect_timer, b);
        if (r < 0)
                return r;
        (void)sd_event_source_set_enabled(b->reconnect, SD_EVENT_OFF);
        r = bus_connect(b);
        if (r >= 0)
                r = bus_signals_setup(b);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(b);
        return 0;
}

Bus *bus_free(Bus *b) {
        if (!b)
                return NULL;
        if (b->manager->listener_data == b)
                manager_set_listener(b->manager, NULL, NULL);
        sd_event_source_disable_unref(b->emit);
        sd_event_source_disable_unref(b->reconnect);
        sd_bus_flush_close_unref(b->bus);
        free(b);
        return NULL;
}

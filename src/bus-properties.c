/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The contract's properties: the settings, and the live state the manager reports. */
#include <string.h>

#include "bus-internal.h"

/* The boolean settings by property name: getters and setters share one lookup. */
static bool *settings_bool(Settings *s, const char *property) {
        if (strcmp(property, "Enabled") == 0)
                return &s->enabled;
        if (strcmp(property, "Persistent") == 0)
                return &s->persistent;
        if (strcmp(property, "AllowLan") == 0)
                return &s->allow_lan;
        if (strcmp(property, "AllowDhcp") == 0)
                return &s->allow_dhcp;
        if (strcmp(property, "EndpointAnyUser") == 0)
                return &s->endpoint_any_user;
        return NULL;
}

int bus_property_get_bool(sd_bus *bus, const char *path, const char *interface,
                          const char *property, sd_bus_message *reply, void *userdata,
                          sd_bus_error *error) {
        Manager *m = userdata;

        (void)bus, (void)path, (void)interface, (void)error;
        return sd_bus_message_append(reply, "b", *settings_bool(&m->settings, property));
}

int bus_property_get_endpoint_mark(sd_bus *bus, const char *path, const char *interface,
                                   const char *property, sd_bus_message *reply, void *userdata,
                                   sd_bus_error *error) {
        Manager *m = userdata;

        (void)bus, (void)path, (void)interface, (void)property, (void)error;
        return sd_bus_message_append(reply, "u", m->settings.endpoint_mark);
}

static int edit_bool(sd_bus_message *value, const char *property, Settings *s, Error *error) {
        int b, r;

        (void)error;
        r = sd_bus_message_read(value, "b", &b);
        if (r < 0)
                return r;
        *settings_bool(s, property) = b;
        return 0;
}

/* Writable booleans: the same path as Apply with one key. */
int bus_property_set_bool(sd_bus *bus, const char *path, const char *interface,
                          const char *property, sd_bus_message *value, void *userdata,
                          sd_bus_error *ret_error) {
        Error e = {};
        int r;

        (void)path, (void)interface;
        r = bus_change_settings(userdata, sd_bus_get_current_message(bus), value, property,
                                edit_bool, &e);
        return r < 0 ? bus_reply_error(ret_error, &e, r) : 0;
}

int bus_property_get_tunnels(sd_bus *bus, const char *path, const char *interface,
                             const char *property, sd_bus_message *reply, void *userdata,
                             sd_bus_error *error) {
        (void)bus, (void)path, (void)interface, (void)property, (void)error;
        return bus_append_tunnels(reply, &((Manager *)userdata)->settings);
}

int bus_property_get_endpoints(sd_bus *bus, const char *path, const char *interface,
                               const char *property, sd_bus_message *reply, void *userdata,
                               sd_bus_error *error) {
        (void)bus, (void)path, (void)interface, (void)property, (void)error;
        return bus_append_endpoints(reply, &((Manager *)userdata)->settings);
}

static int append_strv(sd_bus_message *reply, char **l) {
        int r = sd_bus_message_open_container(reply, 'a', "s");

        for (char **p = l; r >= 0 && p && *p; p++)
                r = sd_bus_message_append(reply, "s", *p);
        return r < 0 ? r : sd_bus_message_close_container(reply);
}

int bus_property_get_active_tunnels(sd_bus *bus, const char *path, const char *interface,
                                    const char *property, sd_bus_message *reply, void *userdata,
                                    sd_bus_error *error) {
        _cleanup_(strv_freep) char **l = NULL;
        int r;

        (void)bus, (void)path, (void)interface, (void)error;
        r = manager_active_tunnels(userdata, &l);
        if (r < 0)
                return r;
        if (strcmp(property, "TunnelUp") == 0)
                return sd_bus_message_append(reply, "b", l[0] != NULL);
        return append_strv(reply, l);
}

int bus_property_get_lan_subnets(sd_bus *bus, const char *path, const char *interface,
                                 const char *property, sd_bus_message *reply, void *userdata,
                                 sd_bus_error *error) {
        _cleanup_(strv_freep) char **l = NULL;
        int r;

        (void)bus, (void)path, (void)interface, (void)property, (void)error;
        r = manager_lan_subnets(userdata, &l);
        if (r < 0)
                return r;
        return append_strv(reply, l);
}

int bus_property_get_blocked(sd_bus *bus, const char *path, const char *interface,
                             const char *property, sd_bus_message *reply, void *userdata,
                             sd_bus_error *error) {
        (void)bus, (void)path, (void)interface, (void)property, (void)error;
        return sd_bus_message_append(reply, "t", manager_blocked_packets(userdata));
}

int bus_property_get_protection(sd_bus *bus, const char *path, const char *interface,
                                const char *property, sd_bus_message *reply, void *userdata,
                                sd_bus_error *error) {
        Manager *m = userdata;

        (void)bus, (void)path, (void)interface, (void)property, (void)error;
        return sd_bus_message_append(reply, "s", protection_to_string(m->protection));
}

int bus_property_get_version(sd_bus *bus, const char *path, const char *interface,
                             const char *property, sd_bus_message *reply, void *userdata,
                             sd_bus_error *error) {
        (void)bus, (void)path, (void)interface, (void)property, (void)userdata, (void)error;
        return sd_bus_message_append(reply, "s", KILLSWITCHD_VERSION);
}

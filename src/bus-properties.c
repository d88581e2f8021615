/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The contract's properties: the settings, and the live state the manager reports. */
#include <string.h>

#include "bus-internal.h"

/* The settings, as GetSettings has them; the vtable names only settings here. */
int bus_property_get_setting(sd_bus *bus, const char *path, const char *interface,
                             const char *property, sd_bus_message *reply, void *userdata,
                             sd_bus_error *error) {
        Manager *m = userdata;
        int k = setting_key_from_name(property);

        (void)bus, (void)path, (void)interface, (void)error;
        if (k < 0)
                return -EINVAL;
        return bus_append_setting(reply, k, &m->settings);
}

static int edit_setting(sd_bus_message *value, const char *property, Settings *s, Error *error) {
        int k = setting_key_from_name(property);

        return k < 0 ? -EINVAL : bus_read_setting(value, k, s, error);
}

/* Writable settings: the same path as Apply with one key. */
int bus_property_set_setting(sd_bus *bus, const char *path, const char *interface,
                             const char *property, sd_bus_message *value, void *userdata,
                             sd_bus_error *ret_error) {
        Error e = {};
        int r;

        (void)path, (void)interface;
        r = bus_change_settings(userdata, sd_bus_get_current_message(bus), value, property,
                                edit_setting, &e);
        return r < 0 ? bus_reply_error(ret_error, &e, r) : 0;
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
        return sd_bus_message_append_strv(reply, l);
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
        return sd_bus_message_append_strv(reply, l);
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

/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The contract's properties (the settings, and the live state the manager reports), and the
 * vtable: every member of the interface in one table, the methods' handlers in bus-methods.c. */
#include <string.h>

#include "bus-internal.h"

/* The settings, as GetSettings has them; the vtable names only settings here. */
static int bus_property_get_setting(sd_bus *bus, const char *path, const char *interface,
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
static int bus_property_set_setting(sd_bus *bus, const char *path, const char *interface,
                                    const char *property, sd_bus_message *value, void *userdata,
                                    sd_bus_error *ret_error) {
        Error e = {};
        int r;

        (void)path, (void)interface;
        r = bus_change_settings(userdata, sd_bus_get_current_message(bus), value, property,
                                edit_setting, &e);
        return r < 0 ? bus_reply_error(ret_error, &e, r) : 0;
}

static int bus_property_get_active_tunnels(sd_bus *bus, const char *path, const char *interface,
                                           const char *property, sd_bus_message *reply,
                                           void *userdata, sd_bus_error *error) {
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

/* Lists the manager computes from the live state. */
static int bus_property_get_live_list(sd_bus *bus, const char *path, const char *interface,
                                      const char *property, sd_bus_message *reply, void *userdata,
                                      sd_bus_error *error) {
        _cleanup_(strv_freep) char **l = NULL;
        int r;

        (void)bus, (void)path, (void)interface, (void)error;
        if (strcmp(property, "LanSubnets") == 0)
                r = manager_lan_subnets(userdata, &l);
        else
                r = manager_present_cgroups(userdata, &l);
        if (r < 0)
                return r;
        return sd_bus_message_append_strv(reply, l);
}

static int bus_property_get_blocked(sd_bus *bus, const char *path, const char *interface,
                                    const char *property, sd_bus_message *reply, void *userdata,
                                    sd_bus_error *error) {
        (void)bus, (void)path, (void)interface, (void)property, (void)error;
        return sd_bus_message_append(reply, "t", manager_blocked_packets(userdata));
}

static int bus_property_get_protection(sd_bus *bus, const char *path, const char *interface,
                                       const char *property, sd_bus_message *reply, void *userdata,
                                       sd_bus_error *error) {
        Manager *m = userdata;

        (void)bus, (void)path, (void)interface, (void)property, (void)error;
        return sd_bus_message_append(reply, "s", protection_to_string(m->protection));
}

static int bus_property_get_version(sd_bus *bus, const char *path, const char *interface,
                                    const char *property, sd_bus_message *reply, void *userdata,
                                    sd_bus_error *error) {
        (void)bus, (void)path, (void)interface, (void)property, (void)userdata, (void)error;
        return sd_bus_message_append(reply, "s", KILLSWITCHD_VERSION);
}

#define EMITS SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE
/* Methods and writes check authorization themselves (root or polkit), so sd-bus lets all in. */
#define OPEN SD_BUS_VTABLE_UNPRIVILEGED

const sd_bus_vtable bus_vtable[] = {
        SD_BUS_VTABLE_START(0),

        SD_BUS_PROPERTY("Enabled", "b", bus_property_get_setting, 0, EMITS),
        SD_BUS_WRITABLE_PROPERTY("Persistent", "b", bus_property_get_setting,
                                 bus_property_set_setting, 0, EMITS | OPEN),
        SD_BUS_PROPERTY("Tunnels", "as", bus_property_get_setting, 0, EMITS),
        /* Up to 65536 entries: change signals name it rather than carry megabytes. */
        SD_BUS_PROPERTY("Endpoints", "a(sqs)", bus_property_get_setting, 0,
                        SD_BUS_VTABLE_PROPERTY_EMITS_INVALIDATION),
        SD_BUS_PROPERTY("EndpointMark", "u", bus_property_get_setting, 0, EMITS),
        SD_BUS_WRITABLE_PROPERTY("AllowLan", "b", bus_property_get_setting,
                                 bus_property_set_setting, 0, EMITS | OPEN),
        SD_BUS_WRITABLE_PROPERTY("AllowDhcp", "b", bus_property_get_setting,
                                 bus_property_set_setting, 0, EMITS | OPEN),
        SD_BUS_WRITABLE_PROPERTY("EndpointAnyUser", "b", bus_property_get_setting,
                                 bus_property_set_setting, 0, EMITS | OPEN),
        SD_BUS_PROPERTY("Scope", "s", bus_property_get_setting, 0, EMITS),
        SD_BUS_PROPERTY("ExemptCgroups", "as", bus_property_get_setting, 0, EMITS),
        SD_BUS_PROPERTY("ScopedCgroups", "as", bus_property_get_setting, 0, EMITS),
        SD_BUS_PROPERTY("PresentCgroups", "as", bus_property_get_live_list, 0, EMITS),
        SD_BUS_PROPERTY("TunnelUp", "b", bus_property_get_active_tunnels, 0, EMITS),
        SD_BUS_PROPERTY("ActiveTunnels", "as", bus_property_get_active_tunnels, 0, EMITS),
        SD_BUS_PROPERTY("LanSubnets", "as", bus_property_get_live_list, 0, EMITS),
        /* Read from the kernel's counter on demand; never signalled. */
        SD_BUS_PROPERTY("BlockedPackets", "t", bus_property_get_blocked, 0, 0),
        SD_BUS_PROPERTY("Protection", "s", bus_property_get_protection, 0, EMITS),
        SD_BUS_PROPERTY("Version", "s", bus_property_get_version, 0, SD_BUS_VTABLE_PROPERTY_CONST),

        SD_BUS_METHOD_WITH_ARGS("Enable", SD_BUS_NO_ARGS, SD_BUS_NO_RESULT, bus_method_enable,
                                OPEN),
        SD_BUS_METHOD_WITH_ARGS("Disable", SD_BUS_NO_ARGS, SD_BUS_NO_RESULT, bus_method_disable,
                                OPEN),
        SD_BUS_METHOD_WITH_ARGS("Apply", SD_BUS_ARGS("a{sv}", settings), SD_BUS_NO_RESULT,
                                bus_method_apply, OPEN),
        SD_BUS_METHOD_WITH_ARGS("GetSettings", SD_BUS_NO_ARGS, SD_BUS_RESULT("a{sv}", settings),
                                bus_method_get_settings, OPEN),
        SD_BUS_METHOD_WITH_ARGS("AddEndpoint", SD_BUS_ARGS("s", address, "q", port, "s", protocol),
                                SD_BUS_NO_RESULT, bus_method_add_endpoint, OPEN),
        SD_BUS_METHOD_WITH_ARGS("RemoveEndpoint",
                                SD_BUS_ARGS("s", address, "q", port, "s", protocol),
                                SD_BUS_NO_RESULT, bus_method_remove_endpoint, OPEN),
        SD_BUS_METHOD_WITH_ARGS("AddTunnel", SD_BUS_ARGS("s", name), SD_BUS_NO_RESULT,
                                bus_method_add_tunnel, OPEN),
        SD_BUS_METHOD_WITH_ARGS("RemoveTunnel", SD_BUS_ARGS("s", name), SD_BUS_NO_RESULT,
                                bus_method_remove_tunnel, OPEN),
        SD_BUS_METHOD_WITH_ARGS("AddExemptCgroup", SD_BUS_ARGS("s", path), SD_BUS_NO_RESULT,
                                bus_method_add_exempt_cgroup, OPEN),
        SD_BUS_METHOD_WITH_ARGS("RemoveExemptCgroup", SD_BUS_ARGS("s", path), SD_BUS_NO_RESULT,
                                bus_method_remove_exempt_cgroup, OPEN),

        SD_BUS_METHOD_WITH_ARGS("Verify", SD_BUS_NO_ARGS, SD_BUS_RESULT("a(ssb)", checks),
                                bus_method_verify, OPEN),
        SD_BUS_METHOD_WITH_ARGS("VerifyReport", SD_BUS_NO_ARGS, SD_BUS_RESULT("a(sss)", checks),
                                bus_method_verify_report, OPEN),

        SD_BUS_SIGNAL_WITH_ARGS("TunnelChanged", SD_BUS_ARGS("s", name, "b", up), 0),
        SD_BUS_SIGNAL_WITH_ARGS("NetworkChanged", SD_BUS_ARGS("s", interface), 0),
        SD_BUS_SIGNAL_WITH_ARGS("Tampered", SD_BUS_ARGS("s", what), 0),

        SD_BUS_VTABLE_END,
};

/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What the bus says when something changes: PropertiesChanged, coalesced and sent from the loop
 * after the method reply; TunnelChanged, NetworkChanged and Tampered at once. The manager's
 * listener. */
#include <string.h>

#include "bus-internal.h"

typedef enum Property {
        PROP_ENABLED,
        PROP_PERSISTENT,
        PROP_TUNNELS,
        PROP_ENDPOINTS,
        PROP_ENDPOINT_MARK,
        PROP_ALLOW_LAN,
        PROP_ALLOW_DHCP,
        PROP_ENDPOINT_ANY_USER,
        PROP_SCOPE,
        PROP_EXEMPT_CGROUPS,
        PROP_SCOPED_CGROUPS,
        PROP_PRESENT_CGROUPS,
        PROP_TUNNEL_UP,
        PROP_ACTIVE_TUNNELS,
        PROP_LAN_SUBNETS,
        PROP_PROTECTION,
        _PROP_MAX,
} Property;

static const char *const property_names[_PROP_MAX] = {
        [PROP_ENABLED] = "Enabled",
        [PROP_PERSISTENT] = "Persistent",
        [PROP_TUNNELS] = "Tunnels",
        [PROP_ENDPOINTS] = "Endpoints",
        [PROP_ENDPOINT_MARK] = "EndpointMark",
        [PROP_ALLOW_LAN] = "AllowLan",
        [PROP_ALLOW_DHCP] = "AllowDhcp",
        [PROP_ENDPOINT_ANY_USER] = "EndpointAnyUser",
        [PROP_SCOPE] = "Scope",
        [PROP_EXEMPT_CGROUPS] = "ExemptCgroups",
        [PROP_SCOPED_CGROUPS] = "ScopedCgroups",
        [PROP_PRESENT_CGROUPS] = "PresentCgroups",
        [PROP_TUNNEL_UP] = "TunnelUp",
        [PROP_ACTIVE_TUNNELS] = "ActiveTunnels",
        [PROP_LAN_SUBNETS] = "LanSubnets",
        [PROP_PROTECTION] = "Protection",
};

static int on_emit(sd_event_source *s, void *userdata) {
        Bus *b = userdata;
        const char *names[_PROP_MAX + 1];
        size_t n = 0;

        (void)s;
        for (Property p = 0; p < _PROP_MAX; p++)
                if (b->pending & (1u << p))
                        names[n++] = property_names[p];
        names[n] = NULL;
        b->pending = 0;
        if (n > 0 && b->bus)
                (void)sd_bus_emit_properties_changed_strv(b->bus, KS_BUS_PATH, KS_BUS_INTERFACE,
                                                          (char **)names);
        return 0;
}

static void queue_changes(Bus *b, unsigned mask) {
        if (!b->bus || mask == 0)
                return;
        b->pending |= mask;
        (void)sd_event_source_set_enabled(b->emit, SD_EVENT_ONESHOT);
}

static void on_settings_changed(void *userdata, const Settings *old, Protection old_protection) {
        Bus *b = userdata;
        const Settings *s = &b->manager->settings;
        unsigned mask = 0;

#define CHANGED(p, cond)                                                                           \
        if (cond)                                                                                  \
        mask |= 1u << (p)
        CHANGED(PROP_ENABLED, old->enabled != s->enabled);
        CHANGED(PROP_PERSISTENT, old->persistent != s->persistent);
        CHANGED(PROP_ENDPOINT_MARK, old->endpoint_mark != s->endpoint_mark);
        CHANGED(PROP_ALLOW_LAN, old->allow_lan != s->allow_lan);
        CHANGED(PROP_LAN_SUBNETS, old->allow_lan != s->allow_lan);
        CHANGED(PROP_ALLOW_DHCP, old->allow_dhcp != s->allow_dhcp);
        CHANGED(PROP_ENDPOINT_ANY_USER, old->endpoint_any_user != s->endpoint_any_user);
        CHANGED(PROP_PROTECTION, old_protection != b->manager->protection);
        if (!settings_tunnels_equal(old, s))
                mask |= 1u << PROP_TUNNELS | 1u << PROP_TUNNEL_UP | 1u << PROP_ACTIVE_TUNNELS;
        CHANGED(PROP_ENDPOINTS, !settings_endpoints_equal(old, s));
        CHANGED(PROP_SCOPE, old->scoped != s->scoped);
        CHANGED(PROP_EXEMPT_CGROUPS, !cgroup_list_equal(&old->exempt_cgroups, &s->exempt_cgroups));
        CHANGED(PROP_SCOPED_CGROUPS, !cgroup_list_equal(&old->scoped_cgroups, &s->scoped_cgroups));
        /* A path leaving a list leaves PresentCgroups, even when its id stays in the other. */
        CHANGED(PROP_PRESENT_CGROUPS,
                !cgroup_list_equal(&old->exempt_cgroups, &s->exempt_cgroups) ||
                        !cgroup_list_equal(&old->scoped_cgroups, &s->scoped_cgroups));
#undef CHANGED
        queue_changes(b, mask);
}

static void on_endpoints_changed(void *userdata) {
        queue_changes(userdata, 1u << PROP_ENDPOINTS);
}

static void on_tunnel_changed(void *userdata, const char *name, bool up) {
        Bus *b = userdata;

        if (b->bus)
                (void)sd_bus_emit_signal(b->bus, KS_BUS_PATH, KS_BUS_INTERFACE, "TunnelChanged",
                                         "sb", name, up);
}

static void on_network_changed(void *userdata, const char *interface) {
        Bus *b = userdata;

        if (b->bus)
                (void)sd_bus_emit_signal(b->bus, KS_BUS_PATH, KS_BUS_INTERFACE, "NetworkChanged",
                                         "s", interface);
}

static void on_tampered(void *userdata, const char *what) {
        Bus *b = userdata;

        if (b->bus)
                (void)sd_bus_emit_signal(b->bus, KS_BUS_PATH, KS_BUS_INTERFACE, "Tampered", "s",
                                         what);
}

static void on_network_state_changed(void *userdata, bool tunnels, bool lan) {
        queue_changes(userdata, (tunnels ? 1u << PROP_TUNNEL_UP | 1u << PROP_ACTIVE_TUNNELS : 0) |
                                        (lan ? 1u << PROP_LAN_SUBNETS : 0));
}

static void on_cgroups_changed(void *userdata) {
        queue_changes(userdata, 1u << PROP_PRESENT_CGROUPS);
}

static const ManagerListener listener = {
        .settings_changed = on_settings_changed,
        .endpoints_changed = on_endpoints_changed,
        .tunnel_changed = on_tunnel_changed,
        .network_changed = on_network_changed,
        .network_state_changed = on_network_state_changed,
        .cgroups_changed = on_cgroups_changed,
        .tampered = on_tampered,
};

int bus_signals_setup(Bus *b) {
        int r;

        r = sd_event_add_defer(b->manager->event, &b->emit, on_emit, b);
        if (r < 0)
                return r;
        (void)sd_event_source_set_enabled(b->emit, SD_EVENT_OFF);
        manager_set_listener(b->manager, &listener, b);
        return 0;
}

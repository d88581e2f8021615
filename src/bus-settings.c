/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The settings as D-Bus values: read from Apply's a{sv} and from property writes, written into
 * GetSettings and property reads; and the one path every change to them takes. */
#include <arpa/inet.h>
#include <string.h>

#include "bus-internal.h"

/* read_tunnels() and read_cgroups() have one shape: an "as" onto a list, each entry through
 * the list's own validator (interface names, cgroup paths). */
static int read_tunnels(sd_bus_message *msg, Settings *s, Error *error) {
        const char *name;
        int r;

        settings_clear_tunnels(s);

        r = sd_bus_message_enter_container(msg, 'a', "s");
        if (r < 0)
                return r;
        while ((r = sd_bus_message_read(msg, "s", &name)) > 0) {
                r = settings_add_tunnel(s, name, error);
                if (r < 0)
                        return r;
        }
        if (r < 0)
                return r;
        return sd_bus_message_exit_container(msg);
}

int bus_read_endpoint(sd_bus_message *msg, const char *types, Endpoint *ret, Error *error) {
        const char *addr, *proto;
        uint16_t port;
        int r;

        r = sd_bus_message_read(msg, types, &addr, &port, &proto);
        if (r <= 0)
                return r;
        r = endpoint_parse(addr, port, proto, ret, error);
        return r < 0 ? r : 1;
}

static int read_endpoints(sd_bus_message *msg, Settings *s, Error *error) {
        Endpoint e;
        int r;

        s->n_endpoints = 0;
        r = sd_bus_message_enter_container(msg, 'a', "(sqs)");
        if (r < 0)
                return r;
        while ((r = bus_read_endpoint(msg, "(sqs)", &e, error)) > 0) {
                r = settings_append_endpoint(s, &e);
                if (r < 0)
                        return r;
        }
        if (r < 0)
                return r;
        r = settings_normalize_endpoints(s, error);
        if (r < 0)
                return r;
        return sd_bus_message_exit_container(msg);
}

static int read_cgroups(sd_bus_message *msg, const char *field, CgroupList *l, Error *error) {
        const char *path;
        int r;

        cgroup_list_clear(l);
        r = sd_bus_message_enter_container(msg, 'a', "s");
        if (r < 0)
                return r;
        while ((r = sd_bus_message_read(msg, "s", &path)) > 0) {
                r = cgroup_list_add(l, field, path, error);
                if (r < 0)
                        return r;
        }
        if (r < 0)
                return r;
        return sd_bus_message_exit_container(msg);
}

static int read_scope(sd_bus_message *msg, bool *ret, Error *error) {
        const char *value;
        int r;

        r = sd_bus_message_read(msg, "s", &value);
        if (r < 0)
                return r;
        return scope_from_string("Scope", value, ret, error);
}

static int read_bool(sd_bus_message *msg, bool *ret) {
        int b, r;

        r = sd_bus_message_read(msg, "b", &b);
        if (r < 0)
                return r;
        *ret = b;
        return 0;
}

/* One setting's value, of the type the contract gives it, onto s. */
int bus_read_setting(sd_bus_message *msg, SettingKey k, Settings *s, Error *error) {
        switch (k) {
        case SETTING_ENABLED: return read_bool(msg, &s->enabled);
        case SETTING_PERSISTENT: return read_bool(msg, &s->persistent);
        case SETTING_ALLOW_LAN: return read_bool(msg, &s->allow_lan);
        case SETTING_ALLOW_DHCP: return read_bool(msg, &s->allow_dhcp);
        case SETTING_ENDPOINT_ANY_USER: return read_bool(msg, &s->endpoint_any_user);
        case SETTING_ENDPOINT_MARK: return sd_bus_message_read(msg, "u", &s->endpoint_mark);
        case SETTING_TUNNELS: return read_tunnels(msg, s, error);
        case SETTING_ENDPOINTS: return read_endpoints(msg, s, error);
        case SETTING_SCOPE: return read_scope(msg, &s->scoped, error);
        case SETTING_EXEMPT_CGROUPS:
                return read_cgroups(msg, "ExemptCgroups", &s->exempt_cgroups, error);
        case SETTING_SCOPED_CGROUPS:
                return read_cgroups(msg, "ScopedCgroups", &s->scoped_cgroups, error);
        default: return -EINVAL;
        }
}

/* Apply's a{sv} onto a copy of the settings: all keys or none. */
int bus_read_settings_dict(sd_bus_message *msg, Settings *s, Error *error) {
        unsigned seen = 0;
        int r;

        r = sd_bus_message_enter_container(msg, 'a', "{sv}");
        if (r < 0)
                return r;
        while ((r = sd_bus_message_enter_container(msg, 'e', "sv")) > 0) {
                const char *name, *contents;
                char type;
                int k;

                r = sd_bus_message_read(msg, "s", &name);
                if (r < 0)
                        return r;
                k = setting_key_from_name(name);
                if (k < 0)
                        return error_set(error, ERROR_INVALID, -EINVAL, "Unknown setting \"%.64s\"",
                                         name);
                if (seen & (1u << k))
                        return error_set(error, ERROR_INVALID, -EINVAL, "%s: given twice", name);
                seen |= 1u << k;

                r = sd_bus_message_peek_type(msg, &type, &contents);
                if (r < 0)
                        return r;
                if (strcmp(contents, setting_keys[k].signature) != 0)
                        return error_set(error, ERROR_INVALID, -EINVAL,
                                         "%s: expected type %s, got %.32s", name,
                                         setting_keys[k].signature, contents);
                r = sd_bus_message_enter_container(msg, 'v', contents);
                if (r < 0)
                        return r;
                r = bus_read_setting(msg, k, s, error);
                if (r < 0)
                        return r;
                r = sd_bus_message_exit_container(msg);
                if (r < 0)
                        return r;
                r = sd_bus_message_exit_container(msg);
                if (r < 0)
                        return r;
        }
        if (r < 0)
                return r;
        return sd_bus_message_exit_container(msg);
}

/* An "as" of n strings (the settings' lists are counted, not NULL-terminated). */
static int append_strings(sd_bus_message *reply, char *const *v, size_t n) {
        int r = sd_bus_message_open_container(reply, 'a', "s");

        for (size_t i = 0; r >= 0 && i < n; i++)
                r = sd_bus_message_append(reply, "s", v[i]);
        return r < 0 ? r : sd_bus_message_close_container(reply);
}

static int append_endpoints(sd_bus_message *reply, const Settings *s) {
        int r = sd_bus_message_open_container(reply, 'a', "(sqs)");

        for (size_t i = 0; r >= 0 && i < s->n_endpoints; i++) {
                const Endpoint *e = &s->endpoints[i];
                char a[INET6_ADDRSTRLEN];

                endpoint_address(e, a, sizeof(a));
                r = sd_bus_message_append(reply, "(sqs)", a, e->port, endpoint_protocol_name(e));
        }
        return r < 0 ? r : sd_bus_message_close_container(reply);
}

/* One setting's value, of the type the contract gives it. */
int bus_append_setting(sd_bus_message *reply, SettingKey k, const Settings *s) {
        switch (k) {
        case SETTING_ENABLED: return sd_bus_message_append(reply, "b", s->enabled);
        case SETTING_PERSISTENT: return sd_bus_message_append(reply, "b", s->persistent);
        case SETTING_ALLOW_LAN: return sd_bus_message_append(reply, "b", s->allow_lan);
        case SETTING_ALLOW_DHCP: return sd_bus_message_append(reply, "b", s->allow_dhcp);
        case SETTING_ENDPOINT_ANY_USER:
                return sd_bus_message_append(reply, "b", s->endpoint_any_user);
        case SETTING_ENDPOINT_MARK: return sd_bus_message_append(reply, "u", s->endpoint_mark);
        case SETTING_TUNNELS: return append_strings(reply, s->tunnels, s->n_tunnels);
        case SETTING_ENDPOINTS: return append_endpoints(reply, s);
        case SETTING_SCOPE: return sd_bus_message_append(reply, "s", scope_to_string(s->scoped));
        case SETTING_EXEMPT_CGROUPS:
                return append_strings(reply, s->exempt_cgroups.paths, s->exempt_cgroups.n);
        case SETTING_SCOPED_CGROUPS:
                return append_strings(reply, s->scoped_cgroups.paths, s->scoped_cgroups.n);
        default: return -EINVAL;
        }
}

/* GetSettings' a{sv}: every key, in the table's order. */
int bus_append_settings_dict(sd_bus_message *reply, const Settings *s) {
        int r = sd_bus_message_open_container(reply, 'a', "{sv}");

        for (SettingKey k = 0; r >= 0 && k < _SETTING_KEY_MAX; k++) {
                r = sd_bus_message_open_container(reply, 'e', "sv");
                if (r >= 0)
                        r = sd_bus_message_append(reply, "s", setting_keys[k].name);
                if (r >= 0)
                        r = sd_bus_message_open_container(reply, 'v', setting_keys[k].signature);
                if (r >= 0)
                        r = bus_append_setting(reply, k, s);
                if (r >= 0)
                        r = sd_bus_message_close_container(reply);
                if (r >= 0)
                        r = sd_bus_message_close_container(reply);
        }
        return r < 0 ? r : sd_bus_message_close_container(reply);
}

/* Every change to the settings but the endpoint verbs: authorize the call, edit a copy, and hand
 * it to the manager, which puts it in the kernel and on disk or changes nothing. */
int bus_change_settings(Manager *m, sd_bus_message *call, sd_bus_message *args,
                        const char *property, SettingsEdit edit, Error *error) {
        _cleanup_(settings_done) Settings s = {};
        int r;

        r = bus_check_authorized(call, error);
        if (r >= 0)
                r = settings_copy(&m->settings, &s);
        if (r >= 0)
                r = edit(args, property, &s, error);
        if (r >= 0)
                r = manager_set_settings(m, &s, error);
        return r;
}

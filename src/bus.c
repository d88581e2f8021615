/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The D-Bus face of the manager: translates the contract (docs/dbus-api.md) into manager verbs.
 * No policy lives here beyond parsing, authorization and error names. */
#include <arpa/inet.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <systemd/sd-bus.h>

#include "bus.h"
#include "killswitchd/bus.h"
#include "log.h"
#include "verify.h"

struct Bus {
        Manager *manager;
        sd_bus *bus;
        sd_event_source *emit;      /* sends queued PropertiesChanged after replies */
        unsigned pending;           /* the properties queued, as Property numbers them */
        sd_event_source *reconnect; /* armed when the bus daemon goes away */
};

/* ---- errors: the contract's name for each kind ---- */

static const char *const error_names[] = {
        [ERROR_INVALID] = SD_BUS_ERROR_INVALID_ARGS,
        [ERROR_LIMIT] = KS_ERROR_LIMIT_EXCEEDED,
        [ERROR_NOT_FOUND] = KS_ERROR_NOT_FOUND,
        [ERROR_KERNEL] = KS_ERROR_KERNEL,
        [ERROR_STATE] = KS_ERROR_STATE,
        [ERROR_DENIED] = SD_BUS_ERROR_ACCESS_DENIED,
};

/* A failure as the caller sees it. -ENOMEM, and a failure nobody put into words (the message
 * could not be read), go back as errno, which sd-bus turns into an error of its own. */
static int reply_error(sd_bus_error *ret_error, const Error *e, int r) {
        if (r == -ENOMEM || !error_is_set(e))
                return r;
        return sd_bus_error_set(ret_error, error_names[e->kind], e->message);
}

/* ---- authorization: uid 0, or polkit's org.killswitchd.manage ---- */

static int check_polkit(sd_bus_message *msg, bool *ret) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        _cleanup_(sd_bus_error_free) sd_bus_error e = SD_BUS_ERROR_NULL;
        int authorized = 0, challenge = 0, r;
        /* Interactive authentication would block the whole daemon while a password is typed:
         * callers must be authorized by polkit rules or an earlier "keep" grant. */
        uint32_t flags = 0;

        r = sd_bus_call_method(sd_bus_message_get_bus(msg), "org.freedesktop.PolicyKit1",
                               "/org/freedesktop/PolicyKit1/Authority",
                               "org.freedesktop.PolicyKit1.Authority", "CheckAuthorization", &e,
                               &reply, "(sa{sv})sa{ss}us", "system-bus-name", 1, "name", "s",
                               sd_bus_message_get_sender(msg), KS_POLKIT_ACTION, 0, flags, "");
        if (r < 0) {
                /* No polkit on the bus: only root may change anything. */
                log_debug("polkit unavailable: %s", e.message ?: strerror(-r));
                *ret = false;
                return 0;
        }
        /* (bba{ss}): is_authorized, is_challenge, details. */
        r = sd_bus_message_enter_container(reply, 'r', "bba{ss}");
        if (r >= 0)
                r = sd_bus_message_read(reply, "bb", &authorized, &challenge);
        if (r < 0)
                return r;
        *ret = authorized;
        return 0;
}

static int check_authorized(sd_bus_message *msg, Error *error) {
        _cleanup_(sd_bus_creds_unrefp) sd_bus_creds *creds = NULL;
        bool ok = false;
        uid_t uid;
        int r;

        r = sd_bus_query_sender_creds(msg, SD_BUS_CREDS_EUID | SD_BUS_CREDS_AUGMENT, &creds);
        if (r >= 0)
                r = sd_bus_creds_get_euid(creds, &uid);
        if (r < 0)
                return error_set(error, ERROR_DENIED, -EACCES,
                                 "Cannot determine the caller's identity");
        if (uid == 0)
                return 0;
        r = check_polkit(msg, &ok);
        if (r < 0)
                return r;
        if (!ok)
                return error_set(error, ERROR_DENIED, -EACCES,
                                 "Changing or probing the kill switch needs root or the polkit "
                                 "action %s",
                                 KS_POLKIT_ACTION);
        return 0;
}

/* ---- reading settings from a message ---- */

static int read_tunnels(sd_bus_message *msg, Settings *s, Error *error) {
        const char *name;
        int r;

        for (size_t i = 0; i < s->n_tunnels; i++)
                free(s->tunnels[i]);
        free(s->tunnels);
        s->tunnels = NULL;
        s->n_tunnels = 0;

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

static int read_endpoints(sd_bus_message *msg, Settings *s, Error *error) {
        const char *addr, *proto;
        uint16_t port;
        Endpoint e;
        int r;

        s->n_endpoints = 0;
        r = sd_bus_message_enter_container(msg, 'a', "(sqs)");
        if (r < 0)
                return r;
        while ((r = sd_bus_message_read(msg, "(sqs)", &addr, &port, &proto)) > 0) {
                r = endpoint_parse(addr, port, proto, &e, error);
                if (r < 0)
                        return r;
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

static int read_bool(sd_bus_message *msg, bool *ret) {
        int b, r;

        r = sd_bus_message_read(msg, "b", &b);
        if (r < 0)
                return r;
        *ret = b;
        return 0;
}

static int read_value(sd_bus_message *msg, SettingKey k, Settings *s, Error *error) {
        switch (k) {
        case SETTING_ENABLED: return read_bool(msg, &s->enabled);
        case SETTING_PERSISTENT: return read_bool(msg, &s->persistent);
        case SETTING_ALLOW_LAN: return read_bool(msg, &s->allow_lan);
        case SETTING_ALLOW_DHCP: return read_bool(msg, &s->allow_dhcp);
        case SETTING_ENDPOINT_ANY_USER: return read_bool(msg, &s->endpoint_any_user);
        case SETTING_ENDPOINT_MARK: return sd_bus_message_read(msg, "u", &s->endpoint_mark);
        case SETTING_TUNNELS: return read_tunnels(msg, s, error);
        case SETTING_ENDPOINTS: return read_endpoints(msg, s, error);
        default: return -EINVAL;
        }
}

/* Apply's a{sv} onto a copy of the settings: all keys or none. */
static int read_settings_dict(sd_bus_message *msg, Settings *s, Error *error) {
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
                r = read_value(msg, k, s, error);
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

/* ---- methods ---- */

/* A change to the settings, read from 'args' onto a copy of them ('property': the one being
 * written, for property setters). */
typedef int (*SettingsEdit)(sd_bus_message *args, const char *property, Settings *s, Error *error);

/* Every change to the settings but the endpoint verbs: authorize the call, edit a copy, and hand
 * it to the manager, which puts it in the kernel and on disk or changes nothing. */
static int change_settings(Manager *m, sd_bus_message *call, sd_bus_message *args,
                           const char *property, SettingsEdit edit, Error *error) {
        _cleanup_(settings_done) Settings s = {};
        int r;

        r = check_authorized(call, error);
        if (r >= 0)
                r = settings_copy(&m->settings, &s);
        if (r >= 0)
                r = edit(args, property, &s, error);
        if (r >= 0)
                r = manager_set_settings(m, &s, error);
        return r;
}

static int method_change_settings(sd_bus_message *msg, Manager *m, SettingsEdit edit,
                                  sd_bus_error *ret_error) {
        Error e = {};
        int r;

        r = change_settings(m, msg, msg, NULL, edit, &e);
        if (r < 0)
                return reply_error(ret_error, &e, r);
        return sd_bus_reply_method_return(msg, NULL);
}

static int edit_enable(sd_bus_message *args, const char *property, Settings *s, Error *error) {
        (void)args, (void)property, (void)error;
        s->enabled = true;
        return 0;
}

static int edit_disable(sd_bus_message *args, const char *property, Settings *s, Error *error) {
        (void)args, (void)property, (void)error;
        s->enabled = false;
        return 0;
}

static int edit_apply(sd_bus_message *args, const char *property, Settings *s, Error *error) {
        (void)property;
        return read_settings_dict(args, s, error);
}

static int edit_add_tunnel(sd_bus_message *args, const char *property, Settings *s, Error *error) {
        const char *name;
        int r;

        (void)property;
        r = sd_bus_message_read(args, "s", &name);
        if (r < 0)
                return r;
        return settings_add_tunnel(s, name, error);
}

static int edit_remove_tunnel(sd_bus_message *args, const char *property, Settings *s,
                              Error *error) {
        const char *name;
        int r;

        (void)property;
        r = sd_bus_message_read(args, "s", &name);
        if (r >= 0)
                r = tunnel_name_validate(name, error);
        if (r < 0)
                return r;
        if (settings_remove_tunnel(s, name) < 0)
                return error_set(error, ERROR_NOT_FOUND, -ENOENT,
                                 "Tunnels: \"%s\" is not in the list", name);
        return 0;
}

static int method_enable(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        return method_change_settings(msg, userdata, edit_enable, error);
}

static int method_disable(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        return method_change_settings(msg, userdata, edit_disable, error);
}

static int method_apply(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        return method_change_settings(msg, userdata, edit_apply, error);
}

static int method_add_tunnel(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        return method_change_settings(msg, userdata, edit_add_tunnel, error);
}

static int method_remove_tunnel(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        return method_change_settings(msg, userdata, edit_remove_tunnel, error);
}

static int append_tunnels(sd_bus_message *reply, const Settings *s) {
        int r = sd_bus_message_open_container(reply, 'a', "s");

        for (size_t i = 0; r >= 0 && i < s->n_tunnels; i++)
                r = sd_bus_message_append(reply, "s", s->tunnels[i]);
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

/* One {sv} entry whose value a function appends. */
static int append_entry(sd_bus_message *reply, const char *key, const char *signature,
                        int (*append)(sd_bus_message *reply, const Settings *s),
                        const Settings *s) {
        int r = sd_bus_message_open_container(reply, 'e', "sv");

        if (r >= 0)
                r = sd_bus_message_append(reply, "s", key);
        if (r >= 0)
                r = sd_bus_message_open_container(reply, 'v', signature);
        if (r >= 0)
                r = append(reply, s);
        if (r >= 0)
                r = sd_bus_message_close_container(reply);
        if (r >= 0)
                r = sd_bus_message_close_container(reply);
        return r;
}

static int method_get_settings(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        Manager *m = userdata;
        const Settings *s = &m->settings;
        int r;

        (void)error;
        r = sd_bus_message_new_method_return(msg, &reply);
        if (r < 0)
                return r;
        r = sd_bus_message_open_container(reply, 'a', "{sv}");
        if (r >= 0)
                r = sd_bus_message_append(reply, "{sv}{sv}{sv}{sv}{sv}{sv}", "Enabled", "b",
                                          s->enabled, "Persistent", "b", s->persistent,
                                          "EndpointMark", "u", s->endpoint_mark, "AllowLan", "b",
                                          s->allow_lan, "AllowDhcp", "b", s->allow_dhcp,
                                          "EndpointAnyUser", "b", s->endpoint_any_user);
        if (r >= 0)
                r = append_entry(reply, "Tunnels", "as", append_tunnels, s);
        if (r >= 0)
                r = append_entry(reply, "Endpoints", "a(sqs)", append_endpoints, s);
        if (r >= 0)
                r = sd_bus_message_close_container(reply);
        if (r < 0)
                return r;
        return sd_bus_send(NULL, reply, NULL);
}

static int read_endpoint_args(sd_bus_message *msg, Endpoint *ret, Error *error) {
        const char *addr, *proto;
        uint16_t port;
        int r;

        r = sd_bus_message_read(msg, "sqs", &addr, &port, &proto);
        if (r < 0)
                return r;
        return endpoint_parse(addr, port, proto, ret, error);
}

/* The endpoint verbs change the settings in place, one element and one line (manager.c). */
static int method_change_endpoint(sd_bus_message *msg, Manager *m, bool add,
                                  sd_bus_error *ret_error) {
        Error e = {};
        Endpoint endpoint;
        int r;

        r = check_authorized(msg, &e);
        if (r >= 0)
                r = read_endpoint_args(msg, &endpoint, &e);
        if (r >= 0)
                r = add ? manager_add_endpoint(m, &endpoint, &e)
                        : manager_remove_endpoint(m, &endpoint, &e);
        if (r < 0)
                return reply_error(ret_error, &e, r);
        return sd_bus_reply_method_return(msg, NULL);
}

static int method_add_endpoint(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        return method_change_endpoint(msg, userdata, true, error);
}

static int method_remove_endpoint(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        return method_change_endpoint(msg, userdata, false, error);
}

/* Verify() → a(ssb): (name, detail, passed), a warning counting as passed. VerifyReport() →
 * a(sss): (name, status, detail), status "ok", "warning" or "fail". */
static int verify_reply(sd_bus_message *msg, void *userdata, bool statuses,
                        sd_bus_error *ret_error) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        _cleanup_(report_done) Report rep = {};
        Error e = {};
        int r;

        /* Read-only, but it sends probe packets: not for everyone. */
        r = check_authorized(msg, &e);
        if (r < 0)
                return reply_error(ret_error, &e, r);
        r = verify_run(userdata, &rep);
        if (r < 0)
                return r;
        r = sd_bus_message_new_method_return(msg, &reply);
        if (r >= 0)
                r = sd_bus_message_open_container(reply, 'a', statuses ? "(sss)" : "(ssb)");
        for (size_t i = 0; r >= 0 && i < rep.n; i++)
                r = statuses ? sd_bus_message_append(reply, "(sss)", rep.v[i].name,
                                                     check_status(&rep.v[i]), rep.v[i].detail)
                             : sd_bus_message_append(reply, "(ssb)", rep.v[i].name, rep.v[i].detail,
                                                     rep.v[i].passed);
        if (r >= 0)
                r = sd_bus_message_close_container(reply);
        if (r < 0)
                return r;
        return sd_bus_send(NULL, reply, NULL);
}

static int method_verify(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        return verify_reply(msg, userdata, false, error);
}

static int method_verify_report(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        return verify_reply(msg, userdata, true, error);
}

/* ---- properties ---- */

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

static int property_get_bool(sd_bus *bus, const char *path, const char *interface,
                             const char *property, sd_bus_message *reply, void *userdata,
                             sd_bus_error *error) {
        Manager *m = userdata;

        (void)bus, (void)path, (void)interface, (void)error;
        return sd_bus_message_append(reply, "b", *settings_bool(&m->settings, property));
}

static int property_get_endpoint_mark(sd_bus *bus, const char *path, const char *interface,
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
static int property_set_bool(sd_bus *bus, const char *path, const char *interface,
                             const char *property, sd_bus_message *value, void *userdata,
                             sd_bus_error *ret_error) {
        Error e = {};
        int r;

        (void)path, (void)interface;
        r = change_settings(userdata, sd_bus_get_current_message(bus), value, property, edit_bool,
                            &e);
        return r < 0 ? reply_error(ret_error, &e, r) : 0;
}

static int property_get_tunnels(sd_bus *bus, const char *path, const char *interface,
                                const char *property, sd_bus_message *reply, void *userdata,
                                sd_bus_error *error) {
        (void)bus, (void)path, (void)interface, (void)property, (void)error;
        return append_tunnels(reply, &((Manager *)userdata)->settings);
}

static int property_get_endpoints(sd_bus *bus, const char *path, const char *interface,
                                  const char *property, sd_bus_message *reply, void *userdata,
                                  sd_bus_error *error) {
        (void)bus, (void)path, (void)interface, (void)property, (void)error;
        return append_endpoints(reply, &((Manager *)userdata)->settings);
}

static int append_strv(sd_bus_message *reply, char **l) {
        int r = sd_bus_message_open_container(reply, 'a', "s");

        for (char **p = l; r >= 0 && p && *p; p++)
                r = sd_bus_message_append(reply, "s", *p);
        return r < 0 ? r : sd_bus_message_close_container(reply);
}

static int property_get_active_tunnels(sd_bus *bus, const char *path, const char *interface,
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

static int property_get_lan_subnets(sd_bus *bus, const char *path, const char *interface,
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

static int property_get_blocked(sd_bus *bus, const char *path, const char *interface,
                                const char *property, sd_bus_message *reply, void *userdata,
                                sd_bus_error *error) {
        (void)bus, (void)path, (void)interface, (void)property, (void)error;
        return sd_bus_message_append(reply, "t", manager_blocked_packets(userdata));
}

static int property_get_protection(sd_bus *bus, const char *path, const char *interface,
                                   const char *property, sd_bus_message *reply, void *userdata,
                                   sd_bus_error *error) {
        Manager *m = userdata;

        (void)bus, (void)path, (void)interface, (void)property, (void)error;
        return sd_bus_message_append(reply, "s", protection_to_string(m->protection));
}

static int property_get_version(sd_bus *bus, const char *path, const char *interface,
                                const char *property, sd_bus_message *reply, void *userdata,
                                sd_bus_error *error) {
        (void)bus, (void)path, (void)interface, (void)property, (void)userdata, (void)error;
        return sd_bus_message_append(reply, "s", KILLSWITCHD_VERSION);
}

#define EMITS SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE
/* Methods and writes check authorization themselves (root or polkit), so sd-bus lets all in. */
#define OPEN SD_BUS_VTABLE_UNPRIVILEGED

static const sd_bus_vtable manager_vtable[] = {
        SD_BUS_VTABLE_START(0),

        SD_BUS_PROPERTY("Enabled", "b", property_get_bool, 0, EMITS),
        SD_BUS_WRITABLE_PROPERTY("Persistent", "b", property_get_bool, property_set_bool, 0,
                                 EMITS | OPEN),
        SD_BUS_PROPERTY("Tunnels", "as", property_get_tunnels, 0, EMITS),
        /* Up to 65536 entries: change signals name it rather than carry megabytes. */
        SD_BUS_PROPERTY("Endpoints", "a(sqs)", property_get_endpoints, 0,
                        SD_BUS_VTABLE_PROPERTY_EMITS_INVALIDATION),
        SD_BUS_PROPERTY("EndpointMark", "u", property_get_endpoint_mark, 0, EMITS),
        SD_BUS_WRITABLE_PROPERTY("AllowLan", "b", property_get_bool, property_set_bool, 0,
                                 EMITS | OPEN),
        SD_BUS_WRITABLE_PROPERTY("AllowDhcp", "b", property_get_bool, property_set_bool, 0,
                                 EMITS | OPEN),
        SD_BUS_WRITABLE_PROPERTY("EndpointAnyUser", "b", property_get_bool, property_set_bool, 0,
                                 EMITS | OPEN),
        SD_BUS_PROPERTY("TunnelUp", "b", property_get_active_tunnels, 0, EMITS),
        SD_BUS_PROPERTY("ActiveTunnels", "as", property_get_active_tunnels, 0, EMITS),
        SD_BUS_PROPERTY("LanSubnets", "as", property_get_lan_subnets, 0, EMITS),
        /* Read from the kernel's counter on demand; never signalled. */
        SD_BUS_PROPERTY("BlockedPackets", "t", property_get_blocked, 0, 0),
        SD_BUS_PROPERTY("Protection", "s", property_get_protection, 0, EMITS),
        SD_BUS_PROPERTY("Version", "s", property_get_version, 0, SD_BUS_VTABLE_PROPERTY_CONST),

        SD_BUS_METHOD_WITH_ARGS("Enable", SD_BUS_NO_ARGS, SD_BUS_NO_RESULT, method_enable, OPEN),
        SD_BUS_METHOD_WITH_ARGS("Disable", SD_BUS_NO_ARGS, SD_BUS_NO_RESULT, method_disable, OPEN),
        SD_BUS_METHOD_WITH_ARGS("Apply", SD_BUS_ARGS("a{sv}", settings), SD_BUS_NO_RESULT,
                                method_apply, OPEN),
        SD_BUS_METHOD_WITH_ARGS("GetSettings", SD_BUS_NO_ARGS, SD_BUS_RESULT("a{sv}", settings),
                                method_get_settings, OPEN),
        SD_BUS_METHOD_WITH_ARGS("AddEndpoint", SD_BUS_ARGS("s", address, "q", port, "s", protocol),
                                SD_BUS_NO_RESULT, method_add_endpoint, OPEN),
        SD_BUS_METHOD_WITH_ARGS("RemoveEndpoint",
                                SD_BUS_ARGS("s", address, "q", port, "s", protocol),
                                SD_BUS_NO_RESULT, method_remove_endpoint, OPEN),
        SD_BUS_METHOD_WITH_ARGS("AddTunnel", SD_BUS_ARGS("s", name), SD_BUS_NO_RESULT,
                                method_add_tunnel, OPEN),
        SD_BUS_METHOD_WITH_ARGS("RemoveTunnel", SD_BUS_ARGS("s", name), SD_BUS_NO_RESULT,
                                method_remove_tunnel, OPEN),

        SD_BUS_METHOD_WITH_ARGS("Verify", SD_BUS_NO_ARGS, SD_BUS_RESULT("a(ssb)", checks),
                                method_verify, OPEN),
        SD_BUS_METHOD_WITH_ARGS("VerifyReport", SD_BUS_NO_ARGS, SD_BUS_RESULT("a(sss)", checks),
                                method_verify_report, OPEN),

        SD_BUS_SIGNAL_WITH_ARGS("TunnelChanged", SD_BUS_ARGS("s", name, "b", up), 0),
        SD_BUS_SIGNAL_WITH_ARGS("NetworkChanged", SD_BUS_ARGS("s", interface), 0),
        SD_BUS_SIGNAL_WITH_ARGS("Tampered", SD_BUS_ARGS("s", what), 0),

        SD_BUS_VTABLE_END,
};

/* ---- change signals, sent from the loop after the method reply ---- */

typedef enum Property {
        PROP_ENABLED,
        PROP_PERSISTENT,
        PROP_TUNNELS,
        PROP_ENDPOINTS,
        PROP_ENDPOINT_MARK,
        PROP_ALLOW_LAN,
        PROP_ALLOW_DHCP,
        PROP_ENDPOINT_ANY_USER,
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

static bool strv_equal(char **a, size_t na, char **b, size_t nb) {
        if (na != nb)
                return false;
        for (size_t i = 0; i < na; i++)
                if (strcmp(a[i], b[i]) != 0)
                        return false;
        return true;
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
        if (!strv_equal(old->tunnels, old->n_tunnels, s->tunnels, s->n_tunnels))
                mask |= 1u << PROP_TUNNELS | 1u << PROP_TUNNEL_UP | 1u << PROP_ACTIVE_TUNNELS;
        if (old->n_endpoints != s->n_endpoints ||
            (s->n_endpoints > 0 &&
             memcmp(old->endpoints, s->endpoints, s->n_endpoints * sizeof(Endpoint)) != 0))
                mask |= 1u << PROP_ENDPOINTS;
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

static const ManagerListener bus_listener = {
        .settings_changed = on_settings_changed,
        .endpoints_changed = on_endpoints_changed,
        .tunnel_changed = on_tunnel_changed,
        .network_changed = on_network_changed,
        .network_state_changed = on_network_state_changed,
        .tampered = on_tampered,
};

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
        r = sd_bus_add_object_vtable(b->bus, NULL, KS_BUS_PATH, KS_BUS_INTERFACE, manager_vtable,
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
        r = sd_event_add_defer(m->event, &b->emit, on_emit, b);
        if (r < 0)
                return r;
        (void)sd_event_source_set_enabled(b->emit, SD_EVENT_OFF);
        r = sd_event_add_time_relative(m->event, &b->reconnect, CLOCK_MONOTONIC, 0, 0,
                                       on_reconnect_timer, b);
        if (r < 0)
                return r;
        (void)sd_event_source_set_enabled(b->reconnect, SD_EVENT_OFF);
        r = bus_connect(b);
        if (r < 0)
                return r;
        manager_set_listener(m, &bus_listener, b);
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

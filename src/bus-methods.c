/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The contract's methods, each a manager verb. */
#include "bus-internal.h"
#include "verify.h"

static int method_change_settings(sd_bus_message *msg, Manager *m, SettingsEdit edit,
                                  sd_bus_error *ret_error) {
        Error e = {};
        int r;

        r = bus_change_settings(m, msg, msg, NULL, edit, &e);
        if (r < 0)
                return bus_reply_error(ret_error, &e, r);
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
        return bus_read_settings_dict(args, s, error);
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

/* As the tunnel verbs above, for ExemptCgroups: their own list, validator and message. */
static int edit_add_exempt_cgroup(sd_bus_message *args, const char *property, Settings *s,
                                  Error *error) {
        const char *path;
        int r;

        (void)property;
        r = sd_bus_message_read(args, "s", &path);
        if (r < 0)
                return r;
        return cgroup_list_add(&s->exempt_cgroups, "ExemptCgroups", path, error);
}

static int edit_remove_exempt_cgroup(sd_bus_message *args, const char *property, Settings *s,
                                     Error *error) {
        const char *path;
        int r;

        (void)property;
        r = sd_bus_message_read(args, "s", &path);
        if (r >= 0)
                r = cgroup_path_validate("ExemptCgroups", path, error);
        if (r < 0)
                return r;
        if (cgroup_list_remove(&s->exempt_cgroups, path) < 0)
                return error_set(error, ERROR_NOT_FOUND, -ENOENT,
                                 "ExemptCgroups: \"%s\" is not in the list", path);
        return 0;
}

int bus_method_enable(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        return method_change_settings(msg, userdata, edit_enable, error);
}

int bus_method_disable(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        return method_change_settings(msg, userdata, edit_disable, error);
}

int bus_method_apply(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        return method_change_settings(msg, userdata, edit_apply, error);
}

int bus_method_add_tunnel(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        return method_change_settings(msg, userdata, edit_add_tunnel, error);
}

int bus_method_remove_tunnel(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        return method_change_settings(msg, userdata, edit_remove_tunnel, error);
}

int bus_method_add_exempt_cgroup(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        return method_change_settings(msg, userdata, edit_add_exempt_cgroup, error);
}

int bus_method_remove_exempt_cgroup(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        return method_change_settings(msg, userdata, edit_remove_exempt_cgroup, error);
}

int bus_method_get_settings(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        Manager *m = userdata;
        int r;

        (void)error;
        r = sd_bus_message_new_method_return(msg, &reply);
        if (r >= 0)
                r = bus_append_settings_dict(reply, &m->settings);
        if (r < 0)
                return r;
        return sd_bus_send(NULL, reply, NULL);
}

/* The endpoint verbs change the settings in place, one element and one line (manager.c). */
static int method_change_endpoint(sd_bus_message *msg, Manager *m, bool add,
                                  sd_bus_error *ret_error) {
        Error e = {};
        Endpoint endpoint;
        int r;

        r = bus_check_authorized(msg, &e);
        if (r >= 0)
                r = bus_read_endpoint(msg, "sqs", &endpoint, &e);
        if (r >= 0)
                r = add ? manager_add_endpoint(m, &endpoint, &e)
                        : manager_remove_endpoint(m, &endpoint, &e);
        if (r < 0)
                return bus_reply_error(ret_error, &e, r);
        return sd_bus_reply_method_return(msg, NULL);
}

int bus_method_add_endpoint(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        return method_change_endpoint(msg, userdata, true, error);
}

int bus_method_remove_endpoint(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
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
        r = bus_check_authorized(msg, &e);
        if (r < 0)
                return bus_reply_error(ret_error, &e, r);
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

int bus_method_verify(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        return verify_reply(msg, userdata, false, error);
}

int bus_method_verify_report(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        return verify_reply(msg, userdata, true, error);
}

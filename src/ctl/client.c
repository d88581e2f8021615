/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "client.h"
#include "killswitchd/bus.h"

/* The one place where D-Bus errors become exit statuses. */
static const struct {
        const char *name;
        int status;
} error_table[] = {
        {SD_BUS_ERROR_SERVICE_UNKNOWN, CTL_EXIT_UNREACHABLE},
        {SD_BUS_ERROR_NAME_HAS_NO_OWNER, CTL_EXIT_UNREACHABLE},
        {SD_BUS_ERROR_NO_SERVER, CTL_EXIT_UNREACHABLE},
        {SD_BUS_ERROR_DISCONNECTED, CTL_EXIT_UNREACHABLE},
        {SD_BUS_ERROR_ACCESS_DENIED, CTL_EXIT_ACCESS_DENIED},
        {SD_BUS_ERROR_INTERACTIVE_AUTHORIZATION_REQUIRED, CTL_EXIT_ACCESS_DENIED},
        {SD_BUS_ERROR_INVALID_ARGS, CTL_EXIT_INVALID_ARGS},
        {KS_ERROR_NOT_FOUND, CTL_EXIT_NOT_FOUND},
        {KS_ERROR_LIMIT_EXCEEDED, CTL_EXIT_LIMIT_EXCEEDED},
        {KS_ERROR_KERNEL, CTL_EXIT_KERNEL},
};

int ctl_exit_status(const char *error_name) {
        if (!error_name)
                return CTL_EXIT_FAILURE;
        for (size_t i = 0; i < ELEMENTSOF(error_table); i++)
                if (strcmp(error_name, error_table[i].name) == 0)
                        return error_table[i].status;
        /* Bus activation of the daemon failed: as good as not running. */
        if (strncmp(error_name, "org.freedesktop.DBus.Error.Spawn.", 33) == 0)
                return CTL_EXIT_UNREACHABLE;
        return CTL_EXIT_FAILURE;
}

static int bus_open(const char *address, sd_bus **ret) {
        _cleanup_(sd_bus_unrefp) sd_bus *bus = NULL;
        int r;

        if (!address)
                return sd_bus_open_system(ret);

        r = sd_bus_new(&bus);
        if (r >= 0)
                r = sd_bus_set_address(bus, address);
        if (r >= 0)
                r = sd_bus_set_bus_client(bus, true);
        if (r >= 0)
                r = sd_bus_start(bus);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(bus);
        return 0;
}

int ctl_bus(Ctl *c, sd_bus **ret) {
        int r;

        if (!c->bus) {
                r = bus_open(c->address, &c->bus);
                if (r < 0) {
                        errno_set(r);
                        ctl_error("cannot connect to %s: %m",
                                  c->address ? c->address : "the system bus");
                        return CTL_EXIT_UNREACHABLE;
                }
        }
        *ret = c->bus;
        return CTL_EXIT_OK;
}

int ctl_method_new(Ctl *c, const char *interface, const char *member, sd_bus_message **ret) {
        sd_bus *bus;
        int r;

        r = ctl_bus(c, &bus);
        if (r != CTL_EXIT_OK)
                return r;
        r = sd_bus_message_new_method_call(bus, ret, KS_BUS_NAME, KS_BUS_PATH,
                                           interface ? interface : KS_BUS_INTERFACE, member);
        if (r < 0) {
                errno_set(r);
                ctl_error("cannot create a %s call: %m", member);
                return CTL_EXIT_FAILURE;
        }
        return CTL_EXIT_OK;
}

int ctl_call(Ctl *c, sd_bus_message *m, sd_bus_message **ret_reply) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        int r;

        r = sd_bus_call(c->bus, m, 0, &error, &reply);
        if (r < 0) {
                if (!sd_bus_error_is_set(&error))
                        sd_bus_error_set_errno(&error, r);
                ctl_error("%s: %s", error.name, error.message ? error.message : strerror(-r));
                /* A connection that died under us is "bus unavailable", whatever
                 * errno sd-bus chose to describe it. */
                if (sd_bus_is_open(c->bus) <= 0)
                        return CTL_EXIT_UNREACHABLE;
                return ctl_exit_status(error.name);
        }
        if (ret_reply)
                *ret_reply = TAKE_PTR(reply);
        return CTL_EXIT_OK;
}

int ctl_get_property(Ctl *c, const char *property, const char *type, sd_bus_message **ret) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL, *reply = NULL;
        int r;

        r = ctl_method_new(c, "org.freedesktop.DBus.Properties", "Get", &m);
        if (r != CTL_EXIT_OK)
                return r;
        r = sd_bus_message_append(m, "ss", KS_BUS_INTERFACE, property);
        if (r < 0)
                return ctl_append_error(property, r);
        r = ctl_call(c, m, &reply);
        if (r != CTL_EXIT_OK)
                return r;
        r = sd_bus_message_enter_container(reply, 'v', type);
        if (r < 0)
                return ctl_reply_error(property, r);
        *ret = TAKE_PTR(reply);
        return CTL_EXIT_OK;
}

int ctl_get_strv(Ctl *c, const char *property, char ***ret) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        int r = ctl_get_property(c, property, "as", &reply);

        if (r != CTL_EXIT_OK)
                return r;
        r = sd_bus_message_read_strv(reply, ret);
        return r < 0 ? ctl_reply_error(property, r) : CTL_EXIT_OK;
}

int ctl_get_basic(Ctl *c, const char *property, char type, void *ret) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        const char signature[2] = {type, 0};
        const char *s;
        int r = ctl_get_property(c, property, signature, &reply);

        if (r != CTL_EXIT_OK)
                return r;
        r = sd_bus_message_read_basic(reply, type, type == 's' ? (void *)&s : ret);
        if (r <= 0)
                return ctl_reply_error(property, r < 0 ? r : -EBADMSG);
        if (type == 's' && !(*(char **)ret = strdup(s)))
                return ctl_reply_error(property, -ENOMEM);
        return CTL_EXIT_OK;
}

int ctl_call_simple(Ctl *c, const char *member) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        int r;

        r = ctl_method_new(c, NULL, member, &m);
        if (r != CTL_EXIT_OK)
                return r;
        return ctl_call(c, m, NULL);
}

int ctl_append_error(const char *verb, int r) {
        if (r == -EINVAL)
                return ctl_usage_error(verb, "a string is not valid UTF-8");
        errno_set(r);
        ctl_error("%s: cannot build the call: %m", verb);
        return CTL_EXIT_FAILURE;
}

int ctl_reply_error(const char *what, int r) {
        errno_set(r);
        ctl_error("cannot read the reply to %s: %m", what);
        return CTL_EXIT_FAILURE;
}

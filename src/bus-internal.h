/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* What the pieces of the bus layer share; the rest of the daemon sees bus.h only. */
#include <systemd/sd-bus.h>

#include "bus.h"
#include "killswitchd/bus.h"

struct Bus {
        Manager *manager;
        sd_bus *bus;
        sd_event_source *emit;      /* sends queued PropertiesChanged after replies */
        unsigned pending;           /* the properties queued, as Property numbers them */
        sd_event_source *reconnect; /* armed when the bus daemon goes away */
};

/* bus-error.c: a failure as the caller sees it, under the contract's name for its kind. */
int bus_reply_error(sd_bus_error *ret_error, const Error *e, int r);

/* bus-auth.c: 0 when the caller of 'msg' may change things; else ERROR_DENIED. */
int bus_check_authorized(sd_bus_message *msg, Error *error);

/* bus-settings.c */
/* A change to the settings, read from 'args' onto a copy of them ('property': the one being
 * written, for property setters). */
typedef int (*SettingsEdit)(sd_bus_message *args, const char *property, Settings *s, Error *error);
int bus_change_settings(Manager *m, sd_bus_message *call, sd_bus_message *args,
                        const char *property, SettingsEdit edit, Error *error);
/* Apply's a{sv} onto a copy of the settings: all keys or none. */
int bus_read_settings_dict(sd_bus_message *msg, Settings *s, Error *error);
/* GetSettings' a{sv}: every key. */
int bus_append_settings_dict(sd_bus_message *reply, const Settings *s);
/* One setting's value, of the type the contract gives it: read onto s, or appended. */
int bus_read_setting(sd_bus_message *msg, SettingKey k, Settings *s, Error *error);
int bus_append_setting(sd_bus_message *reply, SettingKey k, const Settings *s);
/* An endpoint as the contract sends it, the struct "(sqs)" or the arguments "sqs": read and
 * checked. 1 when read, 0 at the end of an array. */
int bus_read_endpoint(sd_bus_message *msg, const char *types, Endpoint *ret, Error *error);

/* bus-methods.c: the handlers the vtable names. */
int bus_method_enable(sd_bus_message *msg, void *userdata, sd_bus_error *error);
int bus_method_disable(sd_bus_message *msg, void *userdata, sd_bus_error *error);
int bus_method_apply(sd_bus_message *msg, void *userdata, sd_bus_error *error);
int bus_method_get_settings(sd_bus_message *msg, void *userdata, sd_bus_error *error);
int bus_method_add_endpoint(sd_bus_message *msg, void *userdata, sd_bus_error *error);
int bus_method_remove_endpoint(sd_bus_message *msg, void *userdata, sd_bus_error *error);
int bus_method_add_tunnel(sd_bus_message *msg, void *userdata, sd_bus_error *error);
int bus_method_remove_tunnel(sd_bus_message *msg, void *userdata, sd_bus_error *error);
int bus_method_add_exempt_cgroup(sd_bus_message *msg, void *userdata, sd_bus_error *error);
int bus_method_remove_exempt_cgroup(sd_bus_message *msg, void *userdata, sd_bus_error *error);
int bus_method_verify(sd_bus_message *msg, void *userdata, sd_bus_error *error);
int bus_method_verify_report(sd_bus_message *msg, void *userdata, sd_bus_error *error);

/* bus-properties.c: the object's members. */
extern const sd_bus_vtable bus_vtable[];

/* bus-signals.c: listens to the manager, and sends what changed; PropertiesChanged from the
 * loop, once the method that changed them has replied. */
int bus_signals_setup(Bus *b);

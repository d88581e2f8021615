/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <systemd/sd-bus.h>

#include "ctl.h"

/* Everything that talks to the bus returns a CTL_EXIT_* status and has
 * printed the reason when it is not CTL_EXIT_OK. */

/* Connects on first use: --address, else the system bus (DBUS_SYSTEM_BUS_ADDRESS). */
int ctl_bus(Ctl *c, sd_bus **ret);

/* A method call to the daemon's object; interface NULL means the daemon's own. */
int ctl_method_new(Ctl *c, const char *interface, const char *member, sd_bus_message **ret);

/* Sends m and waits for the reply; on an error reply prints "NAME: message". */
int ctl_call(Ctl *c, sd_bus_message *m, sd_bus_message **ret_reply);

/* Properties.Get of one of the daemon's properties: the reply, entered into the variant of
 * D-Bus type 'type'; ctl_get_strv() reads an "as" whole. */
int ctl_get_property(Ctl *c, const char *property, const char *type, sd_bus_message **ret);
int ctl_get_strv(Ctl *c, const char *property, char ***ret);
/* A property of a basic D-Bus type ('b' into an int, 't' into a uint64_t...); 's' is copied
 * into a string the caller frees. */
int ctl_get_basic(Ctl *c, const char *property, char type, void *ret);

/* Call member of the daemon's interface with no arguments. */
int ctl_call_simple(Ctl *c, const char *member);

/* After a failed sd_bus_message_append*(): sd-bus refuses strings that are not
 * UTF-8, which the API cannot carry, so that is a usage error. */
int ctl_append_error(const char *verb, int r);

/* A failed read of a reply: the daemon does not speak the contract. */
int ctl_reply_error(const char *what, int r);

/* The exit status for a D-Bus error name (CTL_EXIT_FAILURE when unknown). */
int ctl_exit_status(const char *error_name);

/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "manager.h"

/* The daemon on the system bus: the contract (docs/dbus-api.md) served for a manager. */
typedef struct Bus Bus;

/* Connects to the system bus ($DBUS_SYSTEM_BUS_ADDRESS honoured), serves the contract, takes
 * the well-known name, and listens to the manager's changes to signal them; reconnects when the
 * bus daemon goes away. */
int bus_setup(Manager *m, Bus **ret);
Bus *bus_free(Bus *b);
DEFINE_FREEP(Bus, bus_free)

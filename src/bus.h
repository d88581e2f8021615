/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "manager.h"

/* Connects to the system bus ($DBUS_SYSTEM_BUS_ADDRESS honoured), serves the contract and takes
 * the well-known name. */
int bus_setup(Manager *m);

/* Queue PropertiesChanged for whatever differs; sent after the method reply, from the loop. */
void bus_emit_settings_changed(Manager *m, const Settings *old, Protection old_protection);
void bus_emit_endpoints_changed(Manager *m);

/* Live network state: the contract's signals, plus PropertiesChanged for TunnelUp and
 * ActiveTunnels, and LanSubnets. */
void bus_emit_tunnel_changed(Manager *m, const char *name, bool up);
void bus_emit_network_changed(Manager *m, const char *interface);
void bus_emit_network_state_changed(Manager *m, bool tunnels, bool lan);
void bus_emit_tampered(Manager *m, const char *what);

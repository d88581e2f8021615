/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The D-Bus contract shared by killswitchd and killswitchctl: see docs/dbus-api.md. */

#define KS_BUS_NAME "org.killswitchd.KillSwitch1"
#define KS_BUS_PATH "/org/killswitchd/KillSwitch1"
#define KS_BUS_INTERFACE "org.killswitchd.KillSwitch1"

#define KS_ERROR_NOT_FOUND "org.killswitchd.Error.NotFound"
#define KS_ERROR_LIMIT_EXCEEDED "org.killswitchd.Error.LimitExceeded"
#define KS_ERROR_KERNEL "org.killswitchd.Error.Kernel"

/* The polkit action that lets a caller other than root change anything. */
#define KS_POLKIT_ACTION "org.killswitchd.manage"

/* Added to the contract: the settings could not be saved; kernel and state were left as before. */
#define KS_ERROR_STATE "org.killswitchd.Error.State"

/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stddef.h>

#include "ctl.h"

/* One check of "verify" made here rather than by the daemon: its status is "ok", "warning" or
 * "fail", as in VerifyReport. */
typedef struct AppCheck {
        const char *name;
        const char *status;
        char detail[512];
} AppCheck;

/* The per-application rules proven with live processes: with ExemptCgroups (and Scope "system"),
 * "exempt-app"; with Scope "cgroups", "scoped-app". Fills up to two checks into 'ret'; CTL_EXIT_*
 * (and the reason printed) when the daemon cannot be asked. */
int verify_apps(Ctl *c, AppCheck ret[static 2], size_t *ret_n);

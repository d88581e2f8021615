/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "manager.h"

/* One line of the Verify() report. */
typedef struct Check {
        char name[24];
        char detail[512];
        bool passed;
        bool warning; /* passed, but the user should know: does not fail "verify" unless --strict */
} Check;

/* "ok", "warning" or "fail". */
const char *check_status(const Check *c);

typedef struct Report {
        Check *v;
        size_t n;
} Report;

void report_done(Report *r);

/* Proves, now, that the kill switch holds: the table in the kernel is exactly what the
 * settings require, the base chains drop, and real packets sent outside the tunnels are
 * refused by the kernel. Never changes anything. */
int verify_run(Manager *m, Report *ret);

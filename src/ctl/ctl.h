/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>
#include <string.h>
#include <systemd/sd-bus.h>

#include "macro.h"

static inline bool strv_contains(char **l, const char *s) {
        for (char **p = l; p && *p; p++)
                if (strcmp(*p, s) == 0)
                        return true;
        return false;
}

static inline void strv_freep(char ***l) {
        for (char **p = *l; p && *p; p++)
                free(*p);
        free(*l);
}

/* Exit statuses: part of the command line interface, documented in --help and
 * docs/killswitchctl.md. Verbs return one of these rather than -errno, because
 * the status a script sees is decided by the D-Bus error name, not by an errno. */
enum {
        CTL_EXIT_OK = 0,
        CTL_EXIT_FAILURE = 1,
        CTL_EXIT_USAGE = 2,       /* also input that the API's types cannot express */
        CTL_EXIT_UNREACHABLE = 3, /* no bus, or nobody owns the daemon's name */
        CTL_EXIT_ACCESS_DENIED = 4,
        CTL_EXIT_INVALID_ARGS = 5,
        CTL_EXIT_NOT_FOUND = 6,
        CTL_EXIT_LIMIT_EXCEEDED = 7,
        CTL_EXIT_KERNEL = 8,
};

#define CTL_NAME "killswitchctl"

/* What the command line asked for; shared by every verb. */
typedef struct Ctl {
        const char *address; /* --address, else the system bus */
        bool json;           /* --json */
        bool strict;         /* --strict: warnings fail "verify" */
        const char *slice;   /* --slice: "exempt add|remove" by slice unit name */
        sd_bus *bus;         /* connected lazily by ctl_bus() */
} Ctl;

/* A verb gets its own name in argv[0] and its arguments after it. */
typedef int (*CtlVerbFunc)(Ctl *c, int argc, char **argv);

int verb_status(Ctl *c, int argc, char **argv);
int verb_enable(Ctl *c, int argc, char **argv);
int verb_disable(Ctl *c, int argc, char **argv);
int verb_endpoint(Ctl *c, int argc, char **argv);
int verb_tunnel(Ctl *c, int argc, char **argv);
int verb_exempt(Ctl *c, int argc, char **argv);
int verb_switch(Ctl *c, int argc, char **argv);
int verb_apply(Ctl *c, int argc, char **argv);
int verb_monitor(Ctl *c, int argc, char **argv);
int verb_verify(Ctl *c, int argc, char **argv);
int verb_exec(Ctl *c, int argc, char **argv);

/* "killswitchctl: VERB: message" on stderr and CTL_EXIT_USAGE, with a hint to --help. */
int ctl_usage_error(const char *verb, const char *fmt, ...) _printf_(2, 3);
/* "killswitchctl: message" on stderr. */
void ctl_error(const char *fmt, ...) _printf_(1, 2);

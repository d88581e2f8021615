/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdio.h>

#include "settings.h"

/* The saved form, pure; see docs/state-file.md. A snapshot: "version=2", one Key=value line per
 * setting, "end". Reading takes version 1 too, and returns the version. With 'ret_size', a
 * version 2 snapshot may be followed by changes, which are the caller's: *ret_size is where they
 * start. */
int settings_to_text(const Settings *s, char **ret);
int settings_from_text(const char *text, size_t size, Settings *ret, size_t *ret_size,
                       Error *error);

/* A change: the lines that turn one value into another. "Key=value" sets a scalar,
 * "+Tunnel=" appends a tunnel and "-Tunnel=" removes one, "+Endpoint=" and "-Endpoint=" add and
 * remove an endpoint. Writing: nothing when the two are equal; -EFBIG as soon as the text is
 * longer than 'max' (the caller writes a snapshot instead, without formatting it all). */
int settings_changes_to_text(const Settings *old, const Settings *new, size_t max, FILE *f);
int settings_endpoint_change_to_text(const Endpoint *e, bool add, FILE *f);

/* Reading changes: scalars and tunnels take effect line by line; endpoints are gathered and
 * applied together by settings_changes_apply(), in one sort rather than one insertion into the
 * sorted array each. Adding what is there or removing what is not is corrupt. */
typedef struct EndpointChange {
        Endpoint endpoint;
        bool add;
        unsigned line;
} EndpointChange;

typedef struct SettingsChanges {
        EndpointChange *endpoints;
        size_t n_endpoints, n_allocated;
} SettingsChanges;

void settings_changes_done(SettingsChanges *c);
int settings_change_from_line(Settings *s, SettingsChanges *c, char *line, unsigned lineno,
                              Error *error);
int settings_changes_apply(Settings *s, SettingsChanges *c, Error *error);

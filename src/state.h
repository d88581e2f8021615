/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "settings.h"

#define STATE_FILE "settings.conf"
#define STATE_FILE_BAD "settings.conf.bad"
#define STATE_DIR_DEFAULT "/var/lib/killswitchd"

/* $STATE_DIRECTORY (set by systemd's StateDirectory=), else the default. */
const char *state_dir_default(void);

/* Atomic: temp file in the same directory, fsync, rename, fsync the directory. */
int state_save(const char *dir, const Settings *s);

/* -ENOENT: no saved settings. -EBADMSG: corrupt; the file is moved to STATE_FILE_BAD and
 * 'error' says why. */
int state_load(const char *dir, Settings *ret, char error[static ERROR_MAX]);

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

/* The same in two steps, so that a change can be committed to the kernel only once its
 * settings are safely written, and be made the saved state only once the kernel took it:
 * prepare (temp file written and synced), then finish (renamed into place) or abort. */
typedef struct StateSave {
        int dfd;
        char tmp[64];
} StateSave;

int state_save_prepare(const char *dir, const Settings *s, StateSave *ret);
int state_save_finish(StateSave *st);
void state_save_abort(StateSave *st);

/* -ENOENT: no saved settings. -EBADMSG: corrupt; the file is moved to STATE_FILE_BAD and
 * 'error' says why. Temporary files of saves a crash cut short are removed. */
int state_load(const char *dir, Settings *ret, char error[static ERROR_MAX]);

/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <sys/types.h>

#include "settings.h"

#define STATE_FILE "settings.conf"
#define STATE_FILE_BAD "settings.conf.bad"
#define STATE_DIR_DEFAULT "/var/lib/killswitchd"

/* $STATE_DIRECTORY (set by systemd's StateDirectory=), else the default. */
const char *state_dir_default(void);

/* The state file as the last load or save left it: the settings whole (the snapshot), then
 * changes, each made final by a commit line (docs/state-file.md). A change is appended where the
 * last commit ends; size 0 means the file is not one we can append to (none yet, version 1, an
 * unfinished change at its end, a save whose outcome on disk is unknown): the next save writes
 * it whole. */
typedef struct StateFile {
        const char *dir; /* borrowed */
        uint64_t size;   /* bytes up to the end of the last commit */
        uint64_t snapshot;
        unsigned changes;
} StateFile;

/* The line that makes change 'number' final: "commit N CRC\n", the CRC-32 of the change's lines
 * ('change', n bytes) and of "commit N ". */
#define STATE_COMMIT_MAX 32
void state_commit_line(unsigned number, const char *change, size_t n,
                       char ret[static STATE_COMMIT_MAX]);

/* A save in two steps, so that a change is committed to the kernel only once its settings are
 * written, and becomes the saved state only once the kernel took it: prepare (the change
 * appended with room for its commit line, or the whole text in a temporary file), then finish
 * (the commit line and fdatasync(), or fsync() and the rename) or abort (the change taken
 * back). Once prepared, finishing needs no more space. */
typedef struct StateSave {
        int dfd, fd;  /* fd -EBADF: nothing to write, the settings did not change */
        char tmp[64]; /* writing whole: the temporary file; empty when appending */
        char commit[STATE_COMMIT_MAX]; /* appending: the line that makes the change final */
        off_t commit_at;               /* where it goes */
        StateFile next;                /* the file once finished */
} StateSave;

/* 'old' is what the file holds, 'new' what it is to hold. */
int state_save_prepare(const StateFile *f, const Settings *old, const Settings *new,
                       StateSave *ret);
/* One endpoint added or removed: 'new' holds the change already. */
int state_save_prepare_endpoint(const StateFile *f, const Settings *new, const Endpoint *e,
                                bool add, StateSave *ret);
int state_save_finish(StateFile *f, StateSave *st);
void state_save_abort(const StateFile *f, StateSave *st);

/* Both steps at once, the file written whole. */
int state_save(const char *dir, const Settings *s);

/* -ENOENT: no saved settings. -EBADMSG: corrupt; the file is moved to STATE_FILE_BAD and
 * 'error' says why. Temporary files of saves a crash cut short are removed. An unfinished change
 * at the end (a crash while it was written, so never acknowledged) is left out. */
int state_load(const char *dir, Settings *ret, Error *error);
/* The same, and where the daemon's next save goes in f (f->dir says where to look). */
int state_load_file(StateFile *f, Settings *ret, Error *error);

/* The parser of the whole file, pure: the snapshot, then every committed change. */
int state_parse(const char *text, size_t size, Settings *ret, StateFile *ret_layout, Error *error);

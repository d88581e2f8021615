/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>

#include "macro.h"

/* How the daemon reports a failure, end to end: a function returns 0 or -errno and, on failure,
 * fills the Error its caller gave it (NULL: nobody wants the words) with what went wrong and
 * which of the contract's errors it is. The place that finds the failure says it; the layers
 * above pass the same Error up, adding context with error_prefix() at most, and the D-Bus
 * layer alone turns it into an error name (bus-error.c). */

/* Long enough for a message naming a field and a quoted value. */
#define ERROR_MAX 256

typedef enum ErrorKind {
        ERROR_INVALID,   /* bad input: InvalidArgs */
        ERROR_LIMIT,     /* too many tunnels or endpoints: LimitExceeded */
        ERROR_NOT_FOUND, /* removing something absent: NotFound */
        ERROR_KERNEL,    /* the kernel refused the transaction: Kernel */
        ERROR_STATE,     /* the settings could not be read or saved: State */
        ERROR_DENIED,    /* the caller may not do this: AccessDenied */
} ErrorKind;

typedef struct Error {
        ErrorKind kind;
        char message[ERROR_MAX]; /* valid UTF-8, "" while nothing failed */
} Error;

/* Fills 'e' (when not NULL) and returns r, which must be negative. Messages quote what callers
 * sent, cut to a length: a cut inside a multi-byte character is dropped here, so that every
 * message can go out on the bus. */
int error_set(Error *e, ErrorKind kind, int r, const char *fmt, ...) _printf_(4, 5);

/* Puts context before the message ("line 3: " + message); keeps the kind. Returns r. */
int error_prefix(Error *e, int r, const char *fmt, ...) _printf_(3, 4);

static inline bool error_is_set(const Error *e) {
        return e && e->message[0];
}

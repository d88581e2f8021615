/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The contract's error name for each kind of failure (error.h), in one table. */
#include "bus-internal.h"

static const char *const error_names[] = {
        [ERROR_INVALID] = SD_BUS_ERROR_INVALID_ARGS,
        [ERROR_LIMIT] = KS_ERROR_LIMIT_EXCEEDED,
        [ERROR_NOT_FOUND] = KS_ERROR_NOT_FOUND,
        [ERROR_KERNEL] = KS_ERROR_KERNEL,
        [ERROR_STATE] = KS_ERROR_STATE,
        [ERROR_DENIED] = SD_BUS_ERROR_ACCESS_DENIED,
};

/* A failure as the caller sees it. -ENOMEM, and a failure nobody put into words (the message
 * could not be read), go back as errno, which sd-bus turns into an error of its own. */
int bus_reply_error(sd_bus_error *ret_error, const Error *e, int r) {
        if (r == -ENOMEM || !error_is_set(e))
                return r;
        return sd_bus_error_set(ret_error, error_names[e->kind], e->message);
}

/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "error.h"

/* Drop the bytes of any broken UTF-8 sequence, keep the rest: sd-bus refuses to send invalid
 * UTF-8, and a caller would get no reply at all. */
static void utf8_drop_invalid(char *s) {
        unsigned char *in = (unsigned char *)s, *out = in;

        while (*in) {
                size_t n = *in < 0x80             ? 1
                           : (*in & 0xe0) == 0xc0 ? 2
                           : (*in & 0xf0) == 0xe0 ? 3
                           : (*in & 0xf8) == 0xf0 ? 4
                                                  : 0;
                size_t i = 1;

                if (n == 2 && *in < 0xc2)
                        n = 0; /* overlong */
                while (i < n && (in[i] & 0xc0) == 0x80)
                        i++;
                if (n == 0 || i < n) {
                        in += n == 0 ? 1 : i; /* drop the broken sequence */
                        continue;
                }
                memmove(out, in, n);
                out += n;
                in += n;
        }
        *out = '\0';
}

int error_set(Error *e, ErrorKind kind, int r, const char *fmt, ...) {
        va_list ap;

        if (!e)
                return r;
        e->kind = kind;
        va_start(ap, fmt);
        vsnprintf(e->message, sizeof(e->message), fmt, ap);
        va_end(ap);
        utf8_drop_invalid(e->message);
        return r;
}

int error_prefix(Error *e, int r, const char *fmt, ...) {
        char message[ERROR_MAX];
        va_list ap;
        int n;

        if (!e)
                return r;
        memcpy(message, e->message, sizeof(message));
        va_start(ap, fmt);
        n = vsnprintf(e->message, sizeof(e->message), fmt, ap);
        va_end(ap);
        if (n >= 0 && (size_t)n < sizeof(e->message))
                strncat(e->message, message, sizeof(e->message) - 1 - (size_t)n);
        utf8_drop_invalid(e->message);
        return r;
}

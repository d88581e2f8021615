/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

#define _cleanup_(f) __attribute__((cleanup(f)))
#define _unused_ __attribute__((unused))
#define _printf_(a, b) __attribute__((format(printf, a, b)))

#define ELEMENTSOF(x) (sizeof(x) / sizeof((x)[0]))

/* Hand ownership out of a _cleanup_ variable. */
#define TAKE_PTR(p)                                                                                \
        ({                                                                                         \
                __typeof__(p) _p = (p);                                                            \
                (p) = NULL;                                                                        \
                _p;                                                                                \
        })
#define TAKE_FD(fd)                                                                                \
        ({                                                                                         \
                int _fd = (fd);                                                                    \
                (fd) = -EBADF;                                                                     \
                _fd;                                                                               \
        })

static inline void freep(void *p) {
        free(*(void **)p);
}

static inline void closep(int *fd) {
        if (*fd >= 0)
                close(*fd);
}

/* Declares foo_freep() for a NULL-safe destructor foo_free(). */
#define DEFINE_FREEP(type, func)                                                                   \
        static inline void func##p(type **p) {                                                     \
                if (*p)                                                                            \
                        func(*p);                                                                  \
        }

/* Turn a negative-errno-or-zero return into errno for %m. */
static inline int errno_set(int r) {
        errno = r < 0 ? -r : r;
        return r;
}

#define SWAP(a, b)                                                                                 \
        do {                                                                                       \
                __typeof__(a) _t = (a);                                                            \
                (a) = (b);                                                                         \
                (b) = _t;                                                                          \
        } while (0)

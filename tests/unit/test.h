/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Fail loudly at the first broken expectation; ctest reports the exit code. */
#define ASSERT(expr)                                                                               \
        do {                                                                                       \
                if (!(expr)) {                                                                     \
                        fprintf(stderr, "%s:%d: assertion failed: %s\n", __FILE__, __LINE__,       \
                                #expr);                                                            \
                        abort();                                                                   \
                }                                                                                  \
        } while (0)

#define ASSERT_EQ(a, b)                                                                            \
        do {                                                                                       \
                long long _a = (long long)(a), _b = (long long)(b);                                \
                if (_a != _b) {                                                                    \
                        fprintf(stderr, "%s:%d: %s == %lld, expected %s == %lld\n", __FILE__,      \
                                __LINE__, #a, _a, #b, _b);                                         \
                        abort();                                                                   \
                }                                                                                  \
        } while (0)

#define ASSERT_STREQ(a, b)                                                                         \
        do {                                                                                       \
                const char *_a = (a), *_b = (b);                                                   \
                if (strcmp(_a, _b) != 0) {                                                         \
                        fprintf(stderr, "%s:%d: %s == \"%s\", expected \"%s\"\n", __FILE__,        \
                                __LINE__, #a, _a, _b);                                             \
                        abort();                                                                   \
                }                                                                                  \
        } while (0)

#define TEST(name) static void test_##name(void)
#define RUN(name)                                                                                  \
        do {                                                                                       \
                test_##name();                                                                     \
                printf("ok %s\n", #name);                                                          \
        } while (0)

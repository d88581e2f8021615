/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The failure carrier: kinds, messages that can always go out on the bus, context. No root. */
#include <errno.h>

#include "error.h"
#include "settings.h"
#include "test.h"

TEST(set) {
        Error e = {};

        ASSERT(!error_is_set(&e));
        ASSERT(!error_is_set(NULL));
        ASSERT_EQ(error_set(&e, ERROR_LIMIT, -E2BIG, "Endpoints: more than %d", 3), -E2BIG);
        ASSERT(error_is_set(&e));
        ASSERT_EQ(e.kind, ERROR_LIMIT);
        ASSERT_STREQ(e.message, "Endpoints: more than 3");
        /* Nobody wants the words: the code still comes back. */
        ASSERT_EQ(error_set(NULL, ERROR_INVALID, -EINVAL, "x"), -EINVAL);
}

TEST(prefix) {
        Error e = {};
        char long_text[2 * ERROR_MAX];

        error_set(&e, ERROR_STATE, -EINVAL, "contains a NUL byte");
        ASSERT_EQ(error_prefix(&e, -EBADMSG, "line %u: ", 7), -EBADMSG);
        ASSERT_STREQ(e.message, "line 7: contains a NUL byte");
        ASSERT_EQ(e.kind, ERROR_STATE);

        /* Context never overflows; the message is cut, still terminated. */
        memset(long_text, 'x', sizeof(long_text) - 1);
        long_text[sizeof(long_text) - 1] = '\0';
        error_set(&e, ERROR_INVALID, -EINVAL, "%s", long_text);
        error_prefix(&e, -EINVAL, "line %u: ", 1);
        ASSERT_EQ(strlen(e.message), ERROR_MAX - 1);
        ASSERT(strncmp(e.message, "line 1: xxx", 11) == 0);
}

TEST(utf8) {
        Error e = {};

        /* A quote cut inside "é" (c3 a9) by a precision: the half character is dropped. */
        error_set(&e, ERROR_INVALID, -EINVAL, "Tunnels: \"%.4s\"", "wg\xc3\xa9");
        ASSERT_STREQ(e.message, "Tunnels: \"wg\xc3\xa9\"");
        error_set(&e, ERROR_INVALID, -EINVAL, "Tunnels: \"%.3s\"", "wg\xc3\xa9");
        ASSERT_STREQ(e.message, "Tunnels: \"wg\"");
        /* Stray continuation bytes, overlong forms and bytes no UTF-8 has go too. */
        error_set(&e, ERROR_INVALID, -EINVAL,
                  "a\x80"
                  "b\xc0\xaf"
                  "c\xff"
                  "d");
        ASSERT_STREQ(e.message, "abcd");
        /* A prefix cut at the end of the buffer cannot leave half a character either. */
        error_set(&e, ERROR_INVALID, -EINVAL, "%*s\xc3\xa9", ERROR_MAX - 10, "");
        error_prefix(&e, -EINVAL, "line 9: ");
        ASSERT(strstr(e.message, "\xc3") == NULL);
}

TEST(validation_kinds) {
        _cleanup_(settings_done) Settings s = {};
        Error e = {};
        Endpoint ep;

        ASSERT_EQ(endpoint_parse("198.51.100.7", 0, "udp", &ep, &e), -EINVAL);
        ASSERT_EQ(e.kind, ERROR_INVALID);
        for (int i = 0; i < TUNNELS_MAX; i++) {
                char name[16];

                snprintf(name, sizeof(name), "wg%d", i);
                ASSERT_EQ(settings_add_tunnel(&s, name, &e), 0);
        }
        e = (Error){};
        ASSERT_EQ(settings_add_tunnel(&s, "wg99", &e), -E2BIG);
        ASSERT_EQ(e.kind, ERROR_LIMIT);
}

int main(void) {
        RUN(set);
        RUN(prefix);
        RUN(utf8);
        RUN(validation_kinds);
        return 0;
}

/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The state-file parser on arbitrary bytes: never crashes, and whatever it accepts survives a
 * write → read round trip unchanged. */
#include <stdint.h>
#include <string.h>

#include "settings.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        _cleanup_(settings_done) Settings s = {}, again = {};
        _cleanup_(freep) char *text = NULL;
        char error[ERROR_MAX];

        if (settings_from_text((const char *)data, size, &s, error) < 0)
                return 0;
        if (settings_to_text(&s, &text) < 0)
                abort();
        if (settings_from_text(text, strlen(text), &again, error) < 0)
                abort();
        if (!settings_equal(&s, &again))
                abort();
        return 0;
}

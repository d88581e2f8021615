/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The state-file parser on arbitrary bytes: never crashes, and whatever it accepts is written
 * back the two ways the daemon writes it, whole (a snapshot) and as a change appended to the
 * snapshot it started from, and both read back the same. */
#include <stdint.h>
#include <string.h>

#include "settings-text.h"
#include "state.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        _cleanup_(settings_done) Settings s = {}, base = {}, again = {};
        _cleanup_(freep) char *whole = NULL, *change = NULL, *file = NULL;
        char commit[STATE_COMMIT_MAX];
        Error error = {};
        StateFile layout, layout_again;
        size_t end, n = 0, m = 0;
        FILE *f;

        if (state_parse((const char *)data, size, &s, &layout, &error) < 0)
                return 0;

        /* What a daemon would append to: the committed part alone says the same. */
        if (layout.size > 0) {
                if (layout.size != size ||
                    state_parse((const char *)data, layout.size, &again, NULL, &error) < 0 ||
                    !settings_equal(&s, &again))
                        abort();
                settings_done(&again);
        }

        /* Whole. */
        if (settings_to_text(&s, &whole) < 0)
                abort();
        if (state_parse(whole, strlen(whole), &again, &layout_again, &error) < 0 ||
            !settings_equal(&s, &again) || layout_again.size != strlen(whole) ||
            layout_again.changes != 0)
                abort();
        settings_done(&again);
        free(whole);
        whole = NULL;

        /* The snapshot it started from, then one change to where it ended. */
        if (settings_from_text((const char *)data, size, &base, &end, &error) < 0 ||
            settings_to_text(&base, &whole) < 0)
                abort();
        f = open_memstream(&change, &n);
        if (!f || settings_changes_to_text(&base, &s, SIZE_MAX, f) < 0 || fclose(f) != 0)
                abort();
        state_commit_line(1, change, n, commit);
        f = open_memstream(&file, &m);
        if (!f)
                abort();
        fprintf(f, "%s%s%s", whole, change, commit);
        if (fclose(f) != 0)
                abort();
        if (state_parse(file, m, &again, &layout_again, &error) < 0 ||
            !settings_equal(&s, &again) || layout_again.size != m || layout_again.changes != 1)
                abort();
        return 0;
}

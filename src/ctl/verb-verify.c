/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* "killswitchctl verify": the daemon's Verify() report as a checklist. */
#include <json-c/json.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "client.h"
#include "ctl.h"

/* Exit status when a check fails: the same as any other failure of the command. */
#define VERIFY_FAILED CTL_EXIT_FAILURE

int verb_verify(Ctl *c, int argc _unused_, char **argv _unused_) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL, *reply = NULL;
        json_object *list = NULL;
        bool color = isatty(STDOUT_FILENO) && !getenv("NO_COLOR");
        const char *name, *status, *detail;
        unsigned failed = 0, warned = 0, total = 0;
        int r;

        r = ctl_method_new(c, NULL, "VerifyReport", &m);
        if (r != CTL_EXIT_OK)
                return r;
        r = ctl_call(c, m, &reply);
        if (r != CTL_EXIT_OK)
                return r;

        if (c->json)
                list = json_object_new_array();
        r = sd_bus_message_enter_container(reply, 'a', "(sss)");
        if (r < 0)
                return ctl_reply_error("VerifyReport", r);
        while ((r = sd_bus_message_read(reply, "(sss)", &name, &status, &detail)) > 0) {
                bool fail = strcmp(status, "fail") == 0, warn = strcmp(status, "warning") == 0;

                total++;
                failed += fail;
                warned += warn;
                if (list) {
                        json_object *o = json_object_new_object();

                        json_object_object_add(o, "check", json_object_new_string(name));
                        json_object_object_add(o, "passed", json_object_new_boolean(!fail));
                        json_object_object_add(o, "status", json_object_new_string(status));
                        json_object_object_add(o, "detail", json_object_new_string(detail));
                        json_object_array_add(list, o);
                } else
                        printf("%s%s%s %-11s %s\n",
                               color ? (fail   ? "\033[1;31m"
                                        : warn ? "\033[1;33m"
                                               : "\033[1;32m")
                                     : "",
                               fail   ? "[FAIL]"
                               : warn ? "[warn]"
                                      : "[ ok ]",
                               color ? "\033[0m" : "", name, detail);
        }
        if (r < 0) {
                json_object_put(list);
                return ctl_reply_error("VerifyReport", r);
        }
        if (list) {
                puts(json_object_to_json_string_ext(list, JSON_C_TO_STRING_PLAIN));
                json_object_put(list);
        } else if (warned > 0)
                printf("%u of %u checks passed, %u with a warning\n", total - failed, total,
                       warned);
        else
                printf("%u of %u checks passed\n", total - failed, total);
        return failed > 0 || (c->strict && warned > 0) ? VERIFY_FAILED : CTL_EXIT_OK;
}

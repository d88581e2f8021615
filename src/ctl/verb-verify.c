/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* "killswitchctl verify": the daemon's VerifyReport() as a checklist, and after it the
 * per-application rules tried with live processes (verify-apps.c). */
#include <json-c/json.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "client.h"
#include "ctl.h"
#include "verify-apps.h"

/* Exit status when a check fails: the same as any other failure of the command. */
#define VERIFY_FAILED CTL_EXIT_FAILURE

typedef struct Checklist {
        json_object *json; /* with --json, the checks go here */
        bool color;
        unsigned total, failed, warned;
} Checklist;

static void checklist_add(Checklist *l, const char *name, const char *status, const char *detail) {
        bool fail = strcmp(status, "fail") == 0, warn = strcmp(status, "warning") == 0;

        l->total++;
        l->failed += fail;
        l->warned += warn;
        if (l->json) {
                json_object *o = json_object_new_object();

                json_object_object_add(o, "check", json_object_new_string(name));
                json_object_object_add(o, "passed", json_object_new_boolean(!fail));
                json_object_object_add(o, "status", json_object_new_string(status));
                json_object_object_add(o, "detail", json_object_new_string(detail));
                json_object_array_add(l->json, o);
        } else
                printf("%s%s%s %-11s %s\n",
                       l->color ? (fail   ? "\033[1;31m"
                                   : warn ? "\033[1;33m"
                                          : "\033[1;32m")
                                : "",
                       fail   ? "[FAIL]"
                       : warn ? "[warn]"
                              : "[ ok ]",
                       l->color ? "\033[0m" : "", name, detail);
}

static void checklist_done(Checklist *l) {
        json_object_put(l->json);
}

int verb_verify(Ctl *c, int argc _unused_, char **argv _unused_) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL, *reply = NULL;
        _cleanup_(checklist_done) Checklist l = {
                .json = c->json ? json_object_new_array() : NULL,
                .color = isatty(STDOUT_FILENO) && !getenv("NO_COLOR"),
        };
        const char *name, *status, *detail;
        AppCheck apps[2];
        size_t n_apps = 0;
        int r;

        r = ctl_method_new(c, NULL, "VerifyReport", &m);
        if (r != CTL_EXIT_OK)
                return r;
        r = ctl_call(c, m, &reply);
        if (r != CTL_EXIT_OK)
                return r;

        r = sd_bus_message_enter_container(reply, 'a', "(sss)");
        if (r < 0)
                return ctl_reply_error("VerifyReport", r);
        while ((r = sd_bus_message_read(reply, "(sss)", &name, &status, &detail)) > 0)
                checklist_add(&l, name, status, detail);
        if (r < 0)
                return ctl_reply_error("VerifyReport", r);

        r = verify_apps(c, apps, &n_apps);
        if (r != CTL_EXIT_OK)
                return r;
        for (size_t i = 0; i < n_apps; i++)
                checklist_add(&l, apps[i].name, apps[i].status, apps[i].detail);

        if (l.json)
                puts(json_object_to_json_string_ext(l.json, JSON_C_TO_STRING_PLAIN));
        else if (l.warned > 0)
                printf("%u of %u checks passed, %u with a warning\n", l.total - l.failed, l.total,
                       l.warned);
        else
                printf("%u of %u checks passed\n", l.total - l.failed, l.total);
        return l.failed > 0 || (c->strict && l.warned > 0) ? VERIFY_FAILED : CTL_EXIT_OK;
}

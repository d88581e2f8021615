/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Who may change things (docs/dbus-api.md): uid 0, or whom polkit grants
 * org.killswitchd.manage; without polkit on the bus, uid 0 only. */
#include <string.h>

#include "bus-internal.h"
#include "log.h"

static int check_polkit(sd_bus_message *msg, bool *ret) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        _cleanup_(sd_bus_error_free) sd_bus_error e = SD_BUS_ERROR_NULL;
        int authorized = 0, challenge = 0, r;
        /* Interactive authentication would block the whole daemon while a password is typed:
         * callers must be authorized by polkit rules or an earlier "keep" grant. */
        uint32_t flags = 0;

        r = sd_bus_call_method(sd_bus_message_get_bus(msg), "org.freedesktop.PolicyKit1",
                               "/org/freedesktop/PolicyKit1/Authority",
                               "org.freedesktop.PolicyKit1.Authority", "CheckAuthorization", &e,
                               &reply, "(sa{sv})sa{ss}us", "system-bus-name", 1, "name", "s",
                               sd_bus_message_get_sender(msg), KS_POLKIT_ACTION, 0, flags, "");
        if (r < 0) {
                /* No polkit on the bus: only root may change anything. */
                log_debug("polkit unavailable: %s", e.message ?: strerror(-r));
                *ret = false;
                return 0;
        }
        /* (bba{ss}): is_authorized, is_challenge, details. */
        r = sd_bus_message_enter_container(reply, 'r', "bba{ss}");
        if (r >= 0)
                r = sd_bus_message_read(reply, "bb", &authorized, &challenge);
        if (r < 0)
                return r;
        *ret = authorized;
        return 0;
}

int bus_check_authorized(sd_bus_message *msg, Error *error) {
        _cleanup_(sd_bus_creds_unrefp) sd_bus_creds *creds = NULL;
        bool ok = false;
        uid_t uid;
        int r;

        r = sd_bus_query_sender_creds(msg, SD_BUS_CREDS_EUID | SD_BUS_CREDS_AUGMENT, &creds);
        if (r >= 0)
                r = sd_bus_creds_get_euid(creds, &uid);
        if (r < 0)
                return error_set(error, ERROR_DENIED, -EACCES,
                                 "Cannot determine the caller's identity");
        if (uid == 0)
                return 0;
        r = check_polkit(msg, &ok);
        if (r < 0)
                return r;
        if (!ok)
                return error_set(error, ERROR_DENIED, -EACCES,
                                 "Changing or probing the kill switch needs root or the polkit "
                                 "action %s",
                                 KS_POLKIT_ACTION);
        return 0;
}

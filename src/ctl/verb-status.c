/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "client.h"
#include "ctl.h"
#include "format.h"
#include "json.h"
#include "killswitchd/bus.h"

#define LABEL "%13s: "
#define INDENT "               " /* under the values, for lists */

typedef struct Style {
        const char *good, *bad, *off;
} Style;

/* Colour only for a person at a terminal: https://no-color.org */
static Style style_get(void) {
        const char *no_color = getenv("NO_COLOR");
        const char *term = getenv("TERM");

        if (!isatty(STDOUT_FILENO) || (no_color && *no_color) ||
            (term && strcmp(term, "dumb") == 0))
                return (Style){"", "", ""};
        return (Style){"\033[1;32m", "\033[1;31m", "\033[0m"};
}

static json_object *get(json_object *props, const char *name, json_type type) {
        json_object *v;

        if (!json_object_object_get_ex(props, name, &v) || !json_object_is_type(v, type))
                return NULL;
        return v;
}

static bool get_bool(json_object *props, const char *name) {
        json_object *v = get(props, name, json_type_boolean);

        return v && json_object_get_boolean(v);
}

/* Does interface name match a Tunnels entry: exact, or a prefix before a final '*'. */
static bool tunnel_matches(const char *pattern, const char *name) {
        size_t n = strlen(pattern);

        if (n > 0 && pattern[n - 1] == '*')
                return strncmp(pattern, name, n - 1) == 0;
        return strcmp(pattern, name) == 0;
}

/* One line per Tunnels entry, saying which of ActiveTunnels (the interfaces up
 * now) it covers. */
static void print_tunnels(json_object *props, const Style *s) {
        json_object *tunnels = get(props, "Tunnels", json_type_array);
        json_object *active = get(props, "ActiveTunnels", json_type_array);
        size_t n = tunnels ? json_object_array_length(tunnels) : 0;
        size_t n_active = active ? json_object_array_length(active) : 0;

        printf(LABEL, "Tunnels");
        if (n == 0)
                puts("none");
        for (size_t i = 0; i < n; i++) {
                const char *pattern = json_object_get_string(json_object_array_get_idx(tunnels, i));
                bool is_pattern = strchr(pattern, '*');
                size_t up = 0;

                if (i > 0)
                        fputs(INDENT, stdout);
                printf("%s (", pattern);
                for (size_t j = 0; j < n_active; j++) {
                        const char *name =
                                json_object_get_string(json_object_array_get_idx(active, j));

                        if (!tunnel_matches(pattern, name))
                                continue;
                        if (up++ == 0)
                                printf("%sup%s", s->good, s->off);
                        /* For a pattern, name the interfaces behind it. */
                        if (is_pattern)
                                printf("%s%s", up == 1 ? ": " : ", ", name);
                }
                if (up == 0)
                        printf("%sdown%s", s->bad, s->off);
                puts(")");
        }
}

static void print_list(const char *label, json_object *list) {
        size_t n = list ? json_object_array_length(list) : 0;

        printf(LABEL, label);
        if (n == 0)
                puts("none");
        for (size_t i = 0; i < n; i++) {
                if (i > 0)
                        fputs(INDENT, stdout);
                format_value(stdout, json_object_array_get_idx(list, i));
                putchar('\n');
        }
}

static void print_status(json_object *props) {
        Style s = style_get();
        json_object *protection = get(props, "Protection", json_type_string);
        json_object *mark = get(props, "EndpointMark", json_type_int);
        json_object *blocked = get(props, "BlockedPackets", json_type_int);
        json_object *subnets = get(props, "LanSubnets", json_type_array);

        printf(LABEL, "Kill switch");
        if (get_bool(props, "Enabled"))
                printf("%senabled%s (protection: %s)\n", s.good, s.off,
                       protection ? json_object_get_string(protection) : "unknown");
        else
                printf("%sdisabled%s\n", s.bad, s.off);

        print_tunnels(props, &s);
        print_list("Endpoints", get(props, "Endpoints", json_type_array));
        if (mark && json_object_get_int64(mark) != 0)
                printf(LABEL "0x%" PRIx64 "\n", "Endpoint mark",
                       (uint64_t)json_object_get_int64(mark));

        printf(LABEL "%s", "LAN", get_bool(props, "AllowLan") ? "allowed" : "blocked");
        if (subnets && json_object_array_length(subnets) > 0) {
                fputs(" (", stdout);
                format_value(stdout, subnets);
                putchar(')');
        }
        putchar('\n');
        printf(LABEL "%s\n", "DHCP", get_bool(props, "AllowDhcp") ? "allowed" : "blocked");
        printf(LABEL "%s\n", "Persistent", get_bool(props, "Persistent") ? "yes" : "no");
        if (blocked) {
                uint64_t n = json_object_get_uint64(blocked);

                printf(LABEL "%" PRIu64 " packet%s\n", "Blocked", n, n == 1 ? "" : "s");
        }
}

int verb_status(Ctl *c, int argc _unused_, char **argv _unused_) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL, *reply = NULL;
        _cleanup_(json_object_putp) json_object *props = NULL;
        int r;

        /* One GetAll: every property from the same moment. */
        r = ctl_method_new(c, "org.freedesktop.DBus.Properties", "GetAll", &m);
        if (r != CTL_EXIT_OK)
                return r;
        r = sd_bus_message_append(m, "s", KS_BUS_INTERFACE);
        if (r < 0)
                return ctl_append_error("status", r);
        r = ctl_call(c, m, &reply);
        if (r != CTL_EXIT_OK)
                return r;
        r = json_from_bus(reply, &props);
        if (r < 0)
                return ctl_reply_error("GetAll", r);

        if (c->json) {
                r = json_print(stdout, props, isatty(STDOUT_FILENO));
                if (r < 0) {
                        errno_set(r);
                        ctl_error("cannot write: %m");
                        return CTL_EXIT_FAILURE;
                }
                return CTL_EXIT_OK;
        }
        print_status(props);
        if (fflush(stdout) != 0) {
                ctl_error("cannot write: %m");
                return CTL_EXIT_FAILURE;
        }
        return CTL_EXIT_OK;
}

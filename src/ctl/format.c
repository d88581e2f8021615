/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <string.h>

#include "format.h"

static const char *get_string(json_object *o, const char *key) {
        json_object *v;

        if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
                return NULL;
        return json_object_get_string(v);
}

void format_endpoint(FILE *f, json_object *endpoint) {
        const char *address = get_string(endpoint, "address");
        const char *protocol = get_string(endpoint, "protocol");
        json_object *port;

        if (!address || !protocol || !json_object_object_get_ex(endpoint, "port", &port)) {
                fputs(json_object_to_json_string_ext(endpoint, JSON_C_TO_STRING_PLAIN), f);
                return;
        }
        /* Brackets keep an IPv6 address apart from the port, as in URLs. */
        fprintf(f, strchr(address, ':') ? "[%s]:%d/%s" : "%s:%d/%s", address,
                json_object_get_int(port), protocol);
}

void format_value(FILE *f, json_object *v) {
        switch (json_object_get_type(v)) {
        case json_type_boolean: fputs(json_object_get_boolean(v) ? "yes" : "no", f); break;
        case json_type_string: fputs(json_object_get_string(v), f); break;
        case json_type_array: {
                size_t n = json_object_array_length(v);

                if (n == 0)
                        fputs("(none)", f);
                for (size_t i = 0; i < n; i++) {
                        if (i > 0)
                                fputs(", ", f);
                        format_value(f, json_object_array_get_idx(v, i));
                }
                break;
        }
        case json_type_object:
                if (json_object_object_get_ex(v, "address", NULL)) {
                        format_endpoint(f, v);
                        break;
                }
                /* fall through */
        default:
                fputs(json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN |
                                                                JSON_C_TO_STRING_NOSLASHESCAPE),
                      f);
        }
}

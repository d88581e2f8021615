/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <string.h>

#include "json.h"

static int json_from_basic(sd_bus_message *m, char type, json_object **ret) {
        union {
                uint8_t y;
                int b;
                int16_t n;
                uint16_t q;
                int32_t i;
                uint32_t u;
                int64_t x;
                uint64_t t;
                double d;
                const char *s;
                int h;
        } v;
        json_object *o;
        int r;

        r = sd_bus_message_read_basic(m, type, &v);
        if (r < 0)
                return r;
        switch (type) {
        case 'y': o = json_object_new_int64(v.y); break;
        case 'b': o = json_object_new_boolean(v.b); break;
        case 'n': o = json_object_new_int64(v.n); break;
        case 'q': o = json_object_new_int64(v.q); break;
        case 'i': o = json_object_new_int64(v.i); break;
        case 'h': o = json_object_new_int64(v.h); break;
        case 'u': o = json_object_new_int64(v.u); break;
        case 'x': o = json_object_new_int64(v.x); break;
        case 't': o = json_object_new_uint64(v.t); break;
        case 'd': o = json_object_new_double(v.d); break;
        case 's':
        case 'o':
        case 'g': o = json_object_new_string(v.s); break;
        default: return -EBADMSG;
        }
        if (!o)
                return -ENOMEM;
        *ret = o;
        return 0;
}

/* The entries of an array whose element type is contents, m already inside it. */
static int json_from_array(sd_bus_message *m, const char *contents, json_object **ret) {
        _cleanup_(json_object_putp) json_object *o = NULL;
        /* A dict with string keys reads naturally as a JSON object. */
        bool dict = contents[0] == '{' && strchr("sog", contents[1]);
        _cleanup_(freep) char *entry = NULL;
        int r;

        o = dict ? json_object_new_object() : json_object_new_array();
        if (!o)
                return -ENOMEM;

        if (dict) {
                /* "{sv}" is entered as a dict entry of "sv". */
                size_t n = strlen(contents) - 2;

                entry = strndup(contents + 1, n);
                if (!entry)
                        return -ENOMEM;
        }

        for (;;) {
                _cleanup_(json_object_putp) json_object *v = NULL;
                const char *key;

                if (dict) {
                        r = sd_bus_message_enter_container(m, 'e', entry);
                        if (r < 0)
                                return r;
                        if (r == 0)
                                break;
                        r = sd_bus_message_read_basic(m, contents[1], &key);
                        if (r < 0)
                                return r;
                        r = json_from_bus(m, &v);
                        if (r < 0)
                                return r;
                        r = sd_bus_message_exit_container(m);
                        if (r < 0)
                                return r;
                        if (json_object_object_add(o, key, TAKE_PTR(v)) < 0)
                                return -ENOMEM;
                } else {
                        r = sd_bus_message_at_end(m, false);
                        if (r < 0)
                                return r;
                        if (r > 0)
                                break;
                        r = json_from_bus(m, &v);
                        if (r < 0)
                                return r;
                        if (json_object_array_add(o, TAKE_PTR(v)) < 0)
                                return -ENOMEM;
                }
        }
        *ret = TAKE_PTR(o);
        return 0;
}

/* An endpoint: the names the contract gives the three fields. */
static int json_from_endpoint(sd_bus_message *m, json_object **ret) {
        _cleanup_(json_object_putp) json_object *o = NULL;
        const char *address, *protocol;
        uint16_t port;
        int r;

        r = sd_bus_message_read(m, "sqs", &address, &port, &protocol);
        if (r < 0)
                return r;
        o = json_object_new_object();
        if (!o || json_object_object_add(o, "address", json_object_new_string(address)) < 0 ||
            json_object_object_add(o, "port", json_object_new_int(port)) < 0 ||
            json_object_object_add(o, "protocol", json_object_new_string(protocol)) < 0)
                return -ENOMEM;
        *ret = TAKE_PTR(o);
        return 0;
}

int json_from_bus(sd_bus_message *m, json_object **ret) {
        _cleanup_(json_object_putp) json_object *o = NULL;
        const char *contents;
        char type;
        int r;

        r = sd_bus_message_peek_type(m, &type, &contents);
        if (r < 0)
                return r;
        if (r == 0)
                return -EBADMSG;

        if (!strchr("avre", type))
                return json_from_basic(m, type, ret);

        r = sd_bus_message_enter_container(m, type, contents);
        if (r < 0)
                return r;

        if (type == 'a')
                r = json_from_array(m, contents, &o);
        else if (type == 'v')
                r = json_from_bus(m, &o);
        else if (type == 'r' && strcmp(contents, "sqs") == 0)
                r = json_from_endpoint(m, &o);
        else {
                o = json_object_new_array();
                if (!o)
                        return -ENOMEM;
                for (;;) {
                        _cleanup_(json_object_putp) json_object *v = NULL;

                        r = sd_bus_message_at_end(m, false);
                        if (r != 0)
                                break;
                        r = json_from_bus(m, &v);
                        if (r < 0)
                                break;
                        if (json_object_array_add(o, TAKE_PTR(v)) < 0)
                                return -ENOMEM;
                }
        }
        if (r < 0)
                return r;

        r = sd_bus_message_exit_container(m);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(o);
        return 0;
}

int json_print(FILE *f, json_object *o, bool pretty) {
        int flags = JSON_C_TO_STRING_NOSLASHESCAPE |
                    (pretty ? JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED
                            : JSON_C_TO_STRING_PLAIN);
        const char *s;

        s = json_object_to_json_string_ext(o, flags);
        if (!s)
                return -ENOMEM;
        if (fputs(s, f) < 0 || fputc('\n', f) < 0 || fflush(f) != 0)
                return errno > 0 ? -errno : -EIO;
        return 0;
}

/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* apply: a JSON object on stdin or in a file becomes the a{sv} of Apply.
 *
 * The contract's keys get the contract's D-Bus types (the daemon's own table,
 * contract/settings-keys.h); JSON that those types cannot carry is refused
 * here, since it could not even be sent. Whether a value is acceptable (an
 * address, a port of 0, an unknown key) is the daemon's call: unknown keys go
 * through with the type their JSON suggests. */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "client.h"
#include "contract/settings-keys.h"
#include "ctl.h"
#include "json.h"

/* D-Bus caps a message at 128 MiB; a settings text is far smaller. */
#define INPUT_MAX (128u * 1024 * 1024)

/* Why the input cannot be sent; path names the offending value ("Endpoints[1].port"). */
static int bad(const char *path, const char *fmt, ...) _printf_(2, 3);
static int bad(const char *path, const char *fmt, ...) {
        va_list ap;

        fprintf(stderr, CTL_NAME ": apply: %s: ", path);
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fputc('\n', stderr);
        return -EINVAL;
}

static const char *json_text(json_object *v) {
        return json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN |
                                                         JSON_C_TO_STRING_NOSLASHESCAPE);
}

/* The signature for a value of an unknown key. */
static const char *guess_signature(json_object *v) {
        switch (json_object_get_type(v)) {
        case json_type_boolean: return "b";
        case json_type_double: return "d";
        case json_type_string: return "s";
        case json_type_object: return "a{sv}";
        case json_type_int:
                /* json-c keeps integers above INT64_MAX as uint64 and clamps get_int64. */
                return json_object_get_int64(v) == INT64_MAX &&
                                       json_object_get_uint64(v) > INT64_MAX
                               ? "t"
                               : "x";
        case json_type_array:
                for (size_t i = 0; i < json_object_array_length(v); i++)
                        if (!json_object_is_type(json_object_array_get_idx(v, i), json_type_string))
                                return "av";
                return "as";
        default: return NULL; /* null: D-Bus has no such value */
        }
}

/* An integer in 0..max, or a reason why not. */
static int get_unsigned(json_object *v, uint64_t max, const char *path, uint64_t *ret) {
        if (!json_object_is_type(v, json_type_int))
                return bad(path, "expected an integer, got %s", json_text(v));
        if (json_object_get_int64(v) < 0 || json_object_get_uint64(v) > max)
                return bad(path, "%s is not in 0..%" PRIu64, json_text(v), max);
        *ret = json_object_get_uint64(v);
        return 0;
}

static int append_value(sd_bus_message *m, const char *signature, json_object *v, const char *path);

/* A variant holding v as 'signature' (NULL: v is null, which D-Bus cannot carry). */
static int append_variant(sd_bus_message *m, const char *signature, json_object *v,
                          const char *path) {
        int r;

        if (!signature)
                return bad(path, "null cannot be sent over D-Bus");
        r = sd_bus_message_open_container(m, 'v', signature);
        if (r >= 0)
                r = append_value(m, signature, v, path);
        return r < 0 ? r : sd_bus_message_close_container(m);
}

/* (sqs) from {"address":..., "port":..., "protocol":...} or [address, port, protocol];
 * the protocol defaults to "udp", as on the command line. */
static int append_endpoint(sd_bus_message *m, json_object *v, const char *path) {
        static const char *const fields[] = {"address", "port", "protocol"};
        json_object *field[3] = {};
        char sub[256];
        int r;

        if (json_object_is_type(v, json_type_array)) {
                size_t n = json_object_array_length(v);

                if (n < 2 || n > 3)
                        return bad(path, "expected [address, port] or [address, port, protocol]");
                for (size_t i = 0; i < n; i++)
                        field[i] = json_object_array_get_idx(v, i);
        } else if (json_object_is_type(v, json_type_object)) {
                struct json_object_iterator it = json_object_iter_begin(v);
                struct json_object_iterator end = json_object_iter_end(v);

                for (; !json_object_iter_equal(&it, &end); json_object_iter_next(&it)) {
                        const char *name = json_object_iter_peek_name(&it);
                        size_t i;

                        for (i = 0; i < ELEMENTSOF(fields); i++)
                                if (strcmp(name, fields[i]) == 0)
                                        break;
                        if (i == ELEMENTSOF(fields))
                                return bad(path,
                                           "unknown field \"%s\"; an endpoint has address, port "
                                           "and protocol",
                                           name);
                        field[i] = json_object_iter_peek_value(&it);
                }
                if (!field[0] || !field[1])
                        return bad(path, "an endpoint needs an address and a port");
        } else
                return bad(path, "expected an endpoint, {\"address\": ..., \"port\": ..., "
                                 "\"protocol\": ...}");

        r = sd_bus_message_open_container(m, 'r', "sqs");
        if (r < 0)
                return r;
        for (size_t i = 0; i < ELEMENTSOF(fields); i++) {
                snprintf(sub, sizeof(sub), "%s.%s", path, fields[i]);
                if (!field[i])
                        r = sd_bus_message_append(m, "s", "udp");
                else
                        r = append_value(m, i == 1 ? "q" : "s", field[i], sub);
                if (r < 0)
                        return r;
        }
        return sd_bus_message_close_container(m);
}

static int append_array(sd_bus_message *m, const char *element, json_object *v, const char *path) {
        char sub[256];
        int r;

        if (!json_object_is_type(v, json_type_array))
                return bad(path, "expected an array, got %s", json_text(v));
        r = sd_bus_message_open_container(m, 'a', element);
        if (r < 0)
                return r;
        for (size_t i = 0; i < json_object_array_length(v); i++) {
                snprintf(sub, sizeof(sub), "%s[%zu]", path, i);
                r = append_value(m, element, json_object_array_get_idx(v, i), sub);
                if (r < 0)
                        return r;
        }
        return sd_bus_message_close_container(m);
}

/* a{sv} from a JSON object: the settings themselves, and objects under unknown keys. */
static int append_dict(sd_bus_message *m, json_object *v, const char *path) {
        struct json_object_iterator it, end;
        int r;

        if (!json_object_is_type(v, json_type_object))
                return bad(path, "expected an object, got %s", json_text(v));
        r = sd_bus_message_open_container(m, 'a', "{sv}");
        if (r < 0)
                return r;
        it = json_object_iter_begin(v);
        end = json_object_iter_end(v);
        for (; !json_object_iter_equal(&it, &end); json_object_iter_next(&it)) {
                const char *key = json_object_iter_peek_name(&it);
                const char *signature = NULL;
                int k = path ? -ENOENT : setting_key_from_name(key);
                char sub[256];

                if (k >= 0)
                        signature = setting_keys[k].signature;
                if (path)
                        snprintf(sub, sizeof(sub), "%s.%s", path, key);
                else
                        snprintf(sub, sizeof(sub), "%s", key);

                r = sd_bus_message_open_container(m, 'e', "sv");
                if (r < 0)
                        return r;
                r = sd_bus_message_append_basic(m, 's', key);
                if (r < 0)
                        return r;
                /* A key of the contract's gets its type; any other, what its JSON suggests. */
                r = append_variant(m,
                                   signature ?: guess_signature(json_object_iter_peek_value(&it)),
                                   json_object_iter_peek_value(&it), sub);
                if (r < 0)
                        return r;
                r = sd_bus_message_close_container(m);
                if (r < 0)
                        return r;
        }
        return sd_bus_message_close_container(m);
}

/* One value of the single complete type signature. -EINVAL (explained) when
 * the JSON does not fit it; other -errno from sd-bus. */
static int append_value(sd_bus_message *m, const char *signature, json_object *v,
                        const char *path) {
        uint64_t u;
        int r;

        if (strcmp(signature, "(sqs)") == 0)
                return append_endpoint(m, v, path);
        if (strcmp(signature, "a{sv}") == 0)
                return append_dict(m, v, path);
        if (signature[0] == 'a')
                return append_array(m, signature + 1, v, path);

        switch (signature[0]) {
        case 'v': return append_variant(m, guess_signature(v), v, path);
        case 'b':
                if (!json_object_is_type(v, json_type_boolean))
                        return bad(path, "expected true or false, got %s", json_text(v));
                return sd_bus_message_append(m, "b", json_object_get_boolean(v));
        case 's': {
                const char *s;

                if (!json_object_is_type(v, json_type_string))
                        return bad(path, "expected a string, got %s", json_text(v));
                s = json_object_get_string(v);
                /* D-Bus strings end at NUL; "\u0000" would be cut short silently. */
                if (strlen(s) != (size_t)json_object_get_string_len(v))
                        return bad(path, "a string with a NUL character cannot be sent");
                r = sd_bus_message_append_basic(m, 's', s);
                if (r == -EINVAL)
                        return bad(path, "%s is not valid UTF-8", json_text(v));
                return r;
        }
        case 'q':
                r = get_unsigned(v, UINT16_MAX, path, &u);
                if (r < 0)
                        return r;
                return sd_bus_message_append(m, "q", (uint16_t)u);
        case 'u':
                r = get_unsigned(v, UINT32_MAX, path, &u);
                if (r < 0)
                        return r;
                return sd_bus_message_append(m, "u", (uint32_t)u);
        case 't':
                r = get_unsigned(v, UINT64_MAX, path, &u);
                if (r < 0)
                        return r;
                return sd_bus_message_append(m, "t", u);
        case 'x': return sd_bus_message_append(m, "x", json_object_get_int64(v));
        case 'd': return sd_bus_message_append(m, "d", json_object_get_double(v));
        default: return -EBADMSG; /* not a signature we produce */
        }
}

static int read_all(FILE *f, char **ret, size_t *ret_size) {
        _cleanup_(freep) char *buf = NULL;
        size_t size = 0, allocated = 0;

        for (;;) {
                size_t n;

                /* Keep room for a NUL: the text is scanned as a string after parsing. */
                if (size + 1 >= allocated) {
                        char *p;

                        if (allocated >= INPUT_MAX)
                                return -EFBIG;
                        allocated = allocated ? allocated * 2 : 4096;
                        p = realloc(buf, allocated);
                        if (!p)
                                return -ENOMEM;
                        buf = p;
                }
                n = fread(buf + size, 1, allocated - size - 1, f);
                size += n;
                if (n == 0) {
                        if (ferror(f))
                                return -EIO;
                        break;
                }
        }
        buf[size] = '\0';
        *ret = TAKE_PTR(buf);
        *ret_size = size;
        return 0;
}

DEFINE_FREEP(struct json_tokener, json_tokener_free)

static int parse_json(const char *name, const char *text, size_t size, json_object **ret) {
        _cleanup_(json_tokener_freep) struct json_tokener *tok = NULL;
        _cleanup_(json_object_putp) json_object *o = NULL;
        size_t end;

        tok = json_tokener_new();
        if (!tok)
                return -ENOMEM;
        json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
        o = json_tokener_parse_ex(tok, text, (int)size);
        if (!o) {
                enum json_tokener_error e = json_tokener_get_error(tok);

                fprintf(stderr, CTL_NAME ": apply: %s: %s at byte %zu\n", name,
                        e == json_tokener_continue ? "unexpected end of input"
                                                   : json_tokener_error_desc(e),
                        json_tokener_get_parse_end(tok));
                return -EINVAL;
        }
        end = json_tokener_get_parse_end(tok);
        end += strspn(text + end, " \t\r\n");
        if (end != size) {
                fprintf(stderr,
                        CTL_NAME ": apply: %s: unexpected data after the JSON value at byte %zu\n",
                        name, end);
                return -EINVAL;
        }
        *ret = TAKE_PTR(o);
        return 0;
}

int verb_apply(Ctl *c, int argc, char **argv) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        _cleanup_(json_object_putp) json_object *settings = NULL;
        _cleanup_(freep) char *text = NULL;
        const char *name = argc > 1 ? argv[1] : "-";
        bool from_stdin = strcmp(name, "-") == 0;
        size_t size;
        FILE *f;
        int r;

        f = from_stdin ? stdin : fopen(name, "re");
        if (!f) {
                ctl_error("apply: cannot open %s: %m", name);
                return CTL_EXIT_FAILURE;
        }
        r = read_all(f, &text, &size);
        if (!from_stdin)
                fclose(f);
        if (r < 0) {
                errno_set(r);
                ctl_error("apply: cannot read %s: %m", from_stdin ? "standard input" : name);
                return CTL_EXIT_FAILURE;
        }
        if (from_stdin)
                name = "standard input";

        if (size > INT32_MAX || parse_json(name, text, size, &settings) < 0)
                return CTL_EXIT_USAGE;
        if (!json_object_is_type(settings, json_type_object)) {
                ctl_error("apply: %s: expected a JSON object of settings, got %s", name,
                          json_type_to_name(json_object_get_type(settings)));
                return CTL_EXIT_USAGE;
        }

        r = ctl_method_new(c, NULL, "Apply", &m);
        if (r != CTL_EXIT_OK)
                return r;
        r = append_dict(m, settings, NULL);
        if (r == -EINVAL)
                return CTL_EXIT_USAGE;
        if (r < 0)
                return ctl_append_error("apply", r);
        return ctl_call(c, m, NULL);
}

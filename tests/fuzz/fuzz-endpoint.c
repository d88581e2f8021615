/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The validators the D-Bus API runs on every argument, on arbitrary bytes: an address, a port
 * and a protocol, and a tunnel name. Whatever is accepted formats and parses back the same. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "contract/endpoint.h"
#include "contract/tunnel-name.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The next NUL-terminated field of buf[0..end), or "" when there is none. */
static char *next_field(char **p, char *end) {
        char *f = *p, *nul;

        if (f >= end)
                return (char *)"";
        nul = memchr(f, '\0', (size_t)(end - f));
        *p = nul ? nul + 1 : end;
        return f;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        char buf[256], text[128], *p = buf, *end, *addr, *proto, *name;
        Endpoint e, again;
        Error error = {};
        uint32_t port;

        /* Layout: 4 bytes of port, then "address\0protocol\0name". */
        if (size < 4 || size - 4 >= sizeof(buf))
                return 0;
        memcpy(&port, data, 4);
        memcpy(buf, data + 4, size - 4);
        buf[size - 4] = '\0';
        end = buf + (size - 4);
        addr = next_field(&p, end);
        proto = next_field(&p, end);
        name = next_field(&p, end);

        if (endpoint_parse(addr, port, proto, &e, &error) < 0) {
                /* Every refusal is put into words. */
                if (!error_is_set(&error))
                        abort();
        } else {
                char a[64], pr[8];
                unsigned q;

                if (endpoint_format(&e, text, sizeof(text)) < 0)
                        abort();
                if (sscanf(text, "%63s %u %7s", a, &q, pr) != 3 ||
                    endpoint_parse(a, q, pr, &again, &error) < 0 ||
                    endpoint_compare(&e, &again) != 0)
                        abort();
        }
        if (tunnel_name_validate(name, &error) >= 0 && (strlen(name) == 0 || strlen(name) > 15))
                abort();
        return 0;
}

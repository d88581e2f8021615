/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <json-c/json.h>
#include <stdio.h>

/* Human forms of values read off the bus (see json.h), shared by status and monitor. */

/* "198.51.100.7:51820/udp", "[2001:db8::1]:443/tcp". */
void format_endpoint(FILE *f, json_object *endpoint);

/* yes/no, numbers, strings as they are, lists joined by ", " ("(none)" when
 * empty), endpoints as above, anything else as JSON. */
void format_value(FILE *f, json_object *v);

/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <json-c/json.h>
#include <stdbool.h>
#include <stdio.h>
#include <systemd/sd-bus.h>

#include "macro.h"

DEFINE_FREEP(json_object, json_object_put)

/* Reads the next complete value of m, whatever its type, as JSON: a{sv} and
 * other string-keyed dicts become objects, other arrays and structs arrays,
 * and an endpoint (sqs) becomes {"address","port","protocol"} so that what
 * `status --json` prints is what `apply` reads. 0/-errno. */
int json_from_bus(sd_bus_message *m, json_object **ret);

/* One JSON text and a newline on f; pretty spreads it over lines. 0/-errno. */
int json_print(FILE *f, json_object *o, bool pretty);

/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>
#include <systemd/sd-event.h>

#include "macro.h"

/* Watches the nftables multicast group on a socket of its own and reports every change that
 * another process makes to our table: without the kernel's owner flag, this is what defends
 * the table. */
typedef struct TamperWatch TamperWatch;

/* 'what' describes the biggest change seen ("table deleted"), 'culprit' who made it
 * ("pid 123 (nft)"), both for logs and the Tampered signal. 'lost': the kernel dropped
 * notifications (what is then "events lost"), so the table may or may not have changed. */
typedef void (*tamper_handler_t)(const char *what, const char *culprit, bool lost, void *userdata);

/* Changes made through the socket with netlink port id 'self' are ours and not reported. */
int tamper_watch_new(sd_event *event, uint32_t self, tamper_handler_t handler, void *userdata,
                     TamperWatch **ret);
TamperWatch *tamper_watch_free(TamperWatch *m);
DEFINE_FREEP(TamperWatch, tamper_watch_free)

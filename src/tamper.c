/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <netinet/in.h>

#include <libmnl/libmnl.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "log.h"
#include "ruleset.h"
#include "tamper.h"

struct TamperWatch {
        struct mnl_socket *nl;
        sd_event_source *io;
        uint32_t self;
        tamper_handler_t handler;
        void *userdata;
};

TamperWatch *tamper_watch_free(TamperWatch *w) {
        if (!w)
                return NULL;
        sd_event_source_disable_unref(w->io);
        if (w->nl)
                mnl_socket_close(w->nl);
        free(w);
        return NULL;
}

/* Attribute 1 names the table in every nf_tables object message; attribute 2 (3 for chains)
 * names the object within it. */
#define ATTR_TABLE 1

static const char *attr_str(const struct nlmsghdr *nlh, uint16_t type) {
        const struct nlattr *a;

        mnl_attr_for_each (a, nlh, sizeof(struct nfgenmsg))
                if (mnl_attr_get_type(a) == type && mnl_attr_validate(a, MNL_TYPE_NUL_STRING) >= 0)
                        return mnl_attr_get_str(a);
        return NULL;
}

static void describe(const struct nlmsghdr *nlh, char *buf, size_t size) {
        const char *chain = attr_str(nlh, NFTA_RULE_CHAIN), *name = attr_str(nlh, NFTA_SET_NAME);

        switch (nlh->nlmsg_type & 0xff) {
        case NFT_MSG_DELTABLE: snprintf(buf, size, "table deleted"); break;
        case NFT_MSG_NEWTABLE: snprintf(buf, size, "table changed"); break;
        case NFT_MSG_NEWCHAIN:
                snprintf(buf, size, "chain %s changed", attr_str(nlh, NFTA_CHAIN_NAME) ?: "?");
                break;
        case NFT_MSG_DELCHAIN:
                snprintf(buf, size, "chain %s deleted", attr_str(nlh, NFTA_CHAIN_NAME) ?: "?");
                break;
        case NFT_MSG_NEWRULE: snprintf(buf, size, "rule added to chain %s", chain ?: "?"); break;
        case NFT_MSG_DELRULE:
                snprintf(buf, size, "rule deleted from chain %s", chain ?: "?");
                break;
        case NFT_MSG_NEWSET: snprintf(buf, size, "set %s added", name ?: "?"); break;
        case NFT_MSG_DELSET: snprintf(buf, size, "set %s deleted", name ?: "?"); break;
        case NFT_MSG_NEWSETELEM:
                snprintf(buf, size, "element added to set %s",
                         attr_str(nlh, NFTA_SET_ELEM_LIST_SET) ?: "?");
                break;
        case NFT_MSG_DELSETELEM:
                snprintf(buf, size, "element deleted from set %s",
                         attr_str(nlh, NFTA_SET_ELEM_LIST_SET) ?: "?");
                break;
        default: snprintf(buf, size, "object changed (message %u)", nlh->nlmsg_type & 0xff);
        }
}

typedef struct Scan {
        char what[128];
        char culprit[64];
        bool tampered;
        bool lost;
        int rank; /* of the change in 'what': the table over chains over the rest */
} Scan;

static int change_rank(uint16_t type) {
        switch (type & 0xff) {
        case NFT_MSG_DELTABLE:
        case NFT_MSG_NEWTABLE: return 3;
        case NFT_MSG_DELCHAIN:
        case NFT_MSG_NEWCHAIN: return 2;
        case NFT_MSG_DELSET:
        case NFT_MSG_NEWSET: return 1;
        default: return 0;
        }
}

static void scan_message(TamperWatch *w, const struct nlmsghdr *nlh, Scan *s) {
        const struct nfgenmsg *g = mnl_nlmsg_get_payload(nlh);
        const char *table;

        if ((nlh->nlmsg_type >> 8) != NFNL_SUBSYS_NFTABLES || nlh->nlmsg_pid == w->self)
                return;
        /* Each transaction ends with NEWGEN, which names the process that committed it. */
        if ((nlh->nlmsg_type & 0xff) == NFT_MSG_NEWGEN) {
                const struct nlattr *a;
                uint32_t pid = 0;
                const char *comm = "?";

                mnl_attr_for_each (a, nlh, sizeof(struct nfgenmsg)) {
                        if (mnl_attr_get_type(a) == NFTA_GEN_PROC_PID &&
                            mnl_attr_validate(a, MNL_TYPE_U32) >= 0)
                                pid = ntohl(mnl_attr_get_u32(a));
                        if (mnl_attr_get_type(a) == NFTA_GEN_PROC_NAME &&
                            mnl_attr_validate(a, MNL_TYPE_NUL_STRING) >= 0)
                                comm = mnl_attr_get_str(a);
                }
                if (s->tampered && !s->culprit[0])
                        snprintf(s->culprit, sizeof(s->culprit), "pid %u (%s)", pid, comm);
                return;
        }
        table = attr_str(nlh, ATTR_TABLE);
        if ((g->nfgen_family != NFPROTO_INET && g->nfgen_family != NFPROTO_NETDEV) || !table ||
            strcmp(table, TABLE_NAME) != 0)
                return;
        /* Deleting a table also reports each rule and chain in it: name the biggest change. */
        if (!s->tampered || change_rank(nlh->nlmsg_type) > s->rank) {
                describe(nlh, s->what, sizeof(s->what));
                s->rank = change_rank(nlh->nlmsg_type);
        }
        s->tampered = true;
}

static int on_readable(sd_event_source *source, int fd, uint32_t revents, void *userdata) {
        static uint8_t buf[64 * 1024];
        TamperWatch *w = userdata;
        Scan s = {};

        (void)source, (void)revents;
        /* Take everything queued: one transaction is many messages; act once on all of it. */
        for (;;) {
                ssize_t n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
                int len;

                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        if (errno == ENOBUFS) {
                                s.tampered = s.lost = true;
                                snprintf(s.what, sizeof(s.what), "events lost");
                                continue;
                        }
                        break; /* EAGAIN: drained */
                }
                len = (int)n;
                for (const struct nlmsghdr *nlh = (const void *)buf; mnl_nlmsg_ok(nlh, len);
                     nlh = mnl_nlmsg_next(nlh, &len))
                        scan_message(w, nlh, &s);
        }
        if (s.tampered)
                w->handler(s.what, s.culprit[0] ? s.culprit : "unknown process", s.lost,
                           w->userdata);
        return 0;
}

int tamper_watch_new(sd_event *event, uint32_t self, tamper_handler_t handler, void *userdata,
                     TamperWatch **ret) {
        _cleanup_(tamper_watch_freep) TamperWatch *w = NULL;
        int group = NFNLGRP_NFTABLES, size = 4 * 1024 * 1024, r;

        w = calloc(1, sizeof(TamperWatch));
        if (!w)
                return -ENOMEM;
        w->self = self;
        w->handler = handler;
        w->userdata = userdata;

        w->nl = mnl_socket_open2(NETLINK_NETFILTER, SOCK_CLOEXEC | SOCK_NONBLOCK);
        if (!w->nl)
                return -errno;
        if (mnl_socket_bind(w->nl, 0, MNL_SOCKET_AUTOPID) < 0)
                return -errno;
        if (mnl_socket_setsockopt(w->nl, NETLINK_ADD_MEMBERSHIP, &group, sizeof(group)) < 0)
                return -errno;
        /* A flush of a large table is a burst of events: make room so that few are lost. */
        if (setsockopt(mnl_socket_get_fd(w->nl), SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof(size)) <
            0)
                (void)setsockopt(mnl_socket_get_fd(w->nl), SOL_SOCKET, SO_RCVBUF, &size,
                                 sizeof(size));

        r = sd_event_add_io(event, &w->io, mnl_socket_get_fd(w->nl), EPOLLIN, on_readable, w);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(w);
        return 0;
}

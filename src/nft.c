/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Before any linux/ header, so that glibc guards against their duplicate definitions. */
#include <netinet/in.h>

#include <libmnl/libmnl.h>
#include <libnftnl/object.h>
#include <libnftnl/table.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "nft.h"
#include "ruleset.h"

/* Enough for sending a batch at the endpoint limit in one go, and for the kernel's answers to a
 * batch it refuses message by message. */
#define NFT_SOCKET_BUFFER (16 * 1024 * 1024)

struct Nft {
        struct mnl_socket *nl;
        uint32_t portid;
        uint32_t seq;
};

Nft *nft_free(Nft *nft) {
        if (!nft)
                return NULL;
        if (nft->nl)
                mnl_socket_close(nft->nl);
        free(nft);
        return NULL;
}

int nft_open(Nft **ret) {
        _cleanup_(nft_freep) Nft *nft = NULL;
        int one = 1, size = NFT_SOCKET_BUFFER;

        nft = calloc(1, sizeof(Nft));
        if (!nft)
                return -ENOMEM;
        nft->nl = mnl_socket_open2(NETLINK_NETFILTER, SOCK_CLOEXEC);
        if (!nft->nl)
                return -errno;
        if (mnl_socket_bind(nft->nl, 0, MNL_SOCKET_AUTOPID) < 0)
                return -errno;
        nft->portid = mnl_socket_get_portid(nft->nl);
        nft->seq = (uint32_t)time(NULL);

        /* ACKs carry only the header, not a copy of each (possibly large) message; errors carry
         * the kernel's text when it gives one. */
        (void)mnl_socket_setsockopt(nft->nl, NETLINK_CAP_ACK, &one, sizeof(one));
        (void)mnl_socket_setsockopt(nft->nl, NETLINK_EXT_ACK, &one, sizeof(one));
        /* The FORCE variants pass the sysctl caps; we hold CAP_NET_ADMIN anyway. */
        if (setsockopt(mnl_socket_get_fd(nft->nl), SOL_SOCKET, SO_SNDBUFFORCE, &size,
                       sizeof(size)) < 0)
                (void)setsockopt(mnl_socket_get_fd(nft->nl), SOL_SOCKET, SO_SNDBUF, &size,
                                 sizeof(size));
        if (setsockopt(mnl_socket_get_fd(nft->nl), SOL_SOCKET, SO_RCVBUFFORCE, &size,
                       sizeof(size)) < 0)
                (void)setsockopt(mnl_socket_get_fd(nft->nl), SOL_SOCKET, SO_RCVBUF, &size,
                                 sizeof(size));

        *ret = TAKE_PTR(nft);
        return 0;
}

uint32_t nft_portid(const Nft *nft) {
        return nft->portid;
}

uint32_t nft_next_seq(const Nft *nft) {
        return nft->seq;
}

static const char *message_name(uint16_t type) {
        switch (type & 0xff) {
        case NFT_MSG_NEWTABLE: return "NEWTABLE";
        case NFT_MSG_DELTABLE: return "DELTABLE";
        case NFT_MSG_NEWCHAIN: return "NEWCHAIN";
        case NFT_MSG_NEWRULE: return "NEWRULE";
        case NFT_MSG_NEWSET: return "NEWSET";
        case NFT_MSG_NEWSETELEM: return "NEWSETELEM";
        case NFT_MSG_DELSETELEM: return "DELSETELEM";
        case NFT_MSG_NEWOBJ: return "NEWOBJ";
        default: return "message";
        }
}

/* The kernel's own words, from the extended ACK, if it gave any. */
static const char *extack_message(const struct nlmsghdr *nlh) {
        const struct nlmsgerr *err = mnl_nlmsg_get_payload(nlh);
        const struct nlattr *a;
        size_t offset = sizeof(*err);

        if (!(nlh->nlmsg_flags & NLM_F_ACK_TLVS))
                return NULL;
        if (!(nlh->nlmsg_flags & NLM_F_CAPPED))
                offset += err->msg.nlmsg_len - sizeof(struct nlmsghdr);
        mnl_attr_for_each (a, nlh, offset)
                if (mnl_attr_get_type(a) == NLMSGERR_ATTR_MSG &&
                    mnl_attr_validate(a, MNL_TYPE_NUL_STRING) >= 0)
                        return mnl_attr_get_str(a);
        return NULL;
}

/* Reads what the kernel queued for us: it answers the whole batch before sendmsg() returns. */
static int read_acks(Nft *nft, const Batch *b, Error *error) {
        static uint8_t buf[256 * 1024];
        size_t acks = 0;
        int first_error = 0;

        for (;;) {
                ssize_t n = recv(mnl_socket_get_fd(nft->nl), buf, sizeof(buf), MSG_DONTWAIT);
                const struct nlmsghdr *nlh;
                int len;

                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        if (errno == EAGAIN)
                                break;
                        /* ENOBUFS: ACKs were lost, we cannot know which messages failed. */
                        return error_set(error, ERROR_KERNEL, -errno,
                                         "reading the kernel's answers: %m");
                }
                len = (int)n;
                for (nlh = (const struct nlmsghdr *)buf; mnl_nlmsg_ok(nlh, len);
                     nlh = mnl_nlmsg_next(nlh, &len)) {
                        const struct nlmsgerr *err;

                        if (nlh->nlmsg_type != NLMSG_ERROR)
                                continue;
                        if (nlh->nlmsg_seq < b->seq_first || nlh->nlmsg_seq >= b->seq)
                                continue; /* a stale answer to an earlier request */
                        acks++;
                        err = mnl_nlmsg_get_payload(nlh);
                        if (err->error != 0 && first_error == 0) {
                                const char *text = extack_message(nlh);

                                first_error = err->error;
                                error_set(error, ERROR_KERNEL, first_error,
                                          "kernel refused %s #%u: %s%s%s",
                                          message_name(err->msg.nlmsg_type),
                                          nlh->nlmsg_seq - b->seq_first, strerror(-err->error),
                                          text ? ": " : "", text ?: "");
                        }
                }
        }
        if (first_error < 0)
                return first_error;
        if (acks != b->n_acks)
                return error_set(error, ERROR_KERNEL, -EPROTO,
                                 "kernel answered %zu of %zu messages", acks, b->n_acks);
        return 0;
}

int nft_commit(Nft *nft, const Batch *b, Error *error) {
        ssize_t n;

        if (b->seq_first != nft->seq)
                return error_set(error, ERROR_KERNEL, -ESTALE,
                                 "the batch was built for another request");
        nft->seq = b->seq;

        n = mnl_socket_sendto(nft->nl, b->buf, b->size);
        if (n < 0)
                return error_set(error, ERROR_KERNEL, -errno, "sending the nftables batch: %m");
        return read_acks(nft, b, error);
}

/* A GET request (or a dump); cb parses each answer. */
static int nft_request(Nft *nft, uint16_t family, uint16_t type, uint16_t flags, mnl_cb_t cb,
                       void *userdata, void (*build)(struct nlmsghdr *nlh, const void *arg),
                       const void *arg) {
        uint8_t buf[64 * 1024];
        struct nlmsghdr *nlh;
        uint32_t seq = nft->seq++;
        ssize_t n;

        /* libnftnl leaves attribute padding as it finds it: start from zeroes. */
        memset(buf, 0, MNL_NLMSG_HDRLEN + 1024);
        nlh = nftnl_nlmsg_build_hdr((char *)buf, type, family, flags, seq);
        build(nlh, arg);
        if (mnl_socket_sendto(nft->nl, nlh, nlh->nlmsg_len) < 0)
                return -errno;
        for (;;) {
                int r;

                n = mnl_socket_recvfrom(nft->nl, buf, sizeof(buf));
                if (n < 0)
                        return -errno;
                r = mnl_cb_run(buf, (size_t)n, seq, nft->portid, cb, userdata);
                if (r < 0)
                        return -errno;
                if (r == MNL_CB_STOP)
                        return 0;
        }
}

static int nft_query(Nft *nft, uint16_t family, uint16_t type, mnl_cb_t cb, void *userdata,
                     void (*build)(struct nlmsghdr *nlh, const void *arg)) {
        return nft_request(nft, family, type, NLM_F_ACK, cb, userdata, build, NULL);
}

/* Attribute 1 names the table in every nf_tables object request; 2 names a set. */
static void build_dump(struct nlmsghdr *nlh, const void *arg) {
        mnl_attr_put_strz(nlh, 1, TABLE_NAME);
        if (arg)
                mnl_attr_put_strz(nlh, 2, arg);
}

int nft_dump(Nft *nft, uint16_t family, uint16_t type, const char *set, mnl_cb_t cb,
             void *userdata) {
        return nft_request(nft, family, type, NLM_F_DUMP, cb, userdata, build_dump, set);
}

static void build_get_table(struct nlmsghdr *nlh, const void *arg) {
        (void)arg;
        mnl_attr_put_strz(nlh, NFTA_TABLE_NAME, TABLE_NAME);
}

/* parse_table() and parse_counter() have one shape: libnftnl has a type, an allocator and
 * getters of its own for each kind of object. */
static int parse_table(const struct nlmsghdr *nlh, void *userdata) {
        TableInfo *info = userdata;
        struct nftnl_table *t = nftnl_table_alloc();

        if (!t)
                return MNL_CB_ERROR;
        if (nftnl_table_nlmsg_parse(nlh, t) >= 0) {
                info->flags = nftnl_table_get_u32(t, NFTNL_TABLE_FLAGS);
                if (nftnl_table_is_set(t, NFTNL_TABLE_OWNER))
                        info->owner = nftnl_table_get_u32(t, NFTNL_TABLE_OWNER);
        }
        nftnl_table_free(t);
        return MNL_CB_OK;
}

int nft_get_table(Nft *nft, uint16_t family, TableInfo *ret) {
        TableInfo info = {};
        int r;

        r = nft_query(nft, family, NFT_MSG_GETTABLE, parse_table, &info, build_get_table);
        if (r < 0)
                return r;
        *ret = info;
        return 0;
}

static void build_get_counter(struct nlmsghdr *nlh, const void *arg) {
        (void)arg;
        mnl_attr_put_strz(nlh, NFTA_OBJ_TABLE, TABLE_NAME);
        mnl_attr_put_strz(nlh, NFTA_OBJ_NAME, COUNTER_NAME);
        mnl_attr_put_u32(nlh, NFTA_OBJ_TYPE, htonl(NFT_OBJECT_COUNTER));
}

typedef struct Counter {
        uint64_t packets, bytes;
} Counter;

static int parse_counter(const struct nlmsghdr *nlh, void *userdata) {
        Counter *c = userdata;
        struct nftnl_obj *o = nftnl_obj_alloc();

        if (!o)
                return MNL_CB_ERROR;
        if (nftnl_obj_nlmsg_parse(nlh, o) >= 0) {
                c->packets = nftnl_obj_get_u64(o, NFTNL_OBJ_CTR_PKTS);
                c->bytes = nftnl_obj_get_u64(o, NFTNL_OBJ_CTR_BYTES);
        }
        nftnl_obj_free(o);
        return MNL_CB_OK;
}

int nft_get_counter(Nft *nft, uint16_t family, uint64_t *ret_packets, uint64_t *ret_bytes) {
        Counter c = {};
        int r;

        r = nft_query(nft, family, NFT_MSG_GETOBJ, parse_counter, &c, build_get_counter);
        if (r < 0)
                return r;
        *ret_packets = c.packets;
        *ret_bytes = c.bytes;
        return 0;
}

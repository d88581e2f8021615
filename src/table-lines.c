/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <netinet/in.h>

#include <libmnl/libmnl.h>
#include <libnftnl/chain.h>
#include <libnftnl/rule.h>
#include <libnftnl/set.h>
#include <libnftnl/table.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "ruleset.h"
#include "table-lines.h"

DEFINE_FREEP(struct nftnl_chain, nftnl_chain_free)
DEFINE_FREEP(struct nftnl_rule, nftnl_rule_free)

void lines_done(Lines *l) {
        if (!l)
                return;
        for (size_t i = 0; i < l->n; i++)
                free(l->v[i]);
        free(l->v);
        *l = (Lines){};
}

/* Doubling: a table of 65,536 elements is read line by line, and growing by one would copy
 * the array each time (realloc moves it under ASan and often under glibc). */
static int lines_push(Lines *l, char *line) {
        if (!line)
                return -ENOMEM;
        if (l->n == l->allocated) {
                size_t m = l->allocated ? 2 * l->allocated : 64;
                char **v = reallocarray(l->v, m, sizeof(char *));

                if (!v) {
                        free(line);
                        return -ENOMEM;
                }
                l->v = v;
                l->allocated = m;
        }
        l->v[l->n++] = line;
        return 0;
}

static int lines_pushf(Lines *l, const char *fmt, ...) _printf_(2, 3);
static int lines_pushf(Lines *l, const char *fmt, ...) {
        va_list ap;
        char *s;
        int r;

        va_start(ap, fmt);
        r = vasprintf(&s, fmt, ap);
        va_end(ap);
        return lines_push(l, r < 0 ? NULL : s);
}

static int add_table(Lines *l, const struct nlmsghdr *nlh) {
        struct nftnl_table *t = nftnl_table_alloc();
        int r = -EINVAL;

        if (!t)
                return -ENOMEM;
        if (nftnl_table_nlmsg_parse(nlh, t) >= 0 &&
            strcmp(nftnl_table_get_str(t, NFTNL_TABLE_NAME), TABLE_NAME) == 0)
                r = lines_pushf(l, "table flags 0x%x", nftnl_table_get_u32(t, NFTNL_TABLE_FLAGS));
        else
                r = 0;
        nftnl_table_free(t);
        return r;
}

static const char *verdict_name(uint32_t policy) {
        return policy == NF_DROP ? "drop" : policy == NF_ACCEPT ? "accept" : "other";
}

static int add_chain(Lines *l, const struct nlmsghdr *nlh) {
        _cleanup_(nftnl_chain_freep) struct nftnl_chain *c = nftnl_chain_alloc();
        const char *name;

        if (!c)
                return -ENOMEM;
        if (nftnl_chain_nlmsg_parse(nlh, c) < 0 ||
            strcmp(nftnl_chain_get_str(c, NFTNL_CHAIN_TABLE), TABLE_NAME) != 0)
                return 0;
        name = nftnl_chain_get_str(c, NFTNL_CHAIN_NAME);
        if (nftnl_chain_is_set(c, NFTNL_CHAIN_HOOKNUM))
                return lines_pushf(l, "chain %s type %s hook %u priority %d policy %s%s%s", name,
                                   nftnl_chain_get_str(c, NFTNL_CHAIN_TYPE),
                                   nftnl_chain_get_u32(c, NFTNL_CHAIN_HOOKNUM),
                                   nftnl_chain_get_s32(c, NFTNL_CHAIN_PRIO),
                                   verdict_name(nftnl_chain_get_u32(c, NFTNL_CHAIN_POLICY)),
                                   nftnl_chain_is_set(c, NFTNL_CHAIN_DEV) ? " device " : "",
                                   nftnl_chain_is_set(c, NFTNL_CHAIN_DEV)
                                           ? nftnl_chain_get_str(c, NFTNL_CHAIN_DEV)
                                           : "");
        return lines_pushf(l, "chain %s", name);
}

/* libnftnl's rendering of the expressions, without its header line (family, table, handle). */
static int add_rule(Lines *l, const struct nlmsghdr *nlh) {
        _cleanup_(nftnl_rule_freep) struct nftnl_rule *rule = nftnl_rule_alloc();
        char buf[4096], *exprs, *p;

        if (!rule)
                return -ENOMEM;
        if (nftnl_rule_nlmsg_parse(nlh, rule) < 0 ||
            strcmp(nftnl_rule_get_str(rule, NFTNL_RULE_TABLE), TABLE_NAME) != 0)
                return 0;
        nftnl_rule_snprintf(buf, sizeof(buf), rule, NFTNL_OUTPUT_DEFAULT, 0);
        exprs = strchr(buf, '\n');
        exprs = exprs ? exprs + 1 : buf;
        for (p = exprs; *p; p++)
                if (*p == '\n')
                        *p = ' ';
        return lines_pushf(l, "rule %s %s", nftnl_rule_get_str(rule, NFTNL_RULE_CHAIN), exprs);
}

static int add_set(Lines *l, const struct nlmsghdr *nlh) {
        struct nftnl_set *s = nftnl_set_alloc();
        int r = 0;

        if (!s)
                return -ENOMEM;
        if (nftnl_set_nlmsg_parse(nlh, s) >= 0 &&
            strcmp(nftnl_set_get_str(s, NFTNL_SET_TABLE), TABLE_NAME) == 0)
                r = lines_pushf(l, "set %s key %u/%u flags 0x%x",
                                nftnl_set_get_str(s, NFTNL_SET_NAME),
                                nftnl_set_get_u32(s, NFTNL_SET_KEY_TYPE),
                                nftnl_set_get_u32(s, NFTNL_SET_KEY_LEN),
                                nftnl_set_get_u32(s, NFTNL_SET_FLAGS) & NFT_SET_INTERVAL);
        nftnl_set_free(s);
        return r;
}

static int add_element(Lines *l, const char *set, const struct nlattr *elem) {
        const struct nlattr *a, *d;
        char hex[2 * 64 + 1] = "";
        uint32_t flags = 0;

        mnl_attr_for_each_nested (a, elem) {
                if (mnl_attr_get_type(a) == NFTA_SET_ELEM_FLAGS &&
                    mnl_attr_validate(a, MNL_TYPE_U32) >= 0)
                        flags = ntohl(mnl_attr_get_u32(a));
                if (mnl_attr_get_type(a) != NFTA_SET_ELEM_KEY)
                        continue;
                mnl_attr_for_each_nested (d, a) {
                        const uint8_t *p = mnl_attr_get_payload(d);
                        uint16_t len = mnl_attr_get_payload_len(d);

                        if (mnl_attr_get_type(d) != NFTA_DATA_VALUE || len > 64)
                                continue;
                        for (uint16_t i = 0; i < len; i++)
                                snprintf(hex + 2 * i, 3, "%02x", p[i]);
                }
        }
        return lines_pushf(l, "element %s %s%s", set, hex,
                           flags & NFT_SET_ELEM_INTERVAL_END ? " end" : "");
}

static int add_elements(Lines *l, const struct nlmsghdr *nlh) {
        const char *table = NULL, *set = NULL;
        const struct nlattr *a, *e;
        int r;

        mnl_attr_for_each (a, nlh, sizeof(struct nfgenmsg)) {
                if (mnl_attr_validate(a, MNL_TYPE_NUL_STRING) >= 0) {
                        if (mnl_attr_get_type(a) == NFTA_SET_ELEM_LIST_TABLE)
                                table = mnl_attr_get_str(a);
                        if (mnl_attr_get_type(a) == NFTA_SET_ELEM_LIST_SET)
                                set = mnl_attr_get_str(a);
                }
                if (mnl_attr_get_type(a) != NFTA_SET_ELEM_LIST_ELEMENTS || !table || !set ||
                    strcmp(table, TABLE_NAME) != 0)
                        continue;
                mnl_attr_for_each_nested (e, a) {
                        r = add_element(l, set, e);
                        if (r < 0)
                                return r;
                }
        }
        return 0;
}

static int add_object(Lines *l, const struct nlmsghdr *nlh) {
        const struct nlattr *a;
        const char *table = NULL, *name = NULL;

        mnl_attr_for_each (a, nlh, sizeof(struct nfgenmsg)) {
                if (mnl_attr_validate(a, MNL_TYPE_NUL_STRING) < 0)
                        continue;
                if (mnl_attr_get_type(a) == NFTA_OBJ_TABLE)
                        table = mnl_attr_get_str(a);
                if (mnl_attr_get_type(a) == NFTA_OBJ_NAME)
                        name = mnl_attr_get_str(a);
        }
        if (!table || !name || strcmp(table, TABLE_NAME) != 0)
                return 0;
        /* Its values move with traffic: only its presence counts. */
        return lines_pushf(l, "counter %s", name);
}

int lines_add_message(Lines *l, const struct nlmsghdr *nlh) {
        const struct nfgenmsg *g = mnl_nlmsg_get_payload(nlh);

        size_t first = l->n;
        int r;

        if ((nlh->nlmsg_type >> 8) != NFNL_SUBSYS_NFTABLES ||
            (g->nfgen_family != NFPROTO_INET && g->nfgen_family != NFPROTO_NETDEV))
                return 0;
        switch (nlh->nlmsg_type & 0xff) {
        case NFT_MSG_NEWTABLE: r = add_table(l, nlh); break;
        case NFT_MSG_NEWCHAIN: r = add_chain(l, nlh); break;
        case NFT_MSG_NEWRULE: r = add_rule(l, nlh); break;
        case NFT_MSG_NEWSET: r = add_set(l, nlh); break;
        case NFT_MSG_NEWSETELEM: r = add_elements(l, nlh); break;
        case NFT_MSG_NEWOBJ: r = add_object(l, nlh); break;
        default: return 0;
        }
        /* The frames table's objects share names with the inet table's: say which is which. */
        for (size_t i = first; r >= 0 && g->nfgen_family == NFPROTO_NETDEV && i < l->n; i++) {
                char *line;

                if (asprintf(&line, "netdev %s", l->v[i]) < 0)
                        return -ENOMEM;
                free(l->v[i]);
                l->v[i] = line;
        }
        return r;
}

int lines_add_batch(Lines *l, const Batch *b) {
        for (size_t off = 0; off < b->size;) {
                const struct nlmsghdr *nlh = (const void *)(b->buf + off);
                int r = lines_add_message(l, nlh);

                if (r < 0)
                        return r;
                off += MNL_ALIGN(nlh->nlmsg_len);
        }
        return 0;
}

static int compare_lines(const void *a, const void *b) {
        return strcmp(*(char *const *)a, *(char *const *)b);
}

void lines_sort(Lines *l) {
        if (l->n > 0)
                qsort(l->v, l->n, sizeof(char *), compare_lines);
}

int lines_diff(const Lines *want, const Lines *have, Lines *missing, Lines *extra) {
        size_t i = 0, j = 0;
        int r = 0;

        while (r >= 0 && (i < want->n || j < have->n)) {
                int c = i >= want->n ? 1 : j >= have->n ? -1 : strcmp(want->v[i], have->v[j]);

                if (c == 0)
                        i++, j++;
                else if (c < 0)
                        r = lines_push(missing, strdup(want->v[i++]));
                else
                        r = lines_push(extra, strdup(have->v[j++]));
        }
        return r;
}

/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* ks-bench: the timing half of bench/run.
 *
 * D-Bus round trips are timed from one long-lived sd-bus connection (a busctl process per call
 * would time busctl's start-up, not the daemon). Kernel-side events (a rule deleted, the table
 * restored) are timed with nfnetlink on sockets of our own, processes from fork() to exit or to
 * READY=1. Every command prints "key value" lines on stdout (times in microseconds); progress
 * and errors go to stderr.
 *
 * Safety: ks-bench runs only in a named network namespace (--netns NAME, entered with setns()),
 * never in the machine's own; bench/run creates the namespaces and removes them. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1 /* setns() */
#endif
#include <netinet/in.h>

#include <arpa/inet.h>
#include <dirent.h>
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <libmnl/libmnl.h>
#include <libnftnl/rule.h>
#include <limits.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/rtnetlink.h>
#include <math.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <systemd/sd-bus.h>
#include <time.h>
#include <unistd.h>

#include "killswitchd/bus.h"

#define TABLE "killswitchd"
#define CALL_TIMEOUT_USEC (120ULL * 1000 * 1000)
#define WAIT_TIMEOUT_NS (5ULL * 1000 * 1000 * 1000)

static const char *arg_label = "x";
static const char *arg_tunnel = "wg0";
static unsigned arg_count = 1;
static unsigned arg_endpoints = 1;
static unsigned arg_base;
static bool arg_alternate = true;
static bool arg_rebuild;
static bool arg_delete_table;
static bool arg_skip_base;
static unsigned arg_max_seconds;
static const char *arg_dst;
static unsigned arg_port, arg_rate = 20000, arg_size = 64;
static pid_t arg_also_pid;
static bool arg_quiet_child = true;
static const char *arg_expect_error;
static const char *arg_ifname;
static const char *arg_chain = "output";
static const char *arg_raw;
static const char *arg_netns;
static const char *arg_versus_netns;
static pid_t arg_daemon_pid;
static unsigned arg_pause_ms = 20;
static unsigned arg_timeout_ms = 1000;
static const char *arg_dir;
static const char *arg_file;
static char **arg_extra;
static size_t n_extra;

/* ---- time and statistics ---- */

static uint64_t now_ns(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static void sleep_ms(unsigned ms) {
        struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};

        while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
                ;
}

/* --max-seconds: stop a loop early (after at least one round) rather than run for ever when
 * the daemon is slow; the sample count then says how many rounds were done. */
static bool over_budget(uint64_t start, unsigned done) {
        if (arg_max_seconds == 0 || done == 0 || now_ns() - start < arg_max_seconds * 1000000000ULL)
                return false;
        fprintf(stderr, "ks-bench: %s: stopped after %u of %u rounds (--max-seconds %u)\n",
                arg_label, done, arg_count, arg_max_seconds);
        printf("%s.budget_stop %u\n", arg_label, done);
        return true;
}

typedef struct Samples {
        double *v; /* microseconds */
        size_t n, allocated;
} Samples;

static void samples_add(Samples *s, uint64_t ns) {
        if (s->n == s->allocated) {
                s->allocated = s->allocated ? 2 * s->allocated : 64;
                s->v = realloc(s->v, s->allocated * sizeof(double));
                if (!s->v) {
                        perror("realloc");
                        exit(EXIT_FAILURE);
                }
        }
        s->v[s->n++] = (double)ns / 1000.0;
}

static int compare_double(const void *a, const void *b) {
        double x = *(const double *)a, y = *(const double *)b;

        return x < y ? -1 : x > y;
}

/* Nearest rank: the smallest sample with at least q of all samples at or below it. */
static double quantile(const Samples *sorted, double q) {
        size_t rank = (size_t)ceil(q * (double)sorted->n);

        if (rank < 1)
                rank = 1;
        return sorted->v[rank - 1];
}

static void samples_print(Samples *s, const char *label) {
        double sum = 0;

        if (s->n == 0) {
                printf("%s.n 0\n", label);
                return;
        }
        if (arg_raw) {
                FILE *f = fopen(arg_raw, "a");

                if (f) {
                        for (size_t i = 0; i < s->n; i++)
                                fprintf(f, "%s %.3f\n", label, s->v[i]);
                        fclose(f);
                }
        }
        qsort(s->v, s->n, sizeof(double), compare_double);
        for (size_t i = 0; i < s->n; i++)
                sum += s->v[i];
        /* The median of an even count is the mean of the two middle samples. */
        printf("%s.n %zu\n", label, s->n);
        printf("%s.median_us %.1f\n", label,
               s->n % 2 ? s->v[s->n / 2] : (s->v[s->n / 2 - 1] + s->v[s->n / 2]) / 2);
        printf("%s.p99_us %.1f\n", label, quantile(s, 0.99));
        printf("%s.mean_us %.1f\n", label, sum / (double)s->n);
        printf("%s.min_us %.1f\n", label, s->v[0]);
        printf("%s.max_us %.1f\n", label, s->v[s->n - 1]);
        fflush(stdout);
}

static _Noreturn void die(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static _Noreturn void die(const char *fmt, ...) {
        int saved = errno; /* for %m */
        va_list ap;

        fputs("ks-bench: ", stderr);
        errno = saved;
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fputc('\n', stderr);
        exit(EXIT_FAILURE);
}

/* Never in the machine's own network namespace: everything runs in a namespace that bench/run
 * created (--netns NAME, as `ip netns add` names it) and will remove. */
static void enter_netns(const char *name) {
        struct stat self, want;
        char path[PATH_MAX];
        int fd;

        if (!name || !*name || strchr(name, '/'))
                die("--netns NAME is required: the network namespace (ip netns) to run in");
        snprintf(path, sizeof(path), "/run/netns/%s", name);
        fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                die("network namespace %s: %m", name);
        if (setns(fd, CLONE_NEWNET) < 0)
                die("entering network namespace %s: %m", name);
        if (fstat(fd, &want) < 0 || stat("/proc/self/ns/net", &self) < 0)
                die("checking the network namespace: %m");
        if (self.st_ino != want.st_ino || self.st_dev != want.st_dev)
                die("not in network namespace %s after setns()", name);
        close(fd);
}

/* ---- processes ---- */

static int open_netns(const char *name) {
        char path[PATH_MAX];
        int fd;

        snprintf(path, sizeof(path), "/run/netns/%s", name);
        fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                die("network namespace %s: %m", name);
        return fd;
}

/* netns_fd >= 0: the child runs in that network namespace instead of ours. */
static pid_t spawn(char **argv, int netns_fd) {
        pid_t pid = fork();

        if (pid < 0)
                die("fork: %m");
        if (pid == 0) {
                if (arg_quiet_child) {
                        int fd = open("/dev/null", O_WRONLY | O_CLOEXEC);

                        if (fd >= 0) {
                                dup2(fd, STDOUT_FILENO);
                                dup2(fd, STDERR_FILENO);
                        }
                }
                if (netns_fd >= 0 && setns(netns_fd, CLONE_NEWNET) < 0)
                        _exit(126);
                execvp(argv[0], argv);
                _exit(127);
        }
        return pid;
}

/* fork → exit, one run; dies unless it exits 0. Returns nanoseconds; *maxrss grows. */
static uint64_t run_once(char **argv, int netns_fd, long *maxrss) {
        struct rusage ru;
        uint64_t t0 = now_ns(), ns;
        int status;
        pid_t pid = spawn(argv, netns_fd);

        if (wait4(pid, &status, 0, &ru) < 0)
                die("wait4: %m");
        ns = now_ns() - t0;
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
                die("%s exited with status %d", argv[0],
                    WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
        if (ru.ru_maxrss > *maxrss)
                *maxrss = ru.ru_maxrss;
        return ns;
}

static void print_maxrss(const char *label, long maxrss) {
        printf("%s.maxrss_kib %ld\n", label, maxrss);
}

/* Two commands given as "A ... :: B ...": split in place; *b is NULL without "::". */
static void split_commands(char **argv, char ***b) {
        *b = NULL;
        for (char **p = argv; *p; p++)
                if (strcmp(*p, "::") == 0) {
                        *p = NULL;
                        *b = p + 1;
                        if (!**b)
                                die("nothing after \"::\"");
                        return;
                }
}

/* ---- D-Bus ---- */

static sd_bus *bus_open(void) {
        sd_bus *bus = NULL;
        int r = sd_bus_open_system(&bus);

        if (r < 0)
                die("cannot connect to the system bus (DBUS_SYSTEM_BUS_ADDRESS=%s): %s",
                    getenv("DBUS_SYSTEM_BUS_ADDRESS") ?: "", strerror(-r));
        return bus;
}

static void check(int r, const char *what) {
        if (r < 0)
                die("%s: %s", what, strerror(-r));
}

/* The i-th generated endpoint: 198.18.0.0/15 (RFC 2544, benchmarking) has room for 131072. */
static void filler_address(unsigned i, char buf[static INET_ADDRSTRLEN]) {
        struct in_addr a = {.s_addr = htonl((198u << 24 | 18u << 16) + i)};

        inet_ntop(AF_INET, &a, buf, INET_ADDRSTRLEN);
}

/* "ADDR:PORT:PROTO" (IPv4) for --extra. */
static void parse_extra(const char *s, char *addr, size_t size, uint16_t *port, char *proto) {
        const char *p2 = strrchr(s, ':'), *p1;

        if (!p2 || p2 == s)
                die("--extra %s: want ADDR:PORT:PROTO", s);
        for (p1 = p2 - 1; p1 > s && *p1 != ':'; p1--)
                ;
        if (*p1 != ':' || (size_t)(p1 - s) >= size)
                die("--extra %s: want ADDR:PORT:PROTO", s);
        memcpy(addr, s, (size_t)(p1 - s));
        addr[p1 - s] = 0;
        *port = (uint16_t)atoi(p1 + 1);
        snprintf(proto, 4, "%s", p2 + 1);
}

/* Apply {Enabled: true, Tunnels: [tunnel], Endpoints: n generated + the extras}; the generated
 * endpoints use port 51820 + variant, so alternating variants changes the table every time.
 * With --rebuild, AllowLan = variant too: a change of rules, for which the daemon builds a new
 * table, where a change of endpoints alone changes only the set's elements. */
static sd_bus_message *apply_message(sd_bus *bus, unsigned n, unsigned variant) {
        sd_bus_message *m = NULL;
        char a[INET_ADDRSTRLEN];

        check(sd_bus_message_new_method_call(bus, &m, KS_BUS_NAME, KS_BUS_PATH, KS_BUS_INTERFACE,
                                             "Apply"),
              "new Apply");
        check(sd_bus_message_open_container(m, 'a', "{sv}"), "append");
        check(sd_bus_message_append(m, "{sv}", "Enabled", "b", 1), "append");
        if (arg_rebuild)
                check(sd_bus_message_append(m, "{sv}", "AllowLan", "b", (int)(variant & 1)),
                      "append");
        check(sd_bus_message_append(m, "{sv}", "Tunnels", "as", 1, arg_tunnel), "append");
        check(sd_bus_message_open_container(m, 'e', "sv"), "append");
        check(sd_bus_message_append(m, "s", "Endpoints"), "append");
        check(sd_bus_message_open_container(m, 'v', "a(sqs)"), "append");
        check(sd_bus_message_open_container(m, 'a', "(sqs)"), "append");
        for (unsigned i = 0; i < n; i++) {
                filler_address(i, a);
                check(sd_bus_message_append(m, "(sqs)", a, (uint16_t)(51820 + variant), "udp"),
                      "append");
        }
        for (size_t i = 0; i < n_extra; i++) {
                char addr[INET6_ADDRSTRLEN], proto[4];
                uint16_t port;

                parse_extra(arg_extra[i], addr, sizeof(addr), &port, proto);
                check(sd_bus_message_append(m, "(sqs)", addr, port, proto), "append");
        }
        check(sd_bus_message_close_container(m), "append");
        check(sd_bus_message_close_container(m), "append");
        check(sd_bus_message_close_container(m), "append");
        check(sd_bus_message_close_container(m), "append");
        return m;
}

/* One call, timed from send to reply; the message is built beforehand. */
static int timed_call(sd_bus *bus, sd_bus_message *m, uint64_t *ret_ns, sd_bus_error *error) {
        sd_bus_message *reply = NULL;
        uint64_t t0 = now_ns();
        int r = sd_bus_call(bus, m, CALL_TIMEOUT_USEC, error, &reply);

        *ret_ns = now_ns() - t0;
        sd_bus_message_unref(reply);
        return r;
}

static void call_ok(int r, const sd_bus_error *e, const char *what) {
        if (r < 0)
                die("%s failed: %s: %s", what, e->name ?: strerror(-r), e->message ?: "");
}

/* Apply, --count times. With "-- PROGRAM ARGS" (the same ruleset through nft -f, say), the
 * program runs after each call, in --versus-netns, timed fork → exit. */
static int cmd_apply(char **versus) {
        int netns_fd = versus && arg_versus_netns ? open_netns(arg_versus_netns) : -1;
        sd_bus *bus = bus_open();
        Samples s = {}, sv = {};
        unsigned n = arg_endpoints > n_extra ? arg_endpoints - (unsigned)n_extra : 0;
        long rss = 0;
        char label[128];

        uint64_t start = now_ns();

        for (unsigned i = 0; i < arg_count && !over_budget(start, i); i++) {
                sd_bus_error e = SD_BUS_ERROR_NULL;
                sd_bus_message *m = apply_message(bus, n, arg_alternate ? i % 2 : 0);
                uint64_t ns;
                int r = timed_call(bus, m, &ns, &e);

                sd_bus_message_unref(m);
                if (arg_expect_error) {
                        if (r >= 0 || !sd_bus_error_has_name(&e, arg_expect_error))
                                die("Apply with %u endpoint(s): expected %s, got %s", n,
                                    arg_expect_error, r >= 0 ? "success" : e.name);
                        printf("%s.error %s\n", arg_label, e.name);
                } else
                        call_ok(r, &e, "Apply");
                sd_bus_error_free(&e);
                samples_add(&s, ns);
                if (versus)
                        samples_add(&sv, run_once(versus, netns_fd, &rss));
        }
        samples_print(&s, arg_label);
        if (versus) {
                snprintf(label, sizeof(label), "%s.versus", arg_label);
                samples_print(&sv, label);
                print_maxrss(label, rss);
        }
        if (netns_fd >= 0)
                close(netns_fd);
        sd_bus_flush_close_unref(bus);
        return 0;
}

static int simple_call(sd_bus *bus, const char *method, uint64_t *ns, sd_bus_error *e,
                       const char *types, ...) {
        sd_bus_message *m = NULL;
        va_list ap;
        int r;

        check(sd_bus_message_new_method_call(bus, &m, KS_BUS_NAME, KS_BUS_PATH, KS_BUS_INTERFACE,
                                             method),
              method);
        if (types) {
                va_start(ap, types);
                r = sd_bus_message_appendv(m, types, ap);
                va_end(ap);
                check(r, method);
        }
        r = timed_call(bus, m, ns, e);
        sd_bus_message_unref(m);
        return r;
}

static int cmd_disable(void) {
        sd_bus *bus = bus_open();
        sd_bus_error e = SD_BUS_ERROR_NULL;
        uint64_t ns;

        call_ok(simple_call(bus, "Disable", &ns, &e, NULL), &e, "Disable");
        printf("%s.disable_us %.1f\n", arg_label, (double)ns / 1000.0);
        sd_bus_flush_close_unref(bus);
        return 0;
}

/* AddEndpoint (then RemoveEndpoint, to stay at the same size) on a table already holding
 * --base endpoints. */
static int cmd_add(void) {
        sd_bus *bus = bus_open();
        Samples add = {}, rm = {};
        sd_bus_error e = SD_BUS_ERROR_NULL;
        sd_bus_message *m = arg_skip_base ? NULL : apply_message(bus, arg_base, 0);
        char label[128];
        uint64_t ns;

        if (!arg_skip_base) {
                call_ok(timed_call(bus, m, &ns, &e), &e, "Apply (base)");
                printf("%s.base_apply_us %.1f\n", arg_label, (double)ns / 1000.0);
        }
        sd_bus_message_unref(m);
        printf("%s.base %u\n", arg_label, arg_base);
        uint64_t start = now_ns();

        for (unsigned i = 0; i < arg_count && !over_budget(start, i); i++) {
                /* Outside the generated range, so it is always new. */
                call_ok(simple_call(bus, "AddEndpoint", &ns, &e, "sqs", "203.0.113.9", 443, "tcp"),
                        &e, "AddEndpoint");
                samples_add(&add, ns);
                call_ok(simple_call(bus, "RemoveEndpoint", &ns, &e, "sqs", "203.0.113.9", 443,
                                    "tcp"),
                        &e, "RemoveEndpoint");
                samples_add(&rm, ns);
        }
        snprintf(label, sizeof(label), "%s.add", arg_label);
        samples_print(&add, label);
        snprintf(label, sizeof(label), "%s.remove", arg_label);
        samples_print(&rm, label);
        sd_bus_flush_close_unref(bus);
        return 0;
}

/* ---- signals ---- */

typedef struct SignalWait {
        const char *name; /* TunnelChanged: the interface */
        int up;           /* TunnelChanged: the state awaited */
        uint64_t at;      /* when it arrived; 0 while waiting */
} SignalWait;

static int on_tunnel_changed(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        SignalWait *w = userdata;
        const char *name;
        int up;

        (void)error;
        if (sd_bus_message_read(m, "sb", &name, &up) < 0)
                return 0;
        if (!w->at && strcmp(name, w->name) == 0 && up == w->up)
                w->at = now_ns();
        return 0;
}

static int on_tampered(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        SignalWait *w = userdata;

        (void)m, (void)error;
        if (!w->at)
                w->at = now_ns();
        return 0;
}

/* Dispatch bus messages until w->at is set; false on timeout. */
static bool bus_wait_for(sd_bus *bus, SignalWait *w, uint64_t deadline) {
        while (!w->at) {
                int r = sd_bus_process(bus, NULL);
                uint64_t now;

                check(r, "sd_bus_process");
                if (r > 0)
                        continue;
                now = now_ns();
                if (now >= deadline)
                        return false;
                check(sd_bus_wait(bus, (deadline - now) / 1000), "sd_bus_wait");
        }
        return true;
}

static void link_set_up(int fd, const char *ifname, bool up) {
        struct ifreq ifr = {};

        snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
        if (ioctl(fd, SIOCGIFFLAGS, &ifr) < 0)
                die("SIOCGIFFLAGS %s: %m", ifname);
        if (up)
                ifr.ifr_flags |= IFF_UP;
        else
                ifr.ifr_flags &= ~IFF_UP;
        if (ioctl(fd, SIOCSIFFLAGS, &ifr) < 0)
                die("SIOCSIFFLAGS %s: %m", ifname);
}

static int rtnl_open(void) {
        struct sockaddr_nl sa = {.nl_family = AF_NETLINK, .nl_groups = RTMGRP_LINK};
        int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, NETLINK_ROUTE);

        if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
                die("rtnetlink socket: %m");
        return fd;
}

/* The kernel's own notice: RTM_NEWLINK for ifindex with IFF_UP as wanted. Returns when it was
 * read, 0 on timeout. */
static uint64_t rtnl_wait_link(int fd, int ifindex, bool up, uint64_t deadline) {
        static uint8_t buf[64 * 1024];

        for (;;) {
                struct pollfd p = {.fd = fd, .events = POLLIN};
                uint64_t now = now_ns();
                ssize_t n;
                int len;

                if (now >= deadline)
                        return 0;
                n = recv(fd, buf, sizeof(buf), 0);
                if (n < 0) {
                        if (errno == EAGAIN)
                                (void)poll(&p, 1, (int)((deadline - now) / 1000000) + 1);
                        else if (errno != EINTR && errno != ENOBUFS)
                                die("rtnetlink: %m");
                        continue;
                }
                now = now_ns();
                len = (int)n;
                for (const struct nlmsghdr *nlh = (const void *)buf; mnl_nlmsg_ok(nlh, len);
                     nlh = mnl_nlmsg_next(nlh, &len)) {
                        const struct ifinfomsg *ifi = mnl_nlmsg_get_payload(nlh);

                        if (nlh->nlmsg_type == RTM_NEWLINK && ifi->ifi_index == ifindex &&
                            !!(ifi->ifi_flags & IFF_UP) == up)
                                return now;
                }
        }
}

/* Link down → TunnelChanged(name, false) at a bus client; then up → TunnelChanged(name, true).
 * Beside it, the floor: when a process of our own listening to rtnetlink hears of it. A signal
 * that does not come within --timeout-ms is counted as missed (and reported), not waited for. */
static int cmd_tunnel(void) {
        sd_bus *bus = bus_open();
        Samples sig[2] = {}, floor[2] = {};
        unsigned missed[2] = {};
        SignalWait w = {.name = arg_ifname};
        char label[128], drain[8192];
        int fd, rtnl, ifindex;

        if (!arg_ifname)
                die("tunnel: --ifname is required");
        ifindex = (int)if_nametoindex(arg_ifname);
        if (ifindex == 0)
                die("interface %s: %m", arg_ifname);
        fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                die("socket: %m");
        rtnl = rtnl_open();
        check(sd_bus_match_signal(bus, NULL, NULL, KS_BUS_PATH, KS_BUS_INTERFACE, "TunnelChanged",
                                  on_tunnel_changed, &w),
              "AddMatch TunnelChanged");
        for (unsigned i = 0; i < arg_count; i++) {
                for (int state = 0; state <= 1; state++) {
                        uint64_t t0, t_kernel;

                        w.up = state;
                        w.at = 0;
                        t0 = now_ns();
                        link_set_up(fd, arg_ifname, state);
                        t_kernel = rtnl_wait_link(rtnl, ifindex, state, t0 + WAIT_TIMEOUT_NS);
                        if (!t_kernel)
                                die("no RTM_NEWLINK for %s within 5 s", arg_ifname);
                        samples_add(&floor[state], t_kernel - t0);
                        if (bus_wait_for(bus, &w, t0 + arg_timeout_ms * 1000000ULL))
                                samples_add(&sig[state], w.at - t0);
                        else {
                                missed[state]++;
                                fprintf(stderr,
                                        "ks-bench: no TunnelChanged(\"%s\", %s) within %u ms of "
                                        "the link going %s\n",
                                        arg_ifname, state ? "true" : "false", arg_timeout_ms,
                                        state ? "up" : "down");
                        }
                        sleep_ms(arg_pause_ms);
                        /* Notices of the addresses and routes that followed: not ours to time. */
                        while (recv(rtnl, drain, sizeof(drain), 0) > 0)
                                ;
                }
        }
        close(fd);
        close(rtnl);
        for (int state = 0; state <= 1; state++) {
                const char *what = state ? "up" : "down";

                snprintf(label, sizeof(label), "%s.%s", arg_label, what);
                samples_print(&sig[state], label);
                printf("%s.missed %u\n", label, missed[state]);
                snprintf(label, sizeof(label), "%s.%s.versus", arg_label, what);
                samples_print(&floor[state], label);
        }
        sd_bus_flush_close_unref(bus);
        return 0;
}

/* ---- nfnetlink ---- */

static struct mnl_socket *nl_open(unsigned group) {
        struct mnl_socket *nl = mnl_socket_open2(NETLINK_NETFILTER, SOCK_CLOEXEC);
        int size = 8 * 1024 * 1024;

        if (!nl || mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0)
                die("nfnetlink socket: %m");
        if (group && mnl_socket_setsockopt(nl, NETLINK_ADD_MEMBERSHIP, &group, sizeof(group)) < 0)
                die("joining the nftables group: %m");
        if (setsockopt(mnl_socket_get_fd(nl), SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof(size)) < 0)
                (void)setsockopt(mnl_socket_get_fd(nl), SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
        return nl;
}

/* One-message transaction; returns the kernel's answer (0 or -errno). */
static int nl_transaction(struct mnl_socket *nl, uint16_t type, uint16_t flags,
                          void (*fill)(struct nlmsghdr *nlh, const void *data), const void *data) {
        static uint32_t seq = 1;
        char buf[8192];
        struct mnl_nlmsg_batch *b = mnl_nlmsg_batch_start(buf, sizeof(buf));
        struct nlmsghdr *nlh;
        struct nfgenmsg *g;
        uint32_t msg_seq;
        ssize_t n;
        int len;

        nftnl_batch_begin(mnl_nlmsg_batch_current(b), seq++);
        mnl_nlmsg_batch_next(b);
        msg_seq = seq++;
        nlh = mnl_nlmsg_put_header(mnl_nlmsg_batch_current(b));
        nlh->nlmsg_type = (NFNL_SUBSYS_NFTABLES << 8) | type;
        nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | flags;
        nlh->nlmsg_seq = msg_seq;
        g = mnl_nlmsg_put_extra_header(nlh, sizeof(*g));
        g->nfgen_family = NFPROTO_INET;
        g->version = NFNETLINK_V0;
        g->res_id = 0;
        fill(nlh, data);
        mnl_nlmsg_batch_next(b);
        nftnl_batch_end(mnl_nlmsg_batch_current(b), seq++);
        mnl_nlmsg_batch_next(b);
        if (mnl_socket_sendto(nl, mnl_nlmsg_batch_head(b), mnl_nlmsg_batch_size(b)) < 0)
                die("sending a batch: %m");
        mnl_nlmsg_batch_stop(b);
        /* The kernel answered the whole batch before sendmsg() returned. */
        n = mnl_socket_recvfrom(nl, buf, sizeof(buf));
        if (n < 0)
                die("reading the ACK: %m");
        len = (int)n;
        for (const struct nlmsghdr *a = (const void *)buf; mnl_nlmsg_ok(a, len);
             a = mnl_nlmsg_next(a, &len))
                if (a->nlmsg_type == NLMSG_ERROR && a->nlmsg_seq == msg_seq)
                        return ((const struct nlmsgerr *)mnl_nlmsg_get_payload(a))->error;
        return -EPROTO;
}

static void fill_table(struct nlmsghdr *nlh, const void *data) {
        (void)data;
        mnl_attr_put_strz(nlh, NFTA_TABLE_NAME, TABLE);
}

typedef struct RuleRef {
        const char *chain;
        uint64_t handle;
} RuleRef;

static void fill_rule(struct nlmsghdr *nlh, const void *data) {
        const RuleRef *ref = data;

        mnl_attr_put_strz(nlh, NFTA_RULE_TABLE, TABLE);
        mnl_attr_put_strz(nlh, NFTA_RULE_CHAIN, ref->chain);
        mnl_attr_put_u64(nlh, NFTA_RULE_HANDLE, htobe64(ref->handle));
}

static int delete_table(struct mnl_socket *nl) {
        int r = nl_transaction(nl, NFT_MSG_DELTABLE, 0, fill_table, NULL);

        return r == -ENOENT ? 0 : r;
}

static int on_rule(const struct nlmsghdr *nlh, void *userdata) {
        RuleRef *ref = userdata;
        struct nftnl_rule *r = nftnl_rule_alloc();

        if (r && nftnl_rule_nlmsg_parse(nlh, r) >= 0 && ref->handle == 0 &&
            strcmp(nftnl_rule_get_str(r, NFTNL_RULE_CHAIN), ref->chain) == 0)
                ref->handle = nftnl_rule_get_u64(r, NFTNL_RULE_HANDLE);
        nftnl_rule_free(r);
        return MNL_CB_OK;
}

/* The handle of the first rule of a chain of our table, 0 if none. */
static uint64_t first_rule(struct mnl_socket *nl, const char *chain) {
        static uint8_t buf[256 * 1024];
        static uint32_t seq = 1u << 30;
        RuleRef ref = {.chain = chain};
        struct nlmsghdr *nlh;
        uint32_t s = seq++;
        ssize_t n;

        nlh = nftnl_nlmsg_build_hdr((char *)buf, NFT_MSG_GETRULE, NFPROTO_INET, NLM_F_DUMP, s);
        mnl_attr_put_strz(nlh, NFTA_RULE_TABLE, TABLE);
        mnl_attr_put_strz(nlh, NFTA_RULE_CHAIN, chain);
        if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0)
                die("dumping rules: %m");
        while ((n = mnl_socket_recvfrom(nl, buf, sizeof(buf))) > 0) {
                int r = mnl_cb_run(buf, (size_t)n, s, mnl_socket_get_portid(nl), on_rule, &ref);

                if (r <= MNL_CB_STOP)
                        break;
        }
        return ref.handle;
}

typedef struct GenScan {
        uint32_t self; /* our portid: our own transaction */
        pid_t daemon;  /* the restorer, when known */
        bool seen_own; /* our transaction's NEWGEN went by */
        bool restored; /* the daemon's NEWGEN after it */
} GenScan;

static void scan_gen(const struct nlmsghdr *nlh, GenScan *g) {
        const struct nlattr *a;
        uint32_t pid = 0;

        if ((nlh->nlmsg_type & 0xff) != NFT_MSG_NEWGEN ||
            (nlh->nlmsg_type >> 8) != NFNL_SUBSYS_NFTABLES)
                return;
        mnl_attr_for_each (a, nlh, sizeof(struct nfgenmsg))
                if (mnl_attr_get_type(a) == NFTA_GEN_PROC_PID)
                        pid = ntohl(mnl_attr_get_u32(a));
        if (nlh->nlmsg_pid == g->self) {
                g->seen_own = true;
                return;
        }
        if (g->seen_own && (g->daemon == 0 || (pid_t)pid == g->daemon))
                g->restored = true;
}

/* Another process deletes the first rule of a chain; the daemon (--protection=monitor) puts the
 * table back. Timed from our commit to the daemon's commit (its NEWGEN event) and to the
 * Tampered signal at a bus client. */
static int cmd_tamper(void) {
        static uint8_t buf[256 * 1024];
        struct mnl_socket *ctl = nl_open(0), *events = nl_open(NFNLGRP_NFTABLES);
        sd_bus *bus = bus_open();
        Samples restored = {}, signalled = {};
        SignalWait w = {};
        char label[128];

        check(sd_bus_match_signal(bus, NULL, NULL, KS_BUS_PATH, KS_BUS_INTERFACE, "Tampered",
                                  on_tampered, &w),
              "AddMatch Tampered");
        for (unsigned i = 0; i < arg_count; i++) {
                GenScan g = {.self = mnl_socket_get_portid(ctl), .daemon = arg_daemon_pid};
                RuleRef ref = {.chain = arg_chain, .handle = first_rule(ctl, arg_chain)};
                uint64_t t0, deadline;
                int r;

                if (ref.handle == 0)
                        die("chain %s of table inet %s has no rule to delete", arg_chain, TABLE);
                /* Drop whatever events are queued from before. */
                while (recv(mnl_socket_get_fd(events), buf, sizeof(buf), MSG_DONTWAIT) > 0)
                        ;
                w.at = 0;
                t0 = now_ns();
                r = nl_transaction(ctl, NFT_MSG_DELRULE, 0, fill_rule, &ref);
                if (r < 0)
                        die("deleting rule %llu of chain %s: %s (is the table owned? the "
                            "daemon must run with --protection=monitor)",
                            (unsigned long long)ref.handle, arg_chain, strerror(-r));
                deadline = t0 + WAIT_TIMEOUT_NS;
                while (!g.restored) {
                        struct pollfd p = {.fd = mnl_socket_get_fd(events), .events = POLLIN};
                        uint64_t now = now_ns();
                        ssize_t n;
                        int len;

                        if (now >= deadline)
                                die("the table was not restored within 5 s of a rule deletion");
                        if (poll(&p, 1, (int)((deadline - now) / 1000000) + 1) <= 0)
                                continue;
                        n = recv(p.fd, buf, sizeof(buf), MSG_DONTWAIT);
                        if (n < 0) {
                                if (errno == ENOBUFS)
                                        die("nftables events lost (ENOBUFS)");
                                continue;
                        }
                        len = (int)n;
                        for (const struct nlmsghdr *nlh = (const void *)buf; mnl_nlmsg_ok(nlh, len);
                             nlh = mnl_nlmsg_next(nlh, &len))
                                scan_gen(nlh, &g);
                }
                samples_add(&restored, now_ns() - t0);
                if (!bus_wait_for(bus, &w, deadline))
                        die("no Tampered signal within 5 s of a rule deletion");
                samples_add(&signalled, w.at - t0);
                sleep_ms(arg_pause_ms);
        }
        snprintf(label, sizeof(label), "%s.restored", arg_label);
        samples_print(&restored, label);
        snprintf(label, sizeof(label), "%s.signal", arg_label);
        samples_print(&signalled, label);
        mnl_socket_close(ctl);
        mnl_socket_close(events);
        sd_bus_flush_close_unref(bus);
        return 0;
}

/* ---- process timings ---- */

/* fork → exit, --count times; with "A :: B", A and B take turns, so that whatever else the
 * machine is doing weighs on both alike. With --delete-table, our table is removed (untimed)
 * before each run, so each run installs it afresh. */
static int cmd_exec(char **argv) {
        struct mnl_socket *nl = arg_delete_table ? nl_open(0) : NULL;
        Samples sa = {}, sb = {};
        long rss_a = 0, rss_b = 0;
        char label[128], **b;
        int r;

        split_commands(argv, &b);
        for (unsigned i = 0; i < arg_count; i++) {
                if (nl && (r = delete_table(nl)) < 0)
                        die("deleting table inet %s: %s", TABLE, strerror(-r));
                samples_add(&sa, run_once(argv, -1, &rss_a));
                if (!b)
                        continue;
                if (nl && (r = delete_table(nl)) < 0)
                        die("deleting table inet %s: %s", TABLE, strerror(-r));
                samples_add(&sb, run_once(b, -1, &rss_b));
        }
        samples_print(&sa, arg_label);
        print_maxrss(arg_label, rss_a);
        if (b) {
                snprintf(label, sizeof(label), "%s.versus", arg_label);
                samples_print(&sb, label);
                print_maxrss(label, rss_b);
        }
        if (nl)
                mnl_socket_close(nl);
        return 0;
}

/* fork → READY=1 on NOTIFY_SOCKET, --count times, SIGTERM after each; with "A :: B", B (timed
 * fork → exit) takes turns with A. --delete-table as for exec. */
static int cmd_start(char **argv) {
        struct mnl_socket *nl = arg_delete_table ? nl_open(0) : NULL;
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        Samples s = {}, sb = {};
        char label[128], buf[4096], **b;
        long rss_b = 0;
        int fd, r;

        split_commands(argv, &b);
        snprintf(sa.sun_path, sizeof(sa.sun_path), "/tmp/ks-bench-notify.%d", (int)getpid());
        (void)unlink(sa.sun_path);
        fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
                die("notify socket %s: %m", sa.sun_path);
        setenv("NOTIFY_SOCKET", sa.sun_path, 1);
        for (unsigned i = 0; i < arg_count; i++) {
                uint64_t t0, deadline;
                bool ready = false;
                int status;
                pid_t pid;

                if (nl && (r = delete_table(nl)) < 0)
                        die("deleting table inet %s: %s", TABLE, strerror(-r));
                t0 = now_ns();
                deadline = t0 + 2 * WAIT_TIMEOUT_NS;
                pid = spawn(argv, -1);
                while (!ready) {
                        struct pollfd p = {.fd = fd, .events = POLLIN};
                        uint64_t now = now_ns();
                        ssize_t n;

                        if (now >= deadline || waitpid(pid, &status, WNOHANG) == pid) {
                                (void)kill(pid, SIGKILL);
                                (void)waitpid(pid, &status, 0);
                                (void)unlink(sa.sun_path);
                                die("%s did not send READY=1 (run %u)", argv[0], i);
                        }
                        if (poll(&p, 1, 50) <= 0)
                                continue;
                        n = recv(fd, buf, sizeof(buf) - 1, 0);
                        if (n <= 0)
                                continue;
                        buf[n] = 0;
                        for (char *line = strtok(buf, "\n"); line; line = strtok(NULL, "\n"))
                                if (strcmp(line, "READY=1") == 0)
                                        ready = true;
                }
                samples_add(&s, now_ns() - t0);
                (void)kill(pid, SIGTERM);
                if (waitpid(pid, &status, 0) < 0)
                        die("waitpid: %m");
                /* Drain STOPPING=1 and the like. */
                while (recv(fd, buf, sizeof(buf), MSG_DONTWAIT) > 0)
                        ;
                if (!b)
                        continue;
                if (nl && (r = delete_table(nl)) < 0)
                        die("deleting table inet %s: %s", TABLE, strerror(-r));
                samples_add(&sb, run_once(b, -1, &rss_b));
        }
        (void)unlink(sa.sun_path);
        close(fd);
        samples_print(&s, arg_label);
        if (b) {
                snprintf(label, sizeof(label), "%s.versus", arg_label);
                samples_print(&sb, label);
                print_maxrss(label, rss_b);
        }
        if (nl)
                mnl_socket_close(nl);
        return 0;
}

/* ---- packets ---- */

/* CPU time, in nanoseconds, that all threads of a process have spent running so far. */
static uint64_t process_cpu_ns(pid_t pid) {
        char path[64];
        uint64_t total = 0;
        struct dirent *d;
        DIR *dir;

        snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
        dir = opendir(path);
        if (!dir)
                die("%s: %m", path);
        while ((d = readdir(dir))) {
                unsigned long long run;
                char file[64 + 256 + 16];
                FILE *f;

                if (d->d_name[0] == '.')
                        continue;
                snprintf(file, sizeof(file), "%s/%s/schedstat", path, d->d_name);
                f = fopen(file, "re");
                if (f && fscanf(f, "%llu", &run) == 1)
                        total += run;
                if (f)
                        fclose(f);
        }
        closedir(dir);
        return total;
}

static uint64_t thread_cpu_ns(void) {
        struct timespec ts;

        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
        return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* --count UDP datagrams of --size bytes to --dst:--port at --rate per second, in batches of 32
 * (sendmmsg). Reports the CPU time per packet of the sending thread, where the output and
 * postrouting hooks run, and of --also-pid (the process that carries the packet on, such as
 * wireguard-go), which does not depend on how busy the rest of the machine is the way
 * wall-clock rates do. */
static int cmd_blast(void) {
        enum { BATCH = 32 };
        struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(arg_port)};
        struct mmsghdr msgs[BATCH] = {};
        struct iovec iov;
        static char payload[65536];
        uint64_t sent = 0, t0, cpu0, other0 = 0, wall, cpu, other = 0;
        int fd;

        if (!arg_dst || inet_pton(AF_INET, arg_dst, &sa.sin_addr) != 1 || arg_port == 0)
                die("blast: --dst IPV4 and --port are required");
        if (arg_size > sizeof(payload))
                die("blast: --size at most %zu", sizeof(payload));
        fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
                die("UDP socket to %s:%u: %m", arg_dst, arg_port);
        iov = (struct iovec){.iov_base = payload, .iov_len = arg_size};
        for (int i = 0; i < BATCH; i++)
                msgs[i].msg_hdr = (struct msghdr){.msg_iov = &iov, .msg_iovlen = 1};

        t0 = now_ns();
        cpu0 = thread_cpu_ns();
        if (arg_also_pid)
                other0 = process_cpu_ns(arg_also_pid);
        while (sent < arg_count) {
                unsigned n = arg_count - sent < BATCH ? (unsigned)(arg_count - sent) : BATCH;
                uint64_t due = t0 + sent * 1000000000ULL / arg_rate, now = now_ns();
                int k;

                /* A slow path cannot keep the pace: stop on time, the figure is per packet. */
                if (arg_max_seconds && sent > 0 && now - t0 > arg_max_seconds * 1000000000ULL)
                        break;

                if (now < due) {
                        struct timespec ts = {.tv_sec = (time_t)((due - now) / 1000000000ULL),
                                              .tv_nsec = (long)((due - now) % 1000000000ULL)};

                        nanosleep(&ts, NULL);
                }
                k = sendmmsg(fd, msgs, n, 0);
                if (k < 0) {
                        if (errno == EINTR || errno == ENOBUFS || errno == ECONNREFUSED)
                                continue; /* ECONNREFUSED: an ICMP error from an earlier one */
                        die("sending to %s:%u: %m (blocked?)", arg_dst, arg_port);
                }
                sent += (unsigned)k;
        }
        cpu = thread_cpu_ns() - cpu0;
        if (arg_also_pid)
                other = process_cpu_ns(arg_also_pid) - other0;
        wall = now_ns() - t0;
        close(fd);
        printf("%s.packets %llu\n", arg_label, (unsigned long long)sent);
        printf("%s.seconds %.3f\n", arg_label, (double)wall / 1e9);
        printf("%s.sender_ns %.1f\n", arg_label, (double)cpu / (double)sent);
        printf("%s.other_ns %.1f\n", arg_label, (double)other / (double)sent);
        printf("%s.cpu_ns %.1f\n", arg_label, (double)(cpu + other) / (double)sent);
        return 0;
}

/* ---- the settings file ---- */

/* What the daemon does when it writes the state file whole (src/state.c: the first save, and
 * compaction; most changes are appended instead): write a temporary file in the state
 * directory, fsync it, rename it over settings.conf, fsync the directory. Timed --count times
 * with the text of --file, in --dir. */
static int cmd_save(void) {
        Samples s = {};
        char *text = NULL;
        size_t size = 0;
        FILE *f;
        int dfd;

        if (!arg_dir || !arg_file)
                die("save: --dir and --file are required");
        f = fopen(arg_file, "re");
        if (!f)
                die("%s: %m", arg_file);
        text = malloc(16 * 1024 * 1024);
        if (!text)
                die("out of memory");
        size = fread(text, 1, 16 * 1024 * 1024, f);
        fclose(f);
        dfd = open(arg_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd < 0)
                die("%s: %m", arg_dir);
        for (unsigned i = 0; i < arg_count; i++) {
                uint64_t t0 = now_ns();
                int fd = openat(dfd, ".ks-bench.tmp",
                                O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);

                if (fd < 0 || write(fd, text, size) != (ssize_t)size || fsync(fd) < 0 ||
                    close(fd) < 0 || renameat(dfd, ".ks-bench.tmp", dfd, "ks-bench.conf") < 0 ||
                    fsync(dfd) < 0)
                        die("saving in %s: %m", arg_dir);
                samples_add(&s, now_ns() - t0);
        }
        (void)unlinkat(dfd, "ks-bench.conf", 0);
        close(dfd);
        free(text);
        printf("%s.bytes %zu\n", arg_label, size);
        samples_print(&s, arg_label);
        return 0;
}

/* ---- command line ---- */

static void help(void) {
        printf("Usage: ks-bench COMMAND --netns NAME [OPTIONS] [-- PROGRAM ARGS... [:: PROGRAM "
               "ARGS...]]\n\n"
               "Timings for bench/run; prints \"key value\" lines (times in microseconds).\n"
               "Runs only inside the named network namespace --netns NAME (see ip-netns(8)).\n\n"
               "D-Bus (the system bus: DBUS_SYSTEM_BUS_ADDRESS):\n"
               "  apply    Apply --endpoints N (generated in 198.18.0.0/15, plus each --extra),\n"
               "           --count times, alternating port 51820/51821 so that every call changes\n"
               "           the table (--rebuild: AllowLan too, so that it builds a new one);\n"
               "           after each call, PROGRAM (timed) in --versus-netns\n"
               "  add      Apply --base N (unless --skip-base: the table holds them already), "
               "then\n"
               "           AddEndpoint and RemoveEndpoint --count times\n"
               "  disable  Disable\n"
               "  tunnel   --ifname down/up by ioctl until TunnelChanged arrives (--timeout-ms),\n"
               "           beside the kernel's RTM_NEWLINK to a listener of our own\n"
               "  tamper   delete the first rule of --chain; time until the restoring commit of\n"
               "           --daemon-pid and the Tampered signal (needs --protection=monitor)\n"
               "Processes and files:\n"
               "  exec     PROGRAM from fork to exit; \"A :: B\" alternates two programs;\n"
               "           --delete-table removes table inet killswitchd (untimed) before each "
               "run\n"
               "  start    PROGRAM from fork to READY=1 on NOTIFY_SOCKET, then SIGTERM; \":: B\"\n"
               "           alternates B (timed to exit); --delete-table as for exec\n"
               "  blast    --count UDP datagrams of --size bytes to --dst:--port at --rate/s; CPU\n"
               "           time per packet of the sender and of --also-pid (e.g. wireguard-go)\n"
               "  save     the daemon's way of writing the state file whole (write, fsync, "
               "rename,\n"
               "           fsync of the directory) with the text of --file, in --dir\n\n"
               "Options: --label L --count N --endpoints N --extra ADDR:PORT:PROTO --base N\n"
               "         --tunnel NAME --no-alternate --rebuild --expect-error NAME --versus-netns NAME\n"
               "         --ifname NAME --timeout-ms MS --pause-ms MS --chain NAME --daemon-pid "
               "PID\n"
               "         --delete-table --skip-base --max-seconds S --show-output --dir DIR\n"
               "         --dst IPV4 --port N --rate PPS --size BYTES --also-pid PID\n"
               "         --file FILE --raw FILE\n");
}

int main(int argc, char *argv[]) {
        enum {
                ARG_LABEL = 0x100,
                ARG_COUNT,
                ARG_ENDPOINTS,
                ARG_BASE,
                ARG_TUNNEL,
                ARG_EXTRA,
                ARG_NO_ALTERNATE,
                ARG_REBUILD,
                ARG_EXPECT_ERROR,
                ARG_IFNAME,
                ARG_CHAIN,
                ARG_DAEMON_PID,
                ARG_PAUSE_MS,
                ARG_DELETE_TABLE,
                ARG_SHOW_OUTPUT,
                ARG_RAW,
                ARG_NETNS,
                ARG_VERSUS_NETNS,
                ARG_TIMEOUT_MS,
                ARG_DIR,
                ARG_FILE,
                ARG_SKIP_BASE,
                ARG_MAX_SECONDS,
                ARG_DST,
                ARG_PORT,
                ARG_RATE,
                ARG_SIZE,
                ARG_ALSO_PID,
        };
        static const struct option options[] = {
                {"label", required_argument, NULL, ARG_LABEL},
                {"count", required_argument, NULL, ARG_COUNT},
                {"endpoints", required_argument, NULL, ARG_ENDPOINTS},
                {"base", required_argument, NULL, ARG_BASE},
                {"tunnel", required_argument, NULL, ARG_TUNNEL},
                {"extra", required_argument, NULL, ARG_EXTRA},
                {"no-alternate", no_argument, NULL, ARG_NO_ALTERNATE},
                {"rebuild", no_argument, NULL, ARG_REBUILD},
                {"expect-error", required_argument, NULL, ARG_EXPECT_ERROR},
                {"ifname", required_argument, NULL, ARG_IFNAME},
                {"chain", required_argument, NULL, ARG_CHAIN},
                {"daemon-pid", required_argument, NULL, ARG_DAEMON_PID},
                {"pause-ms", required_argument, NULL, ARG_PAUSE_MS},
                {"delete-table", no_argument, NULL, ARG_DELETE_TABLE},
                {"show-output", no_argument, NULL, ARG_SHOW_OUTPUT},
                {"raw", required_argument, NULL, ARG_RAW},
                {"netns", required_argument, NULL, ARG_NETNS},
                {"versus-netns", required_argument, NULL, ARG_VERSUS_NETNS},
                {"timeout-ms", required_argument, NULL, ARG_TIMEOUT_MS},
                {"dir", required_argument, NULL, ARG_DIR},
                {"file", required_argument, NULL, ARG_FILE},
                {"skip-base", no_argument, NULL, ARG_SKIP_BASE},
                {"max-seconds", required_argument, NULL, ARG_MAX_SECONDS},
                {"dst", required_argument, NULL, ARG_DST},
                {"port", required_argument, NULL, ARG_PORT},
                {"rate", required_argument, NULL, ARG_RATE},
                {"size", required_argument, NULL, ARG_SIZE},
                {"also-pid", required_argument, NULL, ARG_ALSO_PID},
                {"help", no_argument, NULL, 'h'},
                {},
        };
        const char *cmd;
        int c;

        if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
                help();
                return argc < 2 ? EXIT_FAILURE : EXIT_SUCCESS;
        }
        cmd = argv[1];
        optind = 2;
        while ((c = getopt_long(argc, argv, "+h", options, NULL)) >= 0)
                switch (c) {
                case ARG_LABEL: arg_label = optarg; break;
                case ARG_COUNT: arg_count = (unsigned)strtoul(optarg, NULL, 10); break;
                case ARG_ENDPOINTS: arg_endpoints = (unsigned)strtoul(optarg, NULL, 10); break;
                case ARG_BASE: arg_base = (unsigned)strtoul(optarg, NULL, 10); break;
                case ARG_TUNNEL: arg_tunnel = optarg; break;
                case ARG_EXTRA:
                        arg_extra = realloc(arg_extra, (n_extra + 1) * sizeof(char *));
                        if (!arg_extra)
                                die("out of memory");
                        arg_extra[n_extra++] = optarg;
                        break;
                case ARG_NO_ALTERNATE: arg_alternate = false; break;
                case ARG_REBUILD: arg_rebuild = true; break;
                case ARG_EXPECT_ERROR: arg_expect_error = optarg; break;
                case ARG_IFNAME: arg_ifname = optarg; break;
                case ARG_CHAIN: arg_chain = optarg; break;
                case ARG_DAEMON_PID: arg_daemon_pid = (pid_t)atoi(optarg); break;
                case ARG_PAUSE_MS: arg_pause_ms = (unsigned)strtoul(optarg, NULL, 10); break;
                case ARG_DELETE_TABLE: arg_delete_table = true; break;
                case ARG_SHOW_OUTPUT: arg_quiet_child = false; break;
                case ARG_RAW: arg_raw = optarg; break;
                case ARG_NETNS: arg_netns = optarg; break;
                case ARG_VERSUS_NETNS: arg_versus_netns = optarg; break;
                case ARG_TIMEOUT_MS: arg_timeout_ms = (unsigned)strtoul(optarg, NULL, 10); break;
                case ARG_DIR: arg_dir = optarg; break;
                case ARG_FILE: arg_file = optarg; break;
                case ARG_SKIP_BASE: arg_skip_base = true; break;
                case ARG_MAX_SECONDS: arg_max_seconds = (unsigned)strtoul(optarg, NULL, 10); break;
                case ARG_DST: arg_dst = optarg; break;
                case ARG_PORT: arg_port = (unsigned)strtoul(optarg, NULL, 10); break;
                case ARG_RATE: arg_rate = (unsigned)strtoul(optarg, NULL, 10); break;
                case ARG_SIZE: arg_size = (unsigned)strtoul(optarg, NULL, 10); break;
                case ARG_ALSO_PID: arg_also_pid = (pid_t)atoi(optarg); break;
                case 'h': help(); return EXIT_SUCCESS;
                default: return EXIT_FAILURE;
                }
        if (arg_endpoints > 131072 || arg_base > 131072)
                die("at most 131072 generated endpoints (198.18.0.0/15)");

        enter_netns(arg_netns);
        if (strcmp(cmd, "apply") == 0)
                return cmd_apply(optind < argc ? argv + optind : NULL);
        if (strcmp(cmd, "add") == 0)
                return cmd_add();
        if (strcmp(cmd, "disable") == 0)
                return cmd_disable();
        if (strcmp(cmd, "tunnel") == 0)
                return cmd_tunnel();
        if (strcmp(cmd, "tamper") == 0)
                return cmd_tamper();
        if (strcmp(cmd, "save") == 0)
                return cmd_save();
        if (strcmp(cmd, "blast") == 0)
                return cmd_blast();
        if (strcmp(cmd, "exec") == 0 || strcmp(cmd, "start") == 0) {
                if (optind >= argc)
                        die("%s: which program? (ks-bench %s [OPTIONS] -- PROGRAM ARGS...)", cmd,
                            cmd);
                return strcmp(cmd, "exec") == 0 ? cmd_exec(argv + optind)
                                                : cmd_start(argv + optind);
        }
        die("unknown command \"%s\" (ks-bench --help)", cmd);
}

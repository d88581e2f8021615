/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* "verify", the per-application half. The daemon checks that the listed cgroups' ids are in its
 * table, but it cannot put a process into a cgroup: its cgroup file system is read-only
 * (ProtectControlGroups=). This client can, through systemd. A child, started in a transient
 * scope of the listed slice, sends one datagram per family on every link outside the tunnels;
 * this process, in no list, sends the same beside it. Each is the other's control:
 *  - exempt: wherever this process is refused, the child must get through;
 *  - scoped: the child must be refused on every link outside the tunnels, this process nowhere.
 * BlockedPackets must count every refusal: the kill switch refused, not something else. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "client.h"
#include "scope.h"
#include "verify-apps.h"

/* Documentation addresses (RFC 5737, RFC 3849), as the daemon's own probes use: a datagram that
 * leaves reaches nobody. */
#define PROBE4 "192.0.2.1"
#define PROBE6 "2001:db8::1"
#define PROBE_PORT 9
#define LINKS_MAX 32

typedef enum Outcome { SENT, REFUSED, NO_ROUTE, FAILED } Outcome;

typedef struct Probe {
        char ifname[IFNAMSIZ];
        int family;
        Outcome self, child;
} Probe;

static Outcome probe(const Probe *p) {
        static const char payload[] = "killswitchctl verify";
        struct sockaddr_in in = {.sin_family = AF_INET, .sin_port = htons(PROBE_PORT)};
        struct sockaddr_in6 in6 = {.sin6_family = AF_INET6, .sin6_port = htons(PROBE_PORT)};
        _cleanup_(closep) int fd = socket(p->family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        ssize_t n;

        if (fd < 0)
                return FAILED;
        /* A failure here is no refusal by the kill switch: never read it as one. */
        if (setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, p->ifname, strlen(p->ifname)) < 0)
                return errno == ENODEV ? NO_ROUTE : FAILED;
        (void)inet_pton(AF_INET, PROBE4, &in.sin_addr);
        (void)inet_pton(AF_INET6, PROBE6, &in6.sin6_addr);
        if (p->family == AF_INET)
                n = sendto(fd, payload, sizeof(payload), 0, (struct sockaddr *)&in, sizeof(in));
        else
                n = sendto(fd, payload, sizeof(payload), 0, (struct sockaddr *)&in6, sizeof(in6));
        if (n >= 0)
                return SENT;
        /* The daemon's probes (src/verify.c) read the errors the same way; killswitchctl links
         * nothing of the daemon, so the few lines are its own. */
        switch (errno) {
        case EPERM: return REFUSED;
        case ENETUNREACH:
        case EHOSTUNREACH:
        case EADDRNOTAVAIL:
        case ENODEV:
        case ENXIO: return NO_ROUTE;
        default: return FAILED;
        }
}

/* IPv4 and IPv6 on every link but loopback and the tunnels that are up. */
static size_t probes_outside(char **tunnels, Probe *p, size_t max) {
        struct if_nameindex *links = if_nameindex();
        size_t n = 0;

        for (struct if_nameindex *l = links; l && l->if_name && n + 2 <= max; l++) {
                if (strcmp(l->if_name, "lo") == 0 || strv_contains(tunnels, l->if_name))
                        continue;
                for (int i = 0; i < 2; i++) {
                        p[n] = (Probe){.family = i == 0 ? AF_INET : AF_INET6};
                        snprintf(p[n].ifname, sizeof(p[n].ifname), "%s", l->if_name);
                        n++;
                }
        }
        if (links)
                if_freenameindex(links);
        return n;
}

/* "udp4 on eth0, udp6 on eth0" for the probes where 'who' (self or child) had 'outcome'. */
static unsigned list_probes(const Probe *p, size_t n, bool child, Outcome outcome, char *buf,
                            size_t size) {
        size_t used = 0;
        unsigned count = 0;

        buf[0] = '\0';
        for (size_t i = 0; i < n; i++) {
                if ((child ? p[i].child : p[i].self) != outcome)
                        continue;
                count++;
                if (used < size)
                        used += (size_t)snprintf(buf + used, size - used, "%sudp%c on %s",
                                                 used ? ", " : "",
                                                 p[i].family == AF_INET ? '4' : '6', p[i].ifname);
        }
        return count;
}

/* The child: waits for the word, sends, writes its outcomes back, and is gone. Only system
 * calls after fork(). */
_Noreturn static void child_probes(const Probe *p, size_t n, int go, int out) {
        char word;

        if (read(go, &word, 1) != 1)
                _exit(1);
        for (size_t i = 0; i < n; i++) {
                Outcome o = probe(&p[i]);

                if (write(out, &o, sizeof(o)) != sizeof(o))
                        _exit(1);
        }
        _exit(0);
}

static int blocked_packets(Ctl *c, uint64_t *ret) {
        return ctl_get_basic(c, "BlockedPackets", 't', ret);
}

typedef struct Mode {
        const char *what;  /* "exempt" or "scoped" */
        const char *check; /* the check's name */
        const char *list;  /* the property that lists the cgroups */
} Mode;

static int check_set(AppCheck *ck, const char *status, const char *fmt, ...) _printf_(3, 4);
static int check_set(AppCheck *ck, const char *status, const char *fmt, ...) {
        va_list ap;

        ck->status = status;
        va_start(ap, fmt);
        vsnprintf(ck->detail, sizeof(ck->detail), fmt, ap);
        va_end(ap);
        return CTL_EXIT_OK;
}

/* Sends the probes from here and from a child in a scope of 'unit' (at 'path'): outcomes into
 * p[], the kill switch's refusals meanwhile into *ret_blocked. CTL_EXIT_OK, or the check filled
 * with why nothing could be tried. */
static int probe_pair(Ctl *c, const Mode *mode, const char *path, const char *unit, Probe *p,
                      size_t n, uint64_t *ret_blocked, AppCheck *ck) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *systemd = NULL;
        _cleanup_(closep) int go_r = -EBADF, go_w = -EBADF, out_r = -EBADF, out_w = -EBADF;
        char scope[64], description[128];
        uint64_t before = 0, after = 0;
        bool moved, followed;
        size_t got = 0;
        int status, fds[2], r;
        pid_t pid;

        /* Never ask polkit here: a check that waits for a password is no check. */
        if (scope_open_systemd("verify", false, &systemd) != CTL_EXIT_OK)
                return check_set(ck, "warning", "not tried: systemd is not reachable");
        if (pipe2(fds, O_CLOEXEC) < 0)
                return check_set(ck, "fail", "not tried: %m");
        go_r = fds[0], go_w = fds[1];
        if (pipe2(fds, O_CLOEXEC) < 0)
                return check_set(ck, "fail", "not tried: %m");
        out_r = fds[0], out_w = fds[1];
        pid = fork();
        if (pid < 0)
                return check_set(ck, "fail", "not tried: %m");
        if (pid == 0) {
                /* The parent's ends closed, or no end of file would ever come. */
                close(go_w);
                close(out_r);
                child_probes(p, n, go_r, out_w);
        }
        close(TAKE_FD(out_w));

        snprintf(scope, sizeof(scope), "killswitch-verify-%s-%d.scope", mode->what, (int)pid);
        snprintf(description, sizeof(description), "killswitchctl verify: %s probes", mode->what);
        r = scope_start(systemd, "verify", scope, unit, description, pid);
        moved = r == CTL_EXIT_OK && scope_wait_moved(pid, path);
        followed = moved && scope_wait_followed(c, path);
        if (followed)
                r = blocked_packets(c, &before);
        if (followed && r == CTL_EXIT_OK) {
                for (size_t i = 0; i < n; i++)
                        p[i].self = probe(&p[i]);
                if (write(go_w, "!", 1) == 1)
                        while (got < n && read(out_r, &p[got].child, sizeof(p[got].child)) ==
                                                  sizeof(p[got].child))
                                got++;
        }
        /* Without the word, the child reads end of file and exits. */
        close(TAKE_FD(go_w));
        (void)waitpid(pid, &status, 0);
        if (r == CTL_EXIT_OK && followed)
                r = blocked_packets(c, &after);
        if (r != CTL_EXIT_OK && !moved)
                return check_set(ck, "warning",
                                 "not tried: no process could be started in %s (as root, or with "
                                 "polkit's consent to manage units, it can be)",
                                 unit);
        if (!moved)
                return check_set(ck, "warning",
                                 "not tried: systemd did not move the probing process into %s",
                                 path);
        if (!followed)
                return check_set(ck, "fail",
                                 "a process is in %s, but killswitchd does not match it "
                                 "(PresentCgroups)",
                                 path);
        if (r != CTL_EXIT_OK)
                return r;
        if (got < n)
                return check_set(ck, "fail", "the probing process in %s did not report", path);
        *ret_blocked = after - before;
        return CTL_EXIT_OK;
}

static bool self_listed(char **paths) {
        for (char **q = paths; q && *q; q++)
                if (scope_pid_below(getpid(), *q) > 0)
                        return true;
        return false;
}

static int check_mode(Ctl *c, const Mode *mode, char **tunnels, AppCheck *ck) {
        _cleanup_(strv_freep) char **paths = NULL;
        _cleanup_(freep) char *unit = NULL;
        Probe p[LINKS_MAX * 2];
        char listed[256], *path;
        unsigned refused, sent, failed, no_route, self_refused, self_sent;
        uint64_t blocked = 0;
        size_t n;
        int r;

        ck->name = mode->check;
        r = ctl_get_strv(c, mode->list, &paths);
        if (r != CTL_EXIT_OK)
                return r;
        if (scope_find_slice(paths, &path, &unit) < 0)
                return check_set(ck, "warning",
                                 "not tried: %s names no slice, where a process could be started",
                                 mode->list);
        n = probes_outside(tunnels, p, ELEMENTSOF(p));
        r = probe_pair(c, mode, path, unit, p, n, &blocked, ck);
        if (r != CTL_EXIT_OK || ck->status)
                return r;

        failed = list_probes(p, n, true, FAILED, listed, sizeof(listed));
        if (failed > 0)
                return check_set(ck, "fail", "%u probe(s) could not be tried: %s", failed, listed);
        no_route = list_probes(p, n, true, NO_ROUTE, listed, sizeof(listed));
        self_refused = list_probes(p, n, false, REFUSED, listed, sizeof(listed));
        self_sent = list_probes(p, n, false, SENT, listed, sizeof(listed));
        sent = list_probes(p, n, true, SENT, listed, sizeof(listed));
        if (strcmp(mode->what, "scoped") == 0) {
                if (sent > 0)
                        return check_set(ck, "fail", "LEAK: a process in %s sent %s", path, listed);
                refused = list_probes(p, n, true, REFUSED, listed, sizeof(listed));
                if (blocked < refused + self_refused)
                        return check_set(ck, "fail",
                                         "%u probe(s) refused, but not by the kill switch (its "
                                         "counter moved by %llu)",
                                         refused + self_refused, (unsigned long long)blocked);
                if (self_refused > 0 && !self_listed(paths)) {
                        (void)list_probes(p, n, false, REFUSED, listed, sizeof(listed));
                        return check_set(ck, "fail",
                                         "this process, in no scoped cgroup, is refused: %s",
                                         listed);
                }
                if (refused == 0)
                        return check_set(ck, "warning",
                                         "not tried: no route outside the tunnels (%u probe(s))",
                                         no_route);
                return check_set(ck, "ok",
                                 "a process in %s was refused %u probe(s) outside the tunnels; "
                                 "this one, not scoped, sent %u",
                                 path, refused, self_sent);
        }

        /* Exempt: only where this process is refused does the child's datagram prove anything. */
        refused = 0;
        sent = 0;
        for (size_t i = 0; i < n; i++)
                if (p[i].self == REFUSED) {
                        refused += p[i].child == REFUSED;
                        sent += p[i].child == SENT;
                }
        if (blocked < self_refused + refused)
                return check_set(ck, "fail",
                                 "%u probe(s) refused, but not by the kill switch (its counter "
                                 "moved by %llu)",
                                 self_refused + refused, (unsigned long long)blocked);
        if (refused > 0) {
                (void)list_probes(p, n, true, REFUSED, listed, sizeof(listed));
                return check_set(ck, "fail", "a process in %s is refused: %s", path, listed);
        }
        if (sent == 0)
                return check_set(ck, "warning",
                                 "not tried: no link outside the tunnels refuses this process%s",
                                 self_listed(paths) ? " (it is exempt itself)" : "");
        return check_set(ck, "ok",
                         "a process in %s sent %u probe(s) outside the tunnels, where this one "
                         "was refused",
                         path, sent);
}

int verify_apps(Ctl *c, AppCheck ret[static 2], size_t *ret_n) {
        static const Mode exempt = {"exempt", "exempt-app", "ExemptCgroups"},
                          scoped = {"scoped", "scoped-app", "ScopedCgroups"};
        _cleanup_(strv_freep) char **exempt_paths = NULL, **tunnels = NULL;
        _cleanup_(freep) char *scope_mode = NULL;
        int enabled = 0, r;

        *ret_n = 0;
        r = ctl_get_basic(c, "Enabled", 'b', &enabled);
        if (r == CTL_EXIT_OK)
                r = ctl_get_basic(c, "Scope", 's', &scope_mode);
        if (r == CTL_EXIT_OK)
                r = ctl_get_strv(c, "ExemptCgroups", &exempt_paths);
        if (r == CTL_EXIT_OK)
                r = ctl_get_strv(c, "ActiveTunnels", &tunnels);
        if (r != CTL_EXIT_OK || !enabled)
                return r;
        /* With Scope "cgroups" nothing holds this process: there is no refusal to compare an
         * exempt one with. */
        if (exempt_paths && exempt_paths[0] && strcmp(scope_mode, "cgroups") != 0) {
                ret[*ret_n] = (AppCheck){};
                r = check_mode(c, &exempt, tunnels, &ret[*ret_n]);
                if (r != CTL_EXIT_OK)
                        return r;
                ++*ret_n;
        }
        if (strcmp(scope_mode, "cgroups") == 0) {
                ret[*ret_n] = (AppCheck){};
                r = check_mode(c, &scoped, tunnels, &ret[*ret_n]);
                if (r != CTL_EXIT_OK)
                        return r;
                ++*ret_n;
        }
        return CTL_EXIT_OK;
}

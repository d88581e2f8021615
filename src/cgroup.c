/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>

#include "cgroup.h"

int cgroup2_find_root(char **ret) {
        _cleanup_(freep) char *line = NULL;
        FILE *f = fopen("/proc/self/mountinfo", "re");
        size_t size = 0;

        if (!f)
                return -errno;
        /* "36 25 0:31 / /sys/fs/cgroup/unified rw,... shared:9 - cgroup2 cgroup2 rw" */
        while (getline(&line, &size, f) > 0) {
                char root[8], mount[4096], type[16];
                const char *sep = strstr(line, " - ");

                if (!sep || sscanf(sep, " - %15s", type) != 1 || strcmp(type, "cgroup2") != 0 ||
                    sscanf(line, "%*s %*s %*s %7s %4095s", root, mount) != 2 ||
                    strcmp(root, "/") != 0)
                        continue;
                fclose(f);
                *ret = strdup(mount);
                return *ret ? 0 : -ENOMEM;
        }
        fclose(f);
        return -ENOENT;
}

int cgroup_lookup_id(int root_fd, const char *path, uint64_t *ret) {
        struct stat st;

        if (fstatat(root_fd, path, &st, AT_SYMLINK_NOFOLLOW) < 0)
                return -errno;
        if (!S_ISDIR(st.st_mode))
                return -ENOTDIR;
        *ret = st.st_ino;
        return 0;
}

struct CgroupWatch {
        int root_fd;
        char root[sizeof("/proc/self/fd/2147483647")]; /* root_fd's path, for inotify */
        int fd;
        sd_event_source *io;
        cgroup_handler_t handler;
        void *userdata;
        int *wds;
        size_t n_wds;
};

/* A cgroup is made by mkdir and removed by rmdir (cgroup v2 refuses renames), which the parent
 * directory reports as IN_CREATE and IN_DELETE. A watch on the removed cgroup itself reports
 * nothing: the watch holds the directory's inode, so kernfs never deletes it while watched (no
 * IN_DELETE_SELF, no IN_IGNORED). */
#define WATCH_MASK (IN_CREATE | IN_DELETE | IN_ONLYDIR)

static void watches_clear(CgroupWatch *w) {
        for (size_t i = 0; i < w->n_wds; i++)
                (void)inotify_rm_watch(w->fd, w->wds[i]);
        w->n_wds = 0;
}

CgroupWatch *cgroup_watch_free(CgroupWatch *w) {
        if (!w)
                return NULL;
        sd_event_source_disable_unref(w->io);
        if (w->fd >= 0)
                close(w->fd);
        if (w->root_fd >= 0)
                close(w->root_fd);
        free(w->wds);
        free(w);
        return NULL;
}

static int on_readable(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        CgroupWatch *w = userdata;
        char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
        bool changed = false;
        ssize_t n;

        (void)s, (void)revents;
        /* Which event it was does not matter: the handler looks at every path again. But
         * IN_IGNORED only says a watch went, and the handler's own cgroup_watch_set() removes
         * every watch: answering it would look again forever. An overflow (IN_Q_OVERFLOW)
         * is a change. */
        while ((n = read(fd, buf, sizeof(buf))) > 0)
                for (ssize_t i = 0; i < n;) {
                        const struct inotify_event *e = (const void *)(buf + i);

                        changed = changed || e->mask != IN_IGNORED;
                        i += (ssize_t)(sizeof(*e) + e->len);
                }
        if (changed)
                w->handler(w->userdata);
        return 0;
}

int cgroup_watch_new(sd_event *event, int root_fd, cgroup_handler_t handler, void *userdata,
                     CgroupWatch **ret) {
        _cleanup_(cgroup_watch_freep) CgroupWatch *w = NULL;
        int r;

        w = calloc(1, sizeof(CgroupWatch));
        if (!w)
                return -ENOMEM;
        w->fd = w->root_fd = -EBADF;
        w->handler = handler;
        w->userdata = userdata;
        /* The watches name the hierarchy through the descriptor the ids are read from, not
         * through its mount point: a mount point can leave this mount namespace (unmounted,
         * even removed) while the hierarchy stays, and the watches must not go with it. */
        w->root_fd = fcntl(root_fd, F_DUPFD_CLOEXEC, 3);
        if (w->root_fd < 0)
                return -errno;
        (void)snprintf(w->root, sizeof(w->root), "/proc/self/fd/%d", w->root_fd);
        w->fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
        if (w->fd < 0)
                return -errno;
        r = sd_event_add_io(event, &w->io, w->fd, EPOLLIN, on_readable, w);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(w);
        return 0;
}

static int watch_add(CgroupWatch *w, const char *dir) {
        int wd = inotify_add_watch(w->fd, dir, WATCH_MASK);
        int *v;

        if (wd < 0)
                return -errno;
        for (size_t i = 0; i < w->n_wds; i++)
                if (w->wds[i] == wd)
                        return 0; /* the same directory for another path */
        v = reallocarray(w->wds, w->n_wds + 1, sizeof(int));
        if (!v)
                return -ENOMEM;
        w->wds = v;
        w->wds[w->n_wds++] = wd;
        return 0;
}

int cgroup_watch_set(CgroupWatch *w, char *const *paths, size_t n_paths) {
        size_t root_len = strlen(w->root);
        int r;

        watches_clear(w);
        if (n_paths == 0)
                return 0;
        r = watch_add(w, w->root);
        if (r < 0)
                return r;
        for (size_t i = 0; i < n_paths; i++) {
                char dir[PATH_MAX];
                int n = snprintf(dir, sizeof(dir), "%s/%s", w->root, paths[i]);

                if (n < 0 || (size_t)n >= sizeof(dir))
                        return -ENAMETOOLONG;
                /* Every directory from the root down to the path's parent, top down, to the
                 * first that does not exist: each is watched before its child, so whatever on
                 * the way is made or removed, a watched directory reports it. */
                for (char *slash = strchr(dir + root_len + 1, '/'); slash;
                     slash = strchr(slash + 1, '/')) {
                        *slash = '\0';
                        r = watch_add(w, dir);
                        *slash = '/';
                        if (r == -ENOENT || r == -ENOTDIR)
                                break;
                        if (r < 0)
                                return r;
                }
        }
        return 0;
}

static int id_compare(const void *a, const void *b) {
        uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

        return x < y ? -1 : x > y;
}

int cgroup_ids_lookup(int root_fd, char *const *paths, size_t n_paths, uint64_t **ret,
                      size_t *ret_n) {
        _cleanup_(freep) uint64_t *ids = NULL;
        size_t n = 0;

        if (n_paths > 0) {
                ids = calloc(n_paths, sizeof(uint64_t));
                if (!ids)
                        return -ENOMEM;
        }
        /* No cgroup2 mounted, or a path absent: no id, nothing matched (fail closed). */
        for (size_t i = 0; root_fd >= 0 && i < n_paths; i++)
                if (cgroup_lookup_id(root_fd, paths[i], &ids[n]) >= 0)
                        n++;
        /* The kernel refuses a duplicate element; two paths are one cgroup only if equal. */
        if (n > 0)
                qsort(ids, n, sizeof(uint64_t), id_compare);
        for (size_t i = 1; i < n;)
                if (ids[i] == ids[i - 1])
                        memmove(&ids[i], &ids[i + 1], (--n - i) * sizeof(uint64_t));
                else
                        i++;
        *ret = TAKE_PTR(ids);
        *ret_n = n;
        return 0;
}

bool cgroup_ids_contain(const uint64_t *ids, size_t n, uint64_t id) {
        return n > 0 && bsearch(&id, ids, n, sizeof(uint64_t), id_compare);
}

void cgroup_ids_done(CgroupIds *c) {
        free(c->exempt);
        free(c->scoped);
        *c = (CgroupIds){};
}

bool cgroup_ids_equal(const CgroupIds *a, const CgroupIds *b) {
        return a->n_exempt == b->n_exempt && a->n_scoped == b->n_scoped &&
               (a->n_exempt == 0 ||
                memcmp(a->exempt, b->exempt, a->n_exempt * sizeof(uint64_t)) == 0) &&
               (a->n_scoped == 0 ||
                memcmp(a->scoped, b->scoped, a->n_scoped * sizeof(uint64_t)) == 0);
}

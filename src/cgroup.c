/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>

#include "cgroup.h"

/* The length of the UTF-8 sequence at s, 0 if it is not one. */
static size_t utf8_sequence(const unsigned char *s) {
        size_t n = *s < 0x80             ? 1
                   : (*s & 0xe0) == 0xc0 ? 2
                   : (*s & 0xf0) == 0xe0 ? 3
                   : (*s & 0xf8) == 0xf0 ? 4
                                         : 0;

        if (n == 2 && *s < 0xc2)
                return 0; /* overlong */
        for (size_t i = 1; i < n; i++)
                if ((s[i] & 0xc0) != 0x80)
                        return 0;
        return n;
}

int cgroup_path_validate(const char *field, const char *path, Error *error) {
        size_t len = strlen(path);
        unsigned level = 0;

        if (len == 0)
                return error_set(error, ERROR_INVALID, -EINVAL, "%s: empty cgroup path", field);
        if (len > CGROUP_PATH_MAX)
                return error_set(error, ERROR_INVALID, -EINVAL,
                                 "%s: \"%.32s...\" is longer than %d bytes", field, path,
                                 CGROUP_PATH_MAX);
        if (path[0] == '/')
                return error_set(error, ERROR_INVALID, -EINVAL,
                                 "%s: \"%.64s\" is absolute; give it relative to the cgroup2 "
                                 "root, without the leading '/'",
                                 field, path);
        for (const char *p = path; *p;) {
                const char *end = strchrnul(p, '/');
                size_t n = (size_t)(end - p);

                if (n == 0 || (n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.'))
                        return error_set(error, ERROR_INVALID, -EINVAL,
                                         "%s: \"%.64s\" has an empty, \".\" or \"..\" component",
                                         field, path);
                for (const char *c = p; c < end;) {
                        size_t k = utf8_sequence((const unsigned char *)c);

                        if (k == 0 || (k == 1 && ((unsigned char)*c < 0x20 || *c == 0x7f)))
                                return error_set(error, ERROR_INVALID, -EINVAL,
                                                 "%s: the path is not printable UTF-8", field);
                        c += k;
                }
                if (++level > CGROUP_LEVEL_MAX)
                        return error_set(error, ERROR_INVALID, -EINVAL,
                                         "%s: \"%.64s\" is deeper than %d levels", field, path,
                                         CGROUP_LEVEL_MAX);
                p = *end ? end + 1 : end;
                if (*end && !*p)
                        return error_set(error, ERROR_INVALID, -EINVAL,
                                         "%s: \"%.64s\" ends with '/'", field, path);
        }
        return 0;
}

unsigned cgroup_path_level(const char *path) {
        unsigned level = *path ? 1 : 0;

        for (const char *p = path; *p; p++)
                level += *p == '/';
        return level;
}

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
        char *root;
        int fd;
        sd_event_source *io;
        cgroup_handler_t handler;
        void *userdata;
        int *wds;
        size_t n_wds;
};

/* Creation, removal and renames; IN_ONLYDIR: a cgroup is a directory. */
#define WATCH_MASK (IN_CREATE | IN_MOVED_TO | IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR)

static void watches_clear(CgroupWatch *w) {
        /* A watch on a removed directory is already gone (IN_IGNORED): EINVAL, harmless. */
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
        free(w->wds);
        free(w->root);
        free(w);
        return NULL;
}

static int on_readable(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        CgroupWatch *w = userdata;
        char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));

        (void)s, (void)revents;
        /* Which event it was does not matter: the handler looks at every path again. */
        while (read(fd, buf, sizeof(buf)) > 0)
                ;
        w->handler(w->userdata);
        return 0;
}

int cgroup_watch_new(sd_event *event, const char *root, cgroup_handler_t handler, void *userdata,
                     CgroupWatch **ret) {
        _cleanup_(cgroup_watch_freep) CgroupWatch *w = NULL;
        int r;

        w = calloc(1, sizeof(CgroupWatch));
        if (!w)
                return -ENOMEM;
        w->fd = -EBADF;
        w->handler = handler;
        w->userdata = userdata;
        w->root = strdup(root);
        if (!w->root)
                return -ENOMEM;
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
        int r;

        watches_clear(w);
        for (size_t i = 0; i < n_paths; i++) {
                char dir[PATH_MAX];
                int n = snprintf(dir, sizeof(dir), "%s/%s", w->root, paths[i]);

                if (n < 0 || (size_t)n >= sizeof(dir))
                        return -ENAMETOOLONG;
                /* The path itself, else its nearest ancestor that exists (the root at worst). */
                for (;;) {
                        char *slash;

                        r = watch_add(w, dir);
                        if (r != -ENOENT && r != -ENOTDIR)
                                break;
                        slash = strrchr(dir, '/');
                        if (!slash || (size_t)(slash - dir) < strlen(w->root))
                                break;
                        *slash = '\0';
                }
                if (r < 0)
                        return r;
        }
        return 0;
}

/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "state.h"

/* The state file is small even at the endpoint limit (about 3 MiB); anything larger is not ours. */
#define STATE_FILE_SIZE_MAX (16u * 1024 * 1024)

const char *state_dir_default(void) {
        const char *e = getenv("STATE_DIRECTORY");

        /* systemd may pass several colon-separated directories; ours is the first. */
        if (e && *e && !strchr(e, ':'))
                return e;
        return STATE_DIR_DEFAULT;
}

static int write_all(int fd, const char *p, size_t n) {
        while (n > 0) {
                ssize_t k = write(fd, p, n);

                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                p += k;
                n -= (size_t)k;
        }
        return 0;
}

#define TMP_PREFIX "." STATE_FILE "."
#define TMP_SUFFIX ".tmp"

void state_save_abort(StateSave *st) {
        if (st->dfd >= 0) {
                (void)unlinkat(st->dfd, st->tmp, 0);
                close(st->dfd);
        }
        st->dfd = -EBADF;
}

int state_save_prepare(const char *dir, const Settings *s, StateSave *ret) {
        _cleanup_(closep) int fd = -EBADF;
        _cleanup_(freep) char *text = NULL;
        StateSave st = {.dfd = -EBADF};
        int r;

        r = settings_to_text(s, &text);
        if (r < 0)
                return r;

        /* systemd's StateDirectory= makes it; by hand, the first save does. */
        if (mkdir(dir, 0700) < 0 && errno != EEXIST)
                return -errno;
        st.dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (st.dfd < 0)
                return -errno;

        snprintf(st.tmp, sizeof(st.tmp), TMP_PREFIX "%d" TMP_SUFFIX, (int)getpid());
        fd = openat(st.dfd, st.tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (fd < 0) {
                r = -errno;
                close(st.dfd);
                return r;
        }
        r = write_all(fd, text, strlen(text));
        if (r >= 0 && fsync(fd) < 0)
                r = -errno;
        if (r < 0) {
                state_save_abort(&st);
                return r;
        }
        *ret = st;
        return 0;
}

int state_save_finish(StateSave *st) {
        int r = 0;

        if (renameat(st->dfd, st->tmp, st->dfd, STATE_FILE) < 0) {
                r = -errno;
                state_save_abort(st);
                return r;
        }
        /* The rename is durable only once the directory itself is on disk. */
        if (fsync(st->dfd) < 0)
                r = -errno;
        close(st->dfd);
        st->dfd = -EBADF;
        return r;
}

int state_save(const char *dir, const Settings *s) {
        StateSave st;
        int r;

        r = state_save_prepare(dir, s, &st);
        if (r < 0)
                return r;
        return state_save_finish(&st);
}

/* Saves cut short by a crash leave their temporary files behind; a crash loop would fill the
 * directory with them. */
static void remove_stale_temporaries(int dfd) {
        _cleanup_(closep) int fd = dup(dfd);
        DIR *d;
        struct dirent *de;

        if (fd < 0 || !(d = fdopendir(fd)))
                return;
        fd = -EBADF; /* owned by d now */
        while ((de = readdir(d))) {
                size_t n = strlen(de->d_name);

                if (strncmp(de->d_name, TMP_PREFIX, strlen(TMP_PREFIX)) == 0 &&
                    n > strlen(TMP_SUFFIX) &&
                    strcmp(de->d_name + n - strlen(TMP_SUFFIX), TMP_SUFFIX) == 0)
                        (void)unlinkat(dfd, de->d_name, 0);
        }
        closedir(d);
}

static int read_file(int dfd, const char *name, char **ret, size_t *ret_size) {
        _cleanup_(closep) int fd = -EBADF;
        _cleanup_(freep) char *buf = NULL;
        struct stat st;
        size_t n = 0;

        fd = openat(dfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
        if (fd < 0)
                return -errno;
        if (fstat(fd, &st) < 0)
                return -errno;
        if (!S_ISREG(st.st_mode))
                return -EBADMSG;
        if ((uint64_t)st.st_size > STATE_FILE_SIZE_MAX)
                return -EFBIG;

        buf = malloc((size_t)st.st_size + 1);
        if (!buf)
                return -ENOMEM;
        while (n < (size_t)st.st_size) {
                ssize_t k = read(fd, buf + n, (size_t)st.st_size - n);

                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                if (k == 0)
                        break;
                n += (size_t)k;
        }
        *ret = TAKE_PTR(buf);
        *ret_size = n;
        return 0;
}

int state_load(const char *dir, Settings *ret, char error[static ERROR_MAX]) {
        _cleanup_(closep) int dfd = -EBADF;
        _cleanup_(freep) char *text = NULL;
        size_t size = 0;
        int r;

        dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd < 0) {
                snprintf(error, ERROR_MAX, "cannot open state directory %s: %s", dir,
                         strerror(errno));
                return -errno;
        }

        remove_stale_temporaries(dfd);
        r = read_file(dfd, STATE_FILE, &text, &size);
        if (r == -ENOENT)
                return r;
        if (r == -ENOMEM || r == -EACCES || r == -EIO) {
                snprintf(error, ERROR_MAX, "cannot read %s/%s: %s", dir, STATE_FILE, strerror(-r));
                return r;
        }
        if (r < 0)
                snprintf(error, ERROR_MAX, "%s/%s: %s", dir, STATE_FILE,
                         r == -EFBIG   ? "too large"
                         : r == -ELOOP ? "is a symlink"
                                       : strerror(-r));
        else
                r = settings_from_text(text, size, ret, error);
        if (r == -EBADMSG || r == -EFBIG || r == -ELOOP) {
                /* Keep the evidence for the user, out of the way of the next save. */
                if (renameat(dfd, STATE_FILE, dfd, STATE_FILE_BAD) >= 0)
                        (void)fsync(dfd);
                return -EBADMSG;
        }
        return r;
}

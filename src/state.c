/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "settings-text.h"
#include "state.h"

/* A snapshot is about 3 MiB at the endpoint limit, and changes take at most as much again;
 * anything larger is not ours. */
#define STATE_FILE_SIZE_MAX (16u * 1024 * 1024)

/* Changes are appended while they take no more room than the snapshot, or this much: reading
 * stays within twice the cost of a snapshot, and writing the file whole, which empties the
 * changes, is paid for by as many bytes of changes as it writes. */
#define STATE_CHANGES_MIN (64u * 1024)

#define COMMIT "commit "

const char *state_dir_default(void) {
        const char *e = getenv("STATE_DIRECTORY");

        /* systemd may pass several colon-separated directories; ours is the first. */
        if (e && *e && !strchr(e, ':'))
                return e;
        return STATE_DIR_DEFAULT;
}

/* CRC-32 as zlib's crc32() computes it (Python: zlib.crc32()), four bits at a time. */
static uint32_t crc32_update(uint32_t crc, const void *p, size_t n) {
        static const uint32_t table[16] = {
                0x00000000, 0x1db71064, 0x3b6e20c8, 0x26d930ac, 0x76dc4190, 0x6b6b51f4,
                0x4db26158, 0x5005713c, 0xedb88320, 0xf00f9344, 0xd6d6a3e8, 0xcb61b38c,
                0x9b64c2b0, 0x86d3d2d4, 0xa00ae278, 0xbdbdf21c,
        };
        const uint8_t *b = p;

        crc = ~crc;
        while (n-- > 0) {
                crc ^= *b++;
                crc = (crc >> 4) ^ table[crc & 15];
                crc = (crc >> 4) ^ table[crc & 15];
        }
        return ~crc;
}

void state_commit_line(unsigned number, const char *change, size_t n,
                       char ret[static STATE_COMMIT_MAX]) {
        int k = snprintf(ret, STATE_COMMIT_MAX, COMMIT "%u ", number);

        snprintf(ret + k, STATE_COMMIT_MAX - (size_t)k, "%08" PRIx32 "\n",
                 crc32_update(crc32_update(0, change, n), ret, (size_t)k));
}

/* Whether 'line' (n bytes, without its newline) is the commit line of change 'number', which
 * began at 'start'. */
static bool commit_valid(const char *text, size_t start, const char *line, size_t n,
                         unsigned number) {
        char want[STATE_COMMIT_MAX];

        state_commit_line(number, text + start, (size_t)(line - text) - start, want);
        return n + 1 == strlen(want) && memcmp(line, want, n) == 0;
}

/* The lines of one committed change, [start, end). */
static int apply_change(Settings *s, SettingsChanges *c, const char *text, size_t start, size_t end,
                        unsigned lineno, Error *error) {
        for (size_t pos = start; pos < end; lineno++) {
                const char *p = text + pos, *nl = memchr(p, '\n', end - pos);
                size_t n = (size_t)(nl - p);
                char line[256];
                int r;

                pos += n + 1;
                if (memchr(p, '\0', n))
                        r = error_set(error, ERROR_STATE, -EINVAL, "contains a NUL byte");
                else if (n >= sizeof(line))
                        r = error_set(error, ERROR_STATE, -EINVAL, "longer than 255 bytes");
                else {
                        memcpy(line, p, n);
                        line[n] = '\0';
                        r = settings_change_from_line(s, c, line, lineno, error);
                }
                if (r == -ENOMEM)
                        return r;
                if (r < 0)
                        return error_prefix(error, -EBADMSG, "line %u: ", lineno);
        }
        return 0;
}

static unsigned count_lines(const char *text, size_t size) {
        unsigned n = 0;

        for (const char *p = text; (p = memchr(p, '\n', size - (size_t)(p - text))); p++)
                n++;
        return n;
}

int state_parse(const char *text, size_t size, Settings *ret, StateFile *ret_layout, Error *error) {
        _cleanup_(settings_done) Settings s = {};
        _cleanup_(settings_changes_done) SettingsChanges c = {};
        size_t pos, start, snapshot;
        unsigned lineno, start_line, changes = 0;
        int version, r;

        version = settings_from_text(text, size, &s, &snapshot, error);
        if (version < 0)
                return version;

        /* Changes follow, each closed by its commit line. Each is appended only once the one
         * before is on disk, so only the last can be unfinished: cut short, or with a commit
         * line that does not check out. It was never acknowledged, and is left out. */
        pos = start = snapshot;
        lineno = start_line = count_lines(text, snapshot) + 1;
        while (pos < size) {
                const char *line = text + pos, *nl = memchr(line, '\n', size - pos);
                size_t n;

                if (!nl)
                        break;
                n = (size_t)(nl - line);
                pos += n + 1;
                lineno++;
                if (n < strlen(COMMIT) || memcmp(line, COMMIT, strlen(COMMIT)) != 0)
                        continue;
                if (!commit_valid(text, start, line, n, changes + 1)) {
                        if (pos == size)
                                break;
                        return error_set(error, ERROR_STATE, -EBADMSG,
                                         "line %u: change %u does not check out", lineno - 1,
                                         changes + 1);
                }
                r = apply_change(&s, &c, text, start, (size_t)(line - text), start_line, error);
                if (r < 0)
                        return r;
                changes++;
                start = pos;
                start_line = lineno;
        }
        r = settings_changes_apply(&s, &c, error);
        if (r == -ENOMEM)
                return r;
        if (r < 0)
                return -EBADMSG;

        if (ret_layout) {
                /* Appending needs a version 2 file that ends with its last commit. */
                bool appendable = version == 2 && start == size && text[size - 1] == '\n';

                ret_layout->size = appendable ? start : 0;
                ret_layout->snapshot = snapshot;
                ret_layout->changes = changes;
        }
        *ret = s;
        settings_init(&s);
        return 0;
}

/* At 'offset', or at the file position when it is negative. */
static int write_all(int fd, const char *p, size_t n, off_t offset) {
        while (n > 0) {
                ssize_t k = offset < 0 ? write(fd, p, n) : pwrite(fd, p, n, offset);

                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                p += k;
                n -= (size_t)k;
                if (offset >= 0)
                        offset += k;
        }
        return 0;
}

#define TMP_PREFIX "." STATE_FILE "."
#define TMP_SUFFIX ".tmp"

static void save_close(StateSave *st) {
        if (st->fd >= 0)
                close(st->fd);
        if (st->dfd >= 0)
                close(st->dfd);
        st->fd = st->dfd = -EBADF;
}

void state_save_abort(const StateFile *f, StateSave *st) {
        if (st->tmp[0] != '\0')
                (void)unlinkat(st->dfd, st->tmp, 0);
        else if (st->fd >= 0)
                /* Should this fail, the next save finds the file longer than f->size and writes
                 * it whole; meanwhile readers leave the unfinished change out. */
                (void)ftruncate(st->fd, (off_t)f->size);
        save_close(st);
}

/* The whole text in a temporary file, renamed over the state file by state_save_finish(). */
static int prepare_whole(const StateFile *f, const Settings *s, StateSave *ret) {
        _cleanup_(freep) char *text = NULL;
        StateSave st = {.dfd = -EBADF, .fd = -EBADF};
        size_t n;
        int r;

        r = settings_to_text(s, &text);
        if (r < 0)
                return r;
        n = strlen(text);

        /* systemd's StateDirectory= makes it; by hand, the first save does. */
        if (mkdir(f->dir, 0700) < 0 && errno != EEXIST)
                return -errno;
        st.dfd = open(f->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (st.dfd < 0)
                return -errno;

        snprintf(st.tmp, sizeof(st.tmp), TMP_PREFIX "%d" TMP_SUFFIX, (int)getpid());
        st.fd = openat(st.dfd, st.tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (st.fd < 0) {
                r = -errno;
                st.tmp[0] = '\0';
                save_close(&st);
                return r;
        }
        r = write_all(st.fd, text, n, -1);
        if (r < 0) {
                state_save_abort(f, &st);
                return r;
        }
        /* The disk writes while the kernel commits; finish waits for the rest. */
        (void)sync_file_range(st.fd, 0, 0, SYNC_FILE_RANGE_WRITE);
        st.next = (StateFile){.dir = f->dir, .size = n, .snapshot = n};
        *ret = st;
        return 0;
}

/* The change's lines at the end of the state file, then, where its commit line will go, a line
 * of the same length that is not one: "cancel N CRC". The room is taken now, so that making the
 * change final cannot run out of space once the kernel took it; should the daemon stop before,
 * the change ends without its commit line and is left out. Returns -ESTALE when the file is not
 * the one the last save left. */
static int prepare_append(const StateFile *f, const char *text, size_t n, StateSave *ret) {
        _cleanup_(closep) int dfd = -EBADF;
        StateSave st = {.dfd = -EBADF, .fd = -EBADF};
        char cancel[STATE_COMMIT_MAX];
        struct stat sb;
        size_t k;
        int r;

        dfd = open(f->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd < 0)
                return -errno;
        st.fd = openat(dfd, STATE_FILE, O_WRONLY | O_CLOEXEC | O_NOFOLLOW);
        if (st.fd < 0)
                return errno == ENOENT || errno == ELOOP ? -ESTALE : -errno;
        /* Moved aside by a load that found it corrupt, a change a failed abort left, a hand: the
         * file must be exactly what we last wrote. */
        if (fstat(st.fd, &sb) < 0 || !S_ISREG(sb.st_mode) || (uint64_t)sb.st_size != f->size) {
                save_close(&st);
                return -ESTALE;
        }

        state_commit_line(f->changes + 1, text, n, st.commit);
        k = strlen(st.commit);
        memcpy(cancel, st.commit, k);
        memcpy(cancel, "cancel", strlen("cancel"));
        st.commit_at = (off_t)(f->size + n);
        r = write_all(st.fd, text, n, (off_t)f->size);
        if (r >= 0)
                r = write_all(st.fd, cancel, k, st.commit_at);
        if (r < 0) {
                state_save_abort(f, &st);
                return r;
        }
        st.next = *f;
        st.next.size += n + k;
        st.next.changes++;
        *ret = st;
        return 0;
}

/* How many more bytes of changes the file takes before it is written whole again. */
static size_t changes_room(const StateFile *f) {
        uint64_t max = f->snapshot > STATE_CHANGES_MIN ? f->snapshot : STATE_CHANGES_MIN;
        uint64_t used = f->size - f->snapshot;

        return f->size == 0 || used >= max ? 0 : (size_t)(max - used);
}

/* The file is still the one the last save left (not moved aside, not changed by hand). */
static bool file_as_left(const StateFile *f) {
        char path[PATH_MAX];
        struct stat sb;

        snprintf(path, sizeof(path), "%s/" STATE_FILE, f->dir);
        return lstat(path, &sb) >= 0 && S_ISREG(sb.st_mode) && (uint64_t)sb.st_size == f->size;
}

/* Appended when the file takes it, else the file is written whole. */
static int prepare_change(const StateFile *f, const Settings *new, const char *text, size_t n,
                          StateSave *ret) {
        int r;

        if (f->size == 0 || n > changes_room(f))
                return prepare_whole(f, new, ret);
        if (n == 0 && file_as_left(f)) {
                /* Nothing changed, and the file holds it: nothing to write. */
                *ret = (StateSave){.dfd = -EBADF, .fd = -EBADF, .next = *f};
                return 0;
        }
        if (n == 0)
                return prepare_whole(f, new, ret);
        r = prepare_append(f, text, n, ret);
        if (r == -ESTALE)
                return prepare_whole(f, new, ret);
        return r;
}

int state_save_prepare(const StateFile *f, const Settings *old, const Settings *new,
                       StateSave *ret) {
        _cleanup_(freep) char *text = NULL;
        size_t n = 0;
        FILE *m;
        int r;

        if (f->size == 0)
                return prepare_whole(f, new, ret);
        m = open_memstream(&text, &n);
        if (!m)
                return -ENOMEM;
        r = settings_changes_to_text(old, new, changes_room(f), m);
        if (fclose(m) != 0)
                return -ENOMEM;
        if (r == -EFBIG)
                return prepare_whole(f, new, ret);
        if (r < 0)
                return r;
        return prepare_change(f, new, text, n, ret);
}

int state_save_prepare_endpoint(const StateFile *f, const Settings *new, const Endpoint *e,
                                bool add, StateSave *ret) {
        _cleanup_(freep) char *text = NULL;
        size_t n = 0;
        FILE *m;
        int r;

        m = open_memstream(&text, &n);
        if (!m)
                return -ENOMEM;
        r = settings_endpoint_change_to_text(e, add, m);
        if (fclose(m) != 0)
                return -ENOMEM;
        if (r < 0)
                return r;
        return prepare_change(f, new, text, n, ret);
}

int state_save_finish(StateFile *f, StateSave *st) {
        int r = 0;

        if (st->fd < 0)
                return 0;
        if (st->tmp[0] == '\0') {
                /* The commit line makes the change count; fdatasync() makes it durable, with the
                 * file's new size: one flush, no rename, no directory to sync. */
                r = write_all(st->fd, st->commit, strlen(st->commit), st->commit_at);
                if (r >= 0 && fdatasync(st->fd) < 0)
                        r = -errno;
                if (r < 0) {
                        state_save_abort(f, st);
                        f->size = 0; /* what reached the disk is unknown: write it whole next */
                        return r;
                }
        } else {
                if (fsync(st->fd) < 0 || renameat(st->dfd, st->tmp, st->dfd, STATE_FILE) < 0) {
                        r = -errno;
                        state_save_abort(f, st);
                        return r;
                }
                /* The rename is durable only once the directory itself is on disk. */
                if (fsync(st->dfd) < 0) {
                        r = -errno;
                        save_close(st);
                        f->size = 0;
                        return r;
                }
        }
        save_close(st);
        *f = st->next;
        return 0;
}

int state_save(const char *dir, const Settings *s) {
        StateFile f = {.dir = dir};
        StateSave st;
        int r;

        r = prepare_whole(&f, s, &st);
        if (r < 0)
                return r;
        return state_save_finish(&f, &st);
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

int state_load_file(StateFile *f, Settings *ret, Error *error) {
        _cleanup_(closep) int dfd = -EBADF;
        _cleanup_(freep) char *text = NULL;
        StateFile layout = {.dir = f->dir};
        size_t size = 0;
        int r;

        /* Until a file we can append to is read, the next save writes it whole. */
        f->size = 0;
        dfd = open(f->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd < 0)
                return error_set(error, ERROR_STATE, -errno, "cannot open state directory %s: %m",
                                 f->dir);

        remove_stale_temporaries(dfd);
        r = read_file(dfd, STATE_FILE, &text, &size);
        if (r == -ENOENT)
                return r;
        if (r == -ENOMEM || r == -EACCES || r == -EIO)
                return error_set(error, ERROR_STATE, r, "cannot read %s/%s: %s", f->dir, STATE_FILE,
                                 strerror(-r));
        if (r < 0)
                error_set(error, ERROR_STATE, r, "%s/%s: %s", f->dir, STATE_FILE,
                          r == -EFBIG   ? "too large"
                          : r == -ELOOP ? "is a symlink"
                                        : strerror(-r));
        else
                r = state_parse(text, size, ret, &layout, error);
        if (r == -EBADMSG || r == -EFBIG || r == -ELOOP) {
                /* Keep the evidence for the user, out of the way of the next save. */
                if (renameat(dfd, STATE_FILE, dfd, STATE_FILE_BAD) >= 0)
                        (void)fsync(dfd);
                return -EBADMSG;
        }
        if (r >= 0)
                *f = layout;
        return r;
}

int state_load(const char *dir, Settings *ret, Error *error) {
        StateFile f = {.dir = dir};

        return state_load_file(&f, ret, error);
}

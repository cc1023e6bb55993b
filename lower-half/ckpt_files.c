#define _GNU_SOURCE
#include "ckpt_files.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "image_format.h"

#define HEAD_BYTES (8 + 4)
#define FILE_FIXED (4 + 4 + 4 + 8 + 8 + 4)
#define DELETED_SUFFIX " (deleted)"
#define SHM_PREFIX "/dev/shm/"

/* Flags that made sense when the application first opened the file and
 * would do harm now (O_TRUNC would empty it), or that open() cannot take
 * back (close-on-exec travels apart, as fd_flags). */
#define REOPEN_DROP (O_CREAT | O_EXCL | O_TRUNC | O_NOCTTY | O_CLOEXEC)

void ckpt_files_free(struct ckpt_file_table *t)
{
    free(t->f);
    t->f = NULL;
    t->count = 0;
}

static int in_list(int fd, const int *list, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (list[i] == fd)
            return 1;
    return 0;
}

static int by_fd(const void *a, const void *b)
{
    int32_t x = ((const struct ckpt_file *)a)->fd, y = ((const struct ckpt_file *)b)->fd;
    return (x > y) - (x < y);
}

static int ends_with(const char *s, size_t len, const char *suffix)
{
    size_t n = strlen(suffix);
    return len >= n && memcmp(s + len - n, suffix, n) == 0;
}

/* One fd of the listing in FDDIR: 1 and *F filled to save it, 0 to leave
 * it, -1 with ERR to fail the checkpoint. */
static int capture_one(const char *fddir, int fd, struct ckpt_file *f, char *err, size_t errlen)
{
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode))
        return 0; /* closed since the listing, or not a regular file */
    char link[64];
    snprintf(link, sizeof link, "%s/%d", fddir, fd);
    ssize_t n = readlink(link, f->path, sizeof f->path);
    if (n < 0) {
        snprintf(err, errlen, "fd %d: cannot read its path (%s): %s", fd, link, strerror(errno));
        return -1;
    }
    if ((size_t)n >= sizeof f->path) {
        snprintf(err, errlen, "fd %d: its path is longer than %d bytes, which a restart cannot reopen",
                 fd, PATH_MAX - 1);
        return -1;
    }
    f->path[n] = '\0';
    if (f->path[0] != '/')
        return 0; /* not a file of a mounted file system the restart can name */
    if (strncmp(f->path, SHM_PREFIX, strlen(SHM_PREFIX)) == 0)
        return 0; /* the MPI library's shared memory, deleted or not */
    /* The suffix alone would also match a file really named "x (deleted)":
     * the path must lead back to this very file. A file unlinked under
     * one of several names keeps st_nlink > 0 and has the suffix. */
    struct stat by_path;
    if (st.st_nlink == 0
        || (ends_with(f->path, (size_t)n, DELETED_SUFFIX)
            && (stat(f->path, &by_path) != 0 || by_path.st_dev != st.st_dev || by_path.st_ino != st.st_ino))) {
        snprintf(err, errlen,
                 "fd %d is %s: the application keeps a deleted file open (tmpfile()? memfd_create()?), "
                 "which a restart cannot reopen; keep the file until the job ends, or close it "
                 "before a checkpoint", fd, f->path);
        return -1;
    }
    int flags = fcntl(fd, F_GETFL), fd_flags = fcntl(fd, F_GETFD);
    if (flags < 0 || fd_flags < 0) {
        snprintf(err, errlen, "fd %d (%s): fcntl: %s", fd, f->path, strerror(errno));
        return -1;
    }
    off_t off = 0;
    if (!(flags & O_PATH) && (off = lseek(fd, 0, SEEK_CUR)) < 0) {
        snprintf(err, errlen, "fd %d (%s): cannot read its offset: %s", fd, f->path, strerror(errno));
        return -1;
    }
    f->fd = fd;
    f->flags = flags;
    f->fd_flags = fd_flags & FD_CLOEXEC;
    f->offset = (uint64_t)off;
    f->size = (uint64_t)st.st_size;
    return 1;
}

int ckpt_files_capture(struct ckpt_file_table *t, const int *skip, size_t nskip, char *err, size_t errlen)
{
    t->count = 0;
    t->f = NULL;
    /* The calling thread's own table: /proc/self/fd would be the main
     * thread's, which cannot be read once that thread has exited. */
    const char *fddir = "/proc/thread-self/fd";
    DIR *d = opendir(fddir);
    if (d == NULL)
        d = opendir(fddir = "/proc/self/fd");
    if (d == NULL) {
        snprintf(err, errlen, "cannot list the open files (/proc/self/fd): %s", strerror(errno));
        return -1;
    }
    int self = dirfd(d), rc = 0;
    uint32_t cap = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        char *end;
        long v = strtol(e->d_name, &end, 10);
        if (*end != '\0' || end == e->d_name || v < 3 || v > INT_MAX)
            continue; /* ".", "..", and fds 0-2 */
        int fd = (int)v;
        if (fd == self || in_list(fd, skip, nskip))
            continue;
        if (t->count == cap) {
            uint32_t ncap = cap ? 2 * cap : 16;
            struct ckpt_file *nf = ncap <= CKPT_FILES_MAX ? realloc(t->f, ncap * sizeof *nf) : NULL;
            if (nf == NULL) {
                if (ncap > CKPT_FILES_MAX)
                    snprintf(err, errlen, "the application has more than %d regular files open, more than a "
                             "checkpoint saves", CKPT_FILES_MAX);
                else
                    snprintf(err, errlen, "out of memory listing the open files (%u so far)", t->count);
                rc = -1;
                break;
            }
            t->f = nf;
            cap = ncap;
        }
        int r = capture_one(fddir, fd, &t->f[t->count], err, errlen);
        if (r < 0) {
            rc = -1;
            break;
        }
        t->count += (uint32_t)r;
    }
    closedir(d);
    if (rc != 0) {
        ckpt_files_free(t);
        return -1;
    }
    if (t->count > 0)
        qsort(t->f, t->count, sizeof *t->f, by_fd);
    return 0;
}

uint8_t *ckpt_files_encode(const struct ckpt_file_table *t, size_t *len)
{
    if (t->count > CKPT_FILES_MAX)
        return NULL;
    size_t n = HEAD_BYTES;
    for (uint32_t i = 0; i < t->count; i++) {
        size_t plen = strnlen(t->f[i].path, sizeof t->f[i].path);
        if (plen == 0 || plen >= sizeof t->f[i].path || t->f[i].fd < 3 || (i > 0 && t->f[i].fd <= t->f[i - 1].fd))
            return NULL;
        n += FILE_FIXED + plen;
    }
    uint8_t *buf = malloc(n), *q = buf;
    if (buf == NULL)
        return NULL;
    memcpy(q, CKPT_FILES_MAGIC, 8);
    img_put32(q + 8, t->count);
    q += HEAD_BYTES;
    for (uint32_t i = 0; i < t->count; i++) {
        const struct ckpt_file *f = &t->f[i];
        uint32_t plen = (uint32_t)strlen(f->path);
        img_put32(q, (uint32_t)f->fd);
        img_put32(q + 4, (uint32_t)f->flags);
        img_put32(q + 8, (uint32_t)f->fd_flags);
        img_put64(q + 12, f->offset);
        img_put64(q + 20, f->size);
        img_put32(q + 28, plen);
        memcpy(q + FILE_FIXED, f->path, plen);
        q += FILE_FIXED + plen;
    }
    *len = n;
    return buf;
}

int ckpt_files_decode(const uint8_t *buf, size_t len, struct ckpt_file_table *t, char *err, size_t errlen)
{
    t->count = 0;
    t->f = NULL;
    if (len < HEAD_BYTES || memcmp(buf, CKPT_FILES_MAGIC, 8) != 0) {
        snprintf(err, errlen, "the open-files record of the image is not one (%zu bytes, bad magic or too short)",
                 len);
        return -1;
    }
    uint32_t count = img_get32(buf + 8);
    /* Bounded by the bytes there before anything is allocated. */
    if (count > CKPT_FILES_MAX || count > (len - HEAD_BYTES) / FILE_FIXED) {
        snprintf(err, errlen, "the open-files record of the image is damaged: %u files in %zu bytes", count, len);
        return -1;
    }
    struct ckpt_file *fs = count ? calloc(count, sizeof *fs) : NULL;
    if (count && fs == NULL) {
        snprintf(err, errlen, "out of memory reading %u open files", count);
        return -1;
    }
    const uint8_t *q = buf + HEAD_BYTES, *end = buf + len;
    for (uint32_t i = 0; i < count; i++) {
        struct ckpt_file *f = &fs[i];
        if ((size_t)(end - q) < FILE_FIXED) {
            snprintf(err, errlen, "the open-files record of the image is damaged: file %u of %u is cut short", i,
                     count);
            goto bad;
        }
        f->fd = (int32_t)img_get32(q);
        f->flags = (int32_t)img_get32(q + 4);
        f->fd_flags = (int32_t)img_get32(q + 8);
        f->offset = img_get64(q + 12);
        f->size = img_get64(q + 20);
        uint32_t plen = img_get32(q + 28);
        q += FILE_FIXED;
        if (f->fd < 3 || (i > 0 && f->fd <= fs[i - 1].fd)) {
            snprintf(err, errlen, "the open-files record of the image is damaged: file %u has fd %d (fds must be "
                     "above 2 and increasing)", i, (int)f->fd);
            goto bad;
        }
        if ((f->fd_flags & ~FD_CLOEXEC) != 0 || f->offset > INT64_MAX || f->size > INT64_MAX) {
            snprintf(err, errlen, "the open-files record of the image is damaged: fd %d has fd flags %#x, offset "
                     "%llu, size %llu", (int)f->fd, (unsigned)f->fd_flags, (unsigned long long)f->offset,
                     (unsigned long long)f->size);
            goto bad;
        }
        if (plen == 0 || plen >= PATH_MAX || (size_t)(end - q) < plen) {
            snprintf(err, errlen, "the open-files record of the image is damaged: fd %d has a path of %u bytes "
                     "with %zu left", (int)f->fd, plen, (size_t)(end - q));
            goto bad;
        }
        if (q[0] != '/' || memchr(q, '\0', plen) != NULL) {
            snprintf(err, errlen, "the open-files record of the image is damaged: the path of fd %d is not "
                     "absolute or holds a NUL byte", (int)f->fd);
            goto bad;
        }
        memcpy(f->path, q, plen);
        f->path[plen] = '\0';
        q += plen;
    }
    if (q != end) {
        snprintf(err, errlen, "the open-files record of the image is damaged: %zu bytes after the last file",
                 (size_t)(end - q));
        goto bad;
    }
    t->count = count;
    t->f = fs;
    return 0;
bad:
    free(fs);
    return -1;
}

/* Puts a close-on-exec /dev/null at N, which must be free. Close-on-exec
 * so that no helper the MPI library may exec inherits the placeholders. */
static int place_holder(int n, char *err, size_t errlen)
{
    int tmp = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (tmp < 0) {
        snprintf(err, errlen, "cannot open /dev/null to hold fd %d: %s", n, strerror(errno));
        return -1;
    }
    if (tmp == n)
        return 0; /* the lowest free number was N itself */
    int r = dup3(tmp, n, O_CLOEXEC), e = errno;
    close(tmp);
    if (r < 0) {
        snprintf(err, errlen, "cannot hold fd %d for a saved file: %s%s", n, strerror(e),
                 e == EBADF ? " (the limit on open files, ulimit -n, is below it: raise it to what the "
                              "checkpointed run had)" : "");
        return -1;
    }
    return 0;
}

static int pmi_fd_number(void)
{
    const char *s = getenv("PMI_FD");
    if (s == NULL || *s == '\0')
        return -1;
    char *end;
    long v = strtol(s, &end, 10);
    return *end == '\0' && v >= 0 && v <= INT_MAX ? (int)v : -1;
}

int ckpt_files_hold(const struct ckpt_file_table *t, int *moved_pmi_fd, char *err, size_t errlen)
{
    if (moved_pmi_fd != NULL)
        *moved_pmi_fd = -1;
    if (t->count == 0)
        return 0;
    for (uint32_t i = 0; i < t->count; i++)
        if (t->f[i].fd < 3) {
            snprintf(err, errlen, "fd %d (%s) cannot be held: fds 0-2 come from the launcher", (int)t->f[i].fd,
                     t->f[i].path);
            return -1;
        }
    char *taken = malloc(t->count);
    if (taken == NULL) {
        snprintf(err, errlen, "out of memory holding %u fds", t->count);
        return -1;
    }
    for (uint32_t i = 0; i < t->count; i++)
        taken[i] = fcntl(t->f[i].fd, F_GETFD) >= 0;
    int rc = -1;
    /* First the free numbers, so that what must move cannot land on one:
     * every saved number is then open, and the lowest free number is
     * never a saved one. */
    for (uint32_t i = 0; i < t->count; i++)
        if (!taken[i] && place_holder(t->f[i].fd, err, errlen) != 0)
            goto out;
    /* Then the numbers the launcher left open here (MPICH hydra's PMI
     * socket, named by PMI_FD, is one): the new MPI library needs that fd
     * by whatever number it finds it, and the application needs the
     * number, since its FILE*s and ints hold it. So the launcher's fd
     * moves, keeping its close-on-exec state, and PMI_FD follows it. */
    int pmi = pmi_fd_number();
    for (uint32_t i = 0; i < t->count; i++) {
        if (!taken[i])
            continue;
        int n = t->f[i].fd, fdfl = fcntl(n, F_GETFD);
        int moved = fcntl(n, F_DUPFD_CLOEXEC, 3);
        if (fdfl < 0 || moved < 0) {
            snprintf(err, errlen, "cannot move the launcher's fd %d away from a saved file's number: %s", n,
                     strerror(errno));
            goto out;
        }
        if (!(fdfl & FD_CLOEXEC))
            fcntl(moved, F_SETFD, fdfl);
        close(n);
        if (n == pmi) {
            char num[16];
            snprintf(num, sizeof num, "%d", moved);
            if (setenv("PMI_FD", num, 1) != 0) {
                snprintf(err, errlen, "cannot update PMI_FD from %d to %d: %s", n, moved, strerror(errno));
                goto out;
            }
            if (moved_pmi_fd != NULL)
                *moved_pmi_fd = moved;
        }
        if (place_holder(n, err, errlen) != 0)
            goto out;
    }
    rc = 0;
out:
    free(taken);
    return rc;
}

static int is_placeholder(int fd, const struct stat *null_st)
{
    struct stat st;
    return fstat(fd, &st) == 0 && S_ISCHR(st.st_mode) && st.st_rdev == null_st->st_rdev;
}

/* Opens F again at a temporary number and checks it against the saved
 * size; *GROWN says it must be rolled back. -1 with ERR. */
static int open_again(const struct ckpt_file *f, int *grown, char *err, size_t errlen)
{
    int flags = f->flags & ~REOPEN_DROP;
    int tmp = open(f->path, flags | O_CLOEXEC);
    if (tmp < 0 && errno == EPERM && (flags & O_NOATIME))
        tmp = open(f->path, (flags & ~O_NOATIME) | O_CLOEXEC); /* no longer its owner: atime is harmless */
    if (tmp < 0) {
        snprintf(err, errlen, "cannot reopen fd %d, %s: %s; put the file back where it was (or restart from a "
                 "generation taken after it moved)", (int)f->fd, f->path, strerror(errno));
        return -1;
    }
    struct stat st;
    if (fstat(tmp, &st) != 0 || !S_ISREG(st.st_mode)) {
        snprintf(err, errlen, "fd %d, %s, is no longer a regular file; put the file back where it was",
                 (int)f->fd, f->path);
        close(tmp);
        return -1;
    }
    *grown = 0;
    if (flags & O_PATH)
        return tmp; /* no offset, no contents */
    uint64_t now = (uint64_t)st.st_size;
    int writable = (flags & O_ACCMODE) != O_RDONLY;
    if ((writable && now < f->size) || (!writable && now < f->offset)) {
        snprintf(err, errlen, "fd %d, %s, is %llu bytes, %s %llu at the checkpoint: it was truncated or replaced "
                 "after the checkpoint; the restart would read or write the wrong bytes; restore the file or "
                 "restart from a later generation", (int)f->fd, f->path, (unsigned long long)now,
                 writable ? "was" : "shorter than its offset", writable ? (unsigned long long)f->size
                                                                        : (unsigned long long)f->offset);
        close(tmp);
        return -1;
    }
    *grown = writable && now > f->size;
    return tmp;
}

int ckpt_files_reopen(const struct ckpt_file_table *t, int verbose, char *err, size_t errlen)
{
    if (t->count == 0)
        return 0;
    struct stat null_st;
    if (stat("/dev/null", &null_st) != 0) {
        snprintf(err, errlen, "cannot stat /dev/null: %s", strerror(errno));
        return -1;
    }
    int *tmp = malloc(t->count * sizeof *tmp), *grown = malloc(t->count * sizeof *grown), rc = -1;
    uint32_t opened = 0;
    if (tmp == NULL || grown == NULL) {
        snprintf(err, errlen, "out of memory reopening %u files", t->count);
        goto out;
    }
    /* Replacing something other than our placeholder would close an fd
     * of the MPI library under it. A free number is held now, so that no
     * temporary fd below lands on a saved number. */
    for (uint32_t i = 0; i < t->count; i++) {
        const struct ckpt_file *f = &t->f[i];
        if (f->fd < 3) {
            snprintf(err, errlen, "fd %d (%s) cannot be reopened: fds 0-2 come from the launcher", (int)f->fd,
                     f->path);
            goto out;
        }
        if (fcntl(f->fd, F_GETFD) < 0) {
            if (place_holder(f->fd, err, errlen) != 0)
                goto out;
        } else if (!is_placeholder(f->fd, &null_st)) {
            snprintf(err, errlen, "fd %d, held for %s, holds something else now: the MPI library closed the "
                     "placeholder and took the number; the restart cannot put the file back", (int)f->fd,
                     f->path);
            goto out;
        }
    }
    /* Everything is checked before anything changes: a refused restart
     * leaves the files as they were, for a restart from another
     * generation. */
    for (; opened < t->count; opened++)
        if ((tmp[opened] = open_again(&t->f[opened], &grown[opened], err, errlen)) < 0)
            goto out;
    for (uint32_t i = 0; i < t->count; i++) {
        const struct ckpt_file *f = &t->f[i];
        struct stat st;
        /* Another fd on the same file may have rolled it back already. */
        if (grown[i] && fstat(tmp[i], &st) == 0 && (uint64_t)st.st_size > f->size) {
            if (ftruncate(tmp[i], (off_t)f->size) != 0) {
                snprintf(err, errlen, "cannot roll %s back to %llu bytes: %s", f->path,
                         (unsigned long long)f->size, strerror(errno));
                goto out;
            }
            if (verbose)
                fprintf(stderr, "MANA: %s rolled back from %llu to %llu bytes (written after the checkpoint)\n",
                        f->path, (unsigned long long)st.st_size, (unsigned long long)f->size);
        }
        /* Every saved number is held, so the temporary is never at it. */
        if (dup3(tmp[i], f->fd, f->fd_flags & FD_CLOEXEC ? O_CLOEXEC : 0) < 0) {
            snprintf(err, errlen, "cannot put %s at fd %d: %s", f->path, (int)f->fd, strerror(errno));
            goto out;
        }
        close(tmp[i]);
        tmp[i] = f->fd;
        if (!(f->flags & O_PATH) && lseek(f->fd, (off_t)f->offset, SEEK_SET) < 0) {
            snprintf(err, errlen, "cannot seek %s (fd %d) to %llu: %s", f->path, (int)f->fd,
                     (unsigned long long)f->offset, strerror(errno));
            goto out;
        }
    }
    rc = 0;
out:
    for (uint32_t i = 0; rc != 0 && i < opened; i++)
        if (tmp[i] != t->f[i].fd)
            close(tmp[i]);
    free(tmp);
    free(grown);
    return rc;
}

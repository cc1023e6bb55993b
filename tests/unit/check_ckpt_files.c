/* Unit tests for lower-half/ckpt_files: which fds a checkpoint saves, the
 * encoding and its decoder's refusals, and the restart's two steps (hold
 * the numbers, reopen the files) done in this same process. Each test
 * runs in its own forked process (Check's default), so closing and
 * moving fds cannot reach the next test. */
#define _GNU_SOURCE
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ckpt_files.h"
#include "image_format.h"

#define FIXED 32 /* bytes of a file record before its path */

static char g_dir[256]; /* a short temporary directory */
/* Whatever was open before the test (Check's own files among them: it
 * keeps its messages in an unlinked temporary file, which capture would
 * rightly refuse), passed to capture as the lower half passes its own. */
static int g_pre[1024];
static size_t g_npre;

static void setup(void)
{
    char tmpl[] = "/tmp/check_ckpt_files.XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(tmpl));
    char real[PATH_MAX];
    ck_assert_ptr_nonnull(realpath(tmpl, real));
    ck_assert_uint_lt(strlen(real), sizeof g_dir);
    strcpy(g_dir, real);
    g_npre = 0;
    DIR *d = opendir("/proc/self/fd");
    ck_assert_ptr_nonnull(d);
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (e->d_name[0] != '.' && atoi(e->d_name) != dirfd(d) && g_npre < sizeof g_pre / sizeof g_pre[0])
            g_pre[g_npre++] = atoi(e->d_name);
    closedir(d);
}

static void teardown(void)
{
    DIR *d = opendir(g_dir);
    if (d == NULL)
        return;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (e->d_name[0] != '.')
            unlinkat(dirfd(d), e->d_name, 0);
    closedir(d);
    rmdir(g_dir);
}

static const char *path_of(const char *name)
{
    static char buf[4][512];
    static int next;
    char *p = buf[next++ % 4];
    snprintf(p, sizeof buf[0], "%s/%.200s", g_dir, name);
    return p;
}

static void make_file(const char *name, const char *content)
{
    int fd = open(path_of(name), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, content, strlen(content)), (ssize_t)strlen(content));
    close(fd);
}

static int open_at(const char *name, int flags, off_t off)
{
    int fd = open(path_of(name), flags);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(lseek(fd, off, SEEK_SET), off);
    return fd;
}

static const struct ckpt_file *find(const struct ckpt_file_table *t, int fd)
{
    for (uint32_t i = 0; i < t->count; i++)
        if (t->f[i].fd == fd)
            return &t->f[i];
    return NULL;
}

static void capture(struct ckpt_file_table *t, const int *extra_skip, size_t nextra)
{
    int skip[1040];
    size_t n = 0;
    for (size_t i = 0; i < g_npre; i++)
        skip[n++] = g_pre[i];
    for (size_t i = 0; i < nextra; i++)
        skip[n++] = extra_skip[i];
    char err[512] = "";
    ck_assert_msg(ckpt_files_capture(t, skip, n, err, sizeof err) == 0, "capture: %s", err);
}

static int is_dev_null(int fd)
{
    struct stat a, b;
    return fstat(fd, &a) == 0 && stat("/dev/null", &b) == 0 && S_ISCHR(a.st_mode) && a.st_rdev == b.st_rdev;
}

static off_t size_of(const char *name)
{
    struct stat st;
    ck_assert_int_eq(stat(path_of(name), &st), 0);
    return st.st_size;
}

#define ck_assert_err_has(err, what) ck_assert_msg(strstr((err), (what)) != NULL, "\"%s\" not in: %s", (what), (err))

/* ---- capture ---------------------------------------------------------- */

START_TEST(capture_keeps_regular_files_only)
{
    make_file("ro.txt", "0123456789");
    make_file("app.txt", "hello");
    make_file("rw.txt", "abcdefghij");
    make_file("cx.txt", "x");
    make_file("skip.txt", "s");
    int ro = open_at("ro.txt", O_RDONLY, 3);
    int app = open_at("app.txt", O_WRONLY | O_APPEND, 0);
    int rw = open_at("rw.txt", O_RDWR, 5);
    int cx = open_at("cx.txt", O_RDONLY | O_CLOEXEC, 0);
    int skipped = open_at("skip.txt", O_RDONLY, 0);
    int p[2], s[2];
    ck_assert_int_eq(pipe(p), 0);
    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, s), 0);
    int null = open("/dev/null", O_RDWR), dir = open(g_dir, O_RDONLY | O_DIRECTORY);
    ck_assert_int_ge(null, 0);
    ck_assert_int_ge(dir, 0);

    struct ckpt_file_table t;
    capture(&t, &skipped, 1);
    ck_assert_uint_eq(t.count, 4);
    for (uint32_t i = 1; i < t.count; i++)
        ck_assert_int_gt(t.f[i].fd, t.f[i - 1].fd);
    int not_saved[] = { 0, 1, 2, p[0], p[1], s[0], s[1], null, dir, skipped };
    for (size_t i = 0; i < sizeof not_saved / sizeof not_saved[0]; i++)
        ck_assert_msg(find(&t, not_saved[i]) == NULL, "fd %d was saved", not_saved[i]);

    const struct ckpt_file *f = find(&t, ro);
    ck_assert_ptr_nonnull(f);
    ck_assert_str_eq(f->path, path_of("ro.txt"));
    ck_assert_int_eq(f->flags & O_ACCMODE, O_RDONLY);
    ck_assert_uint_eq(f->offset, 3);
    ck_assert_uint_eq(f->size, 10);
    ck_assert_int_eq(f->fd_flags, 0);
    ck_assert_ptr_nonnull(f = find(&t, app));
    ck_assert_str_eq(f->path, path_of("app.txt"));
    ck_assert_int_eq(f->flags & O_ACCMODE, O_WRONLY);
    ck_assert(f->flags & O_APPEND);
    ck_assert_uint_eq(f->size, 5);
    ck_assert_ptr_nonnull(f = find(&t, rw));
    ck_assert_int_eq(f->flags & O_ACCMODE, O_RDWR);
    ck_assert(!(f->flags & O_APPEND));
    ck_assert_uint_eq(f->offset, 5);
    ck_assert_ptr_nonnull(f = find(&t, cx));
    ck_assert_int_eq(f->fd_flags, FD_CLOEXEC);
    ckpt_files_free(&t);
    ck_assert_ptr_null(t.f);
}
END_TEST

START_TEST(capture_refuses_deleted_file)
{
    make_file("kept.txt", "k");
    make_file("gone.txt", "g");
    open_at("kept.txt", O_RDONLY, 0);
    int gone = open_at("gone.txt", O_RDWR, 0);
    ck_assert_int_eq(unlink(path_of("gone.txt")), 0);
    struct ckpt_file_table t;
    char err[512] = "", what[PATH_MAX + 32];
    ck_assert_int_eq(ckpt_files_capture(&t, g_pre, g_npre, err, sizeof err), -1);
    snprintf(what, sizeof what, "fd %d is %s (deleted)", gone, path_of("gone.txt"));
    ck_assert_err_has(err, what);
    ck_assert_err_has(err, "cannot reopen");
    ck_assert_uint_eq(t.count, 0);
    ck_assert_ptr_null(t.f);
}
END_TEST

START_TEST(capture_leaves_dev_shm)
{
    struct stat st;
    if (stat("/dev/shm", &st) != 0 || !S_ISDIR(st.st_mode))
        return; /* nothing there to leave out */
    char gone[64], live[64];
    snprintf(gone, sizeof gone, "/dev/shm/check_ckpt_files.%d.gone", (int)getpid());
    snprintf(live, sizeof live, "/dev/shm/check_ckpt_files.%d.live", (int)getpid());
    int g = open(gone, O_RDWR | O_CREAT, 0600), l = open(live, O_RDWR | O_CREAT, 0600);
    ck_assert_int_ge(g, 0);
    ck_assert_int_ge(l, 0);
    unlink(gone);
    make_file("mine.txt", "m");
    int mine = open_at("mine.txt", O_RDONLY, 0);
    struct ckpt_file_table t;
    capture(&t, NULL, 0);
    unlink(live);
    ck_assert_uint_eq(t.count, 1);
    ck_assert_int_eq(t.f[0].fd, mine);
    ckpt_files_free(&t);
}
END_TEST

/* ---- encoding ---------------------------------------------------------- */

static struct ckpt_file_table sample_table(void)
{
    struct ckpt_file_table t = { 3, calloc(3, sizeof(struct ckpt_file)) };
    ck_assert_ptr_nonnull(t.f);
    t.f[0] = (struct ckpt_file){ .fd = 3, .flags = O_RDONLY, .fd_flags = 0, .offset = 7, .size = 9 };
    strcpy(t.f[0].path, "/a");
    t.f[1] = (struct ckpt_file){ .fd = 29, .flags = O_WRONLY | O_APPEND, .fd_flags = FD_CLOEXEC,
                                 .offset = 1ull << 40, .size = (1ull << 40) + 5 };
    strcpy(t.f[1].path, "/tmp/some file with spaces (deleted)");
    t.f[2] = (struct ckpt_file){ .fd = 100000, .flags = O_RDWR | O_DSYNC, .fd_flags = 0, .offset = 0, .size = 0 };
    memset(t.f[2].path, 'p', PATH_MAX - 1);
    t.f[2].path[0] = '/';
    return t;
}

START_TEST(encode_decode_round_trip)
{
    struct ckpt_file_table t = sample_table(), back;
    size_t len = 0;
    uint8_t *buf = ckpt_files_encode(&t, &len);
    ck_assert_ptr_nonnull(buf);
    ck_assert_uint_eq(len, 12 + 3 * FIXED + 2 + strlen(t.f[1].path) + PATH_MAX - 1);
    ck_assert_int_eq(memcmp(buf, "MANAFIL1", 8), 0);
    ck_assert_uint_eq(img_get32(buf + 8), 3);
    char err[256] = "";
    ck_assert_msg(ckpt_files_decode(buf, len, &back, err, sizeof err) == 0, "decode: %s", err);
    ck_assert_uint_eq(back.count, 3);
    for (uint32_t i = 0; i < 3; i++) {
        ck_assert_int_eq(back.f[i].fd, t.f[i].fd);
        ck_assert_int_eq(back.f[i].flags, t.f[i].flags);
        ck_assert_int_eq(back.f[i].fd_flags, t.f[i].fd_flags);
        ck_assert_uint_eq(back.f[i].offset, t.f[i].offset);
        ck_assert_uint_eq(back.f[i].size, t.f[i].size);
        ck_assert_str_eq(back.f[i].path, t.f[i].path);
    }
    free(buf);
    ckpt_files_free(&back);

    struct ckpt_file_table empty = { 0, NULL };
    ck_assert_ptr_nonnull(buf = ckpt_files_encode(&empty, &len));
    ck_assert_uint_eq(len, 12);
    ck_assert_int_eq(ckpt_files_decode(buf, len, &back, err, sizeof err), 0);
    ck_assert_uint_eq(back.count, 0);
    free(buf);

    /* Not in increasing fd order: no encoding. */
    int32_t fd = t.f[0].fd;
    t.f[0].fd = t.f[1].fd;
    ck_assert_ptr_null(ckpt_files_encode(&t, &len));
    t.f[0].fd = fd;
    ckpt_files_free(&t);
}
END_TEST

START_TEST(decode_rejects_every_truncation)
{
    struct ckpt_file_table t = sample_table(), back;
    size_t len = 0;
    uint8_t *buf = ckpt_files_encode(&t, &len);
    ck_assert_ptr_nonnull(buf);
    /* Each prefix in a buffer of exactly its size, so that AddressSanitizer
     * sees any read past it. */
    for (size_t n = 0; n < len; n++) {
        uint8_t *cut = malloc(n ? n : 1);
        memcpy(cut, buf, n);
        char err[256] = "";
        back.count = 99;
        ck_assert_msg(ckpt_files_decode(cut, n, &back, err, sizeof err) == -1, "%zu of %zu bytes accepted", n, len);
        ck_assert(err[0] != '\0');
        ck_assert_uint_eq(back.count, 0);
        ck_assert_ptr_null(back.f);
        free(cut);
    }
    uint8_t *longer = calloc(len + 1, 1);
    memcpy(longer, buf, len);
    char err[256] = "";
    ck_assert_int_eq(ckpt_files_decode(longer, len + 1, &back, err, sizeof err), -1);
    ck_assert_err_has(err, "1 bytes after the last file");
    free(longer);
    free(buf);
    ckpt_files_free(&t);
}
END_TEST

/* A one-file record with the given fields, PATH_LEN bytes of path
 * following (PATH, then 'x' up to PATH_LEN or LEN). */
static uint8_t *one_file(uint32_t count, int32_t fd, int32_t fd_flags, uint64_t off, uint32_t path_len,
                         const char *path, size_t len)
{
    uint8_t *b = calloc(len, 1);
    ck_assert_ptr_nonnull(b);
    memcpy(b, "MANAFIL1", 8);
    img_put32(b + 8, count);
    img_put32(b + 12, (uint32_t)fd);
    img_put32(b + 16, O_RDONLY);
    img_put32(b + 20, (uint32_t)fd_flags);
    img_put64(b + 24, off);
    img_put64(b + 32, 100);
    img_put32(b + 40, path_len);
    memset(b + 44, 'x', len - 44);
    memcpy(b + 44, path, strlen(path));
    return b;
}

static void expect_refused(uint8_t *b, size_t len, const char *what)
{
    struct ckpt_file_table t;
    char err[256] = "";
    ck_assert_msg(ckpt_files_decode(b, len, &t, err, sizeof err) == -1, "accepted: %s", what);
    ck_assert_msg(strstr(err, what) != NULL, "\"%s\" not in: %s", what, err);
    ck_assert_ptr_null(t.f);
    free(b);
}

START_TEST(decode_rejects_bad_fields)
{
    /* The well-formed one, to show that each refusal below is the field's. */
    uint8_t *good = one_file(1, 5, 0, 0, 4, "/abc", 48);
    struct ckpt_file_table t;
    char err[256] = "";
    ck_assert_msg(ckpt_files_decode(good, 48, &t, err, sizeof err) == 0, "%s", err);
    ck_assert_str_eq(t.f[0].path, "/abc");
    ckpt_files_free(&t);
    good[3] = 'X';
    expect_refused(good, 48, "bad magic");

    expect_refused(one_file(0xffffffffu, 5, 0, 0, 4, "/abc", 48), 48, "4294967295 files in 48 bytes");
    expect_refused(one_file(2, 5, 0, 0, 4, "/abc", 48), 48, "2 files in 48 bytes");
    size_t big = 12 + (size_t)(CKPT_FILES_MAX + 1) * FIXED;
    expect_refused(one_file(CKPT_FILES_MAX + 1, 5, 0, 0, 4, "/abc", big), big, "65537 files");
    expect_refused(one_file(1, 5, 0, 0, PATH_MAX, "/", 44 + PATH_MAX), 44 + PATH_MAX, "path of 4096 bytes");
    expect_refused(one_file(1, 5, 0, 0, 0xffffffffu, "/", 48), 48, "path of 4294967295 bytes");
    expect_refused(one_file(1, 5, 0, 0, 0, "", 44), 44, "path of 0 bytes");
    expect_refused(one_file(1, -1, 0, 0, 4, "/abc", 48), 48, "has fd -1");
    expect_refused(one_file(1, 2, 0, 0, 4, "/abc", 48), 48, "has fd 2");
    expect_refused(one_file(1, 5, 2, 0, 4, "/abc", 48), 48, "fd flags 0x2");
    expect_refused(one_file(1, 5, 0, 1ull << 63, 4, "/abc", 48), 48, "offset 9223372036854775808");
    expect_refused(one_file(1, 5, 0, 0, 4, "abcd", 48), 48, "not absolute");
    uint8_t *nul = one_file(1, 5, 0, 0, 4, "/abc", 48);
    nul[46] = '\0';
    expect_refused(nul, 48, "NUL byte");

    /* Two records, the second's fd not above the first's. */
    uint8_t *two = one_file(2, 7, 0, 0, 2, "/a", 2 * 34 + 12);
    memcpy(two + 46, two + 12, 34);
    expect_refused(two, 2 * 34 + 12, "file 1 has fd 7");
}
END_TEST

/* ---- hold and reopen ------------------------------------------------- */

/* Closes every saved fd, as a fresh process would have none of them. */
static void close_all(const struct ckpt_file_table *t)
{
    for (uint32_t i = 0; i < t->count; i++)
        ck_assert_int_eq(close(t->f[i].fd), 0);
}

static void hold(const struct ckpt_file_table *t, int *moved_pmi)
{
    char err[512] = "";
    ck_assert_msg(ckpt_files_hold(t, moved_pmi, err, sizeof err) == 0, "hold: %s", err);
}

START_TEST(hold_then_reopen_puts_files_back)
{
    make_file("ro.txt", "0123456789abcdef");
    make_file("app.txt", "hello");
    make_file("rw.txt", "ABCDEFGHIJ");
    int ro = open_at("ro.txt", O_RDONLY, 4);
    int app = open_at("app.txt", O_WRONLY | O_APPEND, 5);
    int rw = open_at("rw.txt", O_RDWR, 7);
    int rw2 = open_at("rw.txt", O_RDONLY | O_CLOEXEC, 2);
    int app2 = open_at("app.txt", O_RDWR, 1);
    int fds[] = { ro, app, rw, rw2, app2 };
    int fl[5], fdfl[5];
    for (int i = 0; i < 5; i++) {
        fl[i] = fcntl(fds[i], F_GETFL);
        fdfl[i] = fcntl(fds[i], F_GETFD);
    }
    struct ckpt_file_table t;
    capture(&t, NULL, 0);
    ck_assert_uint_eq(t.count, 5);
    close_all(&t);

    hold(&t, NULL);
    for (int i = 0; i < 5; i++) {
        ck_assert_msg(is_dev_null(fds[i]), "fd %d is not held by /dev/null", fds[i]);
        ck_assert_int_eq(fcntl(fds[i], F_GETFD), FD_CLOEXEC);
    }

    char err[512] = "";
    ck_assert_msg(ckpt_files_reopen(&t, 0, err, sizeof err) == 0, "reopen: %s", err);
    const off_t offs[] = { 4, 5, 7, 2, 1 };
    for (int i = 0; i < 5; i++) {
        ck_assert(!is_dev_null(fds[i]));
        ck_assert_int_eq(fcntl(fds[i], F_GETFL), fl[i]);
        ck_assert_int_eq(fcntl(fds[i], F_GETFD), fdfl[i]);
        ck_assert_int_eq(lseek(fds[i], 0, SEEK_CUR), offs[i]);
    }
    char buf[8] = "";
    ck_assert_int_eq(read(ro, buf, 3), 3);
    ck_assert_int_eq(memcmp(buf, "456", 3), 0);
    ck_assert_int_eq(read(rw, buf, 3), 3);
    ck_assert_int_eq(memcmp(buf, "HIJ", 3), 0);
    ck_assert_int_eq(read(rw2, buf, 2), 2);
    ck_assert_int_eq(memcmp(buf, "CD", 2), 0);
    ck_assert_int_eq(write(app, "!", 1), 1);    /* O_APPEND: at the end */
    ck_assert_int_eq(write(app2, "E", 1), 1);   /* at offset 1 */
    ck_assert_int_eq(pread(rw, buf, 1, 0), 1); /* same file at both rw fds */
    ck_assert_int_eq(pread(app2, buf, 6, 0), 6);
    ck_assert_int_eq(memcmp(buf, "hEllo!", 6), 0);
    ckpt_files_free(&t);
}
END_TEST

START_TEST(reopen_rolls_back_growth)
{
    make_file("grow.txt", "0123456789");
    make_file("grow2.txt", "0123456789");
    int w = open_at("grow.txt", O_WRONLY, 10);
    int a = open_at("grow2.txt", O_RDWR | O_APPEND, 3);
    struct ckpt_file_table t;
    capture(&t, NULL, 0);
    ck_assert_int_eq(write(w, "written after", 13), 13);
    ck_assert_int_eq(write(a, "appended", 8), 8);
    close_all(&t);
    ck_assert_int_eq(size_of("grow.txt"), 23);
    hold(&t, NULL);
    char err[512] = "";
    ck_assert_msg(ckpt_files_reopen(&t, 1, err, sizeof err) == 0, "reopen: %s", err);
    ck_assert_int_eq(size_of("grow.txt"), 10);
    ck_assert_int_eq(size_of("grow2.txt"), 10);
    ck_assert_int_eq(lseek(w, 0, SEEK_CUR), 10);
    ck_assert_int_eq(lseek(a, 0, SEEK_CUR), 3);
    ckpt_files_free(&t);
}
END_TEST

START_TEST(reopen_fails_on_removed_file)
{
    make_file("here.txt", "h");
    make_file("gone.txt", "g");
    int here = open_at("here.txt", O_RDONLY, 0);
    int gone = open_at("gone.txt", O_RDONLY, 0);
    struct ckpt_file_table t;
    capture(&t, NULL, 0);
    close_all(&t);
    hold(&t, NULL);
    ck_assert_int_eq(unlink(path_of("gone.txt")), 0);
    char err[512] = "", what[PATH_MAX + 32];
    ck_assert_int_eq(ckpt_files_reopen(&t, 0, err, sizeof err), -1);
    snprintf(what, sizeof what, "fd %d, %s: %s", gone, path_of("gone.txt"), strerror(ENOENT));
    ck_assert_err_has(err, what);
    ck_assert_err_has(err, "put the file back");
    ck_assert(is_dev_null(here)); /* nothing changed */
    ck_assert(is_dev_null(gone));
    ckpt_files_free(&t);
}
END_TEST

START_TEST(reopen_fails_on_shrunk_files)
{
    make_file("grew.txt", "0123456789");
    make_file("shrunk.txt", "0123456789");
    int grew = open_at("grew.txt", O_WRONLY, 0);
    int shrunk = open_at("shrunk.txt", O_RDWR, 2);
    struct ckpt_file_table t;
    capture(&t, NULL, 0);
    ck_assert_int_eq(write(grew, "0123456789ab", 12), 12);
    close_all(&t);
    ck_assert_int_eq(truncate(path_of("shrunk.txt"), 4), 0);
    hold(&t, NULL);
    char err[512] = "", what[PATH_MAX + 64];
    ck_assert_int_eq(ckpt_files_reopen(&t, 0, err, sizeof err), -1);
    snprintf(what, sizeof what, "fd %d, %s, is 4 bytes, was 10 at the checkpoint", shrunk, path_of("shrunk.txt"));
    ck_assert_err_has(err, what);
    ck_assert_err_has(err, "truncated or replaced after the checkpoint");
    /* Checked before anything changed: the grown file keeps its bytes. */
    ck_assert_int_eq(size_of("grew.txt"), 12);
    ck_assert(is_dev_null(grew));
    ck_assert(is_dev_null(shrunk));
    ckpt_files_free(&t);
}
END_TEST

START_TEST(reopen_fails_on_read_only_file_shorter_than_offset)
{
    make_file("in.txt", "0123456789");
    int in = open_at("in.txt", O_RDONLY, 8);
    struct ckpt_file_table t;
    capture(&t, NULL, 0);
    close_all(&t);
    ck_assert_int_eq(truncate(path_of("in.txt"), 5), 0);
    hold(&t, NULL);
    char err[512] = "", what[PATH_MAX + 64];
    ck_assert_int_eq(ckpt_files_reopen(&t, 0, err, sizeof err), -1);
    snprintf(what, sizeof what, "fd %d, %s, is 5 bytes, shorter than its offset 8", in, path_of("in.txt"));
    ck_assert_err_has(err, what);
    ckpt_files_free(&t);
}
END_TEST

START_TEST(reopen_refuses_a_number_taken_since_hold)
{
    make_file("f.txt", "f");
    int f = open_at("f.txt", O_RDONLY, 0);
    struct ckpt_file_table t;
    capture(&t, NULL, 0);
    close_all(&t);
    hold(&t, NULL);
    int p[2];
    ck_assert_int_eq(pipe(p), 0);
    ck_assert_int_eq(dup2(p[0], f), f); /* the MPI library took the number */
    char err[512] = "";
    ck_assert_int_eq(ckpt_files_reopen(&t, 0, err, sizeof err), -1);
    ck_assert_err_has(err, "holds something else");
    struct stat st;
    ck_assert_int_eq(fstat(f, &st), 0);
    ck_assert(S_ISFIFO(st.st_mode));
    ckpt_files_free(&t);
}
END_TEST

/* An O_PATH fd has no offset and no contents: it is saved and put back
 * as it was. */
START_TEST(o_path_fd_comes_back)
{
    make_file("where.txt", "w");
    int fd = open(path_of("where.txt"), O_PATH);
    ck_assert_int_ge(fd, 0);
    struct ckpt_file_table t;
    capture(&t, NULL, 0);
    ck_assert_uint_eq(t.count, 1);
    ck_assert(t.f[0].flags & O_PATH);
    ck_assert_uint_eq(t.f[0].offset, 0);
    close_all(&t);
    hold(&t, NULL);
    char err[512] = "";
    ck_assert_msg(ckpt_files_reopen(&t, 0, err, sizeof err) == 0, "reopen: %s", err);
    ck_assert(fcntl(fd, F_GETFL) & O_PATH);
    struct stat a, b;
    ck_assert_int_eq(fstat(fd, &a), 0);
    ck_assert_int_eq(stat(path_of("where.txt"), &b), 0);
    ck_assert_uint_eq(a.st_ino, b.st_ino);
    ckpt_files_free(&t);
}
END_TEST

static struct ckpt_file_table table_of(const int *fds, int n)
{
    struct ckpt_file_table t = { (uint32_t)n, calloc((size_t)n, sizeof(struct ckpt_file)) };
    for (int i = 0; i < n; i++) {
        t.f[i].fd = fds[i];
        strcpy(t.f[i].path, "/unused");
    }
    for (int i = 0; i < n; i++) /* increasing fd order */
        for (int j = i + 1; j < n; j++)
            if (t.f[j].fd < t.f[i].fd) {
                struct ckpt_file x = t.f[i];
                t.f[i] = t.f[j];
                t.f[j] = x;
            }
    return t;
}

static int find_by_inode(ino_t ino, const int *not, int nnot)
{
    for (int fd = 3; fd < 1024; fd++) {
        struct stat st;
        int excluded = 0;
        for (int i = 0; i < nnot; i++)
            excluded |= not[i] == fd;
        if (!excluded && fstat(fd, &st) == 0 && st.st_ino == ino && !S_ISCHR(st.st_mode))
            return fd;
    }
    return -1;
}

START_TEST(hold_moves_occupied_numbers_and_pmi_fd)
{
    int p[2], s[2];
    ck_assert_int_eq(pipe(p), 0);                                          /* no close-on-exec */
    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, s), 0); /* close-on-exec */
    struct stat pst, sst;
    ck_assert_int_eq(fstat(p[0], &pst), 0);
    ck_assert_int_eq(fstat(s[0], &sst), 0);
    int free_fd = open("/dev/null", O_RDONLY);
    close(free_fd);
    char num[16];
    snprintf(num, sizeof num, "%d", p[0]);
    ck_assert_int_eq(setenv("PMI_FD", num, 1), 0);

    int saved[] = { p[0], s[0], free_fd };
    struct ckpt_file_table t = table_of(saved, 3);
    int moved = -2;
    hold(&t, &moved);
    for (int i = 0; i < 3; i++)
        ck_assert_msg(is_dev_null(saved[i]), "fd %d is not held", saved[i]);

    ck_assert_int_ge(moved, 3);
    ck_assert_int_ne(moved, p[0]);
    ck_assert_int_ne(moved, s[0]);
    ck_assert_int_ne(moved, free_fd);
    snprintf(num, sizeof num, "%d", moved);
    ck_assert_str_eq(getenv("PMI_FD"), num);
    ck_assert_int_eq(fcntl(moved, F_GETFD), 0);
    ck_assert_int_eq(write(p[1], "z", 1), 1);
    char c = 0;
    ck_assert_int_eq(read(moved, &c, 1), 1);
    ck_assert_int_eq(c, 'z');

    int sock = find_by_inode(sst.st_ino, saved, 3);
    ck_assert_int_ge(sock, 3);
    ck_assert_int_eq(fcntl(sock, F_GETFD), FD_CLOEXEC);
    ck_assert_int_eq(write(s[1], "y", 1), 1);
    ck_assert_int_eq(read(sock, &c, 1), 1);
    ck_assert_int_eq(c, 'y');
    ckpt_files_free(&t);
}
END_TEST

START_TEST(hold_without_pmi_fd_reports_nothing_moved)
{
    unsetenv("PMI_FD");
    int p[2];
    ck_assert_int_eq(pipe(p), 0);
    struct ckpt_file_table t = table_of(&p[0], 1);
    int moved = -2;
    hold(&t, &moved);
    ck_assert_int_eq(moved, -1);
    ck_assert_ptr_null(getenv("PMI_FD"));
    ck_assert(is_dev_null(p[0]));
    ckpt_files_free(&t);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("ckpt_files");
    TCase *cap = tcase_create("capture");
    tcase_add_checked_fixture(cap, setup, teardown);
    tcase_add_test(cap, capture_keeps_regular_files_only);
    tcase_add_test(cap, capture_refuses_deleted_file);
    tcase_add_test(cap, capture_leaves_dev_shm);
    suite_add_tcase(s, cap);
    TCase *enc = tcase_create("encoding");
    tcase_add_test(enc, encode_decode_round_trip);
    tcase_add_test(enc, decode_rejects_every_truncation);
    tcase_add_test(enc, decode_rejects_bad_fields);
    suite_add_tcase(s, enc);
    TCase *rst = tcase_create("restart");
    tcase_add_checked_fixture(rst, setup, teardown);
    tcase_add_test(rst, hold_then_reopen_puts_files_back);
    tcase_add_test(rst, reopen_rolls_back_growth);
    tcase_add_test(rst, reopen_fails_on_removed_file);
    tcase_add_test(rst, reopen_fails_on_shrunk_files);
    tcase_add_test(rst, reopen_fails_on_read_only_file_shorter_than_offset);
    tcase_add_test(rst, reopen_refuses_a_number_taken_since_hold);
    tcase_add_test(rst, o_path_fd_comes_back);
    tcase_add_test(rst, hold_moves_occupied_numbers_and_pmi_fd);
    tcase_add_test(rst, hold_without_pmi_fd_reports_nothing_moved);
    suite_add_tcase(s, rst);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? 0 : 1;
}

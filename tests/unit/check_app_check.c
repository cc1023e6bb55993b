/* Unit tests for loader/app_check: the launch-time checks that refuse, with
 * the shell's statuses (127 not found, 126 cannot run) and a message naming
 * the file, the cause and the fix, every program MANA cannot load.
 *
 * The programs are compiled with gcc into a temporary directory when the
 * suite starts: a dynamically linked PIE, a static program, a program
 * linked against a stand-in for Open MPI's libmpi.so.40, and damaged or
 * non-program files next to them. */
#define _GNU_SOURCE
#include <check.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "app_check.h"

#define INTERP_X86_64 "/lib64/ld-linux-x86-64.so.2"

#define ASSERT_CONTAINS(text, part)                                                                                    \
    ck_assert_msg(strstr((text), (part)) != NULL, "message '%s' does not contain '%s'", (text), (part))

static char tmpdir[PATH_MAX];

static const char *tmp_path(const char *name)
{
    static char paths[8][PATH_MAX + 64];
    static int next;
    char *p = paths[next++ % 8];
    snprintf(p, sizeof paths[0], "%s/%s", tmpdir, name);
    return p;
}

static void write_file(const char *name, const char *text, mode_t mode)
{
    const char *path = tmp_path(name);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);
    if (fd < 0 || write(fd, text, strlen(text)) != (ssize_t)strlen(text) || close(fd) != 0 ||
        chmod(path, mode) != 0) {
        fprintf(stderr, "cannot write %s: %s\n", path, strerror(errno));
        exit(EXIT_FAILURE);
    }
}

static void copy_file(const char *src, const char *dst, size_t len, mode_t mode)
{
    static char data[1 << 20];
    int in = open(src, O_RDONLY);
    ssize_t n = in < 0 ? -1 : read(in, data, sizeof data);
    if (in >= 0)
        close(in);
    int out = open(dst, O_WRONLY | O_CREAT | O_TRUNC, mode);
    if (n <= 0 || out < 0 || (size_t)n == sizeof data) {
        fprintf(stderr, "cannot copy %s to %s\n", src, dst);
        exit(EXIT_FAILURE);
    }
    if ((size_t)n > len)
        n = (ssize_t)len;
    if (write(out, data, (size_t)n) != n || close(out) != 0 || chmod(dst, mode) != 0) {
        fprintf(stderr, "cannot write %s\n", dst);
        exit(EXIT_FAILURE);
    }
}

static void patch(const char *path, uint64_t offset, const void *bytes, size_t len)
{
    int fd = open(path, O_WRONLY);
    if (fd < 0 || pwrite(fd, bytes, len, (off_t)offset) != (ssize_t)len || close(fd) != 0) {
        fprintf(stderr, "cannot patch %s\n", path);
        exit(EXIT_FAILURE);
    }
}

/* Layout (all under tmpdir):
 *   app            good PIE                 bin/app   the same, for $PATH
 *   static_app     -static                  ompi_app  needs libmpi.so.40
 *   script.sh      executable text          noexec    PIE without x bits
 *   aarch64_app    PIE, e_machine patched   cut_app   PIE cut inside PT_INTERP
 *   adir/          a directory              lib/libmpi.so.40
 *   p1/app         not executable           p2/app/   a directory
 *   p3/app         good PIE                                                */
static void build_programs(void)
{
    const char *base = getenv("TMPDIR");
    snprintf(tmpdir, sizeof tmpdir, "%s/mana-check-app.XXXXXX", base && *base ? base : "/tmp");
    if (mkdtemp(tmpdir) == NULL) {
        perror("mkdtemp");
        exit(EXIT_FAILURE);
    }
    write_file("prog.c", "#include <stdio.h>\nint main(void) { puts(\"hello\"); return 0; }\n", 0644);
    write_file("mpi.c", "int MPI_Init(int *c, char ***v) { (void)c; (void)v; return 0; }\n", 0644);
    write_file("ompi.c",
               "int MPI_Init(int *, char ***);\nint main(int c, char **v) { return MPI_Init(&c, &v); }\n", 0644);
    char cmd[8 * PATH_MAX];
    snprintf(cmd, sizeof cmd,
             "cd '%s' && mkdir -p bin lib adir p1 p2/app p3 && "
             "{ gcc -O1 -o app prog.c & gcc -O1 -static -o static_app prog.c & "
             "gcc -O1 -shared -fPIC -Wl,-soname,libmpi.so.40 -o lib/libmpi.so.40 mpi.c; wait; } && "
             "gcc -O1 -o ompi_app ompi.c -Llib -l:libmpi.so.40",
             tmpdir);
    int rc = system(cmd);
    struct stat st;
    if (rc != 0 || stat(tmp_path("app"), &st) != 0 || stat(tmp_path("static_app"), &st) != 0 ||
        stat(tmp_path("ompi_app"), &st) != 0) {
        fprintf(stderr, "building the test programs in %s failed (status %d)\n", tmpdir, rc);
        exit(EXIT_FAILURE);
    }
    char dst[PATH_MAX + 64];
    copy_file(tmp_path("app"), tmp_path("bin/app"), SIZE_MAX, 0755);
    copy_file(tmp_path("app"), tmp_path("p3/app"), SIZE_MAX, 0755);
    copy_file(tmp_path("app"), tmp_path("p1/app"), SIZE_MAX, 0644);
    copy_file(tmp_path("app"), tmp_path("noexec"), SIZE_MAX, 0644);
    write_file("script.sh", "#!/bin/sh\necho hello\n", 0755);

    snprintf(dst, sizeof dst, "%s", tmp_path("aarch64_app"));
    copy_file(tmp_path("app"), dst, SIZE_MAX, 0755);
    uint16_t m = EM_AARCH64;
    patch(dst, offsetof(Elf64_Ehdr, e_machine), &m, sizeof m);

    /* Cut in the middle of the interpreter path. */
    Elf64_Ehdr eh;
    Elf64_Phdr ph;
    uint64_t cut = 0;
    int fd = open(tmp_path("app"), O_RDONLY);
    if (fd < 0 || pread(fd, &eh, sizeof eh, 0) != sizeof eh) {
        fprintf(stderr, "cannot read %s\n", tmp_path("app"));
        exit(EXIT_FAILURE);
    }
    for (int i = 0; i < eh.e_phnum; i++)
        if (pread(fd, &ph, sizeof ph, (off_t)(eh.e_phoff + (uint64_t)i * sizeof ph)) == sizeof ph &&
            ph.p_type == PT_INTERP)
            cut = ph.p_offset + 4;
    close(fd);
    if (cut == 0) {
        fprintf(stderr, "%s has no PT_INTERP\n", tmp_path("app"));
        exit(EXIT_FAILURE);
    }
    copy_file(tmp_path("app"), tmp_path("cut_app"), cut, 0755);
}

static void remove_programs(void)
{
    char cmd[PATH_MAX + 32];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", tmpdir);
}

/* --- running app_check ------------------------------------------------- */

static struct elf_image img;
static char resolved[PATH_MAX];
static char err[8192];

static enum app_check_status check(const char *name)
{
    memset(resolved, 0, sizeof resolved);
    memset(err, 0, sizeof err);
    return app_check(name, resolved, sizeof resolved, &img, err, sizeof err);
}

/* $PATH is changed by some tests and put back by the fixture. */
static char *saved_path;
static char saved_cwd[PATH_MAX];

static void setup(void)
{
    const char *p = getenv("PATH");
    saved_path = p ? strdup(p) : NULL;
    ck_assert_ptr_nonnull(getcwd(saved_cwd, sizeof saved_cwd));
}

static void teardown(void)
{
    if (saved_path != NULL)
        setenv("PATH", saved_path, 1);
    else
        unsetenv("PATH");
    free(saved_path);
    saved_path = NULL;
    if (chdir(saved_cwd) != 0)
        perror("chdir");
}

START_TEST(test_good_pie_by_path)
{
    const char *p = tmp_path("app");
    ck_assert_int_eq(check(p), APP_CHECK_OK);
    ck_assert_str_eq(resolved, p);
    ck_assert_str_eq(img.path, p);
    ck_assert_int_eq(img.is_pie, 1);
    ck_assert_str_eq(img.interp, INTERP_X86_64);
    ck_assert(elf_image_needs(&img, "libc.so.6"));
    ck_assert_uint_gt(img.nloads, 0);
}
END_TEST

START_TEST(test_good_relative_path)
{
    ck_assert_int_eq(chdir(tmpdir), 0);
    ck_assert_int_eq(check("./app"), APP_CHECK_OK);
    ck_assert_str_eq(resolved, "./app");
    ck_assert_int_eq(check("bin/app"), APP_CHECK_OK); /* a slash: not searched */
    ck_assert_str_eq(resolved, "bin/app");
}
END_TEST

START_TEST(test_system_program)
{
    ck_assert_int_eq(check("/bin/true"), APP_CHECK_OK);
    ck_assert_str_eq(img.interp, INTERP_X86_64);
}
END_TEST

START_TEST(test_not_found_path)
{
    const char *p = tmp_path("no-such-app");
    ck_assert_int_eq(check(p), APP_CHECK_NOT_FOUND);
    ck_assert_int_eq(APP_CHECK_NOT_FOUND, 127);
    ASSERT_CONTAINS(err, p);
    ASSERT_CONTAINS(err, "not found");
    ASSERT_CONTAINS(err, strerror(ENOENT));
    ASSERT_CONTAINS(err, "check the path");
    /* A missing directory on the way. */
    ck_assert_int_eq(check(tmp_path("nodir/app")), APP_CHECK_NOT_FOUND);
    /* A file used as a directory. */
    ck_assert_int_eq(check(tmp_path("app/x")), APP_CHECK_NOT_FOUND);
    ASSERT_CONTAINS(err, strerror(ENOTDIR));
}
END_TEST

START_TEST(test_not_found_in_path)
{
    char path[3 * PATH_MAX];
    snprintf(path, sizeof path, "%s:%s", tmp_path("adir"), tmp_path("lib"));
    ck_assert_int_eq(setenv("PATH", path, 1), 0);
    ck_assert_int_eq(check("app"), APP_CHECK_NOT_FOUND);
    ASSERT_CONTAINS(err, "'app' not found in $PATH");
    ASSERT_CONTAINS(err, "./app");
    /* A shared library (a regular file with x bits) is found, then
     * refused: it has no interpreter. */
    ck_assert_int_eq(check("libmpi.so.40"), APP_CHECK_UNUSABLE);
    ck_assert_str_eq(resolved, tmp_path("lib/libmpi.so.40"));
}
END_TEST

START_TEST(test_path_search)
{
    char path[4 * PATH_MAX];
    /* Missing dir, non-executable file, a directory of that name, then
     * the real program: only the last one counts. */
    snprintf(path, sizeof path, "%s:%s:%s:%s:%s", tmp_path("nodir"), tmp_path("p1"), tmp_path("p2"), tmp_path("p3"),
             tmp_path("bin"));
    ck_assert_int_eq(setenv("PATH", path, 1), 0);
    ck_assert_int_eq(check("app"), APP_CHECK_OK);
    ck_assert_str_eq(resolved, tmp_path("p3/app"));
    ck_assert_str_eq(img.path, tmp_path("p3/app"));
    ck_assert_str_eq(img.interp, INTERP_X86_64);
    /* The first directory wins. */
    snprintf(path, sizeof path, "%s:%s", tmp_path("bin"), tmp_path("p3"));
    ck_assert_int_eq(setenv("PATH", path, 1), 0);
    ck_assert_int_eq(check("app"), APP_CHECK_OK);
    ck_assert_str_eq(resolved, tmp_path("bin/app"));
    /* Trailing slash in a directory. */
    snprintf(path, sizeof path, "%s/", tmp_path("p3"));
    ck_assert_int_eq(setenv("PATH", path, 1), 0);
    ck_assert_int_eq(check("app"), APP_CHECK_OK);
    ck_assert_str_eq(resolved, tmp_path("p3//app"));
}
END_TEST

START_TEST(test_path_empty_entry_is_cwd)
{
    ck_assert_int_eq(chdir(tmpdir), 0);
    char path[2 * PATH_MAX];
    snprintf(path, sizeof path, "%s::%s", tmp_path("adir"), tmp_path("p3"));
    ck_assert_int_eq(setenv("PATH", path, 1), 0);
    ck_assert_int_eq(check("app"), APP_CHECK_OK);
    ck_assert_str_eq(resolved, "app");
    /* A leading empty entry too. */
    ck_assert_int_eq(setenv("PATH", ":/nonexistent", 1), 0);
    ck_assert_int_eq(check("app"), APP_CHECK_OK);
    ck_assert_str_eq(resolved, "app");
    /* Without an empty entry the current directory is not searched. */
    ck_assert_int_eq(setenv("PATH", "/nonexistent", 1), 0);
    ck_assert_int_eq(check("app"), APP_CHECK_NOT_FOUND);
}
END_TEST

START_TEST(test_path_unset_uses_default)
{
    ck_assert_int_eq(unsetenv("PATH"), 0);
    ck_assert_int_eq(check("true"), APP_CHECK_OK);
    ck_assert_msg(strcmp(resolved, "/usr/local/bin/true") == 0 || strcmp(resolved, "/usr/bin/true") == 0 ||
                      strcmp(resolved, "/bin/true") == 0,
                  "resolved to '%s'", resolved);
    ck_assert_int_eq(setenv("PATH", "", 1), 0);
    ck_assert_int_eq(check("true"), APP_CHECK_OK);
    ck_assert_str_eq(resolved + strlen(resolved) - 5, "/true");
}
END_TEST

START_TEST(test_directory)
{
    const char *p = tmp_path("adir");
    ck_assert_int_eq(check(p), APP_CHECK_UNUSABLE);
    ck_assert_int_eq(APP_CHECK_UNUSABLE, 126);
    ASSERT_CONTAINS(err, p);
    ASSERT_CONTAINS(err, "not a regular file");
}
END_TEST

START_TEST(test_not_executable)
{
    const char *p = tmp_path("noexec");
    ck_assert_int_eq(check(p), APP_CHECK_UNUSABLE);
    ASSERT_CONTAINS(err, p);
    ASSERT_CONTAINS(err, "not executable");
    ASSERT_CONTAINS(err, "chmod +x");
}
END_TEST

START_TEST(test_script)
{
    const char *p = tmp_path("script.sh");
    ck_assert_int_eq(check(p), APP_CHECK_UNUSABLE);
    ASSERT_CONTAINS(err, "cannot run application");
    ASSERT_CONTAINS(err, p);
    ASSERT_CONTAINS(err, "not an ELF file");
    ASSERT_CONTAINS(err, "compiled programs");
}
END_TEST

START_TEST(test_static)
{
    const char *p = tmp_path("static_app");
    ck_assert_int_eq(check(p), APP_CHECK_UNUSABLE);
    ASSERT_CONTAINS(err, p);
    ASSERT_CONTAINS(err, "statically linked");
    ASSERT_CONTAINS(err, "without -static");
    ASSERT_CONTAINS(err, "mpicc.mpich");
    ck_assert_str_eq(img.interp, "");
}
END_TEST

START_TEST(test_open_mpi_abi)
{
    /* Accepted since issue 11: it gets the Open MPI face. */
    const char *p = tmp_path("ompi_app");
    ck_assert_int_eq(check(p), APP_CHECK_OK);
    ck_assert(elf_image_needs(&img, "libmpi.so.40"));
    ck_assert_int_eq(app_face_of(&img), APP_FACE_OMPI);
    ck_assert_str_eq(img.interp, INTERP_X86_64);
}
END_TEST

START_TEST(test_other_machine)
{
    const char *p = tmp_path("aarch64_app");
    ck_assert_int_eq(check(p), APP_CHECK_UNUSABLE);
    ASSERT_CONTAINS(err, "cannot run application");
    ASSERT_CONTAINS(err, p);
    ASSERT_CONTAINS(err, "not an x86-64 program");
    ASSERT_CONTAINS(err, "machine 183");
}
END_TEST

START_TEST(test_truncated)
{
    const char *p = tmp_path("cut_app");
    ck_assert_int_eq(check(p), APP_CHECK_UNUSABLE);
    ASSERT_CONTAINS(err, "cannot run application");
    ASSERT_CONTAINS(err, p);
    ASSERT_CONTAINS(err, "truncated");
}
END_TEST

START_TEST(test_small_buffers)
{
    /* Messages are cut to the buffer, NUL-terminated. */
    char small_err[24];
    memset(small_err, 'x', sizeof small_err);
    ck_assert_int_eq(app_check(tmp_path("static_app"), resolved, sizeof resolved, &img, small_err, sizeof small_err),
                     APP_CHECK_UNUSABLE);
    ck_assert_uint_eq(strlen(small_err), sizeof small_err - 1);
    ck_assert_int_eq(strncmp(small_err, "application '", 13), 0);
}
END_TEST

/* Regression: a trailing empty $PATH entry means the current directory for
 * execvp (and POSIX), but the search stops before it. */
START_TEST(test_path_trailing_empty_entry_is_cwd)
{
    ck_assert_int_eq(chdir(tmpdir), 0);
    ck_assert_int_eq(setenv("PATH", "/nonexistent:", 1), 0);
    ck_assert_int_eq(check("app"), APP_CHECK_OK);
    ck_assert_str_eq(resolved, "app");
}
END_TEST

/* Regression: a copy cut after PT_INTERP but before the end of its
 * segments passes, although the loader would fault mapping it (and an
 * Open MPI program cut so loses the DT_NEEDED that would refuse it). */
START_TEST(test_truncated_segments)
{
    char dst[PATH_MAX + 64];
    snprintf(dst, sizeof dst, "%s", tmp_path("cut_segments"));
    copy_file(tmp_path("ompi_app"), dst, 2048, 0755);
    ck_assert_int_eq(check(dst), APP_CHECK_UNUSABLE);
    ASSERT_CONTAINS(err, "truncated");
}
END_TEST

static Suite *app_check_suite(void)
{
    Suite *s = suite_create("app_check");
    TCase *good = tcase_create("good");
    tcase_add_checked_fixture(good, setup, teardown);
    tcase_set_timeout(good, 30);
    tcase_add_test(good, test_good_pie_by_path);
    tcase_add_test(good, test_good_relative_path);
    tcase_add_test(good, test_system_program);
    tcase_add_test(good, test_path_search);
    tcase_add_test(good, test_path_empty_entry_is_cwd);
    tcase_add_test(good, test_path_unset_uses_default);
    tcase_add_test(good, test_path_trailing_empty_entry_is_cwd);
    suite_add_tcase(s, good);

    TCase *bad = tcase_create("bad");
    tcase_add_checked_fixture(bad, setup, teardown);
    tcase_set_timeout(bad, 30);
    tcase_add_test(bad, test_not_found_path);
    tcase_add_test(bad, test_not_found_in_path);
    tcase_add_test(bad, test_directory);
    tcase_add_test(bad, test_not_executable);
    tcase_add_test(bad, test_script);
    tcase_add_test(bad, test_static);
    tcase_add_test(bad, test_open_mpi_abi);
    tcase_add_test(bad, test_other_machine);
    tcase_add_test(bad, test_truncated);
    tcase_add_test(bad, test_small_buffers);
    tcase_add_test(bad, test_truncated_segments);
    suite_add_tcase(s, bad);
    return s;
}

int main(void)
{
    build_programs();
    SRunner *sr = srunner_create(app_check_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    remove_programs();
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

/* Unit tests for lower-half/proc_maps: the /proc/self/maps reader and its
 * hand-written line parser, on fixed sample lines and on the real file. */
#define _GNU_SOURCE
#include <check.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "proc_maps.h"

#define REQUIRE(cond, ...)                                                                                             \
    do {                                                                                                               \
        if (!(cond))                                                                                                   \
            ck_abort_msg(__VA_ARGS__);                                                                                 \
    } while (0)

/* E's path as a NUL-terminated copy (in a static buffer). */
static const char *path_of(const struct maps_entry *e)
{
    static char buf[PATH_MAX + 64];
    ck_assert_uint_lt(e->path_len, sizeof buf);
    memcpy(buf, e->path, e->path_len);
    buf[e->path_len] = '\0';
    return buf;
}

/* Parses the single line TEXT, expecting one entry and then the end. */
static void parse_one(const char *text, struct maps_entry *e)
{
    const char *cur = text;
    memset(e, 0x5a, sizeof *e);
    ck_assert_int_eq(proc_maps_next(&cur, e), 1);
    ck_assert_ptr_eq(cur, text + strlen(text));
    ck_assert_int_eq(proc_maps_next(&cur, e), 0);
}

START_TEST(test_line_with_path)
{
    static const char line[] = "55d0c0a00000-55d0c0a02000 r-xp 00002000 fe:00 247134                     /usr/bin/cat\n";
    struct maps_entry e;
    parse_one(line, &e);
    ck_assert_uint_eq(e.start, 0x55d0c0a00000ULL);
    ck_assert_uint_eq(e.end, 0x55d0c0a02000ULL);
    ck_assert_str_eq(e.perms, "r-xp");
    ck_assert_uint_eq(e.offset, 0x2000);
    ck_assert_uint_eq(e.path_len, strlen("/usr/bin/cat"));
    ck_assert_str_eq(path_of(&e), "/usr/bin/cat");
    /* The path points into the caller's text, not into a copy. */
    ck_assert_ptr_eq(e.path, strstr(line, "/usr/bin/cat"));
}
END_TEST

START_TEST(test_line_anonymous)
{
    struct maps_entry e;
    /* As the kernel writes it: "0" then a space then the newline. */
    parse_one("7fe9034e1000-7fe903503000 rw-p 00000000 00:00 0 \n", &e);
    ck_assert_uint_eq(e.start, 0x7fe9034e1000ULL);
    ck_assert_uint_eq(e.end, 0x7fe903503000ULL);
    ck_assert_str_eq(e.perms, "rw-p");
    ck_assert_uint_eq(e.offset, 0);
    ck_assert_uint_eq(e.path_len, 0);
    ck_assert_str_eq(path_of(&e), "");
    /* And without the trailing space. */
    parse_one("1000-2000 ---p 00000000 00:00 0\n", &e);
    ck_assert_uint_eq(e.start, 0x1000);
    ck_assert_uint_eq(e.end, 0x2000);
    ck_assert_str_eq(e.perms, "---p");
    ck_assert_uint_eq(e.path_len, 0);
}
END_TEST

START_TEST(test_line_path_with_spaces)
{
    struct maps_entry e;
    parse_one("7f0000000000-7f0000001000 r--s 0001a000 08:01 99   /tmp/my dir/lib x.so (deleted)\n", &e);
    ck_assert_str_eq(e.perms, "r--s");
    ck_assert_uint_eq(e.offset, 0x1a000);
    ck_assert_str_eq(path_of(&e), "/tmp/my dir/lib x.so (deleted)");
}
END_TEST

START_TEST(test_line_pseudo_paths)
{
    struct maps_entry e;
    parse_one("7ffd8a3c5000-7ffd8a3e6000 rw-p 00000000 00:00 0                          [stack]\n", &e);
    ck_assert_uint_eq(e.start, 0x7ffd8a3c5000ULL);
    ck_assert_uint_eq(e.end, 0x7ffd8a3e6000ULL);
    ck_assert_str_eq(path_of(&e), "[stack]");
    parse_one("ffffffffff600000-ffffffffff601000 --xp 00000000 00:00 0                  [vsyscall]\n", &e);
    ck_assert_uint_eq(e.start, 0xffffffffff600000ULL);
    ck_assert_uint_eq(e.end, 0xffffffffff601000ULL);
    ck_assert_str_eq(e.perms, "--xp");
    ck_assert_str_eq(path_of(&e), "[vsyscall]");
}
END_TEST

START_TEST(test_last_line_without_newline)
{
    static const char text[] = "1000-3000 r-xp 0000f000 08:02 17 /lib/x.so";
    struct maps_entry e;
    parse_one(text, &e);
    ck_assert_uint_eq(e.offset, 0xf000);
    ck_assert_str_eq(path_of(&e), "/lib/x.so");
}
END_TEST

START_TEST(test_several_lines)
{
    static const char text[] = "1000-2000 r--p 00000000 08:01 5 /bin/a\n"
                               "2000-5000 r-xp 00001000 08:01 5 /bin/a\n"
                               "5000-6000 rw-p 00000000 00:00 0 \n"
                               "7ffff000-80000000 rw-p 00000000 00:00 0 [heap]\n";
    static const uint64_t starts[] = {0x1000, 0x2000, 0x5000, 0x7ffff000};
    static const uint64_t ends[] = {0x2000, 0x5000, 0x6000, 0x80000000};
    static const char *const perms[] = {"r--p", "r-xp", "rw-p", "rw-p"};
    static const char *const paths[] = {"/bin/a", "/bin/a", "", "[heap]"};
    const char *cur = text;
    struct maps_entry e;
    for (int i = 0; i < 4; i++) {
        ck_assert_int_eq(proc_maps_next(&cur, &e), 1);
        ck_assert_uint_eq(e.start, starts[i]);
        ck_assert_uint_eq(e.end, ends[i]);
        ck_assert_str_eq(e.perms, perms[i]);
        ck_assert_str_eq(path_of(&e), paths[i]);
    }
    ck_assert_uint_eq(e.offset, 0);
    ck_assert_int_eq(proc_maps_next(&cur, &e), 0);
    ck_assert_int_eq(proc_maps_next(&cur, &e), 0); /* stays at the end */
    ck_assert_int_eq(proc_maps_next(&(const char *){""}, &e), 0);
}
END_TEST

START_TEST(test_malformed_lines)
{
    static const char *const bad[] = {
        "garbage\n",
        "\n",
        "1000 2000 r-xp 00000000 08:01 5 /bin/a\n", /* no dash */
        "1000-\n",
        "-2000 r-xp 00000000 08:01 5 /bin/a\n",     /* no start */
        "1000-2000\n",                               /* nothing after the range */
        "1000-2000r-xp 00000000 08:01 5 /bin/a\n",  /* no space after the range */
        "1000-2000 r-x\n",                           /* short permissions */
        "1000-2000 r-xp\n",                          /* permissions, then nothing */
        "1000-2000 r-xp \n",                         /* no offset */
        "1000-2000 r-xp zz 08:01 5 /bin/a\n",        /* offset not hex */
        "ABCD-F000 r-xp 00000000 08:01 5 /bin/a\n", /* the kernel writes lowercase */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        const char *cur = bad[i];
        struct maps_entry e;
        int rc = proc_maps_next(&cur, &e);
        ck_assert_msg(rc == -1, "line %zu '%s' parsed as %d", i, bad[i], rc);
        /* The cursor still moves past the bad line. */
        ck_assert_ptr_eq(cur, bad[i] + strlen(bad[i]));
    }
}
END_TEST

START_TEST(test_malformed_line_then_good_line)
{
    static const char text[] = "not a maps line\n1000-2000 r--p 00000000 08:01 5 /bin/a\n";
    const char *cur = text;
    struct maps_entry e;
    ck_assert_int_eq(proc_maps_next(&cur, &e), -1);
    ck_assert_int_eq(proc_maps_next(&cur, &e), 1);
    ck_assert_uint_eq(e.start, 0x1000);
    ck_assert_str_eq(path_of(&e), "/bin/a");
    ck_assert_int_eq(proc_maps_next(&cur, &e), 0);
}
END_TEST

/* --- the real /proc/self/maps ----------------------------------------- */

static char maps_buf[1 << 20];
static int data_variable = 7; /* in the program's writable data segment */

__attribute__((noinline)) static int local_function(int x)
{
    return x * 3 + data_variable;
}

/* Parses the whole of maps_buf; stores the entries containing FN_ADDR and
 * DATA_ADDR, and checks what every line must satisfy. */
static void scan_real(uint64_t fn_addr, uint64_t data_addr, struct maps_entry *fn_e, struct maps_entry *data_e,
                      int *saw_stack)
{
    const char *cur = maps_buf;
    struct maps_entry e;
    uint64_t prev_end = 0;
    int rc, n = 0, found_fn = 0, found_data = 0;
    *saw_stack = 0;
    while ((rc = proc_maps_next(&cur, &e)) != 0) {
        REQUIRE(rc == 1, "line %d of /proc/self/maps did not parse", n + 1);
        REQUIRE(e.start < e.end, "line %d: empty range", n + 1);
        REQUIRE(e.start >= prev_end, "line %d: not sorted or overlapping", n + 1);
        REQUIRE(strchr("r-", e.perms[0]) && strchr("w-", e.perms[1]) && strchr("x-", e.perms[2]) &&
                    strchr("ps", e.perms[3]),
                "line %d: permissions '%s'", n + 1, e.perms);
        REQUIRE(e.path_len == 0 || e.path[0] == '/' || e.path[0] == '[', "line %d: path starts with '%c'", n + 1,
                e.path[0]);
        REQUIRE(e.path + e.path_len <= maps_buf + strlen(maps_buf), "line %d: path past the text", n + 1);
        REQUIRE(e.path_len == 0 || e.path[e.path_len] == '\n', "line %d: path not up to the newline", n + 1);
        if (fn_addr >= e.start && fn_addr < e.end) {
            *fn_e = e;
            found_fn++;
        }
        if (data_addr >= e.start && data_addr < e.end) {
            *data_e = e;
            found_data++;
        }
        if (e.path_len == 7 && memcmp(e.path, "[stack]", 7) == 0)
            *saw_stack = 1;
        prev_end = e.end;
        n++;
    }
    ck_assert_int_gt(n, 5);
    ck_assert_int_eq(found_fn, 1);
    ck_assert_int_eq(found_data, 1);
}

START_TEST(test_real_maps)
{
    long len = proc_maps_read(maps_buf, sizeof maps_buf);
    ck_assert_int_gt(len, 0);
    ck_assert_uint_eq(strlen(maps_buf), (size_t)len);
    ck_assert_int_eq(maps_buf[len - 1], '\n');

    struct maps_entry fn_e, data_e;
    int saw_stack;
    uint64_t fn = (uint64_t)(uintptr_t)&local_function;
    ck_assert_int_eq(local_function(1), 10);
    scan_real(fn, (uint64_t)(uintptr_t)&data_variable, &fn_e, &data_e, &saw_stack);
    ck_assert_int_eq(saw_stack, 1);

    ck_assert_msg(fn_e.perms[2] == 'x', "code at %#llx is in a '%s' mapping", (unsigned long long)fn, fn_e.perms);
    ck_assert_int_eq(fn_e.perms[0], 'r');
    ck_assert_int_eq(fn_e.perms[1], '-');
    ck_assert_int_eq(data_e.perms[1], 'w');
    ck_assert_int_eq(data_e.perms[2], '-');

    /* Both are in this program's file: the path is the executable's. */
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    ck_assert_int_gt(n, 0);
    exe[n] = '\0';
    ck_assert_str_eq(path_of(&fn_e), exe);
    ck_assert_str_eq(path_of(&data_e), exe);
    /* File offset of the code page: offset + (page - start) is where the
     * bytes come from, so it must lie inside the file. */
    ck_assert_uint_eq(fn_e.offset % 4096, 0);
    ck_assert_uint_gt(fn_e.offset, 0);
}
END_TEST

/* The entry of maps_buf containing ADDR (which must exist). */
static struct maps_entry entry_at(uint64_t addr)
{
    const char *cur = maps_buf;
    struct maps_entry e;
    int rc;
    while ((rc = proc_maps_next(&cur, &e)) != 0)
        if (rc == 1 && addr >= e.start && addr < e.end)
            return e;
    ck_abort_msg("no mapping contains %#llx", (unsigned long long)addr);
    return e;
}

START_TEST(test_real_maps_sees_new_mappings)
{
    /* Three private pages, the middle one made inaccessible: the kernel
     * shows that page as its own line, which cannot merge with anything. */
    char *p = mmap(NULL, 3 * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    ck_assert_ptr_ne(p, MAP_FAILED);
    ck_assert_int_eq(mprotect(p + 4096, 4096, PROT_NONE), 0);
    /* A shared anonymous page: "s" permission, path "/dev/zero (deleted)". */
    char *q = mmap(NULL, 4096, PROT_READ, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    ck_assert_ptr_ne(q, MAP_FAILED);

    ck_assert_int_gt(proc_maps_read(maps_buf, sizeof maps_buf), 0);
    uint64_t a = (uint64_t)(uintptr_t)p;
    struct maps_entry e = entry_at(a + 4096);
    ck_assert_uint_eq(e.start, a + 4096);
    ck_assert_uint_eq(e.end, a + 8192);
    ck_assert_str_eq(e.perms, "---p");
    ck_assert_uint_eq(e.path_len, 0);
    e = entry_at(a);
    ck_assert_uint_le(e.start, a);
    ck_assert_uint_eq(e.end, a + 4096);
    ck_assert_str_eq(e.perms, "rw-p");
    e = entry_at(a + 8192);
    ck_assert_uint_eq(e.start, a + 8192);
    ck_assert_uint_ge(e.end, a + 3 * 4096);
    ck_assert_str_eq(e.perms, "rw-p");
    e = entry_at((uint64_t)(uintptr_t)q);
    ck_assert_uint_eq(e.start, (uint64_t)(uintptr_t)q);
    ck_assert_uint_eq(e.end, (uint64_t)(uintptr_t)q + 4096);
    ck_assert_str_eq(e.perms, "r--s");
    ck_assert_str_eq(path_of(&e), "/dev/zero (deleted)");

    munmap(p, 3 * 4096);
    munmap(q, 4096);
}
END_TEST

START_TEST(test_read_too_small)
{
    char small[80];
    memset(small, 'x', sizeof small);
    ck_assert_int_eq(proc_maps_read(small, 0), -1);
    ck_assert_int_eq(proc_maps_read(small, 1), -1);
    ck_assert_int_eq(small[1], 'x');
    ck_assert_int_eq(proc_maps_read(small, 64), -1);
    for (size_t i = 64; i < sizeof small; i++)
        ck_assert_int_eq(small[i], 'x'); /* nothing written past len */
    /* With room to spare it fits, and gives the same text twice. */
    long len = proc_maps_read(maps_buf, sizeof maps_buf);
    ck_assert_int_gt(len, 64);
    static char again[1 << 20];
    long len2 = proc_maps_read(again, (size_t)len + 4096);
    ck_assert_int_eq(len2, len);
    ck_assert_str_eq(again, maps_buf);
}
END_TEST

/* Regression: a buffer of exactly length + 1 bytes holds the text and its
 * NUL, but proc_maps_read returns -1 (it wants a spare byte before EOF). */
START_TEST(test_read_exact_fit)
{
    static char again[1 << 20];
    long len = proc_maps_read(maps_buf, sizeof maps_buf);
    ck_assert_int_gt(len, 0);
    ck_assert_int_eq(proc_maps_read(again, (size_t)len + 1), len);
}
END_TEST

static Suite *proc_maps_suite(void)
{
    Suite *s = suite_create("proc_maps");
    TCase *parse = tcase_create("parse");
    tcase_add_test(parse, test_line_with_path);
    tcase_add_test(parse, test_line_anonymous);
    tcase_add_test(parse, test_line_path_with_spaces);
    tcase_add_test(parse, test_line_pseudo_paths);
    tcase_add_test(parse, test_last_line_without_newline);
    tcase_add_test(parse, test_several_lines);
    tcase_add_test(parse, test_malformed_lines);
    tcase_add_test(parse, test_malformed_line_then_good_line);
    suite_add_tcase(s, parse);

    TCase *real = tcase_create("real");
    tcase_add_test(real, test_real_maps);
    tcase_add_test(real, test_real_maps_sees_new_mappings);
    tcase_add_test(real, test_read_too_small);
    tcase_add_test(real, test_read_exact_fit);
    suite_add_tcase(s, real);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(proc_maps_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

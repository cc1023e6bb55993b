/* Unit tests for loader/upper_stack: the execve-style initial stack built
 * in memory we own, and the reader that walks it (also checked against
 * the stack the kernel built for this very process). */
#define _GNU_SOURCE
#include <check.h>
#include <elf.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/mman.h>

#include "upper_stack.h"

#define REQUIRE(cond, ...)                                                                                             \
    do {                                                                                                               \
        if (!(cond))                                                                                                   \
            ck_abort_msg(__VA_ARGS__);                                                                                 \
    } while (0)

/* The stack range [lo, hi) sits inside a larger buffer whose guard bytes
 * on both sides must survive every build untouched. */
#define GUARD 256
#define GUARD_BYTE 0xcd
#define STACK_BYTES (64 * 1024)

static unsigned char *buf;
static size_t buf_len;
static unsigned char *lo, *hi;

static void setup_range(size_t len, size_t misalign)
{
    buf_len = len + 2 * GUARD + 16;
    buf = mmap(NULL, buf_len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    ck_assert_ptr_ne(buf, MAP_FAILED);
    memset(buf, GUARD_BYTE, buf_len);
    lo = buf + GUARD + misalign;
    hi = lo + len;
}

static void setup(void)
{
    setup_range(STACK_BYTES, 0);
}

static void teardown(void)
{
    if (buf != NULL)
        munmap(buf, buf_len);
    buf = NULL;
}

static void check_guards(void)
{
    for (unsigned char *p = buf; p < lo; p++)
        REQUIRE(*p == GUARD_BYTE, "byte %td below the range was written", lo - p);
    for (unsigned char *p = hi; p < buf + buf_len; p++)
        REQUIRE(*p == GUARD_BYTE, "byte %td above the range was written", p - hi);
}

static int in_range(const void *p, size_t len)
{
    return (const unsigned char *)p >= lo && (const unsigned char *)p + len <= hi;
}

static char *const test_argv[] = {"/opt/app/bin/solver", "--grid", "128x128", "", "last arg", NULL};
static char *const test_envp[] = {"HOME=/home/user", "PATH=/usr/bin:/bin", "EMPTY=", "LD_PRELOAD=/x/libmana.so", NULL};

static void fill_spec(struct upper_stack_spec *spec)
{
    memset(spec, 0, sizeof *spec);
    spec->argv = test_argv;
    spec->envp = test_envp;
    spec->execfn = "/opt/app/bin/solver";
    spec->platform = "x86_64";
    for (int i = 0; i < 16; i++)
        spec->random[i] = (unsigned char)(0xa0 + i * 3);
    static const struct auxv_entry given[] = {
        {AT_PHDR, 0x555555554040ULL}, {AT_PHENT, 56},           {AT_PHNUM, 13},
        {AT_PAGESZ, 4096},            {AT_BASE, 0x7ffff7fc3000ULL}, {AT_FLAGS, 0},
        {AT_ENTRY, 0x555555555040ULL}, {AT_UID, 1000},          {AT_EUID, 1000},
        {AT_GID, 1000},               {AT_EGID, 1000},          {AT_SECURE, 0},
        {AT_HWCAP, 0x178bfbffULL},    {AT_CLKTCK, 100},         {AT_HWCAP2, 0x2},
    };
    spec->nauxv = sizeof given / sizeof given[0];
    memcpy(spec->auxv, given, sizeof given);
}

/* Everything a correct build at SP must show for SPEC. */
static void check_stack(uint64_t sp, const struct upper_stack_spec *spec)
{
    size_t argc = 0, envc = 0;
    while (spec->argv[argc] != NULL)
        argc++;
    while (spec->envp[envc] != NULL)
        envc++;

    ck_assert_uint_ne(sp, 0);
    ck_assert_uint_eq(sp % 16, 0);
    ck_assert(in_range((void *)sp, 8));

    struct upper_stack_view v;
    upper_stack_view(sp, &v);
    ck_assert_int_eq(v.argc, (long)argc);
    /* The table layout: argc, argv..., NULL, envp..., NULL, auxv. */
    ck_assert_ptr_eq(v.argv, (char **)(sp + 8));
    ck_assert_ptr_eq(v.envp, v.argv + argc + 1);
    ck_assert_ptr_eq((void *)v.auxv, (void *)(v.envp + envc + 1));
    ck_assert_ptr_null(v.argv[argc]);
    ck_assert_ptr_null(v.envp[envc]);

    /* End of the table: one past AT_NULL. Strings lie above it, in range. */
    const struct auxv_entry *a = v.auxv;
    while (a->type != AT_NULL)
        a++;
    ck_assert_uint_eq(a->value, 0);
    const unsigned char *table_end = (const unsigned char *)(a + 1);
    ck_assert(in_range((void *)sp, (size_t)(table_end - (const unsigned char *)sp)));

    for (size_t i = 0; i < argc; i++) {
        ck_assert_str_eq(v.argv[i], spec->argv[i]);
        ck_assert_ptr_ne(v.argv[i], spec->argv[i]); /* a copy, in the stack */
        ck_assert(in_range(v.argv[i], strlen(v.argv[i]) + 1));
        ck_assert((unsigned char *)v.argv[i] >= table_end);
    }
    for (size_t i = 0; i < envc; i++) {
        ck_assert_str_eq(v.envp[i], spec->envp[i]);
        ck_assert(in_range(v.envp[i], strlen(v.envp[i]) + 1));
        ck_assert((unsigned char *)v.envp[i] >= table_end);
    }

    /* Every given entry, in order, then the builder's own. */
    ck_assert_uint_eq((size_t)(a - v.auxv), spec->nauxv + 2 + (spec->platform != NULL));
    for (size_t i = 0; i < spec->nauxv; i++) {
        ck_assert_uint_eq(v.auxv[i].type, spec->auxv[i].type);
        ck_assert_uint_eq(v.auxv[i].value, spec->auxv[i].value);
        int found;
        /* Types may repeat in a spec; the lookup returns the first. */
        uint64_t val = upper_stack_auxv(&v, spec->auxv[i].type, &found);
        ck_assert_int_eq(found, 1);
        size_t first = 0;
        while (spec->auxv[first].type != spec->auxv[i].type)
            first++;
        ck_assert_uint_eq(val, spec->auxv[first].value);
    }

    int found;
    const char *execfn = (const char *)upper_stack_auxv(&v, AT_EXECFN, &found);
    ck_assert_int_eq(found, 1);
    ck_assert_str_eq(execfn, spec->execfn);
    ck_assert(in_range(execfn, strlen(execfn) + 1));

    const unsigned char *rnd = (const unsigned char *)upper_stack_auxv(&v, AT_RANDOM, &found);
    ck_assert_int_eq(found, 1);
    ck_assert(in_range(rnd, 16));
    ck_assert(rnd >= table_end);
    ck_assert_mem_eq(rnd, spec->random, 16);

    const char *platform = (const char *)upper_stack_auxv(&v, AT_PLATFORM, &found);
    if (spec->platform != NULL) {
        ck_assert_int_eq(found, 1);
        ck_assert_str_eq(platform, spec->platform);
        ck_assert(in_range(platform, strlen(platform) + 1));
    } else {
        ck_assert_int_eq(found, 0);
        ck_assert_ptr_null(platform);
    }
    check_guards();
}

START_TEST(test_full_stack)
{
    struct upper_stack_spec spec;
    fill_spec(&spec);
    char err[256] = "";
    uint64_t sp = upper_stack_build(lo, hi, &spec, err, sizeof err);
    check_stack(sp, &spec);
    ck_assert_str_eq(err, "");
    /* The stack is used from the top: it takes far less than 1k here. */
    ck_assert_uint_gt(sp, (uint64_t)(hi - 1024));
}
END_TEST

START_TEST(test_strings_do_not_overlap)
{
    struct upper_stack_spec spec;
    fill_spec(&spec);
    char err[256];
    uint64_t sp = upper_stack_build(lo, hi, &spec, err, sizeof err);
    ck_assert_uint_ne(sp, 0);
    struct upper_stack_view v;
    upper_stack_view(sp, &v);
    int found;
    /* Collect every string/blob [start, end) and check pairwise disjoint. */
    const char *p[16];
    size_t len[16], n = 0;
    for (long i = 0; i < v.argc; i++, n++)
        p[n] = v.argv[i], len[n] = strlen(v.argv[i]) + 1;
    for (char **e = v.envp; *e; e++, n++)
        p[n] = *e, len[n] = strlen(*e) + 1;
    p[n] = (const char *)upper_stack_auxv(&v, AT_EXECFN, &found), len[n] = strlen(p[n]) + 1, n++;
    p[n] = (const char *)upper_stack_auxv(&v, AT_PLATFORM, &found), len[n] = strlen(p[n]) + 1, n++;
    p[n] = (const char *)upper_stack_auxv(&v, AT_RANDOM, &found), len[n] = 16, n++;
    for (size_t i = 0; i < n; i++)
        for (size_t j = i + 1; j < n; j++)
            ck_assert_msg(p[i] + len[i] <= p[j] || p[j] + len[j] <= p[i], "blobs %zu and %zu overlap", i, j);
}
END_TEST

START_TEST(test_no_platform)
{
    struct upper_stack_spec spec;
    fill_spec(&spec);
    spec.platform = NULL;
    char err[256];
    uint64_t sp = upper_stack_build(lo, hi, &spec, err, sizeof err);
    check_stack(sp, &spec);
}
END_TEST

START_TEST(test_empty_argv_envp_auxv)
{
    char *const empty[] = {NULL};
    struct upper_stack_spec spec;
    memset(&spec, 0, sizeof spec);
    spec.argv = empty;
    spec.envp = empty;
    spec.execfn = "";
    spec.platform = NULL;
    char err[256];
    uint64_t sp = upper_stack_build(lo, hi, &spec, err, sizeof err);
    check_stack(sp, &spec);
    struct upper_stack_view v;
    upper_stack_view(sp, &v);
    ck_assert_int_eq(v.argc, 0);
    ck_assert_ptr_null(v.argv[0]);
    ck_assert_ptr_null(v.envp[0]);
    ck_assert_ptr_eq(v.envp, v.argv + 1);
    /* AT_EXECFN, AT_RANDOM, AT_NULL. */
    ck_assert_uint_eq(v.auxv[0].type, AT_EXECFN);
    ck_assert_uint_eq(v.auxv[1].type, AT_RANDOM);
    ck_assert_uint_eq(v.auxv[2].type, AT_NULL);
}
END_TEST

START_TEST(test_missing_auxv_type)
{
    struct upper_stack_spec spec;
    fill_spec(&spec);
    char err[256];
    uint64_t sp = upper_stack_build(lo, hi, &spec, err, sizeof err);
    ck_assert_uint_ne(sp, 0);
    struct upper_stack_view v;
    upper_stack_view(sp, &v);
    int found = 42;
    ck_assert_uint_eq(upper_stack_auxv(&v, AT_SYSINFO_EHDR, &found), 0);
    ck_assert_int_eq(found, 0);
    found = 42;
    ck_assert_uint_eq(upper_stack_auxv(&v, AT_MINSIGSTKSZ, &found), 0);
    ck_assert_int_eq(found, 0);
}
END_TEST

START_TEST(test_alignment_for_every_top)
{
    /* Whatever the top's alignment and string lengths, sp is 16-aligned
     * and the table does not reach into the strings. */
    static char *const argv1[] = {"a", NULL};
    static char *const argv2[] = {"ab", "c", NULL};
    static char *const argv3[] = {"abc", "de", "f", NULL};
    static char *const *const argvs[] = {argv1, argv2, argv3};
    for (size_t top = 0; top < 16; top++) {
        for (size_t k = 0; k < 3; k++) {
            teardown();
            setup_range(4096 + top, 0);
            struct upper_stack_spec spec;
            fill_spec(&spec);
            spec.argv = argvs[k];
            spec.platform = (top & 1) ? "x86_64" : NULL;
            char err[256];
            uint64_t sp = upper_stack_build(lo, hi, &spec, err, sizeof err);
            check_stack(sp, &spec);
        }
    }
}
END_TEST

START_TEST(test_unaligned_bottom)
{
    teardown();
    setup_range(8192, 3);
    struct upper_stack_spec spec;
    fill_spec(&spec);
    char err[256];
    uint64_t sp = upper_stack_build(lo, hi, &spec, err, sizeof err);
    check_stack(sp, &spec);
}
END_TEST

START_TEST(test_too_small)
{
    struct upper_stack_spec spec;
    fill_spec(&spec);
    char err[256] = "";
    ck_assert_uint_eq(upper_stack_build(lo, lo + 64, &spec, err, sizeof err), 0);
    ck_assert_msg(strstr(err, "too small") != NULL, "message: '%s'", err);
    ck_assert_msg(strstr(err, "64 bytes") != NULL, "message: '%s'", err);
    ck_assert_msg(strstr(err, "5 arguments") != NULL, "message: '%s'", err);
    ck_assert_msg(strstr(err, "4 environment") != NULL, "message: '%s'", err);
    /* An empty range. */
    err[0] = '\0';
    ck_assert_uint_eq(upper_stack_build(lo, lo, &spec, err, sizeof err), 0);
    ck_assert_msg(strstr(err, "too small") != NULL, "message: '%s'", err);
    /* Strings fit but the table does not. */
    size_t strings = strlen(spec.execfn) + 1 + strlen("x86_64") + 1 + 16;
    for (char *const *a = spec.argv; *a; a++)
        strings += strlen(*a) + 1;
    for (char *const *e = spec.envp; *e; e++)
        strings += strlen(*e) + 1;
    err[0] = '\0';
    ck_assert_uint_eq(upper_stack_build(hi - strings - 8, hi, &spec, err, sizeof err), 0);
    ck_assert_msg(strstr(err, "too small") != NULL, "message: '%s'", err);
    check_guards();
}
END_TEST

START_TEST(test_size_sweep)
{
    /* Every size from nothing to enough, with the bottom at every kind of
     * alignment: either a full, correct stack or 0 with a message, never a
     * byte written outside [lo, hi). Once a size works, every larger one
     * does, and the smallest that works wastes at most 16 bytes. */
    static const size_t misaligns[] = {0, 1, 8, 15};
    struct upper_stack_spec spec;
    fill_spec(&spec);
    for (size_t m = 0; m < sizeof misaligns / sizeof misaligns[0]; m++) {
        size_t first_ok = 0;
        for (size_t len = 0; len <= 768; len++) {
            teardown();
            setup_range(len, misaligns[m]);
            char err[256] = "";
            uint64_t sp = upper_stack_build(lo, hi, &spec, err, sizeof err);
            if (sp == 0) {
                REQUIRE(first_ok == 0, "size %zu fails although %zu worked", len, first_ok);
                REQUIRE(strstr(err, "too small") != NULL, "size %zu: message '%s'", len, err);
            } else {
                if (first_ok == 0)
                    first_ok = len;
                REQUIRE(sp % 16 == 0 && in_range((void *)sp, 8), "size %zu, bottom +%zu: sp %#llx outside", len,
                        misaligns[m], (unsigned long long)sp);
            }
            check_guards();
        }
        ck_assert_uint_gt(first_ok, 0);
        teardown();
        setup_range(first_ok, misaligns[m]);
        char err[256];
        uint64_t sp = upper_stack_build(lo, hi, &spec, err, sizeof err);
        check_stack(sp, &spec);
        ck_assert_uint_le(sp - (uint64_t)(uintptr_t)lo, 16);
    }
}
END_TEST

START_TEST(test_large_environment)
{
    enum { N = 300 };
    char **envp = calloc(N + 1, sizeof *envp);
    ck_assert_ptr_nonnull(envp);
    for (int i = 0; i < N; i++)
        ck_assert_int_gt(asprintf(&envp[i], "VARIABLE_%03d=%0*d", i, 50 + i % 17, i), 0);
    struct upper_stack_spec spec;
    fill_spec(&spec);
    spec.envp = envp;
    char err[256];
    /* 300 strings of ~70 bytes plus their pointers: not in 16k ... */
    ck_assert_uint_eq(upper_stack_build(hi - 16384, hi, &spec, err, sizeof err), 0);
    ck_assert_msg(strstr(err, "300 environment") != NULL, "message: '%s'", err);
    /* ... but in 64k. */
    uint64_t sp = upper_stack_build(lo, hi, &spec, err, sizeof err);
    check_stack(sp, &spec);
    for (int i = 0; i < N; i++)
        free(envp[i]);
    free(envp);
}
END_TEST

/* --- the reader on the stack the kernel built for this process ------- */

static int main_argc;
static char **main_argv;

START_TEST(test_view_kernel_stack)
{
    /* At exec, argv sits right above argc: main's argv - 1 is the
     * kernel's initial stack pointer. */
    uint64_t sp = (uint64_t)(uintptr_t)(main_argv - 1);
    struct upper_stack_view v;
    upper_stack_view(sp, &v);
    ck_assert_int_eq(v.argc, main_argc);
    ck_assert_ptr_eq(v.argv, main_argv);
    /* The whole vector, entry by entry, as /proc/self/auxv has it. */
    struct auxv_entry kernel[128];
    FILE *f = fopen("/proc/self/auxv", "rb");
    ck_assert_ptr_nonnull(f);
    size_t n = fread(kernel, sizeof kernel[0], sizeof kernel / sizeof kernel[0], f);
    fclose(f);
    ck_assert_uint_gt(n, 10);
    size_t i = 0;
    for (; v.auxv[i].type != AT_NULL; i++) {
        ck_assert_uint_lt(i, n);
        ck_assert_uint_eq(v.auxv[i].type, kernel[i].type);
        ck_assert_uint_eq(v.auxv[i].value, kernel[i].value);
    }
    ck_assert_uint_eq(kernel[i].type, AT_NULL);
    /* And the lookup agrees with glibc for entries glibc passes through. */
    static const uint64_t types[] = {AT_PAGESZ, AT_PHDR, AT_PHNUM, AT_ENTRY, AT_RANDOM, AT_EXECFN, AT_UID, AT_CLKTCK};
    for (i = 0; i < sizeof types / sizeof types[0]; i++) {
        int found;
        uint64_t val = upper_stack_auxv(&v, types[i], &found);
        ck_assert_msg(found == 1, "auxv type %llu missing", (unsigned long long)types[i]);
        ck_assert_uint_eq(val, getauxval(types[i]));
    }
    int found;
    ck_assert_uint_eq(upper_stack_auxv(&v, AT_PAGESZ, &found), 4096);
    ck_assert_str_eq((const char *)upper_stack_auxv(&v, AT_EXECFN, &found), (const char *)getauxval(AT_EXECFN));
}
END_TEST

static Suite *upper_stack_suite(void)
{
    Suite *s = suite_create("upper_stack");
    TCase *tc = tcase_create("build");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_full_stack);
    tcase_add_test(tc, test_strings_do_not_overlap);
    tcase_add_test(tc, test_no_platform);
    tcase_add_test(tc, test_empty_argv_envp_auxv);
    tcase_add_test(tc, test_missing_auxv_type);
    tcase_add_test(tc, test_alignment_for_every_top);
    tcase_add_test(tc, test_unaligned_bottom);
    tcase_add_test(tc, test_too_small);
    tcase_add_test(tc, test_size_sweep);
    tcase_add_test(tc, test_large_environment);
    suite_add_tcase(s, tc);

    TCase *kernel = tcase_create("kernel");
    tcase_add_test(kernel, test_view_kernel_stack);
    suite_add_tcase(s, kernel);
    return s;
}

int main(int argc, char **argv)
{
    main_argc = argc;
    main_argv = argv;
    SRunner *sr = srunner_create(upper_stack_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

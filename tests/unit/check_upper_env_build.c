/* Unit tests for lower-half/upper_env_build: the upper half's environment,
 * made from the lower half's. */
#define _GNU_SOURCE
#include <check.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mana/call_table.h"
#include "upper_env_build.h"

#define LIBMANA "/opt/mana/lib/mana/libmana.so"
#define STUB_DIR "/opt/mana/lib/mana/stub"
#define RSEQ_OFF "glibc.pthread.rseq=0"

static char **env; /* result under test, freed by the teardown */

static void teardown(void)
{
    if (env != NULL) {
        for (char **e = env; *e != NULL; e++)
            free(*e);
        free(env);
    }
    env = NULL;
}

static char **build(char *const *lower, uint64_t table)
{
    struct upper_env_inputs in = {
        .lower_env = lower, .libmana_path = LIBMANA, .stub_dir = STUB_DIR, .call_table = table};
    env = upper_env_build(&in);
    ck_assert_ptr_nonnull(env);
    return env;
}

static size_t count(char *const *v)
{
    size_t n = 0;
    while (v[n] != NULL)
        n++;
    return n;
}

/* How many entries define NAME. */
static int defs(const char *name)
{
    int n = 0;
    size_t len = strlen(name);
    for (char **e = env; *e != NULL; e++)
        if (strncmp(*e, name, len) == 0 && (*e)[len] == '=')
            n++;
    return n;
}

/* The value of NAME, which must be defined exactly once. */
static const char *value(const char *name)
{
    ck_assert_msg(defs(name) == 1, "%s is defined %d times", name, defs(name));
    size_t len = strlen(name);
    for (char **e = env; *e != NULL; e++)
        if (strncmp(*e, name, len) == 0 && (*e)[len] == '=')
            return *e + len + 1;
    return NULL;
}

/* Whether the exact entry ENTRY is present. */
static int has(const char *entry)
{
    for (char **e = env; *e != NULL; e++)
        if (strcmp(*e, entry) == 0)
            return 1;
    return 0;
}

START_TEST(test_no_user_values)
{
    char *lower[] = {"HOME=/root", "PATH=/usr/bin:/bin", NULL};
    build(lower, 0x7f1234567000ULL);
    ck_assert_uint_eq(count(env), 2 + 4);
    /* Others first, in their order, as copies. */
    ck_assert_str_eq(env[0], "HOME=/root");
    ck_assert_str_eq(env[1], "PATH=/usr/bin:/bin");
    ck_assert_ptr_ne(env[0], lower[0]);
    ck_assert_str_eq(value("LD_PRELOAD"), LIBMANA);
    ck_assert_str_eq(value("LD_LIBRARY_PATH"), STUB_DIR);
    ck_assert_str_eq(value("GLIBC_TUNABLES"), RSEQ_OFF);
    ck_assert_str_eq(value(MANA_CALL_TABLE_ENV), "7f1234567000");
    ck_assert_int_eq(defs("MANA_USER_LD_PRELOAD"), 0);
}
END_TEST

START_TEST(test_empty_lower_env)
{
    char *lower[] = {NULL};
    build(lower, 0x1000);
    ck_assert_uint_eq(count(env), 4);
    ck_assert_str_eq(value("LD_PRELOAD"), LIBMANA);
    ck_assert_str_eq(value("LD_LIBRARY_PATH"), STUB_DIR);
    ck_assert_str_eq(value("GLIBC_TUNABLES"), RSEQ_OFF);
    ck_assert_str_eq(value(MANA_CALL_TABLE_ENV), "1000");
}
END_TEST

START_TEST(test_library_path_prepended)
{
    char *lower[] = {"LD_LIBRARY_PATH=/usr/lib/x86_64-linux-gnu/mpich/lib:/home/u/lib", "A=1", NULL};
    build(lower, 0x1000);
    ck_assert_uint_eq(count(env), 1 + 4);
    ck_assert_str_eq(value("LD_LIBRARY_PATH"), STUB_DIR ":/usr/lib/x86_64-linux-gnu/mpich/lib:/home/u/lib");
    ck_assert_str_eq(value("A"), "1");
}
END_TEST

START_TEST(test_library_path_empty_user_value)
{
    char *lower[] = {"LD_LIBRARY_PATH=", NULL};
    build(lower, 0x1000);
    /* No trailing ':' (an empty entry would mean the current directory). */
    ck_assert_str_eq(value("LD_LIBRARY_PATH"), STUB_DIR);
}
END_TEST

START_TEST(test_user_preload_restored)
{
    /* mana-launch moved the user's LD_PRELOAD to MANA_USER_LD_PRELOAD; the
     * lower half may have a preload of its own that must not leak up. */
    char *lower[] = {"LD_PRELOAD=/lower/only.so", "MANA_USER_LD_PRELOAD=/home/u/a.so:/home/u/b.so", "X=y", NULL};
    build(lower, 0x1000);
    ck_assert_uint_eq(count(env), 1 + 4);
    ck_assert_str_eq(value("LD_PRELOAD"), LIBMANA ":/home/u/a.so:/home/u/b.so");
    ck_assert_int_eq(defs("MANA_USER_LD_PRELOAD"), 0);
    ck_assert_ptr_null(strstr(value("LD_PRELOAD"), "/lower/only.so"));
    ck_assert_str_eq(value("X"), "y");
}
END_TEST

START_TEST(test_user_preload_empty)
{
    char *lower[] = {"MANA_USER_LD_PRELOAD=", "LD_PRELOAD=/lower/only.so", NULL};
    build(lower, 0x1000);
    ck_assert_str_eq(value("LD_PRELOAD"), LIBMANA);
    ck_assert_int_eq(defs("MANA_USER_LD_PRELOAD"), 0);
    ck_assert_uint_eq(count(env), 4);
}
END_TEST

START_TEST(test_plain_preload_kept_without_saved_one)
{
    char *lower[] = {"LD_PRELOAD=/home/u/trace.so", NULL};
    build(lower, 0x1000);
    ck_assert_str_eq(value("LD_PRELOAD"), LIBMANA ":/home/u/trace.so");
    ck_assert_uint_eq(count(env), 4);
}
END_TEST

START_TEST(test_tunables_merged)
{
    char *lower[] = {"GLIBC_TUNABLES=glibc.malloc.check=3:glibc.malloc.tcache_count=0", NULL};
    build(lower, 0x1000);
    ck_assert_str_eq(value("GLIBC_TUNABLES"), "glibc.malloc.check=3:glibc.malloc.tcache_count=0:" RSEQ_OFF);
    ck_assert_uint_eq(count(env), 4);
}
END_TEST

START_TEST(test_tunables_user_rseq_overridden)
{
    /* glibc applies tunables left to right: MANA's setting must come last
     * so a user's glibc.pthread.rseq=1 cannot turn rseq back on. */
    char *lower[] = {"GLIBC_TUNABLES=glibc.pthread.rseq=1", NULL};
    build(lower, 0x1000);
    const char *v = value("GLIBC_TUNABLES");
    const char *last = strrchr(v, ':');
    ck_assert_ptr_nonnull(last);
    ck_assert_str_eq(last + 1, RSEQ_OFF);
    ck_assert_str_eq(v, "glibc.pthread.rseq=1:" RSEQ_OFF);
}
END_TEST

START_TEST(test_tunables_empty_user_value)
{
    char *lower[] = {"GLIBC_TUNABLES=", NULL};
    build(lower, 0x1000);
    ck_assert_str_eq(value("GLIBC_TUNABLES"), RSEQ_OFF);
}
END_TEST

START_TEST(test_call_table_hex)
{
    static const uint64_t addrs[] = {0x1, 0xdeadbeef, 0x7ffff7fc1000ULL, 0xffffffffffffffffULL};
    for (size_t i = 0; i < sizeof addrs / sizeof addrs[0]; i++) {
        char *lower[] = {"MANA_CALL_TABLE=stale", NULL};
        build(lower, addrs[i]);
        const char *v = value(MANA_CALL_TABLE_ENV);
        /* Parsed the way libmana parses it. */
        char *end;
        errno = 0;
        unsigned long long got = strtoull(v, &end, 16);
        ck_assert_int_eq(errno, 0);
        ck_assert_int_eq(*end, '\0');
        ck_assert_uint_eq(got, addrs[i]);
        ck_assert_uint_eq(count(env), 4);
        teardown();
    }
    char *lower[] = {NULL};
    build(lower, 0xabcdef0123ULL);
    ck_assert_str_eq(value(MANA_CALL_TABLE_ENV), "abcdef0123");
}
END_TEST

START_TEST(test_replaced_not_duplicated)
{
    char *lower[] = {"LD_PRELOAD=/a.so",
                     "LD_LIBRARY_PATH=/l1",
                     "GLIBC_TUNABLES=glibc.malloc.check=1",
                     "MANA_CALL_TABLE=123",
                     "MANA_USER_LD_PRELOAD=/u.so",
                     "LD_LIBRARY_PATH=/l2", /* a second definition: dropped too */
                     "TERM=xterm",
                     NULL};
    build(lower, 0x4000);
    ck_assert_uint_eq(count(env), 1 + 4);
    ck_assert_str_eq(env[0], "TERM=xterm");
    ck_assert_str_eq(value("LD_PRELOAD"), LIBMANA ":/u.so");
    /* The first definition is the one getenv would have seen. */
    ck_assert_str_eq(value("LD_LIBRARY_PATH"), STUB_DIR ":/l1");
    ck_assert_str_eq(value("GLIBC_TUNABLES"), "glibc.malloc.check=1:" RSEQ_OFF);
    ck_assert_str_eq(value(MANA_CALL_TABLE_ENV), "4000");
    ck_assert_int_eq(defs("MANA_USER_LD_PRELOAD"), 0);
}
END_TEST

START_TEST(test_similar_names_kept)
{
    char *lower[] = {"LD_PRELOAD_X=1",   "LD_LIBRARY_PATHS=/x", "GLIBC_TUNABLESX=2", "MANA_CALL_TABLE_OLD=3",
                     "XLD_PRELOAD=/b",   "LD_PRELOAD",          "NOEQUALS",          "EMPTY=",
                     "A=b=c",            NULL};
    build(lower, 0x1000);
    ck_assert_uint_eq(count(env), 9 + 4);
    for (int i = 0; i < 9; i++)
        ck_assert_str_eq(env[i], lower[i]);
    ck_assert_str_eq(value("LD_PRELOAD"), LIBMANA);
    ck_assert_str_eq(value("LD_LIBRARY_PATH"), STUB_DIR);
    ck_assert_str_eq(value("GLIBC_TUNABLES"), RSEQ_OFF);
    ck_assert_int_eq(has("LD_PRELOAD"), 1);
}
END_TEST

START_TEST(test_many_variables)
{
    enum { N = 500 };
    char **lower = calloc(N + 1, sizeof *lower);
    ck_assert_ptr_nonnull(lower);
    for (int i = 0; i < N; i++)
        ck_assert_int_gt(asprintf(&lower[i], "VAR_%d=value %d", i, i * 7), 0);
    build(lower, 0x1000);
    ck_assert_uint_eq(count(env), N + 4);
    for (int i = 0; i < N; i++) {
        char want[64];
        snprintf(want, sizeof want, "VAR_%d=value %d", i, i * 7);
        if (strcmp(env[i], want) != 0)
            ck_abort_msg("entry %d is '%s', expected '%s'", i, env[i], want);
        free(lower[i]);
    }
    free(lower);
}
END_TEST

static Suite *upper_env_build_suite(void)
{
    Suite *s = suite_create("upper_env_build");
    TCase *tc = tcase_create("env");
    tcase_add_checked_fixture(tc, NULL, teardown);
    tcase_add_test(tc, test_no_user_values);
    tcase_add_test(tc, test_empty_lower_env);
    tcase_add_test(tc, test_library_path_prepended);
    tcase_add_test(tc, test_library_path_empty_user_value);
    tcase_add_test(tc, test_user_preload_restored);
    tcase_add_test(tc, test_user_preload_empty);
    tcase_add_test(tc, test_plain_preload_kept_without_saved_one);
    tcase_add_test(tc, test_tunables_merged);
    tcase_add_test(tc, test_tunables_user_rseq_overridden);
    tcase_add_test(tc, test_tunables_empty_user_value);
    tcase_add_test(tc, test_call_table_hex);
    tcase_add_test(tc, test_replaced_not_duplicated);
    tcase_add_test(tc, test_similar_names_kept);
    tcase_add_test(tc, test_many_variables);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(upper_env_build_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

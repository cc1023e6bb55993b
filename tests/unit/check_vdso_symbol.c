/* vdso_symbol: functions found in the vDSO are the kernel's and work. */
#include <check.h>
#include <stdlib.h>
#include <time.h>

#include "vdso_symbol.h"

START_TEST(test_clock_gettime_found_and_works)
{
    int (*vdso_gettime)(int, void *) = (int (*)(int, void *))vdso_symbol("__vdso_clock_gettime");
    ck_assert_ptr_nonnull(vdso_gettime);
    struct timespec before, via_vdso, after;
    clock_gettime(CLOCK_MONOTONIC, &before);
    ck_assert_int_eq(vdso_gettime(CLOCK_MONOTONIC, &via_vdso), 0);
    clock_gettime(CLOCK_MONOTONIC, &after);
    double b = before.tv_sec + before.tv_nsec * 1e-9, v = via_vdso.tv_sec + via_vdso.tv_nsec * 1e-9,
           a = after.tv_sec + after.tv_nsec * 1e-9;
    ck_assert_msg(b <= v && v <= a, "vDSO time %.9f not between %.9f and %.9f", v, b, a);
}
END_TEST

START_TEST(test_unknown_symbol_is_null)
{
    ck_assert_ptr_null(vdso_symbol("__vdso_no_such_function"));
    ck_assert_ptr_null(vdso_symbol(""));
}
END_TEST

int main(void)
{
    Suite *s = suite_create("vdso_symbol");
    TCase *tc = tcase_create("lookup");
    tcase_add_test(tc, test_clock_gettime_found_and_works);
    tcase_add_test(tc, test_unknown_symbol_is_null);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

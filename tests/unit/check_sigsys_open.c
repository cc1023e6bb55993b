/* Unit tests for lower-half/sigsys_open: whatever a library asks, the
 * lower half's mask calls leave SIGSYS open (the region labeller's trap
 * must reach every thread), and they still do everything else. */
#define _GNU_SOURCE
#include <check.h>
#include <pthread.h>
#include <signal.h>

static sigset_t current_mask(void)
{
    sigset_t now;
    ck_assert_int_eq(pthread_sigmask(SIG_BLOCK, NULL, &now), 0);
    return now;
}

START_TEST(setmask_full_keeps_sigsys_open)
{
    sigset_t all, old;
    sigfillset(&all);
    ck_assert_int_eq(pthread_sigmask(SIG_SETMASK, &all, &old), 0);
    sigset_t now = current_mask();
    ck_assert(!sigismember(&now, SIGSYS));
    ck_assert(sigismember(&now, SIGUSR1));
    ck_assert(sigismember(&now, SIGTERM));
    ck_assert_int_eq(pthread_sigmask(SIG_SETMASK, &old, NULL), 0);
}
END_TEST

START_TEST(block_sigsys_alone_does_nothing)
{
    sigset_t sys, old;
    sigemptyset(&sys);
    sigaddset(&sys, SIGSYS);
    ck_assert_int_eq(sigprocmask(SIG_BLOCK, &sys, &old), 0);
    sigset_t now = current_mask();
    ck_assert(!sigismember(&now, SIGSYS));
    ck_assert_int_eq(sigprocmask(SIG_SETMASK, &old, NULL), 0);
}
END_TEST

START_TEST(unblock_and_query_pass_through)
{
    sigset_t usr, old;
    sigemptyset(&usr);
    sigaddset(&usr, SIGUSR1);
    ck_assert_int_eq(sigprocmask(SIG_BLOCK, &usr, &old), 0);
    sigset_t now = current_mask();
    ck_assert(sigismember(&now, SIGUSR1));
    ck_assert_int_eq(pthread_sigmask(SIG_UNBLOCK, &usr, NULL), 0);
    now = current_mask();
    ck_assert(!sigismember(&now, SIGUSR1));
    ck_assert_int_eq(sigprocmask(SIG_SETMASK, &old, NULL), 0);
}
END_TEST

static void *report_mask(void *out)
{
    *(sigset_t *)out = current_mask();
    return NULL;
}

START_TEST(threads_started_with_everything_blocked_take_sigsys)
{
    sigset_t all, old, child;
    sigfillset(&all);
    ck_assert_int_eq(pthread_sigmask(SIG_SETMASK, &all, &old), 0);
    pthread_t t;
    ck_assert_int_eq(pthread_create(&t, NULL, report_mask, &child), 0);
    ck_assert_int_eq(pthread_join(t, NULL), 0);
    ck_assert_int_eq(pthread_sigmask(SIG_SETMASK, &old, NULL), 0);
    ck_assert(!sigismember(&child, SIGSYS));
    ck_assert(sigismember(&child, SIGUSR2));
}
END_TEST

int main(void)
{
    Suite *s = suite_create("sigsys_open");
    TCase *tc = tcase_create("masks");
    tcase_add_test(tc, setmask_full_keeps_sigsys_open);
    tcase_add_test(tc, block_sigsys_alone_does_nothing);
    tcase_add_test(tc, unblock_and_query_pass_through);
    tcase_add_test(tc, threads_started_with_everything_blocked_take_sigsys);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? 0 : 1;
}

/* Unit tests for upper-half/drain_store (the messages a checkpoint
 * drained): matching follows MPI's rules (the first queued message of the
 * communicator whose source and tag match, wildcards included, never one
 * of another communicator, none for MPI_PROC_NULL), taking keeps the
 * order of the rest, records of any size keep their bytes, a record can
 * be found by its arrival number until released, and the last release
 * gives every chunk back (live count 0, queue empty). */
#include <check.h>
#include <mpi.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../upper-half/drain_store.h"

static void release_all(void)
{
    struct mana_drained *d;
    while ((d = drain_store_match(1, MPI_ANY_SOURCE, MPI_ANY_TAG)) != NULL)
        drain_store_release(d);
    while ((d = drain_store_match(2, MPI_ANY_SOURCE, MPI_ANY_TAG)) != NULL)
        drain_store_release(d);
}

START_TEST(match_in_order)
{
    struct mana_drained *a = drain_store_add(1, 0, 5, 4);
    struct mana_drained *b = drain_store_add(1, 1, 5, 4);
    struct mana_drained *c = drain_store_add(2, 0, 5, 4);
    struct mana_drained *d = drain_store_add(1, 0, 6, 4);
    ck_assert_ptr_nonnull(a);
    ck_assert_ptr_nonnull(d);
    ck_assert_uint_eq(mana_drained_queued, 4);
    ck_assert_ptr_eq(drain_store_match(1, MPI_ANY_SOURCE, MPI_ANY_TAG), a);
    ck_assert_ptr_eq(drain_store_match(1, 1, MPI_ANY_TAG), b);
    ck_assert_ptr_eq(drain_store_match(1, MPI_ANY_SOURCE, 6), d);
    ck_assert_ptr_eq(drain_store_match(2, 0, 5), c);
    ck_assert_ptr_null(drain_store_match(2, 1, 5));
    ck_assert_ptr_null(drain_store_match(3, MPI_ANY_SOURCE, MPI_ANY_TAG));
    ck_assert_ptr_null(drain_store_match(1, MPI_PROC_NULL, MPI_ANY_TAG));
    drain_store_take(a);
    ck_assert_uint_eq(mana_drained_queued, 3);
    ck_assert_ptr_eq(drain_store_match(1, 0, MPI_ANY_TAG), d);
    uint64_t seq = a->seq;
    ck_assert_ptr_eq(drain_store_find(seq, UINT64_MAX), a); /* taken, not released: still found */
    drain_store_release(a);
    ck_assert_ptr_null(drain_store_find(seq, UINT64_MAX));
    release_all();
    ck_assert_uint_eq(drain_store_live(), 0);
    ck_assert_uint_eq(mana_drained_queued, 0);
}
END_TEST

START_TEST(data_survives_many_and_large)
{
    enum { N = 300 };
    struct mana_drained *rec[N];
    for (int i = 0; i < N; i++) {
        int64_t bytes = i == 7 ? 3 << 20 : i * 13; /* one larger than a chunk */
        rec[i] = drain_store_add(1, i % 4, i, bytes);
        ck_assert_ptr_nonnull(rec[i]);
        ck_assert_uint_eq((uintptr_t)rec[i]->data % 16, 0);
        memset(rec[i]->data, i & 0xff, (size_t)bytes);
    }
    for (int i = 0; i < N; i++) {
        ck_assert_int_eq(rec[i]->bytes, i == 7 ? 3 << 20 : i * 13);
        for (int64_t j = 0; j < rec[i]->bytes; j += 97)
            ck_assert_uint_eq(rec[i]->data[j], (unsigned)(i & 0xff));
    }
    /* Taken in reverse: the queue's tail must follow. */
    for (int i = N - 1; i >= 0; i--)
        drain_store_take(rec[i]);
    ck_assert_uint_eq(mana_drained_queued, 0);
    struct mana_drained *again = drain_store_add(1, 0, 1, 8);
    ck_assert_ptr_eq(drain_store_match(1, 0, 1), again);
    drain_store_release(again);
    for (int i = 0; i < N; i++)
        drain_store_release(rec[i]);
    drain_store_release(rec[0]); /* a second release changes nothing */
    ck_assert_uint_eq(drain_store_live(), 0);
}
END_TEST

START_TEST(status_records)
{
    struct mana_drained *s = drain_store_status(3, 9, MPI_SUCCESS, 40, 0);
    ck_assert_ptr_nonnull(s);
    ck_assert_int_eq(s->state, MANA_DRAINED_STATUS);
    ck_assert_ptr_null(drain_store_match((int32_t)MPI_COMM_NULL, MPI_ANY_SOURCE, MPI_ANY_TAG));
    ck_assert_ptr_null(drain_store_find(s->seq, UINT64_MAX)); /* not a message */
    ck_assert_uint_eq(mana_drained_queued, 0);
    ck_assert_uint_eq(drain_store_live(), 1);
    drain_store_release(s);
    ck_assert_uint_eq(drain_store_live(), 0);
}
END_TEST

static Suite *drain_store_suite(void)
{
    Suite *s = suite_create("drain_store");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, match_in_order);
    tcase_add_test(tc, data_survives_many_and_large);
    tcase_add_test(tc, status_records);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(drain_store_suite());
    srunner_set_fork_status(sr, CK_NOFORK);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

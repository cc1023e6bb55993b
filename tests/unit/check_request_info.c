/* Unit tests for upper-half/request_info (pending-request descriptors) and
 * upper-half/mpi_blob (record argument blobs): descriptors are found by
 * request id and only by the id they were stored for, iteration sees each
 * once, clearing frees what a descriptor owns; a blob reads back what was
 * written, NULL arrays and strings included, and a truncated or
 * over-long read fails instead of reading past the end. */
#include <check.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../upper-half/mpi_blob.h"
#include "../../upper-half/request_info.h"
#include "../../upper-half/virtual_ids.h"

static int32_t request_id(uint32_t idx, uint32_t gen)
{
    return (int32_t)(VID_INDIRECT_BITS | (0xbu << VID_KIND_SHIFT) | (gen << VID_GEN_SHIFT) | idx);
}

static void teardown(void)
{
    mana_request_info_reset();
}

START_TEST(set_get_clear)
{
    struct mana_request_info d = {.vid = request_id(3, 0), .kind = MANA_REQ_RECV, .active = 1,
                                  .function = "MPI_Irecv", .source = 2, .recv_tag = 7};
    ck_assert_int_eq(mana_request_info_set(&d), 0);
    struct mana_request_info *g = mana_request_info_get(request_id(3, 0));
    ck_assert_ptr_nonnull(g);
    ck_assert_int_eq(g->kind, MANA_REQ_RECV);
    ck_assert_int_eq(g->source, 2);
    ck_assert_int_eq(g->recv_tag, 7);
    /* Same slot, other generation: not this descriptor. */
    ck_assert_ptr_null(mana_request_info_get(request_id(3, 1)));
    ck_assert_ptr_null(mana_request_info_get(request_id(4000, 0)));
    /* Not a request id at all. */
    d.vid = (int32_t)(VID_INDIRECT_BITS | (0x1u << VID_KIND_SHIFT) | 3);
    ck_assert_int_eq(mana_request_info_set(&d), -1);
    ck_assert_ptr_null(mana_request_info_get(d.vid));
    ck_assert_uint_eq(mana_request_info_count(), 1);
    mana_request_info_clear(request_id(3, 0));
    ck_assert_ptr_null(mana_request_info_get(request_id(3, 0)));
    ck_assert_uint_eq(mana_request_info_count(), 0);
}
END_TEST

START_TEST(iterate_and_own)
{
    for (uint32_t i = 0; i < 1000; i += 3) {
        struct mana_request_info d = {.vid = request_id(i, i % 16), .kind = MANA_REQ_SEND, .dest = (int32_t)i};
        d.owned[0] = malloc(16); /* freed by clear/reset: ASan checks */
        ck_assert_int_eq(mana_request_info_set(&d), 0);
    }
    size_t cursor = 0, seen = 0;
    for (struct mana_request_info *r; (r = mana_request_info_next(&cursor)) != NULL; seen++) {
        ck_assert_int_eq(r->vid, request_id((uint32_t)r->dest, (uint32_t)r->dest % 16));
        if (r->dest % 2 == 0)
            mana_request_info_clear(r->vid);
    }
    ck_assert_uint_eq(seen, 334);
    ck_assert_uint_eq(mana_request_info_count(), 167);
}
END_TEST

START_TEST(blob_round_trip)
{
    struct mana_blob b;
    mana_blob_init(&b);
    int x = -5;
    long big[100];
    for (int i = 0; i < 100; i++)
        big[i] = i * 1000003L;
    mana_blob_put(&b, &x, sizeof x);
    mana_blob_put_ptr(&b, (void *)0x1234);
    mana_blob_put_str(&b, "hello");
    mana_blob_put_str(&b, NULL);
    mana_blob_put_array(&b, big, 100, sizeof big[0]); /* past the small buffer */
    mana_blob_put_array(&b, NULL, 4, sizeof big[0]);
    ck_assert_int_eq(b.failed, 0);

    struct mana_blob_reader r;
    mana_blob_reader_init(&r, b.p, b.len);
    int y = 0;
    mana_blob_get(&r, &y, sizeof y);
    ck_assert_int_eq(y, -5);
    ck_assert_ptr_eq(mana_blob_get_ptr(&r), (void *)0x1234);
    ck_assert_str_eq(mana_blob_get_str(&r), "hello");
    ck_assert_ptr_null(mana_blob_get_str(&r));
    int64_t n;
    long *a = mana_blob_get_array(&r, sizeof *a, &n);
    ck_assert_int_eq(n, 100);
    ck_assert_int_eq(memcmp(a, big, sizeof big), 0);
    ck_assert_ptr_null(mana_blob_get_array(&r, sizeof *a, &n));
    ck_assert_int_eq(mana_blob_reader_ok(&r), 1);
    ck_assert_int_eq(mana_blob_reader_done(&r), 0);

    /* Truncated: every read fails, nothing is read past the end. */
    for (size_t cut = 0; cut < b.len; cut += 7) {
        mana_blob_reader_init(&r, b.p, cut);
        mana_blob_get(&r, &y, sizeof y);
        mana_blob_get_ptr(&r);
        mana_blob_get_str(&r);
        mana_blob_get_str(&r);
        mana_blob_get_array(&r, sizeof *a, &n);
        ck_assert_int_eq(mana_blob_reader_ok(&r), 0);
        ck_assert_int_eq(mana_blob_reader_done(&r), -1);
    }
    mana_blob_free(&b);
}
END_TEST

/* An array argument that is an MPI sentinel (MPI_UNWEIGHTED...) reads
 * back as that sentinel where one may stand, and as a malformed record
 * where only data may. */
START_TEST(blob_sentinels)
{
    struct mana_blob b;
    mana_blob_init(&b);
    int w[3] = {4, 5, 6};
    mana_blob_put_sentinel(&b, 1);
    mana_blob_put_array(&b, w, 3, sizeof w[0]);
    mana_blob_put_sentinel(&b, 0);

    struct mana_blob_reader r;
    int64_t n = -1;
    int which = -1;
    mana_blob_reader_init(&r, b.p, b.len);
    ck_assert_ptr_null(mana_blob_get_array_or_sentinel(&r, sizeof w[0], &n, &which));
    ck_assert_int_eq(which, 1);
    ck_assert_int_eq(n, 0);
    which = -1;
    int *a = mana_blob_get_array_or_sentinel(&r, sizeof w[0], &n, &which);
    ck_assert_int_eq(which, -1);
    ck_assert_int_eq(n, 3);
    ck_assert_int_eq(a[2], 6);
    ck_assert_ptr_null(mana_blob_get_array_or_sentinel(&r, sizeof w[0], &n, &which));
    ck_assert_int_eq(which, 0);
    ck_assert_int_eq(mana_blob_reader_ok(&r), 1);
    ck_assert_int_eq(mana_blob_reader_done(&r), 0);

    mana_blob_reader_init(&r, b.p, b.len);
    ck_assert_ptr_null(mana_blob_get_array(&r, sizeof w[0], &n));
    ck_assert_int_eq(mana_blob_reader_ok(&r), 0);
    ck_assert_int_eq(mana_blob_reader_done(&r), -1);
    mana_blob_free(&b);
}
END_TEST

static Suite *request_info_suite(void)
{
    Suite *s = suite_create("request_info");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, NULL, teardown);
    tcase_add_test(tc, set_get_clear);
    tcase_add_test(tc, iterate_and_own);
    tcase_add_test(tc, blob_round_trip);
    tcase_add_test(tc, blob_sentinels);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(request_info_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

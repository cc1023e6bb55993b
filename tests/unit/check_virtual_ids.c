/* Unit tests for upper-half/virtual_ids: predefined MPICH handles map to
 * themselves and are never released; user ids are MPICH-indirect-shaped,
 * never equal a predefined constant, and fail lookup once released; a
 * randomized run compares thousands of register/release operations with a
 * plain model. */
#include <check.h>
#include <mpi.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../upper-half/virtual_ids.h"

#define REQUIRE(cond, ...)                                                                                             \
    do {                                                                                                               \
        if (!(cond))                                                                                                   \
            ck_abort_msg(__VA_ARGS__);                                                                                 \
    } while (0)

static void setup(void)
{
    ck_assert_int_eq(vid_init(), 0);
}

static void teardown(void)
{
    vid_fini();
}

struct pd {
    enum vid_kind kind;
    int32_t v;
};
static const struct pd some_predef[] = {
    {VID_COMM, MPI_COMM_WORLD},       {VID_COMM, MPI_COMM_SELF},         {VID_COMM, MPI_COMM_NULL},
    {VID_GROUP, MPI_GROUP_EMPTY},     {VID_GROUP, MPI_GROUP_NULL},       {VID_DATATYPE, MPI_INT},
    {VID_DATATYPE, MPI_DOUBLE},       {VID_DATATYPE, MPI_DATATYPE_NULL}, {VID_DATATYPE, MPI_2INT},
    {VID_DATATYPE, MPI_DOUBLE_INT},   {VID_DATATYPE, MPI_LONG_DOUBLE_INT}, {VID_DATATYPE, MPI_LONG_LONG},
    {VID_DATATYPE, MPI_CXX_LONG_DOUBLE_COMPLEX}, {VID_OP, MPI_SUM},      {VID_OP, MPI_NO_OP},
    {VID_OP, MPI_OP_NULL},            {VID_REQUEST, MPI_REQUEST_NULL},   {VID_ERRHANDLER, MPI_ERRORS_ARE_FATAL},
    {VID_ERRHANDLER, MPI_ERRORS_RETURN}, {VID_ERRHANDLER, MPI_ERRHANDLER_NULL}, {VID_INFO, MPI_INFO_NULL},
    {VID_INFO, MPI_INFO_ENV},         {VID_KEYVAL, MPI_TAG_UB},          {VID_KEYVAL, MPI_KEYVAL_INVALID},
    {VID_KEYVAL, MPI_WIN_MODEL},      {VID_WIN, MPI_WIN_NULL},
};

START_TEST(predefined_map_to_themselves)
{
    for (size_t i = 0; i < sizeof some_predef / sizeof some_predef[0]; i++) {
        uint64_t real = 0;
        enum vid_kind k = some_predef[i].kind;
        int32_t v = some_predef[i].v;
        ck_assert_msg(vid_lookup(k, v, &real) == 0, "%s %#x", vid_kind_name(k), (unsigned)v);
        ck_assert_uint_eq(real, (uint32_t)v);
        ck_assert_int_eq(vid_is_predefined(k, v), 1);
        ck_assert_int_eq(vid_release(k, v), -1);
        ck_assert_int_eq(vid_lookup(k, v, &real), 0);
    }
    /* Another kind's constant is not predefined here. */
    uint64_t real;
    ck_assert_int_eq(vid_lookup(VID_COMM, MPI_INT, &real), -1);
    ck_assert_int_eq(vid_lookup(VID_DATATYPE, MPI_COMM_WORLD, &real), -1);
    ck_assert_int_eq(vid_is_predefined(VID_OP, MPI_COMM_WORLD), 0);
    ck_assert_uint_eq(vid_live_count(VID_COMM), 0);
}
END_TEST

START_TEST(predefined_update_real)
{
    uint64_t real;
    ck_assert_int_eq(vid_update_real(VID_COMM, MPI_COMM_WORLD, 0x7f0012345678ull), 0);
    ck_assert_int_eq(vid_lookup(VID_COMM, MPI_COMM_WORLD, &real), 0);
    ck_assert_uint_eq(real, 0x7f0012345678ull);
    uint64_t *u = vid_user(VID_COMM, MPI_COMM_WORLD);
    ck_assert_ptr_nonnull(u);
    u[0] = 4;
    u[1] = 16;
    ck_assert_uint_eq(vid_user(VID_COMM, MPI_COMM_WORLD)[1], 16);
    /* iteration over predefined entries sees WORLD with its new real */
    uint32_t cur = 0;
    int seen = 0;
    struct vid_entry *e;
    while ((e = vid_iter_next(VID_COMM, VID_ITER_PREDEFINED, &cur)))
        if (e->virt == MPI_COMM_WORLD && e->real == 0x7f0012345678ull)
            seen++;
    ck_assert_int_eq(seen, 1);
    cur = 0;
    ck_assert_ptr_null(vid_iter_next(VID_COMM, VID_ITER_USER, &cur));
}
END_TEST

START_TEST(register_lookup_release_reuse)
{
    uint64_t real;
    int32_t a = vid_register(VID_COMM, 0x1234);
    int32_t b = vid_register(VID_COMM, UINT64_C(0xffff800012345678));
    ck_assert_int_ne(a, VID_INVALID);
    ck_assert_int_ne(b, VID_INVALID);
    ck_assert_int_ne(a, b);
    ck_assert_uint_eq((uint32_t)a & 0xfc000000u, 0xc4000000u); /* indirect, comm kind */
    ck_assert_int_ne(a, MPI_COMM_NULL);
    ck_assert_int_eq(vid_lookup(VID_COMM, a, &real), 0);
    ck_assert_uint_eq(real, 0x1234);
    ck_assert_int_eq(vid_lookup(VID_COMM, b, &real), 0);
    ck_assert_uint_eq(real, UINT64_C(0xffff800012345678));
    ck_assert_int_eq(vid_is_predefined(VID_COMM, a), 0);
    /* wrong kind */
    ck_assert_int_eq(vid_lookup(VID_DATATYPE, a, &real), -1);
    ck_assert_int_eq(vid_release(VID_GROUP, a), -1);
    /* user words start zeroed */
    ck_assert_uint_eq(vid_user(VID_COMM, a)[0], 0);
    vid_user(VID_COMM, a)[0] = 99;
    ck_assert_int_eq(vid_update_real(VID_COMM, a, 0x5678), 0);
    ck_assert_int_eq(vid_lookup(VID_COMM, a, &real), 0);
    ck_assert_uint_eq(real, 0x5678);
    ck_assert_uint_eq(vid_live_count(VID_COMM), 2);

    ck_assert_int_eq(vid_release(VID_COMM, a), 0);
    ck_assert_int_eq(vid_release(VID_COMM, a), -1);
    ck_assert_int_eq(vid_lookup(VID_COMM, a, &real), -1);
    ck_assert_int_eq(vid_update_real(VID_COMM, a, 1), -1);
    ck_assert_ptr_null(vid_user(VID_COMM, a));
    ck_assert_uint_eq(vid_live_count(VID_COMM), 1);

    /* Churn until a's slot is reused: the new id differs (generation) and
     * a stays dead; the new entry's user words are zero. */
    uint32_t a_idx = (uint32_t)a & VID_INDEX_MASK;
    int reused = 0;
    for (int i = 0; i < 1000 && !reused; i++) {
        int32_t c = vid_register(VID_COMM, 0x9000 + (uint64_t)i);
        ck_assert_int_ne(c, VID_INVALID);
        if (((uint32_t)c & VID_INDEX_MASK) == a_idx) {
            reused = 1;
            ck_assert_int_ne(c, a);
            ck_assert_int_eq(vid_lookup(VID_COMM, a, &real), -1);
            ck_assert_int_eq(vid_lookup(VID_COMM, c, &real), 0);
            ck_assert_uint_eq(real, 0x9000 + (uint64_t)i);
            ck_assert_uint_eq(vid_user(VID_COMM, c)[0], 0);
        }
        ck_assert_int_eq(vid_release(VID_COMM, c), 0);
    }
    ck_assert_int_eq(reused, 1);
    ck_assert_int_eq(vid_lookup(VID_COMM, b, &real), 0);
}
END_TEST

START_TEST(never_issued_ids_fail)
{
    uint64_t real;
    static const int32_t bogus[] = {0, -1, 1, 0x44000002, (int32_t)0x84000000, (int32_t)0xc4000000,
                                    (int32_t)0xc4000005, (int32_t)0xc43fffff, (int32_t)0xc7ffffff,
                                    (int32_t)0xcc000000, 0x7fffffff, INT32_MIN};
    for (size_t i = 0; i < sizeof bogus / sizeof bogus[0]; i++)
        for (int k = 0; k < VID_NKINDS; k++) {
            ck_assert_int_eq(vid_lookup((enum vid_kind)k, bogus[i], &real), -1);
            ck_assert_int_eq(vid_release((enum vid_kind)k, bogus[i]), -1);
        }
    /* Before init, nothing resolves and register fails. */
    vid_fini();
    ck_assert_int_eq(vid_lookup(VID_COMM, MPI_COMM_WORLD, &real), -1);
    ck_assert_int_eq(vid_register(VID_COMM, 1), VID_INVALID);
    ck_assert_int_eq(vid_init(), 0);
    ck_assert_int_eq(vid_init(), 0); /* idempotent */
    ck_assert_int_eq(vid_lookup(VID_COMM, MPI_COMM_WORLD, &real), 0);
}
END_TEST

/* Every predefined MPICH constant of every kind (all of them, from the
 * tables themselves) differs from every issued id of every kind. */
START_TEST(ids_never_equal_predefined)
{
    enum { PER = 3000 };
    static int32_t ids[VID_NKINDS][PER];
    for (int k = 0; k < VID_NKINDS; k++)
        for (int i = 0; i < PER; i++) {
            ids[k][i] = vid_register((enum vid_kind)k, (uint64_t)i);
            REQUIRE(ids[k][i] != VID_INVALID, "register failed");
            if (i % 3 == 0) { /* churn generations too */
                REQUIRE(vid_release((enum vid_kind)k, ids[k][i]) == 0, "release");
                ids[k][i] = vid_register((enum vid_kind)k, (uint64_t)i);
            }
        }
    for (int pk = 0; pk < VID_NKINDS; pk++) {
        uint32_t cur = 0;
        struct vid_entry *e;
        int npre = 0;
        while ((e = vid_iter_next((enum vid_kind)pk, VID_ITER_PREDEFINED, &cur))) {
            npre++;
            REQUIRE(e->state == VID_PREDEFINED, "only predefined entries");
            for (int k = 0; k < VID_NKINDS; k++)
                for (int i = 0; i < PER; i++)
                    REQUIRE(ids[k][i] != e->virt, "id %#x equals predefined %#x", (unsigned)ids[k][i],
                            (unsigned)e->virt);
        }
        ck_assert_int_gt(npre, 0);
    }
    /* And ids of different kinds never collide. */
    for (int k = 0; k < VID_NKINDS; k++)
        for (int k2 = k + 1; k2 < VID_NKINDS; k2++)
            REQUIRE(((uint32_t)ids[k][0] & VID_KIND_MASK) != ((uint32_t)ids[k2][0] & VID_KIND_MASK), "kind bits");
}
END_TEST

/* Random register/release against a model: for each issued id, whether it
 * is live and its real handle. Also checks iteration matches the model. */
START_TEST(random_against_model)
{
    enum { OPS = 40000, MAXLIVE = 3000 };
    static int32_t live_id[MAXLIVE];
    static uint64_t live_real[MAXLIVE];
    static int32_t dead[OPS];
    size_t nlive = 0, ndead = 0;
    srand(12345);
    for (int op = 0; op < OPS; op++) {
        int r = rand() % 100;
        enum vid_kind k = VID_REQUEST;
        if (nlive < MAXLIVE && (r < 55 || nlive == 0)) {
            uint64_t real = ((uint64_t)rand() << 32) | (uint64_t)op;
            int32_t v = vid_register(k, real);
            REQUIRE(v != VID_INVALID, "register");
            REQUIRE(!vid_is_predefined(k, v), "predefined clash");
            for (size_t i = 0; i < nlive; i++)
                REQUIRE(live_id[i] != v, "duplicate live id %#x", (unsigned)v);
            live_id[nlive] = v;
            live_real[nlive++] = real;
        } else if (r < 90) {
            size_t i = (size_t)rand() % nlive;
            REQUIRE(vid_release(k, live_id[i]) == 0, "release live");
            dead[ndead++] = live_id[i];
            live_id[i] = live_id[--nlive];
            live_real[i] = live_real[nlive];
        } else if (nlive) {
            size_t i = (size_t)rand() % nlive;
            live_real[i] ^= 0xabcdef;
            REQUIRE(vid_update_real(k, live_id[i], live_real[i]) == 0, "update");
        }
        if (op % 97 == 0) {
            for (size_t i = 0; i < nlive; i++) {
                uint64_t real;
                REQUIRE(vid_lookup(k, live_id[i], &real) == 0 && real == live_real[i], "lookup live");
            }
            /* dead ids fail unless a live id has the same value (after
             * the 4-bit generation wrapped) */
            for (size_t i = 0; i < ndead; i++) {
                int is_live = 0;
                for (size_t j = 0; j < nlive && !is_live; j++)
                    is_live = live_id[j] == dead[i];
                uint64_t real;
                REQUIRE((vid_lookup(k, dead[i], &real) == 0) == is_live, "lookup dead %#x", (unsigned)dead[i]);
            }
            REQUIRE(vid_live_count(k) == nlive, "live count");
            uint32_t cur = 0, n = 0;
            struct vid_entry *e;
            while ((e = vid_iter_next(k, VID_ITER_USER, &cur))) {
                n++;
                REQUIRE(e->state == VID_LIVE, "iter state");
            }
            REQUIRE(n == nlive, "iter count %u vs %zu", n, nlive);
            if (ndead > 2000)
                ndead = 0;
        }
    }
}
END_TEST

START_TEST(release_during_iteration)
{
    int32_t v[100];
    for (int i = 0; i < 100; i++)
        v[i] = vid_register(VID_DATATYPE, (uint64_t)i);
    uint32_t cur = 0;
    struct vid_entry *e;
    int n = 0;
    while ((e = vid_iter_next(VID_DATATYPE, VID_ITER_USER, &cur))) {
        n++;
        ck_assert_int_eq(vid_release(VID_DATATYPE, e->virt), 0);
    }
    ck_assert_int_eq(n, 100);
    ck_assert_uint_eq(vid_live_count(VID_DATATYPE), 0);
    uint64_t real;
    for (int i = 0; i < 100; i++)
        ck_assert_int_eq(vid_lookup(VID_DATATYPE, v[i], &real), -1);
}
END_TEST

/* Reverse lookup: predefined handles always, user ids for the kinds MPI
 * can hand back, kept right through release, reuse and update_real. */
START_TEST(reverse_lookup)
{
    ck_assert_int_eq(vid_find_real(VID_COMM, (uint32_t)MPI_COMM_WORLD), MPI_COMM_WORLD);
    ck_assert_int_eq(vid_find_real(VID_DATATYPE, (uint32_t)MPI_DOUBLE), MPI_DOUBLE);
    ck_assert_int_eq(vid_find_real(VID_COMM, 0x12345678u), VID_INVALID);
    int32_t ids[500];
    for (int i = 0; i < 500; i++) {
        ids[i] = vid_register(VID_GROUP, 0x88000000u + (uint64_t)i);
        ck_assert_int_ne(ids[i], VID_INVALID);
    }
    for (int i = 0; i < 500; i++)
        ck_assert_int_eq(vid_find_real(VID_GROUP, 0x88000000u + (uint64_t)i), ids[i]);
    for (int i = 0; i < 500; i += 2)
        ck_assert_int_eq(vid_release(VID_GROUP, ids[i]), 0);
    for (int i = 0; i < 500; i++)
        ck_assert_int_eq(vid_find_real(VID_GROUP, 0x88000000u + (uint64_t)i), i % 2 ? ids[i] : VID_INVALID);
    /* A released real handle reused by MPI for a new object: the new id. */
    int32_t again = vid_register(VID_GROUP, 0x88000000u);
    ck_assert_int_eq(vid_find_real(VID_GROUP, 0x88000000u), again);
    ck_assert_int_eq(vid_update_real(VID_GROUP, ids[1], 0x7fff0000u), 0);
    ck_assert_int_eq(vid_find_real(VID_GROUP, 0x88000001u), VID_INVALID);
    ck_assert_int_eq(vid_find_real(VID_GROUP, 0x7fff0000u), ids[1]);
    /* Requests have no reverse map: too frequent to pay for one. */
    int32_t rq = vid_register(VID_REQUEST, 0xac000001u);
    ck_assert_int_ne(rq, VID_INVALID);
    ck_assert_int_eq(vid_find_real(VID_REQUEST, 0xac000001u), VID_INVALID);
    ck_assert_int_eq(vid_find_real(VID_REQUEST, (uint32_t)MPI_REQUEST_NULL), MPI_REQUEST_NULL);
}
END_TEST

/* vid_real passes non-indirect handles through while predefined handles
 * are their own real handles, and falls back to the table afterwards. */
START_TEST(fast_path_identity)
{
    uint64_t real = 0;
    ck_assert_int_eq(vid_real(VID_COMM, MPI_COMM_WORLD, &real), 0);
    ck_assert_uint_eq(real, (uint32_t)MPI_COMM_WORLD);
    int32_t v = vid_register(VID_COMM, 0x84000007u);
    ck_assert_int_eq(vid_real(VID_COMM, v, &real), 0);
    ck_assert_uint_eq(real, 0x84000007u);
    ck_assert_int_eq(vid_update_real(VID_COMM, MPI_COMM_WORLD, 0x1000), 0);
    ck_assert_int_eq(vid_real(VID_COMM, MPI_COMM_WORLD, &real), 0);
    ck_assert_uint_eq(real, 0x1000);
    ck_assert_int_eq(vid_real(VID_COMM, 0x12345, &real), -1);
    ck_assert_int_eq(vid_find_real(VID_COMM, 0x1000), MPI_COMM_WORLD);
    struct vid_entry *e = vid_entry_of(VID_COMM, v);
    ck_assert_ptr_nonnull(e);
    ck_assert_uint_eq(e->refs, 1);
}
END_TEST

static Suite *virtual_ids_suite(void)
{
    Suite *s = suite_create("virtual_ids");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, predefined_map_to_themselves);
    tcase_add_test(tc, predefined_update_real);
    tcase_add_test(tc, register_lookup_release_reuse);
    tcase_add_test(tc, never_issued_ids_fail);
    tcase_add_test(tc, ids_never_equal_predefined);
    tcase_add_test(tc, random_against_model);
    tcase_add_test(tc, release_during_iteration);
    tcase_add_test(tc, reverse_lookup);
    tcase_add_test(tc, fast_path_identity);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(virtual_ids_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

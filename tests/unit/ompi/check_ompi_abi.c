/* Unit tests for lower-half/ompi_abi.c, the Open MPI lower half's
 * translation from MPICH's ABI: predefined handles both ways (aliases
 * included), the handle table of objects MPI creates (references, reuse,
 * kinds apart), values and flags of the constant groups, error classes,
 * statuses with counts above 2^31 and the cancelled bit, MPI_IN_PLACE.
 * Built against Open MPI's mpi.h and linked with libmpi, without
 * MPI_Init: the predefined objects are link-time addresses. */
#include <check.h>
#include <mpi.h>
#include <stdint.h>
#include <string.h>

#include "ompi_abi.h"

/* MPICH's ABI, which the table speaks; the values are MPICH 4.0's and
 * must come out of abi_consts_mpich.c as they are. */
#define MPICH_COMM_WORLD 0x44000000
#define MPICH_COMM_NULL 0x04000000
#define MPICH_INT 0x4c000405
#define MPICH_ANY_SOURCE (-2)
#define MPICH_PROC_NULL (-1)
#define MPICH_ERR_TRUNCATE 14

static void setup(void)
{
    static int done;
    if (!done)
        ompi_abi_init();
    done = 1;
}

START_TEST(mpich_values_come_from_mpich)
{
    ck_assert_int_eq(abi_mpich[ABI_C_COMM_MPI_COMM_WORLD], MPICH_COMM_WORLD);
    ck_assert_int_eq(abi_mpich[ABI_C_DATATYPE_MPI_INT], MPICH_INT);
    ck_assert_int_eq(abi_mpich[ABI_C_RANK_MPI_ANY_SOURCE], MPICH_ANY_SOURCE);
    ck_assert_int_eq(abi_mpich[ABI_C_ERRCLASS_MPI_ERR_TRUNCATE], MPICH_ERR_TRUNCATE);
    ck_assert_int_eq(abi_mpich[ABI_C_VERSION_MPI_VERSION], 4);
}
END_TEST

START_TEST(predefined_handles_both_ways)
{
    ck_assert_ptr_eq(abi_in(ABI_COMM, MPICH_COMM_WORLD), (void *)MPI_COMM_WORLD);
    ck_assert_ptr_eq(abi_in(ABI_DATATYPE, MPICH_INT), (void *)MPI_INT);
    ck_assert_int_eq(abi_out(ABI_COMM, MPI_COMM_WORLD), MPICH_COMM_WORLD);
    ck_assert_int_eq(abi_out(ABI_DATATYPE, MPI_INT), MPICH_INT);
    ck_assert_int_eq(abi_out(ABI_COMM, MPI_COMM_NULL), MPICH_COMM_NULL);
    /* MPI_LONG_LONG and MPI_LONG_LONG_INT are one object in Open MPI:
     * both MPICH names reach it, and it comes back as one of them. */
    void *ll = abi_in(ABI_DATATYPE, abi_mpich[ABI_C_DATATYPE_MPI_LONG_LONG]);
    ck_assert_ptr_eq(ll, abi_in(ABI_DATATYPE, abi_mpich[ABI_C_DATATYPE_MPI_LONG_LONG_INT]));
    ck_assert_ptr_eq(abi_in(ABI_DATATYPE, abi_out(ABI_DATATYPE, ll)), ll);
    /* A handle of another kind, or none, reaches the kind's null object,
     * which Open MPI refuses with its own error. */
    ck_assert_ptr_eq(abi_in(ABI_COMM, MPICH_INT), (void *)MPI_COMM_NULL);
    ck_assert_ptr_eq(abi_in(ABI_DATATYPE, 12345), (void *)MPI_DATATYPE_NULL);
    /* A constant Open MPI 4.1 lacks maps to nothing. */
    ck_assert_int_eq(abi_ompi_has[ABI_C_ERRHANDLER_MPI_ERRORS_ABORT], 0);
    ck_assert_ptr_eq(abi_in(ABI_ERRHANDLER, abi_mpich[ABI_C_ERRHANDLER_MPI_ERRORS_ABORT]),
                     (void *)MPI_ERRHANDLER_NULL);
}
END_TEST

START_TEST(created_objects_get_counted_ints)
{
    static char obj_a, obj_b;
    int32_t a = abi_out(ABI_GROUP, &obj_a);
    ck_assert_uint_eq((uint32_t)a & ABI_USER_BITS, ABI_USER_BITS);
    ck_assert_uint_eq(((uint32_t)a >> ABI_KIND_SHIFT) & 0xf, ABI_GROUP);
    ck_assert_ptr_eq(abi_in(ABI_GROUP, a), &obj_a);
    /* Handed out again (a communicator's group): the same int, one more
     * reference. */
    ck_assert_int_eq(abi_out(ABI_GROUP, &obj_a), a);
    int32_t b = abi_out(ABI_GROUP, &obj_b);
    ck_assert_int_ne(a, b);
    /* The int of one kind is nothing in another. */
    ck_assert_ptr_eq(abi_in(ABI_COMM, a), (void *)MPI_COMM_NULL);
    /* A callback's lookup finds the int and takes no reference. */
    ck_assert_int_eq(abi_known(ABI_GROUP, &obj_a), a);
    static char unknown;
    ck_assert_int_eq(abi_known(ABI_GROUP, &unknown), abi_mpich[ABI_C_GROUP_MPI_GROUP_NULL]);
    /* A call that leaves the object alone leaves the int. */
    ck_assert_int_eq(abi_update(ABI_GROUP, a, &obj_a), a);
    /* Two frees: the first drops a reference, the second the int. */
    ck_assert_int_eq(abi_update(ABI_GROUP, a, MPI_GROUP_NULL), abi_mpich[ABI_C_GROUP_MPI_GROUP_NULL]);
    ck_assert_ptr_eq(abi_in(ABI_GROUP, a), &obj_a);
    abi_update(ABI_GROUP, a, MPI_GROUP_NULL);
    ck_assert_ptr_eq(abi_in(ABI_GROUP, a), (void *)MPI_GROUP_NULL);
    /* The slot is used again, for a new object. */
    static char obj_c;
    int32_t c = abi_out(ABI_GROUP, &obj_c);
    ck_assert_int_eq(c, a);
    ck_assert_ptr_eq(abi_in(ABI_GROUP, c), &obj_c);
    abi_update(ABI_GROUP, b, MPI_GROUP_NULL);
    abi_update(ABI_GROUP, c, MPI_GROUP_NULL);
}
END_TEST

START_TEST(requests_are_always_new)
{
    static char req;
    int32_t r1 = abi_out(ABI_REQUEST, &req), r2 = abi_out(ABI_REQUEST, &req);
    ck_assert_int_ne(r1, r2);
    /* A completed request: Open MPI set it to MPI_REQUEST_NULL. */
    ck_assert_int_eq(abi_update(ABI_REQUEST, r1, MPI_REQUEST_NULL), abi_mpich[ABI_C_REQUEST_MPI_REQUEST_NULL]);
    ck_assert_ptr_eq(abi_in(ABI_REQUEST, r2), &req);
    abi_update(ABI_REQUEST, r2, MPI_REQUEST_NULL);
}
END_TEST

START_TEST(values_and_flags)
{
    ck_assert_int_eq(abi_value_in(ABI_G_RANK, MPICH_ANY_SOURCE), MPI_ANY_SOURCE);
    ck_assert_int_eq(abi_value_in(ABI_G_RANK, MPICH_PROC_NULL), MPI_PROC_NULL);
    ck_assert_int_eq(abi_value_out(ABI_G_RANK, MPI_PROC_NULL), MPICH_PROC_NULL);
    ck_assert_int_eq(abi_value_in(ABI_G_RANK, 7), 7);
    ck_assert_int_eq(abi_value_in(ABI_G_SPLITTYPE, abi_mpich[ABI_C_SPLITTYPE_MPI_COMM_TYPE_SHARED]),
                     MPI_COMM_TYPE_SHARED);
    ck_assert_int_eq(abi_value_out(ABI_G_COMBINER, MPI_COMBINER_STRUCT), abi_mpich[ABI_C_COMBINER_MPI_COMBINER_STRUCT]);
    ck_assert_int_eq(abi_value_in(ABI_G_KEYVAL, abi_mpich[ABI_C_KEYVAL_MPI_TAG_UB]), MPI_TAG_UB);
    int mpich_modes = abi_mpich[ABI_C_MODE_MPI_MODE_NOCHECK] | abi_mpich[ABI_C_MODE_MPI_MODE_NOPUT];
    ck_assert_int_eq(abi_value_in(ABI_G_MODE, mpich_modes), MPI_MODE_NOCHECK | MPI_MODE_NOPUT);
    ck_assert_int_eq(abi_value_out(ABI_G_MODE, MPI_MODE_NOCHECK | MPI_MODE_NOPUT), mpich_modes);
    ck_assert_int_eq(abi_rc(MPI_SUCCESS), 0);
    ck_assert_int_eq(abi_rc(MPI_ERR_TRUNCATE), MPICH_ERR_TRUNCATE);
}
END_TEST

START_TEST(statuses_round_trip)
{
    MPI_Status o;
    memset(&o, 0, sizeof o);
    o.MPI_SOURCE = MPI_PROC_NULL;
    o.MPI_TAG = 42;
    o.MPI_ERROR = MPI_ERR_TRUNCATE;
    o._cancelled = 1;
    o._ucount = ((size_t)5 << 32) + 12345;
    mana_MPI_Status m;
    abi_status_out(&o, &m);
    ck_assert_int_eq(m.MPI_SOURCE, MPICH_PROC_NULL);
    ck_assert_int_eq(m.MPI_TAG, 42);
    ck_assert_int_eq(m.MPI_ERROR, MPICH_ERR_TRUNCATE);
    ck_assert_int_eq(m.count_lo, 12345);
    ck_assert_int_eq(m.count_hi_and_cancelled, 5 << 1 | 1);
    MPI_Status back;
    abi_status_in(&m, &back);
    ck_assert_int_eq(back.MPI_SOURCE, MPI_PROC_NULL);
    ck_assert_int_eq(back.MPI_ERROR, MPI_ERR_TRUNCATE);
    ck_assert_int_eq(back._cancelled, 1);
    ck_assert_uint_eq(back._ucount, o._ucount);
    ck_assert_int_eq(abi_status_ignored((void *)1), 1);
    MPI_Status small[ABI_SMALL], *arr;
    ck_assert_int_eq(abi_statuses(small, (const mana_MPI_Status *)1, 3, &arr), 0);
    ck_assert_ptr_eq(arr, MPI_STATUSES_IGNORE);
    ck_assert_int_eq(abi_statuses(small, &m, 3, &arr), 0);
    ck_assert_ptr_eq(arr, small);
}
END_TEST

START_TEST(in_place)
{
    ck_assert_ptr_eq(abi_buffer((void *)-1), MPI_IN_PLACE);
    int x;
    ck_assert_ptr_eq(abi_buffer(&x), &x);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("ompi_abi");
    TCase *tc = tcase_create("translation");
    tcase_add_unchecked_fixture(tc, setup, NULL);
    tcase_add_test(tc, mpich_values_come_from_mpich);
    tcase_add_test(tc, predefined_handles_both_ways);
    tcase_add_test(tc, created_objects_get_counted_ints);
    tcase_add_test(tc, requests_are_always_new);
    tcase_add_test(tc, values_and_flags);
    tcase_add_test(tc, statuses_round_trip);
    tcase_add_test(tc, in_place);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? 0 : 1;
}

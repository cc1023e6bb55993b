/*
 * info_misc.c - info objects and environment queries: MPI_Info_create/
 * Info_set/Info_get/Info_get_nkeys/Info_get_nthkey/Info_get_valuelen/
 * Info_dup/Info_delete/Info_free, MPI_Wtime (monotonic) and MPI_Wtick
 * (positive), MPI_Get_version (printed), MPI_Get_library_version (checked,
 * not printed), MPI_Initialized/MPI_Finalized, MPI_Get_processor_name, and
 * an MPI_Comm_set_info/MPI_Comm_get_info round trip.  Timer values, the
 * library string and host names are never printed, so the output is the
 * same on every run.
 *
 * Build: mpicc.mpich -std=gnu11 -O2 -Wall -Wextra -Werror info_misc.c -o info_misc
 */
#include <mpi.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NAME "info_misc"
#include "example_check.h"

static void expect_value(MPI_Info info, const char *key, const char *want, const char *what)
{
    char v[MPI_MAX_INFO_VAL + 1];
    int flag = -1, vl = -1;
    MPI_Info_get_valuelen(info, key, &vl, &flag);
    if (!want) {
        check(!flag, "%s: key %s present", what, key);
        return;
    }
    check(flag && vl == (int)strlen(want), "%s: valuelen of %s = %d (flag %d)", what, key, vl, flag);
    MPI_Info_get(info, key, MPI_MAX_INFO_VAL, v, &flag);
    check(flag && strcmp(v, want) == 0, "%s: %s = '%s'", what, key, flag ? v : "");
}

int main(int argc, char **argv)
{
    int inited = -1, fin = -1;
    MPI_Initialized(&inited);
    check(!inited, "initialized before MPI_Init");
    MPI_Init(&argc, &argv);
    int rank, size;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    MPI_Initialized(&inited);
    MPI_Finalized(&fin);
    check(inited && !fin, "initialized %d finalized %d", inited, fin);

    /* Info objects. */
    MPI_Info info, info2;
    MPI_Info_create(&info);
    int nk = -1;
    MPI_Info_get_nkeys(info, &nk);
    check(nk == 0, "new info has %d keys", nk);
    MPI_Info_set(info, "alpha", "one");
    MPI_Info_set(info, "beta", "twenty-two");
    MPI_Info_set(info, "gamma", "3");
    MPI_Info_set(info, "alpha", "uno"); /* replaces */
    MPI_Info_get_nkeys(info, &nk);
    check(nk == 3, "info has %d keys", nk);
    expect_value(info, "alpha", "uno", "info");
    expect_value(info, "beta", "twenty-two", "info");
    expect_value(info, "delta", NULL, "info");
    int seen = 0;
    for (int i = 0; i < nk; i++) {
        char k[MPI_MAX_INFO_KEY + 1];
        MPI_Info_get_nthkey(info, i, k);
        seen |= !strcmp(k, "alpha") ? 1 : !strcmp(k, "beta") ? 2 : !strcmp(k, "gamma") ? 4 : 8;
    }
    check(seen == 7, "nthkey saw mask %d", seen);
    MPI_Info_dup(info, &info2);
    MPI_Info_delete(info, "beta");
    MPI_Info_get_nkeys(info, &nk);
    check(nk == 2, "after delete %d keys", nk);
    expect_value(info, "beta", NULL, "after delete");
    expect_value(info2, "beta", "twenty-two", "dup");
    expect_value(info2, "gamma", "3", "dup");
    MPI_Info_get_nkeys(info2, &nk);
    check(nk == 3, "dup has %d keys", nk);
    MPI_Info_free(&info);
    MPI_Info_free(&info2);
    check(info == MPI_INFO_NULL && info2 == MPI_INFO_NULL, "info_free did not null handles");

    /* Timers. */
    double t0 = MPI_Wtime(), prev = t0;
    int mono = 1;
    for (int i = 0; i < 1000; i++) {
        double t = MPI_Wtime();
        if (t < prev)
            mono = 0;
        prev = t;
    }
    MPI_Barrier(MPI_COMM_WORLD);
    double t1 = MPI_Wtime();
    check(mono && t1 >= t0, "MPI_Wtime not monotonic");
    double tick = MPI_Wtick();
    check(tick > 0 && tick < 1, "MPI_Wtick %g", tick);

    /* Versions and names. */
    int ver = -1, sub = -1;
    MPI_Get_version(&ver, &sub);
    check(ver == MPI_VERSION && sub == MPI_SUBVERSION, "version %d.%d", ver, sub);
    char lib[MPI_MAX_LIBRARY_VERSION_STRING];
    int liblen = -1;
    MPI_Get_library_version(lib, &liblen);
    /* MPI-3.1 section 8.1.1: RESULTLEN characters, then a NUL; Open MPI
     * 4.1 counts the NUL too. */
    check(liblen > 0 && ((int)strlen(lib) == liblen || (int)strlen(lib) + 1 == liblen), "library version length %d",
          liblen);
    char host[MPI_MAX_PROCESSOR_NAME];
    int hl = -1;
    MPI_Get_processor_name(host, &hl);
    check(hl > 0 && (int)strlen(host) == hl, "processor name length %d", hl);

    /* Communicator info: set a hint and read it back. */
    MPI_Comm dup;
    MPI_Comm_dup(MPI_COMM_WORLD, &dup);
    MPI_Info hint, got;
    MPI_Info_create(&hint);
    MPI_Info_set(hint, "mpi_assert_no_any_tag", "true");
    MPI_Comm_set_info(dup, hint);
    MPI_Info_free(&hint);
    MPI_Comm_get_info(dup, &got);
    check(got != MPI_INFO_NULL, "comm_get_info returned MPI_INFO_NULL");
    /* MPI returns the hints it uses (MPI-3.1 section 6.4.4): an MPI that
     * does not know this MPI-4.0 assertion may leave it out, but never
     * changes its value. */
    int known = 0, len = 0;
    MPI_Info_get_valuelen(got, "mpi_assert_no_any_tag", &len, &known);
    if (known)
        expect_value(got, "mpi_assert_no_any_tag", "true", "comm info");
    MPI_Info_free(&got);
    int s = 0;
    MPI_Allreduce(&rank, &s, 1, MPI_INT, MPI_SUM, dup);
    check(s == size * (size - 1) / 2, "allreduce on dup %d", s);
    MPI_Comm_free(&dup);

    if (rank == 0)
        printf("info_misc on %d ranks: MPI %d.%d\n", size, ver, sub);

    int rc = finish(rank, size);
    MPI_Finalize();
    MPI_Finalized(&fin);
    if (!fin && rank == 0) {
        printf("%s: MPI_Finalized false after MPI_Finalize\n", NAME);
        rc = 1;
    }
    return rc;
}

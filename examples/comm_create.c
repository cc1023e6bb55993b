/*
 * comm_create.c - communicators built from groups: MPI_Comm_create from a
 * group (collective over the parent), MPI_Comm_create_group (collective over
 * the group only), MPI_Comm_split_type(MPI_COMM_TYPE_SHARED),
 * MPI_Comm_compare, MPI_Comm_set_name/MPI_Comm_get_name, collectives on each
 * new communicator, and MPI_Comm_free.  A checkpoint/restart system must
 * rebuild all of these communicators, including their names.
 *
 * Build: mpicc.mpich -std=gnu11 -O2 -Wall -Wextra -Werror comm_create.c -o comm_create
 */
#include <mpi.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NAME "comm_create"
#include "example_check.h"

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    int rank, size;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);

    MPI_Group world;
    MPI_Comm_group(MPI_COMM_WORLD, &world);

    /* Comm_create: the even ranks, in reverse order. */
    int ne = (size + 1) / 2;
    int *members = xmalloc(sizeof(int) * (size_t)ne);
    for (int i = 0; i < ne; i++)
        members[i] = 2 * (ne - 1 - i);
    MPI_Group geven;
    MPI_Group_incl(world, ne, members, &geven);
    MPI_Comm ceven;
    MPI_Comm_create(MPI_COMM_WORLD, geven, &ceven);
    long even_sum = -1;
    if (rank % 2 == 0) {
        check(ceven != MPI_COMM_NULL, "comm_create: null on even rank");
        int r = -1, s = -1;
        MPI_Comm_rank(ceven, &r);
        MPI_Comm_size(ceven, &s);
        check(s == ne, "comm_create: size %d want %d", s, ne);
        check(r == ne - 1 - rank / 2, "comm_create: rank %d", r);
        MPI_Comm_set_name(ceven, "evens-reversed");
        char nm[MPI_MAX_OBJECT_NAME];
        int len = -1;
        MPI_Comm_get_name(ceven, nm, &len);
        check(len == (int)strlen("evens-reversed") && strcmp(nm, "evens-reversed") == 0,
              "comm name '%s' len %d", nm, len);
        long v = rank + 1;
        MPI_Allreduce(&v, &even_sum, 1, MPI_LONG, MPI_SUM, ceven);
        long want = 0;
        for (int q = 0; q < size; q += 2)
            want += q + 1;
        check(even_sum == want, "allreduce on evens %ld want %ld", even_sum, want);
        /* Bcast from rank 0 of ceven = the highest even world rank. */
        int b = rank;
        MPI_Bcast(&b, 1, MPI_INT, 0, ceven);
        check(b == 2 * (ne - 1), "bcast on evens %d", b);
        int c;
        MPI_Comm_compare(ceven, MPI_COMM_WORLD, &c);
        check(c == (size == 1 ? MPI_CONGRUENT : MPI_UNEQUAL), "compare evens world %d", c);
    } else {
        check(ceven == MPI_COMM_NULL, "comm_create: non-null on odd rank");
    }

    /* Comm_create_group: only the odd ranks take part. */
    MPI_Comm codd = MPI_COMM_NULL;
    long odd_sum = 0;
    if (rank % 2 == 1) {
        int no = size / 2;
        int *om = xmalloc(sizeof(int) * (size_t)no);
        for (int i = 0; i < no; i++)
            om[i] = 2 * i + 1;
        MPI_Group godd;
        MPI_Group_incl(world, no, om, &godd);
        MPI_Comm_create_group(MPI_COMM_WORLD, godd, 7, &codd);
        check(codd != MPI_COMM_NULL, "create_group: null");
        int r = -1, s = -1;
        MPI_Comm_rank(codd, &r);
        MPI_Comm_size(codd, &s);
        check(s == no && r == rank / 2, "create_group: rank %d size %d", r, s);
        int *g = xmalloc(sizeof(int) * (size_t)no);
        MPI_Allgather(&rank, 1, MPI_INT, g, 1, MPI_INT, codd);
        for (int i = 0; i < no; i++)
            check(g[i] == om[i], "allgather on odds [%d]=%d", i, g[i]);
        long v = 10L * rank;
        MPI_Allreduce(&v, &odd_sum, 1, MPI_LONG, MPI_SUM, codd);
        long want = 0;
        for (int q = 1; q < size; q += 2)
            want += 10L * q;
        check(odd_sum == want, "allreduce on odds %ld", odd_sum);
        MPI_Comm_set_name(codd, "odds");
        char nm[MPI_MAX_OBJECT_NAME];
        int len;
        MPI_Comm_get_name(codd, nm, &len);
        check(strcmp(nm, "odds") == 0, "odd comm name '%s'", nm);
        MPI_Group_free(&godd);
        free(om);
        free(g);
    }

    /* Split by shared memory: all ranks here run on one node. */
    MPI_Comm shm;
    MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL, &shm);
    int shr = -1, shs = -1;
    MPI_Comm_rank(shm, &shr);
    MPI_Comm_size(shm, &shs);
    check(shs >= 1 && shs <= size && shr >= 0 && shr < shs, "shared split rank %d size %d", shr, shs);
    int shsum = 0, one = 1;
    MPI_Allreduce(&one, &shsum, 1, MPI_INT, MPI_SUM, shm);
    check(shsum == shs, "allreduce on shared comm %d want %d", shsum, shs);
    int total = 0;
    MPI_Allreduce(shr == 0 ? &shs : &(int){ 0 }, &total, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
    check(total == size, "shared comms cover %d of %d ranks", total, size);

    /* Compare: world vs itself, vs a dup, vs a key-reversed split. */
    int c;
    MPI_Comm_compare(MPI_COMM_WORLD, MPI_COMM_WORLD, &c);
    check(c == MPI_IDENT, "compare world world %d", c);
    MPI_Comm dup, revc;
    MPI_Comm_dup(MPI_COMM_WORLD, &dup);
    MPI_Comm_compare(MPI_COMM_WORLD, dup, &c);
    check(c == MPI_CONGRUENT, "compare world dup %d", c);
    MPI_Comm_split(MPI_COMM_WORLD, 0, size - rank, &revc);
    MPI_Comm_compare(MPI_COMM_WORLD, revc, &c);
    check(c == (size == 1 ? MPI_CONGRUENT : MPI_SIMILAR), "compare world reversed %d", c);
    int rr = -1;
    MPI_Comm_rank(revc, &rr);
    check(rr == size - 1 - rank, "reversed rank %d", rr);

    /* Names: world has a predefined name; a dup gets its own. */
    char nm[MPI_MAX_OBJECT_NAME];
    int len;
    MPI_Comm_get_name(MPI_COMM_WORLD, nm, &len);
    check(strcmp(nm, "MPI_COMM_WORLD") == 0, "world name '%s'", nm);
    MPI_Comm_set_name(dup, "my-dup");
    MPI_Comm_get_name(dup, nm, &len);
    check(strcmp(nm, "my-dup") == 0 && len == 6, "dup name '%s'", nm);
    MPI_Comm_get_name(MPI_COMM_WORLD, nm, &len);
    check(strcmp(nm, "MPI_COMM_WORLD") == 0, "world name changed to '%s'", nm);

    /* Gather through the reversed communicator. */
    int *g = rank == size - 1 ? xmalloc(sizeof(int) * (size_t)size) : NULL;
    MPI_Gather(&rank, 1, MPI_INT, g, 1, MPI_INT, 0, revc);
    if (g) {
        for (int i = 0; i < size; i++)
            check(g[i] == size - 1 - i, "gather on reversed [%d]=%d", i, g[i]);
        free(g);
    }

    long sums[2] = { rank == 0 ? even_sum : 0, (size > 1 && rank == 1) ? odd_sum : 0 }, tot[2];
    MPI_Reduce(sums, tot, 2, MPI_LONG, MPI_SUM, 0, MPI_COMM_WORLD);
    if (rank == 0)
        printf("comm_create on %d ranks: evens sum %ld, odds sum %ld\n", size, tot[0], tot[1]);

    if (ceven != MPI_COMM_NULL)
        MPI_Comm_free(&ceven);
    if (codd != MPI_COMM_NULL)
        MPI_Comm_free(&codd);
    MPI_Comm_free(&shm);
    MPI_Comm_free(&dup);
    MPI_Comm_free(&revc);
    check(shm == MPI_COMM_NULL && dup == MPI_COMM_NULL, "comm_free did not null handles");
    MPI_Group_free(&geven);
    MPI_Group_free(&world);
    free(members);

    int rc = finish(rank, size);
    MPI_Finalize();
    return rc;
}

/*
 * stress_comms.c - communicators created and freed all the time, with
 * collectives on each one before it goes:
 *  - a pool of duplicates of MPI_COMM_WORLD, each living LIFE iterations,
 *    made by MPI_Comm_dup or by MPI_Comm_idup (completed after other work);
 *  - MPI_Comm_split with a colour and key order that change every
 *    iteration, and with MPI_UNDEFINED for some ranks (MPI_COMM_NULL);
 *  - MPI_Comm_create from a group that leaves one rank out;
 *  - MPI_Intercomm_create between the two halves of the split, then
 *    MPI_Bcast (MPI_ROOT / MPI_PROC_NULL) and MPI_Allreduce across it.
 * Ranks, sizes and every collective result are compared with what the
 * rank numbers say they must be, computed locally.  Needs at least 2 ranks.
 *
 * The output does not depend on the number of ranks.
 *
 * Build: mpicc.mpich -std=gnu11 -O2 -Wall -Wextra -Werror stress_comms.c -o stress_comms
 */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NAME "stress_comms"
#include "../../examples/example_check.h"

enum {
    ITERS = 10,     /* communicator creation costs ~20 ms with 4 ranks on 2 cores */
    LIFE = 3        /* iterations a pooled duplicate lives */
};

static int color_of(int q, int it) { return (q + it) % 2; }
static int key_of(int q, int it) { return it % 2 ? -q : q; }

/* Rank of world rank q in its part of the split: ranks of the same colour
 * ordered by key, then by world rank. */
static int split_rank(int q, int size, int it)
{
    int r = 0;
    for (int p = 0; p < size; p++)
        if (color_of(p, it) == color_of(q, it) &&
            (key_of(p, it) < key_of(q, it) || (key_of(p, it) == key_of(q, it) && p < q)))
            r++;
    return r;
}

/* World rank of the rank 0 of colour c's part. */
static int split_leader(int c, int size, int it)
{
    for (int p = 0; p < size; p++)
        if (color_of(p, it) == c && split_rank(p, size, it) == 0)
            return p;
    return -1;
}

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    int rank, size;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    const MPI_Comm W = MPI_COMM_WORLD;
    if (size < 2) {
        if (rank == 0)
            printf("%s: needs at least 2 ranks\n", NAME);
        MPI_Finalize();
        return 1;
    }
    MPI_Group world_group;
    MPI_Comm_group(W, &world_group);
    int *all = xmalloc((size_t)size * sizeof(int));

    MPI_Comm pool[LIFE];
    for (int s = 0; s < LIFE; s++)
        pool[s] = MPI_COMM_NULL;
    long created = 0, freed = 0;

    for (int it = 0; it < ITERS; it++) {
        /* --- the pool: replace the oldest duplicate --- */
        const int slot = it % LIFE;
        if (pool[slot] != MPI_COMM_NULL) {
            MPI_Comm_free(&pool[slot]);
            check(pool[slot] == MPI_COMM_NULL, "it %d: comm_free left the handle set", it);
            freed++;
        }
        if (it % 2) {
            MPI_Request r;
            MPI_Comm_idup(W, &pool[slot], &r);
            int v = rank + it, sum = 0;      /* other work while the idup is pending */
            MPI_Allreduce(&v, &sum, 1, MPI_INT, MPI_SUM, W);
            check(sum == size * (size - 1) / 2 + size * it, "it %d: allreduce during idup %d", it, sum);
            MPI_Wait(&r, MPI_STATUS_IGNORE);
        } else {
            MPI_Comm_dup(W, &pool[slot]);
        }
        created++;
        for (int s = 0; s < LIFE; s++) {
            if (pool[s] == MPI_COMM_NULL)
                continue;
            int pr = -1, ps = -1, v = rank * (s + 1), sum = -1, cmp = -1;
            MPI_Comm_rank(pool[s], &pr);
            MPI_Comm_size(pool[s], &ps);
            MPI_Comm_compare(W, pool[s], &cmp);
            MPI_Allreduce(&v, &sum, 1, MPI_INT, MPI_SUM, pool[s]);
            check(pr == rank && ps == size && cmp == MPI_CONGRUENT && sum == (s + 1) * size * (size - 1) / 2,
                  "it %d: pool %d: rank %d size %d compare %d sum %d", it, s, pr, ps, cmp, sum);
        }

        /* --- split by colour, key order reversed every other iteration --- */
        const int color = color_of(rank, it);
        MPI_Comm half;
        MPI_Comm_split(W, color, key_of(rank, it), &half);
        created++;
        int hr = -1, hs = -1, want_hs = 0;
        for (int q = 0; q < size; q++)
            want_hs += color_of(q, it) == color;
        MPI_Comm_rank(half, &hr);
        MPI_Comm_size(half, &hs);
        check(hr == split_rank(rank, size, it) && hs == want_hs, "it %d: split rank %d size %d", it, hr, hs);
        /* Allgather of world ranks: position i holds the rank whose split rank is i. */
        MPI_Allgather(&rank, 1, MPI_INT, all, 1, MPI_INT, half);
        for (int i = 0; i < hs; i++)
            check(all[i] >= 0 && all[i] < size && color_of(all[i], it) == color &&
                  split_rank(all[i], size, it) == i, "it %d: split allgather [%d]=%d", it, i, all[i]);
        const int broot = it % hs;
        int bv = hr == broot ? rank * 100 + it : -1;
        MPI_Bcast(&bv, 1, MPI_INT, broot, half);
        check(bv == all[broot] * 100 + it, "it %d: split bcast %d", it, bv);

        /* --- split with MPI_UNDEFINED: every third rank is left out --- */
        {
            MPI_Comm some;
            const int out = (rank + it) % 3 == 0;
            MPI_Comm_split(W, out ? MPI_UNDEFINED : 0, rank, &some);
            int n_in = 0, sum_in = 0;
            for (int q = 0; q < size; q++)
                if ((q + it) % 3 != 0) {
                    n_in++;
                    sum_in += q;
                }
            if (out) {
                check(some == MPI_COMM_NULL, "it %d: undefined colour gave a communicator", it);
            } else {
                int ss = -1, sum = -1;
                MPI_Comm_size(some, &ss);
                MPI_Allreduce(&rank, &sum, 1, MPI_INT, MPI_SUM, some);
                check(ss == n_in && sum == sum_in, "it %d: partial split size %d sum %d", it, ss, sum);
                MPI_Comm_free(&some);
                created++;
                freed++;
            }
        }

        /* --- Comm_create from a group without world rank `gone` --- */
        {
            const int gone = it % size;
            MPI_Group g;
            MPI_Group_excl(world_group, 1, &gone, &g);
            MPI_Comm c;
            MPI_Comm_create(W, g, &c);
            MPI_Group_free(&g);
            if (rank == gone) {
                check(c == MPI_COMM_NULL, "it %d: comm_create gave the excluded rank a communicator", it);
            } else {
                int cr = -1, cs = -1;
                MPI_Comm_rank(c, &cr);
                MPI_Comm_size(c, &cs);
                check(cr == rank - (rank > gone) && cs == size - 1, "it %d: comm_create rank %d size %d", it, cr, cs);
                long v = 1L << rank, orv = 0;
                MPI_Allreduce(&v, &orv, 1, MPI_LONG, MPI_BOR, c);
                check(orv == ((1L << size) - 1) - (1L << gone), "it %d: comm_create bor %ld", it, orv);
                MPI_Comm_free(&c);
                created++;
                freed++;
            }
        }

        /* --- an intercommunicator between the two halves of the split --- */
        {
            MPI_Comm inter;
            const int remote_leader = split_leader(1 - color, size, it);
            MPI_Intercomm_create(half, 0, W, remote_leader, 1000 + it, &inter);
            created++;
            int rs = -1, flag = 0;
            MPI_Comm_remote_size(inter, &rs);
            MPI_Comm_test_inter(inter, &flag);
            check(flag && rs == size - hs, "it %d: intercomm inter %d remote size %d", it, flag, rs);

            /* Bcast from colour 0's leader to every rank of colour 1. */
            int v = -1;
            if (color == 0) {
                v = rank * 10 + it;
                MPI_Bcast(&v, 1, MPI_INT, hr == 0 ? MPI_ROOT : MPI_PROC_NULL, inter);
            } else {
                MPI_Bcast(&v, 1, MPI_INT, 0, inter);
                check(v == split_leader(0, size, it) * 10 + it, "it %d: intercomm bcast %d", it, v);
            }
            /* Allreduce: each side gets the sum over the other side. */
            int mine = rank + 1 + it, sum = -1, want = 0;
            MPI_Allreduce(&mine, &sum, 1, MPI_INT, MPI_SUM, inter);
            for (int q = 0; q < size; q++)
                if (color_of(q, it) != color)
                    want += q + 1 + it;
            check(sum == want, "it %d: intercomm allreduce %d want %d", it, sum, want);
            MPI_Comm_free(&inter);
            freed++;
        }
        MPI_Comm_free(&half);
        freed++;
    }
    for (int s = 0; s < LIFE; s++)
        if (pool[s] != MPI_COMM_NULL) {
            MPI_Comm_free(&pool[s]);
            freed++;
        }
    check(created == freed, "created %ld communicators, freed %ld", created, freed);
    MPI_Group_free(&world_group);
    free(all);

    if (rank == 0)
        printf("%s: %d iterations of dup/idup, split, create, intercomm_create and free\n", NAME, ITERS);
    int rc = finish(rank, size);
    MPI_Finalize();
    return rc;
}

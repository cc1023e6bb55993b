/*
 * stress_nbc.c - nonblocking collectives left pending while the rank
 * computes and makes other MPI calls (point-to-point, a blocking
 * collective on the same communicator, one on a duplicate), then completed
 * later: by MPI_Waitall, a Testall loop, a Waitany loop or a Testsome loop,
 * in turn.  One Iallreduce per iteration also stays pending for three whole
 * iterations before it is waited for.  Every result is compared with a
 * value computed locally from the rank numbers and the iteration.
 *
 * The output does not depend on the number of ranks.
 *
 * Build: mpicc.mpich -std=gnu11 -O2 -Wall -Wextra -Werror stress_nbc.c -o stress_nbc
 */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NAME "stress_nbc"
#include "../../examples/example_check.h"

enum {
    ITERS = 60,
    N = 256,     /* elements of the Ibcast and Iallreduce */
    K = 4,       /* elements per rank of Ialltoall, Igather, Iscatter */
    DEPTH = 3,   /* iterations an Iallreduce stays pending */
    NOPS = 9     /* nonblocking collectives started per iteration */
};

/* Local work between starting the collectives and completing them. */
static double compute(int it)
{
    double s = 0;
    for (int j = 1; j <= 2000; j++)
        s += (double)((j + it) % 7);
    return s;
}

static double compute_want(int it)
{
    /* Each run of 7 consecutive j adds 0+1+...+6 = 21. */
    double s = 285 * 21.0;
    for (int j = 1996; j <= 2000; j++)
        s += (double)((j + it) % 7);
    return s;
}

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    int rank, size;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    const MPI_Comm W = MPI_COMM_WORLD;
    MPI_Comm dup;
    MPI_Comm_dup(W, &dup);
    const int right = (rank + 1) % size, left = (rank + size - 1) % size;

    int *bc = xmalloc(N * sizeof(int));
    long *ar_in = xmalloc(N * sizeof(long)), *ar_out = xmalloc(N * sizeof(long));
    int *a2a_s = xmalloc((size_t)size * K * sizeof(int)), *a2a_r = xmalloc((size_t)size * K * sizeof(int));
    int g_s[K], *g_r = xmalloc((size_t)size * K * sizeof(int));
    int *sc_s = xmalloc((size_t)size * K * sizeof(int)), sc_r[K];
    int total = size * (size + 1) / 2;          /* Ireduce_scatter: rank d gets d+1 */
    int *rs_counts = xmalloc((size_t)size * sizeof(int));
    for (int d = 0; d < size; d++)
        rs_counts[d] = d + 1;
    long *rs_s = xmalloc((size_t)total * sizeof(long)), *rs_r = xmalloc((size_t)size * sizeof(long));
    int *ag_r = xmalloc((size_t)size * sizeof(int));
    int red_in, red_out;

    /* Iallreduce (MAX) kept pending for DEPTH iterations. */
    MPI_Request carry[DEPTH];
    int carry_in[DEPTH], carry_out[DEPTH], carry_it[DEPTH];
    for (int s = 0; s < DEPTH; s++)
        carry[s] = MPI_REQUEST_NULL;

    long ops = 0;
    /* No early exit on a failed check: every rank must make the same calls. */
    for (int it = 0; it < ITERS; it++) {
        const int root_bc = it % size, root_g = (it + 1) % size, root_sc = (it + 2) % size;
        MPI_Request req[NOPS];

        for (int j = 0; j < N; j++) {
            bc[j] = rank == root_bc ? it * 1000 + 3 * j + root_bc : -1;
            ar_in[j] = (long)rank * j + it;
            ar_out[j] = -1;
        }
        for (int d = 0; d < size; d++)
            for (int k = 0; k < K; k++) {
                a2a_s[d * K + k] = rank * 100000 + d * 100 + k + it;
                a2a_r[d * K + k] = -1;
                sc_s[d * K + k] = d * 7 + k + 3 * it;
                g_r[d * K + k] = -1;
            }
        for (int k = 0; k < K; k++) {
            g_s[k] = rank * 10 + k + it;
            sc_r[k] = -1;
        }
        for (int e = 0; e < total; e++)
            rs_s[e] = rank + e + it;
        for (int e = 0; e <= rank; e++)
            rs_r[e] = -1;
        for (int d = 0; d < size; d++)
            ag_r[d] = -1;
        red_in = (rank * 5 + it) % 11;
        red_out = -1;

        MPI_Ibarrier(W, &req[0]);
        MPI_Ibcast(bc, N, MPI_INT, root_bc, W, &req[1]);
        MPI_Iallreduce(ar_in, ar_out, N, MPI_LONG, MPI_SUM, W, &req[2]);
        MPI_Ialltoall(a2a_s, K, MPI_INT, a2a_r, K, MPI_INT, W, &req[3]);
        MPI_Igather(g_s, K, MPI_INT, g_r, K, MPI_INT, root_g, W, &req[4]);
        MPI_Iscatter(sc_s, K, MPI_INT, sc_r, K, MPI_INT, root_sc, W, &req[5]);
        MPI_Ireduce_scatter(rs_s, rs_r, rs_counts, MPI_LONG, MPI_SUM, W, &req[6]);
        int ag_in = rank * 3 + it;
        MPI_Iallgather(&ag_in, 1, MPI_INT, ag_r, 1, MPI_INT, W, &req[7]);
        MPI_Ireduce(&red_in, &red_out, 1, MPI_INT, MPI_MAX, root_bc, W, &req[8]);

        /* Meanwhile: the oldest pending Iallreduce is finished ... */
        const int slot = it % DEPTH;
        if (carry[slot] != MPI_REQUEST_NULL) {
            MPI_Wait(&carry[slot], MPI_STATUS_IGNORE);
            int want = 0;
            for (int q = 0; q < size; q++)
                if ((q * 13 + carry_it[slot]) % 17 > want)
                    want = (q * 13 + carry_it[slot]) % 17;
            check(carry_out[slot] == want, "it %d: iallreduce pending since %d: %d want %d",
                  it, carry_it[slot], carry_out[slot], want);
            ops++;
        }
        /* ... and other work goes on: computation, a ring exchange, a blocking
         * collective on the same communicator and one on its duplicate. */
        double c = compute(it);
        check(c == compute_want(it), "it %d: compute %.1f", it, c);
        int token = rank * 1000 + it, got = -1;
        MPI_Sendrecv(&token, 1, MPI_INT, right, 7, &got, 1, MPI_INT, left, 7, W, MPI_STATUS_IGNORE);
        check(got == left * 1000 + it, "it %d: sendrecv got %d", it, got);
        int one = 1, n = 0;
        MPI_Allreduce(&one, &n, 1, MPI_INT, MPI_SUM, W);
        check(n == size, "it %d: blocking allreduce %d", it, n);
        n = 0;
        MPI_Allreduce(&rank, &n, 1, MPI_INT, MPI_SUM, dup);
        check(n == size * (size - 1) / 2, "it %d: allreduce on dup %d", it, n);

        /* Completion, four ways in turn. */
        switch (it % 4) {
        case 0:
            MPI_Waitall(NOPS, req, MPI_STATUSES_IGNORE);
            break;
        case 1: {
            int done = 0;
            while (!done) {
                MPI_Testall(NOPS, req, &done, MPI_STATUSES_IGNORE);
                if (!done)
                    compute(it);
            }
            break;
        }
        case 2: {
            int seen[NOPS] = { 0 };
            for (int k = 0; k < NOPS; k++) {
                int idx = -1;
                MPI_Waitany(NOPS, req, &idx, MPI_STATUS_IGNORE);
                check(idx >= 0 && idx < NOPS && !seen[idx], "it %d: waitany index %d", it, idx);
                if (idx >= 0 && idx < NOPS)
                    seen[idx] = 1;
            }
            break;
        }
        default: {
            int left_ops = NOPS, idx[NOPS], outcount;
            while (left_ops > 0) {
                MPI_Testsome(NOPS, req, &outcount, idx, MPI_STATUSES_IGNORE);
                check(outcount != MPI_UNDEFINED, "it %d: testsome undefined with %d left", it, left_ops);
                if (outcount == MPI_UNDEFINED)
                    break;
                left_ops -= outcount;
            }
            break;
        }
        }
        for (int k = 0; k < NOPS; k++)
            check(req[k] == MPI_REQUEST_NULL, "it %d: request %d not freed", it, k);
        ops += NOPS;

        /* Check every result against its closed form. */
        for (int j = 0; j < N; j++) {
            check(bc[j] == it * 1000 + 3 * j + root_bc, "it %d: ibcast [%d]=%d", it, j, bc[j]);
            long want = (long)j * size * (size - 1) / 2 + (long)it * size;
            check(ar_out[j] == want, "it %d: iallreduce [%d]=%ld want %ld", it, j, ar_out[j], want);
        }
        for (int s = 0; s < size; s++)
            for (int k = 0; k < K; k++) {
                int want = s * 100000 + rank * 100 + k + it;
                check(a2a_r[s * K + k] == want, "it %d: ialltoall from %d [%d]=%d", it, s, k, a2a_r[s * K + k]);
                if (rank == root_g)
                    check(g_r[s * K + k] == s * 10 + k + it, "it %d: igather from %d [%d]=%d",
                          it, s, k, g_r[s * K + k]);
            }
        for (int k = 0; k < K; k++)
            check(sc_r[k] == rank * 7 + k + 3 * it, "it %d: iscatter [%d]=%d", it, k, sc_r[k]);
        const int off = rank * (rank + 1) / 2;
        for (int e = 0; e <= rank; e++) {
            long want = (long)size * (size - 1) / 2 + (long)size * (off + e + it);
            check(rs_r[e] == want, "it %d: ireduce_scatter [%d]=%ld want %ld", it, e, rs_r[e], want);
        }
        for (int d = 0; d < size; d++)
            check(ag_r[d] == d * 3 + it, "it %d: iallgather [%d]=%d", it, d, ag_r[d]);
        if (rank == root_bc) {
            int want = 0;
            for (int q = 0; q < size; q++)
                if ((q * 5 + it) % 11 > want)
                    want = (q * 5 + it) % 11;
            check(red_out == want, "it %d: ireduce max %d want %d", it, red_out, want);
        }

        /* Start this iteration's long-lived Iallreduce on the duplicate. */
        carry_in[slot] = (rank * 13 + it) % 17;
        carry_out[slot] = -1;
        carry_it[slot] = it;
        MPI_Iallreduce(&carry_in[slot], &carry_out[slot], 1, MPI_INT, MPI_MAX, dup, &carry[slot]);
    }
    /* Drain the ones still pending, oldest first. */
    for (int k = 0; k < DEPTH; k++) {
        int slot = (ITERS + k) % DEPTH;
        if (carry[slot] == MPI_REQUEST_NULL)
            continue;
        MPI_Wait(&carry[slot], MPI_STATUS_IGNORE);
        int want = 0;
        for (int q = 0; q < size; q++)
            if ((q * 13 + carry_it[slot]) % 17 > want)
                want = (q * 13 + carry_it[slot]) % 17;
        check(carry_out[slot] == want, "drain: iallreduce of %d: %d want %d",
              carry_it[slot], carry_out[slot], want);
        ops++;
    }

    long all_ops = 0;
    MPI_Allreduce(&ops, &all_ops, 1, MPI_LONG, MPI_MIN, W);
    if (rank == 0)
        printf("%s: %d iterations, %ld nonblocking collectives completed per rank\n",
               NAME, ITERS, all_ops);
    MPI_Comm_free(&dup);
    free(bc); free(ar_in); free(ar_out); free(a2a_s); free(a2a_r); free(g_r); free(sc_s);
    free(rs_counts); free(rs_s); free(rs_r); free(ag_r);
    int rc = finish(rank, size);
    MPI_Finalize();
    return rc;
}

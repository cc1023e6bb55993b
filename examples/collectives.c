/*
 * collectives.c - one call of each blocking collective of MPI 3.1 that a
 * typical application uses (Bcast, Reduce, Allreduce with SUM/MAX/MINLOC,
 * Gather[v], Scatter[v], Allgather[v], Alltoall[v], Reduce_scatter_block,
 * Scan, Exscan, Barrier), including MPI_IN_PLACE variants, with non-zero
 * roots and irregular counts.  Every result is compared with a value computed
 * locally from the rank numbers, so a wrapper that mangles buffers, counts,
 * displacements, roots or MPI_IN_PLACE is caught.
 *
 * Build: mpicc.mpich -std=gnu11 -O2 -Wall -Wextra -Werror collectives.c -o collectives
 */
#include <mpi.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NAME "collectives"
#include "example_check.h"

/* One checksum per test, summed over ranks at the end, so stdout shows that
 * real data moved without printing per-rank noise. */
enum {
    T_BCAST, T_REDUCE_SUM, T_REDUCE_MAX, T_ALLREDUCE_SUM, T_ALLREDUCE_MAX,
    T_ALLREDUCE_MINLOC, T_GATHER, T_GATHERV, T_SCATTER, T_SCATTERV,
    T_ALLGATHER, T_ALLGATHERV, T_ALLTOALL, T_ALLTOALLV, T_REDSCAT,
    T_SCAN, T_EXSCAN, T_COUNT
};
static const char *const test_names[T_COUNT] = {
    "bcast", "reduce_sum", "reduce_max", "allreduce_sum_inplace", "allreduce_max",
    "allreduce_minloc", "gather_inplace", "gatherv", "scatter", "scatterv",
    "allgather", "allgatherv", "alltoall", "alltoallv", "reduce_scatter_block",
    "scan", "exscan"
};
static long long sums[T_COUNT];

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    int rank, size;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    const MPI_Comm W = MPI_COMM_WORLD;
    const int last = size - 1;

    /* Bcast from rank 0 and from the last rank. */
    {
        int buf[100];
        for (int i = 0; i < 100; i++)
            buf[i] = rank == 0 ? 3 * i + 7 : -1;
        MPI_Bcast(buf, 100, MPI_INT, 0, W);
        for (int i = 0; i < 100; i++) {
            check(buf[i] == 3 * i + 7, "bcast: buf[%d]=%d", i, buf[i]);
            sums[T_BCAST] += buf[i];
        }
        double d = rank == last ? 2.5 * size : 0.0;
        MPI_Bcast(&d, 1, MPI_DOUBLE, last, W);
        check(d == 2.5 * size, "bcast: double %.6e", d);
        sums[T_BCAST] += (long long)(d * 2);
    }

    /* Reduce SUM to rank 0, Reduce MAX to the last rank. */
    {
        enum { N = 64 };
        long in[N], out[N];
        for (int i = 0; i < N; i++) {
            in[i] = (long)rank * i + 1;
            out[i] = -1;
        }
        MPI_Reduce(in, out, N, MPI_LONG, MPI_SUM, 0, W);
        if (rank == 0)
            for (int i = 0; i < N; i++) {
                long want = (long)i * size * (size - 1) / 2 + size;
                check(out[i] == want, "reduce sum: [%d]=%ld want %ld", i, out[i], want);
                sums[T_REDUCE_SUM] += out[i];
            }
        int v[3] = { rank, -rank, (rank * 7) % size }, m[3] = { -9, -9, -9 };
        MPI_Reduce(v, m, 3, MPI_INT, MPI_MAX, last, W);
        if (rank == last) {
            int want2 = 0;
            for (int r = 0; r < size; r++)
                if ((r * 7) % size > want2)
                    want2 = (r * 7) % size;
            check(m[0] == last && m[1] == 0 && m[2] == want2,
                  "reduce max: %d %d %d", m[0], m[1], m[2]);
            sums[T_REDUCE_MAX] += m[0] + m[1] + m[2];
        }
    }

    /* Allreduce: SUM in place on doubles (exactly representable, so the
     * result does not depend on the reduction order), MAX on ints, MINLOC. */
    {
        enum { N = 1000 };
        double *d = xmalloc(sizeof(double) * N);
        for (int i = 0; i < N; i++)
            d[i] = rank + 0.5 * i;
        MPI_Allreduce(MPI_IN_PLACE, d, N, MPI_DOUBLE, MPI_SUM, W);
        for (int i = 0; i < N; i++) {
            double want = size * (size - 1) / 2.0 + 0.5 * i * size;
            check(d[i] == want, "allreduce sum: [%d]=%.6e want %.6e", i, d[i], want);
            sums[T_ALLREDUCE_SUM] += (long long)(2 * d[i]);
        }
        free(d);

        int mx[2] = { rank * rank, 100 - rank }, mo[2];
        MPI_Allreduce(mx, mo, 2, MPI_INT, MPI_MAX, W);
        check(mo[0] == last * last && mo[1] == 100, "allreduce max: %d %d", mo[0], mo[1]);
        sums[T_ALLREDUCE_MAX] += mo[0] + mo[1];

        /* The second pair has ties, which MINLOC must break towards the
         * lowest index. */
        struct { double v; int i; } ml[2], mr[2];
        ml[0].v = (rank - size / 2) * (rank - size / 2) + 0.25;
        ml[0].i = rank;
        ml[1].v = (double)(rank % 2);
        ml[1].i = rank;
        MPI_Allreduce(ml, mr, 2, MPI_DOUBLE_INT, MPI_MINLOC, W);
        check(mr[0].v == 0.25 && mr[0].i == size / 2, "minloc: %.6e at %d", mr[0].v, mr[0].i);
        check(mr[1].v == 0.0 && mr[1].i == 0, "minloc ties: %.6e at %d", mr[1].v, mr[1].i);
        sums[T_ALLREDUCE_MINLOC] += mr[0].i * 10 + mr[1].i;
    }

    /* Gather with MPI_IN_PLACE at the root: the root's block is already in
     * place and must survive untouched. */
    {
        enum { K = 3 };
        int mine[K];
        for (int k = 0; k < K; k++)
            mine[k] = rank * 10 + k;
        if (rank == 0) {
            int *all = xmalloc(sizeof(int) * K * (size_t)size);
            for (int i = 0; i < K * size; i++)
                all[i] = -1;
            for (int k = 0; k < K; k++)
                all[k] = mine[k];
            MPI_Gather(MPI_IN_PLACE, K, MPI_INT, all, K, MPI_INT, 0, W);
            for (int r = 0; r < size; r++)
                for (int k = 0; k < K; k++) {
                    check(all[r * K + k] == r * 10 + k, "gather: [%d][%d]=%d", r, k, all[r * K + k]);
                    sums[T_GATHER] += all[r * K + k];
                }
            free(all);
        } else {
            MPI_Gather(mine, K, MPI_INT, NULL, K, MPI_INT, 0, W);
        }
    }

    /* Gatherv to the last rank: rank r sends r+1 ints; the displacements
     * leave a gap of two slots between blocks, which must stay untouched. */
    {
        int n = rank + 1;
        int *mine = xmalloc(sizeof(int) * (size_t)n);
        for (int k = 0; k < n; k++)
            mine[k] = 1000 * rank + k;
        int *counts = NULL, *displs = NULL, *all = NULL, total = 0;
        if (rank == last) {
            counts = xmalloc(sizeof(int) * (size_t)size);
            displs = xmalloc(sizeof(int) * (size_t)size);
            for (int r = 0; r < size; r++) {
                counts[r] = r + 1;
                displs[r] = total;
                total += r + 1 + 2;
            }
            all = xmalloc(sizeof(int) * (size_t)total);
            for (int i = 0; i < total; i++)
                all[i] = -7;
        }
        MPI_Gatherv(mine, n, MPI_INT, all, counts, displs, MPI_INT, last, W);
        if (rank == last) {
            for (int r = 0; r < size; r++) {
                for (int k = 0; k < r + 1; k++) {
                    int got = all[displs[r] + k];
                    check(got == 1000 * r + k, "gatherv: [%d][%d]=%d", r, k, got);
                    sums[T_GATHERV] += got;
                }
                check(all[displs[r] + r + 1] == -7 && all[displs[r] + r + 2] == -7,
                      "gatherv: gap after block %d overwritten", r);
            }
            free(counts);
            free(displs);
            free(all);
        }
        free(mine);
    }

    /* Scatter from rank 1 % size, Scatterv from rank 0 with r+2 ints each. */
    {
        enum { K = 4 };
        const int root = 1 % size;
        int *src = NULL;
        if (rank == root) {
            src = xmalloc(sizeof(int) * K * (size_t)size);
            for (int i = 0; i < K * size; i++)
                src[i] = 5 * i + 1;
        }
        int got[K] = { 0 };
        MPI_Scatter(src, K, MPI_INT, got, K, MPI_INT, root, W);
        for (int k = 0; k < K; k++) {
            check(got[k] == 5 * (rank * K + k) + 1, "scatter: [%d]=%d", k, got[k]);
            sums[T_SCATTER] += got[k];
        }
        free(src);

        int *counts = NULL, *displs = NULL;
        src = NULL;
        if (rank == 0) {
            counts = xmalloc(sizeof(int) * (size_t)size);
            displs = xmalloc(sizeof(int) * (size_t)size);
            int total = 0;
            /* Reverse order of the blocks in the send buffer. */
            for (int r = size - 1; r >= 0; r--) {
                counts[r] = r + 2;
                displs[r] = total;
                total += r + 2;
            }
            src = xmalloc(sizeof(int) * (size_t)total);
            for (int r = 0; r < size; r++)
                for (int k = 0; k < r + 2; k++)
                    src[displs[r] + k] = r * 100 + k;
        }
        int n = rank + 2;
        int *mine = xmalloc(sizeof(int) * (size_t)n);
        MPI_Scatterv(src, counts, displs, MPI_INT, mine, n, MPI_INT, 0, W);
        for (int k = 0; k < n; k++) {
            check(mine[k] == rank * 100 + k, "scatterv: [%d]=%d", k, mine[k]);
            sums[T_SCATTERV] += mine[k];
        }
        free(mine);
        free(src);
        free(counts);
        free(displs);
    }

    /* Allgather of two longs, Allgatherv of r+1 ints. */
    {
        long mine[2] = { rank, (long)rank * rank };
        long *all = xmalloc(sizeof(long) * 2 * (size_t)size);
        MPI_Allgather(mine, 2, MPI_LONG, all, 2, MPI_LONG, W);
        for (int r = 0; r < size; r++) {
            check(all[2 * r] == r && all[2 * r + 1] == (long)r * r,
                  "allgather: block %d = %ld %ld", r, all[2 * r], all[2 * r + 1]);
            sums[T_ALLGATHER] += all[2 * r] + all[2 * r + 1];
        }
        free(all);

        int *counts = xmalloc(sizeof(int) * (size_t)size);
        int *displs = xmalloc(sizeof(int) * (size_t)size);
        int total = 0;
        for (int r = 0; r < size; r++) {
            counts[r] = r + 1;
            displs[r] = total;
            total += r + 1;
        }
        int *v = xmalloc(sizeof(int) * (size_t)(rank + 1));
        for (int k = 0; k <= rank; k++)
            v[k] = rank * 50 + k;
        int *allv = xmalloc(sizeof(int) * (size_t)total);
        MPI_Allgatherv(v, rank + 1, MPI_INT, allv, counts, displs, MPI_INT, W);
        for (int r = 0; r < size; r++)
            for (int k = 0; k <= r; k++) {
                check(allv[displs[r] + k] == r * 50 + k, "allgatherv: [%d][%d]=%d",
                      r, k, allv[displs[r] + k]);
                sums[T_ALLGATHERV] += allv[displs[r] + k];
            }
        free(v);
        free(allv);
        free(counts);
        free(displs);
    }

    /* Alltoall with 2 ints per pair, Alltoallv with counts that depend on
     * the receiving rank. */
    {
        int *s = xmalloc(sizeof(int) * 2 * (size_t)size);
        int *r = xmalloc(sizeof(int) * 2 * (size_t)size);
        for (int j = 0; j < size; j++) {
            s[2 * j] = rank * 100 + j;
            s[2 * j + 1] = -(rank * 100 + j);
        }
        MPI_Alltoall(s, 2, MPI_INT, r, 2, MPI_INT, W);
        for (int j = 0; j < size; j++) {
            check(r[2 * j] == j * 100 + rank && r[2 * j + 1] == -(j * 100 + rank),
                  "alltoall: from %d got %d %d", j, r[2 * j], r[2 * j + 1]);
            sums[T_ALLTOALL] += r[2 * j] - 2 * r[2 * j + 1];
        }
        free(s);
        free(r);

        int *sc = xmalloc(sizeof(int) * (size_t)size), *sd = xmalloc(sizeof(int) * (size_t)size);
        int *rc = xmalloc(sizeof(int) * (size_t)size), *rd = xmalloc(sizeof(int) * (size_t)size);
        int stot = 0, rtot = 0;
        for (int j = 0; j < size; j++) {
            sc[j] = j + 1;         /* rank j gets j+1 ints from everyone */
            sd[j] = stot;
            stot += sc[j];
            rc[j] = rank + 1;
            rd[j] = rtot;
            rtot += rc[j];
        }
        int *sb = xmalloc(sizeof(int) * (size_t)stot), *rb = xmalloc(sizeof(int) * (size_t)rtot);
        for (int j = 0; j < size; j++)
            for (int k = 0; k < sc[j]; k++)
                sb[sd[j] + k] = rank * 1000 + j * 10 + k;
        for (int i = 0; i < rtot; i++)
            rb[i] = -1;
        MPI_Alltoallv(sb, sc, sd, MPI_INT, rb, rc, rd, MPI_INT, W);
        for (int j = 0; j < size; j++)
            for (int k = 0; k < rc[j]; k++) {
                int got = rb[rd[j] + k];
                check(got == j * 1000 + rank * 10 + k, "alltoallv: from %d [%d]=%d", j, k, got);
                sums[T_ALLTOALLV] += got;
            }
        free(sc); free(sd); free(rc); free(rd); free(sb); free(rb);
    }

    /* Reduce_scatter_block: 3 elements per rank. */
    {
        enum { B = 3 };
        int *in = xmalloc(sizeof(int) * B * (size_t)size);
        for (int i = 0; i < B * size; i++)
            in[i] = rank + i;
        int out[B];
        MPI_Reduce_scatter_block(in, out, B, MPI_INT, MPI_SUM, W);
        for (int k = 0; k < B; k++) {
            int i = rank * B + k;
            int want = size * (size - 1) / 2 + size * i;
            check(out[k] == want, "reduce_scatter_block: [%d]=%d want %d", k, out[k], want);
            sums[T_REDSCAT] += out[k];
        }
        free(in);
    }

    /* Inclusive and exclusive prefix sums; Exscan leaves rank 0 undefined. */
    {
        long long v[2] = { rank + 1, 1LL << rank }, s[2] = { 0, 0 };
        MPI_Scan(v, s, 2, MPI_LONG_LONG, MPI_SUM, W);
        check(s[0] == (long long)(rank + 1) * (rank + 2) / 2 && s[1] == (1LL << (rank + 1)) - 1,
              "scan: %lld %lld", s[0], s[1]);
        sums[T_SCAN] += s[0] + s[1];

        int e = -5;
        int x = rank + 1;
        MPI_Exscan(&x, &e, 1, MPI_INT, MPI_SUM, W);
        if (rank > 0) {
            check(e == rank * (rank + 1) / 2, "exscan: %d", e);
            sums[T_EXSCAN] += e;
        }
    }

    MPI_Barrier(W);

    long long *tot = rank == 0 ? xmalloc(sizeof sums * (size_t)size) : NULL;
    MPI_Gather(sums, T_COUNT, MPI_LONG_LONG, tot, T_COUNT, MPI_LONG_LONG, 0, W);
    if (rank == 0) {
        printf("collectives on %d ranks\n", size);
        for (int t = 0; t < T_COUNT; t++) {
            long long s = 0;
            for (int r = 0; r < size; r++)
                s += tot[r * T_COUNT + t];
            printf("%-22s checksum %lld\n", test_names[t], s);
        }
        free(tot);
    }

    int rc = finish(rank, size);
    MPI_Finalize();
    return rc;
}

/*
 * jacobi.c - a long-running stencil code, the typical target for
 * checkpointing: Jacobi iteration for the steady-state heat equation on a
 * square plate (top edge held at 1, the other edges at 0) with a 1-D row
 * decomposition, halo exchange with MPI_Isend/MPI_Irecv/MPI_Waitall and an
 * MPI_Allreduce of the residual every RES_EVERY iterations.  It runs for a
 * fixed number of iterations (a few seconds with 4 ranks on 2 cores by
 * default), so a checkpoint can be taken in the middle and the restarted run
 * must print exactly the same numbers.
 *
 * The residual is the max-norm of the update, reduced with MPI_MAX, and the
 * checksum sums the rows in global order on rank 0, so the output does not
 * depend on the number of ranks either.
 *
 * Self-checks: a small problem is solved in parallel and compared bit for bit
 * with the same solver run on MPI_COMM_SELF; the big run must keep the
 * maximum principle (0 <= u <= 1), the exact left-right mirror symmetry of the
 * problem, and a non-increasing residual.
 *
 * Usage: jacobi [iterations]
 * Build: mpicc.mpich -std=gnu11 -O2 -Wall -Wextra -Werror jacobi.c -o jacobi
 */
#include <math.h>
#include <mpi.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NAME "jacobi"
#include "example_check.h"
/* With 4 ranks on 2 cores every iteration costs scheduler time slices while
 * ranks spin in MPI_Waitall, so a big grid and few iterations give a steadier
 * run time than a small grid and many iterations.  N_BIG may be overridden
 * with -D for experiments. */
#ifndef N_BIG
#define N_BIG 2048
#endif
#define ITERS_DEFAULT 400
#define RES_EVERY 25
#define N_SMALL 37
#define ITERS_SMALL 60

/* One rank's block of rows: n interior rows of width N+2 (including the
 * fixed left/right boundary columns) plus a halo/boundary row above and
 * below. */
struct part {
    int N;          /* interior size of the global grid */
    int n;          /* rows owned */
    int row0;       /* global index (1-based) of the first owned row */
    int *counts;    /* rows per rank, for gathering */
    int *displs;
    double *u;      /* (n + 2) x (N + 2), the current iterate */
};

static void partition(struct part *p, int N, int rank, int size)
{
    p->N = N;
    p->counts = xmalloc(sizeof(int) * (size_t)size);
    p->displs = xmalloc(sizeof(int) * (size_t)size);
    for (int r = 0, off = 0; r < size; r++) {
        p->counts[r] = N / size + (r < N % size);
        p->displs[r] = off;
        off += p->counts[r];
    }
    p->n = p->counts[rank];
    p->row0 = p->displs[rank] + 1;
}

/* Runs `iters` Jacobi sweeps on comm and returns the last residual.  The
 * residual history must not increase: the Jacobi operator of this problem
 * has non-negative weights summing to at most 1, so the max-norm of the
 * update can only shrink. */
static double solve(MPI_Comm comm, int N, int iters, struct part *p, int *nres)
{
    int rank, size;
    MPI_Comm_rank(comm, &rank);
    MPI_Comm_size(comm, &size);
    partition(p, N, rank, size);
    const int n = p->n, w = N + 2;
    const int up = rank > 0 ? rank - 1 : MPI_PROC_NULL;
    const int down = rank < size - 1 ? rank + 1 : MPI_PROC_NULL;

    double *u = xmalloc(sizeof(double) * (size_t)(n + 2) * (size_t)w);
    double *v = xmalloc(sizeof(double) * (size_t)(n + 2) * (size_t)w);
    memset(u, 0, sizeof(double) * (size_t)(n + 2) * (size_t)w);
    if (rank == 0)
        for (int j = 0; j < w; j++)
            u[j] = 1.0;
    memcpy(v, u, sizeof(double) * (size_t)(n + 2) * (size_t)w);

    double res = 0.0, prev = INFINITY;
    *nres = 0;
    for (int it = 0; it < iters; it++) {
        /* The ghost rows of ranks at the edges are the fixed boundary;
         * MPI_PROC_NULL makes those transfers no-ops. */
        MPI_Request req[4];
        MPI_Irecv(&u[0], w, MPI_DOUBLE, up, 0, comm, &req[0]);
        MPI_Irecv(&u[(size_t)(n + 1) * w], w, MPI_DOUBLE, down, 1, comm, &req[1]);
        MPI_Isend(&u[(size_t)1 * w], w, MPI_DOUBLE, up, 1, comm, &req[2]);
        MPI_Isend(&u[(size_t)n * w], w, MPI_DOUBLE, down, 0, comm, &req[3]);
        MPI_Waitall(4, req, MPI_STATUSES_IGNORE);

        const int want_res = (it + 1) % RES_EVERY == 0 || it + 1 == iters;
        double local = 0.0;
        for (int i = 1; i <= n; i++) {
            const double *a = &u[(size_t)(i - 1) * w], *b = &u[(size_t)i * w],
                         *c = &u[(size_t)(i + 1) * w];
            double *o = &v[(size_t)i * w];
            /* (up+down)+(left+right) is invariant under mirroring the
             * columns, which keeps the exact symmetry checked below. */
            if (want_res) {
                for (int j = 1; j <= N; j++) {
                    o[j] = 0.25 * ((a[j] + c[j]) + (b[j - 1] + b[j + 1]));
                    double d = fabs(o[j] - b[j]);
                    if (d > local)
                        local = d;
                }
            } else {
                for (int j = 1; j <= N; j++)
                    o[j] = 0.25 * ((a[j] + c[j]) + (b[j - 1] + b[j + 1]));
            }
        }
        double *t = u;
        u = v;
        v = t;

        if (want_res) {
            MPI_Allreduce(&local, &res, 1, MPI_DOUBLE, MPI_MAX, comm);
            check(res <= prev, "residual grew at iteration %d: %.10e > %.10e", it + 1, res, prev);
            prev = res;
            (*nres)++;
        }
    }
    free(v);
    p->u = u;
    return res;
}

static void part_free(struct part *p)
{
    free(p->u);
    free(p->counts);
    free(p->displs);
}

/* Rank 0 receives the interior rows (without boundary columns). */
static double *gather_rows(MPI_Comm comm, const struct part *p, const double *mine_rows,
                           int per_row)
{
    int rank, size;
    MPI_Comm_rank(comm, &rank);
    MPI_Comm_size(comm, &size);
    double *all = NULL;
    int *cnt = NULL, *dsp = NULL;
    if (rank == 0) {
        all = xmalloc(sizeof(double) * (size_t)p->N * (size_t)per_row);
        cnt = xmalloc(sizeof(int) * (size_t)size);
        dsp = xmalloc(sizeof(int) * (size_t)size);
        for (int r = 0; r < size; r++) {
            cnt[r] = p->counts[r] * per_row;
            dsp[r] = p->displs[r] * per_row;
        }
    }
    MPI_Gatherv(mine_rows, p->n * per_row, MPI_DOUBLE, all, cnt, dsp, MPI_DOUBLE, 0, comm);
    free(cnt);
    free(dsp);
    return all;
}

static double *interior(const struct part *p)
{
    double *x = xmalloc(sizeof(double) * (size_t)p->n * (size_t)p->N);
    for (int i = 0; i < p->n; i++)
        memcpy(&x[(size_t)i * p->N], &p->u[(size_t)(i + 1) * (p->N + 2) + 1],
               sizeof(double) * (size_t)p->N);
    return x;
}

/* A per-cell hash summed with wrap-around: position-dependent, yet the sum
 * is independent of how the rows are split among ranks.  Plain sums of the
 * bit patterns would lose everything to the trailing zero bits of simple
 * values like 0.25. */
static uint64_t mix(uint64_t bits, uint64_t pos)
{
    uint64_t z = bits ^ (pos * 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    int rank, size;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);

    int iters = ITERS_DEFAULT;
    if (argc > 1) {
        char *end;
        long v = strtol(argv[1], &end, 10);
        if (*end || v < 1 || v > 100000000) {
            if (rank == 0)
                fprintf(stderr, "usage: %s [iterations >= 1]\n", argv[0]);
            MPI_Finalize();
            return 2;
        }
        iters = (int)v;
    }
    if (size > N_SMALL) {
        if (rank == 0)
            printf("%s: FAIL (at most %d ranks)\n", NAME, N_SMALL);
        MPI_Finalize();
        return 1;
    }

    /* Validation: the decomposed solve must match the undecomposed one bit
     * for bit, because every cell is computed by the same expression from
     * the same inputs. */
    {
        struct part par, ser;
        int nr;
        double rp = solve(MPI_COMM_WORLD, N_SMALL, ITERS_SMALL, &par, &nr);
        double *mine = interior(&par);
        double *all = gather_rows(MPI_COMM_WORLD, &par, mine, N_SMALL);
        if (rank == 0) {
            double rs = solve(MPI_COMM_SELF, N_SMALL, ITERS_SMALL, &ser, &nr);
            double *ref = interior(&ser);
            check(rp == rs, "small problem: residual %.10e, serial %.10e", rp, rs);
            size_t bad = 0;
            for (size_t k = 0; k < (size_t)N_SMALL * N_SMALL; k++)
                bad += all[k] != ref[k];
            check(bad == 0, "small problem: %zu cells differ from the serial solve", bad);
            free(ref);
            part_free(&ser);
        }
        free(all);
        free(mine);
        part_free(&par);
    }

    /* The real run. */
    struct part p;
    int nres;
    double res = solve(MPI_COMM_WORLD, N_BIG, iters, &p, &nres);
    const int N = N_BIG, w = N + 2;

    double *rowsum = xmalloc(sizeof(double) * (size_t)(p.n ? p.n : 1));
    uint64_t bits = 0;
    long asym = 0, out_of_range = 0;
    for (int i = 1; i <= p.n; i++) {
        const double *r = &p.u[(size_t)i * w];
        double s = 0.0;
        for (int j = 1; j <= N; j++) {
            uint64_t b;
            memcpy(&b, &r[j], sizeof b);
            bits += mix(b, (uint64_t)(p.row0 + i - 1) * (uint64_t)w + (uint64_t)j);
            s += r[j];
            asym += r[j] != r[N + 1 - j];
            out_of_range += !(r[j] >= 0.0 && r[j] <= 1.0);
        }
        rowsum[i - 1] = s;
    }
    check(asym == 0, "%ld cells break the left-right symmetry", asym);
    check(out_of_range == 0, "%ld cells outside [0, 1]", out_of_range);

    double *allsums = gather_rows(MPI_COMM_WORLD, &p, rowsum, 1);
    uint64_t allbits = 0;
    MPI_Reduce(&bits, &allbits, 1, MPI_UINT64_T, MPI_SUM, 0, MPI_COMM_WORLD);
    if (rank == 0) {
        double total = 0.0;
        for (int i = 0; i < N; i++)
            total += allsums[i];
        /* Heat only enters at the top edge, so with any iterations done
         * some interior cell must be warm. */
        check(total > 0.0, "grid checksum %.10e is not positive", total);
        printf("jacobi: %d x %d grid, %d ranks, %d iterations, %d residual reductions\n",
               N, N, size, iters, nres);
        printf("final residual (max-norm) %.10e\n", res);
        printf("grid checksum %.10e\n", total);
        printf("grid bit checksum %016llx\n", (unsigned long long)allbits);
        free(allsums);
    }
    free(rowsum);
    part_free(&p);

    int rc = finish(rank, size);
    MPI_Finalize();
    return rc;
}

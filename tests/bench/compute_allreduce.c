/*
 * compute_allreduce.c - MANA-C benchmark application.
 *
 * A small but realistic bulk-synchronous compute + communication loop.
 * Every rank owns an N x N grid of doubles (two copies, a few MB in all) and,
 * per iteration:
 *   1. runs SWEEPS weighted-Jacobi sweeps of a 5-point stencil over it
 *      (a few milliseconds of floating-point work, memory-bandwidth heavy);
 *   2. computes a small vector of local statistics (sum, sum of squares,
 *      residual norm, min, ...) and combines it with MPI_Allreduce;
 *   3. feeds the global result back into the next iteration (a source term),
 *      so the collective is on the critical path and every rank depends on
 *      every other rank's data.
 *
 * The result is deterministic for a given rank count, iteration count and grid
 * size, so a checksum printed at the end can be compared between a native run
 * and a run under the MANA launcher (they must match bit for bit).
 *
 * Usage: compute_allreduce [iterations [grid_n [sweeps]]]
 *
 * Output (rank 0, stdout), one machine-readable line:
 *   BENCH_RESULT ranks=2 iters=1900 grid=640 sweeps=5 elapsed_s=4.512345
 *       checksum=1.234567890123456789e+05 checksum_bits=0x40fe240c9fd6c5b2
 * (a single line; wrapped here).  elapsed_s is measured with MPI_Wtime on
 * rank 0 between two barriers around the main loop (initialisation, MPI_Init
 * and MPI_Finalize excluded).
 */
#include <mpi.h>

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_ITERS 1900
#define DEFAULT_GRID 640 /* 640*640*8 B = 3.3 MB per copy, 6.6 MB per rank */
#define DEFAULT_SWEEPS 5
#define NSTAT 8 /* doubles in the allreduced vector */

static long parse_long(const char *s, const char *what, long lo, long hi)
{
    char *end = NULL;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || v < lo || v > hi) {
        fprintf(stderr, "compute_allreduce: bad %s '%s' (want %ld..%ld)\n",
                what, s, lo, hi);
        MPI_Abort(MPI_COMM_WORLD, 2);
    }
    return v;
}

static int cmp_double(const void *a, const void *b)
{
    const double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* One weighted-Jacobi sweep with a source term: v = (1-w) u + w (avg4(u) + h). */
static void sweep(const double *restrict u, double *restrict v, int n,
                  double w, double h)
{
    const double a = 1.0 - w;
    const double b = 0.25 * w;
    const double c = w * h;
    for (int i = 1; i < n - 1; i++) {
        const double *up = u + (size_t)(i - 1) * n;
        const double *uc = u + (size_t)i * n;
        const double *dn = u + (size_t)(i + 1) * n;
        double *vc = v + (size_t)i * n;
        for (int j = 1; j < n - 1; j++)
            vc[j] = a * uc[j] + b * (up[j] + dn[j] + uc[j - 1] + uc[j + 1]) + c;
    }
}

/* Local statistics over the interior of u (prev = grid before the last sweep). */
static void local_stats(const double *restrict u, const double *restrict prev,
                        int n, double st[NSTAT])
{
    double sum = 0.0, sumsq = 0.0, diff2 = 0.0, wsum = 0.0;
    double mn = INFINITY, mx = -INFINITY;
    for (int i = 1; i < n - 1; i++) {
        const double *uc = u + (size_t)i * n;
        const double *pc = prev + (size_t)i * n;
        const double wi = (double)i / (double)n;
        double rsum = 0.0;
        for (int j = 1; j < n - 1; j++) {
            const double x = uc[j];
            const double d = x - pc[j];
            rsum += x;
            sumsq += x * x;
            diff2 += d * d;
            mn = x < mn ? x : mn;
            mx = x > mx ? x : mx;
        }
        sum += rsum;
        wsum += wi * rsum;
    }
    st[0] = sum;
    st[1] = sumsq;
    st[2] = diff2;
    st[3] = wsum;
    st[4] = mn;  /* summed over ranks: still a deterministic signal */
    st[5] = mx;
    st[6] = (double)(n - 2) * (double)(n - 2);
    st[7] = 1.0;
}

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    int rank = 0, size = 1;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);

    long iters = DEFAULT_ITERS;
    long grid = DEFAULT_GRID;
    long sweeps = DEFAULT_SWEEPS;
    if (argc > 1)
        iters = parse_long(argv[1], "iterations", 1, 100000000L);
    if (argc > 2)
        grid = parse_long(argv[2], "grid size", 8, 16384);
    if (argc > 3)
        sweeps = parse_long(argv[3], "sweeps", 1, 1000);
    if (argc > 4) {
        if (rank == 0)
            fprintf(stderr,
                    "usage: %s [iterations [grid_n [sweeps]]]\n", argv[0]);
        MPI_Abort(MPI_COMM_WORLD, 2);
    }

    const int n = (int)grid;
    const size_t cells = (size_t)n * (size_t)n;
    double *u = malloc(cells * sizeof *u);
    double *v = malloc(cells * sizeof *v);
    if (u == NULL || v == NULL) {
        fprintf(stderr, "compute_allreduce: rank %d: out of memory\n", rank);
        MPI_Abort(MPI_COMM_WORLD, 3);
    }

    /* Deterministic, rank-dependent initial condition; fixed boundaries. */
    for (int i = 0; i < n; i++) {
        for (int j = 0; j < n; j++) {
            const double x = (double)i / (double)(n - 1);
            const double y = (double)j / (double)(n - 1);
            double val = sin(3.0 * x + 0.5 * rank) * cos(2.0 * y) +
                         0.1 * (double)((i * 31 + j * 17 + rank * 7) % 13);
            if (i == 0 || j == 0 || i == n - 1 || j == n - 1)
                val = 1.0 + 0.25 * rank;
            u[(size_t)i * n + j] = val;
        }
    }
    memcpy(v, u, cells * sizeof *u);

    /* Per-iteration times (rank 0) for a robust secondary statistic. */
    double *it_time = rank == 0 ? malloc((size_t)iters * sizeof *it_time) : NULL;
    if (rank == 0 && it_time == NULL) {
        fprintf(stderr, "compute_allreduce: out of memory\n");
        MPI_Abort(MPI_COMM_WORLD, 3);
    }

    double st[NSTAT], gst[NSTAT];
    double h = 0.0;        /* source term, driven by the global state */
    double chk = 0.0;      /* running checksum of the global statistics */
    const double w = 0.8;  /* Jacobi weight */
    const double target = 1.5;

    MPI_Barrier(MPI_COMM_WORLD);
    const double t0 = MPI_Wtime();

    double t_prev = t0;
    for (long it = 0; it < iters; it++) {
        for (long s = 0; s < sweeps; s++) {
            sweep(u, v, n, w, h);
            double *t = u;
            u = v;
            v = t;
        }
        local_stats(u, v, n, st);
        MPI_Allreduce(st, gst, NSTAT, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD);

        const double mean = gst[0] / gst[6];
        const double var = gst[1] / gst[6] - mean * mean;
        const double resid = sqrt(gst[2] / gst[6]);
        /* Global feedback: pull the mean towards the target. */
        h = 0.05 * (target - mean) + 1e-3 * resid;
        chk = fma(chk, 0.5, mean + 1e-3 * var + resid + 1e-6 * gst[3] +
                                1e-3 * (gst[4] + gst[5]));
        if (rank == 0) {
            const double t = MPI_Wtime();
            it_time[it] = t - t_prev;
            t_prev = t;
        }
    }

    MPI_Barrier(MPI_COMM_WORLD);
    const double t1 = MPI_Wtime();

    /* Final checksum: running statistic plus a full-grid reduction. */
    double lsum = 0.0, gsum = 0.0;
    for (size_t k = 0; k < cells; k++)
        lsum += u[k] * (double)(1 + (k % 7));
    MPI_Allreduce(&lsum, &gsum, 1, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD);
    const double checksum = chk + gsum;

    if (rank == 0) {
        /* Median iteration time: insensitive to occasional preemptions. */
        qsort(it_time, (size_t)iters, sizeof *it_time, cmp_double);
        const double med = iters % 2 ? it_time[iters / 2]
                                     : 0.5 * (it_time[iters / 2 - 1] + it_time[iters / 2]);
        uint64_t bits;
        memcpy(&bits, &checksum, sizeof bits);
        printf("BENCH_RESULT ranks=%d iters=%ld grid=%ld sweeps=%ld "
               "elapsed_s=%.6f iter_median_s=%.9f checksum=%.17e "
               "checksum_bits=0x%016" PRIx64 "\n",
               size, iters, grid, sweeps, t1 - t0, med, checksum, bits);
        fflush(stdout);
    }

    free(it_time);
    free(u);
    free(v);
    MPI_Finalize();
    return 0;
}

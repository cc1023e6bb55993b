/* coll_cost.c - per-call time of rooted collectives, for run-bench.sh.
 *
 * Run with 2 ranks, natively and under mana-launch; prints one line
 *   COLL_RESULT bcast_16k_us=.. bcast_128k_us=.. reduce_16k_us=..
 *               reduce_128k_us=..
 * with the median, over BENCH_COLL_REPS repetitions (default 7), of the
 * time per call of a loop of MPI_Bcast (the root alternating) or
 * MPI_Reduce (MPI_SUM of doubles to rank 0) of 16 KiB or 128 KiB. Under
 * MANA these are the two ways a rooted collective is made safe to
 * checkpoint at any moment (docs/checkpoint-protocol.md): up to 64 KiB
 * of data (32 KiB for MPI_Reduce) a copy of its input kept after it (a
 * ghost), over that an MPI_Ibarrier before it (an arrival barrier).
 * Each loop lasts about BENCH_COLL_MS milliseconds (default 100), its
 * length found by a doubling calibration on rank 0 and shared.
 *
 * It also prints comm_churn_us=..: the median time per MPI_Comm_dup,
 * MPI_Allreduce of one int on the new communicator and MPI_Comm_free, in
 * loops of BENCH_COLL_COMMS (default 5000) of them, one after the other.
 * Not calibrated by time: what MANA keeps per communicator made (its
 * record, its entry of collective counts) grows with how many were made,
 * so the loop has a fixed length, and the repetitions add to the count.
 */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int env_int(const char *name, int def)
{
    const char *s = getenv(name);
    int v = s != NULL ? atoi(s) : 0;
    return v > 0 ? v : def;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* ITERS calls of MPI_Bcast (REDUCE 0) or MPI_Reduce of COUNT doubles;
 * seconds, the same on both ranks (rank 0's, shared). */
static double timed_loop(int reduce, int count, long iters, double *buf, double *out)
{
    MPI_Barrier(MPI_COMM_WORLD);
    double t = MPI_Wtime();
    for (long i = 0; i < iters; i++) {
        if (reduce)
            MPI_Reduce(buf, out, count, MPI_DOUBLE, MPI_SUM, 0, MPI_COMM_WORLD);
        else
            MPI_Bcast(buf, count, MPI_DOUBLE, (int)(i % 2), MPI_COMM_WORLD);
    }
    MPI_Barrier(MPI_COMM_WORLD);
    t = MPI_Wtime() - t;
    MPI_Bcast(&t, 1, MPI_DOUBLE, 0, MPI_COMM_WORLD);
    return t;
}

/* ITERS communicators made, used once and freed; seconds, as timed_loop. */
static double churn_loop(long iters)
{
    MPI_Barrier(MPI_COMM_WORLD);
    double t = MPI_Wtime();
    for (long i = 0; i < iters; i++) {
        MPI_Comm c;
        int one = 1, sum;
        MPI_Comm_dup(MPI_COMM_WORLD, &c);
        MPI_Allreduce(&one, &sum, 1, MPI_INT, MPI_SUM, c);
        MPI_Comm_free(&c);
    }
    MPI_Barrier(MPI_COMM_WORLD);
    t = MPI_Wtime() - t;
    MPI_Bcast(&t, 1, MPI_DOUBLE, 0, MPI_COMM_WORLD);
    return t;
}

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    int rank, size;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    if (size != 2) {
        if (rank == 0)
            fprintf(stderr, "coll_cost: run with 2 ranks, not %d\n", size);
        MPI_Finalize();
        return 2;
    }
    int reps = env_int("BENCH_COLL_REPS", 7);
    double budget = env_int("BENCH_COLL_MS", 100) / 1000.0;
    static const struct {
        const char *name;
        int reduce, bytes;
    } cases[] = {{"bcast_16k", 0, 16384}, {"bcast_128k", 0, 131072}, {"reduce_16k", 1, 16384},
                 {"reduce_128k", 1, 131072}};
    enum { NCASES = sizeof cases / sizeof *cases };
    double *buf = calloc(131072 / sizeof(double), sizeof *buf), *out = calloc(131072 / sizeof(double), sizeof *out);
    double *t = malloc((size_t)reps * sizeof *t), result[NCASES];
    if (buf == NULL || out == NULL || t == NULL) {
        fprintf(stderr, "coll_cost: out of memory\n");
        MPI_Abort(MPI_COMM_WORLD, 1);
    }
    for (int k = 0; k < NCASES; k++) {
        int count = cases[k].bytes / (int)sizeof(double);
        long iters = 16;
        while (iters < (1L << 24) && timed_loop(cases[k].reduce, count, iters, buf, out) < budget / 4)
            iters *= 2;
        iters *= 4;
        for (int r = 0; r < reps; r++)
            t[r] = timed_loop(cases[k].reduce, count, iters, buf, out) / (double)iters * 1e6;
        qsort(t, (size_t)reps, sizeof *t, cmp_double);
        result[k] = reps % 2 ? t[reps / 2] : (t[reps / 2 - 1] + t[reps / 2]) / 2;
    }
    long comms = env_int("BENCH_COLL_COMMS", 5000);
    for (int r = 0; r < reps; r++)
        t[r] = churn_loop(comms) / (double)comms * 1e6;
    qsort(t, (size_t)reps, sizeof *t, cmp_double);
    double churn = reps % 2 ? t[reps / 2] : (t[reps / 2 - 1] + t[reps / 2]) / 2;
    if (rank == 0) {
        printf("COLL_RESULT");
        for (int k = 0; k < NCASES; k++)
            printf(" %s_us=%.3f", cases[k].name, result[k]);
        printf(" comm_churn_us=%.3f\n", churn);
    }
    free(buf);
    free(out);
    free(t);
    MPI_Finalize();
    return 0;
}

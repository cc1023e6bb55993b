/* call_cost.c - per-call cost of two MPI calls, for run-bench.sh.
 *
 * Run with one rank, natively and under mana-launch; prints one line
 *   CALL_RESULT comm_rank_ns=.. type_cycle_ns=.. type_create_ns=..
 *               type_commit_ns=.. type_free_ns=.. loop_ns=..
 * with the median, over BENCH_CALL_REPS repetitions, of the time per call:
 *   comm_rank_ns    MPI_Comm_rank(MPI_COMM_WORLD, &r) in a tight loop
 *                   (the trivial call);
 *   type_cycle_ns   MPI_Type_create_struct (3 blocks: int, 2 doubles, char)
 *                   + MPI_Type_commit + MPI_Type_free of a fresh type, in a
 *                   loop (the handle-heavy call);
 *   type_create_ns, type_commit_ns, type_free_ns: the three parts of that
 *                   cycle, isolated by batching: create a batch of
 *                   BATCH types, then commit all of them, then free all of
 *                   them, each phase timed on its own;
 *   loop_ns         an empty loop iteration (timer and loop overhead, for
 *                   information; not subtracted).
 * Each repetition runs enough iterations to last about BENCH_CALL_MS
 * milliseconds (default 100), found by a doubling calibration, so the same
 * program measures 2 ns natively and 8 us per call under a slow crossing.
 * Times come from clock_gettime(CLOCK_MONOTONIC) around whole loops, so the
 * timer's own cost (a system call when the vDSO is hidden) does not count.
 */
#define _GNU_SOURCE
#include <mpi.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define BATCH 256

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static int env_int(const char *name, int def)
{
    const char *s = getenv(name);
    if (s == NULL || *s == '\0')
        return def;
    int v = atoi(s);
    return v > 0 ? v : def;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n)
{
    qsort(v, n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static void check(int rc, const char *what)
{
    if (rc != MPI_SUCCESS) {
        fprintf(stderr, "call_cost: %s failed (%d)\n", what, rc);
        MPI_Abort(MPI_COMM_WORLD, 1);
    }
}

/* The struct type: { int; double[2]; char } with its natural layout. */
struct rec {
    int i;
    double d[2];
    char c;
};

static void make_type(MPI_Datatype *t)
{
    static const int lens[3] = {1, 2, 1};
    static const MPI_Aint disps[3] = {offsetof(struct rec, i), offsetof(struct rec, d), offsetof(struct rec, c)};
    MPI_Datatype types[3] = {MPI_INT, MPI_DOUBLE, MPI_CHAR};
    check(MPI_Type_create_struct(3, lens, disps, types, t), "MPI_Type_create_struct");
}

static volatile int sink;

/* ns per iteration of one of the loops below, over n iterations. */
enum kind { EMPTY, COMM_RANK, TYPE_CYCLE };

static double run_loop(enum kind k, long n)
{
    double t0 = now_ns();
    switch (k) {
    case EMPTY:
        for (long i = 0; i < n; i++)
            sink = (int)i;
        break;
    case COMM_RANK:
        for (long i = 0; i < n; i++) {
            int r;
            MPI_Comm_rank(MPI_COMM_WORLD, &r);
            sink = r;
        }
        break;
    case TYPE_CYCLE:
        for (long i = 0; i < n; i++) {
            MPI_Datatype t;
            make_type(&t);
            check(MPI_Type_commit(&t), "MPI_Type_commit");
            check(MPI_Type_free(&t), "MPI_Type_free");
        }
        break;
    }
    return (now_ns() - t0) / n;
}

/* Iterations that last about target_ns. */
static long calibrate(enum kind k, double target_ns)
{
    long n = 1;
    for (;;) {
        double t0 = now_ns();
        run_loop(k, n);
        double el = now_ns() - t0;
        if (el >= target_ns / 4 || n >= (1L << 40)) {
            double per = el / n;
            long want = per > 0 ? (long)(target_ns / per) : n * 4;
            return want > 0 ? want : 1;
        }
        n *= 2;
    }
}

/* One batched repetition: per-type ns of create, commit, free. */
static void batch_phases(long batches, double *create, double *commit, double *free_)
{
    static MPI_Datatype t[BATCH];
    double tc = 0, tm = 0, tf = 0;
    for (long b = 0; b < batches; b++) {
        double t0 = now_ns();
        for (int i = 0; i < BATCH; i++)
            make_type(&t[i]);
        double t1 = now_ns();
        for (int i = 0; i < BATCH; i++)
            check(MPI_Type_commit(&t[i]), "MPI_Type_commit");
        double t2 = now_ns();
        for (int i = 0; i < BATCH; i++)
            check(MPI_Type_free(&t[i]), "MPI_Type_free");
        double t3 = now_ns();
        tc += t1 - t0;
        tm += t2 - t1;
        tf += t3 - t2;
    }
    double n = (double)batches * BATCH;
    *create = tc / n;
    *commit = tm / n;
    *free_ = tf / n;
}

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    int reps = env_int("BENCH_CALL_REPS", 7);
    double target = env_int("BENCH_CALL_MS", 100) * 1e6;
    if (reps > 101)
        reps = 101;

    double v_empty[101], v_rank[101], v_cycle[101], v_cr[101], v_cm[101], v_fr[101];
    long n_empty = calibrate(EMPTY, target);
    long n_rank = calibrate(COMM_RANK, target);
    long n_cycle = calibrate(TYPE_CYCLE, target);
    long n_batch = n_cycle / BATCH > 0 ? n_cycle / BATCH : 1;
    for (int r = 0; r < reps; r++) {
        v_empty[r] = run_loop(EMPTY, n_empty);
        v_rank[r] = run_loop(COMM_RANK, n_rank);
        v_cycle[r] = run_loop(TYPE_CYCLE, n_cycle);
        batch_phases(n_batch, &v_cr[r], &v_cm[r], &v_fr[r]);
    }

    /* The type must still work: a quick self-send of one record. */
    MPI_Datatype t;
    make_type(&t);
    check(MPI_Type_commit(&t), "MPI_Type_commit");
    struct rec a = {7, {1.5, -2.25}, 'x'}, b;
    memset(&b, 0, sizeof b);
    check(MPI_Sendrecv(&a, 1, t, 0, 5, &b, 1, t, 0, 5, MPI_COMM_SELF, MPI_STATUS_IGNORE), "MPI_Sendrecv");
    MPI_Type_free(&t);
    if (b.i != a.i || b.d[0] != a.d[0] || b.d[1] != a.d[1] || b.c != a.c) {
        fprintf(stderr, "call_cost: struct type transferred wrong data\n");
        MPI_Abort(MPI_COMM_WORLD, 1);
    }

    printf("CALL_RESULT comm_rank_ns=%.3f type_cycle_ns=%.3f type_create_ns=%.3f type_commit_ns=%.3f "
           "type_free_ns=%.3f loop_ns=%.3f iters_rank=%ld iters_cycle=%ld reps=%d\n",
           median(v_rank, reps), median(v_cycle, reps), median(v_cr, reps), median(v_cm, reps),
           median(v_fr, reps), median(v_empty, reps), n_rank, n_cycle, reps);
    fflush(stdout);
    MPI_Finalize();
    return 0;
}

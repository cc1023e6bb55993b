/*
 * threads_pthreads.c - a hybrid MPI + POSIX threads program at
 * MPI_THREAD_FUNNELED: every round the main thread starts worker pthreads
 * that compute partial sums (each with its own __thread accumulator and a
 * malloc'd scratch buffer), joins them, and then alone calls MPI_Allreduce.
 * Under checkpoint/restart this mixes thread creation/exit, thread-local
 * storage and heap use by several threads with MPI calls from one of them.
 *
 * Build: mpicc.mpich -std=gnu11 -O2 -Wall -Wextra -Werror -pthread threads_pthreads.c -o threads_pthreads
 */
#include <mpi.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NAME "threads_pthreads"
#define EXAMPLE_OWN_CHECK
#include "example_check.h"
#define NTHREADS 4
#define ROUNDS 6
#define M (1 << 20) /* terms per rank and round */

static pthread_mutex_t g_reason_lock = PTHREAD_MUTEX_INITIALIZER;

/* Keeps only the first failure: later ones are usually consequences of it.
 * Workers may call it too, hence the lock. */
__attribute__((format(printf, 2, 3)))
static void check(int ok, const char *fmt, ...)
{
    if (ok)
        return;
    pthread_mutex_lock(&g_reason_lock);
    if (!g_reason[0]) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(g_reason, sizeof g_reason, fmt, ap);
        va_end(ap);
        if (!g_reason[0])
            strcpy(g_reason, "unspecified");
    }
    pthread_mutex_unlock(&g_reason_lock);
}

/* The term of the series; unsigned so that overflow wraps predictably. */
static inline uint64_t term(uint64_t i, int rank, int round)
{
    uint64_t x = i * 0x9e3779b97f4a7c15ull + (uint64_t)rank * 1000003u + (uint64_t)round;
    return (x >> 17) ^ (i * i);
}

/* Each worker accumulates here; a fresh thread must see it zeroed and the
 * main thread's copy must not be touched by the workers. */
static __thread uint64_t tls_acc;
static __thread int tls_id = -1;

struct job {
    int id, rank, round;
    uint64_t lo, hi;
    uint64_t sum;
    double fsum;
};

static void *worker(void *arg)
{
    struct job *j = arg;
    check(tls_acc == 0 && tls_id == -1, "thread %d: fresh TLS not initialised", j->id);
    tls_id = j->id;

    /* A heap buffer per thread, so that the allocator is used concurrently. */
    size_t n = (size_t)(j->hi - j->lo);
    uint64_t *scratch = malloc(n * sizeof *scratch);
    if (!scratch) {
        check(0, "thread %d: malloc failed", j->id);
        return NULL;
    }
    for (size_t k = 0; k < n; k++)
        scratch[k] = term(j->lo + k, j->rank, j->round);
    double f = 0.0;
    for (size_t k = 0; k < n; k++) {
        tls_acc += scratch[k];
        f += (double)(scratch[k] & 0xffff) * 0.5;
    }
    free(scratch);

    check(tls_id == j->id, "thread %d: TLS id became %d", j->id, tls_id);
    j->sum = tls_acc;
    j->fsum = f;
    return NULL;
}

int main(int argc, char **argv)
{
    int provided = -1;
    MPI_Init_thread(&argc, &argv, MPI_THREAD_FUNNELED, &provided);
    int rank, size;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    check(provided >= MPI_THREAD_FUNNELED, "provided thread level %d < FUNNELED", provided);
    int queried = -1, is_main = 0;
    MPI_Query_thread(&queried);
    MPI_Is_thread_main(&is_main);
    check(queried == provided && is_main, "query_thread %d, is_thread_main %d", queried, is_main);

    const uint64_t main_marker = 0x5a5a5a5a12345678ull;
    tls_acc = main_marker;
    tls_id = 999;

    uint64_t totals[ROUNDS];
    for (int round = 0; round < ROUNDS; round++) {
        pthread_t th[NTHREADS];
        struct job jobs[NTHREADS];
        for (int t = 0; t < NTHREADS; t++) {
            jobs[t] = (struct job){ .id = t, .rank = rank, .round = round,
                                    .lo = (uint64_t)M * t / NTHREADS,
                                    .hi = (uint64_t)M * (t + 1) / NTHREADS };
            int e = pthread_create(&th[t], NULL, worker, &jobs[t]);
            if (e) {
                fprintf(stderr, "pthread_create: %s\n", strerror(e));
                MPI_Abort(MPI_COMM_WORLD, 2);
            }
        }
        uint64_t local = 0;
        double flocal = 0.0;
        for (int t = 0; t < NTHREADS; t++) {
            pthread_join(th[t], NULL);
            local += jobs[t].sum;
            flocal += jobs[t].fsum;
        }
        check(tls_acc == main_marker && tls_id == 999,
              "round %d: main thread TLS changed by workers", round);

        /* Only the main thread talks to MPI (FUNNELED). */
        uint64_t global = 0;
        double fglobal = 0.0;
        MPI_Allreduce(&local, &global, 1, MPI_UINT64_T, MPI_SUM, MPI_COMM_WORLD);
        MPI_Allreduce(&flocal, &fglobal, 1, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD);

        /* Serial reference for all ranks, computed independently here.  The
         * double terms are multiples of 0.5 below 2^15 and their sum stays
         * far below 2^53, so it is exact in any order. */
        uint64_t want = 0;
        double fwant = 0.0;
        for (int r = 0; r < size; r++)
            for (uint64_t i = 0; i < M; i++) {
                uint64_t x = term(i, r, round);
                want += x;
                fwant += (double)(x & 0xffff) * 0.5;
            }
        check(global == want, "round %d: sum %llu want %llu", round,
              (unsigned long long)global, (unsigned long long)want);
        check(fglobal == fwant, "round %d: double sum %.10e want %.10e", round, fglobal, fwant);
        totals[round] = global;
    }

    if (rank == 0) {
        printf("%s: %d ranks x %d threads, %d rounds\n", NAME, size, NTHREADS, ROUNDS);
        for (int round = 0; round < ROUNDS; round++)
            printf("round %d: sum %016llx\n", round, (unsigned long long)totals[round]);
    }

    int rc = finish(rank, size);
    MPI_Finalize();
    return rc;
}

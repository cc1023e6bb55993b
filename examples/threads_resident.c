/*
 * threads_resident.c - worker threads that live through the whole run of
 * an MPI_THREAD_FUNNELED program, as a checkpoint finds them: one blocks
 * every signal and computes in lock step with the main thread (a
 * pthread barrier), one waits on a condition variable for work the main
 * thread hands it, one sleeps in short naps until it is told to stop.
 * The main thread alone calls MPI, once per round. At the end every
 * worker is joined and the ranks' results are summed.
 *
 * Build: mpicc.mpich -std=gnu11 -O2 -Wall -Wextra -Werror -pthread threads_resident.c -o threads_resident
 */
#define _GNU_SOURCE
#include <errno.h>
#include <mpi.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

#define NAME "threads_resident"
#define EXAMPLE_OWN_CHECK
#include "example_check.h"

#define ROUNDS 40
#define TERMS 200000

static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t g_cond = PTHREAD_COND_INITIALIZER;
static pthread_barrier_t g_step;
static int g_rank;
static int g_work = -1;           /* the round handed to the waiter, under g_lock */
static int g_stop;                /* under g_lock */
static uint64_t g_computed[ROUNDS], g_waited[ROUNDS];
static long g_naps;
static __thread uint64_t tls_sum; /* each worker's own */

__attribute__((format(printf, 2, 3))) static void check(int ok, const char *fmt, ...)
{
    if (ok)
        return;
    pthread_mutex_lock(&g_lock);
    if (!g_reason[0]) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(g_reason, sizeof g_reason, fmt, ap);
        va_end(ap);
    }
    pthread_mutex_unlock(&g_lock);
}

static uint64_t series(int rank, int round, int salt)
{
    uint64_t s = 0;
    for (uint64_t i = 1; i <= TERMS; i++)
        s += ((i * 2654435761u) ^ ((uint64_t)rank << 20) ^ ((uint64_t)round << 8)) * (2 * (uint64_t)salt + 1);
    return s;
}

/* Blocks every signal, as a compute thread that leaves signals to the
 * main thread does, and meets the main thread at the barrier twice a
 * round. */
static void *computer(void *arg)
{
    (void)arg;
    sigset_t all;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, NULL);
    for (int r = 0; r < ROUNDS; r++) {
        pthread_barrier_wait(&g_step);
        tls_sum += series(g_rank, r, 1);
        g_computed[r] = tls_sum;
        pthread_barrier_wait(&g_step);
    }
    return NULL;
}

/* Waits for each round the main thread hands over. */
static void *waiter(void *arg)
{
    (void)arg;
    for (int r = 0; r < ROUNDS; r++) {
        pthread_mutex_lock(&g_lock);
        while (g_work < r)
            pthread_cond_wait(&g_cond, &g_lock);
        pthread_mutex_unlock(&g_lock);
        tls_sum += series(g_rank, r, 2);
        g_waited[r] = tls_sum;
    }
    return NULL;
}

/* Naps until told to stop; a nap cut short by a signal is fine. */
static void *sleeper(void *arg)
{
    (void)arg;
    for (;;) {
        pthread_mutex_lock(&g_lock);
        int stop = g_stop;
        pthread_mutex_unlock(&g_lock);
        if (stop)
            return NULL;
        struct timespec nap = {0, 2 * 1000 * 1000};
        while (nanosleep(&nap, &nap) != 0 && errno == EINTR)
            ;
        g_naps++;
    }
}

int main(int argc, char **argv)
{
    int provided, size;
    MPI_Init_thread(&argc, &argv, MPI_THREAD_FUNNELED, &provided);
    MPI_Comm_rank(MPI_COMM_WORLD, &g_rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    check(provided >= MPI_THREAD_FUNNELED, "provided thread level %d < FUNNELED", provided);
    pthread_barrier_init(&g_step, NULL, 2);
    pthread_t th[3];
    void *(*const body[3])(void *) = {computer, waiter, sleeper};
    for (int i = 0; i < 3; i++)
        check(pthread_create(&th[i], NULL, body[i], NULL) == 0, "pthread_create %d failed", i);

    uint64_t total = 0;
    for (int r = 0; r < ROUNDS; r++) {
        pthread_barrier_wait(&g_step);
        pthread_mutex_lock(&g_lock);
        g_work = r;
        pthread_cond_signal(&g_cond);
        pthread_mutex_unlock(&g_lock);
        uint64_t mine = series(g_rank, r, 0), sum = 0;
        MPI_Allreduce(&mine, &sum, 1, MPI_UINT64_T, MPI_SUM, MPI_COMM_WORLD);
        total += sum;
        pthread_barrier_wait(&g_step);
    }
    pthread_mutex_lock(&g_lock);
    g_stop = 1;
    pthread_mutex_unlock(&g_lock);
    for (int i = 0; i < 3; i++)
        check(pthread_join(th[i], NULL) == 0, "pthread_join %d failed", i);
    check(tls_sum == 0, "the main thread's __thread sum was touched by a worker");

    /* Each worker's running sums, recomputed here. */
    uint64_t c = 0, w = 0;
    for (int r = 0; r < ROUNDS; r++) {
        c += series(g_rank, r, 1);
        w += series(g_rank, r, 2);
        check(g_computed[r] == c, "round %d: the computing thread's sum is wrong", r);
        check(g_waited[r] == w, "round %d: the waiting thread's sum is wrong", r);
    }
    check(g_naps > 0, "the sleeping thread never woke");
    uint64_t mine[2] = {c, w}, all[2];
    MPI_Reduce(mine, all, 2, MPI_UINT64_T, MPI_SUM, 0, MPI_COMM_WORLD);
    if (g_rank == 0)
        printf("%s: %d ranks, %d rounds, totals %016llx %016llx %016llx\n", NAME, size, ROUNDS,
               (unsigned long long)total, (unsigned long long)all[0], (unsigned long long)all[1]);
    int rc = finish(g_rank, size);
    pthread_barrier_destroy(&g_step);
    MPI_Finalize();
    return rc;
}

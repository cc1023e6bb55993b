/*
 * signals_in_mpi.c - application signal handlers that fire while the main
 * thread is inside the MPI library.  SIGALRM (sigaction, SA_SIGINFO) is
 * driven by a 200 us interval timer and SIGUSR2 (signal()) by a helper
 * pthread that sends it to the process every ~300 us.  Each handler saves
 * errno, bumps a __thread counter and a global atomic counter, clobbers errno
 * and restores it.  Meanwhile the main thread makes thousands of checked MPI
 * calls (Allreduce, Comm_rank, Isend/Iprobe/Recv, Sendrecv).
 *
 * Under a checkpoint/restart system whose MPI library runs with a different
 * thread pointer (%fs) than the application, a handler that runs while the
 * library's TLS is active would bump the wrong __thread counter (the two
 * counters then disagree) or corrupt the library's state (the MPI results
 * are then wrong).  Natively the program must always pass.  The signal counts
 * vary from run to run, so they go to stderr only.
 *
 * Build: mpicc.mpich -std=gnu11 -O2 -Wall -Wextra -Werror -pthread signals_in_mpi.c -o signals_in_mpi
 */
#define _GNU_SOURCE
#include <errno.h>
#include <mpi.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#define NAME "signals_in_mpi"
#include "example_check.h"
/* With 4 ranks on 2 cores each synchronising MPI call costs several
 * scheduler time slices (tens of ms), so few iterations already take a
 * second or two there; with 2 ranks the same run is much shorter. */
#define ITERS 100
#define LOCAL_CALLS 200
#define MEDIUM 2048 /* longs in the medium Allreduce */
#define ERRNO_MARK 4242
#define ERRNO_CLOBBER 9999

/* Incremented only by the handlers.  The __thread copies are the ones that
 * break if a handler runs with the wrong thread pointer. */
static __thread long tls_alrm, tls_usr2;
static _Atomic long g_alrm, g_usr2;
static _Atomic int g_bad_siginfo;

static void on_alrm(int sig, siginfo_t *si, void *uc)
{
    (void)uc;
    int saved = errno;
    if (sig != SIGALRM || !si || si->si_signo != SIGALRM)
        atomic_store_explicit(&g_bad_siginfo, 1, memory_order_relaxed);
    tls_alrm++;
    atomic_fetch_add_explicit(&g_alrm, 1, memory_order_relaxed);
    /* Stands in for libc calls a real handler would make. */
    errno = ERRNO_CLOBBER;
    errno = saved;
}

static void on_usr2(int sig)
{
    int saved = errno;
    if (sig != SIGUSR2)
        atomic_store_explicit(&g_bad_siginfo, 1, memory_order_relaxed);
    tls_usr2++;
    atomic_fetch_add_explicit(&g_usr2, 1, memory_order_relaxed);
    errno = ERRNO_CLOBBER;
    errno = saved;
}

static _Atomic int g_stop;
static long g_sent;

static void *usr2_sender(void *arg)
{
    (void)arg;
    /* The mask inherited from main blocks both signals, so the handlers can
     * only run in the main thread. */
    const struct timespec gap = { 0, 300 * 1000 };
    while (!atomic_load(&g_stop)) {
        kill(getpid(), SIGUSR2);
        g_sent++;
        nanosleep(&gap, NULL);
    }
    return NULL;
}

static void set_timer(long usec)
{
    struct itimerval tv = { { 0, usec }, { 0, usec } };
    if (setitimer(ITIMER_REAL, &tv, NULL) != 0) {
        perror("setitimer");
        MPI_Abort(MPI_COMM_WORLD, 2);
    }
}

int main(int argc, char **argv)
{
    /* Block the two signals before MPI_Init so that any thread the MPI
     * library or the helper creates inherits the block; only the main thread
     * unblocks them below. */
    sigset_t both;
    sigemptyset(&both);
    sigaddset(&both, SIGALRM);
    sigaddset(&both, SIGUSR2);
    pthread_sigmask(SIG_BLOCK, &both, NULL);

    int provided = -1;
    MPI_Init_thread(&argc, &argv, MPI_THREAD_FUNNELED, &provided);
    int rank, size;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    check(provided >= MPI_THREAD_FUNNELED, "provided thread level %d < FUNNELED", provided);
    const int right = (rank + 1) % size, left = (rank + size - 1) % size;
    int iters = ITERS;
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

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_alrm;
    sa.sa_flags = SA_SIGINFO | SA_RESTART;
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGALRM, &sa, NULL) != 0 || signal(SIGUSR2, on_usr2) == SIG_ERR) {
        perror("installing handlers");
        MPI_Abort(MPI_COMM_WORLD, 2);
    }

    pthread_t helper;
    if (pthread_create(&helper, NULL, usr2_sender, NULL) != 0) {
        fprintf(stderr, "pthread_create failed\n");
        MPI_Abort(MPI_COMM_WORLD, 2);
    }
    set_timer(200);
    pthread_sigmask(SIG_UNBLOCK, &both, NULL);

    long *med = malloc(sizeof(long) * MEDIUM), *medr = malloc(sizeof(long) * MEDIUM);
    if (!med || !medr)
        MPI_Abort(MPI_COMM_WORLD, 2);
    long errno_windows = 0, checksum = 0;
    for (int it = 0; it < iters; it++) {
        int r = -1, rc;
        rc = MPI_Comm_rank(MPI_COMM_WORLD, &r);
        check(rc == MPI_SUCCESS && r == rank, "iter %d: Comm_rank gave %d (rc %d)", it, r, rc);

        /* Small Allreduce. */
        long s[4] = { rank, it, (long)rank * it, 1 }, sr[4] = { 0 };
        rc = MPI_Allreduce(s, sr, 4, MPI_LONG, MPI_SUM, MPI_COMM_WORLD);
        long tri = (long)size * (size - 1) / 2;
        check(rc == MPI_SUCCESS && sr[0] == tri && sr[1] == (long)it * size &&
              sr[2] == tri * it && sr[3] == size,
              "iter %d: small allreduce %ld %ld %ld %ld", it, sr[0], sr[1], sr[2], sr[3]);

        /* Medium Allreduce, every element checked. */
        for (int k = 0; k < MEDIUM; k++) {
            med[k] = (long)k * (rank + 1) + it;
            medr[k] = -1;
        }
        rc = MPI_Allreduce(med, medr, MEDIUM, MPI_LONG, MPI_MAX, MPI_COMM_WORLD);
        int bad = rc != MPI_SUCCESS;
        for (int k = 0; k < MEDIUM; k++)
            bad += medr[k] != (long)k * size + it;
        check(!bad, "iter %d: medium allreduce has %d bad elements (rc %d)", it, bad, rc);
        checksum += medr[MEDIUM - 1];

        /* Polling receive: the message from the left neighbour is awaited
         * with MPI_Iprobe, so the signals hit the progress engine. */
        int token = rank * 100000 + it, got = -1, flag = 0;
        MPI_Request req;
        MPI_Isend(&token, 1, MPI_INT, right, 7, MPI_COMM_WORLD, &req);
        MPI_Status st;
        long polls = 0;
        while (!flag) {
            rc = MPI_Iprobe(left, 7, MPI_COMM_WORLD, &flag, &st);
            if (rc != MPI_SUCCESS)
                break;
            polls++;
            /* With more ranks than cores the sender may be descheduled. */
            if (!flag)
                sched_yield();
        }
        check(rc == MPI_SUCCESS && flag && st.MPI_SOURCE == left && st.MPI_TAG == 7,
              "iter %d: iprobe flag %d source %d after %ld polls", it, flag, st.MPI_SOURCE, polls);
        MPI_Recv(&got, 1, MPI_INT, left, 7, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
        MPI_Wait(&req, MPI_STATUS_IGNORE);
        check(got == left * 100000 + it, "iter %d: iprobe'd message %d", it, got);

        /* Sendrecv in both directions. */
        long out = (long)rank * 7 + it, in_l = -1, in_r = -1;
        rc = MPI_Sendrecv(&out, 1, MPI_LONG, right, 8, &in_l, 1, MPI_LONG, left, 8,
                          MPI_COMM_WORLD, MPI_STATUS_IGNORE);
        rc |= MPI_Sendrecv(&out, 1, MPI_LONG, left, 9, &in_r, 1, MPI_LONG, right, 9,
                           MPI_COMM_WORLD, MPI_STATUS_IGNORE);
        check(rc == MPI_SUCCESS && in_l == (long)left * 7 + it && in_r == (long)right * 7 + it,
              "iter %d: sendrecv got %ld %ld", it, in_l, in_r);
        checksum += in_l + in_r;

        /* Cheap local calls that still enter the library and its progress
         * engine; nothing is ever sent with tag 99, so Iprobe must say no. */
        for (int k = 0; k < LOCAL_CALLS; k++) {
            int f = -1, rr = -1;
            rc = MPI_Iprobe(MPI_ANY_SOURCE, 99, MPI_COMM_WORLD, &f, MPI_STATUS_IGNORE);
            rc |= MPI_Comm_rank(MPI_COMM_WORLD, &rr);
            if (rc != MPI_SUCCESS || f != 0 || rr != rank) {
                check(0, "iter %d: local call %d: flag %d rank %d rc %d", it, k, f, rr, rc);
                break;
            }
        }

        /* A window without libc or MPI calls: only a handler can change
         * errno here, and it must put it back. */
        /* Through a volatile pointer, or the compiler would forward the
         * stored value to the load across the loop. */
        volatile int *errp = &errno;
        *errp = ERRNO_MARK;
        volatile unsigned long spin = 0;
        for (int k = 0; k < 200000; k++)
            spin += (unsigned long)k * (unsigned long)it;
        int e = *errp;
        check(e == ERRNO_MARK, "iter %d: errno %d after compute window", it, e);
        errno_windows++;
    }
    free(med);
    free(medr);

    /* A very short run (few iterations, fast machine) might not have seen
     * each signal yet; give them up to two seconds so that "> 0" below tests
     * the handlers, not the timing. */
    for (int k = 0; k < 2000 && (!atomic_load(&g_alrm) || !atomic_load(&g_usr2)); k++) {
        const struct timespec ms = { 0, 1000 * 1000 };
        nanosleep(&ms, NULL);
    }

    /* Quiesce: block first so that the counters cannot move while read. */
    pthread_sigmask(SIG_BLOCK, &both, NULL);
    set_timer(0);
    atomic_store(&g_stop, 1);
    pthread_join(helper, NULL);

    long ta = tls_alrm, ga = atomic_load(&g_alrm);
    long tu = tls_usr2, gu = atomic_load(&g_usr2);
    check(!atomic_load(&g_bad_siginfo), "handler saw a wrong signal number");
    check(ga > 0, "no SIGALRM was handled");
    check(gu > 0, "no SIGUSR2 was handled (%ld sent)", g_sent);
    check(ta == ga, "SIGALRM: __thread counter %ld != global counter %ld", ta, ga);
    check(tu == gu, "SIGUSR2: __thread counter %ld != global counter %ld", tu, gu);
    fprintf(stderr, "%s rank %d: SIGALRM %ld, SIGUSR2 %ld handled (%ld sent)\n", NAME, rank, ga,
            gu, g_sent);

    /* Deterministic summary: the MPI checksums agree on every rank. */
    long sum_all = 0;
    MPI_Allreduce(&checksum, &sum_all, 1, MPI_LONG, MPI_SUM, MPI_COMM_WORLD);
    if (rank == 0)
        printf("%s: %d ranks, %d iterations, MPI checksum %ld\n", NAME, size, iters, sum_all);

    int rc = finish(rank, size);
    MPI_Finalize();
    return rc;
}

/* What the examples share: each rank keeps its first failed check, and
 * rank 0 alone prints the verdict, "<NAME>: OK" or "<NAME>: FAIL (...)",
 * so that the output is the same on every run and can be compared with
 * the native run's. Define NAME before including this file; define
 * EXAMPLE_OWN_CHECK to supply check() yourself (threads_pthreads does,
 * with a lock). Kept beside the examples so each still builds with a
 * plain `mpicc.mpich example.c` (or `mpicxx.mpich example.cpp`: the C++
 * examples include it too). */
#ifndef EXAMPLE_CHECK_H
#define EXAMPLE_CHECK_H

#include <mpi.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef NAME
#error "define NAME (the example's name) before including example_check.h"
#endif

static char g_reason[160];

#ifndef EXAMPLE_OWN_CHECK
/* Keeps only the first failure: later ones are usually consequences of it. */
__attribute__((format(printf, 2, 3)))
static void check(int ok, const char *fmt, ...)
{
    if (ok || g_reason[0])
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(g_reason, sizeof g_reason, fmt, ap);
    va_end(ap);
    if (!g_reason[0])
        strcpy(g_reason, "unspecified");
}
#endif

/* Every rank's verdict travels to rank 0 so that only rank 0 prints. */
static int finish(int rank, int size)
{
    char *all = NULL;
    if (rank == 0)
        all = (char *)malloc(sizeof g_reason * (size_t)size);
    MPI_Gather(g_reason, (int)sizeof g_reason, MPI_CHAR,
               all, (int)sizeof g_reason, MPI_CHAR, 0, MPI_COMM_WORLD);
    int rc = 0;
    if (rank == 0) {
        for (int r = 0; r < size; r++) {
            const char *why = all + (size_t)r * sizeof g_reason;
            if (why[0]) {
                printf("%s: FAIL (rank %d: %.*s)\n", NAME, r, (int)sizeof g_reason, why);
                rc = 1;
                break;
            }
        }
        if (!rc)
            printf("%s: OK\n", NAME);
        free(all);
    }
    fflush(stdout);
    return rc;
}

__attribute__((unused)) static void *xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p) {
        fprintf(stderr, "out of memory\n");
        MPI_Abort(MPI_COMM_WORLD, 2);
    }
    return p;
}

#endif

/* A job with one busy rank, for the tests of issue 6, acceptance 3:
 * rank 1 computes for SECONDS without any MPI call while the other ranks
 * wait for it, in MPI_Recv (MODE p2p), in MPI_Allreduce (MODE coll), in
 * MPI_Allreduce with MPI_IN_PLACE on one long (MODE inplace) or on 256 KiB
 * (MODE biginplace), or in the MPI_Wait of their own MPI_Iallreduce (MODE
 * nbc). Rank 1 prints "computing" when it starts; rank 0 prints the
 * result.
 * Usage: ckpt_busy p2p|coll|inplace|biginplace|nbc SECONDS */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    int rank, size;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    const char *mode = argc == 3 ? argv[1] : "";
    if ((strcmp(mode, "p2p") != 0 && strcmp(mode, "coll") != 0 && strcmp(mode, "inplace") != 0 &&
         strcmp(mode, "biginplace") != 0 && strcmp(mode, "nbc") != 0) ||
        size < 2) {
        if (rank == 0)
            fprintf(stderr, "usage: ckpt_busy p2p|coll|inplace|biginplace|nbc SECONDS (2 ranks or more)\n");
        MPI_Finalize();
        return 2;
    }
    int coll = strcmp(mode, "coll") == 0, inplace = strcmp(mode, "inplace") == 0;
    int biginplace = strcmp(mode, "biginplace") == 0, nbc = strcmp(mode, "nbc") == 0;
    double seconds = atof(argv[2]);
    MPI_Barrier(MPI_COMM_WORLD);
    long value = rank + 1;
    if (rank == 1) {
        printf("computing\n");
        fflush(stdout);
        /* Busy, no MPI call: a checkpoint must stop it where it is. */
        volatile double x = 1.0;
        double end = now() + seconds;
        while (now() < end)
            for (int i = 0; i < 100000; i++)
                x = x * 1.0000001 + 1e-9;
        value += x > 0 ? 0 : 1;
    }
    long total = 0;
    if (coll) {
        MPI_Allreduce(&value, &total, 1, MPI_LONG, MPI_SUM, MPI_COMM_WORLD);
    } else if (inplace) {
        total = value;
        MPI_Allreduce(MPI_IN_PLACE, &total, 1, MPI_LONG, MPI_SUM, MPI_COMM_WORLD);
    } else if (biginplace) {
        enum { N = 32768 };
        long *v = malloc(N * sizeof *v);
        for (int i = 0; v != NULL && i < N; i++)
            v[i] = value + i;
        MPI_Allreduce(MPI_IN_PLACE, v, v != NULL ? N : 0, MPI_LONG, MPI_SUM, MPI_COMM_WORLD);
        /* The first sum is 1 + 2 + ... + size; the last adds size * (N - 1). */
        total = v != NULL && v[N - 1] - v[0] == (long)size * (N - 1) ? v[0] : -1;
        free(v);
    } else if (nbc) {
        MPI_Request req;
        MPI_Iallreduce(&value, &total, 1, MPI_LONG, MPI_SUM, MPI_COMM_WORLD, &req);
        MPI_Wait(&req, MPI_STATUS_IGNORE);
    } else if (rank == 1) {
        for (int r = 0; r < size; r++)
            if (r != 1)
                MPI_Send(&value, 1, MPI_LONG, r, 0, MPI_COMM_WORLD);
        total = value;
    } else {
        MPI_Recv(&total, 1, MPI_LONG, 1, 0, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
    }
    if (rank == 0)
        printf("result %ld\n", total);
    MPI_Finalize();
    return 0;
}

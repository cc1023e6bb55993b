/*
 * hello.c - the smallest useful MPI program: start-up, rank/size queries,
 * processor name and version queries, a barrier, a gather of the ranks and
 * shutdown.  It is the first thing to try under checkpoint/restart because it
 * touches only the MPI calls that every other program also needs.
 *
 * Build: mpicc.mpich -std=gnu11 -O2 -Wall -Wextra -Werror hello.c -o hello
 */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);

    int rank, size;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);

    int fail = 0;
    char reason[128] = "";

    /* The name itself is host-specific, so only its length is checked to keep
     * stdout identical across machines. */
    char name[MPI_MAX_PROCESSOR_NAME];
    int namelen = -1;
    MPI_Get_processor_name(name, &namelen);
    if (namelen <= 0 || namelen >= MPI_MAX_PROCESSOR_NAME ||
        (int)strnlen(name, MPI_MAX_PROCESSOR_NAME) != namelen) {
        fail = 1;
        snprintf(reason, sizeof reason, "bad processor name length %d", namelen);
    }

    int version, subversion;
    MPI_Get_version(&version, &subversion);
    if (version < 3) {
        fail = 1;
        snprintf(reason, sizeof reason, "MPI version %d.%d < 3", version, subversion);
    }

    MPI_Barrier(MPI_COMM_WORLD);

    /* Each rank contributes its rank and its local verdict; rank 0 decides. */
    int mine[2] = { rank, fail };
    int *all = NULL;
    if (rank == 0)
        all = malloc(sizeof(int) * 2 * (size_t)size);
    MPI_Gather(mine, 2, MPI_INT, all, 2, MPI_INT, 0, MPI_COMM_WORLD);

    int rc = 0;
    if (rank == 0) {
        printf("hello from %d ranks\n", size);
        printf("MPI version >= 3: %s\n", version >= 3 ? "yes" : "no");
        printf("ranks:");
        for (int i = 0; i < size; i++)
            printf(" %d", all[2 * i]);
        printf("\n");
        for (int i = 0; i < size; i++) {
            if (all[2 * i] != i) {
                fail = 1;
                snprintf(reason, sizeof reason, "gather slot %d holds rank %d", i, all[2 * i]);
            } else if (all[2 * i + 1]) {
                fail = 1;
                snprintf(reason, sizeof reason, "rank %d failed its local checks", i);
            }
        }
        if (fail) {
            printf("hello: FAIL (%s)\n", reason);
            rc = 1;
        } else {
            printf("hello: OK\n");
        }
        free(all);
    }
    fflush(stdout);

    /* Only rank 0 knows the verdict; a non-zero exit from it is enough for
     * mpirun to report failure. */
    MPI_Finalize();
    return rc;
}

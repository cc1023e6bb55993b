/* Calls a function MANA does not support (one-sided communication) after
 * some ordinary MPI: the job must stop at that call, naming it. */
#include <mpi.h>
#include <stdio.h>

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    int rank, buf = 0;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Barrier(MPI_COMM_WORLD);
    printf("rank %d before the unsupported call\n", rank);
    fflush(stdout);
    MPI_Win win;
    MPI_Win_create(&buf, sizeof buf, sizeof buf, MPI_INFO_NULL, MPI_COMM_WORLD, &win);
    printf("rank %d after the unsupported call\n", rank);
    MPI_Finalize();
    return 0;
}

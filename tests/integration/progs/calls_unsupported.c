/* Calls a function MANA does not support (dynamic processes) after
 * some ordinary MPI: the job must stop at that call, naming it. */
#include <mpi.h>
#include <stdio.h>

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    int rank;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Barrier(MPI_COMM_WORLD);
    printf("rank %d before the unsupported call\n", rank);
    fflush(stdout);
    char port[MPI_MAX_PORT_NAME];
    MPI_Open_port(MPI_INFO_NULL, port);
    printf("rank %d after the unsupported call\n", rank);
    MPI_Finalize();
    return 0;
}

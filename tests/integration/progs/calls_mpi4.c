/* Uses MPI_Isendrecv, an MPI-4.0 function that MPICH 4.0 has and Open
 * MPI 4.1 does not: under MPICH's lower half the ring exchange works;
 * under Open MPI's the job must stop at that call, naming it. */
#include <mpi.h>
#include <stdio.h>

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    int rank, size;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    printf("rank %d before MPI_Isendrecv\n", rank);
    fflush(stdout);
    int out = rank, in = -1;
    MPI_Request req;
    MPI_Isendrecv(&out, 1, MPI_INT, (rank + 1) % size, 0, &in, 1, MPI_INT, (rank + size - 1) % size, 0,
                  MPI_COMM_WORLD, &req);
    MPI_Wait(&req, MPI_STATUS_IGNORE);
    printf("rank %d got %d\n", rank, in);
    MPI_Finalize();
    return in == (rank + size - 1) % size ? 0 : 1;
}

/* A user reduction function that itself calls MPI (MPI_Type_size and
 * MPI_Type_get_extent on the datatype it is given), and writes errno and
 * a __thread variable: under MANA it runs inside the lower half's
 * MPI_Allreduce, so its MPI calls are nested crossings and its TLS must be
 * the upper half's. Prints the same as natively. */
#include <errno.h>
#include <mpi.h>
#include <stdio.h>

static __thread long calls_in_this_thread;

static void sum_checked(void *in, void *inout, int *len, MPI_Datatype *type)
{
    int size;
    MPI_Aint lb, extent;
    MPI_Type_size(*type, &size);
    MPI_Type_get_extent(*type, &lb, &extent);
    calls_in_this_thread++;
    errno = 0;
    if (size != (int)sizeof(int) || extent != (MPI_Aint)sizeof(int))
        return;
    for (int i = 0; i < *len; i++)
        ((int *)inout)[i] += ((int *)in)[i];
}

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    int rank, size;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    MPI_Op op;
    MPI_Op_create(sum_checked, 1, &op);
    int ok = 1;
    for (int round = 0; round < 50; round++) {
        int v[4] = {rank, round, 1, rank * round}, r[4];
        MPI_Allreduce(v, r, 4, MPI_INT, op, MPI_COMM_WORLD);
        int want0 = size * (size - 1) / 2;
        ok &= r[0] == want0 && r[1] == round * size && r[2] == size && r[3] == round * want0;
    }
    MPI_Op_free(&op);
    int all_ok;
    MPI_Allreduce(&ok, &all_ok, 1, MPI_INT, MPI_LAND, MPI_COMM_WORLD);
    if (rank == 0)
        printf("op_calls_mpi: %s\n", all_ok ? "OK" : "FAIL");
    if (size > 1 && calls_in_this_thread == 0 && rank == 0)
        printf("op_calls_mpi: the user op never ran on rank 0\n");
    MPI_Finalize();
    return !all_ok;
}

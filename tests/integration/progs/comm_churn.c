/* Communicators made and freed in a loop, more of them than MPI has
 * context ids (MPICH: 2048): MANA keeps the record of each one made by a
 * collective call (record_log.c), and a restart makes each again, so it
 * must free each again as soon as nothing later is made from it, not
 * after all of them.
 *
 * Every rank makes and frees MADE communicators (MPI_Comm_dup and
 * MPI_Comm_split in turn, an MPI_Allreduce on each), then keeps one,
 * KEPT, duplicated from a parent that it frees at once. It prints
 * "ready", then takes STEPS steps of an MPI_Allreduce on KEPT and on
 * MPI_COMM_WORLD, 20 ms apart, for a checkpoint to come in between;
 * rank 0 prints "result ok" when every sum was right.
 * Usage: comm_churn [MADE [STEPS]] */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    int made = argc > 1 ? atoi(argv[1]) : 3000, steps = argc > 2 ? atoi(argv[2]) : 200;
    int rank, size, wrong = 0;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    for (int i = 0; i < made; i++) {
        MPI_Comm c;
        if (i % 2)
            MPI_Comm_split(MPI_COMM_WORLD, rank % 2, -rank, &c);
        else
            MPI_Comm_dup(MPI_COMM_WORLD, &c);
        int n, one = 1;
        MPI_Comm_size(c, &n);
        int sum = 0;
        MPI_Allreduce(&one, &sum, 1, MPI_INT, MPI_SUM, c);
        wrong += sum != n;
        MPI_Comm_free(&c);
    }
    MPI_Comm parent, kept;
    MPI_Comm_dup(MPI_COMM_WORLD, &parent);
    MPI_Comm_dup(parent, &kept);
    MPI_Comm_free(&parent);
    if (rank == 0) {
        printf("made and freed %d communicators; ready\n", made);
        fflush(stdout);
    }
    for (int s = 0; s < steps; s++) {
        int mine = rank + s, sum = 0, world = 0;
        MPI_Allreduce(&mine, &sum, 1, MPI_INT, MPI_SUM, kept);
        MPI_Allreduce(&mine, &world, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
        int want = size * (size - 1) / 2 + size * s;
        wrong += (sum != want) + (world != want);
        usleep(20000);
    }
    MPI_Comm_free(&kept);
    int all_wrong = 0;
    MPI_Allreduce(&wrong, &all_wrong, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
    if (rank == 0)
        printf("result %s\n", all_wrong == 0 ? "ok" : "wrong");
    MPI_Finalize();
    return 0;
}

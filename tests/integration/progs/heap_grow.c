/* A heap that grows after a restart. MANA's guard page makes every brk
 * fail, so glibc's malloc takes its memory from mmap; a restarted rank
 * runs in a new process whose break lies elsewhere, and the upper
 * glibc's cached break must follow it, or its sbrk takes the new break
 * for success and hands out memory at the old address.
 *
 * Each of STEPS steps (20 ms apart, an MPI_Allreduce each) allocates
 * 64 blocks of 1000 bytes (below the mmap threshold: the main arena
 * grows), fills them, and checks that the break glibc caches (sbrk(0))
 * is the kernel's. At the end every block is checked; rank 0 prints
 * "result ok" or what was wrong. Rank 0 prints "ready" when it starts.
 * Usage: heap_grow [STEPS] */
#define _GNU_SOURCE
#include <mpi.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

enum { PER_STEP = 64, BLOCK = 1000 };

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    int steps = argc > 1 ? atoi(argv[1]) : 300, rank;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    unsigned char **blocks = malloc((size_t)steps * PER_STEP * sizeof *blocks);
    int break_wrong = 0, data_wrong = 0;
    if (rank == 0) {
        printf("ready\n");
        fflush(stdout);
    }
    for (int s = 0; s < steps; s++) {
        for (int k = 0; k < PER_STEP; k++) {
            unsigned char *b = malloc(BLOCK);
            memset(b, (s * PER_STEP + k) & 0xff, BLOCK);
            blocks[s * PER_STEP + k] = b;
        }
        break_wrong += sbrk(0) != (void *)syscall(SYS_brk, 0);
        int one = 1, sum = 0;
        MPI_Allreduce(&one, &sum, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
        usleep(20000);
    }
    for (int i = 0; i < steps * PER_STEP; i++) {
        for (int j = 0; j < BLOCK; j++)
            data_wrong += blocks[i][j] != (i & 0xff);
        free(blocks[i]);
    }
    free(blocks);
    int wrong[2] = {break_wrong, data_wrong}, all[2];
    MPI_Reduce(wrong, all, 2, MPI_INT, MPI_SUM, 0, MPI_COMM_WORLD);
    if (rank == 0) {
        if (all[0] == 0 && all[1] == 0)
            printf("result ok\n");
        else
            printf("result wrong: %d steps with another break than the kernel's, %d bytes changed\n", all[0],
                   all[1]);
    }
    MPI_Finalize();
    return 0;
}

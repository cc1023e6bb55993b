/* A communicator id that comes back for another communicator. MANA's
 * ids come back after 16 reuses of their slot (virtual_ids.h); MANA keeps
 * per-communicator counts and members under the id, and must not take
 * an old communicator's for a new one's.
 *
 * Rank 0 makes, uses and frees communicators of itself alone until an
 * id comes back; then every rank splits the world and scatters 24000
 * bytes per rank on the new communicator. MANA precedes such an
 * MPI_Scatter with a barrier when its ghost would be over 64 KiB: on 2
 * ranks it would be (2 + 1) x 24000 bytes, on 1 rank 2 x 24000 bytes.
 * Rank 0, had it taken the old one-member communicator's entry for the
 * new one, would skip the barrier the other rank takes, and the job
 * would hang or fail. Rank 0 prints how many communicators it made
 * until an id came back and "result ok" when every rank got its block.
 * Usage: comm_recycle (2 ranks or more) */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { MAX_MADE = 5000, BLOCK = 24000 };

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    int rank, size;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    int made = 0;
    if (rank == 0) {
        MPI_Comm *seen = malloc(MAX_MADE * sizeof *seen);
        int back = 0;
        while (!back && made < MAX_MADE) {
            MPI_Comm c;
            MPI_Comm_dup(MPI_COMM_SELF, &c);
            for (int k = 0; k < made && !back; k++)
                back = seen[k] == c;
            seen[made++] = c;
            MPI_Barrier(c); /* MANA makes its entry for it here */
            MPI_Comm_free(&c);
        }
        printf("an id came back after %d communicators%s\n", made, made == MAX_MADE ? " (none did)" : "");
        free(seen);
    }
    MPI_Comm all;
    MPI_Comm_split(MPI_COMM_WORLD, 0, rank, &all);
    char *blocks = malloc((size_t)size * BLOCK), mine[BLOCK];
    for (int r = 0; r < size; r++)
        memset(blocks + (size_t)r * BLOCK, 'a' + r, BLOCK);
    MPI_Scatter(blocks, BLOCK, MPI_CHAR, mine, BLOCK, MPI_CHAR, 0, all);
    int wrong = 0;
    for (int i = 0; i < BLOCK; i++)
        wrong += mine[i] != 'a' + rank;
    int all_wrong = 0;
    MPI_Allreduce(&wrong, &all_wrong, 1, MPI_INT, MPI_SUM, all);
    if (rank == 0)
        printf("result %s\n", all_wrong == 0 ? "ok" : "wrong");
    MPI_Comm_free(&all);
    free(blocks);
    MPI_Finalize();
    return all_wrong != 0;
}

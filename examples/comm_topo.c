/*
 * comm_topo.c - communicators and virtual topologies: MPI_Comm_split into
 * even/odd halves, MPI_Comm_dup, a periodic 2-D cartesian communicator built
 * with MPI_Dims_create/MPI_Cart_create, neighbour lookup with MPI_Cart_coords
 * and MPI_Cart_shift, and a halo exchange of a small per-rank grid with
 * MPI_Sendrecv, using an MPI_Type_vector for the strided columns.  All derived
 * communicators and the datatype are freed again.  Communicators and
 * datatypes are opaque handles created by the MPI library, so a
 * checkpoint/restart system must recreate them (in the right order) after a
 * restart; this example makes every one of them carry traffic.
 *
 * Build: mpicc.mpich -std=gnu11 -O2 -Wall -Wextra -Werror comm_topo.c -o comm_topo
 */
#include <mpi.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NAME "comm_topo"
#include "example_check.h"
#define NX 6 /* interior rows per rank */
#define NY 8 /* interior columns per rank */

static int mod(int a, int m)
{
    return ((a % m) + m) % m;
}

/* The value every cell of the global (periodic) grid should hold. */
static int cell(int grow, int gcol, int gx, int gy)
{
    return mod(grow, gx) * 1000 + mod(gcol, gy);
}

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    int rank, size;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);

    /* Even/odd split; the key keeps the world order inside each half. */
    MPI_Comm half;
    MPI_Comm_split(MPI_COMM_WORLD, rank % 2, rank, &half);
    int hrank, hsize;
    MPI_Comm_rank(half, &hrank);
    MPI_Comm_size(half, &hsize);
    int want_hsize = rank % 2 == 0 ? (size + 1) / 2 : size / 2;
    check(hsize == want_hsize, "split: size %d want %d", hsize, want_hsize);
    check(hrank == rank / 2, "split: rank %d want %d", hrank, rank / 2);
    int hsum = -1;
    MPI_Allreduce(&rank, &hsum, 1, MPI_INT, MPI_SUM, half);
    int want_hsum = 0;
    for (int r = rank % 2; r < size; r += 2)
        want_hsum += r;
    check(hsum == want_hsum, "split: allreduce %d want %d", hsum, want_hsum);

    /* The cartesian communicator is derived from a duplicate, so that the
     * topology is two levels away from MPI_COMM_WORLD. */
    MPI_Comm dup;
    MPI_Comm_dup(MPI_COMM_WORLD, &dup);
    int dsize, drank;
    MPI_Comm_size(dup, &dsize);
    MPI_Comm_rank(dup, &drank);
    check(dsize == size && drank == rank, "dup: rank %d size %d", drank, dsize);
    int dmax = -1;
    MPI_Allreduce(&rank, &dmax, 1, MPI_INT, MPI_MAX, dup);
    check(dmax == size - 1, "dup: allreduce max %d", dmax);

    int dims[2] = { 0, 0 }, periods[2] = { 1, 1 };
    MPI_Dims_create(size, 2, dims);
    check(dims[0] * dims[1] == size && dims[0] >= dims[1],
          "dims_create: %d x %d", dims[0], dims[1]);
    /* No reordering, so that the expected neighbours can be computed from
     * the row-major numbering the standard prescribes. */
    MPI_Comm cart;
    MPI_Cart_create(dup, 2, dims, periods, 0, &cart);
    int crank;
    MPI_Comm_rank(cart, &crank);
    int coords[2];
    MPI_Cart_coords(cart, crank, 2, coords);
    check(coords[0] == crank / dims[1] && coords[1] == crank % dims[1],
          "cart_coords: (%d,%d) for rank %d", coords[0], coords[1], crank);

    int up, down, left, right;
    MPI_Cart_shift(cart, 0, 1, &up, &down);
    MPI_Cart_shift(cart, 1, 1, &left, &right);
    int want_up = mod(coords[0] - 1, dims[0]) * dims[1] + coords[1];
    int want_down = mod(coords[0] + 1, dims[0]) * dims[1] + coords[1];
    int want_left = coords[0] * dims[1] + mod(coords[1] - 1, dims[1]);
    int want_right = coords[0] * dims[1] + mod(coords[1] + 1, dims[1]);
    check(up == want_up && down == want_down && left == want_left && right == want_right,
          "cart_shift: u%d d%d l%d r%d", up, down, left, right);

    /* Local grid with one halo cell on each side, row-major. */
    const int gx = dims[0] * NX, gy = dims[1] * NY;
    const int ld = NY + 2;
    int grid[(NX + 2) * (NY + 2)];
    for (int i = 0; i < (NX + 2) * ld; i++)
        grid[i] = -1;
    for (int i = 1; i <= NX; i++)
        for (int j = 1; j <= NY; j++)
            grid[i * ld + j] = cell(coords[0] * NX + i - 1, coords[1] * NY + j - 1, gx, gy);

    MPI_Datatype column;
    MPI_Type_vector(NX, 1, ld, MPI_INT, &column);
    MPI_Type_commit(&column);

    /* Rows are contiguous; columns go through the vector type.  Tags
     * distinguish directions because with a 2x1 or 1xN layout the same
     * neighbour sits on both sides. */
    MPI_Sendrecv(&grid[1 * ld + 1], NY, MPI_INT, up, 1,
                 &grid[(NX + 1) * ld + 1], NY, MPI_INT, down, 1, cart, MPI_STATUS_IGNORE);
    MPI_Sendrecv(&grid[NX * ld + 1], NY, MPI_INT, down, 2,
                 &grid[0 * ld + 1], NY, MPI_INT, up, 2, cart, MPI_STATUS_IGNORE);
    MPI_Sendrecv(&grid[1 * ld + 1], 1, column, left, 3,
                 &grid[1 * ld + NY + 1], 1, column, right, 3, cart, MPI_STATUS_IGNORE);
    MPI_Sendrecv(&grid[1 * ld + NY], 1, column, right, 4,
                 &grid[1 * ld + 0], 1, column, left, 4, cart, MPI_STATUS_IGNORE);

    long long halo_sum = 0;
    int bad = 0;
    for (int i = 0; i <= NX + 1; i++)
        for (int j = 0; j <= NY + 1; j++) {
            int is_corner = (i == 0 || i == NX + 1) && (j == 0 || j == NY + 1);
            int is_halo = i == 0 || i == NX + 1 || j == 0 || j == NY + 1;
            int want = is_corner ? -1
                                 : cell(coords[0] * NX + i - 1, coords[1] * NY + j - 1, gx, gy);
            if (grid[i * ld + j] != want) {
                if (!bad)
                    check(0, "halo: cell (%d,%d) = %d want %d", i, j, grid[i * ld + j], want);
                bad++;
            }
            if (is_halo && !is_corner)
                halo_sum += grid[i * ld + j];
        }

    MPI_Type_free(&column);
    MPI_Comm_free(&cart);
    MPI_Comm_free(&dup);
    MPI_Comm_free(&half);
    check(cart == MPI_COMM_NULL && dup == MPI_COMM_NULL && half == MPI_COMM_NULL &&
          column == MPI_DATATYPE_NULL, "free: handles not reset");

    long long mine[5] = { coords[0], coords[1], hrank, hsum, halo_sum };
    long long *all = rank == 0 ? malloc(sizeof mine * (size_t)size) : NULL;
    MPI_Gather(mine, 5, MPI_LONG_LONG, all, 5, MPI_LONG_LONG, 0, MPI_COMM_WORLD);
    if (rank == 0) {
        printf("comm_topo on %d ranks: cartesian grid %d x %d, global %d x %d cells\n",
               size, dims[0], dims[1], gx, gy);
        for (int r = 0; r < size; r++)
            printf("rank %d: coords (%lld,%lld) half %s rank %lld sum %lld halo checksum %lld\n",
                   r, all[5 * r], all[5 * r + 1], r % 2 ? "odd" : "even", all[5 * r + 2],
                   all[5 * r + 3], all[5 * r + 4]);
        free(all);
    }

    int rc = finish(rank, size);
    MPI_Finalize();
    return rc;
}

/*
 * ring.c - point-to-point traffic around a ring of ranks: non-blocking
 * small (eager) and 4 MiB (rendezvous) messages completed with MPI_Waitall,
 * plus one MPI_Sendrecv, one MPI_Probe/MPI_Get_count of a message whose
 * length the receiver does not know in advance, an MPI_Sendrecv_replace of
 * a strided vector, and an MPI_Mprobe/MPI_Mrecv from any source.  Large messages exercise the
 * rendezvous protocol, which keeps in-flight state inside the MPI library -
 * exactly the state a checkpoint must drain or preserve.
 *
 * Build: mpicc.mpich -std=gnu11 -O2 -Wall -Wextra -Werror ring.c -o ring
 */
#include <mpi.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NAME "ring"
#include "example_check.h"
#define SMALL_ITERS 50
#define LARGE_ITERS 8
#define LARGE_BYTES (4u << 20)
#define LARGE_N (LARGE_BYTES / sizeof(uint32_t))

/* Depends on sender and iteration so that a stale or misrouted buffer is
 * detected, not just a missing one. */
static inline uint32_t pattern(int sender, int iter, uint32_t i)
{
    uint32_t x = (uint32_t)sender * 2654435761u ^ (uint32_t)iter * 40503u;
    return x + i * 2246822519u;
}

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    int rank, size;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    const int right = (rank + 1) % size;
    const int left = (rank + size - 1) % size;

    /* Small messages in both directions at once. */
    long small_sum = 0;
    for (int it = 0; it < SMALL_ITERS; it++) {
        int out[2] = { rank * 1000 + it, -(rank * 1000 + it) };
        int in[2] = { -1, -1 };
        MPI_Request req[4];
        MPI_Irecv(&in[0], 1, MPI_INT, left, 1, MPI_COMM_WORLD, &req[0]);
        MPI_Irecv(&in[1], 1, MPI_INT, right, 2, MPI_COMM_WORLD, &req[1]);
        MPI_Isend(&out[0], 1, MPI_INT, right, 1, MPI_COMM_WORLD, &req[2]);
        MPI_Isend(&out[1], 1, MPI_INT, left, 2, MPI_COMM_WORLD, &req[3]);
        MPI_Waitall(4, req, MPI_STATUSES_IGNORE);
        check(in[0] == left * 1000 + it, "small iter %d: got %d from left", it, in[0]);
        check(in[1] == -(right * 1000 + it), "small iter %d: got %d from right", it, in[1]);
        small_sum += in[0] - in[1];
    }

    /* Large messages: one direction, fresh pattern every iteration. */
    uint32_t *sbuf = malloc(LARGE_BYTES);
    uint32_t *rbuf = malloc(LARGE_BYTES);
    if (!sbuf || !rbuf) {
        fprintf(stderr, "out of memory\n");
        MPI_Abort(MPI_COMM_WORLD, 2);
    }
    uint64_t large_sum = 0;
    for (int it = 0; it < LARGE_ITERS; it++) {
        for (uint32_t i = 0; i < LARGE_N; i++)
            sbuf[i] = pattern(rank, it, i);
        memset(rbuf, 0xff, LARGE_BYTES);
        MPI_Request req[2];
        MPI_Status st[2];
        MPI_Irecv(rbuf, (int)LARGE_N, MPI_UINT32_T, left, 10 + it, MPI_COMM_WORLD, &req[0]);
        MPI_Isend(sbuf, (int)LARGE_N, MPI_UINT32_T, right, 10 + it, MPI_COMM_WORLD, &req[1]);
        MPI_Waitall(2, req, st);
        check(st[0].MPI_SOURCE == left && st[0].MPI_TAG == 10 + it,
              "large iter %d: status source %d tag %d", it, st[0].MPI_SOURCE, st[0].MPI_TAG);
        uint32_t bad = 0;
        for (uint32_t i = 0; i < LARGE_N; i++) {
            if (rbuf[i] != pattern(left, it, i))
                bad++;
            large_sum += rbuf[i];
        }
        check(bad == 0, "large iter %d: %u corrupted words", it, bad);
    }
    free(sbuf);
    free(rbuf);

    /* One blocking combined exchange. */
    long sr_out = 7L * rank + 3, sr_in = -1;
    MPI_Sendrecv(&sr_out, 1, MPI_LONG, right, 100, &sr_in, 1, MPI_LONG, left, 100,
                 MPI_COMM_WORLD, MPI_STATUS_IGNORE);
    check(sr_in == 7L * left + 3, "sendrecv: got %ld", sr_in);

    /* The receiver learns the length only from the probe. */
    int plen = 5 * (rank + 1);
    int *pout = malloc(sizeof(int) * (size_t)plen);
    for (int i = 0; i < plen; i++)
        pout[i] = rank * 100 + i;
    MPI_Request preq;
    MPI_Isend(pout, plen, MPI_INT, right, 200, MPI_COMM_WORLD, &preq);
    MPI_Status pst;
    MPI_Probe(MPI_ANY_SOURCE, 200, MPI_COMM_WORLD, &pst);
    int count = -1;
    MPI_Get_count(&pst, MPI_INT, &count);
    check(pst.MPI_SOURCE == left, "probe: source %d", pst.MPI_SOURCE);
    check(count == 5 * (left + 1), "probe: count %d", count);
    int *pin = malloc(sizeof(int) * (size_t)(count > 0 ? count : 1));
    MPI_Recv(pin, count, MPI_INT, pst.MPI_SOURCE, 200, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
    long probe_sum = 0;
    for (int i = 0; i < count; i++) {
        check(pin[i] == left * 100 + i, "probe: element %d is %d", i, pin[i]);
        probe_sum += pin[i];
    }
    MPI_Wait(&preq, MPI_STATUS_IGNORE);
    free(pout);
    free(pin);

    /* Every other element of a buffer goes right and comes back from the
     * left in place; the elements between stay as they were. */
    enum { STRIDED = 64 };
    long grid[2 * STRIDED];
    for (int i = 0; i < 2 * STRIDED; i++)
        grid[i] = (i % 2 == 0) ? 1000L * rank + i : -i;
    MPI_Datatype every_other;
    MPI_Type_vector(STRIDED, 1, 2, MPI_LONG, &every_other);
    MPI_Type_commit(&every_other);
    MPI_Sendrecv_replace(grid, 1, every_other, right, 300, left, 300, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
    MPI_Type_free(&every_other);
    long replace_sum = 0;
    for (int i = 0; i < 2 * STRIDED; i++) {
        long want = (i % 2 == 0) ? 1000L * left + i : -i;
        check(grid[i] == want, "sendrecv_replace: element %d is %ld", i, grid[i]);
        replace_sum += grid[i];
    }

    /* A matched probe from any source, then its receive. */
    int mout[3] = {rank, rank * rank, -rank}, min[3] = {0, 0, 0};
    MPI_Request mreq;
    MPI_Isend(mout, 3, MPI_INT, right, 400, MPI_COMM_WORLD, &mreq);
    MPI_Message msg;
    MPI_Status mst;
    MPI_Mprobe(MPI_ANY_SOURCE, 400, MPI_COMM_WORLD, &msg, &mst);
    check(mst.MPI_SOURCE == left, "mprobe: source %d", mst.MPI_SOURCE);
    MPI_Mrecv(min, 3, MPI_INT, &msg, MPI_STATUS_IGNORE);
    check(msg == MPI_MESSAGE_NULL, "mrecv: the message handle was not set to MPI_MESSAGE_NULL");
    check(min[0] == left && min[1] == left * left && min[2] == -left, "mrecv: got %d %d %d", min[0], min[1],
          min[2]);
    MPI_Wait(&mreq, MPI_STATUS_IGNORE);

    /* Gather the per-rank checksums so that the output shows real data. */
    unsigned long long mine[6] = { (unsigned long long)small_sum, large_sum,
                                   (unsigned long long)sr_in, (unsigned long long)probe_sum,
                                   (unsigned long long)replace_sum, (unsigned long long)(min[0] + min[1]) };
    unsigned long long *all = NULL;
    if (rank == 0)
        all = malloc(sizeof mine * (size_t)size);
    MPI_Gather(mine, 6, MPI_UNSIGNED_LONG_LONG, all, 6, MPI_UNSIGNED_LONG_LONG, 0, MPI_COMM_WORLD);
    if (rank == 0) {
        printf("ring of %d ranks: %d small, %d x %u-byte messages per rank\n",
               size, SMALL_ITERS, LARGE_ITERS, LARGE_BYTES);
        for (int r = 0; r < size; r++)
            printf("rank %d: small %lld large %llu sendrecv %lld probe %lld replace %lld mprobe %lld\n", r,
                   (long long)all[6 * r], all[6 * r + 1], (long long)all[6 * r + 2], (long long)all[6 * r + 3],
                   (long long)all[6 * r + 4], (long long)all[6 * r + 5]);
        free(all);
    }

    int rc = finish(rank, size);
    MPI_Finalize();
    return rc;
}

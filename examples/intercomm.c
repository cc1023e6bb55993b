/*
 * intercomm.c - inter-communicators: MPI_COMM_WORLD is split into a lower
 * and an upper half, MPI_Intercomm_create joins them (leaders: world rank 0
 * and the first rank of the upper half), MPI_Comm_test_inter and
 * MPI_Comm_remote_size/remote group describe it, point-to-point messages
 * cross it in both directions, MPI_Intercomm_merge builds an
 * intra-communicator (upper half first) and an MPI_Allreduce runs on that.
 * A checkpoint/restart system must recreate the inter-communicator and the
 * merged communicator from their parents.  Needs at least 2 ranks.
 *
 * Build: mpicc.mpich -std=gnu11 -O2 -Wall -Wextra -Werror intercomm.c -o intercomm
 */
#include <mpi.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NAME "intercomm"
#include "example_check.h"

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    int rank, size;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    if (size < 2) {
        if (rank == 0)
            printf("%s: needs at least 2 ranks\n", NAME);
        MPI_Finalize();
        return 1;
    }

    int nlow = size / 2, nhigh = size - nlow;
    int upper = rank >= nlow;
    MPI_Comm half;
    MPI_Comm_split(MPI_COMM_WORLD, upper, rank, &half);
    int hr, hs;
    MPI_Comm_rank(half, &hr);
    MPI_Comm_size(half, &hs);
    check(hs == (upper ? nhigh : nlow) && hr == (upper ? rank - nlow : rank),
          "half rank %d size %d", hr, hs);

    int flag = -1;
    MPI_Comm_test_inter(half, &flag);
    check(!flag, "half reported as inter-communicator");

    MPI_Comm inter;
    MPI_Intercomm_create(half, 0, MPI_COMM_WORLD, upper ? 0 : nlow, 42, &inter);
    MPI_Comm_test_inter(inter, &flag);
    check(flag, "intercomm not reported as inter-communicator");
    int ir, is, irs;
    MPI_Comm_rank(inter, &ir);
    MPI_Comm_size(inter, &is);
    MPI_Comm_remote_size(inter, &irs);
    check(ir == hr && is == hs && irs == (upper ? nlow : nhigh),
          "intercomm rank %d size %d remote %d", ir, is, irs);

    /* Remote group holds the other half's world ranks. */
    MPI_Group rg, wg;
    MPI_Comm_remote_group(inter, &rg);
    MPI_Comm_group(MPI_COMM_WORLD, &wg);
    for (int i = 0; i < irs; i++) {
        int w = -1;
        MPI_Group_translate_ranks(rg, 1, &i, wg, &w);
        check(w == (upper ? i : nlow + i), "remote group member %d is world %d", i, w);
    }
    MPI_Group_free(&rg);
    MPI_Group_free(&wg);

    /* Point-to-point: lower rank i talks with remote rank i % nhigh, and
     * every upper rank j < nlow replies to remote rank j. */
    long checksum = 0;
    if (!upper) {
        int msg[4] = { rank, rank * 3, 77, -rank };
        MPI_Send(msg, 4, MPI_INT, hr % nhigh, 5, inter);
        int back[2];
        MPI_Status stt;
        MPI_Recv(back, 2, MPI_INT, MPI_ANY_SOURCE, 6, inter, &stt);
        check(stt.MPI_SOURCE == hr && back[0] == nlow + hr && back[1] == 2 * hr,
              "reply from %d: %d %d", stt.MPI_SOURCE, back[0], back[1]);
        checksum += back[0] + back[1];
    } else {
        /* Count how many lower ranks map to me. */
        for (int i = 0; i < nlow; i++) {
            if (i % nhigh != hr)
                continue;
            int msg[4];
            MPI_Status stt;
            MPI_Recv(msg, 4, MPI_INT, i, 5, inter, &stt);
            check(stt.MPI_SOURCE == i && msg[0] == i && msg[1] == 3 * i && msg[2] == 77 && msg[3] == -i,
                  "message from %d: %d %d %d %d", stt.MPI_SOURCE, msg[0], msg[1], msg[2], msg[3]);
            checksum += msg[0] + msg[1] + msg[2] + msg[3];
        }
        if (hr < nlow) {
            int back[2] = { rank, 2 * hr };
            MPI_Send(back, 2, MPI_INT, hr, 6, inter);
        }
    }

    /* Merge with the upper half first (high = 0 on the upper side). */
    MPI_Comm merged;
    MPI_Intercomm_merge(inter, upper ? 0 : 1, &merged);
    MPI_Comm_test_inter(merged, &flag);
    check(!flag, "merged reported as inter-communicator");
    int mr, ms;
    MPI_Comm_rank(merged, &mr);
    MPI_Comm_size(merged, &ms);
    check(ms == size && mr == (upper ? rank - nlow : nhigh + rank), "merged rank %d size %d", mr, ms);
    long v[2] = { rank, (long)mr * mr }, s[2];
    MPI_Allreduce(v, s, 2, MPI_LONG, MPI_SUM, merged);
    long want1 = 0;
    for (int i = 0; i < size; i++)
        want1 += (long)i * i;
    check(s[0] == (long)size * (size - 1) / 2 && s[1] == want1, "merged allreduce %ld %ld", s[0], s[1]);

    long total = 0;
    MPI_Reduce(&checksum, &total, 1, MPI_LONG, MPI_SUM, 0, merged);
    /* Root 0 of merged is world rank nlow: send the result to world rank 0. */
    if (mr == 0)
        MPI_Send(&total, 1, MPI_LONG, 0, 9, MPI_COMM_WORLD);
    if (rank == 0) {
        MPI_Recv(&total, 1, MPI_LONG, nlow, 9, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
        printf("intercomm on %d ranks: halves %d + %d, p2p checksum %ld, merged sums %ld %ld\n",
               size, nlow, nhigh, total, s[0], s[1]);
    }

    MPI_Comm_free(&merged);
    MPI_Comm_free(&inter);
    MPI_Comm_free(&half);

    int rc = finish(rank, size);
    MPI_Finalize();
    return rc;
}

/*
 * stress_drain.c - every collective of this program is passed with
 * point-to-point traffic half done, so that a checkpoint taken there must
 * drain it: receives posted before the collective whose messages are sent
 * only after it (MPI_Irecv with a fixed source and with MPI_ANY_SOURCE, a
 * started MPI_Recv_init), messages sent before it and received only after
 * it (two small eager ones whose order must be kept, and a 1 MiB one that
 * goes by rendezvous), a message matched by MPI_Mprobe before it and
 * received by MPI_Mrecv after it, a message of 4 ints received after it
 * as one vector of 2 x 3 ints (a receive it fills only in part), and a
 * nonblocking barrier pending across it. After
 * the collective the messages are taken in turn by MPI_Recv, by
 * MPI_Probe + MPI_Recv, by MPI_Mprobe + MPI_Mrecv and by an MPI_Iprobe
 * loop. Every value, source, tag and count is checked.
 *
 * The output does not depend on the number of ranks (2 to 4).
 *
 * Build: mpicc.mpich -std=gnu11 -O2 -Wall -Wextra -Werror stress_drain.c -o stress_drain
 */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NAME "stress_drain"
#include "../../examples/example_check.h"

enum {
    ITERS = 30,
    SMALL = 64,          /* ints: eager */
    BIG = 256 * 1024,    /* ints: 1 MiB, rendezvous */
    TAG_LATE = 100,      /* + it % 3: sent after the collective, received by a receive posted before */
    TAG_ANY = 7,         /* the same, to a receive of MPI_ANY_SOURCE on the duplicate */
    TAG_PERSISTENT = 9,  /* the same, to a started persistent receive */
    TAG_EARLY = 5,       /* two small messages sent before the collective, received after */
    TAG_BIG = 6,         /* 1 MiB sent before the collective, received after */
    TAG_MATCHED = 8,     /* matched by MPI_Mprobe before the collective, received by MPI_Mrecv after */
    TAG_PARTIAL = 10,    /* 4 ints sent before the collective, received after into part of a vector */
};

static int val(int src, int it, int ch, int j)
{
    return src * 1000003 + it * 131 + ch * 7919 + j;
}

static void fill(int *buf, int n, int src, int it, int ch)
{
    for (int j = 0; j < n; j++)
        buf[j] = val(src, it, ch, j);
}

static int check_buf(const int *buf, int n, int src, int it, int ch)
{
    for (int j = 0; j < n; j++)
        if (buf[j] != val(src, it, ch, j))
            return 0;
    return 1;
}

static void check_status(const MPI_Status *st, int source, int tag, int ints, int it, const char *what)
{
    int count = -1;
    MPI_Get_count(st, MPI_INT, &count);
    check(st->MPI_SOURCE == source && st->MPI_TAG == tag && count == ints,
          "it %d: %s: status source %d tag %d count %d, expected %d %d %d", it, what, st->MPI_SOURCE, st->MPI_TAG,
          count, source, tag, ints);
}

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    int rank, size;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    const int right = (rank + 1) % size, left = (rank + size - 1) % size;
    MPI_Comm dup;
    MPI_Comm_dup(MPI_COMM_WORLD, &dup);

    int *late_in = malloc(SMALL * sizeof(int)), *late_out = malloc(SMALL * sizeof(int));
    int *any_in = malloc(SMALL * sizeof(int)), *any_out = malloc(SMALL * sizeof(int));
    int *pers_in = malloc(SMALL * sizeof(int)), *pers_out = malloc(SMALL * sizeof(int));
    int *early_out[2] = {malloc(SMALL * sizeof(int)), malloc(SMALL * sizeof(int))};
    int *early_in = malloc(SMALL * sizeof(int));
    int *matched_out = malloc(SMALL * sizeof(int)), *matched_in = malloc(SMALL * sizeof(int));
    int *big_out = malloc(BIG * sizeof(int)), *big_in = malloc(BIG * sizeof(int));
    if (!late_in || !late_out || !any_in || !any_out || !pers_in || !pers_out || !early_out[0] || !early_out[1] ||
        !early_in || !big_out || !big_in || !matched_out || !matched_in)
        check(0, "out of memory");
    MPI_Datatype vector; /* 2 blocks of 3 ints, 5 apart */
    MPI_Type_vector(2, 3, 5, MPI_INT, &vector);
    MPI_Type_commit(&vector);
    int partial_out[4], partial_in[8];
    MPI_Request persistent;
    MPI_Recv_init(pers_in, SMALL, MPI_INT, left, TAG_PERSISTENT, MPI_COMM_WORLD, &persistent);

    long long checked = 0;
    for (int it = 0; it < ITERS; it++) {
        /* Before the collective: receives whose messages come after it,
         * messages whose receives come after it, and a nonblocking barrier. */
        MPI_Request pending[9];
        int np = 0;
        MPI_Irecv(late_in, SMALL, MPI_INT, left, TAG_LATE + it % 3, MPI_COMM_WORLD, &pending[np++]);
        MPI_Irecv(any_in, SMALL, MPI_INT, MPI_ANY_SOURCE, TAG_ANY, dup, &pending[np++]);
        MPI_Start(&persistent);
        for (int k = 0; k < 2; k++) {
            fill(early_out[k], SMALL, rank, it, 10 + k);
            MPI_Isend(early_out[k], SMALL, MPI_INT, right, TAG_EARLY, MPI_COMM_WORLD, &pending[np++]);
        }
        fill(big_out, BIG, rank, it, 20);
        MPI_Isend(big_out, BIG, MPI_INT, left, TAG_BIG, dup, &pending[np++]);
        MPI_Ibarrier(dup, &pending[np++]);
        fill(matched_out, SMALL, rank, it, 30);
        MPI_Isend(matched_out, SMALL, MPI_INT, right, TAG_MATCHED, dup, &pending[np++]);
        fill(partial_out, 4, rank, it, 40);
        MPI_Isend(partial_out, 4, MPI_INT, right, TAG_PARTIAL, MPI_COMM_WORLD, &pending[np++]);
        MPI_Message matched;
        MPI_Status mst;
        if (it % 2 == 0) {
            MPI_Mprobe(left, TAG_MATCHED, dup, &matched, &mst);
        } else {
            int flag = 0;
            while (!flag)
                MPI_Improbe(MPI_ANY_SOURCE, TAG_MATCHED, dup, &flag, &matched, &mst);
        }

        /* The collectives a checkpoint can come at. */
        MPI_Barrier(MPI_COMM_WORLD);
        int one = 1, all = 0;
        MPI_Allreduce(&one, &all, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
        check(all == size, "it %d: allreduce gave %d", it, all);

        /* After: the messages the early receives wait for. */
        fill(late_out, SMALL, rank, it, 1);
        MPI_Send(late_out, SMALL, MPI_INT, right, TAG_LATE + it % 3, MPI_COMM_WORLD);
        fill(any_out, SMALL, rank, it, 2);
        MPI_Send(any_out, SMALL, MPI_INT, left, TAG_ANY, dup);
        fill(pers_out, SMALL, rank, it, 3);
        MPI_Send(pers_out, SMALL, MPI_INT, right, TAG_PERSISTENT, MPI_COMM_WORLD);

        /* The messages sent before, taken in MPI's order, in four ways. */
        MPI_Status st;
        for (int k = 0; k < 2; k++) {
            switch ((it + k) % 4) {
            case 0:
                MPI_Recv(early_in, SMALL, MPI_INT, left, TAG_EARLY, MPI_COMM_WORLD, &st);
                break;
            case 1:
                MPI_Probe(MPI_ANY_SOURCE, TAG_EARLY, MPI_COMM_WORLD, &st);
                MPI_Recv(early_in, SMALL, MPI_INT, st.MPI_SOURCE, st.MPI_TAG, MPI_COMM_WORLD, &st);
                break;
            case 2: {
                MPI_Message msg;
                MPI_Mprobe(left, MPI_ANY_TAG, MPI_COMM_WORLD, &msg, &st);
                MPI_Mrecv(early_in, SMALL, MPI_INT, &msg, &st);
                break;
            }
            default: {
                int flag = 0;
                while (!flag)
                    MPI_Iprobe(left, TAG_EARLY, MPI_COMM_WORLD, &flag, &st);
                MPI_Recv(early_in, SMALL, MPI_INT, left, TAG_EARLY, MPI_COMM_WORLD, &st);
                break;
            }
            }
            check_status(&st, left, TAG_EARLY, SMALL, it, "early message");
            check(check_buf(early_in, SMALL, left, it, 10 + k), "it %d: early message %d out of order or wrong", it, k);
        }
        MPI_Mrecv(matched_in, SMALL, MPI_INT, &matched, &st);
        check_status(&st, left, TAG_MATCHED, SMALL, it, "matched message");
        check(check_buf(matched_in, SMALL, left, it, 30), "it %d: matched message", it);
        /* Elements 0-2 and 5 of the vector get the 4 ints; the rest keeps -1. */
        for (int j = 0; j < 8; j++)
            partial_in[j] = -1;
        MPI_Recv(partial_in, 1, vector, left, TAG_PARTIAL, MPI_COMM_WORLD, &st);
        int elements = -1, whole = 0;
        MPI_Get_elements(&st, vector, &elements);
        MPI_Get_count(&st, vector, &whole);
        check(elements == 4 && whole == MPI_UNDEFINED && partial_in[0] == val(left, it, 40, 0) &&
                  partial_in[2] == val(left, it, 40, 2) && partial_in[3] == -1 && partial_in[5] == val(left, it, 40, 3) &&
                  partial_in[6] == -1,
              "it %d: partial vector: %d elements, count %d, contents %d %d %d %d %d", it, elements, whole,
              partial_in[0], partial_in[2], partial_in[3], partial_in[5], partial_in[6]);
        MPI_Recv(big_in, BIG, MPI_INT, right, TAG_BIG, dup, &st);
        check_status(&st, right, TAG_BIG, BIG, it, "big message");
        check(check_buf(big_in, BIG, right, it, 20), "it %d: big message", it);

        MPI_Status sts[9];
        MPI_Waitall(np, pending, sts);
        check_status(&sts[0], left, TAG_LATE + it % 3, SMALL, it, "late receive");
        check_status(&sts[1], right, TAG_ANY, SMALL, it, "any-source receive");
        MPI_Wait(&persistent, &st);
        check_status(&st, left, TAG_PERSISTENT, SMALL, it, "persistent receive");
        check(check_buf(late_in, SMALL, left, it, 1) && check_buf(any_in, SMALL, right, it, 2) &&
                  check_buf(pers_in, SMALL, left, it, 3),
              "it %d: late messages", it);
        checked += 6 * SMALL + BIG;
    }
    MPI_Request_free(&persistent);
    MPI_Type_free(&vector);
    MPI_Comm_free(&dup);
    if (rank == 0)
        printf("%s: %d iterations, %lld ints checked per rank\n", NAME, ITERS, checked);
    int rc = finish(rank, size);
    MPI_Finalize();
    return rc;
}

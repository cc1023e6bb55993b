/*
 * stress_persistent.c - persistent point-to-point requests reused over many
 * iterations: MPI_Send_init, MPI_Ssend_init, MPI_Recv_init (one with
 * MPI_ANY_SOURCE), started with MPI_Startall or one MPI_Start at a time and
 * completed by MPI_Waitall, a Test loop or MPI_Waitany.  A 256 KiB pair
 * (rendezvous) is started only every third iteration, so some requests stay
 * inactive for a while.  Every 20 iterations all requests are freed with
 * MPI_Request_free and created again, and one request is created and freed
 * without ever being started.  Each received value is compared with the
 * sender's formula, and each status with the expected source and tag.
 *
 * The output does not depend on the number of ranks.
 *
 * Build: mpicc.mpich -std=gnu11 -O2 -Wall -Wextra -Werror stress_persistent.c -o stress_persistent
 */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NAME "stress_persistent"
#include "../../examples/example_check.h"

enum {
    ITERS = 200,
    M = 100,            /* ints in the small messages */
    BIG = 64 * 1024,    /* ints in the large message: 256 KiB */
    RENEW = 20,         /* iterations between freeing and re-creating */
    TAG_A = 11, TAG_B = 12, TAG_C = 13, TAG_D = 14,
    NREQ = 8
};

/* What rank `src` sends in iteration `it` on channel `ch`, element j. */
static int val(int src, int it, int ch, int j)
{
    return src * 1000003 + it * 31 + ch * 7919 + j;
}

/* Requests, receives first so that Startall posts them before the sends.
 * 0: from left (TAG_A)   1: from right (TAG_B)   2: any source (TAG_C)
 * 3: big from left       4: to right (TAG_A)     5: Ssend to left (TAG_B)
 * 6: to rank+2 (TAG_C)   7: big to right */
static MPI_Request req[NREQ];

static int *from_left, *from_right, any_buf[2], *big_in;
static int *to_right, *to_left, any_out[2], *big_out;

static void create(int rank, int size, int renewal)
{
    const MPI_Comm W = MPI_COMM_WORLD;
    const int right = (rank + 1) % size, left = (rank + size - 1) % size;
    MPI_Recv_init(from_left, M, MPI_INT, left, TAG_A, W, &req[0]);
    MPI_Recv_init(from_right, M, MPI_INT, right, TAG_B, W, &req[1]);
    MPI_Recv_init(any_buf, 2, MPI_INT, MPI_ANY_SOURCE, TAG_C, W, &req[2]);
    MPI_Recv_init(big_in, BIG, MPI_INT, left, TAG_D, W, &req[3]);
    MPI_Send_init(to_right, M, MPI_INT, right, TAG_A, W, &req[4]);
    MPI_Ssend_init(to_left, M, MPI_INT, left, TAG_B, W, &req[5]);
    MPI_Send_init(any_out, 2, MPI_INT, (rank + 2) % size, TAG_C, W, &req[6]);
    MPI_Send_init(big_out, BIG, MPI_INT, right, TAG_D, W, &req[7]);

    /* One request that is never started: freeing it must be harmless. */
    MPI_Request unused;
    MPI_Send_init(to_right, M, MPI_INT, right, 99 + renewal, W, &unused);
    MPI_Request_free(&unused);
    check(unused == MPI_REQUEST_NULL, "request_free of an unstarted request left it set");
}

static void destroy(void)
{
    for (int k = 0; k < NREQ; k++) {
        MPI_Request_free(&req[k]);
        check(req[k] == MPI_REQUEST_NULL, "request_free left request %d set", k);
    }
}

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    int rank, size;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    const int right = (rank + 1) % size, left = (rank + size - 1) % size;
    const int from2 = (rank + 2 * size - 2) % size;

    from_left = xmalloc(M * sizeof(int));
    from_right = xmalloc(M * sizeof(int));
    to_right = xmalloc(M * sizeof(int));
    to_left = xmalloc(M * sizeof(int));
    big_in = xmalloc(BIG * sizeof(int));
    big_out = xmalloc(BIG * sizeof(int));

    int renewals = 0;
    long completed = 0;
    create(rank, size, renewals);
    for (int it = 0; it < ITERS; it++) {
        if (it > 0 && it % RENEW == 0) {
            destroy();
            create(rank, size, ++renewals);
        }
        const int with_big = it % 3 == 0;

        /* Buffers are only touched while their requests are inactive. */
        for (int j = 0; j < M; j++) {
            to_right[j] = val(rank, it, 0, j);
            to_left[j] = val(rank, it, 1, j);
            from_left[j] = from_right[j] = -1;
        }
        any_out[0] = val(rank, it, 2, 0);
        any_out[1] = val(rank, it, 2, 1);
        any_buf[0] = any_buf[1] = -1;
        if (with_big)
            for (int j = 0; j < BIG; j++) {
                big_out[j] = val(rank, it, 3, j);
                big_in[j] = -1;
            }

        /* The requests of this iteration, in start order. */
        int idx[NREQ], n = 0;
        for (int k = 0; k < NREQ; k++)
            if (with_big || (k != 3 && k != 7))
                idx[n++] = k;
        MPI_Request act[NREQ];
        MPI_Status st[NREQ];

        switch (it % 3) {
        case 0: /* Startall on the whole array, Waitall. */
            for (int k = 0; k < n; k++)
                act[k] = req[idx[k]];
            MPI_Startall(n, act);
            MPI_Waitall(n, act, st);
            break;
        case 1: { /* One Start each, a Testall loop. */
            for (int k = 0; k < n; k++) {
                MPI_Start(&req[idx[k]]);
                act[k] = req[idx[k]];
            }
            int done = 0;
            while (!done)
                MPI_Testall(n, act, &done, st);
            break;
        }
        default: /* Startall, then Waitany until all are done. */
            for (int k = 0; k < n; k++)
                act[k] = req[idx[k]];
            MPI_Startall(n, act);
            for (int c = 0; c < n; c++) {
                int i = -1;
                MPI_Status s;
                MPI_Waitany(n, act, &i, &s);
                check(i >= 0 && i < n, "it %d: waitany index %d", it, i);
                if (i >= 0 && i < n)
                    st[i] = s;
            }
            break;
        }
        /* A persistent request stays allocated after it completes. */
        for (int k = 0; k < n; k++)
            check(req[idx[k]] != MPI_REQUEST_NULL, "it %d: persistent request %d freed by completion",
                  it, idx[k]);
        completed += n;

        for (int k = 0; k < n; k++) {
            int want_src = -1, want_tag = -1, want_cnt = 0;
            switch (idx[k]) {
            case 0: want_src = left; want_tag = TAG_A; want_cnt = M; break;
            case 1: want_src = right; want_tag = TAG_B; want_cnt = M; break;
            case 2: want_src = from2; want_tag = TAG_C; want_cnt = 2; break;
            case 3: want_src = left; want_tag = TAG_D; want_cnt = BIG; break;
            default: continue; /* send statuses carry nothing to check */
            }
            int cnt = -1;
            MPI_Get_count(&st[k], MPI_INT, &cnt);
            check(st[k].MPI_SOURCE == want_src && st[k].MPI_TAG == want_tag && cnt == want_cnt,
                  "it %d: recv %d status source %d tag %d count %d", it, idx[k],
                  st[k].MPI_SOURCE, st[k].MPI_TAG, cnt);
        }
        for (int j = 0; j < M; j++) {
            check(from_left[j] == val(left, it, 0, j), "it %d: from left [%d]=%d", it, j, from_left[j]);
            check(from_right[j] == val(right, it, 1, j), "it %d: from right [%d]=%d", it, j, from_right[j]);
        }
        check(any_buf[0] == val(from2, it, 2, 0) && any_buf[1] == val(from2, it, 2, 1),
              "it %d: any-source got %d %d", it, any_buf[0], any_buf[1]);
        if (with_big)
            for (int j = 0; j < BIG; j++)
                check(big_in[j] == val(left, it, 3, j), "it %d: big [%d]=%d", it, j, big_in[j]);
    }
    destroy();

    long min_done = 0;
    MPI_Allreduce(&completed, &min_done, 1, MPI_LONG, MPI_MIN, MPI_COMM_WORLD);
    if (rank == 0)
        printf("%s: %d iterations, %d re-creations, %ld persistent operations completed per rank\n",
               NAME, ITERS, renewals, min_done);
    free(from_left); free(from_right); free(to_right); free(to_left); free(big_in); free(big_out);
    int rc = finish(rank, size);
    MPI_Finalize();
    return rc;
}

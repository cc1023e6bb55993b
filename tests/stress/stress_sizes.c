/*
 * stress_sizes.c - messages of every size, from 1 byte to 8 MiB (under
 * and over MPICH's eager limit), sent around the ring in every send mode:
 *  - MPI_Isend/MPI_Irecv;
 *  - MPI_Ssend (rank 0 sends first, the others receive first, so the
 *    synchronous sends cannot deadlock);
 *  - MPI_Bsend from a buffer given by MPI_Buffer_attach, detached (with a
 *    check of the pointer and size it returns) and attached again, from a
 *    second buffer, every few iterations;
 *  - MPI_Rsend, after a barrier that guarantees the receive is posted.
 * Every byte received is compared with the pattern the sender wrote,
 * computed again locally, and every count with the size sent.
 *
 * The output does not depend on the number of ranks.
 *
 * Build: mpicc.mpich -std=gnu11 -O2 -Wall -Wextra -Werror stress_sizes.c -o stress_sizes
 */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NAME "stress_sizes"
#include "../../examples/example_check.h"

static const int sizes[] = {
    1, 3, 8, 100, 1000, 4096, 12000, 65536, 65539, 262144, 1 << 20, 8 << 20
};
enum {
    NSIZES = sizeof sizes / sizeof sizes[0],
    ITERS = NSIZES + 8,         /* sizes up to 64 KiB twice, larger ones once */
    BSEND_MAX = 1 << 20,        /* Bsend messages are capped at this */
    RENEW = 5,                  /* iterations between detach and attach */
    K_ISEND, K_SSEND, K_BSEND, K_RSEND
};

static void fill(unsigned char *b, int n, int src, int it, int kind)
{
    for (int j = 0; j < n; j++)
        b[j] = (unsigned char)(src * 31 + it * 7 + kind * 13 + j * 131 + (j >> 9));
}

static unsigned char *want;

/* Compares a received message with the pattern, computed again here. */
static void check_msg(const unsigned char *got, const MPI_Status *st, int n, int src, int it,
                      int kind, const char *what)
{
    int cnt = -1;
    MPI_Get_count(st, MPI_BYTE, &cnt);
    check(cnt == n && st->MPI_SOURCE == src, "it %d: %s of %d bytes: count %d source %d",
          it, what, n, cnt, st->MPI_SOURCE);
    fill(want, n, src, it, kind);
    if (memcmp(got, want, (size_t)n) != 0)
        for (int j = 0; j < n; j++)
            if (got[j] != want[j]) {
                check(0, "it %d: %s of %d bytes: byte %d is %d, sent %d", it, what, n, j, got[j], want[j]);
                break;
            }
}

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    int rank, size;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    const MPI_Comm W = MPI_COMM_WORLD;
    const int right = (rank + 1) % size, left = (rank + size - 1) % size;
    const int maxn = sizes[NSIZES - 1];

    unsigned char *out = xmalloc((size_t)maxn), *in = xmalloc((size_t)maxn);
    want = xmalloc((size_t)maxn);

    /* Two buffered-send buffers, used in turn. */
    int pack = 0;
    MPI_Pack_size(BSEND_MAX, MPI_BYTE, W, &pack);
    const int bsize = pack + MPI_BSEND_OVERHEAD;
    char *bbuf[2] = { xmalloc((size_t)bsize), xmalloc((size_t)bsize) };
    int cur = 0;
    MPI_Buffer_attach(bbuf[cur], bsize);

    long long bytes = 0;
    for (int it = 0; it < ITERS; it++) {
        const int n = sizes[it % NSIZES];
        MPI_Status st;

        /* Isend / Irecv around the ring. */
        MPI_Request r[2];
        fill(out, n, rank, it, K_ISEND);
        memset(in, 0, (size_t)n);
        MPI_Irecv(in, n, MPI_BYTE, left, K_ISEND, W, &r[0]);
        MPI_Isend(out, n, MPI_BYTE, right, K_ISEND, W, &r[1]);
        MPI_Status sts[2];
        MPI_Waitall(2, r, sts);
        check_msg(in, &sts[0], n, left, it, K_ISEND, "isend");

        /* Ssend, rank 0 first. */
        fill(out, n, rank, it, K_SSEND);
        memset(in, 0, (size_t)n);
        if (rank == 0) {
            MPI_Ssend(out, n, MPI_BYTE, right, K_SSEND, W);
            MPI_Recv(in, n, MPI_BYTE, left, K_SSEND, W, &st);
        } else {
            MPI_Recv(in, n, MPI_BYTE, left, K_SSEND, W, &st);
            MPI_Ssend(out, n, MPI_BYTE, right, K_SSEND, W);
        }
        check_msg(in, &st, n, left, it, K_SSEND, "ssend");

        /* Bsend: out may be overwritten as soon as Bsend returns. */
        const int nb = n < BSEND_MAX ? n : BSEND_MAX;
        fill(out, nb, rank, it, K_BSEND);
        MPI_Bsend(out, nb, MPI_BYTE, right, K_BSEND, W);
        memset(out, 0xa5, (size_t)nb);
        memset(in, 0, (size_t)nb);
        MPI_Recv(in, nb, MPI_BYTE, left, K_BSEND, W, &st);
        check_msg(in, &st, nb, left, it, K_BSEND, "bsend");
        if (it % RENEW == RENEW - 1) {
            void *p = NULL;
            int psize = 0;
            MPI_Buffer_detach(&p, &psize);
            check(p == bbuf[cur] && psize == bsize, "it %d: buffer_detach gave %p size %d, attached %p size %d",
                  it, p, psize, (void *)bbuf[cur], bsize);
            cur = 1 - cur;
            MPI_Buffer_attach(bbuf[cur], bsize);
        }

        /* Rsend: the barrier makes sure every receive is posted. */
        fill(out, n, rank, it, K_RSEND);
        memset(in, 0, (size_t)n);
        MPI_Irecv(in, n, MPI_BYTE, left, K_RSEND, W, &r[0]);
        MPI_Barrier(W);
        MPI_Rsend(out, n, MPI_BYTE, right, K_RSEND, W);
        MPI_Wait(&r[0], &st);
        check_msg(in, &st, n, left, it, K_RSEND, "rsend");

        bytes += 3LL * n + nb;
    }
    void *p = NULL;
    int psize = 0;
    MPI_Buffer_detach(&p, &psize);
    check(p == bbuf[cur] && psize == bsize, "final buffer_detach gave size %d", psize);

    long long min_bytes = 0;
    MPI_Allreduce(&bytes, &min_bytes, 1, MPI_LONG_LONG, MPI_MIN, W);
    if (rank == 0)
        printf("%s: %d iterations, %d sizes from %d B to %d MiB, %lld bytes received per rank\n",
               NAME, ITERS, (int)NSIZES, sizes[0], maxn >> 20, min_bytes);
    free(out); free(in); free(want); free(bbuf[0]); free(bbuf[1]);
    int rc = finish(rank, size);
    MPI_Finalize();
    return rc;
}

/*
 * stress_match.c - message matching and request queries, over many
 * iterations:
 *  - every rank sends NM messages of varying length and two tags to every
 *    other rank; the receiver takes them with MPI_ANY_SOURCE/MPI_ANY_TAG,
 *    in turn by Probe+Recv, Iprobe loop+Recv, Mprobe+Mrecv and
 *    Improbe loop+Imrecv.  Since every receive matches every message of a
 *    sender, MPI's non-overtaking rule means each sender's messages arrive
 *    in the order they were sent: the sequence number in each message is
 *    checked.  MPI_Get_count and MPI_Get_elements are checked on the probe
 *    and receive statuses, also with a 2-int datatype (odd lengths give
 *    MPI_UNDEFINED counts but a whole number of elements);
 *  - a receive that nothing matches is cancelled: MPI_Cancel, MPI_Wait,
 *    MPI_Test_cancelled;
 *  - MPI_Request_get_status on a receive that cannot have matched yet
 *    (flag 0, request kept), then after the send (flag 1, request kept);
 *  - receives from every other rank with three tags, completed by
 *    MPI_Waitany, MPI_Waitsome, an MPI_Testany loop or an MPI_Testsome loop
 *    in turn, each index once, with its status and data checked, and the
 *    all-inactive answers (MPI_UNDEFINED) at the end.
 *
 * The output does not depend on the number of ranks.
 *
 * Build: mpicc.mpich -std=gnu11 -O2 -Wall -Wextra -Werror stress_match.c -o stress_match
 */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NAME "stress_match"
#include "../../examples/example_check.h"

enum {
    ITERS = 40,
    NM = 6,          /* messages from each sender in the matching part */
    MAXLEN = 64,     /* ints */
    R = 3,           /* tags per sender in the Testany/Waitsome part */
    TAG_M0 = 100,    /* matching part: tags TAG_M0 and TAG_M0 + 1 */
    TAG_NEVER = 200, TAG_GS = 300, TAG_D0 = 400
};

static int msg_len(int src, int it, int m)
{
    return 1 + (m * 17 + src * 5 + it) % MAXLEN;
}

static int val(int src, int it, int m, int j)
{
    return src * 100000 + it * 1000 + m * 64 + j;
}

/* Count and elements of a status for a message of `len` ints. */
static void check_counts(const MPI_Status *st, MPI_Datatype pair, int len, int it, const char *what)
{
    int c = -2, e = -2, cp = -2, ep = -2;
    MPI_Get_count(st, MPI_INT, &c);
    MPI_Get_elements(st, MPI_INT, &e);
    MPI_Get_count(st, pair, &cp);
    MPI_Get_elements(st, pair, &ep);
    int want_cp = len % 2 ? MPI_UNDEFINED : len / 2;
    check(c == len && e == len && cp == want_cp && ep == len,
          "it %d: %s: count %d elements %d pair count %d pair elements %d, length %d",
          it, what, c, e, cp, ep, len);
}

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    int rank, size;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    const MPI_Comm W = MPI_COMM_WORLD;
    const int right = (rank + 1) % size, left = (rank + size - 1) % size;
    MPI_Datatype pair;
    MPI_Type_contiguous(2, MPI_INT, &pair);
    MPI_Type_commit(&pair);

    const int nsend = (size - 1) * NM;
    int *out = xmalloc((size_t)nsend * MAXLEN * sizeof(int));
    MPI_Request *sreq = xmalloc((size_t)(nsend > (size - 1) * R ? nsend : (size - 1) * R) * sizeof(MPI_Request));
    int *next_seq = xmalloc((size_t)size * sizeof(int));
    const int nd = (size - 1) * R;
    MPI_Request *dreq = xmalloc((size_t)(nd + 1) * sizeof(MPI_Request));
    int *din = xmalloc((size_t)(nd + 1) * 2 * sizeof(int)), *dout = xmalloc((size_t)nd * 2 * sizeof(int));
    int *dseen = xmalloc((size_t)(nd + 1) * sizeof(int));
    int *idx = xmalloc((size_t)(nd + 1) * sizeof(int));
    MPI_Status *sts = xmalloc((size_t)(nd + 1) * sizeof(MPI_Status));

    long matched = 0;
    for (int it = 0; it < ITERS; it++) {
        /* --- matching with wildcards, in send order per sender --- */
        int ns = 0;
        for (int m = 0; m < NM; m++)
            for (int q = 0; q < size; q++) {
                if (q == rank)
                    continue;
                int len = msg_len(rank, it, m), *buf = out + (size_t)ns * MAXLEN;
                buf[0] = m;
                for (int j = 1; j < len; j++)
                    buf[j] = val(rank, it, m, j);
                MPI_Isend(buf, len, MPI_INT, q, TAG_M0 + m % 2, W, &sreq[ns++]);
            }
        for (int q = 0; q < size; q++)
            next_seq[q] = 0;
        for (int c = 0; c < nsend; c++) {
            int in[MAXLEN];
            MPI_Status pst, rst;
            MPI_Message msg;
            int flag = 0;
            memset(in, 0xff, sizeof in);
            switch ((c + it) % 4) {
            case 0:
                MPI_Probe(MPI_ANY_SOURCE, MPI_ANY_TAG, W, &pst);
                MPI_Recv(in, MAXLEN, MPI_INT, pst.MPI_SOURCE, pst.MPI_TAG, W, &rst);
                break;
            case 1:
                while (!flag)
                    MPI_Iprobe(MPI_ANY_SOURCE, MPI_ANY_TAG, W, &flag, &pst);
                MPI_Recv(in, MAXLEN, MPI_INT, pst.MPI_SOURCE, pst.MPI_TAG, W, &rst);
                break;
            case 2:
                MPI_Mprobe(MPI_ANY_SOURCE, MPI_ANY_TAG, W, &msg, &pst);
                MPI_Mrecv(in, MAXLEN, MPI_INT, &msg, &rst);
                check(msg == MPI_MESSAGE_NULL, "it %d: mrecv left the message handle set", it);
                break;
            default: {
                while (!flag)
                    MPI_Improbe(MPI_ANY_SOURCE, MPI_ANY_TAG, W, &flag, &msg, &pst);
                MPI_Request r;
                MPI_Imrecv(in, MAXLEN, MPI_INT, &msg, &r);
                MPI_Wait(&r, &rst);
                break;
            }
            }
            const int src = rst.MPI_SOURCE;
            if (src < 0 || src >= size || src == rank) {
                check(0, "it %d: message from source %d", it, src);
                continue;
            }
            const int m = next_seq[src]++;
            check(pst.MPI_SOURCE == src && pst.MPI_TAG == rst.MPI_TAG,
                  "it %d: probed %d/%d, received %d/%d", it, pst.MPI_SOURCE, pst.MPI_TAG, src, rst.MPI_TAG);
            check(in[0] == m && rst.MPI_TAG == TAG_M0 + m % 2,
                  "it %d: from %d: sequence %d tag %d, expected %d (overtaken)", it, src, in[0], rst.MPI_TAG, m);
            int len = msg_len(src, it, m);
            check_counts(&pst, pair, len, it, "probe status");
            check_counts(&rst, pair, len, it, "receive status");
            for (int j = 1; j < len; j++)
                check(in[j] == val(src, it, m, j), "it %d: from %d msg %d [%d]=%d", it, src, m, j, in[j]);
            matched++;
        }
        MPI_Waitall(nsend, sreq, MPI_STATUSES_IGNORE);

        /* --- cancelling a receive that nothing matches --- */
        {
            int dummy = -1, cancelled = 0;
            MPI_Request r;
            MPI_Status st;
            MPI_Irecv(&dummy, 1, MPI_INT, MPI_ANY_SOURCE, TAG_NEVER, W, &r);
            MPI_Cancel(&r);
            MPI_Wait(&r, &st);
            MPI_Test_cancelled(&st, &cancelled);
            check(cancelled && r == MPI_REQUEST_NULL && dummy == -1,
                  "it %d: cancelled receive: cancelled %d buffer %d", it, cancelled, dummy);
        }

        /* --- Request_get_status before and after the matching send --- */
        {
            int v = -1, flag = -1;
            MPI_Request r;
            MPI_Status st;
            MPI_Irecv(&v, 1, MPI_INT, left, TAG_GS, W, &r);
            MPI_Request_get_status(r, &flag, &st);
            check(flag == 0, "it %d: request_get_status before the send: flag %d", it, flag);
            MPI_Barrier(W);          /* nobody sends before every receive is posted */
            int token = rank * 7 + it;
            MPI_Send(&token, 1, MPI_INT, right, TAG_GS, W);
            flag = 0;
            while (!flag)
                MPI_Request_get_status(r, &flag, &st);
            check(r != MPI_REQUEST_NULL, "it %d: request_get_status freed the request", it);
            int cnt = -1;
            MPI_Get_count(&st, MPI_INT, &cnt);
            check(st.MPI_SOURCE == left && st.MPI_TAG == TAG_GS && cnt == 1,
                  "it %d: request_get_status: source %d tag %d count %d", it, st.MPI_SOURCE, st.MPI_TAG, cnt);
            MPI_Wait(&r, &st);
            check(r == MPI_REQUEST_NULL && v == left * 7 + it && st.MPI_SOURCE == left,
                  "it %d: after get_status: value %d source %d", it, v, st.MPI_SOURCE);
        }

        /* --- Waitany / Waitsome / Testany / Testsome over many receives --- */
        {
            /* Index k = p * R + r: from the p-th other rank, tag TAG_D0 + r.
             * The last entry is MPI_REQUEST_NULL, which must be ignored. */
            for (int k = 0; k < nd; k++) {
                int q = k / R + (k / R >= rank), r = k % R;
                din[2 * k] = din[2 * k + 1] = -1;
                MPI_Irecv(&din[2 * k], 2, MPI_INT, q, TAG_D0 + r, W, &dreq[k]);
                dseen[k] = 0;
            }
            dreq[nd] = MPI_REQUEST_NULL;
            dseen[nd] = 0;
            ns = 0;
            for (int r = R - 1; r >= 0; r--)     /* tags in reverse order */
                for (int q = 0; q < size; q++) {
                    if (q == rank)
                        continue;
                    dout[2 * ns] = val(rank, it, r, q);
                    dout[2 * ns + 1] = r;
                    MPI_Isend(&dout[2 * ns], 2, MPI_INT, q, TAG_D0 + r, W, &sreq[ns]);
                    ns++;
                }
            int done = 0, method = it % 4;
            while (done < nd) {
                int n = 0, flag = 0, i = MPI_UNDEFINED;
                MPI_Status st;
                switch (method) {
                case 0:
                    MPI_Waitany(nd + 1, dreq, &i, &st);
                    if (i != MPI_UNDEFINED) {
                        idx[0] = i;
                        sts[0] = st;
                        n = 1;
                    }
                    break;
                case 1:
                    MPI_Waitsome(nd + 1, dreq, &n, idx, sts);
                    break;
                case 2:
                    MPI_Testany(nd + 1, dreq, &i, &flag, &st);
                    if (flag && i != MPI_UNDEFINED) {
                        idx[0] = i;
                        sts[0] = st;
                        n = 1;
                    }
                    break;
                default:
                    MPI_Testsome(nd + 1, dreq, &n, idx, sts);
                    break;
                }
                if (n == MPI_UNDEFINED) {
                    check(0, "it %d: method %d: nothing active with %d of %d done", it, method, done, nd);
                    break;
                }
                for (int c = 0; c < n; c++) {
                    int k = idx[c];
                    if (k < 0 || k >= nd || dseen[k]) {
                        check(0, "it %d: method %d: index %d completed twice or out of range", it, method, k);
                        continue;
                    }
                    dseen[k] = 1;
                    int q = k / R + (k / R >= rank), r = k % R;
                    check(dreq[k] == MPI_REQUEST_NULL, "it %d: method %d: request %d not freed", it, method, k);
                    check(sts[c].MPI_SOURCE == q && sts[c].MPI_TAG == TAG_D0 + r,
                          "it %d: method %d: index %d status %d/%d", it, method, k, sts[c].MPI_SOURCE, sts[c].MPI_TAG);
                    check(din[2 * k] == val(q, it, r, rank) && din[2 * k + 1] == r,
                          "it %d: method %d: index %d data %d %d", it, method, k, din[2 * k], din[2 * k + 1]);
                }
                done += n;
            }
            /* All inactive now: the answers say there is nothing left. */
            int i = 0, flag = 0, n = 0;
            MPI_Testany(nd + 1, dreq, &i, &flag, MPI_STATUS_IGNORE);
            check(flag == 1 && i == MPI_UNDEFINED, "it %d: testany on inactive: flag %d index %d", it, flag, i);
            MPI_Waitsome(nd + 1, dreq, &n, idx, MPI_STATUSES_IGNORE);
            check(n == MPI_UNDEFINED, "it %d: waitsome on inactive: %d", it, n);
            MPI_Waitall(ns, sreq, MPI_STATUSES_IGNORE);
        }
    }

    long all = 0;
    MPI_Allreduce(&matched, &all, 1, MPI_LONG, MPI_SUM, W);
    check(all == (long)ITERS * NM * size * (size - 1), "matched %ld messages in all", all);
    if (rank == 0)
        printf("%s: %d iterations of wildcard matching in send order, cancel, get_status, "
               "waitany/waitsome/testany/testsome\n", NAME, ITERS);
    MPI_Type_free(&pair);
    free(out); free(sreq); free(next_seq); free(dreq); free(din); free(dout); free(dseen); free(idx); free(sts);
    int rc = finish(rank, size);
    MPI_Finalize();
    return rc;
}

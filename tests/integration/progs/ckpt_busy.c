/* A job with one busy rank, for the tests of issue 6, acceptance 3:
 * rank 1 computes for SECONDS without any MPI call while the other ranks
 * wait for it, in MPI_Recv (MODE p2p), in MPI_Allreduce (MODE coll), in
 * MPI_Allreduce with MPI_IN_PLACE on one long (MODE inplace) or on 256 KiB
 * (MODE biginplace), in the MPI_Wait of their own MPI_Iallreduce (MODE
 * nbc; with MPI_IN_PLACE on 256 KiB: nbcinplace), or in the MPI_Waitall
 * of one nonblocking collective of each kind (MODE nbcs: Ibcast, Ireduce
 * with the busy rank as root, Igatherv, Ialltoallv, Iscan, Ialltoallw,
 * Ibarrier, a small Iallreduce in place, an Iallgather in place and a
 * Comm_idup), each checked; or, on a communicator of ranks 1 and 0 only
 * (in that order), in a collective with MPI_IN_PLACE on 256 KiB at rank
 * 0, which no arrival barrier can precede: MPI_Reduce to rank 0 (MODE
 * rootreduce), MPI_Scan (rootscan), MPI_Gatherv to rank 0 (rootgatherv),
 * while the other ranks wait in MPI_Barrier; or in MPI_Comm_split (MODE
 * split), which has no nonblocking form; or in MPI_Allreduce after an
 * MPI_Bcast from rank 0 (MODE ghostbcast), two MPI_Reduce to rank 0
 * (ghostreduce) or an MPI_Gatherv to rank 0 (ghostgatherv), which all but
 * rank 1 and the root have seen complete, an MPI_Scatter from rank 0
 * (ghostscatter) or an MPI_Scatterv from rank 0 (ghostscatterv), which
 * all but rank 1 have seen complete, or an MPI_Scan
 * in place with rank 1 last (ghostscan), which the rank after the first
 * has seen complete, and has freed its communicator since, or, on 128 KiB
 * per rank, at the arrival barrier of an MPI_Bcast, MPI_Scatter or
 * MPI_Gather (ghostbigbcast, ghostbigscatter, ghostbiggather); or in the
 * MPI_Wait of a persistent MPI_Allreduce_init started a second time
 * (persistent); or in the barrier MANA puts before MPI_Comm_create_group
 * (creategroup) or MPI_Intercomm_create (intercomm, rank 1 alone against
 * the others). Rank 1 prints "computing"
 * when it starts, and stops early once STOPFILE exists; rank 0 prints the
 * result, or how many checks failed.
 * Usage: ckpt_busy MODE SECONDS [STOPFILE] */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* One nonblocking collective of each kind, posted together and completed
 * by one MPI_Waitall: the number of wrong results on this rank. */
static long nbc_kinds(int rank, int size, long value)
{
    enum { KINDS = 10, N = 1000 };
    MPI_Request req[KINDS];
    long failed = 0;
    /* Ibcast from rank 0. */
    long bc[N];
    for (int i = 0; i < N; i++)
        bc[i] = rank == 0 ? 7 * i : -1;
    MPI_Ibcast(bc, N, MPI_LONG, 0, MPI_COMM_WORLD, &req[0]);
    /* Ireduce to rank 1, the busy one. */
    long mine[N], sum[N];
    for (int i = 0; i < N; i++)
        mine[i] = value * i;
    MPI_Ireduce(mine, sum, N, MPI_LONG, MPI_SUM, 1, MPI_COMM_WORLD, &req[1]);
    /* Igatherv to the last rank: rank r sends r + 1 values. */
    int *counts = malloc((size_t)size * sizeof *counts), *displs = malloc((size_t)size * sizeof *displs);
    long *gathered = malloc((size_t)size * (size_t)(size + 1) * sizeof *gathered);
    long part[64];
    for (int r = 0, at = 0; r < size; r++) {
        counts[r] = r + 1;
        displs[r] = at;
        at += r + 1;
    }
    for (int i = 0; i <= rank && i < 64; i++)
        part[i] = 100 * rank + i;
    MPI_Igatherv(part, rank + 1, MPI_LONG, gathered, counts, displs, MPI_LONG, size - 1, MPI_COMM_WORLD, &req[2]);
    /* Ialltoallv: rank r sends r + 1 values to each peer. */
    int *scounts = malloc((size_t)size * sizeof *scounts), *sdispls = malloc((size_t)size * sizeof *sdispls);
    int *rcounts = malloc((size_t)size * sizeof *rcounts), *rdispls = malloc((size_t)size * sizeof *rdispls);
    long *sbuf = malloc((size_t)size * (size_t)(rank + 1) * sizeof *sbuf);
    long *rbuf = malloc((size_t)size * (size_t)(size + 1) * sizeof *rbuf);
    for (int r = 0, at = 0; r < size; r++) {
        scounts[r] = rank + 1;
        sdispls[r] = r * (rank + 1);
        rcounts[r] = r + 1;
        rdispls[r] = at;
        at += r + 1;
        for (int i = 0; i <= rank; i++)
            sbuf[r * (rank + 1) + i] = 1000 * rank + 10 * r + i;
    }
    MPI_Ialltoallv(sbuf, scounts, sdispls, MPI_LONG, rbuf, rcounts, rdispls, MPI_LONG, MPI_COMM_WORLD, &req[3]);
    /* Iscan of the rank values. */
    long scan = 0;
    MPI_Iscan(&value, &scan, 1, MPI_LONG, MPI_SUM, MPI_COMM_WORLD, &req[4]);
    /* Ialltoallw with one int to and from each peer (arrays of types). */
    int *wcounts = malloc((size_t)size * sizeof *wcounts), *wdispls = malloc((size_t)size * sizeof *wdispls);
    MPI_Datatype *wtypes = malloc((size_t)size * sizeof *wtypes);
    int *wsend = malloc((size_t)size * sizeof *wsend), *wrecv = malloc((size_t)size * sizeof *wrecv);
    for (int r = 0; r < size; r++) {
        wcounts[r] = 1;
        wdispls[r] = r * (int)sizeof(int);
        wtypes[r] = MPI_INT;
        wsend[r] = 10 * rank + r;
        wrecv[r] = -1;
    }
    MPI_Ialltoallw(wsend, wcounts, wdispls, wtypes, wrecv, wcounts, wdispls, wtypes, MPI_COMM_WORLD, &req[5]);
    MPI_Ibarrier(MPI_COMM_WORLD, &req[6]);
    /* Iallreduce in place, small: MANA keeps its input. */
    long inplace[4] = {value, 2 * value, 3 * value, 4 * value};
    MPI_Iallreduce(MPI_IN_PLACE, inplace, 4, MPI_LONG, MPI_SUM, MPI_COMM_WORLD, &req[7]);
    /* Iallgather in place: MANA keeps the whole buffer. */
    long *all = malloc((size_t)size * 2 * sizeof *all);
    for (int i = 0; i < 2 * size; i++)
        all[i] = -1;
    all[2 * rank] = value;
    all[2 * rank + 1] = 10 * value;
    MPI_Iallgather(MPI_IN_PLACE, 0, MPI_DATATYPE_NULL, all, 2, MPI_LONG, MPI_COMM_WORLD, &req[8]);
    /* Comm_idup: a restart posts it again instead of replaying it. */
    MPI_Comm dup;
    MPI_Comm_idup(MPI_COMM_WORLD, &dup, &req[9]);
    MPI_Waitall(KINDS, req, MPI_STATUSES_IGNORE);
    long one = 1, members = 0;
    MPI_Allreduce(&one, &members, 1, MPI_LONG, MPI_SUM, dup);
    failed += members != size;
    MPI_Comm_free(&dup);

    long ranks_sum = (long)size * (size + 1) / 2; /* every rank's value is rank + 1 */
    for (int i = 0; i < N; i++) {
        failed += bc[i] != 7 * i;
        failed += rank == 1 && sum[i] != ranks_sum * i;
    }
    for (int r = 0; rank == size - 1 && r < size; r++)
        for (int i = 0; i <= r; i++)
            failed += gathered[displs[r] + i] != 100 * r + i;
    for (int r = 0; r < size; r++)
        for (int i = 0; i <= r; i++)
            failed += rbuf[rdispls[r] + i] != 1000 * r + 10 * rank + i;
    failed += scan != (long)(rank + 1) * (rank + 2) / 2;
    for (int r = 0; r < size; r++)
        failed += wrecv[r] != 10 * r + rank;
    for (int i = 0; i < 4; i++)
        failed += inplace[i] != (i + 1) * ranks_sum;
    for (int r = 0; r < size; r++)
        failed += all[2 * r] != r + 1 || all[2 * r + 1] != 10 * (r + 1);
    free(all);
    free(counts);
    free(displs);
    free(gathered);
    free(scounts);
    free(sdispls);
    free(rcounts);
    free(rdispls);
    free(sbuf);
    free(rbuf);
    free(wcounts);
    free(wdispls);
    free(wtypes);
    free(wsend);
    free(wrecv);
    return failed;
}

/* KIND (reduce, scan, gatherv) with MPI_IN_PLACE on 256 KiB at world
 * rank 0, on PAIR, a communicator of world ranks 0 and 1 only (see
 * main); the others wait in MPI_Barrier meanwhile. The number of wrong
 * results. */
static long rooted_inplace(const char *kind, int rank, long value, MPI_Comm pair)
{
    enum { N = 32768 };
    int in_pair = rank <= 1, scan = strcmp(kind, "scan") == 0;
    long failed = 0;
    if (in_pair) {
        long *v = malloc(2 * N * sizeof *v);
        for (int i = 0; i < 2 * N; i++)
            v[i] = -1;
        /* World rank 0 is in place (and the root) with its data in v. */
        long *mine = rank == 0 ? v : v + N;
        for (int i = 0; i < N; i++)
            mine[i] = value * 1000 + i;
        long *sendbuf = rank == 0 ? MPI_IN_PLACE : v + N;
        if (strcmp(kind, "reduce") == 0) {
            MPI_Reduce(sendbuf, rank == 0 ? v : NULL, N, MPI_LONG, MPI_SUM, 0, pair);
            for (int i = 0; rank == 0 && i < N; i++)
                failed += v[i] != 3000 + 2 * i; /* (1 + 2) * 1000 + 2i */
        } else if (scan) {
            MPI_Scan(sendbuf, v, N, MPI_LONG, MPI_SUM, pair);
            for (int i = 0; i < N; i++)
                failed += v[i] != (rank == 1 ? 2000 + i : 3000 + 2 * i);
        } else {
            int counts[2] = {N, N}, displs[2] = {0, N};
            if (rank == 0)
                MPI_Gatherv(MPI_IN_PLACE, 0, MPI_LONG, v, counts, displs, MPI_LONG, 0, pair);
            else
                MPI_Gatherv(v + N, N, MPI_LONG, NULL, NULL, NULL, MPI_LONG, 0, pair);
            for (int i = 0; rank == 0 && i < N; i++)
                failed += v[i] != 1000 + i || v[N + i] != 2000 + i;
        }
        free(v);
        MPI_Comm_free(&pair);
    }
    MPI_Barrier(MPI_COMM_WORLD);
    return failed;
}

/* KIND (bcast, reduce, gatherv, scatter, scatterv) rooted at rank 0, which
 * the ranks other than rank 1 (and the root, but for bcast and scatter(v)) leave
 * before rank 1 enters it, or scan on ORDER (see main); bigbcast, bigscatter
 * and biggather (to the last rank): the same with 128 KiB per rank,
 * which MANA keeps no ghost of (the others wait at its arrival barrier
 * instead). The number
 * of wrong results. */
static long seen_complete(const char *kind, int rank, int size, long value, MPI_Comm order)
{
    int big = strncmp(kind, "big", 3) == 0;
    kind += big ? 3 : 0;
    const int N = big ? 16384 : 100, per = big ? N : 2; /* per: each rank's block of MPI_Scatter, MPI_Gatherv */
    long *v = malloc((size_t)N * sizeof *v), *r = malloc((size_t)N * sizeof *r);
    long failed = 0;
    for (int i = 0; i < N; i++) {
        v[i] = value * 1000 + i;
        r[i] = -1;
    }
    if (strcmp(kind, "bcast") == 0) {
        MPI_Bcast(v, N, MPI_LONG, 0, MPI_COMM_WORLD);
        for (int i = 0; i < N; i++)
            failed += v[i] != 1000 + i;
    } else if (strcmp(kind, "reduce") == 0) {
        /* Two, the second of other data: the others leave both. */
        long *r2 = malloc((size_t)N * sizeof *r2);
        MPI_Reduce(v, r, N, MPI_LONG, MPI_SUM, 0, MPI_COMM_WORLD);
        for (int i = 0; i < N; i++)
            v[i] = -v[i];
        MPI_Reduce(v, r2, N, MPI_LONG, MPI_MIN, 0, MPI_COMM_WORLD);
        long ranks_sum = (long)size * (size + 1) / 2;
        for (int i = 0; rank == 0 && i < N; i++)
            failed += r[i] != ranks_sum * 1000 + (long)size * i || r2[i] != -((long)size * 1000 + i);
        free(r2);
    } else if (strcmp(kind, "scatter") == 0) {
        long *all = malloc((size_t)size * (size_t)per * sizeof *all);
        for (int k = 0; k < per * size; k++)
            all[k] = 1000 * (k / per + 1) + k % per;
        MPI_Scatter(all, per, MPI_LONG, r, per, MPI_LONG, 0, MPI_COMM_WORLD);
        for (int i = 0; i < per; i++)
            failed += r[i] != value * 1000 + i;
        free(all);
    } else if (strcmp(kind, "scatterv") == 0) {
        /* Rank k gets k + 1 values, the blocks in reverse order, from
         * arrays the root changes as soon as the call returns. */
        int *counts = malloc((size_t)size * sizeof *counts), *displs = malloc((size_t)size * sizeof *displs);
        long all[64];
        for (int k = 0, at = 0; k < size; k++) {
            counts[k] = k + 1;
            displs[size - 1 - k] = at;
            at += size - k;
        }
        for (int k = 0; k < 64; k++)
            all[k] = 1000 + k;
        MPI_Scatterv(all, counts, displs, MPI_LONG, r, rank + 1, MPI_LONG, 0, MPI_COMM_WORLD);
        for (int i = 0; i <= rank; i++)
            failed += r[i] != 1000 + displs[rank] + i;
        for (int k = 0; k < size; k++)
            counts[k] = displs[k] = -1;
        free(counts);
        free(displs);
    } else if (strcmp(kind, "scan") == 0) {
        /* In place, on ORDER: world ranks 0, 2, 3, ..., 1. With 3 ranks,
         * the middle one has all it needs from the first and leaves
         * (recursive doubling). */
        int me;
        MPI_Comm_rank(order, &me);
        MPI_Scan(MPI_IN_PLACE, v, N, MPI_LONG, MPI_SUM, order);
        long want = 0;
        for (int k = 0; k <= me; k++)
            want += (k == size - 1 ? 1 : k == 0 ? 0 : k + 1) + 1;
        for (int i = 0; i < N; i++)
            failed += v[i] != want * 1000 + (long)(me + 1) * i;
        /* Freed before rank 1 has entered the scan: MANA keeps it for the
         * ghost a restart posts on it. */
        MPI_Comm_free(&order);
    } else {
        int *counts = malloc((size_t)size * sizeof *counts), *displs = malloc((size_t)size * sizeof *displs);
        long *all = malloc((size_t)size * (size_t)per * sizeof *all);
        for (int k = 0; k < size; k++) {
            counts[k] = per;
            displs[k] = per * k;
        }
        /* gatherv with the small blocks; gather with the big ones, to the
         * last rank, which MPICH's binomial tree has take rank 0's block
         * (rank 0 then leaves) before rank 1's. */
        int root = big ? size - 1 : 0;
        if (big)
            MPI_Gather(v, per, MPI_LONG, all, per, MPI_LONG, root, MPI_COMM_WORLD);
        else
            MPI_Gatherv(v, per, MPI_LONG, all, counts, displs, MPI_LONG, root, MPI_COMM_WORLD);
        for (int k = 0; rank == root && k < size; k++)
            for (int i = 0; i < per; i++)
                failed += all[per * k + i] != (k + 1) * 1000 + i;
        free(counts);
        free(displs);
        free(all);
    }
    free(v);
    free(r);
    return failed;
}

/* Whether every rank's checks passed (FAILED: this rank's failures):
 * 0 with *TOTAL the sum of the ranks' VALUE, or -1 and rank 0 says how
 * many failed. */
static int all_right(long failed, long value, long *total)
{
    int rank;
    long all_failed = 0;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Allreduce(&failed, &all_failed, 1, MPI_LONG, MPI_SUM, MPI_COMM_WORLD);
    MPI_Allreduce(&value, total, 1, MPI_LONG, MPI_SUM, MPI_COMM_WORLD);
    if (all_failed != 0 && rank == 0)
        printf("failed %ld checks\n", all_failed);
    return all_failed != 0 ? -1 : 0;
}

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    int rank, size;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    const char *mode = argc == 3 || argc == 4 ? argv[1] : "";
    const char *stopfile = argc == 4 ? argv[3] : NULL;
    static const char *const modes[] = {"p2p",  "coll",       "inplace",  "biginplace", "nbc",
                                        "nbcinplace", "nbcs", "rootreduce", "rootscan", "rootgatherv", "split",
                                        "ghostbcast", "ghostreduce", "ghostgatherv", "ghostscatter", "ghostscatterv", "ghostscan", "ghostbigbcast",
                                        "ghostbigscatter", "ghostbiggather", "persistent", "creategroup",
                                        "intercomm"};
    int known = 0;
    for (size_t i = 0; i < sizeof modes / sizeof *modes; i++)
        known |= strcmp(mode, modes[i]) == 0;
    if (!known || size < 2) {
        if (rank == 0)
            fprintf(stderr, "usage: ckpt_busy p2p|coll|inplace|biginplace|nbc|nbcinplace|nbcs|rootreduce|rootscan|"
                            "rootgatherv|split|ghostbcast|ghostreduce|ghostgatherv|ghostscatter|ghostscatterv|ghostscan|ghostbigbcast|ghostbigscatter|ghostbiggather|"
                            "persistent|creategroup|intercomm SECONDS [STOPFILE] (2 ranks or more)\n");
        MPI_Finalize();
        return 2;
    }
    int coll = strcmp(mode, "coll") == 0, inplace = strcmp(mode, "inplace") == 0;
    int biginplace = strcmp(mode, "biginplace") == 0, nbc = strcmp(mode, "nbc") == 0;
    int nbcinplace = strcmp(mode, "nbcinplace") == 0, nbcs = strcmp(mode, "nbcs") == 0;
    double seconds = atof(argv[2]);
    /* For the root modes: for scan, rank 1 comes first, so that rank 0's
     * result depends on it. (Not rank 0 as the second rank and root of
     * MPI_Reduce: MPICH 4.0 crashes on that with 256 KiB in place,
     * natively.) */
    MPI_Comm pair = MPI_COMM_NULL;
    if (strncmp(mode, "root", 4) == 0)
        MPI_Comm_split(MPI_COMM_WORLD, rank <= 1 ? 0 : MPI_UNDEFINED,
                       strcmp(mode, "rootscan") == 0 ? 1 - rank : rank, &pair);
    else if (strcmp(mode, "ghostscan") == 0)
        MPI_Comm_split(MPI_COMM_WORLD, 0, rank == 1 ? size : rank, &pair);
    else if (strcmp(mode, "intercomm") == 0)
        MPI_Comm_split(MPI_COMM_WORLD, rank == 1, rank, &pair); /* the local groups, made before rank 1 computes */
    MPI_Barrier(MPI_COMM_WORLD);
    long value = rank + 1;
    if (rank == 1) {
        printf("computing\n");
        fflush(stdout);
        /* Busy, no MPI call: a checkpoint must stop it where it is. */
        volatile double x = 1.0;
        double end = now() + seconds;
        while (now() < end && (stopfile == NULL || access(stopfile, F_OK) != 0))
            for (int i = 0; i < 100000; i++)
                x = x * 1.0000001 + 1e-9;
        value += x > 0 ? 0 : 1;
    }
    long total = 0;
    if (coll) {
        MPI_Allreduce(&value, &total, 1, MPI_LONG, MPI_SUM, MPI_COMM_WORLD);
    } else if (inplace) {
        total = value;
        MPI_Allreduce(MPI_IN_PLACE, &total, 1, MPI_LONG, MPI_SUM, MPI_COMM_WORLD);
    } else if (biginplace) {
        enum { N = 32768 };
        long *v = malloc(N * sizeof *v);
        for (int i = 0; v != NULL && i < N; i++)
            v[i] = value + i;
        MPI_Allreduce(MPI_IN_PLACE, v, v != NULL ? N : 0, MPI_LONG, MPI_SUM, MPI_COMM_WORLD);
        /* The first sum is 1 + 2 + ... + size; the last adds size * (N - 1). */
        total = v != NULL && v[N - 1] - v[0] == (long)size * (N - 1) ? v[0] : -1;
        free(v);
    } else if (nbc) {
        MPI_Request req;
        MPI_Iallreduce(&value, &total, 1, MPI_LONG, MPI_SUM, MPI_COMM_WORLD, &req);
        MPI_Wait(&req, MPI_STATUS_IGNORE);
    } else if (strcmp(mode, "persistent") == 0) {
        /* Started twice: a restart that left the first pending starts it
         * again, and the application then starts it once more. */
        MPI_Request req;
        long in = value;
        MPI_Allreduce_init(&in, &total, 1, MPI_LONG, MPI_SUM, MPI_COMM_WORLD, MPI_INFO_NULL, &req);
        for (int round = 0; round < 2; round++) {
            if (round == 1)
                in = value + 100;
            MPI_Start(&req);
            MPI_Wait(&req, MPI_STATUS_IGNORE);
        }
        MPI_Request_free(&req);
        total = total == (long)size * (size + 1) / 2 + 100L * size ? total - 100L * size : -1;
    } else if (nbcinplace) {
        enum { N = 32768 };
        long *v = malloc(N * sizeof *v);
        for (int i = 0; v != NULL && i < N; i++)
            v[i] = value + i;
        MPI_Request req;
        MPI_Iallreduce(MPI_IN_PLACE, v, v != NULL ? N : 0, MPI_LONG, MPI_SUM, MPI_COMM_WORLD, &req);
        MPI_Wait(&req, MPI_STATUS_IGNORE);
        total = v != NULL && v[N - 1] - v[0] == (long)size * (N - 1) ? v[0] : -1;
        free(v);
    } else if (strncmp(mode, "root", 4) == 0 || strncmp(mode, "ghost", 5) == 0 || nbcs) {
        long failed = nbcs                             ? nbc_kinds(rank, size, value)
                      : strncmp(mode, "root", 4) == 0 ? rooted_inplace(mode + 4, rank, value, pair)
                                                      : seen_complete(mode + 5, rank, size, value, pair);
        if (all_right(failed, value, &total) != 0) {
            MPI_Finalize();
            return 1;
        }
    } else if (strcmp(mode, "split") == 0) {
        MPI_Comm c2;
        MPI_Comm_split(MPI_COMM_WORLD, 0, size - rank, &c2);
        MPI_Allreduce(&value, &total, 1, MPI_LONG, MPI_SUM, c2);
        MPI_Comm_free(&c2);
    } else if (strcmp(mode, "creategroup") == 0) {
        /* Over every rank but in reverse order, so that rank 1 is not
         * the root of MANA's barrier before it. */
        MPI_Group world, reversed;
        int *order = malloc((size_t)size * sizeof *order);
        for (int r = 0; r < size; r++)
            order[r] = size - 1 - r;
        MPI_Comm_group(MPI_COMM_WORLD, &world);
        MPI_Group_incl(world, size, order, &reversed);
        MPI_Comm c2;
        MPI_Comm_create_group(MPI_COMM_WORLD, reversed, 7, &c2);
        MPI_Allreduce(&value, &total, 1, MPI_LONG, MPI_SUM, c2);
        MPI_Comm_free(&c2);
        MPI_Group_free(&reversed);
        MPI_Group_free(&world);
        free(order);
    } else if (strcmp(mode, "intercomm") == 0) {
        /* Rank 1 alone against the others, through world ranks 0 and 1. */
        MPI_Comm inter, merged;
        MPI_Intercomm_create(pair, 0, MPI_COMM_WORLD, rank == 1 ? 0 : 1, 9, &inter);
        MPI_Intercomm_merge(inter, rank == 1, &merged);
        MPI_Allreduce(&value, &total, 1, MPI_LONG, MPI_SUM, merged);
        MPI_Comm_free(&merged);
        MPI_Comm_free(&inter);
        MPI_Comm_free(&pair);
    } else if (rank == 1) {
        for (int r = 0; r < size; r++)
            if (r != 1)
                MPI_Send(&value, 1, MPI_LONG, r, 0, MPI_COMM_WORLD);
        total = value;
    } else {
        MPI_Recv(&total, 1, MPI_LONG, 1, 0, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
    }
    if (rank == 0)
        printf("result %ld\n", total);
    MPI_Finalize();
    return 0;
}

/*
 * datatypes_all.c - derived datatype constructors and datatype utilities:
 * MPI_Type_indexed, Type_create_hindexed, Type_create_indexed_block,
 * Type_create_hvector, Type_create_subarray, Type_create_darray, Type_dup,
 * Type_get_envelope/Type_get_contents decoding a struct type built with
 * MPI_Get_address, MPI_Pack/Unpack with MPI_Pack_size,
 * MPI_Pack_external/Unpack_external ("external32") and MPI_Get_elements.
 * Each type carries data between ring neighbours and the received buffer
 * is compared element by element with what the type selects.  Derived
 * datatypes are MPI objects that a checkpoint/restart system recreates.
 *
 * Build: mpicc.mpich -std=gnu11 -O2 -Wall -Wextra -Werror datatypes_all.c -o datatypes_all
 */
#include <mpi.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NAME "datatypes_all"
#include "example_check.h"

static int g_rank, g_size;
static long g_checksum;

/* Value of element i of a sender's source buffer. */
static int val(int sender, int i) { return sender * 1000 + i; }

/* Sends sbuf (typed stype, count 1) to the right and receives into rbuf
 * (typed rtype, count rcount) from the left. */
static void ring(const void *sbuf, MPI_Datatype stype, void *rbuf, int rcount, MPI_Datatype rtype)
{
    int right = (g_rank + 1) % g_size, left = (g_rank + g_size - 1) % g_size;
    MPI_Sendrecv(sbuf, 1, stype, right, 11, rbuf, rcount, rtype, left, 11, MPI_COMM_WORLD,
                 MPI_STATUS_IGNORE);
}

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    int rank, size;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    g_rank = rank;
    g_size = size;
    const int left = (rank + size - 1) % size;
    enum { N = 64 };
    int src[N], dst[N];
    for (int i = 0; i < N; i++)
        src[i] = val(rank, i);

    /* Type_indexed: blocks {2 at 1}, {3 at 10}, {1 at 20} -> 6 contiguous ints. */
    {
        int bl[3] = { 2, 3, 1 }, dp[3] = { 1, 10, 20 };
        MPI_Datatype t;
        MPI_Type_indexed(3, bl, dp, MPI_INT, &t);
        MPI_Type_commit(&t);
        int sz = -1;
        MPI_Type_size(t, &sz);
        check(sz == 6 * (int)sizeof(int), "indexed size %d", sz);
        memset(dst, -1, sizeof dst);
        ring(src, t, dst, 6, MPI_INT);
        int want[6] = { 1, 2, 10, 11, 12, 20 };
        for (int i = 0; i < 6; i++) {
            check(dst[i] == val(left, want[i]), "indexed [%d]=%d", i, dst[i]);
            g_checksum += dst[i];
        }
        MPI_Type_free(&t);
    }

    /* Type_create_hindexed with byte displacements, received as the same type. */
    {
        int bl[2] = { 3, 2 };
        MPI_Aint dp[2] = { 4 * sizeof(int), 30 * sizeof(int) };
        MPI_Datatype t;
        MPI_Type_create_hindexed(2, bl, dp, MPI_INT, &t);
        MPI_Type_commit(&t);
        for (int i = 0; i < N; i++)
            dst[i] = -1;
        ring(src, t, dst, 1, t);
        for (int i = 0; i < N; i++) {
            int in = (i >= 4 && i < 7) || (i >= 30 && i < 32);
            check(dst[i] == (in ? val(left, i) : -1), "hindexed [%d]=%d", i, dst[i]);
            if (in)
                g_checksum += dst[i];
        }
        MPI_Type_free(&t);
    }

    /* Type_create_indexed_block: 4 blocks of 2 at 0, 8, 16, 40. */
    {
        int dp[4] = { 0, 8, 16, 40 };
        MPI_Datatype t;
        MPI_Type_create_indexed_block(4, 2, dp, MPI_INT, &t);
        MPI_Type_commit(&t);
        memset(dst, -1, sizeof dst);
        ring(src, t, dst, 8, MPI_INT);
        for (int b = 0; b < 4; b++)
            for (int k = 0; k < 2; k++) {
                check(dst[2 * b + k] == val(left, dp[b] + k), "indexed_block [%d]=%d", 2 * b + k,
                      dst[2 * b + k]);
                g_checksum += dst[2 * b + k];
            }
        MPI_Type_free(&t);
    }

    /* Type_create_hvector: 5 blocks of 3 ints, stride 7 ints in bytes. */
    {
        MPI_Datatype t;
        MPI_Type_create_hvector(5, 3, 7 * sizeof(int), MPI_INT, &t);
        MPI_Type_commit(&t);
        MPI_Aint lb, ext;
        MPI_Type_get_extent(t, &lb, &ext);
        check(lb == 0 && ext == (MPI_Aint)((4 * 7 + 3) * sizeof(int)), "hvector extent %ld",
              (long)ext);
        memset(dst, -1, sizeof dst);
        ring(src, t, dst, 15, MPI_INT);
        for (int b = 0; b < 5; b++)
            for (int k = 0; k < 3; k++) {
                check(dst[3 * b + k] == val(left, 7 * b + k), "hvector [%d]=%d", 3 * b + k,
                      dst[3 * b + k]);
                g_checksum += dst[3 * b + k];
            }
        MPI_Type_free(&t);
    }

    /* Type_create_subarray: 3x4 block at (2,1) of an 8x8 C-order array. */
    {
        int sizes[2] = { 8, 8 }, sub[2] = { 3, 4 }, start[2] = { 2, 1 };
        MPI_Datatype t;
        MPI_Type_create_subarray(2, sizes, sub, start, MPI_ORDER_C, MPI_INT, &t);
        MPI_Type_commit(&t);
        MPI_Aint lb, ext;
        MPI_Type_get_extent(t, &lb, &ext);
        check(lb == 0 && ext == (MPI_Aint)(64 * sizeof(int)), "subarray extent %ld", (long)ext);
        memset(dst, -1, sizeof dst);
        ring(src, t, dst, 12, MPI_INT);
        for (int i = 0; i < 3; i++)
            for (int j = 0; j < 4; j++) {
                int got = dst[i * 4 + j];
                check(got == val(left, (2 + i) * 8 + 1 + j), "subarray (%d,%d)=%d", i, j, got);
                g_checksum += got;
            }
        MPI_Type_free(&t);
    }

    /* Type_create_darray: an 8x8 array block-distributed over a size x 1
     * process grid (rows split); this rank's piece is rows [rank*8/size..). */
    {
        int gs[2] = { 8, 8 }, distr[2] = { MPI_DISTRIBUTE_BLOCK, MPI_DISTRIBUTE_NONE };
        int dargs[2] = { MPI_DISTRIBUTE_DFLT_DARG, MPI_DISTRIBUTE_DFLT_DARG }, ps[2] = { size, 1 };
        MPI_Datatype t;
        MPI_Type_create_darray(size, rank, 2, gs, distr, dargs, ps, MPI_ORDER_C, MPI_INT, &t);
        MPI_Type_commit(&t);
        int blk = (8 + size - 1) / size;
        int r0 = rank * blk, r1 = r0 + blk > 8 ? 8 : r0 + blk;
        int nrows = r1 > r0 ? r1 - r0 : 0;
        int sz = -1;
        MPI_Type_size(t, &sz);
        check(sz == nrows * 8 * (int)sizeof(int), "darray size %d rows %d", sz, nrows);
        /* Pack locally: packing the whole array with t yields my rows. */
        int packsz = 0;
        MPI_Pack_size(1, t, MPI_COMM_WORLD, &packsz);
        char *pb = xmalloc((size_t)packsz);
        int pos = 0;
        MPI_Pack(src, 1, t, pb, packsz, &pos, MPI_COMM_WORLD);
        check(pos == sz, "darray pack position %d", pos);
        int *rows = xmalloc(sizeof(int) * (size_t)(nrows * 8));
        pos = 0;
        MPI_Unpack(pb, packsz, &pos, rows, nrows * 8, MPI_INT, MPI_COMM_WORLD);
        for (int i = 0; i < nrows * 8; i++) {
            check(rows[i] == val(rank, r0 * 8 + i), "darray elem %d = %d", i, rows[i]);
            g_checksum += rows[i];
        }
        free(rows);
        free(pb);
        MPI_Type_free(&t);
    }

    /* A struct type, described with MPI_Get_address, duplicated, decoded. */
    struct rec { int id; double x[2]; char tag[5]; } recs[3], rrecs[3];
    {
        MPI_Aint base, a[3];
        MPI_Get_address(&recs[0], &base);
        MPI_Get_address(&recs[0].id, &a[0]);
        MPI_Get_address(&recs[0].x, &a[1]);
        MPI_Get_address(&recs[0].tag, &a[2]);
        for (int i = 0; i < 3; i++)
            a[i] -= base;
        check(a[1] == (MPI_Aint)offsetof(struct rec, x) && a[2] == (MPI_Aint)offsetof(struct rec, tag),
              "get_address offsets %ld %ld", (long)a[1], (long)a[2]);
        int bl[3] = { 1, 2, 5 };
        MPI_Datatype ty[3] = { MPI_INT, MPI_DOUBLE, MPI_CHAR }, st0, st;
        MPI_Type_create_struct(3, bl, a, ty, &st0);
        MPI_Type_create_resized(st0, 0, sizeof(struct rec), &st);
        MPI_Type_commit(&st);

        /* Envelope and contents of the struct. */
        int ni, na, nd, comb;
        MPI_Type_get_envelope(st0, &ni, &na, &nd, &comb);
        check(comb == MPI_COMBINER_STRUCT && ni == 4 && na == 3 && nd == 3,
              "struct envelope comb %d %d %d %d", comb, ni, na, nd);
        int ints[4];
        MPI_Aint addrs[3];
        MPI_Datatype dts[3];
        MPI_Type_get_contents(st0, 4, 3, 3, ints, addrs, dts);
        check(ints[0] == 3 && ints[1] == 1 && ints[2] == 2 && ints[3] == 5, "struct contents ints");
        for (int i = 0; i < 3; i++)
            check(addrs[i] == a[i] && dts[i] == ty[i], "struct contents %d", i);
        /* Predefined types come back as themselves (must not be freed). */
        MPI_Type_get_envelope(MPI_INT, &ni, &na, &nd, &comb);
        check(comb == MPI_COMBINER_NAMED, "MPI_INT combiner %d", comb);

        MPI_Datatype d;
        MPI_Type_dup(st, &d);
        MPI_Type_get_envelope(d, &ni, &na, &nd, &comb);
        check(comb == MPI_COMBINER_DUP && ni == 0 && na == 0 && nd == 1, "dup envelope %d", comb);
        MPI_Datatype inner;
        MPI_Type_get_contents(d, 0, 0, 1, NULL, NULL, &inner);
        MPI_Type_get_envelope(inner, &ni, &na, &nd, &comb);
        check(comb == MPI_COMBINER_RESIZED, "dup inner combiner %d", comb);
        MPI_Type_free(&inner);

        memset(recs, 0, sizeof recs);
        memset(rrecs, 0, sizeof rrecs);
        for (int i = 0; i < 3; i++) {
            recs[i].id = val(rank, i);
            recs[i].x[0] = rank + 0.5 * i;
            recs[i].x[1] = -rank - 0.25 * i;
            memcpy(recs[i].tag, (char[5]){ 'r', (char)('0' + rank % 10), 'n', (char)('0' + i), 0 }, 5);
        }
        int right = (rank + 1) % size;
        MPI_Status stt;
        MPI_Sendrecv(recs, 3, d, right, 12, rrecs, 3, st, left, 12, MPI_COMM_WORLD, &stt);
        int cnt = -1, el = -1;
        MPI_Get_count(&stt, st, &cnt);
        MPI_Get_elements(&stt, st, &el);
        check(cnt == 3 && el == 3 * 8, "struct count %d elements %d", cnt, el);
        for (int i = 0; i < 3; i++) {
            const char want[5] = { 'r', (char)('0' + left % 10), 'n', (char)('0' + i), 0 };
            check(rrecs[i].id == val(left, i) && rrecs[i].x[0] == left + 0.5 * i &&
                      rrecs[i].x[1] == -left - 0.25 * i && memcmp(rrecs[i].tag, want, 5) == 0,
                  "struct rec %d", i);
            g_checksum += rrecs[i].id + (long)(4 * rrecs[i].x[0]);
        }

        /* Pack/Unpack the records plus a header int into one buffer. */
        int ps1, ps2;
        MPI_Pack_size(1, MPI_INT, MPI_COMM_WORLD, &ps1);
        MPI_Pack_size(3, st, MPI_COMM_WORLD, &ps2);
        int cap = ps1 + ps2;
        char *buf = xmalloc((size_t)cap), *rbuf = xmalloc((size_t)cap);
        int pos = 0, hdr = 4242 + rank;
        MPI_Pack(&hdr, 1, MPI_INT, buf, cap, &pos, MPI_COMM_WORLD);
        MPI_Pack(recs, 3, st, buf, cap, &pos, MPI_COMM_WORLD);
        check(pos <= cap, "pack position %d > %d", pos, cap);
        MPI_Sendrecv(buf, pos, MPI_PACKED, right, 13, rbuf, cap, MPI_PACKED, left, 13,
                     MPI_COMM_WORLD, &stt);
        int got = -1;
        MPI_Get_count(&stt, MPI_PACKED, &got);
        check(got == pos, "packed count %d want %d", got, pos);
        int rh = -1, up = 0;
        memset(rrecs, 0, sizeof rrecs);
        MPI_Unpack(rbuf, cap, &up, &rh, 1, MPI_INT, MPI_COMM_WORLD);
        MPI_Unpack(rbuf, cap, &up, rrecs, 3, st, MPI_COMM_WORLD);
        check(rh == 4242 + left && up == got, "unpacked header %d pos %d", rh, up);
        for (int i = 0; i < 3; i++)
            check(rrecs[i].id == val(left, i) && rrecs[i].x[1] == -left - 0.25 * i,
                  "unpacked rec %d", i);
        g_checksum += rh;
        free(buf);
        free(rbuf);

        MPI_Type_free(&d);
        MPI_Type_free(&st);
        MPI_Type_free(&st0);
    }

    /* Pack_external/Unpack_external: external32 is big-endian, fixed size. */
    {
        int iv[3] = { 1, 258, -2 };
        double dv = 1.5;
        MPI_Aint esz = 0, esz2 = 0;
        MPI_Pack_external_size("external32", 3, MPI_INT, &esz);
        MPI_Pack_external_size("external32", 1, MPI_DOUBLE, &esz2);
        check(esz == 12 && esz2 == 8, "external32 sizes %ld %ld", (long)esz, (long)esz2);
        unsigned char eb[20];
        MPI_Aint pos = 0;
        MPI_Pack_external("external32", iv, 3, MPI_INT, eb, sizeof eb, &pos);
        MPI_Pack_external("external32", &dv, 1, MPI_DOUBLE, eb, sizeof eb, &pos);
        check(pos == 20, "external32 position %ld", (long)pos);
        static const unsigned char want[20] = { 0, 0, 0, 1, 0, 0, 1, 2, 0xff, 0xff, 0xff, 0xfe,
                                                0x3f, 0xf8, 0, 0, 0, 0, 0, 0 };
        check(memcmp(eb, want, 20) == 0, "external32 bytes differ");
        int ov[3] = { 0, 0, 0 };
        double od = 0;
        pos = 0;
        MPI_Unpack_external("external32", eb, sizeof eb, &pos, ov, 3, MPI_INT);
        MPI_Unpack_external("external32", eb, sizeof eb, &pos, &od, 1, MPI_DOUBLE);
        check(ov[0] == 1 && ov[1] == 258 && ov[2] == -2 && od == 1.5, "external32 unpack");
        /* Send the external32 bytes around the ring and unpack them there. */
        unsigned char rb[20];
        MPI_Sendrecv(eb, 20, MPI_BYTE, (rank + 1) % size, 14, rb, 20, MPI_BYTE, left, 14,
                     MPI_COMM_WORLD, MPI_STATUS_IGNORE);
        check(memcmp(rb, want, 20) == 0, "external32 bytes after ring");
        for (int i = 0; i < 20; i++)
            g_checksum += rb[i];
    }

    /* Get_elements on a partial receive of a vector type. */
    {
        MPI_Datatype v;
        MPI_Type_vector(2, 3, 5, MPI_INT, &v);
        MPI_Type_commit(&v);
        MPI_Status stt;
        memset(dst, -1, sizeof dst);
        /* Send 4 ints: fills one vector only partly. */
        MPI_Sendrecv(src, 4, MPI_INT, (rank + 1) % size, 15, dst, 1, v, left, 15, MPI_COMM_WORLD,
                     &stt);
        int el = -1, cnt = -1;
        MPI_Get_elements(&stt, v, &el);
        MPI_Get_count(&stt, v, &cnt);
        check(el == 4 && cnt == MPI_UNDEFINED, "partial vector elements %d count %d", el, cnt);
        check(dst[0] == val(left, 0) && dst[2] == val(left, 2) && dst[3] == -1 &&
                  dst[5] == val(left, 3) && dst[6] == -1,
              "partial vector contents %d %d %d %d", dst[0], dst[3], dst[5], dst[6]);
        g_checksum += el;
        MPI_Type_free(&v);
    }

    long total = 0;
    MPI_Reduce(&g_checksum, &total, 1, MPI_LONG, MPI_SUM, 0, MPI_COMM_WORLD);
    if (rank == 0)
        printf("datatypes_all on %d ranks: checksum %ld\n", size, total);

    int rc = finish(rank, size);
    MPI_Finalize();
    return rc;
}

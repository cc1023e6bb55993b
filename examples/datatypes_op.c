/*
 * datatypes_op.c - derived datatypes and user-defined reduction operators:
 * MPI_Type_contiguous, MPI_Type_vector, MPI_Type_create_struct for a C struct
 * with padding (resized to sizeof with MPI_Type_create_resized), size/extent
 * queries, point-to-point transfers of each type, a commutative MPI_Op on the
 * struct type used in MPI_Allreduce and MPI_Reduce, and a non-commutative
 * MPI_Op (2x2 matrix product) used in MPI_Reduce and in an MPI_Ireduce whose
 * op is freed before it completes, all checked against a serial computation.  User operators are callbacks from inside the MPI
 * library into application code, and datatypes and operators are library
 * objects that a checkpoint/restart system has to recreate.
 *
 * Build: mpicc.mpich -std=gnu11 -O2 -Wall -Wextra -Werror datatypes_op.c -o datatypes_op
 */
#include <mpi.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NAME "datatypes_op"
#include "example_check.h"

struct item {
    int id;
    double val[3];
    char tag;
};

#define NITEMS 5
#define NMATS 3

/* Values are small multiples of 1/4, so maxima and sums are exact. */
static void make_item(struct item *it, int rank, int k)
{
    memset(it, 0, sizeof *it);
    it->id = 100 * rank + k;
    for (int j = 0; j < 3; j++)
        it->val[j] = 0.25 * ((rank * 7 + k * 3 + j * 5) % 11) - 1.0;
    it->tag = (char)('a' + (rank * 3 + k) % 26);
}

static void item_combine(const struct item *in, struct item *io)
{
    io->id += in->id;
    for (int j = 0; j < 3; j++)
        if (in->val[j] > io->val[j])
            io->val[j] = in->val[j];
    if (in->tag < io->tag)
        io->tag = in->tag;
}

/* Commutative: sum of id, element-wise max of val, min of tag. */
static void item_op(void *invec, void *inoutvec, int *len, MPI_Datatype *dt)
{
    (void)dt;
    const struct item *in = invec;
    struct item *io = inoutvec;
    for (int i = 0; i < *len; i++)
        item_combine(&in[i], &io[i]);
}

/* 2x2 matrices of unsigned ints (wrap-around is well defined), row-major. */
typedef struct { unsigned m[4]; } mat2;

static mat2 mat_mul(mat2 a, mat2 b)
{
    mat2 c;
    c.m[0] = a.m[0] * b.m[0] + a.m[1] * b.m[2];
    c.m[1] = a.m[0] * b.m[1] + a.m[1] * b.m[3];
    c.m[2] = a.m[2] * b.m[0] + a.m[3] * b.m[2];
    c.m[3] = a.m[2] * b.m[1] + a.m[3] * b.m[3];
    return c;
}

/* MPI passes the operand from the lower ranks as invec, so
 * inout = in * inout yields M0 * M1 * ... * Mn-1 in rank order. */
static void mat_op(void *invec, void *inoutvec, int *len, MPI_Datatype *dt)
{
    (void)dt;
    const mat2 *in = invec;
    mat2 *io = inoutvec;
    for (int i = 0; i < *len; i++)
        io[i] = mat_mul(in[i], io[i]);
}

/* [[a,1],[1,0]] matrices with different a do not commute, so a reduction in
 * the wrong order gives a different product. */
static mat2 make_mat(int rank, int k)
{
    mat2 x = { { (unsigned)(rank + 2 + k), 1u + (unsigned)k, 1u, (unsigned)(k % 2) } };
    return x;
}

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    int rank, size;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    /* A blocking MPI_Send to oneself may wait for the matching receive
     * forever (it does in MPICH), so the ring below needs a real peer. */
    if (size < 2) {
        printf("%s: FAIL (needs at least 2 ranks)\n", NAME);
        MPI_Finalize();
        return 1;
    }
    const int right = (rank + 1) % size, left = (rank + size - 1) % size;
    MPI_Aint lb, extent;
    int tsize;

    /* --- contiguous: blocks of 4 ints --- */
    MPI_Datatype quad;
    MPI_Type_contiguous(4, MPI_INT, &quad);
    MPI_Type_commit(&quad);
    MPI_Type_size(quad, &tsize);
    MPI_Type_get_extent(quad, &lb, &extent);
    check(tsize == 16 && lb == 0 && extent == 16, "contiguous: size %d lb %ld extent %ld",
          tsize, (long)lb, (long)extent);

    /* --- vector: every other pair of doubles out of rows of 4 --- */
    MPI_Datatype strided;
    MPI_Type_vector(5, 2, 4, MPI_DOUBLE, &strided);
    MPI_Type_commit(&strided);
    MPI_Type_size(strided, &tsize);
    MPI_Type_get_extent(strided, &lb, &extent);
    check(tsize == 80 && lb == 0 && extent == (MPI_Aint)(18 * sizeof(double)),
          "vector: size %d lb %ld extent %ld", tsize, (long)lb, (long)extent);

    /* --- struct with padding, resized so that arrays of it work --- */
    MPI_Datatype item_raw, item_t;
    int blens[3] = { 1, 3, 1 };
    MPI_Aint displs[3] = { offsetof(struct item, id), offsetof(struct item, val),
                           offsetof(struct item, tag) };
    MPI_Datatype types[3] = { MPI_INT, MPI_DOUBLE, MPI_CHAR };
    MPI_Type_create_struct(3, blens, displs, types, &item_raw);
    MPI_Type_create_resized(item_raw, 0, (MPI_Aint)sizeof(struct item), &item_t);
    MPI_Type_free(&item_raw);
    MPI_Type_commit(&item_t);
    MPI_Type_size(item_t, &tsize);
    MPI_Type_get_extent(item_t, &lb, &extent);
    check(tsize == (int)(sizeof(int) + 3 * sizeof(double) + 1) && lb == 0 &&
          extent == (MPI_Aint)sizeof(struct item),
          "struct: size %d lb %ld extent %ld", tsize, (long)lb, (long)extent);

    /* Ring transfers of each type with blocking calls.  Rank 0 sends first
     * and everyone else receives first, so the ring cannot deadlock. */
    int qsend[12], qrecv[12];
    for (int i = 0; i < 12; i++) {
        qsend[i] = rank * 100 + i;
        qrecv[i] = -1;
    }
    double mat[5][4], flat[10];
    for (int i = 0; i < 5; i++)
        for (int j = 0; j < 4; j++)
            mat[i][j] = rank * 1000.0 + i * 4 + j;
    struct item isend[NITEMS], irecv[NITEMS];
    for (int k = 0; k < NITEMS; k++)
        make_item(&isend[k], rank, k);
    memset(irecv, 0, sizeof irecv);

    for (int phase = 0; phase < 2; phase++) {
        int sending = (phase == 0) == (rank == 0);
        if (sending) {
            MPI_Send(qsend, 3, quad, right, 1, MPI_COMM_WORLD);
            MPI_Send(&mat[0][0], 1, strided, right, 2, MPI_COMM_WORLD);
            MPI_Send(isend, NITEMS, item_t, right, 3, MPI_COMM_WORLD);
        } else {
            MPI_Status st;
            int n;
            /* Contiguous type received as plain ints: only the type
             * signatures have to match. */
            MPI_Recv(qrecv, 12, MPI_INT, left, 1, MPI_COMM_WORLD, &st);
            MPI_Get_count(&st, MPI_INT, &n);
            check(n == 12, "contiguous: received %d ints", n);
            MPI_Recv(flat, 10, MPI_DOUBLE, left, 2, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
            MPI_Recv(irecv, NITEMS, item_t, left, 3, MPI_COMM_WORLD, &st);
            MPI_Get_count(&st, item_t, &n);
            check(n == NITEMS, "struct: received %d items", n);
        }
    }
    for (int i = 0; i < 12; i++)
        check(qrecv[i] == left * 100 + i, "contiguous: [%d]=%d", i, qrecv[i]);
    for (int b = 0; b < 5; b++)
        for (int j = 0; j < 2; j++) {
            double want = left * 1000.0 + b * 4 + j;
            check(flat[2 * b + j] == want, "vector: [%d]=%.6e want %.6e", 2 * b + j,
                  flat[2 * b + j], want);
        }
    for (int k = 0; k < NITEMS; k++) {
        struct item w;
        make_item(&w, left, k);
        check(irecv[k].id == w.id && irecv[k].tag == w.tag && irecv[k].val[0] == w.val[0] &&
              irecv[k].val[1] == w.val[1] && irecv[k].val[2] == w.val[2],
              "struct: item %d id %d tag %c", k, irecv[k].id, irecv[k].tag);
    }

    /* --- commutative user op on the struct type --- */
    MPI_Op item_max;
    MPI_Op_create(item_op, 1, &item_max);
    struct item expect[NITEMS];
    for (int k = 0; k < NITEMS; k++) {
        make_item(&expect[k], 0, k);
        for (int r = 1; r < size; r++) {
            struct item x;
            make_item(&x, r, k);
            item_combine(&x, &expect[k]);
        }
    }
    struct item ared[NITEMS], red[NITEMS];
    memset(ared, 0, sizeof ared);
    memset(red, 0, sizeof red);
    MPI_Allreduce(isend, ared, NITEMS, item_t, item_max, MPI_COMM_WORLD);
    MPI_Reduce(isend, red, NITEMS, item_t, item_max, size - 1, MPI_COMM_WORLD);
    for (int k = 0; k < NITEMS; k++) {
        for (int pass = 0; pass < 2; pass++) {
            const struct item *g = pass == 0 ? &ared[k] : &red[k];
            if (pass == 1 && rank != size - 1)
                continue;
            check(g->id == expect[k].id && g->tag == expect[k].tag &&
                  g->val[0] == expect[k].val[0] && g->val[1] == expect[k].val[1] &&
                  g->val[2] == expect[k].val[2],
                  "%s item %d: id %d tag %c val %.6e", pass ? "reduce" : "allreduce", k,
                  g->id, g->tag, g->val[0]);
        }
    }

    /* --- non-commutative user op: ordered matrix product --- */
    MPI_Op mat_prod;
    MPI_Op_create(mat_op, 0, &mat_prod);
    mat2 mine[NMATS], prod[NMATS];
    for (int k = 0; k < NMATS; k++) {
        mine[k] = make_mat(rank, k);
        memset(&prod[k], 0, sizeof prod[k]);
    }
    MPI_Reduce(mine, prod, NMATS, quad, mat_prod, 0, MPI_COMM_WORLD);
    if (rank == 0) {
        for (int k = 0; k < NMATS; k++) {
            mat2 e = make_mat(0, k), rev = make_mat(size - 1, k);
            for (int r = 1; r < size; r++)
                e = mat_mul(e, make_mat(r, k));
            for (int r = size - 2; r >= 0; r--)
                rev = mat_mul(rev, make_mat(r, k));
            check(memcmp(&e, &prod[k], sizeof e) == 0,
                  "matrix product %d: got [%u %u; %u %u] want [%u %u; %u %u]%s", k,
                  prod[k].m[0], prod[k].m[1], prod[k].m[2], prod[k].m[3],
                  e.m[0], e.m[1], e.m[2], e.m[3],
                  memcmp(&rev, &prod[k], sizeof rev) == 0 ? " (reversed order)" : "");
        }
    }

    /* --- an op freed while a nonblocking reduction using it is pending:
     * MPI completes the reduction with it, even when a new op is created
     * before the reduction completes --- */
    MPI_Op late_prod, other;
    mat2 late[NMATS];
    MPI_Request late_req;
    MPI_Op_create(mat_op, 0, &late_prod);
    MPI_Ireduce(mine, late, NMATS, quad, late_prod, size - 1, MPI_COMM_WORLD, &late_req);
    MPI_Op_free(&late_prod);
    MPI_Op_create(item_op, 1, &other);
    struct item ared2[NITEMS];
    memset(ared2, 0, sizeof ared2);
    MPI_Allreduce(isend, ared2, NITEMS, item_t, other, MPI_COMM_WORLD);
    MPI_Wait(&late_req, MPI_STATUS_IGNORE);
    MPI_Op_free(&other);
    check(late_prod == MPI_OP_NULL && memcmp(ared, ared2, sizeof ared) == 0, "op freed while pending: allreduce");
    if (rank == size - 1) {
        for (int k = 0; k < NMATS; k++) {
            mat2 e = make_mat(0, k);
            for (int r = 1; r < size; r++)
                e = mat_mul(e, make_mat(r, k));
            check(memcmp(&e, &late[k], sizeof e) == 0, "op freed while pending: product %d: [%u %u; %u %u]", k,
                  late[k].m[0], late[k].m[1], late[k].m[2], late[k].m[3]);
        }
    }

    MPI_Op_free(&item_max);
    MPI_Op_free(&mat_prod);
    MPI_Type_free(&quad);
    MPI_Type_free(&strided);
    MPI_Type_free(&item_t);
    check(item_max == MPI_OP_NULL && mat_prod == MPI_OP_NULL && quad == MPI_DATATYPE_NULL &&
          strided == MPI_DATATYPE_NULL && item_t == MPI_DATATYPE_NULL,
          "free: handles not reset");

    if (rank == 0) {
        printf("datatypes_op on %d ranks\n", size);
        printf("struct item: size %d extent %zu\n",
               (int)(sizeof(int) + 3 * sizeof(double) + 1), sizeof(struct item));
        for (int k = 0; k < NITEMS; k++)
            printf("allreduce item %d: id %d val %.6e %.6e %.6e tag %c\n", k, ared[k].id,
                   ared[k].val[0], ared[k].val[1], ared[k].val[2], ared[k].tag);
        for (int k = 0; k < NMATS; k++)
            printf("ordered product %d: [%u %u; %u %u]\n", k, prod[k].m[0], prod[k].m[1],
                   prod[k].m[2], prod[k].m[3]);
    }

    int rc = finish(rank, size);
    MPI_Finalize();
    return rc;
}

/* Makes MPI objects of every kind the record log replays (communicators by
 * dup, split, create, cart and cart_sub; groups; derived datatypes, one
 * built from a type freed before the replay; a user op; an info; a keyval
 * with an attribute; a user error handler; a name), frees some, then calls
 * MPI_Pcontrol(99): under MANA with MANA_DEBUG=replay that replays the
 * record log on the live lower half, so every object is made again and
 * every id now names the new object. It then uses every object and prints
 * what it got, which must equal the native run (where MPI_Pcontrol does
 * nothing). */
#include <mpi.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

struct pair {
    int i;
    double d;
};

/* A sum (the callers pass squares): associative and commutative, as its
 * MPI_Op_create says, so every MPI reduces to the same result. */
static void sum_of_squares(void *in, void *inout, int *len, MPI_Datatype *type)
{
    int *a = in, *b = inout;
    int size;
    MPI_Type_size(*type, &size); /* MPI from inside the op, with the type the program knows */
    for (int k = 0; k < *len; k++)
        b[k] = a[k] + b[k] + (size == (int)sizeof(int) ? 0 : 1000);
}

static int handler_calls;
static void handler(MPI_Comm *comm, int *code, ...)
{
    (void)comm;
    (void)code;
    handler_calls++;
}

static int delete_calls;
static int delete_attr(MPI_Comm comm, int keyval, void *value, void *extra)
{
    (void)comm;
    (void)keyval;
    (void)value;
    (void)extra;
    delete_calls++;
    return MPI_SUCCESS;
}

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    int rank, size;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);

    /* Communicators. */
    MPI_Comm dup, gone, half, evens = MPI_COMM_NULL, cart, row;
    MPI_Comm_dup(MPI_COMM_WORLD, &dup);
    MPI_Comm_set_name(dup, "replayed-dup");
    MPI_Comm_dup(dup, &gone);
    MPI_Comm_split(MPI_COMM_WORLD, rank % 2, -rank, &half);
    MPI_Group world_group, even_group, odd_group, all_group;
    MPI_Comm_group(MPI_COMM_WORLD, &world_group);
    int evens_ranks[64], n_even = 0;
    for (int r = 0; r < size; r += 2)
        evens_ranks[n_even++] = r;
    MPI_Group_incl(world_group, n_even, evens_ranks, &even_group);
    MPI_Group_excl(world_group, n_even, evens_ranks, &odd_group);
    MPI_Group_union(odd_group, even_group, &all_group);
    MPI_Comm_create(MPI_COMM_WORLD, even_group, &evens);
    int dims[2] = {0, 0}, periods[2] = {1, 0};
    MPI_Dims_create(size, 2, dims);
    MPI_Cart_create(MPI_COMM_WORLD, 2, dims, periods, 0, &cart);
    int remain[2] = {0, 1};
    MPI_Cart_sub(cart, remain, &row);
    MPI_Group_free(&even_group); /* still needed by the record of evens */
    MPI_Comm_free(&gone);

    /* Datatypes: a vector, a struct of (int, double) resized to its C size,
     * a contiguous of the struct; the vector is freed once the struct of
     * vectors is built from it. */
    MPI_Datatype vec, vecs, pair_raw, pair_t, pairs3;
    MPI_Type_vector(2, 1, 2, MPI_INT, &vec);
    int bl[2] = {1, 1};
    MPI_Aint disp[2] = {0, 4 * (MPI_Aint)sizeof(int)};
    MPI_Datatype vtypes[2] = {vec, vec};
    MPI_Type_create_struct(2, bl, disp, vtypes, &vecs);
    MPI_Type_commit(&vecs);
    MPI_Type_free(&vec);
    int pbl[2] = {1, 1};
    MPI_Aint pdisp[2] = {offsetof(struct pair, i), offsetof(struct pair, d)};
    MPI_Datatype ptypes[2] = {MPI_INT, MPI_DOUBLE};
    MPI_Type_create_struct(2, pbl, pdisp, ptypes, &pair_raw);
    MPI_Type_create_resized(pair_raw, 0, sizeof(struct pair), &pair_t);
    MPI_Type_commit(&pair_t);
    MPI_Type_contiguous(3, pair_t, &pairs3);
    MPI_Type_commit(&pairs3);

    /* An op, an info, a keyval with an attribute, an error handler. */
    MPI_Op op;
    MPI_Op_create(sum_of_squares, 1, &op);
    MPI_Info info;
    MPI_Info_create(&info);
    MPI_Info_set(info, "color", "blue");
    MPI_Info_set(info, "shape", "round");
    MPI_Info_delete(info, "shape");
    int keyval;
    static int attr_value = 42;
    MPI_Comm_create_keyval(MPI_COMM_NULL_COPY_FN, delete_attr, &keyval, NULL);
    MPI_Comm_set_attr(dup, keyval, &attr_value);
    MPI_Errhandler eh;
    MPI_Comm_create_errhandler(handler, &eh);
    MPI_Comm_set_errhandler(half, eh);
    MPI_Errhandler_free(&eh);

    MPI_Pcontrol(99);

    char out[1024];
    int n = 0;
    /* Collectives over the replayed communicators. */
    int s = 0, hs = 0, es = -1, rs = 0;
    MPI_Allreduce(&rank, &s, 1, MPI_INT, MPI_SUM, dup);
    MPI_Allreduce(&rank, &hs, 1, MPI_INT, MPI_SUM, half);
    if (evens != MPI_COMM_NULL)
        MPI_Allreduce(&rank, &es, 1, MPI_INT, MPI_SUM, evens);
    MPI_Allreduce(&rank, &rs, 1, MPI_INT, MPI_SUM, row);
    int hrank, coords[2];
    MPI_Comm_rank(half, &hrank);
    MPI_Cart_coords(cart, rank, 2, coords);
    n += snprintf(out + n, sizeof out - n, "rank %d: dup %d half %d (rank %d) evens %d row %d coords %d,%d;", rank,
                  s, hs, hrank, es, rs, coords[0], coords[1]);
    /* Groups. */
    int gsize, cmp;
    MPI_Group_size(all_group, &gsize);
    MPI_Group_compare(all_group, world_group, &cmp);
    n += snprintf(out + n, sizeof out - n, " group %d %s;", gsize, cmp == MPI_SIMILAR ? "similar" : "other");
    /* Datatypes: a ring of pairs and of strided ints. */
    struct pair mine[3], got[3];
    for (int k = 0; k < 3; k++)
        mine[k] = (struct pair){rank * 10 + k, rank + k / 4.0};
    int next = (rank + 1) % size, prev = (rank + size - 1) % size;
    MPI_Sendrecv(mine, 1, pairs3, next, 1, got, 1, pairs3, prev, 1, dup, MPI_STATUS_IGNORE);
    int ints[8] = {rank, -1, rank + 1, -1, rank + 2, -1, rank + 3, -1}, rints[8] = {0};
    MPI_Sendrecv(ints, 1, vecs, next, 2, rints, 1, vecs, prev, 2, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
    MPI_Aint lb, extent;
    MPI_Type_get_extent(pair_t, &lb, &extent);
    n += snprintf(out + n, sizeof out - n, " pairs %d/%.2f %d/%.2f ints %d %d %d %d extent %ld;", got[0].i, got[0].d,
                  got[2].i, got[2].d, rints[0], rints[2], rints[4], rints[6], (long)extent);
    /* The user op. */
    int sq = 0, square = rank * rank;
    MPI_Allreduce(&square, &sq, 1, MPI_INT, op, MPI_COMM_WORLD);
    /* Info, attribute, name, error handler. */
    char value[32] = "";
    int flag = 0, flag2 = 1, nkeys = 0;
    MPI_Info_get(info, "color", sizeof value - 1, value, &flag);
    MPI_Info_get_nkeys(info, &nkeys);
    int *attr = NULL, aflag = 0;
    MPI_Comm_get_attr(dup, keyval, &attr, &aflag);
    char name[MPI_MAX_OBJECT_NAME];
    int len;
    MPI_Comm_get_name(dup, name, &len);
    int err = MPI_Send(&rank, 1, MPI_INT, size + 5, 0, half);
    (void)flag2;
    n += snprintf(out + n, sizeof out - n, " op %d info %s(%d keys) attr %d name %s errhandler %s %d", sq,
                  flag ? value : "-", nkeys, aflag ? *attr : -1, name, err != MPI_SUCCESS ? "error" : "no error",
                  handler_calls);

    /* Print in rank order. */
    if (rank == 0) {
        printf("%s\n", out);
        for (int r = 1; r < size; r++) {
            MPI_Recv(out, sizeof out, MPI_CHAR, r, 9, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
            printf("%s\n", out);
        }
    } else {
        MPI_Send(out, sizeof out, MPI_CHAR, 0, 9, MPI_COMM_WORLD);
    }

    MPI_Comm_free(&dup);
    MPI_Comm_free(&half);
    if (evens != MPI_COMM_NULL)
        MPI_Comm_free(&evens);
    MPI_Comm_free(&row);
    MPI_Comm_free(&cart);
    MPI_Group_free(&world_group);
    MPI_Group_free(&odd_group);
    MPI_Group_free(&all_group);
    MPI_Type_free(&vecs);
    MPI_Type_free(&pair_raw);
    MPI_Type_free(&pair_t);
    MPI_Type_free(&pairs3);
    MPI_Op_free(&op);
    MPI_Info_free(&info);
    MPI_Comm_free_keyval(&keyval);
    if (rank == 0)
        printf("attribute delete callbacks %d\n", delete_calls);
    MPI_Finalize();
    return 0;
}

// C++ with the MPI C API (what MPI-3 C++ programs use): a 2-D Jacobi-style
// halo exchange on a Cartesian grid with std::vector storage and a column
// datatype, an MPI_Allreduce every step, a user reduction op that is a
// static member function, a subcommunicator from MPI_Comm_split, the
// handle conversions MPI_Comm_c2f/f2c, MPI_Type_c2f/f2c, MPI_Op_c2f/f2c
// and MPI_Status_c2f/f2c, and an attribute whose callbacks are C++
// functions with C linkage types. Rank 0 prints; the last line is
// "cxx_capi: OK" or "cxx_capi: FAIL (...)".
// Build: mpicxx.mpich cxx_capi.cpp -o cxx_capi
#define NAME "cxx_capi"
#include "example_check.h"

#include <cstdint>
#include <cstdio>
#include <vector>

namespace {

struct Grid {
    int nx, ny;                 // interior size
    std::vector<long> cells;    // (nx + 2) x (ny + 2), row-major, with halos
    Grid(int x, int y) : nx(x), ny(y), cells((size_t)(x + 2) * (y + 2), 0) {}
    long &at(int i, int j) { return cells[(size_t)j * (nx + 2) + i]; }
};

struct Counters {
    int copies = 0, deletes = 0;
};
Counters counters;

int copy_cb(MPI_Comm, int, void *, void *in, void *out, int *flag)
{
    counters.copies++;
    *static_cast<void **>(out) = in;
    *flag = 1;
    return MPI_SUCCESS;
}

int delete_cb(MPI_Comm, int, void *, void *)
{
    counters.deletes++;
    return MPI_SUCCESS;
}

struct Ops {
    // inout[i] = (in[i] * inout[i]) mod 1000003: commutative, checked.
    static void mulmod(void *in, void *inout, int *len, MPI_Datatype *type)
    {
        check(*type == MPI_LONG, "the user op got another datatype");
        const long *a = static_cast<const long *>(in);
        long *b = static_cast<long *>(inout);
        for (int i = 0; i < *len; i++)
            b[i] = (a[i] * b[i]) % 1000003;
    }
};

} // namespace

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    int rank, size;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);

    int dims[2] = {0, 0}, periods[2] = {1, 1}, coords[2];
    MPI_Dims_create(size, 2, dims);
    MPI_Comm cart;
    MPI_Cart_create(MPI_COMM_WORLD, 2, dims, periods, 0, &cart);
    int crank, west, east, south, north;
    MPI_Comm_rank(cart, &crank);
    MPI_Cart_coords(cart, crank, 2, coords);
    MPI_Cart_shift(cart, 0, 1, &west, &east);
    MPI_Cart_shift(cart, 1, 1, &south, &north);

    Grid g(7, 5);
    MPI_Datatype column;
    MPI_Type_vector(g.ny, 1, g.nx + 2, MPI_LONG, &column);
    MPI_Type_commit(&column);
    for (int j = 1; j <= g.ny; j++)
        for (int i = 1; i <= g.nx; i++)
            g.at(i, j) = 64L * ((coords[0] * g.nx + i) * 5 + (coords[1] * g.ny + j));
    // Made before the halo loop and used in it and after it, so that a
    // checkpoint in the loop has them to rebuild: a subcommunicator, a
    // user op (a static member function), and an attribute with C++
    // callbacks on the grid's communicator.
    MPI_Comm pair;
    MPI_Comm_split(MPI_COMM_WORLD, rank / 2, rank, &pair);
    MPI_Op op;
    MPI_Op_create(&Ops::mulmod, 1, &op);
    int keyval;
    MPI_Comm_create_keyval(copy_cb, delete_cb, &keyval, nullptr);
    static int value = 17;
    MPI_Comm_set_attr(cart, keyval, &value);

    for (int step = 1; step <= 8; step++) {
        MPI_Request r[8];
        MPI_Irecv(&g.at(0, 1), 1, column, west, 1, cart, &r[0]);
        MPI_Irecv(&g.at(g.nx + 1, 1), 1, column, east, 2, cart, &r[1]);
        MPI_Irecv(&g.at(1, 0), g.nx, MPI_LONG, south, 3, cart, &r[2]);
        MPI_Irecv(&g.at(1, g.ny + 1), g.nx, MPI_LONG, north, 4, cart, &r[3]);
        MPI_Isend(&g.at(g.nx, 1), 1, column, east, 1, cart, &r[4]);
        MPI_Isend(&g.at(1, 1), 1, column, west, 2, cart, &r[5]);
        MPI_Isend(&g.at(1, g.ny), g.nx, MPI_LONG, north, 3, cart, &r[6]);
        MPI_Isend(&g.at(1, 1), g.nx, MPI_LONG, south, 4, cart, &r[7]);
        MPI_Waitall(8, r, MPI_STATUSES_IGNORE);
        Grid next = g;
        long local = 0;
        for (int j = 1; j <= g.ny; j++)
            for (int i = 1; i <= g.nx; i++) {
                next.at(i, j) = (4 * g.at(i, j) + g.at(i - 1, j) + g.at(i + 1, j) + g.at(i, j - 1) +
                                 g.at(i, j + 1)) / 8;
                local += next.at(i, j) * ((i + 2 * j) % 5);
            }
        g = next;
        long total = 0;
        // The pair's collective before the grid's: a checkpoint asked for
        // in the former finds the other pairs at the latter, not waiting
        // for halo messages from this pair.
        long factor = local % 1000 + 2, product = 0;
        MPI_Allreduce(&factor, &product, 1, MPI_LONG, op, pair);
        MPI_Allreduce(&local, &total, 1, MPI_LONG, MPI_SUM, cart);
        if (rank == 0)
            std::printf("step %d weighted sum %ld pair product %ld\n", step, total, product);
    }

    // Handle conversions: MPICH's are the identity on the integer handle.
    MPI_Fint fcomm = MPI_Comm_c2f(cart), ftype = MPI_Type_c2f(column);
    check(MPI_Comm_f2c(fcomm) == cart && MPI_Type_f2c(ftype) == column, "c2f/f2c did not round-trip");
    MPI_Type_free(&column);

    // The user op on the subcommunicator.
    check(MPI_Op_f2c(MPI_Op_c2f(op)) == op, "MPI_Op c2f/f2c did not round-trip");
    long v[2] = {rank + 2L, 1000L + rank}, prod[2];
    MPI_Allreduce(v, prod, 2, MPI_LONG, op, pair);
    int psize;
    MPI_Comm_size(pair, &psize);
    long want0 = 1, want1 = 1;
    for (int r = (rank / 2) * 2; r < (rank / 2) * 2 + psize; r++) {
        want0 = want0 * (r + 2) % 1000003;
        want1 = want1 * (1000 + r) % 1000003;
    }
    check(prod[0] == want0 && prod[1] == want1, "user op on the pair gave %ld %ld", prod[0], prod[1]);
    if (rank == 0)
        std::printf("pair product %ld %ld\n", prod[0], prod[1]);
    MPI_Op_free(&op);
    MPI_Comm_free(&pair);

    // A status through its Fortran form and back.
    int got = -1;
    MPI_Status st;
    MPI_Sendrecv(&rank, 1, MPI_INT, (rank + 1) % size, 7, &got, 1, MPI_INT, (rank + size - 1) % size, 7,
                 MPI_COMM_WORLD, &st);
    MPI_Fint fst[MPI_F_STATUS_SIZE];
    MPI_Status back;
    MPI_Status_c2f(&st, fst);
    MPI_Status_f2c(fst, &back);
    int count = 0;
    MPI_Get_count(&back, MPI_INT, &count);
    check(got == (rank + size - 1) % size && back.MPI_SOURCE == got && back.MPI_TAG == 7 && count == 1,
          "the status did not survive c2f/f2c");

    // The attribute, copied by a dup.
    MPI_Comm dup;
    MPI_Comm_dup(cart, &dup);
    int *seen = nullptr, flag = 0;
    MPI_Comm_get_attr(dup, keyval, &seen, &flag);
    check(flag && seen == &value, "the attribute was not copied");
    MPI_Comm_free(&dup);
    MPI_Comm_free_keyval(&keyval);
    MPI_Comm_free(&cart);
    check(counters.copies == 1 && counters.deletes == 2, "callbacks ran %d/%d times", counters.copies,
          counters.deletes);
    if (rank == 0)
        std::printf("attribute copies %d deletes %d\n", counters.copies, counters.deletes);

    int rc = finish(rank, size);
    MPI_Finalize();
    return rc;
}

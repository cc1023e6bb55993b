/* User reduction functions are upper code that the lower MPI calls with
 * the lower %fs live. MPI gives the function no context argument, so each
 * user op gets one of a fixed pool of trampolines; the trampoline switches
 * %fs to the upper half of the thread holding the lower lock (the thread
 * inside the reduction), calls the user's function and switches back. */
#include <stdio.h>

#include "crossing.h"

#define OP_SLOTS 64

static MPI_User_function *op_function[OP_SLOTS];
static MPI_Op op_handle[OP_SLOTS];

static inline __attribute__((always_inline)) void call_user_op(int slot, void *in, void *inout, int *len,
                                                                MPI_Datatype *type)
{
    uint64_t lower_fs = mana_callback_enter();
    op_function[slot](in, inout, len, type);
    mana_callback_leave(lower_fs);
}

#define TRAMPOLINE(name, slot)                                                                             \
    static void op_trampoline_##name(void *in, void *inout, int *len, MPI_Datatype *type)                  \
    {                                                                                                      \
        call_user_op(slot, in, inout, len, type);                                                          \
    }
#define T8(n)                                                                                              \
    TRAMPOLINE(n##0, n * 8 + 0) TRAMPOLINE(n##1, n * 8 + 1) TRAMPOLINE(n##2, n * 8 + 2)                     \
    TRAMPOLINE(n##3, n * 8 + 3) TRAMPOLINE(n##4, n * 8 + 4) TRAMPOLINE(n##5, n * 8 + 5)                     \
    TRAMPOLINE(n##6, n * 8 + 6) TRAMPOLINE(n##7, n * 8 + 7)
T8(0) T8(1) T8(2) T8(3) T8(4) T8(5) T8(6) T8(7)
#define P8(n)                                                                                              \
    op_trampoline_##n##0, op_trampoline_##n##1, op_trampoline_##n##2, op_trampoline_##n##3,                 \
        op_trampoline_##n##4, op_trampoline_##n##5, op_trampoline_##n##6, op_trampoline_##n##7
static MPI_User_function *const op_trampoline[OP_SLOTS] = {P8(0), P8(1), P8(2), P8(3),
                                                           P8(4), P8(5), P8(6), P8(7)};

int MPI_Op_create(MPI_User_function *user_fn, int commute, MPI_Op *op)
{
    int slot = -1;
    for (int i = 0; i < OP_SLOTS; i++) {
        if (op_function[i] == NULL) {
            slot = i;
            break;
        }
    }
    if (slot < 0) {
        fprintf(stderr, "MANA: MPI_Op_create: more than %d user-defined ops exist at once; free some with "
                        "MPI_Op_free (a limit of this version of MANA)\n", OP_SLOTS);
        return MPI_ERR_INTERN;
    }
    struct mana_crossing c;
    mana_cross_enter(&c, "MPI_Op_create");
    int rc = mana_lower->mpi.MPI_Op_create(op_trampoline[slot], commute, op);
    mana_cross_leave(&c);
    if (rc == MPI_SUCCESS) {
        op_function[slot] = user_fn;
        op_handle[slot] = *op;
    }
    return rc;
}
MANA_PMPI_ALIAS(MPI_Op_create)

int MPI_Op_free(MPI_Op *op)
{
    MPI_Op handle = *op;
    struct mana_crossing c;
    mana_cross_enter(&c, "MPI_Op_free");
    int rc = mana_lower->mpi.MPI_Op_free(op);
    mana_cross_leave(&c);
    if (rc == MPI_SUCCESS) {
        for (int i = 0; i < OP_SLOTS; i++) {
            if (op_function[i] != NULL && op_handle[i] == handle) {
                op_function[i] = NULL;
                break;
            }
        }
    }
    return rc;
}
MANA_PMPI_ALIAS(MPI_Op_free)

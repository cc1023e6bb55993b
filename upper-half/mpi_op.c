/* User reduction functions are upper code that the lower MPI calls with
 * the lower %fs live. MPI gives the function no context argument, so each
 * user op gets one of a fixed pool of trampolines; the trampoline switches
 * %fs to the upper half of the thread holding the lower lock (the thread
 * inside the reduction), calls the user's function and switches back.
 * The datatype MPI passes is the lower half's: the user function gets
 * the id the application knows instead. The trampoline's address is what
 * the record log keeps, so a replayed op calls the same slot.
 *
 * MPI_Op_free does not end the function's use: MPI completes the pending
 * reductions that use the op (MPI 4.0, 5.9.5), the application's own
 * nonblocking ones and those a restart posts again for it (ghosts,
 * ckpt_sync.h). A freed op's slot keeps its function, retired, until no
 * collective request is left that MPI could still call it for. */
#include <stdbool.h>
#include <stdio.h>

#include "crossing.h"
#include "mpi_wrap.h"
#include "request_info.h"
#include "upper_mpi_records.h"

#define OP_SLOTS 64

static MPI_User_function *op_function[OP_SLOTS];
static MPI_Op op_handle[OP_SLOTS];
static bool op_retired[OP_SLOTS];

static inline __attribute__((always_inline)) void call_user_op(int slot, void *in, void *inout, int *len,
                                                                MPI_Datatype *type)
{
    uint64_t lower_fs = mana_callback_enter();
    int32_t v = vid_find_real(VID_DATATYPE, MANA_REAL(*type));
    MPI_Datatype app_type = v != VID_INVALID ? (MPI_Datatype)v : *type;
    op_function[slot](in, inout, len, &app_type);
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

/* Whether MPI may still run a reduction it was given earlier: a
 * nonblocking or persistent collective request exists. Lower lock held. */
static bool collective_requests_exist(void)
{
    size_t cursor = 0;
    const struct mana_request_info *d;
    while ((d = mana_request_info_next(&cursor)) != NULL)
        if (d->kind == MANA_REQ_COLLECTIVE)
            return true;
    return false;
}

/* A slot with no function, after taking back the retired ones when
 * nothing can call them any more; -1 if none. Lower lock held. */
static int free_op_slot(void)
{
    for (int pass = 0; pass < 2; pass++) {
        for (int i = 0; i < OP_SLOTS; i++)
            if (op_function[i] == NULL)
                return i;
        if (pass > 0 || collective_requests_exist())
            break;
        for (int i = 0; i < OP_SLOTS; i++) {
            if (op_retired[i]) {
                op_retired[i] = false;
                op_function[i] = NULL;
            }
        }
    }
    return -1;
}

int MPI_Op_create(MPI_User_function *user_fn, int commute, MPI_Op *op)
{
    struct mana_crossing c;
    mana_cross_lock(&c, "MPI_Op_create");
    int slot = free_op_slot();
    if (slot < 0) {
        mana_cross_unlock(&c);
        fprintf(stderr, "MANA: MPI_Op_create: more than %d user-defined ops exist at once, or are freed but "
                        "still in use by pending nonblocking collectives; free some with MPI_Op_free and "
                        "complete those collectives (a limit of this version of MANA)\n", OP_SLOTS);
        return MPI_ERR_INTERN;
    }
    MPI_Op real = MPI_OP_NULL;
    mana_cross_to_lower(&c);
    int rc = mana_lower->mpi.MPI_Op_create(op_trampoline[slot], commute, &real);
    mana_cross_to_upper(&c);
    if (rc == MPI_SUCCESS) {
        if (mana_record_MPI_Op_create(op_trampoline[slot], commute, op, MANA_REAL(real)) == VID_INVALID) {
            rc = MPI_ERR_INTERN;
        } else {
            op_function[slot] = user_fn;
            op_handle[slot] = *op;
        }
    }
    mana_cross_unlock(&c);
    return rc;
}
MANA_PMPI_ALIAS(MPI_Op_create)

int MPI_Op_free(MPI_Op *op)
{
    MPI_Op handle = *op;
    struct mana_crossing c;
    mana_cross_lock(&c, "MPI_Op_free");
    uint64_t r;
    int how = mana_handle_free_begin(VID_OP, handle, &r, "MPI_Op_free");
    MPI_Op real = (MPI_Op)r;
    int rc = MPI_SUCCESS;
    if (how != MANA_FREE_REF_DROPPED) {
        mana_cross_to_lower(&c);
        rc = mana_lower->mpi.MPI_Op_free(&real);
        mana_cross_to_upper(&c);
    }
    if (rc == MPI_SUCCESS && how == MANA_FREE_LAST)
        mana_handle_freed(VID_OP, handle);
    if (rc == MPI_SUCCESS)
        *op = MPI_OP_NULL;
    if (rc == MPI_SUCCESS && how == MANA_FREE_LAST) {
        for (int i = 0; i < OP_SLOTS; i++) {
            if (op_function[i] != NULL && !op_retired[i] && op_handle[i] == handle) {
                op_retired[i] = true;
                break;
            }
        }
    }
    mana_cross_unlock(&c);
    return rc;
}
MANA_PMPI_ALIAS(MPI_Op_free)

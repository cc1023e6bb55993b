/* Attribute copy/delete functions and communicator error handlers are
 * upper code that the lower MPI calls with the lower %fs live; each is
 * handed to MPI behind a trampoline that switches to the upper half.
 *
 * Keyval callbacks get MPI's extra_state argument, which the application
 * never reads back, so the trampoline's context travels there: a small
 * record with the user's functions and the user's extra_state. Error
 * handlers get no context (and are variadic), so they use a fixed pool
 * of trampolines, like user reduction ops. */
#include <stdio.h>
#include <stdlib.h>

#include "crossing.h"

struct keyval_callbacks {
    MPI_Comm_copy_attr_function *copy;
    MPI_Comm_delete_attr_function *del;
    void *extra_state;
};

/* Communicator and datatype handles are both ints in the MPICH ABI, so one
 * pair of trampolines serves comm, type and MPI-1 keyvals. */
static int copy_trampoline(MPI_Comm old, int keyval, void *extra_state, void *in, void *out, int *flag)
{
    struct keyval_callbacks *cb = extra_state;
    uint64_t lower_fs = mana_callback_enter();
    int rc = cb->copy(old, keyval, cb->extra_state, in, out, flag);
    mana_callback_leave(lower_fs);
    return rc;
}

static int delete_trampoline(MPI_Comm comm, int keyval, void *value, void *extra_state)
{
    struct keyval_callbacks *cb = extra_state;
    uint64_t lower_fs = mana_callback_enter();
    int rc = cb->del(comm, keyval, value, cb->extra_state);
    mana_callback_leave(lower_fs);
    return rc;
}

/* The record lives as long as the process: MPI may still call it for
 * attributes set before the keyval was freed. */
static struct keyval_callbacks *keyval_callbacks_new(MPI_Comm_copy_attr_function *copy,
                                                     MPI_Comm_delete_attr_function *del, void *extra_state)
{
    struct keyval_callbacks *cb = malloc(sizeof *cb);
    if (cb != NULL)
        *cb = (struct keyval_callbacks){copy, del, extra_state};
    return cb;
}

/* MPI_COMM_DUP_FN and MPI_TYPE_DUP_FN are this function in MPICH's ABI;
 * the program links against it, so libmana provides it. */
int MPIR_Dup_fn(MPI_Comm old, int keyval, void *extra_state, void *in, void *out, int *flag)
{
    (void)old;
    (void)keyval;
    (void)extra_state;
    *(void **)out = in;
    *flag = 1;
    return MPI_SUCCESS;
}

#define CREATE_KEYVAL(name, copy_type, delete_type)                                                         \
    int name(copy_type *copy, delete_type *del, int *keyval, void *extra_state)                            \
    {                                                                                                      \
        struct keyval_callbacks *cb = keyval_callbacks_new((MPI_Comm_copy_attr_function *)copy,            \
                                                           (MPI_Comm_delete_attr_function *)del, extra_state); \
        if (cb == NULL)                                                                                    \
            return MPI_ERR_NO_MEM;                                                                         \
        struct mana_crossing c;                                                                            \
        mana_cross_enter(&c, #name);                                                                       \
        int rc = mana_lower->mpi.name(copy ? (copy_type *)copy_trampoline : NULL,                          \
                                      del ? (delete_type *)delete_trampoline : NULL, keyval, cb);          \
        mana_cross_leave(&c);                                                                              \
        if (rc != MPI_SUCCESS)                                                                             \
            free(cb);                                                                                      \
        return rc;                                                                                         \
    }                                                                                                      \
    MANA_PMPI_ALIAS(name)

CREATE_KEYVAL(MPI_Comm_create_keyval, MPI_Comm_copy_attr_function, MPI_Comm_delete_attr_function)
CREATE_KEYVAL(MPI_Type_create_keyval, MPI_Type_copy_attr_function, MPI_Type_delete_attr_function)
CREATE_KEYVAL(MPI_Keyval_create, MPI_Copy_function, MPI_Delete_function)

/* --- error handlers -------------------------------------------------- */

#define ERRHANDLER_SLOTS 32

static MPI_Comm_errhandler_function *errhandler_function[ERRHANDLER_SLOTS];
static int errhandler_slots_used;

static void call_errhandler(int slot, MPI_Comm *comm, int *code)
{
    uint64_t lower_fs = mana_callback_enter();
    errhandler_function[slot](comm, code);
    mana_callback_leave(lower_fs);
}

#define EH_TRAMPOLINE(n)                                                                                   \
    static void errhandler_trampoline_##n(MPI_Comm *comm, int *code, ...)                                  \
    {                                                                                                      \
        call_errhandler(n, comm, code);                                                                    \
    }
EH_TRAMPOLINE(0) EH_TRAMPOLINE(1) EH_TRAMPOLINE(2) EH_TRAMPOLINE(3) EH_TRAMPOLINE(4) EH_TRAMPOLINE(5)
EH_TRAMPOLINE(6) EH_TRAMPOLINE(7) EH_TRAMPOLINE(8) EH_TRAMPOLINE(9) EH_TRAMPOLINE(10) EH_TRAMPOLINE(11)
EH_TRAMPOLINE(12) EH_TRAMPOLINE(13) EH_TRAMPOLINE(14) EH_TRAMPOLINE(15) EH_TRAMPOLINE(16) EH_TRAMPOLINE(17)
EH_TRAMPOLINE(18) EH_TRAMPOLINE(19) EH_TRAMPOLINE(20) EH_TRAMPOLINE(21) EH_TRAMPOLINE(22) EH_TRAMPOLINE(23)
EH_TRAMPOLINE(24) EH_TRAMPOLINE(25) EH_TRAMPOLINE(26) EH_TRAMPOLINE(27) EH_TRAMPOLINE(28) EH_TRAMPOLINE(29)
EH_TRAMPOLINE(30) EH_TRAMPOLINE(31)

static MPI_Comm_errhandler_function *const errhandler_trampoline[ERRHANDLER_SLOTS] = {
    errhandler_trampoline_0,  errhandler_trampoline_1,  errhandler_trampoline_2,  errhandler_trampoline_3,
    errhandler_trampoline_4,  errhandler_trampoline_5,  errhandler_trampoline_6,  errhandler_trampoline_7,
    errhandler_trampoline_8,  errhandler_trampoline_9,  errhandler_trampoline_10, errhandler_trampoline_11,
    errhandler_trampoline_12, errhandler_trampoline_13, errhandler_trampoline_14, errhandler_trampoline_15,
    errhandler_trampoline_16, errhandler_trampoline_17, errhandler_trampoline_18, errhandler_trampoline_19,
    errhandler_trampoline_20, errhandler_trampoline_21, errhandler_trampoline_22, errhandler_trampoline_23,
    errhandler_trampoline_24, errhandler_trampoline_25, errhandler_trampoline_26, errhandler_trampoline_27,
    errhandler_trampoline_28, errhandler_trampoline_29, errhandler_trampoline_30, errhandler_trampoline_31,
};

/* A slot is never given back: an error handler stays callable while any
 * communicator still has it, even after MPI_Errhandler_free. The same
 * function reuses its slot. */
static int errhandler_slot(MPI_Comm_errhandler_function *fn)
{
    for (int i = 0; i < errhandler_slots_used; i++)
        if (errhandler_function[i] == fn)
            return i;
    if (errhandler_slots_used == ERRHANDLER_SLOTS)
        return -1;
    errhandler_function[errhandler_slots_used] = fn;
    return errhandler_slots_used++;
}

#define CREATE_ERRHANDLER(name)                                                                            \
    int name(MPI_Comm_errhandler_function *fn, MPI_Errhandler *errhandler)                                 \
    {                                                                                                      \
        int slot = errhandler_slot(fn);                                                                    \
        if (slot < 0) {                                                                                    \
            fprintf(stderr, "MANA: " #name ": more than %d distinct error handler functions (a limit of "    \
                            "this version of MANA)\n", ERRHANDLER_SLOTS);                                  \
            return MPI_ERR_INTERN;                                                                         \
        }                                                                                                  \
        struct mana_crossing c;                                                                            \
        mana_cross_enter(&c, #name);                                                                       \
        int rc = mana_lower->mpi.name(errhandler_trampoline[slot], errhandler);                            \
        mana_cross_leave(&c);                                                                              \
        return rc;                                                                                         \
    }                                                                                                      \
    MANA_PMPI_ALIAS(name)

CREATE_ERRHANDLER(MPI_Comm_create_errhandler)
CREATE_ERRHANDLER(MPI_Errhandler_create)

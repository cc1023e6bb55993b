/* Attribute copy/delete functions and communicator error handlers are
 * upper code that the lower MPI calls with the lower %fs live; each is
 * handed to MPI behind a trampoline that switches to the upper half.
 *
 * Keyval callbacks get MPI's extra_state argument, which the application
 * never reads back, so the trampoline's context travels there: a small
 * record with the user's functions and the user's extra_state. Error
 * handlers get no context (and are variadic), so they use a fixed pool
 * of trampolines, like user reduction ops.
 *
 * MPI passes the lower half's handles (the object, the keyval); the user
 * function gets the ids the application knows. The trampolines, not the
 * user functions, are what the lower half and the record log see, so a
 * replayed keyval or error handler reaches the same user code. During a
 * replay the delete callbacks are not run: their effect (often a free of
 * the attribute value) already happened before the checkpoint. Nor are
 * the copy callbacks: what they gave the new object was recorded as a
 * set of the attribute on it (mana_attr_copies_record), and the replay
 * sets it again, so their side effects do not happen twice. */
#include <stdio.h>
#include <stdlib.h>

#include "crossing.h"
#include "mpi_wrap.h"
#include "upper_mpi_records.h"

struct keyval_callbacks {
    MPI_Comm_copy_attr_function *copy;
    MPI_Comm_delete_attr_function *del;
    void *extra_state;
    enum vid_kind kind; /* of the objects the keyval's attributes hang on */
    int32_t keyval;     /* the application's id (reused after a free: the newest record wins) */
    /* Set by a binding library (MPII_Keyval_set_proxy): the user
     * functions are not C and are called through these, with the
     * attribute's language type. */
    mana_attr_copy_proxy *copy_proxy;
    mana_attr_delete_proxy *delete_proxy;
    struct keyval_callbacks *next; /* every record, newest first */
};

static struct keyval_callbacks *all_keyvals;

/* The application's id for a handle MPI gives a callback. */
static int32_t app_handle(enum vid_kind kind, int32_t real)
{
    int32_t v = vid_find_real(kind, MANA_REAL(real));
    return v != VID_INVALID ? v : real;
}

/* The attributes the copy callbacks gave the object being duplicated. */
#define MAX_ATTR_COPIES 256
static struct {
    int32_t keyval; /* the application's id */
    void *value;
} attr_copies[MAX_ATTR_COPIES];
static int n_attr_copies, attr_copies_lost;

void mana_attr_copies_begin(void)
{
    n_attr_copies = 0;
    attr_copies_lost = 0;
}

int mana_attr_copies_record(enum vid_kind kind, int32_t new_object)
{
    int rc = attr_copies_lost ? -1 : 0;
    for (int i = 0; i < n_attr_copies && rc == 0; i++)
        rc = kind == VID_DATATYPE
                 ? mana_record_MPI_Type_set_attr(new_object, attr_copies[i].keyval, attr_copies[i].value)
                 : mana_record_MPI_Comm_set_attr(new_object, attr_copies[i].keyval, attr_copies[i].value);
    if (rc != 0)
        fprintf(stderr, "MANA: cannot record the attributes copied onto a duplicated %s (more than %d, or out of "
                        "memory); a restart would lose them\n",
                kind == VID_DATATYPE ? "datatype" : "communicator", MAX_ATTR_COPIES);
    n_attr_copies = 0;
    return rc;
}

/* Communicator and datatype handles are both ints in the MPICH ABI, so one
 * pair of trampolines serves comm, type and MPI-1 keyvals. */
static void note_copy(int32_t app_keyval, int rc, int flag, void *value)
{
    if (rc != MPI_SUCCESS || !flag)
        return;
    if (n_attr_copies < MAX_ATTR_COPIES)
        attr_copies[n_attr_copies++] = (typeof(attr_copies[0])){app_keyval, value};
    else
        attr_copies_lost = 1;
}

static int copy_trampoline(MPI_Comm old, int keyval, void *extra_state, void *in, void *out, int *flag)
{
    struct keyval_callbacks *cb = extra_state;
    if (mana_replaying) {
        *flag = 0;
        return MPI_SUCCESS;
    }
    uint64_t lower_fs = mana_callback_enter();
    int32_t app_keyval = app_handle(VID_KEYVAL, keyval);
    int rc = cb->copy_proxy == NULL
                 ? cb->copy(app_handle(cb->kind, old), app_keyval, cb->extra_state, in, out, flag)
                 : cb->copy_proxy(cb->copy, app_handle(cb->kind, old), app_keyval, cb->extra_state,
                                  MANA_ATTR_PTR, in, (void **)out, flag);
    note_copy(app_keyval, rc, *flag, *(void **)out);
    mana_callback_leave(lower_fs);
    return rc;
}

static int delete_trampoline(MPI_Comm comm, int keyval, void *value, void *extra_state)
{
    struct keyval_callbacks *cb = extra_state;
    uint64_t lower_fs = mana_callback_enter();
    int32_t app_object = app_handle(cb->kind, comm), app_keyval = app_handle(VID_KEYVAL, keyval);
    int rc = mana_replaying         ? MPI_SUCCESS
             : cb->delete_proxy == NULL ? cb->del(app_object, app_keyval, value, cb->extra_state)
                                        : cb->delete_proxy(cb->del, app_object, app_keyval, MANA_ATTR_PTR, value,
                                                           cb->extra_state);
    mana_callback_leave(lower_fs);
    return rc;
}

/* A keyval with proxies reaches the plain trampolines above only after
 * a restart that could not give the new lower keyval our proxies (the
 * application had freed the keyval, and an object still holds one of
 * its attributes): every attribute there was set again by the replay as
 * a C pointer attribute, so the binding's proxy gets it as one.
 *
 * The lower MPI's proxies for a keyval a binding library gave proxies
 * of its own: MPI calls them with the user function it knows (our C
 * trampoline), our record as extra_state, and the attribute's raw value
 * and language type, which the binding's proxy needs to call a Fortran
 * (or C++) function. */
static int copy_proxy_trampoline(MPI_Comm_copy_attr_function *user_function, int handle, int keyval,
                                 void *extra_state, int attr_type, void *attr, void **attr_copy, int *flag)
{
    (void)user_function;
    struct keyval_callbacks *cb = extra_state;
    if (mana_replaying) {
        *flag = 0;
        return MPI_SUCCESS;
    }
    uint64_t lower_fs = mana_callback_enter();
    int32_t app_keyval = app_handle(VID_KEYVAL, keyval);
    int rc = cb->copy_proxy(cb->copy, app_handle(cb->kind, handle), app_keyval, cb->extra_state, attr_type, attr,
                            attr_copy, flag);
    note_copy(app_keyval, rc, *flag, *attr_copy);
    mana_callback_leave(lower_fs);
    return rc;
}

static int delete_proxy_trampoline(MPI_Comm_delete_attr_function *user_function, int handle, int keyval,
                                   int attr_type, void *attr, void *extra_state)
{
    (void)user_function;
    struct keyval_callbacks *cb = extra_state;
    uint64_t lower_fs = mana_callback_enter();
    int rc = mana_replaying ? MPI_SUCCESS
                            : cb->delete_proxy(cb->del, app_handle(cb->kind, handle), app_handle(VID_KEYVAL, keyval),
                                               attr_type, attr, cb->extra_state);
    mana_callback_leave(lower_fs);
    return rc;
}

static void set_lower_proxy(struct mana_crossing *c, uint64_t real_keyval)
{
    mana_cross_to_lower(c);
    mana_lower->lang.keyval_set_proxy((int)real_keyval, (void *)copy_proxy_trampoline,
                                      (void *)delete_proxy_trampoline);
    mana_cross_to_upper(c);
}

/* MPICH's hook for its binding libraries: the Fortran and C++ bindings
 * create a keyval with the C call, then give it their proxies. Stored on
 * our record (upper memory, so a restart keeps them), and the lower MPI
 * gets our proxy trampolines. */
void MPII_Keyval_set_proxy(int keyval, mana_attr_copy_proxy *copy_proxy, mana_attr_delete_proxy *delete_proxy)
{
    struct mana_crossing c;
    mana_cross_lock(&c, "MPII_Keyval_set_proxy");
    uint64_t real;
    struct keyval_callbacks *cb = all_keyvals;
    while (cb != NULL && cb->keyval != keyval)
        cb = cb->next;
    if (cb != NULL && vid_real(VID_KEYVAL, keyval, &real) == 0) {
        cb->copy_proxy = copy_proxy;
        cb->delete_proxy = delete_proxy;
        set_lower_proxy(&c, real);
    }
    /* Else a keyval MPI itself would not find either: MPICH ignores it. */
    mana_cross_unlock(&c);
}

void mana_keyval_proxies_replay(struct mana_crossing *c)
{
    uint64_t real;
    for (struct keyval_callbacks *cb = all_keyvals; cb != NULL; cb = cb->next)
        if (cb->copy_proxy != NULL && vid_real(VID_KEYVAL, cb->keyval, &real) == 0)
            set_lower_proxy(c, real);
}

/* The record lives as long as the process: MPI may still call it for
 * attributes set before the keyval was freed. */
static struct keyval_callbacks *keyval_callbacks_new(MPI_Comm_copy_attr_function *copy,
                                                     MPI_Comm_delete_attr_function *del, void *extra_state,
                                                     enum vid_kind kind)
{
    struct keyval_callbacks *cb = malloc(sizeof *cb);
    if (cb != NULL)
        *cb = (struct keyval_callbacks){copy, del, extra_state, kind, MPI_KEYVAL_INVALID, NULL, NULL, NULL};
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

#define CREATE_KEYVAL(name, copy_type, delete_type, kind)                                                   \
    int name(copy_type *copy, delete_type *del, int *keyval, void *extra_state)                            \
    {                                                                                                      \
        struct keyval_callbacks *cb = keyval_callbacks_new((MPI_Comm_copy_attr_function *)copy,            \
                                                           (MPI_Comm_delete_attr_function *)del, extra_state, \
                                                           kind);                                          \
        if (cb == NULL)                                                                                    \
            return MPI_ERR_NO_MEM;                                                                         \
        copy_type *lower_copy = copy ? (copy_type *)copy_trampoline : NULL;                                \
        delete_type *lower_del = del ? (delete_type *)delete_trampoline : NULL;                            \
        int real = MPI_KEYVAL_INVALID;                                                                     \
        struct mana_crossing c;                                                                            \
        mana_cross_lock(&c, #name);                                                                        \
        mana_cross_to_lower(&c);                                                                           \
        int rc = mana_lower->mpi.name(lower_copy, lower_del, &real, cb);                                   \
        mana_cross_to_upper(&c);                                                                           \
        if (rc == MPI_SUCCESS &&                                                                           \
            mana_record_##name(lower_copy, lower_del, keyval, MANA_REAL(real), cb) == VID_INVALID) \
            rc = MPI_ERR_INTERN;                                                                           \
        if (rc == MPI_SUCCESS) {                                                                           \
            cb->keyval = *keyval;                                                                          \
            cb->next = all_keyvals;                                                                        \
            all_keyvals = cb;                                                                              \
        }                                                                                                  \
        mana_cross_unlock(&c);                                                                             \
        if (rc != MPI_SUCCESS)                                                                             \
            free(cb);                                                                                      \
        return rc;                                                                                         \
    }                                                                                                      \
    MANA_PMPI_ALIAS(name)

CREATE_KEYVAL(MPI_Comm_create_keyval, MPI_Comm_copy_attr_function, MPI_Comm_delete_attr_function, VID_COMM)
CREATE_KEYVAL(MPI_Type_create_keyval, MPI_Type_copy_attr_function, MPI_Type_delete_attr_function, VID_DATATYPE)
CREATE_KEYVAL(MPI_Keyval_create, MPI_Copy_function, MPI_Delete_function, VID_COMM)
CREATE_KEYVAL(MPI_Win_create_keyval, MPI_Win_copy_attr_function, MPI_Win_delete_attr_function, VID_WIN)

/* --- error handlers -------------------------------------------------- */

#define ERRHANDLER_SLOTS 32

static MPI_Comm_errhandler_function *errhandler_function[ERRHANDLER_SLOTS];
static enum vid_kind errhandler_kind[ERRHANDLER_SLOTS]; /* comm or win */
static int errhandler_slots_used;

static void call_errhandler(int slot, MPI_Comm *comm, int *code)
{
    uint64_t lower_fs = mana_callback_enter();
    MPI_Comm app = app_handle(errhandler_kind[slot], *comm);
    errhandler_function[slot](&app, code);
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
static int errhandler_slot(MPI_Comm_errhandler_function *fn, enum vid_kind kind)
{
    for (int i = 0; i < errhandler_slots_used; i++)
        if (errhandler_function[i] == fn && errhandler_kind[i] == kind)
            return i;
    if (errhandler_slots_used == ERRHANDLER_SLOTS)
        return -1;
    errhandler_function[errhandler_slots_used] = fn;
    errhandler_kind[errhandler_slots_used] = kind;
    return errhandler_slots_used++;
}

#define CREATE_ERRHANDLER(name, fn_type, kind)                                                             \
    int name(fn_type *fn, MPI_Errhandler *errhandler)                                                      \
    {                                                                                                      \
        int slot = errhandler_slot((MPI_Comm_errhandler_function *)fn, kind);                              \
        if (slot < 0) {                                                                                    \
            fprintf(stderr, "MANA: " #name ": more than %d distinct error handler functions (a limit of "    \
                            "this version of MANA)\n", ERRHANDLER_SLOTS);                                  \
            return MPI_ERR_INTERN;                                                                         \
        }                                                                                                  \
        fn_type *tramp = (fn_type *)errhandler_trampoline[slot];                                           \
        MPI_Errhandler real = MPI_ERRHANDLER_NULL;                                                         \
        struct mana_crossing c;                                                                            \
        mana_cross_lock(&c, #name);                                                                        \
        mana_cross_to_lower(&c);                                                                           \
        int rc = mana_lower->mpi.name(tramp, &real);                                                       \
        mana_cross_to_upper(&c);                                                                           \
        if (rc == MPI_SUCCESS && mana_record_##name(tramp, errhandler, MANA_REAL(real)) == VID_INVALID)     \
            rc = MPI_ERR_INTERN;                                                                           \
        mana_cross_unlock(&c);                                                                             \
        return rc;                                                                                         \
    }                                                                                                      \
    MANA_PMPI_ALIAS(name)

CREATE_ERRHANDLER(MPI_Comm_create_errhandler, MPI_Comm_errhandler_function, VID_COMM)
CREATE_ERRHANDLER(MPI_Errhandler_create, MPI_Comm_errhandler_function, VID_COMM)
CREATE_ERRHANDLER(MPI_Win_create_errhandler, MPI_Win_errhandler_function, VID_WIN)

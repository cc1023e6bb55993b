/* The Open MPI lower half's calls that the generated translation cannot
 * write (mpi-wrappers/openmpi.txt, "by-hand"): user callbacks, whose
 * arguments Open MPI gives in its own ABI; MPICH values inside integer
 * arrays; buffers sized by MPICH's constants; MPICH's own layouts. Also
 * what the rest of the lower half asks of its MPI flavour
 * (mpi_adapters.h). */
#include <mpi.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mana/trampoline_pool.h"
#include "mpi_adapters.h"
#include "ompi_abi.h"

const enum mana_mpi_flavour lower_flavour = MANA_MPI_OPENMPI;

static int rc_in(int mpich_rc)
{
    return mpich_rc == 0 ? MPI_SUCCESS : abi_value_in_slow(ABI_G_ERRCLASS, mpich_rc);
}

int ompi_abi_MPI_Init_thread(int *argc, char ***argv, int required, int *provided)
{
    return abi_rc(mana_lh_MPI_Init_thread(argc, argv, required, provided));
}

uint64_t lower_table_comm(MPI_Comm comm)
{
    return (uint64_t)(uint32_t)abi_out(ABI_COMM, comm);
}

/* --- reduction ops and error handlers: a pool of trampolines ------------
 * Open MPI calls them without a context argument, so each upper function
 * gets a trampoline of its own. libmana's functions are themselves a
 * fixed pool (mpi_op.c, mpi_callbacks.c), so this one never runs out
 * first. */
#define POOL MANA_POOL
static _Atomic int pool_lock;
static mana_MPI_User_function *op_fns[POOL];
static void *eh_fns[POOL];

#define OP_TRAMPOLINE(id, n)                                                                                 \
    static void op_tramp_##id(void *in, void *inout, int *len, MPI_Datatype *type)                            \
    {                                                                                                        \
        mana_MPI_Datatype t = abi_known(ABI_DATATYPE, *type);                                                \
        op_fns[n](in, inout, len, &t);                                                                       \
    }
#define EH_TRAMPOLINE(id, n)                                                                                 \
    static void eh_tramp_##id(void *handle, int *code, ...)                                                  \
    {                                                                                                        \
        eh_dispatch(n, handle, code);                                                                        \
    }

/* Which kind of object each error handler's pool entry is for. */
static int eh_kind[POOL]; /* enum abi_kind */

static void eh_dispatch(int n, void *handle, int *code)
{
    int32_t h = abi_known(eh_kind[n], *(void **)handle);
    int c = abi_rc(*code);
    ((void (*)(int32_t *, int *, ...))eh_fns[n])(&h, &c);
}

MANA_POOL64(OP_TRAMPOLINE)
MANA_POOL64(EH_TRAMPOLINE)
#define ADDR_OF_OP(id, n) [n] = op_tramp_##id,
#define ADDR_OF_EH(id, n) [n] = eh_tramp_##id,
static MPI_User_function *const op_tramps[POOL] = {MANA_POOL64(ADDR_OF_OP)};
static void (*const eh_tramps[POOL])(void *, int *, ...) = {MANA_POOL64(ADDR_OF_EH)};

int ompi_abi_MPI_Op_create(mana_MPI_User_function *user_fn, int commute, mana_MPI_Op *op)
{
    int e = mana_pool_entry(&pool_lock, (void **)op_fns, NULL, (void *)user_fn, 0);
    if (e < 0)
        return abi_mpich[ABI_C_ERRCLASS_MPI_ERR_INTERN];
    MPI_Op o = MPI_OP_NULL;
    int rc = MPI_Op_create(op_tramps[e], commute, &o);
    if (rc == MPI_SUCCESS)
        *op = abi_out(ABI_OP, o);
    return abi_rc(rc);
}

static int create_errhandler(void *fn, enum abi_kind kind, mana_MPI_Errhandler *errhandler)
{
    int e = mana_pool_entry(&pool_lock, eh_fns, eh_kind, fn, kind);
    if (e < 0)
        return abi_mpich[ABI_C_ERRCLASS_MPI_ERR_INTERN];
    MPI_Errhandler o = MPI_ERRHANDLER_NULL;
    int rc = kind == ABI_WIN ? MPI_Win_create_errhandler((MPI_Win_errhandler_function *)eh_tramps[e], &o)
                             : MPI_Comm_create_errhandler((MPI_Comm_errhandler_function *)eh_tramps[e], &o);
    if (rc == MPI_SUCCESS)
        *errhandler = abi_out(ABI_ERRHANDLER, o);
    return abi_rc(rc);
}

int ompi_abi_MPI_Comm_create_errhandler(mana_MPI_Comm_errhandler_function *fn, mana_MPI_Errhandler *errhandler)
{
    return create_errhandler((void *)fn, ABI_COMM, errhandler);
}

int ompi_abi_MPI_Errhandler_create(mana_MPI_Comm_errhandler_function *fn, mana_MPI_Errhandler *errhandler)
{
    return create_errhandler((void *)fn, ABI_COMM, errhandler);
}

int ompi_abi_MPI_Win_create_errhandler(mana_MPI_Win_errhandler_function *fn, mana_MPI_Errhandler *errhandler)
{
    return create_errhandler((void *)fn, ABI_WIN, errhandler);
}

/* --- attribute keyvals: the callbacks get their context in extra_state -- */
struct keyval_wrap {
    enum abi_kind kind;
    int (*copy)(int32_t, int, void *, void *, void *, int *);
    int (*del)(int32_t, int, void *, void *);
    void *extra_state;
};

static int32_t keyval_handle(int keyval)
{
    return abi_value_out(ABI_G_KEYVAL, keyval);
}

/* MPICH's MPI_NULL_COPY_FN and MPI_NULL_DELETE_FN are NULL, which
 * Open MPI would call: they mean "do not copy" and "nothing to do". */
static int wrap_copy(struct keyval_wrap *w, void *obj, int keyval, void *in, void *out, int *flag)
{
    if (w->copy == NULL) {
        *flag = 0;
        return MPI_SUCCESS;
    }
    return rc_in(w->copy(abi_known(w->kind, obj), keyval_handle(keyval), w->extra_state, in, out, flag));
}

static int wrap_delete(struct keyval_wrap *w, void *obj, int keyval, void *attr)
{
    if (w->del == NULL)
        return MPI_SUCCESS;
    return rc_in(w->del(abi_known(w->kind, obj), keyval_handle(keyval), attr, w->extra_state));
}

static int comm_copy(MPI_Comm c, int k, void *x, void *in, void *out, int *flag)
{
    return wrap_copy(x, c, k, in, out, flag);
}
static int comm_delete(MPI_Comm c, int k, void *attr, void *x)
{
    return wrap_delete(x, c, k, attr);
}
static int type_copy(MPI_Datatype t, int k, void *x, void *in, void *out, int *flag)
{
    return wrap_copy(x, t, k, in, out, flag);
}
static int type_delete(MPI_Datatype t, int k, void *attr, void *x)
{
    return wrap_delete(x, t, k, attr);
}
static int win_copy(MPI_Win w, int k, void *x, void *in, void *out, int *flag)
{
    return wrap_copy(x, w, k, in, out, flag);
}
static int win_delete(MPI_Win w, int k, void *attr, void *x)
{
    return wrap_delete(x, w, k, attr);
}

/* The wrapper lives as long as the job: Open MPI may still call a
 * keyval's delete function after MPI_Comm_free_keyval. */
static struct keyval_wrap *new_wrap(enum abi_kind kind, void *copy, void *del, void *extra_state)
{
    struct keyval_wrap *w = malloc(sizeof *w);
    if (w != NULL)
        *w = (struct keyval_wrap){kind, (int (*)(int32_t, int, void *, void *, void *, int *))copy,
                                  (int (*)(int32_t, int, void *, void *))del, extra_state};
    return w;
}

#define CREATE_KEYVAL(name, kind, copy_t, delete_t, ompi_create, copy_fn, delete_fn)                       \
    int ompi_abi_##name(copy_t *copy, delete_t *del, int *keyval, void *extra_state)                         \
    {                                                                                                        \
        struct keyval_wrap *w = new_wrap(kind, (void *)copy, (void *)del, extra_state);                      \
        if (w == NULL)                                                                                       \
            return MANA_ABI_ERR_NO_MEM;                                                                      \
        int k = MPI_KEYVAL_INVALID;                                                                          \
        int rc = ompi_create(copy_fn, delete_fn, &k, w);                                                     \
        if (rc == MPI_SUCCESS)                                                                               \
            *keyval = keyval_handle(k);                                                                      \
        return abi_rc(rc);                                                                                   \
    }
CREATE_KEYVAL(MPI_Comm_create_keyval, ABI_COMM, mana_MPI_Comm_copy_attr_function, mana_MPI_Comm_delete_attr_function,
              MPI_Comm_create_keyval, comm_copy, comm_delete)
CREATE_KEYVAL(MPI_Keyval_create, ABI_COMM, mana_MPI_Copy_function, mana_MPI_Delete_function, MPI_Comm_create_keyval,
              comm_copy, comm_delete)
CREATE_KEYVAL(MPI_Type_create_keyval, ABI_DATATYPE, mana_MPI_Type_copy_attr_function,
              mana_MPI_Type_delete_attr_function, MPI_Type_create_keyval, type_copy, type_delete)
CREATE_KEYVAL(MPI_Win_create_keyval, ABI_WIN, mana_MPI_Win_copy_attr_function, mana_MPI_Win_delete_attr_function,
              MPI_Win_create_keyval, win_copy, win_delete)

/* --- generalized requests (MANA's own, ckpt_drain.c) ------------------- */
struct grequest_wrap {
    mana_MPI_Grequest_query_function *query;
    mana_MPI_Grequest_free_function *free_fn;
    mana_MPI_Grequest_cancel_function *cancel;
    void *extra_state;
};

static int grequest_query(void *x, MPI_Status *status)
{
    struct grequest_wrap *w = x;
    mana_MPI_Status m = {0};
    int rc = w->query(w->extra_state, &m);
    abi_status_in(&m, status);
    return rc_in(rc);
}

static int grequest_free(void *x)
{
    struct grequest_wrap *w = x;
    int rc = w->free_fn(w->extra_state);
    free(w);
    return rc_in(rc);
}

static int grequest_cancel(void *x, int complete)
{
    struct grequest_wrap *w = x;
    return rc_in(w->cancel(w->extra_state, complete));
}

int ompi_abi_MPI_Grequest_start(mana_MPI_Grequest_query_function *query_fn, mana_MPI_Grequest_free_function *free_fn,
                                mana_MPI_Grequest_cancel_function *cancel_fn, void *extra_state,
                                mana_MPI_Request *request)
{
    struct grequest_wrap *w = malloc(sizeof *w);
    if (w == NULL)
        return MANA_ABI_ERR_NO_MEM;
    *w = (struct grequest_wrap){query_fn, free_fn, cancel_fn, extra_state};
    MPI_Request o = MPI_REQUEST_NULL;
    int rc = MPI_Grequest_start(grequest_query, grequest_free, grequest_cancel, w, &o);
    if (rc == MPI_SUCCESS)
        *request = abi_out(ABI_REQUEST, o);
    else
        free(w);
    return abi_rc(rc);
}

int ompi_abi_MPI_Grequest_complete(mana_MPI_Request request)
{
    return abi_rc(MPI_Grequest_complete(abi_in(ABI_REQUEST, request)));
}

/* The application speaks MPICH 4.0's interface, which libmana exports
 * whole; what Open MPI 4.1 lacks of it fails at the call (abi_absent). */
int ompi_abi_MPI_Get_version(int *version, int *subversion)
{
    *version = abi_mpich[ABI_C_VERSION_MPI_VERSION];
    *subversion = abi_mpich[ABI_C_VERSION_MPI_SUBVERSION];
    return 0;
}

/* Open MPI 4.1 counts the terminating NUL in RESULTLEN; MPI-3.1 section
 * 8.1.1 does not. */
int ompi_abi_MPI_Get_library_version(char *version, int *resultlen)
{
    int rc = MPI_Get_library_version(version, resultlen);
    if (rc == MPI_SUCCESS)
        *resultlen = (int)strlen(version);
    return abi_rc(rc);
}

/* --- buffers sized by MPICH's constants -------------------------------- */

/* MPICH's MPI_MAX_PROCESSOR_NAME (128) is half Open MPI's. */
#define MPICH_MAX_PROCESSOR_NAME 128
int ompi_abi_MPI_Get_processor_name(char *name, int *resultlen)
{
    char full[MPI_MAX_PROCESSOR_NAME];
    int len = 0;
    int rc = MPI_Get_processor_name(full, &len);
    if (rc == MPI_SUCCESS) {
        if (len > MPICH_MAX_PROCESSOR_NAME - 1)
            len = MPICH_MAX_PROCESSOR_NAME - 1;
        memcpy(name, full, (size_t)len);
        name[len] = '\0';
        *resultlen = len;
    }
    return abi_rc(rc);
}

/* The application sized its buffer with MPICH's MPI_BSEND_OVERHEAD (96
 * bytes a message); Open MPI needs 128. Open MPI gets a buffer of its
 * own with room for the difference for as many messages as the
 * application's could hold; detach gives the application's back. */
static void *app_bsend_buffer, *own_bsend_buffer;
static int app_bsend_size;

int ompi_abi_MPI_Buffer_attach(void *buffer, int size)
{
    if (own_bsend_buffer != NULL)
        return abi_mpich[ABI_C_ERRCLASS_MPI_ERR_BUFFER];
    int64_t messages = size / 97 + 1; /* each holds at least one byte */
    int64_t own_size = size + messages * (MPI_BSEND_OVERHEAD - 96) + 64;
    if (own_size > INT32_MAX)
        own_size = INT32_MAX;
    void *own = malloc((size_t)own_size);
    if (own == NULL)
        return MANA_ABI_ERR_NO_MEM;
    int rc = MPI_Buffer_attach(own, (int)own_size);
    if (rc != MPI_SUCCESS) {
        free(own);
        return abi_rc(rc);
    }
    app_bsend_buffer = buffer;
    app_bsend_size = size;
    own_bsend_buffer = own;
    return 0;
}

int ompi_abi_MPI_Buffer_detach(void *buffer_addr, int *size)
{
    void *own = NULL;
    int own_size = 0;
    int rc = MPI_Buffer_detach(&own, &own_size);
    if (rc != MPI_SUCCESS)
        return abi_rc(rc);
    free(own_bsend_buffer);
    own_bsend_buffer = NULL;
    *(void **)buffer_addr = app_bsend_buffer;
    *size = app_bsend_size;
    app_bsend_buffer = NULL;
    app_bsend_size = 0;
    return 0;
}

/* --- MPICH values inside integer arrays -------------------------------- */

int ompi_abi_MPI_Type_create_darray(int size, int rank, int ndims, const int array_of_gsizes[],
                                    const int array_of_distribs[], const int array_of_dargs[],
                                    const int array_of_psizes[], int order, mana_MPI_Datatype oldtype,
                                    mana_MPI_Datatype *newtype)
{
    if (ndims < 0 || ndims > 64)
        return abi_mpich[ABI_C_ERRCLASS_MPI_ERR_DIMS];
    int distribs[64], dargs[64];
    for (int i = 0; i < ndims; i++) {
        distribs[i] = abi_value_in(ABI_G_DISTRIBUTE, array_of_distribs[i]);
        dargs[i] = abi_value_in(ABI_G_DISTRIBUTE, array_of_dargs[i]);
    }
    MPI_Datatype o = MPI_DATATYPE_NULL;
    int rc = MPI_Type_create_darray(size, rank, ndims, array_of_gsizes, distribs, dargs, array_of_psizes,
                                    abi_value_in(ABI_G_ORDER, order), abi_in(ABI_DATATYPE, oldtype), &o);
    if (rc == MPI_SUCCESS)
        *newtype = abi_out(ABI_DATATYPE, o);
    return abi_rc(rc);
}

int ompi_abi_MPI_Type_get_contents(mana_MPI_Datatype datatype, int max_integers, int max_addresses,
                                   int max_datatypes, int array_of_integers[], mana_MPI_Aint array_of_addresses[],
                                   mana_MPI_Datatype array_of_datatypes[])
{
    MPI_Datatype t = abi_in(ABI_DATATYPE, datatype);
    int ni, na, nd, combiner;
    int rc = MPI_Type_get_envelope(t, &ni, &na, &nd, &combiner);
    if (rc != MPI_SUCCESS)
        return abi_rc(rc);
    MPI_Datatype small[ABI_SMALL];
    MPI_Datatype *types = abi_scratch(small, max_datatypes, sizeof *types);
    if (types == NULL && max_datatypes > 0)
        return MANA_ABI_ERR_NO_MEM;
    rc = MPI_Type_get_contents(t, max_integers, max_addresses, max_datatypes, array_of_integers,
                               (MPI_Aint *)array_of_addresses, types);
    if (rc == MPI_SUCCESS) {
        for (int i = 0; i < nd && i < max_datatypes; i++)
            array_of_datatypes[i] = abi_out(ABI_DATATYPE, types[i]);
        /* MPI-3.1 section 4.1.13 gives where the constants sit. */
        if (combiner == MPI_COMBINER_DARRAY && ni >= 3 && max_integers >= ni) {
            int n = array_of_integers[2];
            for (int i = 0; i < n; i++) {
                array_of_integers[3 + n + i] = abi_value_out(ABI_G_DISTRIBUTE, array_of_integers[3 + n + i]);
                array_of_integers[3 + 2 * n + i] = abi_value_out(ABI_G_DISTRIBUTE, array_of_integers[3 + 2 * n + i]);
            }
            array_of_integers[ni - 1] = abi_value_out(ABI_G_ORDER, array_of_integers[ni - 1]);
        } else if (combiner == MPI_COMBINER_SUBARRAY && ni >= 1 && max_integers >= ni) {
            array_of_integers[ni - 1] = abi_value_out(ABI_G_ORDER, array_of_integers[ni - 1]);
        }
    }
    abi_scratch_done(types, small);
    return abi_rc(rc);
}

/* --- MPICH's own layouts ---------------------------------------------- */

/* MPICH's Fortran status is its C status, five integers in the same
 * order; libmpichfort (upper half) reads it so, whatever MPI runs below. */
int ompi_abi_MPI_Status_c2f(const mana_MPI_Status *c_status, mana_MPI_Fint *f_status)
{
    if (abi_status_ignored(c_status) || f_status == NULL)
        return abi_mpich[ABI_C_ERRCLASS_MPI_ERR_ARG];
    memcpy(f_status, c_status, sizeof *c_status);
    return 0;
}

int ompi_abi_MPI_Status_f2c(const mana_MPI_Fint *f_status, mana_MPI_Status *c_status)
{
    if (f_status == NULL || abi_status_ignored(c_status))
        return abi_mpich[ABI_C_ERRCLASS_MPI_ERR_ARG];
    memcpy(c_status, f_status, sizeof *c_status);
    return 0;
}

/* --- the binding libraries' hooks (struct mana_lang_hooks) --------------
 * MPICH's attribute calls with a language type: an attribute set from
 * Fortran is the integer itself, not a pointer (MPICH's MPIR_Attr_type:
 * 0 pointer, 1 MPI_Aint, 3 int). */
enum { ATTR_POINTER = 0, ATTR_AINT = 1, ATTR_INT = 3 };

/* MPICH's Fortran names its predefined keyvals with the C value + 1
 * (MPI_TAG_UB is 0x64400001 in C, 0x64400002 in mpif.h). */
static int lang_keyval(int keyval)
{
    int k = abi_value_in(ABI_G_KEYVAL, keyval);
    if (k == keyval && (keyval & 1) == 0 && abi_value_in(ABI_G_KEYVAL, keyval - 1) != keyval - 1)
        k = abi_value_in(ABI_G_KEYVAL, keyval - 1);
    return k;
}

static int set_attr(enum abi_kind kind, int32_t object, int keyval, void *value)
{
    void *o = abi_in(kind, object);
    int k = lang_keyval(keyval);
    int rc = kind == ABI_DATATYPE ? MPI_Type_set_attr(o, k, value)
           : kind == ABI_WIN      ? MPI_Win_set_attr(o, k, value)
                                  : MPI_Comm_set_attr(o, k, value);
    return abi_rc(rc);
}

static int get_attr(enum abi_kind kind, int32_t object, int keyval, void *value, int *flag, int attr_type)
{
    void *o = abi_in(kind, object);
    int k = lang_keyval(keyval);
    void *v = NULL;
    int rc = kind == ABI_DATATYPE ? MPI_Type_get_attr(o, k, &v, flag)
           : kind == ABI_WIN      ? MPI_Win_get_attr(o, k, &v, flag)
                                  : MPI_Comm_get_attr(o, k, &v, flag);
    if (rc != MPI_SUCCESS || !*flag)
        return abi_rc(rc);
    /* Predefined attributes are pointers to MPI's integer; ones set from
     * Fortran are the integer. */
    int predefined = k >= 0 && abi_value_out(ABI_G_KEYVAL, k) != k;
    intptr_t number = predefined ? (intptr_t) * (int *)v : (intptr_t)v;
    if (attr_type == ATTR_AINT)
        *(MPI_Aint *)value = number;
    else if (attr_type == ATTR_INT)
        *(int *)value = (int)number;
    else
        *(void **)value = v;
    return 0;
}

#define LANG_SET(name, kind)                                                                                 \
    static int name(int object, int keyval, void *value, int attr_type)                                      \
    {                                                                                                        \
        (void)attr_type;                                                                                     \
        return set_attr(kind, object, keyval, value);                                                        \
    }
#define LANG_GET(name, kind)                                                                                 \
    static int name(int object, int keyval, void *value, int *flag, int attr_type)                           \
    {                                                                                                        \
        return get_attr(kind, object, keyval, value, flag, attr_type);                                       \
    }
LANG_SET(comm_set_attr, ABI_COMM)
LANG_SET(type_set_attr, ABI_DATATYPE)
LANG_SET(win_set_attr, ABI_WIN)
LANG_GET(comm_get_attr, ABI_COMM)
LANG_GET(type_get_attr, ABI_DATATYPE)
LANG_GET(win_get_attr, ABI_WIN)

/* MPICH calls a keyval's language proxy instead of its C callbacks; Open
 * MPI has no such thing. libmana's C trampolines call the binding's
 * proxy themselves when the keyval has one (mpi_callbacks.c), as they do
 * after a restart, so Open MPI needs nothing more. */
static void keyval_set_proxy(int keyval, void *copy_proxy, void *delete_proxy)
{
    (void)keyval;
    (void)copy_proxy;
    (void)delete_proxy;
}

void mana_lower_fill_lang_hooks(struct mana_lang_hooks *h)
{
    h->comm_set_attr = comm_set_attr;
    h->type_set_attr = type_set_attr;
    h->win_set_attr = win_set_attr;
    h->comm_get_attr = comm_get_attr;
    h->type_get_attr = type_get_attr;
    h->win_get_attr = win_get_attr;
    h->keyval_set_proxy = keyval_set_proxy;
    h->unweighted = MPI_UNWEIGHTED;
    h->weights_empty = MPI_WEIGHTS_EMPTY;
}

void mana_lower_fill_mpi_table(struct mana_mpi_table *t)
{
    ompi_abi_init();
    ompi_abi_fill_table(t);
}

/* The Open MPI face's runtime (face_ompi.h) and the calls the generator
 * leaves to hand: callbacks the application gives in Open MPI's ABI,
 * which libmana calls with MPICH-ABI arguments; Open MPI's predefined
 * attribute functions; the version; variadic MPI_Pcontrol. */
#include "face_ompi.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mana/trampoline_pool.h"

/* libmana's (renamed in libmana-ompi.so, see the Makefile). */
extern int *const mana_mpich_MPI_UNWEIGHTED;
extern int *const mana_mpich_MPI_WEIGHTS_EMPTY;
int mana_mpich_MPI_Pcontrol(const int level, ...);
int mana_mpich_MPI_Op_create(mana_MPI_User_function *user_fn, int commute, mana_MPI_Op *op);
int mana_mpich_MPI_Comm_create_errhandler(mana_MPI_Comm_errhandler_function *fn, mana_MPI_Errhandler *eh);
int mana_mpich_MPI_Win_create_errhandler(mana_MPI_Win_errhandler_function *fn, mana_MPI_Errhandler *eh);
int mana_mpich_MPI_Comm_create_keyval(mana_MPI_Comm_copy_attr_function *copy_fn,
                                      mana_MPI_Comm_delete_attr_function *delete_fn, int *keyval, void *extra_state);
int mana_mpich_MPI_Type_create_keyval(mana_MPI_Type_copy_attr_function *copy_fn,
                                      mana_MPI_Type_delete_attr_function *delete_fn, int *keyval, void *extra_state);
int mana_mpich_MPI_Win_create_keyval(mana_MPI_Win_copy_attr_function *copy_fn,
                                     mana_MPI_Win_delete_attr_function *delete_fn, int *keyval, void *extra_state);
int mana_mpich_MPI_Type_create_darray(int size, int rank, int ndims, const int array_of_gsizes[],
                                      const int array_of_distribs[], const int array_of_dargs[],
                                      const int array_of_psizes[], int order, mana_MPI_Datatype oldtype,
                                      mana_MPI_Datatype *newtype);

#define FACE_EXPORT(fn, name) extern __typeof__(fn) face_export_##name __asm__(#name) __attribute__((alias(#fn)))

__attribute__((constructor(102))) static void face_start(void)
{
    abi_predefined_init();
}

void *face_predefined(enum abi_kind kind, int32_t h)
{
    void *o = abi_predefined_in(kind, h);
    if (o == abi_null_obj[kind] && h != abi_null_handle[kind])
        return (void *)(uintptr_t)(uint32_t)h; /* no such constant: MPI reports it */
    return o;
}

int32_t face_predefined_id(enum abi_kind kind, const void *obj)
{
    int32_t h;
    if (obj == abi_null_obj[kind])
        return abi_null_handle[kind];
    if (abi_predefined_out(kind, obj, &h))
        return h;
    return (int32_t)(uint32_t)(uintptr_t)obj; /* not a handle: MPI reports it */
}

int *face_weights(const int *w)
{
    if (w == MPI_UNWEIGHTED)
        return mana_mpich_MPI_UNWEIGHTED;
    if (w == MPI_WEIGHTS_EMPTY)
        return mana_mpich_MPI_WEIGHTS_EMPTY;
    return (int *)w; /* an output array, or the application's weights */
}

int face_statuses(mana_MPI_Status *small, const MPI_Status *o, int count, mana_MPI_Status **out)
{
    if (o == MPI_STATUSES_IGNORE) {
        *out = FACE_MPICH_STATUS_IGNORE;
        return 0;
    }
    *out = abi_scratch(small, count, sizeof(mana_MPI_Status));
    return *out == NULL && count > 0 ? -1 : 0;
}

void face_statuses_out(const mana_MPI_Status *m, MPI_Status *o, int count)
{
    for (int i = 0; i < count && count != MPI_UNDEFINED; i++)
        abi_status_in(&m[i], &o[i]);
}

void face_unsupported(const char *name)
{
    fprintf(stderr, "MANA: %s is not supported for programs built with Open MPI (docs/limitations.md)\n", name);
    mana_mpich_MPI_Abort(abi_mpich[ABI_C_COMM_MPI_COMM_WORLD], 1);
    abort();
}

static int face_MPI_Get_version(int *version, int *subversion)
{
    *version = MPI_VERSION;
    *subversion = MPI_SUBVERSION;
    return MPI_SUCCESS;
}
FACE_EXPORT(face_MPI_Get_version, MPI_Get_version);
FACE_EXPORT(face_MPI_Get_version, PMPI_Get_version);

/* Strings MPICH's constants size (MPI_MAX_LIBRARY_VERSION_STRING 8192,
 * MPI_MAX_ERROR_STRING 512, MPI_MAX_OBJECT_NAME 128) land in buffers Open
 * MPI's size (256, 256, 64): libmana writes into one of MPICH's size,
 * and the application gets what fits. */
#define MPICH_MAX_STRING 8192
int mana_mpich_MPI_Get_library_version(char *version, int *resultlen);
int mana_mpich_MPI_Error_string(int errorcode, char *string, int *resultlen);
int mana_mpich_MPI_Comm_get_name(mana_MPI_Comm comm, char *name, int *resultlen);
int mana_mpich_MPI_Type_get_name(mana_MPI_Datatype type, char *name, int *resultlen);
int mana_mpich_MPI_Win_get_name(mana_MPI_Win win, char *name, int *resultlen);

static int bounded(int rc, const char *big, char *out, int *len, int max)
{
    if (rc == 0) {
        int n = *len < 0 ? 0 : *len > max - 1 ? max - 1 : *len;
        memcpy(out, big, (size_t)n);
        out[n] = '\0';
        *len = n;
    }
    return face_rc(rc);
}

/* Open MPI counts the terminating NUL in the length. */
static int face_MPI_Get_library_version(char *version, int *resultlen)
{
    char big[MPICH_MAX_STRING];
    int rc = bounded(mana_mpich_MPI_Get_library_version(big, resultlen), big, version, resultlen,
                     MPI_MAX_LIBRARY_VERSION_STRING);
    if (rc == MPI_SUCCESS)
        *resultlen += 1;
    return rc;
}
FACE_EXPORT(face_MPI_Get_library_version, MPI_Get_library_version);
FACE_EXPORT(face_MPI_Get_library_version, PMPI_Get_library_version);

static int face_MPI_Error_string(int errorcode, char *string, int *resultlen)
{
    char big[MPICH_MAX_STRING];
    return bounded(mana_mpich_MPI_Error_string(abi_value_out(ABI_G_ERRCLASS, errorcode), big, resultlen), big, string,
                   resultlen, MPI_MAX_ERROR_STRING);
}
FACE_EXPORT(face_MPI_Error_string, MPI_Error_string);
FACE_EXPORT(face_MPI_Error_string, PMPI_Error_string);

/* MPI_Comm_get_name, MPI_Type_get_name, MPI_Win_get_name. */
#define FACE_GET_NAME(what, ctype, kind)                                                                     \
    static int face_MPI_##what##_get_name(ctype obj, char *name, int *resultlen)                             \
    {                                                                                                        \
        char big[MPICH_MAX_STRING];                                                                          \
        return bounded(mana_mpich_MPI_##what##_get_name(face_in(kind, obj), big, resultlen), big, name,       \
                       resultlen, MPI_MAX_OBJECT_NAME);                                                      \
    }                                                                                                        \
    FACE_EXPORT(face_MPI_##what##_get_name, MPI_##what##_get_name);                                          \
    FACE_EXPORT(face_MPI_##what##_get_name, PMPI_##what##_get_name);
FACE_GET_NAME(Comm, MPI_Comm, ABI_COMM)
FACE_GET_NAME(Type, MPI_Datatype, ABI_DATATYPE)
FACE_GET_NAME(Win, MPI_Win, ABI_WIN)

static int face_MPI_Pcontrol(const int level, ...)
{
    return face_rc(mana_mpich_MPI_Pcontrol(level));
}
FACE_EXPORT(face_MPI_Pcontrol, MPI_Pcontrol);
FACE_EXPORT(face_MPI_Pcontrol, PMPI_Pcontrol);

static int face_MPI_Type_create_darray(int size, int rank, int ndims, const int gsizes[], const int distribs[],
                                       const int dargs[], const int psizes[], int order, MPI_Datatype oldtype,
                                       MPI_Datatype *newtype)
{
    if (ndims < 0 || ndims > 64)
        return MPI_ERR_DIMS;
    int d[64], a[64];
    for (int i = 0; i < ndims; i++) {
        d[i] = abi_value_out(ABI_G_DISTRIBUTE, distribs[i]);
        a[i] = abi_value_out(ABI_G_DISTRIBUTE, dargs[i]);
    }
    mana_MPI_Datatype o = face_null(ABI_DATATYPE);
    int rc = mana_mpich_MPI_Type_create_darray(size, rank, ndims, gsizes, d, a, psizes,
                                               abi_value_out(ABI_G_ORDER, order), face_in(ABI_DATATYPE, oldtype), &o);
    if (rc == 0)
        *newtype = face_out(ABI_DATATYPE, o);
    return face_rc(rc);
}
FACE_EXPORT(face_MPI_Type_create_darray, MPI_Type_create_darray);
FACE_EXPORT(face_MPI_Type_create_darray, PMPI_Type_create_darray);

/* --- reduction ops and error handlers: a pool of trampolines ------------
 * libmana calls them without a context, so each application function
 * gets a trampoline of its own (libmana's own pools are smaller). */
#define POOL MANA_POOL
static _Atomic int pool_lock;
static MPI_User_function *op_fns[POOL];
static void *eh_fns[POOL];
static int eh_kind[POOL]; /* enum abi_kind */

static void eh_dispatch(int n, int32_t *handle, int *code)
{
    void *h = face_out(eh_kind[n], *handle);
    int c = face_rc(*code);
    ((void (*)(void **, int *, ...))eh_fns[n])(&h, &c);
}

#define OP_TRAMPOLINE(id, n)                                                                                 \
    static void op_tramp_##id(void *in, void *inout, int *len, mana_MPI_Datatype *type)                      \
    {                                                                                                        \
        MPI_Datatype t = face_out(ABI_DATATYPE, *type);                                                      \
        op_fns[n](in, inout, len, &t);                                                                       \
    }
#define EH_TRAMPOLINE(id, n)                                                                                 \
    static void eh_tramp_##id(int32_t *handle, int *code, ...)                                               \
    {                                                                                                        \
        eh_dispatch(n, handle, code);                                                                        \
    }
MANA_POOL64(OP_TRAMPOLINE)
MANA_POOL64(EH_TRAMPOLINE)
#define ADDR_OF_OP(id, n) [n] = op_tramp_##id,
#define ADDR_OF_EH(id, n) [n] = eh_tramp_##id,
static mana_MPI_User_function *const op_tramps[POOL] = {MANA_POOL64(ADDR_OF_OP)};
static void (*const eh_tramps[POOL])(int32_t *, int *, ...) = {MANA_POOL64(ADDR_OF_EH)};

static int face_MPI_Op_create(MPI_User_function *fn, int commute, MPI_Op *op)
{
    int e = mana_pool_entry(&pool_lock, (void **)op_fns, NULL, (void *)fn, 0);
    if (e < 0)
        return MPI_ERR_INTERN;
    mana_MPI_Op o = face_null(ABI_OP);
    int rc = mana_mpich_MPI_Op_create(op_tramps[e], commute, &o);
    if (rc == 0)
        *op = face_out(ABI_OP, o);
    return face_rc(rc);
}
FACE_EXPORT(face_MPI_Op_create, MPI_Op_create);
FACE_EXPORT(face_MPI_Op_create, PMPI_Op_create);

static int create_errhandler(void *fn, enum abi_kind kind, MPI_Errhandler *errhandler)
{
    int e = mana_pool_entry(&pool_lock, eh_fns, eh_kind, fn, kind);
    if (e < 0)
        return MPI_ERR_INTERN;
    mana_MPI_Errhandler o = face_null(ABI_ERRHANDLER);
    int rc = kind == ABI_WIN
                 ? mana_mpich_MPI_Win_create_errhandler((mana_MPI_Win_errhandler_function *)eh_tramps[e], &o)
                 : mana_mpich_MPI_Comm_create_errhandler((mana_MPI_Comm_errhandler_function *)eh_tramps[e], &o);
    if (rc == 0)
        *errhandler = face_out(ABI_ERRHANDLER, o);
    return face_rc(rc);
}

static int face_MPI_Comm_create_errhandler(MPI_Comm_errhandler_function *fn, MPI_Errhandler *errhandler)
{
    return create_errhandler((void *)fn, ABI_COMM, errhandler);
}
FACE_EXPORT(face_MPI_Comm_create_errhandler, MPI_Comm_create_errhandler);
FACE_EXPORT(face_MPI_Comm_create_errhandler, PMPI_Comm_create_errhandler);
FACE_EXPORT(face_MPI_Comm_create_errhandler, MPI_Errhandler_create);
FACE_EXPORT(face_MPI_Comm_create_errhandler, PMPI_Errhandler_create);

static int face_MPI_Win_create_errhandler(MPI_Win_errhandler_function *fn, MPI_Errhandler *errhandler)
{
    return create_errhandler((void *)fn, ABI_WIN, errhandler);
}
FACE_EXPORT(face_MPI_Win_create_errhandler, MPI_Win_create_errhandler);
FACE_EXPORT(face_MPI_Win_create_errhandler, PMPI_Win_create_errhandler);

/* --- attribute keyvals: the callbacks get their context in extra_state -- */
typedef int face_copy_fn(void *, int, void *, void *, void *, int *);
typedef int face_delete_fn(void *, int, void *, void *);
struct keyval_wrap {
    enum abi_kind kind;
    face_copy_fn *copy;
    face_delete_fn *del;
    void *extra_state;
};

static int rc_mpich(int ompi_rc)
{
    return ompi_rc == MPI_SUCCESS ? 0 : abi_value_out_slow(ABI_G_ERRCLASS, ompi_rc);
}

static int wrap_copy(int32_t obj, int keyval, void *x, void *in, void *out, int *flag)
{
    struct keyval_wrap *w = x;
    if (w->copy == NULL) {
        *flag = 0;
        return 0;
    }
    return rc_mpich(
        w->copy(face_out(w->kind, obj), abi_value_in(ABI_G_KEYVAL, keyval), w->extra_state, in, out, flag));
}

static int wrap_delete(int32_t obj, int keyval, void *attr, void *x)
{
    struct keyval_wrap *w = x;
    if (w->del == NULL)
        return 0;
    return rc_mpich(w->del(face_out(w->kind, obj), abi_value_in(ABI_G_KEYVAL, keyval), attr, w->extra_state));
}

static int create_keyval(enum abi_kind kind, void *copy, void *del, int *keyval, void *extra_state)
{
    /* Upper memory, saved with the program; never freed (a keyval's
     * callbacks may run until its last attribute goes). */
    struct keyval_wrap *w = malloc(sizeof *w);
    if (w == NULL)
        return MPI_ERR_NO_MEM;
    *w = (struct keyval_wrap){kind, (face_copy_fn *)copy, (face_delete_fn *)del, extra_state};
    int k = FACE_MPICH_KEYVAL_INVALID, rc;
    if (kind == ABI_DATATYPE)
        rc = mana_mpich_MPI_Type_create_keyval((mana_MPI_Type_copy_attr_function *)wrap_copy,
                                               (mana_MPI_Type_delete_attr_function *)wrap_delete, &k, w);
    else if (kind == ABI_WIN)
        rc = mana_mpich_MPI_Win_create_keyval((mana_MPI_Win_copy_attr_function *)wrap_copy,
                                              (mana_MPI_Win_delete_attr_function *)wrap_delete, &k, w);
    else
        rc = mana_mpich_MPI_Comm_create_keyval((mana_MPI_Comm_copy_attr_function *)wrap_copy,
                                               (mana_MPI_Comm_delete_attr_function *)wrap_delete, &k, w);
    if (rc == 0)
        *keyval = abi_value_in(ABI_G_KEYVAL, k);
    else
        free(w);
    return face_rc(rc);
}

static int face_MPI_Comm_create_keyval(MPI_Comm_copy_attr_function *c, MPI_Comm_delete_attr_function *d, int *k,
                                       void *x)
{
    return create_keyval(ABI_COMM, (void *)c, (void *)d, k, x);
}
FACE_EXPORT(face_MPI_Comm_create_keyval, MPI_Comm_create_keyval);
FACE_EXPORT(face_MPI_Comm_create_keyval, PMPI_Comm_create_keyval);
FACE_EXPORT(face_MPI_Comm_create_keyval, MPI_Keyval_create);
FACE_EXPORT(face_MPI_Comm_create_keyval, PMPI_Keyval_create);

static int face_MPI_Type_create_keyval(MPI_Type_copy_attr_function *c, MPI_Type_delete_attr_function *d, int *k,
                                       void *x)
{
    return create_keyval(ABI_DATATYPE, (void *)c, (void *)d, k, x);
}
FACE_EXPORT(face_MPI_Type_create_keyval, MPI_Type_create_keyval);
FACE_EXPORT(face_MPI_Type_create_keyval, PMPI_Type_create_keyval);

static int face_MPI_Win_create_keyval(MPI_Win_copy_attr_function *c, MPI_Win_delete_attr_function *d, int *k,
                                      void *x)
{
    return create_keyval(ABI_WIN, (void *)c, (void *)d, k, x);
}
FACE_EXPORT(face_MPI_Win_create_keyval, MPI_Win_create_keyval);
FACE_EXPORT(face_MPI_Win_create_keyval, PMPI_Win_create_keyval);

/* Open MPI's predefined attribute functions (MPI_COMM_NULL_COPY_FN, ...):
 * the application passes their addresses; the wrappers above call them. */
static int null_copy(void *obj, int keyval, void *x, void *in, void *out, int *flag)
{
    (void)obj, (void)keyval, (void)x, (void)in, (void)out;
    *flag = 0;
    return MPI_SUCCESS;
}
static int null_delete(void *obj, int keyval, void *attr, void *x)
{
    (void)obj, (void)keyval, (void)attr, (void)x;
    return MPI_SUCCESS;
}
static int dup_copy(void *obj, int keyval, void *x, void *in, void *out, int *flag)
{
    (void)obj, (void)keyval, (void)x;
    *(void **)out = in;
    *flag = 1;
    return MPI_SUCCESS;
}
FACE_EXPORT(null_copy, OMPI_C_MPI_COMM_NULL_COPY_FN);
FACE_EXPORT(null_copy, OMPI_C_MPI_TYPE_NULL_COPY_FN);
FACE_EXPORT(null_copy, OMPI_C_MPI_WIN_NULL_COPY_FN);
FACE_EXPORT(null_copy, OMPI_C_MPI_NULL_COPY_FN);
FACE_EXPORT(null_delete, OMPI_C_MPI_COMM_NULL_DELETE_FN);
FACE_EXPORT(null_delete, OMPI_C_MPI_TYPE_NULL_DELETE_FN);
FACE_EXPORT(null_delete, OMPI_C_MPI_WIN_NULL_DELETE_FN);
FACE_EXPORT(null_delete, OMPI_C_MPI_NULL_DELETE_FN);
FACE_EXPORT(dup_copy, OMPI_C_MPI_COMM_DUP_FN);
FACE_EXPORT(dup_copy, OMPI_C_MPI_TYPE_DUP_FN);
FACE_EXPORT(dup_copy, OMPI_C_MPI_WIN_DUP_FN);
FACE_EXPORT(dup_copy, OMPI_C_MPI_DUP_FN);

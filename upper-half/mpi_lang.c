/* What MPICH's language binding libraries need of libmpich besides the
 * MPI C API. libmpichfort.so.12 (mpif.h, `use mpi`, `use mpi_f08`) and
 * libmpichcxx.so.12 are thin layers over the C API; the upper ld.so
 * loads them over the stub libmpich.so.12, so they reach libmana for
 * every MPI call, and here for MPICH's internal hooks and variables
 * (docs/design-decisions.md, "Fortran and C++"):
 *
 * - the Fortran sentinel addresses MPI_F_STATUS(ES)_IGNORE, which
 *   libmpichfort sets at its first call (mpirinitc_) to the addresses of
 *   its common-block variables and compares the Fortran arguments with,
 *   handing the C sentinels on;
 * - MPI_F08_STATUS(ES)_IGNORE, and the weight sentinels MPI_UNWEIGHTED
 *   and MPI_WEIGHTS_EMPTY, which stand for the lower MPI's own
 *   (mana_weights_real);
 * - attributes with a language type (a Fortran INTEGER attribute is a
 *   value, a C one a pointer): MPII_{Comm,Type,Win}_{set,get}_attr cross
 *   to the lower MPI's own, and a set is recorded like MPI_x_set_attr;
 * - the keyval language proxies (MPII_Keyval_set_proxy, in
 *   mpi_callbacks.c, beside the trampolines it serves). */
#include <stdio.h>

#include "crossing.h"
#include "mpi_wrap.h"
#include "upper_mpi_records.h"

MPI_Fint *MPI_F_STATUS_IGNORE;
MPI_Fint *MPI_F_STATUSES_IGNORE;

/* Only ever compared by address: the mpi_f08 module has its own objects,
 * and the C conversions that would read these (MPI_Status_f082c...) are
 * unsupported. */
static MPI_F08_status f08_status_ignore, f08_statuses_ignore;
MPI_F08_status *MPI_F08_STATUS_IGNORE = &f08_status_ignore;
MPI_F08_status *MPI_F08_STATUSES_IGNORE = &f08_statuses_ignore;

static int unweighted, weights_empty;
int *const MPI_UNWEIGHTED = &unweighted;
int *const MPI_WEIGHTS_EMPTY = &weights_empty;

const int *mana_weights_real(const int *weights)
{
    if (weights == MPI_UNWEIGHTED)
        return mana_lower->lang.unweighted;
    if (weights == MPI_WEIGHTS_EMPTY)
        return mana_lower->lang.weights_empty;
    return weights;
}

int *mana_weights_real_out(int *weights)
{
    /* MPI never writes through a sentinel: the cast only hands it on. */
    return (int *)mana_weights_real(weights);
}

void mana_blob_put_weights(struct mana_blob *b, const int *weights, int64_t n)
{
    if (weights == MPI_UNWEIGHTED)
        mana_blob_put_sentinel(b, 0);
    else if (weights == MPI_WEIGHTS_EMPTY)
        mana_blob_put_sentinel(b, 1);
    else
        mana_blob_put_array(b, weights, weights ? n : 0, sizeof *weights);
}

int *mana_blob_get_weights(struct mana_blob_reader *r, int64_t *n)
{
    int sentinel = -1;
    int *a = mana_blob_get_array_or_sentinel(r, sizeof *a, n, &sentinel);
    if (sentinel == 0)
        return (int *)mana_lower->lang.unweighted;
    if (sentinel == 1)
        return (int *)mana_lower->lang.weights_empty;
    return a;
}

static uint64_t real_in(enum vid_kind kind, int32_t v, const char *function)
{
    uint64_t r;
    if (vid_real(kind, v, &r) != 0)
        r = mana_bad_handle(kind, v, function);
    return r;
}

#define SET_ATTR(name, kind, hook, record)                                                                 \
    int name(int object, int keyval, void *value, int attr_type)                                           \
    {                                                                                                      \
        struct mana_crossing c;                                                                            \
        mana_cross_lock(&c, #name);                                                                        \
        uint64_t r_object = real_in(kind, object, #name);                                                  \
        uint64_t r_keyval = real_in(VID_KEYVAL, keyval, #name);                                            \
        mana_cross_to_lower(&c);                                                                           \
        int rc = mana_lower->lang.hook((int)r_object, (int)r_keyval, value, attr_type);                    \
        mana_cross_to_upper(&c);                                                                           \
        if (rc == MPI_SUCCESS && record(object, keyval, value) != 0)                                       \
            rc = MPI_ERR_INTERN;                                                                           \
        mana_cross_unlock(&c);                                                                             \
        return rc;                                                                                         \
    }

/* Windows are never recorded (a checkpoint is refused while one exists). */
static int no_record(int object, int keyval, void *value)
{
    (void)object;
    (void)keyval;
    (void)value;
    return 0;
}

/* The replay sets the value as a C attribute (docs/limitations.md). */
SET_ATTR(MPII_Comm_set_attr, VID_COMM, comm_set_attr, mana_record_MPI_Comm_set_attr)
SET_ATTR(MPII_Type_set_attr, VID_DATATYPE, type_set_attr, mana_record_MPI_Type_set_attr)
SET_ATTR(MPII_Win_set_attr, VID_WIN, win_set_attr, no_record)

#define GET_ATTR(name, kind, hook)                                                                         \
    int name(int object, int keyval, void *value, int *flag, int attr_type)                                \
    {                                                                                                      \
        struct mana_crossing c;                                                                            \
        mana_cross_lock(&c, #name);                                                                        \
        uint64_t r_object = real_in(kind, object, #name);                                                  \
        uint64_t r_keyval = real_in(VID_KEYVAL, keyval, #name);                                            \
        mana_cross_to_lower(&c);                                                                           \
        int rc = mana_lower->lang.hook((int)r_object, (int)r_keyval, value, flag, attr_type);              \
        mana_cross_to_upper(&c);                                                                           \
        mana_cross_unlock(&c);                                                                             \
        return rc;                                                                                         \
    }

GET_ATTR(MPII_Comm_get_attr, VID_COMM, comm_get_attr)
GET_ATTR(MPII_Type_get_attr, VID_DATATYPE, type_get_attr)
GET_ATTR(MPII_Win_get_attr, VID_WIN, win_get_attr)

/* Reached only after MPI_GREQUEST_START, which is unsupported and has
 * already ended the job; kept so libmpichfort loads. */
void MPII_Grequest_set_lang_f77(MPI_Request request)
{
    (void)request;
    mana_unsupported("MPI_GREQUEST_START (generalized requests from Fortran)");
}

/* The C++ bindings (MPI::, removed from the standard by MPI-3) route user
 * ops and error handlers through MPICH's C++ language hooks, which call
 * C++ code from inside the lower MPI; MANA does not route those. C++
 * programs that use the C API, as MPI-3 C++ programs do, never get here. */
void MPII_Op_set_cxx(MPI_Op op, void (*call)(void))
{
    (void)op;
    (void)call;
    mana_unsupported("MPI::Op::Init (user reduction ops of the MPI C++ bindings; use MPI_Op_create)");
}

void MPII_Errhandler_set_cxx(MPI_Errhandler errhandler, void (*call)(void))
{
    (void)errhandler;
    (void)call;
    mana_unsupported("MPI::Comm::Create_errhandler (error handlers of the MPI C++ bindings; use "
                     "MPI_Comm_create_errhandler)");
}

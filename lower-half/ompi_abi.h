/* The Open MPI lower half's translation between MPICH's ABI, which the
 * call table speaks (mana/mpich_abi.h), and Open MPI's
 * (docs/mpi-wrappers.md, "One ABI at the crossing").
 *
 * Handles. Open MPI's handles are addresses of its objects. The table
 * carries MPICH-shaped ints instead:
 *  - a predefined handle is MPICH's own constant (MPI_COMM_WORLD is
 *    0x44000000), mapped to Open MPI's object through a small hash;
 *  - an object MPI creates gets an int of our own,
 *      bits 31..30 0b11 (no predefined MPICH handle has them)
 *      bits 29..26 the kind (enum abi_kind)
 *      bits 21..0  the index of its slot
 *    and the slot holds the object's address and how many references
 *    the upper half holds to it (an object MPI hands back twice, such as
 *    a communicator's group, keeps its int).
 * These ints are what the upper half's virtual ids see as "real"
 * handles; the application never sees them.
 *
 * Values. MPI constants that are plain ints (MPI_ANY_SOURCE, error
 * classes, combiners, ...) are translated where a parameter of that
 * meaning crosses, with the groups of mpi-wrappers/mpi_constants.txt.
 *
 * Statuses are converted between MPICH's 20-byte layout and Open MPI's.
 *
 * Thread safety: lookups take no lock (slots never move: each kind's
 * slot array is reserved whole at start); creating and releasing ids
 * take a spin lock, because a blocking call may run outside MANA's
 * lower lock (docs/checkpoint-protocol.md). */
#ifndef MANA_OMPI_ABI_H
#define MANA_OMPI_ABI_H

#include <mpi.h>
#include <stddef.h>
#include <stdint.h>

#ifndef OPEN_MPI
#error "ompi_abi.h is for the lower half built with Open MPI's mpi.h"
#endif

#include "abi_consts.h"
#include "mana/call_table.h"

enum abi_kind {
    ABI_COMM,
    ABI_GROUP,
    ABI_DATATYPE,
    ABI_OP,
    ABI_REQUEST,
    ABI_ERRHANDLER,
    ABI_INFO,
    ABI_WIN,
    ABI_MESSAGE,
    ABI_NKINDS
};

#define ABI_USER_BITS 0xc0000000u
#define ABI_KIND_SHIFT 26
#define ABI_INDEX_MASK 0x003fffffu
#define ABI_MAX_SLOTS (1u << 20)

struct abi_slot {
    void *obj;     /* NULL: free */
    uint32_t refs; /* references the upper half holds */
    uint32_t next_free;
};

struct abi_table {
    struct abi_slot *slots; /* ABI_MAX_SLOTS reserved */
    uint32_t used;          /* slots [0, used) were handed out at least once */
    uint32_t free_head;     /* UINT32_MAX: none */
};
extern struct abi_table abi_tables[ABI_NKINDS];

/* Open MPI's null object of each kind (MPI_COMM_NULL, ...). */
extern void *abi_null_obj[ABI_NKINDS];
/* MPICH's null handle of each kind. */
extern int32_t abi_null_handle[ABI_NKINDS];

/* MPICH's MPI_ERR_NO_MEM, for an adapter that cannot get scratch memory. */
#define MANA_ABI_ERR_NO_MEM (abi_mpich[ABI_C_ERRCLASS_MPI_ERR_NO_MEM])
/* Arrays up to this many entries are translated on the stack. */
#define ABI_SMALL 16

/* Builds the predefined handle maps; before any other call here. */
void ompi_abi_init(void);
/* Generated (lower_ompi_table.c). */
void ompi_abi_fill_table(struct mana_mpi_table *t);

void *abi_predefined_in(enum abi_kind kind, int32_t handle);
/* The predefined maps alone (ompi_abi_init's first half): what the
 * upper half's Open MPI face uses (upper-half/face_ompi.h). */
void abi_predefined_init(void);
/* The MPICH constant of predefined object OBJ: 1, or 0 if none. */
int abi_predefined_out(enum abi_kind kind, const void *obj, int32_t *handle);

/* The Open MPI object of an MPICH-ABI handle; the kind's null object for
 * a handle that names none (Open MPI then reports the error its own way). */
static inline void *abi_in(enum abi_kind kind, int32_t handle)
{
    uint32_t v = (uint32_t)handle;
    if ((v & ABI_USER_BITS) == ABI_USER_BITS) {
        uint32_t idx = v & ABI_INDEX_MASK;
        const struct abi_table *t = &abi_tables[kind];
        if (((v >> ABI_KIND_SHIFT) & 0xfu) == (uint32_t)kind && idx < t->used && t->slots[idx].obj != NULL)
            return t->slots[idx].obj;
        return abi_null_obj[kind];
    }
    return abi_predefined_in(kind, handle);
}

static inline void *abi_null(enum abi_kind kind)
{
    return abi_null_obj[kind];
}

/* The MPICH-ABI handle of an object Open MPI handed out: the predefined
 * constant, the int it already has (one more reference), or a new int.
 * MPICH's MPI_ERR_INTERN-like failure (no slot) gives the kind's null. */
int32_t abi_out(enum abi_kind kind, void *obj);
/* The handle OBJ already has, without a reference: what a callback passes
 * on (the communicator of an error handler, the datatype of a reduction);
 * the kind's null handle for an object with none. */
int32_t abi_known(enum abi_kind kind, const void *obj);

/* After a call that may change a handle in place (a free, a completion):
 * HANDLE's object is now AFTER. Unchanged: HANDLE. Otherwise HANDLE drops
 * one reference, and the result is AFTER's handle (the null handle when
 * MPI set it to null). */
int32_t abi_update(enum abi_kind kind, int32_t handle, void *after);

/* Values of a group of mpi_constants.txt, MPICH to Open MPI and back;
 * a value that is none of the group's passes unchanged. */
int abi_value_in_slow(enum abi_group group, int v);
int abi_value_out_slow(enum abi_group group, int v);
static inline int abi_value_in(enum abi_group group, int v)
{
    /* Ranks and tags are the common case, and never negative. */
    if (group == ABI_G_RANK && v >= 0)
        return v;
    return abi_value_in_slow(group, v);
}
static inline int abi_value_out(enum abi_group group, int v)
{
    if (group == ABI_G_RANK && v >= 0)
        return v;
    return abi_value_out_slow(group, v);
}

/* Open MPI's return code as MPICH's error class. */
static inline int abi_rc(int rc)
{
    return rc == MPI_SUCCESS ? 0 : abi_value_out_slow(ABI_G_ERRCLASS, rc);
}

/* MPICH's MPI_IN_PLACE is (void *)-1, Open MPI's (void *)1. */
static inline void *abi_buffer(const void *p)
{
    return p == (const void *)-1 ? MPI_IN_PLACE : (void *)p;
}

/* MPICH's MPI_STATUS_IGNORE and MPI_STATUSES_IGNORE are (MPI_Status *)1. */
static inline int abi_status_ignored(const void *s)
{
    return s == (const void *)1;
}
void abi_status_in(const mana_MPI_Status *m, MPI_Status *o);
void abi_status_out(const MPI_Status *o, mana_MPI_Status *m);
/* Scratch statuses for an array of COUNT MPICH statuses (SMALL when they
 * fit), or MPI_STATUSES_IGNORE; 0, or -1 without memory. */
int abi_statuses(MPI_Status *small, const mana_MPI_Status *m, int count, MPI_Status **out);
void abi_statuses_out(const MPI_Status *o, mana_MPI_Status *m, int count);

/* SMALL (ABI_SMALL entries) when N entries of SIZE fit, else malloc. */
void *abi_scratch(void *small, int n, size_t size);
void abi_scratch_done(void *p, void *small);

/* The length rules of mpi_api.txt's len() annotations. */
enum { ABI_PEERS_ALL, ABI_PEERS_IN, ABI_PEERS_OUT, ABI_PEERS_CARTDIM };
int abi_peers(MPI_Comm comm, int which);
int64_t abi_sum(const int *a, int64_t n);

/* A call Open MPI 4.1 does not have: says so and aborts the job. */
void abi_absent(const char *name) __attribute__((noreturn));

/* Written by hand (lower-half/ompi_abi_calls.c): see openmpi.txt. */
int ompi_abi_MPI_Init_thread(int *argc, char ***argv, int required, int *provided);
int ompi_abi_MPI_Op_create(mana_MPI_User_function *user_fn, int commute, mana_MPI_Op *op);
int ompi_abi_MPI_Comm_create_keyval(mana_MPI_Comm_copy_attr_function *copy_fn,
                                    mana_MPI_Comm_delete_attr_function *delete_fn, int *keyval, void *extra_state);
int ompi_abi_MPI_Keyval_create(mana_MPI_Copy_function *copy_fn, mana_MPI_Delete_function *delete_fn, int *keyval,
                               void *extra_state);
int ompi_abi_MPI_Type_create_keyval(mana_MPI_Type_copy_attr_function *copy_fn,
                                    mana_MPI_Type_delete_attr_function *delete_fn, int *keyval, void *extra_state);
int ompi_abi_MPI_Win_create_keyval(mana_MPI_Win_copy_attr_function *copy_fn,
                                   mana_MPI_Win_delete_attr_function *delete_fn, int *keyval, void *extra_state);
int ompi_abi_MPI_Comm_create_errhandler(mana_MPI_Comm_errhandler_function *fn, mana_MPI_Errhandler *errhandler);
int ompi_abi_MPI_Win_create_errhandler(mana_MPI_Win_errhandler_function *fn, mana_MPI_Errhandler *errhandler);
int ompi_abi_MPI_Errhandler_create(mana_MPI_Comm_errhandler_function *fn, mana_MPI_Errhandler *errhandler);
int ompi_abi_MPI_Grequest_start(mana_MPI_Grequest_query_function *query_fn, mana_MPI_Grequest_free_function *free_fn,
                                mana_MPI_Grequest_cancel_function *cancel_fn, void *extra_state,
                                mana_MPI_Request *request);
int ompi_abi_MPI_Grequest_complete(mana_MPI_Request request);
int ompi_abi_MPI_Get_version(int *version, int *subversion);
int ompi_abi_MPI_Get_library_version(char *version, int *resultlen);
int ompi_abi_MPI_Get_processor_name(char *name, int *resultlen);
int ompi_abi_MPI_Buffer_attach(void *buffer, int size);
int ompi_abi_MPI_Buffer_detach(void *buffer_addr, int *size);
int ompi_abi_MPI_Type_get_contents(mana_MPI_Datatype datatype, int max_integers, int max_addresses,
                                   int max_datatypes, int array_of_integers[], mana_MPI_Aint array_of_addresses[],
                                   mana_MPI_Datatype array_of_datatypes[]);
int ompi_abi_MPI_Type_create_darray(int size, int rank, int ndims, const int array_of_gsizes[],
                                    const int array_of_distribs[], const int array_of_dargs[],
                                    const int array_of_psizes[], int order, mana_MPI_Datatype oldtype,
                                    mana_MPI_Datatype *newtype);
int ompi_abi_MPI_Status_c2f(const mana_MPI_Status *c_status, mana_MPI_Fint *f_status);
int ompi_abi_MPI_Status_f2c(const mana_MPI_Fint *f_status, mana_MPI_Status *c_status);

#endif

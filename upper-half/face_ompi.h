/* The Open MPI face of the upper half (docs/mpi-wrappers.md, "The Open
 * MPI face"): what the generated face_ompi.c needs to turn an Open
 * MPI-built application's calls into calls of libmana's MPICH-ABI
 * functions (renamed mana_mpich_MPI_x in libmana-ompi.so) and back.
 *
 * Built with Open MPI's mpi.h: MPI_x types are Open MPI's, mana_MPI_x
 * MPICH's (mana/mpich_abi.h with MANA_ABI_NEUTRAL). The value groups and
 * the predefined maps are the Open MPI lower half's (lower-half/ompi_abi.h),
 * used the other way round; abi_ompi[] holds the addresses of the face's
 * own predefined objects (face_ompi_objects.c), which the dynamic linker
 * binds to the application's copies.
 *
 * Handles the application sees: a predefined object's address, or the
 * MPICH-ABI virtual id libmana gave the object, as a pointer (user ids
 * have 0b11 in bits 31..30, upper-half/virtual_ids.h; no object the
 * application can name lies at such a small address). */
#ifndef MANA_FACE_OMPI_H
#define MANA_FACE_OMPI_H

#include <mpi.h>
#include <stdint.h>

#include "ompi_abi.h"

#define FACE_USER_BITS 0xc0000000u
/* MPICH's MPI_STATUS(ES)_IGNORE and its MPI_KEYVAL_INVALID. */
#define FACE_MPICH_STATUS_IGNORE ((mana_MPI_Status *)1)
#define FACE_MPICH_KEYVAL_INVALID (abi_mpich[ABI_C_KEYVAL_MPI_KEYVAL_INVALID])

void *face_predefined(enum abi_kind kind, int32_t handle);
int32_t face_predefined_id(enum abi_kind kind, const void *obj);

/* The application's handle P as libmana's id. */
static inline int32_t face_in(enum abi_kind kind, const void *p)
{
    uintptr_t v = (uintptr_t)p;
    if (v <= UINT32_MAX && (v & FACE_USER_BITS) == FACE_USER_BITS)
        return (int32_t)(uint32_t)v;
    return face_predefined_id(kind, p);
}

/* libmana's id H as the application's handle. */
static inline void *face_out(enum abi_kind kind, int32_t h)
{
    uint32_t v = (uint32_t)h;
    if ((v & FACE_USER_BITS) == FACE_USER_BITS)
        return (void *)(uintptr_t)v;
    return face_predefined(kind, h);
}

static inline int32_t face_null(enum abi_kind kind)
{
    return abi_null_handle[kind];
}

static inline void *face_update(enum abi_kind kind, const void *before, int32_t after)
{
    (void)before;
    return face_out(kind, after);
}

/* libmana's MPICH error class as Open MPI's. */
static inline int face_rc(int rc)
{
    return rc == 0 ? MPI_SUCCESS : abi_value_in_slow(ABI_G_ERRCLASS, rc);
}

/* Open MPI's MPI_IN_PLACE is (void *)1, MPICH's (void *)-1. */
static inline void *face_buffer(const void *p)
{
    return p == MPI_IN_PLACE ? (void *)-1 : (void *)p;
}

/* Open MPI's MPI_UNWEIGHTED and MPI_WEIGHTS_EMPTY as libmana's. */
int *face_weights(const int *w);

/* Open MPI's MPI_STATUS(ES)_IGNORE is NULL. */
static inline int face_status_ignored(const MPI_Status *s)
{
    return s == NULL;
}
static inline void face_status_in(const MPI_Status *o, mana_MPI_Status *m)
{
    abi_status_out(o, m);
}
static inline void face_status_out(const mana_MPI_Status *m, MPI_Status *o)
{
    abi_status_in(m, o);
}
int face_statuses(mana_MPI_Status *small, const MPI_Status *o, int count, mana_MPI_Status **out);
void face_statuses_out(const mana_MPI_Status *m, MPI_Status *o, int count);
static inline void face_statuses_done(mana_MPI_Status *m, mana_MPI_Status *small)
{
    if (m != FACE_MPICH_STATUS_IGNORE)
        abi_scratch_done(m, small);
}

/* A function the face does not provide: says so and stops the job. */
void face_unsupported(const char *name) __attribute__((noreturn));

/* libmana's, renamed (what the face calls that the generated file does
 * not declare). */
int mana_mpich_MPI_Abort(mana_MPI_Comm comm, int errorcode);

#endif

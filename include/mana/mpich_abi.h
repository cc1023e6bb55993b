/* The MPICH ABI of the call table (docs/mpi-wrappers.md, "One ABI at the
 * crossing").
 *
 * The application and libmana speak MPICH's ABI: handles are ints,
 * MPI_Status is MPICH's 20-byte struct. The call table between libmana
 * and the lower half speaks it too, whichever MPI the lower half runs. Its
 * types are named mana_MPI_x here:
 *
 *  - Built against MPICH's mpi.h (libmana, the MPICH lower half), each is
 *    MPICH's own type, so code passes its MPI_Comm, MPI_Status, ... to the
 *    table with no cast.
 *  - Built with MANA_ABI_NEUTRAL (the Open MPI lower half, which includes
 *    Open MPI's mpi.h and so cannot include MPICH's), each is spelled out
 *    as MPICH lays it out; lower-half/ompi_abi.c checks every size and
 *    offset against MPICH's header at build time.
 */
#ifndef MANA_MPICH_ABI_H
#define MANA_MPICH_ABI_H

#include <stdint.h>

#ifndef MANA_ABI_NEUTRAL

#include <mpi.h>
#ifndef MPICH_VERSION
#error "mana/mpich_abi.h without MANA_ABI_NEUTRAL needs MPICH's mpi.h first on the include path"
#endif

typedef MPI_Comm mana_MPI_Comm;
typedef MPI_Group mana_MPI_Group;
typedef MPI_Datatype mana_MPI_Datatype;
typedef MPI_Op mana_MPI_Op;
typedef MPI_Request mana_MPI_Request;
typedef MPI_Errhandler mana_MPI_Errhandler;
typedef MPI_Info mana_MPI_Info;
typedef MPI_Win mana_MPI_Win;
typedef MPI_Message mana_MPI_Message;
typedef MPI_Session mana_MPI_Session;
typedef MPI_Aint mana_MPI_Aint;
typedef MPI_Count mana_MPI_Count;
typedef MPI_Fint mana_MPI_Fint;
typedef MPI_Status mana_MPI_Status;
typedef MPI_T_enum mana_MPI_T_enum;
typedef MPI_T_cvar_handle mana_MPI_T_cvar_handle;
typedef MPI_T_pvar_handle mana_MPI_T_pvar_handle;
typedef MPI_T_pvar_session mana_MPI_T_pvar_session;
typedef MPI_T_event_registration mana_MPI_T_event_registration;
typedef MPI_T_event_instance mana_MPI_T_event_instance;
typedef MPI_T_cb_safety mana_MPI_T_cb_safety;
typedef MPI_T_source_order mana_MPI_T_source_order;
typedef MPI_User_function mana_MPI_User_function;
typedef MPI_Comm_copy_attr_function mana_MPI_Comm_copy_attr_function;
typedef MPI_Comm_delete_attr_function mana_MPI_Comm_delete_attr_function;
typedef MPI_Type_copy_attr_function mana_MPI_Type_copy_attr_function;
typedef MPI_Type_delete_attr_function mana_MPI_Type_delete_attr_function;
typedef MPI_Win_copy_attr_function mana_MPI_Win_copy_attr_function;
typedef MPI_Win_delete_attr_function mana_MPI_Win_delete_attr_function;
typedef MPI_Copy_function mana_MPI_Copy_function;
typedef MPI_Delete_function mana_MPI_Delete_function;
typedef MPI_Comm_errhandler_function mana_MPI_Comm_errhandler_function;
typedef MPI_Win_errhandler_function mana_MPI_Win_errhandler_function;
typedef MPI_Grequest_query_function mana_MPI_Grequest_query_function;
typedef MPI_Grequest_free_function mana_MPI_Grequest_free_function;
typedef MPI_Grequest_cancel_function mana_MPI_Grequest_cancel_function;

#else /* MANA_ABI_NEUTRAL */

typedef int32_t mana_MPI_Comm;
typedef int32_t mana_MPI_Group;
typedef int32_t mana_MPI_Datatype;
typedef int32_t mana_MPI_Op;
typedef int32_t mana_MPI_Request;
typedef int32_t mana_MPI_Errhandler;
typedef int32_t mana_MPI_Info;
typedef int32_t mana_MPI_Win;
typedef int32_t mana_MPI_Message;
typedef int32_t mana_MPI_Session;
typedef long mana_MPI_Aint;
typedef long mana_MPI_Count;
typedef int mana_MPI_Fint;
typedef struct mana_MPI_Status {
    int count_lo;
    int count_hi_and_cancelled; /* count >> 31 << 1 | cancelled */
    int MPI_SOURCE;
    int MPI_TAG;
    int MPI_ERROR;
} mana_MPI_Status;
/* The tools interface's handles are the lower MPI's own pointers. */
typedef void *mana_MPI_T_enum;
typedef void *mana_MPI_T_cvar_handle;
typedef void *mana_MPI_T_pvar_handle;
typedef void *mana_MPI_T_pvar_session;
typedef void *mana_MPI_T_event_registration;
typedef void *mana_MPI_T_event_instance;
typedef int mana_MPI_T_cb_safety;
typedef int mana_MPI_T_source_order;
typedef void(mana_MPI_User_function)(void *, void *, int *, mana_MPI_Datatype *);
typedef int(mana_MPI_Comm_copy_attr_function)(mana_MPI_Comm, int, void *, void *, void *, int *);
typedef int(mana_MPI_Comm_delete_attr_function)(mana_MPI_Comm, int, void *, void *);
typedef int(mana_MPI_Type_copy_attr_function)(mana_MPI_Datatype, int, void *, void *, void *, int *);
typedef int(mana_MPI_Type_delete_attr_function)(mana_MPI_Datatype, int, void *, void *);
typedef int(mana_MPI_Win_copy_attr_function)(mana_MPI_Win, int, void *, void *, void *, int *);
typedef int(mana_MPI_Win_delete_attr_function)(mana_MPI_Win, int, void *, void *);
typedef int(mana_MPI_Copy_function)(mana_MPI_Comm, int, void *, void *, void *, int *);
typedef int(mana_MPI_Delete_function)(mana_MPI_Comm, int, void *, void *);
typedef void(mana_MPI_Comm_errhandler_function)(mana_MPI_Comm *, int *, ...);
typedef void(mana_MPI_Win_errhandler_function)(mana_MPI_Win *, int *, ...);
typedef int(mana_MPI_Grequest_query_function)(void *, mana_MPI_Status *);
typedef int(mana_MPI_Grequest_free_function)(void *);
typedef int(mana_MPI_Grequest_cancel_function)(void *, int);

#endif /* MANA_ABI_NEUTRAL */

#endif

/* What the MPICH lower half (mana-lh-mpich) asks of libmpich besides the
 * MPI functions of the table, which it calls directly: MPICH's ABI is
 * the table's (mana/mpich_abi.h). Open MPI's counterpart is
 * ompi_abi_calls.c. */
#include <mpi.h>

#include "mpi_adapters.h"

const enum mana_mpi_flavour lower_flavour = MANA_MPI_MPICH;

uint64_t lower_table_comm(MPI_Comm comm)
{
    return (uint64_t)(uint32_t)comm;
}

/* MPICH's hooks for its binding libraries, declared in its internal
 * mpir_attr_generic.h (not installed); exported by libmpich.so.12 with
 * these prototypes, MPIR_Attr_type being an enum passed as an int. */
int MPII_Comm_set_attr(MPI_Comm comm, int keyval, void *value, int attr_type);
int MPII_Type_set_attr(MPI_Datatype type, int keyval, void *value, int attr_type);
int MPII_Win_set_attr(MPI_Win win, int keyval, void *value, int attr_type);
int MPII_Comm_get_attr(MPI_Comm comm, int keyval, void *value, int *flag, int attr_type);
int MPII_Type_get_attr(MPI_Datatype type, int keyval, void *value, int *flag, int attr_type);
int MPII_Win_get_attr(MPI_Win win, int keyval, void *value, int *flag, int attr_type);
void MPII_Keyval_set_proxy(int keyval, void *copy_proxy, void *delete_proxy);

void mana_lower_fill_lang_hooks(struct mana_lang_hooks *h)
{
    /* MPI handles are ints in MPICH's ABI, as the table's types say. */
    h->comm_set_attr = MPII_Comm_set_attr;
    h->type_set_attr = MPII_Type_set_attr;
    h->win_set_attr = MPII_Win_set_attr;
    h->comm_get_attr = MPII_Comm_get_attr;
    h->type_get_attr = MPII_Type_get_attr;
    h->win_get_attr = MPII_Win_get_attr;
    h->keyval_set_proxy = MPII_Keyval_set_proxy;
    h->unweighted = MPI_UNWEIGHTED;
    h->weights_empty = MPI_WEIGHTS_EMPTY;
}

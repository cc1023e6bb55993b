/* MPI_Type_get_contents returns handles in an array whose used length
 * only MPI_Type_get_envelope knows, so it is written by hand: the
 * datatypes MPI hands back are mapped to the ids the application holds
 * (MPI gives a new reference to each derived one, which the id takes
 * over; predefined types stay themselves). */
#include "crossing.h"
#include "mpi_wrap.h"

int MPI_Type_get_contents(MPI_Datatype datatype, int max_integers, int max_addresses, int max_datatypes,
                          int array_of_integers[], MPI_Aint array_of_addresses[], MPI_Datatype array_of_datatypes[])
{
    struct mana_crossing c;
    mana_cross_lock(&c, "MPI_Type_get_contents");
    uint64_t r;
    if (vid_real(VID_DATATYPE, datatype, &r) != 0)
        r = mana_bad_handle(VID_DATATYPE, datatype, "MPI_Type_get_contents");
    int ni = 0, na = 0, nd = 0, combiner = 0;
    mana_cross_to_lower(&c);
    int rc = mana_lower->mpi.MPI_Type_get_contents((MPI_Datatype)r, max_integers, max_addresses, max_datatypes,
                                                   array_of_integers, array_of_addresses, array_of_datatypes);
    if (rc == MPI_SUCCESS)
        rc = mana_lower->mpi.MPI_Type_get_envelope((MPI_Datatype)r, &ni, &na, &nd, &combiner);
    mana_cross_to_upper(&c);
    for (int i = 0; rc == MPI_SUCCESS && i < nd && i < max_datatypes; i++) {
        int32_t v = mana_handle_out(VID_DATATYPE, MANA_REAL(array_of_datatypes[i]), MANA_OUT_REF,
                                    "MPI_Type_get_contents");
        if (v == VID_INVALID)
            rc = MPI_ERR_INTERN;
        else
            array_of_datatypes[i] = (MPI_Datatype)v;
    }
    mana_cross_unlock(&c);
    return rc;
}
MANA_PMPI_ALIAS(MPI_Type_get_contents)

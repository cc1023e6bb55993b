/* What a call to an MPI function MANA does not support does: say which
 * function, then end the whole job through the real MPI_Abort, as an MPI
 * error would, instead of letting one rank die alone and the others hang. */
#include <stdio.h>
#include <unistd.h>

#include "crossing.h"

void mana_unsupported(const char *function)
{
    fprintf(stderr, "MANA: %s is not supported by this version of MANA (see docs/limitations.md)\n", function);
    fflush(stderr);
    if (mana_lower != NULL) {
        struct mana_crossing c;
        mana_cross_enter(&c, function);
        mana_lower->mpi.MPI_Abort(MPI_COMM_WORLD, 1);
        mana_cross_leave(&c);
    }
    _exit(1);
}

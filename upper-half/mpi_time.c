/* MPI_Wtime and MPI_Wtick are answered in the upper half: a crossing
 * costs far more than reading the clock (two arch_prctl calls where the
 * kernel lacks FSGSBASE), programs call MPI_Wtime in their timing loops,
 * and a clock kept in the upper half is one a restart can keep monotonic
 * by saving an offset with the image. The clock is read through the
 * vDSO's clock_gettime that the lower half found (the upper glibc has no
 * vDSO of its own, so its clock_gettime is a system call). CLOCK_MONOTONIC:
 * MPI_Wtime must never go backwards while the program runs
 * (MPI_WTIME_IS_GLOBAL is false, as in MPICH). */
#include <time.h>

#include "crossing.h"

double MPI_Wtime(void)
{
    struct timespec ts;
    if (mana_lower == NULL || mana_lower->vdso_clock_gettime == NULL ||
        mana_lower->vdso_clock_gettime(CLOCK_MONOTONIC, &ts) != 0)
        clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}
MANA_PMPI_ALIAS(MPI_Wtime)

double MPI_Wtick(void)
{
    struct timespec res;
    if (clock_getres(CLOCK_MONOTONIC, &res) != 0)
        return 1e-9;
    return (double)res.tv_sec + (double)res.tv_nsec * 1e-9;
}
MANA_PMPI_ALIAS(MPI_Wtick)

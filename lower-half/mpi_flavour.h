/* Which MPI implementation runs a rank's lower half (mana-launch and
 * mana-restart): the one whose launcher started the rank, or the one
 * --mpi names, and where that flavour's lower half is installed. */
#ifndef MANA_MPI_FLAVOUR_H
#define MANA_MPI_FLAVOUR_H

#include <stddef.h>

/* "openmpi" or "mpich" when a launcher of that MPI started this process
 * (its environment says so), NULL for a process started on its own. */
const char *mpi_flavour_of_launcher(void);

enum mpi_flavour_status { FLAVOUR_OK = 0, FLAVOUR_BAD_NAME, FLAVOUR_UNAVAILABLE };

/* The flavour to run: REQUESTED (mpich, openmpi, or auto/NULL: the
 * launcher's, else mpich). FLAVOUR_UNAVAILABLE, with the reason on
 * stderr after PROG, when it disagrees with the launcher or Slurm started
 * the task without PMI; FLAVOUR_BAD_NAME for another name. */
enum mpi_flavour_status mpi_flavour_choose(const char *prog, const char *requested, const char **flavour);

/* The path of FLAVOUR's lower half beside this program's installation:
 * 0, or FLAVOUR_UNAVAILABLE (said on stderr) when it is not installed. */
enum mpi_flavour_status mpi_flavour_lower_half(const char *prog, const char *flavour, char *out, size_t len);

#endif

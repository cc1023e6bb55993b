/* Every MPI function libmana exports and whether it is supported,
 * generated from mpi-wrappers/mpi_api.txt (mpi_api_list.c), for
 * `mana-launch --list-mpi`. */
#ifndef MANA_MPI_API_LIST_H
#define MANA_MPI_API_LIST_H

struct mpi_api_entry {
    const char *name;
    int supported;
};

extern const struct mpi_api_entry mpi_api_list[];
extern const unsigned mpi_api_count;

#endif

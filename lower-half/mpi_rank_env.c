#include "mpi_rank_env.h"

#include <stdlib.h>

static int env_int(const char *const *names, int fallback)
{
    for (; *names != NULL; names++) {
        const char *v = getenv(*names);
        if (v != NULL && *v != '\0')
            return atoi(v);
    }
    return fallback;
}

void mpi_rank_from_env(int *rank, int *nranks)
{
    static const char *const rank_vars[] = {"PMI_RANK", "OMPI_COMM_WORLD_RANK", "PMIX_RANK", "SLURM_PROCID", NULL};
    static const char *const size_vars[] = {"PMI_SIZE", "OMPI_COMM_WORLD_SIZE", "SLURM_NTASKS", NULL};
    *rank = env_int(rank_vars, 0);
    *nranks = env_int(size_vars, 1);
}

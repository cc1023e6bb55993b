#define _GNU_SOURCE
#include "mpi_flavour.h"

#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

const char *mpi_flavour_of_launcher(void)
{
    /* srun --mpi=pmix sets only PMIX_*: Debian's MPICH has no PMIx client,
     * so a PMIx server means Open MPI. */
    if (getenv("OMPI_COMM_WORLD_SIZE") != NULL || getenv("OMPI_COMM_WORLD_RANK") != NULL ||
        getenv("PMIX_RANK") != NULL)
        return "openmpi";
    if (getenv("PMI_RANK") != NULL || getenv("PMI_FD") != NULL || getenv("PMI_SIZE") != NULL ||
        getenv("HYDRA_CONTROL_FD") != NULL)
        return "mpich";
    return NULL;
}

/* Under srun without a PMI plugin every task believes it is a singleton
 * and the job silently becomes N one-rank jobs: refuse instead. */
static int slurm_without_pmi(const char *prog, const char *launcher)
{
    const char *ntasks = getenv("SLURM_STEP_NUM_TASKS");
    if (ntasks == NULL)
        ntasks = getenv("SLURM_NTASKS");
    if (launcher != NULL || getenv("SLURM_PROCID") == NULL || ntasks == NULL || atoi(ntasks) <= 1)
        return 0;
    fprintf(stderr,
            "%s: Slurm started this step with %s tasks, but no PMI reached this rank, so each task would run as "
            "its own one-rank MPI job: launch with 'srun --mpi=pmi2' for MPICH (or 'srun --mpi=pmix' for Open MPI), "
            "or use mpirun.mpich inside the allocation\n",
            prog, ntasks);
    return 1;
}

enum mpi_flavour_status mpi_flavour_choose(const char *prog, const char *requested, const char **flavour)
{
    const char *launcher = mpi_flavour_of_launcher();
    if (slurm_without_pmi(prog, launcher))
        return FLAVOUR_UNAVAILABLE;
    if (requested == NULL || strcmp(requested, "auto") == 0) {
        *flavour = launcher ? launcher : "mpich";
        return FLAVOUR_OK;
    }
    if (strcmp(requested, "mpich") != 0 && strcmp(requested, "openmpi") != 0) {
        fprintf(stderr, "%s: --mpi %s: unknown MPI flavour (use mpich, openmpi or auto)\n", prog, requested);
        return FLAVOUR_BAD_NAME;
    }
    if (launcher != NULL && strcmp(launcher, requested) != 0) {
        fprintf(stderr,
                "%s: --mpi %s, but this rank was started by %s's launcher: the two must agree; start the job "
                "with mpirun.%s%s, or use --mpi %s (or --mpi auto)\n",
                prog, requested, launcher, requested,
                strcmp(requested, "mpich") == 0 ? " or srun --mpi=pmi2" : " or srun --mpi=pmix", launcher);
        return FLAVOUR_UNAVAILABLE;
    }
    *flavour = requested;
    return FLAVOUR_OK;
}

enum mpi_flavour_status mpi_flavour_lower_half(const char *prog, const char *flavour, char *out, size_t len)
{
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n < 0) {
        fprintf(stderr, "%s: cannot read /proc/self/exe: %s\n", prog, strerror(errno));
        return FLAVOUR_UNAVAILABLE;
    }
    self[n] = '\0';
    snprintf(out, len, "%s/../libexec/mana/mana-lh-%s", dirname(self), flavour);
    if (access(out, X_OK) != 0) {
        const char *other = strcmp(flavour, "mpich") == 0 ? "openmpi" : "mpich";
        fprintf(stderr,
                "%s: the %s lower half %s is not installed (%s): this MANA was built without %s; reinstall "
                "MANA with %s's development files present (scripts/install-deps.sh), or start the job with "
                "mpirun.%s\n",
                prog, flavour, out, strerror(errno), flavour, flavour, other);
        return FLAVOUR_UNAVAILABLE;
    }
    return FLAVOUR_OK;
}

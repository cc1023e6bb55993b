/* This rank's number and the job's size as the launcher put them in the
 * environment, before MPI runs (MPICH's hydra: PMI_RANK/PMI_SIZE; Open
 * MPI: OMPI_COMM_WORLD_RANK/SIZE; Slurm's PMI: PMI_RANK, SLURM_*). A
 * process no launcher started is rank 0 of 1 (a singleton). */
#ifndef MANA_MPI_RANK_ENV_H
#define MANA_MPI_RANK_ENV_H

void mpi_rank_from_env(int *rank, int *nranks);

#endif

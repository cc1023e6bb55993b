/* The exit status every MANA process of a job ends with when the job was
 * checkpointed and told to stop (mana-ckpt --checkpoint --exit, the
 * checkpoint signal): each rank, hence mana-launch, mana-restart, mpirun
 * and srun. Distinct from success and from every failure status of the
 * commands, so that a batch script can requeue on exactly this
 * (docs/slurm.md); never reuse it for anything else. */
#ifndef MANA_EXIT_STATUS_H
#define MANA_EXIT_STATUS_H

#define MANA_EXIT_CHECKPOINTED 85

#endif

/* MPI_Comm_idup(_with_info) left pending by a checkpoint, posted again
 * after a restart instead of replayed (mpi_idup.c). */
#ifndef MANA_MPI_IDUP_H
#define MANA_MPI_IDUP_H

#include <mpi.h>
#include <stdint.h>

struct mana_request_info;

/* In the wrapper, after the call: how a restart posts it again (D's
 * repost, live and coll_args); NEWCOMM is the new communicator's id. */
void mana_idup_describe(struct mana_request_info *d, MPI_Comm comm, MPI_Info info, int with_info, MPI_Comm newcomm);
/* Whether VCOMM is the communicator of an idup a checkpoint left pending
 * (MANA_REQ_CKPT_COLL_GAP): the replay does not make it. */
int mana_idup_left_pending(int32_t vcomm);
/* Whether VCOMM is the communicator of an idup not complete yet: MPI
 * forbids using it, so the drain does not probe it. */
int mana_idup_pending(int32_t vcomm);

#endif

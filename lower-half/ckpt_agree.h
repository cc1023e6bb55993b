/* Bringing every rank to a consistent point before the checkpoint
 * thread stops the application (docs/checkpoint-protocol.md): every rank
 * at the same collective count on every communicator and out of
 * collectives, except ranks waiting inside one that a restart can post
 * again while others have not entered it; then the drain: no
 * point-to-point message in flight and no request MPI still works on.
 * Runs on the checkpoint thread of every rank at once, in rounds over
 * MPI on CKPT_COMM; every rank takes the same decision. */
#ifndef MANA_CKPT_AGREE_H
#define MANA_CKPT_AGREE_H

#include <mpi.h>
#include <stddef.h>

#include "mana/call_table.h"

/* Before any MPI of the checkpoint: this rank accepts it unless its
 * application is in MPI_Finalize, where it will never take part in the
 * agreement. 0 accepted (the application will wait at MPI_Finalize), -1
 * finishing. The coordinator starts the agreement (GO) only when every
 * rank accepted. */
int ckpt_accept(struct mana_call_table *t);

/* The checkpoint was accepted but will not happen (another rank refused
 * it): the application goes on. */
void ckpt_agree_cancel(struct mana_call_table *t);

/* Told, each round, why the other ranks wait for this one ("" when they
 * do not): to be shown by mana-ckpt --status. */
typedef void (*ckpt_waiting_fn)(void *ctx, const char *why);

/* 0: consistent, with the lower lock held. -1: none was reached in time;
 * ERR says why, the gates are open again and the lock is not held. */
int ckpt_agree(struct mana_call_table *t, MPI_Comm ckpt_comm, ckpt_waiting_fn waiting, void *ctx, char *err,
               size_t errlen);

/* After the image is written (or the checkpoint failed): lets the
 * application go on; releases the lock. */
void ckpt_agree_end(struct mana_call_table *t);

#endif

/* Draining: how a checkpoint deals with the application's pending
 * requests and with messages in flight (docs/checkpoint-protocol.md,
 * "Draining").
 *
 * Once every rank is out of collectives and at its agreed counts, the
 * checkpoint threads, all ranks together and holding the lower lock,
 * take back the application's pending receives (MPI_Cancel), let its
 * sends and nonblocking collectives complete, and receive every message
 * still in flight into upper memory (drain_store.h), until every message
 * sent has been received somewhere. The image then holds no MPI state but
 * that: after the checkpoint (going on, or in a restarted process) the
 * receives taken back are posted again in their order, each first
 * matched against the drained messages, and the completed requests show
 * their statuses. Every receive path looks at the drained messages before
 * MPI, so MPI's order between two messages of one sender is kept.
 *
 * Functions named mana_drain_* run on the checkpoint thread with the
 * lower %fs (the call table's hooks); the others run in MPI wrappers with
 * the lower lock held and the upper %fs. */
#ifndef MANA_CKPT_DRAIN_H
#define MANA_CKPT_DRAIN_H

#include <mpi.h>
#include <stdint.h>

#include "crossing.h"

/* Checkpoint thread: installs the hooks below in the call table. */
void mana_drain_install(void);

/* After a restart, once the record log is replayed: posts the receives
 * taken back and shows the completed requests as complete. */
void mana_drain_after_restart(struct mana_crossing *c);

/* Receive paths: the first drained message (VCOMM, SOURCE, TAG) matches,
 * received into BUF (COUNT of the virtual type VTYPE), its status in
 * *STATUS (may be MPI_STATUS_IGNORE). 1 and *RC set when a drained
 * message was taken; 0 when none matches. */
int mana_drained_recv(struct mana_crossing *c, void *buf, int count, MPI_Datatype vtype, int source, int tag,
                      MPI_Comm vcomm, MPI_Status *status, int *rc);
/* MPI_Iprobe and the probe loops: 1 and *STATUS filled when a drained
 * message matches (it stays queued). */
int mana_drained_probe(struct mana_crossing *c, int source, int tag, MPI_Comm vcomm, MPI_Status *status);
/* MPI_Mprobe/Improbe: 1 when a drained message matches; it is taken and
 * *REAL_MESSAGE gets a handle only mana_p2p_mrecv/imrecv know. */
int mana_drained_mprobe(struct mana_crossing *c, int source, int tag, MPI_Comm vcomm, MPI_Message *real_message,
                        MPI_Status *status);

/* A message MPI_Mprobe/Improbe matched in MPI (REAL): what a checkpoint
 * needs to receive it into the store if the application has not received
 * it by then. */
void mana_matched_note(struct mana_crossing *c, MPI_Message real, MPI_Comm vcomm, const MPI_Status *status);

/* The lower calls of MPI_Irecv, MPI_Mrecv, MPI_Imrecv, MPI_Iprobe and
 * MPI_Start/Startall, with the drained messages looked at first (real
 * handles in, as the generated wrappers have them; the virtual ones where
 * the store needs them). *COUNTED: the receive was counted already. */
int mana_p2p_irecv(struct mana_crossing *c, void *buf, int count, MPI_Datatype rtype, int source, int tag,
                   MPI_Comm vcomm, MPI_Comm rcomm, MPI_Request *out, uint8_t *counted);
int mana_p2p_mrecv(struct mana_crossing *c, void *buf, int count, MPI_Datatype rtype, MPI_Message *real_message,
                   MPI_Status *status);
int mana_p2p_imrecv(struct mana_crossing *c, void *buf, int count, MPI_Datatype rtype, MPI_Message *real_message,
                    MPI_Request *out);
int mana_p2p_iprobe(struct mana_crossing *c, int source, int tag, MPI_Comm vcomm, MPI_Comm rcomm, int *flag,
                    MPI_Status *status);
int mana_start_requests(struct mana_crossing *c, int n, const MPI_Request *app, MPI_Request *real);

/* MPI_Request_get_status (REAL: the request VREQUEST stands for): a
 * nonblocking collective the application has seen complete so is no
 * longer one a restart may post again (its buffers are the
 * application's again). */
int mana_request_get_status(struct mana_crossing *c, MPI_Request vrequest, MPI_Request real, int *flag,
                            MPI_Status *status);

/* Ghosts a restart posted (ckpt_sync.h): how many are pending; tested
 * at each collective's gate, and waited for before MPI_Finalize, when
 * every member has entered them. */
/* A started persistent collective (its descriptor made by the _init
 * call), after a restart that left it pending: started again, from the
 * request the record log made again (mana_coll_repost_fn). Its handles
 * need no check: the replay makes what it was made from. */
struct mana_request_info;
int mana_repost_started(struct mana_crossing *c, struct mana_request_info *d, uint64_t *real);
int mana_started_live(const uint64_t *args, const int32_t *arr_n);
extern int mana_ghosts_live;
void mana_ghosts_test(struct mana_crossing *c);
void mana_ghosts_finish(struct mana_crossing *c);

/* MPI_Buffer_attach/detach: the buffer is remembered and attached again
 * in a restarted process (buffered sends pending at a checkpoint were
 * drained, so it holds nothing then). */
int mana_buffer_attach(struct mana_crossing *c, void *buffer, int size);
int mana_buffer_detach(struct mana_crossing *c, void *buffer_addr, int *size);

#endif

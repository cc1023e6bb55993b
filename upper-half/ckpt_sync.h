/* The application's side of a checkpoint (docs/checkpoint-protocol.md).
 *
 * Blocking MPI calls are issued in their nonblocking form and completed
 * by a test loop that lets the lower lock go whenever a checkpoint is
 * being agreed (design invariant 5), so the checkpoint thread is never
 * locked out by a rank waiting for a peer. Every collective passes a
 * gate that counts it per communicator; while a checkpoint is being
 * agreed, a rank that has reached the agreed count waits at the gate, and
 * one behind it goes on, so no rank stops inside a collective. Point-to-
 * point messages are counted per peer (world ranks), so the checkpoint
 * knows when none is in flight. After a restart, loops post their
 * requests again and the first MPI call rebuilds MPI's objects.
 *
 * Everything here runs with the lower lock held and the upper %fs, between
 * mana_cross_lock and mana_cross_unlock, unless said otherwise. */
#ifndef MANA_CKPT_SYNC_H
#define MANA_CKPT_SYNC_H

#include <mpi.h>
#include <stddef.h>
#include <stdint.h>

#include "crossing.h"
#include "request_info.h"

/* MPI_Init: the world size and the message counters. */
int mana_ckpt_sync_init(void);

/* Gate and count of a collective on VCOMM (a virtual id). */
void mana_coll_enter(struct mana_crossing *c, MPI_Comm vcomm);
/* Completes the nonblocking form of a blocking collective. REPOSTABLE:
 * the call can be made again after a restart (its inputs are still
 * intact: no MPI_IN_PLACE), so a checkpoint may take this rank inside
 * it while another member has not entered it yet; after such a restart
 * this returns MANA_COLL_REPOST and the wrapper posts it again. */
#define MANA_COLL_REPOST (-1000)
/* A collective whose input is MPI_IN_PLACE in BUF (COUNT of the virtual
 * type VTYPE): 1 when that input is small enough to be kept (64 KiB) and
 * was, so the collective can be posted again after a restart, once
 * mana_inplace_restore has put it back (it returns 1). */
int mana_inplace_save(struct mana_crossing *c, void *buf, int count, MPI_Datatype vtype);
/* The same for MPI_Gather(v) in place at the root: the root's own block
 * of RECVBUF, the only input there; MPI_Gatherv, which has no arrival
 * barrier, keeps up to 64 MiB. */
int mana_inplace_save_gather(struct mana_crossing *c, void *recvbuf, int recvcount, MPI_Datatype vtype, int root,
                             MPI_Comm vcomm);
int mana_inplace_save_gatherv(struct mana_crossing *c, void *recvbuf, const int *recvcounts, const int *displs,
                              MPI_Datatype vtype, int root, MPI_Comm vcomm);
int mana_inplace_restore(void);
/* A nonblocking MPI_Iallreduce, MPI_Ireduce, MPI_Iscan or MPI_Iexscan
 * with MPI_IN_PLACE: its input (COUNT of VTYPE in BUF), kept with its
 * request (request_info.h, MANA_OWNED_KEPT) if at most 64 KiB, so that a
 * restart can put it back and post it again; NULL if not kept. */
struct mana_kept_input {
    unsigned char *at;
    size_t len;
    unsigned char data[];
};
struct mana_kept_input *mana_nbc_keep(struct mana_crossing *c, void *buf, int count, MPI_Datatype vtype);
/* The same for a buffer of one block per member of VCOMM: COUNT each, or
 * COUNTS[k] for member K. */
struct mana_kept_input *mana_nbc_keep_blocks(struct mana_crossing *c, void *buf, int count, const int *counts,
                                             MPI_Datatype vtype, MPI_Comm vcomm);
/* Ghosts (docs/checkpoint-protocol.md, "Allowed gaps"): a blocking
 * collective this rank has seen complete while another member may not
 * have entered it yet (a root that sent, a rank that sent to the root or
 * passed the data on). Its wrapper keeps, per communicator, its latest
 * MANA_GHOSTS such collectives as the nonblocking form's arguments with
 * a copy of the input (up to 64 KiB in all), so that a restart can post
 * them in their place for the members that had not entered them. */
#define MANA_GHOSTS 4
/* What one ghost keeps, besides the arguments: */
struct mana_ghost_spec {
    int kept_arg;         /* the argument that gets the kept input, or -1 */
    const void *buf;      /* the input: COUNT of TYPE (MPI_IN_PLACE: it was at INPLACE_BUF, */
    int count;            /* kept by mana_inplace_save before the call) */
    MPI_Datatype type;
    int count_per_member; /* COUNT is per member (MPI_Scatter's root): times the size */
    /* MPI_Scatterv's root: COUNTS and DISPLS (one per member) say where
     * the input lies (COUNT is then unused), and are kept too, for the
     * arguments COUNTS_ARG and DISPLS_ARG; NULL elsewhere. */
    const int *counts, *displs;
    int counts_arg, displs_arg;
    const void *inplace_buf;
    int scratch_arg;      /* the argument that gets a buffer of SCRATCH_COUNT of */
    int scratch_count;    /* SCRATCH_TYPE to receive into, or -1 */
    MPI_Datatype scratch_type;
    int root;     /* with NOT_ROOT: none at ROOT (it completes last) */
    int not_root;
    /* The arguments (bit K: argument K) that matter at ROOT only, the
     * input's among them (MPI_Scatter(v)): elsewhere the ghost keeps no
     * input and gets 0 for them, and SCRATCH_TYPE for ROOT_ONLY_TYPE_ARG
     * (the input's type), since the application may pass anything there. */
    unsigned root_only_args;
    int root_only_type_arg;
};
struct mana_coll_ghost {
    uint64_t seq; /* the communicator's count at it; 0: none */
    mana_coll_repost_fn repost;
    mana_coll_live_fn live;
    uint64_t args[MANA_COLL_ARGS];
    int kept_arg, scratch_arg; /* -1: none */
    int counts_arg, displs_arg; /* -1: none */
    uint8_t due; /* a restart posts it (ckpt_drain.c) */
    MPI_Aint true_lb, scratch_lb;
    /* KEPT: the input's LEN bytes, then at ARRAYS_AT the NARRAY counts and
     * NARRAY displacements; the ghost adds room for SCRATCH_LEN after. */
    size_t len, arrays_at, narray, scratch_len, cap;
    unsigned char *kept;
};
/* After blocking collective of ARGS (as the repost function REPOST of its
 * nonblocking form reads them; LIVE checks their handles) completed on
 * VCOMM: its ghost, as SPEC says, in place of the oldest. */
/* Before MPI_Start(all) of APP (N requests): the gate of each persistent
 * collective among them, which counts it on its communicator like a
 * nonblocking one, so that a checkpoint can leave it pending and a
 * restart start it again (mana_repost_started). */
void mana_start_gates(struct mana_crossing *c, int n, const MPI_Request *app);
void mana_coll_ghost(struct mana_crossing *c, MPI_Comm vcomm, mana_coll_repost_fn repost, mana_coll_live_fn live,
                     const uint64_t *args, const struct mana_ghost_spec *spec);
/* The application freed VCOMM and only its ghosts' reference is left:
 * it is kept (not freed in MPI, its record not pruned) so that a restart
 * can post them, until MANA_KEPT_COMMS later such communicators (or
 * attributes whose delete callbacks must run now) free it. */
void mana_coll_comm_dropped(struct mana_crossing *c, MPI_Comm vcomm);
/* The application's last reference to VCOMM is gone and its id is
 * released: its entry's counts stay, under no id (the id may come back
 * for another communicator). */
void mana_coll_comm_freed(int32_t vcomm);
/* Communicator entry SLOT's ghosts (MANA_GHOSTS of them), or NULL. */
struct mana_coll_ghost *mana_coll_ghosts_of(uint32_t slot);
/* Whether COUNT of VTYPE is more than mana_inplace_save keeps, by the
 * data's size (not its span), which is the same on every member of a
 * collective whose type signatures must match. */
int mana_inplace_large(struct mana_crossing *c, int count, MPI_Datatype vtype);
/* Whether the ghost of a blocking collective of GHOSTS (above) would be
 * too large to keep, decided alike on every member by the data's size:
 * each member's block (ROOT_COUNT of ROOT_TYPE at ROOT, COUNT of TYPE
 * elsewhere; ROOT -1: COUNT of TYPE everywhere) times what the largest
 * ghost of the call keeps (TIMES blocks, plus one per member with
 * PLUS_MEMBERS). Such a collective takes an arrival barrier first
 * (mana_coll_arrival), so no member can leave it before all entered it,
 * and it needs no ghost. Never on an intercommunicator. */
struct mana_ghost_size {
    int root;
    int root_count;
    MPI_Datatype root_type;
    int count;
    MPI_Datatype type;
    int times;
    int plus_members;
};
int mana_ghost_large(struct mana_crossing *c, MPI_Comm vcomm, const struct mana_ghost_size *g);
/* Before a collective that cannot be posted again (its MPI_IN_PLACE
 * input not kept), taken alike by every member: a barrier on RCOMM,
 * which can be, so a checkpoint may take this rank there while another
 * member has not arrived; once it completes, every member is at the
 * collective and it completes without waiting for anyone.
 * MANA_COLL_REPOST after such a restart. */
int mana_coll_arrival(struct mana_crossing *c, uint64_t rcomm);
int mana_wait_collective(struct mana_crossing *c, MPI_Request *req, int repostable);
/* After a nonblocking collective on VCOMM passed its gate and was posted:
 * notes in its descriptor D where it stands on its communicator
 * (coll_slot, coll_seq), so that a checkpoint can tell whether every
 * member has posted it; one that cannot be placed (a nested call) loses
 * D->repost and is completed by the checkpoint like any other. */
struct mana_request_info;
void mana_coll_note(struct mana_crossing *c, MPI_Comm vcomm, struct mana_request_info *d);
/* For collectives MPI has no nonblocking form of (communicator
 * constructors, MPI_Finalize): a barrier on VCOMM (a virtual id) first,
 * through the test loop, so the blocking call after it waits for nobody.
 * A checkpoint may take the rank inside the barrier, which a restart
 * posts again (with VCOMM translated anew): the wrapper translates its
 * handles after it. */
int mana_coll_barrier(struct mana_crossing *c, MPI_Comm vcomm);
/* The same for the constructors whose participants are not a
 * communicator's members, with the application's (virtual) handles:
 * MPI_Comm_create_group (the members of VGROUP) and MPI_Intercomm_create
 * (both groups, through the two leaders). They have no gate that waits:
 * the other participants may be paused at no gate of their own. Their
 * barrier is a tree of MANA's own messages, which a restart starts again
 * for the participants not released yet. */
int mana_group_barrier(struct mana_crossing *c, MPI_Group vgroup);
int mana_intercomm_barrier(struct mana_crossing *c, MPI_Comm vlocal, int local_leader, MPI_Comm vpeer,
                           int remote_leader);
/* From the checkpoint thread, once the ranks have agreed: whether this
 * rank, waiting for the release of such a barrier, has received it, so
 * that a restart lets it go on (ckpt_sync.c). */
void mana_tree_barrier_settle(void);

/* Around the blocking call after such a barrier: where MPI takes calls
 * from several threads at once, the call runs outside the lower lock
 * (in_collective 3), so a checkpoint thread can go on agreeing while its
 * rank waits in it for ranks that have not seen the barrier complete
 * yet; otherwise the call keeps the lock, and the barrier waited for the
 * agreement's leave (blocking_go) before a checkpoint. */
void mana_blocking_begin(struct mana_crossing *c);
void mana_blocking_end(struct mana_crossing *c);

/* MPI_Finalize, after its barrier: waits out a checkpoint being agreed,
 * then closes the door to new ones (docs/checkpoint-protocol.md). */
void mana_finalize_begin(struct mana_crossing *c);

/* Blocking point-to-point calls, with the application's (virtual)
 * handles. MODE: 0 MPI_Send, 1 Ssend, 2 Bsend, 3 Rsend. */
int mana_p2p_send(struct mana_crossing *c, int mode, const void *buf, int count, MPI_Datatype type, int dest, int tag,
                  MPI_Comm comm);
int mana_p2p_recv(struct mana_crossing *c, void *buf, int count, MPI_Datatype type, int source, int tag,
                  MPI_Comm comm, MPI_Status *status);
int mana_p2p_sendrecv(struct mana_crossing *c, const void *sendbuf, int sendcount, MPI_Datatype sendtype, int dest,
                      int sendtag, void *recvbuf, int recvcount, MPI_Datatype recvtype, int source, int recvtag,
                      MPI_Comm comm, MPI_Status *status);
int mana_p2p_probe(struct mana_crossing *c, int source, int tag, MPI_Comm comm, MPI_Status *status);
int mana_p2p_sendrecv_replace(struct mana_crossing *c, void *buf, int count, MPI_Datatype type, int dest,
                              int sendtag, int source, int recvtag, MPI_Comm comm, MPI_Status *status);
/* Matched probes: REAL_MESSAGE gets the lower half's message handle. */
int mana_p2p_mprobe(struct mana_crossing *c, int source, int tag, MPI_Comm comm, MPI_Message *real_message,
                    MPI_Status *status);
int mana_p2p_improbe(struct mana_crossing *c, int source, int tag, MPI_Comm comm, int *flag,
                     MPI_Message *real_message, MPI_Status *status);

/* RANK of VCOMM (of its remote group for an intercommunicator) as a
 * world rank, from the members MANA knows, without allocating: -1 for
 * no rank, -2 when VCOMM has no entry yet. */
int mana_world_rank_known(MPI_Comm vcomm, int rank);

/* Counting for the calls that do not go through the functions above. */
void mana_p2p_count_sent(struct mana_crossing *c, MPI_Comm vcomm, int dest);
void mana_p2p_count_received(struct mana_crossing *c, MPI_Comm vcomm, const MPI_Status *status);
/* Completion calls (Wait/Test families): counts the receive requests
 * among APP[0, N) that completed, by their descriptors; call before
 * mana_reqs_out. STATUSES has one status per request (ALL), or per
 * entry of IDX (SOME). */
void mana_p2p_count_completed(struct mana_crossing *c, const MPI_Request *app, int n, int all, const int *idx,
                              int n_idx, const MPI_Status *statuses);
/* MPI_Start/Startall: counts the sends among APP[0, N). */
void mana_p2p_count_started(struct mana_crossing *c, const MPI_Request *app, int n);

/* The Wait family as test loops over the Test family (APP: the
 * application's request ids, translated again after a pause, or NULL for
 * MANA's own; REAL: the lower half's requests). */
int mana_wait_all(struct mana_crossing *c, int n, const MPI_Request *app, MPI_Request *real, MPI_Status *statuses);
int mana_wait_any(struct mana_crossing *c, int n, const MPI_Request *app, MPI_Request *real, int *index,
                  MPI_Status *status);
int mana_wait_some(struct mana_crossing *c, int n, const MPI_Request *app, MPI_Request *real, int *outcount,
                   int *indices, MPI_Status *statuses);

/* Scratch statuses for a call whose application passed
 * MPI_STATUS(ES)_IGNORE but MANA needs the sources: N of them. */
MPI_Status *mana_status_scratch(int n);

/* Called by mana_cross_lock when the restore engine left replay_due. */
void mana_ckpt_after_restart(struct mana_crossing *c);

/* Tags of MANA's own messages on the private communicator
 * (mana_ckpt_sync.private_comm). */
enum { TAG_ARRIVED = 1, TAG_RELEASE = 2, TAG_DELIVER = 4 };

#endif

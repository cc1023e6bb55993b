/* What the generated MPI wrappers (build/gen/upper_mpi_exports.c,
 * upper_mpi_records.c) and the hand-written ones call between the lock
 * and the unlock of a crossing: handle translation, registration of new
 * objects with their record, frees, requests. Everything here runs with
 * the lower lock held and the upper %fs live (mana_cross_lock).
 *
 * The rules (design invariant 6): the application only ever holds
 * virtual ids; a handle MPI returns is mapped back to the id the
 * application already has for it (a predefined handle is itself), or
 * gets a new id; every object a restart must rebuild has a record in the
 * one record log, pruned when the object is freed. */
#ifndef MANA_MPI_WRAP_H
#define MANA_MPI_WRAP_H

#include <mpi.h>
#include <stddef.h>
#include <stdint.h>

#include "mpi_blob.h"
#include "record_log.h"
#include "request_info.h"
#include "virtual_ids.h"

/* The real-handle word of an MPICH handle (an int): zero-extended, the
 * same way the predefined entries of virtual_ids.c are stored, so that
 * reverse lookups compare like with like. */
#define MANA_REAL(h) ((uint64_t)(uint32_t)(h))

/* Arrays of handles up to this many are translated on the stack. */
#define MANA_WRAP_SMALL 16

/* The record log of this process (created with the vid tables). */
extern struct rl_log *mana_rl;
/* 1 while mana_mpi_replay runs: user delete callbacks are not run again
 * (their effect happened before the checkpoint). */
extern int mana_replaying;

/* Around a duplicating constructor (MPI_Comm_dup, MPI_Type_dup): the
 * attributes its copy callbacks give the new object are recorded as sets
 * of those attributes on it, for the replay (mpi_callbacks.c). */
void mana_attr_copies_begin(void);
int mana_attr_copies_record(enum vid_kind kind, int32_t new_object);

/* MPICH's attribute language proxies (its mpir_attr_generic.h, with
 * MPIR_Attr_type as an int): how a binding library calls a keyval's
 * copy and delete functions written in its language. MANA_ATTR_PTR is
 * MPIR_ATTR_PTR, the type of an attribute set from C. */
#define MANA_ATTR_PTR 0
typedef int mana_attr_copy_proxy(MPI_Comm_copy_attr_function *user_function, int handle, int keyval,
                                 void *extra_state, int attr_type, void *attr, void **attr_copy, int *flag);
typedef int mana_attr_delete_proxy(MPI_Comm_delete_attr_function *user_function, int handle, int keyval,
                                   int attr_type, void *attr, void *extra_state);
void MPII_Keyval_set_proxy(int keyval, mana_attr_copy_proxy *copy_proxy, mana_attr_delete_proxy *delete_proxy);
/* The weight sentinels (MPI_UNWEIGHTED, MPI_WEIGHTS_EMPTY) are libmana's
 * addresses: what the lower MPI gets is its own (mpi_lang.c). A weights
 * array is recorded as data, or as the sentinel it is. */
const int *mana_weights_real(const int *weights);
int *mana_weights_real_out(int *weights);
void mana_blob_put_weights(struct mana_blob *b, const int *weights, int64_t n);
int *mana_blob_get_weights(struct mana_blob_reader *r, int64_t *n);

struct mana_crossing;
/* After a replay: gives the new lower keyvals their proxies again. */
void mana_keyval_proxies_replay(struct mana_crossing *c);

/* Sets up the vid tables and the record log; 0, or -1 with a message on
 * stderr. Called once, before the first MPI call. */
int mana_mpi_state_init(void);

/* The real handle to give MPI for VIRT, an id MANA does not know (freed,
 * never created, garbage): the null handle of its kind, so that MPI
 * raises its own error through the error handler, as natively. */
uint64_t mana_bad_handle(enum vid_kind kind, int32_t virt, const char *function) __attribute__((cold));

/* Real handles of the N ids at V into SMALL (N <= MANA_WRAP_SMALL) or a
 * malloc'd array (SMALL NULL, or N larger); NULL when out of memory.
 * Element size is that of an MPICH handle (int). */
int32_t *mana_wrap_handles_in(enum vid_kind kind, const int32_t *v, int n, int32_t *small, const char *function);
void mana_wrap_handles_done(void *arr, void *small);
/* Gives ARR (from mana_wrap_handles_in with SMALL NULL) to the request's
 * descriptor, which frees it with the request. */
void mana_wrap_keep(struct mana_request_info *d, void *arr);
/* Whether each of the N virtual handles V still names an object (memory
 * only). */
int mana_wrap_handles_live(enum vid_kind kind, const int32_t *v, int n);

/* Lengths of arrays whose size MPI takes from the communicator, asked of
 * the lower half (switches %fs itself): remote size for an
 * intercommunicator, else size; in/out degree of a topology; number of
 * Cartesian dimensions. 0 when MPI cannot say. */
enum { MANA_PEERS_ALL, MANA_PEERS_IN, MANA_PEERS_OUT, MANA_PEERS_CARTDIM };
int mana_wrap_peers(MPI_Comm real, int which);
int64_t mana_wrap_sum(const int *a, int64_t n);
/* The real handle of VIRT, or its kind's null. */
uint64_t mana_wrap_real_of_vid(enum vid_kind kind, int32_t virt);
/* Space for N dependency ids: SMALL when it fits, else malloc; NULL when
 * out of memory. */
int32_t *mana_wrap_deps(int32_t *small, int64_t n);
void mana_wrap_deps_done(int32_t *deps, int32_t *small);

/* A handle MPI returned, not recorded (queries, windows, messages, tools):
 * predefined -> itself; an object with an id -> that id (MANA_OUT_REF: MPI
 * gave a new reference to it, which the id takes over: one more
 * reference counted, the lower one dropped); else a new id. VID_INVALID
 * when out of memory (with a message). */
#define MANA_OUT_REF 1u
int32_t mana_handle_out(enum vid_kind kind, uint64_t real, unsigned flags, const char *function);
/* The same, and when the object is new, a record of the call that made
 * it (OP with DEPS and the argument blob B). */
int32_t mana_handle_new(enum vid_kind kind, uint64_t real, unsigned flags, enum rl_op op, const int32_t *deps,
                        size_t n_deps, const struct mana_blob *b, const char *function);
/* A successful mutator call on OBJ: one record. 0 or -1. */
int mana_record_mutation(enum vid_kind kind, int32_t obj, enum rl_op op, const int32_t *deps, size_t n_deps,
                         const struct mana_blob *b, const char *function);

/* Destructors. mana_handle_free_begin says what to do with the
 * application's VIRT and sets *REAL: */
enum {
    MANA_FREE_LAST = 0,        /* call the lower free, then mana_handle_freed */
    MANA_FREE_REF_DROPPED = 1, /* other references remain: done, no lower call */
    MANA_FREE_OTHER = 2,       /* predefined or unknown: let MPI decide */
};
int mana_handle_free_begin(enum vid_kind kind, int32_t virt, uint64_t *real, const char *function);
/* The lower object is freed: release the id, prune the record log. */
void mana_handle_freed(enum vid_kind kind, int32_t virt);
/* A call used up VIRT (MPI_Mrecv's message) and left NEW_REAL in its
 * place: the id goes, the id of NEW_REAL (a null handle) comes back. */
int32_t mana_handle_consumed(enum vid_kind kind, int32_t virt, uint64_t new_real);

/* Requests. A new (not persistent) request: its id, VID_INVALID when out
 * of memory. */
int32_t mana_request_out(uint64_t real);
/* Stores D (with D->vid = VID) as the request's descriptor. 0 or -1. */
int mana_request_describe(int32_t vid, struct mana_request_info *d);

/* The completion calls' request arrays. */
struct mana_reqs {
    MPI_Request *real;
    int n;
    MPI_Request small[MANA_WRAP_SMALL];
};
/* Translates N requests of APP (ids) into rq->real. 0, or -1 (no memory). */
int mana_reqs_in(struct mana_reqs *rq, const MPI_Request *app, int n, const char *function);
enum { MANA_REQS_NONE, MANA_REQS_ALL, MANA_REQS_SOME, MANA_REQS_STARTED };
/* After the call: every request MPI freed (set to MPI_REQUEST_NULL) loses
 * its id and becomes MPI_REQUEST_NULL in APP; the completed ones (all, or
 * the N_IDX indices at IDX) that are persistent become inactive; STARTED
 * marks every persistent one active. Frees rq's array. */
void mana_reqs_out(struct mana_reqs *rq, MPI_Request *app, int which, const int *idx, int n_idx);

/* The live windows (a checkpoint is refused while one exists). */
int mana_mpi_windows_open(void);

#endif

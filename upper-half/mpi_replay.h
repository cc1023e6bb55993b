/* Replay: rebuild every MPI object the application holds on a fresh
 * lower half, from the record log (record_log.h), so that each live
 * virtual id gets a valid real handle again.
 *
 * Records are replayed in sequence order, which is an order in which each
 * one's dependencies exist (they were made before it). A record flagged
 * RL_REC_FREED (an object the application freed, still needed because a
 * live object was made from it) is recreated like the others, and freed
 * at the end, after everything that needs it. A dependency resolves
 * through the record's links to the very record that made it (ids may
 * have been reused since), or, with no link, to a predefined handle.
 *
 * The per-function replay code is generated with the wrappers
 * (build/gen/upper_mpi_records.c), from the same parameter list that
 * wrote the record, so the two cannot disagree. */
#ifndef MANA_MPI_REPLAY_H
#define MANA_MPI_REPLAY_H

#include <stddef.h>
#include <stdint.h>

#include "crossing.h"
#include "mpi_blob.h"
#include "record_log.h"
#include "virtual_ids.h"

/* Rebuilds the application's MPI objects on the lower half: 0, or -1 with
 * the record, the function and the cause in ERR. Call from upper code
 * (upper %fs), with the lower lock NOT held, after MPI is initialised in
 * the lower half; it makes its own crossings. User delete callbacks are
 * not run during replay; copy callbacks are (Comm_dup copies attributes). */
int mana_mpi_replay(char *err, size_t errlen);

/* The record log of this process (read-only view). */
const struct rl_log *mana_record_log(void);

/* --- for the generated replay functions -------------------------------- */

struct mana_replay_slot {
    uint64_t seq;
    uint64_t real[RL_MAX_OUT];
    uint8_t done;
    uint8_t freed_again; /* an object the application had freed, freed again */
};

struct mana_replay {
    struct mana_crossing c;
    const struct rl_log *log;
    struct mana_replay_slot *slots; /* one per record, in sequence order */
    size_t n_slots, cur;
    void *arrays[4];                /* real-handle arrays of the current record */
    unsigned n_arrays;
    int failed;
    char *err;
    size_t errlen;
};

struct mana_replay_op {
    uint16_t op;
    const char *function;
    int (*replay)(struct mana_replay *x, const struct rl_record *r);
    enum vid_kind kind; /* of the output */
    uint8_t mutator;    /* the output is an existing object, not a new one */
};
extern const struct mana_replay_op mana_replay_ops[];
extern const unsigned mana_replay_op_count;

/* The real handle of the record's next dependency (*D counts them). */
uint64_t mana_replay_dep(struct mana_replay *x, const struct rl_record *r, unsigned *d, enum vid_kind kind);
/* The real handles of the next N dependencies, as an MPICH handle array
 * (freed by mana_replay_arrays_done). */
void *mana_replay_deps(struct mana_replay *x, const struct rl_record *r, unsigned *d, enum vid_kind kind, int64_t n,
                       struct mana_blob_reader *b);
void mana_replay_arrays_done(struct mana_replay *x);
/* The record's output I is now REAL on the lower half. */
void mana_replay_out(struct mana_replay *x, const struct rl_record *r, unsigned i, enum vid_kind kind, uint64_t real);
/* Failure of the current record: -1, with the message in x->err. */
int mana_replay_fail(struct mana_replay *x, const struct rl_record *r, const char *why);
int mana_replay_mpi_fail(struct mana_replay *x, const struct rl_record *r, int mpi_error);

#endif

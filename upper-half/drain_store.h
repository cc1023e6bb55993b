/* Messages a checkpoint took out of MPI (drained) and keeps in upper
 * memory until the application receives them, and the statuses of the
 * application's requests that completed during a checkpoint
 * (docs/checkpoint-protocol.md, "Draining").
 *
 * The checkpoint thread fills this store with the lower %fs, so nothing
 * here uses TLS, errno or the C library's allocator: records live in
 * chunks mapped with a raw mmap from libmana's own code, which the region
 * labeller leaves to the upper half, so they are saved with the
 * application and come back at a restart at the same addresses. A record
 * stays until it is released; when none is left, the chunks are unmapped.
 *
 * Not thread safe: callers hold MANA's lower lock. */
#ifndef MANA_DRAIN_STORE_H
#define MANA_DRAIN_STORE_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

enum mana_drained_state {
    MANA_DRAINED_QUEUED = 1, /* a message no receive has taken yet */
    MANA_DRAINED_TAKEN,      /* a message a receive or a matched probe took */
    MANA_DRAINED_STATUS,     /* only the status of a completed request */
};

struct mana_drained {
    struct mana_drained *next; /* the queue, in arrival order */
    struct mana_drained *all;  /* every record not released */
    uint64_t seq;              /* arrival number, for matched-probe handles */
    int32_t vcomm;             /* the communicator's virtual id */
    int32_t source;            /* rank in vcomm (in its remote group for an intercommunicator) */
    int32_t tag;
    int32_t error;             /* the status's MPI_ERROR */
    int64_t bytes;             /* of the message, in MPI's packed form */
    uint32_t state;            /* enum mana_drained_state */
    int32_t cancelled;
    _Alignas(16) unsigned char data[];
};

/* Messages queued and not taken: the receive paths look at the store
 * only when this is not zero. */
extern _Atomic uint32_t mana_drained_queued;

/* A new queued message of BYTES bytes (its data to be filled by the
 * caller), or NULL when no memory can be mapped. */
struct mana_drained *drain_store_add(int32_t vcomm, int32_t source, int32_t tag, int64_t bytes);
/* A status record (not queued), or NULL. */
struct mana_drained *drain_store_status(int32_t source, int32_t tag, int32_t error, int64_t bytes,
                                        int32_t cancelled);
/* The first queued message a receive of (VCOMM, SOURCE, TAG) matches,
 * with MPI's wildcards (MPI_ANY_SOURCE, MPI_ANY_TAG), or NULL. */
struct mana_drained *drain_store_match(int32_t vcomm, int32_t source, int32_t tag);
/* Takes D out of the queue (a receive or a matched probe has it). */
void drain_store_take(struct mana_drained *d);
/* The queued or taken message whose arrival number has the bits MASK of
 * SEQ (the newest such), or NULL. */
struct mana_drained *drain_store_find(uint64_t seq, uint64_t mask);
/* D is no longer needed; the last release unmaps every chunk. */
void drain_store_release(struct mana_drained *d);
/* Records not released. */
size_t drain_store_live(void);

#endif

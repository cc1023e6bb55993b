/* What MANA remembers about each pending request, in upper memory, so
 * that a checkpoint can deal with it: cancel and re-post a pending
 * receive, let a pending send complete, re-create a persistent request
 * (which the record log replays), refuse or wait for the rest.
 *
 * One descriptor per live request id (virtual_ids.h, VID_REQUEST),
 * written by the generated wrapper of the call that made the request and
 * cleared when the request id is released. Lookup is an array index.
 *
 * Not thread safe: callers hold MANA's lower lock. Memory from malloc. */
#ifndef MANA_REQUEST_INFO_H
#define MANA_REQUEST_INFO_H

#include <stddef.h>
#include <stdint.h>

enum mana_req_kind {
    MANA_REQ_SEND = 1,  /* Isend, Send_init */
    MANA_REQ_SSEND,     /* Issend, Ssend_init */
    MANA_REQ_BSEND,     /* Ibsend, Bsend_init */
    MANA_REQ_RSEND,     /* Irsend, Rsend_init */
    MANA_REQ_RECV,      /* Irecv, Recv_init */
    MANA_REQ_MRECV,     /* Imrecv: the message was matched already */
    MANA_REQ_SENDRECV,  /* Isendrecv, Isendrecv_replace */
    MANA_REQ_COLLECTIVE, /* I<collective>, <collective>_init, Comm_idup */
    MANA_REQ_RMA,       /* Rput, Rget, Raccumulate, ... (windows) */
};

struct mana_drained;
struct mana_request_info;
struct mana_crossing;

/* The arguments of a nonblocking collective, as the application passed
 * them (virtual handles), so that it can be posted again. */
#define MANA_COLL_ARGS 10
/* Posts D's nonblocking collective again from D->coll_args, its handles
 * translated now (upper %fs, lower lock held); *REAL gets MPI's request. */
typedef int (*mana_coll_repost_fn)(struct mana_crossing *c, struct mana_request_info *d, uint64_t *real);
/* Whether every handle among such arguments ARGS (ARR_N: the lengths of
 * its arrays of handles) still names an object: the application may free
 * a datatype or an op while a collective using it is pending, and a
 * restart does not make it again. Memory only (the lower %fs may be on). */
typedef int (*mana_coll_live_fn)(const uint64_t *args, const int32_t *arr_n);

struct mana_request_info {
    int32_t vid;          /* the request's virtual id; 0 when unused */
    uint8_t kind;         /* enum mana_req_kind */
    uint8_t persistent;   /* made by an _init call; survives completion */
    uint8_t active;       /* not persistent, or started and not completed */
    uint8_t ckpt;         /* enum mana_req_ckpt: what a checkpoint made of it */
    const char *function; /* the MPI call that made it */
    int32_t comm;         /* virtual ids */
    /* Send side (sends, sendrecv): */
    const void *send_buf;
    int64_t send_count;
    int32_t send_type;
    int32_t dest;
    int32_t send_tag;
    /* Receive side (receives, sendrecv): */
    void *recv_buf;
    int64_t recv_count;
    int32_t recv_type;
    int32_t source;
    int32_t recv_tag;
    /* malloc'd memory freed with the descriptor: what MPI may read until
     * the request is released (the real datatype arrays of Ialltoallw,
     * [0] and [1]), and the kept MPI_IN_PLACE input of a nonblocking
     * collective ([2], MANA_OWNED_KEPT: struct mana_kept_input). */
    void *owned[3];
    /* For checkpoints (ckpt_drain.c): */
    uint64_t post_seq;    /* order of the receives posted (re-posted in this order) */
    uint8_t counted;      /* a receive counted already: its completion does not count it again */
    uint8_t pad[7];
    uint64_t shadow_real; /* a persistent request shown completed after a restart: its own real request */
    struct mana_drained *done; /* the status of a request a checkpoint completed */
    /* A nonblocking collective of the application: its communicator's
     * comms[] entry and its count there (ckpt_sync.h), and, where its
     * inputs stay intact until it completes (no MPI_IN_PLACE), how to
     * post it again after a restart; SEEN_DONE: MPI_Request_get_status
     * showed the application it complete. */
    mana_coll_repost_fn repost;
    mana_coll_live_fn live;
    int32_t coll_arr_n[2];
    uint64_t coll_seq;
    uint32_t coll_slot;
    uint8_t seen_done;
    uint8_t ghost; /* MANA's own, in place of a collective seen complete (ckpt_sync.h) */
    uint64_t coll_args[MANA_COLL_ARGS];
};

/* What a checkpoint made of an active request (ckpt_drain.c). */
enum mana_req_ckpt {
    MANA_REQ_CKPT_NONE = 0,
    MANA_REQ_CKPT_CANCELLING, /* a receive being taken back */
    MANA_REQ_CKPT_WAITING,    /* a send or collective left to complete */
    MANA_REQ_CKPT_DONE,       /* complete; its status is in DONE */
    MANA_REQ_CKPT_REPOST,     /* a receive taken back: posted again after the checkpoint */
    MANA_REQ_CKPT_COLL_GAP,   /* a collective some member has not posted: left pending, and posted
                               * again after a restart (ckpt_agree.c, gap_allowed) */
};

#define MANA_OWNED_KEPT 2

/* Frees what D owns (D itself stays). */
void mana_request_info_free_owned(struct mana_request_info *d);

/* Stores a copy of INFO for INFO->vid (a request id): 0, or -1 (no
 * memory, or not a request id). */
int mana_request_info_set(const struct mana_request_info *info);
/* The descriptor of request VID, or NULL. Valid until the next set. */
struct mana_request_info *mana_request_info_get(int32_t vid);
/* Forgets VID's descriptor and frees what it owns. */
void mana_request_info_clear(int32_t vid);
/* Iteration over every descriptor in use: start with *cursor = 0; NULL
 * at the end. Clearing the one just returned is allowed. */
struct mana_request_info *mana_request_info_next(size_t *cursor);
/* Descriptors in use. */
size_t mana_request_info_count(void);
/* Frees everything (tests). */
void mana_request_info_reset(void);

#endif

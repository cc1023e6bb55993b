/* See ckpt_drain.h and docs/checkpoint-protocol.md, "Draining".
 *
 * The mana_drain_* hooks and everything they call run on the checkpoint
 * thread with the lower %fs: MPI is called straight through the call
 * table, and nothing touches TLS, errno, stdio or malloc (the virtual-id
 * and request tables are only read or updated in place). */
#include "ckpt_drain.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ckpt_sync.h"
#include "drain_store.h"
#include "mpi_idup.h"
#include "mpi_wrap.h"
#include "request_info.h"
#include "virtual_ids.h"

#define MPI_LOWER (mana_lower->mpi)


/* A drained message taken by MPI_Mprobe: a message handle that no MPI
 * gives (its kind bits are no MPICH object's), naming the arrival number. */
#define DRAINED_MESSAGE_TAG 0x7d000000u
#define DRAINED_MESSAGE_SEQ 0x00ffffffu

static int is_drained_message(MPI_Message m)
{
    return ((uint32_t)m & ~DRAINED_MESSAGE_SEQ) == DRAINED_MESSAGE_TAG;
}

/* The record a drained-message handle names: the newest with those low
 * bits of its arrival number (all_records is newest first). */
static struct mana_drained *drained_message(MPI_Message m)
{
    return drain_store_find((uint32_t)m & DRAINED_MESSAGE_SEQ, DRAINED_MESSAGE_SEQ);
}

/* Messages matched in MPI by MPI_Mprobe/Improbe and not received yet: a
 * restarted MPI cannot give them back, so a checkpoint receives them
 * into the store, and their handles become drained-message handles. */
#define MATCHED_MAX 256
struct matched {
    uint64_t real;
    int64_t bytes;
    int32_t vcomm, source, tag;
};
static struct matched matched[MATCHED_MAX];
static int n_matched;

static void matched_forget(uint64_t real)
{
    for (int i = 0; i < n_matched; i++)
        if (matched[i].real == real) {
            matched[i] = matched[--n_matched];
            return;
        }
}

static uint64_t real_of(enum vid_kind kind, int32_t virt)
{
    uint64_t r;
    return vid_real(kind, virt, &r) == 0 ? r : 0;
}

/* --- lower context: statuses and completed requests ------------------- */

static void fill_status(const struct mana_drained *d, MPI_Status *st)
{
    if (st == MPI_STATUS_IGNORE)
        return;
    st->MPI_SOURCE = d->source;
    st->MPI_TAG = d->tag;
    st->MPI_ERROR = d->error;
    MPI_LOWER.MPI_Status_set_elements_x(st, (MPI_Datatype)real_of(VID_DATATYPE, MPI_BYTE), d->bytes);
    MPI_LOWER.MPI_Status_set_cancelled(st, d->cancelled);
}

/* A request completed at a checkpoint, or a receive a drained message
 * satisfied, is a generalized request that is complete from the start:
 * every Wait and Test call then treats it as MPI does, and its status is
 * the record's. MPI calls these with the lower %fs. */
static int done_query(void *extra, MPI_Status *st)
{
    fill_status(extra, st);
    return ((struct mana_drained *)extra)->error;
}

static int done_free(void *extra)
{
    drain_store_release(extra);
    return MPI_SUCCESS;
}

static int done_cancel(void *extra, int complete)
{
    (void)extra;
    (void)complete;
    return MPI_SUCCESS;
}

static int completed_request(struct mana_drained *d, MPI_Request *out)
{
    int rc = MPI_LOWER.MPI_Grequest_start(done_query, done_free, done_cancel, d, out);
    return rc == MPI_SUCCESS ? MPI_LOWER.MPI_Grequest_complete(*out) : rc;
}

/* Copies the drained message D into BUF as at most COUNT elements of
 * RTYPE, as MPI would: MPI_ERR_TRUNCATE when it does not fit. A message
 * that ends inside an element (4 ints received as a vector of 6) fills
 * what it has of it, as a receive does; MPI_Unpack cannot, so such a
 * message goes through MPI itself: sent to this rank as the MPI_PACKED
 * bytes it is, and received with the application's type (a message sent
 * as MPI_PACKED may be received with any type its data match, MPI-3.1
 * section 4.2). */
static int deliver(struct mana_drained *d, void *buf, int count, MPI_Datatype rtype, MPI_Comm rcomm)
{
    int size = 0;
    int rc = MPI_LOWER.MPI_Type_size(rtype, &size);
    if (rc != MPI_SUCCESS)
        return rc;
    int64_t fits = (int64_t)count * size;
    if (d->bytes > fits) {
        d->error = MPI_ERR_TRUNCATE;
        d->bytes = fits;
    }
    int n = size > 0 ? (int)(d->bytes / size) : 0;
    int pos = 0;
    if (size > 0 && d->bytes % size != 0) {
        struct mana_ckpt_sync *s = &mana_lower->sync;
        rc = MPI_LOWER.MPI_Sendrecv(d->data, (int)d->bytes, MPI_PACKED, s->world_rank, TAG_DELIVER, buf, count, rtype,
                                    s->world_rank, TAG_DELIVER, (MPI_Comm)s->private_comm, MPI_STATUS_IGNORE);
    } else if (n > 0) {
        rc = MPI_LOWER.MPI_Unpack(d->data, (int)d->bytes, &pos, buf, n, rtype,
                                  rcomm != MPI_COMM_NULL ? rcomm : (MPI_Comm)real_of(VID_COMM, MPI_COMM_WORLD));
    }
    return rc == MPI_SUCCESS ? d->error : rc;
}

/* --- the checkpoint thread's side ------------------------------------- */

static uint64_t *received_from(int w)
{
    struct mana_ckpt_sync *s = &mana_lower->sync;
    return w >= 0 && w < s->world_size && s->received != NULL ? &s->received[w] : NULL;
}

/* RANK of VCOMM as a world rank, without allocating: the members MANA
 * knows, else MPI's groups. */
static int world_rank(MPI_Comm vcomm, int rank)
{
    int w = mana_world_rank_known(vcomm, rank);
    if (w != -2)
        return w;
    MPI_Comm rc = (MPI_Comm)real_of(VID_COMM, vcomm);
    MPI_Group g, world;
    int inter = 0;
    w = -1;
    if (MPI_LOWER.MPI_Comm_test_inter(rc, &inter) != MPI_SUCCESS)
        return -1;
    if ((inter ? MPI_LOWER.MPI_Comm_remote_group(rc, &g) : MPI_LOWER.MPI_Comm_group(rc, &g)) != MPI_SUCCESS)
        return -1;
    if (MPI_LOWER.MPI_Comm_group((MPI_Comm)real_of(VID_COMM, MPI_COMM_WORLD), &world) == MPI_SUCCESS) {
        MPI_LOWER.MPI_Group_translate_ranks(g, 1, &rank, world, &w);
        MPI_LOWER.MPI_Group_free(&world);
    }
    MPI_LOWER.MPI_Group_free(&g);
    return w;
}

static void count_received(MPI_Comm vcomm, int source)
{
    uint64_t *r = received_from(world_rank(vcomm, source));
    if (r != NULL)
        (*r)++;
}

static struct mana_drained *status_record(const MPI_Status *st)
{
    MPI_Count bytes = 0;
    int cancelled = 0;
    MPI_LOWER.MPI_Get_elements_x(st, (MPI_Datatype)real_of(VID_DATATYPE, MPI_BYTE), &bytes);
    MPI_LOWER.MPI_Test_cancelled(st, &cancelled);
    return drain_store_status(st->MPI_SOURCE, st->MPI_TAG, MPI_SUCCESS, bytes, cancelled);
}

static int is_receive(const struct mana_request_info *d)
{
    return d->kind == MANA_REQ_RECV;
}

/* A nonblocking collective of the application that a restart can post
 * again, still pending as far as the application knows, whose
 * communicator, datatypes and op the application has not freed (MPI lets
 * it free them with collectives pending; a restart does not make them
 * again). */
static int open_collective(const struct mana_ckpt_sync *s, const struct mana_request_info *d)
{
    uint64_t real;
    return d->kind == MANA_REQ_COLLECTIVE && d->repost != NULL && d->active && !d->seen_done &&
           d->coll_slot < s->ncomms && d->coll_seq <= s->comms[d->coll_slot].count &&
           vid_real(VID_COMM, d->comm, &real) == 0 && d->live(d->coll_args, d->coll_arr_n);
}

static void mark_open_collectives(void)
{
    struct mana_ckpt_sync *s = &mana_lower->sync;
    for (uint32_t i = 0; i < s->ncomms; i++)
        s->comms[i].open_mask = 0;
    size_t cursor = 0;
    struct mana_request_info *d;
    while ((d = mana_request_info_next(&cursor)) != NULL) {
        if (d->ckpt != MANA_REQ_CKPT_NONE || !open_collective(s, d))
            continue;
        struct mana_comm_count *cc = &s->comms[d->coll_slot];
        if (cc->count - d->coll_seq < 64)
            cc->open_mask |= UINT64_C(1) << (cc->count - d->coll_seq);
    }
    for (uint32_t i = 0; i < s->ncomms; i++) {
        const struct mana_coll_ghost *g = mana_coll_ghosts_of(i);
        struct mana_comm_count *cc = &s->comms[i];
        uint64_t real;
        /* None on a communicator the application has freed: a restart
         * does not make it again, so a ghost could not be posted. */
        if (vid_real(VID_COMM, cc->vcomm, &real) != 0)
            continue;
        for (int k = 0; g != NULL && k < MANA_GHOSTS; k++)
            if (g[k].seq != 0 && g[k].seq <= cc->count && cc->count - g[k].seq < 64 && g[k].live(g[k].args, NULL))
                cc->open_mask |= UINT64_C(1) << (cc->count - g[k].seq);
    }
}

static void drain_begin(void)
{
    struct mana_ckpt_sync *s = &mana_lower->sync;
    s->drained_messages = s->drained_bytes = s->requests_completed = s->receives_taken_back = 0;
    s->collectives_left = 0;
    mana_tree_barrier_settle();
    size_t cursor = 0;
    struct mana_request_info *d;
    while ((d = mana_request_info_next(&cursor)) != NULL) {
        if (!d->active || d->ckpt != MANA_REQ_CKPT_NONE)
            continue;
        if (open_collective(s, d) && s->comms[d->coll_slot].gap && d->coll_seq > s->comms[d->coll_slot].gap_floor) {
            /* Some member has not posted it, so it cannot complete; the
             * agreement found every member that has in the same case, so
             * a restart posts it again everywhere it was posted. (Those up
             * to the floor every member has posted: they complete.) */
            d->ckpt = MANA_REQ_CKPT_COLL_GAP;
            s->collectives_left++;
        } else if (is_receive(d)) {
            MPI_Request r = (MPI_Request)real_of(VID_REQUEST, d->vid);
            MPI_LOWER.MPI_Cancel(&r);
            d->ckpt = MANA_REQ_CKPT_CANCELLING;
        } else {
            d->ckpt = MANA_REQ_CKPT_WAITING;
        }
    }
}

/* A cancel that has resolved: taken back (REPOST, and MPI's request is
 * freed or, persistent, inactive), or the receive had matched and is
 * complete (DONE, counted; MPI's request stays for the application). */
static int resolve_cancel(struct mana_request_info *d, int *no_memory)
{
    MPI_Request r = (MPI_Request)real_of(VID_REQUEST, d->vid);
    MPI_Status st;
    int flag = 0, cancelled = 0;
    if (MPI_LOWER.MPI_Request_get_status(r, &flag, &st) != MPI_SUCCESS || !flag)
        return 0;
    MPI_LOWER.MPI_Test_cancelled(&st, &cancelled);
    if (cancelled) {
        MPI_LOWER.MPI_Test(&r, &flag, &st);
        vid_update_real(VID_REQUEST, d->vid, MANA_REAL(r));
        d->ckpt = MANA_REQ_CKPT_REPOST;
        mana_lower->sync.receives_taken_back++;
        return 1;
    }
    d->done = status_record(&st);
    if (d->done == NULL) {
        *no_memory = 1;
        return 0;
    }
    count_received(d->comm, st.MPI_SOURCE);
    d->counted = 1;
    d->ckpt = MANA_REQ_CKPT_DONE;
    mana_lower->sync.requests_completed++;
    return 1;
}

static int resolve_wait(struct mana_request_info *d, int *no_memory)
{
    MPI_Status st;
    int flag = 0;
    if (MPI_LOWER.MPI_Request_get_status((MPI_Request)real_of(VID_REQUEST, d->vid), &flag, &st) != MPI_SUCCESS ||
        !flag)
        return 0;
    d->done = status_record(&st);
    if (d->done == NULL) {
        *no_memory = 1;
        return 0;
    }
    if (d->kind == MANA_REQ_SENDRECV) {
        count_received(d->comm, st.MPI_SOURCE);
        d->counted = 1;
    }
    d->ckpt = MANA_REQ_CKPT_DONE;
    mana_lower->sync.requests_completed++;
    return 1;
}

/* Every message MPI_Mprobe matched and the application has not
 * received: into the store, its handle a drained-message handle. Returns
 * those that cannot be (not noted: more than MATCHED_MAX at once). */
static uint64_t drain_matched(int *no_memory, const char **a_function)
{
    uint64_t left = 0;
    uint32_t it = 0;
    struct vid_entry *e;
    while ((e = vid_iter_next(VID_MESSAGE, VID_ITER_USER, &it)) != NULL && !*no_memory) {
        MPI_Message m = (MPI_Message)e->real;
        if (e->state != VID_LIVE || is_drained_message(m) || m == MPI_MESSAGE_NULL || m == MPI_MESSAGE_NO_PROC)
            continue;
        int i = 0;
        while (i < n_matched && matched[i].real != e->real)
            i++;
        if (i == n_matched) {
            left++;
            *a_function = "MPI_Mprobe";
            continue;
        }
        struct mana_drained *d = drain_store_add(matched[i].vcomm, matched[i].source, matched[i].tag,
                                                 matched[i].bytes);
        if (d == NULL) {
            *no_memory = 1;
            break;
        }
        drain_store_take(d);
        MPI_LOWER.MPI_Mrecv(d->data, (int)d->bytes, (MPI_Datatype)real_of(VID_DATATYPE, MPI_PACKED), &m,
                            MPI_STATUS_IGNORE);
        vid_update_real(VID_MESSAGE, e->virt, DRAINED_MESSAGE_TAG | (uint32_t)(d->seq & DRAINED_MESSAGE_SEQ));
        matched[i] = matched[--n_matched];
        mana_lower->sync.drained_messages++;
        mana_lower->sync.drained_bytes += (uint64_t)d->bytes;
    }
    return left;
}

/* Receives every message waiting on VCOMM into the store. */
static void drain_comm(int32_t vcomm, uint64_t rcomm, int *no_memory)
{
    MPI_Datatype packed = (MPI_Datatype)real_of(VID_DATATYPE, MPI_PACKED);
    for (;;) {
        int flag = 0;
        MPI_Status st;
        if (MPI_LOWER.MPI_Iprobe(MPI_ANY_SOURCE, MPI_ANY_TAG, (MPI_Comm)rcomm, &flag, &st) != MPI_SUCCESS || !flag)
            return;
        MPI_Count bytes = 0;
        MPI_LOWER.MPI_Get_elements_x(&st, (MPI_Datatype)real_of(VID_DATATYPE, MPI_BYTE), &bytes);
        struct mana_drained *m = bytes <= INT_MAX ? drain_store_add(vcomm, st.MPI_SOURCE, st.MPI_TAG, bytes) : NULL;
        if (m == NULL) {
            *no_memory = 1;
            return;
        }
        /* Any message can be received as MPI_PACKED and unpacked later
         * into the type the application receives it with. Nothing else
         * receives meanwhile, so this is the message probed. */
        MPI_LOWER.MPI_Recv(m->data, (int)bytes, packed, st.MPI_SOURCE, st.MPI_TAG, (MPI_Comm)rcomm,
                           MPI_STATUS_IGNORE);
        count_received(vcomm, st.MPI_SOURCE);
        mana_lower->sync.drained_messages++;
        mana_lower->sync.drained_bytes += (uint64_t)bytes;
    }
}

static uint64_t drain_pass(const uint64_t *expected, int *no_memory, const char **a_function)
{
    struct mana_ckpt_sync *s = &mana_lower->sync;
    uint64_t pending = 0;
    int collectives_pending = 0;
    size_t cursor = 0;
    struct mana_request_info *d;
    while ((d = mana_request_info_next(&cursor)) != NULL) {
        int resolved = 1;
        if (d->ckpt == MANA_REQ_CKPT_CANCELLING)
            resolved = resolve_cancel(d, no_memory);
        else if (d->ckpt == MANA_REQ_CKPT_WAITING)
            resolved = resolve_wait(d, no_memory);
        if (!resolved) {
            pending++;
            collectives_pending |= d->kind == MANA_REQ_COLLECTIVE;
            if (a_function != NULL)
                *a_function = d->function;
        }
    }
    /* A communicator MPI_Comm_idup makes may not be probed before the
     * idup completes: nonblocking collectives first (they need no
     * point-to-point message to complete), and not at all one whose
     * idup is left pending. */
    if (!collectives_pending && !*no_memory) {
        pending += drain_matched(no_memory, a_function);
        uint32_t it = 0;
        struct vid_entry *e;
        while ((e = vid_iter_next(VID_COMM, VID_ITER_USER | VID_ITER_PREDEFINED, &it)) != NULL && !*no_memory)
            if (e->virt != (int32_t)MPI_COMM_NULL &&
                (e->state == VID_LIVE || e->virt == (int32_t)MPI_COMM_WORLD || e->virt == (int32_t)MPI_COMM_SELF) &&
                !mana_idup_pending(e->virt))
                drain_comm(e->virt, e->real, no_memory);
    }
    for (int r = 0; expected != NULL && r < s->world_size; r++)
        if (expected[r] > s->received[r])
            pending += expected[r] - s->received[r];
    return pending;
}

/* --- after the checkpoint --------------------------------------------- */

/* Posts the receive D took back again, or gives it the first drained
 * message it matches, as MPI would have. */
static void repost(struct mana_request_info *d)
{
    MPI_Datatype rtype = (MPI_Datatype)real_of(VID_DATATYPE, d->recv_type);
    MPI_Comm rcomm = (MPI_Comm)real_of(VID_COMM, d->comm);
    MPI_Request r = (MPI_Request)real_of(VID_REQUEST, d->vid);
    struct mana_drained *m = drain_store_match(d->comm, d->source, d->recv_tag);
    d->ckpt = MANA_REQ_CKPT_NONE;
    if (m != NULL) {
        drain_store_take(m);
        deliver(m, d->recv_buf, (int)d->recv_count, rtype, rcomm);
        MPI_Request g;
        if (completed_request(m, &g) != MPI_SUCCESS)
            return;
        if (d->persistent)
            d->shadow_real = MANA_REAL(r);
        vid_update_real(VID_REQUEST, d->vid, MANA_REAL(g));
        d->counted = 1;
    } else if (d->persistent) {
        MPI_LOWER.MPI_Start(&r);
    } else if (MPI_LOWER.MPI_Irecv(d->recv_buf, (int)d->recv_count, rtype, d->source, d->recv_tag, rcomm, &r) ==
               MPI_SUCCESS) {
        vid_update_real(VID_REQUEST, d->vid, MANA_REAL(r));
    }
}

/* A request completed at the checkpoint, in a restarted process, where
 * MPI's request is gone: a completed one in its place. A persistent
 * request keeps its own (replayed, inactive) until it is waited for. */
static void show_done(struct mana_request_info *d)
{
    MPI_Request g;
    if (completed_request(d->done, &g) != MPI_SUCCESS)
        return;
    if (d->persistent)
        d->shadow_real = real_of(VID_REQUEST, d->vid);
    vid_update_real(VID_REQUEST, d->vid, MANA_REAL(g));
    d->done = NULL; /* the completed request's now */
}

/* A receive whose cancel had not resolved when the drain gave up: it
 * must not stay cancelled behind the application's back. */
static void settle_cancel(struct mana_request_info *d)
{
    int no_memory = 0;
    for (long i = 0; i < 100000000L && d->ckpt == MANA_REQ_CKPT_CANCELLING && !no_memory; i++)
        resolve_cancel(d, &no_memory);
}

static void resume_requests(int restarted)
{
    size_t cursor = 0;
    struct mana_request_info *d;
    while ((d = mana_request_info_next(&cursor)) != NULL)
        if (d->ckpt == MANA_REQ_CKPT_CANCELLING)
            settle_cancel(d);
    for (;;) {
        struct mana_request_info *first = NULL;
        cursor = 0;
        while ((d = mana_request_info_next(&cursor)) != NULL)
            if (d->ckpt == MANA_REQ_CKPT_REPOST && (first == NULL || d->post_seq < first->post_seq))
                first = d;
        if (first == NULL)
            break;
        repost(first);
    }
    cursor = 0;
    while ((d = mana_request_info_next(&cursor)) != NULL) {
        if (d->ckpt == MANA_REQ_CKPT_DONE && d->done != NULL) {
            if (restarted) {
                show_done(d);
            } else {
                drain_store_release(d->done); /* MPI's request is still there */
                d->done = NULL;
            }
        }
        if (d->ckpt != MANA_REQ_CKPT_CANCELLING)
            d->ckpt = MANA_REQ_CKPT_NONE;
    }
}

static void drain_resume(void)
{
    resume_requests(0);
}

void mana_drain_install(void)
{
    struct mana_ckpt_sync *s = &mana_lower->sync;
    s->mark_open_collectives = mark_open_collectives;
    s->drain_begin = drain_begin;
    s->drain_pass = drain_pass;
    s->drain_resume = drain_resume;
}

/* The buffer of MPI_Buffer_attach, attached again at a restart. */
static void *attached_buffer;
static int attached_size;

int mana_buffer_attach(struct mana_crossing *c, void *buffer, int size)
{
    mana_cross_to_lower(c);
    int rc = MPI_LOWER.MPI_Buffer_attach(buffer, size);
    mana_cross_to_upper(c);
    if (rc == MPI_SUCCESS) {
        attached_buffer = buffer;
        attached_size = size;
    }
    return rc;
}

int mana_buffer_detach(struct mana_crossing *c, void *buffer_addr, int *size)
{
    mana_cross_to_lower(c);
    int rc = MPI_LOWER.MPI_Buffer_detach(buffer_addr, size);
    mana_cross_to_upper(c);
    if (rc == MPI_SUCCESS)
        attached_buffer = NULL;
    return rc;
}

int mana_request_get_status(struct mana_crossing *c, MPI_Request vrequest, MPI_Request real, int *flag,
                            MPI_Status *status)
{
    mana_cross_to_lower(c);
    int rc = MPI_LOWER.MPI_Request_get_status(real, flag, status);
    mana_cross_to_upper(c);
    if (rc == MPI_SUCCESS && *flag) {
        struct mana_request_info *d = mana_request_info_get((int32_t)vrequest);
        if (d != NULL)
            d->seen_done = 1;
    }
    return rc;
}

int mana_repost_started(struct mana_crossing *c, struct mana_request_info *d, uint64_t *real)
{
    MPI_Request r = (MPI_Request)real_of(VID_REQUEST, d->vid);
    mana_cross_to_lower(c);
    int rc = MPI_LOWER.MPI_Start(&r);
    mana_cross_to_upper(c);
    *real = MANA_REAL(r);
    return rc;
}

int mana_started_live(const uint64_t *args, const int32_t *arr_n)
{
    (void)args;
    (void)arr_n;
    return 1;
}

int mana_ghosts_live;

/* Posts ghost G of communicator entry SLOT (ckpt_sync.h) as a request of
 * MANA's own, which then goes like the application's nonblocking
 * collectives (left pending or completed at a checkpoint) until
 * mana_ghosts_test sees it complete. */
static int post_ghost(struct mana_crossing *c, uint32_t slot, struct mana_coll_ghost *g)
{
    /* The kept bytes as they are, then the scratch buffer, aligned for
     * any type (a user op may get pointers into it). */
    size_t kept = g->arrays_at + 2 * g->narray * sizeof(int), scratch_at = (kept + 15) & ~(size_t)15;
    struct mana_kept_input *k = malloc(sizeof *k + scratch_at + g->scratch_len);
    if (k == NULL)
        return MPI_ERR_NO_MEM;
    k->at = NULL; /* its own copy, never put back */
    k->len = kept;
    if (kept > 0)
        memcpy(k->data, g->kept, kept);
    struct mana_request_info d = {.kind = MANA_REQ_COLLECTIVE,
                                  .active = 1,
                                  .function = "a collective seen complete before the checkpoint (posted again by MANA)",
                                  .comm = mana_lower->sync.comms[slot].vcomm,
                                  .repost = g->repost,
                                  .live = g->live,
                                  .coll_seq = g->seq,
                                  .coll_slot = slot,
                                  .ghost = 1};
    memcpy(d.coll_args, g->args, sizeof d.coll_args);
    if (g->kept_arg >= 0)
        d.coll_args[g->kept_arg] = (uint64_t)(uintptr_t)(k->data - g->true_lb);
    if (g->scratch_arg >= 0)
        d.coll_args[g->scratch_arg] = (uint64_t)(uintptr_t)(k->data + scratch_at - g->scratch_lb);
    if (g->counts_arg >= 0) {
        d.coll_args[g->counts_arg] = (uint64_t)(uintptr_t)(k->data + g->arrays_at);
        d.coll_args[g->displs_arg] = (uint64_t)(uintptr_t)(k->data + g->arrays_at + g->narray * sizeof(int));
    }
    d.owned[MANA_OWNED_KEPT] = k;
    uint64_t real = 0;
    int rc = d.repost(c, &d, &real);
    int32_t v = rc == MPI_SUCCESS ? mana_request_out(real) : VID_INVALID;
    if (v == VID_INVALID || mana_request_describe(v, &d) != 0) {
        free(k);
        return rc == MPI_SUCCESS ? MPI_ERR_NO_MEM : rc;
    }
    mana_ghosts_live++;
    g->seq = 0; /* the request stands for it now, at later checkpoints too */
    return MPI_SUCCESS;
}

/* Forgets ghost D (complete; its MPI request freed or gone). */
static void drop_ghost(struct mana_request_info *d)
{
    int32_t v = d->vid;
    if (d->done != NULL)
        drain_store_release(d->done);
    mana_request_info_clear(v);
    vid_release(VID_REQUEST, v);
    mana_ghosts_live--;
}

void mana_ghosts_test(struct mana_crossing *c)
{
    size_t cursor = 0;
    struct mana_request_info *d;
    while ((d = mana_request_info_next(&cursor)) != NULL) {
        if (!d->ghost || d->ckpt != MANA_REQ_CKPT_NONE)
            continue;
        MPI_Request r = (MPI_Request)real_of(VID_REQUEST, d->vid);
        int flag = 0;
        mana_cross_to_lower(c);
        int rc = MPI_LOWER.MPI_Test(&r, &flag, MPI_STATUS_IGNORE);
        mana_cross_to_upper(c);
        if (flag || rc != MPI_SUCCESS)
            drop_ghost(d); /* an error: nothing more can come of it */
    }
}

void mana_ghosts_finish(struct mana_crossing *c)
{
    while (mana_ghosts_live > 0)
        mana_ghosts_test(c);
}

/* The nonblocking collectives a checkpoint left pending because some
 * member had not posted them, and the ghosts of those this rank had seen
 * complete: the restarted MPI knows nothing of them, so they are posted
 * again, with the arguments the application gave (MPI forbids it to
 * touch their buffers until they complete) or the input kept. Upper %fs:
 * translating arrays of handles may allocate. */
static void repost_collectives(struct mana_crossing *c)
{
    struct mana_ckpt_sync *s = &mana_lower->sync;
    for (uint32_t i = 0; i < s->ncomms; i++) {
        struct mana_coll_ghost *g = mana_coll_ghosts_of(i);
        const struct mana_comm_count *cc = &s->comms[i];
        uint64_t real;
        int live = vid_real(VID_COMM, cc->vcomm, &real) == 0;
        for (int k = 0; g != NULL && k < MANA_GHOSTS; k++)
            g[k].due = live && g[k].seq != 0 && cc->gap && g[k].seq > cc->gap_floor && g[k].seq <= cc->count &&
                       g[k].live(g[k].args, NULL);
    }
    for (;;) {
        /* In the order they were posted: MPI matches the collectives of a
         * communicator by their order. */
        struct mana_request_info *d = NULL, *e;
        size_t cursor = 0;
        while ((e = mana_request_info_next(&cursor)) != NULL)
            if (e->ckpt == MANA_REQ_CKPT_COLL_GAP && (d == NULL || e->coll_seq < d->coll_seq))
                d = e;
        struct mana_coll_ghost *g = NULL;
        uint32_t gslot = 0;
        for (uint32_t i = 0; i < s->ncomms; i++) {
            struct mana_coll_ghost *h = mana_coll_ghosts_of(i);
            for (int k = 0; h != NULL && k < MANA_GHOSTS; k++)
                if (h[k].due && (g == NULL || h[k].seq < g->seq)) {
                    g = &h[k];
                    gslot = i;
                }
        }
        if (d == NULL && g == NULL)
            break;
        int rc;
        const char *what;
        int32_t vcomm;
        if (g != NULL && (d == NULL || g->seq < d->coll_seq)) {
            /* A member had not entered it: this rank, which had seen it
             * complete, takes part again from the input it kept. */
            g->due = 0;
            what = "a collective it had seen complete";
            vcomm = s->comms[gslot].vcomm;
            rc = post_ghost(c, gslot, g);
        } else {
            d->ckpt = MANA_REQ_CKPT_NONE;
            what = d->function;
            vcomm = d->comm;
            const struct mana_kept_input *k = d->owned[MANA_OWNED_KEPT];
            if (k != NULL && k->at != NULL)
                memcpy(k->at, k->data, k->len); /* MPI may have written into it */
            uint64_t real = 0;
            rc = d->repost(c, d, &real);
            if (rc == MPI_SUCCESS)
                vid_update_real(VID_REQUEST, d->vid, real);
        }
        if (rc != MPI_SUCCESS) {
            /* Its handles were replayed a moment ago: this cannot happen
             * unless the restart is broken (or memory ran out), and going
             * on would hang the members that wait for it. */
            fprintf(stderr,
                    "MANA: the restarted rank cannot post %s again on communicator %#x (MPI error %d), which it "
                    "had posted before the checkpoint; the job cannot go on\n",
                    what, (unsigned)vcomm, rc);
            fflush(stderr);
            mana_wrfsbase(&mana_fs, mana_lower->lower_fs);
            mana_lower->lower_exit(1);
        }
    }
}

void mana_drain_after_restart(struct mana_crossing *c)
{
    repost_collectives(c);
    mana_cross_to_lower(c);
    if (attached_buffer != NULL)
        MPI_LOWER.MPI_Buffer_attach(attached_buffer, attached_size);
    resume_requests(1);
    mana_cross_to_upper(c);
}

/* --- the receive paths ------------------------------------------------ */

/* The drained message a receive of (VCOMM, SOURCE, TAG) takes, or NULL:
 * one load of a counter when none is queued, as almost always. */
static struct mana_drained *queued_match(MPI_Comm vcomm, int source, int tag)
{
    if (__builtin_expect(atomic_load_explicit(&mana_drained_queued, memory_order_relaxed) == 0, 1))
        return NULL;
    return drain_store_match((int32_t)vcomm, source, tag);
}

int mana_drained_recv(struct mana_crossing *c, void *buf, int count, MPI_Datatype vtype, int source, int tag,
                      MPI_Comm vcomm, MPI_Status *status, int *rc)
{
    struct mana_drained *m = queued_match(vcomm, source, tag);
    if (m == NULL)
        return 0;
    drain_store_take(m);
    mana_cross_to_lower(c);
    *rc = deliver(m, buf, count, (MPI_Datatype)real_of(VID_DATATYPE, vtype), (MPI_Comm)real_of(VID_COMM, vcomm));
    fill_status(m, status);
    mana_cross_to_upper(c);
    drain_store_release(m);
    return 1;
}

/* A probe (REAL_MESSAGE NULL: it stays queued) or a matched probe (it is
 * taken and *REAL_MESSAGE names it) of the drained messages. */
static int probe_drained(struct mana_crossing *c, int source, int tag, MPI_Comm vcomm, MPI_Message *real_message,
                         MPI_Status *status)
{
    struct mana_drained *m = queued_match(vcomm, source, tag);
    if (m == NULL)
        return 0;
    mana_cross_to_lower(c);
    fill_status(m, status);
    mana_cross_to_upper(c);
    if (real_message != NULL) {
        drain_store_take(m);
        *real_message = (MPI_Message)(DRAINED_MESSAGE_TAG | (uint32_t)(m->seq & DRAINED_MESSAGE_SEQ));
    }
    return 1;
}

int mana_drained_probe(struct mana_crossing *c, int source, int tag, MPI_Comm vcomm, MPI_Status *status)
{
    return probe_drained(c, source, tag, vcomm, NULL, status);
}

int mana_drained_mprobe(struct mana_crossing *c, int source, int tag, MPI_Comm vcomm, MPI_Message *real_message,
                        MPI_Status *status)
{
    return probe_drained(c, source, tag, vcomm, real_message, status);
}

void mana_matched_note(struct mana_crossing *c, MPI_Message real, MPI_Comm vcomm, const MPI_Status *status)
{
    if (real == MPI_MESSAGE_NO_PROC || n_matched == MATCHED_MAX)
        return; /* not noted: a checkpoint waits for its MPI_Mrecv, and gives up */
    MPI_Count bytes = 0;
    mana_cross_to_lower(c);
    MPI_LOWER.MPI_Get_elements_x(status, (MPI_Datatype)real_of(VID_DATATYPE, MPI_BYTE), &bytes);
    mana_cross_to_upper(c);
    matched[n_matched++] = (struct matched){.real = MANA_REAL(real), .bytes = bytes, .vcomm = (int32_t)vcomm,
                                            .source = status->MPI_SOURCE, .tag = status->MPI_TAG};
}

int mana_p2p_irecv(struct mana_crossing *c, void *buf, int count, MPI_Datatype rtype, int source, int tag,
                   MPI_Comm vcomm, MPI_Comm rcomm, MPI_Request *out, uint8_t *counted)
{
    struct mana_drained *m = queued_match(vcomm, source, tag);
    int rc;
    mana_cross_to_lower(c);
    if (m == NULL) {
        rc = MPI_LOWER.MPI_Irecv(buf, count, rtype, source, tag, rcomm, out);
    } else {
        drain_store_take(m);
        deliver(m, buf, count, rtype, rcomm);
        rc = completed_request(m, out);
        *counted = 1;
    }
    mana_cross_to_upper(c);
    return rc;
}

/* MPI_Mrecv (OUT NULL) and MPI_Imrecv (OUT: its request): from MPI, or
 * from the store for a drained-message handle. */
static int matched_receive(struct mana_crossing *c, void *buf, int count, MPI_Datatype rtype,
                           MPI_Message *real_message, MPI_Status *status, MPI_Request *out)
{
    int rc;
    mana_cross_to_lower(c);
    if (!is_drained_message(*real_message)) {
        uint64_t was = MANA_REAL(*real_message);
        rc = out == NULL ? MPI_LOWER.MPI_Mrecv(buf, count, rtype, real_message, status)
                         : MPI_LOWER.MPI_Imrecv(buf, count, rtype, real_message, out);
        matched_forget(was);
    } else {
        struct mana_drained *m = drained_message(*real_message);
        if (m == NULL) {
            rc = MPI_ERR_REQUEST;
        } else {
            rc = deliver(m, buf, count, rtype, MPI_COMM_NULL);
            if (out != NULL) {
                rc = completed_request(m, out); /* the status (truncation too) comes with it */
            } else {
                fill_status(m, status);
                drain_store_release(m);
            }
        }
        *real_message = MPI_MESSAGE_NULL;
    }
    mana_cross_to_upper(c);
    return rc;
}

int mana_p2p_mrecv(struct mana_crossing *c, void *buf, int count, MPI_Datatype rtype, MPI_Message *real_message,
                   MPI_Status *status)
{
    return matched_receive(c, buf, count, rtype, real_message, status, NULL);
}

int mana_p2p_imrecv(struct mana_crossing *c, void *buf, int count, MPI_Datatype rtype, MPI_Message *real_message,
                    MPI_Request *out)
{
    return matched_receive(c, buf, count, rtype, real_message, MPI_STATUS_IGNORE, out);
}

int mana_p2p_iprobe(struct mana_crossing *c, int source, int tag, MPI_Comm vcomm, MPI_Comm rcomm, int *flag,
                    MPI_Status *status)
{
    if (mana_drained_probe(c, source, tag, vcomm, status)) {
        *flag = 1;
        return MPI_SUCCESS;
    }
    mana_cross_to_lower(c);
    int rc = MPI_LOWER.MPI_Iprobe(source, tag, rcomm, flag, status);
    mana_cross_to_upper(c);
    return rc;
}

int mana_start_requests(struct mana_crossing *c, int n, const MPI_Request *app, MPI_Request *real)
{
    int rc = MPI_SUCCESS;
    if (__builtin_expect(atomic_load_explicit(&mana_drained_queued, memory_order_relaxed) == 0, 1)) {
        mana_cross_to_lower(c);
        rc = n == 1 ? MPI_LOWER.MPI_Start(real) : MPI_LOWER.MPI_Startall(n, real);
        mana_cross_to_upper(c);
        return rc;
    }
    /* One at a time, each receive first matched against the drained
     * messages, in the order MPI would have matched them. */
    for (int i = 0; i < n && rc == MPI_SUCCESS; i++) {
        struct mana_request_info *d = mana_request_info_get((int32_t)app[i]);
        struct mana_drained *m =
            d != NULL && d->persistent && is_receive(d) ? drain_store_match(d->comm, d->source, d->recv_tag) : NULL;
        mana_cross_to_lower(c);
        if (m == NULL) {
            rc = MPI_LOWER.MPI_Start(&real[i]);
        } else {
            drain_store_take(m);
            deliver(m, d->recv_buf, (int)d->recv_count, (MPI_Datatype)real_of(VID_DATATYPE, d->recv_type),
                    (MPI_Comm)real_of(VID_COMM, d->comm));
            MPI_Request g;
            rc = completed_request(m, &g);
            if (rc == MPI_SUCCESS) {
                d->shadow_real = MANA_REAL(real[i]);
                vid_update_real(VID_REQUEST, d->vid, MANA_REAL(g));
                real[i] = g;
                d->counted = 1;
            }
        }
        mana_cross_to_upper(c);
    }
    return rc;
}

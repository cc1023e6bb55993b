/* See ckpt_sync.h and docs/checkpoint-protocol.md. */
#include "ckpt_sync.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>

#include "ckpt_drain.h"
#include "mana/raw_syscall.h"
#include "mpi_replay.h"
#include "mpi_wrap.h"
#include "record_log.h"
#include "request_info.h"
#include "u64_map.h"
#include "virtual_ids.h"

void mana_signals_after_restart(void); /* signal_wrappers.c */

/* Who a communicator's members are, in world ranks: to name it the same
 * on every member (its gid) and to count messages per world peer. Kept
 * parallel to sync->comms. */
struct comm_members {
    uint64_t hash; /* of the members alone: comms with the same members differ by ordinal */
    int32_t *local, *remote;
    int nlocal, nremote; /* nremote 0: an intracommunicator */
    int self;            /* this rank's rank in local */
    int ghost_ref;       /* its ghosts hold a reference to its id (mana_coll_comm_dropped) */
};

static struct comm_members *members;
/* How many entries have been made for each set of members (by hash):
 * the next one's ordinal. Every member makes its entries in the same
 * order, so the ordinal tells apart communicators of the same members
 * alike on all of them, and a map keeps it one lookup for a program
 * that makes communicators in a loop. */
static struct u64_map ordinals;
/* The ghosts of each communicator's latest collectives of GHOSTS
 * (gen_wrappers.py) this rank completed, MANA_GHOSTS per entry of
 * sync->comms, by count modulo MANA_GHOSTS. */
static struct mana_coll_ghost *ghosts;
/* Communicators the application has freed while they had ghosts, kept
 * (entry index + 1) so that a restart can still post those on them: the
 * latest MANA_KEPT_COMMS, an older one is freed when a newer one comes. */
#define MANA_KEPT_COMMS 4
static uint32_t kept_comms[MANA_KEPT_COMMS];
static unsigned kept_next;
static uint32_t comms_capacity;
static MPI_Status *scratch;
static int scratch_n;

static inline struct mana_ckpt_sync *sync_state(void)
{
    return &mana_lower->sync;
}

#define LOWER(c, call)                                                                                             \
    __extension__({                                                                                                \
        mana_cross_to_lower(c);                                                                                    \
        int lower_rc_ = mana_lower->mpi.call;                                                                      \
        mana_cross_to_upper(c);                                                                                    \
        lower_rc_;                                                                                                 \
    })

static uint64_t fnv1a(uint64_t h, const void *data, size_t len)
{
    const unsigned char *p = data;
    for (size_t i = 0; i < len; i++)
        h = (h ^ p[i]) * 0x100000001b3ULL;
    return h;
}

/* The world ranks of GROUP's members, in group order (malloc'd). */
static int32_t *world_ranks(struct mana_crossing *c, MPI_Group group, int *n)
{
    MPI_Group world;
    if (LOWER(c, MPI_Group_size(group, n)) != MPI_SUCCESS || LOWER(c, MPI_Comm_group(MPI_COMM_WORLD, &world)))
        return NULL;
    int *in = malloc((size_t)*n * sizeof *in);
    int32_t *out = malloc((size_t)*n * sizeof *out);
    if (in && out) {
        for (int i = 0; i < *n; i++)
            in[i] = i;
        if (LOWER(c, MPI_Group_translate_ranks(group, *n, in, world, out)) != MPI_SUCCESS) {
            free(out);
            out = NULL;
        }
    }
    free(in);
    LOWER(c, MPI_Group_free(&world));
    return out;
}

static int grow(void)
{
    struct mana_ckpt_sync *s = sync_state();
    if (s->ncomms < comms_capacity)
        return 0;
    uint32_t cap = comms_capacity ? comms_capacity * 2 : 16;
    struct mana_comm_count *cc = realloc(s->comms, cap * sizeof *cc);
    if (cc == NULL)
        return -1;
    s->comms = cc;
    struct comm_members *m = realloc(members, cap * sizeof *m);
    if (m == NULL)
        return -1;
    members = m;
    struct mana_coll_ghost *g = realloc(ghosts, cap * MANA_GHOSTS * sizeof *g);
    if (g == NULL)
        return -1;
    memset(g + comms_capacity * MANA_GHOSTS, 0, (cap - comms_capacity) * MANA_GHOSTS * sizeof *g);
    ghosts = g;
    comms_capacity = cap;
    return 0;
}

/* An entry whose communicator the application has freed: its counts
 * stay for the agreement (other members may still be behind on it), but
 * no id names it any more, since the id may come back for another
 * communicator (virtual_ids.h: after 16 reuses of its slot). */
#define COMM_GONE 0

/* The entry of VCOMM, or -1: the entry index + 1 is kept in the first
 * word of the id's entry (vid_user), which a new id starts at 0, so the
 * lookup is one load wherever the application switches communicators. */
static int comm_find(int32_t vcomm)
{
    const struct mana_ckpt_sync *s = sync_state();
    const uint64_t *u = vid_user(VID_COMM, vcomm);
    if (u != NULL && u[0] != 0)
        return u[0] - 1 < s->ncomms && s->comms[u[0] - 1].vcomm == vcomm ? (int)(u[0] - 1) : -1;
    return -1;
}

void mana_coll_comm_freed(int32_t vcomm)
{
    int i = comm_find(vcomm);
    if (i >= 0)
        sync_state()->comms[i].vcomm = COMM_GONE;
}

/* The entry of VCOMM, made at its first use: -1 if VCOMM is not a
 * communicator MANA knows. */
static int comm_index(struct mana_crossing *c, MPI_Comm vcomm)
{
    struct mana_ckpt_sync *s = sync_state();
    int found = comm_find((int32_t)vcomm);
    if (found >= 0)
        return found;
    uint64_t real;
    if (vid_real(VID_COMM, (int32_t)vcomm, &real) != 0 || grow() != 0)
        return -1;
    MPI_Comm rc = (MPI_Comm)real;
    struct comm_members m = {0};
    MPI_Group g;
    int inter = 0;
    LOWER(c, MPI_Comm_test_inter(rc, &inter));
    if (LOWER(c, MPI_Comm_group(rc, &g)) != MPI_SUCCESS)
        return -1;
    m.local = world_ranks(c, g, &m.nlocal);
    m.self = -1;
    for (int k = 0; m.local != NULL && k < m.nlocal; k++)
        if (m.local[k] == s->world_rank)
            m.self = k;
    LOWER(c, MPI_Group_free(&g));
    if (inter && LOWER(c, MPI_Comm_remote_group(rc, &g)) == MPI_SUCCESS) {
        m.remote = world_ranks(c, g, &m.nremote);
        LOWER(c, MPI_Group_free(&g));
    }
    if (m.local == NULL || (inter && m.remote == NULL)) {
        free(m.local);
        free(m.remote);
        return -1;
    }
    /* Both sides of an intercommunicator must get one name: combine the
     * two groups' hashes symmetrically. */
    uint64_t hl = fnv1a(0xcbf29ce484222325ULL, m.local, (size_t)m.nlocal * sizeof *m.local);
    uint64_t hr = inter ? fnv1a(0xcbf29ce484222325ULL, m.remote, (size_t)m.nremote * sizeof *m.remote) : 0;
    m.hash = inter ? (hl < hr ? hl * 31 + hr : hr * 31 + hl) : hl;
    /* Every member, for the agreement to see who has entered what. */
    int32_t *all = m.local;
    uint32_t nall = (uint32_t)m.nlocal;
    if (inter) {
        all = malloc(((size_t)m.nlocal + (size_t)m.nremote) * sizeof *all);
        if (all != NULL) {
            memcpy(all, m.local, (size_t)m.nlocal * sizeof *all);
            memcpy(all + m.nlocal, m.remote, (size_t)m.nremote * sizeof *all);
            nall += (uint32_t)m.nremote;
        }
    }
    const uint64_t *made = u64_map_get(&ordinals, m.hash);
    uint64_t ordinal = made ? *made : 0;
    if (all == NULL || u64_map_put(&ordinals, m.hash, ordinal + 1) != 0) {
        if (all != m.local)
            free(all);
        free(m.local);
        free(m.remote);
        return -1;
    }
    uint32_t i = s->ncomms;
    members[i] = m;
    s->comms[i] = (struct mana_comm_count){.vcomm = (int32_t)vcomm,
                                           .gid = fnv1a(m.hash, &ordinal, sizeof ordinal),
                                           .members = all,
                                           .nmembers = nall};
    s->ncomms = i + 1; /* last: the checkpoint thread reads ncomms entries under the lock */
    uint64_t *u = vid_user(VID_COMM, (int32_t)vcomm);
    if (u != NULL)
        u[0] = (uint64_t)i + 1;
    return (int)i;
}

/* RANK of VCOMM (of its remote group for an intercommunicator) as a
 * world rank, or -1. */
static int world_rank_of(struct mana_crossing *c, MPI_Comm vcomm, int rank)
{
    if (rank < 0)
        return -1; /* MPI_PROC_NULL, MPI_ANY_SOURCE */
    if (vcomm == MPI_COMM_WORLD)
        return rank;
    int i = comm_index(c, vcomm);
    if (i < 0)
        return -1;
    const struct comm_members *m = &members[i];
    if (m->remote != NULL)
        return rank < m->nremote ? m->remote[rank] : -1;
    return rank < m->nlocal ? m->local[rank] : -1;
}

int mana_world_rank_known(MPI_Comm vcomm, int rank)
{
    if (rank < 0)
        return -1;
    if (vcomm == MPI_COMM_WORLD)
        return rank;
    int i = comm_find((int32_t)vcomm);
    if (i < 0)
        return -2;
    const struct comm_members *m = &members[i];
    if (m->remote != NULL)
        return rank < m->nremote ? m->remote[rank] : -1;
    return rank < m->nlocal ? m->local[rank] : -1;
}

/* Lets the checkpoint thread in: drops the lower lock until the next
 * agreement round or the end of the checkpoint, then takes it again. */
static void pause_for_checkpoint(struct mana_crossing *c)
{
    struct mana_ckpt_sync *s = sync_state();
    uint32_t e = atomic_load(&s->epoch);
    mana_cross_unlock(c);
    struct timespec slice = {0, 20 * 1000 * 1000};
    while (atomic_load(&s->pending) && atomic_load(&s->epoch) == e)
        mana_raw_syscall6(SYS_futex, (long)&s->epoch, FUTEX_WAIT_PRIVATE, e, (long)&slice, 0, 0);
    mana_cross_lock(c, "MPI");
}

int mana_ckpt_sync_init(void)
{
    struct mana_crossing c;
    mana_cross_lock(&c, "MPI_Init");
    struct mana_ckpt_sync *s = sync_state();
    int size = 0;
    LOWER(&c, MPI_Comm_size(MPI_COMM_WORLD, &size));
    int rc = 0;
    if (s->sent == NULL && size > 0) {
        s->sent = calloc((size_t)size, sizeof *s->sent);
        s->received = calloc((size_t)size, sizeof *s->received);
        rc = s->sent && s->received ? 0 : -1;
    }
    s->world_size = size;
    LOWER(&c, MPI_Comm_rank(MPI_COMM_WORLD, &s->world_rank));
    s->app_fs = c.upper_fs;
    s->windows_open = mana_mpi_windows_open;
    mana_drain_install();
    mana_cross_unlock(&c);
    return rc;
}

/* A testing aid (docs/user-guide.md, "Testing aids"): with
 * MANA_TEST_CKPT_AT_COLL=N, rank 0 asks for a checkpoint when it enters
 * its N-th collective (from 0) and waits there until it has started, so
 * that tests can checkpoint short programs at a chosen point;
 * MANA_TEST_CKPT_EXIT=1 makes it checkpoint-and-exit (=hold is the
 * lower half's: it keeps the ranks stopped after the checkpoint). */
static void test_checkpoint_here(struct mana_crossing *c)
{
    static long at = -2, seen;
    if (at == -2) {
        const char *v = getenv("MANA_TEST_CKPT_AT_COLL");
        at = v != NULL && sync_state()->world_rank == 0 ? atol(v) : -1;
    }
    if (at < 0 || seen++ != at)
        return;
    const char *ex = getenv("MANA_TEST_CKPT_EXIT");
    int exit_after = ex != NULL && strcmp(ex, "1") == 0;
    struct mana_ckpt_sync *s = sync_state();
    /* The coordinator refuses while ranks are still connecting: ask again. */
    for (int tries = 0; tries < 20 && !atomic_load(&s->pending); tries++) {
        mana_cross_to_lower(c);
        mana_lower->request_checkpoint(exit_after);
        mana_cross_to_upper(c);
        mana_cross_unlock(c);
        for (int ms = 0; ms < 500 && !atomic_load(&s->pending); ms++) {
            struct timespec t = {0, 1000 * 1000};
            nanosleep(&t, NULL);
        }
        mana_cross_lock(c, "MPI");
    }
}

/* Behind the agreed count on some communicator: such a rank goes on
 * through every gate, since the collective it is behind on may lie past
 * collectives on other communicators that nobody has entered yet. */
static int behind_somewhere(const struct mana_ckpt_sync *s)
{
    for (uint32_t i = 0; i < s->ncomms; i++)
        if (s->comms[i].count < s->comms[i].target)
            return 1;
    return 0;
}

void mana_coll_enter(struct mana_crossing *c, MPI_Comm vcomm)
{
    if (c->nested)
        return; /* from a callback inside MPI: the outer call holds the gate */
    test_checkpoint_here(c);
    struct mana_ckpt_sync *s = sync_state();
    int i = comm_index(c, vcomm);
    if (i < 0)
        return; /* a bad handle: the call itself reports it */
    if (__builtin_expect(mana_ghosts_live != 0, 0))
        mana_ghosts_test(c);
    while (atomic_load(&s->pending)) {
        if (atomic_load(&s->targets_valid) && behind_somewhere(s))
            break; /* behind the others: go on, they are inside it or past it */
        pause_for_checkpoint(c);
    }
    s->comms[i].count++;
    s->last_gate = (uint32_t)i;
}

void mana_finalize_begin(struct mana_crossing *c)
{
    struct mana_ckpt_sync *s = sync_state();
    mana_ghosts_finish(c);
    while (atomic_load(&s->pending))
        pause_for_checkpoint(c);
    atomic_store(&s->finalizing, 1);
}

/* Tests a test loop makes once a checkpoint is pending before it pauses:
 * between two agreement rounds a loop gets the lock for a moment, and a
 * collective on oversubscribed cores needs many tests to complete (one
 * test per round would never get it there). Runs with the lower %fs:
 * memory only. */
#define PENDING_TESTS 2000

static inline int keep_testing(const struct mana_ckpt_sync *s, int *tests)
{
    return !atomic_load_explicit(&s->pending, memory_order_relaxed) || ++*tests < PENDING_TESTS;
}

/* Tests REAL until it completes or a checkpoint is being agreed: 1 when
 * complete, 0 when the loop should pause, or an MPI error (< 0 never). */
static int test_until(struct mana_crossing *c, MPI_Request *real, MPI_Status *status, int *rc)
{
    struct mana_ckpt_sync *s = sync_state();
    int flag = 0;
    int tests = 0;
    mana_cross_to_lower(c);
    do {
        *rc = mana_lower->mpi.MPI_Test(real, &flag, status);
    } while (*rc == MPI_SUCCESS && !flag && keep_testing(s, &tests));
    mana_cross_to_upper(c);
    return *rc != MPI_SUCCESS || flag;
}

int mana_wait_collective(struct mana_crossing *c, MPI_Request *req, int repostable)
{
    struct mana_ckpt_sync *s = sync_state();
    int rc;
    if (c->nested)
        return LOWER(c, MPI_Wait(req, MPI_STATUS_IGNORE));
    uint64_t restarts = atomic_load(&s->restarts);
    if (repostable && s->last_gate < s->ncomms)
        s->inside_gid = s->comms[s->last_gate].gid;
    atomic_store(&s->in_collective, repostable ? 4 : 1);
    while (!test_until(c, req, MPI_STATUS_IGNORE, &rc)) {
        pause_for_checkpoint(c);
        if (atomic_load(&s->restarts) != restarts) {
            /* Checkpointed inside it while another member had not entered
             * it: the restarted MPI knows nothing of it; post it again. */
            atomic_store(&s->in_collective, 0);
            return MANA_COLL_REPOST;
        }
    }
    atomic_store(&s->in_collective, 0);
    return rc;
}

void mana_start_gates(struct mana_crossing *c, int n, const MPI_Request *app)
{
    for (int k = 0; app != NULL && k < n; k++) {
        struct mana_request_info *d = mana_request_info_get((int32_t)app[k]);
        if (d == NULL || !d->persistent || d->kind != MANA_REQ_COLLECTIVE)
            continue;
        int32_t vcomm = d->comm;
        mana_coll_enter(c, (MPI_Comm)vcomm);
        d = mana_request_info_get((int32_t)app[k]);
        if (d == NULL)
            continue;
        const struct mana_ckpt_sync *s = sync_state();
        int here = !c->nested && s->last_gate < s->ncomms && s->comms[s->last_gate].vcomm == vcomm;
        d->coll_slot = here ? s->last_gate : UINT32_MAX; /* not at a gate: never left pending */
        d->coll_seq = here ? s->comms[s->last_gate].count : 0;
        d->seen_done = 0;
    }
}

void mana_coll_note(struct mana_crossing *c, MPI_Comm vcomm, struct mana_request_info *d)
{
    const struct mana_ckpt_sync *s = sync_state();
    if (c->nested || s->last_gate >= s->ncomms || s->comms[s->last_gate].vcomm != (int32_t)vcomm) {
        d->repost = NULL;
        return;
    }
    d->coll_slot = s->last_gate;
    d->coll_seq = s->comms[s->last_gate].count;
}

/* The input of the collective this rank is in, when it is MPI_IN_PLACE:
 * kept so that a restart can post the collective again (MPI may have
 * overwritten the buffer meanwhile). Upper memory, saved. Up to
 * INPLACE_SAVE_MAX in a static buffer: a larger one has an arrival
 * barrier (mana_coll_arrival), but for MPI_Gatherv at the root, whose
 * members cannot agree on one, which keeps up to INPLACE_KEEP_MAX in a
 * heap buffer that grows to the largest such input (the memory is the
 * price: beyond that, a checkpoint waits instead). */
#define INPLACE_SAVE_MAX (64 * 1024)
#define INPLACE_KEEP_MAX (64 * 1024 * 1024)
static unsigned char inplace_copy[INPLACE_SAVE_MAX];
static unsigned char *inplace_heap;
static size_t inplace_heap_len;
static unsigned char *inplace_at, *inplace_from;
static size_t inplace_len;

/* Where COUNT of VTYPE lies from a buffer's start: its extent, true
 * lower bound and span. -1 for a bad type or count. */
static int inplace_span(struct mana_crossing *c, int count, MPI_Datatype vtype, MPI_Aint *extent, MPI_Aint *true_lb,
                        MPI_Aint *span)
{
    uint64_t rt;
    MPI_Aint lb, true_extent;
    *true_lb = 0;
    if (count < 0)
        return -1;
    uint64_t *cached;
    if (((uint32_t)vtype & 0xc0000000u) == 0x40000000u) {
        /* An MPICH builtin type: its size is in the handle (bits 8-15),
         * which spares two calls on this path. */
        *extent = true_extent = (MPI_Aint)(((uint32_t)vtype >> 8) & 0xff);
    } else if ((cached = vid_user(VID_DATATYPE, (int32_t)vtype)) != NULL && (cached[1] >> 63) != 0) {
        /* A derived type's layout never changes: asked once (below). */
        *extent = (MPI_Aint)(int64_t)cached[0];
        *true_lb = (MPI_Aint)(int32_t)(uint32_t)cached[1];
        true_extent = (MPI_Aint)((cached[1] >> 32) & 0x7fffffffu);
    } else if (vid_real(VID_DATATYPE, (int32_t)vtype, &rt) != 0 ||
               LOWER(c, MPI_Type_get_extent((MPI_Datatype)rt, &lb, extent)) != MPI_SUCCESS ||
               LOWER(c, MPI_Type_get_true_extent((MPI_Datatype)rt, true_lb, &true_extent)) != MPI_SUCCESS ||
               *extent < 0) {
        return -1;
    } else if (cached != NULL && *true_lb >= INT32_MIN && *true_lb <= INT32_MAX && true_extent >= 0 &&
               true_extent <= 0x7fffffff) {
        /* The id's two free words: the extent, then a flag, the true
         * extent and the true lower bound (those that fit 31 and 32 bits). */
        cached[0] = (uint64_t)(int64_t)*extent;
        cached[1] = 1ull << 63 | (uint64_t)true_extent << 32 | (uint32_t)(int32_t)*true_lb;
    }
    *span = count == 0 ? 0 : (MPI_Aint)(count - 1) * *extent + true_extent;
    return *span < 0 ? -1 : 0;
}

/* Keeps COUNT of VTYPE at BUF + DISP extents, if its span is at most MAX. */
static int inplace_keep(struct mana_crossing *c, void *buf, MPI_Aint disp, int count, MPI_Datatype vtype, size_t max)
{
    MPI_Aint extent, true_lb, span;
    /* One copy per rank: not while another thread is inside a collective. */
    if (c->nested || atomic_load(&sync_state()->in_collective) != 0 || disp < 0)
        return 0;
    /* Nothing kept for this call unless it fits: a restart after its
     * arrival barrier must not put back an earlier call's input. */
    inplace_len = 0;
    if (inplace_span(c, count, vtype, &extent, &true_lb, &span) != 0 || (size_t)span > max)
        return 0;
    unsigned char *from = inplace_copy;
    if ((size_t)span > sizeof inplace_copy) {
        if ((size_t)span > inplace_heap_len) {
            unsigned char *h = realloc(inplace_heap, (size_t)span);
            if (h == NULL)
                return 0;
            inplace_heap = h;
            inplace_heap_len = (size_t)span;
        }
        from = inplace_heap;
    }
    inplace_at = (unsigned char *)buf + disp * extent + true_lb;
    inplace_from = from;
    inplace_len = (size_t)span;
    memcpy(inplace_from, inplace_at, inplace_len);
    return 1;
}

int mana_inplace_save(struct mana_crossing *c, void *buf, int count, MPI_Datatype vtype)
{
    return inplace_keep(c, buf, 0, count, vtype, INPLACE_SAVE_MAX);
}

/* MPI_IN_PLACE is allowed at the root only: one that is not (or a bad
 * root) keeps nothing, and the call reports the error. */
static int is_root(struct mana_crossing *c, MPI_Comm vcomm, int root)
{
    uint64_t rc;
    int rank = -1;
    return vid_real(VID_COMM, (int32_t)vcomm, &rc) == 0 &&
           LOWER(c, MPI_Comm_rank((MPI_Comm)rc, &rank)) == MPI_SUCCESS && rank == root;
}

int mana_inplace_save_gather(struct mana_crossing *c, void *recvbuf, int recvcount, MPI_Datatype vtype, int root,
                             MPI_Comm vcomm)
{
    return is_root(c, vcomm, root) &&
           inplace_keep(c, recvbuf, (MPI_Aint)root * recvcount, recvcount, vtype, INPLACE_SAVE_MAX);
}

int mana_inplace_save_gatherv(struct mana_crossing *c, void *recvbuf, const int *recvcounts, const int *displs,
                              MPI_Datatype vtype, int root, MPI_Comm vcomm)
{
    return recvcounts != NULL && displs != NULL && is_root(c, vcomm, root) &&
           inplace_keep(c, recvbuf, displs[root], recvcounts[root], vtype, INPLACE_KEEP_MAX);
}

/* The bytes of the input a ghost of SPEC keeps (KEPT, LEN from its true
 * lower bound *TRUE_LB): 0, or -1 when it keeps none (too large, a bad
 * type, or MPI_IN_PLACE whose input mana_inplace_save did not keep). */
static int ghost_input(struct mana_crossing *c, const struct mana_ghost_spec *spec, int members, int at_root,
                       const unsigned char **kept, MPI_Aint *true_lb, MPI_Aint *len)
{
    MPI_Aint extent;
    *kept = NULL;
    *true_lb = *len = 0;
    if (spec->kept_arg < 0 || (!at_root && (spec->root_only_args >> spec->kept_arg & 1u)))
        return 0;
    int64_t count = spec->count_per_member ? (int64_t)spec->count * members : spec->count;
    if (spec->counts != NULL) {
        /* To the end of the furthest block (none may lie before the buffer). */
        count = 0;
        for (int k = 0; k < members; k++) {
            if (spec->counts[k] < 0 || spec->displs[k] < 0)
                return -1;
            int64_t end = (int64_t)spec->displs[k] + spec->counts[k];
            count = spec->counts[k] > 0 && end > count ? end : count;
        }
    }
    if (count > INT32_MAX || inplace_span(c, (int)count, spec->type, &extent, true_lb, len) != 0 ||
        *len > INPLACE_SAVE_MAX)
        return -1;
    if (spec->buf != MPI_IN_PLACE) {
        *kept = (const unsigned char *)spec->buf + *true_lb;
        return 0;
    }
    /* The input of this very call, which mana_inplace_save kept before MPI
     * overwrote it: only if nothing else has been kept since. */
    if (spec->inplace_buf == NULL || inplace_at != (const unsigned char *)spec->inplace_buf + *true_lb ||
        inplace_len != (size_t)*len || atomic_load(&sync_state()->in_collective) != 0)
        return -1;
    *kept = inplace_from;
    return 0;
}

void mana_coll_ghost(struct mana_crossing *c, MPI_Comm vcomm, mana_coll_repost_fn repost, mana_coll_live_fn live,
                     const uint64_t *args, const struct mana_ghost_spec *spec)
{
    const struct mana_ckpt_sync *s = sync_state();
    uint32_t i = s->last_gate;
    if (c->nested || i >= s->ncomms || s->comms[i].vcomm != (int32_t)vcomm)
        return;
    const struct comm_members *m = &members[i];
    struct mana_coll_ghost *g = &ghosts[i * MANA_GHOSTS + s->comms[i].count % MANA_GHOSTS];
    g->seq = 0;
    /* Not on an intercommunicator, whose roots are MPI_ROOT and
     * MPI_PROC_NULL; not at a root that completes last. */
    int at_root = m->self == spec->root;
    if (m->remote != NULL || (spec->not_root && at_root))
        return;
    const unsigned char *from;
    MPI_Aint true_lb, span, extent, scratch_lb = 0, scratch_span = 0;
    if (ghost_input(c, spec, m->nlocal, at_root, &from, &true_lb, &span) != 0)
        return;
    if (spec->scratch_arg >= 0 &&
        (inplace_span(c, spec->scratch_count, spec->scratch_type, &extent, &scratch_lb, &scratch_span) != 0 ||
         span + scratch_span > INPLACE_SAVE_MAX))
        return;
    int with_arrays = at_root && spec->counts != NULL && spec->displs != NULL;
    size_t narray = with_arrays ? (size_t)m->nlocal : 0, arrays_at = ((size_t)span + 7) & ~(size_t)7;
    size_t need = arrays_at + 2 * narray * sizeof(int);
    if (need + (size_t)scratch_span > INPLACE_SAVE_MAX)
        return;
    if (need > g->cap) {
        unsigned char *k = realloc(g->kept, need);
        if (k == NULL)
            return;
        g->kept = k;
        g->cap = need;
    }
    if (span > 0)
        memcpy(g->kept, from, (size_t)span);
    if (with_arrays) {
        memcpy(g->kept + arrays_at, spec->counts, narray * sizeof(int));
        memcpy(g->kept + arrays_at + narray * sizeof(int), spec->displs, narray * sizeof(int));
    }
    memcpy(g->args, args, sizeof g->args);
    if (!at_root && spec->root_only_args != 0) {
        for (int k = 0; k < MANA_COLL_ARGS; k++)
            if (spec->root_only_args >> k & 1u)
                g->args[k] = 0;
        g->args[spec->root_only_type_arg] = (uint64_t)(int64_t)spec->scratch_type;
    }
    g->kept_arg = from != NULL ? spec->kept_arg : -1;
    g->counts_arg = with_arrays ? spec->counts_arg : -1;
    g->displs_arg = with_arrays ? spec->displs_arg : -1;
    g->arrays_at = arrays_at;
    g->narray = narray;
    g->scratch_arg = spec->scratch_arg;
    g->true_lb = true_lb;
    g->scratch_lb = scratch_lb;
    g->len = (size_t)span;
    g->scratch_len = (size_t)scratch_span;
    g->repost = repost;
    g->live = live;
    g->seq = s->comms[i].count;
    if (!m->ghost_ref) {
        /* The ghosts' own reference: MPI_Comm_free by the application
         * then leaves the communicator to mana_coll_comm_dropped. */
        struct vid_entry *e = vid_entry_of(VID_COMM, (int32_t)vcomm);
        if (e != NULL && e->state == VID_LIVE && !vid_is_predefined(VID_COMM, (int32_t)vcomm)) {
            e->refs++;
            members[i].ghost_ref = 1;
        }
    }
}

/* Whether the application set an attribute on VCOMM: the delete
 * callbacks MPI_Comm_free runs must not wait for MANA. */
static int has_attributes(int32_t vcomm)
{
    size_t cursor = 0;
    const struct rl_record *r;
    while ((r = rl_iter_next(mana_rl, &cursor)) != NULL)
        if ((r->op == RL_COMM_SET_ATTR || r->op == RL_ATTR_PUT) && r->out[0] == vcomm && !(r->out_freed & 1u))
            return 1;
    return 0;
}

/* Drops the ghosts of entry I and their reference, freeing the
 * communicator if it was the last. */
static void release_ghost_ref(struct mana_crossing *c, uint32_t i)
{
    int32_t vcomm = sync_state()->comms[i].vcomm;
    members[i].ghost_ref = 0;
    for (int k = 0; k < MANA_GHOSTS; k++)
        ghosts[i * MANA_GHOSTS + k].seq = 0;
    uint64_t real;
    int how = mana_handle_free_begin(VID_COMM, vcomm, &real, "MPI_Comm_free");
    if (how != MANA_FREE_LAST)
        return;
    MPI_Comm rc = (MPI_Comm)real;
    if (LOWER(c, MPI_Comm_free(&rc)) == MPI_SUCCESS)
        mana_handle_freed(VID_COMM, vcomm);
}

void mana_coll_comm_dropped(struct mana_crossing *c, MPI_Comm vcomm)
{
    struct vid_entry *e = vid_entry_of(VID_COMM, (int32_t)vcomm);
    if (e == NULL || e->refs != 1)
        return; /* the application holds it still */
    int found = comm_find((int32_t)vcomm);
    if (found < 0 || !members[found].ghost_ref)
        return;
    uint32_t i = (uint32_t)found;
    if (has_attributes((int32_t)vcomm)) {
        release_ghost_ref(c, i);
        return;
    }
    uint32_t old = kept_comms[kept_next];
    kept_comms[kept_next] = i + 1;
    kept_next = (kept_next + 1) % MANA_KEPT_COMMS;
    if (old != 0)
        release_ghost_ref(c, old - 1);
}

struct mana_coll_ghost *mana_coll_ghosts_of(uint32_t slot)
{
    return slot < sync_state()->ncomms && ghosts != NULL ? &ghosts[slot * MANA_GHOSTS] : NULL;
}

struct mana_kept_input *mana_nbc_keep(struct mana_crossing *c, void *buf, int count, MPI_Datatype vtype)
{
    MPI_Aint extent, true_lb, span;
    if (c->nested || inplace_span(c, count, vtype, &extent, &true_lb, &span) != 0 || span > INPLACE_SAVE_MAX)
        return NULL;
    struct mana_kept_input *k = malloc(sizeof *k + (size_t)span);
    if (k == NULL)
        return NULL;
    k->at = (unsigned char *)buf + true_lb;
    k->len = (size_t)span;
    memcpy(k->data, k->at, k->len);
    return k;
}

struct mana_kept_input *mana_nbc_keep_blocks(struct mana_crossing *c, void *buf, int count, const int *counts,
                                             MPI_Datatype vtype, MPI_Comm vcomm)
{
    uint64_t rc;
    int size = 0;
    if (c->nested || vid_real(VID_COMM, (int32_t)vcomm, &rc) != 0 ||
        LOWER(c, MPI_Comm_size((MPI_Comm)rc, &size)) != MPI_SUCCESS)
        return NULL;
    int64_t total = 0;
    for (int k = 0; k < size; k++) {
        int n = counts != NULL ? counts[k] : count;
        if (n < 0)
            return NULL; /* the call itself reports it */
        total += n;
    }
    return total <= INT32_MAX ? mana_nbc_keep(c, buf, (int)total, vtype) : NULL;
}

int mana_inplace_restore(void)
{
    if (inplace_len > 0)
        memcpy(inplace_at, inplace_from, inplace_len);
    return 1;
}

/* The bytes of data in COUNT of VTYPE (its size, not its span), which
 * MPI requires to match across the members of a collective: 0 for a bad
 * type or count, which the collective itself reports. */
static int64_t data_bytes(struct mana_crossing *c, int count, MPI_Datatype vtype)
{
    uint64_t rt;
    int size;
    if (((uint32_t)vtype & 0xc0000000u) == 0x40000000u)
        size = (int)(((uint32_t)vtype >> 8) & 0xff); /* an MPICH builtin: its size is in the handle */
    else if (vid_real(VID_DATATYPE, (int32_t)vtype, &rt) != 0 ||
             LOWER(c, MPI_Type_size((MPI_Datatype)rt, &size)) != MPI_SUCCESS)
        return 0;
    return count > 0 && size > 0 ? (int64_t)count * size : 0;
}

int mana_inplace_large(struct mana_crossing *c, int count, MPI_Datatype vtype)
{
    return data_bytes(c, count, vtype) > INPLACE_SAVE_MAX;
}

int mana_ghost_large(struct mana_crossing *c, MPI_Comm vcomm, const struct mana_ghost_size *g)
{
    const struct mana_ckpt_sync *s = sync_state();
    uint32_t i = s->last_gate;
    /* Not in a callback inside MPI (no gate, no ghost), nor on an
     * intercommunicator, whose barrier does not wait for the members of
     * a rank's own group (ghosts are never kept there). */
    if (c->nested || i >= s->ncomms || s->comms[i].vcomm != (int32_t)vcomm || members[i].remote != NULL)
        return 0;
    const struct comm_members *m = &members[i];
    int at_root = g->root >= 0 && m->self == g->root;
    int64_t block = at_root ? data_bytes(c, g->root_count, g->root_type) : data_bytes(c, g->count, g->type);
    int64_t times = g->times + (g->plus_members ? m->nlocal : 0);
    return block > 0 && block > INPLACE_SAVE_MAX / times;
}

int mana_coll_arrival(struct mana_crossing *c, uint64_t rcomm)
{
    MPI_Request req;
    int rc = LOWER(c, MPI_Ibarrier((MPI_Comm)rcomm, &req));
    return rc == MPI_SUCCESS ? mana_wait_collective(c, &req, 1) : rc;
}

/* After the barrier of a blocking call: every participant has entered
 * it, but some may have paused before seeing it complete; the blocking
 * call would wait for them with the lock held, and their checkpoint
 * thread would wait for this one. So while a checkpoint is being agreed,
 * wait until the agreement finds every rank out of collectives or here
 * (blocking_go), and use that grant up. */
static int await_blocking_go(struct mana_crossing *c, int rc)
{
    struct mana_ckpt_sync *s = sync_state();
    if (s->concurrent_calls) {
        /* The call runs outside the lock (mana_blocking_begin); MPI_Finalize
         * keeps it, and waits in mana_finalize_begin instead. */
        atomic_store(&s->in_collective, 0);
        return rc;
    }
    while (rc == MPI_SUCCESS && atomic_load(&s->pending) && !atomic_load(&s->blocking_go)) {
        atomic_store(&s->in_collective, 2);
        pause_for_checkpoint(c);
    }
    atomic_store(&s->blocking_go, 0);
    atomic_store(&s->in_collective, 0);
    return rc;
}

void mana_blocking_begin(struct mana_crossing *c)
{
    struct mana_ckpt_sync *s = sync_state();
    if (c->nested || !s->concurrent_calls)
        return;
    atomic_store(&s->in_collective, 3);
    mana_cross_unlock(c);
}

void mana_blocking_end(struct mana_crossing *c)
{
    struct mana_ckpt_sync *s = sync_state();
    if (c->nested || !s->concurrent_calls)
        return;
    mana_cross_lock(c, "MPI");
    atomic_store(&s->in_collective, 0);
}

int mana_coll_barrier(struct mana_crossing *c, MPI_Comm vcomm)
{
    int rc;
    do {
        uint64_t rcomm;
        if (vid_real(VID_COMM, (int32_t)vcomm, &rcomm) != 0)
            return MPI_SUCCESS; /* a bad communicator: the call itself reports it */
        MPI_Request req;
        rc = LOWER(c, MPI_Ibarrier((MPI_Comm)rcomm, &req));
        if (rc != MPI_SUCCESS || c->nested)
            return rc == MPI_SUCCESS ? LOWER(c, MPI_Wait(&req, MPI_STATUS_IGNORE)) : rc;
        /* A barrier needs no input, so it can always be posted again: a
         * checkpoint may take this rank waiting in it while another
         * member has not arrived. */
        rc = mana_wait_collective(c, &req, 1);
    } while (rc == MANA_COLL_REPOST);
    return await_blocking_go(c, rc);
}


/* MANA's barriers over participants that are not one communicator's
 * members (MPI_Comm_create_group, MPI_Intercomm_create) are trees of
 * zero-byte messages on the private communicator: a participant waits
 * for its children's ARRIVED, sends its own to its parent and waits for
 * the RELEASE, then releases its children with synchronous sends.
 *
 * A checkpoint does not wait for a participant that has not arrived:
 * until its release, a participant waits in in_collective 5, which holds
 * no checkpoint up, and a restart (whose MPI knows none of the messages)
 * has it start again. Releasing its children is in_collective 1 and
 * must complete first; its synchronous sends complete only once each
 * child has received the release, so a checkpoint finds, below each
 * parent, every child released or none. One that finds this
 * participant's release received (mana_tree_barrier_settle, from the
 * checkpoint thread) has it go on after a restart, by collecting its
 * children again (none was released: they start again) and releasing
 * them. */
#define TREE_AGAIN (-1001)
static struct {
    int waiting;         /* for the release, in RELEASE */
    MPI_Request release; /* MPI's receive of it */
    int released;        /* a checkpoint found it received */
} tree_wait = {0, MPI_REQUEST_NULL, 0};

void mana_tree_barrier_settle(void)
{
    int flag = 0;
    MPI_Status st;
    tree_wait.released = tree_wait.waiting &&
                         mana_lower->mpi.MPI_Request_get_status(tree_wait.release, &flag, &st) == MPI_SUCCESS &&
                         flag;
}

/* Completes the N requests REAL of a tree barrier through the test loop,
 * in in_collective AS (5 or 1): MPI_SUCCESS, an MPI error, or TREE_AGAIN
 * after a restart. */
static int tree_requests(struct mana_crossing *c, int n, MPI_Request *real, uint32_t as)
{
    struct mana_ckpt_sync *s = sync_state();
    uint64_t restarts = atomic_load(&s->restarts);
    int rc, flag = 0;
    atomic_store(&s->in_collective, as);
    for (;;) {
        int tests = 0;
        mana_cross_to_lower(c);
        do {
            rc = mana_lower->mpi.MPI_Testall(n, real, &flag, MPI_STATUSES_IGNORE);
        } while (rc == MPI_SUCCESS && !flag && keep_testing(s, &tests));
        mana_cross_to_upper(c);
        if (rc != MPI_SUCCESS || flag)
            break;
        pause_for_checkpoint(c);
        if (atomic_load(&s->restarts) != restarts) {
            rc = TREE_AGAIN;
            break;
        }
    }
    atomic_store(&s->in_collective, 0);
    return rc;
}

/* The tree barrier of this participant: PARENT (a world rank, -1 at the
 * root) and its NCHILD children CHILD (world ranks). */
static int tree_barrier(struct mana_crossing *c, int parent, int nchild, const int32_t *child)
{
    static char none;
    MPI_Request *req = malloc((size_t)(nchild + 2) * sizeof *req);
    if (req == NULL)
        return MPI_ERR_NO_MEM;
    int released = 0, rc;
    do {
        MPI_Comm pc = (MPI_Comm)sync_state()->private_comm; /* a restart makes another */
        rc = MPI_SUCCESS;
        for (int i = 0; i < nchild && rc == MPI_SUCCESS; i++)
            rc = LOWER(c, MPI_Irecv(&none, 0, MPI_BYTE, child[i], TAG_ARRIVED, pc, &req[i]));
        if (rc == MPI_SUCCESS)
            rc = tree_requests(c, nchild, req, 5);
        if (rc == MPI_SUCCESS && parent >= 0 && !released) {
            rc = LOWER(c, MPI_Isend(&none, 0, MPI_BYTE, parent, TAG_ARRIVED, pc, &req[0]));
            if (rc == MPI_SUCCESS)
                rc = LOWER(c, MPI_Irecv(&none, 0, MPI_BYTE, parent, TAG_RELEASE, pc, &req[1]));
            if (rc == MPI_SUCCESS) {
                tree_wait.release = req[1];
                tree_wait.released = 0;
                tree_wait.waiting = 1;
                rc = tree_requests(c, 2, req, 5);
                released = rc == TREE_AGAIN && tree_wait.released;
                tree_wait.waiting = 0;
            }
        }
        if (rc == MPI_SUCCESS) {
            for (int i = 0; i < nchild && rc == MPI_SUCCESS; i++)
                rc = LOWER(c, MPI_Issend(&none, 0, MPI_BYTE, child[i], TAG_RELEASE, pc, &req[i]));
            if (rc == MPI_SUCCESS)
                rc = tree_requests(c, nchild, req, 1);
            /* No checkpoint completes while a release is under way. */
            rc = rc == TREE_AGAIN ? MPI_ERR_INTERN : rc;
        }
    } while (rc == TREE_AGAIN);
    free(req);
    return rc;
}

int mana_group_barrier(struct mana_crossing *c, MPI_Group vgroup)
{
    struct mana_ckpt_sync *s = sync_state();
    uint64_t rgroup;
    if (c->nested || vid_real(VID_GROUP, (int32_t)vgroup, &rgroup) != 0)
        return MPI_SUCCESS; /* a bad group: the call itself reports it */
    int n = 0, me = -1;
    int32_t *world = world_ranks(c, (MPI_Group)rgroup, &n);
    if (world == NULL)
        return MPI_ERR_NO_MEM;
    for (int i = 0; i < n; i++)
        if (world[i] == s->world_rank)
            me = i;
    /* The group's first member is the root, the others its children. */
    int rc = me < 0 ? MPI_SUCCESS : me == 0 ? tree_barrier(c, -1, n - 1, world + 1) : tree_barrier(c, world[0], 0, NULL);
    free(world);
    return me < 0 ? MPI_SUCCESS : await_blocking_go(c, rc);
}

int mana_intercomm_barrier(struct mana_crossing *c, MPI_Comm vlocal, int local_leader, MPI_Comm vpeer,
                           int remote_leader)
{
    if (c->nested)
        return MPI_SUCCESS;
    int i = comm_index(c, vlocal);
    if (i < 0 || members[i].remote != NULL || local_leader < 0 || local_leader >= members[i].nlocal)
        return MPI_SUCCESS; /* a bad communicator or leader: the call itself reports it */
    const struct comm_members *m = &members[i];
    int32_t leader = m->local[local_leader];
    if (m->self != local_leader) /* a child of its leader */
        return await_blocking_go(c, tree_barrier(c, leader, 0, NULL));
    /* The leaders: the one of the lower world rank is the root, the
     * other its child; each has its own group's other members as
     * children. A leader with no valid peer (the call reports it) still
     * lets its own group go. */
    int other = world_rank_of(c, vpeer, remote_leader);
    int paired = other >= 0 && other != leader;
    int32_t *child = malloc(((size_t)m->nlocal + 1) * sizeof *child);
    if (child == NULL)
        return MPI_ERR_NO_MEM;
    int nchild = 0;
    for (int k = 0; k < m->nlocal; k++)
        if (k != local_leader)
            child[nchild++] = m->local[k];
    if (paired && leader < other)
        child[nchild++] = other;
    int rc = tree_barrier(c, paired && other < leader ? other : -1, nchild, child);
    free(child);
    return await_blocking_go(c, rc);
}

/* A send in the test loop. After a restart the request is gone, but the
 * checkpoint only happened once every message sent had been received,
 * so the send is complete. */
static int wait_send(struct mana_crossing *c, MPI_Request *req)
{
    struct mana_ckpt_sync *s = sync_state();
    uint64_t restarts = atomic_load(&s->restarts);
    int rc;
    if (c->nested)
        return LOWER(c, MPI_Wait(req, MPI_STATUS_IGNORE));
    while (!test_until(c, req, MPI_STATUS_IGNORE, &rc)) {
        pause_for_checkpoint(c);
        if (atomic_load(&s->restarts) != restarts)
            return MPI_SUCCESS;
    }
    return rc;
}

static int post_send(struct mana_crossing *c, int mode, const void *buf, int count, MPI_Datatype type, int dest,
                     int tag, MPI_Comm comm, MPI_Request *req)
{
    uint64_t rt, rcomm;
    if (vid_real(VID_DATATYPE, (int32_t)type, &rt) != 0)
        rt = mana_bad_handle(VID_DATATYPE, (int32_t)type, "MPI_Send");
    if (vid_real(VID_COMM, (int32_t)comm, &rcomm) != 0)
        rcomm = mana_bad_handle(VID_COMM, (int32_t)comm, "MPI_Send");
    MPI_Datatype t = (MPI_Datatype)rt;
    MPI_Comm cm = (MPI_Comm)rcomm;
    int rc;
    switch (mode) {
    case 1: rc = LOWER(c, MPI_Issend(buf, count, t, dest, tag, cm, req)); break;
    case 2: rc = LOWER(c, MPI_Ibsend(buf, count, t, dest, tag, cm, req)); break;
    case 3: rc = LOWER(c, MPI_Irsend(buf, count, t, dest, tag, cm, req)); break;
    default: rc = LOWER(c, MPI_Isend(buf, count, t, dest, tag, cm, req)); break;
    }
    if (rc == MPI_SUCCESS)
        mana_p2p_count_sent(c, comm, dest);
    return rc;
}

int mana_p2p_send(struct mana_crossing *c, int mode, const void *buf, int count, MPI_Datatype type, int dest, int tag,
                  MPI_Comm comm)
{
    MPI_Request req;
    int rc = post_send(c, mode, buf, count, type, dest, tag, comm, &req);
    return rc == MPI_SUCCESS ? wait_send(c, &req) : rc;
}

int mana_p2p_recv(struct mana_crossing *c, void *buf, int count, MPI_Datatype type, int source, int tag,
                  MPI_Comm comm, MPI_Status *status)
{
    MPI_Status local;
    MPI_Status *st = status == MPI_STATUS_IGNORE ? &local : status;
    for (;;) {
        /* A message a checkpoint drained comes before any MPI has. */
        int drc;
        if (mana_drained_recv(c, buf, count, type, source, tag, comm, status, &drc))
            return drc;
        /* Translated at every post: after a restart the real handles are
         * the new lower half's. */
        uint64_t rt, rcomm;
        if (vid_real(VID_DATATYPE, (int32_t)type, &rt) != 0)
            rt = mana_bad_handle(VID_DATATYPE, (int32_t)type, "MPI_Recv");
        if (vid_real(VID_COMM, (int32_t)comm, &rcomm) != 0)
            rcomm = mana_bad_handle(VID_COMM, (int32_t)comm, "MPI_Recv");
        MPI_Request req;
        int rc = LOWER(c, MPI_Irecv(buf, count, (MPI_Datatype)rt, source, tag, (MPI_Comm)rcomm, &req));
        if (rc != MPI_SUCCESS)
            return rc;
        if (c->nested) {
            rc = LOWER(c, MPI_Wait(&req, st));
        } else if (!test_until(c, &req, st, &rc)) {
            /* A checkpoint: take the receive back so no message can land
             * in it while the rank is stopped; post it again after. */
            int cancelled = 0;
            LOWER(c, MPI_Cancel(&req));
            rc = LOWER(c, MPI_Wait(&req, st));
            LOWER(c, MPI_Test_cancelled(st, &cancelled));
            if (cancelled) {
                pause_for_checkpoint(c);
                continue;
            }
        }
        if (rc == MPI_SUCCESS)
            mana_p2p_count_received(c, comm, st);
        return rc;
    }
}

int mana_p2p_sendrecv(struct mana_crossing *c, const void *sendbuf, int sendcount, MPI_Datatype sendtype, int dest,
                      int sendtag, void *recvbuf, int recvcount, MPI_Datatype recvtype, int source, int recvtag,
                      MPI_Comm comm, MPI_Status *status)
{
    MPI_Request sreq;
    int rc = post_send(c, 0, sendbuf, sendcount, sendtype, dest, sendtag, comm, &sreq);
    if (rc != MPI_SUCCESS)
        return rc;
    int rrc = mana_p2p_recv(c, recvbuf, recvcount, recvtype, source, recvtag, comm, status);
    rc = wait_send(c, &sreq);
    return rrc != MPI_SUCCESS ? rrc : rc;
}

/* Probe and Mprobe as Iprobe/Improbe loops (REAL_MESSAGE NULL: Probe).
 * ONCE: a single try (Improbe), *FLAG says whether it matched. A message
 * Mprobe matched is out of MPI's matching, so it is counted received
 * here: MPI_Mrecv/MPI_Imrecv name no communicator to count it by. */
static int probe_loop(struct mana_crossing *c, const char *function, int source, int tag, MPI_Comm comm, int once,
                      int *flag_out, MPI_Message *real_message, MPI_Status *status)
{
    struct mana_ckpt_sync *s = sync_state();
    MPI_Status own;
    MPI_Status *st = status == MPI_STATUS_IGNORE && real_message != NULL ? &own : status;
    for (;;) {
        /* Messages a checkpoint drained first; they were counted then. */
        if (real_message == NULL ? mana_drained_probe(c, source, tag, comm, status)
                                 : mana_drained_mprobe(c, source, tag, comm, real_message, status)) {
            if (flag_out != NULL)
                *flag_out = 1;
            return MPI_SUCCESS;
        }
        uint64_t rcomm;
        if (vid_real(VID_COMM, (int32_t)comm, &rcomm) != 0)
            rcomm = mana_bad_handle(VID_COMM, (int32_t)comm, function);
        int flag = 0, rc, tests = 0;
        mana_cross_to_lower(c);
        do {
            rc = real_message == NULL ? mana_lower->mpi.MPI_Iprobe(source, tag, (MPI_Comm)rcomm, &flag, st)
                                      : mana_lower->mpi.MPI_Improbe(source, tag, (MPI_Comm)rcomm, &flag,
                                                                   real_message, st);
        } while (!once && rc == MPI_SUCCESS && !flag && (c->nested || keep_testing(s, &tests)));
        mana_cross_to_upper(c);
        if (rc == MPI_SUCCESS && flag && real_message != NULL) {
            mana_p2p_count_received(c, comm, st);
            mana_matched_note(c, *real_message, comm, st);
        }
        if (once && flag_out != NULL)
            *flag_out = flag;
        if (rc != MPI_SUCCESS || flag || once)
            return rc;
        pause_for_checkpoint(c);
    }
}

int mana_p2p_probe(struct mana_crossing *c, int source, int tag, MPI_Comm comm, MPI_Status *status)
{
    return probe_loop(c, "MPI_Probe", source, tag, comm, 0, NULL, NULL, status);
}

int mana_p2p_mprobe(struct mana_crossing *c, int source, int tag, MPI_Comm comm, MPI_Message *real_message,
                    MPI_Status *status)
{
    return probe_loop(c, "MPI_Mprobe", source, tag, comm, 0, NULL, real_message, status);
}

int mana_p2p_improbe(struct mana_crossing *c, int source, int tag, MPI_Comm comm, int *flag,
                     MPI_Message *real_message, MPI_Status *status)
{
    return probe_loop(c, "MPI_Improbe", source, tag, comm, 1, flag, real_message, status);
}

int mana_p2p_sendrecv_replace(struct mana_crossing *c, void *buf, int count, MPI_Datatype type, int dest,
                              int sendtag, int source, int recvtag, MPI_Comm comm, MPI_Status *status)
{
    /* The send must read BUF before the receive writes it: it sends a
     * packed copy, as MPI's own Sendrecv_replace does (a packed message
     * matches a receive of the same type signature), in a test loop. */
    uint64_t rtype, rcomm;
    if (vid_real(VID_DATATYPE, (int32_t)type, &rtype) != 0)
        rtype = mana_bad_handle(VID_DATATYPE, (int32_t)type, "MPI_Sendrecv_replace");
    if (vid_real(VID_COMM, (int32_t)comm, &rcomm) != 0)
        rcomm = mana_bad_handle(VID_COMM, (int32_t)comm, "MPI_Sendrecv_replace");
    int size = 0, used = 0;
    mana_cross_to_lower(c);
    int rc = mana_lower->mpi.MPI_Pack_size(count, (MPI_Datatype)rtype, (MPI_Comm)rcomm, &size);
    mana_cross_to_upper(c);
    void *packed = rc == MPI_SUCCESS ? malloc(size > 0 ? (size_t)size : 1) : NULL;
    if (rc == MPI_SUCCESS && packed == NULL)
        rc = MPI_ERR_NO_MEM;
    if (rc == MPI_SUCCESS) {
        mana_cross_to_lower(c);
        rc = mana_lower->mpi.MPI_Pack(buf, count, (MPI_Datatype)rtype, packed, size, &used, (MPI_Comm)rcomm);
        mana_cross_to_upper(c);
    }
    if (rc == MPI_SUCCESS)
        rc = mana_p2p_sendrecv(c, packed, used, MPI_PACKED, dest, sendtag, buf, count, type, source, recvtag, comm,
                               status);
    free(packed);
    return rc;
}

void mana_p2p_count_sent(struct mana_crossing *c, MPI_Comm vcomm, int dest)
{
    struct mana_ckpt_sync *s = sync_state();
    int w = world_rank_of(c, vcomm, dest);
    if (w >= 0 && w < s->world_size && s->sent != NULL)
        s->sent[w]++;
}

void mana_p2p_count_received(struct mana_crossing *c, MPI_Comm vcomm, const MPI_Status *status)
{
    struct mana_ckpt_sync *s = sync_state();
    int w = world_rank_of(c, vcomm, status->MPI_SOURCE);
    if (w >= 0 && w < s->world_size && s->received != NULL)
        s->received[w]++;
}

static void count_one_completed(struct mana_crossing *c, MPI_Request app, const MPI_Status *st)
{
    if (app == MPI_REQUEST_NULL)
        return;
    struct mana_request_info *d = mana_request_info_get((int32_t)app);
    if (d == NULL || !d->active || d->counted || (d->kind != MANA_REQ_RECV && d->kind != MANA_REQ_SENDRECV))
        return;
    int cancelled = 0;
    LOWER(c, MPI_Test_cancelled(st, &cancelled));
    if (!cancelled)
        mana_p2p_count_received(c, d->comm, st);
}

void mana_p2p_count_completed(struct mana_crossing *c, const MPI_Request *app, int n, int all, const int *idx,
                              int n_idx, const MPI_Status *statuses)
{
    if (all) {
        for (int i = 0; i < n; i++)
            count_one_completed(c, app[i], &statuses[i]);
        return;
    }
    for (int k = 0; idx != NULL && k < n_idx; k++)
        if (idx[k] >= 0 && idx[k] < n)
            count_one_completed(c, app[idx[k]], &statuses[k]);
}

void mana_p2p_count_started(struct mana_crossing *c, const MPI_Request *app, int n)
{
    for (int i = 0; i < n; i++) {
        struct mana_request_info *d = mana_request_info_get((int32_t)app[i]);
        if (d != NULL && d->kind != MANA_REQ_RECV && d->kind != MANA_REQ_MRECV && d->kind != MANA_REQ_COLLECTIVE &&
            d->kind != MANA_REQ_RMA)
            mana_p2p_count_sent(c, d->comm, d->dest);
    }
}

/* After a pause the application's requests may have other real handles:
 * a checkpoint took a receive back and posted it again, or a restart
 * made everything anew. */
static void requests_again(const MPI_Request *app, MPI_Request *real, int n)
{
    for (int i = 0; app != NULL && i < n; i++) {
        uint64_t r;
        if (app[i] != MPI_REQUEST_NULL && vid_real(VID_REQUEST, (int32_t)app[i], &r) == 0)
            real[i] = (MPI_Request)r;
    }
}

/* The Wait family: the application's requests stay pending across a
 * pause (a checkpoint drains them: ckpt_drain.h). */
#define WAIT_LOOP(c, app, real, n, test_call, done)                                                                \
    do {                                                                                                           \
        struct mana_ckpt_sync *s_ = sync_state();                                                                  \
        for (;;) {                                                                                                 \
            int tests_ = 0;                                                                                        \
            mana_cross_to_lower(c);                                                                                \
            do {                                                                                                   \
                rc = test_call;                                                                                    \
            } while (rc == MPI_SUCCESS && !(done) && ((c)->nested || keep_testing(s_, &tests_)));                  \
            mana_cross_to_upper(c);                                                                                \
            if (rc != MPI_SUCCESS || (done))                                                                       \
                return rc;                                                                                         \
            pause_for_checkpoint(c);                                                                               \
            requests_again(app, real, n);                                                                          \
        }                                                                                                          \
    } while (0)

static int wait_all_loop(struct mana_crossing *c, int n, const MPI_Request *app, MPI_Request *real,
                         MPI_Status *statuses)
{
    int rc, flag = 0;
    WAIT_LOOP(c, app, real, n, mana_lower->mpi.MPI_Testall(n, real, &flag, statuses), flag);
}

/* MPI_Testall one request at a time (DONE: those complete already).
 * Lower %fs: memory and MPI only. */
static int test_each(int n, MPI_Request *real, int *flag, MPI_Status *statuses, unsigned char *done)
{
    int all = 1;
    for (int i = 0; i < n; i++) {
        if (done[i])
            continue;
        int f = 0, rc = mana_lower->mpi.MPI_Test(&real[i], &f, &statuses[i]);
        if (rc != MPI_SUCCESS)
            return rc;
        done[i] = (unsigned char)f;
        all &= f;
    }
    *flag = all;
    return MPI_SUCCESS;
}

static int wait_each_loop(struct mana_crossing *c, int n, const MPI_Request *app, MPI_Request *real,
                          MPI_Status *statuses, unsigned char *done)
{
    int rc, flag = 0;
    WAIT_LOOP(c, app, real, n, test_each(n, real, &flag, statuses, done), flag);
}

static int persistent_collective(MPI_Request vrequest)
{
    const struct mana_request_info *d = mana_request_info_get((int32_t)vrequest);
    return d != NULL && d->persistent && d->kind == MANA_REQ_COLLECTIVE;
}

int mana_wait_all(struct mana_crossing *c, int n, const MPI_Request *app, MPI_Request *real, MPI_Status *statuses)
{
    /* MPICH 4.0 leaves the error field of a persistent collective's
     * status unset (0x41414141 in our runs), and MPI_Testall takes it for
     * an error (MPI_ERR_IN_STATUS, fatal by default) where the
     * application's own MPI_Wait(all) did not: with one among them, the
     * requests are tested one by one, and that field is cleared. */
    int persistent = 0;
    for (int i = 0; app != NULL && i < n && !persistent; i++)
        persistent = persistent_collective(app[i]);
    if (!persistent)
        return wait_all_loop(c, n, app, real, statuses);
    unsigned char *done = calloc((size_t)n, 1);
    if (done == NULL)
        return MPI_ERR_NO_MEM;
    int rc = wait_each_loop(c, n, app, real, statuses, done);
    free(done);
    for (int i = 0; rc == MPI_SUCCESS && i < n; i++)
        if (persistent_collective(app[i]))
            statuses[i].MPI_ERROR = MPI_SUCCESS;
    return rc;
}

int mana_wait_any(struct mana_crossing *c, int n, const MPI_Request *app, MPI_Request *real, int *index,
                  MPI_Status *status)
{
    int rc, flag = 0;
    WAIT_LOOP(c, app, real, n, mana_lower->mpi.MPI_Testany(n, real, index, &flag, status), flag);
}

int mana_wait_some(struct mana_crossing *c, int n, const MPI_Request *app, MPI_Request *real, int *outcount,
                   int *indices, MPI_Status *statuses)
{
    int rc;
    *outcount = 0;
    WAIT_LOOP(c, app, real, n, mana_lower->mpi.MPI_Testsome(n, real, outcount, indices, statuses), *outcount != 0);
}

MPI_Status *mana_status_scratch(int n)
{
    static MPI_Status none;
    if (n <= 0)
        return &none;
    if (n > scratch_n) {
        MPI_Status *s = realloc(scratch, (size_t)n * sizeof *s);
        if (s == NULL)
            return NULL;
        scratch = s;
        scratch_n = n;
    }
    return scratch;
}

void mana_ckpt_after_restart(struct mana_crossing *c)
{
    struct mana_ckpt_sync *s = sync_state();
    atomic_store(&s->replay_due, 0);
    mana_fs = mana_lower->fs_method; /* the new node's way of switching %fs */
    mana_signals_after_restart();
    if (c->nested)
        return;
    mana_cross_unlock(c);
    char err[2048];
    if (mana_mpi_replay(err, sizeof err) != 0) {
        fprintf(stderr, "MANA: the restarted rank cannot rebuild its MPI objects: %s\n", err);
        fflush(stderr);
        mana_wrfsbase(&mana_fs, mana_lower->lower_fs);
        mana_lower->lower_exit(1);
    }
    mana_cross_lock(c, "MPI");
    mana_drain_after_restart(c);
}

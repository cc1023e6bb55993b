#define _GNU_SOURCE
#include "ckpt_agree.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gap_rule.h"
#include "mana/lock_word.h"

/* Seconds of rounds before giving up. Each rank says whether its own
 * clock has passed it, and the sum decides, so every rank gives up in the
 * same round (a count of rounds would stretch with the load: a round
 * takes far longer than its pause on a busy node). */
#define AGREE_LIMIT_S 60

static double seconds_since(const struct timespec *t0)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)(now.tv_sec - t0->tv_sec) + (double)(now.tv_nsec - t0->tv_nsec) / 1e9;
}

static void next_round(struct mana_ckpt_sync *s)
{
    atomic_fetch_add(&s->epoch, 1);
    mana_futex((_Atomic int *)&s->epoch, FUTEX_WAKE_PRIVATE, INT_MAX);
}

/* The lower lock, marked as the checkpoint thread's: user callbacks MPI
 * runs on this thread meanwhile borrow the application's thread pointer
 * (crossing.h, mana_callback_enter) and call MPI as nested calls. */
static void take_lock(struct mana_call_table *t)
{
    mana_lock_word_acquire(t->upper_lock_word);
    atomic_store(&t->sync.held_by_ckpt, 1);
}

static void drop_lock(struct mana_call_table *t)
{
    atomic_store(&t->sync.held_by_ckpt, 0);
    mana_lock_word_release(t->upper_lock_word);
}

void ckpt_agree_end(struct mana_call_table *t)
{
    struct mana_ckpt_sync *s = &t->sync;
    /* Receives a drain took back are posted again before the application
     * can call MPI (the lock is still this thread's). */
    if (s->drain_resume != NULL)
        s->drain_resume();
    atomic_store(&s->blocking_go, 0);
    atomic_store(&s->pending, 0);
    atomic_store(&s->targets_valid, 0);
    next_round(s);
    drop_lock(t);
}

int ckpt_accept(struct mana_call_table *t)
{
    struct mana_ckpt_sync *s = &t->sync;
    /* pending first, finalizing after: MPI_Finalize reads them the other
     * way round (mana_finalize_begin), so one of the two sees the other. */
    atomic_store(&s->pending, 1);
    for (;;) {
        if (atomic_load(&s->finalizing))
            break;
        int expected = 0;
        if (atomic_compare_exchange_strong(t->upper_lock_word, &expected, 1)) {
            int finishing = atomic_load(&s->finalizing);
            mana_lock_word_release(t->upper_lock_word);
            if (!finishing)
                return 0;
            break;
        }
        struct timespec pause = {0, 1000 * 1000};
        nanosleep(&pause, NULL);
    }
    atomic_store(&s->pending, 0);
    next_round(s);
    return -1;
}

void ckpt_agree_cancel(struct mana_call_table *t)
{
    atomic_store(&t->sync.blocking_go, 0);
    atomic_store(&t->sync.pending, 0);
    next_round(&t->sync);
}

struct gid_word {
    uint64_t gid, word;
};

/* What every rank said in a round: its in_collective and inside_gid,
 * then its (gid, word) pairs; and each rank's pairs sorted by gid, so
 * that a program that has made many communicators (each keeps an entry)
 * costs a search per lookup, not a scan. */
struct round_view {
    const uint64_t *all;
    const int *counts, *displs; /* per rank, in uint64_t */
    const struct gid_word *sorted;
    const size_t *first, *npairs; /* per rank, in sorted */
    int nranks;
};

enum { HEADER = 2 };

static int by_gid(const void *a, const void *b)
{
    uint64_t x = ((const struct gid_word *)a)->gid, y = ((const struct gid_word *)b)->gid;
    return x < y ? -1 : x > y;
}

/* Fills V's sorted pairs; -1 without memory. */
static int sort_pairs(struct round_view *v, struct gid_word **sorted, size_t **first, size_t **npairs)
{
    size_t total = 0;
    for (int r = 0; r < v->nranks; r++)
        total += v->counts[r] > HEADER ? (size_t)(v->counts[r] - HEADER) / 2 : 0;
    *sorted = malloc((total + 1) * sizeof **sorted);
    *first = malloc((size_t)v->nranks * sizeof **first);
    *npairs = malloc((size_t)v->nranks * sizeof **npairs);
    if (*sorted == NULL || *first == NULL || *npairs == NULL)
        return -1;
    size_t at = 0;
    for (int r = 0; r < v->nranks; r++) {
        const uint64_t *p = v->all + v->displs[r];
        (*first)[r] = at;
        for (int k = HEADER; k + 1 < v->counts[r]; k += 2)
            (*sorted)[at++] = (struct gid_word){p[k], p[k + 1]};
        (*npairs)[r] = at - (*first)[r];
        qsort(*sorted + (*first)[r], (*npairs)[r], sizeof **sorted, by_gid);
    }
    v->sorted = *sorted;
    v->first = *first;
    v->npairs = *npairs;
    return 0;
}

/* World rank R's word on GID (gap_rule.h): 0 if it has no entry (never
 * used it). */
static uint64_t word_of(const struct round_view *v, int r, uint64_t gid)
{
    struct gid_word key = {gid, 0};
    const struct gid_word *hit = bsearch(&key, v->sorted + v->first[r], v->npairs[r], sizeof key, by_gid);
    return hit ? hit->word : 0;
}

static uint64_t count_of(const struct round_view *v, int r, uint64_t gid)
{
    return mana_gap_count(word_of(v, r, gid));
}

/* This rank's word on CC: the collective it waits inside (in_collective
 * 4) counts as its latest that can be posted again. */
static uint64_t my_word(const struct mana_ckpt_sync *s, const struct mana_comm_count *cc, uint32_t inside)
{
    uint64_t mask = cc->open_mask;
    if (inside == 4 && cc->gid == s->inside_gid)
        mask |= 1;
    return mana_gap_word(cc->count, mask);
}

/* Whether the members of comm CC may stay where they are although some
 * have entered collectives on it that the others have not (gap_rule.h):
 * the collectives it waits inside (in_collective 4 on this gid) and the
 * application's nonblocking ones still pending count in a member's
 * depth. A restart then posts them again where they were entered, in
 * their order, and the others enter them when they get there. */
static int gap_allowed(const struct round_view *v, const struct mana_comm_count *cc, uint64_t *floor)
{
    if (cc->members == NULL || cc->nmembers == 0)
        return 0;
    struct mana_gap_member *m = malloc(cc->nmembers * sizeof *m);
    if (m == NULL)
        return 0; /* then the ranks behind catch up */
    int ok = 1;
    for (uint32_t i = 0; i < cc->nmembers && ok; i++) {
        int r = cc->members[i];
        if (r < 0 || r >= v->nranks) {
            ok = 0;
            break;
        }
        const uint64_t *h = v->all + v->displs[r];
        m[i] = (struct mana_gap_member){.word = word_of(v, r, cc->gid), .inside_here = h[1] == cc->gid && h[0] != 0};
    }
    ok = ok && mana_gap_allowed(m, cc->nmembers, floor);
    free(m);
    return ok;
}

/* Each communicator's target: the highest count any member reached.
 * Returns 1 when this rank must still move: behind on a communicator
 * whose gap is not allowed, or inside a collective that must complete
 * first. */
static int agree_targets(struct mana_ckpt_sync *s, MPI_Comm comm, int nranks, int *failed)
{
    int n2 = (int)s->ncomms * 2 + HEADER;
    uint64_t *mine = malloc(((size_t)n2 + 1) * sizeof *mine);
    int *counts = malloc((size_t)nranks * sizeof *counts), *displs = malloc((size_t)nranks * sizeof *displs);
    uint64_t *all = NULL;
    struct gid_word *sorted = NULL;
    size_t *first = NULL, *npairs = NULL;
    int must_move = 0;
    uint32_t inside = atomic_load(&s->in_collective);
    if (s->mark_open_collectives != NULL)
        s->mark_open_collectives();
    if (mine && counts && displs) {
        mine[0] = inside;
        mine[1] = inside == 4 ? s->inside_gid : 0;
        for (uint32_t i = 0; i < s->ncomms; i++) {
            mine[HEADER + 2 * i] = s->comms[i].gid;
            mine[HEADER + 2 * i + 1] = my_word(s, &s->comms[i], inside);
        }
        MPI_Allgather(&n2, 1, MPI_INT, counts, 1, MPI_INT, comm);
        int total = 0;
        for (int r = 0; r < nranks; r++) {
            displs[r] = total;
            total += counts[r];
        }
        all = malloc(((size_t)total + 1) * sizeof *all);
        if (all == NULL)
            *failed = 1;
        /* Everyone takes part even without memory, so no rank waits. */
        MPI_Allgatherv(mine, n2, MPI_UINT64_T, all ? all : mine, counts, displs, MPI_UINT64_T, comm);
        struct round_view v = {.all = all, .counts = counts, .displs = displs, .nranks = nranks};
        if (all != NULL && sort_pairs(&v, &sorted, &first, &npairs) != 0)
            *failed = 1;
        for (uint32_t i = 0; all && v.sorted && i < s->ncomms; i++) {
            uint64_t target = s->comms[i].count;
            for (int r = 0; r < nranks; r++) {
                uint64_t n = count_of(&v, r, s->comms[i].gid);
                target = n > target ? n : target;
            }
            s->comms[i].target = target;
            int at_gap = s->comms[i].count < target || s->comms[i].open_mask != 0 ||
                         (inside == 4 && s->comms[i].gid == s->inside_gid);
            /* The drain leaves an open collective pending only where the
             * gap is allowed; elsewhere it waits for it to complete. */
            s->comms[i].gap = (uint8_t)(at_gap && gap_allowed(&v, &s->comms[i], &s->comms[i].gap_floor));
            if (s->comms[i].count < target && !s->comms[i].gap)
                must_move = 1;
            if (inside == 4 && s->comms[i].gid == s->inside_gid && !s->comms[i].gap)
                must_move = 1; /* everyone entered it (it must complete), or a member saw it complete */
        }
    } else {
        *failed = 1;
    }
    free(mine);
    free(counts);
    free(displs);
    free(all);
    free(sorted);
    free(first);
    free(npairs);
    atomic_store(&s->targets_valid, 1);
    return must_move;
}

/* Why the other ranks wait for this one in this round, or "". */
static void waiting_reason(const struct mana_ckpt_sync *s, int behind, uint32_t inside, char *why, size_t len)
{
    why[0] = '\0';
    if (inside == 1 || inside == 3 || (inside == 4 && behind)) {
        snprintf(why, len, "inside a collective that has not completed (waiting for its other members)");
        return;
    }
    if (inside == 2) {
        snprintf(why, len, "past the barrier of a communicator constructor, waiting to make the call");
        return;
    }
    for (uint32_t i = 0; behind && i < s->ncomms; i++)
        if (s->comms[i].count < s->comms[i].target) {
            snprintf(why, len,
                     "has entered %llu of the %llu collectives another rank entered on a communicator: it is "
                     "computing or in point-to-point calls until it gets there",
                     (unsigned long long)s->comms[i].count, (unsigned long long)s->comms[i].target);
            return;
        }
}

static void tell_waiting(ckpt_waiting_fn waiting, void *ctx, const char *why)
{
    if (waiting != NULL)
        waiting(ctx, why);
}

static int drain(struct mana_ckpt_sync *s, MPI_Comm comm, int nranks, ckpt_waiting_fn waiting, void *ctx, char *err,
                 size_t errlen)
{
    uint64_t *expected = calloc((size_t)nranks, sizeof *expected);
    uint64_t *zeros = calloc((size_t)nranks, sizeof *zeros);
    int broken = expected == NULL || zeros == NULL || s->sent == NULL || s->world_size != nranks ||
                 s->drain_pass == NULL;
    /* Everyone takes part even when broken, so no rank waits. */
    MPI_Alltoall(broken || s->sent == NULL ? zeros : s->sent, 1, MPI_UINT64_T, expected ? expected : zeros, 1,
                 MPI_UINT64_T, comm);
    if (!broken)
        s->drain_begin();
    struct timespec started;
    clock_gettime(CLOCK_MONOTONIC, &started);
    const char *a_function = NULL;
    int rc = -1;
    for (;;) {
        int no_memory = 0;
        uint64_t local[3] = {0, 0, 0}, global[3];
        if (!broken)
            local[0] = s->drain_pass(expected, &no_memory, &a_function);
        local[1] = (uint64_t)(broken || no_memory);
        local[2] = (uint64_t)(seconds_since(&started) >= AGREE_LIMIT_S);
        MPI_Allreduce(local, global, 3, MPI_UINT64_T, MPI_SUM, comm);
        if (global[1] != 0) {
            snprintf(err, errlen, "out of memory while draining the messages in flight");
            break;
        }
        if (global[0] == 0) {
            rc = 0;
            break;
        }
        if (local[0] != 0) {
            char why[256];
            snprintf(why, sizeof why, "draining: %llu requests or messages still pending (%s)",
                     (unsigned long long)local[0], a_function ? a_function : "messages sent to it not received");
            tell_waiting(waiting, ctx, why);
        } else {
            tell_waiting(waiting, ctx, "");
        }
        if (global[2] != 0) {
            snprintf(err, errlen,
                     "%llu requests or messages of the application stayed pending for %d s while the checkpoint "
                     "drained them (on this rank: %s); checkpoint again later",
                     (unsigned long long)global[0], AGREE_LIMIT_S,
                     local[0] == 0 ? "none" : a_function ? a_function : "messages sent to it not received");
            break;
        }
    }
    free(expected);
    free(zeros);
    const char *debug = getenv("MANA_DEBUG");
    if (debug != NULL && strstr(debug, "drain") != NULL) {
        int rank = -1;
        MPI_Comm_rank(comm, &rank);
        fprintf(stderr,
                "MANA: MANA_DEBUG=drain: rank %d: %s; %llu messages drained (%llu bytes), %llu requests completed, "
                "%llu receives taken back, %llu collectives left pending\n",
                rank, rc == 0 ? "drained" : "gave up", (unsigned long long)s->drained_messages,
                (unsigned long long)s->drained_bytes, (unsigned long long)s->requests_completed,
                (unsigned long long)s->receives_taken_back, (unsigned long long)s->collectives_left);
    }
    return rc;
}

int ckpt_agree(struct mana_call_table *t, MPI_Comm comm, ckpt_waiting_fn waiting, void *ctx, char *err,
               size_t errlen)
{
    struct mana_ckpt_sync *s = &t->sync;
    int nranks;
    MPI_Comm_size(comm, &nranks);
    atomic_store(&s->targets_valid, 0);
    atomic_store(&s->pending, 1);
    uint64_t global[4] = {0, 0, 0, 0};
    struct timespec started;
    clock_gettime(CLOCK_MONOTONIC, &started);

    for (int round = 0;; round++) {
        /* A rank let into a blocking call (blocking_go) must get there
         * before this thread takes the lock again: the other members are
         * inside that call already, holding their locks, so their
         * checkpoint threads would never join the next round. */
        while (atomic_load(&s->blocking_go) && atomic_load(&s->in_collective) == 2) {
            struct timespec pause = {0, 200 * 1000};
            nanosleep(&pause, NULL);
        }
        take_lock(t);
        if (round == 0) {
            /* Windows are not rebuilt at restart: refuse, every rank alike.
             * (Under the lock: MPI is called by one thread at a time.) */
            uint64_t windows = s->windows_open ? (uint64_t)s->windows_open() : 0, all_windows = 0;
            MPI_Allreduce(&windows, &all_windows, 1, MPI_UINT64_T, MPI_SUM, comm);
            if (all_windows != 0) {
                snprintf(err, errlen,
                         "the application has %llu one-sided windows open; this version cannot checkpoint while a "
                         "window exists (MPI_Win_free them first)",
                         (unsigned long long)all_windows);
                break;
            }
        }
        int failed = 0;
        int behind = agree_targets(s, comm, nranks, &failed);
        uint32_t inside = atomic_load(&s->in_collective);
        uint64_t local[4];
        local[0] = (uint64_t)(behind || inside == 1 || inside == 3);
        local[1] = (uint64_t)failed;
        local[2] = (uint64_t)(inside == 2);
        local[3] = (uint64_t)(seconds_since(&started) >= AGREE_LIMIT_S);
        MPI_Allreduce(local, global, 4, MPI_UINT64_T, MPI_SUM, comm);
        if (global[1] != 0) {
            snprintf(err, errlen, "out of memory while the ranks agreed on a consistent point");
            break;
        }
        char why[256];
        waiting_reason(s, behind, inside, why, sizeof why);
        tell_waiting(waiting, ctx, why);
        /* Every rank out of collectives at the agreed counts, or waiting
         * inside one a restart can post again (an allowed gap): what is
         * left is point-to-point traffic and pending requests. */
        if (global[0] == 0 && global[2] == 0) {
            int drained = drain(s, comm, nranks, waiting, ctx, err, errlen);
            tell_waiting(waiting, ctx, "");
            if (drained == 0)
                return 0;
            break;
        }
        /* Every rank is out of collectives or past the barrier of one with
         * no nonblocking form: those calls wait for nobody now. The grant
         * is for the call this rank waits in now; a barrier it enters later
         * needs a round of its own. */
        if (global[0] == 0 && global[2] != 0 && inside == 2)
            atomic_store(&s->blocking_go, 1);
        if (global[3] != 0) {
            snprintf(err, errlen,
                     "the ranks could not reach the same collective on every communicator within %d s (a rank "
                     "waits for something another rank does only after its next collective); checkpoint again "
                     "later",
                     AGREE_LIMIT_S);
            break;
        }
        next_round(s);
        drop_lock(t);
        struct timespec pause = {0, (long)(round < 20 ? 1 : round < 200 ? 5 : 20) * 1000 * 1000};
        nanosleep(&pause, NULL);
    }
    ckpt_agree_end(t);
    return -1;
}

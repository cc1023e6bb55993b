/* Replay of the record log on a fresh lower half: see mpi_replay.h. */
#include "mpi_replay.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mpi_idup.h"
#include "mpi_wrap.h"

const struct rl_log *mana_record_log(void)
{
    return mana_rl;
}

static const struct mana_replay_op *op_of(unsigned op)
{
    for (unsigned i = 0; i < mana_replay_op_count; i++)
        if (mana_replay_ops[i].op == op)
            return &mana_replay_ops[i];
    return NULL;
}

static void failf(struct mana_replay *x, const struct rl_record *r, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void failf(struct mana_replay *x, const struct rl_record *r, const char *fmt, ...)
{
    if (x->failed)
        return;
    x->failed = 1;
    if (!x->err || !x->errlen)
        return;
    const struct mana_replay_op *op = r ? op_of(r->op) : NULL;
    int n = snprintf(x->err, x->errlen, "replay of record %llu (%s): ", r ? (unsigned long long)r->seq : 0ULL,
                     op ? op->function : r ? rl_op_name(r->op) ? rl_op_name(r->op) : "unknown op" : "-");
    if (n < 0 || (size_t)n >= x->errlen)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(x->err + n, x->errlen - (size_t)n, fmt, ap);
    va_end(ap);
}

int mana_replay_fail(struct mana_replay *x, const struct rl_record *r, const char *why)
{
    failf(x, r, "%s", why);
    return -1;
}

int mana_replay_mpi_fail(struct mana_replay *x, const struct rl_record *r, int mpi_error)
{
    char msg[MPI_MAX_ERROR_STRING] = "";
    int len = 0;
    struct mana_crossing c = {.upper_fs = x->c.upper_fs, .nested = 1};
    mana_cross_to_lower(&c);
    mana_lower->mpi.MPI_Error_string(mpi_error, msg, &len);
    mana_cross_to_upper(&c);
    failf(x, r, "the lower half's MPI refused it (error %d: %s); the MPI library or the process count at restart "
                "may differ from the checkpointed run", mpi_error, msg);
    return -1;
}

static struct mana_replay_slot *slot_of(struct mana_replay *x, uint64_t seq)
{
    size_t lo = 0, hi = x->n_slots;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (x->slots[mid].seq == seq)
            return &x->slots[mid];
        if (x->slots[mid].seq < seq)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

static uint64_t resolve(struct mana_replay *x, const struct rl_record *r, int32_t vid, enum vid_kind kind)
{
    const uint64_t *seqs;
    size_t n = rl_links(x->log, r, &seqs);
    for (size_t k = 0; k < n; k++) {
        const struct rl_record *p = rl_find(x->log, seqs[k]);
        struct mana_replay_slot *s = slot_of(x, seqs[k]);
        if (!p || !s || !s->done)
            continue;
        for (unsigned i = 0; i < p->n_out; i++)
            if (p->out[i] == vid)
                return s->real[i];
    }
    uint64_t real;
    if (vid_is_predefined(kind, vid) && vid_lookup(kind, vid, &real) == 0)
        return real;
    failf(x, r, "it needs %s %#x, which no earlier record made (an object MANA does not replay)",
          vid_kind_name(kind), (unsigned)vid);
    return 0;
}

uint64_t mana_replay_dep(struct mana_replay *x, const struct rl_record *r, unsigned *d, enum vid_kind kind)
{
    if (*d >= r->n_dep) {
        failf(x, r, "it has %u dependencies, fewer than its function takes", r->n_dep);
        return 0;
    }
    return resolve(x, r, r->dep[(*d)++], kind);
}

void *mana_replay_deps(struct mana_replay *x, const struct rl_record *r, unsigned *d, enum vid_kind kind, int64_t n,
                       struct mana_blob_reader *b)
{
    (void)b;
    if (n <= 0)
        return NULL;
    if (x->n_arrays == sizeof x->arrays / sizeof x->arrays[0] || (uint64_t)n > r->n_dep) {
        failf(x, r, "its array of %lld handles does not match its dependencies", (long long)n);
        return NULL;
    }
    int32_t *a = malloc((size_t)n * sizeof *a);
    if (!a) {
        failf(x, r, "out of memory");
        return NULL;
    }
    x->arrays[x->n_arrays++] = a;
    for (int64_t i = 0; i < n; i++)
        a[i] = (int32_t)mana_replay_dep(x, r, d, kind);
    return a;
}

void mana_replay_arrays_done(struct mana_replay *x)
{
    for (unsigned i = 0; i < x->n_arrays; i++)
        free(x->arrays[i]);
    x->n_arrays = 0;
}

void mana_replay_out(struct mana_replay *x, const struct rl_record *r, unsigned i, enum vid_kind kind, uint64_t real)
{
    struct mana_replay_slot *s = &x->slots[x->cur];
    if (i >= r->n_out)
        return;
    s->real[i] = real;
    s->done = 1;
    /* A freed output's id may belong to another object by now. */
    if (!(r->out_freed & (1u << i)))
        vid_update_real(kind, r->out[i], real);
}

/* Frees, on the lower half, the object a freed record made again. */
static void free_again(struct mana_replay *x, const struct rl_record *r, const struct mana_replay_op *op)
{
    struct mana_replay_slot *slot = slot_of(x, r->seq);
    if (slot->freed_again)
        return;
    slot->freed_again = 1;
    uint64_t real = slot->real[0];
    MPI_Comm comm = (MPI_Comm)real;
    MPI_Group group = (MPI_Group)real;
    MPI_Datatype type = (MPI_Datatype)real;
    MPI_Op mop = (MPI_Op)real;
    MPI_Errhandler eh = (MPI_Errhandler)real;
    MPI_Info info = (MPI_Info)real;
    MPI_Request req = (MPI_Request)real;
    int keyval = (int)real;
    const struct mana_mpi_table *t = &mana_lower->mpi;
    mana_cross_to_lower(&x->c);
    switch (op->kind) {
    case VID_COMM:
        t->MPI_Comm_free(&comm);
        break;
    case VID_GROUP:
        t->MPI_Group_free(&group);
        break;
    case VID_DATATYPE:
        t->MPI_Type_free(&type);
        break;
    case VID_OP:
        t->MPI_Op_free(&mop);
        break;
    case VID_ERRHANDLER:
        t->MPI_Errhandler_free(&eh);
        break;
    case VID_INFO:
        t->MPI_Info_free(&info);
        break;
    case VID_REQUEST:
        t->MPI_Request_free(&req);
        break;
    case VID_KEYVAL:
        if (r->op == RL_TYPE_CREATE_KEYVAL)
            t->MPI_Type_free_keyval(&keyval);
        else if (r->op == RL_WIN_CREATE_KEYVAL)
            t->MPI_Win_free_keyval(&keyval);
        else
            t->MPI_Comm_free_keyval(&keyval);
        break;
    default:
        break;
    }
    mana_cross_to_upper(&x->c);
}

/* A communicator the application has freed is freed again right after
 * the last record made from it (its latest dependant), not at the end:
 * MPI has a few thousand communicators at most (MPICH: 2048 context ids),
 * and a program that makes and frees them in a loop leaves the record of
 * each (record_log.c, collective_constructor). DUE[j] lists, by
 * NEXT_DUE, the records to free after record j, latest first. Other
 * kinds wait for the end, as they always did. */
static int plan_early_frees(struct mana_replay *x, const struct rl_record **recs, long *due, long *next_due)
{
    size_t *last_use = malloc((x->n_slots ? x->n_slots : 1) * sizeof *last_use);
    if (!last_use)
        return -1;
    for (size_t i = 0; i < x->n_slots; i++) {
        last_use[i] = i;
        due[i] = -1;
    }
    for (size_t j = 0; j < x->n_slots; j++) {
        const uint64_t *seqs;
        size_t n = rl_links(x->log, recs[j], &seqs);
        for (size_t k = 0; k < n; k++) {
            struct mana_replay_slot *s = slot_of(x, seqs[k]);
            if (s)
                last_use[s - x->slots] = j;
        }
    }
    for (size_t i = 0; i < x->n_slots; i++) {
        const struct mana_replay_op *op = op_of(recs[i]->op);
        next_due[i] = -1;
        if (op && op->kind == VID_COMM && !op->mutator && (recs[i]->flags & RL_REC_FREED)) {
            next_due[i] = due[last_use[i]];
            due[last_use[i]] = (long)i;
        }
    }
    free(last_use);
    return 0;
}

int mana_mpi_replay(char *err, size_t errlen)
{
    struct mana_replay x;
    memset(&x, 0, sizeof x);
    x.log = mana_rl;
    x.err = err;
    x.errlen = errlen;
    if (err && errlen)
        err[0] = '\0';
    size_t n = rl_count(x.log);
    const struct rl_record **recs = calloc(n ? n : 1, sizeof *recs);
    x.slots = calloc(n ? n : 1, sizeof *x.slots);
    long *due = malloc((n ? n : 1) * sizeof *due), *next_due = malloc((n ? n : 1) * sizeof *next_due);
    size_t cursor = 0;
    for (const struct rl_record *r; recs && x.slots && x.n_slots < n && (r = rl_iter_next(x.log, &cursor)) != NULL;) {
        recs[x.n_slots] = r;
        x.slots[x.n_slots++].seq = r->seq;
    }
    if (!recs || !x.slots || !due || !next_due || plan_early_frees(&x, recs, due, next_due) != 0) {
        free(recs);
        free(x.slots);
        free(due);
        free(next_due);
        failf(&x, NULL, "out of memory for %zu records", n);
        return -1;
    }
    /* MANA_DEBUG=replay-trace names each record as it is replayed. */
    const char *debug = getenv("MANA_DEBUG");
    int trace = debug && strstr(debug, "replay-trace");
    mana_cross_lock(&x.c, "mana_mpi_replay");
    mana_replaying = 1;
    for (x.cur = 0; x.cur < x.n_slots && !x.failed; x.cur++) {
        const struct rl_record *r = recs[x.cur];
        const struct mana_replay_op *op = op_of(r->op);
        if (!op) {
            failf(&x, r, "no replay exists for op code %u", r->op);
            break;
        }
        if ((r->op == RL_COMM_IDUP || r->op == RL_COMM_IDUP_WITH_INFO) && mana_idup_left_pending(r->out[0]))
            continue; /* posted again after the replay instead (mpi_idup.c) */
        if (trace)
            fprintf(stderr, "MANA: replay: record %llu %s\n", (unsigned long long)r->seq, op->function);
        op->replay(&x, r);
        mana_replay_arrays_done(&x);
        for (long i = due[x.cur]; i >= 0 && !x.failed; i = next_due[i])
            if (x.slots[i].done)
                free_again(&x, recs[i], op_of(recs[i]->op));
    }
    if (!x.failed)
        mana_keyval_proxies_replay(&x.c);
    /* Objects the application had freed: after everything made from them. */
    for (size_t i = x.n_slots; !x.failed && i-- > 0;) {
        const struct mana_replay_op *op = op_of(recs[i]->op);
        if ((recs[i]->flags & RL_REC_FREED) && !op->mutator)
            free_again(&x, recs[i], op);
    }
    mana_replaying = 0;
    mana_cross_unlock(&x.c);
    free(recs);
    free(x.slots);
    free(due);
    free(next_due);
    return x.failed ? -1 : 0;
}

/* The steps of the MPI wrappers that are the same for every function:
 * see mpi_wrap.h. */
#include "mpi_wrap.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ckpt_sync.h"
#include "crossing.h"

struct rl_log *mana_rl;
int mana_replaying;

int mana_mpi_state_init(void)
{
    if (mana_rl)
        return 0;
    if (vid_init() != 0 || (mana_rl = rl_create()) == NULL) {
        fprintf(stderr, "MANA: out of memory setting up the tables of MPI handles\n");
        return -1;
    }
    return 0;
}

/* libmana sets the tables up before the application's constructors run,
 * so that even a call before MPI_Init (MPI_T_init_thread) finds them. */
__attribute__((constructor(102))) static void mpi_state_start(void)
{
    mana_mpi_state_init();
}

static uint64_t null_real(enum vid_kind kind)
{
    static const int32_t nulls[VID_NKINDS] = {
        [VID_COMM] = MPI_COMM_NULL, [VID_GROUP] = MPI_GROUP_NULL, [VID_DATATYPE] = MPI_DATATYPE_NULL,
        [VID_OP] = MPI_OP_NULL, [VID_REQUEST] = MPI_REQUEST_NULL, [VID_ERRHANDLER] = MPI_ERRHANDLER_NULL,
        [VID_INFO] = MPI_INFO_NULL, [VID_KEYVAL] = MPI_KEYVAL_INVALID, [VID_WIN] = MPI_WIN_NULL,
        [VID_MESSAGE] = MPI_MESSAGE_NULL,
    };
    uint64_t real = (uint64_t)(uint32_t)nulls[kind];
    vid_lookup(kind, nulls[kind], &real);
    return real;
}

uint64_t mana_bad_handle(enum vid_kind kind, int32_t virt, const char *function)
{
    (void)virt;
    (void)function;
    return null_real(kind);
}

uint64_t mana_wrap_real_of_vid(enum vid_kind kind, int32_t virt)
{
    uint64_t real;
    return vid_real(kind, virt, &real) == 0 ? real : null_real(kind);
}

int32_t *mana_wrap_handles_in(enum vid_kind kind, const int32_t *v, int n, int32_t *small, const char *function)
{
    if (!v || n <= 0)
        return small ? small : NULL;
    int32_t *r = small && n <= MANA_WRAP_SMALL ? small : malloc((size_t)n * sizeof *r);
    if (!r)
        return NULL;
    for (int i = 0; i < n; i++) {
        uint64_t real;
        if (vid_real(kind, v[i], &real) != 0)
            real = mana_bad_handle(kind, v[i], function);
        r[i] = (int32_t)real;
    }
    return r;
}

void mana_wrap_handles_done(void *arr, void *small)
{
    if (arr != small)
        free(arr);
}

int mana_wrap_handles_live(enum vid_kind kind, const int32_t *v, int n)
{
    uint64_t real;
    for (int i = 0; v != NULL && i < n; i++)
        if (vid_real(kind, v[i], &real) != 0)
            return 0;
    return 1;
}

void mana_wrap_keep(struct mana_request_info *d, void *arr)
{
    if (!arr)
        return;
    if (!d->owned[0])
        d->owned[0] = arr;
    else if (!d->owned[1])
        d->owned[1] = arr;
    else
        free(arr); /* three arrays never happen: at most send and receive types */
}

int mana_wrap_peers(MPI_Comm real, int which)
{
    struct mana_crossing c = {.upper_fs = mana_rdfsbase(&mana_fs), .nested = 1};
    int n = 0, inter = 0, indeg = 0, outdeg = 0, weighted = 0, topo = MPI_UNDEFINED, rank = 0;
    mana_cross_to_lower(&c);
    if (which == MANA_PEERS_ALL) {
        if (mana_lower->mpi.MPI_Comm_test_inter(real, &inter) == MPI_SUCCESS)
            (inter ? mana_lower->mpi.MPI_Comm_remote_size : mana_lower->mpi.MPI_Comm_size)(real, &n);
    } else if (which == MANA_PEERS_CARTDIM) {
        mana_lower->mpi.MPI_Cartdim_get(real, &n);
    } else if (mana_lower->mpi.MPI_Topo_test(real, &topo) == MPI_SUCCESS) {
        /* Neighbourhood collectives: MPI-3.1 section 7.6. */
        if (topo == MPI_DIST_GRAPH) {
            mana_lower->mpi.MPI_Dist_graph_neighbors_count(real, &indeg, &outdeg, &weighted);
        } else if (topo == MPI_GRAPH) {
            mana_lower->mpi.MPI_Comm_rank(real, &rank);
            mana_lower->mpi.MPI_Graph_neighbors_count(real, rank, &indeg);
            outdeg = indeg;
        } else if (topo == MPI_CART) {
            mana_lower->mpi.MPI_Cartdim_get(real, &indeg);
            indeg *= 2;
            outdeg = indeg;
        }
        n = which == MANA_PEERS_IN ? indeg : outdeg;
    }
    mana_cross_to_upper(&c);
    return n;
}

int64_t mana_wrap_sum(const int *a, int64_t n)
{
    int64_t s = 0;
    for (int64_t i = 0; a && i < n; i++)
        s += a[i];
    return s;
}

int32_t *mana_wrap_deps(int32_t *small, int64_t n)
{
    if (n <= MANA_WRAP_SMALL)
        return small;
    return malloc((size_t)n * sizeof *small);
}

void mana_wrap_deps_done(int32_t *deps, int32_t *small)
{
    if (deps != small)
        free(deps);
}

/* The lower half's free of one object of KIND (the reference MPI handed
 * back along with an object that already has an id). */
static void drop_lower_reference(enum vid_kind kind, uint64_t real)
{
    struct mana_crossing c = {.upper_fs = mana_rdfsbase(&mana_fs), .nested = 1};
    MPI_Group g = (MPI_Group)real;
    MPI_Datatype t = (MPI_Datatype)real;
    MPI_Errhandler e = (MPI_Errhandler)real;
    MPI_Info i = (MPI_Info)real;
    mana_cross_to_lower(&c);
    switch (kind) {
    case VID_GROUP:
        mana_lower->mpi.MPI_Group_free(&g);
        break;
    case VID_DATATYPE:
        mana_lower->mpi.MPI_Type_free(&t);
        break;
    case VID_ERRHANDLER:
        mana_lower->mpi.MPI_Errhandler_free(&e);
        break;
    case VID_INFO:
        mana_lower->mpi.MPI_Info_free(&i);
        break;
    default:
        break;
    }
    mana_cross_to_upper(&c);
}

/* Predefined or already known: the id, else VID_INVALID. */
static int32_t known(enum vid_kind kind, uint64_t real, unsigned flags)
{
    int32_t v = vid_find_real(kind, real);
    if (v == VID_INVALID)
        return VID_INVALID;
    struct vid_entry *e = vid_entry_of(kind, v);
    if (e && e->state == VID_LIVE && (flags & MANA_OUT_REF)) {
        e->refs++;
        drop_lower_reference(kind, real);
    }
    return v;
}

static void out_of_ids(enum vid_kind kind, const char *function)
{
    fprintf(stderr, "MANA: %s: no memory for a new %s handle id (%u live); free MPI objects the program no "
                    "longer uses\n", function, vid_kind_name(kind), vid_live_count(kind));
}

int32_t mana_handle_out(enum vid_kind kind, uint64_t real, unsigned flags, const char *function)
{
    int32_t v = known(kind, real, flags);
    if (v != VID_INVALID)
        return v;
    v = vid_register(kind, real);
    if (v == VID_INVALID)
        out_of_ids(kind, function);
    return v;
}

int32_t mana_handle_new(enum vid_kind kind, uint64_t real, unsigned flags, enum rl_op op, const int32_t *deps,
                        size_t n_deps, const struct mana_blob *b, const char *function)
{
    int32_t v = known(kind, real, flags);
    /* A communicator constructor is collective: a rank that got
     * MPI_COMM_NULL (Comm_split with MPI_UNDEFINED, Comm_create outside
     * the group) must still take part when the others replay it, so its
     * call is recorded too, with the null handle as output. */
    if (v != VID_INVALID && !(kind == VID_COMM && v == MPI_COMM_NULL))
        return v;
    if (v == MPI_COMM_NULL) {
        if (b->failed || rl_append(mana_rl, op, &v, 1, deps, (unsigned)n_deps, b->p, b->len, NULL) != 0) {
            fprintf(stderr, "MANA: %s: no memory to record the call for a restart\n", function);
            return VID_INVALID;
        }
        return v;
    }
    if (b->failed) {
        out_of_ids(kind, function);
        return VID_INVALID;
    }
    v = vid_register(kind, real);
    if (v == VID_INVALID) {
        out_of_ids(kind, function);
        return VID_INVALID;
    }
    if (rl_append(mana_rl, op, &v, 1, deps, (unsigned)n_deps, b->p, b->len, NULL) != 0) {
        fprintf(stderr, "MANA: %s: no memory to record the call for a restart\n", function);
        vid_release(kind, v);
        return VID_INVALID;
    }
    return v;
}

int mana_record_mutation(enum vid_kind kind, int32_t obj, enum rl_op op, const int32_t *deps, size_t n_deps,
                         const struct mana_blob *b, const char *function)
{
    (void)kind;
    if (b->failed || rl_append(mana_rl, op, &obj, 1, deps, (unsigned)n_deps, b->p, b->len, NULL) != 0) {
        fprintf(stderr, "MANA: %s: no memory to record the call for a restart\n", function);
        return -1;
    }
    return 0;
}

int mana_handle_free_begin(enum vid_kind kind, int32_t virt, uint64_t *real, const char *function)
{
    struct vid_entry *e = vid_entry_of(kind, virt);
    if (!e) {
        *real = mana_bad_handle(kind, virt, function);
        return MANA_FREE_OTHER;
    }
    *real = e->real;
    if (e->state != VID_LIVE)
        return MANA_FREE_OTHER;
    if (e->refs > 1) {
        e->refs--;
        return MANA_FREE_REF_DROPPED;
    }
    return MANA_FREE_LAST;
}

void mana_handle_freed(enum vid_kind kind, int32_t virt)
{
    if (kind == VID_REQUEST)
        mana_request_info_clear(virt);
    if (kind == VID_COMM)
        mana_coll_comm_freed(virt);
    rl_mark_freed(mana_rl, virt);
    vid_release(kind, virt);
}

int32_t mana_handle_consumed(enum vid_kind kind, int32_t virt, uint64_t new_real)
{
    struct vid_entry *e = vid_entry_of(kind, virt);
    if (e && e->state == VID_LIVE && e->real != new_real)
        vid_release(kind, virt);
    return mana_handle_out(kind, new_real, 0, "MPI_Mrecv");
}

int32_t mana_request_out(uint64_t real)
{
    int32_t v = vid_find_real(VID_REQUEST, real); /* MPI_REQUEST_NULL */
    if (v != VID_INVALID)
        return v;
    v = vid_register(VID_REQUEST, real);
    if (v == VID_INVALID)
        out_of_ids(VID_REQUEST, "a nonblocking call");
    return v;
}

/* Receives are posted again after a checkpoint in this order. */
static uint64_t request_posts;

int mana_request_describe(int32_t vid, struct mana_request_info *d)
{
    if (vid_is_predefined(VID_REQUEST, vid)) {
        mana_request_info_free_owned(d);
        return 0;
    }
    d->vid = vid;
    d->post_seq = ++request_posts;
    if (mana_request_info_set(d) != 0) {
        fprintf(stderr, "MANA: %s: no memory to describe the new request\n", d->function);
        vid_release(VID_REQUEST, vid);
        mana_request_info_free_owned(d);
        return -1;
    }
    return 0;
}

int mana_reqs_in(struct mana_reqs *rq, const MPI_Request *app, int n, const char *function)
{
    rq->n = n > 0 && app ? n : 0;
    rq->real = rq->n <= MANA_WRAP_SMALL ? rq->small : malloc((size_t)rq->n * sizeof *rq->real);
    if (!rq->real)
        return -1;
    for (int i = 0; i < rq->n; i++) {
        uint64_t real;
        if (vid_real(VID_REQUEST, app[i], &real) != 0)
            real = mana_bad_handle(VID_REQUEST, app[i], function);
        rq->real[i] = (MPI_Request)real;
    }
    return 0;
}

static void set_active(int32_t vid, int active)
{
    struct mana_request_info *d = mana_request_info_get(vid);
    if (d && d->persistent) {
        d->active = (uint8_t)active;
        if (active)
            d->post_seq = ++request_posts;
        else
            d->counted = 0; /* its completion was just counted, or skipped */
    }
}

void mana_reqs_out(struct mana_reqs *rq, MPI_Request *app, int which, const int *idx, int n_idx)
{
    if (which == MANA_REQS_ALL || which == MANA_REQS_STARTED)
        for (int i = 0; i < rq->n; i++)
            set_active(app[i], which == MANA_REQS_STARTED);
    if (which == MANA_REQS_SOME)
        for (int k = 0; idx && k < n_idx; k++)
            if (idx[k] >= 0 && idx[k] < rq->n)
                set_active(app[idx[k]], 0);
    for (int i = 0; i < rq->n; i++) {
        if (rq->real[i] != MPI_REQUEST_NULL || app[i] == MPI_REQUEST_NULL)
            continue;
        struct vid_entry *e = vid_entry_of(VID_REQUEST, app[i]);
        struct mana_request_info *d = mana_request_info_get(app[i]);
        if (d && d->shadow_real && which != MANA_REQS_NONE) {
            /* A persistent request a completed one stood in for (a
             * checkpoint completed it, or a drained message): its own
             * request comes back, inactive. */
            vid_update_real(VID_REQUEST, app[i], d->shadow_real);
            d->shadow_real = 0;
            continue;
        }
        if (e && e->state == VID_LIVE) {
            if (d && d->persistent)
                rl_mark_freed(mana_rl, app[i]);
            mana_request_info_clear(app[i]);
            vid_release(VID_REQUEST, app[i]);
        }
        app[i] = MPI_REQUEST_NULL;
    }
    if (rq->real != rq->small)
        free(rq->real);
}

int mana_mpi_windows_open(void)
{
    return (int)vid_live_count(VID_WIN);
}

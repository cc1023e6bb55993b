/* The Open MPI lower half's handle, value and status translation
 * (ompi_abi.h says what each is). */
#include "ompi_abi.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "mana/lock_word.h"

struct abi_table abi_tables[ABI_NKINDS];
void *abi_null_obj[ABI_NKINDS];
int32_t abi_null_handle[ABI_NKINDS];

static _Atomic int abi_lock;

static const enum abi_group kind_group[ABI_NKINDS] = {
    [ABI_COMM] = ABI_G_COMM,       [ABI_GROUP] = ABI_G_GROUP,           [ABI_DATATYPE] = ABI_G_DATATYPE,
    [ABI_OP] = ABI_G_OP,           [ABI_REQUEST] = ABI_G_REQUEST,       [ABI_ERRHANDLER] = ABI_G_ERRHANDLER,
    [ABI_INFO] = ABI_G_INFO,       [ABI_WIN] = ABI_G_WIN,               [ABI_MESSAGE] = ABI_G_MESSAGE,
};

/* Predefined handles, both ways: open addressing over the MPICH value
 * (in) and over the Open MPI address (out), per kind; entries are a
 * constant's index + 1, 0 empty. */
#define PREDEF_SLOTS 256u
static uint16_t predef_by_mpich[ABI_NKINDS][PREDEF_SLOTS];
static uint16_t predef_by_ompi[ABI_NKINDS][PREDEF_SLOTS];

static uint32_t hash32(uint64_t v)
{
    v ^= v >> 29;
    v *= 0x9e3779b97f4a7c15ULL;
    return (uint32_t)(v >> 40);
}

/* User objects by address, for the kinds MPI can hand back again (not
 * requests and messages: always new). Entries are slot index + 1; 0
 * empty, UINT32_MAX deleted. Grown under abi_lock. */
struct rev_map {
    uint64_t *key;
    uint32_t *val;
    uint32_t mask, used;
};
static struct rev_map rev[ABI_NKINDS];

static int reverse_kind(enum abi_kind k)
{
    return k != ABI_REQUEST && k != ABI_MESSAGE;
}

static void rev_put(struct rev_map *m, uint64_t key, uint32_t val);

static void rev_grow(struct rev_map *m)
{
    struct rev_map old = *m;
    uint32_t n = old.key ? (old.mask + 1) * 2 : 1024;
    m->key = calloc(n, sizeof *m->key);
    m->val = calloc(n, sizeof *m->val);
    if (!m->key || !m->val) {
        fprintf(stderr, "MANA: out of memory for the Open MPI handle map (%u entries); the job stops\n", n);
        abort();
    }
    m->mask = n - 1;
    m->used = 0;
    for (uint32_t i = 0; old.key && i <= old.mask; i++)
        if (old.val[i] != 0 && old.val[i] != UINT32_MAX)
            rev_put(m, old.key[i], old.val[i]);
    free(old.key);
    free(old.val);
}

static void rev_put(struct rev_map *m, uint64_t key, uint32_t val)
{
    if (m->key == NULL || (m->used + 1) * 2 > m->mask + 1)
        rev_grow(m);
    uint32_t i = hash32(key) & m->mask;
    while (m->val[i] != 0 && m->val[i] != UINT32_MAX)
        i = (i + 1) & m->mask;
    m->key[i] = key;
    m->val[i] = val;
    m->used++;
}

static uint32_t *rev_find(struct rev_map *m, uint64_t key)
{
    if (m->key == NULL)
        return NULL;
    for (uint32_t i = hash32(key) & m->mask;; i = (i + 1) & m->mask) {
        if (m->val[i] == 0)
            return NULL;
        if (m->val[i] != UINT32_MAX && m->key[i] == key)
            return &m->val[i];
    }
}

void abi_predefined_init(void)
{
    for (int k = 0; k < ABI_NKINDS; k++) {
        const struct abi_group_range *g = &abi_groups[kind_group[k]];
        /* The first constant of each handle group is its null handle. */
        abi_null_obj[k] = (void *)abi_ompi[g->first];
        abi_null_handle[k] = abi_mpich[g->first];
        for (unsigned c = g->first; c < g->first + g->count; c++) {
            if (!abi_ompi_has[c])
                continue;
            uint32_t i = hash32((uint32_t)abi_mpich[c]) % PREDEF_SLOTS;
            while (predef_by_mpich[k][i] != 0)
                i = (i + 1) % PREDEF_SLOTS;
            predef_by_mpich[k][i] = (uint16_t)(c + 1);
            /* Aliases (MPI_LONG_LONG, MPI_LONG_LONG_INT) share an
             * object: the first name gives its MPICH handle. */
            i = hash32((uint64_t)abi_ompi[c]) % PREDEF_SLOTS;
            int seen = 0;
            while (predef_by_ompi[k][i] != 0) {
                if (abi_ompi[predef_by_ompi[k][i] - 1] == abi_ompi[c])
                    seen = 1;
                i = (i + 1) % PREDEF_SLOTS;
            }
            if (!seen)
                predef_by_ompi[k][i] = (uint16_t)(c + 1);
        }
    }
}

void ompi_abi_init(void)
{
    abi_predefined_init();
    for (int k = 0; k < ABI_NKINDS; k++) {
        struct abi_table *t = &abi_tables[k];
        t->slots = mmap(NULL, (size_t)ABI_MAX_SLOTS * sizeof *t->slots, PROT_READ | PROT_WRITE,
                        MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        if (t->slots == MAP_FAILED) {
            fprintf(stderr, "MANA: cannot reserve the Open MPI handle table (%zu bytes): %m\n",
                    (size_t)ABI_MAX_SLOTS * sizeof *t->slots);
            abort();
        }
        t->free_head = UINT32_MAX;
    }
}

void *abi_predefined_in(enum abi_kind kind, int32_t handle)
{
    for (uint32_t i = hash32((uint32_t)handle) % PREDEF_SLOTS;; i = (i + 1) % PREDEF_SLOTS) {
        uint16_t e = predef_by_mpich[kind][i];
        if (e == 0)
            return abi_null_obj[kind];
        if (abi_mpich[e - 1] == handle)
            return (void *)abi_ompi[e - 1];
    }
}

int abi_predefined_out(enum abi_kind kind, const void *obj, int32_t *handle)
{
    for (uint32_t i = hash32((uint64_t)obj) % PREDEF_SLOTS;; i = (i + 1) % PREDEF_SLOTS) {
        uint16_t e = predef_by_ompi[kind][i];
        if (e == 0)
            return 0;
        if (abi_ompi[e - 1] == (intptr_t)obj) {
            *handle = abi_mpich[e - 1];
            return 1;
        }
    }
}

static int32_t user_handle(enum abi_kind kind, uint32_t idx)
{
    return (int32_t)(ABI_USER_BITS | (uint32_t)kind << ABI_KIND_SHIFT | idx);
}

int32_t abi_known(enum abi_kind kind, const void *obj)
{
    int32_t h = abi_null_handle[kind];
    if (obj == abi_null_obj[kind] || abi_predefined_out(kind, obj, &h) || !reverse_kind(kind))
        return h;
    mana_lock_word_acquire(&abi_lock);
    uint32_t *e = rev_find(&rev[kind], (uint64_t)obj);
    if (e != NULL)
        h = user_handle(kind, *e - 1);
    mana_lock_word_release(&abi_lock);
    return h;
}

int32_t abi_out(enum abi_kind kind, void *obj)
{
    int32_t h;
    if (obj == abi_null_obj[kind])
        return abi_null_handle[kind];
    if (abi_predefined_out(kind, obj, &h))
        return h;
    struct abi_table *t = &abi_tables[kind];
    mana_lock_word_acquire(&abi_lock);
    if (reverse_kind(kind)) {
        uint32_t *e = rev_find(&rev[kind], (uint64_t)obj);
        if (e != NULL) {
            t->slots[*e - 1].refs++;
            mana_lock_word_release(&abi_lock);
            return user_handle(kind, *e - 1);
        }
    }
    uint32_t idx;
    if (t->free_head != UINT32_MAX) {
        idx = t->free_head;
        t->free_head = t->slots[idx].next_free;
    } else if (t->used < ABI_MAX_SLOTS) {
        idx = t->used++;
    } else {
        mana_lock_word_release(&abi_lock);
        fprintf(stderr, "MANA: more than %u live MPI objects of one kind under Open MPI; the job stops\n",
                ABI_MAX_SLOTS);
        abort();
    }
    t->slots[idx].obj = obj;
    t->slots[idx].refs = 1;
    if (reverse_kind(kind))
        rev_put(&rev[kind], (uint64_t)obj, idx + 1);
    mana_lock_word_release(&abi_lock);
    return user_handle(kind, idx);
}

static void release(enum abi_kind kind, int32_t handle)
{
    uint32_t v = (uint32_t)handle;
    if ((v & ABI_USER_BITS) != ABI_USER_BITS || ((v >> ABI_KIND_SHIFT) & 0xfu) != (uint32_t)kind)
        return;
    uint32_t idx = v & ABI_INDEX_MASK;
    struct abi_table *t = &abi_tables[kind];
    mana_lock_word_acquire(&abi_lock);
    if (idx < t->used && t->slots[idx].obj != NULL && --t->slots[idx].refs == 0) {
        if (reverse_kind(kind)) {
            uint32_t *e = rev_find(&rev[kind], (uint64_t)t->slots[idx].obj);
            if (e != NULL) {
                *e = UINT32_MAX;
                rev[kind].used--;
            }
        }
        t->slots[idx].obj = NULL;
        t->slots[idx].next_free = t->free_head;
        t->free_head = idx;
    }
    mana_lock_word_release(&abi_lock);
}

int32_t abi_update(enum abi_kind kind, int32_t handle, void *after)
{
    if (abi_in(kind, handle) == after)
        return handle;
    release(kind, handle);
    return abi_out(kind, after);
}

int abi_value_in_slow(enum abi_group group, int v)
{
    const struct abi_group_range *g = &abi_groups[group];
    if (g->flags) {
        int out = 0;
        for (unsigned c = g->first; c < g->first + g->count; c++)
            if (abi_ompi_has[c] && (v & abi_mpich[c]))
                out |= (int)abi_ompi[c], v &= ~abi_mpich[c];
        return out | v;
    }
    for (unsigned c = g->first; c < g->first + g->count; c++)
        if (abi_mpich[c] == v && abi_ompi_has[c])
            return (int)abi_ompi[c];
    return v;
}

int abi_value_out_slow(enum abi_group group, int v)
{
    const struct abi_group_range *g = &abi_groups[group];
    if (g->flags) {
        int out = 0;
        for (unsigned c = g->first; c < g->first + g->count; c++)
            if (abi_ompi_has[c] && (v & (int)abi_ompi[c]))
                out |= abi_mpich[c], v &= ~(int)abi_ompi[c];
        return out | v;
    }
    for (unsigned c = g->first; c < g->first + g->count; c++)
        if ((int)abi_ompi[c] == v && abi_ompi_has[c])
            return abi_mpich[c];
    return v;
}

/* MPICH keeps the byte count in count_lo and the upper bits of
 * count_hi_and_cancelled, whose bit 0 is the cancelled flag. */
void abi_status_in(const mana_MPI_Status *m, MPI_Status *o)
{
    o->MPI_SOURCE = abi_value_in(ABI_G_RANK, m->MPI_SOURCE);
    o->MPI_TAG = m->MPI_TAG;
    o->MPI_ERROR = m->MPI_ERROR == 0 ? 0 : abi_value_in_slow(ABI_G_ERRCLASS, m->MPI_ERROR);
    o->_cancelled = m->count_hi_and_cancelled & 1;
    o->_ucount = (size_t)(uint32_t)m->count_lo | (size_t)((uint32_t)m->count_hi_and_cancelled >> 1) << 32;
}

void abi_status_out(const MPI_Status *o, mana_MPI_Status *m)
{
    m->MPI_SOURCE = abi_value_out(ABI_G_RANK, o->MPI_SOURCE);
    m->MPI_TAG = o->MPI_TAG;
    m->MPI_ERROR = o->MPI_ERROR == MPI_SUCCESS ? 0 : abi_value_out_slow(ABI_G_ERRCLASS, o->MPI_ERROR);
    m->count_lo = (int)(uint32_t)o->_ucount;
    m->count_hi_and_cancelled = (int)((uint32_t)(o->_ucount >> 32) << 1 | (o->_cancelled ? 1u : 0u));
}

int abi_statuses(MPI_Status *small, const mana_MPI_Status *m, int count, MPI_Status **out)
{
    if (abi_status_ignored(m)) {
        *out = MPI_STATUSES_IGNORE;
        return 0;
    }
    *out = abi_scratch(small, count, sizeof(MPI_Status));
    return *out == NULL && count > 0 ? -1 : 0;
}

void abi_statuses_out(const MPI_Status *o, mana_MPI_Status *m, int count)
{
    for (int i = 0; i < count && count != MPI_UNDEFINED; i++)
        abi_status_out(&o[i], &m[i]);
}

void *abi_scratch(void *small, int n, size_t size)
{
    if (n <= ABI_SMALL)
        return small;
    return malloc((size_t)n * size);
}

void abi_scratch_done(void *p, void *small)
{
    if (p != small && p != NULL)
        free(p);
}

int abi_peers(MPI_Comm comm, int which)
{
    int n = 0, inter = 0, indeg = 0, outdeg = 0, weighted = 0, topo = MPI_UNDEFINED, rank = 0;
    if (which == ABI_PEERS_ALL) {
        if (MPI_Comm_test_inter(comm, &inter) == MPI_SUCCESS)
            (inter ? MPI_Comm_remote_size : MPI_Comm_size)(comm, &n);
        return n;
    }
    if (which == ABI_PEERS_CARTDIM) {
        MPI_Cartdim_get(comm, &n);
        return n;
    }
    if (MPI_Topo_test(comm, &topo) != MPI_SUCCESS)
        return 0;
    /* Neighbourhood collectives: MPI-3.1 section 7.6. */
    if (topo == MPI_DIST_GRAPH) {
        MPI_Dist_graph_neighbors_count(comm, &indeg, &outdeg, &weighted);
    } else if (topo == MPI_GRAPH) {
        MPI_Comm_rank(comm, &rank);
        MPI_Graph_neighbors_count(comm, rank, &indeg);
        outdeg = indeg;
    } else if (topo == MPI_CART) {
        MPI_Cartdim_get(comm, &indeg);
        indeg *= 2;
        outdeg = indeg;
    }
    return which == ABI_PEERS_IN ? indeg : outdeg;
}

int64_t abi_sum(const int *a, int64_t n)
{
    int64_t s = 0;
    for (int64_t i = 0; i < n; i++)
        s += a[i];
    return s;
}

void abi_absent(const char *name)
{
    fprintf(stderr,
            "MANA: %s is not available with the Open MPI lower half: Open MPI 4.1 implements MPI 3.1, "
            "without it. Run this job with the MPICH lower half (mana-launch --mpi mpich, under "
            "mpirun.mpich).\n",
            name);
    MPI_Abort(MPI_COMM_WORLD, 1);
    abort();
}

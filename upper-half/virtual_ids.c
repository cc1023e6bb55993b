/* Virtual id tables: see virtual_ids.h for the encoding and the rules.
 * Only MPICH's mpi.h is used, for the values of the predefined handles;
 * nothing here calls MPI or the lower half. */
#include "virtual_ids.h"

#include <mpi.h>
#include <stdlib.h>
#include <string.h>

struct vid_table vid_tables[VID_NKINDS];
static int vid_ready;

/* MPICH object kinds (HANDLE_GET_MPI_KIND). */
static const uint32_t mpich_kind[VID_NKINDS] = {
    [VID_COMM] = 0x1, [VID_GROUP] = 0x2,  [VID_DATATYPE] = 0x3, [VID_OP] = 0x6,  [VID_REQUEST] = 0xb,
    [VID_ERRHANDLER] = 0x5, [VID_INFO] = 0x7, [VID_KEYVAL] = 0x9, [VID_WIN] = 0x8, [VID_MESSAGE] = 0xc,
};

/* Kinds whose user objects MPI can hand back to the application. */
static const uint8_t reverse_users[VID_NKINDS] = {
    [VID_COMM] = 1, [VID_GROUP] = 1, [VID_DATATYPE] = 1, [VID_OP] = 1, [VID_ERRHANDLER] = 1,
    [VID_INFO] = 1, [VID_KEYVAL] = 1, [VID_WIN] = 1,
};

static const char *const kind_names[VID_NKINDS] = {
    [VID_COMM] = "comm", [VID_GROUP] = "group", [VID_DATATYPE] = "datatype", [VID_OP] = "op",
    [VID_REQUEST] = "request", [VID_ERRHANDLER] = "errhandler", [VID_INFO] = "info", [VID_KEYVAL] = "keyval",
    [VID_WIN] = "win", [VID_MESSAGE] = "message",
};

/* The predefined handles of MPICH's mpi.h, per kind. Duplicates (aliases
 * such as MPI_LONG_LONG, types MPICH lacks defined as MPI_DATATYPE_NULL)
 * are skipped when the table is built. */
static const int32_t predef_comm[] = {MPI_COMM_NULL, MPI_COMM_WORLD, MPI_COMM_SELF};
static const int32_t predef_group[] = {MPI_GROUP_NULL, MPI_GROUP_EMPTY};
static const int32_t predef_datatype[] = {
    MPI_DATATYPE_NULL, MPI_CHAR, MPI_SIGNED_CHAR, MPI_UNSIGNED_CHAR, MPI_BYTE, MPI_WCHAR, MPI_SHORT,
    MPI_UNSIGNED_SHORT, MPI_INT, MPI_UNSIGNED, MPI_LONG, MPI_UNSIGNED_LONG, MPI_FLOAT, MPI_DOUBLE,
    MPI_LONG_DOUBLE, MPI_LONG_LONG_INT, MPI_LONG_LONG, MPI_UNSIGNED_LONG_LONG, MPI_PACKED, MPI_LB, MPI_UB,
    MPI_FLOAT_INT, MPI_DOUBLE_INT, MPI_LONG_INT, MPI_SHORT_INT, MPI_2INT, MPI_LONG_DOUBLE_INT, MPI_COMPLEX,
    MPI_DOUBLE_COMPLEX, MPI_LOGICAL, MPI_REAL, MPI_DOUBLE_PRECISION, MPI_INTEGER, MPI_2INTEGER, MPI_2REAL,
    MPI_2DOUBLE_PRECISION, MPI_CHARACTER, MPI_REAL4, MPI_REAL8, MPI_REAL16, MPI_COMPLEX8, MPI_COMPLEX16,
    MPI_COMPLEX32, MPI_INTEGER1, MPI_INTEGER2, MPI_INTEGER4, MPI_INTEGER8, MPI_INTEGER16, MPI_INT8_T,
    MPI_INT16_T, MPI_INT32_T, MPI_INT64_T, MPI_UINT8_T, MPI_UINT16_T, MPI_UINT32_T, MPI_UINT64_T, MPI_C_BOOL,
    MPI_C_FLOAT_COMPLEX, MPI_C_COMPLEX, MPI_C_DOUBLE_COMPLEX, MPI_C_LONG_DOUBLE_COMPLEX, MPIX_C_FLOAT16,
    MPI_AINT, MPI_OFFSET, MPI_COUNT, MPI_CXX_BOOL, MPI_CXX_FLOAT_COMPLEX, MPI_CXX_DOUBLE_COMPLEX,
    MPI_CXX_LONG_DOUBLE_COMPLEX,
};
static const int32_t predef_op[] = {
    MPI_OP_NULL, MPI_MAX,  MPI_MIN,  MPI_SUM,    MPI_PROD,   MPI_LAND,    MPI_BAND,  MPI_LOR,
    MPI_BOR,     MPI_LXOR, MPI_BXOR, MPI_MINLOC, MPI_MAXLOC, MPI_REPLACE, MPI_NO_OP,
};
static const int32_t predef_request[] = {MPI_REQUEST_NULL};
static const int32_t predef_errhandler[] = {
    MPI_ERRHANDLER_NULL, MPI_ERRORS_ARE_FATAL, MPI_ERRORS_RETURN, MPI_ERRORS_ABORT, MPIR_ERRORS_THROW_EXCEPTIONS,
};
static const int32_t predef_info[] = {MPI_INFO_NULL, MPI_INFO_ENV};
static const int32_t predef_keyval[] = {
    MPI_KEYVAL_INVALID,  MPI_TAG_UB,        MPI_HOST,          MPI_IO,   MPI_WTIME_IS_GLOBAL, MPI_UNIVERSE_SIZE,
    MPI_LASTUSEDCODE,    MPI_APPNUM,        MPI_WIN_BASE,      MPI_WIN_SIZE, MPI_WIN_DISP_UNIT,
    MPI_WIN_CREATE_FLAVOR, MPI_WIN_MODEL,
};
static const int32_t predef_win[] = {MPI_WIN_NULL};
static const int32_t predef_message[] = {MPI_MESSAGE_NULL, MPI_MESSAGE_NO_PROC};

#define N(a) (sizeof(a) / sizeof((a)[0]))
static const struct {
    const int32_t *v;
    size_t n;
} predef[VID_NKINDS] = {
    [VID_COMM] = {predef_comm, N(predef_comm)},
    [VID_GROUP] = {predef_group, N(predef_group)},
    [VID_DATATYPE] = {predef_datatype, N(predef_datatype)},
    [VID_OP] = {predef_op, N(predef_op)},
    [VID_REQUEST] = {predef_request, N(predef_request)},
    [VID_ERRHANDLER] = {predef_errhandler, N(predef_errhandler)},
    [VID_INFO] = {predef_info, N(predef_info)},
    [VID_KEYVAL] = {predef_keyval, N(predef_keyval)},
    [VID_WIN] = {predef_win, N(predef_win)},
    [VID_MESSAGE] = {predef_message, N(predef_message)},
};

static inline uint32_t hash32(uint32_t v)
{
    v ^= v >> 16;
    v *= 0x7feb352du;
    v ^= v >> 15;
    v *= 0x846ca68bu;
    v ^= v >> 16;
    return v;
}

/* Entry index + 1 of predefined VIRT, or 0. */
static uint32_t predef_find(const struct vid_table *t, int32_t virt)
{
    if (!t->predef_hash)
        return 0;
    uint32_t h = hash32((uint32_t)virt) & t->predef_hash_mask;
    for (;;) {
        uint32_t slot = t->predef_hash[h];
        if (slot == 0)
            return 0;
        if (t->entries[slot - 1].virt == virt)
            return slot;
        h = (h + 1) & t->predef_hash_mask;
    }
}

#define REV_DELETED UINT32_MAX

static inline uint32_t hash64(uint64_t v)
{
    return hash32((uint32_t)v ^ hash32((uint32_t)(v >> 32)));
}

static int rev_resize(struct vid_table *t, uint32_t size)
{
    uint32_t *h = calloc(size, sizeof *h);
    if (!h)
        return -1;
    uint32_t *old = t->rev_hash, old_size = old ? t->rev_mask + 1 : 0;
    t->rev_hash = h;
    t->rev_mask = size - 1;
    t->rev_used = t->rev_deleted = 0;
    for (uint32_t i = 0; i < old_size; i++) {
        uint32_t slot = old[i];
        if (slot == 0 || slot == REV_DELETED)
            continue;
        uint32_t p = hash64(t->entries[slot - 1].real) & t->rev_mask;
        while (h[p])
            p = (p + 1) & t->rev_mask;
        h[p] = slot;
        t->rev_used++;
    }
    free(old);
    return 0;
}

/* Entry IDX is findable by its real handle. 0, or -1 (no memory). */
static int rev_insert(struct vid_table *t, uint32_t idx)
{
    if (!t->rev_hash || 2 * (t->rev_used + t->rev_deleted + 1) > t->rev_mask + 1) {
        /* Rehash at half full (deleted slots count), to a quarter full. */
        uint32_t size = 32;
        while (4 * (uint64_t)(t->rev_used + 1) > size)
            size *= 2;
        if (rev_resize(t, size) != 0)
            return -1;
    }
    uint32_t p = hash64(t->entries[idx].real) & t->rev_mask;
    while (t->rev_hash[p] != 0 && t->rev_hash[p] != REV_DELETED)
        p = (p + 1) & t->rev_mask;
    if (t->rev_hash[p] == REV_DELETED)
        t->rev_deleted--;
    t->rev_hash[p] = idx + 1;
    t->rev_used++;
    return 0;
}

static void rev_remove(struct vid_table *t, uint32_t idx)
{
    if (!t->rev_hash)
        return;
    uint32_t p = hash64(t->entries[idx].real) & t->rev_mask;
    for (uint32_t n = 0; n <= t->rev_mask && t->rev_hash[p] != 0; n++, p = (p + 1) & t->rev_mask)
        if (t->rev_hash[p] == idx + 1) {
            t->rev_hash[p] = REV_DELETED;
            t->rev_used--;
            t->rev_deleted++;
            return;
        }
}

static int grow(struct vid_table *t, uint32_t need)
{
    if (need <= t->capacity)
        return 0;
    if (need > VID_MAX_ENTRIES)
        return -1;
    uint64_t cap = t->capacity ? t->capacity : 64;
    while (cap < need)
        cap *= 2;
    if (cap > VID_MAX_ENTRIES)
        cap = VID_MAX_ENTRIES;
    struct vid_entry *e = realloc(t->entries, cap * sizeof *e);
    if (!e)
        return -1;
    memset(e + t->capacity, 0, (cap - t->capacity) * sizeof *e);
    t->entries = e;
    t->capacity = (uint32_t)cap;
    return 0;
}

int vid_init(void)
{
    if (vid_ready)
        return 0;
    memset(vid_tables, 0, sizeof vid_tables);
    for (int k = 0; k < VID_NKINDS; k++) {
        struct vid_table *t = &vid_tables[k];
        t->kind_bits = mpich_kind[k] << VID_KIND_SHIFT;
        t->free_head = t->free_tail = UINT32_MAX;
        uint32_t hsize = 16;
        while (hsize < 2 * predef[k].n)
            hsize *= 2;
        t->predef_hash = calloc(hsize, sizeof *t->predef_hash);
        if (!t->predef_hash || grow(t, (uint32_t)predef[k].n) != 0)
            goto fail;
        t->predef_hash_mask = hsize - 1;
        for (size_t i = 0; i < predef[k].n; i++) {
            int32_t v = predef[k].v[i];
            if (predef_find(t, v))
                continue; /* alias */
            uint32_t idx = t->n_entries++;
            struct vid_entry *e = &t->entries[idx];
            memset(e, 0, sizeof *e);
            e->virt = v;
            e->real = (uint64_t)(uint32_t)v;
            e->state = VID_PREDEFINED;
            uint32_t h = hash32((uint32_t)v) & t->predef_hash_mask;
            while (t->predef_hash[h])
                h = (h + 1) & t->predef_hash_mask;
            t->predef_hash[h] = idx + 1;
            if (rev_insert(t, idx) != 0)
                goto fail;
        }
        t->n_predef = t->n_entries;
        t->reverse_users = reverse_users[k];
        t->predef_identity = 1;
    }
    vid_ready = 1;
    return 0;
fail:
    vid_fini();
    return -1;
}

void vid_fini(void)
{
    for (int k = 0; k < VID_NKINDS; k++) {
        free(vid_tables[k].entries);
        free(vid_tables[k].predef_hash);
        free(vid_tables[k].rev_hash);
    }
    memset(vid_tables, 0, sizeof vid_tables);
    vid_ready = 0;
}

static inline int valid_kind(enum vid_kind kind)
{
    return (unsigned)kind < VID_NKINDS;
}

int32_t vid_register(enum vid_kind kind, uint64_t real)
{
    if (!valid_kind(kind) || !vid_ready)
        return VID_INVALID;
    struct vid_table *t = &vid_tables[kind];
    uint32_t idx;
    /* Reuse free slots FIFO, so that a slot's generation wraps as late as
     * possible; take a fresh slot while the free list is short. */
    if (t->free_head != UINT32_MAX && (t->n_entries - t->n_predef - t->n_live >= 64 || t->n_entries == VID_MAX_ENTRIES)) {
        idx = t->free_head;
        t->free_head = t->entries[idx].next_free;
        if (t->free_head == UINT32_MAX)
            t->free_tail = UINT32_MAX;
    } else {
        if (t->n_entries == VID_MAX_ENTRIES)
            return VID_INVALID;
        if (grow(t, t->n_entries + 1) != 0)
            return VID_INVALID;
        idx = t->n_entries++;
        t->entries[idx].gen = 0;
    }
    struct vid_entry *e = &t->entries[idx];
    e->real = real;
    memset(e->user, 0, sizeof e->user);
    e->state = VID_LIVE;
    e->next_free = UINT32_MAX;
    e->refs = 1;
    e->virt = (int32_t)(VID_INDIRECT_BITS | t->kind_bits | ((uint32_t)e->gen << VID_GEN_SHIFT) | idx);
    if (t->reverse_users && rev_insert(t, idx) != 0) {
        e->state = VID_FREE;
        e->virt = 0;
        e->next_free = UINT32_MAX;
        if (t->free_tail == UINT32_MAX)
            t->free_head = idx;
        else
            t->entries[t->free_tail].next_free = idx;
        t->free_tail = idx;
        return VID_INVALID;
    }
    t->n_live++;
    return e->virt;
}

struct vid_entry *vid_entry_of(enum vid_kind kind, int32_t virt)
{
    if (!valid_kind(kind) || !vid_ready)
        return NULL;
    struct vid_table *t = &vid_tables[kind];
    uint32_t v = (uint32_t)virt;
    if ((v & (VID_INDIRECT_BITS | VID_KIND_MASK)) == (VID_INDIRECT_BITS | t->kind_bits)) {
        uint32_t idx = v & VID_INDEX_MASK;
        if (idx < t->n_entries && idx >= t->n_predef && t->entries[idx].state == VID_LIVE &&
            t->entries[idx].virt == virt)
            return &t->entries[idx];
        return NULL;
    }
    uint32_t slot = predef_find(t, virt);
    return slot ? &t->entries[slot - 1] : NULL;
}

int vid_lookup_slow(enum vid_kind kind, int32_t virt, uint64_t *real)
{
    struct vid_entry *e = vid_entry_of(kind, virt);
    if (!e)
        return -1;
    *real = e->real;
    return 0;
}

int vid_release(enum vid_kind kind, int32_t virt)
{
    struct vid_entry *e = vid_entry_of(kind, virt);
    if (!e || e->state != VID_LIVE)
        return -1;
    struct vid_table *t = &vid_tables[kind];
    uint32_t idx = (uint32_t)(e - t->entries);
    if (t->reverse_users)
        rev_remove(t, idx);
    e->state = VID_FREE;
    e->refs = 0;
    e->virt = 0;
    e->real = 0;
    e->gen = (uint8_t)((e->gen + 1) & 0xf);
    e->next_free = UINT32_MAX;
    if (t->free_tail == UINT32_MAX)
        t->free_head = idx;
    else
        t->entries[t->free_tail].next_free = idx;
    t->free_tail = idx;
    t->n_live--;
    return 0;
}

int vid_update_real(enum vid_kind kind, int32_t virt, uint64_t new_real)
{
    struct vid_entry *e = vid_entry_of(kind, virt);
    if (!e)
        return -1;
    struct vid_table *t = &vid_tables[kind];
    uint32_t idx = (uint32_t)(e - t->entries);
    int indexed = e->state == VID_PREDEFINED || t->reverse_users;
    if (indexed)
        rev_remove(t, idx);
    e->real = new_real;
    if (e->state == VID_PREDEFINED && new_real != (uint64_t)(uint32_t)e->virt)
        t->predef_identity = 0;
    return indexed ? rev_insert(t, idx) : 0;
}

int32_t vid_find_real(enum vid_kind kind, uint64_t real)
{
    if (!valid_kind(kind) || !vid_ready)
        return VID_INVALID;
    const struct vid_table *t = &vid_tables[kind];
    if (!t->rev_hash)
        return VID_INVALID;
    uint32_t p = hash64(real) & t->rev_mask;
    for (uint32_t n = 0; n <= t->rev_mask && t->rev_hash[p] != 0; n++, p = (p + 1) & t->rev_mask) {
        uint32_t slot = t->rev_hash[p];
        if (slot != REV_DELETED && t->entries[slot - 1].real == real && t->entries[slot - 1].state != VID_FREE)
            return t->entries[slot - 1].virt;
    }
    return VID_INVALID;
}

uint64_t *vid_user(enum vid_kind kind, int32_t virt)
{
    struct vid_entry *e = vid_entry_of(kind, virt);
    return e ? e->user : NULL;
}

int vid_is_predefined(enum vid_kind kind, int32_t virt)
{
    if (!valid_kind(kind) || !vid_ready)
        return 0;
    return predef_find(&vid_tables[kind], virt) != 0;
}

uint32_t vid_live_count(enum vid_kind kind)
{
    return valid_kind(kind) ? vid_tables[kind].n_live : 0;
}

struct vid_entry *vid_iter_next(enum vid_kind kind, unsigned what, uint32_t *cursor)
{
    if (!valid_kind(kind) || !vid_ready)
        return NULL;
    struct vid_table *t = &vid_tables[kind];
    uint32_t i = *cursor;
    if (!(what & VID_ITER_PREDEFINED) && i < t->n_predef)
        i = t->n_predef;
    for (; i < t->n_entries; i++) {
        struct vid_entry *e = &t->entries[i];
        if ((e->state == VID_LIVE && (what & VID_ITER_USER)) ||
            (e->state == VID_PREDEFINED && (what & VID_ITER_PREDEFINED))) {
            *cursor = i + 1;
            return e;
        }
    }
    *cursor = i;
    return NULL;
}

const char *vid_kind_name(enum vid_kind kind)
{
    return valid_kind(kind) ? kind_names[kind] : "?";
}

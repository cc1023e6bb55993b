/* Virtual ids for MPI handles.
 *
 * The application sees MPICH-ABI handles (plain ints); the lower half that
 * happens to run (MPICH today, Open MPI after a restart with another MPI)
 * has its own handles. This module keeps one table per handle kind that
 * maps the application's (virtual) handle to the lower half's (real) one,
 * stored as a uint64_t so that an Open MPI object pointer fits.
 *
 * Predefined handles (MPI_COMM_WORLD, MPI_INT, MPI_SUM, MPI_COMM_NULL, ...)
 * are their own virtual ids: the application sees exactly MPICH's
 * constants, so a program built with mpicc.mpich works unchanged. They sit
 * in fixed entries, whose real handle starts equal to the MPICH constant
 * and can be changed with vid_update_real (an Open MPI lower half), but
 * they are never released.
 *
 * User-created objects get virtual ids shaped like MPICH's "indirect"
 * handles of that kind:
 *
 *   bits 31..30  0b11 (MPICH HANDLE_KIND_INDIRECT)
 *   bits 29..26  MPICH object kind (comm 0x1, group 0x2, datatype 0x3,
 *                errhandler 0x5, op 0x6, info 0x7, win 0x8, keyval 0x9,
 *                request 0xb), as in MPICH's HANDLE_GET_MPI_KIND; messages
 *                (requests in MPICH) use the otherwise unused kind 0xc so
 *                that a message id never equals a request id
 *   bits 25..22  generation of the slot (4 bits, bumped on every release)
 *   bits 21..0   index of the slot in the kind's entry array
 *
 * Every predefined MPICH handle has 0b00 (null handles), 0b01 (builtin) or
 * 0b10 (the direct pair types 0x8c00000x) in bits 31..30, so no virtual id
 * equals a predefined constant, of its own kind or any other; the kind
 * bits also keep a communicator id from equalling a datatype id. A stale
 * id (released, slot reused) fails its lookup until the 4-bit generation
 * wraps (16 reuses of the slot); MPICH itself reuses handles at once, so
 * programs cannot rely on more.
 *
 * Lookup of a user id is an array index plus two compares (inline below);
 * lookup of a predefined handle is a probe of a small open-addressing hash,
 * or nothing at all (vid_real) while every predefined handle of the kind
 * is its own real handle, as with an MPICH lower half.
 *
 * Reverse lookup (real -> virtual, vid_find_real) exists because MPI hands
 * back objects the application already holds: MPI_Comm_get_errhandler,
 * MPI_Comm_group, MPI_Type_get_contents, and the handles MPI passes to
 * callbacks (the datatype of a user op, the communicator of an error
 * handler or attribute callback). Predefined handles are always in it;
 * user ids only for the kinds MPI can hand back (not requests and
 * messages, which are created and completed too often to pay for it).
 *
 * Each user entry counts the references the application holds (refs): an
 * object handed back again gets the same id with one more reference, and
 * the lower half keeps exactly one reference per live id, so the lower
 * object is freed with the last MPI_x_free of the id and a replay creates
 * exactly one.
 *
 * Thread safety: none inside. Every call must be made with MANA's lower
 * lock held (lower_lock.h), as the MPI wrappers do. No TLS is used; memory
 * comes from the upper half's malloc. Pointers into a table (vid_user)
 * stay valid only until the next vid_register on the same kind.
 */
#ifndef MANA_VIRTUAL_IDS_H
#define MANA_VIRTUAL_IDS_H

#include <stddef.h>
#include <stdint.h>

enum vid_kind {
    VID_COMM = 0,
    VID_GROUP,
    VID_DATATYPE,
    VID_OP,
    VID_REQUEST,
    VID_ERRHANDLER,
    VID_INFO,
    VID_KEYVAL,
    VID_WIN,
    VID_MESSAGE,
    VID_NKINDS
};

#define VID_INDIRECT_BITS 0xc0000000u
#define VID_KIND_SHIFT 26
#define VID_KIND_MASK 0x3c000000u
#define VID_GEN_SHIFT 22
#define VID_GEN_MASK 0x03c00000u
#define VID_INDEX_MASK 0x003fffffu
#define VID_MAX_ENTRIES (VID_INDEX_MASK + 1u)

/* Per-entry words free for the caller (e.g. cached rank and size of a
 * communicator, the record-log sequence number of its constructor). */
#define VID_USER_WORDS 2

enum vid_state { VID_FREE = 0, VID_LIVE = 1, VID_PREDEFINED = 2 };

struct vid_entry {
    uint64_t real;
    uint64_t user[VID_USER_WORDS];
    int32_t virt;       /* the virtual id of this entry, when not free */
    uint8_t state;      /* enum vid_state */
    uint8_t gen;        /* generation, 0..15 */
    uint16_t pad;
    uint32_t next_free; /* free list link (index), when free */
    uint32_t refs;      /* references the application holds (user ids) */
};

struct vid_table {
    struct vid_entry *entries;
    uint32_t n_entries;  /* entries in use or on the free list */
    uint32_t capacity;
    uint32_t n_predef;   /* entries [0, n_predef) are predefined */
    uint32_t n_live;     /* user entries live */
    uint32_t free_head;  /* index of the first free entry, or UINT32_MAX */
    uint32_t free_tail;
    uint32_t kind_bits;  /* MPICH kind << VID_KIND_SHIFT */
    /* predefined handle -> entry index, open addressing, 0 = empty slot
     * (stored as index + 1) */
    uint32_t *predef_hash;
    uint32_t predef_hash_mask;
    /* real -> entry index + 1; 0 empty, UINT32_MAX deleted. Predefined
     * entries always; user entries when reverse_users. */
    uint32_t *rev_hash;
    uint32_t rev_mask, rev_used, rev_deleted;
    uint8_t reverse_users;
    /* 1 while every predefined entry's real equals its virtual id. */
    uint8_t predef_identity;
};

extern struct vid_table vid_tables[VID_NKINDS];

/* Sets up every table with its predefined entries (real = MPICH value).
 * Idempotent: a second call without vid_fini is a no-op. 0 or -1 (no
 * memory). vid_fini frees everything. */
int vid_init(void);
void vid_fini(void);

/* A new virtual id for the lower half's handle REAL, or VID_INVALID when
 * out of memory or of ids (or vid_init was not called). VID_INVALID
 * (0xffffffff) has kind bits 0xf, so it is never a valid id. */
#define VID_INVALID ((int32_t)-1)
int32_t vid_register(enum vid_kind kind, uint64_t real);
/* 0 and *REAL set, or -1 when VIRT is not a live or predefined id. */
int vid_lookup_slow(enum vid_kind kind, int32_t virt, uint64_t *real);
/* Releases a user id: 0, or -1 when VIRT is predefined, free or unknown. */
int vid_release(enum vid_kind kind, int32_t virt);
/* Sets the real handle of a live or predefined id (restart). 0 or -1. */
int vid_update_real(enum vid_kind kind, int32_t virt, uint64_t new_real);
/* The entry for VIRT (live or predefined), or NULL; valid until the next
 * vid_register on KIND. */
struct vid_entry *vid_entry_of(enum vid_kind kind, int32_t virt);
/* The caller's words of VIRT's entry, or NULL; same lifetime. */
uint64_t *vid_user(enum vid_kind kind, int32_t virt);
/* 1 when VIRT is a predefined handle of KIND, else 0. */
int vid_is_predefined(enum vid_kind kind, int32_t virt);
/* The live or predefined id whose real handle is REAL, or VID_INVALID.
 * User ids are found only for kinds with reverse lookup (see above). */
int32_t vid_find_real(enum vid_kind kind, uint64_t real);
/* Number of live user ids of KIND. */
uint32_t vid_live_count(enum vid_kind kind);

/* Iteration over the entries of KIND in index order (predefined first when
 * VID_ITER_PREDEFINED is given). Start with *cursor = 0; each call returns
 * the next entry, or NULL at the end. Registering during an iteration is
 * allowed (new entries may or may not be visited); releasing the entry
 * just returned is allowed. */
#define VID_ITER_USER 1u
#define VID_ITER_PREDEFINED 2u
struct vid_entry *vid_iter_next(enum vid_kind kind, unsigned what, uint32_t *cursor);

const char *vid_kind_name(enum vid_kind kind);

/* Fast path: user ids by index, predefined through the hash. */
static inline int vid_lookup(enum vid_kind kind, int32_t virt, uint64_t *real)
{
    uint32_t v = (uint32_t)virt;
    const struct vid_table *t = &vid_tables[kind];
    if (__builtin_expect((v & (VID_INDIRECT_BITS | VID_KIND_MASK)) == (VID_INDIRECT_BITS | t->kind_bits), 1)) {
        uint32_t idx = v & VID_INDEX_MASK;
        if (__builtin_expect(idx < t->n_entries, 1)) {
            const struct vid_entry *e = &t->entries[idx];
            if (__builtin_expect(e->virt == virt && e->state == VID_LIVE, 1)) {
                *real = e->real;
                return 0;
            }
        }
        return -1;
    }
    return vid_lookup_slow(kind, virt, real);
}

/* What the MPI wrappers use: vid_lookup, except that a handle that cannot
 * be a user id (not MPICH-indirect) is passed unchanged while predefined
 * handles are their own real handles. MPICH then checks it as it would
 * natively, and the common predefined case costs two compares. */
static inline __attribute__((always_inline)) int vid_real(enum vid_kind kind, int32_t virt, uint64_t *real)
{
    if ((((uint32_t)virt & VID_INDIRECT_BITS) != VID_INDIRECT_BITS) && vid_tables[kind].predef_identity) {
        *real = (uint64_t)(uint32_t)virt;
        return 0;
    }
    return vid_lookup(kind, virt, real);
}

#endif

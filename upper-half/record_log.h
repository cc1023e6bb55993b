/* Record log: the MPI constructor calls needed to rebuild the
 * application's MPI objects on a fresh lower half at restart.
 *
 * Each record has a sequence number (replay order), an op code, the
 * virtual ids it produced or modified ("outputs", 1..RL_MAX_OUT), the
 * virtual ids it depends on ("deps", any number; predefined handles may
 * appear and link to nothing) and its arguments as an opaque byte blob
 * (arrays included; the wrapper that appends a record defines its layout).
 *
 * Dependencies are bound when a record is appended: a dep id links to every
 * record present whose outputs include that id and whose output is not yet
 * freed (the constructor and any mutators such as TYPE_COMMIT). Binding to
 * records, not ids, keeps the links right when ids are reused.
 *
 * Pruning: rl_mark_freed(vid) flags that output of the records producing
 * it. A record whose outputs are all freed and that no remaining record
 * links to is dropped, and dropping it may in turn drop records it linked
 * to. A freed record still needed by a remaining dependant stays, flagged
 * RL_REC_FREED: replay recreates it, then frees it again.
 *
 * Serialised form (version 1), all integers little-endian:
 *   magic "MANARLOG" (8) | u32 version | u32 reserved (0)
 *   u64 next_seq | u64 n_records
 *   n_records x { u64 seq | u16 op | u16 reserved (0) | u8 n_out |
 *                 u8 out_freed | u16 reserved (0) | u32 n_dep | u32 n_link |
 *                 u32 blob_len | i32 out[n_out] | i32 dep[n_dep] |
 *                 u64 link_seq[n_link] | blob }
 *   u32 CRC-32 (IEEE) of every byte before it
 * Parsing checks bounds, the CRC, op codes, increasing seqs, links to
 * earlier records that output one of the deps, and no prunable records.
 *
 * Not thread safe: callers hold MANA's lower lock. Memory from malloc.
 */
#ifndef MANA_RECORD_LOG_H
#define MANA_RECORD_LOG_H

#include <stddef.h>
#include <stdint.h>

/* On-disk op codes: explicit, never renumbered, never reused. Add new ones
 * at free numbers and to rl_op_name. */
enum rl_op {
    /* communicators */
    RL_COMM_DUP = 1,
    RL_COMM_SPLIT = 2,
    RL_COMM_CREATE = 3,
    RL_COMM_CREATE_GROUP = 4,
    RL_COMM_SPLIT_TYPE = 5,
    RL_CART_CREATE = 6,
    RL_CART_SUB = 7,
    RL_GRAPH_CREATE = 8,
    RL_DIST_GRAPH_CREATE = 9,
    RL_DIST_GRAPH_CREATE_ADJACENT = 10,
    RL_INTERCOMM_CREATE = 11,
    RL_INTERCOMM_MERGE = 12,
    RL_COMM_DUP_WITH_INFO = 13,
    RL_COMM_SET_ERRHANDLER = 14, /* mutator: output is the comm */
    RL_COMM_SET_NAME = 15,       /* mutator */
    RL_COMM_SET_INFO = 16,       /* mutator */
    /* groups */
    RL_COMM_GROUP = 30,
    RL_GROUP_INCL = 31,
    RL_GROUP_EXCL = 32,
    RL_GROUP_RANGE_INCL = 33,
    RL_GROUP_RANGE_EXCL = 34,
    RL_GROUP_UNION = 35,
    RL_GROUP_INTERSECTION = 36,
    RL_GROUP_DIFFERENCE = 37,
    RL_COMM_REMOTE_GROUP = 38,
    /* datatypes */
    RL_TYPE_CONTIGUOUS = 50,
    RL_TYPE_VECTOR = 51,
    RL_TYPE_CREATE_HVECTOR = 52,
    RL_TYPE_INDEXED = 53,
    RL_TYPE_CREATE_HINDEXED = 54,
    RL_TYPE_CREATE_INDEXED_BLOCK = 55,
    RL_TYPE_CREATE_HINDEXED_BLOCK = 56,
    RL_TYPE_CREATE_STRUCT = 57,
    RL_TYPE_CREATE_SUBARRAY = 58,
    RL_TYPE_CREATE_DARRAY = 59,
    RL_TYPE_CREATE_RESIZED = 60,
    RL_TYPE_DUP = 61,
    RL_TYPE_COMMIT = 62, /* mutator: output is the type */
    RL_TYPE_CREATE_F90_INTEGER = 63,
    RL_TYPE_CREATE_F90_REAL = 64,
    RL_TYPE_CREATE_F90_COMPLEX = 65,
    RL_TYPE_SET_NAME = 66, /* mutator */
    /* ops, errhandlers */
    RL_OP_CREATE = 80,
    RL_COMM_CREATE_ERRHANDLER = 81,
    /* info */
    RL_INFO_CREATE = 90,
    RL_INFO_DUP = 91,
    RL_INFO_SET = 92,    /* mutator */
    RL_INFO_DELETE = 93, /* mutator */
    /* keyvals and attributes */
    RL_COMM_CREATE_KEYVAL = 100,
    RL_TYPE_CREATE_KEYVAL = 101,
    RL_COMM_SET_ATTR = 102, /* mutator: outputs the comm; deps the keyval */
    RL_COMM_DELETE_ATTR = 103,
    RL_TYPE_SET_ATTR = 104,
    RL_TYPE_DELETE_ATTR = 105,
    /* Added with the generated wrappers (the op code of a function is
     * RL_ + its name without MPI_, upper case; the generator relies on
     * it). */
    RL_COMM_IDUP = 17,
    RL_COMM_IDUP_WITH_INFO = 18,
    RL_COMM_GET_INFO = 19,
    RL_COMM_GET_ERRHANDLER = 20,
    RL_ERRHANDLER_GET = 21,
    RL_ERRHANDLER_SET = 22,
    RL_ATTR_PUT = 23,
    RL_ATTR_DELETE = 24,
    RL_TYPE_HVECTOR = 67,
    RL_TYPE_HINDEXED = 68,
    RL_TYPE_STRUCT = 69,
    RL_ERRHANDLER_CREATE = 82,
    RL_WIN_CREATE_ERRHANDLER = 83,
    RL_KEYVAL_CREATE = 106,
    RL_WIN_CREATE_KEYVAL = 107,
    RL_SEND_INIT = 120,
    RL_BSEND_INIT = 121,
    RL_SSEND_INIT = 122,
    RL_RSEND_INIT = 123,
    RL_RECV_INIT = 124,
    RL_ALLGATHER_INIT = 130,
    RL_ALLGATHERV_INIT = 131,
    RL_ALLREDUCE_INIT = 132,
    RL_ALLTOALL_INIT = 133,
    RL_ALLTOALLV_INIT = 134,
    RL_ALLTOALLW_INIT = 135,
    RL_BARRIER_INIT = 136,
    RL_BCAST_INIT = 137,
    RL_EXSCAN_INIT = 138,
    RL_GATHER_INIT = 139,
    RL_GATHERV_INIT = 140,
    RL_NEIGHBOR_ALLGATHER_INIT = 141,
    RL_NEIGHBOR_ALLGATHERV_INIT = 142,
    RL_NEIGHBOR_ALLTOALL_INIT = 143,
    RL_NEIGHBOR_ALLTOALLV_INIT = 144,
    RL_NEIGHBOR_ALLTOALLW_INIT = 145,
    RL_REDUCE_INIT = 146,
    RL_REDUCE_SCATTER_BLOCK_INIT = 147,
    RL_REDUCE_SCATTER_INIT = 148,
    RL_SCAN_INIT = 149,
    RL_SCATTER_INIT = 150,
    RL_SCATTERV_INIT = 151,
    RL_OP_MAX_CODE = 255 /* codes are < 256 for now; the field is 16 bits */
};

#define RL_MAX_OUT 8
#define RL_REC_FREED 1u /* every output freed; replay recreates then frees */
#define RL_VERSION 1u

struct rl_record {
    uint64_t seq;
    uint16_t op;        /* enum rl_op */
    uint8_t n_out;      /* 1..RL_MAX_OUT */
    uint8_t out_freed;  /* bit i: out[i] has been freed */
    uint32_t flags;     /* RL_REC_* */
    int32_t out[RL_MAX_OUT];
    uint32_t n_dep;
    const int32_t *dep;
    uint32_t blob_len;
    const void *blob;
};

struct rl_log;

struct rl_log *rl_create(void);
void rl_destroy(struct rl_log *log);

/* Appends a record; 0 and *SEQ (if not NULL), or -1 (bad arguments: n_out
 * 0 or > RL_MAX_OUT, unknown op, blob over 1 GiB; or no memory). */
int rl_append(struct rl_log *log, enum rl_op op, const int32_t *out, unsigned n_out, const int32_t *dep,
              unsigned n_dep, const void *blob, size_t blob_len, uint64_t *seq);
/* The object VID was freed: flags it in the records that produced or
 * modified it (and were not already freed for it), then prunes. Returns
 * the number of records flagged (0: nothing recorded VID, e.g. a
 * predefined handle). */
unsigned rl_mark_freed(struct rl_log *log, int32_t vid);

/* Records present, and iteration in replay (sequence) order: start with
 * *cursor = 0; NULL at the end. Appending or freeing invalidates cursors. */
size_t rl_count(const struct rl_log *log);
const struct rl_record *rl_iter_next(const struct rl_log *log, size_t *cursor);
const struct rl_record *rl_find(const struct rl_log *log, uint64_t seq);
/* Sequence numbers of the records REC links to (n_link of them). */
size_t rl_links(const struct rl_log *log, const struct rl_record *rec, const uint64_t **seqs);
/* Number of remaining records that link to REC. */
uint32_t rl_dependants(const struct rl_record *rec);

/* Serialises the log into a malloc'd buffer: 0, or -1 (no memory). */
int rl_serialize(const struct rl_log *log, uint8_t **buf, size_t *len);
/* Parses a serialised log: a new log, or NULL with a message in ERR. Never
 * reads outside BUF[0, LEN). */
struct rl_log *rl_deserialize(const void *buf, size_t len, char *err, size_t errlen);

const char *rl_op_name(unsigned op); /* NULL for unknown codes */
uint32_t rl_crc32(const void *buf, size_t len);

#endif

/* Record log of MPI constructor calls: see record_log.h. */
#include "record_log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "u64_map.h"

struct rl_rec {
    struct rl_record pub; /* first: rl_record pointers convert back */
    struct rl_rec **links;
    uint64_t *link_seqs;
    uint32_t n_link;
    uint32_t n_dependants;
    size_t slot;
    /* The next older record with the same unfreed output, per output
     * (only the first of equal outputs is chained). */
    struct rl_rec *older[RL_MAX_OUT];
    uint64_t stamp; /* the append that last took it as a link */
};

struct rl_log {
    struct rl_rec **recs; /* by seq; NULL holes where records were dropped */
    size_t n_slots, cap, n_live;
    uint64_t next_seq;
    uint64_t last_stamp;
    /* Each id that is an unfreed output of some record: the newest such
     * record, whose older[] chain holds the rest. Appends and frees then
     * cost the records of their ids, not a scan of the whole log, which
     * a program creating and freeing objects in a loop makes long. */
    struct u64_map producers;
};

#define RL_MAX_BLOB (1u << 30)
#define RL_HEADER_SIZE 32u
#define RL_REC_FIXED 28u

static const char *const op_names[RL_OP_MAX_CODE + 1] = {
    [RL_COMM_DUP] = "COMM_DUP",
    [RL_COMM_SPLIT] = "COMM_SPLIT",
    [RL_COMM_CREATE] = "COMM_CREATE",
    [RL_COMM_CREATE_GROUP] = "COMM_CREATE_GROUP",
    [RL_COMM_SPLIT_TYPE] = "COMM_SPLIT_TYPE",
    [RL_CART_CREATE] = "CART_CREATE",
    [RL_CART_SUB] = "CART_SUB",
    [RL_GRAPH_CREATE] = "GRAPH_CREATE",
    [RL_DIST_GRAPH_CREATE] = "DIST_GRAPH_CREATE",
    [RL_DIST_GRAPH_CREATE_ADJACENT] = "DIST_GRAPH_CREATE_ADJACENT",
    [RL_INTERCOMM_CREATE] = "INTERCOMM_CREATE",
    [RL_INTERCOMM_MERGE] = "INTERCOMM_MERGE",
    [RL_COMM_DUP_WITH_INFO] = "COMM_DUP_WITH_INFO",
    [RL_COMM_SET_ERRHANDLER] = "COMM_SET_ERRHANDLER",
    [RL_COMM_SET_NAME] = "COMM_SET_NAME",
    [RL_COMM_SET_INFO] = "COMM_SET_INFO",
    [RL_COMM_GROUP] = "COMM_GROUP",
    [RL_GROUP_INCL] = "GROUP_INCL",
    [RL_GROUP_EXCL] = "GROUP_EXCL",
    [RL_GROUP_RANGE_INCL] = "GROUP_RANGE_INCL",
    [RL_GROUP_RANGE_EXCL] = "GROUP_RANGE_EXCL",
    [RL_GROUP_UNION] = "GROUP_UNION",
    [RL_GROUP_INTERSECTION] = "GROUP_INTERSECTION",
    [RL_GROUP_DIFFERENCE] = "GROUP_DIFFERENCE",
    [RL_COMM_REMOTE_GROUP] = "COMM_REMOTE_GROUP",
    [RL_TYPE_CONTIGUOUS] = "TYPE_CONTIGUOUS",
    [RL_TYPE_VECTOR] = "TYPE_VECTOR",
    [RL_TYPE_CREATE_HVECTOR] = "TYPE_CREATE_HVECTOR",
    [RL_TYPE_INDEXED] = "TYPE_INDEXED",
    [RL_TYPE_CREATE_HINDEXED] = "TYPE_CREATE_HINDEXED",
    [RL_TYPE_CREATE_INDEXED_BLOCK] = "TYPE_CREATE_INDEXED_BLOCK",
    [RL_TYPE_CREATE_HINDEXED_BLOCK] = "TYPE_CREATE_HINDEXED_BLOCK",
    [RL_TYPE_CREATE_STRUCT] = "TYPE_CREATE_STRUCT",
    [RL_TYPE_CREATE_SUBARRAY] = "TYPE_CREATE_SUBARRAY",
    [RL_TYPE_CREATE_DARRAY] = "TYPE_CREATE_DARRAY",
    [RL_TYPE_CREATE_RESIZED] = "TYPE_CREATE_RESIZED",
    [RL_TYPE_DUP] = "TYPE_DUP",
    [RL_TYPE_COMMIT] = "TYPE_COMMIT",
    [RL_TYPE_CREATE_F90_INTEGER] = "TYPE_CREATE_F90_INTEGER",
    [RL_TYPE_CREATE_F90_REAL] = "TYPE_CREATE_F90_REAL",
    [RL_TYPE_CREATE_F90_COMPLEX] = "TYPE_CREATE_F90_COMPLEX",
    [RL_TYPE_SET_NAME] = "TYPE_SET_NAME",
    [RL_OP_CREATE] = "OP_CREATE",
    [RL_COMM_CREATE_ERRHANDLER] = "COMM_CREATE_ERRHANDLER",
    [RL_INFO_CREATE] = "INFO_CREATE",
    [RL_INFO_DUP] = "INFO_DUP",
    [RL_INFO_SET] = "INFO_SET",
    [RL_INFO_DELETE] = "INFO_DELETE",
    [RL_COMM_CREATE_KEYVAL] = "COMM_CREATE_KEYVAL",
    [RL_TYPE_CREATE_KEYVAL] = "TYPE_CREATE_KEYVAL",
    [RL_COMM_SET_ATTR] = "COMM_SET_ATTR",
    [RL_COMM_DELETE_ATTR] = "COMM_DELETE_ATTR",
    [RL_TYPE_SET_ATTR] = "TYPE_SET_ATTR",
    [RL_TYPE_DELETE_ATTR] = "TYPE_DELETE_ATTR",
    [RL_COMM_IDUP] = "COMM_IDUP",
    [RL_COMM_IDUP_WITH_INFO] = "COMM_IDUP_WITH_INFO",
    [RL_COMM_GET_INFO] = "COMM_GET_INFO",
    [RL_COMM_GET_ERRHANDLER] = "COMM_GET_ERRHANDLER",
    [RL_ERRHANDLER_GET] = "ERRHANDLER_GET",
    [RL_ERRHANDLER_SET] = "ERRHANDLER_SET",
    [RL_ATTR_PUT] = "ATTR_PUT",
    [RL_ATTR_DELETE] = "ATTR_DELETE",
    [RL_TYPE_HVECTOR] = "TYPE_HVECTOR",
    [RL_TYPE_HINDEXED] = "TYPE_HINDEXED",
    [RL_TYPE_STRUCT] = "TYPE_STRUCT",
    [RL_ERRHANDLER_CREATE] = "ERRHANDLER_CREATE",
    [RL_WIN_CREATE_ERRHANDLER] = "WIN_CREATE_ERRHANDLER",
    [RL_KEYVAL_CREATE] = "KEYVAL_CREATE",
    [RL_WIN_CREATE_KEYVAL] = "WIN_CREATE_KEYVAL",
    [RL_SEND_INIT] = "SEND_INIT",
    [RL_BSEND_INIT] = "BSEND_INIT",
    [RL_SSEND_INIT] = "SSEND_INIT",
    [RL_RSEND_INIT] = "RSEND_INIT",
    [RL_RECV_INIT] = "RECV_INIT",
    [RL_ALLGATHER_INIT] = "ALLGATHER_INIT",
    [RL_ALLGATHERV_INIT] = "ALLGATHERV_INIT",
    [RL_ALLREDUCE_INIT] = "ALLREDUCE_INIT",
    [RL_ALLTOALL_INIT] = "ALLTOALL_INIT",
    [RL_ALLTOALLV_INIT] = "ALLTOALLV_INIT",
    [RL_ALLTOALLW_INIT] = "ALLTOALLW_INIT",
    [RL_BARRIER_INIT] = "BARRIER_INIT",
    [RL_BCAST_INIT] = "BCAST_INIT",
    [RL_EXSCAN_INIT] = "EXSCAN_INIT",
    [RL_GATHER_INIT] = "GATHER_INIT",
    [RL_GATHERV_INIT] = "GATHERV_INIT",
    [RL_NEIGHBOR_ALLGATHER_INIT] = "NEIGHBOR_ALLGATHER_INIT",
    [RL_NEIGHBOR_ALLGATHERV_INIT] = "NEIGHBOR_ALLGATHERV_INIT",
    [RL_NEIGHBOR_ALLTOALL_INIT] = "NEIGHBOR_ALLTOALL_INIT",
    [RL_NEIGHBOR_ALLTOALLV_INIT] = "NEIGHBOR_ALLTOALLV_INIT",
    [RL_NEIGHBOR_ALLTOALLW_INIT] = "NEIGHBOR_ALLTOALLW_INIT",
    [RL_REDUCE_INIT] = "REDUCE_INIT",
    [RL_REDUCE_SCATTER_BLOCK_INIT] = "REDUCE_SCATTER_BLOCK_INIT",
    [RL_REDUCE_SCATTER_INIT] = "REDUCE_SCATTER_INIT",
    [RL_SCAN_INIT] = "SCAN_INIT",
    [RL_SCATTER_INIT] = "SCATTER_INIT",
    [RL_SCATTERV_INIT] = "SCATTERV_INIT",
};

const char *rl_op_name(unsigned op)
{
    return op <= RL_OP_MAX_CODE ? op_names[op] : NULL;
}

/* CRC-32 (IEEE 802.3, reflected, as zlib's crc32), over what precedes the
 * trailer; computed here so that libmana links no compression library. */
uint32_t rl_crc32(const void *buf, size_t len)
{
    static uint32_t table[256];
    static int ready;
    if (!ready) {
        for (uint32_t i = 0; i < 256; i++) {
            uint32_t c = i;
            for (int k = 0; k < 8; k++)
                c = c & 1 ? 0xedb88320u ^ (c >> 1) : c >> 1;
            table[i] = c;
        }
        ready = 1;
    }
    uint32_t crc = 0xffffffffu;
    const uint8_t *p = buf;
    for (size_t i = 0; i < len; i++)
        crc = table[(crc ^ p[i]) & 0xff] ^ (crc >> 8);
    return crc ^ 0xffffffffu;
}

struct rl_log *rl_create(void)
{
    struct rl_log *log = calloc(1, sizeof *log);
    if (log)
        log->next_seq = 1;
    return log;
}

static void rec_free(struct rl_rec *r)
{
    if (!r)
        return;
    free((void *)r->pub.dep);
    free((void *)r->pub.blob);
    free(r->links);
    free(r->link_seqs);
    free(r);
}

void rl_destroy(struct rl_log *log)
{
    if (!log)
        return;
    for (size_t i = 0; i < log->n_slots; i++)
        rec_free(log->recs[i]);
    free(log->recs);
    u64_map_free(&log->producers);
    free(log);
}

static int all_freed(const struct rl_rec *r)
{
    return r->pub.out_freed == (uint8_t)((1u << r->pub.n_out) - 1u);
}

static int push_slot(struct rl_log *log, struct rl_rec *r)
{
    if (log->n_slots == log->cap) {
        size_t cap = log->cap ? log->cap * 2 : 64;
        struct rl_rec **n = realloc(log->recs, cap * sizeof *n);
        if (!n)
            return -1;
        log->recs = n;
        log->cap = cap;
    }
    r->slot = log->n_slots;
    log->recs[log->n_slots++] = r;
    log->n_live++;
    return 0;
}

/* Allocates a record with its arrays; links are filled by the caller. */
static struct rl_rec *rec_new(unsigned op, const int32_t *out, unsigned n_out, const int32_t *dep, uint32_t n_dep,
                              const void *blob, size_t blob_len, uint32_t n_link)
{
    struct rl_rec *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    r->pub.op = (uint16_t)op;
    r->pub.n_out = (uint8_t)n_out;
    memcpy(r->pub.out, out, n_out * sizeof *out);
    r->pub.n_dep = n_dep;
    r->pub.blob_len = (uint32_t)blob_len;
    int32_t *d = malloc((n_dep ? n_dep : 1) * sizeof *d);
    uint8_t *b = malloc(blob_len ? blob_len : 1);
    r->links = malloc((n_link ? n_link : 1) * sizeof *r->links);
    r->link_seqs = malloc((n_link ? n_link : 1) * sizeof *r->link_seqs);
    r->pub.dep = d;
    r->pub.blob = b;
    if (!d || !b || !r->links || !r->link_seqs) {
        rec_free(r);
        return NULL;
    }
    if (n_dep)
        memcpy(d, dep, n_dep * sizeof *d);
    if (blob_len)
        memcpy(b, blob, blob_len);
    return r;
}

static int outputs(const struct rl_rec *r, int32_t vid)
{
    for (unsigned i = 0; i < r->pub.n_out; i++)
        if (r->pub.out[i] == vid)
            return 1;
    return 0;
}

/* The index of R's first output VID (R has it). */
static unsigned first_output(const struct rl_rec *r, int32_t vid)
{
    unsigned i = 0;
    while (r->pub.out[i] != vid)
        i++;
    return i;
}

static struct rl_rec *newest_producer(const struct rl_log *log, int32_t vid)
{
    const uint64_t *v = u64_map_get(&log->producers, (uint64_t)(uint32_t)vid);
    return v ? (struct rl_rec *)(uintptr_t)*v : NULL;
}

static struct rl_rec *older_producer(const struct rl_rec *r, int32_t vid)
{
    return r->older[first_output(r, vid)];
}

/* Makes R the newest producer of each of its unfreed outputs. */
static int chain_outputs(struct rl_log *log, struct rl_rec *r)
{
    for (unsigned i = 0; i < r->pub.n_out; i++) {
        int32_t vid = r->pub.out[i];
        if ((r->pub.out_freed & (1u << i)) || first_output(r, vid) != i)
            continue;
        r->older[i] = newest_producer(log, vid);
        if (u64_map_put(&log->producers, (uint64_t)(uint32_t)vid, (uint64_t)(uintptr_t)r) != 0)
            return -1;
    }
    return 0;
}

/* Undoes chain_outputs for R, which did not make it into the log. */
static void unchain_new(struct rl_log *log, struct rl_rec *r)
{
    for (unsigned i = 0; i < r->pub.n_out; i++) {
        int32_t vid = r->pub.out[i];
        if ((r->pub.out_freed & (1u << i)) || first_output(r, vid) != i || newest_producer(log, vid) != r)
            continue;
        if (r->older[i])
            u64_map_put(&log->producers, (uint64_t)(uint32_t)vid, (uint64_t)(uintptr_t)r->older[i]);
        else
            u64_map_del(&log->producers, (uint64_t)(uint32_t)vid);
    }
}

static int by_seq(const void *a, const void *b)
{
    uint64_t x = (*(struct rl_rec *const *)a)->pub.seq, y = (*(struct rl_rec *const *)b)->pub.seq;
    return x < y ? -1 : x > y;
}

int rl_append(struct rl_log *log, enum rl_op op, const int32_t *out, unsigned n_out, const int32_t *dep,
              unsigned n_dep, const void *blob, size_t blob_len, uint64_t *seq)
{
    if (!log || !rl_op_name((unsigned)op) || n_out == 0 || n_out > RL_MAX_OUT || !out || (n_dep && !dep) ||
        blob_len > RL_MAX_BLOB || (blob_len && !blob))
        return -1;
    /* The links: every present record that outputs a dep, unfreed, once
     * even when it outputs two deps, in the order of the log. */
    uint64_t stamp = ++log->last_stamp;
    uint32_t n_link = 0;
    for (unsigned j = 0; j < n_dep; j++)
        for (struct rl_rec *p = newest_producer(log, dep[j]); p; p = older_producer(p, dep[j]))
            if (p->stamp != stamp) {
                p->stamp = stamp;
                n_link++;
            }
    struct rl_rec *r = rec_new((unsigned)op, out, n_out, dep, n_dep, blob, blob_len, n_link);
    if (!r)
        return -1;
    uint32_t k = 0;
    for (unsigned j = 0; j < n_dep; j++)
        for (struct rl_rec *p = newest_producer(log, dep[j]); p; p = older_producer(p, dep[j]))
            if (p->stamp == stamp) {
                p->stamp = 0; /* taken: not again through another dep */
                r->links[k++] = p;
            }
    qsort(r->links, n_link, sizeof *r->links, by_seq);
    for (uint32_t i = 0; i < n_link; i++)
        r->link_seqs[i] = r->links[i]->pub.seq;
    r->n_link = n_link;
    r->pub.seq = log->next_seq;
    if (chain_outputs(log, r) != 0 || push_slot(log, r) != 0) {
        unchain_new(log, r);
        rec_free(r);
        return -1;
    }
    for (uint32_t i = 0; i < n_link; i++)
        r->links[i]->n_dependants++;
    log->next_seq++;
    if (seq)
        *seq = r->pub.seq;
    return 0;
}

static void compact(struct rl_log *log)
{
    size_t w = 0;
    for (size_t s = 0; s < log->n_slots; s++)
        if (log->recs[s]) {
            log->recs[s]->slot = w;
            log->recs[w++] = log->recs[s];
        }
    log->n_slots = w;
}

/* A communicator made by a call that is collective over its parent: when
 * this rank frees it, other members may still hold theirs, and their
 * restart replays the call, which waits for every member. So its record
 * stays (flagged freed: replayed on every member, then freed again). */
static int collective_constructor(const struct rl_rec *r)
{
    unsigned op = r->pub.op;
    return (op >= RL_COMM_DUP && op <= RL_COMM_DUP_WITH_INFO) || op == RL_COMM_IDUP || op == RL_COMM_IDUP_WITH_INFO;
}

/* Drops R if it is prunable, then whatever that makes prunable. */
static void prune_from(struct rl_log *log, struct rl_rec *r)
{
    while (r) {
        if (!all_freed(r) || r->n_dependants != 0 || collective_constructor(r))
            return;
        log->recs[r->slot] = NULL;
        log->n_live--;
        /* Recurse on all but the last link; the last is the loop (chains
         * of single links, the common case, use no stack). */
        struct rl_rec *next = NULL;
        for (uint32_t i = 0; i < r->n_link; i++) {
            struct rl_rec *p = r->links[i];
            p->n_dependants--;
            if (i + 1 < r->n_link)
                prune_from(log, p);
            else
                next = p;
        }
        rec_free(r);
        r = next;
    }
}

unsigned rl_mark_freed(struct rl_log *log, int32_t vid)
{
    if (!log)
        return 0;
    unsigned n = 0;
    struct rl_rec *hit = newest_producer(log, vid);
    u64_map_del(&log->producers, (uint64_t)(uint32_t)vid);
    while (hit) {
        struct rl_rec *older = older_producer(hit, vid);
        for (unsigned i = 0; i < hit->pub.n_out; i++)
            if (hit->pub.out[i] == vid)
                hit->pub.out_freed |= (uint8_t)(1u << i);
        n++;
        if (all_freed(hit)) {
            hit->pub.flags |= RL_REC_FREED;
            /* Dropping it may drop what it links to, never what the
             * chain still holds: those output VID, unfreed until now. */
            prune_from(log, hit);
        }
        hit = older;
    }
    if (n && log->n_slots - log->n_live > 32 && log->n_slots - log->n_live > log->n_live)
        compact(log);
    return n;
}

size_t rl_count(const struct rl_log *log)
{
    return log ? log->n_live : 0;
}

const struct rl_record *rl_iter_next(const struct rl_log *log, size_t *cursor)
{
    if (!log)
        return NULL;
    for (size_t s = *cursor; s < log->n_slots; s++)
        if (log->recs[s]) {
            *cursor = s + 1;
            return &log->recs[s]->pub;
        }
    *cursor = log->n_slots;
    return NULL;
}

static struct rl_rec *find_rec(struct rl_rec *const *recs, size_t n, uint64_t seq)
{
    /* Binary search over slots that may hold NULL holes: step off holes. */
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2, m = mid;
        while (m < hi && !recs[m])
            m++;
        if (m == hi) {
            hi = mid;
            continue;
        }
        if (recs[m]->pub.seq == seq)
            return recs[m];
        if (recs[m]->pub.seq < seq)
            lo = m + 1;
        else
            hi = mid;
    }
    return NULL;
}

const struct rl_record *rl_find(const struct rl_log *log, uint64_t seq)
{
    struct rl_rec *r = log ? find_rec(log->recs, log->n_slots, seq) : NULL;
    return r ? &r->pub : NULL;
}

size_t rl_links(const struct rl_log *log, const struct rl_record *rec, const uint64_t **seqs)
{
    (void)log;
    const struct rl_rec *r = (const struct rl_rec *)rec;
    *seqs = r->link_seqs;
    return r->n_link;
}

uint32_t rl_dependants(const struct rl_record *rec)
{
    return ((const struct rl_rec *)rec)->n_dependants;
}

/* --- serialisation ---------------------------------------------------- */

static uint8_t *put(uint8_t *p, uint64_t v, unsigned bytes)
{
    for (unsigned i = 0; i < bytes; i++)
        *p++ = (uint8_t)(v >> (8 * i));
    return p;
}

int rl_serialize(const struct rl_log *log, uint8_t **buf, size_t *len)
{
    size_t total = RL_HEADER_SIZE + 4;
    for (size_t s = 0; s < log->n_slots; s++) {
        const struct rl_rec *r = log->recs[s];
        if (r)
            total += RL_REC_FIXED + 4u * r->pub.n_out + 4u * (size_t)r->pub.n_dep + 8u * (size_t)r->n_link +
                     r->pub.blob_len;
    }
    uint8_t *b = malloc(total), *p = b;
    if (!b)
        return -1;
    memcpy(p, "MANARLOG", 8);
    p += 8;
    p = put(p, RL_VERSION, 4);
    p = put(p, 0, 4);
    p = put(p, log->next_seq, 8);
    p = put(p, log->n_live, 8);
    for (size_t s = 0; s < log->n_slots; s++) {
        const struct rl_rec *r = log->recs[s];
        if (!r)
            continue;
        p = put(p, r->pub.seq, 8);
        p = put(p, r->pub.op, 2);
        p = put(p, 0, 2);
        p = put(p, r->pub.n_out, 1);
        p = put(p, r->pub.out_freed, 1);
        p = put(p, 0, 2);
        p = put(p, r->pub.n_dep, 4);
        p = put(p, r->n_link, 4);
        p = put(p, r->pub.blob_len, 4);
        for (unsigned i = 0; i < r->pub.n_out; i++)
            p = put(p, (uint32_t)r->pub.out[i], 4);
        for (uint32_t i = 0; i < r->pub.n_dep; i++)
            p = put(p, (uint32_t)r->pub.dep[i], 4);
        for (uint32_t i = 0; i < r->n_link; i++)
            p = put(p, r->link_seqs[i], 8);
        if (r->pub.blob_len)
            memcpy(p, r->pub.blob, r->pub.blob_len);
        p += r->pub.blob_len;
    }
    p = put(p, rl_crc32(b, (size_t)(p - b)), 4);
    *buf = b;
    *len = (size_t)(p - b);
    return 0;
}

struct reader {
    const uint8_t *p;
    size_t len, off;
};

static int rd(struct reader *r, unsigned bytes, uint64_t *v)
{
    if (r->len - r->off < bytes)
        return -1;
    uint64_t x = 0;
    for (unsigned i = 0; i < bytes; i++)
        x |= (uint64_t)r->p[r->off + i] << (8 * i);
    r->off += bytes;
    *v = x;
    return 0;
}

static void seterr(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void seterr(char *err, size_t errlen, const char *fmt, ...)
{
    if (!err || !errlen)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

#define FAIL(...)                                                                                                      \
    do {                                                                                                               \
        seterr(err, errlen, __VA_ARGS__);                                                                              \
        goto fail;                                                                                                     \
    } while (0)
#define READ(bytes, var, what)                                                                                         \
    do {                                                                                                               \
        if (rd(&in, (bytes), &(var)) != 0)                                                                             \
            FAIL("record log: truncated at offset %zu (reading %s)", in.off, what);                                   \
    } while (0)

struct rl_log *rl_deserialize(const void *buf, size_t len, char *err, size_t errlen)
{
    struct rl_log *log = NULL;
    struct rl_rec *r = NULL;
    int32_t *tmp_dep = NULL;
    if (!buf && len)
        len = 0;
    if (len < RL_HEADER_SIZE + 4) {
        seterr(err, errlen, "record log: %zu bytes, shorter than the header", len);
        return NULL;
    }
    struct reader in = {buf, len - 4, 0};
    uint64_t v, crc_stored;
    struct reader tail = {buf, len, len - 4};
    rd(&tail, 4, &crc_stored);
    if (memcmp(buf, "MANARLOG", 8) != 0) {
        seterr(err, errlen, "record log: bad magic");
        return NULL;
    }
    uint32_t crc = rl_crc32(buf, len - 4);
    if (crc != (uint32_t)crc_stored) {
        seterr(err, errlen, "record log: checksum mismatch (stored %08x, computed %08x): corrupt or truncated",
               (uint32_t)crc_stored, crc);
        return NULL;
    }
    log = rl_create();
    if (!log) {
        seterr(err, errlen, "record log: out of memory");
        return NULL;
    }
    in.off = 8;
    READ(4, v, "version");
    if (v != RL_VERSION)
        FAIL("record log: version %llu, this build reads %u", (unsigned long long)v, RL_VERSION);
    READ(4, v, "reserved");
    if (v != 0)
        FAIL("record log: reserved header field is %llu, not 0", (unsigned long long)v);
    uint64_t next_seq, n_rec;
    READ(8, next_seq, "next_seq");
    READ(8, n_rec, "n_records");
    if (n_rec > (in.len - in.off) / (RL_REC_FIXED + 4))
        FAIL("record log: %llu records cannot fit in %zu bytes", (unsigned long long)n_rec, in.len - in.off);
    uint64_t prev_seq = 0;
    for (uint64_t i = 0; i < n_rec; i++) {
        uint64_t seq, op, n_out, out_freed, n_dep, n_link, blob_len;
        size_t at = in.off;
        READ(8, seq, "seq");
        READ(2, op, "op");
        READ(2, v, "reserved");
        if (v != 0)
            FAIL("record log: record at offset %zu: reserved field not 0", at);
        READ(1, n_out, "n_out");
        READ(1, out_freed, "out_freed");
        READ(2, v, "reserved");
        if (v != 0)
            FAIL("record log: record at offset %zu: reserved field not 0", at);
        READ(4, n_dep, "n_dep");
        READ(4, n_link, "n_link");
        READ(4, blob_len, "blob_len");
        if (seq <= prev_seq || seq >= next_seq)
            FAIL("record log: record at offset %zu: sequence %llu out of order", at, (unsigned long long)seq);
        prev_seq = seq;
        if (!rl_op_name((unsigned)op))
            FAIL("record log: record %llu: unknown op code %llu", (unsigned long long)seq, (unsigned long long)op);
        if (n_out == 0 || n_out > RL_MAX_OUT)
            FAIL("record log: record %llu: %llu outputs", (unsigned long long)seq, (unsigned long long)n_out);
        if (out_freed >> n_out)
            FAIL("record log: record %llu: freed bits beyond its outputs", (unsigned long long)seq);
        if (blob_len > RL_MAX_BLOB)
            FAIL("record log: record %llu: blob of %llu bytes", (unsigned long long)seq,
                 (unsigned long long)blob_len);
        uint64_t need = 4 * n_out + 4 * n_dep + 8 * n_link + blob_len; /* < 2^37: no overflow */
        if (need > in.len - in.off)
            FAIL("record log: record %llu: truncated (needs %llu bytes, %zu left)", (unsigned long long)seq,
                 (unsigned long long)need, in.len - in.off);
        if (n_link > log->n_slots)
            FAIL("record log: record %llu: %llu links but only %zu earlier records", (unsigned long long)seq,
                 (unsigned long long)n_link, log->n_slots);
        int32_t outv[RL_MAX_OUT];
        for (unsigned j = 0; j < n_out; j++) {
            READ(4, v, "output");
            outv[j] = (int32_t)(uint32_t)v;
        }
        tmp_dep = malloc((n_dep ? n_dep : 1) * sizeof *tmp_dep);
        if (!tmp_dep)
            FAIL("record log: out of memory");
        for (uint64_t j = 0; j < n_dep; j++) {
            READ(4, v, "dependency");
            tmp_dep[j] = (int32_t)(uint32_t)v;
        }
        r = rec_new((unsigned)op, outv, (unsigned)n_out, tmp_dep, (uint32_t)n_dep, in.p + in.off + 8 * n_link,
                    blob_len, (uint32_t)n_link);
        free(tmp_dep);
        tmp_dep = NULL;
        if (!r)
            FAIL("record log: out of memory");
        r->pub.seq = seq;
        r->pub.out_freed = (uint8_t)out_freed;
        if (all_freed(r))
            r->pub.flags |= RL_REC_FREED;
        for (uint64_t j = 0; j < n_link; j++) {
            uint64_t ls;
            READ(8, ls, "link");
            struct rl_rec *p = find_rec(log->recs, log->n_slots, ls);
            if (!p)
                FAIL("record log: record %llu: link to %llu, no such earlier record", (unsigned long long)seq,
                     (unsigned long long)ls);
            int ok = 0;
            for (uint32_t d = 0; d < r->pub.n_dep && !ok; d++)
                ok = outputs(p, r->pub.dep[d]);
            if (!ok)
                FAIL("record log: record %llu: linked record %llu produces none of its dependencies",
                     (unsigned long long)seq, (unsigned long long)ls);
            for (uint64_t q = 0; q < j; q++)
                if (r->link_seqs[q] == ls)
                    FAIL("record log: record %llu: duplicate link to %llu", (unsigned long long)seq,
                         (unsigned long long)ls);
            r->links[j] = p;
            r->link_seqs[j] = ls;
            r->n_link = (uint32_t)j + 1;
        }
        in.off += blob_len;
        if (chain_outputs(log, r) != 0 || push_slot(log, r) != 0) {
            unchain_new(log, r);
            FAIL("record log: out of memory");
        }
        for (uint32_t j = 0; j < r->n_link; j++)
            r->links[j]->n_dependants++;
        r = NULL;
    }
    if (in.off != in.len)
        FAIL("record log: %zu unexpected bytes after the last record", in.len - in.off);
    for (size_t s = 0; s < log->n_slots; s++)
        if (all_freed(log->recs[s]) && log->recs[s]->n_dependants == 0)
            FAIL("record log: record %llu is freed and unused, so should have been pruned",
                 (unsigned long long)log->recs[s]->pub.seq);
    log->next_seq = next_seq;
    return log;
fail:
    free(tmp_dep);
    rec_free(r);
    rl_destroy(log);
    return NULL;
}

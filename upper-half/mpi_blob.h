/* The argument blob of a record-log record: what a generated wrapper
 * writes when it logs a constructor or mutator, and what the generated
 * replay reads back to call the same function again on a fresh lower
 * half. Both sides are generated from the same parameter list
 * (mpi-wrappers/gen_wrappers.py), so the layout is simply the inputs in
 * parameter order:
 *   scalar      its bytes (sizeof the C type)
 *   pointer     u64 value (buffers, callbacks, attribute values: upper
 *               memory, at the same address after a restart)
 *   string      u32 length including the NUL (0: NULL pointer), bytes
 *   array       u8 tag: 0 = NULL pointer, 1 = data: u64 element count,
 *               count x element size bytes; 2 + N = the MPI sentinel
 *               address N stands for (weights: 0 MPI_UNWEIGHTED,
 *               1 MPI_WEIGHTS_EMPTY), no bytes after
 * Handles are not in the blob: they are the record's dependencies.
 * Host byte order: a record log is only read back by the same build on
 * the same architecture (it lives in saved upper memory).
 *
 * Pure code, no MPI, no TLS; memory from malloc (upper half). */
#ifndef MANA_MPI_BLOB_H
#define MANA_MPI_BLOB_H

#include <stddef.h>
#include <stdint.h>

struct mana_blob {
    uint8_t *p;
    size_t len, cap;
    int failed; /* out of memory: the blob is unusable */
    uint8_t small[192];
};

void mana_blob_init(struct mana_blob *b);
void mana_blob_put(struct mana_blob *b, const void *data, size_t n);
void mana_blob_put_ptr(struct mana_blob *b, const void *ptr);
void mana_blob_put_str(struct mana_blob *b, const char *s);
/* ARR may be NULL; N < 0 is taken as 0. */
void mana_blob_put_array(struct mana_blob *b, const void *arr, int64_t n, size_t elsize);
/* An array argument that is one of MPI's sentinel addresses (WHICH <
 * MANA_BLOB_SENTINELS), not data. */
#define MANA_BLOB_SENTINELS 2
void mana_blob_put_sentinel(struct mana_blob *b, unsigned which);
void mana_blob_free(struct mana_blob *b);

#define MANA_BLOB_MAX_ARRAYS 16

struct mana_blob_reader {
    const uint8_t *p;
    size_t len, off;
    int failed; /* truncated or malformed: every later read fails too */
    unsigned n_alloc;
    void *alloc[MANA_BLOB_MAX_ARRAYS];
};

void mana_blob_reader_init(struct mana_blob_reader *r, const void *blob, size_t len);
/* 0, or -1 (and r->failed) when fewer than N bytes are left. */
int mana_blob_get(struct mana_blob_reader *r, void *out, size_t n);
void *mana_blob_get_ptr(struct mana_blob_reader *r);
/* A pointer into the blob (NUL-terminated), or NULL for a NULL string. */
const char *mana_blob_get_str(struct mana_blob_reader *r);
/* An aligned, malloc'd copy of the array (freed by mana_blob_reader_done),
 * or NULL for a NULL array; *N gets the element count. */
void *mana_blob_get_array(struct mana_blob_reader *r, size_t elsize, int64_t *n);
/* The same, where a sentinel may stand in the array's place: then NULL,
 * and *SENTINEL gets its number (left alone otherwise). */
void *mana_blob_get_array_or_sentinel(struct mana_blob_reader *r, size_t elsize, int64_t *n, int *sentinel);
/* 1 when every read succeeded and the whole blob was read. */
int mana_blob_reader_ok(const struct mana_blob_reader *r);
/* Frees the arrays; returns -1 if any read failed or bytes are left over. */
int mana_blob_reader_done(struct mana_blob_reader *r);

#endif

/* Record argument blobs: see mpi_blob.h. */
#include "mpi_blob.h"

#include <stdlib.h>
#include <string.h>

void mana_blob_init(struct mana_blob *b)
{
    b->p = b->small;
    b->len = 0;
    b->cap = sizeof b->small;
    b->failed = 0;
}

static int reserve(struct mana_blob *b, size_t n)
{
    if (b->failed)
        return -1;
    if (b->cap - b->len >= n)
        return 0;
    size_t cap = b->cap * 2;
    while (cap - b->len < n)
        cap *= 2;
    uint8_t *p = b->p == b->small ? malloc(cap) : realloc(b->p, cap);
    if (!p) {
        b->failed = 1;
        return -1;
    }
    if (b->p == b->small)
        memcpy(p, b->small, b->len);
    b->p = p;
    b->cap = cap;
    return 0;
}

void mana_blob_put(struct mana_blob *b, const void *data, size_t n)
{
    if (n == 0 || reserve(b, n) != 0)
        return;
    memcpy(b->p + b->len, data, n);
    b->len += n;
}

void mana_blob_put_ptr(struct mana_blob *b, const void *ptr)
{
    uint64_t v = (uint64_t)(uintptr_t)ptr;
    mana_blob_put(b, &v, sizeof v);
}

void mana_blob_put_str(struct mana_blob *b, const char *s)
{
    uint32_t n = s ? (uint32_t)strlen(s) + 1 : 0;
    mana_blob_put(b, &n, sizeof n);
    mana_blob_put(b, s, n);
}

void mana_blob_put_array(struct mana_blob *b, const void *arr, int64_t n, size_t elsize)
{
    uint8_t tag = arr != NULL;
    mana_blob_put(b, &tag, 1);
    if (!arr)
        return;
    uint64_t count = n > 0 ? (uint64_t)n : 0;
    mana_blob_put(b, &count, sizeof count);
    mana_blob_put(b, arr, count * elsize);
}

void mana_blob_put_sentinel(struct mana_blob *b, unsigned which)
{
    uint8_t tag = (uint8_t)(2 + which);
    mana_blob_put(b, &tag, 1);
}

void mana_blob_free(struct mana_blob *b)
{
    if (b->p != b->small)
        free(b->p);
    mana_blob_init(b);
}

void mana_blob_reader_init(struct mana_blob_reader *r, const void *blob, size_t len)
{
    memset(r, 0, sizeof *r);
    r->p = blob;
    r->len = len;
}

int mana_blob_get(struct mana_blob_reader *r, void *out, size_t n)
{
    if (r->failed || r->len - r->off < n) {
        r->failed = 1;
        memset(out, 0, n);
        return -1;
    }
    memcpy(out, r->p + r->off, n);
    r->off += n;
    return 0;
}

void *mana_blob_get_ptr(struct mana_blob_reader *r)
{
    uint64_t v;
    mana_blob_get(r, &v, sizeof v);
    return (void *)(uintptr_t)v;
}

const char *mana_blob_get_str(struct mana_blob_reader *r)
{
    uint32_t n;
    if (mana_blob_get(r, &n, sizeof n) != 0 || n == 0)
        return NULL;
    if (r->len - r->off < n || r->p[r->off + n - 1] != '\0') {
        r->failed = 1;
        return NULL;
    }
    const char *s = (const char *)r->p + r->off;
    r->off += n;
    return s;
}

void *mana_blob_get_array(struct mana_blob_reader *r, size_t elsize, int64_t *n)
{
    return mana_blob_get_array_or_sentinel(r, elsize, n, NULL);
}

void *mana_blob_get_array_or_sentinel(struct mana_blob_reader *r, size_t elsize, int64_t *n, int *sentinel)
{
    uint8_t tag;
    uint64_t count = 0;
    *n = 0;
    if (mana_blob_get(r, &tag, 1) != 0 || tag == 0)
        return NULL;
    if (sentinel != NULL && tag >= 2 && tag < 2 + MANA_BLOB_SENTINELS) {
        *sentinel = tag - 2;
        return NULL;
    }
    if (tag != 1 || mana_blob_get(r, &count, sizeof count) != 0 || elsize == 0 ||
        count > (r->len - r->off) / elsize || r->n_alloc == MANA_BLOB_MAX_ARRAYS) {
        r->failed = 1;
        return NULL;
    }
    /* malloc'd, so aligned for any element type, and never zero-sized. */
    void *a = malloc(count * elsize + 1);
    if (!a) {
        r->failed = 1;
        return NULL;
    }
    memcpy(a, r->p + r->off, count * elsize);
    r->off += count * elsize;
    r->alloc[r->n_alloc++] = a;
    *n = (int64_t)count;
    return a;
}

int mana_blob_reader_ok(const struct mana_blob_reader *r)
{
    return !r->failed && r->off == r->len;
}

int mana_blob_reader_done(struct mana_blob_reader *r)
{
    for (unsigned i = 0; i < r->n_alloc; i++)
        free(r->alloc[i]);
    r->n_alloc = 0;
    return r->failed || r->off != r->len ? -1 : 0;
}

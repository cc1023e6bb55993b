/* See drain_store.h. */
#include "drain_store.h"

#include <mpi.h>
#include <sys/mman.h>
#include <sys/syscall.h>

#include "mana/raw_syscall.h"

#define CHUNK_MIN (1u << 20)
#define PAGE 4096u

struct chunk {
    struct chunk *next;
    size_t size, used;
    _Alignas(16) unsigned char space[];
};

_Atomic uint32_t mana_drained_queued;

static struct chunk *chunks;
static struct mana_drained *queue_head, *queue_tail, *all_records;
static size_t live;
static uint64_t next_seq;

static void *new_record(size_t size)
{
    size = (size + 15) & ~(size_t)15;
    if (chunks == NULL || chunks->size - chunks->used < size) {
        size_t want = sizeof(struct chunk) + size;
        want = want < CHUNK_MIN ? CHUNK_MIN : (want + PAGE - 1) & ~(size_t)(PAGE - 1);
        /* Raw, from libmana's code: the region labeller leaves it to the
         * upper half, so it is saved with the application. */
        long p = mana_raw_syscall6(SYS_mmap, 0, (long)want, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1,
                                   0);
        if (p < 0 && p > -4096)
            return NULL;
        struct chunk *c = (struct chunk *)p;
        c->next = chunks;
        c->size = want - sizeof *c;
        c->used = 0;
        chunks = c;
    }
    void *r = chunks->space + chunks->used;
    chunks->used += size;
    return r;
}

static struct mana_drained *record(size_t data_bytes)
{
    struct mana_drained *d = new_record(sizeof *d + data_bytes);
    if (d == NULL)
        return NULL;
    *d = (struct mana_drained){.seq = ++next_seq, .all = all_records};
    all_records = d;
    live++;
    return d;
}

struct mana_drained *drain_store_add(int32_t vcomm, int32_t source, int32_t tag, int64_t bytes)
{
    if (bytes < 0)
        return NULL;
    struct mana_drained *d = record((size_t)bytes);
    if (d == NULL)
        return NULL;
    d->vcomm = vcomm;
    d->source = source;
    d->tag = tag;
    d->error = MPI_SUCCESS;
    d->bytes = bytes;
    d->state = MANA_DRAINED_QUEUED;
    if (queue_tail != NULL)
        queue_tail->next = d;
    else
        queue_head = d;
    queue_tail = d;
    atomic_fetch_add(&mana_drained_queued, 1);
    return d;
}

struct mana_drained *drain_store_status(int32_t source, int32_t tag, int32_t error, int64_t bytes, int32_t cancelled)
{
    struct mana_drained *d = record(0);
    if (d == NULL)
        return NULL;
    d->vcomm = (int32_t)MPI_COMM_NULL;
    d->source = source;
    d->tag = tag;
    d->error = error;
    d->bytes = bytes;
    d->cancelled = cancelled;
    d->state = MANA_DRAINED_STATUS;
    return d;
}

struct mana_drained *drain_store_match(int32_t vcomm, int32_t source, int32_t tag)
{
    if (source == MPI_PROC_NULL)
        return NULL;
    for (struct mana_drained *d = queue_head; d != NULL; d = d->next)
        if (d->vcomm == vcomm && (source == MPI_ANY_SOURCE || source == d->source) &&
            (tag == MPI_ANY_TAG || tag == d->tag))
            return d;
    return NULL;
}

void drain_store_take(struct mana_drained *d)
{
    if (d->state != MANA_DRAINED_QUEUED)
        return;
    struct mana_drained **p = &queue_head, *prev = NULL;
    while (*p != NULL && *p != d) {
        prev = *p;
        p = &(*p)->next;
    }
    if (*p == NULL)
        return;
    *p = d->next;
    if (queue_tail == d)
        queue_tail = prev;
    d->next = NULL;
    d->state = MANA_DRAINED_TAKEN;
    atomic_fetch_sub(&mana_drained_queued, 1);
}

struct mana_drained *drain_store_find(uint64_t seq, uint64_t mask)
{
    for (struct mana_drained *d = all_records; d != NULL; d = d->all)
        if ((d->seq & mask) == (seq & mask) && d->state != MANA_DRAINED_STATUS)
            return d;
    return NULL;
}

void drain_store_release(struct mana_drained *d)
{
    if (d == NULL)
        return;
    /* Looked up before D is read: a second release may come after the
     * chunk that held D is gone. */
    struct mana_drained **p = &all_records;
    while (*p != NULL && *p != d)
        p = &(*p)->all;
    if (*p == NULL)
        return; /* released already */
    drain_store_take(d);
    *p = d->all;
    if (--live != 0)
        return;
    while (chunks != NULL) {
        struct chunk *c = chunks;
        chunks = c->next;
        mana_raw_syscall6(SYS_munmap, (long)c, (long)(c->size + sizeof *c), 0, 0, 0, 0);
    }
    queue_head = queue_tail = NULL;
}

size_t drain_store_live(void)
{
    return live;
}

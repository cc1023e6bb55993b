/* The checkpoint image writer: one rank's image, written to a temporary
 * file and renamed into place only when complete and durable.
 *
 * Region data goes through a pipeline. The calling thread cuts each
 * region into 1 MiB chunks and queues them in a ring of jobs; worker
 * threads take queued jobs in any order, find the all-zero pages, and
 * compress the other pages as one zstd frame; the calling thread writes
 * finished jobs strictly in ring order. So the file is written in the
 * same order whatever the timing, and compression of one region overlaps
 * with the writing of the previous one; while the calling thread has
 * nothing to write it compresses queued chunks itself. (A single zstd
 * context with ZSTD_c_nbWorkers was measured against this: no faster
 * than one thread, because zstd's jobs are at least 512 KiB, so a 1 MiB
 * frame is at most two, and the zero-page scan stays on one thread;
 * docs/image-format.md has the figures.)
 *
 * A region's section header holds the length of everything after it,
 * known only once its last chunk is written, so the writer leaves room
 * for it and patches it then (in the output buffer if it is still there,
 * with pwrite otherwise). */
#define _GNU_SOURCE
#include "image_writer.h"
#include "image_format.h"
#include "image_threads.h"
#include "mana/test_faults.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zstd.h>

#define ERR_MAX 1024
#define OUTBUF_SIZE (1u << 20)
#define FRAME_CAP ZSTD_COMPRESSBOUND(IMG_CHUNK_SIZE)
/* By default one compressing thread per usable CPU, up to this many (the
 * memory is about 3 MiB per thread). */
#define DEFAULT_MAX_THREADS 64u

enum stage { STAGE_START, STAGE_MACHINE_DONE, STAGE_MPI_DONE, STAGE_THREADS, STAGE_REGIONS };

/* A region whose chunks are queued. It lives on the writer's list until
 * its last chunk is written (or the writer is freed), so no error path
 * has to work out who frees it. */
struct region_rec {
    struct region_rec *next, *prev;
    uint64_t hdr_off;   /* file offset of its section header, once written */
    uint64_t raw_len;   /* section raw_len: the length, 0 without data */
    uint32_t nchunks;
    bool started;
    uint64_t hash;      /* chained XXH64 of the payload, so far */
    size_t desc_len;
    uint8_t desc[];     /* the encoded region descriptor */
};

struct job {
    struct region_rec *reg;
    uint32_t index;      /* chunk index; meaningless when reg->nchunks is 0 */
    const uint8_t *src;
    size_t len;
    /* results */
    uint8_t hdr[IMG_CHUNK_HEADER_SIZE];
    uint8_t *frame;      /* FRAME_CAP bytes */
    size_t frame_len;
    uint32_t zero_pages;
    char err[256];       /* non-empty: compression failed */
};

/* One compressing context: a worker's, or the calling thread's. */
struct compressor {
    ZSTD_CCtx *cctx;
    uint8_t *scratch; /* gathered non-zero pages of one chunk */
};

/* The compressing threads (img_pool) and what they work with. */
struct pool {
    struct img_pool *ring; /* its oldest job is the next to write */
    struct job *jobs;
    unsigned njobs;
    unsigned ncomps;
    struct compressor *comps; /* a worker's each, started or not */
};

struct image_writer {
    char *final_path;
    char *tmp_path;
    int fd;
    bool failed;
    char err[ERR_MAX];

    struct img_file_header hdr;
    enum stage stage;

    /* buffered output: buf holds the bytes from file offset flushed on */
    uint8_t *buf;
    size_t used;
    uint64_t flushed;

    /* THREADS content being collected: u32 count, then { u32 len, bytes } */
    uint8_t *threads;
    size_t threads_len, threads_cap;
    uint32_t nthreads;

    uint64_t sections, total_raw, digest_chain;
    uint64_t regions, zero_pages, stored_pages;

    struct compressor comp; /* the calling thread's */
    struct job inline_job;  /* without a pool */
    struct pool *pool;
    struct region_rec live; /* list head of regions not yet complete */
};

/* ---- errors ----------------------------------------------------------- */

static const char *io_advice(int e)
{
    switch (e) {
    case ENOSPC:
        return "the file system is full: free space or use another --ckpt-dir";
    case EDQUOT:
        return "the disk quota is used up: free space or use another --ckpt-dir";
    case EACCES:
    case EPERM:
        return "no permission to write there: use a --ckpt-dir you may write to";
    case EROFS:
        return "the file system is read-only: use another --ckpt-dir";
    case ENOENT:
    case ENOTDIR:
        return "the directory does not exist: create it or use another --ckpt-dir";
    case EIO:
        return "the device reported an I/O error: check the disk (dmesg) or use another --ckpt-dir";
    case EMFILE:
    case ENFILE:
        return "too many open files: raise the limit (ulimit -n)";
    case ENOMEM:
        return "out of memory: free memory or run fewer ranks per node";
    case EFBIG:
        return "the file is too large for this file system: use another --ckpt-dir";
    case ENAMETOOLONG:
        return "the path is too long: use a shorter --ckpt-dir";
    case EEXIST:
        return "a file of that name is in the way: remove it";
    default:
        return "check the checkpoint directory and try again";
    }
}

/* Removes the temporary file and stops writing; the first message stays. */
static void discard(struct image_writer *w)
{
    if (w->fd >= 0) {
        close(w->fd);
        w->fd = -1;
        unlink(w->tmp_path);
    }
}

/* An I/O or resource failure: "cannot write checkpoint image PATH (WHAT):
 * strerror: advice". */
static int fail_errno(struct image_writer *w, int e, const char *fmt, ...)
{
    if (w->failed)
        return -1;
    char what[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    snprintf(w->err, sizeof w->err, "cannot write checkpoint image %s (%s): %s: %s", w->final_path, what,
             strerror(e), io_advice(e));
    w->failed = true;
    discard(w);
    return -1;
}

/* Any other failure (a bad call, a compression error): the message as
 * given, after the image's name. */
static int fail_msg(struct image_writer *w, const char *fmt, ...)
{
    if (w->failed)
        return -1;
    char what[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    snprintf(w->err, sizeof w->err, "cannot write checkpoint image %s: %s", w->final_path, what);
    w->failed = true;
    discard(w);
    return -1;
}

const char *image_writer_error(const struct image_writer *w)
{
    return w->err;
}

const char *image_writer_temp_path(const struct image_writer *w)
{
    return w->tmp_path;
}

/* ---- output ----------------------------------------------------------- */

/* Every write names its offset: appends go to w->flushed, patches to
 * their header, so the file position is never relied on. */
static int pwrite_all(int fd, const void *data, size_t len, uint64_t off)
{
    const uint8_t *p = data;
    while (len > 0) {
        ssize_t n = pwrite(fd, p, len, (off_t)off);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        if (n == 0) {
            errno = EIO;
            return -1;
        }
        p += n;
        len -= (size_t)n;
        off += (uint64_t)n;
    }
    return 0;
}

/* pwrite_all for the image itself; in the test tree a write may be made
 * to fail as on a full or broken disk (test_faults.h, phase "write"). */
static int out_pwrite(struct image_writer *w, const void *data, size_t len, uint64_t off)
{
    int e = test_fault_errno("write", (int)w->hdr.rank, w->hdr.generation);
    if (e != 0) {
        errno = e;
        return -1;
    }
    return pwrite_all(w->fd, data, len, off);
}

static uint64_t out_pos(const struct image_writer *w)
{
    return w->flushed + w->used;
}

static int out_flush(struct image_writer *w)
{
    if (w->used == 0)
        return 0;
    if (out_pwrite(w, w->buf, w->used, w->flushed) < 0)
        return fail_errno(w, errno, "writing %s", w->tmp_path);
    w->flushed += w->used;
    w->used = 0;
    return 0;
}

/* Small records gather in the buffer; large frames go straight out. */
static int out_write(struct image_writer *w, const void *data, size_t len)
{
    if ((w->used + len > OUTBUF_SIZE || len >= OUTBUF_SIZE / 2) && out_flush(w) < 0)
        return -1;
    if (len >= OUTBUF_SIZE / 2) {
        if (out_pwrite(w, data, len, w->flushed) < 0)
            return fail_errno(w, errno, "writing %s", w->tmp_path);
        w->flushed += len;
        return 0;
    }
    memcpy(w->buf + w->used, data, len);
    w->used += len;
    return 0;
}

/* Overwrites LEN bytes already written at OFF. */
static int out_patch(struct image_writer *w, uint64_t off, const void *data, size_t len)
{
    const uint8_t *p = data;
    if (off < w->flushed) {
        size_t n = off + len <= w->flushed ? len : (size_t)(w->flushed - off);
        if (out_pwrite(w, p, n, off) < 0)
            return fail_errno(w, errno, "writing %s", w->tmp_path);
        p += n;
        off += n;
        len -= n;
    }
    if (len > 0)
        memcpy(w->buf + (off - w->flushed), p, len);
    return 0;
}

/* Appends a complete section (header and payload) and counts it. */
static int write_blob_section(struct image_writer *w, uint32_t kind, uint64_t raw_len, const void *frame,
                              size_t frame_len)
{
    struct img_section_header s = {
        .kind = kind, .raw_len = raw_len, .stored_len = frame_len, .payload_check = img_xxh64(frame, frame_len, 0)};
    uint8_t sh[IMG_SECTION_HEADER_SIZE];
    img_encode_section_header(&s, sh);
    if (out_write(w, sh, sizeof sh) < 0 || out_write(w, frame, frame_len) < 0)
        return -1;
    w->digest_chain = img_xxh64(sh, sizeof sh, w->digest_chain);
    w->sections++;
    w->total_raw += raw_len;
    return 0;
}

/* ---- compression ------------------------------------------------------ */

static int compressor_init(struct compressor *c, int level, int zstd_workers, char *err, size_t errlen)
{
    c->cctx = ZSTD_createCCtx();
    c->scratch = malloc(IMG_CHUNK_SIZE);
    if (!c->cctx || !c->scratch) {
        snprintf(err, errlen, "out of memory for a compression context");
        return -1;
    }
    size_t r = ZSTD_CCtx_setParameter(c->cctx, ZSTD_c_compressionLevel, level);
    if (!ZSTD_isError(r))
        r = ZSTD_CCtx_setParameter(c->cctx, ZSTD_c_checksumFlag, 1);
    if (!ZSTD_isError(r))
        r = ZSTD_CCtx_setParameter(c->cctx, ZSTD_c_contentSizeFlag, 1);
    if (!ZSTD_isError(r) && zstd_workers > 0)
        r = ZSTD_CCtx_setParameter(c->cctx, ZSTD_c_nbWorkers, zstd_workers);
    if (ZSTD_isError(r)) {
        snprintf(err, errlen, "zstd refused its parameters (level %d, %d workers): %s", level, zstd_workers,
                 ZSTD_getErrorName(r));
        return -1;
    }
    return 0;
}

static void compressor_free(struct compressor *c)
{
    ZSTD_freeCCtx(c->cctx);
    free(c->scratch);
    c->cctx = NULL;
    c->scratch = NULL;
}

/* True if the N bytes at P are all zero. Whole 64-byte blocks are ORed
 * together eight words at a time (vectorised by the compiler), so a page
 * of data is rejected within its first block. */
static bool all_zero(const uint8_t *p, size_t n)
{
    size_t i = 0;
    for (; i + 64 <= n; i += 64) {
        uint64_t w[8], acc = 0;
        memcpy(w, p + i, 64);
        for (int k = 0; k < 8; k++)
            acc |= w[k];
        if (acc)
            return false;
    }
    for (; i < n; i++)
        if (p[i])
            return false;
    return true;
}

/* Fills in a job's chunk header and frame from its source bytes. */
static void compress_chunk(struct compressor *c, struct job *j)
{
    struct img_chunk_header h = {.index = j->index};
    uint32_t npages = img_chunk_pages(j->len);
    size_t stored_bytes = 0;
    uint32_t stored = 0;

    j->err[0] = '\0';
    for (uint32_t i = 0; i < npages; i++) {
        size_t off = (size_t)i * IMG_PAGE_SIZE;
        size_t plen = j->len - off < IMG_PAGE_SIZE ? j->len - off : IMG_PAGE_SIZE;
        if (all_zero(j->src + off, plen)) {
            h.zero_map[i / 8] |= (uint8_t)(1u << (i % 8));
        } else {
            stored++;
            stored_bytes += plen;
        }
    }
    h.stored_pages = stored;
    j->zero_pages = npages - stored;
    j->frame_len = 0;
    if (stored > 0) {
        const uint8_t *in = j->src;
        if (stored < npages) {
            /* Gather the non-zero pages. */
            size_t at = 0;
            for (uint32_t i = 0; i < npages; i++) {
                if (h.zero_map[i / 8] & (1u << (i % 8)))
                    continue;
                size_t off = (size_t)i * IMG_PAGE_SIZE;
                size_t plen = j->len - off < IMG_PAGE_SIZE ? j->len - off : IMG_PAGE_SIZE;
                memcpy(c->scratch + at, j->src + off, plen);
                at += plen;
            }
            in = c->scratch;
        }
        size_t r = ZSTD_compress2(c->cctx, j->frame, FRAME_CAP, in, stored_bytes);
        if (ZSTD_isError(r)) {
            snprintf(j->err, sizeof j->err, "zstd could not compress chunk %u: %s", j->index, ZSTD_getErrorName(r));
            return;
        }
        j->frame_len = r;
        h.frame_len = r;
        h.frame_check = img_xxh64(j->frame, r, 0);
    }
    img_encode_chunk_header(&h, j->hdr);
}

/* ---- the pool --------------------------------------------------------- */

static void run_compress(void *ctx, void *job)
{
    compress_chunk(ctx, job);
}

static void pool_free(struct pool *p)
{
    if (!p)
        return;
    img_pool_free(p->ring);
    for (unsigned i = 0; p->comps && i < p->ncomps; i++)
        compressor_free(&p->comps[i]);
    for (unsigned i = 0; p->jobs && i < p->njobs; i++)
        free(p->jobs[i].frame);
    free(p->jobs);
    free(p->comps);
    free(p);
}

/* Starts NTHREADS workers; fewer if the system refuses threads (NULL if
 * none starts: the caller then compresses in its own thread). */
static struct pool *pool_new(unsigned nthreads, int level, char *err, size_t errlen)
{
    struct pool *p = calloc(1, sizeof *p);
    if (!p) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    /* A job per worker, half as many again finished and waiting to be
     * written, and two for small regions. Each job holds a frame buffer
     * of about 1 MiB; each worker a 1 MiB scratch buffer and a zstd
     * context (0.6 MB at level 1): about 3 MiB per thread in all. */
    p->njobs = nthreads + nthreads / 2 + 2;
    p->ncomps = nthreads;
    p->jobs = calloc(p->njobs, sizeof *p->jobs);
    p->comps = calloc(nthreads, sizeof *p->comps);
    if (p->jobs)
        p->ring = img_pool_new(p->jobs, sizeof *p->jobs, p->njobs, nthreads, run_compress);
    if (!p->jobs || !p->comps || !p->ring) {
        snprintf(err, errlen, "out of memory");
        pool_free(p);
        return NULL;
    }
    for (unsigned i = 0; i < p->njobs; i++) {
        p->jobs[i].frame = malloc(FRAME_CAP);
        if (!p->jobs[i].frame) {
            snprintf(err, errlen, "out of memory for %u compression buffers", p->njobs);
            pool_free(p);
            return NULL;
        }
    }
    for (unsigned i = 0; i < nthreads; i++) {
        if (compressor_init(&p->comps[i], level, 0, err, errlen) < 0 ||
            img_pool_start_worker(p->ring, &p->comps[i]) != 0) {
            compressor_free(&p->comps[i]);
            break;
        }
    }
    if (img_pool_threads(p->ring) == 0) {
        pool_free(p);
        return NULL;
    }
    return p;
}

/* ---- regions ---------------------------------------------------------- */

static void region_forget(struct region_rec *r)
{
    r->prev->next = r->next;
    r->next->prev = r->prev;
    free(r);
}

/* Writes one finished job (in file order) and, with a region's first or
 * last chunk, the region's section header and descriptor. */
static int write_job(struct image_writer *w, struct job *j)
{
    struct region_rec *r = j->reg;
    if (j->err[0])
        return fail_msg(w, "%s", j->err);
    if (!r->started) {
        static const uint8_t zeros[IMG_SECTION_HEADER_SIZE];
        r->hdr_off = out_pos(w);
        r->started = true;
        if (out_write(w, zeros, sizeof zeros) < 0 || out_write(w, r->desc, r->desc_len) < 0)
            return -1;
        r->hash = img_xxh64(r->desc, r->desc_len, 0);
    }
    if (r->nchunks > 0) {
        if (out_write(w, j->hdr, sizeof j->hdr) < 0 || (j->frame_len && out_write(w, j->frame, j->frame_len) < 0))
            return -1;
        r->hash = img_xxh64(j->hdr, sizeof j->hdr, r->hash);
        w->zero_pages += j->zero_pages;
        w->stored_pages += img_chunk_pages(j->len) - j->zero_pages;
        if (j->index != r->nchunks - 1)
            return 0;
    }
    struct img_section_header s = {.kind = IMG_SECTION_REGION,
                                   .raw_len = r->raw_len,
                                   .stored_len = out_pos(w) - r->hdr_off - IMG_SECTION_HEADER_SIZE,
                                   .payload_check = r->hash};
    uint8_t sh[IMG_SECTION_HEADER_SIZE];
    img_encode_section_header(&s, sh);
    uint64_t hdr_off = r->hdr_off;
    region_forget(r);
    j->reg = NULL;
    if (out_patch(w, hdr_off, sh, sizeof sh) < 0)
        return -1;
    w->digest_chain = img_xxh64(sh, sizeof sh, w->digest_chain);
    w->sections++;
    w->regions++;
    w->total_raw += s.raw_len;
    return 0;
}

/* Writes finished jobs from the head of the ring, until the ring has
 * room (or, with ALL, is empty); while the oldest job is unfinished the
 * calling thread compresses queued ones itself. */
static int pool_write_ready(struct image_writer *w, bool all)
{
    struct job *j;
    while ((j = img_pool_oldest(w->pool->ring, all, &w->comp))) {
        int rc = w->failed ? -1 : write_job(w, j);
        j->reg = NULL;
        img_pool_retire(w->pool->ring);
        if (rc < 0)
            return -1;
    }
    return w->failed ? -1 : 0;
}

/* Queues (or, without a pool, does) one job. */
static int submit(struct image_writer *w, struct region_rec *r, uint32_t index, const uint8_t *src, size_t len)
{
    if (!w->pool) {
        struct job *j = &w->inline_job;
        j->reg = r;
        j->index = index;
        j->src = src;
        j->len = len;
        if (r->nchunks > 0)
            compress_chunk(&w->comp, j);
        else
            j->err[0] = '\0';
        return write_job(w, j);
    }
    if (pool_write_ready(w, false) < 0)
        return -1;
    struct job *j = img_pool_slot(w->pool->ring);
    j->reg = r;
    j->index = index;
    j->src = src;
    j->len = len;
    j->err[0] = '\0';
    j->frame_len = 0;
    j->zero_pages = 0;
    /* A region without data is a job with nothing to compress. */
    img_pool_queue(w->pool->ring, r->nchunks > 0);
    return 0;
}

/* ---- API -------------------------------------------------------------- */

void image_writer_opts_default(struct image_writer_opts *o)
{
    o->level = 1;
    o->threads = 0;
    o->zstd_workers = 0;
}

static void writer_free(struct image_writer *w)
{
    pool_free(w->pool);
    while (w->live.next && w->live.next != &w->live)
        region_forget(w->live.next);
    compressor_free(&w->comp);
    free(w->inline_job.frame);
    free(w->buf);
    free(w->threads);
    free(w->final_path);
    free(w->tmp_path);
    free(w);
}

struct image_writer *image_writer_open(const char *path, const struct image_writer_header *hdr,
                                       const struct image_writer_opts *opts, char *err, size_t errlen)
{
    struct image_writer_opts o;
    if (opts)
        o = *opts;
    else
        image_writer_opts_default(&o);

    if (!path || !*path) {
        snprintf(err, errlen, "cannot write checkpoint image: no path given");
        return NULL;
    }
    if (hdr->nranks == 0 || hdr->rank >= hdr->nranks) {
        snprintf(err, errlen, "cannot write checkpoint image %s: rank %u is not below the number of ranks %u", path,
                 hdr->rank, hdr->nranks);
        return NULL;
    }
    if (o.level < ZSTD_minCLevel() || o.level > ZSTD_maxCLevel() || o.threads < 0 || o.zstd_workers < 0) {
        snprintf(err, errlen,
                 "cannot write checkpoint image %s: bad options (zstd level %d must be %d..%d, threads %d and "
                 "zstd workers %d must not be negative)",
                 path, o.level, ZSTD_minCLevel(), ZSTD_maxCLevel(), o.threads, o.zstd_workers);
        return NULL;
    }

    struct image_writer *w = calloc(1, sizeof *w);
    if (!w) {
        snprintf(err, errlen, "cannot write checkpoint image %s: out of memory", path);
        return NULL;
    }
    w->fd = -1;
    w->live.next = w->live.prev = &w->live;
    w->final_path = strdup(path);
    if (w->final_path && asprintf(&w->tmp_path, "%s.tmp-%ld", path, (long)getpid()) < 0)
        w->tmp_path = NULL;
    w->buf = malloc(OUTBUF_SIZE);
    w->inline_job.frame = malloc(FRAME_CAP);
    if (!w->final_path || !w->tmp_path || !w->buf || !w->inline_job.frame) {
        snprintf(err, errlen, "cannot write checkpoint image %s: out of memory", path);
        writer_free(w);
        return NULL;
    }
    if (compressor_init(&w->comp, o.level, o.zstd_workers, w->err, sizeof w->err) < 0) {
        snprintf(err, errlen, "cannot write checkpoint image %s: %s", path, w->err);
        writer_free(w);
        return NULL;
    }

    /* O_EXCL: never write through a file someone else holds open. One
     * left by an earlier process that had our pid is ours to replace. */
    w->fd = open(w->tmp_path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (w->fd < 0 && errno == EEXIST && unlink(w->tmp_path) == 0)
        w->fd = open(w->tmp_path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (w->fd < 0) {
        int e = errno;
        snprintf(err, errlen, "cannot write checkpoint image %s (creating %s): %s: %s", path, w->tmp_path,
                 strerror(e), io_advice(e));
        writer_free(w);
        return NULL;
    }
    /* Exactly 0600 whatever the umask: images hold the whole memory. */
    if (fchmod(w->fd, 0600) < 0) {
        fail_errno(w, errno, "setting mode 0600 on %s", w->tmp_path);
        snprintf(err, errlen, "%s", w->err);
        writer_free(w);
        return NULL;
    }

    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    w->hdr.version = IMG_VERSION;
    w->hdr.header_size = IMG_FILE_HEADER_SIZE;
    w->hdr.rank = hdr->rank;
    w->hdr.nranks = hdr->nranks;
    w->hdr.mpi_flavour = img_flavour_to_disk(hdr->flavour);
    w->hdr.face = hdr->face == MANA_FACE_OPENMPI ? 1 : 0;
    w->hdr.generation = hdr->generation;
    w->hdr.created_ns = (uint64_t)now.tv_sec * 1000000000ull + (uint64_t)now.tv_nsec;
    if (gethostname(w->hdr.hostname, sizeof w->hdr.hostname) < 0)
        strcpy(w->hdr.hostname, "?");
    w->hdr.hostname[IMG_HOSTNAME_SIZE - 1] = '\0';

    uint8_t fh[IMG_FILE_HEADER_SIZE];
    img_encode_file_header(&w->hdr, fh);
    if (out_write(w, fh, sizeof fh) < 0) {
        snprintf(err, errlen, "%s", w->err);
        writer_free(w);
        return NULL;
    }

    unsigned nthreads = o.threads > 0 ? (unsigned)o.threads : img_usable_cpus();
    if (o.threads == 0 && nthreads > DEFAULT_MAX_THREADS)
        nthreads = DEFAULT_MAX_THREADS;
    if (o.zstd_workers == 0 && nthreads > 1)
        w->pool = pool_new(nthreads, o.level, w->err, sizeof w->err); /* NULL: compress inline */
    w->err[0] = '\0';
    return w;
}

/* Compresses BUF as one frame and writes it as a blob section. */
static int add_blob(struct image_writer *w, uint32_t kind, const char *what, const void *data, size_t len)
{
    if (len > IMG_MAX_BLOB)
        return fail_msg(w, "the %s is %zu bytes, over the image format's limit of %llu bytes", what, len,
                        (unsigned long long)IMG_MAX_BLOB);
    size_t cap = ZSTD_compressBound(len);
    uint8_t *frame = malloc(cap);
    if (!frame)
        return fail_errno(w, ENOMEM, "compressing the %s", what);
    size_t r = ZSTD_compress2(w->comp.cctx, frame, cap, data, len);
    if (ZSTD_isError(r)) {
        free(frame);
        return fail_msg(w, "zstd could not compress the %s: %s", what, ZSTD_getErrorName(r));
    }
    int rc = write_blob_section(w, kind, len, frame, r);
    free(frame);
    return rc;
}

int image_writer_add_machine(struct image_writer *w, const void *data, size_t len)
{
    if (w->failed)
        return -1;
    if (w->stage != STAGE_START)
        return fail_msg(w, "invalid call: the machine record must be added once, before everything else");
    if (!data && len > 0)
        return fail_msg(w, "invalid call: machine record of %zu bytes at NULL", len);
    /* The reader refuses a larger one: refuse it here, where the cause is. */
    if (len > IMG_MAX_MACHINE)
        return fail_msg(w, "the machine record is %zu bytes, over the image format's limit of %llu bytes", len,
                        (unsigned long long)IMG_MAX_MACHINE);
    w->stage = STAGE_MACHINE_DONE;
    return add_blob(w, IMG_SECTION_MACHINE, "machine record", data ? data : "", len);
}

int image_writer_add_mpi_state(struct image_writer *w, const void *data, size_t len)
{
    if (w->failed)
        return -1;
    if (w->stage != STAGE_START && w->stage != STAGE_MACHINE_DONE)
        return fail_msg(w, "invalid call: the MPI state must be added once, before threads and regions");
    if (!data && len > 0)
        return fail_msg(w, "invalid call: MPI state of %zu bytes at NULL", len);
    w->stage = STAGE_MPI_DONE;
    return add_blob(w, IMG_SECTION_MPI_STATE, "MPI state", data ? data : "", len);
}

int image_writer_add_thread(struct image_writer *w, const void *data, size_t len)
{
    if (w->failed)
        return -1;
    if (w->stage == STAGE_REGIONS)
        return fail_msg(w, "invalid call: threads must be added before the first region");
    if (!data && len > 0)
        return fail_msg(w, "invalid call: thread state of %zu bytes at NULL", len);
    if (len > UINT32_MAX || w->threads_len + 4 + len > IMG_MAX_BLOB - 4)
        return fail_msg(w, "the threads' state exceeds the image format's limit of %llu bytes",
                        (unsigned long long)IMG_MAX_BLOB);
    w->stage = STAGE_THREADS;
    if (w->threads_len == 0)
        w->threads_len = 4; /* room for the count */
    size_t need = w->threads_len + 4 + len;
    if (need > w->threads_cap) {
        size_t cap = w->threads_cap ? w->threads_cap : 4096;
        while (cap < need)
            cap *= 2;
        uint8_t *n = realloc(w->threads, cap);
        if (!n)
            return fail_errno(w, ENOMEM, "saving thread %u", w->nthreads);
        w->threads = n;
        w->threads_cap = cap;
    }
    img_put32(w->threads + w->threads_len, (uint32_t)len);
    if (len)
        memcpy(w->threads + w->threads_len + 4, data, len);
    w->threads_len = need;
    w->nthreads++;
    return 0;
}

static int flush_threads(struct image_writer *w)
{
    if (w->stage != STAGE_THREADS)
        return 0;
    img_put32(w->threads, w->nthreads);
    int rc = add_blob(w, IMG_SECTION_THREADS, "threads' state", w->threads, w->threads_len);
    free(w->threads);
    w->threads = NULL;
    w->threads_len = w->threads_cap = 0;
    w->stage = STAGE_REGIONS;
    return rc;
}

int image_writer_add_region(struct image_writer *w, uint64_t addr, uint64_t len, int prot, unsigned flags,
                            const char *name, const void *data)
{
    if (w->failed)
        return -1;
    if (!name)
        name = "";
    size_t name_len = strlen(name);
    uint32_t dprot, dflags;
    if (name_len > IMAGE_NAME_MAX)
        return fail_msg(w, "invalid call: region name of %zu bytes (at most %u)", name_len, IMAGE_NAME_MAX);
    if (img_prot_to_disk(prot, &dprot) < 0)
        return fail_msg(w, "invalid call: region %#llx has protection bits %#x beyond PROT_READ|WRITE|EXEC",
                        (unsigned long long)addr, prot);
    if (!data)
        flags |= IMAGE_REGION_NODATA;
    if (img_region_flags_to_disk(flags, &dflags) < 0)
        return fail_msg(w, "invalid call: region %#llx has unknown flags %#x", (unsigned long long)addr, flags);
    if (len > UINT64_MAX - addr)
        return fail_msg(w, "invalid call: region %#llx of %llu bytes wraps around the address space",
                        (unsigned long long)addr, (unsigned long long)len);
    bool nodata = (flags & IMAGE_REGION_NODATA) != 0;
    uint64_t nchunks = nodata ? 0 : (len + IMG_CHUNK_SIZE - 1) / IMG_CHUNK_SIZE;
    if (nchunks > UINT32_MAX)
        return fail_msg(w, "invalid call: region %#llx of %llu bytes is too large", (unsigned long long)addr,
                        (unsigned long long)len);
    if (flush_threads(w) < 0)
        return -1;
    w->stage = STAGE_REGIONS;

    struct img_region_desc d = {.addr = addr,
                                .length = len,
                                .prot = dprot,
                                .flags = dflags,
                                .name_len = (uint32_t)name_len,
                                .chunk_count = (uint32_t)nchunks};
    size_t desc_len = IMG_REGION_DESC_SIZE(name_len);
    struct region_rec *r = malloc(sizeof *r + desc_len);
    if (!r)
        return fail_errno(w, ENOMEM, "saving region %#llx", (unsigned long long)addr);
    r->next = &w->live;
    r->prev = w->live.prev;
    w->live.prev->next = r;
    w->live.prev = r;
    r->started = false;
    r->nchunks = (uint32_t)nchunks;
    r->raw_len = nodata ? 0 : len;
    r->hash = 0;
    r->desc_len = img_encode_region_desc(&d, name, r->desc);

    if (nchunks == 0)
        return submit(w, r, 0, NULL, 0);
    const uint8_t *src = data;
    for (uint64_t i = 0; i < nchunks; i++) {
        uint64_t off = i * IMG_CHUNK_SIZE;
        size_t clen = len - off < IMG_CHUNK_SIZE ? (size_t)(len - off) : IMG_CHUNK_SIZE;
        if (submit(w, r, (uint32_t)i, src + off, clen) < 0)
            return -1;
    }
    return 0;
}

/* Fsyncs the directory holding PATH, so the rename survives a crash. */
static int sync_dir(const char *path)
{
    char *copy = strdup(path);
    if (!copy)
        return -1;
    int fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    free(copy);
    if (fd < 0)
        return -1;
    int rc = fsync(fd);
    int e = errno;
    close(fd);
    errno = e;
    return rc;
}

int image_writer_finish(struct image_writer *w, struct image_summary *summary, char *err, size_t errlen)
{
    int rc = -1;
    if (w->failed)
        goto out;
    if (flush_threads(w) < 0)
        goto out;
    if (w->pool && pool_write_ready(w, true) < 0)
        goto out;

    /* The header, final now that total_raw is known, then END. */
    w->hdr.total_raw = w->total_raw;
    uint8_t fh[IMG_FILE_HEADER_SIZE];
    img_encode_file_header(&w->hdr, fh);
    if (out_patch(w, 0, fh, sizeof fh) < 0)
        goto out;
    struct img_end_record e = {.section_count = w->sections,
                               .total_raw = w->total_raw,
                               .end_offset = out_pos(w),
                               .digest = img_xxh64(fh, sizeof fh, w->digest_chain)};
    uint8_t rec[IMG_END_RECORD_SIZE];
    img_encode_end_record(&e, rec);
    struct img_section_header s = {.kind = IMG_SECTION_END,
                                   .stored_len = IMG_END_RECORD_SIZE,
                                   .payload_check = img_xxh64(rec, sizeof rec, 0)};
    uint8_t sh[IMG_SECTION_HEADER_SIZE];
    img_encode_section_header(&s, sh);
    if (out_write(w, sh, sizeof sh) < 0 || out_write(w, rec, sizeof rec) < 0 || out_flush(w) < 0)
        goto out;
    uint64_t file_size = out_pos(w);

    if (fsync(w->fd) < 0) {
        fail_errno(w, errno, "fsync of %s", w->tmp_path);
        goto out;
    }
    int fd = w->fd;
    w->fd = -1;
    if (close(fd) < 0) {
        int en = errno;
        unlink(w->tmp_path);
        fail_errno(w, en, "closing %s", w->tmp_path);
        goto out;
    }
    if (rename(w->tmp_path, w->final_path) < 0) {
        int en = errno;
        unlink(w->tmp_path);
        fail_errno(w, en, "renaming %s into place", w->tmp_path);
        goto out;
    }
    if (sync_dir(w->final_path) < 0) {
        /* The name may not survive a crash: an image that might vanish is
         * not a checkpoint (invariant 7), so take it back. */
        int en = errno;
        unlink(w->final_path);
        fail_errno(w, en, "fsync of the directory of %s", w->final_path);
        goto out;
    }
    if (summary) {
        summary->file_size = file_size;
        summary->digest = e.digest;
        summary->total_raw = w->total_raw;
        summary->sections = w->sections;
        summary->regions = w->regions;
        summary->zero_pages = w->zero_pages;
        summary->stored_pages = w->stored_pages;
    }
    rc = 0;
out:
    if (rc < 0) {
        discard(w);
        snprintf(err, errlen, "%s", w->err);
    }
    writer_free(w);
    return rc;
}

void image_writer_abort(struct image_writer *w)
{
    if (!w)
        return;
    discard(w);
    writer_free(w);
}

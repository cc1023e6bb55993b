/* The checkpoint image reader. Its rule is design invariant 8: bad input
 * gets a clear error, never a crash. So every length read from the file
 * is checked against what is left of the file (or of its section) before
 * it is used, every fixed header's checksum is checked before any of its
 * fields is believed, and nothing is allocated from a file length except
 * a blob section, whose size is capped by the format (IMG_MAX_BLOB) and
 * by what its stored bytes could possibly expand to. */
#define _GNU_SOURCE
#include "image_reader.h"
#include "image_format.h"
#include "image_threads.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zstd.h>
#include <zstd_errors.h>

#define ERR_MAX 1024

/* Rank of each kind in the required order (image_format.h). */
static int kind_rank(enum image_section_kind k)
{
    switch (k) {
    case IMAGE_SECTION_MACHINE:
        return 0;
    case IMAGE_SECTION_MPI_STATE:
        return 1;
    case IMAGE_SECTION_THREADS:
        return 2;
    case IMAGE_SECTION_REGION:
        return 3;
    case IMAGE_SECTION_END:
        return 4;
    }
    return 4;
}

struct chunk_pool;

struct image_reader {
    char *path;
    int fd;
    uint64_t file_size;
    struct image_header hdr;
    uint8_t hdr_bytes[IMG_FILE_HEADER_SIZE];
    char err[ERR_MAX];

    /* iteration */
    uint64_t next_off;
    uint32_t index;
    int last_rank;     /* kind_rank of the previous section, -1 at start */
    uint64_t sum_raw;
    uint64_t chain;    /* chained XXH64 of section headers */
    bool at_end;
    uint64_t digest;
    bool damage_found; /* an error said the file is damaged, not unreadable */

    ZSTD_DCtx *dctx;
    unsigned threads;         /* image_reader_set_threads */
    struct chunk_pool *pool;  /* started by the first walk that uses it */
    struct image_read_times times;
    /* Grown as needed (at most IMG_MAX_FRAME and IMG_CHUNK_SIZE): a small
     * image costs little memory to check. */
    uint8_t *frame;
    size_t frame_cap;
    uint8_t *scratch;
    size_t scratch_cap;
};

/* ---- errors ----------------------------------------------------------- */

static int set_err(struct image_reader *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int set_err(struct image_reader *r, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->err, sizeof r->err, fmt, ap);
    va_end(ap);
    return -1;
}

#define ADVICE_OTHER_GEN "restart from another checkpoint generation"

static int damage(struct image_reader *r)
{
    r->damage_found = true;
    return -1;
}

/* The image was cut short (its writer never finished, or a copy was). */
#define truncated(r, fmt, ...)                                                                                         \
    ((void)set_err(r, "checkpoint image %s is truncated: " fmt " (its writer did not finish, or it was cut short): "   \
                   ADVICE_OTHER_GEN, (r)->path, ##__VA_ARGS__), damage(r))
/* A checksum does not match. */
#define mismatch(r, fmt, ...)                                                                                          \
    ((void)set_err(r, "checkpoint image %s is damaged: checksum mismatch in " fmt ": " ADVICE_OTHER_GEN, (r)->path,  \
                   ##__VA_ARGS__), damage(r))
/* Fields that contradict each other or the format. */
#define damaged(r, fmt, ...)                                                                                           \
    ((void)set_err(r, "checkpoint image %s is damaged: " fmt ": " ADVICE_OTHER_GEN, (r)->path, ##__VA_ARGS__),        \
     damage(r))

const char *image_reader_error(const struct image_reader *r)
{
    return r->err;
}

bool image_reader_damage_found(const struct image_reader *r)
{
    return r->damage_found;
}

/* Whether the checksum STORED in the file matches the one COMPUTED over
 * what it covers. The fuzzers (tests/fuzz, docs/fuzzing.md) build the
 * reader with FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION, where every
 * checksum matches, so that mutated bytes reach the checks behind the
 * checksums: a checksum finds damage, it does not stop a hostile writer,
 * who can compute it. Never defined in a build that restarts anything. */
static bool sum_ok(uint64_t computed, uint64_t stored)
{
#ifdef FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION
    (void)computed;
    (void)stored;
    return true;
#else
    return computed == stored;
#endif
}

/* "section 4 (REGION 0x7f00..0x7f80 [heap])" for messages; control
 * characters of the name (it comes from the file) shown as '?'. */
static const char *where(const struct image_section *s, char *buf, size_t len)
{
    if (s->kind == IMAGE_SECTION_REGION) {
        char name[201];
        size_t i = 0;
        for (; s->region.name[i] && i < sizeof name - 1; i++) {
            unsigned char c = (unsigned char)s->region.name[i];
            name[i] = c < 0x20 || c == 0x7f ? '?' : (char)c;
        }
        name[i] = '\0';
        snprintf(buf, len, "section %u (REGION %#" PRIx64 "-%#" PRIx64 "%s%s)", s->index, s->region.addr,
                 s->region.addr + s->region.length, name[0] ? " " : "", name);
    } else
        snprintf(buf, len, "section %u (%s)", s->index, image_section_kind_name(s->kind));
    return buf;
}

/* Reads LEN bytes at OFF, which the caller has checked lie inside the
 * file as it was at open; a shorter read means it shrank since. */
static int read_at(struct image_reader *r, uint64_t off, void *buf, size_t len)
{
    uint8_t *p = buf;
    while (len > 0) {
        ssize_t n = pread(r->fd, p, len, (off_t)off);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return set_err(r, "cannot read checkpoint image %s at byte %" PRIu64 ": %s", r->path, off,
                           strerror(errno));
        }
        if (n == 0)
            return truncated(r, "it ended at byte %" PRIu64 " while being read", off);
        p += n;
        len -= (size_t)n;
        off += (uint64_t)n;
    }
    return 0;
}

/* Makes *BUF hold at least NEED bytes (NEED is bounded by the caller). */
static int reserve(struct image_reader *r, uint8_t **buf, size_t *cap, size_t need)
{
    if (need <= *cap)
        return 0;
    size_t n = *cap ? *cap : 64 * 1024;
    while (n < need)
        n *= 2;
    uint8_t *p = realloc(*buf, n);
    if (!p)
        return set_err(r, "cannot read checkpoint image %s: out of memory", r->path);
    *buf = p;
    *cap = n;
    return 0;
}

/* ---- open ------------------------------------------------------------- */

struct image_reader *image_reader_open(const char *path, char *err, size_t errlen)
{
    struct image_reader *r = calloc(1, sizeof *r);
    if (!r || !(r->path = strdup(path))) {
        snprintf(err, errlen, "cannot read checkpoint image %s: out of memory", path);
        free(r);
        return NULL;
    }
    r->fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (r->fd < 0 || fstat(r->fd, &st) < 0) {
        set_err(r, "cannot open checkpoint image %s: %s", path, strerror(errno));
        goto fail;
    }
    if (!S_ISREG(st.st_mode)) {
        set_err(r, "%s is not a MANA checkpoint image: not a regular file", path);
        goto fail;
    }
    r->file_size = (uint64_t)st.st_size;

    uint8_t *h = r->hdr_bytes;
    size_t have = r->file_size < IMG_FILE_HEADER_SIZE ? (size_t)r->file_size : IMG_FILE_HEADER_SIZE;
    if (read_at(r, 0, h, have) < 0)
        goto fail;
    if (have == 0) {
        truncated(r, "the file is empty");
        goto fail;
    }
    if (memcmp(h, IMG_MAGIC, have < IMG_MAGIC_SIZE ? have : IMG_MAGIC_SIZE) != 0) {
        set_err(r, "%s is not a MANA checkpoint image (it does not start with \"MANAIMG\")", path);
        goto fail;
    }
    /* The version comes before the checksum: a newer MANA may lay out
     * the rest of the header differently. */
    if (have < 12) {
        truncated(r, "the file has %" PRIu64 " bytes, less than its header", r->file_size);
        goto fail;
    }
    uint32_t version = img_get32(h + 8);
    if (version > IMG_VERSION) {
        set_err(r,
                "checkpoint image %s: image format version %u is newer than this MANA supports (%u): restart with a "
                "newer MANA",
                path, version, IMG_VERSION);
        goto fail;
    }
    if (version < IMG_VERSION_OLDEST) {
        damaged(r, "image format version %u does not exist (this MANA reads %u to %u)", version, IMG_VERSION_OLDEST,
                IMG_VERSION);
        goto fail;
    }
    if (have < IMG_FILE_HEADER_SIZE) {
        truncated(r, "the file has %" PRIu64 " bytes, less than its %u-byte header", r->file_size,
                  IMG_FILE_HEADER_SIZE);
        goto fail;
    }
    struct img_file_header fh;
    img_decode_file_header(h, &fh);
    if (!sum_ok(img_fnv1a64(h, IMG_FILE_HEADER_CHECKED), fh.header_check)) {
        mismatch(r, "the file header");
        goto fail;
    }
    enum mana_mpi_flavour flavour;
    if (fh.header_size != IMG_FILE_HEADER_SIZE) {
        damaged(r, "header size %u, version %u has %u", fh.header_size, version, IMG_FILE_HEADER_SIZE);
        goto fail;
    }
    if (fh.nranks == 0 || fh.rank >= fh.nranks) {
        damaged(r, "rank %u of %u ranks", fh.rank, fh.nranks);
        goto fail;
    }
    if (img_flavour_from_disk(fh.mpi_flavour, &flavour) < 0) {
        damaged(r, "unknown MPI flavour code %u", fh.mpi_flavour);
        goto fail;
    }
    if (fh.face > 1 || memchr(fh.hostname, '\0', IMG_HOSTNAME_SIZE) == NULL) {
        damaged(r, "invalid header fields (face %#x, host name not terminated)", fh.face);
        goto fail;
    }
    r->hdr.version = version;
    r->hdr.rank = fh.rank;
    r->hdr.nranks = fh.nranks;
    r->hdr.flavour = flavour;
    r->hdr.face = fh.face == 1 ? MANA_FACE_OPENMPI : MANA_FACE_MPICH;
    r->hdr.generation = fh.generation;
    r->hdr.created_ns = fh.created_ns;
    r->hdr.total_raw = fh.total_raw;
    memcpy(r->hdr.hostname, fh.hostname, sizeof r->hdr.hostname);
    r->hdr.hostname[sizeof r->hdr.hostname - 1] = '\0';

    r->threads = 1;
    r->dctx = ZSTD_createDCtx();
    if (!r->dctx) {
        set_err(r, "cannot read checkpoint image %s: out of memory", path);
        goto fail;
    }
    image_reader_rewind(r);
    return r;
fail:
    snprintf(err, errlen, "%s", r->err);
    image_reader_close(r);
    return NULL;
}

static void chunk_pool_free(struct chunk_pool *p);

void image_reader_close(struct image_reader *r)
{
    if (!r)
        return;
    chunk_pool_free(r->pool);
    if (r->fd >= 0)
        close(r->fd);
    ZSTD_freeDCtx(r->dctx);
    free(r->frame);
    free(r->scratch);
    free(r->path);
    free(r);
}

const struct image_header *image_reader_header(const struct image_reader *r)
{
    return &r->hdr;
}

int image_reader_fd(const struct image_reader *r)
{
    return r->fd;
}

uint64_t image_reader_file_size(const struct image_reader *r)
{
    return r->file_size;
}

uint64_t image_reader_digest(const struct image_reader *r)
{
    return r->digest;
}

void image_reader_rewind(struct image_reader *r)
{
    r->next_off = IMG_FILE_HEADER_SIZE;
    r->index = 0;
    r->last_rank = -1;
    r->sum_raw = 0;
    r->chain = 0;
    r->at_end = false;
}

/* ---- sections --------------------------------------------------------- */

static int read_region_desc(struct image_reader *r, struct image_section *s)
{
    char wb[64];
    snprintf(wb, sizeof wb, "section %u (REGION)", s->index);
    uint64_t payload = s->offset + IMG_SECTION_HEADER_SIZE;
    if (s->stored_len < IMG_REGION_DESC_SIZE(0))
        return damaged(r, "%s has %" PRIu64 " bytes, less than a region descriptor", wb, s->stored_len);
    uint8_t buf[IMG_REGION_DESC_SIZE(IMG_MAX_NAME)];
    if (read_at(r, payload, buf, IMG_REGION_DESC_FIXED) < 0)
        return -1;
    struct img_region_desc d;
    img_decode_region_desc(buf, &d);
    /* Only the name length is used before the checksum is known good,
     * and only after it is bounded. */
    if (d.name_len > IMG_MAX_NAME || IMG_REGION_DESC_SIZE(d.name_len) > s->stored_len)
        return damaged(r, "%s: region descriptor with a name of %u bytes in a %" PRIu64 "-byte section", wb,
                       d.name_len, s->stored_len);
    size_t dlen = (size_t)IMG_REGION_DESC_SIZE(d.name_len);
    if (read_at(r, payload + IMG_REGION_DESC_FIXED, buf + IMG_REGION_DESC_FIXED, dlen - IMG_REGION_DESC_FIXED) < 0)
        return -1;
    if (!sum_ok(img_fnv1a64(buf, dlen - 8), img_get64(buf + dlen - 8)))
        return mismatch(r, "the region descriptor of %s at byte %" PRIu64, wb, payload);

    struct image_region_info *ri = &s->region;
    ri->addr = d.addr;
    ri->length = d.length;
    ri->chunk_count = d.chunk_count;
    memcpy(ri->name, buf + IMG_REGION_DESC_FIXED, d.name_len);
    ri->name[d.name_len] = '\0';
    if (memchr(ri->name, '\0', d.name_len))
        return damaged(r, "%s: region name contains a NUL byte", wb);
    if (img_prot_from_disk(d.prot, &ri->prot) < 0 || img_region_flags_from_disk(d.flags, &ri->flags) < 0)
        return damaged(r, "%s: unknown protection %#x or flags %#x (or written by a newer MANA)", wb, d.prot, d.flags);
    if (d.length > UINT64_MAX - d.addr)
        return damaged(r, "%s: region %#" PRIx64 " of %" PRIu64 " bytes wraps around the address space", wb, d.addr,
                       d.length);
    bool nodata = (ri->flags & IMAGE_REGION_NODATA) != 0;
    uint64_t want_chunks = nodata ? 0 : (d.length + IMG_CHUNK_SIZE - 1) / IMG_CHUNK_SIZE;
    uint64_t want_raw = nodata ? 0 : d.length;
    if (d.chunk_count != want_chunks || s->raw_len != want_raw)
        return damaged(r, "%s: lengths do not add up (%" PRIu64 " bytes in %u chunks, section raw length %" PRIu64 ")",
                       wb, d.length, d.chunk_count, s->raw_len);
    /* Every chunk needs at least its header: a claimed length that the
     * section cannot hold is refused here, before any chunk is read. */
    uint64_t min_len = dlen + (uint64_t)d.chunk_count * IMG_CHUNK_HEADER_SIZE;
    if (min_len > s->stored_len)
        return damaged(r, "%s: lengths do not add up (%u chunks need at least %" PRIu64 " bytes, section has %" PRIu64
                          ")",
                       wb, d.chunk_count, min_len, s->stored_len);
    if (d.chunk_count == 0 && dlen != s->stored_len)
        return damaged(r, "%s: lengths do not add up (%" PRIu64 " bytes after a region without chunks)", wb,
                       s->stored_len - dlen);
    s->data_off = payload + dlen;
    s->desc_hash = img_xxh64(buf, dlen, 0);
    return 0;
}

static int read_end(struct image_reader *r, const struct image_section *s)
{
    if (s->stored_len != IMG_END_RECORD_SIZE || s->raw_len != 0)
        return damaged(r, "END section with %" PRIu64 " stored and %" PRIu64 " raw bytes", s->stored_len, s->raw_len);
    uint8_t rec[IMG_END_RECORD_SIZE];
    if (read_at(r, s->offset + IMG_SECTION_HEADER_SIZE, rec, sizeof rec) < 0)
        return -1;
    if (!sum_ok(img_xxh64(rec, sizeof rec, 0), s->payload_check))
        return mismatch(r, "the END record at byte %" PRIu64, s->offset + IMG_SECTION_HEADER_SIZE);
    struct img_end_record e;
    img_decode_end_record(rec, &e);
    uint64_t file_end = s->offset + IMG_SECTION_HEADER_SIZE + IMG_END_RECORD_SIZE;
    if (e.section_count != s->index || e.end_offset != s->offset || e.total_raw != r->sum_raw ||
        e.total_raw != r->hdr.total_raw)
        return damaged(r,
                       "lengths do not add up: END says %" PRIu64 " sections, END at byte %" PRIu64 ", %" PRIu64
                       " raw bytes; the file has %u sections, END at byte %" PRIu64 ", %" PRIu64
                       " raw bytes (header: %" PRIu64 ")",
                       e.section_count, e.end_offset, e.total_raw, s->index, s->offset, r->sum_raw, r->hdr.total_raw);
    if (r->file_size != file_end)
        return damaged(r, "%" PRIu64 " bytes after the END section", r->file_size - file_end);
    uint64_t digest = img_xxh64(r->hdr_bytes, IMG_FILE_HEADER_SIZE, r->chain);
    if (!sum_ok(digest, e.digest))
        return mismatch(r, "the image digest (the section headers do not match the END record)");
    r->digest = digest;
    return 0;
}

int image_reader_tail_digest(struct image_reader *r, uint64_t *digest)
{
    const uint64_t tail = IMG_SECTION_HEADER_SIZE + IMG_END_RECORD_SIZE;
    if (r->file_size < IMG_FILE_HEADER_SIZE + tail)
        return truncated(r, "its %" PRIu64 " bytes cannot hold an END section", r->file_size);
    uint64_t off = r->file_size - tail;
    uint8_t buf[IMG_SECTION_HEADER_SIZE + IMG_END_RECORD_SIZE];
    if (read_at(r, off, buf, sizeof buf) < 0)
        return -1;
    struct img_section_header h;
    img_decode_section_header(buf, &h);
    if (!sum_ok(img_fnv1a64(buf, IMG_SECTION_HEADER_CHECKED), h.header_check) || h.kind != IMG_SECTION_END)
        return truncated(r, "its last %" PRIu64 " bytes are not an END section", tail);
    if (h.stored_len != IMG_END_RECORD_SIZE || h.raw_len != 0 ||
        !sum_ok(img_xxh64(buf + IMG_SECTION_HEADER_SIZE, IMG_END_RECORD_SIZE, 0), h.payload_check))
        return mismatch(r, "the END record at byte %" PRIu64, off + IMG_SECTION_HEADER_SIZE);
    struct img_end_record e;
    img_decode_end_record(buf + IMG_SECTION_HEADER_SIZE, &e);
    if (e.end_offset != off || e.total_raw != r->hdr.total_raw)
        return damaged(r, "its END record says END is at byte %" PRIu64 " after %" PRIu64 " raw bytes; it is at byte %"
                          PRIu64 " after %" PRIu64 " (header)",
                       e.end_offset, e.total_raw, off, r->hdr.total_raw);
    *digest = e.digest;
    return 0;
}

int image_reader_next(struct image_reader *r, struct image_section *s)
{
    if (r->at_end)
        return 0;
    memset(s, 0, sizeof *s);
    uint64_t off = r->next_off;
    s->offset = off;
    s->index = r->index;
    if (off == r->file_size)
        return truncated(r, "it ends after %u sections without an END section", r->index);
    if (r->file_size - off < IMG_SECTION_HEADER_SIZE)
        return truncated(r, "it ends at byte %" PRIu64 " inside the header of section %u", r->file_size, r->index);
    uint8_t sh[IMG_SECTION_HEADER_SIZE];
    if (read_at(r, off, sh, sizeof sh) < 0)
        return -1;
    struct img_section_header h;
    img_decode_section_header(sh, &h);
    if (!sum_ok(img_fnv1a64(sh, IMG_SECTION_HEADER_CHECKED), h.header_check))
        return mismatch(r, "the header of section %u at byte %" PRIu64, r->index, off);
    char kb[32];
    if (img_section_kind_from_disk(h.kind, &s->kind) < 0)
        return damaged(r, "unknown section kind %u in section %u at byte %" PRIu64 " (or written by a newer MANA)",
                       h.kind, r->index, off);
    if (h.flags != 0)
        return damaged(r, "section %u (%s) has unknown flags %#x", r->index, img_section_kind_name(h.kind, kb, sizeof kb),
                       h.flags);
    uint64_t room = r->file_size - off - IMG_SECTION_HEADER_SIZE;
    if (h.stored_len > room)
        return truncated(r, "section %u (%s) at byte %" PRIu64 " needs %" PRIu64 " bytes, the file has %" PRIu64 " left",
                         r->index, image_section_kind_name(s->kind), off, h.stored_len, room);
    int rank = kind_rank(s->kind);
    if (rank < r->last_rank || (rank == r->last_rank && s->kind != IMAGE_SECTION_REGION))
        return damaged(r, "section %u (%s) is out of order (MACHINE, MPI_STATE, THREADS, REGIONs, END)", r->index,
                       image_section_kind_name(s->kind));
    /* Version 1 had no such section: a file that says 1 and has one was
     * changed after it was written. */
    if (s->kind == IMAGE_SECTION_MACHINE && r->hdr.version < IMG_VERSION_MACHINE)
        return damaged(r, "section %u is a MACHINE section, which image format version %u does not have", r->index,
                       r->hdr.version);
    if (h.raw_len > UINT64_MAX - r->sum_raw)
        return damaged(r, "section %u: raw lengths overflow", r->index);
    s->raw_len = h.raw_len;
    s->stored_len = h.stored_len;
    s->payload_check = h.payload_check;

    switch (s->kind) {
    case IMAGE_SECTION_MACHINE:
    case IMAGE_SECTION_MPI_STATE:
    case IMAGE_SECTION_THREADS:
        if (h.raw_len > IMG_MAX_BLOB || h.raw_len > h.stored_len * IMG_MAX_ZSTD_RATIO ||
            (s->kind == IMAGE_SECTION_THREADS && h.raw_len < 4) ||
            (s->kind == IMAGE_SECTION_MACHINE && h.raw_len > IMG_MAX_MACHINE))
            return damaged(r, "section %u (%s): lengths do not add up (%" PRIu64 " bytes from %" PRIu64 " stored)",
                           r->index, image_section_kind_name(s->kind), h.raw_len, h.stored_len);
        break;
    case IMAGE_SECTION_REGION:
        if (read_region_desc(r, s) < 0)
            return -1;
        break;
    case IMAGE_SECTION_END:
        if (read_end(r, s) < 0)
            return -1;
        r->at_end = true;
        return 0;
    }
    r->last_rank = rank;
    r->sum_raw += h.raw_len;
    r->chain = img_xxh64(sh, sizeof sh, r->chain);
    r->next_off = off + IMG_SECTION_HEADER_SIZE + h.stored_len;
    r->index++;
    return 1;
}

/* ---- zstd frames ------------------------------------------------------ */

/* Checks the frame in FRAME (LEN bytes, already matched against its
 * XXH64) is one zstd frame with a content checksum and CONTENT bytes,
 * and decompresses it into DST. WHAT names it for messages. */
static int unframe(struct image_reader *r, const uint8_t *frame, size_t len, void *dst, size_t content,
                   const char *what)
{
    /* RFC 8878: magic 0xFD2FB528, then the frame header descriptor whose
     * bit 2 is Content_Checksum_flag. */
    if (len < 6 || img_get32(frame) != 0xFD2FB528u || !(frame[4] & 0x04))
        return damaged(r, "%s is not a zstd frame with a checksum", what);
    unsigned long long fcs = ZSTD_getFrameContentSize(frame, len);
    size_t flen = ZSTD_findFrameCompressedSize(frame, len);
    if (fcs != content || ZSTD_isError(flen) || flen != len)
        return damaged(r, "%s: lengths do not add up (frame of %zu bytes for %zu content bytes)", what, len, content);
    size_t n = ZSTD_decompressDCtx(r->dctx, dst, content, frame, len);
    if (ZSTD_isError(n)) {
        if (ZSTD_getErrorCode(n) == ZSTD_error_checksum_wrong)
            return mismatch(r, "%s (zstd content checksum)", what);
        return damaged(r, "%s does not decompress: %s", what, ZSTD_getErrorName(n));
    }
    if (n != content)
        return damaged(r, "%s decompressed to %zu bytes, %zu expected", what, n, content);
    return 0;
}

int image_reader_load_blob(struct image_reader *r, const struct image_section *s, void **data, size_t *len)
{
    char wb[128];
    where(s, wb, sizeof wb);
    if (s->kind != IMAGE_SECTION_MACHINE && s->kind != IMAGE_SECTION_MPI_STATE && s->kind != IMAGE_SECTION_THREADS)
        return set_err(r, "checkpoint image %s: %s holds no blob (a bug in the caller)", r->path, wb);
    /* Both lengths were bounded by image_reader_next: stored_len by the
     * file size, raw_len by IMG_MAX_BLOB. */
    uint8_t *frame = malloc(s->stored_len ? s->stored_len : 1);
    uint8_t *out = malloc(s->raw_len ? s->raw_len : 1);
    if (!frame || !out) {
        free(frame);
        free(out);
        return set_err(r, "cannot read checkpoint image %s: out of memory for %s (%" PRIu64 " bytes)", r->path, wb,
                       s->raw_len);
    }
    int rc = read_at(r, s->offset + IMG_SECTION_HEADER_SIZE, frame, s->stored_len);
    if (rc == 0 && !sum_ok(img_xxh64(frame, s->stored_len, 0), s->payload_check))
        rc = mismatch(r, "%s at byte %" PRIu64, wb, s->offset + IMG_SECTION_HEADER_SIZE);
    if (rc == 0)
        rc = unframe(r, frame, s->stored_len, out, s->raw_len, wb);
    free(frame);
    if (rc < 0) {
        free(out);
        return -1;
    }
    *data = out;
    *len = s->raw_len;
    return 0;
}

void image_thread_list_free(struct image_thread_list *t)
{
    free(t->data);
    free(t->len);
    free(t->blob);
    memset(t, 0, sizeof *t);
}

int image_reader_load_threads(struct image_reader *r, const struct image_section *s, struct image_thread_list *out)
{
    memset(out, 0, sizeof *out);
    if (s->kind != IMAGE_SECTION_THREADS)
        return set_err(r, "checkpoint image %s: section %u is not THREADS (a bug in the caller)", r->path, s->index);
    void *blob;
    size_t len;
    if (image_reader_load_blob(r, s, &blob, &len) < 0)
        return -1;
    const uint8_t *b = blob;
    uint32_t count = len >= 4 ? img_get32(b) : 0;
    /* Each thread takes at least its 4-byte length. */
    if (len < 4 || count > (len - 4) / 4) {
        free(blob);
        return damaged(r, "section %u (THREADS): %u threads cannot fit in %zu bytes", s->index, count, len);
    }
    out->blob = blob;
    out->count = count;
    out->data = calloc(count ? count : 1, sizeof *out->data);
    out->len = calloc(count ? count : 1, sizeof *out->len);
    if (!out->data || !out->len) {
        image_thread_list_free(out);
        return set_err(r, "cannot read checkpoint image %s: out of memory for %u threads", r->path, count);
    }
    size_t at = 4;
    for (uint32_t i = 0; i < count; i++) {
        uint32_t tl = len - at >= 4 ? img_get32(b + at) : UINT32_MAX;
        if (len - at < 4 || tl > len - at - 4) {
            image_thread_list_free(out);
            return damaged(r, "section %u (THREADS): thread %u runs past the end of the section", s->index, i);
        }
        out->len[i] = tl;
        out->data[i] = b + at + 4;
        at += 4 + (size_t)tl;
    }
    if (at != len) {
        image_thread_list_free(out);
        return damaged(r, "section %u (THREADS): lengths do not add up (%zu bytes after the last thread)", s->index,
                       len - at);
    }
    return 0;
}

/* ---- regions ---------------------------------------------------------- */

enum walk_mode { WALK_SCAN, WALK_VERIFY, WALK_RESTORE };

#if defined(MADV_POPULATE_WRITE) && defined(MADV_POPULATE_READ)
/* Maps the pages wholly inside [P, P+LEN) with one system call instead
 * of one page fault per page (ADVICE: MADV_POPULATE_WRITE for pages about
 * to be written, MADV_POPULATE_READ for the zero pages left as they are):
 * restoring into a fresh mapping is otherwise dominated by page faults
 * (measured: 11 us a fault in a VM, 1.4 s for 512 MiB; 0.07 s populated).
 * Errors are ignored: kernels before 5.14 lack the advice, and it is
 * only a speed-up. */
static void populate(uint8_t *p, size_t len, int advice)
{
    long page = sysconf(_SC_PAGESIZE); /* a static would be raced by the pool's threads */
    uintptr_t a = ((uintptr_t)p + (uintptr_t)page - 1) & ~((uintptr_t)page - 1);
    uintptr_t e = ((uintptr_t)p + len) & ~((uintptr_t)page - 1);
    if (e > a)
        madvise((void *)a, e - a, advice);
}

/* Populates, with ADVICE, the runs of a chunk's pages whose zero-map bit
 * is ZERO. */
static void populate_runs(uint8_t *dst, size_t clen, uint32_t npages, const uint8_t *zero_map, bool zero, int advice)
{
    uint32_t p = 0;
    while (p < npages) {
        while (p < npages && ((zero_map[p / 8] >> (p % 8)) & 1) != zero)
            p++;
        uint32_t q = p;
        while (q < npages && ((zero_map[q / 8] >> (q % 8)) & 1) == zero)
            q++;
        if (q > p) {
            size_t end = (size_t)q * IMG_PAGE_SIZE < clen ? (size_t)q * IMG_PAGE_SIZE : clen;
            populate(dst + (size_t)p * IMG_PAGE_SIZE, end - (size_t)p * IMG_PAGE_SIZE, advice);
        }
        p = q;
    }
}

#endif

/* Maps a chunk's destination pages before it is restored: those it
 * writes (with DST_ZEROED only the stored ones), and with DST_MAP_ZEROS
 * the zero pages it leaves alone. */
static void prefault_chunk(uint8_t *dst, size_t clen, uint32_t npages, const uint8_t *zero_map, unsigned flags)
{
#if defined(MADV_POPULATE_WRITE) && defined(MADV_POPULATE_READ)
    if (!(flags & IMAGE_DST_ZEROED)) {
        populate(dst, clen, MADV_POPULATE_WRITE);
        return;
    }
    populate_runs(dst, clen, npages, zero_map, false, MADV_POPULATE_WRITE);
    if (flags & IMAGE_DST_MAP_ZEROS)
        populate_runs(dst, clen, npages, zero_map, true, MADV_POPULATE_READ);
#else
    (void)dst;
    (void)clen;
    (void)npages;
    (void)zero_map;
    (void)flags;
#endif
}

static double mono_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

/* One chunk whose header the walk has checked and whose frame it has
 * read. What is left (checking the frame, decompressing it, putting the
 * pages in place) depends on nothing but the chunk, so chunks can go in
 * any order, on any thread. */
struct chunk_job {
    enum walk_mode mode;
    const char *wb;      /* the region, for messages */
    uint32_t index;
    uint8_t *frame;      /* frame_len bytes of the file from frame_off */
    size_t frame_cap;    /* a pool job's own buffer; unused inline */
    uint64_t frame_len, frame_off, frame_check;
    uint8_t *dst;        /* RESTORE: where the chunk's clen bytes go */
    size_t clen, stored_bytes;
    uint32_t npages, zeros;
    uint8_t zero_map[IMG_ZERO_MAP_SIZE];
    unsigned flags;
    /* results, for a pool job */
    int rc;
    bool damage;
    char err[ERR_MAX];
    double populate_s, decode_s;
};

/* Checks, decompresses and places J, with W's zstd context, scratch
 * buffer and error text: the reader itself, or a pool worker's. */
static int place_chunk(struct image_reader *w, struct chunk_job *j)
{
    double t0 = mono_s();
    if (j->mode == WALK_RESTORE)
        prefault_chunk(j->dst, j->clen, j->npages, j->zero_map, j->flags);
    double t1 = mono_s();
    j->populate_s = t1 - t0;
    uint8_t *target = NULL;
    int rc = 0;
    if (j->frame_len > 0) {
        if (!sum_ok(img_xxh64(j->frame, j->frame_len, 0), j->frame_check))
            rc = mismatch(w, "%s, chunk %u (its data, bytes %" PRIu64 "-%" PRIu64 ")", j->wb, j->index, j->frame_off,
                          j->frame_off + j->frame_len - 1);
        else if (j->mode == WALK_RESTORE && j->zeros == 0)
            target = j->dst; /* straight into place */
        else if (reserve(w, &w->scratch, &w->scratch_cap, j->stored_bytes) < 0)
            rc = -1;
        else
            target = w->scratch;
        if (rc == 0) {
            char what[400];
            snprintf(what, sizeof what, "%s, chunk %u", j->wb, j->index);
            rc = unframe(w, j->frame, (size_t)j->frame_len, target, j->stored_bytes, what);
        }
    }
    if (rc == 0 && j->mode == WALK_RESTORE && target != j->dst) {
        /* Scatter the stored pages, zero the others. */
        size_t from = 0;
        for (uint32_t p = 0; p < j->npages; p++) {
            size_t poff = (size_t)p * IMG_PAGE_SIZE;
            size_t plen = j->clen - poff < IMG_PAGE_SIZE ? j->clen - poff : IMG_PAGE_SIZE;
            if ((j->zero_map[p / 8] >> (p % 8)) & 1) {
                if (!(j->flags & IMAGE_DST_ZEROED))
                    memset(j->dst + poff, 0, plen);
            } else {
                memcpy(j->dst + poff, target + from, plen);
                from += plen;
            }
        }
    }
    j->decode_s = mono_s() - t1;
    return rc;
}

/* ---- the chunk pool --------------------------------------------------- */

/* With image_reader_set_threads above 1, a region's chunks are checked,
 * decompressed and placed by worker threads while the calling thread
 * reads the file ahead of them, in order, into a ring of jobs; when the
 * ring is full the calling thread takes a queued job itself. The file is
 * read exactly as without the pool (every header checked in file order
 * before its frame is read), and errors are reported as without it: the
 * ring is retired in file order and the first failed chunk is the one
 * named; a header error found by the calling thread counts only if no
 * chunk before it failed. */
struct chunk_pool {
    struct img_pool *ring; /* its oldest job is the next to retire */
    struct chunk_job *jobs;
    unsigned njobs;
    unsigned nthreads;
    /* zstd contexts, scratch and error text: nthreads workers', then the
     * calling thread's */
    struct image_reader **ctxs;
    /* the first failed job in file order, once retired */
    bool failed, damage;
    char err[ERR_MAX];
};

/* A worker's context: a reader with the file's name, for messages, and no
 * file: only its zstd context, scratch buffer and error text are used. */
static struct image_reader *worker_ctx_new(const struct image_reader *r)
{
    struct image_reader *w = calloc(1, sizeof *w);
    if (!w)
        return NULL;
    w->fd = -1;
    w->path = strdup(r->path);
    w->dctx = ZSTD_createDCtx();
    if (!w->path || !w->dctx) {
        image_reader_close(w);
        return NULL;
    }
    return w;
}

/* Runs job JOB with worker context CTX and keeps its outcome in the job. */
static void run_job(void *ctx, void *job)
{
    struct image_reader *w = ctx;
    struct chunk_job *j = job;
    j->rc = place_chunk(w, j);
    if (j->rc < 0) {
        snprintf(j->err, sizeof j->err, "%s", w->err);
        j->damage = w->damage_found;
        w->damage_found = false;
    }
}

static void chunk_pool_free(struct chunk_pool *p)
{
    if (!p)
        return;
    img_pool_free(p->ring);
    for (unsigned i = 0; p->ctxs && i <= p->nthreads; i++)
        image_reader_close(p->ctxs[i]);
    for (unsigned i = 0; p->jobs && i < p->njobs; i++)
        free(p->jobs[i].frame);
    free(p->jobs);
    free(p->ctxs);
    free(p);
}

/* NTHREADS workers besides the calling thread, fewer if the system
 * refuses threads; NULL if none starts (the walk then does every chunk
 * in the calling thread, as without a pool). */
static struct chunk_pool *chunk_pool_new(const struct image_reader *r, unsigned nthreads)
{
    struct chunk_pool *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    /* A job per thread and as many again read ahead; frame buffers grow
     * to the frames read (at most IMG_MAX_FRAME each). */
    p->njobs = 2 * (nthreads + 1);
    p->jobs = calloc(p->njobs, sizeof *p->jobs);
    p->ctxs = calloc(nthreads + 1, sizeof *p->ctxs);
    if (p->jobs)
        p->ring = img_pool_new(p->jobs, sizeof *p->jobs, p->njobs, nthreads, run_job);
    if (!p->jobs || !p->ctxs || !p->ring) {
        chunk_pool_free(p);
        return NULL;
    }
    for (unsigned i = 0; i < nthreads; i++) {
        p->ctxs[i] = worker_ctx_new(r);
        if (!p->ctxs[i] || img_pool_start_worker(p->ring, p->ctxs[i]) != 0) {
            image_reader_close(p->ctxs[i]);
            p->ctxs[i] = NULL;
            break;
        }
        p->nthreads++;
    }
    /* The calling thread's context sits after the started workers'. */
    p->ctxs[p->nthreads] = p->nthreads > 0 ? worker_ctx_new(r) : NULL;
    if (!p->ctxs[p->nthreads]) {
        chunk_pool_free(p);
        return NULL;
    }
    return p;
}

/* Retires finished jobs from the head of the ring, in file order,
 * keeping the first failure, until the ring has a free job (or, with
 * ALL, is empty); the calling thread runs queued jobs rather than
 * sleeping. */
static void pool_retire(struct image_reader *r, struct chunk_pool *p, bool all)
{
    struct chunk_job *j;
    while ((j = img_pool_oldest(p->ring, all, p->ctxs[p->nthreads]))) {
        if (j->rc < 0 && !p->failed) {
            p->failed = true;
            p->damage = j->damage;
            snprintf(p->err, sizeof p->err, "%s", j->err);
        }
        r->times.populate_s += j->populate_s;
        r->times.decode_s += j->decode_s;
        img_pool_retire(p->ring);
    }
}

/* Waits for every queued job; the walk's result given RC, its own: the
 * first failed job's error if any (it comes before whatever the walk
 * found since, so it replaces that, damage flag included: DAMAGE_BEFORE
 * is the flag before the walk), else RC. */
static int pool_drain(struct image_reader *r, struct chunk_pool *p, int rc, bool damage_before)
{
    pool_retire(r, p, true);
    bool failed = p->failed, dmg = p->damage;
    p->failed = p->damage = false;
    if (!failed)
        return rc;
    snprintf(r->err, sizeof r->err, "%s", p->err);
    r->damage_found = damage_before || dmg;
    return -1;
}

static int walk_region(struct image_reader *r, const struct image_section *s, enum walk_mode mode, uint8_t *dst,
                       unsigned flags, struct image_region_stats *st)
{
    bool damage_before = r->damage_found;
    char wb[300];
    where(s, wb, sizeof wb);
    if (s->kind != IMAGE_SECTION_REGION)
        return set_err(r, "checkpoint image %s: %s is not a region (a bug in the caller)", r->path, wb);
    const struct image_region_info *ri = &s->region;
    struct image_region_stats local = {0};
    if (!st)
        st = &local;
    memset(st, 0, sizeof *st);
    if (mode == WALK_RESTORE && ri->chunk_count == 0 && !(flags & IMAGE_DST_ZEROED))
        memset(dst, 0, ri->length);

    /* A pool for regions of several chunks: one chunk gains nothing. */
    struct chunk_pool *pool = NULL;
    if (mode != WALK_SCAN && ri->chunk_count > 1 && r->threads > 1) {
        if (!r->pool && !(r->pool = chunk_pool_new(r, r->threads - 1)))
            r->threads = 1; /* no threads to be had: inline from now on */
        pool = r->pool;
    }
    uint64_t end = s->offset + IMG_SECTION_HEADER_SIZE + s->stored_len;
    uint64_t off = s->data_off;
    uint64_t hash = s->desc_hash;
    int rc = 0;
    for (uint32_t i = 0; i < ri->chunk_count && rc == 0; i++) {
        uint64_t cstart = (uint64_t)i * IMG_CHUNK_SIZE;
        size_t clen = ri->length - cstart < IMG_CHUNK_SIZE ? (size_t)(ri->length - cstart) : IMG_CHUNK_SIZE;
        uint32_t npages = img_chunk_pages(clen);
        if (end - off < IMG_CHUNK_HEADER_SIZE) {
            rc = damaged(r, "%s: lengths do not add up (chunk %u's header runs past the end of the section)", wb, i);
            break;
        }
        uint8_t hb[IMG_CHUNK_HEADER_SIZE];
        if ((rc = read_at(r, off, hb, sizeof hb)) < 0)
            break;
        struct img_chunk_header c;
        img_decode_chunk_header(hb, &c);
        if (!sum_ok(img_fnv1a64(hb, IMG_CHUNK_HEADER_CHECKED), c.header_check)) {
            rc = mismatch(r, "%s, chunk %u (its header at byte %" PRIu64 ")", wb, i, off);
            break;
        }
        uint32_t zeros = 0;
        bool stray = false;
        for (uint32_t p = 0; p < IMG_PAGES_PER_CHUNK; p++) {
            bool z = (c.zero_map[p / 8] >> (p % 8)) & 1;
            if (z && p >= npages)
                stray = true;
            zeros += z;
        }
        if (c.index != i || stray || c.stored_pages != npages - zeros || (c.frame_len == 0) != (c.stored_pages == 0) ||
            c.frame_len > IMG_MAX_FRAME || c.frame_len > end - off - IMG_CHUNK_HEADER_SIZE) {
            rc = damaged(r,
                         "%s, chunk %u at byte %" PRIu64 ": lengths do not add up (index %u, %u stored pages of %u, "
                         "%u zero, frame of %" PRIu64 " bytes)",
                         wb, i, off, c.index, c.stored_pages, npages, zeros, c.frame_len);
            break;
        }
        hash = img_xxh64(hb, sizeof hb, hash);
        st->pages += npages;
        st->zero_pages += zeros;
        st->frame_bytes += c.frame_len;
        uint64_t frame_off = off + IMG_CHUNK_HEADER_SIZE;
        off = frame_off + c.frame_len;
        if (mode == WALK_SCAN)
            continue;
        if (c.frame_len == 0 && c.frame_check != 0) {
            rc = damaged(r, "%s, chunk %u: checksum of an absent frame", wb, i);
            break;
        }

        /* The stored pages' bytes: every page but a short last one is full. */
        size_t stored_bytes = 0;
        for (uint32_t p = 0; p < npages; p++)
            if (!((c.zero_map[p / 8] >> (p % 8)) & 1))
                stored_bytes += clen - (size_t)p * IMG_PAGE_SIZE < IMG_PAGE_SIZE ? clen - (size_t)p * IMG_PAGE_SIZE
                                                                                 : IMG_PAGE_SIZE;
        struct chunk_job inline_job, *j = &inline_job;
        if (pool) {
            pool_retire(r, pool, false);
            if (pool->failed)
                break; /* an earlier chunk failed: that is the error */
            j = img_pool_slot(pool->ring);
            if ((rc = reserve(r, &j->frame, &j->frame_cap, c.frame_len)) < 0)
                break;
        } else {
            if ((rc = reserve(r, &r->frame, &r->frame_cap, c.frame_len)) < 0)
                break;
            j->frame = r->frame;
        }
        j->mode = mode;
        j->wb = wb;
        j->index = i;
        j->frame_len = c.frame_len;
        j->frame_off = frame_off;
        j->frame_check = c.frame_check;
        j->dst = mode == WALK_RESTORE ? dst + cstart : NULL;
        j->clen = clen;
        j->stored_bytes = stored_bytes;
        j->npages = npages;
        j->zeros = zeros;
        memcpy(j->zero_map, c.zero_map, sizeof j->zero_map);
        j->flags = flags;
        double t0 = mono_s();
        if (c.frame_len > 0 && (rc = read_at(r, frame_off, j->frame, c.frame_len)) < 0)
            break;
        r->times.read_s += mono_s() - t0;
        if (!pool) {
            rc = place_chunk(r, j);
            r->times.populate_s += j->populate_s;
            r->times.decode_s += j->decode_s;
            continue;
        }
        img_pool_queue(pool->ring, true);
    }
    /* The chunks must all be in place before the caller may protect the
     * region, and an earlier chunk's error comes before any found since. */
    if (pool)
        rc = pool_drain(r, pool, rc, damage_before);
    if (rc < 0)
        return -1;
    if (off != end)
        return damaged(r, "%s: lengths do not add up (%" PRIu64 " bytes after its last chunk)", wb, end - off);
    if (!sum_ok(hash, s->payload_check))
        return mismatch(r, "%s (its chunk headers do not match the section's checksum)", wb);
    return 0;
}

int image_reader_region_data(struct image_reader *r, const struct image_section *s, void *dst, uint64_t dst_len,
                             unsigned flags)
{
    if (s->kind == IMAGE_SECTION_REGION && dst_len != s->region.length)
        return set_err(r, "checkpoint image %s: section %u: a %" PRIu64 "-byte destination for a %" PRIu64
                          "-byte region (a bug in the caller)",
                       r->path, s->index, dst_len, s->region.length);
    return walk_region(r, s, WALK_RESTORE, dst, flags, NULL);
}

void image_reader_set_threads(struct image_reader *r, unsigned n)
{
    if (n == 0) {
        n = img_usable_cpus();
        if (n > IMG_READER_MAX_THREADS)
            n = IMG_READER_MAX_THREADS;
    }
    if (n != r->threads) {
        chunk_pool_free(r->pool);
        r->pool = NULL;
        r->threads = n;
    }
}

void image_reader_times(const struct image_reader *r, struct image_read_times *t)
{
    *t = r->times;
    t->threads = r->pool ? r->pool->nthreads + 1 : 1;
}

int image_reader_region_scan(struct image_reader *r, const struct image_section *s, struct image_region_stats *st)
{
    return walk_region(r, s, WALK_SCAN, NULL, 0, st);
}

int image_reader_region_verify(struct image_reader *r, const struct image_section *s, struct image_region_stats *st)
{
    return walk_region(r, s, WALK_VERIFY, NULL, 0, st);
}

int image_reader_verify_all(struct image_reader *r, struct image_verify_stats *stats)
{
    struct image_verify_stats local;
    if (!stats)
        stats = &local;
    memset(stats, 0, sizeof *stats);
    image_reader_rewind(r);
    struct image_section s;
    int rc;
    while ((rc = image_reader_next(r, &s)) > 0) {
        stats->sections++;
        stats->raw_bytes += s.raw_len;
        if (s.kind == IMAGE_SECTION_REGION) {
            struct image_region_stats rs;
            if (image_reader_region_verify(r, &s, &rs) < 0)
                return -1;
            stats->regions++;
            stats->pages += rs.pages;
            stats->zero_pages += rs.zero_pages;
            stats->frame_bytes += rs.frame_bytes;
        } else if (s.kind == IMAGE_SECTION_THREADS) {
            struct image_thread_list t;
            if (image_reader_load_threads(r, &s, &t) < 0)
                return -1;
            stats->threads = t.count;
            image_thread_list_free(&t);
        } else {
            void *data;
            size_t len;
            if (image_reader_load_blob(r, &s, &data, &len) < 0)
                return -1;
            free(data);
            if (s.kind == IMAGE_SECTION_MACHINE)
                stats->machine_bytes = len;
            else
                stats->mpi_state_bytes = len;
        }
    }
    if (rc < 0)
        return -1;
    stats->digest = r->digest;
    return 0;
}

/* The one place where image records meet bytes: the encoders and decoders
 * of every fixed record of image_format.h, the two checksums, and the
 * conversions between on-disk codes and in-memory values. The writer,
 * the reader and mana-inspect all go through here, so they cannot
 * disagree about the layout. */
#include "image_format.h"
#include "image.h"

#include <stdio.h>
#include <string.h>
#include <xxhash.h>
#include <sys/mman.h>
#include <zstd.h>

/* The writer's output buffer for one chunk (compressBound) must fit the
 * largest frame a reader accepts. */
_Static_assert(ZSTD_COMPRESSBOUND(IMG_CHUNK_SIZE) <= IMG_MAX_FRAME, "IMG_MAX_FRAME below zstd's bound");
_Static_assert(IMG_PAGES_PER_CHUNK % 8 == 0, "zero map must be whole bytes");

/* ---- checksums -------------------------------------------------------- */

uint64_t img_fnv1a64(const void *data, size_t len)
{
    const uint8_t *p = data;
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < len; i++) {
        h ^= p[i];
        h *= 0x100000001b3ull;
    }
    return h;
}

/* XXH64 from libxxhash: the checksum zstd puts in its frames, so the
 * unit tests can check ours against what libzstd wrote. */
uint64_t img_xxh64(const void *data, size_t len, uint64_t seed)
{
    return XXH64(data, len, seed);
}

/* ---- records ---------------------------------------------------------- */

void img_encode_file_header(const struct img_file_header *h, uint8_t out[IMG_FILE_HEADER_SIZE])
{
    memset(out, 0, IMG_FILE_HEADER_SIZE);
    memcpy(out, IMG_MAGIC, IMG_MAGIC_SIZE);
    img_put32(out + 8, h->version);
    img_put32(out + 12, h->header_size);
    img_put32(out + 16, h->rank);
    img_put32(out + 20, h->nranks);
    img_put32(out + 24, h->mpi_flavour);
    img_put32(out + 28, h->face);
    img_put64(out + 32, h->generation);
    img_put64(out + 40, h->created_ns);
    img_put64(out + 48, h->total_raw);
    /* strnlen, so a hostname field that is full is cut, keeping one NUL. */
    memcpy(out + 56, h->hostname, strnlen(h->hostname, IMG_HOSTNAME_SIZE - 1));
    img_put64(out + IMG_FILE_HEADER_CHECKED, img_fnv1a64(out, IMG_FILE_HEADER_CHECKED));
}

void img_decode_file_header(const uint8_t in[IMG_FILE_HEADER_SIZE], struct img_file_header *h)
{
    h->version = img_get32(in + 8);
    h->header_size = img_get32(in + 12);
    h->rank = img_get32(in + 16);
    h->nranks = img_get32(in + 20);
    h->mpi_flavour = img_get32(in + 24);
    h->face = img_get32(in + 28);
    h->generation = img_get64(in + 32);
    h->created_ns = img_get64(in + 40);
    h->total_raw = img_get64(in + 48);
    memcpy(h->hostname, in + 56, IMG_HOSTNAME_SIZE);
    h->header_check = img_get64(in + IMG_FILE_HEADER_CHECKED);
}

void img_encode_section_header(const struct img_section_header *s, uint8_t out[IMG_SECTION_HEADER_SIZE])
{
    img_put32(out, s->kind);
    img_put32(out + 4, s->flags);
    img_put64(out + 8, s->raw_len);
    img_put64(out + 16, s->stored_len);
    img_put64(out + 24, s->payload_check);
    img_put64(out + IMG_SECTION_HEADER_CHECKED, img_fnv1a64(out, IMG_SECTION_HEADER_CHECKED));
}

void img_decode_section_header(const uint8_t in[IMG_SECTION_HEADER_SIZE], struct img_section_header *s)
{
    s->kind = img_get32(in);
    s->flags = img_get32(in + 4);
    s->raw_len = img_get64(in + 8);
    s->stored_len = img_get64(in + 16);
    s->payload_check = img_get64(in + 24);
    s->header_check = img_get64(in + IMG_SECTION_HEADER_CHECKED);
}

size_t img_encode_region_desc(const struct img_region_desc *d, const char *name, uint8_t *out)
{
    img_put64(out, d->addr);
    img_put64(out + 8, d->length);
    img_put32(out + 16, d->prot);
    img_put32(out + 20, d->flags);
    img_put32(out + 24, d->name_len);
    img_put32(out + 28, d->chunk_count);
    memcpy(out + IMG_REGION_DESC_FIXED, name, d->name_len);
    size_t checked = IMG_REGION_DESC_FIXED + d->name_len;
    img_put64(out + checked, img_fnv1a64(out, checked));
    return checked + 8;
}

void img_decode_region_desc(const uint8_t *in, struct img_region_desc *d)
{
    d->addr = img_get64(in);
    d->length = img_get64(in + 8);
    d->prot = img_get32(in + 16);
    d->flags = img_get32(in + 20);
    d->name_len = img_get32(in + 24);
    d->chunk_count = img_get32(in + 28);
}

void img_encode_chunk_header(const struct img_chunk_header *c, uint8_t out[IMG_CHUNK_HEADER_SIZE])
{
    img_put32(out, c->index);
    img_put32(out + 4, c->stored_pages);
    img_put64(out + 8, c->frame_len);
    img_put64(out + 16, c->frame_check);
    memcpy(out + 24, c->zero_map, IMG_ZERO_MAP_SIZE);
    img_put64(out + IMG_CHUNK_HEADER_CHECKED, img_fnv1a64(out, IMG_CHUNK_HEADER_CHECKED));
}

void img_decode_chunk_header(const uint8_t in[IMG_CHUNK_HEADER_SIZE], struct img_chunk_header *c)
{
    c->index = img_get32(in);
    c->stored_pages = img_get32(in + 4);
    c->frame_len = img_get64(in + 8);
    c->frame_check = img_get64(in + 16);
    memcpy(c->zero_map, in + 24, IMG_ZERO_MAP_SIZE);
    c->header_check = img_get64(in + IMG_CHUNK_HEADER_CHECKED);
}

void img_encode_end_record(const struct img_end_record *e, uint8_t out[IMG_END_RECORD_SIZE])
{
    img_put64(out, e->section_count);
    img_put64(out + 8, e->total_raw);
    img_put64(out + 16, e->end_offset);
    img_put64(out + 24, e->digest);
}

void img_decode_end_record(const uint8_t in[IMG_END_RECORD_SIZE], struct img_end_record *e)
{
    e->section_count = img_get64(in);
    e->total_raw = img_get64(in + 8);
    e->end_offset = img_get64(in + 16);
    e->digest = img_get64(in + 24);
}

/* ---- codes <-> in-memory values --------------------------------------- */

uint32_t img_flavour_to_disk(enum mana_mpi_flavour f)
{
    return f == MANA_MPI_OPENMPI ? IMG_FLAVOUR_OPENMPI : IMG_FLAVOUR_MPICH;
}

int img_flavour_from_disk(uint32_t code, enum mana_mpi_flavour *f)
{
    switch (code) {
    case IMG_FLAVOUR_MPICH:
        *f = MANA_MPI_MPICH;
        return 0;
    case IMG_FLAVOUR_OPENMPI:
        *f = MANA_MPI_OPENMPI;
        return 0;
    }
    return -1;
}

uint32_t img_section_kind_to_disk(enum image_section_kind k)
{
    switch (k) {
    case IMAGE_SECTION_MPI_STATE:
        return IMG_SECTION_MPI_STATE;
    case IMAGE_SECTION_THREADS:
        return IMG_SECTION_THREADS;
    case IMAGE_SECTION_REGION:
        return IMG_SECTION_REGION;
    case IMAGE_SECTION_END:
        return IMG_SECTION_END;
    case IMAGE_SECTION_MACHINE:
        return IMG_SECTION_MACHINE;
    }
    return 0;
}

int img_section_kind_from_disk(uint32_t code, enum image_section_kind *k)
{
    switch (code) {
    case IMG_SECTION_MPI_STATE:
        *k = IMAGE_SECTION_MPI_STATE;
        return 0;
    case IMG_SECTION_THREADS:
        *k = IMAGE_SECTION_THREADS;
        return 0;
    case IMG_SECTION_REGION:
        *k = IMAGE_SECTION_REGION;
        return 0;
    case IMG_SECTION_END:
        *k = IMAGE_SECTION_END;
        return 0;
    case IMG_SECTION_MACHINE:
        *k = IMAGE_SECTION_MACHINE;
        return 0;
    }
    return -1;
}

int img_prot_to_disk(int prot, uint32_t *code)
{
    if (prot & ~(PROT_READ | PROT_WRITE | PROT_EXEC))
        return -1;
    *code = ((prot & PROT_READ) ? IMG_PROT_READ : 0) | ((prot & PROT_WRITE) ? IMG_PROT_WRITE : 0) |
            ((prot & PROT_EXEC) ? IMG_PROT_EXEC : 0);
    return 0;
}

int img_prot_from_disk(uint32_t code, int *prot)
{
    if (code & ~IMG_PROT_ALL)
        return -1;
    *prot = ((code & IMG_PROT_READ) ? PROT_READ : 0) | ((code & IMG_PROT_WRITE) ? PROT_WRITE : 0) |
            ((code & IMG_PROT_EXEC) ? PROT_EXEC : 0);
    return 0;
}

int img_region_flags_to_disk(unsigned flags, uint32_t *code)
{
    if (flags & ~(unsigned)(IMAGE_REGION_SHARED | IMAGE_REGION_GROWSDOWN | IMAGE_REGION_NODATA))
        return -1;
    *code = ((flags & IMAGE_REGION_SHARED) ? IMG_REGION_SHARED : 0) |
            ((flags & IMAGE_REGION_GROWSDOWN) ? IMG_REGION_GROWSDOWN : 0) |
            ((flags & IMAGE_REGION_NODATA) ? IMG_REGION_NODATA : 0);
    return 0;
}

int img_region_flags_from_disk(uint32_t code, unsigned *flags)
{
    if (code & ~IMG_REGION_ALL)
        return -1;
    *flags = ((code & IMG_REGION_SHARED) ? IMAGE_REGION_SHARED : 0u) |
             ((code & IMG_REGION_GROWSDOWN) ? IMAGE_REGION_GROWSDOWN : 0u) |
             ((code & IMG_REGION_NODATA) ? IMAGE_REGION_NODATA : 0u);
    return 0;
}

const char *img_section_kind_name(uint32_t kind, char *buf, size_t len)
{
    enum image_section_kind k;
    if (img_section_kind_from_disk(kind, &k) == 0)
        return image_section_kind_name(k);
    snprintf(buf, len, "kind %u", kind);
    return buf;
}

const char *image_face_name(enum mana_app_face f)
{
    return f == MANA_FACE_OPENMPI ? "openmpi (libmpi.so.40)" : "mpich (libmpich.so.12)";
}

const char *image_flavour_name(enum mana_mpi_flavour f)
{
    return f == MANA_MPI_OPENMPI ? "openmpi" : "mpich";
}

const char *image_section_kind_name(enum image_section_kind k)
{
    switch (k) {
    case IMAGE_SECTION_MPI_STATE:
        return "MPI_STATE";
    case IMAGE_SECTION_THREADS:
        return "THREADS";
    case IMAGE_SECTION_REGION:
        return "REGION";
    case IMAGE_SECTION_END:
        return "END";
    case IMAGE_SECTION_MACHINE:
        return "MACHINE";
    }
    return "?";
}

const char *image_prot_string(int prot, char *buf)
{
    buf[0] = (prot & PROT_READ) ? 'r' : '-';
    buf[1] = (prot & PROT_WRITE) ? 'w' : '-';
    buf[2] = (prot & PROT_EXEC) ? 'x' : '-';
    buf[3] = '\0';
    return buf;
}

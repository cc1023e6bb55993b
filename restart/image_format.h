/* The on-disk layout of a rank's checkpoint image, version 2.
 *
 * This file is the reference for the byte layout: every constant below is
 * written to disk or bounds what may be read from it, and docs/
 * image-format.md describes the same thing in prose. Numbers written to
 * disk (magic, version, section kinds, flavour, protection and region
 * flag bits) are never reused for another meaning: retire a number by
 * leaving it in a comment, never by giving it to something new. They are
 * kept apart from the in-memory enums of image.h so that a change of an
 * enum can never change a file; image_codec.c converts between the two in
 * one place.
 *
 * All integers are little-endian with the widths given; records are
 * written field by field (no struct is ever written whole, so compiler
 * padding cannot reach the disk).
 *
 * A file is:
 *
 *   file header                           IMG_FILE_HEADER_SIZE bytes
 *   section*                              in the order MACHINE? MPI_STATE? THREADS?
 *                                         REGION*
 *   END section                           marks a complete file
 *
 * and nothing after END. A section is a section header followed by
 * stored_len payload bytes:
 *
 *   section header                        IMG_SECTION_HEADER_SIZE bytes
 *   payload                               stored_len bytes
 *
 * Checksums. Every fixed-size header (file header, section header, region
 * descriptor, chunk header) ends with a 64-bit FNV-1a of its other bytes:
 * it guards the lengths the reader trusts before it reads anything else.
 * Every zstd frame is written with zstd's content checksum (the low 32
 * bits of XXH64 of the uncompressed bytes, checked by libzstd while
 * decompressing) and is also covered by an XXH64 of its stored bytes,
 * kept in the header in front of it, so that a damaged frame is found
 * before it is decompressed, including in the few frame-header bits zstd
 * itself does not need (the window size, for one). Each section header
 * carries payload_check (what it covers depends on the kind, below), and
 * the END record carries a digest over the file header and every section
 * header, so one number names the whole image (the coordinator keeps it
 * in the generation's manifest).
 *
 * FNV-1a 64: h = 0xcbf29ce484222325; for each byte b: h ^= b;
 * h *= 0x100000001b3. XXH64: the published xxHash 64-bit algorithm,
 * seed 0 unless said otherwise (image_codec.c; checked against the
 * checksums libzstd writes into its frames). "Chained XXH64" over items
 * x1..xn is h0 = 0, h_i = XXH64(x_i, seed = h_{i-1}).
 *
 * Adding a section kind (or any on-disk code) means updating, in order:
 *   1. a new IMG_SECTION_* number below (never a retired one), with its
 *      payload layout and payload_check described here;
 *   2. enum image_section_kind in image.h and the two conversions in
 *      image_codec.c (img_section_kind_from_disk / _to_disk);
 *   3. the writer (image_writer.c) and the reader's section walk and
 *      verify_all (image_reader.c), including the order rule;
 *   4. mana-inspect's summary (mana_inspect.c);
 *   5. docs/image-format.md and tests/unit/check_image_format.c;
 *   6. IMG_VERSION, if a reader of the current version would misread a
 *      file that contains it (it would: an unknown kind is an error, so a
 *      new kind is a new version unless older readers may refuse it).
 */
#ifndef MANA_IMAGE_FORMAT_H
#define MANA_IMAGE_FORMAT_H

#include <stddef.h>
#include <stdint.h>

/* ---- file header ------------------------------------------------------
 *
 *  off size field
 *    0    8 magic          "MANAIMG\0"
 *    8    4 version        IMG_VERSION
 *   12    4 header_size    IMG_FILE_HEADER_SIZE (the size of this header)
 *   16    4 rank           0 <= rank < nranks
 *   20    4 nranks         >= 1
 *   24    4 mpi_flavour    IMG_FLAVOUR_*
 *   28    4 face           the ABI the application was built for: 0 MPICH
 *                          (libmpich.so.12), 1 Open MPI (libmpi.so.40)
 *   32    8 generation     checkpoint generation number
 *   40    8 created_ns     creation time, ns since the Unix epoch (UTC)
 *   48    8 total_raw      sum of raw_len over every section (bytes a
 *                          restart writes back; zero pages included)
 *   56   64 hostname       NUL-padded; at least one NUL
 *  120    8 header_check   FNV-1a 64 of bytes 0..119
 *
 * The writer writes this header first and rewrites it when the image is
 * finished (total_raw is known only then).
 */
#define IMG_MAGIC "MANAIMG\0"
#define IMG_MAGIC_SIZE 8
/* Versions: 1, the first; 2 added IMG_SECTION_MACHINE (a version-1 image
 * is read as it always was: it simply has no MACHINE section, and one
 * that claims version 1 and holds a MACHINE section is damaged). */
#define IMG_VERSION 2u /* the version this code writes and the newest it reads */
#define IMG_VERSION_OLDEST 1u /* the oldest it reads */
#define IMG_VERSION_MACHINE 2u /* the first version with a MACHINE section */
#define IMG_FILE_HEADER_SIZE 128u
#define IMG_HOSTNAME_SIZE 64u
#define IMG_FILE_HEADER_CHECKED 120u /* bytes covered by header_check */

/* mpi_flavour: the MPI library the rank ran on when it was saved. */
#define IMG_FLAVOUR_MPICH 1u
#define IMG_FLAVOUR_OPENMPI 2u

/* ---- section header ---------------------------------------------------
 *
 *  off size field
 *    0    4 kind           IMG_SECTION_*
 *    4    4 flags          0 (no flag is defined in versions 1 and 2)
 *    8    8 raw_len        uncompressed bytes the section describes
 *   16    8 stored_len     payload bytes that follow this header
 *   24    8 payload_check  per kind, below
 *   32    8 header_check   FNV-1a 64 of bytes 0..31
 */
#define IMG_SECTION_HEADER_SIZE 40u
#define IMG_SECTION_HEADER_CHECKED 32u

/* Section kinds. Payloads:
 *
 * IMG_SECTION_MACHINE (at most one, first; version 2 on): where the image
 *   was taken, as one zstd frame of text: lines "key=value\n", keys of
 *   [A-Za-z0-9_.], values without NUL or newline (machine_record.h lists
 *   the keys: host, CPU model and counts from hwloc, MPI flavour and
 *   library version, the transport variables the rank saw). Readers keep
 *   keys they do not know, so a key can be added without a new version.
 *   raw_len = the text's length (<= IMG_MAX_MACHINE); stored_len = frame
 *   length; payload_check = XXH64 of the frame.
 *
 * IMG_SECTION_MPI_STATE (at most one, after MACHINE): bytes given by the caller
 *   (virtual objects, replay log, drained messages), as one zstd frame.
 *   raw_len = their length (<= IMG_MAX_BLOB); stored_len = frame length;
 *   payload_check = XXH64 of the frame.
 *
 * IMG_SECTION_THREADS (at most one, after MPI_STATE, before regions): one
 *   zstd frame whose content is
 *       u32 count, then count times { u32 len; len bytes }
 *   (each thread's bytes are the caller's: registers, fs base, masks).
 *   raw_len = the content's length (<= IMG_MAX_BLOB); payload_check =
 *   XXH64 of the frame.
 *
 * IMG_SECTION_REGION (one per memory region, after THREADS): a region
 *   descriptor, then chunk_count chunks, each a chunk header followed by
 *   frame_len bytes of zstd frame. raw_len = the region's length (0 for a
 *   region saved without data); payload_check = chained XXH64 over the
 *   descriptor (with its check) and then every chunk header (with its
 *   check; chunk headers hold their frame's XXH64, so this covers every
 *   byte of the section).
 *
 * IMG_SECTION_END (exactly one, last): the END record. raw_len = 0,
 *   stored_len = IMG_END_RECORD_SIZE, payload_check = XXH64 of the
 *   record. A file without it is truncated: its writer never finished.
 *
 * Retired numbers: none yet.
 */
#define IMG_SECTION_MPI_STATE 1u
#define IMG_SECTION_THREADS 2u
#define IMG_SECTION_REGION 3u
#define IMG_SECTION_END 4u
#define IMG_SECTION_MACHINE 5u

/* ---- region descriptor (start of a REGION payload) --------------------
 *
 *  off size field
 *    0    8 addr           first byte of the region in the saved process
 *    8    8 length         bytes; addr + length <= 2^64; any length
 *   16    4 prot           IMG_PROT_* bits
 *   20    4 flags          IMG_REGION_* bits
 *   24    4 name_len       <= IMG_MAX_NAME; the name is not NUL-terminated
 *   28    4 chunk_count    ceil(length / IMG_CHUNK_SIZE), or 0 with
 *                          IMG_REGION_NODATA or length 0
 *   32    n name           name_len bytes ("[heap]", a path, "")
 *  32+n   8 desc_check     FNV-1a 64 of bytes 0..31+n
 */
#define IMG_REGION_DESC_FIXED 32u
#define IMG_REGION_DESC_SIZE(name_len) (IMG_REGION_DESC_FIXED + (uint64_t)(name_len) + 8u)
#define IMG_MAX_NAME 4095u

#define IMG_PROT_READ 0x1u
#define IMG_PROT_WRITE 0x2u
#define IMG_PROT_EXEC 0x4u
#define IMG_PROT_ALL (IMG_PROT_READ | IMG_PROT_WRITE | IMG_PROT_EXEC)

#define IMG_REGION_SHARED 0x1u     /* a MAP_SHARED mapping */
#define IMG_REGION_GROWSDOWN 0x2u  /* a stack that grows down */
#define IMG_REGION_NODATA 0x4u     /* contents not saved (e.g. PROT_NONE reserve) */
#define IMG_REGION_ALL (IMG_REGION_SHARED | IMG_REGION_GROWSDOWN | IMG_REGION_NODATA)

/* ---- chunks -----------------------------------------------------------
 *
 * A region's bytes are cut into chunks of IMG_CHUNK_SIZE (the last one
 * shorter) and each chunk into pages of IMG_PAGE_SIZE (the region's last
 * page may be shorter). Pages whose bytes are all zero are not stored;
 * the others are concatenated in order and compressed as one zstd frame
 * with its content checksum and content size.
 *
 *  off size field
 *    0    4 index          0, 1, 2 ... in order
 *    4    4 stored_pages   number of pages not in zero_map
 *    8    8 frame_len      bytes of zstd frame after this header; 0 iff
 *                          stored_pages is 0; <= IMG_MAX_FRAME
 *   16    8 frame_check    XXH64 of the frame's bytes (0 without a frame)
 *   24   32 zero_map       bit i (byte i/8, bit i%8, LSB first) set: page
 *                          i of the chunk is all zeros and not stored;
 *                          bits past the chunk's last page are 0
 *   56    8 header_check   FNV-1a 64 of bytes 0..55
 *
 * The frame's content is exactly the stored pages' bytes, so its content
 * size is known from the header before anything is decompressed.
 */
#define IMG_PAGE_SIZE 4096u
#define IMG_CHUNK_SIZE (1024u * 1024u)
#define IMG_PAGES_PER_CHUNK (IMG_CHUNK_SIZE / IMG_PAGE_SIZE) /* 256 */
#define IMG_ZERO_MAP_SIZE (IMG_PAGES_PER_CHUNK / 8)           /* 32 */
#define IMG_CHUNK_HEADER_SIZE 64u
#define IMG_CHUNK_HEADER_CHECKED 56u
/* ZSTD_COMPRESSBOUND(IMG_CHUNK_SIZE) for zstd 1.5: a frame longer than
 * this cannot hold one chunk (checked against libzstd at build time in
 * image_codec.c). */
#define IMG_MAX_FRAME (IMG_CHUNK_SIZE + (IMG_CHUNK_SIZE >> 8))

/* ---- END record (the END section's payload) ---------------------------
 *
 *  off size field
 *    0    8 section_count  sections before END
 *    8    8 total_raw      equal to the file header's
 *   16    8 end_offset     file offset of the END section header
 *   24    8 digest         chained XXH64 over every section header before
 *                          END (40 bytes each, in file order), then the
 *                          final file header (128 bytes):
 *                          h = XXH64(file header, seed = h_n)
 *
 * The file ends right after this record.
 */
#define IMG_END_RECORD_SIZE 32u

/* ---- limits a reader enforces before allocating -----------------------
 *
 * A blob section (MACHINE, MPI_STATE, THREADS) is decompressed whole into memory,
 * so its raw_len is capped, and a zstd frame cannot expand more than
 * IMG_MAX_ZSTD_RATIO times (every block of at most 128 KiB costs at least
 * 4 bytes), so raw_len <= stored_len * IMG_MAX_ZSTD_RATIO as well. Region
 * data needs no allocation: it is decompressed chunk by chunk.
 */
#define IMG_MAX_BLOB (1ull << 30)
/* A MACHINE record is a few hundred bytes; the cap keeps a damaged one
 * from costing a restart more than this much memory. */
#define IMG_MAX_MACHINE (64ull << 10)
#define IMG_MAX_ZSTD_RATIO 32768ull

/* ---- encoding and decoding (image_codec.c) ----------------------------
 * Plain mirrors of the records above, in host order. Encoders fill in
 * the record's own check; decoders return what is on disk, and the
 * caller compares the stored check with img_fnv1a64 of the bytes. */

struct img_file_header {
    uint32_t version;
    uint32_t header_size;
    uint32_t rank;
    uint32_t nranks;
    uint32_t mpi_flavour; /* IMG_FLAVOUR_* */
    uint32_t face; /* 0 MPICH ABI, 1 Open MPI ABI; was reserved (0) */
    uint64_t generation;
    uint64_t created_ns;
    uint64_t total_raw;
    char hostname[IMG_HOSTNAME_SIZE];
    uint64_t header_check;
};

struct img_section_header {
    uint32_t kind; /* IMG_SECTION_* */
    uint32_t flags;
    uint64_t raw_len;
    uint64_t stored_len;
    uint64_t payload_check;
    uint64_t header_check;
};

struct img_region_desc {
    uint64_t addr;
    uint64_t length;
    uint32_t prot;  /* IMG_PROT_* */
    uint32_t flags; /* IMG_REGION_* */
    uint32_t name_len;
    uint32_t chunk_count;
    /* name follows on disk; the codec takes and returns it separately */
};

struct img_chunk_header {
    uint32_t index;
    uint32_t stored_pages;
    uint64_t frame_len;
    uint64_t frame_check;
    uint8_t zero_map[IMG_ZERO_MAP_SIZE];
    uint64_t header_check;
};

struct img_end_record {
    uint64_t section_count;
    uint64_t total_raw;
    uint64_t end_offset;
    uint64_t digest;
};

uint64_t img_fnv1a64(const void *data, size_t len);
uint64_t img_xxh64(const void *data, size_t len, uint64_t seed);

static inline void img_put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}
static inline void img_put64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}
static inline uint32_t img_get32(const uint8_t *p)
{
    uint32_t v = 0;
    for (int i = 3; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}
static inline uint64_t img_get64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

void img_encode_file_header(const struct img_file_header *h, uint8_t out[IMG_FILE_HEADER_SIZE]);
void img_decode_file_header(const uint8_t in[IMG_FILE_HEADER_SIZE], struct img_file_header *h);
void img_encode_section_header(const struct img_section_header *s, uint8_t out[IMG_SECTION_HEADER_SIZE]);
void img_decode_section_header(const uint8_t in[IMG_SECTION_HEADER_SIZE], struct img_section_header *s);
/* OUT holds IMG_REGION_DESC_SIZE(d->name_len) bytes; returns that size. */
size_t img_encode_region_desc(const struct img_region_desc *d, const char *name, uint8_t *out);
/* Decodes the fixed part (IMG_REGION_DESC_FIXED bytes). */
void img_decode_region_desc(const uint8_t *in, struct img_region_desc *d);
void img_encode_chunk_header(const struct img_chunk_header *c, uint8_t out[IMG_CHUNK_HEADER_SIZE]);
void img_decode_chunk_header(const uint8_t in[IMG_CHUNK_HEADER_SIZE], struct img_chunk_header *c);
void img_encode_end_record(const struct img_end_record *e, uint8_t out[IMG_END_RECORD_SIZE]);
void img_decode_end_record(const uint8_t in[IMG_END_RECORD_SIZE], struct img_end_record *e);

/* Number of pages of a chunk of LEN bytes (the last page may be short). */
static inline uint32_t img_chunk_pages(uint64_t len)
{
    return (uint32_t)((len + IMG_PAGE_SIZE - 1) / IMG_PAGE_SIZE);
}

/* The name of an on-disk section kind for messages ("kind 9" if unknown;
 * BUF holds at least 16 bytes). */
const char *img_section_kind_name(uint32_t kind, char *buf, size_t len);

#endif

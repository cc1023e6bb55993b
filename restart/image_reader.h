/* Reading one rank's checkpoint image (layout: image_format.h): the
 * reader restart uses, and the one mana-inspect uses, so what inspect
 * accepts is exactly what restart accepts.
 *
 *   r = image_reader_open(path, err, sizeof err);     header checked
 *   while ((rc = image_reader_next(r, &s)) > 0) {     sections in file order
 *       MACHINE:   image_reader_load_blob(r, &s, &data, &len)  (machine_record.h)
 *       MPI_STATE: image_reader_load_blob(r, &s, &data, &len)
 *       THREADS:   image_reader_load_threads(r, &s, &list)
 *       REGION:    image_reader_region_data(r, &s, dst, s.raw_len, flags)
 *   }                                                 rc 0: END seen and checked
 *   image_reader_close(r);
 *
 * or image_reader_verify_all(r) to read and check everything. Every
 * function returns -1 on a damaged, truncated or unreadable image with a
 * message (image_reader_error) naming the file, the place and what to
 * do. Nothing in the file is trusted before it is checked: every length
 * is bounded by the file's size or a format limit before anything is
 * allocated or read, so no input makes the reader crash or allocate
 * without bound.
 */
#ifndef MANA_IMAGE_READER_H
#define MANA_IMAGE_READER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "image.h"

struct image_reader;

struct image_region_info {
    uint64_t addr;
    uint64_t length;
    int prot;       /* PROT_READ | PROT_WRITE | PROT_EXEC */
    unsigned flags; /* enum image_region_flags */
    uint32_t chunk_count;
    char name[IMAGE_NAME_MAX + 1];
};

struct image_section {
    enum image_section_kind kind;
    uint32_t index;      /* position among the file's sections, from 0 */
    uint64_t offset;     /* file offset of the section header */
    uint64_t raw_len;    /* uncompressed bytes */
    uint64_t stored_len; /* payload bytes on disk */
    struct image_region_info region; /* kind REGION only */
    /* for the reader */
    uint64_t payload_check;
    uint64_t data_off;   /* REGION: offset of the first chunk header */
    uint64_t desc_hash;  /* REGION: XXH64 of the descriptor */
};

/* What a walk over a region's chunks found. */
struct image_region_stats {
    uint64_t pages;        /* 4 KiB pages (the last may be short) */
    uint64_t zero_pages;   /* not stored */
    uint64_t frame_bytes;  /* compressed bytes of the stored pages */
};

struct image_thread_list {
    uint32_t count;
    const uint8_t **data; /* data[i]: thread i's bytes, len[i] of them */
    uint32_t *len;
    void *blob;           /* owns the bytes */
};

struct image_verify_stats {
    uint64_t sections;     /* before END */
    uint64_t regions;
    uint64_t raw_bytes;
    uint64_t pages, zero_pages, frame_bytes;
    uint64_t mpi_state_bytes;
    uint64_t machine_bytes;
    uint32_t threads;
    uint64_t digest;
};

/* Opens PATH and checks its header (magic, version, checksum, fields).
 * NULL with a message in ERR on failure. */
struct image_reader *image_reader_open(const char *path, char *err, size_t errlen);
void image_reader_close(struct image_reader *r);
const char *image_reader_error(const struct image_reader *r);
/* Whether an error so far said the file's bytes are wrong (truncated,
 * checksum, contradicting fields), as against a failed read: only damage
 * condemns a generation, an I/O error may pass. */
bool image_reader_damage_found(const struct image_reader *r);

const struct image_header *image_reader_header(const struct image_reader *r);
uint64_t image_reader_file_size(const struct image_reader *r);
/* The descriptor the image is read from (for the restore's trust check,
 * trust.h, which looks at the file actually read). Owned by the reader. */
int image_reader_fd(const struct image_reader *r);

/* Goes back to the first section. */
void image_reader_rewind(struct image_reader *r);

/* Reads the next section's header (and a region's descriptor) into S.
 * Returns 1 for a section, 0 once END is reached (END checked: counts,
 * lengths, digest, nothing after it), -1 on error. Payloads are not read:
 * use the functions below. */
int image_reader_next(struct image_reader *r, struct image_section *s);

/* The digest the END record at the file's end claims, read without
 * walking the sections: one read, for checking many images cheaply (a
 * generation before a resume). It proves the file is complete and which
 * image it is, not that the bytes between are intact: the walk and the
 * restore check those. 0, or -1 with the reason in image_reader_error. */
int image_reader_tail_digest(struct image_reader *r, uint64_t *digest);

/* The END record's digest, valid after image_reader_next returned 0. */
uint64_t image_reader_digest(const struct image_reader *r);

/* MACHINE, MPI_STATE or THREADS: decompresses the payload into a new buffer
 * (free() it), checking its checksums. */
int image_reader_load_blob(struct image_reader *r, const struct image_section *s, void **data, size_t *len);

/* THREADS: the per-thread byte strings; free with image_thread_list_free. */
int image_reader_load_threads(struct image_reader *r, const struct image_section *s, struct image_thread_list *out);
void image_thread_list_free(struct image_thread_list *t);

/* The destination already holds zeros (a fresh anonymous mapping): zero
 * pages are skipped instead of written, so they stay unallocated. */
#define IMAGE_DST_ZEROED 1u
/* With IMAGE_DST_ZEROED: map the zero pages all the same, as reads would
 * (MADV_POPULATE_READ), chunk by chunk with the data, so that the program
 * does not fault on them one by one later (ckpt_restore.c says why). */
#define IMAGE_DST_MAP_ZEROS 2u

/* REGION: decompresses the region into DST (DST_LEN must be the region's
 * length), zeros for zero pages, checking every checksum. On error DST
 * may hold part of the data. A NODATA region gives zeros. */
int image_reader_region_data(struct image_reader *r, const struct image_section *s, void *dst, uint64_t dst_len,
                             unsigned flags);

/* How many threads check and decompress a region's chunks (in
 * image_reader_region_data and _verify; the calling thread, which reads
 * the file, is one of them): 1, the default, does everything in the
 * calling thread; 0 picks one per CPU this process may use, at most
 * IMG_READER_MAX_THREADS. The threads start with the first region of
 * several chunks and end with image_reader_close or the next call here;
 * if none can start, the calling thread does the work. Errors are the
 * same as with one thread: the first damaged chunk in file order. */
#define IMG_READER_MAX_THREADS 64u
void image_reader_set_threads(struct image_reader *r, unsigned n);

/* Where region_data and region_verify spent their time so far, in
 * seconds summed over the threads: reading frames from the file (the
 * calling thread), mapping the destination pages (MADV_POPULATE_WRITE),
 * and checking, decompressing and placing the data. For the restart's
 * MANA_DEBUG=restore-times. */
struct image_read_times {
    double read_s, populate_s, decode_s;
    unsigned threads; /* working now, the calling one included */
};
void image_reader_times(const struct image_reader *r, struct image_read_times *t);

/* REGION: reads the chunk headers only (checking them and the section's
 * payload checksum over them), not the data. Cheap: for listings. */
int image_reader_region_scan(struct image_reader *r, const struct image_section *s, struct image_region_stats *st);

/* REGION: like image_reader_region_data into a scratch buffer: reads and
 * checks everything, keeps nothing. */
int image_reader_region_verify(struct image_reader *r, const struct image_section *s, struct image_region_stats *st);

/* Reads the whole image from the first section to END, checking every
 * checksum and length. STATS may be NULL. */
int image_reader_verify_all(struct image_reader *r, struct image_verify_stats *stats);

#endif

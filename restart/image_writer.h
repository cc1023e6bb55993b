/* Writing one rank's checkpoint image (layout: image_format.h).
 *
 *   w = image_writer_open(path, &hdr, &opts, err, sizeof err);
 *   image_writer_add_machine(w, ...);            at most once, first
 *   image_writer_add_mpi_state(w, ...);          at most once, before threads
 *   image_writer_add_thread(w, ...);             once per thread
 *   image_writer_add_region(w, ...);             once per memory region
 *   image_writer_finish(w, &summary, err, sizeof err);  or image_writer_abort(w)
 *
 * The image is written to PATH.tmp-<pid> and only renamed to PATH once it
 * is complete and durable (END written, file fsynced, then the directory
 * after the rename): a crash or an error at any point leaves no file at
 * PATH (design invariant 7). Every error returns -1 with a message that
 * names the file, the cause and what to do; after one, the temporary file
 * is already removed and every later call fails with the same message, so
 * the caller only has to report it and call image_writer_abort.
 *
 * Region data is compressed by a pool of threads, one per CPU this
 * process may run on, while the calling thread writes finished chunks in
 * order; image_writer_add_region may return before its data is
 * compressed, so the memory it was given must stay readable and unchanged
 * until image_writer_finish or image_writer_abort returns. Not safe to
 * call from two threads at once.
 */
#ifndef MANA_IMAGE_WRITER_H
#define MANA_IMAGE_WRITER_H

#include <stddef.h>
#include <stdint.h>

#include "image.h"

struct image_writer;

/* The header fields the caller knows; the writer adds the format
 * version, the creation time and the host name. */
struct image_writer_header {
    uint32_t rank;
    uint32_t nranks;
    enum mana_mpi_flavour flavour;
    enum mana_app_face face;
    uint64_t generation;
};

struct image_writer_opts {
    int level;        /* zstd level (default 1) */
    int threads;      /* compressing threads; 0: one per CPU this process may use, at most 64 (default);
                         1: compress in the calling thread; about 3 MiB of memory each */
    int zstd_workers; /* > 0: no pool; each chunk is compressed with zstd's own ZSTD_c_nbWorkers
                         threads instead (slower: kept only to measure against; docs/image-format.md) */
};

/* What a finished image holds (for the coordinator's "written, size,
 * checksum" and for logs). */
struct image_summary {
    uint64_t file_size;   /* bytes on disk */
    uint64_t digest;      /* the END record's digest: names the whole image */
    uint64_t total_raw;   /* uncompressed bytes */
    uint64_t sections;    /* sections before END */
    uint64_t regions;
    uint64_t zero_pages;  /* pages found all-zero and not stored */
    uint64_t stored_pages;
};

void image_writer_opts_default(struct image_writer_opts *o);

/* Creates PATH.tmp-<pid> (mode 0600) and writes the header. OPTS may be
 * NULL for the defaults. Returns NULL with a message in ERR on failure. */
struct image_writer *image_writer_open(const char *path, const struct image_writer_header *hdr,
                                       const struct image_writer_opts *opts, char *err, size_t errlen);

/* Where the image is taken: the machine record's text (machine_record.h;
 * at most IMG_MAX_MACHINE bytes). At most once, before anything else. */
int image_writer_add_machine(struct image_writer *w, const void *data, size_t len);

/* The MPI state (opaque to the image; at most IMG_MAX_BLOB bytes). At most
 * once, after the machine record, before any thread or region. */
int image_writer_add_mpi_state(struct image_writer *w, const void *data, size_t len);

/* One thread's saved state (opaque). All threads are written together,
 * as one THREADS section, before the first region. */
int image_writer_add_thread(struct image_writer *w, const void *data, size_t len);

/* One memory region: ADDR and LEN as mapped in the saved process, PROT as
 * PROT_READ/WRITE/EXEC, FLAGS as enum image_region_flags, NAME as in
 * /proc/self/maps (NULL or "" for none; at most IMAGE_NAME_MAX bytes).
 * DATA points to LEN readable bytes (for a checkpoint, DATA is ADDR
 * itself); DATA NULL saves the region without contents (NODATA). */
int image_writer_add_region(struct image_writer *w, uint64_t addr, uint64_t len, int prot, unsigned flags,
                            const char *name, const void *data);

/* Writes END, fsyncs, renames to the final path and fsyncs the directory.
 * Frees W whatever happens. Returns 0 and fills SUMMARY (may be NULL), or
 * -1 with a message in ERR; on -1 there is no file at the final path and
 * no temporary file. */
int image_writer_finish(struct image_writer *w, struct image_summary *summary, char *err, size_t errlen);

/* Discards an unfinished image: removes the temporary file and frees W. */
void image_writer_abort(struct image_writer *w);

/* The message of the last failed call (empty if none). */
const char *image_writer_error(const struct image_writer *w);

/* The temporary path the writer writes to (for tests and messages). */
const char *image_writer_temp_path(const struct image_writer *w);

#endif

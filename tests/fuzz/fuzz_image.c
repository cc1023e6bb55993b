/* libFuzzer harness for the checkpoint image reader (restart/
 * image_reader.c): opens the input as an image, walks every section as
 * mana-restart does, loads the machine record (and parses and compares
 * it, as mana-inspect and a restart do), the MPI state and the threads,
 * decodes each thread record (ckpt_state.c, and through it the open-files
 * record), scans and restores every region small enough to hold in
 * memory. Built
 * with FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION: checksums always match
 * (image_reader.c, sum_ok). Seeds: tests/fuzz/corpus/image. */
#include "fuzz_common.h"

#include <stdio.h>
#include <string.h>

#include "ckpt_state.h"
#include "image_reader.h"
#include "machine_record.h"

static void ignore_line(void *ctx, const char *key, const char *line)
{
    (void)ctx;
    (void)key;
    (void)line;
}

static void threads(struct image_reader *r, const struct image_section *s)
{
    struct image_thread_list t;
    if (image_reader_load_threads(r, s, &t) < 0)
        return;
    char err[512];
    for (uint32_t i = 0; i < t.count; i++) {
        struct ckpt_thread_state ts;
        if (i == 0) {
            static struct ckpt_process_state ps; /* PATH_MAX cwd: off the stack */
            if (ckpt_decode_main(t.data[i], t.len[i], &ts, &ps, err, sizeof err) == 0)
                ckpt_files_free(&ps.files);
        } else {
            ckpt_decode_thread(t.data[i], t.len[i], &ts, err, sizeof err);
        }
    }
    image_thread_list_free(&t);
}

/* The record as mana-inspect shows it and a restart compares it. */
static void machine(const void *blob, size_t len)
{
    struct machine_record m;
    if (machine_record_parse(blob, len, &m) != 0)
        return;
    char buf[4 * MACHINE_VALUE_MAX + 8];
    for (size_t i = 0; i < m.nfields; i++) {
        machine_printable(m.f[i].value, buf, sizeof buf);
        (void)machine_key_label(m.f[i].key);
    }
    machine_record_diff(&m, &m, ignore_line, NULL);
    machine_record_free(&m);
}

static void region(struct image_reader *r, const struct image_section *s)
{
    struct image_region_stats st;
    if (image_reader_region_scan(r, s, &st) < 0 || s->region.length > FUZZ_MAX_RAW)
        return;
    size_t len = s->region.length ? (size_t)s->region.length : 1;
    void *dst = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (dst == MAP_FAILED)
        return;
    /* Both ways of restoring: into a zeroed mapping (zero pages skipped)
     * and into one that is not (zero pages written). */
    image_reader_region_data(r, s, dst, s->region.length, IMAGE_DST_ZEROED);
    memset(dst, 0xa5, len);
    image_reader_region_data(r, s, dst, s->region.length, 0);
    munmap(dst, len);
    image_reader_region_verify(r, s, &st);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int fd = fuzz_memfd(data, size);
    if (fd < 0)
        return 0;
    char path[64], err[1024];
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    struct image_reader *r = image_reader_open(path, err, sizeof err);
    close(fd); /* the reader holds its own */
    if (r == NULL)
        return 0;
    struct image_section s;
    while (image_reader_next(r, &s) > 0) {
        if (s.kind == IMAGE_SECTION_REGION) {
            region(r, &s);
        } else if (s.raw_len <= FUZZ_MAX_RAW) {
            if (s.kind == IMAGE_SECTION_THREADS) {
                threads(r, &s);
            } else {
                void *blob;
                size_t len;
                if (image_reader_load_blob(r, &s, &blob, &len) == 0) {
                    if (s.kind == IMAGE_SECTION_MACHINE)
                        machine(blob, len);
                    free(blob);
                }
            }
        }
    }
    (void)image_reader_error(r);
    image_reader_close(r);
    return 0;
}

/* Unit tests for the checkpoint image format (restart/image_*.c): round
 * trips of every kind of section and data, zero pages left out, and the
 * reader's answer to damaged input (truncation anywhere, a bit flipped
 * anywhere, random corruption, crafted lengths) which must always be a
 * clear error and never a crash: run these under AddressSanitizer too.
 * The writer's failure paths (abort, a full file system, a missing
 * directory) must leave no file behind. */
#define _GNU_SOURCE
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zstd.h>

#include "image_format.h"
#include "image_reader.h"
#include "image_writer.h"
#include "machine_record.h"

/* Check reports every passing ck_assert to the parent process; in loops
 * of thousands of checks that dominates the run time, so they use this. */
#define REQUIRE(cond, ...)                                                                                             \
    do {                                                                                                               \
        if (!(cond))                                                                                                   \
            ck_abort_msg(__VA_ARGS__);                                                                                 \
    } while (0)

/* ---- scratch directory ------------------------------------------------ */

static char dir[PATH_MAX];

static const char *in_dir(const char *name)
{
    static char buf[4][PATH_MAX + 64];
    static int next;
    char *b = buf[next++ % 4];
    snprintf(b, sizeof buf[0], "%s/%s", dir, name);
    return b;
}

static void setup(void)
{
    const char *base = getenv("TMPDIR");
    snprintf(dir, sizeof dir, "%s/mana-check-image.XXXXXX", base && *base ? base : "/tmp");
    ck_assert_ptr_nonnull(mkdtemp(dir));
}

static int rm_one(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(p);
}

static void teardown(void)
{
    nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static int exists(const char *p)
{
    struct stat st;
    return lstat(p, &st) == 0;
}

static uint8_t *read_file(const char *p, size_t *len)
{
    int fd = open(p, O_RDONLY);
    ck_assert_int_ge(fd, 0);
    struct stat st;
    ck_assert_int_eq(fstat(fd, &st), 0);
    uint8_t *b = malloc((size_t)st.st_size + 1);
    ck_assert_ptr_nonnull(b);
    ck_assert_int_eq(pread(fd, b, (size_t)st.st_size, 0), st.st_size);
    close(fd);
    *len = (size_t)st.st_size;
    return b;
}

static void write_file(const char *p, const void *data, size_t len)
{
    int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, data, len), (ssize_t)len);
    close(fd);
}

/* ---- test data -------------------------------------------------------- */

static uint64_t rnd(uint64_t *s)
{
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * 0x2545F4914F6CDD1Dull;
}

static void fill_random(uint8_t *p, size_t n, uint64_t seed)
{
    uint64_t s = seed | 1;
    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t)(rnd(&s) >> 32);
}

static void fill_text(uint8_t *p, size_t n, uint64_t seed)
{
    static const char *w[] = {"restart ", "the ", "rank ", "of ", "checkpoint ", "image\n", "zero ", "page "};
    uint64_t s = seed | 1;
    size_t at = 0;
    while (at < n) {
        const char *x = w[rnd(&s) % 8];
        while (*x && at < n)
            p[at++] = (uint8_t)*x++;
    }
}

struct region {
    uint64_t addr, len;
    int prot;
    unsigned flags;
    const char *name;
    uint8_t *data; /* NULL: saved without data */
};

struct fixture {
    struct region r[16];
    int nr;
    uint8_t mpi[3001];
    uint8_t th[3][700];
    size_t thlen[3];
    char longname[IMAGE_NAME_MAX + 1];
};

static struct fixture *fx;

static uint8_t *alloc_data(size_t n)
{
    uint8_t *p = malloc(n ? n : 1);
    ck_assert_ptr_nonnull(p);
    return p;
}

static void add_region(struct fixture *f, uint64_t addr, uint64_t len, int prot, unsigned flags, const char *name,
                       uint8_t *data)
{
    f->r[f->nr++] = (struct region){addr, len, prot, flags, name, data};
}

/* Regions of random, zero, text and mixed data, of odd sizes (most not
 * page multiples, some spanning several chunks), plus the corner cases. */
static struct fixture *make_fixture(void)
{
    struct fixture *f = calloc(1, sizeof *f);
    ck_assert_ptr_nonnull(f);
    size_t n;
    uint8_t *d;

    n = 3 * IMG_CHUNK_SIZE + 123; /* random, 4 chunks, short last page */
    d = alloc_data(n);
    fill_random(d, n, 1);
    add_region(f, 0x7f0000000000, n, PROT_READ | PROT_WRITE, 0, "[heap]", d);

    n = 5 * IMG_CHUNK_SIZE; /* all zeros */
    d = alloc_data(n);
    memset(d, 0, n);
    add_region(f, 0x7f0001000000, n, PROT_READ | PROT_WRITE, 0, "", d);

    n = IMG_CHUNK_SIZE + 4095; /* text */
    d = alloc_data(n);
    fill_text(d, n, 2);
    add_region(f, 0x7f0002000000, n, PROT_READ | PROT_EXEC, 0, "/usr/lib/libtext.so", d);

    n = 2 * IMG_CHUNK_SIZE + 77; /* every other page zero, a zero page ending in one byte */
    d = alloc_data(n);
    fill_random(d, n, 3);
    for (size_t off = 0; off < n; off += 2 * IMG_PAGE_SIZE)
        memset(d + off, 0, n - off < IMG_PAGE_SIZE ? n - off : IMG_PAGE_SIZE);
    d[n - 1] = 0x5a; /* the short last page is not zero */
    add_region(f, 0x7f0003000000, n, PROT_READ | PROT_WRITE, IMAGE_REGION_SHARED, "/dev/shm/x (deleted)", d);

    n = 1; /* one byte */
    d = alloc_data(n);
    d[0] = 0xa5;
    add_region(f, 0x400000, n, PROT_READ, 0, "one byte", d);

    n = 5000; /* all zero, not a page multiple */
    d = alloc_data(n);
    memset(d, 0, n);
    add_region(f, 0x500000, n, PROT_READ | PROT_WRITE, IMAGE_REGION_GROWSDOWN, "[stack]", d);

    add_region(f, 0x600000, 0, PROT_READ, 0, "empty", alloc_data(0));
    add_region(f, 0x700000, 64 * 4096, PROT_NONE, 0, "guard", NULL);

    memset(f->longname, 'n', IMAGE_NAME_MAX);
    n = 4096 * 3; /* exact page multiple, longest name */
    d = alloc_data(n);
    fill_text(d, n, 4);
    add_region(f, 0xffffffffffff0000ull - n, n, PROT_READ | PROT_WRITE | PROT_EXEC, 0, f->longname, d);

    fill_text(f->mpi, sizeof f->mpi, 5);
    f->thlen[0] = 700;
    f->thlen[1] = 0;
    f->thlen[2] = 333;
    fill_random(f->th[0], 700, 6);
    fill_random(f->th[2], 333, 7);
    return f;
}

static void free_fixture(struct fixture *f)
{
    for (int i = 0; i < f->nr; i++)
        free(f->r[i].data);
    free(f);
}

static void setup_fx(void)
{
    setup();
    fx = make_fixture();
}

static void teardown_fx(void)
{
    free_fixture(fx);
    fx = NULL;
    teardown();
}

static char werr[1024];

static const struct image_writer_header hdr = {.rank = 3, .nranks = 8, .flavour = MANA_MPI_OPENMPI, .generation = 42};

/* Writes the whole fixture; 0, or -1 with the message in werr. */
static int write_fixture(const char *path, const struct fixture *f, const struct image_writer_opts *o,
                         struct image_summary *sum)
{
    struct image_writer *w = image_writer_open(path, &hdr, o, werr, sizeof werr);
    if (!w)
        return -1;
    int rc = image_writer_add_mpi_state(w, f->mpi, sizeof f->mpi);
    for (int i = 0; rc == 0 && i < 3; i++)
        rc = image_writer_add_thread(w, f->th[i], f->thlen[i]);
    for (int i = 0; rc == 0 && i < f->nr; i++)
        rc = image_writer_add_region(w, f->r[i].addr, f->r[i].len, f->r[i].prot, f->r[i].flags, f->r[i].name,
                                     f->r[i].data);
    if (rc < 0) {
        snprintf(werr, sizeof werr, "%s", image_writer_error(w));
        image_writer_abort(w);
        return -1;
    }
    return image_writer_finish(w, sum, werr, sizeof werr);
}

/* A small image (a few chunks) for the damage tests. */
static int write_small(const char *path)
{
    struct image_writer *w = image_writer_open(path, &hdr, NULL, werr, sizeof werr);
    if (!w)
        return -1;
    static uint8_t a[2 * IMG_PAGE_SIZE + 100], b[IMG_CHUNK_SIZE + 3 * IMG_PAGE_SIZE];
    fill_text(a, sizeof a, 11);
    memset(b, 0, sizeof b);
    fill_random(b + IMG_CHUNK_SIZE, 2 * IMG_PAGE_SIZE, 12); /* second chunk: two pages of data, one zero */
    fill_text(b + 5 * IMG_PAGE_SIZE, 3000, 13);             /* one text page in the first chunk */
    int rc = image_writer_add_mpi_state(w, "mpi state", 9);
    if (rc == 0)
        rc = image_writer_add_thread(w, "thread 0", 8);
    if (rc == 0)
        rc = image_writer_add_region(w, 0x10000, sizeof a, PROT_READ | PROT_WRITE, 0, "a", a);
    if (rc == 0)
        rc = image_writer_add_region(w, 0x20000, 8192, PROT_NONE, 0, "guard", NULL);
    if (rc == 0)
        rc = image_writer_add_region(w, 0x40000000, sizeof b, PROT_READ, 0, "b", b);
    if (rc < 0) {
        image_writer_abort(w);
        return -1;
    }
    return image_writer_finish(w, NULL, werr, sizeof werr);
}

/* Threads of the readers check_matches and verify_file open
 * (image_reader_set_threads). */
static unsigned reader_threads = 1;

/* Opens and verifies PATH: 0 if good, else -1 with the message in MSG. */
static int verify_file(const char *path, char *msg, size_t len)
{
    struct image_reader *r = image_reader_open(path, msg, len);
    if (!r)
        return -1;
    image_reader_set_threads(r, reader_threads);
    int rc = image_reader_verify_all(r, NULL);
    if (rc < 0)
        snprintf(msg, len, "%s", image_reader_error(r));
    image_reader_close(r);
    return rc;
}

/* Reads everything back and compares it with the fixture; ZEROED: the
 * destinations start zeroed and the reader is told so (2: and told to
 * map the zero pages too, as the restart does), else they start as 0xAA
 * garbage, so zero pages must be written. */
static void check_matches(const char *path, const struct fixture *f, int zeroed)
{
    char err[1024];
    struct image_reader *r = image_reader_open(path, err, sizeof err);
    ck_assert_msg(r != NULL, "%s", err);
    image_reader_set_threads(r, reader_threads);
    const struct image_header *h = image_reader_header(r);
    ck_assert_uint_eq(h->version, IMG_VERSION);
    ck_assert_uint_eq(h->rank, 3);
    ck_assert_uint_eq(h->nranks, 8);
    ck_assert_int_eq(h->flavour, MANA_MPI_OPENMPI);
    ck_assert_uint_eq(h->generation, 42);
    char host[256] = "";
    gethostname(host, sizeof host);
    host[IMAGE_HOSTNAME_MAX] = '\0';
    ck_assert_str_eq(h->hostname, host);
    ck_assert_uint_gt(h->created_ns, 1600000000ull * 1000000000ull);

    struct image_section s;
    int nreg = 0, rc;
    uint64_t raw = 0;
    int saw_mpi = 0, saw_threads = 0;
    while ((rc = image_reader_next(r, &s)) > 0) {
        raw += s.raw_len;
        if (s.kind == IMAGE_SECTION_MPI_STATE) {
            void *d;
            size_t n;
            ck_assert_msg(image_reader_load_blob(r, &s, &d, &n) == 0, "%s", image_reader_error(r));
            ck_assert_uint_eq(n, sizeof f->mpi);
            ck_assert(memcmp(d, f->mpi, n) == 0);
            free(d);
            saw_mpi = 1;
        } else if (s.kind == IMAGE_SECTION_THREADS) {
            struct image_thread_list t;
            ck_assert_msg(image_reader_load_threads(r, &s, &t) == 0, "%s", image_reader_error(r));
            ck_assert_uint_eq(t.count, 3);
            for (int i = 0; i < 3; i++) {
                ck_assert_uint_eq(t.len[i], f->thlen[i]);
                ck_assert(memcmp(t.data[i], f->th[i], f->thlen[i]) == 0);
            }
            image_thread_list_free(&t);
            saw_threads = 1;
        } else {
            ck_assert_int_eq(s.kind, IMAGE_SECTION_REGION);
            ck_assert_int_lt(nreg, f->nr);
            const struct region *e = &f->r[nreg++];
            ck_assert_uint_eq(s.region.addr, e->addr);
            ck_assert_uint_eq(s.region.length, e->len);
            ck_assert_int_eq(s.region.prot, e->prot);
            ck_assert_uint_eq(s.region.flags, e->flags | (e->data ? 0u : (unsigned)IMAGE_REGION_NODATA));
            ck_assert_str_eq(s.region.name, e->name);
            uint8_t *dst = malloc(e->len ? e->len : 1);
            ck_assert_ptr_nonnull(dst);
            memset(dst, zeroed ? 0 : 0xaa, e->len);
            unsigned flags = zeroed ? IMAGE_DST_ZEROED : 0;
            if (zeroed == 2)
                flags |= IMAGE_DST_MAP_ZEROS;
            ck_assert_msg(image_reader_region_data(r, &s, dst, e->len, flags) == 0, "%s", image_reader_error(r));
            if (e->data) {
                for (uint64_t i = 0; i < e->len; i++)
                    REQUIRE(dst[i] == e->data[i], "region %d (%s) differs at byte %llu", nreg - 1, e->name,
                            (unsigned long long)i);
            } else {
                for (uint64_t i = 0; i < e->len; i++)
                    REQUIRE(dst[i] == 0, "region without data not zero at byte %llu", (unsigned long long)i);
            }
            free(dst);
        }
    }
    ck_assert_msg(rc == 0, "%s", image_reader_error(r));
    ck_assert(saw_mpi && saw_threads);
    ck_assert_int_eq(nreg, f->nr);
    ck_assert_uint_eq(raw, h->total_raw);
    /* Every byte the reader restores is counted. */
    uint64_t expect = sizeof f->mpi;
    expect += 4 + 3 * 4 + f->thlen[0] + f->thlen[1] + f->thlen[2];
    for (int i = 0; i < f->nr; i++)
        expect += f->r[i].data ? f->r[i].len : 0;
    ck_assert_uint_eq(h->total_raw, expect);
    image_reader_close(r);
}

/* ---- checksums -------------------------------------------------------- */

START_TEST(test_checksum_known_values)
{
    /* FNV-1a 64 reference values (Fowler, Noll, Vo test suite). */
    ck_assert_uint_eq(img_fnv1a64("", 0), 0xcbf29ce484222325ull);
    ck_assert_uint_eq(img_fnv1a64("a", 1), 0xaf63dc4c8601ec8cull);
    ck_assert_uint_eq(img_fnv1a64("foobar", 6), 0x85944171f73967e8ull);
    /* XXH64 reference values (xxHash's own test vectors). */
    ck_assert_uint_eq(img_xxh64("", 0, 0), 0xEF46DB3751D8E999ull);
    ck_assert_uint_eq(img_xxh64("a", 1, 0), 0xD24EC4F1A98C6E5Bull);
    ck_assert_uint_eq(img_xxh64("abc", 3, 0), 0x44BC2CF5AD770999ull);
}
END_TEST

/* zstd's frame checksum is the low 32 bits of XXH64 of the content: our
 * XXH64 must agree with libzstd's for every length class (the 32-byte
 * stripes, the 8- and 4-byte tails, single bytes). */
START_TEST(test_xxh64_matches_zstd)
{
    static uint8_t src[70000], dst[ZSTD_COMPRESSBOUND(70000)];
    fill_random(src, sizeof src, 99);
    ZSTD_CCtx *c = ZSTD_createCCtx();
    ZSTD_CCtx_setParameter(c, ZSTD_c_checksumFlag, 1);
    size_t lens[] = {0, 1, 3, 4, 7, 8, 31, 32, 33, 63, 64, 65, 100, 1000, 4096, 65537, 70000};
    for (size_t k = 0; k < sizeof lens / sizeof lens[0]; k++) {
        for (size_t off = 0; off < 3; off++) {
            size_t n = lens[k] - (lens[k] >= off ? off : 0);
            size_t z = ZSTD_compress2(c, dst, sizeof dst, src + off, n);
            ck_assert(!ZSTD_isError(z));
            uint32_t zsum = img_get32(dst + z - 4);
            REQUIRE((uint32_t)img_xxh64(src + off, n, 0) == zsum, "XXH64 of %zu bytes differs from zstd's", n);
        }
    }
    ZSTD_freeCCtx(c);
}
END_TEST

/* ---- round trips ------------------------------------------------------ */

static void round_trip(const struct image_writer_opts *o)
{
    const char *p = in_dir("rank-00003.mana");
    struct image_summary sum;
    ck_assert_msg(write_fixture(p, fx, o, &sum) == 0, "%s", werr);
    char tmp[PATH_MAX + 64];
    snprintf(tmp, sizeof tmp, "%s.tmp-%ld", p, (long)getpid());
    ck_assert(!exists(tmp));
    check_matches(p, fx, 0);
    check_matches(p, fx, 1);
    check_matches(p, fx, 2);
    char msg[1024];
    ck_assert_msg(verify_file(p, msg, sizeof msg) == 0, "%s", msg);

    /* The summary agrees with the file. */
    struct stat st;
    ck_assert_int_eq(stat(p, &st), 0);
    ck_assert_uint_eq(sum.file_size, (uint64_t)st.st_size);
    ck_assert_uint_eq(sum.regions, (uint64_t)fx->nr);
    ck_assert_uint_eq(sum.sections, (uint64_t)fx->nr + 2);
    struct image_reader *r = image_reader_open(p, msg, sizeof msg);
    ck_assert_ptr_nonnull(r);
    struct image_verify_stats vs;
    ck_assert_int_eq(image_reader_verify_all(r, &vs), 0);
    ck_assert_uint_eq(vs.digest, sum.digest);
    ck_assert_uint_eq(vs.zero_pages, sum.zero_pages);
    ck_assert_uint_eq(vs.pages - vs.zero_pages, sum.stored_pages);
    ck_assert_uint_eq(vs.threads, 3);
    ck_assert_uint_eq(vs.mpi_state_bytes, sizeof fx->mpi);
    image_reader_close(r);
}

START_TEST(test_round_trip_pool)
{
    struct image_writer_opts o;
    image_writer_opts_default(&o);
    o.threads = 3;
    round_trip(&o);
}
END_TEST

START_TEST(test_round_trip_default)
{
    round_trip(NULL);
}
END_TEST

START_TEST(test_round_trip_one_thread)
{
    struct image_writer_opts o;
    image_writer_opts_default(&o);
    o.threads = 1;
    o.level = 3;
    round_trip(&o);
}
END_TEST

START_TEST(test_round_trip_zstd_workers)
{
    ZSTD_bounds b = ZSTD_cParam_getBounds(ZSTD_c_nbWorkers);
    if (ZSTD_isError(b.error) || b.upperBound < 2) {
        fprintf(stderr, "skipped: this libzstd has no worker threads\n");
        return;
    }
    struct image_writer_opts o;
    image_writer_opts_default(&o);
    o.zstd_workers = 2;
    round_trip(&o);
}
END_TEST

/* The same data gives the same bytes whatever the threads (apart from
 * the creation time and so the digest): the pool writes in order. */
START_TEST(test_pool_output_is_ordered)
{
    struct image_writer_opts o1, o4;
    image_writer_opts_default(&o1);
    image_writer_opts_default(&o4);
    o1.threads = 1;
    o4.threads = 4;
    ck_assert_msg(write_fixture(in_dir("a.mana"), fx, &o1, NULL) == 0, "%s", werr);
    ck_assert_msg(write_fixture(in_dir("b.mana"), fx, &o4, NULL) == 0, "%s", werr);
    size_t la, lb;
    uint8_t *a = read_file(in_dir("a.mana"), &la), *b = read_file(in_dir("b.mana"), &lb);
    ck_assert_uint_eq(la, lb);
    /* Creation time (bytes 40..47), header check (120..127), and the END
     * record's digest (the last 8 bytes) and its check differ. */
    size_t end_hdr = la - IMG_END_RECORD_SIZE - IMG_SECTION_HEADER_SIZE;
    ck_assert(memcmp(a, b, 40) == 0);
    ck_assert(memcmp(a + 48, b + 48, 72) == 0);
    ck_assert(memcmp(a + 128, b + 128, end_hdr + 24 - 128) == 0);
    ck_assert(memcmp(a + la - 32, b + lb - 32, 24) == 0);
    free(a);
    free(b);
}
END_TEST

START_TEST(test_empty_image)
{
    const char *p = in_dir("empty.mana");
    char err[1024];
    struct image_writer *w = image_writer_open(p, &hdr, NULL, err, sizeof err);
    ck_assert_msg(w != NULL, "%s", err);
    struct image_summary sum;
    ck_assert_msg(image_writer_finish(w, &sum, err, sizeof err) == 0, "%s", err);
    ck_assert_uint_eq(sum.file_size, IMG_FILE_HEADER_SIZE + IMG_SECTION_HEADER_SIZE + IMG_END_RECORD_SIZE);
    ck_assert_msg(verify_file(p, err, sizeof err) == 0, "%s", err);
    struct image_reader *r = image_reader_open(p, err, sizeof err);
    struct image_section s;
    ck_assert_int_eq(image_reader_next(r, &s), 0);
    ck_assert_int_eq(image_reader_next(r, &s), 0);
    image_reader_close(r);
}
END_TEST

/* Zero pages are not stored: half-zero data gives a file much smaller
 * than its input; all-zero data next to nothing. */
START_TEST(test_zero_pages_not_stored)
{
    size_t n = 16 * IMG_CHUNK_SIZE;
    uint8_t *d = malloc(n);
    ck_assert_ptr_nonnull(d);
    fill_random(d, n, 21);
    for (size_t off = 0; off < n; off += 8 * IMG_PAGE_SIZE)
        memset(d + off, 0, 4 * IMG_PAGE_SIZE);
    char err[1024];
    struct image_summary sum;
    struct image_writer *w = image_writer_open(in_dir("half.mana"), &hdr, NULL, err, sizeof err);
    ck_assert_ptr_nonnull(w);
    ck_assert_int_eq(image_writer_add_region(w, 0x100000, n, PROT_READ, 0, "half", d), 0);
    ck_assert_msg(image_writer_finish(w, &sum, err, sizeof err) == 0, "%s", err);
    ck_assert_uint_eq(sum.zero_pages, n / IMG_PAGE_SIZE / 2);
    ck_assert_msg(sum.file_size < n / 2 + n / 50, "half-zero random data: %llu bytes for %zu",
                  (unsigned long long)sum.file_size, n);

    memset(d, 0, n);
    w = image_writer_open(in_dir("zero.mana"), &hdr, NULL, err, sizeof err);
    ck_assert_ptr_nonnull(w);
    ck_assert_int_eq(image_writer_add_region(w, 0x100000, n, PROT_READ, 0, "zero", d), 0);
    ck_assert_msg(image_writer_finish(w, &sum, err, sizeof err) == 0, "%s", err);
    ck_assert_uint_eq(sum.zero_pages, n / IMG_PAGE_SIZE);
    ck_assert_uint_eq(sum.stored_pages, 0);
    ck_assert_msg(sum.file_size < 2000, "all-zero data: %llu bytes", (unsigned long long)sum.file_size);
    ck_assert_msg(verify_file(in_dir("zero.mana"), err, sizeof err) == 0, "%s", err);
    free(d);
}
END_TEST

/* ---- damaged images --------------------------------------------------- */

/* Every truncation is an error that says so, never a crash. */
START_TEST(test_truncation)
{
    const char *p = in_dir("small.mana"), *t = in_dir("cut.mana");
    ck_assert_msg(write_small(p) == 0, "%s", werr);
    size_t len;
    uint8_t *img = read_file(p, &len);
    ck_assert_uint_gt(len, 4096);
    char msg[1024];
    int tried = 0;
    write_file(t, img, len);
    /* From the end down, so one file is cut shorter and shorter. */
    for (size_t cut = len - 1; cut < len; cut -= (cut < 2048 || len - cut < 2048) ? 1 : 97) {
        ck_assert_int_eq(truncate(t, (off_t)cut), 0);
        int rc = verify_file(t, msg, sizeof msg);
        REQUIRE(rc < 0, "truncated to %zu of %zu bytes, the image verified", cut, len);
        REQUIRE(strstr(msg, "truncated") != NULL, "truncated to %zu bytes: '%s'", cut, msg);
        REQUIRE(strstr(msg, t) != NULL, "the message does not name the file: '%s'", msg);
        tried++;
    }
    ck_assert_int_gt(tried, 4000);
    free(img);
    (void)p;
}
END_TEST

/* One bit flipped anywhere in a small image (every byte, a random bit of
 * it) is detected. */
START_TEST(test_bit_flip_every_byte)
{
    const char *p = in_dir("small.mana");
    ck_assert_msg(write_small(p) == 0, "%s", werr);
    size_t len;
    uint8_t *img = read_file(p, &len);
    int fd = open(p, O_RDWR);
    ck_assert_int_ge(fd, 0);
    uint64_t s = 77;
    char msg[1024];
    for (size_t i = 0; i < len; i++) {
        uint8_t b = img[i] ^ (uint8_t)(1u << (rnd(&s) % 8));
        ck_assert_int_eq(pwrite(fd, &b, 1, (off_t)i), 1);
        int rc = verify_file(p, msg, sizeof msg);
        REQUIRE(rc < 0, "a bit flipped at byte %zu of %zu was not detected", i, len);
        REQUIRE(strstr(msg, "damaged") || strstr(msg, "newer") || strstr(msg, "not a MANA") ||
                    strstr(msg, "truncated"),
                "flip at byte %zu: unclear message '%s'", i, msg);
        ck_assert_int_eq(pwrite(fd, &img[i], 1, (off_t)i), 1);
    }
    close(fd);
    ck_assert_msg(verify_file(p, msg, sizeof msg) == 0, "%s", msg);
    free(img);
}
END_TEST

/* In a large image (the fixture: multi-chunk frames of every kind), a
 * sample of every bit position class. */
START_TEST(test_bit_flip_sample)
{
    const char *p = in_dir("big.mana");
    ck_assert_msg(write_fixture(p, fx, NULL, NULL) == 0, "%s", werr);
    size_t len;
    uint8_t *img = read_file(p, &len);
    int fd = open(p, O_RDWR);
    ck_assert_int_ge(fd, 0);
    uint64_t s = 1234;
    char msg[1024];
    for (int k = 0; k < 250; k++) {
        size_t i = k < 100 ? (size_t)k * 7 : k < 150 ? len - 1 - (size_t)(k - 100) : (size_t)(rnd(&s) % len);
        uint8_t b = img[i] ^ (uint8_t)(1u << (rnd(&s) % 8));
        ck_assert_int_eq(pwrite(fd, &b, 1, (off_t)i), 1);
        REQUIRE(verify_file(p, msg, sizeof msg) < 0, "a bit flipped at byte %zu of %zu was not detected", i, len);
        ck_assert_int_eq(pwrite(fd, &img[i], 1, (off_t)i), 1);
    }
    close(fd);
    free(img);
}
END_TEST

/* Random multi-byte damage: only ever an error, never a crash (the
 * sanitizer build makes "never" mean no invalid access either). */
START_TEST(test_random_corruption)
{
    const char *p = in_dir("small.mana"), *t = in_dir("bad.mana");
    ck_assert_msg(write_small(p) == 0, "%s", werr);
    size_t len;
    uint8_t *img = read_file(p, &len);
    uint8_t *bad = malloc(len);
    memcpy(bad, img, len);
    write_file(t, img, len);
    int fd = open(t, O_RDWR);
    ck_assert_int_ge(fd, 0);
    uint64_t s = 4242;
    char msg[1024];
    for (int k = 0; k < 1500; k++) {
        int n = 1 + (int)(rnd(&s) % 8);
        for (int j = 0; j < n; j++) {
            size_t at = rnd(&s) % len;
            /* Runs of 0x00 / 0xff / random, to hit lengths hard. */
            size_t run = 1 + rnd(&s) % 8;
            uint8_t v = (uint8_t)rnd(&s);
            int mode = (int)(rnd(&s) % 3);
            for (size_t q = at; q < at + run && q < len; q++)
                bad[q] = mode == 0 ? 0 : mode == 1 ? 0xff : v;
        }
        ck_assert_int_eq(pwrite(fd, bad, len, 0), (ssize_t)len);
        int rc = verify_file(t, msg, sizeof msg);
        if (memcmp(bad, img, len) != 0)
            REQUIRE(rc < 0, "corruption %d not detected", k);
        memcpy(bad, img, len);
    }
    close(fd);
    free(bad);
    free(img);
}
END_TEST

START_TEST(test_not_an_image)
{
    char msg[1024];
    write_file(in_dir("text"), "hello world, this is not an image at all\n", 41);
    ck_assert_int_lt(verify_file(in_dir("text"), msg, sizeof msg), 0);
    ck_assert_msg(strstr(msg, "is not a MANA checkpoint image") != NULL, "%s", msg);

    ck_assert_msg(write_small(in_dir("x.mana")) == 0, "%s", werr);
    size_t len;
    uint8_t *img = read_file(in_dir("x.mana"), &len);
    img[3] = 'X'; /* wrong magic */
    write_file(in_dir("x.mana"), img, len);
    ck_assert_int_lt(verify_file(in_dir("x.mana"), msg, sizeof msg), 0);
    ck_assert_msg(strstr(msg, "is not a MANA checkpoint image") != NULL, "%s", msg);
    free(img);

    write_file(in_dir("empty"), "", 0);
    ck_assert_int_lt(verify_file(in_dir("empty"), msg, sizeof msg), 0);
    ck_assert_msg(strstr(msg, "is empty") != NULL, "%s", msg);

    ck_assert_int_lt(verify_file(dir, msg, sizeof msg), 0);
    ck_assert_msg(strstr(msg, "not a regular file") != NULL, "%s", msg);

    ck_assert_int_lt(verify_file(in_dir("missing"), msg, sizeof msg), 0);
    ck_assert_msg(strstr(msg, "No such file") != NULL, "%s", msg);
}
END_TEST

/* Patches the file header of the image at P with F(header) and, if
 * RESEAL, recomputes its checksum. */
static void patch_header(const char *p, uint32_t version, int reseal)
{
    size_t len;
    uint8_t *img = read_file(p, &len);
    img_put32(img + 8, version);
    if (reseal)
        img_put64(img + IMG_FILE_HEADER_CHECKED, img_fnv1a64(img, IMG_FILE_HEADER_CHECKED));
    write_file(p, img, len);
    free(img);
}

START_TEST(test_future_version)
{
    char msg[1024];
    const char *p = in_dir("v.mana");
    ck_assert_msg(write_small(p) == 0, "%s", werr);
    patch_header(p, IMG_VERSION + 1, 1);
    ck_assert_int_lt(verify_file(p, msg, sizeof msg), 0);
    char want[200];
    snprintf(want, sizeof want,
             "image format version %u is newer than this MANA supports (%u): restart with a newer MANA",
             IMG_VERSION + 1, IMG_VERSION);
    ck_assert_msg(strstr(msg, want) != NULL, "%s", msg);
    /* Without a valid checksum too: the version is read first. */
    patch_header(p, 77, 0);
    ck_assert_int_lt(verify_file(p, msg, sizeof msg), 0);
    ck_assert_msg(strstr(msg, "version 77 is newer") != NULL, "%s", msg);
    patch_header(p, 0, 1);
    ck_assert_int_lt(verify_file(p, msg, sizeof msg), 0);
    ck_assert_msg(strstr(msg, "version 0 does not exist") != NULL, "%s", msg);
}
END_TEST

/* Section offsets of the image at P, from the reader. */
static int section_offsets(const char *p, uint64_t *off, enum image_section_kind *kind, int max)
{
    char err[1024];
    struct image_reader *r = image_reader_open(p, err, sizeof err);
    ck_assert_msg(r != NULL, "%s", err);
    struct image_section s;
    int n = 0, rc;
    while ((rc = image_reader_next(r, &s)) > 0 && n < max) {
        off[n] = s.offset;
        kind[n++] = s.kind;
    }
    ck_assert_int_eq(rc, 0);
    off[n] = s.offset; /* END */
    kind[n] = IMAGE_SECTION_END;
    image_reader_close(r);
    return n;
}

/* Rewrites a section header field and reseals the header, as a writer
 * that got it wrong would have. */
static void reseal_section(uint8_t *img, uint64_t off)
{
    img_put64(img + off + IMG_SECTION_HEADER_CHECKED, img_fnv1a64(img + off, IMG_SECTION_HEADER_CHECKED));
}

START_TEST(test_unknown_section_kind)
{
    const char *p = in_dir("k.mana");
    ck_assert_msg(write_small(p) == 0, "%s", werr);
    uint64_t off[8];
    enum image_section_kind kind[8];
    int n = section_offsets(p, off, kind, 7);
    ck_assert_int_eq(n, 5);
    size_t len;
    uint8_t *img = read_file(p, &len);
    img_put32(img + off[2], 99);
    reseal_section(img, off[2]);
    write_file(p, img, len);
    char msg[1024];
    ck_assert_int_lt(verify_file(p, msg, sizeof msg), 0);
    ck_assert_msg(strstr(msg, "unknown section kind 99 in section 2") != NULL, "%s", msg);
    free(img);
}
END_TEST

/* Lengths that do not add up, each with valid checksums around it: a
 * region claiming 2^32-1 chunks, a blob claiming more than the limit, a
 * wrong section count in END, bytes after END. None may allocate or read
 * beyond the file. */
START_TEST(test_lengths_do_not_add_up)
{
    const char *p = in_dir("l.mana");
    ck_assert_msg(write_small(p) == 0, "%s", werr);
    uint64_t off[8];
    enum image_section_kind kind[8];
    int n = section_offsets(p, off, kind, 7);
    ck_assert_int_eq(n, 5);
    ck_assert_int_eq(kind[2], IMAGE_SECTION_REGION);
    size_t len;
    uint8_t *good = read_file(p, &len);
    uint8_t *img = malloc(len + 100);
    char msg[1024];

    /* Region: huge length and chunk count, descriptor resealed. */
    memcpy(img, good, len);
    uint64_t d = off[2] + IMG_SECTION_HEADER_SIZE;
    img_put64(img + d + 8, 0xffffffffull * IMG_CHUNK_SIZE);
    img_put32(img + d + 28, 0xffffffffu);
    uint32_t name_len = img_get32(img + d + 24);
    img_put64(img + d + IMG_REGION_DESC_FIXED + name_len,
              img_fnv1a64(img + d, IMG_REGION_DESC_FIXED + name_len));
    img_put64(img + off[2] + 8, 0xffffffffull * IMG_CHUNK_SIZE);
    reseal_section(img, off[2]);
    write_file(p, img, len);
    ck_assert_int_lt(verify_file(p, msg, sizeof msg), 0);
    ck_assert_msg(strstr(msg, "lengths do not add up") != NULL, "%s", msg);

    /* MPI state claiming more than IMG_MAX_BLOB. */
    memcpy(img, good, len);
    ck_assert_int_eq(kind[0], IMAGE_SECTION_MPI_STATE);
    img_put64(img + off[0] + 8, IMG_MAX_BLOB + 1);
    reseal_section(img, off[0]);
    write_file(p, img, len);
    ck_assert_int_lt(verify_file(p, msg, sizeof msg), 0);
    ck_assert_msg(strstr(msg, "lengths do not add up") != NULL, "%s", msg);

    /* A stored length past the end of the file: truncated. */
    memcpy(img, good, len);
    img_put64(img + off[4] + 16, len);
    reseal_section(img, off[4]);
    write_file(p, img, len);
    ck_assert_int_lt(verify_file(p, msg, sizeof msg), 0);
    ck_assert_msg(strstr(msg, "truncated") != NULL, "%s", msg);

    /* END counting one section too many, its checksum recomputed. */
    memcpy(img, good, len);
    uint64_t e = off[5] + IMG_SECTION_HEADER_SIZE;
    img_put64(img + e, img_get64(img + e) + 1);
    img_put64(img + off[5] + 24, img_xxh64(img + e, IMG_END_RECORD_SIZE, 0));
    reseal_section(img, off[5]);
    write_file(p, img, len);
    ck_assert_int_lt(verify_file(p, msg, sizeof msg), 0);
    ck_assert_msg(strstr(msg, "lengths do not add up") != NULL, "%s", msg);

    /* Bytes after END. */
    memcpy(img, good, len);
    memset(img + len, 0, 100);
    write_file(p, img, len + 100);
    ck_assert_int_lt(verify_file(p, msg, sizeof msg), 0);
    ck_assert_msg(strstr(msg, "100 bytes after the END section") != NULL, "%s", msg);

    /* Sections swapped (each one intact): out of order. */
    memcpy(img, good, len);
    size_t l0 = off[1] - off[0], l1 = off[2] - off[1];
    memcpy(img + off[0], good + off[1], l1);
    memcpy(img + off[0] + l1, good + off[0], l0);
    write_file(p, img, len);
    ck_assert_int_lt(verify_file(p, msg, sizeof msg), 0);
    ck_assert_msg(strstr(msg, "out of order") != NULL, "%s", msg);

    free(img);
    free(good);
}
END_TEST

/* A checksum mismatch names the section and the chunk. */
START_TEST(test_mismatch_names_chunk)
{
    const char *p = in_dir("m.mana");
    ck_assert_msg(write_small(p) == 0, "%s", werr);
    uint64_t off[8];
    enum image_section_kind kind[8];
    section_offsets(p, off, kind, 7);
    /* Last region ("b"), chunk 1's frame: the last bytes before END. */
    size_t len;
    uint8_t *img = read_file(p, &len);
    img[off[5] - 10] ^= 0x10;
    write_file(p, img, len);
    char msg[1024];
    ck_assert_int_lt(verify_file(p, msg, sizeof msg), 0);
    ck_assert_msg(strstr(msg, "checksum mismatch in section 4 (REGION 0x40000000-0x40103000 b), chunk 1") != NULL,
                  "%s", msg);
    /* Listing (headers only) does not read data, so it still works. */
    struct image_reader *r = image_reader_open(p, msg, sizeof msg);
    ck_assert_ptr_nonnull(r);
    struct image_section s;
    while (image_reader_next(r, &s) > 0)
        if (s.kind == IMAGE_SECTION_REGION) {
            struct image_region_stats st;
            ck_assert_int_eq(image_reader_region_scan(r, &s, &st), 0);
        }
    image_reader_close(r);
    free(img);
}
END_TEST

/* A reader with threads restores exactly what one without does. */
START_TEST(test_round_trip_reader_threads)
{
    const char *p = in_dir("rank-00003.mana");
    ck_assert_msg(write_fixture(p, fx, NULL, NULL) == 0, "%s", werr);
    for (unsigned t = 2; t <= 5; t += 3) {
        reader_threads = t;
        check_matches(p, fx, 0);
        check_matches(p, fx, 1);
        check_matches(p, fx, 2);
        char msg[1024];
        ck_assert_msg(verify_file(p, msg, sizeof msg) == 0, "%s", msg);
    }
    reader_threads = 1;
}
END_TEST

/* Verifies PATH with THREADS threads: as verify_file, and *DAMAGE says
 * whether the reader called it damage. */
static int verify_threads(const char *path, unsigned threads, char *msg, size_t len, bool *damage)
{
    *damage = false;
    struct image_reader *r = image_reader_open(path, msg, len);
    if (!r)
        return -1;
    image_reader_set_threads(r, threads);
    int rc = image_reader_verify_all(r, NULL);
    if (rc < 0) {
        snprintf(msg, len, "%s", image_reader_error(r));
        *damage = image_reader_damage_found(r);
    }
    image_reader_close(r);
    return rc;
}

/* Damage found with threads is reported as without: the same message,
 * naming the first damaged chunk in file order even when a later chunk
 * (done by another thread, maybe sooner) or a later header is damaged
 * too, and the same damage verdict. */
START_TEST(test_reader_threads_report_first_damage)
{
    const char *p = in_dir("big.mana");
    ck_assert_msg(write_fixture(p, fx, NULL, NULL) == 0, "%s", werr);
    size_t len;
    uint8_t *orig = read_file(p, &len);
    uint8_t *img = malloc(len);
    ck_assert_ptr_nonnull(img);
    uint64_t s = 4321;
    char one[1024], many[1024];
    for (int k = 0; k < 150; k++) {
        memcpy(img, orig, len);
        /* One to three flips anywhere (data, headers, lengths); every
         * tenth try, two in the first region's data, the later one first
         * in the file's last chunk of it. */
        int nflip = k % 10 == 0 ? 2 : 1 + (int)(rnd(&s) % 3);
        size_t first = len;
        for (int f = 0; f < nflip; f++) {
            size_t at = k % 10 == 0 ? (size_t)(f == 0 ? 3 : 1) * IMG_CHUNK_SIZE / 2 + (size_t)(rnd(&s) % 4096)
                                    : (size_t)(rnd(&s) % len);
            img[at] ^= (uint8_t)(1u << (rnd(&s) % 8));
            first = at < first ? at : first;
        }
        write_file(p, img, len);
        bool d1, d4;
        int rc1 = verify_threads(p, 1, one, sizeof one, &d1);
        int rc4 = verify_threads(p, 4, many, sizeof many, &d4);
        REQUIRE(rc1 < 0 && rc4 < 0, "try %d (first flip at %zu): not detected (1 thread %d, 4 threads %d)", k, first,
                rc1, rc4);
        REQUIRE(strcmp(one, many) == 0, "try %d (first flip at %zu): 1 thread said '%s', 4 threads '%s'", k, first,
                one, many);
        REQUIRE(d1 == d4, "try %d: damage verdict %d with 1 thread, %d with 4", k, d1, d4);
    }
    free(img);
    free(orig);
}
END_TEST

START_TEST(test_wrong_destination_size)
{
    const char *p = in_dir("d.mana");
    ck_assert_msg(write_small(p) == 0, "%s", werr);
    char msg[1024];
    struct image_reader *r = image_reader_open(p, msg, sizeof msg);
    ck_assert_ptr_nonnull(r);
    struct image_section s;
    while (image_reader_next(r, &s) > 0 && s.kind != IMAGE_SECTION_REGION)
        ;
    uint8_t buf[16];
    ck_assert_int_lt(image_reader_region_data(r, &s, buf, sizeof buf, 0), 0);
    ck_assert_msg(strstr(image_reader_error(r), "destination") != NULL, "%s", image_reader_error(r));
    image_reader_close(r);
}
END_TEST

/* ---- the writer's failures ------------------------------------------- */

START_TEST(test_abort_removes_temp)
{
    const char *p = in_dir("rank-00000.mana");
    char err[1024];
    struct image_writer *w = image_writer_open(p, &hdr, NULL, err, sizeof err);
    ck_assert_msg(w != NULL, "%s", err);
    char tmp[PATH_MAX + 64];
    snprintf(tmp, sizeof tmp, "%s.tmp-%ld", p, (long)getpid());
    ck_assert_str_eq(image_writer_temp_path(w), tmp);
    ck_assert(exists(tmp));
    ck_assert_int_eq(image_writer_add_region(w, 0x1000, fx->r[0].len, PROT_READ, 0, "x", fx->r[0].data), 0);
    image_writer_abort(w);
    ck_assert(!exists(tmp));
    ck_assert(!exists(p));
}
END_TEST

START_TEST(test_mode_0600)
{
    mode_t old = umask(0);
    const char *p = in_dir("mode.mana");
    int rc = write_small(p);
    umask(old);
    ck_assert_msg(rc == 0, "%s", werr);
    struct stat st;
    ck_assert_int_eq(stat(p, &st), 0);
    ck_assert_uint_eq(st.st_mode & 07777, 0600);
}
END_TEST

/* A real full file system: a 1 MiB tmpfs (needs root; skipped with a
 * message otherwise). The error names the cause and the fix, and leaves
 * neither the image nor its temporary file. */
START_TEST(test_full_disk_leaves_nothing)
{
    const char *mnt = in_dir("small-fs");
    ck_assert_int_eq(mkdir(mnt, 0700), 0);
    if (mount("tmpfs", mnt, "tmpfs", 0, "size=1m") != 0) {
        fprintf(stderr, "check_image_format: full-disk case skipped: cannot mount a tmpfs (%s)\n", strerror(errno));
        return;
    }
    char p[PATH_MAX + 64];
    snprintf(p, sizeof p, "%s/rank-00000.mana", mnt);
    int rc = write_fixture(p, fx, NULL, NULL);
    char tmp[PATH_MAX + 80];
    snprintf(tmp, sizeof tmp, "%s.tmp-%ld", p, (long)getpid());
    int left_final = exists(p), left_tmp = exists(tmp);
    umount2(mnt, MNT_DETACH);
    ck_assert_int_lt(rc, 0);
    ck_assert_msg(strstr(werr, "the file system is full: free space or use another --ckpt-dir") != NULL, "%s", werr);
    ck_assert_msg(strstr(werr, p) != NULL, "message does not name the file: %s", werr);
    ck_assert_msg(strstr(werr, "No space left on device") != NULL, "%s", werr);
    ck_assert(!left_final);
    ck_assert(!left_tmp);
}
END_TEST

START_TEST(test_missing_directory)
{
    char err[1024];
    const char *p = in_dir("no-such-dir/rank-00000.mana");
    struct image_writer *w = image_writer_open(p, &hdr, NULL, err, sizeof err);
    ck_assert_ptr_null(w);
    ck_assert_msg(strstr(err, p) && strstr(err, "No such file or directory") &&
                      strstr(err, "the directory does not exist: create it or use another --ckpt-dir"),
                  "%s", err);
    ck_assert(!exists(p));
}
END_TEST

START_TEST(test_bad_calls)
{
    char err[1024];
    const char *p = in_dir("calls.mana");
    struct image_writer *w = image_writer_open(p, &hdr, NULL, err, sizeof err);
    ck_assert_ptr_nonnull(w);
    ck_assert_int_eq(image_writer_add_region(w, 0x1000, 10, PROT_READ, 0, "x", "0123456789"), 0);
    ck_assert_int_lt(image_writer_add_mpi_state(w, "late", 4), 0);
    ck_assert_msg(strstr(image_writer_error(w), "MPI state must be added once") != NULL, "%s",
                  image_writer_error(w));
    /* Dead after an error: every call fails, nothing is left on disk. */
    ck_assert_int_lt(image_writer_add_region(w, 0x2000, 10, PROT_READ, 0, "y", "0123456789"), 0);
    ck_assert(!exists(image_writer_temp_path(w)));
    ck_assert_int_lt(image_writer_finish(w, NULL, err, sizeof err), 0);
    ck_assert_msg(strstr(err, "MPI state must be added once") != NULL, "%s", err);
    ck_assert(!exists(p));

    struct image_writer_header bad = hdr;
    bad.rank = 8;
    ck_assert_ptr_null(image_writer_open(p, &bad, NULL, err, sizeof err));
    ck_assert_msg(strstr(err, "rank 8 is not below the number of ranks 8") != NULL, "%s", err);

    w = image_writer_open(p, &hdr, NULL, err, sizeof err);
    ck_assert_int_lt(image_writer_add_region(w, UINT64_MAX - 5, 10, PROT_READ, 0, "wrap", "0123456789"), 0);
    image_writer_abort(w);
    w = image_writer_open(p, &hdr, NULL, err, sizeof err);
    ck_assert_int_lt(image_writer_add_region(w, 0x1000, 10, PROT_READ | 0x100, 0, "prot", "0123456789"), 0);
    image_writer_abort(w);
    ck_assert(!exists(p));
}
END_TEST

/* A temporary file left by an earlier process with our pid is replaced;
 * an older image at the final path is replaced only by a complete one. */
START_TEST(test_stale_temp_and_existing_image)
{
    const char *p = in_dir("rank-00001.mana");
    char tmp[PATH_MAX + 64];
    snprintf(tmp, sizeof tmp, "%s.tmp-%ld", p, (long)getpid());
    write_file(tmp, "stale", 5);
    write_file(p, "old image", 9);
    char err[1024];
    struct image_writer *w = image_writer_open(p, &hdr, NULL, err, sizeof err);
    ck_assert_msg(w != NULL, "%s", err);
    ck_assert_int_eq(image_writer_add_region(w, 0x1000, 10, PROT_READ, 0, "x", "0123456789"), 0);
    size_t len;
    uint8_t *old = read_file(p, &len);
    ck_assert_uint_eq(len, 9); /* untouched until finish */
    free(old);
    ck_assert_msg(image_writer_finish(w, NULL, err, sizeof err) == 0, "%s", err);
    ck_assert(!exists(tmp));
    ck_assert_msg(verify_file(p, err, sizeof err) == 0, "%s", err);
}
END_TEST


/* ---- the machine record (format version 2) ---------------------------- */

static const char machine_text[] = "host=node1\ncpu_model=AMD EPYC\ncores=2\nnet.UCX_TLS=shm,self\n";

/* An image with a machine record first, then the rest as usual. */
static int write_with_machine(const char *path, const void *machine, size_t len)
{
    struct image_writer *w = image_writer_open(path, &hdr, NULL, werr, sizeof werr);
    if (!w)
        return -1;
    int rc = image_writer_add_machine(w, machine, len);
    if (rc == 0)
        rc = image_writer_add_mpi_state(w, "mpi state", 9);
    if (rc == 0)
        rc = image_writer_add_thread(w, "thread 0", 8);
    if (rc == 0)
        rc = image_writer_add_region(w, 0x10000, 10, PROT_READ, 0, "a", "0123456789");
    if (rc < 0) {
        snprintf(werr, sizeof werr, "%s", image_writer_error(w));
        image_writer_abort(w);
        return -1;
    }
    return image_writer_finish(w, NULL, werr, sizeof werr);
}

/* Rewrites the image at P as format VERSION, every check sealed again
 * (the file header's, the END record's digest over it, END's own), as a
 * writer of that version would have written it. */
static void reseal_as_version(const char *p, uint32_t version)
{
    size_t len;
    uint8_t *img = read_file(p, &len);
    img_put32(img + 8, version);
    img_put64(img + IMG_FILE_HEADER_CHECKED, img_fnv1a64(img, IMG_FILE_HEADER_CHECKED));
    uint64_t off = IMG_FILE_HEADER_SIZE, chain = 0;
    while (img_get32(img + off) != IMG_SECTION_END) {
        chain = img_xxh64(img + off, IMG_SECTION_HEADER_SIZE, chain);
        off += IMG_SECTION_HEADER_SIZE + img_get64(img + off + 16);
        ck_assert_uint_lt(off, len);
    }
    uint64_t e = off + IMG_SECTION_HEADER_SIZE;
    img_put64(img + e + 24, img_xxh64(img, IMG_FILE_HEADER_SIZE, chain));
    img_put64(img + off + 24, img_xxh64(img + e, IMG_END_RECORD_SIZE, 0));
    reseal_section(img, off);
    write_file(p, img, len);
    free(img);
}

START_TEST(test_machine_round_trip)
{
    const char *p = in_dir("machine.mana");
    ck_assert_msg(write_with_machine(p, machine_text, strlen(machine_text)) == 0, "%s", werr);
    char err[1024];
    struct image_reader *r = image_reader_open(p, err, sizeof err);
    ck_assert_msg(r != NULL, "%s", err);
    ck_assert_uint_eq(image_reader_header(r)->version, 2);
    struct image_section s;
    ck_assert_int_eq(image_reader_next(r, &s), 1);
    ck_assert_int_eq(s.kind, IMAGE_SECTION_MACHINE);
    ck_assert_uint_eq(s.index, 0);
    void *data;
    size_t len;
    ck_assert_msg(image_reader_load_blob(r, &s, &data, &len) == 0, "%s", image_reader_error(r));
    ck_assert_uint_eq(len, strlen(machine_text));
    ck_assert(memcmp(data, machine_text, len) == 0);
    struct machine_record m;
    ck_assert_int_eq(machine_record_parse(data, len, &m), 0);
    ck_assert_uint_eq(m.nfields, 4);
    ck_assert_uint_eq(m.skipped, 0);
    ck_assert_str_eq(machine_record_get(&m, "cpu_model"), "AMD EPYC");
    ck_assert_str_eq(machine_record_get(&m, "net.UCX_TLS"), "shm,self");
    machine_record_free(&m);
    free(data);
    ck_assert_int_eq(image_reader_next(r, &s), 1);
    ck_assert_int_eq(s.kind, IMAGE_SECTION_MPI_STATE);
    struct image_verify_stats vs;
    ck_assert_msg(image_reader_verify_all(r, &vs) == 0, "%s", image_reader_error(r));
    ck_assert_uint_eq(vs.machine_bytes, strlen(machine_text));
    ck_assert_uint_eq(vs.mpi_state_bytes, 9);
    ck_assert_uint_eq(vs.sections, 4);
    image_reader_close(r);
}
END_TEST

/* A version-1 image (no MACHINE section) reads as it always did; one that
 * says version 1 but holds a MACHINE section is damaged. */
START_TEST(test_version1_image)
{
    char msg[1024];
    const char *p = in_dir("v1.mana");
    ck_assert_msg(write_small(p) == 0, "%s", werr);
    reseal_as_version(p, 1);
    ck_assert_msg(verify_file(p, msg, sizeof msg) == 0, "%s", msg);
    struct image_reader *r = image_reader_open(p, msg, sizeof msg);
    ck_assert_msg(r != NULL, "%s", msg);
    ck_assert_uint_eq(image_reader_header(r)->version, 1);
    struct image_section s;
    int rc;
    while ((rc = image_reader_next(r, &s)) > 0)
        ck_assert_int_ne(s.kind, IMAGE_SECTION_MACHINE);
    ck_assert_msg(rc == 0, "%s", image_reader_error(r));
    image_reader_close(r);

    const char *q = in_dir("v1m.mana");
    ck_assert_msg(write_with_machine(q, machine_text, strlen(machine_text)) == 0, "%s", werr);
    reseal_as_version(q, 1);
    ck_assert_int_lt(verify_file(q, msg, sizeof msg), 0);
    ck_assert_msg(strstr(msg, "section 0 is a MACHINE section, which image format version 1 does not have") != NULL,
                  "%s", msg);
    /* The version it was written with reads again once sealed as such. */
    reseal_as_version(q, IMG_VERSION);
    ck_assert_msg(verify_file(q, msg, sizeof msg) == 0, "%s", msg);
}
END_TEST

START_TEST(test_machine_bad_input)
{
    char err[1024], msg[1024];
    const char *p = in_dir("mbad.mana");
    /* Late, twice, too large: refused where the cause is. */
    struct image_writer *w = image_writer_open(p, &hdr, NULL, err, sizeof err);
    ck_assert_ptr_nonnull(w);
    ck_assert_int_eq(image_writer_add_mpi_state(w, "m", 1), 0);
    ck_assert_int_lt(image_writer_add_machine(w, "host=x\n", 7), 0);
    ck_assert_msg(strstr(image_writer_error(w), "machine record must be added once, before everything else") != NULL,
                  "%s", image_writer_error(w));
    image_writer_abort(w);
    w = image_writer_open(p, &hdr, NULL, err, sizeof err);
    ck_assert_int_eq(image_writer_add_machine(w, "host=x\n", 7), 0);
    ck_assert_int_lt(image_writer_add_machine(w, "host=x\n", 7), 0);
    image_writer_abort(w);
    w = image_writer_open(p, &hdr, NULL, err, sizeof err);
    static char big[IMG_MAX_MACHINE + 1];
    memset(big, 'x', sizeof big);
    ck_assert_int_lt(image_writer_add_machine(w, big, sizeof big), 0);
    ck_assert_msg(strstr(image_writer_error(w), "over the image format's limit of 65536 bytes") != NULL, "%s",
                  image_writer_error(w));
    image_writer_abort(w);
    ck_assert(!exists(p));

    /* A record claiming more than IMG_MAX_MACHINE: refused before any
     * allocation. */
    ck_assert_msg(write_with_machine(p, machine_text, strlen(machine_text)) == 0, "%s", werr);
    uint64_t off[8];
    enum image_section_kind kind[8];
    section_offsets(p, off, kind, 7);
    ck_assert_int_eq(kind[0], IMAGE_SECTION_MACHINE);
    size_t len;
    uint8_t *img = read_file(p, &len);
    img_put64(img + off[0] + 8, IMG_MAX_MACHINE + 1);
    reseal_section(img, off[0]);
    write_file(p, img, len);
    ck_assert_int_lt(verify_file(p, msg, sizeof msg), 0);
    ck_assert_msg(strstr(msg, "section 0 (MACHINE): lengths do not add up") != NULL, "%s", msg);
    free(img);

    /* After the MPI state: out of order. */
    ck_assert_msg(write_with_machine(p, machine_text, strlen(machine_text)) == 0, "%s", werr);
    section_offsets(p, off, kind, 7);
    uint8_t *good = read_file(p, &len);
    img = malloc(len);
    memcpy(img, good, len);
    size_t l0 = off[1] - off[0], l1 = off[2] - off[1];
    memcpy(img + off[0], good + off[1], l1);
    memcpy(img + off[0] + l1, good + off[0], l0);
    write_file(p, img, len);
    ck_assert_int_lt(verify_file(p, msg, sizeof msg), 0);
    ck_assert_msg(strstr(msg, "section 1 (MACHINE) is out of order (MACHINE, MPI_STATE") != NULL, "%s", msg);
    free(img);
    free(good);
}
END_TEST

struct diff_lines {
    char text[4096];
    size_t n;
};

static void collect(void *ctx, const char *key, const char *line)
{
    struct diff_lines *d = ctx;
    size_t at = strlen(d->text);
    snprintf(d->text + at, sizeof d->text - at, "%s|%s\n", key, line);
    d->n++;
}

START_TEST(test_machine_record_text)
{
    char buf[512];
    struct machine_builder b = {.buf = buf, .cap = sizeof buf};
    machine_builder_add(&b, "host", "n1");
    machine_builder_add(&b, "cpu_model", "Two\nlines\tand \x01");
    machine_builder_add(&b, "bad key", "x");
    ck_assert_int_eq(b.overflow, 1);
    ck_assert_str_eq("host=n1\ncpu_model=Two lines and ?\n", (buf[b.len] = '\0', buf));
    char tiny[8];
    struct machine_builder t = {.buf = tiny, .cap = sizeof tiny};
    machine_builder_add(&t, "host", "longer than eight");
    ck_assert_int_eq(t.overflow, 1);
    ck_assert_uint_eq(t.len, 0);

    /* Malformed lines are counted and left out; a NUL hides nothing. */
    static const char odd[] = "=novalue\nno equals\nok=1\nk\0ey=2\n\nlast=no newline";
    struct machine_record m;
    ck_assert_int_eq(machine_record_parse(odd, sizeof odd - 1, &m), 0);
    ck_assert_uint_eq(m.nfields, 2);
    ck_assert_uint_eq(m.skipped, 3);
    ck_assert_str_eq(machine_record_get(&m, "ok"), "1");
    ck_assert_str_eq(machine_record_get(&m, "last"), "no newline");
    ck_assert_ptr_null(machine_record_get(&m, "k"));
    machine_record_free(&m);

    char pb[64];
    ck_assert_str_eq(machine_printable("a\x1b[31mb\xff", pb, sizeof pb), "a\\x1b[31mb\\xff");
    ck_assert_str_eq(machine_key_label("net.OMPI_MCA_btl"), "network transport");
    ck_assert_str_eq(machine_key_label("numa_nodes"), "NUMA nodes");
    ck_assert_ptr_null(machine_key_label("future"));
}
END_TEST

START_TEST(test_machine_record_diff)
{
    static const char saved[] = "host=n1\ncpu_model=AMD EPYC\ncores=2\nmpi_flavour=mpich\nnet.UCX_TLS=shm,self\n"
                                "net.UCX_NET_DEVICES=unset\ngone=1\n";
    static const char now[] = "host=n1\ncpu_model=AMD EPYC\ncores=4\nmpi_flavour=openmpi\nnet.UCX_TLS=tcp,self\n"
                              "net.OMPI_MCA_btl=unset\nnew=2\n";
    struct machine_record a, b;
    ck_assert_int_eq(machine_record_parse(saved, sizeof saved - 1, &a), 0);
    ck_assert_int_eq(machine_record_parse(now, sizeof now - 1, &b), 0);
    struct diff_lines d = {.n = 0};
    ck_assert_uint_eq(machine_record_diff(&a, &b, collect, &d), 5);
    ck_assert_str_eq(d.text, "cores|cores differs: saved 2, now 4\n"
                             "mpi_flavour|MPI flavour differs: saved mpich, now openmpi\n"
                             "net.UCX_TLS|network transport differs: saved UCX_TLS=shm,self, now UCX_TLS=tcp,self\n"
                             "gone|gone differs: saved 1, now not recorded\n"
                             "new|new differs: saved not recorded, now 2\n");
    /* The same machine: nothing to say. */
    struct diff_lines none = {.n = 0};
    ck_assert_uint_eq(machine_record_diff(&a, &a, collect, &none), 0);
    ck_assert_uint_eq(none.n, 0);
    machine_record_free(&a);
    machine_record_free(&b);
}
END_TEST

static Suite *image_suite(void)
{
    Suite *s = suite_create("image_format");

    TCase *tc = tcase_create("checksums");
    tcase_add_test(tc, test_checksum_known_values);
    tcase_add_test(tc, test_xxh64_matches_zstd);
    suite_add_tcase(s, tc);

    tc = tcase_create("round trip");
    tcase_add_checked_fixture(tc, setup_fx, teardown_fx);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_round_trip_pool);
    tcase_add_test(tc, test_round_trip_default);
    tcase_add_test(tc, test_round_trip_one_thread);
    tcase_add_test(tc, test_round_trip_zstd_workers);
    tcase_add_test(tc, test_pool_output_is_ordered);
    tcase_add_test(tc, test_empty_image);
    tcase_add_test(tc, test_zero_pages_not_stored);
    suite_add_tcase(s, tc);

    tc = tcase_create("damage");
    tcase_add_checked_fixture(tc, setup_fx, teardown_fx);
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_truncation);
    tcase_add_test(tc, test_bit_flip_every_byte);
    tcase_add_test(tc, test_bit_flip_sample);
    tcase_add_test(tc, test_random_corruption);
    tcase_add_test(tc, test_not_an_image);
    tcase_add_test(tc, test_future_version);
    tcase_add_test(tc, test_unknown_section_kind);
    tcase_add_test(tc, test_lengths_do_not_add_up);
    tcase_add_test(tc, test_mismatch_names_chunk);
    tcase_add_test(tc, test_wrong_destination_size);
    tcase_add_test(tc, test_round_trip_reader_threads);
    tcase_add_test(tc, test_reader_threads_report_first_damage);
    suite_add_tcase(s, tc);

    tc = tcase_create("writer failures");
    tcase_add_checked_fixture(tc, setup_fx, teardown_fx);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_abort_removes_temp);
    tcase_add_test(tc, test_mode_0600);
    tcase_add_test(tc, test_full_disk_leaves_nothing);
    tcase_add_test(tc, test_missing_directory);
    tcase_add_test(tc, test_bad_calls);
    tcase_add_test(tc, test_stale_temp_and_existing_image);
    suite_add_tcase(s, tc);

    tc = tcase_create("machine record");
    tcase_add_checked_fixture(tc, setup_fx, teardown_fx);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_machine_round_trip);
    tcase_add_test(tc, test_version1_image);
    tcase_add_test(tc, test_machine_bad_input);
    tcase_add_test(tc, test_machine_record_text);
    tcase_add_test(tc, test_machine_record_diff);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(image_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

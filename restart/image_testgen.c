/* image-testgen: writes and reads checkpoint images made of generated
 * data, for the integration tests (tests/integration/image_inspect.sh)
 * and for measuring the writer and reader (docs/image-format.md). Not
 * installed.
 *
 * The data is deterministic from --seed and --size, so `read --check`
 * can regenerate it and compare every byte. Its mix is what a checkpoint
 * of a numerical code looks like: per 256 KiB, 128 KiB of zeros, 64 KiB
 * of random bytes and 64 KiB of text.
 *
 *   image-testgen write IMAGE [--size N] [--regions N] [--level N]
 *                 [--threads N] [--zstd-workers N] [--seed N] [--raw FILE]
 *                 [--repeat N]   (N images of the same data: IMAGE, IMAGE.1, ...)
 *                 [--machine TEXT]   (a MACHINE section holding TEXT as it is)
 *   image-testgen read IMAGE [--size N] [--regions N] [--seed N] [--check]
 *                 [--threads N]   (the reader's threads, image_reader_set_threads;
 *                                  default 0: one per CPU, as restart)
 */
#define _GNU_SOURCE
#include "image_reader.h"
#include "image_writer.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#define BLOCK (64u * 1024u)

struct params {
    uint64_t size;
    unsigned regions;
    uint64_t seed;
    struct image_writer_opts opts;
    const char *raw;
    const char *machine;
    int check;
    unsigned repeat;
};

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* CPU time of the whole process, all threads. */
static double cpu_seconds(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) + (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

static uint64_t next_rand(uint64_t *s)
{
    /* xorshift64* */
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * 0x2545F4914F6CDD1Dull;
}

static void fill_text(uint8_t *p, size_t n, uint64_t *rs)
{
    static const char *words[32] = {"the",    "rank",    "checkpoint", "restart", "of",       "a",       "message",
                                    "buffer", "matrix",  "solver",     "and",     "in",       "residual", "iteration",
                                    "mesh",   "element", "boundary",   "value",   "to",       "is",       "pressure",
                                    "flux",   "halo",    "exchange",   "step",    "energy",   "with",     "for",
                                    "time",   "grid",    "norm",       "cell"};
    static uint8_t lens[32];
    if (!lens[0])
        for (int i = 0; i < 32; i++)
            lens[i] = (uint8_t)strlen(words[i]);
    size_t at = 0;
    uint64_t bits = 0;
    int left = 0;
    while (at < n) {
        if (left < 9) {
            bits = next_rand(rs);
            left = 64;
        }
        unsigned wi = bits & 31, sep = (bits >> 5) & 15;
        bits >>= 9;
        left -= 9;
        size_t wl = lens[wi] < n - at ? lens[wi] : n - at;
        memcpy(p + at, words[wi], wl);
        at += wl;
        if (at < n)
            p[at++] = sep == 0 ? '\n' : ' ';
    }
}

/* Fills the whole buffer: per 256 KiB, zeros, random, zeros, text. */
static void generate(uint8_t *buf, uint64_t size, uint64_t seed)
{
    uint64_t rs = seed * 0x9E3779B97F4A7C15ull + 1;
    for (uint64_t off = 0, b = 0; off < size; off += BLOCK, b++) {
        size_t n = size - off < BLOCK ? (size_t)(size - off) : BLOCK;
        switch (b % 4) {
        case 0:
        case 2:
            memset(buf + off, 0, n);
            break;
        case 1:
            for (size_t i = 0; i < n; i += 8) {
                uint64_t v = next_rand(&rs);
                memcpy(buf + off + i, &v, n - i < 8 ? n - i : 8);
            }
            break;
        case 3:
            fill_text(buf + off, n, &rs);
            break;
        }
    }
}

static void make_mpi_state(uint8_t *p, size_t n, uint64_t seed)
{
    uint64_t rs = seed + 7;
    fill_text(p, n, &rs);
}

static void make_thread(uint8_t *p, size_t n, uint64_t seed, unsigned i)
{
    uint64_t rs = seed * 31 + i + 1;
    for (size_t k = 0; k < n; k++)
        p[k] = (uint8_t)next_rand(&rs);
}

#define MPI_STATE_SIZE 100000u
#define NTHREADS 4u
#define THREAD_SIZE(i) (512u + 37u * (i))

static uint8_t *alloc_buf(uint64_t size)
{
    void *p = mmap(NULL, size ? size : 1, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) {
        fprintf(stderr, "image-testgen: cannot map %" PRIu64 " bytes: %s\n", size, strerror(errno));
        exit(1);
    }
    return p;
}

/* Region i spans [size*i/n, size*(i+1)/n): odd sizes unless size/n is a
 * page multiple. */
static uint64_t region_start(const struct params *p, unsigned i)
{
    return p->size * i / p->regions;
}

static int write_once(const char *path, const struct params *p, const uint8_t *buf, const uint8_t *mpi);

static int do_write(const char *path, const struct params *p)
{
    uint8_t *buf = alloc_buf(p->size);
    generate(buf, p->size, p->seed);
    if (p->raw) {
        int fd = open(p->raw, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (fd < 0 || write(fd, buf, p->size) != (ssize_t)p->size || close(fd) < 0) {
            fprintf(stderr, "image-testgen: cannot write %s: %s\n", p->raw, strerror(errno));
            return 1;
        }
    }
    static uint8_t mpi[MPI_STATE_SIZE];
    make_mpi_state(mpi, sizeof mpi, p->seed);

    /* Each repetition writes a new file (IMAGE, IMAGE.1, ...), as a
     * checkpoint does: replacing a file would add the freeing of the old
     * one's page cache to the time. */
    for (unsigned rep = 0; rep < p->repeat; rep++) {
        char name[PATH_MAX + 16];
        if (rep == 0)
            snprintf(name, sizeof name, "%s", path);
        else
            snprintf(name, sizeof name, "%s.%u", path, rep);
        if (write_once(name, p, buf, mpi) < 0)
            return 1;
    }
    munmap(buf, p->size ? p->size : 1);
    return 0;
}

/* One image of BUF; the time and CPU time of writing it on stdout. */
static int write_once(const char *path, const struct params *p, const uint8_t *buf, const uint8_t *mpi)
{
    char err[1024];
    struct image_writer_header h = {.rank = 1, .nranks = 4, .flavour = MANA_MPI_MPICH, .generation = 7};
    double c0 = cpu_seconds();
    double t0 = now();
    struct image_writer *w = image_writer_open(path, &h, &p->opts, err, sizeof err);
    if (!w) {
        fprintf(stderr, "image-testgen: %s\n", err);
        return -1;
    }
    int rc = p->machine ? image_writer_add_machine(w, p->machine, strlen(p->machine)) : 0;
    if (rc == 0)
        rc = image_writer_add_mpi_state(w, mpi, MPI_STATE_SIZE);
    for (unsigned i = 0; rc == 0 && i < NTHREADS; i++) {
        uint8_t t[THREAD_SIZE(NTHREADS)];
        make_thread(t, THREAD_SIZE(i), p->seed, i);
        rc = image_writer_add_thread(w, t, THREAD_SIZE(i));
    }
    for (unsigned i = 0; rc == 0 && i < p->regions; i++) {
        uint64_t a = region_start(p, i), b = region_start(p, i + 1);
        char name[64];
        snprintf(name, sizeof name, "test region %u", i);
        rc = image_writer_add_region(w, (uint64_t)(uintptr_t)(buf + a), b - a, PROT_READ | PROT_WRITE, 0, name,
                                     buf + a);
    }
    /* A reserved region without data, as a PROT_NONE guard would be. */
    if (rc == 0)
        rc = image_writer_add_region(w, 0x10000, 0x4000, PROT_NONE, 0, "guard", NULL);
    if (rc < 0) {
        fprintf(stderr, "image-testgen: %s\n", image_writer_error(w));
        image_writer_abort(w);
        return -1;
    }
    struct image_summary sum;
    double t_fin = now();
    if (image_writer_finish(w, &sum, err, sizeof err) < 0) {
        fprintf(stderr, "image-testgen: %s\n", err);
        return -1;
    }
    double t1 = now(), t = t1 - t0;
    printf("wrote %s: %" PRIu64 " raw bytes -> %" PRIu64 " file bytes (%.1f%%), %" PRIu64 " zero pages, "
           "%.3f s (finish with fsync %.3f s), %.0f MB/s of raw data, %.2f s CPU, digest %016" PRIx64 "\n",
           path, sum.total_raw, sum.file_size, 100.0 * (double)sum.file_size / (double)sum.total_raw, sum.zero_pages,
           t, t1 - t_fin, (double)p->size / t / 1e6, cpu_seconds() - c0, sum.digest);
    fflush(stdout);
    return 0;
}

static int do_read(const char *path, const struct params *p)
{
    char err[1024];
    uint8_t *expect = NULL;
    if (p->check) {
        expect = alloc_buf(p->size);
        generate(expect, p->size, p->seed);
    }
    double t0 = now(), restore = 0;
    struct image_reader *r = image_reader_open(path, err, sizeof err);
    if (!r) {
        fprintf(stderr, "image-testgen: %s\n", err);
        return 1;
    }
    image_reader_set_threads(r, (unsigned)p->opts.threads);
    struct image_section s;
    int rc;
    unsigned nregion = 0;
    uint64_t bytes = 0;
    int bad = 0;
    while ((rc = image_reader_next(r, &s)) > 0) {
        if (s.kind == IMAGE_SECTION_MPI_STATE) {
            void *d;
            size_t n;
            if (image_reader_load_blob(r, &s, &d, &n) < 0)
                break;
            if (p->check) {
                static uint8_t mpi[MPI_STATE_SIZE];
                make_mpi_state(mpi, sizeof mpi, p->seed);
                if (n != sizeof mpi || memcmp(d, mpi, n) != 0) {
                    fprintf(stderr, "image-testgen: MPI state differs\n");
                    bad = 1;
                }
            }
            free(d);
        } else if (s.kind == IMAGE_SECTION_THREADS) {
            struct image_thread_list t;
            if (image_reader_load_threads(r, &s, &t) < 0)
                break;
            if (p->check) {
                bad |= t.count != NTHREADS;
                for (unsigned i = 0; !bad && i < t.count; i++) {
                    uint8_t e[THREAD_SIZE(NTHREADS)];
                    make_thread(e, THREAD_SIZE(i), p->seed, i);
                    bad |= t.len[i] != THREAD_SIZE(i) || memcmp(t.data[i], e, t.len[i]) != 0;
                }
                if (bad)
                    fprintf(stderr, "image-testgen: thread states differ\n");
            }
            image_thread_list_free(&t);
        } else if (s.kind == IMAGE_SECTION_REGION) {
            if (s.region.flags & IMAGE_REGION_NODATA)
                continue;
            /* Like restart: a fresh mapping, zero pages mapped, not written. */
            uint8_t *dst = alloc_buf(s.region.length);
            double t1 = now();
            if (image_reader_region_data(r, &s, dst, s.region.length, IMAGE_DST_ZEROED | IMAGE_DST_MAP_ZEROS) < 0)
                break;
            restore += now() - t1;
            bytes += s.region.length;
            if (p->check) {
                uint64_t a = nregion < p->regions ? region_start(p, nregion) : 0;
                uint64_t b = nregion < p->regions ? region_start(p, nregion + 1) : 0;
                if (b - a != s.region.length || memcmp(dst, expect + a, s.region.length) != 0) {
                    fprintf(stderr, "image-testgen: region %u differs\n", nregion);
                    bad = 1;
                }
            }
            munmap(dst, s.region.length ? s.region.length : 1);
            nregion++;
        }
    }
    if (rc != 0) {
        fprintf(stderr, "image-testgen: %s\n", image_reader_error(r));
        image_reader_close(r);
        return 1;
    }
    double t = now() - t0;
    image_reader_close(r);
    if (p->check && nregion != p->regions) {
        fprintf(stderr, "image-testgen: %u regions, %u expected\n", nregion, p->regions);
        bad = 1;
    }
    if (bad)
        return 1;
    printf("read %s: %u regions, %" PRIu64 " bytes restored in %.3f s (%.0f MB/s), %.3f s in all%s\n", path, nregion,
           bytes, restore, (double)bytes / restore / 1e6, t, p->check ? ", every byte as written" : "");
    return 0;
}

static uint64_t parse_size(const char *s)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s)
        goto bad;
    switch (*end) {
    case 'G':
        v <<= 10; /* fall through */
    case 'M':
        v <<= 10; /* fall through */
    case 'K':
        v <<= 10;
        end++;
        break;
    case '\0':
        break;
    default:
        goto bad;
    }
    if (*end == '\0')
        return v;
bad:
    fprintf(stderr, "image-testgen: bad number '%s'\n", s);
    exit(2);
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"size", required_argument, NULL, 's'},    {"regions", required_argument, NULL, 'n'},
        {"level", required_argument, NULL, 'l'},   {"threads", required_argument, NULL, 't'},
        {"zstd-workers", required_argument, NULL, 'z'}, {"seed", required_argument, NULL, 'S'},
        {"raw", required_argument, NULL, 'R'},     {"check", no_argument, NULL, 'c'},
        {"repeat", required_argument, NULL, 'r'},  {"machine", required_argument, NULL, 'm'},
        {NULL, 0, NULL, 0},
    };
    struct params p = {.size = 8u << 20, .regions = 5, .seed = 1, .repeat = 1};
    image_writer_opts_default(&p.opts);
    int c;
    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (c) {
        case 's':
            p.size = parse_size(optarg);
            break;
        case 'n':
            p.regions = (unsigned)parse_size(optarg);
            break;
        case 'l':
            p.opts.level = atoi(optarg);
            break;
        case 't':
            p.opts.threads = (int)parse_size(optarg);
            break;
        case 'z':
            p.opts.zstd_workers = (int)parse_size(optarg);
            break;
        case 'S':
            p.seed = parse_size(optarg);
            break;
        case 'R':
            p.raw = optarg;
            break;
        case 'c':
            p.check = 1;
            break;
        case 'r':
            p.repeat = (unsigned)parse_size(optarg);
            break;
        case 'm':
            p.machine = optarg;
            break;
        default:
            return 2;
        }
    }
    if (argc - optind != 2 || p.regions == 0) {
        fprintf(stderr, "Usage: image-testgen write|read IMAGE [options] (see restart/image_testgen.c)\n");
        return 2;
    }
    if (strcmp(argv[optind], "write") == 0)
        return do_write(argv[optind + 1], &p);
    if (strcmp(argv[optind], "read") == 0)
        return do_read(argv[optind + 1], &p);
    fprintf(stderr, "image-testgen: unknown command '%s'\n", argv[optind]);
    return 2;
}

/* ckpt_memory.c - a rank holding a large buffer of mixed data, for the
 * checkpoint/restart benchmark of run-bench.sh.
 *
 *   ckpt_memory DIR          (under MPI, any number of ranks)
 *     Each rank maps BENCH_CKPT_MIB MiB (default 1024) and fills all of it:
 *       first half      zeros (written, so the pages are resident),
 *       third quarter   random bytes (xorshift64*, fixed seed per rank/block),
 *       last quarter    compressible text: words drawn from a 32-word list;
 *     then rank 0 prints "ready" and every rank computes, with no MPI call,
 *     until the file DIR/stop exists or BENCH_CKPT_HOLD seconds (default 120)
 *     have passed.  A checkpoint may be taken meanwhile; a restarted job
 *     comes back into the same loop, sees DIR/stop and goes on.  Then every
 *     rank checks all its bytes against a fresh regeneration, and rank 0
 *     prints "verified ok ranks=N mib=M verify_s=T stopped_by=file|time
 *     resumed_at=E" (E: CLOCK_REALTIME, in seconds since the epoch, at which
 *     the last rank left the compute loop; after a restart, the moment the
 *     job runs again) or "verify FAILED ..." and exit status 1.
 *
 *   ckpt_memory --dump FILE RANK
 *     Writes exactly the bytes rank RANK holds to FILE (no MPI), for the
 *     zstd baseline of the benchmark.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <mpi.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define BLOCK 4096

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static long env_long(const char *name, long def)
{
    const char *s = getenv(name);
    if (s == NULL || *s == '\0')
        return def;
    char *end;
    long v = strtol(s, &end, 10);
    if (*end != '\0' || v <= 0) {
        fprintf(stderr, "ckpt_memory: %s must be a positive integer (got '%s')\n", name, s);
        exit(2);
    }
    return v;
}

static uint64_t mix(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ULL;
    x ^= x >> 33;
    return x | 1;
}

static uint64_t xs(uint64_t *s)
{
    uint64_t x = *s;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *s = x;
    return x * 0x2545f4914f6cdd1dULL;
}

static const char *const words[32] = {
    "checkpoint", "restart", "rank",   "message", "buffer", "memory", "region", "page",
    "compress",   "stream",  "upper",  "lower",   "half",   "split",  "process", "thread",
    "signal",     "image",   "zstd",   "disk",    "write",  "read",   "verify", "data",
    "the",        "of",      "and",    "a",       "to",     "in",     "is",     "MPI"};

/* Content of block b (BLOCK bytes) of a buffer of nblocks blocks. */
static void gen_block(int rank, size_t b, size_t nblocks, unsigned char *out)
{
    if (b < nblocks / 2) {
        memset(out, 0, BLOCK);
        return;
    }
    uint64_t s = mix(((uint64_t)rank << 40) ^ (uint64_t)b ^ 0x9e3779b97f4a7c15ULL);
    if (b < nblocks / 2 + nblocks / 4) {
        for (size_t i = 0; i < BLOCK; i += 8) {
            uint64_t v = xs(&s);
            memcpy(out + i, &v, 8);
        }
        return;
    }
    size_t i = 0;
    while (i < BLOCK) {
        uint64_t v = xs(&s);
        const char *w = words[v >> 59];
        size_t n = strlen(w);
        for (size_t k = 0; k < n && i < BLOCK; k++)
            out[i++] = (unsigned char)w[k];
        if (i < BLOCK)
            out[i++] = ((v >> 8) & 15) == 0 ? '\n' : ' ';
    }
}

static size_t buffer_bytes(void)
{
    return (size_t)env_long("BENCH_CKPT_MIB", 1024) << 20;
}

static int dump(const char *path, int rank)
{
    size_t bytes = buffer_bytes(), nblocks = bytes / BLOCK;
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) {
        fprintf(stderr, "ckpt_memory: cannot create %s: %s\n", path, strerror(errno));
        return 1;
    }
    static unsigned char chunk[1 << 20];
    size_t per = sizeof chunk / BLOCK;
    for (size_t b = 0; b < nblocks; b += per) {
        size_t n = nblocks - b < per ? nblocks - b : per;
        for (size_t k = 0; k < n; k++)
            gen_block(rank, b + k, nblocks, chunk + k * BLOCK);
        size_t len = n * BLOCK, off = 0;
        while (off < len) {
            ssize_t w = write(fd, chunk + off, len - off);
            if (w < 0 && errno == EINTR)
                continue;
            if (w <= 0) {
                fprintf(stderr, "ckpt_memory: writing %s: %s\n", path, strerror(errno));
                close(fd);
                return 1;
            }
            off += (size_t)w;
        }
    }
    if (close(fd) != 0) {
        fprintf(stderr, "ckpt_memory: closing %s: %s\n", path, strerror(errno));
        return 1;
    }
    return 0;
}

static volatile double sink;

int main(int argc, char **argv)
{
    if (argc == 4 && strcmp(argv[1], "--dump") == 0)
        return dump(argv[2], atoi(argv[3]));
    if (argc != 2 || argv[1][0] == '-') {
        fprintf(stderr, "usage: ckpt_memory DIR | ckpt_memory --dump FILE RANK\n");
        return 2;
    }
    size_t bytes = buffer_bytes(), nblocks = bytes / BLOCK;
    double hold = (double)env_long("BENCH_CKPT_HOLD", 120);
    char stop_path[4096];
    snprintf(stop_path, sizeof stop_path, "%s/stop", argv[1]);

    MPI_Init(&argc, &argv);
    int rank, size;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);

    unsigned char *buf = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (buf == MAP_FAILED) {
        fprintf(stderr, "ckpt_memory: rank %d: cannot map %zu bytes: %s\n", rank, bytes, strerror(errno));
        MPI_Abort(MPI_COMM_WORLD, 1);
    }
    double t0 = now_s();
    for (size_t b = 0; b < nblocks; b++)
        gen_block(rank, b, nblocks, buf + b * BLOCK);
    double fill_s = now_s() - t0;
    MPI_Barrier(MPI_COMM_WORLD);
    if (rank == 0) {
        printf("ready ranks=%d mib=%zu fill_s=%.3f\n", size, bytes >> 20, fill_s);
        fflush(stdout);
    }

    /* Compute, no MPI, until DIR/stop appears or the hold time is over. */
    double start = now_s(), x = 1.0;
    int by_file = 0;
    for (;;) {
        for (int i = 0; i < 2000000; i++)
            x = x * 1.0000001 + 1e-9;
        sink = x;
        if (access(stop_path, F_OK) == 0) {
            by_file = 1;
            break;
        }
        if (now_s() - start > hold)
            break;
    }

    struct timespec rt;
    clock_gettime(CLOCK_REALTIME, &rt);
    double resumed = rt.tv_sec + rt.tv_nsec * 1e-9, resumed_max = 0;
    t0 = now_s();
    long bad = 0;
    unsigned char ref[BLOCK];
    for (size_t b = 0; b < nblocks; b++) {
        gen_block(rank, b, nblocks, ref);
        if (memcmp(ref, buf + b * BLOCK, BLOCK) != 0)
            bad++;
    }
    double verify_s = now_s() - t0, vmax = 0;
    long bad_all = 0;
    int file_all = 0;
    MPI_Reduce(&bad, &bad_all, 1, MPI_LONG, MPI_SUM, 0, MPI_COMM_WORLD);
    MPI_Reduce(&verify_s, &vmax, 1, MPI_DOUBLE, MPI_MAX, 0, MPI_COMM_WORLD);
    MPI_Reduce(&by_file, &file_all, 1, MPI_INT, MPI_MIN, 0, MPI_COMM_WORLD);
    MPI_Reduce(&resumed, &resumed_max, 1, MPI_DOUBLE, MPI_MAX, 0, MPI_COMM_WORLD);
    if (rank == 0) {
        if (bad_all == 0)
            printf("verified ok ranks=%d mib=%zu verify_s=%.3f stopped_by=%s resumed_at=%.6f\n", size,
                   bytes >> 20, vmax, file_all ? "file" : "time", resumed_max);
        else
            printf("verify FAILED: %ld bad %d-byte blocks over %d ranks\n", bad_all, BLOCK, size);
        fflush(stdout);
    }
    munmap(buf, bytes);
    MPI_Finalize();
    return bad_all == 0 || rank != 0 ? 0 : 1;
}

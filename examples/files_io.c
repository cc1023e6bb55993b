/*
 * files_io.c - an MPI program that writes and reads its own files while it
 * runs, the target for checkpointing open files: each rank keeps four
 * files open in the current directory for the whole run,
 *
 *   files_io.rank-R.log  a FILE* (fopen "w"): one line per step, flushed
 *                        every FLUSH_EVERY steps (so a checkpoint usually
 *                        finds unflushed lines in its buffer);
 *   files_io.rank-R.app  an O_APPEND fd: one write() of a record per step;
 *   files_io.rank-R.rec  an O_RDWR fd: pwrite() of a fixed-size record per
 *                        step at a step-dependent slot, in scrambled order;
 *   files_io.rank-R.in   written before the loop, then reopened read only
 *                        and read sequentially, IN_CHUNK bytes a step, each
 *                        chunk checked against what was written.
 *
 * Every step also does some compute, an MPI_Allreduce and an exchange
 * around a ring (MPI_Sendrecv), whose results go into the records. At the
 * end each rank closes its files, reads them back and checks every byte
 * against what it expects; rank 0 prints each rank's byte count and FNV-1a
 * checksum of each file, then the verdict. Everything depends only on the
 * rank, the step and the number of ranks, so the output is the same on
 * every run, and a restarted run (files put back at their fds and offsets,
 * what was written after the checkpoint rolled back) must print exactly
 * what the uninterrupted one does.
 *
 * Build: mpicc.mpich -std=gnu11 -O2 -Wall -Wextra -Werror files_io.c -o files_io
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <mpi.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define NAME "files_io"
#include "example_check.h"
#define STEPS 60
#define FLUSH_EVERY 7
#define WORK 1000000      /* compute per step: a dependent chain of about a millisecond */
#define REC_BYTES 48      /* one record of the .rec and .app files */
#define REC_STRIDE 23     /* slot of step s: s * 23 mod STEPS (23 is prime to 60) */
#define IN_CHUNK 100
#define IN_BYTES (STEPS * IN_CHUNK + 37) /* a tail the loop never reads */

enum { LOG, APP, REC, IN, NFILES };
static const char *const g_ext[NFILES] = { "log", "app", "rec", "in" };

static uint64_t fnv1a(const void *p, size_t n, uint64_t h)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++) {
        h ^= b[i];
        h *= 0x100000001b3ull;
    }
    return h;
}
#define FNV_START 0xcbf29ce484222325ull

static char in_byte(int rank, size_t pos)
{
    return (char)('a' + (pos * 7 + (size_t)rank * 3 + pos / 26) % 26);
}

/* The step's compute: its result depends on rank and step only. */
static uint64_t work(int rank, int step)
{
    uint64_t x = (uint64_t)rank * 1000003u + (uint64_t)step * 7919u + 1;
    for (int i = 0; i < WORK; i++)
        x = x * 6364136223846793005ull + 1442695040888963407ull;
    return x >> 16;
}

static void file_name(char *buf, size_t len, int rank, int which)
{
    snprintf(buf, len, "files_io.rank-%d.%s", rank, g_ext[which]);
}

static int open_or_abort(int rank, int which, int flags)
{
    char name[64];
    file_name(name, sizeof name, rank, which);
    int fd = open(name, flags, 0644);
    if (fd < 0) {
        fprintf(stderr, "files_io: rank %d: cannot open %s: %s\n", rank, name, strerror(errno));
        MPI_Abort(MPI_COMM_WORLD, 2);
    }
    return fd;
}

/* What step S writes: a log line and a fixed-size record. */
static int log_line(char *buf, size_t len, int rank, int step, uint64_t sum, uint64_t from_left)
{
    return snprintf(buf, len, "rank %d step %d sum %016" PRIx64 " left %016" PRIx64 "\n", rank, step, sum,
                    from_left);
}

static void record(char rec[REC_BYTES], int rank, int step, uint64_t sum, uint64_t from_left)
{
    char tmp[REC_BYTES + 1];
    snprintf(tmp, sizeof tmp, "r%02d s%03d %016" PRIx64 " %016" PRIx64 "\n", rank % 100, step, sum ^ from_left,
             sum + from_left);
    memset(rec, '.', REC_BYTES);
    memcpy(rec, tmp, strlen(tmp));
    rec[REC_BYTES - 1] = '\n';
}

/* Reads back NAME whole (xmalloc'd), for the final checks. */
static char *slurp(int rank, int which, size_t *len)
{
    int fd = open_or_abort(rank, which, O_RDONLY);
    struct stat st;
    fstat(fd, &st);
    char *buf = xmalloc((size_t)st.st_size);
    ssize_t n = pread(fd, buf, (size_t)st.st_size, 0);
    close(fd);
    *len = n > 0 ? (size_t)n : 0;
    return buf;
}

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    int rank, size;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    const int right = (rank + 1) % size;
    const int left = (rank + size - 1) % size;

    /* The input, written whole, then kept open read only. */
    char *in_data = xmalloc(IN_BYTES);
    for (size_t i = 0; i < IN_BYTES; i++)
        in_data[i] = in_byte(rank, i);
    int fd = open_or_abort(rank, IN, O_WRONLY | O_CREAT | O_TRUNC);
    check(write(fd, in_data, IN_BYTES) == IN_BYTES, "writing the input file");
    close(fd);
    int in = open_or_abort(rank, IN, O_RDONLY);

    char name[64];
    file_name(name, sizeof name, rank, LOG);
    FILE *log = fopen(name, "w");
    if (log == NULL) {
        fprintf(stderr, "files_io: rank %d: cannot open %s: %s\n", rank, name, strerror(errno));
        MPI_Abort(MPI_COMM_WORLD, 2);
    }
    int app = open_or_abort(rank, APP, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND);
    int rec = open_or_abort(rank, REC, O_RDWR | O_CREAT | O_TRUNC);

    uint64_t sums[STEPS], lefts[STEPS];
    for (int s = 0; s < STEPS; s++) {
        uint64_t mine = work(rank, s), sum = 0, from_left = 0;
        MPI_Allreduce(&mine, &sum, 1, MPI_UINT64_T, MPI_SUM, MPI_COMM_WORLD);
        uint64_t out = mine ^ (uint64_t)s;
        MPI_Sendrecv(&out, 1, MPI_UINT64_T, right, s, &from_left, 1, MPI_UINT64_T, left, s, MPI_COMM_WORLD,
                     MPI_STATUS_IGNORE);
        check(from_left == (work(left, s) ^ (uint64_t)s), "step %d: ring got %016" PRIx64, s, from_left);
        sums[s] = sum;
        lefts[s] = from_left;

        char line[128];
        log_line(line, sizeof line, rank, s, sum, from_left);
        check(fputs(line, log) >= 0, "step %d: log: %s", s, strerror(errno));
        if (s % FLUSH_EVERY == FLUSH_EVERY - 1)
            fflush(log);
        char r[REC_BYTES];
        record(r, rank, s, sum, from_left);
        check(write(app, r, REC_BYTES) == REC_BYTES, "step %d: append: %s", s, strerror(errno));
        off_t slot = (off_t)((s * REC_STRIDE) % STEPS) * REC_BYTES;
        check(pwrite(rec, r, REC_BYTES, slot) == REC_BYTES, "step %d: pwrite: %s", s, strerror(errno));
        char chunk[IN_CHUNK];
        ssize_t got = read(in, chunk, IN_CHUNK);
        check(got == IN_CHUNK && memcmp(chunk, in_data + (size_t)s * IN_CHUNK, IN_CHUNK) == 0,
              "step %d: the input read %zd bytes, not the expected ones", s, got);
    }
    check(lseek(in, 0, SEEK_CUR) == STEPS * IN_CHUNK, "input offset %lld at the end",
          (long long)lseek(in, 0, SEEK_CUR));
    check(fclose(log) == 0, "closing the log");
    close(app);
    close(rec);
    close(in);

    /* Read everything back and compare with what the steps wrote. */
    size_t len[NFILES];
    char *got[NFILES];
    for (int w = 0; w < NFILES; w++)
        got[w] = slurp(rank, w, &len[w]);
    size_t pos = 0;
    char line[128], r[REC_BYTES];
    for (int s = 0; s < STEPS; s++) {
        int n = log_line(line, sizeof line, rank, s, sums[s], lefts[s]);
        check(pos + (size_t)n <= len[LOG] && memcmp(got[LOG] + pos, line, (size_t)n) == 0,
              "log: step %d's line differs", s);
        pos += (size_t)n;
        record(r, rank, s, sums[s], lefts[s]);
        check(len[APP] == (size_t)STEPS * REC_BYTES && memcmp(got[APP] + (size_t)s * REC_BYTES, r, REC_BYTES) == 0,
              "app: step %d's record differs (%zu bytes)", s, len[APP]);
        size_t slot = (size_t)((s * REC_STRIDE) % STEPS) * REC_BYTES;
        check(len[REC] == (size_t)STEPS * REC_BYTES && memcmp(got[REC] + slot, r, REC_BYTES) == 0,
              "rec: step %d's record differs (%zu bytes)", s, len[REC]);
    }
    check(pos == len[LOG], "log: %zu bytes, expected %zu", len[LOG], pos);
    check(len[IN] == IN_BYTES && memcmp(got[IN], in_data, IN_BYTES) == 0, "in: changed (%zu bytes)", len[IN]);

    unsigned long long mine[2 * NFILES];
    for (int w = 0; w < NFILES; w++) {
        mine[2 * w] = len[w];
        mine[2 * w + 1] = fnv1a(got[w], len[w], FNV_START);
        free(got[w]);
    }
    free(in_data);
    unsigned long long *all = NULL;
    if (rank == 0)
        all = xmalloc(sizeof mine * (size_t)size);
    MPI_Gather(mine, 2 * NFILES, MPI_UNSIGNED_LONG_LONG, all, 2 * NFILES, MPI_UNSIGNED_LONG_LONG, 0,
               MPI_COMM_WORLD);
    if (rank == 0) {
        printf("files_io: %d ranks, %d steps, 4 files per rank\n", size, STEPS);
        for (int q = 0; q < size; q++) {
            const unsigned long long *a = all + (size_t)q * 2 * NFILES;
            printf("rank %d:", q);
            for (int w = 0; w < NFILES; w++)
                printf(" %s %llu bytes %016llx%s", g_ext[w], a[2 * w], a[2 * w + 1], w + 1 < NFILES ? "," : "\n");
        }
        free(all);
    }

    int rc = finish(rank, size);
    MPI_Finalize();
    return rc;
}

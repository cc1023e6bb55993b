/* ckpt_compute: a checkpoint/restart test program that spends nearly all
 * of its time in deterministic integer work outside MPI, so that a
 * checkpoint taken at any moment finds every rank in compute.
 *
 *   ckpt_compute STEPS PREFIX [WORK]
 *
 * Each rank fills a 4 MiB heap buffer with a pattern, then runs STEPS
 * steps: WORK million rounds of integer mixing that read the buffer (so a
 * wrongly restored heap changes every later number), one MPI_Allreduce
 * of the step's value, one line on stdout from rank 0, and one line
 * appended to PREFIX.RANK by every rank (opened, written, flushed and
 * closed each step, so the file is named by its path only). At the end
 * the buffer's pattern is checked and rank 0 prints the final checksum.
 * Nothing depends on time: a run, a checkpointed run and a restarted run
 * print the same bytes. */
#include <mpi.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BUF_WORDS (4u << 20) / 8u

static uint64_t pattern(uint64_t i, int rank)
{
    uint64_t x = i * 0x9e3779b97f4a7c15ull + (uint64_t)rank * 0xbf58476d1ce4e5b9ull + 1;
    x ^= x >> 31;
    return x * 0x94d049bb133111ebull;
}

/* ROUNDS rounds of mixing that read BUF at data-dependent places. */
static uint64_t mix(const uint64_t *buf, uint64_t x, long rounds)
{
    for (long i = 0; i < rounds; i++) {
        x ^= buf[(x >> 17) & (BUF_WORDS - 1)];
        x = x * 6364136223846793005ull + 1442695040888963407ull;
        x ^= x >> 29;
    }
    return x;
}

static void append_line(const char *prefix, int rank, int step, uint64_t value, uint64_t total)
{
    char path[4096];
    snprintf(path, sizeof path, "%s.%d", prefix, rank);
    FILE *f = fopen(path, "a");
    if (f == NULL) {
        perror(path);
        MPI_Abort(MPI_COMM_WORLD, 1);
    }
    fprintf(f, "rank %d step %d value %016llx total %016llx\n", rank, step, (unsigned long long)value,
            (unsigned long long)total);
    fflush(f);
    fclose(f);
}

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    int rank, size;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    if (argc < 3 || atoi(argv[1]) <= 0) {
        if (rank == 0)
            fprintf(stderr, "usage: %s STEPS PREFIX [MILLION_ROUNDS_PER_STEP]\n", argv[0]);
        MPI_Finalize();
        return 2;
    }
    int steps = atoi(argv[1]);
    const char *prefix = argv[2];
    long rounds = (long)((argc > 3 ? atof(argv[3]) : 12.0) * 1e6);

    uint64_t *buf = malloc(BUF_WORDS * sizeof *buf);
    if (buf == NULL) {
        perror("malloc");
        MPI_Abort(MPI_COMM_WORLD, 1);
    }
    for (uint64_t i = 0; i < BUF_WORDS; i++)
        buf[i] = pattern(i, rank);

    uint64_t x = 0x243f6a8885a308d3ull ^ (uint64_t)rank, total = 0;
    for (int step = 1; step <= steps; step++) {
        x = mix(buf, x + (uint64_t)step, rounds);
        uint64_t sum = 0;
        MPI_Allreduce(&x, &sum, 1, MPI_UINT64_T, MPI_SUM, MPI_COMM_WORLD);
        total = total * 31 + sum;
        x ^= sum;
        append_line(prefix, rank, step, x, total);
        if (rank == 0) {
            printf("step %d of %d: sum %016llx\n", step, steps, (unsigned long long)sum);
            fflush(stdout);
        }
    }

    uint64_t bad = 0;
    for (uint64_t i = 0; i < BUF_WORDS; i++)
        bad += buf[i] != pattern(i, rank);
    uint64_t all_bad = 0;
    MPI_Allreduce(&bad, &all_bad, 1, MPI_UINT64_T, MPI_SUM, MPI_COMM_WORLD);
    free(buf);
    if (rank == 0) {
        printf("memory pattern: %s (%llu words differ)\n", all_bad == 0 ? "intact" : "DAMAGED",
               (unsigned long long)all_bad);
        printf("final checksum %016llx over %d ranks\n", (unsigned long long)total, size);
        fflush(stdout);
    }
    MPI_Finalize();
    return all_bad == 0 ? 0 : 1;
}

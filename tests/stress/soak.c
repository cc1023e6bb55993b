/* soak.c - the long-load program of tests/long/soak.sh (issue 9): ranks
 * holding a large, changing memory while they exchange messages without
 * a pause, for checkpoints taken every few seconds.  Not a stress_*
 * program: tests/integration/stress_native_and_mana.sh leaves it alone.
 *
 *   mpirun -np N soak MIB STEPS [PROGRESS]
 *     Each rank maps MIB MiB and fills it with a pattern (below).  Then
 *     STEPS steps, each of which
 *       - rewrites one chunk (1/1024 of the memory, chunk s mod 1024),
 *         checking every word of it against its closed form first, so
 *         the whole memory is checked once every 1024 steps;
 *       - sends the first words of that chunk to both ring neighbours
 *         (MPI_Isend/MPI_Irecv) and checks what arrives against the
 *         neighbours' closed forms;
 *       - passes a message of varying length (1 word to 1 MiB) round
 *         the ring with blocking MPI_Send/MPI_Recv, checked likewise;
 *       - every 16th step, MPI_Allreduce of a value per rank, checked;
 *     then every rank checks all its memory, and rank 0 prints one line,
 *       soak: ranks=N mib=M steps=S messages=K bytes=B digest=D OK
 *     which depends on N, M and S only: a run checkpointed, killed and
 *     restarted must print exactly what a native run prints.  Every
 *     PROGRESS steps (default 1000) rank 0 writes "step S of T" to stderr,
 *     for the test to see how far it is.  Any mismatch: a line naming it
 *     on stderr and MPI_Abort (exit status 1).
 *
 *   soak --expect N MIB STEPS
 *     Prints the line the run must print, from the closed forms alone
 *     (no MPI, no steps).
 *
 * The memory: 4 KiB pages in fours; the first page of each four random
 * words (incompressible), the second a slowly varying pattern
 * (compresses well), the third and fourth zeros but for their first word.
 * So an image is about 1/4 of the memory after zstd, not all zero pages,
 * and a chunk's rewrite changes every page of it.
 */
#define _GNU_SOURCE
#include <inttypes.h>
#include <mpi.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#define NCHUNKS 1024
#define PAGE_WORDS 512            /* 4 KiB */
#define NB_WORDS 1024             /* neighbour messages: 8 KiB at most */
#define RING_MAX_WORDS (1 << 17)  /* ring message: 1 MiB at most */
#define ALLREDUCE_EVERY 16

static int rank, nranks;

static uint64_t mix(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ULL;
    x ^= x >> 33;
    return x;
}

/* Word I of rank R's memory after its chunk was rewritten C times. */
static uint64_t mem_word(int r, uint64_t i, uint64_t c)
{
    uint64_t off = i % PAGE_WORDS;
    switch ((i / PAGE_WORDS) % 4) {
    case 0:
        return mix(((uint64_t)r << 56) ^ (i << 16) ^ c ^ 0x9e3779b97f4a7c15ULL);
    case 1:
        return (c << 40) | ((uint64_t)r << 32) | ((off * 2654435761u) & 0xffff);
    default:
        return off ? 0 : mix(((uint64_t)r << 56) ^ (i << 16) ^ c ^ 0x5bd1e995ULL);
    }
}

/* How often chunk J has been rewritten after S steps. */
static uint64_t rewrites(uint64_t j, uint64_t s)
{
    return s / NCHUNKS + (j < s % NCHUNKS);
}

/* Word K of the ring message rank R sends at step S. */
static uint64_t ring_word(int r, uint64_t s, uint64_t k)
{
    return mix(((uint64_t)r << 48) ^ (s << 20) ^ k ^ 0x2545f4914f6cdd1dULL);
}

/* Length of the ring message rank R sends at step S: mostly small (eager),
 * every 97th step 1 MiB (rendezvous). */
static uint64_t ring_len(int r, uint64_t s)
{
    if (s % 97 == 0)
        return RING_MAX_WORDS;
    return 1 + mix(s * 31 + (uint64_t)r) % 4096;
}

/* The value rank R gives the allreduce at step S. */
static uint64_t reduce_word(int r, uint64_t s)
{
    return mix(((uint64_t)r << 40) ^ s ^ 0xabcdef12345ULL) >> 8; /* no overflow in a sum of < 256 */
}

static void fail(const char *what, uint64_t step, uint64_t index, uint64_t got, uint64_t want)
{
    fprintf(stderr, "soak: rank %d: %s wrong at step %" PRIu64 ", word %" PRIu64 ": got %#" PRIx64 ", want %#" PRIx64
            " (memory or a message was lost or damaged)\n", rank, what, step, index, got, want);
    fflush(stderr);
    MPI_Abort(MPI_COMM_WORLD, 1);
    exit(1);
}

/* The digest of rank R's memory after S steps, from the closed forms. */
static uint64_t digest_expected(int r, uint64_t words, uint64_t s)
{
    uint64_t cw = words / NCHUNKS, d = 0;
    for (uint64_t j = 0; j < NCHUNKS; j++) {
        uint64_t c = rewrites(j, s);
        for (uint64_t i = j * cw; i < (j + 1) * cw; i++)
            d += mem_word(r, i, c) * (2 * i + 1);
    }
    return d;
}

/* Point-to-point messages and their payload bytes the whole job sends in
 * S steps (neighbour and ring messages), for the final line. */
static void traffic(int n, uint64_t words, uint64_t s, uint64_t *msgs, uint64_t *bytes)
{
    uint64_t cw = words / NCHUNKS, nb = cw < NB_WORDS ? cw : NB_WORDS;
    *msgs = 0;
    *bytes = 0;
    for (uint64_t t = 0; t < s; t++) {
        for (int r = 0; r < n; r++) {
            *msgs += 3;
            *bytes += 8 * (2 * nb + ring_len(r, t));
        }
    }
}

static void print_result(int n, uint64_t mib, uint64_t s, uint64_t digest)
{
    uint64_t msgs, bytes;
    traffic(n, mib << 17, s, &msgs, &bytes);
    printf("soak: ranks=%d mib=%" PRIu64 " steps=%" PRIu64 " messages=%" PRIu64 " bytes=%" PRIu64
           " digest=%016" PRIx64 " OK\n", n, mib, s, msgs, bytes, digest);
    fflush(stdout);
}

static uint64_t parse(const char *what, const char *s, uint64_t max)
{
    char *end;
    unsigned long long v = strtoull(s, &end, 10);
    if (*s == '\0' || *end != '\0' || v == 0 || v > max) {
        fprintf(stderr, "soak: %s must be a whole number from 1 to %" PRIu64 " (got '%s')\n", what, max, s);
        exit(2);
    }
    return v;
}

int main(int argc, char **argv)
{
    if (argc == 5 && strcmp(argv[1], "--expect") == 0) {
        int n = (int)parse("N (ranks)", argv[2], 4096);
        uint64_t mib = parse("MIB", argv[3], 1 << 20), s = parse("STEPS", argv[4], UINT64_MAX >> 20);
        uint64_t d = 0;
        for (int r = 0; r < n; r++)
            d += digest_expected(r, mib << 17, s);
        print_result(n, mib, s, d);
        return 0;
    }
    if (argc < 3 || argc > 4 || argv[1][0] == '-') {
        fprintf(stderr, "usage: mpirun -np N soak MIB STEPS [PROGRESS]\n"
                        "       soak --expect N MIB STEPS\n");
        return 2;
    }
    uint64_t mib = parse("MIB", argv[1], 1 << 20), steps = parse("STEPS", argv[2], UINT64_MAX >> 20);
    uint64_t progress = argc == 4 ? parse("PROGRESS", argv[3], UINT64_MAX) : 1000;

    MPI_Init(&argc, &argv);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &nranks);
    uint64_t words = mib << 17, cw = words / NCHUNKS, nb = cw < NB_WORDS ? cw : NB_WORDS;
    uint64_t *mem = mmap(NULL, words * 8, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    uint64_t *ring_in = malloc(RING_MAX_WORDS * 8), *ring_out = malloc(RING_MAX_WORDS * 8);
    uint64_t *nb_in = malloc(2 * NB_WORDS * 8);
    if (mem == MAP_FAILED || !ring_in || !ring_out || !nb_in) {
        fprintf(stderr, "soak: rank %d: cannot allocate %" PRIu64 " MiB: give a smaller MIB or free memory\n", rank,
                mib);
        MPI_Abort(MPI_COMM_WORLD, 2);
    }
    for (uint64_t i = 0; i < words; i++)
        mem[i] = mem_word(rank, i, 0);

    int left = (rank + nranks - 1) % nranks, right = (rank + 1) % nranks;
    for (uint64_t s = 0; s < steps; s++) {
        uint64_t j = s % NCHUNKS, c = s / NCHUNKS, *chunk = mem + j * cw;
        for (uint64_t k = 0; k < cw; k++) {
            uint64_t i = j * cw + k;
            if (chunk[k] != mem_word(rank, i, c))
                fail("memory", s, i, chunk[k], mem_word(rank, i, c));
            chunk[k] = mem_word(rank, i, c + 1);
        }

        /* Neighbours: the chunk just written, both ways, nonblocking. */
        MPI_Request req[4];
        MPI_Irecv(nb_in, (int)nb, MPI_UINT64_T, left, 1, MPI_COMM_WORLD, &req[0]);
        MPI_Irecv(nb_in + NB_WORDS, (int)nb, MPI_UINT64_T, right, 2, MPI_COMM_WORLD, &req[1]);
        MPI_Isend(chunk, (int)nb, MPI_UINT64_T, right, 1, MPI_COMM_WORLD, &req[2]);
        MPI_Isend(chunk, (int)nb, MPI_UINT64_T, left, 2, MPI_COMM_WORLD, &req[3]);

        /* The ring, blocking: rank 0 sends first, every other rank passes
         * on after it has received, so it works for any number of ranks. */
        uint64_t n_out = ring_len(rank, s), n_in = ring_len(left, s);
        for (uint64_t k = 0; k < n_out; k++)
            ring_out[k] = ring_word(rank, s, k);
        MPI_Status st;
        if (rank == 0)
            MPI_Send(ring_out, (int)n_out, MPI_UINT64_T, right, 3, MPI_COMM_WORLD);
        MPI_Recv(ring_in, RING_MAX_WORDS, MPI_UINT64_T, left, 3, MPI_COMM_WORLD, &st);
        if (rank != 0)
            MPI_Send(ring_out, (int)n_out, MPI_UINT64_T, right, 3, MPI_COMM_WORLD);
        int got;
        MPI_Get_count(&st, MPI_UINT64_T, &got);
        if ((uint64_t)got != n_in)
            fail("ring message length", s, 0, (uint64_t)got, n_in);
        for (uint64_t k = 0; k < n_in; k++)
            if (ring_in[k] != ring_word(left, s, k))
                fail("ring message", s, k, ring_in[k], ring_word(left, s, k));

        MPI_Waitall(4, req, MPI_STATUSES_IGNORE);
        for (uint64_t k = 0; k < nb; k++) {
            uint64_t i = j * cw + k;
            if (nb_in[k] != mem_word(left, i, c + 1))
                fail("message from the left neighbour", s, k, nb_in[k], mem_word(left, i, c + 1));
            if (nb_in[NB_WORDS + k] != mem_word(right, i, c + 1))
                fail("message from the right neighbour", s, k, nb_in[NB_WORDS + k], mem_word(right, i, c + 1));
        }

        if (s % ALLREDUCE_EVERY == 0) {
            uint64_t mine = reduce_word(rank, s), sum = 0, want = 0;
            MPI_Allreduce(&mine, &sum, 1, MPI_UINT64_T, MPI_SUM, MPI_COMM_WORLD);
            for (int r = 0; r < nranks; r++)
                want += reduce_word(r, s);
            if (sum != want)
                fail("allreduce sum", s, 0, sum, want);
        }
        if (rank == 0 && (s + 1) % progress == 0) {
            fprintf(stderr, "step %" PRIu64 " of %" PRIu64 "\n", s + 1, steps);
            fflush(stderr);
        }
    }

    /* All the memory, against the closed forms, and its digest. */
    uint64_t d = 0;
    for (uint64_t j = 0; j < NCHUNKS; j++) {
        uint64_t c = rewrites(j, steps);
        for (uint64_t i = j * cw; i < (j + 1) * cw; i++) {
            if (mem[i] != mem_word(rank, i, c))
                fail("memory at the end", steps, i, mem[i], mem_word(rank, i, c));
            d += mem[i] * (2 * i + 1);
        }
    }
    uint64_t total = 0;
    MPI_Reduce(&d, &total, 1, MPI_UINT64_T, MPI_SUM, 0, MPI_COMM_WORLD);
    if (rank == 0)
        print_result(nranks, mib, steps, total);
    MPI_Finalize();
    return 0;
}

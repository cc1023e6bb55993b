/* mana-restart: restart one rank of a checkpointed job, as
 *   mpirun.mpich -np N mana-restart CKPT_DIR
 * Picks the newest complete generation, this rank's image in it, checks
 * it against the generation's manifest, starts a coordinator for the
 * restarted job (rank 0), and execs the lower half in restore mode. */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ckpt_launch.h"
#include "manifest.h"
#include "mpi_flavour.h"
#include "mpi_rank_env.h"
#include "trust.h"

#define PROG "mana-restart"
#ifndef MANA_VERSION
#define MANA_VERSION "0.1.0"
#endif

enum restart_exit {
    EXIT_RUNTIME = 1,
    EXIT_USAGE = 2,
    EXIT_MISMATCH = 3,
    EXIT_NO_CHECKPOINT = 4,
    EXIT_NO_FLAVOUR = 5,
};

static void usage(FILE *out)
{
    fprintf(out,
            "Usage: " PROG " [OPTIONS] CKPT_DIR\n"
            "Restart one rank of a job checkpointed under MANA, usually as\n"
            "  mpirun.mpich -np N " PROG " CKPT_DIR\n"
            "with N the job's rank count. Each rank takes its image from the newest\n"
            "complete generation in CKPT_DIR (the one CKPT_DIR/latest names) and goes on\n"
            "where it stopped. Later checkpoints go to CKPT_DIR too.\n"
            "\n"
            "Options:\n"
            "  --generation N    restart from generation N instead of the latest\n"
            "  --interval SECS   checkpoint every SECS seconds (default: only on request)\n"
            "  --keep K          keep the K newest checkpoints (default: all)\n"
            "  --signal SIG      the checkpoint-and-exit signal (default USR1)\n"
            "  --coord HOST:PORT a running mana-coordinator (default: rank 0 starts one)\n"
            "  --mpi FLAVOUR     MPI implementation of the new lower half: mpich, openmpi or\n"
            "                    auto (default: the launcher's); any flavour restarts an image\n"
            "                    saved under any other\n"
            "  -v, --verbose     say what is restored, on stderr\n"
            "  -h, --help        this text\n"
            "  --version         print the version\n"
            "\n"
            "Exit status: the program's own, or 1 (the restart failed: damaged image,\n"
            "an image or directory not yours alone, no MPI), 2 (bad usage), 3 (the rank count differs from the checkpoint's),\n"
            "4 (no complete checkpoint in CKPT_DIR), 5 (MPI flavour not available, or not the\n"
            "launcher's).\n"
            "See mana-restart(1).\n");
}

static int rank_zero_says(int rank, int status, const char *fmt, const char *a, const char *b)
{
    if (rank == 0) {
        fprintf(stderr, PROG ": ");
        fprintf(stderr, fmt, a, b);
        fputc('\n', stderr);
    }
    return status;
}

/* A checkpoint the trust check refused (trust.h): the restart failed. */
static int untrusted(int rank, const char *err)
{
    return rank_zero_says(rank, EXIT_RUNTIME, "refusing to restart: %s%s", err, "");
}

/* What manifest_latest_dir or manifest_read returned: -2 untrusted, else
 * no complete checkpoint there. */
static int no_manifest(int rank, int rc, const char *err)
{
    return rc == -2 ? untrusted(rank, err) : rank_zero_says(rank, EXIT_NO_CHECKPOINT, "%s%s", err, "");
}

int main(int argc, char **argv)
{
    enum { OPT_GEN = 256, OPT_INTERVAL, OPT_KEEP, OPT_SIGNAL, OPT_COORD, OPT_VERSION, OPT_MPI };
    static const struct option options[] = {
        {"generation", required_argument, NULL, OPT_GEN}, {"interval", required_argument, NULL, OPT_INTERVAL},
        {"keep", required_argument, NULL, OPT_KEEP},      {"signal", required_argument, NULL, OPT_SIGNAL},
        {"coord", required_argument, NULL, OPT_COORD},    {"verbose", no_argument, NULL, 'v'},
        {"help", no_argument, NULL, 'h'},                 {"version", no_argument, NULL, OPT_VERSION},
        {"mpi", required_argument, NULL, OPT_MPI},        {NULL, 0, NULL, 0},
    };
    struct ckpt_launch_opts ckpt = {0};
    const char *generation = NULL, *mpi = NULL, *flavour = NULL;
    int verbose = 0, opt, rc;
    while ((opt = getopt_long(argc, argv, "vh", options, NULL)) != -1) {
        switch (opt) {
        case OPT_GEN: generation = optarg; break;
        case OPT_INTERVAL: ckpt.interval = optarg; break;
        case OPT_KEEP: ckpt.keep = optarg; break;
        case OPT_SIGNAL: ckpt.signal = optarg; break;
        case OPT_COORD: ckpt.coord = optarg; break;
        case OPT_MPI: mpi = optarg; break;
        case 'v': verbose = 1; break;
        case 'h': usage(stdout); return 0;
        case OPT_VERSION: printf(PROG " (MANA-C) %s\n", MANA_VERSION); return 0;
        default: usage(stderr); return EXIT_USAGE;
        }
    }
    if (optind != argc - 1) {
        fprintf(stderr, PROG ": %s\n", optind >= argc ? "no checkpoint directory given" : "more than one directory given");
        usage(stderr);
        return EXIT_USAGE;
    }
    enum mpi_flavour_status fs = mpi_flavour_choose(PROG, mpi, &flavour);
    if (fs != FLAVOUR_OK)
        return fs == FLAVOUR_BAD_NAME ? EXIT_USAGE : EXIT_NO_FLAVOUR;
    char dir[PATH_MAX];
    if (realpath(argv[optind], dir) == NULL) {
        fprintf(stderr, PROG ": checkpoint directory %s: %s\n", argv[optind], strerror(errno));
        return EXIT_NO_CHECKPOINT;
    }
    int rank, nranks;
    mpi_rank_from_env(&rank, &nranks);

    /* What the restart reads must be the user's own and writable by no
     * one else (trust.h); a refusal is "the restart failed" (status 1). */
    char gen_dir[PATH_MAX + 64], err[8192];
    if (trust_check_path(dir, err, sizeof err) != 0)
        return untrusted(rank, err);
    if (generation != NULL) {
        char *end;
        unsigned long long g = strtoull(generation, &end, 10);
        if (*end != '\0' || g == 0) {
            fprintf(stderr, PROG ": --generation %s: give a generation number (1, 2, ...)\n", generation);
            return EXIT_USAGE;
        }
        snprintf(gen_dir, sizeof gen_dir, "%s/gen-%06llu", dir, g);
    } else if ((rc = manifest_latest_dir(dir, gen_dir, sizeof gen_dir, err, sizeof err)) != 0) {
        return no_manifest(rank, rc, err);
    }
    struct manifest m;
    if ((rc = manifest_read(gen_dir, &m, err, sizeof err)) != 0)
        return no_manifest(rank, rc, err);
    if (trust_check_path(gen_dir, err, sizeof err) != 0) {
        manifest_free(&m);
        return untrusted(rank, err);
    }
    if (m.nranks != nranks) {
        char want[32], got[32];
        snprintf(want, sizeof want, "%d", m.nranks);
        snprintf(got, sizeof got, "%d", nranks);
        fprintf(stderr, PROG ": rank %d: %s was checkpointed with %s ranks but this job has %s: restart with "
                "'mpirun -np %s " PROG " %s'\n", rank, gen_dir, want, got, want, argv[optind]);
        return EXIT_MISMATCH;
    }
    /* Every rank checks every image, so that all fail together: a rank
     * that alone gave up here would leave the others waiting in MPI_Init. */
    char image[PATH_MAX + 160], digest[32];
    for (int r = 0; r < m.nranks; r++) {
        snprintf(image, sizeof image, "%s/%s", gen_dir, m.ranks[r].file);
        struct stat st;
        int fd = open(image, O_RDONLY | O_CLOEXEC);
        int missing = fd < 0 || fstat(fd, &st) != 0;
        if (missing || (uint64_t)st.st_size != m.ranks[r].bytes) {
            if (rank == 0)
                fprintf(stderr, PROG ": rank %d: image %s is %s (the manifest says %" PRIu64 " bytes): the "
                        "checkpoint is damaged; restart from an older generation with --generation\n", r, image,
                        missing ? strerror(errno) : "of another size", m.ranks[r].bytes);
            if (fd >= 0)
                close(fd);
            manifest_free(&m);
            return EXIT_RUNTIME;
        }
        int refused = trust_check_fd(fd, image, err, sizeof err) != 0;
        close(fd);
        if (refused) {
            manifest_free(&m);
            return untrusted(rank, err);
        }
    }
    snprintf(image, sizeof image, "%s/%s", gen_dir, m.ranks[rank].file);
    snprintf(digest, sizeof digest, "%016" PRIx64, m.ranks[rank].checksum);
    manifest_free(&m);

    ckpt.ckpt_dir = dir;
    char bindir[PATH_MAX], lower[PATH_MAX + 64];
    ckpt_launch_self_dir(bindir, sizeof bindir);
    rc = ckpt_launch_setup(PROG, &ckpt, bindir);
    if (rc != 0)
        return rc;
    if (mpi_flavour_lower_half(PROG, flavour, lower, sizeof lower) != FLAVOUR_OK)
        return EXIT_NO_FLAVOUR;
    if (verbose && rank == 0)
        fprintf(stderr, PROG ": MPI flavour %s (%s), lower half %s\n", flavour,
                mpi_flavour_of_launcher() ? "from the launcher" : "singleton", lower);
    char *lower_argv[] = {lower, "--restore", image, "--expect-digest", digest, verbose ? "--verbose" : NULL, NULL};
    execv(lower, lower_argv);
    fprintf(stderr, PROG ": cannot start %s: %s; reinstall MANA\n", lower, strerror(errno));
    return EXIT_RUNTIME;
}

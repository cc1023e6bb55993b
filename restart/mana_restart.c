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
#include "generation_pick.h"
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
            "  --newest-good     restart from the newest generation that checks, passing\n"
            "                    over (and naming) newer ones that do not\n"
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

static void say_skipped(const char *line)
{
    fprintf(stderr, PROG ": %s\n", line);
}

/* A checkpoint the trust check refused (trust.h): the restart failed. */
static int untrusted(int rank, const char *err)
{
    return rank_zero_says(rank, EXIT_RUNTIME, "refusing to restart: %s%s", err, "");
}

int main(int argc, char **argv)
{
    enum { OPT_GEN = 256, OPT_INTERVAL, OPT_KEEP, OPT_SIGNAL, OPT_COORD, OPT_VERSION, OPT_MPI, OPT_NEWEST_GOOD };
    static const struct option options[] = {
        {"generation", required_argument, NULL, OPT_GEN}, {"interval", required_argument, NULL, OPT_INTERVAL},
        {"keep", required_argument, NULL, OPT_KEEP},      {"signal", required_argument, NULL, OPT_SIGNAL},
        {"coord", required_argument, NULL, OPT_COORD},    {"verbose", no_argument, NULL, 'v'},
        {"help", no_argument, NULL, 'h'},                 {"version", no_argument, NULL, OPT_VERSION},
        {"mpi", required_argument, NULL, OPT_MPI},        {"newest-good", no_argument, NULL, OPT_NEWEST_GOOD},
        {NULL, 0, NULL, 0},
    };
    struct ckpt_launch_opts ckpt = {0};
    const char *generation = NULL, *mpi = NULL, *flavour = NULL;
    int verbose = 0, newest_good = 0, opt, rc;
    while ((opt = getopt_long(argc, argv, "vh", options, NULL)) != -1) {
        switch (opt) {
        case OPT_GEN: generation = optarg; break;
        case OPT_INTERVAL: ckpt.interval = optarg; break;
        case OPT_KEEP: ckpt.keep = optarg; break;
        case OPT_SIGNAL: ckpt.signal = optarg; break;
        case OPT_COORD: ckpt.coord = optarg; break;
        case OPT_MPI: mpi = optarg; break;
        case OPT_NEWEST_GOOD: newest_good = 1; break;
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
    uint64_t gen_number = 0;
    if (generation != NULL) {
        char *end;
        errno = 0;
        unsigned long long g = strtoull(generation, &end, 10);
        if (*end != '\0' || g == 0 || errno != 0 || newest_good) {
            fprintf(stderr, PROG ": --generation %s: %s\n", generation,
                    newest_good ? "goes without --newest-good (which picks the generation itself)"
                                : "give a generation number (1, 2, ...)");
            return EXIT_USAGE;
        }
        gen_number = g;
    }
    int rank, nranks;
    mpi_rank_from_env(&rank, &nranks);

    /* What the restart reads must be the user's own and writable by no
     * one else (trust.h); a refusal is "the restart failed" (status 1). */
    char err[8192];
    struct generation_choice pick;
    enum pick_status ps;
    if (newest_good)
        ps = generation_pick_newest(dir, rank, nranks, &pick, rank == 0 ? say_skipped : NULL, err, sizeof err);
    else
        ps = generation_pick_named(dir, gen_number, rank, nranks, &pick, err, sizeof err);
    switch (ps) {
    case PICK_OK:
        break;
    case PICK_UNTRUSTED:
        return untrusted(rank, err);
    case PICK_RANKS:
        /* Every rank says it: the rank count is the one thing a user
         * must change, and each rank's line shows the -np it ran with. */
        if (newest_good)
            fprintf(stderr, PROG ": rank %d: %s: run the job with %d ranks ('mpirun -np %d' or 'srun -n %d'); to "
                    "start it afresh with %d, give another --ckpt-dir\n",
                    rank, err, pick.nranks, pick.nranks, pick.nranks, nranks);
        else
            fprintf(stderr, PROG ": rank %d: %s: restart with 'mpirun -np %d " PROG " %s' (under Slurm 'srun -n %d')\n",
                    rank, err, pick.nranks, argv[optind], pick.nranks);
        return EXIT_MISMATCH;
    case PICK_DAMAGED:
        return rank_zero_says(rank, EXIT_RUNTIME, "%s%s", err, "");
    case PICK_NONE:
        return rank_zero_says(rank, EXIT_NO_CHECKPOINT, "%s%s", err, "");
    }
    if (newest_good && rank == 0)
        fprintf(stderr, PROG ": restarting from generation %" PRIu64 " (%s)\n", pick.generation, pick.gen_dir);
    char digest[32];
    snprintf(digest, sizeof digest, "%016" PRIx64, pick.digest);

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
    char *lower_argv[9] = {lower, "--restore", pick.image, "--expect-digest", digest};
    int k = 5;
    if (verbose)
        lower_argv[k++] = "--verbose";
    /* Under --newest-good a restore that finds the image damaged marks
     * the generation, so that the next try passes it over. */
    if (newest_good) {
        lower_argv[k++] = "--mark-damaged";
        lower_argv[k++] = pick.gen_dir;
    }
    lower_argv[k] = NULL;
    execv(lower, lower_argv);
    fprintf(stderr, PROG ": cannot start %s: %s; reinstall MANA\n", lower, strerror(errno));
    return EXIT_RUNTIME;
}

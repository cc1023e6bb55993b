/* mana-launch: run one MPI rank under MANA. Checks the application,
 * picks the MPI flavour of the launcher that started us, and execs that
 * flavour's lower half, which loads the application beside MPI. */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "app_check.h"
#include "ckpt_launch.h"
#include "mpi_api_list.h"
#include "generation_pick.h"
#include "mpi_flavour.h"
#include "mpi_rank_env.h"

#define PROG "mana-launch"
#ifndef MANA_VERSION
#define MANA_VERSION "0.1.0"
#endif

enum launch_exit {
    EXIT_RUNTIME = 1,
    EXIT_USAGE = 2,
    EXIT_NO_FLAVOUR = 3,
};

static void usage(FILE *out)
{
    fprintf(out,
            "Usage: " PROG " [OPTIONS] [--] PROGRAM [ARGS...]\n"
            "Run one rank of an MPI program under MANA, usually as\n"
            "  mpirun.mpich -np N " PROG " ./program args\n"
            "Without mpirun the program runs as a one-rank (singleton) MPI job.\n"
            "The first argument that is not an option is the program; everything\n"
            "after it is the program's.\n"
            "\n"
            "Options:\n"
            "  --mpi FLAVOUR     MPI implementation of the lower half: mpich, openmpi or\n"
            "                    auto (default: told by the launcher's environment)\n"
            "  -v, --verbose     say what is loaded where, on stderr\n"
            "  --list-mpi        list the MPI functions MANA supports and those it does not\n"
            "  -h, --help        this text\n"
            "  --version         print the version\n"
            "\n"
            "Checkpoint options:\n"
            "  --ckpt-dir DIR    where checkpoints go (default $MANA_CKPT_DIR, else\n"
            "                    ./mana-checkpoints)\n"
            "  --interval SECS   checkpoint every SECS seconds (default: only on request)\n"
            "  --keep K          keep the K newest checkpoints (default: all)\n"
            "  --signal SIG      the signal that means checkpoint-and-exit when sent to\n"
            "                    mpirun or any rank (default USR1)\n"
            "  --coord HOST:PORT a running mana-coordinator (default: rank 0 starts one;\n"
            "                    its token comes from MANA_COORD_TOKEN or DIR/.coordinator)\n"
            "  --resume          restart from the newest checkpoint in DIR that checks when\n"
            "                    there is one (as mana-restart), else start PROGRAM: the same\n"
            "                    line serves the first run and every requeue\n"
            "Checkpoint with 'mana-ckpt --ckpt-dir DIR --checkpoint' or 'kill -USR1' on\n"
            "mpirun; restart with 'mpirun.mpich -np N mana-restart DIR'.\n"
            "\n"
            "Environment: MANA_DEBUG=regions prints every memory mapping with the half\n"
            "that owns it when the rank exits.\n"
            "\n"
            "Exit status: the program's own, or 85 (checkpointed and stopped: run the same\n"
            "line with --resume to go on), 1 (MANA failed at run time), 2 (bad usage), 3\n"
            "(MPI flavour not available, or srun gave no PMI), 126 (the program cannot be\n"
            "run by MANA: not ELF, static, an MPI ABI MANA has no face for), 127 (program\n"
            "not found). With --resume and a checkpoint present, mana-restart's.\n"
            "See mana-launch(1).\n");
}

/* --list-mpi: what an application can call, and what stops it. */
static void list_mpi(void)
{
    unsigned supported = 0;
    for (int want = 1; want >= 0; want--) {
        printf("%s:\n", want ? "Supported" : "Not supported (a call prints its name and aborts the job)");
        for (unsigned i = 0; i < mpi_api_count; i++) {
            if (mpi_api_list[i].supported == want)
                printf("  %s\n", mpi_api_list[i].name);
            supported += want && mpi_api_list[i].supported;
        }
    }
    printf("%u functions: %u supported, %u not supported\n", mpi_api_count, supported, mpi_api_count - supported);
}

/* --resume: when CKPT_DIR holds checkpoint generations, this rank
 * becomes mana-restart, which takes the newest one that checks and says
 * which it passed over (and fails, never starting afresh, when none
 * does). Returns 0 to start PROGRAM afresh, or an exit status. */
static int resume_if_checkpointed(const struct ckpt_launch_opts *ckpt, const char *mpi, int verbose,
                                  const char *bindir, const char *program)
{
    char dir[PATH_MAX * 2], err[PATH_MAX * 2 + 200];
    if (ckpt_launch_dir(PROG, ckpt, dir, sizeof dir) != 0)
        return EXIT_RUNTIME;
    int any = generation_any(dir, err, sizeof err);
    if (any < 0) {
        fprintf(stderr, PROG ": --resume: %s; fix its permissions or give another --ckpt-dir\n", err);
        return EXIT_RUNTIME;
    }
    int rank, nranks;
    mpi_rank_from_env(&rank, &nranks);
    if (any == 0) {
        if (rank == 0)
            fprintf(stderr, PROG ": --resume: no checkpoint in %s yet: starting %s from the beginning\n", dir,
                    program);
        return 0;
    }
    char restart[PATH_MAX + 32];
    snprintf(restart, sizeof restart, "%s/mana-restart", bindir);
    const char *argv[20];
    int k = 0;
    argv[k++] = restart;
    argv[k++] = "--newest-good";
    const char *pairs[][2] = {{"--interval", ckpt->interval}, {"--keep", ckpt->keep}, {"--signal", ckpt->signal},
                              {"--coord", ckpt->coord},       {"--mpi", mpi}};
    for (size_t i = 0; i < sizeof pairs / sizeof pairs[0]; i++)
        if (pairs[i][1] != NULL) {
            argv[k++] = pairs[i][0];
            argv[k++] = pairs[i][1];
        }
    if (verbose)
        argv[k++] = "--verbose";
    argv[k++] = "--";
    argv[k++] = dir;
    argv[k] = NULL;
    execv(restart, (char *const *)argv);
    fprintf(stderr, PROG ": --resume: cannot start %s: %s; reinstall MANA\n", restart, strerror(errno));
    return EXIT_RUNTIME;
}

int main(int argc, char **argv)
{
    enum {
        OPT_MPI = 256, OPT_VERSION, OPT_CKPT_DIR, OPT_INTERVAL, OPT_COORD, OPT_KEEP, OPT_SIGNAL, OPT_LIST_MPI,
        OPT_RESUME
    };
    static const struct option options[] = {
        {"mpi", required_argument, NULL, OPT_MPI},           {"verbose", no_argument, NULL, 'v'},
        {"help", no_argument, NULL, 'h'},                    {"version", no_argument, NULL, OPT_VERSION},
        {"ckpt-dir", required_argument, NULL, OPT_CKPT_DIR}, {"interval", required_argument, NULL, OPT_INTERVAL},
        {"coord", required_argument, NULL, OPT_COORD},       {"keep", required_argument, NULL, OPT_KEEP},
        {"signal", required_argument, NULL, OPT_SIGNAL},     {"list-mpi", no_argument, NULL, OPT_LIST_MPI},
        {"resume", no_argument, NULL, OPT_RESUME},           {NULL, 0, NULL, 0},
    };
    struct ckpt_launch_opts ckpt = {0};
    const char *mpi = NULL;
    int verbose = 0, resume = 0, opt, index;
    /* '+': stop at the first non-option, which is the program. */
    while ((opt = getopt_long(argc, argv, "+vh", options, &index)) != -1) {
        switch (opt) {
        case OPT_MPI:
            mpi = optarg;
            break;
        case 'v':
            verbose = 1;
            break;
        case 'h':
            usage(stdout);
            return 0;
        case OPT_VERSION:
            printf(PROG " (MANA-C) %s\n", MANA_VERSION);
            return 0;
        case OPT_LIST_MPI:
            list_mpi();
            return 0;
        case OPT_CKPT_DIR:
            ckpt.ckpt_dir = optarg;
            break;
        case OPT_INTERVAL:
            ckpt.interval = optarg;
            break;
        case OPT_COORD:
            ckpt.coord = optarg;
            break;
        case OPT_KEEP:
            ckpt.keep = optarg;
            break;
        case OPT_SIGNAL:
            ckpt.signal = optarg;
            break;
        case OPT_RESUME:
            resume = 1;
            break;
        default:
            usage(stderr);
            return EXIT_USAGE;
        }
    }
    if (optind >= argc) {
        fprintf(stderr, PROG ": no program given\n");
        usage(stderr);
        return EXIT_USAGE;
    }

    char resolved[PATH_MAX], err[8192];
    static struct elf_image img;
    enum app_check_status st = app_check(argv[optind], resolved, sizeof resolved, &img, err, sizeof err);
    if (st != APP_CHECK_OK) {
        fprintf(stderr, PROG ": %s\n", err);
        return st;
    }
    const char *flavour = NULL;
    char lower[PATH_MAX + 64];
    enum mpi_flavour_status fs = mpi_flavour_choose(PROG, mpi, &flavour);
    if (fs == FLAVOUR_OK)
        fs = mpi_flavour_lower_half(PROG, flavour, lower, sizeof lower);
    if (fs != FLAVOUR_OK)
        return fs == FLAVOUR_BAD_NAME ? EXIT_USAGE : EXIT_NO_FLAVOUR;
    if (verbose)
        fprintf(stderr, PROG ": MPI flavour %s (%s), lower half %s, program %s, built for the %s ABI\n", flavour,
                mpi_flavour_of_launcher() ? "from the launcher" : "singleton", lower, resolved,
                app_face_name(app_face_of(&img)));

    char bindir[PATH_MAX];
    ckpt_launch_self_dir(bindir, sizeof bindir);
    if (resume) {
        int rc = resume_if_checkpointed(&ckpt, mpi, verbose, bindir, resolved);
        if (rc != 0)
            return rc;
    }
    int rc = ckpt_launch_setup(PROG, &ckpt, bindir);
    if (rc != 0)
        return rc;

    /* The user's preload is for the application, not for MPI's half. */
    const char *preload = getenv("LD_PRELOAD");
    if (preload != NULL) {
        setenv("MANA_USER_LD_PRELOAD", preload, 1);
        unsetenv("LD_PRELOAD");
    }

    int nargs = argc - optind;
    char **lower_argv = calloc((size_t)nargs + 5, sizeof *lower_argv);
    if (lower_argv == NULL) {
        fprintf(stderr, PROG ": out of memory\n");
        return EXIT_RUNTIME;
    }
    int k = 0;
    lower_argv[k++] = lower;
    if (verbose)
        lower_argv[k++] = "--verbose";
    lower_argv[k++] = "--";
    lower_argv[k++] = resolved;
    for (int i = optind; i < argc; i++)
        lower_argv[k++] = argv[i];
    lower_argv[k] = NULL;
    execv(lower, lower_argv);
    fprintf(stderr, PROG ": cannot start %s: %s\n", lower, strerror(errno));
    return EXIT_RUNTIME;
}

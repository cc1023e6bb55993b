#define _GNU_SOURCE
#include "ckpt_launch.h"

#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ckpt_thread.h"
#include "mpi_rank_env.h"
#include "trust.h"

extern char **environ;

void ckpt_launch_self_dir(char *out, size_t len)
{
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    self[n < 0 ? 0 : n] = '\0';
    snprintf(out, len, "%s", dirname(self));
}

static int parse_signal(const char *s)
{
    char *end;
    long v = strtol(s, &end, 10);
    if (*end == '\0')
        return v > 0 && v < SIGRTMIN ? (int)v : -1;
    if (strncmp(s, "SIG", 3) == 0)
        s += 3;
    for (int sig = 1; sig < SIGRTMIN; sig++) {
        const char *name = sigabbrev_np(sig);
        if (name != NULL && strcmp(name, s) == 0)
            return sig;
    }
    return -1;
}

static int positive(const char *s, int allow_zero)
{
    char *end;
    long v = strtol(s, &end, 10);
    return *s != '\0' && *end == '\0' && (v > 0 || (allow_zero && v == 0));
}

/* Runs mana-coordinator --daemon and reads "HOST:PORT TOKEN" from it. */
static int start_coordinator(const char *prog, const char *bindir, const char *dir, int nranks,
                             const struct ckpt_launch_opts *o)
{
    char path[PATH_MAX + 32], nr[16], me[16];
    snprintf(path, sizeof path, "%s/mana-coordinator", bindir);
    snprintf(nr, sizeof nr, "%d", nranks);
    /* This process becomes rank 0 (exec keeps the pid). */
    snprintf(me, sizeof me, "%d", (int)getpid());
    const char *argv[16];
    int k = 0;
    argv[k++] = path;
    argv[k++] = "--daemon";
    argv[k++] = "--exit-when-idle";
    argv[k++] = "--watch-pid";
    argv[k++] = me;
    argv[k++] = "--ckpt-dir";
    argv[k++] = dir;
    argv[k++] = "--nranks";
    argv[k++] = nr;
    if (o->interval) {
        argv[k++] = "--interval";
        argv[k++] = o->interval;
    }
    if (o->keep) {
        argv[k++] = "--keep";
        argv[k++] = o->keep;
    }
    argv[k] = NULL;
    int fds[2];
    if (pipe(fds) != 0) {
        fprintf(stderr, "%s: cannot start the coordinator: pipe: %s\n", prog, strerror(errno));
        return 1;
    }
    /* fork, not posix_spawn: the coordinator must not keep the launcher's
     * descriptors (mpirun's pipes and PMI socket, which would keep mpirun
     * waiting), so the child closes all but stdout and stderr. */
    pid_t pid = fork();
    if (pid == 0) {
        dup2(fds[1], STDOUT_FILENO);
        closefrom(3);
        execv(path, (char *const *)argv);
        fprintf(stderr, "%s: cannot start %s: %s; reinstall MANA, or give --coord HOST:PORT\n", prog, path,
                strerror(errno));
        _exit(127);
    }
    close(fds[1]);
    if (pid < 0) {
        close(fds[0]);
        fprintf(stderr, "%s: cannot start the coordinator: fork: %s\n", prog, strerror(errno));
        return 1;
    }
    char line[512];
    size_t got = 0;
    ssize_t n;
    while (got < sizeof line - 1 && (n = read(fds[0], line + got, sizeof line - 1 - got)) > 0)
        got += (size_t)n;
    close(fds[0]);
    line[got] = '\0';
    int status;
    waitpid(pid, &status, 0);
    char hostport[256], token[128];
    if (sscanf(line, "%255s %127s", hostport, token) != 2) {
        fprintf(stderr, "%s: the coordinator did not start (exit status %d); its reason is above, or in %s/coordinator.log\n",
                prog, WIFEXITED(status) ? WEXITSTATUS(status) : -1, dir);
        return 1;
    }
    setenv(MANA_ENV_COORD, hostport, 1);
    setenv(MANA_ENV_COORD_TOKEN, token, 1);
    return 0;
}

int ckpt_launch_dir(const char *prog, const struct ckpt_launch_opts *o, char *out, size_t len)
{
    const char *dir = o->ckpt_dir ? o->ckpt_dir : getenv(MANA_ENV_CKPT_DIR);
    if (dir == NULL || *dir == '\0')
        dir = "mana-checkpoints";
    /* Absolute, so the application's chdir never moves it, and the
     * coordinator and every rank agree. */
    if (dir[0] == '/') {
        snprintf(out, len, "%s", dir);
        return 0;
    }
    char cwd[PATH_MAX];
    if (getcwd(cwd, sizeof cwd) == NULL) {
        fprintf(stderr, "%s: cannot read the current directory: %s\n", prog, strerror(errno));
        return -1;
    }
    snprintf(out, len, "%s/%s", cwd, dir);
    return 0;
}

int ckpt_launch_setup(const char *prog, const struct ckpt_launch_opts *o, const char *bindir)
{
    if (o->interval && !positive(o->interval, 1)) {
        fprintf(stderr, "%s: --interval %s: give a whole number of seconds (0: off)\n", prog, o->interval);
        return 2;
    }
    if (o->keep && !positive(o->keep, 1)) {
        fprintf(stderr, "%s: --keep %s: give how many generations to keep (0: all)\n", prog, o->keep);
        return 2;
    }
    if (o->signal) {
        int sig = parse_signal(o->signal);
        if (sig <= 0 || sig == SIGKILL || sig == SIGSTOP || sig == SIGSYS || sig == SIGSEGV) {
            fprintf(stderr, "%s: --signal %s: not a signal MANA can take for checkpoints (use e.g. USR1, USR2, "
                    "TERM or a number)\n", prog, o->signal);
            return 2;
        }
        char buf[16];
        snprintf(buf, sizeof buf, "%d", sig);
        setenv(MANA_ENV_CKPT_SIGNAL, buf, 1);
    }
    char abs[PATH_MAX * 2];
    if (ckpt_launch_dir(prog, o, abs, sizeof abs) != 0)
        return 1;
    /* Images, manifests and the coordinator's token go there: a directory
     * someone else may write is refused, never quietly chmod-ed (it is the
     * user's). One that does not exist yet, the coordinator makes 0700. */
    struct stat st;
    char err[PATH_MAX * 2 + 400];
    if (stat(abs, &st) == 0 && trust_check_path(abs, err, sizeof err) != 0) {
        fprintf(stderr, "%s: checkpoint directory: %s, or use another --ckpt-dir\n", prog, err);
        return 1;
    }
    setenv(MANA_ENV_CKPT_DIR, abs, 1);
    if (o->coord)
        setenv(MANA_ENV_COORD, o->coord, 1);
    if (getenv(MANA_ENV_COORD) != NULL)
        return 0; /* a coordinator is running already */
    int rank, nranks;
    mpi_rank_from_env(&rank, &nranks);
    if (rank != 0)
        return 0; /* rank 0 passes the address on, over MPI */
    if (start_coordinator(prog, bindir, abs, nranks, o) != 0) {
        /* The job still runs; it only cannot be checkpointed. */
        fprintf(stderr, "%s: the job runs without checkpoints\n", prog);
        setenv(MANA_ENV_COORD, MANA_COORD_NONE, 1);
    }
    return 0;
}

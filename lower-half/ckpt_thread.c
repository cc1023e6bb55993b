#define _GNU_SOURCE
#include "ckpt_thread.h"
#include "mpi_adapters.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <mpi.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "../coordinator/coord_client.h"
#include "../coordinator/coord_proto.h"
#include "ckpt_agree.h"
#include "ckpt_stop.h"
#include "ckpt_write.h"
#include "mana/exit_status.h"
#include "mana/lock_word.h"
#include "mana/raw_syscall.h"
#include "mana/test_faults.h"

#define STOP_TIMEOUT_MS 60000

static struct mana_call_table *table;
static int trigger_pipe[2] = {-1, -1};
static int trigger_sig = SIGUSR1;
static MPI_Comm ckpt_comm = MPI_COMM_NULL;
/* A testing aid (MANA_TEST_CKPT_EXIT=hold, docs/user-guide.md): after a
 * checkpoint the application stays stopped until the test kills its
 * ranks with kill -9, so a restart must bring back exactly what the
 * killed processes held at the checkpoint. */
static int hold_after_checkpoint;
static int my_rank, world_size;
/* The generation a lost coordinator was writing (0: none), for the one
 * warning the main loop prints. */
static uint64_t lost_during;

/* Rank 0 knows where the coordinator is; the others learn it over MPI. */
struct coord_address {
    int32_t usable;
    char hostport[256];
    char token[128];
    char why[512]; /* when not usable */
};

int ckpt_trigger_signal(void)
{
    return trigger_sig;
}

/* Any thread, either %fs: a raw write and nothing else. */
static void trigger_handler(int sig)
{
    (void)sig;
    char byte = 1;
    mana_raw_syscall6(SYS_write, trigger_pipe[1], (long)&byte, 1, 0, 0, 0);
}

static void request_checkpoint(int exit_after)
{
    char byte = exit_after ? 1 : 2;
    mana_raw_syscall6(SYS_write, trigger_pipe[1], (long)&byte, 1, 0, 0, 0);
}

int ckpt_prepare(struct mana_call_table *t, char *err, size_t errlen)
{
    t->request_checkpoint = request_checkpoint;
    table = t;
    const char *test_exit = getenv("MANA_TEST_CKPT_EXIT");
    hold_after_checkpoint = test_exit != NULL && strcmp(test_exit, "hold") == 0;
    const char *s = getenv(MANA_ENV_CKPT_SIGNAL);
    if (s != NULL && *s != '\0') {
        char *end;
        long v = strtol(s, &end, 10);
        if (*end != '\0' || v <= 0 || v >= SIGRTMIN || v == SIGKILL || v == SIGSTOP || v == SIGSYS) {
            snprintf(err, errlen, "%s=%s is not a signal MANA can use to checkpoint (give a number such as %d)",
                     MANA_ENV_CKPT_SIGNAL, s, SIGUSR1);
            return -1;
        }
        trigger_sig = (int)v;
    }
    if (pipe2(trigger_pipe, O_CLOEXEC | O_NONBLOCK) != 0) {
        snprintf(err, errlen, "cannot create the checkpoint signal's pipe: %s", strerror(errno));
        return -1;
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = trigger_handler;
    sa.sa_flags = SA_RESTART;
    sigfillset(&sa.sa_mask);
    sigdelset(&sa.sa_mask, SIGSYS);
    if (sigaction(trigger_sig, &sa, NULL) != 0) {
        snprintf(err, errlen, "cannot install the handler of the checkpoint signal %d: %s", trigger_sig,
                 strerror(errno));
        return -1;
    }
    t->ckpt_signals[0] = trigger_sig;
    t->ckpt_signals[1] = MANA_STOP_SIGNAL;
    return ckpt_stop_install(&t->fs_method, err, errlen);
}

static void find_coordinator(struct coord_address *a)
{
    memset(a, 0, sizeof *a);
    const char *dir = getenv(MANA_ENV_CKPT_DIR);
    const char *coord = getenv(MANA_ENV_COORD);
    char err[512];
    if (coord != NULL && strcmp(coord, MANA_COORD_NONE) == 0) {
        a->why[0] = '\0';
        return;
    }
    if (coord_client_find(dir, a->hostport, sizeof a->hostport, a->token, sizeof a->token, err, sizeof err) != 0)
        snprintf(a->why, sizeof a->why, "%s", err);
    else
        a->usable = 1;
}

static void report_failure(struct coord_client *c, uint64_t gen, const char *why)
{
    fprintf(stderr, "MANA: rank %d: checkpoint generation %llu failed: %s\n", my_rank, (unsigned long long)gen,
            why);
    coord_client_report(c, gen, 0, 0, 0, why);
}

/* For mana-ckpt --kill: the application's test loops keep the lock while
 * no checkpoint is pending, so a rank waiting for a busy peer would hold
 * it until that peer sends; marked pending, they let it go at once. */
static void take_lock_to_exit(void)
{
    atomic_store(&table->sync.pending, 1);
    mana_lock_word_acquire(table->upper_lock_word);
}

static void __attribute__((noreturn)) exit_job(struct coord_client *c, int status)
{
    /* Every rank leaves together, so MPI may finish cleanly; the
     * application's thread stays stopped and its unflushed output stays in
     * the image, where a restart will write it once. */
    coord_client_close(c, status == MANA_EXIT_CHECKPOINTED);
    /* MPI_Finalize may meet messages of a collective the checkpoint took
     * this rank inside of, and UCX warns about them on stdout, which is
     * the application's: everything MPI says from here goes to stderr. */
    fflush(stdout);
    dup2(STDERR_FILENO, STDOUT_FILENO);
    MPI_Finalize();
    fflush(stderr);
    exit(status);
}

/* After DONE: the coordinator says whether the generation is durable and
 * whether to go on or to exit. */
static void await_verdict(struct coord_client *c, uint64_t gen)
{
    for (;;) {
        struct coord_cmd cmd;
        char err[1024];
        int rc = coord_client_poll(c, &cmd, -1, err, sizeof err);
        if (rc < 0) {
            lost_during = gen; /* the main loop says it, once */
            return;
        }
        if (cmd.kind == COORD_CMD_RESUME)
            return;
        if (cmd.kind == COORD_CMD_EXIT)
            exit_job(c, MANA_EXIT_CHECKPOINTED);
        if (cmd.kind == COORD_CMD_KILL) {
            fprintf(stderr, "MANA: rank %d: the coordinator ended the job (mana-ckpt --kill)\n", my_rank);
            exit_job(c, 1);
        }
    }
}

/* After READY: GO (every rank accepted), or the generation failed. */
static int await_go(struct coord_client *c, uint64_t gen)
{
    for (;;) {
        struct coord_cmd cmd;
        char err[1024];
        if (coord_client_poll(c, &cmd, -1, err, sizeof err) < 0) {
            lost_during = gen;
            return -1;
        }
        if (cmd.kind == COORD_CMD_GO && cmd.gen == gen)
            return 0;
        if (cmd.kind == COORD_CMD_RESUME)
            return -1;
        if (cmd.kind == COORD_CMD_KILL) {
            fprintf(stderr, "MANA: rank %d: the coordinator ended the job (mana-ckpt --kill)\n", my_rank);
            take_lock_to_exit();
            exit_job(c, 1);
        }
    }
}

/* What this rank last told the coordinator about why it is waited for,
 * sent again only when it changes, and at most every 200 ms. */
struct waiting_report {
    struct coord_client *c;
    uint64_t gen;
    char last[256];
    struct timespec at;
};

static void report_waiting(void *ctx, const char *why)
{
    struct waiting_report *w = ctx;
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    long ms = (now.tv_sec - w->at.tv_sec) * 1000 + (now.tv_nsec - w->at.tv_nsec) / 1000000;
    if (strcmp(why, w->last) == 0 || (ms < 200 && why[0] != '\0'))
        return;
    snprintf(w->last, sizeof w->last, "%s", why);
    w->at = now;
    coord_client_waiting(w->c, w->gen, why);
}

static void checkpoint(struct coord_client *c, const struct coord_cmd *cmd)
{
    char err[8192], path[PATH_MAX + 32];
    if (ckpt_accept(table) != 0) {
        snprintf(err, sizeof err, "the application is finishing (in MPI_Finalize)");
        report_failure(c, cmd->gen, err);
        await_verdict(c, cmd->gen);
        return;
    }
    if (coord_client_ready(c, cmd->gen) != 0 || await_go(c, cmd->gen) != 0) {
        ckpt_agree_cancel(table);
        return;
    }
    test_fault_point("agree", my_rank, cmd->gen);
    struct waiting_report waiting = {.c = c, .gen = cmd->gen};
    clock_gettime(CLOCK_MONOTONIC, &waiting.at);
    waiting.at.tv_sec -= 1;
    if (ckpt_agree(table, ckpt_comm, report_waiting, &waiting, err, sizeof err) != 0) {
        report_failure(c, cmd->gen, err);
        await_verdict(c, cmd->gen);
        return;
    }
    static struct ckpt_thread_state threads[CKPT_MAX_THREADS];
    size_t nthreads = 0;
    if (ckpt_stop_app(&table->threads, threads, &nthreads, STOP_TIMEOUT_MS, err, sizeof err) != 0) {
        ckpt_agree_end(table);
        report_failure(c, cmd->gen, err);
        await_verdict(c, cmd->gen);
        return;
    }
    static struct ckpt_process_state p;
    const int ours[] = {SIGSYS, MANA_STOP_SIGNAL, trigger_sig};
    struct image_summary sum;
    snprintf(path, sizeof path, "%s/rank-%05d.mana", cmd->dir, my_rank);
    struct image_writer_header hdr = {.rank = (uint32_t)my_rank, .nranks = (uint32_t)world_size,
                                      .flavour = lower_flavour, .face = lower_face,
                                      .generation = cmd->gen};
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < nthreads; i++)
        rc = ckpt_find_tid_offset(&threads[i], err, sizeof err);
    if (rc == 0)
        rc = ckpt_capture_process(&p, (uint64_t)(uintptr_t)table, ours, sizeof ours / sizeof ours[0], err,
                                  sizeof err);
    if (rc == 0)
        rc = ckpt_write_image(path, &hdr, threads, nthreads, &p, &sum, err, sizeof err);
    if (rc == 0)
        test_fault_point("done", my_rank, cmd->gen);
    if (rc == 0)
        coord_client_report(c, cmd->gen, 1, sum.file_size, sum.digest, NULL);
    else
        report_failure(c, cmd->gen, err);
    await_verdict(c, cmd->gen);
    while (hold_after_checkpoint && rc == 0)
        pause();
    ckpt_stop_resume(&table->threads);
    ckpt_agree_end(table);
}

/* The trigger pipe's bytes, 1: the checkpoint signal (checkpoint and
 * exit); 2: a test's request to checkpoint and go on. */
static void forward_trigger(struct coord_client *c)
{
    char buf[64];
    ssize_t n;
    int exit_after = 0;
    while ((n = read(trigger_pipe[0], buf, sizeof buf)) > 0)
        for (ssize_t i = 0; i < n; i++)
            exit_after |= buf[i] == 1;
    coord_client_request_checkpoint(c, exit_after);
}

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* How often a rank without a coordinator looks at CKPT_DIR/.coordinator,
 * and how often it dials again an address that already failed (the dead
 * coordinator's, which kill -9 leaves in the file). Polling, not
 * inotify: CKPT_DIR is often on NFS, where inotify does not see another
 * node's writes. */
#define WATCH_MS 1000
#define RETRY_SAME_MS 10000

/* After the coordinator is lost (or could not be reached at start):
 * waits until CKPT_DIR/.coordinator names one that takes this rank's
 * HELLO (mana-coordinator --attach writes a new address and token
 * there), and returns the connection; NULL once the application is in
 * MPI_Finalize. Only the file counts now: MANA_COORD and
 * MANA_COORD_TOKEN named the coordinator that is gone. Every rank
 * watches on its own; the new coordinator checkpoints only once all
 * nranks have said HELLO, so ranks that find it at different times are
 * fine. CURRENT is the "HOST:PORT TOKEN" that failed; on success it
 * becomes the one now connected, so a later loss is recognised. */
static struct coord_client *reattach(char *current, size_t current_len)
{
    char lost[400];
    snprintf(lost, sizeof lost, "%s", current);
    const char *dir = getenv(MANA_ENV_CKPT_DIR);
    char hp[256], tok[128], line[400], failed[400], err[1024];
    snprintf(failed, sizeof failed, "%s", lost);
    int64_t failed_at = mono_ms();
    for (;;) {
        struct timespec ts = {.tv_sec = WATCH_MS / 1000, .tv_nsec = (WATCH_MS % 1000) * 1000000L};
        nanosleep(&ts, NULL);
        if (atomic_load(&table->sync.finalizing))
            return NULL;
        if (coord_client_read_file(dir, hp, sizeof hp, tok, sizeof tok, err, sizeof err) != 0)
            continue;
        snprintf(line, sizeof line, "%s %s", hp, tok);
        if (strcmp(line, failed) == 0 && mono_ms() - failed_at < RETRY_SAME_MS)
            continue;
        struct coord_client *c;
        if (coord_client_connect(hp, tok, my_rank, world_size, &c, err, sizeof err) == 0) {
            if (my_rank == 0)
                fprintf(stderr, "MANA: attached to the coordinator at %s; this job can be checkpointed again\n", hp);
            snprintf(current, current_len, "%s", line);
            return c;
        }
        /* A new address that does not take us is worth one line (rank 0's):
         * the next tries of the same one are quiet. */
        if (my_rank == 0 && strcmp(line, failed) != 0 && strcmp(line, lost) != 0)
            fprintf(stderr, "MANA: rank 0: cannot attach to the coordinator named in %s/%s: %s\n",
                    dir ? dir : "mana-checkpoints", COORD_FILE_NAME, err);
        snprintf(failed, sizeof failed, "%s", line);
        failed_at = mono_ms();
    }
}

static void *ckpt_thread_main(void *arg)
{
    struct coord_address *a = arg;
    pthread_attr_t attr;
    if (pthread_getattr_np(pthread_self(), &attr) == 0) {
        void *lo;
        size_t len;
        pthread_attr_getstack(&attr, &lo, &len);
        table->sync.ckpt_stack_lo = (uint64_t)(uintptr_t)lo;
        table->sync.ckpt_stack_hi = (uint64_t)(uintptr_t)lo + len;
        pthread_attr_destroy(&attr);
    }
    const char *dir = getenv(MANA_ENV_CKPT_DIR);
    char err[1024], current[400];
    snprintf(current, sizeof current, "%s %s", a->hostport, a->token);
    struct coord_client *c;
    if (coord_client_connect(a->hostport, a->token, my_rank, world_size, &c, err, sizeof err) != 0) {
        fprintf(stderr, "MANA: rank %d: this job cannot be checkpointed until a coordinator is attached "
                "(mana-coordinator --attach --ckpt-dir %s): %s\n", my_rank, dir ? dir : "CKPT_DIR", err);
        if ((c = reattach(current, sizeof current)) == NULL)
            return NULL;
    }
    for (;;) {
        /* A command first, without waiting: an earlier read may have
         * brought more than one line, and those wake no poll. */
        struct coord_cmd cmd;
        int rc = coord_client_poll(c, &cmd, 0, err, sizeof err);
        if (rc < 0) {
            /* Once the application is in MPI_Finalize, the coordinator
             * may go first (it watches rank 0's process): nothing is
             * lost then. Otherwise one warning for the job: every rank
             * loses the same coordinator at the same moment, and rank 0
             * speaks for them. */
            int finishing = atomic_load(&table->sync.finalizing);
            if (!finishing && my_rank == 0) {
                char during[64] = "";
                if (lost_during != 0)
                    snprintf(during, sizeof during, " during checkpoint %llu", (unsigned long long)lost_during);
                fprintf(stderr, "MANA: warning: lost the job's coordinator%s (%s); the job goes on, but cannot be "
                        "checkpointed until a coordinator is attached: mana-coordinator --attach --ckpt-dir %s\n",
                        during, err, dir ? dir : "CKPT_DIR");
            }
            lost_during = 0;
            coord_client_close(c, 0);
            if (finishing || (c = reattach(current, sizeof current)) == NULL)
                return NULL;
            continue;
        }
        if (rc == 0) {
            struct pollfd fds[2] = {{.fd = coord_client_fd(c), .events = POLLIN},
                                    {.fd = trigger_pipe[0], .events = POLLIN}};
            if (poll(fds, 2, -1) > 0 && (fds[1].revents & POLLIN))
                forward_trigger(c);
            continue;
        }
        if (cmd.kind == COORD_CMD_CHECKPOINT)
            checkpoint(c, &cmd);
        else if (cmd.kind == COORD_CMD_KILL) {
            fprintf(stderr, "MANA: rank %d: the coordinator ended the job (mana-ckpt --kill)\n", my_rank);
            take_lock_to_exit();
            exit_job(c, 1);
        }
    }
}

void ckpt_after_mpi_init(void)
{
    static struct coord_address addr;
    MPI_Comm_dup(MPI_COMM_WORLD, &ckpt_comm);
    if (table != NULL) {
        table->sync.private_comm = lower_table_comm(ckpt_comm);
        table->sync.concurrent_calls = lower_thread_level == MPI_THREAD_MULTIPLE;
    }
    MPI_Comm_rank(ckpt_comm, &my_rank);
    MPI_Comm_size(ckpt_comm, &world_size);
    ckpt_stop_set_target((pid_t)syscall(SYS_gettid));
    if (my_rank == 0)
        find_coordinator(&addr);
    MPI_Bcast(&addr, sizeof addr, MPI_BYTE, 0, ckpt_comm);
    if (!addr.usable) {
        if (my_rank == 0 && addr.why[0] != '\0')
            fprintf(stderr, "MANA: this job cannot be checkpointed: %s\n", addr.why);
        return;
    }
    /* The thread takes no asynchronous signal: they belong to the
     * application's threads (and the checkpoint signal to whoever gets it). */
    sigset_t block, old;
    sigfillset(&block);
    sigdelset(&block, SIGSYS);
    pthread_sigmask(SIG_BLOCK, &block, &old);
    pthread_t th;
    int rc = pthread_create(&th, NULL, ckpt_thread_main, &addr);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc != 0)
        fprintf(stderr, "MANA: rank %d: cannot start the checkpoint thread (%s); this job cannot be checkpointed\n",
                my_rank, strerror(rc));
    else
        pthread_detach(th);
}

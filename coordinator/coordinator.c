/* mana-coordinator: the job's checkpoint coordinator. One process per job,
 * one epoll loop, no thread per client, bounded memory per client (a
 * line buffer that grows to COORD_CLIENT_LINE_MAX at most, an output
 * queue of at most OUT_MAX bytes). It tells every rank to checkpoint,
 * collects "written, size, checksum" from each, and only when all ranks
 * succeeded writes the generation's MANIFEST and moves CKPT_DIR/latest
 * (DESIGN.md invariant 7). The protocol, the states and the directory
 * layout are in docs/coordinator-protocol.md.
 *
 * The checkpoint of one generation goes through these steps, in order:
 *   ckpt_start     pick gen, mkdir gen-NNNNNN, CHECKPOINT to every rank
 *   on_done        record each rank's DONE; any failure -> ckpt_fail
 *   ckpt_complete  check sizes, fsync the directory, MANIFEST, latest,
 *                  prune, then RESUME ok=1 or EXIT, then RESULT
 *   ckpt_fail      rename to gen-NNNNNN.failed, RESUME ok=0, RESULT ok=0 */
#define _GNU_SOURCE
#include "coord_proto.h"
#include "coord_client.h"
#include "trust.h"
#include "mana/test_faults.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define VERSION_STRING "mana-coordinator 0.1.0"
#define OUT_MAX (64 * 1024)     /* queued output per client before it counts as not reading */
#define HELLO_TIMEOUT_MS 10000  /* a connection must say HELLO within this */
/* With --attach, the ranks of the running job look at CKPT_DIR/.coordinator
 * every second; none within this long means no job uses the directory. */
#define ATTACH_WAIT_MS 60000
/* Descriptors kept free for everything but clients: the listener, epoll,
 * signalfd, pidfd, the log, and the files a checkpoint writes. */
#define FD_RESERVE 32
/* At most this many rejections are logged one by one each second; the
 * rest are counted in one line, so a flood of bad connections cannot
 * fill the disk through coordinator.log. */
#define REJECT_LOG_PER_S 20
#define MANIFEST_VERSION 1

enum role { ROLE_NEW, ROLE_RANK, ROLE_CONTROL };

struct client {
    int fd;
    enum role role;
    int rank;
    long pid;
    char host[64];
    char peer[80];
    struct coord_rbuf in;
    char *out;
    size_t out_len, out_cap;
    int closing; /* drop once the output is flushed */
    int dead;
    int waiting; /* control: its checkpoint's RESULT is due */
    int64_t hello_deadline;
    struct client *prev, *next; /* all live clients */
    struct client *grave;       /* dropped, freed after the event batch */
};

#define WAITING_WHY_MAX 256
/* At most this many ranks are named in a STATUS answer. */
#define WAITING_NAMED 16

struct ckpt {
    int active;
    int nready; /* ranks that said READY; GO goes out when all have */
    uint8_t *ready;
    uint64_t gen;
    /* When it started (now_ms), for the time it took in the log: what
     * periodic checkpoints cost is otherwise invisible (no mana-ckpt
     * waits for them). */
    int64_t started_ms;
    int exit_after;
    char dir[PATH_MAX];
    int ndone;
    uint8_t *done;
    uint64_t *bytes, *sum;
    /* Why the others wait for each rank while they agree (WAITING), for
     * mana-ckpt --status; "" when they do not. */
    char (*why)[WAITING_WHY_MAX];
    struct client *requester;
    char who[64];
};

static struct {
    int epfd, lfd, sigfd;
    char token[COORD_TOKEN_HEX + 1];
    char dir[PATH_MAX];
    char file[PATH_MAX + 32];
    char file_line[512];
    char hostport[300];
    int nranks; /* 0 until known */
    struct client **ranks;
    int nconnected, ever_connected;
    int interval, keep, exit_when_idle;
    int64_t next_interval;
    struct client *clients, *graveyard;
    int nnew;
    uint64_t last_gen, latest_gen;
    struct ckpt ck;
    int quit;
    int listen_paused;
    int64_t listen_resume;
    int64_t attach_deadline; /* --attach: exit if no rank said HELLO by then (0: not attached) */
    int nclients, max_clients; /* live connections; the most the descriptor limit allows */
    int64_t reject_window;     /* log_rejected: start of the current second */
    int reject_logged;
    long reject_quiet;         /* rejections not logged one by one in it */
    int exit_status;
} g;

static char listen_marker, signal_marker, watch_marker;

/* snprintf without -Wformat-truncation: a message cut short is fine,
 * and paths are bounded by the check on the directory's length in main. */
static int fmt(char *buf, size_t len, const char *f, ...) __attribute__((format(printf, 3, 4)));
static int fmt(char *buf, size_t len, const char *f, ...)
{
    va_list ap;
    va_start(ap, f);
    int n = vsnprintf(buf, len, f, ap);
    va_end(ap);
    return n < 0 || (size_t)n >= len ? -1 : n;
}

static void coord_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void coord_log(const char *fmt, ...)
{
    char buf[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    fprintf(stderr, "mana-coordinator: %s\n", buf);
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Says how many rejections were not logged one by one, once their
 * second is over. */
static void log_rejected_flush(void)
{
    if (g.reject_quiet && now_ms() - g.reject_window >= 1000) {
        coord_log("rejected %ld more connections in %.1f s without logging each (more than %d a second)",
                  g.reject_quiet, (now_ms() - g.reject_window) / 1000.0, REJECT_LOG_PER_S);
        g.reject_quiet = 0;
    }
}

static void log_rejected(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void log_rejected(const char *fmt, ...)
{
    int64_t now = now_ms();
    if (now - g.reject_window >= 1000) {
        log_rejected_flush();
        g.reject_window = now;
        g.reject_logged = 0;
    }
    if (g.reject_logged >= REJECT_LOG_PER_S) {
        g.reject_quiet++;
        return;
    }
    g.reject_logged++;
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    coord_log("%s", buf);
}

static const char *who_is(const struct client *c, char *buf, size_t len)
{
    if (c->role == ROLE_RANK)
        fmt(buf, len, "rank %d (pid %ld on %s)", c->rank, c->pid, c->host);
    else if (c->role == ROLE_CONTROL)
        fmt(buf, len, "control client %s", c->peer);
    else
        fmt(buf, len, "client %s", c->peer);
    return buf;
}

/* ---- files -------------------------------------------------------- */

static int fsync_dir(const char *path)
{
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    int r = fsync(fd);
    int e = errno;
    close(fd);
    errno = e;
    return r;
}

static const char *hint(int e)
{
    switch (e) {
    case ENOSPC:
    case EDQUOT:
        return ": the file system is full; free space or use another --ckpt-dir";
    case EACCES:
    case EPERM:
    case EROFS:
        return ": the coordinator may not write there; use another --ckpt-dir";
    default:
        return "";
    }
}

/* Writes DIR/NAME atomically: DIR/.NAME.tmp, fsync, rename, fsync DIR.
 * WRITE_FN prints the content. 0, or -1 with ERR. *RENAMED (if not NULL)
 * says whether DIR/NAME was replaced, which a failed fsync of DIR after
 * the rename leaves so. PHASE names the write for the test tree's fault
 * injection (test_faults.h: PHASE for the content, PHASE-sync for the
 * directory's fsync). */
static int write_atomic(const char *dir, const char *name, const char *phase, mode_t mode,
                        int (*write_fn)(FILE *, void *), void *arg, int *renamed, char *err, size_t errlen)
{
    char sync_phase[64];
    fmt(sync_phase, sizeof sync_phase, "%s-sync", phase);
    if (renamed)
        *renamed = 0;
    char tmp[PATH_MAX + 64], dst[PATH_MAX + 64];
    fmt(tmp, sizeof tmp, "%s/.%s.tmp", dir, name);
    fmt(dst, sizeof dst, "%s/%s", dir, name);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
    if (fd < 0) {
        int e = errno;
        fmt(err, errlen, "cannot create %s (%s)%s", tmp, strerror(e), hint(e));
        return -1;
    }
    fchmod(fd, mode);
    FILE *f = fdopen(fd, "w");
    if (!f) {
        close(fd);
        unlink(tmp);
        fmt(err, errlen, "cannot write %s (out of memory)", tmp);
        return -1;
    }
    int bad = write_fn(f, arg) < 0;
    bad |= fflush(f) != 0;
    int e = errno;
    if (!bad) {
        /* The test tree only: fail as a full or broken disk would. */
        e = test_fault_errno(phase, -1, g.ck.gen);
        bad = e != 0;
    }
    if (!bad) {
        bad = fsync(fd) != 0;
        e = errno;
    }
    if (fclose(f) != 0 && !bad) {
        bad = 1;
        e = errno;
    }
    if (bad) {
        unlink(tmp);
        fmt(err, errlen, "cannot write %s (%s)%s", tmp, strerror(e), hint(e));
        return -1;
    }
    if (rename(tmp, dst) != 0) {
        e = errno;
        unlink(tmp);
        fmt(err, errlen, "cannot rename %s to %s (%s)", tmp, dst, strerror(e));
        return -1;
    }
    if (renamed)
        *renamed = 1;
    e = test_fault_errno(sync_phase, -1, g.ck.gen);
    if (e != 0 || fsync_dir(dir) != 0) {
        e = e ? e : errno;
        fmt(err, errlen, "cannot fsync the directory %s (%s)%s", dir, strerror(e), hint(e));
        return -1;
    }
    return 0;
}

static int write_string(FILE *f, void *arg)
{
    return fputs(arg, f) < 0 ? -1 : 0;
}

/* The highest generation number used in the directory, complete, failed
 * or incomplete: numbers are never reused. */
static uint64_t scan_highest_gen(void)
{
    uint64_t best = 0;
    DIR *d = opendir(g.dir);
    if (!d)
        return 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        uint64_t gen;
        int failed;
        if (coord_parse_gen_name(e->d_name, &gen, &failed) == 0 && gen > best)
            best = gen;
    }
    closedir(d);
    return best;
}

static uint64_t read_latest(void)
{
    char path[PATH_MAX + 16], buf[64];
    fmt(path, sizeof path, "%s/latest", g.dir);
    FILE *f = fopen(path, "re");
    if (!f)
        return 0;
    uint64_t gen = 0;
    int failed;
    if (fgets(buf, sizeof buf, f)) {
        buf[strcspn(buf, "\n")] = '\0';
        if (coord_parse_gen_name(buf, &gen, &failed) < 0 || failed)
            gen = 0;
    }
    fclose(f);
    return gen;
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)ftw;
    int r = (flag == FTW_DP || flag == FTW_D) ? rmdir(path) : unlink(path);
    if (r != 0)
        coord_log("cannot remove %s while pruning (%s)", path, strerror(errno));
    return 0;
}

static int cmp_desc(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? 1 : x > y ? -1 : 0;
}

/* Keeps the --keep newest complete generations; removes older complete
 * ones and failed ones older than the oldest kept. Incomplete ones (no
 * MANIFEST, not .failed) are left alone: a coordinator that died while
 * writing one may be examined. */
static void prune(void)
{
    if (g.keep <= 0)
        return;
    DIR *d = opendir(g.dir);
    if (!d) {
        coord_log("cannot prune %s (%s)", g.dir, strerror(errno));
        return;
    }
    size_t n = 0, cap = 16, nf = 0, capf = 16;
    uint64_t *gens = malloc(cap * sizeof *gens), *failed_gens = malloc(capf * sizeof *failed_gens);
    struct dirent *e;
    while (gens && failed_gens && (e = readdir(d))) {
        uint64_t gen;
        int failed;
        if (coord_parse_gen_name(e->d_name, &gen, &failed) < 0)
            continue;
        if (failed) {
            if (nf == capf) {
                uint64_t *ng = realloc(failed_gens, (capf *= 2) * sizeof *ng);
                if (!ng)
                    break;
                failed_gens = ng;
            }
            failed_gens[nf++] = gen;
            continue;
        }
        char m[PATH_MAX + 64];
        fmt(m, sizeof m, "%s/%s/MANIFEST", g.dir, e->d_name);
        if (access(m, F_OK) != 0)
            continue;
        if (n == cap) {
            uint64_t *ng = realloc(gens, (cap *= 2) * sizeof *ng);
            if (!ng)
                break;
            gens = ng;
        }
        gens[n++] = gen;
    }
    closedir(d);
    if (gens && failed_gens && n > 0) {
        qsort(gens, n, sizeof *gens, cmp_desc);
        size_t kept = n < (size_t)g.keep ? n : (size_t)g.keep;
        uint64_t oldest_kept = gens[kept - 1];
        char name[64], path[PATH_MAX + 64];
        for (size_t i = kept; i < n; i++) {
            coord_gen_name(gens[i], name, sizeof name);
            fmt(path, sizeof path, "%s/%s", g.dir, name);
            nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
            coord_log("pruned %s (--keep %d)", name, g.keep);
        }
        for (size_t i = 0; i < nf; i++) {
            if (failed_gens[i] >= oldest_kept)
                continue;
            coord_gen_name(failed_gens[i], name, sizeof name);
            fmt(path, sizeof path, "%s/%s.failed", g.dir, name);
            nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
            coord_log("pruned %s.failed (older than the oldest kept generation)", name);
        }
    }
    free(gens);
    free(failed_gens);
}

/* ---- clients: output, dropping ------------------------------------- */

static void drop(struct client *c, const char *why);

static void set_events(struct client *c)
{
    struct epoll_event ev = {.events = EPOLLIN | (c->out_len ? EPOLLOUT : 0), .data.ptr = c};
    epoll_ctl(g.epfd, EPOLL_CTL_MOD, c->fd, &ev);
}

static void flush_out(struct client *c)
{
    while (c->out_len) {
        ssize_t n = send(c->fd, c->out, c->out_len, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                break;
            char why[128];
            fmt(why, sizeof why, "cannot send to it (%s)", strerror(errno));
            drop(c, why);
            return;
        }
        memmove(c->out, c->out + n, c->out_len - (size_t)n);
        c->out_len -= (size_t)n;
    }
    if (c->out_len == 0 && c->closing) {
        drop(c, NULL);
        return;
    }
    set_events(c);
}

static void send_line(struct client *c, const char *line, size_t len)
{
    if (c->dead)
        return;
    if (c->out_len + len > OUT_MAX) {
        drop(c, "it does not read what the coordinator sends");
        return;
    }
    if (c->out_cap < c->out_len + len) {
        size_t ncap = c->out_cap ? c->out_cap : 256;
        while (ncap < c->out_len + len)
            ncap *= 2;
        char *nb = realloc(c->out, ncap);
        if (!nb) {
            drop(c, "out of memory");
            return;
        }
        c->out = nb;
        c->out_cap = ncap;
    }
    memcpy(c->out + c->out_len, line, len);
    c->out_len += len;
    flush_out(c);
}

static void send_fmt(struct client *c, struct coord_fmt *f)
{
    long n = coord_fmt_end(f);
    if (n < 0) {
        coord_log("internal error: a message to %s did not fit in a line", c->peer);
        return;
    }
    send_line(c, f->buf, (size_t)n);
}

static void send_error(struct client *c, const char *msg)
{
    char line[1024];
    struct coord_fmt f;
    char cut[COORD_MSG_MAX];
    fmt(cut, sizeof cut, "%s", msg);
    coord_fmt_begin(&f, line, sizeof line, "ERROR");
    coord_fmt_str(&f, "msg", cut);
    c->closing = 1;
    send_fmt(c, &f);
}

static void ckpt_fail(const char *reason, int resume);
static void maybe_exit_idle(void);

static void drop(struct client *c, const char *why)
{
    if (c->dead)
        return;
    char w[160];
    who_is(c, w, sizeof w);
    c->dead = 1;
    close(c->fd);
    g.nclients--;
    if (c->prev)
        c->prev->next = c->next;
    else
        g.clients = c->next;
    if (c->next)
        c->next->prev = c->prev;
    c->grave = g.graveyard;
    g.graveyard = c;
    if (c->role == ROLE_NEW)
        g.nnew--;
    if (c->role == ROLE_CONTROL && g.ck.requester == c)
        g.ck.requester = NULL;
    if (c->role == ROLE_RANK) {
        g.ranks[c->rank] = NULL;
        g.nconnected--;
        coord_log("%s disconnected: %s; %d of %d ranks connected", w, why ? why : "closed", g.nconnected, g.nranks);
        if (g.ck.active) {
            char reason[300];
            fmt(reason, sizeof reason, "%s disconnected during the checkpoint (%s)", w,
                     why ? why : "closed");
            ckpt_fail(reason, 1);
        }
        maybe_exit_idle();
    } else if (why) {
        coord_log("closed the connection of %s: %s", w, why);
    }
}

static void maybe_exit_idle(void)
{
    if (g.exit_when_idle && g.ever_connected && g.nconnected == 0 && !g.ck.active && !g.quit) {
        coord_log("every rank has left; exiting (--exit-when-idle)");
        g.quit = 1;
    }
}

/* ---- checkpoints ---------------------------------------------------- */

static void rank_path(int rank, char *buf, size_t len)
{
    fmt(buf, len, "%s/rank-%05d.mana", g.ck.dir, rank);
}

static int ckpt_start(int exit_after, struct client *requester, const char *who, char *err, size_t errlen)
{
    if (g.ck.active) {
        fmt(err, errlen, "generation %" PRIu64 " is being written; retry when it is done", g.ck.gen);
        return -1;
    }
    if (g.nranks == 0 || g.nconnected < g.nranks) {
        fmt(err, errlen, "only %d of %d ranks are connected; a checkpoint needs all of them", g.nconnected,
                 g.nranks);
        return -1;
    }
    uint64_t gen = scan_highest_gen();
    if (g.last_gen > gen)
        gen = g.last_gen;
    char name[64];
    for (int tries = 0;; tries++) {
        gen++;
        coord_gen_name(gen, name, sizeof name);
        fmt(g.ck.dir, sizeof g.ck.dir, "%s/%s", g.dir, name);
        if (mkdir(g.ck.dir, 0700) == 0)
            break;
        if (errno != EEXIST || tries > 100) {
            int e = errno;
            fmt(err, errlen, "cannot create the generation directory %s (%s)%s", g.ck.dir, strerror(e),
                     hint(e));
            return -1;
        }
    }
    g.last_gen = gen;
    g.ck.active = 1;
    g.ck.gen = gen;
    g.ck.started_ms = now_ms();
    g.ck.exit_after = exit_after;
    g.ck.ndone = 0;
    g.ck.nready = 0;
    g.ck.requester = requester;
    fmt(g.ck.who, sizeof g.ck.who, "%s", who);
    memset(g.ck.done, 0, (size_t)g.nranks);
    memset(g.ck.ready, 0, (size_t)g.nranks);
    memset(g.ck.why, 0, (size_t)g.nranks * sizeof *g.ck.why);
    coord_log("generation %" PRIu64 ": checkpoint%s started (asked by %s) in %s, %d ranks", gen,
         exit_after ? "-and-exit" : "", who, g.ck.dir, g.nranks);
    char line[COORD_LINE_MAX];
    struct coord_fmt f;
    coord_fmt_begin(&f, line, sizeof line, "CHECKPOINT");
    coord_fmt_u64(&f, "gen", gen);
    coord_fmt_str(&f, "dir", g.ck.dir);
    coord_fmt_int(&f, "exit", exit_after);
    long n = coord_fmt_end(&f);
    if (requester) {
        char l2[COORD_LINE_MAX];
        struct coord_fmt f2;
        coord_fmt_begin(&f2, l2, sizeof l2, "STARTED");
        coord_fmt_u64(&f2, "gen", gen);
        coord_fmt_str(&f2, "dir", g.ck.dir);
        coord_fmt_int(&f2, "nranks", g.nranks);
        requester->waiting = 1;
        send_fmt(requester, &f2);
    }
    /* A rank that fails to take the line is dropped, which fails the
     * generation and clears ck.active: stop sending then. */
    for (int r = 0; r < g.nranks && g.ck.active && g.ck.gen == gen; r++)
        if (g.ranks[r])
            send_line(g.ranks[r], line, (size_t)n);
    return 0;
}

static void send_result_fail(struct client *c, uint64_t gen, const char *reason, const char *failed_dir)
{
    char line[COORD_LINE_MAX], cut[COORD_MSG_MAX];
    fmt(cut, sizeof cut, "%s", reason);
    struct coord_fmt f;
    coord_fmt_begin(&f, line, sizeof line, "RESULT");
    coord_fmt_int(&f, "ok", 0);
    coord_fmt_u64(&f, "gen", gen);
    coord_fmt_u64(&f, "latest", g.latest_gen);
    if (failed_dir)
        coord_fmt_str(&f, "dir", failed_dir);
    coord_fmt_str(&f, "msg", cut);
    c->waiting = 0;
    send_fmt(c, &f);
}

/* The generation failed: it never counts. Its directory becomes
 * gen-NNNNNN.failed (kept for diagnosis), latest does not move, the
 * ranks resume (RESUME ok=0) unless RESUME is 0 (they are being killed). */
static void ckpt_fail(const char *reason, int resume)
{
    if (!g.ck.active)
        return;
    g.ck.active = 0;
    uint64_t gen = g.ck.gen;
    char failed[PATH_MAX + 16];
    fmt(failed, sizeof failed, "%s.failed", g.ck.dir);
    if (rename(g.ck.dir, failed) != 0) {
        coord_log("generation %" PRIu64 ": cannot rename %s to %s (%s); it has no MANIFEST, so it is never used",
             gen, g.ck.dir, failed, strerror(errno));
        fmt(failed, sizeof failed, "%s", g.ck.dir);
    }
    char lname[64] = "none";
    if (g.latest_gen)
        coord_gen_name(g.latest_gen, lname, sizeof lname);
    coord_log("generation %" PRIu64 " failed: %s; latest stays %s; the images written are in %s", gen, reason, lname,
         failed);
    if (resume) {
        char line[128];
        struct coord_fmt f;
        coord_fmt_begin(&f, line, sizeof line, "RESUME");
        coord_fmt_u64(&f, "gen", gen);
        coord_fmt_int(&f, "ok", 0);
        long n = coord_fmt_end(&f);
        for (int r = 0; r < g.nranks; r++)
            if (g.ranks[r])
                send_line(g.ranks[r], line, (size_t)n);
    }
    if (g.ck.requester)
        send_result_fail(g.ck.requester, gen, reason, failed);
    g.ck.requester = NULL;
    maybe_exit_idle();
}

struct manifest_arg {
    uint64_t total;
};

static int write_manifest(FILE *f, void *arg)
{
    struct manifest_arg *m = arg;
    time_t now = time(NULL);
    struct tm tm;
    char iso[32];
    gmtime_r(&now, &tm);
    strftime(iso, sizeof iso, "%Y-%m-%dT%H:%M:%SZ", &tm);
    fprintf(f, "MANA-MANIFEST %d\ngeneration %" PRIu64 "\nnranks %d\ncreated %lld %s\ntotal_bytes %" PRIu64 "\n",
            MANIFEST_VERSION, g.ck.gen, g.nranks, (long long)now, iso, m->total);
    for (int r = 0; r < g.nranks; r++)
        fprintf(f, "rank %d rank-%05d.mana %" PRIu64 " %016" PRIx64 "\n", r, r, g.ck.bytes[r], g.ck.sum[r]);
    return fprintf(f, "end\n") < 0 ? -1 : 0;
}

static void ckpt_complete(void)
{
    char err[PATH_MAX + 256], path[PATH_MAX + 32];
    struct manifest_arg ma = {0};
    for (int r = 0; r < g.nranks; r++) {
        struct stat st;
        rank_path(r, path, sizeof path);
        if (stat(path, &st) != 0) {
            fmt(err, sizeof err, "rank %d reported its image written, but %s is missing (%s)", r, path,
                     strerror(errno));
            ckpt_fail(err, 1);
            return;
        }
        if (!S_ISREG(st.st_mode) || (uint64_t)st.st_size != g.ck.bytes[r]) {
            fmt(err, sizeof err, "rank %d reported %" PRIu64 " bytes, but %s has %lld", r, g.ck.bytes[r],
                     path, (long long)st.st_size);
            ckpt_fail(err, 1);
            return;
        }
        ma.total += g.ck.bytes[r];
    }
    /* The ranks renamed their images into place; their directory entries
     * are durable once the directory is synced, before the manifest. */
    if (fsync_dir(g.ck.dir) != 0) {
        int e = errno;
        fmt(err, sizeof err, "cannot fsync %s (%s)%s", g.ck.dir, strerror(e), hint(e));
        ckpt_fail(err, 1);
        return;
    }
    test_fault_point("manifest", -1, g.ck.gen);
    int manifest_renamed = 0;
    if (write_atomic(g.ck.dir, "MANIFEST", "manifest", 0600, write_manifest, &ma, &manifest_renamed, err,
                     sizeof err) != 0) {
        /* A MANIFEST whose name may not survive a crash makes no
         * generation: take it back, so no .failed directory holds one. */
        if (manifest_renamed) {
            char mp[PATH_MAX + 32];
            fmt(mp, sizeof mp, "%s/MANIFEST", g.ck.dir);
            unlink(mp);
        }
        ckpt_fail(err, 1);
        return;
    }
    char name[64], content[80];
    coord_gen_name(g.ck.gen, name, sizeof name);
    fmt(content, sizeof content, "%s\n", name);
    test_fault_point("latest", -1, g.ck.gen);
    int renamed = 0;
    if (write_atomic(g.dir, "latest", "latest", 0600, write_string, content, &renamed, err, sizeof err) != 0 &&
        renamed) {
        /* latest was renamed into place but the directory's fsync failed:
         * latest names this generation now, and after a crash it names
         * either this one or the previous one, both complete (this one's
         * MANIFEST and images are durable). Failing the generation here
         * would rename it away under latest and leave latest naming
         * nothing: the job's last good checkpoint lost. So it counts. */
        coord_log("generation %" PRIu64 ": warning: %s; latest names %s, but after a crash it may name the previous "
                  "generation again (both are complete)", g.ck.gen, err, name);
    } else if (!renamed) {
        /* The generation is complete (it has its manifest) but latest
         * could not move: a restart would take the previous one. */
        char m[PATH_MAX + 300];
        fmt(m, sizeof m, "%s (the generation has its MANIFEST, but latest still names the previous one)", err);
        char mp[PATH_MAX + 32];
        fmt(mp, sizeof mp, "%s/MANIFEST", g.ck.dir);
        unlink(mp);
        ckpt_fail(m, 1);
        return;
    }
    g.ck.active = 0;
    g.latest_gen = g.ck.gen;
    int64_t took = now_ms() - g.ck.started_ms;
    coord_log("generation %" PRIu64 " complete: %d ranks, %" PRIu64 " bytes, MANIFEST written, latest is %s; took %" PRId64
              ".%03d s", g.ck.gen, g.nranks, ma.total, name, took / 1000, (int)(took % 1000));
    prune();
    char line[128];
    struct coord_fmt f;
    if (g.ck.exit_after) {
        coord_fmt_begin(&f, line, sizeof line, "EXIT");
        coord_fmt_u64(&f, "gen", g.ck.gen);
    } else {
        coord_fmt_begin(&f, line, sizeof line, "RESUME");
        coord_fmt_u64(&f, "gen", g.ck.gen);
        coord_fmt_int(&f, "ok", 1);
    }
    long n = coord_fmt_end(&f);
    for (int r = 0; r < g.nranks; r++)
        if (g.ranks[r])
            send_line(g.ranks[r], line, (size_t)n);
    if (g.ck.exit_after)
        coord_log("generation %" PRIu64 ": told the ranks to exit", g.ck.gen);
    struct client *req = g.ck.requester;
    g.ck.requester = NULL;
    if (req && !req->dead) {
        char l2[COORD_LINE_MAX];
        coord_fmt_begin(&f, l2, sizeof l2, "RESULT");
        coord_fmt_int(&f, "ok", 1);
        coord_fmt_u64(&f, "gen", g.ck.gen);
        coord_fmt_str(&f, "dir", g.ck.dir);
        coord_fmt_u64(&f, "bytes", ma.total);
        coord_fmt_int(&f, "nranks", g.nranks);
        coord_fmt_int(&f, "exit", g.ck.exit_after);
        req->waiting = 0;
        send_fmt(req, &f);
    }
    maybe_exit_idle();
}

/* The tables kept per rank: 0, or -1 (no memory). */
static int alloc_rank_tables(int nranks)
{
    g.ranks = calloc((size_t)nranks, sizeof *g.ranks);
    g.ck.done = calloc((size_t)nranks, 1);
    g.ck.ready = calloc((size_t)nranks, 1);
    g.ck.bytes = calloc((size_t)nranks, sizeof *g.ck.bytes);
    g.ck.sum = calloc((size_t)nranks, sizeof *g.ck.sum);
    g.ck.why = calloc((size_t)nranks, sizeof *g.ck.why);
    return g.ranks && g.ck.done && g.ck.ready && g.ck.bytes && g.ck.sum && g.ck.why ? 0 : -1;
}

/* ---- messages --------------------------------------------------------- */

static void on_hello(struct client *c, const struct coord_msg *m)
{
    char tok[COORD_TOKEN_HEX + 8], err[256], role[16];
    if (coord_msg_str(m, "token", tok, sizeof tok, err, sizeof err) < 0 || !coord_token_equal(tok, g.token)) {
        log_rejected("rejected %s: %s", c->peer,
             coord_msg_raw(m, "token") ? "wrong token" : "no token in its HELLO");
        send_error(c, "wrong token: use the token in CKPT_DIR/.coordinator of this job");
        return;
    }
    int proto;
    if (coord_msg_int_opt(m, "proto", 0, 1000000, COORD_PROTO_VERSION, &proto, err, sizeof err) < 0 ||
        proto != COORD_PROTO_VERSION) {
        log_rejected("rejected %s: protocol version %s, this coordinator speaks %d", c->peer, coord_msg_raw(m, "proto"),
             COORD_PROTO_VERSION);
        send_error(c, "protocol version mismatch: use mana-ckpt and ranks of the same MANA version");
        return;
    }
    if (coord_msg_raw(m, "role")) {
        if (coord_msg_str(m, "role", role, sizeof role, err, sizeof err) < 0 || strcmp(role, "control") != 0) {
            log_rejected("rejected %s: unknown role", c->peer);
            send_error(c, "unknown role (only role=control is known)");
            return;
        }
        c->role = ROLE_CONTROL;
        g.nnew--;
        char line[128];
        struct coord_fmt f;
        coord_fmt_begin(&f, line, sizeof line, "WELCOME");
        coord_fmt_int(&f, "proto", COORD_PROTO_VERSION);
        send_fmt(c, &f);
        return;
    }
    int rank, nranks;
    long pid = 0;
    uint64_t pid64 = 0;
    char host[64] = "?";
    if (coord_msg_int(m, "nranks", 1, 10000000, &nranks, err, sizeof err) < 0 ||
        coord_msg_int(m, "rank", 0, nranks - 1, &rank, err, sizeof err) < 0) {
        log_rejected("rejected %s: bad HELLO (%s)", c->peer, err);
        send_error(c, err);
        return;
    }
    if (coord_msg_raw(m, "pid") && coord_msg_u64(m, "pid", &pid64, err, sizeof err) == 0)
        pid = (long)pid64;
    if (coord_msg_raw(m, "host") && coord_msg_str(m, "host", host, sizeof host, err, sizeof err) < 0)
        fmt(host, sizeof host, "?");
    if (g.nranks == 0) {
        if (alloc_rank_tables((int)nranks) != 0) {
            coord_log("out of memory for %d ranks", nranks);
            g.quit = 1;
            return;
        }
        g.nranks = nranks;
        coord_log("the job has %d ranks (from the first HELLO)", nranks);
    }
    if (nranks != g.nranks) {
        fmt(err, sizeof err, "this job has %d ranks, but rank %d says %d: a rank of another job?", g.nranks,
                 rank, nranks);
        log_rejected("rejected %s: %s", c->peer, err);
        send_error(c, err);
        return;
    }
    if (g.ranks[rank]) {
        char w[160];
        fmt(err, sizeof err, "rank %d is already connected as %s", rank, who_is(g.ranks[rank], w, sizeof w));
        log_rejected("rejected %s: %s", c->peer, err);
        send_error(c, err);
        return;
    }
    c->role = ROLE_RANK;
    g.nnew--;
    c->rank = rank;
    c->pid = pid;
    fmt(c->host, sizeof c->host, "%s", host);
    g.ranks[rank] = c;
    g.nconnected++;
    g.ever_connected = 1;
    coord_log("rank %d connected (pid %ld on %s); %d of %d ranks connected", rank, pid, host, g.nconnected, g.nranks);
    char line[128];
    struct coord_fmt f;
    coord_fmt_begin(&f, line, sizeof line, "WELCOME");
    coord_fmt_int(&f, "proto", COORD_PROTO_VERSION);
    coord_fmt_int(&f, "nranks", g.nranks);
    coord_fmt_u64(&f, "latest", g.latest_gen);
    send_fmt(c, &f);
}

static void on_done(struct client *c, const struct coord_msg *m)
{
    char err[300], w[160], msg[COORD_MSG_MAX];
    uint64_t gen;
    int ok;
    who_is(c, w, sizeof w);
    if (coord_msg_u64(m, "gen", &gen, err, sizeof err) < 0 || coord_msg_int(m, "ok", 0, 1, &ok, err, sizeof err) < 0) {
        char reason[600];
        fmt(reason, sizeof reason, "%s sent a bad DONE (%s)", w, err);
        if (g.ck.active)
            ckpt_fail(reason, 1);
        drop(c, reason);
        return;
    }
    if (!g.ck.active || gen != g.ck.gen) {
        coord_log("ignored DONE for generation %" PRIu64 " from %s: that generation is not being written", gen, w);
        return;
    }
    if (g.ck.done[c->rank]) {
        coord_log("ignored a second DONE for generation %" PRIu64 " from %s", gen, w);
        return;
    }
    if (!ok) {
        if (!coord_msg_raw(m, "msg") || coord_msg_str(m, "msg", msg, sizeof msg, err, sizeof err) < 0)
            fmt(msg, sizeof msg, "no reason given");
        char reason[800];
        fmt(reason, sizeof reason, "%s could not write its image: %s", w, msg);
        ckpt_fail(reason, 1);
        return;
    }
    uint64_t bytes, sum;
    if (coord_msg_u64(m, "bytes", &bytes, err, sizeof err) < 0 ||
        coord_msg_hex64(m, "checksum", &sum, err, sizeof err) < 0) {
        char reason[600];
        fmt(reason, sizeof reason, "%s sent a bad DONE (%s)", w, err);
        ckpt_fail(reason, 1);
        return;
    }
    g.ck.done[c->rank] = 1;
    g.ck.bytes[c->rank] = bytes;
    g.ck.sum[c->rank] = sum;
    g.ck.ndone++;
    if (g.ck.ndone == g.nranks)
        ckpt_complete();
}

/* WAITING: why the other ranks wait for this one (mana-ckpt --status). */
static void on_waiting(struct client *c, const struct coord_msg *m)
{
    char err[300], why[COORD_MSG_MAX];
    uint64_t gen;
    if (coord_msg_u64(m, "gen", &gen, err, sizeof err) < 0 ||
        coord_msg_str(m, "why", why, sizeof why, err, sizeof err) < 0) {
        drop(c, err);
        return;
    }
    if (g.ck.active && gen == g.ck.gen)
        fmt(g.ck.why[c->rank], sizeof g.ck.why[c->rank], "%s", why);
}

/* The ranks the others wait for, as "rank R: why" lines (the first
 * WAITING_NAMED of them); their number in *N. */
static void waiting_list(char *buf, size_t len, int *n)
{
    size_t used = 0;
    buf[0] = '\0';
    *n = 0;
    for (int r = 0; g.ck.active && r < g.nranks; r++) {
        if (g.ck.why[r][0] == '\0' || g.ck.done[r])
            continue;
        if ((*n)++ < WAITING_NAMED && used < len) {
            int k = snprintf(buf + used, len - used, "%srank %d: %s", used ? "\n" : "", r, g.ck.why[r]);
            used += k > 0 ? (size_t)k : 0;
        }
    }
    if (used >= len)
        buf[len - 1] = '\0';
}

static void on_status(struct client *c)
{
    char line[COORD_LINE_MAX];
    struct coord_fmt f;
    coord_fmt_begin(&f, line, sizeof line, "STATUS");
    coord_fmt_int(&f, "pid", (long)getpid());
    coord_fmt_int(&f, "nranks", g.nranks);
    coord_fmt_int(&f, "connected", g.nconnected);
    coord_fmt_str(&f, "state", g.ck.active ? "checkpoint" : "idle");
    coord_fmt_u64(&f, "gen", g.ck.active ? g.ck.gen : 0);
    coord_fmt_int(&f, "done", g.ck.active ? g.ck.ndone : 0);
    coord_fmt_u64(&f, "latest", g.latest_gen);
    coord_fmt_int(&f, "interval", g.interval);
    coord_fmt_int(&f, "keep", g.keep);
    coord_fmt_str(&f, "dir", g.dir);
    char waitfor[WAITING_NAMED * (WAITING_WHY_MAX + 16)];
    int nwaiting;
    waiting_list(waitfor, sizeof waitfor, &nwaiting);
    coord_fmt_int(&f, "waiting", nwaiting);
    coord_fmt_str(&f, "waitfor", waitfor);
    send_fmt(c, &f);
}

static void on_control(struct client *c, const struct coord_msg *m)
{
    char err[400], line[COORD_LINE_MAX];
    struct coord_fmt f;
    if (strcmp(m->verb, "CHECKPOINT") == 0) {
        int ex;
        if (coord_msg_int_opt(m, "exit", 0, 1, 0, &ex, err, sizeof err) < 0) {
            send_result_fail(c, 0, err, NULL);
            return;
        }
        if (g.ck.active) {
            coord_fmt_begin(&f, line, sizeof line, "RESULT");
            coord_fmt_int(&f, "ok", 0);
            coord_fmt_int(&f, "busy", 1);
            coord_fmt_u64(&f, "gen", g.ck.gen);
            fmt(err, sizeof err, "generation %" PRIu64 " is being written; retry when it is done", g.ck.gen);
            coord_fmt_str(&f, "msg", err);
            send_fmt(c, &f);
            return;
        }
        if (ckpt_start(ex, c, "mana-ckpt", err, sizeof err) < 0) {
            coord_log("checkpoint asked by mana-ckpt refused: %s", err);
            send_result_fail(c, 0, err, NULL);
        }
    } else if (strcmp(m->verb, "STATUS") == 0) {
        on_status(c);
    } else if (strcmp(m->verb, "INTERVAL") == 0) {
        int s;
        if (coord_msg_int(m, "seconds", 0, 100000000, &s, err, sizeof err) < 0) {
            send_result_fail(c, 0, err, NULL);
            return;
        }
        g.interval = s;
        g.next_interval = s ? now_ms() + (int64_t)s * 1000 : 0;
        coord_log("checkpoint interval set to %d s%s by mana-ckpt", s, s ? "" : " (periodic checkpoints off)");
        coord_fmt_begin(&f, line, sizeof line, "RESULT");
        coord_fmt_int(&f, "ok", 1);
        coord_fmt_int(&f, "interval", s);
        send_fmt(c, &f);
    } else if (strcmp(m->verb, "KILL") == 0) {
        if (g.ck.active)
            ckpt_fail("the job was killed (mana-ckpt --kill) during the checkpoint", 0);
        int n = 0;
        for (int r = 0; r < g.nranks; r++)
            if (g.ranks[r]) {
                send_line(g.ranks[r], "KILL\n", 5);
                n++;
            }
        coord_log("told %d ranks to exit now (mana-ckpt --kill)", n);
        coord_fmt_begin(&f, line, sizeof line, "RESULT");
        coord_fmt_int(&f, "ok", 1);
        coord_fmt_int(&f, "killed", n);
        send_fmt(c, &f);
    } else if (strcmp(m->verb, "BYE") == 0) {
        drop(c, NULL);
    } else {
        fmt(err, sizeof err, "unknown command %s", m->verb);
        coord_log("%s sent an unknown command %s", c->peer, m->verb);
        send_error(c, err);
    }
}

/* READY: the rank accepted the checkpoint (it is not finishing). The
 * ranks start agreeing over MPI only once all have (GO), so that no rank
 * waits in that agreement for a rank that is already in MPI_Finalize. */
static void on_ready(struct client *c, const struct coord_msg *m)
{
    char err[300];
    uint64_t gen;
    if (coord_msg_u64(m, "gen", &gen, err, sizeof err) < 0) {
        drop(c, err);
        return;
    }
    if (!g.ck.active || gen != g.ck.gen || g.ck.ready[c->rank])
        return;
    g.ck.ready[c->rank] = 1;
    if (++g.ck.nready < g.nranks)
        return;
    char line[128];
    struct coord_fmt f;
    coord_fmt_begin(&f, line, sizeof line, "GO");
    coord_fmt_u64(&f, "gen", gen);
    long n = coord_fmt_end(&f);
    for (int r = 0; n > 0 && r < g.nranks && g.ck.active && g.ck.gen == gen; r++)
        if (g.ranks[r])
            send_line(g.ranks[r], line, (size_t)n);
}

static void on_rank(struct client *c, const struct coord_msg *m)
{
    char err[300], w[160];
    if (strcmp(m->verb, "DONE") == 0) {
        on_done(c, m);
    } else if (strcmp(m->verb, "READY") == 0) {
        on_ready(c, m);
    } else if (strcmp(m->verb, "WAITING") == 0) {
        on_waiting(c, m);
    } else if (strcmp(m->verb, "REQUEST") == 0) {
        int ex;
        if (coord_msg_int_opt(m, "exit", 0, 1, 0, &ex, err, sizeof err) < 0) {
            drop(c, err);
            return;
        }
        who_is(c, w, sizeof w);
        if (g.ck.active) {
            if (ex && !g.ck.exit_after) {
                g.ck.exit_after = 1;
                coord_log("%s asked for checkpoint-and-exit: the ranks exit once generation %" PRIu64 " is durable", w,
                     g.ck.gen);
            } else {
                coord_log("%s asked for a checkpoint while generation %" PRIu64 " is being written: ignored", w,
                     g.ck.gen);
            }
            return;
        }
        char by[64];
        fmt(by, sizeof by, "rank %d", c->rank);
        if (ckpt_start(ex, NULL, by, err, sizeof err) < 0)
            coord_log("checkpoint asked by %s refused: %s", w, err);
    } else if (strcmp(m->verb, "BYE") == 0) {
        drop(c, "said BYE");
    } else {
        fmt(err, sizeof err, "unknown message %s from a rank", m->verb);
        drop(c, err);
    }
}

static void on_line(struct client *c, char *line)
{
    struct coord_msg m;
    char err[256];
    if (coord_msg_parse(line, &m, err, sizeof err) < 0) {
        char why[320];
        fmt(why, sizeof why, "protocol error: %s", err);
        if (c->role == ROLE_NEW) {
            log_rejected("rejected %s: %s", c->peer, why);
            drop(c, NULL);
        } else {
            drop(c, why);
        }
        return;
    }
    if (c->role == ROLE_NEW) {
        if (strcmp(m.verb, "HELLO") != 0) {
            log_rejected("rejected %s: its first message is %s, not HELLO with the job's token", c->peer, m.verb);
            drop(c, NULL);
            return;
        }
        on_hello(c, &m);
    } else if (strcmp(m.verb, "HELLO") == 0) {
        drop(c, "protocol error: a second HELLO");
    } else if (c->role == ROLE_RANK) {
        on_rank(c, &m);
    } else {
        on_control(c, &m);
    }
}

static void on_readable(struct client *c)
{
    for (int rounds = 0; rounds < 16 && !c->dead; rounds++) {
        long n = coord_rbuf_fill(&c->in, c->fd);
        if (n == 0) {
            drop(c, c->role == ROLE_RANK ? "connection closed without BYE" : NULL);
            return;
        }
        if (n < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
                return;
            char why[160];
            fmt(why, sizeof why, "%s", errno == EMSGSIZE ? "line longer than the limit" : strerror(errno));
            if (c->role == ROLE_NEW)
                log_rejected("rejected %s: %s", c->peer, why);
            drop(c, c->role == ROLE_NEW ? NULL : why);
            return;
        }
        char *line;
        int r = 0;
        while (!c->dead && !c->closing && (r = coord_rbuf_line(&c->in, &line)) == 1)
            on_line(c, line);
        if (!c->dead && !c->closing && r < 0) {
            char why[96];
            fmt(why, sizeof why, "line longer than %d bytes", COORD_CLIENT_LINE_MAX);
            if (c->role == ROLE_NEW)
                log_rejected("rejected %s: %s", c->peer, why);
            drop(c, c->role == ROLE_NEW ? NULL : why);
            return;
        }
        if (c->closing) /* only its ERROR is still to be sent */
            return;
    }
}

/* Near the descriptor limit: the connection that has waited longest
 * without a HELLO (never KEEP, the one just accepted) makes room. A
 * rank or mana-ckpt says HELLO at once, so a flood of idle connections
 * cannot keep them out, nor make the coordinator run out of
 * descriptors; ranks and control clients are never dropped for room. */
static void drop_oldest_new(struct client *keep)
{
    struct client *oldest = NULL;
    for (struct client *c = g.clients; c; c = c->next)
        if (c->role == ROLE_NEW && c != keep)
            oldest = c; /* the list is newest first */
    if (!oldest)
        return;
    log_rejected("rejected %s: %d connections are open, the most the limit on open files (%d) leaves room for, "
                 "and it is the oldest without a HELLO; raise ulimit -n if so many clients are real",
                 oldest->peer, g.nclients, g.max_clients + FD_RESERVE);
    drop(oldest, NULL);
}

static void on_accept(void)
{
    for (int i = 0; i < 64; i++) {
        struct sockaddr_storage sa;
        socklen_t sl = sizeof sa;
        int fd = accept4(g.lfd, (struct sockaddr *)&sa, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if ((errno == EMFILE || errno == ENFILE) && g.nnew > 0) {
                /* Out of descriptors after all (another limit, or the
                 * system's): make room the same way, and accept again. */
                drop_oldest_new(NULL);
                continue;
            }
            if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
                coord_log("cannot accept a connection (%s); pausing new connections for 100 ms; raise the limit on "
                     "open files (ulimit -n)",
                     strerror(errno));
                epoll_ctl(g.epfd, EPOLL_CTL_DEL, g.lfd, NULL);
                g.listen_paused = 1;
                g.listen_resume = now_ms() + 100;
            }
            return;
        }
        struct client *c = calloc(1, sizeof *c);
        if (!c) {
            close(fd);
            return;
        }
        c->fd = fd;
        c->role = ROLE_NEW;
        c->rank = -1;
        coord_rbuf_init(&c->in, COORD_CLIENT_LINE_MAX);
        char h[INET6_ADDRSTRLEN] = "?", p[8] = "?";
        getnameinfo((struct sockaddr *)&sa, sl, h, sizeof h, p, sizeof p, NI_NUMERICHOST | NI_NUMERICSERV);
        fmt(c->peer, sizeof c->peer, "%s:%s", h, p);
        c->hello_deadline = now_ms() + HELLO_TIMEOUT_MS;
        c->next = g.clients;
        if (g.clients)
            g.clients->prev = c;
        g.clients = c;
        g.nnew++;
        g.nclients++;
        if (g.nclients > g.max_clients)
            drop_oldest_new(c);
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
        if (epoll_ctl(g.epfd, EPOLL_CTL_ADD, fd, &ev) != 0) {
            coord_log("epoll_ctl: %s", strerror(errno));
            drop(c, NULL);
        }
    }
}

static void bury(void)
{
    while (g.graveyard) {
        struct client *c = g.graveyard;
        g.graveyard = c->grave;
        coord_rbuf_free(&c->in);
        free(c->out);
        free(c);
    }
}

static void on_timers(void)
{
    int64_t now = now_ms();
    log_rejected_flush();
    if (g.listen_paused && now >= g.listen_resume) {
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &listen_marker};
        if (epoll_ctl(g.epfd, EPOLL_CTL_ADD, g.lfd, &ev) == 0)
            g.listen_paused = 0;
        else
            g.listen_resume = now + 100;
    }
    if (g.nnew > 0) {
        for (struct client *c = g.clients, *next; c; c = next) {
            next = c->next;
            if (c->role == ROLE_NEW && !c->closing && now >= c->hello_deadline) {
                log_rejected("rejected %s: no HELLO within %d s", c->peer, HELLO_TIMEOUT_MS / 1000);
                drop(c, NULL);
            }
        }
    }
    if (g.attach_deadline && !g.ever_connected && now >= g.attach_deadline) {
        coord_log("no rank connected within %d s of --attach: is a job running with the checkpoint directory %s? "
                  "Exiting (start the job with mana-launch --ckpt-dir %s, or attach to the directory it uses)",
                  ATTACH_WAIT_MS / 1000, g.dir, g.dir);
        g.exit_status = 1;
        g.quit = 1;
    }
    if (g.interval > 0 && g.next_interval && now >= g.next_interval) {
        g.next_interval = now + (int64_t)g.interval * 1000;
        char err[300];
        if (g.ck.active)
            coord_log("periodic checkpoint skipped: generation %" PRIu64 " is still being written", g.ck.gen);
        else if (ckpt_start(0, NULL, "--interval", err, sizeof err) < 0)
            coord_log("periodic checkpoint skipped: %s", err);
    }
}

static int next_timeout(void)
{
    int64_t now = now_ms(), t = -1;
    if (g.nnew > 0 || g.reject_quiet || (g.attach_deadline && !g.ever_connected))
        t = 1000;
    if (g.listen_paused)
        t = 100;
    if (g.interval > 0 && g.next_interval) {
        int64_t d = g.next_interval - now;
        if (d < 0)
            d = 0;
        if (t < 0 || d < t)
            t = d;
    }
    return t > 1000000 ? 1000000 : (int)t;
}

/* ---- start-up ------------------------------------------------------------- */

static void usage(FILE *f)
{
    fprintf(f,
            "Usage: mana-coordinator [OPTIONS]\n"
            "The checkpoint coordinator of one MANA job: ranks connect to it, it tells them\n"
            "when to checkpoint and writes each complete generation's MANIFEST.\n"
            "\n"
            "  --ckpt-dir DIR      checkpoint directory (default $MANA_CKPT_DIR, else\n"
            "                      ./mana-checkpoints; created, mode 0700)\n"
            "  --listen ADDR       address to listen on (default 127.0.0.1)\n"
            "  --port N            TCP port (default 0: any free port)\n"
            "  --nranks N          ranks in the job (default: from the first rank's HELLO)\n"
            "  --interval SECONDS  checkpoint every SECONDS (default 0: only on request)\n"
            "  --keep K            keep the K newest complete generations (default 0: all)\n"
            "  --exit-when-idle    exit once every rank that connected has left\n"
            "  --watch-pid PID     exit when process PID ends (mana-launch: rank 0)\n"
            "  --daemon            print \"HOST:PORT TOKEN\", then run in the background,\n"
            "                      logging to CKPT_DIR/coordinator.log\n"
            "  --attach            for a job already running whose coordinator died: CKPT_DIR\n"
            "                      must exist; runs in the background (log in\n"
            "                      CKPT_DIR/coordinator.log) with a new token; the ranks\n"
            "                      find it within seconds; implies --exit-when-idle, and it\n"
            "                      exits if no rank connects within 60 s\n"
            "  --help, --version\n"
            "\n"
            "It writes its address and the job's token to CKPT_DIR/.coordinator (mode\n"
            "0600), where mana-ckpt and the ranks find them. Exit status: 0 normal end,\n"
            "1 cannot start (the message says why), 2 usage.\n");
}

static int parse_num(const char *s, long lo, long hi, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi)
        return -1;
    *out = v;
    return 0;
}

static int mkdir_p(const char *path, char *err, size_t errlen)
{
    char buf[PATH_MAX];
    if (fmt(buf, sizeof buf, "%s", path) < 0) {
        fmt(err, errlen, "the checkpoint directory path is too long");
        return -1;
    }
    for (char *p = buf + 1;; p++) {
        if (*p == '/' || *p == '\0') {
            char save = *p;
            *p = '\0';
            if (mkdir(buf, 0700) != 0 && errno != EEXIST) {
                int e = errno;
                fmt(err, errlen, "cannot create the checkpoint directory %s (%s)%s", buf, strerror(e), hint(e));
                return -1;
            }
            *p = save;
            if (!save)
                break;
        }
    }
    struct stat st;
    if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode)) {
        fmt(err, errlen, "the checkpoint directory %s is not a directory: use another --ckpt-dir", path);
        return -1;
    }
    return 0;
}

/* Refuses to start when a live coordinator already serves DIR. */
static int check_other(void)
{
    char hp[300], tok[64], err[600];
    struct stat st;
    if (stat(g.file, &st) != 0)
        return 0;
    int r = coord_client_read_file(g.dir, hp, sizeof hp, tok, sizeof tok, err, sizeof err);
    if (r == 0) {
        int fd = coord_client_dial(hp, 1000, NULL, err, sizeof err);
        if (fd >= 0) {
            close(fd);
            coord_log("another coordinator is running for %s at %s (its address is in %s): stop it, or use another "
                 "--ckpt-dir",
                 g.dir, hp, g.file);
            return -1;
        }
    }
    coord_log("replacing the stale %s (no coordinator answers there)", g.file);
    unlink(g.file);
    return 0;
}

static int open_listener(const char *addr, const char *port)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE},
                    *res;
    int rc = getaddrinfo(addr, port, &hints, &res);
    if (rc != 0) {
        coord_log("cannot listen on %s (%s): give an address of this host with --listen", addr, gai_strerror(rc));
        return -1;
    }
    int fd = socket(res->ai_family, res->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, res->ai_protocol);
    int one = 1;
    if (fd >= 0)
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (fd < 0 || bind(fd, res->ai_addr, res->ai_addrlen) != 0 || listen(fd, SOMAXCONN) != 0) {
        int e = errno;
        coord_log("cannot listen on %s port %s (%s)%s", addr, port, strerror(e),
             e == EADDRINUSE ? ": the port is taken; use --port 0 for any free port" : "");
        if (fd >= 0)
            close(fd);
        freeaddrinfo(res);
        return -1;
    }
    freeaddrinfo(res);
    struct sockaddr_storage sa;
    socklen_t sl = sizeof sa;
    getsockname(fd, (struct sockaddr *)&sa, &sl);
    char h[INET6_ADDRSTRLEN], p[8];
    getnameinfo((struct sockaddr *)&sa, sl, h, sizeof h, p, sizeof p, NI_NUMERICHOST | NI_NUMERICSERV);
    if (strcmp(h, "0.0.0.0") == 0 || strcmp(h, "::") == 0) {
        /* Listening on every interface: name the host, which the other
         * nodes can resolve. */
        gethostname(h, sizeof h - 1);
        h[sizeof h - 1] = '\0';
    }
    if (strchr(h, ':'))
        fmt(g.hostport, sizeof g.hostport, "[%s]:%s", h, p);
    else
        fmt(g.hostport, sizeof g.hostport, "%s:%s", h, p);
    return fd;
}

static void remove_file(void)
{
    char buf[600] = "";
    FILE *f = fopen(g.file, "re");
    if (!f)
        return;
    if (!fgets(buf, sizeof buf, f))
        buf[0] = '\0';
    fclose(f);
    if (strcmp(buf, g.file_line) == 0)
        unlink(g.file);
}

/* The signal that tells the ranks of this job to checkpoint and exit:
 * MANA_CKPT_SIGNAL (lower-half/ckpt_thread.h), which mana-launch --signal
 * sets before it starts the coordinator, else SIGUSR1. */
static int job_ckpt_signal(void)
{
    const char *s = getenv("MANA_CKPT_SIGNAL");
    if (s == NULL || *s == '\0')
        return SIGUSR1;
    char *end;
    long v = strtol(s, &end, 10);
    if (*end != '\0' || v <= 0 || v >= SIGRTMIN || v == SIGKILL || v == SIGSTOP)
        return 0;
    return (int)v;
}

int main(int argc, char **argv)
{
    const char *dir = NULL, *listen_addr = "127.0.0.1";
    long port = 0, nranks = 0, interval = 0, keep = 0;
    int daemonize = 0, attach = 0;
    long watch_pid = 0;
    enum { O_DIR = 256, O_LISTEN, O_PORT, O_NRANKS, O_INTERVAL, O_KEEP, O_IDLE, O_DAEMON, O_HELP, O_VERSION, O_WATCH,
           O_ATTACH };
    static const struct option opts[] = {
        {"ckpt-dir", required_argument, NULL, O_DIR},  {"listen", required_argument, NULL, O_LISTEN},
        {"port", required_argument, NULL, O_PORT},     {"nranks", required_argument, NULL, O_NRANKS},
        {"interval", required_argument, NULL, O_INTERVAL}, {"keep", required_argument, NULL, O_KEEP},
        {"exit-when-idle", no_argument, NULL, O_IDLE}, {"daemon", no_argument, NULL, O_DAEMON},
        {"watch-pid", required_argument, NULL, O_WATCH}, {"attach", no_argument, NULL, O_ATTACH},
        {"help", no_argument, NULL, O_HELP},           {"version", no_argument, NULL, O_VERSION},
        {NULL, 0, NULL, 0}};
    int o;
    while ((o = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        int bad = 0;
        switch (o) {
        case O_DIR: dir = optarg; break;
        case O_LISTEN: listen_addr = optarg; break;
        case O_PORT: bad = parse_num(optarg, 0, 65535, &port); break;
        case O_NRANKS: bad = parse_num(optarg, 1, 10000000, &nranks); break;
        case O_INTERVAL: bad = parse_num(optarg, 0, 100000000, &interval); break;
        case O_KEEP: bad = parse_num(optarg, 0, 1000000, &keep); break;
        case O_IDLE: g.exit_when_idle = 1; break;
        case O_WATCH: bad = parse_num(optarg, 1, 1 << 30, &watch_pid); break;
        case O_DAEMON: daemonize = 1; break;
        case O_ATTACH: attach = 1; break;
        case 'h':
        case O_HELP: usage(stdout); return 0;
        case O_VERSION: puts(VERSION_STRING); return 0;
        default: usage(stderr); return 2;
        }
        if (bad) {
            fprintf(stderr, "mana-coordinator: bad value '%s' for --%s\n", optarg, opts[o - O_DIR].name);
            usage(stderr);
            return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "mana-coordinator: unexpected argument '%s'\n", argv[optind]);
        usage(stderr);
        return 2;
    }
    if (!dir || !*dir)
        dir = getenv("MANA_CKPT_DIR");
    if (!dir || !*dir)
        dir = "./mana-checkpoints";
    char err[2 * PATH_MAX + 400];
    struct stat dst;
    errno = 0;
    if (attach && (stat(dir, &dst) != 0 || !S_ISDIR(dst.st_mode))) {
        /* A job that runs has its directory: a missing one means a typo,
         * and making it would leave a coordinator no rank will find. */
        coord_log("--attach: the checkpoint directory %s does not exist (%s): give the --ckpt-dir of the running job",
                  dir, errno ? strerror(errno) : "not a directory");
        return 1;
    }
    if (attach) {
        g.exit_when_idle = 1;
        if (!daemonize)
            daemonize = 2; /* in the background, but the token stays off the terminal */
    }
    if (mkdir_p(dir, err, sizeof err) != 0) {
        coord_log("%s", err);
        return 1;
    }
    if (!realpath(dir, g.dir)) {
        coord_log("cannot resolve the checkpoint directory %s (%s)", dir, strerror(errno));
        return 1;
    }
    if (strlen(g.dir) > PATH_MAX - 128) {
        coord_log("the checkpoint directory path %s is too long (over %d bytes): use a shorter --ckpt-dir", g.dir,
                  PATH_MAX - 128);
        return 1;
    }
    /* The token and the images go there: one someone else may write
     * (or that is not ours) is refused, not chmod-ed behind the user's
     * back. What we create there is 0700 / 0600 whatever the umask. */
    if (trust_check_path(g.dir, err, sizeof err) != 0) {
        coord_log("checkpoint directory: %s, or use another --ckpt-dir", err);
        return 1;
    }
    fmt(g.file, sizeof g.file, "%s/%s", g.dir, COORD_FILE_NAME);
    signal(SIGPIPE, SIG_IGN);
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    g.max_clients = 1 << 30;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < (1u << 30))
        g.max_clients = rl.rlim_cur > 2 * FD_RESERVE ? (int)rl.rlim_cur - FD_RESERVE : (int)rl.rlim_cur / 2;
    if (check_other() != 0)
        return 1;
    unsigned char rnd[COORD_TOKEN_HEX / 2];
    if (getrandom(rnd, sizeof rnd, 0) != (ssize_t)sizeof rnd) {
        coord_log("cannot make the job's token: getrandom failed (%s)", strerror(errno));
        return 1;
    }
    for (size_t i = 0; i < sizeof rnd; i++)
        fmt(g.token + 2 * i, 3, "%02x", rnd[i]);
    char portstr[8];
    fmt(portstr, sizeof portstr, "%ld", port);
    g.lfd = open_listener(listen_addr, portstr);
    if (g.lfd < 0)
        return 1;
    fmt(g.file_line, sizeof g.file_line, "%s %s\n", g.hostport, g.token);
    if (write_atomic(g.dir, COORD_FILE_NAME, "address", 0600, write_string, g.file_line, NULL, err, sizeof err) != 0) {
        coord_log("%s", err);
        return 1;
    }
    if (daemonize) {
        char logp[PATH_MAX + 32];
        fmt(logp, sizeof logp, "%s/coordinator.log", g.dir);
        int logfd = open(logp, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
        int nullfd = open("/dev/null", O_RDWR | O_CLOEXEC);
        if (logfd >= 0)
            (void)fchmod(logfd, 0600); /* a log left by an older MANA */
        if (logfd < 0 || nullfd < 0) {
            coord_log("cannot open the log file %s (%s)", logp, strerror(errno));
            remove_file();
            return 1;
        }
        fflush(stdout);
        pid_t pid = fork();
        if (pid < 0) {
            coord_log("cannot fork to run in the background (%s)", strerror(errno));
            remove_file();
            return 1;
        }
        if (pid > 0) {
            if (daemonize == 1)
                printf("%s %s\n", g.hostport, g.token);
            else
                printf("mana-coordinator: attached to %s: listening on %s (pid %ld), its address and new token in "
                       "%s; the job's ranks connect within a few seconds (mana-ckpt --ckpt-dir %s --status); log "
                       "in %s/coordinator.log\n",
                       g.dir, g.hostport, (long)pid, g.file, g.dir, g.dir);
            fflush(stdout);
            _exit(0);
        }
        setsid();
        dup2(nullfd, 0);
        dup2(nullfd, 1);
        dup2(logfd, 2);
        close(nullfd);
        close(logfd);
    }
    g.nranks = 0;
    if (nranks > 0) {
        g.nranks = (int)nranks;
        if (alloc_rank_tables((int)nranks) != 0) {
            coord_log("out of memory for %ld ranks", nranks);
            remove_file();
            return 1;
        }
    }
    g.interval = (int)interval;
    g.keep = (int)keep;
    g.next_interval = interval ? now_ms() + interval * 1000 : 0;
    g.last_gen = scan_highest_gen();
    g.latest_gen = read_latest();
    if (attach)
        g.attach_deadline = now_ms() + ATTACH_WAIT_MS;

    /* Started by a rank (--watch-pid), the coordinator is one of the job's
     * processes, and a batch system may send the job's checkpoint signal
     * to every one of them: Slurm's proctrack/cgroup does, for `scancel
     * --signal` and for the SIGTERM of partition preemption (mana-launch
     * --signal TERM). The ranks take it and ask for the checkpoint, which
     * needs the coordinator: it ignores that signal, and ends with rank 0. */
    int ckpt_sig = watch_pid != 0 ? job_ckpt_signal() : 0;
    if (ckpt_sig != 0)
        signal(ckpt_sig, SIG_IGN);
    sigset_t ss;
    sigemptyset(&ss);
    const int stop_sigs[] = {SIGTERM, SIGINT, SIGHUP};
    for (size_t i = 0; i < sizeof stop_sigs / sizeof stop_sigs[0]; i++)
        if (stop_sigs[i] != ckpt_sig)
            sigaddset(&ss, stop_sigs[i]);
    sigprocmask(SIG_BLOCK, &ss, NULL);
    g.sigfd = signalfd(-1, &ss, SFD_NONBLOCK | SFD_CLOEXEC);
    g.epfd = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &listen_marker};
    struct epoll_event sev = {.events = EPOLLIN, .data.ptr = &signal_marker};
    if (g.sigfd < 0 || g.epfd < 0 || epoll_ctl(g.epfd, EPOLL_CTL_ADD, g.lfd, &ev) != 0 ||
        epoll_ctl(g.epfd, EPOLL_CTL_ADD, g.sigfd, &sev) != 0) {
        coord_log("cannot set up the event loop (%s)", strerror(errno));
        remove_file();
        return 1;
    }
    char ranks[32];
    if (nranks)
        fmt(ranks, sizeof ranks, "%ld", nranks);
    else
        fmt(ranks, sizeof ranks, "any number of");
    coord_log("listening on %s (pid %ld), checkpoint directory %s, %s ranks, interval %d s, keep %d", g.hostport,
         (long)getpid(), g.dir, ranks, g.interval, g.keep);
    if (nranks)
        coord_log("expecting %ld ranks", nranks);
    if (attach)
        coord_log("attached (--attach) to the job checkpointing to %s: the next generation is %" PRIu64
                  ", latest is %" PRIu64 " (0: none); waiting for its ranks", g.dir, g.last_gen + 1, g.latest_gen);

    /* The process that started us (rank 0) ending means the job is over,
     * even if no rank ever connected (a program that never calls
     * MPI_Init, a job that failed at start). */
    int watch_fd = -1;
    if (watch_pid != 0) {
        watch_fd = (int)syscall(SYS_pidfd_open, (pid_t)watch_pid, 0);
        struct epoll_event wev = {.events = EPOLLIN, .data.ptr = &watch_marker};
        if (watch_fd < 0 || epoll_ctl(g.epfd, EPOLL_CTL_ADD, watch_fd, &wev) != 0) {
            coord_log("cannot watch process %ld (%s); it has ended already, or the kernel is older than 5.3", watch_pid,
                      strerror(errno));
            remove_file();
            return 1;
        }
    }

    struct epoll_event evs[256];
    while (!g.quit) {
        int n = epoll_wait(g.epfd, evs, 256, next_timeout());
        if (n < 0 && errno != EINTR) {
            coord_log("epoll_wait failed (%s)", strerror(errno));
            break;
        }
        for (int i = 0; i < n && !g.quit; i++) {
            void *p = evs[i].data.ptr;
            if (p == &listen_marker) {
                on_accept();
            } else if (p == &watch_marker) {
                coord_log("process %ld, which started this job, has ended; exiting", watch_pid);
                g.quit = 1;
            } else if (p == &signal_marker) {
                struct signalfd_siginfo si;
                if (read(g.sigfd, &si, sizeof si) == (ssize_t)sizeof si) {
                    coord_log("stopping on signal %s", strsignal((int)si.ssi_signo));
                    g.quit = 1;
                }
            } else {
                struct client *c = p;
                if (c->dead)
                    continue;
                if (evs[i].events & EPOLLOUT)
                    flush_out(c);
                if (!c->dead && (evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)))
                    on_readable(c);
            }
        }
        on_timers();
        bury();
    }
    if (g.ck.active)
        ckpt_fail("the coordinator stopped during the checkpoint", 1);
    /* Give what is queued (RESULT, EXIT, KILL) a last chance to leave. */
    for (struct client *c = g.clients; c; c = c->next)
        if (c->out_len)
            (void)!send(c->fd, c->out, c->out_len, MSG_NOSIGNAL | MSG_DONTWAIT);
    remove_file();
    coord_log("exiting");
    return g.exit_status;
}

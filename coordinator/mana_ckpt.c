/* mana-ckpt: asks the job's coordinator for a checkpoint (and exit), its
 * status, a new interval, or to kill the job. A control client of the
 * protocol in docs/coordinator-protocol.md.
 *
 * Exit status: 0 success; 1 the checkpoint failed, was refused (busy, a
 * rank missing) or its result did not come in time; 2 usage; 3 the
 * coordinator cannot be found, reached, or refused the token. */
#define _GNU_SOURCE
#include "coord_client.h"
#include "coord_proto.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

enum { EXIT_FAILED = 1, EXIT_USAGE = 2, EXIT_UNREACHABLE = 3 };

static struct {
    char hostport[512];
    char where[600]; /* where the address came from, for messages */
    int fd;
    struct coord_rbuf rb;
    int64_t deadline;
    long timeout;
    char ckdir[4200]; /* the checkpoint directory, for messages ("CKPT_DIR" if unknown) */
    int ckdir_known;  /* not with --coord alone */
    uint64_t gen;     /* the generation STARTED named, 0 before */
} s;

/* What a restart would take now, for a message after a checkpoint whose
 * outcome mana-ckpt could not learn: "DIR/latest names gen-N". */
static const char *latest_now(char *buf, size_t len)
{
    char path[4300], name[64] = "";
    if (!s.ckdir_known) {
        snprintf(buf, len, "CKPT_DIR/latest names the generation a restart uses");
        return buf;
    }
    snprintf(path, sizeof path, "%s/latest", s.ckdir);
    FILE *f = fopen(path, "re");
    if (f == NULL) {
        snprintf(buf, len, "%s has no latest: there is no complete generation to restart from", s.ckdir);
        return buf;
    }
    if (fgets(name, sizeof name, f) == NULL)
        name[0] = '\0';
    fclose(f);
    name[strcspn(name, "\n")] = '\0';
    snprintf(buf, len, "%s/latest names %s, which a restart uses", s.ckdir, name);
    return buf;
}

/* What to do when no coordinator answers: the job may still be running
 * (its coordinator died), and a new one can be attached to it. */
static const char *attach_hint(const char *dir, char *buf, size_t len)
{
    if (!dir || !*dir)
        dir = getenv("MANA_CKPT_DIR");
    snprintf(buf, len,
             "If the job is still running (its coordinator died), start a new coordinator for it with: "
             "mana-coordinator --attach --ckpt-dir %s",
             dir && *dir ? dir : "CKPT_DIR");
    return buf;
}

static void die(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3), noreturn));
static void die(int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("mana-ckpt: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(code);
}

static void usage(FILE *f)
{
    fprintf(f, "Usage: mana-ckpt [WHERE] ACTION [--timeout SECONDS]\n"
               "Talks to the checkpoint coordinator of a running MANA job.\n"
               "\n"
               "ACTION, one of:\n"
               "  --checkpoint        write a checkpoint generation and wait until it is durable\n"
               "  --checkpoint --exit the same, then the ranks exit (preemption, requeue)\n"
               "  --status            print the job's ranks, state and latest generation\n"
               "  --interval N        checkpoint every N seconds from now on (0: off)\n"
               "  --kill              tell every rank to exit now, without a checkpoint\n"
               "\n"
               "WHERE (the first that is given):\n"
               "  --coord HOST:PORT   the coordinator's address; its token from\n"
               "                      MANA_COORD_TOKEN (or --token T, which other users\n"
               "                      may see in ps for a moment: prefer the variable)\n"
               "  --ckpt-dir DIR      read them from DIR/.coordinator\n"
               "  MANA_COORD and MANA_COORD_TOKEN in the environment\n"
               "  $MANA_CKPT_DIR/.coordinator, else ./mana-checkpoints/.coordinator\n"
               "\n"
               "  --timeout SECONDS   give up waiting after this long (default 600)\n"
               "  --help, --version\n"
               "\n"
               "Exit status: 0 success, 1 the checkpoint failed or was refused, 2 usage,\n"
               "3 the coordinator cannot be reached or refused the token.\n");
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The next line from the coordinator, parsed; dies on timeout or loss. */
static void next_msg(struct coord_msg *m, const char *waiting_for)
{
    char *line, err[300];
    for (;;) {
        int r = coord_rbuf_line(&s.rb, &line);
        if (r < 0)
            die(EXIT_FAILED, "the coordinator at %s sent a line longer than %d bytes: protocol error", s.hostport,
                COORD_LINE_MAX);
        if (r == 1) {
            if (coord_msg_parse(line, m, err, sizeof err) < 0)
                die(EXIT_FAILED, "the coordinator at %s sent a bad line (%s): are mana-ckpt and the coordinator "
                    "of the same MANA version?", s.hostport, err);
            return;
        }
        int64_t left = s.deadline - now_ms();
        if (left <= 0)
            die(EXIT_FAILED,
                "no %s from the coordinator at %s within %ld s; it may still be working: see mana-ckpt --status "
                "and %s/coordinator.log, or use a longer --timeout",
                waiting_for, s.hostport, s.timeout, s.ckdir);
        struct pollfd p = {.fd = s.fd, .events = POLLIN};
        int pr = poll(&p, 1, left > 1000000 ? 1000000 : (int)left);
        if (pr < 0 && errno != EINTR)
            die(EXIT_FAILED, "poll: %s", strerror(errno));
        if (pr <= 0)
            continue;
        long n = coord_rbuf_fill(&s.rb, s.fd);
        char now[4400];
        if (n == 0 && s.gen != 0)
            /* The coordinator died during the checkpoint: whether the
             * generation counts is what latest says, so say it. */
            die(EXIT_FAILED,
                "the coordinator at %s closed the connection before the result of generation %" PRIu64
                " (it exited or was killed: see %s/coordinator.log), so that generation may be incomplete; %s",
                s.hostport, s.gen, s.ckdir, latest_now(now, sizeof now));
        if (n == 0)
            die(EXIT_FAILED,
                "the coordinator at %s closed the connection before its %s (it exited or was killed: see "
                "%s/coordinator.log)",
                s.hostport, waiting_for, s.ckdir);
        if (n < 0 && errno != EINTR && errno != EAGAIN)
            die(EXIT_FAILED, "lost the connection to the coordinator at %s (%s)", s.hostport, strerror(errno));
    }
}

static void send_fmt(struct coord_fmt *f)
{
    long n = coord_fmt_end(f);
    if (n < 0)
        die(EXIT_USAGE, "a value is too long for the protocol");
    if (coord_client_write_all(s.fd, f->buf, (size_t)n) < 0)
        die(EXIT_UNREACHABLE, "cannot send to the coordinator at %s (%s)", s.hostport, strerror(errno));
}

static const char *str_or(const struct coord_msg *m, const char *key, char *buf, size_t len, const char *def)
{
    char err[200];
    if (!coord_msg_raw(m, key) || coord_msg_str(m, key, buf, len, err, sizeof err) < 0)
        snprintf(buf, len, "%s", def);
    return buf;
}

static uint64_t u64_or(const struct coord_msg *m, const char *key, uint64_t def)
{
    uint64_t v;
    char err[200];
    return coord_msg_u64(m, key, &v, err, sizeof err) == 0 ? v : def;
}

static int do_checkpoint(int exit_after)
{
    char line[256], dir[4200], msg[COORD_MSG_MAX + 16];
    struct coord_fmt f;
    struct coord_msg m;
    coord_fmt_begin(&f, line, sizeof line, "CHECKPOINT");
    coord_fmt_int(&f, "exit", exit_after);
    send_fmt(&f);
    next_msg(&m, "answer to CHECKPOINT");
    if (strcmp(m.verb, "STARTED") == 0) {
        s.gen = u64_or(&m, "gen", 0);
        printf("checkpoint generation %" PRIu64 " started in %s (%" PRIu64 " ranks)\n", u64_or(&m, "gen", 0),
               str_or(&m, "dir", dir, sizeof dir, "?"), u64_or(&m, "nranks", 0));
        fflush(stdout);
        next_msg(&m, "checkpoint result");
    }
    if (strcmp(m.verb, "RESULT") != 0)
        die(EXIT_FAILED, "the coordinator at %s answered %s, not RESULT: protocol error", s.hostport, m.verb);
    uint64_t gen = u64_or(&m, "gen", 0);
    str_or(&m, "msg", msg, sizeof msg, "no reason given");
    if (u64_or(&m, "ok", 0) == 1) {
        printf("checkpoint generation %" PRIu64 " written to %s: %" PRIu64 " ranks, %" PRIu64 " bytes\n", gen,
               str_or(&m, "dir", dir, sizeof dir, "?"), u64_or(&m, "nranks", 0), u64_or(&m, "bytes", 0));
        if (exit_after)
            printf("the ranks were told to exit\n");
        return 0;
    }
    if (u64_or(&m, "busy", 0) == 1)
        die(EXIT_FAILED, "the coordinator at %s is busy: %s", s.hostport, msg);
    if (gen == 0)
        die(EXIT_FAILED, "the coordinator at %s cannot checkpoint now: %s", s.hostport, msg);
    uint64_t latest = u64_or(&m, "latest", 0);
    char lname[64];
    coord_gen_name(latest, lname, sizeof lname);
    fprintf(stderr, "mana-ckpt: checkpoint generation %" PRIu64 " failed: %s\n", gen, msg);
    if (latest)
        fprintf(stderr, "mana-ckpt: the latest complete generation is still %s; a restart uses it\n", lname);
    else
        fprintf(stderr, "mana-ckpt: there is no complete generation yet\n");
    if (coord_msg_raw(&m, "dir"))
        fprintf(stderr, "mana-ckpt: what was written is in %s (for diagnosis; it is never restarted from)\n",
                str_or(&m, "dir", dir, sizeof dir, "?"));
    if (exit_after)
        fprintf(stderr, "mana-ckpt: the ranks go on running\n");
    return EXIT_FAILED;
}

static int do_status(void)
{
    struct coord_msg m;
    char dir[4200], state[32];
    if (coord_client_write_all(s.fd, "STATUS\n", 7) < 0)
        die(EXIT_UNREACHABLE, "cannot send to the coordinator at %s (%s)", s.hostport, strerror(errno));
    next_msg(&m, "STATUS");
    if (strcmp(m.verb, "STATUS") != 0)
        die(EXIT_FAILED, "the coordinator at %s answered %s, not STATUS: protocol error", s.hostport, m.verb);
    uint64_t nranks = u64_or(&m, "nranks", 0), latest = u64_or(&m, "latest", 0);
    uint64_t interval = u64_or(&m, "interval", 0), keep = u64_or(&m, "keep", 0);
    str_or(&m, "dir", dir, sizeof dir, "?");
    str_or(&m, "state", state, sizeof state, "?");
    printf("coordinator: %s (pid %" PRIu64 ")\n", s.hostport, u64_or(&m, "pid", 0));
    printf("checkpoint directory: %s\n", dir);
    if (nranks)
        printf("ranks: %" PRIu64 " of %" PRIu64 " connected\n", u64_or(&m, "connected", 0), nranks);
    else
        printf("ranks: none connected yet\n");
    if (strcmp(state, "checkpoint") == 0) {
        printf("state: writing generation %" PRIu64 " (%" PRIu64 " of %" PRIu64 " ranks done)\n",
               u64_or(&m, "gen", 0), u64_or(&m, "done", 0), nranks);
        /* While the ranks agree on a consistent point: whom they wait for. */
        static char waitfor[COORD_LINE_MAX];
        uint64_t nwaiting = u64_or(&m, "waiting", 0);
        str_or(&m, "waitfor", waitfor, sizeof waitfor, "");
        if (nwaiting != 0) {
            printf("waiting on %" PRIu64 " rank%s:\n", nwaiting, nwaiting == 1 ? "" : "s");
            for (char *line = strtok(waitfor, "\n"); line != NULL; line = strtok(NULL, "\n"))
                printf("  %s\n", line);
        }
    } else {
        printf("state: %s\n", state);
    }
    if (latest) {
        char name[64];
        coord_gen_name(latest, name, sizeof name);
        printf("latest complete generation: %" PRIu64 " (%s/%s)\n", latest, dir, name);
    } else {
        printf("latest complete generation: none\n");
    }
    if (interval)
        printf("interval: %" PRIu64 " s\n", interval);
    else
        printf("interval: off\n");
    if (keep)
        printf("keep: %" PRIu64 " newest generations\n", keep);
    else
        printf("keep: all generations\n");
    return 0;
}

static int do_simple(const char *verb, long arg)
{
    char line[128], msg[COORD_MSG_MAX + 16];
    struct coord_fmt f;
    struct coord_msg m;
    coord_fmt_begin(&f, line, sizeof line, verb);
    if (arg >= 0)
        coord_fmt_int(&f, "seconds", arg);
    send_fmt(&f);
    next_msg(&m, "answer");
    if (strcmp(m.verb, "RESULT") != 0)
        die(EXIT_FAILED, "the coordinator at %s answered %s, not RESULT: protocol error", s.hostport, m.verb);
    if (u64_or(&m, "ok", 0) != 1)
        die(EXIT_FAILED, "the coordinator at %s refused %s: %s", s.hostport, verb,
            str_or(&m, "msg", msg, sizeof msg, "no reason given"));
    if (strcmp(verb, "KILL") == 0)
        printf("told %" PRIu64 " ranks to exit now\n", u64_or(&m, "killed", 0));
    else if (arg > 0)
        printf("checkpoint interval set to %ld s\n", arg);
    else
        printf("periodic checkpoints turned off\n");
    return 0;
}

int main(int argc, char **argv)
{
    const char *dir = NULL, *coord = NULL, *token = NULL;
    static char token_buf[128];
    int act_ckpt = 0, act_exit = 0, act_status = 0, act_kill = 0, nact = 0;
    long interval = -1;
    s.timeout = 600;
    enum { O_DIR = 256, O_COORD, O_TOKEN, O_CKPT, O_EXIT, O_STATUS, O_INTERVAL, O_KILL, O_TIMEOUT, O_HELP, O_VERSION };
    static const struct option opts[] = {
        {"ckpt-dir", required_argument, NULL, O_DIR},     {"coord", required_argument, NULL, O_COORD},
        {"token", required_argument, NULL, O_TOKEN},      {"checkpoint", no_argument, NULL, O_CKPT},
        {"exit", no_argument, NULL, O_EXIT},              {"status", no_argument, NULL, O_STATUS},
        {"interval", required_argument, NULL, O_INTERVAL}, {"kill", no_argument, NULL, O_KILL},
        {"timeout", required_argument, NULL, O_TIMEOUT},  {"help", no_argument, NULL, O_HELP},
        {"version", no_argument, NULL, O_VERSION},        {NULL, 0, NULL, 0}};
    int o;
    char *end;
    while ((o = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (o) {
        case O_DIR: dir = optarg; break;
        case O_COORD: coord = optarg; break;
        case O_TOKEN:
            /* Other users read command lines (ps): keep a copy and blank
             * the argument. It was visible from the exec to here, so the
             * usage prefers MANA_COORD_TOKEN or the .coordinator file. */
            snprintf(token_buf, sizeof token_buf, "%s", optarg);
            memset(optarg, 'x', strlen(optarg));
            token = token_buf;
            break;
        case O_CKPT: act_ckpt = 1; nact++; break;
        case O_EXIT: act_exit = 1; break;
        case O_STATUS: act_status = 1; nact++; break;
        case O_KILL: act_kill = 1; nact++; break;
        case O_INTERVAL:
            errno = 0;
            interval = strtol(optarg, &end, 10);
            if (errno || end == optarg || *end || interval < 0 || interval > 100000000) {
                fprintf(stderr, "mana-ckpt: --interval wants a number of seconds (0 turns it off), not '%s'\n",
                        optarg);
                return EXIT_USAGE;
            }
            nact++;
            break;
        case O_TIMEOUT:
            errno = 0;
            s.timeout = strtol(optarg, &end, 10);
            if (errno || end == optarg || *end || s.timeout < 1 || s.timeout > 100000000) {
                fprintf(stderr, "mana-ckpt: --timeout wants a number of seconds from 1, not '%s'\n", optarg);
                return EXIT_USAGE;
            }
            break;
        case 'h':
        case O_HELP: usage(stdout); return 0;
        case O_VERSION: puts("mana-ckpt 0.1.0"); return 0;
        default: usage(stderr); return EXIT_USAGE;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "mana-ckpt: unexpected argument '%s'\n", argv[optind]);
        usage(stderr);
        return EXIT_USAGE;
    }
    if (act_exit && !act_ckpt) {
        fprintf(stderr, "mana-ckpt: --exit goes with --checkpoint (checkpoint, then exit)\n");
        return EXIT_USAGE;
    }
    if (nact != 1) {
        fprintf(stderr, "mana-ckpt: %s\n",
                nact ? "give only one of --checkpoint, --status, --interval, --kill"
                     : "say what to do: --checkpoint, --checkpoint --exit, --status, --interval N or --kill");
        usage(stderr);
        return EXIT_USAGE;
    }

    char tok[128], err[4400], ahint[4600];
    if (coord) {
        if (!token)
            token = getenv("MANA_COORD_TOKEN");
        if (!token || !*token) {
            fprintf(stderr, "mana-ckpt: --coord needs the job's token: --token T or MANA_COORD_TOKEN (it is in "
                            "CKPT_DIR/.coordinator)\n");
            return EXIT_USAGE;
        }
        snprintf(s.hostport, sizeof s.hostport, "%s", coord);
        snprintf(tok, sizeof tok, "%s", token);
        snprintf(s.where, sizeof s.where, "Its address is given by --coord");
        snprintf(s.ckdir, sizeof s.ckdir, "%s", dir ? dir : "CKPT_DIR");
        s.ckdir_known = dir != NULL;
    } else if (token) {
        fprintf(stderr, "mana-ckpt: --token goes with --coord HOST:PORT\n");
        return EXIT_USAGE;
    } else {
        int r;
        if (dir)
            r = coord_client_read_file(dir, s.hostport, sizeof s.hostport, tok, sizeof tok, err, sizeof err);
        else
            r = coord_client_find(NULL, s.hostport, sizeof s.hostport, tok, sizeof tok, err, sizeof err);
        if (r < 0)
            die(EXIT_UNREACHABLE, "no coordinator is reachable: %s. %s", err, attach_hint(dir, ahint, sizeof ahint));
        const char *d = dir ? dir : getenv("MANA_CKPT_DIR");
        snprintf(s.ckdir, sizeof s.ckdir, "%s", d && *d ? d : "./mana-checkpoints");
        s.ckdir_known = 1;
        if (!dir && getenv("MANA_COORD") && *getenv("MANA_COORD"))
            snprintf(s.where, sizeof s.where, "Its address is taken from MANA_COORD");
        else
            snprintf(s.where, sizeof s.where, "Its address is in %s/%s", d && *d ? d : "./mana-checkpoints",
                     COORD_FILE_NAME);
    }

    s.deadline = now_ms() + s.timeout * 1000;
    int refused = 0;
    long ct = s.timeout * 1000 < 10000 ? s.timeout * 1000 : 10000;
    s.fd = coord_client_dial(s.hostport, (int)ct, &refused, err, sizeof err);
    if (s.fd < 0)
        die(EXIT_UNREACHABLE, "no coordinator is reachable: %s; is the job running? %s. %s", err, s.where,
            attach_hint(s.ckdir_known ? s.ckdir : NULL, ahint, sizeof ahint));
    coord_rbuf_init(&s.rb, COORD_LINE_MAX);

    char line[512];
    struct coord_fmt f;
    struct coord_msg m;
    coord_fmt_begin(&f, line, sizeof line, "HELLO");
    coord_fmt_str(&f, "token", tok);
    coord_fmt_int(&f, "proto", COORD_PROTO_VERSION);
    coord_fmt_str(&f, "role", "control");
    send_fmt(&f);
    next_msg(&m, "answer to HELLO");
    if (strcmp(m.verb, "ERROR") == 0) {
        char msg[COORD_MSG_MAX + 16];
        die(EXIT_UNREACHABLE, "the coordinator at %s refused this client: %s. %s", s.hostport,
            str_or(&m, "msg", msg, sizeof msg, "no reason given"), s.where);
    }
    if (strcmp(m.verb, "WELCOME") != 0)
        die(EXIT_UNREACHABLE, "the coordinator at %s answered HELLO with %s: is that a MANA coordinator?", s.hostport,
            m.verb);

    int rc;
    if (act_ckpt)
        rc = do_checkpoint(act_exit);
    else if (act_status)
        rc = do_status();
    else if (act_kill)
        rc = do_simple("KILL", -1);
    else
        rc = do_simple("INTERVAL", interval);
    (void)coord_client_write_all(s.fd, "BYE\n", 4);
    close(s.fd);
    coord_rbuf_free(&s.rb);
    return rc;
}

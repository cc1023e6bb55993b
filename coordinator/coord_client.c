/* coord_client: a rank's side of the coordinator protocol (see
 * coord_client.h, docs/coordinator-protocol.md). Blocking I/O with
 * poll(2) for the timeouts; all parsing and formatting is coord_proto's. */
#define _GNU_SOURCE
#include "coord_client.h"
#include "coord_proto.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define CONNECT_TIMEOUT_MS 30000

struct coord_client {
    int fd;
    struct coord_rbuf rb;
    char hostport[300];
};

static int fail(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(char *err, size_t errlen, const char *fmt, ...)
{
    if (err && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return -1;
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int left_ms(int64_t deadline)
{
    if (deadline < 0)
        return -1;
    int64_t d = deadline - now_ms();
    return d < 0 ? 0 : d > 1000000000 ? 1000000000 : (int)d;
}

static int copy_out(const char *s, char *buf, size_t len)
{
    size_t n = strlen(s);
    if (n >= len)
        return -1;
    memcpy(buf, s, n + 1);
    return 0;
}

int coord_client_find(const char *ckpt_dir, char *hostport, size_t hostport_len, char *token, size_t token_len,
                      char *err, size_t errlen)
{
    const char *env_addr = getenv("MANA_COORD"), *env_tok = getenv("MANA_COORD_TOKEN");
    if (env_addr && *env_addr) {
        if (!env_tok || !*env_tok)
            return fail(err, errlen,
                        "MANA_COORD is set (%.200s) but MANA_COORD_TOKEN is not: set both (the token is in the "
                        "coordinator's .coordinator file), or unset MANA_COORD",
                        env_addr);
        if (!coord_token_valid(env_tok))
            return fail(err, errlen, "MANA_COORD_TOKEN is not a coordinator token (%d hex digits)", COORD_TOKEN_HEX);
        if (copy_out(env_addr, hostport, hostport_len) < 0 || copy_out(env_tok, token, token_len) < 0)
            return fail(err, errlen, "MANA_COORD or MANA_COORD_TOKEN is too long for the caller's buffer");
        return 0;
    }
    return coord_client_read_file(ckpt_dir, hostport, hostport_len, token, token_len, err, errlen);
}

int coord_client_read_file(const char *ckpt_dir, char *hostport, size_t hostport_len, char *token, size_t token_len,
                           char *err, size_t errlen)
{
    if (!ckpt_dir || !*ckpt_dir)
        ckpt_dir = getenv("MANA_CKPT_DIR");
    if (!ckpt_dir || !*ckpt_dir)
        ckpt_dir = "./mana-checkpoints";
    char path[4200];
    snprintf(path, sizeof path, "%s/%s", ckpt_dir, COORD_FILE_NAME);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return fail(err, errlen,
                    "cannot read the coordinator's address from %s (%s): is the job's coordinator running with "
                    "this checkpoint directory? Use --ckpt-dir, or give the address with MANA_COORD and "
                    "MANA_COORD_TOKEN",
                    path, strerror(errno));
    char buf[1024];
    ssize_t n = read(fd, buf, sizeof buf - 1);
    int e = errno;
    close(fd);
    if (n < 0)
        return fail(err, errlen, "cannot read %s (%s)", path, strerror(e));
    buf[n] = '\0';
    char hp[512], tok[128];
    if (n == (ssize_t)sizeof buf - 1 || sscanf(buf, "%511s %127s", hp, tok) != 2 || !coord_token_valid(tok) ||
        buf[n - 1] != '\n')
        return fail(err, errlen,
                    "%s is not a coordinator address file (\"HOST:PORT TOKEN\"): remove it and restart the "
                    "coordinator",
                    path);
    if (copy_out(hp, hostport, hostport_len) < 0 || copy_out(tok, token, token_len) < 0)
        return fail(err, errlen, "the address in %s is too long for the caller's buffer", path);
    return 0;
}

int coord_client_dial(const char *hostport, int timeout_ms, int *refused, char *err, size_t errlen)
{
    char host[256], port[8];
    if (refused)
        *refused = 0;
    if (coord_split_hostport(hostport, host, sizeof host, port, sizeof port, err, errlen) < 0)
        return -1;
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *res, *ai;
    int rc = getaddrinfo(host, port, &hints, &res);
    if (rc != 0)
        return fail(err, errlen, "cannot resolve the coordinator's host '%s' (%s)", host, gai_strerror(rc));
    int64_t deadline = timeout_ms < 0 ? -1 : now_ms() + timeout_ms;
    int fd = -1, last = ETIMEDOUT;
    for (ai = res; ai; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
        if (fd < 0) {
            last = errno;
            continue;
        }
        if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
            break;
        if (errno == EINPROGRESS) {
            struct pollfd p = {.fd = fd, .events = POLLOUT};
            int r;
            do
                r = poll(&p, 1, left_ms(deadline));
            while (r < 0 && errno == EINTR);
            if (r > 0) {
                int soerr = 0;
                socklen_t sl = sizeof soerr;
                getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl);
                if (soerr == 0)
                    break;
                last = soerr;
            } else {
                last = r == 0 ? ETIMEDOUT : errno;
            }
        } else {
            last = errno;
        }
        close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    if (fd < 0) {
        if (refused && last == ECONNREFUSED)
            *refused = 1;
        return fail(err, errlen, "cannot reach the coordinator at %s (%s)", hostport,
                    last == ECONNREFUSED ? "connection refused" : strerror(last));
    }
    int fl = fcntl(fd, F_GETFL);
    fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
    return fd;
}

int coord_client_write_all(int fd, const char *buf, size_t len)
{
    while (len) {
        ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        buf += n;
        len -= (size_t)n;
    }
    return 0;
}

/* Next line within DEADLINE (-1: none): 1 and *LINE, 0 timeout, -1 lost. */
static int read_line(struct coord_client *c, char **line, int64_t deadline, char *err, size_t errlen)
{
    for (;;) {
        int r = coord_rbuf_line(&c->rb, line);
        if (r == 1)
            return 1;
        if (r < 0)
            return fail(err, errlen, "the coordinator at %s sent a line longer than %d bytes: protocol error",
                        c->hostport, COORD_LINE_MAX);
        struct pollfd p = {.fd = c->fd, .events = POLLIN};
        int pr = poll(&p, 1, left_ms(deadline));
        if (pr < 0 && errno == EINTR)
            continue;
        if (pr < 0)
            return fail(err, errlen, "poll on the coordinator connection: %s", strerror(errno));
        if (pr == 0)
            return 0;
        long n = coord_rbuf_fill(&c->rb, c->fd);
        if (n == 0)
            return fail(err, errlen,
                        "the coordinator at %s closed the connection (it exited or was stopped)",
                        c->hostport);
        if (n < 0 && errno != EINTR && errno != EAGAIN)
            return fail(err, errlen, "lost the connection to the coordinator at %s (%s)", c->hostport,
                        errno == EMSGSIZE ? "line too long" : strerror(errno));
    }
}

int coord_client_connect(const char *hostport, const char *token, int rank, int nranks, struct coord_client **out,
                         char *err, size_t errlen)
{
    *out = NULL;
    if (rank < 0 || nranks < 1 || rank >= nranks)
        return fail(err, errlen, "rank %d of %d ranks is not a valid rank", rank, nranks);
    struct coord_client *c = calloc(1, sizeof *c);
    if (!c)
        return fail(err, errlen, "out of memory");
    snprintf(c->hostport, sizeof c->hostport, "%s", hostport);
    coord_rbuf_init(&c->rb, COORD_LINE_MAX);
    c->fd = coord_client_dial(hostport, CONNECT_TIMEOUT_MS, NULL, err, errlen);
    if (c->fd < 0) {
        size_t l = err ? strlen(err) : 0;
        if (err && l < errlen)
            snprintf(err + l, errlen - l, ": is the job's coordinator running? Check MANA_COORD or CKPT_DIR/%s",
                     COORD_FILE_NAME);
        coord_client_close(c, 0);
        return -1;
    }
    char host[256] = "unknown", line[1024];
    gethostname(host, sizeof host - 1);
    host[sizeof host - 1] = '\0';
    struct coord_fmt f;
    coord_fmt_begin(&f, line, sizeof line, "HELLO");
    coord_fmt_str(&f, "token", token);
    coord_fmt_int(&f, "proto", COORD_PROTO_VERSION);
    coord_fmt_int(&f, "rank", rank);
    coord_fmt_int(&f, "nranks", nranks);
    coord_fmt_int(&f, "pid", (long)getpid());
    coord_fmt_str(&f, "host", host);
    long n = coord_fmt_end(&f);
    if (n < 0 || coord_client_write_all(c->fd, line, (size_t)n) < 0) {
        fail(err, errlen, "cannot send HELLO to the coordinator at %s (%s)", hostport,
             n < 0 ? "token or host name too long" : strerror(errno));
        coord_client_close(c, 0);
        return -1;
    }
    char *reply;
    int r = read_line(c, &reply, now_ms() + CONNECT_TIMEOUT_MS, err, errlen);
    if (r == 0)
        fail(err, errlen, "the coordinator at %s did not answer HELLO within %d s", hostport,
             CONNECT_TIMEOUT_MS / 1000);
    if (r <= 0) {
        coord_client_close(c, 0);
        return -1;
    }
    struct coord_msg m;
    char perr[200], msg[COORD_MSG_MAX];
    if (coord_msg_parse(reply, &m, perr, sizeof perr) < 0) {
        fail(err, errlen, "the coordinator at %s answered HELLO with a bad line (%s)", hostport, perr);
    } else if (strcmp(m.verb, "WELCOME") == 0) {
        *out = c;
        return 0;
    } else if (strcmp(m.verb, "ERROR") == 0) {
        if (coord_msg_str(&m, "msg", msg, sizeof msg, perr, sizeof perr) < 0)
            snprintf(msg, sizeof msg, "no reason given");
        fail(err, errlen, "the coordinator at %s refused rank %d: %s", hostport, rank, msg);
    } else {
        fail(err, errlen, "the coordinator at %s answered HELLO with %s, not WELCOME", hostport, m.verb);
    }
    coord_client_close(c, 0);
    return -1;
}

int coord_client_fd(const struct coord_client *c)
{
    return c->fd;
}

static int parse_cmd(struct coord_client *c, char *line, struct coord_cmd *cmd, char *err, size_t errlen)
{
    struct coord_msg m;
    char perr[256];
    memset(cmd, 0, offsetof(struct coord_cmd, dir));
    cmd->dir[0] = '\0';
    if (coord_msg_parse(line, &m, perr, sizeof perr) < 0)
        goto bad;
    if (strcmp(m.verb, "CHECKPOINT") == 0) {
        cmd->kind = COORD_CMD_CHECKPOINT;
        if (coord_msg_u64(&m, "gen", &cmd->gen, perr, sizeof perr) < 0 ||
            coord_msg_int(&m, "exit", 0, 1, &cmd->exit_after, perr, sizeof perr) < 0 ||
            coord_msg_str(&m, "dir", cmd->dir, sizeof cmd->dir, perr, sizeof perr) < 0)
            goto bad;
    } else if (strcmp(m.verb, "RESUME") == 0) {
        cmd->kind = COORD_CMD_RESUME;
        if (coord_msg_u64(&m, "gen", &cmd->gen, perr, sizeof perr) < 0 ||
            coord_msg_int(&m, "ok", 0, 1, &cmd->ok, perr, sizeof perr) < 0)
            goto bad;
    } else if (strcmp(m.verb, "EXIT") == 0) {
        cmd->kind = COORD_CMD_EXIT;
        cmd->ok = 1;
        if (coord_msg_u64(&m, "gen", &cmd->gen, perr, sizeof perr) < 0)
            goto bad;
    } else if (strcmp(m.verb, "KILL") == 0) {
        cmd->kind = COORD_CMD_KILL;
    } else if (strcmp(m.verb, "GO") == 0) {
        cmd->kind = COORD_CMD_GO;
        if (coord_msg_u64(&m, "gen", &cmd->gen, perr, sizeof perr) < 0)
            goto bad;
    } else {
        snprintf(perr, sizeof perr, "unknown command %s", m.verb);
        goto bad;
    }
    return 1;
bad:
    cmd->kind = COORD_CMD_NONE;
    return fail(err, errlen, "protocol error from the coordinator at %s: %s (coordinator and rank of different "
                "MANA versions?)", c->hostport, perr);
}

int coord_client_poll(struct coord_client *c, struct coord_cmd *cmd, int timeout_ms, char *err, size_t errlen)
{
    char *line;
    cmd->kind = COORD_CMD_NONE;
    int r = read_line(c, &line, timeout_ms < 0 ? -1 : now_ms() + timeout_ms, err, errlen);
    if (r <= 0)
        return r;
    return parse_cmd(c, line, cmd, err, errlen);
}

int coord_client_report(struct coord_client *c, uint64_t gen, int ok, uint64_t bytes, uint64_t checksum,
                        const char *msg)
{
    char line[2048], cut[COORD_MSG_MAX];
    snprintf(cut, sizeof cut, "%s", msg ? msg : "");
    struct coord_fmt f;
    coord_fmt_begin(&f, line, sizeof line, "DONE");
    coord_fmt_u64(&f, "gen", gen);
    coord_fmt_int(&f, "ok", ok ? 1 : 0);
    coord_fmt_u64(&f, "bytes", bytes);
    coord_fmt_hex64(&f, "checksum", checksum);
    coord_fmt_str(&f, "msg", cut);
    long n = coord_fmt_end(&f);
    if (n < 0) {
        errno = EMSGSIZE;
        return -1;
    }
    return coord_client_write_all(c->fd, line, (size_t)n);
}

int coord_client_waiting(struct coord_client *c, uint64_t gen, const char *why)
{
    char line[2048], cut[COORD_MSG_MAX];
    snprintf(cut, sizeof cut, "%s", why);
    struct coord_fmt f;
    coord_fmt_begin(&f, line, sizeof line, "WAITING");
    coord_fmt_u64(&f, "gen", gen);
    coord_fmt_str(&f, "why", cut);
    long n = coord_fmt_end(&f);
    if (n < 0) {
        errno = EMSGSIZE;
        return -1;
    }
    return coord_client_write_all(c->fd, line, (size_t)n);
}

int coord_client_ready(struct coord_client *c, uint64_t gen)
{
    char line[128];
    struct coord_fmt f;
    coord_fmt_begin(&f, line, sizeof line, "READY");
    coord_fmt_u64(&f, "gen", gen);
    long n = coord_fmt_end(&f);
    return n < 0 ? -1 : coord_client_write_all(c->fd, line, (size_t)n);
}

int coord_client_request_checkpoint(struct coord_client *c, int exit_after)
{
    char line[64];
    struct coord_fmt f;
    coord_fmt_begin(&f, line, sizeof line, "REQUEST");
    coord_fmt_int(&f, "exit", exit_after ? 1 : 0);
    long n = coord_fmt_end(&f);
    return n < 0 ? -1 : coord_client_write_all(c->fd, line, (size_t)n);
}

void coord_client_close(struct coord_client *c, int say_bye)
{
    if (!c)
        return;
    if (c->fd >= 0) {
        if (say_bye)
            (void)coord_client_write_all(c->fd, "BYE\n", 4);
        close(c->fd);
    }
    coord_rbuf_free(&c->rb);
    free(c);
}

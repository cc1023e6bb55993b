/* coord_proto: line format, escaping, bounded line reading. See
 * coord_proto.h and docs/coordinator-protocol.md. */
#include "coord_proto.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define VERB_MAX 15
#define KEY_MAX 31

static int proto_fail(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int proto_fail(char *err, size_t errlen, const char *fmt, ...)
{
    if (err && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return -1;
}

static int is_plain(unsigned char c)
{
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
        return 1;
    return c && strchr("-._~/:,+@", c) != NULL;
}

static int is_key_char(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
}

static int hexval(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1; /* lower case is not what coord_escape writes */
}

long coord_escape(const char *in, char *out, size_t outlen)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t o = 0;
    for (const unsigned char *p = (const unsigned char *)in; *p; p++) {
        if (is_plain(*p)) {
            if (o + 1 >= outlen)
                return -1;
            out[o++] = (char)*p;
        } else {
            if (o + 3 >= outlen)
                return -1;
            out[o++] = '%';
            out[o++] = hex[*p >> 4];
            out[o++] = hex[*p & 15];
        }
    }
    if (o >= outlen)
        return -1;
    out[o] = '\0';
    return (long)o;
}

long coord_unescape(const char *in, char *out, size_t outlen)
{
    size_t o = 0;
    for (const unsigned char *p = (const unsigned char *)in; *p; p++) {
        int c = *p;
        if (c == '%') {
            int h = hexval(p[1]), l = h < 0 ? -1 : hexval(p[2]);
            if (h < 0 || l < 0)
                return -1;
            c = h * 16 + l;
            if (c == 0 || is_plain((unsigned char)c))
                return -1; /* %00, or a byte that is never escaped */
            p += 2;
        } else if (!is_plain((unsigned char)c)) {
            return -1;
        }
        if (o + 1 >= outlen)
            return -1;
        out[o++] = (char)c;
    }
    if (o >= outlen)
        return -1;
    out[o] = '\0';
    return (long)o;
}

int coord_msg_parse(char *line, struct coord_msg *m, char *err, size_t errlen)
{
    memset(m, 0, sizeof *m);
    size_t n = strlen(line);
    if (n + 1 > COORD_LINE_MAX)
        return proto_fail(err, errlen, "line of %zu bytes is longer than %d", n, COORD_LINE_MAX - 1);
    char *p = line;
    char *verb = p;
    while (*p >= 'A' && *p <= 'Z')
        p++;
    if (p == verb)
        return proto_fail(err, errlen, "line does not start with an upper-case verb");
    if (p - verb > VERB_MAX)
        return proto_fail(err, errlen, "verb longer than %d letters", VERB_MAX);
    if (*p && *p != ' ')
        return proto_fail(err, errlen, "bad character 0x%02x in the verb", (unsigned char)*p);
    m->verb = verb;
    while (*p == ' ') {
        *p++ = '\0';
        char *key = p;
        while (is_key_char((unsigned char)*p))
            p++;
        if (p == key)
            return proto_fail(err, errlen, "empty key or bad character 0x%02x where a key starts", (unsigned char)*p);
        if (p - key > KEY_MAX)
            return proto_fail(err, errlen, "key longer than %d characters", KEY_MAX);
        if (*p != '=')
            return proto_fail(err, errlen, "key without '=' or bad character 0x%02x in a key", (unsigned char)*p);
        *p++ = '\0';
        char *val = p;
        while (*p && *p != ' ') {
            if (!is_plain((unsigned char)*p) && *p != '%')
                return proto_fail(err, errlen, "key %s: bad character 0x%02x in the value (not escaped)", key,
                            (unsigned char)*p);
            p++;
        }
        if (*p == ' ' && p[1] == '\0')
            return proto_fail(err, errlen, "trailing space");
        for (int i = 0; i < m->nkv; i++)
            if (strcmp(m->kv[i].key, key) == 0)
                return proto_fail(err, errlen, "key %s given twice", key);
        if (m->nkv == COORD_MAX_KEYS)
            return proto_fail(err, errlen, "more than %d keys", COORD_MAX_KEYS);
        m->kv[m->nkv].key = key;
        m->kv[m->nkv].val = val;
        m->nkv++;
    }
    if (*p)
        return proto_fail(err, errlen, "bad character 0x%02x", (unsigned char)*p);
    return 0;
}

const char *coord_msg_raw(const struct coord_msg *m, const char *key)
{
    for (int i = 0; i < m->nkv; i++)
        if (strcmp(m->kv[i].key, key) == 0)
            return m->kv[i].val;
    return NULL;
}

static const char *need(const struct coord_msg *m, const char *key, char *err, size_t errlen)
{
    const char *v = coord_msg_raw(m, key);
    if (!v)
        proto_fail(err, errlen, "%s without key %s", m->verb ? m->verb : "message", key);
    return v;
}

static int parse_u64(const char *v, int base, uint64_t *out)
{
    if (!*v || *v == '-' || *v == '+' || *v == ' ')
        return -1;
    size_t maxlen = base == 16 ? 16 : 20;
    if (strlen(v) > maxlen)
        return -1;
    char *end;
    errno = 0;
    unsigned long long x = strtoull(v, &end, base);
    if (errno || *end)
        return -1;
    *out = x;
    return 0;
}

int coord_msg_u64(const struct coord_msg *m, const char *key, uint64_t *out, char *err, size_t errlen)
{
    const char *v = need(m, key, err, errlen);
    if (!v)
        return -1;
    if (parse_u64(v, 10, out) < 0)
        return proto_fail(err, errlen, "key %s: '%.40s' is not a decimal number", key, v);
    return 0;
}

int coord_msg_int(const struct coord_msg *m, const char *key, int lo, int hi, int *out, char *err, size_t errlen)
{
    const char *v = need(m, key, err, errlen);
    if (!v)
        return -1;
    uint64_t x;
    if (parse_u64(v, 10, &x) < 0 || x < (uint64_t)(lo < 0 ? 0 : lo) || x > (uint64_t)hi)
        return proto_fail(err, errlen, "key %s: '%.40s' is not a number from %d to %d", key, v, lo, hi);
    *out = (int)x;
    return 0;
}

int coord_msg_int_opt(const struct coord_msg *m, const char *key, int lo, int hi, int def, int *out, char *err,
                      size_t errlen)
{
    if (!coord_msg_raw(m, key)) {
        *out = def;
        return 0;
    }
    return coord_msg_int(m, key, lo, hi, out, err, errlen);
}

int coord_msg_hex64(const struct coord_msg *m, const char *key, uint64_t *out, char *err, size_t errlen)
{
    const char *v = need(m, key, err, errlen);
    if (!v)
        return -1;
    if (strlen(v) != 16 || parse_u64(v, 16, out) < 0)
        return proto_fail(err, errlen, "key %s: '%.40s' is not 16 hex digits", key, v);
    return 0;
}

int coord_msg_str(const struct coord_msg *m, const char *key, char *buf, size_t len, char *err, size_t errlen)
{
    const char *v = need(m, key, err, errlen);
    if (!v)
        return -1;
    if (coord_unescape(v, buf, len) < 0)
        return proto_fail(err, errlen, "key %s: badly escaped or longer than %zu bytes", key, len - 1);
    return 0;
}

static void fmt_raw(struct coord_fmt *f, const char *s, size_t n)
{
    if (f->bad)
        return;
    if (f->len + n + 2 > f->cap || f->len + n + 1 > COORD_LINE_MAX) { /* keep room for '\n' and NUL */
        f->bad = 1;
        return;
    }
    memcpy(f->buf + f->len, s, n);
    f->len += n;
    f->buf[f->len] = '\0';
}

static void fmt_key(struct coord_fmt *f, const char *key)
{
    size_t n = strlen(key);
    int good = n > 0 && n <= KEY_MAX;
    for (size_t i = 0; good && i < n; i++)
        good = is_key_char((unsigned char)key[i]);
    if (!good) {
        f->bad = 1;
        return;
    }
    fmt_raw(f, " ", 1);
    fmt_raw(f, key, n);
    fmt_raw(f, "=", 1);
}

void coord_fmt_begin(struct coord_fmt *f, char *buf, size_t cap, const char *verb)
{
    f->buf = buf;
    f->cap = cap;
    f->len = 0;
    f->bad = 0;
    size_t n = strlen(verb);
    int good = n > 0 && n <= VERB_MAX;
    for (size_t i = 0; good && i < n; i++)
        good = verb[i] >= 'A' && verb[i] <= 'Z';
    if (!good || cap == 0) {
        f->bad = 1;
        return;
    }
    buf[0] = '\0';
    fmt_raw(f, verb, n);
}

void coord_fmt_u64(struct coord_fmt *f, const char *key, uint64_t v)
{
    char num[24];
    int n = snprintf(num, sizeof num, "%llu", (unsigned long long)v);
    fmt_key(f, key);
    fmt_raw(f, num, (size_t)n);
}

void coord_fmt_int(struct coord_fmt *f, const char *key, long v)
{
    if (v < 0) { /* the format has no negative numbers */
        f->bad = 1;
        return;
    }
    coord_fmt_u64(f, key, (uint64_t)v);
}

void coord_fmt_hex64(struct coord_fmt *f, const char *key, uint64_t v)
{
    char num[20];
    int n = snprintf(num, sizeof num, "%016llx", (unsigned long long)v);
    fmt_key(f, key);
    fmt_raw(f, num, (size_t)n);
}

void coord_fmt_str(struct coord_fmt *f, const char *key, const char *s)
{
    fmt_key(f, key);
    if (f->bad)
        return;
    long n = coord_escape(s, f->buf + f->len, f->cap - f->len - 1); /* room for '\n' */
    if (n < 0 || f->len + (size_t)n + 1 > COORD_LINE_MAX) {
        f->bad = 1;
        return;
    }
    f->len += (size_t)n;
}

long coord_fmt_end(struct coord_fmt *f)
{
    if (f->bad)
        return -1;
    if (f->len + 2 > f->cap || f->len + 1 > COORD_LINE_MAX) {
        f->bad = 1;
        return -1;
    }
    f->buf[f->len++] = '\n';
    f->buf[f->len] = '\0';
    return (long)f->len;
}

void coord_rbuf_init(struct coord_rbuf *rb, size_t max)
{
    memset(rb, 0, sizeof *rb);
    rb->max = max;
}

void coord_rbuf_free(struct coord_rbuf *rb)
{
    free(rb->buf);
    memset(rb, 0, sizeof *rb);
}

size_t coord_rbuf_pending(const struct coord_rbuf *rb)
{
    return rb->len - rb->start;
}

long coord_rbuf_fill(struct coord_rbuf *rb, int fd)
{
    if (rb->start) { /* drop the lines already handed out */
        memmove(rb->buf, rb->buf + rb->start, rb->len - rb->start);
        rb->len -= rb->start;
        rb->start = 0;
    }
    if (rb->len >= rb->max) {
        errno = EMSGSIZE;
        return -1;
    }
    if (rb->cap - rb->len < 256 && rb->cap < rb->max) {
        size_t ncap = rb->cap ? rb->cap * 2 : 512;
        if (ncap > rb->max)
            ncap = rb->max;
        char *nb = realloc(rb->buf, ncap + 1); /* +1: a NUL after a full buffer */
        if (!nb) {
            errno = ENOMEM;
            return -1;
        }
        rb->buf = nb;
        rb->cap = ncap;
    }
    ssize_t n = read(fd, rb->buf + rb->len, rb->cap - rb->len);
    if (n > 0)
        rb->len += (size_t)n;
    return n;
}

int coord_rbuf_line(struct coord_rbuf *rb, char **line)
{
    char *s = rb->buf + rb->start;
    size_t avail = rb->len - rb->start;
    char *nl = avail ? memchr(s, '\n', avail) : NULL;
    if (!nl)
        return avail >= rb->max ? -1 : 0;
    if ((size_t)(nl - s) + 1 > rb->max)
        return -1;
    *nl = '\0';
    *line = s;
    rb->start += (size_t)(nl - s) + 1;
    return 1;
}

int coord_split_hostport(const char *hostport, char *host, size_t hostlen, char *port, size_t portlen, char *err,
                         size_t errlen)
{
    const char *colon, *h = hostport;
    size_t hl;
    if (*h == '[') {
        const char *close = strchr(h, ']');
        if (!close || close[1] != ':')
            return proto_fail(err, errlen, "'%s' is not HOST:PORT or [IPV6]:PORT", hostport);
        h++;
        hl = (size_t)(close - h);
        colon = close + 1;
    } else {
        colon = strrchr(h, ':');
        if (!colon || strchr(h, ':') != colon)
            return proto_fail(err, errlen, "'%s' is not HOST:PORT (IPv6 addresses go in brackets)", hostport);
        hl = (size_t)(colon - h);
    }
    const char *p = colon + 1;
    size_t pl = strlen(p);
    if (hl == 0 || hl >= hostlen)
        return proto_fail(err, errlen, "'%s': empty or too long host", hostport);
    if (pl == 0 || pl >= portlen || pl > 5 || strspn(p, "0123456789") != pl || atoi(p) < 1 || atoi(p) > 65535)
        return proto_fail(err, errlen, "'%s': the port must be a number from 1 to 65535", hostport);
    memcpy(host, h, hl);
    host[hl] = '\0';
    memcpy(port, p, pl + 1);
    return 0;
}

int coord_token_equal(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    unsigned char d = (unsigned char)(la != lb);
    for (size_t i = 0; i < la && i < lb; i++)
        d |= (unsigned char)(a[i] ^ b[i]);
    return d == 0;
}

int coord_token_valid(const char *s)
{
    size_t n = strlen(s);
    return n == COORD_TOKEN_HEX && strspn(s, "0123456789abcdef") == n;
}

void coord_gen_name(uint64_t gen, char *buf, size_t len)
{
    snprintf(buf, len, "gen-%06llu", (unsigned long long)gen);
}

int coord_parse_gen_name(const char *name, uint64_t *gen, int *failed)
{
    if (strncmp(name, "gen-", 4) != 0)
        return -1;
    const char *d = name + 4;
    size_t nd = strspn(d, "0123456789");
    if (nd < 6 || nd > 19)
        return -1;
    const char *rest = d + nd;
    if (*rest == '\0')
        *failed = 0;
    else if (strcmp(rest, ".failed") == 0)
        *failed = 1;
    else
        return -1;
    *gen = strtoull(d, NULL, 10);
    return 0;
}

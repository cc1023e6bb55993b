/* coord_proto: the coordinator's wire format, shared by mana-coordinator,
 * mana-ckpt and the ranks' client library (coord_client.c), so the three
 * cannot disagree on it. docs/coordinator-protocol.md describes it.
 *
 * One message is one line of text, at most COORD_LINE_MAX bytes with its
 * newline:  VERB key=value key=value\n
 *   VERB   1..15 upper-case letters
 *   key    1..31 of [a-z0-9_], each key at most once, at most COORD_MAX_KEYS
 *   value  0 or more bytes of [A-Za-z0-9] and "-._~/:,+@"; every other byte
 *          (space, '=', '%', control bytes, anything >= 0x80) is written
 *          %XX, two upper-case hex digits. A decoded value never holds NUL.
 * Nothing else is allowed on a line: no tabs, no double spaces, no '\r'.
 *
 * Everything here is pure (no I/O but coord_rbuf_fill's read) and returns
 * errors with a message: it is fed bytes from the network. */
#ifndef MANA_COORD_PROTO_H
#define MANA_COORD_PROTO_H

#include <stddef.h>
#include <stdint.h>

#define COORD_PROTO_VERSION 1
/* The longest line anyone sends or accepts, newline included. A
 * CHECKPOINT line carries an escaped path of up to 4095 bytes (x3). */
#define COORD_LINE_MAX 16384
/* What the coordinator accepts from a client: client lines carry no
 * paths, and this is what bounds its memory per client. */
#define COORD_CLIENT_LINE_MAX 4096
#define COORD_MAX_KEYS 16
#define COORD_TOKEN_HEX 32          /* a job's token: 32 hex digits */
#define COORD_MSG_MAX 512           /* a DONE msg= or RESULT msg= text, decoded */
#define COORD_FILE_NAME ".coordinator"

struct coord_kv {
    const char *key;
    const char *val; /* still escaped */
};

/* A parsed line. Its strings point into the line it was parsed from. */
struct coord_msg {
    const char *verb;
    int nkv;
    struct coord_kv kv[COORD_MAX_KEYS];
};

/* Parses LINE (NUL-terminated, no newline) in place: 0, or -1 with ERR
 * saying what is wrong with it. */
int coord_msg_parse(char *line, struct coord_msg *m, char *err, size_t errlen);

/* The raw (escaped) value of KEY, or NULL when the line has none. */
const char *coord_msg_raw(const struct coord_msg *m, const char *key);
/* Typed getters: 0, or -1 with ERR naming the key and what is wrong
 * ("missing key gen", "key gen: not a number"). */
int coord_msg_u64(const struct coord_msg *m, const char *key, uint64_t *out, char *err, size_t errlen);
int coord_msg_int(const struct coord_msg *m, const char *key, int lo, int hi, int *out, char *err, size_t errlen);
int coord_msg_hex64(const struct coord_msg *m, const char *key, uint64_t *out, char *err, size_t errlen);
/* Decoded into BUF (of LEN bytes, NUL-terminated); -1 if missing, badly
 * escaped or longer than LEN - 1. */
int coord_msg_str(const struct coord_msg *m, const char *key, char *buf, size_t len, char *err, size_t errlen);
/* Like the getters above, but a missing key gives DEF. */
int coord_msg_int_opt(const struct coord_msg *m, const char *key, int lo, int hi, int def, int *out, char *err,
                      size_t errlen);

/* Escapes IN into OUT: the length written (without the NUL), or -1 if
 * OUT is too small. Unescapes: the length, or -1 on a bad %XX, a %00 or
 * a too small OUT. Unescaping accepts only what escaping produces. */
long coord_escape(const char *in, char *out, size_t outlen);
long coord_unescape(const char *in, char *out, size_t outlen);

/* Builds one line into a caller's buffer; the first failure sticks and
 * coord_fmt_end reports it, so callers check once. */
struct coord_fmt {
    char *buf;
    size_t cap, len;
    int bad;
};
void coord_fmt_begin(struct coord_fmt *f, char *buf, size_t cap, const char *verb);
void coord_fmt_u64(struct coord_fmt *f, const char *key, uint64_t v);
void coord_fmt_int(struct coord_fmt *f, const char *key, long v);
void coord_fmt_hex64(struct coord_fmt *f, const char *key, uint64_t v);
void coord_fmt_str(struct coord_fmt *f, const char *key, const char *s);
/* Adds the newline: the line's length, or -1 if it did not fit (in CAP
 * or in COORD_LINE_MAX) or a key was not valid. */
long coord_fmt_end(struct coord_fmt *f);

/* A bounded line reader over a nonblocking or blocking fd. The buffer
 * starts small and grows up to MAX bytes, so an idle client costs little
 * and no client can make it grow beyond MAX. */
struct coord_rbuf {
    char *buf;
    size_t len, cap, max, start;
};
void coord_rbuf_init(struct coord_rbuf *rb, size_t max);
void coord_rbuf_free(struct coord_rbuf *rb);
/* One read(2): >0 bytes read, 0 end of file, -1 error (errno; EAGAIN
 * when nothing is there). Never reads past MAX buffered bytes: when the
 * buffer is full without a newline, returns -1 with errno EMSGSIZE. */
long coord_rbuf_fill(struct coord_rbuf *rb, int fd);
/* The next complete line, NUL-terminated in place without its newline:
 * 1 and *LINE set, 0 no complete line yet, -1 the pending bytes already
 * exceed MAX without a newline. The line stays valid until the next
 * coord_rbuf_fill. */
int coord_rbuf_line(struct coord_rbuf *rb, char **line);
/* Bytes received but not yet returned as lines. */
size_t coord_rbuf_pending(const struct coord_rbuf *rb);

/* Splits "HOST:PORT" or "[V6ADDR]:PORT": 0, or -1 with ERR. */
int coord_split_hostport(const char *hostport, char *host, size_t hostlen, char *port, size_t portlen, char *err,
                         size_t errlen);
/* Constant-time comparison of two tokens: 1 equal, 0 not. */
int coord_token_equal(const char *a, const char *b);
/* 1 if S is exactly COORD_TOKEN_HEX lower-case hex digits. */
int coord_token_valid(const char *s);
/* "gen-NNNNNN" (at least 6 digits) for GEN into BUF. */
void coord_gen_name(uint64_t gen, char *buf, size_t len);
/* Parses a directory entry name "gen-NNNNNN" (failed = 0) or
 * "gen-NNNNNN.failed" (failed = 1): 0 and *GEN, or -1 for other names. */
int coord_parse_gen_name(const char *name, uint64_t *gen, int *failed);

#endif

/* libFuzzer harness for the coordinator's wire protocol (coordinator/
 * coord_proto.c), the bytes a coordinator reads from any client: the
 * input goes through the bounded line reader as a client's stream, each
 * line through the parser, every value through the typed getters and the
 * unescaper. What parses must format back to the same line (the format
 * has one spelling per message), and a decoded value must escape back to
 * its escaped form. Seeds: tests/fuzz/corpus/coord_proto. */
#include "fuzz_common.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "coord_proto.h"

static void values(const struct coord_msg *m)
{
    char err[256], buf[COORD_LINE_MAX], esc[COORD_LINE_MAX];
    for (int i = 0; i < m->nkv; i++) {
        const char *k = m->kv[i].key;
        uint64_t u;
        int n;
        coord_msg_u64(m, k, &u, err, sizeof err);
        coord_msg_hex64(m, k, &u, err, sizeof err);
        coord_msg_int(m, k, -5, 1 << 20, &n, err, sizeof err);
        coord_msg_int_opt(m, k, 0, 100, 7, &n, err, sizeof err);
        if (coord_msg_str(m, k, buf, sizeof buf, err, sizeof err) == 0) {
            long e = coord_escape(buf, esc, sizeof esc);
            if (e < 0 || strcmp(esc, m->kv[i].val) != 0)
                abort(); /* unescaping accepts only what escaping produces */
            char host[256], port[64];
            coord_split_hostport(buf, host, sizeof host, port, sizeof port, err, sizeof err);
            uint64_t gen;
            int failed;
            coord_parse_gen_name(buf, &gen, &failed);
            coord_token_valid(buf);
        }
        char small[8];
        coord_msg_str(m, k, small, sizeof small, err, sizeof err);
    }
    coord_msg_int_opt(m, "missing", 0, 1, 0, &(int){0}, err, sizeof err);
}

/* The parsed message formatted again: it must be LINE byte for byte. */
static void reformat(const struct coord_msg *m, const char *line)
{
    static char out[COORD_LINE_MAX + 1], dec[COORD_LINE_MAX];
    char err[256];
    struct coord_fmt f;
    coord_fmt_begin(&f, out, sizeof out, m->verb);
    for (int i = 0; i < m->nkv; i++) {
        if (coord_msg_str(m, m->kv[i].key, dec, sizeof dec, err, sizeof err) != 0)
            return;
        coord_fmt_str(&f, m->kv[i].key, dec);
    }
    long n = coord_fmt_end(&f);
    size_t len = strlen(line);
    if (n < 0) {
        if (len + 1 <= COORD_LINE_MAX)
            abort(); /* a line that parsed must fit when formatted */
        return;
    }
    if ((size_t)n != len + 1 || memcmp(out, line, len) != 0 || out[len] != '\n')
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int fd = fuzz_memfd(data, size);
    if (fd < 0)
        return 0;
    /* The coordinator's limit for clients; the longer one ranks accept
     * from the coordinator when the input says so. */
    struct coord_rbuf rb;
    coord_rbuf_init(&rb, size > 0 && (data[0] & 1) ? COORD_LINE_MAX : COORD_CLIENT_LINE_MAX);
    char copy[COORD_LINE_MAX + 1], err[256];
    for (;;) {
        long n = coord_rbuf_fill(&rb, fd);
        char *line;
        int got;
        while ((got = coord_rbuf_line(&rb, &line)) == 1) {
            snprintf(copy, sizeof copy, "%s", line);
            struct coord_msg m;
            if (coord_msg_parse(line, &m, err, sizeof err) == 0) {
                values(&m);
                reformat(&m, copy);
            }
        }
        if (n <= 0 || got < 0)
            break;
    }
    (void)coord_rbuf_pending(&rb);
    coord_rbuf_free(&rb);
    close(fd);
    return 0;
}

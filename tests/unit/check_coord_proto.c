/* Unit tests for coordinator/coord_proto: the escaping round trip over
 * every byte, lines that must be refused (bad verbs, keys, characters,
 * duplicate keys, too many keys, over-long lines), typed getters on
 * missing and bad values, the line formatter's limits, the bounded line
 * reader over a pipe, and the small name helpers. */
#include <check.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Self-contained: the module is compiled in here, so this test needs
 * nothing from the Makefile's list of unit modules. */
#include "../../coordinator/coord_proto.c"

static char err[512];

static int parse(const char *text, struct coord_msg *m, char *copy, size_t cap)
{
    snprintf(copy, cap, "%s", text);
    return coord_msg_parse(copy, m, err, sizeof err);
}

START_TEST(escape_round_trip_every_byte)
{
    char in[256], esc[1024], out[256];
    for (int i = 1; i < 256; i++)
        in[i - 1] = (char)i;
    in[255] = '\0';
    long n = coord_escape(in, esc, sizeof esc);
    ck_assert_int_gt(n, 0);
    ck_assert_uint_eq(strlen(esc), (size_t)n);
    ck_assert_ptr_null(strchr(esc, ' '));
    ck_assert_ptr_null(strchr(esc, '='));
    ck_assert_ptr_null(strchr(esc, '\n'));
    ck_assert_int_eq(coord_unescape(esc, out, sizeof out), 255);
    ck_assert_int_eq(memcmp(in, out, 256), 0);
    /* a path keeps its plain characters */
    ck_assert_int_eq(coord_escape("/tmp/a b/gen-000001", esc, sizeof esc), 21);
    ck_assert_str_eq(esc, "/tmp/a%20b/gen-000001");
    ck_assert_int_eq(coord_escape("", esc, sizeof esc), 0);
    ck_assert_str_eq(esc, "");
}
END_TEST

START_TEST(escape_limits_and_bad_escapes)
{
    char out[8];
    ck_assert_int_eq(coord_escape("abcdefgh", out, sizeof out), -1); /* 8 + NUL > 8 */
    ck_assert_int_eq(coord_escape("abcdefg", out, sizeof out), 7);
    ck_assert_int_eq(coord_escape("abcde f", out, sizeof out), -1);
    ck_assert_int_eq(coord_unescape("%2", out, sizeof out), -1);
    ck_assert_int_eq(coord_unescape("%zz", out, sizeof out), -1);
    ck_assert_int_eq(coord_unescape("%00", out, sizeof out), -1);
    ck_assert_int_eq(coord_unescape("%2f", out, sizeof out), -1); /* lower case is never written */
    ck_assert_int_eq(coord_unescape("%41", out, sizeof out), -1); /* 'A' is never escaped */
    ck_assert_int_eq(coord_unescape("a b", out, sizeof out), -1);
    ck_assert_int_eq(coord_unescape("%20", out, sizeof out), 1);
    ck_assert_str_eq(out, " ");
    ck_assert_int_eq(coord_unescape("abcdefgh", out, sizeof out), -1);
}
END_TEST

START_TEST(parse_good_line)
{
    struct coord_msg m;
    char copy[256], s[64];
    uint64_t u;
    int i;
    ck_assert_int_eq(parse("DONE gen=12 ok=1 bytes=4096 checksum=00000000deadbeef msg=no%20space", &m, copy,
                           sizeof copy),
                     0);
    ck_assert_str_eq(m.verb, "DONE");
    ck_assert_int_eq(m.nkv, 5);
    ck_assert_int_eq(coord_msg_u64(&m, "gen", &u, err, sizeof err), 0);
    ck_assert_uint_eq(u, 12);
    ck_assert_int_eq(coord_msg_int(&m, "ok", 0, 1, &i, err, sizeof err), 0);
    ck_assert_int_eq(i, 1);
    ck_assert_int_eq(coord_msg_hex64(&m, "checksum", &u, err, sizeof err), 0);
    ck_assert_uint_eq(u, 0xdeadbeefu);
    ck_assert_int_eq(coord_msg_str(&m, "msg", s, sizeof s, err, sizeof err), 0);
    ck_assert_str_eq(s, "no space");
    ck_assert_ptr_null(coord_msg_raw(&m, "nothere"));
    /* a verb alone, and an empty value */
    ck_assert_int_eq(parse("BYE", &m, copy, sizeof copy), 0);
    ck_assert_int_eq(m.nkv, 0);
    ck_assert_int_eq(parse("DONE msg=", &m, copy, sizeof copy), 0);
    ck_assert_int_eq(coord_msg_str(&m, "msg", s, sizeof s, err, sizeof err), 0);
    ck_assert_str_eq(s, "");
    ck_assert_int_eq(coord_msg_int_opt(&m, "exit", 0, 1, 7, &i, err, sizeof err), 0);
    ck_assert_int_eq(i, 7);
}
END_TEST

START_TEST(parse_refuses_bad_lines)
{
    static const char *bad[] = {
        "",                    /* empty */
        "done gen=1",          /* lower-case verb */
        " DONE gen=1",         /* leading space */
        "DONE  gen=1",         /* double space */
        "DONE gen=1 ",         /* trailing space */
        "DONE gen",            /* key without = */
        "DONE =1",             /* empty key */
        "DONE Gen=1",          /* upper-case key */
        "DONE gen=1 gen=2",    /* duplicate */
        "DONE gen=a b",        /* b without = */
        "DONE msg=a\tb",       /* tab */
        "DONE gen=1\r",        /* carriage return */
        "DONE msg=x=y",        /* '=' in a value */
        "DONE\tgen=1",         /* tab after the verb */
        "VERYLONGVERBNAMEXX",  /* verb of 18 letters */
        "DONE msg=\xc3\xa9",   /* unescaped UTF-8 */
    };
    struct coord_msg m;
    char copy[256];
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err[0] = '\0';
        if (parse(bad[i], &m, copy, sizeof copy) != -1)
            ck_abort_msg("line %zu '%s' was accepted", i, bad[i]);
        ck_assert_msg(err[0] != '\0', "no message for line %zu", i);
    }
    /* too many keys */
    char line[512] = "X";
    for (int i = 0; i <= COORD_MAX_KEYS; i++)
        snprintf(line + strlen(line), sizeof line - strlen(line), " k%d=1", i);
    ck_assert_int_eq(parse(line, &m, copy, sizeof copy), -1);
    ck_assert_ptr_nonnull(strstr(err, "more than"));
    /* a key of 32 characters */
    ck_assert_int_eq(parse("X abcdefghijabcdefghijabcdefghijab=1", &m, copy, sizeof copy), -1);
}
END_TEST

START_TEST(parse_refuses_overlong_line)
{
    char *line = malloc(COORD_LINE_MAX + 10);
    struct coord_msg m;
    memcpy(line, "DONE msg=", 9);
    memset(line + 9, 'a', COORD_LINE_MAX);
    line[COORD_LINE_MAX] = '\0'; /* COORD_LINE_MAX bytes, no room for the newline */
    ck_assert_int_eq(coord_msg_parse(line, &m, err, sizeof err), -1);
    ck_assert_ptr_nonnull(strstr(err, "longer than"));
    line[COORD_LINE_MAX - 1] = '\0';
    ck_assert_int_eq(coord_msg_parse(line, &m, err, sizeof err), 0);
    free(line);
}
END_TEST

START_TEST(getters_name_missing_and_bad_keys)
{
    struct coord_msg m;
    char copy[256], s[4];
    uint64_t u;
    int i;
    ck_assert_int_eq(parse("DONE gen=x ok=2 bytes=-1 checksum=123 big=99999999999999999999999 msg=abcdef", &m,
                           copy, sizeof copy),
                     0);
    ck_assert_int_eq(coord_msg_u64(&m, "nothere", &u, err, sizeof err), -1);
    ck_assert_str_eq(err, "DONE without key nothere");
    ck_assert_int_eq(coord_msg_u64(&m, "gen", &u, err, sizeof err), -1);
    ck_assert_ptr_nonnull(strstr(err, "key gen"));
    ck_assert_int_eq(coord_msg_int(&m, "ok", 0, 1, &i, err, sizeof err), -1);
    ck_assert_ptr_nonnull(strstr(err, "from 0 to 1"));
    ck_assert_int_eq(coord_msg_u64(&m, "bytes", &u, err, sizeof err), -1);
    ck_assert_int_eq(coord_msg_u64(&m, "big", &u, err, sizeof err), -1);
    ck_assert_int_eq(coord_msg_hex64(&m, "checksum", &u, err, sizeof err), -1);
    ck_assert_int_eq(coord_msg_str(&m, "msg", s, sizeof s, err, sizeof err), -1); /* longer than 3 */
    ck_assert_int_eq(coord_msg_int_opt(&m, "ok", 0, 1, 0, &i, err, sizeof err), -1);
}
END_TEST

START_TEST(format_round_trip)
{
    char line[COORD_LINE_MAX + 64], s[4200];
    struct coord_fmt f;
    struct coord_msg m;
    uint64_t u;
    coord_fmt_begin(&f, line, sizeof line, "CHECKPOINT");
    coord_fmt_u64(&f, "gen", 18446744073709551615ull);
    coord_fmt_str(&f, "dir", "/scratch/my job/ckpt=1%/gen-000003");
    coord_fmt_int(&f, "exit", 1);
    coord_fmt_hex64(&f, "checksum", 0x0123456789abcdefull);
    long n = coord_fmt_end(&f);
    ck_assert_int_gt(n, 0);
    ck_assert_int_eq(line[n - 1], '\n');
    ck_assert_uint_eq(strlen(line), (size_t)n);
    line[n - 1] = '\0';
    ck_assert_int_eq(coord_msg_parse(line, &m, err, sizeof err), 0);
    ck_assert_str_eq(m.verb, "CHECKPOINT");
    ck_assert_int_eq(coord_msg_u64(&m, "gen", &u, err, sizeof err), 0);
    ck_assert_uint_eq(u, 18446744073709551615ull);
    ck_assert_int_eq(coord_msg_str(&m, "dir", s, sizeof s, err, sizeof err), 0);
    ck_assert_str_eq(s, "/scratch/my job/ckpt=1%/gen-000003");
    ck_assert_int_eq(coord_msg_hex64(&m, "checksum", &u, err, sizeof err), 0);
    ck_assert_uint_eq(u, 0x0123456789abcdefull);
    /* a 4095-byte path of spaces escapes to 12285 bytes: still one line */
    char *path = malloc(4096);
    memset(path, ' ', 4095);
    path[4095] = '\0';
    coord_fmt_begin(&f, line, sizeof line, "CHECKPOINT");
    coord_fmt_str(&f, "dir", path);
    n = coord_fmt_end(&f);
    ck_assert_int_gt(n, 12285);
    ck_assert_int_le(n, COORD_LINE_MAX);
    free(path);
}
END_TEST

START_TEST(format_refuses_what_does_not_fit)
{
    char small[16], line[128];
    struct coord_fmt f;
    coord_fmt_begin(&f, small, sizeof small, "DONE");
    coord_fmt_str(&f, "msg", "this is too long for sixteen bytes");
    ck_assert_int_eq(coord_fmt_end(&f), -1);
    coord_fmt_begin(&f, line, sizeof line, "done"); /* bad verb */
    ck_assert_int_eq(coord_fmt_end(&f), -1);
    coord_fmt_begin(&f, line, sizeof line, "DONE");
    coord_fmt_u64(&f, "Bad Key", 1);
    ck_assert_int_eq(coord_fmt_end(&f), -1);
    coord_fmt_begin(&f, line, sizeof line, "DONE");
    coord_fmt_int(&f, "n", -1); /* no negative numbers on the wire */
    ck_assert_int_eq(coord_fmt_end(&f), -1);
    /* a line over COORD_LINE_MAX even when the buffer is bigger */
    size_t cap = COORD_LINE_MAX * 4;
    char *big = malloc(cap), *val = malloc(COORD_LINE_MAX);
    memset(val, ' ', COORD_LINE_MAX / 3);
    val[COORD_LINE_MAX / 3] = '\0';
    coord_fmt_begin(&f, big, cap, "DONE");
    coord_fmt_str(&f, "msg", val);
    ck_assert_int_eq(coord_fmt_end(&f), -1);
    free(big);
    free(val);
}
END_TEST

START_TEST(reader_splits_lines_and_bounds_them)
{
    int p[2];
    ck_assert_int_eq(pipe(p), 0);
    struct coord_rbuf rb;
    char *line;
    coord_rbuf_init(&rb, 64);
    ck_assert_int_eq(coord_rbuf_line(&rb, &line), 0);
    ck_assert_int_eq(write(p[1], "HELLO a=1\nBYE\nPART", 18), 18);
    ck_assert_int_gt(coord_rbuf_fill(&rb, p[0]), 0);
    ck_assert_int_eq(coord_rbuf_line(&rb, &line), 1);
    ck_assert_str_eq(line, "HELLO a=1");
    ck_assert_int_eq(coord_rbuf_line(&rb, &line), 1);
    ck_assert_str_eq(line, "BYE");
    ck_assert_int_eq(coord_rbuf_line(&rb, &line), 0);
    ck_assert_uint_eq(coord_rbuf_pending(&rb), 4);
    ck_assert_int_eq(write(p[1], "IAL\n", 4), 4);
    ck_assert_int_gt(coord_rbuf_fill(&rb, p[0]), 0);
    ck_assert_int_eq(coord_rbuf_line(&rb, &line), 1);
    ck_assert_str_eq(line, "PARTIAL");
    /* 100 bytes without a newline: the reader stops at 64 */
    char junk[100];
    memset(junk, 'x', sizeof junk);
    ck_assert_int_eq(write(p[1], junk, sizeof junk), 100);
    long n;
    while ((n = coord_rbuf_fill(&rb, p[0])) > 0 && coord_rbuf_line(&rb, &line) == 0)
        ;
    ck_assert_int_le(coord_rbuf_pending(&rb), 64);
    ck_assert_int_eq(coord_rbuf_line(&rb, &line), -1);
    ck_assert_int_eq(coord_rbuf_fill(&rb, p[0]), -1);
    ck_assert_int_eq(errno, EMSGSIZE);
    ck_assert_uint_le(rb.cap, 64);
    close(p[1]);
    coord_rbuf_free(&rb);
    /* end of file */
    coord_rbuf_init(&rb, 64);
    ck_assert_int_eq(coord_rbuf_fill(&rb, p[0]), 36); /* the rest of the junk */
    coord_rbuf_free(&rb);
    close(p[0]);
}
END_TEST

START_TEST(helpers)
{
    char h[64], p[8], name[32];
    uint64_t gen;
    int failed;
    ck_assert_int_eq(coord_split_hostport("127.0.0.1:4000", h, sizeof h, p, sizeof p, err, sizeof err), 0);
    ck_assert_str_eq(h, "127.0.0.1");
    ck_assert_str_eq(p, "4000");
    ck_assert_int_eq(coord_split_hostport("[::1]:5", h, sizeof h, p, sizeof p, err, sizeof err), 0);
    ck_assert_str_eq(h, "::1");
    ck_assert_int_eq(coord_split_hostport("::1:5", h, sizeof h, p, sizeof p, err, sizeof err), -1);
    ck_assert_int_eq(coord_split_hostport("host", h, sizeof h, p, sizeof p, err, sizeof err), -1);
    ck_assert_int_eq(coord_split_hostport("host:0", h, sizeof h, p, sizeof p, err, sizeof err), -1);
    ck_assert_int_eq(coord_split_hostport("host:65536", h, sizeof h, p, sizeof p, err, sizeof err), -1);
    ck_assert_int_eq(coord_split_hostport(":80", h, sizeof h, p, sizeof p, err, sizeof err), -1);
    ck_assert_int_eq(coord_token_valid("0123456789abcdef0123456789abcdef"), 1);
    ck_assert_int_eq(coord_token_valid("0123456789ABCDEF0123456789abcdef"), 0);
    ck_assert_int_eq(coord_token_valid("0123"), 0);
    ck_assert_int_eq(coord_token_equal("abc", "abc"), 1);
    ck_assert_int_eq(coord_token_equal("abc", "abd"), 0);
    ck_assert_int_eq(coord_token_equal("abc", "abcd"), 0);
    coord_gen_name(3, name, sizeof name);
    ck_assert_str_eq(name, "gen-000003");
    coord_gen_name(1234567, name, sizeof name);
    ck_assert_str_eq(name, "gen-1234567");
    ck_assert_int_eq(coord_parse_gen_name("gen-000042", &gen, &failed), 0);
    ck_assert_uint_eq(gen, 42);
    ck_assert_int_eq(failed, 0);
    ck_assert_int_eq(coord_parse_gen_name("gen-000042.failed", &gen, &failed), 0);
    ck_assert_int_eq(failed, 1);
    ck_assert_int_eq(coord_parse_gen_name("gen-42", &gen, &failed), -1);
    ck_assert_int_eq(coord_parse_gen_name("gen-000042.tmp", &gen, &failed), -1);
    ck_assert_int_eq(coord_parse_gen_name("latest", &gen, &failed), -1);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("coord_proto");
    TCase *t = tcase_create("core");
    tcase_add_test(t, escape_round_trip_every_byte);
    tcase_add_test(t, escape_limits_and_bad_escapes);
    tcase_add_test(t, parse_good_line);
    tcase_add_test(t, parse_refuses_bad_lines);
    tcase_add_test(t, parse_refuses_overlong_line);
    tcase_add_test(t, getters_name_missing_and_bad_keys);
    tcase_add_test(t, format_round_trip);
    tcase_add_test(t, format_refuses_what_does_not_fit);
    tcase_add_test(t, reader_splits_lines_and_bounds_them);
    tcase_add_test(t, helpers);
    suite_add_tcase(s, t);
    return s;
}

int main(void)
{
    SRunner *r = srunner_create(suite());
    srunner_run_all(r, CK_NORMAL);
    int failed = srunner_ntests_failed(r);
    srunner_free(r);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

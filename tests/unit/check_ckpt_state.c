/* Unit tests for lower-half/ckpt_state: the thread records and the
 * process record of an image survive encoding, and a decoder refuses
 * every truncation, a damaged length and a record of the older version
 * with a message. */
#define _GNU_SOURCE
#include <check.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>

#include "ckpt_state.h"

static struct ckpt_thread_state sample_thread(int32_t tid)
{
    struct ckpt_thread_state t = {.frame = 0x7f0000001000u + (uint64_t)tid, .upper_fs = 0x7f0000200000u,
                                  .robust_head = 0x7f0000200a20u, .robust_len = 24, .tid = tid, .tid_offset = 0x2d0};
    return t;
}

static void sample_process(struct ckpt_process_state *p, struct ckpt_file *files)
{
    memset(p, 0, sizeof *p);
    p->call_table = 0x7f1234560000u;
    strcpy(p->cwd, "/tmp/some where");
    p->nsig = 2;
    p->sig[0] = (struct ckpt_saved_sigaction){.sig = 10, .handler = 0x401000, .flags = 0x14000004, .restorer = 7,
                                              .mask = 0x200};
    p->sig[1] = (struct ckpt_saved_sigaction){.sig = 14, .handler = 1, .flags = 0, .restorer = 0, .mask = 0};
    p->itimer[0] = (struct ckpt_itimer){.value_us = 150000, .interval_us = 200000};
    memset(files, 0, 2 * sizeof *files);
    files[0] = (struct ckpt_file){.fd = 7, .flags = O_WRONLY | O_APPEND, .fd_flags = FD_CLOEXEC, .offset = 99,
                                  .size = 99};
    strcpy(files[0].path, "/tmp/out.log");
    files[1] = (struct ckpt_file){.fd = 29, .flags = O_RDONLY, .offset = 5, .size = 6037};
    strcpy(files[1].path, "/data/input");
    p->files.count = 2;
    p->files.f = files;
}

/* The sample main record, encoded. */
static uint8_t *encoded_sample(size_t *len)
{
    struct ckpt_thread_state t = sample_thread(1);
    struct ckpt_process_state p;
    struct ckpt_file files[2];
    sample_process(&p, files);
    uint8_t *buf = ckpt_encode_main(&t, &p, len);
    ck_assert_ptr_nonnull(buf);
    return buf;
}

START_TEST(main_record_round_trip)
{
    struct ckpt_thread_state t = sample_thread(4242), t2;
    struct ckpt_process_state p, p2;
    struct ckpt_file files[2];
    sample_process(&p, files);
    size_t len;
    uint8_t *buf = ckpt_encode_main(&t, &p, &len);
    ck_assert_ptr_nonnull(buf);
    char err[512];
    ck_assert_int_eq(ckpt_decode_main(buf, len, &t2, &p2, err, sizeof err), 0);
    ck_assert(memcmp(&t, &t2, sizeof t) == 0);
    ck_assert_uint_eq(p2.call_table, p.call_table);
    ck_assert_str_eq(p2.cwd, p.cwd);
    ck_assert_uint_eq(p2.nsig, 2);
    ck_assert(memcmp(p2.sig, p.sig, 2 * sizeof p.sig[0]) == 0);
    ck_assert(memcmp(p2.itimer, p.itimer, sizeof p.itimer) == 0);
    ck_assert_uint_eq(p2.files.count, 2);
    for (int i = 0; i < 2; i++) {
        ck_assert_int_eq(p2.files.f[i].fd, files[i].fd);
        ck_assert_int_eq(p2.files.f[i].flags, files[i].flags);
        ck_assert_int_eq(p2.files.f[i].fd_flags, files[i].fd_flags);
        ck_assert_uint_eq(p2.files.f[i].offset, files[i].offset);
        ck_assert_uint_eq(p2.files.f[i].size, files[i].size);
        ck_assert_str_eq(p2.files.f[i].path, files[i].path);
    }
    ckpt_files_free(&p2.files);
    free(buf);
}
END_TEST

START_TEST(thread_record_round_trip)
{
    struct ckpt_thread_state t = sample_thread(77), t2;
    size_t len;
    uint8_t *buf = ckpt_encode_thread(&t, &len);
    ck_assert_ptr_nonnull(buf);
    char err[256];
    ck_assert_int_eq(ckpt_decode_thread(buf, len, &t2, err, sizeof err), 0);
    ck_assert(memcmp(&t, &t2, sizeof t) == 0);
    free(buf);
}
END_TEST

START_TEST(every_truncation_is_refused)
{
    struct ckpt_thread_state t2;
    struct ckpt_process_state p2;
    size_t len;
    uint8_t *buf = encoded_sample(&len);
    for (size_t n = 0; n < len; n++) {
        uint8_t *cut = malloc(n ? n : 1);
        memcpy(cut, buf, n);
        char err[512] = "";
        ck_assert_msg(ckpt_decode_main(cut, n, &t2, &p2, err, sizeof err) != 0, "%zu of %zu bytes accepted", n, len);
        ck_assert(err[0] != '\0');
        free(cut);
    }
    /* One byte too many is damage too. */
    uint8_t *longer = calloc(len + 1, 1);
    memcpy(longer, buf, len);
    char err[512];
    ck_assert_int_ne(ckpt_decode_main(longer, len + 1, &t2, &p2, err, sizeof err), 0);
    free(longer);
    free(buf);
}
END_TEST

START_TEST(a_damaged_count_is_refused)
{
    struct ckpt_thread_state t2;
    struct ckpt_process_state p2;
    size_t len;
    uint8_t *buf = encoded_sample(&len);
    /* nsig sits after the 48-byte thread record, the 20-byte process head
     * and the sample's directory. */
    size_t nsig_at = 48 + 20 + strlen("/tmp/some where");
    buf[nsig_at] = 0xff;
    char err[512];
    ck_assert_int_ne(ckpt_decode_main(buf, len, &t2, &p2, err, sizeof err), 0);
    ck_assert(strstr(err, "damaged") != NULL);
    free(buf);
}
END_TEST

START_TEST(the_older_version_is_named)
{
    struct ckpt_thread_state t2;
    struct ckpt_process_state p2;
    size_t len;
    uint8_t *buf = encoded_sample(&len);
    memcpy(buf + 48, CKPT_PROCESS_MAGIC_V1, 8);
    char err[512];
    ck_assert_int_ne(ckpt_decode_main(buf, len, &t2, &p2, err, sizeof err), 0);
    ck_assert(strstr(err, "older MANA") != NULL);
    free(buf);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("ckpt_state");
    TCase *tc = tcase_create("records");
    tcase_add_test(tc, main_record_round_trip);
    tcase_add_test(tc, thread_record_round_trip);
    tcase_add_test(tc, every_truncation_is_refused);
    tcase_add_test(tc, a_damaged_count_is_refused);
    tcase_add_test(tc, the_older_version_is_named);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? 0 : 1;
}

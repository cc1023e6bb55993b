#include "ckpt_state.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "image_format.h"

#define THREAD_BYTES (8 + 4 * 8 + 4 + 4)
#define SIG_BYTES (4 + 4 * 8)

static uint8_t *put_thread(uint8_t *p, const struct ckpt_thread_state *t)
{
    memcpy(p, CKPT_THREAD_MAGIC, 8);
    img_put64(p + 8, t->frame);
    img_put64(p + 16, t->upper_fs);
    img_put64(p + 24, t->robust_head);
    img_put64(p + 32, t->robust_len);
    img_put32(p + 40, (uint32_t)t->tid);
    img_put32(p + 44, t->tid_offset);
    return p + THREAD_BYTES;
}

static const uint8_t *get_thread(const uint8_t *p, struct ckpt_thread_state *t)
{
    t->frame = img_get64(p + 8);
    t->upper_fs = img_get64(p + 16);
    t->robust_head = img_get64(p + 24);
    t->robust_len = img_get64(p + 32);
    t->tid = (int32_t)img_get32(p + 40);
    t->tid_offset = img_get32(p + 44);
    return p + THREAD_BYTES;
}

uint8_t *ckpt_encode_thread(const struct ckpt_thread_state *t, size_t *len)
{
    uint8_t *buf = malloc(THREAD_BYTES);
    if (buf != NULL) {
        put_thread(buf, t);
        *len = THREAD_BYTES;
    }
    return buf;
}

#define ITIMER_BYTES (CKPT_ITIMERS * 16)

uint8_t *ckpt_encode_main(const struct ckpt_thread_state *t, const struct ckpt_process_state *p, size_t *len)
{
    size_t cwd_len = strnlen(p->cwd, sizeof p->cwd), files_len;
    if (p->nsig > CKPT_MAX_SIGNALS)
        return NULL;
    uint8_t *files = ckpt_files_encode(&p->files, &files_len);
    size_t n = THREAD_BYTES + 8 + 8 + 4 + cwd_len + 4 + (size_t)p->nsig * SIG_BYTES + ITIMER_BYTES + 4 + files_len;
    uint8_t *buf = files == NULL || files_len > UINT32_MAX ? NULL : malloc(n), *q;
    if (buf == NULL) {
        free(files);
        return NULL;
    }
    q = put_thread(buf, t);
    memcpy(q, CKPT_PROCESS_MAGIC, 8);
    img_put64(q + 8, p->call_table);
    img_put32(q + 16, (uint32_t)cwd_len);
    memcpy(q + 20, p->cwd, cwd_len);
    q += 20 + cwd_len;
    img_put32(q, p->nsig);
    q += 4;
    for (uint32_t i = 0; i < p->nsig; i++, q += SIG_BYTES) {
        img_put32(q, (uint32_t)p->sig[i].sig);
        img_put64(q + 4, p->sig[i].handler);
        img_put64(q + 12, p->sig[i].flags);
        img_put64(q + 20, p->sig[i].restorer);
        img_put64(q + 28, p->sig[i].mask);
    }
    for (int i = 0; i < CKPT_ITIMERS; i++, q += 16) {
        img_put64(q, p->itimer[i].value_us);
        img_put64(q + 8, p->itimer[i].interval_us);
    }
    img_put32(q, (uint32_t)files_len);
    memcpy(q + 4, files, files_len);
    free(files);
    *len = n;
    return buf;
}

int ckpt_decode_thread(const uint8_t *buf, size_t len, struct ckpt_thread_state *t, char *err, size_t errlen)
{
    if (len < THREAD_BYTES || memcmp(buf, CKPT_THREAD_MAGIC, 8) != 0) {
        snprintf(err, errlen, "a thread record of the image is not one (%zu bytes, bad magic or too short)", len);
        return -1;
    }
    get_thread(buf, t);
    return 0;
}

int ckpt_decode_main(const uint8_t *buf, size_t len, struct ckpt_thread_state *t, struct ckpt_process_state *p,
                     char *err, size_t errlen)
{
    if (ckpt_decode_thread(buf, len, t, err, errlen) != 0)
        return -1;
    const uint8_t *q = buf + THREAD_BYTES, *end = buf + len;
    memset(p, 0, sizeof *p);
    if (end - q >= 8 && memcmp(q, CKPT_PROCESS_MAGIC_V1, 8) == 0) {
        snprintf(err, errlen,
                 "the image was written by an older MANA (process record version 1, without open files and "
                 "timers): restart it with the MANA that wrote it");
        return -1;
    }
    if (end - q < 20 || memcmp(q, CKPT_PROCESS_MAGIC, 8) != 0)
        goto bad;
    p->call_table = img_get64(q + 8);
    uint32_t cwd_len = img_get32(q + 16);
    if (cwd_len >= sizeof p->cwd || (size_t)(end - q - 20) < cwd_len + 4u)
        goto bad;
    memcpy(p->cwd, q + 20, cwd_len);
    q += 20 + cwd_len;
    p->nsig = img_get32(q);
    q += 4;
    if (p->nsig > CKPT_MAX_SIGNALS || (size_t)(end - q) < (size_t)p->nsig * SIG_BYTES + ITIMER_BYTES + 4)
        goto bad;
    for (uint32_t i = 0; i < p->nsig; i++, q += SIG_BYTES) {
        p->sig[i].sig = (int32_t)img_get32(q);
        p->sig[i].handler = img_get64(q + 4);
        p->sig[i].flags = img_get64(q + 12);
        p->sig[i].restorer = img_get64(q + 20);
        p->sig[i].mask = img_get64(q + 28);
    }
    for (int i = 0; i < CKPT_ITIMERS; i++, q += 16) {
        p->itimer[i].value_us = img_get64(q);
        p->itimer[i].interval_us = img_get64(q + 8);
    }
    uint32_t files_len = img_get32(q);
    q += 4;
    if ((size_t)(end - q) != files_len)
        goto bad;
    char why[512];
    if (ckpt_files_decode(q, files_len, &p->files, why, sizeof why) != 0) {
        snprintf(err, errlen, "the process record of the image is damaged: %s", why);
        return -1;
    }
    return 0;
bad:
    snprintf(err, errlen, "the process record of the image is damaged (%zu bytes)", len);
    return -1;
}

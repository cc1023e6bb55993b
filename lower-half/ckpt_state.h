/* What a rank's image holds besides its memory: the stopped threads and
 * the process-wide state the kernel keeps outside memory. Encoded field
 * by field, little-endian (docs/image-format.md, "Thread records"), as
 * the image's per-thread byte strings; thread 0 is the application's main
 * thread and carries the process record. */
#ifndef MANA_CKPT_STATE_H
#define MANA_CKPT_STATE_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/time.h>

#include "ckpt_files.h"

#define CKPT_THREAD_MAGIC "MANATHR1"
#define CKPT_PROCESS_MAGIC "MANAPRC2"
#define CKPT_PROCESS_MAGIC_V1 "MANAPRC1"
#define CKPT_MAX_SIGNALS 64

struct ckpt_thread_state {
    uint64_t frame;      /* the stop signal's ucontext on the thread's stack */
    uint64_t upper_fs;   /* its upper thread pointer */
    uint64_t robust_head, robust_len;
    int32_t tid;         /* at the checkpoint (the restart gives a new one) */
    uint32_t tid_offset; /* where the upper C library keeps the tid, from upper_fs */
};

struct ckpt_saved_sigaction {
    int32_t sig;
    uint64_t handler, flags, restorer, mask; /* the kernel's struct sigaction */
};

/* An interval timer (setitimer), in microseconds: what is left until it
 * fires, and its period. */
struct ckpt_itimer {
    uint64_t value_us, interval_us;
};
#define CKPT_ITIMERS 3
/* The setitimer timer of the record's I-th entry. */
static inline int ckpt_itimer_which(int i)
{
    static const int which[CKPT_ITIMERS] = {ITIMER_REAL, ITIMER_VIRTUAL, ITIMER_PROF};
    return which[i];
}

struct ckpt_process_state {
    uint64_t call_table; /* address of the call table page (upper memory) */
    char cwd[PATH_MAX];
    uint32_t nsig;
    struct ckpt_saved_sigaction sig[CKPT_MAX_SIGNALS];
    struct ckpt_itimer itimer[CKPT_ITIMERS];
    struct ckpt_file_table files; /* the application's open files (ckpt_files.h) */
};

/* Encoders return a malloc'd buffer and its length, or NULL. */
uint8_t *ckpt_encode_main(const struct ckpt_thread_state *t, const struct ckpt_process_state *p, size_t *len);
uint8_t *ckpt_encode_thread(const struct ckpt_thread_state *t, size_t *len);
/* Decoders: 0, or -1 with ERR for bytes that are not such a record. P's
 * file table is malloc'd: ckpt_files_free(&p->files) when done. */
int ckpt_decode_main(const uint8_t *buf, size_t len, struct ckpt_thread_state *t, struct ckpt_process_state *p,
                     char *err, size_t errlen);
int ckpt_decode_thread(const uint8_t *buf, size_t len, struct ckpt_thread_state *t, char *err, size_t errlen);

#endif

/* Writing one rank's image while its application thread is stopped. */
#ifndef MANA_CKPT_WRITE_H
#define MANA_CKPT_WRITE_H

#include <stddef.h>
#include <stdint.h>

#include "ckpt_state.h"
#include "image_writer.h"

/* Fills P with the process-wide state: the current directory, every
 * signal action that is the application's (a handler in upper memory, or
 * SIG_IGN), leaving out the signals in OURS (NOURS of them), the interval
 * timers and the open files (ckpt_files.h). */
int ckpt_capture_process(struct ckpt_process_state *p, uint64_t call_table, const int *ours, size_t nours,
                         char *err, size_t errlen);

/* Finds where the upper C library keeps the thread id in the thread
 * descriptor at T->upper_fs and stores it in T->tid_offset. 0 or -1. */
int ckpt_find_tid_offset(struct ckpt_thread_state *t, char *err, size_t errlen);

/* Writes PATH atomically: the machine record (machine_info.h), the thread records (THREADS[0], the main
 * thread, carries P), then every upper region. SUMMARY says what was
 * written. 0, or -1 with ERR (no file is left at PATH). */
int ckpt_write_image(const char *path, const struct image_writer_header *hdr, const struct ckpt_thread_state *threads,
                     size_t nthreads, const struct ckpt_process_state *p, struct image_summary *summary, char *err,
                     size_t errlen);

#endif

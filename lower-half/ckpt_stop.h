/* Stopping the application's thread where it is, for a checkpoint.
 *
 * The checkpoint thread holds the lower lock, so the application's
 * thread is in upper code (its own, libmana's, or waiting for that lock):
 * never inside the lower half, whose stack frames a restart could not
 * bring back. A signal makes it enter stop_handler on its own stack; the
 * kernel's signal frame there holds every register, the FPU state and the
 * signal mask, and the thread waits inside the handler. To continue, the
 * handler returns. To restart in a new process, the restore engine puts
 * the saved memory back and does rt_sigreturn on that same frame
 * (ckpt_resume_frame), so the thread goes on exactly where it stopped. */
#ifndef MANA_CKPT_STOP_H
#define MANA_CKPT_STOP_H

#include <signal.h>
#include <stdint.h>
#include <sys/types.h>

#include "mana/fsbase.h"

/* Real-time signal used only between MANA's threads; libmana keeps the
 * application from taking it. */
#define MANA_STOP_SIGNAL (SIGRTMAX - 2)

/* Where a stopped thread is. */
struct ckpt_stopped {
    uint64_t frame;    /* its ucontext_t on its own stack: rsp for rt_sigreturn */
    uint64_t upper_fs; /* its thread pointer (the upper C library's) */
    uint64_t robust_head, robust_len;
    int32_t tid;
};

/* Installs the handler. FS tells how to read %fs here. 0 or -1 with ERR. */
int ckpt_stop_install(const struct mana_fs_method *fs, char *err, size_t errlen);

/* The thread to stop: the application's main thread (the one that
 * called MPI_Init). */
void ckpt_stop_set_target(pid_t tid);
pid_t ckpt_stop_target(void);

/* Stops the target and fills OUT: 0, or -1 with ERR when it did not stop
 * within TIMEOUT_MS. */
int ckpt_stop_app(struct ckpt_stopped *out, int timeout_ms, char *err, size_t errlen);

/* Lets the stopped thread go on from where it stopped. */
void ckpt_stop_resume(void);

/* Never returns: sets %fs to UPPER_FS and returns from the signal frame at
 * FRAME, which must be a frame ckpt_stop_app reported, in memory put back
 * exactly as it was. */
void ckpt_resume_frame(uint64_t frame, uint64_t upper_fs) __attribute__((noreturn));

#endif

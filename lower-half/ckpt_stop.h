/* Stopping the application's threads where they are, for a checkpoint.
 *
 * The checkpoint thread holds the lower lock, so the application's
 * threads are in upper code (their own, libmana's, or waiting for that
 * lock): never inside the lower half, whose stack frames a restart could
 * not bring back. A signal makes each enter stop_handler on its own
 * stack; the kernel's signal frame there holds every register, the FPU
 * state and the signal mask, and the thread waits inside the handler. To
 * continue, the handlers return. To restart in a new process, the restore
 * engine puts the saved memory back and does rt_sigreturn on those same
 * frames (ckpt_resume_frame for the thread that becomes the process's
 * first, ckpt_resume_thread for the others), so each thread goes on
 * exactly where it stopped. */
#ifndef MANA_CKPT_STOP_H
#define MANA_CKPT_STOP_H

#include <signal.h>
#include <stdint.h>
#include <sys/types.h>

#include "ckpt_state.h"
#include "mana/call_table.h"
#include "mana/fsbase.h"

/* Real-time signal used only between MANA's threads; libmana keeps the
 * application from taking or blocking it. */
#define MANA_STOP_SIGNAL (SIGRTMAX - 2)

/* At most this many threads are stopped and saved: as many as libmana
 * lists (the main one among them). */
#define CKPT_MAX_THREADS MANA_MAX_UPPER_THREADS

/* Installs the handler. FS tells how to read %fs here. 0 or -1 with ERR. */
int ckpt_stop_install(const struct mana_fs_method *fs, char *err, size_t errlen);

/* The application's main thread: the one that called MPI_Init. */
void ckpt_stop_set_target(pid_t tid);

/* Stops the main thread and every other thread in THREADS, holding
 * THREADS' creation lock so that no thread starts meanwhile, and fills
 * OUT[0..*N) with where each is (the main thread first; tid_offset is
 * left 0). Frees the slots of registered threads that are gone. 0; or -1
 * with ERR when a thread did not stop within TIMEOUT_MS, or threads were
 * started that could not be registered: then every thread runs on. */
int ckpt_stop_app(struct mana_upper_threads *threads, struct ckpt_thread_state *out, size_t *n, int timeout_ms,
                  char *err, size_t errlen);

/* Lets the stopped threads go on from where they stopped, and releases
 * the creation lock. */
void ckpt_stop_resume(struct mana_upper_threads *threads);

/* Never returns: sets %fs to UPPER_FS and returns from the signal frame at
 * FRAME, which must be a frame ckpt_stop_app reported, in memory put back
 * exactly as it was. */
void ckpt_resume_frame(uint64_t frame, uint64_t upper_fs) __attribute__((noreturn));

/* Starts a thread of this process that continues T from its frame (in
 * memory put back exactly as it was): its thread pointer is T's upper
 * %fs, the kernel writes its new id into the upper descriptor's tid slot
 * (and clears it when it ends, as pthread_join expects), and it takes T's
 * robust list before rt_sigreturn. Returns the new thread's id, or a
 * negative errno. Call it with every signal blocked: the new thread
 * starts with the caller's mask until its frame restores its own. */
long ckpt_resume_thread(const struct ckpt_thread_state *t);

#endif

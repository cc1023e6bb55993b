/* The stop handler runs on the application's thread with the upper %fs:
 * no TLS, no errno, no libc beyond what is inline (this file is built
 * without stack protector). */
#define _GNU_SOURCE
#include "ckpt_stop.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "mana/lock_word.h"
#include "mana/raw_syscall.h"
#include "region_labeller.h"
#include <ucontext.h>

enum { RUNNING = 0, STOPPED = 1, RESUMING = 2, NOT_HERE = 3 };

static _Atomic int stop_state;
static struct ckpt_stopped captured;
static struct mana_fs_method fs_method;
static pid_t target_tid;

static void stop_handler(int sig, siginfo_t *info, void *uctx)
{
    (void)sig;
    (void)info;
    /* The thread must be in upper code: lower code (a lower signal
     * handler it just ran, whose return trampoline is lower too) is not
     * saved and would not be there after a restart. Ask to be tried again
     * once it is out. */
    uint64_t rip = (uint64_t)((ucontext_t *)uctx)->uc_mcontext.gregs[REG_RIP];
    if (region_registry_owner(region_labeller_registry(), rip, rip + 1) != REGION_UPPER) {
        atomic_store(&stop_state, NOT_HERE);
        mana_futex(&stop_state, FUTEX_WAKE_PRIVATE, 1);
        return;
    }
    captured.frame = (uint64_t)uctx;
    captured.upper_fs = mana_rdfsbase(&fs_method);
    uint64_t head = 0, len = 0;
    if (mana_raw_syscall6(SYS_get_robust_list, 0, (long)&head, (long)&len, 0, 0, 0) != 0)
        head = len = 0;
    captured.robust_head = head;
    captured.robust_len = len;
    captured.tid = (int32_t)mana_raw_syscall6(SYS_gettid, 0, 0, 0, 0, 0, 0);
    atomic_store(&stop_state, STOPPED);
    mana_futex(&stop_state, FUTEX_WAKE_PRIVATE, 1);
    while (atomic_load(&stop_state) != RESUMING)
        mana_futex(&stop_state, FUTEX_WAIT_PRIVATE, STOPPED);
    atomic_store(&stop_state, RUNNING);
}

int ckpt_stop_install(const struct mana_fs_method *fs, char *err, size_t errlen)
{
    fs_method = *fs;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = stop_handler;
    sa.sa_flags = SA_SIGINFO | SA_RESTART;
    sigfillset(&sa.sa_mask);
    sigdelset(&sa.sa_mask, SIGSYS); /* the region labeller must still run */
    if (sigaction(MANA_STOP_SIGNAL, &sa, NULL) != 0) {
        snprintf(err, errlen, "cannot install the handler of signal %d that stops the application at a checkpoint: %s",
                 MANA_STOP_SIGNAL, strerror(errno));
        return -1;
    }
    return 0;
}

void ckpt_stop_set_target(pid_t tid)
{
    target_tid = tid;
}

pid_t ckpt_stop_target(void)
{
    return target_tid;
}

int ckpt_stop_app(struct ckpt_stopped *out, int timeout_ms, char *err, size_t errlen)
{
    if (target_tid == 0) {
        snprintf(err, errlen, "the application has not called MPI_Init yet: nothing to checkpoint");
        return -1;
    }
    atomic_store(&stop_state, RUNNING);
    if (syscall(SYS_tgkill, getpid(), target_tid, MANA_STOP_SIGNAL) != 0) {
        snprintf(err, errlen, "cannot signal the application's thread %d: %s", (int)target_tid, strerror(errno));
        return -1;
    }
    struct timespec slice = {0, 10 * 1000 * 1000};
    for (int waited = 0; atomic_load(&stop_state) != STOPPED; waited += 10) {
        if (atomic_load(&stop_state) == NOT_HERE) {
            atomic_store(&stop_state, RUNNING);
            struct timespec brief = {0, 1000 * 1000};
            nanosleep(&brief, NULL);
            syscall(SYS_tgkill, getpid(), target_tid, MANA_STOP_SIGNAL);
            continue;
        }
        if (waited >= timeout_ms) {
            snprintf(err, errlen,
                     "the application's thread %d did not stop within %d ms (it blocks signal %d, or is stuck "
                     "in the kernel)",
                     (int)target_tid, timeout_ms, MANA_STOP_SIGNAL);
            return -1;
        }
        mana_raw_syscall6(SYS_futex, (long)&stop_state, FUTEX_WAIT_PRIVATE, RUNNING, (long)&slice, 0, 0);
    }
    *out = captured;
    return 0;
}

void ckpt_stop_resume(void)
{
    atomic_store(&stop_state, RESUMING);
    mana_futex(&stop_state, FUTEX_WAKE_PRIVATE, 1);
}

void ckpt_resume_frame(uint64_t frame, uint64_t upper_fs)
{
    mana_raw_syscall6(SYS_arch_prctl, ARCH_SET_FS, (long)upper_fs, 0, 0, 0, 0);
    __asm__ volatile("mov %0, %%rsp\n\t"
                     "mov %1, %%eax\n\t"
                     "syscall\n\t" ::"r"(frame),
                     "i"(SYS_rt_sigreturn)
                     : "memory");
    __builtin_unreachable();
}

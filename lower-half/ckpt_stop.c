/* The stop handler runs on the application's threads with their upper
 * %fs: no TLS, no errno, no libc beyond what is inline (this file is built
 * without stack protector). */
#define _GNU_SOURCE
#include "ckpt_stop.h"

#include <errno.h>
#include <sched.h>
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

/* A slot's state. The checkpoint thread moves it IDLE -> ASKED (and
 * signals), the handler ASKED -> STOPPED or NOT_HERE, and the checkpoint
 * thread everything back to IDLE before it lets the handlers return. */
enum { IDLE = 0, ASKED = 1, STOPPED = 2, NOT_HERE = 3, GONE = 4 };

struct stop_slot {
    _Atomic int32_t tid;
    _Atomic int state;
    struct ckpt_thread_state where;
};

static struct stop_slot slots[CKPT_MAX_THREADS];
static size_t nslots;
static struct mana_fs_method fs_method;
static pid_t main_tid;

static struct stop_slot *slot_of(int32_t tid)
{
    for (size_t i = 0; i < nslots; i++)
        if (atomic_load(&slots[i].tid) == tid)
            return &slots[i];
    return NULL;
}

static void stop_handler(int sig, siginfo_t *info, void *uctx)
{
    (void)sig;
    (void)info;
    int32_t tid = (int32_t)mana_raw_syscall6(SYS_gettid, 0, 0, 0, 0, 0, 0);
    struct stop_slot *s = slot_of(tid);
    if (s == NULL || atomic_load(&s->state) != ASKED)
        return;
    /* The thread must be in upper code: lower code (a lower signal
     * handler it just ran, whose return trampoline is lower too) is not
     * saved and would not be there after a restart. Ask to be tried again
     * once it is out. */
    int asked = ASKED;
    uint64_t rip = (uint64_t)((ucontext_t *)uctx)->uc_mcontext.gregs[REG_RIP];
    if (region_registry_owner(region_labeller_registry(), rip, rip + 1) != REGION_UPPER) {
        atomic_compare_exchange_strong(&s->state, &asked, NOT_HERE);
        return;
    }
    s->where.frame = (uint64_t)uctx;
    s->where.upper_fs = mana_rdfsbase(&fs_method);
    uint64_t head = 0, len = 0;
    if (mana_raw_syscall6(SYS_get_robust_list, 0, (long)&head, (long)&len, 0, 0, 0) != 0)
        head = len = 0;
    s->where.robust_head = head;
    s->where.robust_len = len;
    s->where.tid = tid;
    s->where.tid_offset = 0;
    /* Only if still asked: a checkpoint that gave up meanwhile has set
     * the slot back to IDLE and will not wake anyone. */
    if (!atomic_compare_exchange_strong(&s->state, &asked, STOPPED))
        return;
    while (atomic_load(&s->state) == STOPPED)
        mana_futex(&s->state, FUTEX_WAIT_PRIVATE, STOPPED);
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
    main_tid = tid;
}

/* Signals the slot's thread; a thread already gone counts as done. */
static int ask(struct stop_slot *s)
{
    atomic_store(&s->state, ASKED);
    if (syscall(SYS_tgkill, getpid(), atomic_load(&s->tid), MANA_STOP_SIGNAL) == 0)
        return 0;
    int e = errno;
    atomic_store(&s->state, e == ESRCH ? GONE : IDLE);
    errno = e;
    return e == ESRCH ? 0 : -1;
}

static int gone(int32_t tid)
{
    return syscall(SYS_tgkill, getpid(), tid, 0) != 0 && errno == ESRCH;
}

/* The slots of the main thread and every registered thread, the main
 * one first and each once. 0, or -1 when they are more than a restart
 * can bring back (the main thread was not listed, and the list is full). */
static int fill_slots(const struct mana_upper_threads *threads)
{
    nslots = 0;
    atomic_store(&slots[nslots++].tid, (int32_t)main_tid);
    for (size_t i = 0; i < MANA_MAX_UPPER_THREADS; i++) {
        int32_t tid = threads->tid[i];
        if (tid == 0 || tid == (int32_t)main_tid || slot_of(tid) != NULL)
            continue;
        if (nslots == CKPT_MAX_THREADS)
            return -1;
        atomic_store(&slots[nslots++].tid, tid);
    }
    for (size_t i = 0; i < nslots; i++)
        atomic_store(&slots[i].state, IDLE);
    return 0;
}

static void forget_gone(struct mana_upper_threads *threads)
{
    for (size_t i = 0; i < nslots; i++) {
        if (atomic_load(&slots[i].state) != GONE)
            continue;
        for (size_t k = 0; k < MANA_MAX_UPPER_THREADS; k++)
            if (threads->tid[k] == atomic_load(&slots[i].tid))
                threads->tid[k] = 0;
    }
}

static void describe_unstopped(char *err, size_t errlen, int timeout_ms)
{
    size_t used = (size_t)snprintf(err, errlen, "the application's thread(s)");
    for (size_t i = 0; i < nslots && used < errlen; i++)
        if (atomic_load(&slots[i].state) == ASKED || atomic_load(&slots[i].state) == NOT_HERE)
            used += (size_t)snprintf(err + used, errlen - used, " %d", (int)atomic_load(&slots[i].tid));
    if (used < errlen)
        snprintf(err + used, errlen - used,
                 " did not stop within %d ms (blocked in the kernel, or inside the lower half all that time)",
                 timeout_ms);
}

int ckpt_stop_app(struct mana_upper_threads *threads, struct ckpt_thread_state *out, size_t *n, int timeout_ms,
                  char *err, size_t errlen)
{
    if (main_tid == 0) {
        snprintf(err, errlen, "the application has not called MPI_Init yet: nothing to checkpoint");
        return -1;
    }
    mana_lock_word_acquire(&threads->create_lock);
    uint32_t lost = atomic_load(&threads->unregistered);
    if (lost != 0 || fill_slots(threads) != 0) {
        snprintf(err, errlen,
                 "the application has had more than %d threads alive at once (MANA_MAX_UPPER_THREADS), more than "
                 "MANA can save: such a job cannot be checkpointed",
                 CKPT_MAX_THREADS);
        nslots = 0;
        mana_lock_word_release(&threads->create_lock);
        return -1;
    }
    for (size_t i = 0; i < nslots; i++) {
        if (ask(&slots[i]) != 0) {
            snprintf(err, errlen, "cannot signal the application's thread %d: %s", (int)atomic_load(&slots[i].tid),
                     strerror(errno));
            ckpt_stop_resume(threads);
            return -1;
        }
    }
    struct timespec tick = {0, 200 * 1000}, start, now;
    clock_gettime(CLOCK_MONOTONIC, &start);
    for (long ticks = 0;; ticks++) {
        int waiting = 0;
        for (size_t i = 0; i < nslots; i++) {
            struct stop_slot *s = &slots[i];
            int state = atomic_load(&s->state);
            if (state == NOT_HERE)
                ask(s);
            else if (state == ASKED && ticks % 50 == 49 && gone(atomic_load(&s->tid)))
                atomic_store(&s->state, GONE);
            waiting += state == ASKED || state == NOT_HERE;
        }
        if (waiting == 0)
            break;
        clock_gettime(CLOCK_MONOTONIC, &now);
        if ((now.tv_sec - start.tv_sec) * 1000 + (now.tv_nsec - start.tv_nsec) / 1000000 >= timeout_ms) {
            describe_unstopped(err, errlen, timeout_ms);
            ckpt_stop_resume(threads);
            return -1;
        }
        nanosleep(&tick, NULL);
    }
    if (atomic_load(&slots[0].state) == GONE) {
        snprintf(err, errlen, "the application's main thread %d has ended", (int)main_tid);
        ckpt_stop_resume(threads);
        return -1;
    }
    forget_gone(threads);
    *n = 0;
    for (size_t i = 0; i < nslots; i++)
        if (atomic_load(&slots[i].state) == STOPPED)
            out[(*n)++] = slots[i].where;
    return 0;
}

void ckpt_stop_resume(struct mana_upper_threads *threads)
{
    for (size_t i = 0; i < nslots; i++) {
        if (atomic_exchange(&slots[i].state, IDLE) == STOPPED)
            mana_futex(&slots[i].state, FUTEX_WAKE_PRIVATE, 1);
    }
    mana_lock_word_release(&threads->create_lock);
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

/* long clone_into_frame(flags, frame, child_tid, tls, robust_head,
 * robust_len): clone(2) with the frame as the child's stack pointer. The
 * child has no stack of its own to run C on, so it only makes two system
 * calls, with values it got in callee-saved registers: set_robust_list
 * (when there is a list), then rt_sigreturn on the frame. */
_Static_assert(SYS_clone == 56 && SYS_set_robust_list == 273 && SYS_rt_sigreturn == 15,
               "the system call numbers in clone_into_frame are x86-64's");
long clone_into_frame(unsigned long flags, uint64_t frame, int32_t *child_tid, uint64_t tls, uint64_t robust_head,
                      uint64_t robust_len);
__asm__(".text\n"
        ".type clone_into_frame, @function\n"
        "clone_into_frame:\n\t"
        "push %r12\n\t"
        "push %r13\n\t"
        "mov %r8, %r12\n\t"
        "mov %r9, %r13\n\t"
        "mov %rdx, %r10\n\t"
        "mov %rcx, %r8\n\t"
        "xor %edx, %edx\n\t"
        "mov $56, %eax\n\t"
        "syscall\n\t"
        "test %rax, %rax\n\t"
        "jnz 1f\n\t"
        "test %r12, %r12\n\t"
        "jz 2f\n\t"
        "mov %r12, %rdi\n\t"
        "mov %r13, %rsi\n\t"
        "mov $273, %eax\n\t"
        "syscall\n"
        "2:\n\t"
        "mov $15, %eax\n\t"
        "syscall\n\t"
        "ud2\n"
        "1:\n\t"
        "pop %r13\n\t"
        "pop %r12\n\t"
        "ret\n"
        ".size clone_into_frame, .-clone_into_frame\n");

long ckpt_resume_thread(const struct ckpt_thread_state *t)
{
    const unsigned long flags = CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_THREAD | CLONE_SYSVSEM |
                                CLONE_SETTLS | CLONE_CHILD_SETTID | CLONE_CHILD_CLEARTID;
    int32_t *tid_slot = (int32_t *)(uintptr_t)(t->upper_fs + t->tid_offset);
    return clone_into_frame(flags, t->frame, tid_slot, t->upper_fs, t->robust_head, t->robust_len);
}

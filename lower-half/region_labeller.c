/* The seccomp filter traps mmap, munmap, mremap, shmat and shmdt only when
 * the instruction pointer lies in the lower half's code (its ld.so, libc,
 * MPI and network libraries), so the upper half pays nothing. The SIGSYS
 * handler redoes the call with a raw syscall from this executable's text,
 * which the filter does not trap, and records the result, all under one
 * spinlock so the registry's order matches the kernel's. The handler runs
 * on any thread with whichever %fs is live: no TLS, no errno, no stdio
 * (this file is built without stack protector), and the process is linked
 * with -z now so no lazy binding runs here either. */
#define _GNU_SOURCE
#include "region_labeller.h"

#include <errno.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <signal.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/shm.h>
#include <sys/syscall.h>
#include <ucontext.h>
#include <unistd.h>

#include "mana/raw_syscall.h"
#include "proc_maps.h"

#ifndef SYS_SECCOMP
#define SYS_SECCOMP 1 /* si_code of a seccomp SECCOMP_RET_TRAP */
#endif

#define PAGE 4096ULL
#define PAGE_UP(x) (((x) + PAGE - 1) & ~(PAGE - 1))
#define MAX_CODE_RANGES 256
#define MAX_SHM 256

static struct region_registry registry;
static atomic_flag registry_lock = ATOMIC_FLAG_INIT;
static _Atomic uint64_t trapped_calls;
static _Atomic uint64_t registry_overflows;
static region_labeller_chain_fn chain_handler;

static struct {
    uint64_t addr, len;
} shm_attached[MAX_SHM];

static const int trapped_syscalls[] = {SYS_mmap, SYS_munmap, SYS_mremap, SYS_shmat, SYS_shmdt};

static void lock(void)
{
    while (atomic_flag_test_and_set_explicit(&registry_lock, memory_order_acquire))
        __builtin_ia32_pause();
}

static void unlock(void)
{
    atomic_flag_clear_explicit(&registry_lock, memory_order_release);
}

static void note(int rc)
{
    if (rc != 0)
        atomic_fetch_add(&registry_overflows, 1);
}

static void record_shmat(uint64_t addr, long shmid)
{
    struct shmid_ds ds;
    if (mana_raw_syscall6(SYS_shmctl, shmid, IPC_STAT, (long)&ds, 0, 0, 0) != 0)
        return;
    uint64_t len = PAGE_UP(ds.shm_segsz);
    note(region_registry_add(&registry, addr, addr + len));
    for (int i = 0; i < MAX_SHM; i++) {
        if (shm_attached[i].len == 0) {
            shm_attached[i].addr = addr;
            shm_attached[i].len = len;
            return;
        }
    }
}

static void record_shmdt(uint64_t addr)
{
    for (int i = 0; i < MAX_SHM; i++) {
        if (shm_attached[i].len != 0 && shm_attached[i].addr == addr) {
            note(region_registry_remove(&registry, addr, addr + shm_attached[i].len));
            shm_attached[i].len = 0;
            return;
        }
    }
}

static void record(long nr, const long *a, long ret)
{
    switch (nr) {
    case SYS_mmap:
        note(region_registry_add(&registry, (uint64_t)ret, (uint64_t)ret + PAGE_UP((uint64_t)a[1])));
        break;
    case SYS_munmap:
        note(region_registry_remove(&registry, (uint64_t)a[0], (uint64_t)a[0] + PAGE_UP((uint64_t)a[1])));
        break;
    case SYS_mremap:
        note(region_registry_remove(&registry, (uint64_t)a[0], (uint64_t)a[0] + PAGE_UP((uint64_t)a[1])));
        note(region_registry_add(&registry, (uint64_t)ret, (uint64_t)ret + PAGE_UP((uint64_t)a[2])));
        break;
    case SYS_shmat:
        record_shmat((uint64_t)ret, a[0]);
        break;
    case SYS_shmdt:
        record_shmdt((uint64_t)a[0]);
        break;
    default:
        break;
    }
}

static void chain_or_default(int sig, siginfo_t *info, void *uctx)
{
    if (chain_handler != NULL) {
        chain_handler(sig, info, uctx);
        return;
    }
    /* Not ours and nobody else wants it: die of it, as natively. */
    struct sigaction dfl;
    memset(&dfl, 0, sizeof dfl);
    dfl.sa_handler = SIG_DFL;
    mana_raw_syscall6(SYS_rt_sigaction, SIGSYS, (long)&dfl, 0, 8, 0, 0);
    mana_raw_syscall6(SYS_tgkill, mana_raw_syscall6(SYS_getpid, 0, 0, 0, 0, 0, 0),
                 mana_raw_syscall6(SYS_gettid, 0, 0, 0, 0, 0, 0), SIGSYS, 0, 0, 0);
}

static void sigsys_handler(int sig, siginfo_t *info, void *uctx)
{
    if (info->si_code != SYS_SECCOMP) {
        chain_or_default(sig, info, uctx);
        return;
    }
    greg_t *g = ((ucontext_t *)uctx)->uc_mcontext.gregs;
    long nr = info->si_syscall;
    long a[6] = {g[REG_RDI], g[REG_RSI], g[REG_RDX], g[REG_R10], g[REG_R8], g[REG_R9]};
    lock();
    long ret = mana_raw_syscall6(nr, a[0], a[1], a[2], a[3], a[4], a[5]);
    if (ret >= 0 || ret < -4095)
        record(nr, a, ret);
    unlock();
    atomic_fetch_add(&trapped_calls, 1);
    g[REG_RAX] = ret;
}

/* --- the filter ------------------------------------------------------ */

struct code_range {
    uint64_t start, end;
};

static int code_ranges_from_maps(const char *maps, struct code_range *out, size_t max, size_t *n, char *err,
                                 size_t errlen)
{
    char self[4096];
    ssize_t sl = readlink("/proc/self/exe", self, sizeof self - 1);
    if (sl < 0) {
        snprintf(err, errlen, "cannot read /proc/self/exe: %s", strerror(errno));
        return -1;
    }
    self[sl] = '\0';
    *n = 0;
    struct maps_entry e;
    const char *cur = maps;
    int rc;
    while ((rc = proc_maps_next(&cur, &e)) != 0) {
        if (rc < 0 || e.perms[2] != 'x' || e.path_len == 0 || e.path[0] != '/')
            continue;
        if (e.path_len == (size_t)sl && memcmp(e.path, self, e.path_len) == 0)
            continue; /* our own code issues the redone calls */
        /* The filter compares 32-bit halves: split at 4 GiB boundaries. */
        uint64_t s = e.start;
        while (s < e.end) {
            uint64_t window_end = (s | 0xffffffffULL) + 1;
            uint64_t piece_end = e.end < window_end ? e.end : window_end;
            if (*n == max) {
                snprintf(err, errlen, "more than %zu executable mappings in the lower half", max);
                return -1;
            }
            out[(*n)++] = (struct code_range){s, piece_end};
            s = piece_end;
        }
    }
    return 0;
}

#define STMT(code, k) ((struct sock_filter)BPF_STMT(code, k))
#define JUMP(code, k, jt, jf) ((struct sock_filter)BPF_JUMP(code, k, jt, jf))
#define IP_LO (offsetof(struct seccomp_data, instruction_pointer))
#define IP_HI (offsetof(struct seccomp_data, instruction_pointer) + 4)

static int install_filter(const struct code_range *ranges, size_t nranges, char *err, size_t errlen)
{
    size_t nsys = sizeof trapped_syscalls / sizeof trapped_syscalls[0];
    size_t max = 4 + nsys + 1 + 6 * nranges + 1;
    struct sock_filter prog[max];
    size_t n = 0;
    prog[n++] = STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch));
    prog[n++] = JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0);
    prog[n++] = STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
    prog[n++] = STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr));
    /* Each listed call jumps to the range checks after the ALLOW below. */
    for (size_t i = 0; i < nsys; i++)
        prog[n++] = JUMP(BPF_JMP | BPF_JEQ | BPF_K, (uint32_t)trapped_syscalls[i], (uint8_t)(nsys - i), 0);
    prog[n++] = STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
    for (size_t i = 0; i < nranges; i++) {
        uint64_t last = ranges[i].end - 1;
        prog[n++] = STMT(BPF_LD | BPF_W | BPF_ABS, IP_HI);
        prog[n++] = JUMP(BPF_JMP | BPF_JEQ | BPF_K, (uint32_t)(ranges[i].start >> 32), 0, 4);
        prog[n++] = STMT(BPF_LD | BPF_W | BPF_ABS, IP_LO);
        prog[n++] = JUMP(BPF_JMP | BPF_JGE | BPF_K, (uint32_t)ranges[i].start, 0, 2);
        prog[n++] = JUMP(BPF_JMP | BPF_JGT | BPF_K, (uint32_t)last, 1, 0);
        prog[n++] = STMT(BPF_RET | BPF_K, SECCOMP_RET_TRAP);
    }
    prog[n++] = STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);

    struct sock_fprog fprog = {.len = (unsigned short)n, .filter = prog};
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
        snprintf(err, errlen, "prctl(PR_SET_NO_NEW_PRIVS): %s", strerror(errno));
        return -1;
    }
    if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_TSYNC, &fprog) != 0) {
        snprintf(err, errlen,
                 "cannot install the seccomp filter that labels memory regions: %s (the kernel needs "
                 "CONFIG_SECCOMP_FILTER; in a container, allow seccomp)",
                 strerror(errno));
        return -1;
    }
    return 0;
}

static void seed_registry(const char *maps)
{
    region_registry_init(&registry);
    struct maps_entry e;
    const char *cur = maps;
    int rc;
    while ((rc = proc_maps_next(&cur, &e)) != 0) {
        if (rc < 0)
            continue;
        uint64_t start = e.start;
        /* The kernel grows the original stack downwards as the lower
         * half uses it; claim the room it may grow into. */
        if (e.path_len == 7 && memcmp(e.path, "[stack]", 7) == 0) {
            struct rlimit rl;
            uint64_t room = 8ULL << 20;
            if (getrlimit(RLIMIT_STACK, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < room)
                room = rl.rlim_cur;
            start = e.end - room < start ? e.end - room : start;
        }
        note(region_registry_add(&registry, start, e.end));
    }
}

int region_labeller_start(char *err, size_t errlen)
{
    static char maps[1 << 20];
    if (proc_maps_read(maps, sizeof maps) < 0) {
        snprintf(err, errlen, "cannot read /proc/self/maps: %s", strerror(errno));
        return -1;
    }
    seed_registry(maps);
    static struct code_range ranges[MAX_CODE_RANGES];
    size_t nranges;
    if (code_ranges_from_maps(maps, ranges, MAX_CODE_RANGES, &nranges, err, errlen) != 0)
        return -1;

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = sigsys_handler;
    sa.sa_flags = SA_SIGINFO | SA_RESTART;
    sigfillset(&sa.sa_mask); /* nothing may interrupt a registry update */
    if (sigaction(SIGSYS, &sa, NULL) != 0) {
        snprintf(err, errlen, "cannot install the SIGSYS handler: %s", strerror(errno));
        return -1;
    }
    return install_filter(ranges, nranges, err, errlen);
}

void region_labeller_mark_upper(uint64_t start, uint64_t end)
{
    lock();
    note(region_registry_remove(&registry, start, end));
    unlock();
}

void region_labeller_mark_lower(uint64_t start, uint64_t end)
{
    lock();
    note(region_registry_add(&registry, start, end));
    unlock();
}

const struct region_registry *region_labeller_registry(void)
{
    return &registry;
}

void region_labeller_set_chain(region_labeller_chain_fn fn)
{
    chain_handler = fn;
}

void region_labeller_stats(struct region_labeller_stats *out)
{
    out->trapped_calls = atomic_load(&trapped_calls);
    out->registry_overflows = atomic_load(&registry_overflows);
}

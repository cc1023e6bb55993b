/* Reading and writing the %fs base, the thread pointer each C library
 * finds its TLS through. Nothing here touches TLS or errno: these run
 * while %fs belongs to the other half.
 *
 * Writing with wrfsbase is only safe when the kernel itself uses
 * FSGSBASE (it says so in AT_HWCAP2): otherwise it does not save the
 * register on a context switch and puts back the value last set with
 * arch_prctl, so a value written by the instruction is lost at the next
 * switch (measured: lost on 999 of 1000 sleeps on a kernel that enables
 * the instructions without reporting them). Reading with rdfsbase is safe
 * whenever the instruction works, because the register then always holds
 * what arch_prctl last set. */
#ifndef MANA_FSBASE_H
#define MANA_FSBASE_H

#include <asm/prctl.h>
#include <stdint.h>
#include <sys/syscall.h>

#ifndef HWCAP2_FSGSBASE
#define HWCAP2_FSGSBASE (1 << 1)
#endif

/* How each half switches %fs; decided once by the lower half. */
struct mana_fs_method {
    int read_insn;  /* rdfsbase works */
    int write_insn; /* wrfsbase is preserved by the kernel */
};

static inline long mana_raw_syscall2(long nr, long a, long b)
{
    long ret;
    __asm__ volatile("syscall" : "=a"(ret) : "a"(nr), "D"(a), "S"(b) : "rcx", "r11", "memory");
    return ret;
}

static inline __attribute__((always_inline)) uint64_t mana_rdfsbase(const struct mana_fs_method *m)
{
    uint64_t fs;
    if (__builtin_expect(m->read_insn, 1))
        __asm__ volatile("rdfsbase %0" : "=r"(fs)::"memory");
    else
        mana_raw_syscall2(SYS_arch_prctl, ARCH_GET_FS, (long)&fs);
    return fs;
}

static inline __attribute__((always_inline)) void mana_wrfsbase(const struct mana_fs_method *m, uint64_t fs)
{
    if (__builtin_expect(m->write_insn, 1))
        __asm__ volatile("wrfsbase %0" ::"r"(fs) : "memory");
    else
        mana_raw_syscall2(SYS_arch_prctl, ARCH_SET_FS, (long)fs);
}

#endif

/* A system call without the C library: no errno (a TLS write through
 * whichever %fs is live), no cancellation point, and, in the lower
 * half's executable, an instruction the region labeller's seccomp filter
 * never traps. Returns the kernel's value (-errno on failure). */
#ifndef MANA_RAW_SYSCALL_H
#define MANA_RAW_SYSCALL_H

static inline long mana_raw_syscall6(long nr, long a1, long a2, long a3, long a4, long a5, long a6)
{
    long ret;
    register long r10 __asm__("r10") = a4;
    register long r8 __asm__("r8") = a5;
    register long r9 __asm__("r9") = a6;
    __asm__ volatile("syscall"
                     : "=a"(ret)
                     : "a"(nr), "D"(a1), "S"(a2), "d"(a3), "r"(r10), "r"(r8), "r"(r9)
                     : "rcx", "r11", "memory");
    return ret;
}

#endif

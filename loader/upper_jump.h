/* Handing the CPU to the upper half's ld.so, as the kernel does after
 * execve: the new stack pointer at argc, %rdx zero (no finaliser from
 * us), and a jump that never comes back. */
#ifndef MANA_UPPER_JUMP_H
#define MANA_UPPER_JUMP_H

#include <stdint.h>

static inline __attribute__((noreturn)) void upper_jump(uint64_t sp, uint64_t entry)
{
    __asm__ volatile("mov %0, %%rsp\n\t"
                     "xor %%edx, %%edx\n\t"
                     "xor %%ebp, %%ebp\n\t"
                     "jmp *%1\n\t" ::"r"(sp),
                     "r"(entry)
                     : "memory");
    __builtin_unreachable();
}

#endif

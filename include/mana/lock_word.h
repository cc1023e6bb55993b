/* A futex lock word that works without TLS: the uncontended path is one
 * atomic exchange. The lower lock of design invariant 5 is one
 * (upper-half/lower_lock.h); the lower half's checkpoint thread takes the
 * same word through the address libmana publishes in the call table. */
#ifndef MANA_LOCK_WORD_H
#define MANA_LOCK_WORD_H

#include <linux/futex.h>
#include <stdatomic.h>
#include <sys/syscall.h>

/* States: 0 free, 1 held, 2 held with waiters. */
static inline long mana_futex(_Atomic int *word, int op, int val)
{
    long ret;
    register long r10 __asm__("r10") = 0;
    __asm__ volatile("syscall"
                     : "=a"(ret)
                     : "a"(SYS_futex), "D"(word), "S"(op), "d"(val), "r"(r10)
                     : "rcx", "r11", "memory");
    return ret;
}

static inline __attribute__((always_inline)) void mana_lock_word_acquire(_Atomic int *word)
{
    int expected = 0;
    if (__builtin_expect(atomic_compare_exchange_strong_explicit(word, &expected, 1, memory_order_acquire,
                                                                 memory_order_relaxed),
                         1))
        return;
    while (atomic_exchange_explicit(word, 2, memory_order_acquire) != 0)
        mana_futex(word, FUTEX_WAIT_PRIVATE, 2);
}

static inline __attribute__((always_inline)) void mana_lock_word_release(_Atomic int *word)
{
    if (__builtin_expect(atomic_exchange_explicit(word, 0, memory_order_release) == 2, 0))
        mana_futex(word, FUTEX_WAKE_PRIVATE, 1);
}

#endif

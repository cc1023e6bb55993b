/* The one lock that serialises calls into the lower half (design
 * invariant 5). A futex word rather than a pthread mutex: it must work
 * without TLS, and the uncontended path is a single atomic exchange. */
#ifndef MANA_LOWER_LOCK_H
#define MANA_LOWER_LOCK_H

#include <linux/futex.h>
#include <stdatomic.h>
#include <sys/syscall.h>

extern _Atomic int mana_lower_lock_word; /* 0 free, 1 held, 2 held with waiters */

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

static inline __attribute__((always_inline)) void mana_lower_lock(void)
{
    int expected = 0;
    if (__builtin_expect(atomic_compare_exchange_strong_explicit(&mana_lower_lock_word, &expected, 1,
                                                                 memory_order_acquire, memory_order_relaxed),
                         1))
        return;
    while (atomic_exchange_explicit(&mana_lower_lock_word, 2, memory_order_acquire) != 0)
        mana_futex(&mana_lower_lock_word, FUTEX_WAIT_PRIVATE, 2);
}

static inline __attribute__((always_inline)) void mana_lower_unlock(void)
{
    if (__builtin_expect(atomic_exchange_explicit(&mana_lower_lock_word, 0, memory_order_release) == 2, 0))
        mana_futex(&mana_lower_lock_word, FUTEX_WAKE_PRIVATE, 1);
}

#endif

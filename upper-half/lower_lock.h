/* The one lock that serialises calls into the lower half (design
 * invariant 5). A futex word rather than a pthread mutex: it must work
 * without TLS, and the uncontended path is a single atomic exchange. */
#ifndef MANA_LOWER_LOCK_H
#define MANA_LOWER_LOCK_H

#include "mana/lock_word.h"

extern _Atomic int mana_lower_lock_word; /* 0 free, 1 held, 2 held with waiters */

static inline __attribute__((always_inline)) void mana_lower_lock(void)
{
    mana_lock_word_acquire(&mana_lower_lock_word);
}

static inline __attribute__((always_inline)) void mana_lower_unlock(void)
{
    mana_lock_word_release(&mana_lower_lock_word);
}

#endif

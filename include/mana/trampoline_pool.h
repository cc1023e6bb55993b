/* Pools of trampolines for callbacks that MPI calls without a context
 * argument (reduction ops, error handlers): each distinct function gets a
 * trampoline of its own, which finds it by its index. Used where one ABI
 * must call a function written for another (lower-half/ompi_abi_calls.c,
 * upper-half/face_ompi.c). */
#ifndef MANA_TRAMPOLINE_POOL_H
#define MANA_TRAMPOLINE_POOL_H

#include <stddef.h>

#include "mana/lock_word.h"

#define MANA_POOL 64

/* MANA_POOL64(M) expands M(ID, N) for N = 0..63: ID is N's two octal
 * digits (a name suffix), N the octal literal 0DD (an index). */
#define MANA_POOL8(M, b)                                                                                     \
    M(b##0, 0##b##0) M(b##1, 0##b##1) M(b##2, 0##b##2) M(b##3, 0##b##3) M(b##4, 0##b##4) M(b##5, 0##b##5)      \
    M(b##6, 0##b##6) M(b##7, 0##b##7)
#define MANA_POOL64(M)                                                                                       \
    MANA_POOL8(M, ) MANA_POOL8(M, 1) MANA_POOL8(M, 2) MANA_POOL8(M, 3) MANA_POOL8(M, 4) MANA_POOL8(M, 5)      \
    MANA_POOL8(M, 6) MANA_POOL8(M, 7)

/* The entry of FN in FNS[MANA_POOL] (with TAG in TAGS[], when TAGS is not
 * NULL: the same function for another kind of object is another entry),
 * taking a free one for a new function; -1 when all are taken. Entries
 * are never given back: a trampoline may be called as long as MPI keeps
 * the object. */
static inline int mana_pool_entry(_Atomic int *lock, void **fns, int *tags, void *fn, int tag)
{
    int found = -1;
    mana_lock_word_acquire(lock);
    for (int i = 0; i < MANA_POOL && found < 0; i++) {
        if (fns[i] == fn && (tags == NULL || tags[i] == tag)) {
            found = i;
        } else if (fns[i] == NULL) {
            fns[i] = fn;
            if (tags != NULL)
                tags[i] = tag;
            found = i;
        }
    }
    mana_lock_word_release(lock);
    return found;
}

#endif

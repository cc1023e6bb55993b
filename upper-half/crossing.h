/* One crossing from the upper half into the lower half: take the lower
 * lock, remember the caller's %fs, switch to the lower half's, call, and
 * switch back. Every MPI wrapper is built from these two steps; files
 * including this are compiled without stack protector, since the canary
 * is read through %fs. */
#ifndef MANA_CROSSING_H
#define MANA_CROSSING_H

#include <stdint.h>

#include "lower_lock.h"
#include "mana/call_table.h"
#include "mana/fsbase.h"

extern struct mana_call_table *mana_lower;
extern struct mana_fs_method mana_fs;
/* The %fs of the thread holding the lower lock (0 when free), for signal
 * handlers and callbacks that must get back to the upper half from inside
 * it, and to recognise a nested call from such a callback. */
extern volatile uint64_t mana_holder_upper_fs;

struct mana_crossing {
    uint64_t upper_fs;
    int nested; /* the thread already held the lower lock */
};

void mana_no_lower_half(const char *function) __attribute__((noreturn, cold));
/* The first MPI call after a restart rebuilds MPI's objects first
 * (ckpt_sync.c). */
void mana_ckpt_after_restart(struct mana_crossing *c) __attribute__((cold));
/* Reports FUNCTION as not supported and aborts the whole job. */
void mana_unsupported(const char *function) __attribute__((noreturn, cold));

/* A crossing in four steps, for wrappers that translate handles: the
 * virtual-id tables may only be touched with the lower lock held and the
 * upper %fs live (they allocate with the upper malloc), so such a wrapper
 * locks, translates, switches %fs only around the call itself, translates
 * the results back and unlocks.
 *
 * A user callback that MPI runs (a reduction op, an error handler or
 * attribute callback) may itself call MPI: its thread already holds the
 * lock. The holder is recognised by its upper %fs, unique per thread, so
 * no TLS is needed. */
/* Only asked when the lock is held and not by this thread's own MPI call:
 * is this a callback MPI runs on the checkpoint thread while it holds
 * the lock? Such a callback runs on that thread's stack. The checkpoint
 * thread never writes mana_holder_upper_fs, so the application's thread
 * cannot mistake its hold for its own. */
static inline int mana_on_ckpt_thread(void)
{
    const struct mana_ckpt_sync *s = &mana_lower->sync;
    if (!atomic_load(&s->held_by_ckpt))
        return 0;
    uint64_t sp;
    __asm__ volatile("mov %%rsp, %0" : "=r"(sp));
    return sp >= s->ckpt_stack_lo && sp < s->ckpt_stack_hi;
}

static inline __attribute__((always_inline)) void mana_cross_lock(struct mana_crossing *c, const char *function)
{
    if (__builtin_expect(mana_lower == 0, 0))
        mana_no_lower_half(function);
    c->upper_fs = mana_rdfsbase(&mana_fs);
    c->nested = __builtin_expect(atomic_load_explicit(&mana_lower_lock_word, memory_order_relaxed) != 0, 0) &&
                (mana_holder_upper_fs == c->upper_fs || mana_on_ckpt_thread());
    if (!c->nested) {
        mana_lower_lock();
        mana_holder_upper_fs = c->upper_fs;
    }
    if (__builtin_expect(atomic_load_explicit(&mana_lower->sync.replay_due, memory_order_relaxed) != 0, 0))
        mana_ckpt_after_restart(c);
}

static inline __attribute__((always_inline)) void mana_cross_to_lower(const struct mana_crossing *c)
{
    (void)c;
    mana_wrfsbase(&mana_fs, mana_lower->lower_fs);
}

static inline __attribute__((always_inline)) void mana_cross_to_upper(const struct mana_crossing *c)
{
    mana_wrfsbase(&mana_fs, c->upper_fs);
}

static inline __attribute__((always_inline)) void mana_cross_unlock(const struct mana_crossing *c)
{
    if (!c->nested) {
        /* Cleared before unlocking, so a stale value can never make
         * another thread's next call look nested. */
        mana_holder_upper_fs = 0;
        mana_lower_unlock();
    }
}

/* The crossing of a wrapper that translates nothing: lock, switch,
 * (call), switch back, unlock. */
static inline __attribute__((always_inline)) void mana_cross_enter(struct mana_crossing *c, const char *function)
{
    mana_cross_lock(c, function);
    mana_cross_to_lower(c);
}

static inline __attribute__((always_inline)) void mana_cross_leave(struct mana_crossing *c)
{
    mana_cross_to_upper(c);
    mana_cross_unlock(c);
}

/* Entering upper code that the lower MPI calls (a user reduction op, an
 * attribute or error handler callback): the calling thread holds the
 * lower lock, so its upper %fs is the holder's. Returns the lower %fs to
 * restore when the callback returns. */
static inline __attribute__((always_inline)) uint64_t mana_callback_enter(void)
{
    uint64_t lower_fs = mana_rdfsbase(&mana_fs);
    uint64_t upper_fs = mana_holder_upper_fs;
    /* On the checkpoint thread: the application thread's TLS, idle while
     * that thread waits for the lock. */
    if (upper_fs == 0)
        upper_fs = mana_lower->sync.app_fs;
    mana_wrfsbase(&mana_fs, upper_fs);
    return lower_fs;
}

static inline __attribute__((always_inline)) void mana_callback_leave(uint64_t lower_fs)
{
    mana_wrfsbase(&mana_fs, lower_fs);
}

#define MANA_PMPI_ALIAS(name) __typeof__(name) P##name __attribute__((alias(#name)));

#endif

/* Design invariant 3: nobody moves brk. Both C libraries cache the
 * program break; if both grew the heap they would overwrite each other.
 * A PROT_NONE page at the page-aligned break makes every brk fail, and
 * both mallocs fall back to mmap. */
#ifndef MANA_BRK_GUARD_H
#define MANA_BRK_GUARD_H

#include <stddef.h>
#include <stdint.h>

/* Returns 0 and the break and guard page it found/made, or -1 with ERR. */
int brk_guard_install(uint64_t *brk_at_start, uint64_t *guard, char *err, size_t errlen);

/* The kernel's current break (the brk system call with 0). */
uint64_t brk_guard_current(void);

#endif

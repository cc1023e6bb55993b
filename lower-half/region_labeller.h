/* Keeps the region registry exact while the process runs: every mapping
 * call made by the lower half's libraries is trapped (seccomp), redone by
 * our SIGSYS handler and recorded; the upper half's calls pass untouched.
 * glibc's internal mmap calls (ld.so, malloc, thread stacks) cannot be
 * interposed any other way. */
#ifndef MANA_REGION_LABELLER_H
#define MANA_REGION_LABELLER_H

#include "region_registry.h"

/* Seeds the registry with every mapping that exists now (all of it is the
 * lower half's: the upper half is not loaded yet), then traps the mapping
 * calls of the code found in those mappings, except our own executable's.
 * Returns 0, or -1 with ERR set. */
int region_labeller_start(char *err, size_t errlen);

/* Marks [start, end) as the upper half's (the loader maps the upper half
 * through the lower C library, so its calls were labelled lower). */
void region_labeller_mark_upper(uint64_t start, uint64_t end);
void region_labeller_mark_lower(uint64_t start, uint64_t end);

/* The registry, for the region dump; read it only while no other thread
 * maps memory, or accept a momentary view. */
const struct region_registry *region_labeller_registry(void);

/* The application's SIGSYS handler, called for a SIGSYS that is not a
 * trapped mapping call. NULL restores the default action. */
typedef void (*region_labeller_chain_fn)(int, void *, void *);
void region_labeller_set_chain(region_labeller_chain_fn fn);

/* Counters, for the dump and tests. */
struct region_labeller_stats {
    uint64_t trapped_calls;
    uint64_t registry_overflows;
};
void region_labeller_stats(struct region_labeller_stats *out);

#endif

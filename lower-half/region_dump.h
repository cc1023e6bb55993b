/* MANA_DEBUG=regions: every mapping of the process with its owner, so a
 * test (or a person) can see that the halves are apart. */
#ifndef MANA_REGION_DUMP_H
#define MANA_REGION_DUMP_H

#include <stdint.h>

/* Writes the classification of /proc/self/maps to stderr, one line per
 * mapping or per owner's piece of a mapping the kernel merged
 * ("mana-regions: <rank> <upper|lower> <start>-<end> <perms> <path>"),
 * then the brk check and a summary. Returns the number of merged lines. */
int region_dump(uint64_t brk_at_start, const char *when);

#endif

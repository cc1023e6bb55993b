/* The lower half's own address ranges, as a sorted set of disjoint
 * intervals. Everything mapped in the process and not in this set is the
 * upper half's and is saved at a checkpoint (design invariant 2). Kept as
 * intervals, not /proc/self/maps lines, because the kernel merges
 * neighbouring mappings of both halves into one line. No allocation and
 * no TLS: it is updated from the SIGSYS handler on any thread. */
#ifndef MANA_REGION_REGISTRY_H
#define MANA_REGION_REGISTRY_H

#include <stddef.h>
#include <stdint.h>

#define REGION_REGISTRY_CAPACITY 8192

struct region_interval {
    uint64_t start;
    uint64_t end; /* exclusive */
};

struct region_registry {
    size_t count;
    struct region_interval iv[REGION_REGISTRY_CAPACITY];
};

enum region_owner {
    REGION_UPPER = 0, /* no byte in the registry */
    REGION_LOWER = 1, /* every byte in the registry */
    REGION_MIXED = 2, /* some bytes of each: a merged line to split */
};

void region_registry_init(struct region_registry *r);
/* Adds [start, end), merging with neighbours. Returns -1 when the
 * registry is full (the range is then not recorded). */
int region_registry_add(struct region_registry *r, uint64_t start, uint64_t end);
/* Removes [start, end), splitting intervals it cuts. Returns -1 when a
 * split needs a slot and none is left. */
int region_registry_remove(struct region_registry *r, uint64_t start, uint64_t end);
enum region_owner region_registry_owner(const struct region_registry *r, uint64_t start, uint64_t end);
/* Number of bytes of [start, end) in the registry. */
uint64_t region_registry_covered(const struct region_registry *r, uint64_t start, uint64_t end);

/* The first piece of [start, end) that is not in the registry, at or
 * after START: 1 and [*gap_start, *gap_end), or 0 when all of it is. */
int region_registry_next_gap(const struct region_registry *r, uint64_t start, uint64_t end, uint64_t *gap_start,
                             uint64_t *gap_end);

#endif

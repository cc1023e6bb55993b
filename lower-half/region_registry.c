/* Sorted disjoint intervals in a fixed array: a few hundred entries in
 * practice, so linear moves are cheaper than anything cleverer. */
#include "region_registry.h"

#include <string.h>

void region_registry_init(struct region_registry *r)
{
    r->count = 0;
}

/* First interval whose end is >= START (touching counts, for merging). */
static size_t first_reaching(const struct region_registry *r, uint64_t start)
{
    size_t lo = 0, hi = r->count;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (r->iv[mid].end < start)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

int region_registry_add(struct region_registry *r, uint64_t start, uint64_t end)
{
    if (start >= end)
        return 0;
    size_t i = first_reaching(r, start);
    size_t j = i;
    while (j < r->count && r->iv[j].start <= end) {
        if (r->iv[j].start < start)
            start = r->iv[j].start;
        if (r->iv[j].end > end)
            end = r->iv[j].end;
        j++;
    }
    /* Intervals i..j-1 merge into one at i. */
    if (j == i) {
        if (r->count == REGION_REGISTRY_CAPACITY)
            return -1;
        memmove(&r->iv[i + 1], &r->iv[i], (r->count - i) * sizeof r->iv[0]);
        r->count++;
    } else if (j > i + 1) {
        memmove(&r->iv[i + 1], &r->iv[j], (r->count - j) * sizeof r->iv[0]);
        r->count -= j - i - 1;
    }
    r->iv[i].start = start;
    r->iv[i].end = end;
    return 0;
}

int region_registry_remove(struct region_registry *r, uint64_t start, uint64_t end)
{
    if (start >= end)
        return 0;
    size_t i = first_reaching(r, start + 1);
    if (i < r->count && r->iv[i].start < start && r->iv[i].end > end) {
        /* START..END is strictly inside one interval: split it in two. */
        if (r->count == REGION_REGISTRY_CAPACITY)
            return -1;
        memmove(&r->iv[i + 1], &r->iv[i], (r->count - i) * sizeof r->iv[0]);
        r->count++;
        r->iv[i].end = start;
        r->iv[i + 1].start = end;
        return 0;
    }
    if (i < r->count && r->iv[i].start < start && r->iv[i].end > start) {
        r->iv[i].end = start;
        i++;
    }
    size_t j = i;
    while (j < r->count && r->iv[j].end <= end && r->iv[j].start >= start)
        j++;
    if (j > i) {
        memmove(&r->iv[i], &r->iv[j], (r->count - j) * sizeof r->iv[0]);
        r->count -= j - i;
    }
    if (i < r->count && r->iv[i].start < end && r->iv[i].start >= start)
        r->iv[i].start = end;
    return 0;
}

uint64_t region_registry_covered(const struct region_registry *r, uint64_t start, uint64_t end)
{
    uint64_t total = 0;
    for (size_t i = first_reaching(r, start + 1); i < r->count && r->iv[i].start < end; i++) {
        uint64_t s = r->iv[i].start > start ? r->iv[i].start : start;
        uint64_t e = r->iv[i].end < end ? r->iv[i].end : end;
        if (e > s)
            total += e - s;
    }
    return total;
}

enum region_owner region_registry_owner(const struct region_registry *r, uint64_t start, uint64_t end)
{
    uint64_t covered = region_registry_covered(r, start, end);
    if (covered == 0)
        return REGION_UPPER;
    return covered == end - start ? REGION_LOWER : REGION_MIXED;
}

int region_registry_next_gap(const struct region_registry *r, uint64_t start, uint64_t end, uint64_t *gap_start,
                             uint64_t *gap_end)
{
    uint64_t at = start;
    for (size_t i = first_reaching(r, start + 1); at < end; i++) {
        if (i >= r->count || r->iv[i].start > at) {
            *gap_start = at;
            *gap_end = i < r->count && r->iv[i].start < end ? r->iv[i].start : end;
            return 1;
        }
        if (r->iv[i].end > at)
            at = r->iv[i].end;
    }
    return 0;
}

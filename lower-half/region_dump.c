#include "region_dump.h"

#include <stdio.h>
#include <stdlib.h>

#include "brk_guard.h"
#include "mpi_rank_env.h"
#include "proc_maps.h"
#include "region_labeller.h"

static const char *rank_label(void)
{
    static char label[16];
    int rank, nranks;
    mpi_rank_from_env(&rank, &nranks);
    snprintf(label, sizeof label, "%d", rank);
    return label;
}

int region_dump(uint64_t brk_at_start, const char *when)
{
    static char maps[1 << 20];
    if (proc_maps_read(maps, sizeof maps) < 0) {
        fprintf(stderr, "mana-regions: cannot read /proc/self/maps\n");
        return -1;
    }
    const struct region_registry *reg = region_labeller_registry();
    const char *rank = rank_label();
    int merged = 0, lines[2] = {0, 0};
    struct maps_entry e;
    const char *cur = maps;
    int rc;
    fprintf(stderr, "mana-regions: %s begin %s\n", rank, when);
    while ((rc = proc_maps_next(&cur, &e)) != 0) {
        if (rc < 0)
            continue;
        /* The kernel merges neighbouring mappings of both halves into one
         * line: print each owner's piece of it separately. */
        enum region_owner o = region_registry_owner(reg, e.start, e.end);
        merged += o == REGION_MIXED;
        uint64_t at = e.start;
        while (at < e.end) {
            int lower = region_registry_covered(reg, at, at + 4096) != 0;
            uint64_t piece_end = at + 4096;
            while (piece_end < e.end && (region_registry_covered(reg, piece_end, piece_end + 4096) != 0) == lower)
                piece_end += 4096;
            lines[lower]++;
            fprintf(stderr, "mana-regions: %s %s %llx-%llx %s %.*s\n", rank, lower ? "lower" : "upper",
                    (unsigned long long)at, (unsigned long long)piece_end, e.perms, (int)e.path_len, e.path);
            at = piece_end;
        }
    }
    struct region_labeller_stats st;
    region_labeller_stats(&st);
    uint64_t brk_now = brk_guard_current();
    fprintf(stderr, "mana-regions: %s brk start=%llx now=%llx %s\n", rank, (unsigned long long)brk_at_start,
            (unsigned long long)brk_now, brk_now == brk_at_start ? "unchanged" : "MOVED");
    fprintf(stderr, "mana-regions: %s end upper=%d lower=%d merged=%d trapped=%llu overflows=%llu\n", rank,
            lines[0], lines[1], merged, (unsigned long long)st.trapped_calls,
            (unsigned long long)st.registry_overflows);
    return merged;
}

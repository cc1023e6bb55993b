#include "region_dump.h"

#include <stdio.h>
#include <stdlib.h>

#include "brk_guard.h"
#include "proc_maps.h"
#include "region_labeller.h"

static const char *rank_label(void)
{
    const char *r = getenv("PMI_RANK");
    return r ? r : "0";
}

int region_dump(uint64_t brk_at_start, const char *when)
{
    static char maps[1 << 20];
    if (proc_maps_read(maps, sizeof maps) < 0) {
        fprintf(stderr, "mana-regions: cannot read /proc/self/maps\n");
        return -1;
    }
    static const char *const owner_name[] = {"upper", "lower", "mixed"};
    const struct region_registry *reg = region_labeller_registry();
    const char *rank = rank_label();
    int mixed = 0, lines[3] = {0, 0, 0};
    struct maps_entry e;
    const char *cur = maps;
    int rc;
    fprintf(stderr, "mana-regions: %s begin %s\n", rank, when);
    while ((rc = proc_maps_next(&cur, &e)) != 0) {
        if (rc < 0)
            continue;
        enum region_owner o = region_registry_owner(reg, e.start, e.end);
        lines[o]++;
        mixed += o == REGION_MIXED;
        fprintf(stderr, "mana-regions: %s %s %llx-%llx %s %.*s\n", rank, owner_name[o],
                (unsigned long long)e.start, (unsigned long long)e.end, e.perms, (int)e.path_len, e.path);
    }
    struct region_labeller_stats st;
    region_labeller_stats(&st);
    uint64_t brk_now = brk_guard_current();
    fprintf(stderr, "mana-regions: %s brk start=%llx now=%llx %s\n", rank, (unsigned long long)brk_at_start,
            (unsigned long long)brk_now, brk_now == brk_at_start ? "unchanged" : "MOVED");
    fprintf(stderr, "mana-regions: %s end upper=%d lower=%d mixed=%d trapped=%llu overflows=%llu\n", rank,
            lines[REGION_UPPER], lines[REGION_LOWER], lines[REGION_MIXED], (unsigned long long)st.trapped_calls,
            (unsigned long long)st.registry_overflows);
    return mixed;
}

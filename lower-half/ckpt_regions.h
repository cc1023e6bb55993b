/* The upper half's memory at a checkpoint: everything mapped that the
 * lower half does not own (design invariant 2), minus the kernel's own
 * pages (vDSO, vvar, vsyscall), which a restart never brings back. */
#ifndef MANA_CKPT_REGIONS_H
#define MANA_CKPT_REGIONS_H

#include <stddef.h>
#include <stdint.h>

#include "region_registry.h"

struct ckpt_region {
    uint64_t start, end;
    int prot;       /* PROT_* */
    unsigned flags; /* enum image_region_flags */
    char name[256];
};

struct ckpt_region_list {
    size_t count, capacity;
    struct ckpt_region *r;
};

/* Fills LIST (malloc'd; free with ckpt_regions_free) from MAPS, the text
 * of /proc/self/maps, and the lower half's registry REG. 0, or -1 with ERR. */
int ckpt_regions_collect(const char *maps, const struct region_registry *reg, struct ckpt_region_list *list,
                         char *err, size_t errlen);
void ckpt_regions_free(struct ckpt_region_list *list);

#endif

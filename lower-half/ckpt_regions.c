#include "ckpt_regions.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "image.h"
#include "proc_maps.h"

static int is_kernel_page(const struct maps_entry *e)
{
    static const char *const names[] = {"[vdso]", "[vvar]", "[vvar_vclock]", "[vsyscall]"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (e->path_len == strlen(names[i]) && memcmp(e->path, names[i], e->path_len) == 0)
            return 1;
    return 0;
}

static int push(struct ckpt_region_list *list, const struct maps_entry *e, uint64_t start, uint64_t end)
{
    if (list->count == list->capacity) {
        size_t cap = list->capacity ? list->capacity * 2 : 64;
        struct ckpt_region *n = realloc(list->r, cap * sizeof *n);
        if (n == NULL)
            return -1;
        list->r = n;
        list->capacity = cap;
    }
    struct ckpt_region *r = &list->r[list->count++];
    r->start = start;
    r->end = end;
    r->prot = (e->perms[0] == 'r' ? PROT_READ : 0) | (e->perms[1] == 'w' ? PROT_WRITE : 0) |
              (e->perms[2] == 'x' ? PROT_EXEC : 0);
    r->flags = e->perms[3] == 's' ? IMAGE_REGION_SHARED : 0;
    size_t n = e->path_len < sizeof r->name - 1 ? e->path_len : sizeof r->name - 1;
    memcpy(r->name, e->path, n);
    r->name[n] = '\0';
    if (strcmp(r->name, "[stack]") == 0)
        r->flags |= IMAGE_REGION_GROWSDOWN;
    return 0;
}

int ckpt_regions_collect(const char *maps, const struct region_registry *reg, struct ckpt_region_list *list,
                         char *err, size_t errlen)
{
    memset(list, 0, sizeof *list);
    struct maps_entry e;
    const char *cur = maps;
    int rc;
    while ((rc = proc_maps_next(&cur, &e)) != 0) {
        if (rc < 0) {
            snprintf(err, errlen, "a line of /proc/self/maps does not parse");
            ckpt_regions_free(list);
            return -1;
        }
        if (is_kernel_page(&e))
            continue;
        uint64_t at = e.start, gs, ge;
        while (region_registry_next_gap(reg, at, e.end, &gs, &ge)) {
            if (push(list, &e, gs, ge) != 0) {
                snprintf(err, errlen, "out of memory listing the upper half's regions");
                ckpt_regions_free(list);
                return -1;
            }
            at = ge;
        }
    }
    return 0;
}

void ckpt_regions_free(struct ckpt_region_list *list)
{
    free(list->r);
    memset(list, 0, sizeof *list);
}

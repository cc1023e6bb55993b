/* Pending-request descriptors: see request_info.h. Indexed by the slot
 * index inside the request id, so lookup needs no hashing. */
#include "request_info.h"

#include <stdlib.h>
#include <string.h>

#include "virtual_ids.h"

static struct mana_request_info *slots;
static size_t n_slots, n_used;

static int is_request_id(int32_t vid)
{
    return ((uint32_t)vid & (VID_INDIRECT_BITS | VID_KIND_MASK)) == (VID_INDIRECT_BITS | (0xbu << VID_KIND_SHIFT));
}

int mana_request_info_set(const struct mana_request_info *info)
{
    if (!is_request_id(info->vid))
        return -1;
    size_t idx = (uint32_t)info->vid & VID_INDEX_MASK;
    if (idx >= n_slots) {
        size_t n = n_slots ? n_slots : 64;
        while (n <= idx)
            n *= 2;
        struct mana_request_info *s = realloc(slots, n * sizeof *s);
        if (!s)
            return -1;
        memset(s + n_slots, 0, (n - n_slots) * sizeof *s);
        slots = s;
        n_slots = n;
    }
    if (slots[idx].vid == 0)
        n_used++;
    else if (slots[idx].vid != info->vid) {
        mana_request_info_free_owned(&slots[idx]);
    }
    slots[idx] = *info;
    return 0;
}

struct mana_request_info *mana_request_info_get(int32_t vid)
{
    if (!is_request_id(vid))
        return NULL;
    size_t idx = (uint32_t)vid & VID_INDEX_MASK;
    if (idx >= n_slots || slots[idx].vid != vid)
        return NULL;
    return &slots[idx];
}

void mana_request_info_free_owned(struct mana_request_info *d)
{
    for (size_t i = 0; i < sizeof d->owned / sizeof *d->owned; i++) {
        free(d->owned[i]);
        d->owned[i] = NULL;
    }
}

void mana_request_info_clear(int32_t vid)
{
    struct mana_request_info *r = mana_request_info_get(vid);
    if (r) {
        mana_request_info_free_owned(r);
        memset(r, 0, sizeof *r);
        n_used--;
    }
}

struct mana_request_info *mana_request_info_next(size_t *cursor)
{
    for (size_t i = *cursor; i < n_slots; i++)
        if (slots[i].vid != 0) {
            *cursor = i + 1;
            return &slots[i];
        }
    *cursor = n_slots;
    return NULL;
}

size_t mana_request_info_count(void)
{
    return n_used;
}

void mana_request_info_reset(void)
{
    for (size_t i = 0; i < n_slots; i++) {
        mana_request_info_free_owned(&slots[i]);
    }
    free(slots);
    slots = NULL;
    n_slots = n_used = 0;
}

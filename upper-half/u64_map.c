/* Open-addressing map of 64-bit keys: see u64_map.h. */
#include "u64_map.h"

#include <stdlib.h>

/* Keys are ids and hashes, often consecutive or alike in their low or
 * high bits: the top bits of a multiplicative mix depend on all of them. */
static size_t home(const struct u64_map *m, uint64_t key)
{
    return (size_t)((key * 0x9e3779b97f4a7c15ULL) >> (64 - __builtin_ctzll(m->cap)));
}

static size_t find(const struct u64_map *m, uint64_t key, int *found)
{
    size_t i = home(m, key);
    while (m->used[i] && m->keys[i] != key)
        i = (i + 1) & (m->cap - 1);
    *found = m->used[i];
    return i;
}

uint64_t *u64_map_get(const struct u64_map *m, uint64_t key)
{
    if (m->n == 0)
        return NULL;
    int found;
    size_t i = find(m, key, &found);
    return found ? &m->vals[i] : NULL;
}

/* At most half full, so that probes stay short and one always ends. */
static int grow(struct u64_map *m)
{
    size_t cap = m->cap ? m->cap * 2 : 16;
    struct u64_map bigger = {.keys = malloc(cap * sizeof(uint64_t)),
                             .vals = malloc(cap * sizeof(uint64_t)),
                             .used = calloc(cap, 1),
                             .cap = cap};
    if (!bigger.keys || !bigger.vals || !bigger.used) {
        u64_map_free(&bigger);
        return -1;
    }
    for (size_t i = 0; i < m->cap; i++)
        if (m->used[i]) {
            int found;
            size_t j = find(&bigger, m->keys[i], &found);
            bigger.used[j] = 1;
            bigger.keys[j] = m->keys[i];
            bigger.vals[j] = m->vals[i];
        }
    bigger.n = m->n;
    u64_map_free(m);
    *m = bigger;
    return 0;
}

int u64_map_put(struct u64_map *m, uint64_t key, uint64_t val)
{
    uint64_t *v = u64_map_get(m, key);
    if (v) {
        *v = val; /* no growth: a key already in cannot fail */
        return 0;
    }
    if ((m->n + 1) * 2 > m->cap && grow(m) != 0)
        return -1;
    int found;
    size_t i = find(m, key, &found);
    m->used[i] = 1;
    m->keys[i] = key;
    m->vals[i] = val;
    m->n++;
    return 0;
}

void u64_map_del(struct u64_map *m, uint64_t key)
{
    if (m->n == 0)
        return;
    int found;
    size_t hole = find(m, key, &found);
    if (!found)
        return;
    /* Each later entry of the run moves into the hole unless its home
     * lies cyclically in (hole, j]: then a probe from its home would not
     * pass the hole, and it stays. */
    size_t mask = m->cap - 1;
    for (size_t j = (hole + 1) & mask; m->used[j]; j = (j + 1) & mask) {
        size_t h = home(m, m->keys[j]);
        if (((j - h) & mask) < ((j - hole) & mask))
            continue;
        m->keys[hole] = m->keys[j];
        m->vals[hole] = m->vals[j];
        hole = j;
    }
    m->used[hole] = 0;
    m->n--;
}

void u64_map_free(struct u64_map *m)
{
    free(m->keys);
    free(m->vals);
    free(m->used);
    *m = (struct u64_map){0};
}

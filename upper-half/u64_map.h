/* A map from 64-bit keys to 64-bit values: open addressing with linear
 * probing, and deletion by shifting back the entries after the hole, so
 * no tombstones pile up in a map that keys come and go in (the record
 * log's ids of live objects, created and freed in loops).
 *
 * Not thread safe: callers hold MANA's lower lock. Memory from malloc;
 * a zeroed struct u64_map is an empty map. */
#ifndef MANA_U64_MAP_H
#define MANA_U64_MAP_H
#include <stddef.h>
#include <stdint.h>

struct u64_map {
    uint64_t *keys, *vals;
    uint8_t *used;
    size_t cap, n; /* cap: 0 or a power of two */
};

/* The value of KEY, or NULL: valid until the next put or delete. */
uint64_t *u64_map_get(const struct u64_map *m, uint64_t key);
/* Sets KEY's value (adds KEY if absent): 0, or -1 without memory (the
 * map is unchanged then; a KEY already present never fails). */
int u64_map_put(struct u64_map *m, uint64_t key, uint64_t val);
/* Removes KEY if present. */
void u64_map_del(struct u64_map *m, uint64_t key);
void u64_map_free(struct u64_map *m);

#endif

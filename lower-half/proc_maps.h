/* Reading /proc/self/maps line by line into plain records. */
#ifndef MANA_PROC_MAPS_H
#define MANA_PROC_MAPS_H

#include <stddef.h>
#include <stdint.h>

struct maps_entry {
    uint64_t start;
    uint64_t end;
    char perms[5];
    uint64_t offset;
    const char *path; /* points into the caller's buffer; "" for anonymous */
    size_t path_len;
};

/* Reads the whole of /proc/self/maps into BUF (NUL-terminated). Returns
 * the length, or -1 if it does not fit or cannot be read. */
long proc_maps_read(char *buf, size_t len);

/* Parses the line at *CURSOR into E and advances *CURSOR past it.
 * Returns 0 at the end of the text, 1 for an entry, -1 for a line that
 * does not parse. */
int proc_maps_next(const char **cursor, struct maps_entry *e);

#endif

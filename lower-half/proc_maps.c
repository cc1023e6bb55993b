/* A hand parser rather than sscanf: it also runs where stdio's locks and
 * allocations are unwelcome (the region dump at exit). */
#include "proc_maps.h"

#include <fcntl.h>
#include <string.h>
#include <unistd.h>

long proc_maps_read(char *buf, size_t len)
{
    int fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    size_t used = 0;
    /* Read into all of BUF; the text fits if end of file comes with room
     * left for the NUL. */
    for (;;) {
        ssize_t n = used < len ? read(fd, buf + used, len - used) : 0;
        if (n < 0) {
            close(fd);
            return -1;
        }
        if (n == 0) {
            char probe;
            if (used >= len && read(fd, &probe, 1) != 0) {
                close(fd);
                return -1;
            }
            break;
        }
        used += (size_t)n;
    }
    if (used >= len) {
        close(fd);
        return -1;
    }
    close(fd);
    buf[used] = '\0';
    return (long)used;
}

static const char *parse_hex(const char *p, uint64_t *out)
{
    uint64_t v = 0;
    const char *start = p;
    for (;; p++) {
        int d;
        if (*p >= '0' && *p <= '9')
            d = *p - '0';
        else if (*p >= 'a' && *p <= 'f')
            d = *p - 'a' + 10;
        else
            break;
        v = v * 16 + (uint64_t)d;
    }
    *out = v;
    return p == start ? NULL : p;
}

static const char *skip_field(const char *p)
{
    while (*p && *p != ' ' && *p != '\n')
        p++;
    while (*p == ' ')
        p++;
    return p;
}

int proc_maps_next(const char **cursor, struct maps_entry *e)
{
    const char *p = *cursor;
    if (*p == '\0')
        return 0;
    const char *eol = strchr(p, '\n');
    if (eol == NULL)
        eol = p + strlen(p);
    *cursor = *eol ? eol + 1 : eol;

    if ((p = parse_hex(p, &e->start)) == NULL || *p++ != '-')
        return -1;
    if ((p = parse_hex(p, &e->end)) == NULL || *p++ != ' ')
        return -1;
    if (eol - p < 5)
        return -1;
    memcpy(e->perms, p, 4);
    e->perms[4] = '\0';
    p = skip_field(p);
    if ((p = parse_hex(p, &e->offset)) == NULL)
        return -1;
    p = skip_field(p); /* offset */
    p = skip_field(p); /* device */
    p = skip_field(p); /* inode */
    if (p > eol)
        p = eol;
    e->path = p;
    e->path_len = (size_t)(eol - p);
    return 1;
}

#include "machine_record.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct {
    const char *key, *label;
} labels[] = {
    {"host", "host"},
    {"cpu_model", "CPU model"},
    {"packages", "CPU packages"},
    {"cores", "cores"},
    {"pus", "hardware threads"},
    {"numa_nodes", "NUMA nodes"},
    {"mpi_flavour", "MPI flavour"},
    {"mpi_version", "MPI library"},
    {"mpi_device", "MPI device"},
};

static int key_ok(const char *k, size_t n)
{
    if (n == 0 || n > MACHINE_KEY_MAX)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = k[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '.'))
            return 0;
    }
    return 1;
}

static int is_net(const char *key)
{
    return strncmp(key, MACHINE_NET_PREFIX, strlen(MACHINE_NET_PREFIX)) == 0;
}

void machine_builder_add(struct machine_builder *b, const char *key, const char *value)
{
    size_t klen = strlen(key);
    if (!key_ok(key, klen)) {
        b->overflow = 1;
        return;
    }
    if (value == NULL)
        value = "";
    size_t vlen = strnlen(value, MACHINE_VALUE_MAX);
    if (b->len + klen + 1 + vlen + 1 > b->cap) {
        b->overflow = 1;
        return;
    }
    char *p = b->buf + b->len;
    memcpy(p, key, klen);
    p += klen;
    *p++ = '=';
    for (size_t i = 0; i < vlen; i++) {
        unsigned char c = (unsigned char)value[i];
        *p++ = c == '\n' || c == '\t' || c == '\r' ? ' ' : c < 0x20 || c == 0x7f ? '?' : (char)c;
    }
    *p++ = '\n';
    b->len = (size_t)(p - b->buf);
}

int machine_record_parse(const void *data, size_t len, struct machine_record *m)
{
    memset(m, 0, sizeof *m);
    m->text = malloc(len + 1);
    if (m->text == NULL)
        return -1;
    memcpy(m->text, data, len);
    m->text[len] = '\0';
    char *p = m->text, *end = m->text + len;
    while (p < end) {
        char *nl = memchr(p, '\n', (size_t)(end - p));
        char *line_end = nl ? nl : end;
        *line_end = '\0';
        char *eq = memchr(p, '=', (size_t)(line_end - p));
        /* A NUL inside the line would hide the rest of it: not a field. */
        int whole = memchr(p, '\0', (size_t)(line_end - p)) == NULL;
        if (eq && whole && key_ok(p, (size_t)(eq - p)) && (size_t)(line_end - eq - 1) <= MACHINE_VALUE_MAX &&
            m->nfields < MACHINE_MAX_FIELDS) {
            *eq = '\0';
            m->f[m->nfields].key = p;
            m->f[m->nfields].value = eq + 1;
            m->nfields++;
        } else if (line_end > p) {
            m->skipped++;
        }
        p = line_end + 1;
    }
    return 0;
}

void machine_record_free(struct machine_record *m)
{
    free(m->text);
    memset(m, 0, sizeof *m);
}

const char *machine_record_get(const struct machine_record *m, const char *key)
{
    for (size_t i = 0; i < m->nfields; i++)
        if (strcmp(m->f[i].key, key) == 0)
            return m->f[i].value;
    return NULL;
}

const char *machine_key_label(const char *key)
{
    if (is_net(key))
        return "network transport";
    for (size_t i = 0; i < sizeof labels / sizeof labels[0]; i++)
        if (strcmp(labels[i].key, key) == 0)
            return labels[i].label;
    return NULL;
}

const char *machine_printable(const char *value, char *buf, size_t len)
{
    size_t at = 0;
    for (const unsigned char *p = (const unsigned char *)value; *p && at + 5 < len; p++) {
        if (*p < 0x20 || *p >= 0x7f)
            at += (size_t)snprintf(buf + at, len - at, "\\x%02x", *p);
        else
            buf[at++] = (char)*p;
    }
    if (len > 0)
        buf[at] = '\0';
    return buf;
}

/* "NAME=value" for a transport variable, the value alone otherwise. */
static void shown(const char *key, const char *value, char *buf, size_t len)
{
    char pv[4 * MACHINE_VALUE_MAX + 8];
    if (value == NULL)
        snprintf(buf, len, "not recorded");
    else if (is_net(key))
        snprintf(buf, len, "%s=%s", key + strlen(MACHINE_NET_PREFIX), machine_printable(value, pv, sizeof pv));
    else
        snprintf(buf, len, "%s", machine_printable(value, pv, sizeof pv));
}

static void diff_one(const char *key, const char *was, const char *is, machine_diff_fn fn, void *ctx, size_t *n)
{
    if (was && is && strcmp(was, is) == 0)
        return;
    if (is_net(key) && (!was || !is))
        return;
    const char *label = machine_key_label(key);
    char pk[4 * MACHINE_KEY_MAX + 8], a[4 * MACHINE_VALUE_MAX + 80], b[4 * MACHINE_VALUE_MAX + 80];
    char line[sizeof a + sizeof b + sizeof pk + 64];
    shown(key, was, a, sizeof a);
    shown(key, is, b, sizeof b);
    snprintf(line, sizeof line, "%s differs: saved %s, now %s", label ? label : machine_printable(key, pk, sizeof pk),
             a, b);
    fn(ctx, key, line);
    (*n)++;
}

size_t machine_record_diff(const struct machine_record *saved, const struct machine_record *now, machine_diff_fn fn,
                           void *ctx)
{
    size_t n = 0;
    for (size_t i = 0; i < saved->nfields; i++) {
        const char *key = saved->f[i].key;
        /* A key written twice counts once: its first value. */
        if (machine_record_get(saved, key) != saved->f[i].value)
            continue;
        diff_one(key, saved->f[i].value, machine_record_get(now, key), fn, ctx, &n);
    }
    for (size_t i = 0; i < now->nfields; i++) {
        const char *key = now->f[i].key;
        if (machine_record_get(now, key) != now->f[i].value || machine_record_get(saved, key) != NULL)
            continue;
        diff_one(key, NULL, now->f[i].value, fn, ctx, &n);
    }
    return n;
}

/* Reading a generation's MANIFEST (written by mana-coordinator; format in
 * docs/coordinator-protocol.md) and CKPT_DIR/latest. */
#ifndef MANA_MANIFEST_H
#define MANA_MANIFEST_H

#include <stddef.h>
#include <stdint.h>

struct manifest_rank {
    char file[64];
    uint64_t bytes;
    uint64_t checksum;
};

struct manifest {
    uint64_t generation;
    int nranks;
    struct manifest_rank *ranks; /* nranks entries, by rank */
};

/* The generation directory CKPT_DIR/latest names (a path in OUT): 0, or
 * -1 with ERR saying what is missing and what to do, or -2 when latest is
 * not to be trusted (trust.h: another owner, group- or world-writable). */
int manifest_latest_dir(const char *ckpt_dir, char *out, size_t outlen, char *err, size_t errlen);

/* Parses GEN_DIR/MANIFEST: 0, or -1 with ERR (missing: the generation is
 * not complete; damaged), or -2 when the MANIFEST is not to be trusted
 * (trust.h). Free with manifest_free. */
int manifest_read(const char *gen_dir, struct manifest *m, char *err, size_t errlen);
void manifest_free(struct manifest *m);

#endif

/* Which generation of CKPT_DIR a restart takes, and whether it may.
 *
 * Every rank of a restarting job decides alone (there is no MPI yet), so
 * the decision must come out the same on every rank: it reads only what
 * every rank sees alike (the MANIFEST and every rank's image header and
 * END record), never anything rank-specific. A generation "checks" when
 * its MANIFEST is complete, everything in it is the user's alone
 * (trust.h), and every image exists with the manifest's size and is the
 * image the manifest recorded (header, END record and digest). The bytes
 * between are checked as the memory goes back (the restore); a restore
 * that finds them damaged marks the generation (DAMAGED_FILE) so that
 * the next resume passes it over. */
#ifndef MANA_GENERATION_PICK_H
#define MANA_GENERATION_PICK_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>

/* Written into a generation directory by a restore that found one of its
 * images damaged; its content says which and why. */
#define GENERATION_DAMAGED_FILE "DAMAGED"

enum pick_status {
    PICK_OK = 0,
    PICK_UNTRUSTED,   /* something is not the user's alone (trust.h) */
    PICK_DAMAGED,     /* the named generation does not check */
    PICK_RANKS,       /* the generation has another rank count */
    PICK_NONE,        /* no complete generation */
};

struct generation_choice {
    uint64_t generation;
    int nranks;                   /* the generation's */
    char gen_dir[PATH_MAX + 64];
    char image[PATH_MAX + 160];   /* the calling rank's image */
    uint64_t digest;              /* the manifest's for that image */
};

/* The generation GENERATION of DIR (0: the one DIR/latest names), for
 * rank RANK of NRANKS: PICK_OK with OUT filled, or another status with
 * ERR saying what is wrong and what to do. */
enum pick_status generation_pick_named(const char *dir, uint64_t generation, int rank, int nranks,
                                       struct generation_choice *out, char *err, size_t errlen);

/* The newest generation of DIR that checks, by number. Each newer one
 * passed over is reported through SKIPPED (one line each: which and why;
 * NULL to ignore). PICK_NONE when none checks, with ERR listing them;
 * PICK_RANKS when the newest that checks has another rank count. */
enum pick_status generation_pick_newest(const char *dir, int rank, int nranks, struct generation_choice *out,
                                        void (*skipped)(const char *line), char *err, size_t errlen);

/* Whether DIR holds any generation directory (gen-NNNNNN), complete or
 * not: 1, 0 (none, or DIR does not exist), -1 (DIR unreadable, ERR). */
int generation_any(const char *dir, char *err, size_t errlen);

/* Marks GEN_DIR damaged with WHY (restore of a resume): 0 or -1. */
int generation_mark_damaged(const char *gen_dir, const char *why);

#endif

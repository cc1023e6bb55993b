/* The rule that lets a communicator's members stay apart at a checkpoint
 * (docs/checkpoint-protocol.md, "Allowed gaps"): some have entered
 * collectives on it that the others have not, and every member that has
 * can post them again after a restart. Pure arithmetic on what the ranks
 * exchanged in an agreement round; no MPI, so unit tests can drive it. */
#ifndef MANA_GAP_RULE_H
#define MANA_GAP_RULE_H

#include <stddef.h>
#include <stdint.h>

/* A rank's word on a communicator: its count of collectives there, and in
 * the top bits its depth, how many of its latest collectives there it
 * can post again after a restart and has not seen complete (at most
 * MANA_GAP_DEPTH_MAX; more count as that many). */
#define MANA_GAP_DEPTH_SHIFT 56
#define MANA_GAP_DEPTH_MAX 63
#define MANA_GAP_COUNT_MASK ((UINT64_C(1) << MANA_GAP_DEPTH_SHIFT) - 1)

/* The word of a rank at COUNT whose collective COUNT - K can be posted
 * again for each bit K of REPOSTABLE. */
uint64_t mana_gap_word(uint64_t count, uint64_t repostable);

static inline uint64_t mana_gap_count(uint64_t word)
{
    return word & MANA_GAP_COUNT_MASK;
}

/* One member as the round saw it: its word on the communicator, and
 * whether it is inside a collective on it. */
struct mana_gap_member {
    uint64_t word;
    int inside_here;
};

/* Whether the N members may stay apart: not all at one count, every
 * member's collectives past *FLOOR (the lowest count) within its depth,
 * and no member at the floor inside a collective there (all have entered
 * that one: it must complete). Sets *FLOOR when they may. */
int mana_gap_allowed(const struct mana_gap_member *m, size_t n, uint64_t *floor);

#endif

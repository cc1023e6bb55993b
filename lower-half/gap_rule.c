/* See gap_rule.h. */
#include "gap_rule.h"

uint64_t mana_gap_word(uint64_t count, uint64_t repostable)
{
    uint64_t depth = ~repostable == 0 ? 64 : (uint64_t)__builtin_ctzll(~repostable);
    if (depth > MANA_GAP_DEPTH_MAX)
        depth = MANA_GAP_DEPTH_MAX;
    return (count & MANA_GAP_COUNT_MASK) | (depth << MANA_GAP_DEPTH_SHIFT);
}

int mana_gap_allowed(const struct mana_gap_member *m, size_t n, uint64_t *floor)
{
    if (n == 0)
        return 0;
    uint64_t top = 0, lo = UINT64_MAX;
    for (size_t i = 0; i < n; i++) {
        uint64_t c = mana_gap_count(m[i].word);
        top = c > top ? c : top;
        lo = c < lo ? c : lo;
    }
    if (top == lo)
        return 0;
    for (size_t i = 0; i < n; i++) {
        uint64_t c = mana_gap_count(m[i].word), depth = m[i].word >> MANA_GAP_DEPTH_SHIFT;
        if (c > lo + depth)
            return 0; /* a collective past the floor it cannot post again, or has seen complete */
        if (c == lo && m[i].inside_here)
            return 0;
    }
    *floor = lo;
    return 1;
}

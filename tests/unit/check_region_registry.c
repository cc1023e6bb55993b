/* Unit tests for lower-half/region_registry: the sorted, disjoint interval
 * set of the lower half's address ranges. Besides hand-written cases, a
 * randomized test replays thousands of add/remove operations against a
 * plain bitmap over a small address space and compares the two. */
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "region_registry.h"

static struct region_registry *reg;

/* Check reports every passing ck_assert to the parent process; in loops of
 * thousands of checks that dominates the run time, so they use this. */
#define REQUIRE(cond, ...)                                                                                             \
    do {                                                                                                               \
        if (!(cond))                                                                                                   \
            ck_abort_msg(__VA_ARGS__);                                                                                 \
    } while (0)

static void setup(void)
{
    reg = malloc(sizeof *reg);
    ck_assert_ptr_nonnull(reg);
    /* Garbage everywhere: init must not depend on zeroed memory. */
    memset(reg, 0xa5, sizeof *reg);
    region_registry_init(reg);
}

static void teardown(void)
{
    free(reg);
    reg = NULL;
}

/* The registry holds exactly the N intervals in EXPECT (start, end pairs). */
static void expect_intervals(const uint64_t *expect, size_t n)
{
    ck_assert_uint_eq(reg->count, n);
    for (size_t i = 0; i < n; i++) {
        ck_assert_msg(reg->iv[i].start == expect[2 * i] && reg->iv[i].end == expect[2 * i + 1],
                      "interval %zu is [%#llx, %#llx), expected [%#llx, %#llx)", i,
                      (unsigned long long)reg->iv[i].start, (unsigned long long)reg->iv[i].end,
                      (unsigned long long)expect[2 * i], (unsigned long long)expect[2 * i + 1]);
    }
}

#define EXPECT(...)                                                                                                    \
    do {                                                                                                               \
        static const uint64_t e_[] = {__VA_ARGS__};                                                                    \
        expect_intervals(e_, sizeof e_ / sizeof e_[0] / 2);                                                            \
    } while (0)

/* Sorted, non-empty, disjoint and not touching (touching ones merge). */
static void check_invariants(void)
{
    REQUIRE(reg->count <= REGION_REGISTRY_CAPACITY, "count %zu over capacity", reg->count);
    for (size_t i = 0; i < reg->count; i++) {
        REQUIRE(reg->iv[i].start < reg->iv[i].end, "interval %zu is empty or reversed", i);
        if (i > 0)
            REQUIRE(reg->iv[i - 1].end < reg->iv[i].start,
                          "intervals %zu and %zu overlap, touch or are out of order", i - 1, i);
    }
}

START_TEST(test_empty)
{
    ck_assert_uint_eq(reg->count, 0);
    ck_assert_uint_eq(region_registry_covered(reg, 0, UINT64_MAX), 0);
    ck_assert_int_eq(region_registry_owner(reg, 0x1000, 0x2000), REGION_UPPER);
    ck_assert_int_eq(region_registry_remove(reg, 0x1000, 0x2000), 0);
    ck_assert_uint_eq(reg->count, 0);
}
END_TEST

START_TEST(test_add_single)
{
    ck_assert_int_eq(region_registry_add(reg, 0x1000, 0x3000), 0);
    EXPECT(0x1000, 0x3000);
    ck_assert_uint_eq(region_registry_covered(reg, 0, 0x10000), 0x2000);
    ck_assert_uint_eq(region_registry_covered(reg, 0x2000, 0x2800), 0x800);
    ck_assert_uint_eq(region_registry_covered(reg, 0x0, 0x1000), 0);
    ck_assert_uint_eq(region_registry_covered(reg, 0x3000, 0x4000), 0);
}
END_TEST

START_TEST(test_add_empty_range_ignored)
{
    ck_assert_int_eq(region_registry_add(reg, 0x2000, 0x2000), 0);
    ck_assert_int_eq(region_registry_add(reg, 0x3000, 0x2000), 0);
    ck_assert_uint_eq(reg->count, 0);
    ck_assert_int_eq(region_registry_add(reg, 0x1000, 0x2000), 0);
    ck_assert_int_eq(region_registry_add(reg, 0x1800, 0x1800), 0);
    EXPECT(0x1000, 0x2000);
}
END_TEST

START_TEST(test_add_sorted_whatever_order)
{
    ck_assert_int_eq(region_registry_add(reg, 0x5000, 0x6000), 0);
    ck_assert_int_eq(region_registry_add(reg, 0x1000, 0x2000), 0);
    ck_assert_int_eq(region_registry_add(reg, 0x9000, 0xa000), 0);
    ck_assert_int_eq(region_registry_add(reg, 0x3000, 0x4000), 0);
    EXPECT(0x1000, 0x2000, 0x3000, 0x4000, 0x5000, 0x6000, 0x9000, 0xa000);
    ck_assert_uint_eq(region_registry_covered(reg, 0, 0x10000), 0x4000);
}
END_TEST

START_TEST(test_add_overlapping_merges)
{
    ck_assert_int_eq(region_registry_add(reg, 0x1000, 0x3000), 0);
    ck_assert_int_eq(region_registry_add(reg, 0x2000, 0x5000), 0);
    EXPECT(0x1000, 0x5000);
    ck_assert_int_eq(region_registry_add(reg, 0x0800, 0x1800), 0);
    EXPECT(0x0800, 0x5000);
    /* Contained: no change. */
    ck_assert_int_eq(region_registry_add(reg, 0x2000, 0x3000), 0);
    EXPECT(0x0800, 0x5000);
    /* Containing: grows both ways. */
    ck_assert_int_eq(region_registry_add(reg, 0x0400, 0x6000), 0);
    EXPECT(0x0400, 0x6000);
}
END_TEST

START_TEST(test_add_touching_neighbours_merge)
{
    ck_assert_int_eq(region_registry_add(reg, 0x1000, 0x2000), 0);
    ck_assert_int_eq(region_registry_add(reg, 0x2000, 0x3000), 0); /* touches on the right */
    EXPECT(0x1000, 0x3000);
    ck_assert_int_eq(region_registry_add(reg, 0x0800, 0x1000), 0); /* touches on the left */
    EXPECT(0x0800, 0x3000);
    ck_assert_int_eq(region_registry_add(reg, 0x4000, 0x5000), 0);
    EXPECT(0x0800, 0x3000, 0x4000, 0x5000);
    /* Fills the gap exactly: both neighbours and the new range become one. */
    ck_assert_int_eq(region_registry_add(reg, 0x3000, 0x4000), 0);
    EXPECT(0x0800, 0x5000);
}
END_TEST

START_TEST(test_add_spanning_many_merges_all)
{
    for (uint64_t k = 0; k < 10; k++)
        ck_assert_int_eq(region_registry_add(reg, 0x10000 + k * 0x2000, 0x11000 + k * 0x2000), 0);
    ck_assert_uint_eq(reg->count, 10);
    ck_assert_int_eq(region_registry_add(reg, 0x5000, 0x8000), 0); /* before all, not touching */
    ck_assert_int_eq(region_registry_add(reg, 0x40000, 0x41000), 0); /* after all */
    ck_assert_uint_eq(reg->count, 12);
    /* From the middle of the 2nd to the middle of the 9th. */
    ck_assert_int_eq(region_registry_add(reg, 0x12800, 0x20800), 0);
    EXPECT(0x5000, 0x8000, 0x10000, 0x11000, 0x12000, 0x21000, 0x22000, 0x23000, 0x40000, 0x41000);
    check_invariants();
}
END_TEST

START_TEST(test_remove_splits)
{
    ck_assert_int_eq(region_registry_add(reg, 0x1000, 0x9000), 0);
    ck_assert_int_eq(region_registry_remove(reg, 0x4000, 0x6000), 0);
    EXPECT(0x1000, 0x4000, 0x6000, 0x9000);
    ck_assert_uint_eq(region_registry_covered(reg, 0x1000, 0x9000), 0x6000);
    ck_assert_int_eq(region_registry_owner(reg, 0x4000, 0x6000), REGION_UPPER);
}
END_TEST

START_TEST(test_remove_edges)
{
    ck_assert_int_eq(region_registry_add(reg, 0x1000, 0x9000), 0);
    /* Head, tail, exact, and ranges that only touch. */
    ck_assert_int_eq(region_registry_remove(reg, 0x0, 0x2000), 0);
    EXPECT(0x2000, 0x9000);
    ck_assert_int_eq(region_registry_remove(reg, 0x8000, 0xa000), 0);
    EXPECT(0x2000, 0x8000);
    ck_assert_int_eq(region_registry_remove(reg, 0x1000, 0x2000), 0);
    ck_assert_int_eq(region_registry_remove(reg, 0x8000, 0x9000), 0);
    EXPECT(0x2000, 0x8000);
    ck_assert_int_eq(region_registry_remove(reg, 0x2000, 0x3000), 0); /* same start */
    EXPECT(0x3000, 0x8000);
    ck_assert_int_eq(region_registry_remove(reg, 0x7000, 0x8000), 0); /* same end */
    EXPECT(0x3000, 0x7000);
    ck_assert_int_eq(region_registry_remove(reg, 0x5000, 0x5000), 0); /* empty */
    EXPECT(0x3000, 0x7000);
    ck_assert_int_eq(region_registry_remove(reg, 0x3000, 0x7000), 0); /* exact */
    ck_assert_uint_eq(reg->count, 0);
}
END_TEST

START_TEST(test_remove_across_many)
{
    /* [0x0,0x10) [0x20,0x30) ... [0x120,0x130) */
    for (uint64_t k = 0; k < 10; k++)
        ck_assert_int_eq(region_registry_add(reg, k * 0x20, k * 0x20 + 0x10), 0);
    /* Cuts the 2nd and the 5th, drops the 3rd and 4th. */
    ck_assert_int_eq(region_registry_remove(reg, 0x28, 0x84), 0);
    EXPECT(0x00, 0x10, 0x20, 0x28, 0x84, 0x90, 0xa0, 0xb0, 0xc0, 0xd0, 0xe0, 0xf0, 0x100, 0x110, 0x120, 0x130);
    /* From a gap to a gap, several whole intervals. */
    ck_assert_int_eq(region_registry_remove(reg, 0x98, 0x118), 0);
    EXPECT(0x00, 0x10, 0x20, 0x28, 0x84, 0x90, 0x120, 0x130);
    ck_assert_uint_eq(region_registry_covered(reg, 0, 0x1000), 0x10 + 0x8 + 0xc + 0x10);
}
END_TEST

START_TEST(test_remove_gap_only)
{
    ck_assert_int_eq(region_registry_add(reg, 0x1000, 0x2000), 0);
    ck_assert_int_eq(region_registry_add(reg, 0x4000, 0x5000), 0);
    ck_assert_int_eq(region_registry_remove(reg, 0x2000, 0x4000), 0);
    EXPECT(0x1000, 0x2000, 0x4000, 0x5000);
    ck_assert_int_eq(region_registry_remove(reg, 0x6000, 0x7000), 0);
    ck_assert_int_eq(region_registry_remove(reg, 0x0, 0x800), 0);
    EXPECT(0x1000, 0x2000, 0x4000, 0x5000);
    /* Everything at once. */
    ck_assert_int_eq(region_registry_remove(reg, 0x0, UINT64_MAX), 0);
    ck_assert_uint_eq(reg->count, 0);
}
END_TEST

START_TEST(test_owner)
{
    ck_assert_int_eq(region_registry_add(reg, 0x1000, 0x3000), 0);
    ck_assert_int_eq(region_registry_add(reg, 0x4000, 0x5000), 0);
    ck_assert_int_eq(region_registry_owner(reg, 0x1000, 0x3000), REGION_LOWER);
    ck_assert_int_eq(region_registry_owner(reg, 0x1800, 0x2000), REGION_LOWER);
    ck_assert_int_eq(region_registry_owner(reg, 0x3000, 0x4000), REGION_UPPER);
    ck_assert_int_eq(region_registry_owner(reg, 0x0, 0x1000), REGION_UPPER);
    ck_assert_int_eq(region_registry_owner(reg, 0x5000, 0x6000), REGION_UPPER);
    ck_assert_int_eq(region_registry_owner(reg, 0x0fff, 0x1001), REGION_MIXED);
    ck_assert_int_eq(region_registry_owner(reg, 0x2fff, 0x3001), REGION_MIXED);
    /* Both ends lower, a hole in the middle. */
    ck_assert_int_eq(region_registry_owner(reg, 0x2000, 0x4800), REGION_MIXED);
    ck_assert_int_eq(region_registry_owner(reg, 0x0, UINT64_MAX), REGION_MIXED);
}
END_TEST

START_TEST(test_covered)
{
    ck_assert_int_eq(region_registry_add(reg, 0x1000, 0x3000), 0);
    ck_assert_int_eq(region_registry_add(reg, 0x4000, 0x5000), 0);
    ck_assert_int_eq(region_registry_add(reg, 0x8000, 0x8010), 0);
    ck_assert_uint_eq(region_registry_covered(reg, 0x0, 0x10000), 0x2000 + 0x1000 + 0x10);
    ck_assert_uint_eq(region_registry_covered(reg, 0x2800, 0x4800), 0x800 + 0x800);
    ck_assert_uint_eq(region_registry_covered(reg, 0x3000, 0x4000), 0);
    ck_assert_uint_eq(region_registry_covered(reg, 0x8008, 0x9000), 0x8);
    ck_assert_uint_eq(region_registry_covered(reg, 0x4fff, 0x8001), 1 + 1);
    ck_assert_uint_eq(region_registry_covered(reg, 0x2000, 0x2000), 0);
}
END_TEST

START_TEST(test_high_addresses)
{
    const uint64_t top = UINT64_MAX;
    ck_assert_int_eq(region_registry_add(reg, top - 0x2000, top), 0);
    ck_assert_int_eq(region_registry_add(reg, 0xffffffffff600000ULL, 0xffffffffff601000ULL), 0);
    ck_assert_int_eq(region_registry_add(reg, 0x7ffffffde000ULL, 0x7ffffffff000ULL), 0);
    ck_assert_uint_eq(reg->count, 3);
    check_invariants();
    ck_assert_uint_eq(region_registry_covered(reg, top - 0x1000, top), 0x1000);
    ck_assert_int_eq(region_registry_owner(reg, top - 1, top), REGION_LOWER);
    ck_assert_int_eq(region_registry_remove(reg, top - 0x1000, top), 0);
    ck_assert_uint_eq(region_registry_covered(reg, top - 0x2000, top), 0x1000);
    ck_assert_int_eq(region_registry_remove(reg, top - 0x1800, top - 0x1400), 0);
    ck_assert_uint_eq(region_registry_covered(reg, top - 0x2000, top), 0x1000 - 0x400);
    ck_assert_uint_eq(region_registry_covered(reg, 0, top), 0x1000 - 0x400 + 0x1000 + 0x21000);
}
END_TEST

/* Fills the registry with CAPACITY disjoint one-byte intervals at 4k, 8k, ... */
static void fill_to_capacity(void)
{
    for (uint64_t k = 0; k < REGION_REGISTRY_CAPACITY; k++)
        REQUIRE(region_registry_add(reg, (k + 1) * 0x1000, (k + 1) * 0x1000 + 0x10) == 0, "add %llu refused",
                (unsigned long long)k);
    ck_assert_uint_eq(reg->count, REGION_REGISTRY_CAPACITY);
}

START_TEST(test_capacity_add)
{
    fill_to_capacity();
    const uint64_t past = (REGION_REGISTRY_CAPACITY + 10) * 0x1000ULL;
    /* A new separate interval does not fit and is not recorded. */
    ck_assert_int_eq(region_registry_add(reg, past, past + 0x100), -1);
    ck_assert_int_eq(region_registry_add(reg, 0x10, 0x20), -1);
    ck_assert_int_eq(region_registry_add(reg, 0x1800, 0x1900), -1);
    ck_assert_uint_eq(reg->count, REGION_REGISTRY_CAPACITY);
    ck_assert_uint_eq(region_registry_covered(reg, past, past + 0x100), 0);
    ck_assert_uint_eq(region_registry_covered(reg, 0, 0x1000), 0);
    ck_assert_int_eq(region_registry_owner(reg, 0x1800, 0x1900), REGION_UPPER);
    /* Growing or merging needs no slot. */
    ck_assert_int_eq(region_registry_add(reg, 0x1010, 0x1100), 0);
    ck_assert_uint_eq(reg->count, REGION_REGISTRY_CAPACITY);
    ck_assert_int_eq(region_registry_add(reg, 0x1100, 0x2000), 0); /* touches 0x2000: merges two */
    ck_assert_uint_eq(reg->count, REGION_REGISTRY_CAPACITY - 1);
    ck_assert_uint_eq(region_registry_covered(reg, 0x1000, 0x2010), 0x1010);
    /* And now one slot is free again. */
    ck_assert_int_eq(region_registry_add(reg, past, past + 0x100), 0);
    ck_assert_uint_eq(reg->count, REGION_REGISTRY_CAPACITY);
    ck_assert_int_eq(region_registry_add(reg, past + 0x1000, past + 0x1100), -1);
    check_invariants();
}
END_TEST

START_TEST(test_capacity_remove)
{
    fill_to_capacity();
    /* Splitting needs a slot: refused, and nothing changes. */
    ck_assert_int_eq(region_registry_remove(reg, 0x1004, 0x1008), -1);
    ck_assert_uint_eq(reg->count, REGION_REGISTRY_CAPACITY);
    ck_assert_uint_eq(region_registry_covered(reg, 0x1000, 0x1010), 0x10);
    /* Trimming an end needs none. */
    ck_assert_int_eq(region_registry_remove(reg, 0x1000, 0x1008), 0);
    ck_assert_uint_eq(region_registry_covered(reg, 0x1000, 0x1010), 0x8);
    /* Removing a whole interval frees a slot, and the split then works. */
    ck_assert_int_eq(region_registry_remove(reg, 0x2000, 0x2010), 0);
    ck_assert_uint_eq(reg->count, REGION_REGISTRY_CAPACITY - 1);
    ck_assert_int_eq(region_registry_remove(reg, 0x3004, 0x3008), 0);
    ck_assert_uint_eq(reg->count, REGION_REGISTRY_CAPACITY);
    ck_assert_uint_eq(region_registry_covered(reg, 0x3000, 0x3010), 0xc);
    check_invariants();
}
END_TEST

/* --- randomized comparison with a bitmap ------------------------------- */

static uint64_t rng_state;
static uint64_t rng(void)
{
    /* xorshift64*: reproducible from the seed printed on failure. */
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 2685821657736338717ULL;
}

static uint64_t model_covered(const unsigned char *bits, uint64_t s, uint64_t e)
{
    uint64_t n = 0;
    for (uint64_t a = s; a < e; a++)
        n += bits[a];
    return n;
}

/* Random add/remove of ranges up to MAXLEN in [BASE, BASE + SPACE), with
 * ADD_PERCENT adds; every op is mirrored in a bitmap unless the registry
 * refuses it (-1), in which case the registry must be unchanged. */
static void random_run(uint64_t seed, uint64_t base, size_t space, size_t maxlen, int add_percent, int ops,
                       int *refusals)
{
    unsigned char *bits = calloc(space, 1);
    REQUIRE(bits != NULL, "out of memory");
    rng_state = seed;
    *refusals = 0;
    for (int op = 0; op < ops; op++) {
        uint64_t s = rng() % space;
        uint64_t len = 1 + rng() % maxlen;
        uint64_t e = s + len > space ? space : s + len;
        int add = (int)(rng() % 100) < add_percent;
        size_t before_count = reg->count;
        uint64_t before_cov = region_registry_covered(reg, base, base + space);
        int rc = add ? region_registry_add(reg, base + s, base + e) : region_registry_remove(reg, base + s, base + e);
        if (rc == 0) {
            memset(bits + s, add ? 1 : 0, e - s);
        } else {
            REQUIRE(rc == -1, "seed %llu op %d: rc %d", (unsigned long long)seed, op, rc);
            REQUIRE(reg->count == REGION_REGISTRY_CAPACITY, "seed %llu op %d: refused below capacity",
                          (unsigned long long)seed, op);
            REQUIRE(reg->count == before_count, "seed %llu op %d: refused op changed the count",
                    (unsigned long long)seed, op);
            REQUIRE(region_registry_covered(reg, base, base + space) == before_cov,
                    "seed %llu op %d: refused op changed the covered bytes", (unsigned long long)seed, op);
            (*refusals)++;
        }
        /* Spot checks on random ranges every op. */
        for (int q = 0; q < 2; q++) {
            uint64_t qs = rng() % space, qe = qs + rng() % (4 * maxlen + 1);
            if (qe > space)
                qe = space;
            uint64_t want = model_covered(bits, qs, qe);
            uint64_t got = region_registry_covered(reg, base + qs, base + qe);
            REQUIRE(got == want, "seed %llu op %d (%s [%llu,%llu)): covered[%llu,%llu) = %llu, model %llu",
                          (unsigned long long)seed, op, add ? "add" : "remove", (unsigned long long)s,
                          (unsigned long long)e, (unsigned long long)qs, (unsigned long long)qe,
                          (unsigned long long)got, (unsigned long long)want);
            enum region_owner ow = region_registry_owner(reg, base + qs, base + qe);
            enum region_owner want_ow = want == 0 ? REGION_UPPER : want == qe - qs ? REGION_LOWER : REGION_MIXED;
            REQUIRE(ow == want_ow, "seed %llu op %d: owner %d, model %d", (unsigned long long)seed, op, ow,
                          want_ow);
        }
        if (op % 64 == 0)
            check_invariants();
    }
    check_invariants();
    /* Full comparison: every address, and the interval list itself. */
    for (uint64_t a = 0; a < space; a++)
        REQUIRE(region_registry_covered(reg, base + a, base + a + 1) == bits[a],
                      "seed %llu: address %llu differs from the model", (unsigned long long)seed,
                      (unsigned long long)a);
    size_t k = 0;
    for (uint64_t a = 0; a < space;) {
        if (!bits[a]) {
            a++;
            continue;
        }
        uint64_t b = a;
        while (b < space && bits[b])
            b++;
        REQUIRE(k < reg->count && reg->iv[k].start == base + a && reg->iv[k].end == base + b,
                "seed %llu: interval %zu differs from the model's run [%llu, %llu)", (unsigned long long)seed, k,
                (unsigned long long)a, (unsigned long long)b);
        k++;
        a = b;
    }
    ck_assert_uint_eq(k, reg->count);
    free(bits);
}

START_TEST(test_next_gap)
{
    uint64_t gs, ge;
    ck_assert_int_eq(region_registry_next_gap(reg, 0x1000, 0x5000, &gs, &ge), 1);
    ck_assert_uint_eq(gs, 0x1000);
    ck_assert_uint_eq(ge, 0x5000);
    region_registry_add(reg, 0x2000, 0x3000);
    region_registry_add(reg, 0x4000, 0x6000);
    ck_assert_int_eq(region_registry_next_gap(reg, 0x1000, 0x5000, &gs, &ge), 1);
    ck_assert_uint_eq(gs, 0x1000);
    ck_assert_uint_eq(ge, 0x2000);
    ck_assert_int_eq(region_registry_next_gap(reg, 0x2000, 0x5000, &gs, &ge), 1);
    ck_assert_uint_eq(gs, 0x3000);
    ck_assert_uint_eq(ge, 0x4000);
    ck_assert_int_eq(region_registry_next_gap(reg, 0x2800, 0x3000, &gs, &ge), 0);
    ck_assert_int_eq(region_registry_next_gap(reg, 0x4000, 0x5000, &gs, &ge), 0);
    ck_assert_int_eq(region_registry_next_gap(reg, 0x4800, 0x7000, &gs, &ge), 1);
    ck_assert_uint_eq(gs, 0x6000);
    ck_assert_uint_eq(ge, 0x7000);
}
END_TEST

START_TEST(test_random_against_bitmap)
{
    int refusals;
    const uint64_t seeds[] = {1, 0x9e3779b97f4a7c15ULL, 20240601};
    for (size_t i = 0; i < sizeof seeds / sizeof seeds[0]; i++) {
        region_registry_init(reg);
        random_run(seeds[i], 0x7f0000000000ULL, 2048, 40, 55, 4000, &refusals);
        ck_assert_int_eq(refusals, 0);
    }
    /* Addresses starting at 0 too. */
    region_registry_init(reg);
    random_run(77, 0, 512, 16, 50, 3000, &refusals);
    ck_assert_int_eq(refusals, 0);
}
END_TEST

/* Tiny ranges over a space wide enough to exceed the capacity: the
 * refusals must leave the registry exactly as it was. */
START_TEST(test_random_at_capacity)
{
    int refusals;
    region_registry_init(reg);
    random_run(4242, 0x10000, 8 * REGION_REGISTRY_CAPACITY, 1, 85, 26000, &refusals);
    ck_assert_int_gt(refusals, 0);
}
END_TEST

static Suite *region_registry_suite(void)
{
    Suite *s = suite_create("region_registry");
    TCase *tc = tcase_create("basic");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_empty);
    tcase_add_test(tc, test_add_single);
    tcase_add_test(tc, test_add_empty_range_ignored);
    tcase_add_test(tc, test_add_sorted_whatever_order);
    tcase_add_test(tc, test_add_overlapping_merges);
    tcase_add_test(tc, test_add_touching_neighbours_merge);
    tcase_add_test(tc, test_add_spanning_many_merges_all);
    tcase_add_test(tc, test_remove_splits);
    tcase_add_test(tc, test_remove_edges);
    tcase_add_test(tc, test_remove_across_many);
    tcase_add_test(tc, test_remove_gap_only);
    tcase_add_test(tc, test_next_gap);
    tcase_add_test(tc, test_owner);
    tcase_add_test(tc, test_covered);
    tcase_add_test(tc, test_high_addresses);
    suite_add_tcase(s, tc);

    TCase *cap = tcase_create("capacity");
    tcase_add_checked_fixture(cap, setup, teardown);
    tcase_add_test(cap, test_capacity_add);
    tcase_add_test(cap, test_capacity_remove);
    suite_add_tcase(s, cap);

    TCase *rnd = tcase_create("random");
    tcase_add_checked_fixture(rnd, setup, teardown);
    tcase_set_timeout(rnd, 60);
    tcase_add_test(rnd, test_random_against_bitmap);
    tcase_add_test(rnd, test_random_at_capacity);
    suite_add_tcase(s, rnd);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(region_registry_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

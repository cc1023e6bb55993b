/* Unit tests for upper-half/u64_map: random puts, gets and deletes
 * against a plain array, with consecutive keys and with keys that differ
 * only in their high bits, so that deletion shifts runs back, across the
 * table's end too. */
#include <check.h>
#include <stdint.h>
#include <stdlib.h>

#include "../../upper-half/u64_map.h"

/* Check's ck_assert marks a point (a write to a pipe) each time: in the
 * loops, only a failure calls into Check. */
#define REQUIRE(cond, ...)                                                                                             \
    do {                                                                                                               \
        if (!(cond))                                                                                                   \
            ck_abort_msg(__VA_ARGS__);                                                                                 \
    } while (0)

enum { NKEYS = 4000 };

static uint64_t key_of(int i, int crowded)
{
    /* crowded: the low 47 bits alike */
    return crowded ? (uint64_t)i << 47 : 0x44000000u + (uint64_t)i;
}

static void random_model(int crowded)
{
    static uint64_t want[NKEYS];
    static int in[NKEYS];
    struct u64_map m = {0};
    for (int i = 0; i < NKEYS; i++)
        in[i] = 0;
    srand(crowded ? 41 : 42);
    size_t n = 0;
    for (int op = 0; op < 200000; op++) {
        int i = rand() % NKEYS;
        uint64_t k = key_of(i, crowded);
        switch (rand() % 3) {
        case 0:
            want[i] = (uint64_t)rand();
            REQUIRE(u64_map_put(&m, k, want[i]) == 0, "op %d: put %d failed", op, i);
            n += !in[i];
            in[i] = 1;
            break;
        case 1:
            u64_map_del(&m, k);
            n -= in[i];
            in[i] = 0;
            break;
        default: {
            const uint64_t *v = u64_map_get(&m, k);
            REQUIRE((v != NULL) == in[i], "op %d: key %d %s", op, i, in[i] ? "lost" : "present after delete");
            REQUIRE(!v || *v == want[i], "op %d: key %d has another value", op, i);
        }
        }
        REQUIRE(m.n == n, "op %d: %zu entries, want %zu", op, m.n, n);
    }
    for (int i = 0; i < NKEYS; i++) {
        const uint64_t *v = u64_map_get(&m, key_of(i, crowded));
        REQUIRE((v != NULL) == in[i] && (!v || *v == want[i]), "at the end: key %d wrong", i);
    }
    u64_map_free(&m);
}

START_TEST(random_against_array) { random_model(0); }
END_TEST

START_TEST(random_crowded_keys) { random_model(1); }
END_TEST

START_TEST(empty_map)
{
    struct u64_map m = {0};
    ck_assert_ptr_null(u64_map_get(&m, 0));
    u64_map_del(&m, 7);
    ck_assert_int_eq(u64_map_put(&m, 0, 5), 0); /* 0 is a key like any other */
    ck_assert_uint_eq(*u64_map_get(&m, 0), 5);
    u64_map_del(&m, 0);
    ck_assert_ptr_null(u64_map_get(&m, 0));
    ck_assert_uint_eq(m.n, 0);
    u64_map_free(&m);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("u64_map");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, empty_map);
    tcase_add_test(tc, random_against_array);
    tcase_add_test(tc, random_crowded_keys);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

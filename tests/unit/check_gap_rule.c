/* When the members of a communicator may stay apart at a checkpoint
 * (lower-half/gap_rule.c, docs/checkpoint-protocol.md "Allowed gaps"). */
#include <check.h>
#include <stdlib.h>

#include "gap_rule.h"

/* A member at COUNT whose latest DEPTH collectives can be posted again. */
static struct mana_gap_member at(uint64_t count, unsigned depth, int inside)
{
    uint64_t mask = depth >= 64 ? ~UINT64_C(0) : (UINT64_C(1) << depth) - 1;
    return (struct mana_gap_member){.word = mana_gap_word(count, mask), .inside_here = inside};
}

START_TEST(word_depth_is_the_run_of_latest_repostable)
{
    ck_assert_uint_eq(mana_gap_count(mana_gap_word(41, 0)), 41);
    ck_assert_uint_eq(mana_gap_word(41, 0) >> MANA_GAP_DEPTH_SHIFT, 0);
    ck_assert_uint_eq(mana_gap_word(41, 0x7) >> MANA_GAP_DEPTH_SHIFT, 3);
    /* A gap in the run stops it: collective count - 1 cannot be posted again. */
    ck_assert_uint_eq(mana_gap_word(41, 0x5) >> MANA_GAP_DEPTH_SHIFT, 1);
    ck_assert_uint_eq(mana_gap_word(41, 0x6) >> MANA_GAP_DEPTH_SHIFT, 0);
    ck_assert_uint_eq(mana_gap_word(41, ~UINT64_C(0)) >> MANA_GAP_DEPTH_SHIFT, MANA_GAP_DEPTH_MAX);
    ck_assert_uint_eq(mana_gap_count(mana_gap_word(41, ~UINT64_C(0))), 41);
}
END_TEST

START_TEST(one_behind_with_the_others_inside)
{
    struct mana_gap_member m[3] = {at(5, 1, 1), at(4, 0, 0), at(5, 1, 0)};
    uint64_t floor = 99;
    ck_assert_int_eq(mana_gap_allowed(m, 3, &floor), 1);
    ck_assert_uint_eq(floor, 4);
}
END_TEST

START_TEST(all_level_is_no_gap)
{
    struct mana_gap_member m[2] = {at(5, 1, 1), at(5, 1, 1)};
    uint64_t floor = 99;
    ck_assert_int_eq(mana_gap_allowed(m, 2, &floor), 0);
    ck_assert_uint_eq(floor, 99);
}
END_TEST

START_TEST(many_behind_needs_the_depth)
{
    /* Seven nonblocking collectives posted by two members, none by the third. */
    struct mana_gap_member ok[3] = {at(17, 7, 0), at(10, 0, 0), at(17, 7, 0)};
    struct mana_gap_member short_run[3] = {at(17, 7, 0), at(10, 0, 0), at(17, 6, 0)};
    uint64_t floor = 0;
    ck_assert_int_eq(mana_gap_allowed(ok, 3, &floor), 1);
    ck_assert_uint_eq(floor, 10);
    ck_assert_int_eq(mana_gap_allowed(short_run, 3, &floor), 0);
}
END_TEST

START_TEST(members_between_floor_and_top)
{
    struct mana_gap_member m[3] = {at(12, 2, 0), at(10, 0, 0), at(11, 1, 1)};
    uint64_t floor = 0;
    ck_assert_int_eq(mana_gap_allowed(m, 3, &floor), 1);
    ck_assert_uint_eq(floor, 10);
    m[2] = at(11, 0, 0); /* it has seen collective 11 complete */
    ck_assert_int_eq(mana_gap_allowed(m, 3, &floor), 0);
}
END_TEST

START_TEST(inside_at_the_floor_must_complete)
{
    /* The member at the floor is inside collective 4, which all entered. */
    struct mana_gap_member m[2] = {at(5, 1, 0), at(4, 1, 1)};
    uint64_t floor = 0;
    ck_assert_int_eq(mana_gap_allowed(m, 2, &floor), 0);
    m[1].inside_here = 0;
    ck_assert_int_eq(mana_gap_allowed(m, 2, &floor), 1);
}
END_TEST

START_TEST(no_members)
{
    uint64_t floor = 0;
    ck_assert_int_eq(mana_gap_allowed(NULL, 0, &floor), 0);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("gap_rule");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, word_depth_is_the_run_of_latest_repostable);
    tcase_add_test(tc, one_behind_with_the_others_inside);
    tcase_add_test(tc, all_level_is_no_gap);
    tcase_add_test(tc, many_behind_needs_the_depth);
    tcase_add_test(tc, members_between_floor_and_top);
    tcase_add_test(tc, inside_at_the_floor_must_complete);
    tcase_add_test(tc, no_members);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

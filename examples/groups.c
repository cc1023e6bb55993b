/*
 * groups.c - process groups: MPI_Comm_group, Group_incl/excl/range_incl,
 * Group_union/intersection/difference, Group_translate_ranks,
 * Group_compare, Group_size/Group_rank and Group_free.  Every group's
 * membership is compared with what it must be from the rank numbers.
 * Groups are opaque MPI objects that a checkpoint/restart system has to
 * recreate after a restart.
 *
 * Build: mpicc.mpich -std=gnu11 -O2 -Wall -Wextra -Werror groups.c -o groups
 */
#include <mpi.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NAME "groups"
#include "example_check.h"

/* Checks that group g holds exactly the world ranks want[0..n-1], in order. */
static void expect_members(MPI_Group world, MPI_Group g, const int *want, int n,
                           const char *what)
{
    int gs = -1;
    MPI_Group_size(g, &gs);
    check(gs == n, "%s: size %d want %d", what, gs, n);
    if (gs != n)
        return;
    int *idx = xmalloc(sizeof(int) * (size_t)n), *out = xmalloc(sizeof(int) * (size_t)n);
    for (int i = 0; i < n; i++)
        idx[i] = i;
    MPI_Group_translate_ranks(g, n, idx, world, out);
    for (int i = 0; i < n; i++)
        check(out[i] == want[i], "%s: member %d is %d want %d", what, i, out[i], want[i]);
    free(idx);
    free(out);
}

static void expect_rank(MPI_Group g, int want, const char *what)
{
    int r = -2;
    MPI_Group_rank(g, &r);
    check(r == want, "%s: rank %d want %d", what, r, want);
}

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    int rank, size;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);

    MPI_Group world;
    MPI_Comm_group(MPI_COMM_WORLD, &world);
    int ws = -1;
    MPI_Group_size(world, &ws);
    check(ws == size, "world group size %d", ws);
    expect_rank(world, rank, "world");

    int *want = xmalloc(sizeof(int) * (size_t)size);
    int nw;

    /* Even ranks, by Group_incl. */
    int *evens = xmalloc(sizeof(int) * (size_t)size), ne = 0;
    for (int r = 0; r < size; r += 2)
        evens[ne++] = r;
    MPI_Group geven;
    MPI_Group_incl(world, ne, evens, &geven);
    expect_members(world, geven, evens, ne, "incl evens");
    expect_rank(geven, rank % 2 == 0 ? rank / 2 : MPI_UNDEFINED, "incl evens");

    /* Odd ranks, by excluding the evens. */
    MPI_Group godd;
    MPI_Group_excl(world, ne, evens, &godd);
    nw = 0;
    for (int r = 1; r < size; r += 2)
        want[nw++] = r;
    expect_members(world, godd, want, nw, "excl evens");
    expect_rank(godd, rank % 2 == 1 ? rank / 2 : MPI_UNDEFINED, "excl evens");
    int no = nw;

    /* Reversed world by Group_incl: same members, different order. */
    int *rev = xmalloc(sizeof(int) * (size_t)size);
    for (int i = 0; i < size; i++)
        rev[i] = size - 1 - i;
    MPI_Group grev;
    MPI_Group_incl(world, size, rev, &grev);
    expect_members(world, grev, rev, size, "reversed");
    expect_rank(grev, size - 1 - rank, "reversed");

    /* Union of odds then evens: odds first, evens appended. */
    MPI_Group gun;
    MPI_Group_union(godd, geven, &gun);
    nw = 0;
    for (int r = 1; r < size; r += 2)
        want[nw++] = r;
    for (int r = 0; r < size; r += 2)
        want[nw++] = r;
    expect_members(world, gun, want, nw, "union");

    /* Intersection of world with evens is evens; of evens with odds is empty. */
    MPI_Group gint, gempty;
    MPI_Group_intersection(world, geven, &gint);
    expect_members(world, gint, evens, ne, "intersection");
    MPI_Group_intersection(geven, godd, &gempty);
    int es = -1;
    MPI_Group_size(gempty, &es);
    check(es == 0, "empty intersection size %d", es);

    /* Difference world \ odds = evens. */
    MPI_Group gdiff;
    MPI_Group_difference(world, godd, &gdiff);
    expect_members(world, gdiff, evens, ne, "difference");

    /* Range incl: ranks 0..size-1 step 2 (evens again) plus the last one
     * if odd, using two ranges; then a descending range. */
    int ranges[2][3] = { { 0, size - 1, 2 }, { 1, size - 1, 2 } };
    MPI_Group grange;
    MPI_Group_range_incl(world, size > 1 ? 2 : 1, ranges, &grange);
    nw = 0;
    for (int r = 0; r < size; r += 2)
        want[nw++] = r;
    for (int r = 1; r < size; r += 2)
        want[nw++] = r;
    expect_members(world, grange, want, nw, "range_incl");
    int down[1][3] = { { size - 1, 0, -1 } };
    MPI_Group gdown;
    MPI_Group_range_incl(world, 1, down, &gdown);
    expect_members(world, gdown, rev, size, "range_incl down");

    /* Translate from world to evens: odd ranks are MPI_UNDEFINED. */
    int *all = xmalloc(sizeof(int) * (size_t)size), *tr = xmalloc(sizeof(int) * (size_t)size);
    for (int i = 0; i < size; i++)
        all[i] = i;
    MPI_Group_translate_ranks(world, size, all, geven, tr);
    for (int i = 0; i < size; i++)
        check(tr[i] == (i % 2 ? MPI_UNDEFINED : i / 2), "translate %d -> %d", i, tr[i]);

    /* Compare. */
    int c;
    MPI_Group_compare(world, world, &c);
    check(c == MPI_IDENT, "compare world world %d", c);
    MPI_Group_compare(world, gdown, &c);
    check(c == (size == 1 ? MPI_IDENT : MPI_SIMILAR), "compare world reversed %d", c);
    MPI_Group_compare(geven, gint, &c);
    check(c == MPI_IDENT, "compare evens intersection %d", c);
    MPI_Group_compare(geven, gdiff, &c);
    check(c == MPI_IDENT, "compare evens difference %d", c);
    if (size > 1) {
        MPI_Group_compare(geven, godd, &c);
        check(c == MPI_UNEQUAL, "compare evens odds %d", c);
        MPI_Group_compare(world, gun, &c);
        check(c == MPI_SIMILAR, "compare world union %d", c);
    }

    /* Free everything and check handles are nulled. */
    MPI_Group *gs[] = { &geven, &godd, &grev, &gun, &gint, &gempty, &gdiff, &grange, &gdown, &world };
    for (size_t i = 0; i < sizeof gs / sizeof gs[0]; i++) {
        MPI_Group_free(gs[i]);
        check(*gs[i] == MPI_GROUP_NULL, "group %zu not nulled by free", i);
    }

    if (rank == 0)
        printf("groups on %d ranks: %d even, %d odd\n", size, ne, no);
    free(want);
    free(evens);
    free(rev);
    free(all);
    free(tr);

    int rc = finish(rank, size);
    MPI_Finalize();
    return rc;
}

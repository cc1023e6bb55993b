/* Unit tests for upper-half/record_log: append and replay order, pruning
 * when objects are freed (with and without live dependants, mutators such
 * as TYPE_COMMIT), the byte round trip, and parses of truncated, bit-flipped
 * and re-checksummed corrupt serialisations, which must fail cleanly. */
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../upper-half/record_log.h"

#define REQUIRE(cond, ...)                                                                                             \
    do {                                                                                                               \
        if (!(cond))                                                                                                   \
            ck_abort_msg(__VA_ARGS__);                                                                                 \
    } while (0)

#define WORLD ((int32_t)0x44000000)
#define T_INT ((int32_t)0x4c000405)

static struct rl_log *log_;

static void setup(void)
{
    log_ = rl_create();
    ck_assert_ptr_nonnull(log_);
}

static void teardown(void)
{
    rl_destroy(log_);
    log_ = NULL;
}

static uint64_t app(enum rl_op op, int32_t out, const int32_t *dep, unsigned n_dep, const void *blob, size_t len)
{
    uint64_t seq = 0;
    ck_assert_int_eq(rl_append(log_, op, &out, 1, dep, n_dep, blob, len, &seq), 0);
    return seq;
}

static int present(uint64_t seq)
{
    return rl_find(log_, seq) != NULL;
}

START_TEST(append_and_iterate_in_order)
{
    int32_t w = WORLD;
    int args[3] = {1, 2, 3};
    uint64_t s1 = app(RL_COMM_DUP, (int32_t)0xc4000010, &w, 1, NULL, 0);
    uint64_t s2 = app(RL_COMM_SPLIT, (int32_t)0xc4000011, &w, 1, args, sizeof args);
    int32_t d2[2] = {T_INT, T_INT};
    uint64_t s3 = app(RL_TYPE_CREATE_STRUCT, (int32_t)0xcc000010, d2, 2, "abcdef", 6);
    ck_assert_uint_lt(s1, s2);
    ck_assert_uint_lt(s2, s3);
    ck_assert_uint_eq(rl_count(log_), 3);
    size_t cur = 0;
    const struct rl_record *r;
    uint64_t prev = 0;
    int n = 0;
    while ((r = rl_iter_next(log_, &cur))) {
        ck_assert_uint_gt(r->seq, prev);
        prev = r->seq;
        n++;
    }
    ck_assert_int_eq(n, 3);
    r = rl_find(log_, s2);
    ck_assert_ptr_nonnull(r);
    ck_assert_uint_eq(r->op, RL_COMM_SPLIT);
    ck_assert_uint_eq(r->blob_len, sizeof args);
    ck_assert_int_eq(memcmp(r->blob, args, sizeof args), 0);
    ck_assert_uint_eq(r->n_dep, 1);
    ck_assert_int_eq(r->dep[0], WORLD);
    const uint64_t *links;
    ck_assert_uint_eq(rl_links(log_, r, &links), 0); /* WORLD is predefined: no record */
    /* bad appends */
    int32_t o = 1;
    ck_assert_int_eq(rl_append(log_, (enum rl_op)0, &o, 1, NULL, 0, NULL, 0, NULL), -1);
    ck_assert_int_eq(rl_append(log_, (enum rl_op)200, &o, 1, NULL, 0, NULL, 0, NULL), -1);
    ck_assert_int_eq(rl_append(log_, RL_COMM_DUP, &o, 0, NULL, 0, NULL, 0, NULL), -1);
    ck_assert_int_eq(rl_append(log_, RL_COMM_DUP, &o, RL_MAX_OUT + 1, NULL, 0, NULL, 0, NULL), -1);
    ck_assert_uint_eq(rl_count(log_), 3);
    ck_assert_str_eq(rl_op_name(RL_TYPE_VECTOR), "TYPE_VECTOR");
    ck_assert_ptr_null(rl_op_name(999));
}
END_TEST

START_TEST(free_leaf_prunes)
{
    int32_t i = T_INT;
    uint64_t a = app(RL_TYPE_DUP, (int32_t)0xcc000010, &i, 1, NULL, 0);
    uint64_t b = app(RL_TYPE_DUP, (int32_t)0xcc000011, &i, 1, NULL, 0);
    ck_assert_uint_eq(rl_mark_freed(log_, (int32_t)0xcc000010), 1);
    ck_assert(!present(a));
    ck_assert(present(b));
    ck_assert_uint_eq(rl_count(log_), 1);
    ck_assert_uint_eq(rl_mark_freed(log_, (int32_t)0xcc000010), 0); /* already gone */
    ck_assert_uint_eq(rl_mark_freed(log_, T_INT), 0);
}
END_TEST

/* A communicator from a collective call stays in the log when freed: the
 * other members' restarts replay the call, which waits for this rank. */
START_TEST(collective_comm_records_stay)
{
    int32_t w = WORLD, A = (int32_t)0xc4000010;
    uint64_t a = app(RL_COMM_DUP, A, &w, 1, NULL, 0);
    ck_assert_uint_eq(rl_mark_freed(log_, A), 1);
    ck_assert(present(a));
    ck_assert(rl_find(log_, a)->flags & RL_REC_FREED);
    ck_assert_uint_eq(rl_count(log_), 1);
}
END_TEST

START_TEST(free_with_live_dependant_then_dependant)
{
    int32_t i = T_INT, A = (int32_t)0xcc000010, B = (int32_t)0xcc000011;
    uint64_t a = app(RL_TYPE_DUP, A, &i, 1, NULL, 0);
    uint64_t b = app(RL_TYPE_CONTIGUOUS, B, &A, 1, "xy", 2);
    ck_assert_uint_eq(rl_dependants(rl_find(log_, a)), 1);
    ck_assert_uint_eq(rl_mark_freed(log_, A), 1);
    ck_assert(present(a)); /* still needed to rebuild B */
    ck_assert(rl_find(log_, a)->flags & RL_REC_FREED);
    ck_assert(!(rl_find(log_, b)->flags & RL_REC_FREED));
    /* A's id is reused for a new type: it must not link to the freed A. */
    uint64_t c = app(RL_TYPE_DUP, A, &i, 1, NULL, 0);
    int32_t dep = A;
    uint64_t d = app(RL_TYPE_DUP, (int32_t)0xcc000012, &dep, 1, NULL, 0);
    const uint64_t *links;
    ck_assert_uint_eq(rl_links(log_, rl_find(log_, d), &links), 1);
    ck_assert_uint_eq(links[0], c);
    ck_assert_uint_eq(rl_mark_freed(log_, B), 1);
    ck_assert(!present(a));
    ck_assert(!present(b));
    ck_assert(present(c));
    ck_assert(present(d));
    ck_assert_uint_eq(rl_count(log_), 2);
}
END_TEST

START_TEST(chain_and_mutators)
{
    /* T1 = vector(INT); commit T1; T2 = struct(T1, INT); commit T2;
     * free T1 (kept: T2 needs it, commit included); free T2: all gone. */
    int32_t T1 = (int32_t)0xcc000001, T2 = (int32_t)0xcc000002, i = T_INT;
    uint64_t v = app(RL_TYPE_VECTOR, T1, &i, 1, "v", 1);
    uint64_t c1 = app(RL_TYPE_COMMIT, T1, NULL, 0, NULL, 0);
    int32_t d[2] = {T1, T_INT};
    uint64_t s = app(RL_TYPE_CREATE_STRUCT, T2, d, 2, "s", 1);
    uint64_t c2 = app(RL_TYPE_COMMIT, T2, NULL, 0, NULL, 0);
    const uint64_t *links;
    ck_assert_uint_eq(rl_links(log_, rl_find(log_, s), &links), 2); /* vector and its commit */
    ck_assert_uint_eq(rl_mark_freed(log_, T1), 2);
    ck_assert(present(v) && present(c1) && present(s) && present(c2));
    /* a deep chain of dups: freeing everything from the root down keeps
     * all, freeing the tip then prunes the whole chain */
    int32_t prev = T2;
    enum { DEPTH = 5000 };
    for (int k = 0; k < DEPTH; k++) {
        int32_t o = (int32_t)(0xcc100000u + (unsigned)k);
        app(RL_TYPE_DUP, o, &prev, 1, NULL, 0);
        prev = o;
    }
    ck_assert_uint_eq(rl_mark_freed(log_, T2), 2);
    for (int k = 0; k < DEPTH - 1; k++)
        ck_assert_uint_eq(rl_mark_freed(log_, (int32_t)(0xcc100000u + (unsigned)k)), 1);
    ck_assert_uint_eq(rl_count(log_), 4 + DEPTH);
    ck_assert_uint_eq(rl_mark_freed(log_, prev), 1);
    ck_assert_uint_eq(rl_count(log_), 0);
}
END_TEST

START_TEST(multiple_outputs)
{
    int32_t out[2] = {(int32_t)0xc4000020, (int32_t)0xc8000020};
    uint64_t seq;
    ck_assert_int_eq(rl_append(log_, RL_COMM_CREATE_GROUP, out, 2, NULL, 0, NULL, 0, &seq), 0);
    ck_assert_uint_eq(rl_mark_freed(log_, out[0]), 1);
    ck_assert(present(seq));
    ck_assert(!(rl_find(log_, seq)->flags & RL_REC_FREED));
    ck_assert_uint_eq(rl_mark_freed(log_, out[1]), 1);
    ck_assert(present(seq)); /* a collective constructor's record stays */
    ck_assert(rl_find(log_, seq)->flags & RL_REC_FREED);
}
END_TEST

/* A log with a bit of everything, for the serialisation tests. */
static void build_mixed(void)
{
    int32_t w = WORLD, A = (int32_t)0xc4000010, B = (int32_t)0xc4000011, T = (int32_t)0xcc000001;
    int counts[64];
    for (int i = 0; i < 64; i++)
        counts[i] = i * 7;
    app(RL_COMM_DUP, A, &w, 1, NULL, 0);
    app(RL_CART_CREATE, B, &A, 1, counts, sizeof counts);
    int32_t i = T_INT;
    app(RL_TYPE_CONTIGUOUS, T, &i, 1, "\x04\0\0\0", 4);
    app(RL_TYPE_COMMIT, T, NULL, 0, NULL, 0);
    int32_t d[3] = {T, T_INT, B};
    app(RL_TYPE_CREATE_STRUCT, (int32_t)0xcc000002, d, 3, counts, 40);
    app(RL_OP_CREATE, (int32_t)0xd8000001, NULL, 0, "fnptr", 5);
    rl_mark_freed(log_, A); /* kept, flagged */
    rl_mark_freed(log_, T); /* kept, flagged */
}

static void expect_same(const struct rl_log *a, const struct rl_log *b)
{
    ck_assert_uint_eq(rl_count(a), rl_count(b));
    size_t ca = 0, cb = 0;
    const struct rl_record *ra, *rb;
    while ((ra = rl_iter_next(a, &ca))) {
        rb = rl_iter_next(b, &cb);
        ck_assert_ptr_nonnull(rb);
        ck_assert_uint_eq(ra->seq, rb->seq);
        ck_assert_uint_eq(ra->op, rb->op);
        ck_assert_uint_eq(ra->n_out, rb->n_out);
        ck_assert_uint_eq(ra->out_freed, rb->out_freed);
        ck_assert_uint_eq(ra->flags, rb->flags);
        ck_assert_int_eq(memcmp(ra->out, rb->out, ra->n_out * sizeof ra->out[0]), 0);
        ck_assert_uint_eq(ra->n_dep, rb->n_dep);
        ck_assert_int_eq(memcmp(ra->dep, rb->dep, ra->n_dep * sizeof ra->dep[0]), 0);
        ck_assert_uint_eq(ra->blob_len, rb->blob_len);
        ck_assert_int_eq(memcmp(ra->blob, rb->blob, ra->blob_len), 0);
        ck_assert_uint_eq(rl_dependants(ra), rl_dependants(rb));
        const uint64_t *la, *lb;
        size_t na = rl_links(a, ra, &la), nb = rl_links(b, rb, &lb);
        ck_assert_uint_eq(na, nb);
        ck_assert_int_eq(memcmp(la, lb, na * sizeof *la), 0);
    }
    ck_assert_ptr_null(rl_iter_next(b, &cb));
}

START_TEST(round_trip)
{
    build_mixed();
    ck_assert_uint_eq(rl_count(log_), 6);
    uint8_t *buf;
    size_t len;
    ck_assert_int_eq(rl_serialize(log_, &buf, &len), 0);
    char err[256] = "";
    struct rl_log *back = rl_deserialize(buf, len, err, sizeof err);
    ck_assert_msg(back != NULL, "%s", err);
    expect_same(log_, back);
    /* the copy keeps working: new seqs continue, pruning works */
    uint64_t seq;
    int32_t o = (int32_t)0xc4000099;
    ck_assert_int_eq(rl_append(back, RL_COMM_DUP, &o, 1, NULL, 0, NULL, 0, &seq), 0);
    ck_assert_uint_eq(seq, 7);
    ck_assert_uint_eq(rl_mark_freed(back, (int32_t)0xcc000002), 1);
    ck_assert_uint_eq(rl_count(back), 4); /* struct, T's two records pruned */
    ck_assert_uint_eq(rl_mark_freed(back, (int32_t)0xc4000011), 1);
    ck_assert_uint_eq(rl_count(back), 4); /* communicators' records stay, flagged freed */
    /* serialise again: byte-identical for the original */
    uint8_t *buf2;
    size_t len2;
    struct rl_log *again = rl_deserialize(buf, len, err, sizeof err);
    ck_assert_ptr_nonnull(again);
    ck_assert_int_eq(rl_serialize(again, &buf2, &len2), 0);
    ck_assert_uint_eq(len, len2);
    ck_assert_int_eq(memcmp(buf, buf2, len), 0);
    free(buf2);
    rl_destroy(again);
    rl_destroy(back);
    free(buf);
    /* empty log */
    struct rl_log *e = rl_create();
    ck_assert_int_eq(rl_serialize(e, &buf, &len), 0);
    back = rl_deserialize(buf, len, err, sizeof err);
    ck_assert_ptr_nonnull(back);
    ck_assert_uint_eq(rl_count(back), 0);
    rl_destroy(back);
    rl_destroy(e);
    free(buf);
}
END_TEST

START_TEST(truncated_rejected)
{
    build_mixed();
    uint8_t *buf;
    size_t len;
    ck_assert_int_eq(rl_serialize(log_, &buf, &len), 0);
    for (size_t cut = 0; cut < len; cut++) {
        /* copy into an exact-size allocation so ASan sees any over-read */
        uint8_t *t = malloc(cut ? cut : 1);
        memcpy(t, buf, cut);
        char err[256] = "";
        struct rl_log *l = rl_deserialize(t, cut, err, sizeof err);
        REQUIRE(l == NULL, "cut at %zu accepted", cut);
        REQUIRE(err[0] != '\0', "no message at cut %zu", cut);
        free(t);
    }
    /* extra bytes rejected too */
    uint8_t *t = malloc(len + 1);
    memcpy(t, buf, len);
    t[len] = 0;
    ck_assert_ptr_null(rl_deserialize(t, len + 1, NULL, 0));
    free(t);
    ck_assert_ptr_null(rl_deserialize(NULL, 0, NULL, 0));
    free(buf);
}
END_TEST

START_TEST(bit_flips_rejected)
{
    build_mixed();
    uint8_t *buf;
    size_t len;
    ck_assert_int_eq(rl_serialize(log_, &buf, &len), 0);
    uint8_t *t = malloc(len);
    for (size_t bit = 0; bit < len * 8; bit++) {
        memcpy(t, buf, len);
        t[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        char err[256] = "";
        struct rl_log *l = rl_deserialize(t, len, err, sizeof err);
        REQUIRE(l == NULL, "flip of bit %zu accepted", bit);
        REQUIRE(err[0] != '\0', "no message for bit %zu", bit);
    }
    free(t);
    free(buf);
}
END_TEST

/* Corruption that keeps a valid CRC exercises the structural checks: the
 * parse may accept (the change was to a blob or a vid) or reject, but must
 * never crash, and what it accepts must serialise back to the same bytes. */
static void recrc(uint8_t *t, size_t len)
{
    uint32_t c = rl_crc32(t, len - 4);
    for (int i = 0; i < 4; i++)
        t[len - 4 + (size_t)i] = (uint8_t)(c >> (8 * i));
}

START_TEST(structural_corruption_with_valid_crc)
{
    build_mixed();
    uint8_t *buf;
    size_t len;
    ck_assert_int_eq(rl_serialize(log_, &buf, &len), 0);
    uint8_t *t = malloc(len);
    int accepted = 0, rejected = 0;
    for (size_t bit = 0; bit < (len - 4) * 8; bit++) {
        memcpy(t, buf, len);
        t[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        recrc(t, len);
        char err[256] = "";
        struct rl_log *l = rl_deserialize(t, len, err, sizeof err);
        if (l) {
            accepted++;
            uint8_t *b2;
            size_t l2;
            REQUIRE(rl_serialize(l, &b2, &l2) == 0, "reserialise");
            REQUIRE(l2 == len && memcmp(b2, t, len) == 0, "accepted bit %zu does not round trip", bit);
            free(b2);
            rl_destroy(l);
        } else {
            rejected++;
            REQUIRE(err[0] != '\0', "no message for bit %zu", bit);
        }
    }
    /* bytes set to extreme values, one field at a time */
    static const uint8_t vals[] = {0x00, 0xff, 0x7f, 0x80};
    for (size_t pos = 0; pos + 4 < len; pos++)
        for (size_t v = 0; v < sizeof vals; v++) {
            memcpy(t, buf, len);
            t[pos] = vals[v];
            recrc(t, len);
            struct rl_log *l = rl_deserialize(t, len, NULL, 0);
            rl_destroy(l);
        }
    /* truncated with a recomputed CRC over the shorter buffer */
    for (size_t cut = 4; cut < len; cut++) {
        uint8_t *s = malloc(cut);
        memcpy(s, buf, cut - 4);
        recrc(s, cut);
        char err[256] = "";
        REQUIRE(rl_deserialize(s, cut, err, sizeof err) == NULL, "re-checksummed cut %zu accepted", cut);
        free(s);
    }
    ck_assert_int_gt(rejected, 0);
    ck_assert_int_gt(accepted, 0);
    free(t);
    free(buf);
}
END_TEST

/* Random appends and frees against a reference: after every free, the
 * records present are exactly those reachable, through links, from a
 * record with an unfreed output. */
START_TEST(random_pruning_model)
{
    enum { OPS = 3000, NOBJ = 200 };
    static int32_t obj_live[NOBJ]; /* 1 when object i is live */
    memset(obj_live, 0, sizeof obj_live);
    srand(777);
    for (int op = 0; op < OPS; op++) {
        int i = rand() % NOBJ;
        int32_t vid = (int32_t)(0xcc000000u + (unsigned)i);
        if (!obj_live[i]) {
            int32_t deps[3];
            unsigned nd = 0;
            for (int k = 0; k < 3; k++) {
                int j = rand() % NOBJ;
                if (obj_live[j])
                    deps[nd++] = (int32_t)(0xcc000000u + (unsigned)j);
            }
            app(RL_TYPE_CREATE_STRUCT, vid, deps, nd, NULL, 0);
            if (rand() % 2)
                app(RL_TYPE_COMMIT, vid, NULL, 0, NULL, 0);
            obj_live[i] = 1;
        } else if (rand() % 3 == 0) {
            REQUIRE(rl_mark_freed(log_, vid) >= 1, "free");
            obj_live[i] = 0;
        }
        /* check: a record present has an unfreed output or a dependant; no
         * record with a live output is missing (count of live objects'
         * records >= live objects) */
        size_t cur = 0;
        const struct rl_record *r;
        size_t unfreed = 0;
        while ((r = rl_iter_next(log_, &cur))) {
            REQUIRE(!(r->flags & RL_REC_FREED) || rl_dependants(r) > 0, "prunable record %llu kept",
                    (unsigned long long)r->seq);
            if (!(r->flags & RL_REC_FREED)) {
                unfreed++;
                REQUIRE(obj_live[(uint32_t)r->out[0] - 0xcc000000u], "unfreed record for a freed object");
            }
        }
        size_t nlive = 0;
        for (int k = 0; k < NOBJ; k++)
            nlive += (size_t)obj_live[k];
        REQUIRE(unfreed >= nlive, "records missing");
        if (op % 500 == 0) {
            uint8_t *b;
            size_t l;
            REQUIRE(rl_serialize(log_, &b, &l) == 0, "ser");
            char err[256];
            struct rl_log *x = rl_deserialize(b, l, err, sizeof err);
            REQUIRE(x != NULL, "round trip: %s", err);
            rl_destroy(x);
            free(b);
        }
    }
    for (int k = 0; k < NOBJ; k++)
        if (obj_live[k])
            rl_mark_freed(log_, (int32_t)(0xcc000000u + (unsigned)k));
    ck_assert_uint_eq(rl_count(log_), 0);
}
END_TEST

/* Ids come back in loops (virtual ids are reused): a record depending on
 * an id links to exactly the records of its present object, never to
 * those of an earlier object with the same id, also a freed
 * communicator's record, which stays. */
START_TEST(reused_ids_link_to_their_present_object)
{
    const int32_t T = (int32_t)0xcc000010, D = (int32_t)0xcc000011, C = (int32_t)0xc4000010;
    int32_t w = WORLD;
    for (int it = 0; it < 20000; it++) {
        uint64_t made = app(RL_TYPE_CONTIGUOUS, T, NULL, 0, NULL, 0);
        uint64_t commit = app(RL_TYPE_COMMIT, T, NULL, 0, NULL, 0);
        uint64_t dup = app(RL_COMM_DUP, C, &w, 1, NULL, 0);
        int32_t deps[3] = {T, C, T};
        uint64_t d = app(RL_TYPE_DUP, D, deps, 3, NULL, 0);
        const uint64_t *links;
        REQUIRE(rl_links(log_, rl_find(log_, d), &links) == 3, "iteration %d: %zu links", it,
                rl_links(log_, rl_find(log_, d), &links));
        REQUIRE(links[0] == made && links[1] == commit && links[2] == dup, "iteration %d: links to other objects",
                it);
        REQUIRE(rl_mark_freed(log_, T) == 2, "iteration %d: the type's two records", it);
        REQUIRE(rl_mark_freed(log_, D) == 1 && rl_mark_freed(log_, C) == 1, "iteration %d: free", it);
        REQUIRE(!present(made) && !present(commit) && !present(d), "iteration %d: freed type records kept", it);
        REQUIRE(present(dup), "iteration %d: a freed dup's record must stay", it);
    }
    ck_assert_uint_eq(rl_count(log_), 20000); /* the dups */
}
END_TEST

/* A parsed log binds new records and frees as the one it came from. */
START_TEST(parsed_log_binds_like_the_original)
{
    const int32_t T = (int32_t)0xcc000010, U = (int32_t)0xcc000012;
    uint64_t made = app(RL_TYPE_VECTOR, T, NULL, 0, NULL, 0);
    uint64_t commit = app(RL_TYPE_COMMIT, T, NULL, 0, NULL, 0);
    app(RL_TYPE_CONTIGUOUS, U, NULL, 0, NULL, 0);
    REQUIRE(rl_mark_freed(log_, U) == 1, "free U");
    uint8_t *buf;
    size_t len;
    ck_assert_int_eq(rl_serialize(log_, &buf, &len), 0);
    char err[256];
    struct rl_log *x = rl_deserialize(buf, len, err, sizeof err);
    free(buf);
    REQUIRE(x != NULL, "parse: %s", err);
    int32_t out = (int32_t)0xcc000013;
    uint64_t seq;
    ck_assert_int_eq(rl_append(x, RL_TYPE_DUP, &out, 1, &T, 1, NULL, 0, &seq), 0);
    const uint64_t *links;
    ck_assert_uint_eq(rl_links(x, rl_find(x, seq), &links), 2);
    ck_assert_uint_eq(links[0], made);
    ck_assert_uint_eq(links[1], commit);
    ck_assert_uint_eq(rl_mark_freed(x, U), 0);
    ck_assert_uint_eq(rl_mark_freed(x, T), 2);
    ck_assert_uint_eq(rl_mark_freed(x, out), 1);
    ck_assert_uint_eq(rl_count(x), 0);
    rl_destroy(x);
}
END_TEST

static Suite *record_log_suite(void)
{
    Suite *s = suite_create("record_log");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, append_and_iterate_in_order);
    tcase_add_test(tc, free_leaf_prunes);
    tcase_add_test(tc, collective_comm_records_stay);
    tcase_add_test(tc, free_with_live_dependant_then_dependant);
    tcase_add_test(tc, chain_and_mutators);
    tcase_add_test(tc, multiple_outputs);
    tcase_add_test(tc, round_trip);
    tcase_add_test(tc, truncated_rejected);
    tcase_add_test(tc, bit_flips_rejected);
    tcase_add_test(tc, structural_corruption_with_valid_crc);
    tcase_add_test(tc, random_pruning_model);
    tcase_add_test(tc, reused_ids_link_to_their_present_object);
    tcase_add_test(tc, parsed_log_binds_like_the_original);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(record_log_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

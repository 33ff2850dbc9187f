/* SPDX-License-Identifier: LGPL-2.1-only */
/*
 * The migration slot manager (libxlmig/slots.c, docs/specs/pool-state.md):
 * explicit cases (60 requests through 3 slots in FIFO order, refusal
 * without wait, cancel, owner death, live limit changes, duplicate ids,
 * the priority lane and its starvation rule, the entry cap, grants cut
 * short by a small output array), then a randomized test that runs
 * thousands of random operations against a reference model written
 * separately here, and checks the rules on every grant by themselves.
 * XLMIG_TEST_SEED=N runs the randomized test from seed N only.
 */
#include <stdint.h>
#include <stdlib.h>

#include "internal.h"
#include "slots.h"
#include "testutil.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define GMAX XLMIG__SLOTS_GRANT_MAX

static struct xlmig__slots *new_slots(unsigned limit)
{
    struct xlmig__slots *s = NULL;

    assert_int_equal(xlmig__slots_new(limit, &s), 0);
    assert_non_null(s);
    return s;
}

static void assert_stats(const struct xlmig__slots *s, unsigned held,
                         unsigned queued, unsigned limit)
{
    unsigned h = 99, q = 99, l = 99;

    xlmig__slots_stats(s, &h, &q, &l);
    assert_int_equal(h, held);
    assert_int_equal(q, queued);
    assert_int_equal(l, limit);
}

static int request(struct xlmig__slots *s, uint64_t task, uint64_t owner,
                   bool priority, bool wait, unsigned *pos)
{
    unsigned p = 12345;
    int rc = xlmig__slots_request(s, task, owner, priority, wait, &p);

    if (pos)
        *pos = p;
    return rc;
}

/* Release @task, which must be known; the granted ids to @g. */
static size_t release(struct xlmig__slots *s, uint64_t task, uint64_t *g)
{
    bool known = false;
    size_t n = xlmig__slots_release(s, task, g, GMAX, &known);

    assert_true(known);
    return n;
}

/*
 * The list must be the holders @held (grant order) then the waiters
 * @queued (serving order), each with its position.
 */
static void assert_list(const struct xlmig__slots *s, const uint64_t *held,
                        size_t nr_held, const uint64_t *queued,
                        size_t nr_queued)
{
    struct xlmig__slot_info info[128], one;
    size_t n, i;

    n = xlmig__slots_list(s, info, ARRAY_LEN(info));
    assert_int_equal(n, nr_held + nr_queued);
    assert_true(n <= ARRAY_LEN(info));
    for (i = 0; i < nr_held; i++) {
        assert_int_equal(info[i].task, held[i]);
        assert_true(info[i].held);
        assert_int_equal(info[i].position, 0);
    }
    for (i = 0; i < nr_queued; i++) {
        assert_int_equal(info[nr_held + i].task, queued[i]);
        assert_false(info[nr_held + i].held);
        assert_int_equal(info[nr_held + i].position, i + 1);
        assert_int_equal(xlmig__slots_find(s, queued[i], &one), 0);
        assert_int_equal(one.position, i + 1);
        assert_false(one.held);
    }
}

/* ------------------------------------------------------------ explicit */

static void test_new_free(void **state)
{
    struct xlmig__slots *s = (void *)1;
    size_t n = 7;

    (void)state;
    assert_int_equal(xlmig__slots_new(0, &s), LIBXLMIG_ERR_INVALID_ARGUMENT);
    assert_int_equal(xlmig__slots_new(51, &s),
                     LIBXLMIG_ERR_INVALID_ARGUMENT);
    assert_int_equal(xlmig__slots_new(3, NULL),
                     LIBXLMIG_ERR_INVALID_ARGUMENT);
    assert_ptr_equal(s, (void *)1);
    xlmig__slots_free(NULL);

    s = new_slots(XLMIG__SLOTS_LIMIT_DEFAULT);
    assert_stats(s, 0, 0, 3);
    assert_int_equal(xlmig__slots_list(s, NULL, 0), 0);
    assert_int_equal(xlmig__slots_find(s, 1, NULL), LIBXLMIG_ERR_NOT_FOUND);
    /* Limits out of range change nothing. */
    assert_int_equal(xlmig__slots_set_limit(s, 0, NULL, 0, &n),
                     LIBXLMIG_ERR_INVALID_ARGUMENT);
    assert_int_equal(xlmig__slots_set_limit(s, 51, NULL, 0, &n),
                     LIBXLMIG_ERR_INVALID_ARGUMENT);
    assert_int_equal(n, 7);
    assert_stats(s, 0, 0, 3);
    assert_int_equal(xlmig__slots_set_limit(s, 50, NULL, 0, &n), 0);
    assert_int_equal(n, 0);
    assert_int_equal(xlmig__slots_set_limit(s, 1, NULL, 0, NULL), 0);
    assert_stats(s, 0, 0, 1);
    xlmig__slots_free(s);

    /* NULL manager. */
    assert_int_equal(xlmig__slots_request(NULL, 1, 1, false, true, NULL),
                     LIBXLMIG_ERR_INVALID_ARGUMENT);
    assert_int_equal(xlmig__slots_release(NULL, 1, NULL, 0, NULL), 0);
    assert_int_equal(xlmig__slots_release_owner(NULL, 1, NULL, 0, NULL), 0);
    assert_int_equal(xlmig__slots_grant_free(NULL, NULL, 0), 0);
    assert_int_equal(xlmig__slots_list(NULL, NULL, 0), 0);
    xlmig__slots_stats(NULL, NULL, NULL, NULL);
}

/* Limit 3, 60 requests: granted in FIFO order as slots free. */
static void test_sixty_fifo(void **state)
{
    struct xlmig__slots *s = new_slots(3);
    uint64_t g[GMAX], next = 1, first_waiting = 4;
    struct xlmig__slot_info info;
    unsigned pos;
    uint64_t t;

    (void)state;
    for (t = 1; t <= 60; t++) {
        int rc = request(s, 1000 + t, t % 7, false, true, &pos);

        if (t <= 3) {
            assert_int_equal(rc, XLMIG__SLOT_GRANTED);
            assert_int_equal(pos, 0);
        } else {
            assert_int_equal(rc, XLMIG__SLOT_QUEUED);
            assert_int_equal(pos, t - 3);
        }
    }
    assert_stats(s, 3, 57, 3);
    /* Release the holders oldest first: each lets in the next in line. */
    for (;;) {
        size_t n = release(s, 1000 + next, g);

        next++;
        if (first_waiting <= 60) {
            assert_int_equal(n, 1);
            assert_int_equal(g[0], 1000 + first_waiting);
            assert_int_equal(xlmig__slots_find(s, 1000 + first_waiting,
                                               &info), 0);
            assert_true(info.held);
            first_waiting++;
            /* The one next in line moved up to position 1. */
            if (first_waiting <= 60) {
                assert_int_equal(xlmig__slots_find(s, 1000 + first_waiting,
                                                   &info), 0);
                assert_int_equal(info.position, 1);
            }
        } else {
            assert_int_equal(n, 0);
        }
        if (next > 60)
            break;
    }
    assert_stats(s, 0, 0, 3);
    xlmig__slots_free(s);
}

/* Without wait: refused when full, nothing queued. */
static void test_no_wait(void **state)
{
    struct xlmig__slots *s = new_slots(2);
    const uint64_t held[] = { 1, 2 }, queued[] = { 3 };
    uint64_t g[GMAX];
    unsigned pos;

    (void)state;
    assert_int_equal(request(s, 1, 1, false, false, &pos),
                     XLMIG__SLOT_GRANTED);
    assert_int_equal(request(s, 2, 1, true, false, &pos),
                     XLMIG__SLOT_GRANTED);
    assert_int_equal(request(s, 3, 1, false, false, &pos),
                     LIBXLMIG_ERR_TOO_MANY_MIGRATIONS);
    assert_int_equal(request(s, 3, 1, true, false, &pos),
                     LIBXLMIG_ERR_TOO_MANY_MIGRATIONS);
    assert_stats(s, 2, 0, 2);
    assert_int_equal(xlmig__slots_find(s, 3, NULL), LIBXLMIG_ERR_NOT_FOUND);
    assert_list(s, held, 2, NULL, 0);
    /* A refused id is not known: it may ask again, waiting this time. */
    assert_int_equal(request(s, 3, 1, false, true, &pos),
                     XLMIG__SLOT_QUEUED);
    assert_int_equal(pos, 1);
    assert_list(s, held, 2, queued, 1);
    /* A slot frees but someone waits: still refused without wait. */
    assert_int_equal(xlmig__slots_release(s, 1, NULL, 0, NULL), 0);
    assert_stats(s, 1, 1, 2);
    assert_int_equal(request(s, 4, 1, false, false, &pos),
                     LIBXLMIG_ERR_TOO_MANY_MIGRATIONS);
    assert_int_equal(xlmig__slots_grant_free(s, g, GMAX), 1);
    assert_int_equal(g[0], 3);
    assert_stats(s, 2, 0, 2);
    xlmig__slots_free(s);
}

static void test_cancel(void **state)
{
    struct xlmig__slots *s = new_slots(1);
    const uint64_t held[] = { 1 }, q1[] = { 2, 3, 4, 5 }, q2[] = { 2, 4, 5 },
                   q3[] = { 4 };
    uint64_t g[GMAX];
    bool known = true;
    uint64_t t;

    (void)state;
    for (t = 1; t <= 5; t++)
        assert_true(request(s, t, 9, false, true, NULL) >= 0);
    assert_list(s, held, 1, q1, 4);
    /* Cancel of a waiter grants nothing; the others move up. */
    assert_int_equal(release(s, 3, g), 0);
    assert_list(s, held, 1, q2, 3);
    assert_int_equal(release(s, 5, g), 0);
    assert_int_equal(release(s, 2, g), 0);
    assert_list(s, held, 1, q3, 1);
    /* Unknown or already cancelled: harmless, and said so. */
    assert_int_equal(xlmig__slots_release(s, 3, g, GMAX, &known), 0);
    assert_false(known);
    assert_int_equal(xlmig__slots_release(s, 77, g, GMAX, NULL), 0);
    assert_list(s, held, 1, q3, 1);
    assert_int_equal(release(s, 1, g), 1);
    assert_int_equal(g[0], 4);
    assert_int_equal(release(s, 4, g), 0);
    assert_stats(s, 0, 0, 1);
    xlmig__slots_free(s);
}

/* The holder dies: its slots and queue entries go, the next get in. */
static void test_owner_death(void **state)
{
    struct xlmig__slots *s = new_slots(3);
    const uint64_t held[] = { 2, 5, 4 }, queued[] = { 6, 8 };
    uint64_t g[GMAX];
    size_t released = 99;

    (void)state;
    /* Owner 7 holds 1 and 3 and waits with 7 and 9. */
    assert_int_equal(request(s, 1, 7, false, true, NULL), 0);
    assert_int_equal(request(s, 2, 8, false, true, NULL), 0);
    assert_int_equal(request(s, 3, 7, false, true, NULL), 0);
    assert_int_equal(request(s, 4, 8, false, true, NULL), 1);
    assert_int_equal(request(s, 7, 7, false, true, NULL), 1);
    assert_int_equal(request(s, 5, 8, true, true, NULL), 1);
    assert_int_equal(request(s, 9, 7, true, true, NULL), 1);
    assert_int_equal(request(s, 6, 9, false, true, NULL), 1);
    assert_int_equal(request(s, 8, 9, false, true, NULL), 1);
    assert_stats(s, 3, 6, 3);
    /* 7's waiters (7 and the priority 9) are gone before anyone is
     * granted: the two slots go to 5 (priority) then 4. */
    assert_int_equal(xlmig__slots_release_owner(s, 7, g, GMAX, &released),
                     2);
    assert_int_equal(released, 4);
    assert_int_equal(g[0], 5);
    assert_int_equal(g[1], 4);
    assert_list(s, held, 3, queued, 2);
    /* An owner with nothing: nothing happens. */
    assert_int_equal(xlmig__slots_release_owner(s, 7, g, GMAX, &released),
                     0);
    assert_int_equal(released, 0);
    /* Owner 9 only waits: its entries go, nobody is granted. */
    assert_int_equal(xlmig__slots_release_owner(s, 9, g, GMAX, &released),
                     0);
    assert_int_equal(released, 2);
    assert_list(s, held, 3, NULL, 0);
    assert_int_equal(xlmig__slots_release_owner(s, 8, g, GMAX, &released),
                     0);
    assert_int_equal(released, 3);
    assert_stats(s, 0, 0, 3);
    xlmig__slots_free(s);
}

static void test_limit_live(void **state)
{
    struct xlmig__slots *s = new_slots(2);
    const uint64_t h5[] = { 1, 2, 3, 4, 5 }, q5[] = { 6, 7, 8, 9, 10 },
                   h3[] = { 4, 5, 6 }, q3[] = { 7, 8, 9, 10 };
    uint64_t g[GMAX], t;
    size_t n = 0;

    (void)state;
    for (t = 1; t <= 10; t++)
        assert_true(request(s, t, 1, false, true, NULL) >= 0);
    assert_stats(s, 2, 8, 2);
    /* Raise: waiters are granted at once, in order. */
    assert_int_equal(xlmig__slots_set_limit(s, 5, g, GMAX, &n), 0);
    assert_int_equal(n, 3);
    assert_int_equal(g[0], 3);
    assert_int_equal(g[1], 4);
    assert_int_equal(g[2], 5);
    assert_list(s, h5, 5, q5, 5);
    /* Lower: nobody loses a slot. */
    assert_int_equal(xlmig__slots_set_limit(s, 2, g, GMAX, &n), 0);
    assert_int_equal(n, 0);
    assert_stats(s, 5, 5, 2);
    assert_list(s, h5, 5, q5, 5);
    /* Nothing is granted until fewer than 2 hold slots... */
    assert_int_equal(release(s, 1, g), 0);
    assert_int_equal(release(s, 2, g), 0);
    assert_int_equal(release(s, 3, g), 0);
    assert_stats(s, 2, 5, 2);
    assert_int_equal(request(s, 11, 1, false, false, NULL),
                     LIBXLMIG_ERR_TOO_MANY_MIGRATIONS);
    /* ...and then one at a time. */
    assert_int_equal(xlmig__slots_set_limit(s, 3, g, GMAX, &n), 0);
    assert_int_equal(n, 1);
    assert_int_equal(g[0], 6);
    assert_list(s, h3, 3, q3, 4);
    /* Raise to the most: everybody in. */
    assert_int_equal(xlmig__slots_set_limit(s, 50, g, GMAX, &n), 0);
    assert_int_equal(n, 4);
    assert_int_equal(g[3], 10);
    assert_stats(s, 7, 0, 50);
    for (t = 4; t <= 10; t++)
        assert_int_equal(release(s, t, g), 0);
    assert_stats(s, 0, 0, 50);
    xlmig__slots_free(s);
}

static void test_duplicate(void **state)
{
    struct xlmig__slots *s = new_slots(1);
    const uint64_t held[] = { 10 }, queued[] = { 20, 30 };
    unsigned pos = 77;

    (void)state;
    assert_int_equal(request(s, 10, 1, false, true, NULL), 0);
    assert_int_equal(request(s, 20, 1, false, true, NULL), 1);
    assert_int_equal(request(s, 30, 2, true, true, NULL), 1);
    /* The priority request 30 goes before 20. */
    {
        const uint64_t order[] = { 30, 20 };

        assert_list(s, held, 1, order, 2);
    }
    pos = 77;
    assert_int_equal(xlmig__slots_request(s, 10, 1, false, true, &pos),
                     LIBXLMIG_ERR_INVALID_ARGUMENT);
    assert_int_equal(xlmig__slots_request(s, 20, 2, true, true, &pos),
                     LIBXLMIG_ERR_INVALID_ARGUMENT);
    assert_int_equal(xlmig__slots_request(s, 30, 2, false, false, &pos),
                     LIBXLMIG_ERR_INVALID_ARGUMENT);
    assert_int_equal(pos, 77);
    assert_stats(s, 1, 2, 1);
    (void)queued;
    xlmig__slots_free(s);
}

/* Priority first; after 4 priority grants a waiting normal one. */
static void test_priority_starvation(void **state)
{
    struct xlmig__slots *s = new_slots(1);
    /* P1..P10 are 101..110, N1..N3 are 201..203. */
    const uint64_t order[] = { 101, 102, 103, 104, 201, 105, 106, 107, 108,
                               202, 109, 110, 203 };
    const uint64_t held[] = { 1 };
    struct xlmig__slot_info info[32];
    uint64_t g[GMAX], t;
    unsigned pos;
    size_t i, n;

    (void)state;
    assert_int_equal(request(s, 1, 1, false, true, NULL), 0);
    for (t = 201; t <= 203; t++)
        assert_int_equal(request(s, t, 2, false, true, NULL), 1);
    for (t = 101; t <= 110; t++) {
        assert_int_equal(request(s, t, 3, true, true, &pos), 1);
        /* Each new priority request: after the earlier priority ones,
         * and after N1 once four of them are ahead of it. */
        assert_int_equal(pos, t - 100 + (t >= 105) + (t >= 109));
    }
    assert_list(s, held, 1, order, ARRAY_LEN(order));
    n = xlmig__slots_list(s, info, ARRAY_LEN(info));
    assert_int_equal(n, 14);
    assert_true(info[1].priority);
    assert_false(info[5].priority);
    /* Served in that order. */
    assert_int_equal(release(s, 1, g), 1);
    assert_int_equal(g[0], order[0]);
    for (i = 1; i < ARRAY_LEN(order); i++) {
        assert_int_equal(release(s, order[i - 1], g), 1);
        assert_int_equal(g[0], order[i]);
    }
    assert_int_equal(release(s, order[i - 1], g), 0);
    assert_stats(s, 0, 0, 1);

    /*
     * Priority grants while no normal request waits do not count: a
     * normal request that comes after them waits for up to 4 more.
     */
    assert_int_equal(request(s, 1, 1, false, true, NULL), 0);
    for (t = 101; t <= 106; t++)
        assert_int_equal(request(s, t, 3, true, true, NULL), 1);
    assert_int_equal(release(s, 1, g), 1);       /* 101 */
    assert_int_equal(release(s, 101, g), 1);     /* 102 */
    assert_int_equal(request(s, 201, 2, false, true, &pos), 1);
    assert_int_equal(pos, 5);                    /* after 103..106 */
    /* A cancel that empties the normal lane restarts the count. */
    assert_int_equal(release(s, 102, g), 1);     /* 103, streak 1 */
    assert_int_equal(release(s, 201, g), 0);
    assert_int_equal(request(s, 202, 2, false, true, &pos), 1);
    assert_int_equal(pos, 4);                    /* after 104..106 */
    /* 104..107 are the 4 priority grants 202 waits for, at most. */
    assert_int_equal(request(s, 107, 3, true, true, &pos), 1);
    assert_int_equal(pos, 4);
    assert_int_equal(xlmig__slots_find(s, 202, &info[0]), 0);
    assert_int_equal(info[0].position, 5);
    assert_int_equal(xlmig__slots_release_owner(s, 3, g, GMAX, NULL), 1);
    assert_int_equal(g[0], 202);
    assert_int_equal(release(s, 202, g), 0);
    assert_stats(s, 0, 0, 1);
    xlmig__slots_free(s);
}

/* Priority never goes beyond the limit. */
static void test_priority_limit(void **state)
{
    struct xlmig__slots *s = new_slots(2);
    unsigned pos;

    (void)state;
    assert_int_equal(request(s, 1, 1, false, true, NULL), 0);
    assert_int_equal(request(s, 2, 1, false, true, NULL), 0);
    assert_int_equal(request(s, 3, 1, true, true, &pos), 1);
    assert_int_equal(pos, 1);
    assert_int_equal(request(s, 4, 1, true, false, &pos),
                     LIBXLMIG_ERR_TOO_MANY_MIGRATIONS);
    assert_stats(s, 2, 1, 2);
    xlmig__slots_free(s);
}

static void test_entry_cap(void **state)
{
    struct xlmig__slots *s = new_slots(3);
    struct xlmig__slot_info *info;
    uint64_t g[GMAX], t;
    unsigned pos = 0;
    size_t n;

    (void)state;
    for (t = 0; t < XLMIG__SLOTS_ENTRIES_MAX; t++) {
        int rc = request(s, t, t % 5, (t % 3) == 0, true, &pos);

        assert_int_equal(rc, t < 3 ? XLMIG__SLOT_GRANTED
                                   : XLMIG__SLOT_QUEUED);
    }
    assert_stats(s, 3, XLMIG__SLOTS_ENTRIES_MAX - 3, 3);
    /* The 4097th: refused, waiting or not, priority or not. */
    assert_int_equal(request(s, 999999, 1, false, true, &pos),
                     LIBXLMIG_ERR_TOO_MANY_MIGRATIONS);
    assert_int_equal(request(s, 999999, 1, true, true, &pos),
                     LIBXLMIG_ERR_TOO_MANY_MIGRATIONS);
    assert_int_equal(request(s, 999999, 1, true, false, &pos),
                     LIBXLMIG_ERR_TOO_MANY_MIGRATIONS);
    /* A known id is still a duplicate. */
    assert_int_equal(request(s, 5, 1, true, true, &pos),
                     LIBXLMIG_ERR_INVALID_ARGUMENT);
    assert_stats(s, 3, XLMIG__SLOTS_ENTRIES_MAX - 3, 3);
    assert_int_equal(xlmig__slots_find(s, 999999, NULL),
                     LIBXLMIG_ERR_NOT_FOUND);
    info = calloc(XLMIG__SLOTS_ENTRIES_MAX, sizeof(*info));
    assert_non_null(info);
    n = xlmig__slots_list(s, info, XLMIG__SLOTS_ENTRIES_MAX);
    assert_int_equal(n, XLMIG__SLOTS_ENTRIES_MAX);
    assert_int_equal(info[n - 1].position, XLMIG__SLOTS_ENTRIES_MAX - 3);
    /* A short array: the count is still the whole. */
    assert_int_equal(xlmig__slots_list(s, info, 10), n);
    free(info);
    /* Room again after a cancel. */
    assert_int_equal(release(s, 4000, g), 0);
    assert_int_equal(request(s, 999999, 1, false, true, &pos),
                     XLMIG__SLOT_QUEUED);
    assert_int_equal(pos, XLMIG__SLOTS_ENTRIES_MAX - 3);
    for (t = 0; t < 5; t++)
        xlmig__slots_release_owner(s, t, g, GMAX, NULL);
    xlmig__slots_release(s, 999999, g, GMAX, NULL);
    xlmig__slots_release(s, 999999, g, GMAX, NULL);
    assert_stats(s, 0, 0, 3);
    xlmig__slots_free(s);
}

/* A @granted array too small: the rest wait until a later call. */
static void test_grant_cut_short(void **state)
{
    struct xlmig__slots *s = new_slots(1);
    uint64_t g[GMAX], t;
    size_t n = 99;
    unsigned pos;

    (void)state;
    for (t = 1; t <= 8; t++)
        assert_true(request(s, t, 1, false, true, NULL) >= 0);
    assert_int_equal(xlmig__slots_set_limit(s, 6, g, 2, &n), 0);
    assert_int_equal(n, 2);
    assert_int_equal(g[0], 2);
    assert_int_equal(g[1], 3);
    assert_stats(s, 3, 5, 6);
    /* A newcomer does not jump those still waiting for the free slots. */
    assert_int_equal(request(s, 9, 1, true, true, &pos), XLMIG__SLOT_QUEUED);
    assert_int_equal(pos, 1);
    assert_int_equal(xlmig__slots_release(s, 1, NULL, 0, NULL), 0);
    assert_stats(s, 2, 6, 6);
    assert_int_equal(xlmig__slots_grant_free(s, g, 3), 3);
    assert_int_equal(g[0], 9);
    assert_int_equal(g[1], 4);
    assert_int_equal(g[2], 5);
    assert_int_equal(xlmig__slots_grant_free(s, g, GMAX), 1);
    assert_int_equal(g[0], 6);
    assert_stats(s, 6, 2, 6);
    assert_int_equal(xlmig__slots_grant_free(s, g, GMAX), 0);
    /* A NULL array counts as none: the release happens, nobody is
     * granted until a later call. */
    assert_int_equal(xlmig__slots_release(s, 2, NULL, GMAX, NULL), 0);
    assert_stats(s, 5, 2, 6);
    assert_int_equal(xlmig__slots_grant_free(s, NULL, GMAX), 0);
    assert_int_equal(xlmig__slots_grant_free(s, g, GMAX), 1);
    assert_int_equal(g[0], 7);
    assert_int_equal(xlmig__slots_release_owner(s, 1, g, GMAX, NULL), 0);
    assert_stats(s, 0, 0, 6);
    xlmig__slots_free(s);
}

/* ------------------------------------------------------------ model */

/*
 * The reference model: one flat array of tasks with a request sequence
 * number and, once granted, a grant sequence number.  Every choice is a
 * scan for the smallest number, the rules written out plainly.
 */
#define MODEL_MAX (XLMIG__SLOTS_ENTRIES_MAX + 8)

struct mtask {
    uint64_t task, owner;
    bool priority, held;
    uint64_t seq;           /* request order */
    uint64_t gseq;          /* grant order, when held */
};

struct model {
    struct mtask t[MODEL_MAX];
    size_t n;
    unsigned limit;
    unsigned streak;        /* priority grants in a row, normal waiting */
    uint64_t seq, gseq;
};

static size_t m_count(const struct model *m, bool held, int lane)
{
    size_t i, c = 0;

    for (i = 0; i < m->n; i++) {
        if (m->t[i].held != held)
            continue;
        if (lane >= 0 && m->t[i].priority != (lane == 0))
            continue;
        c++;
    }
    return c;
}

/* The oldest waiter of a lane (0 priority, 1 normal), or -1. */
static long m_oldest(const struct model *m, int lane)
{
    long best = -1;
    size_t i;

    for (i = 0; i < m->n; i++) {
        const struct mtask *x = &m->t[i];

        if (x->held || x->priority != (lane == 0))
            continue;
        if (best < 0 || x->seq < m->t[best].seq)
            best = (long)i;
    }
    return best;
}

/* The waiter served next (index) after @streak; -1 when nobody waits. */
static long m_next(const struct model *m, unsigned streak)
{
    long p = m_oldest(m, 0), q = m_oldest(m, 1);

    if (p >= 0 && q >= 0)
        return streak >= XLMIG__SLOTS_PRIORITY_BURST ? q : p;
    return p >= 0 ? p : q;
}

static size_t m_fill(struct model *m, uint64_t *g, size_t max)
{
    size_t n = 0;

    while (n < max && m_count(m, true, -1) < m->limit) {
        long i = m_next(m, m->streak);

        if (i < 0)
            break;
        m->t[i].held = true;
        m->t[i].gseq = ++m->gseq;
        g[n++] = m->t[i].task;
        if (!m->t[i].priority)
            m->streak = 0;
        else if (m_count(m, false, 1))
            m->streak++;
        else
            m->streak = 0;
    }
    if (!m_count(m, false, 1))
        m->streak = 0;
    return n;
}

static long m_find(const struct model *m, uint64_t task)
{
    size_t i;

    for (i = 0; i < m->n; i++) {
        if (m->t[i].task == task)
            return (long)i;
    }
    return -1;
}

static void m_remove(struct model *m, size_t i)
{
    m->t[i] = m->t[m->n - 1];
    m->n--;
}

static int m_request(struct model *m, uint64_t task, uint64_t owner,
                     bool priority, bool wait, unsigned *pos)
{
    struct mtask *x;

    if (m_find(m, task) >= 0)
        return LIBXLMIG_ERR_INVALID_ARGUMENT;
    if (m->n >= XLMIG__SLOTS_ENTRIES_MAX)
        return LIBXLMIG_ERR_TOO_MANY_MIGRATIONS;
    if (m_count(m, true, -1) < m->limit && !m_count(m, false, -1)) {
        x = &m->t[m->n++];
        *x = (struct mtask){ task, owner, priority, true, ++m->seq,
                             ++m->gseq };
        *pos = 0;
        return XLMIG__SLOT_GRANTED;
    }
    if (!wait)
        return LIBXLMIG_ERR_TOO_MANY_MIGRATIONS;
    x = &m->t[m->n++];
    *x = (struct mtask){ task, owner, priority, false, ++m->seq, 0 };
    *pos = 0;                   /* the caller compares the list */
    return XLMIG__SLOT_QUEUED;
}

static int by_seq(const void *a, const void *b)
{
    const struct mtask *x = *(const struct mtask *const *)a;
    const struct mtask *y = *(const struct mtask *const *)b;

    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static int by_gseq(const void *a, const void *b)
{
    const struct mtask *x = *(const struct mtask *const *)a;
    const struct mtask *y = *(const struct mtask *const *)b;

    return x->gseq < y->gseq ? -1 : x->gseq > y->gseq;
}

static struct xlmig__slot_info m_info(const struct mtask *x, unsigned pos)
{
    return (struct xlmig__slot_info){ x->task, x->owner, x->priority,
                                      x->held, pos };
}

/*
 * The model's list: holders sorted by grant number; waiters sorted by
 * request number in each lane, then merged by the rule.
 */
static size_t m_list(const struct model *m, struct xlmig__slot_info *out)
{
    static const struct mtask *held[MODEL_MAX], *lane[2][MODEL_MAX];
    size_t nh = 0, nl[2] = { 0, 0 }, at[2] = { 0, 0 }, n = 0, i;
    unsigned streak = m->streak, pos = 0;

    for (i = 0; i < m->n; i++) {
        const struct mtask *x = &m->t[i];

        if (x->held)
            held[nh++] = x;
        else if (x->priority)
            lane[0][nl[0]++] = x;
        else
            lane[1][nl[1]++] = x;
    }
    qsort(held, nh, sizeof(held[0]), by_gseq);
    qsort(lane[0], nl[0], sizeof(lane[0][0]), by_seq);
    qsort(lane[1], nl[1], sizeof(lane[1][0]), by_seq);
    for (i = 0; i < nh; i++)
        out[n++] = m_info(held[i], 0);
    while (at[0] < nl[0] || at[1] < nl[1]) {
        int l;

        if (at[0] < nl[0] &&
            (at[1] == nl[1] || streak < XLMIG__SLOTS_PRIORITY_BURST))
            l = 0;
        else
            l = 1;
        out[n++] = m_info(lane[l][at[l]++], ++pos);
        if (l == 1 || at[1] == nl[1])
            streak = 0;
        else
            streak++;
    }
    return n;
}

/* Copy a model: only the tasks in use. */
static void m_copy(struct model *dst, const struct model *src)
{
    memcpy(dst->t, src->t, sizeof(src->t[0]) * src->n);
    dst->n = src->n;
    dst->limit = src->limit;
    dst->streak = src->streak;
    dst->seq = src->seq;
    dst->gseq = src->gseq;
}

static uint64_t rng_state;

static uint64_t rnd(void)
{
    /* xorshift64* */
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 2685821657736338717ull;
}

static unsigned rnd_below(unsigned n)
{
    return (unsigned)(rnd() % n);
}

/*
 * The rules checked on their own, from the grants of one call: never a
 * grant beyond the limit; within a lane, the oldest waiter first; a
 * normal waiter only when no priority one waits or after the burst;
 * never more than the burst of priority grants while normal ones wait.
 * @before is the model once the call released what it releases, before
 * it grants; @limit the limit after the call.
 */
static void check_grants(const struct model *before, unsigned limit,
                         const uint64_t *g, size_t n, unsigned *run)
{
    static struct model m;
    size_t i;

    m_copy(&m, before);
    m.limit = limit;
    for (i = 0; i < n; i++) {
        long x = m_find(&m, g[i]);
        long p, q;

        assert_true(x >= 0);
        assert_false(m.t[x].held);
        assert_true(m_count(&m, true, -1) < m.limit);
        p = m_oldest(&m, 0);
        q = m_oldest(&m, 1);
        if (m.t[x].priority) {
            assert_int_equal(x, p);
            if (q >= 0) {
                (*run)++;
                assert_true(*run <= XLMIG__SLOTS_PRIORITY_BURST);
            } else {
                *run = 0;
            }
        } else {
            assert_int_equal(x, q);
            if (p >= 0)
                assert_int_equal(*run, XLMIG__SLOTS_PRIORITY_BURST);
            *run = 0;
        }
        m.t[x].held = true;
    }
}

static void compare(const struct xlmig__slots *s, const struct model *m)
{
    static struct xlmig__slot_info a[MODEL_MAX], b[MODEL_MAX];
    unsigned held, queued, limit;
    size_t na, nb, i;

    xlmig__slots_stats(s, &held, &queued, &limit);
    assert_int_equal(held, m_count(m, true, -1));
    assert_int_equal(queued, m_count(m, false, -1));
    assert_int_equal(limit, m->limit);
    /* A free slot with someone waiting never stays (grants all fit). */
    assert_true(held >= limit || queued == 0);
    na = xlmig__slots_list(s, a, MODEL_MAX);
    nb = m_list(m, b);
    assert_int_equal(na, nb);
    for (i = 0; i < na; i++) {
        if (a[i].task != b[i].task || a[i].owner != b[i].owner ||
            a[i].priority != b[i].priority || a[i].held != b[i].held ||
            a[i].position != b[i].position)
            fail_msg("entry %zu: task %llu/%llu held %d/%d position %u/%u",
                     i, (unsigned long long)a[i].task,
                     (unsigned long long)b[i].task, a[i].held, b[i].held,
                     a[i].position, b[i].position);
    }
}

static void run_random(uint64_t seed, unsigned ops)
{
    static struct model m, before;
    struct xlmig__slots *s;
    uint64_t g[GMAX], gm[GMAX], next_task = 1;
    unsigned op, run = 0, phase;
    size_t i, n, nm;

    rng_state = seed * 0x9e3779b97f4a7c15ull + 1;
    memset(&m, 0, sizeof(m));
    m.limit = 1 + rnd_below(5);
    s = new_slots(m.limit);
    for (op = 0; op < ops; op++) {
        unsigned what = rnd_below(100);
        unsigned held_before = (unsigned)m_count(&m, true, -1);

        n = 0;
        nm = 0;

        /* Phases: mixed, then growing towards the cap, then draining. */
        phase = op < ops / 4 ? 0 : op < ops * 13 / 16 ? 1 : 2;
        if (phase == 1 && what >= 50)
            what = rnd_below(50) ? 0 : 50;
        if (phase == 2 && what < 50 && rnd_below(4) != 0)
            what = 50;
        if (what < 50) {
            uint64_t task, owner = 1 + rnd_below(8);
            bool prio = rnd_below(4) == 0;
            bool wait = rnd_below(phase == 1 ? 50 : 8) != 0;
            unsigned pos = 7, mpos = 7;
            int rc, mrc;

            if (m.n && rnd_below(30) == 0)
                task = m.t[rnd_below((unsigned)m.n)].task;  /* duplicate */
            else
                task = (next_task += 1 + rnd_below(3));
            rc = xlmig__slots_request(s, task, owner, prio, wait, &pos);
            mrc = m_request(&m, task, owner, prio, wait, &mpos);
            assert_int_equal(rc, mrc);
            if (rc == XLMIG__SLOT_GRANTED) {
                assert_int_equal(pos, 0);
            } else if (rc == XLMIG__SLOT_QUEUED) {
                struct xlmig__slot_info info;

                assert_int_equal(xlmig__slots_find(s, task, &info), 0);
                assert_int_equal(pos, info.position);
                assert_true(pos >= 1);
            } else {
                assert_int_equal(pos, 7);
            }
        } else if (what < 80 || (phase == 2 && what < 90)) {
            uint64_t task;
            bool known, mknown;
            long x;

            if (m.n && rnd_below(20) != 0)
                task = m.t[rnd_below((unsigned)m.n)].task;
            else
                task = next_task + 1000 + rnd_below(100);   /* unknown */
            n = xlmig__slots_release(s, task, g, GMAX, &known);
            x = m_find(&m, task);
            mknown = x >= 0;
            if (mknown)
                m_remove(&m, (size_t)x);
            m_copy(&before, &m);
            nm = m_fill(&m, gm, GMAX);
            assert_int_equal(known, mknown);
        } else if (what < 88) {
            uint64_t owner = 1 + rnd_below(9);
            size_t rel = 0, mrel = 0;

            n = xlmig__slots_release_owner(s, owner, g, GMAX, &rel);
            for (i = 0; i < m.n;) {
                if (m.t[i].owner == owner) {
                    m_remove(&m, i);
                    mrel++;
                } else {
                    i++;
                }
            }
            m_copy(&before, &m);
            nm = m_fill(&m, gm, GMAX);
            assert_int_equal(rel, mrel);
        } else if (what < 96) {
            unsigned limit = 1 + rnd_below(rnd_below(4) ? 8 : 50);

            assert_int_equal(xlmig__slots_set_limit(s, limit, g, GMAX, &n),
                             0);
            m.limit = limit;
            m_copy(&before, &m);
            nm = m_fill(&m, gm, GMAX);
        } else {
            unsigned limit = rnd_below(2) ? 0 : 51 + rnd_below(1000);

            assert_int_equal(xlmig__slots_set_limit(s, limit, g, GMAX, &n),
                             LIBXLMIG_ERR_INVALID_ARGUMENT);
        }
        assert_int_equal(n, nm);
        for (i = 0; i < n; i++)
            assert_int_equal(g[i], gm[i]);
        check_grants(&before, m.limit, g, n, &run);
        /* Never more held than the limit, unless it was lowered: then
         * the count never grows. */
        if (m_count(&m, true, -1) > m.limit)
            assert_true(m_count(&m, true, -1) <= held_before);
        /* The rule's count restarts whenever no normal request waits. */
        if (!m_count(&m, false, 1))
            run = 0;
        compare(s, &m);
    }
    /* Everything released: nothing left anywhere. */
    while (m.n) {
        uint64_t task = m.t[rnd_below((unsigned)m.n)].task;
        bool known = false;
        long x;

        n = xlmig__slots_release(s, task, g, GMAX, &known);
        assert_true(known);
        x = m_find(&m, task);
        m_remove(&m, (size_t)x);
        m_copy(&before, &m);
        nm = m_fill(&m, gm, GMAX);
        assert_int_equal(n, nm);
        check_grants(&before, m.limit, g, n, &run);
    }
    compare(s, &m);
    assert_stats(s, 0, 0, m.limit);
    assert_int_equal(xlmig__slots_list(s, NULL, 0), 0);
    xlmig__slots_free(s);
}

static void test_random_model(void **state)
{
    const char *env = getenv("XLMIG_TEST_SEED");
    uint64_t seed;

    (void)state;
    if (env && env[0]) {
        run_random(strtoull(env, NULL, 0), 8000);
        return;
    }
    for (seed = 1; seed <= 4; seed++)
        run_random(seed, 8000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_new_free),
        cmocka_unit_test(test_sixty_fifo),
        cmocka_unit_test(test_no_wait),
        cmocka_unit_test(test_cancel),
        cmocka_unit_test(test_owner_death),
        cmocka_unit_test(test_limit_live),
        cmocka_unit_test(test_duplicate),
        cmocka_unit_test(test_priority_starvation),
        cmocka_unit_test(test_priority_limit),
        cmocka_unit_test(test_entry_cap),
        cmocka_unit_test(test_grant_cut_short),
        cmocka_unit_test(test_random_model),
    };

    return cmocka_run_group_tests_name("slots", tests, NULL, NULL);
}

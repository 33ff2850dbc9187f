/* SPDX-License-Identifier: LGPL-2.1-only */
/*
 * The migration slot manager of one source pool (slots.h,
 * docs/specs/pool-state.md).
 *
 * Three arrays, each in order: the holders in grant order, and one
 * queue per lane in request order.  All are allocated whole by
 * xlmig__slots_new() (the holders never outnumber the largest limit, a
 * lane never holds more than XLMIG__SLOTS_ENTRIES_MAX), so nothing after
 * it allocates or fails.  Lookups are linear: a few thousand entries at
 * most, under the daemon's lock.
 */
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "slots.h"

enum lane { LANE_PRIORITY = 0, LANE_NORMAL = 1, NR_LANES = 2 };

struct entry {
    uint64_t task;
    uint64_t owner;
    bool priority;              /* asked in the priority lane */
};

struct xlmig__slots {
    unsigned limit;
    /* Priority grants in a row while the normal lane waited. */
    unsigned streak;
    struct entry held[XLMIG__SLOTS_LIMIT_MAX];
    size_t nr_held;
    struct entry *queue[NR_LANES];
    size_t nr_queued[NR_LANES];
};

int xlmig__slots_new(unsigned limit, struct xlmig__slots **s_r)
{
    struct xlmig__slots *s = NULL;
    int rc, l;

    if (!s_r || limit < XLMIG__SLOTS_LIMIT_MIN ||
        limit > XLMIG__SLOTS_LIMIT_MAX)
        return LIBXLMIG_ERR_INVALID_ARGUMENT;
    s = xlmig__zalloc(sizeof(*s));
    if (!s) {
        rc = LIBXLMIG_ERR_NO_MEMORY;
        goto out;
    }
    for (l = 0; l < NR_LANES; l++) {
        s->queue[l] = calloc(XLMIG__SLOTS_ENTRIES_MAX, sizeof(struct entry));
        if (!s->queue[l]) {
            rc = LIBXLMIG_ERR_NO_MEMORY;
            goto out;
        }
    }
    s->limit = limit;
    *s_r = s;
    s = NULL;                   /* the caller owns it now */
    rc = 0;
 out:
    xlmig__slots_free(s);
    return rc;
}

void xlmig__slots_free(struct xlmig__slots *s)
{
    int l;

    if (!s)
        return;
    for (l = 0; l < NR_LANES; l++)
        free(s->queue[l]);
    free(s);
}

static size_t nr_known(const struct xlmig__slots *s)
{
    return s->nr_held + s->nr_queued[LANE_PRIORITY] +
           s->nr_queued[LANE_NORMAL];
}

static size_t nr_waiting(const struct xlmig__slots *s)
{
    return s->nr_queued[LANE_PRIORITY] + s->nr_queued[LANE_NORMAL];
}

/* The index of @task in @arr of @nr entries, or -1. */
static long index_of(const struct entry *arr, size_t nr, uint64_t task)
{
    size_t i;

    for (i = 0; i < nr; i++) {
        if (arr[i].task == task)
            return (long)i;
    }
    return -1;
}

static void remove_at(struct entry *arr, size_t *nr, size_t i)
{
    memmove(&arr[i], &arr[i + 1], sizeof(arr[0]) * (*nr - i - 1));
    (*nr)--;
}

/*
 * Which lane is served next when @np priority and @nn normal requests
 * wait after @streak priority grants in a row: the starvation rule.
 * NR_LANES when nobody waits.
 */
static enum lane next_lane(size_t np, size_t nn, unsigned streak)
{
    if (np && (!nn || streak < XLMIG__SLOTS_PRIORITY_BURST))
        return LANE_PRIORITY;
    if (nn)
        return LANE_NORMAL;
    return NR_LANES;
}

/* The streak after serving @lane with @nn normal requests waiting. */
static unsigned streak_after(enum lane lane, size_t nn, unsigned streak)
{
    if (lane == LANE_NORMAL || !nn)
        return 0;
    return streak + 1;
}

/* Grant waiters while slots are free, at most @max; ids to @granted. */
static size_t fill(struct xlmig__slots *s, uint64_t *granted, size_t max)
{
    size_t n = 0;

    while (n < max && s->nr_held < s->limit) {
        enum lane l = next_lane(s->nr_queued[LANE_PRIORITY],
                                s->nr_queued[LANE_NORMAL], s->streak);
        struct entry e;

        if (l == NR_LANES)
            break;
        e = s->queue[l][0];
        remove_at(s->queue[l], &s->nr_queued[l], 0);
        s->streak = streak_after(l, s->nr_queued[LANE_NORMAL], s->streak);
        s->held[s->nr_held++] = e;
        granted[n++] = e.task;
    }
    if (!s->nr_queued[LANE_NORMAL])
        s->streak = 0;
    return n;
}

/*
 * The 1-based place in the serving order of the waiter at index @idx of
 * @lane: the order in which fill() would take them if slots kept
 * freeing and nothing else came.
 */
static unsigned position_of(const struct xlmig__slots *s, enum lane lane,
                            size_t idx)
{
    size_t at[NR_LANES] = { 0, 0 };
    unsigned streak = s->streak, pos = 0;

    for (;;) {
        enum lane l = next_lane(s->nr_queued[LANE_PRIORITY] -
                                    at[LANE_PRIORITY],
                                s->nr_queued[LANE_NORMAL] - at[LANE_NORMAL],
                                streak);

        if (l == NR_LANES)
            return 0;           /* not reached: @idx is a waiter */
        pos++;
        if (l == lane && at[l] == idx)
            return pos;
        at[l]++;
        streak = streak_after(l, s->nr_queued[LANE_NORMAL] - at[LANE_NORMAL],
                              streak);
    }
}

int xlmig__slots_request(struct xlmig__slots *s, uint64_t task,
                         uint64_t owner, bool priority, bool wait,
                         unsigned *position_r)
{
    enum lane lane = priority ? LANE_PRIORITY : LANE_NORMAL;
    struct entry e = { task, owner, priority };
    int l;

    if (!s)
        return LIBXLMIG_ERR_INVALID_ARGUMENT;
    if (index_of(s->held, s->nr_held, task) >= 0)
        return LIBXLMIG_ERR_INVALID_ARGUMENT;
    for (l = 0; l < NR_LANES; l++) {
        if (index_of(s->queue[l], s->nr_queued[l], task) >= 0)
            return LIBXLMIG_ERR_INVALID_ARGUMENT;
    }
    if (nr_known(s) >= XLMIG__SLOTS_ENTRIES_MAX)
        return LIBXLMIG_ERR_TOO_MANY_MIGRATIONS;
    if (s->nr_held < s->limit && !nr_waiting(s)) {
        s->held[s->nr_held++] = e;
        if (position_r)
            *position_r = 0;
        return XLMIG__SLOT_GRANTED;
    }
    if (!wait)
        return LIBXLMIG_ERR_TOO_MANY_MIGRATIONS;
    s->queue[lane][s->nr_queued[lane]++] = e;
    if (position_r)
        *position_r = position_of(s, lane, s->nr_queued[lane] - 1);
    return XLMIG__SLOT_QUEUED;
}

/* Take @task out wherever it is; false when it is not known. */
static bool forget(struct xlmig__slots *s, uint64_t task)
{
    long i;
    int l;

    i = index_of(s->held, s->nr_held, task);
    if (i >= 0) {
        remove_at(s->held, &s->nr_held, (size_t)i);
        return true;
    }
    for (l = 0; l < NR_LANES; l++) {
        i = index_of(s->queue[l], s->nr_queued[l], task);
        if (i >= 0) {
            remove_at(s->queue[l], &s->nr_queued[l], (size_t)i);
            return true;
        }
    }
    return false;
}

size_t xlmig__slots_release(struct xlmig__slots *s, uint64_t task,
                            uint64_t *granted, size_t max, bool *known_r)
{
    bool known;

    if (!s) {
        if (known_r)
            *known_r = false;
        return 0;
    }
    if (!granted)
        max = 0;
    known = forget(s, task);
    if (known_r)
        *known_r = known;
    return fill(s, granted, max);
}

/* Drop the entries of @owner from @arr, keeping the order; the count. */
static size_t drop_owner(struct entry *arr, size_t *nr, uint64_t owner)
{
    size_t i, kept = 0, n = *nr;

    for (i = 0; i < n; i++) {
        if (arr[i].owner != owner)
            arr[kept++] = arr[i];
    }
    *nr = kept;
    return n - kept;
}

size_t xlmig__slots_release_owner(struct xlmig__slots *s, uint64_t owner,
                                  uint64_t *granted, size_t max,
                                  size_t *released_r)
{
    size_t released;
    int l;

    if (!s) {
        if (released_r)
            *released_r = 0;
        return 0;
    }
    if (!granted)
        max = 0;
    /* Everything of the owner goes before anyone is granted. */
    released = drop_owner(s->held, &s->nr_held, owner);
    for (l = 0; l < NR_LANES; l++)
        released += drop_owner(s->queue[l], &s->nr_queued[l], owner);
    if (released_r)
        *released_r = released;
    return fill(s, granted, max);
}

int xlmig__slots_set_limit(struct xlmig__slots *s, unsigned limit,
                           uint64_t *granted, size_t max,
                           size_t *nr_granted_r)
{
    size_t n;

    if (!s || limit < XLMIG__SLOTS_LIMIT_MIN ||
        limit > XLMIG__SLOTS_LIMIT_MAX)
        return LIBXLMIG_ERR_INVALID_ARGUMENT;
    if (!granted)
        max = 0;
    s->limit = limit;
    n = fill(s, granted, max);
    if (nr_granted_r)
        *nr_granted_r = n;
    return 0;
}

size_t xlmig__slots_grant_free(struct xlmig__slots *s, uint64_t *granted,
                               size_t max)
{
    if (!s || !granted)
        return 0;
    return fill(s, granted, max);
}

void xlmig__slots_stats(const struct xlmig__slots *s, unsigned *held_r,
                        unsigned *queued_r, unsigned *limit_r)
{
    if (held_r)
        *held_r = s ? (unsigned)s->nr_held : 0;
    if (queued_r)
        *queued_r = s ? (unsigned)nr_waiting(s) : 0;
    if (limit_r)
        *limit_r = s ? s->limit : 0;
}

static void info_of(const struct entry *e, bool held, unsigned position,
                    struct xlmig__slot_info *info)
{
    info->task = e->task;
    info->owner = e->owner;
    info->priority = e->priority;
    info->held = held;
    info->position = position;
}

size_t xlmig__slots_list(const struct xlmig__slots *s,
                         struct xlmig__slot_info *out, size_t max)
{
    size_t at[NR_LANES] = { 0, 0 }, n = 0, i;
    unsigned streak;

    if (!s)
        return 0;
    if (!out)
        max = 0;
    for (i = 0; i < s->nr_held; i++, n++) {
        if (n < max)
            info_of(&s->held[i], true, 0, &out[n]);
    }
    /* The waiters in the order fill() would take them. */
    streak = s->streak;
    for (;;) {
        enum lane l = next_lane(s->nr_queued[LANE_PRIORITY] -
                                    at[LANE_PRIORITY],
                                s->nr_queued[LANE_NORMAL] - at[LANE_NORMAL],
                                streak);

        if (l == NR_LANES)
            break;
        if (n < max)
            info_of(&s->queue[l][at[l]], false,
                    (unsigned)(n - s->nr_held + 1), &out[n]);
        n++;
        at[l]++;
        streak = streak_after(l, s->nr_queued[LANE_NORMAL] - at[LANE_NORMAL],
                              streak);
    }
    return n;
}

int xlmig__slots_find(const struct xlmig__slots *s, uint64_t task,
                      struct xlmig__slot_info *info_r)
{
    struct xlmig__slot_info info;
    long i;
    int l;

    if (!s)
        return LIBXLMIG_ERR_INVALID_ARGUMENT;
    i = index_of(s->held, s->nr_held, task);
    if (i >= 0) {
        info_of(&s->held[i], true, 0, &info);
        goto found;
    }
    for (l = 0; l < NR_LANES; l++) {
        i = index_of(s->queue[l], s->nr_queued[l], task);
        if (i >= 0) {
            info_of(&s->queue[l][i], false,
                    position_of(s, (enum lane)l, (size_t)i), &info);
            goto found;
        }
    }
    return LIBXLMIG_ERR_NOT_FOUND;
 found:
    if (info_r)
        *info_r = info;
    return 0;
}

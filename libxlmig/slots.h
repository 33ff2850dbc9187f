/* SPDX-License-Identifier: LGPL-2.1-only */
/*
 * The migration slot manager of one source pool (internal;
 * docs/specs/pool-state.md, "Migration slots").
 *
 * XenServer documents at most 3 concurrent migrations per pool; a pool
 * here allows @limit (1 to 50, default 3) and queues the rest fairly.
 * Each migration is a task (a caller-chosen 64-bit id, unique among the
 * tasks the manager knows) of an owner (the connection or host that
 * holds or waits for the slot: when it dies, everything of the owner is
 * released at once).
 *
 * Rules:
 *  - A request is granted at once when a slot is free and nobody waits;
 *    otherwise it waits in its lane (or, without @wait, is refused with
 *    LIBXLMIG_ERR_TOO_MANY_MIGRATIONS and nothing queued).
 *  - Two lanes, each served first in, first out: the priority lane (host
 *    evacuation) is served before the normal lane, never beyond the
 *    limit.
 *  - No starvation: after XLMIG__SLOTS_PRIORITY_BURST (4) consecutive
 *    priority grants made while normal requests waited, the next grant
 *    goes to the normal lane.  The count restarts at 0 whenever the
 *    normal lane gets a grant or has nobody waiting.
 *  - Whenever a slot frees (release, cancel, owner release, a raised
 *    limit), waiters are granted in that order until the slots are full
 *    again; the functions hand the granted task ids back so that the
 *    caller notifies them.
 *  - Lowering the limit never revokes a held slot: the holders finish,
 *    and nothing is granted until fewer than the new limit hold slots.
 *  - At most XLMIG__SLOTS_ENTRIES_MAX tasks, holders and waiters
 *    together.
 *
 * The manager is a plain data structure: no threads, no clock, no I/O,
 * no logging (it has no context: the caller, which knows the VM and the
 * peer, writes the message of an error it returns).  The daemon calls it
 * under its own lock.  Apart from xlmig__slots_new(), nothing allocates,
 * so releases never fail.
 */
#ifndef XLMIG_SLOTS_H
#define XLMIG_SLOTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "libxlmig.h"

#define XLMIG__SLOTS_LIMIT_MIN 1
#define XLMIG__SLOTS_LIMIT_MAX 50
#define XLMIG__SLOTS_LIMIT_DEFAULT 3
/* Tasks known at once, holding or waiting. */
#define XLMIG__SLOTS_ENTRIES_MAX 4096
/* Consecutive priority grants while normal requests wait, at most. */
#define XLMIG__SLOTS_PRIORITY_BURST 4
/*
 * The most grants one call can make (a call never grants beyond the
 * limit): a @granted array of this many entries never loses one.
 */
#define XLMIG__SLOTS_GRANT_MAX XLMIG__SLOTS_LIMIT_MAX

/* xlmig__slots_request()'s answers besides errors. */
#define XLMIG__SLOT_GRANTED 0
#define XLMIG__SLOT_QUEUED 1

struct xlmig__slots;

/* A task as xlmig__slots_list() and xlmig__slots_find() show it. */
struct xlmig__slot_info {
    uint64_t task;
    uint64_t owner;
    bool priority;          /* asked in the priority lane */
    bool held;              /* holds a slot; else waits */
    unsigned position;      /* waiting: 1-based place in the order it will
                               be served (see xlmig__slots_request());
                               holding: 0 */
};

/*
 * A manager with @limit slots (XLMIG__SLOTS_LIMIT_MIN to _MAX), nothing
 * held, nobody waiting.  LIBXLMIG_ERR_INVALID_ARGUMENT for a limit out
 * of range, LIBXLMIG_ERR_NO_MEMORY.  The caller frees *s_r with
 * xlmig__slots_free().
 */
int xlmig__slots_new(unsigned limit, struct xlmig__slots **s_r);

/* Free a manager and everything it knows.  NULL-safe. */
void xlmig__slots_free(struct xlmig__slots *s);

/*
 * Ask for a slot for @task of @owner, in the priority lane when
 * @priority.  Returns:
 *  - XLMIG__SLOT_GRANTED (0): the task holds a slot now; *position_r = 0.
 *  - XLMIG__SLOT_QUEUED (> 0), only when @wait: the task waits;
 *    *position_r gets its 1-based place in the order the waiters will be
 *    served as things stand (priority requests that arrive later may
 *    still go before a normal one, within the starvation rule).  It is
 *    granted later by a call that frees a slot, which hands its id back.
 *  - LIBXLMIG_ERR_TOO_MANY_MIGRATIONS: @wait is false and the task
 *    cannot be granted at once (no free slot, or others wait), or
 *    XLMIG__SLOTS_ENTRIES_MAX tasks are known already; nothing changed.
 *  - LIBXLMIG_ERR_INVALID_ARGUMENT: @task is known already (holds or
 *    waits), or @s is NULL; nothing changed.
 * @position_r may be NULL.
 */
int xlmig__slots_request(struct xlmig__slots *s, uint64_t task,
                         uint64_t owner, bool priority, bool wait,
                         unsigned *position_r);

/*
 * Release @task: free the slot it holds, or take it out of its queue (a
 * cancel).  Waiters that the freed slot lets in are granted: their ids
 * go to @granted in the order they were granted, and the count is
 * returned.  A call grants at most @max tasks (a NULL @granted counts as
 * @max 0): with @max >= XLMIG__SLOTS_GRANT_MAX nothing is ever left
 * over; otherwise waiters that did not fit stay waiting, with a free
 * slot, until a later call (xlmig__slots_grant_free() or any release)
 * grants them.  Releasing a task the manager does not know changes
 * nothing and returns 0; *known_r (may be NULL) says whether it knew
 * @task.
 */
size_t xlmig__slots_release(struct xlmig__slots *s, uint64_t task,
                            uint64_t *granted, size_t max, bool *known_r);

/*
 * Release every task of @owner, holding or waiting (its connection
 * died), then grant waiters as xlmig__slots_release() does.  *released_r
 * (may be NULL) gets how many tasks of @owner were released.
 */
size_t xlmig__slots_release_owner(struct xlmig__slots *s, uint64_t owner,
                                  uint64_t *granted, size_t max,
                                  size_t *released_r);

/*
 * Change the limit while migrations run.  Raising it grants waiters at
 * once (ids to @granted, count to *nr_granted_r, as
 * xlmig__slots_release() does); lowering it revokes nothing: holders
 * keep their slots and nothing is granted until fewer than @limit hold
 * one.  LIBXLMIG_ERR_INVALID_ARGUMENT, nothing changed, for a limit out
 * of range.  @nr_granted_r may be NULL.
 */
int xlmig__slots_set_limit(struct xlmig__slots *s, unsigned limit,
                           uint64_t *granted, size_t max,
                           size_t *nr_granted_r);

/*
 * Grant waiters while slots are free (only needed after a call whose
 * @max was too small to grant them all).  Returns the count, ids to
 * @granted.
 */
size_t xlmig__slots_grant_free(struct xlmig__slots *s, uint64_t *granted,
                               size_t max);

/* How many hold a slot, how many wait, the limit.  Each may be NULL. */
void xlmig__slots_stats(const struct xlmig__slots *s, unsigned *held_r,
                        unsigned *queued_r, unsigned *limit_r);

/*
 * Every task: the holders in the order they were granted, then the
 * waiters in the order they will be served (position 1, 2, ...).
 * Writes the first @max to @out (may be NULL when @max is 0) and
 * returns how many there are in all.
 */
size_t xlmig__slots_list(const struct xlmig__slots *s,
                         struct xlmig__slot_info *out, size_t max);

/* @task as the list shows it; LIBXLMIG_ERR_NOT_FOUND when unknown. */
int xlmig__slots_find(const struct xlmig__slots *s, uint64_t task,
                      struct xlmig__slot_info *info_r);

#endif /* XLMIG_SLOTS_H */

/* SPDX-License-Identifier: LGPL-2.1-only */
/*
 * A pool's migration slots on etcd (internal; docs/specs/pool-etcd.md,
 * "Migration slots"): a fair counting semaphore shared by every host of
 * the pool, with no master.
 *
 * Keys, under the pool's PREFIX:
 *
 *   PREFIX/slots/limit      migration-concurrency, decimal (absent: the
 *                           caller's default)
 *   PREFIX/slots/q/TASK     one per migration that holds or waits for a
 *                           slot (TASK: 16 lower-case hex digits), bound
 *                           to its holder's lease; its value is JSON:
 *                           {"task":N,"owner":"HOST","state":"waiting"}
 *                           or "held"
 *
 * Rules:
 *  - The keys under PREFIX/slots/q/ form one queue in the order etcd
 *    created them (create_revision): first in, first out across the
 *    whole pool.
 *  - A key is granted when fewer than `limit` keys were created before
 *    it and still exist.  Lowering the limit revokes nothing: the holders
 *    finish, and nothing is granted until fewer than the new limit come
 *    first.
 *  - Each waiter watches one key: the key just before it in the queue
 *    (for a change: its holder granted, or gone); the first waiter
 *    watches the slots themselves (PREFIX/slots/: a release, or a new
 *    limit).  A key granted is rewritten ("held"), which wakes the one
 *    behind it.  So a release wakes one waiter, not all of them.
 *  - A host that dies stops renewing its lease; etcd then removes its
 *    keys when the lease expires, which frees its slots and wakes the
 *    waiters behind them, with nobody's help.
 */
#ifndef XLMIG_ETCD_SLOTS_H
#define XLMIG_ETCD_SLOTS_H

#include <stdbool.h>
#include <stdint.h>

#include "etcd.h"
#include "libxlmig.h"
#include "slots.h"

#define XLMIG__ETCD_PREFIX_MAX 256          /* bytes, no NUL */
#define XLMIG__ETCD_OWNER_MAX 64            /* bytes, no NUL */

/* A pool's key prefix: 1 to PREFIX_MAX bytes, not ending with '/';
 * INVALID_ARGUMENT naming it otherwise. */
int xlmig__etcd_prefix_check(libxlmig_ctx *ctx, const char *prefix);

/* One migration's place in the queue. */
struct xlmig__etcd_slot {
    char key[XLMIG__ETCD_PREFIX_MAX + 32];
    size_t key_len;
    uint64_t task;
    char owner[XLMIG__ETCD_OWNER_MAX + 1];
    int64_t lease;
    int64_t create_revision;            /* its place: 0 until enqueued */
    bool held;
};

/*
 * Put task @task of @owner (a host name) in the queue, bound to @lease.
 * A task already queued under the same lease keeps its place (the call
 * is safe to repeat); one queued under another lease is
 * OTHER_OPERATION_IN_PROGRESS.  Errors name the task.
 */
int xlmig__etcd_slot_enqueue(libxlmig_ctx *ctx, struct xlmig__etcd *e,
                             const char *prefix, uint64_t task,
                             const char *owner, int64_t lease,
                             struct xlmig__etcd_slot *slot_r);

/*
 * Wait until @slot is granted, for at most @timeout_ms (0: only look).
 * @default_limit: the limit while PREFIX/slots/limit is absent.
 * Returns 0 when granted (slot->held); TIMEOUT when not yet, with
 * *ahead_r (may be NULL) the number of keys still before it;
 * CANCELLED when *@cancel became true; NOT_FOUND when the slot's key is
 * gone (its lease expired: the task must enqueue again, at the back).
 */
int xlmig__etcd_slot_wait(libxlmig_ctx *ctx, struct xlmig__etcd *e,
                          const char *prefix, struct xlmig__etcd_slot *slot,
                          unsigned default_limit, unsigned timeout_ms,
                          const volatile bool *cancel, unsigned *ahead_r);

/* Give the slot (or the place in the queue) back.  Idempotent. */
int xlmig__etcd_slot_release(libxlmig_ctx *ctx, struct xlmig__etcd *e,
                             struct xlmig__etcd_slot *slot);

/* Set / read the pool's limit (XLMIG__SLOTS_LIMIT_MIN to _MAX).  A
 * stored limit that does not parse is named, and read as @default_limit. */
int xlmig__etcd_slots_limit_set(libxlmig_ctx *ctx, struct xlmig__etcd *e,
                                const char *prefix, unsigned limit);
int xlmig__etcd_slots_limit_get(libxlmig_ctx *ctx, struct xlmig__etcd *e,
                                const char *prefix, unsigned default_limit,
                                unsigned *limit_r);

/*
 * The queue as etcd holds it: *held_r slots held, *waiting_r tasks
 * waiting (either may be NULL).  A key whose value does not parse is
 * counted where it stands (it still takes its place) and named in the
 * log, never an error.
 */
int xlmig__etcd_slots_stats(libxlmig_ctx *ctx, struct xlmig__etcd *e,
                            const char *prefix, unsigned default_limit,
                            unsigned *held_r, unsigned *waiting_r);

#endif

/* SPDX-License-Identifier: LGPL-2.1-only */
/*
 * A pool's state on etcd (internal; docs/specs/pool-etcd.md, "The pool's
 * keys"): the struct xlmig__pool_state of poolstate.h, one key per part,
 * under the pool's PREFIX:
 *
 *   PREFIX/pool             the head: name, uuid, settings (poolstate.h's
 *                           XLMIG__POOL_PART_HEAD)
 *   PREFIX/members/NAME     one host (XLMIG__POOL_PART_MEMBER)
 *   PREFIX/tasks/ID         one migration, ID 16 lower-case hex digits
 *                           (XLMIG__POOL_PART_TASK); in the order etcd
 *                           created them
 *   PREFIX/slots/limit      migration-concurrency again, for the slots
 *                           (etcd-slots.h), written with the head
 *   PREFIX/next-task        the next task id, decimal
 *
 * Every change is a compare-and-swap: the keys it writes or deletes must
 * be as they were read (same mod revision, or absent), or nothing is
 * written and the change is made again on what is there now.  So two
 * hosts changing the pool at once both see their change made, one after
 * the other, and neither is lost.
 *
 * A key that does not decode, or names a host or task other than its
 * contents say, is named in the log and left out; it stays until a
 * change writes that key (a host of that name added, say).
 */
#ifndef XLMIG_ETCD_STATE_H
#define XLMIG_ETCD_STATE_H

#include <stdbool.h>

#include "etcd.h"
#include "libxlmig.h"
#include "poolstate.h"

/* Times a change is made again when the keys it read changed meanwhile. */
#define XLMIG__ETCD_STATE_TRIES 32

/*
 * Read the pool's state at one revision into *st (initialised; replaced
 * on success, untouched on error).  No PREFIX/pool key: the defaults and
 * *missing_r (may be NULL) true.
 */
int xlmig__etcd_state_load(libxlmig_ctx *ctx, struct xlmig__etcd *e,
                           const char *prefix, struct xlmig__pool_state *st,
                           bool *missing_r);

/*
 * Change the pool's state: @change (any of poolstate.h's setters, or
 * several) is called on a copy of the state as it is now; what it
 * changed is written in one transaction.  An error of @change is
 * returned as it is and nothing is written.  When another host changed
 * the same keys meanwhile, the change is made again on the new state, up
 * to ETCD_STATE_TRIES times (then OTHER_OPERATION_IN_PROGRESS).
 * *st_r (may be NULL; initialised): the state as written.
 */
typedef int xlmig__etcd_state_change(libxlmig_ctx *ctx,
                                     struct xlmig__pool_state *st,
                                     void *arg);
int xlmig__etcd_state_update(libxlmig_ctx *ctx, struct xlmig__etcd *e,
                             const char *prefix,
                             xlmig__etcd_state_change *change, void *arg,
                             struct xlmig__pool_state *st_r);

/*
 * A task id no other host of the pool gets (PREFIX/next-task, counted
 * up by compare-and-swap; 1 first).  POOL_STATE_INVALID when the key
 * holds no id.
 */
int xlmig__etcd_state_next_task(libxlmig_ctx *ctx, struct xlmig__etcd *e,
                                const char *prefix, uint64_t *id_r);

/*
 * Copy a whole state (a pool kept in pool.json until now) to PREFIX,
 * where nothing may be yet (else OTHER_OPERATION_IN_PROGRESS naming the
 * prefix and what is there): the hosts and the migrations in order, in
 * transactions of up to ETCD_TXN_OPS_MAX - 1 keys, then the head and the
 * slots' limit (and PREFIX/next-task above the greatest task id).
 * Until the head is written the pool reads as missing
 * (xlmig__etcd_state_load()'s *missing_r), so a copy cut half-way is
 * never taken for the pool; it is removed with the prefix and made
 * again.
 */
int xlmig__etcd_state_import(libxlmig_ctx *ctx, struct xlmig__etcd *e,
                             const char *prefix,
                             const struct xlmig__pool_state *st);

#endif

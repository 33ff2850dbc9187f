/* SPDX-License-Identifier: LGPL-2.1-only */
/*
 * Batches (internal; docs/specs/pool-ops.md): where each VM of a host
 * evacuation or of a bulk vm-migrate goes, planned for all of them
 * before the first one moves.
 *
 * One placement per VM (placement.h) would send every VM to the host
 * with the most free memory, whether or not they all fit there.  The
 * planner accounts for memory instead: the VMs are planned one at a
 * time, the running VM with the most memory first (equal ones in the
 * order of their names, then uuids; halted VMs last, they take no
 * memory where they go), and each VM placed lowers its destination's
 * free memory, as the next VM's checks see it, by its own memory.  A VM
 * that no host can take once the VMs before it are planned is refused
 * (NO_HOSTS_AVAILABLE), and the HOST_NOT_ENOUGH_FREE_MEMORY refusal of
 * a host says what was promised there first.  The VMs after it are
 * planned as if it had stayed.
 *
 * Each VM is ranked as placement.h ranks one: the built-in choice (the
 * most free memory left first), or the pool's wlb-hook, asked once per
 * VM with the lowered free memory in its request.  A hook that fails
 * is not asked again in the batch: the VMs after it get the built-in
 * choice, and each says why.
 *
 * The checks of a VM on a host are the caller's (@evaluate below: the
 * daemon looks a vdi map's SRs up on each host, refuses hosts it could
 * not ask for facts, then xlmig__place_evaluate()).
 */
#ifndef XLMIG_BATCH_H
#define XLMIG_BATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "libxlmig.h"
#include "migrate-check.h"
#include "placement.h"

#define XLMIG__BATCH_VMS_MAX 64         /* VMs of one batch */
#define XLMIG__BATCH_REFUSALS_MAX 8     /* sentences kept for a VM */
#define XLMIG__BATCH_MSG_MAX (XLMIG__PLACE_MSG_MAX + 200)

/*
 * One VM of a batch.  The caller sets @plan (the VM, as a migration of
 * it resolves; its memory_kib counts when it runs) and may refuse it
 * beforehand (@rc a negative code, @msg "NAME: sentence"): the planner
 * leaves such a VM alone.  The rest is the planner's.
 */
struct xlmig__batch_vm {
    const struct xlmig__mig_plan *plan;
    /* The outcome: a destination, or rc and why not. */
    bool placed;
    size_t host;                        /* placed: its index in hosts */
    size_t rank;                        /* planned as the rank-th, from 0 */
    enum xlmig__place_source source;    /* placed: who ranked the hosts */
    char reason[XLMIG__WLB_REASON_MAX + 1];
    int fallback_rc;                    /* the hook's failure, or 0 */
    char fallback[XLMIG__BATCH_MSG_MAX];  /* what was said of it, or "" */
    int rc;                             /* not placed: why (negative) */
    char msg[XLMIG__BATCH_MSG_MAX];     /* not placed: "NAME: sentence" */
    /* Not placed by the planner: every different refusal of every host
     * but the VM's own, the first XLMIG__BATCH_REFUSALS_MAX. */
    size_t nr_refusals;
    char refusals[XLMIG__BATCH_REFUSALS_MAX][XLMIG__PLACE_MSG_MAX];
};

/*
 * The verdict of every host of @hosts on VM @vm (an index of the
 * batch's VMs): the facts are those of the batch, free memory lowered
 * by what the VMs planned before it were promised; the function fills
 * each host's verdict as xlmig__place_evaluate() does.  0, or an error
 * logged in its own context, which ends the batch's planning.
 */
typedef int xlmig__batch_evaluate_fn(void *opaque, size_t vm,
                                     struct xlmig__place_host *hosts,
                                     size_t n);

struct xlmig__batch {
    const struct xlmig__wlb_hook *hook;     /* NULL: the built-in choice */
    const char *src_name;                   /* the VMs' host */
    /* The candidates as asked (facts, enabled; the verdict is unused). */
    const struct xlmig__place_host *hosts;
    size_t n;
    /* KiB of each host's free memory promised already (by the plan of
     * another batch), or NULL. */
    const uint64_t *reserved_kib;
    xlmig__batch_evaluate_fn *evaluate;
    void *opaque;
};

/*
 * Plan where each of @vms[0 .. @nvm - 1] goes (above).  0 with each
 * VM's outcome filled, refusals kept in the VMs, not logged as errors
 * of @ctx (each placement is logged at DETAIL level, a hook's failure
 * as a warning once); LIBXLMIG_ERR_INVALID_ARGUMENT (logged) for no
 * VM, more than XLMIG__BATCH_VMS_MAX, more than XLMIG__PLACE_HOSTS_MAX
 * hosts or no evaluate function; LIBXLMIG_ERR_NO_MEMORY; @evaluate's
 * error.  Nothing is done to any host, VM or disk.
 */
int xlmig__batch_plan(libxlmig_ctx *ctx, const struct xlmig__batch *b,
                      struct xlmig__batch_vm *vms, size_t nvm);

/*
 * The order xlmig__batch_plan() plans @vms in: @order_r[k] is the index
 * of the k-th.  Pure.
 */
void xlmig__batch_order(const struct xlmig__batch_vm *vms, size_t nvm,
                        size_t *order_r);

#endif /* XLMIG_BATCH_H */

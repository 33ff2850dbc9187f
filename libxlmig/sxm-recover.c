/* SPDX-License-Identifier: LGPL-2.1-only */
/*
 * Storage motion recovery: the tasks whose owner is gone are finished
 * (a compose) or rolled back (sxm.h, docs/specs/sxm.md).
 */
#include <stdlib.h>
#include <unistd.h>

#include "proc.h"
#include "sxm-internal.h"

/* ------------------------------------------------------------ recovery */

int xlmig__sxm_recover(libxlmig_ctx *ctx, const char *state_dir,
                       unsigned int *done_r)
{
    struct xlmig__sxm_record *recs = NULL;
    size_t nr = 0, i;
    unsigned int done = 0;
    int rc, first = 0;

    rc = xlmig__sxm_list(ctx, state_dir, &recs, &nr);
    if (rc)
        return rc;
    for (i = 0; i < nr; i++) {
        struct xlmig__sxm_record *r = &recs[i];

        if (r->owner_pid &&
            xlmig__proc_alive((pid_t)r->owner_pid, r->owner_start) &&
            (pid_t)r->owner_pid != getpid()) {
            xlmig__log(ctx, XTL_INFO, -1, "task %s (VDI %s, %s) is still "
                       "running in process %lld; left alone", r->task,
                       r->vdi_name, xlmig__sxm_phase_name(r->phase),
                       (long long)r->owner_pid);
            continue;
        }
        if (r->role == XLMIG__SXM_DST && r->phase == XLMIG__SXM_COMPOSING)
            rc = xlmig__sxm_dst_compose(ctx, state_dir, r, NULL);
        else if (r->role == XLMIG__SXM_DST)
            rc = xlmig__sxm_dst_rollback(ctx, state_dir, r);
        else
            rc = xlmig__sxm_src_rollback(ctx, state_dir, r);
        if (rc && !first)
            first = rc;
        if (!rc)
            done++;
    }
    free(recs);
    if (done_r)
        *done_r = done;
    return first;
}

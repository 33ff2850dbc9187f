/* SPDX-License-Identifier: LGPL-2.1-only */
/*
 * How a vm-migrate task ends on each side, for the source worker and
 * for recovery alike (migrate-run.h): the source's cleanup once the VM
 * runs at the destination, and the abort the source asks of the
 * destination when it rolls back.
 */
#include <string.h>

#include "cpurecord.h"
#include "internal.h"
#include "migrate.h"
#include "migrate-run.h"
#include "pool-client.h"
#include "rpc.h"
#include "sr.h"
#include "vmrec.h"

int xlmig__mig_src_cleanup(libxlmig_ctx *ctx, const struct xlmig__mig_run *run,
                           struct xlmig__hv *hv, struct xlmig__mig_record *r)
{
    struct xlmig__dom d;
    size_t i;
    int rc = 0;

    r->phase = XLMIG__MIG_CLEANUP;
    (void)xlmig__mig_record_save(ctx, run->state_dir, r);
    if (r->live && !run->hv->find(hv, r->vm_uuid, &d) &&
        strcmp(d.name, r->vm) == 0 && run->hv->destroy(hv, d.domid))
        rc = LIBXLMIG_ERR_XEN_CALL_FAILED;
    for (i = 0; i < r->nr_vdis && !r->copy; i++) {
        const struct xlmig__mig_vdi *v = &r->vdis[i];
        struct xlmig__vdi vdi;

        if (!v->sr[0] || xlmig__vdi_find(ctx, run->state_dir, v->vdi, NULL,
                                         &vdi))
            continue;
        (void)xlmig__vbd_destroy(ctx, run->state_dir, v->vdi, r->vm, NULL);
        if (xlmig__vdi_destroy(ctx, run->state_dir, v->vdi))
            rc = rc ? rc : LIBXLMIG_ERR_IO;
    }
    if (!r->copy) {
        (void)xlmig__vm_record_remove(ctx, run->state_dir, r->vm);
        (void)xlmig__vmrec_remove(ctx, run->state_dir, r->vm_uuid);
    }
    return rc;
}

void xlmig__mig_dst_abort(libxlmig_ctx *ctx, const struct xlmig__mig_run *run,
                          const struct xlmig__mig_record *r,
                          libxlmig_transport *t)
{
    libxlmig_transport *own = NULL;
    libxlmig_ctx *quiet = NULL;
    struct xlmig__rpc_msg resp;
    const char *kv[] = { "task", r->task, NULL };
    size_t i;
    int fd;

    if (!r->dest_address[0] ||
        libxlmig_ctx_new(NULL, LIBXLMIG_LOG_CRITICAL,
                         &quiet))
        return;
    ctx = quiet;    /* what it cannot do is said by the destination */
    if (!t) {
        if (xlmig__pool_open_fd(ctx, run->dconf, r->dest_address, &own,
                                &fd)) {
            libxlmig_ctx_free(quiet);
            return;         /* its own recovery, at its restart, covers it */
        }
        t = own;
    }
    for (i = 0; i < r->nr_vdis; i++) {
        const char *k2[] = { "task", r->vdis[i].dst_task, NULL };

        if (!r->vdis[i].dst_task[0] || r->vdis[i].finalized)
            continue;
        memset(&resp, 0, sizeof(resp));
        (void)xlmig__pool_call(ctx, t, r->dest_address, 90,
                               "sxm.receive_cancel", k2, NULL, NULL, &resp);
        xlmig__rpc_msg_dispose(&resp);
    }
    memset(&resp, 0, sizeof(resp));
    (void)xlmig__pool_call(ctx, t, r->dest_address, 91, "vm.receive_abort",
                           kv, NULL, NULL, &resp);
    xlmig__rpc_msg_dispose(&resp);
    libxlmig_transport_free(own);
    libxlmig_ctx_free(quiet);
}

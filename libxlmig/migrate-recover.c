/* SPDX-License-Identifier: LGPL-2.1-only */
/*
 * Undo and recovery of vm-migrate tasks (migrate-run.h;
 * docs/specs/vm-migrate.md, "Exactly one place").
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cpurecord.h"
#include "internal.h"
#include "migrate.h"
#include "migrate-run.h"
#include "migrate-wire.h"
#include "pool-client.h"
#include "proc.h"
#include "rpc.h"
#include "sxm.h"
#include "vmrec.h"

/* Cancel the storage move whose parent is @vdi, if one is running. */
static int sxm_cancel_parent(libxlmig_ctx *ctx, const char *state_dir,
                             const char *vdi)
{
    struct xlmig__sxm_record *recs = NULL;
    size_t nr = 0, i;
    int rc = xlmig__sxm_list(ctx, state_dir, &recs, &nr);

    for (i = 0; !rc && i < nr; i++) {
        if (recs[i].role == XLMIG__SXM_DST && !strcmp(recs[i].parent, vdi)) {
            rc = xlmig__sxm_recv_cancel(ctx, state_dir, recs[i].task);
            break;
        }
    }
    free(recs);
    return rc;
}

void xlmig__mig_dst_undo(libxlmig_ctx *ctx, const struct xlmig__mig_run *run,
                         struct xlmig__hv *hv, struct xlmig__mig_record *r)
{
    struct xlmig__dom d;
    libxlmig_ctx *quiet = NULL;
    size_t i;

    if (libxlmig_ctx_new(NULL, LIBXLMIG_LOG_CRITICAL, &quiet))
        return;
    if (r->live && hv && !run->hv->find(hv, r->vm_uuid, &d)) {
        /* Ours only while it carries the incoming name. */
        char incoming[XLMIG__DOM_NAME_MAX + 1];

        snprintf(incoming, sizeof(incoming), "%.100s--incoming", r->vm);
        if (!strcmp(d.name, incoming) && run->hv->destroy(hv, d.domid))
            xlmig__log(ctx, XTL_ERROR, -1, "migration %s: cannot destroy "
                       "the incoming domain %" PRIu32 " of VM %s: %s",
                       r->task, d.domid, r->vm, libxlmig_ctx_last_error(ctx));
    }
    for (i = 0; i < r->nr_vdis; i++) {
        const char *vdi = r->vdis[i].dst_vdi;
        int rc;

        if (!vdi[0] || xlmig__vdi_find(quiet, run->state_dir, vdi, NULL,
                                       NULL))
            continue;
        /* Still a storage move's parent: cancel that; else destroy it. */
        rc = sxm_cancel_parent(ctx, run->state_dir, vdi);
        if (!rc && !xlmig__vdi_find(quiet, run->state_dir, vdi, NULL, NULL)) {
            (void)xlmig__vbd_destroy(ctx, run->state_dir, vdi, r->vm, NULL);
            rc = xlmig__vdi_destroy(ctx, run->state_dir, vdi);
        }
        if (rc)
            xlmig__log(ctx, XTL_ERROR, -1, "migration %s: VDI %s made for VM "
                       "%s is left: %s", r->task, vdi, r->vm,
                       libxlmig_ctx_last_error(ctx));
    }
    libxlmig_ctx_free(quiet);
}

static void ended(libxlmig_ctx *ctx, const struct xlmig__mig_run *run,
                  struct xlmig__mig_record *r, int rc, const char *why)
{
    r->phase = XLMIG__MIG_ENDED;
    r->ended = (int64_t)time(NULL);
    if (rc) {
        r->state = XLMIG__MIG_FAILED;
        xlmig__strlcpy(r->error, libxlmig_strerror_name(rc),
                       sizeof(r->error));
        xlmig__strlcpy(r->message, why, sizeof(r->message));
    } else {
        r->state = XLMIG__MIG_DONE;
        r->progress = 100;
        r->error[0] = '\0';
    }
    (void)xlmig__mig_record_save(ctx, run->state_dir, r);
}

/* Source: ask the destination whether it took the VM. */
static int ask(libxlmig_ctx *ctx, const struct xlmig__mig_run *run,
               const struct xlmig__mig_record *r, bool *committed_r)
{
    libxlmig_transport *t = NULL;
    struct xlmig__rpc_msg resp;
    const char *kv[] = { "task", r->task, NULL };
    const char *st;
    int fd, rc;

    rc = xlmig__pool_open_fd(ctx, run->dconf, r->dest_address,
                            &t, &fd);
    if (rc)
        return LIBXLMIG_ERR_MIGRATION_OUTCOME_UNKNOWN;
    memset(&resp, 0, sizeof(resp));
    rc = xlmig__pool_call(ctx, t, r->dest_address, 2, "vm.receive_status",
                          kv, NULL, NULL, &resp);
    st = rc ? NULL : xlmig__rpc_get_str(resp.result, "outcome");
    rc = LIBXLMIG_ERR_MIGRATION_OUTCOME_UNKNOWN;
    if (st && !strcmp(st, "committed")) {
        *committed_r = true;
        rc = 0;
    } else if (st && !strcmp(st, "aborted")) {
        *committed_r = false;
        rc = 0;
    }
    xlmig__rpc_msg_dispose(&resp);
    libxlmig_transport_free(t);
    return rc;
}

static void resume(libxlmig_ctx *ctx, const struct xlmig__mig_run *run,
                   struct xlmig__hv *hv, const struct xlmig__mig_record *r)
{
    struct xlmig__dom d;

    if (r->live && !run->hv->find(hv, r->vm_uuid, &d) &&
        (d.state == XLMIG__DOM_SUSPENDED || d.state == XLMIG__DOM_PAUSED)) {
        if (d.state == XLMIG__DOM_SUSPENDED ? run->hv->resume(hv, d.domid)
                                           : run->hv->unpause(hv, d.domid))
            xlmig__log(ctx, XTL_ERROR, -1, "VM %s stays suspended: %s",
                       r->vm, libxlmig_ctx_last_error(ctx));
        if (strcmp(d.name, r->vm))
            (void)run->hv->rename(hv, d.domid, r->vm);
    }
}

static int recover_src(libxlmig_ctx *ctx, const struct xlmig__mig_run *run,
                       struct xlmig__hv *hv, struct xlmig__mig_record *r)
{
    unsigned int n = 0;
    bool committed = false;
    int rc;

    if (r->phase == XLMIG__MIG_CLEANUP) {
        (void)xlmig__mig_src_cleanup(ctx, run, hv, r);
        ended(ctx, run, r, 0, "");
        return 0;
    }
    if (r->phase == XLMIG__MIG_GO_SENT) {
        rc = ask(ctx, run, r, &committed);
        if (rc) {
            xlmig__strlcpy(r->error, "MIGRATION_OUTCOME_UNKNOWN",
                           sizeof(r->error));
            snprintf(r->message, sizeof(r->message), "host %s cannot say "
                     "yet whether VM %s runs there; it stays suspended here",
                     r->destination, r->vm);
            (void)xlmig__mig_record_save(ctx, run->state_dir, r);
            return rc;
        }
        if (committed) {
            (void)xlmig__mig_src_cleanup(ctx, run, hv, r);
            ended(ctx, run, r, 0, "");
            return 0;
        }
        resume(ctx, run, hv, r);
        ended(ctx, run, r, LIBXLMIG_ERR_VM_MIGRATE_FAILED, "the destination "
              "did not take the VM; it runs on here");
        return 0;
    }
    /* Before go-sent: roll back everything. */
    (void)xlmig__sxm_recover(ctx, run->state_dir, &n);
    resume(ctx, run, hv, r);
    xlmig__mig_dst_abort(ctx, run, r, NULL);
    ended(ctx, run, r, LIBXLMIG_ERR_VM_MIGRATE_FAILED, "the migration's "
          "worker ended before the switch; rolled back, the VM runs on "
          "here");
    return 0;
}

/* Destination, after "go": finish what the worker began. */
static void finish_dst(libxlmig_ctx *ctx, const struct xlmig__mig_run *run,
                       struct xlmig__hv *hv, struct xlmig__mig_record *r)
{
    struct xlmig__dom d;

    if (r->live && !run->hv->find(hv, r->vm_uuid, &d)) {
        if (d.state == XLMIG__DOM_PAUSED)
            (void)run->hv->unpause(hv, d.domid);
        if (strcmp(d.name, r->vm))
            (void)run->hv->rename(hv, d.domid, r->vm);
        if (d.state == XLMIG__DOM_PAUSED || strcmp(d.name, r->vm)) {
            char *cfg = NULL;
            size_t i;

            for (i = 0; i < r->nr_vdis; i++) {
                if (r->vdis[i].vdev[0])
                    (void)xlmig__vbd_create(ctx, run->state_dir,
                                            r->vdis[i].dst_vdi, r->vm,
                                            r->vdis[i].vdev, NULL);
            }
            if (!run->hv->config(hv, d.domid, &cfg))
                (void)xlmig__vmrec_save(ctx, run->state_dir, r->vm_uuid,
                                        r->vm, cfg, strlen(cfg));
            free(cfg);
        }
    }
    ended(ctx, run, r, 0, "");
}

int xlmig__mig_recover(libxlmig_ctx *ctx, const struct xlmig__mig_run *run,
                       enum xlmig__mig_role role)
{
    struct xlmig__mig_record r;
    struct xlmig__hv *hv = NULL;
    int rc;

    rc = xlmig__mig_record_load(ctx, run->state_dir, role, run->task, &r);
    if (rc)
        return rc;
    if (r.state != XLMIG__MIG_RUNNING)
        return 0;
    if (r.worker_pid > 0 &&
        xlmig__proc_alive((pid_t)r.worker_pid, r.worker_start) &&
        r.worker_pid != getpid())
        return 0;               /* still at work */
    rc = run->hv->open(ctx, &hv);
    if (rc)
        return rc;
    if (role == XLMIG__MIG_SRC) {
        rc = recover_src(ctx, run, hv, &r);
    } else if (r.phase == XLMIG__MIG_GO) {
        finish_dst(ctx, run, hv, &r);
    } else {
        xlmig__mig_dst_undo(ctx, run, hv, &r);
        ended(ctx, run, &r, LIBXLMIG_ERR_VM_MIGRATE_FAILED, "the migration's "
              "receiving worker ended before the switch; what it made was "
              "removed");
    }
    run->hv->close(hv);
    return rc;
}

/* SPDX-License-Identifier: LGPL-2.1-only */
/*
 * The destination worker of a vm-migrate task (docs/specs/vm-migrate.md):
 * the channel, the VM's configuration rewritten for this host, libxl's
 * restore, and the two-phase commit.  Before its journal says "go" it
 * only ever destroys what it made; after, it only finishes.
 */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "cpurecord.h"
#include "jsonfile.h"
#include "migrate.h"
#include "migrate-run.h"
#include "migrate-wire.h"
#include "net.h"
#include "proc.h"
#include "rpc.h"
#include "sr.h"
#include "vmconfig.h"
#include "vmrec.h"

#define ACCEPT_TIMEOUT_MS 120000
#define PREAMBLE_TIMEOUT_MS 120000
#define GO_TIMEOUT_MS 300000
#define LINK_GRACE_MS 5000

struct recv {
    libxlmig_ctx *ctx;
    const struct xlmig__mig_run *run;
    struct xlmig__mig_record r;
    struct xlmig__hv *hv;
    struct xlmig__mig_link *link;
    char *pre;                          /* the preamble's JSON */
    size_t pre_len;
    char *config;                       /* rewritten for this host */
    char *final_config;                 /* ... with its own name */
    uint32_t domid;
    bool restored;
};

static bool stop_asked(struct recv *v)
{
    return *v->run->cancel || (v->run->parent_gone &&
                               v->run->parent_gone(v->run->opaque));
}

static int journal(struct recv *v, enum xlmig__mig_phase phase)
{
    v->r.phase = phase;
    return xlmig__mig_record_save(v->ctx, v->run->state_dir, &v->r);
}

/* One connection on the daemon's socket, within the timeout. */
static int accept_one(struct recv *v, int *fd_r)
{
    double until = xlmig__now_s() + ACCEPT_TIMEOUT_MS / 1000.0;

    while (xlmig__now_s() < until) {
        struct pollfd p = { .fd = v->run->listen_fd, .events = POLLIN };
        int fd;

        if (stop_asked(v))
            return xlmig__error(v->ctx, LIBXLMIG_ERR_CANCELLED, -1,
                                "migration %s of VM %s was cancelled before "
                                "its stream came", v->r.task, v->r.vm);
        if (poll(&p, 1, 100) <= 0)
            continue;
        fd = accept4(v->run->listen_fd, NULL, NULL, SOCK_CLOEXEC);
        if (fd >= 0) {
            xlmig__socket_keepalive(fd);
            *fd_r = fd;
            return 0;
        }
    }
    return xlmig__error(v->ctx, LIBXLMIG_ERR_TIMEOUT, -1, "migration %s: "
                        "host %s did not open the memory stream of VM %s",
                        v->r.task, v->r.source, v->r.vm);
}

/* Was VDI @uuid announced for this task by the source's daemon call? */
static struct xlmig__mig_vdi *task_vdi(struct recv *v, const char *uuid)
{
    size_t i;

    for (i = 0; i < v->r.nr_vdis; i++) {
        if (!strcmp(v->r.vdis[i].dst_vdi, uuid))
            return &v->r.vdis[i];
    }
    return NULL;
}

/* The preamble: this host's configuration of the VM. */
static int configure(struct recv *v)
{
    struct xlmig__vmcfg_edit e;
    char incoming[XLMIG__DOM_NAME_MAX + 1], why[256];
    char paths[XLMIG__VMCFG_DISKS_MAX][XLMIG__SR_PATH_MAX];
    char formats[XLMIG__VMCFG_DISKS_MAX][8];
    yajl_val root = NULL, cfg, arr;
    yajl_gen g = NULL;
    const unsigned char *buf;
    const char *task;
    size_t i, blen;
    int rc;

    memset(&e, 0, sizeof(e));
    rc = xlmig__mig_preamble_tree(v->pre, v->pre_len, &root, why,
                                  sizeof(why));
    if (rc)
        return xlmig__error(v->ctx, LIBXLMIG_ERR_PROTOCOL, -1, "host %s "
                            "sent a preamble that is not JSON: %s",
                            v->r.source, why);
    task = xlmig__rpc_get_str(root, "task");
    cfg = xlmig__rpc_get(root, "config");
    if (!task || strcmp(task, v->r.task) || !YAJL_IS_OBJECT(cfg)) {
        rc = xlmig__error(v->ctx, LIBXLMIG_ERR_PROTOCOL, -1, "host %s sent "
                          "the preamble of another task, or no "
                          "configuration", v->r.source);
        goto out;
    }
    arr = xlmig__rpc_get(root, "disks");
    for (i = 0; YAJL_IS_ARRAY(arr) && i < arr->u.array.len; i++) {
        yajl_val o = arr->u.array.values[i];
        const char *vdev = xlmig__rpc_get_str(o, "vdev");
        const char *uuid = xlmig__rpc_get_str(o, "vdi");
        struct xlmig__mig_vdi *mv;
        struct xlmig__sr sr;
        struct xlmig__vdi vdi;

        if (!vdev || !uuid || strlen(vdev) > XLMIG__VMCFG_VDEV_MAX ||
            i >= XLMIG__VMCFG_DISKS_MAX || !(mv = task_vdi(v, uuid))) {
            rc = xlmig__error(v->ctx, LIBXLMIG_ERR_PROTOCOL, -1, "host %s "
                              "named a disk that is not one this task "
                              "made", v->r.source);
            goto out;
        }
        rc = xlmig__vdi_find(v->ctx, v->run->state_dir, uuid, &sr, &vdi);
        if (!rc)
            rc = xlmig__vdi_path(&sr, uuid, xlmig__vdi_format_name(
                                     vdi.format), paths[i], sizeof(paths[i]));
        if (rc)
            goto out;
        xlmig__strlcpy(mv->vdev, vdev, sizeof(mv->vdev));
        xlmig__strlcpy(formats[i], xlmig__vdi_format_name(vdi.format),
                       sizeof(formats[i]));
        e.disks[e.nr_disks].vdev = mv->vdev;
        e.disks[e.nr_disks].path = paths[i];
        e.disks[e.nr_disks].format = formats[i];
        e.nr_disks++;
    }
    arr = xlmig__rpc_get(root, "nics");
    for (i = 0; YAJL_IS_ARRAY(arr) && i < arr->u.array.len &&
                i < XLMIG__VMCFG_NICS_MAX; i++) {
        yajl_val o = arr->u.array.values[i];

        e.nics[e.nr_nics].mac = xlmig__rpc_get_str(o, "mac");
        e.nics[e.nr_nics].bridge = xlmig__rpc_get_str(o, "bridge");
        if (!e.nics[e.nr_nics].mac || !e.nics[e.nr_nics].bridge) {
            rc = xlmig__error(v->ctx, LIBXLMIG_ERR_PROTOCOL, -1, "host %s "
                              "sent a VIF map without a MAC or bridge",
                              v->r.source);
            goto out;
        }
        e.nr_nics++;
    }
    g = xlmig__gen_new();
    if (!g || xlmig__rpc_gen_value(g, cfg) ||
        yajl_gen_get_buf(g, &buf, &blen) != yajl_gen_status_ok) {
        rc = LIBXLMIG_ERR_NO_MEMORY;
        goto out;
    }
    /* A copy is another VM: a uuid of its own. */
    {
        yajl_val cp = xlmig__rpc_get(root, "copy");

        if (YAJL_IS_TRUE(cp)) {
            rc = xlmig__uuid_generate(v->ctx, v->r.vm_uuid);
            if (rc)
                goto out;
            e.uuid = v->r.vm_uuid;
        }
    }
    snprintf(incoming, sizeof(incoming), "%.100s--incoming", v->r.vm);
    e.name = incoming;
    rc = xlmig__vmcfg_rewrite(v->ctx, (const char *)buf, blen, &e,
                              &v->config);
    if (rc)
        goto out;
    e.name = v->r.vm;
    rc = xlmig__vmcfg_rewrite(v->ctx, (const char *)buf, blen, &e,
                              &v->final_config);
 out:
    if (g)
        yajl_gen_free(g);
    yajl_tree_free(root);
    return rc;
}

/* After "go": the VM is this host's; make it so, whatever happens. */
static int take(struct recv *v)
{
    size_t i;
    int rc = 0;

    if (v->r.live) {
        if (v->run->hv->unpause(v->hv, v->domid))
            rc = LIBXLMIG_ERR_XEN_CALL_FAILED;
        if (v->run->hv->rename(v->hv, v->domid, v->r.vm))
            rc = rc ? rc : LIBXLMIG_ERR_XEN_CALL_FAILED;
    }
    for (i = 0; i < v->r.nr_vdis; i++) {
        const struct xlmig__mig_vdi *mv = &v->r.vdis[i];
        int e;

        if (!mv->vdev[0])
            continue;
        v->ctx->last_error[0] = '\0';  /* no older error said as its */
        e = xlmig__vbd_create(v->ctx, v->run->state_dir, mv->dst_vdi,
                              v->r.vm, mv->vdev, NULL);
        if (e) {
            xlmig__log(v->ctx, XTL_ERROR, -1, "migration %s: VM %s: no VBD "
                       "%s on VDI %s recorded: %s: %s; add it with "
                       "`xlmig-xe vbd-create vm=%s vdi-uuid=%s device=%s`",
                       v->r.task, v->r.vm, mv->vdev, mv->dst_vdi,
                       libxlmig_strerror_name(e),
                       v->ctx->last_error[0] ? v->ctx->last_error
                                             : "(no message)", v->r.vm,
                       mv->dst_vdi, mv->vdev);
            rc = rc ? rc : e;
        }
    }
    if (v->final_config &&
        xlmig__vmrec_save(v->ctx, v->run->state_dir, v->r.vm_uuid, v->r.vm,
                          v->final_config, strlen(v->final_config)))
        rc = rc ? rc : LIBXLMIG_ERR_IO;
    if (v->r.live) {
        struct xlmig__vm_record cr;

        memset(&cr, 0, sizeof(cr));
        if (!v->run->hv->cpu(v->hv, v->domid, &cr.cpu) &&
            !xlmig__name_check(NULL, "VM name", v->r.vm)) {
            xlmig__strlcpy(cr.name, v->r.vm, sizeof(cr.name));
            xlmig__strlcpy(cr.uuid, v->r.vm_uuid, sizeof(cr.uuid));
            cr.type = LIBXLMIG_GUEST_HVM;
            xlmig__strlcpy(cr.host, v->run->conf->name, sizeof(cr.host));
            cr.recorded = (int64_t)time(NULL);
            (void)xlmig__vm_record_save(v->ctx, v->run->state_dir, &cr);
        }
    }
    return rc;
}

int xlmig__mig_recv_run(libxlmig_ctx *ctx, const struct xlmig__mig_run *run)
{
    struct recv *v;
    libxlmig_tls_params tp;
    char line[XLMIG__MIG_LINE_MAX + 1];
    int fd = -1, rc;

    v = xlmig__zalloc(sizeof(*v));
    if (!v)
        return LIBXLMIG_ERR_NO_MEMORY;
    v->ctx = ctx;
    v->run = run;
    rc = xlmig__mig_record_load(ctx, run->state_dir, XLMIG__MIG_DST,
                                run->task, &v->r);
    if (rc)
        goto out_free;
    v->r.worker_pid = getpid();
    v->r.worker_start = xlmig__proc_start_time(getpid());
    rc = journal(v, XLMIG__MIG_LISTENING);
    if (!rc)
        rc = run->hv->open(ctx, &v->hv);
    if (!rc)
        rc = accept_one(v, &fd);
    if (rc)
        goto fail;
    xlmig__pool_conf_tls(run->conf, &tp, "the migration's source");
    rc = xlmig__mig_link_open(ctx, fd, true, &tp, false, NULL, &v->link);
    if (!rc)
        rc = xlmig__mig_preamble_read(ctx, v->link->from_peer, v->r.source,
                                      PREAMBLE_TIMEOUT_MS, run->cancel,
                                      &v->pre, &v->pre_len);
    if (!rc)
        rc = configure(v);
    if (!rc)
        rc = journal(v, XLMIG__MIG_RESTORING);
    if (rc)
        goto fail;
    if (v->r.live) {
        rc = run->hv->restore(v->hv, v->config, v->link->from_peer,
                              &v->domid);
        if (rc)
            goto fail;
        v->restored = true;
        v->r.domid = v->domid;
    }
    rc = journal(v, XLMIG__MIG_READY);
    if (!rc && xlmig__mig_line_write(v->link->to_peer, XLMIG__MIGL_READY))
        rc = xlmig__error(ctx, LIBXLMIG_ERR_IO, -1, "cannot tell host %s "
                          "that VM %s is ready", v->r.source, v->r.vm);
    if (!rc)
        rc = xlmig__mig_line_read(ctx, v->link->from_peer, v->r.source, line,
                                  sizeof(line), GO_TIMEOUT_MS, run->cancel);
    if (!rc && strcmp(line, XLMIG__MIGL_GO))
        rc = xlmig__error(ctx, LIBXLMIG_ERR_PROTOCOL, -1, "host %s sent "
                          "'%.60s' where 'go' was due", v->r.source, line);
    if (!rc && stop_asked(v))
        rc = xlmig__error(ctx, LIBXLMIG_ERR_CANCELLED, -1, "migration %s "
                          "stopped before the switch", v->r.task);
    if (rc)
        goto fail;

    /* The commit point: from here on the VM is ours. */
    rc = journal(v, XLMIG__MIG_GO);
    if (rc)
        goto fail;
    rc = take(v);
    if (rc)
        xlmig__log(ctx, XTL_ERROR, -1, "migration %s: VM %s is this host's, "
                   "but not all of it went well: %s", v->r.task, v->r.vm,
                   libxlmig_ctx_last_error(ctx));
    (void)xlmig__mig_line_write(v->link->to_peer, XLMIG__MIGL_DONE);
    v->r.state = XLMIG__MIG_DONE;
    v->r.progress = 100;
    v->r.ended = (int64_t)time(NULL);
    (void)journal(v, XLMIG__MIG_ENDED);
    (void)xlmig__mig_link_close(v->link, LINK_GRACE_MS);
    v->link = NULL;
    xlmig__log(ctx, XTL_NOTICE, -1, "migration %s: VM %s runs here now "
               "(domain %" PRIu32 ")", v->r.task, v->r.vm, v->domid);
    rc = 0;
    goto out;

 fail:
    if (v->link) {
        char msg[XLMIG__MIG_LINE_MAX];

        snprintf(msg, sizeof(msg), XLMIG__MIGL_FAILED " %s %.900s",
                 libxlmig_strerror_name(rc), libxlmig_ctx_last_error(ctx));
        (void)xlmig__mig_line_write(v->link->to_peer, msg);
    }
    xlmig__strlcpy(v->r.error, libxlmig_strerror_name(rc),
                   sizeof(v->r.error));
    xlmig__strlcpy(v->r.message, libxlmig_ctx_last_error(ctx),
                   sizeof(v->r.message));
    (void)journal(v, XLMIG__MIG_ROLLBACK);
    xlmig__mig_dst_undo(ctx, run, v->hv, &v->r);
    v->r.state = XLMIG__MIG_FAILED;
    v->r.ended = (int64_t)time(NULL);
    (void)journal(v, XLMIG__MIG_ENDED);
 out:
    if (v->link)
        (void)xlmig__mig_link_close(v->link, 0);
    if (v->hv)
        run->hv->close(v->hv);
    free(v->pre);
    free(v->config);
    free(v->final_config);
 out_free:
    free(v);
    return rc;
}

/* SPDX-License-Identifier: LGPL-2.1-only */
/*
 * Storage motion on this host: a destination and a source on the same
 * host over a unix socket, then the VM's disk switched to the copy
 * (sxm.h, docs/specs/sxm.md).
 */
#include <stdio.h>
#include <string.h>
#include <sys/un.h>

#include "proc.h"
#include "sxm-preflight.h"
#include "sxm-internal.h"

/* ------------------------------------------------------------ this host */

/* Carry @old's VBDs and flags over to @new_uuid, then destroy @old. */
static int move_identity(libxlmig_ctx *ctx, const char *state_dir,
                         const struct xlmig__vdi *old, const char *new_uuid)
{
    struct xlmig__vdi_flags f = XLMIG__VDI_FLAGS_KEEP;
    unsigned int i;
    int rc;

    f.on_boot = (int)old->on_boot;
    f.sharable = old->sharable;
    rc = xlmig__vdi_param_set(ctx, state_dir, new_uuid, &f, NULL);
    for (i = 0; !rc && i < old->nr_vbds; i++) {
        rc = xlmig__vbd_destroy(ctx, state_dir, old->uuid, old->vbds[i].vm,
                                NULL);
        if (!rc)
            rc = xlmig__vbd_create(ctx, state_dir, new_uuid,
                                   old->vbds[i].vm, old->vbds[i].device,
                                   NULL);
    }
    if (!rc)
        rc = xlmig__vdi_destroy(ctx, state_dir, old->uuid);
    if (rc)
        xlmig__log(ctx, XTL_ERROR, -1, "VDI %s was copied to %s, but the old "
                   "one could not be retired; remove it with `xlmig-xe "
                   "vdi-destroy uuid=%s` once its VBDs are on the new one",
                   old->name, new_uuid, old->uuid);
    return rc;
}

/*
 * Point the VM's disk (node @node) at VDI @img of format @fmt: a mirror
 * with sync=none to a new node of it, completed at once.  The guest is
 * paused and the two images are equal, so nothing is copied.
 */
static int pivot(libxlmig_ctx *ctx, const struct xlmig__sxm_qemu *qm,
                 const char *node, const char *task, const char *newvdi,
                 const char *img, const char *fmt, const char *vdi)
{
    char nn[48], nf[48], job[48], why[512];
    unsigned int waited;
    struct xlmig__sxm_job j;
    yajl_gen g;
    bool ok;
    int rc;

    /* The disk's nodes from now on: named after the new VDI. */
    snprintf(nn, sizeof(nn), "vdi-%.8s", newvdi);
    snprintf(nf, sizeof(nf), "vdi-%.8s-file", newvdi);
    snprintf(job, sizeof(job), "xlmig-%.8s-pivot", task);
    g = xlmig__qmp_gen("blockdev-add");
    ok = g && gkv(g, "driver", fmt) && gkv(g, "node-name", nn) &&
         gs(g, "file") && yajl_gen_map_open(g) == yajl_gen_status_ok &&
         gkv(g, "driver", "file") && gkv(g, "node-name", nf) &&
         gkv(g, "filename", img) &&
         yajl_gen_map_close(g) == yajl_gen_status_ok;
    rc = xlmig__sxm_q_call(qm, g, ok, NULL);
    if (rc)
        return xlmig__error(ctx, rc, -1, "VDI %s: the VM's QEMU cannot open "
                            "the new VDI %s", vdi, img);
    g = xlmig__qmp_gen("blockdev-mirror");
    ok = g && gkv(g, "job-id", job) && gkv(g, "device", node) &&
         gkv(g, "target", nn) && gkv(g, "sync", "none") && g_keep_job(g);
    rc = xlmig__sxm_q_call(qm, g, ok, NULL);
    if (rc)
        return xlmig__error(ctx, rc, -1, "VDI %s: cannot switch the disk "
                            "to %s", vdi, img);
    for (waited = 0; waited < JOB_END_MS; waited += 20) {
        rc = xlmig__sxm_job_query(qm, job, &j);
        if (rc)
            return rc;
        if (j.ready || !j.found || xlmig__sxm_job_concluded(&j))
            break;
        xlmig__sleep_ms(20);
    }
    if (j.ready)
        rc = xlmig__sxm_q_simple(qm, "job-complete", "id", job);
    else if (j.found && !xlmig__sxm_job_concluded(&j))
        rc = LIBXLMIG_ERR_TIMEOUT;      /* never ready */
    if (!rc)
        rc = xlmig__sxm_job_finish(ctx, qm, job, vdi, JOB_END_MS, why,
                                   sizeof(why));
    if (!rc && (why[0] || !j.ready))
        rc = LIBXLMIG_ERR_IO;
    if (rc)
        return xlmig__error(ctx, rc, -1, "VDI %s: the switch to %s did not "
                            "complete%s%s", vdi, img, why[0] ? ": " : "",
                            why);
    /* The old image's nodes, now unused, are closed when they are ours
     * to close (a -drive's are not). */
    {
        yajl_gen d = xlmig__qmp_gen("blockdev-del");

        if (d && gkv(d, "node-name", node))
            (void)xlmig__qmp_call_once(ctx, qm->sock, 0, d, NULL);
        else if (d)
            yajl_gen_free(d);
    }
    return 0;
}

/*
 * The move's checks: the VDI (into @sr, @vdi), the SR it goes to (into
 * @dsr), the format (into *fmt_r: the VDI's, or the one asked for), and
 * the preflight; *alloc_r the VDI's allocated bytes.
 */
static int move_check(libxlmig_ctx *ctx,
                      const struct xlmig__sxm_move_req *req,
                      struct xlmig__sr *sr, struct xlmig__vdi *vdi,
                      struct xlmig__sr *dsr, enum xlmig__vdi_format *fmt_r,
                      uint64_t *alloc_r)
{
    struct xlmig__sr_space space, dspace;
    uint64_t virt;
    int rc;

    rc = xlmig__vdi_find(ctx, req->state_dir, req->vdi, sr, vdi);
    if (rc)
        return rc;
    rc = xlmig__sr_find(ctx, req->state_dir, req->sr, dsr);
    if (rc)
        return rc;
    *fmt_r = vdi->format;
    if (req->format && !strcmp(req->format, "raw"))
        *fmt_r = XLMIG__VDI_RAW;
    else if (req->format && !strcmp(req->format, "qcow2"))
        *fmt_r = XLMIG__VDI_QCOW2;
    else if (req->format)
        return xlmig__error(ctx, LIBXLMIG_ERR_INVALID_ARGUMENT, -1,
                            "VDI %s: format must be qcow2 or raw", vdi->name);
    if ((rc = xlmig__vdi_sizes(ctx, sr, vdi, &virt, alloc_r)) ||
        (rc = xlmig__sr_space(ctx, sr, &space)) ||
        (rc = xlmig__sr_space(ctx, dsr, &dspace)))
        return rc;
    return xlmig__sxm_preflight(ctx, sr, &space, vdi, *alloc_r, dsr, &dspace,
                                *fmt_r, req->qmp != NULL, req->vm, NULL);
}

/*
 * Where the destination is served: a new unix socket of the state
 * directory, "unix:STATE/sxm/TAG.sock", into @listen.
 */
static int move_listen(libxlmig_ctx *ctx, const char *state_dir,
                       char *listen, size_t cap)
{
    char sock[PATH_MAX_], tag[XLMIG__UUID_LEN + 1];
    int rc;

    rc = xlmig__uuid_generate(ctx, tag);
    if (rc)
        return rc;
    rc = xlmig__sxm_task_path(ctx, state_dir, tag, "sock", sock,
                              sizeof(sock));
    if (rc)
        return rc;
    if (strlen(sock) >= sizeof(((struct sockaddr_un *)0)->sun_path))
        return xlmig__error(ctx, LIBXLMIG_ERR_INVALID_ARGUMENT, -1,
                            "state directory too long for a socket: %s",
                            sock);
    snprintf(listen, cap, "unix:%s", sock);
    return 0;
}

int xlmig__sxm_move(libxlmig_ctx *ctx, const struct xlmig__sxm_move_req *req,
                    char vdi_r[XLMIG__UUID_LEN + 1])
{
    struct xlmig__sxm_recv_req rreq;
    struct xlmig__sxm_send_req sreq;
    struct xlmig__sxm_record dst, src;
    struct xlmig__sr sr, dsr;
    struct xlmig__vdi vdi;
    char listen[PATH_MAX_ + 8], newvdi[XLMIG__UUID_LEN + 1], img[PATH_MAX_];
    enum xlmig__vdi_format fmt;
    uint64_t alloc;
    bool dst_made = false, src_saved = false;
    int rc;

    memset(&dst, 0, sizeof(dst));
    memset(&src, 0, sizeof(src));
    rc = move_check(ctx, req, &sr, &vdi, &dsr, &fmt, &alloc);
    if (rc)
        return rc;
    /* Served here, on a unix socket of the state directory. */
    rc = move_listen(ctx, req->state_dir, listen, sizeof(listen));
    if (rc)
        return rc;
    memset(&rreq, 0, sizeof(rreq));
    rreq.state_dir = req->state_dir;
    rreq.sr = dsr.uuid;
    rreq.name = vdi.name;
    rreq.virtual_size = vdi.virtual_size;
    rreq.format = xlmig__vdi_format_name(fmt);
    rreq.listen = listen;
    rreq.src_allocated = alloc;
    rc = xlmig__sxm_recv_start(ctx, &rreq, &dst);
    if (rc)
        return rc;
    dst_made = true;

    memset(&sreq, 0, sizeof(sreq));
    sreq.state_dir = req->state_dir;
    sreq.vdi = vdi.uuid;
    sreq.qmp = req->qmp;
    sreq.node = req->node;
    sreq.dest = listen;
    sreq.vm = req->vm;
    sreq.bwlimit = req->bwlimit;
    sreq.progress = req->progress;
    sreq.switch_ready = req->switch_ready;
    sreq.opaque = req->opaque;
    sreq.cancel = req->cancel;
    if (req->qmp) {
        rc = xlmig__sxm_send(ctx, &sreq, &src);
        if (rc)
            goto out;
    } else {
        rc = xlmig__sxm_copy(ctx, &sreq);
        if (rc)
            goto out;
    }
    rc = xlmig__sxm_recv_finalize(ctx, req->state_dir, dst.task, newvdi);
    if (rc)
        goto out;
    dst_made = false;           /* the VDI is whole; it stays */
    if (req->qmp) {
        struct xlmig__sxm_qemu qm = { .ctx = ctx, .sock = req->qmp };

        if (xlmig__vdi_path(&dsr, newvdi, xlmig__vdi_format_name(fmt), img,
                            sizeof(img))) {
            rc = LIBXLMIG_ERR_INVALID_ARGUMENT;
            goto out;
        }
        rc = pivot(ctx, &qm, src.node, src.task, newvdi, img,
                   xlmig__vdi_format_name(fmt), vdi.name);
        if (rc) {
            xlmig__log(ctx, XTL_ERROR, -1, "VDI %s: the VM still runs on it "
                       "(whole); the copy %s in SR %s is complete and may "
                       "be destroyed", vdi.name, newvdi, dsr.name);
            goto out;
        }
    }
    if (src_saved) {
        xlmig__sxm_record_remove(ctx, req->state_dir, src.task);
        src_saved = false;
    }
    if (!req->keep)
        rc = move_identity(ctx, req->state_dir, &vdi, newvdi);
    if (vdi_r)
        xlmig__strlcpy(vdi_r, newvdi, XLMIG__UUID_LEN + 1);
 out:
    if (rc && src_saved)
        (void)xlmig__sxm_src_rollback(ctx, req->state_dir, &src);
    if (rc && dst_made)
        (void)xlmig__sxm_recv_cancel(ctx, req->state_dir, dst.task);
    return rc;
}

/* SPDX-License-Identifier: LGPL-2.1-only */
/*
 * Storage motion, the destination side: the parent and leaf made and
 * served over NBD (receive start), composed into one VDI (finalize) or
 * removed (cancel) (sxm.h, docs/specs/sxm.md).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "addr.h"
#include "cpurecord.h"
#include "proc.h"
#include "sxm-preflight.h"
#include "sxm-internal.h"

#define LEAF_OPTS "extended_l2=on,cluster_size=16k"

/* ------------------------------------------------------------ destination */

/*
 * Start the exporter of @r (files made); exporter fields set.  The
 * owner stays the process that started the destination (the daemon, or
 * the command), so that recovery sees the task die with it although
 * the exporter, a daemon of its own, serves on.
 */
static int exporter_start(libxlmig_ctx *ctx, const char *state_dir,
                          const struct xlmig__sr *sr,
                          struct xlmig__sxm_record *r, const char *tls_dir)
{
    char pidfile[PATH_MAX_], ppath[PATH_MAX_], lpath[PATH_MAX_];
    char bp_file[PATH_MAX_ + 80], bp[128], bl_file[PATH_MAX_ + 80], bl[160];
    char tls[PATH_MAX_ + 96], srv[PATH_MAX_ + 96], host[256], port[8];
    char what[PATH_MAX_ + 600];
    const char *upath;
    char *argv[24];
    size_t len, n = 0;
    int rc;

    rc = xlmig__sxm_task_path(ctx, state_dir, r->task, "pid", pidfile,
                              sizeof(pidfile));
    if (rc)
        return rc;
    if (xlmig__vdi_path(sr, r->parent, xlmig__vdi_format_name(r->format),
                        ppath, sizeof(ppath)) ||
        xlmig__vdi_path(sr, r->leaf, "qcow2", lpath, sizeof(lpath)) ||
        xlmig__endpoint_split(r->listen, host, sizeof(host), port,
                              sizeof(port), &upath))
        return xlmig__error(ctx, LIBXLMIG_ERR_INVALID_ARGUMENT, -1,
                            "task %s: path or address too long", r->task);
    xlmig__sxm_unlink_quiet(ctx, pidfile);
    /* QEMU would unlink a socket in the way and take its place. */
    if (upath && !access(upath, F_OK))
        return xlmig__error(ctx, LIBXLMIG_ERR_IO, EADDRINUSE, "VDI %s: "
                            "cannot serve its parent and leaf at %s: %s is "
                            "there already (another move's?)", r->vdi_name,
                            r->listen, upath);
    len = (size_t)snprintf(bp_file, sizeof(bp_file),
                           "driver=file,node-name=xp-file,filename=");
    if (!xlmig__qemu_opt_append(bp_file, sizeof(bp_file), &len, ppath))
        return LIBXLMIG_ERR_INVALID_ARGUMENT;
    snprintf(bp, sizeof(bp), "driver=%s,node-name=xp,file=xp-file",
             xlmig__vdi_format_name(r->format));
    len = (size_t)snprintf(bl_file, sizeof(bl_file),
                           "driver=file,node-name=xl-file,filename=");
    if (!xlmig__qemu_opt_append(bl_file, sizeof(bl_file), &len, lpath))
        return LIBXLMIG_ERR_INVALID_ARGUMENT;
    snprintf(bl, sizeof(bl), "driver=qcow2,node-name=xl,file=xl-file,"
             "backing=xp");
    if (upath) {
        len = (size_t)snprintf(srv, sizeof(srv), "addr.type=unix,addr.path=");
        if (!xlmig__qemu_opt_append(srv, sizeof(srv), &len, upath))
            return LIBXLMIG_ERR_INVALID_ARGUMENT;
    } else {
        len = (size_t)snprintf(srv, sizeof(srv),
                               "addr.type=inet,addr.host=%s,addr.port=%s",
                               host, port);
    }
    if (tls_dir) {
        if (!xlmig__sxm_tls_object(tls_dir, true, tls, sizeof(tls)) ||
            len + 25 >= sizeof(srv))
            return xlmig__error(ctx, LIBXLMIG_ERR_INVALID_ARGUMENT, -1,
                                "TLS directory %s: path too long", tls_dir);
        strcat(srv, ",tls-creds=xlmig-tls");
    }
    argv[n++] = "qemu-storage-daemon";
    argv[n++] = "--daemonize";
    argv[n++] = "--pidfile";
    argv[n++] = pidfile;
    if (tls_dir) {
        argv[n++] = "--object";
        argv[n++] = tls;
    }
    argv[n++] = "--blockdev";
    argv[n++] = bp_file;
    argv[n++] = "--blockdev";
    argv[n++] = bp;
    argv[n++] = "--blockdev";
    argv[n++] = bl_file;
    argv[n++] = "--blockdev";
    argv[n++] = bl;
    argv[n++] = "--nbd-server";
    argv[n++] = srv;
    argv[n++] = "--export";
    argv[n++] = "type=nbd,id=" EXPORT_PARENT ",name=" EXPORT_PARENT
                ",node-name=xp,writable=on";
    argv[n++] = "--export";
    argv[n++] = "type=nbd,id=" EXPORT_LEAF ",name=" EXPORT_LEAF
                ",node-name=xl,writable=on";
    argv[n] = NULL;
    snprintf(what, sizeof(what), "VDI %s: cannot serve its parent and leaf "
             "at %s with %s (check that the address is free and "
             "qemu-system-common is installed)", r->vdi_name, r->listen,
             xlmig__qsd_bin());
    return xlmig__sxm_qsd_daemon(ctx, argv, what, pidfile, &r->exporter_pid,
                                 &r->exporter_start);
}

static void exporter_stop(libxlmig_ctx *ctx, const char *state_dir,
                          const struct xlmig__sxm_record *r)
{
    char pidfile[PATH_MAX_];
    bool have_path = !xlmig__sxm_task_path(ctx, state_dir, r->task, "pid",
                                           pidfile, sizeof(pidfile));
    int64_t pid = r->exporter_pid;
    uint64_t start = r->exporter_start;

    xlmig__sxm_daemon_stop(ctx, r->task, "the exporter",
                           have_path ? pidfile : NULL, &pid, &start);
    if (have_path)
        xlmig__sxm_unlink_quiet(ctx, pidfile);
    /* Its unix socket, which QEMU leaves behind. */
    if (pid && !strncmp(r->listen, "unix:", 5) &&
        !xlmig__proc_alive((pid_t)pid, start))
        xlmig__sxm_unlink_quiet(ctx, r->listen + 5);
}

/*
 * The destination's lease, STATE/sxm/TASK.lease: the daemon that serves
 * it for a connected source marks it so (docs/specs/sxm.md); it goes
 * with the task, after the record.
 */
static void lease_remove(libxlmig_ctx *ctx, const char *state_dir,
                         const char *task)
{
    char path[PATH_MAX_];

    if (!xlmig__sxm_task_path(ctx, state_dir, task, "lease", path,
                              sizeof(path)))
        xlmig__sxm_unlink_quiet(ctx, path);
}

/* Undo a destination: exporter, leaf, parent, record, lease. */
int xlmig__sxm_dst_rollback(libxlmig_ctx *ctx, const char *state_dir,
                            struct xlmig__sxm_record *r)
{
    struct xlmig__sr sr;
    int rc;

    if (r->phase != XLMIG__SXM_ROLLBACK) {
        rc = xlmig__sxm_record_phase(ctx, state_dir, r, XLMIG__SXM_ROLLBACK);
        if (rc)
            return rc;
    }
    exporter_stop(ctx, state_dir, r);
    rc = xlmig__sr_find(ctx, state_dir, r->sr, &sr);
    if (rc)
        return rc;
    xlmig__sxm_vdi_files_remove(ctx, &sr, r->leaf, XLMIG__VDI_QCOW2);
    xlmig__sxm_vdi_files_remove(ctx, &sr, r->parent, r->format);
    xlmig__sxm_record_remove(ctx, state_dir, r->task);
    lease_remove(ctx, state_dir, r->task);
    xlmig__log(ctx, XTL_INFO, -1, "task %s: parent %s and leaf %s of VDI "
               "%s removed from SR %s", r->task, r->parent, r->leaf,
               r->vdi_name, sr.name);
    return 0;
}

/*
 * The destination's checks before anything is made: the address, the
 * name, the size, the format (into *fmt_r), the SR (into @sr), that it
 * takes mirrors, and its free space for the parent and the leaf.
 */
static int recv_check(libxlmig_ctx *ctx,
                      const struct xlmig__sxm_recv_req *req,
                      enum xlmig__vdi_format *fmt_r, struct xlmig__sr *sr)
{
    struct xlmig__sxm_need need;
    struct xlmig__sr_space space;
    uint64_t alloc = req->src_allocated ? req->src_allocated
                                        : req->virtual_size;
    int rc;

    rc = xlmig__sxm_addr_check(ctx, req->listen);
    if (rc)
        return rc;
    rc = xlmig__name_check(ctx, "VDI name", req->name);
    if (rc)
        return rc;
    if (!req->virtual_size || req->virtual_size > XLMIG__VDI_SIZE_MAX ||
        req->virtual_size % 512)
        return xlmig__error(ctx, LIBXLMIG_ERR_INVALID_ARGUMENT, -1,
                            "VDI %s: size %llu is not a multiple of 512 "
                            "from 512 to 64 TiB", req->name,
                            (unsigned long long)req->virtual_size);
    if (!req->format || !strcmp(req->format, "qcow2")) {
        *fmt_r = XLMIG__VDI_QCOW2;
    } else if (!strcmp(req->format, "raw")) {
        *fmt_r = XLMIG__VDI_RAW;
    } else {
        return xlmig__error(ctx, LIBXLMIG_ERR_INVALID_ARGUMENT, -1,
                            "VDI %s: format must be qcow2 or raw",
                            req->name);
    }
    rc = xlmig__sr_find(ctx, req->state_dir, req->sr, sr);
    if (rc)
        return rc;
    if (!(sr->caps & XLMIG__SR_CAP_VDI_MIRROR_IN))
        return xlmig__error(ctx, LIBXLMIG_ERR_SR_DOES_NOT_SUPPORT_MIGRATION,
                            -1, "SR %s (%s) lacks VDI_MIRROR_IN: it cannot "
                            "receive VDI %s", sr->name, sr->uuid, req->name);
    rc = xlmig__sr_space(ctx, sr, &space);
    if (rc)
        return rc;
    rc = xlmig__sxm_needs(req->virtual_size, alloc, *fmt_r, true, NULL,
                          &need);
    if (rc)
        return xlmig__error(ctx, rc, -1, "VDI %s: cannot size its move",
                            req->name);
    if (need.dst_bytes > space.free_space)
        return xlmig__error(ctx,
                            LIBXLMIG_ERR_SR_DESTINATION_SPACE_INSUFFICIENT,
                            -1, "SR %s (%s) has %llu MiB free; VDI %s "
                            "needs %llu MiB there (parent and leaf); free "
                            "space or choose another SR", sr->name,
                            sr->uuid,
                            (unsigned long long)(space.free_space >> 20),
                            req->name,
                            (unsigned long long)(need.dst_bytes >> 20));
    return 0;
}

/*
 * Make @r's parent (@ppath, in the format asked for) and its leaf
 * (@lpath, qcow2 over the parent) of VDI @name in @sr: each its
 * metadata and lock first, then its image.
 */
static int vdis_make(libxlmig_ctx *ctx, const struct xlmig__sr *sr,
                     const struct xlmig__sxm_record *r, const char *name,
                     const char *ppath, const char *lpath)
{
    struct xlmig__vdi parent, leaf;
    char size_arg[32], what[PATH_MAX_ + 600], backing[PATH_MAX_ + 16];
    int rc;

    memset(&parent, 0, sizeof(parent));
    xlmig__strlcpy(parent.uuid, r->parent, sizeof(parent.uuid));
    xlmig__strlcpy(parent.name, name, sizeof(parent.name));
    xlmig__strlcpy(parent.sr_uuid, sr->uuid, sizeof(parent.sr_uuid));
    parent.format = r->format;
    parent.virtual_size = r->virtual_size;
    parent.on_boot = XLMIG__VDI_PERSIST;
    leaf = parent;
    xlmig__strlcpy(leaf.uuid, r->leaf, sizeof(leaf.uuid));
    leaf.format = XLMIG__VDI_QCOW2;
    snprintf(leaf.name, sizeof(leaf.name), "%.*s.leaf",
             (int)(sizeof(leaf.name) - 6), name);

    snprintf(size_arg, sizeof(size_arg), "%llu",
             (unsigned long long)r->virtual_size);
    snprintf(what, sizeof(what), "VDI %s: cannot create its parent in SR %s",
             name, sr->name);
    rc = xlmig__sxm_vdi_meta_write(ctx, sr, &parent, r->task);
    if (rc)
        return rc;
    {
        char *argv[] = { "qemu-img", "create", "-q", "-f",
                         (char *)xlmig__vdi_format_name(r->format),
                         (char *)ppath, size_arg, NULL };

        rc = xlmig__sxm_run_tool(ctx, xlmig__qemu_img_bin(), argv, what);
        if (rc)
            return rc;
    }
    snprintf(what, sizeof(what), "VDI %s: cannot create its leaf in SR %s",
             name, sr->name);
    rc = xlmig__sxm_vdi_meta_write(ctx, sr, &leaf, r->task);
    if (rc)
        return rc;
    snprintf(backing, sizeof(backing), "%s", ppath);
    {
        char *argv[] = { "qemu-img", "create", "-q", "-f", "qcow2", "-o",
                         LEAF_OPTS, "-b", backing, "-F",
                         (char *)xlmig__vdi_format_name(r->format),
                         (char *)lpath, size_arg, NULL };

        return xlmig__sxm_run_tool(ctx, xlmig__qemu_img_bin(), argv, what);
    }
}

int xlmig__sxm_recv_start(libxlmig_ctx *ctx,
                          const struct xlmig__sxm_recv_req *req,
                          struct xlmig__sxm_record *rec_r)
{
    struct xlmig__sxm_record r;
    struct xlmig__sr sr;
    char ppath[PATH_MAX_], lpath[PATH_MAX_];
    int rc;

    memset(&r, 0, sizeof(r));
    rc = recv_check(ctx, req, &r.format, &sr);
    if (rc)
        return rc;
    if ((rc = xlmig__uuid_generate(ctx, r.task)) ||
        (rc = xlmig__uuid_generate(ctx, r.parent)) ||
        (rc = xlmig__uuid_generate(ctx, r.leaf)))
        return rc;
    r.role = XLMIG__SXM_DST;
    r.phase = XLMIG__SXM_CREATING;
    xlmig__strlcpy(r.vdi_name, req->name, sizeof(r.vdi_name));
    r.virtual_size = req->virtual_size;
    xlmig__strlcpy(r.sr, sr.uuid, sizeof(r.sr));
    xlmig__strlcpy(r.listen, req->listen, sizeof(r.listen));
    /* This process (xlmigd, or the command) owns the task; once it is
     * gone, recovery stops the exporter and removes the rest. */
    r.owner_pid = getpid();
    r.owner_start = xlmig__proc_start_time(getpid());
    if (xlmig__vdi_path(&sr, r.parent, xlmig__vdi_format_name(r.format),
                        ppath, sizeof(ppath)) ||
        xlmig__vdi_path(&sr, r.leaf, "qcow2", lpath, sizeof(lpath)))
        return xlmig__error(ctx, LIBXLMIG_ERR_INVALID_ARGUMENT, -1,
                            "SR %s: path too long", sr.name);
    rc = xlmig__sxm_record_save(ctx, req->state_dir, &r);
    if (rc)
        return rc;
    xlmig__sxm_test_stall(XLMIG__SXM_CREATING);

    rc = vdis_make(ctx, &sr, &r, req->name, ppath, lpath);
    if (rc)
        goto out;
    rc = exporter_start(ctx, req->state_dir, &sr, &r, req->tls_dir);
    if (rc)
        goto out;
    rc = xlmig__sxm_record_phase(ctx, req->state_dir, &r, XLMIG__SXM_EXPORTED);
    if (rc)
        goto out;
    xlmig__log(ctx, XTL_INFO, -1, "task %s: VDI %s: parent %s and leaf %s "
               "in SR %s served at %s", r.task, req->name, r.parent, r.leaf,
               sr.name, r.listen);
    if (rec_r)
        *rec_r = r;
 out:
    if (rc)
        (void)xlmig__sxm_dst_rollback(ctx, req->state_dir, &r);
    return rc;
}

static int dst_load(libxlmig_ctx *ctx, const char *state_dir,
                    const char *task, struct xlmig__sxm_record *r)
{
    int rc = xlmig__sxm_record_load(ctx, state_dir, task, r);

    if (!rc && r->role != XLMIG__SXM_DST)
        rc = xlmig__error(ctx, LIBXLMIG_ERR_INVALID_ARGUMENT, -1,
                          "task %s is the source side of a move, not a "
                          "destination", task);
    return rc;
}

int xlmig__sxm_dst_compose(libxlmig_ctx *ctx, const char *state_dir,
                           struct xlmig__sxm_record *r,
                           char vdi_r[XLMIG__UUID_LEN + 1])
{
    char lpath[PATH_MAX_], what[PATH_MAX_ + 600];
    struct xlmig__sr sr;
    struct stat st;
    int rc;

    rc = xlmig__sr_find(ctx, state_dir, r->sr, &sr);
    if (rc)
        return rc;
    /* From here this process owns the task: if it dies, recovery
     * finishes the compose. */
    r->owner_pid = getpid();
    r->owner_start = xlmig__proc_start_time(getpid());
    rc = xlmig__sxm_record_phase(ctx, state_dir, r, XLMIG__SXM_COMPOSING);
    if (rc)
        return rc;
    exporter_stop(ctx, state_dir, r);
    if (xlmig__vdi_path(&sr, r->leaf, "qcow2", lpath, sizeof(lpath)))
        return xlmig__error(ctx, LIBXLMIG_ERR_INVALID_ARGUMENT, -1,
                            "SR %s: path too long", sr.name);
    /* Committing again after a crash writes the same data again. */
    if (!lstat(lpath, &st)) {
        char *argv[] = { "qemu-img", "commit", "-q", "-f", "qcow2", lpath,
                         NULL };

        snprintf(what, sizeof(what), "VDI %s: cannot compose leaf %s onto "
                 "parent %s in SR %s (the task stays; run `xlmig "
                 "sxm-receive-finalize` again)", r->vdi_name, r->leaf,
                 r->parent, sr.name);
        rc = xlmig__sxm_run_tool(ctx, xlmig__qemu_img_bin(), argv, what);
        if (rc)
            return rc;
    }
    xlmig__sxm_vdi_files_remove(ctx, &sr, r->leaf, XLMIG__VDI_QCOW2);
    if (!xlmig__vdi_path(&sr, r->parent, "lock", lpath, sizeof(lpath)))
        xlmig__sxm_unlink_quiet(ctx, lpath);
    (void)xlmig__dir_sync(ctx, sr.path);
    xlmig__sxm_record_remove(ctx, state_dir, r->task);
    lease_remove(ctx, state_dir, r->task);
    xlmig__log(ctx, XTL_INFO, -1, "task %s: VDI %s composed: %s in SR %s",
               r->task, r->vdi_name, r->parent, sr.name);
    if (vdi_r)
        xlmig__strlcpy(vdi_r, r->parent, XLMIG__UUID_LEN + 1);
    return 0;
}

int xlmig__sxm_recv_finalize(libxlmig_ctx *ctx, const char *state_dir,
                             const char *task,
                             char vdi_r[XLMIG__UUID_LEN + 1])
{
    struct xlmig__sxm_record r;
    int rc = dst_load(ctx, state_dir, task, &r);

    if (rc)
        return rc;
    if (r.phase != XLMIG__SXM_EXPORTED && r.phase != XLMIG__SXM_COMPOSING)
        return xlmig__error(ctx, LIBXLMIG_ERR_INVALID_ARGUMENT, -1,
                            "task %s (VDI %s) is %s: only a served "
                            "destination can be finalized; `xlmig "
                            "sxm-recover` cleans it up", task, r.vdi_name,
                            xlmig__sxm_phase_name(r.phase));
    return xlmig__sxm_dst_compose(ctx, state_dir, &r, vdi_r);
}

int xlmig__sxm_recv_cancel(libxlmig_ctx *ctx, const char *state_dir,
                           const char *task)
{
    struct xlmig__sxm_record r;
    int rc = dst_load(ctx, state_dir, task, &r);

    if (rc)
        return rc;
    if (r.phase == XLMIG__SXM_COMPOSING)
        return xlmig__error(ctx, LIBXLMIG_ERR_INVALID_ARGUMENT, -1,
                            "task %s: VDI %s is being composed (the VM "
                            "switched to it); finish it with `xlmig "
                            "sxm-receive-finalize --task %s`", task,
                            r.vdi_name, task);
    return xlmig__sxm_dst_rollback(ctx, state_dir, &r);
}

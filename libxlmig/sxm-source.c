/* SPDX-License-Identifier: LGPL-2.1-only */
/*
 * Storage motion, the source side: the temporary snapshot, the mirror
 * of the writes since, the copy of the snapshot, the switch, and the
 * roll back (sxm.h, docs/specs/sxm.md).
 */
#include <errno.h>
#include <netdb.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "addr.h"
#include "blkcopy.h"
#include "diskstream.h"
#include "net.h"
#include "proc.h"
#include "sxm-preflight.h"
#include "sxm-internal.h"

#define MIRROR_GRANULARITY 65536
#define POLL_MS 200
#define QMP_HOLD_MS 5000            /* the switch's connection, to have */
#define STOP_POLL_MS 50             /* cancel and peer looked at */
#define MIRROR_END_MS 5000          /* a broken mirror concludes */

/* ------------------------------------------------------------ source */

static void proxy_stop(libxlmig_ctx *ctx, const char *state_dir,
                       struct xlmig__sxm_record *r);

/*
 * Stop a daemon of a source task (*pid_r, *start_r; 0: none), named
 * @what in the warning, and remove its files STATE/sxm/TASK.@pid_ext
 * and TASK.@sock_ext.  The record's fields are zeroed.
 */
static void task_daemon_stop(libxlmig_ctx *ctx, const char *state_dir,
                             const char *task, const char *what,
                             int64_t *pid_r, uint64_t *start_r,
                             const char *pid_ext, const char *sock_ext)
{
    char path[PATH_MAX_];
    bool have_path = !xlmig__sxm_task_path(ctx, state_dir, task, pid_ext, path,
                                           sizeof(path));

    xlmig__sxm_daemon_stop(ctx, task, what, have_path ? path : NULL, pid_r,
                           start_r);
    *pid_r = 0;
    *start_r = 0;
    if (have_path)
        xlmig__sxm_unlink_quiet(ctx, path);
    if (!xlmig__sxm_task_path(ctx, state_dir, task, sock_ext, path,
                              sizeof(path)))
        xlmig__sxm_unlink_quiet(ctx, path);
}

static void reader_stop(libxlmig_ctx *ctx, const char *state_dir,
                        struct xlmig__sxm_record *r)
{
    task_daemon_stop(ctx, state_dir, r->task, "the snapshot reader",
                     &r->reader_pid, &r->reader_start, "reader.pid",
                     "snap.sock");
}

static int overlay_path(libxlmig_ctx *ctx, const char *state_dir,
                        const struct xlmig__sxm_record *r, char *out,
                        size_t cap, struct xlmig__sr *sr_r,
                        struct xlmig__vdi *vdi_r)
{
    int rc = xlmig__vdi_find(ctx, state_dir, r->vdi, sr_r, vdi_r), n;

    if (rc)
        return rc;
    n = snprintf(out, cap, "%s/%s.overlay.qcow2", sr_r->path, r->task);
    if (n < 0 || (size_t)n >= cap)
        return xlmig__error(ctx, LIBXLMIG_ERR_INVALID_ARGUMENT, -1,
                            "SR %s: path too long", sr_r->name);
    return 0;
}

/*
 * Undo a source: reader, mirror, overlay (committed back), nodes, files,
 * record.  When its QEMU is gone (no socket, or nothing listens) the
 * overlay file is committed with qemu-img.
 */
int xlmig__sxm_src_rollback(libxlmig_ctx *ctx, const char *state_dir,
                            struct xlmig__sxm_record *r)
{
    char ovpath[PATH_MAX_], what[PATH_MAX_ + 600];
    struct xlmig__sxm_qemu qm = { .ctx = ctx, .sock = r->qmp };
    struct xlmig__qmp *probe = NULL;
    struct xlmig__sr sr;
    struct xlmig__vdi vdi;
    struct xlmig__sxm_node_info ov;
    struct xlmig__sxm_names n;
    struct stat st;
    int rc;

    xlmig__sxm_names_of(r->task, &n);
    if (r->phase != XLMIG__SXM_ROLLBACK) {
        rc = xlmig__sxm_record_phase(ctx, state_dir, r, XLMIG__SXM_ROLLBACK);
        if (rc)
            return rc;
    }
    reader_stop(ctx, state_dir, r);
    rc = overlay_path(ctx, state_dir, r, ovpath, sizeof(ovpath), &sr, &vdi);
    if (rc)
        return rc;
    if (r->offline) {
        xlmig__sxm_record_remove(ctx, state_dir, r->task);
        xlmig__log(ctx, XTL_INFO, -1, "task %s: copy of VDI %s stopped; "
                   "the VDI is as it was", r->task, vdi.name);
        return 0;
    }
    /* Is the QEMU there?  One that is busy is not gone: it still holds
     * the disk, which qemu-img must not touch. */
    rc = xlmig__qmp_connect(ctx, r->qmp, 10000, &probe);
    xlmig__qmp_close(probe);
    if (!rc) {
        rc = xlmig__sxm_mirror_stop(ctx, &qm, n.mirror, vdi.name);
        if (rc)
            return rc;
        rc = xlmig__sxm_overlay_state(&qm, n.ov, &ov);
        if (rc)
            return rc;
        if (ov.found && ov.has_backing) {
            rc = xlmig__sxm_overlay_commit(ctx, &qm, &n, vdi.name);
            if (rc)
                return rc;
        }
        rc = xlmig__sxm_nodes_del(ctx, &qm, &n, vdi.name, r->tls);
        if (rc)
            return rc;
    } else if (rc != LIBXLMIG_ERR_NOT_FOUND && rc != LIBXLMIG_ERR_IO) {
        xlmig__log(ctx, XTL_ERROR, -1, "task %s: the QEMU serving VDI %s "
                   "did not answer at %s; the record stays: run `xlmig "
                   "sxm-recover` again", r->task, vdi.name, r->qmp);
        return rc;
    } else {
        xlmig__log(ctx, XTL_WARN, -1, "task %s: the QEMU serving VDI %s is "
                   "gone from %s; undoing its files offline", r->task,
                   vdi.name, r->qmp);
        if (!lstat(ovpath, &st)) {
            char *argv[] = { "qemu-img", "commit", "-q", "-f", "qcow2",
                             ovpath, NULL };

            snprintf(what, sizeof(what), "VDI %s: cannot commit the overlay "
                     "%s back (the record stays; run `xlmig sxm-recover` "
                     "again)", vdi.name, ovpath);
            rc = xlmig__sxm_run_tool(ctx, xlmig__qemu_img_bin(), argv, what);
            if (rc)
                return rc;
        }
    }
    proxy_stop(ctx, state_dir, r);
    xlmig__sxm_unlink_quiet(ctx, ovpath);
    (void)xlmig__dir_sync(ctx, sr.path);
    xlmig__sxm_record_remove(ctx, state_dir, r->task);
    xlmig__log(ctx, XTL_INFO, -1, "task %s: VDI %s rolled back; it is whole "
               "in SR %s", r->task, vdi.name, sr.name);
    return 0;
}

/*
 * The leaf's proxy: a qemu-storage-daemon on the source, the NBD client
 * of the destination's leaf over TLS, serving it again without TLS on
 * STATE/sxm/TASK.leaf.sock for the VM's QEMU.  A Xen device model is
 * often built without GnuTLS (Debian's qemu-system-xen is), so the VM's
 * QEMU never speaks TLS itself; what it mirrors is acknowledged only
 * once the destination has it (the proxy caches nothing), so the mirror
 * keeps its meaning.  Its pid goes into the record before anything
 * depends on it; proxy_stop() ends it.
 */
static int proxy_start(libxlmig_ctx *ctx, const char *state_dir,
                       struct xlmig__sxm_record *r, const char *tls_dir,
                       const char *host, const char *port, char *sock,
                       size_t sock_cap)
{
    char pidfile[PATH_MAX_], tls[PATH_MAX_ + 96], srv[PATH_MAX_ + 96];
    char bl[600], what[PATH_MAX_ + 600];
    char *argv[20];
    size_t len, n = 0;
    int rc;

    if ((rc = xlmig__sxm_task_path(ctx, state_dir, r->task, "proxy.pid",
                                   pidfile, sizeof(pidfile))) ||
        (rc = xlmig__sxm_task_path(ctx, state_dir, r->task, "leaf.sock", sock,
                                   sock_cap)))
        return rc;
    if (strlen(sock) >= sizeof(((struct sockaddr_un *)0)->sun_path))
        return xlmig__error(ctx, LIBXLMIG_ERR_INVALID_ARGUMENT, -1,
                            "VDI %s: the state directory must be short "
                            "enough for a socket: %s", r->vdi_name, sock);
    xlmig__sxm_unlink_quiet(ctx, pidfile);
    xlmig__sxm_unlink_quiet(ctx, sock);
    if (!xlmig__sxm_tls_object(tls_dir, false, tls, sizeof(tls)))
        return xlmig__error(ctx, LIBXLMIG_ERR_INVALID_ARGUMENT, -1,
                            "TLS directory %s: path too long", tls_dir);
    snprintf(bl, sizeof(bl), "driver=nbd,node-name=leaf,server.type=inet,"
             "server.host=%s,server.port=%s,export=" EXPORT_LEAF
             ",tls-creds=xlmig-tls", host, port);
    len = (size_t)snprintf(srv, sizeof(srv), "addr.type=unix,addr.path=");
    if (!xlmig__qemu_opt_append(srv, sizeof(srv), &len, sock))
        return LIBXLMIG_ERR_INVALID_ARGUMENT;
    argv[n++] = "qemu-storage-daemon";
    argv[n++] = "--daemonize";
    argv[n++] = "--pidfile";
    argv[n++] = pidfile;
    argv[n++] = "--object";
    argv[n++] = tls;
    argv[n++] = "--blockdev";
    argv[n++] = bl;
    argv[n++] = "--nbd-server";
    argv[n++] = srv;
    argv[n++] = "--export";
    argv[n++] = "type=nbd,id=" EXPORT_LEAF ",name=" EXPORT_LEAF
                ",node-name=leaf,writable=on";
    argv[n] = NULL;
    snprintf(what, sizeof(what), "VDI %s: cannot reach the destination's "
             "leaf at %s over TLS with %s", r->vdi_name, r->dest,
             xlmig__qsd_bin());
    rc = xlmig__sxm_qsd_daemon(ctx, argv, what, pidfile, &r->proxy_pid,
                               &r->proxy_start);
    /* Recorded, so that a roll back stops it, whatever happened. */
    if (r->proxy_pid) {
        int rs = xlmig__sxm_record_save(ctx, state_dir, r);

        rc = rc ? rc : rs;
    }
    return rc;
}

static void proxy_stop(libxlmig_ctx *ctx, const char *state_dir,
                       struct xlmig__sxm_record *r)
{
    task_daemon_stop(ctx, state_dir, r->task, "the leaf's proxy",
                     &r->proxy_pid, &r->proxy_start, "proxy.pid",
                     "leaf.sock");
}

/*
 * blockdev-add of the NBD client node of the destination's leaf: over
 * the proxy when the leaf is behind TLS, else straight to it.
 */
static int leaf_node_add(libxlmig_ctx *ctx, const struct xlmig__sxm_qemu *qm,
                         const struct xlmig__sxm_names *n,
                         const char *state_dir, struct xlmig__sxm_record *r,
                         const char *tls_dir)
{
    char host[256], port[8], sock[PATH_MAX_];
    const char *upath;
    yajl_gen g;
    bool ok;
    int rc;

    if (xlmig__endpoint_split(r->dest, host, sizeof(host), port, sizeof(port),
                              &upath))
        return LIBXLMIG_ERR_INVALID_ARGUMENT;
    if (tls_dir) {
        if (upath)
            return xlmig__error(ctx, LIBXLMIG_ERR_INVALID_ARGUMENT, -1,
                                "VDI %s: TLS is for a destination on TCP, "
                                "not %s", r->vdi_name, r->dest);
        rc = proxy_start(ctx, state_dir, r, tls_dir, host, port, sock,
                         sizeof(sock));
        if (rc)
            return rc;
        upath = sock;
    }
    g = xlmig__qmp_gen("blockdev-add");
    ok = g && gkv(g, "driver", "nbd") && gkv(g, "node-name", n->leaf) &&
         gkv(g, "export", EXPORT_LEAF) && gs(g, "server") &&
         yajl_gen_map_open(g) == yajl_gen_status_ok;
    if (ok && upath)
        ok = gkv(g, "type", "unix") && gkv(g, "path", upath);
    else if (ok)
        ok = gkv(g, "type", "inet") && gkv(g, "host", host) &&
             gkv(g, "port", port);
    ok = ok && yajl_gen_map_close(g) == yajl_gen_status_ok;
    rc = xlmig__sxm_q_call(qm, g, ok, NULL);
    if (rc)
        return xlmig__error(ctx, rc, -1, "VDI %s: the VM's QEMU cannot "
                            "connect to the destination's leaf at %s%s",
                            r->vdi_name, r->dest,
                            tls_dir ? " (through its proxy)" : "");
    return 0;
}

/*
 * Should the move stop?  CANCELLED (not logged) when the caller's cancel
 * flag is set; the peer's error (logged by req->peer_check) when the
 * destination's side is gone; else 0.
 */
static int stop_asked(const struct xlmig__sxm_send_req *req)
{
    int rc;

    if (req->cancel && *req->cancel)
        return LIBXLMIG_ERR_CANCELLED;
    rc = req->peer_check ? req->peer_check(req->opaque) : 0;
    return rc < 0 ? rc : 0;
}

/* Sleep @ms, looking at stop_asked() every STOP_POLL_MS: its answer. */
static int idle(const struct xlmig__sxm_send_req *req, unsigned int ms)
{
    unsigned int slept;
    int rc = 0;

    for (slept = 0; !rc && slept < ms; slept += STOP_POLL_MS) {
        xlmig__sleep_ms(ms - slept < STOP_POLL_MS ? ms - slept
                                                  : STOP_POLL_MS);
        rc = stop_asked(req);
    }
    return rc;
}

/*
 * While the copy runs on the calling thread, this one looks at
 * stop_asked() every STOP_POLL_MS and stops the copy (blkcopy's cancel,
 * or the disk stream's flag) with the reason in stop_rc.
 */
struct copy_watch {
    const struct xlmig__sxm_send_req *req;
    struct xlmig__blkcopy *c;       /* NULL: a disk stream */
    volatile sig_atomic_t stop;     /* the disk stream's cancel flag */
    int stop_rc;                    /* read after the join */
    atomic_bool done;
};

static void *copy_watcher(void *arg)
{
    struct copy_watch *w = arg;

    while (!atomic_load(&w->done)) {
        int rc = stop_asked(w->req);

        if (rc) {
            w->stop_rc = rc;
            w->stop = 1;
            if (w->c)
                xlmig__blkcopy_cancel(w->c);
            break;
        }
        xlmig__sleep_ms(STOP_POLL_MS);
    }
    return NULL;
}

struct copy_progress {
    const struct xlmig__sxm_send_req *req;
    struct xlmig__sxm_progress p;
    double t0, last;
};

static void copy_progress_at(struct copy_progress *cp, uint64_t total,
                             uint64_t done)
{
    double now = xlmig__now_s();

    cp->p.copy_total = total;
    cp->p.copy_done = done;
    cp->p.seconds = now - cp->t0;
    if (cp->req->progress && (now - cp->last >= 0.2 || done == total)) {
        cp->last = now;
        cp->req->progress(cp->req->opaque, &cp->p);
    }
}

static void copy_progress_cb(void *opaque,
                             const struct xlmig__blkcopy_stats *st)
{
    copy_progress_at(opaque, st->data_total, st->data_done);
}

static void stream_progress_cb(void *opaque,
                               const struct xlmig__diskstream_stats *st)
{
    copy_progress_at(opaque, st->data_total, st->data_done);
}

/*
 * The copy through the stream channel: the snapshot at @src_uri as a
 * disk stream to the destination's receiver at req->data_via, which
 * writes it into the parent; stopped by @cancel.  *codec_r and @st_r
 * for the message once the destination has confirmed it.
 */
static int stream_copy(libxlmig_ctx *ctx, const struct xlmig__vdi *vdi,
                       const struct xlmig__sxm_send_req *req,
                       const char *src_uri, struct copy_progress *cp,
                       volatile sig_atomic_t *cancel, const char **codec_r,
                       struct xlmig__diskstream_stats *st_r)
{
    struct xlmig__diskstream_opts o;
    libxlmig_channel_params p;
    libxlmig_transport *t = NULL;
    libxlmig_tls_params tp;
    char host[256], port[16];
    int fd, gai = 0, rc;

    if (!req->data_tls || !req->data_ack)
        return xlmig__error(ctx, LIBXLMIG_ERR_INVALID_ARGUMENT, -1, "VDI %s: "
                            "a copy through the stream channel needs its "
                            "TLS and the destination's acknowledgement",
                            vdi->name);
    if (xlmig__split_hostport(req->data_via, host, sizeof(host), port,
                              sizeof(port)))
        return xlmig__error(ctx, LIBXLMIG_ERR_INVALID_ARGUMENT, -1, "VDI %s: "
                            "the destination's disk stream address %.300s "
                            "is not HOST:PORT", vdi->name, req->data_via);
    fd = xlmig__tcp_connect(host, port, &gai);
    if (fd < 0)
        return xlmig__error(ctx, LIBXLMIG_ERR_IO, gai ? -1 : errno, "VDI %s: "
                            "cannot connect to the destination's disk "
                            "stream at %s%s%s", vdi->name, req->data_via,
                            gai ? ": " : "", gai ? gai_strerror(gai) : "");
    xlmig__socket_keepalive(fd);
    tp = *req->data_tls;
    if (!tp.peer_label)
        tp.peer_label = req->data_via;
    rc = libxlmig_transport_tls_new(ctx, fd, false, &tp, &t);
    if (rc)
        return rc;
    if (req->data_params)
        p = *req->data_params;
    else
        libxlmig_channel_params_init(&p);
    if (req->bwlimit)
        p.bwlimit = req->bwlimit;
    *codec_r = p.codec ? p.codec : "zstd";
    memset(&o, 0, sizeof(o));
    o.src_uri = src_uri;
    o.transport = t;
    o.sock_fd = fd;
    o.peer_label = req->data_via;
    o.params = &p;
    o.progress = stream_progress_cb;
    o.opaque = cp;
    o.cancel = cancel;
    return xlmig__diskstream_send(ctx, &o, st_r);
}

/*
 * The copy of the frozen image into the destination's parent: by NBD,
 * or through the stream channel and then the destination's word that
 * all of it was written and flushed (req->data_ack).  *stopped_r when
 * stop_asked() ended it (the rc is its answer).
 */
static int snapshot_copy(libxlmig_ctx *ctx, const char *state_dir,
                         struct xlmig__sxm_record *r,
                         const struct xlmig__sr *sr,
                         const struct xlmig__vdi *vdi,
                         const struct xlmig__sxm_send_req *req,
                         struct copy_progress *cp, bool *stopped_r)
{
    char sock[PATH_MAX_], pidfile[PATH_MAX_], img[PATH_MAX_];
    char what[PATH_MAX_ + 600];
    char src_uri[PATH_MAX_ + 64], dst_uri[XLMIG__SXM_ADDR_MAX + 64];
    struct xlmig__sxm_nbd_tls nt;
    struct xlmig__blkcopy_opts o;
    struct xlmig__blkcopy_stats st;
    struct xlmig__diskstream_stats dst;
    struct xlmig__blkcopy *c = NULL;
    struct copy_watch w;
    const char *codec = NULL;
    pthread_t th;
    bool th_started = false;
    pid_t pid;
    int rc;

    *stopped_r = false;
    memset(&w, 0, sizeof(w));
    w.req = req;
    atomic_init(&w.done, false);
    if ((rc = xlmig__sxm_task_path(ctx, state_dir, r->task, "snap.sock", sock,
                                   sizeof(sock))) ||
        (rc = xlmig__sxm_task_path(ctx, state_dir, r->task, "reader.pid",
                                   pidfile, sizeof(pidfile))))
        return rc;
    if (xlmig__vdi_path(sr, vdi->uuid, xlmig__vdi_format_name(vdi->format),
                        img, sizeof(img)) ||
        strlen(sock) >= sizeof(((struct sockaddr_un *)0)->sun_path))
        return xlmig__error(ctx, LIBXLMIG_ERR_INVALID_ARGUMENT, -1,
                            "VDI %s: path too long (the state directory "
                            "must be short enough for a socket)", vdi->name);
    xlmig__sxm_unlink_quiet(ctx, sock);
    xlmig__sxm_unlink_quiet(ctx, pidfile);
    {
        char *argv[] = { "qemu-nbd", "--fork", "--pid-file", pidfile, "-r",
                         "-f", (char *)xlmig__vdi_format_name(vdi->format),
                         "-k", sock, "-x", "snapshot", "--persistent",
                         "--shared=16", img, NULL };

        snprintf(what, sizeof(what), "VDI %s: cannot serve its temporary "
                 "snapshot %s with %s", vdi->name, img, xlmig__qemu_nbd_bin());
        rc = xlmig__sxm_run_tool(ctx, xlmig__qemu_nbd_bin(), argv, what);
        if (rc)
            return rc;
    }
    if (xlmig__pidfile_read(pidfile, &pid))
        return xlmig__error(ctx, LIBXLMIG_ERR_IO, errno, "%s: no pid in %s",
                            what, pidfile);
    r->reader_pid = pid;
    r->reader_start = xlmig__proc_start_time(pid);
    rc = xlmig__sxm_record_save(ctx, state_dir, r);
    if (rc)
        return rc;
    snprintf(src_uri, sizeof(src_uri), "nbd+unix:///snapshot?socket=%s",
             sock);
    if (!req->data_via) {
        rc = xlmig__sxm_export_uri(r->dest, EXPORT_PARENT,
                                   req->tls_dir != NULL, dst_uri,
                                   sizeof(dst_uri));
        if (rc)
            goto out;
        memset(&o, 0, sizeof(o));
        o.src_uri = src_uri;
        o.dst_uri = dst_uri;
        xlmig__sxm_nbd_tls(req->tls_dir, &nt);
        o.tls_certs_dir = nt.certs_dir;
        o.tls_psk_file = nt.psk_file;
        o.tls_username = nt.username;
        o.bwlimit = req->bwlimit;
        o.dst_is_zero = true;
        o.progress = copy_progress_cb;
        o.opaque = cp;
        rc = xlmig__blkcopy_new(ctx, &o, &c);
        if (rc)
            goto out;
        w.c = c;
    }
    if (!pthread_create(&th, NULL, copy_watcher, &w))
        th_started = true;
    if (req->data_via)
        rc = stream_copy(ctx, vdi, req, src_uri, cp, &w.stop, &codec, &dst);
    else
        rc = xlmig__blkcopy_run(c, &st);
    atomic_store(&w.done, true);
    if (th_started)
        pthread_join(th, NULL);
    if (rc && w.stop_rc) {
        rc = w.stop_rc;
        *stopped_r = true;
        goto out;
    }
    if (rc)
        goto out;
    if (req->data_via) {
        rc = req->data_ack(req->opaque);
        if (rc) {
            rc = xlmig__error(ctx, rc, -1, "VDI %s: the destination did not "
                              "confirm that it wrote the snapshot's data",
                              vdi->name);
            goto out;
        }
        xlmig__log(ctx, XTL_INFO, -1, "task %s: VDI %s: snapshot sent "
                   "through the channel (%s), %llu data bytes as %llu bytes "
                   "on the wire in %.1f s, written and flushed at the "
                   "destination", r->task, vdi->name, codec,
                   (unsigned long long)dst.data_total,
                   (unsigned long long)dst.wire_bytes, dst.seconds);
    } else {
        xlmig__log(ctx, XTL_INFO, -1, "task %s: VDI %s: snapshot copied, "
                   "%llu data bytes of %llu in %.1f s", r->task, vdi->name,
                   (unsigned long long)st.data_total,
                   (unsigned long long)st.virtual_size, st.seconds);
    }
 out:
    xlmig__blkcopy_free(c);
    reader_stop(ctx, state_dir, r);
    return rc;
}

/*
 * Mirror job @n->mirror is there and healthy: else MIRROR_FAILED with
 * QEMU's reason, read from the job that concluded (then dismissed).
 */
static int mirror_check(libxlmig_ctx *ctx, const struct xlmig__sxm_qemu *qm,
                        const struct xlmig__sxm_names *n, const char *vdi,
                        const char *dest, struct xlmig__sxm_job *j)
{
    char why[512] = "";
    int rc = xlmig__sxm_job_query(qm, n->mirror, j);

    if (rc)
        return rc;
    if (j->found && strcmp(j->status, "aborting") &&
        !xlmig__sxm_job_concluded(j))
        return 0;
    if (j->found)
        (void)xlmig__sxm_job_finish(ctx, qm, n->mirror, vdi, MIRROR_END_MS, why,
                                    sizeof(why));
    return xlmig__error(ctx, LIBXLMIG_ERR_MIRROR_FAILED, -1, "VDI %s: the "
                        "mirror to the destination's leaf at %s broke%s%s; "
                        "the VDI stays where it is", vdi, dest,
                        why[0] ? ": " : "", why);
}

/*
 * The source's checks before anything is made (the destination's are
 * receive-start's): the address, the VDI (into @sr, @vdi), the QMP
 * socket, the image's path (into @img), and the preflight.
 */
static int send_check(libxlmig_ctx *ctx,
                      const struct xlmig__sxm_send_req *req,
                      struct xlmig__sr *sr, struct xlmig__vdi *vdi,
                      char *img, size_t img_cap)
{
    struct xlmig__sr_space space, none = { 0, 0, UINT64_MAX };
    struct xlmig__sr dst;
    uint64_t virt, alloc;
    int rc;

    rc = xlmig__sxm_addr_check(ctx, req->dest);
    if (rc)
        return rc;
    rc = xlmig__vdi_find(ctx, req->state_dir, req->vdi, sr, vdi);
    if (rc)
        return rc;
    if (!req->qmp || req->qmp[0] != '/' ||
        strlen(req->qmp) >= sizeof(((struct xlmig__sxm_record *)0)->qmp))
        return xlmig__error(ctx, LIBXLMIG_ERR_INVALID_ARGUMENT, -1,
                            "VDI %s: the QMP socket must be an absolute path",
                            vdi->name);
    if (xlmig__vdi_path(sr, vdi->uuid, xlmig__vdi_format_name(vdi->format),
                        img, img_cap))
        return xlmig__error(ctx, LIBXLMIG_ERR_INVALID_ARGUMENT, -1,
                            "SR %s: path too long", sr->name);
    rc = xlmig__vdi_sizes(ctx, sr, vdi, &virt, &alloc);
    if (!rc)
        rc = xlmig__sr_space(ctx, sr, &space);
    if (rc)
        return rc;
    dst = *sr;
    memset(dst.uuid, 'f', XLMIG__UUID_LEN);
    dst.caps = XLMIG__SR_CAPS_ALL;
    return xlmig__sxm_preflight(ctx, sr, &space, vdi, alloc, &dst, &none,
                                vdi->format, true, req->vm, NULL);
}

/* A new source record @r (phase starting) of @vdi, owned by this process. */
static int send_record_new(libxlmig_ctx *ctx,
                           const struct xlmig__sxm_send_req *req,
                           const struct xlmig__vdi *vdi,
                           struct xlmig__sxm_record *r)
{
    int rc = xlmig__uuid_generate(ctx, r->task);

    if (rc)
        return rc;
    r->role = XLMIG__SXM_SRC;
    r->phase = XLMIG__SXM_STARTING;
    xlmig__strlcpy(r->vdi_name, vdi->name, sizeof(r->vdi_name));
    r->virtual_size = vdi->virtual_size;
    xlmig__strlcpy(r->vdi, vdi->uuid, sizeof(r->vdi));
    xlmig__strlcpy(r->qmp, req->qmp, sizeof(r->qmp));
    xlmig__strlcpy(r->dest, req->dest, sizeof(r->dest));
    r->owner_pid = getpid();
    r->owner_start = xlmig__proc_start_time(getpid());
    return 0;
}

/*
 * The disk's node in the QEMU into r->node: req->node, else the format
 * node of @img.  VDI_IN_USE when the QEMU has nodes of another move.
 */
static int disk_node_find(libxlmig_ctx *ctx,
                          const struct xlmig__sxm_qemu *qm,
                          const struct xlmig__sxm_send_req *req,
                          const struct xlmig__vdi *vdi, const char *img,
                          struct xlmig__sxm_record *r)
{
    bool ours = false;
    int rc;

    rc = xlmig__sxm_nodes_query(qm, NULL, NULL, img,
                                xlmig__vdi_format_name(vdi->format), r->node,
                                sizeof(r->node), &ours);
    if (rc)
        return rc;
    if (ours)
        return xlmig__error(ctx, LIBXLMIG_ERR_VDI_IN_USE, -1, "VDI %s: the "
                            "QEMU at %s has nodes of another storage move "
                            "(xlmig-*); let it end, or run `xlmig "
                            "sxm-recover`", vdi->name, req->qmp);
    if (req->node) {
        if (strlen(req->node) >= sizeof(r->node))
            return xlmig__error(ctx, LIBXLMIG_ERR_INVALID_ARGUMENT, -1,
                                "node name too long");
        xlmig__strlcpy(r->node, req->node, sizeof(r->node));
    } else if (!r->node[0]) {
        return xlmig__error(ctx, LIBXLMIG_ERR_NOT_FOUND, -1, "VDI %s: the "
                            "QEMU at %s has no %s node of %s; is that the "
                            "QEMU serving this VDI?", vdi->name, req->qmp,
                            xlmig__vdi_format_name(vdi->format), img);
    }
    return 0;
}

/*
 * 1. The temporary snapshot: overlay @ovpath over @img, opened in the
 * QEMU and put on top of the disk's node.  *stopped_r when stop_asked()
 * ended it (the rc is its answer).
 */
static int phase_snapshot(libxlmig_ctx *ctx,
                          const struct xlmig__sxm_qemu *qm,
                          const struct xlmig__sxm_names *n,
                          const struct xlmig__sxm_send_req *req,
                          struct xlmig__sxm_record *r,
                          const struct xlmig__sr *sr,
                          const struct xlmig__vdi *vdi, const char *img,
                          const char *ovpath, bool *stopped_r)
{
    char what[PATH_MAX_ + 600];
    yajl_gen g;
    bool ok;
    int rc;

    rc = xlmig__sxm_record_phase(ctx, req->state_dir, r, XLMIG__SXM_SNAPSHOT);
    if (rc)
        return rc;
    {
        char *argv[] = { "qemu-img", "create", "-q", "-f", "qcow2", "-b",
                         (char *)img, "-F",
                         (char *)xlmig__vdi_format_name(vdi->format),
                         (char *)ovpath, NULL };

        snprintf(what, sizeof(what), "VDI %s: cannot create the temporary "
                 "snapshot's overlay in SR %s", vdi->name, sr->name);
        rc = xlmig__sxm_run_tool(ctx, xlmig__qemu_img_bin(), argv, what);
        if (rc)
            return rc;
    }
    rc = stop_asked(req);
    if (rc)
        goto stop;
    g = xlmig__qmp_gen("blockdev-add");
    ok = g && gkv(g, "driver", "qcow2") && gkv(g, "node-name", n->ov) &&
         gs(g, "file") && yajl_gen_map_open(g) == yajl_gen_status_ok &&
         gkv(g, "driver", "file") && gkv(g, "node-name", n->ovf) &&
         gkv(g, "filename", ovpath) &&
         yajl_gen_map_close(g) == yajl_gen_status_ok && gs(g, "backing") &&
         yajl_gen_null(g) == yajl_gen_status_ok;
    rc = xlmig__sxm_q_call(qm, g, ok, NULL);
    if (rc)
        return rc;
    g = xlmig__qmp_gen("blockdev-snapshot");
    ok = g && gkv(g, "node", r->node) && gkv(g, "overlay", n->ov);
    rc = xlmig__sxm_q_call(qm, g, ok, NULL);
    if (rc)
        return xlmig__error(ctx, rc, -1, "VDI %s: cannot take the temporary "
                            "snapshot of node %s", vdi->name, r->node);
    rc = stop_asked(req);
    if (rc)
        goto stop;
    return 0;
 stop:
    *stopped_r = true;
    return rc;
}

/*
 * 2. The mirror of the writes since the snapshot: from the overlay into
 * the destination's leaf.  *stopped_r as phase_snapshot().
 */
static int phase_mirror(libxlmig_ctx *ctx, const struct xlmig__sxm_qemu *qm,
                        const struct xlmig__sxm_names *n,
                        const struct xlmig__sxm_send_req *req,
                        struct xlmig__sxm_record *r,
                        const struct xlmig__vdi *vdi, bool *stopped_r)
{
    yajl_gen g;
    bool ok;
    int rc;

    rc = xlmig__sxm_record_phase(ctx, req->state_dir, r,
                                 XLMIG__SXM_MIRRORING);
    if (rc)
        return rc;
    rc = leaf_node_add(ctx, qm, n, req->state_dir, r, req->tls_dir);
    if (rc)
        return rc;
    rc = stop_asked(req);
    if (rc)
        goto stop;
    g = xlmig__qmp_gen("blockdev-mirror");
    ok = g && gkv(g, "job-id", n->mirror) && gkv(g, "device", n->ov) &&
         gkv(g, "target", n->leaf) && gkv(g, "sync", "top") &&
         gkv(g, "copy-mode", "write-blocking") && g_keep_job(g) &&
         gs(g, "granularity") &&
         yajl_gen_integer(g, MIRROR_GRANULARITY) == yajl_gen_status_ok;
    if (ok && req->bwlimit)
        ok = gs(g, "speed") &&
             yajl_gen_integer(g, (long long)req->bwlimit) ==
                 yajl_gen_status_ok;
    rc = xlmig__sxm_q_call(qm, g, ok, NULL);
    if (rc)
        return xlmig__error(ctx, LIBXLMIG_ERR_MIRROR_FAILED, -1, "VDI %s: "
                            "cannot start the mirror to %s", vdi->name,
                            req->dest);
    rc = stop_asked(req);
    if (rc)
        goto stop;
    return 0;
 stop:
    *stopped_r = true;
    return rc;
}

/*
 * 3. The copy of the snapshot into the destination's parent, while the
 * mirror runs.  A copy that failed is said once: the destination gone,
 * or the mirror broken, or the copy itself.  *stopped_r as
 * phase_snapshot().
 */
static int phase_copy(libxlmig_ctx *ctx, const struct xlmig__sxm_qemu *qm,
                      const struct xlmig__sxm_names *n,
                      const struct xlmig__sxm_send_req *req,
                      struct xlmig__sxm_record *r, const struct xlmig__sr *sr,
                      const struct xlmig__vdi *vdi, struct copy_progress *cp,
                      bool *stopped_r)
{
    struct xlmig__sxm_job j;
    int rc, why;

    rc = xlmig__sxm_record_phase(ctx, req->state_dir, r, XLMIG__SXM_COPYING);
    if (rc)
        return rc;
    cp->p.phase = XLMIG__SXM_COPYING;
    rc = snapshot_copy(ctx, req->state_dir, r, sr, vdi, req, cp, stopped_r);
    if (!rc || *stopped_r)
        return rc;
    /* A copy broken by a destination that went away: say so once. */
    why = stop_asked(req);
    if (why && why != LIBXLMIG_ERR_CANCELLED)
        return why;
    if (!mirror_check(ctx, qm, n, vdi->name, req->dest, &j))
        return xlmig__error(ctx, rc, -1, "VDI %s: the copy of the "
                            "temporary snapshot failed; rolling back",
                            vdi->name);
    return LIBXLMIG_ERR_MIRROR_FAILED;
}

/*
 * 4. In sync: the mirror is watched, its progress told, until the
 * caller's switch_ready() says to switch.  *stopped_r as
 * phase_snapshot(), also when switch_ready() cancels.
 */
static int phase_synced(libxlmig_ctx *ctx, const struct xlmig__sxm_qemu *qm,
                        const struct xlmig__sxm_names *n,
                        const struct xlmig__sxm_send_req *req,
                        struct xlmig__sxm_record *r,
                        const struct xlmig__vdi *vdi,
                        struct copy_progress *cp, bool *stopped_r)
{
    struct xlmig__sxm_job j;
    int rc, sw;

    rc = xlmig__sxm_record_phase(ctx, req->state_dir, r, XLMIG__SXM_SYNCED);
    if (rc)
        return rc;
    cp->p.phase = XLMIG__SXM_SYNCED;
    for (;;) {
        rc = mirror_check(ctx, qm, n, vdi->name, req->dest, &j);
        if (rc)
            return rc;
        cp->p.mirror_total = j.len;
        cp->p.mirror_done = j.offset;
        cp->p.in_sync = j.ready;
        cp->p.seconds = xlmig__now_s() - cp->t0;
        if (req->progress)
            req->progress(req->opaque, &cp->p);
        rc = stop_asked(req);
        if (rc)
            goto stop;
        if (j.ready) {
            sw = req->switch_ready ? req->switch_ready(req->opaque) : 1;
            if (sw < 0) {
                rc = LIBXLMIG_ERR_CANCELLED;
                goto stop;
            }
            if (sw > 0)
                return 0;
        }
        rc = idle(req, POLL_MS);
        if (rc)
            goto stop;
    }
 stop:
    *stopped_r = true;
    return rc;
}

/*
 * 5. and 6. The switch, the guest paused: the mirror ended in sync, the
 * temporary snapshot's overlay committed back, our nodes, the proxy, the
 * overlay file and the record removed.  @qm holds one connection for
 * the switch's commands when it can; released here on success, by the
 * caller on failure.
 */
static int phase_switch(libxlmig_ctx *ctx, struct xlmig__sxm_qemu *qm,
                        const struct xlmig__sxm_names *n,
                        const struct xlmig__sxm_send_req *req,
                        struct xlmig__sxm_record *r,
                        const struct xlmig__sr *sr,
                        const struct xlmig__vdi *vdi, const char *ovpath,
                        struct copy_progress *cp)
{
    char why[512];
    int rc;

    rc = xlmig__sxm_record_phase(ctx, req->state_dir, r,
                                 XLMIG__SXM_SWITCHING);
    if (rc)
        return rc;
    cp->p.phase = XLMIG__SXM_SWITCHING;
    /* One connection for the switch's commands (a connection per command
     * when this one cannot be had). */
    if (xlmig__qmp_connect(ctx, qm->sock, QMP_HOLD_MS, &qm->held))
        qm->held = NULL;
    rc = xlmig__sxm_q_simple(qm, "block-job-cancel", "device", n->mirror);
    if (rc)
        return rc;
    rc = xlmig__sxm_job_finish(ctx, qm, n->mirror, vdi->name, JOB_END_MS,
                               why, sizeof(why));
    if (rc)
        return rc;
    if (why[0])
        return xlmig__error(ctx, LIBXLMIG_ERR_MIRROR_FAILED, -1, "VDI %s: "
                            "the mirror's last writes failed: %s", vdi->name,
                            why);
    /* 6. The temporary snapshot goes: the overlay is committed back. */
    rc = xlmig__sxm_overlay_commit(ctx, qm, n, vdi->name);
    if (rc)
        return rc;
    rc = xlmig__sxm_nodes_del(ctx, qm, n, vdi->name, r->tls);
    xlmig__sxm_q_release(qm);
    if (rc)
        return rc;
    proxy_stop(ctx, req->state_dir, r);
    xlmig__sxm_unlink_quiet(ctx, ovpath);
    (void)xlmig__dir_sync(ctx, sr->path);
    xlmig__sxm_record_remove(ctx, req->state_dir, r->task);
    if (req->progress) {
        cp->p.phase = XLMIG__SXM_SWITCHING;
        cp->p.seconds = xlmig__now_s() - cp->t0;
        req->progress(req->opaque, &cp->p);
    }
    xlmig__log(ctx, XTL_INFO, -1, "task %s: VDI %s is in sync at %s; the "
               "destination can be finalized", r->task, vdi->name, req->dest);
    return 0;
}

int xlmig__sxm_send(libxlmig_ctx *ctx, const struct xlmig__sxm_send_req *req,
                    struct xlmig__sxm_record *rec_r)
{
    struct xlmig__sxm_record r;
    struct xlmig__sxm_qemu qm = { .ctx = ctx, .sock = req->qmp };
    struct xlmig__sr sr;
    struct xlmig__vdi vdi;
    struct copy_progress cp;
    struct xlmig__sxm_names n;
    char img[PATH_MAX_], ovpath[PATH_MAX_];
    bool saved = false, stopped = false;
    int rc;

    memset(&r, 0, sizeof(r));
    memset(&cp, 0, sizeof(cp));
    rc = send_check(ctx, req, &sr, &vdi, img, sizeof(img));
    if (!rc)
        rc = send_record_new(ctx, req, &vdi, &r);
    if (rc)
        return rc;
    xlmig__sxm_names_of(r.task, &n);
    cp.req = req;
    cp.t0 = xlmig__now_s();

    rc = stop_asked(req);
    if (rc) {
        stopped = true;
        goto out;
    }
    rc = disk_node_find(ctx, &qm, req, &vdi, img, &r);
    if (rc)
        goto out;
    rc = overlay_path(ctx, req->state_dir, &r, ovpath, sizeof(ovpath), &sr,
                      &vdi);
    if (rc)
        goto out;
    rc = xlmig__sxm_record_save(ctx, req->state_dir, &r);
    if (rc)
        goto out;
    saved = true;
    if (rec_r)
        *rec_r = r;

    rc = phase_snapshot(ctx, &qm, &n, req, &r, &sr, &vdi, img, ovpath,
                        &stopped);
    if (!rc)
        rc = phase_mirror(ctx, &qm, &n, req, &r, &vdi, &stopped);
    if (!rc)
        rc = phase_copy(ctx, &qm, &n, req, &r, &sr, &vdi, &cp, &stopped);
    if (!rc)
        rc = phase_synced(ctx, &qm, &n, req, &r, &vdi, &cp, &stopped);
    if (!rc)
        rc = phase_switch(ctx, &qm, &n, req, &r, &sr, &vdi, ovpath, &cp);
    if (!rc)
        goto done;

 out:
    /* The peer's end was logged by peer_check; a cancel is said here. */
    if (stopped && rc == LIBXLMIG_ERR_CANCELLED)
        rc = xlmig__error(ctx, LIBXLMIG_ERR_CANCELLED, -1, "VDI %s: the "
                          "move was cancelled; rolling back", vdi.name);
    xlmig__sxm_q_release(&qm);  /* the roll back connects per command */
    if (rc && saved) {
        int rb = xlmig__sxm_src_rollback(ctx, req->state_dir, &r);

        if (rb)
            xlmig__log(ctx, XTL_ERROR, -1, "task %s: VDI %s: the roll back "
                       "did not finish; run `xlmig sxm-recover`", r.task,
                       vdi.name);
    }
 done:
    if (rec_r)
        *rec_r = r;
    return rc;
}

int xlmig__sxm_copy(libxlmig_ctx *ctx, const struct xlmig__sxm_send_req *req)
{
    struct xlmig__sxm_record src;
    struct xlmig__sr sr;
    struct xlmig__vdi vdi;
    struct copy_progress cp;
    bool stopped;
    int rc;

    memset(&src, 0, sizeof(src));
    memset(&cp, 0, sizeof(cp));
    rc = xlmig__sxm_addr_check(ctx, req->dest);
    if (!rc)
        rc = xlmig__vdi_find(ctx, req->state_dir, req->vdi, &sr, &vdi);
    if (!rc)
        rc = xlmig__uuid_generate(ctx, src.task);
    if (rc)
        return rc;
    cp.req = req;
    cp.t0 = xlmig__now_s();
    cp.p.phase = XLMIG__SXM_COPYING;
    /* The image itself is read; a record for the reader. */
    src.role = XLMIG__SXM_SRC;
    src.offline = true;
    xlmig__strlcpy(src.vdi_name, vdi.name, sizeof(src.vdi_name));
    src.virtual_size = vdi.virtual_size;
    xlmig__strlcpy(src.vdi, vdi.uuid, sizeof(src.vdi));
    strcpy(src.qmp, "-");
    strcpy(src.node, "-");
    xlmig__strlcpy(src.dest, req->dest, sizeof(src.dest));
    src.owner_pid = getpid();
    src.owner_start = xlmig__proc_start_time(getpid());
    rc = xlmig__sxm_record_phase(ctx, req->state_dir, &src, XLMIG__SXM_COPYING);
    if (rc)
        return rc;
    rc = snapshot_copy(ctx, req->state_dir, &src, &sr, &vdi, req, &cp,
                       &stopped);
    if (rc)
        (void)xlmig__sxm_src_rollback(ctx, req->state_dir, &src);
    else
        xlmig__sxm_record_remove(ctx, req->state_dir, src.task);
    return rc;
}

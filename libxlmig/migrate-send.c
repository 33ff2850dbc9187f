/* SPDX-License-Identifier: LGPL-2.1-only */
/*
 * The source worker of a vm-migrate task (docs/specs/vm-migrate.md):
 * slot, storage, memory, switch, commit, cleanup, each phase journalled
 * before it leaves anything behind, and every failure before the
 * destination is cleared to unpause rolled back.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "cpurecord.h"
#include "endhold.h"
#include "internal.h"
#include "jsonfile.h"
#include "migrate.h"
#include "migrate-check.h"
#include "migrate-run.h"
#include "migrate-wire.h"
#include "net.h"
#include "pool-client.h"
#include "proc.h"
#include "rpc.h"
#include "sxm.h"
#include "transport.h"
#include "vmrec.h"

#define TICK_MS 100
#define SLOT_UPDATE_S 1.0
#define READY_TIMEOUT_MS 300000     /* the destination restores */
#define DONE_TIMEOUT_MS 120000      /* the destination unpauses */
#define ASK_EVERY_MS 5000           /* outcome unknown: ask again */
#define LINK_GRACE_MS 5000
#define DOM_CHECK_S 1.0             /* storage, memory: the domain is there */
#define DM_GRACE_S 5.0              /* a device model gone: the domain's end may follow */

/* One VDI's storage motion, in a thread of its own. */
struct disk {
    struct send *s;
    struct xlmig__mig_vdi *v;
    libxlmig_ctx *ctx;
    struct xlmig__collect coll;         /* keeps its first error */
    struct xlmig__sxm_send_req req;
    char qmp[256], tls[300], addr[XLMIG__SXM_ADDR_MAX + 1];
    char name[XLMIG__SR_NAME_MAX + 1];
    uint64_t vsize, alloc;
    pthread_t tid;
    bool started, done, in_sync;
    uint64_t copy_done, copy_total;
    int rc;
    char err[600];
};

struct send {
    libxlmig_ctx *ctx;
    const struct xlmig__mig_run *run;
    struct xlmig__mig_record r;
    struct xlmig__hv *hv;
    char *config;                       /* the VM's, as libxl has it */
    size_t config_len;
    struct xlmig__vmcfg cfg;
    /* the master (slot) and the destination's xlmigd */
    libxlmig_transport *mt, *dt;
    int mfd, dfd;
    uint64_t mid, did;                  /* request ids */
    double last_update;
    double last_dom_check;
    double dm_gone_at;                  /* the device model found gone */
    /* storage */
    struct disk disks[XLMIG__MIG_VDIS_MAX];
    size_t nr_disks;
    pthread_mutex_t lock;
    volatile sig_atomic_t sxm_cancel;   /* the disks roll back */
    volatile sig_atomic_t switch_now;   /* the guest is suspended */
    /* memory */
    struct xlmig__mig_link *link;
    struct xlmig__endhold *hold;
    int lib_r, lib_w;                   /* libxl's stream into the relay */
    pthread_t suspend_tid;
    bool suspending;
    int suspend_rc;
    double t0, t_held, t_done;
    double t_mirrors, t_composed, t_ready;  /* the switch, step by step */
};

static bool stop_asked(struct send *s)
{
    return *s->run->cancel || (s->run->parent_gone &&
                               s->run->parent_gone(s->run->opaque));
}

static int stopped(struct send *s)
{
    if (*s->run->cancel)
        return xlmig__error(s->ctx, LIBXLMIG_ERR_CANCELLED, -1,
                            "migration %s of VM %s was cancelled", s->r.task,
                            s->r.vm);
    return xlmig__error(s->ctx, LIBXLMIG_ERR_CANCELLED, -1,
                        "migration %s of VM %s: this host's xlmigd went away "
                        "(killed); rolling back", s->r.task, s->r.vm);
}

static int journal(struct send *s, enum xlmig__mig_phase phase)
{
    s->r.phase = phase;
    return xlmig__mig_record_save(s->ctx, s->run->state_dir, &s->r);
}

static void set_progress(struct send *s, unsigned int pct)
{
    if (pct > 99)
        pct = 99;
    if (pct > s->r.progress)
        s->r.progress = pct;
}

/* ------------------------------------------------------------ master */

static void on_slot_event(const struct xlmig__rpc_msg *ev, void *opaque)
{
    struct send *s = opaque;
    uint64_t pos = 0, id = 0;

    if (strcmp(ev->method, "slot.queued"))
        return;
    (void)xlmig__rpc_get_uint(ev->params, "position", &pos);
    (void)xlmig__rpc_get_uint(ev->params, "task", &id);
    pthread_mutex_lock(&s->lock);
    s->r.slot_task = id;
    pthread_mutex_unlock(&s->lock);
    xlmig__log(s->ctx, XTL_INFO, -1, "migration %s of VM %s waits for a "
               "migration slot: number %" PRIu64 " in line", s->r.task,
               s->r.vm, pos);
}

struct slot_call {
    struct send *s;
    libxlmig_ctx *ctx;
    int rc;
    uint64_t task;
    bool done;
};

static void *slot_main(void *arg)
{
    struct slot_call *c = arg;
    struct send *s = c->s;
    struct xlmig__rpc_msg resp;
    const char *kv[] = { "vm", s->r.vm, "source", s->r.source,
                         "destination", s->r.destination, "uuid", s->r.task,
                         "wait", "?true",
                         "priority", s->r.priority ? "?true" : "?false",
                         NULL };
    int rc;

    memset(&resp, 0, sizeof(resp));
    rc = xlmig__pool_call(c->ctx, s->mt, s->run->conf->master, s->mid++,
                          "slot.acquire", kv, on_slot_event, s, &resp);
    if (!rc && xlmig__rpc_get_uint(resp.result, "task", &c->task))
        rc = LIBXLMIG_ERR_PROTOCOL;
    xlmig__rpc_msg_dispose(&resp);
    pthread_mutex_lock(&s->lock);
    c->rc = rc;
    c->done = true;
    pthread_mutex_unlock(&s->lock);
    return NULL;
}

/* A slot of the source pool: waits in line, cancellable. */
static int slot_acquire(struct send *s)
{
    struct slot_call c = { .s = s };
    pthread_t tid;
    bool done = false;
    int rc;

    rc = xlmig__pool_open_fd(s->ctx, s->run->conf, s->run->conf->master,
                             &s->mt, &s->mfd);
    if (rc)
        return rc;
    s->mid = 2;
    if (libxlmig_ctx_new(libxlmig_ctx_logger(s->ctx), LIBXLMIG_LOG_ERROR,
                         &c.ctx))
        return LIBXLMIG_ERR_NO_MEMORY;
    if (pthread_create(&tid, NULL, slot_main, &c)) {
        libxlmig_ctx_free(c.ctx);
        return LIBXLMIG_ERR_NO_MEMORY;
    }
    while (!done) {
        if (stop_asked(s))
            shutdown(s->mfd, SHUT_RDWR);    /* the call fails at once */
        xlmig__sleep_ms(TICK_MS);
        pthread_mutex_lock(&s->lock);
        done = c.done;
        pthread_mutex_unlock(&s->lock);
    }
    pthread_join(tid, NULL);
    if (stop_asked(s))
        rc = stopped(s);
    else if (c.rc)
        rc = xlmig__error(s->ctx, c.rc, -1, "%s",
                          libxlmig_ctx_last_error(c.ctx));
    else
        s->r.slot_task = c.task;
    libxlmig_ctx_free(c.ctx);
    if (!rc)
        xlmig__log(s->ctx, XTL_INFO, -1, "migration %s of VM %s holds "
                   "migration slot %" PRIu64, s->r.task, s->r.vm,
                   s->r.slot_task);
    return rc;
}

/*
 * Tell the master the phase and percent, about once a second; a task
 * the master no longer knows was cancelled there (task-cancel).
 */
static int slot_update(struct send *s, bool force)
{
    struct xlmig__rpc_msg resp;
    char id[32], pct[16];
    const char *kv[] = { "task", id, "phase", NULL, "progress", pct, NULL };
    int rc;

    if (!s->mt || !s->r.slot_task ||
        (!force && xlmig__now_s() - s->last_update < SLOT_UPDATE_S))
        return 0;
    s->last_update = xlmig__now_s();
    snprintf(id, sizeof(id), "#%" PRIu64, s->r.slot_task);
    snprintf(pct, sizeof(pct), "#%u", s->r.progress);
    kv[3] = xlmig__mig_phase_name(s->r.phase);
    memset(&resp, 0, sizeof(resp));
    rc = xlmig__pool_call(s->ctx, s->mt, s->run->conf->master, s->mid++,
                          "task.update", kv, NULL, NULL, &resp);
    xlmig__rpc_msg_dispose(&resp);
    if (rc == LIBXLMIG_ERR_NOT_FOUND) {
        *s->run->cancel = 1;
        return xlmig__error(s->ctx, LIBXLMIG_ERR_CANCELLED, -1, "migration "
                            "%s of VM %s was cancelled (task-cancel)",
                            s->r.task, s->r.vm);
    }
    if (rc) {
        /* A master restart: the slot is ours for its grace period. */
        libxlmig_transport_free(s->mt);
        s->mt = NULL;
        if (!xlmig__pool_open_fd(s->ctx, s->run->conf, s->run->conf->master,
                                 &s->mt, &s->mfd)) {
            const char *k2[] = { "task", id, NULL };

            s->mid = 2;
            memset(&resp, 0, sizeof(resp));
            rc = xlmig__pool_call(s->ctx, s->mt, s->run->conf->master,
                                  s->mid++, "slot.resume", k2, NULL, NULL,
                                  &resp);
            xlmig__rpc_msg_dispose(&resp);
            if (!rc)
                xlmig__log(s->ctx, XTL_INFO, -1, "migration %s: the pool "
                           "master came back; slot %" PRIu64 " resumed",
                           s->r.task, s->r.slot_task);
        }
        /* The master's absence never fails a migration. */
        rc = 0;
    }
    return rc;
}

static void slot_release(struct send *s)
{
    struct xlmig__rpc_msg resp;
    libxlmig_ctx *quiet = NULL;
    char id[32];
    const char *kv[] = { "task", id, NULL };

    /* After a task-cancel the master has let it go already. */
    if (s->mt && s->r.slot_task &&
        !libxlmig_ctx_new(NULL, LIBXLMIG_LOG_CRITICAL, &quiet)) {
        snprintf(id, sizeof(id), "#%" PRIu64, s->r.slot_task);
        memset(&resp, 0, sizeof(resp));
        (void)xlmig__pool_call(quiet, s->mt, s->run->conf->master,
                               s->mid++, "slot.release", kv, NULL, NULL,
                               &resp);
        xlmig__rpc_msg_dispose(&resp);
        libxlmig_ctx_free(quiet);
    }
    libxlmig_transport_free(s->mt);
    s->mt = NULL;
}

/* ------------------------------------------------------ destination */

static int dcall(struct send *s, const char *method, const char *const *kv,
                 struct xlmig__rpc_msg *resp)
{
    memset(resp, 0, sizeof(*resp));
    return xlmig__pool_call(s->ctx, s->dt, s->r.dest_address, s->did++,
                            method, kv, NULL, NULL, resp);
}

/* The destination's xlmigd must stay; its going stops the migration. */
static int dest_check(struct send *s)
{
    if (s->dt && xlmig__sock_peer_gone(s->dfd))
        return xlmig__error(s->ctx, LIBXLMIG_ERR_CANNOT_CONTACT_HOST, -1,
                            "migration %s of VM %s: host %s's xlmigd went "
                            "away; rolling back", s->r.task, s->r.vm,
                            s->r.destination);
    return 0;
}

/*
 * The VM's domain is still there and has not shut down: a guest that
 * crashed or powered itself off, or a domain destroyed meanwhile (xl
 * destroy), ends the migration at once with VM_BAD_POWER_STATE, not
 * with whatever broke next (its QEMU's socket, the stream).  Looked at
 * every DOM_CHECK_S while storage and memory run (@now: at once).
 */
/*
 * The device model serving the disks being moved still listens on its
 * QMP socket: true, or not known.  A device model that died (a crash of
 * Xen's QEMU) leaves the guest without its disks, the mirrors with them.
 */
static bool dm_alive(struct send *s)
{
    const char *qmp = s->nr_disks ? s->disks[0].qmp : "";

    return !qmp[0] || xlmig__unix_listening(qmp) != 0;
}

/* The device model is gone but the domain ran: said at once, not when
 * the snapshot's copy ends. */
static int dm_gone(struct send *s)
{
    return xlmig__error(s->ctx, LIBXLMIG_ERR_MIRROR_FAILED, -1,
                        "migration %s of VM %s: its device model (the QEMU "
                        "serving its disks, monitor %s) exited during the "
                        "migration: the guest has lost its disks; rolling "
                        "back: nothing stays at host %s, its disks are "
                        "committed back whole here at %s; restart the VM "
                        "(`xl destroy %" PRIu32 "`, then `xlmig-xe vm-start "
                        "vm=%s`), and see /var/log/xen/qemu-dm-%s.log for "
                        "why its QEMU ended", s->r.task, s->r.vm,
                        s->disks[0].qmp, s->r.destination, s->r.source,
                        s->r.domid, s->r.vm, s->r.vm);
}

static int domain_check(struct send *s, bool now)
{
    struct xlmig__dom d;
    double t = xlmig__now_s();
    const char *what;

    if (!s->r.live || !s->hv || (!now && t - s->last_dom_check < DOM_CHECK_S))
        return 0;
    s->last_dom_check = t;
    for (;;) {
        if (s->run->hv->find(s->hv, s->r.vm_uuid, &d) ||
            d.domid != s->r.domid) {
            what = "went away (destroyed, or it crashed)";
            break;
        }
        if (d.state == XLMIG__DOM_SHUTDOWN || d.state == XLMIG__DOM_DYING) {
            what = "shut down or crashed";
            break;
        }
        if (dm_alive(s))
            return 0;
        /* A domain being destroyed loses its device model first (libxl
         * stops it, then destroys the domain): the domain's end, when it
         * comes, is the cause.  Looked at again on the next turn, or
         * (@now) waited for here. */
        if (!s->dm_gone_at)
            s->dm_gone_at = xlmig__now_s();
        if (xlmig__now_s() - s->dm_gone_at >= DM_GRACE_S)
            return dm_gone(s);
        if (!now)
            return 0;
        xlmig__sleep_ms(100);
    }
    return xlmig__error(s->ctx, LIBXLMIG_ERR_VM_BAD_POWER_STATE, -1,
                        "migration %s of VM %s: its domain %" PRIu32 " %s "
                        "during the migration; rolling back: nothing stays "
                        "at host %s, its disks stay whole here at %s; start "
                        "the VM again (`xlmig-xe vm-start vm=%s` when it is "
                        "registered, else `xl create`)", s->r.task, s->r.vm,
                        s->r.domid, what, s->r.destination, s->r.source,
                        s->r.vm);
}

/* ------------------------------------------------------------ storage */

static void disk_progress(void *opaque, const struct xlmig__sxm_progress *p)
{
    struct disk *d = opaque;

    pthread_mutex_lock(&d->s->lock);
    d->copy_done = p->copy_done;
    d->copy_total = p->copy_total;
    d->in_sync = p->in_sync;
    pthread_mutex_unlock(&d->s->lock);
}

static int disk_switch(void *opaque)
{
    struct disk *d = opaque;

    if (d->s->sxm_cancel)
        return -1;
    return d->s->switch_now ? 1 : 0;
}

/* sxm's peer check: the destination's daemon is there (see dest_check). */
static int disk_peer_check(void *opaque)
{
    struct disk *d = opaque;

    if (d->s->dt && xlmig__sock_peer_gone(d->s->dfd))
        return xlmig__error(d->ctx, LIBXLMIG_ERR_CANNOT_CONTACT_HOST, -1,
                            "host %s's xlmigd went away during the move of "
                            "disk %s", d->s->r.destination, d->v->vdev);
    return 0;
}

/*
 * A running VM's disk: storage motion up to the switch.  A halted VM's:
 * the offline copy, which is "in sync" once complete.
 */
static void *disk_main(void *arg)
{
    struct disk *d = arg;
    struct xlmig__sxm_record rec;
    int rc = d->s->r.live ? xlmig__sxm_send(d->ctx, &d->req, &rec)
                          : xlmig__sxm_copy(d->ctx, &d->req);

    pthread_mutex_lock(&d->s->lock);
    d->rc = rc;
    /* The first error is the cause; a roll back may log more after it. */
    if (rc)
        xlmig__strlcpy(d->err, d->coll.n ? d->coll.msgs[0]
                                         : libxlmig_ctx_last_error(d->ctx),
                       sizeof(d->err));
    if (!rc && !d->s->r.live)
        d->in_sync = true;
    d->done = true;
    pthread_mutex_unlock(&d->s->lock);
    return NULL;
}

/* The destination makes parent and leaf for each VDI to move. */
static int storage_prepare(struct send *s)
{
    char tls[300];
    size_t i;
    int rc;

    if (!s->r.nr_vdis)
        return 0;
    rc = xlmig__pool_nbd_tls_dir(s->ctx, s->run->dconf, tls, sizeof(tls));
    if (rc)
        return rc;
    for (i = 0; i < s->r.nr_vdis; i++) {
        struct xlmig__mig_vdi *v = &s->r.vdis[i];
        struct disk *d = &s->disks[s->nr_disks];
        struct xlmig__rpc_msg resp;
        struct xlmig__sr sr;
        struct xlmig__vdi vdi;
        char vsz[32], al[32];
        const char *tk, *pa, *ad;

        if (!v->sr[0])
            continue;
        rc = xlmig__vdi_find(s->ctx, s->run->state_dir, v->vdi, &sr, &vdi);
        if (!rc)
            rc = xlmig__vdi_sizes(s->ctx, &sr, &vdi, &d->vsize, &d->alloc);
        if (rc)
            return rc;
        snprintf(vsz, sizeof(vsz), "#%" PRIu64, d->vsize);
        snprintf(al, sizeof(al), "#%" PRIu64, d->alloc);
        {
            const char *kv[] = { "sr", v->sr, "name", vdi.name,
                                 "virtual_size", vsz, "allocated", al,
                                 "format", v->format[0] ? v->format
                                     : xlmig__vdi_format_name(vdi.format),
                                 "data_via", "nbd", NULL };

            rc = dcall(s, "sxm.receive_start", kv, &resp);
        }
        tk = rc ? NULL : xlmig__rpc_get_str(resp.result, "task");
        pa = rc ? NULL : xlmig__rpc_get_str(resp.result, "parent");
        ad = rc ? NULL : xlmig__rpc_get_str(resp.result, "address");
        if (!rc && (!tk || !pa || !ad || !xlmig__uuid_ok(tk) ||
                    !xlmig__uuid_ok(pa) || strlen(ad) >= sizeof(d->addr)))
            rc = xlmig__error(s->ctx, LIBXLMIG_ERR_PROTOCOL, -1, "host %s "
                              "answered sxm.receive_start without a task, "
                              "a parent and an address", s->r.destination);
        if (!rc) {
            xlmig__strlcpy(v->dst_task, tk, sizeof(v->dst_task));
            xlmig__strlcpy(v->dst_vdi, pa, sizeof(v->dst_vdi));
            xlmig__strlcpy(d->addr, ad, sizeof(d->addr));
        }
        xlmig__rpc_msg_dispose(&resp);
        if (rc)
            return rc;
        xlmig__strlcpy(d->name, vdi.name, sizeof(d->name));
        xlmig__strlcpy(d->tls, tls, sizeof(d->tls));
        d->s = s;
        d->v = v;
        s->nr_disks++;
        rc = journal(s, XLMIG__MIG_STORAGE);
        if (rc)
            return rc;
    }
    return 0;
}

static int storage_start(struct send *s)
{
    size_t i;
    int rc;

    for (i = 0; i < s->nr_disks; i++) {
        struct disk *d = &s->disks[i];

        rc = s->r.live ? s->run->hv->dm_qmp(s->hv, s->r.domid, d->qmp,
                                             sizeof(d->qmp)) : 0;
        if (rc)
            return xlmig__error(s->ctx, LIBXLMIG_ERR_NOT_FOUND, -1, "VM %s "
                                "(domain %" PRIu32 ") has no device model "
                                "QMP socket for its disk %s", s->r.vm,
                                s->r.domid, d->v->vdev);
        xlmig__collect_init(&d->coll, libxlmig_ctx_logger(s->ctx));
        if (libxlmig_ctx_new(&d->coll.vtable, LIBXLMIG_LOG_ERROR, &d->ctx))
            return LIBXLMIG_ERR_NO_MEMORY;
        d->req.state_dir = s->run->state_dir;
        d->req.vdi = d->v->vdi;
        d->req.qmp = s->r.live ? d->qmp : NULL;
        d->req.dest = d->addr;
        d->req.vm = s->r.vm;
        d->req.tls_dir = d->tls;
        d->req.bwlimit = s->r.bwlimit;
        d->req.progress = disk_progress;
        d->req.switch_ready = disk_switch;
        d->req.peer_check = disk_peer_check;
        d->req.opaque = d;
        d->req.cancel = &s->sxm_cancel;
        if (pthread_create(&d->tid, NULL, disk_main, d))
            return LIBXLMIG_ERR_NO_MEMORY;
        d->started = true;
    }
    return 0;
}

/* A failed disk's error, logged in the task's context. */
static int disk_failed(struct send *s)
{
    size_t i;

    for (i = 0; i < s->nr_disks; i++) {
        struct disk *d = &s->disks[i];

        if (d->done && d->rc) {
            const char *name = libxlmig_strerror_name(d->rc);
            size_t n = strlen(name);
            const char *msg = d->err;

            /* The disk's message has its name already. */
            if (!strncmp(msg, name, n) && !strncmp(msg + n, ": ", 2))
                msg += n + 2;
            return xlmig__error(s->ctx, d->rc, -1, "%s", msg);
        }
    }
    return 0;
}

/* Wait until every disk is in sync (the mirrors go on). */
static int storage_sync(struct send *s)
{
    int rc;

    for (;;) {
        uint64_t done = 0, total = 0;
        bool all = true, failed = false;
        size_t i;

        pthread_mutex_lock(&s->lock);
        for (i = 0; i < s->nr_disks; i++) {
            done += s->disks[i].copy_done;
            total += s->disks[i].copy_total;
            all = all && s->disks[i].in_sync;
            /* A live disk's thread ends only at the switch or failing. */
            failed = failed || (s->disks[i].done && s->disks[i].rc) ||
                     (s->disks[i].done && s->r.live);
        }
        pthread_mutex_unlock(&s->lock);
        if (failed)
            return disk_failed(s) ? disk_failed(s)
                   : xlmig__error(s->ctx, LIBXLMIG_ERR_MIRROR_FAILED, -1,
                                  "a disk's storage motion ended before "
                                  "the switch");
        set_progress(s, total ? (unsigned int)(60 * done / total) : 0);
        if (all)
            return 0;
        if (stop_asked(s))
            return stopped(s);
        rc = domain_check(s, false);
        if (!rc)
            rc = dest_check(s);
        if (!rc)
            rc = slot_update(s, false);
        if (rc)
            return rc;
        xlmig__sleep_ms(TICK_MS);
    }
}

/* Stop every disk thread: roll back unless the switch was done. */
static void storage_join(struct send *s, bool cancel)
{
    size_t i;

    if (cancel)
        s->sxm_cancel = 1;
    for (i = 0; i < s->nr_disks; i++) {
        if (s->disks[i].started) {
            pthread_join(s->disks[i].tid, NULL);
            s->disks[i].started = false;
        }
    }
}

/* ------------------------------------------------------------ memory */

static void *suspend_main(void *arg)
{
    struct send *s = arg;
    struct xlmig__hv *h = NULL;
    libxlmig_ctx *ctx = NULL;
    int rc;

    rc = libxlmig_ctx_new(libxlmig_ctx_logger(s->ctx), LIBXLMIG_LOG_ERROR,
                          &ctx);
    if (!rc)
        rc = s->run->hv->open(ctx, &h);
    if (!rc)
        rc = s->run->hv->suspend(h, s->r.domid, s->lib_w, s->r.live);
    /* The relay reads the end of the stream now. */
    close(s->lib_w);
    s->lib_w = -1;
    s->run->hv->close(h);
    pthread_mutex_lock(&s->lock);
    s->suspend_rc = rc;
    s->suspending = false;
    pthread_mutex_unlock(&s->lock);
    libxlmig_ctx_free(ctx);
    return NULL;
}

/* The preamble: the VM's configuration and what the map changes. */
static int preamble(struct send *s, char **json_r, size_t *len_r)
{
    yajl_gen g = xlmig__gen_new();
    yajl_val cfg = NULL;
    const unsigned char *buf;
    char why[256];
    size_t i, blen;
    bool ok;
    int rc;

    if (!g)
        return LIBXLMIG_ERR_NO_MEMORY;
    rc = xlmig__vmcfg_tree(s->config, s->config_len, &cfg, why,
                           sizeof(why));
    if (rc) {
        yajl_gen_free(g);
        return xlmig__error(s->ctx, rc, -1, "VM %s's configuration: %s",
                            s->r.vm, why);
    }
    ok = yajl_gen_map_open(g) == yajl_gen_status_ok &&
         xlmig__gen_key_string(g, "task", s->r.task) &&
         xlmig__gen_key_string(g, "vm", s->r.vm) &&
         xlmig__gen_key_string(g, "source", s->r.source) &&
         xlmig__gen_key_bool(g, "copy", s->r.copy) &&
         yajl_gen_string(g, (const unsigned char *)"config", 6) ==
             yajl_gen_status_ok &&
         !xlmig__rpc_gen_value(g, cfg) &&
         yajl_gen_string(g, (const unsigned char *)"disks", 5) ==
             yajl_gen_status_ok &&
         yajl_gen_array_open(g) == yajl_gen_status_ok;
    for (i = 0; ok && i < s->r.nr_vdis; i++) {
        const struct xlmig__mig_vdi *v = &s->r.vdis[i];

        if (!v->sr[0])
            continue;
        ok = yajl_gen_map_open(g) == yajl_gen_status_ok &&
             xlmig__gen_key_string(g, "vdev", v->vdev) &&
             xlmig__gen_key_string(g, "vdi", v->dst_vdi) &&
             yajl_gen_map_close(g) == yajl_gen_status_ok;
    }
    ok = ok && yajl_gen_array_close(g) == yajl_gen_status_ok &&
         yajl_gen_string(g, (const unsigned char *)"nics", 4) ==
             yajl_gen_status_ok &&
         yajl_gen_array_open(g) == yajl_gen_status_ok;
    for (i = 0; ok && i < s->r.nr_nics; i++)
        ok = yajl_gen_map_open(g) == yajl_gen_status_ok &&
             xlmig__gen_key_string(g, "mac", s->r.nics[i].mac) &&
             xlmig__gen_key_string(g, "bridge", s->r.nics[i].bridge) &&
             yajl_gen_map_close(g) == yajl_gen_status_ok;
    ok = ok && yajl_gen_array_close(g) == yajl_gen_status_ok &&
         yajl_gen_map_close(g) == yajl_gen_status_ok &&
         yajl_gen_get_buf(g, &buf, &blen) == yajl_gen_status_ok;
    rc = LIBXLMIG_ERR_NO_MEMORY;
    if (ok && (*json_r = malloc(blen + 1))) {
        memcpy(*json_r, buf, blen);
        (*json_r)[blen] = '\0';
        *len_r = blen;
        rc = 0;
    }
    yajl_tree_free(cfg);
    yajl_gen_free(g);
    return rc;
}

/* Connect the channel to the destination's receive worker. */
static int memory_link(struct send *s, const char *data_address)
{
    libxlmig_channel_params p;
    libxlmig_tls_params tp;
    char host[256], port[16];
    int fd, gai = 0;

    if (xlmig__split_hostport(data_address, host, sizeof(host), port,
                              sizeof(port)))
        return xlmig__error(s->ctx, LIBXLMIG_ERR_PROTOCOL, -1, "host %s "
                            "gave a bad address for the memory stream",
                            s->r.destination);
    fd = xlmig__tcp_connect(host, port, &gai);
    if (fd < 0)
        return xlmig__error(s->ctx, LIBXLMIG_ERR_CANNOT_CONTACT_HOST,
                            gai ? -1 : errno, "cannot open the memory "
                            "stream to host %s at %s", s->r.destination,
                            data_address);
    xlmig__socket_keepalive(fd);
    libxlmig_channel_params_init(&p);
    p.codec = s->r.compress ? "zstd" : "none";
    p.page_aware = s->r.compress;
    p.bwlimit = s->r.bwlimit;
    xlmig__pool_conf_tls(s->run->dconf, &tp, data_address);
    return xlmig__mig_link_open(s->ctx, fd, false, &tp, true, &p, &s->link);
}

/*
 * The memory phase: the destination's receive worker, the channel, the
 * preamble, then libxl's live save through the relay that holds END.
 * Returns 0 with END held: the guest is suspended.
 */
static int memory(struct send *s)
{
    struct xlmig__rpc_msg resp;
    char data[300], line[XLMIG__MIG_LINE_MAX + 1];
    char *pre = NULL;
    size_t pre_len = 0, i;
    uint64_t mem = s->cfg.target_memkb * 1024;
    int p[2], rc;

    {
        char vdis[XLMIG__MIG_VDIS_MAX * 40 + 1] = "";

        for (i = 0; i < s->r.nr_vdis; i++) {
            if (!s->r.vdis[i].sr[0])
                continue;
            strcat(vdis, vdis[0] ? "," : "");
            strcat(vdis, s->r.vdis[i].dst_vdi);
        }
        const char *kv[] = { "task", s->r.task, "vm", s->r.vm,
                             "vm_uuid", s->r.vm_uuid, "source", s->r.source,
                             "vdis", vdis, "live",
                             s->r.live ? "?true" : "?false", NULL };

        rc = dcall(s, "vm.receive_start", kv, &resp);
    }
    if (!rc) {
        const char *da = xlmig__rpc_get_str(resp.result, "data_address");

        if (!da || strlen(da) >= sizeof(data))
            rc = xlmig__error(s->ctx, LIBXLMIG_ERR_PROTOCOL, -1, "host %s "
                              "answered vm.receive_start without an "
                              "address", s->r.destination);
        else
            xlmig__strlcpy(data, da, sizeof(data));
    }
    xlmig__rpc_msg_dispose(&resp);
    if (rc)
        return rc;
    rc = memory_link(s, data);
    if (rc)
        return rc;
    rc = preamble(s, &pre, &pre_len);
    if (!rc)
        rc = xlmig__mig_preamble_write(s->link->to_peer, pre, pre_len);
    free(pre);
    if (rc)
        return xlmig__error(s->ctx, rc, -1, "cannot send VM %s's "
                            "configuration to host %s", s->r.vm,
                            s->r.destination);
    if (!s->r.live) {
        s->t_held = xlmig__now_s();
        return 0;               /* a halted VM: its configuration is all */
    }
    if (pipe2(p, O_CLOEXEC))
        return xlmig__error(s->ctx, LIBXLMIG_ERR_IO, errno, "pipe");
    s->lib_r = p[0];
    s->lib_w = p[1];
    rc = xlmig__endhold_start(s->ctx, s->lib_r, s->link->to_peer, &s->hold);
    if (rc)
        return rc;
    s->suspending = true;
    if (pthread_create(&s->suspend_tid, NULL, suspend_main, s)) {
        s->suspending = false;
        return LIBXLMIG_ERR_NO_MEMORY;
    }
    for (;;) {
        uint64_t sent = xlmig__endhold_bytes(s->hold);
        struct pollfd pf = { .fd = s->link->from_peer, .events = POLLIN };

        rc = xlmig__endhold_wait(s->hold, TICK_MS);
        if (rc != LIBXLMIG_ERR_TIMEOUT)
            break;
        set_progress(s, (s->nr_disks ? 60 : 0) +
                     (unsigned int)((s->nr_disks ? 35 : 95) *
                                    (mem ? (sent > mem ? mem : sent) : 0) /
                                    (mem ? mem : 1)));
        /* The destination says something only when it failed. */
        if (poll(&pf, 1, 0) > 0) {
            rc = xlmig__mig_line_read(s->ctx, s->link->from_peer,
                                      s->r.destination, line, sizeof(line),
                                      1000, NULL);
            if (!rc)
                rc = xlmig__error(s->ctx, LIBXLMIG_ERR_VM_MIGRATE_FAILED, -1,
                                  "host %s: %s", s->r.destination, line);
            return rc;
        }
        if (stop_asked(s))
            return stopped(s);
        rc = domain_check(s, false);
        if (!rc)
            rc = disk_failed(s);
        if (!rc)
            rc = dest_check(s);
        if (!rc)
            rc = slot_update(s, false);
        if (rc)
            return rc;
    }
    if (rc)
        return xlmig__error(s->ctx, rc, -1, "VM %s's memory stream failed "
                            "before its end", s->r.vm);
    /* END is held: libxl has written everything; the guest is suspended. */
    pthread_join(s->suspend_tid, NULL);
    s->suspend_tid = 0;
    if (s->suspend_rc)
        return s->suspend_rc;
    s->t_held = xlmig__now_s();
    s->r.stream_bytes = xlmig__endhold_bytes(s->hold);
    return 0;
}

/* After a failure: the domain runs again if the save suspended it. */
static void memory_undo(struct send *s)
{
    struct xlmig__dom d;

    if (s->hold) {
        xlmig__endhold_abort(s->hold);
        (void)xlmig__endhold_finish(s->hold);
        s->hold = NULL;
    }
    if (s->lib_r >= 0) {
        close(s->lib_r);            /* libxl's writes fail now */
        s->lib_r = -1;
    }
    if (s->suspend_tid)
        pthread_join(s->suspend_tid, NULL);
    s->suspend_tid = 0;
    xlmig__mig_link_abort(s->link);
    (void)xlmig__mig_link_close(s->link, 0);
    s->link = NULL;
    if (s->r.live && s->r.domid &&
        !s->run->hv->find(s->hv, s->r.vm_uuid, &d) &&
        d.state == XLMIG__DOM_SUSPENDED) {
        if (s->run->hv->resume(s->hv, d.domid))
            xlmig__log(s->ctx, XTL_ERROR, -1, "VM %s stays suspended: %s; "
                       "resume it with `xl unpause`/`xlmig-xe vm-resume`",
                       s->r.vm, libxlmig_ctx_last_error(s->ctx));
        else
            xlmig__log(s->ctx, XTL_NOTICE, -1, "VM %s runs on at %s",
                       s->r.vm, s->r.source);
    }
}

/* ------------------------------------------------------------ switch */

/* The guest is suspended: end each mirror, compose each destination. */
static int do_switch(struct send *s)
{
    size_t i;
    int rc;

    rc = journal(s, XLMIG__MIG_SWITCH);
    if (rc)
        return rc;
    s->switch_now = 1;
    storage_join(s, false);
    s->t_mirrors = xlmig__now_s();
    rc = disk_failed(s);
    if (rc)
        return rc;
    for (i = 0; i < s->nr_disks; i++) {
        struct xlmig__mig_vdi *v = s->disks[i].v;
        const char *kv[] = { "task", v->dst_task, NULL };
        struct xlmig__rpc_msg resp;

        rc = dcall(s, "sxm.receive_finalize", kv, &resp);
        xlmig__rpc_msg_dispose(&resp);
        if (rc)
            return rc;
        v->finalized = true;
        rc = journal(s, XLMIG__MIG_SWITCH);
        if (rc)
            return rc;
    }
    s->t_composed = xlmig__now_s();
    return s->hold ? xlmig__endhold_release(s->hold) : 0;
}

/* ------------------------------------------------------------ commit */

/* After go-sent, without "done": ask the destination until it knows. */
static int outcome(struct send *s, bool *committed_r)
{
    for (;;) {
        libxlmig_transport *t = NULL;
        int fd = -1, rc;

        rc = xlmig__pool_open_fd(s->ctx, s->run->dconf, s->r.dest_address,
                                 &t, &fd);
        if (!rc) {
            struct xlmig__rpc_msg resp;
            const char *kv[] = { "task", s->r.task, NULL };
            const char *st;

            memset(&resp, 0, sizeof(resp));
            rc = xlmig__pool_call(s->ctx, t, s->r.dest_address, 2,
                                  "vm.receive_status", kv, NULL, NULL, &resp);
            st = rc ? NULL : xlmig__rpc_get_str(resp.result, "outcome");
            if (st && (!strcmp(st, "committed") || !strcmp(st, "aborted"))) {
                *committed_r = !strcmp(st, "committed");
                xlmig__rpc_msg_dispose(&resp);
                libxlmig_transport_free(t);
                return 0;
            }
            xlmig__rpc_msg_dispose(&resp);
            libxlmig_transport_free(t);
        }
        xlmig__log(s->ctx, XTL_WARN, -1, "MIGRATION_OUTCOME_UNKNOWN: "
                   "migration %s: host %s cannot say yet whether VM %s runs "
                   "there; VM %s stays suspended here; asking again in %d s",
                   s->r.task, s->r.destination, s->r.vm, s->r.vm,
                   ASK_EVERY_MS / 1000);
        if (s->run->parent_gone && s->run->parent_gone(s->run->opaque))
            return LIBXLMIG_ERR_MIGRATION_OUTCOME_UNKNOWN;
        xlmig__sleep_ms(ASK_EVERY_MS);
    }
}

static int commit(struct send *s, bool *committed_r)
{
    char line[XLMIG__MIG_LINE_MAX + 1];
    int rc;

    *committed_r = false;
    rc = xlmig__mig_line_read(s->ctx, s->link->from_peer, s->r.destination,
                              line, sizeof(line), READY_TIMEOUT_MS,
                              s->run->cancel);
    if (rc)
        return rc;
    if (strcmp(line, XLMIG__MIGL_READY))
        return xlmig__error(s->ctx, LIBXLMIG_ERR_VM_MIGRATE_FAILED, -1,
                            "host %s: %s", s->r.destination, line);
    s->t_ready = xlmig__now_s();
    /* The commit point is the destination's; ours is go-sent. */
    rc = journal(s, XLMIG__MIG_GO_SENT);
    if (rc)
        return rc;
    if (!xlmig__mig_line_write(s->link->to_peer, XLMIG__MIGL_GO) &&
        !xlmig__mig_line_read(s->ctx, s->link->from_peer, s->r.destination,
                              line, sizeof(line), DONE_TIMEOUT_MS, NULL) &&
        !strcmp(line, XLMIG__MIGL_DONE)) {
        *committed_r = true;
        return 0;
    }
    return outcome(s, committed_r);
}

/* ------------------------------------------------------------ run */

static int prepare(struct send *s)
{
    int rc;

    rc = s->run->hv->open(s->ctx, &s->hv);
    if (rc)
        return rc;
    if (s->r.live) {
        rc = s->run->hv->config(s->hv, s->r.domid, &s->config);
        if (rc)
            return rc;
    } else {
        rc = xlmig__vmrec_config(s->ctx, s->run->state_dir, s->r.vm_uuid,
                                 &s->config);
        if (rc)
            return rc;
    }
    s->config_len = strlen(s->config);
    return xlmig__vmcfg_parse(s->ctx, s->r.vm, s->config, s->config_len,
                              &s->cfg);
}

/* The error that failed the task, kept before the roll back logs more. */
static void failed(struct send *s, int rc)
{
    s->r.state = XLMIG__MIG_FAILED;
    xlmig__strlcpy(s->r.error, libxlmig_strerror_name(rc),
                   sizeof(s->r.error));
    xlmig__strlcpy(s->r.message, libxlmig_ctx_last_error(s->ctx),
                   sizeof(s->r.message));
}

static void finish(struct send *s, int rc)
{
    s->r.ended = (int64_t)time(NULL);
    s->r.total_ms = (uint64_t)((xlmig__now_s() - s->t0) * 1000);
    if (rc) {
        s->r.state = XLMIG__MIG_FAILED;
    } else {
        s->r.state = XLMIG__MIG_DONE;
        s->r.progress = 100;
    }
    s->r.phase = XLMIG__MIG_ENDED;
    (void)xlmig__mig_record_save(s->ctx, s->run->state_dir, &s->r);
}

/* Queued: journal it, check what moves, take a slot, open the
 * destination pool's link. */
static int send_begin(struct send *s)
{
    int rc;

    rc = journal(s, XLMIG__MIG_QUEUED);
    if (!rc)
        rc = prepare(s);
    if (!rc)
        rc = slot_acquire(s);
    if (rc)
        return rc;
    rc = xlmig__pool_open_fd(s->ctx, s->run->dconf, s->r.dest_address,
                             &s->dt, &s->dfd);
    s->did = 2;
    return rc;
}

/* Storage: every disk to move, mirrored and copied, in sync. */
static int send_storage(struct send *s)
{
    int rc;

    rc = journal(s, s->r.nr_vdis ? XLMIG__MIG_STORAGE : XLMIG__MIG_MEMORY);
    if (!rc)
        rc = slot_update(s, true);
    if (!rc)
        rc = storage_prepare(s);
    if (!rc)
        rc = storage_start(s);
    if (!rc)
        rc = storage_sync(s);
    return rc;
}

/* Memory, live, through the channel; the switch; END held, then
 * sent. */
static int send_memory(struct send *s)
{
    int rc;

    rc = journal(s, XLMIG__MIG_MEMORY);
    if (!rc)
        rc = slot_update(s, true);
    if (!rc)
        rc = memory(s);
    if (!rc)
        rc = do_switch(s);
    if (!rc && s->hold) {
        rc = xlmig__endhold_finish(s->hold);
        s->hold = NULL;
    }
    return rc;
}

/* The VM runs at the destination: clean up here, journal it done, and
 * say how long each step took. */
static void send_succeeded(struct send *s)
{
    libxlmig_ctx *ctx = s->ctx;
    int rc;

    s->r.downtime_ms = (uint64_t)((s->t_done - s->t_held) * 1000);
    rc = xlmig__mig_src_cleanup(ctx, s->run, s->hv, &s->r);
    if (rc)
        xlmig__log(ctx, XTL_WARN, -1, "migration %s: VM %s runs at %s; "
                   "the cleanup here was not complete: %s", s->r.task,
                   s->r.vm, s->r.destination, libxlmig_ctx_last_error(ctx));
    slot_release(s);
    finish(s, 0);
    xlmig__log(ctx, XTL_NOTICE, -1, "migration %s: VM %s moved to %s in "
               "%.1f s; from the guest's suspension being complete: mirrors "
               "ended %.0f ms, destination disks composed %.0f ms, restored "
               "there %.0f ms, running there %.0f ms", s->r.task, s->r.vm,
               s->r.destination, s->r.total_ms / 1000.0,
               (s->t_mirrors - s->t_held) * 1000,
               (s->t_composed - s->t_held) * 1000,
               (s->t_ready - s->t_held) * 1000,
               (s->t_done - s->t_held) * 1000);
}

/* Failed with @rc: journal it, roll both ends back, release the slot.
 * Returns the error to report (a domain gone meanwhile wins). */
static int send_roll_back(struct send *s, int rc)
{
    /* Whatever broke, a domain or device model gone meanwhile is the
     * cause to report. */
    if (rc != LIBXLMIG_ERR_VM_BAD_POWER_STATE && rc != LIBXLMIG_ERR_CANCELLED &&
        s->r.phase < XLMIG__MIG_SWITCH) {
        int cause = domain_check(s, true);

        if (cause)
            rc = cause;
    }
    failed(s, rc);
    s->r.state = XLMIG__MIG_RUNNING;
    s->r.phase = XLMIG__MIG_ROLLBACK;
    (void)xlmig__mig_record_save(s->ctx, s->run->state_dir, &s->r);
    memory_undo(s);
    storage_join(s, true);
    xlmig__mig_dst_abort(s->ctx, s->run, &s->r, s->dt);
    slot_release(s);
    finish(s, rc);
    return rc;
}

/* Close the link, transports, disks' contexts and the hypervisor. */
static void send_close(struct send *s)
{
    size_t i;

    if (s->link)
        (void)xlmig__mig_link_close(s->link, 0);
    libxlmig_transport_free(s->dt);
    libxlmig_transport_free(s->mt);
    for (i = 0; i < s->nr_disks; i++)
        libxlmig_ctx_free(s->disks[i].ctx);
    if (s->hv)
        s->run->hv->close(s->hv);
    free(s->config);
}

int xlmig__mig_send_run(libxlmig_ctx *ctx, const struct xlmig__mig_run *run)
{
    struct send *s;
    bool committed = false;
    libxlmig_channel_progress cp;
    int rc;

    s = xlmig__zalloc(sizeof(*s));
    if (!s)
        return LIBXLMIG_ERR_NO_MEMORY;
    s->ctx = ctx;
    s->run = run;
    s->lib_r = s->lib_w = -1;
    s->mfd = s->dfd = -1;
    s->t0 = xlmig__now_s();
    pthread_mutex_init(&s->lock, NULL);
    rc = xlmig__mig_record_load(ctx, run->state_dir, XLMIG__MIG_SRC,
                                run->task, &s->r);
    if (rc)
        goto out_free;
    s->r.worker_pid = getpid();
    s->r.worker_start = xlmig__proc_start_time(getpid());
    rc = send_begin(s);
    if (!rc)
        rc = send_storage(s);
    if (!rc)
        rc = send_memory(s);
    if (rc)
        goto fail;

    /* Commit: the destination restores, we clear it to unpause. */
    rc = commit(s, &committed);
    s->t_done = xlmig__now_s();
    xlmig__mig_link_progress(s->link, &cp);
    s->r.wire_bytes = cp.bytes_out;
    if (rc && s->r.phase < XLMIG__MIG_GO_SENT)
        goto fail;
    if (rc) {
        /* Outcome unknown: the domain stays suspended; the daemon asks. */
        s->r.state = XLMIG__MIG_RUNNING;
        xlmig__strlcpy(s->r.error, "MIGRATION_OUTCOME_UNKNOWN",
                       sizeof(s->r.error));
        (void)xlmig__mig_record_save(ctx, run->state_dir, &s->r);
        goto out;
    }
    (void)xlmig__mig_link_close(s->link, LINK_GRACE_MS);
    s->link = NULL;
    if (!committed) {
        rc = xlmig__error(ctx, LIBXLMIG_ERR_VM_MIGRATE_FAILED, -1, "host %s "
                          "did not take VM %s", s->r.destination, s->r.vm);
        goto fail;
    }
    send_succeeded(s);
    rc = 0;
    goto out;

 fail:
    rc = send_roll_back(s, rc);
 out:
    send_close(s);
 out_free:
    pthread_mutex_destroy(&s->lock);
    free(s);
    return rc;
}

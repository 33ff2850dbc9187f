/* SPDX-License-Identifier: LGPL-2.1-only */
/*
 * xlmigd's VMs: what it knows of them (vm.list, vm.locate, vm.register,
 * vm.start, host.facts), where one goes when nobody names a host
 * (vm.place: placement.h, docs/specs/wlb-hook.md), the migrations whose
 * source it is (vm.migrate, vm.task, vm.cancel) or destination
 * (vm.receive_*), many VMs of this host planned and moved at once
 * (vm.migrate_many, host.evacuate: batch.h, docs/specs/pool-ops.md),
 * and the workers that run them (docs/specs/vm-migrate.md).
 *
 * The daemon reads facts through the hypervisor table but never saves,
 * restores or destroys a domain itself: its workers do (xlmigd-worker.c).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "batch.h"
#include "cpurecord.h"
#include "migrate-check.h"
#include "migrate-run.h"
#include "migrate-wire.h"
#include "placement.h"
#include "pool-client.h"
#include "poolstate.h"
#include "proc.h"
#include "rolling.h"
#include "transport.h"
#include "vmrec.h"
#include "xlmigd.h"

#define WORKERS_MAX 128
#define WAIT_WORKER_S 60            /* a recover or start worker */
#define RETRY_UNKNOWN_S 5
#define FACTS_WAIT_MS 5000          /* each host's facts, placing a VM */

struct worker {
    bool used;
    char task[XLMIG__UUID_LEN + 1];
    enum xlmig__mig_role role;
    bool recovery;                  /* a recover worker */
    pid_t pid;
    uint64_t start;
    int pipe_w;                     /* -1: adopted after a restart */
    bool child;
};

static struct {
    const struct xlmig__pool_conf *conf;
    const char *config_path;
    const struct xlmig__hv_ops *hv;
    pthread_mutex_t lock;
    struct worker w[WORKERS_MAX];
    time_t last_unknown;
} V = { .lock = PTHREAD_MUTEX_INITIALIZER };

void xlmigd_vm_init(const struct xlmig__pool_conf *conf,
                    const char *config_path, const struct xlmig__hv_ops *hv)
{
    V.conf = conf;
    V.config_path = config_path;
    V.hv = hv;
}

/* ------------------------------------------------------------ workers */

static struct worker *worker_find_locked(const char *task,
                                         enum xlmig__mig_role role)
{
    size_t i;

    for (i = 0; i < WORKERS_MAX; i++) {
        if (V.w[i].used && V.w[i].role == role &&
            !strcmp(V.w[i].task, task))
            return &V.w[i];
    }
    return NULL;
}

static struct worker *worker_slot_locked(void)
{
    size_t i;

    for (i = 0; i < WORKERS_MAX; i++) {
        if (!V.w[i].used) {
            memset(&V.w[i], 0, sizeof(V.w[i]));
            V.w[i].pipe_w = -1;
            return &V.w[i];
        }
    }
    return NULL;
}

/* The task's log: STATE/migrate[-in]/TASK.log. */
static int log_open(const char *task, enum xlmig__mig_role role)
{
    char path[600];

    snprintf(path, sizeof(path), "%s/%s", V.conf->state_dir,
             role == XLMIG__MIG_DST ? "migrate-in" : "migrate");
    (void)mkdir(path, 0700);
    snprintf(path + strlen(path), sizeof(path) - strlen(path), "/%s.log",
             task);
    return open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
}

/*
 * Start `xlmigd --worker KIND --task TASK ...` (this very program), its
 * stdin a pipe from here, stdout and stderr the task's log, @listen_fd
 * (or -1) as its fd 3.
 */
static int worker_start(libxlmig_ctx *ctx, const char *kind,
                        const char *task, enum xlmig__mig_role role,
                        const char *remote, int listen_fd, pid_t *pid_r)
{
    char *argv[16];
    struct worker *w;
    int p[2] = { -1, -1 }, logfd, fds[4], err = 0, n = 0;
    pid_t pid;

    argv[n++] = "xlmigd";
    argv[n++] = "--worker";
    argv[n++] = (char *)kind;
    argv[n++] = strcmp(kind, "start") ? "--task" : "--vm";
    argv[n++] = (char *)task;
    argv[n++] = "--config";
    argv[n++] = (char *)V.config_path;
    if (!strcmp(kind, "recover")) {
        argv[n++] = "--role";
        argv[n++] = role == XLMIG__MIG_DST ? "dst" : "src";
    }
    if (remote && remote[0]) {
        argv[n++] = "--remote-config";
        argv[n++] = (char *)remote;
    }
    argv[n] = NULL;
    logfd = log_open(task, role);
    if (logfd < 0 || pipe2(p, O_CLOEXEC)) {
        err = errno;
        goto fail;
    }
    fds[0] = p[0];
    fds[1] = logfd;
    fds[2] = logfd;
    fds[3] = listen_fd;
    err = xlmig__proc_spawn("/proc/self/exe", argv, fds, 4, &pid);
    close(p[0]);
    p[0] = -1;
    close(logfd);
    logfd = -1;
    if (err)
        goto fail;
    pthread_mutex_lock(&V.lock);
    w = worker_slot_locked();
    if (w) {
        w->used = true;
        xlmig__strlcpy(w->task, task, sizeof(w->task));
        w->role = role;
        w->recovery = !strcmp(kind, "recover");
        w->pid = pid;
        w->start = xlmig__proc_start_time(pid);
        w->pipe_w = p[1];
        w->child = true;
        p[1] = -1;
    }
    pthread_mutex_unlock(&V.lock);
    if (p[1] >= 0)
        close(p[1]);
    xlmigd_log("migration %s: %s worker started (pid %d)", task, kind,
               (int)pid);
    if (pid_r)
        *pid_r = pid;
    return 0;
 fail:
    if (logfd >= 0)
        close(logfd);
    if (p[0] >= 0) close(p[0]);
    if (p[1] >= 0) close(p[1]);
    return xlmig__error(ctx, LIBXLMIG_ERR_IO, err, "cannot start the %s "
                        "worker of migration %s", kind, task);
}

/* Start a worker and wait for it (recover, start); its exit status. */
static int worker_run(libxlmig_ctx *ctx, const char *kind, const char *task,
                      enum xlmig__mig_role role, const char *remote)
{
    pid_t pid;
    double until = xlmig__now_s() + WAIT_WORKER_S;
    int rc = worker_start(ctx, kind, task, role, remote, -1, &pid);

    if (rc)
        return rc;
    for (;;) {
        bool alive;

        pthread_mutex_lock(&V.lock);
        alive = worker_find_locked(task, role) != NULL;
        pthread_mutex_unlock(&V.lock);
        if (!alive)
            return 0;
        if (xlmig__now_s() > until)
            return xlmig__error(ctx, LIBXLMIG_ERR_TIMEOUT, -1, "the %s "
                                "worker of %s is still at work", kind, task);
        xlmig__sleep_ms(100);
    }
}

static void worker_forget_locked(struct worker *w)
{
    if (w->pipe_w >= 0)
        close(w->pipe_w);
    w->used = false;
}

/* Ask a task's worker to stop (SIGTERM: it rolls back if it still can). */
static bool worker_signal(const char *task, enum xlmig__mig_role role)
{
    struct worker *w;
    bool sent = false;

    pthread_mutex_lock(&V.lock);
    w = worker_find_locked(task, role);
    if (w && !w->recovery && xlmig__proc_alive(w->pid, w->start))
        sent = kill(w->pid, SIGTERM) == 0;
    pthread_mutex_unlock(&V.lock);
    return sent;
}

static int load(libxlmig_ctx *ctx, enum xlmig__mig_role role,
                const char *task, struct xlmig__mig_record *r)
{
    return xlmig__mig_record_load(ctx, V.conf->state_dir, role, task, r);
}

/* Recover @task's journal in a worker, unless one runs it already. */
static void recover_async(libxlmig_ctx *ctx, const char *task,
                          enum xlmig__mig_role role, const char *remote)
{
    bool busy;

    pthread_mutex_lock(&V.lock);
    busy = worker_find_locked(task, role) != NULL;
    pthread_mutex_unlock(&V.lock);
    if (!busy && worker_start(ctx, "recover", task, role, remote, -1, NULL))
        xlmigd_log("migration %s: %s", task, libxlmig_ctx_last_error(ctx));
}

void xlmigd_vm_recover_all(void)
{
    enum xlmig__mig_role roles[] = { XLMIG__MIG_SRC, XLMIG__MIG_DST };
    libxlmig_ctx *ctx = NULL;
    size_t k, i;

    if (libxlmig_ctx_new(NULL, LIBXLMIG_LOG_ERROR, &ctx))
        return;
    for (k = 0; k < 2; k++) {
        struct xlmig__mig_record *recs = NULL;
        size_t nr = 0;

        if (xlmig__mig_record_list(ctx, V.conf->state_dir, roles[k], &recs,
                                   &nr)) {
            xlmigd_log("%s", libxlmig_ctx_last_error(ctx));
            continue;
        }
        for (i = 0; i < nr; i++) {
            struct xlmig__mig_record *r = &recs[i];

            if (r->state != XLMIG__MIG_RUNNING)
                continue;
            if (r->worker_pid > 0 &&
                xlmig__proc_alive((pid_t)r->worker_pid, r->worker_start)) {
                struct worker *w;

                /* Left running by a clean stop: adopt it. */
                pthread_mutex_lock(&V.lock);
                w = worker_slot_locked();
                if (w) {
                    w->used = true;
                    xlmig__strlcpy(w->task, r->task, sizeof(w->task));
                    w->role = roles[k];
                    w->pid = (pid_t)r->worker_pid;
                    w->start = r->worker_start;
                }
                pthread_mutex_unlock(&V.lock);
                xlmigd_log("migration %s: its worker (pid %lld) goes on",
                           r->task, (long long)r->worker_pid);
                continue;
            }
            xlmigd_log("migration %s of VM %s was left in phase %s: "
                       "recovering", r->task, r->vm,
                       xlmig__mig_phase_name(r->phase));
            recover_async(ctx, r->task, roles[k], r->remote_config);
        }
        free(recs);
        xlmig__mig_record_prune(ctx, V.conf->state_dir, roles[k]);
    }
    libxlmig_ctx_free(ctx);
}

void xlmigd_vm_reap(void)
{
    struct { char task[XLMIG__UUID_LEN + 1]; enum xlmig__mig_role role;
             bool recovery; } ended[WORKERS_MAX];
    libxlmig_ctx *ctx = NULL;
    size_t n = 0, i;

    pthread_mutex_lock(&V.lock);
    for (i = 0; i < WORKERS_MAX; i++) {
        struct worker *w = &V.w[i];
        int st;

        if (!w->used)
            continue;
        if (w->child ? waitpid(w->pid, &st, WNOHANG) == w->pid
                     : !xlmig__proc_alive(w->pid, w->start)) {
            xlmig__strlcpy(ended[n].task, w->task, sizeof(ended[n].task));
            ended[n].role = w->role;
            ended[n].recovery = w->recovery;
            n++;
            worker_forget_locked(w);
        }
    }
    pthread_mutex_unlock(&V.lock);
    if (libxlmig_ctx_new(NULL, LIBXLMIG_LOG_ERROR, &ctx))
        return;
    /* A worker that ended with its task still running crashed. */
    for (i = 0; i < n; i++) {
        struct xlmig__mig_record r;

        if (load(ctx, ended[i].role, ended[i].task, &r) ||
            r.state != XLMIG__MIG_RUNNING || ended[i].recovery)
            continue;
        xlmigd_log("migration %s of VM %s: its worker ended in phase %s: "
                   "recovering", r.task, r.vm,
                   xlmig__mig_phase_name(r.phase));
        recover_async(ctx, r.task, ended[i].role, r.remote_config);
    }
    /* Sources whose outcome is unknown ask again. */
    if (time(NULL) - V.last_unknown >= RETRY_UNKNOWN_S) {
        struct xlmig__mig_record *recs = NULL;
        size_t nr = 0;

        V.last_unknown = time(NULL);
        if (!xlmig__mig_record_list(ctx, V.conf->state_dir, XLMIG__MIG_SRC,
                                    &recs, &nr)) {
            for (i = 0; i < nr; i++) {
                if (recs[i].state == XLMIG__MIG_RUNNING &&
                    recs[i].phase == XLMIG__MIG_GO_SENT &&
                    !xlmig__proc_alive((pid_t)recs[i].worker_pid,
                                       recs[i].worker_start))
                    recover_async(ctx, recs[i].task, XLMIG__MIG_SRC,
                                  recs[i].remote_config);
            }
        }
        free(recs);
    }
    libxlmig_ctx_free(ctx);
}

void xlmigd_vm_stop(void)
{
    size_t i;

    pthread_mutex_lock(&V.lock);
    for (i = 0; i < WORKERS_MAX; i++) {
        if (V.w[i].used && V.w[i].pipe_w >= 0) {
            (void)xlmig__write_all(V.w[i].pipe_w, "detach\n", 7);
            close(V.w[i].pipe_w);
            V.w[i].pipe_w = -1;
        }
    }
    pthread_mutex_unlock(&V.lock);
}

void xlmigd_vm_conn_end(struct conn *c)
{
    size_t i;

    for (i = 0; i < CONN_MIG_MAX; i++) {
        if (!c->mig[i][0])
            continue;
        if (worker_signal(c->mig[i], XLMIG__MIG_DST))
            xlmigd_log("migration %s: its source's connection ended; the "
                       "receiving worker stops unless the VM is ours",
                       c->mig[i]);
        c->mig[i][0] = '\0';
    }
}

/* ------------------------------------------------------------ replies */

static int reply_last(struct conn *c, const struct xlmig__rpc_msg *m,
                      int rc, const char *param)
{
    return xlmigd_reply_error(c, m->id, rc, libxlmig_ctx_last_error(c->ctx),
                              param);
}

static struct xlmig__hv *hv_open(struct conn *c)
{
    struct xlmig__hv *h = NULL;

    if (V.hv->open(c->ctx, &h))
        return NULL;
    return h;
}

/* ------------------------------------------------------------ facts */

static int facts_here(libxlmig_ctx *ctx, struct xlmig__host_facts *f)
{
    libxlmig_host_info info;
    struct xlmig__hv *h = NULL;
    int rc = V.hv->open(ctx, &h);

    if (!rc)
        rc = V.hv->host_info(h, &info);
    V.hv->close(h);
    if (!rc)
        rc = xlmig__host_facts_local(ctx, V.conf->name, &info,
                                     V.conf->state_dir, f);
    if (!rc && V.conf->test_version_file[0]) {
        /* The test hook: the versions a test's "upgrade" wrote. */
        struct xlmig__rolling_version v;

        xlmig__strlcpy(v.xen, f->xen_version, sizeof(v.xen));
        xlmig__strlcpy(v.libxlmig, f->version, sizeof(v.libxlmig));
        rc = xlmig__rolling_version_file(ctx, V.conf->test_version_file, &v);
        if (!rc) {
            xlmig__strlcpy(f->xen_version, v.xen, sizeof(f->xen_version));
            xlmig__strlcpy(f->version, v.libxlmig, sizeof(f->version));
        }
    }
    return rc;
}

int xlmigd_m_host_facts(struct conn *c, const struct xlmig__rpc_msg *m)
{
    struct xlmig__host_facts *f = xlmig__zalloc(sizeof(*f));
    yajl_gen g;
    int rc;

    if (!f)
        return LIBXLMIG_ERR_NO_MEMORY;
    rc = facts_here(c->ctx, f);
    if (rc) {
        free(f);
        return reply_last(c, m, rc, NULL);
    }
    g = xlmig__rpc_gen_result(m->id);
    if (!g || !xlmig__host_facts_gen(g, f)) {
        free(f);
        if (g)
            yajl_gen_free(g);
        return LIBXLMIG_ERR_NO_MEMORY;
    }
    free(f);
    return xlmigd_finish_reply(c, g);
}

/* ------------------------------------------------------------ VMs */

/* VM @which here: a domain (*running), or a halted VM's record. */
static int vm_find(libxlmig_ctx *ctx, struct xlmig__hv *h, const char *which,
                   struct xlmig__dom *d, struct xlmig__vmrec *rec,
                   bool *running)
{
    int rc = V.hv->find(h, which, d);

    *running = rc == 0;
    if (!rc)
        return 0;
    if (rc != LIBXLMIG_ERR_NOT_FOUND)
        return rc;
    rc = xlmig__vmrec_find(ctx, V.conf->state_dir, which, rec);
    if (rc == LIBXLMIG_ERR_NOT_FOUND)
        return xlmig__error(ctx, rc, -1, "no VM %s on host %s (neither "
                            "running nor recorded halted)", which,
                            V.conf->name);
    return rc;
}

/*
 * The VM a method names (parameter "vm") on this host; replies the
 * error itself and returns false when there is none.
 */
static bool vm_param(struct conn *c, const struct xlmig__rpc_msg *m,
                     struct xlmig__dom *d, struct xlmig__vmrec *rec,
                     bool *running)
{
    const char *vm = xlmigd_need_str(c, m, "vm");
    struct xlmig__hv *h;
    int rc;

    if (!vm)
        return false;
    h = hv_open(c);
    if (!h) {
        reply_last(c, m, LIBXLMIG_ERR_NO_HYPERVISOR, NULL);
        return false;
    }
    rc = vm_find(c->ctx, h, vm, d, rec, running);
    V.hv->close(h);
    if (rc)
        reply_last(c, m, rc, vm);
    return rc == 0;
}

static void gen_vm(yajl_gen g, const char *name, const char *uuid,
                   const char *power, uint32_t domid, uint64_t mem_kib)
{
    yajl_gen_map_open(g);
    xlmigd_gen_kv_str(g, "name", name);
    xlmigd_gen_kv_str(g, "uuid", uuid);
    xlmigd_gen_kv_str(g, "power_state", power);
    xlmigd_gen_kv_uint(g, "domid", domid);
    xlmigd_gen_kv_uint(g, "memory_mib", mem_kib / 1024);
    xlmigd_gen_kv_str(g, "host", V.conf->name);
    yajl_gen_map_close(g);
}

int xlmigd_m_vm_list(struct conn *c, const struct xlmig__rpc_msg *m)
{
    struct xlmig__dom *doms = NULL;
    struct xlmig__vmrec *recs = NULL;
    struct xlmig__hv *h = hv_open(c);
    size_t nd = 0, nr = 0, i, k;
    yajl_gen g;
    int rc;

    if (!h)
        return reply_last(c, m, LIBXLMIG_ERR_NO_HYPERVISOR, NULL);
    rc = V.hv->list(h, &doms, &nd);
    if (!rc)
        rc = xlmig__vmrec_list(c->ctx, V.conf->state_dir, &recs, &nr);
    V.hv->close(h);
    if (rc) {
        free(doms);
        return reply_last(c, m, rc, NULL);
    }
    g = xlmig__rpc_gen_result(m->id);
    if (!g) {
        free(doms);
        free(recs);
        return LIBXLMIG_ERR_NO_MEMORY;
    }
    yajl_gen_array_open(g);
    for (i = 0; i < nd; i++)
        gen_vm(g, doms[i].name, doms[i].uuid,
               xlmig__dom_state_name(doms[i].state), doms[i].domid,
               doms[i].memory_kib);
    for (i = 0; i < nr; i++) {
        for (k = 0; k < nd && strcmp(doms[k].uuid, recs[i].uuid); k++)
            ;
        if (k == nd)
            gen_vm(g, recs[i].name, recs[i].uuid, "halted", 0, 0);
    }
    yajl_gen_array_close(g);
    free(doms);
    free(recs);
    return xlmigd_finish_reply(c, g);
}

int xlmigd_m_vm_locate(struct conn *c, const struct xlmig__rpc_msg *m)
{
    struct xlmig__dom d;
    struct xlmig__vmrec rec;
    bool running = false;
    yajl_gen g;

    if (!vm_param(c, m, &d, &rec, &running))
        return 0;
    g = xlmig__rpc_gen_result(m->id);
    if (!g)
        return LIBXLMIG_ERR_NO_MEMORY;
    if (running)
        gen_vm(g, d.name, d.uuid, xlmig__dom_state_name(d.state), d.domid,
               d.memory_kib);
    else
        gen_vm(g, rec.name, rec.uuid, "halted", 0, 0);
    return xlmigd_finish_reply(c, g);
}

/*
 * What a pool mid-upgrade refuses of @method (vm.register, vm.start) on
 * this host (libxlmig/rolling.h's rules).  For vm.start the pool's
 * newest version is that of the hosts that answer host.facts now (a host
 * being upgraded may not).  0, or the refusal logged in @ctx.
 */
static int rolling_check(libxlmig_ctx *ctx, const char *method)
{
    struct xlmig__pool_hosts *hs;
    struct xlmig__rolling_host *rh;
    struct xlmig__rolling_version newest, mine;
    struct xlmig__host_facts *f;
    size_t i, n = 0;
    int rc;

    if (!xlmigd_pool_upgrading() ||
        xlmig__rolling_rule(method) == XLMIG__ROLLING_ALLOWED)
        return 0;
    if (xlmig__rolling_rule(method) == XLMIG__ROLLING_REFUSED)
        return xlmig__rolling_refuse(ctx, method, V.conf->name);
    hs = xlmig__zalloc(sizeof(*hs));
    rh = calloc(XLMIG__POOL_HOSTS_MAX, sizeof(*rh));
    f = xlmig__zalloc(sizeof(*f));
    rc = hs && rh && f ? facts_here(ctx, f) : LIBXLMIG_ERR_NO_MEMORY;
    if (!rc) {
        xlmig__strlcpy(mine.xen, f->xen_version, sizeof(mine.xen));
        xlmig__strlcpy(mine.libxlmig, f->version, sizeof(mine.libxlmig));
        rc = xlmig__pool_hosts(ctx, V.conf, hs);
    }
    for (i = 0; !rc && i < hs->n; i++) {
        if (!strcmp(hs->h[i].name, V.conf->name)) {
            rh[n++].version = mine;     /* this host: read above */
            continue;
        }
        if (xlmig__host_facts_ask(ctx, V.conf, hs->h[i].name,
                                  hs->h[i].address, f, NULL))
            continue;           /* being upgraded, maybe: not counted */
        xlmig__strlcpy(rh[n].version.xen, f->xen_version,
                       sizeof(rh[n].version.xen));
        xlmig__strlcpy(rh[n].version.libxlmig, f->version,
                       sizeof(rh[n].version.libxlmig));
        n++;
    }
    if (!rc) {
        xlmig__rolling_newest(rh, n, &newest);
        if (!xlmig__rolling_version_at(&mine, &newest))
            rc = xlmig__rolling_refuse(ctx, method, V.conf->name);
    }
    free(hs);
    free(rh);
    free(f);
    return rc;
}

int xlmigd_m_vm_register(struct conn *c, const struct xlmig__rpc_msg *m)
{
    const char *vm = xlmigd_need_str(c, m, "vm");
    struct xlmig__hv *h;
    struct xlmig__dom d;
    char *cfg = NULL;
    int rc;

    if (!vm)
        return 0;
    rc = rolling_check(c->ctx, "vm.register");
    if (rc)
        return reply_last(c, m, rc, vm);
    h = hv_open(c);
    if (!h)
        return reply_last(c, m, LIBXLMIG_ERR_NO_HYPERVISOR, NULL);
    rc = V.hv->find(h, vm, &d);
    if (rc)
        rc = xlmig__error(c->ctx, LIBXLMIG_ERR_NOT_FOUND, -1, "VM %s does "
                          "not run on host %s", vm, V.conf->name);
    if (!rc)
        rc = V.hv->config(h, d.domid, &cfg);
    if (!rc)
        rc = xlmig__vmrec_save(c->ctx, V.conf->state_dir, d.uuid, d.name, cfg,
                               strlen(cfg));
    V.hv->close(h);
    free(cfg);
    if (rc)
        return reply_last(c, m, rc, vm);
    return xlmigd_reply_ok(c, m->id);
}

int xlmigd_m_vm_start(struct conn *c, const struct xlmig__rpc_msg *m)
{
    const char *vm = xlmig__rpc_get_str(m->params, "vm");
    struct xlmig__vmrec rec;
    struct xlmig__dom d;
    struct xlmig__hv *h;
    bool running = false;
    int rc = 0;

    if (!vm_param(c, m, &d, &rec, &running))
        return 0;
    if (running)
        rc = xlmig__error(c->ctx, LIBXLMIG_ERR_VM_BAD_POWER_STATE, -1, "VM "
                          "%s runs already (domain %" PRIu32 ")", vm,
                          d.domid);
    if (!rc)
        rc = xlmigd_host_check_enabled(c->ctx, rec.name, "start");
    if (!rc)
        rc = rolling_check(c->ctx, "vm.start");
    /* The worker's task slot carries the VM's uuid here. */
    if (!rc)
        rc = worker_run(c->ctx, "start", rec.uuid, XLMIG__MIG_DST, NULL);
    if (!rc && (h = hv_open(c))) {
        if (V.hv->find(h, rec.uuid, &d))
            rc = xlmig__error(c->ctx, LIBXLMIG_ERR_XEN_CALL_FAILED, -1,
                              "VM %s did not start; see %s/migrate-in/%s.log",
                              vm, V.conf->state_dir, rec.uuid);
        V.hv->close(h);
    }
    if (rc)
        return reply_last(c, m, rc, vm);
    return xlmigd_reply_ok(c, m->id);
}

/* ------------------------------------------------------------ migrate */

/* Each disk that is a VDI of a registered SR: its vdev and VDI. */
static int plan_disks(libxlmig_ctx *ctx, struct xlmig__mig_plan *p)
{
    struct xlmig__sr *srs = NULL;
    size_t nsr = 0, i, k, d;
    int rc = xlmig__sr_list(ctx, V.conf->state_dir, &srs, &nsr);

    for (i = 0; !rc && i < nsr; i++) {
        struct xlmig__vdi *vdis = NULL;
        size_t nv = 0;

        if (xlmig__vdi_list(ctx, &srs[i], &vdis, &nv))
            continue;
        for (k = 0; k < nv; k++) {
            char path[XLMIG__SR_PATH_MAX + 64];

            if (xlmig__vdi_path(&srs[i], vdis[k].uuid,
                                xlmig__vdi_format_name(vdis[k].format), path,
                                sizeof(path)))
                continue;
            for (d = 0; d < p->cfg.nr_disks; d++) {
                const struct xlmig__vmcfg_disk *dk = &p->cfg.disks[d];

                if (dk->cdrom || strcmp(dk->path, path) ||
                    p->nr_vdis == XLMIG__MIG_VDIS_MAX)
                    continue;
                xlmig__strlcpy(p->vdis[p->nr_vdis].vdev, dk->vdev,
                               sizeof(p->vdis[0].vdev));
                xlmig__strlcpy(p->vdis[p->nr_vdis].vdi, vdis[k].uuid,
                               sizeof(p->vdis[0].vdi));
                p->nr_vdis++;
            }
        }
        free(vdis);
    }
    free(srs);
    return rc;
}

/*
 * vdi_map "VDI=SR,VDI=SR": each VDI one of the VM's, each SR @dst's (by
 * uuid or name; in the plan by uuid).  @dst NULL: the VDIs only (a
 * placement resolves the SRs for each candidate).
 */
static int plan_vdi_map(libxlmig_ctx *ctx, struct xlmig__mig_plan *p,
                        const char *map, const struct xlmig__host_facts *dst)
{
    char buf[4096], *save = NULL, *item;

    if (!map || !*map)
        return 0;
    if (strlen(map) >= sizeof(buf))
        return xlmig__error(ctx, LIBXLMIG_ERR_INVALID_ARGUMENT, -1, "the VDI "
                            "map is too long");
    xlmig__strlcpy(buf, map, sizeof(buf));
    for (item = strtok_r(buf, ",", &save); item;
         item = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(item, '=');
        size_t i;
        int k;

        if (!eq || !eq[1])
            return xlmig__error(ctx, LIBXLMIG_ERR_INVALID_ARGUMENT, -1,
                                "vdi:%s needs =SR", item);
        *eq = '\0';
        for (i = 0; i < p->nr_vdis && strcmp(p->vdis[i].vdi, item); i++)
            ;
        if (i == p->nr_vdis)
            return xlmig__error(ctx, LIBXLMIG_ERR_INVALID_ARGUMENT, -1,
                                "vdi:%s: VM %s has no disk on VDI %s "
                                "(vbd-list vm=%s shows its VDIs)", item,
                                p->vm, item, p->vm);
        if (!dst)
            continue;
        k = xlmig__host_facts_sr(dst, eq + 1);
        if (k == -2)
            return xlmig__error(ctx, LIBXLMIG_ERR_INVALID_ARGUMENT, -1,
                                "host %s has two SRs named %s; give its "
                                "uuid", dst->name, eq + 1);
        if (k < 0)
            return xlmig__error(ctx, LIBXLMIG_ERR_HOST_CANNOT_SEE_SR, -1,
                                "vdi:%s=%s: host %s has no SR %s (sr-list "
                                "there shows them)", item, eq + 1, dst->name,
                                eq + 1);
        xlmig__strlcpy(p->vdis[i].sr, dst->srs[k].uuid,
                       sizeof(p->vdis[i].sr));
    }
    return 0;
}

/* vif_map "MAC=BRIDGE,...": each MAC one of the VM's. */
static int plan_vif_map(libxlmig_ctx *ctx, struct xlmig__mig_plan *p,
                        const char *map)
{
    char buf[2048], *save = NULL, *item;

    if (!map || !*map)
        return 0;
    if (strlen(map) >= sizeof(buf))
        return xlmig__error(ctx, LIBXLMIG_ERR_INVALID_ARGUMENT, -1, "the VIF "
                            "map is too long");
    xlmig__strlcpy(buf, map, sizeof(buf));
    for (item = strtok_r(buf, ",", &save); item;
         item = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(item, '=');
        const struct xlmig__vmcfg_nic *nic;

        if (!eq || !eq[1] || strlen(eq + 1) > XLMIG__VMCFG_BRIDGE_MAX)
            return xlmig__error(ctx, LIBXLMIG_ERR_INVALID_ARGUMENT, -1,
                                "vif:%s needs =BRIDGE (at most %d "
                                "characters)", item, XLMIG__VMCFG_BRIDGE_MAX);
        *eq = '\0';
        nic = xlmig__vmcfg_nic(&p->cfg, item);
        if (!nic)
            return xlmig__error(ctx, LIBXLMIG_ERR_INVALID_ARGUMENT, -1,
                                "vif:%s: VM %s has no VIF with that MAC",
                                item, p->vm);
        if (p->nr_nics == XLMIG__MIG_NICS_MAX)
            return xlmig__error(ctx, LIBXLMIG_ERR_INVALID_ARGUMENT, -1,
                                "too many VIFs in the map");
        xlmig__strlcpy(p->nics[p->nr_nics].mac, nic->mac,
                       sizeof(p->nics[0].mac));
        xlmig__strlcpy(p->nics[p->nr_nics].bridge, eq + 1,
                       sizeof(p->nics[0].bridge));
        p->nr_nics++;
    }
    return 0;
}

/* Across pools: the CPU level of every host of the destination pool. */
static int pool_level(libxlmig_ctx *ctx, const struct xlmig__pool_conf *pc,
                      const struct xlmig__pool_hosts *hs,
                      libxlmig_guest_type type,
                      libxlmig_cpu_flags *level)
{
    libxlmig_pool_host ph[64];
    struct xlmig__host_facts *f = calloc(hs->n ? hs->n : 1, sizeof(*f));
    size_t i;
    int rc = f ? 0 : LIBXLMIG_ERR_NO_MEMORY;

    for (i = 0; !rc && i < hs->n; i++) {
        rc = xlmig__host_facts_ask(ctx, pc, hs->h[i].name, hs->h[i].address, &f[i], NULL);
        ph[i].name = hs->h[i].name;
        ph[i].cpu.vendor = f[i].vendor;
        ph[i].cpu.features = type == LIBXLMIG_GUEST_PV ? f[i].pv_max
                                                       : f[i].hvm_max;
    }
    if (!rc)
        rc = libxlmig_pool_level(ctx, ph, hs->n, level);
    free(f);
    return rc;
}

static bool migrating(libxlmig_ctx *ctx, const char *uuid)
{
    struct xlmig__mig_record *recs = NULL;
    size_t nr = 0, i;
    bool busy = false;

    if (xlmig__mig_record_list(ctx, V.conf->state_dir, XLMIG__MIG_SRC, &recs,
                               &nr))
        return false;
    for (i = 0; i < nr; i++)
        busy = busy || (recs[i].state == XLMIG__MIG_RUNNING &&
                        !strcmp(recs[i].vm_uuid, uuid));
    free(recs);
    return busy;
}

/* Pool setting @key, from the master, into @buf ("" on failure). */
static int pool_param(libxlmig_ctx *ctx, const char *key, char *buf,
                      size_t cap)
{
    struct xlmig__rpc_msg resp;
    const char *kv[] = { "key", key, NULL };
    int rc = xlmig__pool_call_once(ctx, V.conf, NULL, "pool.param_get", kv,
                                   &resp);

    buf[0] = '\0';
    if (!rc && YAJL_IS_STRING(resp.result))
        xlmig__strlcpy(buf, resp.result->u.string, cap);
    xlmig__rpc_msg_dispose(&resp);
    return rc;
}

/* The pool's migration-compression, from its master (false if not). */
static bool pool_compresses(libxlmig_ctx *ctx)
{
    char v[8];

    return !pool_param(ctx, "migration-compression", v, sizeof(v)) &&
           !strcmp(v, "true");
}

struct mig_req {
    const char *vm, *host, *remote_master, *remote_config;
    const char *vdi_map, *vif_map, *compress;
    const char *vdi_given;      /* the vdi_map asked for */
    const char *sr;             /* every disk not in it to this SR */
    bool copy, force, check, live, priority;
    uint64_t bwlimit;
    char map[4096];             /* vdi_map: vdi_given and sr's entries */
};

/*
 * The VDI map of @q for @p (plan_vm()'s): the one given, and with sr=
 * an entry VDI=SR for each VDI of the VM it does not name, into q->map
 * (q->vdi_map points to it then).  INVALID_ARGUMENT when too long.
 */
static int req_map(libxlmig_ctx *ctx, struct mig_req *q,
                   const struct xlmig__mig_plan *p)
{
    const char *given = q->vdi_given ? q->vdi_given : "";
    size_t len, i, vl = XLMIG__UUID_LEN;
    int w;

    q->vdi_map = q->vdi_given;
    if (!q->sr || !*q->sr)
        return 0;
    w = snprintf(q->map, sizeof(q->map), "%s", given);
    len = (size_t)w;
    for (i = 0; w >= 0 && len < sizeof(q->map) && i < p->nr_vdis; i++) {
        const char *v = p->vdis[i].vdi, *at;

        /* Named in the map already: that entry wins. */
        for (at = strstr(given, v); at; at = strstr(at + 1, v)) {
            if ((at == given || at[-1] == ',') && at[vl] == '=')
                break;
        }
        if (at)
            continue;
        w = snprintf(q->map + len, sizeof(q->map) - len, "%s%s=%s",
                     len ? "," : "", v, q->sr);
        len += w > 0 ? (size_t)w : 0;
    }
    if (w < 0 || len >= sizeof(q->map))
        return xlmig__error(ctx, LIBXLMIG_ERR_INVALID_ARGUMENT, -1, "VM %s: "
                            "its VDI map with sr=%s is too long", p->vm,
                            q->sr);
    q->vdi_map = q->map;
    return 0;
}

/*
 * The VM's half of a plan: the VM here, its configuration, CPU and
 * disks, and what its state allows.  Errors are bad input, said at once
 * (logged in @ctx).
 */
static int plan_vm(libxlmig_ctx *ctx, const struct mig_req *q,
                   struct xlmig__mig_plan *p)
{
    struct xlmig__hv *h = NULL;
    struct xlmig__dom d;
    struct xlmig__vmrec rec;
    char *cfg = NULL;
    int rc;

    memset(p, 0, sizeof(*p));
    rc = V.hv->open(ctx, &h);
    if (!rc)
        rc = vm_find(ctx, h, q->vm, &d, &rec, &p->running);
    if (rc)
        goto out;
    if (p->running && (d.state == XLMIG__DOM_SHUTDOWN ||
                       d.state == XLMIG__DOM_DYING)) {
        /* A crashed guest kept for inspection (on_crash=preserve) has
         * nothing to move: refused now, not failed minutes later (named
         * by name and uuid, as every refusal). */
        xlmig__strlcpy(p->vm, d.name, sizeof(p->vm));
        xlmig__strlcpy(p->vm_uuid, d.uuid, sizeof(p->vm_uuid));
        rc = xlmig__error(ctx, LIBXLMIG_ERR_VM_BAD_POWER_STATE, -1, "VM %s "
                          "has shut down or crashed (domain %" PRIu32 " is "
                          "%s): there is nothing running to migrate; "
                          "destroy the domain (xl destroy %" PRIu32 ") and "
                          "start the VM again", d.name, d.domid,
                          xlmig__dom_state_name(d.state), d.domid);
        goto out;
    }
    if (p->running) {
        rc = V.hv->config(h, d.domid, &cfg);
        if (!rc)
            rc = V.hv->cpu(h, d.domid, &p->cpu);
        if (rc)
            goto out;
        p->has_cpu = true;
        p->domid = d.domid;
        p->memory_kib = d.memory_kib;
        p->vcpus = d.vcpus;
        xlmig__strlcpy(p->vm, d.name, sizeof(p->vm));
        xlmig__strlcpy(p->vm_uuid, d.uuid, sizeof(p->vm_uuid));
    } else {
        rc = xlmig__vmrec_config(ctx, V.conf->state_dir, rec.uuid, &cfg);
        if (rc)
            goto out;
        xlmig__strlcpy(p->vm, rec.name, sizeof(p->vm));
        xlmig__strlcpy(p->vm_uuid, rec.uuid, sizeof(p->vm_uuid));
    }
    rc = xlmig__vmcfg_parse(ctx, p->vm, cfg, strlen(cfg), &p->cfg);
    if (rc)
        goto out;
    if (!p->running) {
        p->memory_kib = p->cfg.target_memkb;
        p->vcpus = p->cfg.max_vcpus;
    }
    p->type = strcmp(p->cfg.type, "pv") ? LIBXLMIG_GUEST_HVM
                                        : LIBXLMIG_GUEST_PV;
    p->force = q->force;
    if (q->copy && p->running) {
        rc = xlmig__error(ctx, LIBXLMIG_ERR_VM_BAD_POWER_STATE, -1, "copy="
                          "true needs a halted VM; VM %s runs (shut it "
                          "down first, or migrate it without copy)", p->vm);
        goto out;
    }
    if (!q->live && p->running) {
        rc = xlmig__error(ctx, LIBXLMIG_ERR_INVALID_ARGUMENT, -1, "live="
                          "false: VM %s runs and moves live; shut it down "
                          "for a cold migration", p->vm);
        goto out;
    }
    if (migrating(ctx, p->vm_uuid)) {
        rc = xlmig__error(ctx, LIBXLMIG_ERR_OTHER_OPERATION_IN_PROGRESS, -1,
                          "VM %s is being migrated already (task-list shows "
                          "it)", p->vm);
        goto out;
    }
    rc = plan_disks(ctx, p);
 out:
    free(cfg);
    V.hv->close(h);
    return rc;
}

/*
 * Everything before the checks: the VM, the destination, the maps.
 * Errors are bad input, said at once (logged in @ctx).
 */
static int plan_make(libxlmig_ctx *ctx, struct mig_req *q,
                     struct xlmig__mig_plan *p, struct xlmig__pool_conf *dc,
                     struct xlmig__host_facts *dst, char *daddr, size_t dcap,
                     libxlmig_cpu_flags *level, bool *has_level)
{
    struct xlmig__pool_hosts *hs = NULL;
    const struct xlmig__pool_host *hd;
    int rc;

    *has_level = false;
    rc = plan_vm(ctx, q, p);
    if (!rc)
        rc = req_map(ctx, q, p);
    if (rc)
        return rc;

    /* The destination and its pool. */
    if (q->remote_config && *q->remote_config) {
        rc = xlmig__pool_conf_load(ctx, q->remote_config, dc);
        if (rc)
            goto out;
        if (q->remote_master && *q->remote_master)
            xlmig__strlcpy(dc->master, q->remote_master, sizeof(dc->master));
    } else if (q->remote_master && *q->remote_master) {
        rc = xlmig__error(ctx, LIBXLMIG_ERR_INVALID_ARGUMENT, -1,
                          "remote-master=%s needs remote-config=FILE with "
                          "that pool's uuid and credentials",
                          q->remote_master);
        goto out;
    } else {
        *dc = *V.conf;
    }
    if (!(q->remote_config && *q->remote_config) &&
        !strcmp(q->host, V.conf->name)) {
        rc = xlmig__error(ctx, LIBXLMIG_ERR_INVALID_ARGUMENT, -1, "VM %s is "
                          "on host %s already%s", p->vm, V.conf->name,
                          q->vdi_map && *q->vdi_map
                              ? "; move its disks with vdi-pool-migrate"
                              : "; name another host");
        goto out;
    }
    hs = xlmig__zalloc(sizeof(*hs));
    rc = hs ? xlmig__pool_hosts(ctx, dc, hs) : LIBXLMIG_ERR_NO_MEMORY;
    if (rc)
        goto out;
    hd = xlmig__pool_hosts_find(hs, q->host);
    if (!hd) {
        rc = xlmig__error(ctx, LIBXLMIG_ERR_NOT_FOUND, -1, "no host %s in "
                          "pool %s (host-list shows its hosts)", q->host,
                          dc->pool_uuid);
        goto out;
    }
    xlmig__strlcpy(daddr, hd->address, dcap);
    /* A check, not bad input: reported with the others. */
    p->dst_disabled = !hd->enabled;
    rc = xlmig__host_facts_ask(ctx, dc, q->host, daddr, dst, NULL);
    if (!rc && q->remote_config && *q->remote_config) {
        rc = pool_level(ctx, dc, hs, p->type, level);
        *has_level = !rc;
    }
    if (!rc)
        rc = plan_vdi_map(ctx, p, q->vdi_map, dst);
    if (!rc)
        rc = plan_vif_map(ctx, p, q->vif_map);
 out:
    free(hs);
    return rc;
}

/* ------------------------------------------------------------ placement */

/*
 * One host's host.facts for a placement, asked by a thread of its own,
 * so that the placement waits FACTS_WAIT_MS at most for any host: one
 * that is down, cut off or stopped is a refused candidate, not a hang.
 * A job the placement stops waiting for is left to its thread, which
 * ends by itself (the socket shut down, or TLS's own time limit); the
 * last of the two to let go frees it.  Everything here is under
 * facts_lock.
 */
struct facts_job {
    int refs;                       /* the thread, the placement */
    bool done;
    int rc;
    int fd;                         /* its socket while it asks, or -1 */
    char name[XLMIG__WLB_HOST_MAX + 1];
    char addr[256];
    char why[XLMIG__PLACE_MSG_MAX];     /* "NAME: sentence" when rc */
    struct xlmig__host_facts f;
};

static pthread_mutex_t facts_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t facts_cond = PTHREAD_COND_INITIALIZER;

static void facts_job_put_locked(struct facts_job *j)
{
    if (--j->refs == 0)
        free(j);
}

static void *facts_job_main(void *arg)
{
    struct facts_job *j = arg;
    libxlmig_transport *t = NULL;
    struct xlmig__rpc_msg resp;
    libxlmig_ctx *ctx = NULL;
    char why[256];
    int fd = -1, rc;

    memset(&resp, 0, sizeof(resp));
    rc = libxlmig_ctx_new(NULL, LIBXLMIG_LOG_CRITICAL, &ctx);
    if (!rc)
        rc = xlmig__pool_open_fd(ctx, V.conf, j->addr, &t, &fd);
    if (!rc) {
        pthread_mutex_lock(&facts_lock);
        j->fd = fd;
        pthread_mutex_unlock(&facts_lock);
        rc = xlmig__pool_call(ctx, t, j->addr, 2, "host.facts", NULL, NULL,
                              NULL, &resp);
        if (!rc &&
            xlmig__host_facts_decode(resp.result, &j->f, why, sizeof(why)))
            rc = xlmig__error(ctx, LIBXLMIG_ERR_PROTOCOL, -1, "host %s "
                              "answered host.facts with %s", j->name, why);
        pthread_mutex_lock(&facts_lock);
        j->fd = -1;                 /* closed with the transport, below */
        pthread_mutex_unlock(&facts_lock);
    }
    xlmig__rpc_msg_dispose(&resp);
    libxlmig_transport_free(t);
    pthread_mutex_lock(&facts_lock);
    j->rc = rc;
    if (rc)
        snprintf(j->why, sizeof(j->why), "%s", ctx
                 ? libxlmig_ctx_last_error(ctx)
                 : "NO_MEMORY: no memory to ask for host.facts");
    j->done = true;
    pthread_cond_broadcast(&facts_cond);
    facts_job_put_locked(j);
    pthread_mutex_unlock(&facts_lock);
    libxlmig_ctx_free(ctx);
    return NULL;
}

/* Make @h a host that cannot take the VM, for @why ("NAME: sentence"). */
static void place_refuse(struct xlmig__place_host *h, const char *why)
{
    h->nr_failures = 1;
    h->nr_refusals = 1;
    xlmig__strlcpy(h->refusals[0], why, sizeof(h->refusals[0]));
}

/* What a placement weighed and what it found (about 1 MiB: allocate). */
struct placement {
    struct xlmig__pool_hosts hs;
    size_t n;                       /* hosts[i] is hs.h[i] */
    struct xlmig__place_host hosts[XLMIG__PLACE_HOSTS_MAX];
    bool unreachable[XLMIG__PLACE_HOSTS_MAX];   /* no facts: refused */
    char why[XLMIG__PLACE_HOSTS_MAX][XLMIG__PLACE_MSG_MAX];
    char hook[XLMIG__POOL_PARAM_VALUE_MAX];     /* the pool's wlb-hook */
    unsigned int timeout_s;
    struct xlmig__place_ranking rk;
    /* NO_HOSTS_AVAILABLE: rc and its sentence (rk.n is 0); else 0. */
    int rc;
    char msg[XLMIG__PLACE_MSG_MAX + 200];
};

/*
 * The facts of every host of pl->hs into pl->hosts (this host's are
 * @src): all asked at once, each waited for until FACTS_WAIT_MS after
 * the first was asked.  A host without an answer by then, or that
 * answered an error, is marked unreachable with the reason in pl->why.
 */
static void place_facts(const struct xlmig__host_facts *src,
                        struct placement *pl)
{
    struct facts_job *jobs[XLMIG__PLACE_HOSTS_MAX] = { NULL };
    struct timespec until;
    size_t i;
    bool all;

    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += FACTS_WAIT_MS / 1000;
    until.tv_nsec += (long)(FACTS_WAIT_MS % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    for (i = 0; i < pl->n; i++) {
        const struct xlmig__pool_host *ph = &pl->hs.h[i];
        struct facts_job *j;
        pthread_t tid;

        if (!strcmp(ph->name, V.conf->name)) {
            pl->hosts[i].facts = *src;
            continue;
        }
        j = xlmig__zalloc(sizeof(*j));
        if (!j) {
            pl->unreachable[i] = true;
            snprintf(pl->why[i], sizeof(pl->why[i]), "NO_MEMORY: no memory "
                     "to ask host %s for its facts", ph->name);
            continue;
        }
        j->refs = 2;
        j->fd = -1;
        xlmig__strlcpy(j->name, ph->name, sizeof(j->name));
        xlmig__strlcpy(j->addr, ph->address, sizeof(j->addr));
        if (xlmigd_spawn(&tid, facts_job_main, j)) {
            free(j);
            pl->unreachable[i] = true;
            snprintf(pl->why[i], sizeof(pl->why[i]), "INTERNAL_ERROR: "
                     "cannot start a thread to ask host %s for its facts",
                     ph->name);
            continue;
        }
        pthread_detach(tid);
        jobs[i] = j;
    }
    pthread_mutex_lock(&facts_lock);
    for (;;) {
        for (all = true, i = 0; i < pl->n && all; i++)
            all = !jobs[i] || jobs[i]->done;
        if (all || pthread_cond_timedwait(&facts_cond, &facts_lock,
                                          &until) == ETIMEDOUT)
            break;
    }
    for (i = 0; i < pl->n; i++) {
        struct facts_job *j = jobs[i];

        if (!j)
            continue;
        if (j->done && !j->rc) {
            pl->hosts[i].facts = j->f;
        } else if (j->done) {
            pl->unreachable[i] = true;
            xlmig__strlcpy(pl->why[i], j->why, sizeof(pl->why[i]));
        } else {
            /* Its thread reads no more: it ends and frees the job. */
            if (j->fd >= 0)
                shutdown(j->fd, SHUT_RDWR);
            pl->unreachable[i] = true;
            snprintf(pl->why[i], sizeof(pl->why[i]), "CANNOT_CONTACT_HOST: "
                     "host %s (xlmigd at %s) did not answer host.facts "
                     "within %d s; check that its xlmigd runs and answers",
                     pl->hs.h[i].name, pl->hs.h[i].address,
                     FACTS_WAIT_MS / 1000);
        }
        facts_job_put_locked(j);
    }
    pthread_mutex_unlock(&facts_lock);
    /* The pool's name for each host, whatever its facts say. */
    for (i = 0; i < pl->n; i++) {
        xlmig__strlcpy(pl->hosts[i].facts.name, pl->hs.h[i].name,
                       sizeof(pl->hosts[i].facts.name));
        pl->hosts[i].enabled = pl->hs.h[i].enabled;
    }
}

/*
 * The verdict on each host of @pl for @p (as plan_vm() made it, from
 * this host, whose facts are @src), into @hosts (pl->hosts, or a copy of
 * them with other free memory: a batch's): a host without facts is
 * refused with why it has none; a vdi map's SRs (@vdi_map, by uuid or
 * name) are looked up on each candidate, and one without them is
 * refused; every other check is xlmig__place_evaluate()'s.
 */
static int place_evaluate(libxlmig_ctx *ctx, const char *vdi_map,
                          const struct xlmig__mig_plan *p,
                          const struct xlmig__host_facts *src,
                          const struct placement *pl,
                          struct xlmig__place_host *hosts)
{
    struct xlmig__mig_plan *hp = xlmig__zalloc(sizeof(*hp));
    libxlmig_ctx *quiet = NULL;
    size_t i;
    int rc;

    if (!hp || libxlmig_ctx_new(NULL, LIBXLMIG_LOG_CRITICAL, &quiet)) {
        rc = xlmig__error(ctx, LIBXLMIG_ERR_NO_MEMORY, -1, "no memory to "
                          "place VM %s", p->vm);
        goto out;
    }
    for (i = 0; i < pl->n; i++) {
        struct xlmig__place_host *h = &hosts[i];
        const struct xlmig__mig_plan *use = p;

        /* Disabled, or where the VM is: the module's refusal. */
        if (h->enabled && strcmp(h->facts.name, src->name)) {
            if (pl->unreachable[i]) {
                place_refuse(h, pl->why[i]);
                continue;
            }
            if (vdi_map && *vdi_map) {
                *hp = *p;
                if (plan_vdi_map(quiet, hp, vdi_map, &h->facts)) {
                    place_refuse(h, libxlmig_ctx_last_error(quiet));
                    continue;
                }
                use = hp;
            }
        }
        rc = xlmig__place_evaluate(ctx, V.conf->state_dir, use, src, NULL, h,
                                   1);
        if (rc)
            goto out;
    }
    rc = 0;
 out:
    libxlmig_ctx_free(quiet);
    free(hp);
    return rc;
}

/*
 * What a placement weighs, into *@pl: the pool's hosts (only host @only
 * when it is not NULL: NOT_FOUND when the pool has none of that name)
 * and wlb-hook from its master, each host's facts (this host's are
 * @src).  0, or an error logged in @ctx (the master could not be
 * asked).
 */
static int place_setup(libxlmig_ctx *ctx, const char *only,
                       const struct xlmig__host_facts *src,
                       struct placement *pl)
{
    const struct xlmig__pool_host *h;
    char tmo[16] = "";
    int rc;

    memset(pl, 0, sizeof(*pl));
    rc = xlmig__pool_hosts(ctx, V.conf, &pl->hs);
    if (rc)
        return rc;
    if (only) {
        h = xlmig__pool_hosts_find(&pl->hs, only);
        if (!h)
            return xlmig__error(ctx, LIBXLMIG_ERR_NOT_FOUND, -1, "no host "
                                "%s in pool %s (host-list shows its hosts)",
                                only, V.conf->pool_uuid);
        pl->hs.h[0] = *h;
        pl->hs.n = 1;
    }
    pl->n = pl->hs.n;
    if (pl->n > XLMIG__PLACE_HOSTS_MAX)
        pl->n = XLMIG__PLACE_HOSTS_MAX;
    /* A master of before placement knows no wlb-hook: none. */
    rc = pool_param(ctx, "wlb-hook", pl->hook, sizeof(pl->hook));
    if (!rc)
        rc = pool_param(ctx, "wlb-hook-timeout", tmo, sizeof(tmo));
    if (rc && rc != LIBXLMIG_ERR_INVALID_ARGUMENT)
        return rc;
    pl->timeout_s = (unsigned int)strtoul(tmo, NULL, 10);
    if (rc || !pl->timeout_s || pl->timeout_s > XLMIG__POOL_WLB_TIMEOUT_MAX)
        pl->timeout_s = XLMIG__POOL_WLB_TIMEOUT_DEFAULT;
    if (rc)
        pl->hook[0] = '\0';
    place_facts(src, pl);
    return 0;
}

/*
 * Place the VM of @p (plan_vm()'s; its maps checked, @q's vdi map still
 * by SR name or uuid) now on this host, whose facts are @src: the
 * pool's hosts and wlb-hook from its master, each host's facts, each
 * one's verdict, then the ranking into *@pl.  0 with pl->rk.n >= 1, or
 * with pl->rc NO_HOSTS_AVAILABLE (logged) when no host can take it;
 * else an error logged in @ctx (the master could not be asked, no
 * memory).  Nothing is done to any host, VM or disk.
 */
static int place_vm(libxlmig_ctx *ctx, const struct mig_req *q,
                    const struct xlmig__mig_plan *p,
                    const struct xlmig__host_facts *src,
                    struct placement *pl)
{
    struct xlmig__wlb_hook hook;
    size_t i;
    int rc;

    rc = place_setup(ctx, NULL, src, pl);
    if (!rc)
        rc = place_evaluate(ctx, q->vdi_map, p, src, pl, pl->hosts);
    if (rc)
        return rc;
    hook.command = pl->hook;
    hook.timeout_ms = pl->timeout_s * 1000;
    rc = xlmig__place(ctx, &hook, p, V.conf->name, pl->hosts, pl->n,
                      &pl->rk);
    if (rc == LIBXLMIG_ERR_NO_HOSTS_AVAILABLE) {
        pl->rc = rc;
        xlmig__strlcpy(pl->msg, libxlmig_ctx_last_error(ctx),
                       sizeof(pl->msg));
        return 0;
    }
    if (rc)
        return rc;
    if (pl->rk.fallback[0])
        xlmigd_log("%s", pl->rk.fallback);
    xlmigd_log("placing VM %s: host %s (%s: %s)", p->vm,
               pl->rk.recs[0].name,
               xlmig__place_source_name(pl->rk.source),
               pl->rk.recs[0].reason);
    for (i = 0; i < pl->n; i++) {
        if (pl->hosts[i].nr_failures && pl->unreachable[i])
            xlmigd_log("placing VM %s: %s", p->vm, pl->why[i]);
    }
    return 0;
}

/* A placement's request: the VM's half of a plan and its maps. */
static int place_plan(libxlmig_ctx *ctx, struct mig_req *q,
                      struct xlmig__mig_plan *p)
{
    int rc;

    if ((q->remote_master && *q->remote_master) ||
        (q->remote_config && *q->remote_config))
        return xlmig__error(ctx, LIBXLMIG_ERR_INVALID_ARGUMENT, -1, "VM %s: "
                            "remote-master= and remote-config= need host= "
                            "(a host of that pool): placement chooses among "
                            "this pool's hosts only", q->vm);
    rc = plan_vm(ctx, q, p);
    if (!rc)
        rc = req_map(ctx, q, p);
    if (!rc)
        rc = plan_vdi_map(ctx, p, q->vdi_map, NULL);
    if (!rc)
        rc = plan_vif_map(ctx, p, q->vif_map);
    return rc;
}

/* place_plan(), this host's facts into @src, then place_vm(). */
static int place_here(libxlmig_ctx *ctx, struct mig_req *q,
                      struct xlmig__mig_plan *p,
                      struct xlmig__host_facts *src, struct placement *pl)
{
    int rc = place_plan(ctx, q, p);

    if (!rc)
        rc = facts_here(ctx, src);
    if (!rc)
        rc = place_vm(ctx, q, p, src, pl);
    return rc;
}

/*
 * The options of a vm.migrate, vm.place or batch request into @q (the
 * strings point into @m; "" for host or sr is none).  False, with the
 * error answered, when compress is neither true nor false.
 */
static bool mig_opts_read(struct conn *c, const struct xlmig__rpc_msg *m,
                          struct mig_req *q)
{
    memset(q, 0, sizeof(*q));
    q->host = xlmig__rpc_get_str(m->params, "host");
    if (q->host && !*q->host)
        q->host = NULL;         /* no host: placed */
    q->remote_master = xlmig__rpc_get_str(m->params, "remote_master");
    q->remote_config = xlmig__rpc_get_str(m->params, "remote_config");
    q->vdi_given = xlmig__rpc_get_str(m->params, "vdi_map");
    q->vdi_map = q->vdi_given;
    q->sr = xlmig__rpc_get_str(m->params, "sr");
    if (q->sr && !*q->sr)
        q->sr = NULL;
    q->vif_map = xlmig__rpc_get_str(m->params, "vif_map");
    q->compress = xlmig__rpc_get_str(m->params, "compress");
    q->live = true;
    (void)xlmig__rpc_get_bool(m->params, "copy", &q->copy);
    (void)xlmig__rpc_get_bool(m->params, "force", &q->force);
    (void)xlmig__rpc_get_bool(m->params, "check", &q->check);
    (void)xlmig__rpc_get_bool(m->params, "live", &q->live);
    (void)xlmig__rpc_get_bool(m->params, "priority", &q->priority);
    (void)xlmig__rpc_get_uint(m->params, "bwlimit", &q->bwlimit);
    if (q->compress && strcmp(q->compress, "true") &&
        strcmp(q->compress, "false")) {
        xlmigd_reply_error(c, m->id, LIBXLMIG_ERR_INVALID_ARGUMENT,
                           "compress is true or false", "compress");
        return false;
    }
    return true;
}

/* mig_opts_read() and "vm"; false, with the error answered, without. */
static bool mig_req_read(struct conn *c, const struct xlmig__rpc_msg *m,
                         struct mig_req *q)
{
    if (!mig_opts_read(c, m, q))
        return false;
    q->vm = xlmigd_need_str(c, m, "vm");
    return q->vm != NULL;
}

/*
 * A placement as vm.place answers it (docs/xlmigd.md): the ranking,
 * where it came from, the hook's failure, the refused hosts.
 */
static void gen_placement(yajl_gen g, const struct xlmig__mig_plan *p,
                          const struct placement *pl)
{
    const struct xlmig__place_ranking *rk = &pl->rk;
    size_t i, k;

    yajl_gen_map_open(g);
    xlmigd_gen_kv_str(g, "vm", p->vm);
    xlmigd_gen_kv_str(g, "from", V.conf->name);
    xlmigd_gen_kv_str(g, "source", xlmig__place_source_name(rk->source));
    xlmigd_gen_kv_str(g, "fallback_error", rk->fallback_rc
                      ? libxlmig_strerror_name(rk->fallback_rc) : "");
    xlmigd_gen_kv_str(g, "fallback", rk->fallback);
    xlmigd_gen_kv_str(g, "error", pl->rc ? libxlmig_strerror_name(pl->rc)
                                         : "");
    xlmigd_gen_kv_str(g, "message", pl->rc ? pl->msg : "");
    yajl_gen_string(g, (const unsigned char *)"recommendations", 15);
    yajl_gen_array_open(g);
    for (i = 0; !pl->rc && i < rk->n; i++) {
        yajl_gen_map_open(g);
        xlmigd_gen_kv_str(g, "host", rk->recs[i].name);
        yajl_gen_string(g, (const unsigned char *)"score", 5);
        yajl_gen_double(g, rk->recs[i].score);
        xlmigd_gen_kv_str(g, "reason", rk->recs[i].reason);
        yajl_gen_map_close(g);
    }
    yajl_gen_array_close(g);
    yajl_gen_string(g, (const unsigned char *)"refused", 7);
    yajl_gen_array_open(g);
    for (i = 0; i < pl->n; i++) {
        const struct xlmig__place_host *h = &pl->hosts[i];

        if (!h->nr_failures)
            continue;
        yajl_gen_map_open(g);
        xlmigd_gen_kv_str(g, "host", h->facts.name);
        yajl_gen_string(g, (const unsigned char *)"refusals", 8);
        yajl_gen_array_open(g);
        for (k = 0; k < h->nr_refusals; k++)
            yajl_gen_string(g, (const unsigned char *)h->refusals[k],
                            strlen(h->refusals[k]));
        yajl_gen_array_close(g);
        yajl_gen_map_close(g);
    }
    yajl_gen_array_close(g);
    yajl_gen_map_close(g);
}

int xlmigd_m_vm_place(struct conn *c, const struct xlmig__rpc_msg *m)
{
    struct mig_req q;
    struct xlmig__mig_plan *p = NULL;
    struct xlmig__host_facts *src = NULL;
    struct placement *pl = NULL;
    yajl_gen g;
    int rc;

    if (!mig_req_read(c, m, &q))
        return 0;
    p = xlmig__zalloc(sizeof(*p));
    src = xlmig__zalloc(sizeof(*src));
    pl = xlmig__zalloc(sizeof(*pl));
    if (!p || !src || !pl) {
        rc = LIBXLMIG_ERR_NO_MEMORY;
        goto out;
    }
    rc = place_here(c->ctx, &q, p, src, pl);
    if (rc) {
        rc = reply_last(c, m, rc, q.vm);
        goto out;
    }
    g = xlmig__rpc_gen_result(m->id);
    if (!g) {
        rc = LIBXLMIG_ERR_NO_MEMORY;
        goto out;
    }
    gen_placement(g, p, pl);
    rc = xlmigd_finish_reply(c, g);
 out:
    free(pl);
    free(src);
    free(p);
    return rc;
}

/* What the reply of a placed vm.migrate says of its placement. */
static void gen_placed(yajl_gen g, const struct placement *pl)
{
    const struct xlmig__place_ranking *rk = &pl->rk;

    xlmigd_gen_kv_str(g, "placed_by", xlmig__place_source_name(rk->source));
    xlmigd_gen_kv_str(g, "placed_reason", rk->recs[0].reason);
    xlmigd_gen_kv_str(g, "fallback_error", rk->fallback_rc
                      ? libxlmig_strerror_name(rk->fallback_rc) : "");
    xlmigd_gen_kv_str(g, "fallback", rk->fallback);
}

/*
 * A vm.migrate without a host that no host can take: its failures are
 * NO_HOSTS_AVAILABLE's sentence, then every refusal of every host.
 */
static int reply_no_hosts(struct conn *c, const struct xlmig__rpc_msg *m,
                          const struct xlmig__mig_plan *p,
                          const struct placement *pl)
{
    yajl_gen g = xlmig__rpc_gen_result(m->id);
    size_t i, k;

    if (!g)
        return LIBXLMIG_ERR_NO_MEMORY;
    yajl_gen_map_open(g);
    xlmigd_gen_kv_str(g, "vm", p->vm);
    xlmigd_gen_kv_str(g, "task", "");
    xlmigd_gen_kv_str(g, "host", "");
    yajl_gen_string(g, (const unsigned char *)"failures", 8);
    yajl_gen_array_open(g);
    yajl_gen_string(g, (const unsigned char *)pl->msg, strlen(pl->msg));
    for (i = 0; i < pl->n; i++) {
        for (k = 0; k < pl->hosts[i].nr_refusals; k++)
            yajl_gen_string(g,
                            (const unsigned char *)pl->hosts[i].refusals[k],
                            strlen(pl->hosts[i].refusals[k]));
    }
    yajl_gen_array_close(g);
    yajl_gen_map_close(g);
    xlmigd_log("migration of VM %s refused: no host can take it", p->vm);
    return xlmigd_finish_reply(c, g);
}

/* Where a placed VM goes and why: what its task's log says first. */
struct placed {
    enum xlmig__place_source source;
    const char *reason;
    const char *fallback;           /* the hook's failure, or "" */
};

static void log_placement(const struct xlmig__mig_record *r,
                          const struct placed *pd)
{
    int fd = log_open(r->task, XLMIG__MIG_SRC);

    if (fd < 0)
        return;
    if (pd->fallback[0])
        dprintf(fd, "xlmigd: warning: %s\n", pd->fallback);
    dprintf(fd, "xlmigd: VM %s placed on host %s (%s: %s)\n", r->vm,
            r->destination, xlmig__place_source_name(pd->source),
            pd->reason);
    close(fd);
}

/*
 * The task of a migration of @p (its checks passed) to host @host,
 * whose xlmigd is at @daddr, with @q's options: its journal, then its
 * worker; *@r the journal (r->task its uuid).  @pd: where and why it
 * was placed, or NULL.  0, or an error logged in @ctx (nothing started
 * then; a journal written is marked failed).
 */
static int task_submit(libxlmig_ctx *ctx, const struct mig_req *q,
                       const struct xlmig__mig_plan *p, const char *host,
                       const char *daddr, bool compress,
                       const struct placed *pd, struct xlmig__mig_record *r)
{
    size_t i;
    int rc;

    memset(r, 0, sizeof(*r));
    rc = xlmig__uuid_generate(ctx, r->task);
    if (rc)
        return rc;
    r->role = XLMIG__MIG_SRC;
    r->phase = XLMIG__MIG_QUEUED;
    r->state = XLMIG__MIG_RUNNING;
    xlmig__strlcpy(r->vm, p->vm, sizeof(r->vm));
    xlmig__strlcpy(r->vm_uuid, p->vm_uuid, sizeof(r->vm_uuid));
    r->domid = p->domid;
    r->live = p->running;
    r->copy = q->copy;
    r->force = q->force;
    r->compress = compress;
    r->priority = q->priority;
    r->bwlimit = q->bwlimit;
    xlmig__strlcpy(r->source, V.conf->name, sizeof(r->source));
    xlmig__strlcpy(r->destination, host, sizeof(r->destination));
    xlmig__strlcpy(r->dest_address, daddr, sizeof(r->dest_address));
    xlmig__strlcpy(r->remote_config, q->remote_config ? q->remote_config
                                                      : "",
                   sizeof(r->remote_config));
    for (i = 0; i < p->nr_vdis; i++)
        r->vdis[r->nr_vdis++] = p->vdis[i];
    for (i = 0; i < p->nr_nics; i++)
        r->nics[r->nr_nics++] = p->nics[i];
    r->started = (int64_t)time(NULL);
    rc = xlmig__mig_record_save(ctx, V.conf->state_dir, r);
    if (rc)
        return rc;
    if (pd)
        log_placement(r, pd);
    rc = worker_start(ctx, "send", r->task, XLMIG__MIG_SRC,
                      r->remote_config, -1, NULL);
    if (rc) {
        /* Not started: the journal says so, for vm.task. */
        r->state = XLMIG__MIG_FAILED;
        r->phase = XLMIG__MIG_ENDED;
        xlmig__strlcpy(r->error, libxlmig_strerror_name(rc),
                       sizeof(r->error));
        xlmig__strlcpy(r->message, libxlmig_ctx_last_error(ctx),
                       sizeof(r->message));
        r->ended = (int64_t)time(NULL);
        (void)xlmig__mig_record_save(ctx, V.conf->state_dir, r);
        return rc;
    }
    xlmigd_log("migration %s: VM %s to host %s (%s%s%s)", r->task, r->vm,
               host, r->live ? "live" : "halted, cold",
               r->compress ? ", compressed" : "",
               r->priority ? ", priority lane" : "");
    return 0;
}

/*
 * vm.migrate's answer: the VM, the task ("" when none started), the host,
 * the placement when this master chose the host (@pl), and the failures
 * @coll collected (NULL: none).
 */
static int reply_migrate(struct conn *c, const struct xlmig__rpc_msg *m,
                         const char *vm, const char *task, const char *host,
                         const struct placement *pl,
                         const struct xlmig__collect *coll)
{
    yajl_gen g = xlmig__rpc_gen_result(m->id);
    size_t i;

    if (!g)
        return LIBXLMIG_ERR_NO_MEMORY;
    yajl_gen_map_open(g);
    xlmigd_gen_kv_str(g, "vm", vm);
    xlmigd_gen_kv_str(g, "task", task);
    xlmigd_gen_kv_str(g, "host", host);
    if (pl)
        gen_placed(g, pl);
    yajl_gen_string(g, (const unsigned char *)"failures", 8);
    yajl_gen_array_open(g);
    for (i = 0; coll && i < coll->n; i++)
        yajl_gen_string(g, (const unsigned char *)coll->msgs[i],
                        strlen(coll->msgs[i]));
    yajl_gen_array_close(g);
    yajl_gen_map_close(g);
    return xlmigd_finish_reply(c, g);
}

/*
 * No host named: choose one (*pl_r, the caller frees it) and take it as
 * if it had been.  0, or the request answered (*replied_r) or failed.
 */
static int migrate_place(struct conn *c, const struct xlmig__rpc_msg *m,
                         struct mig_req *q, struct xlmig__mig_plan *p,
                         struct xlmig__host_facts *src,
                         struct placement **pl_r, bool *replied_r)
{
    struct placement *pl;
    int rc;

    pl = *pl_r = xlmig__zalloc(sizeof(*pl));
    rc = pl ? place_here(c->ctx, q, p, src, pl) : LIBXLMIG_ERR_NO_MEMORY;
    if (rc) {
        *replied_r = true;
        return reply_last(c, m, rc, q->vm);
    }
    if (pl->rc) {
        *replied_r = true;
        return reply_no_hosts(c, m, p, pl);
    }
    /* The chosen host, then as if it had been named. */
    q->host = pl->rk.recs[0].name;
    return 0;
}

/*
 * Every check of the migration, every failure kept: when one fails, or
 * only the checks were asked for (check=true), the answer lists them
 * (*replied_r).
 */
static int migrate_check(struct conn *c, const struct xlmig__rpc_msg *m,
                         const struct mig_req *q,
                         const struct xlmig__mig_plan *p,
                         const struct xlmig__host_facts *src,
                         const struct xlmig__host_facts *dst,
                         const libxlmig_cpu_flags *level,
                         const struct placement *pl, bool *replied_r)
{
    struct xlmig__collect coll;
    libxlmig_ctx *cctx = NULL;
    unsigned int fails;
    int rc = 0;

    xlmig__collect_init(&coll, NULL);
    if (libxlmig_ctx_new(&coll.vtable, LIBXLMIG_LOG_WARN, &cctx))
        return LIBXLMIG_ERR_NO_MEMORY;
    fails = xlmig__mig_check(cctx, V.conf->state_dir, p, src, dst, level);
    if (fails || q->check) {
        *replied_r = true;
        if (fails)
            xlmigd_log("migration of VM %s to %s refused: %u check(s) "
                       "failed", p->vm, q->host, fails);
        rc = reply_migrate(c, m, p->vm, "", q->host, pl, &coll);
    }
    libxlmig_ctx_free(cctx);
    return rc;
}

int xlmigd_m_vm_migrate(struct conn *c, const struct xlmig__rpc_msg *m)
{
    struct mig_req q;
    struct xlmig__mig_plan *p = NULL;
    struct xlmig__pool_conf *dc = NULL;
    struct xlmig__host_facts *dst = NULL, *src = NULL;
    struct xlmig__mig_record *r = NULL;
    struct placement *pl = NULL;
    struct placed pd;
    libxlmig_cpu_flags level;
    char daddr[256];
    bool has_level = false, replied = false;
    int rc;

    if (!mig_req_read(c, m, &q))
        return 0;
    p = xlmig__zalloc(sizeof(*p));
    dc = xlmig__zalloc(sizeof(*dc));
    dst = xlmig__zalloc(sizeof(*dst));
    src = xlmig__zalloc(sizeof(*src));
    r = xlmig__zalloc(sizeof(*r));
    if (!p || !dc || !dst || !src || !r) {
        rc = LIBXLMIG_ERR_NO_MEMORY;
        goto out;
    }
    if (!q.host) {
        rc = migrate_place(c, m, &q, p, src, &pl, &replied);
        if (rc || replied)
            goto out;
    }
    rc = plan_make(c->ctx, &q, p, dc, dst, daddr, sizeof(daddr), &level,
                   &has_level);
    if (!rc)
        rc = facts_here(c->ctx, src);
    if (rc) {
        rc = reply_last(c, m, rc, NULL);
        goto out;
    }
    rc = migrate_check(c, m, &q, p, src, dst, has_level ? &level : NULL, pl,
                       &replied);
    if (rc || replied)
        goto out;

    /* The journal, then the worker. */
    if (pl) {
        pd.source = pl->rk.source;
        pd.reason = pl->rk.recs[0].reason;
        pd.fallback = pl->rk.fallback;
    }
    rc = task_submit(c->ctx, &q, p, q.host, daddr,
                     q.compress ? !strcmp(q.compress, "true")
                                : pool_compresses(c->ctx),
                     pl ? &pd : NULL, r);
    if (rc) {
        rc = reply_last(c, m, rc, NULL);
        goto out;
    }
    rc = reply_migrate(c, m, r->vm, r->task, q.host, pl, NULL);
 out:
    free(pl);
    free(p);
    free(dc);
    free(dst);
    free(src);
    free(r);
    return rc;
}

/* ------------------------------------------------------------ batches */

#define BATCH_VM_ROOM 900           /* bytes of a VM's reply, its
                                     * sentences aside, at most */
#define BATCH_LISTED_MAX 16         /* halted, arriving VMs named */

/*
 * A batch (docs/specs/pool-ops.md): VMs of this host planned at once
 * (batch.h), each then a task of its own.  About 3 MiB: allocate.
 */
struct batch {
    libxlmig_ctx *ctx;
    struct mig_req q;               /* every task's options */
    bool pinned;                    /* q.host named: the one candidate */
    size_t n;
    struct xlmig__mig_plan plans[XLMIG__BATCH_VMS_MAX];
    struct xlmig__batch_vm vms[XLMIG__BATCH_VMS_MAX];
    struct xlmig__host_facts src;
    struct placement pl;
    uint64_t reserved[XLMIG__PLACE_HOSTS_MAX];
    /* Submitted: each placed VM's task, or why it did not start. */
    char task[XLMIG__BATCH_VMS_MAX][XLMIG__UUID_LEN + 1];
    int submit_rc[XLMIG__BATCH_VMS_MAX];
    char submit_msg[XLMIG__BATCH_VMS_MAX][XLMIG__PLACE_MSG_MAX];
};

/* batch.h's evaluate: the VM's sr= map looked up on each host. */
static int batch_evaluate(void *opaque, size_t vm,
                          struct xlmig__place_host *hosts, size_t n)
{
    struct batch *b = opaque;
    struct mig_req q = b->q;
    int rc;

    (void)n;                        /* b->pl.n, as planned */
    rc = req_map(b->ctx, &q, &b->plans[vm]);
    if (!rc)
        rc = place_evaluate(b->ctx, q.vdi_map, &b->plans[vm], &b->src,
                            &b->pl, hosts);
    return rc;
}

/* "h2=KIB,h3=KIB" (memory promised by other batches) into b->reserved. */
static int batch_reserved(struct batch *b, const char *list)
{
    char buf[4096], *save = NULL, *item;
    size_t i;

    if (!list || !*list)
        return 0;
    if (strlen(list) >= sizeof(buf))
        return xlmig__error(b->ctx, LIBXLMIG_ERR_INVALID_ARGUMENT, -1,
                            "reserved is too long");
    xlmig__strlcpy(buf, list, sizeof(buf));
    for (item = strtok_r(buf, ",", &save); item;
         item = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(item, '='), *end = NULL;
        unsigned long long kib;

        if (eq) {
            errno = 0;
            kib = strtoull(eq + 1, &end, 10);
        }
        if (!eq || !end || end == eq + 1 || *end || errno ||
            eq[1] == '-')
            return xlmig__error(b->ctx, LIBXLMIG_ERR_INVALID_ARGUMENT, -1,
                                "reserved: '%s' is not HOST=KIB", item);
        *eq = '\0';
        for (i = 0; i < b->pl.n; i++) {
            if (!strcmp(b->pl.hs.h[i].name, item))
                b->reserved[i] += kib;
        }
    }
    return 0;
}

/*
 * Plan the VMs @ids[0 .. @n - 1] (names or uuids of VMs of this host)
 * with b->q's options: each VM's half of a plan, the pool's hosts (only
 * b->q.host when it is named) and their facts, the memory @reserved
 * elsewhere ("HOST=KIB,...", or NULL), then xlmig__batch_plan().  A VM
 * that its own state keeps here (migrating already) is refused in the
 * batch.  Bad input is an error logged in b->ctx, nothing planned: a
 * VM not here (NOT_FOUND), a VM named twice, a named host that is not
 * in the pool or lacks the SR of sr=.
 */
static int batch_prepare(struct batch *b, char *const *ids, size_t n,
                         const char *reserved)
{
    libxlmig_ctx *quiet = NULL;
    struct xlmig__wlb_hook hook;
    struct xlmig__batch bp;
    size_t i, k;
    int rc = 0, sk;

    b->n = n;
    b->pinned = b->q.host != NULL;
    for (i = 0; i < n; i++) {
        struct xlmig__batch_vm *v = &b->vms[i];
        struct mig_req q = b->q;

        q.vm = ids[i];
        v->plan = &b->plans[i];
        if (libxlmig_ctx_new(NULL, LIBXLMIG_LOG_CRITICAL, &quiet))
            return xlmig__error(b->ctx, LIBXLMIG_ERR_NO_MEMORY, -1, "no "
                                "memory to plan VM %s", ids[i]);
        rc = plan_vm(quiet, &q, &b->plans[i]);
        if (rc == LIBXLMIG_ERR_NOT_FOUND || rc == LIBXLMIG_ERR_NO_MEMORY ||
            rc == LIBXLMIG_ERR_INVALID_ARGUMENT) {
            rc = xlmig__error(b->ctx, rc, -1, "%s",
                              libxlmig_ctx_last_error(quiet));
            goto out;
        }
        if (rc) {
            v->rc = rc;
            xlmig__strlcpy(v->msg, libxlmig_ctx_last_error(quiet),
                           sizeof(v->msg));
            if (!b->plans[i].vm[0])
                xlmig__strlcpy(b->plans[i].vm, ids[i],
                               sizeof(b->plans[i].vm));
        }
        libxlmig_ctx_free(quiet);
        quiet = NULL;
        for (k = 0; k < i; k++) {
            if (b->plans[i].vm_uuid[0] &&
                !strcmp(b->plans[k].vm_uuid, b->plans[i].vm_uuid)) {
                rc = xlmig__error(b->ctx, LIBXLMIG_ERR_INVALID_ARGUMENT, -1,
                                  "VM %s is named twice (as %s and %s); "
                                  "name each VM once", b->plans[i].vm,
                                  ids[k], ids[i]);
                goto out;
            }
        }
    }
    rc = facts_here(b->ctx, &b->src);
    if (!rc)
        rc = place_setup(b->ctx, b->q.host, &b->src, &b->pl);
    if (!rc)
        rc = batch_reserved(b, reserved);
    if (rc)
        goto out;
    for (i = 0; i < b->pl.n; i++) {
        if (b->pl.unreachable[i])
            xlmigd_log("planning a batch of %zu VM(s): %s", n,
                       b->pl.why[i]);
    }
    if (b->pinned && b->q.sr && *b->q.sr && !b->pl.unreachable[0]) {
        sk = xlmig__host_facts_sr(&b->pl.hosts[0].facts, b->q.sr);
        if (sk == -2) {
            rc = xlmig__error(b->ctx, LIBXLMIG_ERR_INVALID_ARGUMENT, -1,
                              "host %s has two SRs named %s; give its "
                              "uuid", b->q.host, b->q.sr);
            goto out;
        }
        if (sk < 0) {
            rc = xlmig__error(b->ctx, LIBXLMIG_ERR_HOST_CANNOT_SEE_SR, -1,
                              "sr=%s: host %s has no SR %s (sr-list there "
                              "shows them)", b->q.sr, b->q.host, b->q.sr);
            goto out;
        }
    }
    hook.command = b->pl.hook;
    hook.timeout_ms = b->pl.timeout_s * 1000;
    memset(&bp, 0, sizeof(bp));
    bp.hook = !b->pinned && b->pl.hook[0] ? &hook : NULL;
    bp.src_name = V.conf->name;
    bp.hosts = b->pl.hosts;
    bp.n = b->pl.n;
    bp.reserved_kib = b->reserved;
    bp.evaluate = batch_evaluate;
    bp.opaque = b;
    rc = xlmig__batch_plan(b->ctx, &bp, b->vms, n);
 out:
    libxlmig_ctx_free(quiet);
    return rc;
}

/* How many VMs of @b have no destination. */
static size_t batch_refused(const struct batch *b)
{
    size_t i, k = 0;

    for (i = 0; i < b->n; i++)
        k += !b->vms[i].placed;
    return k;
}

/*
 * A task for each VM of @b that has a destination, with b->q's options
 * (compressed when @compress).  A VM whose task could not start gets
 * its error in b->submit_rc/_msg; the others go on.
 */
static void batch_submit(struct batch *b, bool compress)
{
    struct xlmig__mig_plan *hp = xlmig__zalloc(sizeof(*hp));
    struct xlmig__mig_record *r = xlmig__zalloc(sizeof(*r));
    libxlmig_ctx *quiet = NULL;
    size_t i;

    for (i = 0; i < b->n; i++) {
        const struct xlmig__batch_vm *v = &b->vms[i];
        struct mig_req q = b->q;
        struct placed pd = { v->source, v->reason, v->fallback };
        int rc;

        if (!v->placed)
            continue;
        if (!hp || !r ||
            libxlmig_ctx_new(NULL, LIBXLMIG_LOG_CRITICAL, &quiet)) {
            b->submit_rc[i] = LIBXLMIG_ERR_NO_MEMORY;
            snprintf(b->submit_msg[i], sizeof(b->submit_msg[i]), "NO_MEMORY:"
                     " no memory to start the migration of VM %s",
                     v->plan->vm);
            continue;
        }
        *hp = b->plans[i];
        rc = req_map(quiet, &q, hp);
        if (!rc)
            rc = plan_vdi_map(quiet, hp, q.vdi_map,
                              &b->pl.hosts[v->host].facts);
        if (!rc)
            rc = task_submit(quiet, &q, hp, b->pl.hs.h[v->host].name,
                             b->pl.hs.h[v->host].address, compress,
                             b->pinned ? NULL : &pd, r);
        if (rc) {
            b->submit_rc[i] = rc;
            xlmig__strlcpy(b->submit_msg[i], libxlmig_ctx_last_error(quiet),
                           sizeof(b->submit_msg[i]));
            xlmigd_log("migration of VM %s to host %s did not start: %s",
                       v->plan->vm, b->pl.hs.h[v->host].name,
                       b->submit_msg[i]);
        } else {
            xlmig__strlcpy(b->task[i], r->task, sizeof(b->task[i]));
        }
        libxlmig_ctx_free(quiet);
        quiet = NULL;
    }
    free(r);
    free(hp);
}

static size_t gen_len(yajl_gen g)
{
    const unsigned char *buf;
    size_t len = 0;

    if (yajl_gen_get_buf(g, &buf, &len) != yajl_gen_status_ok)
        return XLMIG__RPC_FRAME_MAX;
    return len;
}

/* @v as a string of at most @room bytes, cut between two characters. */
static void gen_str_cut(yajl_gen g, const char *v, size_t room)
{
    size_t len = strlen(v);

    if (len > room) {
        len = room;
        while (len && ((unsigned char)v[len] & 0xc0) == 0x80)
            len--;
    }
    yajl_gen_string(g, (const unsigned char *)v, len);
}

/*
 * VM @i of @b as the batch methods answer it (docs/xlmigd.md), its
 * sentences cut so that @later VMs still fit in a frame after it.
 */
static void gen_batch_vm(yajl_gen g, const struct batch *b, size_t i,
                         size_t later)
{
    const struct xlmig__batch_vm *v = &b->vms[i];
    const char *err = "", *msg = "";
    char name[64] = "";
    size_t budget = XLMIG__RPC_FRAME_MAX - 4096 - later * BATCH_VM_ROOM;
    size_t used, room, k, first = 0;
    bool placed_by = v->placed && !b->pinned;

    if (!v->placed && b->pinned && v->nr_refusals) {
        /* One host named: what it refused, not NO_HOSTS_AVAILABLE. */
        xlmig__place_refusal_name(v->refusals[0], name, sizeof(name));
        err = name;
        msg = v->refusals[0];
        first = 1;
    } else if (!v->placed) {
        err = libxlmig_strerror_name(v->rc);
        msg = v->msg;
    } else if (b->submit_rc[i]) {
        err = libxlmig_strerror_name(b->submit_rc[i]);
        msg = b->submit_msg[i];
    }
    yajl_gen_map_open(g);
    xlmigd_gen_kv_str(g, "vm", v->plan->vm);
    xlmigd_gen_kv_str(g, "uuid", v->plan->vm_uuid);
    xlmigd_gen_kv_str(g, "power_state", !v->plan->vm_uuid[0] ? ""
                      : v->plan->running ? "running" : "halted");
    xlmigd_gen_kv_str(g, "host", v->placed ? b->pl.hs.h[v->host].name : "");
    /* What it takes there: other batches' "reserved". */
    xlmigd_gen_kv_uint(g, "memory_kib", v->plan->running
                       ? v->plan->memory_kib : 0);
    xlmigd_gen_kv_str(g, "task", b->task[i]);
    xlmigd_gen_kv_str(g, "placed_by", placed_by
                      ? xlmig__place_source_name(v->source) : "");
    xlmigd_gen_kv_str(g, "placed_reason", placed_by ? v->reason : "");
    xlmigd_gen_kv_str(g, "error", err);
    used = gen_len(g);
    room = budget > used ? budget - used : 0;
    yajl_gen_string(g, (const unsigned char *)"message", 7);
    gen_str_cut(g, msg, room);
    used = gen_len(g);
    room = budget > used ? budget - used : 0;
    yajl_gen_string(g, (const unsigned char *)"fallback", 8);
    gen_str_cut(g, placed_by ? v->fallback : "", room);
    yajl_gen_string(g, (const unsigned char *)"refusals", 8);
    yajl_gen_array_open(g);
    for (k = first; !v->placed && k < v->nr_refusals; k++) {
        used = gen_len(g);
        if (used + strlen(v->refusals[k]) + 8 > budget)
            break;
        yajl_gen_string(g, (const unsigned char *)v->refusals[k],
                        strlen(v->refusals[k]));
    }
    yajl_gen_array_close(g);
    yajl_gen_map_close(g);
}

/* The members every batch reply has: "vms", in the order asked. */
static void gen_batch(yajl_gen g, const struct batch *b)
{
    size_t i;

    yajl_gen_string(g, (const unsigned char *)"vms", 3);
    yajl_gen_array_open(g);
    for (i = 0; i < b->n; i++)
        gen_batch_vm(g, b, i, b->n - i - 1);
    yajl_gen_array_close(g);
}

/* A batch's options of @m into b->q; false with the error answered. */
static bool batch_req_read(struct conn *c, const struct xlmig__rpc_msg *m,
                           struct batch *b)
{
    if (!mig_opts_read(c, m, &b->q))
        return false;
    b->ctx = c->ctx;
    return true;
}

static bool batch_compresses(const struct batch *b)
{
    return b->q.compress ? !strcmp(b->q.compress, "true")
                         : pool_compresses(b->ctx);
}

int xlmigd_m_vm_migrate_many(struct conn *c, const struct xlmig__rpc_msg *m)
{
    const char *list = xlmigd_need_str(c, m, "vms");
    char buf[XLMIG__BATCH_VMS_MAX * (XLMIG__DOM_NAME_MAX + 2)];
    char *ids[XLMIG__BATCH_VMS_MAX], *save = NULL, *item;
    struct batch *b = NULL;
    size_t n = 0, i;
    yajl_gen g;
    int rc;

    if (!list)
        return 0;
    if (strlen(list) >= sizeof(buf))
        return xlmigd_reply_error(c, m->id, LIBXLMIG_ERR_INVALID_ARGUMENT,
                                  "vms is too long", "vms");
    xlmig__strlcpy(buf, list, sizeof(buf));
    for (item = strtok_r(buf, ",", &save); item;
         item = strtok_r(NULL, ",", &save)) {
        if (n == XLMIG__BATCH_VMS_MAX)
            return xlmigd_reply_error(c, m->id,
                                      LIBXLMIG_ERR_INVALID_ARGUMENT,
                                      "vms names more VMs than a batch "
                                      "may move (64)", "vms");
        ids[n++] = item;
    }
    if (!n)
        return xlmigd_reply_error(c, m->id, LIBXLMIG_ERR_INVALID_ARGUMENT,
                                  "vms names no VM", "vms");
    b = xlmig__zalloc(sizeof(*b));
    if (!b)
        return LIBXLMIG_ERR_NO_MEMORY;
    if (!batch_req_read(c, m, b)) {
        rc = 0;
        goto out;
    }
    rc = batch_prepare(b, ids, n, xlmig__rpc_get_str(m->params,
                                                     "reserved"));
    if (rc) {
        rc = reply_last(c, m, rc, NULL);
        goto out;
    }
    if (!b->q.check)
        batch_submit(b, batch_compresses(b));
    for (i = 0; i < n; i++) {
        if (!b->vms[i].placed)
            xlmigd_log("batch: VM %s refused: %s", b->plans[i].vm,
                       b->vms[i].rc ? b->vms[i].msg : "?");
    }
    g = xlmig__rpc_gen_result(m->id);
    if (!g) {
        rc = LIBXLMIG_ERR_NO_MEMORY;
        goto out;
    }
    yajl_gen_map_open(g);
    xlmigd_gen_kv_str(g, "from", V.conf->name);
    gen_batch(g, b);
    yajl_gen_map_close(g);
    rc = xlmigd_finish_reply(c, g);
 out:
    free(b);
    return rc;
}

/* The VMs arriving here: running receive journals (their uuids). */
static bool arriving(const struct xlmig__mig_record *in, size_t nin,
                     const char *uuid)
{
    size_t i;

    for (i = 0; i < nin; i++) {
        if (in[i].state == XLMIG__MIG_RUNNING &&
            !strcmp(in[i].vm_uuid, uuid))
            return true;
    }
    return false;
}

/* Is there an enabled host in the pool besides this one?  *here_r:
 * whether this one is enabled. */
static int other_enabled(libxlmig_ctx *ctx, bool *any, bool *here_r)
{
    struct xlmig__pool_hosts *hs = xlmig__zalloc(sizeof(*hs));
    size_t i;
    int rc = hs ? xlmig__pool_hosts(ctx, V.conf, hs)
                : LIBXLMIG_ERR_NO_MEMORY;

    *any = false;
    *here_r = true;
    for (i = 0; !rc && i < hs->n; i++) {
        if (strcmp(hs->h[i].name, V.conf->name))
            *any = *any || hs->h[i].enabled;
        else
            *here_r = hs->h[i].enabled;
    }
    free(hs);
    return rc;
}

/* @what: names (and uuids) of VMs, the first BATCH_LISTED_MAX. */
static void gen_listed(yajl_gen g, const char *what,
                       const struct xlmig__vmrec *l, size_t n)
{
    size_t i;

    yajl_gen_string(g, (const unsigned char *)what, strlen(what));
    yajl_gen_array_open(g);
    for (i = 0; i < n && i < BATCH_LISTED_MAX; i++) {
        yajl_gen_map_open(g);
        xlmigd_gen_kv_str(g, "vm", l[i].name);
        xlmigd_gen_kv_str(g, "uuid", l[i].uuid);
        yajl_gen_map_close(g);
    }
    yajl_gen_array_close(g);
    xlmigd_gen_kv_uint(g, what[0] == 'h' ? "nr_halted" : "nr_arriving", n);
}

/* What host.evacuate finds here. */
struct evac {
    struct xlmig__dom *doms;            /* running here (nd) */
    struct xlmig__vmrec *recs;          /* VM records here (nr) */
    struct xlmig__mig_record *in;       /* receive journals (nin) */
    struct xlmig__vmrec *halted;        /* records not running (nh) */
    struct xlmig__vmrec *coming;        /* running, arriving now (na) */
    size_t nd, nr, nin, nh, na;
    char *ids[XLMIG__BATCH_VMS_MAX];    /* to move: uuids in doms (n) */
    size_t n;
};

static void evac_dispose(struct evac *e)
{
    free(e->coming);
    free(e->halted);
    free(e->in);
    free(e->recs);
    free(e->doms);
}

/*
 * The VMs here: running (each a candidate, but those arriving now) and
 * halted.  0, or the request answered (*replied_r) or failed.
 */
static int evac_list(struct conn *c, const struct xlmig__rpc_msg *m,
                     struct evac *e, bool *replied_r)
{
    struct xlmig__hv *h = NULL;
    size_t i, k;
    int rc;

    rc = V.hv->open(c->ctx, &h);
    if (!rc)
        rc = V.hv->list(h, &e->doms, &e->nd);
    V.hv->close(h);
    if (!rc)
        rc = xlmig__vmrec_list(c->ctx, V.conf->state_dir, &e->recs, &e->nr);
    if (!rc)
        rc = xlmig__mig_record_list(c->ctx, V.conf->state_dir,
                                    XLMIG__MIG_DST, &e->in, &e->nin);
    if (rc) {
        *replied_r = true;
        return reply_last(c, m, rc, NULL);
    }
    e->halted = calloc(e->nr + 1, sizeof(*e->halted));
    e->coming = calloc(e->nd + 1, sizeof(*e->coming));
    if (!e->halted || !e->coming)
        return LIBXLMIG_ERR_NO_MEMORY;
    for (i = 0; i < e->nd; i++) {
        if (arriving(e->in, e->nin, e->doms[i].uuid)) {
            xlmig__strlcpy(e->coming[e->na].name, e->doms[i].name,
                           sizeof(e->coming[0].name));
            xlmig__strlcpy(e->coming[e->na++].uuid, e->doms[i].uuid,
                           sizeof(e->coming[0].uuid));
            continue;
        }
        if (e->n == XLMIG__BATCH_VMS_MAX) {
            *replied_r = true;
            return xlmigd_reply_error(c, m->id,
                                      LIBXLMIG_ERR_INVALID_ARGUMENT,
                                      "host runs more VMs than one "
                                      "evacuation may move (64): move "
                                      "some with vm-migrate first",
                                      V.conf->name);
        }
        e->ids[e->n++] = e->doms[i].uuid;
    }
    for (i = 0; i < e->nr; i++) {
        for (k = 0; k < e->nd && strcmp(e->doms[k].uuid, e->recs[i].uuid);
             k++)
            ;
        if (k == e->nd)
            e->halted[e->nh++] = e->recs[i];
    }
    return 0;
}

/*
 * Is another host enabled, for the VMs to go to?  *here_r: whether this
 * one is.  0, or the request answered (*replied_r).
 */
static int evac_others(struct conn *c, const struct xlmig__rpc_msg *m,
                       bool *here_r, bool *replied_r)
{
    bool any = false;
    int rc;

    rc = other_enabled(c->ctx, &any, here_r);
    if (!rc && !any)
        rc = xlmig__error(c->ctx, LIBXLMIG_ERR_NO_HOSTS_AVAILABLE, -1,
                          "host %s is the last enabled host of pool "
                          "%s: its VMs would have nowhere to go; "
                          "enable another host (host-enable) or add "
                          "one (pool-join), then evacuate host %s; "
                          "nothing was done", V.conf->name,
                          V.conf->pool_uuid, V.conf->name);
    if (!rc)
        return 0;
    *replied_r = true;
    return reply_last(c, m, rc, V.conf->name);
}

/*
 * @refused of the @n running VMs have nowhere to go (and no
 * skip-unmovable): the refusal's message into @msg, logged; its error.
 */
static const char *evac_refusal(const struct batch *b, size_t n,
                                size_t refused, bool here_enabled,
                                char *msg, size_t cap)
{
    const char *err = libxlmig_strerror_name(LIBXLMIG_ERR_NO_HOSTS_AVAILABLE);
    size_t len, i, k;

    len = (size_t)snprintf(msg, cap, "%s: host %s cannot be evacuated: "
                           "%zu of its %zu running VM(s) have nowhere to "
                           "go:", err, V.conf->name, refused, n);
    for (i = 0, k = 0; i < n && len < cap; i++) {
        if (b->vms[i].placed)
            continue;
        len += (size_t)snprintf(msg + len, cap - len, "%s %s",
                                k++ ? "," : "", b->plans[i].vm);
    }
    if (len < cap)
        snprintf(msg + len, cap - len, "; nothing was moved and host %s "
                 "%s; fix what they lack, or give skip-unmovable=true to "
                 "move the others", V.conf->name,
                 here_enabled ? "was not disabled"
                              : "stays disabled, as it was");
    xlmigd_log("%s", msg);
    return err;
}

/*
 * This host disabled first (nothing arrives while they leave), then the
 * batch of its @n running VMs, @refused of them left (skip-unmovable).
 * 0, or the request answered (*replied_r).
 */
static int evac_start(struct conn *c, const struct xlmig__rpc_msg *m,
                      struct batch *b, size_t n, size_t refused,
                      bool *replied_r)
{
    const char *kv[] = { "name", V.conf->name, NULL };
    struct xlmig__rpc_msg resp;
    int rc;

    rc = xlmig__pool_call_once(c->ctx, V.conf, NULL, "host.disable", kv,
                               &resp);
    xlmig__rpc_msg_dispose(&resp);
    if (rc) {
        rc = xlmig__error(c->ctx, rc, -1, "cannot disable host %s to "
                          "evacuate it (%s); nothing was moved",
                          V.conf->name, libxlmig_ctx_last_error(c->ctx));
        *replied_r = true;
        return reply_last(c, m, rc, V.conf->name);
    }
    xlmigd_log("evacuating host %s: disabled; %zu running VM(s), %zu "
               "of them refused%s", V.conf->name, n, refused,
               refused ? " (skip-unmovable)" : "");
    if (n)
        batch_submit(b, batch_compresses(b));
    return 0;
}

/* host.evacuate's answer. */
static int reply_evacuate(struct conn *c, const struct xlmig__rpc_msg *m,
                          const char *err, const char *msg, bool disabled,
                          const struct evac *e, const struct batch *b)
{
    yajl_gen g = xlmig__rpc_gen_result(m->id);

    if (!g)
        return LIBXLMIG_ERR_NO_MEMORY;
    yajl_gen_map_open(g);
    xlmigd_gen_kv_str(g, "from", V.conf->name);
    xlmigd_gen_kv_str(g, "error", err);
    xlmigd_gen_kv_str(g, "message", msg);
    yajl_gen_string(g, (const unsigned char *)"disabled", 8);
    yajl_gen_bool(g, disabled);
    gen_listed(g, "halted", e->halted, e->nh);
    gen_listed(g, "arriving", e->coming, e->na);
    gen_batch(g, b);
    yajl_gen_map_close(g);
    return xlmigd_finish_reply(c, g);
}

int xlmigd_m_host_evacuate(struct conn *c, const struct xlmig__rpc_msg *m)
{
    struct evac e;
    struct batch *b = NULL;
    char msg[XLMIG__BATCH_MSG_MAX] = "";
    const char *err = "";
    size_t refused;
    bool skip = false, disabled = false, here_enabled = true;
    bool replied = false;
    int rc;

    memset(&e, 0, sizeof(e));
    b = xlmig__zalloc(sizeof(*b));
    if (!b)
        return LIBXLMIG_ERR_NO_MEMORY;
    if (!batch_req_read(c, m, b)) {
        rc = 0;
        goto out;
    }
    (void)xlmig__rpc_get_bool(m->params, "skip_unmovable", &skip);
    /* Every VM leaves by placement, live, in the priority lane. */
    b->q.host = NULL;
    b->q.live = true;
    b->q.priority = true;

    rc = evac_list(c, m, &e, &replied);
    if (rc || replied)
        goto out;
    if (!b->q.check) {
        rc = evac_others(c, m, &here_enabled, &replied);
        if (rc || replied)
            goto out;
    }
    if (e.n) {
        rc = batch_prepare(b, e.ids, e.n, NULL);
        if (rc) {
            rc = reply_last(c, m, rc, NULL);
            goto out;
        }
    }
    refused = batch_refused(b);
    if (!b->q.check && refused && !skip) {
        err = evac_refusal(b, e.n, refused, here_enabled, msg, sizeof(msg));
    } else if (!b->q.check) {
        rc = evac_start(c, m, b, e.n, refused, &replied);
        if (rc || replied)
            goto out;
        disabled = true;
    }
    rc = reply_evacuate(c, m, err, msg, disabled, &e, b);
 out:
    evac_dispose(&e);
    free(b);
    return rc;
}

static void gen_task_record(yajl_gen g, const struct xlmig__mig_record *r)
{
    yajl_gen_map_open(g);
    xlmigd_gen_kv_str(g, "task", r->task);
    xlmigd_gen_kv_str(g, "role", r->role == XLMIG__MIG_DST ? "dst" : "src");
    xlmigd_gen_kv_str(g, "vm", r->vm);
    xlmigd_gen_kv_str(g, "vm_uuid", r->vm_uuid);
    xlmigd_gen_kv_str(g, "source", r->source);
    xlmigd_gen_kv_str(g, "destination", r->destination);
    xlmigd_gen_kv_str(g, "phase", xlmig__mig_phase_name(r->phase));
    xlmigd_gen_kv_str(g, "state", xlmig__mig_state_name(r->state));
    xlmigd_gen_kv_uint(g, "progress", r->progress);
    xlmigd_gen_kv_str(g, "error", r->error);
    xlmigd_gen_kv_str(g, "message", r->message);
    xlmigd_gen_kv_uint(g, "downtime_ms", r->downtime_ms);
    xlmigd_gen_kv_uint(g, "total_ms", r->total_ms);
    xlmigd_gen_kv_uint(g, "wire_bytes", r->wire_bytes);
    xlmigd_gen_kv_uint(g, "stream_bytes", r->stream_bytes);
    yajl_gen_map_close(g);
}

int xlmigd_m_vm_task(struct conn *c, const struct xlmig__rpc_msg *m)
{
    const char *task = xlmigd_need_str(c, m, "task");
    struct xlmig__mig_record r;
    yajl_gen g;
    int rc;

    if (!task)
        return 0;
    rc = load(c->ctx, XLMIG__MIG_SRC, task, &r);
    if (rc == LIBXLMIG_ERR_NOT_FOUND)
        rc = load(c->ctx, XLMIG__MIG_DST, task, &r);
    if (rc)
        return reply_last(c, m, rc, task);
    g = xlmig__rpc_gen_result(m->id);
    if (!g)
        return LIBXLMIG_ERR_NO_MEMORY;
    gen_task_record(g, &r);
    return xlmigd_finish_reply(c, g);
}

int xlmigd_m_vm_cancel(struct conn *c, const struct xlmig__rpc_msg *m)
{
    const char *task = xlmigd_need_str(c, m, "task");
    struct xlmig__mig_record r;
    int rc;

    if (!task)
        return 0;
    rc = load(c->ctx, XLMIG__MIG_SRC, task, &r);
    if (rc)
        return reply_last(c, m, rc, task);
    if (r.state != XLMIG__MIG_RUNNING)
        return xlmigd_reply_error(c, m->id, LIBXLMIG_ERR_INVALID_ARGUMENT,
                                  "the migration has ended already", task);
    if (r.phase >= XLMIG__MIG_GO_SENT && r.phase != XLMIG__MIG_ROLLBACK)
        return xlmigd_reply_error(c, m->id, LIBXLMIG_ERR_UNSUPPORTED,
                                  "too late: the VM is switching to its "
                                  "destination", task);
    if (!worker_signal(task, XLMIG__MIG_SRC))
        return xlmigd_reply_error(c, m->id, LIBXLMIG_ERR_NOT_FOUND,
                                  "the migration's worker is not running",
                                  task);
    xlmigd_log("migration %s of VM %s: cancel asked by %s", task, r.vm,
               c->peer);
    return xlmigd_reply_ok(c, m->id);
}

/* ------------------------------------------------------------ receive */

int xlmigd_m_vm_receive_start(struct conn *c, const struct xlmig__rpc_msg *m)
{
    const char *task = xlmigd_need_str(c, m, "task");
    const char *vm = task ? xlmigd_need_str(c, m, "vm") : NULL;
    const char *uuid = vm ? xlmigd_need_str(c, m, "vm_uuid") : NULL;
    const char *source = uuid ? xlmigd_need_str(c, m, "source") : NULL;
    const char *vdis = xlmig__rpc_get_str(m->params, "vdis");
    struct xlmig__mig_record *r = NULL;
    char host[256], port[16], buf[XLMIG__MIG_VDIS_MAX * 40 + 1];
    char *save = NULL, *item;
    bool live = true;
    size_t i;
    yajl_gen g;
    int fd = -1, rc;

    if (!source)
        return 0;
    (void)xlmig__rpc_get_bool(m->params, "live", &live);
    if (!xlmig__uuid_ok(task) || !xlmig__uuid_ok(uuid) ||
        strlen(vm) > XLMIG__DOM_NAME_MAX || strlen(source) > 64 ||
        (vdis && strlen(vdis) >= sizeof(buf)))
        return xlmigd_reply_error(c, m->id, LIBXLMIG_ERR_INVALID_ARGUMENT,
                                  "vm.receive_start: a parameter is "
                                  "malformed", NULL);
    /* Disabled since the source's checks: nothing made here yet. */
    rc = xlmigd_host_check_enabled(c->ctx, vm, "arrive");
    if (rc)
        return reply_last(c, m, rc, V.conf->name);
    r = xlmig__zalloc(sizeof(*r));
    if (!r)
        return LIBXLMIG_ERR_NO_MEMORY;
    if (!load(c->ctx, XLMIG__MIG_DST, task, r)) {
        rc = xlmigd_reply_error(c, m->id, LIBXLMIG_ERR_INVALID_ARGUMENT,
                                "this host knows that task already", task);
        goto out;
    }
    memset(r, 0, sizeof(*r));
    xlmig__strlcpy(buf, vdis ? vdis : "", sizeof(buf));
    for (item = strtok_r(buf, ",", &save); item;
         item = strtok_r(NULL, ",", &save)) {
        if (r->nr_vdis == XLMIG__MIG_VDIS_MAX || !xlmig__uuid_ok(item) ||
            xlmig__vdi_find(c->ctx, V.conf->state_dir, item, NULL, NULL)) {
            rc = xlmigd_reply_error(c, m->id, LIBXLMIG_ERR_NOT_FOUND,
                                    "vm.receive_start names a VDI this host "
                                    "does not have", item);
            goto out;
        }
        xlmig__strlcpy(r->vdis[r->nr_vdis++].dst_vdi, item,
                       sizeof(r->vdis[0].dst_vdi));
    }
    for (i = 0; i < CONN_MIG_MAX && c->mig[i][0]; i++)
        ;
    if (i == CONN_MIG_MAX) {
        rc = xlmigd_reply_error(c, m->id, LIBXLMIG_ERR_TOO_MANY_MIGRATIONS,
                                "this connection has as many migrations in "
                                "flight as one may", NULL);
        goto out;
    }
    if (xlmig__split_hostport(V.conf->address, host, sizeof(host), port,
                              sizeof(port)) ||
        (fd = xlmigd_listen_any(host, port, sizeof(port))) < 0) {
        rc = xlmigd_reply_error(c, m->id, LIBXLMIG_ERR_IO, "cannot listen "
                                "for the memory stream", NULL);
        goto out;
    }
    xlmig__strlcpy(r->task, task, sizeof(r->task));
    r->role = XLMIG__MIG_DST;
    r->phase = XLMIG__MIG_LISTENING;
    r->state = XLMIG__MIG_RUNNING;
    xlmig__strlcpy(r->vm, vm, sizeof(r->vm));
    xlmig__strlcpy(r->vm_uuid, uuid, sizeof(r->vm_uuid));
    xlmig__strlcpy(r->source, source, sizeof(r->source));
    xlmig__strlcpy(r->destination, V.conf->name, sizeof(r->destination));
    r->live = live;
    r->started = (int64_t)time(NULL);
    rc = xlmig__mig_record_save(c->ctx, V.conf->state_dir, r);
    if (!rc)
        rc = worker_start(c->ctx, "receive", task, XLMIG__MIG_DST, NULL, fd,
                          NULL);
    close(fd);
    if (rc) {
        rc = reply_last(c, m, rc, NULL);
        goto out;
    }
    xlmig__strlcpy(c->mig[i], task, sizeof(c->mig[i]));
    g = xlmig__rpc_gen_result(m->id);
    if (!g) {
        rc = LIBXLMIG_ERR_NO_MEMORY;
        goto out;
    }
    xlmig__join_hostport(host, port, buf, sizeof(buf));
    yajl_gen_map_open(g);
    xlmigd_gen_kv_str(g, "data_address", buf);
    yajl_gen_map_close(g);
    rc = xlmigd_finish_reply(c, g);
 out:
    free(r);
    return rc;
}

/* Wait until @task's worker of @role is gone (up to @s seconds). */
static bool worker_wait_gone(const char *task, enum xlmig__mig_role role,
                             unsigned int s)
{
    double until = xlmig__now_s() + s;

    for (;;) {
        bool alive;

        pthread_mutex_lock(&V.lock);
        alive = worker_find_locked(task, role) != NULL;
        pthread_mutex_unlock(&V.lock);
        if (!alive)
            return true;
        if (xlmig__now_s() > until)
            return false;
        xlmig__sleep_ms(100);
    }
}

int xlmigd_m_vm_receive_status(struct conn *c, const struct xlmig__rpc_msg *m)
{
    const char *task = xlmigd_need_str(c, m, "task");
    struct xlmig__mig_record r;
    const char *outcome;
    yajl_gen g;
    int rc;

    if (!task)
        return 0;
    rc = load(c->ctx, XLMIG__MIG_DST, task, &r);
    if (!rc && r.state == XLMIG__MIG_RUNNING && r.phase != XLMIG__MIG_GO &&
        !xlmig__proc_alive((pid_t)r.worker_pid, r.worker_start)) {
        /* Its worker died: decide now, by the journal. */
        if (worker_wait_gone(task, XLMIG__MIG_DST, 1))
            (void)worker_run(c->ctx, "recover", task, XLMIG__MIG_DST, NULL);
        rc = load(c->ctx, XLMIG__MIG_DST, task, &r);
    }
    if (rc == LIBXLMIG_ERR_NOT_FOUND)
        outcome = "aborted";        /* it never got as far as a journal */
    else if (rc)
        return reply_last(c, m, rc, task);
    else if (r.state == XLMIG__MIG_DONE || r.phase == XLMIG__MIG_GO)
        outcome = "committed";
    else if (r.state == XLMIG__MIG_FAILED)
        outcome = "aborted";
    else
        outcome = "pending";
    g = xlmig__rpc_gen_result(m->id);
    if (!g)
        return LIBXLMIG_ERR_NO_MEMORY;
    yajl_gen_map_open(g);
    xlmigd_gen_kv_str(g, "outcome", outcome);
    yajl_gen_map_close(g);
    return xlmigd_finish_reply(c, g);
}

int xlmigd_m_vm_receive_abort(struct conn *c, const struct xlmig__rpc_msg *m)
{
    const char *task = xlmigd_need_str(c, m, "task");
    struct xlmig__mig_record r;
    int rc;

    if (!task)
        return 0;
    rc = load(c->ctx, XLMIG__MIG_DST, task, &r);
    if (rc == LIBXLMIG_ERR_NOT_FOUND)
        return xlmigd_reply_ok(c, m->id);
    if (rc)
        return reply_last(c, m, rc, task);
    if (r.state != XLMIG__MIG_RUNNING)
        return xlmigd_reply_ok(c, m->id);
    if (r.phase == XLMIG__MIG_GO)
        return xlmigd_reply_error(c, m->id, LIBXLMIG_ERR_UNSUPPORTED,
                                  "too late: VM runs here now", task);
    (void)worker_signal(task, XLMIG__MIG_DST);
    if (!worker_wait_gone(task, XLMIG__MIG_DST, 30))
        return xlmigd_reply_error(c, m->id, LIBXLMIG_ERR_TIMEOUT, "the "
                                  "receiving worker did not stop", task);
    if (!load(c->ctx, XLMIG__MIG_DST, task, &r) &&
        r.state == XLMIG__MIG_RUNNING)
        (void)worker_run(c->ctx, "recover", task, XLMIG__MIG_DST, NULL);
    xlmigd_log("migration %s: aborted by its source %s", task, c->peer);
    return xlmigd_reply_ok(c, m->id);
}

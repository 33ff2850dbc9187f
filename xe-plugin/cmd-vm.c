/* SPDX-License-Identifier: LGPL-2.1-only */
/*
 * xlmig-xe's VM commands (docs/vm-migrate.md): vm-migrate,
 * vm-assert-can-migrate, vm-retrieve-wlb-recommendations, vm-list,
 * vm-register, vm-start.  They talk to the xlmigd of the VM's host,
 * which places the VM when no host is named and runs the migration as a
 * task of its own: the command waits for it and shows its progress, and
 * an interrupted command leaves it running.  A list of VMs (vm=a,b or
 * vm=@FILE) goes to cmd-batch.c.
 */
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <yajl/yajl_tree.h>

#include "internal.h"
#include "migrate-wire.h"
#include "pool-client.h"
#include "poolconf.h"
#include "proc.h"
#include "progress.h"
#include "rpc.h"
#include "units.h"
#include "xe-args.h"
#include "xe-cmd.h"

#define POLL_MS 250
#define RECONNECT_S 30              /* the source's daemon may restart */

const char *const xe_keys_vm_migrate[] = {
    "vm", "host", "host-uuid", "live", "vdi:", "vif:", "sr",
    "remote-master", "remote-config", "compress", "copy", "force", "bwlimit",
    "config", NULL };
const char *const xe_keys_vm_wlb[] = { "vm", "vdi:", "vif:", "sr", "config",
                                       NULL };
const char *const xe_keys_vm_list[] = { "config", NULL };
const char *const xe_keys_vm_one[] = { "vm", "config", NULL };

static volatile sig_atomic_t interrupted;

static void on_interrupt(int sig)
{
    (void)sig;
    interrupted = 1;
}

static void session_close(struct xe_vm_session *s)
{
    libxlmig_transport_free(s->t);
    s->t = NULL;
}

int xe_vm_say_error(struct xe_vm_session *s, int rc)
{
    const char *e = s->err[0] ? s->err : libxlmig_ctx_last_error(s->ctx);

    if (e[0])
        fprintf(stderr, "%s\n", e);
    else
        fprintf(stderr, "%s: %s\n", libxlmig_strerror_name(rc),
                libxlmig_strerror(rc));
    return XLMIG__EXIT_FAILED;
}

int xe_vm_call(struct xe_vm_session *s, const char *method,
               const char *const *kv, struct xlmig__rpc_msg *resp)
{
    int rc;

    memset(resp, 0, sizeof(*resp));
    rc = xlmig__pool_call(s->ctx, s->t, s->addr, s->id++, method, kv, NULL,
                          NULL, resp);
    s->err[0] = '\0';
    if (rc && resp->is_error) {
        size_t n = strlen(resp->err_name);

        /* xlmigd's messages start with the name already. */
        if (!strncmp(resp->err_message, resp->err_name, n) &&
            !strncmp(resp->err_message + n, ": ", 2))
            xlmig__strlcpy(s->err, resp->err_message, sizeof(s->err));
        else
            snprintf(s->err, sizeof(s->err), "%s: %s", resp->err_name,
                     resp->err_message);
    }
    return rc;
}

int xe_vm_connect(struct xe_vm_session *s, const char *name,
                  const char *addr)
{
    session_close(s);
    xlmig__strlcpy(s->host, name, sizeof(s->host));
    xlmig__strlcpy(s->addr, addr, sizeof(s->addr));
    s->id = 2;
    return xlmig__pool_open_fd(s->ctx, &s->conf, addr, &s->t, &s->fd);
}

int xe_vm_locate(struct xe_vm_session *s, const char *vm)
{
    const char *kv[] = { "vm", vm, NULL };
    struct xlmig__pool_hosts hs;
    struct xlmig__rpc_msg resp;
    size_t i;
    int rc;

    rc = xe_vm_connect(s, s->conf.name, s->conf.address);
    if (!rc) {
        rc = xe_vm_call(s, "vm.locate", kv, &resp);
        xlmig__rpc_msg_dispose(&resp);
        if (!rc)
            return 0;
        if (rc != LIBXLMIG_ERR_NOT_FOUND)
            return rc;
    }
    /* Elsewhere in the pool? */
    session_close(s);
    s->err[0] = '\0';
    rc = xlmig__pool_hosts(s->ctx, &s->conf, &hs);
    if (rc)
        return rc;
    for (i = 0; i < hs.n; i++) {
        if (!strcmp(hs.h[i].name, s->conf.name) ||
            xe_vm_connect(s, hs.h[i].name, hs.h[i].address))
            continue;
        rc = xe_vm_call(s, "vm.locate", kv, &resp);
        xlmig__rpc_msg_dispose(&resp);
        if (!rc)
            return 0;
    }
    session_close(s);
    s->err[0] = '\0';
    return xlmig__error(s->ctx, LIBXLMIG_ERR_NOT_FOUND, -1, "no VM %s on any "
                        "host of pool %s (vm-list shows the VMs)", vm,
                        s->conf.pool_uuid);
}

int xe_vm_session_open(struct xe_vm_session *s, const struct xe_args *a)
{
    memset(s, 0, sizeof(*s));
    if (libxlmig_ctx_new(NULL, LIBXLMIG_LOG_CRITICAL, &s->ctx))
        return LIBXLMIG_ERR_NO_MEMORY;
    return xlmig__pool_conf_load(s->ctx, xe_args_get(a, "config"), &s->conf);
}

void xe_vm_session_free(struct xe_vm_session *s)
{
    session_close(s);
    libxlmig_ctx_free(s->ctx);
}

bool xe_bool_arg(const struct xe_args *a, const char *key, bool dflt,
                 bool *ok)
{
    const char *v = xe_args_get(a, key);

    if (!v)
        return dflt;
    if (!strcmp(v, "true"))
        return true;
    if (!strcmp(v, "false"))
        return false;
    fprintf(stderr, "INVALID_VALUE: %s=%s: true or false\n", key, v);
    *ok = false;
    return dflt;
}

/* "vdi:UUID=SR vdi:UUID=SR" into "UUID=SR,UUID=SR" (@prefix "vdi:"). */
static bool map_of(const struct xe_args *a, const char *prefix, char *out,
                   size_t cap)
{
    size_t i, n = strlen(prefix), len = 0;

    out[0] = '\0';
    for (i = 0; i < a->nr_kv; i++) {
        const char *k = a->kv[i].key;
        int w;

        if (strncmp(k, prefix, n))
            continue;
        if (!a->kv[i].value[0] || strchr(k + n, ',') ||
            strchr(a->kv[i].value, ',')) {
            fprintf(stderr, "INVALID_VALUE: %s=%s: give %sKEY=VALUE\n", k,
                    a->kv[i].value, prefix);
            return false;
        }
        w = snprintf(out + len, cap - len, "%s%s=%s", len ? "," : "", k + n,
                     a->kv[i].value);
        if (w < 0 || (size_t)w >= cap - len) {
            fprintf(stderr, "INVALID_VALUE: the %s map is too long\n",
                    prefix);
            return false;
        }
        len += (size_t)w;
    }
    return true;
}

/* What vm.migrate answered: the task, and where a placed VM goes. */
struct migrate_reply {
    char task[64];
    char host[65];              /* the destination, named or placed */
    char placed_by[16];         /* "" when host= named it */
    char placed_reason[256];
};

static void str_of(yajl_val o, const char *key, char *out, size_t cap)
{
    const char *v = xlmig__rpc_get_str(o, key);

    xlmig__strlcpy(out, v ? v : "", cap);
}

/*
 * vm.migrate on the VM's host: *out gets the task's uuid ("" for a
 * check) and the destination; failures are printed, and the wlb-hook's
 * failure when it placed the VM; returns the exit status so far (0 all
 * checks passed, 1 some failed or an error, 2 bad usage).  Without
 * host= the VM's host places it.
 */
static int migrate_request(struct xe_vm_session *s, const struct xe_args *a,
                           bool check, struct migrate_reply *out)
{
    const char *vm = xe_args_get(a, "vm");
    const char *host = xe_args_get(a, "host");
    const char *compress = xe_args_get(a, "compress");
    const char *bw = xe_args_get(a, "bwlimit");
    char vdis[2048], vifs[1024], bwn[32] = "";
    struct xlmig__rpc_msg resp;
    bool ok = true, copy, force, live;
    yajl_val f;
    size_t i;
    int rc;

    memset(out, 0, sizeof(*out));
    if (!host)
        host = xe_args_get(a, "host-uuid");
    if (!vm) {
        fprintf(stderr, "MISSING_PARAMETER: needs vm= (and host= or "
                "host-uuid=, or the VM is placed)\n");
        return XLMIG__EXIT_USAGE;
    }
    copy = xe_bool_arg(a, "copy", false, &ok);
    force = xe_bool_arg(a, "force", false, &ok);
    live = xe_bool_arg(a, "live", true, &ok);
    if (compress && strcmp(compress, "true") && strcmp(compress, "false")) {
        fprintf(stderr, "INVALID_VALUE: compress=%s: true or false (the "
                "pool's migration-compression when not given)\n", compress);
        ok = false;
    }
    if (bw) {
        uint64_t v;

        if (xlmig__rate_parse(s->ctx, "bwlimit=", bw, &v)) {
            fprintf(stderr, "%s\n", libxlmig_ctx_last_error(s->ctx));
            ok = false;
        } else if (v) {         /* 0: no limit, as when not given */
            snprintf(bwn, sizeof(bwn), "#%" PRIu64, v);
        }
    }
    if (!ok || !map_of(a, "vdi:", vdis, sizeof(vdis)) ||
        !map_of(a, "vif:", vifs, sizeof(vifs)))
        return XLMIG__EXIT_USAGE;
    rc = xe_vm_locate(s, vm);
    if (rc)
        return xe_vm_say_error(s, rc);
    {
        const char *kv[32];
        size_t n = 0;

        kv[n++] = "vm"; kv[n++] = vm;
        if (host) { kv[n++] = "host"; kv[n++] = host; }
        kv[n++] = "copy"; kv[n++] = copy ? "?true" : "?false";
        kv[n++] = "force"; kv[n++] = force ? "?true" : "?false";
        kv[n++] = "live"; kv[n++] = live ? "?true" : "?false";
        kv[n++] = "check"; kv[n++] = check ? "?true" : "?false";
        if (vdis[0]) { kv[n++] = "vdi_map"; kv[n++] = vdis; }
        if (vifs[0]) { kv[n++] = "vif_map"; kv[n++] = vifs; }
        if (xe_args_get(a, "sr")) {
            kv[n++] = "sr";
            kv[n++] = xe_args_get(a, "sr");
        }
        if (compress) { kv[n++] = "compress"; kv[n++] = compress; }
        if (bwn[0]) { kv[n++] = "bwlimit"; kv[n++] = bwn; }
        if (xe_args_get(a, "remote-master")) {
            kv[n++] = "remote_master";
            kv[n++] = xe_args_get(a, "remote-master");
        }
        if (xe_args_get(a, "remote-config")) {
            kv[n++] = "remote_config";
            kv[n++] = xe_args_get(a, "remote-config");
        }
        kv[n] = NULL;
        rc = xe_vm_call(s, "vm.migrate", kv, &resp);
    }
    if (rc) {
        xlmig__rpc_msg_dispose(&resp);
        return xe_vm_say_error(s, rc);
    }
    str_of(resp.result, "task", out->task, sizeof(out->task));
    str_of(resp.result, "host", out->host, sizeof(out->host));
    str_of(resp.result, "placed_by", out->placed_by,
           sizeof(out->placed_by));
    str_of(resp.result, "placed_reason", out->placed_reason,
           sizeof(out->placed_reason));
    {
        const char *fb = xlmig__rpc_get_str(resp.result, "fallback");

        /* The balancer failed: said, the built-in choice taken. */
        if (fb && *fb)
            fprintf(stderr, "%s\n", fb);
    }
    if (!out->host[0] && host)
        xlmig__strlcpy(out->host, host, sizeof(out->host));
    f = xlmig__rpc_get(resp.result, "failures");
    for (i = 0; YAJL_IS_ARRAY(f) && i < f->u.array.len; i++) {
        yajl_val m = f->u.array.values[i];

        if (YAJL_IS_STRING(m))
            fprintf(stderr, "%s\n", m->u.string);
    }
    ok = !YAJL_IS_ARRAY(f) || f->u.array.len == 0;
    xlmig__rpc_msg_dispose(&resp);
    return ok ? 0 : 1;
}

int xe_vm_task_get(struct xe_vm_session *s, const char *task,
                   struct xe_task_view *v)
{
    const char *kv[] = { "task", task, NULL };
    struct xlmig__rpc_msg resp;
    int rc = xe_vm_call(s, "vm.task", kv, &resp);

    if (!rc) {
        const char *strs[] = { "phase", "state", "error", "message",
                               "destination", "vm" };
        char *outs[] = { v->phase, v->state, v->error, v->message,
                         v->destination, v->vm };
        size_t caps[] = { sizeof(v->phase), sizeof(v->state),
                          sizeof(v->error), sizeof(v->message),
                          sizeof(v->destination), sizeof(v->vm) };
        size_t i;

        for (i = 0; i < 6; i++) {
            const char *x = xlmig__rpc_get_str(resp.result, strs[i]);

            xlmig__strlcpy(outs[i], x ? x : "", caps[i]);
        }
        (void)xlmig__rpc_get_uint(resp.result, "progress", &v->progress);
        (void)xlmig__rpc_get_uint(resp.result, "downtime_ms",
                                  &v->downtime_ms);
        (void)xlmig__rpc_get_uint(resp.result, "total_ms", &v->total_ms);
        (void)xlmig__rpc_get_uint(resp.result, "wire_bytes", &v->wire);
        (void)xlmig__rpc_get_uint(resp.result, "stream_bytes", &v->stream);
    }
    xlmig__rpc_msg_dispose(&resp);
    return rc;
}

/* Follow the task to its end, showing phase and percent. */
static int follow(struct xe_vm_session *s, const char *task, bool quiet)
{
    struct xlmig__progress pr;
    struct xe_task_view v;
    double lost = 0;
    int rc;

    xlmig__progress_init(&pr, stderr, "vm-migrate", quiet);
    for (;;) {
        if (interrupted) {
            xlmig__progress_end(&pr);
            fprintf(stderr, "vm-migrate: interrupted; the migration goes on "
                    "as task %s (xlmig-xe task-cancel uuid=%s stops it)\n",
                    task, task);
            return XLMIG__EXIT_INTERRUPTED;
        }
        memset(&v, 0, sizeof(v));
        rc = s->t ? xe_vm_task_get(s, task, &v) : LIBXLMIG_ERR_IO;
        if (rc) {
            /* The VM's host daemon went away: it may come back. */
            if (!lost)
                lost = xlmig__now_s();
            if (xlmig__now_s() - lost > RECONNECT_S) {
                xlmig__progress_end(&pr);
                fprintf(stderr, "CANNOT_CONTACT_HOST: lost host %s's xlmigd "
                        "for %d s; task %s's outcome is in that host's "
                        "journal (vm-migrate's task-list and the host's "
                        "xlmigd once it runs again)\n", s->host, RECONNECT_S,
                        task);
                return XLMIG__EXIT_FAILED;
            }
            xlmig__sleep_ms(1000);
            (void)xe_vm_connect(s, s->host, s->addr);
            continue;
        }
        lost = 0;
        xlmig__progress_show(&pr, v.phase, (unsigned int)v.progress);
        if (strcmp(v.state, "running"))
            break;
        xlmig__sleep_ms(POLL_MS);
    }
    xlmig__progress_end(&pr);
    if (!strcmp(v.state, "done")) {
        if (!quiet)
            printf("VM %s moved to host %s in %.1f s (suspended to running "
                   "there: %" PRIu64 " ms; memory %.1f MiB, %.1f MiB on the "
                   "wire)\n", v.vm, v.destination, v.total_ms / 1000.0,
                   v.downtime_ms, v.stream / 1048576.0, v.wire / 1048576.0);
        return 0;
    }
    fprintf(stderr, "%s%s%s\n", v.message[0] ? "" : v.error,
            v.message[0] ? "" : ": ", v.message[0] ? v.message
                                                   : "the migration failed");
    return XLMIG__EXIT_FAILED;
}

/* vm-migrate, or with @check vm-assert-can-migrate. */
static int migrate_cmd(const struct xe_args *a, bool check)
{
    struct migrate_reply r;
    struct xe_vm_session s;
    int st;

    if (xe_vm_session_open(&s, a)) {
        st = xe_vm_say_error(&s, LIBXLMIG_ERR_INVALID_ARGUMENT);
        xe_vm_session_free(&s);
        return st;
    }
    st = migrate_request(&s, a, check, &r);
    if (check || st || !r.task[0]) {
        if (check && !st && !a->minimal && r.placed_by[0])
            printf("VM %s can migrate to host %s (placed by the %s "
                   "choice: %s)\n", xe_args_get(a, "vm"), r.host,
                   r.placed_by, r.placed_reason);
        else if (check && !st && !a->minimal)
            printf("VM %s can migrate to host %s\n", xe_args_get(a, "vm"),
                   r.host);
        xe_vm_session_free(&s);
        return st ? st : check ? XLMIG__EXIT_OK : XLMIG__EXIT_FAILED;
    }
    printf("%s\n", r.task);
    if (!a->minimal && r.placed_by[0])
        printf("VM %s placed on host %s (%s: %s)\n", xe_args_get(a, "vm"),
               r.host, r.placed_by, r.placed_reason);
    fflush(stdout);
    xlmig__cli_on_stop(on_interrupt);
    st = follow(&s, r.task, a->minimal);
    xe_vm_session_free(&s);
    return st;
}

int xe_cmd_vm_migrate(const struct xe_args *a)
{
    if (xe_vm_is_list(xe_args_get(a, "vm")))
        return xe_cmd_vm_migrate_many(a, false);
    return migrate_cmd(a, false);
}

int xe_cmd_vm_assert_can_migrate(const struct xe_args *a)
{
    if (xe_vm_is_list(xe_args_get(a, "vm")))
        return xe_cmd_vm_migrate_many(a, true);
    return migrate_cmd(a, true);
}

/* ------------------------------------------------------------ placement */

/* One line of the recommendations: "HOST  : TEXT", keys padded. */
static void wlb_line(int width, const char *host, const char *fmt, ...)
    XLMIG__PRINTF(3, 4);
static void wlb_line(int width, const char *host, const char *fmt, ...)
{
    va_list ap;

    printf("%-*s : ", width, host);
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    printf("\n");
}

static double number_of(yajl_val v)
{
    if (YAJL_IS_DOUBLE(v))
        return YAJL_GET_DOUBLE(v);
    if (YAJL_IS_INTEGER(v))
        return (double)YAJL_GET_INTEGER(v);
    return 0;
}

/*
 * Print vm.place's answer @res as xe prints WLB recommendations: a
 * header, one line per host (the ranked ones first, then each refused
 * one with every refusal), or with --minimal the ranked hosts' names.
 */
static void wlb_print(const struct xe_args *a, yajl_val res)
{
    yajl_val recs = xlmig__rpc_get(res, "recommendations");
    yajl_val refused = xlmig__rpc_get(res, "refused");
    const char *source = xlmig__rpc_get_str(res, "source");
    size_t nrec = YAJL_IS_ARRAY(recs) ? recs->u.array.len : 0;
    size_t nref = YAJL_IS_ARRAY(refused) ? refused->u.array.len : 0;
    int width = (int)strlen("Host");
    size_t i, k;

    for (i = 0; i < nrec + nref; i++) {
        yajl_val o = i < nrec ? recs->u.array.values[i]
                              : refused->u.array.values[i - nrec];
        const char *h = xlmig__rpc_get_str(o, "host");

        if (h && (int)strlen(h) > width)
            width = (int)strlen(h);
    }
    if (a->minimal) {
        for (i = 0; i < nrec; i++) {
            const char *h = xlmig__rpc_get_str(recs->u.array.values[i],
                                               "host");

            printf("%s%s", i ? "," : "", h ? h : "");
        }
        printf("\n");
        return;
    }
    wlb_line(width, "Host", "Source, Score, Reason");
    for (i = 0; i < nrec; i++) {
        yajl_val o = recs->u.array.values[i];
        const char *h = xlmig__rpc_get_str(o, "host");
        const char *why = xlmig__rpc_get_str(o, "reason");

        wlb_line(width, h ? h : "?", "%s, %.15g, %s", source ? source : "?",
                 number_of(xlmig__rpc_get(o, "score")), why ? why : "");
    }
    for (i = 0; i < nref; i++) {
        yajl_val o = refused->u.array.values[i];
        yajl_val why = xlmig__rpc_get(o, "refusals");
        const char *h = xlmig__rpc_get_str(o, "host");

        printf("%-*s : refused: ", width, h ? h : "?");
        for (k = 0; YAJL_IS_ARRAY(why) && k < why->u.array.len; k++) {
            yajl_val w = why->u.array.values[k];

            printf("%s%s", k ? "; " : "", YAJL_IS_STRING(w)
                   ? YAJL_GET_STRING(w) : "?");
        }
        printf("\n");
    }
}

int xe_cmd_vm_retrieve_wlb_recommendations(const struct xe_args *a)
{
    const char *vm = xe_args_get(a, "vm");
    char vdis[2048], vifs[1024];
    struct xlmig__rpc_msg resp;
    struct xe_vm_session s;
    const char *fb;
    int rc;

    if (!vm) {
        fprintf(stderr, "MISSING_PARAMETER: vm-retrieve-wlb-recommendations "
                "needs vm=\n");
        return XLMIG__EXIT_USAGE;
    }
    if (!map_of(a, "vdi:", vdis, sizeof(vdis)) ||
        !map_of(a, "vif:", vifs, sizeof(vifs)))
        return XLMIG__EXIT_USAGE;
    memset(&resp, 0, sizeof(resp));
    rc = xe_vm_session_open(&s, a);
    if (!rc)
        rc = xe_vm_locate(&s, vm);
    if (!rc) {
        const char *kv[10];
        size_t n = 0;

        kv[n++] = "vm"; kv[n++] = vm;
        if (vdis[0]) { kv[n++] = "vdi_map"; kv[n++] = vdis; }
        if (vifs[0]) { kv[n++] = "vif_map"; kv[n++] = vifs; }
        if (xe_args_get(a, "sr")) {
            kv[n++] = "sr";
            kv[n++] = xe_args_get(a, "sr");
        }
        kv[n] = NULL;
        rc = xe_vm_call(&s, "vm.place", kv, &resp);
    }
    if (rc) {
        rc = xe_vm_say_error(&s, rc);
        xlmig__rpc_msg_dispose(&resp);
        xe_vm_session_free(&s);
        return rc;
    }
    /* The balancer failed: said first, then the built-in ranking. */
    fb = xlmig__rpc_get_str(resp.result, "fallback");
    if (fb && *fb)
        fprintf(stderr, "%s\n", fb);
    wlb_print(a, resp.result);
    xlmig__rpc_msg_dispose(&resp);
    xe_vm_session_free(&s);
    return XLMIG__EXIT_OK;
}

/* ------------------------------------------------------------ others */

static int vm_record(struct xe_list *out, yajl_val o)
{
    static const char *const f[] = { "uuid", "name", "power_state", "host",
                                     "domid", "memory_mib" };
    static const char *const l[] = { "uuid", "name-label", "power-state",
                                     "resident-on", "dom-id",
                                     "memory-static-max" };
    struct xlmig__kv kv[6];
    size_t i;

    for (i = 0; i < 6; i++) {
        yajl_val v = xlmig__rpc_get(o, f[i]);

        kv[i].key = l[i];
        if (YAJL_IS_STRING(v))
            xlmig__strlcpy(kv[i].value, v->u.string, sizeof(kv[i].value));
        else if (YAJL_IS_NUMBER(v))
            xlmig__strlcpy(kv[i].value, YAJL_GET_NUMBER(v),
                           sizeof(kv[i].value));
        else
            kv[i].value[0] = '\0';
    }
    return xe_list_add(out, kv, 6);
}

int xe_cmd_vm_list(const struct xe_args *a)
{
    static const char *const numbers[] = { "dom-id", "memory-static-max",
                                           NULL };
    struct xlmig__pool_hosts hs;
    struct xe_vm_session s;
    struct xe_list out;
    size_t i, k;
    int rc, rc_out = 0;

    rc = xe_vm_session_open(&s, a);
    if (!rc)
        rc = xlmig__pool_hosts(s.ctx, &s.conf, &hs);
    if (rc) {
        rc = xe_vm_say_error(&s, rc);
        xe_vm_session_free(&s);
        return rc;
    }
    if (xe_list_begin(&out, a, numbers, NULL)) {
        xe_vm_session_free(&s);
        return XLMIG__EXIT_FAILED;
    }
    for (i = 0; i < hs.n && !rc_out; i++) {
        struct xlmig__rpc_msg resp;

        memset(&resp, 0, sizeof(resp));
        if (xe_vm_connect(&s, hs.h[i].name, hs.h[i].address) ||
            xe_vm_call(&s, "vm.list", NULL, &resp)) {
            fprintf(stderr, "%s\n", libxlmig_ctx_last_error(s.ctx));
            xlmig__rpc_msg_dispose(&resp);
            rc = LIBXLMIG_ERR_IO;   /* said; the others are listed */
            continue;
        }
        for (k = 0; !rc_out && YAJL_IS_ARRAY(resp.result) &&
                    k < resp.result->u.array.len; k++)
            rc_out = vm_record(&out, resp.result->u.array.values[k]);
        xlmig__rpc_msg_dispose(&resp);
    }
    xe_list_end(&out);
    xe_vm_session_free(&s);
    return rc || rc_out ? XLMIG__EXIT_FAILED : XLMIG__EXIT_OK;
}

static int one_vm(const struct xe_args *a, const char *method, bool here)
{
    const char *vm = xe_args_get(a, "vm");
    const char *kv[] = { "vm", vm, NULL };
    struct xe_vm_session s;
    struct xlmig__rpc_msg resp;
    int rc;

    if (!vm) {
        fprintf(stderr, "MISSING_PARAMETER: needs vm=\n");
        return XLMIG__EXIT_USAGE;
    }
    memset(&resp, 0, sizeof(resp));
    rc = xe_vm_session_open(&s, a);
    if (!rc)
        rc = here ? xe_vm_connect(&s, s.conf.name, s.conf.address)
                  : xe_vm_locate(&s, vm);
    if (!rc)
        rc = xe_vm_call(&s, method, kv, &resp);
    xlmig__rpc_msg_dispose(&resp);
    if (rc)
        rc = xe_vm_say_error(&s, rc);
    xe_vm_session_free(&s);
    return rc;
}

int xe_cmd_vm_register(const struct xe_args *a)
{
    return one_vm(a, "vm.register", true);
}

int xe_cmd_vm_start(const struct xe_args *a)
{
    return one_vm(a, "vm.start", false);
}

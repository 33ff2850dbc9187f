/* SPDX-License-Identifier: LGPL-2.1-only */
/*
 * xlmig-xe's commands on many VMs at once (docs/vm-migrate.md, "Many
 * VMs at once"; docs/specs/pool-ops.md): vm-migrate and
 * vm-assert-can-migrate of a list of VMs (vm=a,b,c or vm=@FILE),
 * host-evacuate and host-get-vms-which-prevent-evacuation.
 *
 * The VMs' hosts plan them, every VM before the first moves
 * (vm.migrate_many, host.evacuate: libxlmig/batch.h), and start each
 * VM's migration as a task of its own before they answer: the moves do
 * not depend on this command.  It then follows every task, one line per
 * change of phase, and ends with a summary: moved, refused, failed.
 */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <yajl/yajl_tree.h>

#include "batch.h"
#include "internal.h"
#include "pool-client.h"
#include "poolconf.h"
#include "proc.h"
#include "progress.h"
#include "rpc.h"
#include "units.h"
#include "xe-args.h"
#include "xe-cmd.h"

#define LIST_FILE_MAX 65536         /* bytes of a vm=@FILE */
#define POLL_MS 250
#define RECONNECT_S 30              /* a host's daemon may restart */

const char *const xe_keys_host_evacuate[] = { "host", "skip-unmovable", "sr",
                                              "config", NULL };
const char *const xe_keys_host_prevent[] = { "host", "sr", "config", NULL };

static volatile sig_atomic_t interrupted;

static void on_interrupt(int sig)
{
    (void)sig;
    interrupted = 1;
}

/* One VM of a batch, from the list to its line of the summary. */
struct bvm {
    char asked[XLMIG__DOM_NAME_MAX + 1];    /* as the list names it */
    char name[XLMIG__DOM_NAME_MAX + 1];
    char uuid[XLMIG__UUID_LEN + 1];
    size_t grp;                     /* its host: run.g[grp] */
    bool answered;                  /* its host's reply named it */
    /* What its host answered. */
    uint64_t memory_kib;
    char host[65], task[XLMIG__UUID_LEN + 1];
    char placed_by[16], reason[XLMIG__WLB_REASON_MAX + 1];
    char fallback[XLMIG__BATCH_MSG_MAX];
    char error[64], message[XLMIG__RPC_MESSAGE_MAX + 1];
    size_t nr_refusals;
    char refusals[XLMIG__BATCH_REFUSALS_MAX][XLMIG__PLACE_MSG_MAX];
    /* Its task, followed. */
    char phase[32];
    bool ended, moved;
    double total_s;
};

/* A host of the batch's VMs and the connection to its xlmigd. */
struct group {
    char host[65], addr[256];
    struct xe_vm_session s;
    bool open;
    double lost;                    /* its daemon silent since, or 0 */
};

struct run {
    const struct xe_args *a;
    const char *cmd;                /* for messages */
    size_t n;
    struct bvm vms[XLMIG__BATCH_VMS_MAX];
    size_t ng;
    struct group g[XLMIG__POOL_HOSTS_MAX];
};

static void run_free(struct run *r)
{
    size_t i;

    if (!r)
        return;
    for (i = 0; i < r->ng; i++) {
        if (r->g[i].open)
            xe_vm_session_free(&r->g[i].s);
    }
    free(r);
}

static void str_of(yajl_val o, const char *key, char *out, size_t cap)
{
    const char *v = xlmig__rpc_get_str(o, key);

    xlmig__strlcpy(out, v ? v : "", cap);
}

/* ------------------------------------------------------------ the list */

/* @name (@len bytes) appended to the list; false (said) when bad. */
static bool list_add(struct run *r, const char *name, size_t len,
                     const char *from)
{
    size_t i;

    if (!len) {
        fprintf(stderr, "INVALID_VALUE: %s names a VM with an empty name "
                "(two commas, or one at an end?)\n", from);
        return false;
    }
    if (len > XLMIG__DOM_NAME_MAX) {
        fprintf(stderr, "INVALID_VALUE: %s names a VM with a name longer "
                "than %d bytes: %.40s...\n", from, XLMIG__DOM_NAME_MAX,
                name);
        return false;
    }
    if (r->n == XLMIG__BATCH_VMS_MAX) {
        fprintf(stderr, "INVALID_VALUE: %s names more than %d VMs; move "
                "them in several lists\n", from, XLMIG__BATCH_VMS_MAX);
        return false;
    }
    memcpy(r->vms[r->n].asked, name, len);
    r->vms[r->n].asked[len] = '\0';
    for (i = 0; i < r->n; i++) {
        if (!strcmp(r->vms[i].asked, r->vms[r->n].asked)) {
            fprintf(stderr, "INVALID_VALUE: VM %s is named twice in %s; "
                    "name each VM once (nothing was moved)\n",
                    r->vms[i].asked, from);
            return false;
        }
    }
    r->n++;
    return true;
}

/* vm=@FILE: one VM a line; blank lines and lines from '#' left out. */
static bool list_file(struct run *r, const char *path)
{
    char *text = NULL, *line, *save = NULL, from[300];
    FILE *f = fopen(path, "r");
    size_t len;
    bool ok = false;

    snprintf(from, sizeof(from), "vm=@%s", path);
    if (!f) {
        fprintf(stderr, "NOT_FOUND: vm=@%s: cannot open the file: %s\n",
                path, strerror(errno));
        return false;
    }
    text = malloc(LIST_FILE_MAX + 1);
    if (!text) {
        fprintf(stderr, "OUT_OF_MEMORY: reading vm=@%s\n", path);
        goto out;
    }
    len = fread(text, 1, LIST_FILE_MAX + 1, f);
    if (ferror(f) || len > LIST_FILE_MAX) {
        fprintf(stderr, "INVALID_VALUE: vm=@%s: %s\n", path, ferror(f)
                ? "cannot read the file" : "the file is larger than "
                  "64 KiB");
        goto out;
    }
    text[len] = '\0';
    if (strlen(text) != len) {
        fprintf(stderr, "INVALID_VALUE: vm=@%s holds a NUL byte\n", path);
        goto out;
    }
    for (line = strtok_r(text, "\n", &save); line;
         line = strtok_r(NULL, "\n", &save)) {
        size_t b = strspn(line, " \t\r"), e;

        line += b;
        e = strlen(line);
        while (e && strchr(" \t\r", line[e - 1]))
            e--;
        if (!e || line[0] == '#')
            continue;
        if (!list_add(r, line, e, from))
            goto out;
    }
    ok = true;
 out:
    free(text);
    fclose(f);
    return ok;
}

/*
 * The VMs of vm= (a,b,c or @FILE) into r->vms; false when bad (said):
 * an empty list, an empty name, a VM named twice, more than
 * XLMIG__BATCH_VMS_MAX.
 */
static bool list_parse(struct run *r, const char *vm)
{
    const char *p = vm;

    if (vm[0] == '@') {
        if (!list_file(r, vm + 1))
            return false;
    } else {
        for (;;) {
            size_t len = strcspn(p, ",");

            if (!list_add(r, p, len, "vm="))
                return false;
            if (!p[len])
                break;
            p += len + 1;
        }
    }
    if (!r->n) {
        fprintf(stderr, "INVALID_VALUE: %s names no VM\n", vm);
        return false;
    }
    return true;
}

/* Is vm= a list: several names, or @FILE. */
bool xe_vm_is_list(const char *vm)
{
    return vm && (vm[0] == '@' || strchr(vm, ','));
}

/* ------------------------------------------------------------ locating */

/*
 * Each VM of the list on its host, by vm.list of every host of the
 * pool: r->vms[i].name, uuid, grp; r->g the hosts that have one.  An
 * unknown VM, a name two VMs have, one VM named twice (by name and by
 * uuid): all said, false.  Nothing is asked to move.
 */
static bool locate_all(struct run *r, struct xe_vm_session *s)
{
    struct xlmig__pool_hosts *hs = xlmig__zalloc(sizeof(*hs));
    char (*silent)[1200] = calloc(XLMIG__POOL_HOSTS_MAX, sizeof(*silent));
    size_t i, h, k;
    bool ok = true;
    int rc;

    if (!hs || !silent) {
        fprintf(stderr, "OUT_OF_MEMORY: locating the VMs\n");
        ok = false;
        goto out;
    }
    rc = xlmig__pool_hosts(s->ctx, &s->conf, hs);
    if (rc) {
        xe_vm_say_error(s, rc);
        ok = false;
        goto out;
    }
    for (h = 0; h < hs->n; h++) {
        struct xlmig__rpc_msg resp;
        yajl_val l;

        memset(&resp, 0, sizeof(resp));
        rc = xe_vm_connect(s, hs->h[h].name, hs->h[h].address);
        if (!rc)
            rc = xe_vm_call(s, "vm.list", NULL, &resp);
        if (rc) {
            snprintf(silent[h], sizeof(silent[h]), "%s", s->err[0]
                     ? s->err : libxlmig_ctx_last_error(s->ctx));
            xlmig__rpc_msg_dispose(&resp);
            continue;
        }
        l = resp.result;
        for (k = 0; YAJL_IS_ARRAY(l) && k < l->u.array.len; k++) {
            yajl_val o = l->u.array.values[k];
            const char *nm = xlmig__rpc_get_str(o, "name");
            const char *id = xlmig__rpc_get_str(o, "uuid");

            for (i = 0; nm && id && i < r->n; i++) {
                struct bvm *v = &r->vms[i];

                if (strcmp(v->asked, id) && strcmp(v->asked, nm))
                    continue;
                if (v->uuid[0] && strcmp(v->uuid, id)) {
                    fprintf(stderr, "INVALID_VALUE: the name %s is the name "
                            "of two VMs (%s and %s); give the uuid of the "
                            "one to move\n", v->asked, v->uuid, id);
                    ok = false;
                }
                xlmig__strlcpy(v->name, nm, sizeof(v->name));
                xlmig__strlcpy(v->uuid, id, sizeof(v->uuid));
                v->grp = h;
            }
        }
        xlmig__rpc_msg_dispose(&resp);
    }
    for (i = 0; i < r->n; i++) {
        struct bvm *v = &r->vms[i];

        if (!v->uuid[0]) {
            fprintf(stderr, "NOT_FOUND: no VM %s on any host of pool %s "
                    "(vm-list shows the VMs)", v->asked, s->conf.pool_uuid);
            for (h = 0; h < hs->n; h++) {
                if (silent[h][0])
                    fprintf(stderr, "; host %s did not answer: %s",
                            hs->h[h].name, silent[h]);
            }
            fprintf(stderr, "\n");
            ok = false;
            continue;
        }
        for (k = 0; k < i; k++) {
            if (!strcmp(r->vms[k].uuid, v->uuid)) {
                fprintf(stderr, "INVALID_VALUE: VM %s is named twice (as %s "
                        "and %s); name each VM once\n", v->name,
                        r->vms[k].asked, v->asked);
                ok = false;
            }
        }
    }
    if (!ok)
        goto out;
    /* The hosts that have VMs of the list, in the pool's order. */
    for (h = 0; h < hs->n; h++) {
        bool used = false;

        for (i = 0; i < r->n; i++) {
            if (r->vms[i].grp == h) {
                r->vms[i].grp = r->ng;
                used = true;
            }
        }
        if (!used)
            continue;
        /* (r->ng <= h: a VM renumbered is never taken for a later h.) */
        xlmig__strlcpy(r->g[r->ng].host, hs->h[h].name,
                       sizeof(r->g[0].host));
        xlmig__strlcpy(r->g[r->ng].addr, hs->h[h].address,
                       sizeof(r->g[0].addr));
        r->ng++;
    }
 out:
    free(silent);
    free(hs);
    return ok;
}

/* ------------------------------------------------------------ replies */

/* Connect group @gi (a session of its own). */
static int group_open(struct run *r, size_t gi)
{
    struct group *g = &r->g[gi];
    int rc;

    if (!g->open) {
        rc = xe_vm_session_open(&g->s, r->a);
        g->open = true;
        if (rc)
            return rc;
    }
    return xe_vm_connect(&g->s, g->host, g->addr);
}

/* A batch reply's "vms" into r->vms of group @gi (matched by uuid). */
static void reply_read(struct run *r, size_t gi, yajl_val res)
{
    yajl_val l = xlmig__rpc_get(res, "vms");
    size_t k, i, j;

    for (k = 0; YAJL_IS_ARRAY(l) && k < l->u.array.len; k++) {
        yajl_val o = l->u.array.values[k], refs;
        const char *id = xlmig__rpc_get_str(o, "uuid");
        struct bvm *v = NULL;

        for (i = 0; id && i < r->n; i++) {
            if (r->vms[i].grp == gi && !strcmp(r->vms[i].uuid, id))
                v = &r->vms[i];
        }
        if (!v) {
            /* host.evacuate: the host's own VMs, in its order. */
            if (r->n == XLMIG__BATCH_VMS_MAX)
                continue;
            v = &r->vms[r->n++];
            memset(v, 0, sizeof(*v));
            v->grp = gi;
            str_of(o, "uuid", v->uuid, sizeof(v->uuid));
        }
        v->answered = true;
        str_of(o, "vm", v->name, sizeof(v->name));
        if (!v->asked[0])
            xlmig__strlcpy(v->asked, v->name, sizeof(v->asked));
        str_of(o, "host", v->host, sizeof(v->host));
        str_of(o, "task", v->task, sizeof(v->task));
        str_of(o, "placed_by", v->placed_by, sizeof(v->placed_by));
        str_of(o, "placed_reason", v->reason, sizeof(v->reason));
        str_of(o, "fallback", v->fallback, sizeof(v->fallback));
        str_of(o, "error", v->error, sizeof(v->error));
        str_of(o, "message", v->message, sizeof(v->message));
        (void)xlmig__rpc_get_uint(o, "memory_kib", &v->memory_kib);
        refs = xlmig__rpc_get(o, "refusals");
        v->nr_refusals = 0;
        for (j = 0; YAJL_IS_ARRAY(refs) && j < refs->u.array.len &&
                    v->nr_refusals < XLMIG__BATCH_REFUSALS_MAX; j++) {
            yajl_val m = refs->u.array.values[j];

            if (YAJL_IS_STRING(m))
                xlmig__strlcpy(v->refusals[v->nr_refusals++],
                               YAJL_GET_STRING(m), XLMIG__PLACE_MSG_MAX);
        }
    }
}

/* Each VM of group @gi its host gave no answer for: refused, @why. */
static void unanswered(struct run *r, size_t gi, const char *why)
{
    size_t i;

    for (i = 0; i < r->n; i++) {
        struct bvm *v = &r->vms[i];

        if (v->grp != gi || v->answered)
            continue;
        xlmig__place_refusal_name(why, v->error, sizeof(v->error));
        xlmig__strlcpy(v->message, why, sizeof(v->message));
        if (!v->name[0])
            xlmig__strlcpy(v->name, v->asked, sizeof(v->name));
    }
}

/* ------------------------------------------------------------ following */

static void say_going_on(const struct run *r)
{
    size_t i, k = 0;

    fprintf(stderr, "%s: interrupted; the migrations go on as tasks:",
            r->cmd);
    for (i = 0; i < r->n; i++) {
        if (r->vms[i].task[0] && !r->vms[i].ended)
            fprintf(stderr, "%s VM %s (%s)", k++ ? "," : "",
                    r->vms[i].name, r->vms[i].task);
    }
    fprintf(stderr, "%s (xlmig-xe task-list shows them; task-cancel "
            "uuid= stops one)\n", k ? "" : " none");
}

/*
 * Follow every task of @r to its end, a line on stderr for each change
 * of a task's phase (none with @quiet).  0, or XLMIG__EXIT_INTERRUPTED
 * when interrupted (said: the tasks go on).  A host whose daemon does
 * not answer for RECONNECT_S fails its tasks here with
 * CANNOT_CONTACT_HOST (their outcome is in its journals).
 */
static int follow_all(struct run *r, bool quiet)
{
    struct xlmig__progress pr;
    size_t i, pending;

    xlmig__progress_init(&pr, stderr, r->cmd, quiet);
    xlmig__cli_on_stop(on_interrupt);
    for (;;) {
        if (interrupted) {
            say_going_on(r);
            return XLMIG__EXIT_INTERRUPTED;
        }
        pending = 0;
        for (i = 0; i < r->n; i++) {
            struct bvm *v = &r->vms[i];
            struct group *g = &r->g[v->grp];
            struct xe_task_view tv;
            double t;
            int rc;

            if (!v->task[0] || v->ended)
                continue;
            memset(&tv, 0, sizeof(tv));
            rc = g->s.t ? xe_vm_task_get(&g->s, v->task, &tv)
                        : LIBXLMIG_ERR_IO;
            t = xlmig__now_s();
            if (rc) {
                if (!g->lost)
                    g->lost = t;
                if (t - g->lost > RECONNECT_S) {
                    v->ended = true;
                    xlmig__strlcpy(v->error, "CANNOT_CONTACT_HOST",
                                   sizeof(v->error));
                    snprintf(v->message, sizeof(v->message), "CANNOT_"
                             "CONTACT_HOST: lost host %s's xlmigd for %d "
                             "s; task %s's outcome is in that host's "
                             "journal (task-list; that host's xlmigd once "
                             "it runs again)", g->host, RECONNECT_S,
                             v->task);
                    continue;
                }
                pending++;
                (void)xe_vm_connect(&g->s, g->host, g->addr);
                continue;
            }
            g->lost = 0;
            if (strcmp(tv.phase, v->phase)) {
                char who[8 + XLMIG__DOM_NAME_MAX];

                xlmig__strlcpy(v->phase, tv.phase, sizeof(v->phase));
                snprintf(who, sizeof(who), "VM %s", v->name);
                xlmig__progress_task(&pr, who, tv.phase,
                                     tv.progress > 100
                                         ? 100 : (unsigned int)tv.progress);
            }
            if (!strcmp(tv.state, "running")) {
                pending++;
                continue;
            }
            v->ended = true;
            v->moved = !strcmp(tv.state, "done");
            v->total_s = (double)tv.total_ms / 1000.0;
            if (tv.destination[0])
                xlmig__strlcpy(v->host, tv.destination, sizeof(v->host));
            if (!v->moved) {
                xlmig__strlcpy(v->error, tv.error[0] ? tv.error
                               : "VM_MIGRATE_FAILED", sizeof(v->error));
                if (tv.message[0])
                    xlmig__strlcpy(v->message, tv.message,
                                   sizeof(v->message));
                else
                    snprintf(v->message, sizeof(v->message), "%s: the "
                             "migration failed", v->error);
            }
        }
        if (!pending)
            return 0;
        fflush(stderr);
        xlmig__sleep_ms(POLL_MS);
    }
}

/*
 * What was asked of each VM of group @gi (SIZE_MAX: of every group), as
 * its host answered, on stdout.
 */
static void say_plan(const struct run *r, size_t gi, bool check)
{
    size_t i;

    for (i = 0; i < r->n; i++) {
        const struct bvm *v = &r->vms[i];

        if (gi != SIZE_MAX && v->grp != gi)
            continue;
        if (v->fallback[0])
            fprintf(stderr, "%s\n", v->fallback);
        if (v->error[0] && !v->task[0] && !v->host[0])
            printf("VM %s: refused: %s\n", v->name, v->message[0]
                   ? v->message : v->error);
        else if (v->error[0])
            printf("VM %s: did not start: %s\n", v->name, v->message);
        else if (check && v->placed_by[0])
            printf("VM %s can migrate to host %s (placed by the %s "
                   "choice: %s)\n", v->name, v->host, v->placed_by,
                   v->reason);
        else if (check)
            printf("VM %s can migrate to host %s\n", v->name, v->host);
        else if (v->placed_by[0])
            printf("VM %s: task %s, to host %s (placed: %s: %s)\n", v->name,
                   v->task, v->host, v->placed_by, v->reason);
        else
            printf("VM %s: task %s, to host %s\n", v->name, v->task,
                   v->host);
    }
    fflush(stdout);
}

/* The tasks' uuids, comma-separated (--minimal). */
static void say_tasks(const struct run *r)
{
    size_t i, k = 0;

    for (i = 0; i < r->n; i++) {
        if (r->vms[i].task[0])
            printf("%s%s", k++ ? "," : "", r->vms[i].task);
    }
    printf("\n");
    fflush(stdout);
}

/*
 * The summary: how many moved, were refused, failed, then one line per
 * VM (stdout; with @quiet only the refused and failed, on stderr).
 * XLMIG__EXIT_OK when every VM moved, else XLMIG__EXIT_FAILED.
 */
static int summary(const struct run *r, bool quiet)
{
    size_t i, moved = 0, refused = 0, failed = 0;
    FILE *f = quiet ? stderr : stdout;

    for (i = 0; i < r->n; i++) {
        const struct bvm *v = &r->vms[i];

        if (v->moved)
            moved++;
        else if (!v->task[0])
            refused++;
        else
            failed++;
    }
    if (!quiet)
        printf("%s: %zu VM(s): %zu moved, %zu refused, %zu failed\n",
               r->cmd, r->n, moved, refused, failed);
    for (i = 0; i < r->n && !quiet; i++) {
        if (r->vms[i].moved)
            printf("moved: VM %s to host %s (%.1f s)\n", r->vms[i].name,
                   r->vms[i].host, r->vms[i].total_s);
    }
    for (i = 0; i < r->n; i++) {
        const struct bvm *v = &r->vms[i];

        if (!v->moved && !v->task[0])
            fprintf(f, "refused: VM %s: %s\n", v->name, v->message[0]
                    ? v->message : v->error);
    }
    for (i = 0; i < r->n; i++) {
        const struct bvm *v = &r->vms[i];

        if (!v->moved && v->task[0])
            fprintf(f, "failed: VM %s: %s\n", v->name, v->message);
    }
    fflush(f);
    return refused || failed ? XLMIG__EXIT_FAILED : XLMIG__EXIT_OK;
}

/* ------------------------------------------------------------ vm-migrate */

/*
 * "HOST=KIB,..." of the memory the VMs of groups before @gi were
 * promised where they go, into @out.
 */
static void reserved_of(const struct run *r, size_t gi, char *out,
                        size_t cap)
{
    size_t i, k, len = 0;

    out[0] = '\0';
    for (i = 0; i < r->n; i++) {
        const struct bvm *v = &r->vms[i];
        uint64_t sum = 0;
        int w;

        if (v->grp >= gi || !v->host[0] || !v->memory_kib)
            continue;
        /* Each host once, with the sum of its VMs. */
        for (k = 0; k < i; k++) {
            if (r->vms[k].grp < gi && r->vms[k].memory_kib &&
                !strcmp(r->vms[k].host, v->host))
                break;
        }
        if (k < i)
            continue;
        for (k = i; k < r->n; k++) {
            if (r->vms[k].grp < gi && !strcmp(r->vms[k].host, v->host))
                sum += r->vms[k].memory_kib;
        }
        w = snprintf(out + len, cap - len, "%s%s=%" PRIu64, len ? "," : "",
                     v->host, sum);
        if (w < 0 || (size_t)w >= cap - len) {
            out[len] = '\0';
            return;
        }
        len += (size_t)w;
    }
}

/* vm.migrate_many of group @gi with @a's options; said on failure. */
static int ask_group(struct run *r, size_t gi, bool check,
                     const char *bwlimit)
{
    const struct xe_args *a = r->a;
    char vms[XLMIG__BATCH_VMS_MAX * (XLMIG__UUID_LEN + 1) + 1];
    char reserved[4096];
    const char *kv[32];
    struct xlmig__rpc_msg resp;
    size_t n = 0, i, len = 0;
    const char *host = xe_args_get(a, "host");
    int rc;

    if (!host)
        host = xe_args_get(a, "host-uuid");
    vms[0] = '\0';
    for (i = 0; i < r->n; i++) {
        if (r->vms[i].grp != gi)
            continue;
        len += (size_t)snprintf(vms + len, sizeof(vms) - len, "%s%s",
                                len ? "," : "", r->vms[i].uuid);
    }
    reserved_of(r, gi, reserved, sizeof(reserved));
    kv[n++] = "vms"; kv[n++] = vms;
    if (host) { kv[n++] = "host"; kv[n++] = host; }
    if (xe_args_get(a, "sr")) { kv[n++] = "sr"; kv[n++] = xe_args_get(a,
                                                                     "sr"); }
    if (xe_args_get(a, "compress")) {
        kv[n++] = "compress";
        kv[n++] = xe_args_get(a, "compress");
    }
    kv[n++] = "force";
    kv[n++] = xe_args_get(a, "force") &&
              !strcmp(xe_args_get(a, "force"), "true") ? "?true" : "?false";
    kv[n++] = "live";
    kv[n++] = xe_args_get(a, "live") &&
              !strcmp(xe_args_get(a, "live"), "false") ? "?false" : "?true";
    kv[n++] = "check"; kv[n++] = check ? "?true" : "?false";
    if (bwlimit[0]) { kv[n++] = "bwlimit"; kv[n++] = bwlimit; }
    if (reserved[0]) { kv[n++] = "reserved"; kv[n++] = reserved; }
    kv[n] = NULL;
    rc = group_open(r, gi);
    if (!rc)
        rc = xe_vm_call(&r->g[gi].s, "vm.migrate_many", kv, &resp);
    else
        memset(&resp, 0, sizeof(resp));
    if (!rc) {
        char why[200];

        reply_read(r, gi, resp.result);
        snprintf(why, sizeof(why), "PROTOCOL_ERROR: host %s's answer "
                 "did not name this VM", r->g[gi].host);
        unanswered(r, gi, why);
    }
    xlmig__rpc_msg_dispose(&resp);
    return rc;
}

/* The last error of group @gi's session, "NAME: sentence". */
static const char *group_error(struct run *r, size_t gi)
{
    struct xe_vm_session *s = &r->g[gi].s;

    if (!r->g[gi].open)
        return "NO_MEMORY: no session";
    return s->err[0] ? s->err : libxlmig_ctx_last_error(s->ctx);
}

int xe_cmd_vm_migrate_many(const struct xe_args *a, bool check)
{
    const char *vm = xe_args_get(a, "vm");
    const char *compress = xe_args_get(a, "compress");
    const char *bw = xe_args_get(a, "bwlimit");
    struct xe_vm_session s;
    struct run *r = NULL;
    char bwn[32] = "", err[1200];
    bool ok = true;
    size_t i, gi;
    int st;

    memset(&s, 0, sizeof(s));
    for (i = 0; i < a->nr_kv; i++) {
        const char *k = a->kv[i].key;

        if (!strncmp(k, "vdi:", 4) || !strncmp(k, "vif:", 4) ||
            !strcmp(k, "remote-master") || !strcmp(k, "remote-config") ||
            (!strcmp(k, "copy") && strcmp(a->kv[i].value, "false"))) {
            fprintf(stderr, "INVALID_VALUE: %s= with a list of VMs: vdi: "
                    "and vif: maps, copy=true and another pool are for "
                    "one VM at a time; for the disks of a list give "
                    "sr=SR\n", k);
            return XLMIG__EXIT_USAGE;
        }
    }
    (void)xe_bool_arg(a, "force", false, &ok);
    (void)xe_bool_arg(a, "live", true, &ok);
    if (compress && strcmp(compress, "true") && strcmp(compress, "false")) {
        fprintf(stderr, "INVALID_VALUE: compress=%s: true or false (the "
                "pool's migration-compression when not given)\n", compress);
        ok = false;
    }
    r = xlmig__zalloc(sizeof(*r));
    if (!r) {
        fprintf(stderr, "OUT_OF_MEMORY: a list of VMs\n");
        return XLMIG__EXIT_FAILED;
    }
    r->a = a;
    r->cmd = check ? "vm-assert-can-migrate" : "vm-migrate";
    if (ok && bw) {
        uint64_t v;

        if (xe_vm_session_open(&s, a) ||
            xlmig__rate_parse(s.ctx, "bwlimit=", bw, &v)) {
            fprintf(stderr, "%s\n", libxlmig_ctx_last_error(s.ctx));
            ok = false;
        } else if (v) {
            snprintf(bwn, sizeof(bwn), "#%" PRIu64, v);
        }
        xe_vm_session_free(&s);
    }
    if (!ok || !list_parse(r, vm)) {
        run_free(r);
        return XLMIG__EXIT_USAGE;
    }
    st = xe_vm_session_open(&s, a);
    if (st) {
        st = xe_vm_say_error(&s, st);
        goto out;
    }
    if (!locate_all(r, &s)) {
        fprintf(stderr, "%s: nothing was moved\n", r->cmd);
        st = XLMIG__EXIT_FAILED;
        goto out;
    }
    for (gi = 0; gi < r->ng; gi++) {
        if (!ask_group(r, gi, check, bwn)) {
            /* Said at once: these tasks run whatever comes next. */
            if (!check && !a->minimal)
                say_plan(r, gi, false);
            continue;
        }
        xlmig__strlcpy(err, group_error(r, gi), sizeof(err));
        if (gi == 0) {
            /* Bad input: the first host refuses it before any task. */
            fprintf(stderr, "%s\n%s: nothing was moved\n", err, r->cmd);
            st = XLMIG__EXIT_FAILED;
            goto out;
        }
        fprintf(stderr, "%s: host %s refused its VMs of the list (the "
                "tasks of the hosts before it are started): %s\n", r->cmd,
                r->g[gi].host, err);
        unanswered(r, gi, err);
    }
    if (check) {
        say_plan(r, SIZE_MAX, true);
        for (st = XLMIG__EXIT_OK, i = 0; i < r->n; i++) {
            if (r->vms[i].error[0])
                st = XLMIG__EXIT_FAILED;
        }
        goto out;
    }
    if (a->minimal)
        say_tasks(r);
    st = follow_all(r, a->minimal);
    if (!st)
        st = summary(r, a->minimal);
 out:
    xe_vm_session_free(&s);
    run_free(r);
    return st;
}

/* ------------------------------------------------------------ evacuate */

/* The halted (or arriving) VMs a reply names, one line each. */
static void say_listed(yajl_val res, const char *what, const char *nr_key,
                       const char *host, const char *why)
{
    yajl_val l = xlmig__rpc_get(res, what);
    uint64_t nr = 0;
    size_t i;

    (void)xlmig__rpc_get_uint(res, nr_key, &nr);
    for (i = 0; YAJL_IS_ARRAY(l) && i < l->u.array.len; i++) {
        const char *vm = xlmig__rpc_get_str(l->u.array.values[i], "vm");

        printf("not moved: VM %s %s\n", vm ? vm : "?", why);
    }
    if (YAJL_IS_ARRAY(l) && nr > l->u.array.len)
        printf("not moved: %" PRIu64 " more %s VM(s) of host %s\n",
               nr - l->u.array.len, what, host);
}

/* A VM that cannot leave: its reasons on @f, each "VM (uuid): why". */
static void say_why_not(FILE *f, const struct bvm *v)
{
    size_t k;

    fprintf(f, "VM %s (%s): %s\n", v->name, v->uuid, v->message);
    for (k = 0; k < v->nr_refusals; k++)
        fprintf(f, "VM %s (%s): %s\n", v->name, v->uuid, v->refusals[k]);
}

/* host-get-vms-which-prevent-evacuation's records. */
static void say_preventing(const struct run *r)
{
    struct xlmig__kv kv[2 + 1 + XLMIG__BATCH_REFUSALS_MAX];
    size_t i, k, n, done = 0;

    for (i = 0; i < r->n; i++) {
        const struct bvm *v = &r->vms[i];

        if (!v->error[0])
            continue;
        if (r->a->minimal) {
            printf("%s%s", done++ ? "," : "", v->uuid);
            continue;
        }
        n = 0;
        kv[n].key = "uuid";
        xlmig__strlcpy(kv[n++].value, v->uuid, sizeof(kv[0].value));
        kv[n].key = "name-label";
        xlmig__strlcpy(kv[n++].value, v->name, sizeof(kv[0].value));
        kv[n].key = "reason";
        xlmig__strlcpy(kv[n++].value, v->message, sizeof(kv[0].value));
        for (k = 0; k < v->nr_refusals; k++) {
            kv[n].key = "reason";
            xlmig__strlcpy(kv[n++].value, v->refusals[k],
                           sizeof(kv[0].value));
        }
        (void)xe_print_record(r->a, kv, n);
    }
    if (r->a->minimal && done)
        printf("\n");
}

/*
 * host-evacuate of @host (sr= @sr when not NULL, skip-unmovable=@skip),
 * or with @check host-get-vms-which-prevent-evacuation.  *@moved_r: the
 * VMs moved; @why (@cap bytes, may be NULL) the first reason of a
 * failure, as said on stderr.
 */
static int evacuate_host(const struct xe_args *a, const char *host,
                         const char *sr, bool skip, bool check,
                         unsigned *moved_r, char *why, size_t cap)
{
    struct xlmig__rpc_msg resp;
    struct xe_vm_session s;
    struct run *r = NULL;
    const char *kv[8];
    const char *err;
    size_t i, n = 0;
    int st;

    memset(&resp, 0, sizeof(resp));
    memset(&s, 0, sizeof(s));
    *moved_r = 0;
    if (why && cap)
        why[0] = '\0';
    r = xlmig__zalloc(sizeof(*r));
    if (!r)
        return XLMIG__EXIT_FAILED;
    r->a = a;
    r->cmd = "host-evacuate";
    r->ng = 1;
    xlmig__strlcpy(r->g[0].host, host, sizeof(r->g[0].host));
    st = xe_vm_session_open(&s, a);
    if (!st)
        st = xlmig__pool_host_address(s.ctx, &s.conf, host, r->g[0].addr,
                                      sizeof(r->g[0].addr));
    if (st) {
        if (why && cap)
            xlmig__strlcpy(why, s.err[0] ? s.err
                           : libxlmig_ctx_last_error(s.ctx), cap);
        st = xe_vm_say_error(&s, st);
        goto out;
    }
    kv[n++] = "check"; kv[n++] = check ? "?true" : "?false";
    kv[n++] = "skip_unmovable"; kv[n++] = skip ? "?true" : "?false";
    if (sr) { kv[n++] = "sr"; kv[n++] = sr; }
    kv[n] = NULL;
    st = group_open(r, 0);
    if (!st)
        st = xe_vm_call(&r->g[0].s, "host.evacuate", kv, &resp);
    if (st) {
        fprintf(stderr, "%s\n", group_error(r, 0));
        if (why && cap)
            xlmig__strlcpy(why, group_error(r, 0), cap);
        st = XLMIG__EXIT_FAILED;
        goto out;
    }
    reply_read(r, 0, resp.result);
    if (check) {
        say_preventing(r);
        st = XLMIG__EXIT_OK;
        goto out;
    }
    err = xlmig__rpc_get_str(resp.result, "error");
    if (err && *err) {
        /* Refused as a whole: nothing moved, the host as it was. */
        const char *msg = xlmig__rpc_get_str(resp.result, "message");

        fprintf(stderr, "%s\n", msg && *msg ? msg : err);
        if (why && cap)
            xlmig__strlcpy(why, msg && *msg ? msg : err, cap);
        for (i = 0; i < r->n; i++) {
            if (r->vms[i].error[0])
                say_why_not(stderr, &r->vms[i]);
        }
        st = XLMIG__EXIT_FAILED;
        goto out;
    }
    if (!a->minimal)
        printf("host %s disabled; %zu running VM(s) to move\n", host, r->n);
    if (a->minimal)
        say_tasks(r);
    else
        say_plan(r, 0, false);
    st = follow_all(r, a->minimal);
    if (!st)
        st = summary(r, a->minimal);
    for (i = 0; i < r->n; i++)
        *moved_r += r->vms[i].moved;
    if (st && why && cap)
        snprintf(why, cap, "the evacuation of host %s moved %u of its %zu "
                 "running VM(s); see the lines above for the others", host,
                 *moved_r, r->n);
    if (st != XLMIG__EXIT_INTERRUPTED && !a->minimal) {
        uint64_t na = 0;

        say_listed(resp.result, "halted", "nr_halted", host, "is halted: "
                   "an evacuation moves running VMs only, as xapi's; "
                   "vm-migrate moves it cold");
        say_listed(resp.result, "arriving", "nr_arriving", host, "was "
                   "arriving when the host was disabled (a migration "
                   "under way); run host-evacuate again once it has "
                   "arrived");
        (void)xlmig__rpc_get_uint(resp.result, "nr_arriving", &na);
        if (na && !st) {
            st = XLMIG__EXIT_FAILED;
            if (why && cap)
                snprintf(why, cap, "%" PRIu64 " VM(s) were still arriving "
                         "on host %s when it was disabled", na, host);
        }
    }
 out:
    xlmig__rpc_msg_dispose(&resp);
    xe_vm_session_free(&s);
    run_free(r);
    return st;
}

/* host-evacuate, or with @check host-get-vms-which-prevent-evacuation. */
static int evacuate(const struct xe_args *a, bool check)
{
    const char *host = xe_args_get(a, "host");
    bool ok = true, skip;
    unsigned moved;

    if (!host) {
        fprintf(stderr, "MISSING_PARAMETER: %s needs host=\n", check
                ? "host-get-vms-which-prevent-evacuation" : "host-evacuate");
        return XLMIG__EXIT_USAGE;
    }
    skip = xe_bool_arg(a, "skip-unmovable", false, &ok);
    if (!ok)
        return XLMIG__EXIT_USAGE;
    return evacuate_host(a, host, xe_args_get(a, "sr"), skip, check, &moved,
                         NULL, 0);
}

int xe_host_evacuate(const struct xe_args *a, const char *host,
                     const char *sr, unsigned *moved_r, char *why,
                     size_t cap)
{
    return evacuate_host(a, host, sr, false, false, moved_r, why, cap);
}

int xe_cmd_host_evacuate(const struct xe_args *a)
{
    return evacuate(a, false);
}

int xe_cmd_host_get_vms_which_prevent_evacuation(const struct xe_args *a)
{
    return evacuate(a, true);
}

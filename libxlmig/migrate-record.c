/* SPDX-License-Identifier: LGPL-2.1-only */
/*
 * The journals of vm-migrate tasks (migrate.h): one JSON file per task,
 * written crash-safely before every step that leaves something behind.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cpurecord.h"
#include "jsonfile.h"
#include "migrate.h"
#include "rpc.h"
#include "uuid.h"

#define PATH_MAX_ 4096
#define RECORDS_MAX 1024

static const struct xlmig__json_kind mig_kind = {
    .what = "migration journal",
    .a_what = "a migration journal",
    .invalid_rc = LIBXLMIG_ERR_MIGRATE_RECORD_INVALID,
    .max_bytes = XLMIG__MIG_RECORD_MAX,
    .depth_max = 8,
    .dir_before = "the migration journals' directory ",
    .dir_after = "",
    .dir_role = "the migration journals",
};

static const char *const phase_names[XLMIG__MIG_PHASES] = {
    [XLMIG__MIG_QUEUED] = "queued",
    [XLMIG__MIG_STORAGE] = "storage",
    [XLMIG__MIG_MEMORY] = "memory",
    [XLMIG__MIG_SWITCH] = "switch",
    [XLMIG__MIG_GO_SENT] = "go-sent",
    [XLMIG__MIG_CLEANUP] = "cleanup",
    [XLMIG__MIG_LISTENING] = "listening",
    [XLMIG__MIG_RESTORING] = "restoring",
    [XLMIG__MIG_READY] = "ready",
    [XLMIG__MIG_GO] = "go",
    [XLMIG__MIG_ROLLBACK] = "rollback",
    [XLMIG__MIG_ENDED] = "ended",
};

static const char *const state_names[] = { "running", "done", "failed" };

const char *xlmig__mig_phase_name(enum xlmig__mig_phase p)
{
    return (unsigned)p < XLMIG__MIG_PHASES ? phase_names[p] : NULL;
}

const char *xlmig__mig_state_name(enum xlmig__mig_state s)
{
    return (unsigned)s <= XLMIG__MIG_FAILED ? state_names[s] : NULL;
}

/* ------------------------------------------------------------ encode */

#define KS(k, v) xlmig__gen_key_string(g, (k), (v))
#define KI(k, v) xlmig__gen_key_integer(g, (k), (long long)(v))
#define KB(k, v) xlmig__gen_key_bool(g, (k), (v))

static bool gen_devices(yajl_gen g, const struct xlmig__mig_record *r)
{
    size_t i;

    if (yajl_gen_string(g, (const unsigned char *)"vdis", 4) !=
            yajl_gen_status_ok ||
        yajl_gen_array_open(g) != yajl_gen_status_ok)
        return false;
    for (i = 0; i < r->nr_vdis; i++) {
        const struct xlmig__mig_vdi *v = &r->vdis[i];

        if (yajl_gen_map_open(g) != yajl_gen_status_ok ||
            !KS("vdev", v->vdev) || !KS("vdi", v->vdi) || !KS("sr", v->sr) ||
            !KS("format", v->format) || !KS("dst-task", v->dst_task) ||
            !KS("dst-vdi", v->dst_vdi) || !KB("finalized", v->finalized) ||
            yajl_gen_map_close(g) != yajl_gen_status_ok)
            return false;
    }
    if (yajl_gen_array_close(g) != yajl_gen_status_ok)
        return false;
    if (yajl_gen_string(g, (const unsigned char *)"nics", 4) !=
            yajl_gen_status_ok ||
        yajl_gen_array_open(g) != yajl_gen_status_ok)
        return false;
    for (i = 0; i < r->nr_nics; i++) {
        if (yajl_gen_map_open(g) != yajl_gen_status_ok ||
            !KS("mac", r->nics[i].mac) || !KS("bridge", r->nics[i].bridge) ||
            yajl_gen_map_close(g) != yajl_gen_status_ok)
            return false;
    }
    return yajl_gen_array_close(g) == yajl_gen_status_ok;
}

int xlmig__mig_record_encode(const struct xlmig__mig_record *r, char *buf,
                             size_t cap, size_t *len_r)
{
    yajl_gen g;
    bool ok;
    int rc;

    if (!xlmig__mig_phase_name(r->phase) || !xlmig__mig_state_name(r->state)
        || r->nr_vdis > XLMIG__MIG_VDIS_MAX ||
        r->nr_nics > XLMIG__MIG_NICS_MAX)
        return LIBXLMIG_ERR_INVALID_ARGUMENT;
    g = xlmig__gen_new();
    if (!g)
        return LIBXLMIG_ERR_NO_MEMORY;
    ok = yajl_gen_map_open(g) == yajl_gen_status_ok &&
         KI("version", 1) && KS("task", r->task) &&
         KS("role", r->role == XLMIG__MIG_DST ? "dst" : "src") &&
         KS("phase", phase_names[r->phase]) &&
         KS("state", state_names[r->state]) &&
         KS("error", r->error) && KS("message", r->message) &&
         KS("vm", r->vm) && KS("vm-uuid", r->vm_uuid) &&
         KI("domid", r->domid) && KB("live", r->live) &&
         KB("copy", r->copy) && KB("force", r->force) &&
         KB("compress", r->compress) && KB("priority", r->priority) &&
         KI("bwlimit", r->bwlimit) &&
         KS("source", r->source) && KS("destination", r->destination) &&
         KS("dest-address", r->dest_address) &&
         KS("remote-config", r->remote_config) &&
         KI("slot-task", r->slot_task) && KI("progress", r->progress) &&
         gen_devices(g, r) &&
         KI("worker-pid", r->worker_pid) &&
         KI("worker-start", r->worker_start) &&
         KI("started", r->started) && KI("ended", r->ended) &&
         KI("downtime-ms", r->downtime_ms) && KI("total-ms", r->total_ms) &&
         KI("wire-bytes", r->wire_bytes) &&
         KI("stream-bytes", r->stream_bytes) &&
         yajl_gen_map_close(g) == yajl_gen_status_ok;
    rc = ok ? xlmig__gen_finish(g, buf, cap, len_r)
            : LIBXLMIG_ERR_INVALID_ARGUMENT;
    yajl_gen_free(g);
    return rc;
}

/* ------------------------------------------------------------ decode */

struct rd {
    libxlmig_ctx *ctx;
    const char *label;
    int rc;
};

static bool member_bad(struct rd *d, const char *key, const char *what)
{
    if (!d->rc)
        d->rc = xlmig__json_error(d->ctx, &mig_kind, d->label,
                                  "member \"%s\" %s", key, what);
    return false;
}

/* A string of 0 to @cap - 1 printable bytes. */
static bool get_s(struct rd *d, yajl_val o, const char *key, char *buf,
                  size_t cap)
{
    yajl_val v = xlmig__rpc_get(o, key);
    const unsigned char *p;
    size_t n;

    if (!v)
        return member_bad(d, key, "is missing");
    if (!YAJL_IS_STRING(v))
        return member_bad(d, key, "is not a string");
    n = strlen(v->u.string);
    if (n >= cap)
        return member_bad(d, key, "is too long");
    for (p = (const unsigned char *)v->u.string; *p; p++) {
        if (*p < 0x20 || *p == 0x7f)
            return member_bad(d, key, "holds a control character");
    }
    memcpy(buf, v->u.string, n + 1);
    return true;
}

/* "" or a uuid. */
static bool get_uuid(struct rd *d, yajl_val o, const char *key, char *buf)
{
    if (!get_s(d, o, key, buf, XLMIG__UUID_LEN + 1))
        return false;
    if (buf[0] && !xlmig__uuid_ok(buf))
        return member_bad(d, key, "is not a uuid");
    return true;
}

static bool get_u(struct rd *d, yajl_val o, const char *key, uint64_t max,
                  uint64_t *v_r)
{
    yajl_val v = xlmig__rpc_get(o, key);

    if (!v)
        return member_bad(d, key, "is missing");
    if (!YAJL_IS_INTEGER(v) || YAJL_GET_INTEGER(v) < 0 ||
        (uint64_t)YAJL_GET_INTEGER(v) > max)
        return member_bad(d, key, "is not an integer in range");
    *v_r = (uint64_t)YAJL_GET_INTEGER(v);
    return true;
}

static bool get_b(struct rd *d, yajl_val o, const char *key, bool *v_r)
{
    yajl_val v = xlmig__rpc_get(o, key);

    if (!v || !(YAJL_IS_TRUE(v) || YAJL_IS_FALSE(v)))
        return member_bad(d, key, v ? "is not true or false" : "is missing");
    *v_r = YAJL_IS_TRUE(v);
    return true;
}

/* A member journals written before it existed lack: false then. */
static bool get_b_opt(struct rd *d, yajl_val o, const char *key, bool *v_r)
{
    if (!xlmig__rpc_get(o, key)) {
        *v_r = false;
        return true;
    }
    return get_b(d, o, key, v_r);
}

static bool get_enum(struct rd *d, yajl_val o, const char *key,
                     const char *const *names, size_t n, unsigned int *v_r)
{
    char buf[32];
    size_t i;

    if (!get_s(d, o, key, buf, sizeof(buf)))
        return false;
    for (i = 0; i < n; i++) {
        if (names[i] && !strcmp(names[i], buf)) {
            *v_r = (unsigned int)i;
            return true;
        }
    }
    return member_bad(d, key, "has a value not known here");
}

static bool get_arrays(struct rd *d, yajl_val root,
                       struct xlmig__mig_record *r)
{
    yajl_val a = xlmig__rpc_get(root, "vdis");
    size_t i;

    if (!YAJL_IS_ARRAY(a) || a->u.array.len > XLMIG__MIG_VDIS_MAX)
        return member_bad(d, "vdis", "is not an array of at most 16");
    r->nr_vdis = a->u.array.len;
    for (i = 0; i < r->nr_vdis; i++) {
        yajl_val o = a->u.array.values[i];
        struct xlmig__mig_vdi *v = &r->vdis[i];

        if (!YAJL_IS_OBJECT(o))
            return member_bad(d, "vdis", "holds something not an object");
        if (!get_s(d, o, "vdev", v->vdev, sizeof(v->vdev)) ||
            !get_uuid(d, o, "vdi", v->vdi) || !get_uuid(d, o, "sr", v->sr) ||
            !get_s(d, o, "format", v->format, sizeof(v->format)) ||
            !get_uuid(d, o, "dst-task", v->dst_task) ||
            !get_uuid(d, o, "dst-vdi", v->dst_vdi) ||
            !get_b(d, o, "finalized", &v->finalized))
            return false;
        if (v->format[0] && strcmp(v->format, "qcow2") &&
            strcmp(v->format, "raw"))
            return member_bad(d, "format", "is not qcow2 or raw");
    }
    a = xlmig__rpc_get(root, "nics");
    if (!YAJL_IS_ARRAY(a) || a->u.array.len > XLMIG__MIG_NICS_MAX)
        return member_bad(d, "nics", "is not an array of at most 16");
    r->nr_nics = a->u.array.len;
    for (i = 0; i < r->nr_nics; i++) {
        yajl_val o = a->u.array.values[i];
        char mac[64];

        if (!YAJL_IS_OBJECT(o))
            return member_bad(d, "nics", "holds something not an object");
        if (!get_s(d, o, "mac", mac, sizeof(mac)) ||
            !get_s(d, o, "bridge", r->nics[i].bridge,
                   sizeof(r->nics[i].bridge)))
            return false;
        if (!xlmig__mac_parse(mac, r->nics[i].mac))
            return member_bad(d, "mac", "is not a MAC address");
    }
    return true;
}

int xlmig__mig_record_decode(libxlmig_ctx *ctx, const char *label,
                             const uint8_t *json, size_t len,
                             struct xlmig__mig_record *out)
{
    struct xlmig__mig_record *r = NULL;
    struct rd d = { ctx, label, 0 };
    yajl_val root = NULL;
    unsigned int role = 0, phase = 0, state = 0;
    uint64_t u, version = 0;
    const char *const roles[] = { "src", "dst" };
    int rc;

    rc = xlmig__json_load(ctx, &mig_kind, label, json, len, &root);
    if (rc)
        return rc;
    r = xlmig__zalloc(sizeof(*r));
    if (!r) {
        rc = LIBXLMIG_ERR_NO_MEMORY;
        goto out;
    }
    if (!get_u(&d, root, "version", 1000, &version))
        goto bad;
    if (version != 1) {
        member_bad(&d, "version", "is not 1");
        goto bad;
    }
    if (!get_uuid(&d, root, "task", r->task) ||
        !get_enum(&d, root, "role", roles, 2, &role) ||
        !get_enum(&d, root, "phase", phase_names, XLMIG__MIG_PHASES,
                  &phase) ||
        !get_enum(&d, root, "state", state_names, 3, &state) ||
        !get_s(&d, root, "error", r->error, sizeof(r->error)) ||
        !get_s(&d, root, "message", r->message, sizeof(r->message)) ||
        !get_s(&d, root, "vm", r->vm, sizeof(r->vm)) ||
        !get_uuid(&d, root, "vm-uuid", r->vm_uuid) ||
        !get_u(&d, root, "domid", UINT32_MAX, &u))
        goto bad;
    r->domid = (uint32_t)u;
    if (!get_b(&d, root, "live", &r->live) ||
        !get_b(&d, root, "copy", &r->copy) ||
        !get_b(&d, root, "force", &r->force) ||
        !get_b(&d, root, "compress", &r->compress) ||
        !get_b_opt(&d, root, "priority", &r->priority) ||
        !get_u(&d, root, "bwlimit", UINT64_MAX >> 1, &r->bwlimit) ||
        !get_s(&d, root, "source", r->source, sizeof(r->source)) ||
        !get_s(&d, root, "destination", r->destination,
               sizeof(r->destination)) ||
        !get_s(&d, root, "dest-address", r->dest_address,
               sizeof(r->dest_address)) ||
        !get_s(&d, root, "remote-config", r->remote_config,
               sizeof(r->remote_config)) ||
        !get_u(&d, root, "slot-task", UINT64_MAX >> 1, &r->slot_task) ||
        !get_u(&d, root, "progress", 100, &u))
        goto bad;
    r->progress = (unsigned int)u;
    if (!get_arrays(&d, root, r) ||
        !get_u(&d, root, "worker-pid", INT32_MAX, &u))
        goto bad;
    r->worker_pid = (int64_t)u;
    if (!get_u(&d, root, "worker-start", UINT64_MAX >> 1, &r->worker_start) ||
        !get_u(&d, root, "started", INT64_MAX, &u))
        goto bad;
    r->started = (int64_t)u;
    if (!get_u(&d, root, "ended", INT64_MAX, &u))
        goto bad;
    r->ended = (int64_t)u;
    if (!get_u(&d, root, "downtime-ms", UINT64_MAX >> 1, &r->downtime_ms) ||
        !get_u(&d, root, "total-ms", UINT64_MAX >> 1, &r->total_ms) ||
        !get_u(&d, root, "wire-bytes", UINT64_MAX >> 1, &r->wire_bytes) ||
        !get_u(&d, root, "stream-bytes", UINT64_MAX >> 1, &r->stream_bytes))
        goto bad;
    if (!r->task[0]) {
        member_bad(&d, "task", "is empty");
        goto bad;
    }
    r->role = (enum xlmig__mig_role)role;
    r->phase = (enum xlmig__mig_phase)phase;
    r->state = (enum xlmig__mig_state)state;
    *out = *r;
    rc = 0;
    goto out;
 bad:
    rc = d.rc ? d.rc : LIBXLMIG_ERR_MIGRATE_RECORD_INVALID;
 out:
    free(r);
    yajl_tree_free(root);
    return rc;
}

/* ------------------------------------------------------------ files */

static const char *role_dir(enum xlmig__mig_role role)
{
    return role == XLMIG__MIG_DST ? "migrate-in" : "migrate";
}

static int dir_of(libxlmig_ctx *ctx, const char *state_dir,
                  enum xlmig__mig_role role, char *dir, size_t cap,
                  bool make)
{
    return xlmig__state_subdir(ctx, &mig_kind, state_dir, role_dir(role),
                               make, dir, cap);
}

int xlmig__mig_record_save(libxlmig_ctx *ctx, const char *state_dir,
                           const struct xlmig__mig_record *r)
{
    char dir[PATH_MAX_], path[PATH_MAX_ + 64];
    char *text;
    size_t len = 0;
    int rc;

    rc = dir_of(ctx, state_dir, r->role, dir, sizeof(dir), true);
    if (rc)
        return rc;
    snprintf(path, sizeof(path), "%s/%s.json", dir, r->task);
    text = malloc(XLMIG__MIG_RECORD_MAX);
    if (!text)
        return LIBXLMIG_ERR_NO_MEMORY;
    rc = xlmig__mig_record_encode(r, text, XLMIG__MIG_RECORD_MAX, &len);
    if (rc)
        rc = xlmig__error(ctx, rc, -1, "cannot encode the journal of task "
                          "%s", r->task);
    else
        rc = xlmig__file_write(ctx, dir, path, text, len);
    free(text);
    return rc;
}

int xlmig__mig_record_load(libxlmig_ctx *ctx, const char *state_dir,
                           enum xlmig__mig_role role, const char *task,
                           struct xlmig__mig_record *r)
{
    char dir[PATH_MAX_], path[PATH_MAX_ + 64];
    char *text = NULL;
    size_t len = 0;
    int rc;

    if (!task || !xlmig__uuid_ok(task))
        return xlmig__error(ctx, LIBXLMIG_ERR_INVALID_ARGUMENT, -1,
                            "\"%.40s\" is not a task uuid", task ? task : "");
    rc = dir_of(ctx, state_dir, role, dir, sizeof(dir), false);
    if (rc)
        return rc;
    snprintf(path, sizeof(path), "%s/%s.json", dir, task);
    rc = xlmig__file_read(ctx, &mig_kind, path, &text, &len);
    if (rc == LIBXLMIG_ERR_NOT_FOUND)
        return xlmig__error(ctx, rc, -1, "no migration task %s on this "
                            "host", task);
    if (rc)
        return rc;
    rc = xlmig__mig_record_decode(ctx, path, (const uint8_t *)text, len, r);
    free(text);
    if (!rc && (strcmp(r->task, task) || r->role != role))
        rc = xlmig__error(ctx, LIBXLMIG_ERR_MIGRATE_RECORD_INVALID, -1,
                          "%s holds another task (%s)", path, r->task);
    return rc;
}

static int started_cmp(const void *a, const void *b)
{
    const struct xlmig__mig_record *x = a, *y = b;

    if (x->started != y->started)
        return x->started < y->started ? -1 : 1;
    return strcmp(x->task, y->task);
}

/* What list_one needs: the directory's state and role. */
struct list_ctx {
    const char *state_dir;
    enum xlmig__mig_role role;
};

static int list_one(libxlmig_ctx *ctx, void *opaque, const char *task,
                    void *rec)
{
    const struct list_ctx *l = opaque;

    return xlmig__mig_record_load(ctx, l->state_dir, l->role, task, rec);
}

int xlmig__mig_record_list(libxlmig_ctx *ctx, const char *state_dir,
                           enum xlmig__mig_role role,
                           struct xlmig__mig_record **recs_r, size_t *nr_r)
{
    struct list_ctx l = { .state_dir = state_dir, .role = role };
    char dir[PATH_MAX_];
    void *recs;
    int rc;

    *recs_r = NULL;
    *nr_r = 0;
    rc = dir_of(ctx, state_dir, role, dir, sizeof(dir), false);
    if (rc)
        return rc;
    rc = xlmig__uuid_records(ctx, dir, sizeof(**recs_r), RECORDS_MAX,
                             list_one, &l, started_cmp, &recs, nr_r);
    *recs_r = recs;
    return rc;
}

void xlmig__mig_record_prune(libxlmig_ctx *ctx, const char *state_dir,
                             enum xlmig__mig_role role)
{
    struct xlmig__mig_record *recs = NULL;
    size_t nr = 0, ended = 0, i;
    char dir[PATH_MAX_], path[PATH_MAX_ + 64];

    if (xlmig__mig_record_list(ctx, state_dir, role, &recs, &nr) || !nr ||
        dir_of(ctx, state_dir, role, dir, sizeof(dir), false)) {
        free(recs);
        return;
    }
    for (i = 0; i < nr; i++)
        ended += recs[i].state != XLMIG__MIG_RUNNING;
    for (i = 0; i < nr && ended > XLMIG__MIG_KEEP; i++) {
        if (recs[i].state == XLMIG__MIG_RUNNING)
            continue;
        snprintf(path, sizeof(path), "%s/%s.json", dir, recs[i].task);
        if (!unlink(path))
            ended--;
    }
    (void)xlmig__dir_sync(ctx, dir);
    free(recs);
}

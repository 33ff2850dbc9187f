/* SPDX-License-Identifier: LGPL-2.1-only */
/*
 * Storage motion task records, STATE/sxm/TASK.json: their phases,
 * encoding and decoding, and reading, writing, listing and removing them
 * (sxm.h, docs/specs/sxm.md).
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cpurecord.h"
#include "featureset.h"
#include "jsonfile.h"
#include "proc.h"
#include "sxm-internal.h"

#define SXM_DIR "sxm"

static const struct xlmig__json_kind sxm_kind = {
    .what = "storage motion record",
    .a_what = "a storage motion record",
    .invalid_rc = LIBXLMIG_ERR_SXM_RECORD_INVALID,
    .max_bytes = XLMIG__SXM_RECORD_MAX,
    .depth_max = 4,
    .read_to_cap = false,
    .dir_before = "directory ",
    .dir_after = " for storage motion records",
    .dir_role = "the storage motion records' directory",
};

static const char *const phase_names[XLMIG__SXM_PHASES] = {
    [XLMIG__SXM_CREATING] = "creating",
    [XLMIG__SXM_EXPORTED] = "exported",
    [XLMIG__SXM_COMPOSING] = "composing",
    [XLMIG__SXM_STARTING] = "starting",
    [XLMIG__SXM_SNAPSHOT] = "snapshot",
    [XLMIG__SXM_MIRRORING] = "mirroring",
    [XLMIG__SXM_COPYING] = "copying",
    [XLMIG__SXM_SYNCED] = "synced",
    [XLMIG__SXM_SWITCHING] = "switching",
    [XLMIG__SXM_ROLLBACK] = "rollback",
};

const char *xlmig__sxm_phase_name(enum xlmig__sxm_phase p)
{
    return (unsigned int)p < XLMIG__SXM_PHASES ? phase_names[p] : NULL;
}

/* ------------------------------------------------------------ records */

int xlmig__sxm_record_encode(const struct xlmig__sxm_record *r, char *buf,
                             size_t cap, size_t *len_r)
{
    yajl_gen g = xlmig__gen_new();
    bool ok, dst = r->role == XLMIG__SXM_DST;
    int rc;

    if (!g)
        return LIBXLMIG_ERR_NO_MEMORY;
    if (!xlmig__sxm_phase_name(r->phase)) {
        yajl_gen_free(g);
        return LIBXLMIG_ERR_INVALID_ARGUMENT;
    }
    ok = yajl_gen_map_open(g) == yajl_gen_status_ok &&
         xlmig__gen_key_integer(g, "version", 1) &&
         xlmig__gen_key_string(g, "task", r->task) &&
         xlmig__gen_key_string(g, "role", dst ? "dst" : "src") &&
         xlmig__gen_key_string(g, "phase", phase_names[r->phase]) &&
         xlmig__gen_key_string(g, "vdi-name", r->vdi_name) &&
         xlmig__gen_key_integer(g, "virtual-size",
                                (long long)r->virtual_size) &&
         xlmig__gen_key_integer(g, "owner-pid", (long long)r->owner_pid) &&
         xlmig__gen_key_integer(g, "owner-start",
                                (long long)r->owner_start);
    if (ok && dst)
        ok = xlmig__gen_key_string(g, "sr", r->sr) &&
             xlmig__gen_key_string(g, "parent", r->parent) &&
             xlmig__gen_key_string(g, "leaf", r->leaf) &&
             xlmig__gen_key_string(g, "format",
                                   xlmig__vdi_format_name(r->format)) &&
             xlmig__gen_key_string(g, "listen", r->listen) &&
             xlmig__gen_key_integer(g, "exporter-pid",
                                    (long long)r->exporter_pid) &&
             xlmig__gen_key_integer(g, "exporter-start",
                                    (long long)r->exporter_start);
    if (ok && !dst)
        ok = xlmig__gen_key_string(g, "vdi", r->vdi) &&
             xlmig__gen_key_string(g, "qmp", r->qmp) &&
             xlmig__gen_key_string(g, "node", r->node) &&
             xlmig__gen_key_string(g, "dest", r->dest) &&
             xlmig__gen_key_integer(g, "reader-pid",
                                    (long long)r->reader_pid) &&
             xlmig__gen_key_integer(g, "reader-start",
                                    (long long)r->reader_start) &&
             xlmig__gen_key_integer(g, "proxy-pid",
                                    (long long)r->proxy_pid) &&
             xlmig__gen_key_integer(g, "proxy-start",
                                    (long long)r->proxy_start) &&
             xlmig__gen_key_bool(g, "tls", r->tls) &&
             xlmig__gen_key_bool(g, "offline", r->offline);
    ok = ok && yajl_gen_map_close(g) == yajl_gen_status_ok;
    rc = ok ? xlmig__gen_finish(g, buf, cap, len_r) : LIBXLMIG_ERR_INTERNAL;
    yajl_gen_free(g);
    return rc;
}

/* Member errors: "storage motion record LABEL: member M ..." */
static int member_bad(libxlmig_ctx *ctx, const char *label, const char *key,
                      int rc)
{
    return xlmig__json_error(ctx, &sxm_kind, label, "member \"%s\" is %s",
                             key, rc == LIBXLMIG_ERR_NOT_FOUND ? "missing"
                             : "not what it must be");
}

static bool get_str(libxlmig_ctx *ctx, const char *label, yajl_val root,
                    const char *key, char *buf, size_t cap, int *rc_r)
{
    int rc = xlmig__json_get_string(root, key, buf, cap);

    if (rc)
        *rc_r = member_bad(ctx, label, key, rc);
    return !rc;
}

static bool get_int(libxlmig_ctx *ctx, const char *label, yajl_val root,
                    const char *key, long long min, long long max,
                    long long *v_r, int *rc_r)
{
    int rc = xlmig__json_get_integer(root, key, min, max, v_r);

    if (rc)
        *rc_r = member_bad(ctx, label, key, rc);
    return !rc;
}

static bool get_bool(libxlmig_ctx *ctx, const char *label, yajl_val root,
                     const char *key, bool *v_r, int *rc_r)
{
    const char *path[] = { key, NULL };
    yajl_val t = yajl_tree_get(root, path, yajl_t_any);

    if (!t || !(YAJL_IS_TRUE(t) || YAJL_IS_FALSE(t))) {
        *rc_r = member_bad(ctx, label, key, t ? 0 : LIBXLMIG_ERR_NOT_FOUND);
        return false;
    }
    *v_r = YAJL_IS_TRUE(t);
    return true;
}

static bool name_text_ok(const char *s)
{
    for (; *s; s++) {
        if ((unsigned char)*s < 0x20 || (unsigned char)*s == 0x7f)
            return false;
    }
    return true;
}

/*
 * The members of both roles, "version" to "owner-start", from @root into
 * @r: false, the error (logged) in *rc_r, when one is missing or wrong.
 */
static bool decode_common(libxlmig_ctx *ctx, const char *label,
                          yajl_val root, struct xlmig__sxm_record *r,
                          int *rc_r)
{
    char role[8], phase[16];
    unsigned int i;
    long long v;

    if (!get_int(ctx, label, root, "version", 1, 1, &v, rc_r) ||
        !get_str(ctx, label, root, "task", r->task, sizeof(r->task), rc_r) ||
        !get_str(ctx, label, root, "role", role, sizeof(role), rc_r) ||
        !get_str(ctx, label, root, "phase", phase, sizeof(phase), rc_r) ||
        !get_str(ctx, label, root, "vdi-name", r->vdi_name,
                 sizeof(r->vdi_name), rc_r) ||
        !get_int(ctx, label, root, "virtual-size", 1,
                 (long long)XLMIG__VDI_SIZE_MAX, &v, rc_r))
        return false;
    r->virtual_size = (uint64_t)v;
    if (!xlmig__uuid_ok(r->task)) {
        *rc_r = member_bad(ctx, label, "task", 0);
        return false;
    }
    if (!name_text_ok(r->vdi_name)) {
        *rc_r = member_bad(ctx, label, "vdi-name", 0);
        return false;
    }
    if (!strcmp(role, "dst")) {
        r->role = XLMIG__SXM_DST;
    } else if (!strcmp(role, "src")) {
        r->role = XLMIG__SXM_SRC;
    } else {
        *rc_r = member_bad(ctx, label, "role", 0);
        return false;
    }
    for (i = 0; i < XLMIG__SXM_PHASES; i++) {
        if (!strcmp(phase, phase_names[i]))
            break;
    }
    if (i == XLMIG__SXM_PHASES) {
        *rc_r = member_bad(ctx, label, "phase", 0);
        return false;
    }
    r->phase = (enum xlmig__sxm_phase)i;
    if (!get_int(ctx, label, root, "owner-pid", 0, 0x3fffffff, &v, rc_r))
        return false;
    r->owner_pid = v;
    if (!get_int(ctx, label, root, "owner-start", 0, INT64_MAX, &v, rc_r))
        return false;
    r->owner_start = (uint64_t)v;
    return true;
}

/* A destination's members, "sr" to "exporter-start": as decode_common(). */
static bool decode_dst(libxlmig_ctx *ctx, const char *label, yajl_val root,
                       struct xlmig__sxm_record *r, int *rc_r)
{
    char format[8];
    long long v;

    if (!get_str(ctx, label, root, "sr", r->sr, sizeof(r->sr), rc_r) ||
        !get_str(ctx, label, root, "parent", r->parent, sizeof(r->parent),
                 rc_r) ||
        !get_str(ctx, label, root, "leaf", r->leaf, sizeof(r->leaf), rc_r) ||
        !get_str(ctx, label, root, "format", format, sizeof(format),
                 rc_r) ||
        !get_str(ctx, label, root, "listen", r->listen, sizeof(r->listen),
                 rc_r))
        return false;
    if (!xlmig__uuid_ok(r->sr) || !xlmig__uuid_ok(r->parent) ||
        !xlmig__uuid_ok(r->leaf)) {
        *rc_r = member_bad(ctx, label, "sr, parent or leaf", 0);
        return false;
    }
    if (!strcmp(format, "qcow2")) {
        r->format = XLMIG__VDI_QCOW2;
    } else if (!strcmp(format, "raw")) {
        r->format = XLMIG__VDI_RAW;
    } else {
        *rc_r = member_bad(ctx, label, "format", 0);
        return false;
    }
    if (!xlmig__sxm_addr_ok(r->listen)) {
        *rc_r = member_bad(ctx, label, "listen", 0);
        return false;
    }
    if (!get_int(ctx, label, root, "exporter-pid", 0, 0x3fffffff, &v,
                 rc_r))
        return false;
    r->exporter_pid = v;
    if (!get_int(ctx, label, root, "exporter-start", 0, INT64_MAX, &v,
                 rc_r))
        return false;
    r->exporter_start = (uint64_t)v;
    return true;
}

/* A source's members, "vdi" to "offline": as decode_common(). */
static bool decode_src(libxlmig_ctx *ctx, const char *label, yajl_val root,
                       struct xlmig__sxm_record *r, int *rc_r)
{
    long long v;

    if (!get_str(ctx, label, root, "vdi", r->vdi, sizeof(r->vdi), rc_r) ||
        !get_str(ctx, label, root, "qmp", r->qmp, sizeof(r->qmp), rc_r) ||
        !get_str(ctx, label, root, "node", r->node, sizeof(r->node), rc_r) ||
        !get_str(ctx, label, root, "dest", r->dest, sizeof(r->dest), rc_r))
        return false;
    if (!xlmig__uuid_ok(r->vdi)) {
        *rc_r = member_bad(ctx, label, "vdi", 0);
        return false;
    }
    if (!name_text_ok(r->qmp) || !name_text_ok(r->node)) {
        *rc_r = member_bad(ctx, label, "qmp or node", 0);
        return false;
    }
    if (!xlmig__sxm_addr_ok(r->dest)) {
        *rc_r = member_bad(ctx, label, "dest", 0);
        return false;
    }
    if (!get_int(ctx, label, root, "reader-pid", 0, 0x3fffffff, &v, rc_r))
        return false;
    r->reader_pid = v;
    if (!get_int(ctx, label, root, "reader-start", 0, INT64_MAX, &v,
                 rc_r))
        return false;
    r->reader_start = (uint64_t)v;
    /* The leaf's proxy: absent in records older than it. */
    if (xlmig__json_get_integer(root, "proxy-pid", 0, 0, &v) !=
        LIBXLMIG_ERR_NOT_FOUND) {
        if (!get_int(ctx, label, root, "proxy-pid", 0, 0x3fffffff, &v,
                     rc_r))
            return false;
        r->proxy_pid = v;
        if (!get_int(ctx, label, root, "proxy-start", 0, INT64_MAX, &v,
                     rc_r))
            return false;
        r->proxy_start = (uint64_t)v;
    }
    if (!get_bool(ctx, label, root, "tls", &r->tls, rc_r) ||
        !get_bool(ctx, label, root, "offline", &r->offline, rc_r))
        return false;
    if (r->offline ? strcmp(r->qmp, "-") || strcmp(r->node, "-")
                   : r->qmp[0] != '/') {
        *rc_r = member_bad(ctx, label, "qmp or node", 0);
        return false;
    }
    return true;
}

int xlmig__sxm_record_decode(libxlmig_ctx *ctx, const char *label,
                             const uint8_t *json, size_t len,
                             struct xlmig__sxm_record *out)
{
    struct xlmig__sxm_record r;
    yajl_val root = NULL;
    bool ok;
    int rc;

    memset(&r, 0, sizeof(r));
    rc = xlmig__json_load(ctx, &sxm_kind, label, json, len, &root);
    if (rc)
        return rc;
    rc = sxm_kind.invalid_rc;
    ok = decode_common(ctx, label, root, &r, &rc);
    if (ok && r.role == XLMIG__SXM_DST)
        ok = decode_dst(ctx, label, root, &r, &rc);
    else if (ok)
        ok = decode_src(ctx, label, root, &r, &rc);
    if (ok) {
        *out = r;
        rc = 0;
    }
    yajl_tree_free(root);
    return rc;
}

/* STATE/sxm, made when missing. */
static int sxm_dir(libxlmig_ctx *ctx, const char *state_dir, char *dir,
                   size_t cap, bool make)
{
    int n = snprintf(dir, cap, "%s/" SXM_DIR, xlmig__state_dir(state_dir));

    if (n < 0 || (size_t)n >= cap)
        return xlmig__error(ctx, LIBXLMIG_ERR_INVALID_ARGUMENT, -1,
                            "state directory %s: path too long",
                            xlmig__state_dir(state_dir));
    if (!make)
        return 0;
    n = xlmig__dir_make(ctx, &sxm_kind, xlmig__state_dir(state_dir));
    return n ? n : xlmig__dir_make(ctx, &sxm_kind, dir);
}

/* STATE/sxm/TASK.EXT */
int xlmig__sxm_task_path(libxlmig_ctx *ctx, const char *state_dir,
                         const char *task, const char *ext, char *out,
                         size_t cap)
{
    char dir[PATH_MAX_];
    int rc = sxm_dir(ctx, state_dir, dir, sizeof(dir), false), n;

    if (rc)
        return rc;
    n = snprintf(out, cap, "%s/%s.%s", dir, task, ext);
    if (n < 0 || (size_t)n >= cap)
        return xlmig__error(ctx, LIBXLMIG_ERR_INVALID_ARGUMENT, -1,
                            "state directory %s: path too long", dir);
    return 0;
}

int xlmig__sxm_record_save(libxlmig_ctx *ctx, const char *state_dir,
                           const struct xlmig__sxm_record *r)
{
    char dir[PATH_MAX_], path[PATH_MAX_], text[XLMIG__SXM_RECORD_MAX];
    size_t len;
    int rc;

    rc = sxm_dir(ctx, state_dir, dir, sizeof(dir), true);
    if (rc)
        return rc;
    rc = xlmig__sxm_task_path(ctx, state_dir, r->task, "json", path,
                              sizeof(path));
    if (rc)
        return rc;
    rc = xlmig__sxm_record_encode(r, text, sizeof(text), &len);
    if (rc)
        return xlmig__error(ctx, rc, -1, "cannot encode the record of "
                            "task %s", r->task);
    return xlmig__file_write(ctx, dir, path, text, len);
}

/*
 * Fault injection for the tests: with XLMIG_SXM_TEST_STALL=PHASE in the
 * environment, a task stops for a minute right after recording PHASE
 * (saying so on stderr), so that a test can kill it there.
 */
void xlmig__sxm_test_stall(enum xlmig__sxm_phase phase)
{
    const char *env = getenv("XLMIG_SXM_TEST_STALL");

    if (!env || strcmp(env, phase_names[phase]))
        return;
    fprintf(stderr, "xlmig: test stall at %s\n", phase_names[phase]);
    fflush(stderr);
    xlmig__sleep_ms(60000);
}

int xlmig__sxm_record_phase(libxlmig_ctx *ctx, const char *state_dir,
                            struct xlmig__sxm_record *r,
                            enum xlmig__sxm_phase phase)
{
    int rc;

    r->phase = phase;
    rc = xlmig__sxm_record_save(ctx, state_dir, r);
    if (!rc)
        xlmig__sxm_test_stall(phase);
    return rc;
}

void xlmig__sxm_record_remove(libxlmig_ctx *ctx, const char *state_dir,
                              const char *task)
{
    char dir[PATH_MAX_], path[PATH_MAX_];

    if (sxm_dir(ctx, state_dir, dir, sizeof(dir), false) ||
        xlmig__sxm_task_path(ctx, state_dir, task, "json", path, sizeof(path)))
        return;
    if (unlink(path) && errno != ENOENT)
        xlmig__log(ctx, XTL_WARN, errno, "cannot remove %s", path);
    (void)xlmig__dir_sync(ctx, dir);
}

int xlmig__sxm_record_load(libxlmig_ctx *ctx, const char *state_dir,
                           const char *task, struct xlmig__sxm_record *r)
{
    char path[PATH_MAX_], quoted[XLMIG__QUOTE_MAX + 8];
    char *text = NULL;
    size_t len = 0;
    struct stat st;
    int rc;

    if (!task || !xlmig__uuid_ok(task)) {
        xlmig__quote(task ? task : "", 0, quoted, sizeof(quoted));
        return xlmig__error(ctx, LIBXLMIG_ERR_INVALID_ARGUMENT, -1,
                            "task \"%s\" is not a task uuid", quoted);
    }
    rc = xlmig__sxm_task_path(ctx, state_dir, task, "json", path, sizeof(path));
    if (rc)
        return rc;
    if (lstat(path, &st) && errno == ENOENT)
        return xlmig__error(ctx, LIBXLMIG_ERR_NOT_FOUND, -1,
                            "no storage motion task %s here (%s); "
                            "`xlmig sxm-list` shows them", task, path);
    rc = xlmig__file_read(ctx, &sxm_kind, path, &text, &len);
    if (rc)
        return rc;
    rc = xlmig__sxm_record_decode(ctx, path, (const uint8_t *)text, len, r);
    free(text);
    if (!rc && strcmp(r->task, task))
        rc = xlmig__error(ctx, LIBXLMIG_ERR_SXM_RECORD_INVALID, -1,
                          "%s holds task %s", path, r->task);
    return rc;
}

static int record_cmp(const void *a, const void *b)
{
    return strcmp(((const struct xlmig__sxm_record *)a)->task,
                  ((const struct xlmig__sxm_record *)b)->task);
}

int xlmig__sxm_list(libxlmig_ctx *ctx, const char *state_dir,
                    struct xlmig__sxm_record **recs_r, size_t *nr_r)
{
    struct xlmig__sxm_record *recs = NULL;
    char dir[PATH_MAX_], task[XLMIG__UUID_LEN + 1];
    struct dirent *de;
    size_t nr = 0;
    DIR *d = NULL;
    int rc;

    *recs_r = NULL;
    *nr_r = 0;
    rc = sxm_dir(ctx, state_dir, dir, sizeof(dir), false);
    if (rc)
        return rc;
    d = opendir(dir);
    if (!d)
        return errno == ENOENT ? 0 : xlmig__error(ctx, LIBXLMIG_ERR_IO, errno,
                                                  "cannot read %s", dir);
    while ((de = readdir(d))) {
        size_t len = strlen(de->d_name);

        if (len != XLMIG__UUID_LEN + 5 ||
            strcmp(de->d_name + XLMIG__UUID_LEN, ".json"))
            continue;
        memcpy(task, de->d_name, XLMIG__UUID_LEN);
        task[XLMIG__UUID_LEN] = '\0';
        if (!xlmig__uuid_ok(task))
            continue;
        if (nr == XLMIG__SXM_TASKS_MAX) {
            rc = xlmig__error(ctx, LIBXLMIG_ERR_INVALID_ARGUMENT, -1,
                              "%s holds more than %u tasks", dir,
                              XLMIG__SXM_TASKS_MAX);
            goto out;
        }
        if (!recs) {
            recs = calloc(XLMIG__SXM_TASKS_MAX, sizeof(*recs));
            if (!recs) {
                rc = xlmig__error(ctx, LIBXLMIG_ERR_NO_MEMORY, errno,
                                  "no memory for the tasks");
                goto out;
            }
        }
        rc = xlmig__sxm_record_load(ctx, state_dir, task, &recs[nr]);
        if (rc)
            goto out;
        nr++;
    }
    if (nr)
        qsort(recs, nr, sizeof(*recs), record_cmp);
    *recs_r = recs;
    *nr_r = nr;
    recs = NULL;                /* the caller's now */
 out:
    free(recs);
    closedir(d);
    return rc;
}

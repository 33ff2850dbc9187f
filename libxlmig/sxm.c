/* SPDX-License-Identifier: LGPL-2.1-only */
/*
 * Storage motion: records, the destination's parent and leaf served over
 * NBD, the source's snapshot, mirror and copy over QMP, and recovery
 * (sxm.h, docs/specs/sxm.md).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <yajl/yajl_gen.h>
#include <yajl/yajl_tree.h>

#include "blkcopy.h"
#include "cpurecord.h"
#include "diskstream.h"
#include "featureset.h"
#include "internal.h"
#include "jsonfile.h"
#include "poolconf.h"
#include "proc.h"
#include "qmp.h"
#include "sr.h"
#include "sxm-preflight.h"
#include "sxm.h"

#define PATH_MAX_ XLMIG__JSONFILE_PATH_MAX
#define SXM_DIR "sxm"
#define EXPORT_LEAF "leaf"
#define EXPORT_PARENT "parent"
#define LEAF_OPTS "extended_l2=on,cluster_size=16k"
#define MIRROR_GRANULARITY 65536
#define POLL_MS 200
#define QMP_HOLD_MS 5000            /* the switch's connection, to have */
#define STOP_POLL_MS 50             /* cancel and peer looked at */
#define MIRROR_END_MS 5000          /* a broken mirror concludes */
#define JOB_END_MS 60000            /* a cancelled or completed job ends */
#define STOP_GRACE_MS 3000          /* SIGTERM, then SIGKILL */

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

/* ------------------------------------------------------------ addresses */

static bool host_ok(const char *h, size_t len)
{
    size_t i;

    if (!len || len > 253)
        return false;
    for (i = 0; i < len; i++) {
        char c = h[i];

        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c >= '0' && c <= '9') || c == '.' || c == '-'))
            return false;
    }
    return h[0] != '-' && h[0] != '.';
}

/* Split a checked address; *host_r/@port_r for tcp, @path for unix. */
static bool addr_split(const char *addr, char *host, size_t host_cap,
                       char *port, size_t port_cap, const char **path_r)
{
    const char *colon;
    size_t hlen, plen, i;

    *path_r = NULL;
    if (!addr)
        return false;
    if (!strncmp(addr, "unix:", 5)) {
        const char *p = addr + 5;
        struct sockaddr_un sun;

        if (p[0] != '/' || strlen(p) >= sizeof(sun.sun_path))
            return false;
        for (i = 0; p[i]; i++) {
            if ((unsigned char)p[i] < 0x21 || (unsigned char)p[i] > 0x7e)
                return false;
        }
        *path_r = p;
        return true;
    }
    if (strncmp(addr, "tcp:", 4))
        return false;
    addr += 4;
    colon = strrchr(addr, ':');
    if (!colon)
        return false;
    hlen = (size_t)(colon - addr);
    plen = strlen(colon + 1);
    if (!host_ok(addr, hlen) || hlen >= host_cap || !plen || plen > 5 ||
        plen >= port_cap)
        return false;
    for (i = 0; i < plen; i++) {
        if (colon[1 + i] < '0' || colon[1 + i] > '9')
            return false;
    }
    if (atoi(colon + 1) < 1 || atoi(colon + 1) > 65535 || colon[1] == '0')
        return false;
    memcpy(host, addr, hlen);
    host[hlen] = '\0';
    memcpy(port, colon + 1, plen + 1);
    return true;
}

static bool addr_ok(const char *addr)
{
    char host[256], port[8];
    const char *path;

    return addr && strlen(addr) <= XLMIG__SXM_ADDR_MAX &&
           addr_split(addr, host, sizeof(host), port, sizeof(port), &path);
}

int xlmig__sxm_addr_check(libxlmig_ctx *ctx, const char *addr)
{
    char quoted[XLMIG__QUOTE_MAX + 8];

    if (addr_ok(addr))
        return 0;
    if (!ctx)
        return LIBXLMIG_ERR_INVALID_ARGUMENT;
    xlmig__quote(addr ? addr : "", 0, quoted, sizeof(quoted));
    return xlmig__error(ctx, LIBXLMIG_ERR_INVALID_ARGUMENT, -1,
                        "address \"%s\" is not tcp:HOST:PORT (an IPv4 "
                        "address or a host name, port 1-65535) or "
                        "unix:/ABSOLUTE/PATH", quoted);
}

/* The NBD URI of export @export at @addr (libnbd's syntax). */
static int addr_uri(const char *addr, const char *export, bool tls,
                    char *uri, size_t cap)
{
    char host[256], port[8];
    const char *path;
    int n;

    if (!addr_split(addr, host, sizeof(host), port, sizeof(port), &path))
        return LIBXLMIG_ERR_INVALID_ARGUMENT;
    if (path)
        n = snprintf(uri, cap, "nbd%s+unix:///%s?socket=%s", tls ? "s" : "",
                     export, path);
    else
        n = snprintf(uri, cap, "nbd%s://%s:%s/%s", tls ? "s" : "", host, port,
                     export);
    return n < 0 || (size_t)n >= cap ? LIBXLMIG_ERR_INVALID_ARGUMENT : 0;
}

int xlmig__sxm_export_uri(const char *addr, const char *export, bool tls,
                          char *uri, size_t cap)
{
    if (!addr_ok(addr) || !export)
        return LIBXLMIG_ERR_INVALID_ARGUMENT;
    return addr_uri(addr, export, tls, uri, cap);
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

int xlmig__sxm_record_decode(libxlmig_ctx *ctx, const char *label,
                             const uint8_t *json, size_t len,
                             struct xlmig__sxm_record *out)
{
    struct xlmig__sxm_record r;
    char role[8], phase[16], format[8];
    yajl_val root = NULL;
    long long v;
    unsigned int i;
    int rc;

    memset(&r, 0, sizeof(r));
    rc = xlmig__json_load(ctx, &sxm_kind, label, json, len, &root);
    if (rc)
        return rc;
    rc = sxm_kind.invalid_rc;
    if (!get_int(ctx, label, root, "version", 1, 1, &v, &rc) ||
        !get_str(ctx, label, root, "task", r.task, sizeof(r.task), &rc) ||
        !get_str(ctx, label, root, "role", role, sizeof(role), &rc) ||
        !get_str(ctx, label, root, "phase", phase, sizeof(phase), &rc) ||
        !get_str(ctx, label, root, "vdi-name", r.vdi_name,
                 sizeof(r.vdi_name), &rc) ||
        !get_int(ctx, label, root, "virtual-size", 1,
                 (long long)XLMIG__VDI_SIZE_MAX, &v, &rc))
        goto out;
    r.virtual_size = (uint64_t)v;
    if (!xlmig__uuid_ok(r.task)) {
        rc = member_bad(ctx, label, "task", 0);
        goto out;
    }
    if (!name_text_ok(r.vdi_name)) {
        rc = member_bad(ctx, label, "vdi-name", 0);
        goto out;
    }
    if (!strcmp(role, "dst")) {
        r.role = XLMIG__SXM_DST;
    } else if (!strcmp(role, "src")) {
        r.role = XLMIG__SXM_SRC;
    } else {
        rc = member_bad(ctx, label, "role", 0);
        goto out;
    }
    for (i = 0; i < XLMIG__SXM_PHASES; i++) {
        if (!strcmp(phase, phase_names[i]))
            break;
    }
    if (i == XLMIG__SXM_PHASES) {
        rc = member_bad(ctx, label, "phase", 0);
        goto out;
    }
    r.phase = (enum xlmig__sxm_phase)i;
    if (!get_int(ctx, label, root, "owner-pid", 0, 0x3fffffff, &v, &rc))
        goto out;
    r.owner_pid = v;
    if (!get_int(ctx, label, root, "owner-start", 0, INT64_MAX, &v, &rc))
        goto out;
    r.owner_start = (uint64_t)v;
    if (r.role == XLMIG__SXM_DST) {
        if (!get_str(ctx, label, root, "sr", r.sr, sizeof(r.sr), &rc) ||
            !get_str(ctx, label, root, "parent", r.parent, sizeof(r.parent),
                     &rc) ||
            !get_str(ctx, label, root, "leaf", r.leaf, sizeof(r.leaf), &rc) ||
            !get_str(ctx, label, root, "format", format, sizeof(format),
                     &rc) ||
            !get_str(ctx, label, root, "listen", r.listen, sizeof(r.listen),
                     &rc))
            goto out;
        if (!xlmig__uuid_ok(r.sr) || !xlmig__uuid_ok(r.parent) ||
            !xlmig__uuid_ok(r.leaf)) {
            rc = member_bad(ctx, label, "sr, parent or leaf", 0);
            goto out;
        }
        if (!strcmp(format, "qcow2")) {
            r.format = XLMIG__VDI_QCOW2;
        } else if (!strcmp(format, "raw")) {
            r.format = XLMIG__VDI_RAW;
        } else {
            rc = member_bad(ctx, label, "format", 0);
            goto out;
        }
        if (!addr_ok(r.listen)) {
            rc = member_bad(ctx, label, "listen", 0);
            goto out;
        }
        if (!get_int(ctx, label, root, "exporter-pid", 0, 0x3fffffff, &v,
                     &rc))
            goto out;
        r.exporter_pid = v;
        if (!get_int(ctx, label, root, "exporter-start", 0, INT64_MAX, &v,
                     &rc))
            goto out;
        r.exporter_start = (uint64_t)v;
    } else {
        if (!get_str(ctx, label, root, "vdi", r.vdi, sizeof(r.vdi), &rc) ||
            !get_str(ctx, label, root, "qmp", r.qmp, sizeof(r.qmp), &rc) ||
            !get_str(ctx, label, root, "node", r.node, sizeof(r.node), &rc) ||
            !get_str(ctx, label, root, "dest", r.dest, sizeof(r.dest), &rc))
            goto out;
        if (!xlmig__uuid_ok(r.vdi)) {
            rc = member_bad(ctx, label, "vdi", 0);
            goto out;
        }
        if (!name_text_ok(r.qmp) || !name_text_ok(r.node)) {
            rc = member_bad(ctx, label, "qmp or node", 0);
            goto out;
        }
        if (!addr_ok(r.dest)) {
            rc = member_bad(ctx, label, "dest", 0);
            goto out;
        }
        if (!get_int(ctx, label, root, "reader-pid", 0, 0x3fffffff, &v, &rc))
            goto out;
        r.reader_pid = v;
        if (!get_int(ctx, label, root, "reader-start", 0, INT64_MAX, &v,
                     &rc))
            goto out;
        r.reader_start = (uint64_t)v;
        /* The leaf's proxy: absent in records older than it. */
        if (xlmig__json_get_integer(root, "proxy-pid", 0, 0, &v) !=
            LIBXLMIG_ERR_NOT_FOUND) {
            if (!get_int(ctx, label, root, "proxy-pid", 0, 0x3fffffff, &v,
                         &rc))
                goto out;
            r.proxy_pid = v;
            if (!get_int(ctx, label, root, "proxy-start", 0, INT64_MAX, &v,
                         &rc))
                goto out;
            r.proxy_start = (uint64_t)v;
        }
        if (!get_bool(ctx, label, root, "tls", &r.tls, &rc) ||
            !get_bool(ctx, label, root, "offline", &r.offline, &rc))
            goto out;
        if (r.offline ? strcmp(r.qmp, "-") || strcmp(r.node, "-")
                      : r.qmp[0] != '/') {
            rc = member_bad(ctx, label, "qmp or node", 0);
            goto out;
        }
    }
    *out = r;
    rc = 0;
 out:
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
static int task_path(libxlmig_ctx *ctx, const char *state_dir,
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

static int record_save(libxlmig_ctx *ctx, const char *state_dir,
                       const struct xlmig__sxm_record *r)
{
    char dir[PATH_MAX_], path[PATH_MAX_], text[XLMIG__SXM_RECORD_MAX];
    size_t len;
    int rc;

    rc = sxm_dir(ctx, state_dir, dir, sizeof(dir), true);
    if (rc)
        return rc;
    rc = task_path(ctx, state_dir, r->task, "json", path, sizeof(path));
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
static void test_stall(enum xlmig__sxm_phase phase)
{
    const char *env = getenv("XLMIG_SXM_TEST_STALL");

    if (!env || strcmp(env, phase_names[phase]))
        return;
    fprintf(stderr, "xlmig: test stall at %s\n", phase_names[phase]);
    fflush(stderr);
    xlmig__sleep_ms(60000);
}

static int record_phase(libxlmig_ctx *ctx, const char *state_dir,
                        struct xlmig__sxm_record *r,
                        enum xlmig__sxm_phase phase)
{
    int rc;

    r->phase = phase;
    rc = record_save(ctx, state_dir, r);
    if (!rc)
        test_stall(phase);
    return rc;
}

static void record_remove(libxlmig_ctx *ctx, const char *state_dir,
                          const char *task)
{
    char dir[PATH_MAX_], path[PATH_MAX_];

    if (sxm_dir(ctx, state_dir, dir, sizeof(dir), false) ||
        task_path(ctx, state_dir, task, "json", path, sizeof(path)))
        return;
    if (unlink(path) && errno != ENOENT)
        xlmig__log(ctx, XTL_WARN, errno, "cannot remove %s", path);
    (void)xlmig__dir_sync(ctx, dir);
}

static int record_load(libxlmig_ctx *ctx, const char *state_dir,
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
    rc = task_path(ctx, state_dir, task, "json", path, sizeof(path));
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
        rc = record_load(ctx, state_dir, task, &recs[nr]);
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

/* ------------------------------------------------------------ files */

static void unlink_quiet(libxlmig_ctx *ctx, const char *path)
{
    if (unlink(path) && errno != ENOENT)
        xlmig__log(ctx, XTL_WARN, errno, "cannot remove %s", path);
}

/* Remove VDI @uuid's image (@fmt), metadata and lock from @sr. */
static void vdi_files_remove(libxlmig_ctx *ctx, const struct xlmig__sr *sr,
                             const char *uuid, enum xlmig__vdi_format fmt)
{
    char path[PATH_MAX_];

    if (!xlmig__vdi_path(sr, uuid, xlmig__vdi_format_name(fmt), path,
                         sizeof(path)))
        unlink_quiet(ctx, path);
    if (!xlmig__vdi_path(sr, uuid, "json", path, sizeof(path)))
        unlink_quiet(ctx, path);
    if (!xlmig__vdi_path(sr, uuid, "lock", path, sizeof(path)))
        unlink_quiet(ctx, path);
    (void)xlmig__dir_sync(ctx, sr->path);
}

/* Write VDI @v's metadata, and a lock naming @task when @task. */
static int vdi_meta_write(libxlmig_ctx *ctx, const struct xlmig__sr *sr,
                          const struct xlmig__vdi *v, const char *task)
{
    char path[PATH_MAX_], text[XLMIG__SR_FILE_MAX + 1], lock[128];
    size_t len;
    int rc;

    if (task) {
        if (xlmig__vdi_path(sr, v->uuid, "lock", path, sizeof(path)))
            return xlmig__error(ctx, LIBXLMIG_ERR_INVALID_ARGUMENT, -1,
                                "SR %s: path too long", sr->name);
        len = (size_t)snprintf(lock, sizeof(lock),
                               "storage motion task %s\n", task);
        rc = xlmig__file_write(ctx, sr->path, path, lock, len);
        if (rc)
            return rc;
    }
    rc = xlmig__vdi_encode(v, text, sizeof(text), &len);
    if (rc)
        return xlmig__error(ctx, rc, -1, "cannot encode VDI %s", v->uuid);
    if (xlmig__vdi_path(sr, v->uuid, "json", path, sizeof(path)))
        return xlmig__error(ctx, LIBXLMIG_ERR_INVALID_ARGUMENT, -1,
                            "SR %s: path too long", sr->name);
    return xlmig__file_write(ctx, sr->path, path, text, len);
}

static int run_tool(libxlmig_ctx *ctx, const char *bin, char *const argv[],
                    const char *what)
{
    char err[XLMIG__PROC_ERR_MAX + 64];
    int rc = xlmig__proc_run(bin, argv, NULL, 0, NULL, err, sizeof(err));

    if (rc)
        return xlmig__error(ctx, rc, -1, "%s: %s", what, err);
    return 0;
}

/*
 * A TLS directory is x509 (ca-cert.pem and the endpoint's
 * server-/client-cert.pem and -key.pem) or PSK (keys.psk: lines
 * "USER:HEXKEY"; the client speaks as XLMIG__SXM_PSK_USER).  Which one
 * is told by keys.psk being there.
 */
static bool tls_dir_is_psk(const char *dir)
{
    char f[PATH_MAX_];

    return dir && (size_t)snprintf(f, sizeof(f), "%s/keys.psk", dir) <
           sizeof(f) && !access(f, F_OK);
}

/*
 * QEMU's --object for the TLS directory @dir as @server or client (id
 * xlmig-tls) into @buf: x509 (a server verifies its peer) or PSK (a
 * client speaks as XLMIG__SXM_PSK_USER).  False when it does not fit.
 */
static bool tls_object(const char *dir, bool server, char *buf, size_t cap)
{
    bool psk = tls_dir_is_psk(dir);
    size_t len = (size_t)snprintf(buf, cap, "tls-creds-%s,id=xlmig-tls,"
                                  "endpoint=%s,%sdir=", psk ? "psk" : "x509",
                                  server ? "server" : "client",
                                  psk ? (server ? "" : "username="
                                         XLMIG__SXM_PSK_USER ",")
                                      : (server ? "verify-peer=on," : ""));

    return len < cap && xlmig__qemu_opt_append(buf, cap, &len, dir);
}

/*
 * Run a qemu-storage-daemon of @argv (with --daemonize and --pidfile
 * @pidfile) and read its pid and start time: the daemon serves on once
 * this returns 0.  @what begins the messages.
 */
static int qsd_daemon(libxlmig_ctx *ctx, char *const argv[],
                      const char *what, const char *pidfile,
                      int64_t *pid_r, uint64_t *start_r)
{
    pid_t pid;
    int rc = run_tool(ctx, xlmig__qsd_bin(), argv, what);

    if (rc)
        return rc;
    if (xlmig__pidfile_read(pidfile, &pid))
        return xlmig__error(ctx, LIBXLMIG_ERR_IO, errno, "%s: no pid in %s",
                            what, pidfile);
    *pid_r = pid;
    *start_r = xlmig__proc_start_time(pid);
    if (!*start_r)
        return xlmig__error(ctx, LIBXLMIG_ERR_IO, -1, "%s: it exited", what);
    return 0;
}

/*
 * Stop a task's daemon, *pid_r and *start_r (pid 0: not recorded), named
 * @what in the warning.  A daemon not in its record, whose starter was
 * killed after it began to serve and before the pid was recorded, is
 * found by its pid file @pidfile (NULL: none): *pid_r and *start_r are
 * then set from it, and it is stopped like a recorded one.
 */
static void daemon_stop(libxlmig_ctx *ctx, const char *task,
                        const char *what, const char *pidfile,
                        int64_t *pid_r, uint64_t *start_r)
{
    pid_t pid;
    uint64_t start;

    if (!*pid_r && pidfile && xlmig__pidfile_daemon(pidfile, &pid, &start)) {
        xlmig__log(ctx, XTL_INFO, -1, "task %s: %s (pid %d) was started "
                   "but not recorded; found by its pid file %s", task, what,
                   (int)pid, pidfile);
        *pid_r = pid;
        *start_r = start;
    }
    if (*pid_r && xlmig__proc_stop((pid_t)*pid_r, *start_r, STOP_GRACE_MS))
        xlmig__log(ctx, XTL_WARN, -1, "task %s: %s (pid %lld) would not "
                   "stop", task, what, (long long)*pid_r);
}

void xlmig__sxm_nbd_tls(const char *tls_dir, struct xlmig__sxm_nbd_tls *t)
{
    memset(t, 0, sizeof(*t));
    if (tls_dir_is_psk(tls_dir)) {
        snprintf(t->psk_path, sizeof(t->psk_path), "%s/keys.psk", tls_dir);
        t->psk_file = t->psk_path;
        t->username = XLMIG__SXM_PSK_USER;
    } else {
        t->certs_dir = tls_dir;
    }
}

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

    rc = task_path(ctx, state_dir, r->task, "pid", pidfile, sizeof(pidfile));
    if (rc)
        return rc;
    if (xlmig__vdi_path(sr, r->parent, xlmig__vdi_format_name(r->format),
                        ppath, sizeof(ppath)) ||
        xlmig__vdi_path(sr, r->leaf, "qcow2", lpath, sizeof(lpath)) ||
        !addr_split(r->listen, host, sizeof(host), port, sizeof(port),
                    &upath))
        return xlmig__error(ctx, LIBXLMIG_ERR_INVALID_ARGUMENT, -1,
                            "task %s: path or address too long", r->task);
    unlink_quiet(ctx, pidfile);
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
        if (!tls_object(tls_dir, true, tls, sizeof(tls)) ||
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
    return qsd_daemon(ctx, argv, what, pidfile, &r->exporter_pid,
                      &r->exporter_start);
}

static void exporter_stop(libxlmig_ctx *ctx, const char *state_dir,
                          const struct xlmig__sxm_record *r)
{
    char pidfile[PATH_MAX_];
    bool have_path = !task_path(ctx, state_dir, r->task, "pid", pidfile,
                                sizeof(pidfile));
    int64_t pid = r->exporter_pid;
    uint64_t start = r->exporter_start;

    daemon_stop(ctx, r->task, "the exporter", have_path ? pidfile : NULL,
                &pid, &start);
    if (have_path)
        unlink_quiet(ctx, pidfile);
    /* Its unix socket, which QEMU leaves behind. */
    if (pid && !strncmp(r->listen, "unix:", 5) &&
        !xlmig__proc_alive((pid_t)pid, start))
        unlink_quiet(ctx, r->listen + 5);
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

    if (!task_path(ctx, state_dir, task, "lease", path, sizeof(path)))
        unlink_quiet(ctx, path);
}

/* Undo a destination: exporter, leaf, parent, record, lease. */
static int dst_rollback(libxlmig_ctx *ctx, const char *state_dir,
                        struct xlmig__sxm_record *r)
{
    struct xlmig__sr sr;
    int rc;

    if (r->phase != XLMIG__SXM_ROLLBACK) {
        rc = record_phase(ctx, state_dir, r, XLMIG__SXM_ROLLBACK);
        if (rc)
            return rc;
    }
    exporter_stop(ctx, state_dir, r);
    rc = xlmig__sr_find(ctx, state_dir, r->sr, &sr);
    if (rc)
        return rc;
    vdi_files_remove(ctx, &sr, r->leaf, XLMIG__VDI_QCOW2);
    vdi_files_remove(ctx, &sr, r->parent, r->format);
    record_remove(ctx, state_dir, r->task);
    lease_remove(ctx, state_dir, r->task);
    xlmig__log(ctx, XTL_INFO, -1, "task %s: parent %s and leaf %s of VDI "
               "%s removed from SR %s", r->task, r->parent, r->leaf,
               r->vdi_name, sr.name);
    return 0;
}

int xlmig__sxm_recv_start(libxlmig_ctx *ctx,
                          const struct xlmig__sxm_recv_req *req,
                          struct xlmig__sxm_record *rec_r)
{
    struct xlmig__sxm_record r;
    struct xlmig__sr sr;
    struct xlmig__vdi parent, leaf;
    char ppath[PATH_MAX_], lpath[PATH_MAX_], size_arg[32], what[PATH_MAX_ + 600];
    char backing[PATH_MAX_ + 16];
    bool saved = false;
    int rc;

    memset(&r, 0, sizeof(r));
    rc = xlmig__sxm_addr_check(ctx, req->listen);
    if (rc)
        return rc;
    rc = xlmig__record_name_check(ctx, "VDI name", req->name);
    if (rc)
        return rc;
    if (!req->virtual_size || req->virtual_size > XLMIG__VDI_SIZE_MAX ||
        req->virtual_size % 512)
        return xlmig__error(ctx, LIBXLMIG_ERR_INVALID_ARGUMENT, -1,
                            "VDI %s: size %llu is not a multiple of 512 "
                            "from 512 to 64 TiB", req->name,
                            (unsigned long long)req->virtual_size);
    if (!req->format || !strcmp(req->format, "qcow2")) {
        r.format = XLMIG__VDI_QCOW2;
    } else if (!strcmp(req->format, "raw")) {
        r.format = XLMIG__VDI_RAW;
    } else {
        return xlmig__error(ctx, LIBXLMIG_ERR_INVALID_ARGUMENT, -1,
                            "VDI %s: format must be qcow2 or raw",
                            req->name);
    }
    rc = xlmig__sr_find(ctx, req->state_dir, req->sr, &sr);
    if (rc)
        return rc;
    if (!(sr.caps & XLMIG__SR_CAP_VDI_MIRROR_IN))
        return xlmig__error(ctx, LIBXLMIG_ERR_SR_DOES_NOT_SUPPORT_MIGRATION,
                            -1, "SR %s (%s) lacks VDI_MIRROR_IN: it cannot "
                            "receive VDI %s", sr.name, sr.uuid, req->name);
    {
        struct xlmig__sxm_need need;
        struct xlmig__sr_space space;
        uint64_t alloc = req->src_allocated ? req->src_allocated
                                            : req->virtual_size;

        rc = xlmig__sr_space(ctx, &sr, &space);
        if (rc)
            return rc;
        rc = xlmig__sxm_needs(req->virtual_size, alloc, r.format, true, NULL,
                              &need);
        if (rc)
            return xlmig__error(ctx, rc, -1, "VDI %s: cannot size its move",
                                req->name);
        if (need.dst_bytes > space.free_space)
            return xlmig__error(ctx,
                                LIBXLMIG_ERR_SR_DESTINATION_SPACE_INSUFFICIENT,
                                -1, "SR %s (%s) has %llu MiB free; VDI %s "
                                "needs %llu MiB there (parent and leaf); free "
                                "space or choose another SR", sr.name,
                                sr.uuid,
                                (unsigned long long)(space.free_space >> 20),
                                req->name,
                                (unsigned long long)(need.dst_bytes >> 20));
    }
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
        xlmig__vdi_path(&sr, r.leaf, "qcow2", lpath, sizeof(lpath))) {
        rc = xlmig__error(ctx, LIBXLMIG_ERR_INVALID_ARGUMENT, -1,
                          "SR %s: path too long", sr.name);
        goto out;
    }
    rc = record_save(ctx, req->state_dir, &r);
    if (rc)
        goto out;
    saved = true;
    test_stall(XLMIG__SXM_CREATING);

    memset(&parent, 0, sizeof(parent));
    xlmig__strlcpy(parent.uuid, r.parent, sizeof(parent.uuid));
    xlmig__strlcpy(parent.name, req->name, sizeof(parent.name));
    xlmig__strlcpy(parent.sr_uuid, sr.uuid, sizeof(parent.sr_uuid));
    parent.format = r.format;
    parent.virtual_size = r.virtual_size;
    parent.on_boot = XLMIG__VDI_PERSIST;
    leaf = parent;
    xlmig__strlcpy(leaf.uuid, r.leaf, sizeof(leaf.uuid));
    leaf.format = XLMIG__VDI_QCOW2;
    snprintf(leaf.name, sizeof(leaf.name), "%.*s.leaf",
             (int)(sizeof(leaf.name) - 6), req->name);

    snprintf(size_arg, sizeof(size_arg), "%llu",
             (unsigned long long)r.virtual_size);
    snprintf(what, sizeof(what), "VDI %s: cannot create its parent in SR %s",
             req->name, sr.name);
    rc = vdi_meta_write(ctx, &sr, &parent, r.task);
    if (rc)
        goto out;
    {
        char *argv[] = { "qemu-img", "create", "-q", "-f",
                         (char *)xlmig__vdi_format_name(r.format), ppath,
                         size_arg, NULL };

        rc = run_tool(ctx, xlmig__qemu_img_bin(), argv, what);
        if (rc)
            goto out;
    }
    snprintf(what, sizeof(what), "VDI %s: cannot create its leaf in SR %s",
             req->name, sr.name);
    rc = vdi_meta_write(ctx, &sr, &leaf, r.task);
    if (rc)
        goto out;
    snprintf(backing, sizeof(backing), "%s", ppath);
    {
        char *argv[] = { "qemu-img", "create", "-q", "-f", "qcow2", "-o",
                         LEAF_OPTS, "-b", backing, "-F",
                         (char *)xlmig__vdi_format_name(r.format), lpath,
                         size_arg, NULL };

        rc = run_tool(ctx, xlmig__qemu_img_bin(), argv, what);
        if (rc)
            goto out;
    }
    rc = exporter_start(ctx, req->state_dir, &sr, &r, req->tls_dir);
    if (rc)
        goto out;
    rc = record_phase(ctx, req->state_dir, &r, XLMIG__SXM_EXPORTED);
    if (rc)
        goto out;
    xlmig__log(ctx, XTL_INFO, -1, "task %s: VDI %s: parent %s and leaf %s "
               "in SR %s served at %s", r.task, req->name, r.parent, r.leaf,
               sr.name, r.listen);
    if (rec_r)
        *rec_r = r;
 out:
    if (rc && saved)
        (void)dst_rollback(ctx, req->state_dir, &r);
    return rc;
}

static int dst_load(libxlmig_ctx *ctx, const char *state_dir,
                    const char *task, struct xlmig__sxm_record *r)
{
    int rc = record_load(ctx, state_dir, task, r);

    if (!rc && r->role != XLMIG__SXM_DST)
        rc = xlmig__error(ctx, LIBXLMIG_ERR_INVALID_ARGUMENT, -1,
                          "task %s is the source side of a move, not a "
                          "destination", task);
    return rc;
}

static int dst_compose(libxlmig_ctx *ctx, const char *state_dir,
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
    rc = record_phase(ctx, state_dir, r, XLMIG__SXM_COMPOSING);
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
        rc = run_tool(ctx, xlmig__qemu_img_bin(), argv, what);
        if (rc)
            return rc;
    }
    vdi_files_remove(ctx, &sr, r->leaf, XLMIG__VDI_QCOW2);
    if (!xlmig__vdi_path(&sr, r->parent, "lock", lpath, sizeof(lpath)))
        unlink_quiet(ctx, lpath);
    (void)xlmig__dir_sync(ctx, sr.path);
    record_remove(ctx, state_dir, r->task);
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
                            phase_names[r.phase]);
    return dst_compose(ctx, state_dir, &r, vdi_r);
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
    return dst_rollback(ctx, state_dir, &r);
}

/* ------------------------------------------------------------ source: QMP */

struct names {
    char ov[40], ovf[40], leaf[40], mirror[40], commit[40], tls[40];
};

static void names_of(const char *task, struct names *n)
{
    snprintf(n->ov, sizeof(n->ov), "xlmig-%.8s-ov", task);
    snprintf(n->ovf, sizeof(n->ovf), "xlmig-%.8s-ovf", task);
    snprintf(n->leaf, sizeof(n->leaf), "xlmig-%.8s-leaf", task);
    snprintf(n->mirror, sizeof(n->mirror), "xlmig-%.8s-mirror", task);
    snprintf(n->commit, sizeof(n->commit), "xlmig-%.8s-commit", task);
    snprintf(n->tls, sizeof(n->tls), "xlmig-%.8s-tls", task);
}

static bool gs(yajl_gen g, const char *s)
{
    return yajl_gen_string(g, (const unsigned char *)s, strlen(s)) ==
           yajl_gen_status_ok;
}

static bool gkv(yajl_gen g, const char *k, const char *v)
{
    return gs(g, k) && gs(g, v);
}

/*
 * The QEMU serving the disk, through its QMP socket.  The socket serves
 * one client at a time and the toolstack (libxl) needs it too, so each
 * command has a connection of its own (xlmig__qmp_call_once): between
 * commands nothing is held.  Events go only to the client connected
 * when they come, so none is waited for: the jobs are made with
 * auto-dismiss off, and one that ended stays, "concluded" with its
 * error, until job_finish() reads it and dismisses it.  The switch, a
 * dozen commands while the guest stands still and libxl is done with
 * the socket, holds one connection for them all (@held): a connection
 * costs more than its command (greeting, capabilities), and that time
 * is downtime.
 */
struct qemu {
    libxlmig_ctx *ctx;
    const char *sock;
    struct xlmig__qmp *held;        /* NULL: a connection per command */
};

static void q_release(struct qemu *qm)
{
    xlmig__qmp_close(qm->held);
    qm->held = NULL;
}

/* Finish the arguments and the command of @g, and run it. */
static int q_call(const struct qemu *qm, yajl_gen g, bool ok, yajl_val *ret)
{
    if (!g)
        return LIBXLMIG_ERR_NO_MEMORY;
    if (!ok) {
        yajl_gen_free(g);
        return LIBXLMIG_ERR_INTERNAL;
    }
    if (qm->held) {
        if (ret)
            *ret = NULL;
        return xlmig__qmp_call(qm->held, g, ret);
    }
    return xlmig__qmp_call_once(qm->ctx, qm->sock, 0, g, ret);
}

static int q_simple(const struct qemu *qm, const char *cmd, const char *k,
                    const char *v)
{
    yajl_gen g = xlmig__qmp_gen(cmd);

    return q_call(qm, g, g && gkv(g, k, v), NULL);
}

/* "auto-dismiss": false, so that the job's end and error stay to read. */
static bool g_keep_job(yajl_gen g)
{
    return gs(g, "auto-dismiss") && yajl_gen_bool(g, 0) == yajl_gen_status_ok;
}

struct job {
    bool found, ready;
    uint64_t len, offset;
    char status[32];
    char error[512];            /* why it failed (QEMU's words), or "" */
};

static bool job_concluded(const struct job *j)
{
    return !strcmp(j->status, "concluded");
}

static int job_query(const struct qemu *qm, const char *id, struct job *j)
{
    yajl_gen g = xlmig__qmp_gen("query-block-jobs");
    yajl_val ret = NULL;
    size_t i;
    int rc;

    memset(j, 0, sizeof(*j));
    rc = q_call(qm, g, true, &ret);
    if (rc)
        return rc;
    for (i = 0; YAJL_IS_ARRAY(ret) && i < ret->u.array.len; i++) {
        yajl_val o = ret->u.array.values[i];
        const char *dev = xlmig__qmp_get_str(o, "device");
        const char *st = xlmig__qmp_get_str(o, "status");
        const char *err = xlmig__qmp_get_str(o, "error");
        long long v;

        if (!dev || strcmp(dev, id))
            continue;
        j->found = true;
        {
            const char *path[] = { "ready", NULL };
            yajl_val r = yajl_tree_get(o, path, yajl_t_true);

            j->ready = r != NULL;
        }
        if (!xlmig__json_get_integer(o, "len", 0, INT64_MAX, &v))
            j->len = (uint64_t)v;
        if (!xlmig__json_get_integer(o, "offset", 0, INT64_MAX, &v))
            j->offset = (uint64_t)v;
        if (st)
            xlmig__strlcpy(j->status, st, sizeof(j->status));
        if (err)
            xlmig__strlcpy(j->error, err, sizeof(j->error));
    }
    yajl_tree_free(ret);
    return 0;
}

/*
 * Wait up to @ms until job @id has concluded, and dismiss it: its error
 * (QEMU's words; "" when none, or when the job was gone already) into
 * @why.
 */
static int job_finish(libxlmig_ctx *ctx, const struct qemu *qm,
                      const char *id, const char *vdi, unsigned int ms,
                      char *why, size_t cap)
{
    unsigned int waited;
    struct job j;
    int rc;

    why[0] = '\0';
    for (waited = 0;; waited += 50) {
        rc = job_query(qm, id, &j);
        if (rc)
            return rc;
        if (!j.found)
            return 0;
        if (job_concluded(&j))
            break;
        if (waited >= ms)
            return xlmig__error(ctx, LIBXLMIG_ERR_TIMEOUT, -1, "VDI %s: "
                                "block job %s did not end within %u s",
                                vdi, id, ms / 1000);
        xlmig__sleep_ms(50);
    }
    xlmig__strlcpy(why, j.error, cap);
    rc = q_simple(qm, "job-dismiss", "id", id);
    if (rc)
        return xlmig__error(ctx, rc, -1, "VDI %s: cannot dismiss the ended "
                            "block job %s", vdi, id);
    return 0;
}

struct node_info {
    bool found, has_backing;
};

/*
 * Look at the named nodes: @want's presence; when @file is set, the
 * format node (driver @drv) of that file into @node_r; *xlmig_r when
 * any node of ours (xlmig-) is there.
 */
static int nodes_query(const struct qemu *qm, const char *want,
                       struct node_info *wi, const char *file,
                       const char *drv, char *node_r, size_t node_cap,
                       bool *xlmig_r)
{
    yajl_gen g = xlmig__qmp_gen("query-named-block-nodes");
    yajl_val ret = NULL;
    size_t i;
    int rc;

    if (wi)
        memset(wi, 0, sizeof(*wi));
    if (node_r)
        node_r[0] = '\0';
    if (xlmig_r)
        *xlmig_r = false;
    rc = q_call(qm, g, g && gs(g, "flat") &&
                yajl_gen_bool(g, 1) == yajl_gen_status_ok, &ret);
    if (rc)
        return rc;
    for (i = 0; YAJL_IS_ARRAY(ret) && i < ret->u.array.len; i++) {
        yajl_val o = ret->u.array.values[i];
        const char *name = xlmig__qmp_get_str(o, "node-name");
        const char *d = xlmig__qmp_get_str(o, "drv");
        const char *f = xlmig__qmp_get_str(o, "file");
        long long depth = 0;

        if (!name)
            continue;
        if (xlmig_r && !strncmp(name, "xlmig-", 6))
            *xlmig_r = true;
        if (want && wi && !strcmp(name, want)) {
            wi->found = true;
            if (!xlmig__json_get_integer(o, "backing_file_depth", 0, 1000,
                                         &depth))
                wi->has_backing = depth > 0;
        }
        if (file && node_r && !node_r[0] && d && f && !strcmp(d, drv) &&
            !strcmp(f, file) && strncmp(name, "xlmig-", 6) &&
            strlen(name) < node_cap)
            strcpy(node_r, name);
    }
    yajl_tree_free(ret);
    return 0;
}

/*
 * Is node @name there, and has it a backing child (is the overlay in
 * the chain)?  From the block graph (x-debug-query-block-graph, the
 * only query that shows a node's children; QEMU 2.12 and later).
 */
static int overlay_state(const struct qemu *qm, const char *name,
                         struct node_info *ni)
{
    const char *npath[] = { "nodes", NULL }, *epath[] = { "edges", NULL };
    yajl_gen g = xlmig__qmp_gen("x-debug-query-block-graph");
    yajl_val ret = NULL, nodes, edges;
    long long id = -1, v;
    size_t i;
    int rc;

    memset(ni, 0, sizeof(*ni));
    rc = q_call(qm, g, true, &ret);
    if (rc)
        return rc;
    nodes = yajl_tree_get(ret, npath, yajl_t_array);
    edges = yajl_tree_get(ret, epath, yajl_t_array);
    for (i = 0; nodes && i < nodes->u.array.len; i++) {
        yajl_val o = nodes->u.array.values[i];
        const char *n = xlmig__qmp_get_str(o, "name");

        if (n && !strcmp(n, name) &&
            !xlmig__json_get_integer(o, "id", 0, INT64_MAX, &v)) {
            ni->found = true;
            id = v;
        }
    }
    for (i = 0; ni->found && edges && i < edges->u.array.len; i++) {
        yajl_val o = edges->u.array.values[i];
        const char *n = xlmig__qmp_get_str(o, "name");

        if (n && !strcmp(n, "backing") &&
            !xlmig__json_get_integer(o, "parent", 0, INT64_MAX, &v) &&
            v == id)
            ni->has_backing = true;
    }
    yajl_tree_free(ret);
    return 0;
}

/* Commit overlay @ov into what is below it; the job ends by itself
 * (when @ov has no parent) or is completed when ready. */
static int overlay_commit(libxlmig_ctx *ctx, const struct qemu *qm,
                          const struct names *n, const char *vdi)
{
    unsigned int waited;
    char why[512];
    struct job j;
    int rc;

    rc = job_query(qm, n->commit, &j);
    if (rc)
        return rc;
    if (!j.found) {
        yajl_gen g = xlmig__qmp_gen("block-commit");

        rc = q_call(qm, g, g && gkv(g, "job-id", n->commit) &&
                    gkv(g, "device", n->ov) && g_keep_job(g), NULL);
        if (rc)
            return xlmig__error(ctx, rc, -1, "VDI %s: cannot commit the "
                                "temporary snapshot's overlay %s back into "
                                "the disk", vdi, n->ov);
    }
    for (waited = 0; waited < 10 * JOB_END_MS; waited += 50) {
        rc = job_query(qm, n->commit, &j);
        if (rc)
            return rc;
        if (!j.found || job_concluded(&j))
            break;
        if (j.ready) {
            rc = q_simple(qm, "job-complete", "id", n->commit);
            if (rc)
                return xlmig__error(ctx, rc, -1, "VDI %s: cannot complete "
                                    "commit job %s", vdi, n->commit);
            break;
        }
        xlmig__sleep_ms(50);
    }
    rc = job_finish(ctx, qm, n->commit, vdi, JOB_END_MS, why, sizeof(why));
    if (rc)
        return rc;
    if (why[0])
        return xlmig__error(ctx, LIBXLMIG_ERR_IO, -1, "VDI %s: committing "
                            "the overlay back failed: %s", vdi, why);
    return 0;
}

/* Delete what of ours is in the QEMU: overlay, leaf client, TLS. */
static int nodes_del(libxlmig_ctx *ctx, const struct qemu *qm,
                     const struct names *n, const char *vdi, bool tls)
{
    struct node_info ov, leaf;
    int rc;

    rc = overlay_state(qm, n->ov, &ov);
    if (!rc)
        rc = overlay_state(qm, n->leaf, &leaf);
    if (rc)
        return rc;
    if (ov.found && (rc = q_simple(qm, "blockdev-del", "node-name", n->ov)))
        return xlmig__error(ctx, rc, -1, "VDI %s: cannot remove the "
                            "temporary snapshot's overlay node %s", vdi,
                            n->ov);
    if (leaf.found &&
        (rc = q_simple(qm, "blockdev-del", "node-name", n->leaf)))
        return xlmig__error(ctx, rc, -1, "VDI %s: cannot remove node %s",
                            vdi, n->leaf);
    if (tls && (rc = q_simple(qm, "object-del", "id", n->tls)))
        return xlmig__error(ctx, rc, -1, "VDI %s: cannot remove TLS "
                            "object %s", vdi, n->tls);
    return 0;
}

/*
 * Cancel mirror @id, whatever its state, and dismiss it once it has
 * ended (a mirror that broke has concluded already).
 */
static int mirror_stop(libxlmig_ctx *ctx, const struct qemu *qm,
                       const char *id, const char *vdi)
{
    char why[512];
    struct job j;
    int rc;

    rc = job_query(qm, id, &j);
    if (rc || !j.found)
        return rc;
    if (!job_concluded(&j) && strcmp(j.status, "aborting")) {
        yajl_gen g = xlmig__qmp_gen("block-job-cancel");

        rc = q_call(qm, g, g && gkv(g, "device", id) && gs(g, "force") &&
                    yajl_gen_bool(g, 1) == yajl_gen_status_ok, NULL);
        /* A job that broke between the query and the cancel has
         * concluded by itself: that is an end too. */
        if (rc && (job_query(qm, id, &j) || !j.found ||
                   !job_concluded(&j)))
            return rc;
    }
    return job_finish(ctx, qm, id, vdi, JOB_END_MS, why, sizeof(why));
}

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
    bool have_path = !task_path(ctx, state_dir, task, pid_ext, path,
                                sizeof(path));

    daemon_stop(ctx, task, what, have_path ? path : NULL, pid_r, start_r);
    *pid_r = 0;
    *start_r = 0;
    if (have_path)
        unlink_quiet(ctx, path);
    if (!task_path(ctx, state_dir, task, sock_ext, path, sizeof(path)))
        unlink_quiet(ctx, path);
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
static int src_rollback(libxlmig_ctx *ctx, const char *state_dir,
                        struct xlmig__sxm_record *r)
{
    char ovpath[PATH_MAX_], what[PATH_MAX_ + 600];
    struct qemu qm = { .ctx = ctx, .sock = r->qmp };
    struct xlmig__qmp *probe = NULL;
    struct xlmig__sr sr;
    struct xlmig__vdi vdi;
    struct node_info ov;
    struct names n;
    struct stat st;
    int rc;

    names_of(r->task, &n);
    if (r->phase != XLMIG__SXM_ROLLBACK) {
        rc = record_phase(ctx, state_dir, r, XLMIG__SXM_ROLLBACK);
        if (rc)
            return rc;
    }
    reader_stop(ctx, state_dir, r);
    rc = overlay_path(ctx, state_dir, r, ovpath, sizeof(ovpath), &sr, &vdi);
    if (rc)
        return rc;
    if (r->offline) {
        record_remove(ctx, state_dir, r->task);
        xlmig__log(ctx, XTL_INFO, -1, "task %s: copy of VDI %s stopped; "
                   "the VDI is as it was", r->task, vdi.name);
        return 0;
    }
    /* Is the QEMU there?  One that is busy is not gone: it still holds
     * the disk, which qemu-img must not touch. */
    rc = xlmig__qmp_connect(ctx, r->qmp, 10000, &probe);
    xlmig__qmp_close(probe);
    if (!rc) {
        rc = mirror_stop(ctx, &qm, n.mirror, vdi.name);
        if (rc)
            return rc;
        rc = overlay_state(&qm, n.ov, &ov);
        if (rc)
            return rc;
        if (ov.found && ov.has_backing) {
            rc = overlay_commit(ctx, &qm, &n, vdi.name);
            if (rc)
                return rc;
        }
        rc = nodes_del(ctx, &qm, &n, vdi.name, r->tls);
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
            rc = run_tool(ctx, xlmig__qemu_img_bin(), argv, what);
            if (rc)
                return rc;
        }
    }
    proxy_stop(ctx, state_dir, r);
    unlink_quiet(ctx, ovpath);
    (void)xlmig__dir_sync(ctx, sr.path);
    record_remove(ctx, state_dir, r->task);
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

    if ((rc = task_path(ctx, state_dir, r->task, "proxy.pid", pidfile,
                        sizeof(pidfile))) ||
        (rc = task_path(ctx, state_dir, r->task, "leaf.sock", sock,
                        sock_cap)))
        return rc;
    if (strlen(sock) >= sizeof(((struct sockaddr_un *)0)->sun_path))
        return xlmig__error(ctx, LIBXLMIG_ERR_INVALID_ARGUMENT, -1,
                            "VDI %s: the state directory must be short "
                            "enough for a socket: %s", r->vdi_name, sock);
    unlink_quiet(ctx, pidfile);
    unlink_quiet(ctx, sock);
    if (!tls_object(tls_dir, false, tls, sizeof(tls)))
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
             "leaf at %s:%s over TLS with %s", r->vdi_name, host, port,
             xlmig__qsd_bin());
    rc = qsd_daemon(ctx, argv, what, pidfile, &r->proxy_pid,
                    &r->proxy_start);
    /* Recorded, so that a roll back stops it, whatever happened. */
    if (r->proxy_pid) {
        int rs = record_save(ctx, state_dir, r);

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
static int leaf_node_add(libxlmig_ctx *ctx, const struct qemu *qm,
                         const struct names *n, const char *state_dir,
                         struct xlmig__sxm_record *r, const char *tls_dir)
{
    char host[256], port[8], sock[PATH_MAX_];
    const char *upath;
    yajl_gen g;
    bool ok;
    int rc;

    if (!addr_split(r->dest, host, sizeof(host), port, sizeof(port), &upath))
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
    rc = q_call(qm, g, ok, NULL);
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
    char sock[PATH_MAX_], pidfile[PATH_MAX_], img[PATH_MAX_], what[PATH_MAX_ + 600];
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
    if ((rc = task_path(ctx, state_dir, r->task, "snap.sock", sock,
                        sizeof(sock))) ||
        (rc = task_path(ctx, state_dir, r->task, "reader.pid", pidfile,
                        sizeof(pidfile))))
        return rc;
    if (xlmig__vdi_path(sr, vdi->uuid, xlmig__vdi_format_name(vdi->format),
                        img, sizeof(img)) ||
        strlen(sock) >= sizeof(((struct sockaddr_un *)0)->sun_path))
        return xlmig__error(ctx, LIBXLMIG_ERR_INVALID_ARGUMENT, -1,
                            "VDI %s: path too long (the state directory "
                            "must be short enough for a socket)", vdi->name);
    unlink_quiet(ctx, sock);
    unlink_quiet(ctx, pidfile);
    {
        char *argv[] = { "qemu-nbd", "--fork", "--pid-file", pidfile, "-r",
                         "-f", (char *)xlmig__vdi_format_name(vdi->format),
                         "-k", sock, "-x", "snapshot", "--persistent",
                         "--shared=16", img, NULL };

        snprintf(what, sizeof(what), "VDI %s: cannot serve its temporary "
                 "snapshot %s with %s", vdi->name, img, xlmig__qemu_nbd_bin());
        rc = run_tool(ctx, xlmig__qemu_nbd_bin(), argv, what);
        if (rc)
            return rc;
    }
    if (xlmig__pidfile_read(pidfile, &pid))
        return xlmig__error(ctx, LIBXLMIG_ERR_IO, errno, "%s: no pid in %s",
                            what, pidfile);
    r->reader_pid = pid;
    r->reader_start = xlmig__proc_start_time(pid);
    rc = record_save(ctx, state_dir, r);
    if (rc)
        return rc;
    snprintf(src_uri, sizeof(src_uri), "nbd+unix:///snapshot?socket=%s",
             sock);
    if (!req->data_via) {
        rc = addr_uri(r->dest, EXPORT_PARENT, req->tls_dir != NULL, dst_uri,
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
static int mirror_check(libxlmig_ctx *ctx, const struct qemu *qm,
                        const struct names *n, const char *vdi,
                        const char *dest, struct job *j)
{
    char why[512] = "";
    int rc = job_query(qm, n->mirror, j);

    if (rc)
        return rc;
    if (j->found && strcmp(j->status, "aborting") && !job_concluded(j))
        return 0;
    if (j->found)
        (void)job_finish(ctx, qm, n->mirror, vdi, MIRROR_END_MS, why,
                         sizeof(why));
    return xlmig__error(ctx, LIBXLMIG_ERR_MIRROR_FAILED, -1, "VDI %s: the "
                        "mirror to the destination's leaf at %s broke%s%s; "
                        "the VDI stays where it is", vdi, dest,
                        why[0] ? ": " : "", why);
}

int xlmig__sxm_send(libxlmig_ctx *ctx, const struct xlmig__sxm_send_req *req,
                    struct xlmig__sxm_record *rec_r)
{
    struct xlmig__sxm_record r;
    struct qemu qm = { .ctx = ctx, .sock = req->qmp };
    struct xlmig__sr sr;
    struct xlmig__vdi vdi;
    struct copy_progress cp;
    struct names n;
    struct job j;
    char img[PATH_MAX_], ovpath[PATH_MAX_], what[PATH_MAX_ + 600];
    bool saved = false, ours = false, stopped;
    int rc, sw;

    memset(&r, 0, sizeof(r));
    memset(&cp, 0, sizeof(cp));
    rc = xlmig__sxm_addr_check(ctx, req->dest);
    if (rc)
        return rc;
    rc = xlmig__vdi_find(ctx, req->state_dir, req->vdi, &sr, &vdi);
    if (rc)
        return rc;
    if (!req->qmp || req->qmp[0] != '/' || strlen(req->qmp) >= sizeof(r.qmp))
        return xlmig__error(ctx, LIBXLMIG_ERR_INVALID_ARGUMENT, -1,
                            "VDI %s: the QMP socket must be an absolute path",
                            vdi.name);
    if (xlmig__vdi_path(&sr, vdi.uuid, xlmig__vdi_format_name(vdi.format),
                        img, sizeof(img)))
        return xlmig__error(ctx, LIBXLMIG_ERR_INVALID_ARGUMENT, -1,
                            "SR %s: path too long", sr.name);
    /* The source's checks; the destination's are receive-start's. */
    {
        struct xlmig__sr_space space, none = { 0, 0, UINT64_MAX };
        struct xlmig__sr dst = sr;
        uint64_t virt, alloc;

        rc = xlmig__vdi_sizes(ctx, &sr, &vdi, &virt, &alloc);
        if (!rc)
            rc = xlmig__sr_space(ctx, &sr, &space);
        if (rc)
            return rc;
        memset(dst.uuid, 'f', XLMIG__UUID_LEN);
        dst.caps = XLMIG__SR_CAPS_ALL;
        rc = xlmig__sxm_preflight(ctx, &sr, &space, &vdi, alloc, &dst, &none,
                                  vdi.format, true, req->vm, NULL);
        if (rc)
            return rc;
    }
    rc = xlmig__uuid_generate(ctx, r.task);
    if (rc)
        return rc;
    names_of(r.task, &n);
    r.role = XLMIG__SXM_SRC;
    r.phase = XLMIG__SXM_STARTING;
    xlmig__strlcpy(r.vdi_name, vdi.name, sizeof(r.vdi_name));
    r.virtual_size = vdi.virtual_size;
    xlmig__strlcpy(r.vdi, vdi.uuid, sizeof(r.vdi));
    xlmig__strlcpy(r.qmp, req->qmp, sizeof(r.qmp));
    xlmig__strlcpy(r.dest, req->dest, sizeof(r.dest));
    r.owner_pid = getpid();
    r.owner_start = xlmig__proc_start_time(getpid());
    cp.req = req;
    cp.t0 = xlmig__now_s();

    rc = stop_asked(req);
    if (rc)
        goto stop;
    rc = nodes_query(&qm, NULL, NULL, img,
                     xlmig__vdi_format_name(vdi.format), r.node,
                     sizeof(r.node), &ours);
    if (rc)
        goto out;
    if (ours) {
        rc = xlmig__error(ctx, LIBXLMIG_ERR_VDI_IN_USE, -1, "VDI %s: the "
                          "QEMU at %s has nodes of another storage move "
                          "(xlmig-*); let it end, or run `xlmig "
                          "sxm-recover`", vdi.name, req->qmp);
        goto out;
    }
    if (req->node) {
        if (strlen(req->node) >= sizeof(r.node)) {
            rc = xlmig__error(ctx, LIBXLMIG_ERR_INVALID_ARGUMENT, -1,
                              "node name too long");
            goto out;
        }
        xlmig__strlcpy(r.node, req->node, sizeof(r.node));
    } else if (!r.node[0]) {
        rc = xlmig__error(ctx, LIBXLMIG_ERR_NOT_FOUND, -1, "VDI %s: the QEMU "
                          "at %s has no %s node of %s; is that the QEMU "
                          "serving this VDI?", vdi.name, req->qmp,
                          xlmig__vdi_format_name(vdi.format), img);
        goto out;
    }
    rc = overlay_path(ctx, req->state_dir, &r, ovpath, sizeof(ovpath), &sr,
                      &vdi);
    if (rc)
        goto out;
    rc = record_save(ctx, req->state_dir, &r);
    if (rc)
        goto out;
    saved = true;
    if (rec_r)
        *rec_r = r;

    /* 1. The temporary snapshot. */
    rc = record_phase(ctx, req->state_dir, &r, XLMIG__SXM_SNAPSHOT);
    if (rc)
        goto out;
    {
        char *argv[] = { "qemu-img", "create", "-q", "-f", "qcow2", "-b",
                         img, "-F", (char *)xlmig__vdi_format_name(vdi.format),
                         ovpath, NULL };

        snprintf(what, sizeof(what), "VDI %s: cannot create the temporary "
                 "snapshot's overlay in SR %s", vdi.name, sr.name);
        rc = run_tool(ctx, xlmig__qemu_img_bin(), argv, what);
        if (rc)
            goto out;
    }
    rc = stop_asked(req);
    if (rc)
        goto stop;
    {
        yajl_gen g = xlmig__qmp_gen("blockdev-add");
        bool ok = g && gkv(g, "driver", "qcow2") && gkv(g, "node-name", n.ov)
                  && gs(g, "file") &&
                  yajl_gen_map_open(g) == yajl_gen_status_ok &&
                  gkv(g, "driver", "file") && gkv(g, "node-name", n.ovf) &&
                  gkv(g, "filename", ovpath) &&
                  yajl_gen_map_close(g) == yajl_gen_status_ok &&
                  gs(g, "backing") && yajl_gen_null(g) == yajl_gen_status_ok;

        rc = q_call(&qm, g, ok, NULL);
        if (rc)
            goto out;
        g = xlmig__qmp_gen("blockdev-snapshot");
        rc = q_call(&qm, g, g && gkv(g, "node", r.node) &&
                    gkv(g, "overlay", n.ov), NULL);
        if (rc) {
            rc = xlmig__error(ctx, rc, -1, "VDI %s: cannot take the "
                              "temporary snapshot of node %s", vdi.name,
                              r.node);
            goto out;
        }
    }
    rc = stop_asked(req);
    if (rc)
        goto stop;

    /* 2. The mirror of the writes since then. */
    rc = record_phase(ctx, req->state_dir, &r, XLMIG__SXM_MIRRORING);
    if (rc)
        goto out;
    rc = leaf_node_add(ctx, &qm, &n, req->state_dir, &r, req->tls_dir);
    if (rc)
        goto out;
    rc = stop_asked(req);
    if (rc)
        goto stop;
    {
        yajl_gen g = xlmig__qmp_gen("blockdev-mirror");
        bool ok = g && gkv(g, "job-id", n.mirror) && gkv(g, "device", n.ov) &&
                  gkv(g, "target", n.leaf) && gkv(g, "sync", "top") &&
                  gkv(g, "copy-mode", "write-blocking") && g_keep_job(g) &&
                  gs(g, "granularity") &&
                  yajl_gen_integer(g, MIRROR_GRANULARITY) ==
                      yajl_gen_status_ok;

        if (ok && req->bwlimit)
            ok = gs(g, "speed") && yajl_gen_integer(g, (long long)
                                                    req->bwlimit) ==
                                       yajl_gen_status_ok;
        rc = q_call(&qm, g, ok, NULL);
        if (rc) {
            rc = xlmig__error(ctx, LIBXLMIG_ERR_MIRROR_FAILED, -1, "VDI %s: "
                              "cannot start the mirror to %s", vdi.name,
                              req->dest);
            goto out;
        }
    }
    rc = stop_asked(req);
    if (rc)
        goto stop;

    /* 3. The copy of the snapshot. */
    rc = record_phase(ctx, req->state_dir, &r, XLMIG__SXM_COPYING);
    if (rc)
        goto out;
    cp.p.phase = XLMIG__SXM_COPYING;
    rc = snapshot_copy(ctx, req->state_dir, &r, &sr, &vdi, req, &cp,
                       &stopped);
    if (stopped)
        goto stop;
    if (rc) {
        /* A copy broken by a destination that went away: say so once. */
        int why = stop_asked(req);

        if (why && why != LIBXLMIG_ERR_CANCELLED)
            rc = why;
        else if (!mirror_check(ctx, &qm, &n, vdi.name, req->dest, &j))
            rc = xlmig__error(ctx, rc, -1, "VDI %s: the copy of the "
                              "temporary snapshot failed; rolling back",
                              vdi.name);
        else
            rc = LIBXLMIG_ERR_MIRROR_FAILED;
        goto out;
    }

    /* 4. In sync: wait for the caller's switch. */
    rc = record_phase(ctx, req->state_dir, &r, XLMIG__SXM_SYNCED);
    if (rc)
        goto out;
    cp.p.phase = XLMIG__SXM_SYNCED;
    for (;;) {
        rc = mirror_check(ctx, &qm, &n, vdi.name, req->dest, &j);
        if (rc)
            goto out;
        cp.p.mirror_total = j.len;
        cp.p.mirror_done = j.offset;
        cp.p.in_sync = j.ready;
        cp.p.seconds = xlmig__now_s() - cp.t0;
        if (req->progress)
            req->progress(req->opaque, &cp.p);
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
                break;
        }
        rc = idle(req, POLL_MS);
        if (rc)
            goto stop;
    }

    /* 5. Switch: the guest is paused; end the mirror in sync. */
    rc = record_phase(ctx, req->state_dir, &r, XLMIG__SXM_SWITCHING);
    if (rc)
        goto out;
    cp.p.phase = XLMIG__SXM_SWITCHING;
    /* One connection for the switch's commands (a connection per command
     * when this one cannot be had). */
    if (xlmig__qmp_connect(ctx, qm.sock, QMP_HOLD_MS, &qm.held))
        qm.held = NULL;
    rc = q_simple(&qm, "block-job-cancel", "device", n.mirror);
    if (rc)
        goto out;
    {
        char why[512];

        rc = job_finish(ctx, &qm, n.mirror, vdi.name, JOB_END_MS, why,
                        sizeof(why));
        if (rc)
            goto out;
        if (why[0]) {
            rc = xlmig__error(ctx, LIBXLMIG_ERR_MIRROR_FAILED, -1, "VDI %s: "
                              "the mirror's last writes failed: %s",
                              vdi.name, why);
            goto out;
        }
    }
    /* 6. The temporary snapshot goes: the overlay is committed back. */
    rc = overlay_commit(ctx, &qm, &n, vdi.name);
    if (rc)
        goto out;
    rc = nodes_del(ctx, &qm, &n, vdi.name, r.tls);
    q_release(&qm);
    if (rc)
        goto out;
    proxy_stop(ctx, req->state_dir, &r);
    unlink_quiet(ctx, ovpath);
    (void)xlmig__dir_sync(ctx, sr.path);
    record_remove(ctx, req->state_dir, r.task);
    if (req->progress) {
        cp.p.phase = XLMIG__SXM_SWITCHING;
        cp.p.seconds = xlmig__now_s() - cp.t0;
        req->progress(req->opaque, &cp.p);
    }
    xlmig__log(ctx, XTL_INFO, -1, "task %s: VDI %s is in sync at %s; the "
               "destination can be finalized", r.task, vdi.name, req->dest);
    rc = 0;
    goto done;

 stop:
    /* The peer's end was logged by peer_check; a cancel is said here. */
    if (rc == LIBXLMIG_ERR_CANCELLED)
        rc = xlmig__error(ctx, LIBXLMIG_ERR_CANCELLED, -1, "VDI %s: the "
                          "move was cancelled; rolling back", vdi.name);
 out:
    q_release(&qm);             /* the roll back connects per command */
    if (rc && saved) {
        int rb = src_rollback(ctx, req->state_dir, &r);

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
    rc = record_phase(ctx, req->state_dir, &src, XLMIG__SXM_COPYING);
    if (rc)
        return rc;
    rc = snapshot_copy(ctx, req->state_dir, &src, &sr, &vdi, req, &cp,
                       &stopped);
    if (rc)
        (void)src_rollback(ctx, req->state_dir, &src);
    else
        record_remove(ctx, req->state_dir, src.task);
    return rc;
}

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
static int pivot(libxlmig_ctx *ctx, const struct qemu *qm, const char *node,
                 const char *task, const char *newvdi, const char *img,
                 const char *fmt, const char *vdi)
{
    char nn[48], nf[48], job[48], why[512];
    unsigned int waited;
    struct job j;
    yajl_gen g;
    int rc;

    /* The disk's nodes from now on: named after the new VDI. */
    snprintf(nn, sizeof(nn), "vdi-%.8s", newvdi);
    snprintf(nf, sizeof(nf), "vdi-%.8s-file", newvdi);
    snprintf(job, sizeof(job), "xlmig-%.8s-pivot", task);
    g = xlmig__qmp_gen("blockdev-add");
    rc = q_call(qm, g, g && gkv(g, "driver", fmt) && gkv(g, "node-name", nn)
                && gs(g, "file") && yajl_gen_map_open(g) == yajl_gen_status_ok
                && gkv(g, "driver", "file") && gkv(g, "node-name", nf) &&
                gkv(g, "filename", img) &&
                yajl_gen_map_close(g) == yajl_gen_status_ok, NULL);
    if (rc)
        return xlmig__error(ctx, rc, -1, "VDI %s: the VM's QEMU cannot open "
                            "the new VDI %s", vdi, img);
    g = xlmig__qmp_gen("blockdev-mirror");
    rc = q_call(qm, g, g && gkv(g, "job-id", job) && gkv(g, "device", node) &&
                gkv(g, "target", nn) && gkv(g, "sync", "none") &&
                g_keep_job(g), NULL);
    if (rc)
        return xlmig__error(ctx, rc, -1, "VDI %s: cannot switch the disk "
                            "to %s", vdi, img);
    for (waited = 0; waited < JOB_END_MS; waited += 20) {
        rc = job_query(qm, job, &j);
        if (rc)
            return rc;
        if (j.ready || !j.found || job_concluded(&j))
            break;
        xlmig__sleep_ms(20);
    }
    if (j.ready)
        rc = q_simple(qm, "job-complete", "id", job);
    else if (j.found && !job_concluded(&j))
        rc = LIBXLMIG_ERR_TIMEOUT;      /* never ready */
    if (!rc)
        rc = job_finish(ctx, qm, job, vdi, JOB_END_MS, why, sizeof(why));
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

int xlmig__sxm_move(libxlmig_ctx *ctx, const struct xlmig__sxm_move_req *req,
                    char vdi_r[XLMIG__UUID_LEN + 1])
{
    struct xlmig__sxm_recv_req rreq;
    struct xlmig__sxm_send_req sreq;
    struct xlmig__sxm_record dst, src;
    struct xlmig__sr sr, dsr;
    struct xlmig__vdi vdi;
    struct xlmig__sr_space space, dspace;
    char listen[PATH_MAX_ + 8], sock[PATH_MAX_], newvdi[XLMIG__UUID_LEN + 1];
    char img[PATH_MAX_], tag[XLMIG__UUID_LEN + 1];
    enum xlmig__vdi_format fmt;
    uint64_t virt, alloc;
    bool dst_made = false, src_saved = false;
    int rc;

    memset(&dst, 0, sizeof(dst));
    memset(&src, 0, sizeof(src));
    rc = xlmig__vdi_find(ctx, req->state_dir, req->vdi, &sr, &vdi);
    if (rc)
        return rc;
    rc = xlmig__sr_find(ctx, req->state_dir, req->sr, &dsr);
    if (rc)
        return rc;
    fmt = vdi.format;
    if (req->format && !strcmp(req->format, "raw"))
        fmt = XLMIG__VDI_RAW;
    else if (req->format && !strcmp(req->format, "qcow2"))
        fmt = XLMIG__VDI_QCOW2;
    else if (req->format)
        return xlmig__error(ctx, LIBXLMIG_ERR_INVALID_ARGUMENT, -1,
                            "VDI %s: format must be qcow2 or raw", vdi.name);
    if ((rc = xlmig__vdi_sizes(ctx, &sr, &vdi, &virt, &alloc)) ||
        (rc = xlmig__sr_space(ctx, &sr, &space)) ||
        (rc = xlmig__sr_space(ctx, &dsr, &dspace)))
        return rc;
    rc = xlmig__sxm_preflight(ctx, &sr, &space, &vdi, alloc, &dsr, &dspace,
                              fmt, req->qmp != NULL, req->vm, NULL);
    if (rc)
        return rc;
    /* Served here, on a unix socket of the state directory. */
    rc = xlmig__uuid_generate(ctx, tag);
    if (rc)
        return rc;
    {
        char name[64];

        snprintf(name, sizeof(name), "move-%.8s.sock", tag);
        rc = task_path(ctx, req->state_dir, tag, "sock", sock, sizeof(sock));
        if (rc)
            return rc;
        (void)name;
    }
    if (strlen(sock) >= sizeof(((struct sockaddr_un *)0)->sun_path))
        return xlmig__error(ctx, LIBXLMIG_ERR_INVALID_ARGUMENT, -1,
                            "state directory too long for a socket: %s",
                            sock);
    snprintf(listen, sizeof(listen), "unix:%s", sock);
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
        struct qemu qm = { .ctx = ctx, .sock = req->qmp };

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
        record_remove(ctx, req->state_dir, src.task);
        src_saved = false;
    }
    if (!req->keep)
        rc = move_identity(ctx, req->state_dir, &vdi, newvdi);
    if (vdi_r)
        xlmig__strlcpy(vdi_r, newvdi, XLMIG__UUID_LEN + 1);
 out:
    if (rc && src_saved)
        (void)src_rollback(ctx, req->state_dir, &src);
    if (rc && dst_made)
        (void)xlmig__sxm_recv_cancel(ctx, req->state_dir, dst.task);
    return rc;
}

/* ------------------------------------------------------------ recovery */

int xlmig__sxm_recover(libxlmig_ctx *ctx, const char *state_dir,
                       unsigned int *done_r)
{
    struct xlmig__sxm_record *recs = NULL;
    size_t nr = 0, i;
    unsigned int done = 0;
    int rc, first = 0;

    rc = xlmig__sxm_list(ctx, state_dir, &recs, &nr);
    if (rc)
        return rc;
    for (i = 0; i < nr; i++) {
        struct xlmig__sxm_record *r = &recs[i];

        if (r->owner_pid &&
            xlmig__proc_alive((pid_t)r->owner_pid, r->owner_start) &&
            (pid_t)r->owner_pid != getpid()) {
            xlmig__log(ctx, XTL_INFO, -1, "task %s (VDI %s, %s) is still "
                       "running in process %lld; left alone", r->task,
                       r->vdi_name, phase_names[r->phase],
                       (long long)r->owner_pid);
            continue;
        }
        if (r->role == XLMIG__SXM_DST && r->phase == XLMIG__SXM_COMPOSING)
            rc = dst_compose(ctx, state_dir, r, NULL);
        else if (r->role == XLMIG__SXM_DST)
            rc = dst_rollback(ctx, state_dir, r);
        else
            rc = src_rollback(ctx, state_dir, r);
        if (rc && !first)
            first = rc;
        if (!rc)
            done++;
    }
    free(recs);
    if (done_r)
        *done_r = done;
    return first;
}

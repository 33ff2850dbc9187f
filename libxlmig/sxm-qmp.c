/* SPDX-License-Identifier: LGPL-2.1-only */
/*
 * Storage motion, the source side's commands to the QEMU serving the
 * disk over QMP: block jobs, named nodes, the temporary snapshot's
 * overlay (sxm-internal.h, docs/specs/sxm.md).
 */
#include <stdio.h>
#include <string.h>

#include "proc.h"
#include "sxm-internal.h"

/* ------------------------------------------------------------ source: QMP */

void xlmig__sxm_names_of(const char *task, struct xlmig__sxm_names *n)
{
    snprintf(n->ov, sizeof(n->ov), "xlmig-%.8s-ov", task);
    snprintf(n->ovf, sizeof(n->ovf), "xlmig-%.8s-ovf", task);
    snprintf(n->leaf, sizeof(n->leaf), "xlmig-%.8s-leaf", task);
    snprintf(n->mirror, sizeof(n->mirror), "xlmig-%.8s-mirror", task);
    snprintf(n->commit, sizeof(n->commit), "xlmig-%.8s-commit", task);
    snprintf(n->tls, sizeof(n->tls), "xlmig-%.8s-tls", task);
}

void xlmig__sxm_q_release(struct xlmig__sxm_qemu *qm)
{
    xlmig__qmp_close(qm->held);
    qm->held = NULL;
}

/* Finish the arguments and the command of @g, and run it. */
int xlmig__sxm_q_call(const struct xlmig__sxm_qemu *qm, yajl_gen g, bool ok,
                      yajl_val *ret)
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

int xlmig__sxm_q_simple(const struct xlmig__sxm_qemu *qm, const char *cmd,
                        const char *k, const char *v)
{
    yajl_gen g = xlmig__qmp_gen(cmd);

    return xlmig__sxm_q_call(qm, g, g && gkv(g, k, v), NULL);
}

bool xlmig__sxm_job_concluded(const struct xlmig__sxm_job *j)
{
    return !strcmp(j->status, "concluded");
}

int xlmig__sxm_job_query(const struct xlmig__sxm_qemu *qm, const char *id,
                         struct xlmig__sxm_job *j)
{
    yajl_gen g = xlmig__qmp_gen("query-block-jobs");
    yajl_val ret = NULL;
    size_t i;
    int rc;

    memset(j, 0, sizeof(*j));
    rc = xlmig__sxm_q_call(qm, g, true, &ret);
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
int xlmig__sxm_job_finish(libxlmig_ctx *ctx, const struct xlmig__sxm_qemu *qm,
                          const char *id, const char *vdi, unsigned int ms,
                          char *why, size_t cap)
{
    unsigned int waited;
    struct xlmig__sxm_job j;
    int rc;

    why[0] = '\0';
    for (waited = 0;; waited += 50) {
        rc = xlmig__sxm_job_query(qm, id, &j);
        if (rc)
            return rc;
        if (!j.found)
            return 0;
        if (xlmig__sxm_job_concluded(&j))
            break;
        if (waited >= ms)
            return xlmig__error(ctx, LIBXLMIG_ERR_TIMEOUT, -1, "VDI %s: "
                                "block job %s did not end within %u s",
                                vdi, id, ms / 1000);
        xlmig__sleep_ms(50);
    }
    xlmig__strlcpy(why, j.error, cap);
    rc = xlmig__sxm_q_simple(qm, "job-dismiss", "id", id);
    if (rc)
        return xlmig__error(ctx, rc, -1, "VDI %s: cannot dismiss the ended "
                            "block job %s", vdi, id);
    return 0;
}

/*
 * Look at the named nodes: @want's presence; when @file is set, the
 * format node (driver @drv) of that file into @node_r; *xlmig_r when
 * any node of ours (xlmig-) is there.
 */
int xlmig__sxm_nodes_query(const struct xlmig__sxm_qemu *qm, const char *want,
                           struct xlmig__sxm_node_info *wi, const char *file,
                           const char *drv, char *node_r, size_t node_cap,
                           bool *xlmig_r)
{
    yajl_gen g = xlmig__qmp_gen("query-named-block-nodes");
    yajl_val ret = NULL;
    size_t i;
    bool ok;
    int rc;

    if (wi)
        memset(wi, 0, sizeof(*wi));
    if (node_r)
        node_r[0] = '\0';
    if (xlmig_r)
        *xlmig_r = false;
    ok = g && gs(g, "flat") && yajl_gen_bool(g, 1) == yajl_gen_status_ok;
    rc = xlmig__sxm_q_call(qm, g, ok, &ret);
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
int xlmig__sxm_overlay_state(const struct xlmig__sxm_qemu *qm, const char *name,
                             struct xlmig__sxm_node_info *ni)
{
    const char *npath[] = { "nodes", NULL }, *epath[] = { "edges", NULL };
    yajl_gen g = xlmig__qmp_gen("x-debug-query-block-graph");
    yajl_val ret = NULL, nodes, edges;
    long long id = -1, v;
    size_t i;
    int rc;

    memset(ni, 0, sizeof(*ni));
    rc = xlmig__sxm_q_call(qm, g, true, &ret);
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
int xlmig__sxm_overlay_commit(libxlmig_ctx *ctx,
                              const struct xlmig__sxm_qemu *qm,
                              const struct xlmig__sxm_names *n, const char *vdi)
{
    unsigned int waited;
    char why[512];
    struct xlmig__sxm_job j;
    int rc;

    rc = xlmig__sxm_job_query(qm, n->commit, &j);
    if (rc)
        return rc;
    if (!j.found) {
        yajl_gen g = xlmig__qmp_gen("block-commit");
        bool ok = g && gkv(g, "job-id", n->commit) &&
                  gkv(g, "device", n->ov) && g_keep_job(g);

        rc = xlmig__sxm_q_call(qm, g, ok, NULL);
        if (rc)
            return xlmig__error(ctx, rc, -1, "VDI %s: cannot commit the "
                                "temporary snapshot's overlay %s back into "
                                "the disk", vdi, n->ov);
    }
    for (waited = 0; waited < 10 * JOB_END_MS; waited += 50) {
        rc = xlmig__sxm_job_query(qm, n->commit, &j);
        if (rc)
            return rc;
        if (!j.found || xlmig__sxm_job_concluded(&j))
            break;
        if (j.ready) {
            rc = xlmig__sxm_q_simple(qm, "job-complete", "id", n->commit);
            if (rc)
                return xlmig__error(ctx, rc, -1, "VDI %s: cannot complete "
                                    "commit job %s", vdi, n->commit);
            break;
        }
        xlmig__sleep_ms(50);
    }
    rc = xlmig__sxm_job_finish(ctx, qm, n->commit, vdi, JOB_END_MS, why,
                               sizeof(why));
    if (rc)
        return rc;
    if (why[0])
        return xlmig__error(ctx, LIBXLMIG_ERR_IO, -1, "VDI %s: committing "
                            "the overlay back failed: %s", vdi, why);
    return 0;
}

/* Delete what of ours is in the QEMU: overlay, leaf client, TLS. */
int xlmig__sxm_nodes_del(libxlmig_ctx *ctx, const struct xlmig__sxm_qemu *qm,
                         const struct xlmig__sxm_names *n, const char *vdi,
                         bool tls)
{
    struct xlmig__sxm_node_info ov, leaf;
    int rc;

    rc = xlmig__sxm_overlay_state(qm, n->ov, &ov);
    if (!rc)
        rc = xlmig__sxm_overlay_state(qm, n->leaf, &leaf);
    if (rc)
        return rc;
    if (ov.found &&
        (rc = xlmig__sxm_q_simple(qm, "blockdev-del", "node-name", n->ov)))
        return xlmig__error(ctx, rc, -1, "VDI %s: cannot remove the "
                            "temporary snapshot's overlay node %s", vdi,
                            n->ov);
    if (leaf.found &&
        (rc = xlmig__sxm_q_simple(qm, "blockdev-del", "node-name", n->leaf)))
        return xlmig__error(ctx, rc, -1, "VDI %s: cannot remove node %s",
                            vdi, n->leaf);
    if (tls && (rc = xlmig__sxm_q_simple(qm, "object-del", "id", n->tls)))
        return xlmig__error(ctx, rc, -1, "VDI %s: cannot remove TLS "
                            "object %s", vdi, n->tls);
    return 0;
}

/*
 * Cancel mirror @id, whatever its state, and dismiss it once it has
 * ended (a mirror that broke has concluded already).
 */
int xlmig__sxm_mirror_stop(libxlmig_ctx *ctx, const struct xlmig__sxm_qemu *qm,
                           const char *id, const char *vdi)
{
    char why[512];
    struct xlmig__sxm_job j;
    int rc;

    rc = xlmig__sxm_job_query(qm, id, &j);
    if (rc || !j.found)
        return rc;
    if (!xlmig__sxm_job_concluded(&j) && strcmp(j.status, "aborting")) {
        yajl_gen g = xlmig__qmp_gen("block-job-cancel");
        bool ok = g && gkv(g, "device", id) && gs(g, "force") &&
                  yajl_gen_bool(g, 1) == yajl_gen_status_ok;

        rc = xlmig__sxm_q_call(qm, g, ok, NULL);
        /* A job that broke between the query and the cancel has
         * concluded by itself: that is an end too. */
        if (rc && (xlmig__sxm_job_query(qm, id, &j) || !j.found ||
                   !xlmig__sxm_job_concluded(&j)))
            return rc;
    }
    return xlmig__sxm_job_finish(ctx, qm, id, vdi, JOB_END_MS, why,
                                 sizeof(why));
}

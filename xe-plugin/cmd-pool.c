/* SPDX-License-Identifier: LGPL-2.1-only */
/*
 * xlmig-xe's pool commands: they talk to the pool master's xlmigd with
 * this host's pool configuration (docs/xlmigd.md).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yajl/yajl_tree.h>

#include "internal.h"
#include "pool-client.h"
#include "poolconf.h"
#include "rpc.h"
#include "sr.h"
#include "xe-args.h"
#include "xe-cmd.h"

const char *const xe_keys_pool_join[] = { "master-address", "config", NULL };
const char *const xe_keys_pool_eject[] = { "host", "config", NULL };
const char *const xe_keys_host_list[] = { "config", NULL };
const char *const xe_keys_host_enable[] = { "host", "config", NULL };
const char *const xe_keys_pool_param_get[] = { "param-name", "config",
                                               NULL };
const char *const xe_keys_pool_param_set[] = { "migration-compression",
                                               "migration-concurrency",
                                               "wlb-hook",
                                               "wlb-hook-timeout",
                                               "config", NULL };
const char *const xe_keys_task_list[] = { "config", NULL };
const char *const xe_keys_task_cancel[] = { "uuid", "config", NULL };

struct session {
    libxlmig_ctx *ctx;
    struct xlmig__pool_conf conf;
    libxlmig_transport *t;
    uint64_t id;
    const char *peer;
};

/* Load the configuration and connect to @address (NULL: the master). */
static int open_session(struct session *s, const struct xe_args *a,
                        const char *address)
{
    memset(s, 0, sizeof(*s));
    s->id = 2;
    if (libxlmig_ctx_new(NULL, LIBXLMIG_LOG_ERROR, &s->ctx))
        return LIBXLMIG_ERR_NO_MEMORY;
    if (xlmig__pool_conf_load(s->ctx, xe_args_get(a, "config"), &s->conf))
        return -1;
    s->peer = address ? address : s->conf.master;
    if (xlmig__pool_open(s->ctx, &s->conf, address, &s->t))
        return -1;
    return 0;
}

static void close_session(struct session *s)
{
    libxlmig_transport_free(s->t);
    libxlmig_ctx_free(s->ctx);
}

static int call(struct session *s, const char *method, const char *const *kv,
                struct xlmig__rpc_msg *resp)
{
    return xlmig__pool_call(s->ctx, s->t, s->peer, s->id++, method, kv, NULL,
                            NULL, resp);
}

/* Run @method and print nothing but errors; 0/1. */
static int simple(const struct xe_args *a, const char *method,
                  const char *const *kv)
{
    struct session s;
    struct xlmig__rpc_msg resp;
    int rc = open_session(&s, a, NULL);

    memset(&resp, 0, sizeof(resp));
    if (!rc)
        rc = call(&s, method, kv, &resp);
    xlmig__rpc_msg_dispose(&resp);
    close_session(&s);
    return rc ? XLMIG__EXIT_FAILED : XLMIG__EXIT_OK;
}

int xe_cmd_pool_join(const struct xe_args *a)
{
    struct session s;
    struct xlmig__rpc_msg resp;
    const char *master = xe_args_get(a, "master-address");
    int rc;

    memset(&resp, 0, sizeof(resp));
    rc = open_session(&s, a, master);
    if (!rc) {
        const char *kv[] = { "name", s.conf.name, "address", s.conf.address,
                             NULL };

        rc = call(&s, "pool.join", kv, &resp);
        if (!rc)
            printf("%s joined pool %s (master %s)\n", s.conf.name,
                   s.conf.pool_uuid, s.peer);
    }
    xlmig__rpc_msg_dispose(&resp);
    close_session(&s);
    return rc ? XLMIG__EXIT_FAILED : XLMIG__EXIT_OK;
}

/* A method of the master on host=NAME: pool.eject, host.disable, ... */
static int on_host(const struct xe_args *a, const char *cmd,
                   const char *method)
{
    const char *host = xe_args_get(a, "host");
    const char *kv[] = { "name", host, NULL };

    if (!host) {
        fprintf(stderr, "MISSING_PARAMETER: %s needs host=\n", cmd);
        return XLMIG__EXIT_USAGE;
    }
    return simple(a, method, kv);
}

int xe_cmd_pool_eject(const struct xe_args *a)
{
    return on_host(a, "pool-eject", "pool.eject");
}

int xe_cmd_host_disable(const struct xe_args *a)
{
    return on_host(a, "host-disable", "host.disable");
}

int xe_cmd_host_enable(const struct xe_args *a)
{
    return on_host(a, "host-enable", "host.enable");
}

/* Print each element of the array @arr as one record of @fields. */
static int print_records(struct xe_list *out, yajl_val arr,
                         const char *const *fields, const char *const *labels)
{
    size_t i, f;
    int rc = 0;

    if (!YAJL_IS_ARRAY(arr))
        return LIBXLMIG_ERR_PROTOCOL;
    for (i = 0; i < arr->u.array.len && !rc; i++) {
        struct xlmig__kv kv[XE_RECORD_FIELDS_MAX];
        yajl_val o = arr->u.array.values[i];
        size_t n = 0;

        for (f = 0; fields[f] && n < XE_RECORD_FIELDS_MAX; f++) {
            yajl_val v = xlmig__rpc_get(o, fields[f]);

            kv[n].key = labels[f];
            if (YAJL_IS_STRING(v))
                xlmig__strlcpy(kv[n].value, YAJL_GET_STRING(v),
                               sizeof(kv[n].value));
            else if (YAJL_IS_NUMBER(v))
                xlmig__strlcpy(kv[n].value, YAJL_GET_NUMBER(v),
                               sizeof(kv[n].value));
            else if (YAJL_IS_TRUE(v))
                xlmig__strlcpy(kv[n].value, "true", sizeof(kv[n].value));
            else if (YAJL_IS_FALSE(v))
                xlmig__strlcpy(kv[n].value, "false", sizeof(kv[n].value));
            else
                kv[n].value[0] = '\0';
            n++;
        }
        rc = xe_list_add(out, kv, n);
    }
    return rc;
}

/* A listing of the master's @method: @numbers and @flags as xe_list's. */
static int list_cmd(const struct xe_args *a, const char *method,
                    const char *const *fields, const char *const *labels,
                    const char *const *numbers, const char *const *flags)
{
    struct session s;
    struct xlmig__rpc_msg resp;
    struct xe_list out;
    int rc;

    memset(&resp, 0, sizeof(resp));
    rc = open_session(&s, a, NULL);
    if (!rc)
        rc = call(&s, method, NULL, &resp);
    if (!rc)
        rc = xe_list_begin(&out, a, numbers, flags);
    if (!rc) {
        rc = print_records(&out, resp.result, fields, labels);
        xe_list_end(&out);
    }
    xlmig__rpc_msg_dispose(&resp);
    close_session(&s);
    return rc ? XLMIG__EXIT_FAILED : XLMIG__EXIT_OK;
}

int xe_cmd_host_list(const struct xe_args *a)
{
    static const char *const f[] = { "name", "address", "master", "joined",
                                     "enabled", NULL };
    static const char *const l[] = { "name-label", "address", "master",
                                     "joined", "enabled", NULL };
    static const char *const numbers[] = { "joined", NULL };
    static const char *const flags[] = { "master", "enabled", NULL };

    return list_cmd(a, "host.list", f, l, numbers, flags);
}

int xe_cmd_task_list(const struct xe_args *a)
{
    static const char *const f[] = { "uuid", "vm", "source", "destination",
                                     "state", "phase", "progress",
                                     "priority", NULL };
    static const char *const l[] = { "uuid", "vm", "source", "destination",
                                     "status", "phase", "progress",
                                     "priority", NULL };
    static const char *const numbers[] = { "progress", NULL };
    static const char *const flags[] = { "priority", NULL };

    return list_cmd(a, "task.list", f, l, numbers, flags);
}

int xe_cmd_task_cancel(const struct xe_args *a)
{
    const char *id = xe_args_get(a, "uuid");
    char num[32];
    const char *kv[] = { "task", num, NULL };
    const char *kvu[] = { "uuid", id, NULL };

    if (id && xlmig__uuid_ok(id))
        return simple(a, "task.cancel", kvu);
    if (!id || !*id || strspn(id, "0123456789") != strlen(id) ||
        strlen(id) > 19) {
        fprintf(stderr, "INVALID_VALUE: task-cancel needs uuid=ID (as "
                "task-list shows it: a migration's uuid, or a number)\n");
        return XLMIG__EXIT_USAGE;
    }
    snprintf(num, sizeof(num), "#%s", id);
    return simple(a, "task.cancel", kv);
}

int xe_cmd_pool_param_get(const struct xe_args *a)
{
    const char *key = xe_args_get(a, "param-name");
    const char *kv[] = { "key", key, NULL };
    struct session s;
    struct xlmig__rpc_msg resp;
    int rc;

    if (!key) {
        fprintf(stderr, "MISSING_PARAMETER: pool-param-get needs "
                "param-name=\n");
        return XLMIG__EXIT_USAGE;
    }
    memset(&resp, 0, sizeof(resp));
    rc = open_session(&s, a, NULL);
    if (!rc)
        rc = call(&s, "pool.param_get", kv, &resp);
    if (!rc)
        printf("%s\n", YAJL_IS_STRING(resp.result)
                           ? YAJL_GET_STRING(resp.result) : "");
    xlmig__rpc_msg_dispose(&resp);
    close_session(&s);
    return rc ? XLMIG__EXIT_FAILED : XLMIG__EXIT_OK;
}

int xe_cmd_pool_param_set(const struct xe_args *a)
{
    struct session s;
    size_t i;
    int rc;

    if (!a->nr_kv || (a->nr_kv == 1 && xe_args_get(a, "config"))) {
        fprintf(stderr, "MISSING_PARAMETER: pool-param-set needs "
                "migration-concurrency=N, migration-compression=BOOL, "
                "wlb-hook=COMMAND or wlb-hook-timeout=S\n");
        return XLMIG__EXIT_USAGE;
    }
    rc = open_session(&s, a, NULL);
    for (i = 0; !rc && i < a->nr_kv; i++) {
        const char *kv[] = { "key", a->kv[i].key, "value", a->kv[i].value,
                             NULL };
        struct xlmig__rpc_msg resp;

        if (!strcmp(a->kv[i].key, "config"))
            continue;
        memset(&resp, 0, sizeof(resp));
        rc = call(&s, "pool.param_set", kv, &resp);
        xlmig__rpc_msg_dispose(&resp);
    }
    close_session(&s);
    return rc ? XLMIG__EXIT_FAILED : XLMIG__EXIT_OK;
}

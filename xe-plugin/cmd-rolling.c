/* SPDX-License-Identifier: LGPL-2.1-only */
/*
 * xlmig-xe pool-rolling-upgrade: the rolling pool upgrade's driver
 * (libxlmig/rolling.h) with its operations done through the pool's
 * xlmigd: host.list and host.facts for the hosts, pool.rolling_get and
 * pool.rolling_set for the pool's rolling state, host.disable and
 * host.enable at the master, host-evacuate as its command does it,
 * host.upgrade on the host (docs/specs/rolling-upgrade.md).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "migrate-check.h"
#include "pool-client.h"
#include "proc.h"
#include "rolling.h"
#include "xe-cmd.h"

const char *const xe_keys_pool_rolling_upgrade[] = {
    "upgrade-command", "version", "xen-version", "upgrade-timeout",
    "back-timeout", "sr", "abandon", "config", NULL
};

/* How often wait_back asks, and how long host.upgrade may take beyond
 * its command's limit before it counts as gone (the hook's grace). */
#define BACK_POLL_MS 2000

struct ru {
    const struct xe_args *a;
    struct xlmig__pool_conf conf;
    const char *sr;                 /* the evacuations' sr=, or NULL */
    struct xlmig__pool_hosts hs;    /* as list_hosts read them */
};

/* Host @name's address as listed, or NULL (said in @ctx). */
static const char *addr_of(libxlmig_ctx *ctx, struct ru *u, const char *name)
{
    const char *addr = xlmig__pool_hosts_address(&u->hs, name);

    if (!addr)
        xlmig__error(ctx, LIBXLMIG_ERR_NOT_FOUND, -1, "host %s is not in "
                     "pool %s any more (pool-eject?); run "
                     "pool-rolling-upgrade again", name, u->conf.pool_name);
    return addr;
}

/* host.facts of @name at @addr into @v. */
static int version_of(libxlmig_ctx *ctx, struct ru *u, const char *name,
                      const char *addr, struct xlmig__rolling_version *v)
{
    struct xlmig__host_facts *f = xlmig__zalloc(sizeof(*f));
    bool answered = false;
    int rc;

    if (!f)
        return LIBXLMIG_ERR_NO_MEMORY;
    rc = xlmig__host_facts_ask(ctx, &u->conf, name, addr, f, &answered);
    if (rc && !answered)
        rc = xlmig__error(ctx, LIBXLMIG_ERR_CANNOT_CONTACT_HOST, -1,
                          "host %s (%s) does not answer: %s; start its "
                          "xlmigd (or eject it from the pool), then run "
                          "pool-rolling-upgrade again", name, addr,
                          libxlmig_ctx_last_error(ctx));
    if (!rc) {
        xlmig__strlcpy(v->xen, f->xen_version, sizeof(v->xen));
        xlmig__strlcpy(v->libxlmig, f->version, sizeof(v->libxlmig));
    }
    free(f);
    return rc;
}

static int op_list_hosts(libxlmig_ctx *ctx, void *opaque,
                         struct xlmig__rolling_host *hosts, size_t max,
                         size_t *n_r)
{
    struct ru *u = opaque;
    size_t i;
    int rc = xlmig__pool_hosts(ctx, &u->conf, &u->hs);

    *n_r = 0;
    if (rc)
        return rc;
    for (i = 0; !rc && i < u->hs.n && i < max; i++) {
        xlmig__strlcpy(hosts[i].name, u->hs.h[i].name, sizeof(hosts[i].name));
        hosts[i].is_master = u->hs.h[i].master;
        hosts[i].enabled = u->hs.h[i].enabled;
        rc = version_of(ctx, u, u->hs.h[i].name, u->hs.h[i].address,
                        &hosts[i].version);
    }
    *n_r = i;
    return rc;
}

static int op_state_get(libxlmig_ctx *ctx, void *opaque,
                        struct xlmig__rolling_state *st)
{
    struct ru *u = opaque;
    struct xlmig__rpc_msg resp;
    const char *held;
    int rc = xlmig__pool_call_once(ctx, &u->conf, NULL, "pool.rolling_get",
                                   NULL, &resp);

    memset(st, 0, sizeof(*st));
    if (!rc) {
        held = xlmig__rpc_get_str(resp.result, "held");
        if (xlmig__rpc_get_bool(resp.result, "upgrading", &st->upgrading) ||
            !held || strlen(held) >= sizeof(st->held))
            rc = xlmig__error(ctx, LIBXLMIG_ERR_PROTOCOL, -1, "master %s "
                              "answered pool.rolling_get without its "
                              "state", u->conf.master);
        else
            xlmig__strlcpy(st->held, held, sizeof(st->held));
    }
    xlmig__rpc_msg_dispose(&resp);
    return rc;
}

static int op_state_set(libxlmig_ctx *ctx, void *opaque,
                        const struct xlmig__rolling_state *st)
{
    struct ru *u = opaque;
    struct xlmig__rpc_msg resp;
    const char *kv[] = { "upgrading", st->upgrading ? "?true" : "?false",
                         "held", st->held, NULL };
    int rc = xlmig__pool_call_once(ctx, &u->conf, NULL, "pool.rolling_set",
                                   kv, &resp);

    xlmig__rpc_msg_dispose(&resp);
    return rc;
}

/* host.disable / host.enable of @host at the master. */
static int set_enabled(libxlmig_ctx *ctx, struct ru *u, const char *host,
                       bool on)
{
    struct xlmig__rpc_msg resp;
    const char *kv[] = { "name", host, NULL };
    int rc = xlmig__pool_call_once(ctx, &u->conf, NULL,
                                   on ? "host.enable" : "host.disable", kv,
                                   &resp);

    xlmig__rpc_msg_dispose(&resp);
    return rc;
}

static int op_disable(libxlmig_ctx *ctx, void *opaque, const char *host)
{
    return set_enabled(ctx, opaque, host, false);
}

static int op_enable(libxlmig_ctx *ctx, void *opaque, const char *host)
{
    return set_enabled(ctx, opaque, host, true);
}

static int op_evacuate(libxlmig_ctx *ctx, void *opaque, const char *host,
                       unsigned int *moved_r)
{
    struct ru *u = opaque;
    char why[XLMIG__RPC_MESSAGE_MAX + 1];
    int st;

    fflush(stdout);
    st = xe_host_evacuate(u->a, host, u->sr, moved_r, why, sizeof(why));
    fflush(stdout);
    if (st == XLMIG__EXIT_OK)
        return 0;
    return xlmig__error(ctx, st == XLMIG__EXIT_INTERRUPTED
                        ? LIBXLMIG_ERR_CANCELLED : LIBXLMIG_ERR_VM_MIGRATE_FAILED,
                        -1, "host %s was not evacuated: %s", host,
                        why[0] ? why : "see the lines above");
}

static int op_upgrade(libxlmig_ctx *ctx, void *opaque, const char *host,
                      const char *command, unsigned int timeout_s,
                      struct xlmig__rolling_cmd_result *res)
{
    struct ru *u = opaque;
    const char *addr = addr_of(ctx, u, host);
    libxlmig_transport *t = NULL;
    struct xlmig__rpc_msg resp;
    char tmo[24];
    const char *kv[] = { "command", command, "timeout", tmo, NULL };
    const char *end, *out;
    uint64_t status = 0;
    int rc;

    memset(res, 0, sizeof(*res));
    memset(&resp, 0, sizeof(resp));
    if (!addr)
        return LIBXLMIG_ERR_NOT_FOUND;
    snprintf(tmo, sizeof(tmo), "#%u", timeout_s);
    rc = xlmig__pool_open(ctx, &u->conf, addr, &t);
    if (rc) {
        libxlmig_transport_free(t);
        return xlmig__error(ctx, LIBXLMIG_ERR_CANNOT_CONTACT_HOST, -1,
                            "host %s (%s) cannot be asked to run the upgrade "
                            "command: %s", host, addr,
                            libxlmig_ctx_last_error(ctx));
    }
    /*
     * The daemon answers when the command has ended, within its limit
     * (it kills it then); the connection ends first when the command
     * reboots the host (TCP keepalive notices a host that is gone).
     */
    rc = xlmig__pool_call(ctx, t, addr, 2, "host.upgrade", kv, NULL, NULL,
                          &resp);
    libxlmig_transport_free(t);
    if (rc && resp.is_error) {
        xlmig__rpc_msg_dispose(&resp);
        return rc;              /* refused: logged with the daemon's words */
    }
    if (rc) {
        res->end = XLMIG__ROLLING_CMD_HOST_GONE;
        xlmig__rpc_msg_dispose(&resp);
        return 0;
    }
    end = xlmig__rpc_get_str(resp.result, "end");
    out = xlmig__rpc_get_str(resp.result, "output");
    if (!end || xlmig__rpc_get_uint(resp.result, "status", &status) ||
        status > 255) {
        xlmig__rpc_msg_dispose(&resp);
        return xlmig__error(ctx, LIBXLMIG_ERR_PROTOCOL, -1, "host %s "
                            "answered host.upgrade without how the command "
                            "ended", host);
    }
    if (!strcmp(end, "exited"))
        res->end = XLMIG__ROLLING_CMD_EXITED;
    else if (!strcmp(end, "signalled"))
        res->end = XLMIG__ROLLING_CMD_SIGNALLED;
    else if (!strcmp(end, "timed_out"))
        res->end = XLMIG__ROLLING_CMD_TIMED_OUT;
    else
        rc = xlmig__error(ctx, LIBXLMIG_ERR_PROTOCOL, -1, "host %s answered "
                          "host.upgrade with an unknown end", host);
    res->status = (int)status;
    xlmig__strlcpy(res->output, out ? out : "", sizeof(res->output));
    xlmig__rpc_msg_dispose(&resp);
    return rc;
}

static int op_wait_back(libxlmig_ctx *ctx, void *opaque, const char *host,
                        unsigned int timeout_s, bool *back_r)
{
    struct ru *u = opaque;
    const char *addr = addr_of(ctx, u, host);
    double until = xlmig__now_s() + timeout_s;
    libxlmig_ctx *quiet = NULL;

    *back_r = false;
    if (!addr)
        return LIBXLMIG_ERR_NOT_FOUND;
    if (libxlmig_ctx_new(NULL, LIBXLMIG_LOG_CRITICAL, &quiet))
        return LIBXLMIG_ERR_NO_MEMORY;
    for (;;) {
        struct xlmig__rpc_msg resp;
        int rc;

        memset(&resp, 0, sizeof(resp));
        rc = xlmig__pool_call_once(quiet, &u->conf, addr, "host.facts",
                                   NULL, &resp);
        xlmig__rpc_msg_dispose(&resp);
        if (!rc) {
            *back_r = true;
            break;
        }
        if (xlmig__now_s() + BACK_POLL_MS / 1000.0 > until)
            break;
        xlmig__sleep_ms(BACK_POLL_MS);
    }
    libxlmig_ctx_free(quiet);
    return 0;
}

static int op_version(libxlmig_ctx *ctx, void *opaque, const char *host,
                      struct xlmig__rolling_version *v)
{
    struct ru *u = opaque;
    const char *addr = addr_of(ctx, u, host);

    if (!addr)
        return LIBXLMIG_ERR_NOT_FOUND;
    return version_of(ctx, u, host, addr, v);
}

static void op_report(void *opaque, const char *line)
{
    (void)opaque;
    printf("%s\n", line);
    fflush(stdout);
}

static const struct xlmig__rolling_ops ops = {
    .list_hosts = op_list_hosts,
    .state_get = op_state_get,
    .state_set = op_state_set,
    .disable = op_disable,
    .evacuate = op_evacuate,
    .upgrade = op_upgrade,
    .wait_back = op_wait_back,
    .version = op_version,
    .enable = op_enable,
    .report = op_report,
};

/* A limit in seconds, 1 to a day; 0 when not given. */
static bool seconds_arg(const struct xe_args *a, const char *key,
                        unsigned int *v_r)
{
    const char *v = xe_args_get(a, key);
    unsigned long n;

    *v_r = 0;
    if (!v)
        return true;
    if (!xlmig__cli_uint(v, XLMIG__ROLLING_TIMEOUT_MAX, &n) || !n) {
        fprintf(stderr, "INVALID_VALUE: %s=%.32s: give whole seconds, 1 to "
                "%d\n", key, v, XLMIG__ROLLING_TIMEOUT_MAX);
        return false;
    }
    *v_r = (unsigned int)n;
    return true;
}

int xe_cmd_pool_rolling_upgrade(const struct xe_args *a)
{
    struct xlmig__rolling_params p;
    struct xlmig__rolling_result *res = NULL;
    libxlmig_ctx *ctx = NULL;
    struct ru *u = NULL;
    bool ok = true, abandon;
    int rc;

    memset(&p, 0, sizeof(p));
    abandon = xe_bool_arg(a, "abandon", false, &ok);
    if (!ok)
        return XLMIG__EXIT_USAGE;
    p.command = xe_args_get(a, "upgrade-command");
    p.version = xe_args_get(a, "version");
    p.xen_version = xe_args_get(a, "xen-version");
    p.config = xe_args_get(a, "config");
    p.sr = xe_args_get(a, "sr");
    if (abandon && (p.command || p.version || p.xen_version ||
                    xe_args_get(a, "upgrade-timeout") ||
                    xe_args_get(a, "back-timeout") || xe_args_get(a, "sr"))) {
        fprintf(stderr, "INVALID_ARGUMENT: abandon=true takes only config=: "
                "it ends the pool's mid-upgrade state and touches no host\n");
        return XLMIG__EXIT_USAGE;
    }
    if (!abandon && !p.command) {
        fprintf(stderr, "MISSING_PARAMETER: pool-rolling-upgrade needs "
                "upgrade-command=CMD (or abandon=true)\n");
        return XLMIG__EXIT_USAGE;
    }
    if (!seconds_arg(a, "upgrade-timeout", &p.upgrade_timeout_s) ||
        !seconds_arg(a, "back-timeout", &p.back_timeout_s))
        return XLMIG__EXIT_USAGE;
    u = xlmig__zalloc(sizeof(*u));
    res = xlmig__zalloc(sizeof(*res));
    if (!u || !res || libxlmig_ctx_new(NULL, LIBXLMIG_LOG_CRITICAL, &ctx)) {
        rc = LIBXLMIG_ERR_NO_MEMORY;
        goto out;
    }
    u->a = a;
    u->sr = xe_args_get(a, "sr");
    rc = xlmig__pool_conf_load(ctx, p.config, &u->conf);
    if (rc)
        ;
    else if (abandon)
        rc = xlmig__rolling_abandon(ctx, &ops, u, p.config);
    else
        rc = xlmig__rolling_run(ctx, &ops, u, &p, res);
    /* The report (stdout) said it in its place; the error once more,
     * alone, where errors go. */
    if (rc && !abandon && res->error[0])
        fprintf(stderr, "%s\n", res->error);
    else if (rc)
        fprintf(stderr, "%s\n", libxlmig_ctx_last_error(ctx));
 out:
    if (rc == LIBXLMIG_ERR_NO_MEMORY && !ctx)
        fprintf(stderr, "NO_MEMORY: pool-rolling-upgrade\n");
    libxlmig_ctx_free(ctx);
    free(u);
    free(res);
    return rc ? XLMIG__EXIT_FAILED : XLMIG__EXIT_OK;
}

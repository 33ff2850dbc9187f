/* SPDX-License-Identifier: LGPL-2.1-only */
/*
 * xlmig slot-run: take a migration slot of the pool from the master's
 * xlmigd, hold it as a migration would (reporting progress), release it.
 * The building block of a migration's orchestration, and of the tests
 * and benchmarks of the slots.
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <yajl/yajl_tree.h>

#include "cli.h"
#include "cmd-slot.h"
#include "internal.h"
#include "pool-client.h"
#include "poolconf.h"
#include "rpc.h"

const char xlmig_slot_run_summary[] =
    "Take a migration slot of the pool, hold it, release it";
const char xlmig_slot_run_usage[] =
    "--vm NAME --source HOST --destination HOST [OPTIONS]\n"
    "Asks the pool master's xlmigd for a migration slot of the source pool "
    "(waiting\nin line, FIFO, unless --no-wait), holds it for --hold-ms "
    "while reporting\nprogress, then releases it.  The slot is freed too "
    "when this process dies.\n"
    "  --config FILE     the pool configuration (default $XLMIG_CONFIG or "
    XLMIG__POOLCONF_DEFAULT ")\n"
    "  --hold-ms N       how long to hold the slot (default 1000)\n"
    "  --priority        ask in the priority lane (host evacuation)\n"
    "  --no-wait         fail at once with TOO_MANY_MIGRATIONS when no slot "
    "is free\n"
    "  --help            this text\n"
    "Prints 'granted task ID after MS ms' and 'released task ID'.";

static double now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void on_event(const struct xlmig__rpc_msg *ev, void *opaque)
{
    uint64_t pos = 0;

    (void)opaque;
    if (!strcmp(ev->method, "slot.queued") &&
        !xlmig__rpc_get_uint(ev->params, "position", &pos))
        printf("slot-run: waiting, position %" PRIu64 "\n", pos);
    fflush(stdout);
}

const struct option xlmig_slot_run_options[] = {
    { "config", required_argument, NULL, 'c' },
    { "vm", required_argument, NULL, 'm' },
    { "source", required_argument, NULL, 's' },
    { "destination", required_argument, NULL, 'd' },
    { "hold-ms", required_argument, NULL, 'H' },
    { "priority", no_argument, NULL, 'p' },
    { "no-wait", no_argument, NULL, 'n' },
    { "help", no_argument, NULL, 'h' },
    { NULL, 0, NULL, 0 },
};

int xlmig_cmd_slot_run(int argc, char **argv)
{
    const char *config = NULL, *vm = NULL, *src = NULL, *dst = NULL;
    long hold = 1000;
    bool prio = false, nowait = false;
    struct xlmig__pool_conf conf;
    struct xlmig__rpc_msg resp;
    libxlmig_transport *t = NULL;
    libxlmig_ctx *ctx = NULL;
    uint64_t task = 0, id = 2;
    char num[32];
    double t0;
    int opt, rc = 1, i, steps;

    optind = 1;
    while ((opt = getopt_long(argc, argv, "h", xlmig_slot_run_options,
                              NULL)) != -1) {
        switch (opt) {
        case 'c': config = optarg; break;
        case 'm': vm = optarg; break;
        case 's': src = optarg; break;
        case 'd': dst = optarg; break;
        case 'H': {
            char *end;

            hold = strtol(optarg, &end, 10);
            if (*end || end == optarg || hold < 0 || hold > 86400000) {
                fprintf(stderr, "xlmig slot-run: --hold-ms takes 0 to "
                        "86400000\n");
                return XLMIG__EXIT_USAGE;
            }
            break;
        }
        case 'p': prio = true; break;
        case 'n': nowait = true; break;
        case 'h':
            printf("Usage: xlmig slot-run %s\n", xlmig_slot_run_usage);
            return 0;
        default:
            fprintf(stderr, "Usage: xlmig slot-run %s\n",
                    xlmig_slot_run_usage);
            return XLMIG__EXIT_USAGE;
        }
    }
    if (!vm || !src || !dst || optind < argc) {
        fprintf(stderr, "xlmig slot-run: needs --vm, --source and "
                "--destination\nUsage: xlmig slot-run %s\n",
                xlmig_slot_run_usage);
        return XLMIG__EXIT_USAGE;
    }
    if (libxlmig_ctx_new(NULL, LIBXLMIG_LOG_ERROR, &ctx))
        return XLMIG__EXIT_FAILED;
    memset(&resp, 0, sizeof(resp));
    if (xlmig__pool_conf_load(ctx, config, &conf) ||
        xlmig__pool_open(ctx, &conf, NULL, &t))
        goto out;
    t0 = now_ms();
    {
        const char *kv[] = { "vm", vm, "source", src, "destination", dst,
                             "priority", prio ? "?true" : "?false",
                             "wait", nowait ? "?false" : "?true", NULL };

        if (xlmig__pool_call(ctx, t, conf.master, id++, "slot.acquire", kv,
                             on_event, NULL, &resp) ||
            xlmig__rpc_get_uint(resp.result, "task", &task))
            goto out;
    }
    xlmig__rpc_msg_dispose(&resp);
    printf("slot-run: granted task %" PRIu64 " after %.0f ms\n", task,
           now_ms() - t0);
    fflush(stdout);
    snprintf(num, sizeof(num), "#%" PRIu64, task);
    steps = hold >= 400 ? 4 : 1;
    for (i = 1; i <= steps; i++) {
        char pct[8];
        const char *kv[] = { "task", num, "phase", "memory", "progress", pct,
                             NULL };

        usleep((useconds_t)(hold * 1000 / steps));
        snprintf(pct, sizeof(pct), "#%d", i * 100 / steps);
        if (xlmig__pool_call(ctx, t, conf.master, id++, "task.update", kv,
                             NULL, NULL, &resp))
            goto out;
        xlmig__rpc_msg_dispose(&resp);
    }
    {
        const char *kv[] = { "task", num, NULL };

        if (xlmig__pool_call(ctx, t, conf.master, id++, "slot.release", kv,
                             NULL, NULL, &resp))
            goto out;
    }
    printf("slot-run: released task %" PRIu64 "\n", task);
    rc = 0;
 out:
    xlmig__rpc_msg_dispose(&resp);
    libxlmig_transport_free(t);
    libxlmig_ctx_free(ctx);
    return rc;
}

const char xlmig_pool_stats_summary[] =
    "Show how the pool master has served migration slots";
const char xlmig_pool_stats_usage[] =
    "[--config FILE] [--json]\n"
    "One line: held, queued, limit, held_max (the most held at once), "
    "grants,\nout_of_order (normal-lane grants that broke FIFO order).\n"
    "  --json         one JSON object, those keys, numbers as values";

const struct option xlmig_pool_stats_options[] = {
    { "config", required_argument, NULL, 'c' },
    { "json", no_argument, NULL, 'j' },
    { "help", no_argument, NULL, 'h' },
    { NULL, 0, NULL, 0 },
};

int xlmig_cmd_pool_stats(int argc, char **argv)
{
    static const char *const keys[] = { "held", "queued", "limit",
                                        "held_max", "grants",
                                        "out_of_order" };
    static const char *const keys_p[] = { "held", "queued", "limit",
                                          "held_max", "grants",
                                          "out_of_order", NULL };
    struct xlmig__pool_conf conf;
    struct xlmig__rpc_msg resp;
    libxlmig_transport *t = NULL;
    libxlmig_ctx *ctx = NULL;
    struct xlmig__kv kv[6];
    const char *config = NULL;
    bool json = false;
    size_t i;
    int opt, rc = 1;

    optind = 1;
    while ((opt = getopt_long(argc, argv, "h", xlmig_pool_stats_options,
                              NULL)) != -1) {
        if (opt == 'c') {
            config = optarg;
        } else if (opt == 'j') {
            json = true;
        } else if (opt == 'h') {
            printf("Usage: xlmig pool-stats %s\n", xlmig_pool_stats_usage);
            return 0;
        } else {
            break;
        }
    }
    if (opt != -1 || optind < argc) {
        fprintf(stderr, "Usage: xlmig pool-stats %s\n",
                xlmig_pool_stats_usage);
        return XLMIG__EXIT_USAGE;
    }
    if (libxlmig_ctx_new(NULL, LIBXLMIG_LOG_ERROR, &ctx))
        return XLMIG__EXIT_FAILED;
    memset(&resp, 0, sizeof(resp));
    if (xlmig__pool_conf_load(ctx, config, &conf) ||
        xlmig__pool_open(ctx, &conf, NULL, &t) ||
        xlmig__pool_call(ctx, t, conf.master, 2, "pool.stats", NULL, NULL,
                         NULL, &resp))
        goto out;
    for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
        uint64_t v = 0;

        (void)xlmig__rpc_get_uint(resp.result, keys[i], &v);
        kv[i].key = keys[i];
        snprintf(kv[i].value, sizeof(kv[i].value), "%" PRIu64, v);
    }
    if (json) {
        if (!xlmig__cli_json_object(stdout, kv, 6, keys_p, NULL))
            goto out;
    } else {
        for (i = 0; i < 6; i++)
            printf("%s%s %s", i ? " " : "", kv[i].key, kv[i].value);
        printf("\n");
    }
    rc = 0;
 out:
    xlmig__rpc_msg_dispose(&resp);
    libxlmig_transport_free(t);
    libxlmig_ctx_free(ctx);
    return rc;
}

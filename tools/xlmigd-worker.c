/* SPDX-License-Identifier: LGPL-2.1-only */
/*
 * xlmigd --worker KIND: the processes a daemon starts for each
 * migration (docs/specs/vm-migrate.md, "Who does what").  libxl runs
 * here, never in the daemon.
 *
 *   --worker send    --task T   the source of a migration
 *   --worker receive --task T   its destination (the channel's
 *                               listening socket is fd 3)
 *   --worker recover --task T --role src|dst
 *                               a journal whose worker is gone
 *   --worker start   --vm UUID  boot a halted VM from its record
 *
 * Standard input is a pipe from the daemon: a line "detach" says the
 * daemon stops cleanly and the worker goes on alone; its end without
 * that line says the daemon died, and the worker rolls back.  Standard
 * error is the task's log.  SIGTERM or SIGINT cancels.
 */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "cpurecord.h"
#include "migrate-run.h"
#include "vmrec.h"
#include "xlmigd.h"

static volatile sig_atomic_t cancelled;
static volatile sig_atomic_t parent_died;

static void on_cancel(int sig)
{
    (void)sig;
    cancelled = 1;
}

/* Watch the pipe from the daemon (see above). */
static void *parent_watch(void *arg)
{
    char buf[64];
    size_t n = 0;

    (void)arg;
    for (;;) {
        ssize_t r = read(STDIN_FILENO, buf + n, sizeof(buf) - 1 - n);

        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            parent_died = 1;
            return NULL;
        }
        n += (size_t)r;
        buf[n] = '\0';
        if (strstr(buf, "detach\n"))
            return NULL;        /* the daemon stops cleanly: go on */
        if (n >= sizeof(buf) - 1)
            n = 0;
    }
}

static bool parent_gone(void *opaque)
{
    (void)opaque;
    return parent_died;
}

static const char usage[] =
    "Usage: xlmigd --worker send|receive --task UUID --config FILE\n"
    "              [--remote-config FILE]\n"
    "       xlmigd --worker recover --task UUID --role src|dst --config "
    "FILE\n"
    "              [--remote-config FILE]\n"
    "       xlmigd --worker start --vm UUID --config FILE\n"
    "Started by xlmigd for each migration; not for use by hand.\n";

/* The destination pool's configuration of a cross-pool task. */
static int remote_conf(libxlmig_ctx *ctx, const char *path,
                       const struct xlmig__pool_conf *mine,
                       struct xlmig__pool_conf *c)
{
    int rc = xlmig__pool_conf_load(ctx, path, c);

    if (rc)
        return rc;
    /* Its NBD TLS directory must not be this pool's. */
    {
        char dir[300];

        snprintf(dir, sizeof(dir), "%.200s/remote", mine->state_dir);
        (void)mkdir(dir, 0700);
    }
    if ((size_t)snprintf(c->state_dir, sizeof(c->state_dir), "%.200s/"
                         "remote/%.36s", mine->state_dir, c->pool_uuid) >=
        sizeof(c->state_dir))
        return xlmig__error(ctx, LIBXLMIG_ERR_INVALID_ARGUMENT, -1,
                            "state directory %s: path too long",
                            mine->state_dir);
    return 0;
}

static int start_vm(libxlmig_ctx *ctx, const struct xlmig__hv_ops *hv,
                    const char *state_dir, const char *uuid)
{
    struct xlmig__hv *h = NULL;
    char *cfg = NULL;
    uint32_t domid = 0;
    int rc;

    rc = xlmig__vmrec_config(ctx, state_dir, uuid, &cfg);
    if (!rc)
        rc = hv->open(ctx, &h);
    if (!rc)
        rc = hv->create(h, cfg, &domid);
    if (!rc)
        fprintf(stderr, "xlmigd worker: VM %s started as domain %u\n", uuid,
                domid);
    hv->close(h);
    free(cfg);
    return rc;
}

int xlmigd_worker_main(int argc, char **argv,
                       const struct xlmig__hv_ops *hv)
{
    static const struct option opts[] = {
        { "task", required_argument, NULL, 't' },
        { "role", required_argument, NULL, 'r' },
        { "config", required_argument, NULL, 'c' },
        { "remote-config", required_argument, NULL, 'R' },
        { "vm", required_argument, NULL, 'v' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    const char *kind, *task = NULL, *role = NULL, *config = NULL;
    const char *remote = NULL, *vm = NULL;
    struct xlmig__pool_conf conf, rconf;
    struct xlmig__mig_run run;
    libxlmig_ctx *ctx = NULL;
    pthread_t watcher;
    int opt, rc;

    if (argc < 2 || !strcmp(argv[1], "--help")) {
        fputs(usage, argc < 2 ? stderr : stdout);
        return argc < 2 ? XLMIG__EXIT_USAGE : XLMIG__EXIT_OK;
    }
    kind = argv[1];
    optind = 2;
    while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (opt) {
        case 't': task = optarg; break;
        case 'r': role = optarg; break;
        case 'c': config = optarg; break;
        case 'R': remote = optarg; break;
        case 'v': vm = optarg; break;
        case 'h': fputs(usage, stdout); return 0;
        default: fputs(usage, stderr); return XLMIG__EXIT_USAGE;
        }
    }
    if (!config || (strcmp(kind, "start") ? !task : !vm) ||
        (!strcmp(kind, "recover") && !role)) {
        fputs(usage, stderr);
        return XLMIG__EXIT_USAGE;
    }
    signal(SIGPIPE, SIG_IGN);
    xlmig__cli_on_stop(on_cancel);
    setvbuf(stderr, NULL, _IOLBF, 0);
    if (libxlmig_ctx_new(NULL, LIBXLMIG_LOG_INFO, &ctx))
        return XLMIG__EXIT_FAILED;
    rc = xlmig__pool_conf_load(ctx, config, &conf);
    if (!rc && remote)
        rc = remote_conf(ctx, remote, &conf, &rconf);
    if (rc)
        goto out;
    if (!pthread_create(&watcher, NULL, parent_watch, NULL))
        pthread_detach(watcher);
    memset(&run, 0, sizeof(run));
    run.hv = hv;
    run.state_dir = conf.state_dir;
    run.conf = &conf;
    run.dconf = remote ? &rconf : &conf;
    run.task = task;
    run.cancel = &cancelled;
    run.parent_gone = parent_gone;
    run.listen_fd = 3;
    if (!strcmp(kind, "send"))
        rc = xlmig__mig_send_run(ctx, &run);
    else if (!strcmp(kind, "receive"))
        rc = xlmig__mig_recv_run(ctx, &run);
    else if (!strcmp(kind, "recover"))
        rc = xlmig__mig_recover(ctx, &run, strcmp(role, "dst")
                                               ? XLMIG__MIG_SRC
                                               : XLMIG__MIG_DST);
    else if (!strcmp(kind, "start"))
        rc = start_vm(ctx, hv, conf.state_dir, vm);
    else {
        fputs(usage, stderr);
        rc = LIBXLMIG_ERR_INVALID_ARGUMENT;
    }
 out:
    libxlmig_ctx_free(ctx);
    return rc ? XLMIG__EXIT_FAILED : XLMIG__EXIT_OK;
}

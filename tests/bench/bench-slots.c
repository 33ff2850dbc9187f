/* SPDX-License-Identifier: LGPL-2.1-only */
/*
 * bench-slots: migration slots of a pool master under contention.
 * Starts a real xlmigd (pool master, TLS with a pre-shared key, on
 * 127.0.0.1), then 50 contenders, each on its own TLS connection, take a
 * slot, hold it for --hold-us, release it, and again, for --seconds.
 * Prints the acquire latency (request sent -> slot granted; includes the
 * wait in line) and the throughput (slots granted per second), for the
 * default limit (3) and for 50.  The daemon's own count of the most slots
 * held at once is printed beside it: never more than the limit.
 *
 * Environment: XLMIGD_BIN (default $B/xlmigd, else build/xlmigd).
 */
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"
#include "pool-client.h"
#include "poolconf.h"
#include "rpc.h"

#define CONTENDERS 50
#define MAX_SAMPLES 2000000

static struct xlmig__pool_conf conf;
static double stop_at;
static unsigned hold_us = 200;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static double *lat;
static size_t nlat;
static unsigned errors;

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *what)
{
    fprintf(stderr, "bench-slots: %s\n", what);
    exit(1);
}

static void *contender(void *arg)
{
    libxlmig_ctx *ctx = NULL;
    libxlmig_transport *t = NULL;
    struct xlmig__rpc_msg resp;
    uint64_t id = 2, task;
    char vm[32], num[32];
    long n = (long)(intptr_t)arg;

    snprintf(vm, sizeof(vm), "vm%ld", n);
    if (libxlmig_ctx_new(NULL, LIBXLMIG_LOG_ERROR, &ctx) ||
        xlmig__pool_open(ctx, &conf, NULL, &t)) {
        pthread_mutex_lock(&lock);
        errors++;
        pthread_mutex_unlock(&lock);
        libxlmig_ctx_free(ctx);
        return NULL;
    }
    while (now_s() < stop_at) {
        const char *acq[] = { "vm", vm, "source", "h1", "destination", "h2",
                              NULL };
        const char *rel[] = { "task", num, NULL };
        double t0 = now_s(), dt;

        memset(&resp, 0, sizeof(resp));
        if (xlmig__pool_call(ctx, t, conf.master, id++, "slot.acquire", acq,
                             NULL, NULL, &resp) ||
            xlmig__rpc_get_uint(resp.result, "task", &task)) {
            xlmig__rpc_msg_dispose(&resp);
            errors++;
            break;
        }
        dt = now_s() - t0;
        xlmig__rpc_msg_dispose(&resp);
        pthread_mutex_lock(&lock);
        if (nlat < MAX_SAMPLES)
            lat[nlat++] = dt;
        pthread_mutex_unlock(&lock);
        usleep(hold_us);
        snprintf(num, sizeof(num), "#%" PRIu64, task);
        if (xlmig__pool_call(ctx, t, conf.master, id++, "slot.release", rel,
                             NULL, NULL, &resp)) {
            xlmig__rpc_msg_dispose(&resp);
            errors++;
            break;
        }
        xlmig__rpc_msg_dispose(&resp);
    }
    libxlmig_transport_free(t);
    libxlmig_ctx_free(ctx);
    return NULL;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return x < y ? -1 : x > y;
}

static void set_limit(unsigned limit)
{
    libxlmig_ctx *ctx = NULL;
    libxlmig_transport *t = NULL;
    struct xlmig__rpc_msg resp;
    char v[16];
    const char *kv[] = { "key", "migration-concurrency", "value", v, NULL };

    snprintf(v, sizeof(v), "%u", limit);
    memset(&resp, 0, sizeof(resp));
    if (libxlmig_ctx_new(NULL, LIBXLMIG_LOG_ERROR, &ctx) ||
        xlmig__pool_open(ctx, &conf, NULL, &t) ||
        xlmig__pool_call(ctx, t, conf.master, 2, "pool.param_set", kv, NULL,
                         NULL, &resp))
        die("cannot set migration-concurrency");
    xlmig__rpc_msg_dispose(&resp);
    libxlmig_transport_free(t);
    libxlmig_ctx_free(ctx);
}

static uint64_t held_max(void)
{
    libxlmig_ctx *ctx = NULL;
    libxlmig_transport *t = NULL;
    struct xlmig__rpc_msg resp;
    uint64_t v = 0;

    memset(&resp, 0, sizeof(resp));
    if (libxlmig_ctx_new(NULL, LIBXLMIG_LOG_ERROR, &ctx) ||
        xlmig__pool_open(ctx, &conf, NULL, &t) ||
        xlmig__pool_call(ctx, t, conf.master, 2, "pool.stats", NULL, NULL,
                         NULL, &resp))
        die("cannot read the pool's stats");
    (void)xlmig__rpc_get_uint(resp.result, "held_max", &v);
    xlmig__rpc_msg_dispose(&resp);
    libxlmig_transport_free(t);
    libxlmig_ctx_free(ctx);
    return v;
}

static void run(unsigned limit, double seconds)
{
    pthread_t tids[CONTENDERS];
    double t0;
    long i;

    set_limit(limit);
    nlat = 0;
    errors = 0;
    t0 = now_s();
    stop_at = t0 + seconds;
    for (i = 0; i < CONTENDERS; i++)
        pthread_create(&tids[i], NULL, contender, (void *)(intptr_t)i);
    for (i = 0; i < CONTENDERS; i++)
        pthread_join(tids[i], NULL);
    t0 = now_s() - t0;
    qsort(lat, nlat, sizeof(lat[0]), cmp);
    printf("limit %2u, %d contenders, hold %u us: %7.0f grants/s; acquire "
           "latency p50 %6.2f ms, p99 %7.2f ms, max %7.2f ms; held at "
           "most %" PRIu64 " at once; errors %u\n", limit, CONTENDERS,
           hold_us, (double)nlat / t0,
           nlat ? lat[nlat / 2] * 1e3 : 0.0,
           nlat ? lat[nlat * 99 / 100] * 1e3 : 0.0,
           nlat ? lat[nlat - 1] * 1e3 : 0.0, held_max(), errors);
    fflush(stdout);
}

int main(int argc, char **argv)
{
    char dir[] = "/tmp/bench-slots-XXXXXX", path[128], bin[512];
    const char *b = getenv("B");
    double seconds = 5;
    libxlmig_ctx *ctx = NULL;
    FILE *f;
    pid_t pid;
    int i, port;

    for (i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--seconds") && i + 1 < argc)
            seconds = atof(argv[++i]);
        else if (!strcmp(argv[i], "--hold-us") && i + 1 < argc)
            hold_us = (unsigned)atoi(argv[++i]);
        else
            die("usage: bench-slots [--seconds S] [--hold-us N]");
    }
    signal(SIGPIPE, SIG_IGN);
    lat = malloc(sizeof(*lat) * MAX_SAMPLES);
    if (!lat || !mkdtemp(dir))
        die("setup");
    if (getenv("XLMIGD_BIN"))
        snprintf(bin, sizeof(bin), "%s", getenv("XLMIGD_BIN"));
    else
        snprintf(bin, sizeof(bin), "%s/xlmigd", b ? b : "build");
    srand((unsigned)time(NULL) ^ (unsigned)getpid());
    port = 30000 + rand() % 20000;
    snprintf(path, sizeof(path), "%s/psk", dir);
    f = fopen(path, "w");
    for (i = 0; f && i < 32; i++)
        fprintf(f, "%02x", rand() & 0xff);
    if (!f || fclose(f))
        die("psk");
    snprintf(path, sizeof(path), "%s/xlmigd.conf", dir);
    f = fopen(path, "w");
    if (!f)
        die("config");
    fprintf(f, "name = h1\naddress = 127.0.0.1:%d\nmaster = 127.0.0.1:%d\n"
            "pool-name = bench\npool-uuid = 0b1c2d3e-4f50-4617-8829-"
            "3a4b5c6d7e8f\npsk-file = %s/psk\nstate-dir = %s/state\n", port,
            port, dir, dir);
    fclose(f);
    pid = fork();
    if (pid == 0) {
        int devnull = open("/dev/null", O_WRONLY);

        dup2(devnull, 2);
        execl(bin, "xlmigd", "--foreground", "--config", path, (char *)NULL);
        _exit(127);
    }
    if (libxlmig_ctx_new(NULL, LIBXLMIG_LOG_ERROR, &ctx) ||
        xlmig__pool_conf_load(ctx, path, &conf))
        die("cannot read the configuration");
    for (i = 0; i < 100; i++) {
        libxlmig_transport *t = NULL;
        libxlmig_ctx *q = NULL;

        libxlmig_ctx_new(NULL, LIBXLMIG_LOG_CRITICAL, &q);
        if (!xlmig__pool_open(q, &conf, NULL, &t)) {
            libxlmig_transport_free(t);
            libxlmig_ctx_free(q);
            break;
        }
        libxlmig_ctx_free(q);
        usleep(100000);
    }
    if (i == 100)
        die("xlmigd did not start (set XLMIGD_BIN?)");

    printf("\n== migration slots: one xlmigd pool master on 127.0.0.1 (TLS "
           "1.3, PSK), %.0f s each\n", seconds);
    run(3, seconds);
    run(50, seconds);

    kill(pid, SIGTERM);
    for (i = 0; i < 50 && waitpid(pid, NULL, WNOHANG) == 0; i++)
        usleep(100000);
    if (i == 50) {
        fprintf(stderr, "bench-slots: xlmigd did not stop on SIGTERM\n");
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
    }
    libxlmig_ctx_free(ctx);
    snprintf(path, sizeof(path), "rm -rf '%s'", dir);
    if (system(path))
        return 1;
    return 0;
}

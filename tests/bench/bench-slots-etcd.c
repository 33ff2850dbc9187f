/* SPDX-License-Identifier: LGPL-2.1-only */
/*
 * bench-slots-etcd: a pool's migration slots on etcd under contention,
 * beside bench-slots (one xlmigd pool master): a three-member etcd
 * cluster with TLS on 127.0.0.1-3 (tests/integration/etcd-cluster.sh),
 * then 50 contenders, each with its own client and lease, queue for a
 * slot (libxlmig/etcd-slots.h), hold it for --hold-us, give it back, and
 * again, for --seconds.  Prints the acquire latency (queued -> granted,
 * the wait in line included) and the throughput (slots granted per
 * second) for the default limit (3) and for 50, in bench-slots's words,
 * and the most slots the contenders saw held at once: never more than
 * the limit.
 *
 * Needs Debian's etcd-server and etcd-client; run from the top of the
 * tree (it runs tests/integration/etcd-cluster.sh).
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "etcd-slots.h"
#include "internal.h"

#define CONTENDERS 50
#define MAX_SAMPLES 2000000
#define SCRIPT "tests/integration/etcd-cluster.sh"

static char dir[64], endpoints[1024], ca[128], cert[128], key[128];
static char prefix[64];
static double stop_at;
static unsigned hold_us = 200;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static double *lat;
static size_t nlat;
static unsigned errors, held, held_max;

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *what)
{
    fprintf(stderr, "bench-slots-etcd: %s\n", what);
    exit(1);
}

static struct xlmig__etcd *client(libxlmig_ctx *ctx)
{
    struct xlmig__etcd_conf conf = {
        .endpoints = endpoints, .ca_file = ca, .cert_file = cert,
        .key_file = key, .timeout_ms = 5000,
    };
    struct xlmig__etcd *e = NULL;

    return xlmig__etcd_new(ctx, &conf, &e) ? NULL : e;
}

static void *contender(void *arg)
{
    long n = (long)(intptr_t)arg;
    libxlmig_ctx *ctx = NULL;
    struct xlmig__etcd *e = NULL;
    struct xlmig__etcd_slot slot;
    int64_t lease = 0;
    uint64_t task = (uint64_t)(n + 1) << 32;
    bool failed = false;

    if (libxlmig_ctx_new(NULL, LIBXLMIG_LOG_ERROR, &ctx) ||
        !(e = client(ctx)) || xlmig__etcd_lease_grant(e, 60, &lease))
        failed = true;
    while (!failed && now_s() < stop_at) {
        double t0 = now_s(), dt;

        if (xlmig__etcd_slot_enqueue(ctx, e, prefix, ++task, "h1", lease,
                                     &slot) ||
            xlmig__etcd_slot_wait(ctx, e, prefix, &slot, 3, 60000, NULL,
                                  NULL)) {
            failed = true;
            break;
        }
        dt = now_s() - t0;
        pthread_mutex_lock(&lock);
        if (nlat < MAX_SAMPLES)
            lat[nlat++] = dt;
        if (++held > held_max)
            held_max = held;
        pthread_mutex_unlock(&lock);
        usleep(hold_us);
        pthread_mutex_lock(&lock);
        held--;
        pthread_mutex_unlock(&lock);
        if (xlmig__etcd_slot_release(ctx, e, &slot))
            failed = true;
    }
    if (failed) {
        pthread_mutex_lock(&lock);
        if (!errors++)
            fprintf(stderr, "bench-slots-etcd: contender %ld: %s\n", n,
                    ctx ? libxlmig_ctx_last_error(ctx) : "no context");
        pthread_mutex_unlock(&lock);
    }
    if (lease)
        (void)xlmig__etcd_lease_revoke(e, lease);
    xlmig__etcd_free(e);
    libxlmig_ctx_free(ctx);
    return NULL;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return x < y ? -1 : x > y;
}

static void run(unsigned limit, double seconds)
{
    pthread_t tids[CONTENDERS];
    libxlmig_ctx *ctx = NULL;
    struct xlmig__etcd *e;
    double t0;
    long i;

    if (libxlmig_ctx_new(NULL, LIBXLMIG_LOG_ERROR, &ctx) ||
        !(e = client(ctx)))
        die("no etcd client");
    snprintf(prefix, sizeof(prefix), "/bench/%d/limit%u", (int)getpid(),
             limit);
    if (xlmig__etcd_slots_limit_set(ctx, e, prefix, limit))
        die(libxlmig_ctx_last_error(ctx));
    xlmig__etcd_free(e);
    libxlmig_ctx_free(ctx);
    nlat = 0;
    errors = 0;
    held_max = 0;
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
           "most %u at once; errors %u\n", limit, CONTENDERS, hold_us,
           (double)nlat / t0, nlat ? lat[nlat / 2] * 1e3 : 0.0,
           nlat ? lat[nlat * 99 / 100] * 1e3 : 0.0,
           nlat ? lat[nlat - 1] * 1e3 : 0.0, held_max, errors);
    fflush(stdout);
}

static int cluster(const char *verb)
{
    char cmd[256];

    snprintf(cmd, sizeof(cmd), "bash %s %s %s >&2", SCRIPT, verb, dir);
    return system(cmd);
}

int main(int argc, char **argv)
{
    double seconds = 5;
    char path[128];
    size_t n;
    FILE *f;
    int i, rc = 0;

    for (i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--seconds") && i + 1 < argc)
            seconds = atof(argv[++i]);
        else if (!strcmp(argv[i], "--hold-us") && i + 1 < argc)
            hold_us = (unsigned)atoi(argv[++i]);
        else
            die("usage: bench-slots-etcd [--seconds S] [--hold-us N]");
    }
    lat = malloc(sizeof(*lat) * MAX_SAMPLES);
    strcpy(dir, "/tmp/bench-slots-etcd.XXXXXX");
    if (!lat || !mkdtemp(dir))
        die("setup");
    {
        char pid[24];

        /* The cluster goes with this process, however it ends. */
        snprintf(pid, sizeof(pid), "%d", (int)getpid());
        setenv("XLMIG_CLUSTER_OWNER", pid, 1);
    }
    if (cluster("start"))
        die("no etcd cluster (" SCRIPT " start failed; etcd-server "
            "installed?)");
    snprintf(path, sizeof(path), "%s/endpoints", dir);
    f = fopen(path, "r");
    if (!f)
        die("no endpoints");
    n = fread(endpoints, 1, sizeof(endpoints) - 1, f);
    fclose(f);
    while (n && (endpoints[n - 1] == '\n' || endpoints[n - 1] == ' '))
        n--;
    endpoints[n] = 0;
    snprintf(ca, sizeof(ca), "%s/certs/ca.pem", dir);
    snprintf(cert, sizeof(cert), "%s/certs/host1.pem", dir);
    snprintf(key, sizeof(key), "%s/certs/host1.key", dir);

    printf("\n== migration slots on etcd: a three-member etcd 3.4 cluster "
           "on 127.0.0.1-3 (TLS), no master, %.0f s each\n", seconds);
    run(3, seconds);
    if (errors)
        rc = 1;
    run(50, seconds);
    if (errors)
        rc = 1;
    cluster("stop");
    snprintf(path, sizeof(path), "rm -rf '%s'", dir);
    if (system(path))
        rc = 1;
    return rc;
}

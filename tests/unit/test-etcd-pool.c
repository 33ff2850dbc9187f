/* SPDX-License-Identifier: LGPL-2.1-only */
/*
 * A pool on etcd: its state (libxlmig/etcd-state.c) and its migration
 * slots (libxlmig/etcd-slots.c), against a real three-member etcd
 * cluster with TLS on 127.0.0.1-3 that the test starts
 * (tests/integration/etcd-cluster.sh; the test fails without etcd).
 * State: created from nothing, two hosts changing it at once (no change
 * lost), keys that are no part (named, left out, written over), a change
 * that fails (nothing written), one too big for a transaction (refused,
 * nothing written), the slots' limit kept with the head, a
 * whole state copied in (hosts and migrations in order, over many
 * transactions; never over a pool), task ids taken by four at once.
 * Slots: 60 racers against limit 3 (never more than 3 held, first in
 * first out, all finish), the same with a member killed mid-race, a
 * holder whose lease expires (its slot frees with nobody's help), a
 * limit raised (a waiter wakes) and lowered (nothing revoked), a key
 * that is no slot (counted in its place, named, no crash), enqueue
 * repeated and taken, a waiter cancelled, and two members of three
 * gone (a named error at once, the held slot kept, the queue going on
 * when one is back).  Sessions (libxlmig/etcd-session.c): a lease kept
 * past its TTL (a member killed meanwhile), its keys gone when renewals
 * stop (at once when it is revoked), and lost when etcd cannot be
 * reached for longer than its TTL.
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "etcd-session.h"
#include "etcd-slots.h"
#include "etcd-state.h"
#include "internal.h"
#include "testctx.h"

#define SCRIPT "tests/integration/etcd-cluster.sh"
#define RACERS 60
#define LIMIT 3

static char dir[64];
static char endpoints[1024];
static char ca[128], cert[128], key[128];
static int prefix_seq;

static int cluster(const char *verb, int member)
{
    char cmd[512];

    if (member)
        snprintf(cmd, sizeof(cmd), "bash %s %s %s %d >&2", SCRIPT, verb, dir,
                 member);
    else
        snprintf(cmd, sizeof(cmd), "bash %s %s %s >&2", SCRIPT, verb, dir);
    return system(cmd);
}

static int setup(void **state)
{
    char path[128];
    FILE *f;
    size_t n;

    if (group_setup(state))
        return -1;
    strcpy(dir, "/tmp/test-etcd-pool.XXXXXX");
    if (!mkdtemp(dir))
        return -1;
    {
        char pid[24];

        /* The cluster goes with this process, however it ends. */
        snprintf(pid, sizeof(pid), "%d", (int)getpid());
        setenv("XLMIG_CLUSTER_OWNER", pid, 1);
    }
    if (cluster("start", 0)) {
        fprintf(stderr, "test-etcd-pool: %s start %s failed (is Debian's "
                "etcd-server installed?)\n", SCRIPT, dir);
        return -1;
    }
    snprintf(path, sizeof(path), "%s/endpoints", dir);
    f = fopen(path, "r");
    if (!f)
        return -1;
    n = fread(endpoints, 1, sizeof(endpoints) - 1, f);
    fclose(f);
    while (n && (endpoints[n - 1] == '\n' || endpoints[n - 1] == ' '))
        n--;
    endpoints[n] = 0;
    snprintf(ca, sizeof(ca), "%s/certs/ca.pem", dir);
    snprintf(cert, sizeof(cert), "%s/certs/host1.pem", dir);
    snprintf(key, sizeof(key), "%s/certs/host1.key", dir);
    return 0;
}

static int teardown(void **state)
{
    char cmd[128];

    if (dir[0]) {
        cluster("stop", 0);
        snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
        if (system(cmd))
            fprintf(stderr, "test-etcd-pool: could not remove %s\n", dir);
    }
    return group_teardown(state);
}

static struct xlmig__etcd *client(libxlmig_ctx *c)
{
    struct xlmig__etcd_conf conf = {
        .endpoints = endpoints, .ca_file = ca, .cert_file = cert,
        .key_file = key, .timeout_ms = 2000,
    };
    struct xlmig__etcd *e = NULL;

    if (xlmig__etcd_new(c, &conf, &e))
        fail_msg("etcd client: %s", libxlmig_ctx_last_error(c));
    return e;
}

/* A prefix of its own for each test. */
static void new_prefix(char *p, size_t len)
{
    snprintf(p, len, "/xlmig-test/%d/pool%d", (int)getpid(), ++prefix_seq);
}

static uint64_t ms_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* ------------------------------------------------------------ state */

static int add_h1(libxlmig_ctx *c, struct xlmig__pool_state *st, void *arg)
{
    int rc = xlmig__pool_identity_set(c, st, "pool-a",
                                      "6f1c0d52-3c1e-4b8e-9a7e-2b1f0c9d8e7a");

    (void)arg;
    if (!rc)
        rc = xlmig__pool_member_add(c, st, "h1", "127.0.0.1:8555", 1);
    return rc;
}

static void test_state_created(void **state)
{
    struct xlmig__etcd *e = client(ctx);
    struct xlmig__pool_state st, written;
    unsigned limit = 0;
    bool missing = false;
    char p[128];

    (void)state;
    new_prefix(p, sizeof(p));
    xlmig__pool_state_init(&st);
    xlmig__pool_state_init(&written);
    assert_ok(xlmig__etcd_state_load(ctx, e, p, &st, &missing));
    assert_true(missing);
    assert_int_equal(st.nr_members, 0);
    assert_int_equal(st.concurrency, XLMIG__POOL_CONCURRENCY_DEFAULT);
    assert_ok(xlmig__etcd_state_update(ctx, e, p, add_h1, NULL, &written));
    assert_ok(xlmig__etcd_state_load(ctx, e, p, &st, &missing));
    assert_false(missing);
    assert_true(xlmig__pool_state_equal(&st, &written));
    assert_string_equal(st.members[0].address, "127.0.0.1:8555");
    assert_ok(xlmig__etcd_slots_limit_get(ctx, e, p, 9, &limit));
    assert_int_equal(limit, XLMIG__POOL_CONCURRENCY_DEFAULT);
    /* The same change again: the host is there, and nothing is written. */
    assert_int_equal(xlmig__etcd_state_update(ctx, e, p, add_h1, NULL, NULL),
                     LIBXLMIG_ERR_INVALID_ARGUMENT);
    xlmig__pool_state_dispose(&st);
    xlmig__pool_state_dispose(&written);
    xlmig__etcd_free(e);
}

/* Read-modify-write of a setting and a task per call: a lost update
 * shows as a count short at the end. */
struct bump {
    const char *param;
    uint64_t task;
};

static int bump_change(libxlmig_ctx *c, struct xlmig__pool_state *st,
                       void *arg)
{
    struct bump *b = arg;
    struct xlmig__pool_task t;
    char v[XLMIG__POOL_PARAM_VALUE_MAX];
    int rc;

    rc = xlmig__pool_param_get(c, st, b->param, v, sizeof(v));
    if (rc)
        return rc;
    snprintf(v, sizeof(v), "%lu", strtoul(v, NULL, 10) + 1);
    rc = xlmig__pool_param_set(c, st, b->param, v);
    if (rc)
        return rc;
    memset(&t, 0, sizeof(t));
    t.id = b->task;
    strcpy(t.vm, "vm");
    strcpy(t.source, "h1");
    strcpy(t.destination, "h2");
    strcpy(t.phase, "queued");
    return xlmig__pool_task_add(c, st, &t);
}

#define BUMPS 20
static char bump_prefix[128];

static void *bumper_main(void *arg)
{
    struct bump b = { .param = arg };
    struct capture_logger lg;
    libxlmig_ctx *c = NULL;
    struct xlmig__etcd *e;
    intptr_t failed = 0;
    int i;

    capture_init(&lg);
    if (libxlmig_ctx_new(&lg.vtable, LIBXLMIG_LOG_DEBUG, &c))
        return (void *)1;
    e = client(c);
    for (i = 0; i < BUMPS; i++) {
        b.task = (strcmp(b.param, "wlb-hook-timeout") ? 1000u : 2000u) +
                 (uint64_t)i;
        if (xlmig__etcd_state_update(c, e, bump_prefix, bump_change, &b,
                                     NULL)) {
            fprintf(stderr, "bump %s %d: %s\n", b.param, i,
                    libxlmig_ctx_last_error(c));
            failed = 1;
            break;
        }
    }
    xlmig__etcd_free(e);
    libxlmig_ctx_free(c);
    return (void *)failed;
}

static int set_low(libxlmig_ctx *c, struct xlmig__pool_state *st, void *arg)
{
    int rc = xlmig__pool_param_set(c, st, "migration-concurrency", "1");

    (void)arg;
    return rc ? rc : xlmig__pool_param_set(c, st, "wlb-hook-timeout", "1");
}

static void test_state_two_writers(void **state)
{
    struct xlmig__etcd *e = client(ctx);
    struct xlmig__pool_state st;
    pthread_t a, b;
    void *ra, *rb;
    unsigned limit = 0;

    (void)state;
    new_prefix(bump_prefix, sizeof(bump_prefix));
    assert_ok(xlmig__etcd_state_update(ctx, e, bump_prefix, set_low, NULL,
                                       NULL));
    assert_int_equal(pthread_create(&a, NULL, bumper_main,
                                    (void *)"migration-concurrency"), 0);
    assert_int_equal(pthread_create(&b, NULL, bumper_main,
                                    (void *)"wlb-hook-timeout"), 0);
    pthread_join(a, &ra);
    pthread_join(b, &rb);
    assert_null(ra);
    assert_null(rb);
    xlmig__pool_state_init(&st);
    assert_ok(xlmig__etcd_state_load(ctx, e, bump_prefix, &st, NULL));
    assert_int_equal(st.concurrency, 1 + BUMPS);
    assert_int_equal(st.wlb_hook_timeout, 1 + BUMPS);
    assert_int_equal(st.nr_tasks, 2 * BUMPS);
    assert_ok(xlmig__etcd_slots_limit_get(ctx, e, bump_prefix, 9, &limit));
    assert_int_equal(limit, 1 + BUMPS);
    xlmig__pool_state_dispose(&st);
    xlmig__etcd_free(e);
}

static int add_hx(libxlmig_ctx *c, struct xlmig__pool_state *st, void *arg)
{
    (void)arg;
    return xlmig__pool_member_add(c, st, "hx", "127.0.0.2:8555", 2);
}

static int bad_param(libxlmig_ctx *c, struct xlmig__pool_state *st,
                     void *arg)
{
    int rc = xlmig__pool_member_add(c, st, "h9", "127.0.0.3:8555", 3);

    (void)arg;
    return rc ? rc : xlmig__pool_param_set(c, st, "migration-concurrency",
                                           "51");
}

static void test_state_bad_keys(void **state)
{
    struct xlmig__etcd *e = client(ctx);
    struct xlmig__pool_state st;
    char p[128], k[256];
    size_t kl;

    (void)state;
    new_prefix(p, sizeof(p));
    assert_ok(xlmig__etcd_state_update(ctx, e, p, add_h1, NULL, NULL));
    kl = (size_t)snprintf(k, sizeof(k), "%s/members/hx", p);
    assert_ok(xlmig__etcd_put(e, k, kl, "{\"name\":", 8, 0, NULL));
    kl = (size_t)snprintf(k, sizeof(k), "%s/members/hy", p);
    {
        static const char hz[] = "{\"name\":\"hz\",\"address\":\"a:1\","
                                 "\"joined\":1}";

        assert_ok(xlmig__etcd_put(e, k, kl, hz, strlen(hz), 0, NULL));
    }
    kl = (size_t)snprintf(k, sizeof(k), "%s/tasks/zz", p);
    assert_ok(xlmig__etcd_put(e, k, kl, "\x00\x01", 2, 0, NULL));
    xlmig__pool_state_init(&st);
    reset_log();
    assert_ok(xlmig__etcd_state_load(ctx, e, p, &st, NULL));
    assert_int_equal(st.nr_members, 1);
    assert_int_equal(st.nr_tasks, 0);
    assert_non_null(strstr(cap.text, "members/hx left out"));
    assert_non_null(strstr(cap.text, "members/hy left out: its host has "
                                     "another name"));
    assert_non_null(strstr(cap.text, "tasks/zz left out"));
    /* A host of that name added: written over the key that was no part. */
    assert_ok(xlmig__etcd_state_update(ctx, e, p, add_hx, NULL, NULL));
    assert_ok(xlmig__etcd_state_load(ctx, e, p, &st, NULL));
    assert_int_equal(st.nr_members, 2);
    assert_non_null(xlmig__pool_member_find(&st, "hx"));
    /* A change that fails: its error, and nothing of it written. */
    assert_int_equal(xlmig__etcd_state_update(ctx, e, p, bad_param, NULL,
                                              NULL),
                     LIBXLMIG_ERR_INVALID_ARGUMENT);
    assert_ok(xlmig__etcd_state_load(ctx, e, p, &st, NULL));
    assert_null(xlmig__pool_member_find(&st, "h9"));
    assert_int_equal(xlmig__etcd_state_load(ctx, e, "/bad/", &st, NULL),
                     LIBXLMIG_ERR_INVALID_ARGUMENT);
    xlmig__pool_state_dispose(&st);
    xlmig__etcd_free(e);
}

/* A change of more parts than one transaction holds: refused, and
 * nothing of it written; one part fewer goes through. */
static int add_hosts(libxlmig_ctx *c, struct xlmig__pool_state *st,
                     void *arg)
{
    size_t i, n = *(size_t *)arg;
    char name[32], addr[48];
    int rc = xlmig__pool_identity_set(c, st, "pool-many", "");

    for (i = 0; !rc && i < n; i++) {
        snprintf(name, sizeof(name), "m%zu", i);
        snprintf(addr, sizeof(addr), "10.1.0.%zu:7700", i);
        rc = xlmig__pool_member_add(c, st, name, addr, 1);
    }
    return rc;
}

static void test_state_change_too_big(void **state)
{
    struct xlmig__etcd *e = client(ctx);
    struct xlmig__pool_state st;
    size_t n = XLMIG__ETCD_TXN_OPS_MAX - 1;    /* and the head */
    bool missing = false;
    char p[128];

    (void)state;
    new_prefix(p, sizeof(p));
    reset_log();
    assert_int_equal(xlmig__etcd_state_update(ctx, e, p, add_hosts, &n,
                                              NULL),
                     LIBXLMIG_ERR_UNSUPPORTED);
    assert_non_null(strstr(cap.text, "parts changed at once"));
    xlmig__pool_state_init(&st);
    assert_ok(xlmig__etcd_state_load(ctx, e, p, &st, &missing));
    assert_true(missing);
    assert_int_equal(st.nr_members, 0);
    n--;
    assert_ok(xlmig__etcd_state_update(ctx, e, p, add_hosts, &n, NULL));
    assert_ok(xlmig__etcd_state_load(ctx, e, p, &st, &missing));
    assert_false(missing);
    assert_int_equal(st.nr_members, n);
    xlmig__pool_state_dispose(&st);
    xlmig__etcd_free(e);
}

/* A pool kept in pool.json copied to etcd whole: every host and every
 * migration, in order, across many transactions; never over a pool. */
static void test_state_import(void **state)
{
    struct xlmig__etcd *e = client(ctx);
    struct xlmig__pool_state st, back;
    char p[128], name[16], addr[32];
    unsigned limit = 0;
    bool missing = true;
    size_t i;

    (void)state;
    new_prefix(p, sizeof(p));
    xlmig__pool_state_init(&st);
    xlmig__pool_state_init(&back);
    assert_ok(xlmig__pool_identity_set(ctx, &st, "pool-big",
                                       "0b1c2d3e-4f50-4617-8829-3a4b5c6d7e8f"));
    assert_ok(xlmig__pool_param_set(ctx, &st, "migration-concurrency", "7"));
    for (i = 0; i < XLMIG__POOL_MEMBERS_MAX; i++) {
        snprintf(name, sizeof(name), "h%zu", i);
        snprintf(addr, sizeof(addr), "10.0.0.%zu:7700", i);
        assert_ok(xlmig__pool_member_add(ctx, &st, name, addr, (int64_t)i));
    }
    for (i = 0; i < 300; i++) {
        struct xlmig__pool_task t;

        memset(&t, 0, sizeof(t));
        t.id = 5 + i * 3;
        snprintf(t.vm, sizeof(t.vm), "vm%zu", i);
        strcpy(t.source, "h1");
        strcpy(t.destination, "h2");
        strcpy(t.phase, i % 2 ? "running" : "queued");
        t.progress = (unsigned)(i % 101);
        t.priority = i % 7 == 0;
        assert_ok(xlmig__pool_task_add(ctx, &st, &t));
    }
    assert_ok(xlmig__etcd_state_import(ctx, e, p, &st));
    assert_ok(xlmig__etcd_state_load(ctx, e, p, &back, &missing));
    assert_false(missing);
    assert_true(xlmig__pool_state_equal(&st, &back));
    assert_ok(xlmig__etcd_slots_limit_get(ctx, e, p, 3, &limit));
    assert_int_equal(limit, 7);
    /* New migrations take ids above every copied one. */
    {
        uint64_t id = 0;

        assert_ok(xlmig__etcd_state_next_task(ctx, e, p, &id));
        assert_int_equal(id, 5 + 299 * 3 + 1);
    }
    reset_log();
    assert_int_equal(xlmig__etcd_state_import(ctx, e, p, &st),
                     LIBXLMIG_ERR_OTHER_OPERATION_IN_PROGRESS);
    assert_non_null(strstr(cap.text, "a pool is kept there"));
    xlmig__pool_state_dispose(&st);
    xlmig__pool_state_dispose(&back);
    xlmig__etcd_free(e);
}

/* Task ids taken by four hosts at once: each once, none skipped. */
#define ID_TAKERS 4
#define IDS_EACH 25
static char ids_prefix[128];
static uint64_t ids[ID_TAKERS][IDS_EACH];

static void *id_taker(void *arg)
{
    uint64_t *mine = arg;
    struct capture_logger lg;
    libxlmig_ctx *c = NULL;
    struct xlmig__etcd *e;
    intptr_t failed = 0;
    int i;

    capture_init(&lg);
    if (libxlmig_ctx_new(&lg.vtable, LIBXLMIG_LOG_DEBUG, &c))
        return (void *)1;
    e = client(c);
    for (i = 0; i < IDS_EACH && !failed; i++)
        failed = xlmig__etcd_state_next_task(c, e, ids_prefix, &mine[i]) != 0;
    xlmig__etcd_free(e);
    libxlmig_ctx_free(c);
    return (void *)failed;
}

static void test_next_task(void **state)
{
    struct xlmig__etcd *e = client(ctx);
    bool seen[ID_TAKERS * IDS_EACH + 1] = { false };
    pthread_t t[ID_TAKERS];
    char k[192];
    uint64_t id;
    void *r;
    int i, j;

    (void)state;
    new_prefix(ids_prefix, sizeof(ids_prefix));
    for (i = 0; i < ID_TAKERS; i++)
        assert_int_equal(pthread_create(&t[i], NULL, id_taker, ids[i]), 0);
    for (i = 0; i < ID_TAKERS; i++) {
        pthread_join(t[i], &r);
        assert_null(r);
    }
    for (i = 0; i < ID_TAKERS; i++)
        for (j = 0; j < IDS_EACH; j++) {
            id = ids[i][j];
            assert_true(id >= 1 && id <= ID_TAKERS * IDS_EACH);
            assert_false(seen[id]);
            seen[id] = true;
        }
    snprintf(k, sizeof(k), "%s/next-task", ids_prefix);
    assert_ok(xlmig__etcd_put(e, k, strlen(k), "07", 2, 0, NULL));
    reset_log();
    assert_int_equal(xlmig__etcd_state_next_task(ctx, e, ids_prefix, &id),
                     LIBXLMIG_ERR_POOL_STATE_INVALID);
    assert_non_null(strstr(cap.text, "next-task is not a task id"));
    xlmig__etcd_free(e);
}

/* ------------------------------------------------------------ the race */

struct racer {
    int i;
    int64_t rev;            /* its place, once queued */
    bool releasing;
    bool granted;
    int rc;
    char why[256];
};

static struct race {
    pthread_mutex_t lock;
    char prefix[128];
    struct racer r[RACERS];
    int held, max_held;
    int violations;
    char violation[256];
    int kill_member;        /* > 0: kill it after this many grants */
    int grants;
} race;

static void *racer_main(void *arg)
{
    struct racer *me = arg;
    struct capture_logger lg;
    libxlmig_ctx *c = NULL;
    struct xlmig__etcd *e = NULL;
    struct xlmig__etcd_slot slot;
    int64_t lease = 0;
    char host[16];
    int i, ahead_open, kill = 0;

    capture_init(&lg);
    if (libxlmig_ctx_new(&lg.vtable, LIBXLMIG_LOG_DEBUG, &c)) {
        me->rc = -1;
        return NULL;
    }
    {
        struct xlmig__etcd_conf conf = {
            .endpoints = endpoints, .ca_file = ca, .cert_file = cert,
            .key_file = key, .timeout_ms = 2000,
        };
        me->rc = xlmig__etcd_new(c, &conf, &e);
    }
    if (!me->rc)
        me->rc = xlmig__etcd_lease_grant(e, 60, &lease);
    snprintf(host, sizeof(host), "host%d", me->i % 3 + 1);
    if (!me->rc)
        me->rc = xlmig__etcd_slot_enqueue(c, e, race.prefix,
                                          (uint64_t)me->i + 1, host, lease,
                                          &slot);
    if (me->rc)
        goto out;
    pthread_mutex_lock(&race.lock);
    me->rev = slot.create_revision;
    pthread_mutex_unlock(&race.lock);

    me->rc = xlmig__etcd_slot_wait(c, e, race.prefix, &slot, LIMIT, 60000,
                                   NULL, NULL);
    if (me->rc)
        goto out;
    pthread_mutex_lock(&race.lock);
    /* Racers queued before it and not releasing: fewer than the limit,
     * or it was granted out of turn or beyond the limit. */
    ahead_open = 0;
    for (i = 0; i < RACERS; i++)
        if (race.r[i].rev && race.r[i].rev < me->rev && !race.r[i].releasing)
            ahead_open++;
    if (ahead_open >= LIMIT && !race.violations++)
        snprintf(race.violation, sizeof(race.violation), "racer %d (place "
                 "%" PRId64 ") granted with %d before it still open",
                 me->i, me->rev, ahead_open);
    me->granted = true;
    race.held++;
    if (race.held > race.max_held)
        race.max_held = race.held;
    if (++race.grants == RACERS / 3 && race.kill_member)
        kill = race.kill_member;
    pthread_mutex_unlock(&race.lock);
    if (kill)
        cluster("kill", kill);
    usleep(50000);
    pthread_mutex_lock(&race.lock);
    race.held--;
    me->releasing = true;
    pthread_mutex_unlock(&race.lock);
    me->rc = xlmig__etcd_slot_release(c, e, &slot);
out:
    if (me->rc)
        snprintf(me->why, sizeof(me->why), "%s",
                 libxlmig_ctx_last_error(c) ? libxlmig_ctx_last_error(c)
                                            : "?");
    if (lease)
        (void)xlmig__etcd_lease_revoke(e, lease);
    xlmig__etcd_free(e);
    libxlmig_ctx_free(c);
    return NULL;
}

static void run_race(int kill_member)
{
    pthread_t t[RACERS];
    struct xlmig__etcd *e = client(ctx);
    unsigned held = 9, waiting = 9;
    int i;

    memset(&race, 0, sizeof(race));
    pthread_mutex_init(&race.lock, NULL);
    new_prefix(race.prefix, sizeof(race.prefix));
    race.kill_member = kill_member;
    assert_ok(xlmig__etcd_slots_limit_set(ctx, e, race.prefix, LIMIT));
    for (i = 0; i < RACERS; i++) {
        race.r[i].i = i;
        assert_int_equal(pthread_create(&t[i], NULL, racer_main,
                                        &race.r[i]), 0);
    }
    for (i = 0; i < RACERS; i++)
        pthread_join(t[i], NULL);
    if (kill_member)
        assert_int_equal(cluster("restart", kill_member), 0);
    for (i = 0; i < RACERS; i++)
        if (race.r[i].rc || !race.r[i].granted)
            fail_msg("racer %d: %d: %s", i, race.r[i].rc, race.r[i].why);
    if (race.violations)
        fail_msg("%d out of turn or beyond the limit, first: %s",
                 race.violations, race.violation);
    assert_int_equal(race.max_held, LIMIT);
    /* Nothing left behind. */
    assert_ok(xlmig__etcd_slots_stats(ctx, e, race.prefix, LIMIT, &held,
                                      &waiting));
    assert_int_equal(held, 0);
    assert_int_equal(waiting, 0);
    xlmig__etcd_free(e);
    pthread_mutex_destroy(&race.lock);
}

static void test_sixty_racers(void **state)
{
    (void)state;
    run_race(0);
}

static void test_sixty_racers_member_killed(void **state)
{
    (void)state;
    run_race(1);        /* the first endpoint, the one every client tries
                         * first */
}

/* ------------------------------------------------------- single cases */

struct waiter {
    struct xlmig__etcd_slot *slot;
    const char *prefix;
    unsigned limit;
    volatile bool cancel;
    int rc;
    uint64_t done_ms;
};

static void *waiter_main(void *arg)
{
    struct waiter *w = arg;
    struct capture_logger lg;
    libxlmig_ctx *c = NULL;
    struct xlmig__etcd *e;

    capture_init(&lg);
    if (libxlmig_ctx_new(&lg.vtable, LIBXLMIG_LOG_DEBUG, &c)) {
        w->rc = -1;
        return NULL;
    }
    e = client(c);
    w->rc = xlmig__etcd_slot_wait(c, e, w->prefix, w->slot, w->limit, 20000,
                                  &w->cancel, NULL);
    w->done_ms = ms_now();
    xlmig__etcd_free(e);
    libxlmig_ctx_free(c);
    return NULL;
}

static void test_lease_expiry_frees_slot(void **state)
{
    struct xlmig__etcd *e = client(ctx);
    struct xlmig__etcd_slot a, b;
    int64_t la, lb;
    char p[128];
    unsigned ahead = 0;
    uint64_t t0, took;

    (void)state;
    new_prefix(p, sizeof(p));
    assert_ok(xlmig__etcd_slots_limit_set(ctx, e, p, 1));
    assert_ok(xlmig__etcd_lease_grant(e, 2, &la));     /* never renewed:
                                                         * a host killed */
    assert_ok(xlmig__etcd_lease_grant(e, 60, &lb));
    assert_ok(xlmig__etcd_slot_enqueue(ctx, e, p, 1, "host1", la, &a));
    assert_ok(xlmig__etcd_slot_wait(ctx, e, p, &a, 1, 0, NULL, NULL));
    assert_true(a.held);
    assert_ok(xlmig__etcd_slot_enqueue(ctx, e, p, 2, "host2", lb, &b));
    assert_int_equal(xlmig__etcd_slot_wait(ctx, e, p, &b, 1, 0, NULL,
                                           &ahead), LIBXLMIG_ERR_TIMEOUT);
    assert_int_equal(ahead, 1);
    t0 = ms_now();
    assert_ok(xlmig__etcd_slot_wait(ctx, e, p, &b, 1, 15000, NULL, NULL));
    took = ms_now() - t0;
    assert_true(b.held);
    /* Freed by the lease's expiry: not at once, within a few seconds. */
    assert_true(took >= 500);
    assert_true(took < 8000);
    /* The holder that lost it: its slot is gone, its release harmless. */
    assert_ok(xlmig__etcd_slot_release(ctx, e, &a));
    assert_ok(xlmig__etcd_slot_release(ctx, e, &b));
    assert_ok(xlmig__etcd_slot_release(ctx, e, &b));    /* idempotent */
    (void)xlmig__etcd_lease_revoke(e, lb);
    xlmig__etcd_free(e);
}


static void test_limit_lowered_revokes_nothing(void **state)
{
    struct xlmig__etcd *e = client(ctx);
    struct xlmig__etcd_slot a, b, c;
    unsigned held, waiting, ahead;
    int64_t lease;
    char p[128];

    (void)state;
    new_prefix(p, sizeof(p));
    assert_ok(xlmig__etcd_slots_limit_set(ctx, e, p, 2));
    assert_ok(xlmig__etcd_lease_grant(e, 60, &lease));
    assert_ok(xlmig__etcd_slot_enqueue(ctx, e, p, 1, "host1", lease, &a));
    assert_ok(xlmig__etcd_slot_enqueue(ctx, e, p, 2, "host1", lease, &b));
    assert_ok(xlmig__etcd_slot_enqueue(ctx, e, p, 3, "host1", lease, &c));
    assert_ok(xlmig__etcd_slot_wait(ctx, e, p, &a, 3, 0, NULL, NULL));
    assert_ok(xlmig__etcd_slot_wait(ctx, e, p, &b, 3, 0, NULL, NULL));
    assert_ok(xlmig__etcd_slots_limit_set(ctx, e, p, 1));
    assert_ok(xlmig__etcd_slots_stats(ctx, e, p, 3, &held, &waiting));
    assert_int_equal(held, 2);
    assert_int_equal(waiting, 1);
    assert_ok(xlmig__etcd_slot_release(ctx, e, &a));
    assert_int_equal(xlmig__etcd_slot_wait(ctx, e, p, &c, 3, 300, NULL,
                                           &ahead), LIBXLMIG_ERR_TIMEOUT);
    assert_int_equal(ahead, 1);
    assert_true(b.held);                    /* kept its slot */
    assert_ok(xlmig__etcd_slot_release(ctx, e, &b));
    assert_ok(xlmig__etcd_slot_wait(ctx, e, p, &c, 3, 2000, NULL, NULL));
    assert_ok(xlmig__etcd_slot_release(ctx, e, &c));
    (void)xlmig__etcd_lease_revoke(e, lease);
    xlmig__etcd_free(e);
}

static void test_key_that_is_no_slot(void **state)
{
    struct xlmig__etcd *e = client(ctx);
    struct xlmig__etcd_slot a;
    unsigned held, waiting, ahead, limit;
    int64_t lease;
    char p[128], k[256];
    size_t kl;

    (void)state;
    new_prefix(p, sizeof(p));
    kl = (size_t)snprintf(k, sizeof(k), "%s/slots/q/zzz", p);
    assert_ok(xlmig__etcd_put(e, k, kl, "\xff{not json", 10, 0, NULL));
    kl = (size_t)snprintf(k, sizeof(k), "%s/slots/limit", p);
    assert_ok(xlmig__etcd_put(e, k, kl, "many", 4, 0, NULL));
    assert_ok(xlmig__etcd_lease_grant(e, 60, &lease));
    assert_ok(xlmig__etcd_slot_enqueue(ctx, e, p, 7, "host3", lease, &a));
    reset_log();
    assert_ok(xlmig__etcd_slots_limit_get(ctx, e, p, 1, &limit));
    assert_int_equal(limit, 1);
    assert_non_null(strstr(cap.text, "is not a migration concurrency"));
    reset_log();
    assert_ok(xlmig__etcd_slots_stats(ctx, e, p, 1, &held, &waiting));
    assert_non_null(strstr(cap.text, "slots/q/zzz: not a migration slot"));
    assert_int_equal(held, 1);              /* the bad key, in its place */
    assert_int_equal(waiting, 1);
    assert_int_equal(xlmig__etcd_slot_wait(ctx, e, p, &a, 1, 0, NULL,
                                           &ahead), LIBXLMIG_ERR_TIMEOUT);
    assert_int_equal(ahead, 1);
    kl = (size_t)snprintf(k, sizeof(k), "%s/slots/q/zzz", p);
    assert_ok(xlmig__etcd_delete(e, k, kl, false, NULL));
    assert_ok(xlmig__etcd_slot_wait(ctx, e, p, &a, 1, 2000, NULL, NULL));
    assert_ok(xlmig__etcd_slot_release(ctx, e, &a));
    (void)xlmig__etcd_lease_revoke(e, lease);
    xlmig__etcd_free(e);
}

static void test_enqueue_again_and_taken(void **state)
{
    struct xlmig__etcd *e = client(ctx);
    struct xlmig__etcd_slot a, again, other;
    int64_t l1, l2;
    char p[128];

    (void)state;
    new_prefix(p, sizeof(p));
    assert_ok(xlmig__etcd_lease_grant(e, 60, &l1));
    assert_ok(xlmig__etcd_lease_grant(e, 60, &l2));
    assert_ok(xlmig__etcd_slot_enqueue(ctx, e, p, 42, "host1", l1, &a));
    assert_ok(xlmig__etcd_slot_enqueue(ctx, e, p, 42, "host1", l1, &again));
    assert_int_equal(again.create_revision, a.create_revision);
    reset_log();
    assert_int_equal(xlmig__etcd_slot_enqueue(ctx, e, p, 42, "host2", l2,
                                              &other),
                     LIBXLMIG_ERR_OTHER_OPERATION_IN_PROGRESS);
    assert_non_null(strstr(cap.text, "task 42"));
    assert_int_equal(xlmig__etcd_slot_enqueue(ctx, e, p, 43, "bad/name",
                                              l1, &other),
                     LIBXLMIG_ERR_INVALID_ARGUMENT);
    assert_int_equal(xlmig__etcd_slot_enqueue(ctx, e, "", 43, "host1", l1,
                                              &other),
                     LIBXLMIG_ERR_INVALID_ARGUMENT);
    assert_int_equal(xlmig__etcd_slots_limit_set(ctx, e, p, 0),
                     LIBXLMIG_ERR_INVALID_ARGUMENT);
    assert_ok(xlmig__etcd_slot_release(ctx, e, &a));
    (void)xlmig__etcd_lease_revoke(e, l1);
    (void)xlmig__etcd_lease_revoke(e, l2);
    xlmig__etcd_free(e);
}

/* Task 1 holds the only slot under a new prefix, task 2 waits for it in a
 * thread of its own. */
struct one_waits {
    struct xlmig__etcd *e;
    char p[128];
    int64_t lease;
    struct xlmig__etcd_slot a, b;
    struct waiter w;
    pthread_t t;
};

static void one_waits_start(struct one_waits *o)
{
    memset(o, 0, sizeof(*o));
    o->e = client(ctx);
    new_prefix(o->p, sizeof(o->p));
    assert_ok(xlmig__etcd_slots_limit_set(ctx, o->e, o->p, 1));
    assert_ok(xlmig__etcd_lease_grant(o->e, 60, &o->lease));
    assert_ok(xlmig__etcd_slot_enqueue(ctx, o->e, o->p, 1, "host1",
                                       o->lease, &o->a));
    assert_ok(xlmig__etcd_slot_wait(ctx, o->e, o->p, &o->a, 1, 0, NULL,
                                    NULL));
    assert_ok(xlmig__etcd_slot_enqueue(ctx, o->e, o->p, 2, "host2",
                                       o->lease, &o->b));
    o->w.slot = &o->b;
    o->w.prefix = o->p;
    o->w.limit = 1;
    assert_int_equal(pthread_create(&o->t, NULL, waiter_main, &o->w), 0);
    usleep(300000);
    assert_false(o->b.held);
}

static void one_waits_end(struct one_waits *o)
{
    assert_ok(xlmig__etcd_slot_release(ctx, o->e, &o->a));
    assert_ok(xlmig__etcd_slot_release(ctx, o->e, &o->b));
    (void)xlmig__etcd_lease_revoke(o->e, o->lease);
    xlmig__etcd_free(o->e);
}

static void test_limit_raised_wakes_waiter(void **state)
{
    struct one_waits o;
    uint64_t t0;

    (void)state;
    one_waits_start(&o);
    t0 = ms_now();
    assert_ok(xlmig__etcd_slots_limit_set(ctx, o.e, o.p, 2));
    pthread_join(o.t, NULL);
    assert_int_equal(o.w.rc, 0);
    assert_true(o.b.held);
    assert_true(o.w.done_ms - t0 < 2000);   /* woken, not by a time-out */
    one_waits_end(&o);
}

static void test_waiter_cancelled(void **state)
{
    struct one_waits o;
    uint64_t t0;

    (void)state;
    one_waits_start(&o);
    t0 = ms_now();
    o.w.cancel = true;
    pthread_join(o.t, NULL);
    assert_int_equal(o.w.rc, LIBXLMIG_ERR_CANCELLED);
    assert_true(o.w.done_ms - t0 < 1500);
    assert_false(o.b.held);
    one_waits_end(&o);
}

/* Two members of three gone: no grant, and a named error at once, while
 * a held slot stays held; with one back, the queue goes on, the limit
 * kept. */
static void test_quorum_lost(void **state)
{
    struct xlmig__etcd *e = client(ctx);
    struct xlmig__etcd_slot a, c;
    unsigned ahead = 0;
    int64_t lease;
    char p[128];
    uint64_t t0;
    int rc;

    (void)state;
    new_prefix(p, sizeof(p));
    assert_ok(xlmig__etcd_slots_limit_set(ctx, e, p, 1));
    assert_ok(xlmig__etcd_lease_grant(e, 60, &lease));
    assert_ok(xlmig__etcd_slot_enqueue(ctx, e, p, 1, "host1", lease, &a));
    assert_ok(xlmig__etcd_slot_wait(ctx, e, p, &a, 1, 0, NULL, NULL));
    assert_int_equal(cluster("kill", 2), 0);
    assert_int_equal(cluster("kill", 3), 0);
    reset_log();
    t0 = ms_now();
    rc = xlmig__etcd_slot_enqueue(ctx, e, p, 2, "host2", lease, &c);
    assert_int_equal(rc, LIBXLMIG_ERR_CANNOT_CONTACT_HOST);
    assert_true(ms_now() - t0 < 10000);
    assert_non_null(strstr(cap.text, "127.0.0.2"));
    assert_non_null(strstr(cap.text, "127.0.0.3"));
    assert_true(a.held);
    assert_int_equal(cluster("restart", 2), 0);
    assert_ok(xlmig__etcd_slot_enqueue(ctx, e, p, 2, "host2", lease, &c));
    assert_int_equal(xlmig__etcd_slot_wait(ctx, e, p, &c, 1, 200, NULL,
                                           &ahead), LIBXLMIG_ERR_TIMEOUT);
    assert_int_equal(ahead, 1);             /* the slot held throughout */
    assert_ok(xlmig__etcd_slot_release(ctx, e, &a));
    assert_ok(xlmig__etcd_slot_wait(ctx, e, p, &c, 1, 5000, NULL, NULL));
    assert_ok(xlmig__etcd_slot_release(ctx, e, &c));
    assert_int_equal(cluster("restart", 3), 0);
    (void)xlmig__etcd_lease_revoke(e, lease);
    xlmig__etcd_free(e);
}

/* ------------------------------------------------------------ sessions */

static bool key_exists(struct xlmig__etcd *e, const char *k)
{
    struct xlmig__etcd_kvs kvs;
    bool there;

    assert_ok(xlmig__etcd_get(e, k, strlen(k), NULL, &kvs));
    there = kvs.n == 1;
    xlmig__etcd_kvs_free(&kvs);
    return there;
}

/* Whether @k is gone within @ms. */
static bool gone_within(struct xlmig__etcd *e, const char *k, unsigned ms)
{
    uint64_t until = ms_now() + ms;

    while (key_exists(e, k)) {
        if (ms_now() > until)
            return false;
        usleep(100000);
    }
    return true;
}

static void signal_members(const char *sig)
{
    char cmd[256];

    snprintf(cmd, sizeof(cmd), "kill -%s $(cat %s/pids)", sig, dir);
    assert_int_equal(system(cmd), 0);
}

static void test_session(void **state)
{
    struct xlmig__etcd_conf conf = {
        .endpoints = endpoints, .ca_file = ca, .cert_file = cert,
        .key_file = key, .timeout_ms = 1000,
    };
    struct xlmig__etcd *e = client(ctx);
    struct xlmig__etcd_session *s = NULL;
    char p[128], k[160], why[256];
    uint64_t t0;

    (void)state;
    new_prefix(p, sizeof(p));
    snprintf(k, sizeof(k), "%s/bound", p);
    assert_int_equal(xlmig__etcd_session_start(ctx, &conf, 0, &s),
                     LIBXLMIG_ERR_INVALID_ARGUMENT);

    /* Renewed past its TTL, a member killed meanwhile. */
    assert_ok(xlmig__etcd_session_start(ctx, &conf, 1, &s));
    assert_ok(xlmig__etcd_put(e, k, strlen(k), "x", 1,
                              xlmig__etcd_session_lease(s), NULL));
    assert_int_equal(cluster("kill", 1), 0);
    usleep(3000000);
    assert_true(key_exists(e, k));
    assert_true(xlmig__etcd_session_alive(s));
    assert_int_equal(cluster("restart", 1), 0);
    /* Renewals stopped as when the host dies: gone when it expires. */
    xlmig__etcd_session_stop(s, false);
    assert_true(key_exists(e, k));
    t0 = ms_now();
    assert_true(gone_within(e, k, 6000));
    assert_true(ms_now() - t0 >= 200);

    /* Left: gone at once. */
    assert_ok(xlmig__etcd_session_start(ctx, &conf, 1, &s));
    assert_ok(xlmig__etcd_put(e, k, strlen(k), "x", 1,
                              xlmig__etcd_session_lease(s), NULL));
    xlmig__etcd_session_stop(s, true);
    assert_false(key_exists(e, k));

    /* etcd unreachable for longer than the TTL: lost, and says why. */
    assert_ok(xlmig__etcd_session_start(ctx, &conf, 2, &s));
    signal_members("STOP");
    t0 = ms_now();
    while (xlmig__etcd_session_alive(s) && ms_now() - t0 < 15000)
        usleep(100000);
    signal_members("CONT");
    assert_false(xlmig__etcd_session_alive(s));
    xlmig__etcd_session_why(s, why, sizeof(why));
    assert_non_null(strstr(why, "no renewal"));
    xlmig__etcd_session_stop(s, false);
    xlmig__etcd_free(e);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_state_created),
        cmocka_unit_test(test_state_two_writers),
        cmocka_unit_test(test_state_bad_keys),
        cmocka_unit_test(test_state_change_too_big),
        cmocka_unit_test(test_state_import),
        cmocka_unit_test(test_next_task),
        cmocka_unit_test(test_enqueue_again_and_taken),
        cmocka_unit_test(test_key_that_is_no_slot),
        cmocka_unit_test(test_limit_lowered_revokes_nothing),
        cmocka_unit_test(test_limit_raised_wakes_waiter),
        cmocka_unit_test(test_waiter_cancelled),
        cmocka_unit_test(test_lease_expiry_frees_slot),
        cmocka_unit_test(test_sixty_racers),
        cmocka_unit_test(test_sixty_racers_member_killed),
        cmocka_unit_test(test_quorum_lost),
        cmocka_unit_test(test_session),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}

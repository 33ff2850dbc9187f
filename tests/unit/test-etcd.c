/* SPDX-License-Identifier: LGPL-2.1-only */
/*
 * The etcd client (libxlmig/etcd.c, docs/specs/pool-etcd.md).
 *
 * Against a real 3-member etcd cluster with TLS (etcd-server and
 * etcd-client must be installed: the tests fail without them), started
 * by tests/integration/etcd-cluster.sh in a mkdtemp() directory and
 * stopped in the teardown: put, get and delete, of one key and of a
 * prefix; the range options (limit, sort by creation, descending,
 * max_create_revision, count only); keys and values with NULs and every
 * byte, and the size caps; transactions, their two branches and two
 * writers racing on one compare-and-swap; leases granted, kept alive,
 * revoked and left to expire; the watch woken by a put, a delete, a past
 * revision, and ended by its timeout and its cancel flag, and a member
 * killed under it; each member's status, a killed one's; failover past
 * a dead first endpoint, every endpoint dead, a cluster whose
 * certificate another CA signed, a client without a certificate, and
 * configurations that are wrong.  And the reply parsers, table-driven.
 */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "etcd.h"
#include "internal.h"
#include "testctx.h"

#define TIMEOUT_MS 3000u

static char tmpdir[64];
static char endpoints[512];     /* the cluster's, comma-separated */
static char url[3][128];        /* each member's */
static char ca[128], other_ca[128], cert[128], key[128];
static bool cluster_up;
static struct xlmig__etcd *e;   /* all three members, in order */

/* ------------------------------------------------------------ helpers */

static uint64_t ms_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void sleep_ms(unsigned ms)
{
    struct timespec ts = { ms / 1000u, (long)(ms % 1000u) * 1000000L };

    nanosleep(&ts, NULL);
}

/* tests/integration/etcd-cluster.sh @cmd on our cluster (and member
 * @n, when not 0); its status. */
static int cluster(const char *cmd, int n)
{
    const char *src = getenv("XLMIG_SRCDIR");
    char line[1024], member[16] = "";

    if (n)
        snprintf(member, sizeof(member), " %d", n);
    snprintf(line, sizeof(line),
             "%s/tests/integration/etcd-cluster.sh %s %s%s >> %s/cluster.log "
             "2>&1", src && src[0] ? src : ".", cmd, tmpdir, member, tmpdir);
    return system(line);
}

/* The last @len_max - 1 bytes of what etcd-cluster.sh said. */
static void cluster_log(char *buf, size_t len_max)
{
    char log[256];
    FILE *f;
    size_t len = 0;
    long size;

    snprintf(log, sizeof(log), "%s/cluster.log", tmpdir);
    f = fopen(log, "r");
    if (f) {
        fseek(f, 0, SEEK_END);
        size = ftell(f);
        fseek(f, size > (long)len_max - 1 ? size - (long)len_max + 1 : 0,
              SEEK_SET);
        len = fread(buf, 1, len_max - 1, f);
        fclose(f);
    }
    buf[len] = '\0';
}

static void cluster_ok(const char *cmd, int n)
{
    char buf[2048];

    if (cluster(cmd, n) == 0)
        return;
    cluster_log(buf, sizeof(buf));
    fail_msg("etcd-cluster.sh %s %d failed:\n%s", cmd, n, buf);
}

static char start_log[2048];    /* why the cluster did not start */

static void need_cluster(void)
{
    if (!cluster_up)
        fail_msg("no etcd cluster (etcd-server and etcd-client must be "
                 "installed): %s", start_log);
}

static int client(libxlmig_ctx *c, const char *eps, const char *ca_file,
                  bool with_cert, struct xlmig__etcd **e_r)
{
    struct xlmig__etcd_conf conf = {
        .endpoints = eps,
        .ca_file = ca_file,
        .cert_file = with_cert ? cert : NULL,
        .key_file = with_cert ? key : NULL,
        .timeout_ms = TIMEOUT_MS,
    };

    return xlmig__etcd_new(c, &conf, e_r);
}

/* A put that waits out an election (a member just killed): 8 s. */
static int put_retry(struct xlmig__etcd *c, const char *k, const char *v,
                     int64_t *rev_r)
{
    uint64_t end = ms_now() + 8000;
    int rc;

    do {
        rc = xlmig__etcd_put(c, k, strlen(k), v, strlen(v), 0, rev_r);
        if (rc != LIBXLMIG_ERR_CANNOT_CONTACT_HOST)
            return rc;
        sleep_ms(100);
    } while (ms_now() < end);
    return rc;
}

static void put(const char *k, const char *v, int64_t *rev_r)
{
    assert_ok(xlmig__etcd_put(e, k, strlen(k), v, strlen(v), 0, rev_r));
}

/* The one value of @k, asserted. */
static void assert_value(const char *k, const char *v)
{
    struct xlmig__etcd_kvs kvs;

    assert_ok(xlmig__etcd_get(e, k, strlen(k), NULL, &kvs));
    if (kvs.n != 1)
        fail_msg("%s: %zu keys, not 1", k, kvs.n);
    assert_int_equal(kvs.kv[0].value_len, strlen(v));
    assert_memory_equal(kvs.kv[0].value, v, strlen(v));
    xlmig__etcd_kvs_free(&kvs);
}

static void assert_absent(const char *k)
{
    struct xlmig__etcd_kvs kvs;

    assert_ok(xlmig__etcd_get(e, k, strlen(k), NULL, &kvs));
    assert_int_equal(kvs.n, 0);
    assert_int_equal(kvs.count, 0);
    xlmig__etcd_kvs_free(&kvs);
}

/* The keys of a prefix range as "k1,k2,...". */
static void range_keys(const char *prefix, const struct xlmig__etcd_range *r,
                       char *out, size_t out_len, struct xlmig__etcd_kvs *kvs)
{
    size_t i, len = 0;

    assert_ok(xlmig__etcd_get(e, prefix, strlen(prefix), r, kvs));
    out[0] = '\0';
    for (i = 0; i < kvs->n; i++)
        len += (size_t)snprintf(out + len, out_len - len, "%s%s", i ? "," : "",
                                kvs->kv[i].key + strlen(prefix));
}

/* ------------------------------------------------------------ setup */

static void read_endpoints(void)
{
    char path[sizeof(endpoints)];
    FILE *f;
    char *p, *save = NULL;
    int i = 0;

    snprintf(path, sizeof(path), "%s/endpoints", tmpdir);
    f = fopen(path, "r");
    if (!f || !fgets(endpoints, sizeof(endpoints), f)) {
        if (f)
            fclose(f);
        return;
    }
    fclose(f);
    endpoints[strcspn(endpoints, "\n")] = '\0';
    snprintf(path, sizeof(path), "%s", endpoints);
    for (p = strtok_r(path, ",", &save); p && i < 3;
         p = strtok_r(NULL, ",", &save))
        snprintf(url[i++], sizeof(url[0]), "%s", p);
}

static int setup(void **state)
{
    if (group_setup(state))
        return -1;
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/xlmig-etcd-XXXXXX");
    if (!mkdtemp(tmpdir))
        return -1;
    snprintf(ca, sizeof(ca), "%s/certs/ca.pem", tmpdir);
    snprintf(other_ca, sizeof(other_ca), "%s/certs/other-ca.pem", tmpdir);
    snprintf(cert, sizeof(cert), "%s/certs/host1.pem", tmpdir);
    snprintf(key, sizeof(key), "%s/certs/host1.key", tmpdir);
    /* A cluster that does not start fails every test that needs it. */
    {
        char pid[24];

        /* The cluster goes with this process, however it ends. */
        snprintf(pid, sizeof(pid), "%d", (int)getpid());
        setenv("XLMIG_CLUSTER_OWNER", pid, 1);
    }
    if (cluster("start", 0) == 0) {
        read_endpoints();
        cluster_up = url[2][0] && !client(ctx, endpoints, ca, true, &e);
    }
    if (!cluster_up)
        cluster_log(start_log, sizeof(start_log));
    return 0;
}

static int teardown(void **state)
{
    char cmd[128];

    xlmig__etcd_free(e);
    e = NULL;
    cluster("stop", 0);
    snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
    if (system(cmd) != 0)
        return -1;
    return group_teardown(state);
}

/* ------------------------------------------------------------ tests */

static void test_cluster_running(void **state)
{
    (void)state;
    need_cluster();
    assert_int_equal(xlmig__etcd_nr_endpoints(e), 3);
    assert_string_equal(xlmig__etcd_endpoint(e, 1), url[1]);
    assert_null(xlmig__etcd_endpoint(e, 3));
}

static void test_put_get_delete(void **state)
{
    struct xlmig__etcd_kvs kvs;
    char keys[256];
    int64_t rev1, rev2, deleted;

    (void)state;
    need_cluster();
    put("/pgd/k", "v1", &rev1);
    assert_true(rev1 > 0);
    assert_ok(xlmig__etcd_get(e, "/pgd/k", 6, NULL, &kvs));
    assert_int_equal(kvs.n, 1);
    assert_int_equal(kvs.count, 1);
    assert_false(kvs.more);
    assert_true(kvs.revision >= rev1);
    assert_string_equal(kvs.kv[0].key, "/pgd/k");
    assert_int_equal(kvs.kv[0].key_len, 6);
    assert_string_equal(kvs.kv[0].value, "v1");
    assert_int_equal(kvs.kv[0].create_revision, rev1);
    assert_int_equal(kvs.kv[0].mod_revision, rev1);
    assert_int_equal(kvs.kv[0].version, 1);
    assert_int_equal(kvs.kv[0].lease, 0);
    xlmig__etcd_kvs_free(&kvs);
    assert_null(kvs.kv);

    put("/pgd/k", "v2", &rev2);
    assert_true(rev2 > rev1);
    assert_ok(xlmig__etcd_get(e, "/pgd/k", 6, NULL, &kvs));
    assert_int_equal(kvs.kv[0].version, 2);
    assert_int_equal(kvs.kv[0].create_revision, rev1);
    assert_int_equal(kvs.kv[0].mod_revision, rev2);
    xlmig__etcd_kvs_free(&kvs);
    put("/pgd/empty", "", NULL);
    assert_value("/pgd/empty", "");

    assert_ok(xlmig__etcd_delete(e, "/pgd/k", 6, false, &deleted));
    assert_int_equal(deleted, 1);
    assert_absent("/pgd/k");
    assert_ok(xlmig__etcd_delete(e, "/pgd/k", 6, false, &deleted));
    assert_int_equal(deleted, 0);

    /* A prefix: /pgd/p/ and not /pgd/pq, /pgd/p itself. */
    put("/pgd/p/b", "2", NULL);
    put("/pgd/p/a", "1", NULL);
    put("/pgd/p/c", "3", NULL);
    put("/pgd/pq", "x", NULL);
    put("/pgd/p", "y", NULL);
    range_keys("/pgd/p/", &(struct xlmig__etcd_range){ .prefix = true },
               keys, sizeof(keys), &kvs);
    assert_string_equal(keys, "a,b,c");
    assert_int_equal(kvs.count, 3);
    xlmig__etcd_kvs_free(&kvs);
    assert_ok(xlmig__etcd_delete(e, "/pgd/p/", 7, true, &deleted));
    assert_int_equal(deleted, 3);
    range_keys("/pgd/p/", &(struct xlmig__etcd_range){ .prefix = true },
               keys, sizeof(keys), &kvs);
    assert_string_equal(keys, "");
    xlmig__etcd_kvs_free(&kvs);
    assert_value("/pgd/pq", "x");
    assert_value("/pgd/p", "y");

    /* The empty prefix is every key. */
    assert_ok(xlmig__etcd_get(e, "", 0,
                              &(struct xlmig__etcd_range){ .prefix = true,
                                                           .count_only = true },
                              &kvs));
    assert_true(kvs.count >= 3);
    xlmig__etcd_kvs_free(&kvs);

    reset_log();
    assert_int_equal(xlmig__etcd_get(e, "", 0, NULL, &kvs),
                     LIBXLMIG_ERR_INVALID_ARGUMENT);
    assert_int_equal(xlmig__etcd_put(e, "", 0, "v", 1, 0, NULL),
                     LIBXLMIG_ERR_INVALID_ARGUMENT);
    assert_contains(cap.text, "etcd put: no key");
}

static void test_range_options(void **state)
{
    static const char *const order[] = { "k3", "k1", "k5", "k2", "k4" };
    struct xlmig__etcd_kvs kvs;
    int64_t rev[5];
    char keys[256], k[32];
    size_t i;

    (void)state;
    need_cluster();
    for (i = 0; i < 5; i++) {
        snprintf(k, sizeof(k), "/range/%s", order[i]);
        put(k, order[i], &rev[i]);
    }
    range_keys("/range/", &(struct xlmig__etcd_range){ .prefix = true },
               keys, sizeof(keys), &kvs);
    assert_string_equal(keys, "k1,k2,k3,k4,k5");
    xlmig__etcd_kvs_free(&kvs);

    range_keys("/range/",
               &(struct xlmig__etcd_range){ .prefix = true, .limit = 2 },
               keys, sizeof(keys), &kvs);
    assert_string_equal(keys, "k1,k2");
    assert_true(kvs.more);
    assert_int_equal(kvs.count, 5);
    xlmig__etcd_kvs_free(&kvs);

    range_keys("/range/",
               &(struct xlmig__etcd_range){
                   .prefix = true, .sort = XLMIG__ETCD_SORT_CREATE },
               keys, sizeof(keys), &kvs);
    assert_string_equal(keys, "k3,k1,k5,k2,k4");
    xlmig__etcd_kvs_free(&kvs);

    range_keys("/range/",
               &(struct xlmig__etcd_range){ .prefix = true, .descend = true },
               keys, sizeof(keys), &kvs);
    assert_string_equal(keys, "k5,k4,k3,k2,k1");
    xlmig__etcd_kvs_free(&kvs);

    range_keys("/range/",
               &(struct xlmig__etcd_range){ .prefix = true,
                                            .sort = XLMIG__ETCD_SORT_CREATE,
                                            .descend = true,
                                            .limit = 1 },
               keys, sizeof(keys), &kvs);
    assert_string_equal(keys, "k4");
    assert_true(kvs.more);
    xlmig__etcd_kvs_free(&kvs);

    range_keys("/range/",
               &(struct xlmig__etcd_range){ .prefix = true,
                                            .sort = XLMIG__ETCD_SORT_CREATE,
                                            .max_create_revision = rev[2] },
               keys, sizeof(keys), &kvs);
    assert_string_equal(keys, "k3,k1,k5");
    xlmig__etcd_kvs_free(&kvs);

    range_keys("/range/",
               &(struct xlmig__etcd_range){ .prefix = true,
                                            .count_only = true },
               keys, sizeof(keys), &kvs);
    assert_int_equal(kvs.n, 0);
    assert_int_equal(kvs.count, 5);
    xlmig__etcd_kvs_free(&kvs);

    reset_log();
    assert_int_equal(
        xlmig__etcd_get(e, "/range/", 7,
                        &(struct xlmig__etcd_range){
                            .prefix = true,
                            .limit = XLMIG__ETCD_RANGE_MAX + 1 },
                        &kvs),
        LIBXLMIG_ERR_INVALID_ARGUMENT);
    assert_contains(cap.text, "a limit over the 4096 keys");
}

/* A range at a past revision, and several reads at one revision. */
static void test_range_revision_and_reads(void **state)
{
    const struct xlmig__etcd_range before = {
        .prefix = true, .sort = XLMIG__ETCD_SORT_CREATE,
    };
    struct xlmig__etcd_read reads[3] = {
        { .key = "/reads/a", .key_len = 8 },
        { .key = "/reads/", .key_len = 7, .range = &before },
        { .key = "/reads/none", .key_len = 11 },
    };
    struct xlmig__etcd_range past = { .prefix = true };
    struct xlmig__etcd_kvs kvs, many[3];
    int64_t r1, r2;

    (void)state;
    need_cluster();
    put("/reads/a", "1", &r1);
    put("/reads/b", "2", &r2);
    put("/reads/a", "3", NULL);
    /* As the store was after the first put. */
    past.revision = r1;
    assert_ok(xlmig__etcd_get(e, "/reads/", 7, &past, &kvs));
    assert_int_equal(kvs.n, 1);
    assert_string_equal(kvs.kv[0].value, "1");
    xlmig__etcd_kvs_free(&kvs);
    past.revision = -1;
    assert_int_equal(xlmig__etcd_get(e, "/reads/", 7, &past, &kvs),
                     LIBXLMIG_ERR_INVALID_ARGUMENT);

    assert_ok(xlmig__etcd_get_many(e, reads, 3, many));
    assert_int_equal(many[0].n, 1);
    assert_string_equal(many[0].kv[0].value, "3");
    assert_int_equal(many[1].n, 2);
    assert_string_equal(many[1].kv[0].key, "/reads/a");   /* created first */
    assert_string_equal(many[1].kv[1].value, "2");
    assert_int_equal(many[2].n, 0);
    assert_true(many[0].revision >= r2 + 1);
    assert_int_equal(many[0].revision, many[1].revision);
    assert_int_equal(many[1].revision, many[2].revision);
    xlmig__etcd_kvs_free(&many[0]);
    xlmig__etcd_kvs_free(&many[1]);
    xlmig__etcd_kvs_free(&many[2]);

    /* Refused before anything is sent. */
    assert_int_equal(xlmig__etcd_get_many(e, reads, 0, many),
                     LIBXLMIG_ERR_INVALID_ARGUMENT);
    past.revision = 0;
    past.limit = XLMIG__ETCD_RANGE_MAX + 1;
    reads[1].range = &past;
    assert_int_equal(xlmig__etcd_get_many(e, reads, 3, many),
                     LIBXLMIG_ERR_INVALID_ARGUMENT);
    assert_int_equal(many[0].n, 0);
}

static void test_binary(void **state)
{
    static const char nul_key[] = "/bin/a\0b";
    static const char ff_key[] = "/bin/\xff\xff";
    struct xlmig__etcd_kvs kvs;
    char all[256], *big;
    size_t i;

    (void)state;
    need_cluster();
    for (i = 0; i < sizeof(all); i++)
        all[i] = (char)i;
    assert_ok(xlmig__etcd_put(e, nul_key, sizeof(nul_key) - 1, all,
                              sizeof(all), 0, NULL));
    put("/bin/a", "plain", NULL);
    assert_ok(xlmig__etcd_get(e, nul_key, sizeof(nul_key) - 1, NULL, &kvs));
    assert_int_equal(kvs.n, 1);
    assert_int_equal(kvs.kv[0].key_len, sizeof(nul_key) - 1);
    assert_memory_equal(kvs.kv[0].key, nul_key, sizeof(nul_key) - 1);
    assert_int_equal(kvs.kv[0].value_len, sizeof(all));
    assert_memory_equal(kvs.kv[0].value, all, sizeof(all));
    assert_int_equal(kvs.kv[0].value[sizeof(all)], '\0');
    xlmig__etcd_kvs_free(&kvs);
    assert_value("/bin/a", "plain");

    /* The prefix "/bin/a\0": the NUL key, not "/bin/a". */
    assert_ok(xlmig__etcd_get(e, nul_key, 7,
                              &(struct xlmig__etcd_range){ .prefix = true },
                              &kvs));
    assert_int_equal(kvs.n, 1);
    assert_int_equal(kvs.kv[0].key_len, sizeof(nul_key) - 1);
    xlmig__etcd_kvs_free(&kvs);

    /* A prefix ending in 0xff: its range ends past every 0xff key. */
    assert_ok(xlmig__etcd_put(e, ff_key, sizeof(ff_key) - 1, "f", 1, 0,
                              NULL));
    assert_ok(xlmig__etcd_get(e, ff_key, 6,
                              &(struct xlmig__etcd_range){ .prefix = true },
                              &kvs));
    assert_int_equal(kvs.n, 1);
    assert_memory_equal(kvs.kv[0].key, ff_key, sizeof(ff_key) - 1);
    xlmig__etcd_kvs_free(&kvs);

    /* The caps: a value of the largest size passes, one byte more not. */
    big = malloc(XLMIG__ETCD_VALUE_MAX + 1);
    assert_non_null(big);
    for (i = 0; i <= XLMIG__ETCD_VALUE_MAX; i++)
        big[i] = (char)(i * 7);
    assert_ok(xlmig__etcd_put(e, "/bin/big", 8, big, XLMIG__ETCD_VALUE_MAX, 0,
                              NULL));
    assert_ok(xlmig__etcd_get(e, "/bin/big", 8, NULL, &kvs));
    assert_int_equal(kvs.kv[0].value_len, XLMIG__ETCD_VALUE_MAX);
    assert_memory_equal(kvs.kv[0].value, big, XLMIG__ETCD_VALUE_MAX);
    xlmig__etcd_kvs_free(&kvs);
    reset_log();
    assert_int_equal(xlmig__etcd_put(e, "/bin/big", 8, big,
                                     XLMIG__ETCD_VALUE_MAX + 1, 0, NULL),
                     LIBXLMIG_ERR_INVALID_ARGUMENT);
    assert_contains(cap.text, "more than the 1048576 one may have");
    memset(big, 'k', XLMIG__ETCD_KEY_MAX + 1);
    assert_ok(xlmig__etcd_put(e, big, XLMIG__ETCD_KEY_MAX, "v", 1, 0, NULL));
    assert_int_equal(xlmig__etcd_put(e, big, XLMIG__ETCD_KEY_MAX + 1, "v", 1,
                                     0, NULL),
                     LIBXLMIG_ERR_INVALID_ARGUMENT);
    assert_int_equal(xlmig__etcd_get(e, big, XLMIG__ETCD_KEY_MAX + 1, NULL,
                                     &kvs),
                     LIBXLMIG_ERR_INVALID_ARGUMENT);
    free(big);
}

static void test_txn(void **state)
{
    struct xlmig__etcd_cmp absent = {
        .key = "/txn/k", .key_len = 6, .target = XLMIG__ETCD_CMP_VERSION,
        .result = XLMIG__ETCD_EQUAL, .number = 0,
    };
    struct xlmig__etcd_op create = {
        .kind = XLMIG__ETCD_OP_PUT, .key = "/txn/k", .key_len = 6,
        .value = "v1", .value_len = 2,
    };
    struct xlmig__etcd_op lost = {
        .kind = XLMIG__ETCD_OP_PUT, .key = "/txn/lost", .key_len = 9,
        .value = "1", .value_len = 1,
    };
    struct xlmig__etcd_op get = {
        .kind = XLMIG__ETCD_OP_GET, .key = "/txn/k", .key_len = 6,
    };
    struct xlmig__etcd_cmp is_v1 = {
        .key = "/txn/k", .key_len = 6, .target = XLMIG__ETCD_CMP_VALUE,
        .result = XLMIG__ETCD_EQUAL, .value = "v1", .value_len = 2,
    };
    struct xlmig__etcd_op to_v2 = create;
    struct xlmig__etcd_cmp mod;
    struct xlmig__etcd_op del = {
        .kind = XLMIG__ETCD_OP_DELETE, .key = "/txn/", .key_len = 5,
        .prefix = true,
    };
    struct xlmig__etcd_op many[XLMIG__ETCD_TXN_OPS_MAX + 1];
    int64_t rev, rev2;
    bool ok;
    size_t i;

    (void)state;
    need_cluster();
    to_v2.value = "v2";
    /* Create if absent: the first time yes, the second no. */
    assert_ok(xlmig__etcd_txn(e, &absent, 1, &create, 1, &get, 1, &ok, &rev));
    assert_true(ok);
    assert_value("/txn/k", "v1");
    assert_ok(xlmig__etcd_txn(e, &absent, 1, &create, 1, &lost, 1, &ok,
                              &rev2));
    assert_false(ok);
    assert_int_equal(rev2, rev + 1);    /* the failure branch's put */
    assert_value("/txn/lost", "1");

    /* On the value, and on the revision. */
    assert_ok(xlmig__etcd_txn(e, &is_v1, 1, &to_v2, 1, NULL, 0, &ok, &rev));
    assert_true(ok);
    assert_value("/txn/k", "v2");
    assert_ok(xlmig__etcd_txn(e, &is_v1, 1, &to_v2, 1, NULL, 0, &ok, NULL));
    assert_false(ok);
    mod = (struct xlmig__etcd_cmp){ .key = "/txn/k", .key_len = 6,
                                    .target = XLMIG__ETCD_CMP_MOD,
                                    .result = XLMIG__ETCD_EQUAL,
                                    .number = rev };
    assert_ok(xlmig__etcd_txn(e, &mod, 1, NULL, 0, NULL, 0, &ok, NULL));
    assert_true(ok);
    mod.result = XLMIG__ETCD_LESS;
    assert_ok(xlmig__etcd_txn(e, &mod, 1, NULL, 0, NULL, 0, &ok, NULL));
    assert_false(ok);
    mod.result = XLMIG__ETCD_GREATER;
    mod.number = rev - 1;
    assert_ok(xlmig__etcd_txn(e, &mod, 1, NULL, 0, NULL, 0, &ok, NULL));
    assert_true(ok);
    mod.target = XLMIG__ETCD_CMP_CREATE;
    mod.result = XLMIG__ETCD_NOT_EQUAL;
    mod.number = 0;
    assert_ok(xlmig__etcd_txn(e, &mod, 1, &del, 1, NULL, 0, &ok, NULL));
    assert_true(ok);
    assert_absent("/txn/k");
    assert_absent("/txn/lost");

    for (i = 0; i < ARRAY_LEN(many); i++)
        many[i] = get;
    reset_log();
    assert_int_equal(xlmig__etcd_txn(e, NULL, 0, many, ARRAY_LEN(many), NULL,
                                     0, &ok, NULL),
                     LIBXLMIG_ERR_INVALID_ARGUMENT);
    assert_contains(cap.text, "at most 64 of each");
    assert_ok(xlmig__etcd_txn(e, NULL, 0, many, XLMIG__ETCD_TXN_OPS_MAX,
                              NULL, 0, &ok, NULL));
    assert_true(ok);
}

/* Two writers, a client each, swapping one key from the same revision. */
struct racer {
    pthread_barrier_t *start;
    int64_t rev;
    const char *id;
    int rc;
    bool won;
};

static void *race(void *opaque)
{
    struct racer *r = opaque;
    struct xlmig__etcd *c = NULL;
    libxlmig_ctx *x = NULL;
    struct xlmig__etcd_cmp cmp = {
        .key = "/race/k", .key_len = 7, .target = XLMIG__ETCD_CMP_MOD,
        .result = XLMIG__ETCD_EQUAL, .number = r->rev,
    };
    struct xlmig__etcd_op op = {
        .kind = XLMIG__ETCD_OP_PUT, .key = "/race/k", .key_len = 7,
        .value = r->id, .value_len = strlen(r->id),
    };

    r->rc = libxlmig_ctx_new(xlmig__silent_logger(), LIBXLMIG_LOG_ERROR, &x);
    if (!r->rc)
        r->rc = client(x, endpoints, ca, true, &c);
    pthread_barrier_wait(r->start);
    if (!r->rc)
        r->rc = xlmig__etcd_txn(c, &cmp, 1, &op, 1, NULL, 0, &r->won, NULL);
    xlmig__etcd_free(c);
    libxlmig_ctx_free(x);
    return NULL;
}

static void test_txn_race(void **state)
{
    int round;

    (void)state;
    need_cluster();
    for (round = 0; round < 5; round++) {
        struct racer r[2] = { { .id = "a" }, { .id = "b" } };
        pthread_barrier_t start;
        pthread_t t[2];
        int64_t rev;
        int i;

        put("/race/k", "start", &rev);
        pthread_barrier_init(&start, NULL, 2);
        for (i = 0; i < 2; i++) {
            r[i].start = &start;
            r[i].rev = rev;
            assert_int_equal(pthread_create(&t[i], NULL, race, &r[i]), 0);
        }
        for (i = 0; i < 2; i++)
            pthread_join(t[i], NULL);
        pthread_barrier_destroy(&start);
        assert_int_equal(r[0].rc, 0);
        assert_int_equal(r[1].rc, 0);
        if (r[0].won == r[1].won)
            fail_msg("round %d: %s won", round,
                     r[0].won ? "both" : "neither");
        assert_value("/race/k", r[0].won ? "a" : "b");
    }
}

static void test_lease(void **state)
{
    struct xlmig__etcd_kvs kvs;
    int64_t lease, ttl;
    uint64_t t0;

    (void)state;
    need_cluster();
    assert_ok(xlmig__etcd_lease_grant(e, 30, &lease));
    assert_true(lease > 0);
    assert_ok(xlmig__etcd_put(e, "/lease/a", 8, "1", 1, lease, NULL));
    assert_ok(xlmig__etcd_get(e, "/lease/a", 8, NULL, &kvs));
    assert_int_equal(kvs.kv[0].lease, lease);
    xlmig__etcd_kvs_free(&kvs);
    assert_ok(xlmig__etcd_lease_keepalive(e, lease, &ttl));
    assert_true(ttl > 25 && ttl <= 30);
    assert_ok(xlmig__etcd_lease_revoke(e, lease));
    assert_absent("/lease/a");
    assert_ok(xlmig__etcd_lease_keepalive(e, lease, &ttl));
    assert_int_equal(ttl, 0);
    /* Gone already: nothing to do. */
    assert_ok(xlmig__etcd_lease_revoke(e, lease));
    reset_log();
    assert_int_equal(xlmig__etcd_put(e, "/lease/a", 8, "1", 1, lease, NULL),
                     LIBXLMIG_ERR_NOT_FOUND);
    assert_contains(cap.text, "lease not found");

    /* Expiry: the key goes with its lease; kept alive, it stays. */
    assert_ok(xlmig__etcd_lease_grant(e, 1, &lease));
    assert_ok(xlmig__etcd_put(e, "/lease/b", 8, "1", 1, lease, NULL));
    t0 = ms_now();
    while (ms_now() - t0 < 1500) {
        assert_ok(xlmig__etcd_lease_keepalive(e, lease, &ttl));
        assert_int_equal(ttl, 1);
        sleep_ms(200);
    }
    assert_value("/lease/b", "1");
    for (;;) {
        assert_ok(xlmig__etcd_get(e, "/lease/b", 8, NULL, &kvs));
        if (!kvs.n)
            break;
        xlmig__etcd_kvs_free(&kvs);
        if (ms_now() - t0 > 6000)
            fail_msg("the key of an expired lease is still there");
        sleep_ms(100);
    }
    assert_ok(xlmig__etcd_lease_keepalive(e, lease, &ttl));
    assert_int_equal(ttl, 0);

    reset_log();
    assert_int_equal(xlmig__etcd_lease_grant(e, 0, &lease),
                     LIBXLMIG_ERR_INVALID_ARGUMENT);
    assert_int_equal(xlmig__etcd_lease_grant(e, 3601, &lease),
                     LIBXLMIG_ERR_INVALID_ARGUMENT);
    assert_int_equal(xlmig__etcd_lease_keepalive(e, 0, &ttl),
                     LIBXLMIG_ERR_INVALID_ARGUMENT);
}

/* A change made by another thread (its own client) after a delay. */
struct change {
    unsigned delay_ms;
    const char *key;
    bool delete;
    /* 1..3: stop that member first, and kill it (-9) after the change,
     * which it never sees; 0: none. */
    int kill_member;
    uint64_t killed_at;
    const char *eps;            /* the client's endpoints */
    int rc;
    int64_t rev;
    pthread_t t;
};

static void *change_run(void *opaque)
{
    struct change *ch = opaque;
    struct xlmig__etcd *c = NULL;
    libxlmig_ctx *x = NULL;
    ch->rc = libxlmig_ctx_new(xlmig__silent_logger(), LIBXLMIG_LOG_ERROR, &x);
    if (!ch->rc)
        ch->rc = client(x, ch->eps ? ch->eps : endpoints, ca, true, &c);
    sleep_ms(ch->delay_ms);
    if (!ch->rc && ch->kill_member)
        ch->rc = cluster("pause", ch->kill_member) ? LIBXLMIG_ERR_INTERNAL : 0;
    if (!ch->rc && ch->delete) {
        int64_t deleted = 0;

        ch->rc = xlmig__etcd_delete(c, ch->key, strlen(ch->key), false,
                                    &deleted);
        if (!ch->rc && deleted != 1)
            ch->rc = LIBXLMIG_ERR_INTERNAL;
        if (!ch->rc) {
            struct xlmig__etcd_kvs kvs;

            ch->rc = xlmig__etcd_get(c, "/", 1, NULL, &kvs);
            ch->rev = kvs.revision;     /* the delete's: nothing since */
            xlmig__etcd_kvs_free(&kvs);
        }
    } else if (!ch->rc) {
        ch->rc = put_retry(c, ch->key, "w", &ch->rev);
    }
    if (!ch->rc && ch->kill_member) {
        ch->rc = cluster("kill", ch->kill_member) ? LIBXLMIG_ERR_INTERNAL : 0;
        ch->killed_at = ms_now();
    }
    xlmig__etcd_free(c);
    libxlmig_ctx_free(x);
    return NULL;
}

static void change_start(struct change *ch)
{
    assert_int_equal(pthread_create(&ch->t, NULL, change_run, ch), 0);
}

static void change_join(struct change *ch)
{
    pthread_join(ch->t, NULL);
    assert_int_equal(ch->rc, 0);
}

static void test_watch_put_delete(void **state)
{
    struct change ch = { .delay_ms = 300, .key = "/watch/k" };
    int64_t rev;
    bool deleted;
    uint64_t t0;

    (void)state;
    need_cluster();
    put("/watch/other", "x", NULL);
    change_start(&ch);
    t0 = ms_now();
    assert_ok(xlmig__etcd_watch(e, "/watch/k", 8, false, 0, 10000, NULL,
                                &deleted, &rev));
    change_join(&ch);
    assert_false(deleted);
    assert_int_equal(rev, ch.rev);
    assert_true(ms_now() - t0 >= 250);

    ch = (struct change){ .delay_ms = 300, .key = "/watch/k",
                          .delete = true };
    change_start(&ch);
    assert_ok(xlmig__etcd_watch(e, "/watch/k", 8, false, 0, 10000, NULL,
                                &deleted, &rev));
    change_join(&ch);
    assert_true(deleted);
    assert_int_equal(rev, ch.rev);

    /* A prefix: a key under it wakes the watch. */
    ch = (struct change){ .delay_ms = 200, .key = "/watch/dir/x" };
    change_start(&ch);
    assert_ok(xlmig__etcd_watch(e, "/watch/dir/", 11, true, 0, 10000, NULL,
                                &deleted, &rev));
    change_join(&ch);
    assert_false(deleted);
    assert_int_equal(rev, ch.rev);
}

static void test_watch_past(void **state)
{
    int64_t rev1, rev2, deleted_n, rev;
    bool deleted;

    (void)state;
    need_cluster();
    put("/past/k", "1", &rev1);
    put("/past/k", "2", &rev2);
    assert_ok(xlmig__etcd_watch(e, "/past/k", 7, false, rev1, 2000, NULL,
                                &deleted, &rev));
    assert_false(deleted);
    assert_int_equal(rev, rev1);
    assert_ok(xlmig__etcd_watch(e, "/past/k", 7, false, rev1 + 1, 2000, NULL,
                                &deleted, &rev));
    assert_int_equal(rev, rev2);
    assert_ok(xlmig__etcd_delete(e, "/past/k", 7, false, &deleted_n));
    assert_ok(xlmig__etcd_watch(e, "/past/k", 7, false, rev2 + 1, 2000, NULL,
                                &deleted, &rev));
    assert_true(deleted);
    assert_true(rev > rev2);
}

static void test_watch_timeout(void **state)
{
    uint64_t t0;
    int64_t rev;
    bool deleted;

    (void)state;
    need_cluster();
    reset_log();
    t0 = ms_now();
    assert_int_equal(xlmig__etcd_watch(e, "/quiet", 6, false, 0, 400, NULL,
                                       &deleted, &rev),
                     LIBXLMIG_ERR_TIMEOUT);
    assert_true(ms_now() - t0 >= 400);
    assert_true(ms_now() - t0 < 1500);
    /* Said, but not as an error: a waiter watches in slices. */
    assert_contains(cap.text, "no change in 400 ms");
    assert_null(strstr(cap.text, "TIMEOUT"));
}

static volatile bool cancel_flag;

static void *cancel_later(void *opaque)
{
    (void)opaque;
    sleep_ms(300);
    cancel_flag = true;
    return NULL;
}

static void test_watch_cancel(void **state)
{
    pthread_t t;
    uint64_t t0, took;
    int64_t rev;
    bool deleted;

    (void)state;
    need_cluster();
    cancel_flag = false;
    assert_int_equal(pthread_create(&t, NULL, cancel_later, NULL), 0);
    t0 = ms_now();
    assert_int_equal(xlmig__etcd_watch(e, "/quiet", 6, false, 0, 10000,
                                       &cancel_flag, &deleted, &rev),
                     LIBXLMIG_ERR_CANCELLED);
    took = ms_now() - t0;
    pthread_join(t, NULL);
    if (took < 300 || took > 550)
        fail_msg("cancelled after %llu ms, not 300 + at most 100",
                 (unsigned long long)took);
    /* Set before: no wait at all. */
    t0 = ms_now();
    assert_int_equal(xlmig__etcd_watch(e, "/quiet", 6, false, 0, 10000,
                                       &cancel_flag, &deleted, &rev),
                     LIBXLMIG_ERR_CANCELLED);
    assert_true(ms_now() - t0 < 150);
}

static void test_status(void **state)
{
    struct xlmig__etcd_status st[3];
    size_t i;

    (void)state;
    need_cluster();
    for (i = 0; i < 3; i++) {
        assert_ok(xlmig__etcd_status(e, i, &st[i]));
        if (!st[i].reachable)
            fail_msg("%s: %s", url[i], st[i].error);
        assert_string_equal(st[i].version, "3.4.23");
        assert_true(st[i].cluster_id != 0);
        assert_true(st[i].member_id != 0);
        assert_true(st[i].leader != 0);
        assert_true(st[i].raft_term > 0);
        assert_true(st[i].db_size > 0);
        assert_int_equal(st[i].cluster_id, st[0].cluster_id);
        assert_int_equal(st[i].leader, st[0].leader);
    }
    assert_true(st[0].member_id != st[1].member_id &&
                st[1].member_id != st[2].member_id &&
                st[0].member_id != st[2].member_id);
    assert_true(st[0].leader == st[0].member_id ||
                st[0].leader == st[1].member_id ||
                st[0].leader == st[2].member_id);
    assert_int_equal(xlmig__etcd_status(e, 3, &st[0]),
                     LIBXLMIG_ERR_INVALID_ARGUMENT);
}

/* Member 1 killed: calls go to the next; its status says why. */
static void test_failover(void **state)
{
    struct xlmig__etcd_status st;
    struct xlmig__etcd_kvs kvs;
    int64_t rev;

    (void)state;
    need_cluster();
    cluster_ok("kill", 1);
    assert_ok(put_retry(e, "/failover/k", "v", &rev));
    assert_value("/failover/k", "v");
    assert_ok(xlmig__etcd_get(e, "/failover/k", 11, NULL, &kvs));
    assert_int_equal(kvs.kv[0].mod_revision, rev);
    xlmig__etcd_kvs_free(&kvs);
    assert_ok(xlmig__etcd_status(e, 0, &st));
    assert_false(st.reachable);
    assert_true(st.error[0] != '\0');
    assert_ok(xlmig__etcd_status(e, 1, &st));
    assert_true(st.reachable);
    cluster_ok("restart", 1);
    assert_ok(xlmig__etcd_status(e, 0, &st));
    assert_true(st.reachable);
}

/*
 * The member a watch is on killed: the watch notices at once, goes on on
 * the next one, and sees the change the dead member missed (made while
 * it was stopped, before the watch moved: from the revision reached).
 */
static void test_watch_member_killed(void **state)
{
    struct change ch = { .delay_ms = 500, .key = "/wkill/k",
                         .kill_member = 1 };
    char eps23[300];
    int64_t rev;
    bool deleted;

    (void)state;
    need_cluster();
    snprintf(eps23, sizeof(eps23), "%s,%s", url[1], url[2]);
    ch.eps = eps23;
    reset_log();
    change_start(&ch);
    assert_ok(xlmig__etcd_watch(e, "/wkill/k", 8, false, 0, 15000, NULL,
                                &deleted, &rev));
    change_join(&ch);
    assert_false(deleted);
    assert_int_equal(rev, ch.rev);
    if (ms_now() - ch.killed_at > 2000)
        fail_msg("the watch took %llu ms to move",
                 (unsigned long long)(ms_now() - ch.killed_at));
    assert_contains(cap.text, url[0]);
    assert_contains(cap.text, "on with the next endpoint");
    cluster_ok("restart", 1);
}

static void test_all_down(void **state)
{
    struct xlmig__etcd *c = NULL;
    struct xlmig__etcd_status st;
    struct xlmig__etcd_kvs kvs;
    int64_t rev;
    bool deleted;
    const char *dead = "https://127.0.0.1:1,https://127.0.0.2:1,"
                       "https://127.0.0.3:1";

    (void)state;
    need_cluster();
    assert_ok(client(ctx, dead, ca, true, &c));
    reset_log();
    assert_int_equal(xlmig__etcd_get(c, "/k", 2, NULL, &kvs),
                     LIBXLMIG_ERR_CANNOT_CONTACT_HOST);
    assert_contains(cap.text, "CANNOT_CONTACT_HOST");
    assert_contains(cap.text, "etcd range: no endpoint answered");
    assert_contains(cap.text, "https://127.0.0.1:1: ");
    assert_contains(cap.text, "https://127.0.0.2:1: ");
    assert_contains(cap.text, "https://127.0.0.3:1: ");
    reset_log();
    assert_int_equal(xlmig__etcd_watch(c, "/k", 2, false, 0, 5000, NULL,
                                       &deleted, &rev),
                     LIBXLMIG_ERR_CANNOT_CONTACT_HOST);
    assert_contains(cap.text, "https://127.0.0.3:1: ");
    assert_ok(xlmig__etcd_status(c, 1, &st));
    assert_false(st.reachable);
    assert_true(st.error[0] != '\0');
    xlmig__etcd_free(c);
}

static void test_tls_refused(void **state)
{
    struct xlmig__etcd *c = NULL;
    int64_t rev;

    (void)state;
    need_cluster();
    /* The cluster's certificates are not of the CA we trust. */
    assert_ok(client(ctx, endpoints, other_ca, true, &c));
    reset_log();
    assert_int_equal(xlmig__etcd_put(c, "/tls", 4, "v", 1, 0, &rev),
                     LIBXLMIG_ERR_CANNOT_CONTACT_HOST);
    assert_contains(cap.text, url[0]);
    assert_contains(cap.text, url[2]);
    assert_contains(cap.text, "certificate");
    xlmig__etcd_free(c);
    /* No client certificate: the cluster refuses us. */
    assert_ok(client(ctx, endpoints, ca, false, &c));
    assert_int_equal(xlmig__etcd_put(c, "/tls", 4, "v", 1, 0, &rev),
                     LIBXLMIG_ERR_CANNOT_CONTACT_HOST);
    xlmig__etcd_free(c);
    assert_absent("/tls");
}

/* Another cluster of the same CA among the endpoints (a member restored
 * from another pool's data): found, named, never used; a tie refused. */
static void test_other_cluster(void **state)
{
    const char *src = getenv("XLMIG_SRCDIR");
    char other[128], cmd[768], eps[1024], b1[160], buf[2048];
    struct xlmig__etcd *c = NULL;
    uint64_t id = 0;
    FILE *f;
    size_t n;
    int64_t rev;

    (void)state;
    need_cluster();
    if (!src || !src[0])
        src = ".";
    snprintf(other, sizeof(other), "%s/other", tmpdir);
    snprintf(cmd, sizeof(cmd), "XLMIG_CLUSTER_CERTS=%s/certs bash "
             "%s/tests/integration/etcd-cluster.sh start %s >> "
             "%s/cluster.log 2>&1", tmpdir, src, other, tmpdir);
    if (system(cmd)) {
        cluster_log(buf, sizeof(buf));
        fail_msg("the other cluster did not start:\n%s", buf);
    }
    snprintf(cmd, sizeof(cmd), "%s/endpoints", other);
    f = fopen(cmd, "r");
    assert_non_null(f);
    n = fread(b1, 1, sizeof(b1) - 1, f);
    fclose(f);
    b1[n] = '\0';
    assert_non_null(strchr(b1, ','));
    *strchr(b1, ',') = '\0';          /* its first member */

    /* Its member first: the pool's two others outvote it. */
    snprintf(eps, sizeof(eps), "%s,%s,%s", b1, url[0], url[1]);
    assert_ok(client(ctx, eps, ca, true, &c));
    reset_log();
    assert_ok(xlmig__etcd_check(c, &id));
    assert_true(id != 0);
    assert_contains(cap.text, b1);
    assert_contains(cap.text, "not used");
    assert_true(xlmig__etcd_endpoint_foreign(c, 0));
    assert_false(xlmig__etcd_endpoint_foreign(c, 1));
    assert_ok(xlmig__etcd_put(c, "/which", 6, "pool", 4, 0, &rev));
    xlmig__etcd_free(c);
    assert_value("/which", "pool");         /* in the pool's cluster */

    /* One of each: no way to tell which is the pool's. */
    snprintf(eps, sizeof(eps), "%s,%s", b1, url[0]);
    assert_ok(client(ctx, eps, ca, true, &c));
    assert_int_equal(xlmig__etcd_check(c, NULL),
                     LIBXLMIG_ERR_INVALID_ARGUMENT);
    xlmig__etcd_free(c);

    snprintf(cmd, sizeof(cmd), "bash %s/tests/integration/etcd-cluster.sh "
             "stop %s >> %s/cluster.log 2>&1", src, other, tmpdir);
    assert_int_equal(system(cmd), 0);
}

static void test_bad_config(void **state)
{
    static const struct {
        const char *eps;
        bool with_ca;
        const char *says;
    } table[] = {
        { "", true, "no endpoints" },
        { "ftp://127.0.0.1:2379", true, "not http:// or https://" },
        { "https://127.0.0.1:2379/v3", true, "more than a scheme" },
        { "https://127.0.0.1:2379/", true, "more than a scheme" },
        { "https://127.0.0.1:2379?x", true, "more than a scheme" },
        { "https://u@127.0.0.1:2379", true, "more than a scheme" },
        { "https://127.0.0.1:99999", true, "not a URL" },
        { "https://127.0.0.1:2379,,https://127.0.0.2:2379", true, "empty" },
        { "https://127.0.0.1:2379,", true, "empty" },
        { "https://127.0.0.1 :2379", true, "space" },
        { "https://127.0.0.1:2379", false, "need the CA file" },
    };
    struct xlmig__etcd_conf conf = { 0 };
    struct xlmig__etcd *c = (struct xlmig__etcd *)&c;
    char many[1024] = "", missing[160];
    size_t i;

    (void)state;
    for (i = 0; i < ARRAY_LEN(table); i++) {
        reset_log();
        conf.endpoints = table[i].eps;
        conf.ca_file = table[i].with_ca ? ca : NULL;
        if (xlmig__etcd_new(ctx, &conf, &c) != LIBXLMIG_ERR_INVALID_ARGUMENT)
            fail_msg("'%s' taken", table[i].eps);
        assert_null(c);
        assert_contains(cap.text, table[i].says);
    }
    for (i = 0; i <= XLMIG__ETCD_ENDPOINTS_MAX; i++)
        snprintf(many + strlen(many), sizeof(many) - strlen(many), "%shttp"
                 "://127.0.0.1:%zu", i ? "," : "", 2000 + i);
    conf.endpoints = many;
    reset_log();
    assert_int_equal(xlmig__etcd_new(ctx, &conf, &c),
                     LIBXLMIG_ERR_INVALID_ARGUMENT);
    assert_contains(cap.text, "more than 16 endpoints");
    *strrchr(many, ',') = '\0';
    assert_ok(xlmig__etcd_new(ctx, &conf, &c));
    assert_int_equal(xlmig__etcd_nr_endpoints(c), 16);
    xlmig__etcd_free(c);

    snprintf(missing, sizeof(missing), "%s/no-such-ca.pem", tmpdir);
    conf.endpoints = "https://127.0.0.1:2379";
    conf.ca_file = missing;
    reset_log();
    assert_int_equal(xlmig__etcd_new(ctx, &conf, &c),
                     LIBXLMIG_ERR_INVALID_ARGUMENT);
    assert_contains(cap.text, "no-such-ca.pem");
    conf.ca_file = ca;
    conf.cert_file = cert;
    reset_log();
    assert_int_equal(xlmig__etcd_new(ctx, &conf, &c),
                     LIBXLMIG_ERR_INVALID_ARGUMENT);
    assert_contains(cap.text, "needs its key");
    conf.key_file = missing;
    assert_int_equal(xlmig__etcd_new(ctx, &conf, &c),
                     LIBXLMIG_ERR_INVALID_ARGUMENT);
}

/* The parsers on replies etcd would not send. */
static void test_parsers(void **state)
{
    static const struct {
        int which;              /* 0 range, 1 write, 2 txn, 3 lease,
                                 * 4 watch, 5 status */
        const char *json;
        const char *says;       /* NULL: parses */
    } table[] = {
        { 0, "{\"header\":{\"revision\":\"7\"},\"kvs\":[{\"key\":\"YQ==\","
             "\"value\":\"AGI=\",\"mod_revision\":\"5\"}],\"count\":\"1\"}",
          NULL },
        { 0, "{\"kvs\":[]}", "no \"header\"" },
        { 0, "[1]", "not an object" },
        { 0, "{\"header\":{},\"kvs\":[{\"key\":\"YQ=\"}],\"count\":1}",
          "not base64" },
        { 0, "{\"header\":{},\"kvs\":[{\"key\":\"Y=Q=\"}],\"count\":1}",
          "not base64" },
        { 0, "{\"header\":{},\"kvs\":[{\"key\":\"YQ==\",\"value\":7}],"
             "\"count\":1}", "not a string" },
        { 0, "{\"header\":{},\"kvs\":[{\"value\":\"YQ==\"}],\"count\":1}",
          "no key" },
        { 0, "{\"header\":{},\"kvs\":[{\"key\":\"YQ==\"}]}", "a count of 0" },
        { 0, "{\"header\":{\"revision\":\"x\"}}", "not a 64-bit integer" },
        { 0, "{\"header\":{\"revision\":\"99999999999999999999\"}}",
          "not a 64-bit integer" },
        { 0, "{\"header\":{},\"more\":\"yes\"}", "not a boolean" },
        { 1, "{\"header\":{\"revision\":\"3\"},\"deleted\":\"2\"}", NULL },
        { 1, "{\"header\":{},\"deleted\":\"-2\"}", "negative" },
        { 2, "{\"header\":{\"revision\":\"3\"},\"succeeded\":true}", NULL },
        { 2, "{\"header\":{},\"responses\":{}}", "not an array" },
        { 3, "{\"result\":{\"header\":{},\"ID\":\"5\",\"TTL\":\"9\"}}",
          NULL },
        { 3, "{\"header\":{},\"ID\":\"5\",\"error\":\"no\"}",
          "the lease call failed: no" },
        { 3, "{\"result\":7}", "not an object" },
        { 4, "{\"result\":{\"header\":{\"revision\":\"4\"},"
             "\"created\":true}}", NULL },
        { 4, "{\"result\":{\"header\":{},\"events\":[{\"type\":\"DELETE\","
             "\"kv\":{\"key\":\"YQ==\",\"mod_revision\":\"9\"}}]}}", NULL },
        { 4, "{\"result\":{\"header\":{},\"events\":[{\"type\":\"MOVE\","
             "\"kv\":{\"mod_revision\":\"9\"}}]}}", "neither PUT nor" },
        { 4, "{\"result\":{\"header\":{},\"events\":[{\"kv\":{}}]}}",
          "without its revision" },
        { 4, "{\"error\":{\"grpc_code\":14,\"message\":\"gone\"}}", NULL },
        { 4, "{\"error\":\"gone\"}", "not an object" },
        { 4, "{\"result\":{}}", "no \"result\" object with a" },
        { 5, "{\"header\":{\"cluster_id\":\"18446744073709551615\"},"
             "\"version\":\"3.4.23\",\"leader\":\"2\",\"raftTerm\":\"3\","
             "\"dbSize\":\"4\"}", NULL },
        { 5, "{\"header\":{},"
             "\"version\":\"3.4.23.4.5.6.7.8.9.10.11.12.13.14\"}",
          "no \"version\" string" },
        { 5, "{\"header\":{\"member_id\":\"-1\"},\"version\":\"3\"}",
          "not an unsigned" },
    };
    struct xlmig__etcd_watch_msg m;
    struct xlmig__etcd_status st;
    struct xlmig__etcd_kvs kvs;
    char why[XLMIG__ETCD_WHY_MAX];
    int64_t a, b;
    bool ok;
    size_t i;
    int rc = 0;

    (void)state;
    for (i = 0; i < ARRAY_LEN(table); i++) {
        const char *j = table[i].json;
        size_t n = strlen(j);

        why[0] = '\0';
        switch (table[i].which) {
        case 0:
            rc = xlmig__etcd_parse_range(j, n, &kvs, why, sizeof(why));
            if (!rc) {
                assert_int_equal(kvs.revision, 7);
                assert_int_equal(kvs.kv[0].value_len, 2);
                assert_memory_equal(kvs.kv[0].value, "\0b", 2);
                assert_int_equal(kvs.kv[0].mod_revision, 5);
            } else {
                assert_null(kvs.kv);
            }
            xlmig__etcd_kvs_free(&kvs);
            break;
        case 1:
            rc = xlmig__etcd_parse_write(j, n, &a, &b, why, sizeof(why));
            if (!rc)
                assert_true(a == 3 && b == 2);
            break;
        case 2:
            rc = xlmig__etcd_parse_txn(j, n, &ok, &a, why, sizeof(why));
            if (!rc)
                assert_true(ok && a == 3);
            break;
        case 3:
            rc = xlmig__etcd_parse_lease(j, n, &a, &b, why, sizeof(why));
            if (!rc)
                assert_true(a == 5 && b == 9);
            break;
        case 4:
            rc = xlmig__etcd_parse_watch_line(j, n, &m, why, sizeof(why));
            if (!rc && m.error)
                assert_string_equal(m.reason, "gone");
            else if (!rc && m.event)
                assert_true(m.deleted && m.event_revision == 9);
            else if (!rc)
                assert_true(m.created && m.revision == 4);
            break;
        case 5:
            rc = xlmig__etcd_parse_status(j, n, &st, why, sizeof(why));
            if (!rc)
                assert_true(st.cluster_id == UINT64_MAX && st.leader == 2 &&
                            st.raft_term == 3 && st.db_size == 4);
            break;
        }
        if (table[i].says) {
            if (rc != LIBXLMIG_ERR_PROTOCOL)
                fail_msg("entry %zu (%s) taken", i, table[i].json);
            assert_contains(why, table[i].says);
        } else if (rc) {
            fail_msg("entry %zu (%s): %s", i, table[i].json, why);
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bad_config),
        cmocka_unit_test(test_parsers),
        cmocka_unit_test(test_cluster_running),
        cmocka_unit_test(test_put_get_delete),
        cmocka_unit_test(test_range_options),
        cmocka_unit_test(test_range_revision_and_reads),
        cmocka_unit_test(test_binary),
        cmocka_unit_test(test_txn),
        cmocka_unit_test(test_txn_race),
        cmocka_unit_test(test_lease),
        cmocka_unit_test(test_watch_put_delete),
        cmocka_unit_test(test_watch_past),
        cmocka_unit_test(test_watch_timeout),
        cmocka_unit_test(test_watch_cancel),
        cmocka_unit_test(test_status),
        cmocka_unit_test(test_failover),
        cmocka_unit_test(test_watch_member_killed),
        cmocka_unit_test(test_all_down),
        cmocka_unit_test(test_tls_refused),
        cmocka_unit_test(test_other_cluster),
    };

    return cmocka_run_group_tests_name("etcd", tests, setup, teardown);
}

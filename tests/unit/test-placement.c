/* SPDX-License-Identifier: LGPL-2.1-only */
/*
 * Placement (libxlmig/placement.c): each host's verdict, the built-in
 * choice (free memory, ties by name, disabled and failing hosts out),
 * the wlb-hook's request (parsed back, and the same as the example of
 * docs/specs/wlb-hook.md), its answer's decoder on good and bad
 * answers, and real hooks run by /bin/sh: the example balancer of the
 * spec, one that hangs, prints garbage or megabytes, names an unknown
 * host, exits 3, leaves a child behind; a failed hook falls back to the
 * built-in choice and says so, and nothing of a hook is left running.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "internal.h"
#include "jsonfile.h"
#include "placement.h"
#include "proc.h"
#include "sr.h"
#include "testctx.h"
#include "testfs.h"

/* ------------------------------------------------------------ fixtures */

#define VM_MIB 2048

static struct xlmig__mig_plan plan;
static struct xlmig__host_facts src;

/* One host of a table: its name, MiB free, enabled, Xen 4.MINOR, pCPUs. */
struct hspec {
    const char *name;
    unsigned int free_mib;
    bool enabled;
    int xen_minor;
    unsigned int cpus;
};

static void facts(struct xlmig__host_facts *f, const struct hspec *s)
{
    memset(f, 0, sizeof(*f));
    xlmig__strlcpy(f->name, s->name, sizeof(f->name));
    f->xen_major = 4;
    f->xen_minor = s->xen_minor;
    snprintf(f->xen_version, sizeof(f->xen_version), "4.%d.5", s->xen_minor);
    xlmig__strlcpy(f->version, "0.1.0", sizeof(f->version));
    f->nr_cpus = s->cpus;
    f->free_memory_kib = (uint64_t)s->free_mib * 1024;
    f->vendor = LIBXLMIG_CPU_VENDOR_INTEL;
    assert_int_equal(libxlmig_featureset_parse(NULL, NULL, "1fcbfbff-"
                                               "f7fa3223-2d93fbff-00000121",
                                               &f->pv_max), 0);
    f->hvm_max = f->pv_max;
    f->nr_srs = 1;
    xlmig__strlcpy(f->srs[0].uuid, "3c1b2a4e-5f60-4d7e-8a9b-0c1d2e3f4a5b",
                   sizeof(f->srs[0].uuid));
    xlmig__strlcpy(f->srs[0].name, "local", sizeof(f->srs[0].name));
    f->srs[0].caps = XLMIG__SR_CAPS_ALL;
    f->srs[0].free_space = 107374182400ull;
    f->nr_bridges = 1;
    xlmig__strlcpy(f->bridges[0], "xenbr0", sizeof(f->bridges[0]));
}

/* hosts[0 .. n - 1] from @specs, evaluated for a move of plan from src. */
static struct xlmig__place_host *evaluate(const struct hspec *specs, size_t n)
{
    struct xlmig__place_host *h = calloc(n ? n : 1, sizeof(*h));
    size_t i;

    assert_non_null(h);
    for (i = 0; i < n; i++) {
        facts(&h[i].facts, &specs[i]);
        h[i].enabled = specs[i].enabled;
    }
    assert_ok(xlmig__place_evaluate(ctx, "/nonexistent", &plan, &src, NULL,
                                    h, n));
    return h;
}

/* The names of a ranking, "a,b,c". */
static const char *names(const struct xlmig__place_ranking *r)
{
    static char buf[512];
    size_t i, len = 0;

    buf[0] = '\0';
    for (i = 0; i < r->n; i++)
        len += (size_t)snprintf(buf + len, sizeof(buf) - len, "%s%s",
                                i ? "," : "", r->recs[i].name);
    return buf;
}

/* The pool of the spec's example: h2 can take web01, h3 has too little
 * memory, h4 is disabled. */
static const struct hspec example[] = {
    { "h2", 6144, true, 17, 8 },
    { "h3", 1024, true, 17, 8 },
    { "h4", 16384, false, 17, 8 },
};

static int setup(void **state)
{
    static const struct hspec s = { "h1", 4096, true, 17, 8 };

    if (group_setup(state))
        return -1;
    memset(&plan, 0, sizeof(plan));
    xlmig__strlcpy(plan.vm, "web01", sizeof(plan.vm));
    xlmig__strlcpy(plan.vm_uuid, "8f2a6c1e-4b7d-4e0a-9c3f-2d1e5a6b7c8d",
                   sizeof(plan.vm_uuid));
    plan.running = true;
    plan.memory_kib = VM_MIB * 1024;
    plan.vcpus = 2;
    facts(&src, &s);
    return testfs_dir_setup("test-placement");
}

static int teardown(void **state)
{
    rm_tree(tmpdir);
    return group_teardown(state);
}

/* A file's text, NUL-ended (malloc'd), or NULL. */
static char *slurp(const char *path)
{
    FILE *f = fopen(path, "r");
    char *text;
    long len;

    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    len = ftell(f);
    rewind(f);
    text = calloc(1, (size_t)len + 1);
    assert_non_null(text);
    assert_int_equal(fread(text, 1, (size_t)len, f), (size_t)len);
    fclose(f);
    return text;
}

/*
 * The code block between "<!-- NAME: begin -->" and "<!-- NAME: end -->"
 * of docs/specs/wlb-hook.md, without its fences (malloc'd).
 */
static char *doc_block(const char *name)
{
    const char *srcdir = getenv("XLMIG_SRCDIR");
    char path[4096], begin[64], end[64], *doc, *b, *e, *out;

    snprintf(path, sizeof(path), "%s/docs/specs/wlb-hook.md",
             srcdir ? srcdir : ".");
    doc = slurp(path);
    if (!doc)
        fail_msg("cannot read %s", path);
    snprintf(begin, sizeof(begin), "<!-- %s: begin -->\n```", name);
    snprintf(end, sizeof(end), "```\n<!-- %s: end -->", name);
    b = strstr(doc, begin);
    if (!b)
        fail_msg("no \"%s\" in %s", begin, path);
    b = strchr(b + strlen(begin), '\n');
    assert_non_null(b);
    b++;
    e = strstr(b, end);
    if (!e)
        fail_msg("no \"%s\" in %s", end, path);
    out = strndup(b, (size_t)(e - b));
    assert_non_null(out);
    free(doc);
    return out;
}

/* ------------------------------------------------------------ built-in */

static void test_builtin(void **state)
{
    static const struct {
        const char *what;
        struct hspec hosts[6];
        size_t n;
        const char *order;
    } cases[] = {
        { "most free memory first",
          { { "h2", 4096, true, 17, 8 }, { "h3", 8192, true, 17, 8 },
            { "h4", 6144, true, 17, 8 } }, 3, "h3,h4,h2" },
        { "ties in name order",
          { { "hc", 4096, true, 17, 8 }, { "ha", 4096, true, 17, 8 },
            { "hb", 4096, true, 17, 8 }, { "hz", 5000, true, 17, 8 } },
          4, "hz,ha,hb,hc" },
        { "a disabled host never",
          { { "h2", 4096, true, 17, 8 }, { "h3", 65536, false, 17, 8 } },
          2, "h2" },
        { "failing checks out (memory, Xen, pCPUs)",
          { { "h2", 1024, true, 17, 8 }, { "h3", 8192, true, 16, 8 },
            { "h4", 8192, true, 17, 1 }, { "h5", 3000, true, 18, 4 } },
          4, "h5" },
        { "the source host never",
          { { "h1", 65536, true, 17, 8 }, { "h2", 2048, true, 17, 8 } },
          2, "h2" },
        { "none can take it",
          { { "h2", 1024, true, 17, 8 }, { "h3", 8192, false, 17, 8 } },
          2, "" },
        { "no hosts", { { NULL, 0, false, 0, 0 } }, 0, "" },
    };
    struct xlmig__place_ranking *r = calloc(1, sizeof(*r));
    size_t i;

    (void)state;
    assert_non_null(r);
    for (i = 0; i < ARRAY_LEN(cases); i++) {
        struct xlmig__place_host *h = evaluate(cases[i].hosts, cases[i].n);
        size_t got = xlmig__place_builtin(h, cases[i].n, r);

        if (strcmp(names(r), cases[i].order))
            fail_msg("%s: got \"%s\", expected \"%s\"", cases[i].what,
                     names(r), cases[i].order);
        assert_int_equal(got, r->n);
        assert_int_equal(r->source, XLMIG__PLACE_BUILTIN);
        if (r->n) {
            char reason[64];

            snprintf(reason, sizeof(reason), "most free memory: %u MiB",
                     (unsigned int)(h[r->recs[0].host].facts.free_memory_kib
                                    / 1024));
            assert_string_equal(r->recs[0].reason, reason);
            assert_string_equal(h[r->recs[0].host].facts.name,
                                r->recs[0].name);
        }
        free(h);
    }
    free(r);
}

/* What each refused host was told, and nothing logged as an error. */
static void test_verdicts(void **state)
{
    static const struct hspec specs[] = {
        { "h2", 8192, true, 17, 8 },
        { "h3", 1024, true, 17, 8 },
        { "h4", 8192, false, 17, 8 },
        { "h5", 8192, true, 16, 1 },
        { "h1", 8192, true, 17, 8 },
    };
    struct xlmig__place_host *h;
    char last[1024];

    (void)state;
    xlmig__strlcpy(last, libxlmig_ctx_last_error(ctx), sizeof(last));
    reset_log();
    h = evaluate(specs, ARRAY_LEN(specs));
    assert_int_equal(h[0].nr_failures, 0);
    assert_int_equal(h[0].nr_refusals, 0);
    assert_int_equal(h[1].nr_failures, 1);
    assert_contains(h[1].refusals[0], "HOST_NOT_ENOUGH_FREE_MEMORY: VM web01");
    assert_contains(h[2].refusals[0], "HOST_DISABLED: host h4 is disabled");
    /* Every failure kept: the older Xen and too few pCPUs. */
    assert_int_equal(h[3].nr_failures, 2);
    assert_int_equal(h[3].nr_refusals, 2);
    assert_contains(h[3].refusals[0], "VM_HOST_INCOMPATIBLE_VERSION_MIGRATE");
    assert_contains(h[3].refusals[1], "HOST_NOT_ENOUGH_PCPUS");
    assert_contains(h[4].refusals[0], "host h1 is where VM web01 is now");
    /* The verdicts are the hosts', not errors of the context. */
    assert_string_equal(libxlmig_ctx_last_error(ctx), last);
    assert_true(cap.last_level < XTL_ERROR);
    assert_contains(cap.text, "host h3 cannot take it: "
                    "HOST_NOT_ENOUGH_FREE_MEMORY");
    assert_contains(cap.text, "host h2 can take it (8192 MiB free)");
    free(h);
}

static void test_evaluate_refuses(void **state)
{
    struct xlmig__place_host *h = calloc(XLMIG__PLACE_HOSTS_MAX + 1,
                                         sizeof(*h));
    static const struct hspec a = { "h2", 8192, true, 17, 8 };
    size_t i;

    (void)state;
    assert_non_null(h);
    for (i = 0; i <= XLMIG__PLACE_HOSTS_MAX; i++) {
        facts(&h[i].facts, &a);
        snprintf(h[i].facts.name, sizeof(h[i].facts.name), "h%zu", i + 2);
        h[i].enabled = true;
    }
    assert_int_equal(xlmig__place_evaluate(ctx, NULL, &plan, &src, NULL, h,
                                           XLMIG__PLACE_HOSTS_MAX + 1),
                     LIBXLMIG_ERR_INVALID_ARGUMENT);
    assert_contains(libxlmig_ctx_last_error(ctx), "more than the 64");
    xlmig__strlcpy(h[3].facts.name, "h2", sizeof(h[3].facts.name));
    assert_int_equal(xlmig__place_evaluate(ctx, NULL, &plan, &src, NULL, h,
                                           4),
                     LIBXLMIG_ERR_INVALID_ARGUMENT);
    assert_contains(libxlmig_ctx_last_error(ctx), "host h2 is named twice");
    h[3].facts.name[0] = '\0';
    assert_int_equal(xlmig__place_evaluate(ctx, NULL, &plan, &src, NULL, h,
                                           4),
                     LIBXLMIG_ERR_INVALID_ARGUMENT);
    assert_contains(libxlmig_ctx_last_error(ctx), "host 4 of 4 has no name");
    free(h);
}

/* No host can take it: one error naming each host; the hook not run. */
static void test_no_hosts(void **state)
{
    static const struct hspec specs[] = {
        { "h2", 1024, true, 17, 8 },
        { "h3", 8192, false, 17, 8 },
    };
    struct xlmig__place_host *h = evaluate(specs, ARRAY_LEN(specs));
    struct xlmig__place_ranking *r = calloc(1, sizeof(*r));
    struct xlmig__wlb_hook hook = { NULL, 2000 };
    char cmd[256], mark[128];

    (void)state;
    assert_non_null(r);
    snprintf(mark, sizeof(mark), "%s/asked", tmpdir);
    snprintf(cmd, sizeof(cmd), "touch '%s'", mark);
    hook.command = cmd;
    reset_log();
    assert_int_equal(xlmig__place(ctx, &hook, &plan, "h1", h, 2, r),
                     LIBXLMIG_ERR_NO_HOSTS_AVAILABLE);
    assert_contains(libxlmig_ctx_last_error(ctx),
                    "NO_HOSTS_AVAILABLE: no host can take VM web01: h2 "
                    "(HOST_NOT_ENOUGH_FREE_MEMORY: VM web01 needs 2048 MiB");
    assert_contains(libxlmig_ctx_last_error(ctx),
                    "; h3 (HOST_DISABLED: host h3 is disabled");
    assert_int_equal(access(mark, F_OK), -1);
    /* None at all. */
    assert_int_equal(xlmig__place(ctx, NULL, &plan, "h1", h, 0, r),
                     LIBXLMIG_ERR_NO_HOSTS_AVAILABLE);
    assert_contains(libxlmig_ctx_last_error(ctx),
                    "the pool has no other host");
    free(r);
    free(h);
}

/* Sixty hosts refused: the sentence stays whole and says how many more. */
static void test_no_hosts_many(void **state)
{
    struct xlmig__place_host *h = calloc(60, sizeof(*h));
    struct xlmig__place_ranking *r = calloc(1, sizeof(*r));
    static const struct hspec a = { "x", 8192, false, 17, 8 };
    const char *e;
    size_t i;

    (void)state;
    assert_non_null(h);
    assert_non_null(r);
    for (i = 0; i < 60; i++) {
        facts(&h[i].facts, &a);
        snprintf(h[i].facts.name, sizeof(h[i].facts.name), "host%02zu", i);
    }
    assert_ok(xlmig__place_evaluate(ctx, NULL, &plan, &src, NULL, h, 60));
    assert_int_equal(xlmig__place(ctx, NULL, &plan, "h1", h, 60, r),
                     LIBXLMIG_ERR_NO_HOSTS_AVAILABLE);
    e = libxlmig_ctx_last_error(ctx);
    assert_contains(e, "host00 (HOST_DISABLED");
    assert_contains(e, " more host(s); fix what a host lacks, enable one, "
                    "or add one to the pool");
    free(r);
    free(h);
}

/* ------------------------------------------------------------ request */

static yajl_val path(yajl_val v, const char *a, const char *b)
{
    const char *p[] = { a, b, NULL };

    return yajl_tree_get(v, p, yajl_t_any);
}

static void test_request(void **state)
{
    struct xlmig__place_host *h = evaluate(example, ARRAY_LEN(example));
    char *json = NULL, err[256];
    yajl_val root, hosts, x;
    size_t len;

    (void)state;
    assert_ok(xlmig__wlb_request(ctx, &plan, "h1", h, 3, &json, &len));
    assert_int_equal(strlen(json), len);
    root = yajl_tree_parse(json, err, sizeof(err));
    if (!root)
        fail_msg("the request is not JSON: %s\n%s", err, json);
    assert_int_equal(YAJL_GET_INTEGER(path(root, "version", NULL)), 1);
    assert_string_equal(YAJL_GET_STRING(path(root, "vm", "name")), "web01");
    assert_string_equal(YAJL_GET_STRING(path(root, "vm", "uuid")),
                        plan.vm_uuid);
    assert_true(YAJL_IS_TRUE(path(root, "vm", "running")));
    assert_int_equal(YAJL_GET_INTEGER(path(root, "vm", "memory_kib")),
                     VM_MIB * 1024);
    assert_int_equal(YAJL_GET_INTEGER(path(root, "vm", "vcpus")), 2);
    assert_string_equal(YAJL_GET_STRING(path(root, "source", NULL)), "h1");
    hosts = path(root, "hosts", NULL);
    assert_true(YAJL_IS_ARRAY(hosts));
    assert_int_equal(hosts->u.array.len, 3);
    x = hosts->u.array.values[0];
    assert_string_equal(YAJL_GET_STRING(path(x, "name", NULL)), "h2");
    assert_true(YAJL_IS_TRUE(path(x, "can_take", NULL)));
    assert_true(YAJL_IS_TRUE(path(x, "enabled", NULL)));
    assert_int_equal(YAJL_GET_ARRAY(path(x, "refusals", NULL))->len, 0);
    assert_int_equal(YAJL_GET_INTEGER(path(x, "facts", "free_memory_kib")),
                     6144 * 1024);
    assert_string_equal(YAJL_GET_STRING(path(x, "facts", "name")), "h2");
    x = hosts->u.array.values[1];
    assert_true(YAJL_IS_FALSE(path(x, "can_take", NULL)));
    assert_contains(YAJL_GET_STRING(YAJL_GET_ARRAY(path(x, "refusals", NULL))
                                        ->values[0]),
                    "HOST_NOT_ENOUGH_FREE_MEMORY: ");
    x = hosts->u.array.values[2];
    assert_true(YAJL_IS_FALSE(path(x, "enabled", NULL)));
    assert_true(YAJL_IS_FALSE(path(x, "can_take", NULL)));
    yajl_tree_free(root);
    free(json);
    free(h);
}

/* The spec's example request is what the library writes. */
static void test_request_is_the_spec_example(void **state)
{
    struct xlmig__place_host *h = evaluate(example, ARRAY_LEN(example));
    char *json = NULL, *doc = doc_block("wlb-request"), err[256];
    yajl_val ours, theirs;
    size_t len;

    (void)state;
    assert_ok(xlmig__wlb_request(ctx, &plan, "h1", h, 3, &json, &len));
    ours = yajl_tree_parse(json, err, sizeof(err));
    assert_non_null(ours);
    theirs = yajl_tree_parse(doc, err, sizeof(err));
    if (!theirs)
        fail_msg("the spec's request is not JSON: %s", err);
    if (!xlmig__json_equal(ours, theirs)) {
        /* What to paste there. */
        const char *b = getenv("XLMIG_BUILDDIR");
        char out[4096];
        FILE *f;

        snprintf(out, sizeof(out), "%s/wlb-request.json", b ? b : "/tmp");
        f = fopen(out, "w");
        if (f) {
            fprintf(f, "%s\n", json);
            fclose(f);
        }
        fail_msg("docs/specs/wlb-hook.md's request differs from what the "
                 "library writes (%s)", out);
    }
    yajl_tree_free(ours);
    yajl_tree_free(theirs);
    free(doc);
    free(json);
    free(h);
}

/* ------------------------------------------------------------ answers */

static void test_decode_good(void **state)
{
    static const struct {
        const char *answer;
        const char *order;
        double score0;
        const char *reason0;
    } cases[] = {
        { "{\"recommendations\":[{\"host\":\"h3\",\"score\":0.8,"
          "\"reason\":\"cool\"},{\"host\":\"h2\",\"score\":0.2,"
          "\"reason\":\"warm\"}]}", "h3,h2", 0.8, "cool" },
        /* The order is the ranking, whatever the scores. */
        { "{\"version\":1,\"recommendations\":[{\"host\":\"h2\","
          "\"score\":1,\"reason\":\"r\"},{\"host\":\"h3\",\"score\":9,"
          "\"reason\":\"s\"}]}", "h2,h3", 1, "r" },
        /* Unknown members anywhere are ignored. */
        { " {\"extra\":{\"a\":[1,2]},\"recommendations\":[{\"host\":\"h3\","
          "\"score\":-2.5e1,\"reason\":\"caf\xc3\xa9\",\"more\":null}]}\n",
          "h3", -25, "caf\xc3\xa9" },
        /* A subset; and no recommendation at all. */
        { "{\"recommendations\":[{\"host\":\"h2\",\"score\":0,"
          "\"reason\":\"only\"}]}", "h2", 0, "only" },
        { "{\"recommendations\":[]}", "", 0, NULL },
    };
    static const struct hspec specs[] = {
        { "h2", 4096, true, 17, 8 },
        { "h3", 8192, true, 17, 8 },
        { "h4", 1024, true, 17, 8 },
    };
    struct xlmig__place_host *h = evaluate(specs, ARRAY_LEN(specs));
    struct xlmig__place_ranking *r = calloc(1, sizeof(*r));
    char why[512];
    size_t i;

    (void)state;
    assert_non_null(r);
    for (i = 0; i < ARRAY_LEN(cases); i++) {
        memset(r, 0xa5, sizeof(*r));
        if (xlmig__wlb_answer_decode(h, 3, cases[i].answer,
                                     strlen(cases[i].answer), r, why,
                                     sizeof(why)))
            fail_msg("case %zu refused: %s", i, why);
        assert_int_equal(r->source, XLMIG__PLACE_HOOK);
        if (strcmp(names(r), cases[i].order))
            fail_msg("case %zu: got \"%s\", expected \"%s\"", i, names(r),
                     cases[i].order);
        if (cases[i].reason0) {
            assert_true(r->recs[0].score == cases[i].score0);
            assert_string_equal(r->recs[0].reason, cases[i].reason0);
            assert_string_equal(h[r->recs[0].host].facts.name,
                                r->recs[0].name);
        }
        assert_int_equal(r->fallback_rc, 0);
        assert_string_equal(r->fallback, "");
    }
    free(r);
    free(h);
}

/* The spec's example answer decodes against the spec's example pool. */
static void test_decode_spec_example(void **state)
{
    struct xlmig__place_host *h = evaluate(example, ARRAY_LEN(example));
    struct xlmig__place_ranking *r = calloc(1, sizeof(*r));
    char *doc = doc_block("wlb-answer"), why[512];

    (void)state;
    assert_non_null(r);
    if (xlmig__wlb_answer_decode(h, 3, doc, strlen(doc), r, why,
                                 sizeof(why)))
        fail_msg("the spec's answer is refused: %s", why);
    assert_string_equal(names(r), "h2");
    assert_string_equal(r->recs[0].reason, "preferred host");
    free(doc);
    free(r);
    free(h);
}

#define REC(h) "{\"host\":" h ",\"score\":1,\"reason\":\"r\"}"
#define RECS(x) "{\"recommendations\":[" x "]}"

static void test_decode_bad(void **state)
{
    static const struct {
        const char *answer;
        size_t len;         /* 0: strlen */
        const char *word;
    } cases[] = {
        { "", 0, "the answer is empty" },
        { " \n\t", 0, "the answer is empty" },
        { "hello", 0, "not valid JSON" },
        { RECS(REC("\"h2\"")) " trailing", 0, "trailing garbage" },
        { RECS(REC("\"h2\"")) RECS(REC("\"h2\"")), 0, "trailing garbage" },
        { "{\"recommendations\":[", 0, "not valid JSON" },
        { "{\"recommendations\":[]}\0x", 24, "a NUL byte at offset 22" },
        { "[[[[[[[[[[]]]]]]]]]]", 0, "nested deeper than 8" },
        { "[]", 0, "the answer is an array, not an object" },
        { "{}", 0, "no member \"recommendations\"" },
        { "{\"recommendations\":[],\"recommendations\":[]}", 0,
          "more than one member \"recommendations\"" },
        { "{\"recommendations\":{}}", 0,
          "\"recommendations\" is an object, not an array" },
        { "{\"version\":2,\"recommendations\":[]}", 0,
          "\"version\" is not 1" },
        { "{\"version\":\"1\",\"recommendations\":[]}", 0,
          "\"version\" is not 1" },
        { RECS("7"), 0, "recommendation 1 is an integer, not an object" },
        { RECS("{\"score\":1,\"reason\":\"r\"}"), 0,
          "recommendation 1 has no member \"host\"" },
        { RECS("{\"host\":\"h2\",\"reason\":\"r\"}"), 0,
          "recommendation 1 has no member \"score\"" },
        { RECS("{\"host\":\"h2\",\"score\":1}"), 0,
          "recommendation 1 has no member \"reason\"" },
        { RECS("{\"host\":\"h2\",\"host\":\"h3\",\"score\":1,"
               "\"reason\":\"r\"}"), 0,
          "recommendation 1 has member \"host\" twice" },
        { RECS(REC("2")), 0, "\"host\" is an integer, not a string" },
        { RECS(REC("\"h2\"") "," REC("\"h9\"")), 0,
          "recommendation 2: host \"h9\" is not one of the 3 hosts" },
        { RECS(REC("\"h\\u0001x\"")), 0, "host \"h?x\" is not one of" },
        { RECS(REC("\"h4\"")), 0, "recommendation 1: host h4 cannot take "
          "the VM (HOST_NOT_ENOUGH_FREE_MEMORY" },
        { RECS(REC("\"h5\"")), 0, "host h5 cannot take the VM "
          "(HOST_DISABLED" },
        { RECS(REC("\"h1\"")), 0, "host \"h1\" is not one of" },
        { RECS(REC("\"h2\"") "," REC("\"h3\"") "," REC("\"h2\"")), 0,
          "recommendation 3 names host h2 again (as recommendation 1 did)" },
        { RECS("{\"host\":\"h2\",\"score\":\"1\",\"reason\":\"r\"}"), 0,
          "\"score\" is a string, not a finite number" },
        { RECS("{\"host\":\"h2\",\"score\":1e999,\"reason\":\"r\"}"), 0,
          "\"score\" is out of range, not a finite number" },
        { RECS("{\"host\":\"h2\",\"score\":null,\"reason\":\"r\"}"), 0,
          "\"score\" is null, not a finite number" },
        { RECS("{\"host\":\"h2\",\"score\":1,\"reason\":[]}"), 0,
          "\"reason\" is an array, not a string" },
        { RECS("{\"host\":\"h2\",\"score\":1,\"reason\":\"\"}"), 0,
          "\"reason\" is 0 bytes long" },
        { RECS("{\"host\":\"h2\",\"score\":1,\"reason\":\"a\\nb\"}"), 0,
          "\"reason\" holds a control character (byte 1)" },
        { RECS("{\"host\":\"h2\",\"score\":1,\"reason\":\"\xff\"}"), 0,
          "not valid JSON" },
    };
    static const struct hspec specs[] = {
        { "h2", 4096, true, 17, 8 },
        { "h3", 8192, true, 17, 8 },
        { "h4", 1024, true, 17, 8 },
        { "h5", 8192, false, 17, 8 },
    };
    struct xlmig__place_host *h = evaluate(specs, ARRAY_LEN(specs));
    struct xlmig__place_ranking *r = calloc(1, sizeof(*r));
    struct xlmig__place_ranking *before = calloc(1, sizeof(*r));
    char why[512], *big;
    size_t i, len;

    (void)state;
    assert_non_null(r);
    assert_non_null(before);
    /* h5 is disabled, h1 the source: neither is a candidate. */
    for (i = 0; i < ARRAY_LEN(cases); i++) {
        len = cases[i].len ? cases[i].len : strlen(cases[i].answer);
        memset(r, 0x5a, sizeof(*r));
        memcpy(before, r, sizeof(*r));
        why[0] = '\0';
        /* Only the first three are in the request in some cases. */
        assert_int_equal(xlmig__wlb_answer_decode(h, strstr(cases[i].answer,
                                                            "h5") ? 4 : 3,
                                                  cases[i].answer, len, r,
                                                  why, sizeof(why)),
                         LIBXLMIG_ERR_WLB_MALFORMED_RESPONSE);
        if (!strstr(why, cases[i].word))
            fail_msg("case %zu: expected \"%s\" in \"%s\"", i,
                     cases[i].word, why);
        assert_memory_equal(r, before, sizeof(*r));
    }

    /* A reason of 256 bytes; 65 recommendations; 64 KiB + 1. */
    big = malloc(XLMIG__WLB_ANSWER_MAX + 2);
    assert_non_null(big);
    len = (size_t)snprintf(big, 400, "{\"recommendations\":[{\"host\":"
                           "\"h2\",\"score\":1,\"reason\":\"%0256d\"}]}", 0);
    assert_int_equal(xlmig__wlb_answer_decode(h, 3, big, len, r, why,
                                              sizeof(why)),
                     LIBXLMIG_ERR_WLB_MALFORMED_RESPONSE);
    assert_contains(why, "\"reason\" is 256 bytes long; it must have 1 to "
                    "255");
    len = (size_t)sprintf(big, "{\"recommendations\":[");
    for (i = 0; i < 65; i++)
        len += (size_t)sprintf(big + len, "%s" REC("\"h2\""), i ? "," : "");
    len += (size_t)sprintf(big + len, "]}");
    assert_int_equal(xlmig__wlb_answer_decode(h, 3, big, len, r, why,
                                              sizeof(why)),
                     LIBXLMIG_ERR_WLB_MALFORMED_RESPONSE);
    assert_contains(why, "65 recommendations, more than the 64");
    memset(big, ' ', XLMIG__WLB_ANSWER_MAX + 1);
    memcpy(big, RECS(""), strlen(RECS("")));
    assert_int_equal(xlmig__wlb_answer_decode(h, 3, big,
                                              XLMIG__WLB_ANSWER_MAX, r, why,
                                              sizeof(why)), 0);
    assert_int_equal(xlmig__wlb_answer_decode(h, 3, big,
                                              XLMIG__WLB_ANSWER_MAX + 1, r,
                                              why, sizeof(why)),
                     LIBXLMIG_ERR_WLB_MALFORMED_RESPONSE);
    assert_contains(why, "65537 bytes, more than the 65536");
    free(big);
    free(before);
    free(r);
    free(h);
}

/* ------------------------------------------------------------ hooks */

/* The pid a hook wrote into tmpdir/@name. */
static pid_t pid_in(const char *name)
{
    char p[128], *text;
    pid_t pid;

    snprintf(p, sizeof(p), "%s/%s", tmpdir, name);
    text = slurp(p);
    if (!text)
        fail_msg("the hook wrote no %s", p);
    pid = (pid_t)atoi(text);
    free(text);
    assert_true(pid > 1);
    return pid;
}

static void no_child_left(void)
{
    assert_int_equal(waitpid(-1, NULL, WNOHANG), -1);
    assert_int_equal(errno, ECHILD);
}

/* The spec's example balancer, preferring h3 then h2 in turn. */
static void test_hook_spec_example(void **state)
{
    static const struct hspec specs[] = {
        { "h2", 4096, true, 17, 8 },
        { "h3", 3072, true, 17, 8 },
        { "h4", 8192, true, 17, 8 },
        { "h5", 1024, true, 17, 8 },
    };
    struct xlmig__place_host *h = evaluate(specs, ARRAY_LEN(specs));
    struct xlmig__place_ranking *r = calloc(1, sizeof(*r));
    char *script = doc_block("wlb-example"), file[128], cmd[256];
    struct xlmig__wlb_hook hook = { cmd, 20000 };

    (void)state;
    assert_non_null(r);
    snprintf(file, sizeof(file), "%s", at("prefer.py"));
    write_file(file, script, strlen(script));
    snprintf(cmd, sizeof(cmd), "python3 '%s' h3", file);
    reset_log();
    assert_ok(xlmig__place(ctx, &hook, &plan, "h1", h, 4, r));
    assert_int_equal(r->source, XLMIG__PLACE_HOOK);
    assert_string_equal(names(r), "h3,h4,h2");
    assert_string_equal(r->recs[0].reason, "preferred host");
    assert_true(r->recs[0].score == 1.0);
    assert_string_equal(r->recs[1].reason, "8192 MiB free");
    assert_string_equal(r->fallback, "");
    assert_contains(cap.text, "placing VM web01: host h3 (wlb-hook: "
                    "preferred host)");
    snprintf(cmd, sizeof(cmd), "python3 '%s' h2", file);
    assert_ok(xlmig__place(ctx, &hook, &plan, "h1", h, 4, r));
    assert_string_equal(names(r), "h2,h4,h3");
    /* Without a hook: the built-in choice. */
    assert_ok(xlmig__place(ctx, NULL, &plan, "h1", h, 4, r));
    assert_int_equal(r->source, XLMIG__PLACE_BUILTIN);
    assert_string_equal(names(r), "h4,h2,h3");
    no_child_left();
    free(script);
    free(r);
    free(h);
}

/* What a hook reads on stdin is the request. */
static void test_hook_reads_request(void **state)
{
    struct xlmig__place_host *h = evaluate(example, ARRAY_LEN(example));
    struct xlmig__place_ranking *r = calloc(1, sizeof(*r));
    char file[128], cmd[512], *seen, *ours;
    struct xlmig__wlb_hook hook = { cmd, 10000 };
    size_t len;

    (void)state;
    assert_non_null(r);
    snprintf(file, sizeof(file), "%s/request.json", tmpdir);
    snprintf(cmd, sizeof(cmd), "cat > '%s'; echo '" RECS(REC("\"h2\""))
             "'", file);
    assert_ok(xlmig__wlb_run(ctx, &hook, &plan, "h1", h, 3, r));
    assert_string_equal(names(r), "h2");
    seen = slurp(file);
    assert_non_null(seen);
    assert_ok(xlmig__wlb_request(ctx, &plan, "h1", h, 3, &ours, &len));
    assert_string_equal(seen, ours);
    free(ours);
    free(seen);
    free(r);
    free(h);
}

/*
 * Hooks that fail: each one's error from xlmig__wlb_run() (code and a
 * word), then xlmig__place() falls back to the built-in choice, warns
 * with the error's name, and leaves nothing running.
 */
static void test_hook_failures(void **state)
{
    static const struct {
        const char *what;
        const char *script;
        unsigned int timeout_ms;
        int rc;
        const char *word;
        double max_s;           /* it must end sooner than this */
    } cases[] = {
        { "hangs",
          "sleep 600 &\necho $! > DIR/bg\necho $$ > DIR/pid\nwait\n", 500,
          LIBXLMIG_ERR_WLB_TIMEOUT, "gave no answer for VM web01 within "
          "0.500 s and was killed", 0.5 + 3 },
        { "hangs without reading its stdin",
          "echo $$ > DIR/pid\nexec sleep 600\n", 300,
          LIBXLMIG_ERR_WLB_TIMEOUT, "within 0.300 s", 0.3 + 3 },
        { "prints garbage", "echo $$ > DIR/pid\necho 'hello, world'\n",
          10000, LIBXLMIG_ERR_WLB_MALFORMED_RESPONSE,
          "not as docs/specs/wlb-hook.md asks: not valid JSON", 5 },
        { "names an unknown host",
          "echo $$ > DIR/pid\ncat > /dev/null\n"
          "echo '" RECS(REC("\"h2\"") "," REC("\"h7\"")) "'\n", 10000,
          LIBXLMIG_ERR_WLB_MALFORMED_RESPONSE,
          "recommendation 2: host \"h7\" is not one of the 3 hosts", 5 },
        { "names a host that cannot take the VM",
          "echo $$ > DIR/pid\necho '" RECS(REC("\"h3\"")) "'\n", 10000,
          LIBXLMIG_ERR_WLB_MALFORMED_RESPONSE,
          "host h3 cannot take the VM (HOST_NOT_ENOUGH_FREE_MEMORY", 5 },
        { "exits 3",
          "echo $$ > DIR/pid\necho 'balancer database is down' >&2\n"
          "exit 3\n", 10000, LIBXLMIG_ERR_WLB_INTERNAL_ERROR,
          "exited with status 3 for VM web01: balancer database is down; "
          "fix the balancer", 5 },
        { "is killed by a signal", "echo $$ > DIR/pid\nkill -9 $$\n",
          10000, LIBXLMIG_ERR_WLB_INTERNAL_ERROR,
          "was killed by signal 9 for VM web01: (it said nothing", 5 },
        { "prints megabytes", "echo $$ > DIR/pid\n"
          "head -c 3000000 /dev/zero | tr '\\0' ' '\n", 10000,
          LIBXLMIG_ERR_WLB_MALFORMED_RESPONSE,
          "printed more than the 65536 bytes", 5 },
        { "prints for ever", "echo $$ > DIR/pid\nexec yes '{}'\n", 20000,
          LIBXLMIG_ERR_WLB_MALFORMED_RESPONSE,
          "printed more than the 65536 bytes an answer may have for VM "
          "web01 and was killed", 5 },
        { "prints nothing", "echo $$ > DIR/pid\n", 10000,
          LIBXLMIG_ERR_WLB_MALFORMED_RESPONSE, "the answer is empty", 5 },
    };
    struct xlmig__place_host *h = evaluate(example, ARRAY_LEN(example));
    struct xlmig__place_ranking *r = calloc(1, sizeof(*r));
    struct xlmig__place_ranking *before = calloc(1, sizeof(*r));
    char file[128], cmd[256], text[512], *p;
    struct xlmig__wlb_hook hook = { cmd, 0 };
    size_t i, k;
    double t0, took;

    (void)state;
    assert_non_null(r);
    assert_non_null(before);
    for (i = 0; i < ARRAY_LEN(cases); i++) {
        /* DIR is the temporary directory. */
        for (p = text, k = 0; cases[i].script[k]; k++) {
            if (!strncmp(cases[i].script + k, "DIR", 3)) {
                p += sprintf(p, "%s", tmpdir);
                k += 2;
            } else {
                *p++ = cases[i].script[k];
            }
        }
        *p = '\0';
        write_file(at("hook.sh"), text, strlen(text));
        snprintf(file, sizeof(file), "%s/pid", tmpdir);
        unlink(file);
        snprintf(file, sizeof(file), "%s/bg", tmpdir);
        unlink(file);
        snprintf(cmd, sizeof(cmd), "exec /bin/sh '%s/hook.sh'", tmpdir);
        hook.timeout_ms = cases[i].timeout_ms;

        memset(r, 0x5a, sizeof(*r));
        memcpy(before, r, sizeof(*r));
        t0 = xlmig__now_s();
        assert_int_equal(xlmig__wlb_run(ctx, &hook, &plan, "h1", h, 3, r),
                         cases[i].rc);
        took = xlmig__now_s() - t0;
        if (!strstr(libxlmig_ctx_last_error(ctx), cases[i].word))
            fail_msg("%s: expected \"%s\" in \"%s\"", cases[i].what,
                     cases[i].word, libxlmig_ctx_last_error(ctx));
        assert_memory_equal(r, before, sizeof(*r));
        if (took > cases[i].max_s)
            fail_msg("%s: took %.3f s", cases[i].what, took);
        if (cases[i].rc == LIBXLMIG_ERR_WLB_TIMEOUT &&
            took < cases[i].timeout_ms / 1000.0 - 0.01)
            fail_msg("%s: killed after %.3f s", cases[i].what, took);
        if (still_running(pid_in("pid")))
            fail_msg("%s: the hook still runs", cases[i].what);
        snprintf(file, sizeof(file), "%s/bg", tmpdir);
        if (!access(file, F_OK) && still_running(pid_in("bg")))
            fail_msg("%s: the hook's child still runs", cases[i].what);
        no_child_left();

        /* Placing: the built-in choice, and a warning naming the error. */
        reset_log();
        assert_ok(xlmig__place(ctx, &hook, &plan, "h1", h, 3, r));
        assert_int_equal(r->source, XLMIG__PLACE_BUILTIN);
        assert_string_equal(names(r), "h2");
        assert_int_equal(r->fallback_rc, cases[i].rc);
        assert_contains(r->fallback, libxlmig_strerror_name(cases[i].rc));
        assert_contains(r->fallback, "; placing VM web01 by the built-in "
                        "choice (most free memory) instead");
        assert_contains(cap.text, r->fallback);
        assert_contains(cap.text, "placing VM web01: host h2 (built-in: "
                        "most free memory: 6144 MiB)");
        if (still_running(pid_in("pid")))
            fail_msg("%s: the hook still runs after placing",
                     cases[i].what);
        no_child_left();
    }
    free(before);
    free(r);
    free(h);
}

/* A hook that cannot be found; one that answers but leaves a child
 * holding its stdout; one with no recommendation. */
static void test_hook_odd(void **state)
{
    struct xlmig__place_host *h = evaluate(example, ARRAY_LEN(example));
    struct xlmig__place_ranking *r = calloc(1, sizeof(*r));
    char cmd[512];
    struct xlmig__wlb_hook hook = { cmd, 10000 };
    double t0;

    (void)state;
    assert_non_null(r);
    snprintf(cmd, sizeof(cmd), "/nonexistent/balancer --fast");
    assert_int_equal(xlmig__wlb_run(ctx, &hook, &plan, "h1", h, 3, r),
                     LIBXLMIG_ERR_WLB_INTERNAL_ERROR);
    assert_contains(libxlmig_ctx_last_error(ctx), "WLB_INTERNAL_ERROR: "
                    "wlb-hook '/nonexistent/balancer --fast' exited with "
                    "status 127 for VM web01: ");
    assert_contains(libxlmig_ctx_last_error(ctx), "/nonexistent/balancer");

    snprintf(cmd, sizeof(cmd), "sleep 600 & echo $! > '%s/bg'; echo '"
             RECS(REC("\"h2\"")) "'", tmpdir);
    t0 = xlmig__now_s();
    assert_ok(xlmig__wlb_run(ctx, &hook, &plan, "h1", h, 3, r));
    assert_true(xlmig__now_s() - t0 < 5);
    assert_string_equal(names(r), "h2");
    assert_false(still_running(pid_in("bg")));
    no_child_left();

    snprintf(cmd, sizeof(cmd), "echo '{\"recommendations\":[]}'");
    assert_ok(xlmig__wlb_run(ctx, &hook, &plan, "h1", h, 3, r));
    assert_int_equal(r->n, 0);
    assert_int_equal(r->source, XLMIG__PLACE_HOOK);
    reset_log();
    assert_ok(xlmig__place(ctx, &hook, &plan, "h1", h, 3, r));
    assert_int_equal(r->source, XLMIG__PLACE_BUILTIN);
    assert_string_equal(names(r), "h2");
    assert_int_equal(r->fallback_rc, 0);
    assert_string_equal(r->fallback, "wlb-hook recommended no host for VM "
                        "web01; placing it by the built-in choice (most "
                        "free memory) instead");
    assert_contains(cap.text, r->fallback);

    hook.command = "";
    assert_int_equal(xlmig__wlb_run(ctx, &hook, &plan, "h1", h, 3, r),
                     LIBXLMIG_ERR_INVALID_ARGUMENT);
    free(r);
    free(h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_builtin),
        cmocka_unit_test(test_verdicts),
        cmocka_unit_test(test_evaluate_refuses),
        cmocka_unit_test(test_no_hosts),
        cmocka_unit_test(test_no_hosts_many),
        cmocka_unit_test(test_request),
        cmocka_unit_test(test_request_is_the_spec_example),
        cmocka_unit_test(test_decode_good),
        cmocka_unit_test(test_decode_spec_example),
        cmocka_unit_test(test_decode_bad),
        cmocka_unit_test(test_hook_spec_example),
        cmocka_unit_test(test_hook_reads_request),
        cmocka_unit_test(test_hook_failures),
        cmocka_unit_test(test_hook_odd),
    };

    return cmocka_run_group_tests_name("placement", tests, setup, teardown);
}

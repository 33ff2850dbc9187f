/* SPDX-License-Identifier: LGPL-2.1-only */
/*
 * Batches (libxlmig/batch.c): the order VMs are planned in (the most
 * memory first, halted last), free memory accounted as VMs are planned
 * (two VMs that fit on a host one at a time go to two hosts; one that
 * fits nowhere once the others are planned is refused, its refusal
 * saying what was promised), halted VMs taking none, a VM the caller
 * refused left alone, memory promised by another batch, the wlb-hook
 * asked per VM with the lowered facts and not asked again once it
 * failed, and bad calls refused.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "batch.h"
#include "internal.h"
#include "sr.h"
#include "testctx.h"
#include "testfs.h"

/* ------------------------------------------------------------ fixtures */

static struct xlmig__host_facts src;

struct hspec {
    const char *name;
    unsigned int free_mib;
    bool enabled;
};

/* A VM: its name, MiB of memory, running. */
struct vspec {
    const char *name;
    unsigned int mib;
    bool running;
};

static void facts(struct xlmig__host_facts *f, const char *name,
                  unsigned int free_mib)
{
    memset(f, 0, sizeof(*f));
    xlmig__strlcpy(f->name, name, sizeof(f->name));
    f->xen_major = 4;
    f->xen_minor = 17;
    xlmig__strlcpy(f->xen_version, "4.17.5", sizeof(f->xen_version));
    xlmig__strlcpy(f->version, "0.1.0", sizeof(f->version));
    f->nr_cpus = 8;
    f->free_memory_kib = (uint64_t)free_mib * 1024;
    f->vendor = LIBXLMIG_CPU_VENDOR_INTEL;
    assert_int_equal(libxlmig_featureset_parse(NULL, NULL, "1fcbfbff-"
                                               "f7fa3223-2d93fbff-00000121",
                                               &f->pv_max), 0);
    f->hvm_max = f->pv_max;
    f->nr_bridges = 1;
    xlmig__strlcpy(f->bridges[0], "xenbr0", sizeof(f->bridges[0]));
}

/* The batch under test: plans, VMs, hosts, and what evaluate saw. */
static struct {
    struct xlmig__mig_plan plans[XLMIG__BATCH_VMS_MAX + 1];
    struct xlmig__batch_vm vms[XLMIG__BATCH_VMS_MAX + 1];
    struct xlmig__place_host hosts[8];
    size_t nvm, n;
    size_t evaluated[XLMIG__BATCH_VMS_MAX + 1];  /* VM indexes, in turn */
    size_t nr_evaluated;
    int fail;                       /* evaluate's answer, 0: evaluate */
} B;

static void batch_init(const struct hspec *hs, size_t n,
                       const struct vspec *vs, size_t nvm)
{
    size_t i;

    memset(&B, 0, sizeof(B));
    for (i = 0; i < n; i++) {
        facts(&B.hosts[i].facts, hs[i].name, hs[i].free_mib);
        B.hosts[i].enabled = hs[i].enabled;
    }
    for (i = 0; i < nvm; i++) {
        struct xlmig__mig_plan *p = &B.plans[i];

        xlmig__strlcpy(p->vm, vs[i].name, sizeof(p->vm));
        snprintf(p->vm_uuid, sizeof(p->vm_uuid),
                 "8f2a6c1e-4b7d-4e0a-9c3f-2d1e5a6b7c%02x",
                 (unsigned int)(i & 0xff));
        p->running = vs[i].running;
        p->memory_kib = (uint64_t)vs[i].mib * 1024;
        p->vcpus = 2;
        B.vms[i].plan = p;
    }
    B.n = n;
    B.nvm = nvm;
}

static int evaluate(void *opaque, size_t vm, struct xlmig__place_host *hosts,
                    size_t n)
{
    (void)opaque;
    B.evaluated[B.nr_evaluated++] = vm;
    if (B.fail)
        return B.fail;
    return xlmig__place_evaluate(ctx, "/nonexistent", &B.plans[vm], &src,
                                 NULL, hosts, n);
}

static int plan_with(const struct xlmig__wlb_hook *hook,
                     const uint64_t *reserved)
{
    struct xlmig__batch b = {
        .hook = hook, .src_name = "h1", .hosts = B.hosts, .n = B.n,
        .reserved_kib = reserved, .evaluate = evaluate,
    };

    return xlmig__batch_plan(ctx, &b, B.vms, B.nvm);
}

/* Where each VM went: "a:h3 b:h2 c:-". */
static const char *outcome(void)
{
    static char buf[512];
    size_t i, len = 0;

    buf[0] = '\0';
    for (i = 0; i < B.nvm; i++)
        len += (size_t)snprintf(buf + len, sizeof(buf) - len, "%s%s:%s",
                                i ? " " : "", B.plans[i].vm,
                                B.vms[i].placed
                                    ? B.hosts[B.vms[i].host].facts.name
                                    : "-");
    return buf;
}

static void expect(const char *what, const char *want)
{
    if (strcmp(outcome(), want))
        fail_msg("%s: got \"%s\", expected \"%s\"", what, outcome(), want);
}

static int setup(void **state)
{
    if (group_setup(state))
        return -1;
    facts(&src, "h1", 4096);
    return testfs_dir_setup("test-batch");
}

static int teardown(void **state)
{
    rm_tree(tmpdir);
    return group_teardown(state);
}

/* ------------------------------------------------------------ order */

static void test_order(void **state)
{
    static const struct vspec vs[] = {
        { "small", 512, true }, { "cold", 8192, false },
        { "big", 4096, true }, { "b2", 1024, true }, { "a2", 1024, true },
    };
    size_t order[ARRAY_LEN(vs)];

    (void)state;
    batch_init(NULL, 0, vs, ARRAY_LEN(vs));
    xlmig__batch_order(B.vms, B.nvm, order);
    /* big, then a2 and b2 by name, small; the halted one last. */
    assert_int_equal(order[0], 2);
    assert_int_equal(order[1], 4);
    assert_int_equal(order[2], 3);
    assert_int_equal(order[3], 0);
    assert_int_equal(order[4], 1);
}

/* ------------------------------------------------------------ memory */

/* Two VMs that fit on h3 one at a time: one goes to h2. */
static void test_memory_accounted(void **state)
{
    static const struct hspec hs[] = {
        { "h1", 65536, true }, { "h2", 3000, true }, { "h3", 4000, true },
    };
    static const struct vspec vs[] = {
        { "c", 1024, true }, { "b", 2048, true }, { "a", 2048, true },
    };

    (void)state;
    batch_init(hs, ARRAY_LEN(hs), vs, ARRAY_LEN(vs));
    reset_log();
    assert_ok(plan_with(NULL, NULL));
    /* a first (2048, by name), h3; b to h2 (3000 > 4000 - 2048); c, the
     * smallest, where most is left: h3 (1952 > 952). */
    expect("memory accounted", "c:h3 b:h2 a:h3");
    assert_int_equal(B.vms[2].rank, 0);
    assert_int_equal(B.vms[1].rank, 1);
    assert_int_equal(B.vms[0].rank, 2);
    assert_string_equal(B.vms[2].reason, "most free memory: 4000 MiB");
    assert_string_equal(B.vms[1].reason, "most free memory: 3000 MiB");
    assert_string_equal(B.vms[0].reason, "most free memory: 1952 MiB");
    assert_int_equal(B.vms[0].source, XLMIG__PLACE_BUILTIN);
    assert_int_equal(B.vms[0].rc, 0);
    /* Evaluated in the order planned, each once. */
    assert_int_equal(B.nr_evaluated, 3);
    assert_int_equal(B.evaluated[0], 2);
    assert_int_equal(B.evaluated[2], 0);
    assert_contains(cap.text, "batch: VM b (2048 MiB) to host h2 (built-in: "
                    "most free memory: 3000 MiB)");
    assert_true(cap.last_level < XTL_ERROR);
}

/* The biggest first: in the order given, the big one would fit nowhere. */
static void test_biggest_first(void **state)
{
    static const struct hspec hs[] = {
        { "h2", 3000, true }, { "h3", 1500, true },
    };
    static const struct vspec vs[] = {
        { "small", 1024, true }, { "big", 2900, true },
    };

    (void)state;
    batch_init(hs, ARRAY_LEN(hs), vs, ARRAY_LEN(vs));
    assert_ok(plan_with(NULL, NULL));
    expect("biggest first", "small:h3 big:h2");
}

/* No room once the first is planned: refused, saying what was promised. */
static void test_no_room_after(void **state)
{
    static const struct hspec hs[] = {
        { "h1", 65536, true }, { "h2", 3000, true }, { "h3", 8192, false },
    };
    static const struct vspec vs[] = {
        { "b", 2048, true }, { "a", 2048, true },
    };
    const struct xlmig__batch_vm *b = &B.vms[0];
    size_t i;
    bool h1 = false, h2 = false, h3 = false;

    (void)state;
    batch_init(hs, ARRAY_LEN(hs), vs, ARRAY_LEN(vs));
    reset_log();
    assert_ok(plan_with(NULL, NULL));
    expect("no room after a", "b:- a:h2");
    assert_int_equal(b->rc, LIBXLMIG_ERR_NO_HOSTS_AVAILABLE);
    assert_contains(b->msg, "NO_HOSTS_AVAILABLE: no host can take VM b: ");
    assert_contains(b->msg, "h2 (HOST_NOT_ENOUGH_FREE_MEMORY: VM b needs "
                    "2048 MiB; host h2 has 952 MiB free (of the 3000 MiB "
                    "free there now, 2048 MiB are promised to VM(s) a "
                    "planned there first))");
    /* Every other host's refusal kept, once each; not the VM's own. */
    assert_int_equal(b->nr_refusals, 2);
    for (i = 0; i < b->nr_refusals; i++) {
        h1 = h1 || strstr(b->refusals[i], "host h1 is where VM b is now");
        h2 = h2 || strstr(b->refusals[i], "HOST_NOT_ENOUGH_FREE_MEMORY: VM "
                          "b needs 2048 MiB; host h2 has 952 MiB free");
        h3 = h3 || strstr(b->refusals[i], "HOST_DISABLED: host h3");
    }
    assert_true(!h1 && h2 && h3);
    assert_contains(b->msg, "h1 (INVALID_VALUE: host h1 is where VM b is "
                    "now)");
    /* A VM's refusal is its own, not an error of the batch. */
    assert_true(cap.last_level < XTL_ERROR);
    assert_contains(cap.text, "batch: VM b stays: NO_HOSTS_AVAILABLE");
}

/* A halted VM takes no memory where it goes, and is planned last. */
static void test_halted(void **state)
{
    static const struct hspec hs[] = { { "h2", 3000, true } };
    static const struct vspec vs[] = {
        { "cold", 8192, false }, { "warm", 2048, true },
        { "warm2", 512, true },
    };

    (void)state;
    batch_init(hs, ARRAY_LEN(hs), vs, ARRAY_LEN(vs));
    assert_ok(plan_with(NULL, NULL));
    expect("halted", "cold:h2 warm:h2 warm2:h2");
    assert_int_equal(B.vms[0].rank, 2);
    assert_string_equal(B.vms[0].reason, "most free memory: 440 MiB");
}

/* The caller's refusal stands; memory promised by another batch counts. */
static void test_refused_and_reserved(void **state)
{
    static const struct hspec hs[] = {
        { "h2", 3000, true }, { "h3", 2500, true },
    };
    static const struct vspec vs[] = {
        { "gone", 512, true }, { "a", 2048, true }, { "b", 2048, true },
    };
    const uint64_t reserved[] = { 2000 * 1024, 0 };

    (void)state;
    batch_init(hs, ARRAY_LEN(hs), vs, ARRAY_LEN(vs));
    B.vms[0].rc = LIBXLMIG_ERR_OTHER_OPERATION_IN_PROGRESS;
    xlmig__strlcpy(B.vms[0].msg, "OTHER_OPERATION_IN_PROGRESS: busy",
                   sizeof(B.vms[0].msg));
    assert_ok(plan_with(NULL, reserved));
    /* h2 has 1000 MiB left for this batch: a to h3, b nowhere. */
    expect("reserved", "gone:- a:h3 b:-");
    assert_int_equal(B.vms[0].rc, LIBXLMIG_ERR_OTHER_OPERATION_IN_PROGRESS);
    assert_string_equal(B.vms[0].msg, "OTHER_OPERATION_IN_PROGRESS: busy");
    assert_int_equal(B.nr_evaluated, 2);
    assert_contains(B.vms[2].msg, "host h2 has 1000 MiB free (of the 3000 "
                    "MiB free there now, 2000 MiB are promised to VMs of "
                    "another host's batch planned there first)");
    assert_contains(B.vms[2].msg, "host h3 has 452 MiB free (of the 2500 "
                    "MiB free there now, 2048 MiB are promised to VM(s) a "
                    "planned there first)");
}

/* ------------------------------------------------------------ the hook */

/* Asked per VM, with the free memory the VMs before it left. */
static void test_hook_per_vm(void **state)
{
    static const struct hspec hs[] = {
        { "h2", 3000, true }, { "h3", 4000, true },
    };
    static const struct vspec vs[] = {
        { "a", 2048, true }, { "b", 2048, true },
    };
    char cmd[1024], log[128], *text, *second;
    struct xlmig__wlb_hook hook = { cmd, 20000 };
    FILE *f;

    (void)state;
    /* The host with the least free memory that can take it. */
    snprintf(log, sizeof(log), "%s/requests", tmpdir);
    snprintf(cmd, sizeof(cmd), "python3 -c 'import json, sys\n"
             "r = json.load(sys.stdin)\n"
             "open(\"%s\", \"a\").write(json.dumps(r) + \"\\n\")\n"
             "h = sorted([h for h in r[\"hosts\"] if h[\"can_take\"]],\n"
             "           key=lambda h: h[\"facts\"][\"free_memory_kib\"])\n"
             "print(json.dumps({\"recommendations\": [{\"host\": x[\"name\"],"
             " \"score\": 1, \"reason\": \"least room\"} for x in h]}))'",
             log);
    batch_init(hs, ARRAY_LEN(hs), vs, ARRAY_LEN(vs));
    assert_ok(plan_with(&hook, NULL));
    expect("hook per VM", "a:h2 b:h3");
    assert_int_equal(B.vms[0].source, XLMIG__PLACE_HOOK);
    assert_string_equal(B.vms[1].reason, "least room");
    assert_string_equal(B.vms[1].fallback, "");
    f = fopen(log, "r");
    assert_non_null(f);
    fclose(f);
    text = calloc(1, 65536);
    assert_non_null(text);
    f = fopen(log, "r");
    assert_true(fread(text, 1, 65535, f) > 0);
    fclose(f);
    /* Two requests; in the second, h2 has 952 MiB and cannot take b. */
    second = strchr(text, '\n');
    assert_non_null(second);
    assert_non_null(strchr(second + 1, '\n'));
    assert_null(strchr(strchr(second + 1, '\n') + 1, '\n'));
    assert_contains(second, "\"name\": \"b\"");
    assert_contains(second, "\"free_memory_kib\": 974848");
    assert_contains(second, "VM b needs 2048 MiB; host h2 has 952 MiB free");
    free(text);
}

/* A hook that fails is asked once: the others are built-in, saying so. */
static void test_hook_fails_once(void **state)
{
    static const struct hspec hs[] = {
        { "h2", 3000, true }, { "h3", 4000, true },
    };
    static const struct vspec vs[] = {
        { "a", 2048, true }, { "b", 1024, true }, { "c", 512, true },
    };
    char cmd[256], count[128], buf[64] = "";
    struct xlmig__wlb_hook hook = { cmd, 20000 };
    FILE *f;

    (void)state;
    snprintf(count, sizeof(count), "%s/asked", tmpdir);
    snprintf(cmd, sizeof(cmd), "echo x >> '%s'; exit 3", count);
    batch_init(hs, ARRAY_LEN(hs), vs, ARRAY_LEN(vs));
    reset_log();
    assert_ok(plan_with(&hook, NULL));
    expect("hook fails", "a:h3 b:h2 c:h2");
    f = fopen(count, "r");
    assert_non_null(f);
    assert_true(fread(buf, 1, sizeof(buf) - 1, f) > 0);
    fclose(f);
    assert_string_equal(buf, "x\n");
    assert_int_equal(B.vms[0].fallback_rc, LIBXLMIG_ERR_WLB_INTERNAL_ERROR);
    assert_contains(B.vms[0].fallback, "WLB_INTERNAL_ERROR: ");
    assert_int_equal(B.vms[2].source, XLMIG__PLACE_BUILTIN);
    assert_int_equal(B.vms[2].fallback_rc, LIBXLMIG_ERR_WLB_INTERNAL_ERROR);
    assert_string_equal(B.vms[2].fallback, "WLB_INTERNAL_ERROR: wlb-hook "
                        "was not asked for VM c: it failed for VM a before "
                        "it in this batch; placing VM c by the built-in "
                        "choice (most free memory) instead");
    assert_contains(cap.text, "the rest of the batch is placed by the "
                    "built-in choice too");
    assert_true(cap.last_level < XTL_ERROR);
}

/* ------------------------------------------------------------ bad calls */

static void test_bad_calls(void **state)
{
    static const struct hspec hs[] = { { "h2", 3000, true } };
    static const struct vspec v = { "a", 64, true };
    struct vspec many[XLMIG__BATCH_VMS_MAX + 1];
    struct xlmig__batch b = { .src_name = "h1" };
    size_t i;

    (void)state;
    for (i = 0; i < ARRAY_LEN(many); i++)
        many[i] = v;
    batch_init(hs, 1, many, ARRAY_LEN(many));
    assert_int_equal(plan_with(NULL, NULL), LIBXLMIG_ERR_INVALID_ARGUMENT);
    assert_contains(libxlmig_ctx_last_error(ctx), "a batch of 65 VMs");
    B.nvm = XLMIG__BATCH_VMS_MAX;
    assert_ok(plan_with(NULL, NULL));
    B.nvm = 0;
    assert_int_equal(plan_with(NULL, NULL), LIBXLMIG_ERR_INVALID_ARGUMENT);
    b.hosts = B.hosts;
    b.n = 1;
    assert_int_equal(xlmig__batch_plan(ctx, &b, B.vms, 1),
                     LIBXLMIG_ERR_INVALID_ARGUMENT);
    /* evaluate's error ends the planning, named with the VM. */
    batch_init(hs, 1, &v, 1);
    B.fail = LIBXLMIG_ERR_NO_MEMORY;
    assert_int_equal(plan_with(NULL, NULL), LIBXLMIG_ERR_NO_MEMORY);
    assert_contains(libxlmig_ctx_last_error(ctx), "planning VM a: ");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_order),
        cmocka_unit_test(test_memory_accounted),
        cmocka_unit_test(test_biggest_first),
        cmocka_unit_test(test_no_room_after),
        cmocka_unit_test(test_halted),
        cmocka_unit_test(test_refused_and_reserved),
        cmocka_unit_test(test_hook_per_vm),
        cmocka_unit_test(test_hook_fails_once),
        cmocka_unit_test(test_bad_calls),
    };

    return cmocka_run_group_tests_name("batch", tests, setup, teardown);
}

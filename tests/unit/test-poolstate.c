/* SPDX-License-Identifier: LGPL-2.1-only */
/*
 * The pool master's state (libxlmig/poolstate.c, docs/specs/pool-state.md):
 * JSON round trips (also of the largest state there can be), every way
 * the decoder refuses a file (table-driven, naming the file and the
 * member, the state untouched), pool-param-set's refusals with nothing
 * changed, members and tasks with their caps, a member's enabled flag
 * (host-disable: kept, and read as enabled from files written before
 * it existed), the wlb-hook settings (read as their defaults from files
 * written before them), and the file: defaults
 * when missing, save and load, a corrupted, oversized, truncated or
 * non-regular file refused naming it, the old file intact after a failed
 * save.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"
#include "poolstate.h"
#include "testctx.h"
#include "testfs.h"
#include "testutil.h"

#define UUID1 "2d5e2b1c-6a1f-4c3e-9b7a-0e1f2a3b4c5d"
#define NAME64 "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa" \
               "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define NAME65 NAME64 "a"


/* ------------------------------------------------------------ fixtures */

static struct xlmig__pool_task task_of(uint64_t id, const char *vm)
{
    struct xlmig__pool_task t;

    memset(&t, 0, sizeof(t));
    t.id = id;
    xlmig__strlcpy(t.vm, vm, sizeof(t.vm));
    xlmig__strlcpy(t.source, "h1", sizeof(t.source));
    xlmig__strlcpy(t.destination, "h2", sizeof(t.destination));
    xlmig__strlcpy(t.phase, "queued", sizeof(t.phase));
    t.progress = 0;
    t.created = 1763769600;
    return t;
}

/* A pool of three hosts and two migrations. */
static void fill_state(struct xlmig__pool_state *st)
{
    struct xlmig__pool_task t;

    xlmig__pool_state_init(st);
    assert_ok(xlmig__pool_identity_set(ctx, st, "pool-a", UUID1));
    assert_ok(xlmig__pool_param_set(ctx, st, "migration-compression",
                                    "true"));
    assert_ok(xlmig__pool_param_set(ctx, st, "migration-concurrency", "5"));
    assert_ok(xlmig__pool_param_set(ctx, st, "wlb-hook",
                                    "python3 /etc/xlmig/prefer.py 'h2' "
                                    "\"x\\y\""));
    assert_ok(xlmig__pool_param_set(ctx, st, "wlb-hook-timeout", "7"));
    st->rolling_upgrading = true;
    xlmig__strlcpy(st->rolling_held, "h2.example.com",
                   sizeof(st->rolling_held));
    assert_ok(xlmig__pool_member_add(ctx, st, "h1", "192.0.2.1:8555",
                                     1763769600));
    assert_ok(xlmig__pool_member_add(ctx, st, "h2.example.com",
                                     "h2.example.com:8555", 1763769601));
    assert_ok(xlmig__pool_member_add(ctx, st, "h3", "[2001:db8::3]:65535",
                                     0));
    t = task_of(7, "web1");
    xlmig__strlcpy(t.phase, "memory", sizeof(t.phase));
    t.progress = 42;
    assert_ok(xlmig__pool_task_add(ctx, st, &t));
    t = task_of(9, "db.1");
    t.priority = true;
    t.progress = 100;
    assert_ok(xlmig__pool_task_add(ctx, st, &t));
}

/*
 * The largest state: 64 members and 4096 tasks, every name, address and
 * phase at its longest, every number at its widest.
 */
static void fill_largest(struct xlmig__pool_state *st)
{
    char name[XLMIG__POOL_NAME_MAX + 1], addr[XLMIG__POOL_ADDRESS_MAX + 1];
    size_t i;

    xlmig__pool_state_init(st);
    assert_ok(xlmig__pool_identity_set(ctx, st, NAME64, UUID1));
    assert_ok(xlmig__pool_param_set(ctx, st, "migration-concurrency", "50"));
    assert_ok(xlmig__pool_param_set(ctx, st, "wlb-hook-timeout", "120"));
    /* '"' and '\\' take two bytes each in JSON. */
    memset(st->wlb_hook, '"', XLMIG__POOL_WLB_HOOK_MAX);
    st->wlb_hook[XLMIG__POOL_WLB_HOOK_MAX] = '\0';
    for (i = 0; i < XLMIG__POOL_MEMBERS_MAX; i++) {
        memset(name, 'h', XLMIG__POOL_NAME_MAX);
        snprintf(name + XLMIG__POOL_NAME_MAX - 3, 4, "%03zu", i);
        memset(addr, 'a', XLMIG__POOL_ADDRESS_MAX);
        snprintf(addr + XLMIG__POOL_ADDRESS_MAX - 9, 10, "%03zu:65535", i);
        assert_ok(xlmig__pool_member_add(ctx, st, name, addr, INT64_MAX));
        /* "false" is longer than "true" */
        assert_ok(xlmig__pool_member_set_enabled(ctx, st, name, false,
                                                 NULL));
    }
    for (i = 0; i < XLMIG__POOL_TASKS_MAX; i++) {
        struct xlmig__pool_task t = task_of(XLMIG__POOL_TASK_ID_MAX - i,
                                            NAME64);

        xlmig__strlcpy(t.source, NAME64, sizeof(t.source));
        xlmig__strlcpy(t.destination, NAME64, sizeof(t.destination));
        memset(t.phase, 'p', XLMIG__POOL_PHASE_MAX);
        t.phase[XLMIG__POOL_PHASE_MAX] = '\0';
        t.progress = 100;
        t.created = INT64_MAX;
        t.priority = false;     /* "false" is longer than "true" */
        assert_ok(xlmig__pool_task_add(ctx, st, &t));
    }
}

static int decode(const char *json, struct xlmig__pool_state *st)
{
    return xlmig__pool_state_decode(ctx, "test.json", (const uint8_t *)json,
                                    strlen(json), st);
}

/* ------------------------------------------------------------ basics */

static void test_defaults(void **state)
{
    struct xlmig__pool_state st;
    char buf[16];

    (void)state;
    memset(&st, 0x5a, sizeof(st));
    xlmig__pool_state_init(&st);
    assert_string_equal(st.name, "");
    assert_string_equal(st.uuid, "");
    assert_false(st.compression);
    assert_int_equal(st.concurrency, 3);
    assert_int_equal(st.nr_members, 0);
    assert_int_equal(st.nr_tasks, 0);
    assert_null(st.tasks);
    assert_ok(xlmig__pool_state_check(ctx, &st));
    assert_ok(xlmig__pool_param_get(ctx, &st, "migration-compression", buf,
                                    sizeof(buf)));
    assert_string_equal(buf, "false");
    assert_ok(xlmig__pool_param_get(ctx, &st, "migration-concurrency", buf,
                                    sizeof(buf)));
    assert_string_equal(buf, "3");
    assert_string_equal(st.wlb_hook, "");
    assert_int_equal(st.wlb_hook_timeout, 10);
    assert_ok(xlmig__pool_param_get(ctx, &st, "wlb-hook", buf, sizeof(buf)));
    assert_string_equal(buf, "");
    assert_ok(xlmig__pool_param_get(ctx, &st, "wlb-hook-timeout", buf,
                                    sizeof(buf)));
    assert_string_equal(buf, "10");
    xlmig__pool_state_dispose(&st);
    xlmig__pool_state_dispose(&st);     /* idempotent */
    xlmig__pool_state_dispose(NULL);
    assert_string_equal(xlmig__pool_param_name(0), "migration-compression");
    assert_string_equal(xlmig__pool_param_name(1), "migration-concurrency");
    assert_string_equal(xlmig__pool_param_name(2), "wlb-hook");
    assert_string_equal(xlmig__pool_param_name(3), "wlb-hook-timeout");
    assert_null(xlmig__pool_param_name(4));
}

static void test_round_trip(void **state)
{
    struct xlmig__pool_state st, back, copy;
    char *text = NULL;
    size_t len = 0;

    (void)state;
    fill_state(&st);
    assert_ok(xlmig__pool_state_encode(&st, &text, &len));
    assert_int_equal(len, strlen(text));
    assert_contains(text, "\"version\": 1");
    assert_contains(text, "\"kind\": \"pool\"");
    assert_contains(text, "\"migration-compression\": true");
    assert_contains(text, "\"migration-concurrency\": 5");
    assert_contains(text, "\"wlb-hook\": \"python3 /etc/xlmig/prefer.py "
                    "'h2' \\\"x\\\\y\\\"\"");
    assert_contains(text, "\"wlb-hook-timeout\": 7");
    assert_contains(text, "\"rolling-upgrade-in-progress\": true");
    assert_contains(text, "\"rolling-upgrade-held\": \"h2.example.com\"");
    assert_contains(text, "\"address\": \"[2001:db8::3]:65535\"");
    assert_contains(text, "\"priority\": true");
    xlmig__pool_state_init(&back);
    reset_log();
    assert_ok(decode(text, &back));
    assert_int_equal(cap.count, 0);
    assert_true(xlmig__pool_state_equal(&st, &back));
    assert_string_equal(back.members[1].name, "h2.example.com");
    assert_int_equal(back.tasks[0].id, 7);
    assert_int_equal(back.tasks[0].progress, 42);
    assert_string_equal(back.tasks[0].phase, "memory");
    assert_true(back.tasks[1].priority);
    assert_string_equal(back.wlb_hook, "python3 /etc/xlmig/prefer.py 'h2' "
                        "\"x\\y\"");
    assert_int_equal(back.wlb_hook_timeout, 7);
    assert_true(back.rolling_upgrading);
    assert_string_equal(back.rolling_held, "h2.example.com");
    back.rolling_held[0] = '\0';
    assert_false(xlmig__pool_state_equal(&st, &back));
    xlmig__strlcpy(back.rolling_held, "h2.example.com",
                   sizeof(back.rolling_held));
    free(text);

    /* Copies are equal and independent. */
    xlmig__pool_state_init(&copy);
    assert_ok(xlmig__pool_state_copy(ctx, &copy, &st));
    assert_true(xlmig__pool_state_equal(&copy, &st));
    assert_ok(xlmig__pool_task_update(ctx, &copy, 7, "done", 100));
    assert_false(xlmig__pool_state_equal(&copy, &st));
    assert_int_equal(st.tasks[0].progress, 42);
    /* A copy over a state that had tasks frees them. */
    assert_ok(xlmig__pool_state_copy(ctx, &copy, &back));
    assert_true(xlmig__pool_state_equal(&copy, &st));

    /* Decoding over a state replaces it whole. */
    xlmig__pool_state_dispose(&back);
    assert_ok(xlmig__pool_param_set(ctx, &back, "migration-concurrency",
                                    "9"));
    assert_ok(decode("{\"version\":1,\"kind\":\"pool\",\"name\":\"\","
                     "\"uuid\":\"\",\"settings\":{\"migration-compression\":"
                     "false,\"migration-concurrency\":3},\"members\":[],"
                     "\"tasks\":[]}", &copy));
    assert_int_equal(copy.nr_tasks, 0);
    assert_int_equal(copy.nr_members, 0);
    assert_false(xlmig__pool_state_equal(&copy, &back));
    xlmig__pool_state_dispose(&back);
    assert_true(xlmig__pool_state_equal(&copy, &back));
    assert_false(xlmig__pool_state_equal(&copy, NULL));
    assert_true(xlmig__pool_state_equal(NULL, NULL));
    xlmig__pool_state_dispose(&copy);
    xlmig__pool_state_dispose(&st);
}

/* Unknown members (a later version's) are ignored, order is free. */
static void test_decode_example(void **state)
{
    struct xlmig__pool_state st;

    (void)state;
    xlmig__pool_state_init(&st);
    assert_ok(decode("{\"tasks\":[{\"priority\":true,\"id\":3,\"vm\":\"v\","
                     "\"source\":\"a\",\"destination\":\"b\",\"phase\":"
                     "\"storage-mirror\",\"progress\":0,\"created\":0,"
                     "\"later\":[1,{\"x\":null}]}],\"later\":{},\"members\":"
                     "[{\"name\":\"a\",\"address\":\"10.0.0.1:1\","
                     "\"joined\":5}],\"settings\":{\"migration-concurrency\":"
                     "50,\"migration-compression\":false,\"later\":\"x\"},"
                     "\"uuid\":\"2D5E2B1C-6A1F-4C3E-9B7A-0E1F2A3B4C5D\","
                     "\"name\":\"p\",\"kind\":\"pool\",\"version\":1}",
                     &st));
    assert_string_equal(st.name, "p");
    assert_string_equal(st.uuid, "2D5E2B1C-6A1F-4C3E-9B7A-0E1F2A3B4C5D");
    assert_int_equal(st.concurrency, 50);
    /* A file of before placement: no balancer, its default limit; of
     * before the rolling upgrade: not mid-upgrade. */
    assert_string_equal(st.wlb_hook, "");
    assert_int_equal(st.wlb_hook_timeout, 10);
    assert_false(st.rolling_upgrading);
    assert_string_equal(st.rolling_held, "");
    assert_int_equal(st.nr_members, 1);
    assert_string_equal(st.members[0].address, "10.0.0.1:1");
    assert_int_equal(st.members[0].joined, 5);
    assert_int_equal(st.nr_tasks, 1);
    assert_int_equal(st.tasks[0].id, 3);
    assert_string_equal(st.tasks[0].phase, "storage-mirror");
    assert_true(st.tasks[0].priority);
    xlmig__pool_state_dispose(&st);
}

static void test_largest(void **state)
{
    struct xlmig__pool_state st, back;
    char *text = NULL;
    size_t len = 0;

    (void)state;
    fill_largest(&st);
    assert_int_equal(st.nr_members, XLMIG__POOL_MEMBERS_MAX);
    assert_int_equal(st.nr_tasks, XLMIG__POOL_TASKS_MAX);
    assert_ok(xlmig__pool_state_encode(&st, &text, &len));
    /* Every state that can be built fits the file cap. */
    assert_true(len <= XLMIG__POOL_STATE_FILE_MAX);
    print_message("largest pool state: %zu bytes, cap %u\n", len,
                  XLMIG__POOL_STATE_FILE_MAX);
    xlmig__pool_state_init(&back);
    assert_ok(decode(text, &back));
    assert_true(xlmig__pool_state_equal(&st, &back));
    assert_int_equal(back.tasks[0].id, INT64_MAX);
    assert_int_equal(back.members[63].joined, INT64_MAX);
    assert_int_equal(strlen(back.wlb_hook), XLMIG__POOL_WLB_HOOK_MAX);
    free(text);
    xlmig__pool_state_dispose(&back);
    xlmig__pool_state_dispose(&st);
}

/* ------------------------------------------------------------ params */

static void test_param_set(void **state)
{
    static const struct {
        const char *key, *value;
        const char *want;       /* in the message */
    } bad[] = {
        { "migration-concurrency", "0", "out of range" },
        { "migration-concurrency", "51", "out of range" },
        { "migration-concurrency", "abc", "byte 0 is not a digit" },
        { "migration-concurrency", "3x", "byte 1 is not a digit" },
        { "migration-concurrency", " 3", "byte 0 is not a digit" },
        { "migration-concurrency", "3 ", "byte 1 is not a digit" },
        { "migration-concurrency", "", "it is empty" },
        { "migration-concurrency", "-1", "byte 0 is not a digit" },
        { "migration-concurrency", "+3", "byte 0 is not a digit" },
        { "migration-concurrency", "3.0", "byte 1 is not a digit" },
        { "migration-concurrency", "0x10", "byte 1 is not a digit" },
        { "migration-concurrency", "99999999999999999999999",
          "out of range" },
        { "migration-concurrency", "4294967299", "out of range" },
        { "migration-concurrency", "\xff", "byte 0 is not a digit" },
        { "migration-compression", "yes", "expected true or false" },
        { "migration-compression", "TRUE", "expected true or false" },
        { "migration-compression", "1", "expected true or false" },
        { "migration-compression", "", "expected true or false" },
        { "migration-compression", " true", "expected true or false" },
        { "migration-compression", "true ", "expected true or false" },
        { "wlb-hook", "a\tb", "byte 1 is not printable ASCII" },
        { "wlb-hook", "prefer.py\n", "byte 9 is not printable ASCII" },
        { "wlb-hook", "\x7f", "byte 0 is not printable ASCII" },
        { "wlb-hook", "caf\xc3\xa9", "byte 3 is not printable ASCII" },
        { "wlb-hook-timeout", "0", "out of range" },
        { "wlb-hook-timeout", "121", "out of range" },
        { "wlb-hook-timeout", "", "it is empty" },
        { "wlb-hook-timeout", "10s", "byte 2 is not a digit" },
        { "wlb-hook-timeout", "-1", "byte 0 is not a digit" },
    };
    struct xlmig__pool_state st, before;
    size_t i;

    (void)state;
    fill_state(&st);
    for (i = 0; i < ARRAY_LEN(bad); i++) {
        char quoted[64];

        before = st;
        reset_log();
        assert_int_equal(xlmig__pool_param_set(ctx, &st, bad[i].key,
                                               bad[i].value),
                         LIBXLMIG_ERR_INVALID_ARGUMENT);
        assert_memory_equal(&st, &before, sizeof(st));
        assert_int_equal(cap.count, 1);
        assert_contains(libxlmig_ctx_last_error(ctx), "INVALID_VALUE: pool "
                        "parameter ");
        assert_contains(libxlmig_ctx_last_error(ctx), bad[i].key);
        snprintf(quoted, sizeof(quoted), "\"%s\"",
                 bad[i].value[0] == '\xff' ? "?" : bad[i].value);
        if (strlen(bad[i].value) < 40 && !strchr(bad[i].value, '\t') &&
            !strchr(bad[i].value, '\n') && !strchr(bad[i].value, '\x7f') &&
            !strchr(bad[i].value, '\xc3'))
            assert_contains(libxlmig_ctx_last_error(ctx), quoted);
        assert_contains(libxlmig_ctx_last_error(ctx), bad[i].want);
        if (!strcmp(bad[i].key, "migration-concurrency"))
            assert_contains(libxlmig_ctx_last_error(ctx),
                            "expected a decimal integer from 1 to 50");
        if (!strcmp(bad[i].key, "wlb-hook-timeout"))
            assert_contains(libxlmig_ctx_last_error(ctx),
                            "expected a decimal integer from 1 to 120");
        if (!strcmp(bad[i].key, "wlb-hook"))
            assert_contains(libxlmig_ctx_last_error(ctx),
                            "a wlb-hook is a command line of at most 1024 "
                            "bytes of printable ASCII");
        /* Without a context: the same answer. */
        assert_int_equal(xlmig__pool_param_set(NULL, &st, bad[i].key,
                                               bad[i].value),
                         LIBXLMIG_ERR_INVALID_ARGUMENT);
        assert_memory_equal(&st, &before, sizeof(st));
    }

    /* Unknown keys and missing values. */
    before = st;
    reset_log();
    assert_int_equal(xlmig__pool_param_set(ctx, &st, "migration-speed", "3"),
                     LIBXLMIG_ERR_INVALID_ARGUMENT);
    assert_contains(libxlmig_ctx_last_error(ctx),
                    "unknown pool parameter \"migration-speed\"; the pool "
                    "parameters are migration-compression, "
                    "migration-concurrency, wlb-hook, wlb-hook-timeout");
    assert_int_equal(xlmig__pool_param_set(ctx, &st, "", "3"),
                     LIBXLMIG_ERR_INVALID_ARGUMENT);
    assert_int_equal(xlmig__pool_param_set(ctx, &st, NULL, "3"),
                     LIBXLMIG_ERR_INVALID_ARGUMENT);
    assert_int_equal(xlmig__pool_param_set(ctx, &st, "migration-concurrency",
                                           NULL),
                     LIBXLMIG_ERR_INVALID_ARGUMENT);
    assert_contains(libxlmig_ctx_last_error(ctx), "no value");
    assert_int_equal(xlmig__pool_param_set(ctx, NULL, "migration-concurrency",
                                           "3"),
                     LIBXLMIG_ERR_INVALID_ARGUMENT);
    assert_memory_equal(&st, &before, sizeof(st));

    /* What is taken. */
    {
        static const struct {
            const char *value;
            unsigned want;
        } good[] = {
            { "1", 1 }, { "50", 50 }, { "3", 3 }, { "007", 7 }, { "49", 49 },
        };
        char buf[8];

        for (i = 0; i < ARRAY_LEN(good); i++) {
            assert_ok(xlmig__pool_param_set(ctx, &st,
                                            "migration-concurrency",
                                            good[i].value));
            assert_int_equal(st.concurrency, good[i].want);
            assert_ok(xlmig__pool_param_get(ctx, &st,
                                            "migration-concurrency", buf,
                                            sizeof(buf)));
            snprintf(buf + 4, 4, "%u", good[i].want);
            assert_string_equal(buf, buf + 4);
        }
        assert_ok(xlmig__pool_param_set(ctx, &st, "migration-compression",
                                        "false"));
        assert_false(st.compression);
        assert_ok(xlmig__pool_param_get(ctx, &st, "migration-compression",
                                        buf, sizeof(buf)));
        assert_string_equal(buf, "false");
        assert_ok(xlmig__pool_param_set(ctx, &st, "migration-compression",
                                        "true"));
        assert_true(st.compression);
    }

    /* wlb-hook: 1024 bytes, not 1025; "" takes it away. */
    {
        char hook[XLMIG__POOL_WLB_HOOK_MAX + 2];
        char buf[XLMIG__POOL_PARAM_VALUE_MAX];

        memset(hook, '~', sizeof(hook) - 1);
        hook[sizeof(hook) - 1] = '\0';
        before = st;
        reset_log();
        assert_int_equal(xlmig__pool_param_set(ctx, &st, "wlb-hook", hook),
                         LIBXLMIG_ERR_INVALID_ARGUMENT);
        assert_contains(libxlmig_ctx_last_error(ctx),
                        "it is longer than 1024 bytes");
        assert_memory_equal(&st, &before, sizeof(st));
        hook[XLMIG__POOL_WLB_HOOK_MAX] = '\0';
        assert_ok(xlmig__pool_param_set(ctx, &st, "wlb-hook", hook));
        assert_ok(xlmig__pool_param_get(ctx, &st, "wlb-hook", buf,
                                        sizeof(buf)));
        assert_string_equal(buf, hook);
        assert_int_equal(xlmig__pool_param_get(ctx, &st, "wlb-hook", buf,
                                               sizeof(buf) - 1),
                         LIBXLMIG_ERR_INVALID_ARGUMENT);
        assert_string_equal(buf, "");
        assert_ok(xlmig__pool_param_set(ctx, &st, "wlb-hook", ""));
        assert_string_equal(st.wlb_hook, "");
        assert_ok(xlmig__pool_param_set(ctx, &st, "wlb-hook-timeout", "1"));
        assert_int_equal(st.wlb_hook_timeout, 1);
        assert_ok(xlmig__pool_param_set(ctx, &st, "wlb-hook-timeout",
                                        "120"));
        assert_ok(xlmig__pool_param_get(ctx, &st, "wlb-hook-timeout", buf,
                                        sizeof(buf)));
        assert_string_equal(buf, "120");
    }
    xlmig__pool_state_dispose(&st);
}

static void test_param_get(void **state)
{
    struct xlmig__pool_state st;
    char buf[8];

    (void)state;
    xlmig__pool_state_init(&st);
    st.concurrency = 50;
    st.compression = true;
    assert_ok(xlmig__pool_param_get(ctx, &st, "migration-compression", buf,
                                    5));
    assert_string_equal(buf, "true");
    /* Too small: refused, "" left. */
    assert_int_equal(xlmig__pool_param_get(ctx, &st, "migration-compression",
                                           buf, 4),
                     LIBXLMIG_ERR_INVALID_ARGUMENT);
    assert_string_equal(buf, "");
    assert_int_equal(xlmig__pool_param_get(ctx, &st, "migration-concurrency",
                                           buf, 2),
                     LIBXLMIG_ERR_INVALID_ARGUMENT);
    assert_string_equal(buf, "");
    assert_ok(xlmig__pool_param_get(ctx, &st, "migration-concurrency", buf,
                                    3));
    assert_string_equal(buf, "50");
    reset_log();
    assert_int_equal(xlmig__pool_param_get(ctx, &st, "name", buf,
                                           sizeof(buf)),
                     LIBXLMIG_ERR_INVALID_ARGUMENT);
    assert_contains(libxlmig_ctx_last_error(ctx),
                    "unknown pool parameter \"name\"");
    assert_string_equal(buf, "");
    assert_int_equal(xlmig__pool_param_get(NULL, &st, "x", buf, 0),
                     LIBXLMIG_ERR_INVALID_ARGUMENT);
}

static void test_identity(void **state)
{
    static const struct {
        const char *name, *uuid, *want;
    } bad[] = {
        { ".p", "", "pool name \".p\" is not valid: it starts with '.'" },
        { "p q", "", "byte 1 is not a letter" },
        { NAME65, "", "longer than 64 bytes" },
        { NULL, "", "nothing given" },
        { "p", "abc", "pool uuid \"abc\" is not valid" },
        { "p", UUID1 "0", "is not valid" },
        { "p", NULL, "pool uuid \"\" is not valid" },
    };
    struct xlmig__pool_state st, before;
    size_t i;

    (void)state;
    fill_state(&st);
    for (i = 0; i < ARRAY_LEN(bad); i++) {
        before = st;
        reset_log();
        assert_int_equal(xlmig__pool_identity_set(ctx, &st, bad[i].name,
                                                  bad[i].uuid),
                         LIBXLMIG_ERR_INVALID_ARGUMENT);
        assert_contains(libxlmig_ctx_last_error(ctx), bad[i].want);
        assert_int_equal(cap.count, 1);
        assert_memory_equal(&st, &before, sizeof(st));
    }
    assert_ok(xlmig__pool_identity_set(ctx, &st, "", ""));
    assert_string_equal(st.name, "");
    assert_ok(xlmig__pool_identity_set(ctx, &st, NAME64, UUID1));
    assert_string_equal(st.name, NAME64);
    xlmig__pool_state_dispose(&st);
}

/* ------------------------------------------------------------ members */

static void test_members(void **state)
{
    static const struct {
        const char *name, *address, *want;
    } bad[] = {
        { "", "h:1", "host name \"\" is not valid: it is empty" },
        { "-h", "h:1", "it starts with '-'" },
        { "h/1", "h:1", "byte 1 is not a letter" },
        { NAME65, "h:1", "longer than 64 bytes" },
        { NULL, "h:1", "no name given" },
        { "h9", "", "address \"\" of host h9 is not valid: it is empty" },
        { "h9", NULL, "nothing given" },
        { "h9", "h9", "it has no ':PORT'" },
        { "h9", "h9:", "the port is missing" },
        { "h9", ":80", "the host is missing" },
        { "h9", "h9:0", "port 0 is not from 1 to 65535" },
        { "h9", "h9:65536", "port 65536 is not from 1 to 65535" },
        { "h9", "h9:123456", "longer than 5 digits" },
        { "h9", "h9:8a", "byte 1 of the port is not a digit" },
        { "h9", "h9:-1", "byte 0 of the port is not a digit" },
        { "h9", "h 9:80", "byte 1 is not a letter" },
        { "h9", "-h9:80", "the host starts with '-'" },
        { "h9", "2001:db8::1:80", "IPv6 addresses go in brackets" },
        { "h9", "[2001:db8::1:80", "not closed by ']'" },
        { "h9", "[]:80", "not closed by ']'" },
        { "h9", "[2001:db8::g]:80", "byte 11 is not part of an IPv6" },
        { "h9", "[fe80::1%eth0]:80", "is not part of an IPv6" },
        { "h9", "h9:80\n", "byte 2 of the port is not a digit" },
    };
    struct xlmig__pool_state st, before;
    struct xlmig__pool_member *m;
    char name[16], addr[300];
    size_t i;

    (void)state;
    fill_state(&st);
    for (i = 0; i < ARRAY_LEN(bad); i++) {
        before = st;
        reset_log();
        if (xlmig__pool_member_add(ctx, &st, bad[i].name, bad[i].address,
                                   1) != LIBXLMIG_ERR_INVALID_ARGUMENT)
            fail_msg("member %s at %s taken", bad[i].name ? bad[i].name : "",
                     bad[i].address ? bad[i].address : "(null)");
        assert_contains(libxlmig_ctx_last_error(ctx), "INVALID_VALUE: pool "
                        "member: ");
        assert_contains(libxlmig_ctx_last_error(ctx), bad[i].want);
        assert_int_equal(cap.count, 1);
        assert_memory_equal(&st, &before, sizeof(st));
    }
    /* An address of 256 bytes; one of 255 is taken. */
    memset(addr, 'a', sizeof(addr));
    memcpy(addr + 251, ":8080", 6);
    assert_int_equal(xlmig__pool_member_add(ctx, &st, "h9", addr, 1),
                     LIBXLMIG_ERR_INVALID_ARGUMENT);
    assert_contains(libxlmig_ctx_last_error(ctx), "longer than 255 bytes");
    assert_ok(xlmig__pool_member_add(ctx, &st, "h9", addr + 1, 1));
    assert_ok(xlmig__pool_member_remove(ctx, &st, "h9"));
    /* Before 1970. */
    assert_int_equal(xlmig__pool_member_add(ctx, &st, "h9", "h9:1", -1),
                     LIBXLMIG_ERR_INVALID_ARGUMENT);
    assert_contains(libxlmig_ctx_last_error(ctx), "before 1970");
    /* A member already. */
    before = st;
    assert_int_equal(xlmig__pool_member_add(ctx, &st, "h1", "h1:1", 1),
                     LIBXLMIG_ERR_INVALID_ARGUMENT);
    assert_contains(libxlmig_ctx_last_error(ctx),
                    "host h1 is a member of the pool already");
    assert_memory_equal(&st, &before, sizeof(st));

    /* Find, remove keeps the order. */
    m = xlmig__pool_member_find(&st, "h2.example.com");
    assert_non_null(m);
    assert_string_equal(m->address, "h2.example.com:8555");
    assert_null(xlmig__pool_member_find(&st, "h4"));
    assert_null(xlmig__pool_member_find(&st, NULL));
    assert_null(xlmig__pool_member_find(NULL, "h1"));
    assert_ok(xlmig__pool_member_remove(ctx, &st, "h1"));
    assert_int_equal(st.nr_members, 2);
    assert_string_equal(st.members[0].name, "h2.example.com");
    assert_string_equal(st.members[1].name, "h3");
    reset_log();
    assert_int_equal(xlmig__pool_member_remove(ctx, &st, "h1"),
                     LIBXLMIG_ERR_NOT_FOUND);
    assert_contains(libxlmig_ctx_last_error(ctx),
                    "NOT_FOUND: host h1 is not a member of the pool");

    /* The cap: 64 members. */
    while (st.nr_members < XLMIG__POOL_MEMBERS_MAX) {
        snprintf(name, sizeof(name), "m%zu", st.nr_members);
        assert_ok(xlmig__pool_member_add(ctx, &st, name, "10.0.0.1:80", 1));
    }
    before = st;
    reset_log();
    assert_int_equal(xlmig__pool_member_add(ctx, &st, "one-more", "x:1", 1),
                     LIBXLMIG_ERR_UNSUPPORTED);
    assert_contains(libxlmig_ctx_last_error(ctx),
                    "host one-more cannot join: the pool has 64 members");
    assert_memory_equal(&st, &before, sizeof(st));
    assert_ok(xlmig__pool_state_check(ctx, &st));
    xlmig__pool_state_dispose(&st);
}

/* ------------------------------------------------------------ tasks */

static void test_tasks(void **state)
{
    struct xlmig__pool_state st, before;
    struct xlmig__pool_task t, *f;
    uint64_t id;

    (void)state;
    fill_state(&st);

    /* Bad fields, each refused with nothing changed. */
    {
        struct {
            struct xlmig__pool_task t;
            const char *want;
        } bad[12];
        size_t nr = 0, i;

        bad[nr].t = task_of(0, "v");
        bad[nr++].want = "task id 0 is not from 1 to 9223372036854775807";
        bad[nr].t = task_of((uint64_t)INT64_MAX + 1, "v");
        bad[nr++].want = "task id 9223372036854775808 is not from 1";
        bad[nr].t = task_of(100, "");
        bad[nr++].want = "VM name \"\" is not valid: it is empty";
        bad[nr].t = task_of(100, ".v");
        bad[nr++].want = "VM name \".v\" is not valid: it starts with '.'";
        bad[nr].t = task_of(100, "v");
        xlmig__strlcpy(bad[nr].t.source, "a b", sizeof(bad[nr].t.source));
        bad[nr++].want = "source host name \"a b\" is not valid";
        bad[nr].t = task_of(100, "v");
        bad[nr].t.destination[0] = '\0';
        bad[nr++].want = "destination host name \"\" is not valid";
        bad[nr].t = task_of(100, "v");
        memset(bad[nr].t.vm, 'v', sizeof(bad[nr].t.vm));   /* no NUL */
        bad[nr++].want = "VM name \"\" is not valid: it is not "
                         "NUL-terminated";
        bad[nr].t = task_of(100, "v");
        bad[nr].t.phase[0] = '\0';
        bad[nr++].want = "phase \"\" of task 100 is not valid: it is empty";
        bad[nr].t = task_of(100, "v");
        xlmig__strlcpy(bad[nr].t.phase, "copy memory",
                       sizeof(bad[nr].t.phase));
        bad[nr++].want = "phase \"copy memory\" of task 100 is not valid: "
                         "byte 4";
        bad[nr].t = task_of(100, "v");
        memset(bad[nr].t.phase, 'p', sizeof(bad[nr].t.phase));
        bad[nr++].want = "not NUL-terminated";
        bad[nr].t = task_of(100, "v");
        bad[nr].t.progress = 101;
        bad[nr++].want = "progress 101 of task 100 is not from 0 to 100";
        bad[nr].t = task_of(100, "v");
        bad[nr].t.created = -5;
        bad[nr++].want = "task 100 was created at -5, before 1970";
        assert_int_equal(nr, ARRAY_LEN(bad));
        for (i = 0; i < nr; i++) {
            before = st;
            reset_log();
            assert_int_equal(xlmig__pool_task_add(ctx, &st, &bad[i].t),
                             LIBXLMIG_ERR_INVALID_ARGUMENT);
            assert_contains(libxlmig_ctx_last_error(ctx), "INVALID_VALUE: "
                            "pool task: ");
            assert_contains(libxlmig_ctx_last_error(ctx), bad[i].want);
            assert_int_equal(cap.count, 1);
            assert_memory_equal(&st, &before, sizeof(st));
        }
    }
    /* A duplicate id. */
    t = task_of(7, "other");
    before = st;
    assert_int_equal(xlmig__pool_task_add(ctx, &st, &t),
                     LIBXLMIG_ERR_INVALID_ARGUMENT);
    assert_contains(libxlmig_ctx_last_error(ctx),
                    "task 7 is in the pool state already");
    assert_memory_equal(&st, &before, sizeof(st));
    assert_int_equal(xlmig__pool_task_add(ctx, &st, NULL),
                     LIBXLMIG_ERR_INVALID_ARGUMENT);

    /* Update: phase and progress; bad ones change nothing. */
    assert_ok(xlmig__pool_task_update(ctx, &st, 9, "storage-mirror", 5));
    f = xlmig__pool_task_find(&st, 9);
    assert_non_null(f);
    assert_string_equal(f->phase, "storage-mirror");
    assert_int_equal(f->progress, 5);
    assert_ok(xlmig__pool_task_update(ctx, &st, 9, NULL, 6));
    assert_string_equal(f->phase, "storage-mirror");
    assert_int_equal(f->progress, 6);
    assert_int_equal(xlmig__pool_task_update(ctx, &st, 9, NULL, 101),
                     LIBXLMIG_ERR_INVALID_ARGUMENT);
    assert_int_equal(xlmig__pool_task_update(ctx, &st, 9, "a/b", 7),
                     LIBXLMIG_ERR_INVALID_ARGUMENT);
    assert_int_equal(xlmig__pool_task_update(
                         ctx, &st, 9, "ppppppppppppppppppppppppppppppppp", 7),
                     LIBXLMIG_ERR_INVALID_ARGUMENT);
    assert_contains(libxlmig_ctx_last_error(ctx), "longer than 32 bytes");
    assert_string_equal(f->phase, "storage-mirror");
    assert_int_equal(f->progress, 6);
    reset_log();
    assert_int_equal(xlmig__pool_task_update(ctx, &st, 8, "x", 1),
                     LIBXLMIG_ERR_NOT_FOUND);
    assert_contains(libxlmig_ctx_last_error(ctx),
                    "NOT_FOUND: no task 8 in the pool state");

    /* Remove keeps the order. */
    t = task_of(8, "web8");
    assert_ok(xlmig__pool_task_add(ctx, &st, &t));
    assert_ok(xlmig__pool_task_remove(ctx, &st, 9));
    assert_int_equal(st.nr_tasks, 2);
    assert_int_equal(st.tasks[0].id, 7);
    assert_int_equal(st.tasks[1].id, 8);
    assert_int_equal(xlmig__pool_task_remove(ctx, &st, 9),
                     LIBXLMIG_ERR_NOT_FOUND);
    assert_null(xlmig__pool_task_find(&st, 9));
    assert_null(xlmig__pool_task_find(NULL, 9));

    /* The cap: 4096 tasks. */
    for (id = 1000; st.nr_tasks < XLMIG__POOL_TASKS_MAX; id++) {
        t = task_of(id, "vm");
        assert_ok(xlmig__pool_task_add(ctx, &st, &t));
    }
    t = task_of(id, "vm4097");
    before = st;
    reset_log();
    assert_int_equal(xlmig__pool_task_add(ctx, &st, &t),
                     LIBXLMIG_ERR_TOO_MANY_MIGRATIONS);
    assert_contains(libxlmig_ctx_last_error(ctx),
                    "TOO_MANY_MIGRATIONS: cannot add task ");
    assert_contains(libxlmig_ctx_last_error(ctx), "(VM vm4097): the pool has "
                    "4096 migrations");
    assert_memory_equal(&st, &before, sizeof(st));
    assert_ok(xlmig__pool_state_check(ctx, &st));
    /* Room again after a removal. */
    assert_ok(xlmig__pool_task_remove(ctx, &st, 7));
    assert_ok(xlmig__pool_task_add(ctx, &st, &t));
    assert_int_equal(st.tasks[XLMIG__POOL_TASKS_MAX - 1].id, id);
    xlmig__pool_state_dispose(&st);
}

static void test_check(void **state)
{
    struct xlmig__pool_state st;
    char *text = (char *)1;
    size_t len = 7;

    (void)state;
    fill_state(&st);
    assert_ok(xlmig__pool_state_check(ctx, &st));
    /* States built by hand are checked too, by encode without a word. */
    st.concurrency = 0;
    reset_log();
    assert_int_equal(xlmig__pool_state_check(ctx, &st),
                     LIBXLMIG_ERR_INVALID_ARGUMENT);
    assert_contains(libxlmig_ctx_last_error(ctx),
                    "migration-concurrency 0 is not from 1 to 50");
    assert_int_equal(xlmig__pool_state_encode(&st, &text, &len),
                     LIBXLMIG_ERR_INVALID_ARGUMENT);
    assert_ptr_equal(text, (char *)1);
    assert_int_equal(len, 7);
    st.concurrency = 3;
    st.wlb_hook_timeout = 121;
    assert_int_equal(xlmig__pool_state_check(ctx, &st),
                     LIBXLMIG_ERR_INVALID_ARGUMENT);
    assert_contains(libxlmig_ctx_last_error(ctx),
                    "wlb-hook-timeout 121 is not from 1 to 120");
    st.wlb_hook_timeout = 10;
    st.wlb_hook[3] = '\001';
    assert_int_equal(xlmig__pool_state_check(ctx, &st),
                     LIBXLMIG_ERR_INVALID_ARGUMENT);
    assert_contains(libxlmig_ctx_last_error(ctx), "pool state: wlb-hook ");
    assert_contains(libxlmig_ctx_last_error(ctx),
                    "byte 3 is not printable ASCII");
    memset(st.wlb_hook, 'x', sizeof(st.wlb_hook));
    assert_int_equal(xlmig__pool_state_check(ctx, &st),
                     LIBXLMIG_ERR_INVALID_ARGUMENT);
    assert_contains(libxlmig_ctx_last_error(ctx), "not NUL-terminated");
    st.wlb_hook[0] = '\0';
    st.members[1] = st.members[0];
    assert_int_equal(xlmig__pool_state_check(ctx, &st),
                     LIBXLMIG_ERR_INVALID_ARGUMENT);
    assert_contains(libxlmig_ctx_last_error(ctx),
                    "pool state: host h1 is a member twice");
    xlmig__strlcpy(st.members[1].name, "h2", sizeof(st.members[1].name));
    assert_ok(xlmig__pool_state_check(ctx, &st));
    st.tasks[1].id = 7;
    assert_int_equal(xlmig__pool_state_check(ctx, &st),
                     LIBXLMIG_ERR_INVALID_ARGUMENT);
    assert_contains(libxlmig_ctx_last_error(ctx),
                    "pool state: task 7 is there twice");
    st.tasks[1].id = 9;
    st.members[2].address[0] = '\0';
    assert_int_equal(xlmig__pool_state_check(ctx, &st),
                     LIBXLMIG_ERR_INVALID_ARGUMENT);
    assert_contains(libxlmig_ctx_last_error(ctx),
                    "address \"\" of host h3 is not valid");
    xlmig__strlcpy(st.members[2].address, "h3:1",
                   sizeof(st.members[2].address));
    st.nr_tasks = XLMIG__POOL_TASKS_MAX + 1;
    assert_int_equal(xlmig__pool_state_check(ctx, &st),
                     LIBXLMIG_ERR_INVALID_ARGUMENT);
    st.nr_tasks = 2;
    st.nr_members = XLMIG__POOL_MEMBERS_MAX + 1;
    assert_int_equal(xlmig__pool_state_check(ctx, &st),
                     LIBXLMIG_ERR_INVALID_ARGUMENT);
    st.nr_members = 3;
    memset(st.uuid, 'a', sizeof(st.uuid));
    assert_int_equal(xlmig__pool_state_check(ctx, &st),
                     LIBXLMIG_ERR_INVALID_ARGUMENT);
    assert_contains(libxlmig_ctx_last_error(ctx), "not NUL-terminated");
    xlmig__strlcpy(st.uuid, UUID1, sizeof(st.uuid));
    assert_ok(xlmig__pool_state_check(ctx, &st));
    assert_int_equal(xlmig__pool_state_check(ctx, NULL),
                     LIBXLMIG_ERR_INVALID_ARGUMENT);
    xlmig__pool_state_dispose(&st);
}

/* ------------------------------------------------------------ decoding */

/* The text of a good state with one member at @path replaced. */
struct part {
    const char *path;       /* "name", "settings.x", "members.x", "tasks.x" */
    const char *value;      /* raw JSON */
};

static const struct part parts[] = {
    { "version", "1" },
    { "kind", "\"pool\"" },
    { "name", "\"pool-a\"" },
    { "uuid", "\"" UUID1 "\"" },
    { "settings.migration-compression", "true" },
    { "settings.migration-concurrency", "3" },
    { "settings.wlb-hook", "\"/usr/bin/wlb --pool a\"" },
    { "settings.wlb-hook-timeout", "10" },
    { "members.name", "\"h1\"" },
    { "members.address", "\"192.0.2.1:8555\"" },
    { "members.joined", "1763769600" },
    { "members.enabled", "true" },
    { "tasks.id", "7" },
    { "tasks.vm", "\"web1\"" },
    { "tasks.source", "\"h1\"" },
    { "tasks.destination", "\"h2\"" },
    { "tasks.phase", "\"memory\"" },
    { "tasks.progress", "42" },
    { "tasks.created", "1763769600" },
    { "tasks.priority", "false" },
};

/*
 * Build the text: members of one object under @prefix ("" top, "settings.",
 * ...), the one at @key replaced by @value (NULL: left out).  Members and
 * tasks hold one element each (the second, when @two, a copy with name
 * h2 / id 8).
 */
static size_t build_object(char *buf, size_t len, const char *prefix,
                           const char *key, const char *value,
                           const char *override_name)
{
    size_t i, pos = 0, plen = strlen(prefix);
    bool first = true;

    pos += (size_t)snprintf(buf + pos, len - pos, "{");
    for (i = 0; i < ARRAY_LEN(parts); i++) {
        const char *v = parts[i].value, *k;

        if (strncmp(parts[i].path, prefix, plen) ||
            strchr(parts[i].path + plen, '.'))
            continue;
        k = parts[i].path + plen;
        if (key && !strcmp(key, parts[i].path)) {
            if (!value)
                continue;
            v = value;
        } else if (override_name && !strcmp(k, "name")) {
            v = override_name;
        } else if (override_name && !strcmp(k, "id")) {
            v = "8";
        }
        pos += (size_t)snprintf(buf + pos, len - pos, "%s\"%s\":%s",
                                first ? "" : ",", k, v);
        first = false;
    }
    pos += (size_t)snprintf(buf + pos, len - pos, "}");
    assert_true(pos < len);
    return pos;
}

static void build(char *buf, size_t len, const char *key, const char *value)
{
    char obj[1024];
    size_t pos;

    /* The top members, then the nested ones spliced in at the end. */
    pos = build_object(buf, len, "", key, value, NULL);
    pos--;                          /* drop "}" */
    if (!key || strcmp(key, "settings")) {
        build_object(obj, sizeof(obj), "settings.", key, value, NULL);
        pos += (size_t)snprintf(buf + pos, len - pos, ",\"settings\":%s",
                                obj);
    } else if (value) {
        pos += (size_t)snprintf(buf + pos, len - pos, ",\"settings\":%s",
                                value);
    }
    if (!key || strcmp(key, "members")) {
        build_object(obj, sizeof(obj), "members.", key, value, NULL);
        pos += (size_t)snprintf(buf + pos, len - pos, ",\"members\":[%s",
                                obj);
        build_object(obj, sizeof(obj), "members.", NULL, NULL, "\"h2\"");
        pos += (size_t)snprintf(buf + pos, len - pos, ",%s]", obj);
    } else if (value) {
        pos += (size_t)snprintf(buf + pos, len - pos, ",\"members\":%s",
                                value);
    }
    if (!key || strcmp(key, "tasks")) {
        build_object(obj, sizeof(obj), "tasks.", NULL, NULL, "\"x\"");
        pos += (size_t)snprintf(buf + pos, len - pos, ",\"tasks\":[%s", obj);
        build_object(obj, sizeof(obj), "tasks.", key, value, NULL);
        pos += (size_t)snprintf(buf + pos, len - pos, ",%s]", obj);
    } else if (value) {
        pos += (size_t)snprintf(buf + pos, len - pos, ",\"tasks\":%s",
                                value);
    }
    pos += (size_t)snprintf(buf + pos, len - pos, "}");
    assert_true(pos < len);
}

struct bad_case {
    const char *key;        /* path replaced, or NULL: @value is the text */
    const char *value;      /* raw JSON; NULL with @key: member left out */
    const char *want;       /* in the message */
};

static const struct bad_case bad_cases[] = {
    { NULL, "", "not valid JSON" },
    { NULL, "{", "not valid JSON" },
    { NULL, "{\"version\":1,}", "not valid JSON" },
    { NULL, "{\"version\":1} x", "trailing garbage" },
    { NULL, "{\"version\":1, /* c */ \"kind\":\"x\"}", "not valid JSON" },
    { NULL, "[1]", "is an array, not an object" },
    { NULL, "null", "is null, not an object" },
    { NULL, "{\"version\":1,\"deep\":[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]}",
      "nested deeper than 16 levels" },
    { NULL, "{\"version\":1,\"x\":\"a\\u0000b\"}", "NUL character" },
    { NULL, "{\"version\":1,\"a\\u0000\":1}", "NUL character" },
    { NULL, "{\"version\":1,\"x\":\"\xff\"}", "not valid JSON" },
    { NULL, "{\"version\":1,\"version\":1}",
      "member \"version\" appears more than once" },
    { "version", NULL, "member \"version\" is missing" },
    { "version", "2", "version 2, but this libxlmig reads version 1 only" },
    { "version", "\"1\"", "member \"version\" is a string, not an integer" },
    { "version", "1.0", "member \"version\" is a number that is not an "
                        "integer" },
    { "kind", NULL, "member \"kind\" is missing" },
    { "kind", "\"host\"", "member \"kind\" is \"host\", expected \"pool\"" },
    { "name", NULL, "member \"name\" is missing" },
    { "name", "\"-p\"", "member \"name\": \"-p\" is not valid: it starts "
                        "with '-'" },
    { "name", "\"" NAME65 "\"", "longer than 64 bytes" },
    { "name", "null", "member \"name\" is null, not a string" },
    { "uuid", NULL, "member \"uuid\" is missing" },
    { "uuid", "\"abc\"", "member \"uuid\": \"abc\" is not a uuid" },
    { "uuid", "\"" UUID1 "0\"", "is not a uuid" },
    { "uuid", "\"2d5e2b1c06a1f-4c3e-9b7a-0e1f2a3b4c5d\"", "is not a uuid" },
    { "settings", NULL, "member \"settings\" is missing" },
    { "settings", "[]", "member \"settings\" is an array, not an object" },
    { "settings.migration-compression", NULL,
      "member \"settings\".\"migration-compression\" is missing" },
    { "settings.migration-compression", "\"true\"",
      "member \"settings\".\"migration-compression\" is a string, not true "
      "or false" },
    { "settings.migration-compression", "1", "is an integer, not true or "
                                             "false" },
    { "settings.migration-concurrency", NULL,
      "member \"settings\".\"migration-concurrency\" is missing" },
    { "settings.migration-concurrency", "0",
      "member \"settings\".\"migration-concurrency\" is 0, not from 1 to 50" },
    { "settings.migration-concurrency", "51", "is 51, not from 1 to 50" },
    { "settings.migration-concurrency", "-3", "is -3, not from 1 to 50" },
    { "settings.migration-concurrency", "3.5", "is a number that is not an "
                                               "integer" },
    { "settings.migration-concurrency", "\"3\"", "is a string, not an "
                                                 "integer" },
    { "settings.wlb-hook", "5", "member \"settings\".\"wlb-hook\" is an "
                                "integer, not a string" },
    { "settings.wlb-hook", "\"a\\tb\"", "member \"settings\".\"wlb-hook\": "
                                      "\"a?b\" is not valid: byte 1 is not "
                                      "printable ASCII" },
    { "settings.wlb-hook", "\"caf\xc3\xa9\"", "byte 3 is not printable "
                                           "ASCII" },
    { "settings.wlb-hook", "null", "is null, not a string" },
    { "settings.wlb-hook-timeout", "0", "member \"settings\"."
                                        "\"wlb-hook-timeout\" is 0, not from "
                                        "1 to 120" },
    { "settings.wlb-hook-timeout", "121", "is 121, not from 1 to 120" },
    { "settings.wlb-hook-timeout", "\"10\"", "is a string, not an integer" },
    { "settings.wlb-hook-timeout", "1.5", "is a number that is not an "
                                          "integer" },
#define ROLLING_DOC(in, held)                                              \
    "{\"version\":1,\"kind\":\"pool\",\"name\":\"\",\"uuid\":\"\","     \
    "\"settings\":{\"migration-compression\":false,"                     \
    "\"migration-concurrency\":3,\"rolling-upgrade-in-progress\":" in     \
    ",\"rolling-upgrade-held\":" held "},\"members\":[],\"tasks\":[]}"
    { NULL, ROLLING_DOC("1", "\"\""),
      "member \"settings\".\"rolling-upgrade-in-progress\" is an integer, "
      "not true or false" },
    { NULL, ROLLING_DOC("true", "\"a b\""),
      "member \"settings\".\"rolling-upgrade-held\": \"a b\" is not "
      "valid: byte 1" },
    { NULL, ROLLING_DOC("true", "false"), "is false, not a string" },
    { NULL, "{\"version\":1,\"kind\":\"pool\",\"name\":\"\",\"uuid\":\"\","
      "\"settings\":{\"migration-compression\":false,"
      "\"migration-concurrency\":3,\"wlb-hook\":\"\",\"wlb-hook\":\"x\"},"
      "\"members\":[],\"tasks\":[]}",
      "member \"settings\".\"wlb-hook\" appears more than once" },
    { "members", NULL, "member \"members\" is missing" },
    { "members", "{}", "member \"members\" is an object, not an array" },
    { "members", "[1]", "member \"members\"[0] is an integer, not an "
                        "object" },
    { "members.name", NULL, "member \"members\"[0].\"name\" is missing" },
    { "members.name", "\"h2\"", "member \"members\"[1].\"name\": host h2 is "
                                "\"members\"[0] already" },
    { "members.name", "\"a b\"", "member \"members\"[0].\"name\": \"a b\" is "
                                 "not valid: byte 1" },
    { "members.name", "\"\"", "it is empty" },
    { "members.address", NULL, "member \"members\"[0].\"address\" is "
                               "missing" },
    { "members.address", "\"h1\"", "member \"members\"[0].\"address\": "
                                   "\"h1\" is not valid: it has no ':PORT'" },
    { "members.address", "\"h1:99999\"", "port 99999 is not from 1 to "
                                         "65535" },
    { "members.address", "5", "is an integer, not a string" },
    { "members.joined", NULL, "member \"members\"[0].\"joined\" is "
                              "missing" },
    { "members.joined", "-1", "member \"members\"[0].\"joined\" is -1, "
                              "before 1970" },
    { "members.joined", "1e9", "is a number that is not an integer" },
    { "members.joined", "99999999999999999999", "is a number that is not" },
    { "members.enabled", "\"false\"", "member \"members\"[0].\"enabled\" is "
                                   "a string, not true or false" },
    { "members.enabled", "0", "member \"members\"[0].\"enabled\" is an "
                              "integer, not true or false" },
    { "members.enabled", "null", "is null, not true or false" },
    { NULL, "{\"version\":1,\"kind\":\"pool\",\"name\":\"\",\"uuid\":\"\","
      "\"settings\":{\"migration-compression\":false,"
      "\"migration-concurrency\":3},\"members\":[{\"name\":\"h1\","
      "\"address\":\"h1:1\",\"joined\":0,\"enabled\":false,"
      "\"enabled\":true}],\"tasks\":[]}",
      "member \"members\"[0].\"enabled\" appears more than once" },
    { "tasks", NULL, "member \"tasks\" is missing" },
    { "tasks", "null", "member \"tasks\" is null, not an array" },
    { "tasks", "[[]]", "member \"tasks\"[0] is an array, not an object" },
    { "tasks.id", NULL, "member \"tasks\"[1].\"id\" is missing" },
    { "tasks.id", "8", "member \"tasks\"[1].\"id\": task 8 is \"tasks\"[0] "
                       "already" },
    { "tasks.id", "0", "member \"tasks\"[1].\"id\" is 0, not from 1 to "
                       "9223372036854775807" },
    { "tasks.id", "-7", "is -7, not from 1" },
    { "tasks.id", "9223372036854775808", "is a number that is not an "
                                         "integer" },
    { "tasks.vm", NULL, "member \"tasks\"[1].\"vm\" is missing" },
    { "tasks.vm", "\"a/b\"", "member \"tasks\"[1].\"vm\": \"a/b\" is not "
                             "valid" },
    { "tasks.source", "\".h\"", "member \"tasks\"[1].\"source\": \".h\" is "
                                "not valid: it starts with '.'" },
    { "tasks.destination", "\"\"", "member \"tasks\"[1].\"destination\": "
                                   "\"\" is not valid: it is empty" },
    { "tasks.phase", NULL, "member \"tasks\"[1].\"phase\" is missing" },
    { "tasks.phase", "\"\"", "member \"tasks\"[1].\"phase\": \"\" is not "
                             "valid: it is empty" },
    { "tasks.phase", "\"ppppppppppppppppppppppppppppppppp\"",
      "longer than 32 bytes" },
    { "tasks.phase", "\"a\\\"b\"", "byte 1 is not a letter" },
    { "tasks.progress", NULL, "member \"tasks\"[1].\"progress\" is "
                              "missing" },
    { "tasks.progress", "101", "member \"tasks\"[1].\"progress\" is 101, "
                               "not from 0 to 100" },
    { "tasks.progress", "-1", "is -1, not from 0 to 100" },
    { "tasks.created", "-2", "member \"tasks\"[1].\"created\" is -2, before "
                             "1970" },
    { "tasks.created", NULL, "member \"tasks\"[1].\"created\" is missing" },
    { "tasks.priority", NULL, "member \"tasks\"[1].\"priority\" is "
                              "missing" },
    { "tasks.priority", "0", "member \"tasks\"[1].\"priority\" is an "
                             "integer, not true or false" },
    { "tasks.priority", "null", "is null, not true or false" },
};

/* Run @c; *st must stay as it was. */
static void check_bad(const struct bad_case *c)
{
    char text[8192], msg[1200];
    struct xlmig__pool_state st, before;
    int rc;

    if (c->key)
        build(text, sizeof(text), c->key, c->value);
    else
        snprintf(text, sizeof(text), "%s", c->value);
    fill_state(&st);
    before = st;
    reset_log();
    rc = decode(text, &st);
    if (rc != LIBXLMIG_ERR_POOL_STATE_INVALID)
        fail_msg("decoder gave %d for %s", rc, text);
    snprintf(msg, sizeof(msg), "%s", libxlmig_ctx_last_error(ctx));
    assert_contains(msg, "POOL_STATE_INVALID: pool state test.json: ");
    assert_contains(msg, c->want);
    assert_int_equal(cap.count, 1);
    assert_memory_equal(&st, &before, sizeof(st));
    assert_true(xlmig__pool_state_equal(&st, &before));

    /* Without a context: the same answer, nothing logged. */
    reset_log();
    rc = xlmig__pool_state_decode(NULL, "x", (const uint8_t *)text,
                                  strlen(text), &st);
    assert_int_equal(rc, LIBXLMIG_ERR_POOL_STATE_INVALID);
    assert_int_equal(cap.count, 0);
    assert_memory_equal(&st, &before, sizeof(st));
    xlmig__pool_state_dispose(&st);
}

static void test_decode_rejects(void **state)
{
    size_t i;

    (void)state;
    for (i = 0; i < ARRAY_LEN(bad_cases); i++)
        check_bad(&bad_cases[i]);
}

/* The base of the table decodes: each case fails for its own reason. */
static void test_decode_table_base(void **state)
{
    struct xlmig__pool_state st;
    char text[8192];

    (void)state;
    build(text, sizeof(text), NULL, NULL);
    xlmig__pool_state_init(&st);
    assert_ok(decode(text, &st));
    assert_int_equal(st.nr_members, 2);
    assert_int_equal(st.nr_tasks, 2);
    assert_int_equal(st.tasks[0].id, 8);
    assert_int_equal(st.tasks[1].id, 7);
    assert_string_equal(st.members[1].name, "h2");
    assert_string_equal(st.wlb_hook, "/usr/bin/wlb --pool a");
    assert_int_equal(st.wlb_hook_timeout, 10);
    /* Each setting of placement may be left out: its default. */
    build(text, sizeof(text), "settings.wlb-hook", NULL);
    assert_ok(decode(text, &st));
    assert_string_equal(st.wlb_hook, "");
    build(text, sizeof(text), "settings.wlb-hook-timeout", NULL);
    assert_ok(decode(text, &st));
    assert_string_equal(st.wlb_hook, "/usr/bin/wlb --pool a");
    assert_int_equal(st.wlb_hook_timeout, 10);
    build(text, sizeof(text), "settings.wlb-hook-timeout", "120");
    assert_ok(decode(text, &st));
    assert_int_equal(st.wlb_hook_timeout, 120);
    xlmig__pool_state_dispose(&st);
}

/* Two hosts as a file of before host-disable has them; %s: more of h2. */
#define OLD_FILE \
    "{\"version\":1,\"kind\":\"pool\",\"name\":\"p\",\"uuid\":\"\"," \
    "\"settings\":{\"migration-compression\":false," \
    "\"migration-concurrency\":3},\"members\":[{\"name\":\"h1\"," \
    "\"address\":\"h1:1\",\"joined\":0},{\"name\":\"h2\"," \
    "\"address\":\"h2:1\",\"joined\":0%s}],\"tasks\":[]}"

/*
 * host-disable / host-enable: a member's flag, set idempotently, kept
 * through copies, the JSON and the file; a file written before the flag
 * existed reads as every host enabled.
 */
static void test_member_enabled(void **state)
{
    struct xlmig__pool_state st, back, before;
    bool changed = true;
    char *text = NULL, old[8192];
    size_t len = 0;

    (void)state;
    fill_state(&st);
    assert_true(st.members[0].enabled);
    assert_true(st.members[1].enabled);
    assert_true(st.members[2].enabled);
    xlmig__pool_state_init(&back);
    assert_ok(xlmig__pool_state_copy(ctx, &back, &st));

    /* Disable h2, twice: the second time changes nothing, no error. */
    assert_ok(xlmig__pool_member_set_enabled(ctx, &st, "h2.example.com",
                                             false, &changed));
    assert_true(changed);
    assert_false(st.members[1].enabled);
    assert_true(st.members[0].enabled);
    assert_false(xlmig__pool_state_equal(&st, &back));
    before = st;
    assert_ok(xlmig__pool_member_set_enabled(ctx, &st, "h2.example.com",
                                             false, &changed));
    assert_false(changed);
    assert_memory_equal(&st, &before, sizeof(st));

    /* An unknown host: NOT_FOUND naming it and the pool, nothing changed. */
    reset_log();
    changed = true;
    assert_int_equal(xlmig__pool_member_set_enabled(ctx, &st, "h9", false,
                                                    &changed),
                     LIBXLMIG_ERR_NOT_FOUND);
    assert_false(changed);
    assert_int_equal(cap.count, 1);
    assert_contains(libxlmig_ctx_last_error(ctx), "NOT_FOUND: host h9 is "
                    "not a member of pool pool-a (host-list shows its "
                    "hosts)");
    assert_memory_equal(&st, &before, sizeof(st));
    assert_int_equal(xlmig__pool_member_set_enabled(ctx, &st, NULL, true,
                                                    NULL),
                     LIBXLMIG_ERR_NOT_FOUND);
    assert_int_equal(xlmig__pool_member_set_enabled(ctx, NULL, "h1", true,
                                                    NULL),
                     LIBXLMIG_ERR_INVALID_ARGUMENT);

    /* JSON round trip: both values written, read back as they were. */
    assert_ok(xlmig__pool_state_encode(&st, &text, &len));
    assert_contains(text, "\"enabled\": false");
    assert_contains(text, "\"enabled\": true");
    assert_ok(decode(text, &back));
    assert_true(xlmig__pool_state_equal(&st, &back));
    assert_true(back.members[0].enabled);
    assert_false(back.members[1].enabled);
    assert_true(back.members[2].enabled);
    free(text);

    /* Copies keep it; a removed and re-added host is enabled again. */
    assert_ok(xlmig__pool_state_copy(ctx, &back, &st));
    assert_false(back.members[1].enabled);
    assert_ok(xlmig__pool_member_remove(ctx, &back, "h2.example.com"));
    assert_ok(xlmig__pool_member_add(ctx, &back, "h2.example.com",
                                     "h2.example.com:8555", 1763769601));
    assert_true(xlmig__pool_member_find(&back, "h2.example.com")->enabled);

    /* Enable again. */
    assert_ok(xlmig__pool_member_set_enabled(ctx, &st, "h2.example.com",
                                             true, &changed));
    assert_true(changed);
    assert_true(st.members[1].enabled);

    /* A file of before the flag: the same version, every host enabled. */
    snprintf(old, sizeof(old), OLD_FILE, "");
    reset_log();
    assert_ok(decode(old, &back));
    assert_int_equal(cap.count, 0);
    assert_int_equal(back.nr_members, 2);
    assert_true(back.members[0].enabled);
    assert_true(back.members[1].enabled);
    /* Written again, it says so. */
    assert_ok(xlmig__pool_state_encode(&back, &text, &len));
    assert_contains(text, "\"version\": 1");
    assert_contains(text, "\"enabled\": true");
    assert_null(strstr(text, "\"enabled\": false"));
    free(text);
    /* One host with it, one without. */
    snprintf(old, sizeof(old), OLD_FILE, ",\"enabled\":false");
    assert_ok(decode(old, &back));
    assert_true(back.members[0].enabled);
    assert_false(back.members[1].enabled);

    xlmig__pool_state_dispose(&back);
    xlmig__pool_state_dispose(&st);
}

/* Arrays longer than the caps are refused before they are read. */
static void test_decode_caps(void **state)
{
    struct xlmig__pool_state st, before;
    char *text;
    size_t pos, i, cap_len = 1u << 20;

    (void)state;
    text = malloc(cap_len);
    assert_non_null(text);
    fill_state(&st);
    before = st;

    pos = (size_t)snprintf(text, cap_len, "{\"version\":1,\"kind\":\"pool\","
                           "\"name\":\"\",\"uuid\":\"\",\"settings\":{"
                           "\"migration-compression\":false,"
                           "\"migration-concurrency\":3},\"tasks\":[],"
                           "\"members\":[");
    for (i = 0; i < XLMIG__POOL_MEMBERS_MAX + 1; i++)
        pos += (size_t)snprintf(text + pos, cap_len - pos,
                                "%s{\"name\":\"h%zu\",\"address\":\"h:1\","
                                "\"joined\":0}", i ? "," : "", i);
    pos += (size_t)snprintf(text + pos, cap_len - pos, "]}");
    reset_log();
    assert_int_equal(decode(text, &st), LIBXLMIG_ERR_POOL_STATE_INVALID);
    assert_contains(libxlmig_ctx_last_error(ctx),
                    "member \"members\" has 65 hosts, more than the 64");
    assert_memory_equal(&st, &before, sizeof(st));

    pos = (size_t)snprintf(text, cap_len, "{\"version\":1,\"kind\":\"pool\","
                           "\"name\":\"\",\"uuid\":\"\",\"settings\":{"
                           "\"migration-compression\":false,"
                           "\"migration-concurrency\":3},\"members\":[],"
                           "\"tasks\":[");
    for (i = 0; i < XLMIG__POOL_TASKS_MAX + 1; i++)
        pos += (size_t)snprintf(text + pos, cap_len - pos, "%s{}",
                                i ? "," : "");
    pos += (size_t)snprintf(text + pos, cap_len - pos, "]}");
    assert_int_equal(decode(text, &st), LIBXLMIG_ERR_POOL_STATE_INVALID);
    assert_contains(libxlmig_ctx_last_error(ctx),
                    "member \"tasks\" has 4097 tasks, more than the 4096");
    assert_memory_equal(&st, &before, sizeof(st));
    free(text);
    xlmig__pool_state_dispose(&st);
}

static void test_decode_bytes(void **state)
{
    static const char good[] =
        "{\"version\":1,\"kind\":\"pool\",\"name\":\"\",\"uuid\":\"\","
        "\"settings\":{\"migration-compression\":false,"
        "\"migration-concurrency\":3},\"members\":[],\"tasks\":[]}";
    struct xlmig__pool_state st, before;
    uint8_t *big;

    (void)state;
    fill_state(&st);
    before = st;
    big = malloc(XLMIG__POOL_STATE_FILE_MAX + 2);
    assert_non_null(big);
    memset(big, ' ', XLMIG__POOL_STATE_FILE_MAX + 2);
    memcpy(big, good, strlen(good));
    /* One byte more than the cap: refused before parsing. */
    reset_log();
    assert_int_equal(xlmig__pool_state_decode(ctx, "t", big,
                                              XLMIG__POOL_STATE_FILE_MAX + 1,
                                              &st),
                     LIBXLMIG_ERR_POOL_STATE_INVALID);
    assert_contains(libxlmig_ctx_last_error(ctx),
                    "2097153 bytes, more than the 2097152");
    assert_memory_equal(&st, &before, sizeof(st));
    /* A NUL byte in the text. */
    big[strlen(good)] = '\0';
    assert_int_equal(xlmig__pool_state_decode(ctx, "t", big,
                                              strlen(good) + 2, &st),
                     LIBXLMIG_ERR_POOL_STATE_INVALID);
    assert_contains(libxlmig_ctx_last_error(ctx), "NUL byte at offset ");
    assert_memory_equal(&st, &before, sizeof(st));
    big[strlen(good)] = ' ';
    /* Padded with spaces to the cap: still a state, and not NUL-ended. */
    assert_ok(xlmig__pool_state_decode(ctx, "t", big,
                                       XLMIG__POOL_STATE_FILE_MAX, &st));
    assert_int_equal(st.nr_tasks, 0);
    free(big);
    /* NULL text of length 0 is the empty text; NULL state is refused. */
    assert_int_equal(xlmig__pool_state_decode(ctx, "t", NULL, 0, &st),
                     LIBXLMIG_ERR_POOL_STATE_INVALID);
    assert_int_equal(xlmig__pool_state_decode(ctx, "t", NULL, 1, &st),
                     LIBXLMIG_ERR_INVALID_ARGUMENT);
    assert_int_equal(xlmig__pool_state_decode(NULL, "t",
                                              (const uint8_t *)good,
                                              strlen(good), NULL),
                     LIBXLMIG_ERR_INVALID_ARGUMENT);
    /* No label: still a message. */
    assert_int_equal(xlmig__pool_state_decode(ctx, NULL,
                                              (const uint8_t *)"{}", 2, &st),
                     LIBXLMIG_ERR_POOL_STATE_INVALID);
    assert_contains(libxlmig_ctx_last_error(ctx), "pool state (unnamed): ");
    xlmig__pool_state_dispose(&st);
}

/* ------------------------------------------------------------ files */

/* ------------------------------------------------------------ parts */

static int part_decode(const char *json, enum xlmig__pool_part part,
                       struct xlmig__pool_state *st)
{
    return xlmig__pool_part_decode(ctx, "key/x", part, (const uint8_t *)json,
                                   strlen(json), st);
}

/* Every part encoded on its own and decoded in order gives the state
 * back, for a small state and the largest. */
static void parts_round_trip(const struct xlmig__pool_state *st)
{
    struct xlmig__pool_state back;
    char *text;
    size_t len, i;

    xlmig__pool_state_init(&back);
    assert_ok(xlmig__pool_part_encode(st, XLMIG__POOL_PART_HEAD, 0, &text,
                                      &len));
    assert_int_equal(strlen(text), len);
    assert_null(strstr(text, "\"members\""));
    assert_ok(xlmig__pool_part_decode(ctx, "head", XLMIG__POOL_PART_HEAD,
                                      (const uint8_t *)text, len, &back));
    free(text);
    for (i = 0; i < st->nr_members; i++) {
        assert_ok(xlmig__pool_part_encode(st, XLMIG__POOL_PART_MEMBER, i,
                                          &text, &len));
        assert_ok(xlmig__pool_part_decode(ctx, "m", XLMIG__POOL_PART_MEMBER,
                                          (const uint8_t *)text, len,
                                          &back));
        free(text);
    }
    for (i = 0; i < st->nr_tasks; i++) {
        assert_ok(xlmig__pool_part_encode(st, XLMIG__POOL_PART_TASK, i,
                                          &text, &len));
        assert_ok(xlmig__pool_part_decode(ctx, "t", XLMIG__POOL_PART_TASK,
                                          (const uint8_t *)text, len,
                                          &back));
        free(text);
    }
    assert_true(xlmig__pool_state_equal(st, &back));
    xlmig__pool_state_dispose(&back);
}

static void test_parts(void **state)
{
    struct xlmig__pool_state st, other;
    char *text;
    size_t len;

    (void)state;
    fill_state(&st);
    parts_round_trip(&st);
    assert_int_equal(xlmig__pool_part_encode(&st, XLMIG__POOL_PART_MEMBER, 3,
                                             &text, &len),
                     LIBXLMIG_ERR_INVALID_ARGUMENT);
    assert_int_equal(xlmig__pool_part_encode(&st, XLMIG__POOL_PART_TASK, 2,
                                             &text, &len),
                     LIBXLMIG_ERR_INVALID_ARGUMENT);

    /* What a part may not be: named, and the state left as it was. */
    xlmig__pool_state_init(&other);
    assert_ok(xlmig__pool_state_copy(ctx, &other, &st));
    reset_log();
    assert_int_equal(part_decode("{\"name\":\"h1\",\"address\":\"a:1\","
                                 "\"joined\":1}", XLMIG__POOL_PART_MEMBER,
                                 &st), LIBXLMIG_ERR_POOL_STATE_INVALID);
    assert_non_null(strstr(cap.text, "key/x"));
    assert_non_null(strstr(cap.text, "host h1 is a member already"));
    assert_int_equal(part_decode("{\"name\":\"-h\",\"address\":\"a:1\","
                                 "\"joined\":1}", XLMIG__POOL_PART_MEMBER,
                                 &st), LIBXLMIG_ERR_POOL_STATE_INVALID);
    assert_int_equal(part_decode("[1]", XLMIG__POOL_PART_MEMBER, &st),
                     LIBXLMIG_ERR_POOL_STATE_INVALID);
    assert_int_equal(part_decode("{\"id\":7,\"vm\":\"v\",\"source\":\"a\","
                                 "\"destination\":\"b\",\"phase\":\"q\","
                                 "\"progress\":0,\"created\":0,"
                                 "\"priority\":false}", XLMIG__POOL_PART_TASK,
                                 &st), LIBXLMIG_ERR_POOL_STATE_INVALID);
    assert_non_null(strstr(cap.text, "task 7 is there already"));
    assert_int_equal(part_decode("{\"id\":8,\"vm\":\"v\",\"source\":\"a\","
                                 "\"destination\":\"b\",\"phase\":\"q\","
                                 "\"progress\":101,\"created\":0,"
                                 "\"priority\":false}", XLMIG__POOL_PART_TASK,
                                 &st), LIBXLMIG_ERR_POOL_STATE_INVALID);
    assert_int_equal(part_decode("{\"version\":2,\"kind\":\"pool\"}",
                                 XLMIG__POOL_PART_HEAD, &st),
                     LIBXLMIG_ERR_POOL_STATE_INVALID);
    assert_int_equal(part_decode("{\"version\":1,\"kind\":\"pool\","
                                 "\"name\":\"p\",\"uuid\":\"\",\"settings\":"
                                 "{\"migration-compression\":false,"
                                 "\"migration-concurrency\":51}}",
                                 XLMIG__POOL_PART_HEAD, &st),
                     LIBXLMIG_ERR_POOL_STATE_INVALID);
    assert_non_null(strstr(cap.text, "migration-concurrency"));
    assert_true(xlmig__pool_state_equal(&st, &other));
    xlmig__pool_state_dispose(&other);
    xlmig__pool_state_dispose(&st);

    fill_largest(&st);
    parts_round_trip(&st);
    /* One more host or task than a pool may have. */
    reset_log();
    assert_int_equal(part_decode("{\"name\":\"extra\",\"address\":\"a:1\","
                                 "\"joined\":1}", XLMIG__POOL_PART_MEMBER,
                                 &st), LIBXLMIG_ERR_POOL_STATE_INVALID);
    assert_non_null(strstr(cap.text, "more than the 64"));
    assert_int_equal(part_decode("{\"id\":1,\"vm\":\"v\",\"source\":\"a\","
                                 "\"destination\":\"b\",\"phase\":\"q\","
                                 "\"progress\":0,\"created\":0,"
                                 "\"priority\":false}", XLMIG__POOL_PART_TASK,
                                 &st), LIBXLMIG_ERR_POOL_STATE_INVALID);
    assert_non_null(strstr(cap.text, "more than the 4096"));
    xlmig__pool_state_dispose(&st);
}

static int dir_setup(void **state)
{
    (void)state;
    return testfs_dir_setup("test-poolstate");
}

static void test_load_missing(void **state)
{
    struct xlmig__pool_state st;
    bool missing = false;

    (void)state;
    /* No state directory, then no file: defaults, and said so. */
    fill_state(&st);
    reset_log();
    assert_ok(xlmig__pool_state_load(ctx, at("none"), &st, &missing));
    assert_true(missing);
    assert_int_equal(cap.count, 0);
    assert_int_equal(st.nr_members, 0);
    assert_int_equal(st.nr_tasks, 0);
    assert_null(st.tasks);
    assert_int_equal(st.concurrency, 3);
    assert_false(st.compression);
    assert_string_equal(st.name, "");
    missing = false;
    assert_ok(xlmig__pool_state_load(ctx, tmpdir, &st, &missing));
    assert_true(missing);
    assert_ok(xlmig__pool_state_load(ctx, tmpdir, &st, NULL));
    /* Loading does not create anything. */
    assert_int_equal(count_entries(tmpdir, "pool"), 0);
    assert_int_equal(xlmig__pool_state_load(ctx, tmpdir, NULL, &missing),
                     LIBXLMIG_ERR_INVALID_ARGUMENT);
    xlmig__pool_state_dispose(&st);
}

static void test_save_load(void **state)
{
    struct xlmig__pool_state st, back;
    bool missing = true;
    struct stat sb;
    char dir[256];
    char *text;
    int i;

    (void)state;
    snprintf(dir, sizeof(dir), "%s", at("state"));
    fill_state(&st);
    /* The state directory is created on the first save. */
    reset_log();
    assert_ok(xlmig__pool_state_save(ctx, dir, &st));
    assert_int_equal(cap.count, 0);
    assert_int_equal(stat(dir, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0700);
    assert_int_equal(stat(at("state/pool.json"), &sb), 0);
    assert_true(S_ISREG(sb.st_mode));
    assert_int_equal(sb.st_mode & 0777, 0600);
    text = read_file(at("state/pool.json"));
    assert_contains(text, "\"uuid\": \"" UUID1 "\"");
    free(text);

    xlmig__pool_state_init(&back);
    assert_ok(xlmig__pool_state_load(ctx, dir, &back, &missing));
    assert_false(missing);
    assert_true(xlmig__pool_state_equal(&st, &back));

    /* A disabled host is saved as such (host-disable survives restarts). */
    assert_ok(xlmig__pool_member_set_enabled(ctx, &st, "h3", false, NULL));
    assert_ok(xlmig__pool_state_save(ctx, dir, &st));
    assert_ok(xlmig__pool_state_load(ctx, dir, &back, NULL));
    assert_true(xlmig__pool_state_equal(&st, &back));
    assert_false(xlmig__pool_member_find(&back, "h3")->enabled);
    assert_true(xlmig__pool_member_find(&back, "h1")->enabled);

    /* Saved over, again and again: the last one is read; no leftovers. */
    for (i = 0; i < 5; i++) {
        assert_ok(xlmig__pool_task_update(ctx, &st, 7, NULL,
                                          (unsigned)(50 + i)));
        assert_ok(xlmig__pool_state_save(ctx, dir, &st));
    }
    assert_ok(xlmig__pool_state_load(ctx, dir, &back, NULL));
    assert_int_equal(back.tasks[0].progress, 54);
    assert_int_equal(count_entries(dir, ".tmp."), 0);
    /* A leftover temporary of an earlier process with our pid. */
    {
        char tmp[1024];

        snprintf(tmp, sizeof(tmp), "%s/pool.json.tmp.%ld", dir,
                 (long)getpid());
        write_file(tmp, "junk", 4);
        assert_ok(xlmig__pool_state_save(ctx, dir, &st));
        assert_int_equal(count_entries(dir, ".tmp."), 0);
    }

    /* Through $XLMIG_STATE_DIR. */
    setenv("XLMIG_STATE_DIR", dir, 1);
    xlmig__pool_state_dispose(&back);
    assert_ok(xlmig__pool_state_load(ctx, NULL, &back, &missing));
    assert_false(missing);
    assert_true(xlmig__pool_state_equal(&st, &back));
    unsetenv("XLMIG_STATE_DIR");

    /* An invalid state is refused; the file is not touched. */
    text = read_file(at("state/pool.json"));
    st.tasks[1].progress = 300;
    reset_log();
    assert_int_equal(xlmig__pool_state_save(ctx, dir, &st),
                     LIBXLMIG_ERR_INVALID_ARGUMENT);
    assert_contains(libxlmig_ctx_last_error(ctx), "progress 300 of task 9");
    assert_int_equal(cap.count, 1);
    {
        char *now = read_file(at("state/pool.json"));

        assert_string_equal(now, text);
        free(now);
    }
    free(text);
    xlmig__pool_state_dispose(&back);
    xlmig__pool_state_dispose(&st);
}

static void test_save_largest(void **state)
{
    struct xlmig__pool_state st, back;
    struct stat sb;

    (void)state;
    fill_largest(&st);
    assert_ok(xlmig__pool_state_save(ctx, tmpdir, &st));
    assert_int_equal(stat(at("pool.json"), &sb), 0);
    assert_true(sb.st_size <= (off_t)XLMIG__POOL_STATE_FILE_MAX);
    xlmig__pool_state_init(&back);
    assert_ok(xlmig__pool_state_load(ctx, tmpdir, &back, NULL));
    assert_true(xlmig__pool_state_equal(&st, &back));
    xlmig__pool_state_dispose(&back);
    xlmig__pool_state_dispose(&st);
}

static void test_save_fails(void **state)
{
    struct xlmig__pool_state st, back;
    struct fsize_cap fcap;
    char dir[256], *old, *now;

    (void)state;
    snprintf(dir, sizeof(dir), "%s", at("fail"));
    fill_state(&st);
    assert_ok(xlmig__pool_state_save(ctx, dir, &st));
    old = read_file(at("fail/pool.json"));

    /* The write fails: files may not grow past 64 bytes (EFBIG). */
    assert_ok(xlmig__pool_param_set(ctx, &st, "migration-concurrency",
                                    "10"));
    fsize_cap_begin(&fcap, 64);
    reset_log();
    assert_int_equal(xlmig__pool_state_save(ctx, dir, &st), LIBXLMIG_ERR_IO);
    fsize_cap_end(&fcap);
    assert_contains(libxlmig_ctx_last_error(ctx), "cannot write ");
    assert_contains(libxlmig_ctx_last_error(ctx), "/fail/pool.json.tmp.");
    assert_contains(libxlmig_ctx_last_error(ctx), "pool.json is unchanged");
    assert_contains(libxlmig_ctx_last_error(ctx), strerror(EFBIG));
    assert_int_equal(cap.count, 1);
    now = read_file(at("fail/pool.json"));
    assert_string_equal(now, old);
    free(now);
    assert_int_equal(count_entries(dir, ".tmp."), 0);
    xlmig__pool_state_init(&back);
    assert_ok(xlmig__pool_state_load(ctx, dir, &back, NULL));
    assert_int_equal(back.concurrency, 5);

    /* A read-only directory (root writes anyway: then not tested). */
    if (geteuid() != 0) {
        assert_int_equal(chmod(dir, 0500), 0);
        reset_log();
        assert_int_equal(xlmig__pool_state_save(ctx, dir, &st),
                         LIBXLMIG_ERR_PERMISSION_DENIED);
        assert_contains(libxlmig_ctx_last_error(ctx), "cannot create ");
        assert_contains(libxlmig_ctx_last_error(ctx), "is unchanged");
        assert_int_equal(chmod(dir, 0700), 0);
        now = read_file(at("fail/pool.json"));
        assert_string_equal(now, old);
        free(now);
    }
    free(old);

    /* The rename fails: a directory is in the way of the file. */
    assert_int_equal(mkdir(at("fail2"), 0700), 0);
    assert_int_equal(mkdir(at("fail2/pool.json"), 0700), 0);
    assert_int_equal(mkdir(at("fail2/pool.json/x"), 0700), 0);
    reset_log();
    assert_int_not_equal(xlmig__pool_state_save(ctx, at("fail2"), &st), 0);
    assert_contains(libxlmig_ctx_last_error(ctx), "cannot rename ");
    assert_int_equal(count_entries(at("fail2"), ".tmp."), 0);

    /* A file in the way of the state directory. */
    write_file(at("fail3"), "x", 1);
    reset_log();
    assert_int_equal(xlmig__pool_state_save(ctx, at("fail3"), &st),
                     LIBXLMIG_ERR_IO);
    assert_contains(libxlmig_ctx_last_error(ctx), "fail3 is in the way");
    /* The state directory's parent is missing. */
    reset_log();
    assert_int_equal(xlmig__pool_state_save(ctx, at("no/such"), &st),
                     LIBXLMIG_ERR_IO);
    assert_contains(libxlmig_ctx_last_error(ctx),
                    "cannot create the state directory ");
    assert_contains(libxlmig_ctx_last_error(ctx), strerror(ENOENT));
    xlmig__pool_state_dispose(&back);
    xlmig__pool_state_dispose(&st);
}

static void test_load_bad_files(void **state)
{
    struct xlmig__pool_state st, before;
    char dir[256], *text, *big;
    size_t len = 0;

    (void)state;
    snprintf(dir, sizeof(dir), "%s", at("bad"));
    fill_state(&st);
    assert_ok(xlmig__pool_state_save(ctx, dir, &st));
    assert_ok(xlmig__pool_state_encode(&st, &text, &len));
    assert_ok(xlmig__pool_param_set(ctx, &st, "migration-concurrency", "44"));
    before = st;

    /* Corrupted: a byte changed. */
    assert_non_null(strstr(text, "\"members\": ["));
    strstr(text, "\"members\": [")[11] = '(';
    write_file(at("bad/pool.json"), text, len);
    reset_log();
    assert_int_equal(xlmig__pool_state_load(ctx, dir, &st, NULL),
                     LIBXLMIG_ERR_POOL_STATE_INVALID);
    assert_contains(libxlmig_ctx_last_error(ctx),
                    "POOL_STATE_INVALID: pool state ");
    assert_contains(libxlmig_ctx_last_error(ctx),
                    "/bad/pool.json: not valid JSON");
    assert_int_equal(cap.count, 1);
    assert_memory_equal(&st, &before, sizeof(st));
    free(text);

    /* Truncated: half of a good file. */
    assert_ok(xlmig__pool_state_encode(&st, &text, &len));
    write_file(at("bad/pool.json"), text, len / 2);
    assert_int_equal(xlmig__pool_state_load(ctx, dir, &st, NULL),
                     LIBXLMIG_ERR_POOL_STATE_INVALID);
    assert_contains(libxlmig_ctx_last_error(ctx),
                    "/bad/pool.json: not valid JSON");
    assert_memory_equal(&st, &before, sizeof(st));
    /* Cut after the last task: the closing brackets are missing. */
    write_file(at("bad/pool.json"), text, len - 4);
    assert_int_equal(xlmig__pool_state_load(ctx, dir, &st, NULL),
                     LIBXLMIG_ERR_POOL_STATE_INVALID);
    assert_memory_equal(&st, &before, sizeof(st));
    /* Empty. */
    write_file(at("bad/pool.json"), "", 0);
    assert_int_equal(xlmig__pool_state_load(ctx, dir, &st, NULL),
                     LIBXLMIG_ERR_POOL_STATE_INVALID);
    assert_memory_equal(&st, &before, sizeof(st));

    /* A bad member: the file and the member named. */
    {
        char *p = strstr(text, "\"progress\": 100");

        assert_non_null(p);
        memcpy(p, "\"progress\": 900", 15);
        write_file(at("bad/pool.json"), text, len);
        reset_log();
        assert_int_equal(xlmig__pool_state_load(ctx, dir, &st, NULL),
                         LIBXLMIG_ERR_POOL_STATE_INVALID);
        assert_contains(libxlmig_ctx_last_error(ctx),
                        "/bad/pool.json: member \"tasks\"[1].\"progress\" is "
                        "900, not from 0 to 100");
        assert_memory_equal(&st, &before, sizeof(st));
    }

    /* Larger than the cap: refused by its size. */
    big = malloc(XLMIG__POOL_STATE_FILE_MAX + 1);
    assert_non_null(big);
    memset(big, ' ', XLMIG__POOL_STATE_FILE_MAX + 1);
    memcpy(big, text, len);
    memcpy(strstr(big, "\"progress\": 900"), "\"progress\": 100", 15);
    write_file(at("bad/pool.json"), big, XLMIG__POOL_STATE_FILE_MAX + 1);
    reset_log();
    assert_int_equal(xlmig__pool_state_load(ctx, dir, &st, NULL),
                     LIBXLMIG_ERR_POOL_STATE_INVALID);
    assert_contains(libxlmig_ctx_last_error(ctx),
                    "/bad/pool.json: 2097153 bytes, more than the 2097152");
    assert_memory_equal(&st, &before, sizeof(st));
    /* At the cap exactly: read (the file has 44). */
    write_file(at("bad/pool.json"), big, XLMIG__POOL_STATE_FILE_MAX);
    assert_ok(xlmig__pool_param_set(ctx, &st, "migration-concurrency", "12"));
    assert_ok(xlmig__pool_state_load(ctx, dir, &st, NULL));
    assert_int_equal(st.concurrency, 44);
    free(big);
    free(text);
    before = st;

    /* Not a regular file: a directory, a FIFO (never opened blocking). */
    assert_int_equal(mkdir(at("bad2"), 0700), 0);
    assert_int_equal(mkdir(at("bad2/pool.json"), 0700), 0);
    reset_log();
    assert_int_equal(xlmig__pool_state_load(ctx, at("bad2"), &st, NULL),
                     LIBXLMIG_ERR_POOL_STATE_INVALID);
    assert_contains(libxlmig_ctx_last_error(ctx),
                    "/bad2/pool.json: not a regular file");
    assert_memory_equal(&st, &before, sizeof(st));
    assert_int_equal(mkdir(at("bad3"), 0700), 0);
    assert_int_equal(mkfifo(at("bad3/pool.json"), 0600), 0);
    assert_int_equal(xlmig__pool_state_load(ctx, at("bad3"), &st, NULL),
                     LIBXLMIG_ERR_POOL_STATE_INVALID);
    assert_contains(libxlmig_ctx_last_error(ctx), "not a regular file");
    assert_memory_equal(&st, &before, sizeof(st));
    /* The state directory is a file. */
    write_file(at("bad4"), "x", 1);
    assert_int_equal(xlmig__pool_state_load(ctx, at("bad4"), &st, NULL),
                     LIBXLMIG_ERR_IO);
    assert_contains(libxlmig_ctx_last_error(ctx), "cannot open ");
    assert_memory_equal(&st, &before, sizeof(st));

    /* Unreadable: permission denied (not when root, who reads anyway). */
    if (geteuid() != 0) {
        assert_int_equal(chmod(at("bad/pool.json"), 0), 0);
        assert_int_equal(xlmig__pool_state_load(ctx, dir, &st, NULL),
                         LIBXLMIG_ERR_PERMISSION_DENIED);
        assert_contains(libxlmig_ctx_last_error(ctx), "cannot open ");
    }
    xlmig__pool_state_dispose(&st);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_decode_example),
        cmocka_unit_test(test_largest),
        cmocka_unit_test(test_param_set),
        cmocka_unit_test(test_param_get),
        cmocka_unit_test(test_identity),
        cmocka_unit_test(test_members),
        cmocka_unit_test(test_tasks),
        cmocka_unit_test(test_check),
        cmocka_unit_test(test_decode_table_base),
        cmocka_unit_test(test_member_enabled),
        cmocka_unit_test(test_decode_rejects),
        cmocka_unit_test(test_decode_caps),
        cmocka_unit_test(test_decode_bytes),
        cmocka_unit_test(test_parts),
        cmocka_unit_test_setup_teardown(test_load_missing, dir_setup,
                                        dir_teardown),
        cmocka_unit_test_setup_teardown(test_save_load, dir_setup,
                                        dir_teardown),
        cmocka_unit_test_setup_teardown(test_save_largest, dir_setup,
                                        dir_teardown),
        cmocka_unit_test_setup_teardown(test_save_fails, dir_setup,
                                        dir_teardown),
        cmocka_unit_test_setup_teardown(test_load_bad_files, dir_setup,
                                        dir_teardown),
    };

    return cmocka_run_group_tests_name("poolstate", tests, group_setup,
                                       group_teardown);
}

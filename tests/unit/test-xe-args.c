/* SPDX-License-Identifier: LGPL-2.1-only */
/* xe's command grammar, table-driven. */
#include <stdlib.h>

#include "internal.h"
#include "xe-args.h"
#include "testutil.h"

#define MAXW 8

static void test_valid(void **state)
{
    static const struct {
        const char *argv[MAXW];
        bool minimal, multiple, help;
        const char *key, *value;    /* one pair to look up, or NULL */
        size_t nr_kv, nr_params;
        const char *param0;
    } cases[] = {
        { { NULL }, false, false, false, NULL, NULL, 0, 0, NULL },
        { { "vm=web01", "host=h2" }, false, false, false, "host", "h2",
          2, 0, NULL },
        { { "--minimal", "uuid=abc" }, true, false, false, "uuid", "abc",
          1, 0, NULL },
        { { "--multiple", "--help" }, false, true, true, NULL, NULL, 0, 0,
          NULL },
        { { "params=a,b,c" }, false, false, false, NULL, NULL, 0, 3, "a" },
        { { "vdi:1234-5678=sr-9" }, false, false, false, "vdi:1234-5678",
          "sr-9", 1, 0, NULL },
        { { "name-label=a=b" }, false, false, false, "name-label", "a=b",
          1, 0, NULL },
        { { "compress=" }, false, false, false, "compress", "", 1, 0, NULL },
    };
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct xe_args a;
        char err[256];
        int argc = 0;

        while (argc < MAXW && cases[i].argv[argc])
            argc++;
        assert_int_equal(xe_args_parse(&a, argc,
                                       (char *const *)cases[i].argv, err,
                                       sizeof(err)), 0);
        assert_int_equal(a.minimal, cases[i].minimal);
        assert_int_equal(a.multiple, cases[i].multiple);
        assert_int_equal(a.help, cases[i].help);
        assert_int_equal(a.nr_kv, cases[i].nr_kv);
        assert_int_equal(a.nr_params, cases[i].nr_params);
        if (cases[i].key)
            assert_string_equal(xe_args_get(&a, cases[i].key),
                                cases[i].value);
        if (cases[i].param0)
            assert_string_equal(a.params[0], cases[i].param0);
        assert_null(xe_args_get(&a, "nonexistent"));
        xe_args_dispose(&a);
        xe_args_dispose(&a);    /* idempotent */
    }
}

static void test_invalid(void **state)
{
    static const struct {
        const char *argv[MAXW];
        const char *why;        /* expected in the error sentence */
    } cases[] = {
        { { "vm" }, "'vm' is not of the form key=value" },
        { { "=x" }, "the key must have 1 to" },
        { { "v m=x" }, "keys may hold only" },
        { { "vm=a", "vm=b" }, "vm= given twice" },
        { { "params=" }, "params= needs at least one" },
        { { "params=a,,b" }, "empty or over-long field name" },
        { { "params=a," }, "trailing ','" },
        { { "params=a", "params=b" }, "params= given twice" },
        { { "ok=1", "--bogus" }, "'--bogus' is not of the form" },
        { { "--json", "--minimal" }, "--json and --minimal" },
        { { "--minimal", "params=a", "--json" }, "--json and --minimal" },
    };
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct xe_args a;
        char err[256];
        int argc = 0;

        while (argc < MAXW && cases[i].argv[argc])
            argc++;
        assert_int_equal(xe_args_parse(&a, argc,
                                       (char *const *)cases[i].argv, err,
                                       sizeof(err)),
                         LIBXLMIG_ERR_INVALID_ARGUMENT);
        assert_contains(err, cases[i].why);
        /* Nothing half-parsed remains. */
        assert_int_equal(a.nr_kv, 0);
        assert_int_equal(a.nr_params, 0);
    }
}

static void test_json(void **state)
{
    const char *argv[] = { "--json", "params=uuid,name-label" };
    struct xe_args a;
    char err[256];

    (void)state;
    assert_int_equal(xe_args_parse(&a, 2, (char *const *)argv, err,
                                   sizeof(err)), 0);
    assert_true(a.json);
    assert_false(a.minimal);
    assert_int_equal(a.nr_params, 2);
    xe_args_dispose(&a);
    assert_int_equal(xe_args_parse(&a, 1, (char *const *)argv + 1, err,
                                   sizeof(err)), 0);
    assert_false(a.json);
    xe_args_dispose(&a);
}

static void test_caps(void **state)
{
    char *argv[XE_ARGS_MAX + 1], err[256], *big;
    struct xe_args a;
    int i;

    (void)state;
    for (i = 0; i <= XE_ARGS_MAX; i++) {
        argv[i] = malloc(16);
        snprintf(argv[i], 16, "k%d=v", i);
    }
    assert_int_equal(xe_args_parse(&a, XE_ARGS_MAX, argv, err, sizeof(err)),
                     0);
    xe_args_dispose(&a);
    assert_int_equal(xe_args_parse(&a, XE_ARGS_MAX + 1, argv, err,
                                   sizeof(err)),
                     LIBXLMIG_ERR_INVALID_ARGUMENT);
    assert_contains(err, "more than 64 key=value");
    for (i = 0; i <= XE_ARGS_MAX; i++)
        free(argv[i]);

    big = malloc(XE_ARGS_VALUE_MAX + 8);
    memcpy(big, "k=", 2);
    memset(big + 2, 'x', XE_ARGS_VALUE_MAX + 1);
    big[XE_ARGS_VALUE_MAX + 3] = '\0';
    assert_int_equal(xe_args_parse(&a, 1, &big, err, sizeof(err)),
                     LIBXLMIG_ERR_INVALID_ARGUMENT);
    assert_contains(err, "longer than 4096 bytes");
    big[XE_ARGS_VALUE_MAX + 2] = '\0';        /* exactly the cap */
    assert_int_equal(xe_args_parse(&a, 1, &big, err, sizeof(err)), 0);
    xe_args_dispose(&a);
    free(big);
}

static void test_only(void **state)
{
    static const char *const allowed[] = { "vm", "host", NULL };
    const char *ok[] = { "vm=a", "host=b", "--minimal" };
    const char *bad[] = { "vm=a", "hots=b" };
    struct xe_args a;
    char err[256];

    (void)state;
    assert_int_equal(xe_args_parse(&a, 3, (char *const *)ok, err,
                                   sizeof(err)), 0);
    assert_int_equal(xe_args_only(&a, allowed, err, sizeof(err)), 0);
    xe_args_dispose(&a);
    assert_int_equal(xe_args_parse(&a, 2, (char *const *)bad, err,
                                   sizeof(err)), 0);
    assert_int_equal(xe_args_only(&a, allowed, err, sizeof(err)),
                     LIBXLMIG_ERR_INVALID_ARGUMENT);
    assert_contains(err, "unknown argument 'hots='");
    xe_args_dispose(&a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid),
        cmocka_unit_test(test_invalid),
        cmocka_unit_test(test_json),
        cmocka_unit_test(test_caps),
        cmocka_unit_test(test_only),
    };

    return cmocka_run_group_tests_name("xe-args", tests, NULL, NULL);
}

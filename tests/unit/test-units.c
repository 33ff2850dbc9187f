/* SPDX-License-Identifier: LGPL-2.1-only */
/*
 * Sizes and rates (libxlmig/units.c): every accepted form with its
 * value, every refused one leaving the output alone, and the messages
 * naming the option as its tool spells it.
 */
#include <stdint.h>

#include "internal.h"
#include "testctx.h"
#include "testutil.h"
#include "units.h"

static void test_size_parse(void **state)
{
    static const struct { const char *text; uint64_t v; } good[] = {
        { "1", 1 }, { "512", 512 }, { "1k", 1024 }, { "1K", 1024 },
        { "10M", 10ull << 20 }, { "10GiB", 10ull << 30 },
        { "10GB", 10ull << 30 }, { "2T", 2ull << 40 },
        { "64T", 64ull << 40 }, { "100B", 100 },
    };
    static const char *const bad[] = {
        "", "0", "0G", "abc", "65T", "-1", "+1", " 1", "1 ", "1X", "1KiBB",
        "1iB", "10g5", "99999999999999999999999", "70368744177665",
        "1.5G", "G", "none", "1b",
    };
    uint64_t v;
    size_t i;

    (void)state;
    for (i = 0; i < ARRAY_LEN(good); i++) {
        assert_ok(xlmig__size_parse(ctx, "size", good[i].text, &v));
        assert_true(v == good[i].v);
    }
    for (i = 0; i < ARRAY_LEN(bad); i++) {
        v = 7;
        reset_log();
        if (xlmig__size_parse(ctx, "virtual size", bad[i], &v) !=
            LIBXLMIG_ERR_INVALID_ARGUMENT)
            fail_msg("size \"%s\" was taken", bad[i]);
        assert_true(v == 7);
        assert_contains(libxlmig_ctx_last_error(ctx), "virtual size");
    }
    assert_contains((xlmig__size_parse(ctx, "size", "65T", &v),
                     libxlmig_ctx_last_error(ctx)), "64 TiB");
    assert_contains((xlmig__size_parse(ctx, "size", "0", &v),
                     libxlmig_ctx_last_error(ctx)), "zero");
    assert_int_equal(xlmig__size_parse(NULL, "size", "x", &v),
                     LIBXLMIG_ERR_INVALID_ARGUMENT);
}

static void test_rate(void **state)
{
    /* What channel-send's --bwlimit and the size parser's users took. */
    static const struct { const char *text; uint64_t v; } good[] = {
        { "none", 0 }, { "off", 0 }, { "0", 0 }, { "0k", 0 }, { "0.0", 0 },
        { "123", 123 }, { "64k", 64ull << 10 }, { "64K", 64ull << 10 },
        { "512k", 512ull << 10 }, { "2M", 2ull << 20 },
        { "200M", 200ull << 20 }, { "500M", 500ull << 20 },
        { "1G", 1ull << 30 }, { "2g", 2ull << 30 }, { "1T", 1ull << 40 },
        { "1.5M", 3ull << 19 }, { "0.5k", 512 }, { ".5k", 512 },
        { "2.", 2 }, { "1.5", 1 },
        { "64KiB", 64ull << 10 }, { "2MB", 2ull << 20 },
        { "2mb", 2ull << 20 }, { "100B", 100 }, { "100b", 100 },
        { "1024T", 1ull << 50 },            /* XLMIG__RATE_MAX */
        { "1048576G", 1ull << 50 }, { "0.001k", 1 },
    };
    static const char *const bad[] = {
        "", "abc", "-1", "+1", " 1", "1 ", "1X", "1KiBB", "1iB", "1Kib",
        "10g5", "1e3", "0x10", "inf", "nan", ".", "k", "1..5", "1.5.5",
        "None", "OFF", "1k/s", "1025T", "1125899906842625", "0.4b",
        "99999999999999999999999", "0.4",
    };
    char why[256];
    uint64_t v;
    size_t i;

    (void)state;
    for (i = 0; i < ARRAY_LEN(good); i++) {
        v = 7;
        if (!xlmig__rate_ok("--bwlimit", good[i].text, &v, why,
                            sizeof(why)))
            fail_msg("rate \"%s\" refused: %s", good[i].text, why);
        if (v != good[i].v)
            fail_msg("rate \"%s\" gave %llu, want %llu", good[i].text,
                     (unsigned long long)v,
                     (unsigned long long)good[i].v);
        v = 7;
        assert_ok(xlmig__rate_parse(ctx, "bwlimit=", good[i].text, &v));
        assert_true(v == good[i].v);
    }
    for (i = 0; i < ARRAY_LEN(bad); i++) {
        v = 7;
        if (xlmig__rate_ok("--bwlimit", bad[i], &v, why, sizeof(why)))
            fail_msg("rate \"%s\" was taken (%llu)", bad[i],
                     (unsigned long long)v);
        assert_true(v == 7);
        /* One sentence naming the option and the text. */
        assert_contains(why, "--bwlimit");
        if (bad[i][0])
            assert_contains(why, bad[i]);
        reset_log();
        if (xlmig__rate_parse(ctx, "bwlimit=", bad[i], &v) !=
            LIBXLMIG_ERR_INVALID_ARGUMENT)
            fail_msg("rate \"%s\" was taken by rate_parse", bad[i]);
        assert_true(v == 7);
        assert_contains(libxlmig_ctx_last_error(ctx), "INVALID_VALUE: ");
        assert_contains(libxlmig_ctx_last_error(ctx), "bwlimit=");
    }
    assert_false(xlmig__rate_ok("--bwlimit", NULL, &v, why, sizeof(why)));
    assert_contains(why, "no --bwlimit given");
    assert_false(xlmig__rate_ok("--bwlimit", "abc", &v, why, sizeof(why)));
    assert_string_equal(why, "--bwlimit \"abc\" is not a rate; give "
                             XLMIG__RATE_RULE);
    assert_false(xlmig__rate_ok("--bwlimit", "2000T", &v, why, sizeof(why)));
    assert_contains(why, "more than the 1 PiB/s");
    assert_false(xlmig__rate_ok("--bwlimit", "0.4", &v, why, sizeof(why)));
    assert_contains(why, "less than 1 byte/s");
    assert_int_equal(xlmig__rate_parse(NULL, "bwlimit", "x", &v),
                     LIBXLMIG_ERR_INVALID_ARGUMENT);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_size_parse),
        cmocka_unit_test(test_rate),
    };

    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}

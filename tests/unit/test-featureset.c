/* SPDX-License-Identifier: LGPL-2.1-only */
/*
 * CPU featuresets (libxlmig/featureset*.c, docs/specs/featureset.md):
 * the string form with xapi's own cases, set operations, feature names
 * checked against Xen's cpufeatureset.h, vendors, this CPU's CPUID,
 * pool levelling and the VM check.
 */
#include <stdint.h>
#include <stdlib.h>

#include "internal.h"
#include "testctx.h"
#include "testutil.h"

/* Xen's header the default way: XEN_X86_FEATURE_* constants. */
#include <xen/arch-x86/cpufeatureset.h>

/* The xapi test strings (xen-api ocaml/xenopsd/test/test_cpuid.ml). */
#define XAPI_A "07cbfbff-04082201-20100800-00000001-00000000-00000000-" \
               "00000000-00000000-00000000"
#define XAPI_B "07c9cbf5-80082201-20100800-00000001-00000000-00000000-" \
               "00000000-00000000-00000000"


/* Every byte of a message printable: nothing a terminal would act on. */
static void assert_printable(const char *s)
{
    for (; *s; s++) {
        if ((unsigned char)*s < 0x20 || (unsigned char)*s >= 0x7f)
            fail_msg("unprintable byte 0x%02x in a message",
                     (unsigned char)*s);
    }
}

static libxlmig_featureset fs_parse(const char *text)
{
    libxlmig_featureset fs;

    if (libxlmig_featureset_parse(NULL, "test", text, &fs))
        fail_msg("cannot parse \"%s\"", text);
    return fs;
}

static libxlmig_featureset fs_names(const char *names)
{
    libxlmig_featureset fs;

    if (libxlmig_featureset_parse_names(NULL, "test", names, &fs))
        fail_msg("cannot parse names \"%s\"", names);
    return fs;
}

static const char *names_of(const libxlmig_featureset *fs)
{
    static char buf[4096];

    assert_int_equal(libxlmig_featureset_names(fs, buf, sizeof(buf), NULL),
                     0);
    return buf;
}

static const char *format_of(const libxlmig_featureset *fs)
{
    static char buf[LIBXLMIG_FEATURESET_STRING_MAX];

    assert_int_equal(libxlmig_featureset_format(fs, buf, sizeof(buf)), 0);
    return buf;
}

/* ------------------------------------------------------- string form */

static void test_round_trip(void **state)
{
    static const char *const canonical[] = {
        "",
        "00000000",
        "07cbfbff",
        "ffffffff-00000001",
        "00000001-00000000",
        "00000000-00000002-0000007b",
        XAPI_A,
        XAPI_B,
        "00000000-00000001-00000002-00000003-00000004-00000005-00000006-"
        "00000007-00000008-00000009-0000000a-0000000b-0000000c-0000000d-"
        "0000000e-0000000f-00000010-00000011-00000012-00000013-00000014-"
        "00000015-00000016-00000017-00000018-00000019-0000001a-0000001b-"
        "0000001c-0000001d-0000001e-ffffffff",
    };
    static const struct {
        const char *in, *out;
    } loose[] = {
        { "1234", "00001234" },
        { "ABCDEF01", "abcdef01" },
        { "0-0", "00000000-00000000" },
        { "7-3", "00000007-00000003" },
        { "FfFf-1", "0000ffff-00000001" },
    };
    size_t i;

    (void)state;
    for (i = 0; i < ARRAY_LEN(canonical); i++) {
        libxlmig_featureset fs = fs_parse(canonical[i]);

        assert_string_equal(format_of(&fs), canonical[i]);
    }
    for (i = 0; i < ARRAY_LEN(loose); i++) {
        libxlmig_featureset fs = fs_parse(loose[i].in);

        assert_string_equal(format_of(&fs), loose[i].out);
    }
}

static void test_xapi_parse_cases(void **state)
{
    libxlmig_featureset fs;

    (void)state;
    fs = fs_parse("00000000-00000002-0000007b");
    assert_int_equal(fs.nr_words, 3);
    assert_int_equal(fs.words[0], 0);
    assert_int_equal(fs.words[1], 2);
    assert_int_equal(fs.words[2], 123);
    fs = fs_parse("");
    assert_int_equal(fs.nr_words, 0);
    assert_true(libxlmig_featureset_is_empty(&fs));
    fs = fs_parse(XAPI_A);
    assert_int_equal(fs.nr_words, 9);
    assert_int_equal(fs.words[0], 0x07cbfbff);
    assert_int_equal(fs.words[3], 1);
}

static void test_parse_malformed(void **state)
{
    static char too_many[40 * 9];
    static char long_bad[200];
    static const char *const field = "featureset of host h2";
    struct {
        const char *text;
        const char *want[3];            /* in the message */
    } cases[] = {
        { "-1234", { "offset 0", "starts with '-'", "\"-1234\"" } },
        { "1234-", { "offset 5", "ends with '-'", "\"1234-\"" } },
        { "fgfg-1234", { "'g' at offset 1", "\"fgfg-1234\"", NULL } },
        { "1234--5678", { "word 2 at offset 5 is empty", "in a row",
                          NULL } },
        { "-", { "word 1 at offset 0 is empty", NULL, NULL } },
        { "123456789", { "word 1 at offset 0 has more than 8 hex digits",
                         NULL, NULL } },
        { "00000000-123456789", { "word 2 at offset 9 has more than 8",
                                  NULL, NULL } },
        { "0x1234", { "'x' at offset 1", NULL, NULL } },
        { " 1234", { "a space at offset 0", NULL, NULL } },
        { "1234 ", { "a space at offset 4", NULL, NULL } },
        { "12 34", { "a space at offset 2", NULL, NULL } },
        { "1234\n", { "byte 0x0a at offset 4", "\"1234?\"", NULL } },
        { "\t1234", { "byte 0x09 at offset 0", NULL, NULL } },
        { "+1234", { "'+' at offset 0", NULL, NULL } },
        { "1_234", { "'_' at offset 1", NULL, NULL } },
        { "1234,5678", { "',' at offset 4", NULL, NULL } },
        { "1234:5678", { "':' at offset 4", NULL, NULL } },
        { "\xc3\xa9", { "byte 0xc3 at offset 0", "\"??\"", NULL } },
        { "\x1b[31mred", { "byte 0x1b at offset 0", "\"?[31mred\"",
                           NULL } },
        { "g", { "'g' at offset 0", NULL, NULL } },
        { too_many, { "more than 32 words (word 33 starts at offset 288)",
                      "...", NULL } },
        { long_bad, { "'z' at offset 150 where a hex digit or '-' belongs",
                      "\"...", "...\"" } },
    };
    size_t i, j;

    (void)state;
    /* 33 words of "00000001": word 33 starts at 32 * 9 = 288. */
    for (i = 0, j = 0; i < 33; i++)
        j += (size_t)snprintf(too_many + j, sizeof(too_many) - j,
                              "%s00000001", i ? "-" : "");
    /* 16 good words, then a 'z' at offset 16 * 9 + 6 = 150. */
    for (i = 0, j = 0; i < 16; i++)
        j += (size_t)snprintf(long_bad + j, sizeof(long_bad) - j,
                              "00000000-");
    memset(long_bad + j, '0', 6);
    memset(long_bad + j + 6, 'z', sizeof(long_bad) - 1 - j - 6);

    for (i = 0; i < ARRAY_LEN(cases); i++) {
        libxlmig_featureset fs;
        const char *msg;

        memset(&fs, 0x5a, sizeof(fs));
        reset_log();
        assert_int_equal(libxlmig_featureset_parse(ctx, field, cases[i].text,
                                                   &fs),
                         LIBXLMIG_ERR_FEATURESET_INVALID);
        msg = libxlmig_ctx_last_error(ctx);
        assert_contains(msg, "INVALID_FEATURE_STRING: ");
        assert_contains(msg, field);
        assert_contains(msg, "is not a featureset string");
        for (j = 0; j < 3 && cases[i].want[j]; j++)
            assert_contains(msg, cases[i].want[j]);
        assert_printable(msg);
        assert_int_equal(cap.count, 1);             /* logged once */
        assert_int_equal(fs.nr_words, 0x5a5a5a5a);  /* untouched */
        /* Without a context: the code, nothing else. */
        assert_int_equal(libxlmig_featureset_parse(NULL, field, cases[i].text,
                                                   &fs),
                         LIBXLMIG_ERR_FEATURESET_INVALID);
    }
    /* The long text is cut around the fault, not quoted whole. */
    reset_log();
    libxlmig_featureset_parse(ctx, field, long_bad, NULL);
    assert_true(strlen(libxlmig_ctx_last_error(ctx)) < 400);
}

static void test_parse_arguments(void **state)
{
    libxlmig_featureset fs;

    (void)state;
    assert_int_equal(libxlmig_featureset_parse(ctx, "f", NULL, &fs),
                     LIBXLMIG_ERR_INVALID_ARGUMENT);
    assert_int_equal(libxlmig_featureset_parse(ctx, "f", "", NULL),
                     LIBXLMIG_ERR_INVALID_ARGUMENT);
    /* No field given: the message still says what was parsed. */
    reset_log();
    assert_int_equal(libxlmig_featureset_parse(ctx, NULL, "x", &fs),
                     LIBXLMIG_ERR_FEATURESET_INVALID);
    assert_contains(libxlmig_ctx_last_error(ctx),
                    "INVALID_FEATURE_STRING: featureset: \"x\"");
    /* The field as a CLI names it. */
    reset_log();
    libxlmig_featureset_parse(ctx, "vm-cpu-check: features=", "12-", &fs);
    assert_contains(libxlmig_ctx_last_error(ctx),
                    "vm-cpu-check: features=: \"12-\"");
    assert_string_equal(libxlmig_strerror_name(
                            LIBXLMIG_ERR_FEATURESET_INVALID),
                        "INVALID_FEATURE_STRING");
}

/* ---------------------------------------------------------- set logic */

static void test_xapi_subset_cases(void **state)
{
    static const struct {
        const char *a, *b;
        bool subset;
    } cases[] = {
        { XAPI_A, XAPI_B, false },
        { XAPI_B, XAPI_A, false },
        { XAPI_A, XAPI_A, true },
        { "7-3", "5", false },          /* [7;3] ⊆ [5] */
        { "5", "7-3", true },           /* [5] ⊆ [7;3] */
        { "1", "1-0", true },           /* [1] ⊆ [1;0] */
        { "1-0", "1", true },
        { "", "1-2-3", true },
        { "", "", true },
        /* xapi says true: its intersection treats [] as "no
         * constraint".  Ours is plain set logic (spec: "The empty
         * set"). */
        { "1-2-3", "", false },
        { "0-0-0", "", true },
        { "ffffffff", "fffffffe", false },
        { "0-0-80000000", "0-0-ffffffff-1", true },
    };
    size_t i;

    (void)state;
    for (i = 0; i < ARRAY_LEN(cases); i++) {
        libxlmig_featureset a = fs_parse(cases[i].a);
        libxlmig_featureset b = fs_parse(cases[i].b);

        if (libxlmig_featureset_is_subset(&a, &b) != cases[i].subset)
            fail_msg("case %zu: [%s] <= [%s] should be %s", i, cases[i].a,
                     cases[i].b, cases[i].subset ? "true" : "false");
    }
    assert_true(libxlmig_featureset_is_subset(NULL, NULL));
}

static void test_set_operations(void **state)
{
    static const struct {
        const char *a, *b;
        const char *inter, *diff;       /* trimmed results */
        bool equal;
    } cases[] = {
        { "7-3", "5", "00000005", "00000002-00000003", false },
        { "5", "7-3", "00000005", "", false },
        { "1", "1-0", "00000001", "", true },
        { "1-0-0", "1", "00000001", "", true },
        { "", "", "", "", true },
        { "", "ff", "", "", false },
        { "ff-ff", "", "", "000000ff-000000ff", false },
        { "f0-0-1", "0f-0-1", "00000000-00000000-00000001",
          "000000f0", false },
        { "1-2", "2-1", "", "00000001-00000002", false },
        { XAPI_A, XAPI_B,
          "07c9cbf5-00082201-20100800-00000001", "0002300a-04000000",
          false },
    };
    size_t i;

    (void)state;
    for (i = 0; i < ARRAY_LEN(cases); i++) {
        libxlmig_featureset a = fs_parse(cases[i].a);
        libxlmig_featureset b = fs_parse(cases[i].b);
        libxlmig_featureset r;

        assert_int_equal(libxlmig_featureset_intersect(&a, &b, &r), 0);
        assert_string_equal(format_of(&r), cases[i].inter);
        assert_int_equal(libxlmig_featureset_difference(&a, &b, &r), 0);
        assert_string_equal(format_of(&r), cases[i].diff);
        assert_true(libxlmig_featureset_is_empty(&r) ==
                    (cases[i].diff[0] == '\0'));
        assert_true(libxlmig_featureset_equal(&a, &b) == cases[i].equal);
        assert_true(libxlmig_featureset_equal(&b, &a) == cases[i].equal);
        /* The result may be an operand. */
        assert_int_equal(libxlmig_featureset_intersect(&a, &b, &a), 0);
        assert_string_equal(format_of(&a), cases[i].inter);
    }
    assert_true(libxlmig_featureset_is_empty(NULL));
    {
        libxlmig_featureset z = fs_parse("0-0-0");

        assert_true(libxlmig_featureset_is_empty(&z));
        assert_int_equal(libxlmig_featureset_intersect(NULL, &z, NULL),
                         LIBXLMIG_ERR_INVALID_ARGUMENT);
        assert_int_equal(libxlmig_featureset_difference(&z, NULL, NULL),
                         LIBXLMIG_ERR_INVALID_ARGUMENT);
        /* nr_words beyond the maximum reads as the maximum. */
        z.nr_words = 1000;
        assert_true(libxlmig_featureset_is_subset(&z, &z));
    }
}

static void test_bits(void **state)
{
    libxlmig_featureset fs;

    (void)state;
    memset(&fs, 0xee, sizeof(fs));
    fs.nr_words = 0;
    assert_int_equal(libxlmig_featureset_set_bit(&fs, 5 * 32 + 16), 0);
    assert_int_equal(fs.nr_words, 6);
    assert_string_equal(format_of(&fs), "00000000-00000000-00000000-"
                                        "00000000-00000000-00010000");
    assert_true(libxlmig_featureset_test_bit(&fs, 176));
    assert_false(libxlmig_featureset_test_bit(&fs, 175));
    assert_false(libxlmig_featureset_test_bit(&fs, 6 * 32));
    assert_false(libxlmig_featureset_test_bit(NULL, 0));
    assert_int_equal(libxlmig_featureset_set_bit(&fs, 0), 0);
    assert_int_equal(fs.nr_words, 6);
    assert_int_equal(fs.words[0], 1);
    assert_int_equal(libxlmig_featureset_set_bit(
                         &fs, LIBXLMIG_FEATURESET_MAX_WORDS * 32 - 1), 0);
    assert_int_equal(fs.nr_words, LIBXLMIG_FEATURESET_MAX_WORDS);
    assert_int_equal(libxlmig_featureset_set_bit(
                         &fs, LIBXLMIG_FEATURESET_MAX_WORDS * 32),
                     LIBXLMIG_ERR_INVALID_ARGUMENT);
    assert_false(libxlmig_featureset_test_bit(
        &fs, LIBXLMIG_FEATURESET_MAX_WORDS * 32));
    assert_int_equal(libxlmig_featureset_set_bit(NULL, 0),
                     LIBXLMIG_ERR_INVALID_ARGUMENT);
}

/* -------------------------------------------------------------- names */

static void test_known_names(void **state)
{
    /* Numbers written out, and Xen's own constants: both must agree. */
    static const struct {
        const char *name;
        unsigned int bit, header;
    } cases[] = {
        { "fpu", 0, XEN_X86_FEATURE_FPU },
        { "sse2", 26, XEN_X86_FEATURE_SSE2 },
        { "hypervisor", 63, XEN_X86_FEATURE_HYPERVISOR },
        { "lm", 2 * 32 + 29, XEN_X86_FEATURE_LM },
        { "3dnow", 2 * 32 + 31, XEN_X86_FEATURE_3DNOW },
        { "xsaveopt", 4 * 32 + 0, XEN_X86_FEATURE_XSAVEOPT },
        { "avx512f", 5 * 32 + 16, XEN_X86_FEATURE_AVX512F },
        { "pku", 6 * 32 + 3, XEN_X86_FEATURE_PKU },
        { "itsc", 7 * 32 + 8, XEN_X86_FEATURE_ITSC },
        { "ibpb", 8 * 32 + 12, XEN_X86_FEATURE_IBPB },
        { "md_clear", 9 * 32 + 10, XEN_X86_FEATURE_MD_CLEAR },
        { "avx_vnni", 10 * 32 + 4, XEN_X86_FEATURE_AVX_VNNI },
        { "lfence_dispatch", 11 * 32 + 2, XEN_X86_FEATURE_LFENCE_DISPATCH },
        { "intel_ppin", 12 * 32 + 0, XEN_X86_FEATURE_INTEL_PPIN },
        { "mcdt_no", 13 * 32 + 5, XEN_X86_FEATURE_MCDT_NO },
    };
    size_t i;

    (void)state;
    for (i = 0; i < ARRAY_LEN(cases); i++) {
        char buf[LIBXLMIG_FEATURE_NAME_MAX];
        unsigned int bit = 9999;
        bool named = false;

        assert_int_equal(cases[i].bit, cases[i].header);
        assert_int_equal(libxlmig_feature_name(cases[i].bit, buf,
                                               sizeof(buf), &named), 0);
        assert_string_equal(buf, cases[i].name);
        assert_true(named);
        assert_int_equal(libxlmig_feature_from_name(cases[i].name, &bit), 0);
        assert_int_equal(bit, cases[i].bit);
    }
    {
        unsigned int bit = 0;

        assert_int_equal(libxlmig_feature_from_name("AVX512F", &bit), 0);
        assert_int_equal(bit, 176);
        assert_int_equal(libxlmig_feature_from_name("Pku", &bit), 0);
        assert_int_equal(bit, 195);
    }
}

/* Every line of Xen's header, through the library's table. */
static const struct {
    const char *name;
    unsigned int bit;
} header_features[] = {
#undef XEN_CPUFEATURE
#define XEN_CPUFEATURE(name, value) { #name, (value) },
#include <xen/arch-x86/cpufeatureset.h>
#undef XEN_CPUFEATURE
};

static void test_every_header_feature(void **state)
{
    size_t i, j;

    (void)state;
    assert_true(ARRAY_LEN(header_features) > 200);
    for (i = 0; i < ARRAY_LEN(header_features); i++) {
        char want[LIBXLMIG_FEATURE_NAME_MAX], buf[LIBXLMIG_FEATURE_NAME_MAX];
        unsigned int bit = 9999;
        bool named = false;

        assert_true(strlen(header_features[i].name) < sizeof(want));
        for (j = 0; header_features[i].name[j]; j++) {
            char c = header_features[i].name[j];

            want[j] = c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
        }
        want[j] = '\0';
        assert_true(header_features[i].bit <
                    LIBXLMIG_FEATURESET_MAX_WORDS * 32);
        assert_non_null(
            libxlmig_featureset_word_source(header_features[i].bit / 32));
        assert_int_equal(libxlmig_feature_name(header_features[i].bit, buf,
                                               sizeof(buf), &named), 0);
        assert_string_equal(buf, want);
        assert_true(named);
        assert_int_equal(libxlmig_feature_from_name(want, &bit), 0);
        assert_int_equal(bit, header_features[i].bit);
        for (j = i + 1; j < ARRAY_LEN(header_features); j++)
            assert_int_not_equal(header_features[i].bit,
                                 header_features[j].bit);
    }
}

static void test_unnamed_bits(void **state)
{
    static const struct {
        unsigned int bit;
        const char *name;
    } unnamed[] = {
        { 10, "word0-bit10" },          /* reserved in leaf 1 EDX */
        { 4 * 32 + 31, "word4-bit31" },
        { 5 * 32 + 22, "word5-bit22" },
        { 31 * 32 + 31, "word31-bit31" },
    };
    static const char *const not_names[] = {
        "", "avx512", "avx512f ", " pku", "word32-bit0", "word0-bit32",
        "word-bit1", "word1bit1", "word1-bit1x", "word1-bit", "word0001-bit1",
        "word1-bit-1", "fpu,pku", "ab\x01",
    };
    char buf[LIBXLMIG_FEATURE_NAME_MAX];
    unsigned int bit;
    bool named;
    size_t i;

    (void)state;
    for (i = 0; i < ARRAY_LEN(unnamed); i++) {
        named = true;
        assert_int_equal(libxlmig_feature_name(unnamed[i].bit, buf,
                                               sizeof(buf), &named), 0);
        assert_string_equal(buf, unnamed[i].name);
        assert_false(named);
        bit = 9999;
        assert_int_equal(libxlmig_feature_from_name(unnamed[i].name, &bit),
                         0);
        assert_int_equal(bit, unnamed[i].bit);
    }
    /* A named bit may be written either way. */
    assert_int_equal(libxlmig_feature_from_name("WORD5-BIT16", &bit), 0);
    assert_int_equal(bit, 176);
    for (i = 0; i < ARRAY_LEN(not_names); i++) {
        bit = 9999;
        if (libxlmig_feature_from_name(not_names[i], &bit) !=
            LIBXLMIG_ERR_NOT_FOUND)
            fail_msg("\"%s\" should not be a feature", not_names[i]);
        assert_int_equal(bit, 9999);
    }
    assert_int_equal(libxlmig_feature_name(32 * 32, buf, sizeof(buf), NULL),
                     LIBXLMIG_ERR_INVALID_ARGUMENT);
    assert_string_equal(buf, "");
    /* "avx512f" needs 8 bytes. */
    assert_int_equal(libxlmig_feature_name(176, buf, 7, NULL),
                     LIBXLMIG_ERR_INVALID_ARGUMENT);
    assert_string_equal(buf, "");
    assert_int_equal(libxlmig_feature_name(176, buf, 8, NULL), 0);
    assert_int_equal(libxlmig_feature_from_name(NULL, &bit),
                     LIBXLMIG_ERR_INVALID_ARGUMENT);
}

static void test_names_list(void **state)
{
    static const struct {
        size_t len;
        int rc;
        const char *want;
    } cuts[] = {
#define TOO_SMALL LIBXLMIG_ERR_INVALID_ARGUMENT
        { 34, 0, "vme, pse, mtrr, pge, pse36, xsave" },
        { 100, 0, "vme, pse, mtrr, pge, pse36, xsave" },
        { 33, TOO_SMALL, "vme, pse, mtrr, pge, pse36, ..." },
        { 32, TOO_SMALL, "vme, pse, mtrr, pge, pse36, ..." },
        { 31, TOO_SMALL, "vme, pse, mtrr, pge, ..." },
        { 9, TOO_SMALL, "vme, ..." },
        { 8, TOO_SMALL, "..." },
        { 4, TOO_SMALL, "..." },
        { 3, TOO_SMALL, "" },
        { 1, TOO_SMALL, "" },
#undef TOO_SMALL
    };
    libxlmig_featureset a = fs_parse(XAPI_A), b = fs_parse(XAPI_B), d;
    char buf[128];
    size_t i, need = 0;

    (void)state;
    /* What XAPI_A has and XAPI_B lacks, and the other way round. */
    libxlmig_featureset_difference(&a, &b, &d);
    for (i = 0; i < ARRAY_LEN(cuts); i++) {
        memset(buf, 'X', sizeof(buf));
        need = 0;
        assert_int_equal(libxlmig_featureset_names(&d, buf, cuts[i].len,
                                                   &need),
                         cuts[i].rc);
        assert_string_equal(buf, cuts[i].want);
        assert_int_equal(need, 34);
        assert_true(strlen(buf) < cuts[i].len);
    }
    assert_int_equal(libxlmig_featureset_names(&d, NULL, 0, &need),
                     LIBXLMIG_ERR_INVALID_ARGUMENT);
    assert_int_equal(need, 34);
    libxlmig_featureset_difference(&b, &a, &d);
    assert_string_equal(names_of(&d), "hypervisor");
    /* Unnamed bits by number; the empty set is "". */
    d = fs_parse("00000401");
    assert_string_equal(names_of(&d), "fpu, word0-bit10");
    d = fs_parse("");
    assert_string_equal(names_of(&d), "");
    assert_string_equal(names_of(NULL), "");
    assert_int_equal(libxlmig_featureset_names(&d, NULL, 5, NULL),
                     LIBXLMIG_ERR_INVALID_ARGUMENT);
}

static void test_parse_names(void **state)
{
    static const struct {
        const char *text;
        const char *want;               /* featureset string */
    } good[] = {
        { "", "" },
        { "avx512f,pku", "00000000-00000000-00000000-00000000-00000000-"
                         "00010000-00000008" },
        { "avx512f, pku", "00000000-00000000-00000000-00000000-00000000-"
                          "00010000-00000008" },
        { " AVX512F ,\tPku ", "00000000-00000000-00000000-00000000-"
                              "00000000-00010000-00000008" },
        { "fpu", "00000001" },
        { "fpu,fpu", "00000001" },
        { "lm,word0-bit10", "00000400-00000000-20000000" },
    };
    static const struct {
        const char *text;
        const char *want[2];
    } bad[] = {
        { "avx512f,,pku", { "empty item at offset 8", NULL } },
        { "avx512f,", { "empty item at offset 8", NULL } },
        { ",pku", { "empty item at offset 0", NULL } },
        { " ", { "empty item at offset 1", NULL } },
        { "avx512f,nosuch", { "unknown feature \"nosuch\" at offset 8",
                              NULL } },
        { "avx512f pku", { "unknown feature \"avx512f pku\" at offset 0",
                           NULL } },
        { "avx512f;pku", { "unknown feature \"avx512f;pku\"", NULL } },
        { "fpu,\x1b[2J", { "unknown feature \"?[2J\" at offset 4", NULL } },
        { "fpu,aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
          { "unknown feature \"aaaaaaaa", "at offset 4" } },
    };
    size_t i, j;

    (void)state;
    for (i = 0; i < ARRAY_LEN(good); i++) {
        libxlmig_featureset fs = fs_names(good[i].text), back;

        assert_string_equal(format_of(&fs), good[i].want);
        /* What names() writes parses back to the same set. */
        back = fs_names(names_of(&fs));
        assert_true(libxlmig_featureset_equal(&fs, &back));
    }
    for (i = 0; i < ARRAY_LEN(bad); i++) {
        libxlmig_featureset fs;
        const char *msg;

        memset(&fs, 0x5a, sizeof(fs));
        reset_log();
        assert_int_equal(libxlmig_featureset_parse_names(
                             ctx, "vm-cpu-check: features=", bad[i].text,
                             &fs),
                         LIBXLMIG_ERR_FEATURESET_INVALID);
        msg = libxlmig_ctx_last_error(ctx);
        assert_contains(msg, "INVALID_FEATURE_STRING: vm-cpu-check: "
                             "features=: \"");
        for (j = 0; j < 2 && bad[i].want[j]; j++)
            assert_contains(msg, bad[i].want[j]);
        assert_printable(msg);
        assert_int_equal(fs.nr_words, 0x5a5a5a5a);
    }
}

/* docs/specs/featureset.md has a row for every word Xen defines. */
static void test_word_sources(void **state)
{
    const char *src = getenv("XLMIG_SRCDIR");
    char path[4096], *doc;
    unsigned int w;
    FILE *f;
    long len;

    (void)state;
    assert_string_equal(libxlmig_featureset_word_source(0), "CPUID 0x1 EDX");
    assert_string_equal(libxlmig_featureset_word_source(5),
                        "CPUID 0x7:0 EBX");
    assert_string_equal(libxlmig_featureset_word_source(13),
                        "CPUID 0x7:2 EDX");
    assert_null(libxlmig_featureset_word_source(19));
    assert_null(libxlmig_featureset_word_source(1000));

    snprintf(path, sizeof(path), "%s/docs/specs/featureset.md",
             src ? src : ".");
    f = fopen(path, "r");
    if (!f)
        fail_msg("cannot open %s", path);
    fseek(f, 0, SEEK_END);
    len = ftell(f);
    rewind(f);
    doc = calloc(1, (size_t)len + 1);
    assert_non_null(doc);
    assert_int_equal(fread(doc, 1, (size_t)len, f), (size_t)len);
    fclose(f);
    for (w = 0; libxlmig_featureset_word_source(w); w++) {
        char row[128];

        snprintf(row, sizeof(row), "| %u | %s |", w,
                 libxlmig_featureset_word_source(w));
        assert_contains(doc, row);
    }
    assert_int_equal(w, 19);
    free(doc);
}

/* ------------------------------------------------------------ vendors */

static void test_vendor_parse(void **state)
{
    static const struct {
        const char *text;
        libxlmig_cpu_vendor v;
    } good[] = {
        { "GenuineIntel", LIBXLMIG_CPU_VENDOR_INTEL },
        { "genuineintel", LIBXLMIG_CPU_VENDOR_INTEL },
        { "intel", LIBXLMIG_CPU_VENDOR_INTEL },
        { "Intel", LIBXLMIG_CPU_VENDOR_INTEL },
        { "AuthenticAMD", LIBXLMIG_CPU_VENDOR_AMD },
        { "AMD", LIBXLMIG_CPU_VENDOR_AMD },
        { "HygonGenuine", LIBXLMIG_CPU_VENDOR_HYGON },
        { "hygon", LIBXLMIG_CPU_VENDOR_HYGON },
        { "CentaurHauls", LIBXLMIG_CPU_VENDOR_CENTAUR },
        { "centaur", LIBXLMIG_CPU_VENDOR_CENTAUR },
        { "  Shanghai  ", LIBXLMIG_CPU_VENDOR_SHANGHAI },
        { "Shanghai", LIBXLMIG_CPU_VENDOR_SHANGHAI },
        { "SHANGHAI", LIBXLMIG_CPU_VENDOR_SHANGHAI },
    };
    static const struct {
        const char *text, *quoted;
    } bad[] = {
        { "", "\"\"" },
        { "Intel ", "\"Intel \"" },
        { " intel", "\" intel\"" },
        { "GenuineIotel", "\"GenuineIotel\"" },
        { "GenuineIntel\n", "\"GenuineIntel?\"" },
        { "VIA VIA VIA ", "\"VIA VIA VIA \"" },
        { " Shanghai ", "\" Shanghai \"" },
        { "amd64", "\"amd64\"" },
        { "\x1b]0;pwned\x07", "\"?]0;pwned?\"" },
    };
    size_t i;

    (void)state;
    for (i = 0; i < ARRAY_LEN(good); i++) {
        libxlmig_cpu_vendor v = LIBXLMIG_CPU_VENDOR_UNKNOWN, back;

        assert_int_equal(libxlmig_cpu_vendor_parse(ctx, "f", good[i].text,
                                                   &v), 0);
        assert_int_equal(v, good[i].v);
        /* Both printed forms parse back. */
        assert_int_equal(libxlmig_cpu_vendor_parse(
                             NULL, "f", libxlmig_cpu_vendor_string(v), &back),
                         0);
        assert_int_equal(back, v);
        assert_int_equal(libxlmig_cpu_vendor_parse(
                             NULL, "f", libxlmig_cpu_vendor_short_name(v),
                             &back),
                         0);
        assert_int_equal(back, v);
        assert_int_equal(strlen(libxlmig_cpu_vendor_string(v)), 12);
    }
    for (i = 0; i < ARRAY_LEN(bad); i++) {
        libxlmig_cpu_vendor v = (libxlmig_cpu_vendor)77;
        const char *msg;

        reset_log();
        assert_int_equal(libxlmig_cpu_vendor_parse(
                             ctx, "CPU vendor of host h2", bad[i].text, &v),
                         LIBXLMIG_ERR_VENDOR_INVALID);
        msg = libxlmig_ctx_last_error(ctx);
        assert_contains(msg, "INVALID_CPU_VENDOR: CPU vendor of host h2: ");
        assert_contains(msg, bad[i].quoted);
        assert_contains(msg, "GenuineIntel");
        assert_printable(msg);
        assert_int_equal((int)v, 77);
        assert_int_equal(libxlmig_cpu_vendor_parse(NULL, NULL, bad[i].text,
                                                   &v),
                         LIBXLMIG_ERR_VENDOR_INVALID);
    }
    assert_string_equal(libxlmig_cpu_vendor_string(LIBXLMIG_CPU_VENDOR_AMD),
                        "AuthenticAMD");
    assert_string_equal(
        libxlmig_cpu_vendor_short_name(LIBXLMIG_CPU_VENDOR_SHANGHAI),
        "shanghai");
    assert_null(libxlmig_cpu_vendor_string(LIBXLMIG_CPU_VENDOR_UNKNOWN));
    assert_null(libxlmig_cpu_vendor_short_name((libxlmig_cpu_vendor)99));
    assert_int_equal(libxlmig_cpu_vendor_parse(NULL, "f", NULL, NULL),
                     LIBXLMIG_ERR_INVALID_ARGUMENT);
}

/* -------------------------------------------------------- CPUID view */

#if defined(__x86_64__) || defined(__i386__)
/*
 * Linux read the same CPUID: its vendor_id must be ours, and each
 * feature it lists under the same name as Xen's (spread over words 0 to
 * 8) must be in our words: a register put in the wrong word shows here.
 * Only that direction: Linux may hide a feature, it does not invent
 * these.
 */
static void check_against_linux(const libxlmig_featureset *fs,
                                const char *vendor)
{
    static const char *const same_name[] = {
        "fpu", "tsc", "cx8", "cmov", "mmx", "fxsr", "sse", "sse2",
        "ssse3", "sse4_1", "sse4_2", "popcnt", "cx16", "movbe", "avx",
        "syscall", "lm", "rdtscp", "lahf_lm", "abm", "sse4a", "xsaveopt",
        "xsavec", "bmi1", "bmi2", "avx2", "adx", "rdseed", "avx512f",
        "avx512bw", "pku", "gfni", "vaes", "clzero", "wbnoinvd",
    };
    FILE *f = fopen("/proc/cpuinfo", "r");
    char line[8192], word[64];
    size_t i, checked = 0;

    if (!f)
        return;                 /* no Linux: nothing to compare */
    while (fgets(line, sizeof(line), f)) {
        if (!strncmp(line, "vendor_id", 9)) {
            assert_contains(line, vendor);
        } else if (!strncmp(line, "flags", 5)) {
            for (i = 0; i < ARRAY_LEN(same_name); i++) {
                unsigned int bit;

                snprintf(word, sizeof(word), " %s ", same_name[i]);
                /* Line ends in "\n": make the last flag findable. */
                line[strcspn(line, "\n")] = ' ';
                if (!strstr(line, word))
                    continue;
                assert_int_equal(libxlmig_feature_from_name(same_name[i],
                                                            &bit), 0);
                if (!libxlmig_featureset_test_bit(fs, bit))
                    fail_msg("Linux lists %s, our CPUID words lack it",
                             same_name[i]);
                checked++;
            }
            break;
        }
    }
    fclose(f);
    assert_true(checked >= 8);
}
#endif

static void test_cpuid_local(void **state)
{
    libxlmig_featureset fs;
    char vendor[LIBXLMIG_CPU_VENDOR_STRING_SIZE];
    libxlmig_cpu_vendor v;
    int rc;

    (void)state;
    assert_contains(LIBXLMIG_CPUID_LOCAL_LABEL, "not Xen's view");
    memset(vendor, 'X', sizeof(vendor));
    rc = libxlmig_cpuid_local(ctx, &fs, vendor);
#if defined(__x86_64__) || defined(__i386__)
    assert_int_equal(rc, 0);
    assert_int_equal(fs.nr_words, 14);
    assert_int_equal(strlen(vendor), 12);
    assert_int_equal(libxlmig_cpu_vendor_parse(ctx, "CPUID leaf 0", vendor,
                                               &v), 0);
    assert_true(libxlmig_featureset_test_bit(&fs, XEN_X86_FEATURE_FPU));
    assert_true(libxlmig_featureset_test_bit(&fs, XEN_X86_FEATURE_LM));
#if defined(__x86_64__)
    assert_true(libxlmig_featureset_test_bit(&fs, XEN_X86_FEATURE_SSE2));
#endif
    check_against_linux(&fs, vendor);
#else
    (void)v;
    assert_int_equal(rc, LIBXLMIG_ERR_UNSUPPORTED);
#endif
    assert_int_equal(libxlmig_cpuid_local(NULL, NULL, vendor),
#if defined(__x86_64__) || defined(__i386__)
                     LIBXLMIG_ERR_INVALID_ARGUMENT
#else
                     LIBXLMIG_ERR_UNSUPPORTED
#endif
    );
}

/* ------------------------------------------------------- levelling */

static void test_pool_level_three_hosts(void **state)
{
    libxlmig_pool_host hosts[3] = {
        { "h1", { LIBXLMIG_CPU_VENDOR_INTEL, fs_names("fpu, lm, avx512f, "
                                                      "pku, sse2") } },
        { "h2", { LIBXLMIG_CPU_VENDOR_INTEL, fs_names("fpu, lm, pku, sse2, "
                                                      "avx2") } },
        { "h3", { LIBXLMIG_CPU_VENDOR_INTEL, fs_names("fpu, lm, sse2, pku, "
                                                      "mcdt_no") } },
    };
    libxlmig_pool_host rev[3] = { hosts[2], hosts[1], hosts[0] };
    libxlmig_cpu_flags level, level2;
    libxlmig_featureset missing;

    (void)state;
    assert_int_equal(libxlmig_pool_level(ctx, hosts, 3, &level), 0);
    assert_int_equal(level.vendor, LIBXLMIG_CPU_VENDOR_INTEL);
    assert_string_equal(names_of(&level.features), "fpu, sse2, lm, pku");
    /* Trimmed: pku is in word 6, nothing after it. */
    assert_int_equal(level.features.nr_words, 7);
    /* Order does not matter. */
    assert_int_equal(libxlmig_pool_level(ctx, rev, 3, &level2), 0);
    assert_true(libxlmig_featureset_equal(&level.features, &level2.features));
    /* One host: its own set, trimmed. */
    hosts[0].cpu.features = fs_parse("1-0-0");
    assert_int_equal(libxlmig_pool_level(ctx, hosts, 1, &level2), 0);
    assert_string_equal(format_of(&level2.features), "00000001");
    /* Every host's set covers the level. */
    assert_int_equal(libxlmig_featureset_difference(
                         &level.features, &hosts[1].cpu.features, &missing),
                     0);
    assert_true(libxlmig_featureset_is_empty(&missing));

    assert_int_equal(libxlmig_pool_level(ctx, hosts, 0, &level2),
                     LIBXLMIG_ERR_INVALID_ARGUMENT);
    assert_int_equal(libxlmig_pool_level(NULL, NULL, 3, &level2),
                     LIBXLMIG_ERR_INVALID_ARGUMENT);
    hosts[1].cpu.vendor = LIBXLMIG_CPU_VENDOR_UNKNOWN;
    reset_log();
    assert_int_equal(libxlmig_pool_level(ctx, hosts, 3, &level2),
                     LIBXLMIG_ERR_INVALID_ARGUMENT);
    assert_contains(libxlmig_ctx_last_error(ctx), "host h2 has no known");
}

static void test_pool_vendor_mismatch(void **state)
{
    libxlmig_pool_host hosts[3] = {
        { "h1", { LIBXLMIG_CPU_VENDOR_INTEL, fs_names("fpu") } },
        { "h2", { LIBXLMIG_CPU_VENDOR_INTEL, fs_names("fpu") } },
        { "h3", { LIBXLMIG_CPU_VENDOR_AMD, fs_names("fpu") } },
    };
    libxlmig_cpu_flags level;

    (void)state;
    memset(&level, 0x5a, sizeof(level));
    reset_log();
    assert_int_equal(libxlmig_pool_level(ctx, hosts, 3, &level),
                     LIBXLMIG_ERR_HOSTS_NOT_HOMOGENEOUS);
    assert_contains(libxlmig_ctx_last_error(ctx),
                    "HOSTS_NOT_HOMOGENEOUS: CPU vendors differ: host h1 has "
                    "GenuineIntel, host h3 has AuthenticAMD");
    assert_int_equal(cap.count, 1);
    assert_int_equal(level.features.nr_words, 0x5a5a5a5a);
    /* Hosts without names are shown by their place in the array. */
    hosts[0].name = NULL;
    hosts[2].name = NULL;
    reset_log();
    assert_int_equal(libxlmig_pool_level(ctx, hosts, 3, &level),
                     LIBXLMIG_ERR_HOSTS_NOT_HOMOGENEOUS);
    assert_contains(libxlmig_ctx_last_error(ctx),
                    "host #0 has GenuineIntel, host #2 has AuthenticAMD");
    assert_string_equal(libxlmig_strerror_name(
                            LIBXLMIG_ERR_HOSTS_NOT_HOMOGENEOUS),
                        "HOSTS_NOT_HOMOGENEOUS");
}

static void test_pool_join(void **state)
{
    libxlmig_cpu_flags level = {
        LIBXLMIG_CPU_VENDOR_AMD, fs_names("fpu, lm, avx512f, pku")
    };
    libxlmig_pool_host weaker = {
        "h4", { LIBXLMIG_CPU_VENDOR_AMD, fs_names("fpu, lm, sse2") }
    };
    libxlmig_pool_host stronger = {
        "h5", { LIBXLMIG_CPU_VENDOR_AMD,
                fs_names("fpu, lm, avx512f, pku, avx2") }
    };
    libxlmig_pool_host intel = {
        "h6", { LIBXLMIG_CPU_VENDOR_INTEL, fs_names("fpu") }
    };
    libxlmig_featureset missing;

    (void)state;
    assert_int_equal(libxlmig_pool_join_check(ctx, "p1", &level, &weaker,
                                              &missing), 0);
    assert_string_equal(names_of(&missing), "avx512f, pku");
    assert_int_equal(libxlmig_pool_join_check(ctx, "p1", &level, &stronger,
                                              &missing), 0);
    assert_true(libxlmig_featureset_is_empty(&missing));
    assert_int_equal(missing.nr_words, 0);
    assert_int_equal(libxlmig_pool_join_check(ctx, "p1", &level, &weaker,
                                              NULL), 0);
    reset_log();
    assert_int_equal(libxlmig_pool_join_check(ctx, "p1", &level, &intel,
                                              &missing),
                     LIBXLMIG_ERR_HOSTS_NOT_HOMOGENEOUS);
    assert_contains(libxlmig_ctx_last_error(ctx),
                    "host h6 cannot join pool p1: host h6 has CPU vendor "
                    "GenuineIntel, the hosts of pool p1 have AuthenticAMD");
    assert_int_equal(libxlmig_pool_join_check(ctx, "p1", NULL, &intel, NULL),
                     LIBXLMIG_ERR_INVALID_ARGUMENT);
}

/* ---------------------------------------------------------- VM check */

static void test_vm_check(void **state)
{
    static const struct {
        libxlmig_cpu_vendor vm_vendor;
        const char *vm;
        libxlmig_guest_type type;
        libxlmig_cpu_vendor host_vendor;
        const char *pv_max, *hvm_max;
        int rc;
        const char *message;
        const char *missing;
    } cases[] = {
        /* Everything there. */
        { LIBXLMIG_CPU_VENDOR_INTEL, "fpu, avx512f, pku", LIBXLMIG_GUEST_HVM,
          LIBXLMIG_CPU_VENDOR_INTEL, "fpu", "fpu, lm, avx512f, pku", 0, NULL,
          "" },
        /* HVM max lacks two. */
        { LIBXLMIG_CPU_VENDOR_INTEL, "fpu, avx512f, pku", LIBXLMIG_GUEST_HVM,
          LIBXLMIG_CPU_VENDOR_INTEL, "fpu, avx512f, pku", "fpu",
          LIBXLMIG_ERR_VM_INCOMPATIBLE_WITH_THIS_HOST,
          "VM_INCOMPATIBLE_WITH_THIS_HOST: VM web1 cannot run on host h2: "
          "avx512f, pku missing on host h2 (HVM max featureset)",
          "avx512f, pku" },
        /* A PV guest is held to the PV max featureset. */
        { LIBXLMIG_CPU_VENDOR_INTEL, "fpu, pku", LIBXLMIG_GUEST_PV,
          LIBXLMIG_CPU_VENDOR_INTEL, "fpu", "fpu, pku",
          LIBXLMIG_ERR_VM_INCOMPATIBLE_WITH_THIS_HOST,
          "VM web1 cannot run on host h2: pku missing on host h2 (PV max "
          "featureset)", "pku" },
        { LIBXLMIG_CPU_VENDOR_INTEL, "fpu, pku", LIBXLMIG_GUEST_HVM,
          LIBXLMIG_CPU_VENDOR_INTEL, "fpu", "fpu, pku", 0, NULL, "" },
        /* Another vendor, even with every feature. */
        { LIBXLMIG_CPU_VENDOR_INTEL, "fpu", LIBXLMIG_GUEST_HVM,
          LIBXLMIG_CPU_VENDOR_AMD, "fpu", "fpu",
          LIBXLMIG_ERR_VM_INCOMPATIBLE_WITH_THIS_HOST,
          "VM web1 cannot run on host h2: host h2 has CPU vendor "
          "AuthenticAMD, VM booted on GenuineIntel", "" },
        /* Vendor and features: the vendor is named, missing still set. */
        { LIBXLMIG_CPU_VENDOR_AMD, "fpu, lm", LIBXLMIG_GUEST_HVM,
          LIBXLMIG_CPU_VENDOR_HYGON, "", "fpu",
          LIBXLMIG_ERR_VM_INCOMPATIBLE_WITH_THIS_HOST,
          "host h2 has CPU vendor HygonGenuine, VM booted on AuthenticAMD",
          "lm" },
        /* A VM that booted with no features fits anywhere. */
        { LIBXLMIG_CPU_VENDOR_AMD, "", LIBXLMIG_GUEST_PV,
          LIBXLMIG_CPU_VENDOR_AMD, "", "", 0, NULL, "" },
        /* An empty destination set is no features, not "no limit". */
        { LIBXLMIG_CPU_VENDOR_AMD, "fpu", LIBXLMIG_GUEST_HVM,
          LIBXLMIG_CPU_VENDOR_AMD, "fpu", "",
          LIBXLMIG_ERR_VM_INCOMPATIBLE_WITH_THIS_HOST,
          "fpu missing on host h2 (HVM max featureset)", "fpu" },
        /* Unnamed bits are named by number. */
        { LIBXLMIG_CPU_VENDOR_AMD, "fpu, word0-bit10", LIBXLMIG_GUEST_HVM,
          LIBXLMIG_CPU_VENDOR_AMD, "", "fpu",
          LIBXLMIG_ERR_VM_INCOMPATIBLE_WITH_THIS_HOST,
          "word0-bit10 missing on host h2", "word0-bit10" },
    };
    size_t i;

    (void)state;
    for (i = 0; i < ARRAY_LEN(cases); i++) {
        libxlmig_cpu_flags vm = { cases[i].vm_vendor, fs_names(cases[i].vm) };
        libxlmig_cpu_host dest = { "h2", cases[i].host_vendor,
                                   fs_names(cases[i].pv_max),
                                   fs_names(cases[i].hvm_max) };
        libxlmig_featureset missing;

        memset(&missing, 0x5a, sizeof(missing));
        reset_log();
        assert_int_equal(libxlmig_vm_cpu_check(ctx, "web1", &vm,
                                               cases[i].type, &dest,
                                               &missing),
                         cases[i].rc);
        if (cases[i].message) {
            assert_contains(libxlmig_ctx_last_error(ctx), cases[i].message);
            assert_int_equal(cap.count, 1);
        } else {
            assert_int_equal(cap.count, 0);
        }
        assert_string_equal(names_of(&missing), cases[i].missing);
        /* Without a context or a place for the missing set. */
        assert_int_equal(libxlmig_vm_cpu_check(NULL, "web1", &vm,
                                               cases[i].type, &dest, NULL),
                         cases[i].rc);
    }
}

static void test_vm_check_limits(void **state)
{
    libxlmig_cpu_flags vm = { LIBXLMIG_CPU_VENDOR_INTEL, fs_parse("") };
    libxlmig_cpu_host dest = { NULL, LIBXLMIG_CPU_VENDOR_INTEL, fs_parse(""),
                               fs_parse("") };
    unsigned int i;
    const char *msg;

    (void)state;
    /* Every feature of 32 words missing: the message ends in "...". */
    for (i = 0; i < LIBXLMIG_FEATURESET_MAX_WORDS * 32; i++)
        libxlmig_featureset_set_bit(&vm.features, i);
    reset_log();
    assert_int_equal(libxlmig_vm_cpu_check(ctx, NULL, &vm, LIBXLMIG_GUEST_HVM,
                                           &dest, NULL),
                     LIBXLMIG_ERR_VM_INCOMPATIBLE_WITH_THIS_HOST);
    msg = libxlmig_ctx_last_error(ctx);
    assert_contains(msg, "VM (unnamed) cannot run on host (unnamed): fpu, "
                         "vme, ");
    assert_contains(msg, ", ... missing on host (unnamed) (HVM max "
                         "featureset)");
    assert_true(strlen(msg) < 1000);

    vm.vendor = LIBXLMIG_CPU_VENDOR_UNKNOWN;
    reset_log();
    assert_int_equal(libxlmig_vm_cpu_check(ctx, "web1", &vm,
                                           LIBXLMIG_GUEST_HVM, &dest, NULL),
                     LIBXLMIG_ERR_INVALID_ARGUMENT);
    assert_contains(libxlmig_ctx_last_error(ctx),
                    "VM web1 has no recorded CPU vendor");
    vm.vendor = LIBXLMIG_CPU_VENDOR_INTEL;
    assert_int_equal(libxlmig_vm_cpu_check(ctx, "web1", &vm,
                                           (libxlmig_guest_type)7, &dest,
                                           NULL),
                     LIBXLMIG_ERR_INVALID_ARGUMENT);
    assert_int_equal(libxlmig_vm_cpu_check(ctx, "web1", NULL,
                                           LIBXLMIG_GUEST_PV, &dest, NULL),
                     LIBXLMIG_ERR_INVALID_ARGUMENT);
    dest.vendor = (libxlmig_cpu_vendor)42;
    assert_int_equal(libxlmig_vm_cpu_check(ctx, "web1", &vm,
                                           LIBXLMIG_GUEST_PV, &dest, NULL),
                     LIBXLMIG_ERR_INVALID_ARGUMENT);
}

static void test_cpu_host_from_info(void **state)
{
    libxlmig_host_info info;
    libxlmig_cpu_host h;
    libxlmig_cpu_flags vm = { LIBXLMIG_CPU_VENDOR_AMD,
                              fs_names("fpu, avx512f") };

    (void)state;
    memset(&info, 0, sizeof(info));
    strcpy(info.cpu_vendor, "AuthenticAMD");
    info.featureset_pv_max = fs_names("fpu");
    info.featureset_hvm_max = fs_names("fpu, avx512f");
    info.featureset_host = fs_names("fpu, avx512f, pku");
    assert_int_equal(libxlmig_cpu_host_from_info(ctx, &info, "h2", &h), 0);
    assert_string_equal(h.name, "h2");
    assert_int_equal(h.vendor, LIBXLMIG_CPU_VENDOR_AMD);
    assert_true(libxlmig_featureset_equal(&h.pv_max, &info.featureset_pv_max));
    assert_true(libxlmig_featureset_equal(&h.hvm_max,
                                          &info.featureset_hvm_max));
    assert_int_equal(libxlmig_vm_cpu_check(ctx, "web1", &vm,
                                           LIBXLMIG_GUEST_HVM, &h, NULL), 0);
    reset_log();
    assert_int_equal(libxlmig_vm_cpu_check(ctx, "web1", &vm,
                                           LIBXLMIG_GUEST_PV, &h, NULL),
                     LIBXLMIG_ERR_VM_INCOMPATIBLE_WITH_THIS_HOST);
    assert_contains(libxlmig_ctx_last_error(ctx),
                    "avx512f missing on host h2 (PV max featureset)");

    /* xen.c leaves "" when Xen's policy has no leaf 0. */
    info.cpu_vendor[0] = '\0';
    reset_log();
    assert_int_equal(libxlmig_cpu_host_from_info(ctx, &info, "h2", &h),
                     LIBXLMIG_ERR_VENDOR_INVALID);
    assert_contains(libxlmig_ctx_last_error(ctx),
                    "INVALID_CPU_VENDOR: CPU vendor of host h2: \"\"");
    assert_int_equal(libxlmig_cpu_host_from_info(ctx, NULL, "h2", &h),
                     LIBXLMIG_ERR_INVALID_ARGUMENT);
}

/*
 * Real featuresets, read by xc_get_cpu_featureset() in the nested Xen
 * 4.17.7 hosts of `make check-xen` (QEMU TCG, -cpu qemu64,+svm,+npt for
 * host 1; host 2 also -lahf_lm), and the HVM default a PVH guest boots
 * with on host 1.
 */
#define NESTED_TAIL "-00000000-00000000-00000000-00000000-00000000-00000000-" \
    "00000000"
static const char nested_h1_hvm_max[] =
    "178bfbfd-80202001-20100800-00000007-00000000-00000000-00000000-"
    "00000000-00100000-00000000-00000000-00000024" NESTED_TAIL;
static const char nested_h2_hvm_max[] =
    "178bfbfd-80202001-20100800-00000006-00000000-00000000-00000000-"
    "00000000-00100000-00000000-00000000-00000024" NESTED_TAIL;
static const char nested_h1_hvm_default[] =
    "178bfbfd-80202001-20100800-00000003-00000000-00000000-00000000-"
    "00000000-00100000-00000000-00000000-00000004" NESTED_TAIL;

static void test_nested_xen_hosts(void **state)
{
    libxlmig_featureset h1, h2, vm, diff, lv;
    libxlmig_pool_host hosts[2];
    libxlmig_cpu_flags level, vmf;
    libxlmig_cpu_host dest;
    char names[256], back[LIBXLMIG_FEATURESET_STRING_MAX];

    (void)state;
    assert_int_equal(libxlmig_featureset_parse(NULL, NULL, nested_h1_hvm_max,
                                               &h1), 0);
    assert_int_equal(libxlmig_featureset_parse(NULL, NULL, nested_h2_hvm_max,
                                               &h2), 0);
    assert_int_equal(libxlmig_featureset_parse(NULL, NULL,
                                               nested_h1_hvm_default, &vm),
                     0);
    assert_int_equal(h1.nr_words, 19);
    assert_int_equal(libxlmig_featureset_format(&h2, back, sizeof(back)), 0);
    assert_string_equal(back, nested_h2_hvm_max);
    /* Host 2 is host 1 without lahf_lm. */
    assert_true(libxlmig_featureset_is_subset(&h2, &h1));
    assert_false(libxlmig_featureset_is_subset(&h1, &h2));
    assert_int_equal(libxlmig_featureset_difference(&h1, &h2, &diff), 0);
    assert_int_equal(libxlmig_featureset_names(&diff, names, sizeof(names),
                                               NULL), 0);
    assert_string_equal(names, "lahf_lm");
    /* Both run as hypervisor-visible x86-64 guests: lm, hypervisor, svm. */
    assert_true(libxlmig_featureset_test_bit(&h1, 2 * 32 + 29));  /* lm */
    assert_true(libxlmig_featureset_test_bit(&h1, 1 * 32 + 31));
    /* Their level is host 2's set. */
    hosts[0] = (libxlmig_pool_host){ "h1", { LIBXLMIG_CPU_VENDOR_AMD, h1 } };
    hosts[1] = (libxlmig_pool_host){ "h2", { LIBXLMIG_CPU_VENDOR_AMD, h2 } };
    assert_int_equal(libxlmig_pool_level(NULL, hosts, 2, &level), 0);
    lv = h2;
    assert_true(libxlmig_featureset_equal(&level.features, &lv));
    /* A guest booted with host 1's HVM default has lahf_lm: not to h2. */
    vmf = (libxlmig_cpu_flags){ LIBXLMIG_CPU_VENDOR_AMD, vm };
    memset(&dest, 0, sizeof(dest));
    dest.name = "h1";
    dest.vendor = LIBXLMIG_CPU_VENDOR_AMD;
    dest.hvm_max = h1;
    assert_int_equal(libxlmig_vm_cpu_check(NULL, "pvh1", &vmf,
                                           LIBXLMIG_GUEST_HVM, &dest, NULL),
                     0);
    dest.name = "h2";
    dest.hvm_max = h2;
    assert_int_equal(libxlmig_vm_cpu_check(NULL, "pvh1", &vmf,
                                           LIBXLMIG_GUEST_HVM, &dest, &diff),
                     LIBXLMIG_ERR_VM_INCOMPATIBLE_WITH_THIS_HOST);
    assert_int_equal(libxlmig_featureset_names(&diff, names, sizeof(names),
                                               NULL), 0);
    assert_string_equal(names, "lahf_lm");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_xapi_parse_cases),
        cmocka_unit_test(test_parse_malformed),
        cmocka_unit_test(test_parse_arguments),
        cmocka_unit_test(test_xapi_subset_cases),
        cmocka_unit_test(test_set_operations),
        cmocka_unit_test(test_bits),
        cmocka_unit_test(test_known_names),
        cmocka_unit_test(test_every_header_feature),
        cmocka_unit_test(test_unnamed_bits),
        cmocka_unit_test(test_names_list),
        cmocka_unit_test(test_parse_names),
        cmocka_unit_test(test_word_sources),
        cmocka_unit_test(test_vendor_parse),
        cmocka_unit_test(test_cpuid_local),
        cmocka_unit_test(test_pool_level_three_hosts),
        cmocka_unit_test(test_pool_vendor_mismatch),
        cmocka_unit_test(test_pool_join),
        cmocka_unit_test(test_vm_check),
        cmocka_unit_test(test_vm_check_limits),
        cmocka_unit_test(test_cpu_host_from_info),
        cmocka_unit_test(test_nested_xen_hosts),
    };

    return cmocka_run_group_tests_name("featureset", tests, group_setup,
                                       group_teardown);
}

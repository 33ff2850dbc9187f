/* SPDX-License-Identifier: LGPL-2.1-only */
/* The table of stable error names. */
#include <stdlib.h>

#include "internal.h"
#include "testutil.h"

static void test_every_code_has_a_unique_name(void **state)
{
    size_t i, j, n = xlmig__error_count();

    (void)state;
    /* Codes run from 0 down to LIBXLMIG_ERR_LAST with no hole. */
    assert_int_equal(n, (size_t)(1 - LIBXLMIG_ERR_LAST));
    for (i = 0; i < n; i++) {
        int code = xlmig__error_code_at(i);
        const char *name = libxlmig_strerror_name(code);

        assert_int_equal(code, -(int)i);
        assert_string_not_equal(name, "UNKNOWN_ERROR");
        assert_true(strlen(libxlmig_strerror(code)) > 0);
        for (j = 0; name[j]; j++)
            assert_true((name[j] >= 'A' && name[j] <= 'Z') || name[j] == '_');
        for (j = i + 1; j < n; j++) {
            assert_string_not_equal(
                name, libxlmig_strerror_name(xlmig__error_code_at(j)));
        }
    }
}

static void test_name_round_trip(void **state)
{
    size_t i;

    (void)state;
    for (i = 0; i < xlmig__error_count(); i++) {
        int code = xlmig__error_code_at(i), back = 12345;

        assert_int_equal(
            libxlmig_error_from_name(libxlmig_strerror_name(code), &back), 0);
        assert_int_equal(back, code);
    }
}

static void test_xapi_names_kept(void **state)
{
    static const struct {
        int code;
        const char *name;
    } cases[] = {
        { LIBXLMIG_ERR_VDI_CBT_ENABLED, "VDI_CBT_ENABLED" },
        { LIBXLMIG_ERR_VM_INCOMPATIBLE_WITH_THIS_HOST,
          "VM_INCOMPATIBLE_WITH_THIS_HOST" },
        { LIBXLMIG_ERR_SR_SOURCE_SPACE_INSUFFICIENT,
          "SR_SOURCE_SPACE_INSUFFICIENT" },
        { LIBXLMIG_ERR_HOST_NOT_ENOUGH_FREE_MEMORY,
          "HOST_NOT_ENOUGH_FREE_MEMORY" },
        { LIBXLMIG_ERR_MIRROR_FAILED, "MIRROR_FAILED" },
        { LIBXLMIG_ERR_TOO_MANY_MIGRATIONS, "TOO_MANY_MIGRATIONS" },
        { LIBXLMIG_ERR_NO_HYPERVISOR, "XEN_NOT_AVAILABLE" },
        { LIBXLMIG_ERR_WLB_TIMEOUT, "WLB_TIMEOUT" },
        { LIBXLMIG_ERR_WLB_MALFORMED_RESPONSE, "WLB_MALFORMED_RESPONSE" },
        { LIBXLMIG_ERR_WLB_INTERNAL_ERROR, "WLB_INTERNAL_ERROR" },
        { LIBXLMIG_ERR_NO_HOSTS_AVAILABLE, "NO_HOSTS_AVAILABLE" },
        { LIBXLMIG_ERR_NOT_SUPPORTED_DURING_UPGRADE,
          "NOT_SUPPORTED_DURING_UPGRADE" },
        { LIBXLMIG_ERR_UPDATE_APPLY_FAILED, "UPDATE_APPLY_FAILED" },
    };
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        assert_string_equal(libxlmig_strerror_name(cases[i].code),
                            cases[i].name);
}

static void test_unknown(void **state)
{
    int rc = 7;

    (void)state;
    assert_string_equal(libxlmig_strerror_name(LIBXLMIG_ERR_LAST - 1),
                        "UNKNOWN_ERROR");
    assert_string_equal(libxlmig_strerror_name(1), "UNKNOWN_ERROR");
    assert_string_equal(libxlmig_strerror(1000), "unknown error code");
    assert_int_equal(libxlmig_error_from_name("NO_SUCH_ERROR", &rc),
                     LIBXLMIG_ERR_INVALID_ARGUMENT);
    assert_int_equal(rc, 7);
    assert_int_equal(libxlmig_error_from_name("vdi_cbt_enabled", &rc),
                     LIBXLMIG_ERR_INVALID_ARGUMENT);
    assert_int_equal(libxlmig_error_from_name(NULL, &rc),
                     LIBXLMIG_ERR_INVALID_ARGUMENT);
}

/* docs/errors.md must document every name, as `NAME` in a table row. */
static void test_documented(void **state)
{
    const char *src = getenv("XLMIG_SRCDIR");
    char path[4096], *doc;
    FILE *f;
    long len;
    size_t i;

    (void)state;
    snprintf(path, sizeof(path), "%s/docs/errors.md", src ? src : ".");
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
    for (i = 0; i < xlmig__error_count(); i++) {
        char needle[128];

        snprintf(needle, sizeof(needle), "| `%s` |",
                 libxlmig_strerror_name(xlmig__error_code_at(i)));
        assert_contains(doc, needle);
    }
    free(doc);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_code_has_a_unique_name),
        cmocka_unit_test(test_name_round_trip),
        cmocka_unit_test(test_xapi_names_kept),
        cmocka_unit_test(test_unknown),
        cmocka_unit_test(test_documented),
    };

    return cmocka_run_group_tests_name("errors", tests, NULL, NULL);
}

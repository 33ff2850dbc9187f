/* SPDX-License-Identifier: LGPL-2.1-only */
/*
 * Host facts without a hypervisor: the real libxl and libxc are linked;
 * the error paths are exercised for real on this machine.  The success
 * path runs in the nested Xen host (make check-xen).
 */
#include <stdlib.h>
#include <unistd.h>

#include "internal.h"
#include "testutil.h"

struct fixture {
    struct capture_logger cap;
    libxlmig_ctx *ctx;
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));

    if (!f)
        return -1;
    capture_init(&f->cap);
    if (libxlmig_ctx_new(&f->cap.vtable, LIBXLMIG_LOG_DEBUG, &f->ctx))
        return -1;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;

    libxlmig_ctx_free(f->ctx);
    free(f);
    return 0;
}

static void test_no_privcmd_says_no_hypervisor(void **state)
{
    struct fixture *f = *state;
    libxlmig_host_info info;

    memset(&info, 0x5a, sizeof(info));
    xlmig__ctx_set_privcmd_path(f->ctx, "/nonexistent/xen/privcmd");
    assert_int_equal(libxlmig_host_info_get(f->ctx, &info),
                     LIBXLMIG_ERR_NO_HYPERVISOR);
    assert_contains(libxlmig_ctx_last_error(f->ctx), "XEN_NOT_AVAILABLE");
    assert_contains(libxlmig_ctx_last_error(f->ctx),
                    "Xen hypervisor is not available");
    assert_contains(libxlmig_ctx_last_error(f->ctx),
                    "/nonexistent/xen/privcmd");
    assert_int_equal(f->cap.count, 1);          /* logged once */
    /* Nothing written half-way. */
    assert_int_equal(info.xen_major, 0x5a5a5a5a);
}

/*
 * A privcmd that opens but is not Xen's: libxl itself must fail, and we
 * report it as a failed Xen call, once, without crashing or leaking.
 */
static void test_libxl_failure_reported(void **state)
{
    struct fixture *f = *state;
    libxlmig_host_info info;
    int rc;

    if (access("/dev/xen/privcmd", F_OK) == 0)
        fail_msg("this test expects a machine without Xen");
    xlmig__ctx_set_privcmd_path(f->ctx, "/dev/null");
    rc = libxlmig_host_info_get(f->ctx, &info);
    assert_int_equal(rc, LIBXLMIG_ERR_XEN_CALL_FAILED);
    assert_contains(libxlmig_ctx_last_error(f->ctx), "XEN_CALL_FAILED");
    assert_contains(libxlmig_ctx_last_error(f->ctx), "libxl");
}

static void test_default_path_on_this_machine(void **state)
{
    struct fixture *f = *state;
    libxlmig_host_info info;
    int rc = libxlmig_host_info_get(f->ctx, &info);

    if (access("/dev/xen/privcmd", F_OK) == 0)
        fail_msg("this test expects a machine without Xen");
    assert_int_equal(rc, LIBXLMIG_ERR_NO_HYPERVISOR);
    assert_contains(libxlmig_ctx_last_error(f->ctx), "/dev/xen/privcmd");
}

static void test_bad_arguments(void **state)
{
    struct fixture *f = *state;
    libxlmig_host_info info;

    assert_int_equal(libxlmig_host_info_get(NULL, &info),
                     LIBXLMIG_ERR_INVALID_ARGUMENT);
    assert_int_equal(libxlmig_host_info_get(f->ctx, NULL),
                     LIBXLMIG_ERR_INVALID_ARGUMENT);
}

static void test_featureset_format(void **state)
{
    static const struct {
        unsigned int nr;
        uint32_t w[3];
        const char *want;
    } cases[] = {
        { 0, { 0 }, "" },
        { 1, { 0x07cbfbff }, "07cbfbff" },
        { 3, { 0, 2, 123 }, "00000000-00000002-0000007b" },
        { 2, { 0xffffffff, 0x1 }, "ffffffff-00000001" },
    };
    libxlmig_featureset fs;
    char buf[64];
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        memset(&fs, 0, sizeof(fs));
        fs.nr_words = cases[i].nr;
        memcpy(fs.words, cases[i].w, sizeof(cases[i].w));
        assert_int_equal(libxlmig_featureset_format(&fs, buf, sizeof(buf)),
                         0);
        assert_string_equal(buf, cases[i].want);
    }
}

static void test_featureset_format_limits(void **state)
{
    libxlmig_featureset fs;
    char buf[9 * LIBXLMIG_FEATURESET_MAX_WORDS];
    unsigned int i;

    (void)state;
    memset(&fs, 0, sizeof(fs));
    fs.nr_words = 14;
    for (i = 0; i < 14; i++)
        fs.words[i] = i;
    /* 14 words need 14 * 9 bytes: one fewer is refused, leaving "". */
    assert_int_equal(libxlmig_featureset_format(&fs, buf, 14 * 9 - 1),
                     LIBXLMIG_ERR_INVALID_ARGUMENT);
    assert_string_equal(buf, "");
    assert_int_equal(libxlmig_featureset_format(&fs, buf, 14 * 9), 0);
    assert_int_equal(strlen(buf), 14 * 9 - 1);

    fs.nr_words = LIBXLMIG_FEATURESET_MAX_WORDS + 1;
    assert_int_equal(libxlmig_featureset_format(&fs, buf, sizeof(buf)),
                     LIBXLMIG_ERR_INVALID_ARGUMENT);
    assert_int_equal(libxlmig_featureset_format(NULL, buf, sizeof(buf)),
                     LIBXLMIG_ERR_INVALID_ARGUMENT);
    assert_int_equal(libxlmig_featureset_format(&fs, NULL, 10),
                     LIBXLMIG_ERR_INVALID_ARGUMENT);
}

static void test_fields(void **state)
{
    libxlmig_host_info info;
    struct xlmig__kv kv[XLMIG__HOST_INFO_FIELDS];
    size_t n;

    (void)state;
    memset(&info, 0, sizeof(info));
    info.xen_major = 4;
    info.xen_minor = 17;
    strcpy(info.xen_version, "4.17.7");
    strcpy(info.cpu_vendor, "AuthenticAMD");
    info.nr_cpus = 2;
    info.free_memory_kib = 1024;
    info.cap_hap = true;
    info.featureset_host.nr_words = 2;
    info.featureset_host.words[0] = 0xabc;
    n = xlmig__host_info_fields(&info, kv);
    assert_int_equal(n, XLMIG__HOST_INFO_FIELDS);
    assert_string_equal(kv[0].key, "xen-version");
    assert_string_equal(kv[0].value, "4.17.7");
    assert_string_equal(kv[4].value, "AuthenticAMD");
    assert_string_equal(kv[5].value, "2");
    assert_string_equal(kv[8].value, "1024");
    assert_string_equal(kv[11].key, "cap-hap");
    assert_string_equal(kv[11].value, "true");
    assert_string_equal(kv[13].key, "featureset-host");
    assert_string_equal(kv[13].value, "00000abc-00000000");
    assert_string_equal(kv[14].value, "");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_no_privcmd_says_no_hypervisor,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_libxl_failure_reported, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_default_path_on_this_machine,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_arguments, setup, teardown),
        cmocka_unit_test(test_featureset_format),
        cmocka_unit_test(test_featureset_format_limits),
        cmocka_unit_test(test_fields),
    };

    return cmocka_run_group_tests_name("host", tests, NULL, NULL);
}

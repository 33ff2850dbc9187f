/* SPDX-License-Identifier: LGPL-2.1-only */
/* The context: logging through xentoollog and the last error. */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>

#include "internal.h"
#include "testutil.h"

static void test_new_rejects_bad_levels(void **state)
{
    libxlmig_ctx *ctx = (libxlmig_ctx *)0x1;

    (void)state;
    assert_int_equal(libxlmig_ctx_new(NULL, 0, &ctx),
                     LIBXLMIG_ERR_INVALID_ARGUMENT);
    assert_int_equal(libxlmig_ctx_new(NULL, 10, &ctx),
                     LIBXLMIG_ERR_INVALID_ARGUMENT);
    assert_ptr_equal(ctx, (libxlmig_ctx *)0x1);     /* untouched */
    assert_int_equal(libxlmig_ctx_new(NULL, LIBXLMIG_LOG_ERROR, NULL),
                     LIBXLMIG_ERR_INVALID_ARGUMENT);
    libxlmig_ctx_free(NULL);                         /* NULL-safe */
}

static void test_own_logger(void **state)
{
    libxlmig_ctx *ctx = NULL;

    (void)state;
    assert_int_equal(libxlmig_ctx_new(NULL, LIBXLMIG_LOG_CRITICAL, &ctx), 0);
    assert_non_null(ctx);
    assert_non_null(libxlmig_ctx_logger(ctx));
    assert_string_equal(libxlmig_ctx_last_error(ctx), "");
    libxlmig_ctx_free(ctx);
}

static void test_error_logged_once_with_name(void **state)
{
    struct capture_logger cap;
    libxlmig_ctx *ctx = NULL;
    int rc;

    (void)state;
    capture_init(&cap);
    assert_int_equal(libxlmig_ctx_new(&cap.vtable, LIBXLMIG_LOG_DEBUG, &ctx),
                     0);
    assert_ptr_equal(libxlmig_ctx_logger(ctx), &cap.vtable);

    rc = xlmig__error(ctx, LIBXLMIG_ERR_VDI_CBT_ENABLED, -1,
                      "VDI %s has CBT enabled", "1234");
    assert_int_equal(rc, LIBXLMIG_ERR_VDI_CBT_ENABLED);
    assert_int_equal(cap.count, 1);
    assert_int_equal(cap.last_level, XTL_ERROR);
    assert_string_equal(libxlmig_ctx_last_error(ctx),
                        "VDI_CBT_ENABLED: VDI 1234 has CBT enabled");
    assert_contains(cap.text, "VDI_CBT_ENABLED: VDI 1234 has CBT enabled");

    rc = xlmig__error(ctx, LIBXLMIG_ERR_IO, ENOSPC, "writing %s", "x");
    assert_int_equal(rc, LIBXLMIG_ERR_IO);
    assert_string_equal(libxlmig_ctx_last_error(ctx),
                        "IO_ERROR: writing x: No space left on device");
    assert_int_equal(cap.count, 2);

    xlmig__log(ctx, XTL_INFO, -1, "plain %d", 42);
    assert_int_equal(cap.count, 3);
    assert_int_equal(cap.last_level, XTL_INFO);
    assert_contains(cap.text, "plain 42");
    libxlmig_ctx_free(ctx);
}

static void test_long_error_truncated_safely(void **state)
{
    struct capture_logger cap;
    libxlmig_ctx *ctx = NULL;
    char big[5000];

    (void)state;
    memset(big, 'a', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    capture_init(&cap);
    assert_int_equal(libxlmig_ctx_new(&cap.vtable, LIBXLMIG_LOG_DEBUG, &ctx),
                     0);
    xlmig__error(ctx, LIBXLMIG_ERR_PROTOCOL, EIO, "%s", big);
    assert_int_equal(strlen(libxlmig_ctx_last_error(ctx)),
                     sizeof(ctx->last_error) - 1);
    assert_int_equal(strncmp(libxlmig_ctx_last_error(ctx),
                             "PROTOCOL_ERROR: aaa", 19), 0);
    libxlmig_ctx_free(ctx);
}

struct holder {
    libxlmig_ctx *ctx;
    struct xlmig__held_error h;
};

/* A helper thread that holds its errors, meets two, and ends. */
static void *holder_main(void *arg)
{
    struct holder *t = arg;

    xlmig__error_hold(&t->h);
    xlmig__error(t->ctx, LIBXLMIG_ERR_PROTOCOL, -1, "frame %d: bad", 3);
    xlmig__error(t->ctx, LIBXLMIG_ERR_IO, EPIPE, "a later one");
    xlmig__error_unhold();
    return NULL;
}

/*
 * A thread holding its errors logs nothing and leaves the last error
 * alone; its first is kept, and reported once when replayed.  Other
 * threads, and the same thread after unhold, report as usual.
 */
static void test_held_error(void **state)
{
    struct capture_logger cap;
    struct holder t;
    pthread_t th;

    (void)state;
    capture_init(&cap);
    memset(&t, 0, sizeof(t));
    assert_int_equal(libxlmig_ctx_new(&cap.vtable, LIBXLMIG_LOG_DEBUG,
                                      &t.ctx), 0);
    assert_int_equal(pthread_create(&th, NULL, holder_main, &t), 0);
    assert_int_equal(pthread_join(th, NULL), 0);
    assert_int_equal(cap.count, 0);
    assert_string_equal(libxlmig_ctx_last_error(t.ctx), "");
    assert_int_equal(t.h.rc, LIBXLMIG_ERR_PROTOCOL);
    assert_string_equal(t.h.msg, "frame 3: bad");

    assert_int_equal(xlmig__error_replay(t.ctx, &t.h),
                     LIBXLMIG_ERR_PROTOCOL);
    assert_int_equal(cap.count, 1);
    assert_string_equal(libxlmig_ctx_last_error(t.ctx),
                        "PROTOCOL_ERROR: frame 3: bad");

    /* errno's text is kept with the message. */
    xlmig__error_hold(&t.h);
    xlmig__error(t.ctx, LIBXLMIG_ERR_IO, EPIPE, "handing on");
    xlmig__error_unhold();
    assert_int_equal(cap.count, 1);
    assert_string_equal(t.h.msg, "handing on: Broken pipe");
    xlmig__error(t.ctx, LIBXLMIG_ERR_IO, -1, "after unhold");
    assert_int_equal(cap.count, 2);
    assert_string_equal(libxlmig_ctx_last_error(t.ctx),
                        "IO_ERROR: after unhold");
    libxlmig_ctx_free(t.ctx);
}

static void test_strlcpy(void **state)
{
    char b[4];

    (void)state;
    xlmig__strlcpy(b, "abcdef", sizeof(b));
    assert_string_equal(b, "abc");
    xlmig__strlcpy(b, NULL, sizeof(b));
    assert_string_equal(b, "");
    xlmig__strlcpy(b, "ab", sizeof(b));
    assert_string_equal(b, "ab");
}

static void test_version(void **state)
{
    (void)state;
    assert_string_equal(libxlmig_version(), LIBXLMIG_VERSION_STRING);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_new_rejects_bad_levels),
        cmocka_unit_test(test_own_logger),
        cmocka_unit_test(test_error_logged_once_with_name),
        cmocka_unit_test(test_long_error_truncated_safely),
        cmocka_unit_test(test_held_error),
        cmocka_unit_test(test_strlcpy),
        cmocka_unit_test(test_version),
    };

    return cmocka_run_group_tests_name("ctx", tests, NULL, NULL);
}

/* SPDX-License-Identifier: LGPL-2.1-only */
/*
 * A library context whose log is captured (testutil.h), for the tests
 * that assert on messages: `cap` and `ctx`, the group setup and teardown
 * that make and free them, and reset_log() before a step whose log
 * counts; assert_ok() and ARRAY_LEN() for them all.
 */
#ifndef XLMIG_TESTCTX_H
#define XLMIG_TESTCTX_H

#include "libxlmig.h"
#include "testutil.h"

static struct capture_logger cap;
static libxlmig_ctx *ctx;

static inline int group_setup(void **state)
{
    (void)state;
    capture_init(&cap);
    return libxlmig_ctx_new(&cap.vtable, LIBXLMIG_LOG_DEBUG, &ctx) ? -1 : 0;
}

static inline int group_teardown(void **state)
{
    (void)state;
    libxlmig_ctx_free(ctx);
    return 0;
}

static inline void reset_log(void)
{
    capture_init(&cap);
}

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* @expr must give 0; else the test fails with what the library said. */
#define assert_ok(expr)                                                    \
    do {                                                                   \
        int rc_ = (expr);                                                  \
        if (rc_)                                                           \
            fail_msg("%s gave %d: %s", #expr, rc_,                         \
                     libxlmig_ctx_last_error(ctx));                        \
    } while (0)

#endif /* XLMIG_TESTCTX_H */

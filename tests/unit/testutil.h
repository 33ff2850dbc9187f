/* SPDX-License-Identifier: LGPL-2.1-only */
/* Helpers shared by the unit tests. */
#ifndef XLMIG_TESTUTIL_H
#define XLMIG_TESTUTIL_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <stdbool.h>
#include <sys/types.h>
#include <xentoollog.h>

#include "proc.h"

/* A xentoollog logger that keeps every message, to assert on. */
struct capture_logger {
    xentoollog_logger vtable;   /* first: cast to xentoollog_logger */
    char text[8192];
    size_t len;
    int count;
    xentoollog_level last_level;
};

static void capture_vmessage(xentoollog_logger *lg, xentoollog_level level,
                             int errnoval, const char *context,
                             const char *fmt, va_list al)
{
    struct capture_logger *c = (struct capture_logger *)lg;
    int n;

    (void)errnoval;
    (void)context;
    n = vsnprintf(c->text + c->len, sizeof(c->text) - c->len, fmt, al);
    if (n > 0)
        c->len += (size_t)n < sizeof(c->text) - c->len
                      ? (size_t)n : sizeof(c->text) - c->len - 1;
    if (c->len < sizeof(c->text) - 1)
        c->text[c->len++] = '\n';
    c->text[c->len] = '\0';
    c->count++;
    c->last_level = level;
}

static void capture_progress(xentoollog_logger *lg, const char *context,
                             const char *doing_what, int percent,
                             unsigned long done, unsigned long total)
{
    (void)lg; (void)context; (void)doing_what; (void)percent; (void)done;
    (void)total;
}

static void capture_destroy(xentoollog_logger *lg)
{
    (void)lg;
}

static inline void capture_init(struct capture_logger *c)
{
    memset(c, 0, sizeof(*c));
    c->vtable.vmessage = capture_vmessage;
    c->vtable.progress = capture_progress;
    c->vtable.destroy = capture_destroy;
}

#define assert_contains(haystack, needle)                                  \
    do {                                                                   \
        const char *h_ = (haystack), *n_ = (needle);                       \
        if (!strstr(h_, n_))                                               \
            fail_msg("expected \"%s\" in:\n%s", n_, h_);                   \
    } while (0)

/* Is @pid running (a zombie is not)?  Waits up to a second for it to go. */
static inline bool still_running(pid_t pid)
{
    int i;

    for (i = 0; i < 50; i++) {
        if (!xlmig__proc_start_time(pid))
            return false;
        xlmig__sleep_ms(20);
    }
    return true;
}

#endif /* XLMIG_TESTUTIL_H */

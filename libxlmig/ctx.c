/* SPDX-License-Identifier: LGPL-2.1-only */
/*
 * The library context: the logger everything writes to, and the last
 * error for callers that want to show it again.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

const char *libxlmig_version(void)
{
    return LIBXLMIG_VERSION_STRING;
}

void *xlmig__zalloc(size_t size)
{
    return calloc(1, size ? size : 1);
}

static void silent_vmessage(xentoollog_logger *lg, xentoollog_level level,
                            int errnoval, const char *context,
                            const char *fmt, va_list al)
{
    (void)lg; (void)level; (void)errnoval; (void)context; (void)fmt;
    (void)al;
}

static void silent_progress(xentoollog_logger *lg, const char *context,
                            const char *doing_what, int percent,
                            unsigned long done, unsigned long total)
{
    (void)lg; (void)context; (void)doing_what; (void)percent; (void)done;
    (void)total;
}

static void silent_destroy(xentoollog_logger *lg)
{
    (void)lg;
}

xentoollog_logger *xlmig__silent_logger(void)
{
    static xentoollog_logger silent = {
        .vmessage = silent_vmessage,
        .progress = silent_progress,
        .destroy = silent_destroy,
    };

    return &silent;
}

void xlmig__strlcpy(char *dst, const char *src, size_t len)
{
    size_t n;

    if (!len)
        return;
    if (!src)
        src = "";
    n = strnlen(src, len - 1);
    memcpy(dst, src, n);
    dst[n] = '\0';
}

int libxlmig_ctx_new(struct xentoollog_logger *logger,
                     libxlmig_log_level min_level, libxlmig_ctx **ctx_r)
{
    libxlmig_ctx *ctx = NULL;
    int rc;

    if (!ctx_r || min_level < LIBXLMIG_LOG_DEBUG ||
        min_level > LIBXLMIG_LOG_CRITICAL) {
        rc = LIBXLMIG_ERR_INVALID_ARGUMENT;
        goto out;
    }

    ctx = xlmig__zalloc(sizeof(*ctx));
    if (!ctx) {
        rc = LIBXLMIG_ERR_NO_MEMORY;
        goto out;
    }
    ctx->privcmd_path = XLMIG__PRIVCMD_PATH;

    if (logger) {
        ctx->logger = logger;
    } else {
        ctx->own_logger = xtl_createlogger_stdiostream(
            stderr, (xentoollog_level)min_level, 0);
        if (!ctx->own_logger) {
            rc = LIBXLMIG_ERR_NO_MEMORY;
            goto out;
        }
        ctx->logger = (xentoollog_logger *)ctx->own_logger;
    }

    *ctx_r = ctx;
    ctx = NULL;                 /* the caller owns it now */
    rc = 0;
 out:
    libxlmig_ctx_free(ctx);
    return rc;
}

void libxlmig_ctx_free(libxlmig_ctx *ctx)
{
    if (!ctx)
        return;
    if (ctx->own_logger)
        xtl_logger_destroy((xentoollog_logger *)ctx->own_logger);
    free(ctx);
}

struct xentoollog_logger *libxlmig_ctx_logger(libxlmig_ctx *ctx)
{
    return ctx ? ctx->logger : NULL;
}

const char *libxlmig_ctx_last_error(const libxlmig_ctx *ctx)
{
    return ctx ? ctx->last_error : "";
}

void xlmig__ctx_set_privcmd_path(libxlmig_ctx *ctx, const char *path)
{
    ctx->privcmd_path = path ? path : XLMIG__PRIVCMD_PATH;
}

void xlmig__log(libxlmig_ctx *ctx, xentoollog_level level, int errnoval,
                const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    xtl_logv(ctx->logger, level, errnoval, "libxlmig", fmt, ap);
    va_end(ap);
}

/*
 * The errors this thread holds back, or NULL (xlmig__error_hold()).
 * Per thread, so that a thread holding its errors never changes how
 * another one's are reported.
 */
static _Thread_local struct xlmig__held_error *held;

/* "message[: strerror]" into @dst, truncated to fit. */
static void error_text(char *dst, size_t cap, int errnoval, const char *fmt,
                       va_list ap) XLMIG__PRINTF(4, 0);

static void error_text(char *dst, size_t cap, int errnoval, const char *fmt,
                       va_list ap)
{
    size_t n;

    vsnprintf(dst, cap, fmt, ap);
    n = strlen(dst);
    if (errnoval > 0 && n + 1 < cap)
        snprintf(dst + n, cap - n, ": %s", strerror(errnoval));
}

int xlmig__error(libxlmig_ctx *ctx, int rc, int errnoval,
                 const char *fmt, ...)
{
    const size_t cap = sizeof(ctx->last_error);
    va_list ap;
    size_t n;

    if (held) {
        /* Kept for the thread that reports it; only the first. */
        if (!held->rc) {
            held->rc = rc;
            va_start(ap, fmt);
            error_text(held->msg, sizeof(held->msg), errnoval, fmt, ap);
            va_end(ap);
        }
        return rc;
    }
    /* "NAME: message[: strerror]", truncated to fit. */
    n = (size_t)snprintf(ctx->last_error, cap, "%s: ",
                         libxlmig_strerror_name(rc));
    if (n < cap) {
        va_start(ap, fmt);
        error_text(ctx->last_error + n, cap - n, errnoval, fmt, ap);
        va_end(ap);
    }
    xtl_log(ctx->logger, XTL_ERROR, -1, "libxlmig", "%s", ctx->last_error);
    return rc;
}

void xlmig__error_hold(struct xlmig__held_error *h)
{
    h->rc = 0;
    h->msg[0] = '\0';
    held = h;
}

void xlmig__error_unhold(void)
{
    held = NULL;
}

int xlmig__error_replay(libxlmig_ctx *ctx, const struct xlmig__held_error *h)
{
    return xlmig__error(ctx, h->rc, -1, "%s", h->msg);
}

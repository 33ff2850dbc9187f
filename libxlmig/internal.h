/* SPDX-License-Identifier: LGPL-2.1-only */
/*
 * Internal declarations of libxlmig, shared by the library's files, the
 * tools and the tests (which link the static library).  Names are
 * xlmig__*; nothing here is exported from the shared library.
 */
#ifndef XLMIG_INTERNAL_H
#define XLMIG_INTERNAL_H

#ifndef LIBXLMIG_BUILDING
#define LIBXLMIG_BUILDING 1
#endif

#include <stdarg.h>
#include <stddef.h>

#include <xentoollog.h>

#include "libxlmig.h"

#define XLMIG__PRINTF(fmt_idx, args_idx) \
    __attribute__((format(printf, fmt_idx, args_idx)))

/* Where a Xen host has its privileged command interface. */
#define XLMIG__PRIVCMD_PATH "/dev/xen/privcmd"

struct libxlmig_ctx {
    xentoollog_logger *logger;                  /* the one we write to */
    xentoollog_logger_stdiostream *own_logger;  /* ours to destroy, or NULL */
    const char *privcmd_path;                   /* XLMIG__PRIVCMD_PATH */
    char last_error[1024];
};

/*
 * A logger that drops every message, for a context whose errors are not
 * to be shown: a record's parts (cpurecord.c says them as its own),
 * shell completion (which must not write on the terminal).  Static.
 */
xentoollog_logger *xlmig__silent_logger(void);

/* calloc(1, size); NULL when out of memory.  Free with free(). */
void *xlmig__zalloc(size_t size);

/*
 * Log a message at @level through the context's logger.  @errnoval is
 * an errno value to append, or -1 for none.
 */
void xlmig__log(libxlmig_ctx *ctx, xentoollog_level level, int errnoval,
                const char *fmt, ...) XLMIG__PRINTF(4, 5);

/*
 * Log an error once, where it is detected: the message is prefixed with
 * the stable name of @rc, kept as the context's last error, and written
 * at ERROR level.  Returns @rc so callers can write
 * `return xlmig__error(ctx, LIBXLMIG_ERR_..., "...")`.
 */
int xlmig__error(libxlmig_ctx *ctx, int rc, int errnoval,
                 const char *fmt, ...) XLMIG__PRINTF(4, 5);

/*
 * An error held back: a helper thread's first error, which another
 * thread reports later, in order, with xlmig__error_replay().  The
 * context's last error is not thread-safe, and an error is reported
 * once: so a helper whose errors another thread may also meet (the
 * channel's network stage) holds them instead.
 */
struct xlmig__held_error {
    int rc;                     /* 0: none held */
    char msg[1024];             /* "message[: strerror]", without the name */
};

/*
 * From here until xlmig__error_unhold(), every xlmig__error() made on the
 * calling thread, by any code (a transport's too), logs nothing and
 * leaves every context alone: the first one is kept in @h (emptied
 * here), the others are dropped.  @h must outlive the hold.
 */
void xlmig__error_hold(struct xlmig__held_error *h);
void xlmig__error_unhold(void);

/* Report the error held in @h (h->rc set) as xlmig__error() would have;
 * returns h->rc. */
int xlmig__error_replay(libxlmig_ctx *ctx, const struct xlmig__held_error *h);

/* Point the hypervisor check at another path (tests only). */
void xlmig__ctx_set_privcmd_path(libxlmig_ctx *ctx, const char *path);

/*
 * 0 when this is a Xen host whose privileged interface we can open;
 * otherwise logs why and returns LIBXLMIG_ERR_NO_HYPERVISOR or
 * LIBXLMIG_ERR_PERMISSION_DENIED.
 */
int xlmig__check_hypervisor(libxlmig_ctx *ctx);

/*
 * Copy @src into @dst of @len bytes, always NUL-terminated; truncates.
 * NULL @src gives "".
 */
void xlmig__strlcpy(char *dst, const char *src, size_t len);

/* The number of entries in the error table and entry @i (tests, tools). */
size_t xlmig__error_count(void);
int xlmig__error_code_at(size_t i);

/*
 * A host's facts as named text fields, in a fixed order, for the CLIs'
 * printers (plain, JSON, xe records).  Keys are static; values live in
 * the struct.
 */
#define XLMIG__KV_VALUE_MAX 2048
struct xlmig__kv {
    const char *key;
    char value[XLMIG__KV_VALUE_MAX];
};
#define XLMIG__HOST_INFO_FIELDS 18

/* Fill @kv (XLMIG__HOST_INFO_FIELDS entries) from @info; returns the count. */
size_t xlmig__host_info_fields(const libxlmig_host_info *info,
                               struct xlmig__kv *kv);

#endif /* XLMIG_INTERNAL_H */

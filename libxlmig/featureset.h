/* SPDX-License-Identifier: LGPL-2.1-only */
/*
 * Internal helpers of the featureset module (featureset.c,
 * featureset-cpu.c, featureset-check.c).  The public API is in
 * libxlmig.h; docs/specs/featureset.md describes it.
 */
#ifndef XLMIG_FEATURESET_H
#define XLMIG_FEATURESET_H

#include <stddef.h>

#include "internal.h"

/* Longest piece of caller-given text quoted in a message. */
#define XLMIG__QUOTE_MAX 48

/*
 * Copy @text into @out (@len bytes, NUL-terminated) for quoting in a
 * message: bytes outside printable ASCII become '?', and text longer
 * than XLMIG__QUOTE_MAX is cut to a window of that size around byte
 * @center, with "..." where something was cut.  NULL @text gives "".
 * @len of XLMIG__QUOTE_MAX + 7 always suffices.
 */
void xlmig__quote(const char *text, size_t center, char *out, size_t len);

/*
 * xlmig__error() for functions whose @ctx may be NULL: with a context,
 * log the message once and return @rc; without one just return @rc.
 */
int xlmig__error_opt(libxlmig_ctx *ctx, int rc, const char *fmt, ...)
    XLMIG__PRINTF(3, 4);

/*
 * How a host, pool or VM is named in messages: "host h2" for @name "h2";
 * for NULL @name, "host #3" (@index 3, the position in the caller's
 * array) or "host (unnamed)" (@index XLMIG__NO_INDEX).  Writes into
 * @buf, returns it.
 */
#define XLMIG__NO_INDEX ((size_t)-1)
const char *xlmig__host_label(const char *what, const char *name,
                              size_t index, char *buf, size_t len);

#endif /* XLMIG_FEATURESET_H */

/* SPDX-License-Identifier: LGPL-2.1-only */
/*
 * Sizes and rates as the tools' options and xlmig-xe's keys write them
 * (internal): decimal digits with a binary suffix k, M, G or T.  One
 * parser each, so that --size, --chunk, virtual-size=, --bwlimit,
 * bwlimit= and the control socket's "bwlimit RATE" read the same text
 * the same way in every tool.
 */
#ifndef XLMIG_UNITS_H
#define XLMIG_UNITS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "libxlmig.h"

/*
 * Parse a size: decimal digits with an optional suffix k, M, G or T
 * (either case), alone or followed by "B" or "iB" (all binary: 1k =
 * 1024), or "B" alone.  1 byte .. XLMIG__VDI_SIZE_MAX.  Errors:
 * LIBXLMIG_ERR_INVALID_ARGUMENT naming @what and the text, logged on
 * @ctx (NULL: not logged).
 */
int xlmig__size_parse(libxlmig_ctx *ctx, const char *what, const char *text,
                      uint64_t *size_r);

/* The greatest rate: 1 PiB/s. */
#define XLMIG__RATE_MAX ((uint64_t)1 << 50)

/* How a rate is written: for messages, and shorter for help texts. */
#define XLMIG__RATE_RULE \
    "bytes/s, with a suffix k, M, G or T (binary: 1.5M = 1572864), or " \
    "0 or none for no limit"
#define XLMIG__RATE_HELP \
    "bytes/s, k/M/G/T suffixes (x1024); 0 or none: no limit"

/*
 * Parse a rate in bytes/s into *rate_r, 0 meaning no limit: "none",
 * "off", or a number that is zero ("0", "0k"); else decimal digits with
 * an optional fraction ("1.5"), then an optional suffix k, M, G or T
 * (either case, binary: 1k = 1024), then an optional "B" or "b", or "iB"
 * after a suffix ("500M", "1.5G", "64KiB", "2mb").  At most
 * XLMIG__RATE_MAX.  *rate_r is written only on success.
 *
 * xlmig__rate_ok() returns false with @why (@len bytes) one sentence
 * naming @what (the option as its tool spells it: "--bwlimit",
 * "bwlimit=") and the text, for callers without a context (option
 * parsing, the control socket).  xlmig__rate_parse() logs that sentence
 * as LIBXLMIG_ERR_INVALID_ARGUMENT on @ctx (NULL: not logged).
 */
bool xlmig__rate_ok(const char *what, const char *text, uint64_t *rate_r,
                    char *why, size_t len);
int xlmig__rate_parse(libxlmig_ctx *ctx, const char *what, const char *text,
                      uint64_t *rate_r);

/*
 * Compare two versions ("4.17.7", "0.2.0-rc1"): their numbers in order,
 * what is not a digit only separating them, a missing number 0, each
 * capped at 10^8.  <0, 0 or >0 as @a is older than, the same as or newer
 * than @b.  Pure.
 */
int xlmig__version_cmp(const char *a, const char *b);

#endif /* XLMIG_UNITS_H */

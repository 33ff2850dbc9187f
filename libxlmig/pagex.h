/* SPDX-License-Identifier: LGPL-2.1-only */
/*
 * The page transform of the stream channel (docs/specs/channel.md,
 * "Page transform"): the sender follows the xl / libxl / libxc records
 * of the stream it carries and turns each 4 KiB page of a PAGE_DATA
 * record into a ZERO, PAGE or DELTA op against a direct-mapped cache of
 * pages sent before; everything else goes as LITERAL.  The receiver
 * applies the ops and reproduces the original bytes exactly.
 *
 * Both sides keep one xlmig__pagex per direction and feed it frames in
 * order; their caches stay equal because they apply the same ops.
 */
#ifndef XLMIG_PAGEX_H
#define XLMIG_PAGEX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"

#define XLMIG__PAGE_SIZE 4096
/* Most pages a cache may hold: 1 Mi pages = 4 GiB. */
#define XLMIG__PAGEX_MAX_CACHE_PAGES (1u << 20)

/* Op codes of the op stream. */
enum {
    XLMIG__OP_LITERAL = 1,
    XLMIG__OP_ZERO = 2,
    XLMIG__OP_PAGE = 3,
    XLMIG__OP_DELTA = 4,
    XLMIG__OP_DROP = 5,
};

/* What the sender's follower found, for progress and tests. */
struct xlmig__pagex_stats {
    uint64_t bytes_in;          /* stream bytes consumed */
    uint64_t literal_bytes;     /* of them, passed as LITERAL */
    uint64_t pages;             /* pages seen in PAGE_DATA records */
    uint64_t zero_pages;
    uint64_t delta_pages;
    uint64_t full_pages;        /* sent whole (PAGE op) */
    uint64_t delta_bytes;       /* run bytes in DELTA ops */
    bool following;             /* still following records */
    char stopped_why[128];      /* why following stopped, or "" */
};

struct xlmig__pagex;

/*
 * A new transform with a cache of @cache_pages slots (0: no cache, so no
 * DELTA; at most XLMIG__PAGEX_MAX_CACHE_PAGES).  The cache is allocated
 * lazily as slots are first used (no 4 GiB up front).  Free with
 * xlmig__pagex_free() (NULL-safe).  Returns 0, INVALID_ARGUMENT or
 * NO_MEMORY.
 */
int xlmig__pagex_new(uint32_t cache_pages, struct xlmig__pagex **px_r);

/*
 * LIBXLMIG_PAGE_CACHE_AUTO's size (libxlmig.h): for a host with
 * @avail_kb kB available, and on this host (/proc/meminfo's
 * MemAvailable; 65536 when it cannot be read).
 */
uint32_t xlmig__pagex_pages_for(unsigned long long avail_kb);
uint32_t xlmig__pagex_auto_pages(void);
void xlmig__pagex_free(struct xlmig__pagex *px);

/*
 * Sender: consume @len stream bytes at @in and append ops to @ops (never
 * past @ops_limit bytes in all: LIBXLMIG_ERR_PROTOCOL if it would be).
 * The transform may hold back up to one page plus one record header of
 * input that it cannot yet classify; it sets *out_len_r to the number of
 * stream bytes the appended ops reproduce (bytes held back are not
 * counted: they come out of a later call or of _flush).
 */
int xlmig__pagex_encode(struct xlmig__pagex *px, const uint8_t *in,
                        size_t len, struct xlmig__buf *ops, size_t ops_limit,
                        size_t *out_len_r);

/*
 * Sender: emit whatever is held back (as DROP + LITERAL for a partial
 * page), so that everything consumed so far is reproduced.  Called when
 * the input pauses or ends.  Adds to *out_len_r like _encode.
 */
int xlmig__pagex_flush(struct xlmig__pagex *px, struct xlmig__buf *ops,
                       size_t ops_limit, size_t *out_len_r);

/*
 * Receiver: apply the @len bytes of ops at @ops (untrusted) and append
 * the stream bytes they reproduce to @out, never past @out_limit bytes
 * in all.  Returns LIBXLMIG_ERR_PROTOCOL, writing a reason into @why (of
 * @why_len bytes), on any malformed op: unknown opcode, truncated op,
 * DELTA against a slot that does not hold that pfn, run outside the
 * page, output over the limit.  On error @out may hold part of the
 * output; the caller discards it (nothing of a failed frame is handed
 * on).
 */
int xlmig__pagex_decode(struct xlmig__pagex *px, const uint8_t *ops,
                        size_t len, struct xlmig__buf *out, size_t out_limit,
                        char *why, size_t why_len);

/* Sender-side statistics so far. */
void xlmig__pagex_get_stats(const struct xlmig__pagex *px,
                            struct xlmig__pagex_stats *st_r);

#endif /* XLMIG_PAGEX_H */

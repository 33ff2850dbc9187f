/* SPDX-License-Identifier: LGPL-2.1-only */
/*
 * The record follower of the page transform (docs/specs/channel.md,
 * "Page transform"; layouts in xen-stream-format.h): an incremental
 * parser of the byte stream xl sends during `xl migrate` / `xl save`,
 * fed chunks of any size.  It splits the stream into pieces: bytes of a
 * page of a PAGE_DATA record (with the page's pfn and where in the page
 * the piece starts) and other bytes.
 *
 * It never fails: anything it cannot parse (bad magic, unknown version or
 * byte order, page_shift other than 12, a length over a cap, a record it
 * would need to understand but does not) makes it stop following, and
 * every later byte is an "other" byte.  It records why.  It allocates
 * nothing: what it keeps (headers, the pfn array of one PAGE_DATA record,
 * at most XLMIG__FOLLOW_MAX_PFNS entries) lives in the struct.
 *
 * It starts at any of the three layers: an xl header, a libxl header
 * ("LibxlFmt") or a libxc image header; after the last END it has
 * nothing more to follow (xl's own messages come next) and is "done".
 */
#ifndef XLMIG_FOLLOW_H
#define XLMIG_FOLLOW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Most pfns in one PAGE_DATA record that we follow (libxc sends 1024). */
#define XLMIG__FOLLOW_MAX_PFNS 4096u
/* Longest xl optional data and libxl record we skip over. */
#define XLMIG__FOLLOW_MAX_OPTDATA (64u << 20)
#define XLMIG__FOLLOW_MAX_LIBXL_REC (1u << 30)

enum xlmig__follow_kind {
    XLMIG__PIECE_OTHER = 0,     /* not page data */
    XLMIG__PIECE_PAGE = 1,      /* part or all of one 4 KiB page */
};

struct xlmig__follow_piece {
    enum xlmig__follow_kind kind;
    size_t len;                 /* bytes of the input in this piece, > 0 */
    uint64_t pfn;               /* PAGE: the page's pfn (type bits cleared) */
    uint32_t page_off;          /* PAGE: offset of the piece in the page */
};

enum xlmig__follow_status {
    XLMIG__FOLLOW_FOLLOWING = 0,
    XLMIG__FOLLOW_DONE = 1,     /* past the libxl (or libxc) END record */
    XLMIG__FOLLOW_STOPPED = 2,  /* could not follow; why says why */
};

/* Parser state; opaque to users, in the header so it can be embedded. */
struct xlmig__follow {
    int state;
    enum xlmig__follow_status status;
    uint64_t offset;            /* stream bytes consumed */
    uint8_t hdr[48];            /* the header being collected */
    uint32_t hdr_have;          /* bytes of it collected */
    uint32_t hdr_want;          /* bytes wanted */
    uint64_t skip;              /* bytes left of the body being skipped */
    int layer;                  /* where the stream started (1 xl ...) */
    bool libxc_seen;            /* a libxc stream started already */
    uint32_t rec_type, rec_len; /* current record */
    uint32_t count;             /* PAGE_DATA: pfns */
    uint32_t npages;            /* PAGE_DATA: pages with data */
    uint32_t page_idx;          /* PAGE_DATA: page being reported */
    uint32_t page_off;          /* PAGE_DATA: offset in that page */
    uint64_t pages_seen;        /* pages reported in all */
    uint64_t records_seen;      /* libxc records */
    char why[128];
    uint64_t pfns[XLMIG__FOLLOW_MAX_PFNS];  /* data pages' pfns, in order */
};

/* Start following a new stream.  Nothing to dispose. */
void xlmig__follow_init(struct xlmig__follow *f);

/*
 * Classify the stream bytes at @in (@len > 0; the bytes right after the
 * ones classified before): returns how many of them form the next piece
 * (between 1 and @len) and describes it in *piece_r.  Call again with
 * the rest.  A page reported in several pieces (across chunks) is
 * reported with increasing page_off and the same pfn; a PAGE piece never
 * crosses the end of its page.
 */
size_t xlmig__follow_next(struct xlmig__follow *f, const uint8_t *in,
                          size_t len, struct xlmig__follow_piece *piece_r);

enum xlmig__follow_status xlmig__follow_status(const struct xlmig__follow *f);

/* Why following stopped ("" while following or when done). */
const char *xlmig__follow_why(const struct xlmig__follow *f);

/*
 * Whether the follower is between two libxl records: the next bytes (and
 * the ones of it collected so far) are a libxl record header.  If so,
 * *at_r is the stream offset of that header's first byte.  The bytes of
 * a libxl record header are always pieces of their own, so a relay that
 * asks before each xlmig__follow_next knows where the libxl END record
 * starts: it is the header that makes the status DONE (8 bytes from
 * *at_r).  False at the xl and libxc layers, once done and once stopped.
 */
bool xlmig__follow_libxl_rec_at(const struct xlmig__follow *f,
                                uint64_t *at_r);

/*
 * Where in the stream the follower is, in words, for messages ("in libxc
 * record type 0x1 (PAGE_DATA)", "between libxl records, after the libxc
 * stream's END"); at most @size bytes with the NUL, into @buf.
 */
void xlmig__follow_where(const struct xlmig__follow *f, char *buf,
                         size_t size);

#endif /* XLMIG_FOLLOW_H */

/* SPDX-License-Identifier: LGPL-2.1-only */
/*
 * The page transform (pagex.h, docs/specs/channel.md "Page transform").
 *
 * The cache is direct-mapped (slot = pfn mod slots) and allocated in
 * blocks of CACHE_BLOCK slots on first use.  A slot is empty, zero (a
 * ZERO op was the last one for it: no page stored, so zero pages cost no
 * copy) or holds a page.  Encoder and decoder keep the same cache by
 * applying the same ops, so the representation is private to each side.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "follow.h"
#include "internal.h"
#include "pagex.h"

#define PAGE XLMIG__PAGE_SIZE
#define PAGE_WORDS (PAGE / 8)
/* Slots per allocation: 2 MiB of pages, a huge page where the host has them. */
#define CACHE_BLOCK 512u
#define CACHE_BLOCK_ALIGN (2u << 20)
/* Runs closer than this are merged into one (a run costs 4 bytes). */
#define MERGE_GAP 8u
/* Most runs a DELTA can have: runs are separated by whole equal words. */
#define MAX_RUNS (PAGE_WORDS / 2 + 1)

/* Op sizes without their data. */
#define OP_LITERAL_LEN 5u
#define OP_PFN_LEN 9u                       /* ZERO, DROP */
#define OP_PAGE_LEN (9u + PAGE)
#define OP_DELTA_HDR_LEN 11u
#define RUN_HDR_LEN 4u

enum { SLOT_EMPTY = 0, SLOT_ZERO = 1, SLOT_DATA = 2 };

struct cache_block {
    uint64_t tag[CACHE_BLOCK];          /* pfn held */
    uint8_t state[CACHE_BLOCK];         /* SLOT_* */
    uint8_t (*page)[PAGE];              /* pages of the block's slots */
};

struct run {
    uint16_t off, len;
};

struct xlmig__pagex {
    uint32_t nslots;
    uint32_t nblocks;
    struct cache_block **blocks;        /* nblocks, each NULL until used */

    /* Encoder. */
    struct xlmig__follow follow;
    uint8_t pend[PAGE];                 /* a page that came in pieces */
    uint32_t pend_len;                  /* bytes of it held back, or 0 */
    uint64_t pend_pfn;
    /* The LITERAL op last appended, to extend it (within one call). */
    const struct xlmig__buf *lit_buf;
    size_t lit_op;                      /* its offset in the buffer */
    uint32_t lit_len;                   /* its length field */
    size_t lit_end;                     /* ops->len right after it */
    struct run runs[MAX_RUNS];
    struct xlmig__pagex_stats st;
};

static const uint8_t zero_page[PAGE];

#define AUTO_MAX_PAGES 65536u     /* 256 MiB */
#define AUTO_SHARE 6u               /* three migrations in half of it */

uint32_t xlmig__pagex_pages_for(unsigned long long avail_kb)
{
    unsigned long long pages = avail_kb / AUTO_SHARE /
                               (XLMIG__PAGE_SIZE / 1024);

    return pages < AUTO_MAX_PAGES ? (uint32_t)pages : AUTO_MAX_PAGES;
}

uint32_t xlmig__pagex_auto_pages(void)
{
    FILE *f = fopen("/proc/meminfo", "re");
    char line[128];
    unsigned long long kb = 0;
    bool found = false;

    if (!f)
        return AUTO_MAX_PAGES;
    while (!found && fgets(line, sizeof(line), f))
        found = sscanf(line, "MemAvailable: %llu kB", &kb) == 1;
    fclose(f);
    return found ? xlmig__pagex_pages_for(kb) : AUTO_MAX_PAGES;
}

int xlmig__pagex_new(uint32_t cache_pages, struct xlmig__pagex **px_r)
{
    struct xlmig__pagex *px = NULL;
    int rc;

    *px_r = NULL;
    if (cache_pages > XLMIG__PAGEX_MAX_CACHE_PAGES)
        return LIBXLMIG_ERR_INVALID_ARGUMENT;
    px = xlmig__zalloc(sizeof(*px));
    if (!px) {
        rc = LIBXLMIG_ERR_NO_MEMORY;
        goto out;
    }
    px->nslots = cache_pages;
    px->nblocks = (cache_pages + CACHE_BLOCK - 1) / CACHE_BLOCK;
    if (px->nblocks) {
        px->blocks = calloc(px->nblocks, sizeof(*px->blocks));
        if (!px->blocks) {
            rc = LIBXLMIG_ERR_NO_MEMORY;
            goto out;
        }
    }
    xlmig__follow_init(&px->follow);
    px->st.following = true;
    *px_r = px;
    px = NULL;          /* the caller owns it now */
    rc = 0;
out:
    xlmig__pagex_free(px);
    return rc;
}

void xlmig__pagex_free(struct xlmig__pagex *px)
{
    uint32_t i;

    if (!px)
        return;
    for (i = 0; i < px->nblocks; i++) {
        if (px->blocks[i]) {
            free(px->blocks[i]->page);
            free(px->blocks[i]);
        }
    }
    free(px->blocks);
    free(px);
}

/* ------------------------------------------------------------- cache */

struct slot {
    struct cache_block *b;      /* NULL: no cache */
    uint32_t i;
};

/*
 * The slot of @pfn; with @create, its block is allocated if need be.
 * Returns NO_MEMORY only.  s->b is NULL without a cache, or when the
 * block does not exist and !@create.
 */
static int slot_of(struct xlmig__pagex *px, uint64_t pfn, bool create,
                   struct slot *s)
{
    uint32_t idx, bi, n;
    struct cache_block *b;

    s->b = NULL;
    s->i = 0;
    if (!px->nslots)
        return 0;
    idx = (uint32_t)(pfn % px->nslots);
    bi = idx / CACHE_BLOCK;
    s->i = idx % CACHE_BLOCK;
    b = px->blocks[bi];
    if (!b && create) {
        n = px->nslots - bi * CACHE_BLOCK;
        if (n > CACHE_BLOCK)
            n = CACHE_BLOCK;
        b = xlmig__zalloc(sizeof(*b));
        if (!b)
            return LIBXLMIG_ERR_NO_MEMORY;
        if (posix_memalign((void **)&b->page,
                           n == CACHE_BLOCK ? CACHE_BLOCK_ALIGN : 64,
                           (size_t)n * PAGE)) {
            free(b);
            return LIBXLMIG_ERR_NO_MEMORY;
        }
        if (n == CACHE_BLOCK)   /* fewer page faults; advice only */
            (void)madvise(b->page, (size_t)n * PAGE, MADV_HUGEPAGE);
        px->blocks[bi] = b;
    }
    s->b = b;
    return 0;
}

static bool slot_holds(const struct slot *s, uint64_t pfn)
{
    return s->b && s->b->state[s->i] != SLOT_EMPTY && s->b->tag[s->i] == pfn;
}

static void slot_set(const struct slot *s, uint64_t pfn, int state,
                     const uint8_t *page)
{
    if (!s->b)
        return;
    s->b->tag[s->i] = pfn;
    s->b->state[s->i] = (uint8_t)state;
    if (page)
        memcpy(s->b->page[s->i], page, PAGE);
}

/* The page a slot holding data or zeros stands for. */
static const uint8_t *slot_page(const struct slot *s)
{
    return s->b->state[s->i] == SLOT_ZERO ? zero_page : s->b->page[s->i];
}

/* Make a zero slot hold its zeros as data, to write runs over them. */
static uint8_t *slot_writable(const struct slot *s)
{
    if (s->b->state[s->i] == SLOT_ZERO) {
        memset(s->b->page[s->i], 0, PAGE);
        s->b->state[s->i] = SLOT_DATA;
    }
    return s->b->page[s->i];
}

static void cache_drop(struct xlmig__pagex *px, uint64_t pfn)
{
    struct slot s;

    slot_of(px, pfn, false, &s);        /* never allocates */
    if (slot_holds(&s, pfn))
        s.b->state[s.i] = SLOT_EMPTY;
}

/* ------------------------------------------------------------ encoder */

static inline uint64_t load64(const uint8_t *p)
{
    uint64_t v;

    memcpy(&v, p, sizeof(v));
    return v;
}

static bool page_is_zero(const uint8_t *p)
{
    size_t i;

    /* 64 bytes a step: most data pages show a non-zero byte early. */
    for (i = 0; i < PAGE; i += 64) {
        uint64_t acc = load64(p + i) | load64(p + i + 8) |
                       load64(p + i + 16) | load64(p + i + 24) |
                       load64(p + i + 32) | load64(p + i + 40) |
                       load64(p + i + 48) | load64(p + i + 56);

        if (acc)
            return false;
    }
    return true;
}

/*
 * The runs that turn @old into @new, merged across gaps under
 * MERGE_GAP; false when the DELTA op would not be smaller than a PAGE
 * op.  *nruns_r and *size_r: the runs and the DELTA op's size.
 */
static bool diff_page(struct xlmig__pagex *px, const uint8_t *old,
                      const uint8_t *new, size_t *nruns_r, size_t *size_r)
{
    size_t w = 0, nr = 0, size = OP_DELTA_HDR_LEN;
    struct run *runs = px->runs;

    while (w < PAGE_WORDS) {
        size_t s, bs, be, prev_end;

        /* Skip equal words, 32 bytes a step where possible. */
        if (w + 4 <= PAGE_WORDS &&
            !((load64(old + 8 * w) ^ load64(new + 8 * w)) |
              (load64(old + 8 * w + 8) ^ load64(new + 8 * w + 8)) |
              (load64(old + 8 * w + 16) ^ load64(new + 8 * w + 16)) |
              (load64(old + 8 * w + 24) ^ load64(new + 8 * w + 24)))) {
            w += 4;
            continue;
        }
        if (load64(old + 8 * w) == load64(new + 8 * w)) {
            w++;
            continue;
        }
        s = w;
        do
            w++;
        while (w < PAGE_WORDS && load64(old + 8 * w) != load64(new + 8 * w));
        bs = 8 * s;
        be = 8 * w;
        while (old[bs] == new[bs])
            bs++;
        while (old[be - 1] == new[be - 1])
            be--;
        prev_end = nr ? (size_t)runs[nr - 1].off + runs[nr - 1].len : 0;
        if (nr && bs - prev_end < MERGE_GAP) {
            size += be - prev_end;
            runs[nr - 1].len = (uint16_t)(be - runs[nr - 1].off);
        } else {
            if (nr == MAX_RUNS)
                return false;
            size += RUN_HDR_LEN + (be - bs);
            runs[nr].off = (uint16_t)bs;
            runs[nr].len = (uint16_t)(be - bs);
            nr++;
        }
        if (size >= OP_PAGE_LEN)
            return false;
    }
    *nruns_r = nr;
    *size_r = size;
    return true;
}

/* Room for @n more op bytes. */
static int op_room(struct xlmig__buf *ops, size_t n, size_t limit,
                   uint8_t **p_r)
{
    int rc = xlmig__buf_reserve(ops, n, limit);

    if (rc)
        return rc;
    *p_r = ops->data + ops->len;
    ops->len += n;
    return 0;
}

static int put_literal(struct xlmig__pagex *px, struct xlmig__buf *ops,
                       size_t limit, const uint8_t *data, size_t n)
{
    uint8_t *p;
    int rc;

    if (!n)
        return 0;
    px->st.literal_bytes += n;
    if (px->lit_buf == ops && px->lit_end == ops->len &&
        n <= UINT32_MAX - px->lit_len) {
        /* Extend the LITERAL just written. */
        rc = op_room(ops, n, limit, &p);
        if (rc)
            return rc;
        memcpy(p, data, n);
        px->lit_len += (uint32_t)n;
        xlmig__put_be32(ops->data + px->lit_op + 1, px->lit_len);
        px->lit_end = ops->len;
        return 0;
    }
    while (n) {
        size_t chunk = n > UINT32_MAX ? UINT32_MAX : n;

        rc = op_room(ops, OP_LITERAL_LEN + chunk, limit, &p);
        if (rc)
            return rc;
        p[0] = XLMIG__OP_LITERAL;
        xlmig__put_be32(p + 1, (uint32_t)chunk);
        memcpy(p + OP_LITERAL_LEN, data, chunk);
        px->lit_buf = ops;
        px->lit_op = ops->len - OP_LITERAL_LEN - chunk;
        px->lit_len = (uint32_t)chunk;
        px->lit_end = ops->len;
        data += chunk;
        n -= chunk;
    }
    return 0;
}

static int put_pfn_op(struct xlmig__buf *ops, size_t limit, uint8_t op,
                      uint64_t pfn)
{
    uint8_t *p;
    int rc = op_room(ops, OP_PFN_LEN, limit, &p);

    if (rc)
        return rc;
    p[0] = op;
    xlmig__put_be64(p + 1, pfn);
    return 0;
}

/* One whole page of a PAGE_DATA record. */
static int encode_page(struct xlmig__pagex *px, struct xlmig__buf *ops,
                       size_t limit, uint64_t pfn, const uint8_t *page)
{
    struct slot s;
    size_t nruns, size, i;
    uint8_t *p;
    int rc;

    px->st.pages++;
    rc = slot_of(px, pfn, true, &s);
    if (rc)
        return rc;

    if (page_is_zero(page)) {
        rc = put_pfn_op(ops, limit, XLMIG__OP_ZERO, pfn);
        if (rc)
            return rc;
        slot_set(&s, pfn, SLOT_ZERO, NULL);
        px->st.zero_pages++;
        return 0;
    }

    if (slot_holds(&s, pfn) &&
        diff_page(px, slot_page(&s), page, &nruns, &size)) {
        uint8_t *cached;

        rc = op_room(ops, size, limit, &p);
        if (rc)
            return rc;
        p[0] = XLMIG__OP_DELTA;
        xlmig__put_be64(p + 1, pfn);
        xlmig__put_be16(p + 9, (uint16_t)nruns);
        p += OP_DELTA_HDR_LEN;
        cached = slot_writable(&s);
        for (i = 0; i < nruns; i++) {
            const struct run *r = &px->runs[i];

            xlmig__put_be16(p, r->off);
            xlmig__put_be16(p + 2, r->len);
            memcpy(p + RUN_HDR_LEN, page + r->off, r->len);
            memcpy(cached + r->off, page + r->off, r->len);
            p += RUN_HDR_LEN + r->len;
            px->st.delta_bytes += r->len;
        }
        px->st.delta_pages++;
        return 0;
    }

    rc = op_room(ops, OP_PAGE_LEN, limit, &p);
    if (rc)
        return rc;
    p[0] = XLMIG__OP_PAGE;
    xlmig__put_be64(p + 1, pfn);
    memcpy(p + OP_PFN_LEN, page, PAGE);
    slot_set(&s, pfn, SLOT_DATA, page);
    px->st.full_pages++;
    return 0;
}

/* The held-back part of a page goes as DROP + LITERAL. */
static int flush_pending(struct xlmig__pagex *px, struct xlmig__buf *ops,
                         size_t limit)
{
    int rc;

    if (!px->pend_len)
        return 0;
    px->st.pages++;
    cache_drop(px, px->pend_pfn);
    rc = put_pfn_op(ops, limit, XLMIG__OP_DROP, px->pend_pfn);
    if (!rc)
        rc = put_literal(px, ops, limit, px->pend, px->pend_len);
    px->pend_len = 0;
    return rc;
}

static int encode_piece(struct xlmig__pagex *px, struct xlmig__buf *ops,
                        size_t limit, const struct xlmig__follow_piece *pc,
                        const uint8_t *in)
{
    int rc;

    if (pc->kind == XLMIG__PIECE_OTHER)
        return put_literal(px, ops, limit, in, pc->len);

    if (pc->page_off == 0 && pc->len == PAGE)
        return encode_page(px, ops, limit, pc->pfn, in);

    if (pc->page_off == 0) {
        memcpy(px->pend, in, pc->len);
        px->pend_len = (uint32_t)pc->len;
        px->pend_pfn = pc->pfn;
        return 0;
    }

    if (px->pend_len && px->pend_len == pc->page_off &&
        px->pend_pfn == pc->pfn) {
        memcpy(px->pend + px->pend_len, in, pc->len);
        px->pend_len += (uint32_t)pc->len;
        if (px->pend_len < PAGE)
            return 0;
        px->pend_len = 0;
        return encode_page(px, ops, limit, pc->pfn, px->pend);
    }

    /* The rest of a page flushed early: its start went as LITERAL. */
    rc = put_literal(px, ops, limit, in, pc->len);
    return rc;
}

int xlmig__pagex_encode(struct xlmig__pagex *px, const uint8_t *in,
                        size_t len, struct xlmig__buf *ops, size_t ops_limit,
                        size_t *out_len_r)
{
    size_t held_before = px->pend_len, done = 0;
    int rc = 0;

    *out_len_r = 0;
    px->lit_buf = NULL;
    while (done < len) {
        struct xlmig__follow_piece pc;
        size_t n = xlmig__follow_next(&px->follow, in + done, len - done,
                                      &pc);

        rc = encode_piece(px, ops, ops_limit, &pc, in + done);
        if (rc)
            goto out;
        done += n;
    }
    px->st.bytes_in += len;
    *out_len_r = held_before + len - px->pend_len;
out:
    px->lit_buf = NULL;
    return rc;
}

int xlmig__pagex_flush(struct xlmig__pagex *px, struct xlmig__buf *ops,
                       size_t ops_limit, size_t *out_len_r)
{
    size_t held = px->pend_len;
    int rc;

    px->lit_buf = NULL;
    rc = flush_pending(px, ops, ops_limit);
    px->lit_buf = NULL;
    if (rc)
        return rc;
    *out_len_r += held;
    return 0;
}

void xlmig__pagex_get_stats(const struct xlmig__pagex *px,
                            struct xlmig__pagex_stats *st_r)
{
    *st_r = px->st;
    st_r->following =
        xlmig__follow_status(&px->follow) == XLMIG__FOLLOW_FOLLOWING;
    xlmig__strlcpy(st_r->stopped_why, xlmig__follow_why(&px->follow),
                   sizeof(st_r->stopped_why));
}

/* ------------------------------------------------------------ decoder */

static int bad(char *why, size_t why_len, size_t at, const char *fmt, ...)
    XLMIG__PRINTF(4, 5);

static int bad(char *why, size_t why_len, size_t at, const char *fmt, ...)
{
    va_list ap;
    int n;

    if (!why || !why_len)
        return LIBXLMIG_ERR_PROTOCOL;
    n = snprintf(why, why_len, "op at byte %zu: ", at);
    if (n >= 0 && (size_t)n < why_len) {
        va_start(ap, fmt);
        vsnprintf(why + n, why_len - (size_t)n, fmt, ap);
        va_end(ap);
    }
    return LIBXLMIG_ERR_PROTOCOL;
}

static const char *op_name(uint8_t op)
{
    switch (op) {
    case XLMIG__OP_LITERAL: return "LITERAL";
    case XLMIG__OP_ZERO: return "ZERO";
    case XLMIG__OP_PAGE: return "PAGE";
    case XLMIG__OP_DELTA: return "DELTA";
    case XLMIG__OP_DROP: return "DROP";
    default: return "?";
    }
}

/* Room for @n output bytes, or why not. */
static int out_room(struct xlmig__buf *out, size_t n, size_t limit,
                    uint8_t **p_r, char *why, size_t why_len, size_t at)
{
    int rc;

    if (n > limit || out->len > limit - n)
        return bad(why, why_len, at, "output over the limit of %zu bytes",
                   limit);
    rc = xlmig__buf_reserve(out, n, limit);
    if (rc)
        return rc;
    *p_r = out->data + out->len;
    out->len += n;
    return 0;
}

/* One decode call: where its ops write and where a complaint goes. */
struct decoder {
    struct xlmig__pagex *px;
    struct xlmig__buf *out;
    size_t out_limit;
    char *why;
    size_t why_len;
};

/* LITERAL at byte @at (@f its fields, @left bytes after the opcode):
 * its bytes copied out; *used_r the op's length. */
static int decode_literal(const struct decoder *d, const uint8_t *f,
                          size_t left, size_t at, size_t *used_r)
{
    uint8_t *p;
    uint32_t n;
    int rc;

    if (left < 4)
        return bad(d->why, d->why_len, at, "truncated LITERAL");
    n = xlmig__get_be32(f);
    if (n > left - 4)
        return bad(d->why, d->why_len, at,
                   "truncated LITERAL: %u bytes, %zu left", n, left - 4);
    rc = out_room(d->out, n, d->out_limit, &p, d->why, d->why_len, at);
    if (rc)
        return rc;
    memcpy(p, f + 4, n);
    *used_r = OP_LITERAL_LEN + n;
    return 0;
}

/* ZERO, DROP or PAGE (@op): a page out and into the cache, or a cache
 * slot emptied; *used_r the op's length. */
static int decode_pfn_op(const struct decoder *d, uint8_t op,
                         const uint8_t *f, size_t left, size_t at,
                         size_t *used_r)
{
    size_t need = op == XLMIG__OP_PAGE ? OP_PAGE_LEN - 1 : 8;
    struct slot s;
    uint64_t pfn;
    uint8_t *p;
    int rc;

    if (left < need)
        return bad(d->why, d->why_len, at, "truncated %s", op_name(op));
    pfn = xlmig__get_be64(f);
    if (op == XLMIG__OP_DROP) {
        cache_drop(d->px, pfn);
        *used_r = OP_PFN_LEN;
        return 0;
    }
    rc = out_room(d->out, PAGE, d->out_limit, &p, d->why, d->why_len, at);
    if (rc)
        return rc;
    rc = slot_of(d->px, pfn, true, &s);
    if (rc)
        return rc;
    if (op == XLMIG__OP_ZERO) {
        memset(p, 0, PAGE);
        slot_set(&s, pfn, SLOT_ZERO, NULL);
        *used_r = OP_PFN_LEN;
    } else {
        memcpy(p, f + 8, PAGE);
        slot_set(&s, pfn, SLOT_DATA, f + 8);
        *used_r = OP_PAGE_LEN;
    }
    return 0;
}

/* Check every run of a DELTA with @nruns runs, before anything is
 * touched; *rpos_r where its runs end (from @f). */
static int delta_runs_check(const struct decoder *d, const uint8_t *f,
                            size_t left, size_t at, size_t nruns,
                            size_t *rpos_r)
{
    size_t i, rpos = OP_DELTA_HDR_LEN - 1;

    for (i = 0; i < nruns; i++) {
        uint16_t off, rlen;

        if (left - rpos < RUN_HDR_LEN)
            return bad(d->why, d->why_len, at,
                       "truncated DELTA: run %zu of %zu", i, nruns);
        off = xlmig__get_be16(f + rpos);
        rlen = xlmig__get_be16(f + rpos + 2);
        if ((uint32_t)off + rlen > PAGE)
            return bad(d->why, d->why_len, at,
                       "DELTA run %zu (offset %u, length %u) "
                       "outside the page", i, off, rlen);
        if (left - rpos - RUN_HDR_LEN < rlen)
            return bad(d->why, d->why_len, at,
                       "truncated DELTA: run %zu of %zu", i, nruns);
        rpos += RUN_HDR_LEN + rlen;
    }
    *rpos_r = rpos;
    return 0;
}

/* DELTA: its runs applied to the cached page, which goes out; *used_r
 * the op's length. */
static int decode_delta(const struct decoder *d, const uint8_t *f,
                        size_t left, size_t at, size_t *used_r)
{
    size_t nruns, i, rpos;
    uint8_t *cached, *p;
    struct slot s;
    uint64_t pfn;
    int rc;

    if (left < OP_DELTA_HDR_LEN - 1)
        return bad(d->why, d->why_len, at, "truncated DELTA");
    pfn = xlmig__get_be64(f);
    nruns = xlmig__get_be16(f + 8);
    rc = delta_runs_check(d, f, left, at, nruns, &rpos);
    if (rc)
        return rc;
    if (!d->px->nslots)
        return bad(d->why, d->why_len, at, "DELTA without a page cache");
    slot_of(d->px, pfn, false, &s);     /* never allocates */
    if (!slot_holds(&s, pfn)) {
        if (s.b && s.b->state[s.i] != SLOT_EMPTY)
            return bad(d->why, d->why_len, at,
                       "DELTA for pfn 0x%llx, but its cache slot "
                       "holds pfn 0x%llx",
                       (unsigned long long)pfn,
                       (unsigned long long)s.b->tag[s.i]);
        return bad(d->why, d->why_len, at,
                   "DELTA for pfn 0x%llx, but its cache slot is "
                   "empty", (unsigned long long)pfn);
    }
    rc = out_room(d->out, PAGE, d->out_limit, &p, d->why, d->why_len, at);
    if (rc)
        return rc;
    cached = slot_writable(&s);
    rpos = OP_DELTA_HDR_LEN - 1;
    for (i = 0; i < nruns; i++) {
        uint16_t off = xlmig__get_be16(f + rpos);
        uint16_t rlen = xlmig__get_be16(f + rpos + 2);

        memcpy(cached + off, f + rpos + RUN_HDR_LEN, rlen);
        rpos += RUN_HDR_LEN + rlen;
    }
    memcpy(p, cached, PAGE);
    *used_r = 1 + rpos;
    return 0;
}

int xlmig__pagex_decode(struct xlmig__pagex *px, const uint8_t *ops,
                        size_t len, struct xlmig__buf *out, size_t out_limit,
                        char *why, size_t why_len)
{
    const struct decoder d = { px, out, out_limit, why, why_len };
    size_t pos = 0;

    if (why && why_len)
        why[0] = '\0';
    while (pos < len) {
        size_t at = pos, left = len - pos - 1, used = 0;
        const uint8_t *f = ops + pos + 1;
        uint8_t op = ops[pos];
        int rc;

        switch (op) {
        case XLMIG__OP_LITERAL:
            rc = decode_literal(&d, f, left, at, &used);
            break;
        case XLMIG__OP_ZERO:
        case XLMIG__OP_DROP:
        case XLMIG__OP_PAGE:
            rc = decode_pfn_op(&d, op, f, left, at, &used);
            break;
        case XLMIG__OP_DELTA:
            rc = decode_delta(&d, f, left, at, &used);
            break;
        default:
            return bad(why, why_len, at, "unknown opcode %u", op);
        }
        if (rc)
            return rc;
        pos += used;
    }
    return 0;
}

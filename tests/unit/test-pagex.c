/* SPDX-License-Identifier: LGPL-2.1-only */
/*
 * The page transform (libxlmig/pagex.c): byte-exact round trips of
 * generated streams however they are cut and flushed, op counts, cache
 * eviction, and rejection of malformed op streams.
 */
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "pagex.h"

#define GEN_STREAM_NO_MAIN
#include "../tools/gen-stream.c"

#include "testutil.h"
#include "testmem.h"

#define OPS_LIMIT (64u << 20)

/* ------------------------------------------------------------ helpers */

/* A stream from a synthetic image of @npages pages. */
static struct mem *gen(uint64_t npages, const char *rounds, unsigned batch,
                       int layer, uint64_t seed, struct gs_stats *st)
{
    struct gs_opts o;
    struct gs_stats st_local;
    struct gs_sink k = { 0 };
    struct mem *m = mem_new();
    uint8_t *img = gs_synthetic(npages, seed);

    assert_non_null(img);
    gs_opts_default(&o);
    o.seed = seed;
    o.batch = batch;
    o.layer = layer;
    assert_int_equal(gs_parse_rounds(rounds, &o), 0);
    k.write = mem_write;
    k.page_at = mem_page_at;
    k.opaque = m;
    assert_int_equal(gs_generate(img, npages, &o, &k, st ? st : &st_local),
                     0);
    free(img);
    return m;
}

/* Where to cut the input and whether to flush after each piece. */
struct plan {
    const size_t *cuts;         /* increasing cut offsets, or NULL */
    size_t ncuts;
    size_t max_chunk;           /* random chunks of 1..max_chunk, or 0 */
    unsigned flush_pct;         /* chance of a flush after a chunk */
    uint64_t seed;
};

/*
 * Encode @in by @plan with a transform of @slots, decode each frame with
 * another, and check the result is @in byte for byte.  Returns the total
 * op bytes; *st_r gets the encoder's statistics.
 */
static size_t roundtrip(const uint8_t *in, size_t len, uint32_t slots,
                        const struct plan *plan,
                        struct xlmig__pagex_stats *st_r)
{
    struct xlmig__pagex *enc = NULL, *dec = NULL;
    struct xlmig__buf ops, out;
    uint64_t rng = plan->seed;
    size_t pos = 0, cut_i = 0, op_total = 0;
    char why[256];

    xlmig__buf_init(&ops);
    xlmig__buf_init(&out);
    assert_int_equal(xlmig__pagex_new(slots, &enc), 0);
    assert_int_equal(xlmig__pagex_new(slots, &dec), 0);
    while (pos < len) {
        size_t n, produced = 0, before = out.len;
        bool last, flush;

        if (plan->cuts && cut_i < plan->ncuts)
            n = plan->cuts[cut_i++] - pos;
        else if (plan->max_chunk)
            n = 1 + (size_t)gs_below(&rng, plan->max_chunk);
        else
            n = len - pos;
        if (n > len - pos)
            n = len - pos;
        last = pos + n == len;
        flush = last || (plan->flush_pct &&
                         gs_below(&rng, 100) < plan->flush_pct);
        ops.len = 0;
        assert_int_equal(xlmig__pagex_encode(enc, in + pos, n, &ops,
                                             OPS_LIMIT, &produced), 0);
        if (flush)
            assert_int_equal(xlmig__pagex_flush(enc, &ops, OPS_LIMIT,
                                                &produced), 0);
        op_total += ops.len;
        if (xlmig__pagex_decode(dec, ops.data, ops.len, &out, len, why,
                                sizeof(why)))
            fail_msg("decode failed at input %zu: %s", pos, why);
        assert_int_equal(out.len - before, produced);
        pos += n;
    }
    assert_int_equal(out.len, len);
    if (len && memcmp(out.data, in, len)) {
        size_t i = 0;

        while (out.data[i] == in[i])
            i++;
        fail_msg("output differs from input at byte %zu of %zu", i, len);
    }
    if (st_r)
        xlmig__pagex_get_stats(enc, st_r);
    xlmig__buf_dispose(&ops);
    xlmig__buf_dispose(&out);
    xlmig__pagex_free(enc);
    xlmig__pagex_free(dec);
    return op_total;
}

static int cmp_size(const void *a, const void *b)
{
    size_t x = *(const size_t *)a, y = *(const size_t *)b;

    return x < y ? -1 : x > y;
}

/* ------------------------------------------------------------- tests */

static void test_new_and_free(void **state)
{
    struct xlmig__pagex *px = (void *)1;
    struct xlmig__pagex_stats st;

    (void)state;
    assert_int_equal(xlmig__pagex_new(XLMIG__PAGEX_MAX_CACHE_PAGES + 1, &px),
                     LIBXLMIG_ERR_INVALID_ARGUMENT);
    assert_null(px);
    assert_int_equal(xlmig__pagex_new(XLMIG__PAGEX_MAX_CACHE_PAGES, &px), 0);
    xlmig__pagex_get_stats(px, &st);
    assert_true(st.following);
    assert_string_equal(st.stopped_why, "");
    xlmig__pagex_free(px);
    assert_int_equal(xlmig__pagex_new(0, &px), 0);
    xlmig__pagex_free(px);
    xlmig__pagex_free(NULL);
}

/* Random chunk sizes and flushes, every layer, several cache sizes. */
static void test_roundtrip_random_chunks(void **state)
{
    static const struct {
        int layer;
        unsigned batch;
        uint32_t slots;
        size_t max_chunk;
        unsigned flush_pct;
    } cases[] = {
        { GS_LAYER_XL, 1024, 1024, 70000, 0 },
        { GS_LAYER_XL, 7, 1024, 5000, 30 },
        { GS_LAYER_XL, 3, 16, 9000, 50 },
        { GS_LAYER_LIBXL, 64, 1, 4096, 10 },
        { GS_LAYER_LIBXC, 5, 0, 3000, 20 },
        { GS_LAYER_XL, 13, 100, 1, 0 },
        { GS_LAYER_XL, 13, 100, 17, 100 },
    };
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        uint64_t npages = cases[i].max_chunk < 100 ? 6 : 80;
        struct mem *m = gen(npages, "50,20", cases[i].batch, cases[i].layer,
                            i + 1, NULL);
        struct plan p = { NULL, 0, cases[i].max_chunk, cases[i].flush_pct,
                          i + 100 };
        struct xlmig__pagex_stats st;

        roundtrip(m->p, m->len, cases[i].slots, &p, &st);
        assert_int_equal(st.bytes_in, m->len);
        assert_false(st.following);             /* done, not stopped */
        assert_string_equal(st.stopped_why, "");
        assert_int_equal(st.pages, m->npages);
        if (!cases[i].slots)
            assert_int_equal(st.delta_pages, 0);
        mem_free(m);
    }
}

/*
 * One cut at each awkward place: every byte of the headers and around
 * every page start (the PAGE_DATA header and pfn array end there), the
 * middle and the last byte of pages; with and without a flush there.
 */
static void test_roundtrip_every_boundary(void **state)
{
    struct mem *m = gen(4, "100", 2, GS_LAYER_XL, 7, NULL);
    size_t *cuts = calloc(8192, sizeof(*cuts)), ncuts = 0, i, j;
    int flush;

    (void)state;
    assert_non_null(cuts);
    for (i = 1; i < m->page_off[0] + 2; i++)
        cuts[ncuts++] = i;
    for (i = 0; i < m->npages; i++) {
        size_t off = m->page_off[i];

        for (j = off - 40; j <= off + 1; j++)
            cuts[ncuts++] = j;
        cuts[ncuts++] = off + 2048;
        cuts[ncuts++] = off + 4095;
    }
    cuts[ncuts++] = m->len - 50;
    cuts[ncuts++] = m->len - 1;
    qsort(cuts, ncuts, sizeof(*cuts), cmp_size);
    for (flush = 0; flush <= 1; flush++) {
        for (i = 0; i < ncuts; i++) {
            struct plan p = { &cuts[i], 1, 0, flush ? 100 : 0, 1 };

            if (cuts[i] == 0 || cuts[i] >= m->len ||
                (i && cuts[i] == cuts[i - 1]))
                continue;
            roundtrip(m->p, m->len, 64, &p, NULL);
        }
    }
    /* All the cuts at once, flushing at each. */
    {
        size_t k = 0;
        struct plan p = { cuts, 0, 0, 100, 3 };

        for (i = 0; i < ncuts; i++)
            if (cuts[i] && cuts[i] < m->len && (!k || cuts[i] != cuts[k - 1]))
                cuts[k++] = cuts[i];
        p.ncuts = k;
        roundtrip(m->p, m->len, 64, &p, NULL);
    }
    free(cuts);
    mem_free(m);
}

/* A generated stream: zero pages, full pages and deltas as expected. */
static void test_generated_counts(void **state)
{
    struct gs_stats gst;
    struct mem *m = gen(512, "30,10,3", 1024, GS_LAYER_XL, 42, &gst);
    struct plan p = { NULL, 0, 65536, 0, 9 };
    struct xlmig__pagex_stats st;
    size_t ops;

    (void)state;
    ops = roundtrip(m->p, m->len, 1024, &p, &st);
    assert_int_equal(st.pages, gst.pages);
    assert_int_equal(st.zero_pages, gst.zero_pages);
    /* Every resent page is in the cache and changed in a few words. */
    assert_int_equal(st.delta_pages, gst.dirty_pages);
    assert_int_equal(st.full_pages, gst.first_pass_pages -
                                    gst.first_pass_zero);
    assert_true(st.delta_bytes <= gst.dirty_pages * 4 * 8);
    assert_true(st.delta_bytes >= gst.dirty_pages);
    assert_true(ops < m->len);
    /* 30% + 10% + 3% of 480 pages (the VGA hole is not sent). */
    assert_int_equal(gst.dirty_pages, 144 + 48 + 14);
    assert_true(gst.first_pass_zero > 100);

    /* A cache of 64 slots for 512 pages: evictions, still exact. */
    roundtrip(m->p, m->len, 64, &p, &st);
    assert_true(st.delta_pages < gst.dirty_pages);
    mem_free(m);
}

/* Build a libxc-layer stream page by page (pfn, content). */
struct rec {
    uint64_t pfn;
    uint8_t fill;               /* page content: all @fill ... */
    uint16_t at;                /* ... with byte @at set to @val */
    uint8_t val;
};

static struct mem *build(const struct rec *recs, size_t n)
{
    struct mem *m = mem_new();
    struct gs_sink k = { 0 };
    struct gs_opts o;
    struct gs_stats st;
    uint8_t *img = calloc(64, GS_PAGE);
    size_t i;

    assert_non_null(img);
    gs_opts_default(&o);
    k.write = mem_write;
    k.page_at = mem_page_at;
    k.opaque = m;
    assert_int_equal(gs_libxc_headers(&k), 0);
    for (i = 0; i < n; i++) {
        uint8_t *page = img + recs[i].pfn * GS_PAGE;

        memset(page, recs[i].fill, GS_PAGE);
        page[recs[i].at] = recs[i].val;
        assert_int_equal(gs_page_data(&k, &o, img, &recs[i].pfn, 1, &st), 0);
    }
    assert_int_equal(gs_record(&k, XLMIG__LIBXC_REC_END, NULL, 0), 0);
    free(img);
    return m;
}

static void test_cache_eviction(void **state)
{
    /* 4 slots: pfns 1 and 5 share slot 1. */
    static const struct rec recs[] = {
        { 1, 0xaa, 0, 0xaa },   /* PAGE */
        { 1, 0xaa, 100, 1 },    /* DELTA: one byte */
        { 5, 0xbb, 0, 0xbb },   /* PAGE, evicts pfn 1 */
        { 1, 0xaa, 100, 2 },    /* PAGE again: slot holds 5 */
        { 1, 0xaa, 200, 3 },    /* DELTA: byte 100 back, byte 200 */
        { 2, 0x00, 0, 0 },      /* ZERO */
        { 2, 0x00, 4095, 9 },   /* DELTA against the zero slot */
        { 6, 0x00, 0, 0 },      /* ZERO, evicts pfn 2 */
        { 2, 0x00, 4095, 9 },   /* PAGE */
    };
    struct mem *m = build(recs, sizeof(recs) / sizeof(recs[0]));
    struct plan p = { NULL, 0, 0, 0, 1 };
    struct xlmig__pagex_stats st;

    (void)state;
    roundtrip(m->p, m->len, 4, &p, &st);
    assert_int_equal(st.pages, 9);
    assert_int_equal(st.zero_pages, 2);
    assert_int_equal(st.delta_pages, 3);
    assert_int_equal(st.full_pages, 4);
    assert_int_equal(st.delta_bytes, 1 + 2 + 1);
    /* Without a cache: no DELTA at all. */
    roundtrip(m->p, m->len, 0, &p, &st);
    assert_int_equal(st.delta_pages, 0);
    assert_int_equal(st.full_pages, 7);
    mem_free(m);
}

/* A page split by a flush goes as DROP + LITERAL; the cache forgets it. */
static void test_split_page_drops(void **state)
{
    static const struct rec recs[] = {
        { 3, 0x11, 0, 0x11 },
        { 3, 0x11, 10, 0 },     /* split by a flush below */
        { 3, 0x11, 20, 0 },     /* no DELTA: the slot was dropped */
    };
    struct mem *m = build(recs, 3);
    struct xlmig__pagex *enc;
    struct xlmig__pagex_stats st;
    struct xlmig__buf ops;
    size_t cut, produced;

    (void)state;
    assert_int_equal(m->npages, 3);
    cut = m->page_off[1] + 100;         /* in the second page */
    xlmig__buf_init(&ops);
    assert_int_equal(xlmig__pagex_new(8, &enc), 0);
    assert_int_equal(xlmig__pagex_encode(enc, m->p, cut, &ops, OPS_LIMIT,
                                         &produced), 0);
    assert_int_equal(produced, cut - 100);      /* 100 bytes held back */
    assert_int_equal(xlmig__pagex_flush(enc, &ops, OPS_LIMIT, &produced), 0);
    assert_int_equal(produced, cut);
    /* The flush ended with DROP pfn 3, LITERAL 100 bytes. */
    assert_int_equal(ops.data[ops.len - 105 - 9], XLMIG__OP_DROP);
    assert_int_equal(xlmig__get_be64(ops.data + ops.len - 105 - 8), 3);
    assert_int_equal(ops.data[ops.len - 105], XLMIG__OP_LITERAL);
    assert_int_equal(xlmig__get_be32(ops.data + ops.len - 104), 100);
    assert_int_equal(xlmig__pagex_encode(enc, m->p + cut, m->len - cut, &ops,
                                         OPS_LIMIT, &produced), 0);
    assert_int_equal(produced, m->len - cut);
    xlmig__pagex_get_stats(enc, &st);
    assert_int_equal(st.pages, 3);
    assert_int_equal(st.full_pages, 2);
    assert_int_equal(st.delta_pages, 0);
    xlmig__pagex_free(enc);
    xlmig__buf_dispose(&ops);

    {
        struct plan p = { &cut, 1, 0, 100, 1 };

        roundtrip(m->p, m->len, 8, &p, NULL);
    }
    mem_free(m);
}

/* The encoder respects ops_limit. */
static void test_encode_limit(void **state)
{
    struct mem *m = gen(8, "", 1024, GS_LAYER_XL, 3, NULL);
    struct xlmig__pagex *enc;
    struct xlmig__buf ops;
    size_t produced;

    (void)state;
    xlmig__buf_init(&ops);
    assert_int_equal(xlmig__pagex_new(8, &enc), 0);
    assert_int_equal(xlmig__pagex_encode(enc, m->p, m->len, &ops, 1000,
                                         &produced),
                     LIBXLMIG_ERR_PROTOCOL);
    assert_true(ops.len <= 1000);
    xlmig__pagex_free(enc);
    xlmig__buf_dispose(&ops);
    mem_free(m);
}

/* Malformed op streams: each rejected with its reason. */
static void test_decode_malformed(void **state)
{
#define PFN(x) 0, 0, 0, 0, 0, 0, 0, (x)
    static const uint8_t trunc_lit[] = { 1, 0, 0, 0, 5, 'a', 'b' };
    static const uint8_t trunc_lit_hdr[] = { 1, 0, 0 };
    static const uint8_t unknown[] = { 1, 0, 0, 0, 1, 'x', 9 };
    static const uint8_t op0[] = { 0 };
    static const uint8_t trunc_zero[] = { 2, 0, 0, 0 };
    static const uint8_t trunc_page[] = { 3, PFN(1), 1, 2, 3 };
    static const uint8_t trunc_drop[] = { 5, 0, 0, 0, 0 };
    static const uint8_t delta_empty[] = { 4, PFN(7), 0, 0 };
    static const uint8_t delta_wrong[] = { 2, PFN(1), 4, PFN(9), 0, 0 };
    static const uint8_t delta_past[] = { 2, PFN(1), 4, PFN(1), 0, 1,
                                          0x0f, 0xa0, 0, 200 };
    static const uint8_t delta_trunc_run[] = { 2, PFN(1), 4, PFN(1), 0, 2,
                                               0, 0, 0, 1, 'a' };
    static const uint8_t delta_trunc_data[] = { 2, PFN(1), 4, PFN(1), 0, 1,
                                                0, 0, 0, 3, 'a' };
    static const uint8_t delta_trunc_hdr[] = { 4, PFN(1), 0 };
    static const uint8_t big_lit[] = { 1, 0, 0, 0, 10, '0', '1', '2', '3',
                                       '4', '5', '6', '7', '8', '9' };
    static const uint8_t zero[] = { 2, PFN(1) };
    static const uint8_t delta_dropped[] = { 2, PFN(1), 5, PFN(1), 4, PFN(1),
                                             0, 0 };
    static const uint8_t huge_lit[] = { 1, 0xff, 0xff, 0xff, 0xff, 'a' };
    static const struct {
        const uint8_t *ops;
        size_t len;
        uint32_t slots;
        size_t out_limit;
        const char *why;
    } cases[] = {
        { trunc_lit, sizeof(trunc_lit), 8, 1 << 20, "truncated LITERAL" },
        { trunc_lit_hdr, sizeof(trunc_lit_hdr), 8, 1 << 20,
          "truncated LITERAL" },
        { huge_lit, sizeof(huge_lit), 8, 1 << 20, "truncated LITERAL" },
        { unknown, sizeof(unknown), 8, 1 << 20,
          "op at byte 6: unknown opcode 9" },
        { op0, sizeof(op0), 8, 1 << 20, "unknown opcode 0" },
        { trunc_zero, sizeof(trunc_zero), 8, 1 << 20, "truncated ZERO" },
        { trunc_page, sizeof(trunc_page), 8, 1 << 20, "truncated PAGE" },
        { trunc_drop, sizeof(trunc_drop), 8, 1 << 20, "truncated DROP" },
        { delta_empty, sizeof(delta_empty), 8, 1 << 20,
          "DELTA for pfn 0x7, but its cache slot is empty" },
        { delta_wrong, sizeof(delta_wrong), 8, 1 << 20,
          "DELTA for pfn 0x9, but its cache slot holds pfn 0x1" },
        { delta_past, sizeof(delta_past), 8, 1 << 20,
          "DELTA run 0 (offset 4000, length 200) outside the page" },
        { delta_trunc_run, sizeof(delta_trunc_run), 8, 1 << 20,
          "truncated DELTA: run 1 of 2" },
        { delta_trunc_data, sizeof(delta_trunc_data), 8, 1 << 20,
          "truncated DELTA: run 0 of 1" },
        { delta_trunc_hdr, sizeof(delta_trunc_hdr), 8, 1 << 20,
          "truncated DELTA" },
        { delta_empty, sizeof(delta_empty), 0, 1 << 20,
          "DELTA without a page cache" },
        { delta_dropped, sizeof(delta_dropped), 8, 1 << 20,
          "cache slot is empty" },
        { big_lit, sizeof(big_lit), 8, 5, "output over the limit of 5" },
        { zero, sizeof(zero), 8, 4095, "output over the limit of 4095" },
    };
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct xlmig__pagex *dec;
        struct xlmig__buf out;
        char why[256];
        int rc;

        xlmig__buf_init(&out);
        assert_int_equal(xlmig__pagex_new(cases[i].slots, &dec), 0);
        rc = xlmig__pagex_decode(dec, cases[i].ops, cases[i].len, &out,
                                 cases[i].out_limit, why, sizeof(why));
        if (rc != LIBXLMIG_ERR_PROTOCOL)
            fail_msg("case %zu: rc %d, expected PROTOCOL", i, rc);
        assert_contains(why, cases[i].why);
        assert_true(out.len <= cases[i].out_limit);
        /* A NULL reason buffer is fine too. */
        assert_int_equal(xlmig__pagex_decode(dec, cases[i].ops, cases[i].len,
                                             &out, cases[i].out_limit, NULL,
                                             0),
                         LIBXLMIG_ERR_PROTOCOL);
        xlmig__buf_dispose(&out);
        xlmig__pagex_free(dec);
    }
#undef PFN
}

/* A hand-written op stream decodes to what the spec says. */
static void test_decode_by_hand(void **state)
{
    static const uint8_t ops[] = {
        1, 0, 0, 0, 3, 'a', 'b', 'c',           /* LITERAL "abc" */
        2, 0, 0, 0, 0, 0, 0, 0, 9,              /* ZERO pfn 9 */
        4, 0, 0, 0, 0, 0, 0, 0, 9, 0, 2,        /* DELTA pfn 9, 2 runs */
        0, 0, 0, 2, 'x', 'y',                   /* at 0: "xy" */
        0x0f, 0xff, 0, 1, 'z',                  /* at 4095: "z" */
        4, 0, 0, 0, 0, 0, 0, 0, 9, 0, 0,        /* DELTA, no runs */
        5, 0, 0, 0, 0, 0, 0, 0, 9,              /* DROP pfn 9 */
        5, 0, 0, 0, 0, 0, 0, 0, 3,              /* DROP of an empty slot */
    };
    struct xlmig__pagex *dec;
    struct xlmig__buf out;
    char why[128];

    (void)state;
    xlmig__buf_init(&out);
    assert_int_equal(xlmig__pagex_new(4, &dec), 0);
    assert_int_equal(xlmig__pagex_decode(dec, ops, sizeof(ops), &out, 1 << 20,
                                         why, sizeof(why)), 0);
    assert_int_equal(out.len, 3 + 3 * 4096);
    assert_memory_equal(out.data, "abc", 3);
    assert_int_equal(out.data[3], 0);
    assert_int_equal(out.data[3 + 4095], 0);
    assert_memory_equal(out.data + 3 + 4096, "xy", 2);
    assert_int_equal(out.data[3 + 4096 + 2], 0);
    assert_int_equal(out.data[3 + 4096 + 4095], 'z');
    assert_memory_equal(out.data + 3 + 4096, out.data + 3 + 8192, 4096);
    xlmig__buf_dispose(&out);
    xlmig__pagex_free(dec);
}

/* Read the first @max bytes of the zstd file @path. */
static uint8_t *read_zst(const char *path, size_t max, size_t *len_r)
{
    char cmd[4200];
    uint8_t *buf = malloc(max);
    size_t len = 0, r;
    FILE *p;

    assert_non_null(buf);
    snprintf(cmd, sizeof(cmd), "zstd -dc '%s' 2>/dev/null", path);
    p = popen(cmd, "r");
    assert_non_null(p);
    while (len < max && (r = fread(buf + len, 1, max - len, p)) > 0)
        len += r;
    pclose(p);
    *len_r = len;
    return buf;
}

/*
 * The real busy guest: a stream of its first 4 MiB with dirty rounds
 * 30,10,3 round-trips exactly.  Fails when the corpus is missing.
 */
static void test_corpus_busy(void **state)
{
    const char *src = getenv("XLMIG_SRCDIR");
    char path[4096];
    struct gs_opts o;
    struct gs_stats gst;
    struct gs_sink k = { 0 };
    struct mem *m = mem_new();
    struct plan p = { NULL, 0, 200000, 0, 77 };
    struct xlmig__pagex_stats st;
    size_t len, ops;
    uint8_t *img;
    FILE *f;

    (void)state;
    snprintf(path, sizeof(path), "%s/../shared/corpus/guest-busy-256m.raw.zst",
             src ? src : ".");
    f = fopen(path, "rb");
    if (!f)
        fail_msg("guest memory corpus missing: %s", path);
    fclose(f);
    img = read_zst(path, 4u << 20, &len);
    assert_int_equal(len, 4u << 20);

    gs_opts_default(&o);
    assert_int_equal(gs_parse_rounds("30,10,3", &o), 0);
    k.write = mem_write;
    k.opaque = m;
    assert_int_equal(gs_generate(img, len / GS_PAGE, &o, &k, &gst), 0);
    ops = roundtrip(m->p, m->len, 4096, &p, &st);
    assert_int_equal(st.zero_pages, gst.zero_pages);
    assert_int_equal(st.delta_pages, gst.dirty_pages);
    assert_true(ops < m->len * 3 / 4);
    /* Flushes split some pages: fewer deltas, still exact. */
    p.flush_pct = 5;
    roundtrip(m->p, m->len, 4096, &p, &st);
    assert_true(st.delta_pages > gst.dirty_pages * 9 / 10);
    free(img);
    mem_free(m);
}

/* The gen-stream tool's own output round-trips too. */
static void test_gen_stream_tool(void **state)
{
    const char *bd = getenv("XLMIG_BUILDDIR");
    char cmd[4200];
    uint8_t *buf = malloc(4u << 20);
    size_t len = 0, r;
    struct plan p = { NULL, 0, 10000, 0, 5 };
    struct xlmig__pagex_stats st;
    FILE *f;

    (void)state;
    assert_non_null(buf);
    snprintf(cmd, sizeof(cmd),
             "'%s/tests/tools/gen-stream' --synthetic 1M --rounds 20,5 "
             "--seed 3", bd ? bd : "build");
    f = popen(cmd, "r");
    assert_non_null(f);
    while ((r = fread(buf + len, 1, (4u << 20) - len, f)) > 0)
        len += r;
    assert_int_equal(pclose(f), 0);
    assert_true(len > (1u << 20));
    roundtrip(buf, len, 512, &p, &st);
    assert_int_equal(st.delta_pages, (256 - 32) * 20 / 100 +
                                     (256 - 32) * 5 / 100);
    free(buf);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_new_and_free),
        cmocka_unit_test(test_roundtrip_random_chunks),
        cmocka_unit_test(test_roundtrip_every_boundary),
        cmocka_unit_test(test_generated_counts),
        cmocka_unit_test(test_cache_eviction),
        cmocka_unit_test(test_split_page_drops),
        cmocka_unit_test(test_encode_limit),
        cmocka_unit_test(test_decode_malformed),
        cmocka_unit_test(test_decode_by_hand),
        cmocka_unit_test(test_corpus_busy),
        cmocka_unit_test(test_gen_stream_tool),
    };

    return cmocka_run_group_tests_name("pagex", tests, NULL, NULL);
}

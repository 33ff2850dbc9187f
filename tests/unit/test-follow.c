/* SPDX-License-Identifier: LGPL-2.1-only */
/*
 * The record follower (libxlmig/follow.c): page positions found exactly
 * however the stream is chunked; what it cannot parse makes it stop,
 * with a reason, and the page transform still reproduces every byte.
 */
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "follow.h"
#include "internal.h"
#include "pagex.h"

#define GEN_STREAM_NO_MAIN
#include "../tools/gen-stream.c"

#include "testutil.h"
#include "testmem.h"

static struct mem *gen(uint64_t npages, const char *rounds, unsigned batch,
                       int layer, bool trailer)
{
    struct gs_opts o;
    struct gs_stats st;
    struct gs_sink k = { 0 };
    struct mem *m = mem_new();
    uint8_t *img = gs_synthetic(npages, 5);

    assert_non_null(img);
    gs_opts_default(&o);
    o.batch = batch;
    o.layer = layer;
    o.trailer = trailer;
    assert_int_equal(gs_parse_rounds(rounds, &o), 0);
    k.write = mem_write;
    k.page_at = mem_page_at;
    k.opaque = m;
    assert_int_equal(gs_generate(img, npages, &o, &k, &st), 0);
    /* Every page position is recorded, to compare against. */
    assert_true(m->npages <= MEM_MAX_PAGES);
    free(img);
    return m;
}

/* What the follower reported. */
struct seen {
    uint64_t off[2048];
    uint64_t pfn[2048];
    size_t npages;
};

/*
 * Follow @in in chunks of 1..@max_chunk bytes (0: all at once); check
 * the pieces tile the input and pages come whole and in order.
 */
static void follow_all(struct xlmig__follow *f, const uint8_t *in,
                       size_t len, size_t max_chunk, uint64_t seed,
                       struct seen *s)
{
    uint64_t rng = seed, page_start = 0, page_pfn = 0;
    uint32_t page_have = 0;
    size_t pos = 0;

    memset(s, 0, sizeof(*s));
    xlmig__follow_init(f);
    while (pos < len) {
        size_t chunk = max_chunk ? 1 + (size_t)gs_below(&rng, max_chunk)
                                 : len - pos;
        size_t end = pos + (chunk < len - pos ? chunk : len - pos);

        while (pos < end) {
            struct xlmig__follow_piece pc;
            size_t n = xlmig__follow_next(f, in + pos, end - pos, &pc);

            assert_true(n >= 1 && n <= end - pos);
            assert_int_equal(pc.len, n);
            if (pc.kind == XLMIG__PIECE_PAGE) {
                assert_true(pc.page_off + n <= 4096);
                if (pc.page_off == 0) {
                    assert_int_equal(page_have, 0);
                    page_start = pos;
                    page_pfn = pc.pfn;
                } else {
                    assert_int_equal(pc.page_off, page_have);
                    assert_int_equal(pc.pfn, page_pfn);
                }
                page_have = pc.page_off + (uint32_t)n;
                if (page_have == 4096) {
                    assert_true(s->npages < 2048);
                    s->off[s->npages] = page_start;
                    s->pfn[s->npages] = page_pfn;
                    s->npages++;
                    page_have = 0;
                }
            } else {
                assert_int_equal(page_have, 0);     /* no page left half */
            }
            pos += n;
        }
    }
    assert_int_equal(page_have, 0);
}

/* Encode with random chunks and flushes, decode, compare. */
static void roundtrip(const uint8_t *in, size_t len, uint64_t seed,
                      struct xlmig__pagex_stats *st_r)
{
    struct xlmig__pagex *enc, *dec;
    struct xlmig__buf ops, out;
    uint64_t rng = seed;
    size_t pos = 0;
    char why[256];

    xlmig__buf_init(&ops);
    xlmig__buf_init(&out);
    assert_int_equal(xlmig__pagex_new(256, &enc), 0);
    assert_int_equal(xlmig__pagex_new(256, &dec), 0);
    while (pos < len) {
        size_t n = 1 + (size_t)gs_below(&rng, 9000), produced = 0;

        if (n > len - pos)
            n = len - pos;
        ops.len = 0;
        assert_int_equal(xlmig__pagex_encode(enc, in + pos, n, &ops,
                                             64u << 20, &produced), 0);
        if (pos + n == len || gs_below(&rng, 4) == 0)
            assert_int_equal(xlmig__pagex_flush(enc, &ops, 64u << 20,
                                                &produced), 0);
        if (xlmig__pagex_decode(dec, ops.data, ops.len, &out, len, why,
                                sizeof(why)))
            fail_msg("decode: %s", why);
        pos += n;
    }
    assert_int_equal(out.len, len);
    assert_memory_equal(out.data, in, len);
    xlmig__pagex_get_stats(enc, st_r);
    xlmig__buf_dispose(&ops);
    xlmig__buf_dispose(&out);
    xlmig__pagex_free(enc);
    xlmig__pagex_free(dec);
}

static void test_pages_found_exactly(void **state)
{
    static const struct {
        int layer;
        unsigned batch;
        size_t max_chunk;
        bool trailer;
    } cases[] = {
        { GS_LAYER_XL, 1024, 0, true },
        { GS_LAYER_XL, 3, 1, true },
        { GS_LAYER_XL, 5, 7, false },
        { GS_LAYER_XL, 1, 5000, true },
        { GS_LAYER_LIBXL, 16, 333, false },
        { GS_LAYER_LIBXC, 2, 4097, false },
        { GS_LAYER_LIBXC, 1024, 9, false },
    };
    size_t i, j;
    struct seen *s = malloc(sizeof(*s));

    (void)state;
    assert_non_null(s);
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        /* 200 pages: the VGA hole (0xa0-0xbf) is sent without data. */
        uint64_t npages = cases[i].max_chunk == 1 ? 12 : 200;
        struct mem *m = gen(npages, "40,10", cases[i].batch, cases[i].layer,
                            cases[i].trailer);
        struct xlmig__follow *f = malloc(sizeof(*f));

        assert_non_null(f);
        follow_all(f, m->p, m->len, cases[i].max_chunk, i, s);
        if (s->npages != m->npages)
            fail_msg("case %zu: %zu pages found, %zu sent", i, s->npages,
                     m->npages);
        for (j = 0; j < m->npages; j++) {
            assert_int_equal(s->off[j], m->page_off[j]);
            assert_int_equal(s->pfn[j], m->page_pfn[j]);
        }
        assert_int_equal(xlmig__follow_status(f), XLMIG__FOLLOW_DONE);
        assert_string_equal(xlmig__follow_why(f), "");
        free(f);
        mem_free(m);
    }
    free(s);
}

/* Layout of a generated xl stream (gen-stream's record order). */
struct layout {
    size_t libxl_hdr, libxc_ctx, ihdr, dhdr, cpuid, msr, sde, pd;
};

static void layout_of(const struct mem *m, struct layout *l)
{
    l->libxl_hdr = XLMIG__XL_HDR_LEN + xlmig__get_le32(m->p + 44);
    l->libxc_ctx = l->libxl_hdr + 16;
    l->ihdr = l->libxc_ctx + 8;
    l->dhdr = l->ihdr + 24;
    l->cpuid = l->dhdr + 16;
    l->msr = l->cpuid + 8 + xlmig__get_le32(m->p + l->cpuid + 4);
    l->sde = l->msr + 8 + xlmig__get_le32(m->p + l->msr + 4);
    l->pd = l->sde + 8;
    assert_int_equal(xlmig__get_le32(m->p + l->libxc_ctx), 1);
    assert_int_equal(xlmig__get_le32(m->p + l->sde), 0x10);
    assert_int_equal(xlmig__get_le32(m->p + l->pd), 1);
}

enum { AT_START, AT_LIBXL, AT_IHDR, AT_DHDR, AT_CPUID, AT_SDE, AT_PD,
       AT_LIBXC_CTX, AT_PD2 };

static void test_stops_and_stays_literal(void **state)
{
    static const struct {
        const char *name;
        int base;
        size_t off;             /* from the base */
        size_t n;
        uint8_t bytes[8];
        const char *why;
        bool some_pages;        /* pages before the damage */
    } cases[] = {
        { "not a stream", AT_START, 0, 1, { 'Y' },
          "not an xl, libxl or libxc stream" },
        { "bad xl magic", AT_START, 20, 1, { '!' }, "xl header: bad magic" },
        { "big-endian xl", AT_START, 32, 4, { 1, 2, 3, 4 },
          "byte order 0x01020304 not followed" },
        { "legacy xl", AT_START, 36, 4, { 1, 0, 0, 0 },
          "legacy (v1) stream" },
        { "xl mandatory flag", AT_START, 36, 4, { 3, 0, 0, 4 },
          "unknown mandatory flags" },
        { "xl optional flag", AT_START, 40, 1, { 1 },
          "unknown optional flags" },
        { "xl optdata cap", AT_START, 47, 1, { 0x7f }, "over the cap" },
        { "libxl ident", AT_LIBXL, 3, 1, { 'X' }, "libxl header: bad ident" },
        { "libxl version", AT_LIBXL, 11, 1, { 3 },
          "libxl header: version 3 not followed" },
        { "libxl big-endian", AT_LIBXL, 15, 1, { 1 },
          "big-endian stream not followed" },
        { "libxl record", AT_LIBXC_CTX, 0, 1, { 9 },
          "unknown libxl record type 0x9" },
        { "libxc marker", AT_IHDR, 2, 1, { 0 }, "bad marker" },
        { "libxc id", AT_IHDR, 8, 1, { 'Y' }, "bad id" },
        { "libxc version", AT_IHDR, 15, 1, { 1 }, "version 1 not followed" },
        { "libxc big-endian", AT_IHDR, 17, 1, { 1 }, "big-endian" },
        { "domain type", AT_DHDR, 0, 1, { 9 }, "unknown domain type 9" },
        { "page_shift", AT_DHDR, 4, 1, { 16 }, "page_shift 16, not 12" },
        { "record cap", AT_CPUID, 7, 1, { 0x10 }, "over the cap" },
        { "checkpoint", AT_SDE, 0, 1, { 0x0e }, "checkpointed" },
        { "no pfns", AT_PD, 8, 4, { 0, 0, 0, 0 }, "no pfns" },
        { "pfn cap", AT_PD, 8, 4, { 0x88, 0x13, 0, 0 }, "over the cap" },
        { "short PAGE_DATA", AT_PD, 4, 4, { 16, 0, 0, 0 }, "in 16 bytes" },
        { "PAGE_DATA length", AT_PD, 4, 1, { 8 },
          "PAGE_DATA record of length" },
        { "page type", AT_PD, 16 + 7, 1, { 0x50 }, "unknown page type 0x5" },
        { "late page type", AT_PD2, 16 + 7, 1, { 0x60 },
          "unknown page type 0x6", true },
    };
    size_t i;
    struct seen *s = malloc(sizeof(*s));
    struct xlmig__follow *f = malloc(sizeof(*f));

    (void)state;
    assert_non_null(s);
    assert_non_null(f);
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct mem *m = gen(40, "50", 16, GS_LAYER_XL, true);
        struct xlmig__pagex_stats st;
        struct layout l;
        size_t base = 0;

        layout_of(m, &l);
        switch (cases[i].base) {
        case AT_LIBXL: base = l.libxl_hdr; break;
        case AT_LIBXC_CTX: base = l.libxc_ctx; break;
        case AT_IHDR: base = l.ihdr; break;
        case AT_DHDR: base = l.dhdr; break;
        case AT_CPUID: base = l.cpuid; break;
        case AT_SDE: base = l.sde; break;
        case AT_PD: base = l.pd; break;
        case AT_PD2:
            /* The second PAGE_DATA record: after 16 pages of the first. */
            base = l.pd + 8 + 8 + 16 * 8 + 16 * 4096;
            assert_int_equal(xlmig__get_le32(m->p + base), 1);
            break;
        default: break;
        }
        memcpy(m->p + base + cases[i].off, cases[i].bytes, cases[i].n);

        follow_all(f, m->p, m->len, 1000, i, s);
        if (xlmig__follow_status(f) != XLMIG__FOLLOW_STOPPED)
            fail_msg("%s: still following", cases[i].name);
        assert_contains(xlmig__follow_why(f), cases[i].why);
        if (cases[i].some_pages)
            assert_int_equal(s->npages, 16);
        else
            assert_int_equal(s->npages, 0);

        /* The transform passes it all through, byte for byte. */
        roundtrip(m->p, m->len, i, &st);
        assert_false(st.following);
        assert_contains(st.stopped_why, cases[i].why);
        assert_int_equal(st.pages, s->npages);
        mem_free(m);
    }
    free(f);
    free(s);
}

/* Bytes after the libxl END are opaque; a short stream is harmless. */
static void test_after_end_and_short(void **state)
{
    struct mem *m = gen(8, "", 1024, GS_LAYER_XL, false);
    static const char tail[] = "domain is yours, you are cleared to unpause";
    struct xlmig__follow *f = malloc(sizeof(*f));
    struct seen *s = malloc(sizeof(*s));
    struct xlmig__pagex_stats st;
    size_t full = m->len, cut;

    (void)state;
    assert_non_null(f);
    assert_non_null(s);
    /* Something after END that looks like a stream: not followed. */
    mem_write(m, m->p, 4096 * 3);
    mem_write(m, tail, sizeof(tail));
    follow_all(f, m->p, m->len, 777, 1, s);
    assert_int_equal(xlmig__follow_status(f), XLMIG__FOLLOW_DONE);
    assert_int_equal(s->npages, 8);
    roundtrip(m->p, m->len, 3, &st);
    assert_int_equal(st.pages, 8);
    assert_int_equal(st.bytes_in, m->len);

    /* Every prefix of the headers: still following, nothing found. */
    for (cut = 1; cut < 700 && cut < full; cut++) {
        follow_all(f, m->p, cut, 0, 0, s);
        assert_int_equal(xlmig__follow_status(f), XLMIG__FOLLOW_FOLLOWING);
        assert_int_equal(s->npages, 0);
    }
    /* Empty input. */
    {
        struct xlmig__follow_piece pc;

        xlmig__follow_init(f);
        assert_int_equal(xlmig__follow_next(f, m->p, 0, &pc), 0);
    }
    free(f);
    free(s);
    mem_free(m);
}

/* A stream that is not xl's at all (the other direction of xl migrate). */
static void test_receiver_direction(void **state)
{
    static const char msg[] =
        "xl migration receiver ready, send binary domain data.\n";
    struct xlmig__pagex_stats st;

    (void)state;
    roundtrip((const uint8_t *)msg, sizeof(msg), 1, &st);
    assert_false(st.following);
    assert_contains(st.stopped_why, "not an xl, libxl or libxc stream");
    assert_int_equal(st.literal_bytes, sizeof(msg));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pages_found_exactly),
        cmocka_unit_test(test_stops_and_stays_literal),
        cmocka_unit_test(test_after_end_and_short),
        cmocka_unit_test(test_receiver_direction),
    };

    return cmocka_run_group_tests_name("follow", tests, NULL, NULL);
}

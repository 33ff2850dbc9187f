/* SPDX-License-Identifier: LGPL-2.1-only */
/*
 * gen-stream: write the byte stream `xl migrate` sends for an x86 HVM
 * guest (Xen 4.17 formats, libxlmig/xen-stream-format.h), built from a
 * raw guest RAM image, with a full pass over memory and dirty rounds.
 * See docs/specs/stream-generator.md.
 *
 * The generator part (gs_*) is also compiled into the unit tests, which
 * include this file with GEN_STREAM_NO_MAIN defined.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xen-stream-format.h"

#define GS_PAGE 4096u
#define GS_MAX_ROUNDS 32
/* pfns libxc leaves unpopulated in an HVM guest: the VGA hole. */
#define GS_HOLE_START 0xa0u
#define GS_HOLE_END 0xc0u

/* Where the stream goes. */
struct gs_sink {
    /* Append @n bytes; non-zero on failure (generation stops). */
    int (*write)(void *opaque, const void *p, size_t n);
    /* Optional: a page's data starts at stream byte @off. */
    void (*page_at)(void *opaque, uint64_t off, uint64_t pfn);
    void *opaque;
    uint64_t offset;            /* bytes written so far */
};

enum { GS_LAYER_XL = 0, GS_LAYER_LIBXL = 1, GS_LAYER_LIBXC = 2 };

struct gs_opts {
    uint64_t seed;
    unsigned nrounds;
    unsigned round_pct[GS_MAX_ROUNDS];  /* percent of pages per round */
    unsigned words_min, words_max;      /* 8-byte words changed per page */
    unsigned batch;                     /* pfns per PAGE_DATA, <= 1024 */
    int layer;                          /* outermost layer written */
    bool xenstore_data;                 /* EMULATOR_XENSTORE_DATA record */
    bool trailer;                       /* xl's "cleared to unpause" */
    bool hole;                          /* VGA hole pfns sent as XTAB */
};

struct gs_stats {
    uint64_t records;           /* PAGE_DATA records */
    uint64_t pages;             /* pages with data sent */
    uint64_t zero_pages;        /* of them, all-zero when sent */
    uint64_t first_pass_pages;
    uint64_t first_pass_zero;
    uint64_t dirty_pages;       /* pages resent in the rounds */
    uint64_t xtab;              /* pfns sent without data */
    uint64_t bytes;             /* stream length */
};

static void gs_opts_default(struct gs_opts *o)
{
    memset(o, 0, sizeof(*o));
    o->seed = 1;
    o->words_min = 1;
    o->words_max = 4;
    o->batch = XLMIG__PAGE_DATA_BATCH_MAX;
    o->layer = GS_LAYER_XL;
    o->xenstore_data = true;
    o->trailer = true;
    o->hole = true;
}

/* splitmix64: small, seedable, good enough for choosing pages. */
static uint64_t gs_rand(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);

    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* Uniform in [0, n), n > 0. */
static uint64_t gs_below(uint64_t *s, uint64_t n)
{
    return gs_rand(s) % n;
}

static void gs_le16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

static void gs_le32(uint8_t *p, uint32_t v)
{
    gs_le16(p, (uint16_t)v);
    gs_le16(p + 2, (uint16_t)(v >> 16));
}

static void gs_le64(uint8_t *p, uint64_t v)
{
    gs_le32(p, (uint32_t)v);
    gs_le32(p + 4, (uint32_t)(v >> 32));
}

static void gs_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static void gs_be64(uint8_t *p, uint64_t v)
{
    gs_be32(p, (uint32_t)(v >> 32));
    gs_be32(p + 4, (uint32_t)v);
}

static int gs_put(struct gs_sink *k, const void *p, size_t n)
{
    if (!n)
        return 0;
    if (k->write(k->opaque, p, n))
        return -1;
    k->offset += n;
    return 0;
}

/* A record: header, body, zero padding to 8 bytes. */
static int gs_record(struct gs_sink *k, uint32_t type, const void *body,
                     uint32_t len)
{
    static const uint8_t zeros[8];
    uint8_t h[8];

    gs_le32(h, type);
    gs_le32(h + 4, len);
    if (gs_put(k, h, sizeof(h)) || gs_put(k, body, len))
        return -1;
    return gs_put(k, zeros, (8 - len % 8) % 8);
}

static int gs_xl_header(struct gs_sink *k, uint64_t npages)
{
    char json[1024];
    uint8_t h[XLMIG__XL_HDR_LEN + 4];
    uint64_t memkb = npages * 4;
    int n;

    n = snprintf(json, sizeof(json),
                 "{\n"
                 "    \"c_info\": {\n"
                 "        \"type\": \"hvm\",\n"
                 "        \"name\": \"gen-guest\",\n"
                 "        \"uuid\": \"5b7e1c2a-3d4f-4e6a-9b8c-0d1e2f3a4b5c\",\n"
                 "        \"run_hotplug_scripts\": \"True\"\n"
                 "    },\n"
                 "    \"b_info\": {\n"
                 "        \"max_vcpus\": 2,\n"
                 "        \"avail_vcpus\": [0, 1],\n"
                 "        \"max_memkb\": %llu,\n"
                 "        \"target_memkb\": %llu,\n"
                 "        \"device_model_version\": \"qemu_xen\",\n"
                 "        \"type.hvm\": {\n"
                 "            \"vga\": {\"kind\": \"std\"},\n"
                 "            \"serial_list\": [\"pty\"]\n"
                 "        }\n"
                 "    },\n"
                 "    \"on_reboot\": \"restart\"\n"
                 "}\n",
                 (unsigned long long)memkb, (unsigned long long)memkb);
    if (n < 0 || (size_t)n >= sizeof(json))
        return -1;
    n++;                        /* xl sends the trailing NUL */
    memcpy(h, XLMIG__XL_MAGIC, XLMIG__XL_MAGIC_LEN);
    gs_le32(h + XLMIG__XL_OFF_BYTEORDER, XLMIG__XL_BYTEORDER);
    gs_le32(h + XLMIG__XL_OFF_MANDATORY,
            XLMIG__XL_FLAG_JSON | XLMIG__XL_FLAG_STREAMV2);
    gs_le32(h + XLMIG__XL_OFF_OPTIONAL, 0);
    gs_le32(h + XLMIG__XL_OFF_OPTDATA_LEN, 4 + (uint32_t)n);
    gs_le32(h + XLMIG__XL_HDR_LEN, (uint32_t)n);
    if (gs_put(k, h, sizeof(h)))
        return -1;
    return gs_put(k, json, (size_t)n);
}

static int gs_libxl_header(struct gs_sink *k)
{
    uint8_t h[XLMIG__LIBXL_HDR_LEN];

    gs_be64(h, XLMIG__LIBXL_IDENT);
    gs_be32(h + 8, XLMIG__LIBXL_VERSION);
    gs_be32(h + 12, 0);
    return gs_put(k, h, sizeof(h));
}

static int gs_libxc_headers(struct gs_sink *k)
{
    uint8_t ih[XLMIG__LIBXC_IHDR_LEN] = { 0 }, dh[XLMIG__LIBXC_DHDR_LEN];

    gs_be64(ih, XLMIG__LIBXC_MARKER);
    gs_be32(ih + 8, XLMIG__LIBXC_ID);
    gs_be32(ih + 12, XLMIG__LIBXC_VERSION);
    /* options (LE stream) and reserved stay zero */
    gs_le32(dh, XLMIG__LIBXC_DOM_X86_HVM);
    gs_le16(dh + 4, 12);
    gs_le16(dh + 6, 0);
    gs_le32(dh + 8, 4);
    gs_le32(dh + 12, 17);
    if (gs_put(k, ih, sizeof(ih)))
        return -1;
    return gs_put(k, dh, sizeof(dh));
}

/* Static data: CPUID and MSR policy, then STATIC_DATA_END. */
static int gs_static_data(struct gs_sink *k)
{
    static const uint32_t leaves[][6] = {
        /* leaf, subleaf, eax, ebx, ecx, edx */
        { 0x0, 0xffffffffu, 0xd, 0x756e6547, 0x6c65746e, 0x49656e69 },
        { 0x1, 0xffffffffu, 0x000906ea, 0x00020800, 0xf7fa3203,
          0x178bfbff },
        { 0x7, 0x0, 0x0, 0x009c27ab, 0x0, 0xbc000400 },
        { 0xd, 0x0, 0x7, 0x340, 0x340, 0x0 },
        { 0xd, 0x1, 0x1, 0x0, 0x0, 0x0 },
        { 0x80000000u, 0xffffffffu, 0x80000008u, 0x0, 0x0, 0x0 },
        { 0x80000001u, 0xffffffffu, 0x0, 0x0, 0x121, 0x2c100800 },
        { 0x80000008u, 0xffffffffu, 0x3027, 0x0, 0x0, 0x0 },
    };
    static const struct { uint32_t idx; uint64_t val; } msrs[] = {
        { 0xce, 0x0 },                  /* MSR_INTEL_PLATFORM_INFO */
        { 0x10a, 0x0 },                 /* MSR_ARCH_CAPABILITIES */
    };
    uint8_t cpuid[sizeof(leaves)], msr[sizeof(msrs) / sizeof(msrs[0]) * 16];
    size_t i, j;

    for (i = 0; i < sizeof(leaves) / sizeof(leaves[0]); i++)
        for (j = 0; j < 6; j++)
            gs_le32(cpuid + 24 * i + 4 * j, leaves[i][j]);
    for (i = 0; i < sizeof(msrs) / sizeof(msrs[0]); i++) {
        gs_le32(msr + 16 * i, msrs[i].idx);
        gs_le32(msr + 16 * i + 4, 0);
        gs_le64(msr + 16 * i + 8, msrs[i].val);
    }
    if (gs_record(k, XLMIG__LIBXC_REC_X86_CPUID_POLICY, cpuid,
                  sizeof(cpuid)) ||
        gs_record(k, XLMIG__LIBXC_REC_X86_MSR_POLICY, msr, sizeof(msr)))
        return -1;
    return gs_record(k, XLMIG__LIBXC_REC_STATIC_DATA_END, NULL, 0);
}

/* End of checkpoint, as x86_hvm_end_of_checkpoint(): TSC, context, params. */
static int gs_hvm_tail(struct gs_sink *k, uint64_t npages, uint64_t seed)
{
    static const uint32_t params[] = { 1, 5, 6, 9, 12, 17, 19, 32, 33, 36,
                                       38 };
    uint8_t tsc[XLMIG__TSC_INFO_LEN] = { 0 };
    uint8_t ctx[8 + 24 + 8] = { 0 };
    uint8_t par[8 + sizeof(params) / sizeof(params[0]) * 16];
    uint64_t top = npages ? npages : 1;
    size_t i;

    gs_le32(tsc, 0);                    /* TSC_MODE_DEFAULT */
    gs_le32(tsc + 4, 2400000);          /* kHz */
    gs_le64(tsc + 8, 1000000000ull + seed % 1000);
    gs_le32(tsc + 16, 1);               /* incarnation */

    /* hvm_save_descriptor HEADER (1), hvm_save_header, then END (0). */
    gs_le16(ctx, 1);
    gs_le16(ctx + 2, 0);
    gs_le32(ctx + 4, 24);
    gs_le32(ctx + 8, 0x54381286);       /* HVM_FILE_MAGIC */
    gs_le32(ctx + 12, 1);               /* HVM_FILE_VERSION */
    gs_le64(ctx + 16, 0);               /* changeset */
    gs_le32(ctx + 24, 0x000906ea);      /* cpuid */
    gs_le32(ctx + 28, 2400000);         /* gtsc_khz */

    gs_le32(par, sizeof(params) / sizeof(params[0]));
    gs_le32(par + 4, 0);
    for (i = 0; i < sizeof(params) / sizeof(params[0]); i++) {
        uint64_t v;

        switch (params[i]) {
        case 1: v = top + 1; break;             /* STORE_PFN */
        case 5: v = top + 2; break;             /* IOREQ_PFN */
        case 6: v = top + 3; break;             /* BUFIOREQ_PFN */
        case 17: v = top + 4; break;            /* CONSOLE_PFN */
        case 19: v = 1; break;                  /* ACPI_IOPORTS_LOCATION */
        case 32: v = top + 5; break;            /* IOREQ_SERVER_PFN */
        case 33: v = 2; break;                  /* NR_IOREQ_SERVER_PAGES */
        case 36: v = 0; break;                  /* X87_FIP_WIDTH */
        case 38: v = 1; break;                  /* MCA_CAP */
        default: v = 0; break;
        }
        gs_le64(par + 8 + 16 * i, params[i]);
        gs_le64(par + 16 + 16 * i, v);
    }
    if (gs_record(k, XLMIG__LIBXC_REC_X86_TSC_INFO, tsc, sizeof(tsc)) ||
        gs_record(k, XLMIG__LIBXC_REC_HVM_CONTEXT, ctx, sizeof(ctx)))
        return -1;
    return gs_record(k, XLMIG__LIBXC_REC_HVM_PARAMS, par, sizeof(par));
}

/* libxl's emulator records for QEMU upstream, after the libxc stream. */
static int gs_emulator(struct gs_sink *k, bool xenstore_data)
{
    static const char xs[] =
        "physmap/f0000000/start_addr\0" "f0000000\0"
        "physmap/f0000000/size\0" "1000000\0"
        "physmap/f0000000/name\0" "vga.vram";
    /* QEMU's migration stream: magic "QEVM", version 3, a section, EOF. */
    static const uint8_t qemu[] = {
        'Q', 'E', 'V', 'M', 0, 0, 0, 3,
        0x07, 0, 0, 0, 0x0d, 'c', 'o', 'n', 'f', 'i', 'g', 'u', 'r', 'a',
        't', 'i', 'o', 'n', 0, 0, 0, 4, 'p', 'c', '-', 'i', '4', '4', '0',
        'f', 'x', 0x00,
    };
    uint8_t rec[8 + sizeof(xs) + sizeof(qemu)];

    gs_le32(rec, XLMIG__LIBXL_EMULATOR_QEMU_UPSTREAM);
    gs_le32(rec + 4, 0);
    if (xenstore_data) {
        memcpy(rec + 8, xs, sizeof(xs));
        if (gs_record(k, XLMIG__LIBXL_REC_EMULATOR_XENSTORE_DATA, rec,
                      8 + sizeof(xs)))
            return -1;
    }
    memcpy(rec + 8, qemu, sizeof(qemu));
    return gs_record(k, XLMIG__LIBXL_REC_EMULATOR_CONTEXT, rec,
                     8 + sizeof(qemu));
}

static bool gs_in_hole(const struct gs_opts *o, uint64_t pfn)
{
    return o->hole && pfn >= GS_HOLE_START && pfn < GS_HOLE_END;
}

static bool gs_page_zero(const uint8_t *p)
{
    size_t i;

    for (i = 0; i < GS_PAGE; i++)
        if (p[i])
            return false;
    return true;
}

/* One PAGE_DATA record of @n pfns. */
static int gs_page_data(struct gs_sink *k, const struct gs_opts *o,
                        const uint8_t *image, const uint64_t *pfns, size_t n,
                        struct gs_stats *st)
{
    uint8_t hdr[8 + 8 + 8 * XLMIG__PAGE_DATA_BATCH_MAX];
    size_t i, ndata = 0;

    for (i = 0; i < n; i++) {
        uint64_t type = gs_in_hole(o, pfns[i]) ? XLMIG__PFINFO_XTAB
                                               : XLMIG__PFINFO_NOTAB;

        if (type == XLMIG__PFINFO_NOTAB)
            ndata++;
        else
            st->xtab++;
        gs_le64(hdr + 16 + 8 * i,
                (type << XLMIG__PAGE_DATA_TYPE_SHIFT) | pfns[i]);
    }
    gs_le32(hdr, XLMIG__LIBXC_REC_PAGE_DATA);
    gs_le32(hdr + 4, (uint32_t)(8 + 8 * n + (uint64_t)GS_PAGE * ndata));
    gs_le32(hdr + 8, (uint32_t)n);
    gs_le32(hdr + 12, 0);
    if (gs_put(k, hdr, 16 + 8 * n))
        return -1;
    for (i = 0; i < n; i++) {
        const uint8_t *page = image + pfns[i] * GS_PAGE;

        if (gs_in_hole(o, pfns[i]))
            continue;
        if (k->page_at)
            k->page_at(k->opaque, k->offset, pfns[i]);
        if (gs_put(k, page, GS_PAGE))
            return -1;
        st->pages++;
        if (gs_page_zero(page))
            st->zero_pages++;
    }
    st->records++;
    return 0;
}

/* Change a few random words of a page, as a running guest would. */
static void gs_dirty(uint8_t *page, const struct gs_opts *o, uint64_t *rng)
{
    unsigned n = o->words_min, i;

    if (o->words_max > o->words_min)
        n += (unsigned)gs_below(rng, o->words_max - o->words_min + 1);
    for (i = 0; i < n; i++) {
        uint64_t v = gs_rand(rng) | 1;  /* never zero: the page changes */
        uint64_t w = gs_below(rng, GS_PAGE / 8);

        memcpy(page + 8 * w, &v, 8);
    }
}

/*
 * Write the whole stream for the @npages pages of @image (changed in
 * place by the dirty rounds) to @k.  0, or -1 when a write failed or
 * the options are bad.
 */
static int gs_generate(uint8_t *image, uint64_t npages,
                       const struct gs_opts *o, struct gs_sink *k,
                       struct gs_stats *st)
{
    uint64_t pfns[XLMIG__PAGE_DATA_BATCH_MAX];
    uint64_t rng = o->seed, pfn, eligible = 0;
    unsigned r;
    size_t n = 0;

    memset(st, 0, sizeof(*st));
    if (!o->batch || o->batch > XLMIG__PAGE_DATA_BATCH_MAX ||
        o->nrounds > GS_MAX_ROUNDS || o->words_min > o->words_max)
        return -1;
    for (pfn = 0; pfn < npages; pfn++)
        eligible += !gs_in_hole(o, pfn);

    if (o->layer == GS_LAYER_XL && gs_xl_header(k, npages))
        return -1;
    if (o->layer <= GS_LAYER_LIBXL &&
        (gs_libxl_header(k) ||
         gs_record(k, XLMIG__LIBXL_REC_LIBXC_CONTEXT, NULL, 0)))
        return -1;
    if (gs_libxc_headers(k) || gs_static_data(k))
        return -1;

    /* The first pass: every pfn. */
    for (pfn = 0; pfn < npages; pfn++) {
        pfns[n++] = pfn;
        if (n == o->batch || pfn + 1 == npages) {
            if (gs_page_data(k, o, image, pfns, n, st))
                return -1;
            n = 0;
        }
    }
    st->first_pass_pages = st->pages;
    st->first_pass_zero = st->zero_pages;

    /* Dirty rounds: a seeded choice of pages, in pfn order. */
    for (r = 0; r < o->nrounds; r++) {
        uint64_t want = eligible * (o->round_pct[r] > 100 ? 100
                                    : o->round_pct[r]) / 100;
        uint64_t left = eligible;

        for (pfn = 0; pfn < npages && want; pfn++) {
            if (gs_in_hole(o, pfn))
                continue;
            /* Selection sampling: exactly @want of the @left pages. */
            if (gs_below(&rng, left--) < want) {
                want--;
                gs_dirty(image + pfn * GS_PAGE, o, &rng);
                pfns[n++] = pfn;
                st->dirty_pages++;
                if (n == o->batch) {
                    if (gs_page_data(k, o, image, pfns, n, st))
                        return -1;
                    n = 0;
                }
            }
        }
        if (n) {
            if (gs_page_data(k, o, image, pfns, n, st))
                return -1;
            n = 0;
        }
    }

    if (gs_hvm_tail(k, npages, o->seed) ||
        gs_record(k, XLMIG__LIBXC_REC_END, NULL, 0))
        return -1;
    if (o->layer <= GS_LAYER_LIBXL &&
        (gs_emulator(k, o->xenstore_data) ||
         gs_record(k, XLMIG__LIBXL_REC_END, NULL, 0)))
        return -1;
    if (o->layer == GS_LAYER_XL && o->trailer) {
        static const char go[] =
            "domain is yours, you are cleared to unpause";

        if (gs_put(k, go, sizeof(go)))
            return -1;
    }
    st->bytes = k->offset;
    return 0;
}

/*
 * A synthetic guest image of @npages pages: zero pages, text, sparse
 * structures and random bytes, from @seed.  The caller frees it.
 */
static uint8_t *gs_synthetic(uint64_t npages, uint64_t seed)
{
    static const char *words[] = { "the ", "kernel ", "page ", "cache ",
                                   "migrate ", "xen ", "domain ", "\n",
                                   "int ", "return ", "0x", "static " };
    uint8_t *img = calloc(npages ? npages : 1, GS_PAGE);
    uint64_t rng = seed ^ 0x5eed, pfn;
    size_t i;

    if (!img)
        return NULL;
    for (pfn = 0; pfn < npages; pfn++) {
        uint8_t *p = img + pfn * GS_PAGE;
        unsigned kind = (unsigned)gs_below(&rng, 10);

        if (kind < 4)                   /* 40% zero */
            continue;
        if (kind < 6) {                 /* text */
            for (i = 0; i < GS_PAGE;) {
                const char *w = words[gs_below(&rng, 12)];
                size_t l = strlen(w);

                if (l > GS_PAGE - i)
                    l = GS_PAGE - i;
                memcpy(p + i, w, l);
                i += l;
            }
        } else if (kind < 8) {          /* sparse structures */
            for (i = 0; i < GS_PAGE; i += 64) {
                uint64_t v = gs_rand(&rng) & 0xffff;

                memcpy(p + i, &v, 8);
                p[i + 8] = (uint8_t)pfn;
            }
        } else {                        /* random */
            for (i = 0; i < GS_PAGE; i += 8) {
                uint64_t v = gs_rand(&rng);

                memcpy(p + i, &v, 8);
            }
        }
    }
    return img;
}

/* "30,10,3" into @o; -1 when malformed. */
static int gs_parse_rounds(const char *s, struct gs_opts *o)
{
    o->nrounds = 0;
    if (!*s)
        return 0;
    for (;;) {
        char *end;
        unsigned long v;

        errno = 0;
        v = strtoul(s, &end, 10);
        if (errno || end == s || v > 100 || o->nrounds == GS_MAX_ROUNDS)
            return -1;
        o->round_pct[o->nrounds++] = (unsigned)v;
        if (!*end)
            return 0;
        if (*end != ',')
            return -1;
        s = end + 1;
    }
}

#ifndef GEN_STREAM_NO_MAIN

static int file_write(void *opaque, const void *p, size_t n)
{
    return fwrite(p, 1, n, (FILE *)opaque) == n ? 0 : -1;
}

static void usage(FILE *f)
{
    fputs("usage: gen-stream [options] IMAGE\n"
          "Write the stream `xl migrate` sends for an x86 HVM guest whose "
          "RAM is the raw\nimage IMAGE ('-': standard input): a full pass "
          "over all pages, then dirty rounds.\n\n"
          "  --seed N           PRNG seed for the dirty rounds (default 1)\n"
          "  --rounds A,B,...   dirty rounds: percent of pages resent each "
          "(default none)\n"
          "  --words MIN-MAX    8-byte words changed per dirty page "
          "(default 1-4)\n"
          "  --batch N          pfns per PAGE_DATA record, 1..1024 "
          "(default 1024)\n"
          "  --size BYTES       use only the first BYTES of the image "
          "(K, M, G suffixes)\n"
          "  --synthetic BYTES  no IMAGE: a synthetic image of that size\n"
          "  --format F         xl (default), libxl or libxc: outermost "
          "layer written\n"
          "  --no-xenstore-data leave out libxl's EMULATOR_XENSTORE_DATA "
          "record\n"
          "  --no-trailer       leave out xl's message after the libxl "
          "stream\n"
          "  --no-hole          send the VGA hole (pfns 0xa0-0xbf) as "
          "pages, not XTAB\n"
          "  -o FILE            output file (default standard output)\n"
          "  --stats            summary on standard error\n"
          "  --help             this text\n", f);
}

static int parse_size(const char *s, uint64_t *v_r)
{
    char *end;
    unsigned long long v;

    errno = 0;
    v = strtoull(s, &end, 10);
    if (errno || end == s)
        return -1;
    switch (*end) {
    case 'K': case 'k': v <<= 10; end++; break;
    case 'M': case 'm': v <<= 20; end++; break;
    case 'G': case 'g': v <<= 30; end++; break;
    default: break;
    }
    if (*end)
        return -1;
    *v_r = v;
    return 0;
}

static uint8_t *read_image(const char *path, uint64_t max, uint64_t *len_r)
{
    FILE *f = strcmp(path, "-") ? fopen(path, "rb") : stdin;
    uint8_t *buf = NULL, *nb;
    size_t cap = 0, len = 0, r;

    if (!f) {
        fprintf(stderr, "gen-stream: cannot open %s: %s\n", path,
                strerror(errno));
        return NULL;
    }
    for (;;) {
        if (len == cap) {
            cap = cap ? cap * 2 : (16u << 20);
            nb = realloc(buf, cap);
            if (!nb) {
                fprintf(stderr, "gen-stream: out of memory\n");
                free(buf);
                buf = NULL;
                break;
            }
            buf = nb;
        }
        r = fread(buf + len, 1, cap - len, f);
        len += r;
        if (max && len >= max) {
            len = max;
            break;
        }
        if (r == 0) {
            if (ferror(f)) {
                fprintf(stderr, "gen-stream: reading %s: %s\n", path,
                        strerror(errno));
                free(buf);
                buf = NULL;
            }
            break;
        }
    }
    if (f != stdin)
        fclose(f);
    *len_r = len;
    return buf;
}

int main(int argc, char **argv)
{
    struct gs_opts o;
    struct gs_stats st;
    struct gs_sink k = { 0 };
    const char *image_path = NULL, *out_path = NULL;
    uint64_t size = 0, synthetic = 0, len = 0;
    bool stats = false, have_synth = false;
    uint8_t *img;
    FILE *out = stdout;
    int i, rc = 1;

    gs_opts_default(&o);
    for (i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(a, "--seed") && v) {
            o.seed = strtoull(v, NULL, 0);
            i++;
        } else if (!strcmp(a, "--rounds") && v) {
            if (gs_parse_rounds(v, &o)) {
                fprintf(stderr, "gen-stream: bad --rounds '%s'\n", v);
                return 2;
            }
            i++;
        } else if (!strcmp(a, "--words") && v) {
            if (sscanf(v, "%u-%u", &o.words_min, &o.words_max) != 2 ||
                o.words_min > o.words_max || o.words_max > 512) {
                fprintf(stderr, "gen-stream: bad --words '%s'\n", v);
                return 2;
            }
            i++;
        } else if (!strcmp(a, "--batch") && v) {
            o.batch = (unsigned)strtoul(v, NULL, 0);
            if (!o.batch || o.batch > XLMIG__PAGE_DATA_BATCH_MAX) {
                fprintf(stderr, "gen-stream: --batch must be 1..1024\n");
                return 2;
            }
            i++;
        } else if (!strcmp(a, "--size") && v) {
            if (parse_size(v, &size)) {
                fprintf(stderr, "gen-stream: bad --size '%s'\n", v);
                return 2;
            }
            i++;
        } else if (!strcmp(a, "--synthetic") && v) {
            if (parse_size(v, &synthetic)) {
                fprintf(stderr, "gen-stream: bad --synthetic '%s'\n", v);
                return 2;
            }
            have_synth = true;
            i++;
        } else if (!strcmp(a, "--format") && v) {
            if (!strcmp(v, "xl"))
                o.layer = GS_LAYER_XL;
            else if (!strcmp(v, "libxl"))
                o.layer = GS_LAYER_LIBXL;
            else if (!strcmp(v, "libxc"))
                o.layer = GS_LAYER_LIBXC;
            else {
                fprintf(stderr, "gen-stream: bad --format '%s'\n", v);
                return 2;
            }
            i++;
        } else if (!strcmp(a, "--no-xenstore-data")) {
            o.xenstore_data = false;
        } else if (!strcmp(a, "--no-trailer")) {
            o.trailer = false;
        } else if (!strcmp(a, "--no-hole")) {
            o.hole = false;
        } else if (!strcmp(a, "--stats")) {
            stats = true;
        } else if (!strcmp(a, "-o") && v) {
            out_path = v;
            i++;
        } else if (a[0] == '-' && a[1]) {
            fprintf(stderr, "gen-stream: unknown or incomplete option "
                    "'%s'\n", a);
            usage(stderr);
            return 2;
        } else if (!image_path) {
            image_path = a;
        } else {
            usage(stderr);
            return 2;
        }
    }
    if (!image_path == !have_synth) {
        fprintf(stderr, "gen-stream: give an IMAGE or --synthetic\n");
        usage(stderr);
        return 2;
    }

    if (have_synth) {
        len = synthetic;
        img = gs_synthetic(len / GS_PAGE, o.seed);
    } else {
        img = read_image(image_path, size, &len);
    }
    if (!img)
        return 1;
    if (len < GS_PAGE)
        fprintf(stderr, "gen-stream: warning: image has no whole page\n");

    if (out_path) {
        out = fopen(out_path, "wb");
        if (!out) {
            fprintf(stderr, "gen-stream: cannot create %s: %s\n", out_path,
                    strerror(errno));
            goto out;
        }
    }
    setvbuf(out, NULL, _IOFBF, 1 << 20);
    k.write = file_write;
    k.opaque = out;
    if (gs_generate(img, len / GS_PAGE, &o, &k, &st) || fflush(out)) {
        fprintf(stderr, "gen-stream: writing the stream failed: %s\n",
                strerror(errno));
        goto out;
    }
    if (stats)
        fprintf(stderr,
                "gen-stream: %llu pages of %llu bytes of image; %llu "
                "PAGE_DATA records, %llu pages sent (%llu zero), first "
                "pass %llu (%llu zero), dirty %llu, %llu pfns without "
                "data; %llu stream bytes\n",
                (unsigned long long)(len / GS_PAGE),
                (unsigned long long)len, (unsigned long long)st.records,
                (unsigned long long)st.pages,
                (unsigned long long)st.zero_pages,
                (unsigned long long)st.first_pass_pages,
                (unsigned long long)st.first_pass_zero,
                (unsigned long long)st.dirty_pages,
                (unsigned long long)st.xtab, (unsigned long long)st.bytes);
    rc = 0;
out:
    if (out && out != stdout && fclose(out) && !rc) {
        fprintf(stderr, "gen-stream: closing %s: %s\n", out_path,
                strerror(errno));
        rc = 1;
    }
    free(img);
    return rc;
}

#endif /* GEN_STREAM_NO_MAIN */

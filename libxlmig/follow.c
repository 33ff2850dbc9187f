/* SPDX-License-Identifier: LGPL-2.1-only */
/* The record follower of the page transform (follow.h). */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "buf.h"
#include "follow.h"
#include "internal.h"
#include "xen-stream-format.h"

enum {
    S_START,        /* collecting 8 bytes to tell the layer */
    S_XL_HDR,       /* collecting the xl header */
    S_XL_OPT,       /* skipping xl's optional data */
    S_LIBXL_HDR,    /* collecting the libxl header */
    S_LIBXL_REC,    /* collecting a libxl record header */
    S_LIBXL_BODY,   /* skipping a libxl record body */
    S_LIBXC_IHDR,   /* collecting the libxc image header */
    S_LIBXC_DHDR,   /* collecting the libxc domain header */
    S_LIBXC_REC,    /* collecting a libxc record header */
    S_LIBXC_BODY,   /* skipping a libxc record body */
    S_PD_HDR,       /* collecting a PAGE_DATA count */
    S_PD_PFN,       /* collecting the pfn array */
    S_PD_PAGES,     /* page data */
    S_END,          /* done or stopped: everything is other bytes */
};

enum { LAYER_XL = 1, LAYER_LIBXL, LAYER_LIBXC };

#define PAGE 4096u

static uint64_t pad8(uint64_t n)
{
    return (n + 7) & ~(uint64_t)7;
}

static void collect(struct xlmig__follow *f, int state, uint32_t want)
{
    f->state = state;
    f->hdr_have = 0;
    f->hdr_want = want;
}

static void stop(struct xlmig__follow *f, const char *fmt, ...)
    XLMIG__PRINTF(2, 3);

static void stop(struct xlmig__follow *f, const char *fmt, ...)
{
    va_list ap;
    int n;

    f->state = S_END;
    f->status = XLMIG__FOLLOW_STOPPED;
    va_start(ap, fmt);
    n = vsnprintf(f->why, sizeof(f->why), fmt, ap);
    va_end(ap);
    if (n >= 0 && (size_t)n < sizeof(f->why))
        snprintf(f->why + n, sizeof(f->why) - (size_t)n,
                 " (stream byte %llu)", (unsigned long long)f->offset);
}

static void done(struct xlmig__follow *f)
{
    f->state = S_END;
    f->status = XLMIG__FOLLOW_DONE;
}

void xlmig__follow_init(struct xlmig__follow *f)
{
    memset(f, 0, offsetof(struct xlmig__follow, pfns));
    f->status = XLMIG__FOLLOW_FOLLOWING;
    collect(f, S_START, 8);
}

/* Skip @n bytes, then go to @next (at once when @n is 0). */
static void skip_then(struct xlmig__follow *f, int skip_state, uint64_t n,
                      int next, uint32_t next_want)
{
    if (n) {
        f->state = skip_state;
        f->skip = n;
    } else {
        collect(f, next, next_want);
    }
}

static void start_libxc_records(struct xlmig__follow *f)
{
    collect(f, S_LIBXC_REC, XLMIG__REC_HDR_LEN);
}

static void got_start(struct xlmig__follow *f)
{
    const uint8_t *h = f->hdr;

    if (!memcmp(h, XLMIG__XL_MAGIC, 8)) {
        f->layer = LAYER_XL;
        f->state = S_XL_HDR;
        f->hdr_want = XLMIG__XL_HDR_LEN;
    } else if (xlmig__get_be64(h) == XLMIG__LIBXL_IDENT) {
        f->layer = LAYER_LIBXL;
        f->state = S_LIBXL_HDR;
        f->hdr_want = XLMIG__LIBXL_HDR_LEN;
    } else if (xlmig__get_be64(h) == XLMIG__LIBXC_MARKER) {
        f->layer = LAYER_LIBXC;
        f->libxc_seen = true;
        f->state = S_LIBXC_IHDR;
        f->hdr_want = XLMIG__LIBXC_IHDR_LEN;
    } else {
        stop(f, "not an xl, libxl or libxc stream");
    }
}

static void got_xl_hdr(struct xlmig__follow *f)
{
    const uint8_t *h = f->hdr;
    uint32_t order = xlmig__get_le32(h + XLMIG__XL_OFF_BYTEORDER);
    uint32_t mand = xlmig__get_le32(h + XLMIG__XL_OFF_MANDATORY);
    uint32_t opt = xlmig__get_le32(h + XLMIG__XL_OFF_OPTIONAL);
    uint32_t optlen = xlmig__get_le32(h + XLMIG__XL_OFF_OPTDATA_LEN);

    if (memcmp(h, XLMIG__XL_MAGIC, XLMIG__XL_MAGIC_LEN)) {
        stop(f, "xl header: bad magic");
    } else if (order != XLMIG__XL_BYTEORDER) {
        stop(f, "xl header: byte order 0x%08x not followed (only "
             "little-endian)", xlmig__get_be32(h + XLMIG__XL_OFF_BYTEORDER));
    } else if (mand & ~(XLMIG__XL_FLAG_JSON | XLMIG__XL_FLAG_STREAMV2)) {
        stop(f, "xl header: unknown mandatory flags 0x%x", mand);
    } else if (!(mand & XLMIG__XL_FLAG_STREAMV2)) {
        stop(f, "xl header: legacy (v1) stream not followed");
    } else if (opt) {
        stop(f, "xl header: unknown optional flags 0x%x", opt);
    } else if (optlen > XLMIG__FOLLOW_MAX_OPTDATA) {
        stop(f, "xl header: optional data of %u bytes over the cap", optlen);
    } else {
        skip_then(f, S_XL_OPT, optlen, S_LIBXL_HDR, XLMIG__LIBXL_HDR_LEN);
    }
}

static void got_libxl_hdr(struct xlmig__follow *f)
{
    const uint8_t *h = f->hdr;
    uint32_t version = xlmig__get_be32(h + 8);
    uint32_t options = xlmig__get_be32(h + 12);

    if (xlmig__get_be64(h) != XLMIG__LIBXL_IDENT)
        stop(f, "libxl header: bad ident");
    else if (version != XLMIG__LIBXL_VERSION)
        stop(f, "libxl header: version %u not followed", version);
    else if (options & XLMIG__LIBXL_OPT_BIG_ENDIAN)
        stop(f, "libxl header: big-endian stream not followed");
    else if (options & ~XLMIG__LIBXL_OPT_LEGACY)
        stop(f, "libxl header: unknown options 0x%x", options);
    else
        collect(f, S_LIBXL_REC, XLMIG__REC_HDR_LEN);
}

static void got_libxl_rec(struct xlmig__follow *f)
{
    uint32_t type = xlmig__get_le32(f->hdr);
    uint32_t len = xlmig__get_le32(f->hdr + 4);

    f->rec_type = type;
    f->rec_len = len;
    switch (type) {
    case XLMIG__LIBXL_REC_END:
        if (len)
            stop(f, "libxl END record of length %u", len);
        else
            done(f);
        break;
    case XLMIG__LIBXL_REC_LIBXC_CONTEXT:
        if (len)
            stop(f, "libxl LIBXC_CONTEXT record of length %u", len);
        else if (f->libxc_seen)
            stop(f, "second LIBXC_CONTEXT record not followed");
        else {
            f->libxc_seen = true;
            collect(f, S_LIBXC_IHDR, XLMIG__LIBXC_IHDR_LEN);
        }
        break;
    case XLMIG__LIBXL_REC_EMULATOR_XENSTORE_DATA:
    case XLMIG__LIBXL_REC_EMULATOR_CONTEXT:
        if (len > XLMIG__FOLLOW_MAX_LIBXL_REC)
            stop(f, "libxl record type %u of length %u over the cap", type,
                 len);
        else
            skip_then(f, S_LIBXL_BODY, pad8(len), S_LIBXL_REC,
                      XLMIG__REC_HDR_LEN);
        break;
    case XLMIG__LIBXL_REC_CHECKPOINT_END:
    case XLMIG__LIBXL_REC_CHECKPOINT_STATE:
        stop(f, "checkpointed (Remus/COLO) stream not followed");
        break;
    default:
        stop(f, "unknown libxl record type 0x%x", type);
        break;
    }
}

static void got_libxc_ihdr(struct xlmig__follow *f)
{
    const uint8_t *h = f->hdr;
    uint32_t id = xlmig__get_be32(h + 8);
    uint32_t version = xlmig__get_be32(h + 12);
    uint16_t options = xlmig__get_be16(h + 16);

    if (xlmig__get_be64(h) != XLMIG__LIBXC_MARKER)
        stop(f, "libxc image header: bad marker (legacy stream?)");
    else if (id != XLMIG__LIBXC_ID)
        stop(f, "libxc image header: bad id 0x%08x", id);
    else if (version != 2 && version != 3)
        stop(f, "libxc image header: version %u not followed", version);
    else if (options & XLMIG__LIBXC_OPT_BIG_ENDIAN)
        stop(f, "libxc image header: big-endian stream not followed");
    else
        collect(f, S_LIBXC_DHDR, XLMIG__LIBXC_DHDR_LEN);
}

static void got_libxc_dhdr(struct xlmig__follow *f)
{
    const uint8_t *h = f->hdr;
    uint32_t type = xlmig__get_le32(h);
    unsigned shift = (unsigned)h[4] | ((unsigned)h[5] << 8);

    if (type < XLMIG__LIBXC_DOM_X86_PV || type > XLMIG__LIBXC_DOM_ARM)
        stop(f, "libxc domain header: unknown domain type %u", type);
    else if (shift != 12)
        stop(f, "libxc domain header: page_shift %u, not 12", shift);
    else
        start_libxc_records(f);
}

static void got_libxc_rec(struct xlmig__follow *f)
{
    uint32_t type = xlmig__get_le32(f->hdr);
    uint32_t len = xlmig__get_le32(f->hdr + 4);

    f->rec_type = type;
    f->rec_len = len;
    f->records_seen++;
    if (len > XLMIG__LIBXC_REC_LENGTH_MAX) {
        stop(f, "libxc record type 0x%x of length %u over the cap", type,
             len);
        return;
    }
    switch (type) {
    case XLMIG__LIBXC_REC_END:
        if (len)
            stop(f, "libxc END record of length %u", len);
        else if (f->layer == LAYER_LIBXC)
            done(f);
        else
            collect(f, S_LIBXL_REC, XLMIG__REC_HDR_LEN);
        break;
    case XLMIG__LIBXC_REC_PAGE_DATA:
        if (len < XLMIG__PAGE_DATA_HDR_LEN)
            stop(f, "PAGE_DATA record of length %u", len);
        else
            collect(f, S_PD_HDR, XLMIG__PAGE_DATA_HDR_LEN);
        break;
    case XLMIG__LIBXC_REC_CHECKPOINT:
        stop(f, "checkpointed (Remus/COLO) stream not followed");
        break;
    default:
        /* Framed like every record: skip it whatever it is. */
        skip_then(f, S_LIBXC_BODY, pad8(len), S_LIBXC_REC,
                  XLMIG__REC_HDR_LEN);
        break;
    }
}

static void got_pd_hdr(struct xlmig__follow *f)
{
    uint32_t count = xlmig__get_le32(f->hdr);

    if (count == 0)
        stop(f, "PAGE_DATA record with no pfns");
    else if (count > XLMIG__FOLLOW_MAX_PFNS)
        stop(f, "PAGE_DATA record of %u pfns over the cap of %u", count,
             XLMIG__FOLLOW_MAX_PFNS);
    else if (XLMIG__PAGE_DATA_HDR_LEN + 8 * (uint64_t)count > f->rec_len)
        stop(f, "PAGE_DATA record of %u pfns in %u bytes", count,
             f->rec_len);
    else {
        f->count = count;
        f->npages = 0;
        f->page_idx = 0;        /* pfns taken so far, then pages sent */
        f->page_off = 0;
        collect(f, S_PD_PFN, 8);
    }
}

/* One pfn entry; false when following stopped. */
static bool got_pfn(struct xlmig__follow *f, uint64_t v)
{
    unsigned type = (unsigned)(v >> XLMIG__PAGE_DATA_TYPE_SHIFT);

    if (!xlmig__pfinfo_known(type)) {
        stop(f, "PAGE_DATA: unknown page type 0x%x", type);
        return false;
    }
    if (xlmig__pfinfo_has_data(type))
        f->pfns[f->npages++] = v & XLMIG__PAGE_DATA_PFN_MASK;
    f->page_idx++;
    return true;
}

static void got_all_pfns(struct xlmig__follow *f)
{
    uint64_t want = XLMIG__PAGE_DATA_HDR_LEN + 8 * (uint64_t)f->count +
                    (uint64_t)PAGE * f->npages;

    if (want != f->rec_len) {
        stop(f, "PAGE_DATA record of length %u, expected %llu", f->rec_len,
             (unsigned long long)want);
        return;
    }
    f->page_idx = 0;
    f->page_off = 0;
    if (f->npages)
        f->state = S_PD_PAGES;
    else
        start_libxc_records(f);
}

/* A header is complete: act on it. */
static void got_header(struct xlmig__follow *f)
{
    switch (f->state) {
    case S_START:
        got_start(f);
        break;
    case S_XL_HDR:
        got_xl_hdr(f);
        break;
    case S_LIBXL_HDR:
        got_libxl_hdr(f);
        break;
    case S_LIBXL_REC:
        got_libxl_rec(f);
        break;
    case S_LIBXC_IHDR:
        got_libxc_ihdr(f);
        break;
    case S_LIBXC_DHDR:
        got_libxc_dhdr(f);
        break;
    case S_LIBXC_REC:
        got_libxc_rec(f);
        break;
    case S_PD_HDR:
        got_pd_hdr(f);
        break;
    case S_PD_PFN:
        f->hdr_have = 0;
        if (got_pfn(f, xlmig__get_le64(f->hdr)) && f->page_idx == f->count)
            got_all_pfns(f);
        break;
    default:
        stop(f, "internal: header in state %d", f->state);
        break;
    }
}

/* Whole pfn entries straight from the input; returns bytes taken. */
static size_t take_pfns(struct xlmig__follow *f, const uint8_t *in,
                        size_t len)
{
    size_t n = 0;

    while (len - n >= 8 && f->page_idx < f->count) {
        f->offset += 8;
        if (!got_pfn(f, xlmig__get_le64(in + n)))
            return n + 8;
        n += 8;
    }
    if (f->page_idx == f->count)
        got_all_pfns(f);
    return n;
}

/* Header bytes; acts on the header once complete.  Returns bytes taken. */
static size_t collect_bytes(struct xlmig__follow *f, const uint8_t *in,
                            size_t len)
{
    size_t n = f->hdr_want - f->hdr_have;

    if (len < n)
        n = len;
    memcpy(f->hdr + f->hdr_have, in, n);
    f->hdr_have += (uint32_t)n;
    f->offset += n;
    if (f->hdr_have == f->hdr_want)
        got_header(f);
    return n;
}

static void after_skip(struct xlmig__follow *f)
{
    switch (f->state) {
    case S_XL_OPT:
        collect(f, S_LIBXL_HDR, XLMIG__LIBXL_HDR_LEN);
        break;
    case S_LIBXL_BODY:
        collect(f, S_LIBXL_REC, XLMIG__REC_HDR_LEN);
        break;
    default:
        start_libxc_records(f);
        break;
    }
}

size_t xlmig__follow_next(struct xlmig__follow *f, const uint8_t *in,
                          size_t len, struct xlmig__follow_piece *piece_r)
{
    size_t n;

    piece_r->kind = XLMIG__PIECE_OTHER;
    piece_r->pfn = 0;
    piece_r->page_off = 0;
    if (len == 0) {
        piece_r->len = 0;
        return 0;
    }

    switch (f->state) {
    case S_END:
        n = len;
        break;

    case S_XL_OPT:
    case S_LIBXL_BODY:
    case S_LIBXC_BODY:
        n = len < f->skip ? len : (size_t)f->skip;
        f->skip -= n;
        if (!f->skip) {
            f->offset += n;
            after_skip(f);
            piece_r->len = n;
            return n;
        }
        break;

    case S_PD_PAGES:
        n = PAGE - f->page_off;
        if (len < n)
            n = len;
        piece_r->kind = XLMIG__PIECE_PAGE;
        piece_r->pfn = f->pfns[f->page_idx];
        piece_r->page_off = f->page_off;
        f->page_off += (uint32_t)n;
        if (f->page_off == PAGE) {
            f->pages_seen++;
            f->page_off = 0;
            if (++f->page_idx == f->npages)
                start_libxc_records(f);
        }
        break;

    case S_PD_PFN:
        if (f->hdr_have == 0 && len >= 8) {
            n = take_pfns(f, in, len);
            piece_r->len = n;
            return n;   /* offset counted by take_pfns */
        }
        /* An entry split across chunks: collect it. */
        n = collect_bytes(f, in, len);
        piece_r->len = n;
        return n;

    default:
        n = collect_bytes(f, in, len);
        piece_r->len = n;
        return n;
    }
    f->offset += n;
    piece_r->len = n;
    return n;
}

enum xlmig__follow_status xlmig__follow_status(const struct xlmig__follow *f)
{
    return f->status;
}

const char *xlmig__follow_why(const struct xlmig__follow *f)
{
    return f->status == XLMIG__FOLLOW_STOPPED ? f->why : "";
}

bool xlmig__follow_libxl_rec_at(const struct xlmig__follow *f,
                                uint64_t *at_r)
{
    if (f->state != S_LIBXL_REC)
        return false;
    *at_r = f->offset - f->hdr_have;
    return true;
}

static const char *libxl_rec_name(uint32_t type)
{
    static const char *const names[] = {
        [XLMIG__LIBXL_REC_END] = "END",
        [XLMIG__LIBXL_REC_LIBXC_CONTEXT] = "LIBXC_CONTEXT",
        [XLMIG__LIBXL_REC_EMULATOR_XENSTORE_DATA] = "EMULATOR_XENSTORE_DATA",
        [XLMIG__LIBXL_REC_EMULATOR_CONTEXT] = "EMULATOR_CONTEXT",
        [XLMIG__LIBXL_REC_CHECKPOINT_END] = "CHECKPOINT_END",
        [XLMIG__LIBXL_REC_CHECKPOINT_STATE] = "CHECKPOINT_STATE",
    };

    return type < sizeof(names) / sizeof(names[0]) ? names[type] : "unknown";
}

static const char *libxc_rec_name(uint32_t type)
{
    static const char *const names[] = {
        [XLMIG__LIBXC_REC_END] = "END",
        [XLMIG__LIBXC_REC_PAGE_DATA] = "PAGE_DATA",
        [XLMIG__LIBXC_REC_X86_PV_INFO] = "X86_PV_INFO",
        [XLMIG__LIBXC_REC_X86_PV_P2M_FRAMES] = "X86_PV_P2M_FRAMES",
        [XLMIG__LIBXC_REC_X86_PV_VCPU_BASIC] = "X86_PV_VCPU_BASIC",
        [XLMIG__LIBXC_REC_X86_PV_VCPU_EXTENDED] = "X86_PV_VCPU_EXTENDED",
        [XLMIG__LIBXC_REC_X86_PV_VCPU_XSAVE] = "X86_PV_VCPU_XSAVE",
        [XLMIG__LIBXC_REC_SHARED_INFO] = "SHARED_INFO",
        [XLMIG__LIBXC_REC_X86_TSC_INFO] = "X86_TSC_INFO",
        [XLMIG__LIBXC_REC_HVM_CONTEXT] = "HVM_CONTEXT",
        [XLMIG__LIBXC_REC_HVM_PARAMS] = "HVM_PARAMS",
        [XLMIG__LIBXC_REC_TOOLSTACK] = "TOOLSTACK",
        [XLMIG__LIBXC_REC_X86_PV_VCPU_MSRS] = "X86_PV_VCPU_MSRS",
        [XLMIG__LIBXC_REC_VERIFY] = "VERIFY",
        [XLMIG__LIBXC_REC_CHECKPOINT] = "CHECKPOINT",
        [XLMIG__LIBXC_REC_CHECKPOINT_DIRTY_PFN_LIST] =
            "CHECKPOINT_DIRTY_PFN_LIST",
        [XLMIG__LIBXC_REC_STATIC_DATA_END] = "STATIC_DATA_END",
        [XLMIG__LIBXC_REC_X86_CPUID_POLICY] = "X86_CPUID_POLICY",
        [XLMIG__LIBXC_REC_X86_MSR_POLICY] = "X86_MSR_POLICY",
    };
    uint32_t t = type & ~XLMIG__LIBXC_REC_OPTIONAL;

    return t < sizeof(names) / sizeof(names[0]) ? names[t] : "unknown";
}

void xlmig__follow_where(const struct xlmig__follow *f, char *buf,
                         size_t size)
{
    const char *after = f->libxc_seen ? ", after the libxc stream's END" : "";

    switch (f->state) {
    case S_START:
        snprintf(buf, size, "in the stream's first 8 bytes");
        break;
    case S_XL_HDR:
        snprintf(buf, size, "in the xl header");
        break;
    case S_XL_OPT:
        snprintf(buf, size, "in the xl header's optional data (the "
                 "domain's configuration)");
        break;
    case S_LIBXL_HDR:
        snprintf(buf, size, "in the libxl header");
        break;
    case S_LIBXL_REC:
        if (f->hdr_have)
            snprintf(buf, size, "in a libxl record header (%u of 8 "
                     "bytes)%s", f->hdr_have, after);
        else
            snprintf(buf, size, "between libxl records%s", after);
        break;
    case S_LIBXL_BODY:
        snprintf(buf, size, "in libxl record type %u (%s) of %u bytes",
                 f->rec_type, libxl_rec_name(f->rec_type), f->rec_len);
        break;
    case S_LIBXC_IHDR:
        snprintf(buf, size, "in the libxc image header");
        break;
    case S_LIBXC_DHDR:
        snprintf(buf, size, "in the libxc domain header");
        break;
    case S_LIBXC_REC:
        snprintf(buf, size, "%s, after %llu libxc records",
                 f->hdr_have ? "in a libxc record header"
                             : "between libxc records",
                 (unsigned long long)f->records_seen);
        break;
    case S_LIBXC_BODY:
    case S_PD_HDR:
    case S_PD_PFN:
    case S_PD_PAGES:
        snprintf(buf, size, "in libxc record type 0x%x (%s) of %u bytes",
                 f->rec_type, libxc_rec_name(f->rec_type), f->rec_len);
        break;
    default:
        if (f->status == XLMIG__FOLLOW_STOPPED)
            snprintf(buf, size, "where following stopped: %s", f->why);
        else
            snprintf(buf, size, "after the last END record");
        break;
    }
}

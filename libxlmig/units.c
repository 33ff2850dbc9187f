/* SPDX-License-Identifier: LGPL-2.1-only */
/* Sizes and rates with binary suffixes (units.h). */
#include <stdio.h>
#include <string.h>

#include "featureset.h"
#include "internal.h"
#include "sr.h"
#include "units.h"

/* A suffix k, M, G or T (either case) at *p: its shift, *p past it. */
static int suffix_shift(const char **p)
{
    int shift;

    switch (**p) {
    case 'k': case 'K': shift = 10; break;
    case 'm': case 'M': shift = 20; break;
    case 'g': case 'G': shift = 30; break;
    case 't': case 'T': shift = 40; break;
    default: return 0;
    }
    (*p)++;
    return shift;
}

int xlmig__size_parse(libxlmig_ctx *ctx, const char *what, const char *text,
                      uint64_t *size_r)
{
    char quoted[XLMIG__QUOTE_MAX + 8];
    const char *p = text;
    uint64_t v = 0, mult = 1;
    int shift = 0;

    if (!what)
        what = "size";
    if (!text || !*text)
        return xlmig__error_opt(ctx, LIBXLMIG_ERR_INVALID_ARGUMENT,
                                "no %s given; write it as bytes or with a "
                                "suffix k, M, G or T (10G, 10GiB)", what);
    xlmig__quote(text, 0, quoted, sizeof(quoted));
    if (*p < '0' || *p > '9')
        goto bad;
    for (; *p >= '0' && *p <= '9'; p++) {
        if (v > (UINT64_MAX - 9) / 10)
            goto too_big;
        v = v * 10 + (uint64_t)(*p - '0');
    }
    shift = suffix_shift(&p);
    if (shift && !strcmp(p, "iB"))
        p += 2;
    else if (!strcmp(p, "B"))
        p += 1;
    if (*p)
        goto bad;
    mult = (uint64_t)1 << shift;
    if (v > XLMIG__VDI_SIZE_MAX / mult)
        goto too_big;
    v *= mult;
    if (v == 0)
        return xlmig__error_opt(ctx, LIBXLMIG_ERR_INVALID_ARGUMENT,
                                "%s \"%s\" is zero; a VDI has at least 1 "
                                "byte", what, quoted);
    *size_r = v;
    return 0;
 bad:
    return xlmig__error_opt(ctx, LIBXLMIG_ERR_INVALID_ARGUMENT,
                            "%s \"%s\" is not a size; write bytes as digits, "
                            "optionally with a suffix k, M, G or T (binary: "
                            "10G = 10GiB = 10737418240)", what, quoted);
 too_big:
    return xlmig__error_opt(ctx, LIBXLMIG_ERR_INVALID_ARGUMENT,
                            "%s \"%s\" is more than the 64 TiB a VDI may "
                            "have", what, quoted);
}

bool xlmig__rate_ok(const char *what, const char *text, uint64_t *rate_r,
                    char *why, size_t len)
{
    char quoted[XLMIG__QUOTE_MAX + 8];
    const char *p = text;
    uint64_t whole = 0, v;
    double frac = 0, scale = 0.1;
    bool digits = false;
    int shift;

    if (!what)
        what = "rate";
    if (!text || !*text) {
        snprintf(why, len, "no %s given; give " XLMIG__RATE_RULE, what);
        return false;
    }
    if (!strcmp(text, "none") || !strcmp(text, "off")) {
        *rate_r = 0;
        return true;
    }
    xlmig__quote(text, 0, quoted, sizeof(quoted));
    for (; *p >= '0' && *p <= '9'; p++) {
        digits = true;
        if (whole > XLMIG__RATE_MAX)
            goto too_big;
        whole = whole * 10 + (uint64_t)(*p - '0');
    }
    if (*p == '.') {
        for (p++; *p >= '0' && *p <= '9'; p++) {
            digits = true;
            frac += (*p - '0') * scale;
            scale /= 10;
        }
    }
    if (!digits)
        goto bad;
    shift = suffix_shift(&p);
    if (shift && !strcmp(p, "iB"))
        p += 2;
    else if (!strcmp(p, "B") || !strcmp(p, "b"))
        p += 1;
    if (*p)
        goto bad;
    if (whole > XLMIG__RATE_MAX >> shift)
        goto too_big;
    v = (whole << shift) + (uint64_t)(frac * (double)((uint64_t)1 << shift));
    if (v > XLMIG__RATE_MAX)
        goto too_big;
    if (!v && (whole || frac > 0)) {
        /* Not "no limit" by rounding. */
        snprintf(why, len, "%s \"%s\" is less than 1 byte/s; give "
                 XLMIG__RATE_RULE, what, quoted);
        return false;
    }
    *rate_r = v;
    return true;
 bad:
    snprintf(why, len, "%s \"%s\" is not a rate; give " XLMIG__RATE_RULE,
             what, quoted);
    return false;
 too_big:
    snprintf(why, len, "%s \"%s\" is more than the 1 PiB/s a rate may be",
             what, quoted);
    return false;
}

int xlmig__rate_parse(libxlmig_ctx *ctx, const char *what, const char *text,
                      uint64_t *rate_r)
{
    char why[256];

    if (xlmig__rate_ok(what, text, rate_r, why, sizeof(why)))
        return 0;
    return xlmig__error_opt(ctx, LIBXLMIG_ERR_INVALID_ARGUMENT, "%s", why);
}

/* The next number of a version, skipping what is not a digit; a number
 * too large to hold stays at its cap. */
static unsigned long version_part(const char **s)
{
    unsigned long v = 0;

    while (**s && (**s < '0' || **s > '9'))
        (*s)++;
    while (**s >= '0' && **s <= '9') {
        if (v < 100000000UL)
            v = v * 10 + (unsigned long)(**s - '0');
        (*s)++;
    }
    return v;
}

int xlmig__version_cmp(const char *a, const char *b)
{
    while (*a || *b) {
        unsigned long x = version_part(&a), y = version_part(&b);

        if (x != y)
            return x < y ? -1 : 1;
    }
    return 0;
}

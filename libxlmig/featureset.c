/* SPDX-License-Identifier: LGPL-2.1-only */
/*
 * CPU featuresets: XenServer's string form ("%08x" words joined by '-'),
 * set operations, and the names of features, taken from Xen's own
 * cpufeatureset.h (docs/specs/featureset.md).
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "featureset.h"

#define MAX_WORDS LIBXLMIG_FEATURESET_MAX_WORDS
#define NR_BITS (MAX_WORDS * 32u)
#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/*
 * Every feature Xen names, built from libxen-dev's header: with
 * XEN_CPUFEATURE defined, the header is nothing but one
 * XEN_CPUFEATURE(NAME, word * 32 + bit) line per feature.
 */
struct feature {
    const char *name;           /* as the header spells it: "AVX512F" */
    unsigned int bit;
};

static const struct feature feature_table[] = {
#define XEN_CPUFEATURE(name, value) { #name, (value) },
#include <xen/arch-x86/cpufeatureset.h>
#undef XEN_CPUFEATURE
};

/*
 * Where each word comes from (Xen's cpufeatureset.h and
 * xen/include/xen/lib/x86/cpu-policy.h).  Words are only ever appended.
 */
static const char *const word_sources[] = {
    "CPUID 0x1 EDX",                    /* 0 */
    "CPUID 0x1 ECX",                    /* 1 */
    "CPUID 0x80000001 EDX",             /* 2 */
    "CPUID 0x80000001 ECX",             /* 3 */
    "CPUID 0xd:1 EAX",                  /* 4 */
    "CPUID 0x7:0 EBX",                  /* 5 */
    "CPUID 0x7:0 ECX",                  /* 6 */
    "CPUID 0x80000007 EDX",             /* 7 */
    "CPUID 0x80000008 EBX",             /* 8 */
    "CPUID 0x7:0 EDX",                  /* 9 */
    "CPUID 0x7:1 EAX",                  /* 10 */
    "CPUID 0x80000021 EAX",             /* 11 */
    "CPUID 0x7:1 EBX",                  /* 12 */
    "CPUID 0x7:2 EDX",                  /* 13 */
    "CPUID 0x7:1 ECX",                  /* 14 */
    "CPUID 0x7:1 EDX",                  /* 15 */
    "MSR_ARCH_CAPS (0x10a) bits 0-31",  /* 16 */
    "MSR_ARCH_CAPS (0x10a) bits 32-63", /* 17 */
    "CPUID 0x80000021 ECX",             /* 18 */
};

const char *libxlmig_featureset_word_source(unsigned int word)
{
    return word < ARRAY_LEN(word_sources) ? word_sources[word] : NULL;
}

/* ------------------------------------------------------------ helpers */

void xlmig__quote(const char *text, size_t center, char *out, size_t len)
{
    size_t tlen, start = 0, end, i, pos = 0;

    if (!len)
        return;
    out[0] = '\0';
    if (!text)
        return;
    tlen = strlen(text);
    end = tlen;
    if (tlen > XLMIG__QUOTE_MAX) {
        if (center > XLMIG__QUOTE_MAX / 2)
            start = center - XLMIG__QUOTE_MAX / 2;
        if (start > tlen - XLMIG__QUOTE_MAX)
            start = tlen - XLMIG__QUOTE_MAX;
        end = start + XLMIG__QUOTE_MAX;
    }
    if (start > 0 && pos + 3 < len) {
        memcpy(out, "...", 3);
        pos = 3;
    }
    for (i = start; i < end && pos + 1 < len; i++) {
        unsigned char c = (unsigned char)text[i];

        out[pos++] = c >= 0x20 && c < 0x7f ? (char)c : '?';
    }
    if (end < tlen && pos + 3 < len) {
        memcpy(out + pos, "...", 3);
        pos += 3;
    }
    out[pos] = '\0';
}

int xlmig__error_opt(libxlmig_ctx *ctx, int rc, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;

    if (!ctx)
        return rc;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    return xlmig__error(ctx, rc, -1, "%s", msg);
}

const char *xlmig__host_label(const char *what, const char *name,
                              size_t index, char *buf, size_t len)
{
    if (name)
        snprintf(buf, len, "%s %s", what, name);
    else if (index == XLMIG__NO_INDEX)
        snprintf(buf, len, "%s (unnamed)", what);
    else
        snprintf(buf, len, "%s #%zu", what, index);
    return buf;
}

/* How a byte is named in a message: 'g', a space, byte 0x09. */
static void describe_byte(unsigned char c, char *buf, size_t len)
{
    if (c == ' ')
        snprintf(buf, len, "a space");
    else if (c > 0x20 && c < 0x7f)
        snprintf(buf, len, "'%c'", c);
    else
        snprintf(buf, len, "byte 0x%02x", c);
}

static char ascii_lower(char c)
{
    return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

static bool ascii_caseeq(const char *a, const char *b)
{
    for (; *a && *b; a++, b++) {
        if (ascii_lower(*a) != ascii_lower(*b))
            return false;
    }
    return *a == *b;
}

static int hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* nr_words as the functions read it: at most MAX_WORDS; NULL is empty. */
static unsigned int nwords(const libxlmig_featureset *fs)
{
    if (!fs)
        return 0;
    return fs->nr_words < MAX_WORDS ? fs->nr_words : MAX_WORDS;
}

/* Word @i, zero-extended. */
static uint32_t word_at(const libxlmig_featureset *fs, unsigned int i)
{
    return i < nwords(fs) ? fs->words[i] : 0;
}

static void trim(libxlmig_featureset *fs)
{
    while (fs->nr_words && !fs->words[fs->nr_words - 1])
        fs->nr_words--;
}

/* ------------------------------------------------------- string form */

int libxlmig_featureset_format(const libxlmig_featureset *fs, char *buf,
                               size_t len)
{
    size_t pos = 0;
    unsigned int i;

    if (!buf || !len)
        return LIBXLMIG_ERR_INVALID_ARGUMENT;
    buf[0] = '\0';
    if (!fs || fs->nr_words > LIBXLMIG_FEATURESET_MAX_WORDS)
        return LIBXLMIG_ERR_INVALID_ARGUMENT;
    /* 8 hex digits per word, a '-' between words, and the NUL. */
    if (len < (fs->nr_words ? 9 * (size_t)fs->nr_words : 1))
        return LIBXLMIG_ERR_INVALID_ARGUMENT;

    for (i = 0; i < fs->nr_words; i++) {
        pos += (size_t)snprintf(buf + pos, len - pos, "%s%08x",
                                i ? "-" : "", fs->words[i]);
    }
    return 0;
}

static int parse_error(libxlmig_ctx *ctx, const char *field,
                       const char *text, size_t offset, const char *detail)
{
    char quoted[XLMIG__QUOTE_MAX + 8];

    xlmig__quote(text, offset, quoted, sizeof(quoted));
    return xlmig__error_opt(ctx, LIBXLMIG_ERR_FEATURESET_INVALID,
                            "%s: \"%s\" is not a featureset string: %s; "
                            "expected 32-bit words of 1 to 8 hex digits "
                            "joined by '-' (\"07cbfbff-04082201\"), or \"\" "
                            "for none", field, quoted, detail);
}

int libxlmig_featureset_parse(libxlmig_ctx *ctx, const char *field,
                              const char *text, libxlmig_featureset *fs_r)
{
    libxlmig_featureset fs;
    char detail[160], what[16];
    size_t pos = 0;

    if (!field)
        field = "featureset";
    if (!text || !fs_r) {
        return xlmig__error_opt(ctx, LIBXLMIG_ERR_INVALID_ARGUMENT,
                                "%s: no featureset string given", field);
    }
    memset(&fs, 0, sizeof(fs));

    while (text[0]) {
        size_t start = pos, ndigits = 0;
        uint32_t value = 0;

        for (; hex_value(text[pos]) >= 0; pos++) {
            if (ndigits == 8) {
                snprintf(detail, sizeof(detail),
                         "word %u at offset %zu has more than 8 hex digits",
                         fs.nr_words + 1, start);
                return parse_error(ctx, field, text, start, detail);
            }
            value = value << 4 | (uint32_t)hex_value(text[pos]);
            ndigits++;
        }
        if (!ndigits) {
            if (text[pos] == '-' || text[pos] == '\0') {
                snprintf(detail, sizeof(detail),
                         "word %u at offset %zu is empty (%s)",
                         fs.nr_words + 1, pos,
                         pos == 0 ? "the text starts with '-'"
                         : text[pos] ? "two '-' in a row"
                         : "the text ends with '-'");
            } else {
                describe_byte((unsigned char)text[pos], what, sizeof(what));
                snprintf(detail, sizeof(detail),
                         "%s at offset %zu where a hex digit belongs", what,
                         pos);
            }
            return parse_error(ctx, field, text, pos, detail);
        }
        if (fs.nr_words == MAX_WORDS) {
            snprintf(detail, sizeof(detail),
                     "more than %u words (word %u starts at offset %zu)",
                     MAX_WORDS, MAX_WORDS + 1, start);
            return parse_error(ctx, field, text, start, detail);
        }
        fs.words[fs.nr_words++] = value;
        if (text[pos] == '\0')
            break;
        if (text[pos] != '-') {
            describe_byte((unsigned char)text[pos], what, sizeof(what));
            snprintf(detail, sizeof(detail),
                     "%s at offset %zu where a hex digit or '-' belongs",
                     what, pos);
            return parse_error(ctx, field, text, pos, detail);
        }
        pos++;
    }
    *fs_r = fs;
    return 0;
}

/* ---------------------------------------------------------- set logic */

bool libxlmig_featureset_is_subset(const libxlmig_featureset *a,
                                   const libxlmig_featureset *b)
{
    unsigned int i;

    for (i = 0; i < nwords(a); i++) {
        if (a->words[i] & ~word_at(b, i))
            return false;
    }
    return true;
}

bool libxlmig_featureset_equal(const libxlmig_featureset *a,
                               const libxlmig_featureset *b)
{
    unsigned int i, n = nwords(a) > nwords(b) ? nwords(a) : nwords(b);

    for (i = 0; i < n; i++) {
        if (word_at(a, i) != word_at(b, i))
            return false;
    }
    return true;
}

bool libxlmig_featureset_is_empty(const libxlmig_featureset *fs)
{
    unsigned int i;

    for (i = 0; i < nwords(fs); i++) {
        if (fs->words[i])
            return false;
    }
    return true;
}

int libxlmig_featureset_intersect(const libxlmig_featureset *a,
                                  const libxlmig_featureset *b,
                                  libxlmig_featureset *result_r)
{
    libxlmig_featureset r;
    unsigned int i;

    if (!result_r)
        return LIBXLMIG_ERR_INVALID_ARGUMENT;
    memset(&r, 0, sizeof(r));
    r.nr_words = nwords(a) < nwords(b) ? nwords(a) : nwords(b);
    for (i = 0; i < r.nr_words; i++)
        r.words[i] = a->words[i] & b->words[i];
    trim(&r);
    *result_r = r;
    return 0;
}

int libxlmig_featureset_difference(const libxlmig_featureset *a,
                                   const libxlmig_featureset *b,
                                   libxlmig_featureset *result_r)
{
    libxlmig_featureset r;
    unsigned int i;

    if (!result_r)
        return LIBXLMIG_ERR_INVALID_ARGUMENT;
    memset(&r, 0, sizeof(r));
    r.nr_words = nwords(a);
    for (i = 0; i < r.nr_words; i++)
        r.words[i] = a->words[i] & ~word_at(b, i);
    trim(&r);
    *result_r = r;
    return 0;
}

bool libxlmig_featureset_test_bit(const libxlmig_featureset *fs,
                                  unsigned int bit)
{
    if (bit >= NR_BITS)
        return false;
    return (word_at(fs, bit / 32) >> (bit % 32)) & 1;
}

int libxlmig_featureset_set_bit(libxlmig_featureset *fs, unsigned int bit)
{
    unsigned int w = bit / 32;

    if (!fs || bit >= NR_BITS)
        return LIBXLMIG_ERR_INVALID_ARGUMENT;
    if (fs->nr_words > MAX_WORDS)
        fs->nr_words = MAX_WORDS;
    while (fs->nr_words <= w)
        fs->words[fs->nr_words++] = 0;
    fs->words[w] |= UINT32_C(1) << (bit % 32);
    return 0;
}

/* -------------------------------------------------------------- names */

static const struct feature *feature_by_bit(unsigned int bit)
{
    size_t i;

    for (i = 0; i < ARRAY_LEN(feature_table); i++) {
        if (feature_table[i].bit == bit)
            return &feature_table[i];
    }
    return NULL;
}

int libxlmig_feature_name(unsigned int bit, char *buf, size_t len,
                          bool *named_r)
{
    const struct feature *f;
    char name[LIBXLMIG_FEATURE_NAME_MAX];
    size_t i;

    if (buf && len)
        buf[0] = '\0';
    if (!buf || bit >= NR_BITS)
        return LIBXLMIG_ERR_INVALID_ARGUMENT;
    f = feature_by_bit(bit);
    if (f) {
        for (i = 0; f->name[i] && i + 1 < sizeof(name); i++)
            name[i] = ascii_lower(f->name[i]);
        name[i] = '\0';
    } else {
        snprintf(name, sizeof(name), "word%u-bit%u", bit / 32, bit % 32);
    }
    if (strlen(name) + 1 > len)
        return LIBXLMIG_ERR_INVALID_ARGUMENT;
    memcpy(buf, name, strlen(name) + 1);
    if (named_r)
        *named_r = f != NULL;
    return 0;
}

/* A decimal number of 1 to 3 digits at *p, advancing it; -1 if none. */
static int small_decimal(const char **p)
{
    int v = 0, n = 0;

    while (**p >= '0' && **p <= '9' && n < 3) {
        v = v * 10 + (**p - '0');
        (*p)++;
        n++;
    }
    return n && !(**p >= '0' && **p <= '9') ? v : -1;
}

/* Whether @s starts with @prefix, ignoring ASCII case. */
static bool ascii_caseprefix(const char *s, const char *prefix)
{
    for (; *prefix; s++, prefix++) {
        if (ascii_lower(*s) != *prefix)
            return false;
    }
    return true;
}

/* "wordW-bitB", any case; -1 when @name is not of that form. */
static long word_bit_form(const char *name)
{
    const char *p = name;
    int w, b;

    if (!ascii_caseprefix(p, "word"))
        return -1;
    p += 4;
    w = small_decimal(&p);
    if (w < 0 || w >= (int)MAX_WORDS || !ascii_caseprefix(p, "-bit"))
        return -1;
    p += 4;
    b = small_decimal(&p);
    if (b < 0 || b >= 32 || *p)
        return -1;
    return (long)w * 32 + b;
}

int libxlmig_feature_from_name(const char *name, unsigned int *bit_r)
{
    size_t i;
    long wb;

    if (!name || !bit_r)
        return LIBXLMIG_ERR_INVALID_ARGUMENT;
    for (i = 0; i < ARRAY_LEN(feature_table); i++) {
        if (ascii_caseeq(name, feature_table[i].name)) {
            *bit_r = feature_table[i].bit;
            return 0;
        }
    }
    wb = word_bit_form(name);
    if (wb < 0)
        return LIBXLMIG_ERR_NOT_FOUND;
    *bit_r = (unsigned int)wb;
    return 0;
}

/*
 * Write the names of @fs into @buf (@len bytes) while they fit whole.
 * With @with_ellipsis, a name is written only if ", ..." (or "..."
 * before any name) still fits after it, and the ellipsis follows when
 * names were left out.  *cut_r says whether names were left out.
 * Returns the size the whole list needs, NUL included.
 */
static size_t write_names(const libxlmig_featureset *fs, char *buf,
                          size_t len, bool with_ellipsis, bool *cut_r)
{
    size_t need = 1, pos = 0;
    unsigned int bit;
    bool cut = false;

    for (bit = 0; bit < nwords(fs) * 32; bit++) {
        char name[LIBXLMIG_FEATURE_NAME_MAX];
        size_t sep, nl, room;

        if (!libxlmig_featureset_test_bit(fs, bit))
            continue;
        libxlmig_feature_name(bit, name, sizeof(name), NULL);
        sep = need > 1 ? 2 : 0;
        nl = strlen(name);
        need += sep + nl;
        if (cut)
            continue;
        room = with_ellipsis ? 5 : 0;
        if (pos + sep + nl + room + 1 > len) {
            cut = true;
            continue;
        }
        memcpy(buf + pos, ", ", sep);
        memcpy(buf + pos + sep, name, nl);
        pos += sep + nl;
        buf[pos] = '\0';
    }
    if (with_ellipsis && cut) {
        const char *e = pos ? ", ..." : "...";

        if (pos + strlen(e) + 1 <= len)
            memcpy(buf + pos, e, strlen(e) + 1);
    }
    *cut_r = cut;
    return need;
}

int libxlmig_featureset_names(const libxlmig_featureset *fs, char *buf,
                              size_t len, size_t *needed_r)
{
    size_t need;
    bool cut;

    if (!buf && len)
        return LIBXLMIG_ERR_INVALID_ARGUMENT;
    if (len)
        buf[0] = '\0';
    need = write_names(fs, buf, len, false, &cut);
    if (needed_r)
        *needed_r = need;
    if (!cut && need <= len)
        return 0;
    /* It does not fit: again, whole names only, then "...". */
    if (len)
        buf[0] = '\0';
    if (len >= 4)
        write_names(fs, buf, len, true, &cut);
    return LIBXLMIG_ERR_INVALID_ARGUMENT;
}

int libxlmig_featureset_parse_names(libxlmig_ctx *ctx, const char *field,
                                    const char *text,
                                    libxlmig_featureset *fs_r)
{
    libxlmig_featureset fs;
    size_t pos = 0;

    if (!field)
        field = "feature names";
    if (!text || !fs_r) {
        return xlmig__error_opt(ctx, LIBXLMIG_ERR_INVALID_ARGUMENT,
                                "%s: no feature names given", field);
    }
    memset(&fs, 0, sizeof(fs));
    while (text[0]) {
        char item[LIBXLMIG_FEATURE_NAME_MAX], quoted[XLMIG__QUOTE_MAX + 8];
        size_t start, end, n;
        unsigned int bit;

        while (text[pos] == ' ' || text[pos] == '\t')
            pos++;
        start = pos;
        while (text[pos] && text[pos] != ',')
            pos++;
        end = pos;
        while (end > start && (text[end - 1] == ' ' || text[end - 1] == '\t'))
            end--;
        n = end - start;
        if (!n) {
            xlmig__quote(text, start, quoted, sizeof(quoted));
            return xlmig__error_opt(
                ctx, LIBXLMIG_ERR_FEATURESET_INVALID,
                "%s: \"%s\" is not a list of CPU feature names: empty item "
                "at offset %zu; give names joined by ',' (\"avx512f,pku\")",
                field, quoted, start);
        }
        if (n < sizeof(item)) {
            memcpy(item, text + start, n);
            item[n] = '\0';
        }
        if (n >= sizeof(item) || libxlmig_feature_from_name(item, &bit)) {
            char one[XLMIG__QUOTE_MAX + 1], name[XLMIG__QUOTE_MAX + 8];
            size_t m = n < XLMIG__QUOTE_MAX ? n : XLMIG__QUOTE_MAX;

            xlmig__quote(text, start, quoted, sizeof(quoted));
            memcpy(one, text + start, m);       /* the item alone */
            one[m] = '\0';
            xlmig__quote(one, 0, name, sizeof(name));
            return xlmig__error_opt(
                ctx, LIBXLMIG_ERR_FEATURESET_INVALID,
                "%s: \"%s\" is not a list of CPU feature names: unknown "
                "feature \"%s\" at offset %zu; names are Xen's, as "
                "xen-cpuid prints them (\"avx512f\"), or \"wordW-bitB\"",
                field, quoted, name, start);
        }
        libxlmig_featureset_set_bit(&fs, bit);
        if (!text[pos])
            break;
        pos++;                      /* the ',' */
    }
    trim(&fs);
    *fs_r = fs;
    return 0;
}

/* SPDX-License-Identifier: LGPL-2.1-only */
/*
 * libFuzzer target for the featureset, feature-name and vendor parsers
 * (libxlmig/featureset.c, featureset-cpu.c).  Input: one byte choosing
 * the parser (its value mod 4: '0' featureset string, '1' list of
 * names, '2' vendor, '3' two featureset strings split at the first '|'
 * for the set algebra), then the text (up to its first NUL).  Whatever
 * parses must format and parse back to the same set; whatever fails
 * must fail with the documented code and a printable message.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static libxlmig_ctx *ctx;

static void check_message(const char *prefix)
{
    const char *m = libxlmig_ctx_last_error(ctx);

    if (strncmp(m, prefix, strlen(prefix)))
        abort();
    for (; *m; m++) {
        if ((unsigned char)*m < 0x20 || (unsigned char)*m >= 0x7f)
            abort();
    }
}

/* The set survives format/parse and names/parse_names. */
static void check_round_trips(const libxlmig_featureset *fs)
{
    static char names[LIBXLMIG_FEATURESET_MAX_WORDS * 32 *
                      (LIBXLMIG_FEATURE_NAME_MAX + 2)];
    char buf[LIBXLMIG_FEATURESET_STRING_MAX], again[sizeof(buf)];
    libxlmig_featureset back, r;
    size_t need = 0;

    if (libxlmig_featureset_format(fs, buf, sizeof(buf)))
        abort();
    if (libxlmig_featureset_parse(ctx, "fuzz", buf, &back) ||
        back.nr_words != fs->nr_words ||
        !libxlmig_featureset_equal(fs, &back))
        abort();
    if (libxlmig_featureset_format(&back, again, sizeof(again)) ||
        strcmp(buf, again))
        abort();
    if (libxlmig_featureset_names(fs, names, sizeof(names), &need) ||
        strlen(names) + 1 != need)
        abort();
    if (libxlmig_featureset_parse_names(ctx, "fuzz", names, &back) ||
        !libxlmig_featureset_equal(fs, &back))
        abort();
    /* A set against itself. */
    if (!libxlmig_featureset_is_subset(fs, fs) ||
        libxlmig_featureset_intersect(fs, fs, &r) ||
        !libxlmig_featureset_equal(&r, fs) ||
        (r.nr_words && !r.words[r.nr_words - 1]) ||
        libxlmig_featureset_difference(fs, fs, &r) || r.nr_words)
        abort();
}

static void check_algebra(const libxlmig_featureset *a,
                          const libxlmig_featureset *b)
{
    libxlmig_featureset i, d, u, z;
    unsigned int w;

    if (libxlmig_featureset_intersect(a, b, &i) ||
        libxlmig_featureset_difference(a, b, &d) ||
        libxlmig_featureset_intersect(&d, b, &z))
        abort();
    /* a & b is in both; a & ~b has nothing of b; together they are a. */
    if (!libxlmig_featureset_is_subset(&i, a) ||
        !libxlmig_featureset_is_subset(&i, b) ||
        !libxlmig_featureset_is_empty(&z) ||
        !libxlmig_featureset_is_subset(&d, a))
        abort();
    memset(&u, 0, sizeof(u));
    u.nr_words = LIBXLMIG_FEATURESET_MAX_WORDS;
    for (w = 0; w < u.nr_words; w++) {
        u.words[w] = (w < i.nr_words ? i.words[w] : 0) |
                     (w < d.nr_words ? d.words[w] : 0);
    }
    if (!libxlmig_featureset_equal(&u, a))
        abort();
    /* Subset exactly when nothing is missing. */
    if (libxlmig_featureset_is_subset(a, b) !=
        libxlmig_featureset_is_empty(&d))
        abort();
    if (libxlmig_featureset_equal(a, b) !=
        (libxlmig_featureset_is_subset(a, b) &&
         libxlmig_featureset_is_subset(b, a)))
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    libxlmig_featureset fs, fs2;
    libxlmig_cpu_vendor v, back;
    char *text, *bar;
    int rc;

    if (!ctx && libxlmig_ctx_new(NULL, LIBXLMIG_LOG_CRITICAL, &ctx))
        abort();
    if (size < 1)
        return 0;
    text = malloc(size);
    if (!text)
        abort();
    memcpy(text, data + 1, size - 1);
    text[size - 1] = '\0';

    switch (data[0] % 4) {
    case 0:
        rc = libxlmig_featureset_parse(ctx, "fuzz", text, &fs);
        if (rc == 0)
            check_round_trips(&fs);
        else if (rc == LIBXLMIG_ERR_FEATURESET_INVALID)
            check_message("INVALID_FEATURE_STRING: fuzz: \"");
        else
            abort();
        break;
    case 1:
        rc = libxlmig_featureset_parse_names(ctx, "fuzz", text, &fs);
        if (rc == 0)
            check_round_trips(&fs);
        else if (rc == LIBXLMIG_ERR_FEATURESET_INVALID)
            check_message("INVALID_FEATURE_STRING: fuzz: \"");
        else
            abort();
        break;
    case 2:
        rc = libxlmig_cpu_vendor_parse(ctx, "fuzz", text, &v);
        if (rc == 0) {
            if (libxlmig_cpu_vendor_parse(ctx, "fuzz",
                                          libxlmig_cpu_vendor_string(v),
                                          &back) || back != v ||
                libxlmig_cpu_vendor_parse(ctx, "fuzz",
                                          libxlmig_cpu_vendor_short_name(v),
                                          &back) || back != v)
                abort();
        } else if (rc == LIBXLMIG_ERR_VENDOR_INVALID) {
            check_message("INVALID_CPU_VENDOR: fuzz: \"");
        } else {
            abort();
        }
        break;
    default:
        bar = strchr(text, '|');
        if (bar) {
            *bar = '\0';
            if (!libxlmig_featureset_parse(NULL, "a", text, &fs) &&
                !libxlmig_featureset_parse(NULL, "b", bar + 1, &fs2)) {
                check_algebra(&fs, &fs2);
                check_algebra(&fs2, &fs);
            }
        }
        break;
    }
    free(text);
    return 0;
}

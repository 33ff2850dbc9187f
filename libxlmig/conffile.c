/* SPDX-License-Identifier: LGPL-2.1-only */
/* The grammar of xlmigd.conf (conffile.h, docs/xlmigd.md). */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "conffile.h"
#include "libxlmig.h"

/* How much of an unknown key a message quotes. */
#define QUOTE_MAX 64

static bool blank(char c)
{
    return c == ' ' || c == '\t';
}

/* A byte no line may hold: every control byte but the tab. */
static bool control(unsigned char c)
{
    return (c < 0x20 && c != '\t') || c == 0x7f;
}

static char lower(char c)
{
    return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

/*
 * The key @k (@n bytes, not one of @spec's) was likely meant as: the
 * same but for case and '_' for '-' (xl.conf's spelling); or NULL.
 */
static const char *near_key(const struct xlmig__conf_spec *spec,
                            const char *k, size_t n)
{
    size_t i, j;

    for (i = 0; i < spec->nkeys; i++) {
        const char *c = spec->keys[i];

        if (strlen(c) != n)
            continue;
        for (j = 0; j < n; j++) {
            if (lower(k[j]) != c[j] && !(k[j] == '_' && c[j] == '-'))
                break;
        }
        if (j == n)
            return c;
    }
    return NULL;
}

/* One line @s of @n bytes (its end removed), line @lineno. */
static int parse_line(const struct xlmig__conf_spec *spec, void *opaque,
                      const char *s, size_t n, unsigned lineno,
                      unsigned *lines, char *why, size_t why_len)
{
    char value[XLMIG__CONF_LINE_MAX + 1];
    size_t i = 0, j, k0, kn, v0, vn, key;
    const char *kname, *near;

    for (j = 0; j < n; j++) {
        unsigned char c = (unsigned char)s[j];

        if (!c) {
            snprintf(why, why_len, "a NUL byte (column %zu)", j + 1);
            return LIBXLMIG_ERR_INVALID_ARGUMENT;
        }
        if (control(c)) {
            snprintf(why, why_len, "a control byte 0x%02x (column %zu)", c,
                     j + 1);
            return LIBXLMIG_ERR_INVALID_ARGUMENT;
        }
    }
    while (i < n && blank(s[i]))
        i++;
    if (i == n || s[i] == '#')
        return 0;                   /* blank, or a comment */

    k0 = i;
    while (i < n && !blank(s[i]) && s[i] != '=')
        i++;
    kn = i - k0;
    while (i < n && blank(s[i]))
        i++;
    if (!kn) {
        snprintf(why, why_len, "a value without a key (expected "
                 "'KEY = VALUE')");
        return LIBXLMIG_ERR_INVALID_ARGUMENT;
    }
    if (i == n || s[i] != '=') {
        snprintf(why, why_len, "expected 'KEY = VALUE' or a '#' comment, "
                 "found '%.*s%s'", (int)(kn > QUOTE_MAX ? QUOTE_MAX : kn),
                 s + k0, kn > QUOTE_MAX ? "..." : "");
        return LIBXLMIG_ERR_INVALID_ARGUMENT;
    }
    i++;                            /* the '=' */
    for (key = 0; key < spec->nkeys; key++) {
        if (strlen(spec->keys[key]) == kn &&
            !memcmp(spec->keys[key], s + k0, kn))
            break;
    }
    if (key == spec->nkeys) {
        near = near_key(spec, s + k0, kn);
        snprintf(why, why_len, "unknown key '%.*s%s'%s%s%s",
                 (int)(kn > QUOTE_MAX ? QUOTE_MAX : kn), s + k0,
                 kn > QUOTE_MAX ? "..." : "", near ? " (did you mean '" : "",
                 near ? near : "", near ? "'?)" : "");
        return LIBXLMIG_ERR_INVALID_ARGUMENT;
    }
    kname = spec->keys[key];
    if (lines[key]) {
        snprintf(why, why_len, "'%s' is given twice (first on line %u)",
                 kname, lines[key]);
        return LIBXLMIG_ERR_INVALID_ARGUMENT;
    }

    while (i < n && blank(s[i]))
        i++;
    if (i < n && s[i] == '"') {
        const char *q = memchr(s + i + 1, '"', n - i - 1);

        if (!q) {
            snprintf(why, why_len, "'%s': the value has no closing '\"'",
                     kname);
            return LIBXLMIG_ERR_INVALID_ARGUMENT;
        }
        v0 = i + 1;
        vn = (size_t)(q - s) - v0;
        i = (size_t)(q - s) + 1;
        while (i < n && blank(s[i]))
            i++;
        if (i < n && s[i] != '#') {
            snprintf(why, why_len, "'%s': text after the closing '\"' "
                     "(only a '#' comment may follow)", kname);
            return LIBXLMIG_ERR_INVALID_ARGUMENT;
        }
    } else {
        v0 = i;
        while (i < n && s[i] != '#' && s[i] != '"')
            i++;
        if (i < n && s[i] == '"') {
            snprintf(why, why_len, "'%s': a '\"' inside the value (quote "
                     "the whole value, \"...\", which cannot hold '\"')",
                     kname);
            return LIBXLMIG_ERR_INVALID_ARGUMENT;
        }
        if (i < n && i > v0 && !blank(s[i - 1])) {
            snprintf(why, why_len, "'%s': a '#' right after the value's "
                     "text (put a blank before a comment, or quote a value "
                     "that holds '#': \"...\")", kname);
            return LIBXLMIG_ERR_INVALID_ARGUMENT;
        }
        vn = i - v0;
        while (vn && blank(s[v0 + vn - 1]))
            vn--;
    }
    if (!vn) {
        snprintf(why, why_len, "'%s' has no value (a '#' starts a comment; "
                 "quote a value that holds '#': \"...\")", kname);
        return LIBXLMIG_ERR_INVALID_ARGUMENT;
    }
    memcpy(value, s + v0, vn);
    value[vn] = '\0';
    lines[key] = lineno;
    return spec->take(opaque, key, value, why, why_len);
}

int xlmig__conf_parse(const struct xlmig__conf_spec *spec, void *opaque,
                      const char *text, size_t len, unsigned *lines,
                      unsigned *line_r, char *why, size_t why_len)
{
    unsigned lineno = 0;
    size_t at = 0;
    int rc;

    *line_r = 0;
    if (why_len)
        why[0] = '\0';
    memset(lines, 0, spec->nkeys * sizeof(*lines));
    if (spec->nkeys > XLMIG__CONF_KEYS_MAX) {
        snprintf(why, why_len, "a grammar of more than %d keys",
                 XLMIG__CONF_KEYS_MAX);
        return LIBXLMIG_ERR_INVALID_ARGUMENT;
    }
    if (len > XLMIG__CONF_FILE_MAX) {
        snprintf(why, why_len, "%zu bytes, more than the %u a configuration "
                 "may have", len, XLMIG__CONF_FILE_MAX);
        return LIBXLMIG_ERR_INVALID_ARGUMENT;
    }
    while (at < len) {
        const char *nl = memchr(text + at, '\n', len - at);
        size_t end = nl ? (size_t)(nl - text) : len, n = end - at;

        lineno++;
        if (n && text[at + n - 1] == '\r')
            n--;
        if (n > XLMIG__CONF_LINE_MAX) {
            *line_r = lineno;
            snprintf(why, why_len, "the line is longer than %d bytes",
                     XLMIG__CONF_LINE_MAX);
            return LIBXLMIG_ERR_INVALID_ARGUMENT;
        }
        rc = parse_line(spec, opaque, text + at, n, lineno, lines, why,
                        why_len);
        if (rc) {
            *line_r = lineno;
            return rc;
        }
        at = end + 1;
    }
    return 0;
}

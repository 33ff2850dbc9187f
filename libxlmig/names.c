/* SPDX-License-Identifier: LGPL-2.1-only */
/* Names: the one rule (names.h). */
#include <stdio.h>
#include <string.h>

#include "featureset.h"                 /* xlmig__quote, xlmig__error_opt */
#include "internal.h"
#include "names.h"

bool xlmig__name_byte_ok(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
}

bool xlmig__text_len_ok(const char *s, size_t max, size_t *n_r, char *why,
                        size_t len, size_t *at_r)
{
    *at_r = 0;
    if (!s) {
        snprintf(why, len, "nothing given");
        return false;
    }
    *n_r = strnlen(s, max + 1);
    if (*n_r == 0) {
        snprintf(why, len, "it is empty");
        return false;
    }
    if (*n_r > max) {
        snprintf(why, len, "it is longer than %zu bytes", max);
        *at_r = max;
        return false;
    }
    return true;
}

/*
 * Whether @s is 1 to @max bytes of name bytes (and, when @strict, does
 * not start with '.' or '-'); when not, @why says what is wrong and
 * *at_r the offset to quote around.
 */
bool xlmig__word_ok(const char *s, size_t max, bool strict, char *why,
                    size_t len, size_t *at_r)
{
    size_t n, i;

    if (!xlmig__text_len_ok(s, max, &n, why, len, at_r))
        return false;
    if (strict && (s[0] == '.' || s[0] == '-')) {
        snprintf(why, len, "it starts with '%c'", s[0]);
        return false;
    }
    for (i = 0; i < n; i++) {
        if (!xlmig__name_byte_ok(s[i])) {
            snprintf(why, len, "byte %zu is not a letter, digit, '.', '_' "
                     "or '-'", i);
            *at_r = i;
            return false;
        }
    }
    return true;
}

bool xlmig__name_ok(const char *s, char *why, size_t len, size_t *at_r)
{
    if (!s) {
        snprintf(why, len, "no name given");
        *at_r = 0;
        return false;
    }
    return xlmig__word_ok(s, XLMIG__NAME_MAX, true, why, len, at_r);
}

int xlmig__name_check(libxlmig_ctx *ctx, const char *what, const char *name)
{
    char why[96], quoted[XLMIG__QUOTE_MAX + 8];
    size_t at;

    if (xlmig__name_ok(name, why, sizeof(why), &at))
        return 0;
    xlmig__quote(name, at, quoted, sizeof(quoted));
    return xlmig__error_opt(ctx, LIBXLMIG_ERR_INVALID_ARGUMENT,
                            "%s \"%s\" is not a valid name: %s; %s",
                            what ? what : "name", quoted, why,
                            XLMIG__NAME_RULE);
}

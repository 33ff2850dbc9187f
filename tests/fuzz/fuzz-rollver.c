/* SPDX-License-Identifier: LGPL-2.1-only */
/*
 * Fuzz target for the test hook's version file
 * (xlmig__rolling_version_parse() in libxlmig/rolling.c; xlmigd.conf's
 * test-version-file): any bytes.  A refusal must say why and leave the
 * versions as they were; what is taken must be versions a target takes
 * (a digit first, at most the fields' sizes, NUL-terminated), and
 * written again as a file it must read back the same.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rolling.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_part(const char *s, size_t size)
{
    size_t n = strnlen(s, size);

    if (n == size || !n || s[0] < '0' || s[0] > '9')
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const struct xlmig__rolling_version start = { "4.17.7", "0.2.0" };
    struct xlmig__rolling_version v = start, w = start;
    char why[200], again[256];
    int rc, n;

    why[0] = '\0';
    rc = xlmig__rolling_version_parse((const char *)data, size, &v, why,
                                      sizeof(why));
    if (rc) {
        if (rc != LIBXLMIG_ERR_INVALID_ARGUMENT || !why[0] ||
            memcmp(&v, &start, sizeof(v)))
            abort();
        return 0;
    }
    check_part(v.xen, sizeof(v.xen));
    check_part(v.libxlmig, sizeof(v.libxlmig));
    n = snprintf(again, sizeof(again), "xen=%s\nlibxlmig=%s\n", v.xen,
                 v.libxlmig);
    if (n < 0 || (size_t)n >= sizeof(again) ||
        xlmig__rolling_version_parse(again, (size_t)n, &w, why, sizeof(why)) ||
        memcmp(&v, &w, sizeof(v)))
        abort();
    return 0;
}

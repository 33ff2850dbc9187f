/* SPDX-License-Identifier: LGPL-2.1-only */
/*
 * libFuzzer target for the page transform's decoder (libxlmig/pagex.c):
 * arbitrary op streams, untrusted.  Input: one byte choosing the cache
 * size, one byte the output limit, then the ops, applied as two frames
 * (split at the third byte's position) so the cache carries over.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "internal.h"
#include "pagex.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const uint32_t slots[] = { 0, 1, 2, 3, 8, 64, 4096,
                                      XLMIG__PAGEX_MAX_CACHE_PAGES };
    struct xlmig__pagex *px;
    struct xlmig__buf out;
    size_t limit, split, i;
    char why[256];
    int rc = 0;

    if (size < 3)
        return 0;
    limit = data[1] == 0xff ? (16u << 20) : (size_t)data[1] * 257;
    split = size > 3 ? data[2] % (size - 3 + 1) : 0;
    if (xlmig__pagex_new(slots[data[0] % 8], &px))
        return 0;
    xlmig__buf_init(&out);
    data += 3;
    size -= 3;
    for (i = 0; i < 2 && !rc; i++) {
        const uint8_t *ops = i ? data + split : data;
        size_t len = i ? size - split : split;

        memset(why, 0, sizeof(why));
        out.len = 0;
        rc = xlmig__pagex_decode(px, ops, len, &out, limit, why, sizeof(why));
        if (rc && (rc != LIBXLMIG_ERR_PROTOCOL || !why[0]))
            abort();            /* a rejection must say why */
        if (out.len > limit)
            abort();
    }
    xlmig__buf_dispose(&out);
    xlmig__pagex_free(px);
    return 0;
}

/* SPDX-License-Identifier: LGPL-2.1-only */
/*
 * libFuzzer target for the record follower and the page transform
 * (libxlmig/follow.c, pagex.c): arbitrary bytes as the stream, encoded
 * in chunks with flushes, decoded by a second transform; the result
 * must be the input byte for byte.  Input: two bytes of PRNG seed for
 * the chunking, one byte choosing the cache size and flush rate, then
 * the stream.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "internal.h"
#include "pagex.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint32_t next(uint32_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 17;
    *s ^= *s << 5;
    return *s;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const uint32_t slots[] = { 0, 1, 4, 1024 };
    struct xlmig__pagex *enc = NULL, *dec = NULL;
    struct xlmig__buf ops, out;
    uint32_t rng;
    unsigned flush_pct;
    size_t pos = 0, reproduced = 0;
    char why[256];

    if (size < 3)
        return 0;
    rng = ((uint32_t)data[0] << 8 | data[1]) + 1;
    flush_pct = (data[2] >> 2) % 50;
    if (xlmig__pagex_new(slots[data[2] & 3], &enc) ||
        xlmig__pagex_new(slots[data[2] & 3], &dec))
        abort();
    data += 3;
    size -= 3;
    xlmig__buf_init(&ops);
    xlmig__buf_init(&out);
    while (pos < size) {
        size_t n = 1 + next(&rng) % (next(&rng) % 2 ? 64 : 6000);
        size_t produced = 0;

        if (n > size - pos)
            n = size - pos;
        ops.len = 0;
        out.len = 0;
        if (xlmig__pagex_encode(enc, data + pos, n, &ops, 64u << 20,
                                &produced))
            abort();
        if (pos + n == size || next(&rng) % 100 < flush_pct) {
            if (xlmig__pagex_flush(enc, &ops, 64u << 20, &produced))
                abort();
        }
        if (xlmig__pagex_decode(dec, ops.data, ops.len, &out, 64u << 20, why,
                                sizeof(why)))
            abort();
        if (out.len != produced ||
            (out.len && memcmp(out.data, data + reproduced, out.len)))
            abort();
        reproduced += out.len;
        pos += n;
    }
    if (reproduced != size)
        abort();
    xlmig__buf_dispose(&ops);
    xlmig__buf_dispose(&out);
    xlmig__pagex_free(enc);
    xlmig__pagex_free(dec);
    return 0;
}

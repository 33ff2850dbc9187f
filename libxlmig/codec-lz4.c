/* SPDX-License-Identifier: LGPL-2.1-only */
/*
 * Codec "lz4": LZ4 block format.  Level 1 is LZ4's default; levels 2-9
 * raise LZ4's acceleration (faster, larger), as `lz4 --fast=N` does.
 */
#include <limits.h>
#include <stdlib.h>

#include <lz4.h>

#include "codec.h"
#include "internal.h"

static int lz4_state_new(void **st_r)
{
    void *s = xlmig__zalloc((size_t)LZ4_sizeofState());

    if (!s)
        return LIBXLMIG_ERR_NO_MEMORY;
    *st_r = s;
    return 0;
}

static void lz4_state_free(void *st)
{
    free(st);
}

static size_t lz4_bound(size_t len)
{
    return len > LZ4_MAX_INPUT_SIZE ? 0 : (size_t)LZ4_compressBound((int)len);
}

static int lz4_encode(void *st, int level, const uint8_t *in, size_t len,
                      uint8_t *out, size_t out_cap, size_t *out_len_r)
{
    int r;

    if (len > LZ4_MAX_INPUT_SIZE || out_cap > INT_MAX)
        return LIBXLMIG_ERR_INTERNAL;
    r = LZ4_compress_fast_extState(st, (const char *)in, (char *)out,
                                   (int)len, (int)out_cap, level);
    if (r <= 0 && len > 0)
        return LIBXLMIG_ERR_INTERNAL;
    *out_len_r = (size_t)(r > 0 ? r : 0);
    return 0;
}

static int lz4_decode(void *st, const uint8_t *in, size_t len, uint8_t *out,
                      size_t out_len)
{
    int r;

    (void)st;
    if (len > INT_MAX || out_len > INT_MAX)
        return LIBXLMIG_ERR_PROTOCOL;
    if (out_len == 0)
        return len <= 1 ? 0 : LIBXLMIG_ERR_PROTOCOL;
    r = LZ4_decompress_safe((const char *)in, (char *)out, (int)len,
                            (int)out_len);
    if (r < 0 || (size_t)r != out_len)
        return LIBXLMIG_ERR_PROTOCOL;
    return 0;
}

const struct xlmig__codec_ops xlmig__codec_lz4 = {
    .name = "lz4",
    .id = XLMIG__CODEC_LZ4,
    .min_level = 1,
    .max_level = 9,
    .default_level = 1,
    .state_new = lz4_state_new,
    .state_free = lz4_state_free,
    .bound = lz4_bound,
    .encode = lz4_encode,
    .decode = lz4_decode,
};

/* SPDX-License-Identifier: LGPL-2.1-only */
/*
 * Codec "zstd": levels from -7 (zstd --fast=7) to 19; negative levels
 * are zstd's fast modes, as `zstd --fast=N` uses.
 */
#include <stdlib.h>

#include <zstd.h>

#include "codec.h"
#include "internal.h"

struct zstd_state {
    ZSTD_CCtx *c;
    ZSTD_DCtx *d;
};

static int zstd_state_new(void **st_r)
{
    struct zstd_state *s = xlmig__zalloc(sizeof(*s));

    if (!s)
        return LIBXLMIG_ERR_NO_MEMORY;
    s->c = ZSTD_createCCtx();
    s->d = ZSTD_createDCtx();
    if (!s->c || !s->d) {
        ZSTD_freeCCtx(s->c);
        ZSTD_freeDCtx(s->d);
        free(s);
        return LIBXLMIG_ERR_NO_MEMORY;
    }
    *st_r = s;
    return 0;
}

static void zstd_state_free(void *st)
{
    struct zstd_state *s = st;

    if (!s)
        return;
    ZSTD_freeCCtx(s->c);
    ZSTD_freeDCtx(s->d);
    free(s);
}

static size_t zstd_bound(size_t len)
{
    return ZSTD_compressBound(len);
}

static int zstd_encode(void *st, int level, const uint8_t *in, size_t len,
                       uint8_t *out, size_t out_cap, size_t *out_len_r)
{
    struct zstd_state *s = st;
    size_t r = ZSTD_compressCCtx(s->c, out, out_cap, in, len, level);

    if (ZSTD_isError(r))
        return LIBXLMIG_ERR_INTERNAL;
    *out_len_r = r;
    return 0;
}

static int zstd_decode(void *st, const uint8_t *in, size_t len, uint8_t *out,
                       size_t out_len)
{
    struct zstd_state *s = st;
    unsigned long long content;
    size_t r;

    /* The frame must say its size, and say exactly out_len. */
    content = ZSTD_getFrameContentSize(in, len);
    if (content != out_len)
        return LIBXLMIG_ERR_PROTOCOL;
    r = ZSTD_decompressDCtx(s->d, out, out_len, in, len);
    if (ZSTD_isError(r) || r != out_len)
        return LIBXLMIG_ERR_PROTOCOL;
    return 0;
}

const struct xlmig__codec_ops xlmig__codec_zstd = {
    .name = "zstd",
    .id = XLMIG__CODEC_ZSTD,
    .min_level = -7,
    .max_level = 19,
    .default_level = 1,
    .state_new = zstd_state_new,
    .state_free = zstd_state_free,
    .bound = zstd_bound,
    .encode = zstd_encode,
    .decode = zstd_decode,
};

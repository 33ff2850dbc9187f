/* SPDX-License-Identifier: LGPL-2.1-only */
/* Codec "zlib": deflate with zlib's header, levels 1-9. */
#include <limits.h>
#include <stdlib.h>

#include <zlib.h>

#include "codec.h"
#include "internal.h"

struct zlib_state {
    z_stream enc;
    int enc_level;          /* level enc was set up for; 0: not yet */
    z_stream dec;
    int dec_ready;
};

static int zlib_state_new(void **st_r)
{
    struct zlib_state *s = xlmig__zalloc(sizeof(*s));

    if (!s)
        return LIBXLMIG_ERR_NO_MEMORY;
    *st_r = s;
    return 0;
}

static void zlib_state_free(void *st)
{
    struct zlib_state *s = st;

    if (!s)
        return;
    if (s->enc_level)
        deflateEnd(&s->enc);
    if (s->dec_ready)
        inflateEnd(&s->dec);
    free(s);
}

static size_t zlib_bound(size_t len)
{
    return (size_t)compressBound((uLong)len);
}

static int zlib_encode(void *st, int level, const uint8_t *in, size_t len,
                       uint8_t *out, size_t out_cap, size_t *out_len_r)
{
    struct zlib_state *s = st;
    int r;

    if (len > UINT_MAX || out_cap > UINT_MAX)
        return LIBXLMIG_ERR_INTERNAL;
    if (s->enc_level != level) {
        if (s->enc_level)
            deflateEnd(&s->enc);
        s->enc_level = 0;
        if (deflateInit(&s->enc, level) != Z_OK)
            return LIBXLMIG_ERR_NO_MEMORY;
        s->enc_level = level;
    } else if (deflateReset(&s->enc) != Z_OK) {
        return LIBXLMIG_ERR_INTERNAL;
    }
    s->enc.next_in = (Bytef *)in;
    s->enc.avail_in = (uInt)len;
    s->enc.next_out = out;
    s->enc.avail_out = (uInt)out_cap;
    r = deflate(&s->enc, Z_FINISH);
    if (r != Z_STREAM_END)
        return LIBXLMIG_ERR_INTERNAL;
    *out_len_r = out_cap - s->enc.avail_out;
    return 0;
}

static int zlib_decode(void *st, const uint8_t *in, size_t len, uint8_t *out,
                       size_t out_len)
{
    struct zlib_state *s = st;
    int r;

    if (len > UINT_MAX || out_len > UINT_MAX)
        return LIBXLMIG_ERR_PROTOCOL;
    if (!s->dec_ready) {
        if (inflateInit(&s->dec) != Z_OK)
            return LIBXLMIG_ERR_NO_MEMORY;
        s->dec_ready = 1;
    } else if (inflateReset(&s->dec) != Z_OK) {
        return LIBXLMIG_ERR_INTERNAL;
    }
    s->dec.next_in = (Bytef *)in;
    s->dec.avail_in = (uInt)len;
    s->dec.next_out = out;
    s->dec.avail_out = (uInt)out_len;
    r = inflate(&s->dec, Z_FINISH);
    /* Exactly out_len bytes, and all of the input used. */
    if (r != Z_STREAM_END || s->dec.avail_out != 0 || s->dec.avail_in != 0)
        return LIBXLMIG_ERR_PROTOCOL;
    return 0;
}

const struct xlmig__codec_ops xlmig__codec_zlib = {
    .name = "zlib",
    .id = XLMIG__CODEC_ZLIB,
    .min_level = 1,
    .max_level = 9,
    .default_level = 1,
    .state_new = zlib_state_new,
    .state_free = zlib_state_free,
    .bound = zlib_bound,
    .encode = zlib_encode,
    .decode = zlib_decode,
};

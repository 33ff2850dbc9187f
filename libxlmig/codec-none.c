/* SPDX-License-Identifier: LGPL-2.1-only */
/* Codec "none": the bytes as they are. */
#include <string.h>

#include "codec.h"
#include "internal.h"

static int none_state_new(void **st_r)
{
    *st_r = NULL;
    return 0;
}

static void none_state_free(void *st)
{
    (void)st;
}

static size_t none_bound(size_t len)
{
    return len;
}

static int none_encode(void *st, int level, const uint8_t *in, size_t len,
                       uint8_t *out, size_t out_cap, size_t *out_len_r)
{
    (void)st;
    (void)level;
    if (out_cap < len)
        return LIBXLMIG_ERR_INTERNAL;
    memcpy(out, in, len);
    *out_len_r = len;
    return 0;
}

static int none_decode(void *st, const uint8_t *in, size_t len, uint8_t *out,
                       size_t out_len)
{
    (void)st;
    if (len != out_len)
        return LIBXLMIG_ERR_PROTOCOL;
    memcpy(out, in, len);
    return 0;
}

const struct xlmig__codec_ops xlmig__codec_none = {
    .name = "none",
    .id = XLMIG__CODEC_NONE,
    .min_level = 0,
    .max_level = 0,
    .default_level = 0,
    .state_new = none_state_new,
    .state_free = none_state_free,
    .bound = none_bound,
    .encode = none_encode,
    .decode = none_decode,
};

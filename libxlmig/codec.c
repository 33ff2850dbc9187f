/* SPDX-License-Identifier: LGPL-2.1-only */
/* The table of codecs, indexed by wire id. */
#include <string.h>

#include "codec.h"

const struct xlmig__codec_ops *const xlmig__codecs[XLMIG__CODEC_COUNT] = {
    [XLMIG__CODEC_NONE] = &xlmig__codec_none,
    [XLMIG__CODEC_ZLIB] = &xlmig__codec_zlib,
    [XLMIG__CODEC_ZSTD] = &xlmig__codec_zstd,
    [XLMIG__CODEC_LZ4] = &xlmig__codec_lz4,
};

const struct xlmig__codec_ops *xlmig__codec_by_name(const char *name)
{
    unsigned int i;

    for (i = 0; name && i < XLMIG__CODEC_COUNT; i++) {
        if (!strcmp(xlmig__codecs[i]->name, name))
            return xlmig__codecs[i];
    }
    return NULL;
}

const struct xlmig__codec_ops *xlmig__codec_by_id(unsigned int id)
{
    return id < XLMIG__CODEC_COUNT ? xlmig__codecs[id] : NULL;
}

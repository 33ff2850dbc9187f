/* SPDX-License-Identifier: LGPL-2.1-only */
/*
 * General-purpose codecs of the stream channel (docs/specs/channel.md).
 *
 * A codec is a static const struct xlmig__codec_ops; the table
 * xlmig__codecs[] is indexed by its wire id.  The channel core calls the
 * hooks as their comments say and asserts what they must leave behind.
 */
#ifndef XLMIG_CODEC_H
#define XLMIG_CODEC_H

#include <stddef.h>
#include <stdint.h>

/* Wire ids (never renumbered). */
enum xlmig__codec_id {
    XLMIG__CODEC_NONE = 0,
    XLMIG__CODEC_ZLIB = 1,
    XLMIG__CODEC_ZSTD = 2,
    XLMIG__CODEC_LZ4 = 3,
    XLMIG__CODEC_COUNT
};

struct xlmig__codec_ops {
    const char *name;               /* "zstd": as the CLI spells it */
    enum xlmig__codec_id id;
    int min_level, max_level, default_level;

    /*
     * Per-thread scratch state.  Called once by each encoding or
     * decoding thread before its first call; *st_r may be set to NULL
     * when the codec needs none.  Returns 0 or LIBXLMIG_ERR_NO_MEMORY.
     */
    int (*state_new)(void **st_r);
    /* Frees what state_new made; NULL-safe. */
    void (*state_free)(void *st);

    /*
     * The most bytes encode() can produce from @len input bytes.  Pure.
     * The caller gives encode() at least this much room.
     */
    size_t (*bound)(size_t len);

    /*
     * Compress @len bytes (len <= 8 MiB) at @level (within
     * [min_level, max_level]) into @out, of @out_cap >= bound(len)
     * bytes; sets *out_len_r.  Uses only @st, so threads with their own
     * state may call it at once.  The output is self-contained: decode()
     * needs nothing from earlier calls.  Returns 0, or
     * LIBXLMIG_ERR_INTERNAL if the library fails.
     */
    int (*encode)(void *st, int level, const uint8_t *in, size_t len,
                  uint8_t *out, size_t out_cap, size_t *out_len_r);

    /*
     * Decompress @len bytes of untrusted input into exactly @out_len
     * bytes at @out.  Must never write past @out + @out_len nor read
     * past @in + @len.  Returns 0, or LIBXLMIG_ERR_PROTOCOL when the input
     * is malformed or does not decode to exactly @out_len bytes.
     */
    int (*decode)(void *st, const uint8_t *in, size_t len, uint8_t *out,
                  size_t out_len);
};

extern const struct xlmig__codec_ops xlmig__codec_none;
extern const struct xlmig__codec_ops xlmig__codec_zlib;
extern const struct xlmig__codec_ops xlmig__codec_zstd;
extern const struct xlmig__codec_ops xlmig__codec_lz4;

/* Indexed by enum xlmig__codec_id. */
extern const struct xlmig__codec_ops *const xlmig__codecs[XLMIG__CODEC_COUNT];

/* The codec named @name ("none", "zlib", "zstd", "lz4"), or NULL. */
const struct xlmig__codec_ops *xlmig__codec_by_name(const char *name);

/* The codec with wire id @id, or NULL. */
const struct xlmig__codec_ops *xlmig__codec_by_id(unsigned int id);

#endif /* XLMIG_CODEC_H */

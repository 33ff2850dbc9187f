/* SPDX-License-Identifier: LGPL-2.1-only */
/* A growable byte buffer with a hard cap (internal). */
#ifndef XLMIG_BUF_H
#define XLMIG_BUF_H

#include <stddef.h>
#include <stdint.h>

struct xlmig__buf {
    uint8_t *data;
    size_t len;
    size_t cap;             /* allocated */
};

/* Empty; nothing allocated.  Idempotent with _dispose. */
void xlmig__buf_init(struct xlmig__buf *b);
void xlmig__buf_dispose(struct xlmig__buf *b);

/*
 * Make room for @extra more bytes, never past @limit bytes in all.
 * LIBXLMIG_ERR_PROTOCOL when @limit would be passed, NO_MEMORY when
 * allocation fails.
 */
int xlmig__buf_reserve(struct xlmig__buf *b, size_t extra, size_t limit);

/* Append @n bytes (reserve first, same errors). */
int xlmig__buf_append(struct xlmig__buf *b, const void *p, size_t n,
                      size_t limit);

/* Big-endian stores and loads. */
static inline void xlmig__put_be16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static inline void xlmig__put_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static inline void xlmig__put_be64(uint8_t *p, uint64_t v)
{
    xlmig__put_be32(p, (uint32_t)(v >> 32));
    xlmig__put_be32(p + 4, (uint32_t)v);
}

static inline uint16_t xlmig__get_be16(const uint8_t *p)
{
    return (uint16_t)((p[0] << 8) | p[1]);
}

static inline uint32_t xlmig__get_be32(const uint8_t *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) |
           ((uint32_t)p[2] << 8) | p[3];
}

static inline uint64_t xlmig__get_be64(const uint8_t *p)
{
    return ((uint64_t)xlmig__get_be32(p) << 32) | xlmig__get_be32(p + 4);
}

/* Little-endian loads, for Xen's stream formats (x86 streams are LE). */
static inline uint32_t xlmig__get_le32(const uint8_t *p)
{
    return ((uint32_t)p[3] << 24) | ((uint32_t)p[2] << 16) |
           ((uint32_t)p[1] << 8) | p[0];
}

static inline uint64_t xlmig__get_le64(const uint8_t *p)
{
    return ((uint64_t)xlmig__get_le32(p + 4) << 32) | xlmig__get_le32(p);
}

#endif /* XLMIG_BUF_H */

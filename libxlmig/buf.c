/* SPDX-License-Identifier: LGPL-2.1-only */
/* Growable byte buffer with a hard cap. */
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "internal.h"

void xlmig__buf_init(struct xlmig__buf *b)
{
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
}

void xlmig__buf_dispose(struct xlmig__buf *b)
{
    free(b->data);
    xlmig__buf_init(b);
}

int xlmig__buf_reserve(struct xlmig__buf *b, size_t extra, size_t limit)
{
    size_t want, ncap;
    uint8_t *p;

    if (extra > limit || b->len > limit - extra)
        return LIBXLMIG_ERR_PROTOCOL;
    want = b->len + extra;
    if (want <= b->cap)
        return 0;
    ncap = b->cap ? b->cap : 4096;
    while (ncap < want)
        ncap = ncap > limit / 2 ? limit : ncap * 2;
    p = realloc(b->data, ncap);
    if (!p)
        return LIBXLMIG_ERR_NO_MEMORY;
    b->data = p;
    b->cap = ncap;
    return 0;
}

int xlmig__buf_append(struct xlmig__buf *b, const void *p, size_t n,
                      size_t limit)
{
    int rc = xlmig__buf_reserve(b, n, limit);

    if (rc)
        return rc;
    if (n)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    return 0;
}

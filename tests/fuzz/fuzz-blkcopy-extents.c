/* SPDX-License-Identifier: LGPL-2.1-only */
/*
 * Fuzz target for the block-status rules of the bulk copier
 * (xlmig__blkcopy_extents_take() in libxlmig/blkcopy.c), which judge the
 * base:allocation extents an untrusted NBD server sends.  Input, all
 * little-endian:
 *
 *     0..7   disk size, shifted right by byte 8 (mod 64)
 *     9..16  requested offset, shifted right by byte 17 (mod 64)
 *     18     the reply's offset: the requested one plus this (signed)
 *     19..20 room in the output (mod EXTENTS_MAX + 2)
 *     21..22 uint32s in the reply: 0 for those the input holds, else
 *            this (mod 2 * EXTENTS_MAX + 17), the input's cycled
 *     23     bytes for the reason, 2 + (this mod 192)
 *     24..   the reply's (length, flags) pairs as uint32s
 *
 * Every buffer is allocated to its exact size so that ASan sees a read or
 * write past it.  Accepted: 1..room extents (at most EXTENTS_MAX),
 * starting at the requested offset, each non-empty, contiguous,
 * alternating zero and data (merged), ending past the offset and within
 * the disk; they are made of whole pairs of the reply, the first at most
 * EXTENTS_MAX pairs, none of length 0, each clamped to the disk, with
 * the kinds the pairs say; the walk stops only at the disk's end, the
 * reply's end, EXTENTS_MAX pairs or a full output.  Refused: PROTOCOL
 * with a reason, the counts left alone, and the reply really breaks a
 * rule.  The request's length is not an argument: a server may describe
 * more than it was asked (the NBD spec lets the last extent run past the
 * request), so only its start is checked.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <libnbd.h>

#include "blkcopy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define HDR 24u
#define PAIRS_MAX ((size_t)XLMIG__BLKCOPY_EXTENTS_MAX)

static uint64_t le(const uint8_t *p, unsigned int bytes)
{
    uint64_t v = 0;
    unsigned int i;

    for (i = 0; i < bytes; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

static bool is_zero(uint32_t flags)
{
    return (flags & LIBNBD_STATE_ZERO) != 0;
}

/* Does the reply break a rule that a refusal may be for? */
static bool refusal_ok(uint64_t disk, uint64_t asked, uint64_t offset,
                       const uint32_t *e, size_t nr, size_t cap)
{
    size_t j;

    if (offset != asked || asked >= disk || nr < 2 || cap == 0)
        return true;
    for (j = 0; j < nr / 2 && j < PAIRS_MAX; j++) {
        if (e[2 * j] == 0)
            return true;
    }
    return false;
}

static void check_taken(uint64_t disk, uint64_t asked, const uint32_t *e,
                        size_t nr, const struct xlmig__blkcopy_extent *ext,
                        size_t cap, size_t n, uint64_t end)
{
    uint64_t pos, len;
    size_t i, j;

    if (n < 1 || n > cap || n > PAIRS_MAX)
        abort();
    if (asked >= disk || ext[0].off != asked)
        abort();
    for (i = 0; i < n; i++) {
        if (ext[i].len == 0 || ext[i].off > disk ||
            ext[i].len > disk - ext[i].off)
            abort();            /* empty, or past the disk */
        if (i + 1 < n && (ext[i + 1].off != ext[i].off + ext[i].len ||
                          ext[i + 1].zero == ext[i].zero))
            abort();            /* a gap, an overlap, or not merged */
    }
    if (end != ext[n - 1].off + ext[n - 1].len || end <= asked || end > disk)
        abort();

    /* Made of whole pairs of the reply, with their kinds. */
    pos = asked;
    i = 0;
    for (j = 0; pos < end; j++) {
        if (j >= nr / 2 || j >= PAIRS_MAX || e[2 * j] == 0)
            abort();
        len = e[2 * j];
        if (len > disk - pos)
            len = disk - pos;
        while (pos >= ext[i].off + ext[i].len)
            i++;
        if (ext[i].zero != is_zero(e[2 * j + 1]) ||
            len > ext[i].off + ext[i].len - pos)
            abort();
        pos += len;
    }
    if (pos != end)
        abort();
    /* Stopped early only for want of room. */
    if (end < disk && j < nr / 2 && j < PAIRS_MAX &&
        (n != cap || e[2 * j] == 0 ||
         is_zero(e[2 * j + 1]) == ext[n - 1].zero))
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct xlmig__blkcopy_extent *ext = NULL;
    uint32_t *e = NULL;
    char *why = NULL;
    uint64_t disk, asked, offset, end = 0x5a5a5a5a5a5a5a5aull;
    size_t cap, nr, avail, why_len, i, n = 0xa5a5a5a5u;
    int rc;

    if (size < HDR)
        return 0;
    disk = le(data, 8) >> (data[8] % 64);
    asked = le(data + 9, 8) >> (data[17] % 64);
    offset = asked + (uint64_t)(int64_t)(int8_t)data[18];
    cap = (size_t)(le(data + 19, 2) % (PAIRS_MAX + 2));
    avail = (size - HDR) / 4;
    nr = (size_t)le(data + 21, 2);
    nr = nr ? nr % (2 * PAIRS_MAX + 17) : avail;
    why_len = 2 + data[23] % 192;

    e = malloc(nr ? nr * sizeof(*e) : 1);
    ext = malloc(cap ? cap * sizeof(*ext) : 1);
    why = malloc(why_len);
    if (!e || !ext || !why)
        goto out;
    for (i = 0; i < nr; i++)
        e[i] = avail ? (uint32_t)le(data + HDR + 4 * (i % avail), 4) : 0;
    memset(why, 0, why_len);

    rc = xlmig__blkcopy_extents_take(disk, asked, offset, e, nr, ext, cap, &n,
                                     &end, why, why_len);
    if (rc) {
        if (rc != LIBXLMIG_ERR_PROTOCOL || n != 0xa5a5a5a5u ||
            end != 0x5a5a5a5a5a5a5a5aull || !why[0] ||
            !memchr(why, '\0', why_len) ||
            !refusal_ok(disk, asked, offset, e, nr, cap))
            abort();
    } else {
        if (offset != asked)
            abort();
        check_taken(disk, asked, e, nr, ext, cap, n, end);
    }
out:
    free(e);
    free(ext);
    free(why);
    return 0;
}

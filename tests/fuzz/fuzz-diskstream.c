/* SPDX-License-Identifier: LGPL-2.1-only */
/*
 * Fuzz target for the disk stream decoder (xlmig__diskstream_dec_* in
 * libxlmig/diskstream.c), which judges the records a peer sends.
 * Input: byte 0 picks the piece sizes the stream is fed in (0: whole;
 * else pieces of 1 + (byte mod 61), varied by the data); bytes 1..8
 * (little-endian, mod 2^40) the destination's size, 0 for any; the
 * rest is the stream.
 *
 * Both runs (whole, in pieces) must agree on the outcome and on the
 * events; every DATA slice lies inside the fed piece, inside the disk,
 * and in order; ZERO ranges inside the disk; the decoder never takes
 * more than it is given.  A copy of each piece in its own allocation
 * lets ASan see any read past it.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "diskstream.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct outcome {
    int rc;
    uint64_t data_bytes, zero_bytes, events, end_total, hash;
    bool ended;
};

static void run(const uint8_t *s, size_t n, uint64_t expect, uint8_t mode,
                struct outcome *o)
{
    struct xlmig__diskstream_dec d;
    uint64_t disk = 0, last_end = 0;
    size_t pos = 0;

    memset(o, 0, sizeof(*o));
    xlmig__diskstream_dec_init(&d, expect);
    while (pos < n) {
        size_t piece = mode ? 1 + (size_t)((mode + s[pos]) % 61) : n - pos;
        uint8_t *copy;
        size_t off = 0;

        if (piece > n - pos)
            piece = n - pos;
        copy = malloc(piece ? piece : 1);
        if (!copy)
            abort();
        memcpy(copy, s + pos, piece);
        do {
            struct xlmig__diskstream_ev ev;
            size_t used = 0;

            o->rc = xlmig__diskstream_dec_next(&d, copy + off, piece - off,
                                               &used, &ev);
            if (used > piece - off)
                abort();
            if (o->rc) {
                if (!d.why[0])
                    abort();
                free(copy);
                return;
            }
            switch (ev.type) {
            case XLMIG__DISKSTREAM_EV_HEADER:
                disk = ev.size;
                if (expect && disk != expect)
                    abort();
                break;
            case XLMIG__DISKSTREAM_EV_DATA:
                if (ev.data < copy + off || ev.data + ev.len > copy + piece ||
                    !ev.len || ev.offset + ev.len > disk ||
                    ev.offset < last_end)
                    abort();
                for (size_t i = 0; i < ev.len; i++)
                    o->hash = o->hash * 31 + ev.data[i] + ev.offset + i;
                o->data_bytes += ev.len;
                last_end = ev.offset + ev.len;
                break;
            case XLMIG__DISKSTREAM_EV_ZERO:
                if (!ev.len || ev.offset + ev.len > disk ||
                    ev.offset < last_end)
                    abort();
                o->zero_bytes += ev.len;
                last_end = ev.offset + ev.len;
                break;
            case XLMIG__DISKSTREAM_EV_END:
                if (ev.offset != o->data_bytes)
                    abort();
                o->ended = true;
                o->end_total = ev.offset;
                break;
            case XLMIG__DISKSTREAM_EV_NONE:
                break;
            }
            if (ev.type != XLMIG__DISKSTREAM_EV_DATA &&
                ev.type != XLMIG__DISKSTREAM_EV_NONE)
                o->events++;
            off += used;
        } while (off < piece);
        free(copy);
        pos += piece;
    }
    o->rc = xlmig__diskstream_dec_finish(&d);
    if (!o->rc && !o->ended)
        abort();
    if (o->rc && !d.why[0])
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct outcome whole, pieces;
    uint64_t expect = 0;

    if (size < 9)
        return 0;
    for (int i = 0; i < 8; i++)
        expect |= (uint64_t)data[1 + i] << (8 * i);
    expect &= (1ull << 40) - 1;
    run(data + 9, size - 9, expect, 0, &whole);
    run(data + 9, size - 9, expect, data[0] ? data[0] : 1, &pieces);
    if (whole.rc != pieces.rc || whole.data_bytes != pieces.data_bytes ||
        whole.zero_bytes != pieces.zero_bytes ||
        whole.events != pieces.events || whole.hash != pieces.hash ||
        whole.ended != pieces.ended)
        abort();
    return 0;
}

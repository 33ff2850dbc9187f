/* SPDX-License-Identifier: LGPL-2.1-only */
/*
 * libFuzzer target for the END hold's core (libxlmig/endhold.c):
 * arbitrary bytes as the stream, fed once whole and once in chunks of
 * random sizes.  What it passes on must be the input's start, in order;
 * it keeps back at most 8 bytes while relaying; a held END is the 8
 * zero bytes right before the end of what was fed, with all before it
 * passed on; and both runs must agree.  Input: two bytes of PRNG seed
 * for the chunking, then the stream.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "endhold.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint32_t next(uint32_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 17;
    *s ^= *s << 5;
    return *s;
}

struct result {
    enum xlmig__endhold_state state;
    bool end_held;
    uint64_t end_at;
    size_t out;                 /* bytes passed on */
};

/* Feed @in in chunks (@rng NULL: all at once); check as it goes. */
static void run(struct xlmig__endhold_core *c, const uint8_t *in,
                size_t len, uint32_t *rng, struct result *r)
{
    enum xlmig__endhold_state st = XLMIG__ENDHOLD_RELAYING;
    size_t pos = 0, out = 0;

    xlmig__endhold_core_init(c);
    do {
        struct xlmig__endhold_out o;
        size_t n = len - pos;

        if (rng && n) {
            size_t max = next(rng) % 2 ? 16 : 9000;
            size_t want = 1 + next(rng) % max;

            if (want < n)
                n = want;
        }
        st = xlmig__endhold_core_feed(c, in + pos, n, &o);
        if (o.len > n || out + o.pre_len + o.len > pos + n)
            abort();
        if (o.pre_len && memcmp(o.pre, in + out, o.pre_len))
            abort();
        out += o.pre_len;
        if (o.len && out != pos)
            abort();            /* the input's part follows on at once */
        out += o.len;
        pos += n;
        switch (st) {
        case XLMIG__ENDHOLD_RELAYING:
            if (pos - out > 8 || c->end_held)
                abort();
            break;
        case XLMIG__ENDHOLD_HELD:
            if (!c->end_held || c->end_at != out || out + 8 != pos ||
                memcmp(xlmig__endhold_core_end(c), in + out, 8))
                abort();
            break;
        case XLMIG__ENDHOLD_FAILED:
            if (!xlmig__endhold_core_why(c)[0])
                abort();
            if (c->end_held && (c->end_at != out || out + 8 > pos))
                abort();
            break;
        }
    } while (pos < len && st != XLMIG__ENDHOLD_FAILED);
    if (c->end_held) {
        static const uint8_t zeros[8];

        /* END is a libxl record header of type 0, length 0. */
        if (memcmp(xlmig__endhold_core_end(c), zeros, 8))
            abort();
    }
    if (st == XLMIG__ENDHOLD_RELAYING) {
        if (xlmig__endhold_core_eof(c) != XLMIG__ENDHOLD_FAILED ||
            !xlmig__endhold_core_why(c)[0])
            abort();
        st = XLMIG__ENDHOLD_FAILED;
    } else if (xlmig__endhold_core_eof(c) != st) {
        abort();
    }
    r->state = st;
    r->end_held = c->end_held;
    r->end_at = c->end_at;
    r->out = out;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct xlmig__endhold_core c;
    struct result whole, cut;
    uint32_t rng;

    if (size < 2)
        return 0;
    rng = ((uint32_t)data[0] << 8 | data[1]) + 1;
    data += 2;
    size -= 2;
    run(&c, data, size, NULL, &whole);
    run(&c, data, size, &rng, &cut);
    /* However it is cut, the same outcome.  What went out before a
     * failure may differ (a chunk that fails passes nothing on). */
    if (whole.state != cut.state || whole.end_held != cut.end_held)
        abort();
    if (whole.end_held && (whole.end_at != cut.end_at ||
                           whole.out != cut.out))
        abort();
    return 0;
}

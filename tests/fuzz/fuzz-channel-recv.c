/* SPDX-License-Identifier: LGPL-2.1-only */
/*
 * Fuzz target for the stream channel's receiver
 * (libxlmig_channel_recv_fd() in libxlmig/channel.c): the frames a peer
 * sends after the hello, through both receiving stages.
 *
 * Input: byte 0 is the mode.  Bit 0: the sender's hello announces the
 * page transform and a cache of 64 pages.  Bit 1: the rest is built
 * into frames (below); otherwise it goes on the wire as it is.
 *
 * Built frames, one after another until the input ends: type, codec,
 * flags (one byte each), raw length and output length (2 bytes each,
 * big-endian), payload length L (2 bytes), then L payload bytes (fewer
 * if the input ends).  Sequence numbers count from 0 and the frame
 * checksum is right, so that the codecs and the page ops see what a
 * checked frame brings; the data checksum is whatever the input says.
 *
 * The receiver must end with 0 or an error and a message; it must never
 * hand on more than the frames' output lengths add up to.
 */
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#define XXH_STATIC_LINKING_ONLY    /* XXH3_state_t on the stack */
#include <xxhash.h>

#include "channel-format.h"
#include "internal.h"
#include "libxlmig.h"
#include "transport.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MODE_PAGE 0x1u
#define MODE_BUILD 0x2u
#define BUILT_HDR 9u

static libxlmig_ctx *ctx;

static void put_be(uint8_t *p, uint64_t v, unsigned int n)
{
    while (n--) {
        p[n] = (uint8_t)v;
        v >>= 8;
    }
}

static uint64_t get_be(const uint8_t *p, unsigned int n)
{
    uint64_t v = 0;

    while (n--)
        v = (v << 8) | *p++;
    return v;
}

static void hello(uint8_t *h, bool page)
{
    memset(h, 0, XLMIG__CH_HELLO_LEN);
    memcpy(h, XLMIG__CH_MAGIC, 8);
    put_be(h + 8, XLMIG__CH_VERSION, 2);
    h[10] = XLMIG__CH_ROLE_SENDER;
    put_be(h + 12, 0xf, 4);
    put_be(h + 16, page ? XLMIG__CH_TRANSFORM_PAGE : 0, 4);
    put_be(h + 20, XLMIG__WIRE_MAX, 4);
    put_be(h + 24, XLMIG__OUT_MAX, 4);
    put_be(h + 28, page ? 64 : 0, 4);
}

/* The built frames of @in into @out (room for all: see the caller);
 * their total output length in *out_total. */
static size_t build(const uint8_t *in, size_t n, uint8_t *out,
                    uint64_t *out_total)
{
    size_t pos = 0, o = 0;
    uint64_t seq = 0;

    *out_total = 0;
    while (n - pos >= BUILT_HDR) {
        const uint8_t *f = in + pos;
        size_t len = (size_t)get_be(f + 7, 2);
        uint8_t *h = out + o;

        if (len > n - pos - BUILT_HDR)
            len = n - pos - BUILT_HDR;
        memset(h, 0, XLMIG__FRAME_HDR_LEN);
        h[0] = f[0];
        h[1] = f[1];
        h[2] = f[2];
        put_be(h + 4, len, 4);
        put_be(h + 8, get_be(f + 3, 2), 4);
        put_be(h + 12, get_be(f + 5, 2), 4);
        put_be(h + 16, seq++, 8);
        put_be(h + 24, XXH3_64bits(f, BUILT_HDR), 8);
        memcpy(h + XLMIG__FRAME_HDR_LEN, f + BUILT_HDR, len);
        {
            XXH3_state_t st;

            XXH3_INITSTATE(&st);
            XXH3_64bits_reset(&st);
            XXH3_64bits_update(&st, h, 32);
            XXH3_64bits_update(&st, h + XLMIG__FRAME_HDR_LEN, len);
            put_be(h + 32, XXH3_64bits_digest(&st), 8);
        }
        *out_total += get_be(f + 5, 2);
        o += XLMIG__FRAME_HDR_LEN + len;
        pos += BUILT_HDR + len;
    }
    return o;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    libxlmig_channel_params p;
    libxlmig_channel_progress pr;
    libxlmig_transport *t = NULL;
    libxlmig_channel *ch = NULL;
    uint8_t *wire;
    size_t n = 0;
    uint64_t limit = UINT64_MAX;
    int sv[2], devnull, rc;
    uint8_t mode;

    if (!ctx && libxlmig_ctx_new(NULL, LIBXLMIG_LOG_CRITICAL, &ctx))
        abort();
    if (size < 1 || size > 16384)
        return 0;
    ctx->last_error[0] = '\0';         /* each run's own message */
    mode = data[0];
    /* Built frames grow by at most 31 bytes each (9 in, 40 out): at
     * most 80 KiB, which the socket holds. */
    wire = malloc(XLMIG__CH_HELLO_LEN + size * 5 + 64);
    if (!wire)
        abort();
    hello(wire, mode & MODE_PAGE);
    n = XLMIG__CH_HELLO_LEN;
    if (mode & MODE_BUILD) {
        n += build(data + 1, size - 1, wire + n, &limit);
    } else {
        memcpy(wire + n, data + 1, size - 1);
        n += size - 1;
    }

    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv))
        abort();
    {
        int big = 1 << 20;

        (void)setsockopt(sv[1], SOL_SOCKET, SO_SNDBUF, &big, sizeof(big));
        (void)setsockopt(sv[0], SOL_SOCKET, SO_RCVBUF, &big, sizeof(big));
    }
    /* Everything the peer says, then its end: no thread needed. */
    if (xlmig__write_all(sv[1], wire, n))
        abort();
    free(wire);
    shutdown(sv[1], SHUT_WR);

    devnull = open("/dev/null", O_WRONLY | O_CLOEXEC);
    if (devnull < 0 || libxlmig_transport_fd_new(ctx, sv[0], sv[0], &t))
        abort();
    libxlmig_channel_params_init(&p);
    p.page_cache_pages = 0;
    rc = libxlmig_channel_open(ctx, t, false, &p, &ch);
    if (rc) {
        if (!libxlmig_ctx_last_error(ctx)[0])
            abort();
    } else {
        rc = libxlmig_channel_recv_fd(ch, devnull);
        libxlmig_channel_get_progress(ch, &pr);
        if (rc && !libxlmig_ctx_last_error(ctx)[0])
            abort();
        if (pr.bytes_delivered > limit)
            abort();
        libxlmig_channel_free(ch);
    }
    close(devnull);
    close(sv[1]);
    return 0;
}

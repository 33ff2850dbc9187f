/* SPDX-License-Identifier: LGPL-2.1-only */
/*
 * The stream channel end to end over socketpairs: every codec and
 * thread count byte-exact, with and without the page transform; bad
 * input (truncated, corrupted, replayed, oversized, missing frames,
 * bad hello) refused with an error naming the frame and the reason and
 * nothing of a bad frame handed on; the receiver's two stages (frames
 * before a failure handed on, one error, a failed hand-on stops the
 * network stage); the bandwidth cap; progress.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "channel-format.h"
#include "internal.h"
#include "pagex.h"
#include "transport.h"
#include "testio.h"
#include "testutil.h"

#define XXH_STATIC_LINKING_ONLY
#include <xxhash.h>

/* ---- helpers ------------------------------------------------------ */

/* Pseudo-random, compressible-ish test data with zero pages. */
static struct blob make_data(size_t len, unsigned int seed)
{
    struct blob b = { malloc(len ? len : 1), len };
    size_t i;

    for (i = 0; i < len; i++) {
        size_t page = i / 4096;

        seed = seed * 1103515245u + 12345u;
        if (page % 4 == 1)
            b.data[i] = 0;                          /* zero page */
        else if (page % 4 == 2)
            b.data[i] = (uint8_t)("migrate "[i % 8]); /* text */
        else
            b.data[i] = (uint8_t)(seed >> 16);     /* noise */
    }
    return b;
}

struct side {
    libxlmig_ctx *ctx;
    struct capture_logger cap;
    libxlmig_channel *ch;
    bool sender;
    const libxlmig_channel_params *p;
    libxlmig_transport *t;
    int rc;
};

static void *open_thread(void *arg)
{
    struct side *s = arg;

    s->rc = libxlmig_channel_open(s->ctx, s->t, s->sender, s->p, &s->ch);
    return NULL;
}

static void side_init(struct side *s, bool sender)
{
    memset(s, 0, sizeof(*s));
    capture_init(&s->cap);
    assert_int_equal(libxlmig_ctx_new(&s->cap.vtable, LIBXLMIG_LOG_DEBUG,
                                      &s->ctx), 0);
    s->sender = sender;
}

static void side_dispose(struct side *s)
{
    libxlmig_channel_free(s->ch);
    libxlmig_ctx_free(s->ctx);
}

/* Open a sender and a receiver joined by a socketpair. */
static void open_pair(struct side *snd, struct side *rcv,
                      const libxlmig_channel_params *p)
{
    int sv[2];
    pthread_t th;

    side_init(snd, true);
    side_init(rcv, false);
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv),
                     0);
    assert_int_equal(libxlmig_transport_fd_new(snd->ctx, sv[0], sv[0],
                                               &snd->t), 0);
    assert_int_equal(libxlmig_transport_fd_new(rcv->ctx, sv[1], sv[1],
                                               &rcv->t), 0);
    snd->p = p;
    pthread_create(&th, NULL, open_thread, rcv);
    open_thread(snd);
    pthread_join(th, NULL);
    if (snd->rc || rcv->rc)
        fail_msg("open: %s / %s", snd->cap.text, rcv->cap.text);
}

struct sendjob {
    libxlmig_channel *ch;
    int fd;
    int rc;
};

static void *send_thread(void *arg)
{
    struct sendjob *j = arg;

    j->rc = libxlmig_channel_send_fd(j->ch, j->fd);
    close(j->fd);
    return NULL;
}

/* Send @in through a fresh channel pair; return what came out, and
 * each side's progress at the end when asked. */
static struct blob round_trip(const libxlmig_channel_params *p,
                              const struct blob *in,
                              libxlmig_channel_progress *sprog,
                              libxlmig_channel_progress *rprog)
{
    struct side snd, rcv;
    int in_pipe[2], out_pipe[2];
    struct pump feed, drain;
    struct sendjob sj;
    pthread_t tf, td, ts;
    int rrc;

    open_pair(&snd, &rcv, p);
    assert_int_equal(pipe2(in_pipe, O_CLOEXEC), 0);
    assert_int_equal(pipe2(out_pipe, O_CLOEXEC), 0);
    feed = (struct pump){ .fd = in_pipe[1], .data = in->data,
                          .len = in->len };
    drain = (struct pump){ .fd = out_pipe[0] };
    sj = (struct sendjob){ .ch = snd.ch, .fd = in_pipe[0] };
    pthread_create(&tf, NULL, pump_feed_main, &feed);
    pthread_create(&td, NULL, pump_drain_main, &drain);
    pthread_create(&ts, NULL, send_thread, &sj);
    rrc = libxlmig_channel_recv_fd(rcv.ch, out_pipe[1]);
    close(out_pipe[1]);
    pthread_join(tf, NULL);
    pthread_join(ts, NULL);
    pthread_join(td, NULL);
    if (sj.rc || rrc)
        fail_msg("send %d recv %d: %s / %s", sj.rc, rrc, snd.cap.text,
                 rcv.cap.text);
    if (sprog)
        libxlmig_channel_get_progress(snd.ch, sprog);
    if (rprog)
        libxlmig_channel_get_progress(rcv.ch, rprog);
    side_dispose(&snd);
    side_dispose(&rcv);
    return drain.got;
}

/* ---- round trips ------------------------------------------------- */

static void test_round_trip_every_codec_and_thread_count(void **state)
{
    static const char *const codecs[] = { "none", "zlib", "zstd", "lz4",
                                          "auto" };
    static const unsigned int threads[] = { 1, 2, 4 };
    static const bool pages[] = { false, true };
    struct blob in = make_data(3 * 1024 * 1024 + 1234, 7);
    size_t c, t, pg;

    (void)state;
    for (c = 0; c < sizeof(codecs) / sizeof(codecs[0]); c++) {
        for (t = 0; t < sizeof(threads) / sizeof(threads[0]); t++) {
            for (pg = 0; pg < 2; pg++) {
                libxlmig_channel_params p;
                libxlmig_channel_progress prog;
                struct blob out;

                libxlmig_channel_params_init(&p);
                p.codec = codecs[c];
                p.threads = threads[t];
                p.page_aware = pages[pg];
                p.chunk_size = 256 * 1024;
                out = round_trip(&p, &in, &prog, NULL);
                if (out.len != in.len || memcmp(out.data, in.data, in.len))
                    fail_msg("%s x%u page=%d: output differs (%zu vs %zu)",
                             codecs[c], threads[t], pages[pg], out.len,
                             in.len);
                assert_int_equal(prog.bytes_in, in.len);
                if (strcmp(codecs[c], "none") && strcmp(codecs[c], "auto"))
                    assert_true(prog.bytes_out < in.len);
                free(out.data);
            }
        }
    }
    free(in.data);
}

static void test_round_trip_sizes(void **state)
{
    static const size_t sizes[] = { 0, 1, 4095, 4096, 4097, 65536,
                                    (1 << 20) + 1 };
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        libxlmig_channel_params p;
        struct blob in = make_data(sizes[i], (unsigned)i);
        struct blob out;

        libxlmig_channel_params_init(&p);
        p.threads = 2;
        out = round_trip(&p, &in, NULL, NULL);
        assert_int_equal(out.len, in.len);
        assert_memory_equal(out.data, in.data, in.len);
        free(out.data);
        free(in.data);
    }
}

static void test_levels(void **state)
{
    static const struct {
        const char *codec;
        int level;
    } cases[] = {
        { "zstd", -7 }, { "zstd", 19 }, { "zlib", 9 }, { "lz4", 9 },
    };
    struct blob in = make_data(300000, 3);
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        libxlmig_channel_params p;
        struct blob out;

        libxlmig_channel_params_init(&p);
        p.codec = cases[i].codec;
        p.level = cases[i].level;
        out = round_trip(&p, &in, NULL, NULL);
        assert_int_equal(out.len, in.len);
        assert_memory_equal(out.data, in.data, in.len);
        free(out.data);
    }
    free(in.data);
}

static void test_bad_params(void **state)
{
    static const struct {
        const char *codec;
        int level;
        unsigned int threads;
        uint32_t chunk;
        const char *why;
    } cases[] = {
        { "brotli", LIBXLMIG_LEVEL_DEFAULT, 0, 0, "unknown codec 'brotli'" },
        { "zstd", 20, 0, 0, "level 20 is out of range for zstd" },
        { "zlib", 0, 0, 0, "level 0 is out of range for zlib" },
        { "zstd", LIBXLMIG_LEVEL_DEFAULT, 65, 0, "65 threads" },
        { "zstd", LIBXLMIG_LEVEL_DEFAULT, 0, 100, "chunk size 100" },
    };
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct side s;
        libxlmig_channel_params p;
        int sv[2];

        side_init(&s, true);
        libxlmig_channel_params_init(&p);
        p.codec = cases[i].codec;
        p.level = cases[i].level;
        p.threads = cases[i].threads;
        p.chunk_size = cases[i].chunk;
        assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
        assert_int_equal(libxlmig_transport_fd_new(s.ctx, sv[0], sv[0],
                                                   &s.t), 0);
        assert_int_equal(libxlmig_channel_open(s.ctx, s.t, true, &p, &s.ch),
                         LIBXLMIG_ERR_INVALID_ARGUMENT);
        assert_contains(libxlmig_ctx_last_error(s.ctx), cases[i].why);
        close(sv[1]);
        side_dispose(&s);
    }
}

/* ---- bad input --------------------------------------------------- */

/* A valid sender-side byte stream: hello + frames for @in. */
static struct blob capture_stream(const struct blob *in, const char *codec,
                                  bool page)
{
    struct side snd;
    libxlmig_channel_params p;
    int sv[2], in_pipe[2];
    struct pump cap, feed;
    struct sendjob sj;
    pthread_t tc, tf;
    uint8_t hello[XLMIG__CH_HELLO_LEN];

    side_init(&snd, true);
    libxlmig_channel_params_init(&p);
    p.codec = codec;
    p.page_aware = page;
    p.chunk_size = 64 * 1024;
    p.threads = 2;
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    /* A fake receiver hello, then read everything the sender writes. */
    memset(hello, 0, sizeof(hello));
    memcpy(hello, XLMIG__CH_MAGIC, 8);
    xlmig__put_be16(hello + 8, XLMIG__CH_VERSION);
    hello[10] = XLMIG__CH_ROLE_RECEIVER;
    xlmig__put_be32(hello + 12, 0xf);
    xlmig__put_be32(hello + 16, 1);
    xlmig__put_be32(hello + 20, XLMIG__WIRE_MAX);
    xlmig__put_be32(hello + 24, XLMIG__OUT_MAX);
    assert_int_equal(xlmig__write_all(sv[1], hello, sizeof(hello)), 0);
    cap = (struct pump){ .fd = sv[1] };
    pthread_create(&tc, NULL, pump_drain_main, &cap);
    assert_int_equal(libxlmig_transport_fd_new(snd.ctx, sv[0], sv[0],
                                               &snd.t), 0);
    assert_int_equal(libxlmig_channel_open(snd.ctx, snd.t, true, &p,
                                           &snd.ch), 0);
    assert_int_equal(pipe2(in_pipe, O_CLOEXEC), 0);
    feed = (struct pump){ .fd = in_pipe[1], .data = in->data,
                          .len = in->len };
    pthread_create(&tf, NULL, pump_feed_main, &feed);
    sj = (struct sendjob){ .ch = snd.ch, .fd = in_pipe[0] };
    send_thread(&sj);
    pthread_join(tf, NULL);
    assert_int_equal(sj.rc, 0);
    side_dispose(&snd);         /* closes sv[0]: the reader sees EOF */
    pthread_join(tc, NULL);
    return cap.got;
}

/* Offsets of each frame header in a captured stream. */
static size_t frame_offsets(const struct blob *s, size_t *off, size_t max)
{
    size_t pos = XLMIG__CH_HELLO_LEN, n = 0;

    while (pos + XLMIG__FRAME_HDR_LEN <= s->len && n < max) {
        off[n++] = pos;
        pos += XLMIG__FRAME_HDR_LEN + xlmig__get_be32(s->data + pos + 4);
    }
    return n;
}

/* Re-seal a frame's checksum after editing its header. */
static void reseal(uint8_t *h)
{
    uint32_t wl = xlmig__get_be32(h + 4);
    XXH3_state_t st;

    XXH3_INITSTATE(&st);
    XXH3_64bits_reset(&st);
    XXH3_64bits_update(&st, h, 32);
    XXH3_64bits_update(&st, h + XLMIG__FRAME_HDR_LEN, wl);
    xlmig__put_be64(h + 32, XXH3_64bits_digest(&st));
}

/*
 * A transport that says it is sealed (as TLS is) around a plain one:
 * the receiver then leaves out the frame checksum.
 */
static bool feed_sealed;

static ssize_t sealed_read(libxlmig_transport *t, void *buf, size_t len)
{
    libxlmig_transport *in = t->priv;

    return in->ops->read(in, buf, len);
}

static int sealed_write(libxlmig_transport *t, const void *buf, size_t len)
{
    libxlmig_transport *in = t->priv;

    return in->ops->write(in, buf, len);
}

static int sealed_shutdown_write(libxlmig_transport *t)
{
    libxlmig_transport *in = t->priv;

    return in->ops->shutdown_write(in);
}

static void sealed_cancel_read(libxlmig_transport *t)
{
    xlmig__transport_cancel_read(t->priv);
}

static bool sealed_yes(libxlmig_transport *t)
{
    (void)t;
    return true;
}

static void sealed_dispose(libxlmig_transport *t)
{
    libxlmig_transport_free(t->priv);
}

static const struct xlmig__transport_ops sealed_ops = {
    .name = "sealed",
    .read = sealed_read,
    .write = sealed_write,
    .shutdown_write = sealed_shutdown_write,
    .cancel_read = sealed_cancel_read,
    .sealed = sealed_yes,
    .dispose = sealed_dispose,
};

/* Feed @wire to a receiver; return rc, error text and what came out
 * (@out NULL: xl has gone, its end of the pipe closed), and with @log_r
 * a copy of the receiver's side (its log). */
static int feed_receiver(const struct blob *wire, char *err, size_t elen,
                         struct blob *out, struct side *log_r)
{
    struct side rcv;
    int sv[2], out_pipe[2], rc;
    struct pump feed, drain;
    pthread_t tf, td;
    side_init(&rcv, false);
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    feed = (struct pump){ .fd = sv[1], .data = wire->data, .len = wire->len };
    pthread_create(&tf, NULL, pump_feed_peer_main, &feed);
    assert_int_equal(libxlmig_transport_fd_new(rcv.ctx, sv[0], sv[0],
                                               &rcv.t), 0);
    if (feed_sealed) {
        libxlmig_transport *in = rcv.t;

        assert_int_equal(xlmig__transport_new(rcv.ctx, &sealed_ops, in,
                                              &rcv.t), 0);
    }
    rc = libxlmig_channel_open(rcv.ctx, rcv.t, false, NULL, &rcv.ch);
    if (!rc && !out) {
        assert_int_equal(pipe2(out_pipe, O_CLOEXEC), 0);
        close(out_pipe[0]);
        rc = libxlmig_channel_recv_fd(rcv.ch, out_pipe[1]);
        close(out_pipe[1]);
    } else if (!rc) {
        assert_int_equal(pipe2(out_pipe, O_CLOEXEC), 0);
        drain = (struct pump){ .fd = out_pipe[0] };
        pthread_create(&td, NULL, pump_drain_main, &drain);
        rc = libxlmig_channel_recv_fd(rcv.ch, out_pipe[1]);
        close(out_pipe[1]);
        pthread_join(td, NULL);
        *out = drain.got;
    } else if (out) {
        out->data = NULL;
        out->len = 0;
    }
    snprintf(err, elen, "%s", libxlmig_ctx_last_error(rcv.ctx));
    if (log_r)
        *log_r = rcv;           /* its log; the pointers are gone */
    side_dispose(&rcv);
    pthread_join(tf, NULL);
    return rc;
}

enum mutation {
    M_NONE, M_TRUNCATE_PAYLOAD, M_TRUNCATE_HEADER, M_FLIP_PAYLOAD,
    M_FLIP_HEADER, M_REPLAY, M_SKIP, M_OVERSIZE, M_DROP_END, M_BAD_TYPE,
    M_BAD_CODEC, M_DATA_CSUM, M_BAD_MAGIC, M_BAD_VERSION, M_RAW_LEN,
};

static void test_bad_frames(void **state)
{
    static const struct {
        enum mutation m;
        int rc;
        const char *why;
    } cases[] = {
        { M_NONE, 0, "" },
        { M_TRUNCATE_PAYLOAD, LIBXLMIG_ERR_PROTOCOL,
          "frame 3 (sender to receiver): truncated: the stream ended after" },
        { M_TRUNCATE_HEADER, LIBXLMIG_ERR_PROTOCOL,
          "frame 3 (sender to receiver): truncated header" },
        { M_FLIP_PAYLOAD, LIBXLMIG_ERR_PROTOCOL,
          "frame 3 (sender to receiver): checksum mismatch" },
        { M_FLIP_HEADER, LIBXLMIG_ERR_PROTOCOL,
          "frame 3 (sender to receiver): checksum mismatch" },
        { M_REPLAY, LIBXLMIG_ERR_PROTOCOL,
          "frame 3 (sender to receiver): sequence 2 replayed" },
        { M_SKIP, LIBXLMIG_ERR_PROTOCOL,
          "frame 3 (sender to receiver): sequence 4: frames 3 to 3 are "
          "missing" },
        { M_OVERSIZE, LIBXLMIG_ERR_PROTOCOL,
          "frame 3 (sender to receiver): oversized" },
        { M_DROP_END, LIBXLMIG_ERR_PROTOCOL, "without END" },
        { M_BAD_TYPE, LIBXLMIG_ERR_PROTOCOL, "unknown frame type 9" },
        { M_BAD_CODEC, LIBXLMIG_ERR_PROTOCOL, "unknown codec 7" },
        { M_DATA_CSUM, LIBXLMIG_ERR_PROTOCOL,
          "frame 3 (sender to receiver): data checksum mismatch" },
        { M_BAD_MAGIC, LIBXLMIG_ERR_PROTOCOL, "bad hello magic" },
        { M_BAD_VERSION, LIBXLMIG_ERR_PROTOCOL, "channel version 9" },
        { M_RAW_LEN, LIBXLMIG_ERR_PROTOCOL, "does not decode to" },
    };
    struct blob in = make_data(512 * 1024, 11);
    struct blob good = capture_stream(&in, "zstd", false);
    size_t off[64], nf = frame_offsets(&good, off, 64), i;

    (void)state;
    assert_true(nf >= 6);       /* 8 data frames + END */
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct blob w = { malloc(good.len + 64), good.len }, out;
        uint8_t *f3 = w.data + off[3];
        char err[1024];
        size_t before = 0;
        int rc;

        memcpy(w.data, good.data, good.len);
        switch (cases[i].m) {
        case M_NONE:
            break;
        case M_TRUNCATE_PAYLOAD:
            w.len = off[3] + XLMIG__FRAME_HDR_LEN + 10;
            break;
        case M_TRUNCATE_HEADER:
            w.len = off[3] + 20;
            break;
        case M_FLIP_PAYLOAD:
            f3[XLMIG__FRAME_HDR_LEN + 5] ^= 0x40;
            break;
        case M_FLIP_HEADER:
            f3[23] ^= 0x01;     /* seq: caught by the checksum */
            break;
        case M_REPLAY:
            /* Frame 2 again where frame 3 should be. */
            w.len = off[3] + (off[3] - off[2]) + (good.len - off[3]);
            w.data = realloc(w.data, w.len);
            memcpy(w.data, good.data, off[3]);
            memcpy(w.data + off[3], good.data + off[2], off[3] - off[2]);
            memcpy(w.data + off[3] + (off[3] - off[2]), good.data + off[3],
                   good.len - off[3]);
            break;
        case M_SKIP:
            memmove(f3, good.data + off[4], good.len - off[4]);
            w.len = off[3] + good.len - off[4];
            break;
        case M_OVERSIZE:
            xlmig__put_be32(f3 + 4, XLMIG__WIRE_MAX + 1);
            break;
        case M_DROP_END:
            w.len = off[nf - 1];
            break;
        case M_BAD_TYPE:
            f3[0] = 9;
            break;
        case M_BAD_CODEC:
            f3[1] = 7;
            break;
        case M_DATA_CSUM:
            f3[24] ^= 1;
            reseal(f3);
            break;
        case M_BAD_MAGIC:
            w.data[0] = 'Y';
            break;
        case M_BAD_VERSION:
            xlmig__put_be16(w.data + 8, 9);
            break;
        case M_RAW_LEN:
            xlmig__put_be32(f3 + 8, xlmig__get_be32(f3 + 8) + 1);
            xlmig__put_be32(f3 + 12, xlmig__get_be32(f3 + 12) + 1);
            reseal(f3);
            break;
        }
        rc = feed_receiver(&w, err, sizeof(err), &out, NULL);
        if (rc != cases[i].rc)
            fail_msg("mutation %d: rc %d, want %d: %s", cases[i].m, rc,
                     cases[i].rc, err);
        assert_contains(err, cases[i].why);
        /* Nothing of a bad frame is handed on: only frames 0..2. */
        if (cases[i].m >= M_TRUNCATE_PAYLOAD && cases[i].m <= M_OVERSIZE &&
            cases[i].m != M_DROP_END) {
            size_t k;

            for (k = 0; k < 3; k++)
                before += xlmig__get_be32(good.data + off[k] + 12);
            assert_int_equal(out.len, before);
            assert_memory_equal(out.data, in.data, before);
        }
        if (cases[i].m == M_NONE) {
            assert_int_equal(out.len, in.len);
            assert_memory_equal(out.data, in.data, in.len);
        }
        free(out.data);
        free(w.data);
    }
    free(good.data);
    free(in.data);
}

/*
 * Over a sealed transport (TLS) the frame checksum is left out: a frame
 * whose checksum bytes alone are wrong goes through, and everything
 * else is still checked, the data checksum after decoding among it.
 */
static void test_sealed_skips_frame_checksum(void **state)
{
    struct blob in = make_data(512 * 1024, 12);
    struct blob good = capture_stream(&in, "zstd", false);
    size_t off[64], nf = frame_offsets(&good, off, 64);
    struct blob w = { malloc(good.len), good.len }, out;
    char err[1024];
    int rc;

    (void)state;
    assert_true(nf >= 6);
    memcpy(w.data, good.data, good.len);
    w.data[off[3] + 39] ^= 0x10;            /* frame 3's frame_csum */

    /* Plain: caught. */
    rc = feed_receiver(&w, err, sizeof(err), &out, NULL);
    assert_int_equal(rc, LIBXLMIG_ERR_PROTOCOL);
    assert_contains(err, "frame 3 (sender to receiver): checksum mismatch");
    free(out.data);

    /* Sealed: all of it handed on. */
    feed_sealed = true;
    rc = feed_receiver(&w, err, sizeof(err), &out, NULL);
    assert_int_equal(rc, 0);
    assert_int_equal(out.len, in.len);
    assert_memory_equal(out.data, in.data, in.len);
    free(out.data);

    /* Sealed, the data checksum wrong too: caught after decoding. */
    w.data[off[3] + 24] ^= 0x01;
    rc = feed_receiver(&w, err, sizeof(err), &out, NULL);
    feed_sealed = false;
    assert_int_equal(rc, LIBXLMIG_ERR_PROTOCOL);
    assert_contains(err, "frame 3 (sender to receiver): data checksum "
                         "mismatch");
    free(out.data);
    free(w.data);
    free(good.data);
    free(in.data);
}

/* ---- the receiver's two stages ------------------------------------ */

/* Errors @s logged: lines "IO_ERROR: ...", "PROTOCOL_ERROR: ". */
static int errors_logged(const struct side *s)
{
    const char *p = s->cap.text;
    int n = 0;

    while ((p = strstr(p, "_ERROR: ")) != NULL) {
        n++;
        p++;
    }
    return n;
}

/* Stream bytes in frames 0..n-1 of a captured stream. */
static size_t out_before(const struct blob *w, const size_t *off, size_t n)
{
    size_t k, sum = 0;

    for (k = 0; k < n; k++)
        sum += xlmig__get_be32(w->data + off[k] + 12);
    return sum;
}

/*
 * Frames go through the ring and out in order; the receiver's progress
 * has each stage's CPU time.
 */
static void test_recv_stages(void **state)
{
    libxlmig_channel_params p;
    libxlmig_channel_progress rp;
    struct blob in = make_data(4u << 20, 17), out;

    (void)state;
    libxlmig_channel_params_init(&p);
    p.chunk_size = 64 * 1024;   /* many more frames than slots */
    out = round_trip(&p, &in, NULL, &rp);
    assert_int_equal(out.len, in.len);
    assert_memory_equal(out.data, in.data, in.len);
    assert_int_equal(rp.bytes_delivered, in.len);
    assert_true(rp.frames_in >= 64);
    assert_true(rp.recv_net_cpu_ns > 0);
    assert_true(rp.recv_decode_cpu_ns > 0);
    free(out.data);
    free(in.data);
}

/*
 * A peer that vanishes mid-stream, with frames still in the ring: every
 * whole frame before it is handed on, then the error is the stream's
 * end without END, and no other.
 */
static void test_recv_peer_vanishes(void **state)
{
    struct blob in = make_data(40 * 64 * 1024, 19);
    struct blob good = capture_stream(&in, "zstd", false), w, out;
    size_t off[64], nf = frame_offsets(&good, off, 64);
    struct side cnt;
    char err[1024], want[128];
    int rc;

    (void)state;
    assert_true(nf >= 36);
    w = (struct blob){ good.data, off[30] };    /* frames 0..29 */
    rc = feed_receiver(&w, err, sizeof(err), &out, &cnt);
    assert_int_equal(rc, LIBXLMIG_ERR_PROTOCOL);
    snprintf(want, sizeof(want), "the stream (sender to receiver) ended "
             "after frame 29 without END");
    assert_contains(err, want);
    assert_int_equal(errors_logged(&cnt), 1);
    assert_int_equal(out.len, out_before(&good, off, 30));
    assert_memory_equal(out.data, in.data, out.len);
    free(out.data);
    free(good.data);
    free(in.data);
}

/*
 * A corrupted frame deep in the stream, the ring full behind it: the
 * frames before it are handed on, nothing of it or after it, and the
 * one error is its checksum's.
 */
static void test_recv_corrupt_frame(void **state)
{
    struct blob in = make_data(40 * 64 * 1024, 23);
    struct blob good = capture_stream(&in, "lz4", false), out;
    size_t off[64], nf = frame_offsets(&good, off, 64);
    struct side cnt;
    char err[1024];
    int rc;

    (void)state;
    assert_true(nf >= 36);
    good.data[off[20] + XLMIG__FRAME_HDR_LEN + 7] ^= 0x10;
    rc = feed_receiver(&good, err, sizeof(err), &out, &cnt);
    assert_int_equal(rc, LIBXLMIG_ERR_PROTOCOL);
    assert_contains(err, "frame 20 (sender to receiver): checksum mismatch");
    assert_int_equal(errors_logged(&cnt), 1);
    assert_int_equal(out.len, out_before(&good, off, 20));
    assert_memory_equal(out.data, in.data, out.len);
    free(out.data);
    free(good.data);
    free(in.data);
}

/*
 * Two failures, handing on frame 0 (xl has gone) and frame 2's
 * checksum, which the network stage may well meet first: the one error
 * reported is the first in stream order, the hand-on's.
 */
static void test_recv_first_failure_reported(void **state)
{
    struct blob in = make_data(16 * 64 * 1024, 31);
    struct blob good = capture_stream(&in, "zstd", false);
    size_t off[64], nf = frame_offsets(&good, off, 64);
    struct side cnt;
    char err[1024];
    int rc, run;

    (void)state;
    assert_true(nf >= 8);
    good.data[off[2] + XLMIG__FRAME_HDR_LEN + 3] ^= 0x01;
    for (run = 0; run < 20; run++) {
        rc = feed_receiver(&good, err, sizeof(err), NULL, &cnt);
        assert_int_equal(rc, LIBXLMIG_ERR_IO);
        assert_contains(err, "handing on the received stream");
        assert_int_equal(errors_logged(&cnt), 1);
    }
    free(good.data);
    free(in.data);
}

struct recvjob {
    libxlmig_channel *ch;
    int fd;
    int rc;
};

static void *recv_thread(void *arg)
{
    struct recvjob *j = arg;

    j->rc = libxlmig_channel_recv_fd(j->ch, j->fd);
    return NULL;
}

/* Feeds p->data to p->fd; then, with hold >= 0, waits for the test to
 * close hold's other end before it closes fd (the sender stalls). */
struct stall_feed {
    struct pump p;
    int hold;
};

static void *stall_feed_main(void *arg)
{
    struct stall_feed *f = arg;
    char c;

    (void)xlmig__write_all(f->p.fd, f->p.data, f->p.len);
    if (f->hold >= 0) {
        while (read(f->hold, &c, 1) > 0)
            ;
        close(f->hold);
    }
    close(f->p.fd);
    return NULL;
}

/*
 * Handing on fails (xl closed its pipe) while the sender keeps sending,
 * or while it sends nothing more and the network stage waits in a read:
 * receive returns within seconds with the one error naming the hand-on.
 * A cancel that does not wake the network stage hangs the receiver; the
 * join gives up after 10 s.
 */
static void test_recv_handing_on_fails(void **state)
{
    static const struct {
        size_t len;             /* stream bytes fed */
        bool stall;             /* then hold the input open */
    } cases[] = {
        { 32u << 20, false },
        { 16 * 1024, true },
    };
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        libxlmig_channel_params p;
        struct side snd, rcv;
        struct blob in = make_data(cases[i].len, 29);
        int in_pipe[2], out_pipe[2], hold[2] = { -1, -1 };
        struct stall_feed feed;
        struct sendjob sj;
        struct recvjob rj;
        struct timespec dl;
        pthread_t tf, ts, tr;

        libxlmig_channel_params_init(&p);
        p.chunk_size = 64 * 1024;
        p.threads = 2;
        open_pair(&snd, &rcv, &p);
        assert_int_equal(pipe2(in_pipe, O_CLOEXEC), 0);
        assert_int_equal(pipe2(out_pipe, O_CLOEXEC), 0);
        close(out_pipe[0]);     /* xl is gone */
        if (cases[i].stall)
            assert_int_equal(pipe2(hold, O_CLOEXEC), 0);
        feed = (struct stall_feed){ { .fd = in_pipe[1], .data = in.data,
                                      .len = in.len }, hold[0] };
        sj = (struct sendjob){ .ch = snd.ch, .fd = in_pipe[0] };
        rj = (struct recvjob){ .ch = rcv.ch, .fd = out_pipe[1] };
        pthread_create(&tf, NULL, stall_feed_main, &feed);
        pthread_create(&ts, NULL, send_thread, &sj);
        pthread_create(&tr, NULL, recv_thread, &rj);
        clock_gettime(CLOCK_REALTIME, &dl);
        dl.tv_sec += 10;
        if (pthread_timedjoin_np(tr, NULL, &dl))
            fail_msg("case %zu: receive did not return 10 s after handing "
                     "on failed", i);
        assert_int_equal(rj.rc, LIBXLMIG_ERR_IO);
        assert_contains(libxlmig_ctx_last_error(rcv.ctx),
                        "handing on the received stream: Broken pipe");
        assert_int_equal(errors_logged(&rcv), 1);
        /* The sender ends: its input ends, its peer is gone. */
        if (hold[1] >= 0)
            close(hold[1]);
        side_dispose(&rcv);
        pthread_join(tf, NULL);
        pthread_join(ts, NULL);
        close(out_pipe[1]);
        side_dispose(&snd);
        free(in.data);
    }
}

/* ---- bandwidth cap ---------------------------------------------- */

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/*
 * 1.5 MiB of noise at a 3 MiB/s cap takes about 0.5 s; without a cap
 * a few ms.  The bound is loose on purpose: this checks that the cap
 * works, not how fast anything is.
 */
static void test_bwlimit(void **state)
{
    libxlmig_channel_params p;
    struct blob in = make_data(1536 * 1024, 5), out;
    double t0, dt;
    size_t i;

    (void)state;
    for (i = 0; i < in.len; i++)
        in.data[i] = (uint8_t)(i * 2654435761u >> 13);
    libxlmig_channel_params_init(&p);
    p.codec = "none";
    p.page_aware = false;
    p.bwlimit = 3 * 1024 * 1024;
    t0 = now_s();
    out = round_trip(&p, &in, NULL, NULL);
    dt = now_s() - t0;
    assert_int_equal(out.len, in.len);
    if (dt < 0.35)
        fail_msg("1.5 MiB at 3 MiB/s took only %.3f s", dt);
    free(out.data);
    free(in.data);
}

/* ---- the page cache's size ----------------------------------------- */

/* The pages the sender logged for its cache, or -1. */
static long logged_cache_pages(const struct side *s, bool *automatic_r)
{
    const char *m = strstr(s->cap.text, "page cache: ");

    if (!m)
        return -1;
    *automatic_r = strstr(m, "(a sixth of the memory available)") != NULL;
    return strtol(m + strlen("page cache: "), NULL, 10);
}

/*
 * By default the cache is a sixth of the memory available, at most
 * 65536 pages (256 MiB); a size given is taken as it is.
 */
static void test_page_cache_size(void **state)
{
    libxlmig_channel_params p;
    struct side snd, rcv;
    bool automatic = false;

    (void)state;
    /* 1 GiB available: 170 MiB each, three take half of it. */
    assert_int_equal(xlmig__pagex_pages_for(1048576), 43690);
    assert_int_equal(xlmig__pagex_pages_for(6 * 4 * 100), 100);
    assert_int_equal(xlmig__pagex_pages_for(23), 0);
    assert_int_equal(xlmig__pagex_pages_for(6 * 4 * 65536), 65536);
    assert_int_equal(xlmig__pagex_pages_for(64ull << 30), 65536);

    libxlmig_channel_params_init(&p);
    assert_int_equal(p.page_cache_pages, LIBXLMIG_PAGE_CACHE_AUTO);
    open_pair(&snd, &rcv, &p);
    assert_int_equal(logged_cache_pages(&snd, &automatic),
                     xlmig__pagex_auto_pages());
    assert_true(automatic);
    side_dispose(&snd);
    side_dispose(&rcv);

    p.page_cache_pages = 100;
    open_pair(&snd, &rcv, &p);
    assert_int_equal(logged_cache_pages(&snd, &automatic), 100);
    assert_false(automatic);
    side_dispose(&snd);
    side_dispose(&rcv);
}

int main(void)
{
    /* The pumps write to pipes whose readers may have stopped. */
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip_every_codec_and_thread_count),
        cmocka_unit_test(test_round_trip_sizes),
        cmocka_unit_test(test_levels),
        cmocka_unit_test(test_bad_params),
        cmocka_unit_test(test_bad_frames),
        cmocka_unit_test(test_sealed_skips_frame_checksum),
        cmocka_unit_test(test_recv_stages),
        cmocka_unit_test(test_recv_peer_vanishes),
        cmocka_unit_test(test_recv_corrupt_frame),
        cmocka_unit_test(test_recv_first_failure_reported),
        cmocka_unit_test(test_recv_handing_on_fails),
        cmocka_unit_test(test_bwlimit),
        cmocka_unit_test(test_page_cache_size),
    };

    return cmocka_run_group_tests_name("channel", tests, NULL, NULL);
}

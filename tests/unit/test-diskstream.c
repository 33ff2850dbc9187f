/* SPDX-License-Identifier: LGPL-2.1-only */
/*
 * The disk stream (libxlmig/diskstream.c, docs/specs/diskstream.md):
 *
 *   - the record format: encoder and decoder round trip, whole and
 *     byte by byte; the refusals, table-driven (magic, version, flags,
 *     reserved, size, type, lengths over the caps, offsets beyond the
 *     disk, overflow, going back, END's total, missing END, truncated
 *     payload, trailing bytes);
 *   - end to end with real qemu-nbd servers on unix sockets (qemu-utils
 *     must be installed): a sparse 64 MiB qcow2 with compressible data
 *     served read-only, sent through a socketpair with codec zstd into a
 *     fresh qcow2 (qemu-img compare: identical; fewer bytes on the wire
 *     than data; zero grains not sent); with ZERO records into an image
 *     full of other bytes; sizes that differ; cancel from another
 *     thread under a bandwidth cap; a peer that goes away mid-stream
 *     (the receiver fails and does not claim a flush).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "diskstream.h"
#include "internal.h"
#include "testctx.h"
#include "testfs.h"
#include "testnbd.h"


/* The sender's own context (the receiver uses testctx.h's). */
static struct capture_logger cap2;
static libxlmig_ctx *ctx2;

/* ------------------------------------------------------------ format */

struct built {
    uint8_t b[4096];
    size_t n;
};

static void add(struct built *s, const void *p, size_t n)
{
    assert_true(s->n + n <= sizeof(s->b));
    memcpy(s->b + s->n, p, n);
    s->n += n;
}

/*
 * A stream from a little script: H (size a, flags c, version d or 1),
 * h (a header with the reserved field set), R (record: offset a,
 * length b, type c, then d payload bytes), B (the 8 bytes "BADMAGIC"
 * then a header's remaining 24), T (one stray byte).
 */
struct op {
    char k;
    uint64_t a, b;
    uint32_t c, d;
};

static void build(struct built *s, const struct op *ops, size_t n)
{
    uint8_t h[XLMIG__DISKSTREAM_HDR_LEN], r[XLMIG__DISKSTREAM_REC_LEN];
    size_t i, j;

    s->n = 0;
    for (i = 0; i < n; i++) {
        const struct op *o = &ops[i];

        switch (o->k) {
        case 'H':
        case 'h':
        case 'B':
            xlmig__diskstream_put_header(h, o->a, o->c);
            if (o->d) {
                h[8] = (uint8_t)o->d;
                h[9] = (uint8_t)(o->d >> 8);
            }
            if (o->k == 'h')
                h[31] = 1;
            if (o->k == 'B')
                memcpy(h, "BADMAGIC", 8);
            add(s, h, sizeof(h));
            break;
        case 'R':
            xlmig__diskstream_put_record(r, o->a, (uint32_t)o->b, o->c);
            add(s, r, sizeof(r));
            for (j = 0; j < o->d; j++) {
                uint8_t v = (uint8_t)(o->a + j);

                add(s, &v, 1);
            }
            break;
        case 'T':
            add(s, "!", 1);
            break;
        }
    }
}

struct events {
    int rc;
    unsigned int headers, zeros, ends;
    uint64_t data, zero_bytes, hash;
    char why[200];
};

/* Decode @s in pieces of @piece bytes (0: whole) and finish. */
static void decode(const struct built *s, size_t piece, uint64_t expect,
                   struct events *e)
{
    struct xlmig__diskstream_dec d;
    size_t pos = 0;

    memset(e, 0, sizeof(*e));
    xlmig__diskstream_dec_init(&d, expect);
    while (pos < s->n) {
        size_t n = piece ? piece : s->n, used;
        struct xlmig__diskstream_ev ev;

        if (n > s->n - pos)
            n = s->n - pos;
        e->rc = xlmig__diskstream_dec_next(&d, s->b + pos, n, &used, &ev);
        if (e->rc)
            goto done;
        assert_true(used <= n);
        pos += used;
        switch (ev.type) {
        case XLMIG__DISKSTREAM_EV_HEADER: e->headers++; break;
        case XLMIG__DISKSTREAM_EV_ZERO:
            e->zeros++;
            e->zero_bytes += ev.len;
            break;
        case XLMIG__DISKSTREAM_EV_END: e->ends++; break;
        case XLMIG__DISKSTREAM_EV_DATA:
            for (size_t i = 0; i < ev.len; i++) {
                /* The payload byte is (record offset + index): the
                 * slice's disk offset says which. */
                assert_int_equal(ev.data[i], (uint8_t)(ev.offset + i));
                e->hash = e->hash * 31 + ev.data[i];
            }
            e->data += ev.len;
            break;
        case XLMIG__DISKSTREAM_EV_NONE: break;
        }
    }
    e->rc = xlmig__diskstream_dec_finish(&d);
 done:
    memcpy(e->why, d.why, sizeof(e->why));
}

static void test_roundtrip(void **state)
{
    const struct op ops[] = {
        { 'H', MiB, 0, XLMIG__DISKSTREAM_FLAG_ZEROS, 0 },
        { 'R', 0, 100, XLMIG__DISKSTREAM_DATA, 100 },
        { 'R', 4096, 8192, XLMIG__DISKSTREAM_ZERO, 0 },
        { 'R', 65536, 5, XLMIG__DISKSTREAM_DATA, 5 },
        { 'R', MiB - 7, 7, XLMIG__DISKSTREAM_DATA, 7 },
        { 'R', 112, 0, XLMIG__DISKSTREAM_END, 0 },
    };
    struct built s;
    struct events whole, bytes, odd;

    (void)state;
    build(&s, ops, ARRAY_LEN(ops));
    assert_int_equal(s.n, 32 + 5 * 16 + 112);
    decode(&s, 0, MiB, &whole);
    decode(&s, 1, 0, &bytes);
    decode(&s, 13, MiB, &odd);
    assert_int_equal(whole.rc, 0);
    assert_int_equal(whole.headers, 1);
    assert_int_equal(whole.zeros, 1);
    assert_int_equal(whole.ends, 1);
    assert_int_equal(whole.data, 112);
    assert_int_equal(whole.zero_bytes, 8192);
    assert_int_equal(bytes.rc, 0);
    assert_int_equal(bytes.data, 112);
    assert_int_equal(bytes.hash, whole.hash);
    assert_int_equal(odd.rc, 0);
    assert_int_equal(odd.hash, whole.hash);
    assert_int_equal(odd.zeros, 1);

    /* An empty disk: header and END only. */
    {
        const struct op e[] = { { 'H', 0, 0, 0, 0 },
                                { 'R', 0, 0, XLMIG__DISKSTREAM_END, 0 } };

        build(&s, e, 2);
        decode(&s, 0, 0, &whole);
        assert_int_equal(whole.rc, 0);
        assert_int_equal(whole.ends, 1);
    }
}

struct refusal {
    const char *name;
    struct op ops[4];
    size_t nops;
    uint64_t expect;
    const char *why;            /* a fragment of d.why */
};

#define DATA XLMIG__DISKSTREAM_DATA
#define ZERO XLMIG__DISKSTREAM_ZERO
#define END XLMIG__DISKSTREAM_END
#define HDR(sz) { 'H', (sz), 0, 0, 0 }

static const struct refusal refusals[] = {
    { "bad magic", { { 'B', MiB, 0, 0, 0 } }, 1, 0, "bad magic" },
    { "version 2", { { 'H', MiB, 0, 0, 2 } }, 1, 0, "version 2" },
    { "unknown flag", { { 'H', MiB, 0, 2, 0 } }, 1, 0, "unknown flags" },
    { "reserved set", { { 'h', MiB, 0, 0, 0 } }, 1, 0, "reserved" },
    { "size over 64 TiB", { HDR((64ull << 40) + 1) }, 1, 0, "beyond 64 TiB" },
    { "size not the destination's", { HDR(MiB) }, 1, 2 * MiB,
      "destination is 2097152" },
    { "unknown type", { HDR(MiB), { 'R', 0, 1, 9, 0 } }, 2, 0,
      "unknown type 9" },
    { "DATA of length 0", { HDR(MiB), { 'R', 0, 0, DATA, 0 } }, 2, 0,
      "out of range" },
    { "DATA over the cap", { HDR(1ull << 40),
                             { 'R', 0, (32u << 20) + 1, DATA, 0 } }, 2, 0,
      "out of range (1 to 33554432)" },
    { "ZERO over the cap", { HDR(1ull << 40),
                             { 'R', 0, (1u << 30) + 1, ZERO, 0 } }, 2, 0,
      "out of range (1 to 1073741824)" },
    { "beyond the disk", { HDR(MiB), { 'R', MiB - 4, 8, DATA, 0 } }, 2, 0,
      "pass the end of the disk" },
    { "offset past the disk", { HDR(MiB), { 'R', 2 * MiB, 1, ZERO, 0 } }, 2,
      0, "pass the end of the disk" },
    { "offset overflow", { HDR(MiB), { 'R', UINT64_MAX - 4095, 8192, DATA,
                                       0 } }, 2, 0,
      "pass the end of the disk" },
    { "length past a small disk", { HDR(100), { 'R', 0, 101, ZERO, 0 } }, 2,
      0, "pass the end of the disk" },
    { "going back", { HDR(MiB), { 'R', 100, 10, DATA, 10 },
                      { 'R', 105, 1, ZERO, 0 } }, 3, 0, "goes back" },
    { "END with a length", { HDR(MiB), { 'R', 0, 4, END, 0 } }, 2, 0,
      "END with length 4" },
    { "END total wrong", { HDR(MiB), { 'R', 0, 3, DATA, 3 },
                           { 'R', 4, 0, END, 0 } }, 3, 0,
      "END says 4 data bytes, 3 came" },
    { "missing END", { HDR(MiB), { 'R', 0, 3, DATA, 3 } }, 2, 0,
      "without END" },
    { "truncated payload", { HDR(MiB), { 'R', 0, 30, DATA, 10 } }, 2, 0,
      "20 payload bytes missing" },
    { "truncated header", { { 'H', MiB, 0, 0, 0 } }, 0, 0,
      "ended in its header" },
    { "trailing bytes", { HDR(MiB), { 'R', 0, 0, END, 0 }, { 'T', 0, 0, 0,
                                                              0 } }, 3, 0,
      "1 bytes after END" },
    { "nothing", { { 'T', 0, 0, 0, 0 } }, 0, 0, "ended in its header" },
};

static void test_refusals(void **state)
{
    size_t i, p;

    (void)state;
    for (i = 0; i < ARRAY_LEN(refusals); i++) {
        const struct refusal *t = &refusals[i];
        static const size_t pieces[] = { 0, 1, 7 };
        struct built s;

        build(&s, t->ops, t->nops);
        if (!strcmp(t->name, "truncated header")) {
            build(&s, t->ops, 1);
            s.n = 20;
        }
        for (p = 0; p < ARRAY_LEN(pieces); p++) {
            struct events e;

            decode(&s, pieces[p], t->expect, &e);
            if (e.rc != LIBXLMIG_ERR_PROTOCOL)
                fail_msg("%s (pieces of %zu): rc %d, why '%s'", t->name,
                         pieces[p], e.rc, e.why);
            if (!strstr(e.why, t->why))
                fail_msg("%s: '%s' does not say '%s'", t->name, e.why,
                         t->why);
        }
    }
}

/* After a refusal, every later call fails: nothing more is handed on. */
static void test_sticky(void **state)
{
    const struct op ops[] = { HDR(MiB), { 'R', 0, 8, 77, 0 } };
    struct xlmig__diskstream_dec d;
    struct xlmig__diskstream_ev ev;
    struct built s;
    size_t used;

    (void)state;
    build(&s, ops, 2);
    xlmig__diskstream_dec_init(&d, 0);
    assert_int_equal(xlmig__diskstream_dec_next(&d, s.b, s.n, &used, &ev), 0);
    assert_int_equal(ev.type, XLMIG__DISKSTREAM_EV_HEADER);
    assert_int_equal(xlmig__diskstream_dec_next(&d, s.b + used, s.n - used,
                                                &used, &ev),
                     LIBXLMIG_ERR_PROTOCOL);
    assert_int_equal(xlmig__diskstream_dec_next(&d, s.b, 0, &used, &ev),
                     LIBXLMIG_ERR_PROTOCOL);
    assert_int_equal(xlmig__diskstream_dec_finish(&d), LIBXLMIG_ERR_PROTOCOL);
}

/* ------------------------------------------------------ with qemu-nbd */

static struct server src, dst;

/* 64 MiB: 1 MiB of 0xab at 1M, 512k of 0xcd at 10M, 3 MiB of 0x5a at
 * 20M, a 1 MiB data extent of zeros at 30M, 512k of 0x11 at the end. */
#define SRC_DATA (1 * MiB + 512 * 1024 + 3 * MiB + 1 * MiB + 512 * 1024)
#define SRC_NONZERO (SRC_DATA - 1 * MiB)

static void need_src(void)
{
    if (src.pid > 0)
        return;
    RUN_OK("qemu-img", "create", "-q", "-f", "qcow2", (char *)at("src.qcow2"),
           "64M");
    RUN_OK("qemu-io", "-f", "qcow2", "-c", "write -P 0xab 1M 1M", "-c",
           "write -P 0xcd 10M 512k", "-c", "write -P 0x5a 20M 3M", "-c",
           "write -P 0 30M 1M", "-c", "write -P 0x11 65024k 512k",
           (char *)at("src.qcow2"));
    start_nbd(&src, at("src.qcow2"), "qcow2", true, at("src.sock"), 0, NULL);
}

/* A fresh destination (@fill: every byte that value, or -1: empty). */
static void fresh_dst(const char *size, int fill)
{
    char cmd[64];

    stop_nbd(&dst);
    unlink(at("dst.qcow2"));
    RUN_OK("qemu-img", "create", "-q", "-f", "qcow2", (char *)at("dst.qcow2"),
           (char *)size);
    if (fill >= 0) {
        snprintf(cmd, sizeof(cmd), "write -P %d 0 %s", fill, size);
        RUN_OK("qemu-io", "-f", "qcow2", "-c", cmd, (char *)at("dst.qcow2"));
    }
    start_nbd(&dst, at("dst.qcow2"), "qcow2", false, at("dst.sock"), 0, NULL);
}

static void assert_identical(void)
{
    RUN_OK("qemu-img", "compare", "-q", "-f", "qcow2", "-F", "qcow2",
           (char *)at("src.qcow2"), (char *)at("dst.qcow2"));
}

/* One transfer: the sender on its own thread (its own context). */
struct xfer {
    struct xlmig__diskstream_opts so, ro;
    libxlmig_channel_params p;
    struct xlmig__diskstream_stats sst, rst;
    int src_rc, dst_rc;
    int fds[2];
    double sender_end;
    /* The poker: after delay_s, set cancel or shut the sender's socket. */
    double delay_s;
    bool cut;
    volatile sig_atomic_t cancel;
    double poked_at;
};

static void *sender_main(void *arg)
{
    struct xfer *x = arg;

    x->src_rc = xlmig__diskstream_send(ctx2, &x->so, &x->sst);
    x->sender_end = now_s();
    return NULL;
}

static void *poker_main(void *arg)
{
    struct xfer *x = arg;

    usleep((useconds_t)(x->delay_s * 1e6));
    x->poked_at = now_s();
    if (x->cut)
        shutdown(x->fds[0], SHUT_RDWR);
    else
        x->cancel = 1;
    return NULL;
}

static void xfer_init(struct xfer *x, const char *codec)
{
    memset(x, 0, sizeof(*x));
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0,
                                x->fds), 0);
    libxlmig_channel_params_init(&x->p);
    x->p.codec = codec;
    x->p.threads = 2;
    x->so.src_uri = src.uri;
    x->so.params = &x->p;
    x->so.sock_fd = x->fds[0];
    x->so.peer_label = "the test's receiver";
    x->ro.dst_uri = dst.uri;
    x->ro.sock_fd = x->fds[1];
    x->ro.peer_label = "the test's sender";
    assert_int_equal(libxlmig_transport_fd_new(ctx2, x->fds[0], x->fds[0],
                                               &x->so.transport), 0);
    assert_int_equal(libxlmig_transport_fd_new(ctx, x->fds[1], x->fds[1],
                                               &x->ro.transport), 0);
}

static void xfer_run(struct xfer *x, bool poke)
{
    pthread_t st, pt;

    reset_log();
    capture_init(&cap2);
    assert_int_equal(pthread_create(&st, NULL, sender_main, x), 0);
    if (poke)
        assert_int_equal(pthread_create(&pt, NULL, poker_main, x), 0);
    x->dst_rc = xlmig__diskstream_recv(ctx, &x->ro, &x->rst);
    pthread_join(st, NULL);
    if (poke)
        pthread_join(pt, NULL);
    if (getenv("XLMIG_TEST_VERBOSE"))
        fprintf(stderr, "sender %d:\n%sreceiver %d:\n%s", x->src_rc,
                cap2.text, x->dst_rc, cap.text);
}

static void test_zstd_copy(void **state)
{
    struct xfer x;

    (void)state;
    need_src();
    fresh_dst("64M", -1);
    xfer_init(&x, "zstd");
    xfer_run(&x, false);
    if (x.src_rc || x.dst_rc)
        fail_msg("sender %d (%s), receiver %d (%s)", x.src_rc, cap2.text,
                 x.dst_rc, cap.text);
    assert_true(x.rst.flushed);
    assert_int_equal(x.sst.virtual_size, DISK);
    assert_int_equal(x.sst.data_total, SRC_DATA);
    assert_int_equal(x.sst.data_done, SRC_DATA);
    assert_int_equal(x.sst.zero_skipped, 1 * MiB);
    assert_int_equal(x.sst.zeroed, 0);
    assert_int_equal(x.rst.data_done, SRC_NONZERO);
    assert_int_equal(x.rst.data_total, SRC_NONZERO);
    assert_int_equal(x.rst.stream_bytes, x.sst.stream_bytes);
    /* Compressible data: far fewer bytes on the wire than data. */
    assert_true(x.sst.wire_bytes > 0);
    assert_true(x.sst.wire_bytes < SRC_NONZERO / 10);
    assert_int_equal(x.rst.wire_bytes, x.sst.wire_bytes);
    stop_nbd(&dst);
    assert_identical();
}

static void test_codec_none_zeros(void **state)
{
    struct xfer x;

    (void)state;
    need_src();
    fresh_dst("64M", 0x99);     /* not zero: holes must be written */
    xfer_init(&x, "none");
    x.so.send_zeros = true;
    x.so.chunk = 1 * MiB;
    xfer_run(&x, false);
    if (x.src_rc || x.dst_rc)
        fail_msg("sender %d (%s), receiver %d (%s)", x.src_rc, cap2.text,
                 x.dst_rc, cap.text);
    assert_true(x.rst.flushed);
    assert_int_equal(x.sst.zeroed, DISK - SRC_NONZERO);
    assert_int_equal(x.rst.zeroed, DISK - SRC_NONZERO);
    assert_true(x.sst.wire_bytes > SRC_NONZERO);
    stop_nbd(&dst);
    assert_identical();
}

static void test_size_mismatch(void **state)
{
    struct xfer x;

    (void)state;
    need_src();
    fresh_dst("32M", -1);
    xfer_init(&x, "zstd");
    xfer_run(&x, false);
    assert_int_equal(x.dst_rc, LIBXLMIG_ERR_INVALID_ARGUMENT);
    assert_non_null(strstr(cap.text, "make the destination with the "
                                     "source's virtual size"));
    assert_false(x.rst.flushed);
    assert_int_not_equal(x.src_rc, 0);
    assert_int_equal(x.rst.data_done, 0);
}

static void test_cancel(void **state)
{
    struct xfer x;

    (void)state;
    need_src();
    fresh_dst("64M", -1);
    xfer_init(&x, "none");
    x.p.bwlimit = 1 * MiB;      /* 6 MiB of data: about 6 s */
    x.so.cancel = &x.cancel;
    x.delay_s = 0.5;
    xfer_run(&x, true);
    assert_int_equal(x.src_rc, LIBXLMIG_ERR_CANCELLED);
    assert_non_null(strstr(cap2.text, "TASK_CANCELLED"));
    if (x.sender_end - x.poked_at > 0.5)
        fail_msg("cancel took %.2f s", x.sender_end - x.poked_at);
    assert_int_not_equal(x.dst_rc, 0);
    assert_false(x.rst.flushed);
    assert_true(x.rst.data_done < SRC_NONZERO);
    assert_true(x.sst.wire_bytes < SRC_NONZERO);
}

static void test_peer_gone(void **state)
{
    struct xfer x;

    (void)state;
    need_src();
    fresh_dst("64M", -1);
    xfer_init(&x, "none");
    x.p.bwlimit = 1 * MiB;      /* about 6 s of data */
    x.delay_s = 0.4;
    x.cut = true;
    xfer_run(&x, true);
    assert_int_not_equal(x.dst_rc, 0);
    assert_int_not_equal(x.src_rc, 0);
    assert_false(x.rst.flushed);
    assert_true(x.rst.data_done < SRC_NONZERO);
}

static int setup(void **state)
{
    signal(SIGPIPE, SIG_IGN);
    capture_init(&cap2);
    if (libxlmig_ctx_new(&cap2.vtable, LIBXLMIG_LOG_DEBUG, &ctx2))
        return -1;
    src.pid = dst.pid = -1;
    if (group_setup(state) || testfs_dir_setup("xlmig-diskstream"))
        return -1;
    return 0;
}

static int teardown(void **state)
{
    stop_nbd(&src);
    stop_nbd(&dst);
    rm_tree(tmpdir);
    libxlmig_ctx_free(ctx2);
    return group_teardown(state);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roundtrip),
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_sticky),
        cmocka_unit_test(test_zstd_copy),
        cmocka_unit_test(test_codec_none_zeros),
        cmocka_unit_test(test_size_mismatch),
        cmocka_unit_test(test_cancel),
        cmocka_unit_test(test_peer_gone),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}

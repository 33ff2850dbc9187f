/* SPDX-License-Identifier: LGPL-2.1-only */
/*
 * The END hold (libxlmig/endhold.c): over real pipes and sockets, with a
 * writer and a reader thread, every byte of a generated libxl or xl
 * stream but the libxl END record passes before release, END after it;
 * aborts return at once wherever the relay waits; streams without END,
 * or with bytes after it, fail naming what was seen.  The pure core is
 * checked on its own with every way of cutting the input.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "endhold.h"
#include "internal.h"
#include "proc.h"
#include "transport.h"

#define GEN_STREAM_NO_MAIN
#include "../tools/gen-stream.c"

#include "testutil.h"
#include "testmem.h"
#include "testctx.h"

#define WAIT_MS 10000u          /* for what must come: a hang fails */

/* ------------------------------------------------------------ streams */

static struct mem *gen(uint64_t npages, const char *rounds, int layer,
                       bool xenstore_data)
{
    struct gs_opts o;
    struct gs_stats st;
    struct gs_sink k = { 0 };
    struct mem *m = mem_new();
    uint8_t *img = gs_synthetic(npages, 11);

    assert_non_null(img);
    gs_opts_default(&o);
    o.batch = 16;
    o.layer = layer;
    o.xenstore_data = xenstore_data;
    o.trailer = false;          /* as `xl save` and libxl write it */
    assert_int_equal(gs_parse_rounds(rounds, &o), 0);
    k.write = mem_write;
    k.page_at = mem_page_at;
    k.opaque = m;
    assert_int_equal(gs_generate(img, npages, &o, &k, &st), 0);
    free(img);
    return m;
}

/* Where the libxc stream's END record starts in a libxl-layer stream of
 * the same guest: after the libxl header and LIBXC_CONTEXT. */
static size_t libxc_end_at(uint64_t npages, const char *rounds)
{
    struct mem *c = gen(npages, rounds, GS_LAYER_LIBXC, true);
    size_t at = XLMIG__LIBXL_HDR_LEN + XLMIG__REC_HDR_LEN + c->len - 8;

    mem_free(c);
    return at;
}

static const uint8_t zeros8[8];

/* ------------------------------------------------------------ the core */

/*
 * Feed @in to a core in chunks of @chunk bytes (0: all at once) and
 * collect what it passes on into @got (room for @len bytes), *got_len_r
 * bytes.  Returns the state after the last chunk.
 */
static enum xlmig__endhold_state core_run(struct xlmig__endhold_core *c,
                                          const uint8_t *in, size_t len,
                                          size_t chunk, uint8_t *got,
                                          size_t *got_len_r)
{
    enum xlmig__endhold_state st = XLMIG__ENDHOLD_RELAYING;
    size_t pos = 0, got_len = 0;

    xlmig__endhold_core_init(c);
    do {
        struct xlmig__endhold_out o;
        size_t n = chunk && chunk < len - pos ? chunk : len - pos;

        size_t before = got_len;

        st = xlmig__endhold_core_feed(c, in + pos, n, &o);
        assert_true(got_len + o.pre_len + o.len <= len);
        memcpy(got + got_len, o.pre, o.pre_len);
        got_len += o.pre_len;
        assert_true(o.len <= n);
        memcpy(got + got_len, in + pos, o.len);
        got_len += o.len;
        /* What goes out is the stream, in order. */
        if (got_len > before &&
            memcmp(got + before, in + before, got_len - before))
            fail_msg("bytes %zu..%zu out are not the stream's", before,
                     got_len);
        /* Kept back: at most one libxl record header. */
        if (st == XLMIG__ENDHOLD_RELAYING)
            assert_true(pos + n - got_len <= 8);
        pos += n;
    } while (pos < len && st != XLMIG__ENDHOLD_FAILED);
    *got_len_r = got_len;
    return st;
}

/* Every stream, however cut, comes out but its last 8 bytes, the END. */
static void test_core_every_cut(void **state)
{
    static const struct {
        uint64_t npages;
        const char *rounds;
        int layer;
        bool xs;
    } streams[] = {
        { 3, "", GS_LAYER_LIBXL, true },
        { 20, "30,10,3", GS_LAYER_LIBXL, true },
        { 20, "50", GS_LAYER_XL, true },
        { 5, "100", GS_LAYER_LIBXL, false },
        { 5, "", GS_LAYER_XL, false },
    };
    static const size_t chunks[] = { 1, 2, 3, 7, 8, 9, 13, 4095, 4096, 4097,
                                     65536, 0 };
    struct xlmig__endhold_core *c = malloc(sizeof(*c));
    size_t i, j;

    (void)state;
    assert_non_null(c);
    for (i = 0; i < sizeof(streams) / sizeof(streams[0]); i++) {
        struct mem *m = gen(streams[i].npages, streams[i].rounds,
                            streams[i].layer, streams[i].xs);
        uint8_t *got = malloc(m->len);

        assert_non_null(got);
        for (j = 0; j < sizeof(chunks) / sizeof(chunks[0]); j++) {
            size_t got_len = 0;
            enum xlmig__endhold_state st =
                core_run(c, m->p, m->len, chunks[j], got, &got_len);

            if (st != XLMIG__ENDHOLD_HELD)
                fail_msg("stream %zu, chunks of %zu: state %d: %s", i,
                         chunks[j], st, xlmig__endhold_core_why(c));
            assert_int_equal(got_len, m->len - 8);
            assert_int_equal(c->end_at, m->len - 8);
            assert_memory_equal(xlmig__endhold_core_end(c), zeros8, 8);
            assert_int_equal(xlmig__endhold_core_eof(c),
                             XLMIG__ENDHOLD_HELD);
            assert_string_equal(xlmig__endhold_core_why(c), "");
        }
        free(got);
        mem_free(m);
    }
    free(c);
}

/* Cut or changed streams: the core fails, naming what it saw. */
static void test_core_bad_streams(void **state)
{
    enum { CUT, CUT_AT_LIBXC_END, CUT_AFTER_LIBXC_END, END_TYPE, APPEND,
           LIBXC_ONLY };
    static const struct {
        const char *name;
        int how;
        size_t arg;             /* CUT: bytes from the end; APPEND: bytes */
        bool held;              /* END was held before the failure */
        const char *why;
    } cases[] = {
        { "empty", CUT, SIZE_MAX, false, "the stream was empty" },
        { "in the first bytes", CUT, SIZE_MAX - 1, false,
          "in the stream's first 8 bytes" },
        { "half the libxl END", CUT, 4, false,
          "in a libxl record header (4 of 8 bytes), after the libxc "
          "stream's END, without the libxl END record" },
        { "no libxl END", CUT, 8, false,
          "between libxl records, after the libxc stream's END, without "
          "the libxl END record" },
        { "in EMULATOR_CONTEXT", CUT, 20, false,
          "in libxl record type 3 (EMULATOR_CONTEXT)" },
        { "only the libxc END", CUT_AFTER_LIBXC_END, 0, false,
          "between libxl records, after the libxc stream's END" },
        { "before the libxc END", CUT_AT_LIBXC_END, 0, false,
          "between libxc records" },
        { "in a page", CUT, 9000, false,
          "in libxc record type 0x1 (PAGE_DATA)" },
        { "END of length 8", END_TYPE, 1, false,
          "libxl END record of length 8" },
        { "unknown record for END", END_TYPE, 9, false,
          "unknown libxl record type 0x9" },
        { "bytes after END", APPEND, 3, true,
          "bytes after the libxl END record (from stream byte" },
        { "a second stream after END", APPEND, 4096, true,
          "bytes after the libxl END record" },
        { "libxc layer only", LIBXC_ONLY, 0, false,
          "a libxc stream without the libxl layer" },
    };
    struct xlmig__endhold_core *c = malloc(sizeof(*c));
    size_t i, k;

    (void)state;
    assert_non_null(c);
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        static const size_t chunks[] = { 1, 5, 4096, 0 };
        struct mem *m = gen(4, "50", cases[i].how == LIBXC_ONLY
                                         ? GS_LAYER_LIBXC : GS_LAYER_LIBXL,
                            true);
        size_t full = m->len, len = m->len;
        uint8_t *got;

        switch (cases[i].how) {
        case CUT:
            len = cases[i].arg == SIZE_MAX ? 0
                  : cases[i].arg == SIZE_MAX - 1 ? 5
                  : full - cases[i].arg;
            break;
        case CUT_AT_LIBXC_END:
            len = libxc_end_at(4, "50");
            assert_memory_equal(m->p + len, zeros8, 8);
            break;
        case CUT_AFTER_LIBXC_END:
            len = libxc_end_at(4, "50") + 8;
            break;
        case END_TYPE:
            m->p[full - 8 + (cases[i].arg == 1 ? 4 : 0)] =
                (uint8_t)(cases[i].arg == 1 ? 8 : cases[i].arg);
            if (cases[i].arg == 1) {        /* and 8 bytes of body */
                mem_write(m, zeros8, 8);
                len = m->len;
            }
            break;
        case APPEND:
            for (k = 0; k < cases[i].arg; k++)
                mem_write(m, m->p + k % full, 1);
            len = m->len;
            break;
        default:
            break;
        }
        got = malloc(len ? len : 1);
        assert_non_null(got);
        for (k = 0; k < sizeof(chunks) / sizeof(chunks[0]); k++) {
            size_t got_len = 0;
            enum xlmig__endhold_state st =
                core_run(c, m->p, len, chunks[k], got, &got_len);

            if (st == XLMIG__ENDHOLD_RELAYING)
                st = xlmig__endhold_core_eof(c);
            if (st != XLMIG__ENDHOLD_FAILED)
                fail_msg("%s, chunks of %zu: state %d", cases[i].name,
                         chunks[k], st);
            assert_contains(xlmig__endhold_core_why(c), cases[i].why);
            assert_int_equal(c->end_held, cases[i].held);
            if (cases[i].held) {
                /* All before END went out, not a byte after it. */
                assert_int_equal(got_len, full - 8);
                assert_memory_equal(xlmig__endhold_core_end(c), zeros8, 8);
            }
            /* Failed is final. */
            {
                struct xlmig__endhold_out o;

                assert_int_equal(xlmig__endhold_core_feed(c, m->p, 1, &o),
                                 XLMIG__ENDHOLD_FAILED);
                assert_int_equal(o.pre_len + o.len, 0);
            }
        }
        free(got);
        mem_free(m);
    }
    free(c);
}

/* ------------------------------------------------------------ the relay */

/* Writes a stream into an fd, in chunks, maybe with a pause. */
struct feeder {
    int fd;
    const uint8_t *p;
    size_t len;
    size_t chunk;               /* bytes per write; 0: all at once */
    size_t pause_at;            /* before this offset, wait on gate */
    int gate;                   /* fd to read a byte from there, or -1 */
    bool close_fd;              /* close fd when all is written */
    int rc;                     /* 0, or -errno of the failed write */
    pthread_t t;
};

static int feed_range(struct feeder *f, size_t from, size_t to)
{
    while (from < to) {
        size_t n = f->chunk && f->chunk < to - from ? f->chunk : to - from;
        int rc = xlmig__write_all(f->fd, f->p + from, n);

        if (rc)
            return rc;
        from += n;
    }
    return 0;
}

static void *feeder_main(void *arg)
{
    struct feeder *f = arg;
    size_t pause = f->gate >= 0 ? f->pause_at : f->len;
    char b;

    f->rc = feed_range(f, 0, pause);
    if (!f->rc && f->gate >= 0) {
        if (read(f->gate, &b, 1) == 1)
            f->rc = feed_range(f, pause, f->len);
    }
    if (f->close_fd)
        close(f->fd);
    return NULL;
}

/* Reads an fd to its end into a buffer of fixed size. */
struct drainer {
    int fd;
    uint8_t *p;
    size_t cap;
    unsigned int slow_us;       /* a slow reader: 4 KiB per this */
    atomic_size_t len;
    bool overflow;
    pthread_t t;
};

static void *drainer_main(void *arg)
{
    struct drainer *d = arg;
    uint8_t scratch[4096];

    for (;;) {
        size_t have = atomic_load(&d->len);
        size_t want = d->slow_us ? sizeof(scratch) : d->cap - have;
        ssize_t r;

        if (d->slow_us)
            usleep(d->slow_us);
        if (want > d->cap - have)
            want = d->cap - have;
        r = have < d->cap ? read(d->fd, d->p + have, want)
                          : read(d->fd, scratch, sizeof(scratch));

        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        if (have < d->cap)
            atomic_store(&d->len, have + (size_t)r);
        else
            d->overflow = true;
    }
    return NULL;
}

/* Until the drainer has @want bytes or @ms passed; returns what it has. */
static size_t drained(struct drainer *d, size_t want, unsigned int ms)
{
    double t0 = xlmig__now_s();

    while (atomic_load(&d->len) < want && xlmig__now_s() - t0 < ms / 1e3)
        xlmig__sleep_ms(1);
    return atomic_load(&d->len);
}

/* A relay between a writer and, unless told not to, a reader. */
struct rig {
    int in[2], out[2];          /* [0] read end, [1] write end */
    int gate[2];
    struct feeder f;
    struct drainer d;
    bool feeding, draining;
    struct xlmig__endhold *h;
};

static void make_fds(bool sock, int fds[2])
{
    if (sock)
        assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0,
                                    fds), 0);
    else
        assert_int_equal(pipe2(fds, O_CLOEXEC), 0);
}

struct rig_opts {
    size_t len;                 /* bytes of the stream to write */
    size_t chunk;
    size_t pause_at;            /* 0: no pause */
    bool in_sock, out_sock;
    bool no_feed;               /* the test writes itself */
    bool no_drain;
    unsigned int slow_us;       /* the reader's pace */
    bool keep_open;             /* the writer does not close its end */
};

static void rig_start(struct rig *r, const struct mem *m,
                      const struct rig_opts *o)
{
    memset(r, 0, sizeof(*r));
    make_fds(o->in_sock, r->in);
    make_fds(o->out_sock, r->out);
    r->gate[0] = r->gate[1] = -1;
    if (o->pause_at)
        assert_int_equal(pipe2(r->gate, O_CLOEXEC), 0);
    assert_int_equal(xlmig__endhold_start(ctx, r->in[0], r->out[1], &r->h),
                     0);
    r->f.fd = r->in[1];
    r->f.p = m->p;
    r->f.len = o->len;
    r->f.chunk = o->chunk;
    r->f.pause_at = o->pause_at;
    r->f.gate = r->gate[0];
    r->f.close_fd = !o->keep_open;
    if (!o->no_feed) {
        assert_int_equal(pthread_create(&r->f.t, NULL, feeder_main, &r->f),
                         0);
        r->feeding = true;
    }
    r->d.fd = r->out[0];
    r->d.slow_us = o->slow_us;
    r->d.cap = o->len + 4096;
    r->d.p = malloc(r->d.cap);
    assert_non_null(r->d.p);
    atomic_init(&r->d.len, 0);
    if (!o->no_drain) {
        assert_int_equal(pthread_create(&r->d.t, NULL, drainer_main, &r->d),
                         0);
        r->draining = true;
    }
}

/*
 * After _finish: close the writer's end of the output, so the reader
 * ends, and the reader's end of the input, so a writer still writing
 * gets EPIPE; join both.  Returns the output's length.
 */
static size_t rig_end(struct rig *r)
{
    size_t n;

    close(r->out[1]);
    close(r->in[0]);
    if (r->gate[1] >= 0)
        close(r->gate[1]);          /* a paused writer goes */
    if (r->draining)
        pthread_join(r->d.t, NULL);
    if (r->feeding)
        pthread_join(r->f.t, NULL);
    if (!r->feeding || !r->f.close_fd)
        close(r->in[1]);
    if (r->gate[0] >= 0)
        close(r->gate[0]);
    close(r->out[0]);
    n = atomic_load(&r->d.len);
    assert_false(r->d.overflow);
    return n;
}

/* The stream passes, END held until release; then all of it. */
static void test_relay_holds_end(void **state)
{
    static const struct {
        uint64_t npages;
        const char *rounds;
        int layer;
        bool xs;
        size_t chunk;           /* writer's writes; 1: records split */
        bool in_sock, out_sock;
    } cases[] = {
        { 40, "30,10,3", GS_LAYER_LIBXL, true, 0, false, false },
        { 40, "30,10,3", GS_LAYER_XL, true, 0, false, false },
        { 40, "", GS_LAYER_LIBXL, false, 4099, false, false },
        { 30, "50,5", GS_LAYER_XL, true, 65536, true, true },
        { 30, "50,5", GS_LAYER_LIBXL, true, 777, false, true },
        { 30, "50,5", GS_LAYER_LIBXL, true, 333, true, false },
        { 3, "100", GS_LAYER_LIBXL, true, 1, false, false },
        { 3, "100", GS_LAYER_XL, true, 1, false, false },
        { 2, "", GS_LAYER_LIBXL, false, 1, true, true },
    };
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct mem *m = gen(cases[i].npages, cases[i].rounds, cases[i].layer,
                            cases[i].xs);
        struct rig_opts o = { .len = m->len, .chunk = cases[i].chunk,
                              .in_sock = cases[i].in_sock,
                              .out_sock = cases[i].out_sock };
        struct rig r;
        int rc;

        reset_log();
        rig_start(&r, m, &o);
        rc = xlmig__endhold_wait(r.h, WAIT_MS);
        if (rc)
            fail_msg("case %zu: wait: %d: %s", i, rc, cap.text);
        /* Everything but END, and nothing more while it is held. */
        assert_int_equal(drained(&r.d, m->len - 8, WAIT_MS), m->len - 8);
        assert_memory_equal(r.d.p, m->p, m->len - 8);
        assert_int_equal(xlmig__endhold_bytes(r.h), m->len);
        xlmig__sleep_ms(30);
        assert_int_equal(atomic_load(&r.d.len), m->len - 8);
        assert_int_equal(xlmig__endhold_wait(r.h, 0), 0);

        assert_int_equal(xlmig__endhold_release(r.h), 0);
        assert_int_equal(drained(&r.d, m->len, WAIT_MS), m->len);
        assert_int_equal(xlmig__endhold_finish(r.h), 0);
        assert_int_equal(rig_end(&r), m->len);
        assert_memory_equal(r.d.p, m->p, m->len);
        assert_int_equal(r.f.rc, 0);
        assert_int_equal(cap.count, 0);
        free(r.d.p);
        mem_free(m);
    }
}

/*
 * END is held only once its last byte came, the bytes of it before are
 * kept back; release before the hold is refused; the relay reads on to
 * the writer's EOF after END.
 */
static void test_relay_end_in_pieces(void **state)
{
    struct mem *m = gen(6, "20", GS_LAYER_LIBXL, true);
    struct rig_opts o = { .len = m->len, .no_feed = true };
    size_t cut, k;

    (void)state;
    for (cut = 1; cut <= 8; cut += 3) {
        struct rig r;

        reset_log();
        rig_start(&r, m, &o);
        assert_int_equal(xlmig__write_all(r.in[1], m->p, m->len - cut), 0);
        assert_int_equal(drained(&r.d, m->len - 8, WAIT_MS), m->len - 8);
        for (k = m->len - cut; k < m->len; k++) {
            assert_int_equal(xlmig__endhold_wait(r.h, 20),
                             LIBXLMIG_ERR_TIMEOUT);
            assert_int_equal(atomic_load(&r.d.len), m->len - 8);
            if (k == m->len - cut) {
                assert_int_equal(xlmig__endhold_release(r.h),
                                 LIBXLMIG_ERR_INVALID_ARGUMENT);
                assert_contains(cap.text, "END released before it was held");
            }
            assert_int_equal(xlmig__write_all(r.in[1], m->p + k, 1), 0);
        }
        assert_int_equal(xlmig__endhold_wait(r.h, WAIT_MS), 0);
        assert_int_equal(atomic_load(&r.d.len), m->len - 8);
        assert_int_equal(xlmig__endhold_release(r.h), 0);
        assert_int_equal(drained(&r.d, m->len, WAIT_MS), m->len);
        /* No EOF yet: _finish waits for it. */
        assert_int_equal(xlmig__endhold_wait(r.h, 0), 0);
        close(r.in[1]);
        assert_int_equal(xlmig__endhold_finish(r.h), 0);
        r.in[1] = -1;
        assert_int_equal(rig_end(&r), m->len);
        assert_memory_equal(r.d.p, m->p, m->len);
        assert_int_equal(cap.count, 1);
        free(r.d.p);
    }
    mem_free(m);
}

/* Streams that end wrong: _wait or _finish says which way, by name. */
static void test_relay_bad_streams(void **state)
{
    enum { TRUNCATE, AFTER_LIBXC_END, TRAILING, XL_TRAILER };
    static const struct {
        const char *name;
        int how;
        size_t arg;
        int wait_rc;
        int finish_rc;
        const char *log;
    } cases[] = {
        { "truncated in a page", TRUNCATE, 30000, LIBXLMIG_ERR_PROTOCOL,
          LIBXLMIG_ERR_PROTOCOL,
          "PROTOCOL_ERROR: migration stream relay: the stream ended after" },
        { "truncated before END", TRUNCATE, 8, LIBXLMIG_ERR_PROTOCOL,
          LIBXLMIG_ERR_PROTOCOL,
          "between libxl records, after the libxc stream's END, without "
          "the libxl END record" },
        { "libxc END, no libxl END", AFTER_LIBXC_END, 0,
          LIBXLMIG_ERR_PROTOCOL, LIBXLMIG_ERR_PROTOCOL,
          "between libxl records, after the libxc stream's END" },
        { "garbage after END", TRAILING, 5, 0, LIBXLMIG_ERR_PROTOCOL,
          "bytes after the libxl END record" },
        { "a page after END", TRAILING, 4096, 0, LIBXLMIG_ERR_PROTOCOL,
          "bytes after the libxl END record" },
        { "xl migrate's message after END", XL_TRAILER, 0, 0,
          LIBXLMIG_ERR_PROTOCOL, "bytes after the libxl END record" },
    };
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct mem *m = gen(10, "30", cases[i].how == XL_TRAILER
                                          ? GS_LAYER_XL : GS_LAYER_LIBXL,
                            true);
        size_t full = m->len, end_at = full - 8, k;
        struct rig_opts o = { .len = full };
        struct rig r;
        int rc;

        switch (cases[i].how) {
        case TRUNCATE:
            o.len = full - cases[i].arg;
            break;
        case AFTER_LIBXC_END:
            o.len = libxc_end_at(10, "30") + 8;
            break;
        case TRAILING:
            for (k = 0; k < cases[i].arg; k++)
                mem_write(m, m->p + k, 1);
            o.len = m->len;
            break;
        case XL_TRAILER: {
            static const char go[] =
                "domain is yours, you are cleared to unpause";

            mem_write(m, go, sizeof(go));
            o.len = m->len;
            break;
        }
        default:
            break;
        }
        reset_log();
        rig_start(&r, m, &o);
        rc = xlmig__endhold_wait(r.h, WAIT_MS);
        if (rc != cases[i].wait_rc)
            fail_msg("%s: wait %d: %s", cases[i].name, rc, cap.text);
        if (!rc) {
            assert_int_equal(drained(&r.d, end_at, WAIT_MS), end_at);
            assert_memory_equal(r.d.p, m->p, end_at);
            assert_int_equal(xlmig__endhold_release(r.h), 0);
            assert_int_equal(drained(&r.d, full, WAIT_MS), full);
        }
        assert_int_equal(xlmig__endhold_finish(r.h), cases[i].finish_rc);
        assert_contains(cap.text, cases[i].log);
        assert_int_equal(cap.count, 1);         /* logged once */
        k = rig_end(&r);
        /* Never a byte after END; what came out is the stream's start. */
        assert_true(k <= (rc ? o.len : full));
        assert_memory_equal(r.d.p, m->p, k);
        free(r.d.p);
        mem_free(m);
    }
}

/* Abort wherever the relay waits: it returns at once, END never goes. */
static void test_relay_abort(void **state)
{
    enum { WRITER_WRITING, WRITER_PAUSED, OUTPUT_FULL, HELD, RELEASE_LATE };
    static const struct {
        const char *name;
        int where;
        bool out_sock;
    } cases[] = {
        { "while the writer writes", WRITER_WRITING, false },
        { "reading, the writer paused", WRITER_PAUSED, false },
        { "blocked on a full output pipe", OUTPUT_FULL, false },
        { "blocked on a full output socket", OUTPUT_FULL, true },
        { "END held", HELD, false },
        { "release after abort", RELEASE_LATE, false },
    };
    struct mem *m = gen(1024, "10", GS_LAYER_LIBXL, true);
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int where = cases[i].where;
        struct rig_opts o = {
            .len = m->len, .out_sock = cases[i].out_sock,
            .no_drain = where == OUTPUT_FULL,
            .pause_at = where == WRITER_PAUSED ? m->len / 2 : 0,
            .chunk = where == WRITER_WRITING ? 4096 : 0,
            .slow_us = where == WRITER_WRITING ? 1000 : 0,
        };
        struct rig r;
        size_t before, n;
        double t0;
        int fl;

        reset_log();
        rig_start(&r, m, &o);
        switch (where) {
        case WRITER_WRITING:
            while (xlmig__endhold_bytes(r.h) < (1u << 20))
                xlmig__sleep_ms(1);
            break;
        case WRITER_PAUSED:
            assert_int_equal(drained(&r.d, m->len / 2, WAIT_MS),
                             m->len / 2);
            break;
        case OUTPUT_FULL:
            /* Until the relay stops reading: it waits on the output. */
            do {
                before = xlmig__endhold_bytes(r.h);
                xlmig__sleep_ms(50);
            } while (xlmig__endhold_bytes(r.h) != before);
            assert_true(before < m->len);
            break;
        default:
            assert_int_equal(xlmig__endhold_wait(r.h, WAIT_MS), 0);
            break;
        }
        t0 = xlmig__now_s();
        xlmig__endhold_abort(r.h);
        assert_true(xlmig__now_s() - t0 < 1.0);
        xlmig__endhold_abort(r.h);              /* again: harmless */
        assert_int_equal(xlmig__endhold_wait(r.h, 0),
                         where >= HELD ? 0 : LIBXLMIG_ERR_CANCELLED);
        if (where == RELEASE_LATE)
            assert_int_equal(xlmig__endhold_release(r.h),
                             LIBXLMIG_ERR_CANCELLED);
        /* The output pipe is as it was given. */
        fl = fcntl(r.out[1], F_GETFL);
        assert_int_equal(xlmig__endhold_finish(r.h), LIBXLMIG_ERR_CANCELLED);
        if (!cases[i].out_sock) {
            assert_true(fl & O_NONBLOCK);       /* while it ran */
            assert_false(fcntl(r.out[1], F_GETFL) & O_NONBLOCK);
        }
        assert_int_equal(cap.count, 0);         /* the caller knows why */
        if (where == OUTPUT_FULL) {
            /* What the relay wrote is still there: read it now. */
            assert_int_equal(pthread_create(&r.d.t, NULL, drainer_main,
                                            &r.d), 0);
            r.draining = true;
        }
        n = rig_end(&r);
        assert_true(n <= m->len - 8);
        assert_memory_equal(r.d.p, m->p, n);
        if (where >= HELD)
            assert_int_equal(n, m->len - 8);
        else
            assert_true(n < m->len - 8);
        /* A writer cut off got EPIPE, unless it was done. */
        assert_true(r.f.rc == 0 || r.f.rc == -EPIPE ||
                    r.f.rc == -ECONNRESET);
        free(r.d.p);
    }
    mem_free(m);
}

/* The channel's reader gone: IO, named, from _wait and _finish.  The
 * stream is larger than a pipe holds (64 KiB), so the relay cannot have
 * written all of it before the reader goes. */
static void test_relay_output_gone(void **state)
{
    struct mem *m = gen(64, "", GS_LAYER_LIBXL, true);
    struct rig_opts o = { .len = m->len, .no_drain = true };
    struct rig r;

    (void)state;
    reset_log();
    rig_start(&r, m, &o);
    close(r.out[0]);
    r.out[0] = -1;
    assert_int_equal(xlmig__endhold_wait(r.h, WAIT_MS), LIBXLMIG_ERR_IO);
    assert_int_equal(xlmig__endhold_finish(r.h), LIBXLMIG_ERR_IO);
    assert_contains(cap.text, "IO_ERROR: migration stream relay: writing "
                    "to the stream channel");
    assert_int_equal(cap.count, 1);
    assert_int_equal(rig_end(&r), 0);
    free(r.d.p);
    mem_free(m);
}

/* _finish without _release: END is never written; NULL-safe calls. */
static void test_relay_finish_without_release(void **state)
{
    struct mem *m = gen(4, "", GS_LAYER_XL, true);
    struct rig_opts o = { .len = m->len };
    struct rig r;

    (void)state;
    reset_log();
    rig_start(&r, m, &o);
    assert_int_equal(xlmig__endhold_wait(r.h, WAIT_MS), 0);
    assert_int_equal(xlmig__endhold_finish(r.h), LIBXLMIG_ERR_CANCELLED);
    assert_int_equal(rig_end(&r), m->len - 8);
    assert_memory_equal(r.d.p, m->p, m->len - 8);
    assert_int_equal(xlmig__endhold_finish(NULL), 0);
    xlmig__endhold_abort(NULL);
    free(r.d.p);
    mem_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_core_every_cut),
        cmocka_unit_test(test_core_bad_streams),
        cmocka_unit_test(test_relay_holds_end),
        cmocka_unit_test(test_relay_end_in_pieces),
        cmocka_unit_test(test_relay_bad_streams),
        cmocka_unit_test(test_relay_abort),
        cmocka_unit_test(test_relay_output_gone),
        cmocka_unit_test(test_relay_finish_without_release),
    };

    /* A writer cut off gets EPIPE, not the signal. */
    signal(SIGPIPE, SIG_IGN);
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}

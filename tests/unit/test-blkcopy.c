/* SPDX-License-Identifier: LGPL-2.1-only */
/*
 * The block copier (libxlmig/blkcopy.c, docs/specs/blkcopy.md), against
 * real qemu-nbd servers (qemu-utils must be installed; the tests fail
 * without it) on unix sockets in a mkdtemp() directory, and on
 * 127.0.0.1 with TLS (certificates from tests/integration/mkcerts.sh):
 *
 *   - a sparse 64 MiB qcow2 (scattered data, an all-zero data extent,
 *     an explicitly zeroed extent, data up to the last byte) copied into
 *     a fresh qcow2 and a fresh raw image: qemu-img compare says
 *     identical, the destination holds only the data, the all-zero
 *     extent is not written, the counters and the progress calls add
 *     up; into a qcow2 full of other bytes (destination not zero): the
 *     holes are written as zeroes;
 *   - sizes that differ, a malformed URI, no server;
 *   - the bandwidth cap (a lower bound), changed while running; cancel
 *     from another thread; the destination's server killed mid-copy;
 *     a destination on a full tmpfs (mounted here: we run as root);
 *   - TLS with certificates, with a pre-shared key, a client of another
 *     CA and a client without TLS refused;
 *   - the extent rules, table-driven, as a lying server would test them.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <libnbd.h>

#include "blkcopy.h"
#include "internal.h"
#include "testctx.h"
#include "testfs.h"
#include "testnbd.h"


/* ------------------------------------------------------------ helpers */

/* How many errors were logged: lines that begin with a stable error
 * name and a colon (xlmig__error()'s form). */
static int errors_logged(void)
{
    const char *line = cap.text;
    int n = 0, code;

    while (*line) {
        for (code = LIBXLMIG_ERR_INTERNAL; code >= LIBXLMIG_ERR_LAST; code--) {
            const char *name = libxlmig_strerror_name(code);
            size_t len = strlen(name);

            if (!strncmp(line, name, len) && line[len] == ':') {
                n++;
                break;
            }
        }
        line = strchr(line, '\n');
        if (!line)
            break;
        line++;
    }
    return n;
}

/* A TCP port nobody listens on just now. */
static int free_port(void)
{
    struct sockaddr_in a = { .sin_family = AF_INET };
    socklen_t len = sizeof(a);
    int fd = socket(AF_INET, SOCK_STREAM, 0);

    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_true(fd >= 0);
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    close(fd);
    return ntohs(a.sin_port);
}

static uint64_t allocated(const char *path)
{
    struct stat st;

    assert_int_equal(stat(path, &st), 0);
    return (uint64_t)st.st_blocks * 512;
}

static void assert_identical(const char *a, const char *fa, const char *b,
                             const char *fb)
{
    RUN_OK("qemu-img", "compare", "-q", "-f", (char *)fa, "-F", (char *)fb,
           (char *)a, (char *)b);
}

/* The base:allocation flags of [off, off+len) on @uri: -1 when they are
 * not the same over the whole range. */
struct flags_seen {
    uint64_t want_end;
    int flags;
};

static int flags_cb(void *opaque, const char *meta, uint64_t off,
                    uint32_t *e, size_t n, int *error)
{
    struct flags_seen *f = opaque;
    size_t i;

    (void)error;
    if (strcmp(meta, LIBNBD_CONTEXT_BASE_ALLOCATION))
        return 0;
    for (i = 0; i + 1 < n && off < f->want_end; i += 2) {
        if (f->flags == -2)
            f->flags = (int)e[i + 1];
        else if (f->flags != (int)e[i + 1])
            f->flags = -1;
        off += e[i];
    }
    return 0;
}

static int range_flags(const char *uri, uint64_t off, uint64_t len)
{
    struct nbd_handle *h = nbd_create();
    struct flags_seen f = { off + len, -2 };

    assert_non_null(h);
    assert_int_equal(nbd_add_meta_context(h, LIBNBD_CONTEXT_BASE_ALLOCATION),
                     0);
    if (nbd_connect_uri(h, uri) < 0)
        fail_msg("connect %s: %s", uri, nbd_get_error());
    if (nbd_block_status(h, len, off,
                         (nbd_extent_callback){ .callback = flags_cb,
                                                .user_data = &f }, 0) < 0)
        fail_msg("block status %s: %s", uri, nbd_get_error());
    nbd_close(h);
    return f.flags;
}

/* ------------------------------------------------------------ fixture */

/*
 * The source of most tests: a 64 MiB qcow2 with
 *   1 MiB of 0xab at 1 MiB, 512 KiB of 0xcd at 10 MiB, 3 MiB of 0x5a at
 *   20 MiB, 1 MiB of zero bytes at 30 MiB (allocated data), 2 MiB at
 *   40 MiB written then zeroed (write -z: a zero extent), 512 KiB of
 *   0x11 at the very end.
 * Data extents: 6 MiB, of which 5 MiB are not zero.
 */
#define SRC_DATA (6 * MiB)
#define SRC_NONZERO (5 * MiB)
#define ZERO_DATA_AT (30 * MiB)
#define ZEROED_AT (40 * MiB)

/* 16 MiB of non-zero data in 1 MiB extents, 2 MiB apart. */
#define BIG_DATA (16 * MiB)

static struct server src = { .pid = -1 }, dst = { .pid = -1 },
                     big = { .pid = -1 };
static char certs[128];         /* mkcerts.sh output and our layouts */
static bool mounted;

static int setup(void **state)
{
    const char *srcdir = getenv("XLMIG_SRCDIR");
    char cmd[512];

    signal(SIGPIPE, SIG_IGN);
    if (group_setup(state) || testfs_dir_setup("xlmig-blkcopy"))
        return -1;
    snprintf(certs, sizeof(certs), "%s/certs", tmpdir);
    snprintf(cmd, sizeof(cmd), "sh %s/tests/integration/mkcerts.sh %s "
             ">/dev/null 2>&1", srcdir ? srcdir : ".", certs);
    return system(cmd) == 0 ? 0 : -1;
}

static int teardown(void **state)
{
    stop_nbd(&src);
    stop_nbd(&dst);
    stop_nbd(&big);
    if (mounted)
        umount2(at("full"), MNT_DETACH);
    rm_tree(tmpdir);
    return group_teardown(state);
}

/* Serve the sources (read-only), made on first use. */
static void need_src(void)
{
    if (src.pid > 0)
        return;
    img_create("qcow2", at("src.qcow2"), "64M");
    RUN_OK("qemu-io", "-f", "qcow2", "-c", "write -P 0xab 1M 1M", "-c",
           "write -P 0xcd 10M 512k", "-c", "write -P 0x5a 20M 3M", "-c",
           "write -P 0 30M 1M", "-c", "write -P 0x77 40M 2M", "-c",
           "write -z 40M 2M", "-c", "write -P 0x11 65024k 512k",
           (char *)at("src.qcow2"));
    start_nbd(&src, at("src.qcow2"), "qcow2", true, at("src.sock"), 0, NULL);
}

static void need_big(void)
{
    char cmd[64];
    char *argv[64];
    size_t n = 0;
    int i;

    if (big.pid > 0)
        return;
    img_create("qcow2", at("big.qcow2"), "64M");
    argv[n++] = "qemu-io";
    argv[n++] = "-f";
    argv[n++] = "qcow2";
    for (i = 0; i < 16; i++) {
        snprintf(cmd, sizeof(cmd), "write -P %d %dM 1M", i + 1, 2 * i);
        argv[n++] = "-c";
        argv[n++] = strdup(cmd);
    }
    argv[n++] = (char *)at("big.qcow2");
    argv[n] = NULL;
    i = run(argv);
    for (n = 4; n < 4 + 32; n += 2)
        free(argv[n]);
    assert_int_equal(i, 0);
    start_nbd(&big, at("big.qcow2"), "qcow2", true, at("big.sock"), 0, NULL);
}

/* A fresh destination image @name of @fmt and @size, served. */
static void fresh_dst(const char *name, const char *fmt, const char *size)
{
    stop_nbd(&dst);
    unlink(at(name));
    img_create(fmt, at(name), size);
    start_nbd(&dst, at(name), fmt, false, at("dst.sock"), 0, NULL);
}

/* Progress calls, checked as they come. */
struct progress_log {
    unsigned int calls;
    uint64_t last_done, total;
    bool backwards, over;
};

static void on_progress(void *opaque, const struct xlmig__blkcopy_stats *st)
{
    struct progress_log *p = opaque;

    if (st->data_done < p->last_done)
        p->backwards = true;
    if (st->data_done > st->data_total)
        p->over = true;
    p->last_done = st->data_done;
    p->total = st->data_total;
    p->calls++;
}

/* The log of the last copy on stderr, with XLMIG_TEST_VERBOSE set. */
static void show_log(int rc)
{
    if (getenv("XLMIG_TEST_VERBOSE"))
        fprintf(stderr, "rc %d:\n%s", rc, cap.text);
}

/* Copy with @o; returns the rc, stats in *st. */
static int copy(struct xlmig__blkcopy_opts *o, struct xlmig__blkcopy_stats *st)
{
    struct xlmig__blkcopy *c = NULL;
    int rc;

    reset_log();
    rc = xlmig__blkcopy_new(ctx, o, &c);
    if (!rc)
        rc = xlmig__blkcopy_run(c, st);
    xlmig__blkcopy_free(c);
    show_log(rc);
    return rc;
}

/* ------------------------------------------------------------- copies */

static void copy_into(const char *name, const char *fmt)
{
    struct progress_log pl = { 0 };
    struct xlmig__blkcopy_opts o = { .dst_is_zero = true,
                                     .progress = on_progress, .opaque = &pl };
    struct xlmig__blkcopy_stats st;
    uint64_t alloc;

    need_src();
    fresh_dst(name, fmt, "64M");
    o.src_uri = src.uri;
    o.dst_uri = dst.uri;
    assert_ok(copy(&o, &st));

    assert_int_equal(st.virtual_size, DISK);
    assert_int_equal(st.data_total, SRC_DATA);
    assert_int_equal(st.data_done, SRC_DATA);
    assert_int_equal(st.zero_skipped, 1 * MiB);
    assert_int_equal(st.written, SRC_NONZERO);
    assert_int_equal(st.zeroed, 0);
    assert_true(pl.calls >= 2);
    assert_false(pl.backwards);
    assert_false(pl.over);
    assert_int_equal(pl.last_done, SRC_DATA);
    assert_int_equal(pl.total, SRC_DATA);
    assert_true(pl.calls <= 3 + (unsigned int)(st.seconds * 10 + 0.5));

    /* The all-zero data extent and the zeroed one were not written. */
    assert_int_equal(range_flags(dst.uri, ZERO_DATA_AT, MiB),
                     LIBNBD_STATE_HOLE | LIBNBD_STATE_ZERO);
    assert_int_equal(range_flags(dst.uri, ZEROED_AT, 2 * MiB),
                     LIBNBD_STATE_HOLE | LIBNBD_STATE_ZERO);
    assert_int_equal(range_flags(dst.uri, 20 * MiB, 3 * MiB), 0);

    stop_nbd(&dst);
    assert_identical(at("src.qcow2"), "qcow2", at(name), fmt);
    alloc = allocated(at(name));
    if (alloc < SRC_NONZERO || alloc > SRC_NONZERO + MiB)
        fail_msg("%s holds %" PRIu64 " bytes, expected the %llu bytes of "
                 "data and at most 1 MiB of metadata", name, alloc,
                 SRC_NONZERO);
}

static void test_copy_qcow2(void **state)
{
    (void)state;
    copy_into("dst.qcow2", "qcow2");
}

static void test_copy_raw(void **state)
{
    (void)state;
    copy_into("dst.raw", "raw");
}

/* The destination is full of other bytes: holes and zeros are written. */
static void test_copy_not_zero(void **state)
{
    struct xlmig__blkcopy_opts o = { .dst_is_zero = false };
    struct xlmig__blkcopy_stats st;

    (void)state;
    need_src();
    stop_nbd(&dst);
    unlink(at("dirty.qcow2"));
    img_create("qcow2", at("dirty.qcow2"), "64M");
    RUN_OK("qemu-io", "-f", "qcow2", "-c", "write -P 0xee 0 64M",
           (char *)at("dirty.qcow2"));
    start_nbd(&dst, at("dirty.qcow2"), "qcow2", false, at("dst.sock"), 0,
              NULL);
    o.src_uri = src.uri;
    o.dst_uri = dst.uri;
    assert_ok(copy(&o, &st));
    assert_int_equal(st.data_total, SRC_DATA);
    assert_int_equal(st.written, SRC_NONZERO);
    /* Every byte not written as data was written as zeroes. */
    assert_int_equal(st.zeroed, DISK - SRC_NONZERO);
    stop_nbd(&dst);
    assert_identical(at("src.qcow2"), "qcow2", at("dirty.qcow2"), "qcow2");
}

/* ------------------------------------------------------------ refusals */

static void test_size_mismatch(void **state)
{
    struct xlmig__blkcopy_opts o = { .dst_is_zero = true };
    struct xlmig__blkcopy_stats st;

    (void)state;
    need_src();
    fresh_dst("small.qcow2", "qcow2", "32M");
    o.src_uri = src.uri;
    o.dst_uri = dst.uri;
    assert_int_equal(copy(&o, &st), LIBXLMIG_ERR_INVALID_ARGUMENT);
    assert_contains(cap.text, "INVALID_VALUE");
    assert_contains(cap.text, "67108864 bytes");
    assert_contains(cap.text, "33554432 bytes");
    assert_int_equal(errors_logged(), 1);
    assert_int_equal(st.written, 0);
    stop_nbd(&dst);
}

static void test_bad_uri_no_server(void **state)
{
    struct xlmig__blkcopy_opts o = { .dst_is_zero = true };
    struct xlmig__blkcopy_opts bad[] = {
        { .src_uri = "http://example.com/x", .dst_uri = "nbd://h/x" },
        { .src_uri = "nbd://h/x", .dst_uri = NULL },
        { .src_uri = "nbd://h/x", .dst_uri = "nbd://h/y", .chunk = 1000 },
        { .src_uri = "nbd://h/x", .dst_uri = "nbd://h/y",
          .chunk = 64 << 20 },
        { .src_uri = "nbd://h/x", .dst_uri = "nbd://h/y", .inflight = 65 },
        { .src_uri = "nbd://h/x", .dst_uri = "nbd://h/y",
          .tls_certs_dir = "/nonexistent" },
        { .src_uri = "nbd://h/x", .dst_uri = "nbds://h/y",
          .tls_certs_dir = "/nonexistent" },
        { .src_uri = "nbd://h/x", .dst_uri = "nbds://h/y",
          .tls_certs_dir = "/tmp", .tls_psk_file = "/tmp/x" },
    };
    struct xlmig__blkcopy_stats st;
    struct xlmig__blkcopy *c = NULL;
    char uri[300];
    size_t i;
    int port = free_port();

    (void)state;
    for (i = 0; i < ARRAY_LEN(bad); i++) {
        reset_log();
        c = NULL;
        assert_int_equal(xlmig__blkcopy_new(ctx, &bad[i], &c),
                         LIBXLMIG_ERR_INVALID_ARGUMENT);
        assert_null(c);
        assert_int_equal(errors_logged(), 1);
    }

    /* No server on the socket, nor on the port. */
    need_src();
    snprintf(uri, sizeof(uri), "nbd+unix:///disk?socket=%s",
             at("nobody.sock"));
    o.src_uri = src.uri;
    o.dst_uri = uri;
    assert_int_equal(copy(&o, &st), LIBXLMIG_ERR_IO);
    assert_contains(cap.text, "IO_ERROR");
    assert_contains(cap.text, "nobody.sock");
    assert_contains(cap.text, "destination");
    assert_int_equal(errors_logged(), 1);

    snprintf(uri, sizeof(uri), "nbd://127.0.0.1:%d/disk", port);
    o.src_uri = uri;
    o.dst_uri = src.uri;
    assert_int_equal(copy(&o, &st), LIBXLMIG_ERR_IO);
    assert_contains(cap.text, "source");
    assert_contains(cap.text, "refused");
}

/* --------------------------------------------------------- timing */

static void test_bwlimit(void **state)
{
    struct xlmig__blkcopy_opts o = { .dst_is_zero = true,
                                     .bwlimit = 8 * MiB };
    struct xlmig__blkcopy_stats st;
    double t;

    (void)state;
    need_big();
    fresh_dst("bw.qcow2", "qcow2", "64M");
    o.src_uri = big.uri;
    o.dst_uri = dst.uri;
    t = now_s();
    assert_ok(copy(&o, &st));
    t = now_s() - t;
    assert_int_equal(st.data_total, BIG_DATA);
    assert_int_equal(st.written, BIG_DATA);
    if (t < 1.7)
        fail_msg("16 MiB at 8 MiB/s took %.2f s", t);
    stop_nbd(&dst);
    assert_identical(at("big.qcow2"), "qcow2", at("bw.qcow2"), "qcow2");
}

struct poker {
    struct xlmig__blkcopy *c;
    unsigned int after_ms;
    enum { CANCEL, UNLIMIT, KILL } what;
    pid_t victim;
    double at;
};

static void *poke(void *arg)
{
    struct poker *p = arg;

    usleep(p->after_ms * 1000);
    p->at = now_s();
    switch (p->what) {
    case CANCEL:
        xlmig__blkcopy_cancel(p->c);
        break;
    case UNLIMIT:
        xlmig__blkcopy_set_bwlimit(p->c, 0);
        break;
    case KILL:
        kill(p->victim, SIGKILL);
        break;
    }
    return NULL;
}

/* Copy big.qcow2 at @bps while @p pokes from another thread. */
static int copy_poked(uint64_t bps, struct poker *p,
                      struct xlmig__blkcopy_stats *st, double *end)
{
    struct xlmig__blkcopy_opts o = { .dst_is_zero = true, .bwlimit = bps };
    pthread_t t;
    int rc;

    need_big();
    o.src_uri = big.uri;
    o.dst_uri = dst.uri;
    reset_log();
    assert_ok(xlmig__blkcopy_new(ctx, &o, &p->c));
    assert_int_equal(pthread_create(&t, NULL, poke, p), 0);
    rc = xlmig__blkcopy_run(p->c, st);
    *end = now_s();
    pthread_join(t, NULL);
    xlmig__blkcopy_free(p->c);
    show_log(rc);
    return rc;
}

static void test_cancel(void **state)
{
    struct poker p = { .after_ms = 300, .what = CANCEL };
    struct xlmig__blkcopy_stats st;
    double end;

    (void)state;
    fresh_dst("cancel.qcow2", "qcow2", "64M");
    assert_int_equal(copy_poked(1 * MiB, &p, &st, &end),
                     LIBXLMIG_ERR_CANCELLED);
    /* Against 16 s under the cap: prompt, on a loaded machine too. */
    if (end - p.at >= 4.0)
        fail_msg("cancel took %.2f s", end - p.at);
    assert_true(st.data_done < BIG_DATA);
    assert_contains(cap.text, "TASK_CANCELLED");
    assert_int_equal(errors_logged(), 1);
    stop_nbd(&dst);
}

static void test_set_bwlimit(void **state)
{
    struct poker p = { .after_ms = 300, .what = UNLIMIT };
    struct xlmig__blkcopy_stats st;
    double end;

    (void)state;
    fresh_dst("unlimit.qcow2", "qcow2", "64M");
    /* 16 MiB at 1 MiB/s would take 16 s; lifted after 0.3 s, the rest
     * (over 15 MiB) would take 15 s more under the cap: half of that
     * proves it gone, whatever else loads the machine. */
    assert_ok(copy_poked(1 * MiB, &p, &st, &end));
    if (end - p.at >= 7.5)
        fail_msg("the copy went on %.2f s after the cap was lifted",
                 end - p.at);
    assert_int_equal(st.data_done, BIG_DATA);
    stop_nbd(&dst);
    assert_identical(at("big.qcow2"), "qcow2", at("unlimit.qcow2"), "qcow2");
}

static void test_server_gone(void **state)
{
    struct poker p = { .after_ms = 400, .what = KILL };
    struct xlmig__blkcopy_stats st;
    double end;

    (void)state;
    fresh_dst("gone.qcow2", "qcow2", "64M");
    p.victim = dst.pid;
    assert_int_equal(copy_poked(4 * MiB, &p, &st, &end), LIBXLMIG_ERR_IO);
    waitpid(dst.pid, NULL, 0);
    dst.pid = -1;
    if (end - p.at >= 1.0)
        fail_msg("the loss was seen after %.2f s", end - p.at);
    assert_contains(cap.text, "IO_ERROR");
    assert_contains(cap.text, "destination");
    assert_contains(cap.text, "dst.sock");
    assert_int_equal(errors_logged(), 1);
}

/* The destination's file system fills up. */
static void test_dst_full(void **state)
{
    struct xlmig__blkcopy_opts o = { .dst_is_zero = true };
    struct xlmig__blkcopy_stats st;
    char img[256];
    int rc;

    (void)state;
    need_big();
    stop_nbd(&dst);
    assert_int_equal(mkdir(at("full"), 0700), 0);
    if (mount("tmpfs", at("full"), "tmpfs", 0, "size=8M"))
        fail_msg("mount -t tmpfs -o size=8M %s: %s (this test needs root)",
                 at("full"), strerror(errno));
    mounted = true;
    snprintf(img, sizeof(img), "%s/full/dst.qcow2", tmpdir);
    img_create("qcow2", img, "64M");
    start_nbd(&dst, img, "qcow2", false, at("dst.sock"), 0, NULL);
    o.src_uri = big.uri;
    o.dst_uri = dst.uri;
    rc = copy(&o, &st);
    if (rc != LIBXLMIG_ERR_SR_DESTINATION_SPACE_INSUFFICIENT &&
        rc != LIBXLMIG_ERR_IO)
        fail_msg("a full destination gave %d: %s", rc, cap.text);
    assert_contains(cap.text, "dst.sock");
    if (rc == LIBXLMIG_ERR_SR_DESTINATION_SPACE_INSUFFICIENT)
        assert_contains(cap.text, "out of space");
    assert_int_equal(errors_logged(), 1);
    assert_true(st.data_done < BIG_DATA);
    stop_nbd(&dst);
    assert_int_equal(umount2(at("full"), MNT_DETACH), 0);
    mounted = false;
}

/* ------------------------------------------------------------------ TLS */

/* CERTS/@sub holding QEMU's (@server) or libnbd's names for mkcerts.sh's
 * files: the CA @ca and the certificate and key of @who. */
static const char *cert_dir(const char *sub, const char *ca, const char *who,
                            bool server)
{
    static char d[4][256];
    static unsigned int next;
    char *p = d[next++ % 4];
    const struct {
        const char *suffix, *name;
    } files[] = {
        { ".pem", "ca-cert.pem" },
        { ".pem", server ? "server-cert.pem" : "client-cert.pem" },
        { ".key", server ? "server-key.pem" : "client-key.pem" },
    };
    char from[300], to[300];
    size_t i;

    snprintf(p, sizeof(d[0]), "%s/%s", certs, sub);
    if (mkdir(p, 0700) && errno != EEXIST)
        fail_msg("mkdir %s: %s", p, strerror(errno));
    for (i = 0; i < ARRAY_LEN(files); i++) {
        snprintf(from, sizeof(from), "%s/%s%s", certs, i ? who : ca,
                 files[i].suffix);
        snprintf(to, sizeof(to), "%s/%s", p, files[i].name);
        unlink(to);
        assert_int_equal(symlink(from, to), 0);
    }
    return p;
}

static void test_tls_x509(void **state)
{
    struct xlmig__blkcopy_opts o = { .dst_is_zero = true };
    struct xlmig__blkcopy_stats st;
    char object[512], plain[300];
    const char *extra[] = { "--object", object, "--tls-creds", "tls0", NULL };
    const char *good, *rogue;
    struct server tls = { .pid = -1 };
    int port = free_port(), rc;

    (void)state;
    need_src();
    snprintf(object, sizeof(object),
             "tls-creds-x509,id=tls0,endpoint=server,dir=%s",
             cert_dir("server", "ca", "host1", true));
    good = cert_dir("client", "ca", "host2", false);
    rogue = cert_dir("rogue", "other-ca", "rogue", false);
    unlink(at("tls.qcow2"));
    img_create("qcow2", at("tls.qcow2"), "64M");
    start_nbd(&tls, at("tls.qcow2"), "qcow2", false, NULL, port, extra);

    /* A client of another CA: refused (either side may notice). */
    o.src_uri = src.uri;
    o.dst_uri = tls.uri;
    o.tls_certs_dir = rogue;
    rc = copy(&o, &st);
    if (rc != LIBXLMIG_ERR_AUTH_FAILED && rc != LIBXLMIG_ERR_IO)
        fail_msg("a client of another CA gave %d: %s", rc, cap.text);
    assert_contains(cap.text, tls.uri);
    assert_int_equal(errors_logged(), 1);

    /* Our CA, but a client certificate of another: the server refuses
     * it (in TLS 1.3, after our side of the handshake is done). */
    o.tls_certs_dir = cert_dir("stranger", "ca", "rogue", false);
    rc = copy(&o, &st);
    if (rc != LIBXLMIG_ERR_AUTH_FAILED && rc != LIBXLMIG_ERR_IO)
        fail_msg("a client certificate of another CA gave %d: %s", rc,
                 cap.text);
    assert_int_equal(errors_logged(), 1);

    /* No TLS at all. */
    snprintf(plain, sizeof(plain), "nbd://127.0.0.1:%d/disk", port);
    o.dst_uri = plain;
    o.tls_certs_dir = NULL;
    rc = copy(&o, &st);
    if (rc != LIBXLMIG_ERR_AUTH_FAILED && rc != LIBXLMIG_ERR_IO)
        fail_msg("a client without TLS gave %d: %s", rc, cap.text);
    assert_int_equal(errors_logged(), 1);

    /* Our CA and a client certificate it signed. */
    o.dst_uri = tls.uri;
    o.tls_certs_dir = good;
    assert_ok(copy(&o, &st));
    assert_int_equal(st.written, SRC_NONZERO);
    stop_nbd(&tls);
    assert_identical(at("src.qcow2"), "qcow2", at("tls.qcow2"), "qcow2");
}

static void test_tls_psk(void **state)
{
    struct xlmig__blkcopy_opts o = { .dst_is_zero = true,
                                     .tls_username = "xlmig" };
    struct xlmig__blkcopy_stats st;
    char object[512], keys[256], wrong[256];
    const char *extra[] = { "--object", object, "--tls-creds", "tls0", NULL };
    struct server tls = { .pid = -1 };
    int port = free_port(), rc;

    (void)state;
    need_src();
    assert_int_equal(mkdir(at("psk"), 0700), 0);
    snprintf(keys, sizeof(keys), "%s/keys.psk", at("psk"));
    write_file(keys, "xlmig:0123456789abcdef0123456789abcdef\n", 39);
    snprintf(wrong, sizeof(wrong), "%s", at("wrong.psk"));
    write_file(wrong, "xlmig:fedcba9876543210fedcba9876543210\n", 39);
    snprintf(object, sizeof(object),
             "tls-creds-psk,id=tls0,endpoint=server,dir=%s", at("psk"));
    unlink(at("psk.qcow2"));
    img_create("qcow2", at("psk.qcow2"), "64M");
    start_nbd(&tls, at("psk.qcow2"), "qcow2", false, NULL, port, extra);

    o.src_uri = src.uri;
    o.dst_uri = tls.uri;
    o.tls_psk_file = wrong;
    rc = copy(&o, &st);
    if (rc != LIBXLMIG_ERR_AUTH_FAILED && rc != LIBXLMIG_ERR_IO)
        fail_msg("a wrong key gave %d: %s", rc, cap.text);
    assert_int_equal(errors_logged(), 1);

    o.tls_psk_file = keys;
    assert_ok(copy(&o, &st));
    stop_nbd(&tls);
    assert_identical(at("src.qcow2"), "qcow2", at("psk.qcow2"), "qcow2");
}

/* ----------------------------------------------------- the extent rules */

static void test_extent_rules(void **state)
{
    static const struct {
        const char *what;
        uint64_t size, asked, offset;
        uint32_t e[12];
        size_t nr;
        int rc;
        size_t n;
        uint64_t end;
        struct xlmig__blkcopy_extent first;
    } cases[] = {
        { "data then hole", 1000, 0, 0, { 100, 0, 900, 3 }, 4, 0, 2, 1000,
          { 0, 100, false } },
        { "a hole not reading as zero is data", 1000, 0, 0,
          { 100, 0, 200, 0, 50, LIBNBD_STATE_HOLE }, 6, 0, 1, 350,
          { 0, 350, false } },
        { "hole and zero merge", 1000, 0, 0, { 100, 3, 200, 2 }, 4, 0, 1,
          300, { 0, 300, true } },
        { "clamped to the disk", 1000, 900, 900, { 5000, 0, 10, 0 }, 4, 0, 1,
          1000, { 900, 100, false } },
        { "past the disk ignored", 1000, 0, 0, { 1000, 0, 7, 3 }, 4, 0, 1,
          1000, { 0, 1000, false } },
        { "odd pair count", 1000, 0, 0, { 10, 0, 20 }, 3, 0, 1, 10,
          { 0, 10, false } },
        { "wrong offset", 1000, 0, 512, { 10, 0 }, 2, LIBXLMIG_ERR_PROTOCOL,
          0, 0, { 0, 0, false } },
        { "zero length", 1000, 0, 0, { 10, 0, 0, 1, 10, 0 }, 6,
          LIBXLMIG_ERR_PROTOCOL, 0, 0, { 0, 0, false } },
        { "zero length first", 1000, 0, 0, { 0, 0 }, 2,
          LIBXLMIG_ERR_PROTOCOL, 0, 0, { 0, 0, false } },
        { "no extents", 1000, 0, 0, { 0 }, 0, LIBXLMIG_ERR_PROTOCOL, 0, 0,
          { 0, 0, false } },
    };
    struct xlmig__blkcopy_extent ext[8];
    char why[160];
    size_t i, n;
    uint64_t end;
    int rc;

    (void)state;
    for (i = 0; i < ARRAY_LEN(cases); i++) {
        n = 99;
        end = 99;
        why[0] = '\0';
        rc = xlmig__blkcopy_extents_take(cases[i].size, cases[i].asked,
                                         cases[i].offset, cases[i].e,
                                         cases[i].nr, ext, ARRAY_LEN(ext),
                                         &n, &end, why, sizeof(why));
        if (rc != cases[i].rc)
            fail_msg("%s: rc %d (%s)", cases[i].what, rc, why);
        if (rc) {
            assert_true(why[0] != '\0');
            assert_int_equal(n, 99);
            continue;
        }
        if (n != cases[i].n || end != cases[i].end ||
            ext[0].off != cases[i].first.off ||
            ext[0].len != cases[i].first.len ||
            ext[0].zero != cases[i].first.zero)
            fail_msg("%s: n %zu end %" PRIu64 " first %" PRIu64 "+%" PRIu64
                     " %d", cases[i].what, n, end, ext[0].off, ext[0].len,
                     ext[0].zero);
    }
}

/* A reply of a million 1-byte extents: only EXTENTS_MAX are looked at,
 * and room for @cap merged extents is never overrun. */
static void test_extent_caps(void **state)
{
    size_t nr = 2u * 1000000u, i, n;
    uint32_t *e = malloc(nr * sizeof(*e));
    struct xlmig__blkcopy_extent ext[16];
    uint64_t end;
    char why[160];

    (void)state;
    assert_non_null(e);
    for (i = 0; i < nr; i += 2) {
        e[i] = 1;
        e[i + 1] = (i / 2) % 2 ? LIBNBD_STATE_ZERO : 0;
    }
    assert_int_equal(xlmig__blkcopy_extents_take(1ull << 40, 0, 0, e, nr, ext,
                                                 ARRAY_LEN(ext), &n, &end,
                                                 why, sizeof(why)), 0);
    assert_int_equal(n, 16);
    assert_int_equal(end, 16);
    for (i = 0; i < nr; i += 2)
        e[i + 1] = 0;       /* all data: merged into one */
    assert_int_equal(xlmig__blkcopy_extents_take(1ull << 40, 0, 0, e, nr, ext,
                                                 ARRAY_LEN(ext), &n, &end,
                                                 why, sizeof(why)), 0);
    assert_int_equal(n, 1);
    assert_int_equal(end, XLMIG__BLKCOPY_EXTENTS_MAX);
    free(e);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_extent_rules),
        cmocka_unit_test(test_extent_caps),
        cmocka_unit_test(test_copy_qcow2),
        cmocka_unit_test(test_copy_raw),
        cmocka_unit_test(test_copy_not_zero),
        cmocka_unit_test(test_size_mismatch),
        cmocka_unit_test(test_bad_uri_no_server),
        cmocka_unit_test(test_bwlimit),
        cmocka_unit_test(test_cancel),
        cmocka_unit_test(test_set_bwlimit),
        cmocka_unit_test(test_server_gone),
        cmocka_unit_test(test_dst_full),
        cmocka_unit_test(test_tls_x509),
        cmocka_unit_test(test_tls_psk),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}

/* SPDX-License-Identifier: LGPL-2.1-only */
/*
 * The TLS 1.3 transport over loopback TCP: the channel round trip in
 * both directions at once with certificates and with a pre-shared key;
 * peers that fail authentication (wrong CA either way, wrong key, wrong
 * mode, wrong name, plain TCP) refused on both sides with
 * SESSION_AUTHENTICATION_FAILED and a message naming the peer and the
 * reason; close_notify; cancelling a blocked read; bad key material.
 * The certificates and keys are made at run time by
 * tests/integration/mkcerts.sh in a temp dir.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "internal.h"
#include "transport.h"
#include "testio.h"
#include "testutil.h"

static char dir[256];
static char path_buf[64][512];
static int npath;

/* "$dir/name", kept until the end of the run. */
static const char *P(const char *name)
{
    char *p = path_buf[npath++ % 64];

    snprintf(p, 512, "%s/%s", dir, name);
    return p;
}

static int setup_all(void **state)
{
    const char *src = getenv("XLMIG_SRCDIR");
    char cmd[1024];

    (void)state;
    snprintf(dir, sizeof(dir), "/tmp/xlmig-test-tls-XXXXXX");
    if (!mkdtemp(dir))
        return -1;
    snprintf(cmd, sizeof(cmd), "sh %s/tests/integration/mkcerts.sh %s",
             src ? src : ".", dir);
    if (system(cmd) != 0)
        return -1;
    return 0;
}

static int teardown_all(void **state)
{
    char cmd[512];

    (void)state;
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    return system(cmd) == 0 ? 0 : -1;
}

/* ---- a TLS pair over loopback TCP ---------------------------------- */

struct end {
    libxlmig_ctx *ctx;
    struct capture_logger cap;
    libxlmig_tls_params prm;
    bool server;
    int fd;
    bool plain;                 /* no TLS: a plain TCP peer */
    libxlmig_transport *t;
    int rc;
};

static void end_init(struct end *e, bool server)
{
    memset(e, 0, sizeof(*e));
    capture_init(&e->cap);
    assert_int_equal(libxlmig_ctx_new(&e->cap.vtable, LIBXLMIG_LOG_DEBUG,
                                      &e->ctx), 0);
    e->server = server;
    e->prm.timeout_ms = 10000;
}

static void end_dispose(struct end *e)
{
    libxlmig_transport_free(e->t);
    libxlmig_ctx_free(e->ctx);
}

static void *tls_thread(void *arg)
{
    struct end *e = arg;

    if (e->plain)
        e->rc = libxlmig_transport_fd_new(e->ctx, e->fd, e->fd, &e->t);
    else
        e->rc = libxlmig_transport_tls_new(e->ctx, e->fd, e->server,
                                           &e->prm, &e->t);
    return NULL;
}

/* Connect a client to a server over 127.0.0.1 and run both handshakes. */
static void tls_pair(struct end *srv, struct end *cli)
{
    struct sockaddr_in a = { .sin_family = AF_INET };
    socklen_t al = sizeof(a);
    int lfd;
    pthread_t th;

    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(lfd >= 0);
    assert_int_equal(bind(lfd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(listen(lfd, 4), 0);
    assert_int_equal(getsockname(lfd, (struct sockaddr *)&a, &al), 0);
    cli->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_int_equal(connect(cli->fd, (struct sockaddr *)&a, sizeof(a)), 0);
    srv->fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
    assert_true(srv->fd >= 0);
    close(lfd);
    pthread_create(&th, NULL, tls_thread, srv);
    tls_thread(cli);
    pthread_join(th, NULL);
}

/* ---- data both ways through a channel ------------------------------ */

static struct blob make_data(size_t len, unsigned int seed)
{
    struct blob b = { malloc(len), len };
    size_t i;

    for (i = 0; i < len; i++) {
        seed = seed * 1103515245u + 12345u;
        b.data[i] = (i / 4096) % 3 == 0 ? 0 : (uint8_t)(seed >> 16);
    }
    return b;
}

struct io {
    libxlmig_channel *ch;
    int fd;
    bool send;
    int rc;
};

static void *io_thread(void *arg)
{
    struct io *j = arg;

    if (j->send)
        j->rc = libxlmig_channel_send_fd(j->ch, j->fd);
    else
        j->rc = libxlmig_channel_recv_fd(j->ch, j->fd);
    close(j->fd);
    return NULL;
}

struct opener {
    struct end *e;
    bool sender;
    const libxlmig_channel_params *p;
    libxlmig_channel *ch;
    int rc;
};

static void *open_thread(void *arg)
{
    struct opener *o = arg;

    o->rc = libxlmig_channel_open(o->e->ctx, o->e->t, o->sender, o->p,
                                  &o->ch);
    o->e->t = NULL;             /* the channel owns it */
    return NULL;
}

/*
 * Open a channel over the TLS pair (client = sender) and carry @fwd
 * from sender to receiver and @back the other way, at the same time:
 * each side reads in one thread and writes in another.
 */
static void channel_both_ways(struct end *srv, struct end *cli,
                              const char *codec, const struct blob *fwd,
                              const struct blob *back)
{
    libxlmig_channel_params p;
    struct opener os = { cli, true, &p, NULL, 0 };
    struct opener orv = { srv, false, &p, NULL, 0 };
    int a[2], b[2], c[2], d[2];
    struct pump feed_fwd, feed_back, drain_fwd, drain_back;
    struct io io[4];
    pthread_t th[8];
    int i;

    libxlmig_channel_params_init(&p);
    p.codec = codec;
    p.threads = 2;
    pthread_create(&th[0], NULL, open_thread, &orv);
    open_thread(&os);
    pthread_join(th[0], NULL);
    if (os.rc || orv.rc)
        fail_msg("open: %s / %s", cli->cap.text, srv->cap.text);

    /* sender: a -> channel; channel -> d.  receiver: channel -> b; c -> */
    assert_int_equal(pipe2(a, O_CLOEXEC), 0);
    assert_int_equal(pipe2(b, O_CLOEXEC), 0);
    assert_int_equal(pipe2(c, O_CLOEXEC), 0);
    assert_int_equal(pipe2(d, O_CLOEXEC), 0);
    feed_fwd = (struct pump){ .fd = a[1], .data = fwd->data, .len = fwd->len };
    feed_back = (struct pump){ .fd = c[1], .data = back->data, .len = back->len };
    drain_fwd = (struct pump){ .fd = b[0] };
    drain_back = (struct pump){ .fd = d[0] };
    io[0] = (struct io){ os.ch, a[0], true, 0 };
    io[1] = (struct io){ os.ch, d[1], false, 0 };
    io[2] = (struct io){ orv.ch, b[1], false, 0 };
    io[3] = (struct io){ orv.ch, c[0], true, 0 };
    pthread_create(&th[0], NULL, pump_feed_main, &feed_fwd);
    pthread_create(&th[1], NULL, pump_feed_main, &feed_back);
    pthread_create(&th[2], NULL, pump_drain_main, &drain_fwd);
    pthread_create(&th[3], NULL, pump_drain_main, &drain_back);
    for (i = 0; i < 4; i++)
        pthread_create(&th[4 + i], NULL, io_thread, &io[i]);
    for (i = 0; i < 8; i++)
        pthread_join(th[i], NULL);
    for (i = 0; i < 4; i++) {
        if (io[i].rc)
            fail_msg("%s io %d: rc %d: %s / %s", codec, i, io[i].rc,
                     cli->cap.text, srv->cap.text);
    }
    assert_int_equal(drain_fwd.got.len, fwd->len);
    assert_memory_equal(drain_fwd.got.data, fwd->data, fwd->len);
    assert_int_equal(drain_back.got.len, back->len);
    assert_memory_equal(drain_back.got.data, back->data, back->len);
    free(drain_fwd.got.data);
    free(drain_back.got.data);
    libxlmig_channel_free(os.ch);
    libxlmig_channel_free(orv.ch);
}

/* ---- tests ---------------------------------------------------------- */

enum mode { CERT, PSK };

static void setup_mode(struct end *e, enum mode m, const char *host)
{
    if (m == PSK) {
        e->prm.psk_file = P("psk");
        return;
    }
    e->prm.cert_file = P(strcmp(host, "host1") ? "host2.pem" : "host1.pem");
    e->prm.key_file = P(strcmp(host, "host1") ? "host2.key" : "host1.key");
    e->prm.ca_file = P("ca.pem");
}

/* A server and a client joined by TLS with the pre-shared key. */
static void psk_pair(struct end *srv, struct end *cli)
{
    end_init(srv, true);
    end_init(cli, false);
    setup_mode(srv, PSK, "");
    setup_mode(cli, PSK, "");
    tls_pair(srv, cli);
    assert_int_equal(srv->rc, 0);
    assert_int_equal(cli->rc, 0);
}

static void test_round_trip(void **state)
{
    static const struct {
        enum mode mode;
        const char *codec;
        const char *peer_name;  /* the client expects this server name */
    } cases[] = {
        { CERT, "zstd", NULL },
        { CERT, "none", "host2" },
        { CERT, "lz4", "127.0.0.1" },
        { PSK, "zstd", NULL },
        { PSK, "zlib", NULL },
    };
    struct blob fwd = make_data(6u << 20, 1), back = make_data(300000, 2);
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct end srv, cli;

        end_init(&srv, true);
        end_init(&cli, false);
        setup_mode(&srv, cases[i].mode, "host2");
        setup_mode(&cli, cases[i].mode, "host1");
        cli.prm.peer_name = cases[i].peer_name;
        tls_pair(&srv, &cli);
        if (srv.rc || cli.rc)
            fail_msg("case %zu: handshake %d/%d: %s / %s", i, srv.rc,
                     cli.rc, srv.cap.text, cli.cap.text);
        channel_both_ways(&srv, &cli, cases[i].codec, &fwd, &back);
        end_dispose(&srv);
        end_dispose(&cli);
    }
    free(fwd.data);
    free(back.data);
}

static void test_refused(void **state)
{
    static const struct {
        const char *name;
        /* server: cert/key/ca or psk; client likewise */
        const char *s_cert, *s_key, *s_ca, *s_psk;
        const char *c_cert, *c_key, *c_ca, *c_psk;
        const char *c_peer_name;
        bool c_plain;
        int s_rc, c_rc;
        const char *s_msg, *c_msg;
    } cases[] = {
        { "client cert from another pool's CA",
          "host1.pem", "host1.key", "ca.pem", NULL,
          "rogue.pem", "rogue.key", "ca.pem", NULL, NULL, false,
          LIBXLMIG_ERR_AUTH_FAILED, LIBXLMIG_ERR_AUTH_FAILED,
          "certificate verify failed",
          "the peer refused our certificate" },
        { "server cert from another pool's CA",
          "rogue.pem", "rogue.key", "other-ca.pem", NULL,
          "host1.pem", "host1.key", "ca.pem", NULL, NULL, false,
          LIBXLMIG_ERR_AUTH_FAILED, LIBXLMIG_ERR_AUTH_FAILED,
          "failed", "is the peer's certificate from this pool's CA?" },
        { "client trusts another CA",
          "host1.pem", "host1.key", "ca.pem", NULL,
          "host2.pem", "host2.key", "other-ca.pem", NULL, NULL, false,
          LIBXLMIG_ERR_AUTH_FAILED, LIBXLMIG_ERR_AUTH_FAILED,
          "alert", "certificate verify failed" },
        { "wrong server name",
          "host1.pem", "host1.key", "ca.pem", NULL,
          "host2.pem", "host2.key", "ca.pem", NULL, "host9", false,
          LIBXLMIG_ERR_AUTH_FAILED, LIBXLMIG_ERR_AUTH_FAILED,
          "alert", "expected name" },
        { "wrong pre-shared key",
          NULL, NULL, NULL, "psk", NULL, NULL, NULL, "psk-other", NULL,
          false, LIBXLMIG_ERR_AUTH_FAILED, LIBXLMIG_ERR_AUTH_FAILED,
          "pre-shared key", "pre-shared key" },
        { "PSK client, certificate server",
          "host1.pem", "host1.key", "ca.pem", NULL,
          NULL, NULL, NULL, "psk", NULL, false,
          LIBXLMIG_ERR_AUTH_FAILED, LIBXLMIG_ERR_AUTH_FAILED,
          "failed", "use the same mode on both sides" },
        { "certificate client, PSK server",
          NULL, NULL, NULL, "psk",
          "host1.pem", "host1.key", "ca.pem", NULL, NULL, false,
          LIBXLMIG_ERR_AUTH_FAILED, LIBXLMIG_ERR_AUTH_FAILED,
          "failed", "failed" },
        { "plain TCP client",
          "host1.pem", "host1.key", "ca.pem", NULL,
          NULL, NULL, NULL, NULL, NULL, true,
          LIBXLMIG_ERR_AUTH_FAILED, 0,
          "does not speak TLS 1.3", "" },
    };
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct end srv, cli;

        end_init(&srv, true);
        end_init(&cli, false);
#define F(x) ((x) ? P(x) : NULL)
        srv.prm.cert_file = F(cases[i].s_cert);
        srv.prm.key_file = F(cases[i].s_key);
        srv.prm.ca_file = F(cases[i].s_ca);
        srv.prm.psk_file = F(cases[i].s_psk);
        cli.prm.cert_file = F(cases[i].c_cert);
        cli.prm.key_file = F(cases[i].c_key);
        cli.prm.ca_file = F(cases[i].c_ca);
        cli.prm.psk_file = F(cases[i].c_psk);
#undef F
        cli.prm.peer_name = cases[i].c_peer_name;
        cli.plain = cases[i].c_plain;
        if (cli.plain) {
            /* The plain client speaks first, as channel-send would. */
            srv.prm.timeout_ms = 5000;
        }
        if (cli.plain) {
            pthread_t th;
            int lfd;
            struct sockaddr_in a = { .sin_family = AF_INET };
            socklen_t al = sizeof(a);
            static const char hello[] = "XLMIGRUN\0\1\0\2\0\2xl";

            a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
            lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
            assert_int_equal(bind(lfd, (struct sockaddr *)&a, sizeof(a)),
                             0);
            assert_int_equal(listen(lfd, 4), 0);
            getsockname(lfd, (struct sockaddr *)&a, &al);
            cli.fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
            assert_int_equal(connect(cli.fd, (struct sockaddr *)&a,
                                     sizeof(a)), 0);
            srv.fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
            close(lfd);
            assert_int_equal(write(cli.fd, hello, sizeof(hello) - 1),
                             (ssize_t)sizeof(hello) - 1);
            pthread_create(&th, NULL, tls_thread, &srv);
            pthread_join(th, NULL);
            tls_thread(&cli);
        } else {
            tls_pair(&srv, &cli);
        }
        if (srv.rc != cases[i].s_rc || cli.rc != cases[i].c_rc)
            fail_msg("%s: rc server %d client %d, want %d %d:\n%s\n%s",
                     cases[i].name, srv.rc, cli.rc, cases[i].s_rc,
                     cases[i].c_rc, srv.cap.text, cli.cap.text);
        if (getenv("TEST_TLS_SHOW"))        /* to read the messages */
            print_message("%s:\n  %s  %s", cases[i].name, srv.cap.text,
                          cli.cap.text);
        assert_null(srv.t);
        if (cases[i].s_rc == LIBXLMIG_ERR_AUTH_FAILED) {
            assert_contains(srv.cap.text, "SESSION_AUTHENTICATION_FAILED");
            assert_contains(srv.cap.text, "TLS handshake with 127.0.0.1:");
        }
        assert_contains(srv.cap.text, cases[i].s_msg);
        if (cases[i].c_rc == LIBXLMIG_ERR_AUTH_FAILED) {
            assert_null(cli.t);
            assert_contains(cli.cap.text, "SESSION_AUTHENTICATION_FAILED");
            assert_contains(cli.cap.text, "TLS handshake with 127.0.0.1:");
        }
        assert_contains(cli.cap.text, cases[i].c_msg);
        end_dispose(&srv);
        end_dispose(&cli);
    }
}

/* close_notify: the peer reads a clean end, and can still answer. */
static void test_shutdown_write(void **state)
{
    struct end srv, cli;
    char buf[16];
    size_t got;

    (void)state;
    psk_pair(&srv, &cli);
    assert_int_equal(cli.t->ops->write(cli.t, "ping", 4), 0);
    assert_int_equal(cli.t->ops->shutdown_write(cli.t), 0);
    assert_int_equal(xlmig__transport_read_exact(srv.t, buf, 8, &got), 0);
    assert_int_equal(got, 4);
    assert_memory_equal(buf, "ping", 4);
    assert_int_equal(srv.t->ops->write(srv.t, "pong", 4), 0);
    assert_int_equal(srv.t->ops->shutdown_write(srv.t), 0);
    assert_int_equal(xlmig__transport_read_exact(cli.t, buf, 8, &got), 0);
    assert_int_equal(got, 4);
    assert_memory_equal(buf, "pong", 4);
    end_dispose(&srv);
    end_dispose(&cli);
}

/*
 * The peer has gone away and SIGPIPE is at its default (which would end
 * the process): writing fails with an error, and nothing is raised.
 */
static void test_peer_gone_no_sigpipe(void **state)
{
    struct end srv, cli;
    static char big[256 * 1024];
    void (*old)(int);
    sigset_t pending;
    int i, rc = 0;

    (void)state;
    old = signal(SIGPIPE, SIG_DFL);
    psk_pair(&srv, &cli);
    libxlmig_transport_free(srv.t);     /* the server's socket closes */
    srv.t = NULL;
    for (i = 0; i < 64 && !rc; i++)
        rc = cli.t->ops->write(cli.t, big, sizeof(big));
    assert_int_not_equal(rc, 0);
    assert_int_equal(sigpending(&pending), 0);
    assert_false(sigismember(&pending, SIGPIPE));
    signal(SIGPIPE, old);
    end_dispose(&srv);
    end_dispose(&cli);
}

struct reader {
    libxlmig_transport *t;
    ssize_t r;
};

static void *reader_main(void *arg)
{
    struct reader *rd = arg;
    char buf[64];

    rd->r = rd->t->ops->read(rd->t, buf, sizeof(buf));
    return NULL;
}

/*
 * cancel_read, over plain TCP and over TLS: a read blocked in another
 * thread returns CANCELLED within seconds, and so does every later
 * read, without a word logged; writing the other way still works.  (A
 * broken cancel hangs the reader: the join gives up after 5 s.)
 */
static void test_cancel_read(void **state)
{
    int plain;

    (void)state;
    for (plain = 0; plain < 2; plain++) {
        struct end srv, cli;
        struct reader rd;
        struct timespec dl;
        pthread_t th;
        char buf[8];
        size_t got;
        int logged;

        if (plain) {
            end_init(&srv, true);
            end_init(&cli, false);
            srv.plain = cli.plain = true;
            tls_pair(&srv, &cli);
            assert_int_equal(srv.rc, 0);
            assert_int_equal(cli.rc, 0);
        } else {
            psk_pair(&srv, &cli);
        }
        logged = srv.cap.count;
        rd = (struct reader){ srv.t, 1 };
        assert_int_equal(pthread_create(&th, NULL, reader_main, &rd), 0);
        usleep(100 * 1000);     /* let it block */
        xlmig__transport_cancel_read(srv.t);
        clock_gettime(CLOCK_REALTIME, &dl);
        dl.tv_sec += 5;
        if (pthread_timedjoin_np(th, NULL, &dl))
            fail_msg("%s: the read did not return after cancel_read",
                     plain ? "tcp" : "tls");
        assert_int_equal(rd.r, LIBXLMIG_ERR_CANCELLED);
        assert_int_equal(srv.t->ops->read(srv.t, buf, sizeof(buf)),
                         LIBXLMIG_ERR_CANCELLED);
        xlmig__transport_cancel_read(srv.t);    /* twice is fine */
        assert_int_equal(srv.cap.count, logged);
        assert_int_equal(srv.t->ops->write(srv.t, "pong", 4), 0);
        assert_int_equal(xlmig__transport_read_exact(cli.t, buf, 4, &got),
                         0);
        assert_int_equal(got, 4);
        assert_memory_equal(buf, "pong", 4);
        end_dispose(&srv);
        end_dispose(&cli);
    }
    xlmig__transport_cancel_read(NULL);         /* NULL-safe */
}

static void test_bad_material(void **state)
{
    static const struct {
        const char *psk_text;   /* written to a PSK file, or NULL */
        const char *cert, *key, *ca;
        const char *want;
    } cases[] = {
        { "abcd\n", NULL, NULL, NULL, "holds 4 hex digits" },
        { "zz", NULL, NULL, NULL, "must hold 32 to 64 bytes" },
        { NULL, "missing.pem", "host1.key", "ca.pem",
          "cannot load the TLS certificate" },
        { NULL, "host1.pem", "host2.key", "ca.pem",
          "cannot load the TLS private key" },
        { NULL, "host1.pem", "host1.key", "missing.pem",
          "cannot load the pool CA" },
        { NULL, "host1.pem", NULL, "ca.pem", "needs a certificate" },
    };
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct end e;
        int sv[2];

        end_init(&e, false);
        if (cases[i].psk_text) {
            FILE *f = fopen(P("bad-psk"), "w");

            fputs(cases[i].psk_text, f);
            fclose(f);
            e.prm.psk_file = P("bad-psk");
        }
        e.prm.cert_file = cases[i].cert ? P(cases[i].cert) : NULL;
        e.prm.key_file = cases[i].key ? P(cases[i].key) : NULL;
        e.prm.ca_file = cases[i].ca ? P(cases[i].ca) : NULL;
        assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0,
                                    sv), 0);
        close(sv[1]);
        assert_int_equal(libxlmig_transport_tls_new(e.ctx, sv[0], false,
                                                    &e.prm, &e.t),
                         LIBXLMIG_ERR_INVALID_ARGUMENT);
        assert_null(e.t);
        assert_contains(e.cap.text, cases[i].want);
        end_dispose(&e);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_refused),
        cmocka_unit_test(test_shutdown_write),
        cmocka_unit_test(test_peer_gone_no_sigpipe),
        cmocka_unit_test(test_cancel_read),
        cmocka_unit_test(test_bad_material),
    };

    return cmocka_run_group_tests(tests, setup_all, teardown_all);
}

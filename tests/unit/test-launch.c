/* SPDX-License-Identifier: LGPL-2.1-only */
/*
 * The launch request: encode/decode round trips, the caps checked
 * before anything is used, byte-at-a-time decoding, malformed requests,
 * the whitelist (every form `xl migrate` and `xl remus` produce is
 * accepted, anything else refused naming the argument), and the
 * exchange over a socketpair including the refusal reason.
 */
#include <pthread.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "buf.h"
#include "internal.h"
#include "launch.h"
#include "transport.h"
#include "testutil.h"

#define MAXW 20

/* Split @line on spaces into @argv; returns argc. */
static unsigned int split(char *line, char *argv[MAXW])
{
    unsigned int n = 0;
    char *save = NULL, *w;

    for (w = strtok_r(line, " ", &save); w && n < MAXW;
         w = strtok_r(NULL, " ", &save))
        argv[n++] = w;
    return n;
}

static void test_round_trip(void **state)
{
    static const char *const cmds[] = {
        "xl migrate-receive",
        "xl -t -T -vvv migrate-receive -e -d -p",
        "xl migrate-receive -r -e",
        "a b c d e f g h i j k l m n o p",       /* 16 words: the cap */
    };
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
        char line[256], why[256];
        char *argv[MAXW];
        uint8_t buf[XLMIG__LAUNCH_TOTAL_MAX];
        struct xlmig__launch_req req;
        size_t len, need, fed;
        unsigned int argc, k;

        snprintf(line, sizeof(line), "%s", cmds[i]);
        argc = split(line, argv);
        assert_int_equal(xlmig__launch_encode(argc, argv, buf, sizeof(buf),
                                              &len, why, sizeof(why)), 0);
        /* Whole. */
        assert_int_equal(xlmig__launch_decode(buf, len, &req, &need, why,
                                              sizeof(why)), 0);
        assert_int_equal(need, 0);
        assert_int_equal(req.argc, argc);
        for (k = 0; k < argc; k++)
            assert_string_equal(req.argv[k], argv[k]);
        assert_null(req.argv[argc]);
        /* As the listener reads it: exactly what the decoder asks for. */
        fed = 0;
        for (;;) {
            assert_int_equal(xlmig__launch_decode(buf, fed, &req, &need,
                                                  why, sizeof(why)), 0);
            if (!need)
                break;
            assert_true(fed + need <= len);
            fed += need;
        }
        assert_int_equal(fed, len);
        assert_int_equal(req.argc, argc);
    }
}

static void test_encode_caps(void **state)
{
    char long_arg[XLMIG__LAUNCH_ARG_MAX + 2];
    char *argv[XLMIG__LAUNCH_ARGC_MAX + 1];
    uint8_t buf[XLMIG__LAUNCH_TOTAL_MAX];
    char why[256];
    size_t len, i;

    (void)state;
    memset(long_arg, 'a', sizeof(long_arg) - 1);
    long_arg[sizeof(long_arg) - 1] = '\0';
    for (i = 0; i <= XLMIG__LAUNCH_ARGC_MAX; i++)
        argv[i] = (char *)"xl";
    assert_int_equal(xlmig__launch_encode(0, argv, buf, sizeof(buf), &len,
                                          why, sizeof(why)),
                     LIBXLMIG_ERR_INVALID_ARGUMENT);
    assert_int_equal(xlmig__launch_encode(XLMIG__LAUNCH_ARGC_MAX + 1, argv,
                                          buf, sizeof(buf), &len, why,
                                          sizeof(why)),
                     LIBXLMIG_ERR_INVALID_ARGUMENT);
    assert_contains(why, "1 to 16");
    argv[1] = long_arg;
    assert_int_equal(xlmig__launch_encode(2, argv, buf, sizeof(buf), &len,
                                          why, sizeof(why)),
                     LIBXLMIG_ERR_INVALID_ARGUMENT);
    assert_contains(why, "argument 2 is 257 bytes");
    argv[1] = (char *)"";
    assert_int_equal(xlmig__launch_encode(2, argv, buf, sizeof(buf), &len,
                                          why, sizeof(why)),
                     LIBXLMIG_ERR_INVALID_ARGUMENT);
    /* 16 arguments of 256 bytes: 12 + 16 * 258 > 4096. */
    long_arg[XLMIG__LAUNCH_ARG_MAX] = '\0';
    for (i = 0; i < XLMIG__LAUNCH_ARGC_MAX; i++)
        argv[i] = long_arg;
    assert_int_equal(xlmig__launch_encode(XLMIG__LAUNCH_ARGC_MAX, argv, buf,
                                          sizeof(buf), &len, why,
                                          sizeof(why)),
                     LIBXLMIG_ERR_INVALID_ARGUMENT);
    assert_contains(why, "4096");
}

/* Build a raw request: header fields and (len, bytes) pairs. */
static size_t raw(uint8_t *b, const char *magic, unsigned int version,
                  unsigned int argc, unsigned int nargs,
                  const unsigned int *lens, const char *const *args)
{
    size_t off = XLMIG__LAUNCH_HDR_LEN;
    unsigned int i;

    memcpy(b, magic, 8);
    xlmig__put_be16(b + 8, (uint16_t)version);
    xlmig__put_be16(b + 10, (uint16_t)argc);
    for (i = 0; i < nargs; i++) {
        xlmig__put_be16(b + off, (uint16_t)lens[i]);
        memcpy(b + off + 2, args[i], strlen(args[i]));
        off += 2 + strlen(args[i]);
    }
    return off;
}

static void test_decode_bad(void **state)
{
    static const struct {
        const char *magic;
        unsigned int version, argc, nargs;
        unsigned int lens[2];
        const char *args[2];
        size_t extra;           /* trailing bytes */
        const char *want;
    } cases[] = {
        { "XLMIGCHN", 1, 2, 2, { 2, 15 }, { "xl", "migrate-receive" }, 0,
          "bad magic" },
        { "XLMIGRUN", 2, 2, 2, { 2, 15 }, { "xl", "migrate-receive" }, 0,
          "version 2" },
        { "XLMIGRUN", 1, 0, 0, { 0, 0 }, { NULL, NULL }, 0, "0 arguments" },
        { "XLMIGRUN", 1, 17, 0, { 0, 0 }, { NULL, NULL }, 0,
          "17 arguments" },
        { "XLMIGRUN", 1, 65535, 0, { 0, 0 }, { NULL, NULL }, 0,
          "65535 arguments" },
        { "XLMIGRUN", 1, 1, 1, { 0, 0 }, { "", NULL }, 0,
          "argument 1 is 0 bytes" },
        { "XLMIGRUN", 1, 2, 2, { 2, 257 }, { "xl", "" }, 0,
          "argument 2 is 257 bytes" },
        { "XLMIGRUN", 1, 2, 2, { 2, 65535 }, { "xl", "" }, 0,
          "argument 2 is 65535 bytes" },
        { "XLMIGRUN", 1, 2, 2, { 2, 15 }, { "xl", "migrate-receive" }, 3,
          "3 bytes after the end" },
    };
    uint8_t b[XLMIG__LAUNCH_TOTAL_MAX + 64];
    struct xlmig__launch_req req;
    char why[256];
    size_t i, len, need;

    (void)state;
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int rc;

        memset(b, 'x', sizeof(b));
        len = raw(b, cases[i].magic, cases[i].version, cases[i].argc,
                  cases[i].nargs, cases[i].lens, cases[i].args);
        len += cases[i].extra;
        why[0] = '\0';
        rc = xlmig__launch_decode(b, len, &req, &need, why, sizeof(why));
        if (rc != LIBXLMIG_ERR_PROTOCOL)
            fail_msg("case %zu: rc %d need %zu, want PROTOCOL", i, rc,
                     need);
        assert_contains(why, cases[i].want);
    }

    /* A NUL inside an argument. */
    len = raw(b, "XLMIGRUN", 1, 1, 1, (const unsigned int[]){ 3 },
              (const char *const[]){ "x\0y" });
    b[14] = 'x';
    b[15] = '\0';
    b[16] = 'y';
    assert_int_equal(xlmig__launch_decode(b, len + 2, &req, &need, why,
                                          sizeof(why)),
                     LIBXLMIG_ERR_PROTOCOL);
    assert_contains(why, "NUL");

    /* Lengths that would pass 4 KiB are refused before reading them. */
    {
        size_t off = XLMIG__LAUNCH_HDR_LEN;
        unsigned int k;

        raw(b, "XLMIGRUN", 1, 16, 0, NULL, NULL);
        for (k = 0; k < 16; k++) {
            xlmig__put_be16(b + off, 256);
            memset(b + off + 2, 'a', 256);
            off += 258;
            if (off > XLMIG__LAUNCH_TOTAL_MAX)
                break;
        }
        assert_int_equal(xlmig__launch_decode(b, XLMIG__LAUNCH_TOTAL_MAX,
                                              &req, &need, why,
                                              sizeof(why)),
                         LIBXLMIG_ERR_PROTOCOL);
        assert_contains(why, "longer than 4096");
    }
    /* A bad magic is caught in the first bytes. */
    assert_int_equal(xlmig__launch_decode((const uint8_t *)"GET / HT", 4,
                                          &req, &need, why, sizeof(why)),
                     LIBXLMIG_ERR_PROTOCOL);
}

static void test_whitelist(void **state)
{
    static const struct {
        const char *cmd;
        const char *want;       /* NULL: accepted */
    } cases[] = {
        { "xl migrate-receive", NULL },
        { "xl -t migrate-receive", NULL },
        { "xl -t -T -vvvv migrate-receive -e -d -p", NULL },
        { "xl -v migrate-receive -F", NULL },
        { "xl -tv migrate-receive -ed", NULL },
        { "xl migrate-receive -r -e", NULL },
        { "xl migrate-receive --colo --userspace-colo-proxy -e", NULL },
        { "sh -c id", "argument 1 ('sh') is not allowed" },
        { "/usr/sbin/xl migrate-receive", "argument 1 ('/usr/sbin/xl')" },
        { "xl create /tmp/evil.cfg", "argument 2 ('create')" },
        { "xl -f migrate-receive", "argument 2 ('-f')" },
        { "xl", "no 'migrate-receive'" },
        { "xl -v", "no 'migrate-receive'" },
        { "xl migrate-receive -x", "argument 3 ('-x')" },
        { "xl migrate-receive --coloft-script /tmp/s",
          "argument 3 ('--coloft-script')" },
        { "xl migrate-receive -e extra", "argument 4 ('extra')" },
        { "xl migrate-receive -", "argument 3 ('-')" },
        { "xl migrate-receive --", "argument 3 ('--')" },
        { "xl migrate-receive -e;reboot", "argument 3 ('-e;reboot')" },
        { "xl migrate migrate-receive", "argument 2 ('migrate')" },
    };
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char line[256], why[512] = "";
        char *argv[MAXW];
        uint8_t buf[XLMIG__LAUNCH_TOTAL_MAX];
        struct xlmig__launch_req req;
        size_t len, need;
        unsigned int argc;
        int rc;

        snprintf(line, sizeof(line), "%s", cases[i].cmd);
        argc = split(line, argv);
        assert_int_equal(xlmig__launch_encode(argc, argv, buf, sizeof(buf),
                                              &len, why, sizeof(why)), 0);
        assert_int_equal(xlmig__launch_decode(buf, len, &req, &need, why,
                                              sizeof(why)), 0);
        rc = xlmig__launch_check(&req, why, sizeof(why));
        if (!cases[i].want) {
            if (rc)
                fail_msg("'%s' refused: %s", cases[i].cmd, why);
            continue;
        }
        if (rc != LIBXLMIG_ERR_PERMISSION_DENIED)
            fail_msg("'%s' accepted", cases[i].cmd);
        assert_contains(why, cases[i].want);
        assert_contains(why, "only runs 'xl");
    }
}

/* Non-printable bytes never reach a message as such. */
static void test_quote(void **state)
{
    char q[16];

    (void)state;
    xlmig__launch_quote(q, sizeof(q), "a\x1b[2Jb");
    assert_string_equal(q, "'a?[2Jb'");
    xlmig__launch_quote(q, 6, "abcdefgh");
    assert_string_equal(q, "'abc'");
}

/* ---- over a transport --------------------------------------------- */

struct listener {
    libxlmig_ctx *ctx;
    struct capture_logger cap;
    libxlmig_transport *t;
    struct xlmig__launch_req req;
    int rc;
};

static void *listen_thread(void *arg)
{
    struct listener *l = arg;

    l->rc = xlmig__launch_receive(l->ctx, l->t, "client", &l->req);
    if (!l->rc)
        l->rc = xlmig__launch_reply(l->ctx, l->t, true, NULL);
    return NULL;
}

static void test_exchange(void **state)
{
    static const struct {
        const char *cmd;
        int rc;
        const char *want_client, *want_listener;
    } cases[] = {
        { "xl -t migrate-receive -e", 0, "", "" },
        { "xl create evil.cfg", LIBXLMIG_ERR_PERMISSION_DENIED,
          "PERMISSION_DENIED: server refused to run 'xl create evil.cfg': "
          "argument 2 ('create') is not allowed",
          "refused the launch request from client: argument 2" },
    };
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct listener l;
        struct capture_logger ccap;
        libxlmig_ctx *cctx;
        libxlmig_transport *ct;
        int sv[2];
        pthread_t th;
        char line[256];
        char *argv[MAXW];
        unsigned int argc;
        int rc;

        memset(&l, 0, sizeof(l));
        capture_init(&l.cap);
        capture_init(&ccap);
        assert_int_equal(libxlmig_ctx_new(&l.cap.vtable, LIBXLMIG_LOG_DEBUG,
                                          &l.ctx), 0);
        assert_int_equal(libxlmig_ctx_new(&ccap.vtable, LIBXLMIG_LOG_DEBUG,
                                          &cctx), 0);
        assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0,
                                    sv), 0);
        assert_int_equal(libxlmig_transport_fd_new(l.ctx, sv[0], sv[0],
                                                   &l.t), 0);
        assert_int_equal(libxlmig_transport_fd_new(cctx, sv[1], sv[1], &ct),
                         0);
        snprintf(line, sizeof(line), "%s", cases[i].cmd);
        argc = split(line, argv);
        pthread_create(&th, NULL, listen_thread, &l);
        rc = xlmig__launch_request(cctx, ct, "server", argc, argv);
        pthread_join(th, NULL);
        assert_int_equal(rc, cases[i].rc);
        assert_int_equal(l.rc, cases[i].rc);
        assert_contains(ccap.text, cases[i].want_client);
        assert_contains(l.cap.text, cases[i].want_listener);
        if (!rc) {
            assert_int_equal(l.req.argc, argc);
            assert_string_equal(l.req.argv[argc - 1], argv[argc - 1]);
        }
        libxlmig_transport_free(ct);
        libxlmig_transport_free(l.t);
        libxlmig_ctx_free(cctx);
        libxlmig_ctx_free(l.ctx);
    }
}

/* A peer that hangs up in the middle of its request. */
static void test_truncated(void **state)
{
    struct listener l;
    uint8_t buf[64];
    char *argv[] = { (char *)"xl", (char *)"migrate-receive" };
    char why[128];
    size_t len;
    int sv[2];

    (void)state;
    memset(&l, 0, sizeof(l));
    capture_init(&l.cap);
    assert_int_equal(libxlmig_ctx_new(&l.cap.vtable, LIBXLMIG_LOG_DEBUG,
                                      &l.ctx), 0);
    assert_int_equal(xlmig__launch_encode(2, argv, buf, sizeof(buf), &len,
                                          why, sizeof(why)), 0);
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv),
                     0);
    assert_int_equal(write(sv[1], buf, len - 3), (ssize_t)(len - 3));
    close(sv[1]);
    assert_int_equal(libxlmig_transport_fd_new(l.ctx, sv[0], sv[0], &l.t),
                     0);
    assert_int_equal(xlmig__launch_receive(l.ctx, l.t, "client", &l.req),
                     LIBXLMIG_ERR_PROTOCOL);
    assert_contains(l.cap.text, "client closed the connection after 30 "
                                "bytes of its launch request");
    libxlmig_transport_free(l.t);
    libxlmig_ctx_free(l.ctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_encode_caps),
        cmocka_unit_test(test_decode_bad),
        cmocka_unit_test(test_whitelist),
        cmocka_unit_test(test_quote),
        cmocka_unit_test(test_exchange),
        cmocka_unit_test(test_truncated),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}

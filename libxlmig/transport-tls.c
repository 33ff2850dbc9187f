/* SPDX-License-Identifier: LGPL-2.1-only */
/*
 * The TLS 1.3 transport (OpenSSL 3): mutual certificate authentication
 * against the pool CA, or a TLS 1.3 external pre-shared key.
 *
 * The channel reads from one thread and writes from another, and
 * OpenSSL does not allow two calls on one SSL object at once.  So every
 * SSL call is made under priv->lock, on a non-blocking socket; on
 * WANT_READ / WANT_WRITE the lock is dropped and the thread waits in
 * poll() (with a short timeout, then simply retries), so a reader
 * waiting for data never holds up the writer.
 *
 * After the handshake the server sends one confirmation byte (0x01,
 * docs/specs/channel.md "TLS"): in TLS 1.3 the client's handshake ends
 * before the server has checked the client's certificate, and the byte
 * lets a refused client learn it inside libxlmig_transport_tls_new()
 * instead of at its first read.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "addr.h"
#include "internal.h"
#include "transport.h"

#define DEFAULT_TIMEOUT_MS 30000u
#define POLL_SLICE_MS 500
#define PSK_MIN 32u
#define PSK_MAX XLMIG__TLS_PSK_MAX
#define PSK_FILE_MAX 4096
#define PSK_IDENTITY "xlmig-psk-1"
#define CONFIRM_BYTE 0x01

struct tls_priv {
    int fd;
    bool server;
    bool psk_mode;
    bool failed;                /* a fatal SSL error: no close_notify */
    bool shut;                  /* close_notify sent */
    atomic_bool read_cancelled; /* tls_cancel_read() was called */
    SSL_CTX *sctx;
    SSL *ssl;
    BIO *wbio;                  /* the write buffer; the session owns it */
    pthread_mutex_t lock;       /* every SSL call on ssl */
    bool lock_ready;
    uint8_t psk[PSK_MAX];
    size_t psk_len;
    char peer[128];
};

/* ------------------------------------------------------------------ */
/* Small helpers                                                      */
/* ------------------------------------------------------------------ */

static uint64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* Wait for @events on @fd for at most @ms; EINTR is just a short wait. */
static void wait_fd(int fd, short events, int ms)
{
    struct pollfd pfd = { .fd = fd, .events = events };

    (void)poll(&pfd, 1, ms);
}

/*
 * OpenSSL's socket BIO writes with write(): to a peer that has gone away
 * that raises SIGPIPE.  Ours writes with send(MSG_NOSIGNAL) instead (the
 * error comes back as EPIPE), so the library never depends on how the
 * process handles SIGPIPE, and no SSL call pays for signal-mask system
 * calls around it.  Everything else is BIO_s_socket()'s.
 */
static BIO_METHOD *nosig_method;
static pthread_once_t nosig_once = PTHREAD_ONCE_INIT;

static int nosig_write(BIO *b, const char *buf, int len)
{
    int fd = (int)BIO_get_fd(b, NULL);
    ssize_t n;

    BIO_clear_retry_flags(b);
    if (len <= 0)
        return 0;
    do
        n = send(fd, buf, (size_t)len, MSG_NOSIGNAL);
    while (n < 0 && errno == EINTR);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
        BIO_set_retry_write(b);
    return (int)n;
}

static void nosig_init(void)
{
    const BIO_METHOD *sock = BIO_s_socket();
    BIO_METHOD *m;
    int type = BIO_get_new_index();

    if (type < 0)
        return;
    m = BIO_meth_new(type | BIO_TYPE_SOURCE_SINK | BIO_TYPE_DESCRIPTOR,
                     "xlmig socket");
    if (!m)
        return;
    if (!BIO_meth_set_write(m, nosig_write) ||
        !BIO_meth_set_read(m, BIO_meth_get_read(sock)) ||
        !BIO_meth_set_puts(m, BIO_meth_get_puts(sock)) ||
        !BIO_meth_set_ctrl(m, BIO_meth_get_ctrl(sock)) ||
        !BIO_meth_set_create(m, BIO_meth_get_create(sock)) ||
        !BIO_meth_set_destroy(m, BIO_meth_get_destroy(sock))) {
        BIO_meth_free(m);
        return;
    }
    nosig_method = m;
}

/* A BIO on socket @fd (left open when freed), or NULL. */
static BIO *nosig_bio(int fd)
{
    BIO *b;

    if (pthread_once(&nosig_once, nosig_init) || !nosig_method)
        return NULL;
    b = BIO_new(nosig_method);
    if (b)
        BIO_set_fd(b, fd, BIO_NOCLOSE);
    return b;
}

/*
 * What the session reads from: socket @fd behind a 256 KiB buffer, or
 * NULL.  OpenSSL's own read-ahead (one read for many records) moves what
 * is left in its buffer to the front after each record; with a buffer
 * this size that memmove was half of a receiver's instructions.  With
 * read-ahead off, OpenSSL asks for a record's header, then its body; the
 * buffer answers both from one socket read of up to 256 KiB, and copies
 * each byte once.  It asks the socket only when it is empty, so waiting
 * for the socket after SSL_ERROR_WANT_READ never leaves bytes unread.
 */
#define READ_BUFFER (256 * 1024)

/*
 * What the session writes to: socket @fd behind a 256 KiB buffer that
 * tls_write() flushes before it returns (tls_write_more() leaves it for
 * the next write).  OpenSSL writes each 16 KiB record on its own: one
 * send() per record without the buffer, one per 64 KiB piece of a frame
 * or per full buffer with it.
 */
#define WRITE_BUFFER (256 * 1024)

static BIO *buffered_bio(int fd, bool reading)
{
    BIO *buf = BIO_new(BIO_f_buffer());
    BIO *sock = buf ? nosig_bio(fd) : NULL;
    long ok;

    if (!sock) {
        BIO_free(buf);
        return NULL;
    }
    ok = reading ? BIO_set_read_buffer_size(buf, READ_BUFFER)
                 : BIO_set_write_buffer_size(buf, WRITE_BUFFER);
    if (!ok) {
        BIO_free(sock);
        BIO_free(buf);
        return NULL;
    }
    return BIO_push(buf, sock);
}

/* The reason of the last OpenSSL error of this thread, or "". */
static const char *ssl_reason(unsigned long e, char *buf, size_t len)
{
    const char *r;

    if (!e)
        return "";
    r = ERR_reason_error_string(e);
    if (r)
        return r;
    ERR_error_string_n(e, buf, len);
    return buf;
}

static void peer_label(int fd, const char *label, char *dst, size_t len)
{
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);

    if (label) {
        xlmig__strlcpy(dst, label, len);
        return;
    }
    if (getpeername(fd, (struct sockaddr *)&ss, &sl) < 0) {
        xlmig__strlcpy(dst, "the peer", len);
        return;
    }
    if (!xlmig__sockaddr_label((struct sockaddr *)&ss, dst, len))
        xlmig__strlcpy(dst, "the local peer", len);
}

/* ------------------------------------------------------------------ */
/* Pre-shared key                                                     */
/* ------------------------------------------------------------------ */

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

int xlmig__tls_psk_load(libxlmig_ctx *ctx, const char *path,
                        uint8_t key[XLMIG__TLS_PSK_MAX], size_t *len_r)
{
    char text[PSK_FILE_MAX + 1];
    size_t n, i, nibbles = 0;
    FILE *f;
    int hi = 0;

    f = fopen(path, "re");
    if (!f)
        return xlmig__error(ctx, LIBXLMIG_ERR_INVALID_ARGUMENT, errno,
                            "cannot open the pre-shared key file %s", path);
    n = fread(text, 1, sizeof(text), f);
    fclose(f);
    if (n > PSK_FILE_MAX)
        return xlmig__error(ctx, LIBXLMIG_ERR_INVALID_ARGUMENT, -1,
                            "the pre-shared key file %s is too long: it "
                            "should hold 32 to 64 bytes as hex (make one "
                            "with 'openssl rand -hex 32')", path);
    for (i = 0; i < n; i++) {
        int v = hexval((unsigned char)text[i]);

        if (text[i] == ' ' || text[i] == '\n' || text[i] == '\r' ||
            text[i] == '\t')
            continue;
        if (v < 0 || nibbles / 2 >= PSK_MAX) {
            explicit_bzero(text, sizeof(text));
            explicit_bzero(key, XLMIG__TLS_PSK_MAX);
            return xlmig__error(ctx, LIBXLMIG_ERR_INVALID_ARGUMENT, -1,
                                "the pre-shared key file %s must hold 32 "
                                "to 64 bytes as hex digits (make one with "
                                "'openssl rand -hex 32')", path);
        }
        if (nibbles % 2)
            key[nibbles / 2] = (uint8_t)(hi << 4 | v);
        else
            hi = v;
        nibbles++;
    }
    explicit_bzero(text, sizeof(text));
    if (nibbles % 2 || nibbles / 2 < PSK_MIN) {
        explicit_bzero(key, XLMIG__TLS_PSK_MAX);
        return xlmig__error(ctx, LIBXLMIG_ERR_INVALID_ARGUMENT, -1,
                            "the pre-shared key file %s holds %zu hex "
                            "digits: it needs 64 to 128 (32 to 64 bytes; "
                            "make one with 'openssl rand -hex 32')", path,
                            nibbles);
    }
    *len_r = nibbles / 2;
    return 0;
}

static int psk_load(libxlmig_ctx *ctx, struct tls_priv *p, const char *path)
{
    return xlmig__tls_psk_load(ctx, path, p->psk, &p->psk_len);
}

/* The PSK's hash must be the suite's: PSK mode offers only this one. */
#define PSK_SUITE "TLS_AES_256_GCM_SHA384"
static const unsigned char psk_suite_id[] = { 0x13, 0x02 };

/* A session carrying the external PSK, or NULL. */
static SSL_SESSION *psk_session(SSL *ssl, struct tls_priv *p)
{
    const SSL_CIPHER *cipher = SSL_CIPHER_find(ssl, psk_suite_id);
    SSL_SESSION *s;

    if (!cipher)
        return NULL;
    s = SSL_SESSION_new();
    if (!s)
        return NULL;
    if (!SSL_SESSION_set1_master_key(s, p->psk, p->psk_len) ||
        !SSL_SESSION_set_cipher(s, cipher) ||
        !SSL_SESSION_set_protocol_version(s, TLS1_3_VERSION)) {
        SSL_SESSION_free(s);
        return NULL;
    }
    return s;
}

static int psk_use_cb(SSL *ssl, const EVP_MD *md, const unsigned char **id,
                      size_t *idlen, SSL_SESSION **sess)
{
    struct tls_priv *p = SSL_get_app_data(ssl);
    const SSL_CIPHER *cipher = SSL_CIPHER_find(ssl, psk_suite_id);

    *id = NULL;
    *idlen = 0;
    *sess = NULL;
    if (!cipher)
        return 0;
    if (md && SSL_CIPHER_get_handshake_digest(cipher) != md)
        return 1;               /* not usable with this hash: no PSK */
    *sess = psk_session(ssl, p);
    if (!*sess)
        return 0;
    *id = (const unsigned char *)PSK_IDENTITY;
    *idlen = strlen(PSK_IDENTITY);
    return 1;
}

static int psk_find_cb(SSL *ssl, const unsigned char *id, size_t idlen,
                       SSL_SESSION **sess)
{
    struct tls_priv *p = SSL_get_app_data(ssl);

    *sess = NULL;
    if (idlen != strlen(PSK_IDENTITY) ||
        memcmp(id, PSK_IDENTITY, idlen))
        return 1;               /* unknown identity: no PSK */
    *sess = psk_session(ssl, p);
    return *sess ? 1 : 0;
}

/* ------------------------------------------------------------------ */
/* Set-up                                                             */
/* ------------------------------------------------------------------ */

static int ctx_error(libxlmig_ctx *ctx, const char *what, const char *path)
{
    char buf[256];
    unsigned long e = ERR_peek_last_error();

    ERR_clear_error();
    return xlmig__error(ctx, LIBXLMIG_ERR_INVALID_ARGUMENT, -1,
                        "%s %s: %s", what, path, ssl_reason(e, buf,
                                                            sizeof(buf)));
}

static int ssl_ctx_setup(libxlmig_ctx *ctx, struct tls_priv *p,
                         const libxlmig_tls_params *prm)
{
    int rc;

    p->sctx = SSL_CTX_new(p->server ? TLS_server_method()
                                    : TLS_client_method());
    if (!p->sctx)
        return xlmig__error(ctx, LIBXLMIG_ERR_NO_MEMORY, -1,
                            "cannot create a TLS context");
    if (!SSL_CTX_set_min_proto_version(p->sctx, TLS1_3_VERSION) ||
        !SSL_CTX_set_max_proto_version(p->sctx, TLS1_3_VERSION))
        return xlmig__error(ctx, LIBXLMIG_ERR_UNSUPPORTED, -1,
                            "this OpenSSL cannot do TLS 1.3");
    SSL_CTX_set_mode(p->sctx, SSL_MODE_ENABLE_PARTIAL_WRITE |
                     SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    SSL_CTX_set_num_tickets(p->sctx, 0);    /* no resumption */
    SSL_CTX_set_session_cache_mode(p->sctx, SSL_SESS_CACHE_OFF);

    if (p->psk_mode) {
        rc = psk_load(ctx, p, prm->psk_file);
        if (rc) return rc;
        if (!SSL_CTX_set_ciphersuites(p->sctx, PSK_SUITE))
            return xlmig__error(ctx, LIBXLMIG_ERR_UNSUPPORTED, -1,
                                "this OpenSSL lacks %s", PSK_SUITE);
        if (p->server) {
            SSL_CTX_set_psk_find_session_callback(p->sctx, psk_find_cb);
            SSL_CTX_set_verify(p->sctx, SSL_VERIFY_NONE, NULL);
        } else {
            SSL_CTX_set_psk_use_session_callback(p->sctx, psk_use_cb);
            /* No trust store: a server that answers with a certificate
             * instead of the key is refused. */
            SSL_CTX_set_verify(p->sctx, SSL_VERIFY_PEER, NULL);
        }
        return 0;
    }

    if (SSL_CTX_use_certificate_chain_file(p->sctx, prm->cert_file) != 1)
        return ctx_error(ctx, "cannot load the TLS certificate",
                         prm->cert_file);
    if (SSL_CTX_use_PrivateKey_file(p->sctx, prm->key_file,
                                    SSL_FILETYPE_PEM) != 1)
        return ctx_error(ctx, "cannot load the TLS private key",
                         prm->key_file);
    if (SSL_CTX_check_private_key(p->sctx) != 1)
        return ctx_error(ctx, "the private key does not match the "
                         "certificate", prm->cert_file);
    if (SSL_CTX_load_verify_locations(p->sctx, prm->ca_file, NULL) != 1)
        return ctx_error(ctx, "cannot load the pool CA", prm->ca_file);
    SSL_CTX_set_verify(p->sctx, SSL_VERIFY_PEER |
                       SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
    return 0;
}

/* Log why the handshake with the peer failed; returns the rc. */
static int handshake_error(libxlmig_ctx *ctx, struct tls_priv *p, int err,
                           int sys_errno, unsigned long e)
{
    long vr = SSL_get_verify_result(p->ssl);
    char buf[256];
    const char *reason = ssl_reason(e, buf, sizeof(buf));
    int lib_reason = e ? ERR_GET_REASON(e) : 0;
    const char *hint;

    p->failed = true;
    if (vr != X509_V_OK || lib_reason == SSL_R_CERTIFICATE_VERIFY_FAILED) {
        if (p->psk_mode)
            hint = "the peer uses certificates and we use a pre-shared "
                   "key: use the same mode on both sides";
        else if (vr == X509_V_ERR_HOSTNAME_MISMATCH)
            hint = "does the peer's certificate carry the expected name?";
        else
            hint = "is the peer's certificate from this pool's CA?";
        return xlmig__error(ctx, LIBXLMIG_ERR_AUTH_FAILED, -1,
                            "TLS handshake with %s failed: certificate "
                            "verify failed (%s): %s", p->peer,
                            vr != X509_V_OK
                                ? X509_verify_cert_error_string(vr)
                                : "no details", hint);
    }
    if (err == SSL_ERROR_SYSCALL && !e) {
        if (sys_errno && sys_errno != ECONNRESET && sys_errno != EPIPE)
            return xlmig__error(ctx, LIBXLMIG_ERR_IO, sys_errno,
                                "TLS handshake with %s failed", p->peer);
        reason = "the peer closed the connection";
    }
    if (lib_reason == SSL_R_UNEXPECTED_EOF_WHILE_READING ||
        (err == SSL_ERROR_SYSCALL && !e))
        hint = p->psk_mode
               ? "does the peer use TLS with the same pre-shared key "
                 "(--psk-file), and not --no-tls?"
               : "does the peer use TLS with a certificate of this pool's "
                 "CA, and not --no-tls?";
    else if (lib_reason == SSL_R_WRONG_VERSION_NUMBER ||
             lib_reason == SSL_R_HTTP_REQUEST ||
             lib_reason == SSL_R_PACKET_LENGTH_TOO_LONG ||
             lib_reason == SSL_R_UNSUPPORTED_PROTOCOL ||
             lib_reason == SSL_R_RECORD_LENGTH_MISMATCH)
        hint = "the peer does not speak TLS 1.3: did it start with "
               "--no-tls?";
    else if (p->psk_mode)
        hint = "do both sides use the same pre-shared key (--psk-file)?";
    else if (strstr(reason, "alert"))
        hint = "the peer refused our certificate: is it from the peer's "
               "pool CA, and does the peer use certificates (not "
               "--psk-file)?";
    else
        hint = "do both sides use certificates of this pool's CA?";
    return xlmig__error(ctx, LIBXLMIG_ERR_AUTH_FAILED, -1,
                        "TLS handshake with %s failed: %s: %s", p->peer,
                        reason[0] ? reason : "refused", hint);
}

static int do_handshake(libxlmig_ctx *ctx, struct tls_priv *p,
                        unsigned int timeout_ms)
{
    uint64_t deadline = now_ms() + timeout_ms;

    for (;;) {
        int r, err, sys_errno;
        unsigned long e;
        uint64_t now;

        ERR_clear_error();
        errno = 0;
        r = SSL_do_handshake(p->ssl);
        sys_errno = errno;
        err = r == 1 ? SSL_ERROR_NONE : SSL_get_error(p->ssl, r);
        e = ERR_peek_last_error();
        if (err == SSL_ERROR_NONE)
            return 0;
        if (err != SSL_ERROR_WANT_READ && err != SSL_ERROR_WANT_WRITE) {
            r = handshake_error(ctx, p, err, sys_errno, e);
            ERR_clear_error();
            return r;
        }
        now = now_ms();
        if (now >= deadline) {
            p->failed = true;
            return xlmig__error(ctx, LIBXLMIG_ERR_TIMEOUT, -1,
                                "TLS handshake with %s timed out after %u "
                                "s: is the peer speaking TLS?", p->peer,
                                timeout_ms / 1000);
        }
        wait_fd(p->fd, err == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT,
                (int)(deadline - now));
    }
}

/* ------------------------------------------------------------------ */
/* The ops                                                            */
/* ------------------------------------------------------------------ */

/*
 * One SSL_read_ex / SSL_write_ex under the lock, retried on WANT_*
 * with the lock dropped while waiting.  Returns 1 with *n_r bytes done,
 * 0 at the peer's end (reads), or a negative rc (logged; a read after
 * tls_cancel_read() gets LIBXLMIG_ERR_CANCELLED, not logged).  With
 * @deadline (ms, 0: none) it gives up with LIBXLMIG_ERR_TIMEOUT.
 */
static int ssl_io(libxlmig_transport *t, bool writing, void *buf,
                  size_t len, size_t *n_r, uint64_t deadline)
{
    struct tls_priv *p = t->priv;

    for (;;) {
        int ok, err, sys_errno;
        unsigned long e;
        char ebuf[256];

        if (!writing && atomic_load(&p->read_cancelled))
            return LIBXLMIG_ERR_CANCELLED;
        pthread_mutex_lock(&p->lock);
        ERR_clear_error();
        errno = 0;
        if (writing)
            ok = SSL_write_ex(p->ssl, buf, len, n_r);
        else
            ok = SSL_read_ex(p->ssl, buf, len, n_r);
        sys_errno = errno;
        err = ok ? SSL_ERROR_NONE : SSL_get_error(p->ssl, 0);
        e = ERR_peek_last_error();
        ERR_clear_error();
        if (err == SSL_ERROR_SSL || err == SSL_ERROR_SYSCALL)
            p->failed = true;
        pthread_mutex_unlock(&p->lock);
        if (!writing && err != SSL_ERROR_NONE &&
            atomic_load(&p->read_cancelled))
            return LIBXLMIG_ERR_CANCELLED;  /* shutdown's EOF, or a wait */

        switch (err) {
        case SSL_ERROR_NONE:
            return 1;
        case SSL_ERROR_ZERO_RETURN:
            if (!writing)
                return 0;
            return xlmig__error(t->ctx, LIBXLMIG_ERR_IO, -1,
                                "writing to %s: the peer closed the TLS "
                                "session", p->peer);
        case SSL_ERROR_WANT_READ:
        case SSL_ERROR_WANT_WRITE: {
            int ms = POLL_SLICE_MS;

            if (deadline) {
                uint64_t now = now_ms();

                if (now >= deadline)
                    return xlmig__error(t->ctx, LIBXLMIG_ERR_TIMEOUT, -1,
                                        "%s did not answer in time",
                                        p->peer);
                if (deadline - now < (uint64_t)ms)
                    ms = (int)(deadline - now);
            }
            wait_fd(p->fd, err == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT,
                    ms);
            continue;
        }
        case SSL_ERROR_SYSCALL:
            if (!e && (!sys_errno || sys_errno == ECONNRESET ||
                       sys_errno == EPIPE)) {
                if (!writing)
                    return 0;   /* the channel reports the missing END */
                return xlmig__error(t->ctx, LIBXLMIG_ERR_IO, sys_errno,
                                    "writing to %s: the connection broke",
                                    p->peer);
            }
            return xlmig__error(t->ctx, LIBXLMIG_ERR_IO, sys_errno,
                                "%s %s over TLS", writing ? "writing to"
                                : "reading from", p->peer);
        default:
            if (!writing && e &&
                ERR_GET_REASON(e) == SSL_R_UNEXPECTED_EOF_WHILE_READING)
                return 0;       /* the channel reports the missing END */
            return xlmig__error(t->ctx, LIBXLMIG_ERR_IO, -1,
                                "%s %s over TLS: %s", writing ? "writing to"
                                : "reading from", p->peer,
                                ssl_reason(e, ebuf, sizeof(ebuf)));
        }
    }
}

static ssize_t tls_read(libxlmig_transport *t, void *buf, size_t len)
{
    size_t n = 0;
    int r = ssl_io(t, false, buf, len, &n, 0);

    if (r < 0)
        return r;
    return r ? (ssize_t)n : 0;
}

/*
 * Send what the write buffer holds, waiting for the socket as needed
 * (until @deadline in ms, 0: none).  Returns 0 or a negative
 * LIBXLMIG_ERR_*.
 */
static int wbuf_flush(libxlmig_transport *t, uint64_t deadline)
{
    struct tls_priv *p = t->priv;

    for (;;) {
        int r, sys_errno;
        bool retry;

        pthread_mutex_lock(&p->lock);
        errno = 0;
        r = BIO_flush(p->wbio);
        sys_errno = errno;
        retry = r <= 0 && BIO_should_retry(p->wbio);
        if (r <= 0 && !retry)
            p->failed = true;
        pthread_mutex_unlock(&p->lock);
        if (r > 0)
            return 0;
        if (!retry)
            return xlmig__error(t->ctx, LIBXLMIG_ERR_IO, sys_errno,
                                "writing to %s: the connection broke",
                                p->peer);
        if (deadline && now_ms() >= deadline)
            return xlmig__error(t->ctx, LIBXLMIG_ERR_TIMEOUT, -1,
                                "%s took nothing in time", p->peer);
        wait_fd(p->fd, POLLOUT, POLL_SLICE_MS);
    }
}

static int tls_write_more(libxlmig_transport *t, const void *buf, size_t len)
{
    const uint8_t *q = buf;

    while (len) {
        size_t n = 0;
        int r = ssl_io(t, true, (void *)q, len, &n, 0);

        if (r < 0)
            return r;
        if (r == 0)
            return LIBXLMIG_ERR_IO;
        q += n;
        len -= n;
    }
    return 0;
}

static int tls_write(libxlmig_transport *t, const void *buf, size_t len)
{
    int rc = tls_write_more(t, buf, len);

    return rc ? rc : wbuf_flush(t, 0);
}

static int tls_shutdown_write(libxlmig_transport *t)
{
    struct tls_priv *p = t->priv;
    uint64_t deadline = now_ms() + DEFAULT_TIMEOUT_MS;

    for (;;) {
        int r, err = SSL_ERROR_NONE;

        pthread_mutex_lock(&p->lock);
        if (p->shut || p->failed) {
            pthread_mutex_unlock(&p->lock);
            return 0;
        }
        ERR_clear_error();
        r = SSL_shutdown(p->ssl);
        if (r < 0)
            err = SSL_get_error(p->ssl, r);
        ERR_clear_error();
        if (r >= 0)
            p->shut = true;     /* close_notify is out */
        else if (err != SSL_ERROR_WANT_READ && err != SSL_ERROR_WANT_WRITE)
            p->failed = true;
        pthread_mutex_unlock(&p->lock);

        if (r >= 0)
            return wbuf_flush(t, deadline);
        if (err != SSL_ERROR_WANT_READ && err != SSL_ERROR_WANT_WRITE)
            return xlmig__error(t->ctx, LIBXLMIG_ERR_IO, -1,
                                "sending close_notify to %s", p->peer);
        if (now_ms() >= deadline)
            return xlmig__error(t->ctx, LIBXLMIG_ERR_TIMEOUT, -1,
                                "sending close_notify to %s", p->peer);
        wait_fd(p->fd, POLLOUT, POLL_SLICE_MS);
    }
}

static void tls_priv_free(struct tls_priv *p)
{
    if (!p)
        return;
    if (p->ssl) {
        if (!p->failed && !p->shut && SSL_is_init_finished(p->ssl)) {

            /* Best effort, never blocks: the socket is non-blocking. */
            (void)SSL_shutdown(p->ssl);
            (void)BIO_flush(p->wbio);
            ERR_clear_error();
        }
        SSL_free(p->ssl);
    }
    SSL_CTX_free(p->sctx);
    if (p->fd >= 0)
        close(p->fd);
    if (p->lock_ready)
        pthread_mutex_destroy(&p->lock);
    explicit_bzero(p->psk, sizeof(p->psk));
    free(p);
}

static void tls_dispose(libxlmig_transport *t)
{
    tls_priv_free(t->priv);
    t->priv = NULL;
}

/* The socket's queue; OpenSSL's own buffer holds at most one record. */
static long tls_unsent(libxlmig_transport *t)
{
    struct tls_priv *p = t->priv;
    long n = xlmig__socket_unsent(p->fd);

    if (n >= 0) {
        pthread_mutex_lock(&p->lock);
        n += (long)BIO_wpending(p->wbio);
        pthread_mutex_unlock(&p->lock);
    }
    return n;
}

/*
 * Reads wait in poll(), not in OpenSSL: SHUT_RD wakes that wait at once,
 * and ssl_io() then sees the flag before it calls SSL_read again.
 */
static void tls_cancel_read(libxlmig_transport *t)
{
    struct tls_priv *p = t->priv;

    atomic_store(&p->read_cancelled, true);
    (void)shutdown(p->fd, SHUT_RD);
}

/* TLS 1.3's ciphers are all AEAD: every record read was authenticated. */
static bool tls_sealed(libxlmig_transport *t)
{
    (void)t;
    return true;
}

static const struct xlmig__transport_ops tls_ops = {
    .name = "tls",
    .read = tls_read,
    .write = tls_write,
    .write_more = tls_write_more,
    .shutdown_write = tls_shutdown_write,
    .unsent = tls_unsent,
    .cancel_read = tls_cancel_read,
    .sealed = tls_sealed,
    .dispose = tls_dispose,
};

/* ------------------------------------------------------------------ */
/* Construction                                                       */
/* ------------------------------------------------------------------ */

/* The server's confirmation byte (see the top of the file). */
static int confirm(libxlmig_ctx *ctx, libxlmig_transport *t,
                   unsigned int timeout_ms)
{
    struct tls_priv *p = t->priv;
    uint8_t b = CONFIRM_BYTE;
    uint64_t deadline;
    size_t n = 0;
    int r;

    if (p->server)
        return tls_write(t, &b, 1);

    b = 0;
    ERR_clear_error();
    deadline = now_ms() + timeout_ms;
    for (;;) {
        int ok, err, sys_errno;
        unsigned long e;

        errno = 0;
        ok = SSL_read_ex(p->ssl, &b, 1, &n);
        sys_errno = errno;
        err = ok ? SSL_ERROR_NONE : SSL_get_error(p->ssl, 0);
        e = ERR_peek_last_error();
        if (err == SSL_ERROR_NONE)
            break;
        if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) {
            if (now_ms() >= deadline)
                return xlmig__error(ctx, LIBXLMIG_ERR_TIMEOUT, -1,
                                    "%s did not confirm the TLS session "
                                    "in time", p->peer);
            wait_fd(p->fd, err == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT,
                    POLL_SLICE_MS);
            continue;
        }
        if (err == SSL_ERROR_ZERO_RETURN) {
            err = SSL_ERROR_SYSCALL;
            e = 0;
            sys_errno = 0;
        }
        r = handshake_error(ctx, p, err, sys_errno, e);
        ERR_clear_error();
        return r;
    }
    if (b != CONFIRM_BYTE)
        return xlmig__error(ctx, LIBXLMIG_ERR_PROTOCOL, -1,
                            "%s sent 0x%02x instead of the TLS session "
                            "confirmation: is it a libxlmig peer?", p->peer,
                            b);
    return 0;
}

int libxlmig_transport_tls_new(libxlmig_ctx *ctx, int sockfd, bool server,
                               const libxlmig_tls_params *prm,
                               libxlmig_transport **t_r)
{
    struct tls_priv *p = NULL;
    libxlmig_transport *t = NULL;
    BIO *rbio = NULL, *wbio = NULL;
    unsigned int timeout_ms;
    int rc, fl;

    if (!ctx || sockfd < 0 || !prm || !t_r) {
        if (sockfd >= 0)
            close(sockfd);
        return LIBXLMIG_ERR_INVALID_ARGUMENT;
    }
    p = xlmig__zalloc(sizeof(*p));
    if (!p) {
        close(sockfd);
        return LIBXLMIG_ERR_NO_MEMORY;
    }
    p->fd = sockfd;             /* p owns it now */
    p->server = server;
    peer_label(sockfd, prm->peer_label, p->peer, sizeof(p->peer));
    timeout_ms = prm->timeout_ms ? prm->timeout_ms : DEFAULT_TIMEOUT_MS;

    if (prm->psk_file && (prm->cert_file || prm->key_file || prm->ca_file)) {
        rc = xlmig__error(ctx, LIBXLMIG_ERR_INVALID_ARGUMENT, -1,
                          "TLS with %s: give either a pre-shared key file "
                          "or certificate, key and CA files, not both",
                          p->peer);
        goto out;
    }
    if (!prm->psk_file && (!prm->cert_file || !prm->key_file ||
                           !prm->ca_file)) {
        rc = xlmig__error(ctx, LIBXLMIG_ERR_INVALID_ARGUMENT, -1,
                          "TLS with %s needs a certificate, its key and "
                          "the pool CA (or a pre-shared key file)",
                          p->peer);
        goto out;
    }
    p->psk_mode = prm->psk_file != NULL;
    if (pthread_mutex_init(&p->lock, NULL)) {
        rc = xlmig__error(ctx, LIBXLMIG_ERR_NO_MEMORY, -1,
                          "cannot create a lock");
        goto out;
    }
    p->lock_ready = true;

    rc = ssl_ctx_setup(ctx, p, prm);
    if (rc) goto out;
    p->ssl = SSL_new(p->sctx);
    if (p->ssl) {
        rbio = buffered_bio(sockfd, true);
        wbio = buffered_bio(sockfd, false);
    }
    if (!rbio || !wbio) {
        BIO_free_all(rbio);
        BIO_free_all(wbio);
        rc = xlmig__error(ctx, LIBXLMIG_ERR_NO_MEMORY, -1,
                          "cannot create a TLS session");
        goto out;
    }
    SSL_set_bio(p->ssl, rbio, wbio);    /* the session owns them now */
    p->wbio = wbio;
    SSL_set_app_data(p->ssl, p);
    if (prm->peer_name && !p->psk_mode &&
        !SSL_set1_host(p->ssl, prm->peer_name)) {
        rc = xlmig__error(ctx, LIBXLMIG_ERR_INVALID_ARGUMENT, -1,
                          "bad expected peer name '%s'", prm->peer_name);
        goto out;
    }
    if (server)
        SSL_set_accept_state(p->ssl);
    else
        SSL_set_connect_state(p->ssl);

    fl = fcntl(sockfd, F_GETFL);
    if (fl < 0 || fcntl(sockfd, F_SETFL, fl | O_NONBLOCK) < 0) {
        rc = xlmig__error(ctx, LIBXLMIG_ERR_IO, errno,
                          "cannot make the socket to %s non-blocking",
                          p->peer);
        goto out;
    }

    rc = do_handshake(ctx, p, timeout_ms);
    if (rc) goto out;
    rc = xlmig__transport_new(ctx, &tls_ops, p, &t);
    if (rc) goto out;
    p = NULL;                   /* t owns it now */
    rc = confirm(ctx, t, timeout_ms);
    if (rc) goto out;
    xlmig__log(ctx, XTL_DEBUG, -1, "TLS 1.3 session with %s (%s)",
               ((struct tls_priv *)t->priv)->peer,
               ((struct tls_priv *)t->priv)->psk_mode ? "pre-shared key"
                                                      : "certificates");
    *t_r = t;
    t = NULL;                   /* the caller owns it now */
    rc = 0;
 out:
    libxlmig_transport_free(t);
    tls_priv_free(p);
    return rc;
}

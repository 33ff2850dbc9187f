/* SPDX-License-Identifier: LGPL-2.1-only */
/*
 * The migration workers' link (migrate-wire.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "jsonfile.h"
#include "migrate.h"
#include "migrate-wire.h"
#include "net.h"
#include "proc.h"
#include "rpc.h"
#include "transport.h"

#define POLL_MS 100

static void *link_send(void *arg)
{
    struct xlmig__mig_link *l = arg;
    int rc = libxlmig_channel_send_fd(l->ch, l->send_in);

    pthread_mutex_lock(&l->lock);
    l->send_rc = rc;
    l->send_done = true;
    pthread_mutex_unlock(&l->lock);
    return NULL;
}

static void *link_recv(void *arg)
{
    struct xlmig__mig_link *l = arg;
    int rc = libxlmig_channel_recv_fd(l->ch, l->recv_out);

    /* The worker reads a clean end, or the failure, now. */
    close(l->recv_out);
    pthread_mutex_lock(&l->lock);
    l->recv_out = -1;
    l->recv_rc = rc;
    l->recv_done = true;
    pthread_mutex_unlock(&l->lock);
    return NULL;
}

static void link_free(struct xlmig__mig_link *l)
{
    int *fds[] = { &l->to_peer, &l->from_peer, &l->send_in, &l->recv_out };
    size_t i;

    for (i = 0; i < 4; i++) {
        if (*fds[i] >= 0)
            close(*fds[i]);
    }
    libxlmig_channel_free(l->ch);
    libxlmig_ctx_free(l->ctx);
    pthread_mutex_destroy(&l->lock);
    free(l);
}

int xlmig__mig_link_open(libxlmig_ctx *ctx, int sock, bool server,
                         const libxlmig_tls_params *tls, bool sender,
                         const libxlmig_channel_params *p,
                         struct xlmig__mig_link **l_r)
{
    struct xlmig__mig_link *l;
    libxlmig_transport *t = NULL;
    int a[2] = { -1, -1 }, b[2] = { -1, -1 };
    int rc;

    l = xlmig__zalloc(sizeof(*l));
    if (!l) {
        close(sock);
        return LIBXLMIG_ERR_NO_MEMORY;
    }
    pthread_mutex_init(&l->lock, NULL);
    l->sock = sock;
    l->to_peer = l->from_peer = l->send_in = l->recv_out = -1;
    if (libxlmig_ctx_new(libxlmig_ctx_logger(ctx), LIBXLMIG_LOG_ERROR,
                         &l->ctx)) {
        close(sock);
        link_free(l);
        return LIBXLMIG_ERR_NO_MEMORY;
    }
    if (pipe2(a, O_CLOEXEC) || pipe2(b, O_CLOEXEC)) {
        rc = xlmig__error(ctx, LIBXLMIG_ERR_IO, errno, "cannot make pipes");
        close(sock);
        goto fail;
    }
    l->send_in = a[0];
    l->to_peer = a[1];
    l->from_peer = b[0];
    l->recv_out = b[1];
    rc = xlmig__tcp_transport(l->ctx, sock, server, tls, &t);
    if (rc) {
        rc = xlmig__error(ctx, rc, -1, "%s",
                          libxlmig_ctx_last_error(l->ctx));
        goto fail;
    }
    rc = libxlmig_channel_open(l->ctx, t, sender, p, &l->ch);
    if (rc) {
        rc = xlmig__error(ctx, rc, -1, "%s",
                          libxlmig_ctx_last_error(l->ctx));
        goto fail;
    }
    if (pthread_create(&l->ts, NULL, link_send, l)) {
        rc = xlmig__error(ctx, LIBXLMIG_ERR_NO_MEMORY, -1,
                          "cannot start a thread");
        goto fail;
    }
    if (pthread_create(&l->tr, NULL, link_recv, l)) {
        shutdown(l->sock, SHUT_RDWR);
        close(l->to_peer);
        l->to_peer = -1;
        pthread_join(l->ts, NULL);
        rc = xlmig__error(ctx, LIBXLMIG_ERR_NO_MEMORY, -1,
                          "cannot start a thread");
        goto fail;
    }
    l->started = true;
    *l_r = l;
    return 0;
 fail:
    link_free(l);
    return rc;
}

void xlmig__mig_link_abort(struct xlmig__mig_link *l)
{
    if (l)
        shutdown(l->sock, SHUT_RDWR);
}

int xlmig__mig_link_close(struct xlmig__mig_link *l, unsigned int grace_ms)
{
    double until;
    bool done;
    int rc;

    if (!l)
        return 0;
    if (l->to_peer >= 0) {
        close(l->to_peer);      /* the send thread reads the end */
        l->to_peer = -1;
    }
    until = xlmig__now_s() + grace_ms / 1000.0;
    for (;;) {
        pthread_mutex_lock(&l->lock);
        done = l->send_done && l->recv_done;
        pthread_mutex_unlock(&l->lock);
        if (done || xlmig__now_s() >= until)
            break;
        xlmig__sleep_ms(20);
    }
    if (!done)
        xlmig__mig_link_abort(l);
    /* The receive thread may block writing into from_peer: drain it. */
    if (l->from_peer >= 0) {
        close(l->from_peer);
        l->from_peer = -1;
    }
    pthread_join(l->ts, NULL);
    pthread_join(l->tr, NULL);
    rc = done ? (l->send_rc ? l->send_rc : l->recv_rc) : LIBXLMIG_ERR_IO;
    link_free(l);
    return rc;
}

void xlmig__mig_link_progress(struct xlmig__mig_link *l,
                              libxlmig_channel_progress *p_r)
{
    memset(p_r, 0, sizeof(*p_r));
    if (l && l->ch)
        libxlmig_channel_get_progress(l->ch, p_r);
}

int xlmig__mig_line_write(int fd, const char *line)
{
    char buf[XLMIG__MIG_LINE_MAX + 2];
    size_t n = strlen(line);

    if (n > XLMIG__MIG_LINE_MAX)
        n = XLMIG__MIG_LINE_MAX;
    memcpy(buf, line, n);
    buf[n] = '\n';
    return xlmig__write_all(fd, buf, n + 1) ? LIBXLMIG_ERR_IO : 0;
}

int xlmig__mig_line_read(libxlmig_ctx *ctx, int fd, const char *peer,
                         char *buf, size_t cap, unsigned int timeout_ms,
                         volatile sig_atomic_t *cancel)
{
    double until = xlmig__now_s() + timeout_ms / 1000.0;
    size_t n = 0;

    for (;;) {
        struct pollfd p = { .fd = fd, .events = POLLIN };
        char c;
        ssize_t r;

        if (cancel && *cancel)
            return xlmig__error(ctx, LIBXLMIG_ERR_CANCELLED, -1,
                                "cancelled while waiting for %s", peer);
        if (xlmig__now_s() >= until)
            return xlmig__error(ctx, LIBXLMIG_ERR_TIMEOUT, -1, "%s said "
                                "nothing for %u s", peer, timeout_ms / 1000);
        if (poll(&p, 1, POLL_MS) <= 0)
            continue;
        r = read(fd, &c, 1);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return xlmig__error(ctx, LIBXLMIG_ERR_IO, r ? errno : -1,
                                "the connection to %s ended", peer);
        if (c == '\n')
            break;
        if ((unsigned char)c < 0x20 || c == 0x7f || n + 1 >= cap)
            return xlmig__error(ctx, LIBXLMIG_ERR_PROTOCOL, -1, "%s sent "
                                "a control line that is too long or not "
                                "text", peer);
        buf[n++] = c;
    }
    buf[n] = '\0';
    return 0;
}

int xlmig__mig_preamble_write(int fd, const char *json, size_t len)
{
    char head[64];

    snprintf(head, sizeof(head), XLMIG__MIGL_CONFIG " %zu", len);
    if (xlmig__mig_line_write(fd, head) || xlmig__write_all(fd, json, len))
        return LIBXLMIG_ERR_IO;
    return 0;
}

int xlmig__mig_preamble_read(libxlmig_ctx *ctx, int fd, const char *peer,
                             unsigned int timeout_ms,
                             volatile sig_atomic_t *cancel, char **json_r,
                             size_t *len_r)
{
    char line[64], *end, *json;
    unsigned long long n;
    size_t got = 0;
    int rc;

    rc = xlmig__mig_line_read(ctx, fd, peer, line, sizeof(line), timeout_ms,
                              cancel);
    if (rc)
        return rc;
    if (strncmp(line, XLMIG__MIGL_CONFIG " ", sizeof(XLMIG__MIGL_CONFIG)) ||
        !line[sizeof(XLMIG__MIGL_CONFIG)])
        return xlmig__error(ctx, LIBXLMIG_ERR_PROTOCOL, -1, "%s did not "
                            "start with the VM's configuration", peer);
    errno = 0;
    n = strtoull(line + sizeof(XLMIG__MIGL_CONFIG), &end, 10);
    if (errno || *end || !n || n > XLMIG__MIG_PREAMBLE_MAX)
        return xlmig__error(ctx, LIBXLMIG_ERR_PROTOCOL, -1, "%s announced "
                            "a configuration of a bad length (at most %u "
                            "bytes)", peer, XLMIG__MIG_PREAMBLE_MAX);
    json = malloc(n + 1);
    if (!json)
        return LIBXLMIG_ERR_NO_MEMORY;
    while (got < n) {
        ssize_t r = read(fd, json + got, n - got);

        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            free(json);
            return xlmig__error(ctx, LIBXLMIG_ERR_IO, r ? errno : -1,
                                "the connection to %s ended inside the VM's "
                                "configuration", peer);
        }
        got += (size_t)r;
    }
    json[n] = '\0';
    *json_r = json;
    *len_r = n;
    return 0;
}

bool xlmig__sock_peer_gone(int fd)
{
    struct pollfd p = { .fd = fd, .events = POLLRDHUP };

    return poll(&p, 1, 0) > 0 &&
           (p.revents & (POLLRDHUP | POLLHUP | POLLERR | POLLNVAL));
}

static const struct xlmig__json_kind preamble_kind = {
    .what = "migration preamble",
    .a_what = "a migration preamble",
    .invalid_rc = LIBXLMIG_ERR_PROTOCOL,
    .max_bytes = XLMIG__MIG_PREAMBLE_MAX,
    .depth_max = 40,
};

int xlmig__mig_preamble_tree(const char *json, size_t len, yajl_val *root_r,
                             char *why, size_t why_len)
{
    int rc;

    if (len > XLMIG__MIG_PREAMBLE_MAX) {
        snprintf(why, why_len, "more than %u bytes", XLMIG__MIG_PREAMBLE_MAX);
        return LIBXLMIG_ERR_PROTOCOL;
    }
    rc = xlmig__json_tree(&preamble_kind, (const uint8_t *)json, len, root_r,
                          why, why_len);
    if (!rc && !YAJL_IS_OBJECT(*root_r)) {
        yajl_tree_free(*root_r);
        *root_r = NULL;
        snprintf(why, why_len, "not a JSON object");
        rc = LIBXLMIG_ERR_PROTOCOL;
    }
    return rc;
}

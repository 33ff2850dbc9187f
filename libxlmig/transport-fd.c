/* SPDX-License-Identifier: LGPL-2.1-only */
/* The plain transport: a socket, or a pair of pipe ends. */
#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <linux/sockios.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "internal.h"
#include "transport.h"

struct fd_priv {
    int rfd;
    int wfd;
    atomic_bool read_cancelled;     /* fd_cancel_read() was called */
};

int xlmig__write_all(int fd, const void *buf, size_t len)
{
    const uint8_t *p = buf;

    while (len) {
        ssize_t r = write(fd, p, len);

        if (r < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        p += r;
        len -= (size_t)r;
    }
    return 0;
}

static ssize_t fd_read(libxlmig_transport *t, void *buf, size_t len)
{
    struct fd_priv *f = t->priv;
    ssize_t r;

    do {
        if (atomic_load(&f->read_cancelled))
            return LIBXLMIG_ERR_CANCELLED;
        r = read(f->rfd, buf, len);
    } while (r < 0 && errno == EINTR);
    if (r <= 0 && atomic_load(&f->read_cancelled))
        return LIBXLMIG_ERR_CANCELLED;  /* the EOF is shutdown's */
    if (r < 0) {
        if (errno == ECONNRESET)
            return 0;           /* the caller reports the missing END */
        return xlmig__error(t->ctx, LIBXLMIG_ERR_IO, errno,
                            "reading from the peer");
    }
    return r;
}

/*
 * send() without SIGPIPE on a socket; plain write() on anything else.
 * With @more, MSG_MORE: the kernel holds the bytes back to go out with
 * the next send (a frame's header with its payload, not a packet alone).
 */
static int send_all(int fd, const void *buf, size_t len, bool more)
{
    const uint8_t *p = buf;
    int flags = MSG_NOSIGNAL | (more ? MSG_MORE : 0);

    while (len) {
        ssize_t r = send(fd, p, len, flags);

        if (r < 0) {
            if (errno == EINTR)
                continue;
            if (errno == ENOTSOCK)
                return xlmig__write_all(fd, p, len);
            return -errno;
        }
        p += r;
        len -= (size_t)r;
    }
    return 0;
}

static int fd_send(libxlmig_transport *t, const void *buf, size_t len,
                   bool more)
{
    struct fd_priv *f = t->priv;
    int r = send_all(f->wfd, buf, len, more);

    if (r)
        return xlmig__error(t->ctx, LIBXLMIG_ERR_IO, -r,
                            "writing to the peer");
    return 0;
}

static int fd_write(libxlmig_transport *t, const void *buf, size_t len)
{
    return fd_send(t, buf, len, false);
}

static int fd_write_more(libxlmig_transport *t, const void *buf, size_t len)
{
    return fd_send(t, buf, len, true);
}

static int fd_shutdown_write(libxlmig_transport *t)
{
    struct fd_priv *f = t->priv;

    if (f->wfd < 0)
        return 0;
    if (f->rfd == f->wfd) {
        /* One socket: half-close it; a non-socket cannot half-close. */
        if (shutdown(f->wfd, SHUT_WR) < 0 && errno != ENOTSOCK)
            return xlmig__error(t->ctx, LIBXLMIG_ERR_IO, errno,
                                "shutting down the connection");
        return 0;
    }
    close(f->wfd);
    f->wfd = -1;
    return 0;
}

static void fd_cancel_read(libxlmig_transport *t)
{
    struct fd_priv *f = t->priv;

    atomic_store(&f->read_cancelled, true);
    /* A socket's reader wakes with EOF; a pipe has no such call. */
    (void)shutdown(f->rfd, SHUT_RD);
}

static void fd_dispose(libxlmig_transport *t)
{
    struct fd_priv *f = t->priv;

    if (!f)
        return;
    if (f->wfd >= 0 && f->wfd != f->rfd)
        close(f->wfd);
    if (f->rfd >= 0)
        close(f->rfd);
    free(f);
    t->priv = NULL;
}

long xlmig__socket_unsent(int fd)
{
    int n = 0;

    if (ioctl(fd, SIOCOUTQ, &n) < 0 || n < 0)
        return -1;
    return n;
}

static long fd_unsent(libxlmig_transport *t)
{
    struct fd_priv *f = t->priv;

    return xlmig__socket_unsent(f->wfd);
}

static const struct xlmig__transport_ops fd_ops = {
    .name = "tcp",
    .read = fd_read,
    .write = fd_write,
    .write_more = fd_write_more,
    .shutdown_write = fd_shutdown_write,
    .unsent = fd_unsent,
    .cancel_read = fd_cancel_read,
    .dispose = fd_dispose,
};

int xlmig__transport_new(libxlmig_ctx *ctx,
                         const struct xlmig__transport_ops *ops, void *priv,
                         libxlmig_transport **t_r)
{
    libxlmig_transport *t = xlmig__zalloc(sizeof(*t));

    if (!t)
        return LIBXLMIG_ERR_NO_MEMORY;
    t->ops = ops;
    t->ctx = ctx;
    t->priv = priv;
    *t_r = t;
    return 0;
}

int libxlmig_transport_fd_new(libxlmig_ctx *ctx, int rfd, int wfd,
                              libxlmig_transport **t_r)
{
    struct fd_priv *f = NULL;
    int rc;

    if (!ctx || rfd < 0 || wfd < 0 || !t_r)
        return LIBXLMIG_ERR_INVALID_ARGUMENT;
    f = xlmig__zalloc(sizeof(*f));
    if (!f)
        return LIBXLMIG_ERR_NO_MEMORY;
    f->rfd = rfd;
    f->wfd = wfd;
    rc = xlmig__transport_new(ctx, &fd_ops, f, t_r);
    if (rc)
        free(f);
    return rc;
}

void libxlmig_transport_free(libxlmig_transport *t)
{
    if (!t)
        return;
    t->ops->dispose(t);
    free(t);
}

int xlmig__transport_read_exact(libxlmig_transport *t, void *buf,
                                size_t len, size_t *got_r)
{
    uint8_t *p = buf;
    size_t got = 0;

    while (got < len) {
        ssize_t r = t->ops->read(t, p + got, len - got);

        if (r < 0) {
            *got_r = got;
            return (int)r;
        }
        if (r == 0)
            break;
        got += (size_t)r;
    }
    *got_r = got;
    return 0;
}

/* SPDX-License-Identifier: LGPL-2.1-only */
/*
 * Transports of the stream channel (internal).  A transport is an ops
 * table plus its private state; the channel reads from one thread and
 * writes from another at the same time, so each implementation must
 * allow one reader and one writer concurrently.
 */
#ifndef XLMIG_TRANSPORT_H
#define XLMIG_TRANSPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "libxlmig.h"

struct xlmig__transport_ops {
    const char *name;           /* "tcp", "tls": for messages */

    /*
     * Read up to @len bytes (len > 0) into @buf, blocking until at least
     * one byte is there.  Returns the count, 0 at the peer's clean end,
     * or a negative LIBXLMIG_ERR_* (logged by the transport).
     */
    ssize_t (*read)(libxlmig_transport *t, void *buf, size_t len);

    /*
     * Write all @len bytes, blocking as needed.  Returns 0 or a negative
     * LIBXLMIG_ERR_* (logged by the transport).
     */
    int (*write)(libxlmig_transport *t, const void *buf, size_t len);

    /*
     * As write, but the bytes may wait in the transport's buffer for the
     * next write (which sends them, and its own, together).  Optional:
     * xlmig__transport_write_more() falls back to write.
     */
    int (*write_more)(libxlmig_transport *t, const void *buf, size_t len);

    /*
     * No more writes: the peer's read sees a clean end once it has read
     * everything.  Returns 0 or a negative LIBXLMIG_ERR_*.
     */
    int (*shutdown_write)(libxlmig_transport *t);

    /*
     * Bytes written but not yet taken by the network (the socket's send
     * queue, SIOCOUTQ), or -1 when the transport cannot tell (a pipe).
     * The channel's compress=auto measures the link with it.  Optional.
     */
    long (*unsent)(libxlmig_transport *t);

    /*
     * Stop reading: a read blocked in another thread returns soon, and
     * every read from here on returns LIBXLMIG_ERR_CANCELLED at once,
     * not logged (the caller knows why it cancelled).  Writes go on as
     * before.  Safe from any thread while another reads, and more than
     * once.  A socket's blocked read is woken (shutdown(SHUT_RD)); one
     * blocked on a pipe ends only when bytes or EOF come.
     */
    void (*cancel_read)(libxlmig_transport *t);

    /*
     * Whether what read() returns was authenticated on the way (TLS's
     * AEAD: a byte changed on the way fails the read instead).  The
     * channel's receiver then leaves out the frame checksum, which
     * guards the same bytes.  Optional: NULL is false.
     */
    bool (*sealed)(libxlmig_transport *t);

    /* Close and free the private state (not the transport struct). */
    void (*dispose)(libxlmig_transport *t);
};

struct libxlmig_transport {
    const struct xlmig__transport_ops *ops;
    libxlmig_ctx *ctx;
    void *priv;
};

/* ops->write_more where the transport has it, else ops->write. */
static inline int xlmig__transport_write_more(libxlmig_transport *t,
                                              const void *buf, size_t len)
{
    return t->ops->write_more ? t->ops->write_more(t, buf, len)
                              : t->ops->write(t, buf, len);
}

/* ops->cancel_read where there is a transport with one. */
static inline void xlmig__transport_cancel_read(libxlmig_transport *t)
{
    if (t && t->ops->cancel_read)
        t->ops->cancel_read(t);
}

/* ops->sealed, false where there is none. */
static inline bool xlmig__transport_sealed(libxlmig_transport *t)
{
    return t && t->ops->sealed && t->ops->sealed(t);
}

/* Read exactly @len bytes; *got_r says how many came before an EOF. */
int xlmig__transport_read_exact(libxlmig_transport *t, void *buf,
                                size_t len, size_t *got_r);

/* Allocate a transport around @ops and @priv (owned by it from here). */
int xlmig__transport_new(libxlmig_ctx *ctx,
                         const struct xlmig__transport_ops *ops, void *priv,
                         libxlmig_transport **t_r);

/* SIOCOUTQ of socket @fd, or -1 (not a socket, or no answer). */
long xlmig__socket_unsent(int fd);

/* write() all of @buf to @fd, retrying on EINTR and short writes. */
int xlmig__write_all(int fd, const void *buf, size_t len);

#define XLMIG__TLS_PSK_MAX 64u       /* bytes of a pre-shared key */

/*
 * Load a pre-shared key file (32 to 64 bytes as hex digits, white space
 * ignored) into @key; *len_r bytes.  INVALID_ARGUMENT naming @path.
 */
int xlmig__tls_psk_load(libxlmig_ctx *ctx, const char *path,
                        uint8_t key[XLMIG__TLS_PSK_MAX], size_t *len_r);

#endif /* XLMIG_TRANSPORT_H */

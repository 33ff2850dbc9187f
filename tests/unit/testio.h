/* SPDX-License-Identifier: LGPL-2.1-only */
/*
 * Test helpers for byte streams: a blob, threads that feed a blob into
 * an fd or drain an fd into a blob, and an in-memory sink.
 */
#ifndef XLMIG_TESTIO_H
#define XLMIG_TESTIO_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "transport.h"

struct blob {
    uint8_t *data;
    size_t len;
};

struct pump {
    int fd;
    const uint8_t *data;        /* feed: write this, then close fd */
    size_t len;
    struct blob got;            /* drain: everything read from fd */
};

/* Thread body: write p->data to p->fd and close it. */
static inline void *pump_feed_main(void *arg)
{
    struct pump *p = arg;

    /* The reader may stop early (bad-input cases): that is fine. */
    if (p->len)
        (void)xlmig__write_all(p->fd, p->data, p->len);
    close(p->fd);
    return NULL;
}

/*
 * Thread body for a socket whose other end also writes back (a channel's
 * hello, its acknowledgements): p->data written, the write side shut,
 * then what comes back read and dropped until the other end closes.
 * Closing at once instead would make those writes fail with EPIPE now
 * and then, which is not the error a bad-input case is after.
 */
static inline void *pump_feed_peer_main(void *arg)
{
    struct pump *p = arg;
    char sink[4096];

    if (p->len)
        (void)xlmig__write_all(p->fd, p->data, p->len);
    (void)shutdown(p->fd, SHUT_WR);
    while (read(p->fd, sink, sizeof(sink)) > 0)
        ;
    close(p->fd);
    return NULL;
}

/* Thread body: read p->fd to its end into p->got, then close it. */
static inline void *pump_drain_main(void *arg)
{
    struct pump *p = arg;
    size_t cap = 1 << 16;
    ssize_t r;

    p->got.data = malloc(cap);
    p->got.len = 0;
    for (;;) {
        if (p->got.len == cap) {
            cap *= 2;
            p->got.data = realloc(p->got.data, cap);
        }
        r = read(p->fd, p->got.data + p->got.len, cap - p->got.len);
        if (r <= 0)
            break;
        p->got.len += (size_t)r;
    }
    close(p->fd);
    return NULL;
}

#endif /* XLMIG_TESTIO_H */

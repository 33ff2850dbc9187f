/* SPDX-License-Identifier: LGPL-2.1-only */
/*
 * The client of a pool's xlmigd (internal): connect with the pool's TLS,
 * one call, the host list; and the pool's TLS material as QEMU and
 * libnbd read it.  The configuration it takes is poolconf.h's, the
 * sockets under it net.h's, the frames rpc.h's (docs/specs/rpc.md).
 */
#ifndef XLMIG_POOL_CLIENT_H
#define XLMIG_POOL_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "libxlmig.h"
#include "rpc.h"

struct xlmig__pool_conf;

/*
 * Connect to @address ("HOST:PORT") and run the TLS handshake as a
 * client with the pool's material; TCP keepalive so that a dead peer is
 * noticed within seconds.  *t_r on success.
 */
int xlmig__pool_connect(libxlmig_ctx *ctx, const struct xlmig__pool_conf *c,
                        const char *address, libxlmig_transport **t_r);

/*
 * One request: @kv is NULL or key, value, key, value, ..., NULL; a value
 * "#123" goes as the number 123, "?true"/"?false" as a boolean, anything
 * else as a string.  As xlmig__rpc_call() (the caller disposes *resp).
 */
int xlmig__pool_call(libxlmig_ctx *ctx, libxlmig_transport *t,
                     const char *peer, uint64_t id, const char *method,
                     const char *const *kv, xlmig__rpc_event_fn *on_event,
                     void *opaque, struct xlmig__rpc_msg *resp);

/*
 * Connect to @address (NULL: the master) and say hello with the pool's
 * uuid (request id 1: the caller's ids start at 2).
 * xlmig__pool_open_fd() also gives the socket under the TLS in *fd_r,
 * to poll() for the peer's end (POLLRDHUP); the transport owns it.
 */
int xlmig__pool_open(libxlmig_ctx *ctx, const struct xlmig__pool_conf *c,
                     const char *address, libxlmig_transport **t_r);
int xlmig__pool_open_fd(libxlmig_ctx *ctx, const struct xlmig__pool_conf *c,
                        const char *address, libxlmig_transport **t_r,
                        int *fd_r);

/*
 * One request to the xlmigd at @address (NULL: the master) on a
 * connection of its own: xlmig__pool_open(), xlmig__pool_call() with id
 * 2, closed.  *resp as xlmig__pool_call() (the caller disposes it).
 */
int xlmig__pool_call_once(libxlmig_ctx *ctx, const struct xlmig__pool_conf *c,
                          const char *address, const char *method,
                          const char *const *kv, struct xlmig__rpc_msg *resp);

/* The pool's hosts as its master lists them (host.list). */
#define XLMIG__POOL_HOSTS_MAX 64
struct xlmig__pool_host {
    char name[65];
    char address[256];
    bool enabled;                   /* false: host-disable'd, no VM may
                                     * start or arrive there */
    bool master;                    /* the pool's master */
};
struct xlmig__pool_hosts {
    size_t n;
    struct xlmig__pool_host h[XLMIG__POOL_HOSTS_MAX];
};

/*
 * Ask @c's master for the pool's hosts: entries without a name or an
 * address, or with a longer one than the fields hold, are passed over,
 * and those past XLMIG__POOL_HOSTS_MAX; a host without "enabled" (a
 * master of before host-disable) is enabled.  @hs->n is 0 on failure.
 */
int xlmig__pool_hosts(libxlmig_ctx *ctx, const struct xlmig__pool_conf *c,
                      struct xlmig__pool_hosts *hs);

/* Host @name in @hs, or NULL; _address: its address, or NULL. */
const struct xlmig__pool_host *xlmig__pool_hosts_find(
    const struct xlmig__pool_hosts *hs, const char *name);
const char *xlmig__pool_hosts_address(const struct xlmig__pool_hosts *hs,
                                      const char *name);

/*
 * The address of host @name of the pool: this host's own, or the one
 * the master lists (host.list).  NOT_FOUND naming the host and pool.
 */
int xlmig__pool_host_address(libxlmig_ctx *ctx,
                             const struct xlmig__pool_conf *c,
                             const char *name, char *addr, size_t cap);

/*
 * The pool's TLS material as QEMU and libnbd read it, for the NBD
 * connections of storage motion: directory STATE/nbd-tls (0700) with
 * links ca-cert.pem, server-cert.pem, server-key.pem, client-cert.pem,
 * client-key.pem to the pool's files (one directory serves both ends),
 * or, in a PSK pool, keys.psk holding "xlmig:HEXKEY" (the user
 * XLMIG__SXM_PSK_USER, sxm.h).  Made or brought
 * up to date at each call; its path into @dir.
 */
int xlmig__pool_nbd_tls_dir(libxlmig_ctx *ctx,
                            const struct xlmig__pool_conf *c, char *dir,
                            size_t cap);

#endif /* XLMIG_POOL_CLIENT_H */

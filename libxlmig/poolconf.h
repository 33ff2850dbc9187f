/* SPDX-License-Identifier: LGPL-2.1-only */
/*
 * The pool configuration file of xlmigd and of the commands that talk to
 * the pool master (internal).  Its keys, their values and defaults are
 * in xlmigd.conf(5), docs/man/xlmigd.conf.5.md: the parser's table of
 * keys (poolconf.c) and that page list the same ones (tests/integration/
 * test-man.sh checks it).
 *
 * The grammar (comments after values, quoting, the caps) is conffile.h's.
 * FILEs and DIR are absolute paths.  An unknown key, a repeated key, a
 * bad value is an error naming the file, the line and the key.
 */
#ifndef XLMIG_POOLCONF_H
#define XLMIG_POOLCONF_H

#include <stdbool.h>
#include <stddef.h>

#include "addr.h"                   /* the addresses it holds */
#include "libxlmig.h"
#include "rpc.h"
#include "transport.h"

#define XLMIG__POOLCONF_DEFAULT "/etc/xlmig/xlmigd.conf"
#define XLMIG__POOL_PORT_DEFAULT 7700

struct xlmig__pool_conf {
    char path[256];                 /* the file it came from */
    char name[65];
    char address[256];
    char pool_name[65];
    char pool_uuid[37];
    char master[256];
    char tls_cert[256], tls_key[256], tls_ca[256], psk_file[256];
    char state_dir[256];
    unsigned orphan_grace;
    char test_version_file[256];    /* "": none */
};

/* The configuration's path: @path, else $XLMIG_CONFIG, else the default. */
const char *xlmig__pool_conf_path(const char *path);

/*
 * Load @path (NULL or "": xlmig__pool_conf_path()'s) into *@c, read whole
 * (at most XLMIG__CONF_FILE_MAX bytes, refused before anything is
 * allocated) and parsed by xlmig__pool_conf_parse().  A missing file is
 * LIBXLMIG_ERR_NOT_FOUND; *@c changes only on success.
 */
int xlmig__pool_conf_load(libxlmig_ctx *ctx, const char *path,
                          struct xlmig__pool_conf *c);

/*
 * Parse @len bytes of @text (any bytes), the configuration @label (its
 * file's name, for messages and @c->path), into *@c.  Needs address,
 * master, pool-uuid, and TLS material: tls-cert, tls-key and tls-ca, or
 * psk-file; LIBXLMIG_ERR_INVALID_ARGUMENT otherwise, logged in @ctx
 * (when not NULL) as "LABEL:LINE: what is wrong" naming the key (or
 * "LABEL: ..." for what no line holds: a missing key).  *@c changes only
 * on success.
 */
int xlmig__pool_conf_parse(libxlmig_ctx *ctx, const char *label,
                           const char *text, size_t len,
                           struct xlmig__pool_conf *c);

/* Is this host the pool master (address equals master)? */
bool xlmig__pool_conf_is_master(const struct xlmig__pool_conf *c);

/*
 * Connect to @address ("HOST:PORT") and run the TLS handshake as a
 * client with the pool's material; TCP keepalive so that a dead peer is
 * noticed within seconds.  *t_r on success.
 */
int xlmig__pool_connect(libxlmig_ctx *ctx, const struct xlmig__pool_conf *c,
                        const char *address, libxlmig_transport **t_r);

/* TLS parameters from the configuration (pointers into @c). */
void xlmig__pool_conf_tls(const struct xlmig__pool_conf *c,
                          libxlmig_tls_params *p, const char *peer_label);

/* Short TCP keepalive on @fd: idle 2 s, probes every 1 s, 3 probes. */
void xlmig__socket_keepalive(int fd);

/*
 * A TCP connection to @host:@port (every address it resolves to, in
 * turn): the socket (close-on-exec), or -1 with *gai_r (getaddrinfo's
 * code, 0 when it resolved) and errno (the last connect's) saying why.
 * Logs nothing: callers say what to check.
 */
int xlmig__tcp_connect(const char *host, const char *port, int *gai_r);

/*
 * The transport over TCP socket @fd (owned from here, also on failure):
 * TLS with @tls as server or client, or plain when @tls is NULL;
 * TCP_NODELAY either way.
 */
int xlmig__tcp_transport(libxlmig_ctx *ctx, int fd, bool server,
                         const libxlmig_tls_params *tls,
                         libxlmig_transport **t_r);

/*
 * A listening TCP socket (close-on-exec, SO_REUSEADDR, @backlog) on
 * @host:@port (@host NULL: every address; @port "0": one the kernel
 * picks), *port_r (may be NULL) its port; or -1 with *gai_r and errno
 * as for xlmig__tcp_connect().  Logs nothing.
 */
int xlmig__tcp_listen(const char *host, const char *port, int backlog,
                      int *gai_r, unsigned int *port_r);

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

#endif /* XLMIG_POOLCONF_H */

/* SPDX-License-Identifier: LGPL-2.1-only */
/*
 * TCP sockets (internal): connect, listen, keepalive, the transport over
 * them.  The addresses they take ("HOST:PORT") are split by addr.h; the
 * pool's own connections (its TLS, its hello) are pool-client.h's.
 */
#ifndef XLMIG_NET_H
#define XLMIG_NET_H

#include <stdbool.h>

#include "libxlmig.h"

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
 * A listening TCP socket (close-on-exec, SO_REUSEADDR, @backlog) on
 * @host:@port (@host NULL: every address; @port "0": one the kernel
 * picks), *port_r (may be NULL) its port; or -1 with *gai_r and errno
 * as for xlmig__tcp_connect().  Logs nothing.
 */
int xlmig__tcp_listen(const char *host, const char *port, int backlog,
                      int *gai_r, unsigned int *port_r);

/*
 * The transport over TCP socket @fd (owned from here, also on failure):
 * TLS with @tls as server or client, or plain when @tls is NULL;
 * TCP_NODELAY either way.
 */
int xlmig__tcp_transport(libxlmig_ctx *ctx, int fd, bool server,
                         const libxlmig_tls_params *tls,
                         libxlmig_transport **t_r);

#endif /* XLMIG_NET_H */

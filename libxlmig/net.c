/* SPDX-License-Identifier: LGPL-2.1-only */
/* TCP sockets: connect, listen, keepalive, the transport over them. */
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "net.h"

void xlmig__socket_keepalive(int fd)
{
    int one = 1, idle = 2, intvl = 1, cnt = 3;

    (void)setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
    (void)setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof(idle));
    (void)setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &intvl, sizeof(intvl));
    (void)setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof(cnt));
    (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

/*
 * A TCP socket on every address @host:@port resolves to, in turn:
 * connected (@backlog < 0) or bound with SO_REUSEADDR and listening.
 */
static int tcp_open(const char *host, const char *port, int backlog,
                    int *gai_r)
{
    struct addrinfo hints, *res = NULL, *ai;
    int fd = -1, err = 0, one = 1;

    memset(&hints, 0, sizeof(hints));
    hints.ai_socktype = SOCK_STREAM;
    if (backlog >= 0)
        hints.ai_flags = AI_PASSIVE;
    *gai_r = getaddrinfo(host, port, &hints, &res);
    if (*gai_r)
        return -1;
    for (ai = res; ai; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC,
                    ai->ai_protocol);
        if (fd < 0) {
            err = errno;
            continue;
        }
        if (backlog < 0) {
            if (!connect(fd, ai->ai_addr, ai->ai_addrlen))
                break;
        } else {
            (void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one,
                             sizeof(one));
            if (!bind(fd, ai->ai_addr, ai->ai_addrlen) &&
                !listen(fd, backlog))
                break;
        }
        err = errno;
        close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    if (fd < 0)
        errno = err;
    return fd;
}

int xlmig__tcp_connect(const char *host, const char *port, int *gai_r)
{
    return tcp_open(host, port, -1, gai_r);
}

int xlmig__tcp_listen(const char *host, const char *port, int backlog,
                      int *gai_r, unsigned int *port_r)
{
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    int fd = tcp_open(host, port, backlog, gai_r);

    if (fd >= 0 && port_r) {
        if (getsockname(fd, (struct sockaddr *)&ss, &sl)) {
            int e = errno;

            close(fd);
            errno = e;
            return -1;
        }
        *port_r = ntohs(ss.ss_family == AF_INET6
                        ? ((struct sockaddr_in6 *)&ss)->sin6_port
                        : ((struct sockaddr_in *)&ss)->sin_port);
    }
    return fd;
}

int xlmig__tcp_transport(libxlmig_ctx *ctx, int fd, bool server,
                         const libxlmig_tls_params *tls,
                         libxlmig_transport **t_r)
{
    int one = 1;

    (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (!tls)
        return libxlmig_transport_fd_new(ctx, fd, fd, t_r);
    return libxlmig_transport_tls_new(ctx, fd, server, tls, t_r);
}

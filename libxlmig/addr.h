/* SPDX-License-Identifier: LGPL-2.1-only */
/*
 * Network addresses as the tools, the pool configuration and the pool
 * state write them (internal): "HOST:PORT" with an IPv6 HOST in
 * brackets, "[V6]:PORT"; and the storage motion's NBD endpoints,
 * "tcp:HOST:PORT" or "unix:/PATH".  The one home of their parsing and
 * printing; the TCP sockets themselves are in net.h.
 */
#ifndef XLMIG_ADDR_H
#define XLMIG_ADDR_H

#include <stdbool.h>
#include <stddef.h>

struct sockaddr;

/* Longest "HOST:PORT" xlmig__hostport_ok() takes (bytes, no NUL). */
#define XLMIG__HOSTPORT_MAX 255

/* What xlmig__hostport_ok() asks for, for error messages. */
#define XLMIG__HOSTPORT_RULE \
    "an address is HOST:PORT, HOST a host name, an IPv4 address or an " \
    "IPv6 address in brackets, PORT 1 to 65535, 255 bytes at most"

/*
 * Split "HOST:PORT" or "[V6]:PORT" into @host (without the brackets)
 * and @port (PORT is 1 to 5 digits, 1 to 65535; written back without
 * leading zeros).  0, or LIBXLMIG_ERR_INVALID_ARGUMENT (nothing logged:
 * the caller names the option or the file) when @s is NULL, has no
 * port, a second ':' outside brackets, an empty host, or a part that
 * does not fit @hlen / @plen.
 */
int xlmig__split_hostport(const char *s, char *host, size_t hlen,
                          char *port, size_t plen);

/*
 * As xlmig__split_hostport(), where the port may be left out: "HOST",
 * "[V6]" and a bare IPv6 address ("::1", "fe80::2") get @default_port
 * (1 to 65535).  For the commands with a port of their own (channel-send:
 * HOST[:PORT]).
 */
int xlmig__split_hostport_dflt(const char *s, unsigned int default_port,
                               char *host, size_t hlen, char *port,
                               size_t plen);

/*
 * "tcp:HOST:PORT", as the storage motion's addresses are written: the
 * "tcp:" prefix, then as xlmig__split_hostport().
 */
int xlmig__split_tcp(const char *s, char *host, size_t hlen, char *port,
                     size_t plen);

/*
 * An NBD endpoint, as the storage motion's records and requests write
 * it: "tcp:HOST:PORT" or "unix:/PATH".  After "tcp:", HOST:PORT as
 * xlmig__hostport_ok() takes it (a host name, an IPv4 address or an
 * IPv6 address in brackets, 255 bytes at most) with PORT written
 * without leading zeros; split as xlmig__split_hostport() into @host
 * (an IPv6 address without its brackets) and @port, *path_r NULL.
 * After "unix:", an absolute PATH of printable ASCII without spaces,
 * shorter than a socket's path may be (107 bytes): *path_r points at
 * it in @s, @host and @port are "".  0, or LIBXLMIG_ERR_INVALID_ARGUMENT
 * (nothing logged) for anything else or a part that does not fit.
 */
int xlmig__endpoint_split(const char *s, char *host, size_t hlen, char *port,
                          size_t plen, const char **path_r);

/*
 * The inverse: "HOST:PORT", or "[HOST]:PORT" when HOST holds a ':' (an
 * IPv6 address), into @buf of @len bytes (cut to fit, always ended).
 */
void xlmig__join_hostport(const char *host, const char *port, char *buf,
                          size_t len);

/*
 * A peer's socket address as the messages name it: "192.0.2.1:7700" or
 * "[2001:db8::1]:7700" (numeric).  False, @buf untouched, for a family
 * other than AF_INET and AF_INET6.
 */
bool xlmig__sockaddr_label(const struct sockaddr *sa, char *buf,
                           size_t len);

/*
 * Is @s a pool member's address (XLMIG__HOSTPORT_RULE): HOST a name of
 * [A-Za-z0-9._-] not starting with '.' or '-', an IPv4 address, or an
 * IPv6 address in brackets; PORT 1 to 65535.  On false, @why (of @len
 * bytes) says what is wrong and *at_r the byte it is at, as
 * xlmig__word_ok() (jsonfile.h).
 */
bool xlmig__hostport_ok(const char *s, char *why, size_t len, size_t *at_r);

#endif /* XLMIG_ADDR_H */

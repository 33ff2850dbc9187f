/* SPDX-License-Identifier: LGPL-2.1-only */
/*
 * Network addresses: "HOST:PORT" and "[V6]:PORT", and the NBD endpoints
 * "tcp:HOST:PORT" and "unix:/PATH" (addr.h).
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "addr.h"
#include "internal.h"
#include "names.h"

static bool hex_digit(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ||
           (c >= 'A' && c <= 'F');
}

/* PORT: 1 to 5 digits, 1 to 65535; its value, or 0. */
static unsigned int port_value(const char *s)
{
    unsigned int v = 0;
    size_t i;

    for (i = 0; s[i]; i++) {
        if (i == 5 || s[i] < '0' || s[i] > '9')
            return 0;
        v = v * 10 + (unsigned int)(s[i] - '0');
    }
    return v <= 65535 ? v : 0;
}

/*
 * The one splitter: @default_port 0 when the port must be given.  The
 * host is @hl bytes from @s (past a '['), the port @ptext (NULL: none
 * given, the default).
 */
static int split(const char *s, unsigned int default_port, char *host,
                 size_t hlen, char *port, size_t plen)
{
    const char *ptext = NULL, *colon;
    unsigned int p;
    size_t hl;
    int n;

    if (!s || !*s)
        return LIBXLMIG_ERR_INVALID_ARGUMENT;
    if (s[0] == '[') {
        const char *close = strchr(s, ']');

        if (!close)
            return LIBXLMIG_ERR_INVALID_ARGUMENT;
        if (close[1] == ':')
            ptext = close + 2;
        else if (close[1])
            return LIBXLMIG_ERR_INVALID_ARGUMENT;
        hl = (size_t)(close - s - 1);
        s++;
    } else {
        colon = strchr(s, ':');
        if (colon && strrchr(s, ':') == colon) {
            ptext = colon + 1;
            hl = (size_t)(colon - s);
        } else {
            /* "HOST", or a bare IPv6 address: no port of its own. */
            hl = strlen(s);
        }
    }
    if (ptext)
        p = port_value(ptext);
    else
        p = default_port <= 65535 ? default_port : 0;
    if (!p || !hl || hl >= hlen)
        return LIBXLMIG_ERR_INVALID_ARGUMENT;
    n = snprintf(port, plen, "%u", p);
    if (n < 0 || (size_t)n >= plen)
        return LIBXLMIG_ERR_INVALID_ARGUMENT;
    memcpy(host, s, hl);
    host[hl] = '\0';
    return 0;
}

int xlmig__split_hostport(const char *s, char *host, size_t hlen,
                          char *port, size_t plen)
{
    return split(s, 0, host, hlen, port, plen);
}

int xlmig__split_hostport_dflt(const char *s, unsigned int default_port,
                               char *host, size_t hlen, char *port,
                               size_t plen)
{
    if (!default_port)
        return LIBXLMIG_ERR_INVALID_ARGUMENT;
    return split(s, default_port, host, hlen, port, plen);
}

int xlmig__split_tcp(const char *s, char *host, size_t hlen, char *port,
                     size_t plen)
{
    if (!s || strncmp(s, "tcp:", 4))
        return LIBXLMIG_ERR_INVALID_ARGUMENT;
    return split(s + 4, 0, host, hlen, port, plen);
}

int xlmig__endpoint_split(const char *s, char *host, size_t hlen, char *port,
                          size_t plen, const char **path_r)
{
    struct sockaddr_un sun;
    const char *p;
    char why[8];
    size_t at, i;

    *path_r = NULL;
    if (!s || !hlen || !plen)
        return LIBXLMIG_ERR_INVALID_ARGUMENT;
    if (!strncmp(s, "unix:", 5)) {
        p = s + 5;
        if (p[0] != '/' || strlen(p) >= sizeof(sun.sun_path))
            return LIBXLMIG_ERR_INVALID_ARGUMENT;
        for (i = 0; p[i]; i++) {
            if ((unsigned char)p[i] < 0x21 || (unsigned char)p[i] > 0x7e)
                return LIBXLMIG_ERR_INVALID_ARGUMENT;
        }
        host[0] = '\0';
        port[0] = '\0';
        *path_r = p;
        return 0;
    }
    if (strncmp(s, "tcp:", 4) || !xlmig__hostport_ok(s + 4, why, sizeof(why),
                                                     &at))
        return LIBXLMIG_ERR_INVALID_ARGUMENT;
    /* The port as the daemons and URIs will write it: no leading zero. */
    p = strrchr(s, ':');
    if (p[1] == '0')
        return LIBXLMIG_ERR_INVALID_ARGUMENT;
    return xlmig__split_tcp(s, host, hlen, port, plen);
}

void xlmig__join_hostport(const char *host, const char *port, char *buf,
                          size_t len)
{
    snprintf(buf, len, strchr(host, ':') ? "[%s]:%s" : "%s:%s", host, port);
}

bool xlmig__sockaddr_label(const struct sockaddr *sa, char *buf, size_t len)
{
    char host[INET6_ADDRSTRLEN] = "?", port[8];

    if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *a = (const void *)sa;

        inet_ntop(AF_INET6, &a->sin6_addr, host, sizeof(host));
        snprintf(port, sizeof(port), "%u", ntohs(a->sin6_port));
    } else if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *a = (const void *)sa;

        inet_ntop(AF_INET, &a->sin_addr, host, sizeof(host));
        snprintf(port, sizeof(port), "%u", ntohs(a->sin_port));
    } else {
        return false;
    }
    xlmig__join_hostport(host, port, buf, len);
    return true;
}

bool xlmig__hostport_ok(const char *s, char *why, size_t len, size_t *at_r)
{
    const char *colon;
    size_t n, hlen, i, plen;
    unsigned long port = 0;

    if (!xlmig__text_len_ok(s, XLMIG__HOSTPORT_MAX, &n, why, len, at_r))
        return false;
    colon = strrchr(s, ':');
    if (!colon) {
        snprintf(why, len, "it has no ':PORT'");
        return false;
    }
    hlen = (size_t)(colon - s);
    plen = n - hlen - 1;
    *at_r = hlen;
    if (plen == 0 || plen > 5) {
        snprintf(why, len, "the port is %s", plen ? "longer than 5 digits"
                                                 : "missing");
        return false;
    }
    for (i = 0; i < plen; i++) {
        if (colon[1 + i] < '0' || colon[1 + i] > '9') {
            snprintf(why, len, "byte %zu of the port is not a digit", i);
            *at_r = hlen + 1 + i;
            return false;
        }
        port = port * 10 + (unsigned long)(colon[1 + i] - '0');
    }
    if (port < 1 || port > 65535) {
        snprintf(why, len, "port %lu is not from 1 to 65535", port);
        return false;
    }
    if (hlen == 0) {
        snprintf(why, len, "the host is missing");
        return false;
    }
    if (s[0] == '[') {
        if (hlen < 3 || s[hlen - 1] != ']') {
            snprintf(why, len, "an IPv6 address in brackets is not closed "
                     "by ']' before the port");
            return false;
        }
        for (i = 1; i < hlen - 1; i++) {
            if (!hex_digit(s[i]) && s[i] != ':' && s[i] != '.') {
                snprintf(why, len, "byte %zu is not part of an IPv6 "
                         "address", i);
                *at_r = i;
                return false;
            }
        }
        return true;
    }
    if (s[0] == '.' || s[0] == '-') {
        snprintf(why, len, "the host starts with '%c'", s[0]);
        return false;
    }
    for (i = 0; i < hlen; i++) {
        if (!xlmig__name_byte_ok(s[i])) {
            snprintf(why, len, "byte %zu is not a letter, digit, '.', '_' "
                     "or '-'%s", i, s[i] == ':' ? " (IPv6 addresses go in "
                                                  "brackets)" : "");
            *at_r = i;
            return false;
        }
    }
    return true;
}

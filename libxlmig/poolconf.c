/* SPDX-License-Identifier: LGPL-2.1-only */
/* The pool configuration file and the client connection to a pool peer. */
#include <errno.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "conffile.h"
#include "internal.h"
#include "jsonfile.h"
#include "poolconf.h"
#include "poolstate.h"
#include "sxm.h"
#include "uuid.h"

enum pool_key {
    K_NAME, K_ADDRESS, K_POOL_NAME, K_POOL_UUID, K_MASTER, K_TLS_CERT,
    K_TLS_KEY, K_TLS_CA, K_PSK_FILE, K_STATE_DIR, K_ORPHAN_GRACE,
    K_TEST_VERSION_FILE, K_COUNT
};

static const char *const pool_keys[K_COUNT] = {
    [K_NAME] = "name",
    [K_ADDRESS] = "address",
    [K_POOL_NAME] = "pool-name",
    [K_POOL_UUID] = "pool-uuid",
    [K_MASTER] = "master",
    [K_TLS_CERT] = "tls-cert",
    [K_TLS_KEY] = "tls-key",
    [K_TLS_CA] = "tls-ca",
    [K_PSK_FILE] = "psk-file",
    [K_STATE_DIR] = "state-dir",
    [K_ORPHAN_GRACE] = "orphan-grace",
    [K_TEST_VERSION_FILE] = "test-version-file",
};

/* The field of a key that holds a path (NULL for the others). */
static char *path_field(struct xlmig__pool_conf *c, size_t key)
{
    switch (key) {
    case K_TLS_CERT: return c->tls_cert;
    case K_TLS_KEY: return c->tls_key;
    case K_TLS_CA: return c->tls_ca;
    case K_PSK_FILE: return c->psk_file;
    case K_STATE_DIR: return c->state_dir;
    case K_TEST_VERSION_FILE: return c->test_version_file;
    default: return NULL;
    }
}

/* Take @v as the value of pool_keys[@key] (conffile.h's take). */
static int pool_take(void *opaque, size_t key, const char *v, char *why,
                     size_t why_len)
{
    struct xlmig__pool_conf *c = opaque;
    const char *k = pool_keys[key];
    char host[256], port[16], wwhy[128];
    size_t at;

    /* Every field holds 255 bytes; the shorter ones are checked below. */
    if (strlen(v) > 255) {
        snprintf(why, why_len, "%s: the value is longer than 255 bytes", k);
        return LIBXLMIG_ERR_INVALID_ARGUMENT;
    }
    switch (key) {
    case K_NAME:
    case K_POOL_NAME:
        if (!xlmig__word_ok(v, XLMIG__POOL_NAME_MAX, true, wwhy,
                            sizeof(wwhy), &at)) {
            snprintf(why, why_len, "%s '%.64s' is not a name (1 to %d of "
                     "A-Z a-z 0-9 . _ -, not starting with . or -): %s", k,
                     v, XLMIG__POOL_NAME_MAX, wwhy);
            return LIBXLMIG_ERR_INVALID_ARGUMENT;
        }
        xlmig__strlcpy(key == K_NAME ? c->name : c->pool_name, v,
                       sizeof(c->name));
        return 0;
    case K_ADDRESS:
    case K_MASTER:
        if (xlmig__split_hostport(v, host, sizeof(host), port,
                                  sizeof(port))) {
            snprintf(why, why_len, "%s '%.64s' is not HOST:PORT", k, v);
            return LIBXLMIG_ERR_INVALID_ARGUMENT;
        }
        xlmig__strlcpy(key == K_ADDRESS ? c->address : c->master, v,
                       sizeof(c->address));
        return 0;
    case K_POOL_UUID:
        if (!xlmig__uuid_ok_any_case(v)) {
            snprintf(why, why_len, "pool-uuid '%.64s' is not a uuid (36 "
                     "characters: 8-4-4-4-12 hexadecimal digits)", v);
            return LIBXLMIG_ERR_INVALID_ARGUMENT;
        }
        xlmig__strlcpy(c->pool_uuid, v, sizeof(c->pool_uuid));
        return 0;
    case K_ORPHAN_GRACE: {
        unsigned long g;
        char *end;

        errno = 0;
        g = strtoul(v, &end, 10);
        if (errno || *end || end == v || v[0] < '0' || v[0] > '9' ||
            g > 3600) {
            snprintf(why, why_len, "orphan-grace '%.64s': expected 0 to "
                     "3600 seconds", v);
            return LIBXLMIG_ERR_INVALID_ARGUMENT;
        }
        c->orphan_grace = (unsigned)g;
        return 0;
    }
    default:
        if (v[0] != '/') {
            snprintf(why, why_len, "%s '%.64s' is not an absolute path", k,
                     v);
            return LIBXLMIG_ERR_INVALID_ARGUMENT;
        }
        xlmig__strlcpy(path_field(c, key), v, sizeof(c->tls_cert));
        return 0;
    }
}

static const struct xlmig__conf_spec pool_spec = {
    .keys = pool_keys,
    .nkeys = K_COUNT,
    .take = pool_take,
};

/*
 * A bad configuration: INVALID_VALUE "LABEL:LINE: WHY" (or "LABEL: WHY"
 * for line 0), logged when there is a context.
 */
static int conf_error(libxlmig_ctx *ctx, const char *label, unsigned line,
                      const char *why)
{
    if (!ctx)
        return LIBXLMIG_ERR_INVALID_ARGUMENT;
    if (line)
        return xlmig__error(ctx, LIBXLMIG_ERR_INVALID_ARGUMENT, -1,
                            "%s:%u: %s", label, line, why);
    return xlmig__error(ctx, LIBXLMIG_ERR_INVALID_ARGUMENT, -1, "%s: %s",
                        label, why);
}

int xlmig__pool_conf_parse(libxlmig_ctx *ctx, const char *label,
                           const char *text, size_t len,
                           struct xlmig__pool_conf *c)
{
    static const struct {
        enum pool_key key;
        const char *what;
    } required[] = {
        { K_ADDRESS, "where this host's xlmigd listens, HOST:PORT" },
        { K_MASTER, "the pool master's address, HOST:PORT" },
        { K_POOL_UUID, "the pool's uuid" },
    };
    unsigned lines[K_COUNT], line;
    struct xlmig__pool_conf n;
    char why[512];
    size_t i, at;
    int rc;

    memset(&n, 0, sizeof(n));
    xlmig__strlcpy(n.path, label, sizeof(n.path));
    xlmig__strlcpy(n.state_dir, "/var/lib/xlmig", sizeof(n.state_dir));
    n.orphan_grace = 30;
    rc = xlmig__conf_parse(&pool_spec, &n, text, len, lines, &line, why,
                           sizeof(why));
    if (rc)
        return conf_error(ctx, label, line, why);

    for (i = 0; i < sizeof(required) / sizeof(required[0]); i++) {
        if (!lines[required[i].key]) {
            snprintf(why, sizeof(why), "'%s' is missing (%s); every "
                     "configuration needs address, master and pool-uuid",
                     pool_keys[required[i].key], required[i].what);
            return conf_error(ctx, label, 0, why);
        }
    }
    if (lines[K_PSK_FILE]) {
        for (i = K_TLS_CERT; i <= K_TLS_CA; i++) {
            if (lines[i]) {
                snprintf(why, sizeof(why), "'%s' and psk-file (line %u): "
                         "give the pool's pre-shared key or its "
                         "certificates, not both", pool_keys[i],
                         lines[K_PSK_FILE]);
                return conf_error(ctx, label, lines[i], why);
            }
        }
    } else {
        for (i = K_TLS_CERT; i <= K_TLS_CA; i++) {
            if (!lines[i]) {
                snprintf(why, sizeof(why), "'%s' is missing: a pool's "
                         "hosts authenticate with tls-cert, tls-key and "
                         "tls-ca (the pool CA's certificates), or with "
                         "psk-file (a pre-shared key)", pool_keys[i]);
                return conf_error(ctx, label, 0, why);
            }
        }
    }
    if (!lines[K_NAME]) {
        /* The default: this host's name, when it is a usable one. */
        char host[256];

        if (gethostname(host, sizeof(host)) < 0)
            host[0] = '\0';
        host[sizeof(host) - 1] = '\0';
        if (!xlmig__word_ok(host, XLMIG__POOL_NAME_MAX, true, why,
                            sizeof(why), &at))
            return conf_error(ctx, label, 0, "no 'name', and the hostname "
                              "is not a usable name (1 to 64 of A-Z a-z "
                              "0-9 . _ -): give one");
        xlmig__strlcpy(n.name, host, sizeof(n.name));
    }
    *c = n;
    return 0;
}

/* The pool configuration's file: read whole, capped before allocating. */
static const struct xlmig__json_kind conf_file_kind = {
    .what = "pool configuration",
    .a_what = "a configuration",
    .invalid_rc = LIBXLMIG_ERR_INVALID_ARGUMENT,
    .max_bytes = XLMIG__CONF_FILE_MAX,
};

int xlmig__pool_conf_load(libxlmig_ctx *ctx, const char *path,
                          struct xlmig__pool_conf *c)
{
    char *text = NULL;
    size_t len = 0;
    int rc;

    path = xlmig__pool_conf_path(path);
    rc = xlmig__file_read(ctx, &conf_file_kind, path, &text, &len);
    if (rc == LIBXLMIG_ERR_NOT_FOUND)
        return xlmig__error(ctx, LIBXLMIG_ERR_NOT_FOUND, ENOENT,
                            "cannot read the pool configuration %s", path);
    if (!rc)
        rc = xlmig__pool_conf_parse(ctx, path, text, len, c);
    free(text);
    return rc;
}

const char *xlmig__pool_conf_path(const char *path)
{
    if (!path || !*path)
        path = getenv("XLMIG_CONFIG");
    if (!path || !*path)
        path = XLMIG__POOLCONF_DEFAULT;
    return path;
}

bool xlmig__pool_conf_is_master(const struct xlmig__pool_conf *c)
{
    return !strcmp(c->address, c->master);
}

void xlmig__pool_conf_tls(const struct xlmig__pool_conf *c,
                          libxlmig_tls_params *p, const char *peer_label)
{
    memset(p, 0, sizeof(*p));
    if (c->psk_file[0]) {
        p->psk_file = c->psk_file;
    } else {
        p->cert_file = c->tls_cert;
        p->key_file = c->tls_key;
        p->ca_file = c->tls_ca;
    }
    p->peer_label = peer_label;
    p->timeout_ms = 10000;
}

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

/* As xlmig__pool_connect(); *fd_r the socket under the TLS. */
static int pool_connect_fd(libxlmig_ctx *ctx,
                           const struct xlmig__pool_conf *c,
                           const char *address, libxlmig_transport **t_r,
                           int *fd_r)
{
    char host[256], port[16];
    libxlmig_tls_params tp;
    int fd = -1, r;

    if (xlmig__split_hostport(address, host, sizeof(host), port,
                              sizeof(port)))
        return xlmig__error(ctx, LIBXLMIG_ERR_INVALID_ARGUMENT, -1,
                            "'%s' is not HOST:PORT", address);
    fd = xlmig__tcp_connect(host, port, &r);
    if (fd < 0)
        return xlmig__error(ctx, LIBXLMIG_ERR_CANNOT_CONTACT_HOST,
                            r ? -1 : errno, "cannot reach xlmigd at %s%s%s; "
                            "is it running there, and does the network let "
                            "port %s through?", address, r ? ": " : "",
                            r ? gai_strerror(r) : "", port);
    xlmig__socket_keepalive(fd);
    xlmig__pool_conf_tls(c, &tp, address);
    *fd_r = fd;
    return libxlmig_transport_tls_new(ctx, fd, false, &tp, t_r);
}

int xlmig__pool_connect(libxlmig_ctx *ctx, const struct xlmig__pool_conf *c,
                        const char *address, libxlmig_transport **t_r)
{
    int fd;

    return pool_connect_fd(ctx, c, address, t_r, &fd);
}

int xlmig__pool_call(libxlmig_ctx *ctx, libxlmig_transport *t,
                     const char *peer, uint64_t id, const char *method,
                     const char *const *kv, xlmig__rpc_event_fn *on_event,
                     void *opaque, struct xlmig__rpc_msg *resp)
{
    yajl_gen g = xlmig__rpc_gen_request(id, method);
    char *json = NULL;
    size_t len = 0, i;
    int rc;

    if (!g)
        return LIBXLMIG_ERR_NO_MEMORY;
    for (i = 0; kv && kv[i] && kv[i + 1]; i += 2) {
        const char *k = kv[i], *v = kv[i + 1];

        yajl_gen_string(g, (const unsigned char *)k, strlen(k));
        /* "key=" with '#': an unsigned number; '?': a boolean. */
        if (v[0] == '#' && v[1]) {
            yajl_gen_number(g, v + 1, strlen(v + 1));
        } else if (v[0] == '?') {
            yajl_gen_bool(g, !strcmp(v + 1, "true"));
        } else {
            yajl_gen_string(g, (const unsigned char *)v, strlen(v));
        }
    }
    rc = xlmig__rpc_gen_finish(g, &json, &len);
    if (rc)
        return xlmig__error(ctx, rc, -1, "%s: cannot encode the request",
                            method);
    memset(resp, 0, sizeof(*resp));
    rc = xlmig__rpc_call(ctx, t, peer, json, len, id, on_event, opaque, resp);
    free(json);
    return rc;
}

int xlmig__pool_open(libxlmig_ctx *ctx, const struct xlmig__pool_conf *c,
                     const char *address, libxlmig_transport **t_r)
{
    int fd;

    return xlmig__pool_open_fd(ctx, c, address, t_r, &fd);
}

int xlmig__pool_open_fd(libxlmig_ctx *ctx, const struct xlmig__pool_conf *c,
                        const char *address, libxlmig_transport **t_r,
                        int *fd_r)
{
    const char *kv[] = { "pool_uuid", c->pool_uuid, NULL };
    struct xlmig__rpc_msg resp;
    libxlmig_transport *t = NULL;
    int rc;

    if (!address)
        address = c->master;
    rc = pool_connect_fd(ctx, c, address, &t, fd_r);
    if (rc)
        return rc;
    rc = xlmig__pool_call(ctx, t, address, 1, "hello", kv, NULL, NULL, &resp);
    xlmig__rpc_msg_dispose(&resp);
    if (rc) {
        libxlmig_transport_free(t);
        return rc;
    }
    *t_r = t;
    return 0;
}

/* ------------------------------------------------------------------ */
/* TLS material for NBD (QEMU and libnbd)                             */
/* ------------------------------------------------------------------ */

/* Make @link point at @target (made absolute), replacing it at once. */
static int link_replace(libxlmig_ctx *ctx, const char *target,
                        const char *dir, const char *name)
{
    char full[PATH_MAX], link[PATH_MAX], tmp[PATH_MAX + 32];

    if (!realpath(target, full))
        return xlmig__error(ctx, LIBXLMIG_ERR_INVALID_ARGUMENT, errno,
                            "the pool's TLS file %s", target);
    if ((size_t)snprintf(link, sizeof(link), "%s/%s", dir, name) >=
        sizeof(link))
        return xlmig__error(ctx, LIBXLMIG_ERR_INVALID_ARGUMENT, -1,
                            "%s: path too long", dir);
    snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", link, (long)getpid());
    (void)unlink(tmp);
    if (symlink(full, tmp) || rename(tmp, link)) {
        int e = errno;

        (void)unlink(tmp);
        return xlmig__error(ctx, LIBXLMIG_ERR_IO, e, "cannot link %s to %s",
                            link, full);
    }
    return 0;
}

int xlmig__pool_nbd_tls_dir(libxlmig_ctx *ctx,
                            const struct xlmig__pool_conf *c, char *dir,
                            size_t cap)
{
    static const char *const x509[] = {     /* CA, then cert, key */
        "ca-cert.pem", "server-cert.pem", "server-key.pem",
        "client-cert.pem", "client-key.pem",
    };
    char path[PATH_MAX];
    size_t i;
    int rc;

    if ((size_t)snprintf(dir, cap, "%s/nbd-tls", c->state_dir) >= cap ||
        strlen(dir) + 32 >= sizeof(path))
        return xlmig__error(ctx, LIBXLMIG_ERR_INVALID_ARGUMENT, -1,
                            "state directory %s: path too long",
                            c->state_dir);
    if ((mkdir(c->state_dir, 0700) && errno != EEXIST) ||
        (mkdir(dir, 0700) && errno != EEXIST))
        return xlmig__error(ctx, LIBXLMIG_ERR_IO, errno, "cannot make %s",
                            dir);
    snprintf(path, sizeof(path), "%s/keys.psk", dir);
    if (c->psk_file[0]) {
        uint8_t key[XLMIG__TLS_PSK_MAX];
        char text[sizeof(XLMIG__SXM_PSK_USER) + 2 * XLMIG__TLS_PSK_MAX + 2];
        size_t len = 0, n;

        rc = xlmig__tls_psk_load(ctx, c->psk_file, key, &len);
        if (rc)
            return rc;
        n = (size_t)snprintf(text, sizeof(text), "%s:", XLMIG__SXM_PSK_USER);
        for (i = 0; i < len; i++)
            n += (size_t)snprintf(text + n, sizeof(text) - n, "%02x", key[i]);
        text[n++] = '\n';
        rc = xlmig__file_write(ctx, dir, path, text, n);
        explicit_bzero(key, sizeof(key));
        explicit_bzero(text, sizeof(text));
        for (i = 0; i < sizeof(x509) / sizeof(x509[0]); i++) {
            snprintf(path, sizeof(path), "%s/%s", dir, x509[i]);
            (void)unlink(path);
        }
        return rc;
    }
    if (unlink(path) && errno != ENOENT)
        return xlmig__error(ctx, LIBXLMIG_ERR_IO, errno, "cannot remove %s",
                            path);
    for (i = 0, rc = 0; !rc && i < sizeof(x509) / sizeof(x509[0]); i++)
        rc = link_replace(ctx, i == 0 ? c->tls_ca : i % 2 ? c->tls_cert
                                                          : c->tls_key,
                          dir, x509[i]);
    return rc;
}

int xlmig__pool_call_once(libxlmig_ctx *ctx, const struct xlmig__pool_conf *c,
                          const char *address, const char *method,
                          const char *const *kv, struct xlmig__rpc_msg *resp)
{
    libxlmig_transport *t = NULL;
    int rc;

    memset(resp, 0, sizeof(*resp));
    rc = xlmig__pool_open(ctx, c, address, &t);
    if (!rc)
        rc = xlmig__pool_call(ctx, t, address ? address : c->master, 2,
                              method, kv, NULL, NULL, resp);
    libxlmig_transport_free(t);
    return rc;
}

int xlmig__pool_hosts(libxlmig_ctx *ctx, const struct xlmig__pool_conf *c,
                      struct xlmig__pool_hosts *hs)
{
    struct xlmig__rpc_msg resp;
    yajl_val a;
    size_t i;
    int rc = xlmig__pool_call_once(ctx, c, NULL, "host.list", NULL, &resp);

    hs->n = 0;
    a = rc ? NULL : resp.result;
    for (i = 0; YAJL_IS_ARRAY(a) && i < a->u.array.len &&
                hs->n < XLMIG__POOL_HOSTS_MAX; i++) {
        const char *nm = xlmig__rpc_get_str(a->u.array.values[i], "name");
        const char *ad = xlmig__rpc_get_str(a->u.array.values[i], "address");

        if (!nm || !ad || strlen(nm) >= sizeof(hs->h[0].name) ||
            strlen(ad) >= sizeof(hs->h[0].address))
            continue;
        xlmig__strlcpy(hs->h[hs->n].name, nm, sizeof(hs->h[0].name));
        xlmig__strlcpy(hs->h[hs->n].address, ad, sizeof(hs->h[0].address));
        hs->h[hs->n].enabled = true;
        (void)xlmig__rpc_get_bool(a->u.array.values[i], "enabled",
                                  &hs->h[hs->n].enabled);
        hs->h[hs->n].master = false;
        (void)xlmig__rpc_get_bool(a->u.array.values[i], "master",
                                  &hs->h[hs->n].master);
        hs->n++;
    }
    xlmig__rpc_msg_dispose(&resp);
    return rc;
}

const struct xlmig__pool_host *xlmig__pool_hosts_find(
    const struct xlmig__pool_hosts *hs, const char *name)
{
    size_t i;

    for (i = 0; i < hs->n; i++) {
        if (!strcmp(hs->h[i].name, name))
            return &hs->h[i];
    }
    return NULL;
}

const char *xlmig__pool_hosts_address(const struct xlmig__pool_hosts *hs,
                                      const char *name)
{
    const struct xlmig__pool_host *h = xlmig__pool_hosts_find(hs, name);

    return h ? h->address : NULL;
}

int xlmig__pool_host_address(libxlmig_ctx *ctx,
                             const struct xlmig__pool_conf *c,
                             const char *name, char *addr, size_t cap)
{
    struct xlmig__pool_hosts *hs;
    const char *a;
    int rc;

    if (!strcmp(name, c->name)) {
        xlmig__strlcpy(addr, c->address, cap);
        return 0;
    }
    hs = malloc(sizeof(*hs));
    if (!hs)
        return xlmig__error(ctx, LIBXLMIG_ERR_NO_MEMORY, -1, "no memory "
                            "for the pool's hosts");
    rc = xlmig__pool_hosts(ctx, c, hs);
    a = rc ? NULL : xlmig__pool_hosts_address(hs, name);
    if (!rc && !a)
        rc = xlmig__error(ctx, LIBXLMIG_ERR_NOT_FOUND, -1, "no host %s in "
                          "pool %s (see 'xlmig-xe host-list')", name,
                          c->pool_name);
    else if (!rc && strlen(a) >= cap)
        rc = xlmig__error(ctx, LIBXLMIG_ERR_PROTOCOL, -1, "host %s: its "
                          "address is too long", name);
    else if (!rc)
        xlmig__strlcpy(addr, a, cap);
    free(hs);
    return rc;
}

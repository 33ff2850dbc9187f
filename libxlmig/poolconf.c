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

#include "internal.h"
#include "jsonfile.h"
#include "poolconf.h"
#include "sxm.h"
#include "uuid.h"

#define LINE_MAX_BYTES 1024
#define FILE_MAX_BYTES (64u << 10)

static bool name_ok(const char *s)
{
    size_t n = strlen(s);

    return n >= 1 && n <= 64 && s[0] != '.' && s[0] != '-' &&
           strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                     "0123456789._-") == n;
}

static char *trim(char *s)
{
    char *e;

    while (*s == ' ' || *s == '\t')
        s++;
    e = s + strlen(s);
    while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r' ||
                     e[-1] == '\n'))
        *--e = '\0';
    return s;
}

int xlmig__pool_conf_load(libxlmig_ctx *ctx, const char *path,
                          struct xlmig__pool_conf *c)
{
    struct xlmig__pool_conf n;
    char line[LINE_MAX_BYTES + 2], host[256], port[16];
    unsigned seen = 0, lineno = 0;
    struct stat st;
    FILE *f;
    int rc = 0;

    if (!path)
        path = getenv("XLMIG_CONFIG");
    if (!path || !*path)
        path = XLMIG__POOLCONF_DEFAULT;
    memset(&n, 0, sizeof(n));
    xlmig__strlcpy(n.path, path, sizeof(n.path));
    xlmig__strlcpy(n.state_dir, "/var/lib/xlmig", sizeof(n.state_dir));
    n.orphan_grace = 30;
    if (gethostname(n.name, sizeof(n.name)) < 0 || !name_ok(n.name))
        n.name[0] = '\0';
    n.name[sizeof(n.name) - 1] = '\0';

    f = fopen(path, "r");
    if (!f)
        return xlmig__error(ctx, LIBXLMIG_ERR_NOT_FOUND, errno,
                            "cannot read the pool configuration %s", path);
    if (fstat(fileno(f), &st) < 0 || !S_ISREG(st.st_mode) ||
        st.st_size > (off_t)FILE_MAX_BYTES) {
        fclose(f);
        return xlmig__error(ctx, LIBXLMIG_ERR_INVALID_ARGUMENT, -1,
                            "%s: not a regular file of at most %u bytes",
                            path, FILE_MAX_BYTES);
    }
#define BAD(...) do { rc = xlmig__error(ctx, LIBXLMIG_ERR_INVALID_ARGUMENT, \
                      -1, __VA_ARGS__); goto out; } while (0)
    while (fgets(line, sizeof(line), f)) {
        static const char *const keys[] = {
            "name", "address", "pool-name", "pool-uuid", "master",
            "tls-cert", "tls-key", "tls-ca", "psk-file", "state-dir",
            "orphan-grace", "test-version-file",
        };
        char *k, *v, *eq;
        unsigned i;

        lineno++;
        if (!strchr(line, '\n') && !feof(f))
            BAD("%s:%u: line longer than %u bytes", path, lineno,
                LINE_MAX_BYTES);
        k = trim(line);
        if (!*k || *k == '#')
            continue;
        eq = strchr(k, '=');
        if (!eq)
            BAD("%s:%u: expected 'key = value'", path, lineno);
        *eq = '\0';
        v = trim(eq + 1);
        k = trim(k);
        for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
            if (!strcmp(k, keys[i]))
                break;
        }
        if (i == sizeof(keys) / sizeof(keys[0]))
            BAD("%s:%u: unknown key '%.64s'", path, lineno, k);
        if (seen & (1u << i))
            BAD("%s:%u: '%s' is given twice", path, lineno, k);
        seen |= 1u << i;
        if (strlen(v) >= 256)
            BAD("%s:%u: the value of '%s' is too long", path, lineno, k);
        switch (i) {
        case 0:
        case 2:
            if (!name_ok(v))
                BAD("%s:%u: %s '%.64s' is not a name (1 to 64 of "
                    "A-Z a-z 0-9 . _ -)", path, lineno, k, v);
            xlmig__strlcpy(i ? n.pool_name : n.name, v, 65);
            break;
        case 1:
        case 4:
            if (xlmig__split_hostport(v, host, sizeof(host), port,
                                      sizeof(port)))
                BAD("%s:%u: %s '%.64s' is not HOST:PORT", path, lineno, k,
                    v);
            xlmig__strlcpy(i == 1 ? n.address : n.master, v, 256);
            break;
        case 3:
            if (!xlmig__uuid_ok_any_case(v))
                BAD("%s:%u: pool-uuid '%.64s' is not a uuid", path, lineno,
                    v);
            xlmig__strlcpy(n.pool_uuid, v, sizeof(n.pool_uuid));
            break;
        case 5: xlmig__strlcpy(n.tls_cert, v, 256); break;
        case 6: xlmig__strlcpy(n.tls_key, v, 256); break;
        case 7: xlmig__strlcpy(n.tls_ca, v, 256); break;
        case 8: xlmig__strlcpy(n.psk_file, v, 256); break;
        case 9: xlmig__strlcpy(n.state_dir, v, 256); break;
        case 11:
            if (v[0] != '/')
                BAD("%s:%u: test-version-file takes an absolute path",
                    path, lineno);
            xlmig__strlcpy(n.test_version_file, v, 256);
            break;
        default: {
            char *end;
            unsigned long g;

            errno = 0;
            g = strtoul(v, &end, 10);
            if (errno || *end || end == v || g > 3600)
                BAD("%s:%u: orphan-grace takes 0 to 3600 seconds", path,
                    lineno);
            n.orphan_grace = (unsigned)g;
        }
        }
    }
    if (!n.name[0])
        BAD("%s: no 'name' and the hostname is not a usable name", path);
    if (!n.address[0] || !n.master[0] || !n.pool_uuid[0])
        BAD("%s: needs address, master and pool-uuid", path);
    if (!n.psk_file[0] && !(n.tls_cert[0] && n.tls_key[0] && n.tls_ca[0]))
        BAD("%s: needs psk-file, or tls-cert, tls-key and tls-ca", path);
    if (n.psk_file[0] && n.tls_cert[0])
        BAD("%s: give psk-file or the certificates, not both", path);
#undef BAD
    *c = n;
 out:
    fclose(f);
    return rc;
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

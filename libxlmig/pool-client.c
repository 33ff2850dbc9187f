/* SPDX-License-Identifier: LGPL-2.1-only */
/*
 * The client of a pool's xlmigd: connect with the pool's TLS, one call,
 * the host list; and the pool's TLS material as NBD reads it.
 */
#include <errno.h>
#include <limits.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"
#include "jsonfile.h"
#include "net.h"
#include "pool-client.h"
#include "poolconf.h"
#include "sxm.h"
#include "transport.h"

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

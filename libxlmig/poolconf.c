/* SPDX-License-Identifier: LGPL-2.1-only */
/* The pool configuration file: its keys, their checks, its TLS. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conffile.h"
#include "internal.h"
#include "jsonfile.h"
#include "poolconf.h"
#include "poolstate.h"
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
        if (!xlmig__uuid_valid(v, XLMIG__UUID_ANY_CASE)) {
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

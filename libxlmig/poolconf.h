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

/* TLS parameters from the configuration (pointers into @c). */
void xlmig__pool_conf_tls(const struct xlmig__pool_conf *c,
                          libxlmig_tls_params *p, const char *peer_label);

#endif /* XLMIG_POOLCONF_H */

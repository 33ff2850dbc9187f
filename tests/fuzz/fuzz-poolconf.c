/* SPDX-License-Identifier: LGPL-2.1-only */
/*
 * Fuzz target for the pool configuration (xlmig__pool_conf_parse() in
 * libxlmig/poolconf.c, on the grammar of libxlmig/conffile.c), which
 * xlmigd and every pool command read at start: any bytes, without a
 * context.  A refusal must be INVALID_VALUE and leave the configuration
 * as it was; what is taken must hold what a configuration needs (every
 * field NUL-terminated, address, master, uuid, TLS material of one kind,
 * absolute paths, no control byte or '"' in a value), and written again
 * with every value quoted it must read back the same.
 *
 * Its seeds are made when it runs (seeds/fuzz-poolconf.sh): the
 * configurations of the docs and etc/xlmigd.conf, and some bad ones.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conffile.h"
#include "poolconf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* @s (a field of @cap bytes) is NUL-terminated and holds no control byte
 * and no '"'. */
static void check_text(const char *s, size_t cap)
{
    size_t n = strnlen(s, cap), i;

    if (n == cap)
        abort();
    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];

        if ((c < 0x20 && c != '\t') || c == 0x7f || c == '"')
            abort();
    }
}

static void check_path(const char *s, size_t cap)
{
    check_text(s, cap);
    if (s[0] && s[0] != '/')
        abort();
}

/* Append 'KEY = "VALUE"' to @buf when VALUE is not empty. */
static void put(char *buf, size_t cap, const char *key, const char *value)
{
    size_t n = strlen(buf);

    if (value[0])
        snprintf(buf + n, cap - n, "%s = \"%s\"\n", key, value);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct xlmig__pool_conf start;
    struct xlmig__pool_conf c, back;
    static char again[XLMIG__CONF_FILE_MAX];
    char grace[16];
    int rc;

    memset(&start, 0, sizeof(start));
    strcpy(start.name, "before");
    c = start;
    rc = xlmig__pool_conf_parse(NULL, "fuzz", (const char *)data, size, &c);
    if (rc) {
        if (rc != LIBXLMIG_ERR_INVALID_ARGUMENT ||
            memcmp(&c, &start, sizeof(c)))
            abort();
        return 0;
    }
    check_text(c.name, sizeof(c.name));
    check_text(c.address, sizeof(c.address));
    check_text(c.pool_name, sizeof(c.pool_name));
    check_text(c.pool_uuid, sizeof(c.pool_uuid));
    check_text(c.master, sizeof(c.master));
    check_path(c.tls_cert, sizeof(c.tls_cert));
    check_path(c.tls_key, sizeof(c.tls_key));
    check_path(c.tls_ca, sizeof(c.tls_ca));
    check_path(c.psk_file, sizeof(c.psk_file));
    check_path(c.state_dir, sizeof(c.state_dir));
    check_path(c.test_version_file, sizeof(c.test_version_file));
    if (!c.name[0] || !c.address[0] || !c.master[0] ||
        strlen(c.pool_uuid) != 36 || !c.state_dir[0] ||
        c.orphan_grace > 3600 || strcmp(c.path, "fuzz"))
        abort();
    if (c.psk_file[0] ? c.tls_cert[0] || c.tls_key[0] || c.tls_ca[0]
                      : !c.tls_cert[0] || !c.tls_key[0] || !c.tls_ca[0])
        abort();

    again[0] = '\0';
    put(again, sizeof(again), "name", c.name);
    put(again, sizeof(again), "address", c.address);
    put(again, sizeof(again), "master", c.master);
    put(again, sizeof(again), "pool-name", c.pool_name);
    put(again, sizeof(again), "pool-uuid", c.pool_uuid);
    put(again, sizeof(again), "tls-cert", c.tls_cert);
    put(again, sizeof(again), "tls-key", c.tls_key);
    put(again, sizeof(again), "tls-ca", c.tls_ca);
    put(again, sizeof(again), "psk-file", c.psk_file);
    put(again, sizeof(again), "state-dir", c.state_dir);
    snprintf(grace, sizeof(grace), "%u", c.orphan_grace);
    put(again, sizeof(again), "orphan-grace", grace);
    put(again, sizeof(again), "test-version-file", c.test_version_file);
    memset(&back, 0, sizeof(back));
    if (xlmig__pool_conf_parse(NULL, "fuzz", again, strlen(again), &back) ||
        memcmp(&c, &back, sizeof(c)))
        abort();
    return 0;
}

/* SPDX-License-Identifier: LGPL-2.1-only */
/*
 * The pool configuration (libxlmig/poolconf.c, on conffile.c's grammar):
 * what a file gives, the defaults, every key's check, the rules between
 * keys, and the words of each refusal: INVALID_VALUE naming the file,
 * the line and the key, the configuration left as it was.
 */
#include <stdlib.h>
#include <unistd.h>

#include "conffile.h"
#include "poolconf.h"
#include "testctx.h"
#include "testutil.h"

#define UUID "6f3c1a2e-4b5d-4e8f-9a0b-1c2d3e4f5a6b"

/* A complete configuration: lines 1 to 8. */
#define BASE                                                               \
    "name = h2                # this host\n"                               \
    "address = 10.0.0.2:7700\n"                                            \
    "master = 10.0.0.1:7700   # the pool master\n"                         \
    "pool-name = \"prod\"\n"                                               \
    "pool-uuid = " UUID "\n"                                               \
    "tls-cert = /etc/xlmig/tls/cert.pem\n"                                 \
    "tls-key = /etc/xlmig/tls/key.pem\n"                                   \
    "tls-ca = \"/etc/xlmig/tls #2/ca.pem\"   # quoted: holds '#'\n"

#define BASE_PSK                                                           \
    "name = h1\n"                                                          \
    "address = [::1]:7700\n"                                               \
    "master = [::1]:7700\n"                                                \
    "pool-uuid = " UUID "\n"                                               \
    "psk-file = /etc/xlmig/pool.psk\n"

static int parse(const char *text, struct xlmig__pool_conf *c)
{
    reset_log();
    return xlmig__pool_conf_parse(ctx, "/etc/xlmig/xlmigd.conf", text,
                                  strlen(text), c);
}

static void test_good(void **state)
{
    struct xlmig__pool_conf c;

    (void)state;
    assert_ok(parse(BASE "state-dir = /srv/xlmig\norphan-grace = 0\n"
                    "test-version-file = /run/v\n", &c));
    assert_string_equal(c.path, "/etc/xlmig/xlmigd.conf");
    assert_string_equal(c.name, "h2");
    assert_string_equal(c.address, "10.0.0.2:7700");
    assert_string_equal(c.master, "10.0.0.1:7700");
    assert_string_equal(c.pool_name, "prod");
    assert_string_equal(c.pool_uuid, UUID);
    assert_string_equal(c.tls_cert, "/etc/xlmig/tls/cert.pem");
    assert_string_equal(c.tls_key, "/etc/xlmig/tls/key.pem");
    assert_string_equal(c.tls_ca, "/etc/xlmig/tls #2/ca.pem");
    assert_string_equal(c.psk_file, "");
    assert_string_equal(c.state_dir, "/srv/xlmig");
    assert_int_equal(c.orphan_grace, 0);
    assert_string_equal(c.test_version_file, "/run/v");
    assert_false(xlmig__pool_conf_is_master(&c));
    assert_int_equal(cap.count, 0);

    /* The defaults; a PSK pool; the master. */
    assert_ok(parse(BASE_PSK, &c));
    assert_string_equal(c.state_dir, "/var/lib/xlmig");
    assert_int_equal(c.orphan_grace, 30);
    assert_string_equal(c.pool_name, "");
    assert_string_equal(c.test_version_file, "");
    assert_string_equal(c.psk_file, "/etc/xlmig/pool.psk");
    assert_string_equal(c.tls_cert, "");
    assert_true(xlmig__pool_conf_is_master(&c));
    assert_ok(parse(BASE "orphan-grace = 3600\n", &c));
    assert_int_equal(c.orphan_grace, 3600);
}

/* Without 'name': the hostname, when it is a name. */
static void test_default_name(void **state)
{
    struct xlmig__pool_conf c;
    char host[256];

    (void)state;
    if (gethostname(host, sizeof(host)) || strlen(host) > 64 ||
        strspn(host, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                     "0123456789._-") != strlen(host) ||
        host[0] == '.' || host[0] == '-')
        skip();
    assert_ok(parse(BASE_PSK + strlen("name = h1\n"), &c));
    assert_string_equal(c.name, host);
}

static void test_bad(void **state)
{
    static const struct {
        const char *text;
        const char *msg;            /* after "INVALID_VALUE: " */
    } bad[] = {
        /* Each key's check. */
        { "name = h 2\n" BASE, "xlmigd.conf:1: name 'h 2' is not a name" },
        { "name = .h\n", "xlmigd.conf:1: name '.h' is not a name" },
        { "name = "
          "h2345678901234567890123456789012345678901234567890123456789012345"
          "\n", "xlmigd.conf:1: name 'h2345" },
        { "pool-name = a/b\n", "xlmigd.conf:1: pool-name 'a/b' is not a "
          "name" },
        { "address = 10.0.0.2\n", "xlmigd.conf:1: address '10.0.0.2' is "
          "not HOST:PORT" },
        { "master = :7700\n", "xlmigd.conf:1: master ':7700' is not "
          "HOST:PORT" },
        { "pool-uuid = 6f3c1a2e-...\n", "xlmigd.conf:1: pool-uuid "
          "'6f3c1a2e-...' is not a uuid" },
        { "orphan-grace = 3601\n", "xlmigd.conf:1: orphan-grace '3601': "
          "expected 0 to 3600 seconds" },
        { "orphan-grace = -1\n", "xlmigd.conf:1: orphan-grace '-1'" },
        { "orphan-grace = +1\n", "xlmigd.conf:1: orphan-grace '+1'" },
        { "orphan-grace = 1s\n", "xlmigd.conf:1: orphan-grace '1s'" },
        { "state-dir = var/lib/xlmig\n", "xlmigd.conf:1: state-dir "
          "'var/lib/xlmig' is not an absolute path" },
        { "tls-cert = cert.pem\n", "xlmigd.conf:1: tls-cert 'cert.pem' is "
          "not an absolute path" },
        { "test-version-file = v\n", "xlmigd.conf:1: "
          "test-version-file 'v' is not an "
          "absolute path" },
        /* The grammar's, with this file's words. */
        { BASE "pool_uuid = " UUID "\n", "xlmigd.conf:9: unknown key "
          "'pool_uuid' (did you mean 'pool-uuid'?)" },
        { BASE "name = h3\n", "xlmigd.conf:9: 'name' is given twice "
          "(first on line 1)" },
        { "name = # this host\n" BASE, "xlmigd.conf:1: 'name' has no "
          "value" },
        /* What the file as a whole lacks. */
        { "", "xlmigd.conf: 'address' is missing" },
        { "address = 10.0.0.2:7700\npool-uuid = " UUID "\n",
          "xlmigd.conf: 'master' is missing (the pool master's address" },
        { "address = 10.0.0.2:7700\nmaster = 10.0.0.1:7700\n",
          "xlmigd.conf: 'pool-uuid' is missing" },
        { "address = a:1\nmaster = a:1\npool-uuid = " UUID "\n",
          "xlmigd.conf: 'tls-cert' is missing: a pool's hosts "
          "authenticate with tls-cert, tls-key and tls-ca" },
        { "address = a:1\nmaster = a:1\npool-uuid = " UUID "\n"
          "tls-cert = /c\ntls-ca = /a\n", "xlmigd.conf: 'tls-key' is "
          "missing" },
        { BASE "psk-file = /p\n", "xlmigd.conf:6: 'tls-cert' and psk-file "
          "(line 9): give the pool's pre-shared key or its certificates, "
          "not both" },
        { BASE_PSK "tls-ca = /a\n", "xlmigd.conf:6: 'tls-ca' and psk-file "
          "(line 5)" },
    };
    struct xlmig__pool_conf c, before;
    char expect[512];
    size_t i;

    (void)state;
    assert_ok(parse(BASE, &c));
    before = c;
    for (i = 0; i < ARRAY_LEN(bad); i++) {
        if (parse(bad[i].text, &c) != LIBXLMIG_ERR_INVALID_ARGUMENT)
            fail_msg("case %zu was taken", i);
        snprintf(expect, sizeof(expect), "INVALID_VALUE: /etc/xlmig/%s",
                 bad[i].msg);
        assert_contains(libxlmig_ctx_last_error(ctx), expect);
        assert_int_equal(cap.count, 1);     /* said once */
        assert_memory_equal(&c, &before, sizeof(c));
        /* Without a context: the same code, nothing said. */
        assert_int_equal(xlmig__pool_conf_parse(NULL, "x", bad[i].text,
                                                strlen(bad[i].text), &c),
                         LIBXLMIG_ERR_INVALID_ARGUMENT);
    }
}

/* The file: read whole when it fits the cap, refused before when not. */
static void test_load(void **state)
{
    char dir[] = "/tmp/test-poolconf.XXXXXX", path[64];
    struct xlmig__pool_conf c;
    FILE *f;
    size_t i;

    (void)state;
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/xlmigd.conf", dir);
    f = fopen(path, "w");
    assert_non_null(f);
    fputs(BASE, f);
    fclose(f);
    reset_log();
    assert_ok(xlmig__pool_conf_load(ctx, path, &c));
    assert_string_equal(c.path, path);
    assert_string_equal(c.name, "h2");

    /* $XLMIG_CONFIG when no path is given. */
    setenv("XLMIG_CONFIG", path, 1);
    assert_string_equal(xlmig__pool_conf_path(NULL), path);
    assert_string_equal(xlmig__pool_conf_path(""), path);
    assert_string_equal(xlmig__pool_conf_path("/x"), "/x");
    assert_ok(xlmig__pool_conf_load(ctx, NULL, &c));
    unsetenv("XLMIG_CONFIG");
    assert_string_equal(xlmig__pool_conf_path(NULL),
                        XLMIG__POOLCONF_DEFAULT);

    f = fopen(path, "a");
    assert_non_null(f);
    for (i = 0; i < XLMIG__CONF_FILE_MAX / 64; i++)
        fprintf(f, "#%62s\n", "");
    fclose(f);
    reset_log();
    assert_int_equal(xlmig__pool_conf_load(ctx, path, &c),
                     LIBXLMIG_ERR_INVALID_ARGUMENT);
    assert_contains(libxlmig_ctx_last_error(ctx), path);
    assert_contains(libxlmig_ctx_last_error(ctx), "more than the 65536");

    reset_log();
    assert_int_equal(xlmig__pool_conf_load(ctx, dir, &c),
                     LIBXLMIG_ERR_INVALID_ARGUMENT);
    assert_contains(libxlmig_ctx_last_error(ctx), "not a regular file");
    unlink(path);
    assert_int_equal(xlmig__pool_conf_load(ctx, path, &c),
                     LIBXLMIG_ERR_NOT_FOUND);
    assert_contains(libxlmig_ctx_last_error(ctx), "cannot read the pool "
                    "configuration");
    rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_good),
        cmocka_unit_test(test_default_name),
        cmocka_unit_test(test_bad),
        cmocka_unit_test(test_load),
    };

    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}

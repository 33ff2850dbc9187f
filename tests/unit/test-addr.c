/* SPDX-License-Identifier: LGPL-2.1-only */
/*
 * Network addresses (libxlmig/addr.c): HOST:PORT and [V6]:PORT split
 * with and without a default port, the "tcp:" form, the storage
 * motion's endpoints (tcp: and unix:), joined back, a socket address
 * named, and the pool's address rule; every accepted and refused form
 * in a table.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "addr.h"
#include "internal.h"
#include "testutil.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

struct split_case {
    const char *in;
    const char *host, *port;    /* NULL host: refused */
};

/* Forms both splitters read the same. */
static const struct split_case both[] = {
    { "h1:7700", "h1", "7700" },
    { "10.0.0.1:1", "10.0.0.1", "1" },
    { "host.example.com:65535", "host.example.com", "65535" },
    { "[2001:db8::1]:8022", "2001:db8::1", "8022" },
    { "[::1]:80", "::1", "80" },
    { "h:007", "h", "7" },              /* written back without zeros */
    { "", NULL, NULL },
    { ":7700", NULL, NULL },
    { "h:", NULL, NULL },
    { "h:0", NULL, NULL },
    { "h:65536", NULL, NULL },
    { "h:123456", NULL, NULL },
    { "h:80x", NULL, NULL },
    { "h:+80", NULL, NULL },
    { "h: 80", NULL, NULL },
    { "h:-1", NULL, NULL },
    { "[]:80", NULL, NULL },
    { "[::1]:", NULL, NULL },
    { "[::1]x", NULL, NULL },
    { "[::1", NULL, NULL },
    { "[::1]:80:90", NULL, NULL },
};

/* Forms only a default port makes good. */
static const struct split_case dflt_only[] = {
    { "h1", "h1", "8022" },
    { "192.0.2.7", "192.0.2.7", "8022" },
    { "[2001:db8::1]", "2001:db8::1", "8022" },
    { "2001:db8::1", "2001:db8::1", "8022" },   /* bare IPv6 */
    { "::1", "::1", "8022" },
};

static void check_split(const struct split_case *c, int rc,
                        const char *host, const char *port, const char *fn)
{
    if (!c->host) {
        if (rc != LIBXLMIG_ERR_INVALID_ARGUMENT)
            fail_msg("%s took \"%s\" (%s, %s)", fn, c->in, host, port);
        return;
    }
    if (rc)
        fail_msg("%s refused \"%s\"", fn, c->in);
    assert_string_equal(host, c->host);
    assert_string_equal(port, c->port);
}

static void test_split(void **state)
{
    char host[64], port[8];
    size_t i;
    int rc;

    (void)state;
    for (i = 0; i < ARRAY_LEN(both); i++) {
        rc = xlmig__split_hostport(both[i].in, host, sizeof(host), port,
                                   sizeof(port));
        check_split(&both[i], rc, host, port, "split_hostport");
        rc = xlmig__split_hostport_dflt(both[i].in, 8022, host,
                                        sizeof(host), port, sizeof(port));
        check_split(&both[i], rc, host, port, "split_hostport_dflt");
    }
    for (i = 0; i < ARRAY_LEN(dflt_only); i++) {
        rc = xlmig__split_hostport_dflt(dflt_only[i].in, 8022, host,
                                        sizeof(host), port, sizeof(port));
        check_split(&dflt_only[i], rc, host, port, "split_hostport_dflt");
        /* Without a default, a port must be given. */
        assert_int_equal(xlmig__split_hostport(dflt_only[i].in, host,
                                               sizeof(host), port,
                                               sizeof(port)),
                         LIBXLMIG_ERR_INVALID_ARGUMENT);
    }
    assert_int_equal(xlmig__split_hostport(NULL, host, sizeof(host), port,
                                           sizeof(port)),
                     LIBXLMIG_ERR_INVALID_ARGUMENT);
    assert_int_equal(xlmig__split_hostport_dflt("h", 0, host, sizeof(host),
                                                port, sizeof(port)),
                     LIBXLMIG_ERR_INVALID_ARGUMENT);
    /* What does not fit is refused, never cut. */
    assert_int_equal(xlmig__split_hostport("abcdefgh:80", host, 8, port,
                                           sizeof(port)),
                     LIBXLMIG_ERR_INVALID_ARGUMENT);
    assert_int_equal(xlmig__split_hostport("abcdefg:80", host, 8, port,
                                           sizeof(port)), 0);
    assert_int_equal(xlmig__split_hostport("h:12345", host, sizeof(host),
                                           port, 5),
                     LIBXLMIG_ERR_INVALID_ARGUMENT);
}

static void test_split_tcp(void **state)
{
    static const struct split_case cases[] = {
        { "tcp:127.0.0.1:7000", "127.0.0.1", "7000" },
        { "tcp:h2.example.com:1", "h2.example.com", "1" },
        { "tcp:[::1]:7000", "::1", "7000" },
        { "127.0.0.1:7000", NULL, NULL },
        { "tcp:127.0.0.1", NULL, NULL },
        { "tcp::7000", NULL, NULL },
        { "tcp:h:0", NULL, NULL },
        { "unix:/run/x.sock", NULL, NULL },
        { "TCP:h:1", NULL, NULL },
    };
    char host[64], port[8];
    size_t i;

    (void)state;
    for (i = 0; i < ARRAY_LEN(cases); i++)
        check_split(&cases[i], xlmig__split_tcp(cases[i].in, host,
                                                sizeof(host), port,
                                                sizeof(port)),
                    host, port, "split_tcp");
}

static void test_endpoint_split(void **state)
{
    static const struct {
        const char *in;
        const char *host, *port, *path;     /* all NULL: refused */
    } cases[] = {
        { "tcp:127.0.0.1:10809", "127.0.0.1", "10809", NULL },
        { "tcp:host-2.example:1", "host-2.example", "1", NULL },
        { "tcp:h:65535", "h", "65535", NULL },
        { "tcp:a_b.example:80", "a_b.example", "80", NULL },
        { "tcp:[::1]:7000", "::1", "7000", NULL },
        { "tcp:[2001:db8::1]:8022", "2001:db8::1", "8022", NULL },
        { "tcp:[::ffff:192.0.2.1]:7", "::ffff:192.0.2.1", "7", NULL },
        { "unix:/run/x.sock", "", "", "/run/x.sock" },
        { "unix:/", "", "", "/" },
        { "", NULL, NULL, NULL },
        { "tcp:", NULL, NULL, NULL },
        { "tcp:h", NULL, NULL, NULL },
        { "tcp:h:", NULL, NULL, NULL },
        { "tcp::80", NULL, NULL, NULL },
        { "tcp:h:0", NULL, NULL, NULL },
        { "tcp:h:65536", NULL, NULL, NULL },
        { "tcp:h:123456", NULL, NULL, NULL },
        { "tcp:h:012", NULL, NULL, NULL },      /* no leading zero */
        { "tcp:h:00080", NULL, NULL, NULL },
        { "tcp:h:8o", NULL, NULL, NULL },
        { "tcp:h:+80", NULL, NULL, NULL },
        { "tcp:-h:80", NULL, NULL, NULL },
        { "tcp:.h:80", NULL, NULL, NULL },
        { "tcp:h h:80", NULL, NULL, NULL },
        { "tcp:h/1:80", NULL, NULL, NULL },
        { "tcp:2001:db8::1:80", NULL, NULL, NULL },  /* v6 not in [] */
        { "tcp:[::1]", NULL, NULL, NULL },
        { "tcp:[::1]:", NULL, NULL, NULL },
        { "tcp:[::1:80", NULL, NULL, NULL },
        { "tcp:[::g]:80", NULL, NULL, NULL },
        { "tcp:[]:80", NULL, NULL, NULL },
        { "TCP:h:1", NULL, NULL, NULL },
        { "udp:1.2.3.4:5", NULL, NULL, NULL },
        { "h:80", NULL, NULL, NULL },
        { "unix:", NULL, NULL, NULL },
        { "unix:rel.sock", NULL, NULL, NULL },
        { "unix:/a b", NULL, NULL, NULL },
        { "unix:/a\tb", NULL, NULL, NULL },
        { "unix:/a\x7f", NULL, NULL, NULL },
        { "unix:/caf\xc3\xa9", NULL, NULL, NULL },
    };
    struct sockaddr_un sun;
    char host[256], port[8], in[400];
    const char *path;
    size_t i, max_path = sizeof(sun.sun_path) - 1;
    int rc;

    (void)state;
    for (i = 0; i < ARRAY_LEN(cases); i++) {
        path = "untouched";
        rc = xlmig__endpoint_split(cases[i].in, host, sizeof(host), port,
                                   sizeof(port), &path);
        if (!cases[i].host) {
            if (rc != LIBXLMIG_ERR_INVALID_ARGUMENT)
                fail_msg("endpoint_split took \"%s\"", cases[i].in);
            assert_null(path);
            continue;
        }
        if (rc)
            fail_msg("endpoint_split refused \"%s\"", cases[i].in);
        assert_string_equal(host, cases[i].host);
        assert_string_equal(port, cases[i].port);
        if (cases[i].path)
            assert_string_equal(path, cases[i].path);
        else
            assert_null(path);
    }
    assert_int_equal(xlmig__endpoint_split(NULL, host, sizeof(host), port,
                                           sizeof(port), &path),
                     LIBXLMIG_ERR_INVALID_ARGUMENT);

    /* A socket path: 107 bytes taken (the NUL fills sun_path), 108 not. */
    memcpy(in, "unix:/", 6);
    memset(in + 6, 'p', max_path - 1);
    in[5 + max_path] = '\0';
    assert_int_equal(xlmig__endpoint_split(in, host, sizeof(host), port,
                                           sizeof(port), &path), 0);
    assert_int_equal(strlen(path), max_path);
    in[5 + max_path] = 'p';
    in[6 + max_path] = '\0';
    assert_int_equal(xlmig__endpoint_split(in, host, sizeof(host), port,
                                           sizeof(port), &path),
                     LIBXLMIG_ERR_INVALID_ARGUMENT);

    /* HOST:PORT of XLMIG__HOSTPORT_MAX (255) bytes taken, 256 not. */
    memcpy(in, "tcp:", 4);
    memset(in + 4, 'a', XLMIG__HOSTPORT_MAX - 3);
    memcpy(in + 4 + XLMIG__HOSTPORT_MAX - 3, ":80", 4);
    assert_int_equal(strlen(in + 4), XLMIG__HOSTPORT_MAX);
    assert_int_equal(xlmig__endpoint_split(in, host, sizeof(host), port,
                                           sizeof(port), &path), 0);
    assert_int_equal(strlen(host), XLMIG__HOSTPORT_MAX - 3);
    memset(in + 4, 'a', XLMIG__HOSTPORT_MAX - 2);
    memcpy(in + 4 + XLMIG__HOSTPORT_MAX - 2, ":80", 4);
    assert_int_equal(xlmig__endpoint_split(in, host, sizeof(host), port,
                                           sizeof(port), &path),
                     LIBXLMIG_ERR_INVALID_ARGUMENT);

    /* What does not fit the caller's buffers is refused, never cut. */
    assert_int_equal(xlmig__endpoint_split("tcp:abcdefgh:80", host, 8, port,
                                           sizeof(port), &path),
                     LIBXLMIG_ERR_INVALID_ARGUMENT);
    assert_int_equal(xlmig__endpoint_split("tcp:abcdefg:80", host, 8, port,
                                           sizeof(port), &path), 0);
    assert_int_equal(xlmig__endpoint_split("tcp:h:12345", host, sizeof(host),
                                           port, 5, &path),
                     LIBXLMIG_ERR_INVALID_ARGUMENT);
}

static void test_join(void **state)
{
    static const char *const forms[] = {
        "h1:7700", "10.0.0.1:1", "[2001:db8::1]:8022", "[::1]:80",
    };
    char host[64], port[8], buf[80];
    size_t i;

    (void)state;
    /* The inverse of the splitter. */
    for (i = 0; i < ARRAY_LEN(forms); i++) {
        assert_int_equal(xlmig__split_hostport(forms[i], host, sizeof(host),
                                               port, sizeof(port)), 0);
        xlmig__join_hostport(host, port, buf, sizeof(buf));
        assert_string_equal(buf, forms[i]);
    }
    xlmig__join_hostport("example.com", "8022", buf, 8);
    assert_string_equal(buf, "example");
}

static void test_sockaddr_label(void **state)
{
    struct sockaddr_in a4 = { .sin_family = AF_INET,
                              .sin_port = htons(7700) };
    struct sockaddr_in6 a6 = { .sin6_family = AF_INET6,
                               .sin6_port = htons(8022) };
    struct sockaddr_un au = { .sun_family = AF_UNIX };
    char buf[80] = "untouched";

    (void)state;
    inet_pton(AF_INET, "192.0.2.1", &a4.sin_addr);
    inet_pton(AF_INET6, "2001:db8::1", &a6.sin6_addr);
    assert_false(xlmig__sockaddr_label((struct sockaddr *)&au, buf,
                                       sizeof(buf)));
    assert_string_equal(buf, "untouched");
    assert_true(xlmig__sockaddr_label((struct sockaddr *)&a4, buf,
                                      sizeof(buf)));
    assert_string_equal(buf, "192.0.2.1:7700");
    assert_true(xlmig__sockaddr_label((struct sockaddr *)&a6, buf,
                                      sizeof(buf)));
    assert_string_equal(buf, "[2001:db8::1]:8022");
}

static void test_hostport_ok(void **state)
{
    static const char *const good[] = {
        "h1:7700", "10.0.0.1:1", "[2001:db8::3]:65535", "a_b-c.d:80",
        "[::ffff:192.0.2.1]:7",
    };
    static const struct { const char *in, *why; size_t at; } bad[] = {
        { "", "it is empty", 0 },
        { "h1", "no ':PORT'", 0 },
        { "h1:", "the port is missing", 2 },
        { "h1:123456", "longer than 5 digits", 2 },
        { "h1:8x", "byte 1 of the port is not a digit", 4 },
        { "h1:0", "port 0 is not from 1 to 65535", 2 },
        { "h1:99999", "port 99999", 2 },
        { ":80", "the host is missing", 0 },
        { "[::1:80", "not closed by ']'", 4 },
        { "[::g]:80", "byte 3 is not part of an IPv6 address", 3 },
        { "-h:80", "the host starts with '-'", 2 },
        { "2001:db8::1:80", "IPv6 addresses go in brackets", 4 },
        { "h/1:80", "byte 1 is not a letter", 1 },
    };
    char why[128], longer[XLMIG__HOSTPORT_MAX + 2];
    size_t i, at;

    (void)state;
    for (i = 0; i < ARRAY_LEN(good); i++) {
        if (!xlmig__hostport_ok(good[i], why, sizeof(why), &at))
            fail_msg("\"%s\" refused: %s", good[i], why);
    }
    for (i = 0; i < ARRAY_LEN(bad); i++) {
        if (xlmig__hostport_ok(bad[i].in, why, sizeof(why), &at))
            fail_msg("\"%s\" taken", bad[i].in);
        assert_contains(why, bad[i].why);
        assert_int_equal(at, bad[i].at);
    }
    assert_false(xlmig__hostport_ok(NULL, why, sizeof(why), &at));
    memset(longer, 'a', sizeof(longer) - 1);
    longer[sizeof(longer) - 1] = '\0';
    memcpy(longer + sizeof(longer) - 4, ":80", 3);
    assert_false(xlmig__hostport_ok(longer, why, sizeof(why), &at));
    assert_contains(why, "longer than 255 bytes");
    /* 255 bytes is taken. */
    assert_true(xlmig__hostport_ok(longer + 1, why, sizeof(why), &at));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_split),
        cmocka_unit_test(test_split_tcp),
        cmocka_unit_test(test_endpoint_split),
        cmocka_unit_test(test_join),
        cmocka_unit_test(test_sockaddr_label),
        cmocka_unit_test(test_hostport_ok),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* SPDX-License-Identifier: LGPL-2.1-only */
/*
 * The pool RPC message layer (libxlmig/rpc.c, docs/specs/rpc.md):
 * encode -> decode round trips of requests, results, errors and events;
 * every way a message is refused (table-driven, with the reason in @why
 * and the message left disposed); the encoders' refusals; the params
 * getters; frames over a socketpair (round trip, the 65536 boundary,
 * oversized and zero lengths refused before the payload is read,
 * truncated frames, a clean end); and xlmig__rpc_call() against a
 * scripted server: events before the response, error responses, and
 * the ways a server breaks the protocol.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "internal.h"
#include "rpc.h"
#include "testutil.h"
#include "transport.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

static struct capture_logger cap;
static libxlmig_ctx *ctx;
/* The other end's context: its transport logs there, not in ours. */
static libxlmig_ctx *peer_ctx;

static int group_setup(void **state)
{
    (void)state;
    capture_init(&cap);
    if (libxlmig_ctx_new(&cap.vtable, LIBXLMIG_LOG_DEBUG, &ctx))
        return -1;
    return libxlmig_ctx_new(NULL, LIBXLMIG_LOG_CRITICAL, &peer_ctx) ? -1 : 0;
}

static int group_teardown(void **state)
{
    (void)state;
    libxlmig_ctx_free(peer_ctx);
    libxlmig_ctx_free(ctx);
    return 0;
}

static void reset_log(void)
{
    capture_init(&cap);
}

/* ------------------------------------------------------------ helpers */

/* Decode @json (NUL-ended), which must be good. */
static void decode_ok(const char *json, struct xlmig__rpc_msg *m)
{
    char why[XLMIG__RPC_WHY_MAX];
    int rc = xlmig__rpc_decode(json, strlen(json), m, why, sizeof(why));

    if (rc)
        fail_msg("decoding %s gave %d: %s", json, rc, why);
}

static bool gen_kv_str(yajl_gen g, const char *k, const char *v)
{
    return yajl_gen_string(g, (const unsigned char *)k, strlen(k)) ==
               yajl_gen_status_ok &&
           yajl_gen_string(g, (const unsigned char *)v, strlen(v)) ==
               yajl_gen_status_ok;
}

static bool gen_kv_int(yajl_gen g, const char *k, long long v)
{
    return yajl_gen_string(g, (const unsigned char *)k, strlen(k)) ==
               yajl_gen_status_ok &&
           yajl_gen_integer(g, v) == yajl_gen_status_ok;
}

static bool gen_kv_bool(yajl_gen g, const char *k, bool v)
{
    return yajl_gen_string(g, (const unsigned char *)k, strlen(k)) ==
               yajl_gen_status_ok &&
           yajl_gen_bool(g, v) == yajl_gen_status_ok;
}

static bool gen_k(yajl_gen g, const char *k)
{
    return yajl_gen_string(g, (const unsigned char *)k, strlen(k)) ==
           yajl_gen_status_ok;
}

/* ------------------------------------------------------------ round trips */

static void test_request_round_trip(void **state)
{
    static const struct {
        uint64_t id;
        const char *method;
    } cases[] = {
        { 0, "a" },
        { 1, "pool.slot_acquire" },
        { 7, "host-info" },
        { (uint64_t)INT64_MAX, "x.y.z_0-9" },
        { (uint64_t)INT64_MAX + 1, "m" },
        { UINT64_MAX, "abcdefghijklmnopqrstuvwxyz0123456789."
                      "abcdefghijklmnopqrstuvwxyz" },
    };
    size_t i;

    (void)state;
    assert_int_equal(strlen(cases[5].method), XLMIG__RPC_NAME_MAX);
    for (i = 0; i < ARRAY_LEN(cases); i++) {
        struct xlmig__rpc_msg m;
        yajl_gen g = xlmig__rpc_gen_request(cases[i].id, cases[i].method);
        yajl_val sub;
        uint64_t u = 0;
        bool b = false;
        char *json = NULL;
        size_t len = 0;

        assert_non_null(g);
        assert_true(gen_kv_str(g, "vm", "web1"));
        assert_true(gen_kv_str(g, "utf8", "h\xc3\xa9llo \xe2\x82\xac"));
        assert_true(gen_kv_int(g, "slots", 3));
        assert_true(gen_kv_bool(g, "wait", true));
        assert_true(gen_k(g, "nested"));
        assert_int_equal(yajl_gen_map_open(g), yajl_gen_status_ok);
        assert_true(gen_kv_str(g, "a", "b"));
        assert_int_equal(yajl_gen_map_close(g), yajl_gen_status_ok);
        assert_int_equal(xlmig__rpc_gen_finish(g, &json, &len), 0);
        assert_non_null(json);
        assert_int_equal(len, strlen(json));
        assert_true(len <= XLMIG__RPC_FRAME_MAX);
        assert_contains(json, "{\"v\":1,\"id\":");
        assert_contains(json, "\"method\":\"");

        decode_ok(json, &m);
        assert_int_equal(m.kind, XLMIG__RPC_REQUEST);
        assert_true(m.id == cases[i].id);
        assert_string_equal(m.method, cases[i].method);
        assert_false(m.is_error);
        assert_null(m.result);
        assert_non_null(m.params);
        assert_non_null(m.root);
        assert_string_equal(xlmig__rpc_get_str(m.params, "vm"), "web1");
        assert_string_equal(xlmig__rpc_get_str(m.params, "utf8"),
                            "h\xc3\xa9llo \xe2\x82\xac");
        assert_int_equal(xlmig__rpc_get_uint(m.params, "slots", &u), 0);
        assert_true(u == 3);
        assert_int_equal(xlmig__rpc_get_bool(m.params, "wait", &b), 0);
        assert_true(b);
        sub = xlmig__rpc_get(m.params, "nested");
        assert_non_null(sub);
        assert_string_equal(xlmig__rpc_get_str(sub, "a"), "b");
        xlmig__rpc_msg_dispose(&m);
        assert_null(m.root);
        xlmig__rpc_msg_dispose(&m);         /* idempotent */
        free(json);
    }

    /* No params added: an empty object. */
    {
        struct xlmig__rpc_msg m;
        char *json = NULL;
        size_t len = 0;

        assert_int_equal(xlmig__rpc_gen_finish(
                             xlmig__rpc_gen_request(5, "ping"), &json, &len),
                         0);
        assert_string_equal(json, "{\"v\":1,\"id\":5,\"method\":\"ping\","
                                  "\"params\":{}}");
        decode_ok(json, &m);
        assert_non_null(m.params);
        assert_int_equal(m.params->u.object.len, 0);
        xlmig__rpc_msg_dispose(&m);
        free(json);
    }
}

static void test_result_round_trip(void **state)
{
    static const char *const values[] = {
        "null", "true", "false", "0", "-12", "1.5", "\"text\"", "[]",
        "[1,\"a\",null,{\"k\":[true]}]", "{}", "{\"slot\":2,\"host\":\"h2\"}",
    };
    size_t i;

    (void)state;
    for (i = 0; i < ARRAY_LEN(values); i++) {
        struct xlmig__rpc_msg m, v;
        char src[128], want[256], *json = NULL;
        size_t len = 0;
        yajl_gen g;

        /* Write the value through gen_value from a tree of it. */
        snprintf(src, sizeof(src), "{\"v\":1,\"id\":1,\"result\":%s}",
                 values[i]);
        decode_ok(src, &v);
        g = xlmig__rpc_gen_result(42);
        assert_non_null(g);
        assert_int_equal(xlmig__rpc_gen_value(g, v.result), 0);
        assert_int_equal(xlmig__rpc_gen_finish(g, &json, &len), 0);
        snprintf(want, sizeof(want), "{\"v\":1,\"id\":42,\"result\":%s}",
                 values[i]);
        assert_string_equal(json, want);
        decode_ok(json, &m);
        assert_int_equal(m.kind, XLMIG__RPC_RESPONSE);
        assert_true(m.id == 42);
        assert_false(m.is_error);
        assert_non_null(m.result);
        assert_int_equal(m.result->type, v.result->type);
        assert_null(m.params);
        assert_string_equal(m.method, "");
        xlmig__rpc_msg_dispose(&m);
        xlmig__rpc_msg_dispose(&v);
        free(json);
    }

    /* A result written by hand: a map. */
    {
        struct xlmig__rpc_msg m;
        yajl_gen g = xlmig__rpc_gen_result(UINT64_MAX);
        char *json = NULL;
        size_t len = 0;
        uint64_t u = 0;

        assert_non_null(g);
        assert_int_equal(yajl_gen_map_open(g), yajl_gen_status_ok);
        assert_true(gen_kv_int(g, "slot", 2));
        assert_int_equal(yajl_gen_map_close(g), yajl_gen_status_ok);
        assert_int_equal(xlmig__rpc_gen_finish(g, &json, &len), 0);
        assert_string_equal(json, "{\"v\":1,\"id\":18446744073709551615,"
                                  "\"result\":{\"slot\":2}}");
        decode_ok(json, &m);
        assert_true(m.id == UINT64_MAX);
        assert_int_equal(xlmig__rpc_get_uint(m.result, "slot", &u), 0);
        assert_true(u == 2);
        xlmig__rpc_msg_dispose(&m);
        free(json);
    }
}

static void test_error_round_trip(void **state)
{
    static const char *const p3[] = { "3" };
    static const char *const p4[] = { "", "two", "\xc3\xa9", "four" };
    struct xlmig__rpc_msg m;
    char *json = NULL;
    size_t len = 0;
    int code;

    (void)state;
    assert_int_equal(xlmig__rpc_encode_error(
                         9, LIBXLMIG_ERR_TOO_MANY_MIGRATIONS,
                         "the pool runs 3 migrations, its limit", p3, 1,
                         &json, &len), 0);
    assert_int_equal(len, strlen(json));
    assert_string_equal(json,
                        "{\"v\":1,\"id\":9,\"error\":{\"name\":"
                        "\"TOO_MANY_MIGRATIONS\",\"message\":\"the pool "
                        "runs 3 migrations, its limit\",\"params\":[\"3\"]}}");
    decode_ok(json, &m);
    assert_int_equal(m.kind, XLMIG__RPC_RESPONSE);
    assert_true(m.id == 9);
    assert_true(m.is_error);
    assert_null(m.result);
    assert_string_equal(m.err_name, "TOO_MANY_MIGRATIONS");
    assert_string_equal(m.err_message,
                        "the pool runs 3 migrations, its limit");
    assert_int_equal(m.nr_err_params, 1);
    assert_string_equal(m.err_params[0], "3");
    assert_int_equal(libxlmig_error_from_name(m.err_name, &code), 0);
    assert_int_equal(code, LIBXLMIG_ERR_TOO_MANY_MIGRATIONS);
    xlmig__rpc_msg_dispose(&m);
    free(json);

    /* Four params; NULL message: the code's text. */
    assert_int_equal(xlmig__rpc_encode_error(0, LIBXLMIG_ERR_HOST_DISABLED,
                                             NULL, p4, 4, &json, &len), 0);
    decode_ok(json, &m);
    assert_string_equal(m.err_name, "HOST_DISABLED");
    assert_string_equal(m.err_message,
                        libxlmig_strerror(LIBXLMIG_ERR_HOST_DISABLED));
    assert_int_equal(m.nr_err_params, 4);
    assert_string_equal(m.err_params[0], "");
    assert_string_equal(m.err_params[2], "\xc3\xa9");
    assert_string_equal(m.err_params[3], "four");
    xlmig__rpc_msg_dispose(&m);
    free(json);

    /* Every error of the table goes through. */
    for (size_t i = 0; i < xlmig__error_count(); i++) {
        int rc = xlmig__error_code_at(i);

        if (rc >= 0)
            continue;
        assert_int_equal(xlmig__rpc_encode_error(1, rc, "m", NULL, 0, &json,
                                                 &len), 0);
        decode_ok(json, &m);
        assert_string_equal(m.err_name, libxlmig_strerror_name(rc));
        assert_int_equal(m.nr_err_params, 0);
        xlmig__rpc_msg_dispose(&m);
        free(json);
    }
}

static void test_error_message_sanitized(void **state)
{
    static const char *const long_param[] = {
        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
    };
    static const char *const ok_param[] = {
        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
    };
    static const char *const bad_utf8[] = { "a\xff" };
    static const char *const five[] = { "1", "2", "3", "4", "5" };
    static const char *const with_null[] = { "1", NULL };
    struct xlmig__rpc_msg m;
    char msg[3000], *json = (char *)1;
    size_t len = 7, i;

    (void)state;
    /* Not UTF-8: '?' instead, the rest kept. */
    assert_int_equal(xlmig__rpc_encode_error(1, LIBXLMIG_ERR_IO,
                                             "bad \xff\xfe byte \xc0\x80 "
                                             "\xe2\x82 \xc3\xa9", NULL, 0,
                                             &json, &len), 0);
    decode_ok(json, &m);
    assert_string_equal(m.err_message, "bad ?? byte ?? ?? \xc3\xa9");
    xlmig__rpc_msg_dispose(&m);
    free(json);

    /* 1500 two-byte characters: cut to 1022 bytes, never inside one. */
    for (i = 0; i < 1499; i++)
        memcpy(msg + 2 * i, "\xc3\xa9", 2);
    msg[2 * 1499] = '\0';
    assert_int_equal(xlmig__rpc_encode_error(1, LIBXLMIG_ERR_IO, msg, NULL,
                                             0, &json, &len), 0);
    decode_ok(json, &m);
    assert_int_equal(strlen(m.err_message), 1022);
    assert_memory_equal(m.err_message, msg, 1022);
    xlmig__rpc_msg_dispose(&m);
    free(json);

    /* A param of 255 bytes is fine, 256 is not. */
    assert_int_equal(strlen(ok_param[0]), XLMIG__RPC_ERR_PARAM_MAX);
    assert_int_equal(xlmig__rpc_encode_error(1, LIBXLMIG_ERR_IO, "x",
                                             ok_param, 1, &json, &len), 0);
    decode_ok(json, &m);
    assert_string_equal(m.err_params[0], ok_param[0]);
    xlmig__rpc_msg_dispose(&m);
    free(json);

    json = (char *)1;
    len = 7;
    assert_int_equal(xlmig__rpc_encode_error(1, LIBXLMIG_ERR_IO, "x",
                                             long_param, 1, &json, &len),
                     LIBXLMIG_ERR_INVALID_ARGUMENT);
    assert_null(json);
    assert_int_equal(len, 0);
    assert_int_equal(xlmig__rpc_encode_error(1, LIBXLMIG_ERR_IO, "x",
                                             bad_utf8, 1, &json, &len),
                     LIBXLMIG_ERR_INVALID_ARGUMENT);
    assert_int_equal(xlmig__rpc_encode_error(1, LIBXLMIG_ERR_IO, "x", five,
                                             5, &json, &len),
                     LIBXLMIG_ERR_INVALID_ARGUMENT);
    assert_int_equal(xlmig__rpc_encode_error(1, LIBXLMIG_ERR_IO, "x",
                                             with_null, 2, &json, &len),
                     LIBXLMIG_ERR_INVALID_ARGUMENT);
    assert_int_equal(xlmig__rpc_encode_error(1, LIBXLMIG_ERR_IO, "x", NULL,
                                             1, &json, &len),
                     LIBXLMIG_ERR_INVALID_ARGUMENT);
    assert_int_equal(xlmig__rpc_encode_error(1, 0, "x", NULL, 0, &json,
                                             &len),
                     LIBXLMIG_ERR_INVALID_ARGUMENT);
    assert_int_equal(xlmig__rpc_encode_error(1, 3, "x", NULL, 0, &json,
                                             &len),
                     LIBXLMIG_ERR_INVALID_ARGUMENT);
    assert_null(json);
}

static void test_event_round_trip(void **state)
{
    struct xlmig__rpc_msg m;
    yajl_gen g;
    char *json = NULL;
    size_t len = 0;
    uint64_t u = 0;

    (void)state;
    g = xlmig__rpc_gen_event("slot.granted");
    assert_non_null(g);
    assert_true(gen_kv_str(g, "vm", "web1"));
    assert_true(gen_kv_int(g, "slot", 2));
    assert_int_equal(xlmig__rpc_gen_finish(g, &json, &len), 0);
    assert_string_equal(json, "{\"v\":1,\"event\":\"slot.granted\","
                              "\"params\":{\"vm\":\"web1\",\"slot\":2}}");
    decode_ok(json, &m);
    assert_int_equal(m.kind, XLMIG__RPC_EVENT);
    assert_true(m.id == 0);
    assert_string_equal(m.method, "slot.granted");
    assert_string_equal(xlmig__rpc_get_str(m.params, "vm"), "web1");
    assert_int_equal(xlmig__rpc_get_uint(m.params, "slot", &u), 0);
    assert_true(u == 2);
    assert_null(m.result);
    assert_false(m.is_error);
    xlmig__rpc_msg_dispose(&m);
    free(json);
}

/* ------------------------------------------------------------ encoders */

/* Nest @n arrays inside params (each holding the next), then finish. */
static int request_with_arrays(unsigned int n)
{
    yajl_gen g = xlmig__rpc_gen_request(1, "m");
    char *json = NULL;
    size_t len = 0;
    unsigned int i;
    int rc;

    assert_non_null(g);
    assert_true(gen_k(g, "a"));
    for (i = 0; i < n; i++)
        assert_int_equal(yajl_gen_array_open(g), yajl_gen_status_ok);
    for (i = 0; i < n; i++)
        assert_int_equal(yajl_gen_array_close(g), yajl_gen_status_ok);
    rc = xlmig__rpc_gen_finish(g, &json, &len);
    free(json);
    return rc;
}

static void test_gen_refuses(void **state)
{
    static const char *const bad_names[] = {
        "", "Pool.join", "a b", "a/b", "\xc3\xa9", "a\n",
        "abcdefghijklmnopqrstuvwxyz0123456789.abcdefghijklmnopqrstuvwxyza",
    };
    char *json = (char *)1, *big;
    size_t len = 5, i;
    yajl_gen g;

    (void)state;
    for (i = 0; i < ARRAY_LEN(bad_names); i++) {
        assert_null(xlmig__rpc_gen_request(1, bad_names[i]));
        assert_null(xlmig__rpc_gen_event(bad_names[i]));
        assert_false(xlmig__rpc_method_name_ok(bad_names[i]));
    }
    assert_null(xlmig__rpc_gen_request(1, NULL));

    /* NULL generator (a helper that failed): refused, outputs cleared. */
    assert_int_equal(xlmig__rpc_gen_finish(NULL, &json, &len),
                     LIBXLMIG_ERR_INVALID_ARGUMENT);
    assert_null(json);
    assert_int_equal(len, 0);

    /* A key without its value. */
    g = xlmig__rpc_gen_request(1, "m");
    assert_true(gen_k(g, "dangling"));
    assert_int_equal(xlmig__rpc_gen_finish(g, &json, &len),
                     LIBXLMIG_ERR_INVALID_ARGUMENT);
    assert_null(json);

    /* An array left open inside params. */
    g = xlmig__rpc_gen_request(1, "m");
    assert_true(gen_k(g, "list"));
    assert_int_equal(yajl_gen_array_open(g), yajl_gen_status_ok);
    assert_int_equal(yajl_gen_integer(g, 1), yajl_gen_status_ok);
    assert_int_equal(xlmig__rpc_gen_finish(g, &json, &len),
                     LIBXLMIG_ERR_INVALID_ARGUMENT);

    /* A map left open inside params: it would close, but is refused. */
    g = xlmig__rpc_gen_event("e");
    assert_true(gen_k(g, "map"));
    assert_int_equal(yajl_gen_map_open(g), yajl_gen_status_ok);
    assert_int_equal(xlmig__rpc_gen_finish(g, &json, &len),
                     LIBXLMIG_ERR_INVALID_ARGUMENT);

    /* A result without its value, and one whose map is left open. */
    g = xlmig__rpc_gen_result(1);
    assert_int_equal(xlmig__rpc_gen_finish(g, &json, &len),
                     LIBXLMIG_ERR_INVALID_ARGUMENT);
    g = xlmig__rpc_gen_result(1);
    assert_int_equal(yajl_gen_map_open(g), yajl_gen_status_ok);
    assert_true(gen_kv_int(g, "a", 1));
    assert_int_equal(xlmig__rpc_gen_finish(g, &json, &len),
                     LIBXLMIG_ERR_INVALID_ARGUMENT);

    /* A duplicate member. */
    g = xlmig__rpc_gen_request(1, "m");
    assert_true(gen_kv_int(g, "a", 1));
    assert_true(gen_kv_int(g, "a", 2));
    assert_int_equal(xlmig__rpc_gen_finish(g, &json, &len),
                     LIBXLMIG_ERR_INVALID_ARGUMENT);

    /* A NUL inside a string (yajl_gen writes \u0000). */
    g = xlmig__rpc_gen_request(1, "m");
    assert_true(gen_k(g, "a"));
    assert_int_equal(yajl_gen_string(g, (const unsigned char *)"a\0b", 3),
                     yajl_gen_status_ok);
    assert_int_equal(xlmig__rpc_gen_finish(g, &json, &len),
                     LIBXLMIG_ERR_INVALID_ARGUMENT);

    /* Depth: request 1, params 2, then 14 arrays make 16; 15 make 17. */
    assert_int_equal(request_with_arrays(14), 0);
    assert_int_equal(request_with_arrays(15), LIBXLMIG_ERR_INVALID_ARGUMENT);

    /* Size: a message of exactly 65536 bytes goes, one more does not. */
    {
        /* {"v":1,"id":1,"method":"m","params":{"s":"..."}} */
        const size_t overhead = strlen("{\"v\":1,\"id\":1,\"method\":\"m\","
                                       "\"params\":{\"s\":\"\"}}");
        size_t n = XLMIG__RPC_FRAME_MAX - overhead;

        big = malloc(n + 2);
        assert_non_null(big);
        memset(big, 'x', n + 1);
        big[n] = '\0';
        g = xlmig__rpc_gen_request(1, "m");
        assert_true(gen_kv_str(g, "s", big));
        assert_int_equal(xlmig__rpc_gen_finish(g, &json, &len), 0);
        assert_int_equal(len, XLMIG__RPC_FRAME_MAX);
        free(json);
        big[n] = 'x';
        big[n + 1] = '\0';
        g = xlmig__rpc_gen_request(1, "m");
        assert_true(gen_kv_str(g, "s", big));
        assert_int_equal(xlmig__rpc_gen_finish(g, &json, &len),
                         LIBXLMIG_ERR_INVALID_ARGUMENT);
        assert_null(json);
        free(big);
    }

    /* gen_value: NULL. */
    g = xlmig__rpc_gen_result(1);
    assert_int_equal(xlmig__rpc_gen_value(g, NULL),
                     LIBXLMIG_ERR_INVALID_ARGUMENT);
    assert_int_equal(xlmig__rpc_gen_finish(g, &json, &len),
                     LIBXLMIG_ERR_INVALID_ARGUMENT);
}

/* ------------------------------------------------------------ decoding */

static void test_decode_accepts(void **state)
{
    struct xlmig__rpc_msg m;
    uint64_t u;

    (void)state;
    /* The spec's examples. */
    decode_ok("{\"v\":1,\"id\":7,\"method\":\"pool.slot_acquire\","
              "\"params\":{\"vm\":\"web1\"}}", &m);
    assert_int_equal(m.kind, XLMIG__RPC_REQUEST);
    assert_string_equal(m.method, "pool.slot_acquire");
    xlmig__rpc_msg_dispose(&m);
    decode_ok("{\"v\":1,\"id\":7,\"result\":{\"slot\":2}}", &m);
    assert_int_equal(m.kind, XLMIG__RPC_RESPONSE);
    xlmig__rpc_msg_dispose(&m);
    decode_ok("{\"v\":1,\"id\":7,\"error\":{\"name\":\"TOO_MANY_MIGRATIONS\","
              "\"message\":\"the pool runs 3 migrations, its limit\","
              "\"params\":[\"3\"]}}", &m);
    assert_true(m.is_error);
    assert_string_equal(m.err_params[0], "3");
    xlmig__rpc_msg_dispose(&m);
    decode_ok("{\"v\":1,\"event\":\"slot.granted\",\"params\":{\"vm\":"
              "\"web1\",\"slot\":2}}", &m);
    assert_int_equal(m.kind, XLMIG__RPC_EVENT);
    xlmig__rpc_msg_dispose(&m);

    /* Any order, white space, unknown members ignored, no params. */
    decode_ok(" \n{ \"method\" : \"m\", \"later\": {\"x\":[1,{\"y\":null}]},"
              "\"id\" : 18446744073709551615 , \"v\" : 1 }\n", &m);
    assert_int_equal(m.kind, XLMIG__RPC_REQUEST);
    assert_true(m.id == UINT64_MAX);
    assert_null(m.params);
    assert_null(xlmig__rpc_get_str(m.params, "x"));
    assert_int_equal(xlmig__rpc_get_uint(m.params, "x", &u),
                     LIBXLMIG_ERR_NOT_FOUND);
    xlmig__rpc_msg_dispose(&m);

    /* A null result is a result; an error with only a name. */
    decode_ok("{\"v\":1,\"id\":0,\"result\":null}", &m);
    assert_non_null(m.result);
    assert_true(YAJL_IS_NULL(m.result));
    assert_false(m.is_error);
    xlmig__rpc_msg_dispose(&m);
    decode_ok("{\"v\":1,\"id\":0,\"error\":{\"name\":\"X_2\"}}", &m);
    assert_true(m.is_error);
    assert_string_equal(m.err_name, "X_2");
    assert_string_equal(m.err_message, "");
    assert_int_equal(m.nr_err_params, 0);
    xlmig__rpc_msg_dispose(&m);

    /* Escapes decoded; a surrogate pair is one character. */
    decode_ok("{\"v\":1,\"event\":\"e\",\"params\":{\"s\":\"\\u00e9\\n"
              "\\ud83d\\ude00\\\"\"}}", &m);
    assert_string_equal(xlmig__rpc_get_str(m.params, "s"),
                        "\xc3\xa9\n\xf0\x9f\x98\x80\"");
    xlmig__rpc_msg_dispose(&m);

    /* 16 levels: the message, params and 14 arrays. */
    decode_ok("{\"v\":1,\"id\":1,\"method\":\"m\",\"params\":{\"a\":"
              "[[[[[[[[[[[[[[1]]]]]]]]]]]]]]}}", &m);
    xlmig__rpc_msg_dispose(&m);

    /* A long message is cut at a character boundary. */
    {
        char text[2200];
        size_t pos = 0, i;

        pos += (size_t)snprintf(text, sizeof(text), "{\"v\":1,\"id\":1,"
                                "\"error\":{\"name\":\"E\",\"message\":\"a");
        for (i = 0; i < 700; i++) {
            memcpy(text + pos, "\xe2\x82\xac", 3);      /* 3 bytes each */
            pos += 3;
        }
        snprintf(text + pos, sizeof(text) - pos, "\"}}");
        decode_ok(text, &m);
        /* 1 + 340 * 3 = 1021 bytes fit in 1023; a 342nd char would not. */
        assert_int_equal(strlen(m.err_message), 1021);
        assert_memory_equal(m.err_message, "a\xe2\x82\xac", 4);
        xlmig__rpc_msg_dispose(&m);
    }
}

struct reject_case {
    const char *text;
    const char *want;       /* in @why */
};

#define DEEP17 "[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]"    /* 15 arrays */

static const struct reject_case rejects[] = {
    /* Not JSON, not an object. */
    { "not json", "not valid JSON" },
    { "{", "not valid JSON" },
    { "{\"v\":1,\"id\":1,\"method\":\"m\",}", "not valid JSON" },
    { "{\"v\":1,\"id\":1,\"method\":\"m\"} x", "not valid JSON" },
    { "{\"v\":1,\"id\":1,\"method\":\"m\"}{}", "not valid JSON" },
    { "{\"v\":1,/* c */\"id\":1,\"method\":\"m\"}", "not valid JSON" },
    { "{\"v\":1,\"id\":1,\"method\":\"m\",\"x\":\"\xff\"}", "not valid JSON" },
    { "{\"v\":1,\"id\":01,\"method\":\"m\"}", "not valid JSON" },
    { "[1]", "the message is an array, not a JSON object" },
    { "\"text\"", "the message is a string, not a JSON object" },
    { "null", "the message is null, not a JSON object" },
    { "3", "the message is a number, not a JSON object" },
    /* The version. */
    { "{\"id\":1,\"method\":\"m\"}", "member \"v\" (the version) is missing" },
    { "{\"v\":2,\"id\":1,\"method\":\"m\"}",
      "version 2, but this libxlmig speaks version 1 only" },
    { "{\"v\":0,\"id\":1,\"method\":\"m\"}", "version 0, but" },
    { "{\"v\":-1,\"id\":1,\"method\":\"m\"}", "version -1, but" },
    { "{\"v\":\"1\",\"id\":1,\"method\":\"m\"}",
      "member \"v\" (the version) is a string, not the integer 1" },
    { "{\"v\":1.0,\"id\":1,\"method\":\"m\"}",
      "member \"v\" (the version) is 1.0, not the integer 1" },
    { "{\"v\":null,\"id\":1,\"method\":\"m\"}", "is null, not the integer" },
    /* The version comes first: a version 2 message is refused by it. */
    { "{\"v\":2,\"id\":-1,\"method\":\"Bad\"}", "version 2" },
    /* Ids. */
    { "{\"v\":1,\"id\":-1,\"method\":\"m\"}",
      "member \"id\" is -1, not an integer from 0 to 18446744073709551615" },
    { "{\"v\":1,\"id\":-0,\"method\":\"m\"}", "member \"id\" is -0, not" },
    { "{\"v\":1,\"id\":1.5,\"method\":\"m\"}", "member \"id\" is 1.5, not" },
    { "{\"v\":1,\"id\":1.0,\"method\":\"m\"}", "member \"id\" is 1.0, not" },
    { "{\"v\":1,\"id\":1e3,\"method\":\"m\"}", "member \"id\" is 1e3, not" },
    { "{\"v\":1,\"id\":18446744073709551616,\"method\":\"m\"}",
      "member \"id\" is 18446744073709551616, not an integer" },
    { "{\"v\":1,\"id\":99999999999999999999999,\"method\":\"m\"}",
      "is 99999999999999999999999, not" },
    { "{\"v\":1,\"id\":\"1\",\"method\":\"m\"}",
      "member \"id\" is a string, not an integer" },
    { "{\"v\":1,\"id\":null,\"result\":1}", "member \"id\" is null, not" },
    { "{\"v\":1,\"method\":\"m\"}", "member \"id\" is missing from a request" },
    { "{\"v\":1,\"result\":1}", "member \"id\" is missing from a response" },
    { "{\"v\":1,\"id\":1,\"event\":\"e\"}", "an event has no \"id\"" },
    /* Methods and event names. */
    { "{\"v\":1,\"id\":1,\"method\":\"Pool.join\"}",
      "member \"method\" \"Pool.join\" is not a valid name: 1 to 63 bytes "
      "of a-z, 0-9" },
    { "{\"v\":1,\"id\":1,\"method\":\"a b\"}", "\"a b\" is not a valid name" },
    { "{\"v\":1,\"id\":1,\"method\":\"a/b\"}", "is not a valid name" },
    { "{\"v\":1,\"id\":1,\"method\":\"\\u00e9\"}", "\"??\" is not a valid" },
    { "{\"v\":1,\"id\":1,\"method\":\"\"}", "\"\" is not a valid name" },
    { "{\"v\":1,\"id\":1,\"method\":\"abcdefghijklmnopqrstuvwxyz0123456789."
      "abcdefghijklmnopqrstuvwxyza\"}", "is not a valid name" },
    { "{\"v\":1,\"id\":1,\"method\":7}",
      "member \"method\" is a number, not a string" },
    { "{\"v\":1,\"id\":1,\"method\":null}", "member \"method\" is null" },
    { "{\"v\":1,\"event\":\"E\"}", "member \"event\" \"E\" is not a valid" },
    { "{\"v\":1,\"event\":[\"e\"]}", "member \"event\" is an array, not" },
    /* Kinds. */
    { "{\"v\":1,\"id\":1}", "the message has none of \"method\", \"result\"" },
    { "{\"v\":1,\"id\":1,\"result\":1,\"error\":{\"name\":\"E\"}}",
      "the message has both \"result\" and \"error\"" },
    { "{\"v\":1,\"id\":1,\"method\":\"m\",\"result\":1}",
      "both \"method\" and \"result\"" },
    { "{\"v\":1,\"id\":1,\"method\":\"m\",\"event\":\"e\"}",
      "both \"method\" and \"event\"" },
    /* Params. */
    { "{\"v\":1,\"id\":1,\"method\":\"m\",\"params\":[1]}",
      "member \"params\" is an array, not an object" },
    { "{\"v\":1,\"id\":1,\"method\":\"m\",\"params\":null}",
      "member \"params\" is null, not an object" },
    { "{\"v\":1,\"event\":\"e\",\"params\":\"x\"}",
      "member \"params\" is a string, not an object" },
    { "{\"v\":1,\"id\":1,\"result\":1,\"params\":{}}",
      "a response has no \"params\"" },
    /* Errors. */
    { "{\"v\":1,\"id\":1,\"error\":{}}", "the error has no \"name\"" },
    { "{\"v\":1,\"id\":1,\"error\":{\"message\":\"x\"}}",
      "the error has no \"name\"" },
    { "{\"v\":1,\"id\":1,\"error\":\"E\"}",
      "member \"error\" is a string, not an object" },
    { "{\"v\":1,\"id\":1,\"error\":null}", "member \"error\" is null, not" },
    { "{\"v\":1,\"id\":1,\"error\":{\"name\":\"too_many\"}}",
      "the error's \"name\" \"too_many\" is not a valid name: 1 to 63 bytes "
      "of A-Z" },
    { "{\"v\":1,\"id\":1,\"error\":{\"name\":\"\"}}", "is not a valid name" },
    { "{\"v\":1,\"id\":1,\"error\":{\"name\":1}}",
      "the error's \"name\" is a number, not a string" },
    { "{\"v\":1,\"id\":1,\"error\":{\"name\":\"E\",\"message\":1}}",
      "the error's \"message\" is a number, not a string" },
    { "{\"v\":1,\"id\":1,\"error\":{\"name\":\"E\",\"params\":\"3\"}}",
      "the error's \"params\" is a string, not an array" },
    { "{\"v\":1,\"id\":1,\"error\":{\"name\":\"E\",\"params\":[3]}}",
      "param 0 of the error is a number, not a string" },
    { "{\"v\":1,\"id\":1,\"error\":{\"name\":\"E\",\"params\":[\"1\",\"2\","
      "\"3\",\"4\",\"5\"]}}", "the error has 5 params, more than 4" },
    { "{\"v\":1,\"id\":1,\"error\":{\"name\":\"E\",\"params\":[\"a\",\""
      "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
      "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
      "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
      "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
      "\"]}}", "param 1 of the error has 256 bytes, more than 255" },
    /* Depth, NULs, UTF-8, duplicates. */
    { "{\"v\":1,\"id\":1,\"method\":\"m\",\"params\":{\"a\":" DEEP17 "}}",
      "the JSON is nested deeper than 16 levels" },
    { "{\"v\":1,\"id\":1,\"result\":[" DEEP17 "]}", "deeper than 16 levels" },
    { "{\"v\":1,\"id\":1,\"method\":\"m\",\"params\":{\"s\":\"a\\u0000b\"}}",
      "a JSON string holds a NUL character (\\u0000)" },
    { "{\"v\":1,\"id\":1,\"method\":\"m\",\"params\":{\"a\\u0000\":1}}",
      "NUL character" },
    { "{\"v\":1,\"id\":1,\"method\":\"m\\u0000x\"}", "NUL character" },
    { "{\"v\":1,\"id\":1,\"method\":\"m\",\"params\":{\"s\":\"\xc0\x80\"}}",
      "not valid UTF-8" },
    { "{\"v\":1,\"id\":1,\"method\":\"m\",\"params\":{\"s\":\"\xed\xa0\x80\"}}",
      "not valid UTF-8" },
    { "{\"v\":1,\"id\":1,\"method\":\"m\",\"params\":{\"s\":\"\\udc00\"}}",
      "not valid UTF-8" },
    { "{\"v\":1,\"v\":1,\"id\":1,\"method\":\"m\"}",
      "member \"v\" appears more than once in an object" },
    { "{\"v\":1,\"id\":1,\"id\":2,\"method\":\"m\"}",
      "member \"id\" appears more than once" },
    { "{\"v\":1,\"id\":1,\"method\":\"m\",\"params\":{\"b\":{\"x\":1,"
      "\"y\":2,\"x\":3}}}", "member \"x\" appears more than once" },
    { "{\"v\":1,\"id\":1,\"result\":[{\"k\":1,\"k\":1}]}",
      "member \"k\" appears" },
};

static void test_decode_rejects(void **state)
{
    size_t i;

    (void)state;
    for (i = 0; i < ARRAY_LEN(rejects); i++) {
        struct xlmig__rpc_msg m;
        char why[XLMIG__RPC_WHY_MAX];
        int rc;

        memset(&m, 0x5a, sizeof(m));
        why[0] = '\0';
        rc = xlmig__rpc_decode(rejects[i].text, strlen(rejects[i].text), &m,
                               why, sizeof(why));
        if (rc != LIBXLMIG_ERR_PROTOCOL)
            fail_msg("case %zu (%s) gave %d, not PROTOCOL_ERROR", i,
                     rejects[i].text, rc);
        if (!strstr(why, rejects[i].want))
            fail_msg("case %zu (%s): expected \"%s\" in \"%s\"", i,
                     rejects[i].text, rejects[i].want, why);
        /* Left disposed: nothing to free, nothing half-filled. */
        assert_null(m.root);
        assert_null(m.params);
        assert_null(m.result);
        assert_string_equal(m.method, "");
        xlmig__rpc_msg_dispose(&m);
    }
}

static void test_decode_bytes(void **state)
{
    static const char nul_inside[] = "{\"v\":1,\"id\":1,\"method\":\"m\"}";
    struct xlmig__rpc_msg m;
    char why[XLMIG__RPC_WHY_MAX], *big;
    size_t n;

    (void)state;
    /* A NUL byte in the text, even after a complete message. */
    assert_int_equal(xlmig__rpc_decode(nul_inside, sizeof(nul_inside), &m,
                                       why, sizeof(why)),
                     LIBXLMIG_ERR_PROTOCOL);
    assert_contains(why, "a NUL byte at offset 27");
    /* Not NUL-ended: only @len bytes are read. */
    assert_int_equal(xlmig__rpc_decode("{\"v\":1,\"id\":1,\"result\":1}xyz",
                                       25, &m, why, sizeof(why)), 0);
    xlmig__rpc_msg_dispose(&m);
    /* Empty; too big (checked before anything else). */
    assert_int_equal(xlmig__rpc_decode("", 0, &m, why, sizeof(why)),
                     LIBXLMIG_ERR_PROTOCOL);
    assert_contains(why, "the message is empty");
    n = XLMIG__RPC_FRAME_MAX + 1;
    big = malloc(n);
    assert_non_null(big);
    memset(big, ' ', n);
    assert_int_equal(xlmig__rpc_decode(big, n, &m, why, sizeof(why)),
                     LIBXLMIG_ERR_PROTOCOL);
    assert_contains(why, "65537 bytes, more than the 65536");
    free(big);
    /* No message, no text; no room for why. */
    assert_int_equal(xlmig__rpc_decode("{}", 2, NULL, why, sizeof(why)),
                     LIBXLMIG_ERR_INVALID_ARGUMENT);
    assert_int_equal(xlmig__rpc_decode(NULL, 2, &m, why, sizeof(why)),
                     LIBXLMIG_ERR_INVALID_ARGUMENT);
    assert_null(m.root);
    assert_int_equal(xlmig__rpc_decode("[]", 2, &m, NULL, 0),
                     LIBXLMIG_ERR_PROTOCOL);
    /* A short why buffer is cut, still NUL-ended. */
    memset(why, 'z', sizeof(why));
    assert_int_equal(xlmig__rpc_decode("[]", 2, &m, why, 8),
                     LIBXLMIG_ERR_PROTOCOL);
    assert_int_equal(strlen(why), 7);
}

static void test_names(void **state)
{
    (void)state;
    assert_true(xlmig__rpc_method_name_ok("a"));
    assert_true(xlmig__rpc_method_name_ok("pool.slot_acquire-2"));
    assert_false(xlmig__rpc_method_name_ok(NULL));
    assert_false(xlmig__rpc_method_name_ok("A"));
    assert_true(xlmig__rpc_error_name_ok("TOO_MANY_MIGRATIONS"));
    assert_true(xlmig__rpc_error_name_ok("E2"));
    assert_false(xlmig__rpc_error_name_ok("E-2"));
    assert_false(xlmig__rpc_error_name_ok("e"));
    assert_false(xlmig__rpc_error_name_ok(""));
    assert_false(xlmig__rpc_error_name_ok(NULL));
}

static void test_getters(void **state)
{
    struct xlmig__rpc_msg m;
    static const struct {
        const char *key;
        int rc;
        uint64_t v;
    } uints[] = {
        { "u", 0, UINT64_MAX },
        { "z", 0, 0 },
        { "i", 0, 42 },
        { "neg", LIBXLMIG_ERR_INVALID_ARGUMENT, 0 },
        { "f", LIBXLMIG_ERR_INVALID_ARGUMENT, 0 },
        { "e", LIBXLMIG_ERR_INVALID_ARGUMENT, 0 },
        { "big", LIBXLMIG_ERR_INVALID_ARGUMENT, 0 },
        { "s", LIBXLMIG_ERR_INVALID_ARGUMENT, 0 },
        { "t", LIBXLMIG_ERR_INVALID_ARGUMENT, 0 },
        { "n", LIBXLMIG_ERR_INVALID_ARGUMENT, 0 },
        { "missing", LIBXLMIG_ERR_NOT_FOUND, 0 },
    };
    size_t i;
    bool b;

    (void)state;
    decode_ok("{\"v\":1,\"id\":1,\"method\":\"m\",\"params\":{\"s\":\"x\","
              "\"u\":18446744073709551615,\"z\":0,\"i\":42,\"neg\":-1,"
              "\"f\":1.5,\"e\":1e3,\"big\":18446744073709551616,"
              "\"t\":true,\"fa\":false,\"n\":null,\"o\":{\"a\":1}}}", &m);
    for (i = 0; i < ARRAY_LEN(uints); i++) {
        uint64_t v = 12345;
        int rc = xlmig__rpc_get_uint(m.params, uints[i].key, &v);

        if (rc != uints[i].rc)
            fail_msg("get_uint(%s) gave %d, not %d", uints[i].key, rc,
                     uints[i].rc);
        if (rc == 0)
            assert_true(v == uints[i].v);
        else
            assert_true(v == 12345);        /* untouched */
    }
    assert_string_equal(xlmig__rpc_get_str(m.params, "s"), "x");
    assert_null(xlmig__rpc_get_str(m.params, "u"));
    assert_null(xlmig__rpc_get_str(m.params, "o"));
    assert_null(xlmig__rpc_get_str(m.params, "missing"));
    assert_null(xlmig__rpc_get_str(NULL, "s"));
    assert_null(xlmig__rpc_get_str(m.params, NULL));
    assert_null(xlmig__rpc_get_str(xlmig__rpc_get(m.params, "s"), "s"));

    b = false;
    assert_int_equal(xlmig__rpc_get_bool(m.params, "t", &b), 0);
    assert_true(b);
    assert_int_equal(xlmig__rpc_get_bool(m.params, "fa", &b), 0);
    assert_false(b);
    b = true;
    assert_int_equal(xlmig__rpc_get_bool(m.params, "s", &b),
                     LIBXLMIG_ERR_INVALID_ARGUMENT);
    assert_int_equal(xlmig__rpc_get_bool(m.params, "z", &b),
                     LIBXLMIG_ERR_INVALID_ARGUMENT);
    assert_int_equal(xlmig__rpc_get_bool(m.params, "n", &b),
                     LIBXLMIG_ERR_INVALID_ARGUMENT);
    assert_int_equal(xlmig__rpc_get_bool(m.params, "missing", &b),
                     LIBXLMIG_ERR_NOT_FOUND);
    assert_int_equal(xlmig__rpc_get_bool(NULL, "t", &b),
                     LIBXLMIG_ERR_NOT_FOUND);
    assert_true(b);
    assert_non_null(xlmig__rpc_get(m.params, "o"));
    assert_null(xlmig__rpc_get(m.params, "a"));
    xlmig__rpc_msg_dispose(&m);
}

/* ------------------------------------------------------------ frames */

/*
 * A socketpair: @a, ours (our context), reads and writes frames; the
 * other end is either a transport @b (the peer's context) or the raw
 * socket @raw for crafted bytes.
 */
struct pair {
    libxlmig_transport *a;
    libxlmig_transport *b;
    int raw;
};

static void pair_open(struct pair *p, bool raw)
{
    int sv[2];

    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv),
                     0);
    assert_int_equal(libxlmig_transport_fd_new(ctx, sv[0], sv[0], &p->a), 0);
    p->b = NULL;
    p->raw = -1;
    if (raw)
        p->raw = sv[1];
    else
        assert_int_equal(libxlmig_transport_fd_new(peer_ctx, sv[1], sv[1],
                                                   &p->b), 0);
}

static void pair_close(struct pair *p)
{
    libxlmig_transport_free(p->a);
    libxlmig_transport_free(p->b);
    if (p->raw >= 0)
        close(p->raw);
    memset(p, 0, sizeof(*p));
    p->raw = -1;
}

static void raw_send(struct pair *p, const void *data, size_t len)
{
    assert_int_equal(xlmig__write_all(p->raw, data, len), 0);
}

static void raw_end(struct pair *p)
{
    assert_int_equal(shutdown(p->raw, SHUT_WR), 0);
}

struct writer {
    libxlmig_transport *t;
    const char *json;
    size_t len;
    int rc;
};

static void *writer_main(void *arg)
{
    struct writer *w = arg;

    w->rc = xlmig__rpc_write_frame(peer_ctx, w->t, w->json, w->len);
    return NULL;
}

static void test_frame_round_trip(void **state)
{
    static const char *const msgs[] = {
        "{\"v\":1,\"id\":1,\"method\":\"m\"}", "x", "{}",
    };
    struct pair p;
    char *json = (char *)1, *big;
    size_t len = 9, i;
    pthread_t th;
    struct writer w;

    (void)state;
    pair_open(&p, false);
    for (i = 0; i < ARRAY_LEN(msgs); i++)
        assert_int_equal(xlmig__rpc_write_frame(peer_ctx, p.b, msgs[i],
                                                strlen(msgs[i])), 0);
    for (i = 0; i < ARRAY_LEN(msgs); i++) {
        assert_int_equal(xlmig__rpc_read_frame(ctx, p.a, "h2:7700", &json,
                                               &len), 0);
        assert_int_equal(len, strlen(msgs[i]));
        assert_string_equal(json, msgs[i]);
        free(json);
    }

    /* The largest frame, 65536 bytes, from another thread. */
    big = malloc(XLMIG__RPC_FRAME_MAX);
    assert_non_null(big);
    for (i = 0; i < XLMIG__RPC_FRAME_MAX; i++)
        big[i] = (char)('a' + i % 26);
    w.t = p.b;
    w.json = big;
    w.len = XLMIG__RPC_FRAME_MAX;
    w.rc = -99;
    assert_int_equal(pthread_create(&th, NULL, writer_main, &w), 0);
    assert_int_equal(xlmig__rpc_read_frame(ctx, p.a, "h2:7700", &json, &len),
                     0);
    assert_int_equal(pthread_join(th, NULL), 0);
    assert_int_equal(w.rc, 0);
    assert_int_equal(len, XLMIG__RPC_FRAME_MAX);
    assert_memory_equal(json, big, XLMIG__RPC_FRAME_MAX);
    assert_int_equal(json[XLMIG__RPC_FRAME_MAX], '\0');
    free(json);

    /* A clean end before a frame: 1, nothing returned, nothing logged. */
    assert_int_equal(p.b->ops->shutdown_write(p.b), 0);
    reset_log();
    json = (char *)1;
    len = 9;
    assert_int_equal(xlmig__rpc_read_frame(ctx, p.a, "h2:7700", &json, &len),
                     1);
    assert_null(json);
    assert_int_equal(len, 0);
    assert_int_equal(cap.count, 0);
    /* And again: still the end. */
    assert_int_equal(xlmig__rpc_read_frame(ctx, p.a, "h2:7700", &json, &len),
                     1);

    /* Refused writes: empty, too big. */
    reset_log();
    assert_int_equal(xlmig__rpc_write_frame(ctx, p.a, "", 0),
                     LIBXLMIG_ERR_INVALID_ARGUMENT);
    assert_contains(libxlmig_ctx_last_error(ctx), "INVALID_VALUE: refusing "
                    "to send a message of 0 bytes; a frame holds 1 to 65536");
    assert_int_equal(xlmig__rpc_write_frame(ctx, p.a, big,
                                            XLMIG__RPC_FRAME_MAX + 1),
                     LIBXLMIG_ERR_INVALID_ARGUMENT);
    assert_contains(libxlmig_ctx_last_error(ctx), "65537 bytes");
    free(big);
    pair_close(&p);
}

/* The bytes of a frame header of @len. */
static void put_len(uint8_t h[4], uint32_t len)
{
    h[0] = (uint8_t)(len >> 24);
    h[1] = (uint8_t)(len >> 16);
    h[2] = (uint8_t)(len >> 8);
    h[3] = (uint8_t)len;
}

static void test_frame_bad_length(void **state)
{
    static const struct {
        uint32_t len;
        const char *want;
    } cases[] = {
        { XLMIG__RPC_FRAME_MAX + 1, "PROTOCOL_ERROR: h2:7700 sent a frame "
          "of 65537 bytes, more than the 65536 a message may have" },
        { 0xffffffffu, "sent a frame of 4294967295 bytes, more than the "
          "65536" },
        { 0x7fffffffu, "sent a frame of 2147483647 bytes" },
        { 0, "PROTOCOL_ERROR: h2:7700 sent a frame of length 0; a frame "
          "holds 1 to 65536 bytes" },
    };
    size_t i;

    (void)state;
    for (i = 0; i < ARRAY_LEN(cases); i++) {
        static const char after[] = "AFTER";
        struct pair p;
        uint8_t h[4];
        char *json = (char *)1, rest[sizeof(after)];
        size_t len = 9, got = 0;

        pair_open(&p, true);
        put_len(h, cases[i].len);
        raw_send(&p, h, sizeof(h));
        raw_send(&p, after, sizeof(after));
        raw_end(&p);            /* a reader that took the length hits EOF */
        reset_log();
        assert_int_equal(xlmig__rpc_read_frame(ctx, p.a, "h2:7700", &json,
                                               &len), LIBXLMIG_ERR_PROTOCOL);
        assert_null(json);
        assert_int_equal(len, 0);
        assert_contains(libxlmig_ctx_last_error(ctx), cases[i].want);
        assert_int_equal(cap.count, 1);
        /*
         * Refused on the length alone: the bytes after the header are
         * still unread, so nothing was allocated or read for them.
         */
        assert_int_equal(xlmig__transport_read_exact(p.a, rest, sizeof(rest),
                                                     &got), 0);
        assert_int_equal(got, sizeof(rest));
        assert_memory_equal(rest, after, sizeof(after));
        pair_close(&p);
    }
}

static void test_frame_truncated(void **state)
{
    struct pair p;
    uint8_t h[4];
    char *json = NULL;
    size_t len = 0;

    (void)state;
    /* Inside the length. */
    pair_open(&p, true);
    raw_send(&p, "\0\0", 2);
    raw_end(&p);
    reset_log();
    assert_int_equal(xlmig__rpc_read_frame(ctx, p.a, NULL, &json, &len),
                     LIBXLMIG_ERR_PROTOCOL);
    assert_contains(libxlmig_ctx_last_error(ctx), "the connection from the "
                    "peer ended inside a frame's length (2 of 4 bytes)");
    assert_null(json);
    pair_close(&p);

    /* Inside the message. */
    pair_open(&p, true);
    put_len(h, 100);
    raw_send(&p, h, sizeof(h));
    raw_send(&p, "{\"v\":1", 6);
    raw_end(&p);
    reset_log();
    assert_int_equal(xlmig__rpc_read_frame(ctx, p.a, "h2:7700", &json, &len),
                     LIBXLMIG_ERR_PROTOCOL);
    assert_contains(libxlmig_ctx_last_error(ctx), "the connection from "
                    "h2:7700 ended inside a message, after 6 of 100 bytes");
    assert_null(json);
    assert_int_equal(len, 0);
    assert_int_equal(cap.count, 1);
    pair_close(&p);

    /* Only a header. */
    pair_open(&p, true);
    put_len(h, 1);
    raw_send(&p, h, sizeof(h));
    raw_end(&p);
    assert_int_equal(xlmig__rpc_read_frame(ctx, p.a, "h2:7700", &json, &len),
                     LIBXLMIG_ERR_PROTOCOL);
    assert_contains(libxlmig_ctx_last_error(ctx), "after 0 of 1 bytes");
    pair_close(&p);
}

/* ------------------------------------------------------------ calls */

/* The peer's side: queue frames before the call (they fit the socket). */
static void peer_send(struct pair *p, const char *json)
{
    assert_int_equal(xlmig__rpc_write_frame(peer_ctx, p->b, json,
                                            strlen(json)), 0);
}

struct seen_events {
    int count;
    char names[4][XLMIG__RPC_NAME_MAX + 1];
    uint64_t slots[4];
};

static void on_event(const struct xlmig__rpc_msg *ev, void *opaque)
{
    struct seen_events *s = opaque;

    assert_int_equal(ev->kind, XLMIG__RPC_EVENT);
    if (s->count < 4) {
        xlmig__strlcpy(s->names[s->count], ev->method,
                       sizeof(s->names[0]));
        if (xlmig__rpc_get_uint(ev->params, "slot", &s->slots[s->count]))
            s->slots[s->count] = 999;
    }
    s->count++;
}

/* A request to send: pool.slot_acquire {"vm":"web1"} of @id. */
static char *make_request(uint64_t id, size_t *len_r)
{
    yajl_gen g = xlmig__rpc_gen_request(id, "pool.slot_acquire");
    char *json = NULL;

    assert_non_null(g);
    assert_true(gen_kv_str(g, "vm", "web1"));
    assert_int_equal(xlmig__rpc_gen_finish(g, &json, len_r), 0);
    return json;
}

static void test_call_events_then_result(void **state)
{
    struct seen_events seen;
    struct xlmig__rpc_msg resp, got;
    struct pair p;
    char *req, *text = NULL;
    size_t len, text_len = 0;
    uint64_t slot = 0;

    (void)state;
    pair_open(&p, false);
    peer_send(&p, "{\"v\":1,\"event\":\"slot.waiting\",\"params\":"
                  "{\"slot\":0}}");
    peer_send(&p, "{\"v\":1,\"event\":\"slot.granted\",\"params\":"
                  "{\"slot\":2}}");
    peer_send(&p, "{\"v\":1,\"event\":\"no.params\"}");
    peer_send(&p, "{\"v\":1,\"id\":77,\"result\":{\"slot\":2}}");
    /* Something after the response stays for the next call. */
    peer_send(&p, "{\"v\":1,\"event\":\"later\",\"params\":{}}");

    req = make_request(77, &len);
    memset(&seen, 0, sizeof(seen));
    reset_log();
    assert_int_equal(xlmig__rpc_call(ctx, p.a, "h2:7700", req, len, 77,
                                     on_event, &seen, &resp), 0);
    assert_int_equal(cap.count, 0);
    assert_int_equal(seen.count, 3);
    assert_string_equal(seen.names[0], "slot.waiting");
    assert_true(seen.slots[0] == 0);
    assert_string_equal(seen.names[1], "slot.granted");
    assert_true(seen.slots[1] == 2);
    assert_string_equal(seen.names[2], "no.params");
    assert_true(seen.slots[2] == 999);
    assert_int_equal(resp.kind, XLMIG__RPC_RESPONSE);
    assert_true(resp.id == 77);
    assert_false(resp.is_error);
    assert_int_equal(xlmig__rpc_get_uint(resp.result, "slot", &slot), 0);
    assert_true(slot == 2);
    xlmig__rpc_msg_dispose(&resp);

    /* The server got our request, whole. */
    assert_int_equal(xlmig__rpc_read_frame(peer_ctx, p.b, NULL, &text,
                                           &text_len), 0);
    assert_int_equal(text_len, len);
    assert_string_equal(text, req);
    decode_ok(text, &got);
    assert_string_equal(got.method, "pool.slot_acquire");
    assert_string_equal(xlmig__rpc_get_str(got.params, "vm"), "web1");
    xlmig__rpc_msg_dispose(&got);
    free(text);
    free(req);

    /* Without a callback, events are dropped. */
    peer_send(&p, "{\"v\":1,\"id\":78,\"result\":null}");
    req = make_request(78, &len);
    assert_int_equal(xlmig__rpc_call(ctx, p.a, "h2:7700", req, len, 78, NULL,
                                     NULL, &resp), 0);
    assert_true(YAJL_IS_NULL(resp.result));
    xlmig__rpc_msg_dispose(&resp);
    free(req);
    pair_close(&p);
}

static void test_call_error(void **state)
{
    struct seen_events seen;
    struct xlmig__rpc_msg resp;
    struct pair p;
    char *req, *err = NULL;
    size_t len, err_len = 0;
    static const char *const params[] = { "3" };

    (void)state;
    pair_open(&p, false);
    peer_send(&p, "{\"v\":1,\"event\":\"slot.waiting\",\"params\":{}}");
    assert_int_equal(xlmig__rpc_encode_error(
                         5, LIBXLMIG_ERR_TOO_MANY_MIGRATIONS,
                         "TOO_MANY_MIGRATIONS: the pool runs 3 migrations, "
                         "its limit;\nwait", params, 1, &err, &err_len), 0);
    peer_send(&p, err);
    free(err);

    req = make_request(5, &len);
    memset(&seen, 0, sizeof(seen));
    reset_log();
    assert_int_equal(xlmig__rpc_call(ctx, p.a, "h2:7700", req, len, 5,
                                     on_event, &seen, &resp),
                     LIBXLMIG_ERR_TOO_MANY_MIGRATIONS);
    assert_int_equal(seen.count, 1);
    assert_int_equal(cap.count, 1);
    /* The name once, the peer, the method, the message (newline shown). */
    assert_string_equal(libxlmig_ctx_last_error(ctx),
                        "TOO_MANY_MIGRATIONS: h2:7700 refused "
                        "pool.slot_acquire: the pool runs 3 migrations, its "
                        "limit;?wait");
    assert_true(resp.is_error);
    assert_string_equal(resp.err_name, "TOO_MANY_MIGRATIONS");
    assert_int_equal(resp.nr_err_params, 1);
    assert_string_equal(resp.err_params[0], "3");
    xlmig__rpc_msg_dispose(&resp);
    free(req);

    /* An error name this libxlmig does not know: PROTOCOL_ERROR. */
    peer_send(&p, "{\"v\":1,\"id\":6,\"error\":{\"name\":\"FROM_THE_FUTURE\","
                  "\"message\":\"m\"}}");
    req = make_request(6, &len);
    reset_log();
    assert_int_equal(xlmig__rpc_call(ctx, p.a, "h2:7700", req, len, 6, NULL,
                                     NULL, &resp), LIBXLMIG_ERR_PROTOCOL);
    assert_contains(libxlmig_ctx_last_error(ctx),
                    "PROTOCOL_ERROR: h2:7700 answered pool.slot_acquire "
                    "with error FROM_THE_FUTURE, which this libxlmig does "
                    "not know: m");
    assert_true(resp.is_error);
    assert_string_equal(resp.err_name, "FROM_THE_FUTURE");
    xlmig__rpc_msg_dispose(&resp);
    free(req);

    /* "SUCCESS" is no error. */
    peer_send(&p, "{\"v\":1,\"id\":7,\"error\":{\"name\":\"SUCCESS\"}}");
    req = make_request(7, &len);
    assert_int_equal(xlmig__rpc_call(ctx, p.a, "h2:7700", req, len, 7, NULL,
                                     NULL, &resp), LIBXLMIG_ERR_PROTOCOL);
    xlmig__rpc_msg_dispose(&resp);
    free(req);

    /* No message: the code's own text. */
    peer_send(&p, "{\"v\":1,\"id\":8,\"error\":{\"name\":\"HOST_DISABLED\"}}");
    req = make_request(8, &len);
    assert_int_equal(xlmig__rpc_call(ctx, p.a, NULL, req, len, 8, NULL,
                                     NULL, &resp),
                     LIBXLMIG_ERR_HOST_DISABLED);
    assert_string_equal(libxlmig_ctx_last_error(ctx),
                        "HOST_DISABLED: the peer refused pool.slot_acquire: "
                        "the host is disabled");
    xlmig__rpc_msg_dispose(&resp);
    free(req);
    pair_close(&p);
}

static void test_call_broken_server(void **state)
{
    static const struct {
        const char *reply;      /* NULL: the server ends its side */
        const char *want;
    } cases[] = {
        { NULL, "PROTOCOL_ERROR: h2:7700 closed the connection before "
          "answering pool.slot_acquire (request 3)" },
        { "{\"v\":1,\"id\":4,\"result\":1}", "PROTOCOL_ERROR: h2:7700 "
          "answered request 4 while request 3 (pool.slot_acquire) was the "
          "one outstanding" },
        { "{\"v\":1,\"id\":3,\"method\":\"host.ping\"}", "h2:7700 sent us a "
          "request (host.ping) while we waited for the answer to "
          "pool.slot_acquire" },
        { "not json", "PROTOCOL_ERROR: h2:7700 sent a message we cannot "
          "read while we waited for the answer to pool.slot_acquire: not "
          "valid JSON" },
        { "{\"v\":2,\"id\":3,\"result\":1}", "cannot read while we waited "
          "for the answer to pool.slot_acquire: version 2, but this "
          "libxlmig speaks version 1 only" },
    };
    size_t i;

    (void)state;
    for (i = 0; i < ARRAY_LEN(cases); i++) {
        struct seen_events seen;
        struct xlmig__rpc_msg resp;
        struct pair p;
        char *req;
        size_t len;

        pair_open(&p, false);
        peer_send(&p, "{\"v\":1,\"event\":\"e\",\"params\":{}}");
        if (cases[i].reply)
            peer_send(&p, cases[i].reply);
        else
            assert_int_equal(p.b->ops->shutdown_write(p.b), 0);
        req = make_request(3, &len);
        memset(&seen, 0, sizeof(seen));
        memset(&resp, 0x5a, sizeof(resp));
        reset_log();
        assert_int_equal(xlmig__rpc_call(ctx, p.a, "h2:7700", req, len, 3,
                                         on_event, &seen, &resp),
                         LIBXLMIG_ERR_PROTOCOL);
        assert_contains(libxlmig_ctx_last_error(ctx), cases[i].want);
        assert_int_equal(cap.count, 1);
        assert_int_equal(seen.count, 1);
        assert_null(resp.root);             /* nothing to dispose */
        xlmig__rpc_msg_dispose(&resp);
        free(req);
        pair_close(&p);
    }
}

static void test_call_bad_request(void **state)
{
    struct xlmig__rpc_msg resp;
    struct pair p;
    char *req;
    size_t len;
    static const char not_request[] = "{\"v\":1,\"id\":3,\"result\":1}";

    (void)state;
    pair_open(&p, false);
    req = make_request(3, &len);
    reset_log();
    /* Another id than the request's. */
    assert_int_equal(xlmig__rpc_call(ctx, p.a, "h2:7700", req, len, 4, NULL,
                                     NULL, &resp),
                     LIBXLMIG_ERR_INVALID_ARGUMENT);
    assert_contains(libxlmig_ctx_last_error(ctx), "not sending a bad "
                    "request: it is not a request of id 4");
    /* Not a request at all; not JSON. */
    assert_int_equal(xlmig__rpc_call(ctx, p.a, "h2:7700", not_request,
                                     strlen(not_request), 3, NULL, NULL,
                                     &resp), LIBXLMIG_ERR_INVALID_ARGUMENT);
    assert_int_equal(xlmig__rpc_call(ctx, p.a, "h2:7700", "{", 1, 3, NULL,
                                     NULL, &resp),
                     LIBXLMIG_ERR_INVALID_ARGUMENT);
    assert_contains(libxlmig_ctx_last_error(ctx), "not valid JSON");
    assert_null(resp.root);
    free(req);
    /* Nothing was sent. */
    assert_int_equal(p.a->ops->shutdown_write(p.a), 0);
    {
        char *text = (char *)1;
        size_t text_len = 1;

        assert_int_equal(xlmig__rpc_read_frame(peer_ctx, p.b, NULL, &text,
                                               &text_len), 1);
    }
    pair_close(&p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_request_round_trip),
        cmocka_unit_test(test_result_round_trip),
        cmocka_unit_test(test_error_round_trip),
        cmocka_unit_test(test_error_message_sanitized),
        cmocka_unit_test(test_event_round_trip),
        cmocka_unit_test(test_gen_refuses),
        cmocka_unit_test(test_decode_accepts),
        cmocka_unit_test(test_decode_rejects),
        cmocka_unit_test(test_decode_bytes),
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_getters),
        cmocka_unit_test(test_frame_round_trip),
        cmocka_unit_test(test_frame_bad_length),
        cmocka_unit_test(test_frame_truncated),
        cmocka_unit_test(test_call_events_then_result),
        cmocka_unit_test(test_call_error),
        cmocka_unit_test(test_call_broken_server),
        cmocka_unit_test(test_call_bad_request),
    };

    return cmocka_run_group_tests_name("rpc", tests, group_setup,
                                       group_teardown);
}

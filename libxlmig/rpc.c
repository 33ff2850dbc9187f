/* SPDX-License-Identifier: LGPL-2.1-only */
/*
 * The pool RPC message layer (docs/specs/rpc.md): length-prefixed frames
 * of one JSON message each over a transport, and the messages'
 * envelope.
 *
 * Decoding runs yajl twice over at most XLMIG__RPC_FRAME_MAX bytes, as
 * the CPU records do (jsonfile.c): first its event parser with callbacks
 * that only watch (syntax, nesting depth, NUL characters and UTF-8 in
 * strings), then yajl_tree_parse() on text known to be good.  The tree is then
 * checked for duplicate member names at every level, so that the
 * getters of params have one answer.  Encoding goes through yajl_gen,
 * and every text an encoder hands out is decoded once more first: what
 * we send, we would read.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yajl/yajl_tree.h>

#include "featureset.h"
#include "internal.h"
#include "jsonfile.h"
#include "rpc.h"
#include "transport.h"

/* The parsers' helpers (jsonfile.h), by their short names. */
#define say xlmig__say
#define find xlmig__json_find

#define FRAME_HDR_LEN 4
#define QUOTED_MAX (XLMIG__QUOTE_MAX + 8)
#define UINT64_MAX_TEXT "18446744073709551615"

/* ------------------------------------------------------------ helpers */

/*
 * The length of the UTF-8 character at @s (@n bytes left), RFC 3629
 * strictly: no overlong forms, no surrogates, nothing above U+10FFFF.
 * 0 when the bytes there are not one.
 */
static size_t utf8_char_len(const unsigned char *s, size_t n)
{
    unsigned char c = s[0], lo = 0x80, hi = 0xbf;
    size_t len, i;

    if (c < 0x80)
        return 1;
    if (c >= 0xc2 && c <= 0xdf) {
        len = 2;
    } else if (c >= 0xe0 && c <= 0xef) {
        len = 3;
        if (c == 0xe0)
            lo = 0xa0;
        else if (c == 0xed)
            hi = 0x9f;
    } else if (c >= 0xf0 && c <= 0xf4) {
        len = 4;
        if (c == 0xf0)
            lo = 0x90;
        else if (c == 0xf4)
            hi = 0x8f;
    } else {
        return 0;
    }
    if (n < len || s[1] < lo || s[1] > hi)
        return 0;
    for (i = 2; i < len; i++) {
        if (s[i] < 0x80 || s[i] > 0xbf)
            return 0;
    }
    return len;
}

static bool utf8_ok(const unsigned char *s, size_t n)
{
    size_t i = 0;

    while (i < n) {
        size_t l = utf8_char_len(s + i, n - i);

        if (!l)
            return false;
        i += l;
    }
    return true;
}

/* How many of the first @max bytes of valid UTF-8 @s to keep, whole. */
static size_t utf8_cut(const char *s, size_t n, size_t max)
{
    if (n <= max)
        return n;
    while (max > 0 && ((unsigned char)s[max] & 0xc0) == 0x80)
        max--;
    return max;
}

static bool method_byte_ok(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '_' || c == '-';
}

static bool error_byte_ok(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

static bool name_ok(const char *name, bool (*byte_ok)(char))
{
    size_t n, i;

    if (!name)
        return false;
    n = strnlen(name, XLMIG__RPC_NAME_MAX + 1);
    if (n < 1 || n > XLMIG__RPC_NAME_MAX)
        return false;
    for (i = 0; i < n; i++) {
        if (!byte_ok(name[i]))
            return false;
    }
    return true;
}

bool xlmig__rpc_method_name_ok(const char *name)
{
    return name_ok(name, method_byte_ok);
}

bool xlmig__rpc_error_name_ok(const char *name)
{
    return name_ok(name, error_byte_ok);
}

#define METHOD_RULE "1 to 63 bytes of a-z, 0-9, '.', '_' and '-'"
#define ERROR_RULE "1 to 63 bytes of A-Z, 0-9 and '_'"

/*
 * A JSON integer 0..2^64-1 written without sign, fraction or exponent,
 * from the number's own text (yajl_tree's integer is an int64).
 */
static bool uint_of(yajl_val v, uint64_t *out)
{
    const char *s;
    uint64_t x = 0;
    size_t i;

    if (!YAJL_IS_NUMBER(v) || !v->u.number.r)
        return false;
    s = v->u.number.r;
    if (!s[0] || (s[0] == '0' && s[1]))
        return false;
    for (i = 0; s[i]; i++) {
        unsigned d;

        if (s[i] < '0' || s[i] > '9')
            return false;
        d = (unsigned)(s[i] - '0');
        if (x > (UINT64_MAX - d) / 10)
            return false;
        x = x * 10 + d;
    }
    *out = x;
    return true;
}

static const char *json_type_name(yajl_val v)
{
    switch (v->type) {
    case yajl_t_string:
        return "a string";
    case yajl_t_number:
        return "a number";
    case yajl_t_object:
        return "an object";
    case yajl_t_array:
        return "an array";
    case yajl_t_true:
        return "true";
    case yajl_t_false:
        return "false";
    case yajl_t_null:
        return "null";
    default:
        return "of an unknown JSON type";
    }
}

/* What @v is, for "member X is ...": a number's own text, else its type. */
static const char *describe(yajl_val v, char *buf, size_t len)
{
    if (YAJL_IS_NUMBER(v) && v->u.number.r) {
        xlmig__quote(v->u.number.r, 0, buf, len);
        return buf;
    }
    return json_type_name(v);
}

/* ------------------------------------------------------------ decoding */

/* What differs in messages from the other JSON texts (jsonfile.h). */
static const struct xlmig__json_kind msg_kind = {
    .what = "RPC message",
    .a_what = "a message",
    .invalid_rc = LIBXLMIG_ERR_PROTOCOL,
    .max_bytes = XLMIG__RPC_FRAME_MAX,
    .depth_max = XLMIG__RPC_DEPTH_MAX,
    .string_ok = utf8_ok,
    .string_bad = "a JSON string is not valid UTF-8 (an overlong form or a "
                  "lone surrogate)",
};

static int key_cmp(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* No object in @v has a member name twice.  Depth is already capped. */
static int tree_check(yajl_val v, char *why, size_t why_len)
{
    size_t i, n;
    int rc;

    if (YAJL_IS_ARRAY(v)) {
        for (i = 0; i < v->u.array.len; i++) {
            rc = tree_check(v->u.array.values[i], why, why_len);
            if (rc)
                return rc;
        }
        return 0;
    }
    if (!YAJL_IS_OBJECT(v))
        return 0;
    n = v->u.object.len;
    if (n > 1) {
        const char **keys = malloc(n * sizeof(*keys));

        if (!keys) {
            say(why, why_len, "no memory to check %zu members", n);
            return LIBXLMIG_ERR_NO_MEMORY;
        }
        memcpy(keys, v->u.object.keys, n * sizeof(*keys));
        qsort(keys, n, sizeof(*keys), key_cmp);
        for (i = 1; i < n; i++) {
            if (!strcmp(keys[i - 1], keys[i])) {
                char quoted[QUOTED_MAX];

                xlmig__quote(keys[i], 0, quoted, sizeof(quoted));
                say(why, why_len, "member \"%s\" appears more than once in "
                    "an object", quoted);
                free(keys);
                return LIBXLMIG_ERR_PROTOCOL;
            }
        }
        free(keys);
    }
    for (i = 0; i < n; i++) {
        rc = tree_check(v->u.object.values[i], why, why_len);
        if (rc)
            return rc;
    }
    return 0;
}

/* A name member ("method", "event", "name" of an error) into @out. */
static int decode_name(yajl_val v, const char *what, bool error_name,
                       char out[XLMIG__RPC_NAME_MAX + 1], char *why,
                       size_t why_len)
{
    char quoted[QUOTED_MAX];

    if (!YAJL_IS_STRING(v)) {
        say(why, why_len, "%s is %s, not a string", what,
            json_type_name(v));
        return LIBXLMIG_ERR_PROTOCOL;
    }
    if (!(error_name ? xlmig__rpc_error_name_ok(v->u.string)
                     : xlmig__rpc_method_name_ok(v->u.string))) {
        xlmig__quote(v->u.string, XLMIG__RPC_NAME_MAX, quoted,
                     sizeof(quoted));
        say(why, why_len, "%s \"%s\" is not a valid name: %s", what, quoted,
            error_name ? ERROR_RULE : METHOD_RULE);
        return LIBXLMIG_ERR_PROTOCOL;
    }
    xlmig__strlcpy(out, v->u.string, XLMIG__RPC_NAME_MAX + 1);
    return 0;
}

static int decode_error(yajl_val e, struct xlmig__rpc_msg *m, char *why,
                        size_t why_len)
{
    yajl_val v;
    size_t i;
    int rc;

    if (!YAJL_IS_OBJECT(e)) {
        say(why, why_len, "member \"error\" is %s, not an object",
            json_type_name(e));
        return LIBXLMIG_ERR_PROTOCOL;
    }
    v = find(e, "name");
    if (!v) {
        say(why, why_len, "the error has no \"name\"");
        return LIBXLMIG_ERR_PROTOCOL;
    }
    rc = decode_name(v, "the error's \"name\"", true, m->err_name, why,
                     why_len);
    if (rc)
        return rc;
    v = find(e, "message");
    if (v) {
        size_t n;

        if (!YAJL_IS_STRING(v)) {
            say(why, why_len, "the error's \"message\" is %s, not a string",
                json_type_name(v));
            return LIBXLMIG_ERR_PROTOCOL;
        }
        n = utf8_cut(v->u.string, strlen(v->u.string),
                     XLMIG__RPC_MESSAGE_MAX);
        memcpy(m->err_message, v->u.string, n);
        m->err_message[n] = '\0';
    }
    v = find(e, "params");
    if (!v)
        return 0;
    if (!YAJL_IS_ARRAY(v)) {
        say(why, why_len, "the error's \"params\" is %s, not an array",
            json_type_name(v));
        return LIBXLMIG_ERR_PROTOCOL;
    }
    if (v->u.array.len > XLMIG__RPC_ERR_PARAMS_MAX) {
        say(why, why_len, "the error has %zu params, more than %d",
            v->u.array.len, XLMIG__RPC_ERR_PARAMS_MAX);
        return LIBXLMIG_ERR_PROTOCOL;
    }
    for (i = 0; i < v->u.array.len; i++) {
        yajl_val p = v->u.array.values[i];
        size_t n;

        if (!YAJL_IS_STRING(p)) {
            say(why, why_len, "param %zu of the error is %s, not a string",
                i, json_type_name(p));
            return LIBXLMIG_ERR_PROTOCOL;
        }
        n = strlen(p->u.string);
        if (n > XLMIG__RPC_ERR_PARAM_MAX) {
            say(why, why_len, "param %zu of the error has %zu bytes, more "
                "than %d", i, n, XLMIG__RPC_ERR_PARAM_MAX);
            return LIBXLMIG_ERR_PROTOCOL;
        }
        memcpy(m->err_params[i], p->u.string, n + 1);
    }
    m->nr_err_params = (unsigned int)v->u.array.len;
    return 0;
}

/* The members of the top-level object, once the tree is known good. */
static int decode_envelope(yajl_val root, struct xlmig__rpc_msg *m,
                           char *why, size_t why_len)
{
    static const char *const kinds[] = { "method", "result", "error",
                                         "event" };
    yajl_val v, id, params, kind_val = NULL;
    const char *kind = NULL;
    char buf[QUOTED_MAX];
    size_t i;
    int rc;

    if (!YAJL_IS_OBJECT(root)) {
        say(why, why_len, "the message is %s, not a JSON object",
            json_type_name(root));
        return LIBXLMIG_ERR_PROTOCOL;
    }
    rc = tree_check(root, why, why_len);
    if (rc)
        return rc;

    v = find(root, "v");
    if (!v) {
        say(why, why_len, "member \"v\" (the version) is missing");
        return LIBXLMIG_ERR_PROTOCOL;
    }
    if (!YAJL_IS_INTEGER(v)) {
        say(why, why_len, "member \"v\" (the version) is %s, not the "
            "integer %d", describe(v, buf, sizeof(buf)), XLMIG__RPC_VERSION);
        return LIBXLMIG_ERR_PROTOCOL;
    }
    if (YAJL_GET_INTEGER(v) != XLMIG__RPC_VERSION) {
        say(why, why_len, "version %lld, but this libxlmig speaks version "
            "%d only", (long long)YAJL_GET_INTEGER(v), XLMIG__RPC_VERSION);
        return LIBXLMIG_ERR_PROTOCOL;
    }

    for (i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
        yajl_val k = find(root, kinds[i]);

        if (!k)
            continue;
        if (kind) {
            say(why, why_len, "the message has both \"%s\" and \"%s\"; "
                "exactly one of \"method\", \"result\", \"error\" and "
                "\"event\" says what it is", kind, kinds[i]);
            return LIBXLMIG_ERR_PROTOCOL;
        }
        kind = kinds[i];
        kind_val = k;
    }
    if (!kind) {
        say(why, why_len, "the message has none of \"method\", \"result\", "
            "\"error\" and \"event\"");
        return LIBXLMIG_ERR_PROTOCOL;
    }
    if (!strcmp(kind, "method"))
        m->kind = XLMIG__RPC_REQUEST;
    else if (!strcmp(kind, "event"))
        m->kind = XLMIG__RPC_EVENT;
    else
        m->kind = XLMIG__RPC_RESPONSE;

    id = find(root, "id");
    if (m->kind == XLMIG__RPC_EVENT) {
        if (id) {
            say(why, why_len, "an event has no \"id\"");
            return LIBXLMIG_ERR_PROTOCOL;
        }
    } else {
        if (!id) {
            say(why, why_len, "member \"id\" is missing from a %s",
                m->kind == XLMIG__RPC_REQUEST ? "request" : "response");
            return LIBXLMIG_ERR_PROTOCOL;
        }
        if (!uint_of(id, &m->id)) {
            say(why, why_len, "member \"id\" is %s, not an integer from 0 "
                "to " UINT64_MAX_TEXT, describe(id, buf, sizeof(buf)));
            return LIBXLMIG_ERR_PROTOCOL;
        }
    }

    params = find(root, "params");
    if (params && m->kind == XLMIG__RPC_RESPONSE) {
        say(why, why_len, "a response has no \"params\"");
        return LIBXLMIG_ERR_PROTOCOL;
    }
    if (params && !YAJL_IS_OBJECT(params)) {
        say(why, why_len, "member \"params\" is %s, not an object",
            json_type_name(params));
        return LIBXLMIG_ERR_PROTOCOL;
    }

    switch (m->kind) {
    case XLMIG__RPC_REQUEST:
        rc = decode_name(kind_val, "member \"method\"", false, m->method,
                         why, why_len);
        if (rc)
            return rc;
        m->params = params;
        return 0;
    case XLMIG__RPC_EVENT:
        rc = decode_name(kind_val, "member \"event\"", false, m->method,
                         why, why_len);
        if (rc)
            return rc;
        m->params = params;
        return 0;
    case XLMIG__RPC_RESPONSE:
        break;
    }
    if (!strcmp(kind, "result")) {
        m->result = kind_val;
        return 0;
    }
    m->is_error = true;
    return decode_error(kind_val, m, why, why_len);
}

int xlmig__rpc_decode(const char *json, size_t len, struct xlmig__rpc_msg *m,
                      char *why, size_t why_len)
{
    yajl_val root = NULL;
    int rc;

    say(why, why_len, "%s", "");
    if (!m || !json) {
        say(why, why_len, "no message or no text to decode");
        if (m)
            memset(m, 0, sizeof(*m));
        return LIBXLMIG_ERR_INVALID_ARGUMENT;
    }
    memset(m, 0, sizeof(*m));
    if (len == 0) {
        say(why, why_len, "the message is empty");
        return LIBXLMIG_ERR_PROTOCOL;
    }
    if (len > XLMIG__RPC_FRAME_MAX) {
        say(why, why_len, "the message has %zu bytes, more than the %u a "
            "message may have", len, XLMIG__RPC_FRAME_MAX);
        return LIBXLMIG_ERR_PROTOCOL;
    }
    rc = xlmig__json_tree(&msg_kind, (const uint8_t *)json, len, &root,
                          why, why_len);
    if (rc)
        goto out;
    rc = decode_envelope(root, m, why, why_len);
    if (rc)
        goto out;
    m->root = root;
    root = NULL;                /* m owns it now */
 out:
    if (rc) {
        memset(m, 0, sizeof(*m));
        yajl_tree_free(root);
    }
    return rc;
}

void xlmig__rpc_msg_dispose(struct xlmig__rpc_msg *m)
{
    if (!m)
        return;
    yajl_tree_free(m->root);
    memset(m, 0, sizeof(*m));
}

/* ------------------------------------------------------------ encoding */

static bool gen_str(yajl_gen g, const char *s, size_t n)
{
    return yajl_gen_string(g, (const unsigned char *)s, n) ==
           yajl_gen_status_ok;
}

static bool gen_key(yajl_gen g, const char *key)
{
    return gen_str(g, key, strlen(key));
}

static bool gen_uint(yajl_gen g, uint64_t v)
{
    char text[24];
    int n = snprintf(text, sizeof(text), "%" PRIu64, v);

    return yajl_gen_number(g, text, (size_t)n) == yajl_gen_status_ok;
}

/* A compact generator with {"v":1 written. */
static yajl_gen gen_start(void)
{
    yajl_gen g = yajl_gen_alloc(NULL);

    if (!g)
        return NULL;
    if (!yajl_gen_config(g, yajl_gen_validate_utf8, 1) ||
        yajl_gen_map_open(g) != yajl_gen_status_ok || !gen_key(g, "v") ||
        yajl_gen_integer(g, XLMIG__RPC_VERSION) != yajl_gen_status_ok) {
        yajl_gen_free(g);
        return NULL;
    }
    return g;
}

yajl_gen xlmig__rpc_gen_request(uint64_t id, const char *method)
{
    yajl_gen g;

    if (!xlmig__rpc_method_name_ok(method))
        return NULL;
    g = gen_start();
    if (!g)
        return NULL;
    if (!gen_key(g, "id") || !gen_uint(g, id) || !gen_key(g, "method") ||
        !gen_key(g, method) || !gen_key(g, "params") ||
        yajl_gen_map_open(g) != yajl_gen_status_ok) {
        yajl_gen_free(g);
        return NULL;
    }
    return g;
}

yajl_gen xlmig__rpc_gen_event(const char *name)
{
    yajl_gen g;

    if (!xlmig__rpc_method_name_ok(name))
        return NULL;
    g = gen_start();
    if (!g)
        return NULL;
    if (!gen_key(g, "event") || !gen_key(g, name) ||
        !gen_key(g, "params") || yajl_gen_map_open(g) != yajl_gen_status_ok) {
        yajl_gen_free(g);
        return NULL;
    }
    return g;
}

yajl_gen xlmig__rpc_gen_result(uint64_t id)
{
    yajl_gen g = gen_start();

    if (!g)
        return NULL;
    if (!gen_key(g, "id") || !gen_uint(g, id) || !gen_key(g, "result")) {
        yajl_gen_free(g);
        return NULL;
    }
    return g;
}

/*
 * The text @g holds, if it decodes to a message of the kind that takes
 * @closes closing braces from where the caller stopped (requests and
 * events 2, responses 1; @closes 0: any), as a malloc'd copy.
 */
static int gen_copy_out(yajl_gen g, unsigned int closes, char **json_r,
                        size_t *len_r)
{
    struct xlmig__rpc_msg m;
    const unsigned char *out;
    size_t len;
    char *copy;
    int rc;

    if (yajl_gen_get_buf(g, &out, &len) != yajl_gen_status_ok)
        return LIBXLMIG_ERR_INVALID_ARGUMENT;
    rc = xlmig__rpc_decode((const char *)out, len, &m, NULL, 0);
    if (rc == LIBXLMIG_ERR_NO_MEMORY)
        return rc;
    if (rc)
        return LIBXLMIG_ERR_INVALID_ARGUMENT;
    if (closes && closes != (m.kind == XLMIG__RPC_RESPONSE ? 1u : 2u))
        rc = LIBXLMIG_ERR_INVALID_ARGUMENT;
    xlmig__rpc_msg_dispose(&m);
    if (rc)
        return rc;
    copy = malloc(len + 1);
    if (!copy)
        return LIBXLMIG_ERR_NO_MEMORY;
    memcpy(copy, out, len);
    copy[len] = '\0';
    *json_r = copy;             /* the caller frees it */
    *len_r = len;
    return 0;
}

int xlmig__rpc_gen_finish(yajl_gen g, char **json_r, size_t *len_r)
{
    unsigned int closes = 0;
    int rc;

    if (json_r)
        *json_r = NULL;
    if (len_r)
        *len_r = 0;
    if (!g || !json_r || !len_r) {
        rc = LIBXLMIG_ERR_INVALID_ARGUMENT;
        goto out;
    }
    /*
     * Close maps until yajl says the text is complete.  yajl does not
     * check that what it closes is a map, nor that a key has its value:
     * whatever the caller left wrong shows when the text is decoded, or
     * in the count of braces it took.
     */
    for (;;) {
        yajl_gen_status st = yajl_gen_map_close(g);

        if (st == yajl_gen_generation_complete)
            break;
        if (st != yajl_gen_status_ok || ++closes > XLMIG__RPC_DEPTH_MAX) {
            rc = LIBXLMIG_ERR_INVALID_ARGUMENT;
            goto out;
        }
    }
    rc = gen_copy_out(g, closes ? closes : ~0u, json_r, len_r);
 out:
    if (g)
        yajl_gen_free(g);
    return rc;
}

int xlmig__rpc_gen_value(yajl_gen g, yajl_val v)
{
    yajl_gen_status st;
    size_t i;
    int rc;

    if (!g || !v)
        return LIBXLMIG_ERR_INVALID_ARGUMENT;
    switch (v->type) {
    case yajl_t_string:
        st = yajl_gen_string(g, (const unsigned char *)v->u.string,
                             strlen(v->u.string));
        break;
    case yajl_t_number:
        if (!v->u.number.r)
            return LIBXLMIG_ERR_INVALID_ARGUMENT;
        st = yajl_gen_number(g, v->u.number.r, strlen(v->u.number.r));
        break;
    case yajl_t_true:
    case yajl_t_false:
        st = yajl_gen_bool(g, v->type == yajl_t_true);
        break;
    case yajl_t_null:
        st = yajl_gen_null(g);
        break;
    case yajl_t_object:
        if (yajl_gen_map_open(g) != yajl_gen_status_ok)
            return LIBXLMIG_ERR_INVALID_ARGUMENT;
        for (i = 0; i < v->u.object.len; i++) {
            if (!gen_key(g, v->u.object.keys[i]))
                return LIBXLMIG_ERR_INVALID_ARGUMENT;
            rc = xlmig__rpc_gen_value(g, v->u.object.values[i]);
            if (rc)
                return rc;
        }
        st = yajl_gen_map_close(g);
        break;
    case yajl_t_array:
        if (yajl_gen_array_open(g) != yajl_gen_status_ok)
            return LIBXLMIG_ERR_INVALID_ARGUMENT;
        for (i = 0; i < v->u.array.len; i++) {
            rc = xlmig__rpc_gen_value(g, v->u.array.values[i]);
            if (rc)
                return rc;
        }
        st = yajl_gen_array_close(g);
        break;
    default:
        return LIBXLMIG_ERR_INVALID_ARGUMENT;
    }
    return st == yajl_gen_status_ok ? 0 : LIBXLMIG_ERR_INVALID_ARGUMENT;
}

/* Copy @s into @out (@cap bytes), invalid UTF-8 as '?', cut whole. */
static void sanitize_message(const char *s, char *out, size_t cap)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t n = strlen(s), i = 0, o = 0;

    while (i < n) {
        size_t l = utf8_char_len(p + i, n - i);

        if (!l) {
            if (o + 1 >= cap)
                break;
            out[o++] = '?';
            i++;
            continue;
        }
        if (o + l >= cap)
            break;
        memcpy(out + o, p + i, l);
        o += l;
        i += l;
    }
    out[o] = '\0';
}

int xlmig__rpc_encode_error(uint64_t id, int rc, const char *message,
                            const char *const *params, unsigned int nr_params,
                            char **json_r, size_t *len_r)
{
    char text[XLMIG__RPC_MESSAGE_MAX + 1];
    const char *name = libxlmig_strerror_name(rc);
    yajl_gen g = NULL;
    unsigned int i;
    bool ok;
    int r;

    if (json_r)
        *json_r = NULL;
    if (len_r)
        *len_r = 0;
    if (!json_r || !len_r || rc >= 0 || !xlmig__rpc_error_name_ok(name) ||
        nr_params > XLMIG__RPC_ERR_PARAMS_MAX || (nr_params && !params))
        return LIBXLMIG_ERR_INVALID_ARGUMENT;
    for (i = 0; i < nr_params; i++) {
        size_t n;

        if (!params[i])
            return LIBXLMIG_ERR_INVALID_ARGUMENT;
        n = strnlen(params[i], XLMIG__RPC_ERR_PARAM_MAX + 1);
        if (n > XLMIG__RPC_ERR_PARAM_MAX ||
            !utf8_ok((const unsigned char *)params[i], n))
            return LIBXLMIG_ERR_INVALID_ARGUMENT;
    }
    sanitize_message(message ? message : libxlmig_strerror(rc), text,
                     sizeof(text));

    g = gen_start();
    if (!g)
        return LIBXLMIG_ERR_NO_MEMORY;
    ok = gen_key(g, "id") && gen_uint(g, id) && gen_key(g, "error") &&
         yajl_gen_map_open(g) == yajl_gen_status_ok &&
         gen_key(g, "name") && gen_key(g, name) &&
         gen_key(g, "message") && gen_key(g, text) &&
         gen_key(g, "params") &&
         yajl_gen_array_open(g) == yajl_gen_status_ok;
    for (i = 0; ok && i < nr_params; i++)
        ok = gen_key(g, params[i]);
    ok = ok && yajl_gen_array_close(g) == yajl_gen_status_ok &&
         yajl_gen_map_close(g) == yajl_gen_status_ok &&
         yajl_gen_map_close(g) == yajl_gen_status_ok;
    if (!ok)
        r = LIBXLMIG_ERR_NO_MEMORY;
    else
        r = gen_copy_out(g, 0, json_r, len_r);
    yajl_gen_free(g);
    return r;
}

/* ------------------------------------------------------------ params */

yajl_val xlmig__rpc_get(yajl_val obj, const char *key)
{
    if (!key)
        return NULL;
    return find(obj, key);
}

const char *xlmig__rpc_get_str(yajl_val obj, const char *key)
{
    yajl_val v = xlmig__rpc_get(obj, key);

    return YAJL_IS_STRING(v) ? v->u.string : NULL;
}

int xlmig__rpc_get_uint(yajl_val obj, const char *key, uint64_t *v)
{
    yajl_val m = xlmig__rpc_get(obj, key);
    uint64_t x;

    if (!m)
        return LIBXLMIG_ERR_NOT_FOUND;
    if (!v || !uint_of(m, &x))
        return LIBXLMIG_ERR_INVALID_ARGUMENT;
    *v = x;
    return 0;
}

int xlmig__rpc_get_bool(yajl_val obj, const char *key, bool *v)
{
    yajl_val m = xlmig__rpc_get(obj, key);

    if (!m)
        return LIBXLMIG_ERR_NOT_FOUND;
    if (!v || !(YAJL_IS_TRUE(m) || YAJL_IS_FALSE(m)))
        return LIBXLMIG_ERR_INVALID_ARGUMENT;
    *v = YAJL_IS_TRUE(m);
    return 0;
}

/* ------------------------------------------------------------ frames */

static const char *peer_label(const char *peer)
{
    return peer && peer[0] ? peer : "the peer";
}

int xlmig__rpc_read_frame(libxlmig_ctx *ctx, libxlmig_transport *t,
                          const char *peer, char **json_r, size_t *len_r)
{
    uint8_t hdr[FRAME_HDR_LEN];
    uint32_t len;
    char *buf = NULL;
    size_t got = 0;
    int rc;

    if (json_r)
        *json_r = NULL;
    if (len_r)
        *len_r = 0;
    if (!t || !json_r || !len_r)
        return xlmig__error(ctx, LIBXLMIG_ERR_INVALID_ARGUMENT, -1,
                            "RPC read: no transport or nowhere to put the "
                            "message");
    rc = xlmig__transport_read_exact(t, hdr, sizeof(hdr), &got);
    if (rc)
        return rc;              /* logged by the transport */
    if (got == 0)
        return 1;
    if (got < sizeof(hdr))
        return xlmig__error(ctx, LIBXLMIG_ERR_PROTOCOL, -1,
                            "the connection from %s ended inside a frame's "
                            "length (%zu of %d bytes)", peer_label(peer),
                            got, FRAME_HDR_LEN);
    len = (uint32_t)hdr[0] << 24 | (uint32_t)hdr[1] << 16 |
          (uint32_t)hdr[2] << 8 | hdr[3];
    if (len == 0)
        return xlmig__error(ctx, LIBXLMIG_ERR_PROTOCOL, -1,
                            "%s sent a frame of length 0; a frame holds "
                            "1 to %u bytes", peer_label(peer),
                            XLMIG__RPC_FRAME_MAX);
    if (len > XLMIG__RPC_FRAME_MAX)
        return xlmig__error(ctx, LIBXLMIG_ERR_PROTOCOL, -1,
                            "%s sent a frame of %" PRIu32 " bytes, more "
                            "than the %u a message may have; is it an "
                            "xlmigd of this pool?", peer_label(peer), len,
                            XLMIG__RPC_FRAME_MAX);
    buf = malloc((size_t)len + 1);
    if (!buf)
        return xlmig__error(ctx, LIBXLMIG_ERR_NO_MEMORY, -1,
                            "no memory for a message of %" PRIu32 " bytes "
                            "from %s", len, peer_label(peer));
    rc = xlmig__transport_read_exact(t, buf, len, &got);
    if (rc)
        goto out;               /* logged by the transport */
    if (got < len) {
        rc = xlmig__error(ctx, LIBXLMIG_ERR_PROTOCOL, -1,
                          "the connection from %s ended inside a message, "
                          "after %zu of %" PRIu32 " bytes", peer_label(peer),
                          got, len);
        goto out;
    }
    buf[len] = '\0';
    *json_r = buf;
    buf = NULL;                 /* the caller frees it now */
    *len_r = len;
    rc = 0;
 out:
    free(buf);
    return rc;
}

int xlmig__rpc_write_frame(libxlmig_ctx *ctx, libxlmig_transport *t,
                           const char *json, size_t len)
{
    uint8_t *buf;
    int rc;

    if (!t || !json || len == 0 || len > XLMIG__RPC_FRAME_MAX)
        return xlmig__error(ctx, LIBXLMIG_ERR_INVALID_ARGUMENT, -1,
                            "refusing to send a message of %zu bytes; a "
                            "frame holds 1 to %u bytes",
                            json ? len : 0, XLMIG__RPC_FRAME_MAX);
    buf = malloc(FRAME_HDR_LEN + len);
    if (!buf)
        return xlmig__error(ctx, LIBXLMIG_ERR_NO_MEMORY, -1,
                            "no memory to send a message of %zu bytes", len);
    buf[0] = (uint8_t)(len >> 24);
    buf[1] = (uint8_t)(len >> 16);
    buf[2] = (uint8_t)(len >> 8);
    buf[3] = (uint8_t)len;
    memcpy(buf + FRAME_HDR_LEN, json, len);
    rc = t->ops->write(t, buf, FRAME_HDR_LEN + len);  /* logs its errors */
    free(buf);
    return rc;
}

/* ------------------------------------------------------------ calls */

/*
 * Text from the peer for our log, from valid UTF-8 @s: control
 * characters (C0, DEL and C1: a newline, an escape sequence) shown as
 * '?', cut whole to @cap bytes.
 */
static void log_safe(const char *s, char *out, size_t cap)
{
    size_t n = utf8_cut(s, strlen(s), cap - 1), i;

    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];

        if (c == 0xc2 && i + 1 < n && (unsigned char)s[i + 1] <= 0x9f) {
            out[i] = out[i + 1] = '?';
            i++;
            continue;
        }
        out[i] = c < 0x20 || c == 0x7f ? '?' : (char)c;
    }
    out[n] = '\0';
}

/* @msg without a leading "NAME: " (a server that sent its own log line). */
static const char *skip_name(const char *msg, const char *name)
{
    size_t n = strlen(name);

    if (!strncmp(msg, name, n) && msg[n] == ':' && msg[n + 1] == ' ')
        return msg + n + 2;
    return msg;
}

int xlmig__rpc_call(libxlmig_ctx *ctx, libxlmig_transport *t,
                    const char *peer, const char *json_req, size_t len,
                    uint64_t id, xlmig__rpc_event_fn *on_event, void *opaque,
                    struct xlmig__rpc_msg *resp)
{
    char method[XLMIG__RPC_NAME_MAX + 1], why[XLMIG__RPC_WHY_MAX];
    struct xlmig__rpc_msg req;
    const char *who = peer_label(peer);
    char *text = NULL;
    size_t text_len;
    int rc;

    if (resp)
        memset(resp, 0, sizeof(*resp));
    if (!t || !resp)
        return xlmig__error(ctx, LIBXLMIG_ERR_INVALID_ARGUMENT, -1,
                            "RPC call: no transport or no response to fill");
    /* Our own request: is it one, of @id?  And its method, for messages. */
    rc = xlmig__rpc_decode(json_req, len, &req, why, sizeof(why));
    if (!rc && (req.kind != XLMIG__RPC_REQUEST || req.id != id)) {
        snprintf(why, sizeof(why), "it is not a request of id %" PRIu64, id);
        rc = LIBXLMIG_ERR_INVALID_ARGUMENT;
    }
    xlmig__strlcpy(method, req.method, sizeof(method));
    xlmig__rpc_msg_dispose(&req);
    if (rc)
        return xlmig__error(ctx, rc == LIBXLMIG_ERR_NO_MEMORY
                                     ? rc : LIBXLMIG_ERR_INVALID_ARGUMENT,
                            -1, "RPC call to %s: not sending a bad request: "
                            "%s", who, why);

    rc = xlmig__rpc_write_frame(ctx, t, json_req, len);
    if (rc)
        return rc;
    for (;;) {
        free(text);
        text = NULL;
        rc = xlmig__rpc_read_frame(ctx, t, peer, &text, &text_len);
        if (rc < 0)
            goto out;
        if (rc == 1) {
            rc = xlmig__error(ctx, LIBXLMIG_ERR_PROTOCOL, -1,
                              "%s closed the connection before answering "
                              "%s (request %" PRIu64 ")", who, method, id);
            goto out;
        }
        rc = xlmig__rpc_decode(text, text_len, resp, why, sizeof(why));
        if (rc) {
            rc = xlmig__error(ctx, rc == LIBXLMIG_ERR_NO_MEMORY
                                       ? rc : LIBXLMIG_ERR_PROTOCOL,
                              -1, "%s sent a message we cannot read while "
                              "we waited for the answer to %s: %s", who,
                              method, why);
            goto out;
        }
        if (resp->kind == XLMIG__RPC_EVENT) {
            if (on_event)
                on_event(resp, opaque);
            xlmig__rpc_msg_dispose(resp);
            continue;
        }
        if (resp->kind == XLMIG__RPC_REQUEST) {
            rc = xlmig__error(ctx, LIBXLMIG_ERR_PROTOCOL, -1,
                              "%s sent us a request (%s) while we waited "
                              "for the answer to %s; a server does not call "
                              "its client", who, resp->method, method);
            xlmig__rpc_msg_dispose(resp);
            goto out;
        }
        if (resp->id != id) {
            rc = xlmig__error(ctx, LIBXLMIG_ERR_PROTOCOL, -1,
                              "%s answered request %" PRIu64 " while "
                              "request %" PRIu64 " (%s) was the one "
                              "outstanding", who, resp->id, id, method);
            xlmig__rpc_msg_dispose(resp);
            goto out;
        }
        break;
    }
    rc = 0;
    if (resp->is_error) {
        char msg[XLMIG__RPC_MESSAGE_MAX + 1];
        int code;

        log_safe(skip_name(resp->err_message, resp->err_name), msg,
                 sizeof(msg));
        if (libxlmig_error_from_name(resp->err_name, &code) || code >= 0)
            rc = xlmig__error(ctx, LIBXLMIG_ERR_PROTOCOL, -1,
                              "%s answered %s with error %s, which this "
                              "libxlmig does not know: %s", who, method,
                              resp->err_name, msg);
        else
            rc = xlmig__error(ctx, code, -1, "%s refused %s: %s", who,
                              method, msg[0] ? msg : libxlmig_strerror(code));
    }
 out:
    free(text);
    return rc;
}

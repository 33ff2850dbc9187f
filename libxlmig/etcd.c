/* SPDX-License-Identifier: LGPL-2.1-only */
/*
 * The etcd client (etcd.h, docs/specs/pool-etcd.md).
 *
 * Every call but the watch is one POST of a JSON body to the gateway
 * (/v3/kv/range, ...) through one libcurl handle, which keeps its
 * connections between calls.  request() tries the endpoints in order:
 * what does not answer (connect, TLS, timeout, a 5xx) is noted and the
 * next one tried; a 4xx is etcd's own error, final; a 200's body
 * (capped at XLMIG__ETCD_REPLY_MAX while it arrives) goes to the call's
 * parser, xlmig__etcd_parse_*(), which are pure and fuzzed.
 *
 * The watch is a stream of JSON lines: it runs in a multi handle polled
 * every WATCH_TICK_MS (the cancel flag and the deadline are checked
 * between polls), its lines are cut and parsed as they come, and the
 * first event ends it.  An endpoint that drops the stream is left for
 * the next one, from the revision the first had reached.
 *
 * Keys and values are base64 on the wire (OpenSSL's EVP_EncodeBlock and
 * EVP_DecodeBlock; the padding, which EVP_DecodeBlock decodes as zero
 * bytes, is taken off here).
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <openssl/evp.h>

#include "etcd.h"
#include "internal.h"
#include "jsonfile.h"

/* The parsers' helpers (jsonfile.h), by their short names. */
#define say xlmig__say
#define find xlmig__json_find

#define REPLY_START 4096u
#define WATCH_TICK_MS 100u
#define DEPTH_MAX 16u
#define SUMMARY_MAX 2048u
/* Base64 characters of @n bytes. */
#define B64_LEN(n) (((n) + 2u) / 3u * 4u)

struct xlmig__etcd {
    libxlmig_ctx *ctx;
    char *endpoints[XLMIG__ETCD_ENDPOINTS_MAX];
    size_t n;
    char *ca_file;
    char *cert_file;
    char *key_file;
    unsigned timeout_ms;
    CURL *curl;                 /* the calls' (not the watch's) */
    /* The watch's, kept from one watch to the next, and the TLS sessions
     * both share: a new watch resumes a session instead of a whole
     * handshake (client certificate and all). */
    CURL *wcurl;
    CURLM *wmulti;
    CURLSH *share;
    /* After xlmig__etcd_check(): the pool's cluster, and the endpoints
     * that belong to another, which are never used. */
    uint64_t cluster_id;
    bool foreign[XLMIG__ETCD_ENDPOINTS_MAX];
};

static const struct xlmig__json_kind reply_kind = {
    .what = "etcd reply",
    .a_what = "an etcd reply",
    .invalid_rc = LIBXLMIG_ERR_PROTOCOL,
    .max_bytes = XLMIG__ETCD_REPLY_MAX,
    .depth_max = DEPTH_MAX,
};

/* Text from etcd or libcurl into @out (@cap bytes) for our messages:
 * control characters and DEL as '?', cut to fit. */
/* @len bytes of @s for a message into @out (@cap bytes, NUL-ended): a
 * control character, and a NUL, as '?'; cut to fit. */
static void bytes_text(const char *s, size_t len, char *out, size_t cap)
{
    size_t i;

    for (i = 0; i < len && i + 1 < cap; i++) {
        unsigned char c = (unsigned char)s[i];

        out[i] = c < 0x20 || c == 0x7f ? '?' : (char)c;
    }
    out[i] = '\0';
}

void xlmig__etcd_key_text(const struct xlmig__etcd_kv *kv, char *out,
                          size_t cap)
{
    bytes_text(kv->key, kv->key_len, out, cap);
}

void xlmig__etcd_value_text(const struct xlmig__etcd_kv *kv, char *out,
                            size_t cap)
{
    bytes_text(kv->value, kv->value_len, out, cap);
}

static void copy_safe(const char *s, char *out, size_t cap)
{
    bytes_text(s, strlen(s), out, cap);
}

static uint64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* ------------------------------------------------------------ base64 */

/* @n bytes of @in as base64 in *out_r (malloc'd, NUL-terminated). */
static int b64_encode(const char *in, size_t n, char **out_r)
{
    char *out = malloc(B64_LEN(n) + 1);

    *out_r = NULL;
    if (!out)
        return LIBXLMIG_ERR_NO_MEMORY;
    if (n)
        EVP_EncodeBlock((unsigned char *)out, (const unsigned char *)in,
                        (int)n);
    out[B64_LEN(n)] = '\0';
    *out_r = out;
    return 0;
}

static bool b64_char(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
           (c >= '0' && c <= '9') || c == '+' || c == '/';
}

/*
 * The @n base64 characters of @s decoded into *out_r (malloc'd, one NUL
 * more), at most @max bytes: anything but whole groups of the standard
 * alphabet, with '=' only as the last one or two, is refused.
 */
static int b64_decode(const char *s, size_t n, size_t max, const char *what,
                      char **out_r, size_t *len_r, char *why, size_t why_len)
{
    size_t pad = 0, i;
    char *out;
    int r;

    *out_r = NULL;
    *len_r = 0;
    if (n > B64_LEN(max)) {
        say(why, why_len, "%s has %zu base64 characters, more than the %zu "
            "of %zu bytes", what, n, (size_t)B64_LEN(max), max);
        return LIBXLMIG_ERR_PROTOCOL;
    }
    if (n % 4) {
        say(why, why_len, "%s is not base64 (%zu characters)", what, n);
        return LIBXLMIG_ERR_PROTOCOL;
    }
    while (pad < 2 && pad < n && s[n - 1 - pad] == '=')
        pad++;
    for (i = 0; i < n - pad; i++) {
        if (!b64_char(s[i])) {
            say(why, why_len, "%s is not base64 (character %zu)", what, i);
            return LIBXLMIG_ERR_PROTOCOL;
        }
    }
    out = malloc(n / 4 * 3 + 1);
    if (!out) {
        say(why, why_len, "no memory for %s", what);
        return LIBXLMIG_ERR_NO_MEMORY;
    }
    r = n ? EVP_DecodeBlock((unsigned char *)out, (const unsigned char *)s,
                            (int)n) : 0;
    if (r < 0 || (size_t)r != n / 4 * 3 || (size_t)r - pad > max) {
        free(out);
        say(why, why_len, "%s is not base64 of at most %zu bytes", what,
            max);
        return LIBXLMIG_ERR_PROTOCOL;
    }
    out[r - (int)pad] = '\0';
    *out_r = out;
    *len_r = (size_t)r - pad;
    return 0;
}

/* ------------------------------------------------------------ parsing */

/*
 * A 64-bit integer member: grpc-gateway writes them as strings of
 * decimal digits; a JSON integer is taken too; absent is 0.
 */
static bool get_num(yajl_val obj, const char *key, bool is_signed,
                    int64_t *s_r, uint64_t *u_r, char *why, size_t why_len)
{
    yajl_val v = find(obj, key);
    const char *p;
    char *end;

    if (s_r)
        *s_r = 0;
    if (u_r)
        *u_r = 0;
    if (!v)
        return true;
    if (YAJL_IS_INTEGER(v)) {
        long long i = YAJL_GET_INTEGER(v);

        if (!is_signed && i < 0)
            goto bad;
        if (s_r)
            *s_r = i;
        if (u_r)
            *u_r = (uint64_t)i;
        return true;
    }
    if (!YAJL_IS_STRING(v))
        goto bad;
    p = v->u.string;
    if (!((p[0] >= '0' && p[0] <= '9') ||
          (is_signed && p[0] == '-' && p[1] >= '0' && p[1] <= '9')))
        goto bad;
    errno = 0;
    if (is_signed) {
        long long i = strtoll(p, &end, 10);

        if (errno || *end)
            goto bad;
        *s_r = i;
    } else {
        unsigned long long u = strtoull(p, &end, 10);

        if (errno || *end)
            goto bad;
        *u_r = u;
    }
    return true;

bad:
    say(why, why_len, "member \"%s\" is not a%s 64-bit integer", key,
        is_signed ? "" : "n unsigned");
    return false;
}

static bool get_i64(yajl_val obj, const char *key, int64_t *v, char *why,
                    size_t why_len)
{
    return get_num(obj, key, true, v, NULL, why, why_len);
}

static bool get_u64(yajl_val obj, const char *key, uint64_t *v, char *why,
                    size_t why_len)
{
    return get_num(obj, key, false, NULL, v, why, why_len);
}

/* A boolean member; absent is false. */
static bool get_bool(yajl_val obj, const char *key, bool *v, char *why,
                     size_t why_len)
{
    yajl_val m = find(obj, key);

    *v = false;
    if (!m)
        return true;
    if (!YAJL_IS_TRUE(m) && !YAJL_IS_FALSE(m)) {
        say(why, why_len, "member \"%s\" is %s, not a boolean", key,
            xlmig__json_type_name(m));
        return false;
    }
    *v = YAJL_IS_TRUE(m);
    return true;
}

/* A base64 member decoded (at most @max bytes); absent is empty. */
static int get_bytes(yajl_val obj, const char *key, size_t max, char **out_r,
                     size_t *len_r, char *why, size_t why_len)
{
    yajl_val m = find(obj, key);

    if (m && !YAJL_IS_STRING(m)) {
        *out_r = NULL;
        *len_r = 0;
        say(why, why_len, "member \"%s\" is %s, not a string", key,
            xlmig__json_type_name(m));
        return LIBXLMIG_ERR_PROTOCOL;
    }
    return b64_decode(m ? m->u.string : "", m ? strlen(m->u.string) : 0,
                      max, key, out_r, len_r, why, why_len);
}

/* The tree of a reply (or a watch line: @what) of at most REPLY_MAX
 * bytes. */
static int capped_tree(const char *json, size_t len, const char *what,
                       yajl_val *root_r, char *why, size_t why_len)
{
    if (len > XLMIG__ETCD_REPLY_MAX) {
        say(why, why_len, "%zu bytes, more than the %u a %s may have", len,
            XLMIG__ETCD_REPLY_MAX, what);
        return LIBXLMIG_ERR_PROTOCOL;
    }
    return xlmig__json_tree(&reply_kind, (const uint8_t *)json, len, root_r,
                            why, why_len);
}

/*
 * The tree of a reply: capped, an object, with a "header" object whose
 * revision goes to *revision_r (may be NULL).  @unwrap: the object in
 * "result" (the streaming calls' form) when there is one.
 */
static int reply_tree(const char *json, size_t len, bool unwrap,
                      yajl_val *root_r, yajl_val *top_r, int64_t *revision_r,
                      char *why, size_t why_len)
{
    yajl_val root = NULL, top, header;
    int rc;

    *root_r = *top_r = NULL;
    rc = capped_tree(json, len, "reply", &root, why, why_len);
    if (rc)
        return rc;
    top = root;
    if (!YAJL_IS_OBJECT(top)) {
        say(why, why_len, "the reply is %s, not an object",
            xlmig__json_type_name(top));
        goto bad;
    }
    if (unwrap && find(top, "result"))
        top = find(top, "result");
    if (!YAJL_IS_OBJECT(top)) {
        say(why, why_len, "its \"result\" is %s, not an object",
            xlmig__json_type_name(top));
        goto bad;
    }
    header = find(top, "header");
    if (!YAJL_IS_OBJECT(header)) {
        say(why, why_len, "the reply has no \"header\" object");
        goto bad;
    }
    if (revision_r && !get_i64(header, "revision", revision_r, why, why_len))
        goto bad;
    *root_r = root;             /* the caller frees it */
    *top_r = top;
    return 0;

bad:
    yajl_tree_free(root);
    return LIBXLMIG_ERR_PROTOCOL;
}

void xlmig__etcd_kvs_free(struct xlmig__etcd_kvs *kvs)
{
    size_t i;

    if (!kvs)
        return;
    for (i = 0; i < kvs->n; i++) {
        free(kvs->kv[i].key);
        free(kvs->kv[i].value);
    }
    free(kvs->kv);
    memset(kvs, 0, sizeof(*kvs));
}

static int parse_kv(yajl_val o, struct xlmig__etcd_kv *kv, char *why,
                    size_t why_len)
{
    int rc;

    if (!YAJL_IS_OBJECT(o)) {
        say(why, why_len, "a key-value is %s, not an object",
            xlmig__json_type_name(o));
        return LIBXLMIG_ERR_PROTOCOL;
    }
    rc = get_bytes(o, "key", XLMIG__ETCD_KEY_MAX, &kv->key, &kv->key_len,
                   why, why_len);
    if (!rc && !kv->key_len) {
        say(why, why_len, "a key-value has no key");
        rc = LIBXLMIG_ERR_PROTOCOL;
    }
    if (!rc)
        rc = get_bytes(o, "value", XLMIG__ETCD_VALUE_MAX, &kv->value,
                       &kv->value_len, why, why_len);
    if (!rc && (!get_i64(o, "create_revision", &kv->create_revision, why,
                         why_len) ||
                !get_i64(o, "mod_revision", &kv->mod_revision, why,
                         why_len) ||
                !get_i64(o, "version", &kv->version, why, why_len) ||
                !get_i64(o, "lease", &kv->lease, why, why_len)))
        rc = LIBXLMIG_ERR_PROTOCOL;
    return rc;
}

static int range_from(yajl_val top, struct xlmig__etcd_kvs *kvs_r,
                      char *why, size_t why_len);

int xlmig__etcd_parse_range(const char *json, size_t len,
                            struct xlmig__etcd_kvs *kvs_r, char *why,
                            size_t why_len)
{
    struct xlmig__etcd_kvs kvs = { 0 };
    yajl_val root, top;
    int rc;

    memset(kvs_r, 0, sizeof(*kvs_r));
    rc = reply_tree(json, len, false, &root, &top, &kvs.revision, why,
                    why_len);
    if (rc)
        return rc;
    rc = range_from(top, &kvs, why, why_len);
    if (!rc) {
        *kvs_r = kvs;           /* the caller's now */
        memset(&kvs, 0, sizeof(kvs));
    }
    xlmig__etcd_kvs_free(&kvs);
    yajl_tree_free(root);
    return rc;
}

/* The keys of a range's answer @top (its header read by the caller). */
static int range_from(yajl_val top, struct xlmig__etcd_kvs *kvs_r,
                      char *why, size_t why_len)
{
    struct xlmig__etcd_kvs kvs = { .revision = kvs_r->revision };
    yajl_val arr;
    size_t i;
    int rc;

    rc = LIBXLMIG_ERR_PROTOCOL;
    if (!get_i64(top, "count", &kvs.count, why, why_len) ||
        !get_bool(top, "more", &kvs.more, why, why_len))
        goto out;
    arr = find(top, "kvs");
    if (arr && !YAJL_IS_ARRAY(arr)) {
        say(why, why_len, "member \"kvs\" is %s, not an array",
            xlmig__json_type_name(arr));
        goto out;
    }
    if (arr && arr->u.array.len > XLMIG__ETCD_RANGE_MAX) {
        say(why, why_len, "%zu keys, more than the %u a range may return",
            arr->u.array.len, XLMIG__ETCD_RANGE_MAX);
        goto out;
    }
    if (arr && arr->u.array.len) {
        kvs.kv = calloc(arr->u.array.len, sizeof(*kvs.kv));
        if (!kvs.kv) {
            say(why, why_len, "no memory for %zu keys", arr->u.array.len);
            rc = LIBXLMIG_ERR_NO_MEMORY;
            goto out;
        }
        for (i = 0; i < arr->u.array.len; i++) {
            kvs.n = i + 1;
            rc = parse_kv(arr->u.array.values[i], &kvs.kv[i], why, why_len);
            if (rc)
                goto out;
        }
    }
    if (kvs.count < (int64_t)kvs.n) {
        say(why, why_len, "a count of %" PRId64 " with %zu keys", kvs.count,
            kvs.n);
        rc = LIBXLMIG_ERR_PROTOCOL;
        goto out;
    }
    *kvs_r = kvs;               /* the caller's now */
    memset(&kvs, 0, sizeof(kvs));
    rc = 0;

out:
    xlmig__etcd_kvs_free(&kvs);
    return rc;
}

int xlmig__etcd_parse_write(const char *json, size_t len,
                            int64_t *revision_r, int64_t *deleted_r,
                            char *why, size_t why_len)
{
    yajl_val root, top;
    int64_t rev, deleted;
    int rc;

    *revision_r = *deleted_r = 0;
    rc = reply_tree(json, len, false, &root, &top, &rev, why, why_len);
    if (rc)
        return rc;
    if (!get_i64(top, "deleted", &deleted, why, why_len) || deleted < 0) {
        if (deleted < 0)
            say(why, why_len, "a negative \"deleted\"");
        rc = LIBXLMIG_ERR_PROTOCOL;
    } else {
        *revision_r = rev;
        *deleted_r = deleted;
    }
    yajl_tree_free(root);
    return rc;
}

int xlmig__etcd_parse_txn(const char *json, size_t len, bool *succeeded_r,
                          int64_t *revision_r, char *why, size_t why_len)
{
    yajl_val root, top, resp;
    int64_t rev;
    bool ok;
    int rc;

    *succeeded_r = false;
    *revision_r = 0;
    rc = reply_tree(json, len, false, &root, &top, &rev, why, why_len);
    if (rc)
        return rc;
    resp = find(top, "responses");
    if (!get_bool(top, "succeeded", &ok, why, why_len)) {
        rc = LIBXLMIG_ERR_PROTOCOL;
    } else if (resp && !YAJL_IS_ARRAY(resp)) {
        say(why, why_len, "member \"responses\" is %s, not an array",
            xlmig__json_type_name(resp));
        rc = LIBXLMIG_ERR_PROTOCOL;
    } else {
        *succeeded_r = ok;
        *revision_r = rev;
    }
    yajl_tree_free(root);
    return rc;
}

int xlmig__etcd_parse_reads(const char *json, size_t len, size_t n,
                            struct xlmig__etcd_kvs *kvs_r, char *why,
                            size_t why_len)
{
    yajl_val root, top, resp;
    int64_t rev;
    size_t i;
    bool ok;
    int rc;

    for (i = 0; i < n; i++)
        memset(&kvs_r[i], 0, sizeof(kvs_r[i]));
    rc = reply_tree(json, len, false, &root, &top, &rev, why, why_len);
    if (rc)
        return rc;
    rc = LIBXLMIG_ERR_PROTOCOL;
    resp = find(top, "responses");
    if (!get_bool(top, "succeeded", &ok, why, why_len))
        goto out;
    if (!ok) {
        say(why, why_len, "a transaction of reads only did not succeed");
        goto out;
    }
    if (n && (!resp || !YAJL_IS_ARRAY(resp) || resp->u.array.len != n)) {
        say(why, why_len, "%zu answers for %zu reads",
            resp && YAJL_IS_ARRAY(resp) ? resp->u.array.len : 0, n);
        goto out;
    }
    for (i = 0; i < n; i++) {
        yajl_val r = resp->u.array.values[i];

        r = YAJL_IS_OBJECT(r) ? find(r, "response_range") : NULL;
        if (!YAJL_IS_OBJECT(r)) {
            say(why, why_len, "answer %zu is no range", i);
            goto out;
        }
        kvs_r[i].revision = rev;
        rc = range_from(r, &kvs_r[i], why, why_len);
        if (rc)
            goto out;
        rc = LIBXLMIG_ERR_PROTOCOL;
    }
    rc = 0;
out:
    if (rc)
        for (i = 0; i < n; i++)
            xlmig__etcd_kvs_free(&kvs_r[i]);
    yajl_tree_free(root);
    return rc;
}

int xlmig__etcd_parse_lease(const char *json, size_t len, int64_t *id_r,
                            int64_t *ttl_r, char *why, size_t why_len)
{
    yajl_val root, top, err;
    int64_t id, ttl;
    int rc;

    *id_r = *ttl_r = 0;
    rc = reply_tree(json, len, true, &root, &top, NULL, why, why_len);
    if (rc)
        return rc;
    err = find(top, "error");
    if (err && (!YAJL_IS_STRING(err) || err->u.string[0])) {
        char clean[128];

        copy_safe(YAJL_IS_STRING(err) ? err->u.string : "(not a string)",
                  clean, sizeof(clean));
        say(why, why_len, "the lease call failed: %s", clean);
        rc = LIBXLMIG_ERR_PROTOCOL;
    } else if (!get_i64(top, "ID", &id, why, why_len) ||
               !get_i64(top, "TTL", &ttl, why, why_len)) {
        rc = LIBXLMIG_ERR_PROTOCOL;
    } else if (id < 0) {
        say(why, why_len, "a negative lease ID");
        rc = LIBXLMIG_ERR_PROTOCOL;
    } else {
        *id_r = id;
        *ttl_r = ttl;
    }
    yajl_tree_free(root);
    return rc;
}

/* The grpc-gateway error of a stream ({"error": {"message": ...}}) or a
 * call ({"error": "...", "message": "...", "code": N}) as text. */
static void error_text(yajl_val err_or_root, char *out, size_t cap)
{
    yajl_val msg = find(err_or_root, "message");

    if (!YAJL_IS_STRING(msg) || !msg->u.string[0])
        msg = find(err_or_root, "error");
    copy_safe(YAJL_IS_STRING(msg) ? msg->u.string : "(no message)", out, cap);
}

int xlmig__etcd_parse_watch_line(const char *json, size_t len,
                                 struct xlmig__etcd_watch_msg *m, char *why,
                                 size_t why_len)
{
    yajl_val root = NULL, top, err, events, ev, type;
    int rc;

    memset(m, 0, sizeof(*m));
    rc = capped_tree(json, len, "line", &root, why, why_len);
    if (rc)
        return rc;
    rc = LIBXLMIG_ERR_PROTOCOL;
    if (!YAJL_IS_OBJECT(root)) {
        say(why, why_len, "the line is %s, not an object",
            xlmig__json_type_name(root));
        goto out;
    }
    err = find(root, "error");
    if (err) {
        if (!YAJL_IS_OBJECT(err)) {
            say(why, why_len, "member \"error\" is %s, not an object",
                xlmig__json_type_name(err));
            goto out;
        }
        m->error = true;
        error_text(err, m->reason, sizeof(m->reason));
        rc = 0;
        goto out;
    }
    top = find(root, "result");
    if (!YAJL_IS_OBJECT(top) || !YAJL_IS_OBJECT(find(top, "header"))) {
        say(why, why_len, "the line has no \"result\" object with a "
            "\"header\"");
        goto out;
    }
    if (!get_i64(find(top, "header"), "revision", &m->revision, why,
                 why_len) ||
        !get_bool(top, "created", &m->created, why, why_len) ||
        !get_bool(top, "canceled", &m->canceled, why, why_len) ||
        !get_i64(top, "compact_revision", &m->compact_revision, why,
                 why_len))
        goto out;
    if (m->canceled) {
        yajl_val r = find(top, "cancel_reason");

        copy_safe(YAJL_IS_STRING(r) ? r->u.string : "", m->reason,
                  sizeof(m->reason));
    }
    events = find(top, "events");
    if (events && !YAJL_IS_ARRAY(events)) {
        say(why, why_len, "member \"events\" is %s, not an array",
            xlmig__json_type_name(events));
        goto out;
    }
    if (events && events->u.array.len) {
        ev = events->u.array.values[0];
        type = find(ev, "type");
        if (!YAJL_IS_OBJECT(ev) || !YAJL_IS_OBJECT(find(ev, "kv"))) {
            say(why, why_len, "an event without a \"kv\" object");
            goto out;
        }
        if (type && !(YAJL_IS_STRING(type) &&
                      (!strcmp(type->u.string, "PUT") ||
                       !strcmp(type->u.string, "DELETE")))) {
            say(why, why_len, "an event of a type neither PUT nor DELETE");
            goto out;
        }
        if (!get_i64(find(ev, "kv"), "mod_revision", &m->event_revision, why,
                     why_len))
            goto out;
        if (m->event_revision <= 0) {
            say(why, why_len, "an event without its revision");
            goto out;
        }
        m->event = true;
        m->deleted = type && !strcmp(type->u.string, "DELETE");
    }
    rc = 0;

out:
    if (rc)
        memset(m, 0, sizeof(*m));
    yajl_tree_free(root);
    return rc;
}

int xlmig__etcd_parse_status(const char *json, size_t len,
                             struct xlmig__etcd_status *st, char *why,
                             size_t why_len)
{
    yajl_val root, top, version;
    int rc;

    memset(st, 0, sizeof(*st));
    rc = reply_tree(json, len, false, &root, &top, NULL, why, why_len);
    if (rc)
        return rc;
    rc = LIBXLMIG_ERR_PROTOCOL;
    version = find(top, "version");
    if (!YAJL_IS_STRING(version) || !version->u.string[0] ||
        strlen(version->u.string) >= sizeof(st->version)) {
        say(why, why_len, "no \"version\" string of 1 to %zu characters",
            sizeof(st->version) - 1);
        goto out;
    }
    if (!get_u64(find(top, "header"), "cluster_id", &st->cluster_id, why,
                 why_len) ||
        !get_u64(find(top, "header"), "member_id", &st->member_id, why,
                 why_len) ||
        !get_u64(top, "leader", &st->leader, why, why_len) ||
        !get_i64(top, "raftTerm", &st->raft_term, why, why_len) ||
        !get_i64(top, "dbSize", &st->db_size, why, why_len))
        goto out;
    copy_safe(version->u.string, st->version, sizeof(st->version));
    rc = 0;

out:
    if (rc)
        memset(st, 0, sizeof(*st));
    yajl_tree_free(root);
    return rc;
}

/* ------------------------------------------------------------ the client */

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc;

static void curl_init(void)
{
    curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

/* Whether @url is http(s)://HOST[:PORT] with nothing more. */
static bool url_ok(const char *url, char *why, size_t why_len)
{
    CURLU *u = curl_url();
    char *scheme = NULL, *host = NULL, *path = NULL, *part = NULL;
    bool ok = false;
    size_t i;

    for (i = 0; url[i]; i++) {
        if ((unsigned char)url[i] <= ' ' || url[i] == 0x7f) {
            say(why, why_len, "a space or control character in it");
            goto out;
        }
    }
    if (strncmp(url, "http://", 7) && strncmp(url, "https://", 8)) {
        say(why, why_len, "not http:// or https://");
        goto out;
    }
    if (!u || curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK || !host[0]) {
        say(why, why_len, "not a URL with a host");
        goto out;
    }
    if (curl_url_get(u, CURLUPART_USER, &part, 0) == CURLUE_OK ||
        curl_url_get(u, CURLUPART_QUERY, &part, 0) == CURLUE_OK ||
        curl_url_get(u, CURLUPART_FRAGMENT, &part, 0) == CURLUE_OK ||
        (curl_url_get(u, CURLUPART_PATH, &path, 0) == CURLUE_OK &&
         strcmp(path, "/")) || url[strlen(url) - 1] == '/') {
        say(why, why_len, "more than a scheme, a host and a port");
        goto out;
    }
    ok = true;

out:
    curl_free(scheme);
    curl_free(host);
    curl_free(path);
    curl_free(part);
    curl_url_cleanup(u);
    return ok;
}

static int file_ok(libxlmig_ctx *ctx, const char *what, const char *path,
                   char **copy_r)
{
    if (!path)
        return 0;
    if (!path[0] || access(path, R_OK))
        return xlmig__error(ctx, LIBXLMIG_ERR_INVALID_ARGUMENT,
                            path[0] ? errno : -1,
                            "etcd: the %s '%s' cannot be read", what, path);
    *copy_r = strdup(path);
    if (!*copy_r)
        return xlmig__error(ctx, LIBXLMIG_ERR_NO_MEMORY, -1,
                            "etcd: no memory for the %s's name", what);
    return 0;
}

int xlmig__etcd_new(libxlmig_ctx *ctx, const struct xlmig__etcd_conf *conf,
                    struct xlmig__etcd **e_r)
{
    struct xlmig__etcd *e = NULL;
    const char *p, *comma;
    char why[128], url[XLMIG__ETCD_ENDPOINT_MAX + 1];
    bool https = false;
    int rc;

    *e_r = NULL;
    if (!conf || !conf->endpoints || !conf->endpoints[0])
        return xlmig__error(ctx, LIBXLMIG_ERR_INVALID_ARGUMENT, -1,
                            "etcd: no endpoints; give 1 to %u URLs, "
                            "comma-separated", XLMIG__ETCD_ENDPOINTS_MAX);
    pthread_once(&curl_once, curl_init);
    if (curl_init_rc != CURLE_OK)
        return xlmig__error(ctx, LIBXLMIG_ERR_INTERNAL, -1,
                            "etcd: libcurl cannot start: %s",
                            curl_easy_strerror(curl_init_rc));
    e = xlmig__zalloc(sizeof(*e));
    if (!e)
        return xlmig__error(ctx, LIBXLMIG_ERR_NO_MEMORY, -1,
                            "etcd: no memory for a client");
    e->ctx = ctx;
    e->timeout_ms = conf->timeout_ms ? conf->timeout_ms
                                     : XLMIG__ETCD_TIMEOUT_MS_DEFAULT;
    for (p = conf->endpoints;; p = comma + 1) {
        size_t len = 0;

        comma = strchr(p, ',');
        len = comma ? (size_t)(comma - p) : strlen(p);
        if (e->n == XLMIG__ETCD_ENDPOINTS_MAX) {
            rc = xlmig__error(ctx, LIBXLMIG_ERR_INVALID_ARGUMENT, -1,
                              "etcd: more than %u endpoints in '%.512s'",
                              XLMIG__ETCD_ENDPOINTS_MAX, conf->endpoints);
            goto out;
        }
        if (!len || len > XLMIG__ETCD_ENDPOINT_MAX) {
            rc = xlmig__error(ctx, LIBXLMIG_ERR_INVALID_ARGUMENT, -1,
                              "etcd: endpoint %zu of '%.512s' is %s", e->n + 1,
                              conf->endpoints,
                              len ? "longer than 255 bytes" : "empty");
            goto out;
        }
        memcpy(url, p, len);
        url[len] = '\0';
        if (!url_ok(url, why, sizeof(why))) {
            char clean[XLMIG__ETCD_ENDPOINT_MAX + 1];

            copy_safe(url, clean, sizeof(clean));
            rc = xlmig__error(ctx, LIBXLMIG_ERR_INVALID_ARGUMENT, -1,
                              "etcd: endpoint '%s': %s; write "
                              "https://HOST:PORT", clean, why);
            goto out;
        }
        https |= !strncmp(url, "https://", 8);
        e->endpoints[e->n] = strdup(url);
        if (!e->endpoints[e->n]) {
            rc = xlmig__error(ctx, LIBXLMIG_ERR_NO_MEMORY, -1,
                              "etcd: no memory for an endpoint");
            goto out;
        }
        e->n++;
        if (!comma)
            break;
    }
    if (https && !conf->ca_file) {
        rc = xlmig__error(ctx, LIBXLMIG_ERR_INVALID_ARGUMENT, -1,
                          "etcd: https endpoints need the CA file of the "
                          "cluster");
        goto out;
    }
    if (!conf->cert_file != !conf->key_file) {
        rc = xlmig__error(ctx, LIBXLMIG_ERR_INVALID_ARGUMENT, -1,
                          "etcd: a client certificate needs its key and a "
                          "key its certificate");
        goto out;
    }
    rc = file_ok(ctx, "CA file", conf->ca_file, &e->ca_file);
    if (!rc)
        rc = file_ok(ctx, "certificate", conf->cert_file, &e->cert_file);
    if (!rc)
        rc = file_ok(ctx, "key", conf->key_file, &e->key_file);
    if (rc)
        goto out;
    e->curl = curl_easy_init();
    e->share = curl_share_init();
    if (e->share &&
        curl_share_setopt(e->share, CURLSHOPT_SHARE,
                          CURL_LOCK_DATA_SSL_SESSION) != CURLSHE_OK) {
        curl_share_cleanup(e->share);
        e->share = NULL;
    }
    if (!e->curl || !e->share) {
        rc = xlmig__error(ctx, LIBXLMIG_ERR_NO_MEMORY, -1,
                          "etcd: libcurl cannot make a handle");
        goto out;
    }
    *e_r = e;
    e = NULL;                   /* the caller owns it now */
    rc = 0;

out:
    xlmig__etcd_free(e);
    return rc;
}

void xlmig__etcd_free(struct xlmig__etcd *e)
{
    size_t i;

    if (!e)
        return;
    for (i = 0; i < e->n; i++)
        free(e->endpoints[i]);
    free(e->ca_file);
    free(e->cert_file);
    free(e->key_file);
    if (e->curl)
        curl_easy_cleanup(e->curl);
    if (e->wmulti)
        curl_multi_cleanup(e->wmulti);
    if (e->wcurl)
        curl_easy_cleanup(e->wcurl);
    if (e->share)
        curl_share_cleanup(e->share);
    free(e);
}

size_t xlmig__etcd_nr_endpoints(const struct xlmig__etcd *e)
{
    return e->n;
}

const char *xlmig__etcd_endpoint(const struct xlmig__etcd *e, size_t i)
{
    return i < e->n ? e->endpoints[i] : NULL;
}

/* ------------------------------------------------------------ HTTP */

/* Bytes as they arrive, up to max. */
struct sink {
    char *p;
    size_t len;
    size_t cap;
    size_t max;
    bool over;                  /* more came than max */
};

static bool sink_add(struct sink *s, const char *data, size_t n)
{
    if (n > s->max - s->len) {
        s->over = true;
        return false;
    }
    if (s->len + n + 1 > s->cap) {
        size_t cap = s->cap ? s->cap : REPLY_START;
        char *p;

        while (cap < s->len + n + 1)
            cap *= 2;
        if (cap > s->max + 1)
            cap = s->max + 1;
        p = realloc(s->p, cap);
        if (!p)
            return false;
        s->p = p;
        s->cap = cap;
    }
    memcpy(s->p + s->len, data, n);
    s->len += n;
    s->p[s->len] = '\0';
    return true;
}

static size_t sink_write(char *data, size_t size, size_t nmemb, void *opaque)
{
    return sink_add(opaque, data, size * nmemb) ? size * nmemb : 0;
}

/* The options every request of ours has, on @h (reset). */
static void set_common(struct xlmig__etcd *e, CURL *h, const char *url,
                       struct curl_slist *headers, char *errbuf)
{
    curl_easy_reset(h);
    curl_easy_setopt(h, CURLOPT_SHARE, e->share);
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(h, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, (long)e->timeout_ms);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
    /* The cluster's CA and no other. */
    curl_easy_setopt(h, CURLOPT_CAINFO, e->ca_file);
    curl_easy_setopt(h, CURLOPT_CAPATH, NULL);
    if (e->cert_file) {
        curl_easy_setopt(h, CURLOPT_SSLCERT, e->cert_file);
        curl_easy_setopt(h, CURLOPT_SSLKEY, e->key_file);
    }
    errbuf[0] = '\0';
}

/* libcurl's failure @c as text. */
static void curl_why(CURLcode c, const char *errbuf, char *why,
                     size_t why_len)
{
    char clean[CURL_ERROR_SIZE];

    copy_safe(errbuf[0] ? errbuf : curl_easy_strerror(c), clean,
              sizeof(clean));
    say(why, why_len, "%s", clean);
}

/* What an etcd error reply (a non-200 answer's body) says, and the rc
 * of its gRPC code. */
static int etcd_error(const struct sink *body, long http, char *why,
                      size_t why_len)
{
    yajl_val root = NULL, code;
    char text[XLMIG__ETCD_WHY_MAX] = "";
    int rc = LIBXLMIG_ERR_PROTOCOL;

    if (body->len && !xlmig__json_tree(&reply_kind, (const uint8_t *)body->p,
                                       body->len, &root, NULL, 0) &&
        YAJL_IS_OBJECT(root)) {
        error_text(root, text, sizeof(text));
        code = find(root, "code");
        if (YAJL_IS_INTEGER(code)) {
            switch (YAJL_GET_INTEGER(code)) {
            case 5:             /* NotFound */
                rc = LIBXLMIG_ERR_NOT_FOUND;
                break;
            case 3:             /* InvalidArgument */
            case 9:             /* FailedPrecondition */
            case 11:            /* OutOfRange */
                rc = LIBXLMIG_ERR_INVALID_ARGUMENT;
                break;
            case 7:             /* PermissionDenied */
            case 16:            /* Unauthenticated */
                rc = LIBXLMIG_ERR_PERMISSION_DENIED;
                break;
            }
        }
    }
    say(why, why_len, "HTTP %ld: %s", http, text[0] ? text : "(no message)");
    yajl_tree_free(root);
    return rc;
}

enum outcome {
    ANSWERED,                   /* a 200 and its body */
    DOWN,                       /* no answer: try the next */
    FAILED,                     /* an answer that ends the call */
};

/*
 * POST @body to endpoint @i's @path: ANSWERED with the body in @reply;
 * DOWN or FAILED (*rc_r) with why in @why.
 */
static enum outcome post(struct xlmig__etcd *e, size_t i, const char *path,
                         const char *body, size_t body_len,
                         struct sink *reply, int *rc_r, char *why,
                         size_t why_len)
{
    char url[XLMIG__ETCD_ENDPOINT_MAX + 64], errbuf[CURL_ERROR_SIZE];
    struct curl_slist *headers;
    enum outcome out;
    long http = 0;
    CURLcode c;

    *rc_r = 0;
    free(reply->p);
    memset(reply, 0, sizeof(*reply));
    reply->max = XLMIG__ETCD_REPLY_MAX;
    headers = curl_slist_append(NULL, "Content-Type: application/json");
    if (!headers) {
        say(why, why_len, "no memory");
        *rc_r = LIBXLMIG_ERR_NO_MEMORY;
        return FAILED;
    }
    snprintf(url, sizeof(url), "%s%s", e->endpoints[i], path);
    set_common(e, e->curl, url, headers, errbuf);
    curl_easy_setopt(e->curl, CURLOPT_TIMEOUT_MS, (long)e->timeout_ms);
    curl_easy_setopt(e->curl, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(e->curl, CURLOPT_POSTFIELDSIZE_LARGE,
                     (curl_off_t)body_len);
    curl_easy_setopt(e->curl, CURLOPT_MAXFILESIZE_LARGE,
                     (curl_off_t)XLMIG__ETCD_REPLY_MAX);
    curl_easy_setopt(e->curl, CURLOPT_WRITEFUNCTION, sink_write);
    curl_easy_setopt(e->curl, CURLOPT_WRITEDATA, reply);
    c = curl_easy_perform(e->curl);
    curl_easy_getinfo(e->curl, CURLINFO_RESPONSE_CODE, &http);
    if (reply->over || c == CURLE_FILESIZE_EXCEEDED) {
        say(why, why_len, "a reply of more than %u bytes",
            XLMIG__ETCD_REPLY_MAX);
        *rc_r = LIBXLMIG_ERR_PROTOCOL;
        out = FAILED;
    } else if (c == CURLE_WRITE_ERROR) {
        say(why, why_len, "no memory for the reply");
        *rc_r = LIBXLMIG_ERR_NO_MEMORY;
        out = FAILED;
    } else if (c != CURLE_OK) {
        curl_why(c, errbuf, why, why_len);
        out = DOWN;
    } else if (http == 200) {
        out = ANSWERED;
    } else if (http >= 500) {
        etcd_error(reply, http, why, why_len);
        out = DOWN;
    } else {
        *rc_r = etcd_error(reply, http, why, why_len);
        out = FAILED;
    }
    curl_easy_setopt(e->curl, CURLOPT_HTTPHEADER, NULL);
    curl_easy_setopt(e->curl, CURLOPT_ERRORBUFFER, NULL);
    curl_slist_free_all(headers);
    return out;
}

/* "EP: why" appended to @sum (@cap bytes), "; " between. */
static void summary_add(char *sum, size_t cap, const char *ep,
                        const char *why)
{
    size_t len = strlen(sum);

    if (len < cap)
        snprintf(sum + len, cap - len, "%s%s: %s", len ? "; " : "", ep, why);
}

/*
 * The call @call (a word for the messages): @body to @path on the first
 * endpoint that answers, its index in *i_r and the 200's body in
 * @reply (the caller frees reply->p, also on error).  Errors logged.
 */
static int request(struct xlmig__etcd *e, const char *call, const char *path,
                   const char *body, size_t body_len, struct sink *reply,
                   size_t *i_r)
{
    char why[XLMIG__ETCD_WHY_MAX + 64], sum[SUMMARY_MAX] = "";
    size_t i;
    int rc;

    for (i = 0; i < e->n; i++) {
        if (e->foreign[i]) {
            summary_add(sum, sizeof(sum), e->endpoints[i],
                        "serves another etcd cluster (not used)");
            continue;
        }
        switch (post(e, i, path, body, body_len, reply, &rc, why,
                     sizeof(why))) {
        case ANSWERED:
            *i_r = i;
            return 0;
        case FAILED:
            return xlmig__error(e->ctx, rc, -1, "etcd %s: %s: %s",
                                e->endpoints[i], call, why);
        case DOWN:
            summary_add(sum, sizeof(sum), e->endpoints[i], why);
            break;
        }
    }
    return xlmig__error(e->ctx, LIBXLMIG_ERR_CANNOT_CONTACT_HOST, -1,
                        "etcd %s: no endpoint answered: %s; check that "
                        "etcd runs there and trusts our certificate", call,
                        sum);
}

/* A parser's failure, logged: "etcd EP: CALL: why". */
static int bad_reply(struct xlmig__etcd *e, size_t i, const char *call,
                     int rc, const char *why)
{
    return xlmig__error(e->ctx, rc, -1, "etcd %s: %s: %s%s", e->endpoints[i],
                        call, rc == LIBXLMIG_ERR_PROTOCOL ? "a bad reply: "
                                                          : "", why);
}

/* ------------------------------------------------------------ JSON out */

static bool gen_key(yajl_gen g, const char *key)
{
    return yajl_gen_string(g, (const unsigned char *)key, strlen(key)) ==
           yajl_gen_status_ok;
}

/* "KEY": base64 of @n bytes of @bytes. */
static bool gen_key_bytes(yajl_gen g, const char *key, const char *bytes,
                          size_t n)
{
    char *b64;
    bool ok;

    if (b64_encode(bytes, n, &b64))
        return false;
    ok = xlmig__gen_key_string(g, key, b64);
    free(b64);
    return ok;
}

/* "KEY": "N", grpc-gateway's int64. */
static bool gen_key_i64(yajl_gen g, const char *key, int64_t v)
{
    char text[32];

    snprintf(text, sizeof(text), "%" PRId64, v);
    return xlmig__gen_key_string(g, key, text);
}

static bool gen_open(yajl_gen g, const char *key)
{
    return (!key || gen_key(g, key)) &&
           yajl_gen_map_open(g) == yajl_gen_status_ok;
}

static bool gen_close(yajl_gen g)
{
    return yajl_gen_map_close(g) == yajl_gen_status_ok;
}

/*
 * "key" and, for a range, "range_end": @key alone, or with @prefix every
 * key under it (the empty prefix: every key).
 */
static bool gen_range(yajl_gen g, const char *key, size_t key_len,
                      bool prefix)
{
    char end[XLMIG__ETCD_KEY_MAX];
    size_t n = key_len;

    if (!prefix)
        return gen_key_bytes(g, "key", key, key_len);
    if (!key_len)               /* from "\0" to the end: all of them */
        return gen_key_bytes(g, "key", "", 1) &&
               gen_key_bytes(g, "range_end", "", 1);
    memcpy(end, key, key_len);
    while (n && (unsigned char)end[n - 1] == 0xff)
        n--;
    if (!n)                     /* all 0xff: every key from it on */
        return gen_key_bytes(g, "key", key, key_len) &&
               gen_key_bytes(g, "range_end", "", 1);
    end[n - 1] = (char)((unsigned char)end[n - 1] + 1);
    return gen_key_bytes(g, "key", key, key_len) &&
           gen_key_bytes(g, "range_end", end, n);
}

/* The text of @g, for a request. */
static int gen_text(struct xlmig__etcd *e, const char *call, yajl_gen g,
                    bool ok, const char **text_r, size_t *len_r)
{
    const unsigned char *buf;

    if (!ok || yajl_gen_get_buf(g, &buf, len_r) != yajl_gen_status_ok)
        return xlmig__error(e->ctx, LIBXLMIG_ERR_NO_MEMORY, -1,
                            "etcd %s: cannot write the request", call);
    *text_r = (const char *)buf;
    return 0;
}

/* ------------------------------------------------------------ the calls */

static int check_key(struct xlmig__etcd *e, const char *call,
                     const char *key, size_t len, bool may_be_empty)
{
    if ((!key && len) || (!len && !may_be_empty))
        return xlmig__error(e->ctx, LIBXLMIG_ERR_INVALID_ARGUMENT, -1,
                            "etcd %s: no key", call);
    if (len > XLMIG__ETCD_KEY_MAX)
        return xlmig__error(e->ctx, LIBXLMIG_ERR_INVALID_ARGUMENT, -1,
                            "etcd %s: a key of %zu bytes, more than the %u "
                            "one may have", call, len, XLMIG__ETCD_KEY_MAX);
    return 0;
}

static int check_value(struct xlmig__etcd *e, const char *call,
                       const char *value, size_t len)
{
    if (!value && len)
        return xlmig__error(e->ctx, LIBXLMIG_ERR_INVALID_ARGUMENT, -1,
                            "etcd %s: no value", call);
    if (len > XLMIG__ETCD_VALUE_MAX)
        return xlmig__error(e->ctx, LIBXLMIG_ERR_INVALID_ARGUMENT, -1,
                            "etcd %s: a value of %zu bytes, more than the "
                            "%u one may have", call, len,
                            XLMIG__ETCD_VALUE_MAX);
    return 0;
}

/* A range's checks, for xlmig__etcd_get() and _get_many(). */
static int check_range(struct xlmig__etcd *e, const char *call,
                       const char *key, size_t key_len,
                       const struct xlmig__etcd_range *r)
{
    int rc = check_key(e, call, key, key_len, r->prefix);

    if (rc)
        return rc;
    if (r->limit > XLMIG__ETCD_RANGE_MAX || r->max_create_revision < 0 ||
        r->revision < 0 ||
        (r->sort != XLMIG__ETCD_SORT_KEY && r->sort != XLMIG__ETCD_SORT_CREATE))
        return xlmig__error(e->ctx, LIBXLMIG_ERR_INVALID_ARGUMENT, -1,
                            "etcd %s: %s", call,
                            r->limit > XLMIG__ETCD_RANGE_MAX
                                ? "a limit over the 4096 keys a range may "
                                  "return"
                                : r->max_create_revision < 0
                                ? "a negative max_create_revision"
                                : r->revision < 0
                                ? "a negative revision"
                                : "an unknown sort");
    return 0;
}

/* The members of a RangeRequest, in an object left open. */
static bool gen_range_request(yajl_gen g, const char *key, size_t key_len,
                              const struct xlmig__etcd_range *r)
{
    size_t limit = r->limit ? r->limit : XLMIG__ETCD_RANGE_MAX;

    return gen_range(g, key, key_len, r->prefix) &&
           gen_key_i64(g, "limit", (int64_t)limit) &&
           xlmig__gen_key_string(g, "sort_order",
                                 r->descend ? "DESCEND" : "ASCEND") &&
           xlmig__gen_key_string(g, "sort_target",
                                 r->sort == XLMIG__ETCD_SORT_CREATE
                                     ? "CREATE" : "KEY") &&
           (!r->max_create_revision ||
            gen_key_i64(g, "max_create_revision", r->max_create_revision)) &&
           (!r->count_only || xlmig__gen_key_bool(g, "count_only", true)) &&
           (!r->revision || gen_key_i64(g, "revision", r->revision));
}

int xlmig__etcd_get(struct xlmig__etcd *e, const char *key, size_t key_len,
                    const struct xlmig__etcd_range *r,
                    struct xlmig__etcd_kvs *kvs_r)
{
    static const struct xlmig__etcd_range one = { 0 };
    struct sink reply = { 0 };
    char why[XLMIG__ETCD_WHY_MAX];
    yajl_gen g = NULL;
    const char *text = NULL;
    size_t len = 0, i = 0, limit;
    int rc;

    memset(kvs_r, 0, sizeof(*kvs_r));
    if (!r)
        r = &one;
    rc = check_range(e, "range", key, key_len, r);
    if (rc)
        return rc;
    limit = r->limit ? r->limit : XLMIG__ETCD_RANGE_MAX;
    g = xlmig__gen_new();
    rc = gen_text(e, "range", g,
                  g && gen_open(g, NULL) &&
                      gen_range_request(g, key, key_len, r) && gen_close(g),
                  &text, &len);
    if (!rc)
        rc = request(e, "range", "/v3/kv/range", text, len, &reply, &i);
    if (rc)
        goto out;
    rc = xlmig__etcd_parse_range(reply.p, reply.len, kvs_r, why, sizeof(why));
    if (!rc && kvs_r->n > limit) {
        snprintf(why, sizeof(why), "%zu keys for a limit of %zu", kvs_r->n,
                 limit);
        rc = LIBXLMIG_ERR_PROTOCOL;
    }
    if (!rc && r->count_only && kvs_r->n) {
        snprintf(why, sizeof(why), "keys for a count");
        rc = LIBXLMIG_ERR_PROTOCOL;
    }
    if (rc) {
        xlmig__etcd_kvs_free(kvs_r);
        rc = bad_reply(e, i, "range", rc, why);
    }

out:
    if (g)
        yajl_gen_free(g);
    free(reply.p);
    return rc;
}

/* A put, a delete: @body to @path, the revision and the count deleted. */
static int write_call(struct xlmig__etcd *e, const char *call,
                      const char *path, yajl_gen g, bool ok,
                      int64_t *revision_r, int64_t *deleted_r)
{
    struct sink reply = { 0 };
    char why[XLMIG__ETCD_WHY_MAX];
    int64_t rev, deleted;
    const char *text = NULL;
    size_t len = 0, i = 0;
    int rc;

    rc = gen_text(e, call, g, ok, &text, &len);
    if (!rc)
        rc = request(e, call, path, text, len, &reply, &i);
    if (!rc) {
        rc = xlmig__etcd_parse_write(reply.p, reply.len, &rev, &deleted, why,
                                     sizeof(why));
        if (rc)
            rc = bad_reply(e, i, call, rc, why);
    }
    if (!rc && revision_r)
        *revision_r = rev;
    if (!rc && deleted_r)
        *deleted_r = deleted;
    if (g)
        yajl_gen_free(g);
    free(reply.p);
    return rc;
}

int xlmig__etcd_put(struct xlmig__etcd *e, const char *key, size_t key_len,
                    const char *value, size_t value_len, int64_t lease,
                    int64_t *revision_r)
{
    yajl_gen g;
    int rc;

    rc = check_key(e, "put", key, key_len, false);
    if (!rc)
        rc = check_value(e, "put", value, value_len);
    if (!rc && lease < 0)
        rc = xlmig__error(e->ctx, LIBXLMIG_ERR_INVALID_ARGUMENT, -1,
                          "etcd put: a negative lease");
    if (rc)
        return rc;
    g = xlmig__gen_new();
    return write_call(e, "put", "/v3/kv/put", g,
                      g && gen_open(g, NULL) &&
                          gen_key_bytes(g, "key", key, key_len) &&
                          gen_key_bytes(g, "value", value, value_len) &&
                          (!lease || gen_key_i64(g, "lease", lease)) &&
                          gen_close(g),
                      revision_r, NULL);
}

int xlmig__etcd_delete(struct xlmig__etcd *e, const char *key,
                       size_t key_len, bool prefix, int64_t *deleted_r)
{
    yajl_gen g;
    int rc;

    rc = check_key(e, "delete", key, key_len, prefix);
    if (rc)
        return rc;
    g = xlmig__gen_new();
    return write_call(e, "delete", "/v3/kv/deleterange", g,
                      g && gen_open(g, NULL) &&
                          gen_range(g, key, key_len, prefix) && gen_close(g),
                      NULL, deleted_r);
}

/* A lease call: {"ID": @id} or {"TTL": @ttl}, the reply's ID and TTL. */
static int lease_call(struct xlmig__etcd *e, const char *call,
                      const char *path, const char *field, int64_t v,
                      bool parse, int64_t *id_r, int64_t *ttl_r)
{
    struct sink reply = { 0 };
    char why[XLMIG__ETCD_WHY_MAX];
    yajl_gen g = xlmig__gen_new();
    const char *text = NULL;
    size_t len = 0, i = 0;
    int rc;

    rc = gen_text(e, call, g,
                  g && gen_open(g, NULL) && gen_key_i64(g, field, v) &&
                      gen_close(g),
                  &text, &len);
    if (!rc)
        rc = request(e, call, path, text, len, &reply, &i);
    if (!rc && parse) {
        rc = xlmig__etcd_parse_lease(reply.p, reply.len, id_r, ttl_r, why,
                                     sizeof(why));
        if (rc)
            rc = bad_reply(e, i, call, rc, why);
    }
    if (g)
        yajl_gen_free(g);
    free(reply.p);
    return rc;
}

int xlmig__etcd_lease_grant(struct xlmig__etcd *e, int64_t ttl_s,
                            int64_t *lease_r)
{
    int64_t id = 0, ttl = 0;
    int rc;

    *lease_r = 0;
    if (ttl_s < 1 || ttl_s > 3600)
        return xlmig__error(e->ctx, LIBXLMIG_ERR_INVALID_ARGUMENT, -1,
                            "etcd lease grant: a TTL of %" PRId64 " s, not "
                            "1 to 3600", ttl_s);
    rc = lease_call(e, "lease grant", "/v3/lease/grant", "TTL", ttl_s, true,
                    &id, &ttl);
    if (rc)
        return rc;
    if (id <= 0 || ttl <= 0)
        return xlmig__error(e->ctx, LIBXLMIG_ERR_PROTOCOL, -1,
                            "etcd lease grant: a lease of ID %" PRId64
                            " and TTL %" PRId64, id, ttl);
    *lease_r = id;
    return 0;
}

int xlmig__etcd_lease_keepalive(struct xlmig__etcd *e, int64_t lease,
                                int64_t *ttl_r)
{
    int64_t id = 0, ttl = 0;
    int rc;

    *ttl_r = 0;
    if (lease <= 0)
        return xlmig__error(e->ctx, LIBXLMIG_ERR_INVALID_ARGUMENT, -1,
                            "etcd lease keepalive: no lease");
    /* One request on the stream: the gateway answers {"result": ...}. */
    rc = lease_call(e, "lease keepalive", "/v3/lease/keepalive", "ID", lease,
                    true, &id, &ttl);
    if (rc)
        return rc;
    if (id != lease)
        return xlmig__error(e->ctx, LIBXLMIG_ERR_PROTOCOL, -1,
                            "etcd lease keepalive: the reply is of lease %"
                            PRId64 ", not %" PRId64, id, lease);
    *ttl_r = ttl > 0 ? ttl : 0;
    return 0;
}

int xlmig__etcd_lease_revoke(struct xlmig__etcd *e, int64_t lease)
{
    libxlmig_ctx *ctx = e->ctx;
    struct xlmig__held_error held;
    int rc;

    if (lease <= 0)
        return xlmig__error(ctx, LIBXLMIG_ERR_INVALID_ARGUMENT, -1,
                            "etcd lease revoke: no lease");
    /* A lease etcd does not know is gone already, with its keys. */
    xlmig__error_hold(&held);
    rc = lease_call(e, "lease revoke", "/v3/lease/revoke", "ID", lease, false,
                    NULL, NULL);
    xlmig__error_unhold();
    if (rc == LIBXLMIG_ERR_NOT_FOUND)
        return 0;
    return rc ? xlmig__error_replay(ctx, &held) : 0;
}

static const char *const cmp_targets[] = {
    [XLMIG__ETCD_CMP_VERSION] = "VERSION",
    [XLMIG__ETCD_CMP_CREATE] = "CREATE",
    [XLMIG__ETCD_CMP_MOD] = "MOD",
    [XLMIG__ETCD_CMP_VALUE] = "VALUE",
};
static const char *const cmp_fields[] = {
    [XLMIG__ETCD_CMP_VERSION] = "version",
    [XLMIG__ETCD_CMP_CREATE] = "create_revision",
    [XLMIG__ETCD_CMP_MOD] = "mod_revision",
    [XLMIG__ETCD_CMP_VALUE] = "value",
};
static const char *const cmp_results[] = {
    [XLMIG__ETCD_EQUAL] = "EQUAL",
    [XLMIG__ETCD_GREATER] = "GREATER",
    [XLMIG__ETCD_LESS] = "LESS",
    [XLMIG__ETCD_NOT_EQUAL] = "NOT_EQUAL",
};

static int check_cmp(struct xlmig__etcd *e, const struct xlmig__etcd_cmp *c)
{
    int rc = check_key(e, "txn", c->key, c->key_len, false);

    if (rc)
        return rc;
    if ((unsigned)c->target > XLMIG__ETCD_CMP_VALUE ||
        (unsigned)c->result > XLMIG__ETCD_NOT_EQUAL)
        return xlmig__error(e->ctx, LIBXLMIG_ERR_INVALID_ARGUMENT, -1,
                            "etcd txn: a compare of an unknown kind");
    return c->target == XLMIG__ETCD_CMP_VALUE
               ? check_value(e, "txn", c->value, c->value_len)
               : 0;
}

static int check_op(struct xlmig__etcd *e, const struct xlmig__etcd_op *o)
{
    int rc;

    if ((unsigned)o->kind > XLMIG__ETCD_OP_GET)
        return xlmig__error(e->ctx, LIBXLMIG_ERR_INVALID_ARGUMENT, -1,
                            "etcd txn: an operation of an unknown kind");
    rc = check_key(e, "txn", o->key, o->key_len,
                   o->kind == XLMIG__ETCD_OP_DELETE && o->prefix);
    if (!rc && o->kind == XLMIG__ETCD_OP_PUT)
        rc = check_value(e, "txn", o->value, o->value_len);
    if (!rc && o->kind == XLMIG__ETCD_OP_PUT && o->lease < 0)
        rc = xlmig__error(e->ctx, LIBXLMIG_ERR_INVALID_ARGUMENT, -1,
                          "etcd txn: a negative lease");
    return rc;
}

static bool gen_cmp(yajl_gen g, const struct xlmig__etcd_cmp *c)
{
    return gen_open(g, NULL) &&
           gen_key_bytes(g, "key", c->key, c->key_len) &&
           xlmig__gen_key_string(g, "target", cmp_targets[c->target]) &&
           xlmig__gen_key_string(g, "result", cmp_results[c->result]) &&
           (c->target == XLMIG__ETCD_CMP_VALUE
                ? gen_key_bytes(g, "value", c->value, c->value_len)
                : gen_key_i64(g, cmp_fields[c->target], c->number)) &&
           gen_close(g);
}

static bool gen_op(yajl_gen g, const struct xlmig__etcd_op *o)
{
    bool ok = gen_open(g, NULL);

    switch (o->kind) {
    case XLMIG__ETCD_OP_PUT:
        ok = ok && gen_open(g, "request_put") &&
             gen_key_bytes(g, "key", o->key, o->key_len) &&
             gen_key_bytes(g, "value", o->value, o->value_len) &&
             (!o->lease || gen_key_i64(g, "lease", o->lease));
        break;
    case XLMIG__ETCD_OP_DELETE:
        ok = ok && gen_open(g, "request_delete_range") &&
             gen_range(g, o->key, o->key_len, o->prefix);
        break;
    case XLMIG__ETCD_OP_GET:
        ok = ok && gen_open(g, "request_range") &&
             gen_key_bytes(g, "key", o->key, o->key_len);
        break;
    }
    return ok && gen_close(g) && gen_close(g);
}

static bool gen_ops(yajl_gen g, const char *key,
                    const struct xlmig__etcd_op *ops, size_t n)
{
    size_t i;

    if (!gen_key(g, key) || yajl_gen_array_open(g) != yajl_gen_status_ok)
        return false;
    for (i = 0; i < n; i++) {
        if (!gen_op(g, &ops[i]))
            return false;
    }
    return yajl_gen_array_close(g) == yajl_gen_status_ok;
}

int xlmig__etcd_txn(struct xlmig__etcd *e,
                    const struct xlmig__etcd_cmp *cmp, size_t ncmp,
                    const struct xlmig__etcd_op *then, size_t nthen,
                    const struct xlmig__etcd_op *otherwise, size_t nother,
                    bool *succeeded_r, int64_t *revision_r)
{
    struct sink reply = { 0 };
    char why[XLMIG__ETCD_WHY_MAX];
    yajl_gen g = NULL;
    const char *text = NULL;
    int64_t rev;
    size_t len = 0, i = 0;
    bool ok;
    int rc = 0;

    *succeeded_r = false;
    if (ncmp > XLMIG__ETCD_TXN_OPS_MAX || nthen > XLMIG__ETCD_TXN_OPS_MAX ||
        nother > XLMIG__ETCD_TXN_OPS_MAX || (ncmp && !cmp) ||
        (nthen && !then) || (nother && !otherwise))
        return xlmig__error(e->ctx, LIBXLMIG_ERR_INVALID_ARGUMENT, -1,
                            "etcd txn: %zu compares, %zu and %zu operations;"
                            " at most %u of each, given", ncmp, nthen,
                            nother, XLMIG__ETCD_TXN_OPS_MAX);
    for (i = 0; !rc && i < ncmp; i++)
        rc = check_cmp(e, &cmp[i]);
    for (i = 0; !rc && i < nthen; i++)
        rc = check_op(e, &then[i]);
    for (i = 0; !rc && i < nother; i++)
        rc = check_op(e, &otherwise[i]);
    if (rc)
        return rc;
    g = xlmig__gen_new();
    ok = g && gen_open(g, NULL) && gen_key(g, "compare") &&
         yajl_gen_array_open(g) == yajl_gen_status_ok;
    for (i = 0; ok && i < ncmp; i++)
        ok = gen_cmp(g, &cmp[i]);
    ok = ok && yajl_gen_array_close(g) == yajl_gen_status_ok &&
         gen_ops(g, "success", then, nthen) &&
         gen_ops(g, "failure", otherwise, nother) && gen_close(g);
    rc = gen_text(e, "txn", g, ok, &text, &len);
    if (!rc)
        rc = request(e, "txn", "/v3/kv/txn", text, len, &reply, &i);
    if (!rc) {
        rc = xlmig__etcd_parse_txn(reply.p, reply.len, succeeded_r, &rev, why,
                                   sizeof(why));
        if (rc)
            rc = bad_reply(e, i, "txn", rc, why);
        else if (revision_r)
            *revision_r = rev;
    }
    if (g)
        yajl_gen_free(g);
    free(reply.p);
    return rc;
}

int xlmig__etcd_get_many(struct xlmig__etcd *e,
                         const struct xlmig__etcd_read *reads, size_t n,
                         struct xlmig__etcd_kvs *kvs_r)
{
    static const struct xlmig__etcd_range one = { 0 };
    struct sink reply = { 0 };
    char why[XLMIG__ETCD_WHY_MAX];
    yajl_gen g = NULL;
    const char *text = NULL;
    size_t len = 0, i = 0, k;
    bool ok;
    int rc = 0;

    for (k = 0; k < n; k++)
        memset(&kvs_r[k], 0, sizeof(kvs_r[k]));
    if (!n || n > XLMIG__ETCD_TXN_OPS_MAX)
        return xlmig__error(e->ctx, LIBXLMIG_ERR_INVALID_ARGUMENT, -1,
                            "etcd reads: %zu of them; 1 to %u, given", n,
                            XLMIG__ETCD_TXN_OPS_MAX);
    for (k = 0; !rc && k < n; k++)
        rc = check_range(e, "reads", reads[k].key, reads[k].key_len,
                         reads[k].range ? reads[k].range : &one);
    if (rc)
        return rc;
    g = xlmig__gen_new();
    ok = g && gen_open(g, NULL) && gen_key(g, "success") &&
         yajl_gen_array_open(g) == yajl_gen_status_ok;
    for (k = 0; ok && k < n; k++)
        ok = gen_open(g, NULL) && gen_open(g, "request_range") &&
             gen_range_request(g, reads[k].key, reads[k].key_len,
                               reads[k].range ? reads[k].range : &one) &&
             gen_close(g) && gen_close(g);
    ok = ok && yajl_gen_array_close(g) == yajl_gen_status_ok && gen_close(g);
    rc = gen_text(e, "reads", g, ok, &text, &len);
    if (!rc)
        rc = request(e, "reads", "/v3/kv/txn", text, len, &reply, &i);
    if (!rc) {
        rc = xlmig__etcd_parse_reads(reply.p, reply.len, n, kvs_r, why,
                                     sizeof(why));
        for (k = 0; !rc && k < n; k++) {
            size_t limit = reads[k].range && reads[k].range->limit
                               ? reads[k].range->limit
                               : XLMIG__ETCD_RANGE_MAX;

            if (kvs_r[k].n > limit ||
                (reads[k].range && reads[k].range->count_only &&
                 kvs_r[k].n)) {
                snprintf(why, sizeof(why), "read %zu: %zu keys for a limit "
                         "of %zu%s", k, kvs_r[k].n, limit,
                         reads[k].range && reads[k].range->count_only
                             ? " and a count" : "");
                rc = LIBXLMIG_ERR_PROTOCOL;
            }
        }
        if (rc) {
            for (k = 0; k < n; k++)
                xlmig__etcd_kvs_free(&kvs_r[k]);
            rc = bad_reply(e, i, "reads", rc, why);
        }
    }
    if (g)
        yajl_gen_free(g);
    free(reply.p);
    return rc;
}

int xlmig__etcd_status(struct xlmig__etcd *e, size_t i,
                       struct xlmig__etcd_status *st)
{
    struct sink reply = { 0 };
    char why[XLMIG__ETCD_WHY_MAX + 64];
    int rc;

    memset(st, 0, sizeof(*st));
    if (i >= e->n)
        return xlmig__error(e->ctx, LIBXLMIG_ERR_INVALID_ARGUMENT, -1,
                            "etcd status: no endpoint %zu (there are %zu)",
                            i, e->n);
    switch (post(e, i, "/v3/maintenance/status", "{}", 2, &reply, &rc, why,
                 sizeof(why))) {
    case ANSWERED:
        rc = xlmig__etcd_parse_status(reply.p, reply.len, st, why,
                                      sizeof(why));
        if (rc)
            rc = bad_reply(e, i, "status", rc, why);
        else
            st->reachable = true;
        break;
    case DOWN:
        copy_safe(why, st->error, sizeof(st->error));
        rc = 0;
        break;
    case FAILED:
        rc = xlmig__error(e->ctx, rc, -1, "etcd %s: status: %s",
                          e->endpoints[i], why);
        break;
    }
    free(reply.p);
    return rc;
}

/* ------------------------------------------------------------ the watch */

/* One stream's state, as its write callback leaves it. */
struct watch {
    CURL *h;
    struct sink line;           /* the line being cut */
    struct sink body;           /* a non-200 answer's */
    long http;                  /* 0 until known */
    bool created;
    int64_t created_revision;   /* the header's in the created message */
    bool done;                  /* stop reading: event, or failed */
    int rc;                     /* done: 0 (event) or a failure's */
    bool down;                  /* done: the stream failed, try the next */
    bool deleted;
    int64_t event_revision;
    char why[XLMIG__ETCD_WHY_MAX + 64];
};

/* A whole line of the stream. */
static void watch_line(struct watch *w, const char *text, size_t len)
{
    struct xlmig__etcd_watch_msg m;
    char why[XLMIG__ETCD_WHY_MAX];
    int rc;

    while (len && (text[len - 1] == '\r' || text[len - 1] == ' '))
        len--;
    if (!len)
        return;
    rc = xlmig__etcd_parse_watch_line(text, len, &m, why, sizeof(why));
    if (rc) {
        w->done = true;
        w->rc = rc;
        say(w->why, sizeof(w->why), "%s%s",
            rc == LIBXLMIG_ERR_PROTOCOL ? "a bad reply: " : "", why);
        return;
    }
    if (m.error) {
        w->done = w->down = true;
        say(w->why, sizeof(w->why), "the watch failed: %s", m.reason);
        return;
    }
    if (!w->created) {
        if (!m.created) {
            w->done = true;
            w->rc = LIBXLMIG_ERR_PROTOCOL;
            say(w->why, sizeof(w->why), "a bad reply: the first message is "
                "not the watch's creation");
            return;
        }
        w->created = true;
        w->created_revision = m.revision;
    }
    if (m.canceled) {
        w->done = true;
        if (m.compact_revision > 0) {
            w->rc = LIBXLMIG_ERR_NOT_FOUND;
            say(w->why, sizeof(w->why), "the revisions before %" PRId64
                " are compacted; read the key again and watch from the "
                "revision of that read", m.compact_revision);
        } else {
            w->down = true;
            say(w->why, sizeof(w->why), "etcd cancelled the watch: %s",
                m.reason[0] ? m.reason : "(no reason)");
        }
        return;
    }
    if (m.event) {
        w->done = true;
        w->rc = 0;
        w->deleted = m.deleted;
        w->event_revision = m.event_revision;
    }
}

static size_t watch_write(char *data, size_t size, size_t nmemb,
                          void *opaque)
{
    struct watch *w = opaque;
    size_t n = size * nmemb, used = 0;

    if (!w->http)
        curl_easy_getinfo(w->h, CURLINFO_RESPONSE_CODE, &w->http);
    if (w->http != 200)
        return sink_add(&w->body, data, n) ? n : 0;
    while (used < n && !w->done) {
        const char *nl = memchr(data + used, '\n', n - used);
        size_t part = nl ? (size_t)(nl - (data + used)) : n - used;

        if (!sink_add(&w->line, data + used, part)) {
            w->done = true;
            w->rc = w->line.over ? LIBXLMIG_ERR_PROTOCOL
                                 : LIBXLMIG_ERR_NO_MEMORY;
            say(w->why, sizeof(w->why), w->line.over
                    ? "a bad reply: a line of more than 8 MiB"
                    : "no memory for a line of the watch");
            break;
        }
        used += part;
        if (nl) {
            used++;
            watch_line(w, w->line.p, w->line.len);
            w->line.len = 0;
        }
    }
    /* Taking less than all ends the transfer: an event, or a failure. */
    return w->done ? 0 : n;
}

enum watch_end {
    WATCH_EVENT,
    WATCH_DOWN,                 /* try the next endpoint */
    WATCH_FAILED,               /* *rc_r, why in w->why */
    WATCH_TIMEOUT,
    WATCH_CANCELLED,
};

/* One stream on endpoint @i until an event, a failure, the deadline
 * (@deadline, now_ms()'s clock) or the cancel flag. */
static enum watch_end watch_one(struct xlmig__etcd *e, size_t i,
                                const char *body, size_t body_len,
                                uint64_t deadline,
                                const volatile bool *cancel,
                                struct watch *w, int *rc_r)
{
    char url[XLMIG__ETCD_ENDPOINT_MAX + 64], errbuf[CURL_ERROR_SIZE];
    struct curl_slist *headers = NULL;
    uint64_t started = now_ms();
    enum watch_end end;
    CURLM *m = NULL;
    CURLMsg *msg;
    CURLcode c = CURLE_OK;
    int running = 1, left;

    *rc_r = 0;
    w->line.max = XLMIG__ETCD_REPLY_MAX;
    w->body.max = XLMIG__ETCD_REPLY_MAX;
    if (!e->wcurl)
        e->wcurl = curl_easy_init();
    if (!e->wmulti)
        e->wmulti = curl_multi_init();
    w->h = e->wcurl;
    m = e->wmulti;
    headers = curl_slist_append(NULL, "Content-Type: application/json");
    if (!w->h || !m || !headers) {
        say(w->why, sizeof(w->why), "no memory for a watch");
        *rc_r = LIBXLMIG_ERR_NO_MEMORY;
        end = WATCH_FAILED;
        goto out;
    }
    snprintf(url, sizeof(url), "%s/v3/watch", e->endpoints[i]);
    set_common(e, w->h, url, headers, errbuf);
    curl_easy_setopt(w->h, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(w->h, CURLOPT_POSTFIELDSIZE_LARGE,
                     (curl_off_t)body_len);
    curl_easy_setopt(w->h, CURLOPT_WRITEFUNCTION, watch_write);
    curl_easy_setopt(w->h, CURLOPT_WRITEDATA, w);
    curl_multi_add_handle(m, w->h);
    for (;;) {
        uint64_t now;

        if (curl_multi_perform(m, &running) != CURLM_OK) {
            say(w->why, sizeof(w->why), "libcurl's multi interface failed");
            *rc_r = LIBXLMIG_ERR_INTERNAL;
            end = WATCH_FAILED;
            goto out_remove;
        }
        if (w->done || !running)
            break;
        now = now_ms();
        if (cancel && *cancel) {
            end = WATCH_CANCELLED;
            goto out_remove;
        }
        if (now >= deadline) {
            end = WATCH_TIMEOUT;
            goto out_remove;
        }
        if (!w->created && now - started >= e->timeout_ms) {
            say(w->why, sizeof(w->why), "no answer in %u ms", e->timeout_ms);
            end = WATCH_DOWN;
            goto out_remove;
        }
        curl_multi_poll(m, NULL, 0,
                        (int)(deadline - now < WATCH_TICK_MS ? deadline - now
                                                             : WATCH_TICK_MS),
                        NULL);
    }
    while ((msg = curl_multi_info_read(m, &left))) {
        if (msg->msg == CURLMSG_DONE)
            c = msg->data.result;
    }
    if (w->done && w->rc) {
        *rc_r = w->rc;
        end = WATCH_FAILED;
    } else if (w->done && w->down) {
        end = WATCH_DOWN;
    } else if (w->done) {
        end = WATCH_EVENT;
    } else if (w->body.over) {
        say(w->why, sizeof(w->why), "a reply of more than %u bytes",
            XLMIG__ETCD_REPLY_MAX);
        *rc_r = LIBXLMIG_ERR_PROTOCOL;
        end = WATCH_FAILED;
    } else if (c != CURLE_OK) {
        curl_why(c, errbuf, w->why, sizeof(w->why));
        end = WATCH_DOWN;
    } else if (w->http >= 500 || (w->http == 200 && w->created)) {
        if (w->http == 200)
            say(w->why, sizeof(w->why), "the stream ended");
        else
            etcd_error(&w->body, w->http, w->why, sizeof(w->why));
        end = WATCH_DOWN;
    } else if (w->http == 200) {
        say(w->why, sizeof(w->why), "a bad reply: the stream ended before "
            "the watch was made");
        *rc_r = LIBXLMIG_ERR_PROTOCOL;
        end = WATCH_FAILED;
    } else {
        *rc_r = etcd_error(&w->body, w->http, w->why, sizeof(w->why));
        end = WATCH_FAILED;
    }

out_remove:
    curl_multi_remove_handle(m, w->h);
    /* The handles stay for the next watch; the headers are ours. */
    curl_easy_setopt(w->h, CURLOPT_HTTPHEADER, NULL);
    curl_easy_setopt(w->h, CURLOPT_ERRORBUFFER, NULL);
out:
    w->h = NULL;
    curl_slist_free_all(headers);
    return end;
}

static int watch_body(const char *key, size_t key_len, bool prefix,
                      int64_t start, yajl_gen *g_r, const char **text_r,
                      size_t *len_r)
{
    const unsigned char *buf;
    yajl_gen g = xlmig__gen_new();

    *g_r = g;
    if (!g || !gen_open(g, NULL) || !gen_open(g, "create_request") ||
        !gen_range(g, key, key_len, prefix) ||
        (start && !gen_key_i64(g, "start_revision", start)) || !gen_close(g) ||
        !gen_close(g) || yajl_gen_get_buf(g, &buf, len_r) != yajl_gen_status_ok)
        return LIBXLMIG_ERR_NO_MEMORY;
    *text_r = (const char *)buf;
    return 0;
}

int xlmig__etcd_watch(struct xlmig__etcd *e, const char *key, size_t key_len,
                      bool prefix, int64_t start_revision,
                      unsigned timeout_ms, const volatile bool *cancel,
                      bool *deleted_r, int64_t *revision_r)
{
    uint64_t deadline = now_ms() + timeout_ms;
    char sum[SUMMARY_MAX] = "";
    size_t i = 0, down = 0;
    int64_t start = start_revision;
    int rc;

    *deleted_r = false;
    *revision_r = 0;
    rc = check_key(e, "watch", key, key_len, prefix);
    if (rc)
        return rc;
    if (start_revision < 0)
        return xlmig__error(e->ctx, LIBXLMIG_ERR_INVALID_ARGUMENT, -1,
                            "etcd watch: a negative start revision");
    /* Round the endpoints until one watches, and on when it drops. */
    while (down < e->n) {
        struct watch w = { 0 };
        enum watch_end end;
        yajl_gen g = NULL;
        const char *text;
        size_t len = 0;

        if (e->foreign[i]) {
            summary_add(sum, sizeof(sum), e->endpoints[i],
                        "serves another etcd cluster (not used)");
            down++;
            i = (i + 1) % e->n;
            continue;
        }

        rc = watch_body(key, key_len, prefix, start, &g, &text, &len);
        if (rc) {
            if (g)
                yajl_gen_free(g);
            return xlmig__error(e->ctx, rc, -1,
                                "etcd watch: cannot write the request");
        }
        end = watch_one(e, i, text, len, deadline, cancel, &w, &rc);
        yajl_gen_free(g);
        free(w.line.p);
        free(w.body.p);
        switch (end) {
        case WATCH_EVENT:
            *deleted_r = w.deleted;
            *revision_r = w.event_revision;
            return 0;
        case WATCH_TIMEOUT:
            /* An answer, not an error: waiters watch in slices. */
            xlmig__log(e->ctx, XTL_DEBUG, -1, "etcd watch: no change in %u "
                       "ms", timeout_ms);
            return LIBXLMIG_ERR_TIMEOUT;
        case WATCH_CANCELLED:
            return xlmig__error(e->ctx, LIBXLMIG_ERR_CANCELLED, -1,
                                "etcd watch: cancelled");
        case WATCH_FAILED:
            return xlmig__error(e->ctx, rc, -1, "etcd %s: watch: %s",
                                e->endpoints[i], w.why);
        case WATCH_DOWN:
            if (w.created) {
                /* It watched up to here: the next one goes on from it. */
                if (!start)
                    start = w.created_revision + 1;
                down = 0;
                sum[0] = '\0';
                xlmig__log(e->ctx, XTL_INFO, -1, "etcd %s: watch: %s; on "
                           "with the next endpoint", e->endpoints[i], w.why);
            }
            summary_add(sum, sizeof(sum), e->endpoints[i], w.why);
            down++;
            i = (i + 1) % e->n;
            break;
        }
    }
    return xlmig__error(e->ctx, LIBXLMIG_ERR_CANNOT_CONTACT_HOST, -1,
                        "etcd watch: no endpoint answered: %s; check that "
                        "etcd runs there and trusts our certificate", sum);
}

int xlmig__etcd_check(struct xlmig__etcd *e, uint64_t *cluster_id_r)
{
    struct xlmig__etcd_status st[XLMIG__ETCD_ENDPOINTS_MAX];
    char sum[SUMMARY_MAX] = "";
    size_t i, j, votes, best = 0, best_votes = 0, reachable = 0;
    bool tie = false;
    int rc;

    if (cluster_id_r)
        *cluster_id_r = 0;
    for (i = 0; i < e->n; i++) {
        rc = xlmig__etcd_status(e, i, &st[i]);
        if (rc)
            return rc;
        if (!st[i].reachable) {
            summary_add(sum, sizeof(sum), e->endpoints[i], st[i].error);
            continue;
        }
        reachable++;
    }
    if (!reachable)
        return xlmig__error(e->ctx, LIBXLMIG_ERR_CANNOT_CONTACT_HOST, -1,
                            "etcd: no endpoint answered: %s; check that "
                            "etcd runs there and trusts our certificate",
                            sum);
    /* The cluster most reachable endpoints serve; a tie is no answer. */
    for (i = 0; i < e->n; i++) {
        if (!st[i].reachable)
            continue;
        for (votes = 0, j = 0; j < e->n; j++)
            votes += st[j].reachable &&
                     st[j].cluster_id == st[i].cluster_id;
        if (votes > best_votes) {
            best = i;
            best_votes = votes;
            tie = false;
        } else if (votes == best_votes &&
                   st[i].cluster_id != st[best].cluster_id) {
            tie = true;
        }
    }
    if (tie)
        return xlmig__error(e->ctx, LIBXLMIG_ERR_INVALID_ARGUMENT, -1,
                            "etcd: the endpoints answer for different "
                            "clusters, as many for each (%s: cluster "
                            "%016" PRIx64 "); list only the pool's cluster",
                            e->endpoints[best], st[best].cluster_id);
    e->cluster_id = st[best].cluster_id;
    for (i = 0; i < e->n; i++) {
        e->foreign[i] = st[i].reachable &&
                        st[i].cluster_id != e->cluster_id;
        if (e->foreign[i])
            xlmig__log(e->ctx, XTL_WARN, -1, "etcd %s serves cluster "
                       "%016" PRIx64 ", not the pool's %016" PRIx64
                       " (which %zu of the endpoints serve): not used",
                       e->endpoints[i], st[i].cluster_id, e->cluster_id,
                       best_votes);
    }
    if (cluster_id_r)
        *cluster_id_r = e->cluster_id;
    return 0;
}

bool xlmig__etcd_endpoint_foreign(const struct xlmig__etcd *e, size_t i)
{
    return i < e->n && e->foreign[i];
}

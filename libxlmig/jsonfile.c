/* SPDX-License-Identifier: LGPL-2.1-only */
/*
 * JSON documents and their files (jsonfile.h): the crash-safe writer,
 * the capped reader, and the two passes of yajl over a document, for the
 * CPU records, the pool state and the pool RPC messages.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <yajl/yajl_parse.h>

#include "cpurecord.h"
#include "featureset.h"
#include "jsonfile.h"

#define say xlmig__say

/* ------------------------------------------------------------ parsing */

yajl_val xlmig__json_find(yajl_val obj, const char *key)
{
    size_t i;

    if (!YAJL_IS_OBJECT(obj))
        return NULL;
    for (i = 0; i < obj->u.object.len; i++) {
        if (!strcmp(obj->u.object.keys[i], key))
            return obj->u.object.values[i];
    }
    return NULL;
}

void xlmig__say(char *why, size_t why_len, const char *fmt, ...)
{
    va_list ap;

    if (!why || !why_len)
        return;
    va_start(ap, fmt);
    vsnprintf(why, why_len, fmt, ap);
    va_end(ap);
}

struct scan_state {
    const struct xlmig__json_kind *kind;
    unsigned int depth;
    bool too_deep;
    bool nul;
    bool bad_string;
};

static int scan_open(void *p)
{
    struct scan_state *s = p;

    if (++s->depth > s->kind->depth_max) {
        s->too_deep = true;
        return 0;
    }
    return 1;
}

static int scan_close(void *p)
{
    struct scan_state *s = p;

    s->depth--;
    return 1;
}

static int scan_string(void *p, const unsigned char *v, size_t len)
{
    struct scan_state *s = p;

    if (memchr(v, '\0', len)) {
        s->nul = true;
        return 0;
    }
    if (s->kind->string_ok && !s->kind->string_ok(v, len)) {
        s->bad_string = true;
        return 0;
    }
    return 1;
}

/* Numbers are taken as text: nothing to convert or overflow here. */
static int scan_number(void *p, const char *v, size_t len)
{
    (void)p; (void)v; (void)len;
    return 1;
}

static const yajl_callbacks scan_callbacks = {
    .yajl_number = scan_number,
    .yajl_string = scan_string,
    .yajl_start_map = scan_open,
    .yajl_map_key = scan_string,
    .yajl_end_map = scan_close,
    .yajl_start_array = scan_open,
    .yajl_end_array = scan_close,
};

/* The first pass: is @json one JSON value, not too deep, clean strings. */
static int json_scan(const struct xlmig__json_kind *kind, const uint8_t *json,
                     size_t len, char *why, size_t why_len)
{
    struct scan_state s = { kind, 0, false, false, false };
    yajl_handle h;
    yajl_status st;
    int rc = 0;

    h = yajl_alloc(&scan_callbacks, NULL, &s);
    if (!h) {
        say(why, why_len, "no memory for the JSON parser");
        return LIBXLMIG_ERR_NO_MEMORY;
    }
    st = yajl_parse(h, json, len);
    if (st == yajl_status_ok)
        st = yajl_complete_parse(h);
    if (st == yajl_status_ok)
        goto out;
    rc = kind->invalid_rc;
    if (s.too_deep) {
        say(why, why_len, "the JSON is nested deeper than %u levels",
            kind->depth_max);
    } else if (s.nul) {
        say(why, why_len, "a JSON string holds a NUL character (\\u0000)");
    } else if (s.bad_string) {
        say(why, why_len, "%s", kind->string_bad);
    } else {
        unsigned char *e = yajl_get_error(h, 0, NULL, 0);
        size_t at = yajl_get_bytes_consumed(h), n;
        char msg[160];

        xlmig__strlcpy(msg, e ? (const char *)e : "syntax error",
                       sizeof(msg));
        if (e)
            yajl_free_error(h, e);
        for (n = strlen(msg); n && (msg[n - 1] == '\n' || msg[n - 1] == ' ');)
            msg[--n] = '\0';
        say(why, why_len, "not valid JSON (near byte %zu): %s", at, msg);
    }
 out:
    yajl_free(h);
    return rc;
}

int xlmig__json_tree(const struct xlmig__json_kind *kind, const uint8_t *json,
                     size_t len, yajl_val *root_r, char *why, size_t why_len)
{
    const uint8_t *nul = memchr(json, '\0', len);
    char *text = NULL, errbuf[256];
    yajl_val root;
    int rc;

    if (nul) {
        say(why, why_len, "a NUL byte at offset %zu; %s is JSON text",
            (size_t)(nul - json), kind->a_what);
        return kind->invalid_rc;
    }
    rc = json_scan(kind, json, len, why, why_len);
    if (rc)
        goto out;
    text = malloc(len + 1);
    if (!text) {
        say(why, why_len, "no memory for %zu bytes", len + 1);
        rc = LIBXLMIG_ERR_NO_MEMORY;
        goto out;
    }
    memcpy(text, json, len);
    text[len] = '\0';
    errbuf[0] = '\0';
    root = yajl_tree_parse(text, errbuf, sizeof(errbuf));
    if (!root) {
        /* The first pass took it: only memory can fail here. */
        say(why, why_len, "cannot build the JSON tree: %.120s", errbuf);
        rc = LIBXLMIG_ERR_NO_MEMORY;
        goto out;
    }
    *root_r = root;             /* the caller frees it now */
 out:
    free(text);
    return rc;
}

int xlmig__json_error(libxlmig_ctx *ctx, const struct xlmig__json_kind *kind,
                      const char *label, const char *fmt, ...)
{
    char msg[900];
    va_list ap;

    if (!ctx)
        return kind->invalid_rc;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    return xlmig__error(ctx, kind->invalid_rc, -1, "%s %s: %s", kind->what,
                        label, msg);
}

int xlmig__json_load(libxlmig_ctx *ctx, const struct xlmig__json_kind *kind,
                     const char *label, const uint8_t *json, size_t len,
                     yajl_val *root_r)
{
    yajl_val root = NULL;
    char why[512];
    int rc;

    if (len > kind->max_bytes)
        return xlmig__json_error(ctx, kind, label, "%zu bytes, more than "
                                 "the %zu %s may have", len,
                                 kind->max_bytes, kind->a_what);
    rc = xlmig__json_tree(kind, json, len, &root, why, sizeof(why));
    if (rc == LIBXLMIG_ERR_NO_MEMORY)
        return xlmig__error_opt(ctx, rc, "%s %s: %s", kind->what, label,
                                why);
    if (rc)
        return xlmig__json_error(ctx, kind, label, "%s", why);
    if (!YAJL_IS_OBJECT(root)) {
        rc = xlmig__json_error(ctx, kind, label, "the JSON text is %s, not "
                               "an object", xlmig__json_type_name(root));
        yajl_tree_free(root);
        return rc;
    }
    *root_r = root;             /* the caller frees it now */
    return 0;
}

const char *xlmig__json_type_name(yajl_val v)
{
    switch (v->type) {
    case yajl_t_string:
        return "a string";
    case yajl_t_number:
        return YAJL_IS_INTEGER(v) ? "an integer"
                                  : "a number that is not an integer in "
                                    "range";
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

bool xlmig__json_equal(yajl_val a, yajl_val b)
{
    size_t i;

    if (!a || !b)
        return a == b;
    if (a->type != b->type)
        return false;
    switch (a->type) {
    case yajl_t_string:
        return !strcmp(a->u.string, b->u.string);
    case yajl_t_number:
        return !strcmp(a->u.number.r, b->u.number.r);
    case yajl_t_object:
        if (a->u.object.len != b->u.object.len)
            return false;
        for (i = 0; i < a->u.object.len; i++) {
            if (strcmp(a->u.object.keys[i], b->u.object.keys[i]) ||
                !xlmig__json_equal(a->u.object.values[i],
                                   b->u.object.values[i]))
                return false;
        }
        return true;
    case yajl_t_array:
        if (a->u.array.len != b->u.array.len)
            return false;
        for (i = 0; i < a->u.array.len; i++) {
            if (!xlmig__json_equal(a->u.array.values[i],
                                   b->u.array.values[i]))
                return false;
        }
        return true;
    default:
        return true;            /* true, false, null: the type says all */
    }
}

/* ------------------------------------------------------------ files */

int xlmig__file_rc(int errnoval)
{
    return errnoval == EACCES || errnoval == EPERM
               ? LIBXLMIG_ERR_PERMISSION_DENIED
               : LIBXLMIG_ERR_IO;
}

int xlmig__dir_sync(libxlmig_ctx *ctx, const char *dir)
{
    int fd, rc = 0;

    fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return xlmig__error(ctx, xlmig__file_rc(errno), errno,
                            "cannot open directory %s to flush it", dir);
    if (fsync(fd))
        rc = xlmig__error(ctx, LIBXLMIG_ERR_IO, errno,
                          "cannot flush directory %s to disk", dir);
    close(fd);
    return rc;
}

int xlmig__dir_make(libxlmig_ctx *ctx, const struct xlmig__json_kind *kind,
                    const char *dir)
{
    char parent[XLMIG__JSONFILE_PATH_MAX], *slash;
    struct stat st;

    if (!mkdir(dir, 0700)) {
        xlmig__strlcpy(parent, dir, sizeof(parent));
        slash = strrchr(parent, '/');
        if (slash == parent)
            slash[1] = '\0';
        else if (slash)
            *slash = '\0';
        else
            xlmig__strlcpy(parent, ".", sizeof(parent));
        return xlmig__dir_sync(ctx, parent);
    }
    if (errno != EEXIST)
        return xlmig__error(ctx, xlmig__file_rc(errno), errno,
                            "cannot create %s%s%s%s", kind->dir_before, dir,
                            kind->dir_after,
                            errno == EACCES ? " (run as root?)" : "");
    if (stat(dir, &st) || !S_ISDIR(st.st_mode))
        return xlmig__error(ctx, LIBXLMIG_ERR_IO, ENOTDIR,
                            "%s is in the way of %s", dir, kind->dir_role);
    return 0;
}

const char *xlmig__state_dir(const char *explicit_dir)
{
    const char *env;

    if (explicit_dir)
        return explicit_dir;
    env = getenv("XLMIG_STATE_DIR");
    if (env && env[0])
        return env;
    return XLMIG__STATE_DIR_DEFAULT;
}

int xlmig__state_subdir(libxlmig_ctx *ctx, const struct xlmig__json_kind *kind,
                        const char *state_dir, const char *sub, bool make,
                        char *dir, size_t cap)
{
    const char *state = xlmig__state_dir(state_dir);
    int n = snprintf(dir, cap, "%s/%s", state, sub), rc;

    if (n < 0 || (size_t)n >= cap)
        return xlmig__error(ctx, LIBXLMIG_ERR_INVALID_ARGUMENT, -1,
                            "state directory %s: path too long", state);
    if (!make)
        return 0;
    rc = xlmig__dir_make(ctx, kind, state);
    return rc ? rc : xlmig__dir_make(ctx, kind, dir);
}

static int write_all(int fd, const char *p, size_t len)
{
    while (len) {
        ssize_t r = write(fd, p, len);

        if (r < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        p += r;
        len -= (size_t)r;
    }
    return 0;
}

int xlmig__file_write(libxlmig_ctx *ctx, const char *dir, const char *path,
                      const char *text, size_t len)
{
    char tmp[XLMIG__JSONFILE_PATH_MAX];
    bool made_tmp = false;
    int fd = -1, rc, r, tries;

    r = snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path, (long)getpid());
    if (r < 0 || (size_t)r >= sizeof(tmp)) {
        rc = xlmig__error(ctx, LIBXLMIG_ERR_INVALID_ARGUMENT, -1,
                          "path %s is too long", path);
        goto out;
    }
    for (tries = 0;; tries++) {
        fd = open(tmp, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0600);
        if (fd >= 0 || errno != EEXIST || tries)
            break;
        /* A leftover of an earlier process that had our pid. */
        if (unlink(tmp) && errno != ENOENT)
            break;
    }
    if (fd < 0) {
        rc = xlmig__error(ctx, xlmig__file_rc(errno), errno,
                          "cannot create %s; %s is unchanged", tmp, path);
        goto out;
    }
    made_tmp = true;
    if (write_all(fd, text, len)) {
        rc = xlmig__error(ctx, LIBXLMIG_ERR_IO, errno,
                          "cannot write %s; %s is unchanged", tmp, path);
        goto out;
    }
    if (fsync(fd)) {
        rc = xlmig__error(ctx, LIBXLMIG_ERR_IO, errno,
                          "cannot flush %s to disk; %s is unchanged", tmp,
                          path);
        goto out;
    }
    r = close(fd);
    fd = -1;
    if (r) {
        rc = xlmig__error(ctx, LIBXLMIG_ERR_IO, errno,
                          "cannot close %s; %s is unchanged", tmp, path);
        goto out;
    }
    if (rename(tmp, path)) {
        rc = xlmig__error(ctx, xlmig__file_rc(errno), errno,
                          "cannot rename %s to %s; %s is unchanged", tmp,
                          path, path);
        goto out;
    }
    made_tmp = false;
    rc = xlmig__dir_sync(ctx, dir);
 out:
    if (fd >= 0)
        close(fd);
    if (made_tmp)
        unlink(tmp);
    return rc;
}

int xlmig__file_read(libxlmig_ctx *ctx, const struct xlmig__json_kind *kind,
                     const char *path, char **text_r, size_t *len_r)
{
    char *text = NULL;
    size_t len = 0, want;
    struct stat st;
    int fd = -1, rc;

    fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0 && errno == ENOENT) {
        rc = LIBXLMIG_ERR_NOT_FOUND;
        goto out;
    }
    if (fd < 0) {
        rc = xlmig__error(ctx, xlmig__file_rc(errno), errno,
                          "cannot open %s", path);
        goto out;
    }
    if (fstat(fd, &st)) {
        rc = xlmig__error(ctx, LIBXLMIG_ERR_IO, errno, "cannot stat %s",
                          path);
        goto out;
    }
    if (!S_ISREG(st.st_mode)) {
        rc = xlmig__json_error(ctx, kind, path, "not a regular file");
        goto out;
    }
    if (st.st_size > (off_t)kind->max_bytes) {
        rc = xlmig__json_error(ctx, kind, path, "%lld bytes, more than the "
                               "%zu %s may have", (long long)st.st_size,
                               kind->max_bytes, kind->a_what);
        goto out;
    }
    /* One byte more than we take: a file that grew is seen, not cut. */
    want = (kind->read_to_cap ? kind->max_bytes : (size_t)st.st_size) + 1;
    text = malloc(want);
    if (!text) {
        rc = xlmig__error(ctx, LIBXLMIG_ERR_NO_MEMORY, -1,
                          "no memory to read %s", path);
        goto out;
    }
    while (len < want) {
        ssize_t r = read(fd, text + len, want - len);

        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            rc = xlmig__error(ctx, LIBXLMIG_ERR_IO, errno, "cannot read %s",
                              path);
            goto out;
        }
        if (r == 0)
            break;
        len += (size_t)r;
    }
    if (len == want) {
        if (kind->read_to_cap)
            rc = xlmig__json_error(ctx, kind, path, "more than the %zu "
                                   "bytes %s may have", kind->max_bytes,
                                   kind->a_what);
        else
            rc = xlmig__json_error(ctx, kind, path, "the file grew while "
                                   "it was read; is another process "
                                   "writing it?");
        goto out;
    }
    *text_r = text;
    text = NULL;                /* the caller frees it now */
    *len_r = len;
    rc = 0;
 out:
    if (fd >= 0)
        close(fd);
    free(text);
    return rc;
}

/* ------------------------------------------------------------ writing */

yajl_gen xlmig__gen_new(void)
{
    yajl_gen g = yajl_gen_alloc(NULL);

    if (!g)
        return NULL;
    if (!yajl_gen_config(g, yajl_gen_beautify, 1) ||
        !yajl_gen_config(g, yajl_gen_indent_string, "  ") ||
        !yajl_gen_config(g, yajl_gen_validate_utf8, 1)) {
        yajl_gen_free(g);
        return NULL;
    }
    return g;
}

static bool gen_key(yajl_gen g, const char *key)
{
    return yajl_gen_string(g, (const unsigned char *)key, strlen(key)) ==
           yajl_gen_status_ok;
}

bool xlmig__gen_key_string(yajl_gen g, const char *key, const char *value)
{
    return gen_key(g, key) &&
           yajl_gen_string(g, (const unsigned char *)value,
                           strlen(value)) == yajl_gen_status_ok;
}

bool xlmig__gen_key_integer(yajl_gen g, const char *key, long long value)
{
    return gen_key(g, key) && yajl_gen_integer(g, value) == yajl_gen_status_ok;
}

bool xlmig__gen_key_bool(yajl_gen g, const char *key, bool value)
{
    return gen_key(g, key) && yajl_gen_bool(g, value) == yajl_gen_status_ok;
}

int xlmig__gen_finish(yajl_gen g, char *buf, size_t cap, size_t *len_r)
{
    const unsigned char *out;
    size_t len;

    if (yajl_gen_get_buf(g, &out, &len) != yajl_gen_status_ok)
        return LIBXLMIG_ERR_INTERNAL;
    if (len + 1 > cap)
        return LIBXLMIG_ERR_INVALID_ARGUMENT;
    memcpy(buf, out, len);
    buf[len] = '\0';
    *len_r = len;
    return 0;
}

/* ------------------------------------------------------------ reading */

static yajl_val member(yajl_val obj, const char *key)
{
    const char *path[] = { key, NULL };

    return YAJL_IS_OBJECT(obj) ? yajl_tree_get(obj, path, yajl_t_any) : NULL;
}

int xlmig__json_get_string(yajl_val obj, const char *key, char *buf,
                           size_t cap)
{
    yajl_val v = member(obj, key);
    const char *s;
    size_t len;

    if (!v)
        return LIBXLMIG_ERR_NOT_FOUND;
    s = YAJL_IS_STRING(v) ? YAJL_GET_STRING(v) : NULL;
    if (!s)
        return LIBXLMIG_ERR_INVALID_ARGUMENT;
    len = strlen(s);
    if (!len || len >= cap)
        return LIBXLMIG_ERR_INVALID_ARGUMENT;
    memcpy(buf, s, len + 1);
    return 0;
}

int xlmig__json_get_integer(yajl_val obj, const char *key, long long min,
                            long long max, long long *v_r)
{
    yajl_val v = member(obj, key);

    if (!v)
        return LIBXLMIG_ERR_NOT_FOUND;
    if (!YAJL_IS_INTEGER(v) || YAJL_GET_INTEGER(v) < min ||
        YAJL_GET_INTEGER(v) > max)
        return LIBXLMIG_ERR_INVALID_ARGUMENT;
    *v_r = YAJL_GET_INTEGER(v);
    return 0;
}

/* SPDX-License-Identifier: LGPL-2.1-only */
/*
 * JSON documents and the files that hold them, shared by the CPU records
 * (cpurecord.c), the pool state (poolstate.c) and the pool RPC messages
 * (rpc.c): a crash-safe file writer, a reader that caps the size before
 * it allocates, and yajl's event parser as a first pass that only
 * watches (syntax, nesting depth, NUL characters in strings, which a
 * tree's C strings would cut silently) before yajl_tree_parse() builds
 * the tree of text known to be good.
 *
 * What differs between the users (caps, the words of the messages, the
 * error code of a bad document) is a struct xlmig__json_kind, one static
 * const per user.
 */
#ifndef XLMIG_JSONFILE_H
#define XLMIG_JSONFILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <yajl/yajl_gen.h>
#include <yajl/yajl_tree.h>

#include "internal.h"

/* Longest path the users build: STATE/hosts/NAME.json.tmp.PID. */
#define XLMIG__JSONFILE_PATH_MAX 4096

struct xlmig__json_kind {
    /* Messages read "WHAT LABEL: ...": "CPU record", "pool state". */
    const char *what;
    /* "a record": "... more than the N a record may have", "... is JSON
     * text". */
    const char *a_what;
    /* The code of a document or file that is not good. */
    int invalid_rc;
    /* Bytes a document (and its file) may have at most. */
    size_t max_bytes;
    /* Objects and arrays nested deeper than this are refused. */
    unsigned int depth_max;
    /*
     * NULL, or a further check of every string and member name (after
     * the NUL check), with what to say of one that fails.
     */
    bool (*string_ok)(const unsigned char *s, size_t len);
    const char *string_bad;
    /*
     * Files: true to read up to max_bytes whatever fstat() said (a file
     * that grew is taken while it fits), false to read fstat()'s size
     * and refuse a file that grew while it was read.
     */
    bool read_to_cap;
    /*
     * Directories: "cannot create DIR_BEFORE%sDIR_AFTER",
     * "%s is in the way of DIR_ROLE".
     */
    const char *dir_before;
    const char *dir_after;
    const char *dir_role;
};

/*
 * The first pass and the tree of @len bytes of @json (any bytes; a NUL
 * is refused): *root_r, yajl_tree_free() it.  The length cap is the
 * caller's.  On failure says why in @why (@why_len bytes, may be NULL)
 * without a label and returns LIBXLMIG_ERR_NO_MEMORY or
 * @kind->invalid_rc; logs nothing.
 */
int xlmig__json_tree(const struct xlmig__json_kind *kind, const uint8_t *json,
                     size_t len, yajl_val *root_r, char *why,
                     size_t why_len);

/*
 * xlmig__json_tree() for a stored document: @len is capped at
 * @kind->max_bytes and the top must be an object.  Errors are logged
 * (when @ctx is not NULL) as "WHAT LABEL: ...".
 */
int xlmig__json_load(libxlmig_ctx *ctx, const struct xlmig__json_kind *kind,
                     const char *label, const uint8_t *json, size_t len,
                     yajl_val *root_r);

/*
 * A bad-document error: "WHAT LABEL: ..." as @kind->invalid_rc, logged
 * only when there is a context.  Returns the code.
 */
int xlmig__json_error(libxlmig_ctx *ctx, const struct xlmig__json_kind *kind,
                      const char *label, const char *fmt, ...)
    XLMIG__PRINTF(4, 5);

/*
 * Whether @a and @b are the same JSON value: the same types, strings and
 * numbers as written, objects' members in the same order.  NULL equals
 * only NULL.  Pure.
 */
bool xlmig__json_equal(yajl_val a, yajl_val b);

/* What @v is, for "member X is ...": "a string", "an integer", ... */
const char *xlmig__json_type_name(yajl_val v);

/* The rc for a failed file operation with @errnoval. */
int xlmig__file_rc(int errnoval);

/* fsync() directory @dir, so that entries made or removed in it last. */
int xlmig__dir_sync(libxlmig_ctx *ctx, const char *dir);

/*
 * Make directory @dir (0700) unless it is there, and flush its parent;
 * the parent must be there.  A non-directory in the way is an error.
 */
int xlmig__dir_make(libxlmig_ctx *ctx, const struct xlmig__json_kind *kind,
                    const char *dir);

/* Where the state is kept when nothing else says. */
#define XLMIG__STATE_DIR_DEFAULT "/var/lib/xlmig"

/*
 * The state directory: @explicit_dir when not NULL, else $XLMIG_STATE_DIR
 * when set and not empty, else XLMIG__STATE_DIR_DEFAULT.  Static or
 * borrowed string.
 */
const char *xlmig__state_dir(const char *explicit_dir);

/*
 * STATE/@sub, STATE being xlmig__state_dir(@state_dir),
 * into @dir of @cap bytes; with @make, STATE and STATE/@sub are made
 * when missing (xlmig__dir_make(), with @kind's words).  A path longer
 * than @cap is LIBXLMIG_ERR_INVALID_ARGUMENT naming the state directory.
 */
int xlmig__state_subdir(libxlmig_ctx *ctx, const struct xlmig__json_kind *kind,
                        const char *state_dir, const char *sub, bool make,
                        char *dir, size_t cap);

/*
 * Write @text (@len bytes) as @path in directory @dir (which must be
 * there): a temporary file beside it (O_CREAT|O_EXCL), fsync, rename
 * over it, fsync of the directory.  On failure the temporary is removed
 * and the old file, if any, is whole.
 */
int xlmig__file_write(libxlmig_ctx *ctx, const char *dir, const char *path,
                      const char *text, size_t len);

/*
 * Read file @path whole into *text_r (malloc'd, the caller free()s it;
 * *len_r bytes).  A file that is not regular or larger than
 * @kind->max_bytes is refused (@kind->invalid_rc) before anything is
 * allocated.  A missing file is LIBXLMIG_ERR_NOT_FOUND, not logged: the
 * caller says what to do, or takes it as empty.
 */
int xlmig__file_read(libxlmig_ctx *ctx, const struct xlmig__json_kind *kind,
                     const char *path, char **text_r, size_t *len_r);

/* ------------------------------------------------------------ writing */

/*
 * A generator for the documents we store: indented by two spaces,
 * validating UTF-8.  NULL when out of memory; yajl_gen_free() it.
 */
yajl_gen xlmig__gen_new(void);

/* Members "KEY": value of an object being generated; false on failure. */
bool xlmig__gen_key_string(yajl_gen g, const char *key, const char *value);
bool xlmig__gen_key_integer(yajl_gen g, const char *key, long long value);
bool xlmig__gen_key_bool(yajl_gen g, const char *key, bool value);

/*
 * Copy what @g holds into @buf (@cap bytes, NUL-ended), *len_r its
 * length.  LIBXLMIG_ERR_INVALID_ARGUMENT when it does not fit.
 */
int xlmig__gen_finish(yajl_gen g, char *buf, size_t cap, size_t *len_r);

/* ------------------------------------------------------------ reading */

/* Member @key of object @obj (the first of that name), or NULL; NULL
 * also when @obj is NULL or no object. */
yajl_val xlmig__json_find(yajl_val obj, const char *key);

/* vsnprintf() into @why (@why_len bytes) when it is not NULL: the "why"
 * of the parsers. */
void xlmig__say(char *why, size_t why_len, const char *fmt, ...)
    XLMIG__PRINTF(3, 4);

/*
 * Member @key of object @obj as a string of 1 to @cap - 1 bytes copied
 * into @buf: 0; LIBXLMIG_ERR_NOT_FOUND when absent;
 * LIBXLMIG_ERR_INVALID_ARGUMENT when not a string, empty or too long.
 */
int xlmig__json_get_string(yajl_val obj, const char *key, char *buf,
                           size_t cap);
/* Member @key as an integer in @min..@max (same codes). */
int xlmig__json_get_integer(yajl_val obj, const char *key, long long min,
                            long long max, long long *v_r);

#endif

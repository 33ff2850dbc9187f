/* SPDX-License-Identifier: LGPL-2.1-only */
/* xe's command grammar: see xe-args.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "libxlmig.h"
#include "xe-args.h"

void xe_args_init(struct xe_args *a)
{
    memset(a, 0, sizeof(*a));
}

void xe_args_dispose(struct xe_args *a)
{
    size_t i;

    for (i = 0; i < a->nr_kv; i++) {
        free(a->kv[i].key);
        free(a->kv[i].value);
    }
    for (i = 0; i < a->nr_params; i++)
        free(a->params[i]);
    xe_args_init(a);
}

static bool key_char_ok(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c >= '0' && c <= '9') || c == '-' || c == '_' || c == ':' ||
           c == '.';
}

/* Split "a,b,c" into a->params; empty names are refused. */
static int parse_params(struct xe_args *a, const char *v, char *err,
                        size_t err_len)
{
    const char *p = v;

    if (!*v) {
        snprintf(err, err_len, "params= needs at least one field name");
        return LIBXLMIG_ERR_INVALID_ARGUMENT;
    }
    while (*p) {
        const char *end = strchr(p, ',');
        size_t n = end ? (size_t)(end - p) : strlen(p);

        if (n == 0 || n > XE_ARGS_KEY_MAX) {
            snprintf(err, err_len, "params=: empty or over-long field name "
                     "(at most %d bytes)", XE_ARGS_KEY_MAX);
            return LIBXLMIG_ERR_INVALID_ARGUMENT;
        }
        if (a->nr_params == XE_ARGS_PARAMS_MAX) {
            snprintf(err, err_len, "params=: more than %d field names",
                     XE_ARGS_PARAMS_MAX);
            return LIBXLMIG_ERR_INVALID_ARGUMENT;
        }
        a->params[a->nr_params] = strndup(p, n);
        if (!a->params[a->nr_params])
            return LIBXLMIG_ERR_NO_MEMORY;
        a->nr_params++;
        if (!end)
            break;
        p = end + 1;
        if (!*p) {
            snprintf(err, err_len, "params=: trailing ','");
            return LIBXLMIG_ERR_INVALID_ARGUMENT;
        }
    }
    return 0;
}

static int parse_word(struct xe_args *a, const char *w, char *err,
                      size_t err_len)
{
    const char *eq;
    size_t klen, vlen, i;

    if (!strcmp(w, "--minimal")) {
        a->minimal = true;
        return 0;
    }
    if (!strcmp(w, "--json")) {
        a->json = true;
        return 0;
    }
    if (!strcmp(w, "--multiple")) {
        a->multiple = true;
        return 0;
    }
    if (!strcmp(w, "--help") || !strcmp(w, "-h") || !strcmp(w, "help")) {
        a->help = true;
        return 0;
    }

    eq = strchr(w, '=');
    if (!eq) {
        snprintf(err, err_len, "'%.64s%s' is not of the form key=value",
                 w, strlen(w) > 64 ? "..." : "");
        return LIBXLMIG_ERR_INVALID_ARGUMENT;
    }
    klen = (size_t)(eq - w);
    vlen = strlen(eq + 1);
    if (klen == 0 || klen > XE_ARGS_KEY_MAX) {
        snprintf(err, err_len, "'%.64s': the key must have 1 to %d "
                 "characters", w, XE_ARGS_KEY_MAX);
        return LIBXLMIG_ERR_INVALID_ARGUMENT;
    }
    for (i = 0; i < klen; i++) {
        if (!key_char_ok(w[i])) {
            snprintf(err, err_len, "'%.*s': keys may hold only letters, "
                     "digits and - _ : .", (int)klen, w);
            return LIBXLMIG_ERR_INVALID_ARGUMENT;
        }
    }
    if (vlen > XE_ARGS_VALUE_MAX) {
        snprintf(err, err_len, "%.*s=: the value is longer than %d bytes",
                 (int)klen, w, XE_ARGS_VALUE_MAX);
        return LIBXLMIG_ERR_INVALID_ARGUMENT;
    }
    if (klen == 6 && !strncmp(w, "params", 6)) {
        if (a->nr_params) {
            snprintf(err, err_len, "params= given twice");
            return LIBXLMIG_ERR_INVALID_ARGUMENT;
        }
        return parse_params(a, eq + 1, err, err_len);
    }
    for (i = 0; i < a->nr_kv; i++) {
        if (strlen(a->kv[i].key) == klen && !strncmp(a->kv[i].key, w, klen)) {
            snprintf(err, err_len, "%.*s= given twice", (int)klen, w);
            return LIBXLMIG_ERR_INVALID_ARGUMENT;
        }
    }
    if (a->nr_kv == XE_ARGS_MAX) {
        snprintf(err, err_len, "more than %d key=value arguments",
                 XE_ARGS_MAX);
        return LIBXLMIG_ERR_INVALID_ARGUMENT;
    }
    a->kv[a->nr_kv].key = strndup(w, klen);
    a->kv[a->nr_kv].value = strdup(eq + 1);
    if (!a->kv[a->nr_kv].key || !a->kv[a->nr_kv].value) {
        free(a->kv[a->nr_kv].key);
        free(a->kv[a->nr_kv].value);
        return LIBXLMIG_ERR_NO_MEMORY;
    }
    a->nr_kv++;
    return 0;
}

int xe_args_parse(struct xe_args *a, int argc, char *const *argv, char *err,
                  size_t err_len)
{
    int i, rc = 0;

    xe_args_init(a);
    if (err_len)
        err[0] = '\0';
    if (argc < 0 || argc > 2 * XE_ARGS_MAX) {
        snprintf(err, err_len, "too many arguments (at most %d)",
                 2 * XE_ARGS_MAX);
        return LIBXLMIG_ERR_INVALID_ARGUMENT;
    }
    for (i = 0; i < argc; i++) {
        rc = parse_word(a, argv[i], err, err_len);
        if (rc) {
            if (rc == LIBXLMIG_ERR_NO_MEMORY)
                snprintf(err, err_len, "out of memory");
            xe_args_dispose(a);
            return rc;
        }
    }
    if (a->json && a->minimal) {
        snprintf(err, err_len, "--json and --minimal: one or the other");
        xe_args_dispose(a);
        return LIBXLMIG_ERR_INVALID_ARGUMENT;
    }
    return 0;
}

const char *xe_args_get(const struct xe_args *a, const char *key)
{
    size_t i;

    for (i = 0; i < a->nr_kv; i++) {
        if (!strcmp(a->kv[i].key, key))
            return a->kv[i].value;
    }
    return NULL;
}

int xe_args_only(const struct xe_args *a, const char *const *allowed,
                 char *err, size_t err_len)
{
    size_t i, j;

    for (i = 0; i < a->nr_kv; i++) {
        for (j = 0; allowed && allowed[j]; j++) {
            size_t n = strlen(allowed[j]);

            /* "vdi:" admits "vdi:UUID" (a map entry), not "vdi:" alone. */
            if (!strcmp(a->kv[i].key, allowed[j]) ||
                (n && allowed[j][n - 1] == ':' &&
                 !strncmp(a->kv[i].key, allowed[j], n) && a->kv[i].key[n]))
                break;
        }
        if (!allowed || !allowed[j]) {
            snprintf(err, err_len, "unknown argument '%s='", a->kv[i].key);
            return LIBXLMIG_ERR_INVALID_ARGUMENT;
        }
    }
    return 0;
}

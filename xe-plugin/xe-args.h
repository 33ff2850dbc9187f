/* SPDX-License-Identifier: LGPL-2.1-only */
/*
 * xe's command grammar (xen-api ocaml/xapi-cli-server/cli_frontend.ml):
 *   COMMAND key=value ... [--minimal] [--multiple] [params=a,b,...]
 * and, on a listing, --json instead of --minimal (not both).
 * Parsed from untrusted argv: every count and length is capped before
 * anything is copied.
 */
#ifndef XLMIG_XE_ARGS_H
#define XLMIG_XE_ARGS_H

#include <stdbool.h>
#include <stddef.h>

#define XE_ARGS_MAX 64          /* key=value pairs */
#define XE_ARGS_KEY_MAX 128     /* bytes in a key */
#define XE_ARGS_VALUE_MAX 4096  /* bytes in a value */
#define XE_ARGS_PARAMS_MAX 64   /* names in params= */

struct xe_kv {
    char *key;
    char *value;
};

struct xe_args {
    bool minimal;
    bool json;                  /* --json: a listing as a JSON array */
    bool multiple;
    bool help;
    size_t nr_kv;
    struct xe_kv kv[XE_ARGS_MAX];
    size_t nr_params;           /* 0: params= not given */
    char *params[XE_ARGS_PARAMS_MAX];
};

void xe_args_init(struct xe_args *a);
/* Free what xe_args_parse() copied; idempotent. */
void xe_args_dispose(struct xe_args *a);

/*
 * Parse @argc words of @argv (the words after the command name).  On
 * error returns a negative LIBXLMIG_ERR_* and writes a sentence naming
 * the offending word into @err (of @err_len bytes); @a is then left
 * disposed (nothing half-parsed remains).
 */
int xe_args_parse(struct xe_args *a, int argc, char *const *argv, char *err,
                  size_t err_len);

/* The value of @key, or NULL. */
const char *xe_args_get(const struct xe_args *a, const char *key);

/*
 * Check that every key is one of @allowed (NULL-terminated); an allowed
 * key ending in ':' ("vdi:") admits every key it begins ("vdi:UUID").
 * On a stranger write a sentence into @err and return
 * LIBXLMIG_ERR_INVALID_ARGUMENT.
 */
int xe_args_only(const struct xe_args *a, const char *const *allowed,
                 char *err, size_t err_len);

#endif /* XLMIG_XE_ARGS_H */

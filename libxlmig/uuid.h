/* SPDX-License-Identifier: LGPL-2.1-only */
/*
 * UUIDs (internal): the identifiers of SRs, VDIs, VMs and tasks, made,
 * checked, and as the names of the records a state directory keeps
 * (DIR/UUID.json).  The one home of their rules.
 */
#ifndef XLMIG_UUID_H
#define XLMIG_UUID_H

#include <dirent.h>
#include <stdbool.h>
#include <stddef.h>

#include "libxlmig.h"

#define XLMIG__UUID_LEN 36

/*
 * A new random (version 4) UUID, lowercase, made by libxl
 * (libxl_uuid_generate()); LIBXLMIG_ERR_IO when the system has no random
 * source to make one.
 */
int xlmig__uuid_generate(libxlmig_ctx *ctx, char out[XLMIG__UUID_LEN + 1]);

/*
 * The one check of a UUID's form: 36 characters, 8-4-4-4-12 hex digits
 * separated by '-'.  The case rule: lowercase only, as we make them and
 * as the records, their file names, tasks, VMs, SRs and VDIs are named
 * (one spelling for one identifier, so that names compare with strcmp);
 * with XLMIG__UUID_ANY_CASE, hex digits of either case, for the uuids
 * that come from an operator or from elsewhere and are kept as given
 * (the pool's uuid in the configuration and the pool state, a domain's
 * in a CPU record).  XLMIG__UUID_EMPTY_OK also takes "" (not known yet).
 * NULL is never one.
 */
#define XLMIG__UUID_ANY_CASE 1u
#define XLMIG__UUID_EMPTY_OK 2u
bool xlmig__uuid_valid(const char *s, unsigned flags);

/* xlmig__uuid_valid(@s, 0): a lowercase UUID, as we make them. */
static inline bool xlmig__uuid_ok(const char *s)
{
    return xlmig__uuid_valid(s, 0);
}

/*
 * Is directory entry @name "UUID" followed by @suffix (".json",
 * ".lease"), UUID as xlmig__uuid_ok()?  Its UUID into @uuid when so.
 * Anything else (a "UUID.json.tmp.PID" being written, a stray file) is
 * not.
 */
bool xlmig__uuid_file_name(const char *name, const char *suffix,
                           char uuid[XLMIG__UUID_LEN + 1]);

/*
 * The next entry of directory stream @d named "UUID@suffix"
 * (xlmig__uuid_file_name()), its UUID into @uuid: 1; 0 at the end; a
 * negative errno value when readdir() fails.  Other names are passed
 * over.
 */
int xlmig__uuid_dir_next(DIR *d, const char *suffix,
                         char uuid[XLMIG__UUID_LEN + 1]);

/*
 * Load the records of directory @dir named UUID.json
 * (xlmig__uuid_file_name()), at most @max of them (those past it are
 * passed over), into an array of @size-byte records: @load fills the
 * next one from its UUID, or fails the whole listing.  Sorted by @cmp
 * (NULL: in the directory's order).  A missing directory holds none.
 * *recs_r (NULL when none; the caller frees it) and *nr_r: what was
 * loaded, or NULL and 0 on failure.
 */
typedef int xlmig__uuid_load_fn(libxlmig_ctx *ctx, void *opaque,
                                const char *uuid, void *rec);
int xlmig__uuid_records(libxlmig_ctx *ctx, const char *dir, size_t size,
                        size_t max, xlmig__uuid_load_fn *load, void *opaque,
                        int (*cmp)(const void *, const void *),
                        void **recs_r, size_t *nr_r);

#endif /* XLMIG_UUID_H */

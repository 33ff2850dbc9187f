/* SPDX-License-Identifier: LGPL-2.1-only */
/* UUIDs: made, checked, and naming the records of a directory (uuid.h). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "internal.h"
#include "uuid.h"
#include "xen-compat.h"             /* libxl_uuid_generate() */

int xlmig__uuid_generate(libxlmig_ctx *ctx, char out[XLMIG__UUID_LEN + 1])
{
    libxl_uuid u;

    /*
     * libxl's generator is libuuid's uuid_generate(): random (version 4)
     * from getrandom() or /dev/urandom, or else one made of the time and
     * the MAC address (version 1), which we do not take.
     */
    libxl_uuid_generate(&u);
    if ((u.uuid[6] & 0xf0) != 0x40 || (u.uuid[8] & 0xc0) != 0x80)
        return xlmig__error(ctx, LIBXLMIG_ERR_IO, -1, "cannot make a new "
                            "UUID: no random source (is /dev/urandom "
                            "there and readable?)");
    snprintf(out, XLMIG__UUID_LEN + 1, LIBXL_UUID_FMT, LIBXL_UUID_BYTES(u));
    return 0;
}

bool xlmig__uuid_valid(const char *s, unsigned flags)
{
    size_t i;

    if (s && !s[0])
        return flags & XLMIG__UUID_EMPTY_OK;
    if (!s || strnlen(s, XLMIG__UUID_LEN + 1) != XLMIG__UUID_LEN)
        return false;
    for (i = 0; i < XLMIG__UUID_LEN; i++) {
        char c = s[i];

        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (c != '-')
                return false;
        } else if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ||
                     ((flags & XLMIG__UUID_ANY_CASE) && c >= 'A' &&
                      c <= 'F'))) {
            return false;
        }
    }
    return true;
}

bool xlmig__uuid_file_name(const char *name, const char *suffix,
                           char uuid[XLMIG__UUID_LEN + 1])
{
    char u[XLMIG__UUID_LEN + 1];

    if (strlen(name) != XLMIG__UUID_LEN + strlen(suffix) ||
        strcmp(name + XLMIG__UUID_LEN, suffix))
        return false;
    memcpy(u, name, XLMIG__UUID_LEN);
    u[XLMIG__UUID_LEN] = '\0';
    if (!xlmig__uuid_ok(u))
        return false;
    memcpy(uuid, u, sizeof(u));
    return true;
}

int xlmig__uuid_dir_next(DIR *d, const char *suffix,
                         char uuid[XLMIG__UUID_LEN + 1])
{
    struct dirent *e;

    for (;;) {
        errno = 0;
        e = readdir(d);
        if (!e)
            return errno ? -errno : 0;
        if (xlmig__uuid_file_name(e->d_name, suffix, uuid))
            return 1;
    }
}

/* Whether @dh's directory still has UUID.json. */
static bool record_exists(DIR *dh, const char *uuid)
{
    char name[XLMIG__UUID_LEN + sizeof(".json")];
    struct stat st;

    snprintf(name, sizeof(name), "%s.json", uuid);
    return fstatat(dirfd(dh), name, &st, AT_SYMLINK_NOFOLLOW) == 0 ||
           errno != ENOENT;
}

int xlmig__uuid_records(libxlmig_ctx *ctx, const char *dir, size_t size,
                        size_t max, xlmig__uuid_load_fn *load, void *opaque,
                        int (*cmp)(const void *, const void *),
                        void **recs_r, size_t *nr_r)
{
    char *recs = NULL, uuid[XLMIG__UUID_LEN + 1];
    size_t nr = 0, cap = 0;
    DIR *dh;
    int rc = 0, r;

    *recs_r = NULL;
    *nr_r = 0;
    dh = opendir(dir);
    if (!dh)
        return errno == ENOENT ? 0
               : xlmig__error(ctx, LIBXLMIG_ERR_IO, errno, "cannot read %s",
                              dir);
    while ((r = xlmig__uuid_dir_next(dh, ".json", uuid)) > 0) {
        if (nr == max)
            continue;
        if (nr == cap) {
            /* Doubling from 16, up to @max records. */
            size_t ncap = cap ? cap * 2 : 16;
            char *grown;

            if (ncap > max)
                ncap = max;
            grown = realloc(recs, ncap * size);
            if (!grown) {
                rc = xlmig__error(ctx, LIBXLMIG_ERR_NO_MEMORY, -1,
                                  "no memory to list %s", dir);
                break;
            }
            recs = grown;
            cap = ncap;
        }
        rc = load(ctx, opaque, uuid, recs + nr * size);
        if (rc == LIBXLMIG_ERR_NOT_FOUND && !record_exists(dh, uuid)) {
            /* Removed since readdir() listed it: gone, not an error. */
            rc = 0;
            continue;
        }
        if (rc)
            break;
        nr++;
    }
    if (r < 0 && !rc)
        rc = xlmig__error(ctx, LIBXLMIG_ERR_IO, -r, "cannot read %s", dir);
    closedir(dh);
    if (rc) {
        free(recs);
        return rc;
    }
    if (nr && cmp)
        qsort(recs, nr, size, cmp);
    *recs_r = recs;
    *nr_r = nr;
    return 0;
}

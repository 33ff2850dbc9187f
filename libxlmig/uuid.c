/* SPDX-License-Identifier: LGPL-2.1-only */
/* UUIDs: made, checked, and naming the records of a directory (uuid.h). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"
#include "uuid.h"

int xlmig__uuid_generate(libxlmig_ctx *ctx, char out[XLMIG__UUID_LEN + 1])
{
    unsigned char b[16];
    size_t got = 0;
    int fd;

    fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return xlmig__error(ctx, LIBXLMIG_ERR_IO, errno,
                            "cannot open /dev/urandom for a new UUID");
    while (got < sizeof(b)) {
        ssize_t r = read(fd, b + got, sizeof(b) - got);

        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            int e = r < 0 ? errno : -1;

            close(fd);
            return xlmig__error(ctx, LIBXLMIG_ERR_IO, e,
                                "cannot read /dev/urandom for a new UUID");
        }
        got += (size_t)r;
    }
    close(fd);
    b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);   /* version 4 */
    b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);   /* RFC 4122 variant */
    snprintf(out, XLMIG__UUID_LEN + 1,
             "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-"
             "%02x%02x%02x%02x%02x%02x",
             b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9],
             b[10], b[11], b[12], b[13], b[14], b[15]);
    return 0;
}

/* 8-4-4-4-12 hex digits, lowercase only unless @any_case. */
static bool uuid_form(const char *s, bool any_case)
{
    size_t i;

    if (!s || strnlen(s, XLMIG__UUID_LEN + 1) != XLMIG__UUID_LEN)
        return false;
    for (i = 0; i < XLMIG__UUID_LEN; i++) {
        char c = s[i];

        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (c != '-')
                return false;
        } else if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ||
                     (any_case && c >= 'A' && c <= 'F'))) {
            return false;
        }
    }
    return true;
}

bool xlmig__uuid_ok(const char *s)
{
    return uuid_form(s, false);
}

bool xlmig__uuid_ok_any_case(const char *s)
{
    return uuid_form(s, true);
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

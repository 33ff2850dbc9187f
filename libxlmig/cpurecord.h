/* SPDX-License-Identifier: LGPL-2.1-only */
/*
 * CPU records kept in the state directory (internal;
 * docs/specs/cpu-records.md):
 *
 *   STATE/hosts/NAME.json  what host NAME offers guests: its vendor and
 *                          Xen's PV max and HVM max featuresets
 *   STATE/vms/NAME.json    what VM NAME booted with (xapi's
 *                          last_boot_CPU_flags): vendor and featureset,
 *                          its guest type and the host it was recorded on
 *
 * Records are JSON (yajl), written crash-safely (a temporary file,
 * fsync, rename, fsync of the directory), read with their size capped
 * before anything is allocated.  A record that does not parse is an
 * error naming the file and the field, never a partial result.
 */
#ifndef XLMIG_CPURECORD_H
#define XLMIG_CPURECORD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "libxlmig.h"
#include "names.h"

#define XLMIG__RECORD_VERSION 1
#define XLMIG__RECORD_FILE_MAX (64u << 10)  /* bytes of one record file */
#define XLMIG__RECORD_NAME_MAX XLMIG__NAME_MAX  /* bytes, no NUL */

/* A host's record. */
struct xlmig__host_record {
    char name[XLMIG__RECORD_NAME_MAX + 1];
    libxlmig_cpu_vendor vendor;
    libxlmig_featureset pv_max;
    libxlmig_featureset hvm_max;
    int64_t recorded;               /* seconds since the epoch */
};

/* A VM's record. */
struct xlmig__vm_record {
    char name[XLMIG__RECORD_NAME_MAX + 1];
    char uuid[37];                  /* "" when unknown */
    libxlmig_guest_type type;
    libxlmig_cpu_flags cpu;         /* what it booted with */
    char host[XLMIG__RECORD_NAME_MAX + 1];  /* recorded on */
    int64_t recorded;
};

/* A record's name is a name: xlmig__name_check() (names.h). */

/*
 * Encode a record as its JSON text (NUL-ended) into @buf of @cap bytes;
 * *len_r gets the length.  LIBXLMIG_ERR_INVALID_ARGUMENT when it does
 * not fit.  Decode: parse @len bytes of JSON (need not be NUL-ended;
 * more than XLMIG__RECORD_FILE_MAX is refused) into *r.  Errors:
 * LIBXLMIG_ERR_RECORD_INVALID with a message naming @label (the file,
 * for messages) and the field or the JSON error; *r is then untouched.
 * Unknown members are ignored (later versions may add some); a version
 * other than 1, a missing member, or a bad name, vendor or featureset is
 * an error.  Decode logs nothing when @ctx is NULL (the fuzz target).
 */
int xlmig__host_record_encode(const struct xlmig__host_record *r, char *buf,
                              size_t cap, size_t *len_r);
int xlmig__host_record_decode(libxlmig_ctx *ctx, const char *label,
                              const uint8_t *json, size_t len,
                              struct xlmig__host_record *r);
int xlmig__vm_record_encode(const struct xlmig__vm_record *r, char *buf,
                            size_t cap, size_t *len_r);
int xlmig__vm_record_decode(libxlmig_ctx *ctx, const char *label,
                            const uint8_t *json, size_t len,
                            struct xlmig__vm_record *r);

/*
 * Save a record as STATE/hosts/NAME.json or STATE/vms/NAME.json
 * (directories created 0700 as needed), crash-safely: the old record
 * stays whole until the new one is complete on disk.  In these and the
 * functions below, STATE is xlmig__state_dir(@state_dir): NULL
 * @state_dir means $XLMIG_STATE_DIR or the default.  A record that
 * could not be decoded again (bad name, uuid or guest type, vendor
 * UNKNOWN, recorded < 0) is refused with LIBXLMIG_ERR_INVALID_ARGUMENT,
 * by the encoders too (without a message: they have no context).
 */
int xlmig__host_record_save(libxlmig_ctx *ctx, const char *state_dir,
                            const struct xlmig__host_record *r);
int xlmig__vm_record_save(libxlmig_ctx *ctx, const char *state_dir,
                          const struct xlmig__vm_record *r);

/*
 * Load the record of @name.  LIBXLMIG_ERR_NOT_FOUND (message: "no CPU
 * record of host NAME in DIR; ...what to do...") when there is none.
 * LIBXLMIG_ERR_RECORD_INVALID when the file is not a regular file, is
 * larger than XLMIG__RECORD_FILE_MAX, does not decode, or holds a
 * record of another name than @name (renamed on disk).  *r is written
 * only on success.
 */
int xlmig__host_record_load(libxlmig_ctx *ctx, const char *state_dir,
                            const char *name, struct xlmig__host_record *r);
int xlmig__vm_record_load(libxlmig_ctx *ctx, const char *state_dir,
                          const char *name, struct xlmig__vm_record *r);

/* Remove a VM's record; 0 also when there was none. */
int xlmig__vm_record_remove(libxlmig_ctx *ctx, const char *state_dir,
                            const char *name);

/*
 * Every host record in STATE/hosts, sorted by name, into a malloc'd
 * array (*recs_r, free() it) of *nr_r entries (0 and NULL when the
 * directory is missing or empty).  A file that does not parse fails the
 * whole call, naming the file.  At most 1024 records.
 */
int xlmig__host_records_list(libxlmig_ctx *ctx, const char *state_dir,
                             struct xlmig__host_record **recs_r,
                             size_t *nr_r);

/*
 * Read what running VM @vm (a name or a domid) booted with: its domain's
 * CPU policy in Xen (vendor, featureset), its type and uuid; host is
 * this host's name, recorded now.  Needs Xen (xen.c).
 * LIBXLMIG_ERR_NOT_FOUND when no such domain runs here.
 */
int xlmig__vm_cpu_read(libxlmig_ctx *ctx, const char *vm,
                       struct xlmig__vm_record *r);

/*
 * The CPU domain @domid runs with (its CPU policy in Xen): vendor and
 * featureset.  @what names it in messages ("VM web1 (domain 7)").
 * Needs Xen.
 */
int xlmig__dom_cpu_read(libxlmig_ctx *ctx, uint32_t domid, const char *what,
                        libxlmig_cpu_flags *cpu_r);

#endif /* XLMIG_CPURECORD_H */

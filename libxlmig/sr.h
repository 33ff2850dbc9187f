/* SPDX-License-Identifier: LGPL-2.1-only */
/*
 * Storage repositories and their VDIs (internal; docs/specs/sr.md).
 *
 * An SR of type "file" is a directory holding disk images UUID.qcow2 or
 * UUID.raw, each with its metadata UUID.json beside it (and, while
 * something uses it, UUID.lock).  SRs are registered in the state
 * directory:
 *
 *   STATE/srs/UUID.json   {"version":1,"uuid","name","type":"file",
 *                          "path","capabilities":[...]}
 *   DIR/UUID.json         a VDI's metadata: name, format, virtual size,
 *                          on-boot mode, cbt/encrypted/sharable flags,
 *                          and its VBDs (which VMs use it, as which
 *                          device)
 *
 * Images are made and measured by qemu-img (run with fork/exec, its
 * arguments as an argv array, never a shell; always with -f so that a
 * guest-written raw image is never probed as another format).  Every
 * input is untrusted: names, sizes and paths are checked and capped;
 * files are read with their size capped before anything is allocated.
 * A failed create leaves nothing behind.
 */
#ifndef XLMIG_SR_H
#define XLMIG_SR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "libxlmig.h"
#include "names.h"
#include "uuid.h"                   /* the uuids it holds */

#define XLMIG__SR_VERSION 1
#define XLMIG__SR_FILE_MAX (16u << 10)      /* bytes of an SR or VDI file */
#define XLMIG__SR_NAME_MAX XLMIG__NAME_MAX  /* bytes, no NUL */
#define XLMIG__SR_PATH_MAX 1024             /* bytes of an SR path + NUL */
#define XLMIG__VDI_SIZE_MAX (64ull << 40)   /* 64 TiB */
#define XLMIG__SRS_MAX 1024                 /* SRs in one state dir */
#define XLMIG__VDIS_MAX 4096                /* VDIs in one SR */
#define XLMIG__VDI_VBDS_MAX 16              /* VBDs of one VDI */
#define XLMIG__VBD_DEVICE_MAX 15            /* bytes of a device, no NUL */

/* Capabilities, as bits (names: xlmig__sr_cap_name()). */
#define XLMIG__SR_CAP_VDI_SNAPSHOT 0x1u
#define XLMIG__SR_CAP_VDI_MIRROR 0x2u
#define XLMIG__SR_CAP_VDI_MIRROR_IN 0x4u
#define XLMIG__SR_CAPS_ALL 0x7u
#define XLMIG__SR_CAPS_COUNT 3

struct xlmig__sr {
    char uuid[XLMIG__UUID_LEN + 1];
    char name[XLMIG__SR_NAME_MAX + 1];
    char path[XLMIG__SR_PATH_MAX];      /* absolute, no ".." */
    unsigned int caps;                  /* XLMIG__SR_CAP_* */
};

enum xlmig__vdi_format { XLMIG__VDI_QCOW2, XLMIG__VDI_RAW };
enum xlmig__vdi_on_boot { XLMIG__VDI_PERSIST, XLMIG__VDI_RESET };

/*
 * A VBD: VM @vm uses the VDI as device @device.  VM names follow
 * xlmig__name_check(); devices xlmig__vbd_device_ok().
 */
struct xlmig__vbd {
    char vm[XLMIG__SR_NAME_MAX + 1];
    char device[XLMIG__VBD_DEVICE_MAX + 1];
};

struct xlmig__vdi {
    char uuid[XLMIG__UUID_LEN + 1];
    char name[XLMIG__SR_NAME_MAX + 1];
    char sr_uuid[XLMIG__UUID_LEN + 1];
    enum xlmig__vdi_format format;
    uint64_t virtual_size;              /* bytes, 1 .. 64 TiB */
    enum xlmig__vdi_on_boot on_boot;
    bool cbt_enabled;
    bool encrypted;
    bool sharable;
    /* VBDs in the order they were made; one per VM; entries from
     * nr_vbds on are all zero. */
    unsigned int nr_vbds;
    struct xlmig__vbd vbds[XLMIG__VDI_VBDS_MAX];
};

/* Space of an SR's file system (statvfs), in bytes. */
struct xlmig__sr_space {
    uint64_t physical_size;             /* the file system's size */
    uint64_t utilisation;               /* used on it */
    uint64_t free_space;                /* available to us */
};

/* "VDI_SNAPSHOT", ... for bit @cap; NULL for anything else. */
const char *xlmig__sr_cap_name(unsigned int cap);
/* "qcow2"/"raw", "persist"/"reset"; NULL when out of range. */
const char *xlmig__vdi_format_name(enum xlmig__vdi_format f);
const char *xlmig__vdi_on_boot_name(enum xlmig__vdi_on_boot b);

/*
 * Is @dev a VBD device name: "xvd", "hd" or "sd", then one or more of
 * a-z, then optionally a decimal number without a leading zero (a
 * partition); XLMIG__VBD_DEVICE_MAX bytes at most.  "xvda", "hdc",
 * "sdb2", "xvdaa".
 */
bool xlmig__vbd_device_ok(const char *dev);

/*
 * The first VM other than @vm (NULL: any VM) that @vdi's VBDs name,
 * with its VBD in *vbd_r (may be NULL); NULL when there is none.
 */
const char *xlmig__vdi_other_vm(const struct xlmig__vdi *vdi, const char *vm,
                                const struct xlmig__vbd **vbd_r);

/*
 * Is @path usable as an SR's directory: absolute, shorter than
 * XLMIG__SR_PATH_MAX, printable ASCII, no "." or ".." component.
 */
int xlmig__sr_path_check(libxlmig_ctx *ctx, const char *path);

/*
 * Encode an SR or VDI as JSON text (NUL-ended) into @buf of @cap bytes.
 * Decode @len bytes (more than XLMIG__SR_FILE_MAX refused) into *r,
 * which is written only on success; errors are
 * LIBXLMIG_ERR_INVALID_ARGUMENT naming @label and the member, logged
 * only when @ctx is not NULL (the fuzz target).  Unknown members are
 * ignored; a version other than 1 or a missing or bad member is an
 * error.
 */
int xlmig__sr_encode(const struct xlmig__sr *r, char *buf, size_t cap,
                     size_t *len_r);
int xlmig__sr_decode(libxlmig_ctx *ctx, const char *label,
                     const uint8_t *json, size_t len, struct xlmig__sr *r);
int xlmig__vdi_encode(const struct xlmig__vdi *v, char *buf, size_t cap,
                      size_t *len_r);
int xlmig__vdi_decode(libxlmig_ctx *ctx, const char *label,
                      const uint8_t *json, size_t len, struct xlmig__vdi *v);

/*
 * Register SR @name (xlmig__name_check() rules) of type "file"
 * at directory @path (made, 0700, when missing; its parent must exist)
 * with capabilities @caps (0: all), in STATE/srs/UUID.json where STATE
 * is xlmig__state_dir(@state_dir).  A name or a path another SR has is
 * refused.  *sr_r (may be NULL) gets the new SR.
 */
int xlmig__sr_create(libxlmig_ctx *ctx, const char *state_dir,
                     const char *name, const char *type, const char *path,
                     unsigned int caps, struct xlmig__sr *sr_r);

/* Unregister SR @uuid; its directory and VDIs stay as they are. */
int xlmig__sr_forget(libxlmig_ctx *ctx, const char *state_dir,
                     const char *uuid);

/*
 * Every registered SR, sorted by name, into a malloc'd array (*srs_r,
 * free() it; NULL when none) of *nr_r entries.  A file that does not
 * decode fails the call, naming it; one removed while the list is made
 * is left out.
 */
int xlmig__sr_list(libxlmig_ctx *ctx, const char *state_dir,
                   struct xlmig__sr **srs_r, size_t *nr_r);

/*
 * The SR whose uuid or name is @which.  LIBXLMIG_ERR_NOT_FOUND when
 * there is none (message says how to list them); two SRs of that name
 * is LIBXLMIG_ERR_INVALID_ARGUMENT (use the uuid).
 */
int xlmig__sr_find(libxlmig_ctx *ctx, const char *state_dir,
                   const char *which, struct xlmig__sr *sr_r);

/* The space of @sr's file system. */
int xlmig__sr_space(libxlmig_ctx *ctx, const struct xlmig__sr *sr,
                    struct xlmig__sr_space *space_r);

/*
 * Create VDI @name of @size_text bytes (xlmig__size_parse(), units.h;
 * rounded up to a multiple of 512, as qemu-img does) in format @format
 * ("qcow2", the default when NULL, or "raw") in SR @sr_which (uuid or
 * name):
 * `qemu-img create -f FMT DIR/UUID.FMT SIZE`, then DIR/UUID.json.  On
 * any failure both are removed; qemu-img's complaint is in the message.
 * *vdi_r (may be NULL) gets the new VDI.
 */
int xlmig__vdi_create(libxlmig_ctx *ctx, const char *state_dir,
                      const char *sr_which, const char *name,
                      const char *size_text, const char *format,
                      struct xlmig__vdi *vdi_r);

/*
 * Destroy VDI @uuid (found in any registered SR): its image, then its
 * metadata.  LIBXLMIG_ERR_VDI_IN_USE while DIR/UUID.lock exists or a
 * VM has a VBD on it (naming the VM; xlmig__vbd_destroy() it first).
 */
int xlmig__vdi_destroy(libxlmig_ctx *ctx, const char *state_dir,
                       const char *uuid);

/*
 * The VDIs of @sr (those with a metadata file), sorted by name then
 * uuid, into a malloc'd array (*vdis_r, free() it) of *nr_r entries.
 * No lock is taken: a metadata file removed between readdir() and its
 * read (storage motion's leaf, a vdi-destroy) is a VDI gone, left out.
 */
int xlmig__vdi_list(libxlmig_ctx *ctx, const struct xlmig__sr *sr,
                    struct xlmig__vdi **vdis_r, size_t *nr_r);

/* VDI @uuid and the SR that holds it (either may be NULL). */
int xlmig__vdi_find(libxlmig_ctx *ctx, const char *state_dir,
                    const char *uuid, struct xlmig__sr *sr_r,
                    struct xlmig__vdi *vdi_r);

/*
 * VBDs.  Both rewrite DIR/UUID.json of VDI @vdi_uuid crash-safely
 * (xlmig__file_write()), holding an exclusive flock() of STATE/srs while
 * they read, check and write, so that VBD changes, vdi-param-set and
 * vdi-destroy of one state directory happen one at a time.
 *
 * xlmig__vbd_create: VM @vm uses the VDI as @device.  Refused:
 *   - a bad VM name or device: LIBXLMIG_ERR_INVALID_ARGUMENT;
 *   - a VDI that is not sharable and has a VBD of another VM:
 *     LIBXLMIG_ERR_VDI_IN_USE naming that VM;
 *   - a VDI @vm has already, or a device @vm has on any VDI of any SR:
 *     LIBXLMIG_ERR_INVALID_ARGUMENT naming the VDI;
 *   - XLMIG__VDI_VBDS_MAX VBDs on the VDI: LIBXLMIG_ERR_UNSUPPORTED.
 * xlmig__vbd_destroy: VM @vm no longer uses the VDI;
 *   LIBXLMIG_ERR_NOT_FOUND when it has no VBD there.
 * *vdi_r (may be NULL) gets the VDI as written.
 */
int xlmig__vbd_create(libxlmig_ctx *ctx, const char *state_dir,
                      const char *vdi_uuid, const char *vm,
                      const char *device, struct xlmig__vdi *vdi_r);
int xlmig__vbd_destroy(libxlmig_ctx *ctx, const char *state_dir,
                       const char *vdi_uuid, const char *vm,
                       struct xlmig__vdi *vdi_r);

/*
 * Changes to a VDI's flags for xlmig__vdi_param_set(): each member -1
 * (leave it as it is) or the new value (on_boot: enum xlmig__vdi_on_boot;
 * the others 0 or 1).
 */
struct xlmig__vdi_flags {
    int on_boot;
    int cbt_enabled;
    int encrypted;
    int sharable;
};
#define XLMIG__VDI_FLAGS_KEEP { -1, -1, -1, -1 }

/*
 * Set the flags of VDI @uuid that @flags changes, rewriting its
 * metadata crash-safely under the lock of xlmig__vbd_create().
 * sharable=false on a VDI whose VBDs name two VMs is refused with
 * LIBXLMIG_ERR_VDI_IN_USE.  *vdi_r (may be NULL) gets the VDI as
 * written.
 */
int xlmig__vdi_param_set(libxlmig_ctx *ctx, const char *state_dir,
                         const char *uuid,
                         const struct xlmig__vdi_flags *flags,
                         struct xlmig__vdi *vdi_r);

/*
 * The image's sizes as `qemu-img info -U --output=json -f FMT` reports
 * them: virtual size and allocated bytes on disk.
 */
int xlmig__vdi_sizes(libxlmig_ctx *ctx, const struct xlmig__sr *sr,
                     const struct xlmig__vdi *vdi, uint64_t *virtual_r,
                     uint64_t *physical_r);

/*
 * Decode @len bytes of `qemu-img info --output=json` into the sizes
 * (members "virtual-size" and "actual-size", non-negative integers).
 * Logs only when @ctx is not NULL.
 */
int xlmig__qemu_img_info_decode(libxlmig_ctx *ctx, const char *label,
                                const uint8_t *json, size_t len,
                                uint64_t *virtual_r, uint64_t *physical_r);

/* Paths of a VDI's files in @sr: "DIR/UUID.EXT" into @out. */
int xlmig__vdi_path(const struct xlmig__sr *sr, const char *uuid,
                    const char *ext, char *out, size_t len);

#endif /* XLMIG_SR_H */

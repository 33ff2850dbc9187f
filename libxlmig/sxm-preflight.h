/* SPDX-License-Identifier: LGPL-2.1-only */
/*
 * Storage live migration: the checks before a VDI moves, and the space
 * the move needs on each SR (internal; docs/specs/sxm-preflight.md).
 *
 * Pure: everything comes in as arguments (the SRs, their space, the
 * VDI's metadata and allocated bytes), nothing is read or written, so
 * the caller can check a remote destination with the numbers its host
 * reported.  Every failed check is logged with its stable name; the
 * first failure's code is returned.
 */
#ifndef XLMIG_SXM_PREFLIGHT_H
#define XLMIG_SXM_PREFLIGHT_H

#include <stdbool.h>
#include <stdint.h>

#include "libxlmig.h"
#include "sr.h"

#define XLMIG__MIB (1ull << 20)
/* The least growth allowance: what a guest writes in a short move. */
#define XLMIG__SXM_GROWTH_MIN (64ull << 20)
/* The leaf's layout: 16 KiB clusters (2^14) with extended L2 entries. */
#define XLMIG__SXM_LEAF_CLUSTER_BITS 14
/* qemu-img's default qcow2 clusters, 64 KiB (2^16), for the parent. */
#define XLMIG__QCOW2_CLUSTER_BITS 16

/* Space the move needs on each SR, in bytes (whole MiB). */
struct xlmig__sxm_need {
    uint64_t dst_bytes;         /* destination: parent + leaf */
    uint64_t src_bytes;         /* source: the temporary snapshot's
                                 * overlay (live moves; 0 offline) */
};

/*
 * Checks VDI @vdi of SR @src_sr moving to SR @dst_sr (whose free space
 * @dst_space the caller got, locally or from the remote host), for a
 * live move (@live: the VM runs; a halted VM's offline copy needs no
 * snapshot/mirror capabilities and no source space) into format
 * @dst_format, with @src_allocated the source image's allocated bytes
 * (xlmig__vdi_sizes(); of the whole chain if it has a backing file) and
 * @src_space the source SR's space (may be NULL when not @live).
 *
 * @vm is the VM being moved (NULL for a VDI with no VM): a VDI whose
 * VBDs name another VM is refused with LIBXLMIG_ERR_VDI_IN_USE.
 *
 * Checks, in this order (docs/specs/sxm-preflight.md), with the stable
 * names of their errors (LIBXLMIG_ERR_ + the same words, except the
 * first, LIBXLMIG_ERR_INVALID_ARGUMENT):
 *   same SR as source and destination   INVALID_VALUE
 *   CBT enabled                         VDI_CBT_ENABLED
 *   encrypted                           VDI_IS_ENCRYPTED
 *   on-boot=reset          VDI_ON_BOOT_MODE_INCOMPATIBLE_WITH_OPERATION
 *   VBDs of another VM                  VDI_IN_USE
 *   source SR capabilities (live)       SR_DOES_NOT_SUPPORT_MIGRATION
 *   destination SR capabilities         SR_DOES_NOT_SUPPORT_MIGRATION
 *   destination space              SR_DESTINATION_SPACE_INSUFFICIENT
 *   source space (live)            SR_SOURCE_SPACE_INSUFFICIENT
 * Every failed check is logged (its stable name, the VDI's name and
 * uuid, the SR, the numbers, what to do); the return is the first
 * failure's code, 0 when all pass, and the context's last error is the
 * first failure's message.  Arguments that cannot be checked (NULL, a
 * VDI of another SR than @src_sr, a size beyond 64 TiB, an unknown
 * format) are LIBXLMIG_ERR_INVALID_ARGUMENT at once.
 *
 * *need_r (may be NULL) gets the computed needs, also when a check
 * fails (zero when the arguments are refused).
 */
int xlmig__sxm_preflight(libxlmig_ctx *ctx, const struct xlmig__sr *src_sr,
                         const struct xlmig__sr_space *src_space,
                         const struct xlmig__vdi *vdi, uint64_t src_allocated,
                         const struct xlmig__sr *dst_sr,
                         const struct xlmig__sr_space *dst_space,
                         enum xlmig__vdi_format dst_format, bool live,
                         const char *vm, struct xlmig__sxm_need *need_r);

/*
 * The needs alone, without checks: what xlmig__sxm_preflight() compares
 * with the SRs' free space.  @virtual_size 1 .. 64 TiB, else
 * LIBXLMIG_ERR_INVALID_ARGUMENT (not logged).  The parts, in bytes:
 */
struct xlmig__sxm_parts {
    uint64_t growth;            /* G = min(V, max(64 MiB, V / 10)) */
    uint64_t parent;            /* parent_data + parent_meta rounded up
                                 * to 1 MiB */
    uint64_t parent_data;       /* allocated bytes, at most V, rounded
                                 * up to 1 MiB */
    uint64_t parent_meta;       /* qcow2 metadata (0 for raw) */
    uint64_t leaf;              /* G + the leaf's metadata, whole MiB */
    uint64_t overlay;           /* the source overlay: as the leaf */
};
int xlmig__sxm_needs(uint64_t virtual_size, uint64_t src_allocated,
                     enum xlmig__vdi_format dst_format, bool live,
                     struct xlmig__sxm_parts *parts_r,
                     struct xlmig__sxm_need *need_r);

/*
 * What `qemu-img measure -O qcow2 --size SIZE -o cluster_size=2^BITS
 * [,extended_l2=on]` reports as "fully allocated size": @size rounded
 * up to a cluster, plus header, L1 and L2 tables, refcount table and
 * blocks (16-bit refcounts), computed as qemu's
 * qcow2_calc_prealloc_size() does.  @size at most 2^60, @cluster_bits
 * 9 .. 21 (14 .. 21 with @extended_l2); UINT64_MAX otherwise.
 */
uint64_t xlmig__qcow2_full_size(uint64_t size, unsigned int cluster_bits,
                                bool extended_l2);

#endif /* XLMIG_SXM_PREFLIGHT_H */

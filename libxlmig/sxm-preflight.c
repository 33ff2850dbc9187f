/* SPDX-License-Identifier: LGPL-2.1-only */
/*
 * The checks before a VDI moves to another SR, and the space the move
 * needs there and on the source (sxm-preflight.h,
 * docs/specs/sxm-preflight.md).  No I/O: the caller hands in the SRs,
 * their space and the VDI.
 */
#include <stdio.h>
#include <string.h>

#include "internal.h"
#include "jsonfile.h"
#include "sr.h"
#include "sxm-preflight.h"

#define SIZE_ARG_MAX (1ull << 60)       /* xlmig__qcow2_full_size() */
#define L1E_SIZE 8u                     /* bytes of an L1 entry */
#define REFTABLE_ENTRY_SIZE 8u          /* bytes of a refcount table entry */
#define REFCOUNT_BITS 16u               /* qemu-img's default */
#define RESET_RC LIBXLMIG_ERR_VDI_ON_BOOT_MODE_INCOMPATIBLE_WITH_OPERATION

/* ------------------------------------------------------------ arithmetic */

/* @a + @b, UINT64_MAX when it does not fit. */
static uint64_t add_sat(uint64_t a, uint64_t b)
{
    return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

/* @a rounded up to a multiple of @m (a power of two); saturates. */
static uint64_t round_up(uint64_t a, uint64_t m)
{
    if (a > UINT64_MAX - (m - 1))
        return UINT64_MAX & ~(m - 1);
    return (a + m - 1) & ~(m - 1);
}

static uint64_t div_round_up(uint64_t a, uint64_t b)
{
    return a / b + (a % b != 0);
}

/*
 * Entries of the L2 tables covering @size bytes, rounded up to whole
 * tables, as qcow2_calc_prealloc_size() counts them.
 */
static uint64_t qcow2_nl2e(uint64_t size, uint64_t cluster, uint64_t l2e)
{
    return round_up(div_round_up(size, cluster), cluster / l2e);
}

/* Bytes of the L1 table of an image of @size bytes (whole clusters). */
static uint64_t qcow2_l1_bytes(uint64_t size, uint64_t cluster, uint64_t l2e)
{
    uint64_t nl1e = qcow2_nl2e(size, cluster, l2e) * l2e / cluster;

    return round_up(nl1e, cluster / L1E_SIZE) * L1E_SIZE;
}

/*
 * qemu's qcow2_refcount_metadata_size(): the refcount blocks and table
 * clusters that count @clusters clusters and themselves, found as the
 * fixed point of the count.  In bytes.
 */
static uint64_t qcow2_refcount_bytes(uint64_t clusters, uint64_t cluster)
{
    uint64_t per_table = cluster / REFTABLE_ENTRY_SIZE;
    uint64_t per_block = cluster * 8 / REFCOUNT_BITS;
    uint64_t table = 0, blocks = 0, n = 0, last;
    int i;

    /* Converges in a few rounds; 64 is far more than any size needs. */
    for (i = 0; i < 64; i++) {
        last = n;
        blocks = div_round_up(clusters + table + blocks, per_block);
        table = div_round_up(blocks, per_table);
        n = clusters + blocks + table;
        if (n == last)
            break;
    }
    return (blocks + table) * cluster;
}

uint64_t xlmig__qcow2_full_size(uint64_t size, unsigned int cluster_bits,
                                bool extended_l2)
{
    uint64_t cluster, l2e, aligned, meta;

    if (size > SIZE_ARG_MAX || cluster_bits < (extended_l2 ? 14u : 9u) ||
        cluster_bits > 21)
        return UINT64_MAX;
    cluster = 1ull << cluster_bits;
    l2e = extended_l2 ? 16 : 8;
    aligned = round_up(size, cluster);
    meta = cluster;                                     /* header */
    meta += qcow2_nl2e(size, cluster, l2e) * l2e;       /* L2 tables */
    meta += qcow2_l1_bytes(size, cluster, l2e);         /* L1 table */
    meta += qcow2_refcount_bytes((meta + aligned) / cluster, cluster);
    return meta + aligned;
}

int xlmig__sxm_needs(uint64_t virtual_size, uint64_t src_allocated,
                     enum xlmig__vdi_format dst_format, bool live,
                     struct xlmig__sxm_parts *parts_r,
                     struct xlmig__sxm_need *need_r)
{
    const uint64_t leaf_cluster = 1ull << XLMIG__SXM_LEAF_CLUSTER_BITS;
    struct xlmig__sxm_parts p;
    uint64_t v = virtual_size, data;

    if (v < 1 || v > XLMIG__VDI_SIZE_MAX || !xlmig__vdi_format_name(dst_format))
        return LIBXLMIG_ERR_INVALID_ARGUMENT;
    memset(&p, 0, sizeof(p));

    /* G = min(V, max(64 MiB, V / 10)). */
    p.growth = v / 10;
    if (p.growth < XLMIG__SXM_GROWTH_MIN)
        p.growth = XLMIG__SXM_GROWTH_MIN;
    if (p.growth > v)
        p.growth = v;

    /* The parent: what the source has allocated, never more than the
     * disk (both formats are sparse files), plus, for qcow2, the
     * metadata of a fully allocated image of the disk's size. */
    data = src_allocated < v ? src_allocated : v;
    if (dst_format == XLMIG__VDI_QCOW2)
        p.parent_meta = xlmig__qcow2_full_size(v, XLMIG__QCOW2_CLUSTER_BITS,
                                               false) -
                        round_up(v, 1ull << XLMIG__QCOW2_CLUSTER_BITS);
    p.parent_data = round_up(data, XLMIG__MIB);
    p.parent = add_sat(p.parent_data, round_up(p.parent_meta, XLMIG__MIB));

    /* The leaf: a qcow2 overlay of the disk's size (its L1 table covers
     * all of it) that holds up to G of writes, with the L2 tables and
     * refcounts of G densely written. */
    p.leaf = round_up(add_sat(xlmig__qcow2_full_size(
                                  p.growth, XLMIG__SXM_LEAF_CLUSTER_BITS,
                                  true),
                              qcow2_l1_bytes(v, leaf_cluster, 16)),
                      XLMIG__MIB);

    /* The source's temporary snapshot: the running disk's writes go to
     * an overlay on the source SR while the snapshot is copied; counted
     * as the leaf, whose layout needs the most metadata. */
    p.overlay = live ? p.leaf : 0;

    if (parts_r)
        *parts_r = p;
    if (need_r) {
        need_r->dst_bytes = add_sat(p.parent, p.leaf);
        need_r->src_bytes = p.overlay;
    }
    return 0;
}

/* ------------------------------------------------------------ checks */

/* The failures so far: the first one's code and message. */
struct verdict {
    libxlmig_ctx *ctx;
    int rc;
    char first[sizeof(((libxlmig_ctx *)0)->last_error)];
};

/* Note a failure that xlmig__error() has just logged as @rc. */
static void failed(struct verdict *v, int rc)
{
    if (v->rc)
        return;
    v->rc = rc;
    xlmig__strlcpy(v->first, v->ctx->last_error, sizeof(v->first));
}

static uint64_t mib(uint64_t bytes)
{
    return bytes / XLMIG__MIB;
}

/* "VDI_SNAPSHOT and VDI_MIRROR" of the bits of @missing. */
static void caps_words(unsigned int missing, char *out, size_t len)
{
    unsigned int b, left = 0;
    size_t used = 0;

    for (b = 0; b < XLMIG__SR_CAPS_COUNT; b++)
        left += (missing >> b) & 1u;
    out[0] = '\0';
    for (b = 0; b < XLMIG__SR_CAPS_COUNT && used < len; b++) {
        if (!(missing & (1u << b)))
            continue;
        left--;
        used += (size_t)snprintf(out + used, len - used, "%s%s",
                                 xlmig__sr_cap_name(1u << b),
                                 left > 1 ? ", " : left == 1 ? " and " : "");
    }
}

/*
 * Where the VDI goes, and the VDI itself: not to its own SR; no changed
 * block tracking, no encryption, no on-boot=reset, no other VM's VBD.
 */
static void check_vdi(struct verdict *v, const struct xlmig__sr *src_sr,
                      const struct xlmig__vdi *vdi,
                      const struct xlmig__sr *dst_sr, const char *vm)
{
    const struct xlmig__vbd *vbd;
    const char *other;

    /* Where it goes. */
    if (!strcmp(src_sr->uuid, dst_sr->uuid))
        failed(v, xlmig__error(v->ctx, LIBXLMIG_ERR_INVALID_ARGUMENT, -1,
                               "VDI %s (%s) is in SR %s (%s) already: "
                               "the source and destination SR are the "
                               "same; choose another destination SR",
                               vdi->name, vdi->uuid, src_sr->name,
                               src_sr->uuid));

    /* The VDI itself. */
    if (vdi->cbt_enabled)
        failed(v, xlmig__error(v->ctx, LIBXLMIG_ERR_VDI_CBT_ENABLED, -1,
                               "VDI %s (%s) in SR %s has changed block "
                               "tracking enabled, which a move cannot "
                               "carry over; disable it first: xlmig-xe "
                               "vdi-param-set uuid=%s cbt-enabled=false",
                               vdi->name, vdi->uuid, src_sr->name,
                               vdi->uuid));
    if (vdi->encrypted)
        failed(v, xlmig__error(v->ctx, LIBXLMIG_ERR_VDI_IS_ENCRYPTED, -1,
                               "VDI %s (%s) in SR %s is encrypted, and "
                               "storage migration does not move encrypted "
                               "VDIs (as in XenServer); copy its data "
                               "into an unencrypted VDI first, or leave "
                               "it on SR %s",
                               vdi->name, vdi->uuid, src_sr->name,
                               src_sr->name));
    if (vdi->on_boot == XLMIG__VDI_RESET)
        failed(v, xlmig__error(
                       v->ctx, RESET_RC, -1,
                       "VDI %s (%s) in SR %s has on-boot=reset (its "
                       "changes are dropped at each boot: there is no "
                       "lasting state to move); set on-boot=persist "
                       "first: xlmig-xe vdi-param-set uuid=%s "
                       "on-boot=persist", vdi->name, vdi->uuid,
                       src_sr->name, vdi->uuid));
    other = xlmig__vdi_other_vm(vdi, vm, &vbd);
    if (other && vm)
        failed(v, xlmig__error(v->ctx, LIBXLMIG_ERR_VDI_IN_USE, -1,
                               "VDI %s (%s) in SR %s is shared with VM %s "
                               "(as %s), which would keep using the copy "
                               "left behind; detach it from %s first "
                               "(xlmig-xe vbd-destroy vm=%s vdi-uuid=%s)",
                               vdi->name, vdi->uuid, src_sr->name, other,
                               vbd->device, other, other, vdi->uuid));
    else if (other)
        failed(v, xlmig__error(v->ctx, LIBXLMIG_ERR_VDI_IN_USE, -1,
                               "VDI %s (%s) in SR %s is used by VM %s (as "
                               "%s); move it with its VM, or detach it "
                               "first (xlmig-xe vbd-destroy vm=%s "
                               "vdi-uuid=%s)", vdi->name, vdi->uuid,
                               src_sr->name, other, vbd->device, other,
                               vdi->uuid));
}

/* The SRs' capabilities: snapshot and mirror at a live source, mirror-in
 * at the destination. */
static void check_caps(struct verdict *v, const struct xlmig__sr *src_sr,
                       const struct xlmig__vdi *vdi,
                       const struct xlmig__sr *dst_sr, bool live,
                       const char *mode)
{
    unsigned int want, missing;
    char words[64];

    if (live) {
        want = XLMIG__SR_CAP_VDI_SNAPSHOT | XLMIG__SR_CAP_VDI_MIRROR;
        missing = want & ~src_sr->caps;
        if (missing) {
            caps_words(missing, words, sizeof(words));
            failed(v, xlmig__error(
                           v->ctx, LIBXLMIG_ERR_SR_DOES_NOT_SUPPORT_MIGRATION,
                           -1, "source SR %s (%s) lacks %s, which a live "
                           "move of VDI %s (%s) needs (a temporary "
                           "snapshot, and mirroring of the VM's writes); "
                           "shut the VM down to move it offline, or keep "
                           "it on SR %s", src_sr->name, src_sr->uuid,
                           words, vdi->name, vdi->uuid, src_sr->name));
        }
    }
    missing = XLMIG__SR_CAP_VDI_MIRROR_IN & ~dst_sr->caps;
    if (missing) {
        caps_words(missing, words, sizeof(words));
        failed(v, xlmig__error(
                       v->ctx, LIBXLMIG_ERR_SR_DOES_NOT_SUPPORT_MIGRATION, -1,
                       "destination SR %s (%s) lacks %s, which the %s "
                       "move of VDI %s (%s) into it needs; choose an SR "
                       "that has it (xlmig-xe sr-list shows "
                       "capabilities)", dst_sr->name, dst_sr->uuid, words,
                       mode, vdi->name, vdi->uuid));
    }
}

/* The space the parts @p (@need in all) take at the destination and, for
 * a live move, at the source. */
static void check_space(struct verdict *v, const struct xlmig__sr *src_sr,
                        const struct xlmig__sr_space *src_space,
                        const struct xlmig__vdi *vdi,
                        const struct xlmig__sr *dst_sr,
                        const struct xlmig__sr_space *dst_space, bool live,
                        const char *mode, const struct xlmig__sxm_parts *p,
                        const struct xlmig__sxm_need *need)
{
    char meta[64];

    /* Space: whole MiB needed, free rounded down. */
    meta[0] = '\0';
    if (p->parent_meta)
        snprintf(meta, sizeof(meta), ", %llu MiB of qcow2 metadata",
                 (unsigned long long)div_round_up(p->parent_meta,
                                                  XLMIG__MIB));
    if (need->dst_bytes > dst_space->free_space)
        failed(v, xlmig__error(
                       v->ctx, LIBXLMIG_ERR_SR_DESTINATION_SPACE_INSUFFICIENT,
                       -1, "destination SR %s (%s) has %llu MiB free, but "
                       "the %s move of VDI %s (%s, %llu MiB) needs %llu "
                       "MiB there: the parent %llu MiB (%llu MiB "
                       "allocated at the source%s) and the leaf %llu MiB "
                       "(room for "
                       "%llu MiB of writes); free %llu MiB on SR %s or "
                       "choose another SR", dst_sr->name, dst_sr->uuid,
                       (unsigned long long)mib(dst_space->free_space), mode,
                       vdi->name, vdi->uuid,
                       (unsigned long long)div_round_up(vdi->virtual_size,
                                                        XLMIG__MIB),
                       (unsigned long long)mib(need->dst_bytes),
                       (unsigned long long)mib(p->parent),
                       (unsigned long long)mib(p->parent_data), meta,
                       (unsigned long long)mib(p->leaf),
                       (unsigned long long)div_round_up(p->growth,
                                                        XLMIG__MIB),
                       (unsigned long long)div_round_up(
                           need->dst_bytes - dst_space->free_space,
                           XLMIG__MIB),
                       dst_sr->name));
    if (live && need->src_bytes > src_space->free_space)
        failed(v, xlmig__error(
                       v->ctx, LIBXLMIG_ERR_SR_SOURCE_SPACE_INSUFFICIENT, -1,
                       "source SR %s (%s) has %llu MiB free, but the "
                       "temporary snapshot of VDI %s (%s) for a live move "
                       "needs %llu MiB there (an overlay that takes "
                       "%llu MiB of the VM's writes during the move); "
                       "free %llu MiB on SR %s, or shut the VM down and "
                       "move it offline", src_sr->name, src_sr->uuid,
                       (unsigned long long)mib(src_space->free_space),
                       vdi->name, vdi->uuid,
                       (unsigned long long)mib(need->src_bytes),
                       (unsigned long long)div_round_up(p->growth,
                                                        XLMIG__MIB),
                       (unsigned long long)div_round_up(
                           need->src_bytes - src_space->free_space,
                           XLMIG__MIB),
                       src_sr->name));
}

int xlmig__sxm_preflight(libxlmig_ctx *ctx, const struct xlmig__sr *src_sr,
                         const struct xlmig__sr_space *src_space,
                         const struct xlmig__vdi *vdi, uint64_t src_allocated,
                         const struct xlmig__sr *dst_sr,
                         const struct xlmig__sr_space *dst_space,
                         enum xlmig__vdi_format dst_format, bool live,
                         const char *vm, struct xlmig__sxm_need *need_r)
{
    static struct verdict zero;
    struct verdict v = zero;
    struct xlmig__sxm_parts p;
    struct xlmig__sxm_need need;
    const char *mode = live ? "live" : "offline";
    char why[96];
    size_t at;
    int rc;

    if (need_r)
        memset(need_r, 0, sizeof(*need_r));
    if (!ctx)
        return LIBXLMIG_ERR_INVALID_ARGUMENT;
    v.ctx = ctx;
    if (!src_sr || !vdi || !dst_sr || !dst_space || (live && !src_space))
        return xlmig__error(ctx, LIBXLMIG_ERR_INVALID_ARGUMENT, -1,
                            "storage migration preflight: no %s given",
                            !vdi ? "VDI" : !src_sr ? "source SR" :
                            !dst_sr ? "destination SR" :
                            !dst_space ? "destination SR space"
                                       : "source SR space");
    if (strcmp(vdi->sr_uuid, src_sr->uuid))
        return xlmig__error(ctx, LIBXLMIG_ERR_INVALID_ARGUMENT, -1,
                            "VDI %s (%s) is in SR %s, not in SR %s (%s) "
                            "given as its source", vdi->name, vdi->uuid,
                            vdi->sr_uuid, src_sr->name, src_sr->uuid);
    if (vm && !xlmig__word_ok(vm, XLMIG__SR_NAME_MAX, true, why,
                              sizeof(why), &at))
        return xlmig__error(ctx, LIBXLMIG_ERR_INVALID_ARGUMENT, -1,
                            "VDI %s (%s): the VM given is not a valid "
                            "name: %s", vdi->name, vdi->uuid, why);
    rc = xlmig__sxm_needs(vdi->virtual_size, src_allocated, dst_format, live,
                          &p, &need);
    if (rc)
        return xlmig__error(ctx, rc, -1, "VDI %s (%s): virtual size %llu "
                            "is not 1 byte .. 64 TiB, or destination "
                            "format %d is not qcow2 or raw", vdi->name,
                            vdi->uuid, (unsigned long long)vdi->virtual_size,
                            (int)dst_format);
    if (need_r)
        *need_r = need;

    check_vdi(&v, src_sr, vdi, dst_sr, vm);
    check_caps(&v, src_sr, vdi, dst_sr, live, mode);
    check_space(&v, src_sr, src_space, vdi, dst_sr, dst_space, live, mode,
                &p, &need);

    /* Several failures: the caller's last error is the first one, whose
     * code we return. */
    if (v.rc)
        xlmig__strlcpy(ctx->last_error, v.first, sizeof(ctx->last_error));
    return v.rc;
}

/* SPDX-License-Identifier: LGPL-2.1-only */
/*
 * CPU compatibility as pure functions: the level of a pool, a host
 * joining it, and whether a VM's recorded CPU fits a destination
 * (docs/specs/featureset.md).  No Xen call here, so that every rule is
 * unit-tested.
 */
#include <stdio.h>
#include <string.h>

#include "featureset.h"

/* Room for a host's label in messages ("host " and a name). */
#define LABEL_MAX 160

/* Room for a list of missing features in a message. */
#define NAMES_MAX 480

static bool vendor_known(libxlmig_cpu_vendor v)
{
    return libxlmig_cpu_vendor_string(v) != NULL;
}

int libxlmig_pool_level(libxlmig_ctx *ctx, const libxlmig_pool_host *hosts,
                        size_t nr, libxlmig_cpu_flags *level_r)
{
    libxlmig_cpu_flags level;
    char l1[LABEL_MAX], l2[LABEL_MAX];
    size_t i;

    if (!hosts || !nr || !level_r) {
        return xlmig__error_opt(ctx, LIBXLMIG_ERR_INVALID_ARGUMENT,
                                "the level of a pool needs at least one "
                                "host");
    }
    for (i = 0; i < nr; i++) {
        if (!vendor_known(hosts[i].cpu.vendor)) {
            return xlmig__error_opt(
                ctx, LIBXLMIG_ERR_INVALID_ARGUMENT,
                "%s has no known CPU vendor; read its facts again",
                xlmig__host_label("host", hosts[i].name, i, l1, sizeof(l1)));
        }
    }

    memset(&level, 0, sizeof(level));
    level.vendor = hosts[0].cpu.vendor;
    libxlmig_featureset_intersect(&hosts[0].cpu.features,
                                  &hosts[0].cpu.features, &level.features);
    for (i = 1; i < nr; i++) {
        if (hosts[i].cpu.vendor != level.vendor) {
            return xlmig__error_opt(
                ctx, LIBXLMIG_ERR_HOSTS_NOT_HOMOGENEOUS,
                "CPU vendors differ: %s has %s, %s has %s; the hosts of a "
                "pool need one CPU vendor",
                xlmig__host_label("host", hosts[0].name, 0, l1, sizeof(l1)),
                libxlmig_cpu_vendor_string(level.vendor),
                xlmig__host_label("host", hosts[i].name, i, l2, sizeof(l2)),
                libxlmig_cpu_vendor_string(hosts[i].cpu.vendor));
        }
        libxlmig_featureset_intersect(&level.features, &hosts[i].cpu.features,
                                      &level.features);
    }
    *level_r = level;
    return 0;
}

int libxlmig_pool_join_check(libxlmig_ctx *ctx, const char *pool_name,
                             const libxlmig_cpu_flags *level,
                             const libxlmig_pool_host *joining,
                             libxlmig_featureset *missing_r)
{
    char pl[LABEL_MAX], hl[LABEL_MAX];

    if (!level || !joining || !vendor_known(level->vendor) ||
        !vendor_known(joining->cpu.vendor)) {
        return xlmig__error_opt(ctx, LIBXLMIG_ERR_INVALID_ARGUMENT,
                                "a pool join check needs the pool's level "
                                "and the joining host, each with a known "
                                "CPU vendor");
    }
    xlmig__host_label("pool", pool_name, XLMIG__NO_INDEX, pl, sizeof(pl));
    xlmig__host_label("host", joining->name, XLMIG__NO_INDEX, hl, sizeof(hl));
    if (joining->cpu.vendor != level->vendor) {
        return xlmig__error_opt(
            ctx, LIBXLMIG_ERR_HOSTS_NOT_HOMOGENEOUS,
            "%s cannot join %s: %s has CPU vendor %s, the hosts of %s have "
            "%s; the hosts of a pool need one CPU vendor",
            hl, pl, hl, libxlmig_cpu_vendor_string(joining->cpu.vendor), pl,
            libxlmig_cpu_vendor_string(level->vendor));
    }
    if (missing_r)
        libxlmig_featureset_difference(&level->features,
                                       &joining->cpu.features, missing_r);
    return 0;
}

int libxlmig_cpu_host_from_info(libxlmig_ctx *ctx,
                                const libxlmig_host_info *info,
                                const char *name, libxlmig_cpu_host *host_r)
{
    libxlmig_cpu_host h;
    char field[LABEL_MAX + 16], label[LABEL_MAX];
    int rc;

    if (!info || !host_r) {
        return xlmig__error_opt(ctx, LIBXLMIG_ERR_INVALID_ARGUMENT,
                                "libxlmig_cpu_host_from_info: no host facts "
                                "given");
    }
    memset(&h, 0, sizeof(h));
    h.name = name;
    snprintf(field, sizeof(field), "CPU vendor of %s",
             xlmig__host_label("host", name, XLMIG__NO_INDEX, label,
                               sizeof(label)));
    rc = libxlmig_cpu_vendor_parse(ctx, field, info->cpu_vendor, &h.vendor);
    if (rc)
        return rc;
    h.pv_max = info->featureset_pv_max;
    h.hvm_max = info->featureset_hvm_max;
    *host_r = h;
    return 0;
}

int libxlmig_vm_cpu_check(libxlmig_ctx *ctx, const char *vm_name,
                          const libxlmig_cpu_flags *vm,
                          libxlmig_guest_type type,
                          const libxlmig_cpu_host *dest,
                          libxlmig_featureset *missing_r)
{
    const libxlmig_featureset *max;
    libxlmig_featureset missing;
    char vl[LABEL_MAX], hl[LABEL_MAX], names[NAMES_MAX];
    const char *which;

    if (!vm || !dest ||
        (type != LIBXLMIG_GUEST_PV && type != LIBXLMIG_GUEST_HVM)) {
        return xlmig__error_opt(ctx, LIBXLMIG_ERR_INVALID_ARGUMENT,
                                "a VM CPU check needs the VM's CPU record, "
                                "its guest type and the destination");
    }
    xlmig__host_label("VM", vm_name, XLMIG__NO_INDEX, vl, sizeof(vl));
    xlmig__host_label("host", dest->name, XLMIG__NO_INDEX, hl, sizeof(hl));
    if (!vendor_known(vm->vendor)) {
        return xlmig__error_opt(ctx, LIBXLMIG_ERR_INVALID_ARGUMENT,
                                "%s has no recorded CPU vendor; it cannot be "
                                "checked against %s", vl, hl);
    }
    if (!vendor_known(dest->vendor)) {
        return xlmig__error_opt(ctx, LIBXLMIG_ERR_INVALID_ARGUMENT,
                                "%s has no known CPU vendor; read its facts "
                                "again", hl);
    }

    if (type == LIBXLMIG_GUEST_PV) {
        max = &dest->pv_max;
        which = "PV max featureset";
    } else {
        max = &dest->hvm_max;
        which = "HVM max featureset";
    }
    libxlmig_featureset_difference(&vm->features, max, &missing);
    if (missing_r)
        *missing_r = missing;

    if (vm->vendor != dest->vendor) {
        return xlmig__error_opt(
            ctx, LIBXLMIG_ERR_VM_INCOMPATIBLE_WITH_THIS_HOST,
            "%s cannot run on %s: %s has CPU vendor %s, VM booted on %s; a "
            "running VM cannot move to another CPU vendor",
            vl, hl, hl, libxlmig_cpu_vendor_string(dest->vendor),
            libxlmig_cpu_vendor_string(vm->vendor));
    }
    if (!libxlmig_featureset_is_empty(&missing)) {
        /* A list too long for the message ends in "...". */
        libxlmig_featureset_names(&missing, names, sizeof(names), NULL);
        return xlmig__error_opt(
            ctx, LIBXLMIG_ERR_VM_INCOMPATIBLE_WITH_THIS_HOST,
            "%s cannot run on %s: %s missing on %s (%s); choose a host "
            "whose CPU has them, or shut the VM down and start it there",
            vl, hl, names, hl, which);
    }
    return 0;
}

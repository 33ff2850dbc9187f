/* SPDX-License-Identifier: LGPL-2.1-only */
/*
 * A host's facts as named fields, shared by the CLIs' printers so that
 * every output form carries the same names in the same order.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>

#include "internal.h"

static void put(struct xlmig__kv *kv, size_t *n, const char *key,
                const char *fmt, ...) XLMIG__PRINTF(4, 5);

static void put(struct xlmig__kv *kv, size_t *n, const char *key,
                const char *fmt, ...)
{
    va_list ap;

    kv[*n].key = key;
    va_start(ap, fmt);
    vsnprintf(kv[*n].value, sizeof(kv[*n].value), fmt, ap);
    va_end(ap);
    (*n)++;
}

static void put_fs(struct xlmig__kv *kv, size_t *n, const char *key,
                   const libxlmig_featureset *fs)
{
    kv[*n].key = key;
    if (libxlmig_featureset_format(fs, kv[*n].value, sizeof(kv[*n].value)))
        xlmig__strlcpy(kv[*n].value, "(unreadable)", sizeof(kv[*n].value));
    (*n)++;
}

size_t xlmig__host_info_fields(const libxlmig_host_info *info,
                               struct xlmig__kv *kv)
{
    size_t n = 0;

    put(kv, &n, "xen-version", "%s", info->xen_version);
    put(kv, &n, "xen-major", "%d", info->xen_major);
    put(kv, &n, "xen-minor", "%d", info->xen_minor);
    put(kv, &n, "xen-capabilities", "%s", info->capabilities);
    put(kv, &n, "cpu-vendor", "%s", info->cpu_vendor);
    put(kv, &n, "nr-cpus", "%u", info->nr_cpus);
    put(kv, &n, "cpu-mhz", "%u", info->cpu_khz / 1000);
    put(kv, &n, "memory-total-kib", "%" PRIu64, info->total_memory_kib);
    put(kv, &n, "memory-free-kib", "%" PRIu64, info->free_memory_kib);
    put(kv, &n, "cap-hvm", "%s", info->cap_hvm ? "true" : "false");
    put(kv, &n, "cap-pv", "%s", info->cap_pv ? "true" : "false");
    put(kv, &n, "cap-hap", "%s", info->cap_hap ? "true" : "false");
    put(kv, &n, "cap-shadow", "%s", info->cap_shadow ? "true" : "false");
    put_fs(kv, &n, "featureset-host", &info->featureset_host);
    put_fs(kv, &n, "featureset-pv-max", &info->featureset_pv_max);
    put_fs(kv, &n, "featureset-hvm-max", &info->featureset_hvm_max);
    put_fs(kv, &n, "featureset-pv-default", &info->featureset_pv_def);
    put_fs(kv, &n, "featureset-hvm-default", &info->featureset_hvm_def);
    return n;
}

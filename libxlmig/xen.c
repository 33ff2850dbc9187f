/*
 * Host facts through libxl and libxc.
 *
 * Everything here needs a running Xen hypervisor.  Before opening
 * libxl we look for the privileged command interface ourselves, so that
 * an operator on a machine without Xen reads one clear sentence instead
 * of libxl's low-level complaints.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"
#include "xen-compat.h"

int xlmig__check_hypervisor(libxlmig_ctx *ctx)
{
    struct stat st;
    int fd;

    if (stat(ctx->privcmd_path, &st) < 0) {
        return xlmig__error(ctx, LIBXLMIG_ERR_NO_HYPERVISOR, -1,
                            "the Xen hypervisor is not available on this "
                            "machine (%s: %s); run this in the dom0 of a "
                            "Xen host, with the Xen toolstack started",
                            ctx->privcmd_path, strerror(errno));
    }
    fd = open(ctx->privcmd_path, O_RDWR | O_CLOEXEC);
    if (fd < 0) {
        int e = errno;

        if (e == EACCES || e == EPERM) {
            return xlmig__error(ctx, LIBXLMIG_ERR_PERMISSION_DENIED, e,
                                "cannot open %s; run as root in dom0",
                                ctx->privcmd_path);
        }
        return xlmig__error(ctx, LIBXLMIG_ERR_NO_HYPERVISOR, e,
                            "the Xen hypervisor is not available on this "
                            "machine (cannot open %s)", ctx->privcmd_path);
    }
    close(fd);
    return 0;
}

/* Read one of Xen's featuresets (XEN_SYSCTL_cpu_featureset_*). */
static int read_featureset(libxlmig_ctx *ctx, xc_interface *xch,
                           uint32_t index, const char *what,
                           libxlmig_featureset *fs)
{
    uint32_t nr = LIBXLMIG_FEATURESET_MAX_WORDS;

    memset(fs, 0, sizeof(*fs));
    if (xc_get_cpu_featureset(xch, index, &nr, fs->words)) {
        return xlmig__error(ctx, LIBXLMIG_ERR_XEN_CALL_FAILED, errno,
                            "xc_get_cpu_featureset(%s) failed", what);
    }
    fs->nr_words = nr;
    return 0;
}

/* The CPU vendor string from CPUID leaf 0 of Xen's host policy. */
static int read_vendor(libxlmig_ctx *ctx, xc_interface *xch,
                       char vendor[13])
{
    xc_cpu_policy_t *policy = NULL;
    xen_cpuid_leaf_t *leaves = NULL;
    uint32_t nr_leaves = 0, nr_msrs = 0, i;
    int rc;

    vendor[0] = '\0';
    policy = xc_cpu_policy_init();
    if (!policy) {
        rc = LIBXLMIG_ERR_NO_MEMORY;
        goto out;
    }
    if (xc_cpu_policy_get_system(xch, XEN_SYSCTL_cpu_policy_host, policy) ||
        xc_cpu_policy_get_size(xch, &nr_leaves, &nr_msrs)) {
        rc = xlmig__error(ctx, LIBXLMIG_ERR_XEN_CALL_FAILED, errno,
                          "cannot read Xen's host CPU policy");
        goto out;
    }
    leaves = xlmig__zalloc(sizeof(*leaves) * nr_leaves);
    if (!leaves) {
        rc = LIBXLMIG_ERR_NO_MEMORY;
        goto out;
    }
    nr_msrs = 0;
    if (xc_cpu_policy_serialise(xch, policy, leaves, &nr_leaves, NULL,
                                &nr_msrs)) {
        rc = xlmig__error(ctx, LIBXLMIG_ERR_XEN_CALL_FAILED, errno,
                          "cannot serialise Xen's host CPU policy");
        goto out;
    }
    for (i = 0; i < nr_leaves; i++) {
        if (leaves[i].leaf == 0 && leaves[i].subleaf == XEN_CPUID_NO_SUBLEAF) {
            memcpy(vendor, &leaves[i].b, 4);
            memcpy(vendor + 4, &leaves[i].d, 4);
            memcpy(vendor + 8, &leaves[i].c, 4);
            vendor[12] = '\0';
            break;
        }
    }
    rc = 0;
 out:
    free(leaves);
    xc_cpu_policy_destroy(policy);
    return rc;
}

int libxlmig_host_info_get(libxlmig_ctx *ctx, libxlmig_host_info *info_r)
{
    libxlmig_host_info info;
    libxl_ctx *lctx = NULL;
    xc_interface *xch = NULL;
    libxl_physinfo phys;
    const libxl_version_info *ver;
    uint64_t page_kib;
    int rc, r;

    libxl_physinfo_init(&phys);
    memset(&info, 0, sizeof(info));

    if (!ctx || !info_r) {
        rc = LIBXLMIG_ERR_INVALID_ARGUMENT;
        goto out;
    }
    rc = xlmig__check_hypervisor(ctx);
    if (rc) goto out;

    r = libxl_ctx_alloc(&lctx, LIBXL_VERSION, 0, ctx->logger);
    if (r) {
        lctx = NULL;
        rc = xlmig__error(ctx, LIBXLMIG_ERR_XEN_CALL_FAILED, -1,
                          "cannot open libxl (libxl error %d); is the Xen "
                          "toolstack (xenstored) running?", r);
        goto out;
    }

    ver = libxl_get_version_info(lctx);
    if (!ver) {
        rc = xlmig__error(ctx, LIBXLMIG_ERR_XEN_CALL_FAILED, -1,
                          "libxl could not read Xen's version");
        goto out;
    }
    info.xen_major = ver->xen_version_major;
    info.xen_minor = ver->xen_version_minor;
    xlmig__strlcpy(info.xen_extra, ver->xen_version_extra,
                   sizeof(info.xen_extra));
    snprintf(info.xen_version, sizeof(info.xen_version), "%d.%d%s",
             info.xen_major, info.xen_minor, info.xen_extra);
    xlmig__strlcpy(info.capabilities, ver->capabilities,
                   sizeof(info.capabilities));

    r = libxl_get_physinfo(lctx, &phys);
    if (r) {
        rc = xlmig__error(ctx, LIBXLMIG_ERR_XEN_CALL_FAILED, -1,
                          "libxl could not read the host's physical "
                          "facts (libxl error %d)", r);
        goto out;
    }
    page_kib = (uint64_t)(ver->pagesize > 0 ? ver->pagesize : 4096) / 1024;
    info.nr_cpus = phys.nr_cpus;
    info.cpu_khz = phys.cpu_khz;
    info.total_memory_kib = phys.total_pages * page_kib;
    info.free_memory_kib = phys.free_pages * page_kib;
    info.cap_hvm = phys.cap_hvm;
    info.cap_pv = phys.cap_pv;
    info.cap_hap = phys.cap_hap;
    info.cap_shadow = phys.cap_shadow;

    xch = xc_interface_open(ctx->logger, ctx->logger, 0);
    if (!xch) {
        rc = xlmig__error(ctx, LIBXLMIG_ERR_XEN_CALL_FAILED, errno,
                          "cannot open libxc");
        goto out;
    }
    {
        const struct {
            uint32_t index;
            const char *what;
            libxlmig_featureset *fs;
        } sets[] = {
            { XEN_SYSCTL_cpu_featureset_host, "host", &info.featureset_host },
            { XEN_SYSCTL_cpu_featureset_pv_max, "pv_max",
              &info.featureset_pv_max },
            { XEN_SYSCTL_cpu_featureset_hvm_max, "hvm_max",
              &info.featureset_hvm_max },
            { XEN_SYSCTL_cpu_featureset_pv, "pv_default",
              &info.featureset_pv_def },
            { XEN_SYSCTL_cpu_featureset_hvm, "hvm_default",
              &info.featureset_hvm_def },
        };
        size_t i;

        for (i = 0; i < sizeof(sets) / sizeof(sets[0]); i++) {
            rc = read_featureset(ctx, xch, sets[i].index, sets[i].what,
                                 sets[i].fs);
            if (rc) goto out;
        }
    }
    rc = read_vendor(ctx, xch, info.cpu_vendor);
    if (rc) goto out;

    *info_r = info;
    rc = 0;
 out:
    if (xch)
        xc_interface_close(xch);
    libxl_physinfo_dispose(&phys);
    if (lctx)
        libxl_ctx_free(lctx);
    return rc;
}

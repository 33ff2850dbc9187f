/* SPDX-License-Identifier: LGPL-2.1-only */
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
#include <time.h>
#include <unistd.h>

#include "cpurecord.h"
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

/*
 * libxl's child processes (the save helper) are reaped by libxl, ours
 * (qemu-img, qemu-nbd, the workers) by us, each by its own pid.  libxl's
 * default (libxl_sigchld_owner_libxl) reaps any child while a call of it
 * runs, and requires that the process has no other children then: a
 * worker saving a domain in one thread while another runs qemu-img
 * would lose that child's status.  So libxl reaps only its own.
 */
static const libxl_childproc_hooks childproc_hooks = {
    .chldowner = libxl_sigchld_owner_libxl_always_selective_reap,
};

int xlmig__libxl_open(libxlmig_ctx *ctx, libxl_ctx **lctx_r)
{
    int r = libxl_ctx_alloc(lctx_r, LIBXL_VERSION, 0, ctx->logger);

    if (r) {
        *lctx_r = NULL;
        return xlmig__error(ctx, LIBXLMIG_ERR_XEN_CALL_FAILED, -1,
                            "cannot open libxl (libxl error %d); is the Xen "
                            "toolstack (xenstored) running?", r);
    }
    libxl_childproc_setmode(*lctx_r, &childproc_hooks, NULL);
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

/*
 * The CPUID leaves of a CPU policy: Xen's host policy (@domid < 0) or
 * that of domain @domid.  *leaves_r is malloc'd.
 */
static int policy_leaves(libxlmig_ctx *ctx, xc_interface *xch, long domid,
                         const char *what, xen_cpuid_leaf_t **leaves_r,
                         uint32_t *nr_r)
{
    xc_cpu_policy_t *policy = NULL;
    xen_cpuid_leaf_t *leaves = NULL;
    uint32_t nr_leaves = 0, nr_msrs = 0;
    int rc;

    policy = xc_cpu_policy_init();
    if (!policy)
        return LIBXLMIG_ERR_NO_MEMORY;
    if ((domid < 0 ? xc_cpu_policy_get_system(xch, XEN_SYSCTL_cpu_policy_host,
                                              policy)
                   : xc_cpu_policy_get_domain(xch, (uint32_t)domid, policy)) ||
        xc_cpu_policy_get_size(xch, &nr_leaves, &nr_msrs)) {
        rc = xlmig__error(ctx, LIBXLMIG_ERR_XEN_CALL_FAILED, errno,
                          "cannot read the CPU policy of %s", what);
        goto out;
    }
    leaves = xlmig__zalloc(sizeof(*leaves) * (nr_leaves ? nr_leaves : 1));
    if (!leaves) {
        rc = LIBXLMIG_ERR_NO_MEMORY;
        goto out;
    }
    nr_msrs = 0;
    if (xc_cpu_policy_serialise(xch, policy, leaves, &nr_leaves, NULL,
                                &nr_msrs)) {
        rc = xlmig__error(ctx, LIBXLMIG_ERR_XEN_CALL_FAILED, errno,
                          "cannot serialise the CPU policy of %s", what);
        goto out;
    }
    *leaves_r = leaves;
    *nr_r = nr_leaves;
    leaves = NULL;
    rc = 0;
 out:
    free(leaves);
    xc_cpu_policy_destroy(policy);
    return rc;
}

/* Bits of featureset word 2 that mirror word 0 on AMD (see below). */
#define COMMON_1D_FEATURES 0x0183f3ffu  /* fpu..apic, mtrr..pse36, mmx, fxsr */

/* The leaf's registers, or zeros when the policy does not have it. */
static const xen_cpuid_leaf_t *find_leaf(const xen_cpuid_leaf_t *leaves,
                                         uint32_t nr, uint32_t leaf,
                                         uint32_t subleaf)
{
    static const xen_cpuid_leaf_t zero;
    uint32_t i;

    for (i = 0; i < nr; i++) {
        if (leaves[i].leaf == leaf &&
            (leaves[i].subleaf == subleaf ||
             leaves[i].subleaf == XEN_CPUID_NO_SUBLEAF))
            return &leaves[i];
    }
    return &zero;
}

/* CPUID leaf 0's vendor string. */
static void leaves_vendor(const xen_cpuid_leaf_t *leaves, uint32_t nr,
                          char vendor[13])
{
    const xen_cpuid_leaf_t *l0 = find_leaf(leaves, nr, 0, 0);

    memcpy(vendor, &l0->b, 4);
    memcpy(vendor + 4, &l0->d, 4);
    memcpy(vendor + 8, &l0->c, 4);
    vendor[12] = '\0';
}

/*
 * The featureset of a policy: each word is one CPUID register, in the
 * order of Xen's cpufeatureset.h (x86_cpu_policy_to_featureset()).
 */
static void leaves_featureset(const xen_cpuid_leaf_t *leaves, uint32_t nr,
                              libxlmig_featureset *fs)
{
    static const struct {
        uint32_t leaf, subleaf;
        char reg;
    } words[] = {
        { 1, 0, 'd' }, { 1, 0, 'c' },
        { 0x80000001u, 0, 'd' }, { 0x80000001u, 0, 'c' },
        { 0xd, 1, 'a' },
        { 7, 0, 'b' }, { 7, 0, 'c' },
        { 0x80000007u, 0, 'd' }, { 0x80000008u, 0, 'b' },
        { 7, 0, 'd' }, { 7, 1, 'a' },
        { 0x80000021u, 0, 'a' },
        { 7, 1, 'b' }, { 7, 2, 'd' },
    };
    size_t i;

    memset(fs, 0, sizeof(*fs));
    for (i = 0; i < sizeof(words) / sizeof(words[0]); i++) {
        const xen_cpuid_leaf_t *l = find_leaf(leaves, nr, words[i].leaf,
                                              words[i].subleaf);

        fs->words[i] = words[i].reg == 'a' ? l->a
                     : words[i].reg == 'b' ? l->b
                     : words[i].reg == 'c' ? l->c : l->d;
    }
    fs->nr_words = (unsigned int)i;
    /*
     * On AMD, CPUID 0x80000001 EDX repeats 18 features of leaf 1 EDX
     * (fpu ... fxsr), and a domain's policy has them there.  Xen's
     * featuresets keep them in word 0 only (CPUID_COMMON_1D_FEATURES in
     * xen/lib/x86): clear them from word 2, or a VM's record would seem
     * to have features no host offers.
     */
    fs->words[2] &= ~COMMON_1D_FEATURES;
}

/* The CPU vendor string from CPUID leaf 0 of Xen's host policy. */
static int read_vendor(libxlmig_ctx *ctx, xc_interface *xch,
                       char vendor[13])
{
    xen_cpuid_leaf_t *leaves = NULL;
    uint32_t nr = 0;
    int rc;

    vendor[0] = '\0';
    rc = policy_leaves(ctx, xch, -1, "the host", &leaves, &nr);
    if (rc)
        return rc;
    leaves_vendor(leaves, nr, vendor);
    free(leaves);
    return 0;
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

    rc = xlmig__libxl_open(ctx, &lctx);
    if (rc) goto out;

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

int xlmig__dom_cpu_read(libxlmig_ctx *ctx, uint32_t domid, const char *what,
                        libxlmig_cpu_flags *cpu_r)
{
    xc_interface *xch = NULL;
    xen_cpuid_leaf_t *leaves = NULL;
    libxlmig_cpu_flags cpu;
    uint32_t nr = 0;
    char vendor[13];
    int rc;

    memset(&cpu, 0, sizeof(cpu));
    xch = xc_interface_open(ctx->logger, ctx->logger, 0);
    if (!xch)
        return xlmig__error(ctx, LIBXLMIG_ERR_XEN_CALL_FAILED, errno,
                            "cannot open libxc");
    rc = policy_leaves(ctx, xch, domid, what, &leaves, &nr);
    if (rc) goto out;
    leaves_vendor(leaves, nr, vendor);
    leaves_featureset(leaves, nr, &cpu.features);
    rc = libxlmig_cpu_vendor_parse(ctx, what, vendor, &cpu.vendor);
    if (rc) goto out;
    *cpu_r = cpu;
 out:
    free(leaves);
    xc_interface_close(xch);
    return rc;
}

int xlmig__vm_cpu_read(libxlmig_ctx *ctx, const char *vm,
                       struct xlmig__vm_record *r)
{
    struct xlmig__vm_record rec;
    libxl_ctx *lctx = NULL;
    libxl_dominfo dinfo;
    uint32_t domid;
    char what[128], *name = NULL;
    int rc;

    libxl_dominfo_init(&dinfo);
    memset(&rec, 0, sizeof(rec));
    rc = xlmig__check_hypervisor(ctx);
    if (rc) goto out;
    rc = xlmig__libxl_open(ctx, &lctx);
    if (rc) goto out;
    if (libxl_name_to_domid(lctx, vm, &domid) ||
        libxl_domain_info(lctx, &dinfo, domid)) {
        rc = xlmig__error(ctx, LIBXLMIG_ERR_NOT_FOUND, -1,
                          "VM %s is not running on this host (`xl list` "
                          "does not show it)", vm);
        goto out;
    }
    name = libxl_domid_to_name(lctx, domid);
    xlmig__strlcpy(rec.name, name ? name : vm, sizeof(rec.name));
    snprintf(rec.uuid, sizeof(rec.uuid), LIBXL_UUID_FMT,
             LIBXL_UUID_BYTES(dinfo.uuid));
    rec.type = dinfo.domain_type == LIBXL_DOMAIN_TYPE_PV ? LIBXLMIG_GUEST_PV
                                                         : LIBXLMIG_GUEST_HVM;
    snprintf(what, sizeof(what), "VM %s (domain %u)", vm, domid);
    rc = xlmig__dom_cpu_read(ctx, domid, what, &rec.cpu);
    if (rc) goto out;
    if (gethostname(rec.host, sizeof(rec.host)) < 0)
        xlmig__strlcpy(rec.host, "unknown", sizeof(rec.host));
    rec.host[sizeof(rec.host) - 1] = '\0';
    rec.recorded = (int64_t)time(NULL);
    *r = rec;
    rc = 0;
 out:
    free(name);
    libxl_dominfo_dispose(&dinfo);
    if (lctx)
        libxl_ctx_free(lctx);
    return rc;
}

/* SPDX-License-Identifier: LGPL-2.1-only */
/*
 * The checks before a vm-migrate (migrate-check.h).
 */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"
#include "jsonfile.h"
#include "migrate-check.h"
#include "pool-client.h"
#include "poolconf.h"
#include "units.h"
#include "rpc.h"
#include "sxm-preflight.h"

/* ------------------------------------------------------------ collect */

static void collect_vmessage(xentoollog_logger *l, xentoollog_level level,
                             int errnoval, const char *context,
                             const char *format, va_list al)
    __attribute__((format(printf, 5, 0)));
static void collect_vmessage(xentoollog_logger *l, xentoollog_level level,
                             int errnoval, const char *context,
                             const char *format, va_list al)
{
    struct xlmig__collect *c = (struct xlmig__collect *)l;
    va_list copy;

    if (level >= XTL_ERROR && c->n < XLMIG__COLLECT_MAX) {
        va_copy(copy, al);
        vsnprintf(c->msgs[c->n], sizeof(c->msgs[c->n]), format, copy);
        va_end(copy);
        c->n++;
    }
    if (c->next)
        c->next->vmessage(c->next, level, errnoval, context, format, al);
}

static void collect_progress(xentoollog_logger *l, const char *context,
                             const char *doing, int percent,
                             unsigned long done, unsigned long total)
{
    struct xlmig__collect *c = (struct xlmig__collect *)l;

    if (c->next && c->next->progress)
        c->next->progress(c->next, context, doing, percent, done, total);
}

static void collect_destroy(xentoollog_logger *l)
{
    (void)l;
}

void xlmig__collect_init(struct xlmig__collect *c, xentoollog_logger *next)
{
    memset(c, 0, sizeof(*c));
    c->vtable.vmessage = collect_vmessage;
    c->vtable.progress = collect_progress;
    c->vtable.destroy = collect_destroy;
    c->next = next;
}

/* ------------------------------------------------------------ facts */

static void bridges_read(struct xlmig__host_facts *f)
{
    const char *env = getenv("XLMIG_BRIDGES");
    struct dirent *e;
    DIR *d;

    f->nr_bridges = 0;
    if (env) {
        char buf[1024], *save = NULL, *tok;

        xlmig__strlcpy(buf, env, sizeof(buf));
        for (tok = strtok_r(buf, ",", &save);
             tok && f->nr_bridges < XLMIG__FACTS_BRIDGES_MAX;
             tok = strtok_r(NULL, ",", &save))
            xlmig__strlcpy(f->bridges[f->nr_bridges++], tok,
                           sizeof(f->bridges[0]));
        return;
    }
    d = opendir("/sys/class/net");
    if (!d)
        return;
    while ((e = readdir(d)) && f->nr_bridges < XLMIG__FACTS_BRIDGES_MAX) {
        char path[512];

        if (e->d_name[0] == '.' ||
            strlen(e->d_name) > XLMIG__VMCFG_BRIDGE_MAX)
            continue;
        snprintf(path, sizeof(path), "/sys/class/net/%s/bridge", e->d_name);
        if (!access(path, F_OK))
            xlmig__strlcpy(f->bridges[f->nr_bridges++], e->d_name,
                           sizeof(f->bridges[0]));
    }
    closedir(d);
}

int xlmig__host_facts_local(libxlmig_ctx *ctx, const char *name,
                            const libxlmig_host_info *info,
                            const char *state_dir,
                            struct xlmig__host_facts *f)
{
    struct xlmig__sr *srs = NULL;
    size_t nr = 0, i;
    int rc;

    memset(f, 0, sizeof(*f));
    xlmig__strlcpy(f->name, name, sizeof(f->name));
    f->xen_major = info->xen_major;
    f->xen_minor = info->xen_minor;
    xlmig__strlcpy(f->xen_version, info->xen_version,
                   sizeof(f->xen_version));
    xlmig__strlcpy(f->version, libxlmig_version(), sizeof(f->version));
    f->nr_cpus = info->nr_cpus;
    f->free_memory_kib = info->free_memory_kib;
    (void)libxlmig_cpu_vendor_parse(NULL, NULL, info->cpu_vendor,
                                    &f->vendor);
    f->pv_max = info->featureset_pv_max;
    f->hvm_max = info->featureset_hvm_max;
    rc = xlmig__sr_list(ctx, state_dir, &srs, &nr);
    if (rc)
        return rc;
    for (i = 0; i < nr && f->nr_srs < XLMIG__FACTS_SRS_MAX; i++) {
        struct xlmig__sr_space sp;

        if (xlmig__sr_space(ctx, &srs[i], &sp))
            sp.free_space = 0;
        xlmig__strlcpy(f->srs[f->nr_srs].uuid, srs[i].uuid,
                       sizeof(f->srs[0].uuid));
        xlmig__strlcpy(f->srs[f->nr_srs].name, srs[i].name,
                       sizeof(f->srs[0].name));
        f->srs[f->nr_srs].caps = srs[i].caps;
        f->srs[f->nr_srs].free_space = sp.free_space;
        f->nr_srs++;
    }
    free(srs);
    bridges_read(f);
    return 0;
}

#define GS(g, s) \
    (yajl_gen_string((g), (const unsigned char *)(s), strlen(s)) == \
     yajl_gen_status_ok)

static bool gkv(yajl_gen g, const char *k, const char *v)
{
    return GS(g, k) && GS(g, v);
}

/* As its own text: yajl_gen_integer() would write one over INT64_MAX < 0. */
static bool gki(yajl_gen g, const char *k, uint64_t v)
{
    char num[24];
    int n = snprintf(num, sizeof(num), "%" PRIu64, v);

    return GS(g, k) &&
           yajl_gen_number(g, num, (size_t)n) == yajl_gen_status_ok;
}

bool xlmig__host_facts_gen(yajl_gen g, const struct xlmig__host_facts *f)
{
    char pv[LIBXLMIG_FEATURESET_STRING_MAX];
    char hvm[LIBXLMIG_FEATURESET_STRING_MAX];
    const char *vendor = libxlmig_cpu_vendor_string(f->vendor);
    size_t i;
    bool ok;

    if (libxlmig_featureset_format(&f->pv_max, pv, sizeof(pv)) ||
        libxlmig_featureset_format(&f->hvm_max, hvm, sizeof(hvm)))
        return false;
    ok = yajl_gen_map_open(g) == yajl_gen_status_ok &&
         gkv(g, "name", f->name) && gki(g, "xen_major", (uint64_t)f->xen_major)
         && gki(g, "xen_minor", (uint64_t)f->xen_minor) &&
         gkv(g, "xen_version", f->xen_version) &&
         gkv(g, "version", f->version) && gki(g, "nr_cpus", f->nr_cpus) &&
         gki(g, "free_memory_kib", f->free_memory_kib) &&
         gkv(g, "vendor", vendor ? vendor : "") && gkv(g, "pv_max", pv) &&
         gkv(g, "hvm_max", hvm) && GS(g, "srs") &&
         yajl_gen_array_open(g) == yajl_gen_status_ok;
    for (i = 0; ok && i < f->nr_srs; i++)
        ok = yajl_gen_map_open(g) == yajl_gen_status_ok &&
             gkv(g, "uuid", f->srs[i].uuid) && gkv(g, "name", f->srs[i].name) &&
             gki(g, "caps", f->srs[i].caps) &&
             gki(g, "free_space", f->srs[i].free_space) &&
             yajl_gen_map_close(g) == yajl_gen_status_ok;
    ok = ok && yajl_gen_array_close(g) == yajl_gen_status_ok &&
         GS(g, "bridges") && yajl_gen_array_open(g) == yajl_gen_status_ok;
    for (i = 0; ok && i < f->nr_bridges; i++)
        ok = GS(g, f->bridges[i]);
    return ok && yajl_gen_array_close(g) == yajl_gen_status_ok &&
           yajl_gen_map_close(g) == yajl_gen_status_ok;
}

static bool dstr(yajl_val o, const char *k, char *buf, size_t cap,
                 bool empty_ok)
{
    const char *s = xlmig__rpc_get_str(o, k);

    if (!s || strlen(s) >= cap || (!empty_ok && !*s))
        return false;
    memcpy(buf, s, strlen(s) + 1);
    return true;
}

int xlmig__host_facts_decode(yajl_val v, struct xlmig__host_facts *out,
                             char *why, size_t why_len)
{
    struct xlmig__host_facts *f = xlmig__zalloc(sizeof(*f));
    char pv[LIBXLMIG_FEATURESET_STRING_MAX + 1];
    char hvm[LIBXLMIG_FEATURESET_STRING_MAX + 1], vendor[16];
    uint64_t u;
    yajl_val a;
    size_t i;
    const char *bad = NULL;

    if (!f)
        return LIBXLMIG_ERR_NO_MEMORY;
    if (!YAJL_IS_OBJECT(v)) {
        bad = "the host's facts are not an object";
        goto out;
    }
    if (!dstr(v, "name", f->name, sizeof(f->name), false) ||
        !dstr(v, "xen_version", f->xen_version, sizeof(f->xen_version),
              false) ||
        !dstr(v, "version", f->version, sizeof(f->version), false) ||
        !dstr(v, "vendor", vendor, sizeof(vendor), true) ||
        !dstr(v, "pv_max", pv, sizeof(pv), true) ||
        !dstr(v, "hvm_max", hvm, sizeof(hvm), true)) {
        bad = "a string member of the host's facts is missing or too long";
        goto out;
    }
    if (xlmig__rpc_get_uint(v, "xen_major", &u) || u > 1000) {
        bad = "xen_major is missing or out of range";
        goto out;
    }
    f->xen_major = (int)u;
    if (xlmig__rpc_get_uint(v, "xen_minor", &u) || u > 1000) {
        bad = "xen_minor is missing or out of range";
        goto out;
    }
    f->xen_minor = (int)u;
    if (xlmig__rpc_get_uint(v, "nr_cpus", &u) || u > 65536) {
        bad = "nr_cpus is missing or out of range";
        goto out;
    }
    f->nr_cpus = (unsigned int)u;
    if (xlmig__rpc_get_uint(v, "free_memory_kib", &f->free_memory_kib)) {
        bad = "free_memory_kib is missing";
        goto out;
    }
    if ((vendor[0] &&
         libxlmig_cpu_vendor_parse(NULL, NULL, vendor, &f->vendor)) ||
        libxlmig_featureset_parse(NULL, NULL, pv, &f->pv_max) ||
        libxlmig_featureset_parse(NULL, NULL, hvm, &f->hvm_max)) {
        bad = "the host's CPU vendor or featuresets do not parse";
        goto out;
    }
    a = xlmig__rpc_get(v, "srs");
    if (!YAJL_IS_ARRAY(a) || a->u.array.len > XLMIG__FACTS_SRS_MAX) {
        bad = "srs is not an array of at most 64";
        goto out;
    }
    for (i = 0; i < a->u.array.len; i++) {
        yajl_val o = a->u.array.values[i];

        if (!dstr(o, "uuid", f->srs[i].uuid, sizeof(f->srs[i].uuid), false) ||
            !xlmig__uuid_ok(f->srs[i].uuid) ||
            !dstr(o, "name", f->srs[i].name, sizeof(f->srs[i].name), false) ||
            xlmig__rpc_get_uint(o, "caps", &u) || u > XLMIG__SR_CAPS_ALL ||
            xlmig__rpc_get_uint(o, "free_space", &f->srs[i].free_space)) {
            bad = "an SR of the host's facts is malformed";
            goto out;
        }
        f->srs[i].caps = (unsigned int)u;
    }
    f->nr_srs = a->u.array.len;
    a = xlmig__rpc_get(v, "bridges");
    if (!YAJL_IS_ARRAY(a) || a->u.array.len > XLMIG__FACTS_BRIDGES_MAX) {
        bad = "bridges is not an array of at most 32";
        goto out;
    }
    for (i = 0; i < a->u.array.len; i++) {
        yajl_val s = a->u.array.values[i];

        if (!YAJL_IS_STRING(s) || !*s->u.string ||
            strlen(s->u.string) > XLMIG__VMCFG_BRIDGE_MAX) {
            bad = "a bridge name is malformed";
            goto out;
        }
        xlmig__strlcpy(f->bridges[i], s->u.string, sizeof(f->bridges[i]));
    }
    f->nr_bridges = a->u.array.len;
    *out = *f;
 out:
    free(f);
    if (bad && why)
        snprintf(why, why_len, "%s", bad);
    return bad ? LIBXLMIG_ERR_PROTOCOL : 0;
}

int xlmig__host_facts_sr(const struct xlmig__host_facts *f, const char *which)
{
    size_t i;
    int found = -1;

    for (i = 0; i < f->nr_srs; i++) {
        if (!strcmp(f->srs[i].uuid, which))
            return (int)i;
    }
    for (i = 0; i < f->nr_srs; i++) {
        if (!strcmp(f->srs[i].name, which)) {
            if (found >= 0)
                return -2;      /* two of that name */
            found = (int)i;
        }
    }
    return found;
}

/* ------------------------------------------------------------ checks */

static void check_cpu(libxlmig_ctx *ctx, const struct xlmig__mig_plan *p,
                      const struct xlmig__host_facts *dst,
                      const libxlmig_cpu_flags *level, unsigned int *n)
{
    libxlmig_cpu_host h;
    libxlmig_ctx *quiet = NULL;
    int rc;

    if (!p->running || !p->has_cpu)
        return;             /* xapi skips halted VMs */
    memset(&h, 0, sizeof(h));
    h.name = dst->name;
    h.vendor = dst->vendor;
    h.pv_max = dst->pv_max;
    h.hvm_max = dst->hvm_max;
    if (p->force &&
        libxlmig_ctx_new(NULL, LIBXLMIG_LOG_CRITICAL, &quiet) == 0) {
        rc = libxlmig_vm_cpu_check(quiet, p->vm, &p->cpu, p->type, &h, NULL);
        if (rc)
            xlmig__log(ctx, XTL_WARN, -1, "force=true: going on although "
                       "%s", libxlmig_ctx_last_error(quiet));
    } else {
        rc = libxlmig_vm_cpu_check(ctx, p->vm, &p->cpu, p->type, &h, NULL);
        *n += rc != 0;
    }
    if (level) {
        char name[120];

        snprintf(name, sizeof(name), "%s's pool level", dst->name);
        h.name = name;
        h.vendor = level->vendor;
        h.pv_max = level->features;
        h.hvm_max = level->features;
        if (p->force && quiet) {
            rc = libxlmig_vm_cpu_check(quiet, p->vm, &p->cpu, p->type, &h,
                                       NULL);
            if (rc)
                xlmig__log(ctx, XTL_WARN, -1, "force=true: going on although "
                           "%s", libxlmig_ctx_last_error(quiet));
        } else if (!p->force) {
            *n += libxlmig_vm_cpu_check(ctx, p->vm, &p->cpu, p->type, &h,
                                        NULL) != 0;
        }
    }
    libxlmig_ctx_free(quiet);
}

static bool pci_is_vf(const struct xlmig__vmcfg_pci *d)
{
    char path[128];

    snprintf(path, sizeof(path), "/sys/bus/pci/devices/%04x:%02x:%02x.%x/"
             "physfn", d->domain, d->bus, d->dev, d->func);
    return access(path, F_OK) == 0;
}

static void check_vm(libxlmig_ctx *ctx, const struct xlmig__mig_plan *p,
                     unsigned int *n)
{
    const struct xlmig__vmcfg *c = &p->cfg;
    size_t i, vfs = 0;

    for (i = 0; i < c->nr_pcidevs; i++)
        vfs += pci_is_vf(&c->pcidevs[i]);
    if (vfs) {
        xlmig__error(ctx, LIBXLMIG_ERR_VM_HAS_SRIOV_VIF, -1, "VM %s has %zu "
                     "SR-IOV virtual function(s) passed through; detach "
                     "them first", p->vm, vfs);
        (*n)++;
    }
    if (c->nr_pcidevs > vfs) {
        xlmig__error(ctx, LIBXLMIG_ERR_VM_HAS_PCI_ATTACHED, -1, "VM %s has "
                     "%zu PCI device(s) passed through; detach them "
                     "(xl pci-detach) first", p->vm, c->nr_pcidevs - vfs);
        (*n)++;
    }
    if (c->gfx_passthru) {
        xlmig__error(ctx, LIBXLMIG_ERR_VM_HAS_VGPU, -1, "VM %s has a "
                     "graphics card passed through (gfx_passthru)", p->vm);
        (*n)++;
    }
    if (c->nr_usbctrls || c->nr_usbdevs) {
        xlmig__error(ctx, LIBXLMIG_ERR_VM_HAS_VUSBS, -1, "VM %s has USB "
                     "controllers or devices (%zu, %zu); detach them first",
                     p->vm, c->nr_usbctrls, c->nr_usbdevs);
        (*n)++;
    }
    if (c->nested_hvm && p->running) {
        xlmig__error(ctx, LIBXLMIG_ERR_VM_IS_USING_NESTED_VIRT, -1, "VM %s "
                     "runs with nested virtualisation (nestedhvm); migrate "
                     "it halted", p->vm);
        (*n)++;
    }
}

int xlmig__mig_host_disabled(libxlmig_ctx *ctx, const char *host,
                             const char *vm, const char *verb)
{
    return xlmig__error(ctx, LIBXLMIG_ERR_HOST_DISABLED, -1, "host %s is "
                        "disabled (maintenance): VM %s may not %s there; "
                        "run 'xlmig-xe host-enable host=%s' first, or "
                        "choose another host", host, vm, verb, host);
}

static void check_host(libxlmig_ctx *ctx, const struct xlmig__mig_plan *p,
                       const struct xlmig__host_facts *src,
                       const struct xlmig__host_facts *dst, unsigned int *n)
{
    if (p->dst_disabled) {
        (void)xlmig__mig_host_disabled(ctx, dst->name, p->vm, "arrive");
        (*n)++;
    }
    if (dst->xen_major < src->xen_major ||
        (dst->xen_major == src->xen_major &&
         dst->xen_minor < src->xen_minor) ||
        xlmig__version_cmp(dst->xen_version, src->xen_version) < 0) {
        xlmig__error(ctx, LIBXLMIG_ERR_VM_HOST_INCOMPATIBLE_VERSION_MIGRATE,
                     -1, "host %s runs Xen %s, older than Xen %s of host %s; "
                     "upgrade %s first", dst->name, dst->xen_version,
                     src->xen_version, src->name, dst->name);
        (*n)++;
    }
    if (xlmig__version_cmp(dst->version, src->version) < 0) {
        xlmig__error(ctx, LIBXLMIG_ERR_VM_HOST_INCOMPATIBLE_VERSION_MIGRATE,
                     -1, "host %s runs libxlmig %s, older than %s of host "
                     "%s; upgrade %s first", dst->name, dst->version,
                     src->version, src->name, dst->name);
        (*n)++;
    }
    if (p->running && dst->free_memory_kib < p->memory_kib) {
        xlmig__error(ctx, LIBXLMIG_ERR_HOST_NOT_ENOUGH_FREE_MEMORY, -1,
                     "VM %s needs %" PRIu64 " MiB; host %s has %" PRIu64
                     " MiB free", p->vm, p->memory_kib / 1024, dst->name,
                     dst->free_memory_kib / 1024);
        (*n)++;
    }
    if (p->running && dst->nr_cpus < p->vcpus) {
        xlmig__error(ctx, LIBXLMIG_ERR_HOST_NOT_ENOUGH_PCPUS, -1, "VM %s has "
                     "%u vCPUs; host %s has %u physical CPUs", p->vm,
                     p->vcpus, dst->name, dst->nr_cpus);
        (*n)++;
    }
}

static const struct xlmig__mig_vdi *plan_vdi(const struct xlmig__mig_plan *p,
                                             const char *vdev)
{
    size_t i;

    for (i = 0; i < p->nr_vdis; i++) {
        if (!strcmp(p->vdis[i].vdev, vdev))
            return &p->vdis[i];
    }
    return NULL;
}

static void check_disk(libxlmig_ctx *ctx, const char *state_dir,
                       const struct xlmig__mig_plan *p,
                       const struct xlmig__vmcfg_disk *dk,
                       const struct xlmig__host_facts *dst, unsigned int *n)
{
    const struct xlmig__mig_vdi *v = plan_vdi(p, dk->vdev);
    struct xlmig__sr sr, dsr;
    struct xlmig__vdi vdi;
    struct xlmig__sr_space space, dspace;
    enum xlmig__vdi_format fmt;
    uint64_t virt, alloc;
    int i;

    if (!v) {
        xlmig__error(ctx, LIBXLMIG_ERR_HOST_CANNOT_SEE_SR, -1, "disk %s of "
                     "VM %s (%s) is in no SR of host %s; register its "
                     "directory as an SR (sr-create) to move it", dk->vdev,
                     p->vm, dk->path, dst->name[0] ? "this host" : "?");
        (*n)++;
        return;
    }
    if (xlmig__vdi_find(ctx, state_dir, v->vdi, &sr, &vdi)) {
        (*n)++;
        return;
    }
    if (!v->sr[0]) {
        if (xlmig__host_facts_sr(dst, sr.uuid) < 0) {
            xlmig__error(ctx, LIBXLMIG_ERR_VDI_NOT_IN_MAP, -1, "VDI %s (%s, "
                         "disk %s of VM %s) is on SR %s, which host %s does "
                         "not have; move it with vdi:%s=SR", vdi.uuid,
                         vdi.name, dk->vdev, p->vm, sr.name, dst->name,
                         vdi.uuid);
            (*n)++;
        }
        return;
    }
    i = xlmig__host_facts_sr(dst, v->sr);
    if (i < 0) {
        xlmig__error(ctx, LIBXLMIG_ERR_HOST_CANNOT_SEE_SR, -1, "host %s has "
                     "no SR %s for VDI %s (disk %s of VM %s)", dst->name,
                     v->sr, vdi.uuid, dk->vdev, p->vm);
        (*n)++;
        return;
    }
    memset(&dsr, 0, sizeof(dsr));
    xlmig__strlcpy(dsr.uuid, dst->srs[i].uuid, sizeof(dsr.uuid));
    xlmig__strlcpy(dsr.name, dst->srs[i].name, sizeof(dsr.name));
    dsr.caps = dst->srs[i].caps;
    memset(&dspace, 0, sizeof(dspace));
    dspace.free_space = dst->srs[i].free_space;
    fmt = !strcmp(v->format, "raw") ? XLMIG__VDI_RAW
          : !strcmp(v->format, "qcow2") ? XLMIG__VDI_QCOW2 : vdi.format;
    if (xlmig__vdi_sizes(ctx, &sr, &vdi, &virt, &alloc) ||
        xlmig__sr_space(ctx, &sr, &space)) {
        (*n)++;
        return;
    }
    /* Its own count: every failed check of the VDI is logged. */
    {
        struct xlmig__collect c;
        libxlmig_ctx *sub = NULL;

        xlmig__collect_init(&c, libxlmig_ctx_logger(ctx));
        if (libxlmig_ctx_new(&c.vtable, LIBXLMIG_LOG_ERROR, &sub)) {
            (*n)++;
            return;
        }
        (void)xlmig__sxm_preflight(sub, &sr, &space, &vdi, alloc, &dsr,
                                   &dspace, fmt, p->running, p->vm, NULL);
        *n += (unsigned int)c.n;
        libxlmig_ctx_free(sub);
    }
}

unsigned int xlmig__mig_check(libxlmig_ctx *ctx, const char *state_dir,
                              const struct xlmig__mig_plan *p,
                              const struct xlmig__host_facts *src,
                              const struct xlmig__host_facts *dst,
                              const libxlmig_cpu_flags *level)
{
    unsigned int n = 0;
    size_t i;

    check_cpu(ctx, p, dst, level, &n);
    check_host(ctx, p, src, dst, &n);
    check_vm(ctx, p, &n);
    for (i = 0; i < p->cfg.nr_disks; i++) {
        const struct xlmig__vmcfg_disk *dk = &p->cfg.disks[i];

        if (dk->cdrom || !dk->path[0])
            continue;
        check_disk(ctx, state_dir, p, dk, dst, &n);
    }
    for (i = 0; i < p->cfg.nr_nics; i++) {
        const char *br = p->cfg.nics[i].bridge;
        size_t k;

        for (k = 0; k < p->nr_nics; k++) {
            if (!strcmp(p->nics[k].mac, p->cfg.nics[i].mac))
                br = p->nics[k].bridge;
        }
        for (k = 0; br[0] && k < dst->nr_bridges; k++) {
            if (!strcmp(dst->bridges[k], br))
                break;
        }
        if (br[0] && k == dst->nr_bridges) {
            xlmig__error(ctx, LIBXLMIG_ERR_BRIDGE_NOT_AVAILABLE, -1, "host "
                         "%s has no bridge %s for VIF %s of VM %s; map it "
                         "with vif:%s=BRIDGE", dst->name, br,
                         p->cfg.nics[i].mac, p->vm, p->cfg.nics[i].mac);
            n++;
        }
    }
    return n;
}

int xlmig__host_facts_ask(libxlmig_ctx *ctx, const struct xlmig__pool_conf *pc,
                          const char *name, const char *addr,
                          struct xlmig__host_facts *f, bool *answered_r)
{
    struct xlmig__rpc_msg resp;
    char why[256];
    int rc;

    memset(&resp, 0, sizeof(resp));
    rc = xlmig__pool_call_once(ctx, pc, addr, "host.facts", NULL, &resp);
    if (answered_r)
        *answered_r = !rc || resp.is_error;
    if (!rc && xlmig__host_facts_decode(resp.result, f, why, sizeof(why)))
        rc = xlmig__error(ctx, LIBXLMIG_ERR_PROTOCOL, -1, "host %s: %s",
                          name, why);
    xlmig__rpc_msg_dispose(&resp);
    return rc;
}

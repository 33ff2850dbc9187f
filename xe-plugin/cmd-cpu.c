/* SPDX-License-Identifier: LGPL-2.1-only */
/*
 * xlmig-xe's CPU commands: host and pool CPU facts, VM boot records and
 * the migration check (docs/specs/featureset.md, cpu-records.md).
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "cpurecord.h"
#include "internal.h"
#include "jsonfile.h"
#include "xe-args.h"
#include "xe-cmd.h"

const char *const xe_keys_host_cpu_info[] = { "host", "cpuid", "state-dir",
                                              NULL };
const char *const xe_keys_host_cpu_record[] = { "host", "file", "state-dir",
                                                NULL };
const char *const xe_keys_host_cpu_import[] = { "file", "state-dir", NULL };
const char *const xe_keys_pool_cpu_info[] = { "host", "file", "state-dir",
                                              NULL };
const char *const xe_keys_vm_cpu_record[] = { "vm", "state-dir", NULL };
const char *const xe_keys_vm_cpu_check[] = { "vm", "host", "force",
                                             "records-only", "state-dir",
                                             NULL };

/* A context logging errors to stderr; NULL after saying why. */
static libxlmig_ctx *new_ctx(void)
{
    libxlmig_ctx *ctx = NULL;
    int rc = libxlmig_ctx_new(NULL, LIBXLMIG_LOG_ERROR, &ctx);

    if (rc) {
        fprintf(stderr, "%s: cannot create a libxlmig context\n",
                libxlmig_strerror_name(rc));
        return NULL;
    }
    return ctx;
}

/* xe's booleans: true/false (also yes/no, 1/0, on/off). */
static int get_bool(const struct xe_args *a, const char *key, bool *v)
{
    const char *s = xe_args_get(a, key);

    *v = false;
    if (!s)
        return 0;
    if (!strcasecmp(s, "true") || !strcasecmp(s, "yes") || !strcmp(s, "1") ||
        !strcasecmp(s, "on"))
        *v = true;
    else if (strcasecmp(s, "false") && strcasecmp(s, "no") &&
             strcmp(s, "0") && strcasecmp(s, "off")) {
        fprintf(stderr, "INVALID_VALUE: %s=%s: say true or false\n", key, s);
        return LIBXLMIG_ERR_INVALID_ARGUMENT;
    }
    return 0;
}

static const char *need(const struct xe_args *a, const char *key,
                        const char *cmd)
{
    const char *v = xe_args_get(a, key);

    if (!v || !*v)
        fprintf(stderr, "MISSING_PARAMETER: %s needs %s=\nSee 'xlmig-xe %s "
                "--help'.\n", cmd, key, cmd);
    return v && *v ? v : NULL;
}

static void this_host(char *buf, size_t len)
{
    if (gethostname(buf, len) < 0 || !buf[0])
        xlmig__strlcpy(buf, "localhost", len);
    buf[len - 1] = '\0';
}

/* Field helpers. */
static void kv_str(struct xlmig__kv *kv, size_t *n, const char *key,
                   const char *v)
{
    kv[*n].key = key;
    xlmig__strlcpy(kv[*n].value, v ? v : "", sizeof(kv[*n].value));
    (*n)++;
}

static void kv_fs(struct xlmig__kv *kv, size_t *n, const char *key,
                  const libxlmig_featureset *fs)
{
    kv[*n].key = key;
    if (libxlmig_featureset_format(fs, kv[*n].value, sizeof(kv[*n].value)))
        kv[*n].value[0] = '\0';
    (*n)++;
}

static void kv_names(struct xlmig__kv *kv, size_t *n, const char *key,
                     const libxlmig_featureset *fs)
{
    kv[*n].key = key;
    /* A list too long for the field ends in "..." (never a cut name). */
    (void)libxlmig_featureset_names(fs, kv[*n].value, sizeof(kv[*n].value),
                                    NULL);
    (*n)++;
}

static void kv_time(struct xlmig__kv *kv, size_t *n, const char *key,
                    int64_t t)
{
    time_t tt = (time_t)t;
    struct tm tm;

    kv[*n].key = key;
    if (gmtime_r(&tt, &tm))
        strftime(kv[*n].value, sizeof(kv[*n].value), "%Y%m%dT%H:%M:%SZ", &tm);
    else
        kv[*n].value[0] = '\0';
    (*n)++;
}

/* This host's record from Xen. */
static int host_from_xen(libxlmig_ctx *ctx, const char *name,
                         struct xlmig__host_record *r,
                         libxlmig_host_info *info_r)
{
    libxlmig_cpu_host h;
    int rc = libxlmig_host_info_get(ctx, info_r);

    if (rc) return rc;
    rc = libxlmig_cpu_host_from_info(ctx, info_r, name, &h);
    if (rc) return rc;
    memset(r, 0, sizeof(*r));
    xlmig__strlcpy(r->name, name, sizeof(r->name));
    r->vendor = h.vendor;
    r->pv_max = h.pv_max;
    r->hvm_max = h.hvm_max;
    r->recorded = (int64_t)time(NULL);
    return 0;
}

/* ------------------------------------------------------------------ */

int xe_cmd_host_cpu_info(const struct xe_args *a)
{
    struct xlmig__kv kv[XE_RECORD_FIELDS_MAX];
    const char *host = xe_args_get(a, "host");
    const char *dir = xlmig__state_dir(xe_args_get(a, "state-dir"));
    libxlmig_ctx *ctx;
    bool cpuid;
    size_t n = 0;
    int rc;

    if (get_bool(a, "cpuid", &cpuid))
        return XLMIG__EXIT_USAGE;
    if (cpuid && host) {
        fprintf(stderr, "INVALID_VALUE: host= and cpuid=true do not go "
                "together: cpuid reads the CPU this runs on\n");
        return XLMIG__EXIT_USAGE;
    }
    ctx = new_ctx();
    if (!ctx)
        return XLMIG__EXIT_FAILED;
    if (cpuid) {
        libxlmig_featureset fs;
        libxlmig_cpu_vendor v;
        char vendor[LIBXLMIG_CPU_VENDOR_STRING_SIZE], me[256];

        rc = libxlmig_cpuid_local(ctx, &fs, vendor);
        if (rc) goto out;
        this_host(me, sizeof(me));
        kv_str(kv, &n, "name-label", me);
        kv_str(kv, &n, "source", LIBXLMIG_CPUID_LOCAL_LABEL);
        kv_str(kv, &n, "vendor",
               libxlmig_cpu_vendor_parse(NULL, NULL, vendor, &v) ? vendor
               : libxlmig_cpu_vendor_string(v));
        kv_fs(kv, &n, "features", &fs);
        kv_names(kv, &n, "features_names", &fs);
    } else if (host) {
        struct xlmig__host_record r;
        char src[600];

        rc = xlmig__host_record_load(ctx, dir, host, &r);
        if (rc) goto out;
        snprintf(src, sizeof(src), "record %s/hosts/%s.json", dir, r.name);
        kv_str(kv, &n, "name-label", r.name);
        kv_str(kv, &n, "source", src);
        kv_str(kv, &n, "vendor", libxlmig_cpu_vendor_string(r.vendor));
        kv_fs(kv, &n, "features_pv_max", &r.pv_max);
        kv_fs(kv, &n, "features_hvm_max", &r.hvm_max);
        kv_names(kv, &n, "features_hvm_max_names", &r.hvm_max);
        kv_time(kv, &n, "recorded", r.recorded);
    } else {
        libxlmig_host_info info;
        struct xlmig__host_record r;
        char me[256];

        this_host(me, sizeof(me));
        rc = host_from_xen(ctx, me, &r, &info);
        if (rc) goto out;
        kv_str(kv, &n, "name-label", me);
        kv_str(kv, &n, "source", "Xen (libxc)");
        kv_str(kv, &n, "vendor", libxlmig_cpu_vendor_string(r.vendor));
        kv_fs(kv, &n, "features", &info.featureset_host);
        kv_names(kv, &n, "features_names", &info.featureset_host);
        kv_fs(kv, &n, "features_pv_max", &info.featureset_pv_max);
        kv_fs(kv, &n, "features_hvm_max", &info.featureset_hvm_max);
        kv_fs(kv, &n, "features_pv_default", &info.featureset_pv_def);
        kv_fs(kv, &n, "features_hvm_default", &info.featureset_hvm_def);
    }
    rc = xe_print_record(a, kv, n);
 out:
    libxlmig_ctx_free(ctx);
    return rc ? XLMIG__EXIT_FAILED : XLMIG__EXIT_OK;
}

int xe_cmd_host_cpu_record(const struct xe_args *a)
{
    const char *dir = xlmig__state_dir(xe_args_get(a, "state-dir"));
    const char *file = xe_args_get(a, "file");
    struct xlmig__host_record r;
    libxlmig_host_info info;
    libxlmig_ctx *ctx;
    char name[256];
    int rc;

    if (xe_args_get(a, "host"))
        xlmig__strlcpy(name, xe_args_get(a, "host"), sizeof(name));
    else
        this_host(name, sizeof(name));
    ctx = new_ctx();
    if (!ctx)
        return XLMIG__EXIT_FAILED;
    rc = xlmig__name_check(ctx, "host name", name);
    if (!rc)
        rc = host_from_xen(ctx, name, &r, &info);
    if (!rc)
        rc = xlmig__host_record_save(ctx, dir, &r);
    if (!rc && file) {
        char json[4096];
        size_t len;
        FILE *f;

        rc = xlmig__host_record_encode(&r, json, sizeof(json), &len);
        f = rc ? NULL : fopen(file, "w");
        if (!rc && (!f || fwrite(json, 1, len, f) != len)) {
            rc = xlmig__error(ctx, LIBXLMIG_ERR_IO, errno, "cannot write %s",
                              file);
        }
        if (f && fclose(f) && !rc)
            rc = xlmig__error(ctx, LIBXLMIG_ERR_IO, errno, "cannot write %s",
                              file);
    }
    if (!rc)
        printf("%s/hosts/%s.json\n", dir, r.name);
    libxlmig_ctx_free(ctx);
    return rc ? XLMIG__EXIT_FAILED : XLMIG__EXIT_OK;
}

/* Read a whole small file (capped) into a malloc'd buffer. */
static int slurp(libxlmig_ctx *ctx, const char *path, uint8_t **buf_r,
                 size_t *len_r)
{
    FILE *f = fopen(path, "rb");
    uint8_t *buf;
    size_t n;

    if (!f)
        return xlmig__error(ctx, LIBXLMIG_ERR_NOT_FOUND, errno,
                            "cannot open %s", path);
    buf = malloc(XLMIG__RECORD_FILE_MAX + 1);
    if (!buf) {
        fclose(f);
        return LIBXLMIG_ERR_NO_MEMORY;
    }
    n = fread(buf, 1, XLMIG__RECORD_FILE_MAX + 1, f);
    fclose(f);
    if (n > XLMIG__RECORD_FILE_MAX) {
        free(buf);
        return xlmig__error(ctx, LIBXLMIG_ERR_RECORD_INVALID, -1,
                            "%s is larger than a CPU record may be (%u "
                            "bytes)", path, XLMIG__RECORD_FILE_MAX);
    }
    *buf_r = buf;
    *len_r = n;
    return 0;
}

int xe_cmd_host_cpu_import(const struct xe_args *a)
{
    const char *dir = xlmig__state_dir(xe_args_get(a, "state-dir"));
    const char *file = need(a, "file", "host-cpu-import");
    struct xlmig__host_record r;
    libxlmig_ctx *ctx;
    uint8_t *buf = NULL;
    size_t len = 0;
    int rc;

    if (!file)
        return XLMIG__EXIT_USAGE;
    ctx = new_ctx();
    if (!ctx)
        return XLMIG__EXIT_FAILED;
    rc = slurp(ctx, file, &buf, &len);
    if (!rc)
        rc = xlmig__host_record_decode(ctx, file, buf, len, &r);
    if (!rc)
        rc = xlmig__host_record_save(ctx, dir, &r);
    if (!rc)
        printf("%s\n", r.name);
    free(buf);
    libxlmig_ctx_free(ctx);
    return rc ? XLMIG__EXIT_FAILED : XLMIG__EXIT_OK;
}

/* The level of @recs (skipping index @skip; SIZE_MAX: none), PV or HVM. */
static int level_of(libxlmig_ctx *ctx, const struct xlmig__host_record *recs,
                    size_t nr, size_t skip, bool pv, libxlmig_cpu_flags *lv)
{
    libxlmig_pool_host *hosts = calloc(nr ? nr : 1, sizeof(*hosts));
    size_t i, k = 0;
    int rc;

    if (!hosts)
        return LIBXLMIG_ERR_NO_MEMORY;
    for (i = 0; i < nr; i++) {
        if (i == skip)
            continue;
        hosts[k].name = recs[i].name;
        hosts[k].cpu.vendor = recs[i].vendor;
        hosts[k].cpu.features = pv ? recs[i].pv_max : recs[i].hvm_max;
        k++;
    }
    rc = k ? libxlmig_pool_level(ctx, hosts, k, lv) : LIBXLMIG_ERR_NOT_FOUND;
    free(hosts);
    return rc;
}

static int no_records(libxlmig_ctx *ctx, const char *dir)
{
    return xlmig__error(ctx, LIBXLMIG_ERR_NOT_FOUND, -1,
                        "no host CPU records in %s/hosts: run 'xlmig-xe "
                        "host-cpu-record file=PATH' on each host and "
                        "'xlmig-xe host-cpu-import file=PATH' here", dir);
}

/* What host @i lowers the level of the others by (PV and HVM). */
static int lowers(libxlmig_ctx *ctx, const struct xlmig__host_record *recs,
                  size_t nr, size_t i, libxlmig_featureset *pv,
                  libxlmig_featureset *hvm)
{
    libxlmig_cpu_flags lp, lh;
    int rc;

    memset(pv, 0, sizeof(*pv));
    memset(hvm, 0, sizeof(*hvm));
    if (nr < 2)
        return 0;           /* alone, it lowers nothing */
    rc = level_of(ctx, recs, nr, i, true, &lp);
    if (!rc)
        rc = level_of(ctx, recs, nr, i, false, &lh);
    if (rc) return rc;
    libxlmig_featureset_difference(&lp.features, &recs[i].pv_max, pv);
    libxlmig_featureset_difference(&lh.features, &recs[i].hvm_max, hvm);
    return 0;
}

int xe_cmd_pool_cpu_info(const struct xe_args *a)
{
    const char *dir = xlmig__state_dir(xe_args_get(a, "state-dir"));
    const char *only = xe_args_get(a, "host");
    struct xlmig__host_record *recs = NULL;
    struct xlmig__kv kv[XE_RECORD_FIELDS_MAX];
    libxlmig_cpu_flags lpv, lhvm;
    libxlmig_ctx *ctx;
    size_t nr = 0, i, n;
    int rc;

    ctx = new_ctx();
    if (!ctx)
        return XLMIG__EXIT_FAILED;
    rc = xlmig__host_records_list(ctx, dir, &recs, &nr);
    if (rc) goto out;
    if (!nr) {
        rc = no_records(ctx, dir);
        goto out;
    }
    if (xe_args_get(a, "file")) {
        /* A host that is not a member yet: what would it lower? */
        const char *file = xe_args_get(a, "file");
        struct xlmig__host_record jr;
        libxlmig_pool_host j;
        libxlmig_featureset pv, hvm;
        uint8_t *buf = NULL;
        size_t len = 0;

        rc = slurp(ctx, file, &buf, &len);
        if (!rc)
            rc = xlmig__host_record_decode(ctx, file, buf, len, &jr);
        free(buf);
        if (!rc)
            rc = level_of(ctx, recs, nr, SIZE_MAX, true, &lpv);
        if (!rc)
            rc = level_of(ctx, recs, nr, SIZE_MAX, false, &lhvm);
        j.name = jr.name;
        j.cpu.vendor = jr.vendor;
        j.cpu.features = jr.pv_max;
        if (!rc)
            rc = libxlmig_pool_join_check(ctx, "the pool", &lpv, &j, &pv);
        j.cpu.features = jr.hvm_max;
        if (!rc)
            rc = libxlmig_pool_join_check(ctx, "the pool", &lhvm, &j, &hvm);
        if (rc) goto out;
        n = 0;
        kv_str(kv, &n, "name-label", jr.name);
        kv_names(kv, &n, "lowers_pv", &pv);
        kv_names(kv, &n, "lowers_hvm", &hvm);
        rc = xe_print_record(a, kv, n);
        goto out;
    }
    if (only) {
        libxlmig_featureset pv, hvm;

        for (i = 0; i < nr && strcmp(recs[i].name, only); i++)
            ;
        if (i == nr) {
            rc = xlmig__error(ctx, LIBXLMIG_ERR_NOT_FOUND, -1,
                              "no CPU record of host %s in %s/hosts: run "
                              "'xlmig-xe host-cpu-record' on it and "
                              "import the file here", only, dir);
            goto out;
        }
        rc = lowers(ctx, recs, nr, i, &pv, &hvm);
        if (rc) goto out;
        n = 0;
        kv_str(kv, &n, "name-label", recs[i].name);
        kv_names(kv, &n, "lowers_pv", &pv);
        kv_names(kv, &n, "lowers_hvm", &hvm);
        rc = xe_print_record(a, kv, n);
        goto out;
    }
    rc = level_of(ctx, recs, nr, SIZE_MAX, true, &lpv);
    if (!rc)
        rc = level_of(ctx, recs, nr, SIZE_MAX, false, &lhvm);
    if (rc) goto out;
    n = 0;
    {
        char names[XLMIG__KV_VALUE_MAX] = "";

        for (i = 0; i < nr; i++) {
            size_t l = strlen(names);

            snprintf(names + l, sizeof(names) - l, "%s%s", i ? "," : "",
                     recs[i].name);
        }
        kv_str(kv, &n, "hosts", names);
    }
    kv_str(kv, &n, "vendor", libxlmig_cpu_vendor_string(lpv.vendor));
    kv_fs(kv, &n, "features_pv", &lpv.features);
    kv_fs(kv, &n, "features_hvm", &lhvm.features);
    rc = xe_print_record(a, kv, n);
    for (i = 0; !rc && !a->minimal && i < nr; i++) {
        libxlmig_featureset pv, hvm;

        rc = lowers(ctx, recs, nr, i, &pv, &hvm);
        if (rc) break;
        n = 0;
        kv_str(kv, &n, "name-label", recs[i].name);
        kv_names(kv, &n, "lowers_pv", &pv);
        kv_names(kv, &n, "lowers_hvm", &hvm);
        rc = xe_print_record(a, kv, n);
    }
 out:
    free(recs);
    libxlmig_ctx_free(ctx);
    return rc ? XLMIG__EXIT_FAILED : XLMIG__EXIT_OK;
}

static void vm_fields(struct xlmig__kv *kv, size_t *n,
                      const struct xlmig__vm_record *r)
{
    kv_str(kv, n, "name-label", r->name);
    kv_str(kv, n, "uuid", r->uuid);
    kv_str(kv, n, "type", r->type == LIBXLMIG_GUEST_PV ? "pv" : "hvm");
    kv_str(kv, n, "vendor", libxlmig_cpu_vendor_string(r->cpu.vendor));
    kv_fs(kv, n, "features", &r->cpu.features);
    kv_names(kv, n, "features_names", &r->cpu.features);
    kv_str(kv, n, "recorded-on", r->host);
    kv_time(kv, n, "recorded", r->recorded);
}

int xe_cmd_vm_cpu_record(const struct xe_args *a)
{
    const char *dir = xlmig__state_dir(xe_args_get(a, "state-dir"));
    const char *vm = need(a, "vm", "vm-cpu-record");
    struct xlmig__kv kv[XE_RECORD_FIELDS_MAX];
    struct xlmig__vm_record r;
    libxlmig_ctx *ctx;
    size_t n = 0;
    int rc;

    if (!vm)
        return XLMIG__EXIT_USAGE;
    ctx = new_ctx();
    if (!ctx)
        return XLMIG__EXIT_FAILED;
    rc = xlmig__name_check(ctx, "VM name", vm);
    if (!rc)
        rc = xlmig__vm_cpu_read(ctx, vm, &r);
    if (!rc)
        rc = xlmig__vm_record_save(ctx, dir, &r);
    if (!rc) {
        vm_fields(kv, &n, &r);
        rc = xe_print_record(a, kv, n);
    }
    libxlmig_ctx_free(ctx);
    return rc ? XLMIG__EXIT_FAILED : XLMIG__EXIT_OK;
}

int xe_cmd_vm_cpu_check(const struct xe_args *a)
{
    const char *dir = xlmig__state_dir(xe_args_get(a, "state-dir"));
    const char *vm = need(a, "vm", "vm-cpu-check");
    const char *host = vm ? need(a, "host", "vm-cpu-check") : NULL;
    struct xlmig__host_record hr, *recs = NULL;
    struct xlmig__vm_record vr;
    libxlmig_featureset missing;
    libxlmig_cpu_host dest;
    libxlmig_ctx *ctx;
    bool force, records_only;
    size_t nr = 0;
    int rc;

    if (!vm || !host || get_bool(a, "force", &force) ||
        get_bool(a, "records-only", &records_only))
        return XLMIG__EXIT_USAGE;
    ctx = new_ctx();
    if (!ctx)
        return XLMIG__EXIT_FAILED;
    rc = xlmig__name_check(ctx, "VM name", vm);
    if (rc) goto out;
    if (!records_only) {
        /* Running?  (A halted VM is not checked, as xapi does.) */
        struct xlmig__vm_record live;

        rc = xlmig__vm_cpu_read(ctx, vm, &live);
        if (rc == LIBXLMIG_ERR_NOT_FOUND) {
            printf("VM %s is not running: not checked (its CPU is checked "
                   "when it starts)\n", vm);
            rc = 0;
            goto out;
        }
        if (rc) goto out;
        if (xlmig__vm_record_load(ctx, dir, vm, &vr) ==
            LIBXLMIG_ERR_NOT_FOUND) {
            /* First seen: what it runs with now is what it booted with. */
            vr = live;
            rc = xlmig__vm_record_save(ctx, dir, &vr);
            if (rc) goto out;
        }
    }
    rc = xlmig__vm_record_load(ctx, dir, vm, &vr);
    if (rc) goto out;
    rc = xlmig__host_record_load(ctx, dir, host, &hr);
    if (rc) goto out;
    memset(&dest, 0, sizeof(dest));
    dest.name = hr.name;
    dest.vendor = hr.vendor;
    dest.pv_max = hr.pv_max;
    dest.hvm_max = hr.hvm_max;
    rc = libxlmig_vm_cpu_check(ctx, vm, &vr.cpu, vr.type, &dest, &missing);
    if (rc == LIBXLMIG_ERR_VM_INCOMPATIBLE_WITH_THIS_HOST) {
        libxlmig_cpu_flags lv;
        char fs[LIBXLMIG_FEATURESET_STRING_MAX];
        bool pv = vr.type == LIBXLMIG_GUEST_PV;

        /* What would make it movable to every host we know of. */
        if (!xlmig__host_records_list(ctx, dir, &recs, &nr) && nr &&
            !level_of(ctx, recs, nr, SIZE_MAX, pv, &lv) &&
            !libxlmig_featureset_format(&lv.features, fs, sizeof(fs))) {
            libxlmig_featureset above;
            char names[XLMIG__KV_VALUE_MAX];

            libxlmig_featureset_difference(&vr.cpu.features, &lv.features,
                                           &above);
            (void)libxlmig_featureset_names(&above, names, sizeof(names),
                                            NULL);
            fprintf(stderr, "The level of the %zu known hosts (%s max): "
                    "%s\nBoot VM %s with at most that featureset to move it "
                    "to any of them%s%s%s.\n", nr, pv ? "PV" : "HVM", fs, vm,
                    names[0] ? " (it has " : "", names,
                    names[0] ? " beyond it)" : "");
        }
        if (force) {
            fprintf(stderr, "force=true: not refused: %s\n",
                    libxlmig_ctx_last_error(ctx));
            printf("VM %s may move to host %s (forced; it may crash "
                   "there)\n", vm, host);
            rc = 0;
        }
        goto out;
    }
    if (rc) goto out;
    if (a->minimal)
        printf("true\n");
    else
        printf("VM %s can run on host %s\n", vm, host);
 out:
    free(recs);
    libxlmig_ctx_free(ctx);
    return rc ? XLMIG__EXIT_FAILED : XLMIG__EXIT_OK;
}

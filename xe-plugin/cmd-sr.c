/* SPDX-License-Identifier: LGPL-2.1-only */
/*
 * xlmig-xe's storage commands (libxlmig/sr.h, docs/specs/sr.md):
 * sr-create, sr-forget, sr-list, vdi-create, vdi-destroy, vdi-list,
 * vdi-param-set, vbd-create, vbd-destroy, vbd-list, in xe's grammar.
 * Exit status: 0 done, 1 the operation failed (the
 * library said why on stderr), 2 bad usage.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/stat.h>

#include "internal.h"
#include "sr.h"
#include "sxm.h"
#include "units.h"
#include "xe-args.h"
#include "xe-cmd.h"

const char *const xe_keys_sr_create[] = { "name-label", "type",
                                          "device-config:path",
                                          "capabilities", "state-dir",
                                          NULL };
const char *const xe_keys_sr_forget[] = { "uuid", "state-dir", NULL };
const char *const xe_keys_sr_list[] = { "uuid", "name-label", "state-dir",
                                        NULL };
const char *const xe_keys_vdi_create[] = { "sr-uuid", "name-label",
                                           "virtual-size", "format",
                                           "state-dir", NULL };
const char *const xe_keys_vdi_destroy[] = { "uuid", "state-dir", NULL };
const char *const xe_keys_vdi_list[] = { "sr-uuid", "uuid", "name-label",
                                         "state-dir", NULL };
const char *const xe_keys_vdi_param_set[] = { "uuid", "on-boot",
                                              "cbt-enabled", "encrypted",
                                              "sharable", "state-dir",
                                              NULL };
const char *const xe_keys_vbd_create[] = { "vm", "vdi-uuid", "device",
                                           "state-dir", NULL };
const char *const xe_keys_vbd_destroy[] = { "vm", "vdi-uuid", "state-dir",
                                            NULL };
const char *const xe_keys_vbd_list[] = { "vdi-uuid", "vm", "state-dir",
                                         NULL };
const char *const xe_keys_vdi_copy[] = { "uuid", "sr-uuid", "format",
                                         "bwlimit", "state-dir", NULL };
const char *const xe_keys_vdi_pool_migrate[] = { "uuid", "sr-uuid", "format",
                                                 "qmp", "vm", "switch-file",
                                                 "bwlimit", "state-dir",
                                                 NULL };

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

/* @key=, or a MISSING_PARAMETER sentence and NULL. */
static const char *need(const struct xe_args *a, const char *cmd,
                        const char *key)
{
    const char *v = xe_args_get(a, key);

    if (!v || !*v)
        fprintf(stderr, "MISSING_PARAMETER: %s needs %s=\nSee 'xlmig-xe %s "
                "--help'.\n", cmd, key, cmd);
    return v && *v ? v : NULL;
}

/*
 * Records for a list command: --minimal prints the selected field
 * (params=, default uuid) of every record on one line, comma-separated,
 * as xe does; otherwise as xe_list_add() does (one block per record, or
 * --json's array).
 */
struct listing {
    const struct xe_args *a;
    const char *minimal_key;    /* --minimal's field; NULL: "uuid" */
    size_t nr;
    struct xe_list out;
};

static int list_begin(struct listing *l, const struct xe_args *a,
                      const char *minimal_key, const char *const *numbers,
                      const char *const *flags)
{
    l->a = a;
    l->minimal_key = minimal_key;
    l->nr = 0;
    return xe_list_begin(&l->out, a, numbers, flags);
}

static int list_add(struct listing *l, const struct xlmig__kv *kv, size_t n)
{
    size_t i, j;

    if (!l->a->minimal)
        return xe_list_add(&l->out, kv, n);
    for (i = 0; i < (l->a->nr_params ? l->a->nr_params : 1); i++) {
        const char *want = l->a->nr_params ? l->a->params[i]
                           : l->minimal_key ? l->minimal_key : "uuid";

        for (j = 0; j < n && strcmp(kv[j].key, want); j++)
            ;
        if (j == n) {
            fprintf(stderr, "INVALID_VALUE: unknown field '%s' in params=\n",
                    want);
            return LIBXLMIG_ERR_INVALID_ARGUMENT;
        }
        printf("%s%s", l->nr++ ? "," : "", kv[j].value);
    }
    return 0;
}

/* After the records; @ok: all of them were printed. */
static void list_end(struct listing *l, bool ok)
{
    if (l->a->minimal && ok)
        printf("\n");
    xe_list_end(&l->out);
}

static void kv_set(struct xlmig__kv *kv, size_t *n, const char *key,
                   const char *fmt, ...) XLMIG__PRINTF(4, 5);

static void kv_set(struct xlmig__kv *kv, size_t *n, const char *key,
                   const char *fmt, ...)
{
    va_list ap;

    kv[*n].key = key;
    va_start(ap, fmt);
    vsnprintf(kv[*n].value, sizeof(kv[*n].value), fmt, ap);
    va_end(ap);
    (*n)++;
}

/* "VDI_SNAPSHOT; VDI_MIRROR; ..." as xe prints sets. */
static void caps_text(unsigned int caps, char *out, size_t len)
{
    unsigned int b;
    size_t used = 0;

    out[0] = '\0';
    for (b = 0; b < XLMIG__SR_CAPS_COUNT; b++) {
        if (caps & (1u << b))
            used += (size_t)snprintf(out + used, len - used, "%s%s",
                                     used ? "; " : "",
                                     xlmig__sr_cap_name(1u << b));
        if (used >= len)
            break;
    }
}

/* "VDI_SNAPSHOT,VDI_MIRROR" into bits; a stranger is an error. */
static int caps_parse(const char *s, unsigned int *caps_r)
{
    char word[32];
    unsigned int caps = 0, b;

    while (s && *s) {
        size_t n = strcspn(s, ",;");

        if (n == 0 || n >= sizeof(word))
            goto bad;
        memcpy(word, s, n);
        word[n] = '\0';
        for (b = 0; b < XLMIG__SR_CAPS_COUNT; b++) {
            if (!strcmp(word, xlmig__sr_cap_name(1u << b)))
                break;
        }
        if (b == XLMIG__SR_CAPS_COUNT)
            goto bad;
        caps |= 1u << b;
        s += n;
        if (*s)
            s++;
    }
    if (!caps)
        goto bad;
    *caps_r = caps;
    return 0;
 bad:
    fprintf(stderr, "INVALID_VALUE: capabilities= is a comma-separated "
            "list of VDI_SNAPSHOT, VDI_MIRROR and VDI_MIRROR_IN\n");
    return LIBXLMIG_ERR_INVALID_ARGUMENT;
}

int xe_cmd_sr_create(const struct xe_args *a)
{
    const char *name = need(a, "sr-create", "name-label");
    const char *path = name ? need(a, "sr-create", "device-config:path")
                            : NULL;
    const char *type = xe_args_get(a, "type");
    const char *caps_s = xe_args_get(a, "capabilities");
    unsigned int caps = 0;
    struct xlmig__sr sr;
    libxlmig_ctx *ctx;
    int rc;

    if (!name || !path)
        return XLMIG__EXIT_USAGE;
    if (caps_s && caps_parse(caps_s, &caps))
        return XLMIG__EXIT_USAGE;
    ctx = new_ctx();
    if (!ctx)
        return XLMIG__EXIT_FAILED;
    rc = xlmig__sr_create(ctx, xe_args_get(a, "state-dir"), name,
                          type ? type : "file", path, caps, &sr);
    if (!rc)
        printf("%s\n", sr.uuid);
    libxlmig_ctx_free(ctx);
    return rc ? XLMIG__EXIT_FAILED : XLMIG__EXIT_OK;
}

int xe_cmd_sr_forget(const struct xe_args *a)
{
    const char *uuid = need(a, "sr-forget", "uuid");
    libxlmig_ctx *ctx;
    int rc;

    if (!uuid)
        return XLMIG__EXIT_USAGE;
    ctx = new_ctx();
    if (!ctx)
        return XLMIG__EXIT_FAILED;
    rc = xlmig__sr_forget(ctx, xe_args_get(a, "state-dir"), uuid);
    libxlmig_ctx_free(ctx);
    return rc ? XLMIG__EXIT_FAILED : XLMIG__EXIT_OK;
}

/* Does @sr pass the selectors uuid= and name-label=? */
static bool sr_selected(const struct xe_args *a, const struct xlmig__sr *sr)
{
    const char *u = xe_args_get(a, "uuid"), *n = xe_args_get(a, "name-label");

    return (!u || !strcmp(u, sr->uuid)) && (!n || !strcmp(n, sr->name));
}

int xe_cmd_sr_list(const struct xe_args *a)
{
    static const char *const numbers[] = { "physical-size",
                                           "physical-utilisation",
                                           "free-space", NULL };
    struct listing l;
    struct xlmig__sr *srs = NULL;
    libxlmig_ctx *ctx = new_ctx();
    size_t nr = 0, i;
    int rc;

    if (!ctx)
        return XLMIG__EXIT_FAILED;
    rc = list_begin(&l, a, NULL, numbers, NULL);
    if (rc) {
        libxlmig_ctx_free(ctx);
        return XLMIG__EXIT_FAILED;
    }
    rc = xlmig__sr_list(ctx, xe_args_get(a, "state-dir"), &srs, &nr);
    for (i = 0; !rc && i < nr; i++) {
        struct xlmig__kv kv[8];
        struct xlmig__sr_space sp;
        char caps[128];
        size_t n = 0;

        if (!sr_selected(a, &srs[i]))
            continue;
        memset(&sp, 0, sizeof(sp));
        rc = xlmig__sr_space(ctx, &srs[i], &sp);
        if (rc)
            break;
        caps_text(srs[i].caps, caps, sizeof(caps));
        kv_set(kv, &n, "uuid", "%s", srs[i].uuid);
        kv_set(kv, &n, "name-label", "%s", srs[i].name);
        kv_set(kv, &n, "type", "file");
        kv_set(kv, &n, "path", "%s", srs[i].path);
        kv_set(kv, &n, "physical-size", "%" PRIu64, sp.physical_size);
        kv_set(kv, &n, "physical-utilisation", "%" PRIu64, sp.utilisation);
        kv_set(kv, &n, "free-space", "%" PRIu64, sp.free_space);
        kv_set(kv, &n, "capabilities", "%s", caps);
        rc = list_add(&l, kv, n);
    }
    list_end(&l, !rc);
    free(srs);
    libxlmig_ctx_free(ctx);
    return rc ? XLMIG__EXIT_FAILED : XLMIG__EXIT_OK;
}

int xe_cmd_vdi_create(const struct xe_args *a)
{
    const char *sr = need(a, "vdi-create", "sr-uuid");
    const char *name = sr ? need(a, "vdi-create", "name-label") : NULL;
    const char *size = name ? need(a, "vdi-create", "virtual-size") : NULL;
    struct xlmig__vdi vdi;
    libxlmig_ctx *ctx;
    int rc;

    if (!sr || !name || !size)
        return XLMIG__EXIT_USAGE;
    ctx = new_ctx();
    if (!ctx)
        return XLMIG__EXIT_FAILED;
    rc = xlmig__vdi_create(ctx, xe_args_get(a, "state-dir"), sr, name, size,
                           xe_args_get(a, "format"), &vdi);
    if (!rc)
        printf("%s\n", vdi.uuid);
    libxlmig_ctx_free(ctx);
    return rc ? XLMIG__EXIT_FAILED : XLMIG__EXIT_OK;
}

int xe_cmd_vdi_destroy(const struct xe_args *a)
{
    const char *uuid = need(a, "vdi-destroy", "uuid");
    libxlmig_ctx *ctx;
    int rc;

    if (!uuid)
        return XLMIG__EXIT_USAGE;
    ctx = new_ctx();
    if (!ctx)
        return XLMIG__EXIT_FAILED;
    rc = xlmig__vdi_destroy(ctx, xe_args_get(a, "state-dir"), uuid);
    libxlmig_ctx_free(ctx);
    return rc ? XLMIG__EXIT_FAILED : XLMIG__EXIT_OK;
}

/* Print the VDIs of @sr that pass the selectors. */
static int list_vdis(libxlmig_ctx *ctx, struct listing *l,
                     const struct xlmig__sr *sr)
{
    const char *u = xe_args_get(l->a, "uuid");
    const char *nm = xe_args_get(l->a, "name-label");
    struct xlmig__vdi *vdis = NULL;
    size_t nr = 0, i;
    int rc;

    rc = xlmig__vdi_list(ctx, sr, &vdis, &nr);
    for (i = 0; !rc && i < nr; i++) {
        struct xlmig__kv kv[12];
        uint64_t virt = 0, phys = 0;
        size_t n = 0;

        if ((u && strcmp(u, vdis[i].uuid)) || (nm && strcmp(nm, vdis[i].name)))
            continue;
        rc = xlmig__vdi_sizes(ctx, sr, &vdis[i], &virt, &phys);
        if (rc)
            break;
        kv_set(kv, &n, "uuid", "%s", vdis[i].uuid);
        kv_set(kv, &n, "name-label", "%s", vdis[i].name);
        kv_set(kv, &n, "sr-uuid", "%s", sr->uuid);
        kv_set(kv, &n, "virtual-size", "%" PRIu64, virt);
        kv_set(kv, &n, "physical-utilisation", "%" PRIu64, phys);
        kv_set(kv, &n, "format", "%s",
               xlmig__vdi_format_name(vdis[i].format));
        kv_set(kv, &n, "on-boot", "%s",
               xlmig__vdi_on_boot_name(vdis[i].on_boot));
        kv_set(kv, &n, "sharable", "%s", vdis[i].sharable ? "true" : "false");
        kv_set(kv, &n, "cbt-enabled", "%s",
               vdis[i].cbt_enabled ? "true" : "false");
        kv_set(kv, &n, "encrypted", "%s",
               vdis[i].encrypted ? "true" : "false");
        kv_set(kv, &n, "vbds", "%u", vdis[i].nr_vbds);
        rc = list_add(l, kv, n);
    }
    free(vdis);
    return rc;
}

int xe_cmd_vdi_list(const struct xe_args *a)
{
    const char *want = xe_args_get(a, "sr-uuid");
    const char *state = xe_args_get(a, "state-dir");
    static const char *const numbers[] = { "virtual-size",
                                           "physical-utilisation", "vbds",
                                           NULL };
    static const char *const flags[] = { "sharable", "cbt-enabled",
                                         "encrypted", NULL };
    struct listing l;
    struct xlmig__sr *srs = NULL, one;
    libxlmig_ctx *ctx = new_ctx();
    size_t nr = 0, i;
    int rc;

    if (!ctx)
        return XLMIG__EXIT_FAILED;
    rc = list_begin(&l, a, NULL, numbers, flags);
    if (rc) {
        libxlmig_ctx_free(ctx);
        return XLMIG__EXIT_FAILED;
    }
    if (want) {
        rc = xlmig__sr_find(ctx, state, want, &one);
        if (!rc)
            rc = list_vdis(ctx, &l, &one);
    } else {
        rc = xlmig__sr_list(ctx, state, &srs, &nr);
        for (i = 0; !rc && i < nr; i++)
            rc = list_vdis(ctx, &l, &srs[i]);
    }
    list_end(&l, !rc);
    free(srs);
    libxlmig_ctx_free(ctx);
    return rc ? XLMIG__EXIT_FAILED : XLMIG__EXIT_OK;
}

/* "true"/"false" of @key= into *v_r (-1 when not given); else usage. */
static int flag_arg(const struct xe_args *a, const char *key, int *v_r)
{
    const char *s = xe_args_get(a, key);

    *v_r = -1;
    if (!s)
        return 0;
    if (!strcmp(s, "true")) {
        *v_r = 1;
        return 0;
    }
    if (!strcmp(s, "false")) {
        *v_r = 0;
        return 0;
    }
    fprintf(stderr, "INVALID_VALUE: %s= is true or false\nSee 'xlmig-xe "
            "vdi-param-set --help'.\n", key);
    return LIBXLMIG_ERR_INVALID_ARGUMENT;
}

int xe_cmd_vdi_param_set(const struct xe_args *a)
{
    const char *uuid = need(a, "vdi-param-set", "uuid");
    const char *boot = xe_args_get(a, "on-boot");
    struct xlmig__vdi_flags flags = XLMIG__VDI_FLAGS_KEEP;
    libxlmig_ctx *ctx;
    int rc;

    if (!uuid)
        return XLMIG__EXIT_USAGE;
    if (boot && !strcmp(boot, "persist")) {
        flags.on_boot = XLMIG__VDI_PERSIST;
    } else if (boot && !strcmp(boot, "reset")) {
        flags.on_boot = XLMIG__VDI_RESET;
    } else if (boot) {
        fprintf(stderr, "INVALID_VALUE: on-boot= is persist or reset\n"
                "See 'xlmig-xe vdi-param-set --help'.\n");
        return XLMIG__EXIT_USAGE;
    }
    if (flag_arg(a, "cbt-enabled", &flags.cbt_enabled) ||
        flag_arg(a, "encrypted", &flags.encrypted) ||
        flag_arg(a, "sharable", &flags.sharable))
        return XLMIG__EXIT_USAGE;
    if (flags.on_boot == -1 && flags.cbt_enabled == -1 &&
        flags.encrypted == -1 && flags.sharable == -1) {
        fprintf(stderr, "MISSING_PARAMETER: vdi-param-set needs one of "
                "on-boot=, cbt-enabled=, encrypted=, sharable=\nSee "
                "'xlmig-xe vdi-param-set --help'.\n");
        return XLMIG__EXIT_USAGE;
    }
    ctx = new_ctx();
    if (!ctx)
        return XLMIG__EXIT_FAILED;
    rc = xlmig__vdi_param_set(ctx, xe_args_get(a, "state-dir"), uuid, &flags,
                              NULL);
    libxlmig_ctx_free(ctx);
    return rc ? XLMIG__EXIT_FAILED : XLMIG__EXIT_OK;
}

int xe_cmd_vbd_create(const struct xe_args *a)
{
    const char *vm = need(a, "vbd-create", "vm");
    const char *vdi = vm ? need(a, "vbd-create", "vdi-uuid") : NULL;
    const char *dev = vdi ? need(a, "vbd-create", "device") : NULL;
    libxlmig_ctx *ctx;
    int rc;

    if (!vm || !vdi || !dev)
        return XLMIG__EXIT_USAGE;
    ctx = new_ctx();
    if (!ctx)
        return XLMIG__EXIT_FAILED;
    rc = xlmig__vbd_create(ctx, xe_args_get(a, "state-dir"), vdi, vm, dev,
                           NULL);
    libxlmig_ctx_free(ctx);
    return rc ? XLMIG__EXIT_FAILED : XLMIG__EXIT_OK;
}

int xe_cmd_vbd_destroy(const struct xe_args *a)
{
    const char *vm = need(a, "vbd-destroy", "vm");
    const char *vdi = vm ? need(a, "vbd-destroy", "vdi-uuid") : NULL;
    libxlmig_ctx *ctx;
    int rc;

    if (!vm || !vdi)
        return XLMIG__EXIT_USAGE;
    ctx = new_ctx();
    if (!ctx)
        return XLMIG__EXIT_FAILED;
    rc = xlmig__vbd_destroy(ctx, xe_args_get(a, "state-dir"), vdi, vm,
                            NULL);
    libxlmig_ctx_free(ctx);
    return rc ? XLMIG__EXIT_FAILED : XLMIG__EXIT_OK;
}

/* Print the VBDs of the VDIs of @sr that pass the selectors. */
static int list_vbds(libxlmig_ctx *ctx, struct listing *l,
                     const struct xlmig__sr *sr)
{
    const char *u = xe_args_get(l->a, "vdi-uuid");
    const char *vm = xe_args_get(l->a, "vm");
    struct xlmig__vdi *vdis = NULL;
    size_t nr = 0, i;
    unsigned int k;
    int rc;

    rc = xlmig__vdi_list(ctx, sr, &vdis, &nr);
    for (i = 0; !rc && i < nr; i++) {
        if (u && strcmp(u, vdis[i].uuid))
            continue;
        for (k = 0; !rc && k < vdis[i].nr_vbds; k++) {
            const struct xlmig__vbd *b = &vdis[i].vbds[k];
            struct xlmig__kv kv[5];
            size_t n = 0;

            if (vm && strcmp(vm, b->vm))
                continue;
            kv_set(kv, &n, "vm", "%s", b->vm);
            kv_set(kv, &n, "device", "%s", b->device);
            kv_set(kv, &n, "vdi-uuid", "%s", vdis[i].uuid);
            kv_set(kv, &n, "vdi-name-label", "%s", vdis[i].name);
            kv_set(kv, &n, "sr-uuid", "%s", sr->uuid);
            rc = list_add(l, kv, n);
        }
    }
    free(vdis);
    return rc;
}

int xe_cmd_vbd_list(const struct xe_args *a)
{
    struct listing l;
    struct xlmig__sr *srs = NULL;
    libxlmig_ctx *ctx = new_ctx();
    size_t nr = 0, i;
    int rc;

    if (!ctx)
        return XLMIG__EXIT_FAILED;
    rc = list_begin(&l, a, "vdi-uuid", NULL, NULL);
    if (rc) {
        libxlmig_ctx_free(ctx);
        return XLMIG__EXIT_FAILED;
    }
    rc = xlmig__sr_list(ctx, xe_args_get(a, "state-dir"), &srs, &nr);
    for (i = 0; !rc && i < nr; i++)
        rc = list_vbds(ctx, &l, &srs[i]);
    list_end(&l, !rc);
    free(srs);
    libxlmig_ctx_free(ctx);
    return rc ? XLMIG__EXIT_FAILED : XLMIG__EXIT_OK;
}

/* ------------------------------------------------- vdi-copy, pool-migrate */

static volatile sig_atomic_t move_cancel;

static void on_move_signal(int sig)
{
    (void)sig;
    move_cancel = 1;
}

static int move_switch_ready(void *opaque)
{
    const char *file = opaque;
    struct stat st;

    return !file || !stat(file, &st);
}

static int vdi_move(const struct xe_args *a, const char *cmd, bool keep)
{
    const char *uuid = need(a, cmd, "uuid");
    const char *sr = uuid ? need(a, cmd, "sr-uuid") : NULL;
    const char *bw = xe_args_get(a, "bwlimit");
    struct xlmig__sxm_move_req req;
    char vdi[XLMIG__UUID_LEN + 1];
    libxlmig_ctx *ctx;
    int rc;

    if (!uuid || !sr)
        return XLMIG__EXIT_USAGE;
    memset(&req, 0, sizeof(req));
    req.state_dir = xe_args_get(a, "state-dir");
    req.vdi = uuid;
    req.sr = sr;
    req.format = xe_args_get(a, "format");
    req.keep = keep;
    if (!keep) {
        req.qmp = xe_args_get(a, "qmp");
        req.vm = xe_args_get(a, "vm");
        req.switch_ready = move_switch_ready;
        req.opaque = (void *)xe_args_get(a, "switch-file");
    }
    req.cancel = &move_cancel;
    ctx = new_ctx();
    if (!ctx)
        return XLMIG__EXIT_FAILED;
    if (bw && xlmig__rate_parse(ctx, "bwlimit=", bw, &req.bwlimit)) {
        libxlmig_ctx_free(ctx);
        return XLMIG__EXIT_USAGE;
    }
    xlmig__cli_on_stop(on_move_signal);
    rc = xlmig__sxm_move(ctx, &req, vdi);
    if (!rc)
        printf("%s\n", vdi);
    libxlmig_ctx_free(ctx);
    return rc ? XLMIG__EXIT_FAILED : XLMIG__EXIT_OK;
}

int xe_cmd_vdi_copy(const struct xe_args *a)
{
    return vdi_move(a, "vdi-copy", true);
}

int xe_cmd_vdi_pool_migrate(const struct xe_args *a)
{
    return vdi_move(a, "vdi-pool-migrate", false);
}

/* SPDX-License-Identifier: LGPL-2.1-only */
/*
 * Storage repositories of type "file" and their VDIs (sr.h,
 * docs/specs/sr.md): SR records in STATE/srs, VDI metadata beside the
 * images, images made and measured by qemu-img run without a shell.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include <yajl/yajl_gen.h>
#include <yajl/yajl_tree.h>

#include "cpurecord.h"
#include "featureset.h"
#include "internal.h"
#include "names.h"
#include "jsonfile.h"
#include "proc.h"
#include "sr.h"
#include "units.h"

#define PATH_MAX_ XLMIG__JSONFILE_PATH_MAX
#define JSON_SUFFIX ".json"
#define QEMU_IMG_OUT_MAX (64u << 10)    /* bytes of qemu-img's stdout */

static const char *const cap_names[XLMIG__SR_CAPS_COUNT] = {
    "VDI_SNAPSHOT", "VDI_MIRROR", "VDI_MIRROR_IN",
};

const char *xlmig__sr_cap_name(unsigned int cap)
{
    unsigned int i;

    for (i = 0; i < XLMIG__SR_CAPS_COUNT; i++) {
        if (cap == (1u << i))
            return cap_names[i];
    }
    return NULL;
}

const char *xlmig__vdi_format_name(enum xlmig__vdi_format f)
{
    switch (f) {
    case XLMIG__VDI_QCOW2:
        return "qcow2";
    case XLMIG__VDI_RAW:
        return "raw";
    }
    return NULL;
}

const char *xlmig__vdi_on_boot_name(enum xlmig__vdi_on_boot b)
{
    switch (b) {
    case XLMIG__VDI_PERSIST:
        return "persist";
    case XLMIG__VDI_RESET:
        return "reset";
    }
    return NULL;
}

bool xlmig__vbd_device_ok(const char *dev)
{
    static const char *const prefixes[] = { "xvd", "hd", "sd" };
    const char *p = NULL;
    size_t i, n;

    if (!dev)
        return false;
    n = strnlen(dev, XLMIG__VBD_DEVICE_MAX + 1);
    if (n > XLMIG__VBD_DEVICE_MAX)
        return false;
    for (i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++) {
        size_t pl = strlen(prefixes[i]);

        if (!strncmp(dev, prefixes[i], pl)) {
            p = dev + pl;
            break;
        }
    }
    if (!p || *p < 'a' || *p > 'z')
        return false;
    while (*p >= 'a' && *p <= 'z')
        p++;
    if (*p == '0')
        return false;
    while (*p >= '0' && *p <= '9')
        p++;
    return *p == '\0';
}

const char *xlmig__vdi_other_vm(const struct xlmig__vdi *vdi, const char *vm,
                                const struct xlmig__vbd **vbd_r)
{
    unsigned int i;

    for (i = 0; vdi && i < vdi->nr_vbds && i < XLMIG__VDI_VBDS_MAX; i++) {
        if (vm && !strcmp(vdi->vbds[i].vm, vm))
            continue;
        if (vbd_r)
            *vbd_r = &vdi->vbds[i];
        return vdi->vbds[i].vm;
    }
    if (vbd_r)
        *vbd_r = NULL;
    return NULL;
}

/* ------------------------------------------------------------ checks */

int xlmig__sr_path_check(libxlmig_ctx *ctx, const char *path)
{
    char quoted[XLMIG__QUOTE_MAX + 8];
    const char *p, *why = NULL;
    size_t n, i;

    if (!path || !*path)
        return xlmig__error_opt(ctx, LIBXLMIG_ERR_INVALID_ARGUMENT,
                                "no SR path given; give the absolute path "
                                "of a directory (device-config:path=DIR)");
    n = strnlen(path, XLMIG__SR_PATH_MAX);
    xlmig__quote(path, 0, quoted, sizeof(quoted));
    if (n >= XLMIG__SR_PATH_MAX - XLMIG__UUID_LEN - 32)
        why = "it is too long (at most 950 bytes)";
    else if (path[0] != '/')
        why = "it is not absolute";
    for (i = 0; !why && i < n; i++) {
        if ((unsigned char)path[i] < 0x20 || (unsigned char)path[i] >= 0x7f)
            why = "it holds a control or non-ASCII byte";
    }
    for (p = path; !why && *p; ) {
        size_t c;

        while (*p == '/')
            p++;
        c = strcspn(p, "/");
        if ((c == 1 && p[0] == '.') || (c == 2 && p[0] == '.' &&
                                        p[1] == '.'))
            why = "it has a \".\" or \"..\" component";
        p += c;
    }
    if (!why)
        return 0;
    return xlmig__error_opt(ctx, LIBXLMIG_ERR_INVALID_ARGUMENT,
                            "SR path \"%s\" cannot be used: %s; give the "
                            "absolute path of a directory without \".\" or "
                            "\"..\"", quoted, why);
}

/* ------------------------------------------------------------ JSON */

static const struct xlmig__json_kind sr_kind = {
    .what = "SR metadata",
    .a_what = "an SR or VDI metadata file",
    .invalid_rc = LIBXLMIG_ERR_INVALID_ARGUMENT,
    .max_bytes = XLMIG__SR_FILE_MAX,
    .depth_max = 4,
    .read_to_cap = true,
    .dir_before = "directory ",
    .dir_after = " for SRs",
    .dir_role = "the SR directory",
};

static const struct xlmig__json_kind info_kind = {
    .what = "qemu-img info of",
    .a_what = "qemu-img's output",
    .invalid_rc = LIBXLMIG_ERR_IO,
    .max_bytes = QEMU_IMG_OUT_MAX,
    .depth_max = 32,
    .read_to_cap = true,
    .dir_before = "",
    .dir_after = "",
    .dir_role = "",
};

#define meta_error(ctx, label, ...) \
    xlmig__json_error(ctx, &sr_kind, label, __VA_ARGS__)

/* Member @key of @obj, at most once, in *v_r (NULL when absent). */
static int member_opt(libxlmig_ctx *ctx, const struct xlmig__json_kind *kind,
                      const char *label, yajl_val obj, const char *key,
                      yajl_val *v_r)
{
    yajl_val found = NULL;
    size_t i;

    *v_r = NULL;
    for (i = 0; i < obj->u.object.len; i++) {
        if (strcmp(obj->u.object.keys[i], key))
            continue;
        if (found)
            return xlmig__json_error(ctx, kind, label, "member \"%s\" "
                                     "appears more than once", key);
        found = obj->u.object.values[i];
    }
    *v_r = found;
    return 0;
}

/* Member @key of @obj, present exactly once, in *v_r. */
static int member(libxlmig_ctx *ctx, const struct xlmig__json_kind *kind,
                  const char *label, yajl_val obj, const char *key,
                  yajl_val *v_r)
{
    yajl_val found = NULL;
    int rc = member_opt(ctx, kind, label, obj, key, &found);

    *v_r = NULL;
    if (rc)
        return rc;
    if (!found)
        return xlmig__json_error(ctx, kind, label, "member \"%s\" is "
                                 "missing", key);
    *v_r = found;
    return 0;
}

static int member_string(libxlmig_ctx *ctx, const char *label, yajl_val obj,
                         const char *key, const char **s_r)
{
    yajl_val v;
    int rc = member(ctx, &sr_kind, label, obj, key, &v);

    if (rc)
        return rc;
    if (!YAJL_IS_STRING(v))
        return meta_error(ctx, label, "member \"%s\" is %s, not a string",
                          key, xlmig__json_type_name(v));
    *s_r = YAJL_GET_STRING(v);
    return 0;
}

static int member_bool(libxlmig_ctx *ctx, const char *label, yajl_val obj,
                       const char *key, bool *b_r)
{
    yajl_val v;
    int rc = member(ctx, &sr_kind, label, obj, key, &v);

    if (rc)
        return rc;
    if (!YAJL_IS_TRUE(v) && !YAJL_IS_FALSE(v))
        return meta_error(ctx, label, "member \"%s\" is %s, not true or "
                          "false", key, xlmig__json_type_name(v));
    *b_r = YAJL_IS_TRUE(v);
    return 0;
}

/* A non-negative integer member of at most @max. */
static int member_u64(libxlmig_ctx *ctx, const struct xlmig__json_kind *kind,
                      const char *label, yajl_val obj, const char *key,
                      uint64_t max, uint64_t *v_r)
{
    yajl_val v;
    int rc = member(ctx, kind, label, obj, key, &v);

    if (rc)
        return rc;
    if (!YAJL_IS_INTEGER(v))
        return xlmig__json_error(ctx, kind, label, "member \"%s\" is %s, "
                                 "not an integer", key,
                                 xlmig__json_type_name(v));
    if (YAJL_GET_INTEGER(v) < 0 || (uint64_t)YAJL_GET_INTEGER(v) > max)
        return xlmig__json_error(ctx, kind, label, "member \"%s\": %lld is "
                                 "out of range (0 .. %llu)", key,
                                 (long long)YAJL_GET_INTEGER(v),
                                 (unsigned long long)max);
    *v_r = (uint64_t)YAJL_GET_INTEGER(v);
    return 0;
}

static int member_uuid(libxlmig_ctx *ctx, const char *label, yajl_val obj,
                       const char *key, char out[XLMIG__UUID_LEN + 1])
{
    char quoted[XLMIG__QUOTE_MAX + 8];
    const char *s;
    int rc = member_string(ctx, label, obj, key, &s);

    if (rc)
        return rc;
    if (!xlmig__uuid_ok(s)) {
        xlmig__quote(s, 0, quoted, sizeof(quoted));
        return meta_error(ctx, label, "member \"%s\": \"%s\" is not a "
                          "lowercase UUID", key, quoted);
    }
    xlmig__strlcpy(out, s, XLMIG__UUID_LEN + 1);
    return 0;
}

static int member_name(libxlmig_ctx *ctx, const char *label, yajl_val obj,
                       char out[XLMIG__SR_NAME_MAX + 1])
{
    char why[96], quoted[XLMIG__QUOTE_MAX + 8];
    const char *s;
    size_t at;
    int rc = member_string(ctx, label, obj, "name", &s);

    if (rc)
        return rc;
    if (!xlmig__name_ok(s, why, sizeof(why), &at)) {
        xlmig__quote(s, at, quoted, sizeof(quoted));
        return meta_error(ctx, label, "member \"name\": \"%s\" is not a "
                          "valid name: %s", quoted, why);
    }
    xlmig__strlcpy(out, s, XLMIG__SR_NAME_MAX + 1);
    return 0;
}

static int member_version(libxlmig_ctx *ctx, const char *label, yajl_val obj)
{
    uint64_t version;
    int rc = member_u64(ctx, &sr_kind, label, obj, "version", 1u << 30,
                        &version);

    if (rc)
        return rc;
    if (version != XLMIG__SR_VERSION)
        return meta_error(ctx, label, "version %llu is not one this "
                          "libxlmig knows (%d)",
                          (unsigned long long)version, XLMIG__SR_VERSION);
    return 0;
}

/* Load @len bytes as an object, into *root_r (yajl_tree_free() it). */
static int load(libxlmig_ctx *ctx, const struct xlmig__json_kind *kind,
                const char *label, const uint8_t *json, size_t len,
                yajl_val *root_r)
{
    if (!json && len)
        return xlmig__json_error(ctx, kind, label, "no text");
    return xlmig__json_load(ctx, kind, label, json ? json : (const uint8_t *)"",
                            len, root_r);
}

int xlmig__sr_decode(libxlmig_ctx *ctx, const char *label,
                     const uint8_t *json, size_t len, struct xlmig__sr *r)
{
    struct xlmig__sr sr;
    yajl_val root = NULL, caps;
    const char *s;
    size_t i;
    int rc;

    if (!r)
        return LIBXLMIG_ERR_INVALID_ARGUMENT;
    memset(&sr, 0, sizeof(sr));
    rc = load(ctx, &sr_kind, label, json, len, &root);
    if (rc)
        return rc;
    rc = member_version(ctx, label, root);
    if (!rc)
        rc = member_uuid(ctx, label, root, "uuid", sr.uuid);
    if (!rc)
        rc = member_name(ctx, label, root, sr.name);
    if (!rc)
        rc = member_string(ctx, label, root, "type", &s);
    if (rc) goto out;
    if (strcmp(s, "file")) {
        char quoted[XLMIG__QUOTE_MAX + 8];

        xlmig__quote(s, 0, quoted, sizeof(quoted));
        rc = meta_error(ctx, label, "member \"type\": \"%s\" is not an SR "
                        "type this libxlmig knows (\"file\")", quoted);
        goto out;
    }
    rc = member_string(ctx, label, root, "path", &s);
    if (rc) goto out;
    if (xlmig__sr_path_check(NULL, s)) {
        char quoted[XLMIG__QUOTE_MAX + 8];

        xlmig__quote(s, 0, quoted, sizeof(quoted));
        rc = meta_error(ctx, label, "member \"path\": \"%s\" is not an "
                        "absolute path without \".\" or \"..\"", quoted);
        goto out;
    }
    xlmig__strlcpy(sr.path, s, sizeof(sr.path));
    rc = member(ctx, &sr_kind, label, root, "capabilities", &caps);
    if (rc) goto out;
    if (!YAJL_IS_ARRAY(caps)) {
        rc = meta_error(ctx, label, "member \"capabilities\" is %s, not an "
                        "array", xlmig__json_type_name(caps));
        goto out;
    }
    for (i = 0; i < caps->u.array.len; i++) {
        yajl_val c = caps->u.array.values[i];
        unsigned int b;
        const char *cs = YAJL_IS_STRING(c) ? YAJL_GET_STRING(c) : NULL;

        for (b = 0; b < XLMIG__SR_CAPS_COUNT; b++) {
            if (cs && !strcmp(cs, cap_names[b]))
                break;
        }
        if (b == XLMIG__SR_CAPS_COUNT) {
            char quoted[XLMIG__QUOTE_MAX + 8];

            xlmig__quote(cs, 0, quoted, sizeof(quoted));
            rc = meta_error(ctx, label, "member \"capabilities\": element "
                            "%zu (%s \"%s\") is not VDI_SNAPSHOT, "
                            "VDI_MIRROR or VDI_MIRROR_IN", i,
                            xlmig__json_type_name(c), quoted);
            goto out;
        }
        sr.caps |= 1u << b;
    }
    *r = sr;
 out:
    yajl_tree_free(root);
    return rc;
}

/*
 * The optional member "vbds": an array of at most XLMIG__VDI_VBDS_MAX
 * objects {"vm": NAME, "device": DEV}, one per VM.  Absent: none (files
 * written before VBDs existed).
 */
static int member_vbds(libxlmig_ctx *ctx, const char *label, yajl_val root,
                       struct xlmig__vdi *vdi)
{
    char sub[PATH_MAX_ + 32], why[96], quoted[XLMIG__QUOTE_MAX + 8];
    yajl_val arr = NULL;
    size_t i, j, at;
    int rc;

    rc = member_opt(ctx, &sr_kind, label, root, "vbds", &arr);
    if (rc || !arr)
        return rc;
    if (!YAJL_IS_ARRAY(arr))
        return meta_error(ctx, label, "member \"vbds\" is %s, not an array",
                          xlmig__json_type_name(arr));
    if (arr->u.array.len > XLMIG__VDI_VBDS_MAX)
        return meta_error(ctx, label, "member \"vbds\" has %zu entries, "
                          "more than the %d a VDI may have",
                          arr->u.array.len, XLMIG__VDI_VBDS_MAX);
    for (i = 0; i < arr->u.array.len; i++) {
        yajl_val e = arr->u.array.values[i];
        struct xlmig__vbd *b = &vdi->vbds[i];
        const char *vm, *dev;

        snprintf(sub, sizeof(sub), "%s vbds[%zu]", label ? label : "", i);
        if (!YAJL_IS_OBJECT(e))
            return meta_error(ctx, sub, "it is %s, not an object",
                              xlmig__json_type_name(e));
        rc = member_string(ctx, sub, e, "vm", &vm);
        if (!rc)
            rc = member_string(ctx, sub, e, "device", &dev);
        if (rc)
            return rc;
        if (!xlmig__name_ok(vm, why, sizeof(why), &at)) {
            xlmig__quote(vm, at, quoted, sizeof(quoted));
            return meta_error(ctx, sub, "member \"vm\": \"%s\" is not a "
                              "valid VM name: %s", quoted, why);
        }
        if (!xlmig__vbd_device_ok(dev)) {
            xlmig__quote(dev, 0, quoted, sizeof(quoted));
            return meta_error(ctx, sub, "member \"device\": \"%s\" is not "
                              "a device name (xvda, hdb, sdc1)", quoted);
        }
        for (j = 0; j < i; j++) {
            if (!strcmp(vdi->vbds[j].vm, vm))
                return meta_error(ctx, sub, "VM %s has a VBD on this VDI "
                                  "already (vbds[%zu])", vm, j);
        }
        xlmig__strlcpy(b->vm, vm, sizeof(b->vm));
        xlmig__strlcpy(b->device, dev, sizeof(b->device));
    }
    vdi->nr_vbds = (unsigned int)i;
    return 0;
}

int xlmig__vdi_decode(libxlmig_ctx *ctx, const char *label,
                      const uint8_t *json, size_t len, struct xlmig__vdi *v)
{
    char quoted[XLMIG__QUOTE_MAX + 8];
    struct xlmig__vdi vdi;
    yajl_val root = NULL;
    const char *s;
    int rc;

    if (!v)
        return LIBXLMIG_ERR_INVALID_ARGUMENT;
    memset(&vdi, 0, sizeof(vdi));
    rc = load(ctx, &sr_kind, label, json, len, &root);
    if (rc)
        return rc;
    rc = member_version(ctx, label, root);
    if (!rc)
        rc = member_uuid(ctx, label, root, "uuid", vdi.uuid);
    if (!rc)
        rc = member_name(ctx, label, root, vdi.name);
    if (!rc)
        rc = member_uuid(ctx, label, root, "sr_uuid", vdi.sr_uuid);
    if (!rc)
        rc = member_string(ctx, label, root, "format", &s);
    if (rc) goto out;
    if (!strcmp(s, "qcow2")) {
        vdi.format = XLMIG__VDI_QCOW2;
    } else if (!strcmp(s, "raw")) {
        vdi.format = XLMIG__VDI_RAW;
    } else {
        xlmig__quote(s, 0, quoted, sizeof(quoted));
        rc = meta_error(ctx, label, "member \"format\": \"%s\" is not "
                        "\"qcow2\" or \"raw\"", quoted);
        goto out;
    }
    rc = member_u64(ctx, &sr_kind, label, root, "virtual_size",
                    XLMIG__VDI_SIZE_MAX, &vdi.virtual_size);
    if (rc) goto out;
    if (!vdi.virtual_size) {
        rc = meta_error(ctx, label, "member \"virtual_size\" is 0");
        goto out;
    }
    rc = member_string(ctx, label, root, "on_boot", &s);
    if (rc) goto out;
    if (!strcmp(s, "persist")) {
        vdi.on_boot = XLMIG__VDI_PERSIST;
    } else if (!strcmp(s, "reset")) {
        vdi.on_boot = XLMIG__VDI_RESET;
    } else {
        xlmig__quote(s, 0, quoted, sizeof(quoted));
        rc = meta_error(ctx, label, "member \"on_boot\": \"%s\" is not "
                        "\"persist\" or \"reset\"", quoted);
        goto out;
    }
    rc = member_bool(ctx, label, root, "cbt_enabled", &vdi.cbt_enabled);
    if (!rc)
        rc = member_bool(ctx, label, root, "encrypted", &vdi.encrypted);
    if (!rc)
        rc = member_bool(ctx, label, root, "sharable", &vdi.sharable);
    if (!rc)
        rc = member_vbds(ctx, label, root, &vdi);
    if (rc) goto out;
    *v = vdi;
 out:
    yajl_tree_free(root);
    return rc;
}

int xlmig__qemu_img_info_decode(libxlmig_ctx *ctx, const char *label,
                                const uint8_t *json, size_t len,
                                uint64_t *virtual_r, uint64_t *physical_r)
{
    yajl_val root = NULL;
    uint64_t virt, phys;
    int rc;

    rc = load(ctx, &info_kind, label, json, len, &root);
    if (rc)
        return rc;
    rc = member_u64(ctx, &info_kind, label, root, "virtual-size",
                    (uint64_t)INT64_MAX, &virt);
    if (!rc)
        rc = member_u64(ctx, &info_kind, label, root, "actual-size",
                        (uint64_t)INT64_MAX, &phys);
    if (!rc) {
        if (virtual_r)
            *virtual_r = virt;
        if (physical_r)
            *physical_r = phys;
    }
    yajl_tree_free(root);
    return rc;
}

/* ------------------------------------------------------------ encoding */

static bool gen_str(yajl_gen g, const char *s)
{
    return yajl_gen_string(g, (const unsigned char *)s, strlen(s)) ==
           yajl_gen_status_ok;
}

static int gen_finish(yajl_gen g, bool ok, char *buf, size_t cap,
                      size_t *len_r)
{
    return ok ? xlmig__gen_finish(g, buf, cap, len_r) : LIBXLMIG_ERR_INTERNAL;
}

static bool sr_ok(const struct xlmig__sr *r)
{
    char why[96];
    size_t at;

    return xlmig__uuid_ok(r->uuid) && xlmig__name_ok(r->name, why, sizeof(why), &at) &&
           !xlmig__sr_path_check(NULL, r->path) &&
           !(r->caps & ~XLMIG__SR_CAPS_ALL);
}

static bool vdi_ok(const struct xlmig__vdi *v)
{
    char why[96];
    size_t at;
    unsigned int i, j;

    if (!(xlmig__uuid_ok(v->uuid) && xlmig__uuid_ok(v->sr_uuid) &&
          xlmig__name_ok(v->name, why, sizeof(why), &at) &&
          xlmig__vdi_format_name(v->format) &&
          xlmig__vdi_on_boot_name(v->on_boot) && v->virtual_size >= 1 &&
          v->virtual_size <= XLMIG__VDI_SIZE_MAX &&
          v->nr_vbds <= XLMIG__VDI_VBDS_MAX))
        return false;
    for (i = 0; i < v->nr_vbds; i++) {
        if (!memchr(v->vbds[i].vm, '\0', sizeof(v->vbds[i].vm)) ||
            !xlmig__name_ok(v->vbds[i].vm, why, sizeof(why), &at) ||
            !memchr(v->vbds[i].device, '\0', sizeof(v->vbds[i].device)) ||
            !xlmig__vbd_device_ok(v->vbds[i].device))
            return false;
        for (j = 0; j < i; j++) {
            if (!strcmp(v->vbds[j].vm, v->vbds[i].vm))
                return false;
        }
    }
    return true;
}

int xlmig__sr_encode(const struct xlmig__sr *r, char *buf, size_t cap,
                     size_t *len_r)
{
    yajl_gen g;
    unsigned int b;
    bool ok;
    int rc;

    if (!r || !buf || !len_r || !sr_ok(r))
        return LIBXLMIG_ERR_INVALID_ARGUMENT;
    g = xlmig__gen_new();
    if (!g)
        return LIBXLMIG_ERR_NO_MEMORY;
    ok = yajl_gen_map_open(g) == yajl_gen_status_ok &&
         xlmig__gen_key_integer(g, "version", XLMIG__SR_VERSION) &&
         xlmig__gen_key_string(g, "uuid", r->uuid) &&
         xlmig__gen_key_string(g, "name", r->name) &&
         xlmig__gen_key_string(g, "type", "file") &&
         xlmig__gen_key_string(g, "path", r->path) &&
         gen_str(g, "capabilities") &&
         yajl_gen_array_open(g) == yajl_gen_status_ok;
    for (b = 0; ok && b < XLMIG__SR_CAPS_COUNT; b++) {
        if (r->caps & (1u << b))
            ok = gen_str(g, cap_names[b]);
    }
    ok = ok && yajl_gen_array_close(g) == yajl_gen_status_ok &&
         yajl_gen_map_close(g) == yajl_gen_status_ok;
    rc = gen_finish(g, ok, buf, cap, len_r);
    yajl_gen_free(g);
    return rc;
}

int xlmig__vdi_encode(const struct xlmig__vdi *v, char *buf, size_t cap,
                      size_t *len_r)
{
    yajl_gen g;
    unsigned int i;
    bool ok;
    int rc;

    if (!v || !buf || !len_r || !vdi_ok(v))
        return LIBXLMIG_ERR_INVALID_ARGUMENT;
    g = xlmig__gen_new();
    if (!g)
        return LIBXLMIG_ERR_NO_MEMORY;
    ok = yajl_gen_map_open(g) == yajl_gen_status_ok &&
         xlmig__gen_key_integer(g, "version", XLMIG__SR_VERSION) &&
         xlmig__gen_key_string(g, "uuid", v->uuid) &&
         xlmig__gen_key_string(g, "name", v->name) &&
         xlmig__gen_key_string(g, "sr_uuid", v->sr_uuid) &&
         xlmig__gen_key_string(g, "format", xlmig__vdi_format_name(v->format)) &&
         xlmig__gen_key_integer(g, "virtual_size", (long long)v->virtual_size) &&
         xlmig__gen_key_string(g, "on_boot", xlmig__vdi_on_boot_name(v->on_boot)) &&
         xlmig__gen_key_bool(g, "cbt_enabled", v->cbt_enabled) &&
         xlmig__gen_key_bool(g, "encrypted", v->encrypted) &&
         xlmig__gen_key_bool(g, "sharable", v->sharable);
    /* Written only when there are VBDs: a VDI without any has the
     * same file as before VBDs existed. */
    if (ok && v->nr_vbds) {
        ok = gen_str(g, "vbds") &&
             yajl_gen_array_open(g) == yajl_gen_status_ok;
        for (i = 0; ok && i < v->nr_vbds; i++)
            ok = yajl_gen_map_open(g) == yajl_gen_status_ok &&
                 xlmig__gen_key_string(g, "vm", v->vbds[i].vm) &&
                 xlmig__gen_key_string(g, "device", v->vbds[i].device) &&
                 yajl_gen_map_close(g) == yajl_gen_status_ok;
        ok = ok && yajl_gen_array_close(g) == yajl_gen_status_ok;
    }
    ok = ok && yajl_gen_map_close(g) == yajl_gen_status_ok;
    rc = gen_finish(g, ok, buf, cap, len_r);
    yajl_gen_free(g);
    return rc;
}

/* ------------------------------------------------------------ qemu-img */

/*
 * Run qemu-img (proc.h: $XLMIG_QEMU_IMG or qemu-img) with @argv; 0, or
 * LIBXLMIG_ERR_IO with @err saying why (not logged: the caller names the
 * VDI).
 */
static int run_qemu_img(char *const argv[], char *out, size_t out_cap,
                        size_t *out_len_r, char *err, size_t err_len)
{
    return xlmig__proc_run(xlmig__qemu_img_bin(), argv, out, out_cap,
                           out_len_r, err, err_len);
}

/* ------------------------------------------------------------ files */

int xlmig__vdi_path(const struct xlmig__sr *sr, const char *uuid,
                    const char *ext, char *out, size_t len)
{
    int n = snprintf(out, len, "%s/%s.%s", sr->path, uuid, ext);

    return n < 0 || (size_t)n >= len ? LIBXLMIG_ERR_INVALID_ARGUMENT : 0;
}

/* STATE/srs into @dir; the SR file of @uuid into @path (when given). */
static int sr_paths(libxlmig_ctx *ctx, const char *state_dir,
                    const char *uuid, char *dir, char *path)
{
    const char *state = xlmig__state_dir(state_dir);
    int n = snprintf(dir, PATH_MAX_, "%s/srs", state);

    if (n < 0 || n >= PATH_MAX_ - XLMIG__UUID_LEN - 40)
        return xlmig__error(ctx, LIBXLMIG_ERR_INVALID_ARGUMENT, -1,
                            "state directory path \"%.80s...\" is too long",
                            state);
    if (path)
        snprintf(path, PATH_MAX_, "%s/%s" JSON_SUFFIX, dir, uuid);
    return 0;
}

/* Encode and write @text as @path in @dir, crash-safely. */
static int write_sr(libxlmig_ctx *ctx, const char *state_dir,
                    const struct xlmig__sr *sr)
{
    char dir[PATH_MAX_], path[PATH_MAX_], text[XLMIG__SR_FILE_MAX + 1];
    size_t len;
    int rc;

    rc = sr_paths(ctx, state_dir, sr->uuid, dir, path);
    if (rc)
        return rc;
    rc = xlmig__sr_encode(sr, text, sizeof(text), &len);
    if (rc)
        return xlmig__error(ctx, rc, -1, "cannot encode SR %s (%s)",
                            sr->name, sr->uuid);
    rc = xlmig__dir_make(ctx, &sr_kind, xlmig__state_dir(state_dir));
    if (!rc)
        rc = xlmig__dir_make(ctx, &sr_kind, dir);
    if (!rc)
        rc = xlmig__file_write(ctx, dir, path, text, len);
    return rc;
}

static int sr_load_file(libxlmig_ctx *ctx, const char *path,
                        struct xlmig__sr *sr)
{
    char *text = NULL;
    size_t len = 0;
    int rc = xlmig__file_read(ctx, &sr_kind, path, &text, &len);

    if (!rc)
        rc = xlmig__sr_decode(ctx, path, (const uint8_t *)text, len, sr);
    free(text);
    return rc;
}

static int sr_cmp(const void *a, const void *b)
{
    const struct xlmig__sr *x = a, *y = b;
    int c = strcmp(x->name, y->name);

    return c ? c : strcmp(x->uuid, y->uuid);
}

/* Is @de_name "UUID.json"?  Then the UUID into @uuid. */
int xlmig__sr_list(libxlmig_ctx *ctx, const char *state_dir,
                   struct xlmig__sr **srs_r, size_t *nr_r)
{
    char dir[PATH_MAX_], path[PATH_MAX_ + 64], uuid[XLMIG__UUID_LEN + 1];
    struct xlmig__sr *srs = NULL;
    DIR *d = NULL;
    size_t nr = 0;
    int rc, r;

    if (!srs_r || !nr_r)
        return xlmig__error(ctx, LIBXLMIG_ERR_INVALID_ARGUMENT, -1,
                            "SR list: nowhere to put it");
    *srs_r = NULL;
    *nr_r = 0;
    rc = sr_paths(ctx, state_dir, "", dir, NULL);
    if (rc) goto out;
    d = opendir(dir);
    if (!d) {
        if (errno != ENOENT)
            rc = xlmig__error(ctx, xlmig__file_rc(errno), errno,
                              "cannot read the SR directory %s", dir);
        goto out;
    }
    while ((r = xlmig__uuid_dir_next(d, JSON_SUFFIX, uuid)) > 0) {
        if (nr == XLMIG__SRS_MAX) {
            rc = xlmig__error(ctx, LIBXLMIG_ERR_UNSUPPORTED, -1,
                              "more than %d SRs in %s; forget those that "
                              "are gone (xlmig-xe sr-forget)",
                              XLMIG__SRS_MAX, dir);
            goto out;
        }
        if (!srs) {
            srs = calloc(XLMIG__SRS_MAX, sizeof(*srs));
            if (!srs) {
                rc = xlmig__error(ctx, LIBXLMIG_ERR_NO_MEMORY, -1,
                                  "no memory to list the SRs");
                goto out;
            }
        }
        snprintf(path, sizeof(path), "%s/%s" JSON_SUFFIX, dir, uuid);
        rc = sr_load_file(ctx, path, &srs[nr]);
        if (rc == LIBXLMIG_ERR_NOT_FOUND) {
            /* Forgotten since readdir() named it: not listed. */
            rc = 0;
            continue;
        }
        if (rc) goto out;
        if (strcmp(srs[nr].uuid, uuid)) {
            rc = meta_error(ctx, path, "member \"uuid\" is %s but the file "
                            "is that of SR %s; do not rename SR files",
                            srs[nr].uuid, uuid);
            goto out;
        }
        nr++;
    }
    if (r < 0) {
        rc = xlmig__error(ctx, LIBXLMIG_ERR_IO, -r,
                          "cannot read the SR directory %s", dir);
        goto out;
    }
    if (nr) {
        qsort(srs, nr, sizeof(*srs), sr_cmp);
        *srs_r = srs;
        srs = NULL;             /* the caller frees it now */
        *nr_r = nr;
    }
 out:
    free(srs);
    if (d)
        closedir(d);
    return rc;
}

int xlmig__sr_find(libxlmig_ctx *ctx, const char *state_dir,
                   const char *which, struct xlmig__sr *sr_r)
{
    char quoted[XLMIG__QUOTE_MAX + 8];
    struct xlmig__sr *srs = NULL;
    size_t nr = 0, i, hits = 0, hit = 0;
    int rc;

    if (!which || !*which)
        return xlmig__error(ctx, LIBXLMIG_ERR_INVALID_ARGUMENT, -1,
                            "no SR given; name it by uuid or name-label "
                            "(xlmig-xe sr-list shows them)");
    rc = xlmig__sr_list(ctx, state_dir, &srs, &nr);
    if (rc)
        return rc;
    for (i = 0; i < nr; i++) {
        if (!strcmp(srs[i].uuid, which)) {
            hits = 1;
            hit = i;
            break;
        }
        if (!strcmp(srs[i].name, which)) {
            hits++;
            hit = i;
        }
    }
    xlmig__quote(which, 0, quoted, sizeof(quoted));
    if (hits == 0)
        rc = xlmig__error(ctx, LIBXLMIG_ERR_NOT_FOUND, -1,
                          "no SR \"%s\" in %s/srs; `xlmig-xe sr-list` shows "
                          "the SRs, `xlmig-xe sr-create` makes one", quoted,
                          xlmig__state_dir(state_dir));
    else if (hits > 1)
        rc = xlmig__error(ctx, LIBXLMIG_ERR_INVALID_ARGUMENT, -1,
                          "%zu SRs are named \"%s\"; name it by its uuid",
                          hits, quoted);
    else if (sr_r)
        *sr_r = srs[hit];
    free(srs);
    return rc;
}

int xlmig__sr_create(libxlmig_ctx *ctx, const char *state_dir,
                     const char *name, const char *type, const char *path,
                     unsigned int caps, struct xlmig__sr *sr_r)
{
    char quoted[XLMIG__QUOTE_MAX + 8];
    struct xlmig__sr sr, *srs = NULL;
    struct stat st;
    bool made = false;
    size_t nr = 0, i;
    int rc;

    memset(&sr, 0, sizeof(sr));
    rc = xlmig__name_check(ctx, "SR name", name);
    if (rc) goto out;
    if (type && strcmp(type, "file")) {
        xlmig__quote(type, 0, quoted, sizeof(quoted));
        rc = xlmig__error(ctx, LIBXLMIG_ERR_UNSUPPORTED, -1,
                          "SR %s: type \"%s\" is not supported; the only "
                          "type is \"file\" (a directory of images)", name,
                          quoted);
        goto out;
    }
    rc = xlmig__sr_path_check(ctx, path);
    if (rc) goto out;
    if (caps & ~XLMIG__SR_CAPS_ALL) {
        rc = xlmig__error(ctx, LIBXLMIG_ERR_INVALID_ARGUMENT, -1,
                          "SR %s: unknown capability bits 0x%x", name, caps);
        goto out;
    }
    rc = xlmig__sr_list(ctx, state_dir, &srs, &nr);
    if (rc) goto out;
    for (i = 0; i < nr; i++) {
        if (!strcmp(srs[i].name, name)) {
            rc = xlmig__error(ctx, LIBXLMIG_ERR_INVALID_ARGUMENT, -1,
                              "there is an SR named %s already (%s); "
                              "choose another name", name, srs[i].uuid);
            goto out;
        }
        if (!strcmp(srs[i].path, path)) {
            rc = xlmig__error(ctx, LIBXLMIG_ERR_INVALID_ARGUMENT, -1,
                              "SR %s (%s) already has the directory %s; "
                              "an SR directory belongs to one SR",
                              srs[i].name, srs[i].uuid, path);
            goto out;
        }
    }
    if (stat(path, &st)) {
        if (errno != ENOENT) {
            rc = xlmig__error(ctx, xlmig__file_rc(errno), errno,
                              "SR %s: cannot use directory %s", name, path);
            goto out;
        }
        if (mkdir(path, 0700)) {
            rc = xlmig__error(ctx, xlmig__file_rc(errno), errno,
                              "SR %s: cannot create directory %s (its "
                              "parent must exist)", name, path);
            goto out;
        }
        made = true;
    } else if (!S_ISDIR(st.st_mode)) {
        rc = xlmig__error(ctx, LIBXLMIG_ERR_INVALID_ARGUMENT, ENOTDIR,
                          "SR %s: %s is not a directory", name, path);
        goto out;
    }
    rc = xlmig__uuid_generate(ctx, sr.uuid);
    if (rc) goto out;
    xlmig__strlcpy(sr.name, name, sizeof(sr.name));
    xlmig__strlcpy(sr.path, path, sizeof(sr.path));
    sr.caps = caps ? caps : XLMIG__SR_CAPS_ALL;
    rc = write_sr(ctx, state_dir, &sr);
    if (rc) goto out;
    if (sr_r)
        *sr_r = sr;
 out:
    if (rc && made)
        rmdir(path);
    free(srs);
    return rc;
}

int xlmig__sr_forget(libxlmig_ctx *ctx, const char *state_dir,
                     const char *uuid)
{
    char dir[PATH_MAX_], path[PATH_MAX_], quoted[XLMIG__QUOTE_MAX + 8];
    int rc;

    if (!xlmig__uuid_ok(uuid)) {
        xlmig__quote(uuid, 0, quoted, sizeof(quoted));
        return xlmig__error(ctx, LIBXLMIG_ERR_INVALID_ARGUMENT, -1,
                            "\"%s\" is not an SR uuid; `xlmig-xe sr-list` "
                            "shows them", quoted);
    }
    rc = sr_paths(ctx, state_dir, uuid, dir, path);
    if (rc)
        return rc;
    if (unlink(path)) {
        if (errno == ENOENT)
            return xlmig__error(ctx, LIBXLMIG_ERR_NOT_FOUND, -1,
                                "no SR %s in %s; `xlmig-xe sr-list` shows "
                                "the SRs", uuid, dir);
        return xlmig__error(ctx, xlmig__file_rc(errno), errno,
                            "cannot forget SR %s (%s)", uuid, path);
    }
    return xlmig__dir_sync(ctx, dir);
}

int xlmig__sr_space(libxlmig_ctx *ctx, const struct xlmig__sr *sr,
                    struct xlmig__sr_space *space_r)
{
    struct statvfs s;

    if (statvfs(sr->path, &s))
        return xlmig__error(ctx, xlmig__file_rc(errno), errno,
                            "SR %s: cannot measure the space of %s; is the "
                            "directory there?", sr->name, sr->path);
    space_r->physical_size = (uint64_t)s.f_blocks * s.f_frsize;
    space_r->free_space = (uint64_t)s.f_bavail * s.f_frsize;
    space_r->utilisation = (uint64_t)(s.f_blocks - s.f_bfree) * s.f_frsize;
    return 0;
}

/* ------------------------------------------------------------ VDIs */

static int vdi_load_file(libxlmig_ctx *ctx, const char *path,
                         struct xlmig__vdi *vdi)
{
    char *text = NULL;
    size_t len = 0;
    int rc = xlmig__file_read(ctx, &sr_kind, path, &text, &len);

    if (!rc)
        rc = xlmig__vdi_decode(ctx, path, (const uint8_t *)text, len, vdi);
    free(text);
    return rc;
}

static int vdi_cmp(const void *a, const void *b)
{
    const struct xlmig__vdi *x = a, *y = b;
    int c = strcmp(x->name, y->name);

    return c ? c : strcmp(x->uuid, y->uuid);
}

int xlmig__vdi_list(libxlmig_ctx *ctx, const struct xlmig__sr *sr,
                    struct xlmig__vdi **vdis_r, size_t *nr_r)
{
    char path[PATH_MAX_ + 64], uuid[XLMIG__UUID_LEN + 1];
    struct xlmig__vdi *vdis = NULL;
    DIR *d = NULL;
    size_t nr = 0, cap = 0;
    int rc = 0, r;

    *vdis_r = NULL;
    *nr_r = 0;
    d = opendir(sr->path);
    if (!d) {
        rc = xlmig__error(ctx, xlmig__file_rc(errno), errno,
                          "SR %s: cannot read its directory %s; is it "
                          "mounted?", sr->name, sr->path);
        goto out;
    }
    while ((r = xlmig__uuid_dir_next(d, JSON_SUFFIX, uuid)) > 0) {
        if (nr == XLMIG__VDIS_MAX) {
            rc = xlmig__error(ctx, LIBXLMIG_ERR_UNSUPPORTED, -1,
                              "SR %s: more than %d VDIs in %s", sr->name,
                              XLMIG__VDIS_MAX, sr->path);
            goto out;
        }
        if (nr == cap) {
            /* Doubling, from 16 up to XLMIG__VDIS_MAX entries. */
            size_t ncap = cap ? cap * 2 : 16;
            struct xlmig__vdi *n;

            if (ncap > XLMIG__VDIS_MAX)
                ncap = XLMIG__VDIS_MAX;
            n = realloc(vdis, ncap * sizeof(*vdis));
            if (!n) {
                rc = xlmig__error(ctx, LIBXLMIG_ERR_NO_MEMORY, -1,
                                  "no memory to list the VDIs of SR %s",
                                  sr->name);
                goto out;
            }
            vdis = n;
            cap = ncap;
        }
        snprintf(path, sizeof(path), "%s/%s" JSON_SUFFIX, sr->path, uuid);
        rc = vdi_load_file(ctx, path, &vdis[nr]);
        if (rc == LIBXLMIG_ERR_NOT_FOUND) {
            /* Removed since readdir() named it (a storage move's leaf
             * once composed, a parent rolled back, a vdi-destroy):
             * storage motion and listings take no lock, and a VDI that
             * is gone is not listed; failing would fail vbd-create's
             * device check while another VM's disk is composed here. */
            rc = 0;
            continue;
        }
        if (rc) goto out;
        if (strcmp(vdis[nr].uuid, uuid)) {
            rc = meta_error(ctx, path, "member \"uuid\" is %s but the file "
                            "is that of VDI %s; do not rename VDI files",
                            vdis[nr].uuid, uuid);
            goto out;
        }
        nr++;
    }
    if (r < 0) {
        rc = xlmig__error(ctx, LIBXLMIG_ERR_IO, -r, "SR %s: cannot read %s",
                          sr->name, sr->path);
        goto out;
    }
    if (nr) {
        qsort(vdis, nr, sizeof(*vdis), vdi_cmp);
        *vdis_r = vdis;
        vdis = NULL;            /* the caller frees it now */
        *nr_r = nr;
    }
 out:
    free(vdis);
    if (d)
        closedir(d);
    return rc;
}

int xlmig__vdi_find(libxlmig_ctx *ctx, const char *state_dir,
                    const char *uuid, struct xlmig__sr *sr_r,
                    struct xlmig__vdi *vdi_r)
{
    char path[PATH_MAX_], quoted[XLMIG__QUOTE_MAX + 8];
    struct xlmig__sr *srs = NULL;
    struct xlmig__vdi vdi;
    struct stat st;
    size_t nr = 0, i;
    int rc;

    if (!xlmig__uuid_ok(uuid)) {
        xlmig__quote(uuid, 0, quoted, sizeof(quoted));
        return xlmig__error(ctx, LIBXLMIG_ERR_INVALID_ARGUMENT, -1,
                            "\"%s\" is not a VDI uuid (36 characters, "
                            "lowercase); `xlmig-xe vdi-list` shows them",
                            quoted);
    }
    rc = xlmig__sr_list(ctx, state_dir, &srs, &nr);
    if (rc)
        return rc;
    for (i = 0; i < nr; i++) {
        if (xlmig__vdi_path(&srs[i], uuid, "json", path, sizeof(path)) ||
            lstat(path, &st))
            continue;
        rc = vdi_load_file(ctx, path, &vdi);
        if (rc == LIBXLMIG_ERR_NOT_FOUND) {
            rc = 0;             /* removed since lstat(): not here */
            continue;
        }
        if (rc) goto out;
        if (strcmp(vdi.uuid, uuid)) {
            rc = meta_error(ctx, path, "member \"uuid\" is %s but the file "
                            "is that of VDI %s", vdi.uuid, uuid);
            goto out;
        }
        if (sr_r)
            *sr_r = srs[i];
        if (vdi_r)
            *vdi_r = vdi;
        goto out;
    }
    rc = xlmig__error(ctx, LIBXLMIG_ERR_NOT_FOUND, -1,
                      "no VDI %s in any of the %zu SRs; `xlmig-xe vdi-list` "
                      "shows the VDIs", uuid, nr);
 out:
    free(srs);
    return rc;
}

int xlmig__vdi_create(libxlmig_ctx *ctx, const char *state_dir,
                      const char *sr_which, const char *name,
                      const char *size_text, const char *format,
                      struct xlmig__vdi *vdi_r)
{
    char img[PATH_MAX_], meta[PATH_MAX_], size_arg[32], why[700];
    char text[XLMIG__SR_FILE_MAX + 1], quoted[XLMIG__QUOTE_MAX + 8];
    char out[256];
    struct xlmig__sr sr;
    struct xlmig__vdi vdi;
    struct stat st;
    bool img_made = false;
    size_t len, out_len;
    uint64_t size;
    int rc;

    memset(&vdi, 0, sizeof(vdi));
    memset(&sr, 0, sizeof(sr));
    rc = xlmig__name_check(ctx, "VDI name", name);
    if (rc) goto out;
    rc = xlmig__size_parse(ctx, "virtual size", size_text, &size);
    if (rc) goto out;
    if (!format || !strcmp(format, "qcow2")) {
        vdi.format = XLMIG__VDI_QCOW2;
    } else if (!strcmp(format, "raw")) {
        vdi.format = XLMIG__VDI_RAW;
    } else {
        xlmig__quote(format, 0, quoted, sizeof(quoted));
        rc = xlmig__error(ctx, LIBXLMIG_ERR_INVALID_ARGUMENT, -1,
                          "VDI %s: format \"%s\" is not \"qcow2\" or "
                          "\"raw\"", name, quoted);
        goto out;
    }
    rc = xlmig__sr_find(ctx, state_dir, sr_which, &sr);
    if (rc) goto out;
    xlmig__strlcpy(vdi.name, name, sizeof(vdi.name));
    xlmig__strlcpy(vdi.sr_uuid, sr.uuid, sizeof(vdi.sr_uuid));
    vdi.virtual_size = (size + 511) & ~(uint64_t)511;
    vdi.on_boot = XLMIG__VDI_PERSIST;
    rc = xlmig__uuid_generate(ctx, vdi.uuid);
    if (rc) goto out;
    if (xlmig__vdi_path(&sr, vdi.uuid, xlmig__vdi_format_name(vdi.format),
                        img, sizeof(img)) ||
        xlmig__vdi_path(&sr, vdi.uuid, "json", meta, sizeof(meta))) {
        rc = xlmig__error(ctx, LIBXLMIG_ERR_INVALID_ARGUMENT, -1,
                          "SR %s: its path is too long", sr.name);
        goto out;
    }
    if (!lstat(img, &st) || !lstat(meta, &st)) {
        rc = xlmig__error(ctx, LIBXLMIG_ERR_IO, EEXIST,
                          "SR %s: %s or %s is there already", sr.name, img,
                          meta);
        goto out;
    }
    rc = xlmig__vdi_encode(&vdi, text, sizeof(text), &len);
    if (rc) {
        rc = xlmig__error(ctx, rc, -1, "cannot encode VDI %s", name);
        goto out;
    }
    snprintf(size_arg, sizeof(size_arg), "%llu",
             (unsigned long long)vdi.virtual_size);
    {
        char *argv[] = { "qemu-img", "create", "-q", "-f",
                         (char *)xlmig__vdi_format_name(vdi.format), img,
                         size_arg, NULL };

        img_made = true;        /* qemu-img may leave a part behind */
        rc = run_qemu_img(argv, out, sizeof(out), &out_len, why,
                          sizeof(why));
    }
    if (rc) {
        rc = xlmig__error(ctx, rc, -1, "VDI %s in SR %s: cannot create the "
                          "image %s: %s; check that the directory is "
                          "there, writable and has space, and that "
                          "qemu-img is installed (qemu-utils)", name,
                          sr.name, img, why);
        goto out;
    }
    rc = xlmig__file_write(ctx, sr.path, meta, text, len);
    if (rc) goto out;
    if (vdi_r)
        *vdi_r = vdi;
 out:
    if (rc && img_made) {
        int fd;

        unlink(img);
        fd = open(sr.path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd >= 0) {
            (void)fsync(fd);    /* best effort: the error is said */
            close(fd);
        }
    }
    return rc;
}

/*
 * The lock of VDI metadata changes: an exclusive flock() of the
 * directory STATE/srs, released by vdi_unlock() (closing it).  Without
 * that directory there is no SR, nothing to change: *fd_r is -1.
 */
static int vdi_lock(libxlmig_ctx *ctx, const char *state_dir, int *fd_r)
{
    char dir[PATH_MAX_];
    int fd, rc;

    *fd_r = -1;
    rc = sr_paths(ctx, state_dir, "", dir, NULL);
    if (rc)
        return rc;
    fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT)
            return 0;
        return xlmig__error(ctx, xlmig__file_rc(errno), errno,
                            "cannot open the SR directory %s to lock it",
                            dir);
    }
    while (flock(fd, LOCK_EX)) {
        int e = errno;

        if (e == EINTR)
            continue;
        close(fd);
        return xlmig__error(ctx, LIBXLMIG_ERR_IO, e,
                            "cannot lock the SR directory %s", dir);
    }
    *fd_r = fd;
    return 0;
}

static void vdi_unlock(int fd)
{
    if (fd >= 0)
        close(fd);              /* releases the flock() */
}

/* Rewrite the metadata of @vdi in @sr crash-safely. */
static int vdi_write(libxlmig_ctx *ctx, const struct xlmig__sr *sr,
                     const struct xlmig__vdi *vdi)
{
    char meta[PATH_MAX_], text[XLMIG__SR_FILE_MAX + 1];
    size_t len;
    int rc;

    if (xlmig__vdi_path(sr, vdi->uuid, "json", meta, sizeof(meta)))
        return xlmig__error(ctx, LIBXLMIG_ERR_INVALID_ARGUMENT, -1,
                            "SR %s: its path is too long", sr->name);
    rc = xlmig__vdi_encode(vdi, text, sizeof(text), &len);
    if (rc)
        return xlmig__error(ctx, rc, -1, "cannot encode VDI %s (%s)",
                            vdi->name, vdi->uuid);
    return xlmig__file_write(ctx, sr->path, meta, text, len);
}

int xlmig__vdi_destroy(libxlmig_ctx *ctx, const char *state_dir,
                       const char *uuid)
{
    char img[PATH_MAX_], meta[PATH_MAX_], lock[PATH_MAX_];
    const struct xlmig__vbd *vbd;
    struct xlmig__sr sr;
    struct xlmig__vdi vdi;
    struct stat st;
    int lock_fd = -1, rc;

    rc = vdi_lock(ctx, state_dir, &lock_fd);
    if (rc) goto out;
    rc = xlmig__vdi_find(ctx, state_dir, uuid, &sr, &vdi);
    if (rc) goto out;
    if (xlmig__vdi_path(&sr, uuid, xlmig__vdi_format_name(vdi.format), img,
                        sizeof(img)) ||
        xlmig__vdi_path(&sr, uuid, "json", meta, sizeof(meta)) ||
        xlmig__vdi_path(&sr, uuid, "lock", lock, sizeof(lock))) {
        rc = xlmig__error(ctx, LIBXLMIG_ERR_INVALID_ARGUMENT, -1,
                          "SR %s: its path is too long", sr.name);
        goto out;
    }
    if (!lstat(lock, &st)) {
        rc = xlmig__error(ctx, LIBXLMIG_ERR_VDI_IN_USE, -1,
                          "VDI %s (%s) in SR %s is in use: %s exists; "
                          "stop what uses it (a VM, a migration) first",
                          vdi.name, uuid, sr.name, lock);
        goto out;
    }
    if (xlmig__vdi_other_vm(&vdi, NULL, &vbd)) {
        rc = xlmig__error(ctx, LIBXLMIG_ERR_VDI_IN_USE, -1,
                          "VDI %s (%s) in SR %s is in use: VM %s has it as "
                          "%s%s; detach it first (xlmig-xe vbd-destroy "
                          "vm=%s vdi-uuid=%s)", vdi.name, uuid, sr.name,
                          vbd->vm, vbd->device,
                          vdi.nr_vbds > 1 ? ", and other VMs too" : "",
                          vbd->vm, uuid);
        goto out;
    }
    /* The image first: a crash leaves the metadata, and destroy again
     * finishes the job. */
    if (unlink(img) && errno != ENOENT) {
        rc = xlmig__error(ctx, xlmig__file_rc(errno), errno,
                          "VDI %s (%s): cannot remove its image %s",
                          vdi.name, uuid, img);
        goto out;
    }
    if (unlink(meta) && errno != ENOENT) {
        rc = xlmig__error(ctx, xlmig__file_rc(errno), errno,
                          "VDI %s (%s): cannot remove its metadata %s",
                          vdi.name, uuid, meta);
        goto out;
    }
    rc = xlmig__dir_sync(ctx, sr.path);
 out:
    vdi_unlock(lock_fd);
    return rc;
}

/* ------------------------------------------------------------ VBDs */

int xlmig__vbd_create(libxlmig_ctx *ctx, const char *state_dir,
                      const char *vdi_uuid, const char *vm,
                      const char *device, struct xlmig__vdi *vdi_r)
{
    char quoted[XLMIG__QUOTE_MAX + 8];
    const struct xlmig__vbd *other;
    struct xlmig__sr sr, *srs = NULL;
    struct xlmig__vdi vdi, *vdis = NULL;
    size_t nr_srs = 0, nr_vdis = 0, i, j;
    unsigned int k;
    int lock_fd = -1, rc;

    rc = xlmig__name_check(ctx, "VM name", vm);
    if (rc) goto out;
    if (!xlmig__vbd_device_ok(device)) {
        xlmig__quote(device, 0, quoted, sizeof(quoted));
        rc = xlmig__error(ctx, LIBXLMIG_ERR_INVALID_ARGUMENT, -1,
                          "VBD of VM %s: device \"%s\" is not a device "
                          "name; write xvd, hd or sd, then letters, then "
                          "optionally a partition number (xvda, hdb, "
                          "sdc1), at most %d bytes", vm, quoted,
                          XLMIG__VBD_DEVICE_MAX);
        goto out;
    }
    rc = vdi_lock(ctx, state_dir, &lock_fd);
    if (rc) goto out;
    rc = xlmig__vdi_find(ctx, state_dir, vdi_uuid, &sr, &vdi);
    if (rc) goto out;
    for (k = 0; k < vdi.nr_vbds; k++) {
        if (!strcmp(vdi.vbds[k].vm, vm)) {
            rc = xlmig__error(ctx, LIBXLMIG_ERR_INVALID_ARGUMENT, -1,
                              "VM %s has VDI %s (%s) already, as %s; a VM "
                              "uses a VDI once", vm, vdi.name, vdi.uuid,
                              vdi.vbds[k].device);
            goto out;
        }
    }
    if (!vdi.sharable && xlmig__vdi_other_vm(&vdi, vm, &other)) {
        rc = xlmig__error(ctx, LIBXLMIG_ERR_VDI_IN_USE, -1,
                          "VDI %s (%s) in SR %s is used by VM %s (as %s) "
                          "and is not sharable; detach it there first "
                          "(xlmig-xe vbd-destroy vm=%s vdi-uuid=%s)",
                          vdi.name, vdi.uuid, sr.name, other->vm,
                          other->device, other->vm, vdi.uuid);
        goto out;
    }
    if (vdi.nr_vbds >= XLMIG__VDI_VBDS_MAX) {
        rc = xlmig__error(ctx, LIBXLMIG_ERR_UNSUPPORTED, -1,
                          "VDI %s (%s) has %d VBDs, the most a VDI may "
                          "have; detach it from a VM first", vdi.name,
                          vdi.uuid, XLMIG__VDI_VBDS_MAX);
        goto out;
    }
    /* The device is @vm's once, over the VDIs of every SR. */
    rc = xlmig__sr_list(ctx, state_dir, &srs, &nr_srs);
    for (i = 0; !rc && i < nr_srs; i++) {
        rc = xlmig__vdi_list(ctx, &srs[i], &vdis, &nr_vdis);
        for (j = 0; !rc && j < nr_vdis; j++) {
            for (k = 0; k < vdis[j].nr_vbds; k++) {
                if (strcmp(vdis[j].vbds[k].vm, vm) ||
                    strcmp(vdis[j].vbds[k].device, device))
                    continue;
                rc = xlmig__error(ctx, LIBXLMIG_ERR_INVALID_ARGUMENT, -1,
                                  "VM %s has device %s already: VDI %s "
                                  "(%s) in SR %s; choose another device "
                                  "(xlmig-xe vbd-list vm=%s shows them)",
                                  vm, device, vdis[j].name, vdis[j].uuid,
                                  srs[i].name, vm);
                break;
            }
        }
        free(vdis);
        vdis = NULL;
    }
    if (rc) goto out;
    xlmig__strlcpy(vdi.vbds[vdi.nr_vbds].vm, vm,
                   sizeof(vdi.vbds[vdi.nr_vbds].vm));
    xlmig__strlcpy(vdi.vbds[vdi.nr_vbds].device, device,
                   sizeof(vdi.vbds[vdi.nr_vbds].device));
    vdi.nr_vbds++;
    rc = vdi_write(ctx, &sr, &vdi);
    if (!rc && vdi_r)
        *vdi_r = vdi;
 out:
    free(vdis);
    free(srs);
    vdi_unlock(lock_fd);
    return rc;
}

int xlmig__vbd_destroy(libxlmig_ctx *ctx, const char *state_dir,
                       const char *vdi_uuid, const char *vm,
                       struct xlmig__vdi *vdi_r)
{
    struct xlmig__sr sr;
    struct xlmig__vdi vdi;
    unsigned int k;
    int lock_fd = -1, rc;

    rc = xlmig__name_check(ctx, "VM name", vm);
    if (rc) goto out;
    rc = vdi_lock(ctx, state_dir, &lock_fd);
    if (rc) goto out;
    rc = xlmig__vdi_find(ctx, state_dir, vdi_uuid, &sr, &vdi);
    if (rc) goto out;
    for (k = 0; k < vdi.nr_vbds && strcmp(vdi.vbds[k].vm, vm); k++)
        ;
    if (k == vdi.nr_vbds) {
        rc = xlmig__error(ctx, LIBXLMIG_ERR_NOT_FOUND, -1,
                          "VM %s has no VBD on VDI %s (%s); `xlmig-xe "
                          "vbd-list vdi-uuid=%s` shows its VBDs", vm,
                          vdi.name, vdi.uuid, vdi.uuid);
        goto out;
    }
    memmove(&vdi.vbds[k], &vdi.vbds[k + 1],
            (vdi.nr_vbds - k - 1) * sizeof(vdi.vbds[0]));
    vdi.nr_vbds--;
    memset(&vdi.vbds[vdi.nr_vbds], 0, sizeof(vdi.vbds[0]));
    rc = vdi_write(ctx, &sr, &vdi);
    if (!rc && vdi_r)
        *vdi_r = vdi;
 out:
    vdi_unlock(lock_fd);
    return rc;
}

int xlmig__vdi_param_set(libxlmig_ctx *ctx, const char *state_dir,
                         const char *uuid,
                         const struct xlmig__vdi_flags *flags,
                         struct xlmig__vdi *vdi_r)
{
    struct xlmig__sr sr;
    struct xlmig__vdi vdi;
    int lock_fd = -1, rc;

    if (!flags ||
        (flags->on_boot != -1 && flags->on_boot != XLMIG__VDI_PERSIST &&
         flags->on_boot != XLMIG__VDI_RESET) ||
        flags->cbt_enabled < -1 || flags->cbt_enabled > 1 ||
        flags->encrypted < -1 || flags->encrypted > 1 ||
        flags->sharable < -1 || flags->sharable > 1)
        return xlmig__error(ctx, LIBXLMIG_ERR_INVALID_ARGUMENT, -1,
                            "VDI %s: no valid flags to set", uuid ? uuid
                                                                  : "?");
    rc = vdi_lock(ctx, state_dir, &lock_fd);
    if (rc) goto out;
    rc = xlmig__vdi_find(ctx, state_dir, uuid, &sr, &vdi);
    if (rc) goto out;
    if (flags->sharable == 0 && vdi.nr_vbds > 1) {
        rc = xlmig__error(ctx, LIBXLMIG_ERR_VDI_IN_USE, -1,
                          "VDI %s (%s) in SR %s is used by %u VMs (%s, "
                          "%s%s); it stays sharable while more than one "
                          "VM uses it: detach it from all but one first "
                          "(xlmig-xe vbd-destroy)", vdi.name, vdi.uuid,
                          sr.name, vdi.nr_vbds, vdi.vbds[0].vm,
                          vdi.vbds[1].vm, vdi.nr_vbds > 2 ? ", ..." : "");
        goto out;
    }
    if (flags->on_boot != -1)
        vdi.on_boot = (enum xlmig__vdi_on_boot)flags->on_boot;
    if (flags->cbt_enabled != -1)
        vdi.cbt_enabled = flags->cbt_enabled;
    if (flags->encrypted != -1)
        vdi.encrypted = flags->encrypted;
    if (flags->sharable != -1)
        vdi.sharable = flags->sharable;
    rc = vdi_write(ctx, &sr, &vdi);
    if (!rc && vdi_r)
        *vdi_r = vdi;
 out:
    vdi_unlock(lock_fd);
    return rc;
}

int xlmig__vdi_sizes(libxlmig_ctx *ctx, const struct xlmig__sr *sr,
                     const struct xlmig__vdi *vdi, uint64_t *virtual_r,
                     uint64_t *physical_r)
{
    char img[PATH_MAX_], why[700], label[PATH_MAX_ + 16];
    char *out = NULL;
    size_t out_len = 0;
    int rc;

    if (xlmig__vdi_path(sr, vdi->uuid, xlmig__vdi_format_name(vdi->format),
                        img, sizeof(img)))
        return xlmig__error(ctx, LIBXLMIG_ERR_INVALID_ARGUMENT, -1,
                            "SR %s: its path is too long", sr->name);
    out = malloc(QEMU_IMG_OUT_MAX);
    if (!out)
        return xlmig__error(ctx, LIBXLMIG_ERR_NO_MEMORY, -1,
                            "no memory for qemu-img's output");
    {
        char *argv[] = { "qemu-img", "info", "-U", "--output=json", "-f",
                         (char *)xlmig__vdi_format_name(vdi->format), img,
                         NULL };

        rc = run_qemu_img(argv, out, QEMU_IMG_OUT_MAX, &out_len, why,
                          sizeof(why));
    }
    if (rc) {
        rc = xlmig__error(ctx, rc, -1, "VDI %s (%s) in SR %s: cannot read "
                          "the image %s: %s", vdi->name, vdi->uuid,
                          sr->name, img, why);
        goto out;
    }
    snprintf(label, sizeof(label), "%s", img);
    rc = xlmig__qemu_img_info_decode(ctx, label, (const uint8_t *)out,
                                     out_len, virtual_r, physical_r);
 out:
    free(out);
    return rc;
}

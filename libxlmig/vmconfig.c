/* SPDX-License-Identifier: LGPL-2.1-only */
/*
 * A domain's libxl configuration (JSON): what a migration reads from
 * it, and the destination's rewrite (vmconfig.h).
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jsonfile.h"
#include "rpc.h"
#include "vmconfig.h"

#define VMCFG_DEPTH_MAX 32

static const struct xlmig__json_kind vmcfg_kind = {
    .what = "domain configuration",
    .a_what = "a domain configuration",
    .invalid_rc = LIBXLMIG_ERR_INVALID_ARGUMENT,
    .max_bytes = XLMIG__DOM_CONFIG_MAX,
    .depth_max = VMCFG_DEPTH_MAX,
};

bool xlmig__mac_parse(const char *mac, char out[XLMIG__MAC_LEN + 1])
{
    size_t i;

    if (!mac || strlen(mac) != XLMIG__MAC_LEN)
        return false;
    for (i = 0; i < XLMIG__MAC_LEN; i++) {
        if (i % 3 == 2 ? mac[i] != ':' : !isxdigit((unsigned char)mac[i]))
            return false;
    }
    for (i = 0; i <= XLMIG__MAC_LEN; i++)
        out[i] = (char)tolower((unsigned char)mac[i]);
    return true;
}

static int bad(libxlmig_ctx *ctx, const char *label, const char *fmt, ...)
    XLMIG__PRINTF(3, 4);
static int bad(libxlmig_ctx *ctx, const char *label, const char *fmt, ...)
{
    char msg[256];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    return xlmig__json_error(ctx, &vmcfg_kind, label, "%s", msg);
}

/*
 * String member @key of @obj into @buf (@cap bytes): 0; 1 when absent
 * or JSON null; an error (logged) when of another type or too long.
 */
static int opt_str(libxlmig_ctx *ctx, const char *label, const char *where,
                   yajl_val obj, const char *key, char *buf, size_t cap)
{
    yajl_val v = xlmig__rpc_get(obj, key);

    buf[0] = '\0';
    if (!v || YAJL_IS_NULL(v))
        return 1;
    if (!YAJL_IS_STRING(v) || strlen(v->u.string) >= cap)
        return bad(ctx, label, "%s member %s is not a string of a fitting "
                   "length", where, key);
    memcpy(buf, v->u.string, strlen(v->u.string) + 1);
    return 0;
}

/* Unsigned integer member; 1 when absent; error when bad. */
static int opt_uint(libxlmig_ctx *ctx, const char *label, const char *where,
                    yajl_val obj, const char *key, uint64_t max,
                    uint64_t *v_r)
{
    yajl_val v = xlmig__rpc_get(obj, key);

    if (!v || YAJL_IS_NULL(v))
        return 1;
    if (!YAJL_IS_INTEGER(v) || YAJL_GET_INTEGER(v) < 0 ||
        (uint64_t)YAJL_GET_INTEGER(v) > max)
        return bad(ctx, label, "%s member %s is not an integer in range",
                   where, key);
    *v_r = (uint64_t)YAJL_GET_INTEGER(v);
    return 0;
}

/* libxl's defbool ("True", "False", "<default>") or a JSON bool. */
static bool defbool_true(yajl_val v)
{
    return v && (YAJL_IS_TRUE(v) ||
                 (YAJL_IS_STRING(v) && !strcmp(v->u.string, "True")));
}

/* An array member: NULL when absent or null; error when not an array. */
static int opt_array(libxlmig_ctx *ctx, const char *label, yajl_val root,
                     const char *key, size_t max, yajl_val *arr_r)
{
    yajl_val v = xlmig__rpc_get(root, key);

    *arr_r = NULL;
    if (!v || YAJL_IS_NULL(v))
        return 0;
    if (!YAJL_IS_ARRAY(v))
        return bad(ctx, label, "member %s is not an array", key);
    if (v->u.array.len > max)
        return bad(ctx, label, "member %s has more than %zu devices", key,
                   max);
    *arr_r = v;
    return 0;
}

static int parse_disk(libxlmig_ctx *ctx, const char *label, yajl_val o,
                      struct xlmig__vmcfg_disk *d)
{
    uint64_t u = 0;
    int rc;

    memset(d, 0, sizeof(*d));
    if (!YAJL_IS_OBJECT(o))
        return bad(ctx, label, "a disk is not an object");
    rc = opt_str(ctx, label, "a disk's", o, "vdev", d->vdev, sizeof(d->vdev));
    if (rc < 0) return rc;
    if (rc || !d->vdev[0])      /* a disk is known by it: "" is none */
        return bad(ctx, label, "a disk has no vdev");
    if ((rc = opt_str(ctx, label, d->vdev, o, "pdev_path", d->path,
                      sizeof(d->path))) < 0 ||
        (rc = opt_str(ctx, label, d->vdev, o, "format", d->format,
                      sizeof(d->format))) < 0 ||
        (rc = opt_str(ctx, label, d->vdev, o, "backend", d->backend,
                      sizeof(d->backend))) < 0)
        return rc;
    rc = opt_uint(ctx, label, d->vdev, o, "readwrite", 1, &u);
    if (rc < 0) return rc;
    d->readwrite = rc == 0 && u;
    u = 0;
    rc = opt_uint(ctx, label, d->vdev, o, "is_cdrom", 1, &u);
    if (rc < 0) return rc;
    d->cdrom = rc == 0 && u;
    return 0;
}

static int parse_nic(libxlmig_ctx *ctx, const char *label, yajl_val o,
                     struct xlmig__vmcfg_nic *n)
{
    char mac[64];
    int rc;

    memset(n, 0, sizeof(*n));
    if (!YAJL_IS_OBJECT(o))
        return bad(ctx, label, "a NIC is not an object");
    rc = opt_str(ctx, label, "a NIC's", o, "mac", mac, sizeof(mac));
    if (rc < 0) return rc;
    if (rc || !xlmig__mac_parse(mac, n->mac))
        return bad(ctx, label, "a NIC has no MAC address of the form "
                   "00:16:3e:12:34:56");
    rc = opt_str(ctx, label, n->mac, o, "bridge", n->bridge,
                 sizeof(n->bridge));
    return rc < 0 ? rc : 0;
}

static int parse_pci(libxlmig_ctx *ctx, const char *label, yajl_val o,
                     struct xlmig__vmcfg_pci *p)
{
    static const char *const keys[] = { "domain", "bus", "dev", "func" };
    static const uint64_t max[] = { 0xffff, 0xff, 0x1f, 7 };
    unsigned int *f[] = { &p->domain, &p->bus, &p->dev, &p->func };
    size_t i;

    memset(p, 0, sizeof(*p));
    if (!YAJL_IS_OBJECT(o))
        return bad(ctx, label, "a PCI device is not an object");
    for (i = 0; i < 4; i++) {
        uint64_t v = 0;
        int rc = opt_uint(ctx, label, "a PCI device's", o, keys[i], max[i],
                          &v);

        if (rc < 0)
            return rc;
        *f[i] = (unsigned int)v;
    }
    return 0;
}

static int parse_tree(libxlmig_ctx *ctx, const char *label, yajl_val root,
                      struct xlmig__vmcfg *c)
{
    yajl_val ci = xlmig__rpc_get(root, "c_info");
    yajl_val bi = xlmig__rpc_get(root, "b_info");
    yajl_val arr;
    uint64_t v;
    size_t i;
    int rc;

    memset(c, 0, sizeof(*c));
    if (!YAJL_IS_OBJECT(ci) || !YAJL_IS_OBJECT(bi))
        return bad(ctx, label, "c_info or b_info is missing");
    rc = opt_str(ctx, label, "c_info", ci, "name", c->name, sizeof(c->name));
    if (rc)
        return rc < 0 ? rc : bad(ctx, label, "c_info has no name");
    rc = opt_str(ctx, label, "c_info", ci, "type", c->type, sizeof(c->type));
    if (rc)
        return rc < 0 ? rc : bad(ctx, label, "c_info has no type");
    if (strcmp(c->type, "pv") && strcmp(c->type, "pvh") &&
        strcmp(c->type, "hvm"))
        return bad(ctx, label, "c_info type %s is not pv, pvh or hvm",
                   c->type);
    rc = opt_str(ctx, label, "c_info", ci, "uuid", c->uuid, sizeof(c->uuid));
    if (rc < 0) return rc;
    rc = opt_uint(ctx, label, "b_info", bi, "max_memkb", UINT64_MAX / 2,
                  &c->max_memkb);
    if (rc) return rc < 0 ? rc : bad(ctx, label, "b_info has no "
                                     "max_memkb");
    c->target_memkb = c->max_memkb;
    rc = opt_uint(ctx, label, "b_info", bi, "target_memkb", UINT64_MAX / 2,
                  &c->target_memkb);
    if (rc < 0) return rc;
    v = 1;
    rc = opt_uint(ctx, label, "b_info", bi, "max_vcpus", 4096, &v);
    if (rc < 0) return rc;
    c->max_vcpus = (unsigned int)v;
    c->nested_hvm = defbool_true(xlmig__rpc_get(bi, "nested_hvm"));
    c->gfx_passthru = defbool_true(
        xlmig__rpc_get(xlmig__rpc_get(bi, "type.hvm"), "gfx_passthru"));

    rc = opt_array(ctx, label, root, "disks", XLMIG__VMCFG_DISKS_MAX, &arr);
    for (i = 0; !rc && arr && i < arr->u.array.len; i++)
        rc = parse_disk(ctx, label, arr->u.array.values[i], &c->disks[i]);
    if (rc) return rc;
    c->nr_disks = arr ? arr->u.array.len : 0;
    rc = opt_array(ctx, label, root, "nics", XLMIG__VMCFG_NICS_MAX, &arr);
    for (i = 0; !rc && arr && i < arr->u.array.len; i++)
        rc = parse_nic(ctx, label, arr->u.array.values[i], &c->nics[i]);
    if (rc) return rc;
    c->nr_nics = arr ? arr->u.array.len : 0;
    rc = opt_array(ctx, label, root, "pcidevs", XLMIG__VMCFG_PCI_MAX, &arr);
    for (i = 0; !rc && arr && i < arr->u.array.len; i++)
        rc = parse_pci(ctx, label, arr->u.array.values[i], &c->pcidevs[i]);
    if (rc) return rc;
    c->nr_pcidevs = arr ? arr->u.array.len : 0;
    rc = opt_array(ctx, label, root, "usbctrls", 1024, &arr);
    if (rc) return rc;
    c->nr_usbctrls = arr ? arr->u.array.len : 0;
    rc = opt_array(ctx, label, root, "usbdevs", 1024, &arr);
    if (rc) return rc;
    c->nr_usbdevs = arr ? arr->u.array.len : 0;
    return 0;
}

int xlmig__vmcfg_parse(libxlmig_ctx *ctx, const char *label,
                       const char *json, size_t len, struct xlmig__vmcfg *c)
{
    struct xlmig__vmcfg *tmp = NULL;
    yajl_val root = NULL;
    int rc;

    if (!json)
        return LIBXLMIG_ERR_INVALID_ARGUMENT;
    rc = xlmig__json_load(ctx, &vmcfg_kind, label, (const uint8_t *)json,
                          len, &root);
    if (rc)
        return rc;
    tmp = malloc(sizeof(*tmp));
    if (!tmp) {
        rc = LIBXLMIG_ERR_NO_MEMORY;
        goto out;
    }
    rc = parse_tree(ctx, label, root, tmp);
    if (!rc)
        *c = *tmp;
 out:
    free(tmp);
    yajl_tree_free(root);
    return rc;
}

int xlmig__vmcfg_tree(const char *json, size_t len, yajl_val *root_r,
                      char *why, size_t why_len)
{
    int rc;

    if (len > XLMIG__DOM_CONFIG_MAX) {
        snprintf(why, why_len, "more than %u bytes", XLMIG__DOM_CONFIG_MAX);
        return LIBXLMIG_ERR_INVALID_ARGUMENT;
    }
    rc = xlmig__json_tree(&vmcfg_kind, (const uint8_t *)json, len, root_r,
                          why, why_len);
    if (!rc && !YAJL_IS_OBJECT(*root_r)) {
        yajl_tree_free(*root_r);
        *root_r = NULL;
        snprintf(why, why_len, "not a JSON object");
        rc = LIBXLMIG_ERR_INVALID_ARGUMENT;
    }
    return rc;
}

const struct xlmig__vmcfg_disk *xlmig__vmcfg_disk(const struct xlmig__vmcfg *c,
                                                  const char *vdev)
{
    size_t i;

    for (i = 0; i < c->nr_disks; i++) {
        if (!strcmp(c->disks[i].vdev, vdev))
            return &c->disks[i];
    }
    return NULL;
}

const struct xlmig__vmcfg_nic *xlmig__vmcfg_nic(const struct xlmig__vmcfg *c,
                                                const char *mac)
{
    char m[XLMIG__MAC_LEN + 1];
    size_t i;

    if (!xlmig__mac_parse(mac, m))
        return NULL;
    for (i = 0; i < c->nr_nics; i++) {
        if (!strcmp(c->nics[i].mac, m))
            return &c->nics[i];
    }
    return NULL;
}

/* ------------------------------------------------------------ rewrite */

#define GSTR(g, s) \
    (yajl_gen_string((g), (const unsigned char *)(s), strlen(s)) == \
     yajl_gen_status_ok)

/*
 * Copy object @o into @g with string members @keys[i] set to @vals[i]
 * (NULL value: left as it is); members missing from @o are appended.
 */
static int gen_object_set(yajl_gen g, yajl_val o, const char *const *keys,
                          const char *const *vals, size_t n)
{
    bool done[8] = { false };
    size_t i, k;
    int rc;

    if (n > 8 || yajl_gen_map_open(g) != yajl_gen_status_ok)
        return LIBXLMIG_ERR_INVALID_ARGUMENT;
    for (i = 0; i < o->u.object.len; i++) {
        const char *key = o->u.object.keys[i];

        if (!GSTR(g, key))
            return LIBXLMIG_ERR_INVALID_ARGUMENT;
        for (k = 0; k < n && (strcmp(keys[k], key) || !vals[k]); k++)
            ;
        if (k < n) {
            done[k] = true;
            if (!GSTR(g, vals[k]))
                return LIBXLMIG_ERR_INVALID_ARGUMENT;
            continue;
        }
        rc = xlmig__rpc_gen_value(g, o->u.object.values[i]);
        if (rc)
            return rc;
    }
    for (k = 0; k < n; k++) {
        if (vals[k] && !done[k] && (!GSTR(g, keys[k]) || !GSTR(g, vals[k])))
            return LIBXLMIG_ERR_INVALID_ARGUMENT;
    }
    return yajl_gen_map_close(g) == yajl_gen_status_ok
               ? 0 : LIBXLMIG_ERR_INVALID_ARGUMENT;
}

/* The edit of the disk or NIC element @o of array @key, or -1. */
static long edit_index(const struct xlmig__vmcfg_edit *e, const char *key,
                       yajl_val o)
{
    const char *id;
    char mac[XLMIG__MAC_LEN + 1];
    size_t i;

    if (!strcmp(key, "disks")) {
        id = xlmig__rpc_get_str(o, "vdev");
        for (i = 0; id && i < e->nr_disks; i++) {
            if (!strcmp(e->disks[i].vdev, id))
                return (long)i;
        }
    } else {
        id = xlmig__rpc_get_str(o, "mac");
        if (!id || !xlmig__mac_parse(id, mac))
            return -1;
        for (i = 0; i < e->nr_nics; i++) {
            char m[XLMIG__MAC_LEN + 1];

            if (xlmig__mac_parse(e->nics[i].mac, m) && !strcmp(m, mac))
                return (long)i;
        }
    }
    return -1;
}

static int gen_devices(yajl_gen g, yajl_val arr, const char *key,
                       const struct xlmig__vmcfg_edit *e)
{
    size_t i;
    int rc;

    if (yajl_gen_array_open(g) != yajl_gen_status_ok)
        return LIBXLMIG_ERR_INVALID_ARGUMENT;
    for (i = 0; i < arr->u.array.len; i++) {
        yajl_val o = arr->u.array.values[i];
        long k = edit_index(e, key, o);

        if (k < 0) {
            rc = xlmig__rpc_gen_value(g, o);
        } else if (!strcmp(key, "disks")) {
            const char *keys[] = { "pdev_path", "format" };
            const char *vals[] = { e->disks[k].path, e->disks[k].format };

            rc = gen_object_set(g, o, keys, vals, 2);
        } else {
            const char *keys[] = { "bridge" };
            const char *vals[] = { e->nics[k].bridge };

            rc = gen_object_set(g, o, keys, vals, 1);
        }
        if (rc)
            return rc;
    }
    return yajl_gen_array_close(g) == yajl_gen_status_ok
               ? 0 : LIBXLMIG_ERR_INVALID_ARGUMENT;
}

int xlmig__vmcfg_rewrite(libxlmig_ctx *ctx, const char *json, size_t len,
                         const struct xlmig__vmcfg_edit *e, char **out_r)
{
    struct xlmig__vmcfg *c = NULL;
    yajl_val root = NULL;
    yajl_gen g = NULL;
    const unsigned char *buf;
    size_t i, blen;
    int rc;

    *out_r = NULL;
    c = malloc(sizeof(*c));
    if (!c)
        return LIBXLMIG_ERR_NO_MEMORY;
    rc = xlmig__vmcfg_parse(ctx, "to rewrite", json, len, c);
    if (rc) goto out;
    for (i = 0; i < e->nr_disks; i++) {
        if (!xlmig__vmcfg_disk(c, e->disks[i].vdev)) {
            rc = xlmig__error(ctx, LIBXLMIG_ERR_INVALID_ARGUMENT, -1,
                              "VM %s has no disk %s", c->name,
                              e->disks[i].vdev);
            goto out;
        }
    }
    for (i = 0; i < e->nr_nics; i++) {
        if (!xlmig__vmcfg_nic(c, e->nics[i].mac)) {
            rc = xlmig__error(ctx, LIBXLMIG_ERR_INVALID_ARGUMENT, -1,
                              "VM %s has no VIF with MAC %s", c->name,
                              e->nics[i].mac);
            goto out;
        }
    }
    rc = xlmig__json_load(ctx, &vmcfg_kind, "to rewrite",
                          (const uint8_t *)json, len, &root);
    if (rc) goto out;
    g = xlmig__gen_new();
    if (!g || yajl_gen_map_open(g) != yajl_gen_status_ok) {
        rc = LIBXLMIG_ERR_NO_MEMORY;
        goto out;
    }
    for (i = 0; i < root->u.object.len; i++) {
        const char *key = root->u.object.keys[i];
        yajl_val v = root->u.object.values[i];

        if (!GSTR(g, key))
            goto gen_fail;
        if (!strcmp(key, "c_info") && YAJL_IS_OBJECT(v)) {
            const char *keys[] = { "name", "uuid" };
            const char *vals[] = { e->name, e->uuid };

            rc = gen_object_set(g, v, keys, vals, 2);
        } else if ((!strcmp(key, "disks") || !strcmp(key, "nics")) &&
                   YAJL_IS_ARRAY(v)) {
            rc = gen_devices(g, v, key, e);
        } else {
            rc = xlmig__rpc_gen_value(g, v);
        }
        if (rc)
            goto gen_fail;
    }
    if (yajl_gen_map_close(g) != yajl_gen_status_ok ||
        yajl_gen_get_buf(g, &buf, &blen) != yajl_gen_status_ok)
        goto gen_fail;
    *out_r = malloc(blen + 1);
    if (!*out_r) {
        rc = LIBXLMIG_ERR_NO_MEMORY;
        goto out;
    }
    memcpy(*out_r, buf, blen);
    (*out_r)[blen] = '\0';
    goto out;
 gen_fail:
    rc = xlmig__error(ctx, LIBXLMIG_ERR_INVALID_ARGUMENT, -1, "the domain "
                      "configuration of VM %s could not be written back as "
                      "JSON", c->name);
 out:
    if (g)
        yajl_gen_free(g);
    yajl_tree_free(root);
    free(c);
    return rc;
}

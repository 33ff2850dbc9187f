/* SPDX-License-Identifier: LGPL-2.1-only */
/*
 * VM records (vmrec.h).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cpurecord.h"
#include "jsonfile.h"
#include "rpc.h"
#include "sr.h"
#include "uuid.h"
#include "vmconfig.h"
#include "vmrec.h"

#define PATH_MAX_ XLMIG__JSONFILE_PATH_MAX

static const struct xlmig__json_kind vmrec_kind = {
    .what = "VM record",
    .a_what = "a VM record",
    .invalid_rc = LIBXLMIG_ERR_RECORD_INVALID,
    .max_bytes = XLMIG__VMREC_MAX,
    .depth_max = 40,
    .dir_before = "the VM records' directory ",
    .dir_after = "",
    .dir_role = "the VM records",
};

static int vm_dir(libxlmig_ctx *ctx, const char *state_dir, char *dir,
                  size_t cap, bool make)
{
    return xlmig__state_subdir(ctx, &vmrec_kind, state_dir, "vm", make, dir,
                               cap);
}

int xlmig__vmrec_decode(libxlmig_ctx *ctx, const char *label,
                        const uint8_t *json, size_t len,
                        struct xlmig__vmrec *r, char **config_r)
{
    struct xlmig__vmrec rec;
    struct xlmig__vmcfg *cfg = NULL;
    yajl_val root = NULL, c;
    yajl_gen g = NULL;
    long long version = 0;
    const unsigned char *buf;
    size_t blen;
    int rc;

    memset(&rec, 0, sizeof(rec));
    rc = xlmig__json_load(ctx, &vmrec_kind, label, json, len, &root);
    if (rc)
        return rc;
    if (xlmig__json_get_integer(root, "version", 0, 1000, &version) ||
        version != 1 ||
        xlmig__json_get_string(root, "uuid", rec.uuid, sizeof(rec.uuid)) ||
        !xlmig__uuid_ok(rec.uuid) ||
        xlmig__json_get_string(root, "name", rec.name, sizeof(rec.name))) {
        rc = xlmig__json_error(ctx, &vmrec_kind, label, "version 1, uuid "
                               "and name are needed");
        goto out;
    }
    c = xlmig__rpc_get(root, "config");
    g = xlmig__gen_new();
    cfg = malloc(sizeof(*cfg));
    if (!g || !cfg) {
        rc = LIBXLMIG_ERR_NO_MEMORY;
        goto out;
    }
    if (!YAJL_IS_OBJECT(c) || xlmig__rpc_gen_value(g, c) ||
        yajl_gen_get_buf(g, &buf, &blen) != yajl_gen_status_ok) {
        rc = xlmig__json_error(ctx, &vmrec_kind, label, "member \"config\" "
                               "is not a domain configuration");
        goto out;
    }
    rc = xlmig__vmcfg_parse(ctx, label, (const char *)buf, blen, cfg);
    if (rc)
        goto out;
    if (config_r) {
        *config_r = malloc(blen + 1);
        if (!*config_r) {
            rc = LIBXLMIG_ERR_NO_MEMORY;
            goto out;
        }
        memcpy(*config_r, buf, blen);
        (*config_r)[blen] = '\0';
    }
    *r = rec;
 out:
    free(cfg);
    if (g)
        yajl_gen_free(g);
    yajl_tree_free(root);
    return rc;
}

static int load(libxlmig_ctx *ctx, const char *state_dir, const char *uuid,
                struct xlmig__vmrec *r, char **config_r)
{
    char dir[PATH_MAX_], path[PATH_MAX_ + 64];
    char *text = NULL, *config = NULL;
    size_t len = 0;
    int rc;

    if (!xlmig__uuid_ok(uuid))
        return LIBXLMIG_ERR_NOT_FOUND;
    rc = vm_dir(ctx, state_dir, dir, sizeof(dir), false);
    if (rc)
        return rc;
    snprintf(path, sizeof(path), "%s/%s.json", dir, uuid);
    rc = xlmig__file_read(ctx, &vmrec_kind, path, &text, &len);
    if (rc)
        return rc;
    rc = xlmig__vmrec_decode(ctx, path, (const uint8_t *)text, len, r,
                             config_r ? &config : NULL);
    free(text);
    if (!rc && strcmp(r->uuid, uuid))
        rc = xlmig__error(ctx, LIBXLMIG_ERR_RECORD_INVALID, -1, "%s holds "
                          "VM %s", path, r->uuid);
    if (!rc && config_r) {
        *config_r = config;
        config = NULL;          /* the caller frees it now */
    }
    free(config);
    return rc;
}

int xlmig__vmrec_save(libxlmig_ctx *ctx, const char *state_dir,
                      const char *uuid, const char *name, const char *config,
                      size_t len)
{
    char dir[PATH_MAX_], path[PATH_MAX_ + 64], why[256];
    struct xlmig__vmcfg *cfg;
    yajl_val root = NULL;
    yajl_gen g = NULL;
    const unsigned char *buf;
    size_t blen;
    int rc;

    if (!xlmig__uuid_ok(uuid) || !name || !*name ||
        strlen(name) > XLMIG__DOM_NAME_MAX)
        return xlmig__error(ctx, LIBXLMIG_ERR_INVALID_ARGUMENT, -1,
                            "a VM record needs a uuid and a name");
    /* What load() will ask of it, asked now: never a record it refuses. */
    cfg = malloc(sizeof(*cfg));
    if (!cfg)
        return LIBXLMIG_ERR_NO_MEMORY;
    rc = xlmig__vmcfg_parse(ctx, name, config, len, cfg);
    free(cfg);
    if (rc)
        return rc;
    rc = xlmig__vmcfg_tree(config, len, &root, why, sizeof(why));
    if (rc)
        return xlmig__error(ctx, rc, -1, "VM %s's configuration: %s", name,
                            why);
    rc = vm_dir(ctx, state_dir, dir, sizeof(dir), true);
    if (rc)
        goto out;
    g = xlmig__gen_new();
    if (!g) {
        rc = LIBXLMIG_ERR_NO_MEMORY;
        goto out;
    }
    if (yajl_gen_map_open(g) != yajl_gen_status_ok ||
        !xlmig__gen_key_integer(g, "version", 1) ||
        !xlmig__gen_key_string(g, "uuid", uuid) ||
        !xlmig__gen_key_string(g, "name", name) ||
        yajl_gen_string(g, (const unsigned char *)"config", 6) !=
            yajl_gen_status_ok ||
        xlmig__rpc_gen_value(g, root) ||
        yajl_gen_map_close(g) != yajl_gen_status_ok ||
        yajl_gen_get_buf(g, &buf, &blen) != yajl_gen_status_ok ||
        blen > XLMIG__VMREC_MAX) {
        rc = xlmig__error(ctx, LIBXLMIG_ERR_INVALID_ARGUMENT, -1, "VM %s's "
                          "record cannot be written", name);
        goto out;
    }
    snprintf(path, sizeof(path), "%s/%s.json", dir, uuid);
    rc = xlmig__file_write(ctx, dir, path, (const char *)buf, blen);
 out:
    if (g)
        yajl_gen_free(g);
    yajl_tree_free(root);
    return rc;
}

int xlmig__vmrec_config(libxlmig_ctx *ctx, const char *state_dir,
                        const char *uuid, char **config_r)
{
    struct xlmig__vmrec r;
    int rc = load(ctx, state_dir, uuid, &r, config_r);

    if (rc == LIBXLMIG_ERR_NOT_FOUND)
        return xlmig__error(ctx, rc, -1, "no record of VM %s on this host",
                            uuid);
    return rc;
}

int xlmig__vmrec_remove(libxlmig_ctx *ctx, const char *state_dir,
                        const char *uuid)
{
    char dir[PATH_MAX_], path[PATH_MAX_ + 64];
    int rc;

    if (!uuid || !xlmig__uuid_ok(uuid))
        return 0;
    rc = vm_dir(ctx, state_dir, dir, sizeof(dir), false);
    if (rc)
        return rc;
    snprintf(path, sizeof(path), "%s/%s.json", dir, uuid);
    if (unlink(path) && errno != ENOENT)
        return xlmig__error(ctx, LIBXLMIG_ERR_IO, errno, "cannot remove %s",
                            path);
    (void)xlmig__dir_sync(ctx, dir);
    return 0;
}

static int name_cmp(const void *a, const void *b)
{
    const struct xlmig__vmrec *x = a, *y = b;
    int c = strcmp(x->name, y->name);

    return c ? c : strcmp(x->uuid, y->uuid);
}

static int list_one(libxlmig_ctx *ctx, void *opaque, const char *uuid,
                    void *rec)
{
    return load(ctx, opaque, uuid, rec, NULL);
}

int xlmig__vmrec_list(libxlmig_ctx *ctx, const char *state_dir,
                      struct xlmig__vmrec **recs_r, size_t *nr_r)
{
    char dir[PATH_MAX_];
    void *recs;
    int rc;

    *recs_r = NULL;
    *nr_r = 0;
    rc = vm_dir(ctx, state_dir, dir, sizeof(dir), false);
    if (rc)
        return rc;
    rc = xlmig__uuid_records(ctx, dir, sizeof(**recs_r), XLMIG__VMRECS_MAX,
                             list_one, (void *)state_dir, name_cmp, &recs,
                             nr_r);
    *recs_r = recs;
    return rc;
}

int xlmig__vmrec_find(libxlmig_ctx *ctx, const char *state_dir,
                      const char *which, struct xlmig__vmrec *r_r)
{
    struct xlmig__vmrec *recs = NULL;
    size_t nr = 0, i, found = 0;
    int rc;

    if (xlmig__uuid_ok(which)) {
        char *cfg = NULL;

        rc = load(ctx, state_dir, which, r_r, &cfg);
        free(cfg);
        return rc;
    }
    rc = xlmig__vmrec_list(ctx, state_dir, &recs, &nr);
    if (rc)
        return rc;
    for (i = 0; i < nr; i++) {
        if (!strcmp(recs[i].name, which)) {
            if (!found++)
                *r_r = recs[i];
        }
    }
    free(recs);
    if (found > 1)
        return xlmig__error(ctx, LIBXLMIG_ERR_INVALID_ARGUMENT, -1, "%zu VMs "
                            "are named %s here; give the uuid", found,
                            which);
    return found ? 0 : LIBXLMIG_ERR_NOT_FOUND;
}

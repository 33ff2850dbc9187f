/* SPDX-License-Identifier: LGPL-2.1-only */
/*
 * The hypervisor operations of hv.h on libxl: what the migration
 * workers call to save, restore and steer domains.  One libxl context
 * per handle; every call is synchronous (ao_how NULL): libxl runs its
 * own event loop in the calling thread.
 *
 * libxl forks its save helper during a suspend or restore and reaps it
 * itself, by its pid (xlmig__libxl_open: libxl's SIGCHLD handler reaps
 * only libxl's children, as the worker reaps its own); the daemon never
 * calls these, only its single-purpose worker processes do
 * (docs/specs/vm-migrate.md).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cpurecord.h"
#include "hv.h"
#include "internal.h"
#include "xen-compat.h"

struct xlmig__hv {
    libxlmig_ctx *ctx;
    libxl_ctx *lctx;
};

static int lx_open(libxlmig_ctx *ctx, struct xlmig__hv **h_r)
{
    struct xlmig__hv *h;
    int rc = xlmig__check_hypervisor(ctx);

    if (rc)
        return rc;
    h = xlmig__zalloc(sizeof(*h));
    if (!h)
        return LIBXLMIG_ERR_NO_MEMORY;
    h->ctx = ctx;
    rc = xlmig__libxl_open(ctx, &h->lctx);
    if (rc) {
        free(h);
        return rc;
    }
    *h_r = h;
    return 0;
}

static void lx_close(struct xlmig__hv *h)
{
    if (!h)
        return;
    libxl_ctx_free(h->lctx);
    free(h);
}

static int lx_host_info(struct xlmig__hv *h, libxlmig_host_info *info_r)
{
    return libxlmig_host_info_get(h->ctx, info_r);
}

static enum xlmig__dom_state state_of(const libxl_dominfo *i)
{
    if (i->dying)
        return XLMIG__DOM_DYING;
    if (i->shutdown)
        return i->shutdown_reason == LIBXL_SHUTDOWN_REASON_SUSPEND
                   ? XLMIG__DOM_SUSPENDED : XLMIG__DOM_SHUTDOWN;
    if (i->paused)
        return XLMIG__DOM_PAUSED;
    return XLMIG__DOM_RUNNING;
}

static void dom_of(struct xlmig__hv *h, const libxl_dominfo *i,
                   struct xlmig__dom *d)
{
    char *name = libxl_domid_to_name(h->lctx, i->domid);

    memset(d, 0, sizeof(*d));
    d->domid = i->domid;
    xlmig__strlcpy(d->name, name ? name : "", sizeof(d->name));
    free(name);
    snprintf(d->uuid, sizeof(d->uuid), LIBXL_UUID_FMT,
             LIBXL_UUID_BYTES(i->uuid));
    d->state = state_of(i);
    xlmig__strlcpy(d->type, i->domain_type == LIBXL_DOMAIN_TYPE_PV ? "pv"
                            : i->domain_type == LIBXL_DOMAIN_TYPE_PVH ? "pvh"
                            : "hvm", sizeof(d->type));
    d->memory_kib = i->current_memkb;
    d->max_memory_kib = i->max_memkb;
    d->vcpus = i->vcpu_online;
}

static int lx_list(struct xlmig__hv *h, struct xlmig__dom **doms_r,
                   size_t *nr_r)
{
    libxl_dominfo *info;
    struct xlmig__dom *doms;
    int nb = 0, i;
    size_t n = 0;

    info = libxl_list_domain(h->lctx, &nb);
    if (!info)
        return xlmig__error(h->ctx, LIBXLMIG_ERR_XEN_CALL_FAILED, -1,
                            "libxl could not list the domains");
    doms = xlmig__zalloc(sizeof(*doms) * (size_t)(nb ? nb : 1));
    if (!doms) {
        libxl_dominfo_list_free(info, nb);
        return LIBXLMIG_ERR_NO_MEMORY;
    }
    for (i = 0; i < nb && n < XLMIG__DOMS_MAX; i++) {
        if (info[i].domid == 0)
            continue;
        dom_of(h, &info[i], &doms[n++]);
    }
    libxl_dominfo_list_free(info, nb);
    *doms_r = doms;
    *nr_r = n;
    return 0;
}

static int lx_find(struct xlmig__hv *h, const char *which,
                   struct xlmig__dom *d_r)
{
    return xlmig__hv_find_listed(h, lx_list, which, d_r);
}

static int lx_config(struct xlmig__hv *h, uint32_t domid, char **json_r)
{
    libxl_domain_config dc;
    char *json = NULL;
    int rc = 0;

    libxl_domain_config_init(&dc);
    if (libxl_retrieve_domain_configuration(h->lctx, domid, &dc, NULL)) {
        rc = xlmig__error(h->ctx, LIBXLMIG_ERR_XEN_CALL_FAILED, -1,
                          "libxl could not give the configuration of "
                          "domain %" PRIu32, domid);
        goto out;
    }
    json = libxl_domain_config_to_json(h->lctx, &dc);
    if (!json || strlen(json) > XLMIG__DOM_CONFIG_MAX) {
        free(json);
        rc = xlmig__error(h->ctx, LIBXLMIG_ERR_XEN_CALL_FAILED, -1,
                          "the configuration of domain %" PRIu32 " does "
                          "not convert to JSON (or is over %u bytes)",
                          domid, XLMIG__DOM_CONFIG_MAX);
        goto out;
    }
    *json_r = json;
 out:
    libxl_domain_config_dispose(&dc);
    return rc;
}

static int lx_cpu(struct xlmig__hv *h, uint32_t domid,
                  libxlmig_cpu_flags *cpu_r)
{
    char what[64];

    snprintf(what, sizeof(what), "domain %" PRIu32, domid);
    return xlmig__dom_cpu_read(h->ctx, domid, what, cpu_r);
}

static int lx_dm_qmp(struct xlmig__hv *h, uint32_t domid, char *path,
                     size_t cap)
{
    (void)h;
    snprintf(path, cap, "/var/run/xen/qmp-libxl-%" PRIu32, domid);
    if (access(path, F_OK))
        return LIBXLMIG_ERR_NOT_FOUND;
    return 0;
}

/* A libxl call's failure, logged once naming the domain. */
static int lx_failed(struct xlmig__hv *h, const char *what, uint32_t domid,
                     int r)
{
    return xlmig__error(h->ctx, LIBXLMIG_ERR_XEN_CALL_FAILED, -1,
                        "%s of domain %" PRIu32 " failed (libxl error %d); "
                        "`xl dmesg` and /var/log/xen/ may say more", what,
                        domid, r);
}

static int lx_suspend(struct xlmig__hv *h, uint32_t domid, int fd, bool live)
{
    int r = libxl_domain_suspend(h->lctx, domid, fd,
                                 live ? LIBXL_SUSPEND_LIVE : 0, NULL);

    if (r)
        return xlmig__error(h->ctx, LIBXLMIG_ERR_IO, -1, "saving domain %"
                            PRIu32 " into the migration stream failed "
                            "(libxl error %d)", domid, r);
    return 0;
}

static int lx_resume(struct xlmig__hv *h, uint32_t domid)
{
    int r = libxl_domain_resume(h->lctx, domid, 1, NULL);

    return r ? lx_failed(h, "resuming", domid, r) : 0;
}

static int lx_pause(struct xlmig__hv *h, uint32_t domid)
{
    int r = libxl_domain_pause(h->lctx, domid, NULL);

    return r ? lx_failed(h, "pausing", domid, r) : 0;
}

static int lx_unpause(struct xlmig__hv *h, uint32_t domid)
{
    int r = libxl_domain_unpause(h->lctx, domid, NULL);

    return r ? lx_failed(h, "unpausing", domid, r) : 0;
}

static int lx_rename(struct xlmig__hv *h, uint32_t domid, const char *name)
{
    int r = libxl_domain_rename(h->lctx, domid, NULL, name);

    return r ? lx_failed(h, "renaming", domid, r) : 0;
}

static int lx_destroy(struct xlmig__hv *h, uint32_t domid)
{
    int r = libxl_domain_destroy(h->lctx, domid, NULL);

    return r ? lx_failed(h, "destroying", domid, r) : 0;
}

static int config_load(struct xlmig__hv *h, const char *json,
                       libxl_domain_config *dc)
{
    if (libxl_domain_config_from_json(h->lctx, dc, json))
        return xlmig__error(h->ctx, LIBXLMIG_ERR_INVALID_ARGUMENT, -1,
                            "libxl refused the domain configuration");
    return 0;
}

/* After a failed create: libxl may leave a half-made domain. */
static void create_undo(struct xlmig__hv *h, uint32_t domid)
{
    if (domid != (uint32_t)INVALID_DOMID && domid != 0)
        (void)libxl_domain_destroy(h->lctx, domid, NULL);
}

static int lx_restore(struct xlmig__hv *h, const char *config_json, int fd,
                      uint32_t *domid_r)
{
    libxl_domain_config dc;
    libxl_domain_restore_params params;
    uint32_t domid = (uint32_t)INVALID_DOMID;
    int r, rc;

    libxl_domain_config_init(&dc);
    libxl_domain_restore_params_init(&params);
    rc = config_load(h, config_json, &dc);
    if (rc) goto out;
    params.checkpointed_stream = LIBXL_CHECKPOINTED_STREAM_NONE;
    params.stream_version = 2;
    r = libxl_domain_create_restore(h->lctx, &dc, &domid, fd, -1, &params,
                                    NULL, NULL);
    if (r) {
        create_undo(h, domid);
        rc = xlmig__error(h->ctx, LIBXLMIG_ERR_XEN_CALL_FAILED, -1,
                          "restoring the domain from the migration stream "
                          "failed (libxl error %d); `xl dmesg` and "
                          "/var/log/xen/ may say more", r);
        goto out;
    }
    *domid_r = domid;
 out:
    libxl_domain_restore_params_dispose(&params);
    libxl_domain_config_dispose(&dc);
    return rc;
}

static int lx_create(struct xlmig__hv *h, const char *config_json,
                     uint32_t *domid_r)
{
    libxl_domain_config dc;
    uint32_t domid = (uint32_t)INVALID_DOMID;
    int r, rc;

    libxl_domain_config_init(&dc);
    rc = config_load(h, config_json, &dc);
    if (rc) goto out;
    r = libxl_domain_create_new(h->lctx, &dc, &domid, NULL, NULL);
    if (!r)
        r = libxl_domain_unpause(h->lctx, domid, NULL);
    if (r) {
        create_undo(h, domid);
        rc = xlmig__error(h->ctx, LIBXLMIG_ERR_XEN_CALL_FAILED, -1,
                          "creating the domain failed (libxl error %d); "
                          "`xl dmesg` and /var/log/xen/ may say more", r);
        goto out;
    }
    *domid_r = domid;
 out:
    libxl_domain_config_dispose(&dc);
    return rc;
}

const struct xlmig__hv_ops xlmig__hv_libxl = {
    .name = "libxl",
    .open = lx_open,
    .close = lx_close,
    .host_info = lx_host_info,
    .list = lx_list,
    .find = lx_find,
    .config = lx_config,
    .cpu = lx_cpu,
    .dm_qmp = lx_dm_qmp,
    .suspend = lx_suspend,
    .resume = lx_resume,
    .pause = lx_pause,
    .unpause = lx_unpause,
    .rename = lx_rename,
    .destroy = lx_destroy,
    .restore = lx_restore,
    .create = lx_create,
};

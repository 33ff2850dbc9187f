/* SPDX-License-Identifier: LGPL-2.1-only */
/*
 * Fuzz target for a migration's preamble (libxlmig/migrate-wire.c), the
 * JSON the source sends before the stream: its tree
 * (xlmig__mig_preamble_tree()), then what the receiver takes from it
 * without touching storage: the configuration, written out again and
 * rewritten with the preamble's VIF map.  A refusal must be
 * PROTOCOL_ERROR (or NO_MEMORY) with a reason and no tree; a tree is an
 * object; a rewrite that is taken, with bridges of a fitting length,
 * gives a configuration whose mapped VIFs have their new bridges.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "jsonfile.h"
#include "migrate-wire.h"
#include "rpc.h"
#include "vmconfig.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static libxlmig_ctx *quiet(void)
{
    static libxlmig_ctx *ctx;

    if (!ctx && libxlmig_ctx_new(NULL, LIBXLMIG_LOG_CRITICAL, &ctx))
        abort();
    return ctx;
}

/* The VIF map of @root ("nics": [{"mac", "bridge"}]) into @e; false if
 * a bridge does not fit a configuration. */
static bool vif_map(yajl_val root, struct xlmig__vmcfg_edit *e)
{
    yajl_val arr = xlmig__rpc_get(root, "nics");
    bool fits = true;
    size_t i;

    for (i = 0; YAJL_IS_ARRAY(arr) && i < arr->u.array.len &&
                i < XLMIG__VMCFG_NICS_MAX; i++) {
        yajl_val o = arr->u.array.values[i];
        const char *mac = xlmig__rpc_get_str(o, "mac");
        const char *bridge = xlmig__rpc_get_str(o, "bridge");

        if (!mac || !bridge)
            break;
        e->nics[e->nr_nics].mac = mac;
        e->nics[e->nr_nics].bridge = bridge;
        e->nr_nics++;
        fits = fits && strlen(bridge) <= XLMIG__VMCFG_BRIDGE_MAX;
    }
    return fits;
}

static void rewrite(yajl_val root, yajl_val cfg)
{
    static struct xlmig__vmcfg c;
    struct xlmig__vmcfg_edit e;
    yajl_gen g = xlmig__gen_new();
    const unsigned char *buf;
    char *out = NULL;
    size_t blen, i, k;
    bool fits;

    memset(&e, 0, sizeof(e));
    e.name = "fuzz--incoming";
    fits = vif_map(root, &e);
    if (!g || xlmig__rpc_gen_value(g, cfg) ||
        yajl_gen_get_buf(g, &buf, &blen) != yajl_gen_status_ok)
        abort();
    if (!xlmig__vmcfg_rewrite(quiet(), (const char *)buf, blen, &e, &out) &&
        fits && strlen(out) <= XLMIG__DOM_CONFIG_MAX) {
        if (xlmig__vmcfg_parse(NULL, "again", out, strlen(out), &c) ||
            strcmp(c.name, e.name))
            abort();
        for (i = 0; i < e.nr_nics; i++) {
            const struct xlmig__vmcfg_nic *n = xlmig__vmcfg_nic(&c,
                                                                e.nics[i].mac);

            if (!n)
                abort();
            /* The first entry for a VIF is the one that holds. */
            for (k = 0; k < i && xlmig__vmcfg_nic(&c, e.nics[k].mac) != n;
                 k++)
                ;
            if (k == i && strcmp(n->bridge, e.nics[i].bridge))
                abort();
        }
    }
    free(out);
    yajl_gen_free(g);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    yajl_val root = (yajl_val)&root, cfg;
    char why[256];
    int rc;

    why[0] = '\0';
    rc = xlmig__mig_preamble_tree((const char *)data, size, &root, why,
                                  sizeof(why));
    if (rc) {
        if ((rc != LIBXLMIG_ERR_PROTOCOL && rc != LIBXLMIG_ERR_NO_MEMORY) ||
            !why[0] || (root && root != (yajl_val)&root))
            abort();
        return 0;
    }
    if (!YAJL_IS_OBJECT(root))
        abort();
    cfg = xlmig__rpc_get(root, "config");
    if (YAJL_IS_OBJECT(cfg))
        rewrite(root, cfg);
    yajl_tree_free(root);
    return 0;
}

/* SPDX-License-Identifier: LGPL-2.1-only */
/*
 * Fuzz target for a domain's libxl configuration (libxlmig/vmconfig.c),
 * which crosses the network in a migration's preamble.  A refusal must
 * leave the output untouched and agree with the tree's own answer where
 * the tree refuses.  Whatever parses must hold its caps (counts, NUL-ended
 * strings, a known type, lower-case MACs), and take a fixed rewrite (a new
 * name and uuid, its first disk moved, its first NIC's bridge changed)
 * whose text parses again to the same configuration with exactly those
 * changes.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "vmconfig.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define NEW_NAME "fuzz-renamed"
#define NEW_UUID "0f1e2d3c-4b5a-4968-8776-655443322110"
#define NEW_PATH "/srv/fuzz/moved.raw"
#define NEW_FORMAT "raw"
#define NEW_BRIDGE "xenbr9"

static void check_caps(const struct xlmig__vmcfg *c)
{
    char mac[XLMIG__MAC_LEN + 1];
    size_t i;

    if (c->nr_disks > XLMIG__VMCFG_DISKS_MAX ||
        c->nr_nics > XLMIG__VMCFG_NICS_MAX ||
        c->nr_pcidevs > XLMIG__VMCFG_PCI_MAX ||
        (strcmp(c->type, "pv") && strcmp(c->type, "pvh") &&
         strcmp(c->type, "hvm")) ||
        !memchr(c->name, '\0', sizeof(c->name)) ||
        !memchr(c->uuid, '\0', sizeof(c->uuid)))
        abort();
    for (i = 0; i < c->nr_disks; i++) {
        if (!c->disks[i].vdev[0] ||
            !memchr(c->disks[i].path, '\0', sizeof(c->disks[i].path)))
            abort();
    }
    for (i = 0; i < c->nr_nics; i++) {
        if (!xlmig__mac_parse(c->nics[i].mac, mac) ||
            strcmp(mac, c->nics[i].mac))
            abort();
    }
    for (i = 0; i < c->nr_pcidevs; i++) {
        if (c->pcidevs[i].bus > 0xff || c->pcidevs[i].dev > 0x1f ||
            c->pcidevs[i].func > 7 || c->pcidevs[i].domain > 0xffff)
            abort();
    }
}

/* @b is @a with @e's changes, and nothing else changed. */
static void check_rewritten(const struct xlmig__vmcfg *a,
                            const struct xlmig__vmcfg *b,
                            const struct xlmig__vmcfg_edit *e)
{
    size_t i;

    if (strcmp(b->name, e->name) || strcmp(b->uuid, e->uuid) ||
        strcmp(a->type, b->type) || a->max_memkb != b->max_memkb ||
        a->target_memkb != b->target_memkb ||
        a->max_vcpus != b->max_vcpus || a->nested_hvm != b->nested_hvm ||
        a->gfx_passthru != b->gfx_passthru || a->nr_disks != b->nr_disks ||
        a->nr_nics != b->nr_nics || a->nr_pcidevs != b->nr_pcidevs ||
        a->nr_usbctrls != b->nr_usbctrls || a->nr_usbdevs != b->nr_usbdevs ||
        memcmp(a->pcidevs, b->pcidevs, a->nr_pcidevs * sizeof(a->pcidevs[0])))
        abort();
    for (i = 0; i < a->nr_disks; i++) {
        const struct xlmig__vmcfg_disk *x = &a->disks[i], *y = &b->disks[i];
        bool moved = e->nr_disks && !strcmp(x->vdev, e->disks[0].vdev);

        if (strcmp(x->vdev, y->vdev) || strcmp(x->backend, y->backend) ||
            x->readwrite != y->readwrite || x->cdrom != y->cdrom ||
            strcmp(y->path, moved ? NEW_PATH : x->path) ||
            strcmp(y->format, moved ? NEW_FORMAT : x->format))
            abort();
    }
    for (i = 0; i < a->nr_nics; i++) {
        const struct xlmig__vmcfg_nic *x = &a->nics[i], *y = &b->nics[i];
        bool mapped = e->nr_nics && !strcmp(x->mac, e->nics[0].mac);

        if (strcmp(x->mac, y->mac) ||
            strcmp(y->bridge, mapped ? NEW_BRIDGE : x->bridge))
            abort();
    }
}

/* The rewrite logs what it refuses: into a context that shows nothing. */
static libxlmig_ctx *quiet(void)
{
    static libxlmig_ctx *ctx;

    if (!ctx && libxlmig_ctx_new(NULL, LIBXLMIG_LOG_CRITICAL, &ctx))
        abort();
    return ctx;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct xlmig__vmcfg c, before, back;
    struct xlmig__vmcfg_edit e;
    const char *json = (const char *)data;
    yajl_val root = NULL;
    char why[256], *out = NULL;

    memset(&c, 0xa5, sizeof(c));
    before = c;
    if (xlmig__vmcfg_parse(NULL, "fuzz", json, size, &c)) {
        if (memcmp(&c, &before, sizeof(c)))
            abort();
        /* A refusal without a tree is also the tree's. */
        if (!xlmig__vmcfg_tree(json, size, &root, why, sizeof(why))) {
            if (!YAJL_IS_OBJECT(root))
                abort();
            yajl_tree_free(root);
        }
        return 0;
    }
    check_caps(&c);
    if (xlmig__vmcfg_tree(json, size, &root, why, sizeof(why)))
        abort();
    yajl_tree_free(root);

    memset(&e, 0, sizeof(e));
    e.name = NEW_NAME;
    e.uuid = NEW_UUID;
    if (c.nr_disks) {
        e.nr_disks = 1;
        e.disks[0].vdev = c.disks[0].vdev;
        e.disks[0].path = NEW_PATH;
        e.disks[0].format = NEW_FORMAT;
    }
    if (c.nr_nics) {
        e.nr_nics = 1;
        e.nics[0].mac = c.nics[0].mac;
        e.nics[0].bridge = NEW_BRIDGE;
    }
    if (xlmig__vmcfg_rewrite(quiet(), json, size, &e, &out) || !out)
        abort();
    /* Its text may grow with the generator's indentation past the cap. */
    if (strlen(out) <= XLMIG__DOM_CONFIG_MAX) {
        if (xlmig__vmcfg_parse(NULL, "again", out, strlen(out), &back))
            abort();
        check_rewritten(&c, &back, &e);
    }
    free(out);

    /* A disk it lacks is refused, and nothing is written. */
    e.nr_disks = 1;
    e.disks[0].vdev = "no-such-vdev";
    out = (char *)"untouched";
    if (!xlmig__vmcfg_disk(&c, e.disks[0].vdev) &&
        (!xlmig__vmcfg_rewrite(quiet(), json, size, &e, &out) || out))
        abort();
    return 0;
}

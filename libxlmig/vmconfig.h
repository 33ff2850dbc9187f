/* SPDX-License-Identifier: LGPL-2.1-only */
/*
 * A domain's configuration as libxl writes it in JSON
 * (libxl_domain_config_to_json: "c_info", "b_info", "disks", "nics",
 * "pcidevs", "usbctrls", "usbdevs", ...): what a migration reads from
 * it, and the rewrite that gives the destination its configuration
 * (internal; docs/specs/vm-migrate.md).
 *
 * The text is untrusted (it crosses the network inside the migration
 * channel): it is capped (XLMIG__DOM_CONFIG_MAX), checked by jsonfile's
 * first pass before a tree is built, and every member read is checked
 * for its type and length.  Decoding is pure: no logging without a
 * context (the fuzz target passes none).  The rewrite copies the
 * document member by member, numbers as their own text, changing only
 * what it is asked to: the rest of libxl's configuration passes as it
 * was, whatever later libxl versions add.
 */
#ifndef XLMIG_VMCONFIG_H
#define XLMIG_VMCONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <yajl/yajl_tree.h>

#include "hv.h"
#include "libxlmig.h"
#include "sr.h"

#define XLMIG__VMCFG_DISKS_MAX 16
#define XLMIG__VMCFG_NICS_MAX 16
#define XLMIG__VMCFG_PCI_MAX 16
#define XLMIG__VMCFG_VDEV_MAX 15        /* bytes of a vdev ("xvda") */
#define XLMIG__VMCFG_BRIDGE_MAX 15      /* bytes of a bridge (IFNAMSIZ - 1) */
#define XLMIG__MAC_LEN 17               /* "00:16:3e:12:34:56" */

struct xlmig__vmcfg_disk {
    char vdev[XLMIG__VMCFG_VDEV_MAX + 1];
    char path[XLMIG__SR_PATH_MAX];      /* pdev_path; "" for an empty CD */
    char format[16];                    /* "qcow2", "raw", ... */
    char backend[16];                   /* "qdisk", "phy", ... or "" */
    bool readwrite;
    bool cdrom;
};

struct xlmig__vmcfg_nic {
    char mac[XLMIG__MAC_LEN + 1];       /* lower case */
    char bridge[XLMIG__VMCFG_BRIDGE_MAX + 1];   /* "" when not set */
};

struct xlmig__vmcfg_pci {
    unsigned int domain, bus, dev, func;
};

struct xlmig__vmcfg {
    char name[XLMIG__DOM_NAME_MAX + 1];
    char uuid[37];                      /* "" when the config has none */
    char type[4];                       /* "pv", "pvh", "hvm" */
    uint64_t max_memkb;
    uint64_t target_memkb;
    unsigned int max_vcpus;
    bool nested_hvm;                    /* b_info.nested_hvm True */
    bool gfx_passthru;                  /* b_info."type.hvm".gfx_passthru */
    size_t nr_disks;
    struct xlmig__vmcfg_disk disks[XLMIG__VMCFG_DISKS_MAX];
    size_t nr_nics;
    struct xlmig__vmcfg_nic nics[XLMIG__VMCFG_NICS_MAX];
    size_t nr_pcidevs;
    struct xlmig__vmcfg_pci pcidevs[XLMIG__VMCFG_PCI_MAX];
    size_t nr_usbctrls, nr_usbdevs;
};

/*
 * Read what migration needs from @len bytes of @json into *c (written
 * only on success).  LIBXLMIG_ERR_INVALID_ARGUMENT naming @label and
 * the member when the text is not JSON, not an object, lacks c_info's
 * name or type or b_info's memory, has a member of a wrong type, a
 * string too long, or more devices than the caps.  Logs only when @ctx
 * is not NULL.
 */
int xlmig__vmcfg_parse(libxlmig_ctx *ctx, const char *label,
                       const char *json, size_t len, struct xlmig__vmcfg *c);

/*
 * The tree of a configuration's text (jsonfile's first pass, the cap,
 * an object at the top): *root_r, yajl_tree_free() it.  Errors say why
 * in @why; nothing logged.
 */
int xlmig__vmcfg_tree(const char *json, size_t len, yajl_val *root_r,
                      char *why, size_t why_len);

/* The disk of vdev @vdev, or NULL; the NIC of @mac (any case), or NULL. */
const struct xlmig__vmcfg_disk *xlmig__vmcfg_disk(const struct xlmig__vmcfg *c,
                                                  const char *vdev);
const struct xlmig__vmcfg_nic *xlmig__vmcfg_nic(const struct xlmig__vmcfg *c,
                                                const char *mac);

/* Is @mac six hex pairs joined by ':'?  Lower-cased into @out (18 B). */
bool xlmig__mac_parse(const char *mac, char out[XLMIG__MAC_LEN + 1]);

/* What the rewrite changes; NULL/0 members change nothing. */
struct xlmig__vmcfg_edit {
    const char *name;                   /* c_info.name */
    const char *uuid;                   /* c_info.uuid */
    size_t nr_disks;
    struct {
        const char *vdev;               /* the disk */
        const char *path;               /* its new pdev_path */
        const char *format;             /* its new format, or NULL */
    } disks[XLMIG__VMCFG_DISKS_MAX];
    size_t nr_nics;
    struct {
        const char *mac;
        const char *bridge;
    } nics[XLMIG__VMCFG_NICS_MAX];
};

/*
 * The configuration @json with the changes of @e, as a malloc'd,
 * NUL-ended text in *out_r (the caller frees it).  A disk or NIC that
 * @e names and @json lacks is LIBXLMIG_ERR_INVALID_ARGUMENT (logged,
 * naming it); so is a text that xlmig__vmcfg_parse() refuses.
 */
int xlmig__vmcfg_rewrite(libxlmig_ctx *ctx, const char *json, size_t len,
                         const struct xlmig__vmcfg_edit *e, char **out_r);

#endif /* XLMIG_VMCONFIG_H */

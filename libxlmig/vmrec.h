/* SPDX-License-Identifier: LGPL-2.1-only */
/*
 * VM records (internal; docs/specs/vm-migrate.md, "Halted VMs"): what
 * a host knows of a VM beyond the domains Xen runs, so that a halted VM
 * can be listed, migrated cold and started again.
 *
 *   STATE/vm/UUID.json   {"version":1,"uuid","name","config":{...}}
 *
 * config is the domain's libxl configuration (vmconfig.h), embedded as
 * a JSON object.  Written crash-safely; read with the size capped before
 * anything is allocated; every member checked.
 */
#ifndef XLMIG_VMREC_H
#define XLMIG_VMREC_H

#include <stddef.h>
#include <stdint.h>

#include "hv.h"
#include "libxlmig.h"

#define XLMIG__VMREC_MAX (XLMIG__DOM_CONFIG_MAX + (4u << 10))
#define XLMIG__VMRECS_MAX 4096

struct xlmig__vmrec {
    char uuid[37];
    char name[XLMIG__DOM_NAME_MAX + 1];
};

/*
 * Record VM @uuid named @name with configuration @config (@len bytes of
 * libxl JSON, checked by xlmig__vmcfg_parse()), replacing an older
 * record of that uuid.
 */
int xlmig__vmrec_save(libxlmig_ctx *ctx, const char *state_dir,
                      const char *uuid, const char *name, const char *config,
                      size_t len);

/* The configuration of VM @uuid, malloc'd and NUL-ended in *config_r. */
int xlmig__vmrec_config(libxlmig_ctx *ctx, const char *state_dir,
                        const char *uuid, char **config_r);

/* Remove the record of @uuid; 0 also when there was none. */
int xlmig__vmrec_remove(libxlmig_ctx *ctx, const char *state_dir,
                        const char *uuid);

/* Every record, sorted by name, malloc'd (free()); none: NULL, 0. */
int xlmig__vmrec_list(libxlmig_ctx *ctx, const char *state_dir,
                      struct xlmig__vmrec **recs_r, size_t *nr_r);

/*
 * The record whose uuid or name is @which: 0; LIBXLMIG_ERR_NOT_FOUND
 * (not logged) when none; two of that name: LIBXLMIG_ERR_INVALID_ARGUMENT
 * (logged: use the uuid).
 */
int xlmig__vmrec_find(libxlmig_ctx *ctx, const char *state_dir,
                      const char *which, struct xlmig__vmrec *r_r);

/* Decode a record file's text (fuzzed); *r and, if wanted, *config_r. */
int xlmig__vmrec_decode(libxlmig_ctx *ctx, const char *label,
                        const uint8_t *json, size_t len,
                        struct xlmig__vmrec *r, char **config_r);

#endif /* XLMIG_VMREC_H */

/* SPDX-License-Identifier: LGPL-2.1-only */
/*
 * What a migration needs from the Xen toolstack (internal;
 * docs/specs/vm-migrate.md, "The engine"): one table of operations.
 *
 * The product's table is libxl's (hv-libxl.c, xlmig__hv_libxl).  The
 * tests of `make check`, which have no hypervisor, run the same
 * orchestration against a stand-in table (tests/tools/fake-xen.c) that
 * keeps its domains as files, writes and reads real libxl v2 streams,
 * and whose device models are real qemu-storage-daemons.
 *
 * A handle (struct xlmig__hv) is used by one thread at a time: a
 * program that suspends in one thread and asks for domain facts in
 * another opens two.  Every operation logs its own error once, naming
 * the domain, through the handle's context, and returns a negative
 * LIBXLMIG_ERR_*.
 */
#ifndef XLMIG_HV_H
#define XLMIG_HV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "libxlmig.h"

#define XLMIG__DOM_NAME_MAX 127         /* bytes of a domain name */
#define XLMIG__DOM_CONFIG_MAX (1u << 20) /* bytes of a domain's JSON config */
#define XLMIG__DOMS_MAX 1024            /* domains one list returns */

enum xlmig__dom_state {
    XLMIG__DOM_RUNNING,         /* running or blocked */
    XLMIG__DOM_PAUSED,          /* paused by the toolstack */
    XLMIG__DOM_SUSPENDED,       /* shut down for suspend: can resume */
    XLMIG__DOM_SHUTDOWN,        /* shut down otherwise, or crashed */
    XLMIG__DOM_DYING,
};

/* "running", "paused", ...; static. */
const char *xlmig__dom_state_name(enum xlmig__dom_state s);

struct xlmig__dom {
    uint32_t domid;
    char name[XLMIG__DOM_NAME_MAX + 1];
    char uuid[37];
    enum xlmig__dom_state state;
    char type[4];               /* "pv", "pvh", "hvm" */
    uint64_t memory_kib;        /* current memory */
    uint64_t max_memory_kib;
    unsigned int vcpus;
};

struct xlmig__hv;

struct xlmig__hv_ops {
    const char *name;           /* "libxl", "fake" */

    /*
     * Open a handle for @ctx (kept, not owned).  Fails with
     * LIBXLMIG_ERR_NO_HYPERVISOR (logged: "/dev/xen/privcmd missing")
     * where there is no Xen.  Free it with close().
     */
    int (*open)(libxlmig_ctx *ctx, struct xlmig__hv **h_r);
    void (*close)(struct xlmig__hv *h);     /* NULL-safe */

    /* This host's facts: Xen version, memory, pCPUs, CPU featuresets. */
    int (*host_info)(struct xlmig__hv *h, libxlmig_host_info *info_r);

    /*
     * Every domain but dom0, in domid order: a malloc'd array (the
     * caller frees it) of *nr_r entries, at most XLMIG__DOMS_MAX.
     */
    int (*list)(struct xlmig__hv *h, struct xlmig__dom **doms_r,
                size_t *nr_r);

    /*
     * The domain whose name or uuid is @which (a domid in decimal too).
     * LIBXLMIG_ERR_NOT_FOUND, NOT logged (the caller knows what to say:
     * a halted VM's record may exist).
     */
    int (*find)(struct xlmig__hv *h, const char *which,
                struct xlmig__dom *d_r);

    /*
     * The domain's configuration as libxl's JSON
     * (libxl_domain_config_to_json() of what
     * libxl_retrieve_domain_configuration() gives), malloc'd, NUL-ended,
     * at most XLMIG__DOM_CONFIG_MAX bytes.
     */
    int (*config)(struct xlmig__hv *h, uint32_t domid, char **json_r);

    /* The CPU the domain runs with (its CPU policy): vendor, features. */
    int (*cpu)(struct xlmig__hv *h, uint32_t domid, libxlmig_cpu_flags *cpu_r);

    /*
     * The QMP socket of the device model that serves the domain's qdisk
     * disks (/var/run/xen/qmp-libxl-DOMID), into @path; NOT_FOUND when
     * the domain has none.
     */
    int (*dm_qmp)(struct xlmig__hv *h, uint32_t domid, char *path,
                  size_t cap);

    /*
     * Save the domain into @fd (a pipe or socket, left open), live
     * (LIBXL_SUSPEND_LIVE) or not: the libxl v2 stream, from its header
     * to its END record.  Returns once all of it is written; the domain
     * is then suspended (resume() undoes that).  A reader that stops
     * reading and closes its end makes it fail (IO), the domain left
     * running or suspended: the caller looks (find()) and resumes.
     */
    int (*suspend)(struct xlmig__hv *h, uint32_t domid, int fd, bool live);

    /* Run a suspended domain again (suspend cancelled). */
    int (*resume)(struct xlmig__hv *h, uint32_t domid);

    int (*pause)(struct xlmig__hv *h, uint32_t domid);
    int (*unpause)(struct xlmig__hv *h, uint32_t domid);
    int (*rename)(struct xlmig__hv *h, uint32_t domid, const char *name);

    /* Destroy the domain and its device model. */
    int (*destroy)(struct xlmig__hv *h, uint32_t domid);

    /*
     * Create a domain from @config_json (libxl's JSON, as config()
     * gives it) restoring it from the libxl v2 stream read from @fd,
     * which is read up to the stream's END record and no further (the
     * caller reads what follows).  The domain is left paused with its
     * disks open; *domid_r its id.  On failure nothing is left.
     */
    int (*restore)(struct xlmig__hv *h, const char *config_json, int fd,
                   uint32_t *domid_r);

    /* Boot a halted VM from @config_json; it runs when this returns. */
    int (*create)(struct xlmig__hv *h, const char *config_json,
                  uint32_t *domid_r);
};

/* libxl's table (hv-libxl.c). */
extern const struct xlmig__hv_ops xlmig__hv_libxl;

/*
 * find() for a table that can list(): the first domain @list gives
 * whose name or uuid is @which, or whose domid is @which in decimal
 * (hv.c; the one rule of every table's find()).
 */
int xlmig__hv_find_listed(struct xlmig__hv *h,
                          int (*list)(struct xlmig__hv *h,
                                      struct xlmig__dom **doms_r,
                                      size_t *nr_r),
                          const char *which, struct xlmig__dom *d_r);

#endif /* XLMIG_HV_H */

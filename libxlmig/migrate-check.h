/* SPDX-License-Identifier: LGPL-2.1-only */
/*
 * The checks before a vm-migrate (internal; docs/specs/vm-migrate.md,
 * "Checks"): a host's facts as its xlmigd reports them, the plan a
 * request resolves to, and every check run with every failure logged
 * (each "NAME: sentence") so that a collecting logger can hand them
 * all to the operator at once.
 */
#ifndef XLMIG_MIGRATE_CHECK_H
#define XLMIG_MIGRATE_CHECK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <xentoollog.h>
#include <yajl/yajl_gen.h>
#include <yajl/yajl_tree.h>

#include "hv.h"
#include "libxlmig.h"
#include "migrate.h"
#include "sr.h"
#include "vmconfig.h"

#define XLMIG__FACTS_SRS_MAX 64
#define XLMIG__FACTS_BRIDGES_MAX 32

/* What a host tells a migration's source about itself (host.facts). */
struct xlmig__host_facts {
    char name[65];
    int xen_major, xen_minor;
    char xen_version[80];
    char version[32];                   /* libxlmig's */
    unsigned int nr_cpus;
    uint64_t free_memory_kib;
    libxlmig_cpu_vendor vendor;
    libxlmig_featureset pv_max, hvm_max;
    size_t nr_srs;
    struct {
        char uuid[XLMIG__UUID_LEN + 1];
        char name[XLMIG__SR_NAME_MAX + 1];
        unsigned int caps;
        uint64_t free_space;
    } srs[XLMIG__FACTS_SRS_MAX];
    size_t nr_bridges;
    char bridges[XLMIG__FACTS_BRIDGES_MAX][XLMIG__VMCFG_BRIDGE_MAX + 1];
};

/*
 * This host's facts: @info (Xen's, from the hypervisor table), the SRs
 * registered in @state_dir with their free space, and the bridges
 * (/sys/class/net/NAME/bridge; $XLMIG_BRIDGES, a comma-separated list,
 * replaces them for tests).
 */
int xlmig__host_facts_local(libxlmig_ctx *ctx, const char *name,
                            const libxlmig_host_info *info,
                            const char *state_dir,
                            struct xlmig__host_facts *f);

/* As an RPC result (an object) into @g; false on failure. */
bool xlmig__host_facts_gen(yajl_gen g, const struct xlmig__host_facts *f);

/*
 * Decode a host.facts result (untrusted: every member checked, counts
 * capped); LIBXLMIG_ERR_PROTOCOL with a sentence in @why.  Pure.
 */
int xlmig__host_facts_decode(yajl_val v, struct xlmig__host_facts *f,
                             char *why, size_t why_len);

/*
 * Host @name's facts, asked of its xlmigd at @addr (host.facts, on a
 * connection of its own, with @pc's pool material).  0, or the call's
 * error, or LIBXLMIG_ERR_PROTOCOL for an answer that does not decode;
 * logged.  *@answered_r (may be NULL): whether the daemon answered at all
 * (a result or its refusal).
 */
struct xlmig__pool_conf;
int xlmig__host_facts_ask(libxlmig_ctx *ctx, const struct xlmig__pool_conf *pc,
                          const char *name, const char *addr,
                          struct xlmig__host_facts *f, bool *answered_r);

/* The SR of @f whose uuid or name is @which, or NULL. */
int xlmig__host_facts_sr(const struct xlmig__host_facts *f,
                         const char *which);

/* What a vm-migrate request resolved to. */
struct xlmig__mig_plan {
    char vm[XLMIG__DOM_NAME_MAX + 1];
    char vm_uuid[XLMIG__UUID_LEN + 1];
    bool running;                       /* a domain: live migration */
    uint32_t domid;
    uint64_t memory_kib;
    unsigned int vcpus;
    bool has_cpu;                       /* the CPU the VM runs with */
    libxlmig_cpu_flags cpu;
    libxlmig_guest_type type;
    struct xlmig__vmcfg cfg;
    size_t nr_vdis;                     /* every disk that is a VDI */
    struct xlmig__mig_vdi vdis[XLMIG__MIG_VDIS_MAX];
    size_t nr_nics;                     /* the VIF map */
    struct xlmig__mig_nic nics[XLMIG__MIG_NICS_MAX];
    bool force;
    bool dst_disabled;                  /* the destination pool's master
                                         * lists the host disabled */
};

/*
 * Run every check of a migration of @p from @src to @dst (and, across
 * pools, against @level, the destination pool's CPU level, else NULL);
 * every failure is logged through @ctx with its stable name, each one
 * sentence naming the VM, VDI, SR or host and what to do.  Returns the
 * number of failures (force=true's CPU failures are reported at warning
 * level and not counted).
 */
unsigned int xlmig__mig_check(libxlmig_ctx *ctx, const char *state_dir,
                              const struct xlmig__mig_plan *p,
                              const struct xlmig__host_facts *src,
                              const struct xlmig__host_facts *dst,
                              const libxlmig_cpu_flags *level);

/*
 * Log (through @ctx) and return
 * LIBXLMIG_ERR_HOST_DISABLED: host @host is disabled (host-disable) and
 * VM @vm may not @verb there ("arrive", "start"); the sentence says how
 * to enable it.  The one wording of the preflight, the master's slot and
 * the destination's refusals.
 */
int xlmig__mig_host_disabled(libxlmig_ctx *ctx, const char *host,
                             const char *vm, const char *verb);

/*
 * A logger that keeps the error messages logged through it (and passes
 * everything on to @next, which may be NULL): for reporting every
 * failed check at once.  Init, point a context at &c->vtable, read
 * msgs[0 .. n - 1].
 */
#define XLMIG__COLLECT_MAX 32
struct xlmig__collect {
    xentoollog_logger vtable;
    xentoollog_logger *next;
    size_t n;
    char msgs[XLMIG__COLLECT_MAX][600];
};
void xlmig__collect_init(struct xlmig__collect *c, xentoollog_logger *next);

#endif /* XLMIG_MIGRATE_CHECK_H */

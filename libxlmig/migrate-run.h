/* SPDX-License-Identifier: LGPL-2.1-only */
/*
 * The workers of vm-migrate and what their daemon gives them
 * (internal; docs/specs/vm-migrate.md, "Who does what").
 */
#ifndef XLMIG_MIGRATE_RUN_H
#define XLMIG_MIGRATE_RUN_H

#include <signal.h>
#include <stdbool.h>

#include "hv.h"
#include "migrate.h"
#include "poolconf.h"

struct xlmig__mig_run {
    const struct xlmig__hv_ops *hv;
    const char *state_dir;
    const struct xlmig__pool_conf *conf;    /* this host's pool */
    const struct xlmig__pool_conf *dconf;   /* the destination's pool:
                                             * conf, or the remote one */
    const char *task;
    volatile sig_atomic_t *cancel;          /* set: roll back */
    /* Has this worker's daemon died (killed, not stopped cleanly)?
     * Then the task is rolled back as if cancelled.  May be NULL. */
    bool (*parent_gone)(void *opaque);
    void *opaque;
    int listen_fd;                          /* dst: the channel's socket */
};

/*
 * The source worker: runs task @run->task, whose journal the daemon
 * wrote (migrate.h), to its end.  0 when the VM runs at the
 * destination; otherwise the error (logged), everything rolled back,
 * the journal says so.
 */
int xlmig__mig_send_run(libxlmig_ctx *ctx, const struct xlmig__mig_run *run);

/*
 * The destination worker: accepts the channel on @run->listen_fd,
 * restores the domain, and takes it when cleared; or destroys what it
 * made.
 */
int xlmig__mig_recv_run(libxlmig_ctx *ctx, const struct xlmig__mig_run *run);

/*
 * Source, after the destination took the VM: its domain destroyed, its
 * moved VDIs (and their VBDs) destroyed unless a copy, its records
 * removed.  Idempotent.
 */
int xlmig__mig_src_cleanup(libxlmig_ctx *ctx, const struct xlmig__mig_run *run,
                           struct xlmig__hv *hv, struct xlmig__mig_record *r);

/*
 * Source, rolling back: the destination removes what it made for task
 * @r (its receive worker stopped, composed VDIs destroyed, the storage
 * moves cancelled), over @t when given (an open connection to its
 * xlmigd) or a new connection.  Best effort: the destination's own
 * recovery covers what this cannot reach.
 */
void xlmig__mig_dst_abort(libxlmig_ctx *ctx, const struct xlmig__mig_run *run,
                          const struct xlmig__mig_record *r,
                          libxlmig_transport *t);

/*
 * Destination, rolling back: the domain it restored destroyed, the VDIs
 * made for the task destroyed (storage moves not yet composed are
 * cancelled).  Idempotent.
 */
void xlmig__mig_dst_undo(libxlmig_ctx *ctx, const struct xlmig__mig_run *run,
                         struct xlmig__hv *hv, struct xlmig__mig_record *r);

/*
 * What a daemon does with a journal whose worker is gone (crashed, or
 * the daemon restarted): source before go-sent rolled back; after it,
 * the destination is asked (LIBXLMIG_ERR_MIGRATION_OUTCOME_UNKNOWN
 * while it cannot answer: call again later); destination before go
 * destroyed, after it finished.
 */
int xlmig__mig_recover(libxlmig_ctx *ctx, const struct xlmig__mig_run *run,
                       enum xlmig__mig_role role);

#endif /* XLMIG_MIGRATE_RUN_H */

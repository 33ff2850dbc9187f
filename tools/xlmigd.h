/* SPDX-License-Identifier: LGPL-2.1-only */
/*
 * What the files of xlmigd share (tools/xlmigd.c: the pool, the RPC
 * server and storage moves; tools/xlmigd-vm.c: VMs and their
 * migrations; tools/xlmigd-worker.c: the worker processes).
 */
#ifndef XLMIGD_H
#define XLMIGD_H

#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>

#include <yajl/yajl_gen.h>

#include "hv.h"
#include "internal.h"
#include "poolconf.h"
#include "rpc.h"
#include "sr.h"

#define CONN_SXM_MAX 16             /* storage moves per connection */
#define CONN_MIG_MAX 16             /* migrations received per connection */

struct conn {
    pthread_t tid;
    int fd;
    uint64_t owner;                 /* slot owner id of this connection */
    char peer[300];
    libxlmig_transport *t;
    libxlmig_ctx *ctx;
    pthread_mutex_t wlock;          /* writes: replies and pushed events */
    bool used;
    /* Destinations of storage moves this connection started and has not
     * finalized or cancelled: cancelled when it goes. */
    char sxm[CONN_SXM_MAX][XLMIG__UUID_LEN + 1];
    /* Migrations this connection is the source of (vm.receive_start):
     * stopped when it goes, unless the VM is ours by then. */
    char mig[CONN_MIG_MAX][XLMIG__UUID_LEN + 1];
};

extern volatile sig_atomic_t xlmigd_stopping;

void xlmigd_log(const char *fmt, ...) XLMIG__PRINTF(1, 2);
int xlmigd_spawn(pthread_t *tid, void *(*fn)(void *), void *arg);

/* Replies (each frees what it is given). */
int xlmigd_reply_error(struct conn *c, uint64_t id, int rc, const char *msg,
                       const char *param);
int xlmigd_finish_reply(struct conn *c, yajl_gen g);
int xlmigd_reply_ok(struct conn *c, uint64_t id);
void xlmigd_gen_kv_str(yajl_gen g, const char *k, const char *v);
void xlmigd_gen_kv_uint(yajl_gen g, const char *k, uint64_t v);
/* A required string parameter; replies the error itself when missing. */
const char *xlmigd_need_str(struct conn *c, const struct xlmig__rpc_msg *m,
                            const char *key);
/* A socket listening on a port the kernel chose on @host; -1 (errno). */
int xlmigd_listen_any(const char *host, char *port, size_t cap);
bool xlmigd_peer_gone(int fd);
/*
 * May VMs start or arrive on this host (host-disable)?  0, or
 * LIBXLMIG_ERR_HOST_DISABLED logged in @ctx naming this host, VM @vm and
 * what it may not do (@verb: "start", "arrive").  The master's word: on
 * the master its pool state; on a member what the master last told it
 * (host.watch, within milliseconds of a change), kept while the master
 * cannot be reached, and "enabled" until the master has said anything
 * since this daemon started.  Never waits for the network.
 */
/*
 * Is the pool mid-upgrade (a rolling pool upgrade, libxlmig/rolling.h)?
 * The master's own state; a member's as the master last told it
 * (host.watch); false until it has said anything.
 */
bool xlmigd_pool_upgrading(void);

int xlmigd_host_check_enabled(libxlmig_ctx *ctx, const char *vm,
                              const char *verb);

/* ------------------------------------------------------------ VMs */

/*
 * Set up the VM methods: this host's configuration (and the file it
 * came from, for the workers), the hypervisor table.
 */
void xlmigd_vm_init(const struct xlmig__pool_conf *conf,
                    const char *config_path,
                    const struct xlmig__hv_ops *hv);
/* Migrations a last run left: adopted, or recovered. */
void xlmigd_vm_recover_all(void);
/* About every second: workers that ended, outcomes still unknown. */
void xlmigd_vm_reap(void);
/* A clean stop: the workers go on alone. */
void xlmigd_vm_stop(void);
/* A connection ends: the migrations it was the source of stop. */
void xlmigd_vm_conn_end(struct conn *c);

int xlmigd_m_host_facts(struct conn *c, const struct xlmig__rpc_msg *m);
int xlmigd_m_vm_list(struct conn *c, const struct xlmig__rpc_msg *m);
int xlmigd_m_vm_locate(struct conn *c, const struct xlmig__rpc_msg *m);
int xlmigd_m_vm_register(struct conn *c, const struct xlmig__rpc_msg *m);
int xlmigd_m_vm_start(struct conn *c, const struct xlmig__rpc_msg *m);
int xlmigd_m_vm_migrate(struct conn *c, const struct xlmig__rpc_msg *m);
int xlmigd_m_vm_place(struct conn *c, const struct xlmig__rpc_msg *m);
int xlmigd_m_vm_migrate_many(struct conn *c, const struct xlmig__rpc_msg *m);
int xlmigd_m_host_evacuate(struct conn *c, const struct xlmig__rpc_msg *m);
/* host.upgrade: a rolling upgrade's command, run here (xlmigd-upgrade.c). */
int xlmigd_m_host_upgrade(struct conn *c, const struct xlmig__rpc_msg *m);
int xlmigd_m_vm_task(struct conn *c, const struct xlmig__rpc_msg *m);
int xlmigd_m_vm_cancel(struct conn *c, const struct xlmig__rpc_msg *m);
int xlmigd_m_vm_receive_start(struct conn *c, const struct xlmig__rpc_msg *m);
int xlmigd_m_vm_receive_status(struct conn *c,
                               const struct xlmig__rpc_msg *m);
int xlmigd_m_vm_receive_abort(struct conn *c, const struct xlmig__rpc_msg *m);

/* xlmigd --worker ...: a worker process's main (xlmigd-worker.c). */
int xlmigd_worker_main(int argc, char **argv,
                       const struct xlmig__hv_ops *hv);

#endif /* XLMIGD_H */

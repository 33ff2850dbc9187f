/* SPDX-License-Identifier: LGPL-2.1-only */
/*
 * Storage motion, internal to its files (sxm*.c): what they share.
 * sxm.h is the interface to the rest of libxlmig, the tools and the
 * tests; this header is not.
 *
 *   sxm-record.c   the task records: phases, encoding, reading, writing
 *   sxm.c          addresses, a VDI's files, the tools and daemons, TLS
 *   sxm-dest.c     the destination: receive start, finalize, cancel
 *   sxm-qmp.c      the source's QMP commands: jobs, nodes, the overlay
 *   sxm-source.c   the source: snapshot, mirror, copy, switch, roll back
 *   sxm-local.c    the move on this host (both sides here)
 *   sxm-recover.c  recovery of the tasks whose owner is gone
 */
#ifndef XLMIG_SXM_INTERNAL_H
#define XLMIG_SXM_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include <yajl/yajl_gen.h>
#include <yajl/yajl_tree.h>

#include "internal.h"
#include "jsonfile.h"
#include "qmp.h"
#include "sr.h"
#include "sxm.h"

#define PATH_MAX_ XLMIG__JSONFILE_PATH_MAX
#define EXPORT_LEAF "leaf"          /* the destination's NBD exports */
#define EXPORT_PARENT "parent"
#define JOB_END_MS 60000            /* a cancelled or completed job ends */

struct xlmig__sxm_names {
    char ov[40], ovf[40], leaf[40], mirror[40], commit[40], tls[40];
};

/*
 * The QEMU serving the disk, through its QMP socket.  The socket serves
 * one client at a time and the toolstack (libxl) needs it too, so each
 * command has a connection of its own (xlmig__qmp_call_once): between
 * commands nothing is held.  Events go only to the client connected
 * when they come, so none is waited for: the jobs are made with
 * auto-dismiss off, and one that ended stays, "concluded" with its
 * error, until xlmig__sxm_job_finish() reads it and dismisses it.  The
 * switch, a dozen commands while the guest stands still and libxl is
 * done with the socket, holds one connection for them all (@held): a
 * connection costs more than its command (greeting, capabilities), and
 * that time is downtime.
 */
struct xlmig__sxm_qemu {
    libxlmig_ctx *ctx;
    const char *sock;
    struct xlmig__qmp *held;        /* NULL: a connection per command */
};

struct xlmig__sxm_job {
    bool found, ready;
    uint64_t len, offset;
    char status[32];
    char error[512];            /* why it failed (QEMU's words), or "" */
};

struct xlmig__sxm_node_info {
    bool found, has_backing;
};

/* A string into @g. */
static inline bool gs(yajl_gen g, const char *s)
{
    return yajl_gen_string(g, (const unsigned char *)s, strlen(s)) ==
           yajl_gen_status_ok;
}

/* A key and its string value into @g. */
static inline bool gkv(yajl_gen g, const char *k, const char *v)
{
    return gs(g, k) && gs(g, v);
}

/* "auto-dismiss": false, so that the job's end and error stay to read. */
static inline bool g_keep_job(yajl_gen g)
{
    return gs(g, "auto-dismiss") && yajl_gen_bool(g, 0) == yajl_gen_status_ok;
}

/* ---------------------------------------------------- sxm-record.c */

/* STATE/sxm/TASK.EXT into @out. */
int xlmig__sxm_task_path(libxlmig_ctx *ctx, const char *state_dir,
                         const char *task, const char *ext, char *out,
                         size_t cap);

/* Write @r to STATE/sxm/TASK.json (the directory made when missing). */
int xlmig__sxm_record_save(libxlmig_ctx *ctx, const char *state_dir,
                           const struct xlmig__sxm_record *r);

/* The tests' fault injection: stall when XLMIG_SXM_TEST_STALL=@phase. */
void xlmig__sxm_test_stall(enum xlmig__sxm_phase phase);

/* Set @r's phase to @phase, save it, then xlmig__sxm_test_stall(@phase). */
int xlmig__sxm_record_phase(libxlmig_ctx *ctx, const char *state_dir,
                            struct xlmig__sxm_record *r,
                            enum xlmig__sxm_phase phase);

/* Remove task @task's record (a warning when it cannot be). */
void xlmig__sxm_record_remove(libxlmig_ctx *ctx, const char *state_dir,
                              const char *task);

/* Read task @task's record into @r: NOT_FOUND (logged) when none. */
int xlmig__sxm_record_load(libxlmig_ctx *ctx, const char *state_dir,
                           const char *task, struct xlmig__sxm_record *r);

/* ---------------------------------------------------- sxm.c */

/* Is @addr an endpoint (addr.h) not longer than XLMIG__SXM_ADDR_MAX? */
bool xlmig__sxm_addr_ok(const char *addr);

/* unlink(@path); a warning unless it is done or was not there. */
void xlmig__sxm_unlink_quiet(libxlmig_ctx *ctx, const char *path);

/* Remove VDI @uuid's image (@fmt), metadata and lock from @sr. */
void xlmig__sxm_vdi_files_remove(libxlmig_ctx *ctx, const struct xlmig__sr *sr,
                                 const char *uuid, enum xlmig__vdi_format fmt);

/* Write VDI @v's metadata, and a lock naming @task when @task. */
int xlmig__sxm_vdi_meta_write(libxlmig_ctx *ctx, const struct xlmig__sr *sr,
                              const struct xlmig__vdi *v, const char *task);

/* Run tool @bin with @argv; its error output logged after @what. */
int xlmig__sxm_run_tool(libxlmig_ctx *ctx, const char *bin, char *const argv[],
                        const char *what);

/* QEMU's --object for TLS directory @dir (id xlmig-tls) into @buf. */
bool xlmig__sxm_tls_object(const char *dir, bool server, char *buf, size_t cap);

/* Run a qemu-storage-daemon that daemonizes; its pid and start time. */
int xlmig__sxm_qsd_daemon(libxlmig_ctx *ctx, char *const argv[],
                          const char *what, const char *pidfile, int64_t *pid_r,
                          uint64_t *start_r);

/* Stop a task's daemon, recorded or found by its pid file. */
void xlmig__sxm_daemon_stop(libxlmig_ctx *ctx, const char *task,
                            const char *what, const char *pidfile,
                            int64_t *pid_r, uint64_t *start_r);

/* ---------------------------------------------------- sxm-dest.c */

/* Undo a destination: exporter, leaf, parent, record, lease. */
int xlmig__sxm_dst_rollback(libxlmig_ctx *ctx, const char *state_dir,
                            struct xlmig__sxm_record *r);

/* Commit the leaf into the parent, which becomes the VDI (into @vdi_r). */
int xlmig__sxm_dst_compose(libxlmig_ctx *ctx, const char *state_dir,
                           struct xlmig__sxm_record *r,
                           char vdi_r[XLMIG__UUID_LEN + 1]);

/* ---------------------------------------------------- sxm-qmp.c */

/* The names of a task's nodes, jobs and TLS object in the QEMU. */
void xlmig__sxm_names_of(const char *task, struct xlmig__sxm_names *n);

/* Close the connection @qm holds, if any. */
void xlmig__sxm_q_release(struct xlmig__sxm_qemu *qm);

/* Finish the arguments and the command of @g, and run it. */
int xlmig__sxm_q_call(const struct xlmig__sxm_qemu *qm, yajl_gen g, bool ok,
                      yajl_val *ret);

/* Run command @cmd with one string argument @k: @v. */
int xlmig__sxm_q_simple(const struct xlmig__sxm_qemu *qm, const char *cmd,
                        const char *k, const char *v);

/* Has the job concluded (ended, waiting to be dismissed)? */
bool xlmig__sxm_job_concluded(const struct xlmig__sxm_job *j);

/* The state of block job @id into @j (j->found false: none). */
int xlmig__sxm_job_query(const struct xlmig__sxm_qemu *qm, const char *id,
                         struct xlmig__sxm_job *j);

/* Wait up to @ms for job @id to conclude and dismiss it; its error. */
int xlmig__sxm_job_finish(libxlmig_ctx *ctx, const struct xlmig__sxm_qemu *qm,
                          const char *id, const char *vdi, unsigned int ms,
                          char *why, size_t cap);

/* Look at the named nodes: @want, the format node of @file, ours. */
int xlmig__sxm_nodes_query(const struct xlmig__sxm_qemu *qm, const char *want,
                           struct xlmig__sxm_node_info *wi, const char *file,
                           const char *drv, char *node_r, size_t node_cap,
                           bool *xlmig_r);

/* Is node @name there, with a backing child? */
int xlmig__sxm_overlay_state(const struct xlmig__sxm_qemu *qm, const char *name,
                             struct xlmig__sxm_node_info *ni);

/* Commit the temporary snapshot's overlay back into the disk. */
int xlmig__sxm_overlay_commit(libxlmig_ctx *ctx,
                              const struct xlmig__sxm_qemu *qm,
                              const struct xlmig__sxm_names *n,
                              const char *vdi);

/* Delete what of ours is in the QEMU: overlay, leaf client, TLS. */
int xlmig__sxm_nodes_del(libxlmig_ctx *ctx, const struct xlmig__sxm_qemu *qm,
                         const struct xlmig__sxm_names *n, const char *vdi,
                         bool tls);

/* Cancel mirror @id, whatever its state, and dismiss it. */
int xlmig__sxm_mirror_stop(libxlmig_ctx *ctx, const struct xlmig__sxm_qemu *qm,
                           const char *id, const char *vdi);

/* ---------------------------------------------------- sxm-source.c */

/* Undo a source: reader, mirror, overlay, nodes, files, record. */
int xlmig__sxm_src_rollback(libxlmig_ctx *ctx, const char *state_dir,
                            struct xlmig__sxm_record *r);

#endif /* XLMIG_SXM_INTERNAL_H */

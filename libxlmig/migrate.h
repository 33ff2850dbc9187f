/* SPDX-License-Identifier: LGPL-2.1-only */
/*
 * vm-migrate (internal; docs/specs/vm-migrate.md): a VM's memory and
 * disks moved to another host, as one task with a journal.
 *
 *   migrate-record.c   the journals STATE/migrate/TASK.json (source) and
 *                      STATE/migrate-in/TASK.json (destination)
 *   migrate-check.c    the checks before a migration (all at once)
 *   migrate-send.c     the source worker
 *   migrate-recv.c     the destination worker
 *   migrate-recover.c  what a daemon does with journals it finds
 */
#ifndef XLMIG_MIGRATE_H
#define XLMIG_MIGRATE_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hv.h"
#include "libxlmig.h"
#include "poolconf.h"
#include "sr.h"
#include "vmconfig.h"

#define XLMIG__MIG_RECORD_MAX (64u << 10)   /* bytes of a journal */
#define XLMIG__MIG_VDIS_MAX XLMIG__VMCFG_DISKS_MAX
#define XLMIG__MIG_NICS_MAX XLMIG__VMCFG_NICS_MAX
#define XLMIG__MIG_KEEP 64                  /* ended journals kept */
#define XLMIG__MIG_LINE_MAX 1024            /* a control line */
#define XLMIG__MIG_PREAMBLE_MAX (XLMIG__DOM_CONFIG_MAX + (64u << 10))

enum xlmig__mig_role { XLMIG__MIG_SRC, XLMIG__MIG_DST };

/* Phases, in order, of either role; a journal holds the last begun. */
enum xlmig__mig_phase {
    XLMIG__MIG_QUEUED,      /* src: waiting for a slot */
    XLMIG__MIG_STORAGE,     /* src: disks mirrored and copied */
    XLMIG__MIG_MEMORY,      /* src: memory streamed, live */
    XLMIG__MIG_SWITCH,      /* src: guest suspended, END held */
    XLMIG__MIG_GO_SENT,     /* src: the destination cleared to unpause */
    XLMIG__MIG_CLEANUP,     /* src: the VM runs at the destination */
    XLMIG__MIG_LISTENING,   /* dst: waiting for the channel */
    XLMIG__MIG_RESTORING,   /* dst: domain being restored */
    XLMIG__MIG_READY,       /* dst: restored, paused */
    XLMIG__MIG_GO,          /* dst: cleared: the VM is ours (commit point) */
    XLMIG__MIG_ROLLBACK,    /* either: undoing */
    XLMIG__MIG_ENDED,       /* either: nothing left to do */
    XLMIG__MIG_PHASES
};

enum xlmig__mig_state {
    XLMIG__MIG_RUNNING,
    XLMIG__MIG_DONE,        /* the VM runs at the destination */
    XLMIG__MIG_FAILED,      /* the VM runs at the source (error says why) */
};

const char *xlmig__mig_phase_name(enum xlmig__mig_phase p);
const char *xlmig__mig_state_name(enum xlmig__mig_state s);

struct xlmig__mig_vdi {
    char vdev[XLMIG__VMCFG_VDEV_MAX + 1];
    char vdi[XLMIG__UUID_LEN + 1];          /* the source VDI */
    char sr[XLMIG__UUID_LEN + 1];           /* destination SR; "": stays */
    char format[8];                         /* destination format; "" as is */
    char dst_task[XLMIG__UUID_LEN + 1];     /* the destination's sxm task */
    char dst_vdi[XLMIG__UUID_LEN + 1];      /* the VDI it makes */
    bool finalized;                         /* composed at the destination */
};

struct xlmig__mig_nic {
    char mac[XLMIG__MAC_LEN + 1];
    char bridge[XLMIG__VMCFG_BRIDGE_MAX + 1];
};

/* A journal (both roles; members a role does not use are empty). */
struct xlmig__mig_record {
    char task[XLMIG__UUID_LEN + 1];
    enum xlmig__mig_role role;
    enum xlmig__mig_phase phase;
    enum xlmig__mig_state state;
    char error[64];                         /* stable name when failed */
    char message[512];
    char vm[XLMIG__DOM_NAME_MAX + 1];       /* the VM's name */
    char vm_uuid[XLMIG__UUID_LEN + 1];
    uint32_t domid;                         /* its domain here, 0: none */
    bool live;                              /* running: a live migration */
    bool copy, force, compress;
    bool priority;                          /* src: the slots' priority
                                             * lane (host evacuation) */
    uint64_t bwlimit;                       /* bytes/s, 0: none */
    char source[65];                        /* host names */
    char destination[65];
    char dest_address[256];                 /* its xlmigd, HOST:PORT */
    char remote_config[256];                /* cross-pool: its pool's config */
    uint64_t slot_task;                     /* the master's task id */
    unsigned int progress;                  /* percent */
    size_t nr_vdis;
    struct xlmig__mig_vdi vdis[XLMIG__MIG_VDIS_MAX];
    size_t nr_nics;
    struct xlmig__mig_nic nics[XLMIG__MIG_NICS_MAX];
    int64_t worker_pid;                     /* the process running it */
    uint64_t worker_start;
    int64_t started, ended;                 /* seconds since 1970 */
    uint64_t downtime_ms;                   /* src: suspended to done */
    uint64_t total_ms;
    uint64_t wire_bytes, stream_bytes;      /* memory: on the wire, libxl */
};

/*
 * Encode as JSON (NUL-ended) into @buf of @cap bytes; decode @len bytes
 * (over XLMIG__MIG_RECORD_MAX refused) into *r, written only on
 * success: LIBXLMIG_ERR_MIGRATE_RECORD_INVALID naming @label and the
 * member; logs only when @ctx is not NULL (the fuzz target).
 */
int xlmig__mig_record_encode(const struct xlmig__mig_record *r, char *buf,
                             size_t cap, size_t *len_r);
int xlmig__mig_record_decode(libxlmig_ctx *ctx, const char *label,
                             const uint8_t *json, size_t len,
                             struct xlmig__mig_record *r);

/* Save crash-safely as STATE/migrate[-in]/TASK.json (dirs made). */
int xlmig__mig_record_save(libxlmig_ctx *ctx, const char *state_dir,
                           const struct xlmig__mig_record *r);
/* Load @task of @role; NOT_FOUND (logged) when there is none. */
int xlmig__mig_record_load(libxlmig_ctx *ctx, const char *state_dir,
                           enum xlmig__mig_role role, const char *task,
                           struct xlmig__mig_record *r);
/* Every journal of @role, oldest first, malloc'd (free()). */
int xlmig__mig_record_list(libxlmig_ctx *ctx, const char *state_dir,
                           enum xlmig__mig_role role,
                           struct xlmig__mig_record **recs_r, size_t *nr_r);
/* Remove ended journals of @role beyond the newest XLMIG__MIG_KEEP. */
void xlmig__mig_record_prune(libxlmig_ctx *ctx, const char *state_dir,
                             enum xlmig__mig_role role);

#endif /* XLMIG_MIGRATE_H */

/* SPDX-License-Identifier: LGPL-2.1-only */
/*
 * Storage motion (internal; docs/specs/sxm.md): move a VDI, VM running
 * or not, to another SR, on this host or another, losing nothing.
 *
 * Destination ("receive"): a parent VDI (the final one, in the format
 * asked for) and a leaf VDI (qcow2 over the parent, extended L2 with 16
 * KiB clusters: 512-byte subclusters, so that no write to it ever reads
 * the parent) are made in the destination SR and served over NBD by a
 * qemu-storage-daemon we start: exports "leaf" and "parent".  Finalize
 * stops it and commits the leaf into the parent (qemu-img commit):
 * one VDI is left.  Cancel removes everything receive-start made.
 *
 * Source ("send"), over QMP to the QEMU that serves the VM's disk:
 *   1. temporary snapshot: an overlay (qcow2, in the source SR) is put
 *      over the disk's node with blockdev-snapshot; the image below is
 *      frozen: it is the snapshot;
 *   2. mirror: blockdev-mirror sync=top from the overlay to an NBD
 *      client node of the destination's leaf: the writes made since
 *      the snapshot, then every new write;
 *   3. copy: the frozen image, read through a read-only qemu-nbd, is
 *      copied into the destination's parent, allocated extents only
 *      (blkcopy.h: holes and zeros skipped, bandwidth cap, progress);
 *   4. in sync: the mirror is ready; the caller switches the VM when it
 *      likes (the guest paused), and the mirror is then ended with the
 *      leaf equal to the disk;
 *   5. the snapshot goes: the overlay is committed back into the disk's
 *      image (block-commit, job-complete), so the source VDI is whole
 *      and one image again.
 * Any failure or cancel before the switch rolls back: mirror cancelled,
 * overlay committed and removed, nodes deleted; the VM never stops.
 *
 * Each side keeps a record STATE/sxm/TASK.json of its phase, written
 * crash-safely before every step that leaves something behind, so that
 * xlmig__sxm_recover() after a crash of either side finishes a compose
 * that had begun and rolls back everything else.
 */
#ifndef XLMIG_SXM_H
#define XLMIG_SXM_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "libxlmig.h"
#include "sr.h"

#define XLMIG__SXM_RECORD_MAX (16u << 10)  /* bytes of a record file */
#define XLMIG__SXM_ADDR_MAX 300            /* "tcp:HOST:PORT", "unix:PATH" */
#define XLMIG__SXM_TASKS_MAX 256           /* records in one state dir */
#define XLMIG__SXM_PSK_USER "xlmig"        /* NBD TLS-PSK identity */

enum xlmig__sxm_role { XLMIG__SXM_DST, XLMIG__SXM_SRC };

/* Phases, in order; a record holds the last one begun. */
enum xlmig__sxm_phase {
    XLMIG__SXM_CREATING,    /* dst: making parent and leaf */
    XLMIG__SXM_EXPORTED,    /* dst: served over NBD */
    XLMIG__SXM_COMPOSING,   /* dst: leaf being committed into parent */
    XLMIG__SXM_STARTING,    /* src: nothing changed yet but nodes */
    XLMIG__SXM_SNAPSHOT,    /* src: overlay made, maybe in the graph */
    XLMIG__SXM_MIRRORING,   /* src: mirror job started */
    XLMIG__SXM_COPYING,     /* src: reader started, copy running */
    XLMIG__SXM_SYNCED,      /* src: copy done, mirror ready or nearly */
    XLMIG__SXM_SWITCHING,   /* src: ending the mirror, then the overlay */
    XLMIG__SXM_ROLLBACK,    /* either: undoing */
    XLMIG__SXM_PHASES
};

/* A task's record (both roles; members a role does not use are empty). */
struct xlmig__sxm_record {
    char task[XLMIG__UUID_LEN + 1];
    enum xlmig__sxm_role role;
    enum xlmig__sxm_phase phase;
    char vdi_name[XLMIG__SR_NAME_MAX + 1];
    uint64_t virtual_size;
    /* dst */
    char sr[XLMIG__UUID_LEN + 1];
    char parent[XLMIG__UUID_LEN + 1];
    char leaf[XLMIG__UUID_LEN + 1];
    enum xlmig__vdi_format format;          /* the parent's */
    char listen[XLMIG__SXM_ADDR_MAX + 1];
    int64_t exporter_pid;
    uint64_t exporter_start;
    /* src */
    char vdi[XLMIG__UUID_LEN + 1];          /* the VDI being moved */
    char qmp[XLMIG__SR_PATH_MAX];           /* the VM's QMP socket */
    char node[128];                         /* the disk's node */
    char dest[XLMIG__SXM_ADDR_MAX + 1];     /* the destination's address */
    int64_t reader_pid;
    uint64_t reader_start;
    int64_t proxy_pid;                      /* the leaf's TLS proxy */
    uint64_t proxy_start;
    bool tls;       /* a TLS object in the VM's QEMU (older records) */
    bool offline;                           /* no QEMU: qmp, node "-" */
    /* both: the process running the task (src: the sender; dst: the
     * one that started the destination, xlmigd or xlmig, and later the
     * one composing it; not the exporter, which outlives it), so that
     * recovery leaves a live task alone */
    int64_t owner_pid;
    uint64_t owner_start;
};

const char *xlmig__sxm_phase_name(enum xlmig__sxm_phase p);

/* Encode as JSON text (NUL-ended) into @buf of @cap bytes. */
int xlmig__sxm_record_encode(const struct xlmig__sxm_record *r, char *buf,
                             size_t cap, size_t *len_r);
/*
 * Decode @len bytes (more than XLMIG__SXM_RECORD_MAX refused) into *r,
 * written only on success.  LIBXLMIG_ERR_SXM_RECORD_INVALID naming @label
 * and the member; logs only when @ctx is not NULL (the fuzz target).
 */
int xlmig__sxm_record_decode(libxlmig_ctx *ctx, const char *label,
                             const uint8_t *json, size_t len,
                             struct xlmig__sxm_record *r);

/*
 * An address for NBD: "tcp:HOST:PORT" (HOST a name, an IPv4 address or
 * an IPv6 address in brackets, PORT 1..65535) or "unix:PATH" (absolute,
 * shorter than a socket path may be), XLMIG__SXM_ADDR_MAX bytes at
 * most: the grammar of xlmig__endpoint_split() (addr.h).  0 when @addr
 * is one; else INVALID_ARGUMENT, logged when @ctx is not NULL.
 */
int xlmig__sxm_addr_check(libxlmig_ctx *ctx, const char *addr);

/*
 * The NBD URI (libnbd's syntax) of export @export ("parent", "leaf") of
 * a destination served at @addr (tcp:HOST:PORT or unix:PATH), nbds when
 * @tls.  LIBXLMIG_ERR_INVALID_ARGUMENT (not logged) when @addr is
 * malformed or the URI does not fit in @cap bytes.
 */
int xlmig__sxm_export_uri(const char *addr, const char *export, bool tls,
                          char *uri, size_t cap);

/*
 * The NBD client's TLS options (blkcopy.h, diskstream.h) for a TLS
 * directory as tls_dir below (NULL: none): its certificates, or its
 * keys.psk as user XLMIG__SXM_PSK_USER.
 */
struct xlmig__sxm_nbd_tls {
    const char *certs_dir, *psk_file, *username;
    char psk_path[4096];                /* as PATH_MAX: tls_dir + "/keys.psk" */
};
void xlmig__sxm_nbd_tls(const char *tls_dir, struct xlmig__sxm_nbd_tls *t);

/* --------------------------------------------------------- destination */

struct xlmig__sxm_recv_req {
    const char *state_dir;
    const char *sr;             /* destination SR, uuid or name */
    const char *name;           /* the VDI's name */
    uint64_t virtual_size;
    const char *format;         /* "qcow2" (NULL) or "raw" */
    const char *listen;         /* where to serve NBD (addr_check) */
    const char *tls_dir;        /* NULL, or ca-cert.pem server-cert.pem
                                 * server-key.pem: clients must present
                                 * a certificate of that CA; or keys.psk
                                 * (lines "USER:HEXKEY"): TLS-PSK */
    uint64_t src_allocated;     /* the source's allocated bytes, for the
                                 * space check (0: assume all of it) */
};

/*
 * Make the parent and the leaf and serve them.  *rec_r gets the record
 * (task, parent and leaf uuids).  On failure nothing is left.
 */
int xlmig__sxm_recv_start(libxlmig_ctx *ctx,
                          const struct xlmig__sxm_recv_req *req,
                          struct xlmig__sxm_record *rec_r);

/* Stop serving, compose, leave the parent as the VDI; *vdi_r its uuid
 * (may be NULL).  The record and the lease file (STATE/sxm/TASK.lease,
 * xlmigd's) go. */
int xlmig__sxm_recv_finalize(libxlmig_ctx *ctx, const char *state_dir,
                             const char *task, char vdi_r[XLMIG__UUID_LEN + 1]);

/* Stop serving and remove parent, leaf, record and lease file. */
int xlmig__sxm_recv_cancel(libxlmig_ctx *ctx, const char *state_dir,
                           const char *task);

/* -------------------------------------------------------------- source */

struct xlmig__sxm_progress {
    enum xlmig__sxm_phase phase;
    uint64_t copy_total, copy_done;     /* snapshot bytes to copy, done */
    uint64_t mirror_total, mirror_done; /* the mirror job's counters */
    bool in_sync;                       /* the VM can be switched */
    double seconds;
};

struct xlmig__sxm_send_req {
    const char *state_dir;
    const char *vdi;            /* the VDI being moved (uuid) */
    const char *qmp;            /* QMP socket of the QEMU serving it */
    const char *node;           /* its node; NULL: the node whose image
                                 * is the VDI's file */
    const char *dest;           /* the destination's address */
    const char *vm;             /* the VM whose disk it is (NULL: none;
                                 * then any VBD of the VDI refuses) */
    const char *tls_dir;        /* NULL, or ca-cert.pem client-cert.pem
                                 * client-key.pem; or keys.psk with a
                                 * key for XLMIG__SXM_PSK_USER */
    uint64_t bwlimit;           /* bytes/s of the copy and the mirror */
    /*
     * The copy through the stream channel's codecs and TLS
     * (diskstream.h) instead of NBD to the parent: HOST:PORT of the
     * destination's disk stream receiver (NULL: NBD), its TLS, the
     * channel's parameters (NULL: zstd), and, after the stream's end,
     * the destination's word that all of it was written and flushed:
     * 0, or an error code (logged by it).
     */
    const char *data_via;
    const libxlmig_tls_params *data_tls;
    const libxlmig_channel_params *data_params;
    int (*data_ack)(void *opaque);
    /* Called about 5 times a second. */
    void (*progress)(void *opaque, const struct xlmig__sxm_progress *p);
    /*
     * Polled about 5 times a second once in sync: 1 = the guest is
     * paused, switch now; 0 = keep mirroring; negative = cancel.
     */
    int (*switch_ready)(void *opaque);
    /*
     * NULL, or is the destination's side still there (the daemon that
     * serves it, say)?  0 while it is; a negative LIBXLMIG_ERR_* once it
     * is gone, which the callback logs (naming the host, saying what to
     * do) the first time and returns again, unlogged, on later calls.
     * Polled every 50 ms through every phase up to the switch, from the
     * calling thread or, during the copy, from a thread of the call's
     * own (never from two at once); the move then rolls back with that
     * error, the copy stopped within about 100 ms.
     */
    int (*peer_check)(void *opaque);
    void *opaque;
    volatile sig_atomic_t *cancel;  /* set (any time) to roll back */
};

/*
 * Move the disk as above.  0 after the switch: the destination's leaf
 * and parent together equal the disk as the guest left it, and the
 * source VDI is whole; the caller then has the destination finalize.
 * On failure or cancel everything is rolled back (the destination's
 * cancel is the caller's).  Errors name the VDI: MIRROR_FAILED when the
 * mirror broke (the destination went away), CANCELLED, IO, QMP_ERROR,
 * or req->peer_check's.  The QMP socket is held one command at a time
 * (xlmig__qmp_call_once), never in between: libxl can use it meanwhile.
 */
int xlmig__sxm_send(libxlmig_ctx *ctx, const struct xlmig__sxm_send_req *req,
                    struct xlmig__sxm_record *rec_r);

/*
 * The offline copy: VDI req->vdi, which no running VM writes (a halted
 * VM's), read through a read-only qemu-nbd and copied, allocated extents
 * only, into the parent of the destination served at req->dest (with
 * req->tls_dir, bwlimit, progress, cancel and peer_check as for
 * xlmig__sxm_send(); qmp, node, switch_ready and data_via unused).  A
 * record covers the reader while it runs.  The caller has the
 * destination finalized (or cancelled) after.
 */
int xlmig__sxm_copy(libxlmig_ctx *ctx, const struct xlmig__sxm_send_req *req);

/* ------------------------------------------------------- on this host */

struct xlmig__sxm_move_req {
    const char *state_dir;
    const char *vdi;            /* the VDI (uuid) */
    const char *sr;             /* the SR to move it to, on this host */
    const char *format;         /* "qcow2" or "raw"; NULL: as it is */
    const char *qmp;            /* the QEMU serving it; NULL: no VM runs
                                 * on it (an offline copy) */
    const char *node, *vm;      /* as for xlmig__sxm_send() */
    bool keep;                  /* a copy: the source VDI stays */
    uint64_t bwlimit;
    void (*progress)(void *opaque, const struct xlmig__sxm_progress *p);
    /* Live only, as for xlmig__sxm_send(): the guest stays paused from
     * the switch until this call returns. */
    int (*switch_ready)(void *opaque);
    void *opaque;
    volatile sig_atomic_t *cancel;
};

/*
 * Move (or, with @keep, copy) a VDI to another SR of this host, in the
 * format asked for.  Offline: its image is read by a read-only qemu-nbd
 * and copied into the parent.  Live: xlmig__sxm_send() to a destination
 * served on a unix socket here, the destination finalized, then the
 * VM's disk node is switched to the new VDI (a mirror with sync=none
 * completed at once: nothing to copy while the guest is paused).  A
 * move carries the VBDs and flags over and destroys the old VDI.
 * *vdi_r gets the new VDI's uuid.
 */
int xlmig__sxm_move(libxlmig_ctx *ctx, const struct xlmig__sxm_move_req *req,
                    char vdi_r[XLMIG__UUID_LEN + 1]);

/* ---------------------------------------------------------- recovery */

/*
 * Every record in STATE/sxm: a destination whose compose had begun is
 * finished; everything else is rolled back (a destination's parent and
 * leaf removed; a source's mirror cancelled, overlay committed into
 * the disk, even when its QEMU is gone: qemu-img commit).  Records
 * whose task is still being run by a live process are left alone.
 * *done_r gets how many were handled.
 */
int xlmig__sxm_recover(libxlmig_ctx *ctx, const char *state_dir,
                       unsigned int *done_r);

/* Every record, sorted by task, in a malloc'd array. */
int xlmig__sxm_list(libxlmig_ctx *ctx, const char *state_dir,
                    struct xlmig__sxm_record **recs_r, size_t *nr_r);

#endif /* XLMIG_SXM_H */

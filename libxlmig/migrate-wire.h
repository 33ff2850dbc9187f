/* SPDX-License-Identifier: LGPL-2.1-only */
/*
 * What the two migration workers say to each other (internal;
 * docs/specs/vm-migrate.md, "The control messages"): the stream
 * channel over TLS with a pipe on each side, the preamble that carries
 * the domain's configuration, and short text lines.
 */
#ifndef XLMIG_MIGRATE_WIRE_H
#define XLMIG_MIGRATE_WIRE_H

#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <yajl/yajl_tree.h>

#include "libxlmig.h"
#include "poolconf.h"

#define XLMIG__MIGL_READY "xlmig-ready"
#define XLMIG__MIGL_FAILED "xlmig-failed"
#define XLMIG__MIGL_GO "xlmig-go"
#define XLMIG__MIGL_DONE "xlmig-done"
#define XLMIG__MIGL_CONFIG "xlmig-config"

/*
 * A channel and its two pipes: the worker writes what goes to the peer
 * into to_peer (the channel's send thread reads the other end) and
 * reads what came from the peer from from_peer (the receive thread
 * writes the other end).
 */
struct xlmig__mig_link {
    libxlmig_ctx *ctx;          /* the channel's own */
    libxlmig_channel *ch;
    int sock;                   /* to shut down on abort */
    int to_peer;                /* the worker writes here */
    int from_peer;              /* the worker reads here */
    int send_in, recv_out;      /* the threads' ends */
    pthread_t ts, tr;
    pthread_mutex_t lock;
    bool started, send_done, recv_done;
    int send_rc, recv_rc;
};

/*
 * TLS over connected socket @sock (owned from here, also on failure) as
 * client or server, then the channel as @sender (the side whose stream
 * is compressed) with @p, and its two threads.  *l_r is freed by
 * xlmig__mig_link_close().
 */
int xlmig__mig_link_open(libxlmig_ctx *ctx, int sock, bool server,
                         const libxlmig_tls_params *tls, bool sender,
                         const libxlmig_channel_params *p,
                         struct xlmig__mig_link **l_r);

/* Break the link at once: both threads end, the peer sees an error. */
void xlmig__mig_link_abort(struct xlmig__mig_link *l);

/*
 * End the link: nothing more to send (the peer reads a clean end), wait
 * up to @grace_ms for both directions, abort if they do not end; free.
 * Returns 0 when both directions ended cleanly.  NULL-safe.
 */
int xlmig__mig_link_close(struct xlmig__mig_link *l, unsigned int grace_ms);

/* The channel's counters (zeros before it is open). */
void xlmig__mig_link_progress(struct xlmig__mig_link *l,
                              libxlmig_channel_progress *p_r);

/* Write "LINE\n" (at most XLMIG__MIG_LINE_MAX bytes) to @fd. */
int xlmig__mig_line_write(int fd, const char *line);

/*
 * Read one line from @fd byte by byte (never past its "\n", so that what
 * follows stays in the pipe), without the "\n", into @buf (@cap bytes).
 * Waits up to @timeout_ms, polling *@cancel (may be NULL) every 100 ms.
 * Errors (logged, naming @peer): IO when the peer's side ended first,
 * TIMEOUT, CANCELLED, PROTOCOL for a line longer than @cap - 1 or with
 * a control character.
 */
int xlmig__mig_line_read(libxlmig_ctx *ctx, int fd, const char *peer,
                         char *buf, size_t cap, unsigned int timeout_ms,
                         volatile sig_atomic_t *cancel);

/* The preamble: "xlmig-config LEN\n" and LEN bytes of JSON. */
int xlmig__mig_preamble_write(int fd, const char *json, size_t len);
/* Read it (LEN over XLMIG__MIG_PREAMBLE_MAX refused before allocating). */
int xlmig__mig_preamble_read(libxlmig_ctx *ctx, int fd, const char *peer,
                             unsigned int timeout_ms,
                             volatile sig_atomic_t *cancel, char **json_r,
                             size_t *len_r);

/*
 * The tree of a preamble's JSON (jsonfile's first pass, the cap, an
 * object at the top); errors say why in @why, nothing logged.
 */
int xlmig__mig_preamble_tree(const char *json, size_t len, yajl_val *root_r,
                             char *why, size_t why_len);

/* Is the peer of socket @fd gone (closed, reset, keepalive expired)? */
bool xlmig__sock_peer_gone(int fd);

#endif /* XLMIG_MIGRATE_WIRE_H */

/* SPDX-License-Identifier: LGPL-2.1-only */
/*
 * A QMP client (internal; docs/specs/qmp-client.md): commands to the
 * QEMU that serves a VM's disks (qemu-storage-daemon, or a device model
 * QEMU), over its QMP monitor on a unix socket.  Storage live migration
 * drives its block jobs, dirty bitmaps and NBD exports with it.
 *
 * QMP sends one JSON object per line.  Every line is untrusted: it is
 * cut off at XLMIG__QMP_LINE_MAX bytes before anything bigger is
 * allocated, checked by jsonfile's first pass (syntax, depth, NULs)
 * before yajl_tree_parse(), and every read has a deadline (poll).
 *
 * Arguments are built with yajl_gen, as the pool RPC does (rpc.c):
 *
 *     yajl_gen g = xlmig__qmp_gen("block-dirty-bitmap-add");
 *     ... yajl_gen_string(g, "node") ... yajl_gen_string(g, "disk0") ...
 *     rc = xlmig__qmp_call(q, g, &ret);       (frees g; yajl_tree_free(ret))
 *
 * or, for short fixed argument lists, given as one JSON object text:
 *
 *     rc = xlmig__qmp_execute(q, "query-named-block-nodes", NULL, &ret);
 *
 * A handle is used by one thread at a time; it has no lock.  Decoding
 * (xlmig__qmp_decode) is pure: no context, no logging (it is fuzzed).
 */
#ifndef XLMIG_QMP_H
#define XLMIG_QMP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <yajl/yajl_gen.h>
#include <yajl/yajl_tree.h>

#include "libxlmig.h"

#define XLMIG__QMP_LINE_MAX (1024u * 1024u) /* bytes of one line, no EOL */
#define XLMIG__QMP_DEPTH_MAX 64      /* nested objects and arrays */
#define XLMIG__QMP_EVENTS_MAX 256    /* events queued; the oldest go */
#define XLMIG__QMP_NAME_MAX 127      /* command, event, class, id kept */
#define XLMIG__QMP_DESC_MAX 1023     /* bytes of an error's desc kept */
#define XLMIG__QMP_WHY_MAX 256       /* room for a decode's @why */

/* ------------------------------------------------------------ decoding */

enum xlmig__qmp_kind {
    XLMIG__QMP_GREETING,    /* {"QMP": {"version": ..., "capabilities": []}} */
    XLMIG__QMP_RETURN,      /* {"return": VALUE, "id": ID} */
    XLMIG__QMP_ERROR,       /* {"error": {"class":, "desc":}, "id": ID} */
    XLMIG__QMP_EVENT,       /* {"event": NAME, "data": {}, "timestamp": {}} */
};

/*
 * One decoded line.  The yajl_val members point into root and live until
 * xlmig__qmp_msg_dispose().
 */
struct xlmig__qmp_msg {
    enum xlmig__qmp_kind kind;
    /* RETURN, ERROR: the "id" when it is a string (ours are), cut to
     * fit; has_id false when there is none (QEMU answers a command it
     * could not parse without one).  An id of another type is refused. */
    bool has_id;
    char id[XLMIG__QMP_NAME_MAX + 1];
    /* GREETING: the "QMP" object; RETURN: the "return" value (any JSON
     * type, never NULL); EVENT: "data", or NULL when absent; ERROR: the
     * "error" object. */
    yajl_val value;
    /* GREETING: the QEMU version, 0.0.0 when the greeting has none. */
    unsigned int major, minor, micro;
    /* ERROR: class and desc, controls shown as '?', cut to fit. */
    char err_class[XLMIG__QMP_NAME_MAX + 1];
    char err_desc[XLMIG__QMP_DESC_MAX + 1];
    /* EVENT: its name (non-empty), and the timestamp (0 when absent). */
    char event[XLMIG__QMP_NAME_MAX + 1];
    int64_t ts_seconds, ts_microseconds;
    yajl_val root;          /* the whole line's tree: ours to free */
};

/*
 * Decode one line of @len bytes of @line (need not be NUL-ended; a
 * trailing "\r" or "\n" is allowed) into *m, which is overwritten.
 * Returns 0; LIBXLMIG_ERR_PROTOCOL with a sentence in @why (@why_len
 * bytes, XLMIG__QMP_WHY_MAX suffice; may be NULL) for a line longer
 * than XLMIG__QMP_LINE_MAX, empty, not JSON, not an object, or none of
 * the four kinds (a return without "id" is taken, has_id false: the
 * caller decides); LIBXLMIG_ERR_NO_MEMORY; LIBXLMIG_ERR_INVALID_ARGUMENT
 * for NULL @line or @m.  On failure *m is left disposed.  Logs nothing.
 */
int xlmig__qmp_decode(const char *line, size_t len, struct xlmig__qmp_msg *m,
                      char *why, size_t why_len);

/* Free the tree of @m and zero it; idempotent, NULL-safe. */
void xlmig__qmp_msg_dispose(struct xlmig__qmp_msg *m);

/*
 * Detach @v (a value inside @m's tree, e.g. m->value) from it, so that
 * it outlives xlmig__qmp_msg_dispose(): the caller yajl_tree_free()s
 * the result.  NULL when @v is not a direct member of m->root or is the
 * root (which is then handed over whole and m->root set to NULL).
 */
yajl_val xlmig__qmp_msg_take(struct xlmig__qmp_msg *m, yajl_val v);

/* ------------------------------------------------------------ client */

struct xlmig__qmp;

/*
 * Connect to QMP socket @socket_path, read the greeting, send
 * qmp_capabilities and check its return.  @timeout_ms (0: 30000) bounds
 * the connect and the greeting together, the capabilities on their
 * own, and each later call and wait without its own.  QEMU's monitor
 * serves one client at a time: while another holds the socket, QEMU
 * takes the connection into its backlog and greets it only once the
 * other has left, and a full backlog refuses it (EAGAIN); the connect
 * waits for both, tried again every 20 ms, within the timeout.
 * *q_r is the handle (free it with xlmig__qmp_close()); NULL on
 * failure.  Errors are logged naming the socket: NOT_FOUND (no such
 * socket), PERMISSION_DENIED, IO (refused: nothing listens), TIMEOUT
 * (no greeting in time: another client held the socket), PROTOCOL (not
 * a QMP greeting), QMP_ERROR (QEMU refused the capabilities),
 * INVALID_ARGUMENT (a path longer than sun_path), NO_MEMORY.
 */
int xlmig__qmp_connect(libxlmig_ctx *ctx, const char *socket_path,
                       unsigned int timeout_ms, struct xlmig__qmp **q_r);

/*
 * One command on a connection of its own: xlmig__qmp_connect(), then
 * xlmig__qmp_call() of @g (freed in every case), then the connection
 * closed.  For callers that must leave the socket to other clients
 * (libxl needs the device model's) between commands.  Events that come
 * meanwhile are lost: QEMU sends them to the client connected then.
 * Errors as for the two calls.
 */
int xlmig__qmp_call_once(libxlmig_ctx *ctx, const char *socket_path,
                         unsigned int timeout_ms, yajl_gen g,
                         yajl_val *return_r);

/* Close the socket, drop queued events, free @q.  NULL-safe. */
void xlmig__qmp_close(struct xlmig__qmp *q);

/* The version of QEMU from its greeting. */
void xlmig__qmp_version(const struct xlmig__qmp *q, unsigned int *major,
                        unsigned int *minor, unsigned int *micro);

/*
 * A generator for command @command: a compact yajl generator that
 * validates UTF-8, with {"execute":"COMMAND","arguments":{ written; the
 * caller adds members of the arguments (key, value, ...) and hands it
 * to xlmig__qmp_call().  NULL when out of memory or @command is not 1
 * to XLMIG__QMP_NAME_MAX bytes of [A-Za-z0-9_-].
 */
yajl_gen xlmig__qmp_gen(const char *command);

/*
 * Run the command in @g (from xlmig__qmp_gen(), arguments complete,
 * nothing left open): the call adds "id":"xlmig-N" (N counts from 1 on
 * this handle), sends the line and reads lines until the reply of that
 * id, queueing the events that come first (xlmig__qmp_next_event()).
 * Frees @g in every case.  On success *return_r (may be NULL: dropped)
 * is the "return" value, a tree of its own: yajl_tree_free() it.
 * Errors, logged naming the socket and the command:
 *   QMP_ERROR   QEMU answered with an error: "CLASS: desc" in the message;
 *   TIMEOUT     no reply within the handle's timeout (a reply that comes
 *               later is dropped when it arrives);
 *   IO          QEMU closed its QMP socket (it exited or was killed), or
 *               a read or write failed; the handle is then dead: every
 *               later call fails at once the same way;
 *   PROTOCOL    a line too long, not JSON, not QMP, a reply of an id we
 *               did not send (the handle is dead too);
 *   INVALID_ARGUMENT  @g is NULL or its text is not one command.
 */
int xlmig__qmp_call(struct xlmig__qmp *q, yajl_gen g, yajl_val *return_r);

/*
 * xlmig__qmp_call() of @command with arguments @args_json: NULL (none)
 * or the text of one JSON object, e.g.
 * "{\"node\":\"disk0\",\"name\":\"b0\"}".  Text that is not an object
 * is INVALID_ARGUMENT (logged), nothing sent.
 */
int xlmig__qmp_execute(struct xlmig__qmp *q, const char *command,
                       const char *args_json, yajl_val *return_r);

/*
 * The oldest queued event named @name (NULL: any), else wait up to
 * @timeout_ms (0: the handle's timeout) for one, queueing others that
 * come first.  *event_r is the whole event object ({"event":..,
 * "data":.., "timestamp":..}), a tree of its own: yajl_tree_free() it.
 * TIMEOUT (logged, naming the event) when none came; IO, PROTOCOL as
 * for calls.  Replies that come while waiting (to calls that timed
 * out) are dropped.
 */
int xlmig__qmp_next_event(struct xlmig__qmp *q, const char *name,
                          unsigned int timeout_ms, yajl_val *event_r);

/*
 * The oldest queued event named @name (NULL: any), without reading or
 * waiting: 0 and *event_r (yajl_tree_free() it), or
 * LIBXLMIG_ERR_NOT_FOUND, not logged.
 */
int xlmig__qmp_take_event(struct xlmig__qmp *q, const char *name,
                          yajl_val *event_r);

/* How many events were dropped because the queue was full. */
uint64_t xlmig__qmp_events_dropped(const struct xlmig__qmp *q);

/* Members of a returned object: the string @key, or NULL. */
const char *xlmig__qmp_get_str(yajl_val obj, const char *key);

#endif /* XLMIG_QMP_H */

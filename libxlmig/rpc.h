/* SPDX-License-Identifier: LGPL-2.1-only */
/*
 * The pool RPC message layer (internal; docs/specs/rpc.md): frames of
 * one JSON message each over a transport, requests, responses and
 * server-pushed events, built with yajl_gen and read with yajl_tree.
 *
 * Framing (xlmig__rpc_read_frame/_write_frame) logs through the
 * context.  Decoding is pure: no context, no logging, a sentence in
 * @why for the caller to put in its own message (it is fuzzed).  The
 * encoders have no context either; they refuse with a code only.
 */
#ifndef XLMIG_RPC_H
#define XLMIG_RPC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <yajl/yajl_gen.h>
#include <yajl/yajl_tree.h>

#include "libxlmig.h"

#define XLMIG__RPC_VERSION 1
#define XLMIG__RPC_FRAME_MAX 65536u     /* bytes of one message */
#define XLMIG__RPC_DEPTH_MAX 16         /* nested objects and arrays */
#define XLMIG__RPC_NAME_MAX 63          /* method, event, error name */
#define XLMIG__RPC_MESSAGE_MAX 1023     /* bytes of an error message kept */
#define XLMIG__RPC_ERR_PARAMS_MAX 4     /* parameters of an error */
#define XLMIG__RPC_ERR_PARAM_MAX 255    /* bytes of one parameter */

/* Room for a decode's @why: every sentence fits. */
#define XLMIG__RPC_WHY_MAX 256

/* ------------------------------------------------------------ frames */

/*
 * Read one frame from @t: its 4-byte big-endian length, checked against
 * 1..XLMIG__RPC_FRAME_MAX before anything is allocated, then the
 * message.  Returns 0 with *json_r a malloc'd buffer (the caller frees
 * it) of *len_r bytes and a NUL after them; 1 when the connection ended
 * cleanly before the first byte of a frame (*json_r NULL, *len_r 0);
 * otherwise a negative LIBXLMIG_ERR_*: PROTOCOL (logged, naming @peer,
 * "host:port" or NULL for "the peer") for a zero or oversized length,
 * named with the cap, or a connection that ended inside the frame;
 * NO_MEMORY; or the transport's own code (logged by the transport).
 */
int xlmig__rpc_read_frame(libxlmig_ctx *ctx, libxlmig_transport *t,
                          const char *peer, char **json_r, size_t *len_r);

/*
 * Write @len bytes of @json as one frame (length and message in one
 * transport write).  INVALID_ARGUMENT (logged) when @len is 0 or above
 * XLMIG__RPC_FRAME_MAX; otherwise the transport's code.
 */
int xlmig__rpc_write_frame(libxlmig_ctx *ctx, libxlmig_transport *t,
                           const char *json, size_t len);

/* ------------------------------------------------------------ decoding */

enum xlmig__rpc_kind {
    XLMIG__RPC_REQUEST,
    XLMIG__RPC_RESPONSE,
    XLMIG__RPC_EVENT,
};

/*
 * A decoded message.  params and result point into the tree at root and
 * live until xlmig__rpc_msg_dispose().
 */
struct xlmig__rpc_msg {
    enum xlmig__rpc_kind kind;
    uint64_t id;                    /* request, response; 0 for events */
    char method[XLMIG__RPC_NAME_MAX + 1];   /* request: method; event:
                                               its name; response: "" */
    yajl_val params;                /* request, event: the params object,
                                       or NULL when the message has none */
    yajl_val result;                /* response without error: the result
                                       (never NULL then; JSON null is a
                                       yajl_t_null value); else NULL */
    bool is_error;                  /* response with "error" */
    char err_name[XLMIG__RPC_NAME_MAX + 1];     /* "TOO_MANY_MIGRATIONS" */
    char err_message[XLMIG__RPC_MESSAGE_MAX + 1];  /* cut to fit */
    unsigned int nr_err_params;
    char err_params[XLMIG__RPC_ERR_PARAMS_MAX][XLMIG__RPC_ERR_PARAM_MAX + 1];
    yajl_val root;                  /* the whole tree: ours to free */
};

/*
 * Decode @len bytes of @json (need not be NUL-ended) into *m, following
 * the reading rules of docs/specs/rpc.md.  *m is overwritten first (do
 * not decode into a message that still holds a tree: dispose it).
 * Returns 0; LIBXLMIG_ERR_PROTOCOL with a sentence in @why (@why_len
 * bytes, XLMIG__RPC_WHY_MAX suffice; may be NULL) when the text breaks
 * a rule; LIBXLMIG_ERR_NO_MEMORY; LIBXLMIG_ERR_INVALID_ARGUMENT for a
 * NULL @m or @json.  On failure *m is left disposed (nothing to free;
 * disposing it again is fine).  Logs nothing.
 */
int xlmig__rpc_decode(const char *json, size_t len, struct xlmig__rpc_msg *m,
                      char *why, size_t why_len);

/* Free the tree of @m and zero it; idempotent, NULL-safe. */
void xlmig__rpc_msg_dispose(struct xlmig__rpc_msg *m);

/*
 * Whether @name is a valid method or event name: 1 to 63 bytes of
 * [a-z0-9._-].  And an error name: 1 to 63 bytes of [A-Z0-9_].
 */
bool xlmig__rpc_method_name_ok(const char *name);
bool xlmig__rpc_error_name_ok(const char *name);

/* ------------------------------------------------------------ encoding */

/*
 * The generators below are compact yajl generators that validate UTF-8,
 * with the message's envelope already written.  The caller adds its
 * part with yajl_gen_*() and hands the generator to
 * xlmig__rpc_gen_finish(), which frees it.  They return NULL when out
 * of memory or when the name is not valid (xlmig__rpc_method_name_ok).
 *
 * gen_request: {"v":1,"id":ID,"method":"METHOD","params":{   and the
 *              caller adds members (key, value, ...) to params.
 * gen_event:   {"v":1,"event":"NAME","params":{   the same.
 * gen_result:  {"v":1,"id":ID,"result":   and the caller writes exactly
 *              one value (a map, an array, a string, null...).
 */
yajl_gen xlmig__rpc_gen_request(uint64_t id, const char *method);
yajl_gen xlmig__rpc_gen_event(const char *name);
yajl_gen xlmig__rpc_gen_result(uint64_t id);

/*
 * Close what the gen_* helper opened, check that the text is a message
 * xlmig__rpc_decode() takes (with the kind the helper started, and
 * nothing left open by the caller), and return a malloc'd NUL-ended copy
 * in *json_r (the caller frees it) of *len_r bytes.  Frees @g in every
 * case.  LIBXLMIG_ERR_INVALID_ARGUMENT when @g is NULL, is in an error
 * state, or the text would be refused (bigger than
 * XLMIG__RPC_FRAME_MAX, nested deeper than XLMIG__RPC_DEPTH_MAX, a
 * duplicate member, a value missing, a map or array left open);
 * LIBXLMIG_ERR_NO_MEMORY.  *json_r is NULL on failure.
 */
int xlmig__rpc_gen_finish(yajl_gen g, char **json_r, size_t *len_r);

/*
 * Write the JSON value @v (a yajl tree: a decoded message's params or
 * result) into @g, numbers as their own text.  0, or
 * LIBXLMIG_ERR_INVALID_ARGUMENT when @v is NULL or yajl_gen refuses a
 * part of it (@g is then unusable: finish it to free it).
 */
int xlmig__rpc_gen_value(yajl_gen g, yajl_val v);

/*
 * An error response to request @id: {"v":1,"id":ID,"error":{"name":
 * libxlmig_strerror_name(@rc),"message":@message,"params":[...]}}.
 * @rc must be negative.  @message NULL means libxlmig_strerror(@rc);
 * bytes of it that are not UTF-8 become '?' and it is cut to
 * XLMIG__RPC_MESSAGE_MAX bytes at a character boundary, so that an
 * error can always be sent.  @params: @nr_params strings (at most
 * XLMIG__RPC_ERR_PARAMS_MAX, each valid UTF-8 of at most
 * XLMIG__RPC_ERR_PARAM_MAX bytes; otherwise INVALID_ARGUMENT).  Returns
 * a malloc'd NUL-ended text in *json_r as xlmig__rpc_gen_finish() does.
 */
int xlmig__rpc_encode_error(uint64_t id, int rc, const char *message,
                            const char *const *params, unsigned int nr_params,
                            char **json_r, size_t *len_r);

/* ------------------------------------------------------------ params */

/*
 * Members of a params object (of a decoded message: no duplicates).
 * xlmig__rpc_get: the member @key of object @obj, or NULL when @obj is
 * NULL or not an object or has no such member.
 * get_str: the string, or NULL when missing or not a string.
 * get_uint, get_bool: 0 with *v set; LIBXLMIG_ERR_NOT_FOUND when
 * missing; LIBXLMIG_ERR_INVALID_ARGUMENT when of another type (get_uint:
 * not a JSON integer 0..2^64-1 without fraction or exponent); *v is
 * untouched then.  None of them logs: the caller names the method and
 * the parameter in its own message.
 */
yajl_val xlmig__rpc_get(yajl_val obj, const char *key);
const char *xlmig__rpc_get_str(yajl_val obj, const char *key);
int xlmig__rpc_get_uint(yajl_val obj, const char *key, uint64_t *v);
int xlmig__rpc_get_bool(yajl_val obj, const char *key, bool *v);

/* ------------------------------------------------------------ calls */

/*
 * Called for each event that arrives while xlmig__rpc_call() waits;
 * @ev and its tree live only during the call.
 */
typedef void xlmig__rpc_event_fn(const struct xlmig__rpc_msg *ev,
                                 void *opaque);

/*
 * A client's call: write the request @json_req (@len bytes, made with
 * xlmig__rpc_gen_request(@id, ...)), then read frames until the
 * response of @id.  Events that come first go to @on_event (may be
 * NULL: they are dropped) with @opaque.  *resp is filled with the
 * response, success or error (the caller disposes it either way; it is
 * zeroed/disposed on other failures).  Returns 0 for a result; for an
 * error response, the code of its name (libxlmig_error_from_name(); a
 * name not known here gives LIBXLMIG_ERR_PROTOCOL), logged with the
 * peer and the server's message; LIBXLMIG_ERR_PROTOCOL (logged) when
 * the peer closes before answering, sends a message that does not
 * decode, a response of another id, or a request; the frame layer's and
 * the transport's codes otherwise.  @peer names the server in messages
 * ("h2:7700", NULL: "the peer").  No timeout of its own: the transport
 * has them.
 */
int xlmig__rpc_call(libxlmig_ctx *ctx, libxlmig_transport *t,
                    const char *peer, const char *json_req, size_t len,
                    uint64_t id, xlmig__rpc_event_fn *on_event, void *opaque,
                    struct xlmig__rpc_msg *resp);

#endif /* XLMIG_RPC_H */

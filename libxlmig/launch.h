/* SPDX-License-Identifier: LGPL-2.1-only */
/*
 * The launch request (internal; docs/specs/channel.md, "Launch
 * request"): sent by the connecting side after TLS and before the
 * channel hello, it asks the listener to start the receiving xl command.
 * The listener only ever starts `xl [-v...|-t|-T] migrate-receive
 * [xl's own receive flags]`; everything else is refused, naming the
 * offending argument.
 */
#ifndef XLMIG_LAUNCH_H
#define XLMIG_LAUNCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "libxlmig.h"

#define XLMIG__LAUNCH_MAGIC "XLMIGRUN"
#define XLMIG__LAUNCH_REPLY_MAGIC "XLMIGACK"
#define XLMIG__LAUNCH_VERSION 1
#define XLMIG__LAUNCH_HDR_LEN 12        /* magic, version, argc */
#define XLMIG__LAUNCH_ARGC_MAX 16u
#define XLMIG__LAUNCH_ARG_MAX 256u      /* bytes of one argument */
#define XLMIG__LAUNCH_TOTAL_MAX 4096u   /* bytes of the whole request */
#define XLMIG__LAUNCH_REPLY_HDR_LEN 14  /* magic, version, status, rsvd,
                                           reason length */
#define XLMIG__LAUNCH_REASON_MAX 1024u
#define XLMIG__LAUNCH_ACCEPTED 0
#define XLMIG__LAUNCH_REFUSED 1

/*
 * What the sender says about the VM, in words before "xl" that start
 * with "xlmig:" (docs/specs/channel.md, "Launch request"):
 *   xlmig:vm=NAME                      the VM being migrated
 *   xlmig:cpu=TYPE/VENDOR/FEATURESET   what it booted with (TYPE pv or
 *                                      hvm; VENDOR the CPUID string or
 *                                      its short form; XenServer's form)
 *   xlmig:force                        skip the CPU check (say so)
 */
#define XLMIG__LAUNCH_META_PREFIX "xlmig:"

struct xlmig__launch_meta {
    bool has_vm;
    char vm[65];
    bool has_cpu;
    libxlmig_guest_type type;
    libxlmig_cpu_flags cpu;
    bool force;
};

/* A decoded request.  argv[] points into args; argv[argc] is NULL. */
struct xlmig__launch_req {
    unsigned int argc;
    char *argv[XLMIG__LAUNCH_ARGC_MAX + 1];
    char args[XLMIG__LAUNCH_TOTAL_MAX];     /* the strings, NUL-ended */
    struct xlmig__launch_meta meta;         /* from the xlmig: words */
};

/*
 * The xlmig: words for @m into @words (each XLMIG__LAUNCH_ARG_MAX + 1
 * bytes), at most 3; returns how many, or -1 when one would not fit in
 * a launch argument (or the vendor is unknown).
 */
int xlmig__launch_meta_words(const struct xlmig__launch_meta *m,
                             char words[][XLMIG__LAUNCH_ARG_MAX + 1]);

/*
 * Take the leading xlmig: words out of @req into req->meta (argv then
 * starts at "xl").  0, or LIBXLMIG_ERR_PROTOCOL with a reason naming the
 * word in @why: an unknown key, a bad value, a repeated key, or cpu
 * without vm.  Logs nothing (the fuzz target calls it).
 */
int xlmig__launch_take_meta(struct xlmig__launch_req *req, char *why,
                            size_t why_len);

/*
 * Encode a request for @argv[0..argc-1] into @buf of @cap bytes.
 * Checks the caps (argc 1..16, each argument 1..256 bytes without NUL,
 * whole request ≤ 4 KiB) and returns LIBXLMIG_ERR_INVALID_ARGUMENT with
 * a reason in @why when they are broken.
 */
int xlmig__launch_encode(unsigned int argc, char *const argv[],
                         uint8_t *buf, size_t cap, size_t *len_r,
                         char *why, size_t why_len);

/*
 * Decode the @len bytes received so far (a prefix of one request).
 * Returns 0 with *need_r = 0 when @buf holds exactly one whole valid
 * request (then *req is filled), 0 with *need_r > 0 when that many more
 * bytes are needed before it can say more, or LIBXLMIG_ERR_PROTOCOL
 * with a reason in @why.  Never reads past @len, never asks for more
 * than the 4 KiB cap allows, allocates nothing.  Logs nothing (it is
 * the fuzz target's entry point).
 */
int xlmig__launch_decode(const uint8_t *buf, size_t len,
                         struct xlmig__launch_req *req, size_t *need_r,
                         char *why, size_t why_len);

/*
 * Is @req the whitelisted command?  0, or LIBXLMIG_ERR_PERMISSION_DENIED
 * with a reason naming the offending argument in @why.  Logs nothing.
 */
int xlmig__launch_check(const struct xlmig__launch_req *req, char *why,
                        size_t why_len);

/*
 * Client: send the request for @argv over @t and wait for the reply.
 * 0 when the listener (@peer, for messages) accepted; otherwise the
 * error is logged: LIBXLMIG_ERR_PERMISSION_DENIED with the listener's
 * reason when it refused, LIBXLMIG_ERR_PROTOCOL for a bad reply.
 */
int xlmig__launch_request(libxlmig_ctx *ctx, libxlmig_transport *t,
                          const char *peer, unsigned int argc,
                          char *const argv[]);

/*
 * Listener: read one request from @t into *req and check it against the
 * whitelist.  On a malformed or refused request it sends the refusal
 * (with the reason) itself, logs and returns the error.  On success the
 * caller starts the command and then answers with
 * xlmig__launch_reply().
 */
int xlmig__launch_receive(libxlmig_ctx *ctx, libxlmig_transport *t,
                          const char *peer, struct xlmig__launch_req *req);

/* Listener: send the answer; @reason is ignored when @accepted. */
int xlmig__launch_reply(libxlmig_ctx *ctx, libxlmig_transport *t,
                        bool accepted, const char *reason);

/* A printable, quoted copy of @s (at most @len - 1 bytes) for messages. */
void xlmig__launch_quote(char *dst, size_t len, const char *s);

#endif /* XLMIG_LAUNCH_H */

/* SPDX-License-Identifier: LGPL-2.1-only */
/*
 * The END hold (internal; docs/specs/endhold.md): a relay between the
 * pipe that libxl_domain_suspend() writes the migration stream into and
 * the fd that feeds the stream channel, which passes every byte on but
 * the libxl END record, and holds those 8 bytes until the caller
 * releases them (docs/specs/vm-migrate.md, "The switch point"):
 *
 *     rc = xlmig__endhold_start(ctx, pipe_rd, chan_wr, &h);
 *     ... libxl_domain_suspend(ctx, domid, pipe_wr, LIBXL_SUSPEND_LIVE, NULL)
 *         in another thread ...
 *     rc = xlmig__endhold_wait(h, 1000);      (TIMEOUT: show progress, again)
 *     ... 0: the guest is suspended; end the mirrors ...
 *     rc = xlmig__endhold_release(h);         (or _abort: END never sent)
 *     rc = xlmig__endhold_finish(h);
 *
 * The END record is found by its place in the record structure, as the
 * record follower (follow.h) sees it: the libxl record header of type 0
 * after the libxc stream, never by looking for zeros (the libxc stream's
 * own END is 8 zero bytes too, and passes through).
 *
 * The core (xlmig__endhold_core_*) is pure: buffers in, which of their
 * bytes go out now; no fds, no context, no logging (it is fuzzed by
 * tests/fuzz/fuzz-endhold.c).  The relay thread feeds it what it reads
 * and writes what it says, from the read buffer itself.
 */
#ifndef XLMIG_ENDHOLD_H
#define XLMIG_ENDHOLD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "follow.h"
#include "libxlmig.h"
#include "xen-stream-format.h"

#define XLMIG__ENDHOLD_CHUNK (64u << 10)    /* bytes read at a time */
#define XLMIG__ENDHOLD_WHY_MAX 320          /* bytes of the core's why */

/* ---------------------------------------------------------------- core */

enum xlmig__endhold_state {
    XLMIG__ENDHOLD_RELAYING = 0,    /* feed it more */
    XLMIG__ENDHOLD_HELD = 1,        /* END held; all before it went out */
    XLMIG__ENDHOLD_FAILED = 2,      /* why says why; nothing more goes out */
};

/*
 * The core's state; in the header so it can be embedded.  Nothing to
 * dispose.  What it keeps back between two feeds is at most the bytes
 * of one libxl record header (8), which may turn out to be END.
 */
struct xlmig__endhold_core {
    struct xlmig__follow f;
    enum xlmig__endhold_state state;
    bool end_held;              /* END was held (stays true on FAILED) */
    uint64_t fed;               /* stream bytes fed so far */
    uint64_t out;               /* stream bytes passed on so far */
    uint64_t end_at;            /* END's stream offset, once held */
    uint8_t pend[XLMIG__REC_HDR_LEN];   /* bytes out..fed, kept back */
    uint8_t flush[XLMIG__REC_HDR_LEN];  /* kept bytes now going out */
    uint8_t end[XLMIG__REC_HDR_LEN];    /* the END record's bytes */
    char why[XLMIG__ENDHOLD_WHY_MAX];
};

/* What goes out after one feed: @pre_len bytes at @pre (kept back by
 * earlier feeds), then the first @len bytes of the input. */
struct xlmig__endhold_out {
    const uint8_t *pre;         /* into the core; valid until next feed */
    size_t pre_len;
    size_t len;
};

/* Start on a new stream (an xl or a libxl header first). */
void xlmig__endhold_core_init(struct xlmig__endhold_core *c);

/*
 * The next @len stream bytes at @in (the bytes right after those fed
 * before; @len may be 0).  Says in *out_r what to pass on now, and
 * returns the state after them:
 *  - RELAYING: all of @in goes out but a trailing, incomplete libxl
 *    record header (kept back: it may be END);
 *  - HELD: the libxl END record was completed by these bytes; all
 *    before it goes out, END is kept (xlmig__endhold_core_end);
 *  - FAILED: the stream cannot be followed, is a libxc stream without
 *    the libxl layer, or has bytes after END (end_held then stays
 *    true); what goes out is only what came before the failure, and
 *    nothing more ever does.
 */
enum xlmig__endhold_state
xlmig__endhold_core_feed(struct xlmig__endhold_core *c, const uint8_t *in,
                         size_t len, struct xlmig__endhold_out *out_r);

/* The input ended: FAILED (why names where the stream stopped) unless
 * END is held; returns the state. */
enum xlmig__endhold_state
xlmig__endhold_core_eof(struct xlmig__endhold_core *c);

/* The held END record's 8 bytes (valid once end_held). */
const uint8_t *xlmig__endhold_core_end(const struct xlmig__endhold_core *c);

/* Why it failed ("" otherwise). */
const char *xlmig__endhold_core_why(const struct xlmig__endhold_core *c);

/* ---------------------------------------------------------------- relay */

struct xlmig__endhold;

/*
 * Start a relay thread: read @in_fd until EOF, following the stream (a
 * libxl header first, as libxl_domain_suspend writes it, or an xl
 * header, as `xl save` writes it), and write to @out_fd everything but
 * the libxl END record.  Neither fd is closed by the relay.  While the
 * relay runs, an @out_fd that is a pipe is put in non-blocking mode
 * (its flags are restored by _finish; a socket is written with
 * MSG_DONTWAIT instead), so that _abort stops it at once.  SIGPIPE is
 * blocked in the relay's thread: a reader gone is an IO error.
 * 0, or NO_MEMORY / IO (logged).  The caller frees *h_r with _finish.
 */
int xlmig__endhold_start(libxlmig_ctx *ctx, int in_fd, int out_fd,
                         struct xlmig__endhold **h_r);

/*
 * Wait up to @timeout_ms for END to be held.  0 when it is: the stream
 * before it has been written to @out_fd, so the guest is suspended (and
 * 0 stays the answer, whatever comes after).  TIMEOUT, not logged (wait
 * again).  Otherwise the relay's error, logged by the relay: PROTOCOL
 * when the stream cannot be followed or ended without a libxl END
 * record (naming where it ended), IO when a read or write failed,
 * CANCELLED after _abort.  Any thread.
 */
int xlmig__endhold_wait(struct xlmig__endhold *h, unsigned int timeout_ms);

/* Stream bytes read from @in_fd so far; safe from any thread. */
uint64_t xlmig__endhold_bytes(struct xlmig__endhold *h);

/*
 * Write the held END record to @out_fd (the relay's thread writes it;
 * this waits for it).  Only after _wait said 0; else INVALID_ARGUMENT.
 * 0, IO (the write failed, logged) or CANCELLED (_abort came first:
 * END may be cut short, the stream is broken).  Bytes after END in
 * @in_fd are an error (PROTOCOL) that _finish reports, not this.
 */
int xlmig__endhold_release(struct xlmig__endhold *h);

/*
 * Stop at once: returns when the relay writes nothing more to @out_fd
 * (a relay waiting to read or write is woken; the caller's fds are left
 * open).  END is never written after this.  Any thread; NULL-safe;
 * again is harmless.
 */
void xlmig__endhold_abort(struct xlmig__endhold *h);

/*
 * Join the relay and free it; returns its final result: 0 when END was
 * released and @in_fd reached EOF after it (so this waits for that
 * EOF: call _abort first to stop without it); PROTOCOL for bytes after
 * END; the relay's error otherwise; CANCELLED after _abort or when END
 * was never released (then _finish aborts).  NULL-safe (0).
 */
int xlmig__endhold_finish(struct xlmig__endhold *h);

#endif /* XLMIG_ENDHOLD_H */

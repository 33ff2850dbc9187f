/* SPDX-License-Identifier: LGPL-2.1-only */
/*
 * compress=auto: choose a codec and level per frame from what the
 * channel measures while it runs (internal).
 *
 * The model: a frame's raw bytes cost enc_ns_per_byte of one thread's
 * CPU time to compress (CPU time, so that waiting for a CPU on a busy
 * host does not count against a codec) and ratio * bytes of link time.
 * With T threads the pipeline moves min(T / enc_ns_per_byte,
 * link_bytes_per_s / ratio) raw bytes a second; we pick the candidate
 * that maximises it.  Every candidate's
 * figures are refreshed by trying it now and then, so a change in the
 * data or the link is noticed.  While the link is the bottleneck, the
 * others are tried on the side (the frame encoded once more, measured,
 * not sent): the spare CPU pays for the trial, not the link.  A trial
 * and the frame sent saw the same bytes, so the trial's figures are
 * taken relative to the sent codec's: a stream whose content changes
 * (a first pass, then deltas) does not make a candidate look better or
 * worse than it is.
 */
#ifndef XLMIG_CHANNEL_ADAPT_H
#define XLMIG_CHANNEL_ADAPT_H

#include <stddef.h>
#include <stdint.h>

#include "codec.h"

struct xlmig__adapt;

int xlmig__adapt_new(unsigned int threads, struct xlmig__adapt **a_r);
void xlmig__adapt_free(struct xlmig__adapt *a);

/* What to do with the next frame. */
struct xlmig__adapt_pick {
    const struct xlmig__codec_ops *codec;   /* the frame goes with this */
    int level;
    const struct xlmig__codec_ops *trial;   /* also encode with this, to */
    int trial_level;                        /* measure it only; or NULL */
};

/* The codec and level for the next frame.  Thread-safe. */
void xlmig__adapt_choose(struct xlmig__adapt *a, struct xlmig__adapt_pick *p);

/* A worker compressed @raw bytes to @wire in @ns of its CPU time.
 * Thread-safe. */
void xlmig__adapt_report_encode(struct xlmig__adapt *a,
                                const struct xlmig__codec_ops *c, int level,
                                size_t raw, size_t wire, uint64_t ns);

/* A worker also encoded a frame of @raw bytes, sent as @p->codec in
 * @sent_wire bytes and @sent_ns, with @p->trial in @wire bytes and @ns.
 * Thread-safe. */
void xlmig__adapt_report_trial(struct xlmig__adapt *a,
                               const struct xlmig__adapt_pick *p, size_t raw,
                               size_t sent_wire, uint64_t sent_ns,
                               size_t wire, uint64_t ns);

/* The writer moved @bytes in @ns of write time.  Thread-safe. */
void xlmig__adapt_report_write(struct xlmig__adapt *a, size_t bytes,
                               uint64_t ns);

/*
 * The link took the @bytes we wrote in @ns without making us wait: it
 * is no bottleneck now, and at least that fast.  Until a rate is
 * measured the model assumes a slow link (so that it compresses); this
 * raises that assumption.  Thread-safe.
 */
void xlmig__adapt_report_link_idle(struct xlmig__adapt *a, size_t bytes,
                                   uint64_t ns);

/* Which candidate was chosen how often, for tests and progress. */
void xlmig__adapt_counts(struct xlmig__adapt *a, uint64_t *counts,
                         unsigned int n);

/* One line on what the model saw and chose, for the debug log. */
void xlmig__adapt_summary(struct xlmig__adapt *a, char *buf, size_t len);

#endif /* XLMIG_CHANNEL_ADAPT_H */

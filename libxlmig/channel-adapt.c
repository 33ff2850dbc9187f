/* SPDX-License-Identifier: LGPL-2.1-only */
/* compress=auto: see channel-adapt.h for the model. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include "channel-adapt.h"
#include "internal.h"

struct candidate {
    const struct xlmig__codec_ops *codec;
    int level;
    double ns_per_byte;         /* encode cost, one thread; 0: unknown */
    double ratio;               /* wire / raw, from its own frames */
    /*
     * Tried on the side last: the candidate sent meanwhile, and this
     * one's wire bytes over that one's on the same frames.  Its ratio is
     * then ref's now times rel, so that the stream's content changing
     * since the trial (a first pass, then deltas) moves both alike.
     */
    struct candidate *ref;
    double rel;
    uint64_t last_tried;        /* frame number */
    uint64_t chosen;            /* frames sent with it */
    uint64_t trials;            /* frames encoded with it on the side */
};

#define NCAND 5
#define EXPLORE_EVERY 16        /* one frame in this many refreshes */
#define ALPHA 0.25              /* EWMA weight of a new sample */

struct xlmig__adapt {
    pthread_mutex_t lock;
    unsigned int threads;
    struct candidate cand[NCAND];
    double link_bps;            /* wire bytes/s the link drained; 0: ? */
    double link_floor;          /* wire bytes/s the link took without
                                   making us wait, since link_bps was
                                   last measured; 0: none */
    uint64_t frames;
};

int xlmig__adapt_new(unsigned int threads, struct xlmig__adapt **a_r)
{
    struct xlmig__adapt *a = xlmig__zalloc(sizeof(*a));

    if (!a)
        return LIBXLMIG_ERR_NO_MEMORY;
    pthread_mutex_init(&a->lock, NULL);
    a->threads = threads ? threads : 1;
    a->cand[0] = (struct candidate){ .codec = &xlmig__codec_none, .level = 0 };
    a->cand[1] = (struct candidate){ .codec = &xlmig__codec_lz4, .level = 1 };
    a->cand[2] = (struct candidate){ .codec = &xlmig__codec_zstd, .level = 1 };
    a->cand[3] = (struct candidate){ .codec = &xlmig__codec_zstd, .level = 3 };
    /* For slow links: on a busy guest's stream 4% fewer bytes than
     * zstd 3 for twice its CPU. */
    a->cand[4] = (struct candidate){ .codec = &xlmig__codec_zstd, .level = 6 };
    *a_r = a;
    return 0;
}

void xlmig__adapt_free(struct xlmig__adapt *a)
{
    if (!a)
        return;
    pthread_mutex_destroy(&a->lock);
    free(a);
}

/* What @c sends per raw byte, as far as the model knows. */
static double ratio_of(const struct candidate *c)
{
    double r;

    if (!c->ref || c->ref->ratio <= 0)
        return c->ratio;
    r = c->ref->ratio * c->rel;
    return r < 1.0 ? r : 1.0;
}

/*
 * The wire bytes a second the model takes the link to carry.  Measured
 * while it was the bottleneck, that rate; but a link that took more
 * without making us wait is faster than that, and one that took all we
 * sent is at least as fast: assume twice what it took, so that a
 * faster link is found in a few steps (each lets more through).  With
 * nothing known yet, assume a slow link (100 MB/s), so that the first
 * frames compress (a middle choice) instead of flooding a slow link raw.
 */
static double link_bps(const struct xlmig__adapt *a)
{
    if (a->link_bps > 0)
        return a->link_floor > a->link_bps ? 2 * a->link_floor : a->link_bps;
    return 2 * a->link_floor > 100e6 ? 2 * a->link_floor : 100e6;
}

/* Raw bytes per second the encoders would move with @c. */
static double cpu_rate(const struct xlmig__adapt *a,
                       const struct candidate *c)
{
    return c->ns_per_byte > 0 ? a->threads * 1e9 / c->ns_per_byte : 1e12;
}

/* Raw bytes per second the link would move with @c. */
static double link_rate(const struct xlmig__adapt *a,
                        const struct candidate *c)
{
    double ratio = ratio_of(c) > 0 ? ratio_of(c) : 1.0;

    return link_bps(a) / ratio;
}

/* Raw bytes per second the pipeline would move with @c. */
static double throughput(const struct xlmig__adapt *a,
                         const struct candidate *c)
{
    double cpu = cpu_rate(a, c), link = link_rate(a, c);

    return cpu < link ? cpu : link;
}

void xlmig__adapt_choose(struct xlmig__adapt *a, struct xlmig__adapt_pick *p)
{
    struct candidate *best = NULL, *trial = NULL;
    unsigned int i;

    pthread_mutex_lock(&a->lock);
    a->frames++;
    /* Try every candidate once, then refresh the stalest now and then. */
    for (i = 0; i < NCAND && !best; i++) {
        if (a->cand[i].ns_per_byte == 0 && a->cand[i].last_tried == 0)
            best = &a->cand[i];
    }
    if (!best) {
        struct candidate *top = &a->cand[0];
        double top_tp;

        for (i = 1; i < NCAND; i++) {
            if (throughput(a, &a->cand[i]) > throughput(a, top))
                top = &a->cand[i];
        }
        top_tp = throughput(a, top);
        /*
         * Now and then refresh the stalest other candidate.  Trying one
         * that the model puts far below the best costs frames sent
         * slowly, so those are refreshed four times less often.
         */
        if (a->frames % EXPLORE_EVERY == 0) {
            uint64_t stale_age = 0;

            for (i = 0; i < NCAND; i++) {
                struct candidate *k = &a->cand[i];
                uint64_t age = a->frames - k->last_tried;

                if (k == top)
                    continue;
                if (throughput(a, k) < top_tp / 2)
                    age /= 4;
                if (!trial || age > stale_age) {
                    trial = k;
                    stale_age = age;
                }
            }
        }
        best = top;
        /*
         * With the CPUs the bottleneck the candidate goes out itself
         * (sending it costs less CPU than encoding the frame twice);
         * with the link the bottleneck it is tried on the side.
         */
        if (trial && cpu_rate(a, top) <= link_rate(a, top)) {
            best = trial;
            trial = NULL;
        }
    }
    best->last_tried = a->frames;
    best->chosen++;
    p->codec = best->codec;
    p->level = best->level;
    p->trial = NULL;
    p->trial_level = 0;
    if (trial) {
        trial->last_tried = a->frames;
        trial->trials++;
        p->trial = trial->codec;
        p->trial_level = trial->level;
    }
    pthread_mutex_unlock(&a->lock);
}

/* A figure moved toward a new @sample, or set to it when @first. */
static double ewma(double old, double sample, bool first)
{
    return first ? sample : old + ALPHA * (sample - old);
}

/* Fold a sample of its own frames into a candidate's figures. */
static void learn(struct candidate *k, double npb, double ratio)
{
    bool first = k->ns_per_byte == 0;

    if (k->ref) {
        /* From here its own frames say what it sends, starting from
         * what the trials said. */
        k->ratio = ratio_of(k);
        k->ref = NULL;
    }
    k->ns_per_byte = ewma(k->ns_per_byte, npb, first);
    k->ratio = ewma(k->ratio, ratio, first);
}

static struct candidate *find(struct xlmig__adapt *a,
                              const struct xlmig__codec_ops *c, int level)
{
    unsigned int i;

    for (i = 0; i < NCAND; i++) {
        if (a->cand[i].codec == c && a->cand[i].level == level)
            return &a->cand[i];
    }
    return NULL;
}

void xlmig__adapt_report_encode(struct xlmig__adapt *a,
                                const struct xlmig__codec_ops *c, int level,
                                size_t raw, size_t wire, uint64_t ns)
{
    struct candidate *k;

    if (!raw)
        return;
    pthread_mutex_lock(&a->lock);
    k = find(a, c, level);
    if (k)
        learn(k, (double)(ns ? ns : 1) / (double)raw,
              (double)(wire < raw ? wire : raw) / (double)raw);
    pthread_mutex_unlock(&a->lock);
}

/* Below this, an encode's time is too short to scale another by. */
#define TRIAL_MIN_NS 10000u

void xlmig__adapt_report_trial(struct xlmig__adapt *a,
                               const struct xlmig__adapt_pick *p, size_t raw,
                               size_t sent_wire, uint64_t sent_ns,
                               size_t wire, uint64_t ns)
{
    struct candidate *s, *k;
    double npb, rel;

    if (!raw || !sent_wire)
        return;
    if (wire > raw)
        wire = raw;
    if (sent_wire > raw)
        sent_wire = raw;
    pthread_mutex_lock(&a->lock);
    s = find(a, p->codec, p->level);
    k = find(a, p->trial, p->trial_level);
    if (s && k && s != k && s->ns_per_byte > 0) {
        /* The trial against the frame sent: its cost scaled to what the
         * sent codec's figures say of the stream as a whole, its bytes
         * kept relative to the sent codec's (ratio_of()). */
        rel = (double)wire / (double)sent_wire;
        npb = sent_ns >= TRIAL_MIN_NS
                  ? s->ns_per_byte * (double)(ns ? ns : 1) / (double)sent_ns
                  : (double)(ns ? ns : 1) / (double)raw;
        k->ns_per_byte = ewma(k->ns_per_byte, npb, k->ns_per_byte == 0);
        k->rel = ewma(k->rel, rel, k->ref != s);
        k->ref = s;
    }
    pthread_mutex_unlock(&a->lock);
}

void xlmig__adapt_report_write(struct xlmig__adapt *a, size_t bytes,
                               uint64_t ns)
{
    double bps;

    if (!bytes)
        return;
    bps = (double)bytes * 1e9 / (double)(ns ? ns : 1);
    pthread_mutex_lock(&a->lock);
    a->link_bps = ewma(a->link_bps, bps, a->link_bps == 0);
    a->link_floor = 0;          /* the link is the bottleneck now */
    pthread_mutex_unlock(&a->lock);
}

void xlmig__adapt_report_link_idle(struct xlmig__adapt *a, size_t bytes,
                                   uint64_t ns)
{
    double bps = ns ? (double)bytes * 1e9 / (double)ns : 0;

    pthread_mutex_lock(&a->lock);
    if (bps > a->link_floor)
        a->link_floor = bps;
    pthread_mutex_unlock(&a->lock);
}

void xlmig__adapt_counts(struct xlmig__adapt *a, uint64_t *counts,
                         unsigned int n)
{
    unsigned int i;

    pthread_mutex_lock(&a->lock);
    for (i = 0; i < n && i < NCAND; i++)
        counts[i] = a->cand[i].chosen;
    pthread_mutex_unlock(&a->lock);
}

void xlmig__adapt_summary(struct xlmig__adapt *a, char *buf, size_t len)
{
    size_t pos = 0;
    unsigned int i;

    if (!len)
        return;
    buf[0] = '\0';
    pthread_mutex_lock(&a->lock);
    pos += (size_t)snprintf(buf, len, "link %.0f MB/s (taken %.0f MB/s);",
                            a->link_bps / 1e6, a->link_floor / 1e6);
    for (i = 0; i < NCAND && pos < len; i++) {
        const struct candidate *k = &a->cand[i];

        pos += (size_t)snprintf(buf + pos, len - pos,
                                " %s/%d %llu frames, %llu trials "
                                "(%.1f ns/B, ratio %.2f)",
                                k->codec->name, k->level,
                                (unsigned long long)k->chosen,
                                (unsigned long long)k->trials,
                                k->ns_per_byte, ratio_of(k));
    }
    pthread_mutex_unlock(&a->lock);
}

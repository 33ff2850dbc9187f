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
    double ratio;               /* wire / raw */
    uint64_t last_tried;        /* frame number */
    uint64_t chosen;
};

#define NCAND 5
#define EXPLORE_EVERY 16        /* one frame in this many refreshes */
#define ALPHA 0.25              /* EWMA weight of a new sample */

struct xlmig__adapt {
    pthread_mutex_t lock;
    unsigned int threads;
    struct candidate cand[NCAND];
    double link_bps;            /* wire bytes/s the link drained; 0: ? */
    bool link_idle;             /* the link kept up with us (while 0) */
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
    a->cand[3] = (struct candidate){ .codec = &xlmig__codec_zstd, .level = 2 };
    a->cand[4] = (struct candidate){ .codec = &xlmig__codec_zstd, .level = 3 };
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

/* Raw bytes per second the pipeline would move with @c. */
static double throughput(const struct xlmig__adapt *a,
                         const struct candidate *c)
{
    double cpu = c->ns_per_byte > 0 ? a->threads * 1e9 / c->ns_per_byte
                                    : 1e12;
    double link = a->link_bps > 0 ? a->link_bps / (c->ratio > 0 ? c->ratio
                                                                : 1.0)
                                  : 1e12;

    /*
     * Nothing known about the link yet: assume it is slow until it shows
     * otherwise, so the first frames compress (a middle choice) instead
     * of flooding a slow link raw.  A link that keeps up says so quickly
     * (xlmig__adapt_report_link_idle()); a slow one gives a rate.
     */
    if (a->link_bps <= 0 && !a->link_idle)
        link = 100e6 / (c->ratio > 0 ? c->ratio : 1.0);

    return cpu < link ? cpu : link;
}

void xlmig__adapt_choose(struct xlmig__adapt *a,
                         const struct xlmig__codec_ops **c_r, int *level_r)
{
    struct candidate *best = NULL;
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
            struct candidate *stale = NULL;
            uint64_t stale_age = 0;

            for (i = 0; i < NCAND; i++) {
                struct candidate *k = &a->cand[i];
                uint64_t age = a->frames - k->last_tried;

                if (k == top)
                    continue;
                if (throughput(a, k) < top_tp / 2)
                    age /= 4;
                if (!stale || age > stale_age) {
                    stale = k;
                    stale_age = age;
                }
            }
            best = stale;
        }
        if (!best)
            best = top;
    }
    best->last_tried = a->frames;
    best->chosen++;
    *c_r = best->codec;
    *level_r = best->level;
    pthread_mutex_unlock(&a->lock);
}

void xlmig__adapt_report_encode(struct xlmig__adapt *a,
                                const struct xlmig__codec_ops *c, int level,
                                size_t raw, size_t wire, uint64_t ns)
{
    unsigned int i;

    if (!raw)
        return;
    pthread_mutex_lock(&a->lock);
    for (i = 0; i < NCAND; i++) {
        struct candidate *k = &a->cand[i];
        double npb = (double)(ns ? ns : 1) / (double)raw;
        double ratio = (double)(wire < raw ? wire : raw) / (double)raw;

        if (k->codec != c || k->level != level)
            continue;
        if (k->ns_per_byte == 0) {
            k->ns_per_byte = npb;
            k->ratio = ratio;
        } else {
            k->ns_per_byte += ALPHA * (npb - k->ns_per_byte);
            k->ratio += ALPHA * (ratio - k->ratio);
        }
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
    a->link_bps = a->link_bps == 0 ? bps
                                   : a->link_bps + ALPHA * (bps - a->link_bps);
    pthread_mutex_unlock(&a->lock);
}

void xlmig__adapt_report_link_idle(struct xlmig__adapt *a)
{
    pthread_mutex_lock(&a->lock);
    a->link_idle = true;
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
    pos += (size_t)snprintf(buf, len, "link %.0f MB/s;",
                            a->link_bps / 1e6);
    for (i = 0; i < NCAND && pos < len; i++) {
        const struct candidate *k = &a->cand[i];

        pos += (size_t)snprintf(buf + pos, len - pos,
                                " %s/%d %llu frames (%.1f ns/B, ratio %.2f)",
                                k->codec->name, k->level,
                                (unsigned long long)k->chosen,
                                k->ns_per_byte, k->ratio);
    }
    pthread_mutex_unlock(&a->lock);
}

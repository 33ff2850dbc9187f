/* SPDX-License-Identifier: LGPL-2.1-only */
/*
 * The stream channel: hello, framing, codecs, the page transform,
 * checksums, bandwidth cap and progress (docs/specs/channel.md).
 *
 * Sending is a pipeline, laid out here in the order data flows:
 *   reader (the caller's thread)   reads the input, runs the page
 *                                  transform (sequential: it owns the
 *                                  page cache), fills job slots in seq
 *                                  order;
 *   workers (params.threads)       checksum and compress jobs, any order;
 *   writer (one thread)            writes finished jobs in seq order,
 *                                  under the bandwidth cap.
 * Job slots form a ring indexed by seq; one mutex guards it, with a
 * condition variable per role, so that only a thread that can act is
 * woken (a handful of slots: contention is negligible next to
 * compressing a MiB).
 *
 * Receiving is two stages in two threads, so that reading and decoding
 * each have a CPU: a network thread reads each frame whole, checks its
 * checksum and seq and undoes its codec; the caller's thread applies
 * the page ops in seq order and hands a frame's bytes on only once all
 * of it has checked out.  A small ring of frames lies between them
 * ("Receiving" below).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define XXH_STATIC_LINKING_ONLY    /* XXH3_state_t on the stack */
#include <xxhash.h>

#include "buf.h"
#include "channel-adapt.h"
#include "channel-format.h"
#include "codec.h"
#include "internal.h"
#include "pagex.h"
#include "transport.h"

#define MAX_THREADS 64u
#define WRITE_PIECE (64u << 10)

enum job_state { JOB_FREE, JOB_FILLED, JOB_BUSY, JOB_DONE };

struct job {
    enum job_state state;
    uint64_t seq;
    uint8_t type;                   /* XLMIG__FRAME_* */
    uint8_t flags;                  /* XLMIG__FRAME_FLAG_* */
    struct xlmig__buf in;           /* stream bytes; the first out_len go */
    uint32_t out_len;
    struct xlmig__buf ops;          /* page ops, when flags has PAGE */
    struct xlmig__buf wire;         /* header, then the compressed payload */
    const uint8_t *payload;         /* wire.data + 40, or the raw bytes
                                       themselves for codec none */
    size_t payload_len;
    unsigned int codec;             /* chosen by the worker */
};

struct libxlmig_channel {
    libxlmig_ctx *ctx;
    libxlmig_transport *t;
    bool sender;

    /* How this side sends. */
    const struct xlmig__codec_ops *codec;
    int level;
    bool adaptive;
    bool page;
    uint32_t cache_pages;
    unsigned int threads;
    uint32_t chunk;
    _Atomic uint64_t bwlimit;

    /* What the peer said in its hello. */
    uint32_t peer_codecs;
    uint32_t peer_transforms;
    uint32_t peer_max_wire;
    uint32_t peer_max_out;
    uint32_t peer_cache_pages;

    struct xlmig__adapt *adapt;     /* compress=auto state, or NULL */

    pthread_mutex_t plock;          /* guards prog */
    libxlmig_channel_progress prog;
    uint64_t rate_t0_ns, rate_bytes0;
};

static const char *dir_in(const libxlmig_channel *ch)
{
    return ch->sender ? "receiver to sender" : "sender to receiver";
}

/* Clock @id in ns. */
static uint64_t clock_ns(clockid_t id)
{
    struct timespec ts;

    clock_gettime(id, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static uint64_t now_ns(void)
{
    return clock_ns(CLOCK_MONOTONIC);
}

/*
 * CPU time of the calling thread.  compress=auto weighs a codec by what
 * encoding costs the CPU, not by how long it took: on a busy host a
 * worker also waits for a CPU, which says nothing about the codec.
 */
static uint64_t thread_cpu_ns(void)
{
    return clock_ns(CLOCK_THREAD_CPUTIME_ID);
}

/* @c's state among a thread's @states, made on its first use; 0 or
 * LIBXLMIG_ERR_NO_MEMORY. */
static int codec_state(void *states[XLMIG__CODEC_COUNT],
                       const struct xlmig__codec_ops *c)
{
    if (!states[c->id] && c->state_new(&states[c->id]))
        return LIBXLMIG_ERR_NO_MEMORY;
    return 0;
}

/* Free what codec_state() made in @states. */
static void codec_states_free(void *states[XLMIG__CODEC_COUNT])
{
    unsigned int i;

    for (i = 0; i < XLMIG__CODEC_COUNT; i++) {
        if (states[i])
            xlmig__codecs[i]->state_free(states[i]);
    }
}

/* ------------------------------------------------------------------ */
/* Parameters and hello                                               */
/* ------------------------------------------------------------------ */

void libxlmig_channel_params_init(libxlmig_channel_params *p)
{
    memset(p, 0, sizeof(*p));
    p->codec = "zstd";
    p->level = LIBXLMIG_LEVEL_DEFAULT;
    p->page_aware = true;
    p->page_cache_pages = LIBXLMIG_PAGE_CACHE_AUTO;
}

static unsigned int online_cpus(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);

    return n < 1 ? 1 : n > (long)MAX_THREADS ? MAX_THREADS : (unsigned)n;
}

static int apply_params(libxlmig_channel *ch, const libxlmig_channel_params *p)
{
    libxlmig_channel_params def;
    bool auto_cache;

    if (!p) {
        libxlmig_channel_params_init(&def);
        p = &def;
    }
    if (!ch->sender) {
        /* The receiver's own direction carries xl's short replies. */
        ch->codec = &xlmig__codec_none;
        ch->level = 0;
        ch->threads = 1;
        ch->chunk = XLMIG__CHUNK_DEFAULT;
        atomic_store(&ch->bwlimit, 0);
        return 0;
    }
    if (p->codec && !strcmp(p->codec, "auto")) {
        ch->adaptive = true;
        ch->codec = &xlmig__codec_zstd;
    } else {
        ch->codec = xlmig__codec_by_name(p->codec ? p->codec : "zstd");
        if (!ch->codec)
            return xlmig__error(ch->ctx, LIBXLMIG_ERR_INVALID_ARGUMENT, -1,
                                "unknown codec '%s': use none, zlib, zstd, "
                                "lz4 or auto", p->codec);
    }
    ch->level = p->level == LIBXLMIG_LEVEL_DEFAULT ? ch->codec->default_level
                                                   : p->level;
    if (!ch->adaptive && (ch->level < ch->codec->min_level ||
                          ch->level > ch->codec->max_level))
        return xlmig__error(ch->ctx, LIBXLMIG_ERR_INVALID_ARGUMENT, -1,
                            "level %d is out of range for %s (%d to %d)",
                            ch->level, ch->codec->name,
                            ch->codec->min_level, ch->codec->max_level);
    auto_cache = p->page_cache_pages == LIBXLMIG_PAGE_CACHE_AUTO;
    if (p->page_cache_pages > XLMIG__PAGEX_MAX_CACHE_PAGES && !auto_cache)
        return xlmig__error(ch->ctx, LIBXLMIG_ERR_INVALID_ARGUMENT, -1,
                            "page cache of %" PRIu32 " pages is over the "
                            "limit of %u", p->page_cache_pages,
                            XLMIG__PAGEX_MAX_CACHE_PAGES);
    if (p->chunk_size > XLMIG__CHUNK_MAX ||
        (p->chunk_size && p->chunk_size < XLMIG__PAGE_SIZE))
        return xlmig__error(ch->ctx, LIBXLMIG_ERR_INVALID_ARGUMENT, -1,
                            "chunk size %" PRIu32 " is outside 4 KiB to "
                            "%u bytes", p->chunk_size, XLMIG__CHUNK_MAX);
    if (p->threads > MAX_THREADS)
        return xlmig__error(ch->ctx, LIBXLMIG_ERR_INVALID_ARGUMENT, -1,
                            "%u threads is over the limit of %u",
                            p->threads, MAX_THREADS);
    ch->page = p->page_aware;
    ch->cache_pages = auto_cache ? xlmig__pagex_auto_pages()
                                 : p->page_cache_pages;
    xlmig__log(ch->ctx, XTL_DEBUG, -1, "page cache: %" PRIu32 " pages%s",
               ch->cache_pages,
               auto_cache ? " (a sixth of the memory available)" : "");
    ch->threads = p->threads ? p->threads : online_cpus();
    ch->chunk = p->chunk_size ? p->chunk_size : XLMIG__CHUNK_DEFAULT;
    atomic_store(&ch->bwlimit, p->bwlimit);
    return 0;
}

static void hello_pack(const libxlmig_channel *ch, uint8_t h[XLMIG__CH_HELLO_LEN])
{
    memset(h, 0, XLMIG__CH_HELLO_LEN);
    memcpy(h, XLMIG__CH_MAGIC, 8);
    xlmig__put_be16(h + 8, XLMIG__CH_VERSION);
    h[10] = ch->sender ? XLMIG__CH_ROLE_SENDER : XLMIG__CH_ROLE_RECEIVER;
    xlmig__put_be32(h + 12, (1u << XLMIG__CODEC_COUNT) - 1);
    xlmig__put_be32(h + 16, XLMIG__CH_TRANSFORM_PAGE);
    xlmig__put_be32(h + 20, XLMIG__WIRE_MAX);
    xlmig__put_be32(h + 24, XLMIG__OUT_MAX);
    xlmig__put_be32(h + 28, ch->page ? ch->cache_pages : 0);
}

static bool all_zero(const uint8_t *p, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++) {
        if (p[i])
            return false;
    }
    return true;
}

static int hello_check(libxlmig_channel *ch,
                       const uint8_t h[XLMIG__CH_HELLO_LEN])
{
    uint8_t want_role = ch->sender ? XLMIG__CH_ROLE_RECEIVER
                                   : XLMIG__CH_ROLE_SENDER;
    uint16_t version;

    if (memcmp(h, XLMIG__CH_MAGIC, 8))
        return xlmig__error(ch->ctx, LIBXLMIG_ERR_PROTOCOL, -1,
                            "the peer is not a libxlmig stream channel "
                            "(bad hello magic)");
    version = xlmig__get_be16(h + 8);
    if (version != XLMIG__CH_VERSION)
        return xlmig__error(ch->ctx, LIBXLMIG_ERR_PROTOCOL, -1,
                            "the peer speaks channel version %u, this side "
                            "speaks %u: upgrade the older host",
                            version, XLMIG__CH_VERSION);
    if (h[10] != want_role)
        return xlmig__error(ch->ctx, LIBXLMIG_ERR_PROTOCOL, -1,
                            "both ends of the channel are %ss",
                            ch->sender ? "sender" : "receiver");
    if (h[11] || !all_zero(h + 32, 16))
        return xlmig__error(ch->ctx, LIBXLMIG_ERR_PROTOCOL, -1,
                            "the peer's hello has reserved fields set");
    ch->peer_codecs = xlmig__get_be32(h + 12);
    ch->peer_transforms = xlmig__get_be32(h + 16);
    ch->peer_max_wire = xlmig__get_be32(h + 20);
    ch->peer_max_out = xlmig__get_be32(h + 24);
    ch->peer_cache_pages = xlmig__get_be32(h + 28);
    if (ch->peer_max_wire > XLMIG__WIRE_MAX ||
        ch->peer_max_out > XLMIG__OUT_MAX ||
        ch->peer_max_wire < 65536 || ch->peer_max_out < 65536)
        return xlmig__error(ch->ctx, LIBXLMIG_ERR_PROTOCOL, -1,
                            "the peer's frame limits (%" PRIu32 ", %" PRIu32
                            ") are out of range", ch->peer_max_wire,
                            ch->peer_max_out);
    if (ch->peer_cache_pages > XLMIG__PAGEX_MAX_CACHE_PAGES)
        return xlmig__error(ch->ctx, LIBXLMIG_ERR_PROTOCOL, -1,
                            "the peer asks for a page cache of %" PRIu32
                            " pages, over the limit of %u",
                            ch->peer_cache_pages,
                            XLMIG__PAGEX_MAX_CACHE_PAGES);
    /* What we send must be something the peer can decode. */
    if (!ch->adaptive && !(ch->peer_codecs & (1u << ch->codec->id)))
        return xlmig__error(ch->ctx, LIBXLMIG_ERR_UNSUPPORTED, -1,
                            "the peer cannot decode %s", ch->codec->name);
    if (ch->page && !(ch->peer_transforms & XLMIG__CH_TRANSFORM_PAGE))
        ch->page = false;
    if (ch->chunk > ch->peer_max_out)
        ch->chunk = ch->peer_max_out / 2;
    return 0;
}

void libxlmig_channel_free(libxlmig_channel *ch)
{
    if (!ch)
        return;
    libxlmig_transport_free(ch->t);
    if (ch->adapt) {
        char sum[512];

        xlmig__adapt_summary(ch->adapt, sum, sizeof(sum));
        xlmig__log(ch->ctx, XTL_DEBUG, -1, "compress=auto: %s", sum);
    }
    xlmig__adapt_free(ch->adapt);
    pthread_mutex_destroy(&ch->plock);
    free(ch);
}

int libxlmig_channel_open(libxlmig_ctx *ctx, libxlmig_transport *t,
                          bool sender, const libxlmig_channel_params *p,
                          libxlmig_channel **ch_r)
{
    libxlmig_channel *ch = NULL;
    uint8_t mine[XLMIG__CH_HELLO_LEN], theirs[XLMIG__CH_HELLO_LEN];
    size_t got;
    int rc;

    if (!ctx || !t || !ch_r) {
        libxlmig_transport_free(t);
        return LIBXLMIG_ERR_INVALID_ARGUMENT;
    }
    ch = xlmig__zalloc(sizeof(*ch));
    if (!ch) {
        libxlmig_transport_free(t);
        return LIBXLMIG_ERR_NO_MEMORY;
    }
    pthread_mutex_init(&ch->plock, NULL);
    ch->ctx = ctx;
    ch->t = t;                  /* the channel owns it now */
    ch->sender = sender;

    rc = apply_params(ch, p);
    if (rc) goto out;
    if (ch->adaptive) {
        rc = xlmig__adapt_new(ch->threads, &ch->adapt);
        if (rc) goto out;
    }

    hello_pack(ch, mine);
    rc = t->ops->write(t, mine, sizeof(mine));
    if (rc) goto out;
    rc = xlmig__transport_read_exact(t, theirs, sizeof(theirs), &got);
    if (rc) goto out;
    if (got < sizeof(theirs)) {
        rc = xlmig__error(ctx, LIBXLMIG_ERR_PROTOCOL, -1,
                          "the peer closed the connection during the "
                          "hello (%zu of %d bytes): is it a libxlmig "
                          "channel, and did it accept us?", got,
                          XLMIG__CH_HELLO_LEN);
        goto out;
    }
    rc = hello_check(ch, theirs);
    if (rc) goto out;
    ch->prog.bwlimit = atomic_load(&ch->bwlimit);

    *ch_r = ch;
    ch = NULL;                  /* the caller owns it now */
    rc = 0;
 out:
    libxlmig_channel_free(ch);
    return rc;
}

void libxlmig_channel_set_bwlimit(libxlmig_channel *ch, uint64_t bps)
{
    atomic_store(&ch->bwlimit, bps);
    pthread_mutex_lock(&ch->plock);
    ch->prog.bwlimit = bps;
    pthread_mutex_unlock(&ch->plock);
    xlmig__log(ch->ctx, XTL_INFO, -1, "bandwidth cap now %" PRIu64
               " bytes/s%s", bps, bps ? "" : " (none)");
}

void libxlmig_channel_get_progress(libxlmig_channel *ch,
                                   libxlmig_channel_progress *p_r)
{
    pthread_mutex_lock(&ch->plock);
    *p_r = ch->prog;
    pthread_mutex_unlock(&ch->plock);
}

/* ------------------------------------------------------------------ */
/* Sending                                                            */
/* ------------------------------------------------------------------ */

struct sender {
    libxlmig_channel *ch;
    pthread_mutex_t lock;
    /*
     * One condition per role, so that a hand-off wakes only the thread
     * that can act on it (a broadcast to all cost about 18 futex calls
     * per job): the reader waits for a free slot, the workers for a
     * filled job, the writer for the next job in order to be done.
     */
    pthread_cond_t free_cond;
    pthread_cond_t work_cond;
    pthread_cond_t done_cond;
    struct job *jobs;
    unsigned int njobs;
    uint64_t next_fill;         /* seq the reader fills next */
    uint64_t next_write;        /* seq the writer writes next */
    bool no_more;               /* the reader filled its last job */
    int rc;                     /* first error; stops everyone */
    struct xlmig__pagex *px;
};

static struct job *slot(struct sender *s, uint64_t seq)
{
    return &s->jobs[seq % s->njobs];
}

/* Wake every thread (an error, or the end): call with the lock held. */
static void wake_all(struct sender *s)
{
    pthread_cond_broadcast(&s->free_cond);
    pthread_cond_broadcast(&s->work_cond);
    pthread_cond_broadcast(&s->done_cond);
}

static void sender_fail(struct sender *s, int rc)
{
    pthread_mutex_lock(&s->lock);
    if (!s->rc)
        s->rc = rc;
    wake_all(s);
    pthread_mutex_unlock(&s->lock);
}

/* Fill in the 40-byte header at the start of j->wire. */
static void frame_seal(struct job *j, uint32_t raw_len, uint64_t data_csum)
{
    uint8_t *h = j->wire.data;
    uint32_t wire_len = (uint32_t)j->payload_len;
    XXH3_state_t st;

    XXH3_INITSTATE(&st);
    h[0] = j->type;
    h[1] = (uint8_t)j->codec;
    h[2] = j->flags;
    h[3] = 0;
    xlmig__put_be32(h + 4, wire_len);
    xlmig__put_be32(h + 8, raw_len);
    xlmig__put_be32(h + 12, j->out_len);
    xlmig__put_be64(h + 16, j->seq);
    xlmig__put_be64(h + 24, data_csum);
    XXH3_64bits_reset(&st);
    XXH3_64bits_update(&st, h, 32);
    XXH3_64bits_update(&st, j->payload, wire_len);
    xlmig__put_be64(h + 32, XXH3_64bits_digest(&st));
}

struct worker {
    struct sender *s;
    pthread_t tid;
    void *codec_state[XLMIG__CODEC_COUNT];
    struct xlmig__buf trial;        /* compress=auto's trials on the side */
};

/* compress=auto's trial of @p->trial on @raw (sent as @p->codec in
 * @sent_wire bytes and @sent_ns): encoded, measured and reported, not
 * sent. */
static int trial_encode(struct worker *w, const struct xlmig__adapt_pick *p,
                        const uint8_t *raw, size_t raw_len, size_t sent_wire,
                        uint64_t sent_ns)
{
    libxlmig_channel *ch = w->s->ch;
    const struct xlmig__codec_ops *c = p->trial;
    size_t wlen = raw_len;
    uint64_t t0;
    int rc;

    rc = codec_state(w->codec_state, c);
    if (rc) return rc;
    t0 = thread_cpu_ns();
    if (c->id != XLMIG__CODEC_NONE) {
        w->trial.len = 0;
        rc = xlmig__buf_reserve(&w->trial, c->bound(raw_len),
                                XLMIG__WIRE_MAX * 2);
        if (rc) return rc;
        rc = c->encode(w->codec_state[c->id], p->trial_level, raw, raw_len,
                       w->trial.data, w->trial.cap, &wlen);
        if (rc) return rc;
    }
    xlmig__adapt_report_trial(ch->adapt, p, raw_len, sent_wire, sent_ns,
                              wlen, thread_cpu_ns() - t0);
    return 0;
}

/* Compress one job into its wire buffer.  Runs in a worker thread. */
static int encode_job(struct worker *w, struct job *j)
{
    libxlmig_channel *ch = w->s->ch;
    const struct xlmig__codec_ops *c = ch->codec;
    struct xlmig__adapt_pick pick = { .trial = NULL };
    const uint8_t *raw;
    size_t raw_len, wlen = 0;
    uint64_t data_csum, t0 = 0;
    int level = ch->level, rc;

    j->wire.len = 0;
    if (j->type != XLMIG__FRAME_DATA) {
        j->codec = XLMIG__CODEC_NONE;
        rc = xlmig__buf_reserve(&j->wire, XLMIG__FRAME_HDR_LEN,
                                XLMIG__FRAME_HDR_LEN + XLMIG__ABORT_MAX);
        if (rc) return rc;
        j->wire.len = XLMIG__FRAME_HDR_LEN;
        if (j->type == XLMIG__FRAME_ABORT) {
            rc = xlmig__buf_append(&j->wire, j->in.data, j->in.len,
                                   XLMIG__FRAME_HDR_LEN + XLMIG__ABORT_MAX);
            if (rc) return rc;
        }
        j->payload = j->wire.data + XLMIG__FRAME_HDR_LEN;
        j->payload_len = j->wire.len - XLMIG__FRAME_HDR_LEN;
        frame_seal(j, (uint32_t)j->payload_len,
                   XXH3_64bits(j->in.data, j->in.len));
        return 0;
    }

    raw = (j->flags & XLMIG__FRAME_FLAG_PAGE) ? j->ops.data : j->in.data;
    raw_len = (j->flags & XLMIG__FRAME_FLAG_PAGE) ? j->ops.len : j->out_len;
    data_csum = XXH3_64bits(j->in.data, j->out_len);

    if (ch->adaptive) {
        xlmig__adapt_choose(ch->adapt, &pick);
        c = pick.codec;
        level = pick.level;
    }
    rc = codec_state(w->codec_state, c);
    if (rc) return rc;
    /* Codec none sends raw where it lies: no copy, so no room needed. */
    rc = xlmig__buf_reserve(&j->wire, XLMIG__FRAME_HDR_LEN +
                            (c->id == XLMIG__CODEC_NONE ? 0
                                                        : c->bound(raw_len)),
                            XLMIG__FRAME_HDR_LEN + XLMIG__WIRE_MAX * 2);
    if (rc) return rc;
    if (ch->adaptive)
        t0 = thread_cpu_ns();
    if (c->id == XLMIG__CODEC_NONE) {
        wlen = raw_len;
    } else {
        rc = c->encode(w->codec_state[c->id], level, raw, raw_len,
                       j->wire.data + XLMIG__FRAME_HDR_LEN,
                       j->wire.cap - XLMIG__FRAME_HDR_LEN, &wlen);
        if (rc) return rc;
    }
    if (ch->adaptive) {
        uint64_t ns = thread_cpu_ns() - t0;

        xlmig__adapt_report_encode(ch->adapt, c, level, raw_len, wlen, ns);
        if (pick.trial) {
            rc = trial_encode(w, &pick, raw, raw_len, wlen, ns);
            if (rc) return rc;
        }
    }
    j->codec = c->id;
    j->wire.len = XLMIG__FRAME_HDR_LEN;
    if (c->id == XLMIG__CODEC_NONE || wlen >= raw_len) {
        /* Sent as it is (incompressible data goes so too, not larger). */
        j->codec = XLMIG__CODEC_NONE;
        j->payload = raw;
        j->payload_len = raw_len;
    } else {
        j->payload = j->wire.data + XLMIG__FRAME_HDR_LEN;
        j->payload_len = wlen;
    }
    frame_seal(j, (uint32_t)raw_len, data_csum);
    return 0;
}

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    struct sender *s = w->s;
    uint64_t seq;

    pthread_mutex_lock(&s->lock);
    for (;;) {
        struct job *j = NULL;
        int rc;

        /* The oldest filled job nobody has taken. */
        for (seq = s->next_write; seq < s->next_fill; seq++) {
            if (slot(s, seq)->state == JOB_FILLED) {
                j = slot(s, seq);
                break;
            }
        }
        if (s->rc || (!j && s->no_more))
            break;
        if (!j) {
            pthread_cond_wait(&s->work_cond, &s->lock);
            continue;
        }
        j->state = JOB_BUSY;
        pthread_mutex_unlock(&s->lock);
        rc = encode_job(w, j);
        pthread_mutex_lock(&s->lock);
        j->state = JOB_DONE;
        if (rc && !s->rc) {
            s->rc = rc;
            wake_all(s);
        } else if (j == slot(s, s->next_write)) {
            /* The writer waits for this one; later ones it finds done. */
            pthread_cond_signal(&s->done_cond);
        }
    }
    pthread_mutex_unlock(&s->lock);
    return NULL;
}

/* Wait until @bytes may go out under the cap; returns when they may. */
struct bucket {
    uint64_t t_ns;
    double tokens;
};

static void bucket_take(libxlmig_channel *ch, struct bucket *b, size_t bytes)
{
    for (;;) {
        uint64_t limit = atomic_load(&ch->bwlimit), t = now_ns();
        double burst;

        if (!limit) {
            b->tokens = 0;
            b->t_ns = t;
            return;
        }
        burst = (double)limit / 20.0;      /* 50 ms worth */
        if (burst < WRITE_PIECE)
            burst = WRITE_PIECE;
        b->tokens += (double)(t - b->t_ns) * (double)limit / 1e9;
        if (b->tokens > burst)
            b->tokens = burst;
        b->t_ns = t;
        if (b->tokens >= (double)bytes) {
            b->tokens -= (double)bytes;
            return;
        }
        {
            double need = ((double)bytes - b->tokens) * 1e9 / (double)limit;
            struct timespec ts;

            if (need > 1e8)
                need = 1e8;     /* re-read the cap at least every 100 ms */
            ts.tv_sec = 0;
            ts.tv_nsec = (long)need;
            nanosleep(&ts, NULL);
        }
    }
}

static void progress_out(libxlmig_channel *ch, const struct job *j)
{
    uint64_t t = now_ns();

    pthread_mutex_lock(&ch->plock);
    ch->prog.bytes_out += XLMIG__FRAME_HDR_LEN + j->payload_len;
    ch->prog.frames_out++;
    ch->prog.bytes_in += j->type == XLMIG__FRAME_DATA ? j->out_len : 0;
    if (!ch->rate_t0_ns) {
        ch->rate_t0_ns = t;
        ch->rate_bytes0 = ch->prog.bytes_out;
    } else if (t - ch->rate_t0_ns >= 250000000u) {
        ch->prog.rate = (ch->prog.bytes_out - ch->rate_bytes0) * 1000000000u /
                        (t - ch->rate_t0_ns);
        ch->rate_t0_ns = t;
        ch->rate_bytes0 = ch->prog.bytes_out;
    }
    pthread_mutex_unlock(&ch->plock);
}

/*
 * The link's rate, for compress=auto.  With a socket we know how much of
 * what we wrote the network has taken (written - SIOCOUTQ).  Over a
 * window of writing without a wait for the encoders, if the writer spent
 * most of it blocked in write() (or in the bandwidth cap), the link was
 * the bottleneck and what it took is its rate; if it hardly blocked, the
 * link kept up with us and is no bottleneck now.  Without a socket: the
 * old rule, whole frames that were ready when the previous one ended.
 */
#define LINK_WINDOW_NS 50000000u
/*
 * Measured only after this much was written: the first megabytes fill
 * the buffers on the way (ours, the peer's, a relay's), which take them
 * faster than the link carries them.
 */
#define LINK_WARMUP_BYTES (4u << 20)

struct linkmeter {
    bool anchored;
    uint64_t t_ns;              /* anchor: when */
    uint64_t taken;             /* anchor: bytes the network had taken */
    uint64_t blocked_ns;        /* time in write() and the cap since */
    uint64_t written;           /* everything written so far */
    uint64_t last_end;          /* fallback: end of the previous frame */
    /* Since when the link has drained all we wrote whenever we waited
     * for the encoders, and what it had taken then; 0: not since the
     * last sample. */
    uint64_t idle_t_ns;
    uint64_t idle_taken;
};

static void link_frame(libxlmig_channel *ch, struct linkmeter *m,
                       bool waited, long unsent_before, size_t bytes,
                       uint64_t out_ns)
{
    uint64_t t = now_ns(), dt, taken;
    long unsent = ch->t->ops->unsent ? ch->t->ops->unsent(ch->t) : -1;

    m->written += bytes;
    if (unsent < 0) {
        if (!waited && m->last_end)
            xlmig__adapt_report_write(ch->adapt, bytes, t - m->last_end);
        m->last_end = t;
        return;
    }
    if (waited && unsent_before == 0 && m->written >= LINK_WARMUP_BYTES) {
        /*
         * We waited for the encoders and the link had taken everything
         * meanwhile: the encoders are the bottleneck, not the link, which
         * carried what went before at least as fast as we wrote it.
         * Said over whole windows: over less, buffers on the way make
         * it look faster than it is.
         */
        uint64_t before = m->written - bytes;

        if (!m->idle_t_ns) {
            m->idle_t_ns = t;
            m->idle_taken = before;
        } else if (t - m->idle_t_ns >= LINK_WINDOW_NS) {
            xlmig__adapt_report_link_idle(ch->adapt,
                                          before - m->idle_taken,
                                          t - m->idle_t_ns);
            m->idle_t_ns = t;
            m->idle_taken = before;
        }
    }
    if (waited || !m->anchored || m->written < LINK_WARMUP_BYTES) {
        /* The queue may have run dry before this frame: start here. */
        m->anchored = true;
        m->t_ns = t;
        m->taken = m->written - (uint64_t)unsent;
        m->blocked_ns = 0;
        return;
    }
    m->blocked_ns += out_ns;
    dt = t - m->t_ns;
    if (dt < LINK_WINDOW_NS)
        return;
    taken = m->written - (uint64_t)unsent;
    if (m->blocked_ns * 2 >= dt) {
        if (taken > m->taken) {
            xlmig__adapt_report_write(ch->adapt, taken - m->taken, dt);
            m->idle_t_ns = 0;
        }
    } else if (m->blocked_ns * 10 < dt) {
        xlmig__adapt_report_link_idle(ch->adapt, taken - m->taken, dt);
    }
    m->t_ns = t;
    m->taken = taken;
    m->blocked_ns = 0;
}

static void *writer_main(void *arg)
{
    struct sender *s = arg;
    libxlmig_channel *ch = s->ch;
    struct bucket b = { now_ns(), 0 };
    struct linkmeter lm = { 0 };
    bool waited = true;         /* did we wait for this frame? */
    uint64_t t_out;
    long unsent_before;

    pthread_mutex_lock(&s->lock);
    for (;;) {
        struct job *j = slot(s, s->next_write);
        size_t off, piece;
        int rc = 0;

        if (s->rc)
            break;
        if (s->next_write == s->next_fill && s->no_more)
            break;
        if (s->next_write == s->next_fill || j->state != JOB_DONE) {
            waited = true;
            pthread_cond_wait(&s->done_cond, &s->lock);
            continue;
        }
        pthread_mutex_unlock(&s->lock);

        t_out = now_ns();
        unsent_before = ch->adaptive && waited && ch->t->ops->unsent
                            ? ch->t->ops->unsent(ch->t) : -1;
        bucket_take(ch, &b, XLMIG__FRAME_HDR_LEN);
        /* The header goes out with the payload's first piece. */
        rc = j->payload_len
                 ? xlmig__transport_write_more(ch->t, j->wire.data,
                                               XLMIG__FRAME_HDR_LEN)
                 : ch->t->ops->write(ch->t, j->wire.data,
                                     XLMIG__FRAME_HDR_LEN);
        /* Under a bandwidth cap in pieces, so that the cap paces them;
         * without one in a single write (one send(2) over plain TCP). */
        piece = atomic_load(&ch->bwlimit) ? WRITE_PIECE : j->payload_len;
        for (off = 0; off < j->payload_len && !rc; off += piece) {
            size_t n = j->payload_len - off < piece
                           ? j->payload_len - off : piece;

            bucket_take(ch, &b, n);
            rc = ch->t->ops->write(ch->t, j->payload + off, n);
        }
        if (!rc) {
            progress_out(ch, j);
            if (ch->adaptive)
                link_frame(ch, &lm, waited, unsent_before,
                           XLMIG__FRAME_HDR_LEN + j->payload_len,
                           now_ns() - t_out);
            waited = false;
        }

        pthread_mutex_lock(&s->lock);
        j->state = JOB_FREE;
        s->next_write++;
        if (rc && !s->rc) {
            s->rc = rc;
            wake_all(s);
        } else {
            pthread_cond_signal(&s->free_cond);
        }
    }
    pthread_mutex_unlock(&s->lock);
    return NULL;
}

/* The next free slot for the reader, or NULL when the pipeline failed. */
static struct job *take_free(struct sender *s)
{
    struct job *j;

    pthread_mutex_lock(&s->lock);
    for (;;) {
        j = slot(s, s->next_fill);
        if (s->rc) {
            j = NULL;
            break;
        }
        if (j->state == JOB_FREE && s->next_fill - s->next_write < s->njobs)
            break;
        pthread_cond_wait(&s->free_cond, &s->lock);
    }
    pthread_mutex_unlock(&s->lock);
    return j;
}

static void submit(struct sender *s, struct job *j, bool last)
{
    pthread_mutex_lock(&s->lock);
    j->seq = s->next_fill++;
    j->state = JOB_FILLED;
    if (last) {
        s->no_more = true;
        wake_all(s);            /* idle workers end, the writer too */
    } else {
        pthread_cond_signal(&s->work_cond);
    }
    pthread_mutex_unlock(&s->lock);
}

/*
 * Read what @fd has now, up to @room bytes, into @b.  Blocks only until
 * the first bytes come; then takes more while more is ready at once.
 * Sets *eof_r at EOF and *paused_r when the input has nothing more now.
 */
static int read_chunk(libxlmig_channel *ch, int fd, struct xlmig__buf *b,
                      size_t room, bool *eof_r, bool *paused_r)
{
    size_t start = b->len;
    int rc;

    *paused_r = false;
    rc = xlmig__buf_reserve(b, room, XLMIG__CHUNK_MAX + 2 * XLMIG__OUT_MAX);
    if (rc) return rc;
    while (b->len - start < room) {
        struct pollfd pfd = { .fd = fd, .events = POLLIN };
        ssize_t r;

        if (b->len > start) {
            int pr = poll(&pfd, 1, 0);

            if (pr == 0) {
                *paused_r = true;
                break;
            }
        }
        r = read(fd, b->data + b->len, room - (b->len - start));
        if (r < 0) {
            if (errno == EINTR)
                continue;
            return xlmig__error(ch->ctx, LIBXLMIG_ERR_IO, errno,
                                "reading the stream to send");
        }
        if (r == 0) {
            *eof_r = true;
            break;
        }
        b->len += (size_t)r;
    }
    return 0;
}

static void progress_pages(libxlmig_channel *ch, struct xlmig__pagex *px)
{
    struct xlmig__pagex_stats st;

    xlmig__pagex_get_stats(px, &st);
    pthread_mutex_lock(&ch->plock);
    ch->prog.pages = st.pages;
    ch->prog.zero_pages = st.zero_pages;
    ch->prog.delta_pages = st.delta_pages;
    pthread_mutex_unlock(&ch->plock);
}

/* The reader: fills jobs from @in_fd until EOF or an error. */
static int reader_run(struct sender *s, int in_fd)
{
    libxlmig_channel *ch = s->ch;
    struct xlmig__buf carry;
    bool eof = false;
    int rc = 0;

    xlmig__buf_init(&carry);
    while (!eof) {
        struct job *j = take_free(s);
        size_t out = 0, fresh;
        bool paused = false;

        if (!j) {
            rc = s->rc;
            break;
        }
        j->type = XLMIG__FRAME_DATA;
        j->flags = s->px ? XLMIG__FRAME_FLAG_PAGE : 0;
        j->in.len = 0;
        rc = xlmig__buf_append(&j->in, carry.data, carry.len,
                               XLMIG__CHUNK_MAX + 2 * XLMIG__OUT_MAX);
        if (rc) break;
        carry.len = 0;
        fresh = j->in.len;
        rc = read_chunk(ch, in_fd, &j->in, ch->chunk, &eof, &paused);
        if (rc) break;

        if (s->px) {
            j->ops.len = 0;
            rc = xlmig__pagex_encode(s->px, j->in.data + fresh,
                                     j->in.len - fresh, &j->ops,
                                     XLMIG__RAW_MAX, &out);
            if (!rc && (paused || eof))
                rc = xlmig__pagex_flush(s->px, &j->ops, XLMIG__RAW_MAX,
                                        &out);
            if (rc) {
                rc = xlmig__error(ch->ctx, LIBXLMIG_ERR_INTERNAL, -1,
                                  "the page transform failed");
                break;
            }
            if (out > j->in.len) {
                rc = xlmig__error(ch->ctx, LIBXLMIG_ERR_INTERNAL, -1,
                                  "the page transform reproduced more "
                                  "than it was given");
                break;
            }
            /* Held back bytes start the next job. */
            rc = xlmig__buf_append(&carry, j->in.data + out, j->in.len - out,
                                   XLMIG__OUT_MAX);
            if (rc) break;
        } else {
            out = j->in.len;
        }
        if (s->px)
            progress_pages(ch, s->px);
        j->out_len = (uint32_t)out;
        if (out == 0) {
            /* Nothing to send (EOF with nothing left): reuse the slot. */
            continue;
        }
        submit(s, j, false);
    }
    xlmig__buf_dispose(&carry);
    return rc;
}

static void sender_dispose(struct sender *s)
{
    unsigned int i;

    for (i = 0; s->jobs && i < s->njobs; i++) {
        xlmig__buf_dispose(&s->jobs[i].in);
        xlmig__buf_dispose(&s->jobs[i].ops);
        xlmig__buf_dispose(&s->jobs[i].wire);
    }
    free(s->jobs);
    xlmig__pagex_free(s->px);
    pthread_cond_destroy(&s->free_cond);
    pthread_cond_destroy(&s->work_cond);
    pthread_cond_destroy(&s->done_cond);
    pthread_mutex_destroy(&s->lock);
}

/* Queue a last END or ABORT job (the pipeline must still run). */
static void submit_last(struct sender *s, uint8_t type, const char *why)
{
    struct job *j = take_free(s);

    if (!j)
        return;
    j->type = type;
    j->flags = 0;
    j->out_len = 0;
    j->in.len = 0;
    if (why)
        xlmig__buf_append(&j->in, why, strnlen(why, XLMIG__ABORT_MAX),
                          XLMIG__ABORT_MAX);
    submit(s, j, true);
}

/*
 * A pipe between xl and the channel holds 64 KiB by default: a read or
 * a write of at most that much, and a wake-up of the other side, per
 * 64 KiB.  Ask for 1 MiB (the kernel's default cap for an unprivileged
 * process, /proc/sys/fs/pipe-max-size); best effort: a socket or a file
 * is left as it is, and a refusal costs only speed.
 */
#define PIPE_BYTES (1024 * 1024)

static void pipe_widen(int fd)
{
    (void)fcntl(fd, F_SETPIPE_SZ, PIPE_BYTES);
}

int libxlmig_channel_send_fd(libxlmig_channel *ch, int in_fd)
{
    struct sender s;
    struct worker *workers = NULL;
    pthread_t writer;
    bool writer_started = false;
    unsigned int i, nstarted = 0;
    int rc;

    memset(&s, 0, sizeof(s));
    pipe_widen(in_fd);
    pthread_mutex_init(&s.lock, NULL);
    pthread_cond_init(&s.free_cond, NULL);
    pthread_cond_init(&s.work_cond, NULL);
    pthread_cond_init(&s.done_cond, NULL);
    s.ch = ch;
    s.njobs = 2 * ch->threads + 2;
    s.jobs = xlmig__zalloc(sizeof(*s.jobs) * s.njobs);
    workers = xlmig__zalloc(sizeof(*workers) * ch->threads);
    if (!s.jobs || !workers) {
        rc = LIBXLMIG_ERR_NO_MEMORY;
        goto out;
    }
    if (ch->page) {
        rc = xlmig__pagex_new(ch->cache_pages, &s.px);
        if (rc) goto out;
    }

    for (i = 0; i < ch->threads; i++) {
        workers[i].s = &s;
        if (pthread_create(&workers[i].tid, NULL, worker_main, &workers[i])) {
            rc = xlmig__error(ch->ctx, LIBXLMIG_ERR_NO_MEMORY, errno,
                              "cannot start encoding threads");
            sender_fail(&s, rc);
            goto out;
        }
        nstarted++;
    }
    if (pthread_create(&writer, NULL, writer_main, &s)) {
        rc = xlmig__error(ch->ctx, LIBXLMIG_ERR_NO_MEMORY, errno,
                          "cannot start the writer thread");
        sender_fail(&s, rc);
        goto out;
    }
    writer_started = true;

    rc = reader_run(&s, in_fd);
    if (rc) {
        char why[256];

        snprintf(why, sizeof(why), "%s", libxlmig_ctx_last_error(ch->ctx));
        if (!s.rc) {
            /* Tell the peer, then stop. */
            submit_last(&s, XLMIG__FRAME_ABORT, why);
        }
    } else {
        submit_last(&s, XLMIG__FRAME_END, NULL);
    }
 out:
    if (writer_started)
        pthread_join(writer, NULL);
    /* Workers end when no_more is set and the queue is drained, or on error. */
    if (!writer_started)
        sender_fail(&s, rc ? rc : LIBXLMIG_ERR_INTERNAL);
    pthread_mutex_lock(&s.lock);
    s.no_more = true;
    wake_all(&s);
    pthread_mutex_unlock(&s.lock);
    for (i = 0; i < nstarted; i++)
        pthread_join(workers[i].tid, NULL);
    for (i = 0; workers && i < ch->threads; i++) {
        codec_states_free(workers[i].codec_state);
        xlmig__buf_dispose(&workers[i].trial);
    }
    if (!rc)
        rc = s.rc;
    free(workers);
    sender_dispose(&s);
    return rc;
}

/* ------------------------------------------------------------------ */
/* Receiving                                                          */
/* ------------------------------------------------------------------ */

/*
 * Two stages, each on its own CPU, laid out here in the order data
 * flows:
 *   network (its own thread)   reads a frame whole, checks its header,
 *                              checksum and seq, undoes its codec (a
 *                              frame's codec needs nothing of the
 *                              frames before it), puts it in the ring;
 *   decode (the caller's)      takes frames in seq order: page ops
 *                              (sequential: they own the page cache),
 *                              data checksum, then hands the bytes on.
 * The ring is RING_SLOTS frames whose buffers are reused; one mutex and
 * a condition per direction guard it.
 *
 * One error is reported, the first in stream order.  The network stage
 * holds its errors (xlmig__error_hold(), the transport's included) and
 * ends; the decode stage reports the held one once it has handed on
 * every frame before it.  When the decode stage fails, it reports its
 * own, stops the network stage (cancel_read wakes a blocked read) and
 * drops whatever that held.
 */
#define RING_SLOTS 4u

/* One frame's header, its fields as read (hdr_check checks them). */
struct frame_hdr {
    uint8_t type, codec, flags;
    uint32_t wire_len, raw_len, out_len;
    uint64_t seq, data_csum, frame_csum;
};

/* A checked frame between the stages. */
struct rframe {
    struct frame_hdr fh;
    struct xlmig__buf wire;     /* its payload */
    struct xlmig__buf raw;      /* the payload through its codec (not for
                                   none: that is used where it lies) */
};

struct receiver {
    libxlmig_channel *ch;
    struct xlmig__pagex *px;    /* set before the network stage starts */

    pthread_mutex_t lock;       /* guards the ring and what follows */
    pthread_cond_t filled_cond; /* decode waits: a frame, or the end */
    pthread_cond_t free_cond;   /* network waits: a free slot, or stop */
    struct rframe ring[RING_SLOTS];
    uint64_t next_fill;         /* frames the network stage put in */
    uint64_t next_take;         /* frames the decode stage is done with */
    bool net_done;              /* the network stage put its last frame
                                   in, or failed */
    int net_rc;                 /* how it failed */
    struct xlmig__held_error net_err;   /* its error, held */
    bool stop;                  /* the decode stage failed */

    /* The network stage's own. */
    uint64_t seq;               /* expected next */
    bool sealed;                /* the transport authenticates what it
                                   reads: no frame checksum to check */
    void *codec_state[XLMIG__CODEC_COUNT];

    /* The decode stage's own. */
    struct xlmig__buf out;
    uint64_t cpu0_ns;           /* its thread's CPU time at the start */
};

static int frame_error(libxlmig_channel *ch, uint64_t seq, const char *fmt,
                       ...) XLMIG__PRINTF(3, 4);

/* Log "frame N (direction): reason" once and return PROTOCOL. */
static int frame_error(libxlmig_channel *ch, uint64_t seq, const char *fmt,
                       ...)
{
    char why[512];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(why, sizeof(why), fmt, ap);
    va_end(ap);
    return xlmig__error(ch->ctx, LIBXLMIG_ERR_PROTOCOL, -1,
                        "frame %" PRIu64 " (%s): %s", seq, dir_in(ch), why);
}

/* Printable copy of an untrusted reason, for messages. */
static void sanitize(char *dst, size_t dlen, const uint8_t *src, size_t n)
{
    size_t i, o = 0;

    for (i = 0; i < n && o + 1 < dlen; i++)
        dst[o++] = (src[i] >= 0x20 && src[i] < 0x7f) ? (char)src[i] : '?';
    dst[o] = '\0';
}

/* ---- the network stage ------------------------------------------- */

/* Read the next frame's header into @h: the stream's end there, or a
 * short header, is an error. */
static int hdr_read(struct receiver *r, uint8_t h[XLMIG__FRAME_HDR_LEN])
{
    libxlmig_channel *ch = r->ch;
    size_t got;
    int rc;

    rc = xlmig__transport_read_exact(ch->t, h, XLMIG__FRAME_HDR_LEN, &got);
    if (rc) return rc;
    if (got == 0) {
        if (r->seq == 0)
            return xlmig__error(ch->ctx, LIBXLMIG_ERR_PROTOCOL, -1,
                                "the stream (%s) ended before its first "
                                "frame", dir_in(ch));
        return xlmig__error(ch->ctx, LIBXLMIG_ERR_PROTOCOL, -1,
                            "the stream (%s) ended after frame %" PRIu64
                            " without END: the peer stopped or the "
                            "connection broke", dir_in(ch), r->seq - 1);
    }
    if (got < XLMIG__FRAME_HDR_LEN)
        return frame_error(ch, r->seq, "truncated header (%zu of %d bytes)",
                           got, XLMIG__FRAME_HDR_LEN);
    return 0;
}

/* Decode @h into *fh; everything checked before anything is
 * allocated. */
static int hdr_check(struct receiver *r, const uint8_t *h,
                     struct frame_hdr *fh)
{
    libxlmig_channel *ch = r->ch;
    uint64_t seq = r->seq;
    uint8_t type = h[0], codec = h[1], flags = h[2];
    uint32_t wire_len = xlmig__get_be32(h + 4);
    uint32_t raw_len = xlmig__get_be32(h + 8);
    uint32_t out_len = xlmig__get_be32(h + 12);

    fh->type = type;
    fh->codec = codec;
    fh->flags = flags;
    fh->wire_len = wire_len;
    fh->raw_len = raw_len;
    fh->out_len = out_len;
    fh->seq = xlmig__get_be64(h + 16);
    fh->data_csum = xlmig__get_be64(h + 24);
    fh->frame_csum = xlmig__get_be64(h + 32);

    if (type < XLMIG__FRAME_DATA || type > XLMIG__FRAME_ABORT)
        return frame_error(ch, seq, "unknown frame type %u", type);
    if (codec >= XLMIG__CODEC_COUNT)
        return frame_error(ch, seq, "unknown codec %u", codec);
    if (flags & ~XLMIG__FRAME_FLAG_PAGE)
        return frame_error(ch, seq, "unknown flags 0x%02x", flags);
    if (h[3])
        return frame_error(ch, seq, "reserved byte set");
    if (wire_len > XLMIG__WIRE_MAX)
        return frame_error(ch, seq, "oversized: %" PRIu32 " payload bytes, "
                           "the limit is %u", wire_len, XLMIG__WIRE_MAX);
    if (raw_len > XLMIG__RAW_MAX || out_len > XLMIG__OUT_MAX)
        return frame_error(ch, seq, "oversized: decodes to %" PRIu32 "/%"
                           PRIu32 " bytes, the limits are %u/%u", raw_len,
                           out_len, XLMIG__RAW_MAX, XLMIG__OUT_MAX);
    if (!(flags & XLMIG__FRAME_FLAG_PAGE) && raw_len != out_len)
        return frame_error(ch, seq, "raw length %" PRIu32 " differs from "
                           "output length %" PRIu32 " without the page "
                           "transform", raw_len, out_len);
    if ((flags & XLMIG__FRAME_FLAG_PAGE) && !r->px)
        return frame_error(ch, seq, "page transform used, but the peer "
                           "announced no page cache");
    if (type != XLMIG__FRAME_DATA &&
        (codec || flags || (type == XLMIG__FRAME_END && wire_len) ||
         wire_len > XLMIG__ABORT_MAX))
        return frame_error(ch, seq, "malformed %s frame",
                           type == XLMIG__FRAME_END ? "END" : "ABORT");
    return 0;
}

/* What the network stage has read, and its CPU time so far. */
static void progress_net(libxlmig_channel *ch, size_t bytes)
{
    uint64_t cpu = thread_cpu_ns();

    pthread_mutex_lock(&ch->plock);
    ch->prog.bytes_received += bytes;
    ch->prog.recv_net_cpu_ns = cpu;
    pthread_mutex_unlock(&ch->plock);
}

/* Read the payload into f->wire and count it; then the frame's
 * checksum (over header @h and payload) and its sequence number. */
static int payload_read(struct receiver *r, const uint8_t *h,
                        struct rframe *f)
{
    libxlmig_channel *ch = r->ch;
    const struct frame_hdr *fh = &f->fh;
    uint32_t wire_len = fh->wire_len;
    XXH3_state_t st;
    size_t got;
    int rc;

    f->wire.len = 0;
    rc = xlmig__buf_reserve(&f->wire, wire_len, XLMIG__WIRE_MAX);
    if (rc) return rc;
    rc = xlmig__transport_read_exact(ch->t, f->wire.data, wire_len, &got);
    if (rc) return rc;
    if (got < wire_len)
        return frame_error(ch, r->seq, "truncated: the stream ended after "
                           "%zu of %" PRIu32 " payload bytes", got,
                           wire_len);
    f->wire.len = wire_len;
    progress_net(ch, XLMIG__FRAME_HDR_LEN + wire_len);

    /* Under TLS a changed byte fails the read: the checksum guards
     * nothing more (the data checksum, after decoding, stays). */
    if (!r->sealed) {
        XXH3_INITSTATE(&st);
        XXH3_64bits_reset(&st);
        XXH3_64bits_update(&st, h, 32);
        XXH3_64bits_update(&st, f->wire.data, wire_len);
        if (XXH3_64bits_digest(&st) != fh->frame_csum)
            return frame_error(ch, r->seq, "checksum mismatch: the frame "
                               "is corrupted");
    }
    if (fh->seq < r->seq)
        return frame_error(ch, r->seq, "sequence %" PRIu64 " replayed",
                           fh->seq);
    if (fh->seq > r->seq)
        return frame_error(ch, r->seq, "sequence %" PRIu64 ": frames %"
                           PRIu64 " to %" PRIu64 " are missing", fh->seq,
                           r->seq, fh->seq - 1);
    return 0;
}

/* A DATA payload through its codec, into f->raw (the none codec's
 * bytes stay where they lie). */
static int payload_decode(struct receiver *r, struct rframe *f)
{
    const struct frame_hdr *fh = &f->fh;
    const struct xlmig__codec_ops *c = xlmig__codecs[fh->codec];
    uint8_t codec = fh->codec;
    int rc;

    if (codec == XLMIG__CODEC_NONE) {
        /* Used where it lies: no copy. */
        if (fh->wire_len != fh->raw_len)
            return frame_error(r->ch, fh->seq, "none payload does not "
                               "decode to %" PRIu32 " bytes", fh->raw_len);
        return 0;
    }
    if (codec_state(r->codec_state, c))
        return xlmig__error(r->ch->ctx, LIBXLMIG_ERR_NO_MEMORY, -1,
                            "no memory to decode %s", c->name);
    f->raw.len = 0;
    rc = xlmig__buf_reserve(&f->raw, fh->raw_len, XLMIG__RAW_MAX);
    if (rc) return rc;
    rc = c->decode(r->codec_state[codec], f->wire.data, fh->wire_len,
                   f->raw.data, fh->raw_len);
    if (rc)
        return frame_error(r->ch, fh->seq, "%s payload does not decode to "
                           "%" PRIu32 " bytes", c->name, fh->raw_len);
    f->raw.len = fh->raw_len;
    return 0;
}

/* Read, check and (DATA) undo the codec of one frame into @f. */
static int frame_read(struct receiver *r, struct rframe *f)
{
    uint8_t h[XLMIG__FRAME_HDR_LEN];
    int rc;

    rc = hdr_read(r, h);
    if (rc) return rc;
    rc = hdr_check(r, h, &f->fh);
    if (rc) return rc;
    rc = payload_read(r, h, f);
    if (rc) return rc;
    if (f->fh.type == XLMIG__FRAME_DATA) {
        rc = payload_decode(r, f);
        if (rc) return rc;
    }
    r->seq++;
    return 0;
}

/* The slot to fill next, once there is one; NULL after stop. */
static struct rframe *slot_to_fill(struct receiver *r)
{
    struct rframe *f = NULL;

    pthread_mutex_lock(&r->lock);
    while (!r->stop && r->next_fill - r->next_take == RING_SLOTS)
        pthread_cond_wait(&r->free_cond, &r->lock);
    if (!r->stop)
        f = &r->ring[r->next_fill % RING_SLOTS];
    pthread_mutex_unlock(&r->lock);
    return f;
}

/* Hand the filled slot to the decode stage; @last: END or ABORT. */
static void slot_filled(struct receiver *r, bool last)
{
    pthread_mutex_lock(&r->lock);
    r->next_fill++;
    if (last)
        r->net_done = true;
    pthread_cond_signal(&r->filled_cond);
    pthread_mutex_unlock(&r->lock);
}

/*
 * The network stage: frames into the ring until END or ABORT (put in
 * like any other), a failure (held in r->net_err, its code in
 * r->net_rc) or stop.
 */
static void *net_main(void *arg)
{
    struct receiver *r = arg;
    bool last = false;
    int rc = 0;

    xlmig__error_hold(&r->net_err);
    while (!last) {
        struct rframe *f = slot_to_fill(r);

        if (!f)
            break;
        rc = frame_read(r, f);
        if (rc) break;
        last = f->fh.type != XLMIG__FRAME_DATA;
        slot_filled(r, last);
    }
    xlmig__error_unhold();
    if (!last) {
        pthread_mutex_lock(&r->lock);
        r->net_done = true;
        r->net_rc = rc;
        pthread_cond_signal(&r->filled_cond);
        pthread_mutex_unlock(&r->lock);
    }
    return NULL;
}

/*
 * The decode stage failed: stop the network stage, waking it from a
 * read or from waiting for a slot.
 */
static void net_stop(struct receiver *r)
{
    bool running;

    pthread_mutex_lock(&r->lock);
    r->stop = true;
    running = !r->net_done;
    pthread_cond_signal(&r->free_cond);
    pthread_mutex_unlock(&r->lock);
    if (running)
        xlmig__transport_cancel_read(r->ch->t);
}

/* ---- the decode stage -------------------------------------------- */

/* The frame's output from @raw: the page ops applied when flagged
 * (into r->out); its data checksum checked. */
static int payload_output(struct receiver *r, const struct frame_hdr *fh,
                          const uint8_t *raw, const uint8_t **data_r)
{
    uint32_t out_len = fh->out_len;
    int rc;

    if (fh->flags & XLMIG__FRAME_FLAG_PAGE) {
        char why[256] = "";

        r->out.len = 0;
        rc = xlmig__pagex_decode(r->px, raw, fh->raw_len, &r->out,
                                 out_len, why, sizeof(why));
        if (rc)
            return frame_error(r->ch, fh->seq, "page ops rejected: %s", why);
        if (r->out.len != out_len)
            return frame_error(r->ch, fh->seq, "page ops give %zu bytes, "
                               "the header says %" PRIu32, r->out.len,
                               out_len);
        *data_r = r->out.data;
    } else {
        *data_r = raw;
    }
    if (XXH3_64bits(*data_r, out_len) != fh->data_csum)
        return frame_error(r->ch, fh->seq, "data checksum mismatch after "
                           "decoding");
    return 0;
}

/*
 * Decode one frame the network stage has checked.  Returns 1 for END,
 * 0 for a data frame whose bytes are in *data_r / *len_r, or a negative
 * rc.
 */
static int frame_decode(struct receiver *r, const struct rframe *f,
                        const uint8_t **data_r, size_t *len_r)
{
    libxlmig_channel *ch = r->ch;
    const struct frame_hdr *fh = &f->fh;
    int rc;

    if (fh->type == XLMIG__FRAME_END)
        return 1;
    if (fh->type == XLMIG__FRAME_ABORT) {
        char why[XLMIG__ABORT_MAX + 1];

        sanitize(why, sizeof(why), f->wire.data, fh->wire_len);
        return xlmig__error(ch->ctx, LIBXLMIG_ERR_CANCELLED, -1,
                            "the peer (%s) aborted the stream after "
                            "frame %" PRIu64 ": %s", dir_in(ch), fh->seq,
                            why[0] ? why : "no reason given");
    }
    rc = payload_output(r, fh, fh->codec == XLMIG__CODEC_NONE
                                   ? f->wire.data : f->raw.data, data_r);
    if (rc) return rc;
    *len_r = fh->out_len;
    return 0;
}

/*
 * The next frame in order, once the network stage has put it in; NULL
 * when that stage has ended without one more (it failed).
 */
static const struct rframe *slot_to_take(struct receiver *r)
{
    const struct rframe *f = NULL;

    pthread_mutex_lock(&r->lock);
    while (r->next_take == r->next_fill && !r->net_done)
        pthread_cond_wait(&r->filled_cond, &r->lock);
    if (r->next_take < r->next_fill)
        f = &r->ring[r->next_take % RING_SLOTS];
    pthread_mutex_unlock(&r->lock);
    return f;
}

/* The decode stage is done with the oldest frame: its slot is free. */
static void slot_taken(struct receiver *r)
{
    pthread_mutex_lock(&r->lock);
    r->next_take++;
    pthread_cond_signal(&r->free_cond);
    pthread_mutex_unlock(&r->lock);
}

/* The network stage's failure, reported now that every frame before it
 * has been handed on. */
static int net_failure(struct receiver *r)
{
    if (r->net_err.rc)
        xlmig__error_replay(r->ch->ctx, &r->net_err);
    return r->net_rc ? r->net_rc : LIBXLMIG_ERR_INTERNAL;
}

/* What the decode stage has handed on, and its CPU time so far. */
static void progress_delivered(struct receiver *r, size_t len)
{
    libxlmig_channel *ch = r->ch;
    uint64_t cpu = thread_cpu_ns() - r->cpu0_ns;

    pthread_mutex_lock(&ch->plock);
    ch->prog.bytes_delivered += len;
    ch->prog.frames_in++;
    ch->prog.recv_decode_cpu_ns = cpu;
    pthread_mutex_unlock(&ch->plock);
}

/* The decode stage: frames from the ring to @out_fd, until END or the
 * first failure. */
static int decode_run(struct receiver *r, int out_fd)
{
    libxlmig_channel *ch = r->ch;

    for (;;) {
        const struct rframe *f = slot_to_take(r);
        const uint8_t *data = NULL;
        size_t len = 0;
        int rc;

        if (!f)
            return net_failure(r);
        rc = frame_decode(r, f, &data, &len);
        if (rc == 1)
            return 0;
        if (rc) return rc;
        rc = xlmig__write_all(out_fd, data, len);
        if (rc)
            return xlmig__error(ch->ctx, LIBXLMIG_ERR_IO, -rc,
                                "handing on the received stream");
        slot_taken(r);
        progress_delivered(r, len);
    }
}

static void receiver_init(struct receiver *r, libxlmig_channel *ch)
{
    unsigned int i;

    memset(r, 0, sizeof(*r));
    r->ch = ch;
    pthread_mutex_init(&r->lock, NULL);
    pthread_cond_init(&r->filled_cond, NULL);
    pthread_cond_init(&r->free_cond, NULL);
    for (i = 0; i < RING_SLOTS; i++) {
        xlmig__buf_init(&r->ring[i].wire);
        xlmig__buf_init(&r->ring[i].raw);
    }
    xlmig__buf_init(&r->out);
    r->cpu0_ns = thread_cpu_ns();
    r->sealed = xlmig__transport_sealed(ch->t);
}

static void receiver_dispose(struct receiver *r)
{
    unsigned int i;

    codec_states_free(r->codec_state);
    for (i = 0; i < RING_SLOTS; i++) {
        xlmig__buf_dispose(&r->ring[i].wire);
        xlmig__buf_dispose(&r->ring[i].raw);
    }
    xlmig__buf_dispose(&r->out);
    xlmig__pagex_free(r->px);
    pthread_cond_destroy(&r->filled_cond);
    pthread_cond_destroy(&r->free_cond);
    pthread_mutex_destroy(&r->lock);
}

int libxlmig_channel_recv_fd(libxlmig_channel *ch, int out_fd)
{
    struct receiver r;
    pthread_t net;
    bool net_started = false;
    int rc, err;

    receiver_init(&r, ch);
    pipe_widen(out_fd);
    if (ch->peer_cache_pages || (ch->peer_transforms &
                                 XLMIG__CH_TRANSFORM_PAGE)) {
        rc = xlmig__pagex_new(ch->peer_cache_pages, &r.px);
        if (rc) goto out;
    }
    err = pthread_create(&net, NULL, net_main, &r);
    if (err) {
        rc = xlmig__error(ch->ctx, LIBXLMIG_ERR_NO_MEMORY, err,
                          "cannot start the receiver's network thread");
        goto out;
    }
    net_started = true;

    rc = decode_run(&r, out_fd);
 out:
    if (net_started) {
        if (rc)
            net_stop(&r);
        pthread_join(net, NULL);
    }
    receiver_dispose(&r);
    return rc;
}

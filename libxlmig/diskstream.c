/* SPDX-License-Identifier: LGPL-2.1-only */
/*
 * The disk stream (diskstream.h, docs/specs/diskstream.md): a record
 * stream of a disk's allocated extents inside the stream channel.
 *
 * Sender: one thread reads the source over NBD (libnbd's synchronous
 * calls; extents checked by blkcopy's xlmig__blkcopy_extents_take())
 * and writes records into a pipe; a second thread runs
 * libxlmig_channel_send_fd() from that pipe.  Receiver: a thread runs
 * libxlmig_channel_recv_fd() into a pipe; the calling thread decodes
 * the records and writes them over NBD.
 *
 * The channel has no cancel of its own, so the transport handed to it
 * is wrapped ("guard"): once the call is stopping, the guard's reads
 * and writes fail with CANCELLED (not logged: the call has said why),
 * which ends the channel without its END frame.  A channel thread
 * still blocked in the kernel after a second is woken by shutting the
 * socket down (opts->sock_fd).
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
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <libnbd.h>

#include "blkcopy.h"
#include "diskstream.h"
#include "internal.h"
#include "proc.h"
#include "transport.h"

/* ------------------------------------------------------------ encoding */

static void put_le32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static void put_le64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t get_le32(const uint8_t *p)
{
    uint32_t v = 0;

    for (int i = 3; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

static uint64_t get_le64(const uint8_t *p)
{
    uint64_t v = 0;

    for (int i = 7; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

void xlmig__diskstream_put_header(uint8_t out[XLMIG__DISKSTREAM_HDR_LEN],
                                  uint64_t size, uint32_t flags)
{
    memset(out, 0, XLMIG__DISKSTREAM_HDR_LEN);
    memcpy(out, XLMIG__DISKSTREAM_MAGIC, 8);
    put_le32(out + 8, XLMIG__DISKSTREAM_VERSION);
    put_le32(out + 12, flags);
    put_le64(out + 16, size);
}

void xlmig__diskstream_put_record(uint8_t out[XLMIG__DISKSTREAM_REC_LEN],
                                  uint64_t offset, uint32_t length,
                                  uint32_t type)
{
    put_le64(out, offset);
    put_le32(out + 8, length);
    put_le32(out + 12, type);
}

/* ------------------------------------------------------------ decoding */

void xlmig__diskstream_dec_init(struct xlmig__diskstream_dec *d,
                                uint64_t expect_size)
{
    memset(d, 0, sizeof(*d));
    d->state = XLMIG__DSD_HEADER;
    d->expect_size = expect_size;
}

XLMIG__PRINTF(2, 3)
static int dec_fail(struct xlmig__diskstream_dec *d, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(d->why, sizeof(d->why), fmt, ap);
    va_end(ap);
    d->state = XLMIG__DSD_FAILED;
    return LIBXLMIG_ERR_PROTOCOL;
}

static int dec_header(struct xlmig__diskstream_dec *d,
                      struct xlmig__diskstream_ev *ev)
{
    const uint8_t *h = d->hold;
    uint32_t version = get_le32(h + 8), flags = get_le32(h + 12);
    uint64_t size = get_le64(h + 16);

    if (memcmp(h, XLMIG__DISKSTREAM_MAGIC, 8))
        return dec_fail(d, "bad magic: not a disk stream");
    if (version != XLMIG__DISKSTREAM_VERSION)
        return dec_fail(d, "version %" PRIu32 ", we know %u", version,
                        XLMIG__DISKSTREAM_VERSION);
    if (flags & ~(uint32_t)XLMIG__DISKSTREAM_FLAG_ZEROS)
        return dec_fail(d, "unknown flags 0x%" PRIx32, flags);
    if (get_le64(h + 24))
        return dec_fail(d, "reserved header field not zero");
    if (size > XLMIG__DISKSTREAM_SIZE_MAX)
        return dec_fail(d, "virtual size %" PRIu64 " beyond 64 TiB", size);
    if (d->expect_size && size != d->expect_size)
        return dec_fail(d, "the stream's disk is %" PRIu64 " bytes but the "
                        "destination is %" PRIu64 " bytes", size,
                        d->expect_size);
    d->size = size;
    d->flags = flags;
    d->state = XLMIG__DSD_RECORD;
    ev->type = XLMIG__DISKSTREAM_EV_HEADER;
    ev->size = size;
    ev->flags = flags;
    return 0;
}

static int dec_record(struct xlmig__diskstream_dec *d,
                      struct xlmig__diskstream_ev *ev)
{
    uint64_t off = get_le64(d->hold);
    uint32_t len = get_le32(d->hold + 8), type = get_le32(d->hold + 12);
    uint64_t n = d->records + 1;

    if (type == XLMIG__DISKSTREAM_END) {
        if (len)
            return dec_fail(d, "record %" PRIu64 ": END with length %" PRIu32,
                            n, len);
        if (off != d->data_bytes)
            return dec_fail(d, "record %" PRIu64 ": END says %" PRIu64 " data "
                            "bytes, %" PRIu64 " came", n, off, d->data_bytes);
        d->state = XLMIG__DSD_DONE;
        ev->type = XLMIG__DISKSTREAM_EV_END;
        ev->offset = off;
        return 0;
    }
    if (type != XLMIG__DISKSTREAM_DATA && type != XLMIG__DISKSTREAM_ZERO)
        return dec_fail(d, "record %" PRIu64 ": unknown type %" PRIu32, n,
                        type);
    if (!len || len > (type == XLMIG__DISKSTREAM_DATA
                           ? XLMIG__DISKSTREAM_DATA_MAX
                           : XLMIG__DISKSTREAM_ZERO_MAX))
        return dec_fail(d, "record %" PRIu64 " at offset %" PRIu64 ": length "
                        "%" PRIu32 " out of range (1 to %u)", n, off, len,
                        type == XLMIG__DISKSTREAM_DATA
                            ? XLMIG__DISKSTREAM_DATA_MAX
                            : XLMIG__DISKSTREAM_ZERO_MAX);
    if (len > d->size || off > d->size - len)
        return dec_fail(d, "record %" PRIu64 ": %" PRIu32 " bytes at offset %"
                        PRIu64 " pass the end of the disk (%" PRIu64 " bytes)",
                        n, len, off, d->size);
    if (off < d->pos)
        return dec_fail(d, "record %" PRIu64 ": offset %" PRIu64 " goes back "
                        "(the previous record ended at %" PRIu64 ")", n, off,
                        d->pos);
    d->records = n;
    d->pos = off + len;
    if (type == XLMIG__DISKSTREAM_ZERO) {
        d->state = XLMIG__DSD_RECORD;
        ev->type = XLMIG__DISKSTREAM_EV_ZERO;
        ev->offset = off;
        ev->len = len;
        return 0;
    }
    d->data_bytes += len;
    d->pay_off = off;
    d->pay_left = len;
    d->state = XLMIG__DSD_PAYLOAD;
    return 0;
}

int xlmig__diskstream_dec_next(struct xlmig__diskstream_dec *d,
                               const uint8_t *buf, size_t len,
                               size_t *used_r,
                               struct xlmig__diskstream_ev *ev)
{
    size_t used = 0, want, take;
    int rc;

    memset(ev, 0, sizeof(*ev));
    *used_r = 0;
    while (used < len || d->state == XLMIG__DSD_FAILED) {
        switch (d->state) {
        case XLMIG__DSD_FAILED:
            return LIBXLMIG_ERR_PROTOCOL;
        case XLMIG__DSD_DONE:
            *used_r = used;
            return dec_fail(d, "%zu bytes after END", len - used);
        case XLMIG__DSD_HEADER:
        case XLMIG__DSD_RECORD:
            want = d->state == XLMIG__DSD_HEADER ? XLMIG__DISKSTREAM_HDR_LEN
                                                 : XLMIG__DISKSTREAM_REC_LEN;
            take = want - d->held;
            if (take > len - used)
                take = len - used;
            memcpy(d->hold + d->held, buf + used, take);
            d->held += take;
            used += take;
            d->consumed += take;
            if (d->held < want)
                break;
            d->held = 0;
            rc = d->state == XLMIG__DSD_HEADER ? dec_header(d, ev)
                                               : dec_record(d, ev);
            *used_r = used;
            if (rc)
                return rc;
            if (ev->type != XLMIG__DISKSTREAM_EV_NONE)
                return 0;
            break;
        case XLMIG__DSD_PAYLOAD:
            take = len - used;
            if (take > d->pay_left)
                take = (size_t)d->pay_left;
            ev->type = XLMIG__DISKSTREAM_EV_DATA;
            ev->offset = d->pay_off;
            ev->len = take;
            ev->data = buf + used;
            d->pay_off += take;
            d->pay_left -= take;
            d->consumed += take;
            if (!d->pay_left)
                d->state = XLMIG__DSD_RECORD;
            *used_r = used + take;
            return 0;
        }
    }
    *used_r = used;
    return 0;
}

int xlmig__diskstream_dec_finish(struct xlmig__diskstream_dec *d)
{
    switch (d->state) {
    case XLMIG__DSD_DONE:
        return 0;
    case XLMIG__DSD_FAILED:
        return LIBXLMIG_ERR_PROTOCOL;
    case XLMIG__DSD_HEADER:
        return dec_fail(d, "truncated: the stream ended in its header (%zu "
                        "of %u bytes)", d->held, XLMIG__DISKSTREAM_HDR_LEN);
    case XLMIG__DSD_RECORD:
        return dec_fail(d, "truncated: the stream ended after record %"
                        PRIu64 " without END", d->records);
    case XLMIG__DSD_PAYLOAD:
        return dec_fail(d, "truncated: the stream ended in record %" PRIu64
                        ", %" PRIu64 " payload bytes missing", d->records,
                        d->pay_left);
    }
    return LIBXLMIG_ERR_PROTOCOL;
}

/* ------------------------------------------------------------ helpers */

#define URI_MAX 4096
#define PIPE_BYTES (1u << 20)   /* asked for each pipe */
#define READ_BUF (1u << 20)     /* receiver: bytes per read of the pipe */
#define STAGE_BUF (4u << 20)    /* receiver: DATA gathered per write */
#define STOP_GRACE_S 1.0        /* then the socket is shut down */

static bool uri_ok(const char *uri, bool *tls_r)
{
    return uri && strnlen(uri, URI_MAX) < URI_MAX &&
           xlmig__blkcopy_uri_scheme(uri, tls_r);
}

static int nbd_errno_or(int dflt)
{
    int e = nbd_get_errno();

    return e > 0 ? e : dflt;
}

static const char *nbd_why(void)
{
    const char *e = nbd_get_error();

    return e ? e : "unknown libnbd error";
}

static bool is_space_errno(int e)
{
    return e == ENOSPC || e == EDQUOT || e == EFBIG;
}

/* Connect to @uri (a source when @src: base:allocation asked). */
static int nbd_open(libxlmig_ctx *ctx, const struct xlmig__diskstream_opts *o,
                    const char *uri, bool src, struct nbd_handle **h_r)
{
    const char *side = src ? "source" : "destination";
    struct nbd_handle *h = NULL;
    bool tls = false;
    int rc;

    if (!uri_ok(uri, &tls)) {
        rc = xlmig__error(ctx, LIBXLMIG_ERR_INVALID_ARGUMENT, -1,
                          "disk stream: the %s URI %.200s must be nbd://, "
                          "nbd+unix://, nbds:// or nbds+unix:// and shorter "
                          "than %u bytes", side, uri ? uri : "(none)",
                          URI_MAX);
        goto out;
    }
    if ((o->tls_certs_dir || o->tls_psk_file) && !tls) {
        rc = xlmig__error(ctx, LIBXLMIG_ERR_INVALID_ARGUMENT, -1,
                          "disk stream: TLS options were given but the %s "
                          "%s does not ask for TLS; use nbds:// or "
                          "nbds+unix://", side, uri);
        goto out;
    }
    if (o->tls_certs_dir && o->tls_psk_file) {
        rc = xlmig__error(ctx, LIBXLMIG_ERR_INVALID_ARGUMENT, -1,
                          "disk stream: give NBD TLS certificates or a "
                          "pre-shared key for %s, not both", uri);
        goto out;
    }
    h = nbd_create();
    if (!h) {
        rc = xlmig__error(ctx, LIBXLMIG_ERR_NO_MEMORY, -1, "disk stream: no "
                          "libnbd handle for the %s %s: %s", side, uri,
                          nbd_why());
        goto out;
    }
    if (nbd_set_uri_allow_local_file(h, false) < 0 ||
        nbd_set_uri_allow_transports(h, LIBNBD_ALLOW_TRANSPORT_TCP |
                                            LIBNBD_ALLOW_TRANSPORT_UNIX) < 0 ||
        (src && nbd_add_meta_context(h, LIBNBD_CONTEXT_BASE_ALLOCATION) < 0) ||
        (tls && o->tls_certs_dir &&
         nbd_set_tls_certificates(h, o->tls_certs_dir) < 0) ||
        (tls && o->tls_psk_file &&
         nbd_set_tls_psk_file(h, o->tls_psk_file) < 0) ||
        (tls && o->tls_username &&
         nbd_set_tls_username(h, o->tls_username) < 0)) {
        rc = xlmig__error(ctx, LIBXLMIG_ERR_INTERNAL, -1, "disk stream: "
                          "setting up libnbd for the %s %s: %s", side, uri,
                          nbd_why());
        goto out;
    }
    if (nbd_connect_uri(h, uri) < 0) {
        const char *why = nbd_why();
        bool tls_words = strstr(why, "TLS") || strstr(why, "gnutls") ||
                         strstr(why, "certificate");

        rc = xlmig__error(ctx, tls_words ? LIBXLMIG_ERR_AUTH_FAILED
                                         : LIBXLMIG_ERR_IO, -1,
                          "disk stream: cannot connect to the %s %s: %s; "
                          "check that its NBD server runs, that the URI "
                          "names its socket or host and port and the "
                          "export%s", side, uri, why,
                          tls_words ? ", and the TLS credentials" : "");
        goto out;
    }
    *h_r = h;
    h = NULL;                   /* the caller owns it now */
    rc = 0;
 out:
    nbd_close(h);
    return rc;
}

/* -------------------------------------------------- the guard transport */

/*
 * Wraps the caller's transport; once *stop is set, reads and writes
 * fail with CANCELLED without a word (the call has logged why), which
 * ends the channel without its END frame.
 */
struct guard {
    libxlmig_transport *inner;
    atomic_bool *stop;
};

static ssize_t guard_read(libxlmig_transport *t, void *buf, size_t len)
{
    struct guard *g = t->priv;

    if (atomic_load(g->stop))
        return LIBXLMIG_ERR_CANCELLED;
    return g->inner->ops->read(g->inner, buf, len);
}

static int guard_write(libxlmig_transport *t, const void *buf, size_t len)
{
    struct guard *g = t->priv;

    if (atomic_load(g->stop))
        return LIBXLMIG_ERR_CANCELLED;
    return g->inner->ops->write(g->inner, buf, len);
}

static int guard_shutdown_write(libxlmig_transport *t)
{
    struct guard *g = t->priv;

    if (atomic_load(g->stop))
        return LIBXLMIG_ERR_CANCELLED;
    return g->inner->ops->shutdown_write(g->inner);
}

static long guard_unsent(libxlmig_transport *t)
{
    struct guard *g = t->priv;

    return g->inner->ops->unsent ? g->inner->ops->unsent(g->inner) : -1;
}

static void guard_cancel_read(libxlmig_transport *t)
{
    struct guard *g = t->priv;

    xlmig__transport_cancel_read(g->inner);
}

static void guard_dispose(libxlmig_transport *t)
{
    struct guard *g = t->priv;

    if (!g)
        return;
    libxlmig_transport_free(g->inner);
    free(g);
    t->priv = NULL;
}

static bool guard_sealed(libxlmig_transport *t)
{
    struct guard *g = t->priv;

    return xlmig__transport_sealed(g->inner);
}

static const struct xlmig__transport_ops guard_ops = {
    .name = "guard",
    .read = guard_read,
    .write = guard_write,
    .shutdown_write = guard_shutdown_write,
    .unsent = guard_unsent,
    .cancel_read = guard_cancel_read,
    .sealed = guard_sealed,
    .dispose = guard_dispose,
};

/* ------------------------------------------------------- one run */

struct run {
    libxlmig_ctx *ctx;
    const struct xlmig__diskstream_opts *o;
    bool sender;
    const char *peer;
    atomic_bool stop;           /* the guard's flag */
    libxlmig_channel *ch;
    int pfd[2];                 /* the pipe between us and the channel */
    pthread_t tid;
    bool started;
    atomic_bool done;           /* the channel thread has returned */
    int thread_rc;
    struct nbd_handle *h;
    uint64_t size;
    struct xlmig__diskstream_stats st;
    double t0, last_progress;
};

static bool cancelled(struct run *r)
{
    return r->o->cancel && *r->o->cancel;
}

static int cancelled_error(struct run *r)
{
    libxlmig_channel_progress p = { 0 };

    if (r->ch)
        libxlmig_channel_get_progress(r->ch, &p);
    return xlmig__error(r->ctx, LIBXLMIG_ERR_CANCELLED, -1,
                        "disk stream %s %s cancelled after %" PRIu64 " of %"
                        PRIu64 " data bytes (%" PRIu64 " bytes on the "
                        "wire)%s", r->sender ? "to" : "from", r->peer,
                        r->st.data_done, r->st.data_total,
                        r->sender ? p.bytes_out : p.bytes_received,
                        r->sender ? "; the destination holds a partial copy"
                                  : "; the destination holds a partial "
                                    "copy: cancel the task");
}

static void report(struct run *r, bool force)
{
    double now = xlmig__now_s();
    libxlmig_channel_progress p;

    r->st.seconds = now - r->t0;
    if (r->ch) {
        libxlmig_channel_get_progress(r->ch, &p);
        r->st.wire_bytes = r->sender ? p.bytes_out : p.bytes_received;
    }
    if (!r->o->progress || (!force && now - r->last_progress < 0.1))
        return;
    r->last_progress = now;
    r->o->progress(r->o->opaque, &r->st);
}

static void *chan_main(void *arg)
{
    struct run *r = arg;

    if (r->sender) {
        r->thread_rc = libxlmig_channel_send_fd(r->ch, r->pfd[0]);
    } else {
        r->thread_rc = libxlmig_channel_recv_fd(r->ch, r->pfd[1]);
        close(r->pfd[1]);       /* EOF for the decoder */
        r->pfd[1] = -1;
    }
    atomic_store(&r->done, true);
    return NULL;
}

/*
 * Wrap opts->transport, open the channel, make the pipe and start the
 * channel's thread.  The transport is owned (and freed on failure).
 */
static int chan_start(struct run *r)
{
    libxlmig_transport *t = r->o->transport, *gt = NULL;
    libxlmig_channel_params p;
    struct guard *g = NULL;
    int rc, wfl;

    if (!t)
        return xlmig__error(r->ctx, LIBXLMIG_ERR_INVALID_ARGUMENT, -1,
                            "disk stream: no transport to %s", r->peer);
    g = xlmig__zalloc(sizeof(*g));
    if (!g || xlmig__transport_new(r->ctx, &guard_ops, g, &gt)) {
        free(g);
        libxlmig_transport_free(t);
        return xlmig__error(r->ctx, LIBXLMIG_ERR_NO_MEMORY, -1,
                            "disk stream: out of memory");
    }
    g->inner = t;               /* the guard owns it now */
    g->stop = &r->stop;
    if (r->sender && r->o->params)
        p = *r->o->params;
    else
        libxlmig_channel_params_init(&p);
    p.page_aware = false;
    p.page_cache_pages = 0;
    rc = libxlmig_channel_open(r->ctx, gt, r->sender, &p, &r->ch);
    if (rc)                     /* logged; it freed the transport */
        return rc;
    if (pipe2(r->pfd, O_CLOEXEC))
        return xlmig__error(r->ctx, LIBXLMIG_ERR_IO, errno,
                            "disk stream: cannot make a pipe");
    (void)fcntl(r->pfd[1], F_SETPIPE_SZ, PIPE_BYTES);
    /* Our end does not block: cancel is looked at while waiting. */
    wfl = r->sender ? r->pfd[1] : r->pfd[0];
    (void)fcntl(wfl, F_SETFL, fcntl(wfl, F_GETFL) | O_NONBLOCK);
    if (pthread_create(&r->tid, NULL, chan_main, r))
        return xlmig__error(r->ctx, LIBXLMIG_ERR_NO_MEMORY, errno,
                            "disk stream: cannot start the channel thread");
    r->started = true;
    return 0;
}

/* Read and drop what the channel hands on (receiver, while stopping). */
static void drain(struct run *r)
{
    uint8_t junk[65536];

    if (r->sender || r->pfd[0] < 0)
        return;
    while (read(r->pfd[0], junk, sizeof(junk)) > 0)
        ;
}

/*
 * End the channel's thread: with @abort, the guard fails its next read
 * or write; after STOP_GRACE_S the socket is shut down.  The sender's
 * pipe end is closed first (EOF: the channel ends its stream, with END
 * unless aborting).  Returns the thread's rc, or CANCELLED when
 * *opts->cancel was set while waiting.
 */
static int chan_stop(struct run *r, bool abort)
{
    double t0 = xlmig__now_s();
    bool shut = false;
    int rc = 0;

    if (abort)
        atomic_store(&r->stop, true);
    if (r->sender && r->pfd[1] >= 0) {
        close(r->pfd[1]);
        r->pfd[1] = -1;
    }
    if (!r->started)
        return 0;
    while (!atomic_load(&r->done)) {
        struct pollfd pfd = { .fd = r->sender ? -1 : r->pfd[0],
                              .events = POLLIN };

        if (!abort && cancelled(r)) {
            /* Cancelled while the channel drains its queue. */
            rc = cancelled_error(r);
            atomic_store(&r->stop, true);
            abort = true;
            t0 = xlmig__now_s();
        }
        drain(r);
        (void)poll(&pfd, 1, 20);
        if (abort && !shut && r->o->sock_fd > 0 &&
            xlmig__now_s() - t0 > STOP_GRACE_S) {
            (void)shutdown(r->o->sock_fd, SHUT_RDWR);
            shut = true;
        }
    }
    pthread_join(r->tid, NULL);
    r->started = false;
    return rc ? rc : r->thread_rc;
}

static void run_dispose(struct run *r)
{
    if (r->started)
        (void)chan_stop(r, true);
    if (r->ch) {
        report(r, false);       /* the channel's last counters */
        libxlmig_channel_free(r->ch);
        r->ch = NULL;
    }
    if (r->pfd[0] >= 0)
        close(r->pfd[0]);
    if (r->pfd[1] >= 0)
        close(r->pfd[1]);
    r->pfd[0] = r->pfd[1] = -1;
    if (r->h) {
        nbd_shutdown(r->h, 0);
        nbd_close(r->h);
        r->h = NULL;
    }
}

static void run_init(struct run *r, libxlmig_ctx *ctx,
                     const struct xlmig__diskstream_opts *o, bool sender)
{
    memset(r, 0, sizeof(*r));
    r->ctx = ctx;
    r->o = o;
    r->sender = sender;
    r->peer = o->peer_label ? o->peer_label : "the peer";
    atomic_init(&r->stop, false);
    atomic_init(&r->done, false);
    r->pfd[0] = r->pfd[1] = -1;
    r->t0 = xlmig__now_s();
    r->last_progress = r->t0 - 1;
}

/* Nothing to do on our end of the pipe yet: report, wait up to 50 ms. */
static void pipe_wait(struct run *r, int fd, short events)
{
    struct pollfd pfd = { .fd = fd, .events = events };

    report(r, false);
    (void)poll(&pfd, 1, 50);
}

/* End the run (both directions): stop the channel, close the disk,
 * hand back the counters. */
static void run_end(struct run *r, struct xlmig__diskstream_stats *st_r)
{
    run_dispose(r);
    r->st.seconds = xlmig__now_s() - r->t0;
    if (st_r)
        *st_r = r->st;
}

/* ------------------------------------------------------------ sender */

struct bs {
    uint64_t size, asked, end;
    struct xlmig__blkcopy_extent ext[XLMIG__BLKCOPY_EXTENTS_MAX];
    size_t n;
    bool got;
    int rc;
    char why[160];
};

static int bs_cb(void *opaque, const char *meta, uint64_t offset,
                 uint32_t *entries, size_t nr_entries, int *error)
{
    struct bs *b = opaque;

    if (strcmp(meta, LIBNBD_CONTEXT_BASE_ALLOCATION) || b->got)
        return 0;
    b->got = true;
    b->rc = xlmig__blkcopy_extents_take(b->size, b->asked, offset, entries,
                                        nr_entries, b->ext,
                                        XLMIG__BLKCOPY_EXTENTS_MAX, &b->n,
                                        &b->end, b->why, sizeof(b->why));
    if (b->rc) {
        b->n = 0;
        *error = EPROTO;
        return -1;
    }
    return 0;
}

/* The source's extents from @off (checked; at least one). */
static int extents_at(struct run *r, bool meta, uint64_t off, struct bs *b)
{
    uint64_t len = r->size - off;

    if (len > XLMIG__BLKCOPY_STATUS_SPAN)
        len = XLMIG__BLKCOPY_STATUS_SPAN;
    b->size = r->size;
    b->asked = off;
    b->n = 0;
    b->got = false;
    b->rc = 0;
    b->why[0] = '\0';
    if (!meta) {
        b->ext[0] = (struct xlmig__blkcopy_extent){ off, len, false };
        b->n = 1;
        b->end = off + len;
        return 0;
    }
    if (nbd_block_status(r->h, len, off,
                         (nbd_extent_callback){ .callback = bs_cb,
                                                .user_data = b }, 0) < 0) {
        if (b->rc)
            return xlmig__error(r->ctx, LIBXLMIG_ERR_PROTOCOL, -1,
                                "disk stream: the source %s sent a bad "
                                "block status: %s", r->o->src_uri, b->why);
        return xlmig__error(r->ctx, LIBXLMIG_ERR_IO, nbd_errno_or(-1),
                            "disk stream: block status of the source %s at "
                            "offset %" PRIu64 " failed: %s", r->o->src_uri,
                            off, nbd_why());
    }
    if (!b->got || !b->n || b->end <= off)
        return xlmig__error(r->ctx, LIBXLMIG_ERR_PROTOCOL, -1,
                            "disk stream: the source %s sent no allocation "
                            "extents for offset %" PRIu64, r->o->src_uri,
                            off);
    return 0;
}

/* The channel's error when its thread has ended early, else 0. */
static int chan_early(struct run *r)
{
    if (!atomic_load(&r->done))
        return 0;
    pthread_join(r->tid, NULL);
    r->started = false;
    if (r->thread_rc)
        return r->thread_rc;    /* logged by the channel */
    return xlmig__error(r->ctx, LIBXLMIG_ERR_INTERNAL, -1, "disk stream to "
                        "%s: the channel ended before the stream", r->peer);
}

/* Write @len bytes into the pipe, waiting at most 50 ms at a time. */
static int emit(struct run *r, const void *buf, size_t len)
{
    const uint8_t *p = buf;
    int rc;

    while (len) {
        ssize_t w;

        if (cancelled(r))
            return cancelled_error(r);
        rc = chan_early(r);
        if (rc)
            return rc;
        w = write(r->pfd[1], p, len);
        if (w < 0) {
            if (errno != EAGAIN && errno != EINTR)
                return xlmig__error(r->ctx, LIBXLMIG_ERR_IO, errno,
                                    "disk stream to %s: writing to the "
                                    "channel's pipe", r->peer);
            pipe_wait(r, r->pfd[1], POLLOUT);
            continue;
        }
        p += w;
        len -= (size_t)w;
        r->st.stream_bytes += (uint64_t)w;
    }
    return 0;
}

static int emit_record(struct run *r, uint64_t off, uint64_t len,
                       uint32_t type, const uint8_t *payload)
{
    uint8_t rec[XLMIG__DISKSTREAM_REC_LEN];
    int rc;

    xlmig__diskstream_put_record(rec, off, (uint32_t)len, type);
    rc = emit(r, rec, sizeof(rec));
    if (!rc && payload)
        rc = emit(r, payload, (size_t)len);
    if (!rc && type != XLMIG__DISKSTREAM_END) {
        r->st.records++;
        if (type == XLMIG__DISKSTREAM_ZERO)
            r->st.zeroed += len;
    }
    return rc;
}

static int emit_zero(struct run *r, uint64_t off, uint64_t len)
{
    int rc = 0;

    while (len && !rc) {
        uint64_t n = len > XLMIG__DISKSTREAM_ZERO_MAX
                         ? XLMIG__DISKSTREAM_ZERO_MAX : len;

        rc = emit_record(r, off, n, XLMIG__DISKSTREAM_ZERO, NULL);
        off += n;
        len -= n;
    }
    return rc;
}

/*
 * Send the piece [off, off + len) read into @buf: runs of 64 KiB grains
 * (aligned to the disk) that read as zeros are skipped (or ZERO), the
 * rest goes as DATA.
 */
static int send_piece(struct run *r, const uint8_t *buf, uint64_t off,
                      uint64_t len, uint64_t *data_r)
{
    uint64_t end = off + len, g = off, run = off;
    bool run_zero = false;
    int rc = 0;

    while (g < end) {
        uint64_t ge = (g / XLMIG__DISKSTREAM_GRAIN + 1) *
                      XLMIG__DISKSTREAM_GRAIN;
        bool z;

        if (ge > end)
            ge = end;
        z = xlmig__blkcopy_all_zero(buf + (g - off), (size_t)(ge - g));
        if (g == off) {
            run_zero = z;
        } else if (z != run_zero) {
            rc = run_zero ? (r->o->send_zeros ? emit_zero(r, run, g - run) : 0)
                          : emit_record(r, run, g - run,
                                        XLMIG__DISKSTREAM_DATA,
                                        buf + (run - off));
            if (rc)
                return rc;
            if (run_zero)
                r->st.zero_skipped += g - run;
            else
                *data_r += g - run;
            run = g;
            run_zero = z;
        }
        g = ge;
    }
    if (run_zero) {
        r->st.zero_skipped += end - run;
        return r->o->send_zeros ? emit_zero(r, run, end - run) : 0;
    }
    *data_r += end - run;
    return emit_record(r, run, end - run, XLMIG__DISKSTREAM_DATA,
                       buf + (run - off));
}

/* The sender's state beside its run. */
struct sender {
    struct run r;
    struct bs *b;               /* the extents being sent */
    uint8_t *buf;               /* one chunk read from the source */
    size_t chunk;
    bool meta;                  /* the source reports allocation */
    uint64_t sent_data;         /* DATA bytes sent: the END record's */
};

/* Check the chunk size, open the source, take its size, allocate. */
static int send_open(struct sender *sd)
{
    struct run *r = &sd->r;
    const struct xlmig__diskstream_opts *o = r->o;
    int64_t sz;
    int rc;

    sd->chunk = o->chunk ? o->chunk : XLMIG__DISKSTREAM_CHUNK_DEFAULT;
    if (sd->chunk < XLMIG__DISKSTREAM_CHUNK_MIN ||
        sd->chunk > XLMIG__DISKSTREAM_DATA_MAX || sd->chunk % 4096)
        return xlmig__error(r->ctx, LIBXLMIG_ERR_INVALID_ARGUMENT, -1,
                            "disk stream: chunk %zu bytes: it must be a "
                            "multiple of 4 KiB from 64 KiB to 32 MiB",
                            sd->chunk);
    rc = nbd_open(r->ctx, o, o->src_uri, true, &r->h);
    if (rc)
        return rc;
    sz = nbd_get_size(r->h);
    if (sz < 0 || (uint64_t)sz > XLMIG__DISKSTREAM_SIZE_MAX)
        return xlmig__error(r->ctx, LIBXLMIG_ERR_INVALID_ARGUMENT, -1,
                            "disk stream: the source %s has no size or more "
                            "than 64 TiB (%s)", o->src_uri,
                            sz < 0 ? nbd_why() : "too big");
    r->size = r->st.virtual_size = (uint64_t)sz;
    sd->meta = nbd_can_meta_context(r->h,
                                    LIBNBD_CONTEXT_BASE_ALLOCATION) == 1;
    if (!sd->meta)
        xlmig__log(r->ctx, XTL_WARN, -1, "disk stream: the source %s does "
                   "not report allocation: sending all %" PRIu64 " bytes",
                   o->src_uri, r->size);
    sd->b = malloc(sizeof(*sd->b));
    sd->buf = malloc(sd->chunk);
    if (!sd->b || !sd->buf)
        return xlmig__error(r->ctx, LIBXLMIG_ERR_NO_MEMORY, -1, "disk "
                            "stream: cannot allocate %zu bytes", sd->chunk);
    return 0;
}

/* Pass 1: the allocated bytes to send (data_total). */
static int send_count(struct sender *sd)
{
    struct run *r = &sd->r;
    uint64_t off;
    size_t i;
    int rc;

    for (off = 0; off < r->size; off = sd->b->end) {
        if (cancelled(r))
            return cancelled_error(r);
        rc = extents_at(r, sd->meta, off, sd->b);
        if (rc)
            return rc;
        for (i = 0; i < sd->b->n; i++) {
            if (!sd->b->ext[i].zero)
                r->st.data_total += sd->b->ext[i].len;
        }
    }
    return 0;
}

/* One extent's records: ZERO when asked for, else its bytes read a
 * chunk at a time and sent. */
static int send_extent(struct sender *sd,
                       const struct xlmig__blkcopy_extent *e)
{
    struct run *r = &sd->r;
    uint64_t pos = e->off, end = e->off + e->len;
    int rc;

    if (e->zero)
        return r->o->send_zeros ? emit_zero(r, e->off, e->len) : 0;
    while (pos < end) {
        uint64_t lim = (pos / sd->chunk + 1) * sd->chunk, n;

        n = (lim < end ? lim : end) - pos;
        if (cancelled(r))
            return cancelled_error(r);
        if (nbd_pread(r->h, sd->buf, (size_t)n, pos, 0) < 0)
            return xlmig__error(r->ctx, LIBXLMIG_ERR_IO, nbd_errno_or(-1),
                                "disk stream: reading %" PRIu64 " "
                                "bytes at offset %" PRIu64 " of the "
                                "source %s failed: %s; is its NBD "
                                "server still running?", n, pos,
                                r->o->src_uri, nbd_why());
        rc = send_piece(r, sd->buf, pos, n, &sd->sent_data);
        if (rc)
            return rc;
        r->st.data_done += n;
        if (r->st.data_done > r->st.data_total)
            r->st.data_total = r->st.data_done;
        report(r, false);
        pos += n;
    }
    return 0;
}

/* Pass 2: the header, then every extent's records. */
static int send_records(struct sender *sd)
{
    struct run *r = &sd->r;
    uint8_t hdr[XLMIG__DISKSTREAM_HDR_LEN];
    uint64_t off;
    size_t i;
    int rc;

    xlmig__diskstream_put_header(hdr, r->size, r->o->send_zeros
                                 ? XLMIG__DISKSTREAM_FLAG_ZEROS : 0);
    rc = emit(r, hdr, sizeof(hdr));
    if (rc)
        return rc;
    for (off = 0; off < r->size; off = sd->b->end) {
        rc = extents_at(r, sd->meta, off, sd->b);
        if (rc)
            return rc;
        for (i = 0; i < sd->b->n; i++) {
            rc = send_extent(sd, &sd->b->ext[i]);
            if (rc)
                return rc;
        }
    }
    return 0;
}

int xlmig__diskstream_send(libxlmig_ctx *ctx,
                           const struct xlmig__diskstream_opts *o,
                           struct xlmig__diskstream_stats *st_r)
{
    struct sender sd = { 0 };
    struct run *r = &sd.r;
    int rc;

    run_init(r, ctx, o, true);
    rc = send_open(&sd);
    if (!rc)
        rc = send_count(&sd);
    if (rc) {
        libxlmig_transport_free(o->transport);
        goto out;
    }
    rc = chan_start(r);         /* owns the transport from here */
    if (rc) goto out;
    report(r, true);
    rc = send_records(&sd);
    if (rc) goto out;
    rc = emit_record(r, sd.sent_data, 0, XLMIG__DISKSTREAM_END, NULL);
    if (rc) goto out;
    rc = chan_stop(r, false);   /* EOF: the channel sends END */
    if (rc) goto out;           /* logged by the channel */
    r->st.data_total = r->st.data_done;
    report(r, true);
    xlmig__log(ctx, XTL_INFO, -1, "disk stream: %s to %s: %" PRIu64 " data "
               "bytes of %" PRIu64 " as %" PRIu64 " stream bytes, %" PRIu64
               " on the wire, in %.2f s", o->src_uri, r->peer,
               r->st.data_done, r->size, r->st.stream_bytes,
               r->st.wire_bytes, r->st.seconds);
    rc = 0;
 out:
    run_end(r, st_r);
    free(sd.buf);
    free(sd.b);
    return rc;
}

/* ---------------------------------------------------------- receiver */

struct stage {
    uint8_t *buf;
    uint64_t off;               /* disk offset of buf[0] */
    size_t len;
};

static int dst_error(struct run *r, int e, const char *what, uint64_t len,
                     uint64_t off)
{
    if (is_space_errno(e))
        return xlmig__error(r->ctx,
                            LIBXLMIG_ERR_SR_DESTINATION_SPACE_INSUFFICIENT, e,
                            "disk stream: the destination %s ran out of "
                            "space %s %" PRIu64 " bytes at offset %" PRIu64
                            " (%" PRIu64 " data bytes written); free space "
                            "in the destination SR or choose another one",
                            r->o->dst_uri, what, len, off, r->st.data_done);
    return xlmig__error(r->ctx, LIBXLMIG_ERR_IO, e, "disk stream: %s %"
                        PRIu64 " bytes at offset %" PRIu64 " of the "
                        "destination %s failed: %s; is its NBD server still "
                        "running?", what, len, off, r->o->dst_uri, nbd_why());
}

static int stage_flush(struct run *r, struct stage *s)
{
    if (!s->len)
        return 0;
    if (nbd_pwrite(r->h, s->buf, s->len, s->off, 0) < 0)
        return dst_error(r, nbd_errno_or(EIO), "writing", s->len, s->off);
    r->st.data_done += s->len;
    s->off += s->len;
    s->len = 0;
    return 0;
}

static int stage_data(struct run *r, struct stage *s,
                      const struct xlmig__diskstream_ev *ev)
{
    const uint8_t *p = ev->data;
    uint64_t off = ev->offset, len = ev->len;
    int rc;

    if (s->len && off != s->off + s->len) {
        rc = stage_flush(r, s);
        if (rc)
            return rc;
    }
    while (len) {
        size_t n;

        if (!s->len)
            s->off = off;
        n = STAGE_BUF - s->len;
        if (n > len)
            n = (size_t)len;
        memcpy(s->buf + s->len, p, n);
        s->len += n;
        p += n;
        off += n;
        len -= n;
        if (s->len == STAGE_BUF) {
            rc = stage_flush(r, s);
            if (rc)
                return rc;
        }
    }
    return 0;
}

static int write_zero(struct run *r, struct stage *s, uint64_t off,
                      uint64_t len)
{
    uint64_t total = len;
    int rc = stage_flush(r, s);

    if (rc)
        return rc;
    if (nbd_can_zero(r->h) == 1) {
        if (nbd_zero(r->h, len, off, 0) < 0)
            return dst_error(r, nbd_errno_or(EIO), "zeroing", len, off);
    } else {
        memset(s->buf, 0, STAGE_BUF);
        while (len) {
            size_t n = len > STAGE_BUF ? STAGE_BUF : (size_t)len;

            if (nbd_pwrite(r->h, s->buf, n, off, 0) < 0)
                return dst_error(r, nbd_errno_or(EIO), "zeroing", n, off);
            off += n;
            len -= n;
        }
    }
    r->st.zeroed += total;
    return 0;
}

static int flush_dst(struct run *r)
{
    int e;

    if (nbd_can_flush(r->h) != 1)
        return 0;
    if (nbd_flush(r->h, 0) < 0) {
        e = nbd_errno_or(EIO);
        return dst_error(r, e, "flushing", 0, 0);
    }
    return 0;
}

static int bad_record(struct run *r, const struct xlmig__diskstream_dec *d)
{
    return xlmig__error(r->ctx, LIBXLMIG_ERR_PROTOCOL, -1,
                        "disk stream from %s: %s (after %" PRIu64 " stream "
                        "bytes); nothing more is written to %s, which holds "
                        "a partial copy: cancel the task", r->peer, d->why,
                        d->consumed, r->o->dst_uri);
}

/* Open the destination (writable, with a size) and allocate the read
 * and staging buffers. */
static int recv_open(struct run *r, struct stage *s, uint8_t **rbuf_r)
{
    const struct xlmig__diskstream_opts *o = r->o;
    int64_t sz;
    int rc;

    rc = nbd_open(r->ctx, o, o->dst_uri, false, &r->h);
    if (rc)
        return rc;
    sz = nbd_get_size(r->h);
    if (sz < 0 || nbd_is_read_only(r->h) == 1)
        return xlmig__error(r->ctx, LIBXLMIG_ERR_INVALID_ARGUMENT, -1,
                            "disk stream: the destination %s is %s; export "
                            "it writable", o->dst_uri,
                            sz < 0 ? "without a size" : "read-only");
    r->size = r->st.virtual_size = (uint64_t)sz;
    *rbuf_r = malloc(READ_BUF);
    s->buf = malloc(STAGE_BUF);
    if (!*rbuf_r || !s->buf)
        return xlmig__error(r->ctx, LIBXLMIG_ERR_NO_MEMORY, -1, "disk "
                            "stream: out of memory");
    return 0;
}

/* Act on one decoded record: check the size, stage DATA, write ZERO,
 * flush at END (*got_end_r). */
static int recv_event(struct run *r, struct stage *s,
                      const struct xlmig__diskstream_ev *ev, bool *got_end_r)
{
    int rc = 0;

    switch (ev->type) {
    case XLMIG__DISKSTREAM_EV_HEADER:
        if (ev->size != r->size)
            return xlmig__error(r->ctx, LIBXLMIG_ERR_INVALID_ARGUMENT, -1,
                                "disk stream from %s: the source disk "
                                "is %" PRIu64 " bytes but the "
                                "destination %s is %" PRIu64 " bytes; "
                                "make the destination with the "
                                "source's virtual size", r->peer,
                                ev->size, r->o->dst_uri, r->size);
        break;
    case XLMIG__DISKSTREAM_EV_DATA:
        rc = stage_data(r, s, ev);
        break;
    case XLMIG__DISKSTREAM_EV_ZERO:
        rc = write_zero(r, s, ev->offset, ev->len);
        break;
    case XLMIG__DISKSTREAM_EV_END:
        rc = stage_flush(r, s);
        if (!rc)
            rc = flush_dst(r);
        if (rc)
            return rc;
        r->st.data_total = ev->offset;
        *got_end_r = true;
        break;
    case XLMIG__DISKSTREAM_EV_NONE:
        break;
    }
    return rc;
}

/* Decode and act on the @len bytes just read into @rbuf. */
static int recv_bytes(struct run *r, struct xlmig__diskstream_dec *d,
                      struct stage *s, const uint8_t *rbuf, size_t len,
                      bool *got_end_r)
{
    size_t pos = 0;
    int rc;

    while (pos < len) {
        struct xlmig__diskstream_ev ev;
        size_t used;

        rc = xlmig__diskstream_dec_next(d, rbuf + pos, len - pos, &used,
                                        &ev);
        if (rc)
            return bad_record(r, d);
        pos += used;
        rc = recv_event(r, s, &ev, got_end_r);
        if (rc)
            return rc;
    }
    return 0;
}

/* Read the channel's pipe to its end, decoding as it comes. */
static int recv_records(struct run *r, struct xlmig__diskstream_dec *d,
                        struct stage *s, uint8_t *rbuf, bool *got_end_r)
{
    int rc;

    for (;;) {
        ssize_t got;

        if (cancelled(r))
            return cancelled_error(r);
        got = read(r->pfd[0], rbuf, READ_BUF);
        if (got < 0) {
            if (errno != EAGAIN && errno != EINTR)
                return xlmig__error(r->ctx, LIBXLMIG_ERR_IO, errno,
                                    "disk stream from %s: reading the "
                                    "channel's pipe", r->peer);
            pipe_wait(r, r->pfd[0], POLLIN);
            continue;
        }
        if (got == 0)
            return 0;
        r->st.stream_bytes += (uint64_t)got;
        rc = recv_bytes(r, d, s, rbuf, (size_t)got, got_end_r);
        if (rc)
            return rc;
        r->st.records = d->records;
        report(r, false);
    }
}

int xlmig__diskstream_recv(libxlmig_ctx *ctx,
                           const struct xlmig__diskstream_opts *o,
                           struct xlmig__diskstream_stats *st_r)
{
    struct xlmig__diskstream_dec d;
    struct stage s = { 0 };
    struct run r;
    uint8_t *rbuf = NULL;
    bool got_end = false;
    int rc;

    run_init(&r, ctx, o, false);
    rc = recv_open(&r, &s, &rbuf);
    if (rc) {
        libxlmig_transport_free(o->transport);
        goto out;
    }
    rc = chan_start(&r);
    if (rc) goto out;
    xlmig__diskstream_dec_init(&d, 0);
    rc = recv_records(&r, &d, &s, rbuf, &got_end);
    if (rc) goto out;

    /* The channel ended: its verdict first (a cut stream is its error). */
    rc = chan_stop(&r, false);
    if (rc) goto out;
    if (xlmig__diskstream_dec_finish(&d)) {
        rc = bad_record(&r, &d);
        goto out;
    }
    if (!got_end) {
        rc = xlmig__error(ctx, LIBXLMIG_ERR_INTERNAL, -1, "disk stream from "
                          "%s: no END record", r.peer);
        goto out;
    }
    r.st.flushed = true;
    report(&r, true);
    xlmig__log(ctx, XTL_INFO, -1, "disk stream: from %s into %s: %" PRIu64
               " data bytes in %" PRIu64 " records, %" PRIu64 " on the wire, "
               "in %.2f s", r.peer, o->dst_uri, r.st.data_done, d.records,
               r.st.wire_bytes, r.st.seconds);
    rc = 0;
 out:
    run_end(&r, st_r);
    free(rbuf);
    free(s.buf);
    return rc;
}

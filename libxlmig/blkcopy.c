/* SPDX-License-Identifier: LGPL-2.1-only */
/*
 * The bulk copier of storage live migration (blkcopy.h,
 * docs/specs/blkcopy.md).
 *
 * One thread, one libnbd handle to each side, libnbd's asynchronous
 * API.  The thread's loop, in the order things happen:
 *
 *   - reap: a piece whose read completed gets its writes (the grains
 *     that are not zero); a piece whose writes all completed is done
 *     and counted;
 *   - refill: free slots take the next pieces from the extent cursor,
 *     as far as the bandwidth cap allows;
 *   - pump: poll() both sockets at most 50 ms and let libnbd act on
 *     them; completion callbacks run in there and only mark slots.
 *
 * The extent cursor holds two block-status replies: the one being cut
 * into pieces and the next one, asked for as soon as the first is
 * checked.  The callbacks never call libnbd (the handle is locked while
 * they run) and never log: everything is decided in the loop.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <libnbd.h>

#include "blkcopy.h"
#include "internal.h"
#include "proc.h"

enum side { SRC, DST };

static const char *const side_name[] = { "source", "destination" };

/* One block-status request and what its reply said. */
struct bstat {
    struct xlmig__blkcopy *c;
    bool busy;              /* sent, not completed */
    bool done;              /* completed: the members below are set */
    uint64_t off;           /* asked from here */
    uint64_t end;           /* the kept extents end here */
    struct xlmig__blkcopy_extent *ext; /* EXTENTS_MAX of them */
    size_t n;               /* kept */
    bool got;               /* base:allocation extents came */
    int err;                /* the command's errno */
    char bad[160];          /* the rule the reply broke, or "" */
};

enum slot_state {
    SLOT_FREE,
    SLOT_READING,           /* read sent to the source */
    SLOT_READ,              /* read completed (or failed: err) */
    SLOT_WRITING,           /* writes sent to the destination */
};

/* A piece of the disk on its way: [off, off + len). */
struct slot {
    struct xlmig__blkcopy *c;
    enum slot_state state;
    uint64_t off;
    size_t len;
    bool data;              /* read from the source; else a zero range */
    unsigned int pending;   /* destination commands not completed */
    int err;                /* the first errno, from err_side */
    enum side err_side;
    uint64_t sent, zsent, zskip;  /* written, write-zeroed, found zero */
    unsigned char *buf;     /* chunk bytes */
};

struct xlmig__blkcopy {
    libxlmig_ctx *ctx;
    char *uri[2];
    char *certs, *psk, *user;
    size_t chunk;
    unsigned int inflight;
    unsigned int stall_s;
    bool dst_is_zero;
    void (*progress)(void *opaque, const struct xlmig__blkcopy_stats *st);
    void *opaque;

    atomic_bool cancelled;
    _Atomic uint64_t bwlimit;
    bool ran;

    /* Buffers, made by _new. */
    unsigned char *bufs;
    struct slot *slots;
    struct bstat bs[2];

    /* One run. */
    struct nbd_handle *h[2];
    bool tls[2];            /* the URI asks for TLS */
    uint64_t size;
    size_t max_rw;          /* bytes of one read or write */
    bool can_zero;          /* the destination takes write-zeroes */
    bool src_meta;          /* the source reports base:allocation */
    unsigned int busy;      /* slots not free */
    struct xlmig__blkcopy_stats st;
    double t0, last_progress, last_activity;
    uint64_t bw_rate;       /* the cap the bucket is filled at */
    double tokens, bw_last;
    bool total_raised;      /* data_total raised once (logged) */
    char why[512];          /* libnbd's words for the last failure */
};

/* ------------------------------------------------------------ helpers */

static bool is_cancelled(struct xlmig__blkcopy *c)
{
    return atomic_load(&c->cancelled);
}

/* Keep libnbd's message for the call that just failed. */
static void keep_nbd_error(struct xlmig__blkcopy *c)
{
    const char *e = nbd_get_error();

    xlmig__strlcpy(c->why, e ? e : "unknown libnbd error", sizeof(c->why));
}

static char *dup_opt(const char *s, size_t max, bool *bad)
{
    char *d;

    if (!s)
        return NULL;
    if (strnlen(s, max) >= max || !*s) {
        *bad = true;
        return NULL;
    }
    d = strdup(s);
    if (!d)
        *bad = true;
    return d;
}

/* Is @uri one of the schemes we take; *tls_r whether it asks for TLS. */
bool xlmig__blkcopy_uri_scheme(const char *uri, bool *tls_r)
{
    static const struct {
        const char *prefix;
        bool tls;
    } schemes[] = {
        { "nbd://", false },
        { "nbd+unix://", false },
        { "nbds://", true },
        { "nbds+unix://", true },
    };
    size_t i;

    for (i = 0; i < sizeof(schemes) / sizeof(schemes[0]); i++) {
        if (!strncmp(uri, schemes[i].prefix, strlen(schemes[i].prefix))) {
            *tls_r = schemes[i].tls;
            return true;
        }
    }
    return false;
}

/* Every byte of @p[0..n) zero?  memcmp against itself shifted by 16
 * bytes, once the first 16 are known zero: glibc's vectorised loop. */
bool xlmig__blkcopy_all_zero(const unsigned char *p, size_t n)
{
    size_t i;

    for (i = 0; i < n && i < 16; i++) {
        if (p[i])
            return false;
    }
    return n <= 16 || memcmp(p, p + 16, n - 16) == 0;
}

/* ------------------------------------------------------------ new/free */

/* Check @o before anything is allocated: URIs, chunk and in-flight
 * count (defaults applied into *chunk_r / *inflight_r), TLS files. */
static int opts_check(libxlmig_ctx *ctx, const struct xlmig__blkcopy_opts *o,
                      bool *tls_src_r, bool *tls_dst_r, size_t *chunk_r,
                      unsigned int *inflight_r)
{
    char path[XLMIG__BLKCOPY_PATH_MAX + 32];
    bool tls_src = false, tls_dst = false;
    unsigned int inflight;
    size_t chunk;

    if (!o || !o->src_uri || !o->dst_uri)
        return xlmig__error(ctx, LIBXLMIG_ERR_INVALID_ARGUMENT, -1,
                            "block copy: a source and a destination NBD URI "
                            "are needed");
    if (!xlmig__blkcopy_uri_scheme(o->src_uri, &tls_src) ||
        !xlmig__blkcopy_uri_scheme(o->dst_uri, &tls_dst) ||
        strnlen(o->src_uri, XLMIG__BLKCOPY_URI_MAX) >= XLMIG__BLKCOPY_URI_MAX ||
        strnlen(o->dst_uri, XLMIG__BLKCOPY_URI_MAX) >= XLMIG__BLKCOPY_URI_MAX)
        return xlmig__error(ctx, LIBXLMIG_ERR_INVALID_ARGUMENT, -1,
                            "block copy from %.200s to %.200s: each URI must "
                            "be nbd://, nbd+unix://, nbds:// or nbds+unix:// "
                            "and shorter than %u bytes",
                            o->src_uri, o->dst_uri, XLMIG__BLKCOPY_URI_MAX);
    chunk = o->chunk ? o->chunk : XLMIG__BLKCOPY_CHUNK_DEFAULT;
    inflight = o->inflight ? o->inflight : XLMIG__BLKCOPY_INFLIGHT_DEFAULT;
    if (chunk < XLMIG__BLKCOPY_CHUNK_MIN || chunk > XLMIG__BLKCOPY_CHUNK_MAX ||
        chunk % 4096 || inflight > XLMIG__BLKCOPY_INFLIGHT_MAX ||
        (uint64_t)chunk * inflight > XLMIG__BLKCOPY_BUFFERS_MAX)
        return xlmig__error(ctx, LIBXLMIG_ERR_INVALID_ARGUMENT, -1,
                            "block copy to %s: chunk %zu bytes and %u in "
                            "flight: the chunk must be a multiple of 4 KiB "
                            "from 64 KiB to 32 MiB, at most %u in flight, "
                            "and chunk x in flight at most 256 MiB",
                            o->dst_uri, chunk, inflight,
                            XLMIG__BLKCOPY_INFLIGHT_MAX);
    if (o->tls_certs_dir && o->tls_psk_file)
        return xlmig__error(ctx, LIBXLMIG_ERR_INVALID_ARGUMENT, -1,
                            "block copy to %s: give TLS certificates or a "
                            "pre-shared key, not both", o->dst_uri);
    if ((o->tls_certs_dir || o->tls_psk_file || o->tls_username) &&
        !tls_src && !tls_dst)
        return xlmig__error(ctx, LIBXLMIG_ERR_INVALID_ARGUMENT, -1,
                            "block copy to %s: TLS options were given but "
                            "neither URI asks for TLS; use nbds:// or "
                            "nbds+unix://", o->dst_uri);
    if (o->tls_certs_dir) {
        snprintf(path, sizeof(path), "%.*s/ca-cert.pem",
                 XLMIG__BLKCOPY_PATH_MAX, o->tls_certs_dir);
        if (access(path, R_OK))
            return xlmig__error(ctx, LIBXLMIG_ERR_INVALID_ARGUMENT, errno,
                                "block copy to %s: the TLS directory %s has "
                                "no readable ca-cert.pem (it needs "
                                "ca-cert.pem, client-cert.pem and "
                                "client-key.pem)", o->dst_uri,
                                o->tls_certs_dir);
    }
    if (o->tls_psk_file && access(o->tls_psk_file, R_OK))
        return xlmig__error(ctx, LIBXLMIG_ERR_INVALID_ARGUMENT, errno,
                            "block copy to %s: cannot read the TLS pre-shared "
                            "key file %s", o->dst_uri, o->tls_psk_file);
    *tls_src_r = tls_src;
    *tls_dst_r = tls_dst;
    *chunk_r = chunk;
    *inflight_r = inflight;
    return 0;
}

/* The copy's buffers: @c->inflight slots of @c->chunk bytes each, and
 * the two extent lists.  @dst names the destination in the error. */
static int buffers_alloc(struct xlmig__blkcopy *c, const char *dst)
{
    size_t chunk = c->chunk, i;
    unsigned int inflight = c->inflight;
    bool bad = false;

    c->bufs = aligned_alloc(4096, chunk * inflight);
    c->slots = calloc(inflight, sizeof(*c->slots));
    for (i = 0; i < 2; i++) {
        c->bs[i].c = c;
        c->bs[i].ext = calloc(XLMIG__BLKCOPY_EXTENTS_MAX,
                              sizeof(*c->bs[i].ext));
        if (!c->bs[i].ext)
            bad = true;
    }
    if (!c->bufs || !c->slots || bad)
        return xlmig__error(c->ctx, LIBXLMIG_ERR_NO_MEMORY, -1,
                            "block copy to %s: cannot allocate %zu bytes of "
                            "buffers", dst, chunk * inflight);
    for (i = 0; i < inflight; i++) {
        c->slots[i].c = c;
        c->slots[i].buf = c->bufs + i * chunk;
    }
    return 0;
}

int xlmig__blkcopy_new(libxlmig_ctx *ctx, const struct xlmig__blkcopy_opts *o,
                       struct xlmig__blkcopy **c_r)
{
    struct xlmig__blkcopy *c = NULL;
    bool bad = false, tls_src = false, tls_dst = false;
    unsigned int inflight;
    size_t chunk;
    int rc;

    rc = opts_check(ctx, o, &tls_src, &tls_dst, &chunk, &inflight);
    if (rc) goto out;
    c = xlmig__zalloc(sizeof(*c));
    if (!c) {
        rc = xlmig__error(ctx, LIBXLMIG_ERR_NO_MEMORY, -1,
                          "block copy to %s: out of memory", o->dst_uri);
        goto out;
    }
    c->ctx = ctx;
    c->uri[SRC] = dup_opt(o->src_uri, XLMIG__BLKCOPY_URI_MAX, &bad);
    c->uri[DST] = dup_opt(o->dst_uri, XLMIG__BLKCOPY_URI_MAX, &bad);
    c->certs = dup_opt(o->tls_certs_dir, XLMIG__BLKCOPY_PATH_MAX, &bad);
    c->psk = dup_opt(o->tls_psk_file, XLMIG__BLKCOPY_PATH_MAX, &bad);
    c->user = dup_opt(o->tls_username, XLMIG__BLKCOPY_PATH_MAX, &bad);
    c->tls[SRC] = tls_src;
    c->tls[DST] = tls_dst;
    c->chunk = chunk;
    c->inflight = inflight;
    c->stall_s = o->stall_timeout_s ? o->stall_timeout_s
                                    : XLMIG__BLKCOPY_STALL_DEFAULT_S;
    c->dst_is_zero = o->dst_is_zero;
    c->progress = o->progress;
    c->opaque = o->opaque;
    atomic_init(&c->cancelled, false);
    atomic_init(&c->bwlimit, o->bwlimit);
    if (bad) {
        rc = xlmig__error(ctx, LIBXLMIG_ERR_INVALID_ARGUMENT, -1,
                          "block copy to %s: an empty or over-long TLS path "
                          "or user name (or out of memory)", o->dst_uri);
        goto out;
    }
    rc = buffers_alloc(c, o->dst_uri);
    if (rc) goto out;

    *c_r = c;
    c = NULL;                   /* the caller owns it now */
    rc = 0;
 out:
    xlmig__blkcopy_free(c);
    return rc;
}

void xlmig__blkcopy_free(struct xlmig__blkcopy *c)
{
    if (!c)
        return;
    nbd_close(c->h[SRC]);
    nbd_close(c->h[DST]);
    free(c->bs[0].ext);
    free(c->bs[1].ext);
    free(c->slots);
    free(c->bufs);
    free(c->uri[SRC]);
    free(c->uri[DST]);
    free(c->certs);
    free(c->psk);
    free(c->user);
    free(c);
}

void xlmig__blkcopy_cancel(struct xlmig__blkcopy *c)
{
    atomic_store(&c->cancelled, true);
}

void xlmig__blkcopy_set_bwlimit(struct xlmig__blkcopy *c, uint64_t bps)
{
    atomic_store(&c->bwlimit, bps);
}

/* -------------------------------------------------------------- errors */

static int cancelled_error(struct xlmig__blkcopy *c)
{
    return xlmig__error(c->ctx, LIBXLMIG_ERR_CANCELLED, -1,
                        "block copy from %s to %s cancelled after %" PRIu64
                        " of %" PRIu64 " data bytes; the destination holds "
                        "a partial copy", c->uri[SRC], c->uri[DST],
                        c->st.data_done, c->st.data_total);
}

/* A connection broke (c->why has libnbd's words). */
static int lost_error(struct xlmig__blkcopy *c, enum side s)
{
    return xlmig__error(c->ctx, LIBXLMIG_ERR_IO, -1,
                        "block copy: the connection to the %s %s failed: "
                        "%s; is its NBD server still running?",
                        side_name[s], c->uri[s], c->why);
}

static bool tls_words(const char *why)
{
    return strstr(why, "gnutls") || strstr(why, "TLS") ||
           strstr(why, "certificate") || strstr(why, "x509");
}

/* Connecting to side @s failed (c->why has libnbd's words). */
static int connect_error(struct xlmig__blkcopy *c, enum side s)
{
    if (!c->tls[s] && tls_words(c->why))
        return xlmig__error(c->ctx, LIBXLMIG_ERR_AUTH_FAILED, -1,
                            "block copy: the %s %s wants TLS: %s; use an "
                            "nbds:// URI with its CA and a client "
                            "certificate, or its pre-shared key",
                            side_name[s], c->uri[s], c->why);
    if (c->tls[s] && tls_words(c->why) && c->psk)
        return xlmig__error(c->ctx, LIBXLMIG_ERR_AUTH_FAILED, -1,
                            "block copy: TLS with the %s %s failed: %s; "
                            "check that the key of user %s in %s is the "
                            "server's", side_name[s], c->uri[s], c->why,
                            c->user ? c->user : "(login name)", c->psk);
    if (c->tls[s] && tls_words(c->why))
        return xlmig__error(c->ctx, LIBXLMIG_ERR_AUTH_FAILED, -1,
                            "block copy: TLS with the %s %s failed: %s; "
                            "check that its certificate is signed by the "
                            "CA in %s/ca-cert.pem and names the host of the "
                            "URI, and that it trusts our client-cert.pem",
                            side_name[s], c->uri[s], c->why,
                            c->certs ? c->certs : "libnbd's default place");
    return xlmig__error(c->ctx, LIBXLMIG_ERR_IO, -1,
                        "block copy: cannot connect to the %s %s: %s; check "
                        "that its NBD server runs and that the URI names "
                        "its socket or host and port, and the export",
                        side_name[s], c->uri[s], c->why);
}

/* The first failed command of slot @sl. */
static int slot_error(struct xlmig__blkcopy *c, const struct slot *sl)
{
    int e = sl->err;

    if (sl->err_side == SRC)
        return xlmig__error(c->ctx, LIBXLMIG_ERR_IO, e,
                            "block copy: reading %zu bytes at offset %" PRIu64
                            " of the source %s failed", sl->len, sl->off,
                            c->uri[SRC]);
    if (e == ENOSPC || e == EDQUOT || e == EFBIG)
        return xlmig__error(c->ctx,
                            LIBXLMIG_ERR_SR_DESTINATION_SPACE_INSUFFICIENT, e,
                            "block copy: the destination %s ran out of space "
                            "writing at offset %" PRIu64 " (%" PRIu64 " of %"
                            PRIu64 " data bytes copied); free space in the "
                            "destination SR or choose another one",
                            c->uri[DST], sl->off, c->st.data_done,
                            c->st.data_total);
    return xlmig__error(c->ctx, LIBXLMIG_ERR_IO, e,
                        "block copy: writing %zu bytes at offset %" PRIu64
                        " of the destination %s failed", sl->len, sl->off,
                        c->uri[DST]);
}

/* ---------------------------------------------------------- the pump */

/*
 * poll() both connections up to @ms and let libnbd act: completion
 * callbacks run in here.  0, or -1 with c->why set and *side_r the
 * connection that failed (not logged: the caller knows what it was
 * doing).
 */
static int pump(struct xlmig__blkcopy *c, int ms, enum side *side_r)
{
    struct pollfd pfd[2];
    enum side who[2];
    nfds_t n = 0, i;
    int s, r;

    for (s = SRC; s <= DST; s++) {
        unsigned int dir;
        int fd;

        if (!c->h[s])
            continue;
        if (nbd_aio_is_closed(c->h[s]) == 1 || nbd_aio_is_dead(c->h[s]) == 1) {
            /* It went so in an earlier call, without an error. */
            xlmig__strlcpy(c->why, "the server closed the connection",
                           sizeof(c->why));
            *side_r = (enum side)s;
            return -1;
        }
        dir = nbd_aio_get_direction(c->h[s]);
        if (!dir)
            continue;
        fd = nbd_aio_get_fd(c->h[s]);
        if (fd < 0) {
            keep_nbd_error(c);
            *side_r = (enum side)s;
            return -1;
        }
        pfd[n].fd = fd;
        pfd[n].events = 0;
        if (dir & LIBNBD_AIO_DIRECTION_READ)
            pfd[n].events |= POLLIN;
        if (dir & LIBNBD_AIO_DIRECTION_WRITE)
            pfd[n].events |= POLLOUT;
        pfd[n].revents = 0;
        who[n++] = (enum side)s;
    }
    r = poll(pfd, n, ms);
    if (r < 0) {
        if (errno == EINTR)
            return 0;
        snprintf(c->why, sizeof(c->why), "poll: %s", strerror(errno));
        *side_r = SRC;
        return -1;
    }
    for (i = 0; i < n && r > 0; i++) {
        struct nbd_handle *h = c->h[who[i]];
        int nr;

        /* Both ways ready: reading first (libnbd's advice). */
        if (pfd[i].revents & (POLLIN | POLLHUP | POLLERR))
            nr = nbd_aio_notify_read(h);
        else if (pfd[i].revents & POLLOUT)
            nr = nbd_aio_notify_write(h);
        else
            continue;
        if (nr < 0) {
            keep_nbd_error(c);
            *side_r = who[i];
            return -1;
        }
    }
    return 0;
}

/* Anything in flight on either side? */
static bool in_flight(struct xlmig__blkcopy *c)
{
    return (c->h[SRC] && nbd_aio_in_flight(c->h[SRC]) > 0) ||
           (c->h[DST] && nbd_aio_in_flight(c->h[DST]) > 0);
}

/* One turn of waiting: cancel, stall, then pump up to @ms.  0 or an rc
 * (logged). */
static int wait_step(struct xlmig__blkcopy *c, int ms)
{
    enum side s;
    double now = xlmig__now_s();

    if (is_cancelled(c))
        return cancelled_error(c);
    if (in_flight(c) && now - c->last_activity > c->stall_s) {
        s = c->h[DST] && nbd_aio_in_flight(c->h[DST]) > 0 ? DST : SRC;
        return xlmig__error(c->ctx, LIBXLMIG_ERR_TIMEOUT, -1,
                            "block copy: no reply from the %s %s for %u s; "
                            "its NBD server is stuck or the network is "
                            "down", side_name[s], c->uri[s], c->stall_s);
    }
    if (pump(c, ms, &s))
        return lost_error(c, s);
    return 0;
}

/* ----------------------------------------------------------- connect */

static int open_side(struct xlmig__blkcopy *c, enum side s)
{
    struct nbd_handle *h;

    h = nbd_create();
    if (!h)
        return xlmig__error(c->ctx, LIBXLMIG_ERR_NO_MEMORY, -1,
                            "block copy: no libnbd handle for the %s %s: %s",
                            side_name[s], c->uri[s], nbd_get_error());
    c->h[s] = h;
    if (nbd_set_handle_name(h, s == SRC ? "xlmig-src" : "xlmig-dst") < 0 ||
        nbd_set_uri_allow_local_file(h, false) < 0 ||
        nbd_set_uri_allow_transports(h, LIBNBD_ALLOW_TRANSPORT_TCP |
                                            LIBNBD_ALLOW_TRANSPORT_UNIX) < 0 ||
        (s == SRC &&
         nbd_add_meta_context(h, LIBNBD_CONTEXT_BASE_ALLOCATION) < 0) ||
        (c->tls[s] && c->certs && nbd_set_tls_certificates(h, c->certs) < 0) ||
        (c->tls[s] && c->psk && nbd_set_tls_psk_file(h, c->psk) < 0) ||
        (c->tls[s] && c->user && nbd_set_tls_username(h, c->user) < 0)) {
        keep_nbd_error(c);
        return xlmig__error(c->ctx, LIBXLMIG_ERR_INTERNAL, -1,
                            "block copy: setting up libnbd for the %s %s: %s",
                            side_name[s], c->uri[s], c->why);
    }
    if (nbd_aio_connect_uri(h, c->uri[s]) < 0) {
        keep_nbd_error(c);
        return connect_error(c, s);
    }
    return 0;
}

static bool connecting(struct xlmig__blkcopy *c, enum side s)
{
    return nbd_aio_is_connecting(c->h[s]) == 1 ||
           nbd_aio_is_created(c->h[s]) == 1;
}

/* Connect to both sides at once and check what they offer. */
static int connect_both(struct xlmig__blkcopy *c)
{
    double deadline = xlmig__now_s() + XLMIG__BLKCOPY_CONNECT_TIMEOUT_MS / 1000.0;
    int64_t sz[2], max;
    int s, rc;
    enum side bad;

    for (s = SRC; s <= DST; s++) {
        rc = open_side(c, (enum side)s);
        if (rc)
            return rc;
    }
    while (connecting(c, SRC) || connecting(c, DST)) {
        if (is_cancelled(c))
            return cancelled_error(c);
        if (xlmig__now_s() > deadline) {
            s = connecting(c, SRC) ? SRC : DST;
            return xlmig__error(c->ctx, LIBXLMIG_ERR_TIMEOUT, -1,
                                "block copy: no NBD handshake from the %s %s "
                                "in %u s; is it an NBD server?", side_name[s],
                                c->uri[s],
                                XLMIG__BLKCOPY_CONNECT_TIMEOUT_MS / 1000);
        }
        if (pump(c, 50, &bad))
            return connect_error(c, bad);
    }
    for (s = SRC; s <= DST; s++) {
        if (nbd_aio_is_ready(c->h[s]) != 1) {
            xlmig__strlcpy(c->why, "the server closed the connection during "
                           "the handshake", sizeof(c->why));
            return connect_error(c, (enum side)s);
        }
        sz[s] = nbd_get_size(c->h[s]);
        if (sz[s] < 0) {
            keep_nbd_error(c);
            return lost_error(c, (enum side)s);
        }
    }
    if (nbd_is_read_only(c->h[DST]) == 1)
        return xlmig__error(c->ctx, LIBXLMIG_ERR_INVALID_ARGUMENT, -1,
                            "block copy: the destination %s is read-only; "
                            "export it writable", c->uri[DST]);
    if (sz[SRC] != sz[DST])
        return xlmig__error(c->ctx, LIBXLMIG_ERR_INVALID_ARGUMENT, -1,
                            "block copy: the source %s is %" PRId64 " bytes "
                            "but the destination %s is %" PRId64 " bytes; "
                            "make the destination with the source's virtual "
                            "size", c->uri[SRC], sz[SRC], c->uri[DST],
                            sz[DST]);
    if ((uint64_t)sz[SRC] > XLMIG__BLKCOPY_SIZE_MAX)
        return xlmig__error(c->ctx, LIBXLMIG_ERR_INVALID_ARGUMENT, -1,
                            "block copy: the source %s is %" PRId64 " bytes, "
                            "more than the 64 TiB we copy", c->uri[SRC],
                            sz[SRC]);
    c->size = (uint64_t)sz[SRC];
    c->st.virtual_size = c->size;
    c->can_zero = nbd_can_zero(c->h[DST]) == 1;
    c->src_meta = nbd_can_meta_context(c->h[SRC],
                                       LIBNBD_CONTEXT_BASE_ALLOCATION) == 1;
    if (!c->src_meta)
        xlmig__log(c->ctx, XTL_WARN, -1, "block copy: the source %s does not "
                   "report allocation (base:allocation): copying all %"
                   PRIu64 " bytes", c->uri[SRC], c->size);
    /* The largest read or write both servers take. */
    c->max_rw = c->chunk;
    for (s = SRC; s <= DST; s++) {
        max = nbd_get_block_size(c->h[s], LIBNBD_SIZE_MAXIMUM);
        if (max >= 4096 && (uint64_t)max < c->max_rw)
            c->max_rw = (size_t)max & ~(size_t)4095;
    }
    return 0;
}

/*
 * Tell both servers goodbye: NBD_CMD_DISC goes out at once on an idle
 * socket; the handles are closed right after.  Nothing depends on it.
 */
static void disconnect_both(struct xlmig__blkcopy *c)
{
    int i;

    for (i = SRC; i <= DST; i++) {
        if (c->h[i] && nbd_aio_is_ready(c->h[i]) == 1)
            nbd_aio_disconnect(c->h[i], 0);
    }
}

/* ------------------------------------------------------- block status */

int xlmig__blkcopy_extents_take(uint64_t size, uint64_t asked,
                                uint64_t offset, const uint32_t *entries,
                                size_t nr_entries,
                                struct xlmig__blkcopy_extent *ext, size_t cap,
                                size_t *n_r, uint64_t *end_r, char *why,
                                size_t why_len)
{
    uint64_t pos = offset;
    size_t i, n = 0;

    if (offset != asked) {
        snprintf(why, why_len, "extents for offset %" PRIu64 " in reply to "
                 "a request for offset %" PRIu64, offset, asked);
        return LIBXLMIG_ERR_PROTOCOL;
    }
    for (i = 0; i + 1 < nr_entries && i / 2 < XLMIG__BLKCOPY_EXTENTS_MAX &&
                pos < size; i += 2) {
        uint64_t len = entries[i];
        bool zero = (entries[i + 1] & LIBNBD_STATE_ZERO) != 0;

        if (len == 0) {
            snprintf(why, why_len, "an extent of length 0 at offset %" PRIu64,
                     pos);
            return LIBXLMIG_ERR_PROTOCOL;
        }
        if (len > size - pos)
            len = size - pos;   /* never beyond the disk */
        if (n && ext[n - 1].zero == zero) {
            ext[n - 1].len += len;
        } else {
            if (n == cap)
                break;
            ext[n++] = (struct xlmig__blkcopy_extent){ pos, len, zero };
        }
        pos += len;
    }
    if (!n) {
        snprintf(why, why_len, "no extent for offset %" PRIu64 " (of a disk "
                 "of %" PRIu64 " bytes)", offset, size);
        return LIBXLMIG_ERR_PROTOCOL;
    }
    *n_r = n;
    *end_r = pos;
    return 0;
}

/*
 * The extent callback: the reply to one block-status request.  Only
 * base:allocation counts, and only its first answer;
 * xlmig__blkcopy_extents_take() applies the rules.  A broken rule fails
 * the command (b->bad says which).
 */
static int bs_extents(void *opaque, const char *meta, uint64_t offset,
                      uint32_t *entries, size_t nr_entries, int *error)
{
    struct bstat *b = opaque;

    if (strcmp(meta, LIBNBD_CONTEXT_BASE_ALLOCATION) || b->got)
        return 0;               /* not ours, or a second answer: ignored */
    b->got = true;
    if (xlmig__blkcopy_extents_take(b->c->size, b->off, offset, entries,
                                    nr_entries, b->ext,
                                    XLMIG__BLKCOPY_EXTENTS_MAX, &b->n,
                                    &b->end, b->bad, sizeof(b->bad))) {
        b->n = 0;
        *error = EPROTO;
        return -1;
    }
    return 0;
}

static int bs_done(void *opaque, int *error)
{
    struct bstat *b = opaque;

    b->err = *error;
    b->busy = false;
    b->done = true;
    b->c->last_activity = xlmig__now_s();
    return 1;
}

/* Ask for the extents from @off. */
static int bs_issue(struct xlmig__blkcopy *c, struct bstat *b, uint64_t off)
{
    uint64_t len = c->size - off;
    int64_t r;

    if (len > XLMIG__BLKCOPY_STATUS_SPAN)
        len = XLMIG__BLKCOPY_STATUS_SPAN;
    b->off = b->end = off;
    b->n = 0;
    b->got = false;
    b->err = 0;
    b->bad[0] = '\0';
    b->done = false;
    if (!c->src_meta) {
        /* No allocation known: all data. */
        b->ext[0] = (struct xlmig__blkcopy_extent){ off, len, false };
        b->n = 1;
        b->end = off + len;
        b->got = b->done = true;
        return 0;
    }
    b->busy = true;
    c->last_activity = xlmig__now_s();
    r = nbd_aio_block_status(c->h[SRC], len, off,
                             (nbd_extent_callback){ .callback = bs_extents,
                                                    .user_data = b },
                             (nbd_completion_callback){ .callback = bs_done,
                                                        .user_data = b },
                             0);
    if (r < 0) {
        b->busy = false;
        keep_nbd_error(c);
        return xlmig__error(c->ctx, LIBXLMIG_ERR_IO, -1,
                            "block copy: cannot ask the source %s for block "
                            "status at offset %" PRIu64 ": %s", c->uri[SRC],
                            off, c->why);
    }
    return 0;
}

/* Is the completed reply @b usable?  0 or an rc (logged). */
static int bs_check(struct xlmig__blkcopy *c, const struct bstat *b)
{
    if (b->bad[0])
        return xlmig__error(c->ctx, LIBXLMIG_ERR_PROTOCOL, -1,
                            "block copy: the source %s sent a bad block "
                            "status: %s", c->uri[SRC], b->bad);
    if (b->err)
        return xlmig__error(c->ctx, LIBXLMIG_ERR_IO, b->err,
                            "block copy: block status of the source %s at "
                            "offset %" PRIu64 " failed", c->uri[SRC], b->off);
    if (!b->got || !b->n || b->end <= b->off)
        return xlmig__error(c->ctx, LIBXLMIG_ERR_PROTOCOL, -1,
                            "block copy: the source %s sent no allocation "
                            "extents for offset %" PRIu64, c->uri[SRC],
                            b->off);
    return 0;
}

/* Pass 1: data_total, from one walk of the whole source. */
static int walk(struct xlmig__blkcopy *c)
{
    struct bstat *b = &c->bs[0];
    uint64_t off = 0, extents = 0;
    size_t i;
    int rc;

    while (off < c->size) {
        rc = bs_issue(c, b, off);
        if (rc)
            return rc;
        while (!b->done) {
            rc = wait_step(c, 50);
            if (rc)
                return rc;
        }
        rc = bs_check(c, b);
        if (rc)
            return rc;
        for (i = 0; i < b->n; i++) {
            if (!b->ext[i].zero)
                c->st.data_total += b->ext[i].len;
        }
        extents += b->n;
        off = b->end;
    }
    xlmig__log(c->ctx, XTL_DEBUG, -1, "block copy: the source %s has %"
               PRIu64 " data bytes of %" PRIu64 " (%" PRIu64 " extents)",
               c->uri[SRC], c->st.data_total, c->size, extents);
    return 0;
}

/* ----------------------------------------------------- the extent cursor */

enum cursor_state { CUR_READY, CUR_WAIT, CUR_END, CUR_ERROR };

struct cursor {
    struct bstat *cur, *next;
    bool ok;                /* cur checked and being cut */
    size_t i;               /* its extent being cut */
    uint64_t pos;           /* the next byte to hand out */
};

/*
 * Point @cu at an extent with bytes left from cu->pos: CUR_READY;
 * CUR_WAIT while a reply is awaited; CUR_END; CUR_ERROR with *rc_r.
 */
static enum cursor_state cursor_fill(struct xlmig__blkcopy *c,
                                     struct cursor *cu, int *rc_r)
{
    struct bstat *t;

    for (;;) {
        if (cu->ok) {
            if (cu->i < cu->cur->n) {
                const struct xlmig__blkcopy_extent *e = &cu->cur->ext[cu->i];

                if (cu->pos < e->off + e->len)
                    return CUR_READY;
                cu->i++;
                if (cu->i < cu->cur->n)
                    cu->pos = cu->cur->ext[cu->i].off;
                continue;
            }
            /* cur is used up: on to the next reply */
            if (cu->cur->end >= c->size)
                return CUR_END;
            if (!cu->next->done)
                return CUR_WAIT;
            t = cu->cur;
            cu->cur = cu->next;
            cu->next = t;
            cu->ok = false;
        }
        if (!cu->cur->done)
            return CUR_WAIT;
        *rc_r = bs_check(c, cu->cur);
        if (*rc_r)
            return CUR_ERROR;
        cu->ok = true;
        cu->i = 0;
        cu->pos = cu->cur->ext[0].off;
        if (cu->cur->end < c->size) {
            *rc_r = bs_issue(c, cu->next, cu->cur->end);
            if (*rc_r)
                return CUR_ERROR;
        }
    }
}

/* ------------------------------------------------------------- pieces */

static int read_done(void *opaque, int *error)
{
    struct slot *sl = opaque;

    if (*error && !sl->err) {
        sl->err = *error;
        sl->err_side = SRC;
    }
    sl->state = SLOT_READ;
    sl->c->last_activity = xlmig__now_s();
    return 1;
}

static int write_done(void *opaque, int *error)
{
    struct slot *sl = opaque;

    if (*error && !sl->err) {
        sl->err = *error;
        sl->err_side = DST;
    }
    sl->pending--;
    sl->c->last_activity = xlmig__now_s();
    return 1;
}

static struct slot *free_slot(struct xlmig__blkcopy *c)
{
    unsigned int i;

    for (i = 0; i < c->inflight; i++) {
        if (c->slots[i].state == SLOT_FREE)
            return &c->slots[i];
    }
    return NULL;
}

/* Send one write (or write-zeroes, @zero) of slot @sl's bytes [a, b). */
static int dst_write(struct xlmig__blkcopy *c, struct slot *sl, uint64_t a,
                     uint64_t b, bool zero)
{
    nbd_completion_callback cb = { .callback = write_done, .user_data = sl };
    int64_t r;

    sl->pending++;              /* before: in case it completes at once */
    if (zero)
        r = nbd_aio_zero(c->h[DST], b - a, a, cb, 0);
    else
        r = nbd_aio_pwrite(c->h[DST], sl->buf + (a - sl->off), b - a, a, cb,
                           0);
    if (r < 0) {
        sl->pending--;
        keep_nbd_error(c);
        return xlmig__error(c->ctx, LIBXLMIG_ERR_IO, -1,
                            "block copy: cannot write %" PRIu64 " bytes at "
                            "offset %" PRIu64 " of the destination %s: %s",
                            b - a, a, c->uri[DST], c->why);
    }
    c->last_activity = xlmig__now_s();
    if (zero)
        sl->zsent += b - a;
    else
        sl->sent += b - a;
    return 0;
}

/*
 * A piece was read: write it, grain by grain.  Runs of 64 KiB grains
 * (aligned to the disk) that read as zeros are skipped when the
 * destination is zero, or sent as write-zeroes when it can take them;
 * the rest is written.
 */
static int piece_read(struct xlmig__blkcopy *c, struct slot *sl)
{
    uint64_t end = sl->off + sl->len, g, ge, run = sl->off;
    bool scan = c->dst_is_zero || c->can_zero, run_zero = false, z;
    int rc;

    sl->state = SLOT_WRITING;
    if (!scan)
        return dst_write(c, sl, sl->off, end, false);
    for (g = sl->off; g < end; g = ge) {
        ge = (g / XLMIG__BLKCOPY_ZERO_GRAIN + 1) * XLMIG__BLKCOPY_ZERO_GRAIN;
        if (ge > end)
            ge = end;
        z = xlmig__blkcopy_all_zero(sl->buf + (g - sl->off), (size_t)(ge - g));
        if (g == sl->off) {
            run_zero = z;
        } else if (z != run_zero) {
            if (run_zero) {
                sl->zskip += g - run;
                rc = c->dst_is_zero ? 0 : dst_write(c, sl, run, g, true);
            } else {
                rc = dst_write(c, sl, run, g, false);
            }
            if (rc)
                return rc;
            run = g;
            run_zero = z;
        }
    }
    if (run_zero) {
        sl->zskip += end - run;
        return c->dst_is_zero ? 0 : dst_write(c, sl, run, end, true);
    }
    return dst_write(c, sl, run, end, false);
}

/* A piece is done: count it and free the slot. */
static void piece_done(struct xlmig__blkcopy *c, struct slot *sl)
{
    if (sl->data) {
        c->st.data_done += sl->len;
        c->st.zero_skipped += sl->zskip;
        if (c->st.data_done > c->st.data_total) {
            /* The second walk found more data than the first. */
            if (!c->total_raised)
                xlmig__log(c->ctx, XTL_WARN, -1, "block copy: the source %s "
                           "reports more data than in its first walk",
                           c->uri[SRC]);
            c->total_raised = true;
            c->st.data_total = c->st.data_done;
        }
    }
    c->st.written += sl->sent;
    c->st.zeroed += sl->zsent;
    sl->state = SLOT_FREE;
    c->busy--;
}

/* Move every slot on as far as it goes.  0 or an rc (logged). */
static int reap(struct xlmig__blkcopy *c)
{
    unsigned int i;
    int rc;

    for (i = 0; i < c->inflight; i++) {
        struct slot *sl = &c->slots[i];

        if (sl->state == SLOT_READ) {
            if (sl->err)
                return slot_error(c, sl);
            rc = piece_read(c, sl);
            if (rc)
                return rc;
        }
        if (sl->state == SLOT_WRITING && !sl->pending) {
            if (sl->err)
                return slot_error(c, sl);
            piece_done(c, sl);
        }
    }
    return 0;
}

/*
 * The token bucket on bytes read: may a read start now?  When not,
 * *wait_ms is how long until it may (at most 50).  Debt is allowed (a
 * read takes its whole length), at most 100 ms of the current rate; so
 * is credit, so that a new cap holds within about 100 ms.
 */
static bool bw_allow(struct xlmig__blkcopy *c, double now, int *wait_ms)
{
    uint64_t rate = atomic_load(&c->bwlimit);
    double burst;

    if (rate != c->bw_rate) {
        c->bw_rate = rate;
        if (c->tokens > 0)
            c->tokens = 0;
        if (rate && c->tokens < -(double)rate / 10)
            c->tokens = -(double)rate / 10;
        c->bw_last = now;
    }
    if (!rate)
        return true;
    burst = (double)rate / 10;
    c->tokens += (now - c->bw_last) * (double)rate;
    c->bw_last = now;
    if (c->tokens > burst)
        c->tokens = burst;
    if (c->tokens >= 0)
        return true;
    *wait_ms = (int)ceil(-c->tokens * 1000 / (double)rate);
    if (*wait_ms > 50)
        *wait_ms = 50;
    if (*wait_ms < 1)
        *wait_ms = 1;
    return false;
}

/* The size of a read: the chunk, or ~100 ms of the cap (64 KiB steps). */
static size_t piece_size(struct xlmig__blkcopy *c)
{
    uint64_t p = c->bw_rate / 10;

    if (!c->bw_rate || p >= c->max_rw)
        return c->max_rw;
    p &= ~(uint64_t)(XLMIG__BLKCOPY_ZERO_GRAIN - 1);
    return p < XLMIG__BLKCOPY_ZERO_GRAIN ? XLMIG__BLKCOPY_ZERO_GRAIN
                                         : (size_t)p;
}

/*
 * Start the next piece of extent @e from cu->pos in slot @sl: a read,
 * or for a zero extent write-zeroes (or zeros written, when the
 * destination cannot take write-zeroes).  Pieces end on multiples of
 * their size, so that they stay aligned.
 */
static int piece_start(struct xlmig__blkcopy *c, struct slot *sl,
                       const struct xlmig__blkcopy_extent *e, struct cursor *cu)
{
    uint64_t end = e->off + e->len, step, lim;
    int64_t r;

    if (e->zero && c->can_zero)
        step = XLMIG__BLKCOPY_ZERO_SPAN;
    else if (e->zero)
        step = c->max_rw;
    else
        step = piece_size(c);
    lim = (cu->pos / step + 1) * step;
    if (lim < end)
        end = lim;
    *sl = (struct slot){ .c = c, .off = cu->pos, .len = (size_t)(end - cu->pos),
                         .data = !e->zero, .buf = sl->buf };
    cu->pos = end;
    c->busy++;
    if (e->zero) {
        sl->state = SLOT_WRITING;
        if (c->can_zero)
            return dst_write(c, sl, sl->off, end, true);
        memset(sl->buf, 0, sl->len);
        return dst_write(c, sl, sl->off, end, false);
    }
    sl->state = SLOT_READING;
    c->tokens -= (double)sl->len;
    c->last_activity = xlmig__now_s();
    r = nbd_aio_pread(c->h[SRC], sl->buf, sl->len, sl->off,
                      (nbd_completion_callback){ .callback = read_done,
                                                 .user_data = sl },
                      0);
    if (r < 0) {
        keep_nbd_error(c);
        return xlmig__error(c->ctx, LIBXLMIG_ERR_IO, -1,
                            "block copy: cannot read %zu bytes at offset %"
                            PRIu64 " of the source %s: %s", sl->len, sl->off,
                            c->uri[SRC], c->why);
    }
    return 0;
}

static void report(struct xlmig__blkcopy *c, double now, bool force)
{
    c->st.seconds = now - c->t0;
    if (!c->progress || (!force && now - c->last_progress < 0.1))
        return;
    c->last_progress = now;
    c->progress(c->opaque, &c->st);
}

/* Pass 2: the copy.  0 when every piece is written. */
static int copy(struct xlmig__blkcopy *c)
{
    struct cursor cu = { .cur = &c->bs[0], .next = &c->bs[1] };
    enum cursor_state cs = CUR_WAIT;
    int rc, wait_ms;
    double now;

    if (!c->size)
        return 0;               /* an empty disk: nothing to ask */
    c->bs[0].done = c->bs[1].done = false;
    c->bw_rate = 0;
    c->tokens = 0;
    c->bw_last = xlmig__now_s();
    rc = bs_issue(c, cu.cur, 0);
    if (rc)
        return rc;
    for (;;) {
        struct slot *sl;

        if (is_cancelled(c))
            return cancelled_error(c);
        rc = reap(c);
        if (rc)
            return rc;
        wait_ms = 50;
        now = xlmig__now_s();
        while ((sl = free_slot(c))) {
            const struct xlmig__blkcopy_extent *e;

            cs = cursor_fill(c, &cu, &rc);
            if (cs == CUR_ERROR)
                return rc;
            if (cs != CUR_READY)
                break;
            e = &cu.cur->ext[cu.i];
            if (e->zero && c->dst_is_zero) {
                cu.pos = e->off + e->len;       /* nothing to do */
                continue;
            }
            if (!e->zero && !bw_allow(c, now, &wait_ms))
                break;
            rc = piece_start(c, sl, e, &cu);
            if (rc)
                return rc;
        }
        if (!c->busy) {
            cs = cursor_fill(c, &cu, &rc);
            if (cs == CUR_ERROR)
                return rc;
            if (cs == CUR_END)
                return 0;
        }
        report(c, now, false);
        rc = wait_step(c, wait_ms);
        if (rc)
            return rc;
    }
}

static int flush_done(void *opaque, int *error)
{
    struct slot *sl = opaque;

    sl->err = *error;
    sl->err_side = DST;
    sl->pending = 0;
    return 1;
}

/* NBD_CMD_FLUSH on the destination, when it has one. */
static int flush_dst(struct xlmig__blkcopy *c)
{
    struct slot fl = { .c = c, .pending = 1 };
    int rc;

    if (nbd_can_flush(c->h[DST]) != 1) {
        xlmig__log(c->ctx, XTL_DEBUG, -1, "block copy: the destination %s "
                   "has no flush", c->uri[DST]);
        return 0;
    }
    c->last_activity = xlmig__now_s();
    if (nbd_aio_flush(c->h[DST], (nbd_completion_callback){
                          .callback = flush_done, .user_data = &fl }, 0) < 0) {
        keep_nbd_error(c);
        return xlmig__error(c->ctx, LIBXLMIG_ERR_IO, -1, "block copy: cannot "
                            "flush the destination %s: %s", c->uri[DST],
                            c->why);
    }
    while (fl.pending) {
        rc = wait_step(c, 50);
        if (rc)
            return rc;
    }
    if (fl.err == ENOSPC || fl.err == EDQUOT)
        return xlmig__error(c->ctx,
                            LIBXLMIG_ERR_SR_DESTINATION_SPACE_INSUFFICIENT,
                            fl.err, "block copy: the destination %s ran out "
                            "of space while flushing; free space in the "
                            "destination SR or choose another one",
                            c->uri[DST]);
    if (fl.err)
        return xlmig__error(c->ctx, LIBXLMIG_ERR_IO, fl.err, "block copy: "
                            "flushing the destination %s failed",
                            c->uri[DST]);
    return 0;
}

int xlmig__blkcopy_run(struct xlmig__blkcopy *c,
                       struct xlmig__blkcopy_stats *st_r)
{
    int rc;

    if (c->ran) {
        rc = xlmig__error(c->ctx, LIBXLMIG_ERR_INVALID_ARGUMENT, -1,
                          "block copy to %s: a copier runs once; make a new "
                          "one", c->uri[DST]);
        goto out;
    }
    c->ran = true;
    c->t0 = c->last_activity = xlmig__now_s();
    c->last_progress = c->t0 - 1;

    rc = connect_both(c);
    if (rc) goto out;
    rc = walk(c);
    if (rc) goto out;
    report(c, xlmig__now_s(), true);
    rc = copy(c);
    if (rc) goto out;
    rc = flush_dst(c);
    if (rc) goto out;
    disconnect_both(c);
    if (c->st.data_done < c->st.data_total) {
        /* The second walk found less data than the first. */
        xlmig__log(c->ctx, XTL_WARN, -1, "block copy: the source %s "
                   "reported %" PRIu64 " data bytes, then %" PRIu64,
                   c->uri[SRC], c->st.data_total, c->st.data_done);
        c->st.data_total = c->st.data_done;
    }
    report(c, xlmig__now_s(), true);
    xlmig__log(c->ctx, XTL_INFO, -1, "block copy: %s to %s: %" PRIu64
               " data bytes of %" PRIu64 " in %.2f s (%" PRIu64 " written, %"
               PRIu64 " found zero)", c->uri[SRC], c->uri[DST],
               c->st.data_done, c->st.virtual_size, c->st.seconds,
               c->st.written, c->st.zero_skipped);
    rc = 0;
 out:
    /* Closing the handles first: no libnbd callback may touch a slot
     * or a buffer after this. */
    nbd_close(c->h[SRC]);
    nbd_close(c->h[DST]);
    c->h[SRC] = c->h[DST] = NULL;
    c->st.seconds = xlmig__now_s() - c->t0;
    if (st_r)
        *st_r = c->st;
    return rc;
}

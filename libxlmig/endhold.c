/* SPDX-License-Identifier: LGPL-2.1-only */
/* The END hold: relay of libxl's stream that keeps END back (endhold.h). */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "endhold.h"
#include "internal.h"

/* ---------------------------------------------------------------- core */

static void core_fail(struct xlmig__endhold_core *c, const char *fmt, ...)
    XLMIG__PRINTF(2, 3);

static void core_fail(struct xlmig__endhold_core *c, const char *fmt, ...)
{
    va_list ap;

    c->state = XLMIG__ENDHOLD_FAILED;
    va_start(ap, fmt);
    vsnprintf(c->why, sizeof(c->why), fmt, ap);
    va_end(ap);
}

static void core_fail_after_end(struct xlmig__endhold_core *c, uint64_t at)
{
    core_fail(c, "bytes after the libxl END record (from stream byte %"
              PRIu64 "): nothing follows END in libxl's stream", at);
}

void xlmig__endhold_core_init(struct xlmig__endhold_core *c)
{
    /* The follower zeroes what it needs of itself (not its pfn array). */
    xlmig__follow_init(&c->f);
    c->state = XLMIG__ENDHOLD_RELAYING;
    c->end_held = false;
    c->fed = c->out = c->end_at = 0;
    memset(c->pend, 0, sizeof(c->pend));
    memset(c->end, 0, sizeof(c->end));
    c->why[0] = '\0';
}

/*
 * Follow @in (stream bytes from @base on) piece by piece until it is
 * all followed, END is complete or following fails.  Returns the bytes
 * followed; *end_at_r is END's offset when END came.
 */
static size_t core_follow(struct xlmig__endhold_core *c, const uint8_t *in,
                          size_t len, uint64_t base, uint64_t *end_at_r)
{
    size_t i = 0;

    while (i < len) {
        struct xlmig__follow_piece pc;
        uint64_t at = 0;
        bool in_hdr = xlmig__follow_libxl_rec_at(&c->f, &at);

        i += xlmig__follow_next(&c->f, in + i, len - i, &pc);
        switch (xlmig__follow_status(&c->f)) {
        case XLMIG__FOLLOW_FOLLOWING:
            break;
        case XLMIG__FOLLOW_STOPPED:
            core_fail(c, "the stream cannot be followed: %s",
                      xlmig__follow_why(&c->f));
            return i;
        case XLMIG__FOLLOW_DONE:
            if (!in_hdr) {
                /* Only a stream that starts at the libxc layer ends
                 * without a libxl record header. */
                core_fail(c, "a libxc stream without the libxl layer "
                          "ended at stream byte %" PRIu64 ": there is no "
                          "libxl END record to hold", base + i);
                return i;
            }
            *end_at_r = at;
            return i;
        }
    }
    return i;
}

enum xlmig__endhold_state
xlmig__endhold_core_feed(struct xlmig__endhold_core *c, const uint8_t *in,
                         size_t len, struct xlmig__endhold_out *out_r)
{
    uint64_t base = c->fed, end_at = UINT64_MAX, w, at;
    size_t pend_len = (size_t)(base - c->out), n, k, cut;

    out_r->pre = c->flush;
    out_r->pre_len = 0;
    out_r->len = 0;
    if (c->state == XLMIG__ENDHOLD_FAILED)
        return c->state;
    c->fed += len;
    if (c->state == XLMIG__ENDHOLD_HELD) {
        if (len)
            core_fail_after_end(c, base);
        return c->state;
    }

    n = core_follow(c, in, len, base, &end_at);
    if (end_at != UINT64_MAX) {
        /* END: its bytes are the kept ones from end_at, then the input. */
        for (k = 0; k < XLMIG__REC_HDR_LEN; k++) {
            uint64_t off = end_at + k;

            c->end[k] = off < base ? c->pend[off - c->out] : in[off - base];
        }
        c->end_at = end_at;
        c->end_held = true;
        c->state = XLMIG__ENDHOLD_HELD;
        if (n < len)
            core_fail_after_end(c, base + n);
        w = end_at;
    } else if (c->state == XLMIG__ENDHOLD_FAILED) {
        return c->state;            /* nothing of a failed stream */
    } else if (xlmig__follow_libxl_rec_at(&c->f, &at)) {
        w = at;                     /* a record header, maybe END: kept */
    } else {
        w = c->fed;
    }

    /* Out: the kept bytes before @w, then the input before @w. */
    if (w > c->out && pend_len) {
        cut = (size_t)(w - c->out) < pend_len ? (size_t)(w - c->out)
                                              : pend_len;
        memcpy(c->flush, c->pend, cut);
        memmove(c->pend, c->pend + cut, pend_len - cut);
        pend_len -= cut;
        out_r->pre_len = cut;
    }
    if (w > base)
        out_r->len = (size_t)(w - base);
    if (w > c->out)
        c->out = w;

    /* Kept: the input from @w on (a libxl record header's first bytes). */
    if (c->state == XLMIG__ENDHOLD_RELAYING && c->fed > c->out) {
        size_t from = w > base ? (size_t)(w - base) : 0;

        if (c->fed - c->out > sizeof(c->pend)) {
            core_fail(c, "internal: %" PRIu64 " bytes kept back",
                      c->fed - c->out);
            return c->state;
        }
        memcpy(c->pend + pend_len, in + from, len - from);
    }
    return c->state;
}

enum xlmig__endhold_state
xlmig__endhold_core_eof(struct xlmig__endhold_core *c)
{
    char where[200];

    if (c->state != XLMIG__ENDHOLD_RELAYING)
        return c->state;
    if (!c->fed) {
        core_fail(c, "the stream was empty: no libxl END record");
        return c->state;
    }
    xlmig__follow_where(&c->f, where, sizeof(where));
    core_fail(c, "the stream ended after %" PRIu64 " bytes, %s, without "
              "the libxl END record", c->fed, where);
    return c->state;
}

const uint8_t *xlmig__endhold_core_end(const struct xlmig__endhold_core *c)
{
    return c->end;
}

const char *xlmig__endhold_core_why(const struct xlmig__endhold_core *c)
{
    return c->state == XLMIG__ENDHOLD_FAILED ? c->why : "";
}

/* ---------------------------------------------------------------- relay */

struct xlmig__endhold {
    libxlmig_ctx *ctx;
    int in_fd, out_fd;
    int wake[2];                /* self-pipe: _abort and _release ring it */
    bool out_sock;              /* written with MSG_DONTWAIT */
    int out_flags;              /* a pipe's flags to restore, or -1 */
    pthread_t tid;
    bool started;
    pthread_mutex_t lock;
    pthread_cond_t cond;        /* any of the flags below changed */
    /* Under lock. */
    bool held;                  /* END held: _wait says 0 */
    bool release_req, release_done;
    int release_rc;
    bool ended;                 /* the thread is gone; rc is final */
    int rc;
    /* Any thread. */
    atomic_bool abort_req;
    _Atomic uint64_t bytes;
    /* The thread's own. */
    struct xlmig__endhold_core core;
    uint8_t buf[XLMIG__ENDHOLD_CHUNK];
};

static void ring(struct xlmig__endhold *h)
{
    ssize_t r;

    do {
        r = write(h->wake[1], "", 1);
    } while (r < 0 && errno == EINTR);
    /* EAGAIN: full, so it is ringing already. */
}

static void drain_wake(struct xlmig__endhold *h)
{
    char junk[64];

    while (read(h->wake[0], junk, sizeof(junk)) > 0)
        ;
}

/*
 * Wait for @events on @fd (none when @fd < 0) or a ring.  1: the fd is
 * ready; 0: a ring that was not an abort (look at the flags again);
 * CANCELLED on abort.
 */
static int wait_ready(struct xlmig__endhold *h, int fd, short events)
{
    struct pollfd p[2] = {
        { .fd = h->wake[0], .events = POLLIN },
        { .fd = fd, .events = events },
    };

    if (atomic_load(&h->abort_req))
        return LIBXLMIG_ERR_CANCELLED;
    if (poll(p, 2, -1) < 0 && errno != EINTR)
        return xlmig__error(h->ctx, LIBXLMIG_ERR_IO, errno,
                            "migration stream relay: poll failed");
    if (p[0].revents)
        drain_wake(h);
    if (atomic_load(&h->abort_req))
        return LIBXLMIG_ERR_CANCELLED;
    return p[1].revents ? 1 : 0;
}

/* Write all of @iov (@n entries, changed) to out_fd; 0, IO, CANCELLED. */
static int put(struct xlmig__endhold *h, struct iovec *iov, int n)
{
    while (n && !iov->iov_len) {
        iov++;
        n--;
    }
    while (n) {
        ssize_t r;

        if (atomic_load(&h->abort_req))
            return LIBXLMIG_ERR_CANCELLED;
        if (h->out_sock) {
            struct msghdr m = { .msg_iov = iov, .msg_iovlen = (size_t)n };

            r = sendmsg(h->out_fd, &m, MSG_DONTWAIT | MSG_NOSIGNAL);
        } else {
            r = writev(h->out_fd, iov, n);
        }
        if (r < 0) {
            int rc;

            if (errno == EINTR)
                continue;
            if (errno != EAGAIN && errno != EWOULDBLOCK)
                return xlmig__error(h->ctx, LIBXLMIG_ERR_IO, errno,
                                    "migration stream relay: writing to "
                                    "the stream channel (fd %d)",
                                    h->out_fd);
            rc = wait_ready(h, h->out_fd, POLLOUT);
            if (rc < 0)
                return rc;
            continue;
        }
        while (n && (size_t)r >= iov->iov_len) {
            r -= (ssize_t)iov->iov_len;
            iov++;
            n--;
        }
        if (n) {
            iov->iov_base = (uint8_t *)iov->iov_base + r;
            iov->iov_len -= (size_t)r;
        }
    }
    return 0;
}

/* Tell the waiters: *@flag is true now, and *@rc_field (if any) @rc. */
static void tell(struct xlmig__endhold *h, bool *flag, int *rc_field, int rc)
{
    pthread_mutex_lock(&h->lock);
    *flag = true;
    if (rc_field)
        *rc_field = rc;
    pthread_cond_broadcast(&h->cond);
    pthread_mutex_unlock(&h->lock);
}

/* The core failed: log why, once. */
static int core_error(struct xlmig__endhold *h)
{
    const char *hint = h->core.end_held
        ? "; END is still held: abort the migration"
        : "; libxl_domain_suspend failed or the stream is not libxl's "
          "(see libxl's log)";

    return xlmig__error(h->ctx, LIBXLMIG_ERR_PROTOCOL, -1,
                        "migration stream relay: %s%s",
                        xlmig__endhold_core_why(&h->core), hint);
}

/*
 * Read, feed the core, write what it says.  Returns 0 to go on, 1 at
 * EOF, or an error; after END, *late_rc_r gets an error that ends the
 * reading but leaves END to release (bytes after it, a read failure).
 */
static int relay_chunk(struct xlmig__endhold *h, int *late_rc_r)
{
    struct xlmig__endhold_out o;
    struct iovec iov[2];
    enum xlmig__endhold_state st;
    ssize_t r;
    int rc;

    r = read(h->in_fd, h->buf, sizeof(h->buf));
    if (r < 0) {
        if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK)
            return 0;
        rc = xlmig__error(h->ctx, LIBXLMIG_ERR_IO, errno,
                          "migration stream relay: reading libxl's stream "
                          "(fd %d)", h->in_fd);
        if (!h->core.end_held)
            return rc;
        *late_rc_r = rc;
        return 0;
    }
    if (r == 0) {
        if (xlmig__endhold_core_eof(&h->core) == XLMIG__ENDHOLD_FAILED &&
            !h->core.end_held)
            return core_error(h);
        return 1;
    }
    atomic_fetch_add(&h->bytes, (uint64_t)r);
    st = xlmig__endhold_core_feed(&h->core, h->buf, (size_t)r, &o);
    iov[0].iov_base = (void *)o.pre;
    iov[0].iov_len = o.pre_len;
    iov[1].iov_base = h->buf;
    iov[1].iov_len = o.len;
    rc = put(h, iov, 2);
    if (rc)
        return rc;
    if (h->core.end_held && !h->held)
        tell(h, &h->held, NULL, 0);
    if (st == XLMIG__ENDHOLD_FAILED) {
        rc = core_error(h);
        if (!h->core.end_held)
            return rc;
        *late_rc_r = rc;
    }
    return 0;
}

/* Write END, on request; 0 or the write's error. */
static int release_end(struct xlmig__endhold *h)
{
    struct iovec iov = { .iov_base = h->core.end,
                         .iov_len = XLMIG__REC_HDR_LEN };
    int rc = put(h, &iov, 1);

    tell(h, &h->release_done, &h->release_rc, rc);
    return rc;
}

static int relay(struct xlmig__endhold *h)
{
    bool eof = false, released = false;
    int late_rc = 0, rc;

    for (;;) {
        bool want;

        if (atomic_load(&h->abort_req))
            return late_rc ? late_rc : LIBXLMIG_ERR_CANCELLED;
        pthread_mutex_lock(&h->lock);
        want = h->release_req && !h->release_done;
        pthread_mutex_unlock(&h->lock);
        if (want) {
            rc = release_end(h);
            if (rc)
                return rc;
            released = true;
        }
        if (released && (eof || late_rc))
            return late_rc;

        if (eof || late_rc) {
            /* Nothing more to read: wait for _release or _abort. */
            rc = wait_ready(h, -1, 0);
        } else {
            rc = wait_ready(h, h->in_fd, POLLIN);
            if (rc == 1)
                rc = relay_chunk(h, &late_rc);
            if (rc == 1) {
                eof = true;
                rc = 0;
            }
        }
        if (rc < 0)
            return late_rc && rc == LIBXLMIG_ERR_CANCELLED ? late_rc : rc;
    }
}

static void *relay_main(void *arg)
{
    struct xlmig__endhold *h = arg;
    sigset_t s;
    int rc;

    /* A reader gone is EPIPE here, not a signal for the whole process
     * (a SIGPIPE left pending goes with the thread). */
    sigemptyset(&s);
    sigaddset(&s, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &s, NULL);

    rc = relay(h);

    tell(h, &h->ended, &h->rc, rc);
    return NULL;
}

/* Free what _start made; the thread is not running. */
static void endhold_free(struct xlmig__endhold *h)
{
    if (h->out_flags >= 0)
        (void)fcntl(h->out_fd, F_SETFL, h->out_flags);
    if (h->wake[0] >= 0)
        close(h->wake[0]);
    if (h->wake[1] >= 0)
        close(h->wake[1]);
    pthread_cond_destroy(&h->cond);
    pthread_mutex_destroy(&h->lock);
    free(h);
}

int xlmig__endhold_start(libxlmig_ctx *ctx, int in_fd, int out_fd,
                         struct xlmig__endhold **h_r)
{
    struct xlmig__endhold *h = NULL;
    pthread_condattr_t ca;
    struct stat sb;
    int rc, fl;

    h = xlmig__zalloc(sizeof(*h));
    if (!h)
        return xlmig__error(ctx, LIBXLMIG_ERR_NO_MEMORY, -1,
                            "migration stream relay: out of memory");
    h->ctx = ctx;
    h->in_fd = in_fd;
    h->out_fd = out_fd;
    h->wake[0] = h->wake[1] = -1;
    h->out_flags = -1;
    atomic_init(&h->abort_req, false);
    atomic_init(&h->bytes, 0);
    xlmig__endhold_core_init(&h->core);
    pthread_mutex_init(&h->lock, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&h->cond, &ca);
    pthread_condattr_destroy(&ca);

    if (fstat(out_fd, &sb)) {
        rc = xlmig__error(ctx, LIBXLMIG_ERR_IO, errno,
                          "migration stream relay: the channel's fd %d",
                          out_fd);
        goto out;
    }
    if (S_ISSOCK(sb.st_mode)) {
        h->out_sock = true;
    } else if (S_ISFIFO(sb.st_mode)) {
        /* A pipe: one direction, so the flag touches no reader of ours. */
        fl = fcntl(out_fd, F_GETFL);
        if (fl >= 0 && !(fl & O_NONBLOCK) &&
            !fcntl(out_fd, F_SETFL, fl | O_NONBLOCK))
            h->out_flags = fl;
    }
    if (pipe2(h->wake, O_CLOEXEC | O_NONBLOCK)) {
        h->wake[0] = h->wake[1] = -1;
        rc = xlmig__error(ctx, LIBXLMIG_ERR_IO, errno,
                          "migration stream relay: cannot make a pipe");
        goto out;
    }
    if (pthread_create(&h->tid, NULL, relay_main, h)) {
        rc = xlmig__error(ctx, LIBXLMIG_ERR_NO_MEMORY, errno,
                          "migration stream relay: cannot start its "
                          "thread");
        goto out;
    }
    h->started = true;

    *h_r = h;
    h = NULL;                   /* the caller owns it now */
    rc = 0;
 out:
    if (h)
        endhold_free(h);
    return rc;
}

int xlmig__endhold_wait(struct xlmig__endhold *h, unsigned int timeout_ms)
{
    struct timespec dl;
    int rc;

    clock_gettime(CLOCK_MONOTONIC, &dl);
    dl.tv_sec += timeout_ms / 1000;
    dl.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (dl.tv_nsec >= 1000000000L) {
        dl.tv_sec++;
        dl.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&h->lock);
    while (!h->held && !h->ended) {
        if (pthread_cond_timedwait(&h->cond, &h->lock, &dl) == ETIMEDOUT)
            break;
    }
    rc = h->held ? 0 : h->ended ? h->rc : LIBXLMIG_ERR_TIMEOUT;
    pthread_mutex_unlock(&h->lock);
    return rc;
}

uint64_t xlmig__endhold_bytes(struct xlmig__endhold *h)
{
    return atomic_load(&h->bytes);
}

int xlmig__endhold_release(struct xlmig__endhold *h)
{
    int rc;

    pthread_mutex_lock(&h->lock);
    if (!h->held) {
        pthread_mutex_unlock(&h->lock);
        return xlmig__error(h->ctx, LIBXLMIG_ERR_INVALID_ARGUMENT, -1,
                            "migration stream relay: END released before "
                            "it was held");
    }
    h->release_req = true;
    ring(h);
    while (!h->release_done && !h->ended)
        pthread_cond_wait(&h->cond, &h->lock);
    rc = h->release_done ? h->release_rc : LIBXLMIG_ERR_CANCELLED;
    pthread_mutex_unlock(&h->lock);
    return rc;
}

void xlmig__endhold_abort(struct xlmig__endhold *h)
{
    if (!h)
        return;
    atomic_store(&h->abort_req, true);
    ring(h);
    pthread_mutex_lock(&h->lock);
    while (h->started && !h->ended)
        pthread_cond_wait(&h->cond, &h->lock);
    pthread_mutex_unlock(&h->lock);
}

int xlmig__endhold_finish(struct xlmig__endhold *h)
{
    int rc;

    if (!h)
        return 0;
    pthread_mutex_lock(&h->lock);
    if (!h->release_done || h->release_rc) {
        /* END not sent: nothing is waited for. */
        atomic_store(&h->abort_req, true);
        ring(h);
    }
    pthread_mutex_unlock(&h->lock);
    if (h->started)
        pthread_join(h->tid, NULL);
    rc = h->rc;
    endhold_free(h);
    return rc;
}

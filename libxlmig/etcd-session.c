/* SPDX-License-Identifier: LGPL-2.1-only */
/*
 * A host's session with the pool's etcd (etcd-session.h): a lease and
 * the thread that renews it.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "etcd-session.h"
#include "internal.h"

struct xlmig__etcd_session {
    libxlmig_ctx *ctx;
    struct xlmig__etcd *e;              /* the thread's own client */
    int64_t lease;
    int64_t ttl_s;
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t cond;                /* stop */
    bool stopping;
    bool lost;
    char why[256];
};

static uint64_t mono_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* Wait @ms or until stopped; the caller holds the lock. */
static void nap_locked(struct xlmig__etcd_session *s, uint64_t ms)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    ts.tv_sec += (time_t)(ms / 1000u);
    ts.tv_nsec += (long)(ms % 1000u) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    while (!s->stopping &&
           pthread_cond_timedwait(&s->cond, &s->lock, &ts) != ETIMEDOUT)
        ;
}

static void *renew_main(void *arg)
{
    struct xlmig__etcd_session *s = arg;
    uint64_t ttl_ms = (uint64_t)s->ttl_s * 1000u;
    uint64_t last_ok = mono_ms();
    struct xlmig__held_error err;

    /* The context's last error is not this thread's to set. */
    xlmig__error_hold(&err);
    pthread_mutex_lock(&s->lock);
    while (!s->stopping && !s->lost) {
        int64_t ttl = 0;
        int rc;

        nap_locked(s, ttl_ms / 3);
        if (s->stopping)
            break;
        pthread_mutex_unlock(&s->lock);
        err.rc = 0;
        rc = xlmig__etcd_lease_keepalive(s->e, s->lease, &ttl);
        pthread_mutex_lock(&s->lock);
        if (!rc && ttl > 0) {
            last_ok = mono_ms();
        } else if (!rc) {
            s->lost = true;
            snprintf(s->why, sizeof(s->why), "etcd says lease %" PRId64
                     " has expired", s->lease);
        } else if (mono_ms() - last_ok >= ttl_ms) {
            s->lost = true;
            snprintf(s->why, sizeof(s->why), "no renewal of lease %" PRId64
                     " got through for %" PRId64 " s: %.150s", s->lease,
                     s->ttl_s, err.rc ? err.msg : "etcd unreachable");
        }
    }
    pthread_mutex_unlock(&s->lock);
    xlmig__error_unhold();
    return NULL;
}

int xlmig__etcd_session_start(libxlmig_ctx *ctx,
                              const struct xlmig__etcd_conf *conf,
                              int64_t ttl_s,
                              struct xlmig__etcd_session **s_r)
{
    struct xlmig__etcd_session *s;
    int rc;

    *s_r = NULL;
    if (ttl_s < XLMIG__ETCD_SESSION_TTL_MIN ||
        ttl_s > XLMIG__ETCD_SESSION_TTL_MAX)
        return xlmig__error(ctx, LIBXLMIG_ERR_INVALID_ARGUMENT, -1,
                            "etcd session: a lease of %" PRId64 " s; %d to "
                            "%d s, given", ttl_s,
                            XLMIG__ETCD_SESSION_TTL_MIN,
                            XLMIG__ETCD_SESSION_TTL_MAX);
    s = xlmig__zalloc(sizeof(*s));
    if (!s)
        return xlmig__error(ctx, LIBXLMIG_ERR_NO_MEMORY, -1,
                            "etcd session: no memory");
    s->ctx = ctx;
    s->ttl_s = ttl_s;
    pthread_mutex_init(&s->lock, NULL);
    {
        pthread_condattr_t ca;

        pthread_condattr_init(&ca);
        pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
        pthread_cond_init(&s->cond, &ca);
        pthread_condattr_destroy(&ca);
    }
    rc = xlmig__etcd_new(ctx, conf, &s->e);
    if (!rc)
        rc = xlmig__etcd_lease_grant(s->e, ttl_s, &s->lease);
    if (!rc && pthread_create(&s->thread, NULL, renew_main, s)) {
        (void)xlmig__etcd_lease_revoke(s->e, s->lease);
        rc = xlmig__error(ctx, LIBXLMIG_ERR_NO_MEMORY, -1, "etcd session: "
                          "no thread to renew lease %" PRId64, s->lease);
    }
    if (rc) {
        xlmig__etcd_free(s->e);
        pthread_cond_destroy(&s->cond);
        pthread_mutex_destroy(&s->lock);
        free(s);
        return rc;
    }
    *s_r = s;
    return 0;
}

int64_t xlmig__etcd_session_lease(const struct xlmig__etcd_session *s)
{
    return s->lease;
}

bool xlmig__etcd_session_alive(struct xlmig__etcd_session *s)
{
    bool alive;

    pthread_mutex_lock(&s->lock);
    alive = !s->lost;
    pthread_mutex_unlock(&s->lock);
    return alive;
}

void xlmig__etcd_session_why(struct xlmig__etcd_session *s, char *buf,
                             size_t len)
{
    pthread_mutex_lock(&s->lock);
    xlmig__strlcpy(buf, s->lost ? s->why : "", len);
    pthread_mutex_unlock(&s->lock);
}

void xlmig__etcd_session_stop(struct xlmig__etcd_session *s, bool revoke)
{
    if (!s)
        return;
    pthread_mutex_lock(&s->lock);
    s->stopping = true;
    pthread_cond_broadcast(&s->cond);
    pthread_mutex_unlock(&s->lock);
    pthread_join(s->thread, NULL);
    if (revoke && !s->lost)
        (void)xlmig__etcd_lease_revoke(s->e, s->lease);
    xlmig__etcd_free(s->e);
    pthread_cond_destroy(&s->cond);
    pthread_mutex_destroy(&s->lock);
    free(s);
}

/* SPDX-License-Identifier: LGPL-2.1-only */
/*
 * xlmigd: the libxlmig host daemon (docs/xlmigd.md).
 *
 * One per host.  The pool master's daemon holds the pool: its members,
 * its settings, the migrations in flight and their slots (at most
 * migration-concurrency at once per source pool, the others waiting in
 * FIFO order, host evacuations in a priority lane).  A member's daemon
 * joins the pool at start and stays attached.  Every connection is TLS
 * 1.3 with the pool's certificates (pool CA) or pre-shared key: only a
 * member can talk; requests are JSON frames (docs/specs/rpc.md).
 *
 * Runs in the foreground (systemd: tools/xlmigd.service, Type=notify);
 * logs to standard error, each line stamped with the time unless that
 * is the journal, which stamps it itself.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <yajl/yajl_gen.h>

#include "cli.h"
#include "internal.h"
#include "diskstream.h"
#include "migrate-check.h"
#include "net.h"
#include "pool-client.h"
#include "poolconf.h"
#include "poolstate.h"
#include "proc.h"
#include "rolling.h"
#include "rpc.h"
#include "slots.h"
#include "sxm.h"
#include "transport.h"
#include "uuid.h"
#include "xlmigd.h"
#include "xlmigd-systemd.h"

#ifdef XLMIGD_FAKE_XEN
/* The test build: the stand-in hypervisor (tests/tools/fake-xen.c). */
extern const struct xlmig__hv_ops xlmig__hv_fake;
#define HV_OPS (&xlmig__hv_fake)
#else
#define HV_OPS (&xlmig__hv_libxl)
#endif

#define ORPHAN_OWNER 0              /* a recovered task nobody holds yet */
#define MAX_CONNS 256
#define WATCH_S 2                   /* host.watch answers at least this
                                     * often: the member's liveness ping */
#define CONFIRM_S 3                 /* host-disable waits this long for an
                                     * attached host to confirm */

static const char usage_text[] =
    "Usage: xlmigd [--config FILE] [--foreground]\n"
    "       xlmigd --check-config [--config FILE]\n"
    "       xlmigd --help | --version\n"
    "       xlmigd --worker KIND ... (started by xlmigd itself)\n"
    "The libxlmig host daemon: pool membership, authenticated RPC and "
    "the\nper-pool migration slots.  One per host; the host whose "
    "address is the\nconfiguration's master holds the pool; every host "
    "serves the destination\nside of storage moves to its SRs.\n"
    "  --config FILE   the pool configuration (default $XLMIG_CONFIG or "
    XLMIG__POOLCONF_DEFAULT ")\n"
    "  --foreground    run in the foreground (the only mode; for systemd "
    "and tests)\n"
    "  --check-config  read and check the configuration, start nothing: "
    "prints\n                  'FILE: ok' (exit 0) or what is wrong "
    "(exit 2)\n"
    "  --help          this text\n"
    "  --version       the version\n";

/* ------------------------------------------------------------------ */
/* The master's state                                                 */
/* ------------------------------------------------------------------ */


static struct {
    pthread_mutex_t lock;
    pthread_cond_t cond;            /* a grant, a cancel, a change */
    struct xlmig__pool_conf conf;
    struct xlmig__pool_state st;
    struct xlmig__slots *slots;
    uint64_t next_task;
    uint64_t next_owner;
    /* For tests and benchmarks: how the slots were served. */
    unsigned held_max;
    uint64_t grants;
    uint64_t last_normal_grant;     /* FIFO check within the normal lane */
    uint64_t out_of_order;
    time_t started;
    libxlmig_ctx *ctx;              /* the main thread's */
    bool is_master;
    /*
     * The master: which enabled flag each host watching it (host.watch,
     * one entry per connection) last said it knows.
     */
    struct watcher {
        uint64_t owner;             /* the connection; 0: entry unused */
        char name[XLMIG__POOL_NAME_MAX + 1];
        bool known;
    } watchers[MAX_CONNS];
    /*
     * A member: this host's flag as its master last told it; enabled
     * until the master has said anything since this daemon started.
     */
    bool here_enabled;
    /* A member: whether the master last said the pool is mid-upgrade. */
    bool here_rolling;
} M = { .here_enabled = true, .lock = PTHREAD_MUTEX_INITIALIZER,
        .cond = PTHREAD_COND_INITIALIZER };

volatile sig_atomic_t xlmigd_stopping;

void xlmigd_log(const char *fmt, ...)
{
    va_list ap;
    char ts[32];
    time_t now = time(NULL);
    struct tm tm;

    if (!xlmigd_stderr_is_journal()) {
        localtime_r(&now, &tm);
        strftime(ts, sizeof(ts), "%H:%M:%S", &tm);
        fprintf(stderr, "xlmigd %s: ", ts);
    }
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

/* Save the state; on failure log it (the change stays in memory). */
static int save_locked(libxlmig_ctx *ctx)
{
    int rc = xlmig__pool_state_save(ctx, M.conf.state_dir, &M.st);

    if (rc)
        xlmigd_log("cannot save the pool state: %s",
               libxlmig_ctx_last_error(ctx));
    return rc;
}

/* Book-keeping after grants; the caller holds the lock. */
static void note_grants_locked(const uint64_t *ids, size_t n)
{
    unsigned held;
    size_t i;

    for (i = 0; i < n; i++) {
        struct xlmig__pool_task *t = xlmig__pool_task_find(&M.st, ids[i]);

        M.grants++;
        if (t) {
            if (!t->priority) {
                if (ids[i] < M.last_normal_grant)
                    M.out_of_order++;
                M.last_normal_grant = ids[i];
            }
            snprintf(t->phase, sizeof(t->phase), "running");
        }
    }
    xlmig__slots_stats(M.slots, &held, NULL, NULL);
    if (held > M.held_max)
        M.held_max = held;
    if (n)
        pthread_cond_broadcast(&M.cond);
}

/* Forget task @id: its slot or queue entry, its record. */
static void task_end_locked(libxlmig_ctx *ctx, uint64_t id)
{
    uint64_t granted[XLMIG__SLOTS_GRANT_MAX];
    size_t n = xlmig__slots_release(M.slots, id, granted,
                                    XLMIG__SLOTS_GRANT_MAX, NULL);

    (void)xlmig__pool_task_remove(NULL, &M.st, id);
    note_grants_locked(granted, n);
    save_locked(ctx);
    pthread_cond_broadcast(&M.cond);
}

/* ------------------------------------------------------------------ */
/* Replies                                                            */
/* ------------------------------------------------------------------ */

static int send_text(struct conn *c, char *json, size_t len)
{
    int rc;

    pthread_mutex_lock(&c->wlock);
    rc = xlmig__rpc_write_frame(c->ctx, c->t, json, len);
    pthread_mutex_unlock(&c->wlock);
    free(json);
    return rc;
}

int xlmigd_reply_error(struct conn *c, uint64_t id, int rc, const char *msg,
                       const char *param)
{
    const char *params[1] = { param };
    char *json = NULL;
    size_t len = 0;

    if (xlmig__rpc_encode_error(id, rc, msg, params, param ? 1 : 0, &json,
                                &len))
        return LIBXLMIG_ERR_INTERNAL;
    return send_text(c, json, len);
}

int xlmigd_finish_reply(struct conn *c, yajl_gen g)
{
    char *json = NULL;
    size_t len = 0;
    int rc = xlmig__rpc_gen_finish(g, &json, &len);

    if (rc) return rc;
    return send_text(c, json, len);
}

#define GSTR(g, s) \
    yajl_gen_string((g), (const unsigned char *)(s), strlen(s))

void xlmigd_gen_kv_str(yajl_gen g, const char *k, const char *v)
{
    GSTR(g, k);
    GSTR(g, v);
}

void xlmigd_gen_kv_uint(yajl_gen g, const char *k, uint64_t v)
{
    GSTR(g, k);
    yajl_gen_integer(g, (long long)v);
}

int xlmigd_reply_ok(struct conn *c, uint64_t id)
{
    yajl_gen g = xlmig__rpc_gen_result(id);

    if (!g) return LIBXLMIG_ERR_NO_MEMORY;
    yajl_gen_map_open(g);
    yajl_gen_map_close(g);
    return xlmigd_finish_reply(c, g);
}

static void gen_task(yajl_gen g, const struct xlmig__pool_task *t,
                     const char *state)
{
    yajl_gen_map_open(g);
    xlmigd_gen_kv_uint(g, "id", t->id);
    xlmigd_gen_kv_str(g, "vm", t->vm);
    xlmigd_gen_kv_str(g, "source", t->source);
    xlmigd_gen_kv_str(g, "destination", t->destination);
    xlmigd_gen_kv_str(g, "phase", t->phase);
    xlmigd_gen_kv_uint(g, "progress", t->progress);
    xlmigd_gen_kv_str(g, "state", state);
    GSTR(g, "priority");
    yajl_gen_bool(g, t->priority);
    xlmigd_gen_kv_uint(g, "created", (uint64_t)t->created);
    /* vm-migrate tasks by their uuid; slot-run's by the number. */
    {
        char id[24];

        snprintf(id, sizeof(id), "%" PRIu64, t->id);
        xlmigd_gen_kv_str(g, "uuid", t->uuid[0] ? t->uuid : id);
    }
    yajl_gen_map_close(g);
}

/* ------------------------------------------------------------------ */
/* Methods                                                            */
/* ------------------------------------------------------------------ */

/* A required string parameter; replies the error itself when missing. */
const char *xlmigd_need_str(struct conn *c, const struct xlmig__rpc_msg *m,
                            const char *key)
{
    const char *v = xlmig__rpc_get_str(m->params, key);
    char msg[160];

    if (!v) {
        snprintf(msg, sizeof(msg), "%s: parameter '%s' (a string) is "
                 "missing", m->method, key);
        xlmigd_reply_error(c, m->id, LIBXLMIG_ERR_INVALID_ARGUMENT, msg, key);
    }
    return v;
}

static int m_hello(struct conn *c, const struct xlmig__rpc_msg *m)
{
    const char *uuid = xlmigd_need_str(c, m, "pool_uuid");
    yajl_gen g;

    if (!uuid) return 0;
    if (strcmp(uuid, M.conf.pool_uuid)) {
        char msg[200];

        snprintf(msg, sizeof(msg), "this is pool %s, not %.40s",
                 M.conf.pool_uuid, uuid);
        return xlmigd_reply_error(c, m->id, LIBXLMIG_ERR_PERMISSION_DENIED, msg,
                           NULL);
    }
    g = xlmig__rpc_gen_result(m->id);
    if (!g) return LIBXLMIG_ERR_NO_MEMORY;
    yajl_gen_map_open(g);
    xlmigd_gen_kv_str(g, "pool_uuid", M.conf.pool_uuid);
    xlmigd_gen_kv_str(g, "pool_name", M.conf.pool_name);
    xlmigd_gen_kv_str(g, "master", M.is_master ? M.conf.name : M.conf.master);
    xlmigd_gen_kv_uint(g, "version", XLMIG__RPC_VERSION);
    yajl_gen_map_close(g);
    return xlmigd_finish_reply(c, g);
}

static int m_pool_join(struct conn *c, const struct xlmig__rpc_msg *m)
{
    const char *name = xlmigd_need_str(c, m, "name");
    const char *addr = name ? xlmigd_need_str(c, m, "address") : NULL;
    struct xlmig__pool_member *mem;
    int rc;

    if (!addr) return 0;
    pthread_mutex_lock(&M.lock);
    mem = xlmig__pool_member_find(&M.st, name);
    if (mem && !strcmp(mem->address, addr)) {
        rc = 0;                 /* already a member: a rejoin */
    } else if (M.st.rolling_upgrading) {
        rc = xlmig__rolling_refuse(c->ctx, "pool.join", name);
    } else if (mem) {
        rc = xlmig__error(c->ctx, LIBXLMIG_ERR_INVALID_ARGUMENT, -1,
                          "host %s is a member already, at %s; eject it "
                          "first", name, mem->address);
    } else {
        rc = xlmig__pool_member_add(c->ctx, &M.st, name, addr,
                                    (int64_t)time(NULL));
        if (!rc) {
            rc = save_locked(c->ctx);
            if (rc)
                (void)xlmig__pool_member_remove(NULL, &M.st, name);
            else
                xlmigd_log("host %s (%s) joined the pool", name, addr);
        }
    }
    pthread_mutex_unlock(&M.lock);
    if (rc)
        return xlmigd_reply_error(c, m->id, rc, libxlmig_ctx_last_error(c->ctx),
                           NULL);
    return xlmigd_reply_ok(c, m->id);
}

static int m_pool_eject(struct conn *c, const struct xlmig__rpc_msg *m)
{
    const char *name = xlmigd_need_str(c, m, "name");
    int rc;

    if (!name) return 0;
    if (!strcmp(name, M.conf.name))
        return xlmigd_reply_error(c, m->id, LIBXLMIG_ERR_INVALID_ARGUMENT,
                           "the master cannot eject itself", NULL);
    pthread_mutex_lock(&M.lock);
    rc = xlmig__pool_member_remove(c->ctx, &M.st, name);
    if (!rc)
        rc = save_locked(c->ctx);
    pthread_mutex_unlock(&M.lock);
    if (rc)
        return xlmigd_reply_error(c, m->id, rc, libxlmig_ctx_last_error(c->ctx),
                           name);
    xlmigd_log("host %s was ejected from the pool", name);
    return xlmigd_reply_ok(c, m->id);
}

static int m_host_list(struct conn *c, const struct xlmig__rpc_msg *m)
{
    yajl_gen g = xlmig__rpc_gen_result(m->id);
    size_t i;

    if (!g) return LIBXLMIG_ERR_NO_MEMORY;
    yajl_gen_array_open(g);
    pthread_mutex_lock(&M.lock);
    for (i = 0; i < M.st.nr_members; i++) {
        yajl_gen_map_open(g);
        xlmigd_gen_kv_str(g, "name", M.st.members[i].name);
        xlmigd_gen_kv_str(g, "address", M.st.members[i].address);
        xlmigd_gen_kv_uint(g, "joined", (uint64_t)M.st.members[i].joined);
        GSTR(g, "master");
        yajl_gen_bool(g, !strcmp(M.st.members[i].name, M.conf.name));
        GSTR(g, "enabled");
        yajl_gen_bool(g, M.st.members[i].enabled);
        yajl_gen_map_close(g);
    }
    pthread_mutex_unlock(&M.lock);
    yajl_gen_array_close(g);
    return xlmigd_finish_reply(c, g);
}

static int m_param_get(struct conn *c, const struct xlmig__rpc_msg *m)
{
    const char *key = xlmigd_need_str(c, m, "key");
    char val[XLMIG__POOL_PARAM_VALUE_MAX];
    yajl_gen g;
    int rc;

    if (!key) return 0;
    pthread_mutex_lock(&M.lock);
    rc = xlmig__pool_param_get(c->ctx, &M.st, key, val, sizeof(val));
    pthread_mutex_unlock(&M.lock);
    if (rc)
        return xlmigd_reply_error(c, m->id, rc, libxlmig_ctx_last_error(c->ctx),
                           key);
    g = xlmig__rpc_gen_result(m->id);
    if (!g) return LIBXLMIG_ERR_NO_MEMORY;
    GSTR(g, val);
    return xlmigd_finish_reply(c, g);
}

static int m_param_set(struct conn *c, const struct xlmig__rpc_msg *m)
{
    const char *key = xlmigd_need_str(c, m, "key");
    const char *val = key ? xlmigd_need_str(c, m, "value") : NULL;
    struct xlmig__pool_state copy;
    int rc;

    if (!val) return 0;
    xlmig__pool_state_init(&copy);
    pthread_mutex_lock(&M.lock);
    rc = xlmig__pool_state_copy(c->ctx, &copy, &M.st);
    if (!rc)
        rc = xlmig__pool_param_set(c->ctx, &M.st, key, val);
    if (!rc) {
        rc = save_locked(c->ctx);
        if (rc) {
            (void)xlmig__pool_state_copy(NULL, &M.st, &copy);
        } else if (M.st.concurrency != copy.concurrency) {
            uint64_t granted[XLMIG__SLOTS_GRANT_MAX];
            size_t n = 0;

            (void)xlmig__slots_set_limit(M.slots, M.st.concurrency, granted,
                                         XLMIG__SLOTS_GRANT_MAX, &n);
            note_grants_locked(granted, n);
            xlmigd_log("migration-concurrency is now %u (%zu waiting "
                   "migrations let in)", M.st.concurrency, n);
        } else if (!strncmp(key, "wlb-", 4)) {
            xlmigd_log("%s is now '%s'", key, val);
        }
    }
    pthread_mutex_unlock(&M.lock);
    xlmig__pool_state_dispose(&copy);
    if (rc)
        return xlmigd_reply_error(c, m->id, rc, libxlmig_ctx_last_error(c->ctx),
                           key);
    return xlmigd_reply_ok(c, m->id);
}

/* Wait on @cond (its @lock held) for a change, or 200 ms. */
static void wait_a_while(pthread_cond_t *cond, pthread_mutex_t *lock)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_nsec += 200000000;
    if (ts.tv_nsec >= 1000000000) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000;
    }
    pthread_cond_timedwait(cond, lock, &ts);
}

/* Is the client still there?  (It may have died while it waited.) */
bool xlmigd_peer_gone(int fd)
{
    struct pollfd p = { .fd = fd, .events = POLLRDHUP };

    return poll(&p, 1, 0) > 0 &&
           (p.revents & (POLLRDHUP | POLLHUP | POLLERR | POLLNVAL));
}

/* Is pool member @name enabled?  (Not a member: nothing disables it.) */
static bool member_enabled_locked(const char *name)
{
    struct xlmig__pool_member *mem = xlmig__pool_member_find(&M.st, name);

    return !mem || mem->enabled;
}

/*
 * Does every host @name that watches (host.watch) know @enabled?  Waits
 * up to CONFIRM_S for them to say so; true when none watches.
 */
static bool watchers_confirm_locked(const char *name, bool enabled)
{
    double until = xlmig__now_s() + CONFIRM_S;

    for (;;) {
        bool all = true;
        size_t i;

        for (i = 0; i < MAX_CONNS; i++) {
            if (M.watchers[i].owner && !strcmp(M.watchers[i].name, name) &&
                M.watchers[i].known != enabled)
                all = false;
        }
        if (all)
            return true;
        if (xlmigd_stopping || xlmig__now_s() >= until)
            return false;
        wait_a_while(&M.cond, &M.lock);
    }
}

/*
 * host.disable / host.enable: the flag saved before the answer; an
 * attached host has confirmed it too (up to CONFIRM_S), so that when the
 * operator's command returns, the host refuses (or takes) VMs itself.
 */
static int host_set_enabled(struct conn *c, const struct xlmig__rpc_msg *m,
                            bool enabled)
{
    const char *name = xlmigd_need_str(c, m, "name");
    bool changed = false, confirmed = true;
    int rc;

    if (!name) return 0;
    pthread_mutex_lock(&M.lock);
    rc = xlmig__pool_member_set_enabled(c->ctx, &M.st, name, enabled,
                                        &changed);
    if (!rc && changed) {
        rc = save_locked(c->ctx);
        if (rc)
            (void)xlmig__pool_member_set_enabled(NULL, &M.st, name,
                                                 !enabled, NULL);
    }
    if (!rc && changed) {
        pthread_cond_broadcast(&M.cond);    /* host.watch answers */
        confirmed = watchers_confirm_locked(name, enabled);
    }
    pthread_mutex_unlock(&M.lock);
    if (rc)
        return xlmigd_reply_error(c, m->id, rc,
                                  libxlmig_ctx_last_error(c->ctx), name);
    if (changed)
        xlmigd_log("host %s %s by %s%s%s", name,
                   enabled ? "enabled" : "disabled", c->peer,
                   enabled ? "" : ": no VM may start or arrive there until "
                                  "host-enable",
                   confirmed ? "" : "; the host has not confirmed it yet "
                                    "and learns it when it reaches the "
                                    "master again");
    return xlmigd_reply_ok(c, m->id);
}

static int m_host_disable(struct conn *c, const struct xlmig__rpc_msg *m)
{
    return host_set_enabled(c, m, false);
}

static int m_host_enable(struct conn *c, const struct xlmig__rpc_msg *m)
{
    return host_set_enabled(c, m, true);
}

/*
 * A member's long poll: "name" is the member, "enabled" (optional) the
 * flag it knows.  Answered with its flag at once when it knows none or
 * another, else when the flag changes or after WATCH_S (the member's
 * sign that the master lives).
 */
static int m_host_watch(struct conn *c, const struct xlmig__rpc_msg *m)
{
    const char *name = xlmigd_need_str(c, m, "name");
    double until = xlmig__now_s() + WATCH_S;
    bool known = true, has_known, on, rolling, known_rolling = false;
    bool has_rolling;
    struct watcher *w = NULL;
    yajl_gen g;
    size_t i;

    if (!name) return 0;
    has_known = !xlmig__rpc_get_bool(m->params, "enabled", &known);
    has_rolling = !xlmig__rpc_get_bool(m->params, "rolling_upgrade",
                                       &known_rolling);
    pthread_mutex_lock(&M.lock);
    for (i = 0; i < MAX_CONNS && !w; i++) {
        if (M.watchers[i].owner == c->owner)
            w = &M.watchers[i];
    }
    for (i = 0; i < MAX_CONNS && !w; i++) {
        if (!M.watchers[i].owner)
            w = &M.watchers[i];
    }
    if (w && has_known) {
        w->owner = c->owner;
        xlmig__strlcpy(w->name, name, sizeof(w->name));
        w->known = known;
        pthread_cond_broadcast(&M.cond);    /* host-disable waits */
    }
    for (;;) {
        on = member_enabled_locked(name);
        rolling = M.st.rolling_upgrading;
        if (!has_known || on != known ||
            (has_rolling && rolling != known_rolling) || xlmigd_stopping ||
            xlmig__now_s() >= until || xlmigd_peer_gone(c->fd))
            break;
        wait_a_while(&M.cond, &M.lock);
    }
    pthread_mutex_unlock(&M.lock);
    g = xlmig__rpc_gen_result(m->id);
    if (!g) return LIBXLMIG_ERR_NO_MEMORY;
    yajl_gen_map_open(g);
    GSTR(g, "enabled");
    yajl_gen_bool(g, on);
    GSTR(g, "rolling_upgrade");
    yajl_gen_bool(g, rolling);
    yajl_gen_map_close(g);
    return xlmigd_finish_reply(c, g);
}

bool xlmigd_pool_upgrading(void)
{
    bool on;

    pthread_mutex_lock(&M.lock);
    on = M.is_master ? M.st.rolling_upgrading : M.here_rolling;
    pthread_mutex_unlock(&M.lock);
    return on;
}

/* pool.rolling_get: the rolling upgrade's state (libxlmig/rolling.h). */
static int m_rolling_get(struct conn *c, const struct xlmig__rpc_msg *m)
{
    bool on;
    char held[XLMIG__POOL_NAME_MAX + 1];
    yajl_gen g;

    pthread_mutex_lock(&M.lock);
    on = M.st.rolling_upgrading;
    xlmig__strlcpy(held, M.st.rolling_held, sizeof(held));
    pthread_mutex_unlock(&M.lock);
    g = xlmig__rpc_gen_result(m->id);
    if (!g) return LIBXLMIG_ERR_NO_MEMORY;
    yajl_gen_map_open(g);
    GSTR(g, "upgrading");
    yajl_gen_bool(g, on);
    xlmigd_gen_kv_str(g, "held", held);
    yajl_gen_map_close(g);
    return xlmigd_finish_reply(c, g);
}

/*
 * pool.rolling_set: "upgrading" (bool) and "held" (a host's name or "")
 * saved before the answer; the pool's hosts learn the mark through
 * host.watch.
 */
static int m_rolling_set(struct conn *c, const struct xlmig__rpc_msg *m)
{
    const char *held = xlmig__rpc_get_str(m->params, "held");
    bool on, was;
    char was_held[XLMIG__POOL_NAME_MAX + 1];
    int rc;

    if (xlmig__rpc_get_bool(m->params, "upgrading", &on) || !held)
        return xlmigd_reply_error(c, m->id, LIBXLMIG_ERR_INVALID_ARGUMENT,
                                  "pool.rolling_set needs \"upgrading\" "
                                  "(true or false) and \"held\" (a host's "
                                  "name, or \"\")", NULL);
    pthread_mutex_lock(&M.lock);
    was = M.st.rolling_upgrading;
    xlmig__strlcpy(was_held, M.st.rolling_held, sizeof(was_held));
    if (held[0] && strcmp(held, M.conf.name) &&
        !xlmig__pool_member_find(&M.st, held)) {
        rc = xlmig__error(c->ctx, LIBXLMIG_ERR_NOT_FOUND, -1,
                          "pool.rolling_set: host %.64s is not in pool %s",
                          held, M.st.name);
    } else {
        M.st.rolling_upgrading = on;
        xlmig__strlcpy(M.st.rolling_held, held, sizeof(M.st.rolling_held));
        rc = 0;
    }
    if (!rc)
        rc = save_locked(c->ctx);
    if (rc) {
        M.st.rolling_upgrading = was;
        xlmig__strlcpy(M.st.rolling_held, was_held, sizeof(M.st.rolling_held));
    } else if (on != was) {
        pthread_cond_broadcast(&M.cond);    /* host.watch answers */
    }
    pthread_mutex_unlock(&M.lock);
    if (rc)
        return xlmigd_reply_error(c, m->id, rc,
                                  libxlmig_ctx_last_error(c->ctx), NULL);
    if (on != was)
        xlmigd_log("%s by %s", on ? "the pool is mid-upgrade (a rolling "
                   "pool upgrade began): pool-join and vm-register are "
                   "refused, vm-start only on upgraded hosts"
                   : "the pool is no longer mid-upgrade", c->peer);
    return xlmigd_reply_ok(c, m->id);
}

int xlmigd_host_check_enabled(libxlmig_ctx *ctx, const char *vm,
                              const char *verb)
{
    bool on;

    pthread_mutex_lock(&M.lock);
    on = M.is_master ? member_enabled_locked(M.conf.name) : M.here_enabled;
    pthread_mutex_unlock(&M.lock);
    if (on)
        return 0;
    return xlmig__mig_host_disabled(ctx, M.conf.name, vm, verb);
}

static int m_slot_acquire(struct conn *c, const struct xlmig__rpc_msg *m)
{
    const char *vm = xlmigd_need_str(c, m, "vm");
    const char *src = vm ? xlmigd_need_str(c, m, "source") : NULL;
    const char *dst = src ? xlmigd_need_str(c, m, "destination") : NULL;
    struct xlmig__pool_task t;
    bool wait = true, prio = false, sent_queued = false;
    unsigned pos = 0;
    char lim[16];
    int r, rc = 0;
    yajl_gen g;

    if (!dst) return 0;
    (void)xlmig__rpc_get_bool(m->params, "wait", &wait);
    (void)xlmig__rpc_get_bool(m->params, "priority", &prio);
    memset(&t, 0, sizeof(t));
    xlmig__strlcpy(t.vm, vm, sizeof(t.vm));
    xlmig__strlcpy(t.source, src, sizeof(t.source));
    xlmig__strlcpy(t.destination, dst, sizeof(t.destination));
    xlmig__strlcpy(t.phase, "queued", sizeof(t.phase));
    {
        const char *u = xlmig__rpc_get_str(m->params, "uuid");

        if (u && !xlmig__uuid_ok(u))
            return xlmigd_reply_error(c, m->id, LIBXLMIG_ERR_INVALID_ARGUMENT,
                                      "slot.acquire: uuid is not a uuid",
                                      "uuid");
        xlmig__strlcpy(t.uuid, u ? u : "", sizeof(t.uuid));
    }
    t.created = (int64_t)time(NULL);
    t.priority = prio;

    pthread_mutex_lock(&M.lock);
    if (!member_enabled_locked(dst)) {
        pthread_mutex_unlock(&M.lock);
        rc = xlmig__mig_host_disabled(c->ctx, dst, vm, "arrive");
        return xlmigd_reply_error(c, m->id, rc,
                                  libxlmig_ctx_last_error(c->ctx), dst);
    }
    t.id = ++M.next_task;
    rc = xlmig__pool_task_add(c->ctx, &M.st, &t);
    if (rc) {
        pthread_mutex_unlock(&M.lock);
        return xlmigd_reply_error(c, m->id, rc, libxlmig_ctx_last_error(c->ctx),
                           NULL);
    }
    r = xlmig__slots_request(M.slots, t.id, c->owner, prio, wait, &pos);
    if (r < 0) {
        (void)xlmig__pool_task_remove(NULL, &M.st, t.id);
        snprintf(lim, sizeof(lim), "%u", M.st.concurrency);
        pthread_mutex_unlock(&M.lock);
        return xlmigd_reply_error(c, m->id, r,
                           r == LIBXLMIG_ERR_TOO_MANY_MIGRATIONS
                           ? "no migration slot of this pool is free now "
                             "and the caller asked not to wait" : NULL,
                           r == LIBXLMIG_ERR_TOO_MANY_MIGRATIONS ? lim
                                                                 : NULL);
    }
    if (r == XLMIG__SLOT_GRANTED)
        note_grants_locked(&t.id, 1);
    save_locked(c->ctx);
    /* Wait for the grant, telling the client where it stands. */
    while (r == XLMIG__SLOT_QUEUED) {
        struct xlmig__slot_info info;

        if (xlmig__slots_find(M.slots, t.id, &info)) {
            rc = LIBXLMIG_ERR_CANCELLED;    /* task-cancel took it out */
            break;
        }
        if (info.held)
            break;
        if (!member_enabled_locked(dst)) {
            rc = LIBXLMIG_ERR_HOST_DISABLED;
            break;
        }
        if (!sent_queued || info.position != pos) {
            pos = info.position;
            sent_queued = true;
            pthread_mutex_unlock(&M.lock);
            g = xlmig__rpc_gen_event("slot.queued");
            if (g) {
                xlmigd_gen_kv_uint(g, "task", t.id);
                xlmigd_gen_kv_uint(g, "position", pos);
                if (xlmigd_finish_reply(c, g))
                    rc = LIBXLMIG_ERR_IO;
            }
            pthread_mutex_lock(&M.lock);
            if (rc) break;
            continue;
        }
        if (xlmigd_stopping || xlmigd_peer_gone(c->fd)) {
            rc = LIBXLMIG_ERR_IO;
            break;
        }
        wait_a_while(&M.cond, &M.lock);
    }
    /* Disabled while it waited: it goes no further. */
    if ((!rc && !member_enabled_locked(dst)) ||
        rc == LIBXLMIG_ERR_HOST_DISABLED)
        rc = xlmig__mig_host_disabled(c->ctx, dst, vm, "arrive");
    if (rc) {
        if (xlmig__pool_task_find(&M.st, t.id))
            task_end_locked(c->ctx, t.id);
        pthread_mutex_unlock(&M.lock);
        if (rc == LIBXLMIG_ERR_CANCELLED)
            return xlmigd_reply_error(c, m->id, rc, "the migration was cancelled "
                               "while it waited for a slot", NULL);
        if (rc == LIBXLMIG_ERR_HOST_DISABLED)
            return xlmigd_reply_error(c, m->id, rc,
                                      libxlmig_ctx_last_error(c->ctx), dst);
        return rc;
    }
    pthread_mutex_unlock(&M.lock);
    g = xlmig__rpc_gen_result(m->id);
    if (!g) return LIBXLMIG_ERR_NO_MEMORY;
    yajl_gen_map_open(g);
    xlmigd_gen_kv_uint(g, "task", t.id);
    yajl_gen_map_close(g);
    return xlmigd_finish_reply(c, g);
}

/* A task this connection may act on: its own, or (cancel) any. */
static int task_param(struct conn *c, const struct xlmig__rpc_msg *m,
                      uint64_t *id)
{
    if (xlmig__rpc_get_uint(m->params, "task", id)) {
        xlmigd_reply_error(c, m->id, LIBXLMIG_ERR_INVALID_ARGUMENT,
                    "parameter 'task' (a task id) is missing or not a "
                    "number", "task");
        return -1;
    }
    return 0;
}

static int m_slot_release(struct conn *c, const struct xlmig__rpc_msg *m)
{
    struct xlmig__slot_info info;
    uint64_t id;

    if (task_param(c, m, &id)) return 0;
    pthread_mutex_lock(&M.lock);
    if (!xlmig__pool_task_find(&M.st, id) ||
        (!xlmig__slots_find(M.slots, id, &info) && info.owner != c->owner &&
         info.owner != ORPHAN_OWNER)) {
        pthread_mutex_unlock(&M.lock);
        return xlmigd_reply_error(c, m->id, LIBXLMIG_ERR_NOT_FOUND,
                           "no such migration task of this connection",
                           NULL);
    }
    task_end_locked(c->ctx, id);
    pthread_mutex_unlock(&M.lock);
    return xlmigd_reply_ok(c, m->id);
}

/* After a master restart: the holder of task @id comes back for it. */
static int m_slot_resume(struct conn *c, const struct xlmig__rpc_msg *m)
{
    struct xlmig__slot_info info;
    uint64_t id, granted[XLMIG__SLOTS_GRANT_MAX];
    size_t n;
    bool prio;
    int rc;

    if (task_param(c, m, &id)) return 0;
    pthread_mutex_lock(&M.lock);
    rc = xlmig__slots_find(M.slots, id, &info);
    if (rc || info.owner != ORPHAN_OWNER || !info.held) {
        pthread_mutex_unlock(&M.lock);
        return xlmigd_reply_error(c, m->id, LIBXLMIG_ERR_NOT_FOUND,
                           "no recovered migration task with that id",
                           NULL);
    }
    /* Hand the slot over: release and take it again at once. */
    prio = info.priority;
    n = xlmig__slots_release(M.slots, id, granted, 0, NULL);
    (void)n;
    rc = xlmig__slots_request(M.slots, id, c->owner, prio, false, NULL);
    if (rc) {
        n = xlmig__slots_grant_free(M.slots, granted, XLMIG__SLOTS_GRANT_MAX);
        note_grants_locked(granted, n);
        (void)xlmig__pool_task_remove(NULL, &M.st, id);
        save_locked(c->ctx);
        pthread_mutex_unlock(&M.lock);
        return xlmigd_reply_error(c, m->id, rc, "the slot was given away", NULL);
    }
    pthread_mutex_unlock(&M.lock);
    return xlmigd_reply_ok(c, m->id);
}

static int m_task_update(struct conn *c, const struct xlmig__rpc_msg *m)
{
    uint64_t id, progress = 0;
    const char *phase;
    int rc;

    if (task_param(c, m, &id)) return 0;
    phase = xlmig__rpc_get_str(m->params, "phase");
    (void)xlmig__rpc_get_uint(m->params, "progress", &progress);
    pthread_mutex_lock(&M.lock);
    rc = xlmig__pool_task_update(c->ctx, &M.st, id, phase,
                                 progress > 100 ? 101u : (unsigned)progress);
    pthread_mutex_unlock(&M.lock);
    if (rc)
        return xlmigd_reply_error(c, m->id, rc, libxlmig_ctx_last_error(c->ctx),
                           NULL);
    return xlmigd_reply_ok(c, m->id);
}

static int m_task_list(struct conn *c, const struct xlmig__rpc_msg *m)
{
    yajl_gen g = xlmig__rpc_gen_result(m->id);
    size_t i;

    if (!g) return LIBXLMIG_ERR_NO_MEMORY;
    yajl_gen_array_open(g);
    pthread_mutex_lock(&M.lock);
    for (i = 0; i < M.st.nr_tasks; i++) {
        struct xlmig__slot_info info;
        const char *state = "unknown";

        if (!xlmig__slots_find(M.slots, M.st.tasks[i].id, &info))
            state = info.held ? (info.owner == ORPHAN_OWNER ? "recovered"
                                                            : "running")
                              : "queued";
        gen_task(g, &M.st.tasks[i], state);
    }
    pthread_mutex_unlock(&M.lock);
    yajl_gen_array_close(g);
    return xlmigd_finish_reply(c, g);
}

static int m_task_cancel(struct conn *c, const struct xlmig__rpc_msg *m)
{
    const char *uuid = xlmig__rpc_get_str(m->params, "uuid");
    uint64_t id = 0;
    size_t i;

    if (uuid) {
        /* A vm-migrate task, named by its uuid. */
        pthread_mutex_lock(&M.lock);
        for (i = 0; i < M.st.nr_tasks; i++) {
            if (!strcmp(M.st.tasks[i].uuid, uuid))
                id = M.st.tasks[i].id;
        }
        pthread_mutex_unlock(&M.lock);
        if (!id)
            return xlmigd_reply_error(c, m->id, LIBXLMIG_ERR_NOT_FOUND,
                                      "no migration task with that uuid in "
                                      "this pool", uuid);
    } else if (task_param(c, m, &id)) {
        return 0;
    }
    pthread_mutex_lock(&M.lock);
    if (!xlmig__pool_task_find(&M.st, id)) {
        pthread_mutex_unlock(&M.lock);
        return xlmigd_reply_error(c, m->id, LIBXLMIG_ERR_NOT_FOUND,
                           "no migration task with that id", NULL);
    }
    task_end_locked(c->ctx, id);
    pthread_mutex_unlock(&M.lock);
    xlmigd_log("task %" PRIu64 " cancelled by %s", id, c->peer);
    return xlmigd_reply_ok(c, m->id);
}

static int m_pool_stats(struct conn *c, const struct xlmig__rpc_msg *m)
{
    yajl_gen g = xlmig__rpc_gen_result(m->id);
    unsigned held, queued, limit;

    if (!g) return LIBXLMIG_ERR_NO_MEMORY;
    pthread_mutex_lock(&M.lock);
    xlmig__slots_stats(M.slots, &held, &queued, &limit);
    yajl_gen_map_open(g);
    xlmigd_gen_kv_uint(g, "held", held);
    xlmigd_gen_kv_uint(g, "queued", queued);
    xlmigd_gen_kv_uint(g, "limit", limit);
    xlmigd_gen_kv_uint(g, "held_max", M.held_max);
    xlmigd_gen_kv_uint(g, "grants", M.grants);
    xlmigd_gen_kv_uint(g, "out_of_order", M.out_of_order);
    yajl_gen_map_close(g);
    pthread_mutex_unlock(&M.lock);
    return xlmigd_finish_reply(c, g);
}

static int m_ping(struct conn *c, const struct xlmig__rpc_msg *m)
{
    return xlmigd_reply_ok(c, m->id);
}

/* ------------------------------------------------------------------ */
/* Storage motion: the destination side (docs/specs/sxm.md)           */
/* ------------------------------------------------------------------ */

/*
 * A lease file STATE/sxm/TASK.lease marks a destination this daemon
 * serves for a connected source.  The connection's end cancels it; a
 * daemon that starts again cancels those its last run left (their
 * sources lost the connection with it).
 */
static void lease_path(const char *task, char *path, size_t cap)
{
    snprintf(path, cap, "%s/sxm/%s.lease", M.conf.state_dir, task);
}

static void lease_add(struct conn *c, const char *task)
{
    char path[512];
    size_t i;
    int fd;

    lease_path(task, path, sizeof(path));
    fd = open(path, O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
    if (fd >= 0)
        close(fd);
    for (i = 0; i < CONN_SXM_MAX; i++) {
        if (!c->sxm[i][0]) {
            xlmig__strlcpy(c->sxm[i], task, sizeof(c->sxm[i]));
            return;
        }
    }
}

static void lease_drop(struct conn *c, const char *task)
{
    char path[512];
    size_t i;

    lease_path(task, path, sizeof(path));
    (void)unlink(path);
    for (i = 0; c && i < CONN_SXM_MAX; i++) {
        if (!strcmp(c->sxm[i], task))
            c->sxm[i][0] = '\0';
    }
}

/* Is @task still leased (not finalized or cancelled by anyone)? */
static bool lease_held(const char *task)
{
    char path[512];

    lease_path(task, path, sizeof(path));
    return !access(path, F_OK);
}

static size_t lease_count(const struct conn *c)
{
    size_t i, n = 0;

    for (i = 0; i < CONN_SXM_MAX; i++)
        n += c->sxm[i][0] != '\0';
    return n;
}

/*
 * A socket listening on a port of @host that the kernel chose; the port
 * into @port.  -1 (errno) on failure.
 */
int xlmigd_listen_any(const char *host, char *port, size_t cap)
{
    unsigned int p = 0;
    int gai = 0, fd = xlmig__tcp_listen(host, "0", 1, &gai, &p);

    if (fd < 0 && gai)
        errno = EADDRNOTAVAIL;
    if (fd >= 0)
        snprintf(port, cap, "%u", p);
    return fd;
}

/* A free TCP port on @host, for a daemon to listen on. */
static int free_port(const char *host, char *port, size_t cap)
{
    int fd = xlmigd_listen_any(host, port, cap);

    if (fd < 0)
        return -1;
    close(fd);
    return 0;
}

/*
 * A disk stream receiver (sxm.receive_start with data_via "channel"):
 * a socket of its own, one connection, TLS with the pool's material,
 * the stream written into the task's parent.  Its result is the
 * acknowledgement sxm.receive_data_wait gives the source.
 */
#define RX_MAX 64
#define RX_ACCEPT_S 120             /* for the source to connect */

struct data_rx {
    bool used, done;
    char task[XLMIG__UUID_LEN + 1];
    char dst_uri[XLMIG__SXM_ADDR_MAX + 64];
    char tls_dir[300];
    struct xlmig__sxm_nbd_tls tls;  /* for the parent export; points
                                     * into tls_dir and itself */
    int lfd;
    pthread_t tid;
    volatile sig_atomic_t cancel;
    int rc;
    char err[600];
    struct xlmig__diskstream_stats st;
};

static struct data_rx rxs[RX_MAX];
static pthread_mutex_t rx_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t rx_cond = PTHREAD_COND_INITIALIZER;

static void *rx_main(void *arg)
{
    struct data_rx *x = arg;
    struct xlmig__diskstream_opts o;
    libxlmig_tls_params tp;
    libxlmig_transport *t = NULL;
    libxlmig_ctx *ctx = NULL;
    double t0 = xlmig__now_s();
    int fd = -1, rc;

    if (libxlmig_ctx_new(NULL, LIBXLMIG_LOG_ERROR, &ctx)) {
        rc = LIBXLMIG_ERR_NO_MEMORY;
        goto out;
    }
    rc = LIBXLMIG_ERR_TIMEOUT;
    while (!x->cancel && !xlmigd_stopping && xlmig__now_s() - t0 < RX_ACCEPT_S) {
        struct pollfd pf = { .fd = x->lfd, .events = POLLIN };

        if (poll(&pf, 1, 200) > 0) {
            fd = accept4(x->lfd, NULL, NULL, SOCK_CLOEXEC);
            if (fd >= 0)
                break;
        }
    }
    close(x->lfd);
    x->lfd = -1;
    if (fd < 0) {
        rc = x->cancel ? LIBXLMIG_ERR_CANCELLED : rc;
        xlmig__error(ctx, rc, -1, "storage move %s: the source did not "
                     "connect its disk stream", x->task);
        goto out;
    }
    xlmig__socket_keepalive(fd);
    xlmig__pool_conf_tls(&M.conf, &tp, "the source's disk stream");
    rc = libxlmig_transport_tls_new(ctx, fd, true, &tp, &t);
    if (rc)
        goto out;
    memset(&o, 0, sizeof(o));
    o.dst_uri = x->dst_uri;
    o.tls_certs_dir = x->tls.certs_dir;
    o.tls_psk_file = x->tls.psk_file;
    o.tls_username = x->tls.username;
    o.transport = t;
    o.sock_fd = fd;
    o.peer_label = "the source's disk stream";
    o.cancel = &x->cancel;
    rc = xlmig__diskstream_recv(ctx, &o, &x->st);
 out:
    pthread_mutex_lock(&rx_lock);
    x->rc = rc;
    xlmig__strlcpy(x->err, rc && ctx ? libxlmig_ctx_last_error(ctx) : "",
                   sizeof(x->err));
    x->done = true;
    pthread_cond_broadcast(&rx_cond);
    pthread_mutex_unlock(&rx_lock);
    if (rc)
        xlmigd_log("storage move %s: disk stream: %s", x->task, x->err);
    else
        xlmigd_log("storage move %s: disk stream written and flushed: %llu "
               "data bytes from %llu bytes on the wire in %.1f s", x->task,
               (unsigned long long)x->st.data_done,
               (unsigned long long)x->st.wire_bytes, x->st.seconds);
    libxlmig_ctx_free(ctx);
    return NULL;
}

/* Start the receiver of @task on a port of @host; its "HOST:PORT". */
static int rx_start(libxlmig_ctx *ctx, const char *task, const char *host,
                    const char *export_addr, const char *tls, char *addr,
                    size_t cap)
{
    struct data_rx *x = NULL;
    char port[16];
    size_t i;
    int fd;

    pthread_mutex_lock(&rx_lock);
    for (i = 0; i < RX_MAX && !x; i++) {
        if (!rxs[i].used) {
            x = &rxs[i];
            memset(x, 0, sizeof(*x));
            x->used = true;
            x->lfd = -1;
        }
    }
    pthread_mutex_unlock(&rx_lock);
    if (!x)
        return xlmig__error(ctx, LIBXLMIG_ERR_TOO_MANY_MIGRATIONS, -1,
                            "this host receives %d disk streams already",
                            RX_MAX);
    xlmig__strlcpy(x->task, task, sizeof(x->task));
    xlmig__strlcpy(x->tls_dir, tls, sizeof(x->tls_dir));
    xlmig__sxm_nbd_tls(x->tls_dir, &x->tls);
    if (xlmig__sxm_export_uri(export_addr, "parent", true, x->dst_uri,
                              sizeof(x->dst_uri)))
        goto fail;
    fd = xlmigd_listen_any(host, port, sizeof(port));
    if (fd < 0)
        goto fail;
    x->lfd = fd;
    xlmig__join_hostport(host, port, addr, cap);
    if (xlmigd_spawn(&x->tid, rx_main, x)) {
        close(fd);
        goto fail;
    }
    return 0;
 fail:
    pthread_mutex_lock(&rx_lock);
    x->used = false;
    pthread_mutex_unlock(&rx_lock);
    return xlmig__error(ctx, LIBXLMIG_ERR_IO, errno, "storage move %s: "
                        "cannot listen for its disk stream on %s", task,
                        host);
}

static struct data_rx *rx_find_locked(const char *task)
{
    size_t i;

    for (i = 0; i < RX_MAX; i++) {
        if (rxs[i].used && !strcmp(rxs[i].task, task))
            return &rxs[i];
    }
    return NULL;
}

/* Stop the receiver of @task, if any, and forget it. */
static void rx_stop(const char *task)
{
    struct data_rx *x;

    pthread_mutex_lock(&rx_lock);
    x = rx_find_locked(task);
    pthread_mutex_unlock(&rx_lock);
    if (!x)
        return;
    x->cancel = 1;
    pthread_join(x->tid, NULL);
    pthread_mutex_lock(&rx_lock);
    x->used = false;
    pthread_cond_broadcast(&rx_cond);
    pthread_mutex_unlock(&rx_lock);
}

/* Cancel destination @task, logging why; its lease goes. */
static void sxm_cancel_logged(libxlmig_ctx *ctx, struct conn *c,
                              const char *task, const char *why)
{
    rx_stop(task);
    if (xlmig__sxm_recv_cancel(ctx, M.conf.state_dir, task))
        xlmigd_log("storage move %s: cannot cancel it (%s): %s; run 'xlmig "
               "sxm-recover'", task, why, libxlmig_ctx_last_error(ctx));
    else
        xlmigd_log("storage move %s cancelled: %s", task, why);
    lease_drop(c, task);
}

/* Cancel what the last run left (see lease_path). */
static void sxm_leases_recover(void)
{
    char dir[300];
    struct dirent *e;
    DIR *d;

    snprintf(dir, sizeof(dir), "%s/sxm", M.conf.state_dir);
    d = opendir(dir);
    if (!d)
        return;
    while ((e = readdir(d))) {
        char task[XLMIG__UUID_LEN + 1];

        if (!xlmig__uuid_file_name(e->d_name, ".lease", task))
            continue;
        sxm_cancel_logged(M.ctx, NULL, task, "its source's connection "
                          "ended with the daemon's last run");
    }
    closedir(d);
}

static int m_sxm_receive_start(struct conn *c, const struct xlmig__rpc_msg *m)
{
    const char *sr = xlmigd_need_str(c, m, "sr");
    const char *name = sr ? xlmigd_need_str(c, m, "name") : NULL;
    struct xlmig__sxm_recv_req req;
    struct xlmig__sxm_record rec;
    char host[256], port[16], listen[XLMIG__SXM_ADDR_MAX + 1], tls[300];
    char data[300];
    const char *via;
    yajl_gen g;
    int rc, tries;

    if (!name) return 0;
    memset(&req, 0, sizeof(req));
    req.state_dir = M.conf.state_dir;
    req.sr = sr;
    req.name = name;
    req.format = xlmig__rpc_get_str(m->params, "format");
    via = xlmig__rpc_get_str(m->params, "data_via");
    if (via && strcmp(via, "nbd") && strcmp(via, "channel"))
        return xlmigd_reply_error(c, m->id, LIBXLMIG_ERR_INVALID_ARGUMENT,
                           "sxm.receive_start: data_via is \"nbd\" or "
                           "\"channel\"", "data_via");
    if (xlmig__rpc_get_uint(m->params, "virtual_size", &req.virtual_size))
        return xlmigd_reply_error(c, m->id, LIBXLMIG_ERR_INVALID_ARGUMENT,
                           "sxm.receive_start: parameter 'virtual_size' (a "
                           "number of bytes) is missing", "virtual_size");
    (void)xlmig__rpc_get_uint(m->params, "allocated", &req.src_allocated);
    if (lease_count(c) == CONN_SXM_MAX)
        return xlmigd_reply_error(c, m->id, LIBXLMIG_ERR_TOO_MANY_MIGRATIONS,
                           "this connection has as many storage moves in "
                           "flight as one may", NULL);
    rc = xlmig__pool_nbd_tls_dir(c->ctx, &M.conf, tls, sizeof(tls));
    if (rc)
        return xlmigd_reply_error(c, m->id, rc, libxlmig_ctx_last_error(c->ctx),
                           NULL);
    req.tls_dir = tls;
    if (xlmig__split_hostport(M.conf.address, host, sizeof(host), port,
                              sizeof(port)))
        return xlmigd_reply_error(c, m->id, LIBXLMIG_ERR_INTERNAL,
                           "this host's address is malformed", NULL);
    /* The port is free when chosen; another process may take it before
     * the exporter does: then once more with another. */
    for (tries = 0;; tries++) {
        if (free_port(host, port, sizeof(port)))
            return xlmigd_reply_error(c, m->id, LIBXLMIG_ERR_IO, "no free TCP port "
                               "to serve the storage move on", NULL);
        memcpy(listen, "tcp:", 4);         /* "[V6]:PORT" for IPv6 */
        xlmig__join_hostport(host, port, listen + 4, sizeof(listen) - 4);
        req.listen = listen;
        rc = xlmig__sxm_recv_start(c->ctx, &req, &rec);
        if (!rc || tries == 2 || rc != LIBXLMIG_ERR_IO)
            break;
    }
    if (rc)
        return xlmigd_reply_error(c, m->id, rc, libxlmig_ctx_last_error(c->ctx),
                           sr);
    data[0] = '\0';
    if (via && !strcmp(via, "channel")) {
        rc = rx_start(c->ctx, rec.task, host, rec.listen, tls, data,
                      sizeof(data));
        if (rc) {
            int rc2 = rc;
            char msg[600];

            xlmig__strlcpy(msg, libxlmig_ctx_last_error(c->ctx),
                           sizeof(msg));
            (void)xlmig__sxm_recv_cancel(c->ctx, M.conf.state_dir, rec.task);
            return xlmigd_reply_error(c, m->id, rc2, msg, NULL);
        }
    }
    lease_add(c, rec.task);
    xlmigd_log("storage move %s: VDI %s into SR %s, served at %s%s%s for %s",
           rec.task, name, sr, rec.listen, data[0] ? ", disk stream at " : "",
           data, c->peer);
    g = xlmig__rpc_gen_result(m->id);
    if (!g) return LIBXLMIG_ERR_NO_MEMORY;
    yajl_gen_map_open(g);
    xlmigd_gen_kv_str(g, "task", rec.task);
    xlmigd_gen_kv_str(g, "parent", rec.parent);
    xlmigd_gen_kv_str(g, "leaf", rec.leaf);
    xlmigd_gen_kv_str(g, "address", rec.listen);
    GSTR(g, "tls");
    yajl_gen_bool(g, true);
    if (data[0])
        xlmigd_gen_kv_str(g, "data_address", data);
    yajl_gen_map_close(g);
    return xlmigd_finish_reply(c, g);
}

static int m_sxm_receive_finalize(struct conn *c,
                                  const struct xlmig__rpc_msg *m)
{
    const char *task = xlmigd_need_str(c, m, "task");
    char vdi[XLMIG__UUID_LEN + 1];
    yajl_gen g;
    int rc;

    if (!task) return 0;
    rx_stop(task);
    rc = xlmig__sxm_recv_finalize(c->ctx, M.conf.state_dir, task, vdi);
    if (rc)
        return xlmigd_reply_error(c, m->id, rc, libxlmig_ctx_last_error(c->ctx),
                           task);
    lease_drop(c, task);
    xlmigd_log("storage move %s: finalized, VDI %s", task, vdi);
    g = xlmig__rpc_gen_result(m->id);
    if (!g) return LIBXLMIG_ERR_NO_MEMORY;
    yajl_gen_map_open(g);
    xlmigd_gen_kv_str(g, "vdi", vdi);
    yajl_gen_map_close(g);
    return xlmigd_finish_reply(c, g);
}

/* The source's disk stream ended: was all of it written and flushed? */
static int m_sxm_receive_data_wait(struct conn *c,
                                   const struct xlmig__rpc_msg *m)
{
    const char *task = xlmigd_need_str(c, m, "task");
    struct data_rx *x;
    struct xlmig__diskstream_stats st;
    char err[600];
    yajl_gen g;
    int rc = 0;

    if (!task) return 0;
    pthread_mutex_lock(&rx_lock);
    x = rx_find_locked(task);
    while (x && !x->done && !xlmigd_stopping && !xlmigd_peer_gone(c->fd)) {
        wait_a_while(&rx_cond, &rx_lock);
        x = rx_find_locked(task);
    }
    if (x && x->done) {
        rc = x->rc;
        st = x->st;
        xlmig__strlcpy(err, x->err, sizeof(err));
    } else {
        rc = x ? LIBXLMIG_ERR_IO : LIBXLMIG_ERR_NOT_FOUND;
        snprintf(err, sizeof(err), x ? "the daemon is xlmigd_stopping"
                 : "storage move %s receives no disk stream", task);
    }
    pthread_mutex_unlock(&rx_lock);
    if (rc)
        return xlmigd_reply_error(c, m->id, rc, err, task);
    g = xlmig__rpc_gen_result(m->id);
    if (!g) return LIBXLMIG_ERR_NO_MEMORY;
    yajl_gen_map_open(g);
    GSTR(g, "flushed");
    yajl_gen_bool(g, st.flushed);
    xlmigd_gen_kv_uint(g, "data_bytes", st.data_done);
    xlmigd_gen_kv_uint(g, "wire_bytes", st.wire_bytes);
    yajl_gen_map_close(g);
    return xlmigd_finish_reply(c, g);
}

static int m_sxm_receive_cancel(struct conn *c, const struct xlmig__rpc_msg *m)
{
    const char *task = xlmigd_need_str(c, m, "task");
    int rc;

    if (!task) return 0;
    rx_stop(task);
    rc = xlmig__sxm_recv_cancel(c->ctx, M.conf.state_dir, task);
    if (rc)
        return xlmigd_reply_error(c, m->id, rc, libxlmig_ctx_last_error(c->ctx),
                           task);
    lease_drop(c, task);
    xlmigd_log("storage move %s: cancelled by %s", task, c->peer);
    return xlmigd_reply_ok(c, m->id);
}

/* Methods of the pool (the master's) and of every host. */
#define POOL true
#define HOST false
static const struct method {
    const char *name;
    int (*fn)(struct conn *c, const struct xlmig__rpc_msg *m);
    bool master_only;
} methods[] = {
    { "hello", m_hello, HOST },
    { "ping", m_ping, HOST },
    { "pool.join", m_pool_join, POOL },
    { "pool.eject", m_pool_eject, POOL },
    { "host.list", m_host_list, POOL },
    { "host.disable", m_host_disable, POOL },
    { "host.enable", m_host_enable, POOL },
    { "host.watch", m_host_watch, POOL },
    { "pool.rolling_get", m_rolling_get, POOL },
    { "pool.rolling_set", m_rolling_set, POOL },
    { "pool.param_get", m_param_get, POOL },
    { "pool.param_set", m_param_set, POOL },
    { "pool.stats", m_pool_stats, POOL },
    { "slot.acquire", m_slot_acquire, POOL },
    { "slot.release", m_slot_release, POOL },
    { "slot.resume", m_slot_resume, POOL },
    { "task.update", m_task_update, POOL },
    { "task.list", m_task_list, POOL },
    { "task.cancel", m_task_cancel, POOL },
    { "sxm.receive_start", m_sxm_receive_start, HOST },
    { "sxm.receive_finalize", m_sxm_receive_finalize, HOST },
    { "sxm.receive_cancel", m_sxm_receive_cancel, HOST },
    { "sxm.receive_data_wait", m_sxm_receive_data_wait, HOST },
    { "host.facts", xlmigd_m_host_facts, HOST },
    { "vm.list", xlmigd_m_vm_list, HOST },
    { "vm.locate", xlmigd_m_vm_locate, HOST },
    { "vm.register", xlmigd_m_vm_register, HOST },
    { "vm.start", xlmigd_m_vm_start, HOST },
    { "vm.migrate", xlmigd_m_vm_migrate, HOST },
    { "vm.place", xlmigd_m_vm_place, HOST },
    { "vm.migrate_many", xlmigd_m_vm_migrate_many, HOST },
    { "host.evacuate", xlmigd_m_host_evacuate, HOST },
    { "host.upgrade", xlmigd_m_host_upgrade, HOST },
    { "vm.task", xlmigd_m_vm_task, HOST },
    { "vm.cancel", xlmigd_m_vm_cancel, HOST },
    { "vm.receive_start", xlmigd_m_vm_receive_start, HOST },
    { "vm.receive_status", xlmigd_m_vm_receive_status, HOST },
    { "vm.receive_abort", xlmigd_m_vm_receive_abort, HOST },
};

/* ------------------------------------------------------------------ */
/* Connections                                                        */
/* ------------------------------------------------------------------ */

static struct conn conns[MAX_CONNS];
static pthread_mutex_t conns_lock = PTHREAD_MUTEX_INITIALIZER;

static void *conn_main(void *arg)
{
    struct conn *c = arg;
    libxlmig_tls_params tp;
    bool said_hello = false;
    size_t i;
    int rc;

    xlmig__pool_conf_tls(&M.conf, &tp, c->peer);
    rc = libxlmig_transport_tls_new(c->ctx, c->fd, true, &tp, &c->t);
    if (rc) {
        xlmigd_log("refused %s: %s", c->peer, libxlmig_ctx_last_error(c->ctx));
        goto out;
    }
    for (;;) {
        struct xlmig__rpc_msg m;
        char *json = NULL, why[XLMIG__RPC_WHY_MAX];
        size_t len = 0;

        rc = xlmig__rpc_read_frame(c->ctx, c->t, c->peer, &json, &len);
        if (rc) {
            if (rc < 0)
                xlmigd_log("%s: %s", c->peer, libxlmig_ctx_last_error(c->ctx));
            break;              /* 1: the client closed */
        }
        memset(&m, 0, sizeof(m));
        rc = xlmig__rpc_decode(json, len, &m, why, sizeof(why));
        free(json);
        if (rc || m.kind != XLMIG__RPC_REQUEST) {
            xlmigd_log("%s: refused a message: %s", c->peer,
                   rc ? why : "not a request");
            xlmigd_reply_error(c, rc ? 0 : m.id, LIBXLMIG_ERR_PROTOCOL,
                        rc ? why : "only requests go to xlmigd", NULL);
            xlmig__rpc_msg_dispose(&m);
            if (rc) break;      /* a malformed frame ends the connection */
            continue;
        }
        for (i = 0; i < sizeof(methods) / sizeof(methods[0]); i++) {
            if (!strcmp(methods[i].name, m.method))
                break;
        }
        if (i == sizeof(methods) / sizeof(methods[0])) {
            char msg[128];

            snprintf(msg, sizeof(msg), "unknown method '%s'", m.method);
            rc = xlmigd_reply_error(c, m.id, LIBXLMIG_ERR_UNSUPPORTED, msg,
                             m.method);
        } else if (!said_hello && strcmp(m.method, "hello")) {
            rc = xlmigd_reply_error(c, m.id, LIBXLMIG_ERR_PROTOCOL,
                             "say hello (with the pool's uuid) first",
                             NULL);
        } else if (methods[i].master_only && !M.is_master) {
            char msg[700];

            snprintf(msg, sizeof(msg), "%s: host %s is a member of pool "
                     "%s; ask its master, %s", m.method, M.conf.name,
                     M.conf.pool_name, M.conf.master);
            rc = xlmigd_reply_error(c, m.id, LIBXLMIG_ERR_UNSUPPORTED, msg,
                             M.conf.master);
        } else {
            rc = methods[i].fn(c, &m);
            if (!strcmp(m.method, "hello"))
                said_hello = true;
        }
        xlmig__rpc_msg_dispose(&m);
        if (rc < 0)
            break;
    }
 out:
    /* Migrations it was the source of stop, unless they are ours. */
    xlmigd_vm_conn_end(c);
    /* Storage moves it started and left: cancelled. */
    for (i = 0; i < CONN_SXM_MAX; i++) {
        if (c->sxm[i][0] && lease_held(c->sxm[i]))
            sxm_cancel_logged(c->ctx, c, c->sxm[i], "its source's "
                              "connection ended before the move did");
    }
    /* Whatever it held or waited for goes: the slot is never leaked. */
    pthread_mutex_lock(&M.lock);
    if (M.is_master) {
        uint64_t granted[XLMIG__SLOTS_GRANT_MAX];
        struct xlmig__slot_info *list = NULL;
        size_t n, released = 0, nr, k;

        nr = xlmig__slots_list(M.slots, NULL, 0);
        list = nr ? calloc(nr, sizeof(*list)) : NULL;
        if (list)
            nr = xlmig__slots_list(M.slots, list, nr);
        n = xlmig__slots_release_owner(M.slots, c->owner, granted,
                                       XLMIG__SLOTS_GRANT_MAX, &released);
        for (k = 0; k < MAX_CONNS; k++) {
            if (M.watchers[k].owner == c->owner)
                M.watchers[k].owner = 0;    /* it watches no more */
        }
        for (k = 0; list && k < nr; k++) {
            if (list[k].owner == c->owner)
                (void)xlmig__pool_task_remove(NULL, &M.st, list[k].task);
        }
        free(list);
        note_grants_locked(granted, n);
        if (released) {
            xlmigd_log("%s went away: %zu migration slot(s) or place(s) in "
                   "the queue freed", c->peer, released);
            save_locked(c->ctx);
        }
        pthread_cond_broadcast(&M.cond);
    }
    pthread_mutex_unlock(&M.lock);
    libxlmig_transport_free(c->t);  /* the transport owns the socket,
                                       also when its handshake failed */
    libxlmig_ctx_free(c->ctx);
    pthread_mutex_destroy(&c->wlock);
    pthread_mutex_lock(&conns_lock);
    c->used = false;
    pthread_mutex_unlock(&conns_lock);
    return NULL;
}

/* Orphans not resumed in time are released. */
static void *reaper_main(void *arg)
{
    (void)arg;
    while (!xlmigd_stopping) {
        sleep(1);
        if (time(NULL) - M.started < (time_t)M.conf.orphan_grace)
            continue;
        pthread_mutex_lock(&M.lock);
        {
            uint64_t granted[XLMIG__SLOTS_GRANT_MAX];
            size_t released = 0, n;

            n = xlmig__slots_release_owner(M.slots, ORPHAN_OWNER, granted,
                                           XLMIG__SLOTS_GRANT_MAX, &released);
            if (released) {
                size_t i = 0;

                /* Drop the records of tasks no longer in the slots. */
                while (i < M.st.nr_tasks) {
                    struct xlmig__slot_info info;

                    if (xlmig__slots_find(M.slots, M.st.tasks[i].id, &info))
                        (void)xlmig__pool_task_remove(NULL, &M.st,
                                                      M.st.tasks[i].id);
                    else
                        i++;
                }
                note_grants_locked(granted, n);
                xlmigd_log("%zu recovered migration(s) not resumed in %u s: "
                       "their slots are free", released, M.conf.orphan_grace);
                save_locked(M.ctx);
            }
        }
        pthread_mutex_unlock(&M.lock);
    }
    return NULL;
}

/* The VM side's housekeeping: workers that ended, unknown outcomes. */
static void *vm_reaper_main(void *arg)
{
    (void)arg;
    xlmigd_vm_recover_all();
    while (!xlmigd_stopping) {
        sleep(1);
        xlmigd_vm_reap();
    }
    return NULL;
}

static int vm_reaper_start(void)
{
    pthread_t tid;

    if (xlmigd_spawn(&tid, vm_reaper_main, NULL))
        return -1;
    pthread_detach(tid);
    return 0;
}

static int listen_on(const char *address)
{
    char host[256], port[16];
    int fd, gai = 0;

    if (xlmig__split_hostport(address, host, sizeof(host), port,
                              sizeof(port)))
        return -1;
    fd = xlmig__tcp_listen(host, port, 128, &gai, NULL);
    if (fd < 0 && gai)
        xlmigd_log("cannot resolve %s: %s", host, gai_strerror(gai));
    else if (fd < 0)
        xlmigd_log("cannot listen on %s: %s", address, strerror(errno));
    return fd;
}

/* Accept connections on @lfd until stopped: a thread each. */
static int serve(int lfd)
{
    size_t i;

    while (!xlmigd_stopping) {
        struct sockaddr_storage sa;
        socklen_t sl = sizeof(sa);
        struct conn *c = NULL;
        int fd = accept4(lfd, (struct sockaddr *)&sa, &sl, SOCK_CLOEXEC);

        if (fd < 0) {
            if (errno == EINTR)
                continue;
            xlmigd_log("accept: %s", strerror(errno));
            sleep(1);
            continue;
        }
        xlmig__socket_keepalive(fd);
        pthread_mutex_lock(&conns_lock);
        for (i = 0; i < MAX_CONNS; i++) {
            if (!conns[i].used) {
                c = &conns[i];
                break;
            }
        }
        if (c) {
            memset(c, 0, sizeof(*c));
            c->used = true;
        }
        pthread_mutex_unlock(&conns_lock);
        if (!c) {
            xlmigd_log("too many connections (%d): refusing one", MAX_CONNS);
            close(fd);
            continue;
        }
        c->fd = fd;
        if (!xlmig__sockaddr_label((struct sockaddr *)&sa, c->peer,
                                   sizeof(c->peer)))
            xlmig__strlcpy(c->peer, "a client", sizeof(c->peer));
        pthread_mutex_init(&c->wlock, NULL);
        pthread_mutex_lock(&M.lock);
        c->owner = M.next_owner++;
        pthread_mutex_unlock(&M.lock);
        if (libxlmig_ctx_new(NULL, LIBXLMIG_LOG_ERROR, &c->ctx) ||
            xlmigd_spawn(&c->tid, conn_main, c)) {
            close(fd);
            libxlmig_ctx_free(c->ctx);
            pthread_mutex_lock(&conns_lock);
            c->used = false;
            pthread_mutex_unlock(&conns_lock);
            continue;
        }
        pthread_detach(c->tid);
    }
    return 0;
}

static int run_master(void)
{
    struct xlmig__pool_state loaded;
    pthread_t reaper;
    bool missing = false;
    size_t i;
    int lfd, rc;

    xlmig__pool_state_init(&M.st);
    xlmig__pool_state_init(&loaded);
    rc = xlmig__pool_state_load(M.ctx, M.conf.state_dir, &loaded, &missing);
    if (rc) {
        xlmigd_log("%s", libxlmig_ctx_last_error(M.ctx));
        return XLMIG__EXIT_FAILED;
    }
    if (xlmig__pool_state_copy(M.ctx, &M.st, &loaded))
        return XLMIG__EXIT_FAILED;
    xlmig__pool_state_dispose(&loaded);
    if (missing) {
        if (xlmig__pool_identity_set(M.ctx, &M.st, M.conf.pool_name,
                                     M.conf.pool_uuid) ||
            xlmig__pool_member_add(M.ctx, &M.st, M.conf.name,
                                   M.conf.address, (int64_t)time(NULL)) ||
            xlmig__pool_state_save(M.ctx, M.conf.state_dir, &M.st)) {
            xlmigd_log("cannot create the pool: %s",
                   libxlmig_ctx_last_error(M.ctx));
            return XLMIG__EXIT_FAILED;
        }
        xlmigd_log("created pool %s (%s) in %s", M.conf.pool_name,
               M.conf.pool_uuid, M.conf.state_dir);
    } else if (strcmp(M.st.uuid, M.conf.pool_uuid)) {
        xlmigd_log("%s/%s belongs to pool %s, the configuration says %s",
               M.conf.state_dir, XLMIG__POOL_STATE_FILE, M.st.uuid,
               M.conf.pool_uuid);
        return XLMIG__EXIT_FAILED;
    }
    if (xlmig__slots_new(M.st.concurrency, &M.slots))
        return XLMIG__EXIT_FAILED;
    /* Migrations in flight at the last stop keep their slot a while. */
    for (i = 0; i < M.st.nr_tasks;) {
        struct xlmig__pool_task *t = &M.st.tasks[i];

        if (t->id > M.next_task)
            M.next_task = t->id;
        if (strcmp(t->phase, "queued") &&
            xlmig__slots_request(M.slots, t->id, ORPHAN_OWNER, t->priority,
                                 false, NULL) == XLMIG__SLOT_GRANTED) {
            i++;
            continue;
        }
        (void)xlmig__pool_task_remove(NULL, &M.st, t->id);
    }
    if (M.st.nr_tasks)
        xlmigd_log("recovered %zu migration(s) in flight; their holders have "
               "%u s to resume them", M.st.nr_tasks, M.conf.orphan_grace);
    save_locked(M.ctx);
    M.started = time(NULL);
    M.next_owner = 1;

    lfd = listen_on(M.conf.address);
    if (lfd < 0)
        return XLMIG__EXIT_FAILED;
    xlmigd_log("pool master of %s (%s), %zu member(s), "
           "migration-concurrency %u, listening on %s",
           M.conf.pool_name, M.conf.pool_uuid, M.st.nr_members,
           M.st.concurrency, M.conf.address);
    sxm_leases_recover();
    if (xlmigd_spawn(&reaper, reaper_main, NULL) || vm_reaper_start())
        return XLMIG__EXIT_FAILED;
    pthread_detach(reaper);
    xlmigd_sd_notify("READY=1");

    rc = serve(lfd);
    close(lfd);
    return rc;
}

/* ------------------------------------------------------------------ */
/* A member                                                           */
/* ------------------------------------------------------------------ */

static int member_call(libxlmig_transport *t, uint64_t id, const char *method,
                       const char *k1, const char *v1, const char *k2,
                       const char *v2)
{
    yajl_gen g = xlmig__rpc_gen_request(id, method);
    struct xlmig__rpc_msg resp;
    char *json = NULL;
    size_t len = 0;
    int rc;

    if (!g) return LIBXLMIG_ERR_NO_MEMORY;
    if (k1)
        xlmigd_gen_kv_str(g, k1, v1);
    if (k2)
        xlmigd_gen_kv_str(g, k2, v2);
    rc = xlmig__rpc_gen_finish(g, &json, &len);
    if (rc) return rc;
    memset(&resp, 0, sizeof(resp));
    rc = xlmig__rpc_call(M.ctx, t, M.conf.master, json, len, id, NULL, NULL,
                         &resp);
    free(json);
    xlmig__rpc_msg_dispose(&resp);
    return rc;
}

/*
 * One turn of a member's attachment: host.watch, which the master answers
 * when this host's enabled flag is not what we know, or after WATCH_S
 * (so it is the liveness ping as well); what it says is this host's flag
 * from then on.  A master of before host-disable does not know
 * host.watch: then a ping every 2 s, and the flag stays as it is.
 */
static int member_watch(libxlmig_transport *t, uint64_t id, bool *old_master)
{
    struct xlmig__rpc_msg resp;
    const char *kv[] = { "name", M.conf.name, "enabled", NULL,
                         "rolling_upgrade", NULL, NULL };
    bool on = true, was, rolling = false, was_rolling;
    int rc;

    if (*old_master) {
        sleep(2);
        return member_call(t, id, "ping", NULL, NULL, NULL, NULL);
    }
    pthread_mutex_lock(&M.lock);
    was = M.here_enabled;
    was_rolling = M.here_rolling;
    pthread_mutex_unlock(&M.lock);
    kv[3] = was ? "?true" : "?false";
    kv[5] = was_rolling ? "?true" : "?false";
    memset(&resp, 0, sizeof(resp));
    rc = xlmig__pool_call(M.ctx, t, M.conf.master, id, "host.watch", kv,
                          NULL, NULL, &resp);
    if (rc == LIBXLMIG_ERR_UNSUPPORTED && resp.is_error) {
        xlmigd_log("master %s does not tell its hosts whether they are "
                   "enabled (an older xlmigd): this host takes VMs unless "
                   "it heard otherwise", M.conf.master);
        *old_master = true;
        rc = 0;
    } else if (!rc && xlmig__rpc_get_bool(resp.result, "enabled", &on)) {
        rc = xlmig__error(M.ctx, LIBXLMIG_ERR_PROTOCOL, -1, "master %s "
                          "answered host.watch without \"enabled\"",
                          M.conf.master);
    } else if (!rc) {
        /* A master of before the rolling upgrade: never mid-upgrade. */
        (void)xlmig__rpc_get_bool(resp.result, "rolling_upgrade", &rolling);
        pthread_mutex_lock(&M.lock);
        M.here_enabled = on;
        M.here_rolling = rolling;
        pthread_mutex_unlock(&M.lock);
        if (rolling != was_rolling)
            xlmigd_log("the master says the pool is %s", rolling
                       ? "mid-upgrade: vm-register is refused here, "
                         "vm-start unless this host is upgraded"
                       : "no longer mid-upgrade");
        if (on != was)
            xlmigd_log("the master says host %s is %s", M.conf.name,
                       on ? "enabled: VMs may start and arrive here again"
                          : "disabled: no VM may start or arrive here");
    }
    xlmig__rpc_msg_dispose(&resp);
    return rc;
}

/* Join the pool and stay attached; reconnect when the master goes. */
static void *attach_main(void *arg)
{
    unsigned delay = 1;

    (void)arg;
    while (!xlmigd_stopping) {
        libxlmig_transport *t = NULL;
        uint64_t id = 1;
        int rc = xlmig__pool_connect(M.ctx, &M.conf, M.conf.master, &t);

        if (!rc)
            rc = member_call(t, id++, "hello", "pool_uuid", M.conf.pool_uuid,
                             NULL, NULL);
        if (!rc)
            rc = member_call(t, id++, "pool.join", "name", M.conf.name,
                             "address", M.conf.address);
        if (!rc) {
            bool old_master = false;

            xlmigd_log("attached to the master %s", M.conf.master);
            delay = 1;
            while (!xlmigd_stopping && !rc)
                rc = member_watch(t, id++, &old_master);
        }
        if (rc && !xlmigd_stopping)
            xlmigd_log("master %s: %s; again in %u s", M.conf.master,
                   libxlmig_ctx_last_error(M.ctx), delay);
        libxlmig_transport_free(t);
        if (xlmigd_stopping)
            break;
        sleep(delay);
        if (delay < 16)
            delay *= 2;
    }
    return NULL;
}

/* A member: attached to the master, serving its own requests (storage
 * moves into its SRs). */
static int run_member(void)
{
    pthread_t attach;
    int lfd, rc;

    lfd = listen_on(M.conf.address);
    if (lfd < 0)
        return XLMIG__EXIT_FAILED;
    xlmigd_log("member %s of pool %s; master %s; listening on %s", M.conf.name,
           M.conf.pool_uuid, M.conf.master, M.conf.address);
    sxm_leases_recover();
    if (xlmigd_spawn(&attach, attach_main, NULL) || vm_reaper_start()) {
        close(lfd);
        return XLMIG__EXIT_FAILED;
    }
    pthread_detach(attach);
    xlmigd_sd_notify("READY=1");
    rc = serve(lfd);
    close(lfd);
    return rc;
}

/*
 * Start a thread with SIGTERM and SIGINT blocked, so that they always
 * reach the main thread (and interrupt its accept()).
 */
int xlmigd_spawn(pthread_t *tid, void *(*fn)(void *), void *arg)
{
    sigset_t set, old;
    int r;

    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, &old);
    r = pthread_create(tid, NULL, fn, arg);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return r;
}

/*
 * --check-config: the configuration as the daemon would load it, nothing
 * started.  Prints "FILE: ok" or (through the context's logger, once) the
 * error naming the file, the line and the key.
 */
static int check_config(const char *config)
{
    struct xlmig__pool_conf c;
    libxlmig_ctx *ctx = NULL;
    int rc;

    if (libxlmig_ctx_new(NULL, LIBXLMIG_LOG_ERROR, &ctx))
        return XLMIG__EXIT_FAILED;
    config = xlmig__pool_conf_path(config);
    rc = xlmig__pool_conf_load(ctx, config, &c);
    libxlmig_ctx_free(ctx);
    if (rc)
        return XLMIG__EXIT_USAGE;   /* a configuration to fix, said why */
    printf("%s: ok\n", config);
    return XLMIG__EXIT_OK;
}

static void on_signal(int sig)
{
    (void)sig;
    xlmigd_stopping = 1;
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        { "config", required_argument, NULL, 'c' },
        { "foreground", no_argument, NULL, 'f' },
        { "check-config", no_argument, NULL, 'k' },
        { "help", no_argument, NULL, 'h' },
        { "version", no_argument, NULL, 'V' },
        { "man", no_argument, NULL, 'M' },  /* xlmigd(8): docs/man/ */
        { NULL, 0, NULL, 0 },
    };
    const char *config = NULL;
    bool check = false;
    int opt, rc;

    if (argc > 1 && !strcmp(argv[1], "--worker"))
        return xlmigd_worker_main(argc - 1, argv + 1, HV_OPS);
    while ((opt = getopt_long(argc, argv, "c:fh", opts, NULL)) != -1) {
        switch (opt) {
        case 'c':
            config = optarg;
            break;
        case 'f':
            break;
        case 'k':
            check = true;
            break;
        case 'h':
            fputs(usage_text, stdout);
            return 0;
        case 'V':
            xlmig__cli_version(stdout, "xlmigd");
            return 0;
        case 'M':
            xlmig__cli_md_page(stdout, "xlmigd", usage_text);
            return 0;
        default:
            fputs(usage_text, stderr);
            return XLMIG__EXIT_USAGE;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "xlmigd: unexpected argument '%s'\n%s", argv[optind],
                usage_text);
        return XLMIG__EXIT_USAGE;
    }
    if (check)
        return check_config(config);
    signal(SIGPIPE, SIG_IGN);
    xlmig__cli_on_stop(on_signal);
    setvbuf(stderr, NULL, _IOLBF, 0);

    if (libxlmig_ctx_new(NULL, LIBXLMIG_LOG_ERROR, &M.ctx))
        return XLMIG__EXIT_FAILED;
    if (xlmig__pool_conf_load(M.ctx, config, &M.conf)) {
        libxlmig_ctx_free(M.ctx);
        return XLMIG__EXIT_FAILED;
    }
    M.is_master = xlmig__pool_conf_is_master(&M.conf);
    xlmigd_vm_init(&M.conf, M.conf.path, HV_OPS);
    rc = M.is_master ? run_master() : run_member();
    xlmigd_sd_notify("STOPPING=1");
    xlmigd_vm_stop();
    xlmigd_log("stopped");
    return rc;
}

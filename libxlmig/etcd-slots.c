/* SPDX-License-Identifier: LGPL-2.1-only */
/*
 * A pool's migration slots on etcd (etcd-slots.h): the queue is the keys
 * under PREFIX/slots/q/ in the order etcd created them.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "etcd-slots.h"
#include "internal.h"
#include "jsonfile.h"
#include "names.h"

#define SLOT_VALUE_MAX 256
/* One watch at most this long, so that a lost wake-up costs no more. */
#define WATCH_SLICE_MS 5000u

static const struct xlmig__json_kind slot_kind = {
    .what = "migration slot",
    .a_what = "a migration slot",
    .invalid_rc = LIBXLMIG_ERR_POOL_STATE_INVALID,
    .max_bytes = SLOT_VALUE_MAX,
    .depth_max = 2,
};

int xlmig__etcd_prefix_check(libxlmig_ctx *ctx, const char *prefix)
{
    size_t n = strlen(prefix);

    if (!n || n > XLMIG__ETCD_PREFIX_MAX || prefix[n - 1] == '/')
        return xlmig__error(ctx, LIBXLMIG_ERR_INVALID_ARGUMENT, -1,
                            "pool key prefix \"%.64s\": 1 to %d bytes, not "
                            "ending with '/'", prefix,
                            XLMIG__ETCD_PREFIX_MAX);
    return 0;
}

/* PREFIX/slots/SUFFIX into @buf (sized for the longest prefix). */
static size_t key_of(char *buf, size_t cap, const char *prefix,
                     const char *suffix)
{
    int n = snprintf(buf, cap, "%s/slots/%s", prefix, suffix);

    return n < 0 || (size_t)n >= cap ? 0 : (size_t)n;
}

static uint64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static int slot_value(const struct xlmig__etcd_slot *s, bool held,
                      char *buf, size_t cap, size_t *len_r)
{
    int n = snprintf(buf, cap, "{\"task\":%" PRIu64 ",\"owner\":\"%s\","
                     "\"state\":\"%s\"}", s->task, s->owner,
                     held ? "held" : "waiting");

    if (n < 0 || (size_t)n >= cap)
        return LIBXLMIG_ERR_INTERNAL;
    *len_r = (size_t)n;
    return 0;
}

enum slot_state { SLOT_WAITING, SLOT_HELD, SLOT_BAD };

/* What a key of the queue says it is. */
static enum slot_state state_of(const struct xlmig__etcd_kv *kv)
{
    char state[16], why[128];
    yajl_val root = NULL;
    enum slot_state st = SLOT_BAD;

    if (!xlmig__json_tree(&slot_kind, (const uint8_t *)kv->value,
                          kv->value_len, &root, why, sizeof(why)) &&
        YAJL_IS_OBJECT(root) &&
        !xlmig__json_get_string(root, "state", state, sizeof(state)))
        st = !strcmp(state, "held") ? SLOT_HELD
           : !strcmp(state, "waiting") ? SLOT_WAITING : SLOT_BAD;
    yajl_tree_free(root);
    return st;
}

int xlmig__etcd_slot_enqueue(libxlmig_ctx *ctx, struct xlmig__etcd *e,
                             const char *prefix, uint64_t task,
                             const char *owner, int64_t lease,
                             struct xlmig__etcd_slot *slot_r)
{
    struct xlmig__etcd_slot *s = slot_r;
    struct xlmig__etcd_kvs kvs = { 0 };
    char suffix[32], value[SLOT_VALUE_MAX];
    size_t vlen;
    bool ok;
    int rc;

    memset(s, 0, sizeof(*s));
    rc = xlmig__etcd_prefix_check(ctx, prefix);
    if (rc)
        return rc;
    if (!task || lease <= 0)
        return xlmig__error(ctx, LIBXLMIG_ERR_INVALID_ARGUMENT, -1,
                            "migration slot: task %" PRIu64 " with lease "
                            "%" PRId64 ": both must be positive", task,
                            lease);
    rc = xlmig__name_check(ctx, "host", owner);
    if (rc)
        return rc;
    snprintf(suffix, sizeof(suffix), "q/%016" PRIx64, task);
    s->key_len = key_of(s->key, sizeof(s->key), prefix, suffix);
    s->task = task;
    xlmig__strlcpy(s->owner, owner, sizeof(s->owner));
    s->lease = lease;
    rc = slot_value(s, false, value, sizeof(value), &vlen);
    if (rc)
        return xlmig__error(ctx, rc, -1, "migration slot of task %" PRIu64
                            ": its value does not fit", task);

    {
        const struct xlmig__etcd_cmp absent = {
            .key = s->key, .key_len = s->key_len,
            .target = XLMIG__ETCD_CMP_VERSION, .result = XLMIG__ETCD_EQUAL,
            .number = 0,
        };
        const struct xlmig__etcd_op put = {
            .kind = XLMIG__ETCD_OP_PUT, .key = s->key, .key_len = s->key_len,
            .value = value, .value_len = vlen, .lease = lease,
        };

        rc = xlmig__etcd_txn(e, &absent, 1, &put, 1, NULL, 0, &ok, NULL);
        if (rc)
            return rc;
    }
    /* New or already there: read back its place and whose it is. */
    rc = xlmig__etcd_get(e, s->key, s->key_len, NULL, &kvs);
    if (rc)
        goto out;
    if (kvs.n != 1) {
        rc = xlmig__error(ctx, LIBXLMIG_ERR_NOT_FOUND, -1,
                          "migration slot of task %" PRIu64 " went as it "
                          "was queued (lease %" PRId64 " expired?)", task,
                          lease);
        goto out;
    }
    if (kvs.kv[0].lease != lease) {
        rc = xlmig__error(ctx, LIBXLMIG_ERR_OTHER_OPERATION_IN_PROGRESS, -1,
                          "task %" PRIu64 " already holds or waits for a "
                          "migration slot of another holder (lease %" PRId64
                          ")", task, kvs.kv[0].lease);
        goto out;
    }
    s->create_revision = kvs.kv[0].create_revision;
    s->held = state_of(&kvs.kv[0]) == SLOT_HELD;
    rc = 0;
out:
    xlmig__etcd_kvs_free(&kvs);
    if (rc)
        s->create_revision = 0;
    return rc;
}

/* The limit a PREFIX/slots/limit key holds (NULL: absent), or
 * @default_limit, named in the log, when it holds none. */
static unsigned limit_of(libxlmig_ctx *ctx, const struct xlmig__etcd_kv *kv,
                         unsigned default_limit)
{
    char *end = NULL;
    unsigned long v;

    if (!kv)
        return default_limit;
    v = strtoul(kv->value, &end, 10);
    if (kv->value_len == 0 || kv->value_len > 2 ||
        end != kv->value + kv->value_len ||
        kv->value[0] < '0' || kv->value[0] > '9' ||
        v < XLMIG__SLOTS_LIMIT_MIN || v > XLMIG__SLOTS_LIMIT_MAX) {
        char k[301], text[17];

        xlmig__etcd_key_text(kv, k, sizeof(k));
        xlmig__etcd_value_text(kv, text, sizeof(text));
        xlmig__log(ctx, XTL_WARN, -1, "%s: \"%s\" is not a migration "
                   "concurrency (%d to %d); using %u", k, text,
                   XLMIG__SLOTS_LIMIT_MIN, XLMIG__SLOTS_LIMIT_MAX,
                   default_limit);
        return default_limit;
    }
    return (unsigned)v;
}

int xlmig__etcd_slots_limit_get(libxlmig_ctx *ctx, struct xlmig__etcd *e,
                                const char *prefix, unsigned default_limit,
                                unsigned *limit_r)
{
    struct xlmig__etcd_kvs kvs = { 0 };
    char key[XLMIG__ETCD_PREFIX_MAX + 32];
    size_t klen;
    int rc;

    *limit_r = default_limit;
    rc = xlmig__etcd_prefix_check(ctx, prefix);
    if (rc)
        return rc;
    klen = key_of(key, sizeof(key), prefix, "limit");
    rc = xlmig__etcd_get(e, key, klen, NULL, &kvs);
    if (!rc)
        *limit_r = limit_of(ctx, kvs.n == 1 ? &kvs.kv[0] : NULL,
                            default_limit);
    xlmig__etcd_kvs_free(&kvs);
    return rc;
}

int xlmig__etcd_slots_limit_set(libxlmig_ctx *ctx, struct xlmig__etcd *e,
                                const char *prefix, unsigned limit)
{
    char key[XLMIG__ETCD_PREFIX_MAX + 32], value[16];
    size_t klen;
    int rc, n;

    rc = xlmig__etcd_prefix_check(ctx, prefix);
    if (rc)
        return rc;
    if (limit < XLMIG__SLOTS_LIMIT_MIN || limit > XLMIG__SLOTS_LIMIT_MAX)
        return xlmig__error(ctx, LIBXLMIG_ERR_INVALID_ARGUMENT, -1,
                            "migration-concurrency %u: it is %d to %d",
                            limit, XLMIG__SLOTS_LIMIT_MIN,
                            XLMIG__SLOTS_LIMIT_MAX);
    klen = key_of(key, sizeof(key), prefix, "limit");
    n = snprintf(value, sizeof(value), "%u", limit);
    return xlmig__etcd_put(e, key, klen, value, (size_t)n, 0, NULL);
}

/* The queue as @s sees it, read at one revision. */
struct view {
    bool exists;                /* its key, with its place */
    int64_t ahead;              /* keys before it */
    unsigned limit;
    int64_t revision;           /* the store's, read at */
    /* The key just before it (if any), and whether it waits too. */
    char pred[XLMIG__ETCD_KEY_MAX];
    size_t pred_len;
    bool pred_waits;
};

static int look(libxlmig_ctx *ctx, struct xlmig__etcd *e, const char *prefix,
                const struct xlmig__etcd_slot *s, unsigned default_limit,
                struct view *v)
{
    char qprefix[XLMIG__ETCD_PREFIX_MAX + 32];
    char lkey[XLMIG__ETCD_PREFIX_MAX + 32];
    /* Not count_only: etcd counts the whole range then, whatever
     * max_create_revision says; the keys themselves are filtered. */
    const struct xlmig__etcd_range before = {
        .prefix = true, .sort = XLMIG__ETCD_SORT_CREATE,
        .max_create_revision = s->create_revision - 1,
    };
    struct xlmig__etcd_read reads[3] = {
        { .key = s->key, .key_len = s->key_len },
        { .key = qprefix, .range = &before },
        { .key = lkey },
    };
    struct xlmig__etcd_kvs kvs[3];
    const struct xlmig__etcd_kv *last;
    int rc;

    memset(v, 0, sizeof(*v));
    reads[1].key_len = key_of(qprefix, sizeof(qprefix), prefix, "q/");
    reads[2].key_len = key_of(lkey, sizeof(lkey), prefix, "limit");
    rc = xlmig__etcd_get_many(e, reads, 3, kvs);
    if (rc)
        return rc;
    v->revision = kvs[0].revision;
    v->exists = kvs[0].n == 1 &&
                kvs[0].kv[0].create_revision == s->create_revision;
    v->ahead = (int64_t)kvs[1].n;
    v->limit = limit_of(ctx, kvs[2].n == 1 ? &kvs[2].kv[0] : NULL,
                        default_limit);
    if (kvs[1].n) {
        last = &kvs[1].kv[kvs[1].n - 1];
        if (last->key_len <= sizeof(v->pred)) {
            memcpy(v->pred, last->key, last->key_len);
            v->pred_len = last->key_len;
        }
        v->pred_waits = state_of(last) == SLOT_WAITING;
    }
    xlmig__etcd_kvs_free(&kvs[0]);
    xlmig__etcd_kvs_free(&kvs[1]);
    xlmig__etcd_kvs_free(&kvs[2]);
    return 0;
}

/* Mark @s held: it keeps its key, lease and place (a put keeps the
 * create_revision); the put wakes the waiter behind it. */
static int mark_held(libxlmig_ctx *ctx, struct xlmig__etcd *e,
                     struct xlmig__etcd_slot *s)
{
    char value[SLOT_VALUE_MAX];
    size_t vlen;
    bool ok;
    int rc;
    const struct xlmig__etcd_cmp same = {
        .key = s->key, .key_len = s->key_len,
        .target = XLMIG__ETCD_CMP_CREATE, .result = XLMIG__ETCD_EQUAL,
        .number = s->create_revision,
    };
    struct xlmig__etcd_op put = {
        .kind = XLMIG__ETCD_OP_PUT, .key = s->key, .key_len = s->key_len,
        .lease = s->lease,
    };

    rc = slot_value(s, true, value, sizeof(value), &vlen);
    if (rc)
        return xlmig__error(ctx, rc, -1, "migration slot of task %" PRIu64
                            ": its value does not fit", s->task);
    put.value = value;
    put.value_len = vlen;
    rc = xlmig__etcd_txn(e, &same, 1, &put, 1, NULL, 0, &ok, NULL);
    if (rc)
        return rc;
    if (!ok)
        return xlmig__error(ctx, LIBXLMIG_ERR_NOT_FOUND, -1,
                            "migration slot of task %" PRIu64 " is gone "
                            "(its lease %" PRId64 " expired); queue it "
                            "again", s->task, s->lease);
    s->held = true;
    return 0;
}

int xlmig__etcd_slot_wait(libxlmig_ctx *ctx, struct xlmig__etcd *e,
                          const char *prefix, struct xlmig__etcd_slot *slot,
                          unsigned default_limit, unsigned timeout_ms,
                          const volatile bool *cancel, unsigned *ahead_r)
{
    char sprefix[XLMIG__ETCD_PREFIX_MAX + 32];
    size_t slen;
    uint64_t deadline = now_ms() + timeout_ms;
    int rc;

    if (ahead_r)
        *ahead_r = 0;
    rc = xlmig__etcd_prefix_check(ctx, prefix);
    if (rc)
        return rc;
    if (!slot->create_revision)
        return xlmig__error(ctx, LIBXLMIG_ERR_INVALID_ARGUMENT, -1,
                            "migration slot of task %" PRIu64 " was never "
                            "queued", slot->task);
    if (slot->held)
        return 0;
    slen = key_of(sprefix, sizeof(sprefix), prefix, "");

    for (;;) {
        struct view v;
        int64_t wrev = 0;
        bool deleted;
        uint64_t now;
        unsigned slice;

        if (cancel && *cancel)
            return xlmig__error(ctx, LIBXLMIG_ERR_CANCELLED, -1,
                                "task %" PRIu64 " stopped waiting for a "
                                "migration slot", slot->task);
        /* Its key, the keys before it and the limit, at one revision:
         * the watch below starts right after it, so nothing that
         * changes meanwhile is missed. */
        rc = look(ctx, e, prefix, slot, default_limit, &v);
        if (rc)
            return rc;
        if (!v.exists)
            return xlmig__error(ctx, LIBXLMIG_ERR_NOT_FOUND, -1,
                                "migration slot of task %" PRIu64 " is gone "
                                "(its lease %" PRId64 " expired); queue it "
                                "again", slot->task, slot->lease);
        if (v.ahead < (int64_t)v.limit)
            return mark_held(ctx, e, slot);
        if (ahead_r)
            *ahead_r = v.ahead > UINT32_MAX ? UINT32_MAX : (unsigned)v.ahead;
        now = now_ms();
        if (now >= deadline)
            return LIBXLMIG_ERR_TIMEOUT;    /* not yet: not an error */
        slice = deadline - now > WATCH_SLICE_MS ? WATCH_SLICE_MS
                                                : (unsigned)(deadline - now);
        if (v.pred_waits)
            /* Behind another waiter: its grant or its end comes first. */
            rc = xlmig__etcd_watch(e, v.pred, v.pred_len, false,
                                   v.revision + 1, slice, cancel, &deleted,
                                   &wrev);
        else
            /* The first waiter: any release, or a new limit. */
            rc = xlmig__etcd_watch(e, sprefix, slen, true, v.revision + 1,
                                   slice, cancel, &deleted, &wrev);
        if (rc == LIBXLMIG_ERR_TIMEOUT)
            continue;                   /* the deadline is checked above */
        if (rc)
            return rc;
    }
}

int xlmig__etcd_slot_release(libxlmig_ctx *ctx, struct xlmig__etcd *e,
                             struct xlmig__etcd_slot *slot)
{
    const struct xlmig__etcd_cmp same = {
        .key = slot->key, .key_len = slot->key_len,
        .target = XLMIG__ETCD_CMP_CREATE, .result = XLMIG__ETCD_EQUAL,
        .number = slot->create_revision,
    };
    const struct xlmig__etcd_op del = {
        .kind = XLMIG__ETCD_OP_DELETE, .key = slot->key,
        .key_len = slot->key_len,
    };
    bool ok;
    int rc;

    (void)ctx;
    if (!slot->create_revision)
        return 0;
    /* Only our own key: a task queued again since is not ours to drop. */
    rc = xlmig__etcd_txn(e, &same, 1, &del, 1, NULL, 0, &ok, NULL);
    if (rc)
        return rc;
    slot->create_revision = 0;
    slot->held = false;
    return 0;
}

int xlmig__etcd_slots_stats(libxlmig_ctx *ctx, struct xlmig__etcd *e,
                            const char *prefix, unsigned default_limit,
                            unsigned *held_r, unsigned *waiting_r)
{
    char qprefix[XLMIG__ETCD_PREFIX_MAX + 32];
    struct xlmig__etcd_range r = {
        .prefix = true, .sort = XLMIG__ETCD_SORT_CREATE,
    };
    struct xlmig__etcd_kvs kvs = { 0 };
    unsigned held = 0, waiting = 0, limit;
    size_t qlen, i;
    int rc;

    rc = xlmig__etcd_slots_limit_get(ctx, e, prefix, default_limit, &limit);
    if (rc)
        return rc;
    qlen = key_of(qprefix, sizeof(qprefix), prefix, "q/");
    rc = xlmig__etcd_get(e, qprefix, qlen, &r, &kvs);
    for (i = 0; !rc && i < kvs.n; i++) {
        const struct xlmig__etcd_kv *kv = &kvs.kv[i];
        char k[301];

        switch (state_of(kv)) {
        case SLOT_HELD:
            held++;
            break;
        case SLOT_WAITING:
            waiting++;
            break;
        case SLOT_BAD:
            xlmig__etcd_key_text(kv, k, sizeof(k));
            xlmig__log(ctx, XTL_WARN, -1, "%s: not a migration slot "
                       "(skipped: counted in its place)", k);
            if (i < limit)
                held++;
            else
                waiting++;
            break;
        }
    }
    xlmig__etcd_kvs_free(&kvs);
    if (held_r)
        *held_r = held;
    if (waiting_r)
        *waiting_r = waiting;
    return rc;
}

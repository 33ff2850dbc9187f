/* SPDX-License-Identifier: LGPL-2.1-only */
/*
 * A pool's state on etcd (etcd-state.h): one key per part of the state,
 * changed by compare-and-swap.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "etcd-slots.h"
#include "etcd-state.h"
#include "internal.h"

#define KEY_MAX (XLMIG__ETCD_PREFIX_MAX + 64)
/* A transaction's compares and ops, TXN_OPS_MAX of either: one of each
 * per part it changes, and the last op kept for the slots' limit. */
#define CHANGES_MAX XLMIG__ETCD_TXN_OPS_MAX
/* Keys that are no part, remembered to be written over. */
#define SKIPPED_MAX 16

/* Where each part read came from: its key's mod revision (0: absent). */
struct revs {
    int64_t head;
    int64_t member[XLMIG__POOL_MEMBERS_MAX];   /* as st->members */
    int64_t *task;                              /* as st->tasks */
    /* Keys left out (not a part): a change that writes one writes over
     * it, guarded by its mod revision as any other. */
    struct {
        char key[KEY_MAX];
        int64_t mod;
    } skipped[SKIPPED_MAX];
    size_t nr_skipped;
};

static size_t head_key(char *k, const char *prefix)
{
    return (size_t)snprintf(k, KEY_MAX, "%s/pool", prefix);
}

static size_t member_key(char *k, const char *prefix, const char *name)
{
    return (size_t)snprintf(k, KEY_MAX, "%s/members/%s", prefix, name);
}

static size_t task_key(char *k, const char *prefix, uint64_t id)
{
    return (size_t)snprintf(k, KEY_MAX, "%s/tasks/%016" PRIx64, prefix, id);
}

static void skipped(libxlmig_ctx *ctx, struct revs *rv,
                    const struct xlmig__etcd_kv *kv, const char *why)
{
    char k[201];

    xlmig__etcd_key_text(kv, k, sizeof(k));
    xlmig__log(ctx, XTL_WARN, -1, "pool state on etcd: key %s left out: %s",
               k, why);
    if (rv->nr_skipped < SKIPPED_MAX && kv->key_len < KEY_MAX &&
        !memchr(kv->key, 0, kv->key_len)) {
        memcpy(rv->skipped[rv->nr_skipped].key, kv->key, kv->key_len);
        rv->skipped[rv->nr_skipped].key[kv->key_len] = 0;
        rv->skipped[rv->nr_skipped++].mod = kv->mod_revision;
    }
}

/* The mod revision of a key left out, 0 when @k is none. */
static int64_t skipped_rev(const struct revs *rv, const char *k)
{
    size_t i;

    for (i = 0; i < rv->nr_skipped; i++)
        if (!strcmp(rv->skipped[i].key, k))
            return rv->skipped[i].mod;
    return 0;
}

/* Keys in the order they were created, by key among those created at
 * once (in one transaction): hosts and migrations in the order they were
 * added, as xlmig__etcd_state_import() writes them. */
static int by_creation(const void *a, const void *b)
{
    const struct xlmig__etcd_kv *x = a, *y = b;
    size_t n = x->key_len < y->key_len ? x->key_len : y->key_len;
    int c;

    if (x->create_revision != y->create_revision)
        return x->create_revision < y->create_revision ? -1 : 1;
    c = memcmp(x->key, y->key, n);
    return c ? c : (x->key_len > y->key_len) - (x->key_len < y->key_len);
}

/*
 * The hosts (@part MEMBER) or migrations (TASK) in @kvs, in the order
 * they were created, added to @st; each one's mod revision in @mods, as
 * it stands in @st.  A key that is no such part, or names another, is
 * left out.  Fails only for want of memory.
 */
static int read_parts(libxlmig_ctx *ctx, const char *prefix,
                      enum xlmig__pool_part part, struct xlmig__etcd_kvs *kvs,
                      struct xlmig__pool_state *st, struct revs *rv,
                      int64_t *mods)
{
    bool host = part == XLMIG__POOL_PART_MEMBER;
    char label[KEY_MAX + 8], expect[KEY_MAX];
    size_t i, n;
    int rc;

    if (kvs->n > 1)
        qsort(kvs->kv, kvs->n, sizeof(*kvs->kv), by_creation);
    for (i = 0; i < kvs->n; i++) {
        const struct xlmig__etcd_kv *kv = &kvs->kv[i];

        n = host ? st->nr_members : st->nr_tasks;
        xlmig__etcd_key_text(kv, label, sizeof(label));
        rc = xlmig__pool_part_decode(ctx, label, part,
                                     (const uint8_t *)kv->value,
                                     kv->value_len, st);
        if (rc == LIBXLMIG_ERR_NO_MEMORY)
            return rc;
        if (rc) {
            skipped(ctx, rv, kv, host ? "not a host of the pool"
                                      : "not a migration of the pool");
            continue;
        }
        if (host)
            member_key(expect, prefix, st->members[n].name);
        else
            task_key(expect, prefix, st->tasks[n].id);
        if (strlen(expect) != kv->key_len ||
            memcmp(expect, kv->key, kv->key_len)) {
            skipped(ctx, rv, kv, host ? "its host has another name"
                                      : "its migration has another id");
            if (host)
                st->nr_members--;
            else
                (void)xlmig__pool_task_remove(NULL, st, st->tasks[n].id);
            continue;
        }
        mods[n] = kv->mod_revision;
    }
    return 0;
}

/* The state and where each part came from, in one request: one view. */
static int load(libxlmig_ctx *ctx, struct xlmig__etcd *e, const char *prefix,
                struct xlmig__pool_state *st, struct revs *rv,
                bool *missing_r)
{
    const struct xlmig__etcd_range under = {
        .prefix = true, .sort = XLMIG__ETCD_SORT_CREATE,
    };
    char keys[3][KEY_MAX], label[KEY_MAX + 8];
    struct xlmig__etcd_read reads[3] = {
        { .key = keys[0] },
        { .key = keys[1], .range = &under },
        { .key = keys[2], .range = &under },
    };
    struct xlmig__etcd_kvs kvs[3];
    struct xlmig__pool_state tmp;
    int rc;

    xlmig__pool_state_init(&tmp);
    memset(rv, 0, sizeof(*rv));
    *missing_r = true;
    reads[0].key_len = head_key(keys[0], prefix);
    reads[1].key_len = (size_t)snprintf(keys[1], KEY_MAX, "%s/members/",
                                        prefix);
    reads[2].key_len = (size_t)snprintf(keys[2], KEY_MAX, "%s/tasks/",
                                        prefix);
    rc = xlmig__etcd_get_many(e, reads, 3, kvs);
    if (rc)
        return rc;
    if (kvs[0].n == 1) {
        snprintf(label, sizeof(label), "%s/pool", prefix);
        rc = xlmig__pool_part_decode(ctx, label, XLMIG__POOL_PART_HEAD,
                                     (const uint8_t *)kvs[0].kv[0].value,
                                     kvs[0].kv[0].value_len, &tmp);
        if (rc == LIBXLMIG_ERR_NO_MEMORY)
            goto out;
        /* A head that does not decode is the whole pool's: named, and
         * read as the defaults, which the next change writes over. */
        if (rc)
            skipped(ctx, rv, &kvs[0].kv[0], "not a pool head");
        *missing_r = false;
        rv->head = kvs[0].kv[0].mod_revision;
    }
    rc = read_parts(ctx, prefix, XLMIG__POOL_PART_MEMBER, &kvs[1], &tmp, rv,
                    rv->member);
    if (rc)
        goto out;
    if (kvs[2].n) {
        rv->task = calloc(kvs[2].n, sizeof(*rv->task));
        if (!rv->task) {
            rc = xlmig__error(ctx, LIBXLMIG_ERR_NO_MEMORY, -1, "pool state "
                              "on etcd: no memory for %zu tasks", kvs[2].n);
            goto out;
        }
    }
    rc = read_parts(ctx, prefix, XLMIG__POOL_PART_TASK, &kvs[2], &tmp, rv,
                    rv->task);
    if (rc)
        goto out;
    xlmig__pool_state_dispose(st);
    *st = tmp;
    xlmig__pool_state_init(&tmp);
out:
    xlmig__etcd_kvs_free(&kvs[0]);
    xlmig__etcd_kvs_free(&kvs[1]);
    xlmig__etcd_kvs_free(&kvs[2]);
    xlmig__pool_state_dispose(&tmp);
    if (rc) {
        free(rv->task);
        rv->task = NULL;
    }
    return rc;
}

int xlmig__etcd_state_load(libxlmig_ctx *ctx, struct xlmig__etcd *e,
                           const char *prefix, struct xlmig__pool_state *st,
                           bool *missing_r)
{
    struct revs rv;
    bool missing;
    int rc = xlmig__etcd_prefix_check(ctx, prefix);

    if (rc)
        return rc;
    rc = load(ctx, e, prefix, st, &rv, &missing);
    free(rv.task);
    if (!rc && missing_r)
        *missing_r = missing;
    return rc;
}

/* ---------------------------------------------------------- the change */

/* A transaction being built: its compares and ops, and the texts and
 * keys they point into. */
struct txn {
    struct xlmig__etcd_cmp cmp[CHANGES_MAX];
    struct xlmig__etcd_op op[CHANGES_MAX];
    char key[CHANGES_MAX][KEY_MAX];
    char *text[CHANGES_MAX];
    size_t n;
    bool put_limit;                     /* the head's limit changed */
};

static void txn_free(struct txn *t)
{
    size_t i;

    for (i = 0; i < t->n; i++)
        free(t->text[i]);
    t->n = 0;
}

/*
 * Add "key @k is as it was (@rev; 0: absent), then put @text (taken) /
 * delete it (@text NULL)".
 */
static int txn_add(libxlmig_ctx *ctx, struct txn *t, const char *k,
                   int64_t rev, char *text, size_t len)
{
    size_t i = t->n;

    if (i == CHANGES_MAX - 1) {        /* the last is the slots' limit's */
        free(text);
        return xlmig__error(ctx, LIBXLMIG_ERR_UNSUPPORTED, -1, "pool state "
                            "on etcd: more than %d parts changed at once",
                            CHANGES_MAX - 1);
    }
    xlmig__strlcpy(t->key[i], k, KEY_MAX);
    t->text[i] = text;
    t->cmp[i] = (struct xlmig__etcd_cmp){
        .key = t->key[i], .key_len = strlen(t->key[i]),
        .target = rev ? XLMIG__ETCD_CMP_MOD : XLMIG__ETCD_CMP_VERSION,
        .result = XLMIG__ETCD_EQUAL, .number = rev,
    };
    t->op[i] = (struct xlmig__etcd_op){
        .kind = text ? XLMIG__ETCD_OP_PUT : XLMIG__ETCD_OP_DELETE,
        .key = t->key[i], .key_len = t->cmp[i].key_len,
        .value = text, .value_len = len,
    };
    t->n++;
    return 0;
}

/* Part @i of @a and part @j of @b: the same text? */
static int part_diff(const struct xlmig__pool_state *a, size_t i,
                     const struct xlmig__pool_state *b, size_t j,
                     enum xlmig__pool_part part, char **text_r,
                     size_t *len_r, bool *same_r)
{
    char *old = NULL;
    size_t olen;
    int rc;

    rc = xlmig__pool_part_encode(b, part, j, text_r, len_r);
    if (rc || !a)
        return rc;
    rc = xlmig__pool_part_encode(a, part, i, &old, &olen);
    if (rc) {
        free(*text_r);
        *text_r = NULL;
        return rc;
    }
    *same_r = olen == *len_r && !memcmp(old, *text_r, olen);
    free(old);
    return 0;
}

/* What turns @was (read as @rv) into @now, into @t. */
static int build(libxlmig_ctx *ctx, const char *prefix,
                 const struct xlmig__pool_state *was, const struct revs *rv,
                 bool missing, struct xlmig__pool_state *now, struct txn *t)
{
    char k[KEY_MAX], *text;
    size_t i, j, len;
    bool same = false;
    int rc;

    rc = xlmig__pool_state_check(ctx, now);
    if (rc)
        return rc;
    rc = part_diff(missing ? NULL : was, 0, now, 0, XLMIG__POOL_PART_HEAD,
                   &text, &len, &same);
    if (rc)
        goto bad;
    if (missing || !same) {
        head_key(k, prefix);
        rc = txn_add(ctx, t, k, rv->head, text, len);   /* a head left out
                                                         * has its rev too */
        if (rc)
            return rc;
        t->put_limit = missing || was->concurrency != now->concurrency;
    } else {
        free(text);
    }

    for (j = 0; j < now->nr_members; j++) {
        const struct xlmig__pool_member *m = &now->members[j];

        for (i = 0; i < was->nr_members; i++)
            if (!strcmp(was->members[i].name, m->name))
                break;
        rc = part_diff(i < was->nr_members ? was : NULL, i, now, j,
                       XLMIG__POOL_PART_MEMBER, &text, &len, &same);
        if (rc)
            goto bad;
        if (i < was->nr_members && same) {
            free(text);
            continue;
        }
        member_key(k, prefix, m->name);
        rc = txn_add(ctx, t, k, i < was->nr_members ? rv->member[i]
                                                    : skipped_rev(rv, k),
                     text, len);
        if (rc)
            return rc;
    }
    for (i = 0; i < was->nr_members; i++) {
        if (xlmig__pool_member_find(now, was->members[i].name))
            continue;
        member_key(k, prefix, was->members[i].name);
        rc = txn_add(ctx, t, k, rv->member[i], NULL, 0);
        if (rc)
            return rc;
    }

    for (j = 0; j < now->nr_tasks; j++) {
        const struct xlmig__pool_task *tk = &now->tasks[j];

        for (i = 0; i < was->nr_tasks; i++)
            if (was->tasks[i].id == tk->id)
                break;
        rc = part_diff(i < was->nr_tasks ? was : NULL, i, now, j,
                       XLMIG__POOL_PART_TASK, &text, &len, &same);
        if (rc)
            goto bad;
        if (i < was->nr_tasks && same) {
            free(text);
            continue;
        }
        task_key(k, prefix, tk->id);
        rc = txn_add(ctx, t, k, i < was->nr_tasks ? rv->task[i]
                                                  : skipped_rev(rv, k),
                     text, len);
        if (rc)
            return rc;
    }
    for (i = 0; i < was->nr_tasks; i++) {
        if (xlmig__pool_task_find(now, was->tasks[i].id))
            continue;
        task_key(k, prefix, was->tasks[i].id);
        rc = txn_add(ctx, t, k, rv->task[i], NULL, 0);
        if (rc)
            return rc;
    }
    return 0;
bad:
    return xlmig__error(ctx, rc, -1, "pool state on etcd: a part of the "
                        "changed state cannot be written");
}

int xlmig__etcd_state_update(libxlmig_ctx *ctx, struct xlmig__etcd *e,
                             const char *prefix,
                             xlmig__etcd_state_change *change, void *arg,
                             struct xlmig__pool_state *st_r)
{
    struct xlmig__pool_state was, now;
    struct txn *t = NULL;
    struct revs *rv = NULL;
    char limit_key[KEY_MAX], limit[16];
    unsigned tries;
    bool missing, ok;
    int rc;

    xlmig__pool_state_init(&was);
    xlmig__pool_state_init(&now);
    rc = xlmig__etcd_prefix_check(ctx, prefix);
    if (rc)
        return rc;
    t = xlmig__zalloc(sizeof(*t));
    rv = xlmig__zalloc(sizeof(*rv));
    if (!t || !rv)
        return xlmig__error(ctx, LIBXLMIG_ERR_NO_MEMORY, -1, "pool state "
                            "on etcd: no memory for a change");
    snprintf(limit_key, sizeof(limit_key), "%s/slots/limit", prefix);
    for (tries = 0; tries < XLMIG__ETCD_STATE_TRIES; tries++) {
        size_t nops;

        free(rv->task);
        rv->task = NULL;
        txn_free(t);
        rc = load(ctx, e, prefix, &was, rv, &missing);
        if (rc)
            goto out;
        rc = xlmig__pool_state_copy(ctx, &now, &was);
        if (rc)
            goto out;
        rc = change(ctx, &now, arg);
        if (rc)
            goto out;
        rc = build(ctx, prefix, &was, rv, missing, &now, t);
        if (rc)
            goto out;
        if (!t->n)
            break;                      /* nothing changed */
        nops = t->n;
        if (t->put_limit) {
            /* The slots' copy of the limit, with the head (whose compare
             * guards it). */
            snprintf(limit, sizeof(limit), "%u", now.concurrency);
            t->op[nops++] = (struct xlmig__etcd_op){
                .kind = XLMIG__ETCD_OP_PUT, .key = limit_key,
                .key_len = strlen(limit_key), .value = limit,
                .value_len = strlen(limit),
            };
        }
        rc = xlmig__etcd_txn(e, t->cmp, t->n, t->op, nops, NULL, 0, &ok,
                             NULL);
        if (rc)
            goto out;
        if (ok)
            break;
        /* Someone changed what we read: do it again on what is there. */
    }
    if (tries == XLMIG__ETCD_STATE_TRIES) {
        rc = xlmig__error(ctx, LIBXLMIG_ERR_OTHER_OPERATION_IN_PROGRESS, -1,
                          "pool state on etcd under %s: changed by others "
                          "%d times while this change was made; try again",
                          prefix, XLMIG__ETCD_STATE_TRIES);
        goto out;
    }
    if (st_r) {
        xlmig__pool_state_dispose(st_r);
        *st_r = now;
        xlmig__pool_state_init(&now);
    }
    rc = 0;
out:
    if (t)
        txn_free(t);
    free(t);
    if (rv)
        free(rv->task);
    free(rv);
    xlmig__pool_state_dispose(&was);
    xlmig__pool_state_dispose(&now);
    return rc;
}

/* ------------------------------------------------------------ import */

/* Put parts @from..@to - 1 of kind @part of @st, each only if absent, in
 * one transaction. */
static int import_batch(libxlmig_ctx *ctx, struct xlmig__etcd *e,
                        const char *prefix,
                        const struct xlmig__pool_state *st,
                        enum xlmig__pool_part part, size_t from, size_t to,
                        struct txn *t)
{
    char k[KEY_MAX], *text;
    size_t i, len;
    bool ok;
    int rc = 0;

    txn_free(t);
    for (i = from; !rc && i < to; i++) {
        rc = xlmig__pool_part_encode(st, part, i, &text, &len);
        if (rc)
            return xlmig__error(ctx, rc, -1, "pool state: part %zu cannot "
                                "be written", i);
        if (part == XLMIG__POOL_PART_MEMBER)
            member_key(k, prefix, st->members[i].name);
        else
            task_key(k, prefix, st->tasks[i].id);
        rc = txn_add(ctx, t, k, 0, text, len);
    }
    if (!rc)
        rc = xlmig__etcd_txn(e, t->cmp, t->n, t->op, t->n, NULL, 0, &ok,
                             NULL);
    if (!rc && !ok)
        rc = xlmig__error(ctx, LIBXLMIG_ERR_OTHER_OPERATION_IN_PROGRESS, -1,
                          "pool state under %s: a host or migration being "
                          "copied there is there already (another copy "
                          "under way?)", prefix);
    txn_free(t);
    return rc;
}

int xlmig__etcd_state_import(libxlmig_ctx *ctx, struct xlmig__etcd *e,
                             const char *prefix,
                             const struct xlmig__pool_state *st)
{
    struct xlmig__etcd_kvs kvs = { 0 };
    struct txn *t = NULL;
    char k[KEY_MAX], limit[16], *text = NULL;
    size_t i, len, n;
    bool ok;
    int rc;

    rc = xlmig__etcd_prefix_check(ctx, prefix);
    if (rc)
        return rc;
    rc = xlmig__pool_state_check(ctx, st);
    if (rc)
        return rc;
    /* Nothing of a pool there already: its hosts, tasks or head. */
    n = (size_t)snprintf(k, sizeof(k), "%s/", prefix);
    rc = xlmig__etcd_get(e, k, n, &(struct xlmig__etcd_range){
                             .prefix = true, .count_only = true }, &kvs);
    if (rc)
        return rc;
    if (kvs.count) {
        rc = xlmig__error(ctx, LIBXLMIG_ERR_OTHER_OPERATION_IN_PROGRESS, -1,
                          "pool state: %" PRId64 " keys under %s already; "
                          "a pool is kept there (remove them, or choose "
                          "another prefix)", kvs.count, prefix);
        goto out;
    }
    t = xlmig__zalloc(sizeof(*t));
    if (!t) {
        rc = xlmig__error(ctx, LIBXLMIG_ERR_NO_MEMORY, -1, "pool state: "
                          "no memory to copy it");
        goto out;
    }
    /* Keys written at once share a revision and are read back by key
     * among those: a run of keys that ascend goes in one transaction. */
    for (i = 0; !rc && i < st->nr_members; i = n) {
        for (n = i + 1; n < st->nr_members && n - i < CHANGES_MAX - 1 &&
                        strcmp(st->members[n - 1].name,
                               st->members[n].name) < 0; n++)
            ;
        rc = import_batch(ctx, e, prefix, st, XLMIG__POOL_PART_MEMBER, i, n,
                          t);
    }
    for (i = 0; !rc && i < st->nr_tasks; i = n) {
        for (n = i + 1; n < st->nr_tasks && n - i < CHANGES_MAX - 1 &&
                        st->tasks[n - 1].id < st->tasks[n].id; n++)
            ;
        rc = import_batch(ctx, e, prefix, st, XLMIG__POOL_PART_TASK, i, n,
                          t);
    }
    if (rc)
        goto out;
    /* The head last: with it, the pool is there. */
    rc = xlmig__pool_part_encode(st, XLMIG__POOL_PART_HEAD, 0, &text, &len);
    if (rc) {
        rc = xlmig__error(ctx, rc, -1, "pool state: its head cannot be "
                          "written");
        goto out;
    }
    head_key(k, prefix);
    rc = txn_add(ctx, t, k, 0, text, len);
    text = NULL;
    if (!rc) {
        char lkey[KEY_MAX], nkey[KEY_MAX], next[24];
        uint64_t top = 0;

        for (i = 0; i < st->nr_tasks; i++)
            if (st->tasks[i].id > top)
                top = st->tasks[i].id;
        snprintf(lkey, sizeof(lkey), "%s/slots/limit", prefix);
        snprintf(limit, sizeof(limit), "%u", st->concurrency);
        snprintf(nkey, sizeof(nkey), "%s/next-task", prefix);
        snprintf(next, sizeof(next), "%" PRIu64, top + 1);
        t->op[1] = (struct xlmig__etcd_op){
            .kind = XLMIG__ETCD_OP_PUT, .key = lkey, .key_len = strlen(lkey),
            .value = limit, .value_len = strlen(limit),
        };
        t->op[2] = (struct xlmig__etcd_op){
            .kind = XLMIG__ETCD_OP_PUT, .key = nkey, .key_len = strlen(nkey),
            .value = next, .value_len = strlen(next),
        };
        rc = xlmig__etcd_txn(e, t->cmp, 1, t->op, 3, NULL, 0, &ok, NULL);
        if (!rc && !ok)
            rc = xlmig__error(ctx, LIBXLMIG_ERR_OTHER_OPERATION_IN_PROGRESS,
                              -1, "pool state under %s: its head was "
                              "written meanwhile (another copy under way?)",
                              prefix);
    }
out:
    free(text);
    if (t)
        txn_free(t);
    free(t);
    xlmig__etcd_kvs_free(&kvs);
    return rc;
}

/* ------------------------------------------------------------ task ids */

int xlmig__etcd_state_next_task(libxlmig_ctx *ctx, struct xlmig__etcd *e,
                                const char *prefix, uint64_t *id_r)
{
    char k[KEY_MAX], value[24];
    unsigned tries;
    size_t klen;
    int rc;

    *id_r = 0;
    rc = xlmig__etcd_prefix_check(ctx, prefix);
    if (rc)
        return rc;
    klen = (size_t)snprintf(k, sizeof(k), "%s/next-task", prefix);
    for (tries = 0; tries < XLMIG__ETCD_STATE_TRIES; tries++) {
        struct xlmig__etcd_kvs kvs = { 0 };
        unsigned long long next = 1;
        int64_t mod = 0;
        char *end = NULL;
        bool ok;

        rc = xlmig__etcd_get(e, k, klen, NULL, &kvs);
        if (rc)
            return rc;
        if (kvs.n == 1) {
            mod = kvs.kv[0].mod_revision;
            errno = 0;
            next = strtoull(kvs.kv[0].value, &end, 10);
            if (errno || !kvs.kv[0].value_len || *end ||
                kvs.kv[0].value[0] < '1' || kvs.kv[0].value[0] > '9' ||
                next > XLMIG__POOL_TASK_ID_MAX) {
                xlmig__etcd_kvs_free(&kvs);
                return xlmig__error(ctx, LIBXLMIG_ERR_POOL_STATE_INVALID, -1,
                                    "pool state on etcd: %s is not a task "
                                    "id; set it above the greatest task id",
                                    k);
            }
        }
        xlmig__etcd_kvs_free(&kvs);
        if (next >= XLMIG__POOL_TASK_ID_MAX)
            return xlmig__error(ctx, LIBXLMIG_ERR_TOO_MANY_MIGRATIONS, -1,
                                "pool state on etcd: no task id is left "
                                "(%s)", k);
        snprintf(value, sizeof(value), "%llu", next + 1);
        {
            const struct xlmig__etcd_cmp same = {
                .key = k, .key_len = klen,
                .target = mod ? XLMIG__ETCD_CMP_MOD : XLMIG__ETCD_CMP_VERSION,
                .result = XLMIG__ETCD_EQUAL, .number = mod,
            };
            const struct xlmig__etcd_op put = {
                .kind = XLMIG__ETCD_OP_PUT, .key = k, .key_len = klen,
                .value = value, .value_len = strlen(value),
            };

            rc = xlmig__etcd_txn(e, &same, 1, &put, 1, NULL, 0, &ok, NULL);
        }
        if (rc)
            return rc;
        if (ok) {
            *id_r = next;
            return 0;
        }
    }
    return xlmig__error(ctx, LIBXLMIG_ERR_OTHER_OPERATION_IN_PROGRESS, -1,
                        "pool state on etcd: %s changed by others %d times "
                        "while a task id was taken; try again", k,
                        XLMIG__ETCD_STATE_TRIES);
}

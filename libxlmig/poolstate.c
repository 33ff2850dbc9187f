/* SPDX-License-Identifier: LGPL-2.1-only */
/*
 * The pool master's state file, STATE/pool.json (poolstate.h,
 * docs/specs/pool-state.md): JSON through yajl, written crash-safely,
 * read with the size capped before anything is allocated.
 *
 * Decoding works as the CPU records' does (jsonfile.c): yajl's event
 * parser first, with callbacks that only watch, then yajl_tree_parse()
 * on text known to be good, read member by member into a state of our
 * own that replaces the caller's only when everything was read.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <yajl/yajl_gen.h>
#include <yajl/yajl_tree.h>

#include "cpurecord.h"
#include "featureset.h"
#include "internal.h"
#include "names.h"
#include "jsonfile.h"
#include "poolstate.h"
#include "sr.h"
#include "uuid.h"

#define STATE_PATH_MAX XLMIG__JSONFILE_PATH_MAX

#define QUOTED_MAX (XLMIG__QUOTE_MAX + 8)

#define PHASE_RULE "a phase is 1 to 32 bytes of A-Z, a-z, 0-9, '.', '_' " \
                   "and '-'"
#define UUID_RULE "a uuid is 36 characters as " \
                  "\"01234567-89ab-cdef-0123-456789abcdef\""
#define WLB_HOOK_RULE "a wlb-hook is a command line of at most 1024 " \
                      "bytes of printable ASCII (space to '~'), or \"\" " \
                      "for none"

/* ------------------------------------------------------------ values */

static bool phase_ok(const char *s, char *why, size_t len, size_t *at_r)
{
    return xlmig__word_ok(s, XLMIG__POOL_PHASE_MAX, false, why, len, at_r);
}

/* A wlb-hook: "" or up to 1024 bytes from ' ' to '~'. */
static bool wlb_hook_ok(const char *s, char *why, size_t len, size_t *at_r)
{
    size_t i;

    for (i = 0; s[i]; i++) {
        if (i == XLMIG__POOL_WLB_HOOK_MAX) {
            snprintf(why, len, "it is longer than %d bytes",
                     XLMIG__POOL_WLB_HOOK_MAX);
            *at_r = i;
            return false;
        }
        if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] > 0x7e) {
            snprintf(why, len, "byte %zu is not printable ASCII", i);
            *at_r = i;
            return false;
        }
    }
    return true;
}

/* ------------------------------------------------------------ state */

void xlmig__pool_state_init(struct xlmig__pool_state *st)
{
    if (!st)
        return;
    memset(st, 0, sizeof(*st));
    st->compression = false;
    st->concurrency = XLMIG__POOL_CONCURRENCY_DEFAULT;
    st->wlb_hook_timeout = XLMIG__POOL_WLB_TIMEOUT_DEFAULT;
}

void xlmig__pool_state_dispose(struct xlmig__pool_state *st)
{
    if (!st)
        return;
    free(st->tasks);
    xlmig__pool_state_init(st);
}

int xlmig__pool_state_copy(libxlmig_ctx *ctx, struct xlmig__pool_state *dst,
                           const struct xlmig__pool_state *src)
{
    struct xlmig__pool_task *tasks = NULL;

    if (!dst || !src || dst == src || src->nr_tasks > XLMIG__POOL_TASKS_MAX ||
        src->nr_members > XLMIG__POOL_MEMBERS_MAX)
        return xlmig__error_opt(ctx, LIBXLMIG_ERR_INVALID_ARGUMENT,
                                "pool state copy: no state, or too many "
                                "members or tasks");
    if (src->nr_tasks) {
        tasks = malloc(sizeof(*tasks) * src->nr_tasks);
        if (!tasks)
            return xlmig__error_opt(ctx, LIBXLMIG_ERR_NO_MEMORY,
                                    "no memory to copy %zu tasks of the "
                                    "pool state", src->nr_tasks);
        memcpy(tasks, src->tasks, sizeof(*tasks) * src->nr_tasks);
    }
    free(dst->tasks);
    *dst = *src;
    dst->tasks = tasks;         /* dst owns it now */
    dst->tasks_cap = src->nr_tasks;
    return 0;
}

static bool member_equal(const struct xlmig__pool_member *a,
                         const struct xlmig__pool_member *b)
{
    return !strcmp(a->name, b->name) && !strcmp(a->address, b->address) &&
           a->joined == b->joined && a->enabled == b->enabled;
}

static bool task_equal(const struct xlmig__pool_task *a,
                       const struct xlmig__pool_task *b)
{
    return a->id == b->id && !strcmp(a->vm, b->vm) &&
           !strcmp(a->source, b->source) &&
           !strcmp(a->destination, b->destination) &&
           !strcmp(a->phase, b->phase) && a->progress == b->progress &&
           a->created == b->created && a->priority == b->priority &&
           !strcmp(a->uuid, b->uuid);
}

bool xlmig__pool_state_equal(const struct xlmig__pool_state *a,
                             const struct xlmig__pool_state *b)
{
    size_t i;

    if (!a || !b)
        return a == b;
    if (strcmp(a->name, b->name) || strcmp(a->uuid, b->uuid) ||
        a->compression != b->compression ||
        a->concurrency != b->concurrency ||
        strncmp(a->wlb_hook, b->wlb_hook, sizeof(a->wlb_hook)) ||
        a->wlb_hook_timeout != b->wlb_hook_timeout ||
        a->rolling_upgrading != b->rolling_upgrading ||
        strncmp(a->rolling_held, b->rolling_held, sizeof(a->rolling_held)) ||
        a->nr_members != b->nr_members || a->nr_tasks != b->nr_tasks ||
        a->nr_members > XLMIG__POOL_MEMBERS_MAX)
        return false;
    for (i = 0; i < a->nr_members; i++) {
        if (!member_equal(&a->members[i], &b->members[i]))
            return false;
    }
    for (i = 0; i < a->nr_tasks; i++) {
        if (!task_equal(&a->tasks[i], &b->tasks[i]))
            return false;
    }
    return true;
}

/* The bounded strings of a struct end within their arrays. */
#define TERMINATED(field) (memchr((field), '\0', sizeof(field)) != NULL)

static int member_check(libxlmig_ctx *ctx, const char *what,
                        const struct xlmig__pool_member *m)
{
    char why[128], quoted[QUOTED_MAX];
    size_t at = 0;

    if (!TERMINATED(m->name) || !xlmig__name_ok(m->name, why, sizeof(why), &at)) {
        if (!TERMINATED(m->name))
            snprintf(why, sizeof(why), "it is not NUL-terminated");
        xlmig__quote(TERMINATED(m->name) ? m->name : "", at, quoted,
                     sizeof(quoted));
        return xlmig__error_opt(ctx, LIBXLMIG_ERR_INVALID_ARGUMENT,
                                "%s: host name \"%s\" is not valid: %s; %s",
                                what, quoted, why, XLMIG__NAME_RULE);
    }
    if (!TERMINATED(m->address) ||
        !xlmig__hostport_ok(m->address, why, sizeof(why), &at)) {
        if (!TERMINATED(m->address))
            snprintf(why, sizeof(why), "it is not NUL-terminated");
        xlmig__quote(TERMINATED(m->address) ? m->address : "", at, quoted,
                     sizeof(quoted));
        return xlmig__error_opt(ctx, LIBXLMIG_ERR_INVALID_ARGUMENT,
                                "%s: address \"%s\" of host %s is not "
                                "valid: %s; %s", what, quoted, m->name, why,
                                XLMIG__HOSTPORT_RULE);
    }
    if (m->joined < 0)
        return xlmig__error_opt(ctx, LIBXLMIG_ERR_INVALID_ARGUMENT,
                                "%s: host %s joined at %lld, before 1970",
                                what, m->name, (long long)m->joined);
    return 0;
}

/* A task's names: vm, source, destination. */
static int task_name_check(libxlmig_ctx *ctx, const char *what,
                           const char *label, const char *value, size_t size)
{
    char why[128], quoted[QUOTED_MAX];
    size_t at = 0;

    if (!memchr(value, '\0', size)) {
        snprintf(why, sizeof(why), "it is not NUL-terminated");
        value = "";
    } else if (xlmig__name_ok(value, why, sizeof(why), &at)) {
        return 0;
    }
    xlmig__quote(value, at, quoted, sizeof(quoted));
    return xlmig__error_opt(ctx, LIBXLMIG_ERR_INVALID_ARGUMENT,
                            "%s: %s \"%s\" is not valid: %s; %s", what,
                            label, quoted, why, XLMIG__NAME_RULE);
}

static int task_check(libxlmig_ctx *ctx, const char *what,
                      const struct xlmig__pool_task *t)
{
    char why[128], quoted[QUOTED_MAX];
    size_t at = 0;
    int rc;

    if (t->id < 1 || t->id > XLMIG__POOL_TASK_ID_MAX)
        return xlmig__error_opt(ctx, LIBXLMIG_ERR_INVALID_ARGUMENT,
                                "%s: task id %" PRIu64 " is not from 1 to "
                                "%" PRIu64, what, t->id,
                                XLMIG__POOL_TASK_ID_MAX);
    rc = task_name_check(ctx, what, "VM name", t->vm, sizeof(t->vm));
    if (!rc)
        rc = task_name_check(ctx, what, "source host name", t->source,
                             sizeof(t->source));
    if (!rc)
        rc = task_name_check(ctx, what, "destination host name",
                             t->destination, sizeof(t->destination));
    if (rc)
        return rc;
    if (!TERMINATED(t->phase) || !phase_ok(t->phase, why, sizeof(why), &at)) {
        if (!TERMINATED(t->phase))
            snprintf(why, sizeof(why), "it is not NUL-terminated");
        xlmig__quote(TERMINATED(t->phase) ? t->phase : "", at, quoted,
                     sizeof(quoted));
        return xlmig__error_opt(ctx, LIBXLMIG_ERR_INVALID_ARGUMENT,
                                "%s: phase \"%s\" of task %" PRIu64 " is "
                                "not valid: %s; %s", what, quoted, t->id, why,
                                PHASE_RULE);
    }
    if (t->progress > 100)
        return xlmig__error_opt(ctx, LIBXLMIG_ERR_INVALID_ARGUMENT,
                                "%s: progress %u of task %" PRIu64 " is not "
                                "from 0 to 100", what, t->progress, t->id);
    if (t->created < 0)
        return xlmig__error_opt(ctx, LIBXLMIG_ERR_INVALID_ARGUMENT,
                                "%s: task %" PRIu64 " was created at %lld, "
                                "before 1970", what, t->id,
                                (long long)t->created);
    return 0;
}

static int identity_check(libxlmig_ctx *ctx, const char *name,
                          const char *uuid)
{
    char why[128], quoted[QUOTED_MAX];
    size_t at = 0;

    if (!name || (name[0] && !xlmig__name_ok(name, why, sizeof(why), &at))) {
        if (!name)
            snprintf(why, sizeof(why), "nothing given");
        xlmig__quote(name, at, quoted, sizeof(quoted));
        return xlmig__error_opt(ctx, LIBXLMIG_ERR_INVALID_ARGUMENT,
                                "pool name \"%s\" is not valid: %s; %s, or "
                                "\"\" before the pool is named", quoted, why,
                                XLMIG__NAME_RULE);
    }
    if (!xlmig__uuid_valid(uuid, XLMIG__UUID_ANY_CASE |
                                 XLMIG__UUID_EMPTY_OK)) {
        xlmig__quote(uuid, 0, quoted, sizeof(quoted));
        return xlmig__error_opt(ctx, LIBXLMIG_ERR_INVALID_ARGUMENT,
                                "pool uuid \"%s\" is not valid; %s, or \"\" "
                                "before the pool is created", quoted,
                                UUID_RULE);
    }
    return 0;
}

/* The pool's own fields: its name, uuid and settings. */
static int head_check(libxlmig_ctx *ctx, const struct xlmig__pool_state *st)
{
    char why[128], quoted[QUOTED_MAX];
    size_t at = 0;
    int rc;

    if (!TERMINATED(st->name) || !TERMINATED(st->uuid))
        return xlmig__error_opt(ctx, LIBXLMIG_ERR_INVALID_ARGUMENT,
                                "pool state: the pool's name or uuid is not "
                                "NUL-terminated");
    rc = identity_check(ctx, st->name, st->uuid);
    if (rc)
        return rc;
    if (st->concurrency < XLMIG__POOL_CONCURRENCY_MIN ||
        st->concurrency > XLMIG__POOL_CONCURRENCY_MAX)
        return xlmig__error_opt(ctx, LIBXLMIG_ERR_INVALID_ARGUMENT,
                                "pool state: migration-concurrency %u is "
                                "not from %d to %d", st->concurrency,
                                XLMIG__POOL_CONCURRENCY_MIN,
                                XLMIG__POOL_CONCURRENCY_MAX);
    if (!TERMINATED(st->wlb_hook) ||
        !wlb_hook_ok(st->wlb_hook, why, sizeof(why), &at)) {
        if (!TERMINATED(st->wlb_hook))
            snprintf(why, sizeof(why), "it is not NUL-terminated");
        xlmig__quote(TERMINATED(st->wlb_hook) ? st->wlb_hook : "", at,
                     quoted, sizeof(quoted));
        return xlmig__error_opt(ctx, LIBXLMIG_ERR_INVALID_ARGUMENT,
                                "pool state: wlb-hook \"%s\" is not valid: "
                                "%s; %s", quoted, why, WLB_HOOK_RULE);
    }
    if (st->wlb_hook_timeout < XLMIG__POOL_WLB_TIMEOUT_MIN ||
        st->wlb_hook_timeout > XLMIG__POOL_WLB_TIMEOUT_MAX)
        return xlmig__error_opt(ctx, LIBXLMIG_ERR_INVALID_ARGUMENT,
                                "pool state: wlb-hook-timeout %u is not "
                                "from %d to %d", st->wlb_hook_timeout,
                                XLMIG__POOL_WLB_TIMEOUT_MIN,
                                XLMIG__POOL_WLB_TIMEOUT_MAX);
    if (!TERMINATED(st->rolling_held) ||
        (st->rolling_held[0] &&
         !xlmig__name_ok(st->rolling_held, why, sizeof(why), &at)))
        return xlmig__error_opt(ctx, LIBXLMIG_ERR_INVALID_ARGUMENT,
                                "pool state: the rolling upgrade's held host "
                                "is not a host name; %s", XLMIG__NAME_RULE);
    return 0;
}

int xlmig__pool_state_check(libxlmig_ctx *ctx,
                            const struct xlmig__pool_state *st)
{
    const char *what = "pool state";
    size_t i, j;
    int rc;

    if (!st)
        return xlmig__error_opt(ctx, LIBXLMIG_ERR_INVALID_ARGUMENT,
                                "no pool state");
    rc = head_check(ctx, st);
    if (rc)
        return rc;
    if (st->nr_members > XLMIG__POOL_MEMBERS_MAX)
        return xlmig__error_opt(ctx, LIBXLMIG_ERR_INVALID_ARGUMENT,
                                "pool state: %zu members, more than %d",
                                st->nr_members, XLMIG__POOL_MEMBERS_MAX);
    if (st->nr_tasks > XLMIG__POOL_TASKS_MAX || (st->nr_tasks && !st->tasks))
        return xlmig__error_opt(ctx, LIBXLMIG_ERR_INVALID_ARGUMENT,
                                "pool state: %zu tasks, more than %d or "
                                "none allocated", st->nr_tasks,
                                XLMIG__POOL_TASKS_MAX);
    for (i = 0; i < st->nr_members; i++) {
        rc = member_check(ctx, what, &st->members[i]);
        if (rc)
            return rc;
        for (j = 0; j < i; j++) {
            if (!strcmp(st->members[j].name, st->members[i].name))
                return xlmig__error_opt(ctx, LIBXLMIG_ERR_INVALID_ARGUMENT,
                                        "pool state: host %s is a member "
                                        "twice", st->members[i].name);
        }
    }
    for (i = 0; i < st->nr_tasks; i++) {
        rc = task_check(ctx, what, &st->tasks[i]);
        if (rc)
            return rc;
        for (j = 0; j < i; j++) {
            if (st->tasks[j].id == st->tasks[i].id)
                return xlmig__error_opt(ctx, LIBXLMIG_ERR_INVALID_ARGUMENT,
                                        "pool state: task %" PRIu64 " is "
                                        "there twice", st->tasks[i].id);
        }
    }
    return 0;
}

/* ------------------------------------------------------------ decoding */

/* What differs in the pool state from the other JSON files (jsonfile.h). */
static const struct xlmig__json_kind state_kind = {
    .what = "pool state",
    .a_what = "a pool state",
    .invalid_rc = LIBXLMIG_ERR_POOL_STATE_INVALID,
    .max_bytes = XLMIG__POOL_STATE_FILE_MAX,
    .depth_max = 16,            /* ours: 3 */
    .read_to_cap = false,
    .dir_before = "the state directory ",
    .dir_after = "",
    .dir_role = "the state directory",
};

/*
 * A decode error: "pool state LABEL: ..." as
 * LIBXLMIG_ERR_POOL_STATE_INVALID, logged only when there is a context.
 */
#define state_error(ctx, label, ...) \
    xlmig__json_error(ctx, &state_kind, label, __VA_ARGS__)

enum json_kind { J_STRING, J_INTEGER, J_BOOL, J_OBJECT, J_ARRAY };

static const char *const kind_names[] = {
    [J_STRING] = "a string",
    [J_INTEGER] = "an integer",
    [J_BOOL] = "true or false",
    [J_OBJECT] = "an object",
    [J_ARRAY] = "an array",
};

static bool is_kind(yajl_val v, enum json_kind kind)
{
    switch (kind) {
    case J_STRING:
        return YAJL_IS_STRING(v);
    case J_INTEGER:
        return YAJL_IS_INTEGER(v);
    case J_BOOL:
        return YAJL_IS_TRUE(v) || YAJL_IS_FALSE(v);
    case J_OBJECT:
        return YAJL_IS_OBJECT(v);
    case J_ARRAY:
        return YAJL_IS_ARRAY(v);
    }
    return false;
}

/*
 * Where a member is, for messages: @in is "" at the top,
 * "\"settings\"." or "\"tasks\"[3]." inside, and the member is named
 * as member IN"KEY".
 */
struct reader {
    libxlmig_ctx *ctx;
    const char *label;
};

/* Member @key of object @obj, of @kind, present exactly once. */
static int member(const struct reader *rd, yajl_val obj, const char *in,
                  const char *key, enum json_kind kind, yajl_val *v_r)
{
    yajl_val found = NULL;
    size_t i;

    for (i = 0; i < obj->u.object.len; i++) {
        if (strcmp(obj->u.object.keys[i], key))
            continue;
        if (found)
            return state_error(rd->ctx, rd->label, "member %s\"%s\" "
                               "appears more than once", in, key);
        found = obj->u.object.values[i];
    }
    if (!found)
        return state_error(rd->ctx, rd->label, "member %s\"%s\" is missing",
                           in, key);
    if (!is_kind(found, kind))
        return state_error(rd->ctx, rd->label, "member %s\"%s\" is %s, not "
                           "%s", in, key, xlmig__json_type_name(found),
                           kind_names[kind]);
    *v_r = found;
    return 0;
}

/* An integer member from @min to @max. */
static int member_int(const struct reader *rd, yajl_val obj, const char *in,
                      const char *key, long long min, long long max,
                      long long *v_r)
{
    yajl_val v;
    int rc = member(rd, obj, in, key, J_INTEGER, &v);

    if (rc)
        return rc;
    if (YAJL_GET_INTEGER(v) < min || YAJL_GET_INTEGER(v) > max)
        return state_error(rd->ctx, rd->label, "member %s\"%s\" is %lld, "
                           "not from %lld to %lld", in, key,
                           (long long)YAJL_GET_INTEGER(v), min, max);
    *v_r = YAJL_GET_INTEGER(v);
    return 0;
}

static int member_time(const struct reader *rd, yajl_val obj,
                       const char *in, const char *key, int64_t *t_r)
{
    yajl_val v;
    int rc = member(rd, obj, in, key, J_INTEGER, &v);

    if (rc)
        return rc;
    if (YAJL_GET_INTEGER(v) < 0)
        return state_error(rd->ctx, rd->label, "member %s\"%s\" is %lld, "
                           "before 1970; expected seconds since the epoch",
                           in, key, (long long)YAJL_GET_INTEGER(v));
    *t_r = YAJL_GET_INTEGER(v);
    return 0;
}

static int member_bool(const struct reader *rd, yajl_val obj, const char *in,
                       const char *key, bool *b_r)
{
    yajl_val v;
    int rc = member(rd, obj, in, key, J_BOOL, &v);

    if (!rc)
        *b_r = YAJL_IS_TRUE(v);
    return rc;
}

/* Whether object @obj has member @key (for members older files lack). */
static bool has_member(yajl_val obj, const char *key)
{
    size_t i;

    for (i = 0; i < obj->u.object.len; i++) {
        if (!strcmp(obj->u.object.keys[i], key))
            return true;
    }
    return false;
}

/*
 * A boolean member that older files lack: *b_r is @dflt when it is
 * missing; when present it is read as member_bool() reads (once, true
 * or false).
 */
static int member_bool_opt(const struct reader *rd, yajl_val obj,
                           const char *in, const char *key, bool dflt,
                           bool *b_r)
{
    if (has_member(obj, key))
        return member_bool(rd, obj, in, key, b_r);
    *b_r = dflt;
    return 0;
}

typedef bool (*word_check)(const char *s, char *why, size_t len,
                           size_t *at_r);

/*
 * A string member that passes @check (or is "" when @empty_ok), copied
 * into @out of @size bytes; @rule says what is accepted.
 */
static int member_word(const struct reader *rd, yajl_val obj, const char *in,
                       const char *key, word_check check, bool empty_ok,
                       const char *rule, char *out, size_t size)
{
    char why[128], quoted[QUOTED_MAX];
    size_t at = 0;
    yajl_val v;
    const char *s;
    int rc;

    rc = member(rd, obj, in, key, J_STRING, &v);
    if (rc)
        return rc;
    s = YAJL_GET_STRING(v);
    if (!(empty_ok && !s[0]) && !check(s, why, sizeof(why), &at)) {
        xlmig__quote(s, at, quoted, sizeof(quoted));
        return state_error(rd->ctx, rd->label, "member %s\"%s\": \"%s\" is "
                           "not valid: %s; %s", in, key, quoted, why, rule);
    }
    xlmig__strlcpy(out, s, size);
    return 0;
}

static int read_settings(const struct reader *rd, yajl_val root,
                         struct xlmig__pool_state *st)
{
    const char *in = "\"settings\".";
    long long n;
    yajl_val obj;
    int rc;

    rc = member(rd, root, "", "settings", J_OBJECT, &obj);
    if (rc)
        return rc;
    rc = member_bool(rd, obj, in, "migration-compression", &st->compression);
    if (rc)
        return rc;
    rc = member_int(rd, obj, in, "migration-concurrency",
                    XLMIG__POOL_CONCURRENCY_MIN, XLMIG__POOL_CONCURRENCY_MAX,
                    &n);
    if (rc)
        return rc;
    st->concurrency = (unsigned)n;
    /* Files written before placement existed: no balancer. */
    if (has_member(obj, "wlb-hook")) {
        rc = member_word(rd, obj, in, "wlb-hook", wlb_hook_ok, true,
                         WLB_HOOK_RULE, st->wlb_hook, sizeof(st->wlb_hook));
        if (rc)
            return rc;
    }
    if (has_member(obj, "wlb-hook-timeout")) {
        rc = member_int(rd, obj, in, "wlb-hook-timeout",
                        XLMIG__POOL_WLB_TIMEOUT_MIN,
                        XLMIG__POOL_WLB_TIMEOUT_MAX, &n);
        if (rc)
            return rc;
        st->wlb_hook_timeout = (unsigned)n;
    }
    /* Files written before the rolling upgrade existed: not in one. */
    rc = member_bool_opt(rd, obj, in, "rolling-upgrade-in-progress", false,
                         &st->rolling_upgrading);
    if (rc)
        return rc;
    if (has_member(obj, "rolling-upgrade-held")) {
        rc = member_word(rd, obj, in, "rolling-upgrade-held", xlmig__name_ok, true,
                         XLMIG__NAME_RULE, st->rolling_held,
                         sizeof(st->rolling_held));
        if (rc)
            return rc;
    }
    return 0;
}

/* One host of the pool, object @obj (the caller checked it is one); @in
 * as member() takes it ("\"members\"[3]." or "" for a part of its own). */
static int read_member(const struct reader *rd, yajl_val obj, const char *in,
                       struct xlmig__pool_member *m)
{
    int rc;

    rc = member_word(rd, obj, in, "name", xlmig__name_ok, false,
                     XLMIG__NAME_RULE, m->name, sizeof(m->name));
    if (!rc)
        rc = member_word(rd, obj, in, "address", xlmig__hostport_ok,
                         false, XLMIG__HOSTPORT_RULE, m->address,
                         sizeof(m->address));
    if (!rc)
        rc = member_time(rd, obj, in, "joined", &m->joined);
    /* Files written before host-disable existed: enabled. */
    if (!rc)
        rc = member_bool_opt(rd, obj, in, "enabled", true, &m->enabled);
    return rc;
}

static int read_members(const struct reader *rd, yajl_val root,
                        struct xlmig__pool_state *st)
{
    yajl_val arr;
    size_t i, j;
    int rc;

    rc = member(rd, root, "", "members", J_ARRAY, &arr);
    if (rc)
        return rc;
    if (arr->u.array.len > XLMIG__POOL_MEMBERS_MAX)
        return state_error(rd->ctx, rd->label, "member \"members\" has %zu "
                           "hosts, more than the %d a pool may have",
                           arr->u.array.len, XLMIG__POOL_MEMBERS_MAX);
    for (i = 0; i < arr->u.array.len; i++) {
        struct xlmig__pool_member *m = &st->members[i];
        char in[48];

        snprintf(in, sizeof(in), "\"members\"[%zu].", i);
        if (!YAJL_IS_OBJECT(arr->u.array.values[i]))
            return state_error(rd->ctx, rd->label, "member \"members\"[%zu] "
                               "is %s, not an object", i,
                               xlmig__json_type_name(arr->u.array.values[i]));
        rc = read_member(rd, arr->u.array.values[i], in, m);
        if (rc)
            return rc;
        for (j = 0; j < i; j++) {
            if (!strcmp(st->members[j].name, m->name))
                return state_error(rd->ctx, rd->label, "member "
                                   "\"members\"[%zu].\"name\": host %s is "
                                   "\"members\"[%zu] already", i, m->name,
                                   j);
        }
        st->nr_members = i + 1;
    }
    return 0;
}

/* One migration, object @obj (the caller checked it is one); @in as for
 * read_member(). */
static int read_task(const struct reader *rd, yajl_val obj, const char *in,
                     struct xlmig__pool_task *t)
{
    long long n;
    int rc;

    rc = member_int(rd, obj, in, "id", 1, (long long)XLMIG__POOL_TASK_ID_MAX,
                    &n);
    if (rc)
        return rc;
    t->id = (uint64_t)n;
    rc = member_word(rd, obj, in, "vm", xlmig__name_ok, false, XLMIG__NAME_RULE, t->vm,
                     sizeof(t->vm));
    if (!rc)
        rc = member_word(rd, obj, in, "source", xlmig__name_ok, false, XLMIG__NAME_RULE,
                         t->source, sizeof(t->source));
    if (!rc)
        rc = member_word(rd, obj, in, "destination", xlmig__name_ok, false,
                         XLMIG__NAME_RULE, t->destination, sizeof(t->destination));
    if (!rc)
        rc = member_word(rd, obj, in, "phase", phase_ok, false, PHASE_RULE,
                         t->phase, sizeof(t->phase));
    if (rc)
        return rc;
    rc = member_int(rd, obj, in, "progress", 0, 100, &n);
    if (rc)
        return rc;
    t->progress = (unsigned)n;
    rc = member_time(rd, obj, in, "created", &t->created);
    if (!rc)
        rc = member_bool(rd, obj, in, "priority", &t->priority);
    if (!rc) {
        /* Optional: a vm-migrate task's uuid (older states lack it). */
        const char *path[] = { "uuid", NULL };
        yajl_val u = yajl_tree_get(obj, path, yajl_t_any);

        if (u && (!YAJL_IS_STRING(u) ||
                  (YAJL_GET_STRING(u)[0] &&
                   !xlmig__uuid_ok(YAJL_GET_STRING(u)))))
            return state_error(rd->ctx, rd->label, "member %s\"uuid\" is "
                               "not a uuid", in);
        xlmig__strlcpy(t->uuid, u ? YAJL_GET_STRING(u) : "",
                       sizeof(t->uuid));
    }
    return rc;
}

static int read_tasks(const struct reader *rd, yajl_val root,
                      struct xlmig__pool_state *st)
{
    yajl_val arr;
    size_t i, j, n;
    int rc;

    rc = member(rd, root, "", "tasks", J_ARRAY, &arr);
    if (rc)
        return rc;
    n = arr->u.array.len;
    if (n > XLMIG__POOL_TASKS_MAX)
        return state_error(rd->ctx, rd->label, "member \"tasks\" has %zu "
                           "tasks, more than the %d a pool may have", n,
                           XLMIG__POOL_TASKS_MAX);
    if (!n)
        return 0;
    st->tasks = calloc(n, sizeof(*st->tasks));
    if (!st->tasks)
        return xlmig__error_opt(rd->ctx, LIBXLMIG_ERR_NO_MEMORY,
                                "pool state %s: no memory for %zu tasks",
                                rd->label, n);
    st->tasks_cap = n;
    for (i = 0; i < n; i++) {
        struct xlmig__pool_task *t = &st->tasks[i];

        yajl_val obj = arr->u.array.values[i];
        char in[48];

        snprintf(in, sizeof(in), "\"tasks\"[%zu].", i);
        if (!YAJL_IS_OBJECT(obj))
            return state_error(rd->ctx, rd->label, "member \"tasks\"[%zu] is "
                               "%s, not an object", i,
                               xlmig__json_type_name(obj));
        rc = read_task(rd, obj, in, t);
        if (rc)
            return rc;
        for (j = 0; j < i; j++) {
            if (st->tasks[j].id == t->id)
                return state_error(rd->ctx, rd->label, "member "
                                   "\"tasks\"[%zu].\"id\": task %" PRIu64
                                   " is \"tasks\"[%zu] already", i, t->id,
                                   j);
        }
        st->nr_tasks = i + 1;
    }
    return 0;
}

/* The pool's own members: version, kind, name, uuid and settings (all of
 * pool.json but its hosts and migrations). */
static int read_head(const struct reader *rd, yajl_val root,
                     struct xlmig__pool_state *st)
{
    char quoted[QUOTED_MAX];
    const char *k;
    yajl_val v;
    int rc;

    rc = member(rd, root, "", "version", J_INTEGER, &v);
    if (rc)
        return rc;
    if (YAJL_GET_INTEGER(v) != XLMIG__POOL_STATE_VERSION)
        return state_error(rd->ctx, rd->label, "version %lld, but this "
                           "libxlmig reads version %d only",
                           (long long)YAJL_GET_INTEGER(v),
                           XLMIG__POOL_STATE_VERSION);
    rc = member(rd, root, "", "kind", J_STRING, &v);
    if (rc)
        return rc;
    k = YAJL_GET_STRING(v);
    if (strcmp(k, "pool")) {
        xlmig__quote(k, 0, quoted, sizeof(quoted));
        return state_error(rd->ctx, rd->label, "member \"kind\" is \"%s\", "
                           "expected \"pool\"", quoted);
    }
    rc = member_word(rd, root, "", "name", xlmig__name_ok, true,
                     XLMIG__NAME_RULE ", or \"\" before the pool is named",
                     st->name, sizeof(st->name));
    if (rc)
        return rc;
    rc = member(rd, root, "", "uuid", J_STRING, &v);
    if (rc)
        return rc;
    if (!xlmig__uuid_valid(YAJL_GET_STRING(v), XLMIG__UUID_ANY_CASE |
                                               XLMIG__UUID_EMPTY_OK)) {
        xlmig__quote(YAJL_GET_STRING(v), 0, quoted, sizeof(quoted));
        return state_error(rd->ctx, rd->label, "member \"uuid\": \"%s\" is "
                           "not a uuid; %s, or \"\" before the pool is "
                           "created", quoted, UUID_RULE);
    }
    xlmig__strlcpy(st->uuid, YAJL_GET_STRING(v), sizeof(st->uuid));
    return read_settings(rd, root, st);
}

int xlmig__pool_state_decode(libxlmig_ctx *ctx, const char *label,
                             const uint8_t *json, size_t len,
                             struct xlmig__pool_state *st)
{
    struct xlmig__pool_state tmp;
    struct reader rd;
    yajl_val root = NULL;
    int rc;

    xlmig__pool_state_init(&tmp);
    if (!st || (!json && len))
        return xlmig__error_opt(ctx, LIBXLMIG_ERR_INVALID_ARGUMENT,
                                "pool state decode: no state or text");
    if (!label)
        label = "(unnamed)";
    if (!json)
        json = (const uint8_t *)"";
    rd.ctx = ctx;
    rd.label = label;

    rc = xlmig__json_load(ctx, &state_kind, label, json, len, &root);
    if (rc)
        goto out;
    rc = read_head(&rd, root, &tmp);
    if (rc)
        goto out;
    rc = read_members(&rd, root, &tmp);
    if (rc)
        goto out;
    rc = read_tasks(&rd, root, &tmp);
    if (rc)
        goto out;
    xlmig__pool_state_dispose(st);
    *st = tmp;
    xlmig__pool_state_init(&tmp);   /* st owns the tasks now */
 out:
    xlmig__pool_state_dispose(&tmp);
    yajl_tree_free(root);
    return rc;
}

int xlmig__pool_part_decode(libxlmig_ctx *ctx, const char *label,
                            enum xlmig__pool_part part, const uint8_t *json,
                            size_t len, struct xlmig__pool_state *st)
{
    struct xlmig__pool_state tmp;
    struct xlmig__pool_member m;
    struct xlmig__pool_task t;
    struct reader rd = { .ctx = ctx, .label = label ? label : "(unnamed)" };
    yajl_val root = NULL;
    int rc;

    if (!st || !json)
        return xlmig__error_opt(ctx, LIBXLMIG_ERR_INVALID_ARGUMENT,
                                "pool state part decode: no state or text");
    xlmig__pool_state_init(&tmp);
    rc = xlmig__json_load(ctx, &state_kind, rd.label, json, len, &root);
    if (rc)
        goto out;
    switch (part) {
    case XLMIG__POOL_PART_HEAD:
        rc = read_head(&rd, root, &tmp);
        if (rc)
            goto out;
        xlmig__strlcpy(st->name, tmp.name, sizeof(st->name));
        xlmig__strlcpy(st->uuid, tmp.uuid, sizeof(st->uuid));
        st->compression = tmp.compression;
        st->concurrency = tmp.concurrency;
        memcpy(st->wlb_hook, tmp.wlb_hook, sizeof(st->wlb_hook));
        st->wlb_hook_timeout = tmp.wlb_hook_timeout;
        st->rolling_upgrading = tmp.rolling_upgrading;
        memcpy(st->rolling_held, tmp.rolling_held, sizeof(st->rolling_held));
        break;
    case XLMIG__POOL_PART_MEMBER:
        memset(&m, 0, sizeof(m));
        rc = read_member(&rd, root, "", &m);
        if (rc)
            goto out;
        if (xlmig__pool_member_find(st, m.name)) {
            rc = state_error(ctx, rd.label, "host %s is a member already",
                             m.name);
            goto out;
        }
        if (st->nr_members >= XLMIG__POOL_MEMBERS_MAX) {
            rc = state_error(ctx, rd.label, "one host more than the %d a "
                             "pool may have", XLMIG__POOL_MEMBERS_MAX);
            goto out;
        }
        st->members[st->nr_members++] = m;
        break;
    case XLMIG__POOL_PART_TASK:
        memset(&t, 0, sizeof(t));
        rc = read_task(&rd, root, "", &t);
        if (rc)
            goto out;
        if (xlmig__pool_task_find(st, t.id)) {
            rc = state_error(ctx, rd.label, "task %" PRIu64 " is there "
                             "already", t.id);
            goto out;
        }
        rc = xlmig__pool_task_add(NULL, st, &t);
        if (rc == LIBXLMIG_ERR_TOO_MANY_MIGRATIONS)
            rc = state_error(ctx, rd.label, "one task more than the %d a "
                             "pool may have", XLMIG__POOL_TASKS_MAX);
        else if (rc)
            rc = xlmig__error_opt(ctx, rc, "pool state %s: task %" PRIu64
                                  " cannot be added", rd.label, t.id);
        break;
    default:
        rc = xlmig__error_opt(ctx, LIBXLMIG_ERR_INVALID_ARGUMENT,
                              "pool state part %d: no such part", (int)part);
    }
 out:
    xlmig__pool_state_dispose(&tmp);
    yajl_tree_free(root);
    return rc;
}

/* ------------------------------------------------------------ encoding */

static bool gen_key(yajl_gen g, const char *key)
{
    return yajl_gen_string(g, (const unsigned char *)key, strlen(key)) ==
           yajl_gen_status_ok;
}

static bool gen_string(yajl_gen g, const char *key, const char *value)
{
    return gen_key(g, key) &&
           yajl_gen_string(g, (const unsigned char *)value,
                           strlen(value)) == yajl_gen_status_ok;
}

static bool gen_integer(yajl_gen g, const char *key, long long value)
{
    return gen_key(g, key) && yajl_gen_integer(g, value) == yajl_gen_status_ok;
}

static bool gen_bool(yajl_gen g, const char *key, bool value)
{
    return gen_key(g, key) && yajl_gen_bool(g, value) == yajl_gen_status_ok;
}

static bool gen_member(yajl_gen g, const struct xlmig__pool_member *m)
{
    return yajl_gen_map_open(g) == yajl_gen_status_ok &&
           gen_string(g, "name", m->name) &&
           gen_string(g, "address", m->address) &&
           gen_integer(g, "joined", m->joined) &&
           gen_bool(g, "enabled", m->enabled) &&
           yajl_gen_map_close(g) == yajl_gen_status_ok;
}

static bool gen_task(yajl_gen g, const struct xlmig__pool_task *t)
{
    return yajl_gen_map_open(g) == yajl_gen_status_ok &&
           gen_integer(g, "id", (long long)t->id) &&
           gen_string(g, "vm", t->vm) &&
           gen_string(g, "source", t->source) &&
           gen_string(g, "destination", t->destination) &&
           gen_string(g, "phase", t->phase) &&
           gen_integer(g, "progress", t->progress) &&
           gen_integer(g, "created", t->created) &&
           gen_bool(g, "priority", t->priority) &&
           gen_string(g, "uuid", t->uuid) &&
           yajl_gen_map_close(g) == yajl_gen_status_ok;
}

/* The members read_head() reads, in an object left open. */
static bool gen_head(yajl_gen g, const struct xlmig__pool_state *st)
{
    return gen_integer(g, "version", XLMIG__POOL_STATE_VERSION) &&
           gen_string(g, "kind", "pool") &&
           gen_string(g, "name", st->name) &&
           gen_string(g, "uuid", st->uuid) &&
           gen_key(g, "settings") &&
           yajl_gen_map_open(g) == yajl_gen_status_ok &&
           gen_bool(g, "migration-compression", st->compression) &&
           gen_integer(g, "migration-concurrency", st->concurrency) &&
           gen_string(g, "wlb-hook", st->wlb_hook) &&
           gen_integer(g, "wlb-hook-timeout", st->wlb_hook_timeout) &&
           gen_bool(g, "rolling-upgrade-in-progress", st->rolling_upgrading) &&
           gen_string(g, "rolling-upgrade-held", st->rolling_held) &&
           yajl_gen_map_close(g) == yajl_gen_status_ok;
}

/* What @g holds, as a malloc'd NUL-ended copy. */
static int gen_take(yajl_gen g, char **text_r, size_t *len_r)
{
    const unsigned char *out;
    size_t len;
    char *text;

    if (yajl_gen_get_buf(g, &out, &len) != yajl_gen_status_ok)
        return LIBXLMIG_ERR_INTERNAL;
    text = malloc(len + 1);
    if (!text)
        return LIBXLMIG_ERR_NO_MEMORY;
    memcpy(text, out, len);
    text[len] = '\0';
    *text_r = text;
    *len_r = len;
    return 0;
}

int xlmig__pool_part_encode(const struct xlmig__pool_state *st,
                            enum xlmig__pool_part part, size_t i,
                            char **text_r, size_t *len_r)
{
    yajl_gen g = NULL;
    bool ok;
    int rc;

    if (!st || !text_r || !len_r ||
        (part == XLMIG__POOL_PART_MEMBER && i >= st->nr_members) ||
        (part == XLMIG__POOL_PART_TASK && i >= st->nr_tasks))
        return LIBXLMIG_ERR_INVALID_ARGUMENT;
    /* The part's own checks: the whole state's would be done once per
     * part, its duplicate search quadratic in the tasks. */
    rc = part == XLMIG__POOL_PART_HEAD ? head_check(NULL, st)
       : part == XLMIG__POOL_PART_MEMBER
           ? member_check(NULL, "pool state", &st->members[i])
       : part == XLMIG__POOL_PART_TASK
           ? task_check(NULL, "pool state", &st->tasks[i])
           : LIBXLMIG_ERR_INVALID_ARGUMENT;
    if (rc)
        return rc;
    g = yajl_gen_alloc(NULL);
    if (!g)
        return LIBXLMIG_ERR_NO_MEMORY;
    ok = yajl_gen_config(g, yajl_gen_validate_utf8, 1);
    switch (part) {
    case XLMIG__POOL_PART_HEAD:
        ok = ok && yajl_gen_map_open(g) == yajl_gen_status_ok &&
             gen_head(g, st) && yajl_gen_map_close(g) == yajl_gen_status_ok;
        break;
    case XLMIG__POOL_PART_MEMBER:
        ok = ok && gen_member(g, &st->members[i]);
        break;
    case XLMIG__POOL_PART_TASK:
        ok = ok && gen_task(g, &st->tasks[i]);
        break;
    default:
        ok = false;
    }
    rc = ok ? gen_take(g, text_r, len_r) : LIBXLMIG_ERR_INTERNAL;
    yajl_gen_free(g);
    return rc;
}

int xlmig__pool_state_encode(const struct xlmig__pool_state *st,
                             char **text_r, size_t *len_r)
{
    const unsigned char *out;
    yajl_gen g = NULL;
    char *text = NULL;
    size_t len, i;
    bool ok;
    int rc;

    if (!st || !text_r || !len_r)
        return LIBXLMIG_ERR_INVALID_ARGUMENT;
    rc = xlmig__pool_state_check(NULL, st);
    if (rc)
        return rc;
    g = yajl_gen_alloc(NULL);
    if (!g)
        return LIBXLMIG_ERR_NO_MEMORY;
    ok = yajl_gen_config(g, yajl_gen_beautify, 1) &&
         yajl_gen_config(g, yajl_gen_indent_string, "  ") &&
         yajl_gen_config(g, yajl_gen_validate_utf8, 1) &&
         yajl_gen_map_open(g) == yajl_gen_status_ok &&
         gen_head(g, st) &&
         gen_key(g, "members") &&
         yajl_gen_array_open(g) == yajl_gen_status_ok;
    for (i = 0; ok && i < st->nr_members; i++)
        ok = gen_member(g, &st->members[i]);
    ok = ok && yajl_gen_array_close(g) == yajl_gen_status_ok &&
         gen_key(g, "tasks") &&
         yajl_gen_array_open(g) == yajl_gen_status_ok;
    for (i = 0; ok && i < st->nr_tasks; i++)
        ok = gen_task(g, &st->tasks[i]);
    ok = ok && yajl_gen_array_close(g) == yajl_gen_status_ok &&
         yajl_gen_map_close(g) == yajl_gen_status_ok &&
         yajl_gen_get_buf(g, &out, &len) == yajl_gen_status_ok;
    if (!ok) {
        rc = LIBXLMIG_ERR_INTERNAL;
        goto out;
    }
    /* The caps keep every valid state below the file cap. */
    if (len > XLMIG__POOL_STATE_FILE_MAX) {
        rc = LIBXLMIG_ERR_INTERNAL;
        goto out;
    }
    text = malloc(len + 1);
    if (!text) {
        rc = LIBXLMIG_ERR_NO_MEMORY;
        goto out;
    }
    memcpy(text, out, len);
    text[len] = '\0';
    *text_r = text;
    text = NULL;                /* the caller frees it now */
    *len_r = len;
    rc = 0;
 out:
    free(text);
    yajl_gen_free(g);
    return rc;
}

/* ------------------------------------------------------------ files */

/* "STATE/pool.json" into @path (STATE_PATH_MAX bytes). */
static int state_path(libxlmig_ctx *ctx, const char *state, char *path)
{
    int n = snprintf(path, STATE_PATH_MAX, "%s/" XLMIG__POOL_STATE_FILE,
                     state);

    if (n < 0 || n >= STATE_PATH_MAX - 40)
        return xlmig__error(ctx, LIBXLMIG_ERR_INVALID_ARGUMENT, -1,
                            "state directory path \"%.80s...\" is too long",
                            state);
    return 0;
}

int xlmig__pool_state_save(libxlmig_ctx *ctx, const char *state_dir,
                           const struct xlmig__pool_state *st)
{
    const char *state = xlmig__state_dir(state_dir);
    char path[STATE_PATH_MAX], *text = NULL;
    size_t len = 0;
    int rc;

    rc = xlmig__pool_state_check(ctx, st);
    if (rc)
        goto out;
    rc = state_path(ctx, state, path);
    if (rc)
        goto out;
    rc = xlmig__pool_state_encode(st, &text, &len);
    if (rc) {
        rc = xlmig__error(ctx, rc, -1, "cannot encode the pool state for "
                          "%s", path);
        goto out;
    }
    rc = xlmig__dir_make(ctx, &state_kind, state);
    if (rc)
        goto out;
    rc = xlmig__file_write(ctx, state, path, text, len);
 out:
    free(text);
    return rc;
}

int xlmig__pool_state_load(libxlmig_ctx *ctx, const char *state_dir,
                           struct xlmig__pool_state *st, bool *missing_r)
{
    const char *state = xlmig__state_dir(state_dir);
    char path[STATE_PATH_MAX], *text = NULL;
    size_t len = 0;
    int rc;

    if (!st)
        return xlmig__error(ctx, LIBXLMIG_ERR_INVALID_ARGUMENT, -1,
                            "no pool state to load into");
    rc = state_path(ctx, state, path);
    if (rc)
        goto out;
    rc = xlmig__file_read(ctx, &state_kind, path, &text, &len);
    if (rc == LIBXLMIG_ERR_NOT_FOUND) {
        xlmig__pool_state_dispose(st);
        if (missing_r)
            *missing_r = true;
        rc = 0;
        goto out;
    }
    if (rc)
        goto out;
    rc = xlmig__pool_state_decode(ctx, path, (const uint8_t *)text, len, st);
    if (rc)
        goto out;
    if (missing_r)
        *missing_r = false;
 out:
    free(text);
    return rc;
}

/* ------------------------------------------------------------ params */

static const char *const param_names[] = {
    "migration-compression",
    "migration-concurrency",
    "wlb-hook",
    "wlb-hook-timeout",
};

#define NR_PARAMS (sizeof(param_names) / sizeof(param_names[0]))
#define PARAM_LIST "migration-compression, migration-concurrency, " \
                   "wlb-hook, wlb-hook-timeout"

const char *xlmig__pool_param_name(size_t i)
{
    return i < NR_PARAMS ? param_names[i] : NULL;
}

static bool param_known(const char *key)
{
    size_t i;

    for (i = 0; i < NR_PARAMS; i++) {
        if (!strcmp(key, param_names[i]))
            return true;
    }
    return false;
}

static int unknown_param(libxlmig_ctx *ctx, const char *key)
{
    char quoted[QUOTED_MAX];

    xlmig__quote(key, 0, quoted, sizeof(quoted));
    return xlmig__error_opt(ctx, LIBXLMIG_ERR_INVALID_ARGUMENT,
                            "unknown pool parameter \"%s\"; the pool "
                            "parameters are " PARAM_LIST, quoted);
}

/* @value as parameter @key: digits only, @min to @max. */
static int parse_uint(libxlmig_ctx *ctx, const char *key, const char *value,
                      unsigned min, unsigned max, unsigned *n_r)
{
    char quoted[QUOTED_MAX], why[80];
    unsigned long n = 0;
    size_t i, len = strlen(value);

    why[0] = '\0';
    if (!len)
        snprintf(why, sizeof(why), "it is empty");
    for (i = 0; i < len && !why[0]; i++) {
        if (value[i] < '0' || value[i] > '9')
            snprintf(why, sizeof(why), "byte %zu is not a digit", i);
        else if (n <= 1000)
            n = n * 10 + (unsigned long)(value[i] - '0');
    }
    if (!why[0] && (n < min || n > max))
        snprintf(why, sizeof(why), "it is out of range");
    if (why[0]) {
        xlmig__quote(value, i ? i - 1 : 0, quoted, sizeof(quoted));
        return xlmig__error_opt(ctx, LIBXLMIG_ERR_INVALID_ARGUMENT,
                                "pool parameter %s: \"%s\" is not valid: "
                                "%s; expected a decimal integer from %u to "
                                "%u (digits only)", key, quoted, why, min,
                                max);
    }
    *n_r = (unsigned)n;
    return 0;
}

static int parse_bool(libxlmig_ctx *ctx, const char *key, const char *value,
                      bool *b_r)
{
    char quoted[QUOTED_MAX];

    if (!strcmp(value, "true") || !strcmp(value, "false")) {
        *b_r = !strcmp(value, "true");
        return 0;
    }
    xlmig__quote(value, 0, quoted, sizeof(quoted));
    return xlmig__error_opt(ctx, LIBXLMIG_ERR_INVALID_ARGUMENT,
                            "pool parameter %s: \"%s\" is not valid; "
                            "expected true or false", key, quoted);
}

static int parse_wlb_hook(libxlmig_ctx *ctx, const char *key,
                          const char *value)
{
    char quoted[QUOTED_MAX], why[80];
    size_t at = 0;

    if (wlb_hook_ok(value, why, sizeof(why), &at))
        return 0;
    xlmig__quote(value, at, quoted, sizeof(quoted));
    return xlmig__error_opt(ctx, LIBXLMIG_ERR_INVALID_ARGUMENT,
                            "pool parameter %s: \"%s\" is not valid: %s; "
                            "%s", key, quoted, why, WLB_HOOK_RULE);
}

int xlmig__pool_param_set(libxlmig_ctx *ctx, struct xlmig__pool_state *st,
                          const char *key, const char *value)
{
    unsigned n = 0;
    bool b = false;
    int rc;

    if (!st || !key)
        return xlmig__error_opt(ctx, LIBXLMIG_ERR_INVALID_ARGUMENT,
                                "pool-param-set: no state or no key");
    if (!param_known(key))
        return unknown_param(ctx, key);
    if (!value)
        return xlmig__error_opt(ctx, LIBXLMIG_ERR_INVALID_ARGUMENT,
                                "pool parameter %s: no value given", key);
    if (!strcmp(key, "migration-compression")) {
        rc = parse_bool(ctx, key, value, &b);
        if (!rc)
            st->compression = b;
    } else if (!strcmp(key, "migration-concurrency")) {
        rc = parse_uint(ctx, key, value, XLMIG__POOL_CONCURRENCY_MIN,
                        XLMIG__POOL_CONCURRENCY_MAX, &n);
        if (!rc)
            st->concurrency = n;
    } else if (!strcmp(key, "wlb-hook")) {
        rc = parse_wlb_hook(ctx, key, value);
        if (!rc)
            xlmig__strlcpy(st->wlb_hook, value, sizeof(st->wlb_hook));
    } else {
        rc = parse_uint(ctx, key, value, XLMIG__POOL_WLB_TIMEOUT_MIN,
                        XLMIG__POOL_WLB_TIMEOUT_MAX, &n);
        if (!rc)
            st->wlb_hook_timeout = n;
    }
    return rc;
}

int xlmig__pool_param_get(libxlmig_ctx *ctx,
                          const struct xlmig__pool_state *st,
                          const char *key, char *buf, size_t len)
{
    int n;

    if (buf && len)
        buf[0] = '\0';
    if (!st || !key || !buf)
        return xlmig__error_opt(ctx, LIBXLMIG_ERR_INVALID_ARGUMENT,
                                "pool-param-get: no state, key or buffer");
    if (!strcmp(key, "migration-compression"))
        n = snprintf(buf, len, "%s", st->compression ? "true" : "false");
    else if (!strcmp(key, "migration-concurrency"))
        n = snprintf(buf, len, "%u", st->concurrency);
    else if (!strcmp(key, "wlb-hook"))
        n = snprintf(buf, len, "%.*s", (int)sizeof(st->wlb_hook) - 1,
                     st->wlb_hook);
    else if (!strcmp(key, "wlb-hook-timeout"))
        n = snprintf(buf, len, "%u", st->wlb_hook_timeout);
    else
        return unknown_param(ctx, key);
    if (n < 0 || (size_t)n >= len) {
        if (len)
            buf[0] = '\0';
        return xlmig__error_opt(ctx, LIBXLMIG_ERR_INVALID_ARGUMENT,
                                "pool parameter %s: %zu bytes are too few "
                                "for its value", key, len);
    }
    return 0;
}

int xlmig__pool_identity_set(libxlmig_ctx *ctx, struct xlmig__pool_state *st,
                             const char *name, const char *uuid)
{
    int rc;

    if (!st)
        return xlmig__error_opt(ctx, LIBXLMIG_ERR_INVALID_ARGUMENT,
                                "no pool state");
    rc = identity_check(ctx, name, uuid);
    if (rc)
        return rc;
    xlmig__strlcpy(st->name, name, sizeof(st->name));
    xlmig__strlcpy(st->uuid, uuid, sizeof(st->uuid));
    return 0;
}

/* ------------------------------------------------------------ members */

struct xlmig__pool_member *xlmig__pool_member_find(
    struct xlmig__pool_state *st, const char *name)
{
    size_t i;

    if (!st || !name)
        return NULL;
    for (i = 0; i < st->nr_members && i < XLMIG__POOL_MEMBERS_MAX; i++) {
        if (!strcmp(st->members[i].name, name))
            return &st->members[i];
    }
    return NULL;
}

int xlmig__pool_member_add(libxlmig_ctx *ctx, struct xlmig__pool_state *st,
                           const char *name, const char *address,
                           int64_t joined)
{
    struct xlmig__pool_member m;
    char why[128], quoted[QUOTED_MAX];
    size_t at;
    int rc;

    if (!st)
        return xlmig__error_opt(ctx, LIBXLMIG_ERR_INVALID_ARGUMENT,
                                "no pool state");
    /* Checked before copying: a long name is refused, never cut. */
    if (!xlmig__name_ok(name, why, sizeof(why), &at)) {
        xlmig__quote(name, at, quoted, sizeof(quoted));
        return xlmig__error_opt(ctx, LIBXLMIG_ERR_INVALID_ARGUMENT,
                                "pool member: host name \"%s\" is not "
                                "valid: %s; %s", quoted, why, XLMIG__NAME_RULE);
    }
    if (!xlmig__hostport_ok(address, why, sizeof(why), &at)) {
        xlmig__quote(address, at, quoted, sizeof(quoted));
        return xlmig__error_opt(ctx, LIBXLMIG_ERR_INVALID_ARGUMENT,
                                "pool member: address \"%s\" of host %s is "
                                "not valid: %s; %s", quoted, name, why,
                                XLMIG__HOSTPORT_RULE);
    }
    memset(&m, 0, sizeof(m));
    xlmig__strlcpy(m.name, name, sizeof(m.name));
    xlmig__strlcpy(m.address, address, sizeof(m.address));
    m.joined = joined;
    m.enabled = true;
    rc = member_check(ctx, "pool member", &m);
    if (rc)
        return rc;
    if (xlmig__pool_member_find(st, name))
        return xlmig__error_opt(ctx, LIBXLMIG_ERR_INVALID_ARGUMENT,
                                "host %s is a member of the pool already",
                                name);
    if (st->nr_members >= XLMIG__POOL_MEMBERS_MAX)
        return xlmig__error_opt(ctx, LIBXLMIG_ERR_UNSUPPORTED,
                                "host %s cannot join: the pool has %d "
                                "members, the most it may have", name,
                                XLMIG__POOL_MEMBERS_MAX);
    st->members[st->nr_members++] = m;
    return 0;
}

int xlmig__pool_member_remove(libxlmig_ctx *ctx,
                              struct xlmig__pool_state *st, const char *name)
{
    struct xlmig__pool_member *m = xlmig__pool_member_find(st, name);
    size_t i;

    if (!m) {
        char quoted[QUOTED_MAX];

        xlmig__quote(name, 0, quoted, sizeof(quoted));
        return xlmig__error_opt(ctx, st ? LIBXLMIG_ERR_NOT_FOUND
                                        : LIBXLMIG_ERR_INVALID_ARGUMENT,
                                "host %s is not a member of the pool",
                                quoted);
    }
    i = (size_t)(m - st->members);
    memmove(&st->members[i], &st->members[i + 1],
            sizeof(st->members[0]) * (st->nr_members - i - 1));
    st->nr_members--;
    return 0;
}

int xlmig__pool_member_set_enabled(libxlmig_ctx *ctx,
                                   struct xlmig__pool_state *st,
                                   const char *name, bool enabled,
                                   bool *changed_r)
{
    struct xlmig__pool_member *m = xlmig__pool_member_find(st, name);

    if (changed_r)
        *changed_r = false;
    if (!m) {
        char quoted[QUOTED_MAX];

        xlmig__quote(name, 0, quoted, sizeof(quoted));
        return xlmig__error_opt(ctx, st ? LIBXLMIG_ERR_NOT_FOUND
                                        : LIBXLMIG_ERR_INVALID_ARGUMENT,
                                "host %s is not a member of pool %s "
                                "(host-list shows its hosts)", quoted,
                                st && st->name[0] ? st->name : "(unnamed)");
    }
    if (changed_r)
        *changed_r = m->enabled != enabled;
    m->enabled = enabled;
    return 0;
}

/* ------------------------------------------------------------ tasks */

struct xlmig__pool_task *xlmig__pool_task_find(struct xlmig__pool_state *st,
                                               uint64_t id)
{
    size_t i;

    if (!st || !st->tasks)
        return NULL;
    for (i = 0; i < st->nr_tasks; i++) {
        if (st->tasks[i].id == id)
            return &st->tasks[i];
    }
    return NULL;
}

int xlmig__pool_task_add(libxlmig_ctx *ctx, struct xlmig__pool_state *st,
                         const struct xlmig__pool_task *t)
{
    int rc;

    if (!st || !t)
        return xlmig__error_opt(ctx, LIBXLMIG_ERR_INVALID_ARGUMENT,
                                "no pool state or task");
    rc = task_check(ctx, "pool task", t);
    if (rc)
        return rc;
    if (xlmig__pool_task_find(st, t->id))
        return xlmig__error_opt(ctx, LIBXLMIG_ERR_INVALID_ARGUMENT,
                                "task %" PRIu64 " is in the pool state "
                                "already", t->id);
    if (st->nr_tasks >= XLMIG__POOL_TASKS_MAX)
        return xlmig__error_opt(ctx, LIBXLMIG_ERR_TOO_MANY_MIGRATIONS,
                                "cannot add task %" PRIu64 " (VM %s): the "
                                "pool has %d migrations in flight or "
                                "queued, the most it keeps", t->id, t->vm,
                                XLMIG__POOL_TASKS_MAX);
    if (st->nr_tasks == st->tasks_cap) {
        size_t cap = st->tasks_cap ? st->tasks_cap * 2 : 16;
        struct xlmig__pool_task *tasks;

        if (cap > XLMIG__POOL_TASKS_MAX)
            cap = XLMIG__POOL_TASKS_MAX;
        tasks = realloc(st->tasks, sizeof(*tasks) * cap);
        if (!tasks)
            return xlmig__error_opt(ctx, LIBXLMIG_ERR_NO_MEMORY,
                                    "no memory for %zu tasks", cap);
        st->tasks = tasks;
        st->tasks_cap = cap;
    }
    st->tasks[st->nr_tasks++] = *t;
    return 0;
}

int xlmig__pool_task_update(libxlmig_ctx *ctx, struct xlmig__pool_state *st,
                            uint64_t id, const char *phase,
                            unsigned progress)
{
    struct xlmig__pool_task *t = xlmig__pool_task_find(st, id), next;
    int rc;

    if (!t)
        return xlmig__error_opt(ctx, st ? LIBXLMIG_ERR_NOT_FOUND
                                        : LIBXLMIG_ERR_INVALID_ARGUMENT,
                                "no task %" PRIu64 " in the pool state", id);
    next = *t;
    if (phase) {
        char why[128], quoted[QUOTED_MAX];
        size_t at;

        if (!phase_ok(phase, why, sizeof(why), &at)) {
            xlmig__quote(phase, at, quoted, sizeof(quoted));
            return xlmig__error_opt(ctx, LIBXLMIG_ERR_INVALID_ARGUMENT,
                                    "pool task: phase \"%s\" of task %"
                                    PRIu64 " is not valid: %s; %s", quoted,
                                    id, why, PHASE_RULE);
        }
        xlmig__strlcpy(next.phase, phase, sizeof(next.phase));
    }
    next.progress = progress;
    rc = task_check(ctx, "pool task", &next);
    if (rc)
        return rc;
    *t = next;
    return 0;
}

int xlmig__pool_task_remove(libxlmig_ctx *ctx, struct xlmig__pool_state *st,
                            uint64_t id)
{
    struct xlmig__pool_task *t = xlmig__pool_task_find(st, id);
    size_t i;

    if (!t)
        return xlmig__error_opt(ctx, st ? LIBXLMIG_ERR_NOT_FOUND
                                        : LIBXLMIG_ERR_INVALID_ARGUMENT,
                                "no task %" PRIu64 " in the pool state", id);
    i = (size_t)(t - st->tasks);
    memmove(&st->tasks[i], &st->tasks[i + 1],
            sizeof(st->tasks[0]) * (st->nr_tasks - i - 1));
    st->nr_tasks--;
    return 0;
}

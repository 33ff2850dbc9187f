/* SPDX-License-Identifier: LGPL-2.1-only */
/*
 * The crash-safe state of a pool master (internal;
 * docs/specs/pool-state.md):
 *
 *   STATE/pool.json    the pool's identity (name, uuid), its settings
 *                      (migration-compression, migration-concurrency,
 *                      wlb-hook, wlb-hook-timeout), its members and the
 *                      migrations in flight
 *
 * One JSON file (yajl), written crash-safely (a temporary file, fsync,
 * rename, fsync of the directory), read with its size capped before
 * anything is allocated.  A file that does not parse is an error naming
 * the file and the member (LIBXLMIG_ERR_POOL_STATE_INVALID), never a
 * partial load.  STATE is xlmig__state_dir(@state_dir) (jsonfile.h).
 *
 * Plain data and files: no threads, no locks; the daemon calls these
 * under its own lock and is the only writer of the file.
 */
#ifndef XLMIG_POOLSTATE_H
#define XLMIG_POOLSTATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "addr.h"
#include "libxlmig.h"
#include "names.h"
#include "slots.h"

#define XLMIG__POOL_STATE_VERSION 1
#define XLMIG__POOL_STATE_FILE "pool.json"
/*
 * Bytes of pool.json.  The largest valid state (64 members, 4096 tasks,
 * every name and address at its longest) takes about 1.8 MiB as we
 * write it, so the cap is 2 MiB: every state that can be built can be
 * saved and read back.
 */
#define XLMIG__POOL_STATE_FILE_MAX (2u << 20)
#define XLMIG__POOL_NAME_MAX XLMIG__NAME_MAX  /* bytes, no NUL */
#define XLMIG__POOL_UUID_SIZE 37        /* 36 characters and the NUL */
#define XLMIG__POOL_ADDRESS_MAX XLMIG__HOSTPORT_MAX  /* 255, addr.h */
#define XLMIG__POOL_PHASE_MAX 32        /* bytes of a task's phase, no NUL */
#define XLMIG__POOL_MEMBERS_MAX 64
#define XLMIG__POOL_TASKS_MAX XLMIG__SLOTS_ENTRIES_MAX  /* 4096 */
/* What the greatest task id may be: JSON readers keep int64 exactly. */
#define XLMIG__POOL_TASK_ID_MAX ((uint64_t)INT64_MAX)

/* migration-concurrency: the slot manager's limit. */
#define XLMIG__POOL_CONCURRENCY_MIN XLMIG__SLOTS_LIMIT_MIN
#define XLMIG__POOL_CONCURRENCY_MAX XLMIG__SLOTS_LIMIT_MAX
#define XLMIG__POOL_CONCURRENCY_DEFAULT XLMIG__SLOTS_LIMIT_DEFAULT

/*
 * wlb-hook: the pool's workload balancer, a command line run by
 * /bin/sh -c (docs/specs/wlb-hook.md), "" for none; printable ASCII.
 * wlb-hook-timeout: the seconds it may take.
 */
#define XLMIG__POOL_WLB_HOOK_MAX 1024       /* bytes, no NUL */
#define XLMIG__POOL_WLB_TIMEOUT_MIN 1
#define XLMIG__POOL_WLB_TIMEOUT_MAX 120
#define XLMIG__POOL_WLB_TIMEOUT_DEFAULT 10

/* Bytes of the longest pool parameter's value, with its NUL. */
#define XLMIG__POOL_PARAM_VALUE_MAX (XLMIG__POOL_WLB_HOOK_MAX + 1)

/* A host of the pool. */
struct xlmig__pool_member {
    char name[XLMIG__POOL_NAME_MAX + 1];        /* a name, see below */
    char address[XLMIG__POOL_ADDRESS_MAX + 1];  /* "HOST:PORT" */
    int64_t joined;                             /* seconds since 1970 */
    bool enabled;                               /* may VMs start or arrive
                                                 * here (host-disable
                                                 * clears it) */
};

/* A migration in flight (queued or running). */
struct xlmig__pool_task {
    uint64_t id;                                /* 1 .. TASK_ID_MAX */
    char vm[XLMIG__POOL_NAME_MAX + 1];          /* names, see below */
    char source[XLMIG__POOL_NAME_MAX + 1];      /* host names */
    char destination[XLMIG__POOL_NAME_MAX + 1];
    char phase[XLMIG__POOL_PHASE_MAX + 1];      /* "queued", "memory" */
    unsigned progress;                          /* percent, 0..100 */
    int64_t created;                            /* seconds since 1970 */
    bool priority;                              /* host evacuation */
    char uuid[37];                              /* a vm-migrate task's
                                                 * uuid, or "" */
};

/*
 * Names (pool, members, VMs, hosts) are 1 to 64 bytes of [A-Za-z0-9._-],
 * not starting with '.' or '-' (as CPU record names: a member's name is
 * also the name of its CPU record); the pool's name and uuid may be ""
 * before the pool is created.  A uuid is 36 characters, 8-4-4-4-12 hex
 * digits.  A phase is 1 to 32 bytes of [A-Za-z0-9._-].  An address is
 * "HOST:PORT": HOST a host name or IPv4 address ([A-Za-z0-9._-], not
 * starting with '.' or '-') or an IPv6 address in brackets
 * ("[2001:db8::1]"), PORT decimal 1 to 65535; 255 bytes at most.
 */
struct xlmig__pool_state {
    char name[XLMIG__POOL_NAME_MAX + 1];
    char uuid[XLMIG__POOL_UUID_SIZE];
    bool compression;                   /* migration-compression */
    unsigned concurrency;               /* migration-concurrency */
    char wlb_hook[XLMIG__POOL_WLB_HOOK_MAX + 1];    /* wlb-hook */
    unsigned wlb_hook_timeout;          /* wlb-hook-timeout, seconds */
    /*
     * The rolling pool upgrade's state (libxlmig/rolling.h, struct
     * xlmig__rolling_state): mid-upgrade, and the host the upgrade
     * disabled and has not enabled again ("" for none).
     */
    bool rolling_upgrading;
    char rolling_held[XLMIG__POOL_NAME_MAX + 1];
    size_t nr_members;
    struct xlmig__pool_member members[XLMIG__POOL_MEMBERS_MAX];
    size_t nr_tasks;                    /* in the order they were added */
    struct xlmig__pool_task *tasks;     /* malloc'd, owned by the state */
    size_t tasks_cap;                   /* entries allocated */
};

/*
 * Set *st to the defaults: no name or uuid, migration-compression false,
 * migration-concurrency 3, no wlb-hook, wlb-hook-timeout 10, no
 * members, no tasks.  Allocates nothing.
 * _dispose frees what the state owns and sets the defaults again;
 * idempotent.  Every state passed to the functions below must have been
 * initialised.
 */
void xlmig__pool_state_init(struct xlmig__pool_state *st);
void xlmig__pool_state_dispose(struct xlmig__pool_state *st);

/*
 * Make *dst a copy of *src (which *dst may not be).  On success the old
 * content of *dst is disposed; on failure (LIBXLMIG_ERR_NO_MEMORY) *dst
 * is untouched.
 */
int xlmig__pool_state_copy(libxlmig_ctx *ctx, struct xlmig__pool_state *dst,
                           const struct xlmig__pool_state *src);

/* Same content (every field of every member and task, in order). */
bool xlmig__pool_state_equal(const struct xlmig__pool_state *a,
                             const struct xlmig__pool_state *b);

/*
 * Whether *st could be saved and read back: every name, uuid, address,
 * phase, time and number as above, no duplicate member name or task id,
 * counts within the caps.  LIBXLMIG_ERR_INVALID_ARGUMENT with a message
 * naming the field (when @ctx is not NULL).
 */
int xlmig__pool_state_check(libxlmig_ctx *ctx,
                            const struct xlmig__pool_state *st);

/*
 * Encode *st as its JSON text (NUL-ended, malloc'd: *text_r is the
 * caller's to free()); *len_r gets the length, never more than
 * XLMIG__POOL_STATE_FILE_MAX.  A state that fails
 * xlmig__pool_state_check() gives LIBXLMIG_ERR_INVALID_ARGUMENT (no
 * message: there is no context).
 */
int xlmig__pool_state_encode(const struct xlmig__pool_state *st,
                             char **text_r, size_t *len_r);

/*
 * Decode @len bytes of JSON (need not be NUL-ended; more than
 * XLMIG__POOL_STATE_FILE_MAX is refused before parsing) into *st, which
 * must be initialised: on success its old content is disposed and
 * replaced, on any error it is untouched.  Errors:
 * LIBXLMIG_ERR_POOL_STATE_INVALID with a message naming @label (the
 * file) and the member ("member \"tasks\"[3].\"progress\""), or
 * LIBXLMIG_ERR_NO_MEMORY.  Unknown members are ignored (later versions
 * may add some); a version other than 1, a missing member or a bad
 * value is an error.  Logs nothing when @ctx is NULL (the fuzz target).
 */
int xlmig__pool_state_decode(libxlmig_ctx *ctx, const char *label,
                             const uint8_t *json, size_t len,
                             struct xlmig__pool_state *st);

/*
 * Parts of a state, each a JSON object of its own (the pool's state on
 * etcd keeps each in a key: docs/specs/pool-etcd.md):
 *   HEAD     version, kind, name, uuid and settings: pool.json without
 *            its members and tasks
 *   MEMBER   one host, as an entry of pool.json's "members"
 *   TASK     one migration, as an entry of its "tasks"
 * _encode writes part @part (@i: which member or task) of *st as compact
 * JSON (malloc'd, NUL-ended), after the checks xlmig__pool_state_check()
 * makes of that part (not of the others: a caller writing every part
 * checks the whole state once); LIBXLMIG_ERR_INVALID_ARGUMENT for a bad
 * @i or part.
 * _decode reads one part into *st: HEAD sets the name, uuid and
 * settings; MEMBER and TASK are added after the others.  A part that
 * does not decode, a host or task *st has already, or one beyond the
 * caps is LIBXLMIG_ERR_POOL_STATE_INVALID naming @label, and *st is
 * untouched.  Read with the caps and rules of pool.json.
 */
enum xlmig__pool_part {
    XLMIG__POOL_PART_HEAD,
    XLMIG__POOL_PART_MEMBER,
    XLMIG__POOL_PART_TASK,
};
int xlmig__pool_part_encode(const struct xlmig__pool_state *st,
                            enum xlmig__pool_part part, size_t i,
                            char **text_r, size_t *len_r);
int xlmig__pool_part_decode(libxlmig_ctx *ctx, const char *label,
                            enum xlmig__pool_part part, const uint8_t *json,
                            size_t len, struct xlmig__pool_state *st);

/*
 * Load STATE/pool.json into *st (initialised; replaced on success,
 * untouched on error).  A missing file (or state directory) is not an
 * error: *st gets the defaults and *missing_r (may be NULL) is true.
 * LIBXLMIG_ERR_POOL_STATE_INVALID when the file is not a regular file,
 * is larger than XLMIG__POOL_STATE_FILE_MAX or does not decode;
 * LIBXLMIG_ERR_IO or _PERMISSION_DENIED when it cannot be read.
 */
int xlmig__pool_state_load(libxlmig_ctx *ctx, const char *state_dir,
                           struct xlmig__pool_state *st, bool *missing_r);

/*
 * Save *st as STATE/pool.json (STATE created 0700 when missing; its
 * parent must exist), crash-safely: the old file stays whole until the
 * new one is complete on disk.  A state that fails
 * xlmig__pool_state_check() is refused with
 * LIBXLMIG_ERR_INVALID_ARGUMENT and the file is not touched.
 */
int xlmig__pool_state_save(libxlmig_ctx *ctx, const char *state_dir,
                           const struct xlmig__pool_state *st);

/*
 * Set the pool's name and uuid (either may be "" for not yet known).
 * LIBXLMIG_ERR_INVALID_ARGUMENT, nothing changed, for a bad one.
 */
int xlmig__pool_identity_set(libxlmig_ctx *ctx, struct xlmig__pool_state *st,
                             const char *name, const char *uuid);

/*
 * Pool parameters, as `xlmig-xe pool-param-set`/`-get` name them:
 *   migration-compression   "true" or "false"
 *   migration-concurrency   a decimal integer from 1 to 50 (digits only)
 *   wlb-hook                a command line, 0 to 1024 bytes of printable
 *                           ASCII ("": no balancer)
 *   wlb-hook-timeout        seconds, a decimal integer from 1 to 120
 * _set parses @value into *st; anything else ("0", "51", "abc", "3x",
 * " 3", "", "yes", a tab in a hook, an unknown key) gives
 * LIBXLMIG_ERR_INVALID_ARGUMENT with a message naming the key, the value
 * and what is accepted, and changes nothing.  _get writes the value as
 * _set takes it into @buf (@len bytes; XLMIG__POOL_PARAM_VALUE_MAX hold
 * any); LIBXLMIG_ERR_INVALID_ARGUMENT (and "" in a non-empty @buf) for
 * an unknown key or a @buf too small.  @ctx may be NULL.
 * _name(i) is the i-th key, in the order above, or NULL past the last.
 */
int xlmig__pool_param_set(libxlmig_ctx *ctx, struct xlmig__pool_state *st,
                          const char *key, const char *value);
int xlmig__pool_param_get(libxlmig_ctx *ctx,
                          const struct xlmig__pool_state *st,
                          const char *key, char *buf, size_t len);
const char *xlmig__pool_param_name(size_t i);

/*
 * Members.  _add (the member enabled): LIBXLMIG_ERR_INVALID_ARGUMENT for
 * a bad name, address or time, or a name that is a member already;
 * LIBXLMIG_ERR_UNSUPPORTED when the pool has XLMIG__POOL_MEMBERS_MAX;
 * nothing changed on error.  _remove: LIBXLMIG_ERR_NOT_FOUND when @name
 * is not a member.  _find: the member or NULL (a pointer into *st, valid
 * until it changes).  _set_enabled: host-enable / host-disable;
 * LIBXLMIG_ERR_NOT_FOUND naming the pool when @name is not a member;
 * *changed_r (may be NULL) says whether the flag was not @enabled
 * already (setting it again is no error).
 */
int xlmig__pool_member_add(libxlmig_ctx *ctx, struct xlmig__pool_state *st,
                           const char *name, const char *address,
                           int64_t joined);
int xlmig__pool_member_remove(libxlmig_ctx *ctx,
                              struct xlmig__pool_state *st,
                              const char *name);
struct xlmig__pool_member *xlmig__pool_member_find(
    struct xlmig__pool_state *st, const char *name);
int xlmig__pool_member_set_enabled(libxlmig_ctx *ctx,
                                   struct xlmig__pool_state *st,
                                   const char *name, bool enabled,
                                   bool *changed_r);

/*
 * Tasks, kept in the order they were added.  _add copies *t after
 * checking it: LIBXLMIG_ERR_INVALID_ARGUMENT for a bad field or an id
 * that is there already, LIBXLMIG_ERR_TOO_MANY_MIGRATIONS when there are
 * XLMIG__POOL_TASKS_MAX, LIBXLMIG_ERR_NO_MEMORY; nothing changed on
 * error.  _update sets the phase (NULL: unchanged) and the progress of
 * task @id: LIBXLMIG_ERR_NOT_FOUND, or _INVALID_ARGUMENT for a bad
 * phase or a progress above 100, nothing changed.  _remove:
 * LIBXLMIG_ERR_NOT_FOUND when there is no task @id.  _find: the task
 * or NULL (a pointer into *st, valid until it changes).
 */
int xlmig__pool_task_add(libxlmig_ctx *ctx, struct xlmig__pool_state *st,
                         const struct xlmig__pool_task *t);
int xlmig__pool_task_update(libxlmig_ctx *ctx, struct xlmig__pool_state *st,
                            uint64_t id, const char *phase,
                            unsigned progress);
int xlmig__pool_task_remove(libxlmig_ctx *ctx, struct xlmig__pool_state *st,
                            uint64_t id);
struct xlmig__pool_task *xlmig__pool_task_find(struct xlmig__pool_state *st,
                                               uint64_t id);

#endif /* XLMIG_POOLSTATE_H */

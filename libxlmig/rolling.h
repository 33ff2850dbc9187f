/* SPDX-License-Identifier: LGPL-2.1-only */
/*
 * The rolling pool upgrade (internal; docs/specs/rolling-upgrade.md):
 * the driver of `xlmig-xe pool-rolling-upgrade upgrade-command=CMD`, and
 * what a pool refuses while it is mid-upgrade.
 *
 * The driver is a state machine over an ops table: it decides the
 * order, what is upgraded already, when to stop and what to say; the
 * caller (the CLI, talking to the pool's xlmigd) supplies the
 * operations.  It runs in the command, not in a daemon: the master's
 * daemon goes away during the master's own upgrade.
 *
 * The order: the master first, then the members by name (strcmp, byte
 * order).  Each host not upgraded yet: disable, evacuate, run the
 * upgrade command on it, wait for its daemon to come back, read its
 * version, enable.  The first failure stops the run; a rerun of the
 * same command goes on from what the hosts report (their versions) and
 * from the pool's small rolling state (below), so nothing else needs
 * remembering.
 *
 * "Upgraded" is a version pair, Xen's and libxlmig's, compared part by
 * part as numbers ("4.17.10" > "4.17.9"), each part of the pair on its
 * own.  A host is upgraded when its pair is not older than the target in
 * either part.  The target is the operator's (version=, xen-version=;
 * a part not given is any), else the newest of the pool (the newest of
 * each part over the hosts) when the hosts differ, else (every host
 * alike: a fresh run) none until the first host upgraded comes back:
 * its new pair is the target of the others.  After the command a host
 * must come back with a pair not older than before in either part,
 * different from before, and at the target: else HOST_NOT_UPGRADED.
 */
#ifndef XLMIG_ROLLING_H
#define XLMIG_ROLLING_H

#include <stdbool.h>
#include <stddef.h>

#include "libxlmig.h"

#define XLMIG__ROLLING_HOSTS_MAX 64         /* as XLMIG__POOL_HOSTS_MAX */
#define XLMIG__ROLLING_NAME_MAX 64          /* bytes of a host's name */
#define XLMIG__ROLLING_XEN_MAX 79           /* as host facts' xen_version */
#define XLMIG__ROLLING_VERSION_MAX 31       /* as host facts' version */
#define XLMIG__ROLLING_COMMAND_MAX 1024     /* bytes of the command */
#define XLMIG__ROLLING_OUTPUT_MAX 512       /* bytes of its output kept */
#define XLMIG__ROLLING_TIMEOUT_MAX 86400    /* seconds, either limit */
#define XLMIG__ROLLING_UPGRADE_TIMEOUT 3600 /* default upgrade-timeout */
#define XLMIG__ROLLING_BACK_TIMEOUT 1200    /* default back-timeout */
/* A line of the report: the rerun command quotes the command. */
#define XLMIG__ROLLING_LINE_MAX (4 * XLMIG__ROLLING_COMMAND_MAX + 1024)

/* What a host runs; "" in a target: any. */
struct xlmig__rolling_version {
    char xen[XLMIG__ROLLING_XEN_MAX + 1];           /* "4.17.8" */
    char libxlmig[XLMIG__ROLLING_VERSION_MAX + 1];  /* "0.2.0" */
};

/* A host of the pool as the master lists it, with its daemon's facts. */
struct xlmig__rolling_host {
    char name[XLMIG__ROLLING_NAME_MAX + 1];
    bool is_master;
    bool enabled;                       /* false: host-disable'd */
    struct xlmig__rolling_version version;
};

/*
 * The pool's rolling state, kept by its master (pool.json): @upgrading
 * is the mid-upgrade mark (xapi's Pool.other_config
 * rolling_upgrade_in_progress), set at the start of a run, cleared at
 * its end, left set at a stop; @held names the host the driver disabled
 * and has not enabled again ("" for none), so that a rerun enables it
 * and tells it from a host the operator disabled.
 */
struct xlmig__rolling_state {
    bool upgrading;
    char held[XLMIG__ROLLING_NAME_MAX + 1];
};

/* How the upgrade command ended. */
enum xlmig__rolling_cmd_end {
    XLMIG__ROLLING_CMD_EXITED,      /* @status: its exit status */
    XLMIG__ROLLING_CMD_SIGNALLED,   /* @status: the signal that killed it */
    XLMIG__ROLLING_CMD_TIMED_OUT,   /* killed at its time limit */
    XLMIG__ROLLING_CMD_HOST_GONE,   /* the host's daemon went away while
                                     * it ran: the reboot of an upgrade */
};

struct xlmig__rolling_cmd_result {
    enum xlmig__rolling_cmd_end end;
    int status;
    /* The last bytes of its stdout and stderr, or "". */
    char output[XLMIG__ROLLING_OUTPUT_MAX + 1];
};

/* The steps, in the order a host goes through them. */
enum xlmig__rolling_step {
    XLMIG__ROLLING_STEP_NONE,       /* not stopped */
    XLMIG__ROLLING_STEP_START,      /* params, list, state: before any host */
    XLMIG__ROLLING_STEP_DISABLE,
    XLMIG__ROLLING_STEP_EVACUATE,
    XLMIG__ROLLING_STEP_UPGRADE,
    XLMIG__ROLLING_STEP_WAIT,
    XLMIG__ROLLING_STEP_VERSION,
    XLMIG__ROLLING_STEP_ENABLE,
    XLMIG__ROLLING_STEP_FINISH,     /* clearing the mid-upgrade mark */
};

/* "disable", "evacuate", ...; "" for NONE.  Pure. */
const char *xlmig__rolling_step_name(enum xlmig__rolling_step step);

/*
 * The operations.  Every hook is required and gets the driver's @ctx
 * and the caller's @opaque.  A hook returns 0, or a negative
 * LIBXLMIG_ERR_* it has logged in @ctx with xlmig__error() where it was
 * detected (naming the host and what to do); the driver does not log it
 * again, stops the run and quotes libxlmig_ctx_last_error(@ctx) in its
 * report.  Outcomes the driver judges (a command's exit, a host not
 * back) are not hook errors: the hook returns 0 and says what happened.
 * A hook never calls back into the driver.
 */
struct xlmig__rolling_ops {
    /*
     * Called once, first.  Fill @hosts (room for @max) with every host
     * of the pool, *@n_r of them: exactly one is_master, names unique,
     * 1 to XLMIG__ROLLING_NAME_MAX bytes, each with the version its
     * daemon reports now (host.facts) and its enabled flag (host.list).
     * A host whose daemon does not answer is an error
     * (CANNOT_CONTACT_HOST naming it): nothing is touched then.
     */
    int (*list_hosts)(libxlmig_ctx *ctx, void *opaque,
                      struct xlmig__rolling_host *hosts, size_t max,
                      size_t *n_r);
    /*
     * Called once, after list_hosts.  Fill @st with the pool's rolling
     * state ({false, ""} for a pool that never had one).
     */
    int (*state_get)(libxlmig_ctx *ctx, void *opaque,
                     struct xlmig__rolling_state *st);
    /*
     * Called before the first host is touched (upgrading set, @held as
     * read), before the driver disables a host (@held its name), after
     * it enabled it again (@held ""), and at the end (upgrading false,
     * @held "").  Saves @st as the pool's rolling state, crash-safely,
     * before it returns.
     */
    int (*state_set)(libxlmig_ctx *ctx, void *opaque,
                     const struct xlmig__rolling_state *st);
    /*
     * Called for a host not upgraded yet that is enabled (or held).
     * Leaves @host disabled (host.disable: confirmed by the host, or
     * logged that it was not), as host-disable does; no error when it
     * is disabled already.
     */
    int (*disable)(libxlmig_ctx *ctx, void *opaque, const char *host);
    /*
     * Called after disable.  Moves every running VM of @host to other
     * hosts (host-evacuate) and returns once none runs there.  *@moved_r
     * (0 on entry): the VMs moved, also when it fails (those moved
     * before the failure); a VM that cannot move is an error (its
     * evacuation's, e.g. NO_HOSTS_AVAILABLE) and leaves @host disabled.
     */
    int (*evacuate)(libxlmig_ctx *ctx, void *opaque, const char *host,
                    unsigned int *moved_r);
    /*
     * Called after evacuate.  Runs @command on @host by its xlmigd
     * (/bin/sh -c, as root) and kills it (its process group) when it has
     * run @timeout_s seconds.  Returns 0 with @res filled when the
     * command was started, whatever its end, within @timeout_s plus a
     * grace of the hook's (at most 60 s): EXITED, SIGNALLED, TIMED_OUT,
     * or HOST_GONE when the connection to the daemon ended while it ran
     * (the host rebooting).  An error only when it could not be asked
     * to run (the daemon unreachable, a refusal).
     */
    int (*upgrade)(libxlmig_ctx *ctx, void *opaque, const char *host,
                   const char *command, unsigned int timeout_s,
                   struct xlmig__rolling_cmd_result *res);
    /*
     * Called after upgrade.  Waits up to @timeout_s seconds for @host's
     * xlmigd to answer again (a daemon started after the command
     * began, when the old one went away), asking every few seconds.
     * 0 with *@back_r: true once it answers, false when the limit
     * passed without an answer (not an error of the hook).
     */
    int (*wait_back)(libxlmig_ctx *ctx, void *opaque, const char *host,
                     unsigned int timeout_s, bool *back_r);
    /*
     * Called once wait_back said true.  Fills @v with the version pair
     * @host's daemon reports now (host.facts), within the request's own
     * limit.
     */
    int (*version)(libxlmig_ctx *ctx, void *opaque, const char *host,
                   struct xlmig__rolling_version *v);
    /*
     * Called when the host is upgraded and it was the driver that
     * disabled it.  Leaves @host enabled, as host-enable does.
     */
    int (*enable)(libxlmig_ctx *ctx, void *opaque, const char *host);
    /*
     * Called for each line of the run's report ("h1: disabled"), in
     * order, as it happens: the plan, each step done, the end or the
     * stop.  @line has no newline; it lives for the call only.
     */
    void (*report)(void *opaque, const char *line);
};

/* The run, as the operator asked it. */
struct xlmig__rolling_params {
    const char *command;        /* upgrade-command: 1 to 1024 bytes of
                                 * printable ASCII */
    const char *version;        /* version=: libxlmig's target, or NULL */
    const char *xen_version;    /* xen-version=: Xen's target, or NULL */
    unsigned int upgrade_timeout_s;     /* upgrade-timeout=, 0: default */
    unsigned int back_timeout_s;        /* back-timeout=, 0: default */
    const char *config;         /* config=FILE for the rerun line; NULL
                                 * or "": the default */
    const char *sr;             /* sr=SR for the rerun line (the
                                 * evacuate hook's), or NULL */
};

/* What happened to a host. */
enum xlmig__rolling_outcome {
    XLMIG__ROLLING_NOT_REACHED,     /* the run stopped before its turn */
    XLMIG__ROLLING_SKIPPED,         /* upgraded already: nothing done */
    XLMIG__ROLLING_UPGRADED,        /* by this run (or only enabled: held) */
    XLMIG__ROLLING_STOPPED,         /* the run stopped at it */
};

struct xlmig__rolling_host_result {
    char name[XLMIG__ROLLING_NAME_MAX + 1];
    bool is_master;
    enum xlmig__rolling_outcome outcome;
    struct xlmig__rolling_version before;   /* as listed */
    struct xlmig__rolling_version after;    /* UPGRADED: as read after */
    bool disabled;              /* left disabled (by this run or before) */
    bool disabled_by_run;       /* this run disabled it (or held it) */
    bool evacuated;             /* every VM moved away */
    unsigned int moved;         /* VMs moved away */
    bool upgrade_ran;           /* the command was started on it */
};

struct xlmig__rolling_result {
    size_t n;                   /* hosts, in the run's order */
    struct xlmig__rolling_host_result hosts[XLMIG__ROLLING_HOSTS_MAX];
    int rc;                     /* as returned */
    enum xlmig__rolling_step step;  /* where it stopped, or NONE */
    size_t stopped;             /* the host it stopped at, or n */
    struct xlmig__rolling_version target;   /* as known at the end */
    char error[1024];           /* "NAME: sentence", or "" */
    char go_on[XLMIG__ROLLING_LINE_MAX];    /* the command to rerun */
    char give_up[XLMIG__ROLLING_NAME_MAX + 4200];   /* host-enable, "" */
};

/*
 * Run the rolling upgrade (above) with @ops and @opaque.  0 when every
 * host is upgraded (some maybe already) and the mid-upgrade mark is
 * cleared; else the first failure's code, logged once (by the hook, or
 * by the driver: UPDATE_APPLY_FAILED, UPDATE_APPLY_TIMEOUT,
 * HOST_NOT_BACK_AFTER_UPGRADE, HOST_NOT_UPGRADED; INVALID_VALUE for bad
 * @p and INTERNAL_ERROR for a hook breaking its contract, both before
 * anything is touched), with no host touched after it.  @res (the
 * caller's) says what was done to each host, where it stopped and how
 * to go on, as the report said it.
 */
int xlmig__rolling_run(libxlmig_ctx *ctx, const struct xlmig__rolling_ops *ops,
                       void *opaque, const struct xlmig__rolling_params *p,
                       struct xlmig__rolling_result *res);

/*
 * End the pool's mid-upgrade state without upgrading the rest
 * (pool-rolling-upgrade abandon=true): clear the mark and the held host
 * (state_set, only when set), and report which hosts are not at the
 * pool's newest version and which host the upgrade left disabled (with
 * the host-enable line, config=@config when not NULL or "").  Touches no
 * host.  0, or the hooks' error (logged once), the state unchanged.
 * Uses list_hosts, state_get, state_set and report of @ops.
 */
int xlmig__rolling_abandon(libxlmig_ctx *ctx,
                           const struct xlmig__rolling_ops *ops, void *opaque,
                           const char *config);

/*
 * Is @command a command pool-rolling-upgrade takes (1 to
 * XLMIG__ROLLING_COMMAND_MAX bytes of printable ASCII)?  0, or
 * LIBXLMIG_ERR_INVALID_ARGUMENT logged in @ctx saying why.
 */
int xlmig__rolling_command_check(libxlmig_ctx *ctx, const char *command);

/*
 * The test hook's version file (xlmigd.conf's test-version-file,
 * docs/man/xlmigd.conf.5.md): @len bytes of lines "libxlmig=VERSION"
 * and "xen=VERSION", each at most once, either may be missing; blank
 * lines and lines starting with '#' are skipped; a VERSION as version=
 * takes it (a digit first, then digits, letters and . + - _).  The
 * parts named replace those of *@v; nothing changes on an error.  0, or
 * LIBXLMIG_ERR_INVALID_ARGUMENT with @why saying why.  Pure.
 */
#define XLMIG__ROLLING_VERSION_FILE_MAX 1024
int xlmig__rolling_version_parse(const char *text, size_t len,
                                 struct xlmig__rolling_version *v,
                                 char *why, size_t why_len);

/*
 * Read the test hook's version file @path into the parts of *@v it
 * names (above).  A missing file is no error and changes nothing; a
 * file that is not good is LIBXLMIG_ERR_INVALID_ARGUMENT (or the read's
 * error), logged in @ctx naming the file.
 */
int xlmig__rolling_version_file(libxlmig_ctx *ctx, const char *path,
                                struct xlmig__rolling_version *v);

/* The run's order of @hosts: @order_r[k] is the k-th's index.  Pure. */
void xlmig__rolling_order(const struct xlmig__rolling_host *hosts, size_t n,
                          size_t *order_r);

/* Is @v not older than @target in either part ("" in @target: any)?
 * Pure. */
bool xlmig__rolling_version_at(const struct xlmig__rolling_version *v,
                               const struct xlmig__rolling_version *target);

/* The newest of each part over @hosts into @newest_r.  Pure. */
void xlmig__rolling_newest(const struct xlmig__rolling_host *hosts, size_t n,
                           struct xlmig__rolling_version *newest_r);

/* ------------------------------------------- the pool mid-upgrade */

/* What a pool does with an operation while it is mid-upgrade. */
enum xlmig__rolling_rule {
    XLMIG__ROLLING_ALLOWED,         /* as at any other time */
    XLMIG__ROLLING_REFUSED,         /* NOT_SUPPORTED_DURING_UPGRADE */
    XLMIG__ROLLING_NEWEST_ONLY,     /* refused on a host older than the
                                     * pool's newest (not upgraded yet) */
};

/*
 * The rule for the xlmigd method @method ("pool.join", "vm.start"; a
 * method not listed, or NULL, is ALLOWED).  Pure.
 */
enum xlmig__rolling_rule xlmig__rolling_rule(const char *method);

/*
 * Does a pool mid-upgrade refuse @method on a host that is
 * (@host_upgraded) or is not at the pool's newest version?  Pure.
 */
bool xlmig__rolling_refuses(const char *method, bool host_upgraded);

/*
 * Log the refusal of @method (its xlmig-xe command named) on or of
 * @host, with what to do, and return LIBXLMIG_ERR_NOT_SUPPORTED_DURING_
 * UPGRADE.
 */
int xlmig__rolling_refuse(libxlmig_ctx *ctx, const char *method,
                          const char *host);

#endif /* XLMIG_ROLLING_H */

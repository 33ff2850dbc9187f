/* SPDX-License-Identifier: LGPL-2.1-only */
/*
 * The rolling pool upgrade driver and the pool's mid-upgrade rules
 * (rolling.h, docs/specs/rolling-upgrade.md).
 *
 * The run is laid out in the order things happen: the parameters, the
 * hosts and the pool's rolling state, the plan, each host in turn,
 * the end; a stop at any step jumps to one place that says what was
 * done and how to go on.  Every hook's result is checked against its
 * contract before it is used.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "jsonfile.h"
#include "launch.h"
#include "rolling.h"
#include "units.h"

/* ------------------------------------------------------------ versions */

bool xlmig__rolling_version_at(const struct xlmig__rolling_version *v,
                               const struct xlmig__rolling_version *target)
{
    return (!target->xen[0] ||
            xlmig__version_cmp(v->xen, target->xen) >= 0) &&
           (!target->libxlmig[0] ||
            xlmig__version_cmp(v->libxlmig, target->libxlmig) >= 0);
}

void xlmig__rolling_newest(const struct xlmig__rolling_host *hosts, size_t n,
                           struct xlmig__rolling_version *newest_r)
{
    size_t i;

    memset(newest_r, 0, sizeof(*newest_r));
    for (i = 0; i < n; i++) {
        const struct xlmig__rolling_version *v = &hosts[i].version;

        if (!i || xlmig__version_cmp(v->xen, newest_r->xen) > 0)
            xlmig__strlcpy(newest_r->xen, v->xen, sizeof(newest_r->xen));
        if (!i ||
            xlmig__version_cmp(v->libxlmig, newest_r->libxlmig) > 0)
            xlmig__strlcpy(newest_r->libxlmig, v->libxlmig,
                           sizeof(newest_r->libxlmig));
    }
}

static bool version_same(const struct xlmig__rolling_version *a,
                         const struct xlmig__rolling_version *b)
{
    return !xlmig__version_cmp(a->xen, b->xen) &&
           !xlmig__version_cmp(a->libxlmig, b->libxlmig);
}

/* "libxlmig 0.2.0 / Xen 4.17.8"; a part that is "" is left out. */
static const char *version_text(const struct xlmig__rolling_version *v,
                                char *buf, size_t len)
{
    snprintf(buf, len, "%s%s%s%s%s", v->libxlmig[0] ? "libxlmig " : "",
             v->libxlmig, v->libxlmig[0] && v->xen[0] ? " / " : "",
             v->xen[0] ? "Xen " : "", v->xen);
    return buf;
}

#define VTEXT_MAX (XLMIG__ROLLING_XEN_MAX + XLMIG__ROLLING_VERSION_MAX + 20)

/* ------------------------------------------------------------ order */

void xlmig__rolling_order(const struct xlmig__rolling_host *hosts, size_t n,
                          size_t *order_r)
{
    size_t i, j;

    for (i = 0; i < n; i++) {
        size_t x = order_r[i] = i;

        /* Insertion: the master first, then by name. */
        for (j = i; j > 0; j--) {
            const struct xlmig__rolling_host *a = &hosts[order_r[j - 1]];
            const struct xlmig__rolling_host *b = &hosts[x];

            if (a->is_master ||
                (!b->is_master && strcmp(a->name, b->name) <= 0))
                break;
            order_r[j] = order_r[j - 1];
        }
        order_r[j] = x;
    }
}

const char *xlmig__rolling_step_name(enum xlmig__rolling_step step)
{
    switch (step) {
    case XLMIG__ROLLING_STEP_NONE: return "";
    case XLMIG__ROLLING_STEP_START: return "start";
    case XLMIG__ROLLING_STEP_DISABLE: return "disable";
    case XLMIG__ROLLING_STEP_EVACUATE: return "evacuate";
    case XLMIG__ROLLING_STEP_UPGRADE: return "upgrade";
    case XLMIG__ROLLING_STEP_WAIT: return "wait";
    case XLMIG__ROLLING_STEP_VERSION: return "version";
    case XLMIG__ROLLING_STEP_ENABLE: return "enable";
    case XLMIG__ROLLING_STEP_FINISH: return "finish";
    }
    return "";
}

/* ------------------------------------------------------------ text */

/* Append to @buf (@len bytes, *@o used, kept below @len): cut when full. */
static void add(char *buf, size_t len, size_t *o, const char *fmt, ...)
    XLMIG__PRINTF(4, 5);
static void add(char *buf, size_t len, size_t *o, const char *fmt, ...)
{
    va_list ap;
    int n;

    if (*o + 1 >= len)
        return;
    va_start(ap, fmt);
    n = vsnprintf(buf + *o, len - *o, fmt, ap);
    va_end(ap);
    if (n > 0)
        *o += (size_t)n < len - *o ? (size_t)n : len - *o - 1;
}

/* Can @c stand in a shell word without quotes? */
static bool shell_plain(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c >= '0' && c <= '9') || strchr("._/:=+-,@%", c);
}

/* Append @s to @buf (@len bytes, @*o used) as one shell word. */
static void shell_word(char *buf, size_t len, size_t *o, const char *s)
{
    bool plain = s[0] != '\0';
    size_t i;

    for (i = 0; s[i] && plain; i++)
        plain = shell_plain(s[i]);
    if (plain) {
        add(buf, len, o, "%s", s);
        return;
    }
    add(buf, len, o, "'");
    for (i = 0; s[i]; i++) {
        if (s[i] == '\'')
            add(buf, len, o, "'\\''");
        else
            add(buf, len, o, "%c", s[i]);
    }
    add(buf, len, o, "'");
}

/* The command that goes on where a stopped run stopped: the same one. */
static void rerun_line(const struct xlmig__rolling_params *p, char *buf,
                       size_t len)
{
    size_t o = 0;

    buf[0] = '\0';
    add(buf, len, &o, "xlmig-xe pool-rolling-upgrade upgrade-command=");
    shell_word(buf, len, &o, p->command);
    if (p->version) {
        add(buf, len, &o, " version=");
        shell_word(buf, len, &o, p->version);
    }
    if (p->xen_version) {
        add(buf, len, &o, " xen-version=");
        shell_word(buf, len, &o, p->xen_version);
    }
    if (p->upgrade_timeout_s)
        add(buf, len, &o, " upgrade-timeout=%u", p->upgrade_timeout_s);
    if (p->back_timeout_s)
        add(buf, len, &o, " back-timeout=%u", p->back_timeout_s);
    if (p->sr && p->sr[0]) {
        add(buf, len, &o, " sr=");
        shell_word(buf, len, &o, p->sr);
    }
    if (p->config && p->config[0]) {
        add(buf, len, &o, " config=");
        shell_word(buf, len, &o, p->config);
    }
}

/* The last bytes of a command's output, one line, quoted, for messages. */
static const char *output_tail(const char *out, char *buf, size_t len)
{
    char line[161];
    size_t n = strlen(out), i;

    while (n && (out[n - 1] == '\n' || out[n - 1] == ' '))
        n--;
    i = n > sizeof(line) - 1 ? n - (sizeof(line) - 1) : 0;
    memcpy(line, out + i, n - i);
    line[n - i] = '\0';
    for (i = 0; line[i]; i++) {
        if (line[i] == '\n' || line[i] == '\t' || line[i] == '\r')
            line[i] = ' ';
    }
    xlmig__launch_quote(buf, len, line);
    return buf;
}

/* ------------------------------------------------------------ the run */

struct run {
    libxlmig_ctx *ctx;
    const struct xlmig__rolling_ops *ops;
    void *opaque;
    const struct xlmig__rolling_params *p;
    struct xlmig__rolling_result *res;
    unsigned int upgrade_timeout_s, back_timeout_s;
    struct xlmig__rolling_host *hosts;      /* as listed */
    size_t order[XLMIG__ROLLING_HOSTS_MAX];
    struct xlmig__rolling_state st;
    bool target_known;
    const char *target_from;                /* where the target came from */
    bool mark_set;                          /* st.upgrading was saved */
    bool disable_asked;                     /* of the host at hand */
    char cmd_q[XLMIG__ROLLING_COMMAND_MAX + 3];
    char line[XLMIG__ROLLING_LINE_MAX];
};

static void say(struct run *r, const char *fmt, ...) XLMIG__PRINTF(2, 3);
static void say(struct run *r, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(r->line, sizeof(r->line), fmt, ap);
    va_end(ap);
    r->ops->report(r->opaque, r->line);
}

/* Before a hook: its error, if any, is to be its own. */
static void hook_begin(struct run *r)
{
    r->ctx->last_error[0] = '\0';
}

/*
 * A hook's return, its contract checked: 0, or an error logged once.
 * @host: the host it was called for, or NULL for the pool's hooks.
 */
static int hook_end(struct run *r, int rc, const char *hook,
                    const char *host)
{
    if (!rc)
        return 0;
    if (rc > 0 || !strcmp(libxlmig_strerror_name(rc), "UNKNOWN_ERROR"))
        return xlmig__error(r->ctx, LIBXLMIG_ERR_INTERNAL, -1,
                            "the rolling upgrade's %s hook returned %d%s%s, "
                            "not an error code: a bug of its caller; "
                            "report it", hook, rc, host ? " for host " : "",
                            host ? host : "");
    if (!r->ctx->last_error[0])
        xlmig__error(r->ctx, rc, -1, "the rolling upgrade's %s hook failed"
                     "%s%s and said nothing more; see %s%sthe master's "
                     "xlmigd log", hook, host ? " for host " : "",
                     host ? host : "", host ? host : "",
                     host ? "'s and " : "");
    return rc;
}

/* A host's name: 1 to XLMIG__ROLLING_NAME_MAX bytes, NUL within. */
static bool name_ok(const char *s, size_t size)
{
    return s[0] && memchr(s, '\0', size);
}

/* A target version: 1 to @max bytes, a digit first, then [0-9A-Za-z._+-]. */
static bool target_ok(const char *s, size_t max)
{
    size_t i;

    if (!(s[0] >= '0' && s[0] <= '9'))
        return false;
    for (i = 0; s[i]; i++) {
        char c = s[i];

        if (i == max ||
            !((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
              (c >= 'A' && c <= 'Z') || strchr(".+-_", c)))
            return false;
    }
    return true;
}

int xlmig__rolling_command_check(libxlmig_ctx *ctx, const char *command)
{
    size_t i;

    if (!command || !command[0])
        return xlmig__error(ctx, LIBXLMIG_ERR_INVALID_ARGUMENT, -1,
                            "pool-rolling-upgrade needs upgrade-command=CMD: "
                            "the command that upgrades a host, run on each "
                            "host by its xlmigd; nothing was done");
    for (i = 0; command[i]; i++) {
        if (i == XLMIG__ROLLING_COMMAND_MAX)
            return xlmig__error(ctx, LIBXLMIG_ERR_INVALID_ARGUMENT, -1,
                                "upgrade-command is longer than %d bytes: "
                                "put the command in a script on every host "
                                "and give its path; nothing was done",
                                XLMIG__ROLLING_COMMAND_MAX);
        if ((unsigned char)command[i] < 0x20 ||
            (unsigned char)command[i] > 0x7e)
            return xlmig__error(ctx, LIBXLMIG_ERR_INVALID_ARGUMENT, -1,
                                "byte %zu of upgrade-command is not "
                                "printable ASCII (one line, space to '~'); "
                                "nothing was done", i);
    }
    return 0;
}

int xlmig__rolling_version_parse(const char *text, size_t len,
                                 struct xlmig__rolling_version *v,
                                 char *why, size_t why_len)
{
    struct xlmig__rolling_version n = *v;
    bool seen_lib = false, seen_xen = false;
    unsigned lineno = 0;
    size_t at = 0;

    if (len > XLMIG__ROLLING_VERSION_FILE_MAX) {
        snprintf(why, why_len, "it is longer than %d bytes",
                 XLMIG__ROLLING_VERSION_FILE_MAX);
        return LIBXLMIG_ERR_INVALID_ARGUMENT;
    }
    while (at < len) {
        const char *nl = memchr(text + at, '\n', len - at);
        size_t end = nl ? (size_t)(nl - text) : len, k = at, e = end;
        char line[XLMIG__ROLLING_VERSION_FILE_MAX + 1], *eq, *val;

        lineno++;
        while (k < e && (text[k] == ' ' || text[k] == '\t'))
            k++;
        while (e > k && (text[e - 1] == ' ' || text[e - 1] == '\t' ||
                         text[e - 1] == '\r'))
            e--;
        at = end + 1;
        if (k == e || text[k] == '#')
            continue;
        memcpy(line, text + k, e - k);
        line[e - k] = '\0';
        if (memchr(line, '\0', e - k)) {
            snprintf(why, why_len, "line %u holds a NUL byte", lineno);
            return LIBXLMIG_ERR_INVALID_ARGUMENT;
        }
        eq = strchr(line, '=');
        if (!eq) {
            snprintf(why, why_len, "line %u is not KEY=VERSION", lineno);
            return LIBXLMIG_ERR_INVALID_ARGUMENT;
        }
        *eq = '\0';
        val = eq + 1;
        if (!strcmp(line, "libxlmig") && !seen_lib &&
            target_ok(val, XLMIG__ROLLING_VERSION_MAX)) {
            xlmig__strlcpy(n.libxlmig, val, sizeof(n.libxlmig));
            seen_lib = true;
        } else if (!strcmp(line, "xen") && !seen_xen &&
                   target_ok(val, XLMIG__ROLLING_XEN_MAX)) {
            xlmig__strlcpy(n.xen, val, sizeof(n.xen));
            seen_xen = true;
        } else {
            snprintf(why, why_len, "line %u: expected libxlmig=VERSION or "
                     "xen=VERSION, each once (a digit first, then digits, "
                     "letters and . + - _)", lineno);
            return LIBXLMIG_ERR_INVALID_ARGUMENT;
        }
    }
    *v = n;
    return 0;
}

static const struct xlmig__json_kind version_file_kind = {
    .what = "test version file",
    .a_what = "a version file",
    .invalid_rc = LIBXLMIG_ERR_INVALID_ARGUMENT,
    .max_bytes = XLMIG__ROLLING_VERSION_FILE_MAX,
    .depth_max = 1,
};

int xlmig__rolling_version_file(libxlmig_ctx *ctx, const char *path,
                                struct xlmig__rolling_version *v)
{
    char *text = NULL, why[200];
    size_t len = 0;
    int rc = xlmig__file_read(ctx, &version_file_kind, path, &text, &len);

    if (rc == LIBXLMIG_ERR_NOT_FOUND)
        return 0;
    if (!rc && xlmig__rolling_version_parse(text, len, v, why, sizeof(why)))
        rc = xlmig__error(ctx, LIBXLMIG_ERR_INVALID_ARGUMENT, -1,
                          "test version file %s (test-version-file, a test "
                          "hook): %s; fix or remove it", path, why);
    free(text);
    return rc;
}

static int check_params(struct run *r)
{
    const struct xlmig__rolling_params *p = r->p;

    int rc = xlmig__rolling_command_check(r->ctx, p->command);

    if (rc)
        return rc;
    if (p->version && !target_ok(p->version, XLMIG__ROLLING_VERSION_MAX))
        return xlmig__error(r->ctx, LIBXLMIG_ERR_INVALID_ARGUMENT, -1,
                            "version= is not a libxlmig version (a digit "
                            "first, at most %d bytes of digits, letters and "
                            ". + - _, as 0.2.0); nothing was done",
                            XLMIG__ROLLING_VERSION_MAX);
    if (p->xen_version &&
        !target_ok(p->xen_version, XLMIG__ROLLING_XEN_MAX))
        return xlmig__error(r->ctx, LIBXLMIG_ERR_INVALID_ARGUMENT, -1,
                            "xen-version= is not a Xen version (a digit "
                            "first, at most %d bytes of digits, letters and "
                            ". + - _, as 4.17.8); nothing was done",
                            XLMIG__ROLLING_XEN_MAX);
    if (p->upgrade_timeout_s > XLMIG__ROLLING_TIMEOUT_MAX)
        return xlmig__error(r->ctx, LIBXLMIG_ERR_INVALID_ARGUMENT, -1,
                            "upgrade-timeout=%u is more than %d seconds (a "
                            "day); nothing was done", p->upgrade_timeout_s,
                            XLMIG__ROLLING_TIMEOUT_MAX);
    if (p->back_timeout_s > XLMIG__ROLLING_TIMEOUT_MAX)
        return xlmig__error(r->ctx, LIBXLMIG_ERR_INVALID_ARGUMENT, -1,
                            "back-timeout=%u is more than %d seconds (a "
                            "day); nothing was done", p->back_timeout_s,
                            XLMIG__ROLLING_TIMEOUT_MAX);
    r->upgrade_timeout_s = p->upgrade_timeout_s
                               ? p->upgrade_timeout_s
                               : XLMIG__ROLLING_UPGRADE_TIMEOUT;
    r->back_timeout_s = p->back_timeout_s ? p->back_timeout_s
                                          : XLMIG__ROLLING_BACK_TIMEOUT;
    xlmig__launch_quote(r->cmd_q, sizeof(r->cmd_q), p->command);
    return 0;
}

/* The host list against list_hosts' contract. */
static int check_hosts(struct run *r, size_t n)
{
    const struct xlmig__rolling_host *hs = r->hosts;
    size_t i, j, masters = 0;

    if (!n || n > XLMIG__ROLLING_HOSTS_MAX)
        return xlmig__error(r->ctx, LIBXLMIG_ERR_INTERNAL, -1,
                            "the rolling upgrade's list_hosts hook gave %zu "
                            "hosts (1 to %d): a bug; report it; nothing was "
                            "done", n, XLMIG__ROLLING_HOSTS_MAX);
    for (i = 0; i < n; i++) {
        if (!name_ok(hs[i].name, sizeof(hs[i].name)) ||
            !name_ok(hs[i].version.xen, sizeof(hs[i].version.xen)) ||
            !name_ok(hs[i].version.libxlmig,
                     sizeof(hs[i].version.libxlmig)))
            return xlmig__error(r->ctx, LIBXLMIG_ERR_INTERNAL, -1,
                                "the rolling upgrade's list_hosts hook gave "
                                "host %zu without a name or a version: a "
                                "bug; report it; nothing was done", i + 1);
        masters += hs[i].is_master;
        for (j = 0; j < i; j++) {
            if (!strcmp(hs[i].name, hs[j].name))
                return xlmig__error(r->ctx, LIBXLMIG_ERR_INTERNAL, -1,
                                    "the rolling upgrade's list_hosts hook "
                                    "gave host %s twice: a bug; report it; "
                                    "nothing was done", hs[i].name);
        }
    }
    if (masters != 1)
        return xlmig__error(r->ctx, LIBXLMIG_ERR_INTERNAL, -1,
                            "the rolling upgrade's list_hosts hook gave %zu "
                            "masters, not one: a bug; report it; nothing "
                            "was done", masters);
    return 0;
}

static int save_state(struct run *r)
{
    hook_begin(r);
    return hook_end(r, r->ops->state_set(r->ctx, r->opaque, &r->st),
                    "state_set", NULL);
}

/* The upgrade command's end, judged: 0 to go on, else logged. */
static int judge_command(struct run *r, const char *host,
                         const struct xlmig__rolling_cmd_result *cr)
{
    char out[200];

    output_tail(cr->output, out, sizeof(out));
    switch (cr->end) {
    case XLMIG__ROLLING_CMD_EXITED:
        if (!cr->status)
            return 0;
        return xlmig__error(r->ctx, LIBXLMIG_ERR_UPDATE_APPLY_FAILED, -1,
                            "the upgrade command %s exited with status %d "
                            "on host %s (its output ends: %s); fix the "
                            "command or the host, then run the same "
                            "pool-rolling-upgrade again", r->cmd_q,
                            cr->status, host, out);
    case XLMIG__ROLLING_CMD_SIGNALLED:
        return xlmig__error(r->ctx, LIBXLMIG_ERR_UPDATE_APPLY_FAILED, -1,
                            "the upgrade command %s was killed by signal %d "
                            "on host %s (its output ends: %s); fix the "
                            "command or the host, then run the same "
                            "pool-rolling-upgrade again", r->cmd_q,
                            cr->status, host, out);
    case XLMIG__ROLLING_CMD_TIMED_OUT:
        return xlmig__error(r->ctx, LIBXLMIG_ERR_UPDATE_APPLY_TIMEOUT, -1,
                            "the upgrade command %s ran past its limit of "
                            "%u s on host %s and was killed (its output "
                            "ends: %s); find what it waits for, or raise "
                            "upgrade-timeout, then run the same "
                            "pool-rolling-upgrade again", r->cmd_q,
                            r->upgrade_timeout_s, host, out);
    case XLMIG__ROLLING_CMD_HOST_GONE:
        return 0;       /* the reboot of an upgrade: wait for it */
    }
    return xlmig__error(r->ctx, LIBXLMIG_ERR_INTERNAL, -1,
                        "the rolling upgrade's upgrade hook gave an unknown "
                        "end (%d) of the command on host %s: a bug; report "
                        "it", (int)cr->end, host);
}

/* The version a host came back with, judged: 0 when it is upgraded. */
static int judge_version(struct run *r, const char *host,
                         const struct xlmig__rolling_version *before,
                         const struct xlmig__rolling_version *after)
{
    const struct xlmig__rolling_version *t = &r->res->target;
    char a[VTEXT_MAX], b[VTEXT_MAX], tt[VTEXT_MAX];
    const char *what;

    if (!xlmig__rolling_version_at(after, before))
        what = "older than before";
    else if (version_same(after, before))
        what = "the same as before";
    else if (r->target_known && !xlmig__rolling_version_at(after, t))
        what = "short of the target";
    else
        return 0;
    return xlmig__error(r->ctx, LIBXLMIG_ERR_HOST_NOT_UPGRADED, -1,
                        "host %s came back from the upgrade command with "
                        "%s, %s (before: %s%s%s); the command did not "
                        "upgrade it: check what it did on %s, fix it, then "
                        "run the same pool-rolling-upgrade again", host,
                        version_text(after, a, sizeof(a)), what,
                        version_text(before, b, sizeof(b)),
                        r->target_known ? "; target: " : "",
                        r->target_known ? version_text(t, tt, sizeof(tt))
                                        : "", host);
}

/*
 * The steps of one host's turn (do_host()), in their order.  Each sets
 * r->res->step to its own and returns 0, or the error that stops the run
 * (logged).  @h is the host's result, @lh what the pool said of it.
 */

/*
 * Host @h is at the target already: skipped, or, held by a run that
 * stopped before enabling it again, enabled.
 */
static int host_at_target(struct run *r,
                          struct xlmig__rolling_host_result *h,
                          const struct xlmig__rolling_host *lh, bool held)
{
    char vt[VTEXT_MAX];
    int rc;

    h->after = h->before;
    if (!held) {
        h->outcome = XLMIG__ROLLING_SKIPPED;
        say(r, "%s: already at %s: skipped", h->name,
            version_text(&h->before, vt, sizeof(vt)));
        return 0;
    }
    /* Upgraded by a run that stopped before enabling it again. */
    h->outcome = XLMIG__ROLLING_STOPPED;
    h->disabled_by_run = true;
    r->res->step = XLMIG__ROLLING_STEP_ENABLE;
    if (!lh->enabled) {
        hook_begin(r);
        rc = hook_end(r, r->ops->enable(r->ctx, r->opaque, h->name),
                      "enable", h->name);
        if (rc)
            return rc;
        say(r, "%s: at %s already: enabled", h->name,
            version_text(&h->before, vt, sizeof(vt)));
    } else {
        say(r, "%s: at %s and enabled already: skipped", h->name,
            version_text(&h->before, vt, sizeof(vt)));
    }
    h->disabled = false;
    r->st.held[0] = '\0';
    rc = save_state(r);
    if (rc)
        return rc;
    h->outcome = XLMIG__ROLLING_UPGRADED;
    return 0;
}

/*
 * Disable @h when this run does it (@by_run: held in the state first, so
 * that a run after a crash enables it again); else say it stays so.
 */
static int host_disable(struct run *r, struct xlmig__rolling_host_result *h,
                        bool by_run, bool held)
{
    int rc;

    r->res->step = XLMIG__ROLLING_STEP_DISABLE;
    if (!by_run) {
        say(r, "%s: disabled already (not by this upgrade): it stays "
            "disabled after", h->name);
        return 0;
    }
    h->disabled_by_run = true;
    if (!held) {
        xlmig__strlcpy(r->st.held, h->name, sizeof(r->st.held));
        rc = save_state(r);
        if (rc)
            return rc;
    }
    r->disable_asked = true;
    hook_begin(r);
    rc = hook_end(r, r->ops->disable(r->ctx, r->opaque, h->name),
                  "disable", h->name);
    if (rc)
        return rc;
    h->disabled = true;
    say(r, "%s: disabled", h->name);
    return 0;
}

/* Move @h's VMs away. */
static int host_evacuate(struct run *r, struct xlmig__rolling_host_result *h)
{
    unsigned int moved = 0;
    int rc;

    r->res->step = XLMIG__ROLLING_STEP_EVACUATE;
    hook_begin(r);
    rc = r->ops->evacuate(r->ctx, r->opaque, h->name, &moved);
    h->moved = moved;
    rc = hook_end(r, rc, "evacuate", h->name);
    if (rc)
        return rc;
    h->evacuated = true;
    say(r, "%s: evacuated (%u VM%s)", h->name, moved, moved == 1 ? "" : "s");
    return 0;
}

/* Run the upgrade command on @h and judge how it ended (*cr). */
static int host_upgrade(struct run *r, struct xlmig__rolling_host_result *h,
                        struct xlmig__rolling_cmd_result *cr)
{
    int rc;

    r->res->step = XLMIG__ROLLING_STEP_UPGRADE;
    say(r, "%s: upgrading", h->name);
    memset(cr, 0, sizeof(*cr));
    hook_begin(r);
    rc = hook_end(r, r->ops->upgrade(r->ctx, r->opaque, h->name,
                                     r->p->command, r->upgrade_timeout_s,
                                     cr),
                  "upgrade", h->name);
    if (rc)
        return rc;
    h->upgrade_ran = true;
    cr->output[sizeof(cr->output) - 1] = '\0';
    return judge_command(r, h->name, cr);
}

/* Wait for @h's xlmigd to answer again after the command (@cr). */
static int host_wait_back(struct run *r,
                          const struct xlmig__rolling_host_result *h,
                          const struct xlmig__rolling_cmd_result *cr)
{
    bool back = false;
    int rc;

    r->res->step = XLMIG__ROLLING_STEP_WAIT;
    hook_begin(r);
    rc = hook_end(r, r->ops->wait_back(r->ctx, r->opaque, h->name,
                                       r->back_timeout_s, &back),
                  "wait_back", h->name);
    if (rc)
        return rc;
    if (!back)
        return xlmig__error(r->ctx, LIBXLMIG_ERR_HOST_NOT_BACK_AFTER_UPGRADE,
                            -1, "host %s's xlmigd did not answer within %u s "
                            "after the upgrade command %s; bring %s and its "
                            "xlmigd up (see its console), then run the same "
                            "pool-rolling-upgrade again, or raise "
                            "back-timeout", h->name, r->back_timeout_s,
                            cr->end == XLMIG__ROLLING_CMD_HOST_GONE
                                ? "(the host went away while it ran)"
                                : "(it exited 0)", h->name);
    return 0;
}

/*
 * Ask @h its versions now and judge them against before; the first host
 * upgraded sets the target of those after it.
 */
static int host_check_version(struct run *r,
                              struct xlmig__rolling_host_result *h)
{
    struct xlmig__rolling_result *res = r->res;
    struct xlmig__rolling_version after;
    char vt[VTEXT_MAX];
    int rc;

    res->step = XLMIG__ROLLING_STEP_VERSION;
    memset(&after, 0, sizeof(after));
    hook_begin(r);
    rc = hook_end(r, r->ops->version(r->ctx, r->opaque, h->name, &after),
                  "version", h->name);
    if (rc)
        return rc;
    after.xen[sizeof(after.xen) - 1] = '\0';
    after.libxlmig[sizeof(after.libxlmig) - 1] = '\0';
    h->after = after;
    rc = judge_version(r, h->name, &h->before, &after);
    if (rc)
        return rc;
    if (!r->target_known) {
        res->target = after;
        r->target_known = true;
        say(r, "%s: back with %s (the target of the hosts after it)",
            h->name, version_text(&after, vt, sizeof(vt)));
    } else {
        say(r, "%s: back with %s", h->name,
            version_text(&after, vt, sizeof(vt)));
    }
    return 0;
}

/* Enable @h again when this run disabled it (@by_run), and let it go. */
static int host_enable(struct run *r, struct xlmig__rolling_host_result *h,
                       bool by_run)
{
    int rc;

    r->res->step = XLMIG__ROLLING_STEP_ENABLE;
    if (!by_run) {
        say(r, "%s: left disabled, as it was before the upgrade", h->name);
        return 0;
    }
    hook_begin(r);
    rc = hook_end(r, r->ops->enable(r->ctx, r->opaque, h->name),
                  "enable", h->name);
    if (rc)
        return rc;
    h->disabled = false;
    say(r, "%s: enabled", h->name);
    r->st.held[0] = '\0';
    return save_state(r);
}

/*
 * Host @k of the order, its turn: skipped when upgraded, else each step.
 * 0, or the error that stops the run (logged), with r->res->step set.
 */
static int do_host(struct run *r, size_t k)
{
    struct xlmig__rolling_result *res = r->res;
    struct xlmig__rolling_host_result *h = &res->hosts[k];
    const struct xlmig__rolling_host *lh = &r->hosts[r->order[k]];
    struct xlmig__rolling_cmd_result cr;
    bool held = !strcmp(r->st.held, h->name), by_run;
    int rc;

    r->disable_asked = false;
    if (r->target_known &&
        xlmig__rolling_version_at(&h->before, &res->target))
        return host_at_target(r, h, lh, held);

    h->outcome = XLMIG__ROLLING_STOPPED;
    by_run = lh->enabled || held;
    rc = host_disable(r, h, by_run, held);
    if (!rc)
        rc = host_evacuate(r, h);
    if (!rc)
        rc = host_upgrade(r, h, &cr);
    if (!rc)
        rc = host_wait_back(r, h, &cr);
    if (!rc)
        rc = host_check_version(r, h);
    if (!rc)
        rc = host_enable(r, h, by_run);
    if (rc)
        return rc;
    h->outcome = XLMIG__ROLLING_UPGRADED;
    return 0;
}

/* What is left of the host the run stopped at, in one line. */
static void say_stopped_host(struct run *r)
{
    const struct xlmig__rolling_result *res = r->res;
    const struct xlmig__rolling_host_result *h = &res->hosts[res->stopped];
    char vt[VTEXT_MAX], moved[64];
    const char *dis = h->disabled_by_run ? "left disabled"
                                         : "disabled (before this upgrade)";

    snprintf(moved, sizeof(moved), "%u VM%s moved away", h->moved,
             h->moved == 1 ? "" : "s");
    switch (res->step) {
    case XLMIG__ROLLING_STEP_DISABLE:
        if (r->disable_asked)
            say(r, "%s: host-disable failed: it may or may not be disabled "
                "(see xlmig-xe host-list); nothing else was done to it",
                h->name);
        else
            say(r, "%s: nothing was done to it", h->name);
        break;
    case XLMIG__ROLLING_STEP_EVACUATE:
        say(r, "%s: %s; its evacuation failed: %s, the others still run "
            "there (see xlmig-xe vm-list)", h->name, dis, moved);
        break;
    case XLMIG__ROLLING_STEP_UPGRADE:
        say(r, "%s: %s and evacuated (%s); the upgrade command %s", h->name,
            dis, moved, h->upgrade_ran ? "failed" : "could not be started");
        break;
    case XLMIG__ROLLING_STEP_WAIT:
        say(r, "%s: %s and evacuated (%s); the upgrade command ran, and the "
            "host has not come back", h->name, dis, moved);
        break;
    case XLMIG__ROLLING_STEP_VERSION:
        if (h->after.libxlmig[0] || h->after.xen[0])
            say(r, "%s: %s and evacuated (%s); the upgrade command ran, and "
                "the host came back with %s", h->name, dis, moved,
                version_text(&h->after, vt, sizeof(vt)));
        else
            say(r, "%s: %s and evacuated (%s); the upgrade command ran, and "
                "the host came back, but its version could not be read",
                h->name, dis, moved);
        break;
    case XLMIG__ROLLING_STEP_ENABLE:
        if (h->disabled)
            say(r, "%s: upgraded (%s), but left disabled: host-enable "
                "failed", h->name, version_text(&h->after, vt, sizeof(vt)));
        else
            say(r, "%s: upgraded (%s) and enabled, but the pool's rolling "
                "state still names it", h->name,
                version_text(&h->after, vt, sizeof(vt)));
        break;
    default:
        break;
    }
}

/* The stop: where, why, what was done, how to go on. */
static void say_stop(struct run *r)
{
    struct xlmig__rolling_result *res = r->res;
    char vt[VTEXT_MAX];
    size_t o = 0, k, done = 0;

    if (res->step == XLMIG__ROLLING_STEP_START) {
        say(r, "stopped before any host was touched: %s", res->error);
        if (res->go_on[0])
            say(r, "to go on: fix what it says, then run %s", res->go_on);
        return;
    }
    if (res->step == XLMIG__ROLLING_STEP_FINISH)
        say(r, "stopped at the end: %s", res->error);
    else
        say(r, "stopped at %s, step %s: %s", res->hosts[res->stopped].name,
            xlmig__rolling_step_name(res->step), res->error);

    o = 0;
    add(r->line, sizeof(r->line), &o, "done:");
    for (k = 0; k < res->n; k++) {
        const struct xlmig__rolling_host_result *h = &res->hosts[k];

        if (h->outcome != XLMIG__ROLLING_UPGRADED &&
            h->outcome != XLMIG__ROLLING_SKIPPED)
            continue;
        add(r->line, sizeof(r->line), &o, "%s %s %s (%s)", done ? ";" : "",
            h->name, h->outcome == XLMIG__ROLLING_UPGRADED
                         ? "upgraded" : "upgraded already",
            version_text(&h->after, vt, sizeof(vt)));
        done++;
    }
    if (!done)
        snprintf(r->line, sizeof(r->line), "done: no host upgraded");
    r->ops->report(r->opaque, r->line);

    if (res->step != XLMIG__ROLLING_STEP_FINISH)
        say_stopped_host(r);

    o = 0;
    add(r->line, sizeof(r->line), &o, "not reached:");
    done = 0;
    for (k = res->stopped + 1; k < res->n; k++) {
        add(r->line, sizeof(r->line), &o, "%s %s", done ? "," : "",
            res->hosts[k].name);
        done++;
    }
    if (done)
        r->ops->report(r->opaque, r->line);

    if (r->mark_set)
        say(r, "the pool stays mid-upgrade: pool-join and vm-register are "
            "refused, vm-start only on upgraded hosts "
            "(NOT_SUPPORTED_DURING_UPGRADE)");
    say(r, "to go on: %s", res->go_on);
    if (res->give_up[0])
        say(r, "to give up on %s and use it as it is: %s",
            res->hosts[res->stopped].name, res->give_up);
}

/*
 * The steps of xlmig__rolling_run(), in their order.  Those returning an
 * int return 0 or the error that stops the run (logged).
 */

/* The parameters, the hosts, the pool's state: nothing touched yet. */
static int run_gather(struct run *r, size_t *n_r)
{
    int rc;

    rc = check_params(r);
    if (rc)
        return rc;
    rerun_line(r->p, r->res->go_on, sizeof(r->res->go_on));
    r->hosts = xlmig__zalloc(XLMIG__ROLLING_HOSTS_MAX * sizeof(*r->hosts));
    if (!r->hosts)
        return xlmig__error(r->ctx, LIBXLMIG_ERR_NO_MEMORY, -1, "no memory "
                            "for the rolling upgrade; nothing was done");
    hook_begin(r);
    rc = hook_end(r, r->ops->list_hosts(r->ctx, r->opaque, r->hosts,
                                        XLMIG__ROLLING_HOSTS_MAX, n_r),
                  "list_hosts", NULL);
    if (rc)
        return rc;
    rc = check_hosts(r, *n_r);
    if (rc)
        return rc;
    hook_begin(r);
    rc = hook_end(r, r->ops->state_get(r->ctx, r->opaque, &r->st),
                  "state_get", NULL);
    if (rc)
        return rc;
    r->st.held[sizeof(r->st.held) - 1] = '\0';
    return 0;
}

/*
 * The results of the @n hosts in their order, as they are before; true
 * when every host has the same versions.
 */
static bool run_results_init(struct run *r, size_t n)
{
    struct xlmig__rolling_result *res = r->res;
    bool alike = true;
    size_t k;

    xlmig__rolling_order(r->hosts, n, r->order);
    res->n = n;
    for (k = 0; k < n; k++) {
        const struct xlmig__rolling_host *lh = &r->hosts[r->order[k]];
        struct xlmig__rolling_host_result *h = &res->hosts[k];

        xlmig__strlcpy(h->name, lh->name, sizeof(h->name));
        h->is_master = lh->is_master;
        h->before = lh->version;
        h->disabled = !lh->enabled;
        if (k && !version_same(&lh->version, &r->hosts[r->order[0]].version))
            alike = false;
    }
    return alike;
}

/*
 * The target: the operator's, or the pool's newest (hosts not @alike),
 * or to come (the first host's after its upgrade).  Whether there is
 * work: a host short of it, or one held by a run that stopped.
 */
static bool run_choose_target(struct run *r, size_t n, bool alike)
{
    const struct xlmig__rolling_params *p = r->p;
    struct xlmig__rolling_result *res = r->res;
    struct xlmig__rolling_version given;
    bool work;
    size_t k;

    memset(&given, 0, sizeof(given));
    if (p->version)
        xlmig__strlcpy(given.libxlmig, p->version, sizeof(given.libxlmig));
    if (p->xen_version)
        xlmig__strlcpy(given.xen, p->xen_version, sizeof(given.xen));
    if (p->version || p->xen_version) {
        res->target = given;
        r->target_known = true;
        r->target_from = "given";
    } else if (!alike) {
        xlmig__rolling_newest(r->hosts, n, &res->target);
        r->target_known = true;
        r->target_from = "the pool's newest";
    }
    work = !r->target_known || r->st.held[0];
    for (k = 0; k < n && !work; k++)
        work = !xlmig__rolling_version_at(&res->hosts[k].before,
                                          &res->target);
    return work;
}

/* Nothing to do (a rerun after the last host): the mark, if left, goes. */
static int run_nothing_to_do(struct run *r, size_t n)
{
    struct xlmig__rolling_result *res = r->res;
    char vt[VTEXT_MAX];
    size_t k;
    int rc;

    res->step = XLMIG__ROLLING_STEP_FINISH;
    res->stopped = n;
    if (r->st.upgrading) {
        r->st.upgrading = false;
        rc = save_state(r);
        if (rc)
            return rc;
    }
    for (k = 0; k < n; k++) {
        res->hosts[k].outcome = XLMIG__ROLLING_SKIPPED;
        res->hosts[k].after = res->hosts[k].before;
    }
    say(r, "every host is at %s already: nothing to do",
        version_text(&res->target, vt, sizeof(vt)));
    res->step = XLMIG__ROLLING_STEP_NONE;
    return 0;
}

/* The plan: the hosts in their order, the target. */
static void say_plan(struct run *r, size_t n)
{
    struct xlmig__rolling_result *res = r->res;
    char vt[VTEXT_MAX];
    size_t k, o = 0;

    add(r->line, sizeof(r->line), &o, "rolling upgrade:");
    for (k = 0; k < n; k++)
        add(r->line, sizeof(r->line), &o, "%s %s%s", k ? "," : "",
            res->hosts[k].name, res->hosts[k].is_master ? " (master)" : "");
    if (r->target_known)
        add(r->line, sizeof(r->line), &o, "; target: %s (%s)",
            version_text(&res->target, vt, sizeof(vt)), r->target_from);
    else
        add(r->line, sizeof(r->line), &o, "; target: the version the "
            "first host comes back with");
    r->ops->report(r->opaque, r->line);
}

/*
 * The pool marked mid-upgrade, each host's turn in order, then the mark
 * cleared and the outcome said.
 */
static int run_hosts(struct run *r, size_t n)
{
    struct xlmig__rolling_result *res = r->res;
    char vt[VTEXT_MAX];
    size_t k, o;
    int rc;

    r->st.upgrading = true;
    rc = save_state(r);
    if (rc)
        return rc;
    r->mark_set = true;

    for (k = 0; k < n; k++) {
        res->stopped = k;
        rc = do_host(r, k);
        if (rc)
            return rc;
    }
    res->stopped = n;

    res->step = XLMIG__ROLLING_STEP_FINISH;
    r->st.upgrading = false;
    r->st.held[0] = '\0';
    rc = save_state(r);
    if (rc)
        return rc;
    res->step = XLMIG__ROLLING_STEP_NONE;
    for (k = 0, o = 0; k < n; k++)
        o += res->hosts[k].outcome == XLMIG__ROLLING_UPGRADED;
    say(r, "rolling upgrade done: %zu host%s upgraded, %zu upgraded "
        "already; every host at %s or newer", o, o == 1 ? "" : "s", n - o,
        version_text(&res->target, vt, sizeof(vt)));
    return 0;
}

/*
 * After a stop: the error, the command that goes on (abandon=true when
 * only the mark is left) and the one that gives up on the stopped host
 * (host-enable, when this run left it disabled, or maybe did).
 */
static void run_stopped(struct run *r)
{
    const struct xlmig__rolling_params *p = r->p;
    struct xlmig__rolling_result *res = r->res;
    size_t o;

    xlmig__strlcpy(res->error, libxlmig_ctx_last_error(r->ctx),
                   sizeof(res->error));
    if (res->step == XLMIG__ROLLING_STEP_FINISH) {
        /* Every host upgraded: only the mark is left to clear. */
        o = 0;
        add(res->go_on, sizeof(res->go_on), &o,
            "xlmig-xe pool-rolling-upgrade abandon=true");
        if (p->config && p->config[0]) {
            add(res->go_on, sizeof(res->go_on), &o, " config=");
            shell_word(res->go_on, sizeof(res->go_on), &o, p->config);
        }
    }
    if (res->stopped < res->n) {
        const struct xlmig__rolling_host_result *h =
            &res->hosts[res->stopped];

        /* Left disabled by this run, or maybe (a disable that failed). */
        if (h->disabled_by_run &&
            (h->disabled || (res->step == XLMIG__ROLLING_STEP_DISABLE &&
                             r->disable_asked))) {
            o = 0;
            add(res->give_up, sizeof(res->give_up), &o,
                "xlmig-xe host-enable host=%s", h->name);
            if (p->config && p->config[0]) {
                add(res->give_up, sizeof(res->give_up), &o, " config=");
                shell_word(res->give_up, sizeof(res->give_up), &o,
                           p->config);
            }
        }
    }
    say_stop(r);
}

int xlmig__rolling_run(libxlmig_ctx *ctx, const struct xlmig__rolling_ops *ops,
                       void *opaque, const struct xlmig__rolling_params *p,
                       struct xlmig__rolling_result *res)
{
    struct run *r = NULL;
    size_t n = 0;
    bool alike;
    int rc;

    if (!ctx)
        return LIBXLMIG_ERR_INVALID_ARGUMENT;
    if (!ops || !ops->list_hosts || !ops->state_get || !ops->state_set ||
        !ops->disable || !ops->evacuate || !ops->upgrade ||
        !ops->wait_back || !ops->version || !ops->enable || !ops->report ||
        !p || !res)
        return xlmig__error(ctx, LIBXLMIG_ERR_INVALID_ARGUMENT, -1,
                            "the rolling upgrade needs every hook, its "
                            "parameters and a result: a bug; report it");
    memset(res, 0, sizeof(*res));
    res->step = XLMIG__ROLLING_STEP_START;
    r = xlmig__zalloc(sizeof(*r));
    if (!r) {
        rc = xlmig__error(ctx, LIBXLMIG_ERR_NO_MEMORY, -1, "no memory for "
                          "the rolling upgrade; nothing was done");
        goto out;
    }
    r->ctx = ctx;
    r->ops = ops;
    r->opaque = opaque;
    r->p = p;
    r->res = res;

    rc = run_gather(r, &n);
    if (rc)
        goto out_stop;
    alike = run_results_init(r, n);
    if (!run_choose_target(r, n, alike)) {
        rc = run_nothing_to_do(r, n);
        if (rc)
            goto out_stop;
        goto out;
    }
    say_plan(r, n);
    rc = run_hosts(r, n);
    if (rc)
        goto out_stop;
    goto out;

 out_stop:
    run_stopped(r);
 out:
    res->rc = rc;
    if (r)
        free(r->hosts);
    free(r);
    return rc;
}

int xlmig__rolling_abandon(libxlmig_ctx *ctx,
                           const struct xlmig__rolling_ops *ops, void *opaque,
                           const char *config)
{
    struct xlmig__rolling_version newest;
    struct run *r = NULL;
    char vt[VTEXT_MAX];
    size_t n = 0, k, o = 0, behind = 0;
    bool was;
    int rc;

    if (!ctx)
        return LIBXLMIG_ERR_INVALID_ARGUMENT;
    if (!ops || !ops->list_hosts || !ops->state_get || !ops->state_set ||
        !ops->report)
        return xlmig__error(ctx, LIBXLMIG_ERR_INVALID_ARGUMENT, -1,
                            "abandoning the rolling upgrade needs the "
                            "list_hosts, state_get, state_set and report "
                            "hooks: a bug; report it");
    r = xlmig__zalloc(sizeof(*r));
    if (r)
        r->hosts = xlmig__zalloc(XLMIG__ROLLING_HOSTS_MAX *
                                 sizeof(*r->hosts));
    if (!r || !r->hosts) {
        rc = xlmig__error(ctx, LIBXLMIG_ERR_NO_MEMORY, -1, "no memory to "
                          "abandon the rolling upgrade; nothing was done");
        goto out;
    }
    r->ctx = ctx;
    r->ops = ops;
    r->opaque = opaque;
    hook_begin(r);
    rc = hook_end(r, ops->list_hosts(ctx, opaque, r->hosts,
                                     XLMIG__ROLLING_HOSTS_MAX, &n),
                  "list_hosts", NULL);
    if (!rc)
        rc = check_hosts(r, n);
    if (!rc) {
        hook_begin(r);
        rc = hook_end(r, ops->state_get(ctx, opaque, &r->st), "state_get",
                      NULL);
    }
    if (rc)
        goto out;
    r->st.held[sizeof(r->st.held) - 1] = '\0';
    was = r->st.upgrading || r->st.held[0];
    if (was) {
        struct xlmig__rolling_state clear = { .upgrading = false };
        struct xlmig__rolling_state keep = r->st;

        r->st = clear;
        rc = save_state(r);
        if (rc)
            goto out;
        r->st = keep;
    }

    say(r, "%s", was ? "rolling upgrade abandoned: the pool is no longer "
                       "mid-upgrade"
                     : "the pool is not mid-upgrade: nothing to abandon");
    xlmig__rolling_newest(r->hosts, n, &newest);
    xlmig__rolling_order(r->hosts, n, r->order);
    add(r->line, sizeof(r->line), &o, "hosts not at the pool's newest "
        "(%s):", version_text(&newest, vt, sizeof(vt)));
    for (k = 0; k < n; k++) {
        const struct xlmig__rolling_host *h = &r->hosts[r->order[k]];

        if (version_same(&h->version, &newest))
            continue;
        add(r->line, sizeof(r->line), &o, "%s %s (%s)", behind ? "," : "",
            h->name, version_text(&h->version, vt, sizeof(vt)));
        behind++;
    }
    if (behind)
        ops->report(opaque, r->line);
    if (r->st.held[0]) {
        o = 0;
        add(r->line, sizeof(r->line), &o, "%s stays disabled, as the "
            "upgrade left it; to use it again: xlmig-xe host-enable host=%s",
            r->st.held, r->st.held);
        if (config && config[0]) {
            add(r->line, sizeof(r->line), &o, " config=");
            shell_word(r->line, sizeof(r->line), &o, config);
        }
        ops->report(opaque, r->line);
    }
    rc = 0;
 out:
    if (r)
        free(r->hosts);
    free(r);
    return rc;
}

/* ------------------------------------------- the pool mid-upgrade */

static const struct rule_row {
    const char *method;         /* xlmigd's */
    const char *command;        /* xlmig-xe's */
    enum xlmig__rolling_rule rule;
} rule_table[] = {
    { "pool.join", "pool-join", XLMIG__ROLLING_REFUSED },
    { "vm.register", "vm-register", XLMIG__ROLLING_REFUSED },
    { "vm.start", "vm-start", XLMIG__ROLLING_NEWEST_ONLY },
};

#define RULE_TABLE_LEN (sizeof(rule_table) / sizeof(rule_table[0]))

static const struct rule_row *rule_find(const char *method)
{
    size_t i;

    for (i = 0; method && i < RULE_TABLE_LEN; i++) {
        if (!strcmp(rule_table[i].method, method))
            return &rule_table[i];
    }
    return NULL;
}

enum xlmig__rolling_rule xlmig__rolling_rule(const char *method)
{
    const struct rule_row *row = rule_find(method);

    return row ? row->rule : XLMIG__ROLLING_ALLOWED;
}

bool xlmig__rolling_refuses(const char *method, bool host_upgraded)
{
    switch (xlmig__rolling_rule(method)) {
    case XLMIG__ROLLING_REFUSED:
        return true;
    case XLMIG__ROLLING_NEWEST_ONLY:
        return !host_upgraded;
    case XLMIG__ROLLING_ALLOWED:
        break;
    }
    return false;
}

int xlmig__rolling_refuse(libxlmig_ctx *ctx, const char *method,
                          const char *host)
{
    const struct rule_row *row = rule_find(method);
    const char *cmd = row ? row->command : method ? method : "(none)";

    if (row && row->rule == XLMIG__ROLLING_NEWEST_ONLY)
        return xlmig__error(ctx, LIBXLMIG_ERR_NOT_SUPPORTED_DURING_UPGRADE,
                            -1, "%s on host %s is not supported while the "
                            "pool is mid-upgrade: %s is not upgraded yet; "
                            "use an upgraded host, or finish the upgrade "
                            "first (run the same xlmig-xe "
                            "pool-rolling-upgrade again)", cmd, host, host);
    return xlmig__error(ctx, LIBXLMIG_ERR_NOT_SUPPORTED_DURING_UPGRADE, -1,
                        "%s (host %s) is not supported while the pool is "
                        "mid-upgrade; finish the upgrade first (run the same "
                        "xlmig-xe pool-rolling-upgrade again), then retry",
                        cmd, host);
}

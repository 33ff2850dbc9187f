/* SPDX-License-Identifier: LGPL-2.1-only */
/*
 * The rolling pool upgrade driver (libxlmig/rolling.c) over a fake ops
 * table that records every call: the order (master first, then by
 * name) and each host's steps; a rerun skipping upgraded hosts and
 * enabling the host a stopped run held; a host the operator disabled
 * left so; each failure point stopping with its error (logged once),
 * what was done, how to go on and no further host touched; the
 * mid-upgrade mark set, cleared, or left at a stop; abandoning the
 * upgrade; bad parameters and hooks breaking their contract refused
 * before anything is touched; the version order; and what a pool
 * mid-upgrade refuses.
 */
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "rolling.h"
#include "units.h"
#include "testctx.h"
#include "testfs.h"

/* ------------------------------------------------------------ the fake */

enum fail {
    F_NONE,
    F_STATE_GET,
    F_STATE_SET_FIRST,      /* the first state_set */
    F_STATE_SET_LAST,       /* the one clearing the mark */
    F_DISABLE,
    F_EVACUATE,             /* after moving one VM */
    F_UPGRADE_HOOK,         /* the daemon cannot be asked */
    F_CMD_EXIT,             /* exits 2 */
    F_CMD_SIGNAL,           /* killed by signal 9 */
    F_CMD_TIMEOUT,
    F_NOT_BACK,
    F_VERSION_HOOK,
    F_ENABLE,
    F_SILENT,               /* disable fails and logs nothing */
    F_POSITIVE,             /* disable returns 1 */
};

struct fhost {
    const char *name;
    bool master, enabled;
    const char *lib, *xen;              /* before */
    const char *lib_after, *xen_after;  /* after its upgrade; NULL: same */
};

#define FAKE_HOSTS 8

static struct fake {
    struct fhost h[FAKE_HOSTS];
    size_t n;
    bool upgraded[FAKE_HOSTS];
    struct xlmig__rolling_state st;     /* as saved */
    unsigned int state_sets;
    enum fail fail;
    const char *fail_host;
    unsigned int vms;                   /* each evacuation moves these */
    bool host_gone;                     /* the command reboots the host */
    unsigned int upgrade_timeout, back_timeout;     /* as last asked */
    char command[2048];                 /* as last asked */
    char log[8192];                     /* one call a line */
    char report[32768];                 /* one report line a line */
} F;

static void fake_init(const struct fhost *hs, size_t n)
{
    memset(&F, 0, sizeof(F));
    memcpy(F.h, hs, n * sizeof(*hs));
    F.n = n;
    F.vms = 3;
    F.host_gone = true;
    reset_log();
}

static void logf_(const char *fmt, ...) XLMIG__PRINTF(1, 2);
static void logf_(const char *fmt, ...)
{
    size_t o = strlen(F.log);
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(F.log + o, sizeof(F.log) - o, fmt, ap);
    va_end(ap);
    o = strlen(F.log);
    if (o + 1 < sizeof(F.log))
        strcpy(F.log + o, "\n");
}

static bool failing(const char *host, enum fail f)
{
    return F.fail == f && (!F.fail_host || !strcmp(F.fail_host, host));
}

static int fake_index(const char *host)
{
    size_t i;

    for (i = 0; i < F.n; i++) {
        if (!strcmp(F.h[i].name, host))
            return (int)i;
    }
    fail_msg("the driver named host %s, not in the pool", host);
    return -1;
}

static int f_list(libxlmig_ctx *c, void *opaque,
                  struct xlmig__rolling_host *hosts, size_t max, size_t *n_r)
{
    size_t i;

    (void)c;
    assert_ptr_equal(opaque, &F);
    assert_int_equal(max, XLMIG__ROLLING_HOSTS_MAX);
    logf_("list");
    for (i = 0; i < F.n; i++) {
        xlmig__strlcpy(hosts[i].name, F.h[i].name, sizeof(hosts[i].name));
        hosts[i].is_master = F.h[i].master;
        hosts[i].enabled = F.h[i].enabled;
        xlmig__strlcpy(hosts[i].version.libxlmig, F.h[i].lib,
                       sizeof(hosts[i].version.libxlmig));
        xlmig__strlcpy(hosts[i].version.xen, F.h[i].xen,
                       sizeof(hosts[i].version.xen));
    }
    *n_r = F.n;
    return 0;
}

static int f_state_get(libxlmig_ctx *c, void *opaque,
                       struct xlmig__rolling_state *st)
{
    (void)opaque;
    logf_("state_get");
    if (F.fail == F_STATE_GET)
        return xlmig__error(c, LIBXLMIG_ERR_CANNOT_CONTACT_HOST, -1,
                            "master h3 at 10.0.0.3:7700 cannot be reached");
    *st = F.st;
    return 0;
}

static int f_state_set(libxlmig_ctx *c, void *opaque,
                       const struct xlmig__rolling_state *st)
{
    (void)opaque;
    logf_("state:up=%d,held=%s", st->upgrading, st->held);
    F.state_sets++;
    if ((F.fail == F_STATE_SET_FIRST && F.state_sets == 1) ||
        (F.fail == F_STATE_SET_LAST && !st->upgrading))
        return xlmig__error(c, LIBXLMIG_ERR_IO, -1, "cannot write "
                            "/var/lib/xlmig/pool.json on master h3");
    F.st = *st;
    return 0;
}

static int f_disable(libxlmig_ctx *c, void *opaque, const char *host)
{
    (void)opaque;
    logf_("%s:disable", host);
    if (failing(host, F_DISABLE))
        return xlmig__error(c, LIBXLMIG_ERR_CANNOT_CONTACT_HOST, -1,
                            "master h3 at 10.0.0.3:7700 cannot be reached "
                            "to disable host %s", host);
    if (failing(host, F_SILENT))
        return LIBXLMIG_ERR_PROTOCOL;
    if (failing(host, F_POSITIVE))
        return 1;
    F.h[fake_index(host)].enabled = false;
    return 0;
}

static int f_evacuate(libxlmig_ctx *c, void *opaque, const char *host,
                      unsigned int *moved_r)
{
    (void)opaque;
    logf_("%s:evacuate", host);
    assert_int_equal(*moved_r, 0);
    if (failing(host, F_EVACUATE)) {
        *moved_r = 1;
        return xlmig__error(c, LIBXLMIG_ERR_NO_HOSTS_AVAILABLE, -1,
                            "no host can take VM web2 of host %s", host);
    }
    *moved_r = F.vms;
    return 0;
}

static int f_upgrade(libxlmig_ctx *c, void *opaque, const char *host,
                     const char *command, unsigned int timeout_s,
                     struct xlmig__rolling_cmd_result *res)
{
    (void)opaque;
    logf_("%s:upgrade", host);
    F.upgrade_timeout = timeout_s;
    xlmig__strlcpy(F.command, command, sizeof(F.command));
    if (failing(host, F_UPGRADE_HOOK))
        return xlmig__error(c, LIBXLMIG_ERR_CANNOT_CONTACT_HOST, -1,
                            "host %s at 10.0.0.9:7700 cannot be reached to "
                            "run the upgrade command", host);
    res->end = F.host_gone ? XLMIG__ROLLING_CMD_HOST_GONE
                           : XLMIG__ROLLING_CMD_EXITED;
    res->status = 0;
    strcpy(res->output, "Installing xen-4.17.8\nRebooting\n");
    if (failing(host, F_CMD_EXIT)) {
        res->end = XLMIG__ROLLING_CMD_EXITED;
        res->status = 2;
        strcpy(res->output, "Installing xen-4.17.8\nerror: disk full\n");
        return 0;
    }
    if (failing(host, F_CMD_SIGNAL)) {
        res->end = XLMIG__ROLLING_CMD_SIGNALLED;
        res->status = 9;
        return 0;
    }
    if (failing(host, F_CMD_TIMEOUT)) {
        res->end = XLMIG__ROLLING_CMD_TIMED_OUT;
        strcpy(res->output, "waiting for the mirror");
        return 0;
    }
    F.upgraded[fake_index(host)] = true;
    return 0;
}

static int f_wait_back(libxlmig_ctx *c, void *opaque, const char *host,
                       unsigned int timeout_s, bool *back_r)
{
    (void)c;
    (void)opaque;
    logf_("%s:wait", host);
    F.back_timeout = timeout_s;
    *back_r = !failing(host, F_NOT_BACK);
    return 0;
}

static int f_version(libxlmig_ctx *c, void *opaque, const char *host,
                     struct xlmig__rolling_version *v)
{
    const struct fhost *h = &F.h[fake_index(host)];
    bool up = F.upgraded[fake_index(host)];

    (void)opaque;
    logf_("%s:version", host);
    if (failing(host, F_VERSION_HOOK))
        return xlmig__error(c, LIBXLMIG_ERR_PROTOCOL, -1, "host %s answered "
                            "host.facts without a version", host);
    xlmig__strlcpy(v->libxlmig, up && h->lib_after ? h->lib_after : h->lib,
                   sizeof(v->libxlmig));
    xlmig__strlcpy(v->xen, up && h->xen_after ? h->xen_after : h->xen,
                   sizeof(v->xen));
    return 0;
}

static int f_enable(libxlmig_ctx *c, void *opaque, const char *host)
{
    (void)opaque;
    logf_("%s:enable", host);
    if (failing(host, F_ENABLE))
        return xlmig__error(c, LIBXLMIG_ERR_CANNOT_CONTACT_HOST, -1,
                            "master h3 at 10.0.0.3:7700 cannot be reached "
                            "to enable host %s", host);
    F.h[fake_index(host)].enabled = true;
    return 0;
}

static void f_report(void *opaque, const char *line)
{
    size_t o = strlen(F.report);

    assert_ptr_equal(opaque, &F);
    assert_null(strchr(line, '\n'));
    snprintf(F.report + o, sizeof(F.report) - o, "%s\n", line);
}

static const struct xlmig__rolling_ops fake_ops = {
    .list_hosts = f_list,
    .state_get = f_state_get,
    .state_set = f_state_set,
    .disable = f_disable,
    .evacuate = f_evacuate,
    .upgrade = f_upgrade,
    .wait_back = f_wait_back,
    .version = f_version,
    .enable = f_enable,
    .report = f_report,
};

static struct xlmig__rolling_result res;

static int run(const struct xlmig__rolling_params *p)
{
    return xlmig__rolling_run(ctx, &fake_ops, &F, p, &res);
}

static size_t count(const char *hay, const char *needle)
{
    size_t n = 0;

    while ((hay = strstr(hay, needle))) {
        n++;
        hay += strlen(needle);
    }
    return n;
}

#define assert_ends(haystack, tail)                                        \
    do {                                                                   \
        const char *h_ = (haystack), *t_ = (tail);                         \
        if (strlen(h_) < strlen(t_) ||                                     \
            strcmp(h_ + strlen(h_) - strlen(t_), t_))                      \
            fail_msg("expected the end \"%s\" of:\n%s", t_, h_);           \
    } while (0)

#define assert_starts(haystack, head)                                      \
    do {                                                                   \
        const char *h_ = (haystack), *s_ = (head);                         \
        if (strncmp(h_, s_, strlen(s_)))                                   \
            fail_msg("expected the start \"%s\" of:\n%s", s_, h_);         \
    } while (0)

#define assert_lacks(haystack, needle)                                     \
    do {                                                                   \
        if (strstr((haystack), (needle)))                                  \
            fail_msg("did not expect \"%s\" in:\n%s", (needle),           \
                     (haystack));                                          \
    } while (0)

/* The pool of most tests: master h3 listed between its members. */
static const struct fhost pool3[] = {
    { "h2", false, true, "0.1.0", "4.17.7", "0.2.0", "4.17.8" },
    { "h3", true, true, "0.1.0", "4.17.7", "0.2.0", "4.17.8" },
    { "h1", false, true, "0.1.0", "4.17.7", "0.2.0", "4.17.8" },
};

static const struct xlmig__rolling_params to_020 = {
    .command = "/usr/local/sbin/upgrade-xen.sh",
    .version = "0.2.0",
};

static const struct xlmig__rolling_params no_target = {
    .command = "/usr/local/sbin/upgrade-xen.sh",
};

#define STEPS(h)                                                           \
    "state:up=1,held=" h "\n" h ":disable\n" h ":evacuate\n" h             \
    ":upgrade\n" h ":wait\n" h ":version\n" h ":enable\n"                  \
    "state:up=1,held=\n"

/* ------------------------------------------------------------ order */

static void test_order(void **state)
{
    static const struct xlmig__rolling_host hs[] = {
        { .name = "web-2" }, { .name = "db" }, { .name = "zz",
                                                 .is_master = true },
        { .name = "Web-1" }, { .name = "web-10" },
    };
    /* zz (the master), then by bytes: "Web-1" < "db" < "web-10" <
     * "web-2". */
    static const size_t want[] = { 2, 3, 1, 4, 0 };
    size_t order[ARRAY_LEN(hs)], i;

    (void)state;
    xlmig__rolling_order(hs, ARRAY_LEN(hs), order);
    for (i = 0; i < ARRAY_LEN(hs); i++)
        assert_int_equal(order[i], want[i]);
}

static void test_version_order(void **state)
{
    static const struct {
        const char *a, *b;
        int cmp;
    } cases[] = {
        { "4.17.10", "4.17.9", 1 }, { "0.1.9", "0.2.0", -1 },
        { "0.2.0", "0.2.0", 0 },    { "4.17", "4.17.0", 0 },
        { "4.18-unstable", "4.17.8", 1 }, { "5", "4.99.99", 1 },
        { "4.17.8", "4.17.8.1", -1 },
    };
    struct xlmig__rolling_version v = { "4.17.8", "0.2.0" };
    struct xlmig__rolling_version t = { "", "0.2.0" };
    struct xlmig__rolling_host hs[3];
    size_t i;

    (void)state;
    for (i = 0; i < ARRAY_LEN(cases); i++) {
        int c = xlmig__version_cmp(cases[i].a, cases[i].b);
        int back = xlmig__version_cmp(cases[i].b, cases[i].a);

        assert_int_equal(c < 0 ? -1 : c > 0, cases[i].cmp);
        assert_int_equal(back < 0 ? -1 : back > 0, -cases[i].cmp);
    }
    assert_true(xlmig__rolling_version_at(&v, &t));     /* Xen: any */
    strcpy(t.xen, "4.17.9");
    assert_false(xlmig__rolling_version_at(&v, &t));
    strcpy(t.xen, "4.17.8");
    strcpy(t.libxlmig, "0.10.0");
    assert_false(xlmig__rolling_version_at(&v, &t));

    /* The newest of each part, from different hosts. */
    memset(hs, 0, sizeof(hs));
    strcpy(hs[0].version.xen, "4.17.9");
    strcpy(hs[0].version.libxlmig, "0.1.0");
    strcpy(hs[1].version.xen, "4.17.10");
    strcpy(hs[1].version.libxlmig, "0.1.0");
    strcpy(hs[2].version.xen, "4.17.7");
    strcpy(hs[2].version.libxlmig, "0.2.0");
    xlmig__rolling_newest(hs, 3, &t);
    assert_string_equal(t.xen, "4.17.10");
    assert_string_equal(t.libxlmig, "0.2.0");
}

/* ------------------------------------------------------------ runs */

static void test_full_run(void **state)
{
    size_t k;

    (void)state;
    fake_init(pool3, ARRAY_LEN(pool3));
    assert_ok(run(&to_020));
    assert_string_equal(F.log, "list\nstate_get\nstate:up=1,held=\n"
                        STEPS("h3") STEPS("h1") STEPS("h2")
                        "state:up=0,held=\n");
    assert_string_equal(
        F.report,
        "rolling upgrade: h3 (master), h1, h2; target: libxlmig 0.2.0 "
        "(given)\n"
        "h3: disabled\nh3: evacuated (3 VMs)\nh3: upgrading\n"
        "h3: back with libxlmig 0.2.0 / Xen 4.17.8\nh3: enabled\n"
        "h1: disabled\nh1: evacuated (3 VMs)\nh1: upgrading\n"
        "h1: back with libxlmig 0.2.0 / Xen 4.17.8\nh1: enabled\n"
        "h2: disabled\nh2: evacuated (3 VMs)\nh2: upgrading\n"
        "h2: back with libxlmig 0.2.0 / Xen 4.17.8\nh2: enabled\n"
        "rolling upgrade done: 3 hosts upgraded, 0 upgraded already; "
        "every host at libxlmig 0.2.0 or newer\n");
    assert_int_equal(res.rc, 0);
    assert_int_equal(res.step, XLMIG__ROLLING_STEP_NONE);
    assert_int_equal(res.n, 3);
    assert_int_equal(res.stopped, 3);
    assert_string_equal(res.error, "");
    for (k = 0; k < 3; k++) {
        assert_int_equal(res.hosts[k].outcome, XLMIG__ROLLING_UPGRADED);
        assert_string_equal(res.hosts[k].after.xen, "4.17.8");
        assert_string_equal(res.hosts[k].before.libxlmig, "0.1.0");
        assert_false(res.hosts[k].disabled);
        assert_int_equal(res.hosts[k].moved, 3);
    }
    assert_string_equal(res.hosts[0].name, "h3");
    assert_true(res.hosts[0].is_master);
    assert_false(F.st.upgrading);
    assert_int_equal(F.upgrade_timeout, XLMIG__ROLLING_UPGRADE_TIMEOUT);
    assert_int_equal(F.back_timeout, XLMIG__ROLLING_BACK_TIMEOUT);
    assert_string_equal(F.command, "/usr/local/sbin/upgrade-xen.sh");
    assert_int_equal(cap.count, 0);             /* no error logged */
}

/* Without a target: the master's new version is the others'. */
static void test_no_target(void **state)
{
    struct fhost hs[ARRAY_LEN(pool3)];

    (void)state;
    fake_init(pool3, ARRAY_LEN(pool3));
    assert_ok(run(&no_target));
    assert_contains(F.report, "target: the version the first host comes "
                    "back with\n");
    assert_contains(F.report, "h3: back with libxlmig 0.2.0 / Xen 4.17.8 "
                    "(the target of the hosts after it)\n");
    assert_contains(F.report, "every host at libxlmig 0.2.0 / Xen 4.17.8 "
                    "or newer\n");
    assert_string_equal(res.target.xen, "4.17.8");

    /* h1 comes back newer than before but short of the master's. */
    memcpy(hs, pool3, sizeof(hs));
    hs[2].lib_after = "0.1.5";
    fake_init(hs, ARRAY_LEN(hs));
    assert_int_equal(run(&no_target), LIBXLMIG_ERR_HOST_NOT_UPGRADED);
    assert_contains(res.error, "HOST_NOT_UPGRADED: host h1 came back from "
                    "the upgrade command with libxlmig 0.1.5 / Xen 4.17.8, "
                    "short of the target (before: libxlmig 0.1.0 / Xen "
                    "4.17.7; target: libxlmig 0.2.0 / Xen 4.17.8)");
    assert_lacks(F.log, "h2:");
}

static void test_resume(void **state)
{
    struct fhost hs[ARRAY_LEN(pool3)];

    (void)state;
    /* A run stopped at h2: h3 and h1 are upgraded, the mark is left. */
    memcpy(hs, pool3, sizeof(hs));
    hs[1].lib = hs[2].lib = "0.2.0";
    hs[1].xen = hs[2].xen = "4.17.8";
    fake_init(hs, ARRAY_LEN(hs));
    F.st.upgrading = true;
    assert_ok(run(&no_target));     /* the target: the pool's newest */
    assert_string_equal(F.log, "list\nstate_get\nstate:up=1,held=\n"
                        STEPS("h2") "state:up=0,held=\n");
    assert_contains(F.report, "target: libxlmig 0.2.0 / Xen 4.17.8 (the "
                    "pool's newest)\n"
                    "h3: already at libxlmig 0.2.0 / Xen 4.17.8: skipped\n"
                    "h1: already at libxlmig 0.2.0 / Xen 4.17.8: skipped\n"
                    "h2: disabled\n");
    assert_contains(F.report, "1 host upgraded, 2 upgraded already");
    assert_int_equal(res.hosts[0].outcome, XLMIG__ROLLING_SKIPPED);
    assert_int_equal(res.hosts[1].outcome, XLMIG__ROLLING_SKIPPED);
    assert_int_equal(res.hosts[2].outcome, XLMIG__ROLLING_UPGRADED);
    assert_false(F.st.upgrading);

    /* Stopped at h1's command: h1 held and disabled, not upgraded. */
    memcpy(hs, pool3, sizeof(hs));
    hs[1].lib = "0.2.0";
    hs[1].xen = "4.17.8";
    hs[2].enabled = false;
    fake_init(hs, ARRAY_LEN(hs));
    F.st.upgrading = true;
    strcpy(F.st.held, "h1");
    assert_ok(run(&to_020));
    /* held already: no state_set before its disable; enabled after. */
    assert_string_equal(F.log, "list\nstate_get\nstate:up=1,held=h1\n"
                        "h1:disable\nh1:evacuate\nh1:upgrade\nh1:wait\n"
                        "h1:version\nh1:enable\nstate:up=1,held=\n"
                        STEPS("h2") "state:up=0,held=\n");

    /* Stopped at h1's enable: upgraded, held and disabled. */
    memcpy(hs, pool3, sizeof(hs));
    hs[1].lib = hs[2].lib = "0.2.0";
    hs[2].enabled = false;
    fake_init(hs, ARRAY_LEN(hs));
    F.st.upgrading = true;
    strcpy(F.st.held, "h1");
    assert_ok(run(&to_020));
    assert_string_equal(F.log, "list\nstate_get\nstate:up=1,held=h1\n"
                        "h1:enable\nstate:up=1,held=\n"
                        STEPS("h2") "state:up=0,held=\n");
    assert_contains(F.report, "h1: at libxlmig 0.2.0 / Xen 4.17.7 "
                    "already: enabled\n");
    assert_int_equal(res.hosts[1].outcome, XLMIG__ROLLING_UPGRADED);
}

/* A host the operator disabled is upgraded and stays disabled. */
static void test_operator_disabled(void **state)
{
    struct fhost hs[ARRAY_LEN(pool3)];

    (void)state;
    memcpy(hs, pool3, sizeof(hs));
    hs[2].enabled = false;              /* h1 */
    fake_init(hs, ARRAY_LEN(hs));
    assert_ok(run(&to_020));
    assert_string_equal(F.log, "list\nstate_get\nstate:up=1,held=\n"
                        STEPS("h3") "h1:evacuate\nh1:upgrade\nh1:wait\n"
                        "h1:version\n" STEPS("h2") "state:up=0,held=\n");
    assert_contains(F.report, "h1: disabled already (not by this upgrade): "
                    "it stays disabled after\n");
    assert_contains(F.report, "h1: left disabled, as it was before the "
                    "upgrade\n");
    assert_true(res.hosts[1].disabled);
    assert_false(res.hosts[1].disabled_by_run);
    assert_false(F.h[2].enabled);
}

static void test_nothing_to_do(void **state)
{
    struct fhost hs[ARRAY_LEN(pool3)];
    size_t k;

    (void)state;
    memcpy(hs, pool3, sizeof(hs));
    for (k = 0; k < ARRAY_LEN(hs); k++)
        hs[k].lib = "0.2.1";
    fake_init(hs, ARRAY_LEN(hs));
    F.st.upgrading = true;              /* left by a stopped run */
    assert_ok(run(&to_020));
    assert_string_equal(F.log, "list\nstate_get\nstate:up=0,held=\n");
    assert_string_equal(F.report, "every host is at libxlmig 0.2.0 "
                        "already: nothing to do\n");
    assert_false(F.st.upgrading);
    assert_int_equal(res.hosts[2].outcome, XLMIG__ROLLING_SKIPPED);

    fake_init(hs, ARRAY_LEN(hs));       /* no mark: nothing written */
    assert_ok(run(&to_020));
    assert_string_equal(F.log, "list\nstate_get\n");
}

/* ------------------------------------------------------------ stops */

static const struct stop_case {
    enum fail fail;
    int rc;
    enum xlmig__rolling_step step;
    const char *last_call;              /* the log ends with it */
    const char *error;                  /* res.error starts with it */
    const char *host_line;              /* what is left of h1 */
    bool give_up;
} stop_cases[] = {
    { F_DISABLE, LIBXLMIG_ERR_CANNOT_CONTACT_HOST,
      XLMIG__ROLLING_STEP_DISABLE, "h1:disable\n",
      "CANNOT_CONTACT_HOST: master h3 at 10.0.0.3:7700 cannot be reached "
      "to disable host h1",
      "h1: host-disable failed: it may or may not be disabled (see xlmig-xe "
      "host-list); nothing else was done to it\n", true },
    { F_EVACUATE, LIBXLMIG_ERR_NO_HOSTS_AVAILABLE,
      XLMIG__ROLLING_STEP_EVACUATE, "h1:evacuate\n",
      "NO_HOSTS_AVAILABLE: no host can take VM web2 of host h1",
      "h1: left disabled; its evacuation failed: 1 VM moved away, the "
      "others still run there (see xlmig-xe vm-list)\n", true },
    { F_UPGRADE_HOOK, LIBXLMIG_ERR_CANNOT_CONTACT_HOST,
      XLMIG__ROLLING_STEP_UPGRADE, "h1:upgrade\n",
      "CANNOT_CONTACT_HOST: host h1 at 10.0.0.9:7700 cannot be reached to "
      "run the upgrade command",
      "h1: left disabled and evacuated (3 VMs moved away); the upgrade "
      "command could not be started\n", true },
    { F_CMD_EXIT, LIBXLMIG_ERR_UPDATE_APPLY_FAILED,
      XLMIG__ROLLING_STEP_UPGRADE, "h1:upgrade\n",
      "UPDATE_APPLY_FAILED: the upgrade command "
      "'/usr/local/sbin/upgrade-xen.sh' exited with status 2 on host h1 "
      "(its output ends: 'Installing xen-4.17.8 error: disk full'); fix "
      "the command or the host, then run the same pool-rolling-upgrade "
      "again",
      "h1: left disabled and evacuated (3 VMs moved away); the upgrade "
      "command failed\n", true },
    { F_CMD_SIGNAL, LIBXLMIG_ERR_UPDATE_APPLY_FAILED,
      XLMIG__ROLLING_STEP_UPGRADE, "h1:upgrade\n",
      "UPDATE_APPLY_FAILED: the upgrade command "
      "'/usr/local/sbin/upgrade-xen.sh' was killed by signal 9 on host h1",
      "the upgrade command failed\n", true },
    { F_CMD_TIMEOUT, LIBXLMIG_ERR_UPDATE_APPLY_TIMEOUT,
      XLMIG__ROLLING_STEP_UPGRADE, "h1:upgrade\n",
      "UPDATE_APPLY_TIMEOUT: the upgrade command "
      "'/usr/local/sbin/upgrade-xen.sh' ran past its limit of 600 s on host "
      "h1 and was killed (its output ends: 'waiting for the mirror'); find "
      "what it waits for, or raise upgrade-timeout",
      "the upgrade command failed\n", true },
    { F_NOT_BACK, LIBXLMIG_ERR_HOST_NOT_BACK_AFTER_UPGRADE,
      XLMIG__ROLLING_STEP_WAIT, "h1:wait\n",
      "HOST_NOT_BACK_AFTER_UPGRADE: host h1's xlmigd did not answer within "
      "900 s after the upgrade command (the host went away while it ran); "
      "bring h1 and its xlmigd up",
      "h1: left disabled and evacuated (3 VMs moved away); the upgrade "
      "command ran, and the host has not come back\n", true },
    { F_VERSION_HOOK, LIBXLMIG_ERR_PROTOCOL, XLMIG__ROLLING_STEP_VERSION,
      "h1:version\n",
      "PROTOCOL_ERROR: host h1 answered host.facts without a version",
      "the host came back, but its version could not be read\n", true },
    { F_ENABLE, LIBXLMIG_ERR_CANNOT_CONTACT_HOST,
      XLMIG__ROLLING_STEP_ENABLE, "h1:enable\n",
      "CANNOT_CONTACT_HOST: master h3 at 10.0.0.3:7700 cannot be reached "
      "to enable host h1",
      "h1: upgraded (libxlmig 0.2.0 / Xen 4.17.8), but left disabled: "
      "host-enable failed\n", true },
};

static const struct xlmig__rolling_params stop_params = {
    .command = "/usr/local/sbin/upgrade-xen.sh",
    .version = "0.2.0",
    .upgrade_timeout_s = 600,
    .back_timeout_s = 900,
    .config = "/etc/xlmig/prod.conf",
};

/* Each failure at h1, the second host: h3 upgraded, h2 not reached. */
static void test_stops(void **state)
{
    char name[64], want[512];
    size_t i;

    (void)state;
    for (i = 0; i < ARRAY_LEN(stop_cases); i++) {
        const struct stop_case *c = &stop_cases[i];

        fake_init(pool3, ARRAY_LEN(pool3));
        F.fail = c->fail;
        F.fail_host = "h1";
        assert_int_equal(run(&stop_params), c->rc);
        assert_int_equal(res.rc, c->rc);
        assert_int_equal(res.step, c->step);
        assert_int_equal(res.stopped, 1);
        /* Nothing after the failing call, h2 never touched. */
        assert_ends(F.log, c->last_call);
        assert_lacks(F.log, "h2:");
        assert_contains(F.log, STEPS("h3"));
        /* The error: in the result, logged once. */
        assert_starts(res.error, c->error);
        snprintf(name, sizeof(name), "%s:",
                 libxlmig_strerror_name(c->rc));
        assert_int_equal(count(cap.text, name), 1);
        /* The report: where, what was done, what is left, how to go on. */
        snprintf(want, sizeof(want), "stopped at h1, step %s: %s",
                 xlmig__rolling_step_name(c->step), c->error);
        assert_contains(F.report, want);
        assert_contains(F.report, "done: h3 upgraded (libxlmig 0.2.0 / "
                        "Xen 4.17.8)\n");
        assert_contains(F.report, c->host_line);
        assert_contains(F.report, "not reached: h2\n");
        assert_contains(F.report, "the pool stays mid-upgrade: pool-join "
                        "and vm-register are refused, vm-start only on "
                        "upgraded hosts (NOT_SUPPORTED_DURING_UPGRADE)\n");
        assert_string_equal(res.go_on,
                            "xlmig-xe pool-rolling-upgrade upgrade-command="
                            "/usr/local/sbin/upgrade-xen.sh version=0.2.0 "
                            "upgrade-timeout=600 back-timeout=900 "
                            "config=/etc/xlmig/prod.conf");
        assert_contains(F.report, "to go on: xlmig-xe pool-rolling-upgrade "
                        "upgrade-command=/usr/local/sbin/upgrade-xen.sh");
        if (c->give_up) {
            assert_string_equal(res.give_up, "xlmig-xe host-enable host=h1 "
                                "config=/etc/xlmig/prod.conf");
            assert_contains(F.report, "to give up on h1 and use it as it "
                            "is: xlmig-xe host-enable host=h1 "
                            "config=/etc/xlmig/prod.conf\n");
        }
        /* The mark is left, naming the host this run disabled. */
        assert_true(F.st.upgrading);
        assert_string_equal(F.st.held, "h1");
        assert_int_equal(res.hosts[0].outcome, XLMIG__ROLLING_UPGRADED);
        assert_int_equal(res.hosts[1].outcome, XLMIG__ROLLING_STOPPED);
        assert_int_equal(res.hosts[2].outcome, XLMIG__ROLLING_NOT_REACHED);
        if (c->fail == F_NOT_BACK)
            assert_int_equal(F.back_timeout, 900);
        if (c->fail == F_CMD_TIMEOUT)
            assert_int_equal(F.upgrade_timeout, 600);
    }
}

/* The version after the command: the same, or older in one part. */
static void test_not_upgraded(void **state)
{
    struct fhost hs[ARRAY_LEN(pool3)];

    (void)state;
    memcpy(hs, pool3, sizeof(hs));
    hs[2].lib_after = NULL;
    hs[2].xen_after = NULL;             /* h1: the same */
    fake_init(hs, ARRAY_LEN(hs));
    assert_int_equal(run(&no_target), LIBXLMIG_ERR_HOST_NOT_UPGRADED);
    assert_int_equal(res.step, XLMIG__ROLLING_STEP_VERSION);
    assert_contains(res.error, "host h1 came back from the upgrade command "
                    "with libxlmig 0.1.0 / Xen 4.17.7, the same as before");
    assert_contains(F.report, "h1: left disabled and evacuated (3 VMs moved "
                    "away); the upgrade command ran, and the host came back "
                    "with libxlmig 0.1.0 / Xen 4.17.7\n");
    assert_ends(F.log, "h1:version\n");
    assert_int_equal(count(cap.text, "HOST_NOT_UPGRADED:"), 1);

    /* The master: libxlmig newer, Xen older than before. */
    memcpy(hs, pool3, sizeof(hs));
    hs[1].xen_after = "4.17.6";
    fake_init(hs, ARRAY_LEN(hs));
    assert_int_equal(run(&to_020), LIBXLMIG_ERR_HOST_NOT_UPGRADED);
    assert_contains(res.error, "host h3 came back from the upgrade command "
                    "with libxlmig 0.2.0 / Xen 4.17.6, older than before");
    assert_contains(F.report, "done: no host upgraded\n");
    assert_contains(F.report, "not reached: h1, h2\n");
    assert_lacks(F.log, "h1:");
    assert_string_equal(F.st.held, "h3");
}

/* The mark: at the start nothing touched, at the end all upgraded. */
static void test_mark(void **state)
{
    (void)state;
    fake_init(pool3, ARRAY_LEN(pool3));
    F.fail = F_STATE_SET_FIRST;
    assert_int_equal(run(&to_020), LIBXLMIG_ERR_IO);
    assert_string_equal(F.log, "list\nstate_get\nstate:up=1,held=\n");
    assert_int_equal(res.step, XLMIG__ROLLING_STEP_START);
    assert_contains(F.report, "stopped before any host was touched: "
                    "IO_ERROR: cannot write /var/lib/xlmig/pool.json");
    assert_lacks(F.report, "mid-upgrade");

    fake_init(pool3, ARRAY_LEN(pool3));
    F.fail = F_STATE_GET;
    assert_int_equal(run(&to_020), LIBXLMIG_ERR_CANNOT_CONTACT_HOST);
    assert_string_equal(F.log, "list\nstate_get\n");

    fake_init(pool3, ARRAY_LEN(pool3));
    F.fail = F_STATE_SET_LAST;
    assert_int_equal(run(&to_020), LIBXLMIG_ERR_IO);
    assert_int_equal(res.step, XLMIG__ROLLING_STEP_FINISH);
    assert_ends(F.log, "h2:enable\nstate:up=1,held=\nstate:up=0,held=\n");
    assert_contains(F.report, "stopped at the end: IO_ERROR");
    assert_contains(F.report, "done: h3 upgraded (libxlmig 0.2.0 / Xen "
                    "4.17.8); h1 upgraded (libxlmig 0.2.0 / Xen 4.17.8); "
                    "h2 upgraded (libxlmig 0.2.0 / Xen 4.17.8)\n");
    assert_lacks(F.report, "not reached");
    assert_lacks(F.report, "to give up");
    assert_string_equal(res.go_on, "xlmig-xe pool-rolling-upgrade "
                        "abandon=true");
    assert_contains(F.report, "to go on: xlmig-xe pool-rolling-upgrade "
                    "abandon=true\n");
    assert_true(F.st.upgrading);
}

/* ------------------------------------------------------------ refusals */

static void test_bad_params(void **state)
{
    char longcmd[XLMIG__ROLLING_COMMAND_MAX + 2];
    static const struct {
        struct xlmig__rolling_params p;
        const char *error;
    } cases[] = {
        { { .command = NULL }, "needs upgrade-command=CMD" },
        { { .command = "" }, "needs upgrade-command=CMD" },
        { { .command = "up\ngrade" }, "byte 2 of upgrade-command" },
        { { .command = "u", .version = "v0.2" }, "version= is not" },
        { { .command = "u", .version = "" }, "version= is not" },
        { { .command = "u", .xen_version = "4.17/8" }, "xen-version= is" },
        { { .command = "u", .upgrade_timeout_s = 86401 },
          "upgrade-timeout=86401 is more than 86400" },
        { { .command = "u", .back_timeout_s = 86401 },
          "back-timeout=86401 is more than 86400" },
    };
    struct xlmig__rolling_params p = { .command = longcmd };
    size_t i;

    (void)state;
    for (i = 0; i < ARRAY_LEN(cases); i++) {
        fake_init(pool3, ARRAY_LEN(pool3));
        assert_int_equal(run(&cases[i].p), LIBXLMIG_ERR_INVALID_ARGUMENT);
        assert_contains(res.error, cases[i].error);
        assert_string_equal(F.log, "");
        assert_int_equal(res.step, XLMIG__ROLLING_STEP_START);
        assert_contains(F.report, "stopped before any host was touched: "
                        "INVALID_VALUE: ");
    }
    memset(longcmd, 'x', sizeof(longcmd) - 1);
    longcmd[sizeof(longcmd) - 1] = '\0';
    fake_init(pool3, ARRAY_LEN(pool3));
    assert_int_equal(run(&p), LIBXLMIG_ERR_INVALID_ARGUMENT);
    assert_contains(res.error, "longer than 1024 bytes");
    longcmd[XLMIG__ROLLING_COMMAND_MAX] = '\0';     /* 1024: fine */
    fake_init(pool3, ARRAY_LEN(pool3));
    assert_ok(run(&p));

    fake_init(pool3, ARRAY_LEN(pool3));
    assert_int_equal(xlmig__rolling_run(ctx, NULL, &F, &to_020, &res),
                     LIBXLMIG_ERR_INVALID_ARGUMENT);
    assert_string_equal(F.log, "");
}

static void test_bad_hooks(void **state)
{
    static const struct fhost two_masters[] = {
        { "h1", true, true, "0.1.0", "4.17.7", NULL, NULL },
        { "h2", true, true, "0.1.0", "4.17.7", NULL, NULL },
    };
    static const struct fhost no_master[] = {
        { "h1", false, true, "0.1.0", "4.17.7", NULL, NULL },
    };
    static const struct fhost twice[] = {
        { "h1", true, true, "0.1.0", "4.17.7", NULL, NULL },
        { "h1", false, true, "0.1.0", "4.17.7", NULL, NULL },
    };
    static const struct fhost no_version[] = {
        { "h1", true, true, "", "4.17.7", NULL, NULL },
    };

    (void)state;
    fake_init(two_masters, 2);
    assert_int_equal(run(&to_020), LIBXLMIG_ERR_INTERNAL);
    assert_contains(res.error, "gave 2 masters");
    assert_string_equal(F.log, "list\n");
    fake_init(no_master, 1);
    assert_int_equal(run(&to_020), LIBXLMIG_ERR_INTERNAL);
    assert_contains(res.error, "gave 0 masters");
    fake_init(twice, 2);
    assert_int_equal(run(&to_020), LIBXLMIG_ERR_INTERNAL);
    assert_contains(res.error, "gave host h1 twice");
    fake_init(no_version, 1);
    assert_int_equal(run(&to_020), LIBXLMIG_ERR_INTERNAL);
    assert_contains(res.error, "host 1 without a name or a version");
    assert_string_equal(F.log, "list\n");

    /* A hook failing without a word: the driver says which. */
    fake_init(pool3, ARRAY_LEN(pool3));
    F.fail = F_SILENT;
    F.fail_host = "h3";
    assert_int_equal(run(&to_020), LIBXLMIG_ERR_PROTOCOL);
    assert_string_equal(res.error, "PROTOCOL_ERROR: the rolling upgrade's "
                        "disable hook failed for host h3 and said nothing "
                        "more; see h3's and the master's xlmigd log");
    /* A hook returning what is not an error code. */
    fake_init(pool3, ARRAY_LEN(pool3));
    F.fail = F_POSITIVE;
    F.fail_host = "h3";
    assert_int_equal(run(&to_020), LIBXLMIG_ERR_INTERNAL);
    assert_contains(res.error, "disable hook returned 1 for host h3");
}

/* The rerun line quotes what the shell would split. */
static void test_rerun_line(void **state)
{
    const struct xlmig__rolling_params p = {
        .command = "yum -y update xen && echo 'done' ; reboot",
        .xen_version = "4.17.8",
        .config = "/etc/xlmig/my pool.conf",
        .sr = "local SR",
    };

    (void)state;
    fake_init(pool3, ARRAY_LEN(pool3));
    F.fail = F_CMD_EXIT;
    assert_int_equal(run(&p), LIBXLMIG_ERR_UPDATE_APPLY_FAILED);
    assert_string_equal(res.go_on,
                        "xlmig-xe pool-rolling-upgrade upgrade-command="
                        "'yum -y update xen && echo '\\''done'\\'' ; reboot' "
                        "xen-version=4.17.8 sr='local SR' "
                        "config='/etc/xlmig/my pool.conf'");
    assert_string_equal(res.give_up, "xlmig-xe host-enable host=h3 "
                        "config='/etc/xlmig/my pool.conf'");
    assert_contains(F.report, "target: Xen 4.17.8 (given)");

    /* config="" is the default: not in the lines. */
    fake_init(pool3, ARRAY_LEN(pool3));
    F.fail = F_CMD_EXIT;
    assert_int_equal(run(&(struct xlmig__rolling_params){
                         .command = "u", .config = "" }),
                     LIBXLMIG_ERR_UPDATE_APPLY_FAILED);
    assert_string_equal(res.go_on, "xlmig-xe pool-rolling-upgrade "
                        "upgrade-command=u");
    assert_string_equal(res.give_up, "xlmig-xe host-enable host=h3");
}

/* Abandoning: the mark and the held host go, no host is touched. */
static void test_abandon(void **state)
{
    struct fhost hs[ARRAY_LEN(pool3)];

    (void)state;
    memcpy(hs, pool3, sizeof(hs));
    hs[1].lib = "0.2.0";                /* h3 upgraded, h1 held */
    hs[1].xen = "4.17.8";
    hs[2].enabled = false;
    fake_init(hs, ARRAY_LEN(hs));
    F.st.upgrading = true;
    strcpy(F.st.held, "h1");
    assert_ok(xlmig__rolling_abandon(ctx, &fake_ops, &F,
                                     "/etc/xlmig/prod.conf"));
    assert_string_equal(F.log, "list\nstate_get\nstate:up=0,held=\n");
    assert_string_equal(F.report,
                        "rolling upgrade abandoned: the pool is no longer "
                        "mid-upgrade\n"
                        "hosts not at the pool's newest (libxlmig 0.2.0 / "
                        "Xen 4.17.8): h1 (libxlmig 0.1.0 / Xen 4.17.7), h2 "
                        "(libxlmig 0.1.0 / Xen 4.17.7)\n"
                        "h1 stays disabled, as the upgrade left it; to use "
                        "it again: xlmig-xe host-enable host=h1 "
                        "config=/etc/xlmig/prod.conf\n");
    assert_false(F.st.upgrading);
    assert_string_equal(F.st.held, "");

    /* Not mid-upgrade: nothing written. */
    fake_init(pool3, ARRAY_LEN(pool3));
    assert_ok(xlmig__rolling_abandon(ctx, &fake_ops, &F, NULL));
    assert_string_equal(F.log, "list\nstate_get\n");
    assert_string_equal(F.report, "the pool is not mid-upgrade: nothing to "
                        "abandon\n");

    /* The state cannot be written: said once, the mark stays. */
    fake_init(hs, ARRAY_LEN(hs));
    F.st.upgrading = true;
    F.fail = F_STATE_SET_FIRST;
    assert_int_equal(xlmig__rolling_abandon(ctx, &fake_ops, &F, NULL),
                     LIBXLMIG_ERR_IO);
    assert_true(F.st.upgrading);
    assert_string_equal(F.report, "");
    assert_int_equal(count(cap.text, "IO_ERROR:"), 1);
}

static void test_refusals(void **state)
{
    static const struct {
        const char *method;
        enum xlmig__rolling_rule rule;
    } cases[] = {
        { "pool.join", XLMIG__ROLLING_REFUSED },
        { "vm.register", XLMIG__ROLLING_REFUSED },
        { "vm.start", XLMIG__ROLLING_NEWEST_ONLY },
        { "pool.eject", XLMIG__ROLLING_ALLOWED },
        { "host.disable", XLMIG__ROLLING_ALLOWED },
        { "host.enable", XLMIG__ROLLING_ALLOWED },
        { "host.evacuate", XLMIG__ROLLING_ALLOWED },
        { "vm.migrate", XLMIG__ROLLING_ALLOWED },
        { "vm.receive_start", XLMIG__ROLLING_ALLOWED },
        { "pool.join_", XLMIG__ROLLING_ALLOWED },
        { NULL, XLMIG__ROLLING_ALLOWED },
    };
    size_t i;

    (void)state;
    for (i = 0; i < ARRAY_LEN(cases); i++) {
        enum xlmig__rolling_rule rule = cases[i].rule;

        assert_int_equal(xlmig__rolling_rule(cases[i].method), rule);
        assert_int_equal(xlmig__rolling_refuses(cases[i].method, false),
                         rule != XLMIG__ROLLING_ALLOWED);
        assert_int_equal(xlmig__rolling_refuses(cases[i].method, true),
                         rule == XLMIG__ROLLING_REFUSED);
    }
    reset_log();
    assert_int_equal(xlmig__rolling_refuse(ctx, "pool.join", "h4"),
                     LIBXLMIG_ERR_NOT_SUPPORTED_DURING_UPGRADE);
    assert_string_equal(libxlmig_ctx_last_error(ctx),
                        "NOT_SUPPORTED_DURING_UPGRADE: pool-join (host h4) "
                        "is not supported while the pool is mid-upgrade; "
                        "finish the upgrade first (run the same xlmig-xe "
                        "pool-rolling-upgrade again), then retry");
    assert_int_equal(xlmig__rolling_refuse(ctx, "vm.start", "h2"),
                     LIBXLMIG_ERR_NOT_SUPPORTED_DURING_UPGRADE);
    assert_string_equal(libxlmig_ctx_last_error(ctx),
                        "NOT_SUPPORTED_DURING_UPGRADE: vm-start on host h2 "
                        "is not supported while the pool is mid-upgrade: h2 "
                        "is not upgraded yet; use an upgraded host, or "
                        "finish the upgrade first (run the same xlmig-xe "
                        "pool-rolling-upgrade again)");
    assert_int_equal(cap.count, 2);
}

/* The test hook's version file: what it takes and what it refuses. */
static void test_version_parse(void **state)
{
    static const struct {
        const char *text;
        const char *why;        /* NULL: taken */
    } bad[] = {
        { "libxlmig 0.3.0\n", "line 1 is not KEY=VERSION" },
        { "libxlmig=0.3.0\nlibxlmig=0.4.0\n", "line 2: expected" },
        { "qemu=8.0\n", "line 1: expected" },
        { "xen=\n", "line 1: expected" },
        { "xen=v4.17\n", "line 1: expected" },
        { "xen=4.17 8\n", "line 1: expected" },
        { "xen=4.17;reboot\n", "line 1: expected" },
        { "\n\n# c\nxen==4\n", "line 4: expected" },
    };
    struct xlmig__rolling_version v = { "4.17.7", "0.2.0" };
    char why[200], big[XLMIG__ROLLING_VERSION_FILE_MAX + 2];
    size_t i;

    (void)state;
    assert_int_equal(xlmig__rolling_version_parse("", 0, &v, why,
                                                  sizeof(why)), 0);
    assert_string_equal(v.xen, "4.17.7");
    assert_string_equal(v.libxlmig, "0.2.0");
    assert_int_equal(xlmig__rolling_version_parse(
                         "# the test's upgrade\n  libxlmig=0.3.0 \r\n", 37,
                         &v, why, sizeof(why)), 0);
    assert_string_equal(v.libxlmig, "0.3.0");
    assert_string_equal(v.xen, "4.17.7");
    assert_int_equal(xlmig__rolling_version_parse("xen=4.17.10-rc1\n"
                                                  "libxlmig=1.0", 28, &v, why,
                                                  sizeof(why)), 0);
    assert_string_equal(v.xen, "4.17.10-rc1");
    assert_string_equal(v.libxlmig, "1.0");
    for (i = 0; i < ARRAY_LEN(bad); i++) {
        struct xlmig__rolling_version w = v;

        assert_int_equal(xlmig__rolling_version_parse(
                             bad[i].text, strlen(bad[i].text), &w, why,
                             sizeof(why)), LIBXLMIG_ERR_INVALID_ARGUMENT);
        assert_contains(why, bad[i].why);
        assert_memory_equal(&w, &v, sizeof(v));     /* nothing changed */
    }
    /* A NUL inside a line, a version one byte too long, a big file. */
    assert_int_equal(xlmig__rolling_version_parse("xen=4\0.1\n", 9, &v, why,
                                                  sizeof(why)),
                     LIBXLMIG_ERR_INVALID_ARGUMENT);
    assert_contains(why, "NUL");
    memset(big, '1', sizeof(big));
    memcpy(big, "libxlmig=", 9);
    assert_int_equal(xlmig__rolling_version_parse(
                         big, 9 + XLMIG__ROLLING_VERSION_MAX + 1, &v, why,
                         sizeof(why)), LIBXLMIG_ERR_INVALID_ARGUMENT);
    assert_int_equal(xlmig__rolling_version_parse(
                         big, 9 + XLMIG__ROLLING_VERSION_MAX, &v, why,
                         sizeof(why)), 0);
    assert_int_equal(xlmig__rolling_version_parse(big, sizeof(big), &v, why,
                                                  sizeof(why)),
                     LIBXLMIG_ERR_INVALID_ARGUMENT);
    assert_contains(why, "longer than 1024 bytes");
}

static void test_version_file(void **state)
{
    struct xlmig__rolling_version v = { "4.17.7", "0.2.0" };
    char path[128];

    (void)state;
    assert_int_equal(testfs_dir_setup("test-rolling"), 0);
    snprintf(path, sizeof(path), "%s/version", tmpdir);
    /* Missing: nothing changes, no error. */
    assert_ok(xlmig__rolling_version_file(ctx, path, &v));
    assert_string_equal(v.libxlmig, "0.2.0");
    write_file(path, "xen=4.17.9\n", 11);
    assert_ok(xlmig__rolling_version_file(ctx, path, &v));
    assert_string_equal(v.xen, "4.17.9");
    assert_string_equal(v.libxlmig, "0.2.0");
    write_file(path, "xen=new\n", 8);
    assert_int_equal(xlmig__rolling_version_file(ctx, path, &v),
                     LIBXLMIG_ERR_INVALID_ARGUMENT);
    assert_contains(libxlmig_ctx_last_error(ctx), "test version file ");
    assert_contains(libxlmig_ctx_last_error(ctx), "(test-version-file, a "
                    "test hook): line 1: expected libxlmig=VERSION or "
                    "xen=VERSION");
    assert_string_equal(v.xen, "4.17.9");
    rm_tree(tmpdir);
}

/* The command a host runs: what host.upgrade and the driver take. */
static void test_command_check(void **state)
{
    char big[XLMIG__ROLLING_COMMAND_MAX + 2];

    (void)state;
    assert_ok(xlmig__rolling_command_check(ctx, "apt-get -y upgrade && "
                                           "systemctl reboot"));
    assert_int_equal(xlmig__rolling_command_check(ctx, ""),
                     LIBXLMIG_ERR_INVALID_ARGUMENT);
    assert_int_equal(xlmig__rolling_command_check(ctx, NULL),
                     LIBXLMIG_ERR_INVALID_ARGUMENT);
    assert_int_equal(xlmig__rolling_command_check(ctx, "a\nb"),
                     LIBXLMIG_ERR_INVALID_ARGUMENT);
    assert_contains(libxlmig_ctx_last_error(ctx), "byte 1 of "
                    "upgrade-command is not printable ASCII");
    memset(big, 'a', sizeof(big));
    big[XLMIG__ROLLING_COMMAND_MAX] = '\0';
    assert_ok(xlmig__rolling_command_check(ctx, big));
    big[XLMIG__ROLLING_COMMAND_MAX] = 'a';
    big[XLMIG__ROLLING_COMMAND_MAX + 1] = '\0';
    assert_int_equal(xlmig__rolling_command_check(ctx, big),
                     LIBXLMIG_ERR_INVALID_ARGUMENT);
    assert_contains(libxlmig_ctx_last_error(ctx), "longer than 1024 bytes");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_order),
        cmocka_unit_test(test_version_order),
        cmocka_unit_test(test_full_run),
        cmocka_unit_test(test_no_target),
        cmocka_unit_test(test_resume),
        cmocka_unit_test(test_operator_disabled),
        cmocka_unit_test(test_nothing_to_do),
        cmocka_unit_test(test_stops),
        cmocka_unit_test(test_not_upgraded),
        cmocka_unit_test(test_mark),
        cmocka_unit_test(test_bad_params),
        cmocka_unit_test(test_bad_hooks),
        cmocka_unit_test(test_rerun_line),
        cmocka_unit_test(test_abandon),
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_version_parse),
        cmocka_unit_test(test_version_file),
        cmocka_unit_test(test_command_check),
    };

    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}

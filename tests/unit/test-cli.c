/* SPDX-License-Identifier: LGPL-2.1-only */
/*
 * The CLIs as an operator meets them on a machine without Xen: help,
 * usage errors, and the clear "no hypervisor" error.  Runs the binaries
 * named by XLMIG_BIN and XLMIG_XE_BIN (the sanitizer builds).  Also the
 * options the tools share (libxlmig/cli.c): the parsers' accepted and
 * refused values, the TLS choice, and each option's one spelling (with
 * the hidden spellings of old still taken) in every command; --version,
 * and how the man pages read the help texts (--man).
 */
#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <yajl/yajl_tree.h>

#include "cli.h"
#include "internal.h"
#include "testutil.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

struct run {
    int status;                 /* exit status */
    char out[16384];            /* stdout and stderr together */
};

static void run_cmd(struct run *r, const char *bin_env, const char *args)
{
    const char *bin = getenv(bin_env);
    char cmd[1024];
    FILE *p;
    size_t n;
    int st;

    if (!bin)
        fail_msg("%s is not set", bin_env);
    snprintf(cmd, sizeof(cmd), "%s %s 2>&1", bin, args);
    p = popen(cmd, "r");
    assert_non_null(p);
    n = fread(r->out, 1, sizeof(r->out) - 1, p);
    r->out[n] = '\0';
    st = pclose(p);
    assert_true(WIFEXITED(st));
    r->status = WEXITSTATUS(st);
}

struct cli_case {
    const char *args;
    int status;
    const char *want;           /* expected in stdout + stderr */
};

/* Run the binary named by @bin_env with each case's arguments. */
static void run_cases(const char *bin_env, const char *name,
                      const struct cli_case *cases, size_t n)
{
    struct run r;
    size_t i;

    for (i = 0; i < n; i++) {
        run_cmd(&r, bin_env, cases[i].args);
        if (r.status != cases[i].status)
            fail_msg("%s %s: exit %d, want %d:\n%s", name, cases[i].args,
                     r.status, cases[i].status, r.out);
        assert_contains(r.out, cases[i].want);
    }
}

static void test_xlmig(void **state)
{
    static const struct cli_case cases[] = {
        { "--help", 0, "host-info" },
        { "help host-info", 0, "Usage: xlmig host-info" },
        { "host-info --help", 0, "--json" },
        { "", 2, "Usage: xlmig COMMAND" },
        { "frobnicate", 2, "unknown command 'frobnicate'" },
        { "host-info --bogus", 2, "Usage: xlmig host-info" },
        { "host-info extra", 2, "Usage: xlmig host-info" },
        { "host-info", 1, "XEN_NOT_AVAILABLE: the Xen hypervisor is not "
                          "available on this machine" },
        { "host-info --json", 1, "/dev/xen/privcmd" },
        { "errors", 0, "VM_INCOMPATIBLE_WITH_THIS_HOST" },
        { "version", 0, "xlmig 0." },
    };

    (void)state;
    run_cases("XLMIG_BIN", "xlmig", cases, sizeof(cases) / sizeof(cases[0]));
}

static void test_xlmig_xe(void **state)
{
    static const struct cli_case cases[] = {
        { "--help", 0, "host-info" },
        { "host-info --help", 0, "params=a,b" },
        { "", 2, "Usage: xlmig-xe COMMAND" },
        { "vm-frob", 2, "UNKNOWN_COMMAND" },
        { "host-info vm", 2, "INVALID_VALUE: 'vm' is not of the form" },
        { "host-info vm=x", 2, "unknown argument 'vm='" },
        { "host-info --minimal", 1, "XEN_NOT_AVAILABLE" },
        { "--help", 0, "  sr-list                List the registered SRs" },
        { "sr-list --help", 0, "[--minimal | --json]" },
        { "host-info --json", 2, "--json: only the listings" },
        { "sr-list --json --minimal", 2,
          "--json and --minimal: one or the other" },
    };

    (void)state;
    run_cases("XLMIG_XE_BIN", "xlmig-xe", cases,
              sizeof(cases) / sizeof(cases[0]));
}

/* --version: one line "PROG VERSION ...", and --help says it. */
static void test_version(void **state)
{
    static const struct {
        const char *bin_env, *prog, *args;
    } cases[] = {
        { "XLMIG_BIN", "xlmig", "--version" },
        { "XLMIG_BIN", "xlmig", "version" },
        { "XLMIG_XE_BIN", "xlmig-xe", "--version" },
    };
    char want[64];
    struct run r;
    size_t i;

    (void)state;
    for (i = 0; i < ARRAY_LEN(cases); i++) {
        snprintf(want, sizeof(want), "%s %s", cases[i].prog,
                 LIBXLMIG_VERSION_STRING);
        run_cmd(&r, cases[i].bin_env, cases[i].args);
        if (r.status != 0 || strncmp(r.out, want, strlen(want)) ||
            (r.out[strlen(want)] != '\n' && r.out[strlen(want)] != ' ') ||
            strchr(r.out, '\n') != r.out + strlen(r.out) - 1)
            fail_msg("%s %s: exit %d, '%s', want one line '%s ...'",
                     cases[i].prog, cases[i].args, r.status, r.out, want);
        run_cmd(&r, cases[i].bin_env, "--help");
        assert_contains(r.out, "--version");
    }
}

/* xlmig__cli_md_help() of @text, into @buf. */
static void md_of(const char *text, char *buf, size_t cap)
{
    FILE *f;

    buf[0] = '\0';
    f = fmemopen(buf, cap, "w");
    assert_non_null(f);
    xlmig__cli_md_help(f, text);
    assert_int_equal(fclose(f), 0);
}

/*
 * How the man pages read a help text: prose, items, continuations, a
 * term that goes on, a "Fields:" list that goes on, markup escaped.
 */
static void test_help_markdown(void **state)
{
    static const struct { const char *text, *md; } cases[] = {
        { "One line.", "One line\\.\n\n" },
        { "A paragraph\nin two lines.\n",
          "A paragraph in two lines\\.\n\n" },
        { "  --json       one JSON object\n",
          "**\\-\\-json**\n:   one JSON object\n\n" },
        { "  --vm=NAME    the VM: send\n               its CPU\n",
          "**\\-\\-vm\\=NAME**\n:   the VM\\: send its CPU\n\n" },
        { "  --tls-cert=F --tls-key=F\n      as before\n",
          "**\\-\\-tls\\-cert\\=F \\-\\-tls\\-key\\=F**\n"
          ":   as before\n\n" },
        { "  a=x|\n    y  which\n", "**a\\=x\\|y**\n:   which\n\n" },
        { "  --a, --b,\n  --c  as for x\n",
          "**\\-\\-a\\, \\-\\-b\\, \\-\\-c**\n:   as for x\n\n" },
        { "  flag=true|false\n  next=N  n\n",
          "**flag\\=true\\|false**\n:   \n\n**next\\=N**\n:   n\n\n" },
        { "Fields: a b\n  c d\nNeeds Xen.",
          "Fields\\: a b c d\n\nNeeds Xen\\.\n\n" },
        { "Intro:\n  k=V  value\nAfter.\n",
          "Intro\\:\n\n**k\\=V**\n:   value\n\nAfter\\.\n\n" },
        { "*not* `code` [link](x) # $HOME <b>_u_\n",
          "\\*not\\* \\`code\\` \\[link\\]\\(x\\) \\# \\$HOME "
          "\\<b\\>\\_u\\_\n\n" },
        { "See e.g. x ... y.  Then [z...] (a.) b. ",
          "See e\\.g\\.\\ x \\.\\.\\.\\ y\\.  Then \\[z\\.\\.\\.\\]\\ "
          "\\(a\\.\\)\\ b\\.\n\n" },
        { "", "" },
    };
    char buf[1024];
    size_t i;

    (void)state;
    for (i = 0; i < ARRAY_LEN(cases); i++) {
        md_of(cases[i].text, buf, sizeof(buf));
        if (strcmp(buf, cases[i].md))
            fail_msg("case %zu: got\n%s\nwant\n%s", i, buf, cases[i].md);
    }
}

static void test_value_parsers(void **state)
{
    static const struct { const char *in, *codec; } codecs[] = {
        { "none", "none" }, { "zlib", "zlib" }, { "zstd", "zstd" },
        { "lz4", "lz4" }, { "auto", "auto" }, { "false", "none" },
        { "no", "none" }, { "off", "none" }, { "true", "zstd" },
        { "yes", "zstd" }, { "on", "zstd" }, { "gzip", NULL },
        { "ZSTD", NULL }, { "", NULL }, { "zstd ", NULL }, { NULL, NULL },
    };
    static const struct { const char *in; int v; bool ok; } levels[] = {
        { "0", 0, true }, { "3", 3, true }, { "-7", -7, true },
        { "100", 100, true }, { "-100", -100, true }, { "101", 0, false },
        { "-101", 0, false }, { "-1000", 0, false }, { "", 0, false },
        { "-", 0, false }, { "+3", 0, false }, { " 3", 0, false },
        { "3x", 0, false }, { "--3", 0, false }, { NULL, 0, false },
    };
    static const struct { const char *in; unsigned v; bool ok; } thr[] = {
        { "0", 0, true }, { "1", 1, true }, { "64", 64, true },
        { "65", 0, false }, { "-1", 0, false }, { "", 0, false },
        { "4k", 0, false }, { "99999999999999999999999", 0, false },
    };
    char why[256];
    const char *c;
    unsigned long ul;
    unsigned int t;
    size_t i;
    int l;

    (void)state;
    for (i = 0; i < ARRAY_LEN(codecs); i++) {
        c = "untouched";
        if (xlmig__cli_codec("--codec", codecs[i].in, &c, why,
                             sizeof(why)) != (codecs[i].codec != NULL))
            fail_msg("codec \"%s\": %s", codecs[i].in ? codecs[i].in
                                                      : "(null)", why);
        assert_string_equal(c, codecs[i].codec ? codecs[i].codec
                                               : "untouched");
        if (!codecs[i].codec)
            assert_contains(why, "--codec \"");
    }
    assert_string_equal(why, "--codec \"\" is not a codec; give none, "
                             "zlib, zstd, lz4 or auto");
    for (i = 0; i < ARRAY_LEN(levels); i++) {
        l = 12345;
        if (xlmig__cli_level("--level", levels[i].in, &l, why,
                             sizeof(why)) != levels[i].ok)
            fail_msg("level \"%s\"", levels[i].in ? levels[i].in : "");
        assert_int_equal(l, levels[i].ok ? levels[i].v : 12345);
        if (!levels[i].ok)
            assert_contains(why, "is not a level; give a number from -100 "
                                 "to 100");
    }
    for (i = 0; i < ARRAY_LEN(thr); i++) {
        t = 12345;
        if (xlmig__cli_threads("--threads", thr[i].in, &t, why,
                               sizeof(why)) != thr[i].ok)
            fail_msg("threads \"%s\"", thr[i].in);
        assert_int_equal(t, thr[i].ok ? thr[i].v : 12345);
        if (!thr[i].ok)
            assert_contains(why, "0 (one per CPU) to 64");
    }
    assert_true(xlmig__cli_uint("65535", 65535, &ul) && ul == 65535);
    assert_false(xlmig__cli_uint("65536", 65535, &ul));
    assert_true(xlmig__cli_uint("0", 0, &ul) && ul == 0);
    assert_false(xlmig__cli_uint("1", 0, &ul));
    assert_false(xlmig__cli_uint("18446744073709551616", ~0ul, &ul));
    assert_true(xlmig__cli_uint("18446744073709551615", ~0ul, &ul) &&
                ul == ~0ul);
}

static volatile sig_atomic_t stops;

static void on_stop(int sig)
{
    stops += sig == SIGINT ? 1 : 100;
}

static void test_on_stop(void **state)
{
    struct sigaction sa;

    (void)state;
    xlmig__cli_on_stop(on_stop);
    raise(SIGINT);
    raise(SIGTERM);
    assert_int_equal(stops, 101);
    /* No SA_RESTART: a blocking call sees EINTR. */
    assert_int_equal(sigaction(SIGTERM, NULL, &sa), 0);
    assert_ptr_equal(sa.sa_handler, on_stop);
    assert_false(sa.sa_flags & SA_RESTART);
    signal(SIGINT, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
}

/* getopt_long's codes for @args through the shared TLS rows. */
static void tls_take(struct xlmig__cli_tls *t, const char *const *args)
{
    static const struct option opts[] = {
        XLMIG__CLI_TLS_OPTIONS,
        { NULL, 0, NULL, 0 },
    };
    char *argv[16];
    int argc = 0, opt;

    argv[argc++] = (char *)"test";
    while (*args && argc < 15)
        argv[argc++] = (char *)*args++;
    argv[argc] = NULL;
    xlmig__cli_tls_init(t);
    optind = 1;
    while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1)
        assert_true(xlmig__cli_tls_opt(t, opt, optarg));
}

static void test_tls_choice(void **state)
{
    static const struct {
        const char *args[8];
        const char *why;        /* NULL: taken */
    } cases[] = {
        { { "--tls-cert=c", "--tls-key=k", "--tls-ca=a" }, NULL },
        { { "--psk-file=p", "--peer-name=h2" }, NULL },
        { { "--no-tls" }, NULL },
        { { "--tls-cert=c", "--tls-key=k" }, "needs all of --tls-cert, "
                                             "--tls-key and --tls-ca" },
        { { "--psk-file=p", "--tls-ca=a" }, "not both" },
        { { "--no-tls", "--psk-file=p" }, "do not go together" },
        { { "--no-tls", "--tls-cert=c" }, "do not go together" },
        { { NULL }, "TLS needs --tls-cert, --tls-key and --tls-ca, or "
                    "--psk-file; plain TCP only with --no-tls" },
    };
    struct xlmig__cli_tls t;
    char why[256], dir[] = "/tmp/test-cli.XXXXXX", path[300];
    size_t i;
    FILE *f;

    (void)state;
    for (i = 0; i < ARRAY_LEN(cases); i++) {
        tls_take(&t, cases[i].args);
        why[0] = '\0';
        if (xlmig__cli_tls_check(&t, NULL, why, sizeof(why)) !=
            !cases[i].why)
            fail_msg("TLS case %zu: %s", i, why);
        if (cases[i].why)
            assert_contains(why, cases[i].why);
    }
    tls_take(&t, cases[0].args);
    assert_ptr_equal(xlmig__cli_tls_params(&t, "peer"), &t.p);
    assert_string_equal(t.p.peer_label, "peer");
    assert_string_equal(t.p.cert_file, "c");
    tls_take(&t, cases[2].args);
    assert_null(xlmig__cli_tls_params(&t, "peer"));

    /* A default directory: its psk, then its certificates first. */
    assert_non_null(mkdtemp(dir));
    tls_take(&t, cases[7].args);
    assert_false(xlmig__cli_tls_check(&t, dir, why, sizeof(why)));
    assert_contains(why, "or the files in /tmp/test-cli.");
    snprintf(path, sizeof(path), "%s/psk", dir);
    assert_non_null(f = fopen(path, "w"));
    fclose(f);
    tls_take(&t, cases[7].args);
    assert_true(xlmig__cli_tls_check(&t, dir, why, sizeof(why)));
    assert_string_equal(t.p.psk_file, path);
    assert_null(t.p.cert_file);
    snprintf(path, sizeof(path), "%s/cert.pem", dir);
    assert_non_null(f = fopen(path, "w"));
    fclose(f);
    snprintf(path, sizeof(path), "%s/key.pem", dir);
    assert_non_null(f = fopen(path, "w"));
    fclose(f);
    tls_take(&t, cases[7].args);
    assert_true(xlmig__cli_tls_check(&t, dir, why, sizeof(why)));
    assert_non_null(t.p.psk_file);      /* no ca.pem: still the key */
    snprintf(path, sizeof(path), "%s/ca.pem", dir);
    assert_non_null(f = fopen(path, "w"));
    fclose(f);
    tls_take(&t, cases[7].args);
    assert_true(xlmig__cli_tls_check(&t, dir, why, sizeof(why)));
    assert_null(t.p.psk_file);
    assert_string_equal(t.p.ca_file, path);
    /* Given files win over the directory's. */
    tls_take(&t, cases[1].args);
    assert_true(xlmig__cli_tls_check(&t, dir, why, sizeof(why)));
    assert_string_equal(t.p.psk_file, "p");
    assert_null(t.p.cert_file);
    for (i = 0; i < 4; i++) {
        static const char *const names[] = { "psk", "cert.pem", "key.pem",
                                             "ca.pem" };

        snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
        unlink(path);
    }
    rmdir(dir);
}

/* One spelling per option in every command, the old ones still taken. */
static void test_spellings(void **state)
{
    static const struct cli_case xlmig[] = {
        /* channel-send: --codec, and --compress of old */
        { "channel-send --codec=zlib --no-tls 127.0.0.1:1", 1,
          "cannot connect to 127.0.0.1:1" },
        { "channel-send --compress=zlib --no-tls 127.0.0.1:1", 1,
          "cannot connect to 127.0.0.1:1" },
        { "channel-send --codec=gzip --no-tls h", 2,
          "xlmig channel-send: --codec \"gzip\" is not a codec; give none, "
          "zlib, zstd, lz4 or auto" },
        { "channel-send --compress=gzip --no-tls h", 2,
          "--codec \"gzip\" is not a codec" },
        { "channel-send --level=101 --no-tls h", 2,
          "--level \"101\" is not a level" },
        { "channel-send --threads=65 --no-tls h", 2,
          "--threads \"65\" is not a number of threads" },
        /* --bwlimit: one parser, one message */
        { "channel-send --bwlimit=1.5M --no-tls 127.0.0.1:1", 1,
          "cannot connect" },
        { "channel-send --bwlimit=none --no-tls 127.0.0.1:1", 1,
          "cannot connect" },
        { "channel-send --bwlimit=fast --no-tls h", 2,
          "xlmig channel-send: --bwlimit \"fast\" is not a rate; give "
          "bytes/s" },
        { "sxm-send-data --src-uri x --to tcp:127.0.0.1:1 --no-tls "
          "--bwlimit fast", 2, "--bwlimit \"fast\" is not a rate; give "
          "bytes/s" },
        { "sxm-send-data --src-uri x --to tcp:127.0.0.1:1 --no-tls "
          "--bwlimit 0", 1, "cannot connect to 127.0.0.1:1" },
        { "sxm-send-data --src-uri x --to tcp:127.0.0.1:1 --no-tls "
          "--bwlimit 1.5M", 1, "cannot connect to 127.0.0.1:1" },
        { "sxm-send --vdi v --qmp q --dest tcp:h:1 --bwlimit fast", 2,
          "--bwlimit \"fast\" is not a rate; give bytes/s" },
        /* addresses */
        { "channel-send --no-tls h:0", 2, "'h:0' is not HOST[:PORT]" },
        { "channel-send --no-tls 127.0.0.1", 1,
          "cannot connect to 127.0.0.1:8022" },
        { "channel-send --no-tls ::1", 1, "[::1]:8022" },
        { "sxm-send-data --src-uri x --to tcp:::1:7000 --no-tls", 2,
          "--to tcp:::1:7000 is not tcp:HOST:PORT" },
        /* TLS: --tls-*, and --cert/--key/--ca of old in sxm-*-data */
        { "channel-send --tls-cert=c h", 2,
          "needs all of --tls-cert, --tls-key and --tls-ca" },
        { "sxm-send-data --src-uri x --to tcp:127.0.0.1:1 --tls-cert=c", 2,
          "needs all of --tls-cert, --tls-key and --tls-ca" },
        { "sxm-send-data --src-uri x --to tcp:127.0.0.1:1 --cert c "
          "--psk-file p", 2, "give --psk-file or --tls-cert" },
        { "sxm-send-data --src-uri x --to tcp:127.0.0.1:1 --cert c "
          "--key k --ca a", 1, "cannot connect to 127.0.0.1:1" },
        { "sxm-receive-data --task x --listen tcp:127.0.0.1:1", 2,
          "plain TCP only with --no-tls" },
        { "sxm-receive-data --task x --listen tcp:127.0.0.1:1 --no-tls "
          "--psk-file p", 2, "--no-tls and TLS files do not go together" },
        /* the NBD TLS directory: --nbd-tls-dir, and --tls-dir of old */
        { "sxm-send --vdi v --qmp q --dest-host h --sr s --nbd-tls-dir d",
          2, "not --nbd-tls-dir" },
        { "sxm-send --vdi v --qmp q --dest-host h --sr s --tls-dir d", 2,
          "not --nbd-tls-dir" },
        /* --help says the one spelling */
        { "channel-send --help", 0, "--codec=C" },
        { "sxm-send-data --help", 0, "--tls-cert=F --tls-key=F" },
        { "sxm-receive-start --help", 0, "--nbd-tls-dir DIR" },
    };
    static const struct cli_case xe[] = {
        { "vdi-copy uuid=x sr-uuid=y bwlimit=fast", 2,
          "bwlimit= \"fast\" is not a rate; give bytes/s" },
        { "vdi-pool-migrate uuid=x sr-uuid=y bwlimit=1Q", 2,
          "bwlimit= \"1Q\" is not a rate" },
    };
    static const char *const hidden[][2] = {
        { "channel-send --help", "--compress" },
        { "channel-listen --help", "--compress" },
        { "sxm-send-data --help", "--cert F" },
        { "sxm-receive-data --help", "--cert F" },
        { "sxm-send --help", "--tls-dir" },
        { "sxm-receive-start --help", "--tls-dir" },
    };
    struct run r;
    size_t i;

    (void)state;
    run_cases("XLMIG_BIN", "xlmig", xlmig, ARRAY_LEN(xlmig));
    run_cases("XLMIG_XE_BIN", "xlmig-xe", xe, ARRAY_LEN(xe));
    for (i = 0; i < ARRAY_LEN(hidden); i++) {
        char want[64];

        run_cmd(&r, "XLMIG_BIN", hidden[i][0]);
        assert_int_equal(r.status, 0);
        /* Only whole options: --tls-dir is part of --nbd-tls-dir. */
        snprintf(want, sizeof(want), " %s", hidden[i][1]);
        if (strstr(r.out, want))
            fail_msg("xlmig %s shows %s", hidden[i][0], hidden[i][1]);
    }
}

/*
 * --json of the listings: yajl escapes what needs it (a quote, a
 * backslash, a control character), a number field is a number (null
 * when empty, a string when it is not one), a flag true/false; a value
 * that is not UTF-8 is refused but the document stays whole; no records
 * is "[]".
 */
static void test_json_listing(void **state)
{
    static const char *const numbers[] = { "size", "dom-id", NULL };
    static const char *const flags[] = { "on", NULL };
    struct xlmig__kv kv[5] = {
        { "name", "we\"ird\\na\nme" }, { "size", "1048576" },
        { "dom-id", "" }, { "on", "true" }, { "free", "12" },
    };
    const struct xlmig__kv *sel[5] = { &kv[0], &kv[1], &kv[2], &kv[3],
                                       &kv[4] };
    struct xlmig__cli_json j;
    const char *p0[] = { NULL, NULL }, *p1[] = { NULL, NULL };
    char *buf = NULL, err[128];
    size_t len = 0;
    yajl_val doc, o;
    FILE *f;

    (void)state;
    f = open_memstream(&buf, &len);
    assert_non_null(f);
    assert_true(xlmig__cli_json_begin(&j, f, numbers, flags));
    assert_true(xlmig__cli_json_record(&j, sel, 5));
    xlmig__strlcpy(kv[1].value, "n/a", sizeof(kv[1].value));
    xlmig__strlcpy(kv[0].value, "bad\xff", sizeof(kv[0].value));
    assert_false(xlmig__cli_json_record(&j, sel, 2));
    xlmig__cli_json_end(&j);
    xlmig__cli_json_end(&j);    /* idempotent */
    fclose(f);

    doc = yajl_tree_parse(buf, err, sizeof(err));
    if (!doc)
        fail_msg("not JSON (%s):\n%s", err, buf);
    assert_true(YAJL_IS_ARRAY(doc));
    assert_int_equal(doc->u.array.len, 2);
    o = doc->u.array.values[0];
    p0[0] = "name";
    assert_string_equal(YAJL_GET_STRING(yajl_tree_get(o, p0, yajl_t_string)),
                        "we\"ird\\na\nme");
    p0[0] = "size";
    assert_true(YAJL_IS_INTEGER(yajl_tree_get(o, p0, yajl_t_any)));
    assert_int_equal(YAJL_GET_INTEGER(yajl_tree_get(o, p0, yajl_t_any)),
                     1048576);
    p0[0] = "dom-id";
    assert_true(YAJL_IS_NULL(yajl_tree_get(o, p0, yajl_t_any)));
    p0[0] = "on";
    assert_true(YAJL_IS_TRUE(yajl_tree_get(o, p0, yajl_t_any)));
    p0[0] = "free";             /* not declared a number: a string */
    assert_string_equal(YAJL_GET_STRING(yajl_tree_get(o, p0, yajl_t_string)),
                        "12");
    o = doc->u.array.values[1];
    p1[0] = "name";
    assert_true(YAJL_IS_NULL(yajl_tree_get(o, p1, yajl_t_any)));
    p1[0] = "size";
    assert_string_equal(YAJL_GET_STRING(yajl_tree_get(o, p1, yajl_t_string)),
                        "n/a");
    yajl_tree_free(doc);
    free(buf);

    buf = NULL;
    f = open_memstream(&buf, &len);
    assert_non_null(f);
    assert_true(xlmig__cli_json_begin(&j, f, NULL, NULL));
    xlmig__cli_json_end(&j);
    fclose(f);
    assert_string_equal(buf, "[]\n");
    free(buf);
}

/*
 * Each word of @list (one a line) that @keep accepts must be in the
 * --help of @cmd (run by the binary of @bin_env), as @keep spells it.
 */
static void words_in_help(const char *bin_env, const char *cmd,
                          const char *list,
                          bool (*keep)(const char *w, char *spelled,
                                       size_t cap))
{
    char args[256], spelled[128], *copy, *w, *save = NULL;
    struct run help;

    snprintf(args, sizeof(args), "%s --help", cmd);
    run_cmd(&help, bin_env, args);
    assert_int_equal(help.status, 0);
    copy = strdup(list);
    assert_non_null(copy);
    for (w = strtok_r(copy, "\n", &save); w;
         w = strtok_r(NULL, "\n", &save)) {
        if (keep(w, spelled, sizeof(spelled)) && !strstr(help.out, spelled))
            fail_msg("%s: %s is offered for completion but not in --help",
                     cmd, w);
    }
    free(copy);
}

/* xlmig-xe's keys as --help writes them: "vm=", a map's "vdi:". */
static bool xe_key(const char *w, char *spelled, size_t cap)
{
    if (!strcmp(w, "params=") || !strcmp(w, "--minimal"))
        return false;           /* the grammar's, not the command's */
    snprintf(spelled, cap, "%s", w);
    return true;
}

/* xlmig's options as --help writes them: "--codec" of "--codec=". */
static bool xlmig_option(const char *w, char *spelled, size_t cap)
{
    size_t n = strcspn(w, "=");

    if (!strcmp(w, "--help"))
        return false;           /* not every usage text names it */
    snprintf(spelled, cap, "%.*s", (int)n, w);
    return true;
}

/*
 * --complete: what shell completion offers comes from the tables the
 * parsers use: every command's keys (xlmig-xe) and options (xlmig) are
 * in its --help, the hidden spellings of old are not offered, and an
 * option of the other channel command is not taken.
 */
static void test_complete(void **state)
{
    static const struct cli_case xlmig[] = {
        { "--complete commands", 0, "\nchannel-send\nchannel-listen\n" },
        { "--complete options host-info", 0, "--help\n--json\n--verbose\n" },
        { "--complete options channel-listen", 0, "--bind=\n" },
        { "--complete options sxm-list", 0, "--state-dir=\n--json\n--help\n" },
        { "--complete", 2, "Usage: xlmig --complete commands" },
        { "channel-send --bind=x --no-tls h", 2,
          "unrecognized option '--bind=x'" },
        { "channel-listen --vm=x --no-tls", 2, "unrecognized option" },
        { "sxm-list --state-dir", 2, "Usage: xlmig sxm-list" },
        { "pool-stats extra", 2, "Usage: xlmig pool-stats" },
    };
    static const struct cli_case xe[] = {
        { "--complete commands", 0, "\nvm-migrate\nvm-assert-can-migrate\n" },
        { "--complete keys vm-migrate", 0, "vm=\nhost=\nhost-uuid=\n" },
        { "--complete keys vm-migrate", 0, "\nvdi:\nvif:\n" },
        { "--complete keys sr-create", 0, "\ndevice-config:path=\n" },
        { "--complete keys host-info", 0, "params=\n--minimal\n" },
        { "--complete values vdi-create format", 0, "qcow2\nraw\n" },
        { "--complete values vm-migrate live", 0, "true\nfalse\n" },
        { "--complete values sr-create capabilities", 0,
          "@list\nVDI_SNAPSHOT\nVDI_MIRROR\nVDI_MIRROR_IN\n" },
        { "--complete values pool-param-get param-name", 0,
          "migration-concurrency\n" },
        { "--complete values sr-list params", 0,
          "@list\nuuid\nname-label\ntype\npath\n" },
        { "--complete values vm-list params", 0, "memory-static-max\n" },
        { "--complete values host-cpu-record file", 0, "@file\n" },
        { "--complete values sr-create device-config:path", 0, "@dir\n" },
        { "--complete", 2, "Usage: xlmig-xe --complete commands" },
        { "--complete keys", 2, "Usage: xlmig-xe --complete" },
    };
    /* Nothing at all: not a key of the command, not a command. */
    static const char *const empty[] = {
        "--complete values vm-migrate format",
        "--complete values vm-frob vm",
        "--complete keys vm-frob",
        "--complete values vm-list params=",
        "--complete values vdi-create name-label",
    };
    static const char *const hidden[][2] = {
        { "channel-send", "--compress=" },
        { "channel-send", "--bind=" },
        { "channel-listen", "--vm=" },
        { "sxm-send-data", "--cert=" },
        { "sxm-send", "--tls-dir=" },
        { "sxm-receive-start", "--tls-dir=" },
    };
    struct run r, list;
    char args[256], *copy, *c, *save = NULL;
    size_t i;

    (void)state;
    run_cases("XLMIG_BIN", "xlmig", xlmig, ARRAY_LEN(xlmig));
    run_cases("XLMIG_XE_BIN", "xlmig-xe", xe, ARRAY_LEN(xe));
    for (i = 0; i < ARRAY_LEN(empty); i++) {
        run_cmd(&r, "XLMIG_XE_BIN", empty[i]);
        if (r.status != 0 || r.out[0])
            fail_msg("xlmig-xe %s: exit %d, '%s', want nothing", empty[i],
                     r.status, r.out);
    }
    for (i = 0; i < ARRAY_LEN(hidden); i++) {
        char line[64];          /* "\nWORD\n": a whole line */

        snprintf(args, sizeof(args), "--complete options %s", hidden[i][0]);
        run_cmd(&r, "XLMIG_BIN", args);
        assert_contains(r.out, "--help\n");
        snprintf(line, sizeof(line), "\n%s\n", hidden[i][1]);
        if (!strncmp(r.out, line + 1, strlen(line + 1)) ||
            strstr(r.out, line))
            fail_msg("xlmig %s offers %s", args, hidden[i][1]);
    }

    run_cmd(&list, "XLMIG_BIN", "--complete commands");
    copy = strdup(list.out);
    assert_non_null(copy);
    for (c = strtok_r(copy, "\n", &save); c;
         c = strtok_r(NULL, "\n", &save)) {
        snprintf(args, sizeof(args), "--complete options %s", c);
        run_cmd(&r, "XLMIG_BIN", args);
        assert_int_equal(r.status, 0);
        words_in_help("XLMIG_BIN", c, r.out, xlmig_option);
    }
    free(copy);

    run_cmd(&list, "XLMIG_XE_BIN", "--complete commands");
    copy = strdup(list.out);
    assert_non_null(copy);
    save = NULL;
    for (c = strtok_r(copy, "\n", &save); c;
         c = strtok_r(NULL, "\n", &save)) {
        snprintf(args, sizeof(args), "--complete keys %s", c);
        run_cmd(&r, "XLMIG_XE_BIN", args);
        assert_int_equal(r.status, 0);
        words_in_help("XLMIG_XE_BIN", c, r.out, xe_key);
    }
    free(copy);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_xlmig),
        cmocka_unit_test(test_xlmig_xe),
        cmocka_unit_test(test_version),
        cmocka_unit_test(test_help_markdown),
        cmocka_unit_test(test_value_parsers),
        cmocka_unit_test(test_tls_choice),
        cmocka_unit_test(test_on_stop),
        cmocka_unit_test(test_spellings),
        cmocka_unit_test(test_json_listing),
        cmocka_unit_test(test_complete),
    };

    return cmocka_run_group_tests_name("cli", tests, NULL, NULL);
}

/* SPDX-License-Identifier: LGPL-2.1-only */
/*
 * xlmig: the low-level command-line tool of libxlmig.
 *
 * Sub-commands are rows of one table (name, handler, summary, usage,
 * options), as in xl's xl_cmdtable.c; each command parses with the
 * option table of its row, which `xlmig --complete` lists for a shell's
 * completion (tools/completion/xlmig), and `xlmig --man` writes as the
 * COMMANDS section of xlmig(1) (docs/man/xlmig.1.md).  Exit status: 0
 * success, 1 the operation failed (the error's stable name is printed),
 * 2 bad usage.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yajl/yajl_gen.h>

#include "cli.h"
#include "cmd-channel.h"
#include "cmd-diskstream.h"
#include "cmd-slot.h"
#include "cmd-sxm.h"
#include "internal.h"

struct cmd {
    const char *name;
    int (*fn)(int argc, char **argv);
    const char *summary;
    const char *usage;      /* options, one per line after the first */
    const struct option *opts;  /* what it parses with; NULL: none */
};

static const struct cmd *find_cmd(const char *name);
static void usage_of(FILE *f, const struct cmd *c);

/* Print an error that was not already logged by the library. */
static void say_error(int rc, const char *what)
{
    fprintf(stderr, "xlmig: %s: %s\n", libxlmig_strerror_name(rc), what);
}

static const struct option host_info_opts[] = {
    { "help", no_argument, NULL, 'h' },
    { "json", no_argument, NULL, 'j' },
    { "verbose", no_argument, NULL, 'v' },
    { NULL, 0, NULL, 0 },
};

static const struct option help_only_opts[] = {
    { "help", no_argument, NULL, 'h' },
    { NULL, 0, NULL, 0 },
};

/* getopt_long over @c's options; returns the first free index. */
static int parse_opts(int argc, char **argv, const struct cmd *c,
                      int *json_r, int *verbose_r)
{
    int opt;

    optind = 1;
    while ((opt = getopt_long(argc, argv, json_r ? "hjv" : "h", c->opts,
                              NULL)) != -1) {
        switch (opt) {
        case 'h':
            usage_of(stdout, c);
            exit(0);
        case 'j':
            if (!json_r) goto bad;
            *json_r = 1;
            break;
        case 'v':
            if (verbose_r)
                *verbose_r = 1;
            break;
        default:
            goto bad;
        }
    }
    return optind;
 bad:
    usage_of(stderr, c);
    exit(XLMIG__EXIT_USAGE);
}

static int cmd_host_info(int argc, char **argv)
{
    libxlmig_ctx *ctx = NULL;
    libxlmig_host_info info;
    struct xlmig__kv kv[XLMIG__HOST_INFO_FIELDS];
    int json = 0, verbose = 0, rc;
    size_t n, i;

    if (parse_opts(argc, argv, find_cmd("host-info"), &json,
                   &verbose) != argc) {
        usage_of(stderr, find_cmd("host-info"));
        return XLMIG__EXIT_USAGE;
    }
    rc = libxlmig_ctx_new(NULL, verbose ? LIBXLMIG_LOG_DEBUG
                                        : LIBXLMIG_LOG_ERROR, &ctx);
    if (rc) {
        say_error(rc, "cannot create a libxlmig context");
        return XLMIG__EXIT_FAILED;
    }
    rc = libxlmig_host_info_get(ctx, &info);
    if (rc) goto out;           /* the library has said why */

    n = xlmig__host_info_fields(&info, kv);
    if (json) {
        rc = xlmig__cli_json_object(stdout, kv, n, NULL, NULL)
                 ? 0 : LIBXLMIG_ERR_INTERNAL;
    } else {
        for (i = 0; i < n; i++)
            printf("%-23s: %s\n", kv[i].key, kv[i].value);
    }
 out:
    libxlmig_ctx_free(ctx);
    return rc ? XLMIG__EXIT_FAILED : XLMIG__EXIT_OK;
}

static int cmd_errors(int argc, char **argv)
{
    size_t i;

    if (parse_opts(argc, argv, find_cmd("errors"), NULL, NULL) !=
        argc) {
        usage_of(stderr, find_cmd("errors"));
        return XLMIG__EXIT_USAGE;
    }
    for (i = 0; i < xlmig__error_count(); i++) {
        int code = xlmig__error_code_at(i);

        printf("%4d  %-45s %s\n", code, libxlmig_strerror_name(code),
               libxlmig_strerror(code));
    }
    return 0;
}

static int cmd_version(int argc, char **argv)
{
    if (parse_opts(argc, argv, find_cmd("version"), NULL, NULL) !=
        argc) {
        usage_of(stderr, find_cmd("version"));
        return XLMIG__EXIT_USAGE;
    }
    xlmig__cli_version(stdout, "xlmig");
    return 0;
}

static int cmd_help(int argc, char **argv);

static const struct cmd cmd_table[] = {
    { "host-info", cmd_host_info,
      "Show this Xen host's facts: version, CPUs, memory, featuresets",
      "[--json] [--verbose]\n"
      "  --json       print one JSON object instead of 'key: value' lines\n"
      "  --verbose    show libxl's and libxc's log messages\n"
      "Needs the Xen hypervisor (/dev/xen/privcmd) and root in dom0.",
      host_info_opts },
    { "errors", cmd_errors,
      "List the stable error names that scripts can match on",
      "", help_only_opts },
    { "channel-send", xlmig_cmd_channel_send, xlmig_channel_send_summary,
      xlmig_channel_send_usage, xlmig_channel_send_options },
    { "channel-listen", xlmig_cmd_channel_listen,
      xlmig_channel_listen_summary, xlmig_channel_listen_usage,
      xlmig_channel_listen_options },
    { "slot-run", xlmig_cmd_slot_run, xlmig_slot_run_summary,
      xlmig_slot_run_usage, xlmig_slot_run_options },
    { "pool-stats", xlmig_cmd_pool_stats, xlmig_pool_stats_summary,
      xlmig_pool_stats_usage, xlmig_pool_stats_options },
#define XLMIG_SXM_ENTRY(id, name) \
    { name, xlmig_cmd_##id, xlmig_##id##_summary, xlmig_##id##_usage, \
      xlmig_##id##_options },
    XLMIG_SXM_COMMANDS(XLMIG_SXM_ENTRY)
    XLMIG_DISKSTREAM_COMMANDS(XLMIG_SXM_ENTRY)
#undef XLMIG_SXM_ENTRY
    { "version", cmd_version, "Show the version", "", help_only_opts },
    { "help", cmd_help, "Show the commands, or one command's help",
      "[COMMAND]", NULL },
};

#define CMD_TABLE_LEN (sizeof(cmd_table) / sizeof(cmd_table[0]))

static const struct cmd *find_cmd(const char *name)
{
    size_t i;

    for (i = 0; i < CMD_TABLE_LEN; i++) {
        if (!strcmp(cmd_table[i].name, name))
            return &cmd_table[i];
    }
    return NULL;
}

static void usage_of(FILE *f, const struct cmd *c)
{
    fprintf(f, "Usage: xlmig %s %s\n\n%s.\n", c->name, c->usage,
            c->summary);
}

static void usage_all(FILE *f)
{
    size_t i;

    fprintf(f, "Usage: xlmig COMMAND [OPTIONS]\n"
               "       xlmig --version | --help\n\n"
               "Low-level tool of libxlmig, the migration extension for "
               "libxl-based Xen hosts.\n\nCommands:\n");
    for (i = 0; i < CMD_TABLE_LEN; i++)
        fprintf(f, "  %-12s %s\n", cmd_table[i].name, cmd_table[i].summary);
    fprintf(f, "\n'xlmig COMMAND --help' shows a command's options.\n"
               "'xlmig --complete commands' and 'xlmig --complete options "
               "COMMAND' list them\nfor shell completion "
               "(tools/completion/xlmig).\n");
}

/*
 * xlmig --complete commands | options COMMAND: one word a line, what
 * tools/completion/xlmig offers.  Options come from the table COMMAND
 * parses with: "--name=" when it takes a value, "--name" when not; a
 * row whose value repeats an earlier row's is another spelling of that
 * option (one of old, cli.h) and is not offered.  An unknown COMMAND
 * has none.  Prints nothing on stderr but a usage error.
 */
static int complete(int argc, char **argv)
{
    const struct option *o, *p;
    const struct cmd *c;
    size_t i;

    if (argc == 1 && !strcmp(argv[0], "commands")) {
        for (i = 0; i < CMD_TABLE_LEN; i++)
            printf("%s\n", cmd_table[i].name);
        return 0;
    }
    if (argc != 2 || strcmp(argv[0], "options")) {
        fprintf(stderr, "Usage: xlmig --complete commands | options "
                "COMMAND\n");
        return XLMIG__EXIT_USAGE;
    }
    c = find_cmd(argv[1]);
    for (o = c ? c->opts : NULL; o && o->name; o++) {
        for (p = c->opts; p < o && (p->flag || p->val != o->val); p++)
            ;
        if (p == o)
            printf("--%s%s\n", o->name,
                   o->has_arg == required_argument ? "=" : "");
    }
    return 0;
}

/*
 * xlmig --man: the COMMANDS section of xlmig(1) in pandoc's Markdown
 * (scripts/man-page.sh): each row of the table as `xlmig help COMMAND`
 * shows it, its summary first.
 */
static int man(void)
{
    const struct cmd *c;
    size_t i, n;

    for (i = 0; i < CMD_TABLE_LEN; i++) {
        c = &cmd_table[i];
        n = strcspn(c->usage, "\n");
        fputs("## ", stdout);
        xlmig__cli_md_text(stdout, c->name, strlen(c->name));
        fputs("\n\n**xlmig ", stdout);
        xlmig__cli_md_text(stdout, c->name, strlen(c->name));
        fputs("**", stdout);
        if (n) {
            fputc(' ', stdout);
            xlmig__cli_md_text(stdout, c->usage, n);
        }
        fputs("\n\n", stdout);
        xlmig__cli_md_text(stdout, c->summary, strlen(c->summary));
        fputs(".\n\n", stdout);
        if (c->usage[n])
            xlmig__cli_md_help(stdout, c->usage + n + 1);
    }
    return 0;
}

static int cmd_help(int argc, char **argv)
{
    const struct cmd *c;

    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        usage_all(stdout);
        return 0;
    }
    c = find_cmd(argv[1]);
    if (!c) {
        fprintf(stderr, "xlmig: unknown command '%s'\n", argv[1]);
        usage_all(stderr);
        return XLMIG__EXIT_USAGE;
    }
    usage_of(stdout, c);
    return 0;
}

int main(int argc, char **argv)
{
    const struct cmd *c;

    if (argc < 2) {
        usage_all(stderr);
        return XLMIG__EXIT_USAGE;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        usage_all(stdout);
        return 0;
    }
    if (!strcmp(argv[1], "--version"))
        return cmd_version(1, argv);
    if (!strcmp(argv[1], "--complete"))
        return complete(argc - 2, argv + 2);
    if (!strcmp(argv[1], "--man") && argc == 2)
        return man();
    c = find_cmd(argv[1]);
    if (!c) {
        fprintf(stderr, "xlmig: unknown command '%s'\n\n", argv[1]);
        usage_all(stderr);
        return XLMIG__EXIT_USAGE;
    }
    return c->fn(argc - 1, argv + 1);
}

/* SPDX-License-Identifier: LGPL-2.1-only */
/*
 * xlmig-xe: the operator's CLI of libxlmig, in xe's grammar:
 *   xlmig-xe COMMAND key=value ... [--minimal] [params=a,b]
 *
 * Output follows xe: a record is a block of "name ( RO): value" lines;
 * --minimal prints only the selected values, comma-separated; a
 * listing's --json one JSON array of objects (xe_list_*).
 * `xlmig-xe --man` writes the command table, as each command's --help
 * shows it, as the COMMANDS section of xlmig-xe(1)
 * (docs/man/xlmig-xe.1.md).  Exit status: 0 success, 1 the operation
 * failed (the error's stable name comes first on stderr, as xe prints
 * it), 2 bad usage.
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"
#include "xe-args.h"
#include "xe-cmd.h"


/*
 * The fields params= selects from @kv (all of them without params= or
 * with params=all), into @sel (XE_ARGS_PARAMS_MAX + XE_RECORD_FIELDS_MAX
 * entries); an unknown name is said and refused.
 */
static int select_fields(const struct xe_args *a, const struct xlmig__kv *kv,
                         size_t n, const struct xlmig__kv **sel,
                         size_t *nsel_r)
{
    size_t nsel = 0, i, j;

    if (a->nr_params == 1 && !strcmp(a->params[0], "all"))
        goto all;
    for (i = 0; i < a->nr_params; i++) {
        for (j = 0; j < n && strcmp(kv[j].key, a->params[i]); j++)
            ;
        if (j == n) {
            fprintf(stderr, "INVALID_VALUE: unknown field '%s' in params=\n",
                    a->params[i]);
            return LIBXLMIG_ERR_INVALID_ARGUMENT;
        }
        sel[nsel++] = &kv[j];
    }
 all:
    if (!nsel) {
        for (i = 0; i < n && nsel < XE_RECORD_FIELDS_MAX; i++)
            sel[nsel++] = &kv[i];
    }
    *nsel_r = nsel;
    return 0;
}

int xe_print_record(const struct xe_args *a, const struct xlmig__kv *kv,
                    size_t n)
{
    const struct xlmig__kv *sel[XE_ARGS_PARAMS_MAX + XE_RECORD_FIELDS_MAX];
    size_t nsel = 0, i, width = 0;
    int rc;

    rc = select_fields(a, kv, n, sel, &nsel);
    if (rc)
        return rc;
    if (a->minimal) {
        for (i = 0; i < nsel; i++)
            printf("%s%s", i ? "," : "", sel[i]->value);
        printf("\n");
        return 0;
    }
    for (i = 0; i < nsel; i++) {
        if (strlen(sel[i]->key) > width)
            width = strlen(sel[i]->key);
    }
    for (i = 0; i < nsel; i++) {
        if (i == 0)
            printf("%-*s ( RO): %s\n", (int)width, sel[i]->key,
                   sel[i]->value);
        else
            printf("%*s ( RO): %s\n", (int)width, sel[i]->key,
                   sel[i]->value);
    }
    printf("\n");
    return 0;
}

int xe_list_begin(struct xe_list *l, const struct xe_args *a,
                  const char *const *numbers, const char *const *flags)
{
    memset(l, 0, sizeof(*l));
    l->a = a;
    if (a->json && !xlmig__cli_json_begin(&l->json, stdout, numbers, flags))
        return LIBXLMIG_ERR_NO_MEMORY;
    return 0;
}

int xe_list_add(struct xe_list *l, const struct xlmig__kv *kv, size_t n)
{
    const struct xlmig__kv *sel[XE_ARGS_PARAMS_MAX + XE_RECORD_FIELDS_MAX];
    size_t nsel = 0;
    int rc;

    if (!l->a->json)
        return xe_print_record(l->a, kv, n);
    rc = select_fields(l->a, kv, n, sel, &nsel);
    if (rc)
        return rc;
    return xlmig__cli_json_record(&l->json, sel, nsel)
               ? 0 : LIBXLMIG_ERR_INVALID_ARGUMENT;
}

void xe_list_end(struct xe_list *l)
{
    xlmig__cli_json_end(&l->json);
}

static int cmd_host_info(const struct xe_args *a)
{
    libxlmig_ctx *ctx = NULL;
    libxlmig_host_info info;
    struct xlmig__kv kv[XLMIG__HOST_INFO_FIELDS + 1];
    char host[256];
    int rc;
    size_t n;

    rc = libxlmig_ctx_new(NULL, LIBXLMIG_LOG_ERROR, &ctx);
    if (rc) {
        fprintf(stderr, "%s: cannot create a libxlmig context\n",
                libxlmig_strerror_name(rc));
        return XLMIG__EXIT_FAILED;
    }
    rc = libxlmig_host_info_get(ctx, &info);
    if (rc) goto out;           /* the library has said why */

    if (gethostname(host, sizeof(host)) < 0)
        xlmig__strlcpy(host, "unknown", sizeof(host));
    host[sizeof(host) - 1] = '\0';
    kv[0].key = "name-label";
    xlmig__strlcpy(kv[0].value, host, sizeof(kv[0].value));
    n = 1 + xlmig__host_info_fields(&info, kv + 1);
    rc = xe_print_record(a, kv, n);
 out:
    libxlmig_ctx_free(ctx);
    return rc ? XLMIG__EXIT_FAILED : XLMIG__EXIT_OK;
}

static const char *const no_keys[] = { NULL };

static const struct xe_cmd cmd_table[] = {
    { "host-info", cmd_host_info, no_keys,
      "Show this Xen host's facts", false,
      "Show this Xen host's facts as an xe record.\n"
      "  params=a,b   only these fields ('all' for every field)\n"
      "  --minimal    only the values, comma-separated\n"
      "Fields: name-label xen-version xen-major xen-minor xen-capabilities\n"
      "  cpu-vendor nr-cpus cpu-mhz memory-total-kib memory-free-kib\n"
      "  cap-hvm cap-pv cap-hap cap-shadow featureset-host\n"
      "  featureset-pv-max featureset-hvm-max featureset-pv-default\n"
      "  featureset-hvm-default\n"
      "Needs the Xen hypervisor (/dev/xen/privcmd) and root in dom0." },
    XE_CPU_COMMANDS,
    XE_POOL_COMMANDS,
    XE_BATCH_COMMANDS,
    XE_VM_COMMANDS,
    XE_SR_COMMANDS
};

#define CMD_TABLE_LEN (sizeof(cmd_table) / sizeof(cmd_table[0]))

/* What xe's grammar adds to every command's synopsis. */
#define XE_GRAMMAR "[--minimal] [params=a,b]"
#define XE_GRAMMAR_LIST "[--minimal | --json] [params=a,b]"

static const char *grammar(const struct xe_cmd *c)
{
    return c->listing ? XE_GRAMMAR_LIST : XE_GRAMMAR;
}

static void usage_all(FILE *f)
{
    size_t i;

    fprintf(f, "Usage: xlmig-xe COMMAND [key=value ...] " XE_GRAMMAR "\n"
               "       xlmig-xe --version | --help\n\nCommands:\n");
    for (i = 0; i < CMD_TABLE_LEN; i++) {
        /* The longest name (38) gets a line of its own. */
        if (strlen(cmd_table[i].name) > 22)
            fprintf(f, "  %s\n  %-22s %s\n", cmd_table[i].name, "",
                    cmd_table[i].summary);
        else
            fprintf(f, "  %-22s %s\n", cmd_table[i].name,
                    cmd_table[i].summary);
    }
    fprintf(f, "\n'xlmig-xe COMMAND --help' shows a command's arguments; "
               "the listings (*-list)\ntake --json too.\n"
               "'xlmig-xe --complete commands | keys COMMAND | values "
               "COMMAND KEY' list\nthem, and what KEY= may be, for shell "
               "completion (tools/completion/xlmig).\n");
}

/*
 * xlmig-xe --man: the COMMANDS section of xlmig-xe(1) in pandoc's
 * Markdown (scripts/man-page.sh): the commands with their summaries,
 * then each row of the table as `xlmig-xe COMMAND --help` shows it.
 */
static int man(void)
{
    size_t i;

    for (i = 0; i < CMD_TABLE_LEN; i++) {
        fputs("**", stdout);
        xlmig__cli_md_text(stdout, cmd_table[i].name,
                           strlen(cmd_table[i].name));
        fputs("**\n:   ", stdout);
        xlmig__cli_md_text(stdout, cmd_table[i].summary,
                           strlen(cmd_table[i].summary));
        fputs("\n\n", stdout);
    }
    for (i = 0; i < CMD_TABLE_LEN; i++) {
        fputs("## ", stdout);
        xlmig__cli_md_text(stdout, cmd_table[i].name,
                           strlen(cmd_table[i].name));
        fputs("\n\n**xlmig-xe ", stdout);
        xlmig__cli_md_text(stdout, cmd_table[i].name,
                           strlen(cmd_table[i].name));
        fputs("** ", stdout);
        xlmig__cli_md_text(stdout, grammar(&cmd_table[i]),
                           strlen(grammar(&cmd_table[i])));
        fputs("\n\n", stdout);
        xlmig__cli_md_help(stdout, cmd_table[i].help);
    }
    return 0;
}

int main(int argc, char **argv)
{
    const struct xe_cmd *c = NULL;
    struct xe_args a;
    char err[512];
    size_t i;
    int rc;

    if (argc < 2) {
        usage_all(stderr);
        return XLMIG__EXIT_USAGE;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") ||
        !strcmp(argv[1], "help")) {
        usage_all(stdout);
        return 0;
    }
    if (!strcmp(argv[1], "--version")) {
        xlmig__cli_version(stdout, "xlmig-xe");
        return 0;
    }
    if (!strcmp(argv[1], "--complete"))
        return xe_complete(cmd_table, CMD_TABLE_LEN, argc - 2, argv + 2);
    if (!strcmp(argv[1], "--man") && argc == 2)
        return man();
    for (i = 0; i < CMD_TABLE_LEN; i++) {
        if (!strcmp(cmd_table[i].name, argv[1]))
            c = &cmd_table[i];
    }
    if (!c) {
        fprintf(stderr, "UNKNOWN_COMMAND: '%s' is not an xlmig-xe command\n",
                argv[1]);
        usage_all(stderr);
        return XLMIG__EXIT_USAGE;
    }
    rc = xe_args_parse(&a, argc - 2, argv + 2, err, sizeof(err));
    if (!rc)
        rc = xe_args_only(&a, c->keys, err, sizeof(err));
    if (!rc && a.json && !c->listing) {
        snprintf(err, sizeof(err), "--json: only the listings (*-list) "
                 "take it, not %s", c->name);
        rc = LIBXLMIG_ERR_INVALID_ARGUMENT;
    }
    if (rc) {
        fprintf(stderr, "%s: %s\nSee 'xlmig-xe %s --help'.\n",
                libxlmig_strerror_name(rc), err, c->name);
        xe_args_dispose(&a);
        return XLMIG__EXIT_USAGE;
    }
    if (a.help) {
        printf("Usage: xlmig-xe %s %s\n\n%s\n", c->name, grammar(c),
               c->help);
        rc = 0;
    } else {
        rc = c->fn(&a);
    }
    xe_args_dispose(&a);
    return rc;
}

/*
 * The CLIs as an operator meets them on a machine without Xen: help,
 * usage errors, and the clear "no hypervisor" error.  Runs the binaries
 * named by XLMIG_BIN and XLMIG_XE_BIN (the sanitizer builds).
 */
#include <stdlib.h>
#include <sys/wait.h>

#include "testutil.h"

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
    };

    (void)state;
    run_cases("XLMIG_XE_BIN", "xlmig-xe", cases,
              sizeof(cases) / sizeof(cases[0]));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_xlmig),
        cmocka_unit_test(test_xlmig_xe),
    };

    return cmocka_run_group_tests_name("cli", tests, NULL, NULL);
}

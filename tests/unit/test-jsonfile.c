/* SPDX-License-Identifier: LGPL-2.1-only */
/*
 * The state directory's files (libxlmig/jsonfile.c): STATE/SUB named,
 * and made with its parent when asked; a path too long and a file in
 * the way refused, naming what they are.
 */
#include <stdlib.h>
#include <sys/stat.h>

#include "jsonfile.h"
#include "testctx.h"
#include "testfs.h"
#include "testutil.h"

static const struct xlmig__json_kind kind = {
    .what = "test record",
    .a_what = "a test record",
    .invalid_rc = LIBXLMIG_ERR_RECORD_INVALID,
    .max_bytes = 1024,
    .depth_max = 4,
    .dir_before = "the test records' directory ",
    .dir_after = "",
    .dir_role = "the test records",
};

static bool is_dir(const char *path)
{
    struct stat st;

    return !stat(path, &st) && S_ISDIR(st.st_mode);
}

static void test_state_subdir(void **state)
{
    char dir[512], longer[600];

    (void)state;
    /* Named only. */
    assert_int_equal(xlmig__state_subdir(ctx, &kind, at("state"), "vm",
                                         false, dir, sizeof(dir)), 0);
    assert_string_equal(dir, at("state/vm"));
    assert_false(is_dir(at("state")));
    /* Made, with STATE. */
    assert_int_equal(xlmig__state_subdir(ctx, &kind, at("state"), "vm",
                                         true, dir, sizeof(dir)), 0);
    assert_true(is_dir(at("state")) && is_dir(at("state/vm")));
    /* Again: there already. */
    assert_int_equal(xlmig__state_subdir(ctx, &kind, at("state"), "vm",
                                         true, dir, sizeof(dir)), 0);
    /* Too long for @dir. */
    reset_log();
    assert_int_equal(xlmig__state_subdir(ctx, &kind, at("state"), "vm",
                                         false, dir, 8),
                     LIBXLMIG_ERR_INVALID_ARGUMENT);
    assert_contains(libxlmig_ctx_last_error(ctx), "path too long");
    /* A file in the way. */
    write_file(at("state/migrate"), "x", 1);
    reset_log();
    assert_int_equal(xlmig__state_subdir(ctx, &kind, at("state"), "migrate",
                                         true, dir, sizeof(dir)),
                     LIBXLMIG_ERR_IO);
    assert_contains(libxlmig_ctx_last_error(ctx),
                    "is in the way of the test records");
    /* $XLMIG_STATE_DIR when none is given. */
    snprintf(longer, sizeof(longer), "%s", at("env"));
    setenv("XLMIG_STATE_DIR", longer, 1);
    assert_int_equal(xlmig__state_subdir(ctx, &kind, NULL, "sxm", true,
                                         dir, sizeof(dir)), 0);
    assert_string_equal(dir, at("env/sxm"));
    assert_true(is_dir(at("env/sxm")));
    unsetenv("XLMIG_STATE_DIR");
}

static int dir_setup(void **state)
{
    (void)state;
    return testfs_dir_setup("test-jsonfile");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_state_subdir, dir_setup,
                                        dir_teardown),
    };

    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}

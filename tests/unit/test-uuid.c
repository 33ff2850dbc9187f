/* SPDX-License-Identifier: LGPL-2.1-only */
/*
 * UUIDs (libxlmig/uuid.c): made (version 4, lowercase, each new), the
 * one check with its case rules (lowercase, either case, "" too), record
 * file names, the walk over such names, and the listing of a directory of
 * UUID.json records (other names passed over, the cap, a missing
 * directory, a failing load, the order).
 */
#include <stdint.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"
#include "testctx.h"
#include "testfs.h"
#include "testutil.h"
#include "uuid.h"

#define U1 "0f5e2b1c-6a1f-4c3e-9b7a-0e1f2a3b4c5d"
#define U2 "1d5e2b1c-6a1f-4c3e-9b7a-0e1f2a3b4c5d"
#define U3 "2d5e2b1c-6a1f-4c3e-9b7a-0e1f2a3b4c5d"

static void test_generate(void **state)
{
    char a[XLMIG__UUID_LEN + 1], b[XLMIG__UUID_LEN + 1];

    (void)state;
    assert_ok(xlmig__uuid_generate(ctx, a));
    assert_ok(xlmig__uuid_generate(ctx, b));
    assert_true(xlmig__uuid_ok(a));
    assert_string_not_equal(a, b);
    assert_int_equal(a[14], '4');
    assert_true(strchr("89ab", a[19]) != NULL);
}

static void test_forms(void **state)
{
    /* What each case rule takes: lowercase, either case, "" too. */
    static const struct { const char *s; bool lower, any, any_empty; }
    cases[] = {
        { U1, true, true, true },
        { "2D5E2B1C-6A1F-4C3E-9B7A-0E1F2A3B4C5D", false, true, true },
        { "2d5E2b1c-6a1f-4c3e-9b7a-0e1f2a3b4c5d", false, true, true },
        { "2d5e2b1c-6a1f-4c3e-9b7a-0e1f2a3b4c5", false, false, false },
        { "2d5e2b1c-6a1f-4c3e-9b7a-0e1f2a3b4c5dd", false, false, false },
        { "2d5e2b1c-6a1f-4c3e-9b7a-0e1f2a3b4c5g", false, false, false },
        { "2d5e2b1c-6a1f-4c3e-9b7a-0e1f2a3b4c5G", false, false, false },
        { "2d5e2b1c06a1f-4c3e-9b7a-0e1f2a3b4c5d", false, false, false },
        { "2d5e2b1c-6a1f-4c3e-9b7a-0e1f2a3b4c-d", false, false, false },
        { "../../../../etc/passwd-aaaaaaaaaaaaa", false, false, false },
        { " 2d5e2b1c-6a1f-4c3e-9b7a-0e1f2a3b4c5d", false, false, false },
        { "", false, false, true },
    };
    const unsigned any = XLMIG__UUID_ANY_CASE;
    const unsigned any_empty = XLMIG__UUID_ANY_CASE | XLMIG__UUID_EMPTY_OK;
    size_t i;

    (void)state;
    for (i = 0; i < ARRAY_LEN(cases); i++) {
        if (xlmig__uuid_ok(cases[i].s) != cases[i].lower ||
            xlmig__uuid_valid(cases[i].s, 0) != cases[i].lower ||
            xlmig__uuid_valid(cases[i].s, any) != cases[i].any ||
            xlmig__uuid_valid(cases[i].s, any_empty) != cases[i].any_empty)
            fail_msg("\"%s\"", cases[i].s);
    }
    /* "" with the lowercase rule and "" allowed. */
    assert_true(xlmig__uuid_valid("", XLMIG__UUID_EMPTY_OK));
    assert_false(xlmig__uuid_valid("2D5E2B1C-6A1F-4C3E-9B7A-0E1F2A3B4C5D",
                                   XLMIG__UUID_EMPTY_OK));
    assert_false(xlmig__uuid_ok(NULL));
    assert_false(xlmig__uuid_valid(NULL, any_empty));
}

static void test_file_name(void **state)
{
    static const struct { const char *name, *suffix; bool ok; } cases[] = {
        { U1 ".json", ".json", true },
        { U1 ".lease", ".lease", true },
        { U1 ".json", ".lease", false },
        { U1 ".json.tmp.123", ".json", false },
        { U1, ".json", false },
        { ".json", ".json", false },
        { "2D5E2B1C-6A1F-4C3E-9B7A-0E1F2A3B4C5D.json", ".json", false },
        { "x" U1 ".json", ".json", false },
        { "web1.json", ".json", false },
    };
    char uuid[XLMIG__UUID_LEN + 1];
    size_t i;

    (void)state;
    for (i = 0; i < ARRAY_LEN(cases); i++) {
        strcpy(uuid, "untouched");
        if (xlmig__uuid_file_name(cases[i].name, cases[i].suffix, uuid) !=
            cases[i].ok)
            fail_msg("\"%s\" with \"%s\"", cases[i].name, cases[i].suffix);
        assert_string_equal(uuid, cases[i].ok ? U1 : "untouched");
    }
}

struct rec {
    char uuid[XLMIG__UUID_LEN + 1];
    int n;
};

/* Fails for @opaque's uuid, when given. */
static int load_rec(libxlmig_ctx *c, void *opaque, const char *uuid,
                    void *r)
{
    struct rec *rec = r;

    if (opaque && !strcmp(opaque, uuid))
        return xlmig__error(c, LIBXLMIG_ERR_RECORD_INVALID, -1,
                            "record %s is bad", uuid);
    strcpy(rec->uuid, uuid);
    rec->n = 7;
    return 0;
}

static int rec_cmp(const void *a, const void *b)
{
    return strcmp(((const struct rec *)a)->uuid,
                  ((const struct rec *)b)->uuid);
}

static void test_records(void **state)
{
    static const char *const files[] = {
        U3 ".json", U1 ".json", U2 ".json", U1 ".json.tmp.77",
        "web1.json", "2D5E2B1C-6A1F-4C3E-9B7A-0E1F2A3B4C5D.json",
        U2 ".lease",
    };
    struct rec *recs;
    void *v;
    size_t nr, i;

    (void)state;
    /* A missing directory holds none. */
    v = (void *)1;
    nr = 9;
    assert_ok(xlmig__uuid_records(ctx, at("none"), sizeof(struct rec), 10,
                                  load_rec, NULL, rec_cmp, &v, &nr));
    assert_null(v);
    assert_int_equal(nr, 0);

    for (i = 0; i < ARRAY_LEN(files); i++)
        write_file(at(files[i]), "{}", 2);
    assert_ok(xlmig__uuid_records(ctx, tmpdir, sizeof(struct rec), 10,
                                  load_rec, NULL, rec_cmp, &v, &nr));
    recs = v;
    assert_int_equal(nr, 3);
    assert_string_equal(recs[0].uuid, U1);
    assert_string_equal(recs[1].uuid, U2);
    assert_string_equal(recs[2].uuid, U3);
    assert_int_equal(recs[2].n, 7);
    free(recs);

    /* The walk under it: only UUID.json, then the end. */
    {
        DIR *d = opendir(tmpdir);
        char uuid[XLMIG__UUID_LEN + 1];
        int n = 0, r;

        assert_non_null(d);
        while ((r = xlmig__uuid_dir_next(d, ".json", uuid)) > 0) {
            assert_true(!strcmp(uuid, U1) || !strcmp(uuid, U2) ||
                        !strcmp(uuid, U3));
            n++;
        }
        assert_int_equal(r, 0);
        assert_int_equal(n, 3);
        rewinddir(d);
        assert_int_equal(xlmig__uuid_dir_next(d, ".lease", uuid), 1);
        assert_string_equal(uuid, U2);
        assert_int_equal(xlmig__uuid_dir_next(d, ".lease", uuid), 0);
        closedir(d);
    }

    /* The cap: those past it are passed over. */
    assert_ok(xlmig__uuid_records(ctx, tmpdir, sizeof(struct rec), 2,
                                  load_rec, NULL, rec_cmp, &v, &nr));
    assert_int_equal(nr, 2);
    free(v);

    /* One bad record fails the listing, and nothing is returned. */
    reset_log();
    v = (void *)1;
    assert_int_equal(xlmig__uuid_records(ctx, tmpdir, sizeof(struct rec), 10,
                                         load_rec, (void *)U2, rec_cmp, &v,
                                         &nr),
                     LIBXLMIG_ERR_RECORD_INVALID);
    assert_null(v);
    assert_int_equal(nr, 0);
    assert_contains(cap.text, "record " U2 " is bad");

    /* Not a directory. */
    reset_log();
    assert_int_equal(xlmig__uuid_records(ctx, at(U1 ".json"),
                                         sizeof(struct rec), 10, load_rec,
                                         NULL, NULL, &v, &nr),
                     LIBXLMIG_ERR_IO);
    assert_contains(cap.text, "cannot read");
}

/* Removes @opaque's uuid's file, as a writer pruning it between the
 * listing's readdir() and its read does, and fails to find it; with
 * "keep" in front of the uuid, fails to find a file that is still there. */
static int load_gone(libxlmig_ctx *c, void *opaque, const char *uuid,
                     void *r)
{
    const char *gone = opaque;
    bool keep = !strncmp(gone, "keep", 4);

    if (!strcmp(keep ? gone + 4 : gone, uuid)) {
        char name[64];

        snprintf(name, sizeof(name), "%s.json", uuid);
        if (!keep)
            assert_int_equal(unlink(at(name)), 0);
        return xlmig__error(c, LIBXLMIG_ERR_NOT_FOUND, -1, "no %s", uuid);
    }
    return load_rec(c, NULL, uuid, r);
}

/* A record removed while the directory is listed is left out; one the
 * loader cannot find although it is there still fails the listing. */
static void test_records_removed_meanwhile(void **state)
{
    struct rec *recs;
    void *v;
    size_t nr;

    (void)state;
    write_file(at(U1 ".json"), "{}", 2);
    write_file(at(U2 ".json"), "{}", 2);
    write_file(at(U3 ".json"), "{}", 2);
    assert_ok(xlmig__uuid_records(ctx, tmpdir, sizeof(struct rec), 10,
                                  load_gone, (void *)U2, rec_cmp, &v, &nr));
    recs = v;
    assert_int_equal(nr, 2);
    assert_string_equal(recs[0].uuid, U1);
    assert_string_equal(recs[1].uuid, U3);
    free(recs);

    assert_int_equal(xlmig__uuid_records(ctx, tmpdir, sizeof(struct rec), 10,
                                         load_gone, (void *)("keep" U3),
                                         rec_cmp, &v, &nr),
                     LIBXLMIG_ERR_NOT_FOUND);
    assert_int_equal(nr, 0);
}

/* More records than one growth step, unsorted (the directory's order). */
static void test_records_many(void **state)
{
    char name[64], uuid[XLMIG__UUID_LEN + 1];
    struct rec *recs;
    void *v;
    size_t nr, i, j;

    (void)state;
    for (i = 0; i < 40; i++) {
        assert_ok(xlmig__uuid_generate(ctx, uuid));
        snprintf(name, sizeof(name), "%s.json", uuid);
        write_file(at(name), "{}", 2);
    }
    assert_ok(xlmig__uuid_records(ctx, tmpdir, sizeof(struct rec), 1000,
                                  load_rec, NULL, NULL, &v, &nr));
    recs = v;
    assert_int_equal(nr, 40);
    for (i = 0; i < nr; i++) {
        assert_true(xlmig__uuid_ok(recs[i].uuid));
        for (j = 0; j < i; j++)
            assert_string_not_equal(recs[i].uuid, recs[j].uuid);
    }
    free(recs);
}

static int dir_setup(void **state)
{
    (void)state;
    return testfs_dir_setup("test-uuid");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_generate),
        cmocka_unit_test(test_forms),
        cmocka_unit_test(test_file_name),
        cmocka_unit_test_setup_teardown(test_records, dir_setup,
                                        dir_teardown),
        cmocka_unit_test_setup_teardown(test_records_many, dir_setup,
                                        dir_teardown),
        cmocka_unit_test_setup_teardown(test_records_removed_meanwhile,
                                        dir_setup, dir_teardown),
    };

    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}

/* SPDX-License-Identifier: LGPL-2.1-only */
/*
 * What the hypervisor tables share (libxlmig/hv.c): find() by name,
 * uuid or domid over a table's list(), its refusals, and the domain
 * states' names.
 */
#include <stdlib.h>

#include "hv.h"
#include "testutil.h"

static int list_rc;

/* Three domains, or list_rc. */
static int list3(struct xlmig__hv *h, struct xlmig__dom **doms_r,
                 size_t *nr_r)
{
    static const struct xlmig__dom doms[] = {
        { .domid = 3, .name = "web1",
          .uuid = "0f5e2b1c-6a1f-4c3e-9b7a-0e1f2a3b4c5d" },
        { .domid = 7, .name = "12",
          .uuid = "1d5e2b1c-6a1f-4c3e-9b7a-0e1f2a3b4c5d" },
        { .domid = 12, .name = "db",
          .uuid = "2d5e2b1c-6a1f-4c3e-9b7a-0e1f2a3b4c5d" },
    };

    (void)h;
    if (list_rc)
        return list_rc;
    *doms_r = malloc(sizeof(doms));
    assert_non_null(*doms_r);
    memcpy(*doms_r, doms, sizeof(doms));
    *nr_r = 3;
    return 0;
}

static void test_find_listed(void **state)
{
    static const struct { const char *which; int domid; } cases[] = {
        { "web1", 3 }, { "db", 12 },
        { "1d5e2b1c-6a1f-4c3e-9b7a-0e1f2a3b4c5d", 7 },
        { "3", 3 },
        { "12", 7 },            /* a name first: domain 7 is named "12" */
        { "web", -1 }, { "", -1 }, { "03", -1 }, { "4", -1 },
        { "0F5E2B1C-6A1F-4C3E-9B7A-0E1F2A3B4C5D", -1 },
    };
    struct xlmig__dom d;
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int rc;

        d.domid = 999;
        rc = xlmig__hv_find_listed(NULL, list3, cases[i].which, &d);
        if (cases[i].domid < 0) {
            assert_int_equal(rc, LIBXLMIG_ERR_NOT_FOUND);
            assert_int_equal(d.domid, 999);
        } else {
            if (rc)
                fail_msg("\"%s\" not found", cases[i].which);
            assert_int_equal(d.domid, cases[i].domid);
        }
    }
    list_rc = LIBXLMIG_ERR_NO_HYPERVISOR;
    assert_int_equal(xlmig__hv_find_listed(NULL, list3, "web1", &d),
                     LIBXLMIG_ERR_NO_HYPERVISOR);
    list_rc = 0;
}

static void test_state_names(void **state)
{
    (void)state;
    assert_string_equal(xlmig__dom_state_name(XLMIG__DOM_RUNNING),
                        "running");
    assert_string_equal(xlmig__dom_state_name(XLMIG__DOM_DYING), "dying");
    assert_string_equal(xlmig__dom_state_name((enum xlmig__dom_state)99),
                        "?");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_find_listed),
        cmocka_unit_test(test_state_names),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}

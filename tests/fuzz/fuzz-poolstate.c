/* SPDX-License-Identifier: LGPL-2.1-only */
/*
 * Fuzz target for the pool state decoder (libxlmig/poolstate.c), which
 * reads STATE/pool.json at every start of the pool master's daemon.
 * Decodes the bytes without a context into a state that holds something
 * already.  A refusal must be POOL_STATE_INVALID and leave that state
 * untouched; whatever decodes must pass the state check, encode, decode
 * again to an equal state, and survive the param, member (with its
 * enabled flag) and task helpers.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "poolstate.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A state with a member and a task, so that replacing it frees them. */
static void prefill(struct xlmig__pool_state *st)
{
    struct xlmig__pool_task t;

    xlmig__pool_state_init(st);
    memset(&t, 0, sizeof(t));
    t.id = 1;
    strcpy(t.vm, "v");
    strcpy(t.source, "a");
    strcpy(t.destination, "b");
    strcpy(t.phase, "queued");
    if (xlmig__pool_member_add(NULL, st, "a", "a:1", 0) ||
        xlmig__pool_task_add(NULL, st, &t))
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct xlmig__pool_state st, before, back, copy;
    char *text = NULL, buf[XLMIG__POOL_PARAM_VALUE_MAX];
    size_t len = 0, i;
    int rc;

    prefill(&st);
    before = st;
    rc = xlmig__pool_state_decode(NULL, "fuzz", data, size, &st);
    if (rc) {
        if (rc != LIBXLMIG_ERR_POOL_STATE_INVALID ||
            memcmp(&st, &before, sizeof(st)))
            abort();
        xlmig__pool_state_dispose(&st);
        return 0;
    }
    if (xlmig__pool_state_check(NULL, &st))
        abort();
    if (xlmig__pool_state_encode(&st, &text, &len) || len != strlen(text) ||
        len > XLMIG__POOL_STATE_FILE_MAX)
        abort();
    xlmig__pool_state_init(&back);
    if (xlmig__pool_state_decode(NULL, "again", (const uint8_t *)text, len,
                                 &back) ||
        !xlmig__pool_state_equal(&st, &back))
        abort();
    free(text);

    /* Parameters read back as they are set. */
    for (i = 0; xlmig__pool_param_name(i); i++) {
        if (xlmig__pool_param_get(NULL, &st, xlmig__pool_param_name(i), buf,
                                  sizeof(buf)) ||
            xlmig__pool_param_set(NULL, &back, xlmig__pool_param_name(i),
                                  buf))
            abort();
    }
    if (!xlmig__pool_state_equal(&st, &back))
        abort();

    /* Every member and task can be found, removed and added again. */
    xlmig__pool_state_init(&copy);
    if (xlmig__pool_state_copy(NULL, &copy, &st))
        abort();
    for (i = 0; i < st.nr_members; i++) {
        struct xlmig__pool_member m = st.members[i];
        bool changed = false;

        if (xlmig__pool_member_find(&copy, m.name) == NULL ||
            xlmig__pool_member_add(NULL, &copy, m.name, m.address,
                                   m.joined) != LIBXLMIG_ERR_INVALID_ARGUMENT ||
            xlmig__pool_member_remove(NULL, &copy, m.name) ||
            xlmig__pool_member_add(NULL, &copy, m.name, m.address, m.joined) ||
            !xlmig__pool_member_find(&copy, m.name)->enabled)
            abort();
        /* Added enabled: the other value is a change only for an enabled
         * one; back to the file's is always one. */
        if (xlmig__pool_member_set_enabled(NULL, &copy, m.name, !m.enabled,
                                           &changed) || changed != m.enabled ||
            xlmig__pool_member_set_enabled(NULL, &copy, m.name, m.enabled,
                                           &changed) || !changed)
            abort();
    }
    for (i = 0; i < st.nr_tasks; i++) {
        struct xlmig__pool_task t = st.tasks[i];

        if (xlmig__pool_task_find(&copy, t.id) == NULL ||
            xlmig__pool_task_add(NULL, &copy, &t) !=
                LIBXLMIG_ERR_INVALID_ARGUMENT ||
            xlmig__pool_task_remove(NULL, &copy, t.id) ||
            xlmig__pool_task_add(NULL, &copy, &t))
            abort();
    }
    /* Removed and added again in order: the same state. */
    if (!xlmig__pool_state_equal(&st, &copy))
        abort();
    xlmig__pool_state_dispose(&copy);
    xlmig__pool_state_dispose(&back);
    xlmig__pool_state_dispose(&st);
    return 0;
}

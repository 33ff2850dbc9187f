/* SPDX-License-Identifier: LGPL-2.1-only */
/*
 * Fuzz target for the decoder of a pool state's parts
 * (xlmig__pool_part_decode(), libxlmig/poolstate.c), which reads every
 * key of a pool on etcd: whatever any host, or anyone with access to the
 * cluster, wrote there.  The first byte picks the part (head, host,
 * migration), the rest is the key's value, decoded into a state that
 * holds a host and a migration already.  A refusal must be
 * POOL_STATE_INVALID and leave that state untouched; a part that
 * decodes must leave a state that passes the check, and encode to a part
 * that decodes again to the same state.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "poolstate.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

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
    struct xlmig__pool_state st, before, back;
    enum xlmig__pool_part part;
    char *text = NULL;
    size_t len = 0, i = 0;
    int rc;

    if (!size)
        return 0;
    part = (enum xlmig__pool_part)(data[0] % 3);
    prefill(&st);
    before = st;
    rc = xlmig__pool_part_decode(NULL, "fuzz", part, data + 1, size - 1,
                                 &st);
    if (rc) {
        if (rc != LIBXLMIG_ERR_POOL_STATE_INVALID ||
            memcmp(&st, &before, sizeof(st)))
            abort();
        xlmig__pool_state_dispose(&st);
        return 0;
    }
    if (xlmig__pool_state_check(NULL, &st))
        abort();
    if (part == XLMIG__POOL_PART_MEMBER) {
        if (st.nr_members != 2)
            abort();
        i = 1;
    } else if (part == XLMIG__POOL_PART_TASK) {
        if (st.nr_tasks != 2)
            abort();
        i = 1;
    }
    if (xlmig__pool_part_encode(&st, part, i, &text, &len) ||
        len != strlen(text))
        abort();
    prefill(&back);
    if (xlmig__pool_part_decode(NULL, "again", part, (const uint8_t *)text,
                                len, &back) ||
        !xlmig__pool_state_equal(&st, &back))
        abort();
    free(text);
    xlmig__pool_state_dispose(&back);
    xlmig__pool_state_dispose(&st);
    return 0;
}

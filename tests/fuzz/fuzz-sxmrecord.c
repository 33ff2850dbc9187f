/* SPDX-License-Identifier: LGPL-2.1-only */
/*
 * Fuzz target for the storage motion record decoder (sxm-record.c):
 * records are read back after a crash from a state directory, and the
 * addresses in them decide where we connect.  Whatever decodes must
 * encode and decode again to the same record, with a valid phase and
 * address; a refusal must leave the output untouched.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sxm.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char buf[XLMIG__SXM_RECORD_MAX];
    struct xlmig__sxm_record r, back, before;
    size_t len;

    memset(&r, 0xa5, sizeof(r));
    before = r;
    if (xlmig__sxm_record_decode(NULL, "fuzz", data, size, &r)) {
        if (memcmp(&r, &before, sizeof(r)))
            abort();
        return 0;
    }
    if (!xlmig__sxm_phase_name(r.phase) || !xlmig__uuid_ok(r.task))
        abort();
    if (xlmig__sxm_addr_check(NULL, r.role == XLMIG__SXM_DST ? r.listen
                                                            : r.dest))
        abort();
    if (xlmig__sxm_record_encode(&r, buf, sizeof(buf), &len) ||
        len != strlen(buf))
        abort();
    memset(&back, 0, sizeof(back));
    if (xlmig__sxm_record_decode(NULL, "again", (const uint8_t *)buf, len,
                                 &back) ||
        memcmp(&r, &back, sizeof(r)))
        abort();
    return 0;
}

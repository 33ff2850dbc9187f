/* SPDX-License-Identifier: LGPL-2.1-only */
/*
 * Fuzz target for the migration journal decoder
 * (libxlmig/migrate-record.c): journals are read back after a crash, and
 * what they say decides whether a migration is finished or undone.  A
 * refusal must leave the output untouched.  Whatever decodes must hold
 * the journal's rules (a task uuid, known names, counts and lengths within
 * their caps, uuids or "" where uuids go, lower-case MACs) and must encode
 * and decode again to the same record.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "migrate.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_uuid_or_empty(const char *s)
{
    if (s[0] && !xlmig__uuid_ok(s))
        abort();
}

static void check_rules(const struct xlmig__mig_record *r)
{
    char mac[XLMIG__MAC_LEN + 1];
    size_t i;

    if (!xlmig__uuid_ok(r->task) || !xlmig__mig_phase_name(r->phase) ||
        !xlmig__mig_state_name(r->state) ||
        (r->role != XLMIG__MIG_SRC && r->role != XLMIG__MIG_DST) ||
        r->nr_vdis > XLMIG__MIG_VDIS_MAX || r->nr_nics > XLMIG__MIG_NICS_MAX ||
        r->progress > 100 || r->worker_pid < 0 || r->started < 0 ||
        r->ended < 0)
        abort();
    check_uuid_or_empty(r->vm_uuid);
    for (i = 0; i < r->nr_vdis; i++) {
        const struct xlmig__mig_vdi *v = &r->vdis[i];

        check_uuid_or_empty(v->vdi);
        check_uuid_or_empty(v->sr);
        check_uuid_or_empty(v->dst_task);
        check_uuid_or_empty(v->dst_vdi);
        if (v->format[0] && strcmp(v->format, "qcow2") &&
            strcmp(v->format, "raw"))
            abort();
    }
    for (i = 0; i < r->nr_nics; i++) {
        if (!xlmig__mac_parse(r->nics[i].mac, mac) ||
            strcmp(mac, r->nics[i].mac))
            abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct xlmig__mig_record r, before, first, back;
    static char buf[XLMIG__MIG_RECORD_MAX];
    size_t len = 0;

    memset(&r, 0xa5, sizeof(r));
    before = r;
    if (xlmig__mig_record_decode(NULL, "fuzz", data, size, &r)) {
        if (memcmp(&r, &before, sizeof(r)))
            abort();
        return 0;
    }
    check_rules(&r);

    /* Zeroed first, so that the two may be compared byte for byte. */
    memset(&first, 0, sizeof(first));
    memset(&back, 0, sizeof(back));
    if (xlmig__mig_record_decode(NULL, "fuzz", data, size, &first) ||
        xlmig__mig_record_encode(&first, buf, sizeof(buf), &len) ||
        len != strlen(buf) ||
        xlmig__mig_record_decode(NULL, "again", (const uint8_t *)buf, len,
                                 &back) ||
        memcmp(&first, &back, sizeof(first)))
        abort();
    return 0;
}

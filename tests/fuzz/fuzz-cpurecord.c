/* SPDX-License-Identifier: LGPL-2.1-only */
/*
 * Fuzz target for the CPU record decoders (libxlmig/cpurecord.c), which
 * read files that may come from another host (`xlmig-xe
 * host-cpu-import`).  Feeds the bytes to both decoders without a
 * context.  Whatever decodes must be a record the encoder takes and that
 * decodes again to the same record (names, uuid, type, vendor, every
 * featureset word, the time); a refusal must be CPU_RECORD_INVALID and
 * leave the output untouched.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cpurecord.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_fs(const libxlmig_featureset *a,
                     const libxlmig_featureset *b)
{
    if (a->nr_words != b->nr_words ||
        a->nr_words > LIBXLMIG_FEATURESET_MAX_WORDS ||
        memcmp(a->words, b->words, sizeof(a->words[0]) * a->nr_words))
        abort();
}

static void check_name(const char *name)
{
    size_t n = strnlen(name, XLMIG__RECORD_NAME_MAX + 1);

    if (n < 1 || n > XLMIG__RECORD_NAME_MAX ||
        xlmig__name_check(NULL, "name", name))
        abort();
}

static void fuzz_host(const uint8_t *data, size_t size)
{
    static char buf[XLMIG__RECORD_FILE_MAX + 1];
    struct xlmig__host_record r, back, before;
    size_t len;
    int rc;

    memset(&r, 0xa5, sizeof(r));
    before = r;
    rc = xlmig__host_record_decode(NULL, "fuzz", data, size, &r);
    if (rc) {
        if (rc != LIBXLMIG_ERR_RECORD_INVALID ||
            memcmp(&r, &before, sizeof(r)))
            abort();
        return;
    }
    check_name(r.name);
    if (!libxlmig_cpu_vendor_string(r.vendor) || r.recorded < 0)
        abort();
    if (xlmig__host_record_encode(&r, buf, sizeof(buf), &len) ||
        len != strlen(buf))
        abort();
    if (xlmig__host_record_decode(NULL, "again", (const uint8_t *)buf, len,
                                  &back))
        abort();
    if (strcmp(r.name, back.name) || r.vendor != back.vendor ||
        r.recorded != back.recorded)
        abort();
    check_fs(&r.pv_max, &back.pv_max);
    check_fs(&r.hvm_max, &back.hvm_max);
}

static void fuzz_vm(const uint8_t *data, size_t size)
{
    static char buf[XLMIG__RECORD_FILE_MAX + 1];
    struct xlmig__vm_record r, back, before;
    size_t len;
    int rc;

    memset(&r, 0xa5, sizeof(r));
    before = r;
    rc = xlmig__vm_record_decode(NULL, "fuzz", data, size, &r);
    if (rc) {
        if (rc != LIBXLMIG_ERR_RECORD_INVALID ||
            memcmp(&r, &before, sizeof(r)))
            abort();
        return;
    }
    check_name(r.name);
    check_name(r.host);
    if (!libxlmig_cpu_vendor_string(r.cpu.vendor) || r.recorded < 0 ||
        (r.type != LIBXLMIG_GUEST_PV && r.type != LIBXLMIG_GUEST_HVM) ||
        (r.uuid[0] && strlen(r.uuid) != 36))
        abort();
    if (xlmig__vm_record_encode(&r, buf, sizeof(buf), &len) ||
        len != strlen(buf))
        abort();
    if (xlmig__vm_record_decode(NULL, "again", (const uint8_t *)buf, len,
                                &back))
        abort();
    if (strcmp(r.name, back.name) || strcmp(r.uuid, back.uuid) ||
        r.type != back.type || r.cpu.vendor != back.cpu.vendor ||
        strcmp(r.host, back.host) || r.recorded != back.recorded)
        abort();
    check_fs(&r.cpu.features, &back.cpu.features);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_host(data, size);
    fuzz_vm(data, size);
    return 0;
}

/* SPDX-License-Identifier: LGPL-2.1-only */
/*
 * Fuzz target for the SR and VDI metadata decoders and the qemu-img info
 * decoder (libxlmig/sr.c), which read files in SR directories that may
 * have been written by anyone with access to them, and qemu-img's output
 * about guest-written images.  Feeds the bytes to each decoder without a
 * context.  Whatever decodes must encode and decode again to the same
 * SR or VDI (its VBDs too: at most 16, valid VM names and devices, one
 * per VM, the unused entries zero); a refusal must leave the output
 * untouched.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sr.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fuzz_sr(const uint8_t *data, size_t size)
{
    static char buf[XLMIG__SR_FILE_MAX + 1];
    struct xlmig__sr r, back, before;
    size_t len;

    memset(&r, 0xa5, sizeof(r));
    before = r;
    if (xlmig__sr_decode(NULL, "fuzz", data, size, &r)) {
        if (memcmp(&r, &before, sizeof(r)))
            abort();
        return;
    }
    if (!xlmig__uuid_ok(r.uuid) || xlmig__sr_path_check(NULL, r.path) ||
        (r.caps & ~XLMIG__SR_CAPS_ALL))
        abort();
    if (xlmig__sr_encode(&r, buf, sizeof(buf), &len) || len != strlen(buf))
        abort();
    memset(&back, 0, sizeof(back));
    if (xlmig__sr_decode(NULL, "again", (const uint8_t *)buf, len, &back) ||
        memcmp(&r, &back, sizeof(r)))
        abort();
}

static void fuzz_vdi(const uint8_t *data, size_t size)
{
    static char buf[XLMIG__SR_FILE_MAX + 1];
    static const struct xlmig__vbd zero;
    struct xlmig__vdi v, back, before;
    unsigned int i, j;
    size_t len;

    memset(&v, 0xa5, sizeof(v));
    before = v;
    if (xlmig__vdi_decode(NULL, "fuzz", data, size, &v)) {
        if (memcmp(&v, &before, sizeof(v)))
            abort();
        return;
    }
    if (!xlmig__uuid_ok(v.uuid) || !xlmig__uuid_ok(v.sr_uuid) ||
        v.virtual_size < 1 || v.virtual_size > XLMIG__VDI_SIZE_MAX ||
        v.nr_vbds > XLMIG__VDI_VBDS_MAX)
        abort();
    for (i = 0; i < XLMIG__VDI_VBDS_MAX; i++) {
        const struct xlmig__vbd *b = &v.vbds[i];

        if (i >= v.nr_vbds) {
            if (memcmp(b, &zero, sizeof(zero)))
                abort();
            continue;
        }
        if (!xlmig__vbd_device_ok(b->device) || !b->vm[0] ||
            !memchr(b->vm, '\0', sizeof(b->vm)) ||
            xlmig__vdi_other_vm(&v, NULL, NULL) != v.vbds[0].vm)
            abort();
        for (j = 0; j < i; j++) {
            if (!strcmp(v.vbds[j].vm, b->vm))
                abort();
        }
    }
    if (xlmig__vdi_encode(&v, buf, sizeof(buf), &len) || len != strlen(buf))
        abort();
    memset(&back, 0, sizeof(back));
    if (xlmig__vdi_decode(NULL, "again", (const uint8_t *)buf, len, &back) ||
        memcmp(&v, &back, sizeof(v)))
        abort();
}

static void fuzz_info(const uint8_t *data, size_t size)
{
    uint64_t virt = 7, phys = 9;

    if (xlmig__qemu_img_info_decode(NULL, "fuzz", data, size, &virt,
                                    &phys)) {
        if (virt != 7 || phys != 9)
            abort();
        return;
    }
    if (virt > (uint64_t)INT64_MAX || phys > (uint64_t)INT64_MAX)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_sr(data, size);
    fuzz_vdi(data, size);
    fuzz_info(data, size);
    return 0;
}

/* SPDX-License-Identifier: LGPL-2.1-only */
/*
 * The storage migration preflight (libxlmig/sxm-preflight.c,
 * docs/specs/sxm-preflight.md): qcow2 sizes against what `qemu-img
 * measure` reports, the space needed at the edges (1 byte, the 64 MiB
 * growth floor, 64 TiB, allocated bytes beyond the disk), every check
 * alone and several failing at once (all logged, the first one's code
 * returned and kept as the last error), and the arguments refused.
 */
#include <stdint.h>
#include <stdlib.h>

#include "internal.h"
#include "sr.h"
#include "sxm-preflight.h"
#include "testctx.h"
#include "testutil.h"

#define MIB (1ull << 20)
#define GIB (1ull << 30)
#define TIB (1ull << 40)

#define SRC_UUID "2d5e2b1c-6a1f-4c3e-9b7a-0e1f2a3b4c5d"
#define DST_UUID "3d5e2b1c-6a1f-4c3e-9b7a-0e1f2a3b4c5d"
#define VDI_UUID "4d5e2b1c-6a1f-4c3e-9b7a-0e1f2a3b4c5d"

/* ------------------------------------------------------------ sizes */

/*
 * `qemu-img measure -O qcow2 --size S [-o ...]`, "fully allocated
 * size", from qemu-img 7.2 (Debian 12): default 64 KiB clusters,
 * 16 KiB clusters with extended_l2=on, 512-byte clusters (0: qemu-img
 * refuses the size).
 */
static void test_qcow2_full_size(void **state)
{
    static const struct {
        uint64_t size, dflt, ext16k, c512;
    } m[] = {
        { 1ull, 393216ull, 98304ull, 3072ull },
        { 512ull, 393216ull, 98304ull, 3072ull },
        { 65536ull, 393216ull, 147456ull, 68608ull },
        { 67108864ull, 67436544ull, 67239936ull, 68446720ull },
        { 67213721ull, 67567616ull, 67371008ull, 0 },
        { 1073741824ull, 1074135040ull, 1074987008ull, 1095127040ull },
        { 10737418240ull, 10739318784ull, 10749280256ull, 10951259648ull },
        { 12345678901ull, 12347834368ull, 12359319552ull, 12591550464ull },
        { 1099511627776ull, 1099679662080ull, 1100720373760ull, 0 },
        { 7036874417766ull, 7037948592128ull, 7044610129920ull, 0 },
        { 70368744177664ull, 70379483430912ull, 70446100824064ull, 0 },
    };
    size_t i;

    (void)state;
    for (i = 0; i < ARRAY_LEN(m); i++) {
        if (m[i].dflt &&
            xlmig__qcow2_full_size(m[i].size, 16, false) != m[i].dflt)
            fail_msg("size %llu, 64 KiB clusters: %llu, qemu-img says %llu",
                     (unsigned long long)m[i].size,
                     (unsigned long long)xlmig__qcow2_full_size(m[i].size,
                                                                16, false),
                     (unsigned long long)m[i].dflt);
        if (xlmig__qcow2_full_size(m[i].size, 14, true) != m[i].ext16k)
            fail_msg("size %llu, 16 KiB extended: %llu, qemu-img says %llu",
                     (unsigned long long)m[i].size,
                     (unsigned long long)xlmig__qcow2_full_size(m[i].size,
                                                                14, true),
                     (unsigned long long)m[i].ext16k);
        if (m[i].c512 &&
            xlmig__qcow2_full_size(m[i].size, 9, false) != m[i].c512)
            fail_msg("size %llu, 512-byte clusters: %llu, qemu-img says "
                     "%llu", (unsigned long long)m[i].size,
                     (unsigned long long)xlmig__qcow2_full_size(m[i].size,
                                                                9, false),
                     (unsigned long long)m[i].c512);
    }
    /* Out of range: saturates instead of wrapping. */
    assert_true(xlmig__qcow2_full_size((1ull << 60) + 1, 16, false) ==
                UINT64_MAX);
    assert_true(xlmig__qcow2_full_size(UINT64_MAX, 16, false) == UINT64_MAX);
    assert_true(xlmig__qcow2_full_size(1, 8, false) == UINT64_MAX);
    assert_true(xlmig__qcow2_full_size(1, 22, false) == UINT64_MAX);
    assert_true(xlmig__qcow2_full_size(1, 13, true) == UINT64_MAX);
    assert_true(xlmig__qcow2_full_size(1ull << 60, 9, false) < UINT64_MAX);
}

static void test_needs(void **state)
{
    static const struct {
        uint64_t v, alloc;
        enum xlmig__vdi_format fmt;
        bool live;
        uint64_t growth, parent, leaf, dst, src;
    } c[] = {
        /* The smallest disk: G is the whole disk; each part 1 MiB at
         * most. */
        { 1, 0, XLMIG__VDI_RAW, true, 1, 0, MIB, MIB, MIB },
        { 1, 1, XLMIG__VDI_QCOW2, true, 1, 2 * MIB, MIB, 3 * MIB, MIB },
        /* Below 640 MiB G is 64 MiB (or the disk); above it V / 10. */
        { 64 * MIB, 0, XLMIG__VDI_RAW, false, 64 * MIB, 0, 65 * MIB,
          65 * MIB, 0 },
        { 63 * MIB, 0, XLMIG__VDI_RAW, true, 63 * MIB, 0, 64 * MIB,
          64 * MIB, 64 * MIB },
        { 640 * MIB, 0, XLMIG__VDI_RAW, true, 64 * MIB, 0, 65 * MIB,
          65 * MIB, 65 * MIB },
        { 641 * MIB, 0, XLMIG__VDI_RAW, true, 67213721, 0, 65 * MIB,
          65 * MIB, 65 * MIB },
        /* 10 GiB, fresh qcow2 to qcow2: parent is metadata only
         * (1900544 bytes: 2 MiB); leaf 1 GiB + 1.2 MiB + L1 16 KiB. */
        { 10 * GIB, 0, XLMIG__VDI_QCOW2, true, GIB, 2 * MIB, 1026 * MIB,
          1028 * MIB, 1026 * MIB },
        /* Allocated bytes round up to 1 MiB; raw has no metadata. */
        { 10 * GIB, 5 * GIB + 1, XLMIG__VDI_RAW, true, GIB,
          5 * GIB + MIB, 1026 * MIB, 5 * GIB + 1027 * MIB, 1026 * MIB },
        /* More allocated than the disk (a qcow2 source's own metadata,
         * internal snapshots): the parent holds the disk at most. */
        { 10 * GIB, 30 * GIB, XLMIG__VDI_RAW, false, GIB, 10 * GIB,
          1026 * MIB, 10 * GIB + 1026 * MIB, 0 },
        /* 64 TiB, fully allocated and more: no overflow anywhere.
         * parent: 64 TiB + 10739253248 bytes of metadata (10242 MiB);
         * leaf: 7044610129920 + L1 32 MiB, 6718296 MiB. */
        { 64 * TIB, UINT64_MAX, XLMIG__VDI_QCOW2, true, 7036874417766ull,
          70379483693056ull, 7044643946496ull, 77424127639552ull,
          7044643946496ull },
        { 64 * TIB, 64 * TIB, XLMIG__VDI_RAW, false, 7036874417766ull,
          64 * TIB, 7044643946496ull, 64 * TIB + 7044643946496ull, 0 },
    };
    struct xlmig__sxm_parts p;
    struct xlmig__sxm_need n;
    size_t i;

    (void)state;
    for (i = 0; i < ARRAY_LEN(c); i++) {
        assert_int_equal(xlmig__sxm_needs(c[i].v, c[i].alloc, c[i].fmt,
                                          c[i].live, &p, &n), 0);
        if (p.growth != c[i].growth || p.parent != c[i].parent ||
            p.leaf != c[i].leaf || n.dst_bytes != c[i].dst ||
            n.src_bytes != c[i].src)
            fail_msg("case %zu: growth %llu parent %llu leaf %llu dst %llu "
                     "src %llu", i, (unsigned long long)p.growth,
                     (unsigned long long)p.parent,
                     (unsigned long long)p.leaf,
                     (unsigned long long)n.dst_bytes,
                     (unsigned long long)n.src_bytes);
        assert_int_equal(n.dst_bytes % MIB, 0);
        assert_int_equal(n.src_bytes % MIB, 0);
        assert_true(p.parent == p.parent_data +
                                    (p.parent_meta + MIB - 1) / MIB * MIB);
    }
    assert_int_equal(xlmig__sxm_needs(0, 0, XLMIG__VDI_RAW, true, &p, &n),
                     LIBXLMIG_ERR_INVALID_ARGUMENT);
    assert_int_equal(xlmig__sxm_needs(64 * TIB + 1, 0, XLMIG__VDI_RAW, true,
                                      &p, &n),
                     LIBXLMIG_ERR_INVALID_ARGUMENT);
    assert_int_equal(xlmig__sxm_needs(GIB, 0, (enum xlmig__vdi_format)7,
                                      true, &p, &n),
                     LIBXLMIG_ERR_INVALID_ARGUMENT);
    assert_int_equal(xlmig__sxm_needs(GIB, 0, XLMIG__VDI_RAW, true, NULL,
                                      NULL), 0);
}

/* ------------------------------------------------------------ checks */

static struct xlmig__sr src_sr, dst_sr;
static struct xlmig__vdi vdi;
static struct xlmig__sr_space src_space, dst_space;

/* A 10 GiB qcow2 VDI with 1 GiB allocated, of VM web1 as xvda, on SR
 * sr-a, to SR sr-b; both SRs with every capability and 1 TiB free. */
static void fixture(void)
{
    memset(&src_sr, 0, sizeof(src_sr));
    memset(&dst_sr, 0, sizeof(dst_sr));
    memset(&vdi, 0, sizeof(vdi));
    strcpy(src_sr.uuid, SRC_UUID);
    strcpy(src_sr.name, "sr-a");
    strcpy(src_sr.path, "/srv/a");
    src_sr.caps = XLMIG__SR_CAPS_ALL;
    strcpy(dst_sr.uuid, DST_UUID);
    strcpy(dst_sr.name, "sr-b");
    strcpy(dst_sr.path, "/srv/b");
    dst_sr.caps = XLMIG__SR_CAPS_ALL;
    strcpy(vdi.uuid, VDI_UUID);
    strcpy(vdi.name, "disk1");
    strcpy(vdi.sr_uuid, SRC_UUID);
    vdi.format = XLMIG__VDI_QCOW2;
    vdi.virtual_size = 10 * GIB;
    vdi.on_boot = XLMIG__VDI_PERSIST;
    vdi.nr_vbds = 1;
    strcpy(vdi.vbds[0].vm, "web1");
    strcpy(vdi.vbds[0].device, "xvda");
    src_space.physical_size = dst_space.physical_size = 2 * TIB;
    src_space.free_space = dst_space.free_space = TIB;
    src_space.utilisation = dst_space.utilisation = TIB;
}

#define ALLOC GIB
/* Free space to set: the need exactly, or one byte less. */
#define FREE_NEED 1ull
#define FREE_SHORT 2ull

/* How many lines of @log hold @s. */
static int lines_with(const char *log, const char *s)
{
    int n = 0;

    while ((log = strstr(log, s)) != NULL) {
        n++;
        log += strlen(s);
    }
    return n;
}

static void test_checks(void **state)
{
    static const struct {
        const char *what;
        bool cbt, enc, reset, same_sr, live;
        const char *vm;             /* "-": NULL */
        const char *vbd2;           /* a second VBD's VM, or NULL */
        bool no_vbds;
        unsigned int src_caps, dst_caps;  /* 0: all */
        uint64_t src_free, dst_free;      /* 0: 1 TiB; FREE_* */
        int rc;
        int count;                  /* errors logged */
        const char *says[4];
    } c[] = {
        { "all pass, live", .live = true, .vm = "web1", .rc = 0 },
        { "all pass, offline", .vm = "web1", .rc = 0 },
        { "no VM, no VBDs", .live = true, .vm = "-", .no_vbds = true },
        { "CBT", .cbt = true, .live = true, .vm = "web1",
          .rc = LIBXLMIG_ERR_VDI_CBT_ENABLED, .count = 1,
          .says = { "VDI_CBT_ENABLED: VDI disk1 (" VDI_UUID ") in SR sr-a",
                    "xlmig-xe vdi-param-set uuid=" VDI_UUID
                    " cbt-enabled=false" } },
        { "encrypted", .enc = true, .vm = "web1",
          .rc = LIBXLMIG_ERR_VDI_IS_ENCRYPTED, .count = 1,
          .says = { "VDI_IS_ENCRYPTED: VDI disk1 (" VDI_UUID ")",
                    "unencrypted" } },
        { "on-boot=reset", .reset = true, .live = true, .vm = "web1",
          .rc = LIBXLMIG_ERR_VDI_ON_BOOT_MODE_INCOMPATIBLE_WITH_OPERATION,
          .count = 1,
          .says = { "VDI_ON_BOOT_MODE_INCOMPATIBLE_WITH_OPERATION: VDI "
                    "disk1", "on-boot=persist" } },
        { "shared with another VM", .live = true, .vm = "web1",
          .vbd2 = "web2", .rc = LIBXLMIG_ERR_VDI_IN_USE, .count = 1,
          .says = { "VDI_IN_USE: VDI disk1 (" VDI_UUID ") in SR sr-a is "
                    "shared with VM web2 (as xvdb)",
                    "vbd-destroy vm=web2 vdi-uuid=" VDI_UUID } },
        { "the VM's own VBD only", .live = true, .vm = "web1" },
        { "another VM's VDI moved alone", .live = true, .vm = "web2",
          .rc = LIBXLMIG_ERR_VDI_IN_USE, .count = 1,
          .says = { "shared with VM web1 (as xvda)" } },
        { "a VM's VDI moved without it", .live = true, .vm = "-",
          .rc = LIBXLMIG_ERR_VDI_IN_USE, .count = 1,
          .says = { "is used by VM web1 (as xvda); move it with its VM" } },
        { "source without VDI_MIRROR", .live = true, .vm = "web1",
          .src_caps = XLMIG__SR_CAP_VDI_SNAPSHOT |
                      XLMIG__SR_CAP_VDI_MIRROR_IN,
          .rc = LIBXLMIG_ERR_SR_DOES_NOT_SUPPORT_MIGRATION, .count = 1,
          .says = { "SR_DOES_NOT_SUPPORT_MIGRATION: source SR sr-a (" SRC_UUID
                    ") lacks VDI_MIRROR, which a live move of VDI disk1" } },
        { "source without snapshot nor mirror", .live = true, .vm = "web1",
          .src_caps = XLMIG__SR_CAP_VDI_MIRROR_IN,
          .rc = LIBXLMIG_ERR_SR_DOES_NOT_SUPPORT_MIGRATION, .count = 1,
          .says = { "lacks VDI_SNAPSHOT and VDI_MIRROR,",
                    "shut the VM down to move it offline" } },
        { "offline: source capabilities not needed", .vm = "web1",
          .src_caps = XLMIG__SR_CAP_VDI_MIRROR_IN, .rc = 0 },
        { "destination without VDI_MIRROR_IN, offline", .vm = "web1",
          .dst_caps = XLMIG__SR_CAP_VDI_SNAPSHOT | XLMIG__SR_CAP_VDI_MIRROR,
          .rc = LIBXLMIG_ERR_SR_DOES_NOT_SUPPORT_MIGRATION, .count = 1,
          .says = { "destination SR sr-b (" DST_UUID ") lacks "
                    "VDI_MIRROR_IN, which the offline move of VDI disk1" } },
        { "same SR", .live = true, .vm = "web1", .same_sr = true,
          .rc = LIBXLMIG_ERR_INVALID_ARGUMENT, .count = 1,
          .says = { "INVALID_VALUE: VDI disk1 (" VDI_UUID ") is in SR "
                    "sr-a (" SRC_UUID ") already" } },
        { "destination space exactly enough", .live = true, .vm = "web1",
          .dst_free = FREE_NEED, .src_free = FREE_NEED, .rc = 0 },
        { "destination space one byte short", .live = true, .vm = "web1",
          .dst_free = FREE_SHORT,
          .rc = LIBXLMIG_ERR_SR_DESTINATION_SPACE_INSUFFICIENT, .count = 1,
          .says = { "SR_DESTINATION_SPACE_INSUFFICIENT: destination SR "
                    "sr-b (" DST_UUID ") has 2051 MiB free, but the live "
                    "move of VDI disk1 (" VDI_UUID ", 10240 MiB) needs 2052 "
                    "MiB there: the parent 1026 MiB (1024 MiB allocated at "
                    "the source, 2 MiB of qcow2 metadata) and the leaf 1026 "
                    "MiB (room for 1024 MiB of writes); free 1 MiB on SR "
                    "sr-b" } },
        { "source space one byte short", .live = true, .vm = "web1",
          .src_free = FREE_SHORT,
          .rc = LIBXLMIG_ERR_SR_SOURCE_SPACE_INSUFFICIENT, .count = 1,
          .says = { "SR_SOURCE_SPACE_INSUFFICIENT: source SR sr-a ("
                    SRC_UUID ") has 1025 MiB free, but the temporary "
                    "snapshot of VDI disk1 (" VDI_UUID ") for a live move "
                    "needs 1026 MiB there",
                    "free 1 MiB on SR sr-a, or shut the VM down" } },
        { "offline: no source space needed", .vm = "web1",
          .src_free = FREE_SHORT, .rc = 0 },
        { "everything at once", .cbt = true, .enc = true, .reset = true,
          .live = true, .vm = "web1", .vbd2 = "web2",
          .src_caps = XLMIG__SR_CAP_VDI_MIRROR_IN,
          .dst_caps = XLMIG__SR_CAP_VDI_SNAPSHOT,
          .src_free = FREE_SHORT, .dst_free = FREE_SHORT,
          .rc = LIBXLMIG_ERR_VDI_CBT_ENABLED, .count = 8,
          .says = { "VDI_IS_ENCRYPTED", "VDI_ON_BOOT_MODE_INCOMPATIBLE",
                    "SR_DESTINATION_SPACE_INSUFFICIENT",
                    "SR_SOURCE_SPACE_INSUFFICIENT" } },
        { "same SR first, then the flags", .enc = true, .same_sr = true,
          .vm = "web1", .rc = LIBXLMIG_ERR_INVALID_ARGUMENT, .count = 2,
          .says = { "VDI_IS_ENCRYPTED" } },
    };
    struct xlmig__sxm_need need, want;
    size_t i, j;

    (void)state;
    for (i = 0; i < ARRAY_LEN(c); i++) {
        const char *vm = c[i].vm && strcmp(c[i].vm, "-") ? c[i].vm : NULL;
        int rc;

        fixture();
        vdi.cbt_enabled = c[i].cbt;
        vdi.encrypted = c[i].enc;
        vdi.on_boot = c[i].reset ? XLMIG__VDI_RESET : XLMIG__VDI_PERSIST;
        if (c[i].no_vbds) {
            memset(vdi.vbds, 0, sizeof(vdi.vbds));
            vdi.nr_vbds = 0;
        }
        if (c[i].vbd2) {
            vdi.sharable = true;
            strcpy(vdi.vbds[1].vm, c[i].vbd2);
            strcpy(vdi.vbds[1].device, "xvdb");
            vdi.nr_vbds = 2;
        }
        if (c[i].src_caps)
            src_sr.caps = c[i].src_caps;
        if (c[i].dst_caps)
            dst_sr.caps = c[i].dst_caps;
        if (c[i].same_sr)
            dst_sr = src_sr;
        assert_int_equal(xlmig__sxm_needs(vdi.virtual_size, ALLOC,
                                          XLMIG__VDI_QCOW2, c[i].live, NULL,
                                          &want), 0);
        if (c[i].dst_free)
            dst_space.free_space = want.dst_bytes -
                                   (c[i].dst_free == FREE_SHORT);
        if (c[i].src_free)
            src_space.free_space = want.src_bytes -
                                   (c[i].src_free == FREE_SHORT);
        reset_log();
        rc = xlmig__sxm_preflight(ctx, &src_sr, &src_space, &vdi, ALLOC,
                                  &dst_sr, &dst_space, XLMIG__VDI_QCOW2,
                                  c[i].live, vm, &need);
        if (rc != c[i].rc || cap.count != c[i].count)
            fail_msg("%s: rc %d (want %d), %d errors (want %d):\n%s",
                     c[i].what, rc, c[i].rc, cap.count, c[i].count,
                     cap.text);
        for (j = 0; j < ARRAY_LEN(c[i].says) && c[i].says[j]; j++)
            assert_contains(cap.text, c[i].says[j]);
        /* The needs come back whatever the verdict. */
        assert_memory_equal(&need, &want, sizeof(need));
        if (rc)
            /* The last error is the first failure, whose code came
             * back. */
            assert_true(!strncmp(libxlmig_ctx_last_error(ctx),
                                 libxlmig_strerror_name(rc),
                                 strlen(libxlmig_strerror_name(rc))));
        /* Each message names the VDI. */
        assert_int_equal(lines_with(cap.text, "VDI disk1 ("),
                         c[i].count);
    }
}

/* The log of "everything at once" in order: VDI checks, then the SRs. */
static void test_order(void **state)
{
    const char *names[] = {
        "VDI_CBT_ENABLED", "VDI_IS_ENCRYPTED",
        "VDI_ON_BOOT_MODE_INCOMPATIBLE_WITH_OPERATION", "VDI_IN_USE",
        "SR_DOES_NOT_SUPPORT_MIGRATION: source",
        "SR_DOES_NOT_SUPPORT_MIGRATION: destination",
        "SR_DESTINATION_SPACE_INSUFFICIENT", "SR_SOURCE_SPACE_INSUFFICIENT",
    };
    const char *at;
    size_t i;

    (void)state;
    fixture();
    vdi.cbt_enabled = vdi.encrypted = true;
    vdi.on_boot = XLMIG__VDI_RESET;
    src_sr.caps = 0;
    dst_sr.caps = 0;
    src_space.free_space = dst_space.free_space = 0;
    reset_log();
    assert_int_equal(xlmig__sxm_preflight(ctx, &src_sr, &src_space, &vdi,
                                          ALLOC, &dst_sr, &dst_space,
                                          XLMIG__VDI_RAW, true, "web9",
                                          NULL),
                     LIBXLMIG_ERR_VDI_CBT_ENABLED);
    assert_int_equal(cap.count, 8);
    at = cap.text;
    for (i = 0; i < ARRAY_LEN(names); i++) {
        const char *p = strstr(at, names[i]);

        if (!p)
            fail_msg("%s not after the one before in:\n%s", names[i],
                     cap.text);
        at = p;
    }
    assert_contains(cap.text, "lacks VDI_SNAPSHOT and VDI_MIRROR,");
    assert_contains(cap.text, "has 0 MiB free");
    assert_contains(cap.text, "the parent 1024 MiB (1024 MiB allocated at "
                              "the source) and the leaf 1026 MiB");
    assert_true(!strncmp(libxlmig_ctx_last_error(ctx), "VDI_CBT_ENABLED: ",
                         17));
}

static void test_bad_args(void **state)
{
    struct xlmig__sxm_need need;

    (void)state;
    fixture();
    memset(&need, 0x5a, sizeof(need));
    assert_int_equal(xlmig__sxm_preflight(NULL, &src_sr, &src_space, &vdi,
                                          0, &dst_sr, &dst_space,
                                          XLMIG__VDI_RAW, true, NULL, &need),
                     LIBXLMIG_ERR_INVALID_ARGUMENT);
    assert_true(need.dst_bytes == 0 && need.src_bytes == 0);

    reset_log();
    assert_int_equal(xlmig__sxm_preflight(ctx, &src_sr, NULL, &vdi, 0,
                                          &dst_sr, &dst_space,
                                          XLMIG__VDI_RAW, true, NULL, NULL),
                     LIBXLMIG_ERR_INVALID_ARGUMENT);
    assert_contains(cap.text, "no source SR space given");
    /* Offline, the source's space may be unknown. */
    vdi.nr_vbds = 0;
    assert_int_equal(xlmig__sxm_preflight(ctx, &src_sr, NULL, &vdi, 0,
                                          &dst_sr, &dst_space,
                                          XLMIG__VDI_RAW, false, NULL,
                                          &need), 0);
    assert_true(need.src_bytes == 0 && need.dst_bytes == 1026 * MIB);
    assert_int_equal(xlmig__sxm_preflight(ctx, &src_sr, &src_space, &vdi, 0,
                                          &dst_sr, NULL, XLMIG__VDI_RAW,
                                          false, NULL, NULL),
                     LIBXLMIG_ERR_INVALID_ARGUMENT);
    assert_int_equal(xlmig__sxm_preflight(ctx, &src_sr, &src_space, NULL, 0,
                                          &dst_sr, &dst_space,
                                          XLMIG__VDI_RAW, false, NULL, NULL),
                     LIBXLMIG_ERR_INVALID_ARGUMENT);

    /* A VDI of another SR than the source given. */
    strcpy(vdi.sr_uuid, DST_UUID);
    reset_log();
    assert_int_equal(xlmig__sxm_preflight(ctx, &src_sr, &src_space, &vdi, 0,
                                          &dst_sr, &dst_space,
                                          XLMIG__VDI_RAW, true, NULL, &need),
                     LIBXLMIG_ERR_INVALID_ARGUMENT);
    assert_contains(cap.text, "is in SR " DST_UUID ", not in SR sr-a");
    strcpy(vdi.sr_uuid, SRC_UUID);

    /* Sizes out of range, an unknown format, a bad VM name. */
    vdi.virtual_size = 0;
    assert_int_equal(xlmig__sxm_preflight(ctx, &src_sr, &src_space, &vdi, 0,
                                          &dst_sr, &dst_space,
                                          XLMIG__VDI_RAW, true, NULL, &need),
                     LIBXLMIG_ERR_INVALID_ARGUMENT);
    vdi.virtual_size = 64 * TIB + 512;
    reset_log();
    assert_int_equal(xlmig__sxm_preflight(ctx, &src_sr, &src_space, &vdi, 0,
                                          &dst_sr, &dst_space,
                                          XLMIG__VDI_RAW, true, NULL, &need),
                     LIBXLMIG_ERR_INVALID_ARGUMENT);
    assert_contains(cap.text, "64 TiB");
    assert_true(need.dst_bytes == 0);
    vdi.virtual_size = GIB;
    assert_int_equal(xlmig__sxm_preflight(ctx, &src_sr, &src_space, &vdi, 0,
                                          &dst_sr, &dst_space,
                                          (enum xlmig__vdi_format)9, true,
                                          NULL, NULL),
                     LIBXLMIG_ERR_INVALID_ARGUMENT);
    reset_log();
    assert_int_equal(xlmig__sxm_preflight(ctx, &src_sr, &src_space, &vdi, 0,
                                          &dst_sr, &dst_space,
                                          XLMIG__VDI_RAW, true, "../x", NULL),
                     LIBXLMIG_ERR_INVALID_ARGUMENT);
    assert_contains(cap.text, "the VM given is not a valid name");
    assert_int_equal(cap.count, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_qcow2_full_size),
        cmocka_unit_test(test_needs),
        cmocka_unit_test(test_checks),
        cmocka_unit_test(test_order),
        cmocka_unit_test(test_bad_args),
    };

    return cmocka_run_group_tests_name("sxm-preflight", tests, group_setup,
                                       group_teardown);
}

/* SPDX-License-Identifier: LGPL-2.1-only */
/*
 * SRs and VDIs (libxlmig/sr.c, docs/specs/sr.md), in a temporary state
 * directory and SR directory, with the real qemu-img: SR create, find,
 * list and forget; qcow2 and raw VDIs with their sizes as qemu-img
 * reports them; destroy; every refusal (names, sizes, paths, unknown SR,
 * a lock file) and a qemu-img failure that leaves nothing behind;
 * metadata round trips and rejects; UUIDs.  VBDs: the "vbds" member
 * (old files without it still read), create and destroy with their
 * refusals (a VDI in use by another VM, a duplicate device, 16 at
 * most), vdi-param-set, destroy refused while a VM has the VDI,
 * concurrent VBD changes serialised by the lock, and VBDs made and VDIs
 * listed while storage motion makes and removes other VDIs' metadata.
 */
#include <errno.h>
#include <sys/wait.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"
#include "sr.h"
#include "sxm-internal.h"
#include "testctx.h"
#include "testfs.h"
#include "testutil.h"

static int dir_setup(void **state)
{
    (void)state;
    unsetenv("XLMIG_QEMU_IMG");
    return testfs_dir_setup("test-sr");
}

#define STATE at("state")

/* SR "sr1" at TMPDIR/sr1. */
static struct xlmig__sr make_sr(void)
{
    struct xlmig__sr sr;

    assert_ok(xlmig__sr_create(ctx, STATE, "sr1", "file", at("sr1"), 0,
                               &sr));
    return sr;
}

/* ------------------------------------------------------------ pure */

static void test_path_check(void **state)
{
    static const char *const bad[] = {
        "", "relative/dir", "/srv/../etc", "/srv/..", "/srv/./x", "..",
        "/srv/a\nb",
    };
    size_t i;

    (void)state;
    assert_ok(xlmig__sr_path_check(ctx, "/srv/sr1"));
    assert_ok(xlmig__sr_path_check(ctx, "/srv/..x/a..b/"));
    for (i = 0; i < ARRAY_LEN(bad); i++) {
        if (xlmig__sr_path_check(ctx, bad[i]) !=
            LIBXLMIG_ERR_INVALID_ARGUMENT)
            fail_msg("path \"%s\" was taken", bad[i]);
    }
    assert_int_equal(xlmig__sr_path_check(NULL, NULL),
                     LIBXLMIG_ERR_INVALID_ARGUMENT);
}

#define SR_JSON(caps) \
    "{\"version\":1,\"uuid\":\"2d5e2b1c-6a1f-4c3e-9b7a-0e1f2a3b4c5d\"," \
    "\"name\":\"sr1\",\"type\":\"file\",\"path\":\"/srv/sr1\"," \
    "\"capabilities\":[" caps "]}"
#define VDI_JSON(fmt, size, boot) \
    "{\"version\":1,\"uuid\":\"2d5e2b1c-6a1f-4c3e-9b7a-0e1f2a3b4c5d\"," \
    "\"name\":\"d1\",\"sr_uuid\":\"3d5e2b1c-6a1f-4c3e-9b7a-0e1f2a3b4c5d\"," \
    "\"format\":\"" fmt "\",\"virtual_size\":" size "," \
    "\"on_boot\":\"" boot "\",\"cbt_enabled\":false,\"encrypted\":true," \
    "\"sharable\":false}"

static void test_metadata(void **state)
{
    static const char *const bad_sr[] = {
        SR_JSON("\"VDI_FLY\""), SR_JSON("1"),
        "{\"version\":2,\"uuid\":\"2d5e2b1c-6a1f-4c3e-9b7a-0e1f2a3b4c5d\"}",
        "[]", "{", "",
        "{\"version\":1,\"uuid\":\"x\",\"name\":\"sr1\",\"type\":\"file\","
        "\"path\":\"/a\",\"capabilities\":[]}",
        "{\"version\":1,\"uuid\":\"2d5e2b1c-6a1f-4c3e-9b7a-0e1f2a3b4c5d\","
        "\"name\":\"sr1\",\"type\":\"lvm\",\"path\":\"/a\","
        "\"capabilities\":[]}",
        "{\"version\":1,\"uuid\":\"2d5e2b1c-6a1f-4c3e-9b7a-0e1f2a3b4c5d\","
        "\"name\":\"sr1\",\"type\":\"file\",\"path\":\"/a/../b\","
        "\"capabilities\":[]}",
    };
    static const char *const bad_vdi[] = {
        VDI_JSON("vmdk", "1024", "persist"), VDI_JSON("raw", "0", "persist"),
        VDI_JSON("raw", "70368744177665", "persist"),
        VDI_JSON("raw", "-5", "persist"), VDI_JSON("raw", "1.5", "persist"),
        VDI_JSON("raw", "1024", "keep"),
    };
    struct xlmig__sr sr, back;
    struct xlmig__vdi v, vback;
    char buf[XLMIG__SR_FILE_MAX + 1];
    size_t len, i;
    const char *s;

    (void)state;
    s = SR_JSON("\"VDI_MIRROR\",\"VDI_SNAPSHOT\"");
    assert_ok(xlmig__sr_decode(ctx, "t", (const uint8_t *)s, strlen(s),
                               &sr));
    assert_int_equal(sr.caps, XLMIG__SR_CAP_VDI_SNAPSHOT |
                                  XLMIG__SR_CAP_VDI_MIRROR);
    assert_string_equal(sr.path, "/srv/sr1");
    assert_ok(xlmig__sr_encode(&sr, buf, sizeof(buf), &len));
    assert_ok(xlmig__sr_decode(ctx, "t", (const uint8_t *)buf, len, &back));
    assert_memory_equal(&sr, &back, sizeof(sr));
    for (i = 0; i < ARRAY_LEN(bad_sr); i++) {
        memset(&back, 0x5a, sizeof(back));
        reset_log();
        if (xlmig__sr_decode(ctx, "bad.json", (const uint8_t *)bad_sr[i],
                             strlen(bad_sr[i]), &back) !=
            LIBXLMIG_ERR_INVALID_ARGUMENT)
            fail_msg("SR metadata %zu was taken", i);
        assert_contains(libxlmig_ctx_last_error(ctx), "bad.json");
        assert_int_equal(((unsigned char *)&back)[0], 0x5a);
    }

    s = VDI_JSON("qcow2", "10737418240", "reset");
    assert_ok(xlmig__vdi_decode(ctx, "t", (const uint8_t *)s, strlen(s),
                                &v));
    assert_true(v.virtual_size == 10ull << 30);
    assert_int_equal(v.format, XLMIG__VDI_QCOW2);
    assert_int_equal(v.on_boot, XLMIG__VDI_RESET);
    assert_true(v.encrypted);
    assert_false(v.cbt_enabled);
    assert_ok(xlmig__vdi_encode(&v, buf, sizeof(buf), &len));
    memset(&vback, 0, sizeof(vback));
    assert_ok(xlmig__vdi_decode(ctx, "t", (const uint8_t *)buf, len,
                                &vback));
    assert_memory_equal(&v, &vback, sizeof(v));
    for (i = 0; i < ARRAY_LEN(bad_vdi); i++) {
        reset_log();
        if (xlmig__vdi_decode(ctx, "vdi.json", (const uint8_t *)bad_vdi[i],
                              strlen(bad_vdi[i]), &vback) !=
            LIBXLMIG_ERR_INVALID_ARGUMENT)
            fail_msg("VDI metadata %zu was taken", i);
        assert_contains(libxlmig_ctx_last_error(ctx), "vdi.json");
    }
    v.virtual_size = 0;
    assert_int_equal(xlmig__vdi_encode(&v, buf, sizeof(buf), &len),
                     LIBXLMIG_ERR_INVALID_ARGUMENT);
}

/* ------------------------------------------------------------ SRs */

static void test_sr_create_find(void **state)
{
    struct xlmig__sr sr = make_sr(), found, *srs = NULL;
    struct xlmig__sr_space sp;
    struct stat st;
    size_t nr;
    char path[1024];
    char *text;

    (void)state;
    assert_true(xlmig__uuid_ok(sr.uuid));
    assert_int_equal(sr.caps, XLMIG__SR_CAPS_ALL);
    assert_int_equal(stat(at("sr1"), &st), 0);
    assert_true(S_ISDIR(st.st_mode));
    snprintf(path, sizeof(path), "%s/srs/%s.json", STATE, sr.uuid);
    text = read_file(path);
    assert_contains(text, "\"capabilities\": [");
    assert_contains(text, "\"VDI_MIRROR_IN\"");
    assert_contains(text, "\"type\": \"file\"");
    free(text);

    assert_ok(xlmig__sr_find(ctx, STATE, "sr1", &found));
    assert_string_equal(found.uuid, sr.uuid);
    assert_ok(xlmig__sr_find(ctx, STATE, sr.uuid, &found));
    assert_string_equal(found.name, "sr1");
    assert_ok(xlmig__sr_create(ctx, STATE, "sr0", NULL, at("sr0"),
                               XLMIG__SR_CAP_VDI_SNAPSHOT, NULL));
    assert_ok(xlmig__sr_list(ctx, STATE, &srs, &nr));
    assert_int_equal(nr, 2);
    assert_string_equal(srs[0].name, "sr0");
    assert_int_equal(srs[0].caps, XLMIG__SR_CAP_VDI_SNAPSHOT);
    free(srs);

    assert_ok(xlmig__sr_space(ctx, &sr, &sp));
    assert_true(sp.physical_size > 0);
    assert_true(sp.free_space <= sp.physical_size);
    assert_true(sp.utilisation <= sp.physical_size);

    /* Refusals. */
    reset_log();
    assert_int_equal(xlmig__sr_create(ctx, STATE, "sr1", "file", at("x"), 0,
                                      NULL), LIBXLMIG_ERR_INVALID_ARGUMENT);
    assert_contains(libxlmig_ctx_last_error(ctx), "named sr1 already");
    assert_int_equal(xlmig__sr_create(ctx, STATE, "sr2", "file", at("sr1"),
                                      0, NULL),
                     LIBXLMIG_ERR_INVALID_ARGUMENT);
    assert_contains(libxlmig_ctx_last_error(ctx), "already has the "
                                                  "directory");
    assert_int_equal(xlmig__sr_create(ctx, STATE, "bad name", "file",
                                      at("x"), 0, NULL),
                     LIBXLMIG_ERR_INVALID_ARGUMENT);
    assert_contains(libxlmig_ctx_last_error(ctx), "SR name \"bad name\"");
    assert_int_equal(xlmig__sr_create(ctx, STATE, "sr3", "lvm", at("x"), 0,
                                      NULL), LIBXLMIG_ERR_UNSUPPORTED);
    assert_int_equal(xlmig__sr_create(ctx, STATE, "sr3", "file",
                                      at("sr1/../x"), 0, NULL),
                     LIBXLMIG_ERR_INVALID_ARGUMENT);
    assert_contains(libxlmig_ctx_last_error(ctx), "\"..\"");
    assert_int_equal(xlmig__sr_create(ctx, STATE, "sr3", "file",
                                      at("no/such/dir"), 0, NULL),
                     LIBXLMIG_ERR_IO);
    write_file(at("afile"), "x", 1);
    assert_int_equal(xlmig__sr_create(ctx, STATE, "sr3", "file",
                                      at("afile"), 0, NULL),
                     LIBXLMIG_ERR_INVALID_ARGUMENT);
    assert_contains(libxlmig_ctx_last_error(ctx), "not a directory");
    assert_int_equal(xlmig__sr_find(ctx, STATE, "nosuch", &found),
                     LIBXLMIG_ERR_NOT_FOUND);
    assert_contains(libxlmig_ctx_last_error(ctx), "sr-list");

    /* Forget: the record goes, the directory stays. */
    assert_ok(xlmig__sr_forget(ctx, STATE, sr.uuid));
    assert_int_equal(stat(at("sr1"), &st), 0);
    assert_int_equal(xlmig__sr_find(ctx, STATE, "sr1", &found),
                     LIBXLMIG_ERR_NOT_FOUND);
    assert_int_equal(xlmig__sr_forget(ctx, STATE, sr.uuid),
                     LIBXLMIG_ERR_NOT_FOUND);
    assert_int_equal(xlmig__sr_forget(ctx, STATE, "../x"),
                     LIBXLMIG_ERR_INVALID_ARGUMENT);
}

/* ------------------------------------------------------------ VDIs */

static void test_vdi_create_sizes_destroy(void **state)
{
    struct xlmig__sr sr = make_sr(), in;
    struct xlmig__vdi q, r, *vdis = NULL, found;
    uint64_t virt, phys;
    char path[1024];
    struct stat st;
    size_t nr;

    (void)state;
    assert_ok(xlmig__vdi_create(ctx, STATE, "sr1", "disk-q", "1G", NULL,
                                &q));
    assert_ok(xlmig__vdi_create(ctx, STATE, sr.uuid, "disk-r", "10M", "raw",
                                &r));
    assert_int_equal(q.format, XLMIG__VDI_QCOW2);
    assert_int_equal(r.format, XLMIG__VDI_RAW);
    assert_string_equal(q.sr_uuid, sr.uuid);
    assert_int_equal(q.on_boot, XLMIG__VDI_PERSIST);
    assert_false(q.cbt_enabled || q.encrypted || q.sharable);
    assert_int_equal(xlmig__vdi_path(&sr, q.uuid, "qcow2", path,
                                     sizeof(path)), 0);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(count_entries(at("sr1"), ".json"), 2);

    assert_ok(xlmig__vdi_sizes(ctx, &sr, &q, &virt, &phys));
    assert_true(virt == 1ull << 30);
    assert_true(phys > 0 && phys < (4u << 20));  /* fresh qcow2: small */
    assert_ok(xlmig__vdi_sizes(ctx, &sr, &r, &virt, &phys));
    assert_true(virt == 10ull << 20);
    assert_true(phys < (10u << 20));             /* raw: sparse */

    /* Sizes not a multiple of 512 are rounded up, as qemu-img does. */
    assert_ok(xlmig__vdi_create(ctx, STATE, "sr1", "odd", "1000", "raw",
                                &found));
    assert_true(found.virtual_size == 1024);
    assert_ok(xlmig__vdi_sizes(ctx, &sr, &found, &virt, &phys));
    assert_true(virt == 1024);

    assert_ok(xlmig__vdi_list(ctx, &sr, &vdis, &nr));
    assert_int_equal(nr, 3);
    assert_string_equal(vdis[0].name, "disk-q");
    assert_string_equal(vdis[1].name, "disk-r");
    assert_string_equal(vdis[2].name, "odd");
    free(vdis);

    assert_ok(xlmig__vdi_find(ctx, STATE, r.uuid, &in, &found));
    assert_string_equal(in.uuid, sr.uuid);
    assert_string_equal(found.name, "disk-r");

    /* A lock file refuses destroy. */
    assert_int_equal(xlmig__vdi_path(&sr, q.uuid, "lock", path,
                                     sizeof(path)), 0);
    write_file(path, "", 0);
    reset_log();
    assert_int_equal(xlmig__vdi_destroy(ctx, STATE, q.uuid),
                     LIBXLMIG_ERR_VDI_IN_USE);
    assert_contains(libxlmig_ctx_last_error(ctx), "disk-q");
    assert_contains(libxlmig_ctx_last_error(ctx), ".lock exists");
    assert_int_equal(count_entries(at("sr1"), q.uuid), 3);
    unlink(path);

    assert_ok(xlmig__vdi_destroy(ctx, STATE, q.uuid));
    assert_ok(xlmig__vdi_destroy(ctx, STATE, r.uuid));
    assert_int_equal(count_entries(at("sr1"), q.uuid), 0);
    assert_int_equal(count_entries(at("sr1"), r.uuid), 0);
    assert_int_equal(xlmig__vdi_destroy(ctx, STATE, r.uuid),
                     LIBXLMIG_ERR_NOT_FOUND);
    assert_int_equal(xlmig__vdi_destroy(ctx, STATE, "nope"),
                     LIBXLMIG_ERR_INVALID_ARGUMENT);
}

static void test_vdi_refusals(void **state)
{
    static const struct {
        const char *sr, *name, *size, *format, *says;
        int rc;
    } cases[] = {
        { "sr1", "bad/name", "1G", NULL, "VDI name", -2 },
        { "sr1", "", "1G", NULL, "VDI name", -2 },
        { "sr1", "d", "0", NULL, "zero", -2 },
        { "sr1", "d", "abc", NULL, "not a size", -2 },
        { "sr1", "d", "65T", NULL, "64 TiB", -2 },
        { "sr1", "d", "1G", "vmdk", "format \"vmdk\"", -2 },
        { "nosuch", "d", "1G", NULL, "no SR \"nosuch\"", -7 },
        { "", "d", "1G", "raw", "no SR given", -2 },
    };
    size_t i;

    (void)state;
    make_sr();
    for (i = 0; i < ARRAY_LEN(cases); i++) {
        reset_log();
        if (xlmig__vdi_create(ctx, STATE, cases[i].sr, cases[i].name,
                              cases[i].size, cases[i].format, NULL) !=
            cases[i].rc)
            fail_msg("case %zu: not %d: %s", i, cases[i].rc,
                     libxlmig_ctx_last_error(ctx));
        assert_contains(libxlmig_ctx_last_error(ctx), cases[i].says);
    }
    assert_int_equal(count_entries(at("sr1"), "-"), 0);

    /* An SR with '..' in its path cannot even be made. */
    assert_int_equal(xlmig__sr_create(ctx, STATE, "srdots", "file",
                                      at("sr1/../sr1"), 0, NULL),
                     LIBXLMIG_ERR_INVALID_ARGUMENT);
}

/* qemu-img failing leaves neither image nor metadata behind. */
static void test_qemu_img_fails(void **state)
{
    static const char script[] =
        "#!/bin/sh\n"
        "for a; do last2=$last; last=$a; done\n"
        "echo partial > \"$last2\"\n"
        "echo 'qemu-img: simulated failure' >&2\n"
        "exit 1\n";
    struct xlmig__sr sr = make_sr();
    char fake[600];

    (void)state;
    /* The SR's directory gone: qemu-img cannot create the image. */
    assert_int_equal(rmdir(sr.path), 0);
    reset_log();
    assert_int_equal(xlmig__vdi_create(ctx, STATE, "sr1", "d1", "1G", NULL,
                                       NULL), LIBXLMIG_ERR_IO);
    assert_contains(libxlmig_ctx_last_error(ctx), "VDI d1 in SR sr1");
    assert_contains(libxlmig_ctx_last_error(ctx), "No such file");
    assert_int_equal(mkdir(sr.path, 0700), 0);

    /* A qemu-img that writes part of an image, then fails. */
    snprintf(fake, sizeof(fake), "%s", at("fake-qemu-img"));
    write_file(fake, script, sizeof(script) - 1);
    assert_int_equal(chmod(fake, 0700), 0);
    setenv("XLMIG_QEMU_IMG", fake, 1);
    reset_log();
    assert_int_equal(xlmig__vdi_create(ctx, STATE, "sr1", "d1", "1G", "raw",
                                       NULL), LIBXLMIG_ERR_IO);
    assert_contains(libxlmig_ctx_last_error(ctx), "simulated failure");
    assert_contains(libxlmig_ctx_last_error(ctx), "exited with status 1");
    assert_int_equal(count_entries(sr.path, "-"), 0);

    /* No qemu-img at all. */
    setenv("XLMIG_QEMU_IMG", at("no-such-qemu-img"), 1);
    reset_log();
    assert_int_equal(xlmig__vdi_create(ctx, STATE, "sr1", "d1", "1G", NULL,
                                       NULL), LIBXLMIG_ERR_IO);
    assert_contains(libxlmig_ctx_last_error(ctx), "qemu-utils");
    assert_int_equal(count_entries(sr.path, "-"), 0);
    unsetenv("XLMIG_QEMU_IMG");
}

static void test_bad_files(void **state)
{
    struct xlmig__sr sr = make_sr(), *srs = NULL;
    struct xlmig__vdi *vdis = NULL;
    char path[XLMIG__SR_PATH_MAX + 64];
    size_t nr = 0;

    (void)state;
    /* Leftovers and strangers in the SR directory are not VDIs. */
    write_file(at("sr1/notes.json"), "{}", 2);
    write_file(at("sr1/x.qcow2"), "x", 1);
    assert_ok(xlmig__vdi_list(ctx, &sr, &vdis, &nr));
    assert_int_equal(nr, 0);
    assert_null(vdis);

    /* A broken VDI file is named. */
    snprintf(path, sizeof(path), "%s/2d5e2b1c-6a1f-4c3e-9b7a-0e1f2a3b4c5d"
             ".json", sr.path);
    write_file(path, "{\"version\":1}", 13);
    reset_log();
    assert_int_equal(xlmig__vdi_list(ctx, &sr, &vdis, &nr),
                     LIBXLMIG_ERR_INVALID_ARGUMENT);
    assert_contains(libxlmig_ctx_last_error(ctx), path);
    assert_contains(libxlmig_ctx_last_error(ctx), "\"uuid\" is missing");
    unlink(path);

    /* A renamed SR file is refused. */
    snprintf(path, sizeof(path), "%s/srs/%s.json", STATE, sr.uuid);
    assert_int_equal(rename(path, at("state/srs/"
                                     "2d5e2b1c-6a1f-4c3e-9b7a-0e1f2a3b4c5d"
                                     ".json")), 0);
    reset_log();
    assert_int_equal(xlmig__sr_list(ctx, STATE, &srs, &nr),
                     LIBXLMIG_ERR_INVALID_ARGUMENT);
    assert_contains(libxlmig_ctx_last_error(ctx), "do not rename");
    assert_null(srs);
}


/* ------------------------------------------------------------ VBDs */

static void test_vbd_device(void **state)
{
    static const char *const good[] = {
        "xvda", "xvdz", "xvdaa", "hda", "hdd", "sda", "sdb2", "xvda1",
        "xvdb15", "xvdabcdefghijk", "sda123456789012",
    };
    static const char *const bad[] = {
        "", "xvd", "hd", "xvdA", "xvda0", "xvda01", "vda", "xvd1",
        "xvda-1", "xvda ", "/dev/xvda", "xvdabcdefghijklm", "sda1234567890123",
        "hda1b", "Xvda",
    };
    size_t i;

    (void)state;
    for (i = 0; i < ARRAY_LEN(good); i++) {
        if (!xlmig__vbd_device_ok(good[i]))
            fail_msg("device \"%s\" refused", good[i]);
    }
    for (i = 0; i < ARRAY_LEN(bad); i++) {
        if (xlmig__vbd_device_ok(bad[i]))
            fail_msg("device \"%s\" taken", bad[i]);
    }
    assert_false(xlmig__vbd_device_ok(NULL));
}

#define VDI_VBDS(vbds) \
    "{\"version\":1,\"uuid\":\"2d5e2b1c-6a1f-4c3e-9b7a-0e1f2a3b4c5d\"," \
    "\"name\":\"d1\",\"sr_uuid\":\"3d5e2b1c-6a1f-4c3e-9b7a-0e1f2a3b4c5d\"," \
    "\"format\":\"raw\",\"virtual_size\":1024,\"on_boot\":\"persist\"," \
    "\"cbt_enabled\":false,\"encrypted\":false,\"sharable\":true" vbds "}"
#define VBD(vm, dev) "{\"vm\":\"" vm "\",\"device\":\"" dev "\"}"
#define VBD4(p) VBD(p "1", "xvda") "," VBD(p "2", "xvda") "," \
                VBD(p "3", "xvda") "," VBD(p "4", "xvda")

static void test_vbd_metadata(void **state)
{
    static const struct {
        const char *json, *says;
    } bad[] = {
        { VDI_VBDS(",\"vbds\":{}"), "\"vbds\" is an object, not an array" },
        { VDI_VBDS(",\"vbds\":[1]"), "vbds[0]: it is an integer" },
        { VDI_VBDS(",\"vbds\":[{\"vm\":\"a\"}]"),
          "vbds[0]: member \"device\" is missing" },
        { VDI_VBDS(",\"vbds\":[{\"device\":\"xvda\"}]"),
          "vbds[0]: member \"vm\" is missing" },
        { VDI_VBDS(",\"vbds\":[" VBD("a", "xvda") "," VBD("../b", "xvda")
                   "]"), "vbds[1]: member \"vm\": \"../b\" is not a valid" },
        { VDI_VBDS(",\"vbds\":[" VBD("a", "nvme0") "]"),
          "\"device\": \"nvme0\" is not a device name" },
        { VDI_VBDS(",\"vbds\":[" VBD("a", "xvda") "," VBD("a", "xvdb") "]"),
          "VM a has a VBD on this VDI already (vbds[0])" },
        { VDI_VBDS(",\"vbds\":[{\"vm\":\"a\",\"device\":1}]"),
          "member \"device\" is an integer, not a string" },
        { VDI_VBDS(",\"vbds\":[" VBD4("a") "," VBD4("b") "," VBD4("c") ","
                   VBD4("d") "," VBD("e", "xvda") "]"),
          "has 17 entries, more than the 16" },
        { VDI_VBDS(",\"vbds\":[],\"vbds\":[]"), "appears more than once" },
    };
    char buf[XLMIG__SR_FILE_MAX + 1];
    struct xlmig__vdi v, back;
    const char *s;
    size_t len, i;

    (void)state;
    /* Old files: no "vbds" is no VBD; encoded again, still none. */
    s = VDI_VBDS("");
    memset(&v, 0x5a, sizeof(v));
    assert_ok(xlmig__vdi_decode(ctx, "t", (const uint8_t *)s, strlen(s),
                                &v));
    assert_int_equal(v.nr_vbds, 0);
    assert_ok(xlmig__vdi_encode(&v, buf, sizeof(buf), &len));
    assert_null(strstr(buf, "vbds"));

    /* 16 VBDs, the most: round trip; an empty array is none. */
    s = VDI_VBDS(",\"vbds\":[" VBD4("a") "," VBD4("b") "," VBD4("c") ","
                 VBD4("dd") "]");
    assert_ok(xlmig__vdi_decode(ctx, "t", (const uint8_t *)s, strlen(s),
                                &v));
    assert_int_equal(v.nr_vbds, 16);
    assert_string_equal(v.vbds[15].vm, "dd4");
    assert_string_equal(v.vbds[15].device, "xvda");
    assert_ok(xlmig__vdi_encode(&v, buf, sizeof(buf), &len));
    memset(&back, 0, sizeof(back));
    assert_ok(xlmig__vdi_decode(ctx, "t", (const uint8_t *)buf, len, &back));
    assert_memory_equal(&v, &back, sizeof(v));
    s = VDI_VBDS(",\"vbds\":[]");
    assert_ok(xlmig__vdi_decode(ctx, "t", (const uint8_t *)s, strlen(s),
                                &v));
    assert_int_equal(v.nr_vbds, 0);

    for (i = 0; i < ARRAY_LEN(bad); i++) {
        memset(&back, 0x5a, sizeof(back));
        reset_log();
        if (xlmig__vdi_decode(ctx, "vdi.json", (const uint8_t *)bad[i].json,
                              strlen(bad[i].json), &back) !=
            LIBXLMIG_ERR_INVALID_ARGUMENT)
            fail_msg("VBDs %zu were taken", i);
        assert_contains(libxlmig_ctx_last_error(ctx), "vdi.json");
        assert_contains(libxlmig_ctx_last_error(ctx), bad[i].says);
        assert_int_equal(((unsigned char *)&back)[0], 0x5a);
    }

    /* Encode refuses what decode would. */
    s = VDI_VBDS(",\"vbds\":[" VBD("a", "xvda") "]");
    assert_ok(xlmig__vdi_decode(ctx, "t", (const uint8_t *)s, strlen(s),
                                &v));
    v.nr_vbds = 2;
    strcpy(v.vbds[1].vm, "a");
    strcpy(v.vbds[1].device, "xvdb");
    assert_int_equal(xlmig__vdi_encode(&v, buf, sizeof(buf), &len),
                     LIBXLMIG_ERR_INVALID_ARGUMENT);
    strcpy(v.vbds[1].vm, "b");
    strcpy(v.vbds[1].device, "vdb");
    assert_int_equal(xlmig__vdi_encode(&v, buf, sizeof(buf), &len),
                     LIBXLMIG_ERR_INVALID_ARGUMENT);
    strcpy(v.vbds[1].device, "xvdb");
    v.nr_vbds = XLMIG__VDI_VBDS_MAX + 1;
    assert_int_equal(xlmig__vdi_encode(&v, buf, sizeof(buf), &len),
                     LIBXLMIG_ERR_INVALID_ARGUMENT);
    v.nr_vbds = 2;
    assert_ok(xlmig__vdi_encode(&v, buf, sizeof(buf), &len));
}

/* VDI @uuid as stored now. */
static struct xlmig__vdi stored(const char *uuid)
{
    struct xlmig__vdi v;

    assert_ok(xlmig__vdi_find(ctx, STATE, uuid, NULL, &v));
    return v;
}

static void test_vbds(void **state)
{
    struct xlmig__sr sr = make_sr();
    struct xlmig__vdi d1, d2, v;
    const char *other;
    char name[16];
    size_t i;

    (void)state;
    assert_ok(xlmig__vdi_create(ctx, STATE, "sr1", "d1", "1M", "raw", &d1));
    assert_ok(xlmig__vdi_create(ctx, STATE, "sr1", "d2", "1M", "raw", &d2));
    assert_int_equal(d1.nr_vbds, 0);

    assert_ok(xlmig__vbd_create(ctx, STATE, d1.uuid, "web1", "xvda", &v));
    assert_int_equal(v.nr_vbds, 1);
    v = stored(d1.uuid);
    assert_int_equal(v.nr_vbds, 1);
    assert_string_equal(v.vbds[0].vm, "web1");
    assert_string_equal(v.vbds[0].device, "xvda");
    assert_null(xlmig__vdi_other_vm(&v, "web1", NULL));
    other = xlmig__vdi_other_vm(&v, NULL, NULL);
    assert_non_null(other);
    assert_string_equal(other, "web1");

    /* Not sharable: another VM is refused, naming the one that has it. */
    reset_log();
    assert_int_equal(xlmig__vbd_create(ctx, STATE, d1.uuid, "web2", "xvda",
                                       NULL), LIBXLMIG_ERR_VDI_IN_USE);
    assert_contains(libxlmig_ctx_last_error(ctx), "used by VM web1 (as "
                                                  "xvda) and is not "
                                                  "sharable");
    assert_contains(libxlmig_ctx_last_error(ctx), "vbd-destroy vm=web1");
    /* The same VM twice on one VDI; a device the VM has on another VDI. */
    assert_int_equal(xlmig__vbd_create(ctx, STATE, d1.uuid, "web1", "xvdb",
                                       NULL), LIBXLMIG_ERR_INVALID_ARGUMENT);
    assert_contains(libxlmig_ctx_last_error(ctx), "has VDI d1");
    assert_int_equal(xlmig__vbd_create(ctx, STATE, d2.uuid, "web1", "xvda",
                                       NULL), LIBXLMIG_ERR_INVALID_ARGUMENT);
    assert_contains(libxlmig_ctx_last_error(ctx), "VM web1 has device xvda "
                                                  "already: VDI d1");
    /* Bad names and devices; unknown VDIs. */
    assert_int_equal(xlmig__vbd_create(ctx, STATE, d2.uuid, "a/b", "xvdb",
                                       NULL), LIBXLMIG_ERR_INVALID_ARGUMENT);
    assert_contains(libxlmig_ctx_last_error(ctx), "VM name \"a/b\"");
    assert_int_equal(xlmig__vbd_create(ctx, STATE, d2.uuid, "web1", "vda",
                                       NULL), LIBXLMIG_ERR_INVALID_ARGUMENT);
    assert_contains(libxlmig_ctx_last_error(ctx), "device \"vda\"");
    assert_int_equal(xlmig__vbd_create(ctx, STATE,
                                       "2d5e2b1c-6a1f-4c3e-9b7a-0e1f2a3b4c5d",
                                       "web1", "xvdb", NULL),
                     LIBXLMIG_ERR_NOT_FOUND);
    assert_int_equal(xlmig__vbd_create(ctx, STATE, "../x", "web1", "xvdb",
                                       NULL), LIBXLMIG_ERR_INVALID_ARGUMENT);
    /* Nothing of that changed the file. */
    v = stored(d1.uuid);
    assert_int_equal(v.nr_vbds, 1);
    v = stored(d2.uuid);
    assert_int_equal(v.nr_vbds, 0);

    /* Sharable: 16 VMs, not 17. */
    assert_ok(xlmig__vdi_param_set(ctx, STATE, d1.uuid,
                                   &(struct xlmig__vdi_flags){
                                       -1, -1, -1, 1 }, NULL));
    for (i = 2; i <= XLMIG__VDI_VBDS_MAX; i++) {
        snprintf(name, sizeof(name), "web%zu", i);
        assert_ok(xlmig__vbd_create(ctx, STATE, d1.uuid, name, "xvda",
                                    NULL));
    }
    reset_log();
    assert_int_equal(xlmig__vbd_create(ctx, STATE, d1.uuid, "web99", "xvda",
                                       NULL), LIBXLMIG_ERR_UNSUPPORTED);
    assert_contains(libxlmig_ctx_last_error(ctx), "has 16 VBDs");
    v = stored(d1.uuid);
    assert_int_equal(v.nr_vbds, 16);

    /* sharable=false while two VMs have it: refused. */
    assert_int_equal(xlmig__vdi_param_set(ctx, STATE, d1.uuid,
                                          &(struct xlmig__vdi_flags){
                                              -1, -1, -1, 0 }, NULL),
                     LIBXLMIG_ERR_VDI_IN_USE);
    assert_contains(libxlmig_ctx_last_error(ctx), "used by 16 VMs (web1, "
                                                  "web2, ...)");

    /* Destroy: the one in the middle; the order of the others stays. */
    assert_ok(xlmig__vbd_destroy(ctx, STATE, d1.uuid, "web5", &v));
    assert_int_equal(v.nr_vbds, 15);
    v = stored(d1.uuid);
    assert_int_equal(v.nr_vbds, 15);
    assert_string_equal(v.vbds[3].vm, "web4");
    assert_string_equal(v.vbds[4].vm, "web6");
    assert_string_equal(v.vbds[14].vm, "web16");
    reset_log();
    assert_int_equal(xlmig__vbd_destroy(ctx, STATE, d1.uuid, "web5", NULL),
                     LIBXLMIG_ERR_NOT_FOUND);
    assert_contains(libxlmig_ctx_last_error(ctx), "VM web5 has no VBD on "
                                                  "VDI d1");
    assert_int_equal(xlmig__vbd_destroy(ctx, STATE, d1.uuid, "", NULL),
                     LIBXLMIG_ERR_INVALID_ARGUMENT);

    /* vdi-destroy refused while a VM has the VDI. */
    reset_log();
    assert_int_equal(xlmig__vdi_destroy(ctx, STATE, d1.uuid),
                     LIBXLMIG_ERR_VDI_IN_USE);
    assert_contains(libxlmig_ctx_last_error(ctx), "VM web1 has it as xvda, "
                                                  "and other VMs too");
    for (i = 1; i <= XLMIG__VDI_VBDS_MAX; i++) {
        if (i == 5)
            continue;
        snprintf(name, sizeof(name), "web%zu", i);
        assert_ok(xlmig__vbd_destroy(ctx, STATE, d1.uuid, name, NULL));
    }
    v = stored(d1.uuid);
    assert_int_equal(v.nr_vbds, 0);
    /* No VBD left: the file is as before VBDs, and no temporary stays. */
    {
        char path[XLMIG__SR_PATH_MAX + 64];
        char *text;

        snprintf(path, sizeof(path), "%s/%s.json", sr.path, d1.uuid);
        text = read_file(path);
        assert_null(strstr(text, "vbds"));
        assert_contains(text, "\"sharable\": true");
        free(text);
        assert_int_equal(count_entries(sr.path, ".tmp"), 0);
    }
    assert_ok(xlmig__vdi_destroy(ctx, STATE, d1.uuid));
    /* xvda is free for web1 again. */
    assert_ok(xlmig__vbd_create(ctx, STATE, d2.uuid, "web1", "xvda", NULL));
}

static void test_vdi_param_set(void **state)
{
    struct xlmig__vdi d, v;
    struct xlmig__vdi_flags keep = XLMIG__VDI_FLAGS_KEEP;
    struct xlmig__vdi_flags set = { XLMIG__VDI_RESET, 1, 1, 1 };
    struct xlmig__vdi_flags bad = { 7, -1, -1, -1 };

    (void)state;
    make_sr();
    assert_ok(xlmig__vdi_create(ctx, STATE, "sr1", "d", "1M", "raw", &d));
    assert_ok(xlmig__vdi_param_set(ctx, STATE, d.uuid, &set, &v));
    v = stored(d.uuid);
    assert_int_equal(v.on_boot, XLMIG__VDI_RESET);
    assert_true(v.cbt_enabled && v.encrypted && v.sharable);
    /* -1 leaves a flag as it is. */
    assert_ok(xlmig__vdi_param_set(ctx, STATE, d.uuid, &keep, NULL));
    set.on_boot = -1;
    set.cbt_enabled = 0;
    assert_ok(xlmig__vdi_param_set(ctx, STATE, d.uuid, &set, NULL));
    v = stored(d.uuid);
    assert_int_equal(v.on_boot, XLMIG__VDI_RESET);
    assert_false(v.cbt_enabled);
    assert_true(v.encrypted);
    assert_int_equal(xlmig__vdi_param_set(ctx, STATE, d.uuid, &bad, NULL),
                     LIBXLMIG_ERR_INVALID_ARGUMENT);
    bad.on_boot = -1;
    bad.sharable = 2;
    assert_int_equal(xlmig__vdi_param_set(ctx, STATE, d.uuid, &bad, NULL),
                     LIBXLMIG_ERR_INVALID_ARGUMENT);
    assert_int_equal(xlmig__vdi_param_set(ctx, STATE, d.uuid, NULL, NULL),
                     LIBXLMIG_ERR_INVALID_ARGUMENT);
    assert_int_equal(xlmig__vdi_param_set(ctx, STATE,
                                          "2d5e2b1c-6a1f-4c3e-9b7a-"
                                          "0e1f2a3b4c5d", &keep, NULL),
                     LIBXLMIG_ERR_NOT_FOUND);
}

/*
 * Eight processes add a VBD each to one sharable VDI at once: the lock
 * makes each read-modify-write whole, so all eight are there.
 */
static void test_vbd_concurrent(void **state)
{
    struct xlmig__vdi d, v;
    pid_t pids[8];
    size_t i;
    int status;

    (void)state;
    make_sr();
    assert_ok(xlmig__vdi_create(ctx, STATE, "sr1", "shared", "1M", "raw",
                                &d));
    assert_ok(xlmig__vdi_param_set(ctx, STATE, d.uuid,
                                   &(struct xlmig__vdi_flags){
                                       -1, -1, -1, 1 }, NULL));
    for (i = 0; i < ARRAY_LEN(pids); i++) {
        pids[i] = fork();
        assert_true(pids[i] >= 0);
        if (pids[i] == 0) {
            libxlmig_ctx *c = NULL;
            char vm[16];
            int rc = 1;

            snprintf(vm, sizeof(vm), "vm%zu", i);
            if (!libxlmig_ctx_new(NULL, LIBXLMIG_LOG_ERROR, &c))
                rc = xlmig__vbd_create(c, STATE, d.uuid, vm, "xvdb", NULL);
            _exit(rc ? 1 : 0);
        }
    }
    for (i = 0; i < ARRAY_LEN(pids); i++) {
        assert_int_equal(waitpid(pids[i], &status, 0), pids[i]);
        assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    }
    v = stored(d.uuid);
    assert_int_equal(v.nr_vbds, ARRAY_LEN(pids));
}

/*
 * Storage motion makes and removes VDI metadata in an SR without the
 * lock (a destination's parent and leaf made, the leaf removed once
 * composed).  While a process does that over and over, four VMs each
 * get a VBD on a VDI of their own, drop it and get it again, and list
 * the VDIs: a metadata file removed between readdir() and its read is
 * a VDI no longer there, never a failed listing or a VBD not recorded.
 */
#define CHURN_LEAVES 16
#define VBD_ROUNDS 20

static void churn_leaves(const struct xlmig__sr *sr,
                         const struct xlmig__vdi *like, pid_t parent)
{
    struct xlmig__vdi leaf[CHURN_LEAVES];
    libxlmig_ctx *c = NULL;
    size_t k;

    if (libxlmig_ctx_new(NULL, LIBXLMIG_LOG_ERROR, &c))
        _exit(2);
    /* Until told, or the test is gone. */
    while (access(at("stop"), F_OK) && getppid() == parent) {
        for (k = 0; k < CHURN_LEAVES; k++) {
            leaf[k] = *like;
            leaf[k].format = XLMIG__VDI_QCOW2;
            snprintf(leaf[k].name, sizeof(leaf[k].name), "moving%zu.leaf", k);
            if (xlmig__uuid_generate(c, leaf[k].uuid) ||
                xlmig__sxm_vdi_meta_write(c, sr, &leaf[k], NULL))
                _exit(3);
        }
        for (k = 0; k < CHURN_LEAVES; k++)
            xlmig__sxm_vdi_files_remove(c, sr, leaf[k].uuid,
                                        XLMIG__VDI_QCOW2);
    }
    libxlmig_ctx_free(c);
    _exit(0);
}

/* VM @vm takes VDI @uuid as xvda VBD_ROUNDS times; 0, or the round. */
static int vbd_rounds(const char *uuid, const char *vm)
{
    struct xlmig__vdi *vdis = NULL;
    libxlmig_ctx *c = NULL;
    size_t nr = 0;
    int round;

    if (libxlmig_ctx_new(NULL, LIBXLMIG_LOG_ERROR, &c))
        return 100;
    for (round = 1; round <= VBD_ROUNDS; round++) {
        struct xlmig__sr s;

        if (xlmig__vbd_create(c, STATE, uuid, vm, "xvda", NULL) ||
            xlmig__sr_find(c, STATE, "sr1", &s) ||
            xlmig__vdi_list(c, &s, &vdis, &nr))
            break;
        free(vdis);
        vdis = NULL;
        if (round < VBD_ROUNDS &&
            xlmig__vbd_destroy(c, STATE, uuid, vm, NULL))
            break;
    }
    libxlmig_ctx_free(c);
    return round > VBD_ROUNDS ? 0 : round;
}

static void test_vbd_while_vdis_go(void **state)
{
    struct xlmig__sr sr = make_sr();
    struct xlmig__vdi d[4], v, *vdis = NULL;
    pid_t parent, churn, pids[ARRAY_LEN(d)];
    char vm[16];
    size_t i, nr = 0;
    int status, failed[ARRAY_LEN(d)];

    (void)state;
    for (i = 0; i < ARRAY_LEN(d); i++) {
        snprintf(vm, sizeof(vm), "disk%zu", i);
        assert_ok(xlmig__vdi_create(ctx, STATE, "sr1", vm, "1M", "raw",
                                    &d[i]));
    }
    parent = getpid();
    churn = fork();
    assert_true(churn >= 0);
    if (churn == 0)
        churn_leaves(&sr, &d[0], parent);
    for (i = 0; i < ARRAY_LEN(pids); i++) {
        pids[i] = fork();
        assert_true(pids[i] >= 0);
        if (pids[i] == 0) {
            snprintf(vm, sizeof(vm), "vm%zu", i);
            _exit(vbd_rounds(d[i].uuid, vm));
        }
    }
    /* Every process ended before any verdict: none outlives the test. */
    for (i = 0; i < ARRAY_LEN(pids); i++) {
        if (waitpid(pids[i], &failed[i], 0) != pids[i])
            failed[i] = -1;
    }
    write_file(at("stop"), "", 0);
    assert_int_equal(waitpid(churn, &status, 0), churn);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    for (i = 0; i < ARRAY_LEN(pids); i++) {
        if (!WIFEXITED(failed[i]) || WEXITSTATUS(failed[i]))
            fail_msg("VM vm%zu: round %d of %d failed", i,
                     WIFEXITED(failed[i]) ? WEXITSTATUS(failed[i]) : -1,
                     VBD_ROUNDS);
    }
    for (i = 0; i < ARRAY_LEN(d); i++) {
        snprintf(vm, sizeof(vm), "vm%zu", i);
        v = stored(d[i].uuid);
        assert_int_equal(v.nr_vbds, 1);
        assert_string_equal(v.vbds[0].vm, vm);
        assert_string_equal(v.vbds[0].device, "xvda");
    }
    assert_ok(xlmig__vdi_list(ctx, &sr, &vdis, &nr));
    assert_int_equal(nr, ARRAY_LEN(d));
    free(vdis);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_path_check),
        cmocka_unit_test(test_metadata),
        cmocka_unit_test_setup_teardown(test_sr_create_find, dir_setup,
                                        dir_teardown),
        cmocka_unit_test_setup_teardown(test_vdi_create_sizes_destroy,
                                        dir_setup, dir_teardown),
        cmocka_unit_test_setup_teardown(test_vdi_refusals, dir_setup,
                                        dir_teardown),
        cmocka_unit_test_setup_teardown(test_qemu_img_fails, dir_setup,
                                        dir_teardown),
        cmocka_unit_test_setup_teardown(test_bad_files, dir_setup,
                                        dir_teardown),
        cmocka_unit_test(test_vbd_device),
        cmocka_unit_test(test_vbd_metadata),
        cmocka_unit_test_setup_teardown(test_vbds, dir_setup, dir_teardown),
        cmocka_unit_test_setup_teardown(test_vdi_param_set, dir_setup,
                                        dir_teardown),
        cmocka_unit_test_setup_teardown(test_vbd_concurrent, dir_setup,
                                        dir_teardown),
        cmocka_unit_test_setup_teardown(test_vbd_while_vdis_go, dir_setup,
                                        dir_teardown),
    };

    return cmocka_run_group_tests_name("sr", tests, group_setup,
                                       group_teardown);
}

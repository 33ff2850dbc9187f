/* SPDX-License-Identifier: LGPL-2.1-only */
/*
 * CPU records (libxlmig/cpurecord.c, docs/specs/cpu-records.md): JSON
 * round trips of host and VM records, every way a record is refused
 * (table-driven, with the file and member in the message and the output
 * untouched), the record name check, and the files: save and load in a
 * temporary state directory, saving over a record, a failed save that
 * leaves the old record whole, the not-found hint, a record renamed on
 * disk, an oversized or non-regular file, removal, and the sorted list
 * that skips leftovers.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cpurecord.h"
#include "internal.h"
#include "jsonfile.h"
#include "testctx.h"
#include "testfs.h"
#include "testutil.h"

#define FS_A "07cbfbff-04082201-20100800-00000001-00000000-00000000-" \
             "00000000-00000000-00000000"
#define FS_B "07c9cbf5-80082201-20100800-00000001"
#define UUID1 "2d5e2b1c-6a1f-4c3e-9b7a-0e1f2a3b4c5d"


/* ------------------------------------------------------------ fixtures */

static libxlmig_featureset fs_of(const char *text)
{
    libxlmig_featureset fs;

    if (libxlmig_featureset_parse(NULL, "test", text, &fs))
        fail_msg("cannot parse \"%s\"", text);
    return fs;
}

static struct xlmig__host_record host_rec(const char *name)
{
    struct xlmig__host_record r;

    memset(&r, 0, sizeof(r));
    xlmig__strlcpy(r.name, name, sizeof(r.name));
    r.vendor = LIBXLMIG_CPU_VENDOR_AMD;
    r.pv_max = fs_of(FS_B);
    r.hvm_max = fs_of(FS_A);
    r.recorded = 1763769600;
    return r;
}

static struct xlmig__vm_record vm_rec(const char *name)
{
    struct xlmig__vm_record r;

    memset(&r, 0, sizeof(r));
    xlmig__strlcpy(r.name, name, sizeof(r.name));
    xlmig__strlcpy(r.uuid, UUID1, sizeof(r.uuid));
    r.type = LIBXLMIG_GUEST_HVM;
    r.cpu.vendor = LIBXLMIG_CPU_VENDOR_INTEL;
    r.cpu.features = fs_of(FS_A);
    xlmig__strlcpy(r.host, "h1", sizeof(r.host));
    r.recorded = 1763769600;
    return r;
}

/* Equal as records: also the same number of featureset words. */
static void assert_fs_same(const libxlmig_featureset *a,
                           const libxlmig_featureset *b)
{
    assert_int_equal(a->nr_words, b->nr_words);
    assert_memory_equal(a->words, b->words,
                        sizeof(a->words[0]) * a->nr_words);
}

static void assert_host_same(const struct xlmig__host_record *a,
                             const struct xlmig__host_record *b)
{
    assert_string_equal(a->name, b->name);
    assert_int_equal(a->vendor, b->vendor);
    assert_fs_same(&a->pv_max, &b->pv_max);
    assert_fs_same(&a->hvm_max, &b->hvm_max);
    assert_int_equal(a->recorded, b->recorded);
}

static void assert_vm_same(const struct xlmig__vm_record *a,
                           const struct xlmig__vm_record *b)
{
    assert_string_equal(a->name, b->name);
    assert_string_equal(a->uuid, b->uuid);
    assert_int_equal(a->type, b->type);
    assert_int_equal(a->cpu.vendor, b->cpu.vendor);
    assert_fs_same(&a->cpu.features, &b->cpu.features);
    assert_string_equal(a->host, b->host);
    assert_int_equal(a->recorded, b->recorded);
}

static int decode_host(const char *json, struct xlmig__host_record *r)
{
    return xlmig__host_record_decode(ctx, "test.json", (const uint8_t *)json,
                                     strlen(json), r);
}

static int decode_vm(const char *json, struct xlmig__vm_record *r)
{
    return xlmig__vm_record_decode(ctx, "test.json", (const uint8_t *)json,
                                   strlen(json), r);
}

/* ------------------------------------------------------------ round trips */

static void test_host_round_trip(void **state)
{
    static const struct {
        const char *name;
        libxlmig_cpu_vendor vendor;
        const char *pv, *hvm;
        int64_t recorded;
    } cases[] = {
        { "h1", LIBXLMIG_CPU_VENDOR_AMD, FS_B, FS_A, 1763769600 },
        { "host-2.example.com", LIBXLMIG_CPU_VENDOR_INTEL, "", "", 0 },
        { "H_3", LIBXLMIG_CPU_VENDOR_SHANGHAI, "1", "0-0-0", INT64_MAX },
        { "h4", LIBXLMIG_CPU_VENDOR_HYGON, "ffffffff", "00000000", 1 },
        { "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
          LIBXLMIG_CPU_VENDOR_CENTAUR,
          /* 32 words, the most a featureset has. */
          "1-2-3-4-5-6-7-8-9-a-b-c-d-e-f-10-11-12-13-14-15-16-17-18-19-1a-"
          "1b-1c-1d-1e-1f-ffffffff", FS_A, 42 },
    };
    size_t i;

    (void)state;
    for (i = 0; i < ARRAY_LEN(cases); i++) {
        struct xlmig__host_record r, back;
        char buf[4096];
        size_t len = 0;

        memset(&r, 0, sizeof(r));
        xlmig__strlcpy(r.name, cases[i].name, sizeof(r.name));
        r.vendor = cases[i].vendor;
        r.pv_max = fs_of(cases[i].pv);
        r.hvm_max = fs_of(cases[i].hvm);
        r.recorded = cases[i].recorded;
        assert_int_equal(xlmig__host_record_encode(&r, buf, sizeof(buf),
                                                   &len), 0);
        assert_int_equal(len, strlen(buf));
        assert_contains(buf, "\"kind\": \"host\"");
        assert_contains(buf, "\"version\": 1");
        assert_contains(buf, libxlmig_cpu_vendor_string(cases[i].vendor));
        memset(&back, 0x5a, sizeof(back));
        reset_log();
        assert_int_equal(decode_host(buf, &back), 0);
        assert_int_equal(cap.count, 0);
        assert_host_same(&r, &back);
        /* A buffer one byte short: refused, never cut. */
        assert_int_equal(xlmig__host_record_encode(&r, buf, len, &len),
                         LIBXLMIG_ERR_INVALID_ARGUMENT);
    }
}

static void test_vm_round_trip(void **state)
{
    static const struct {
        const char *uuid;
        libxlmig_guest_type type;
        libxlmig_cpu_vendor vendor;
        const char *features;
    } cases[] = {
        { UUID1, LIBXLMIG_GUEST_HVM, LIBXLMIG_CPU_VENDOR_INTEL, FS_A },
        { "", LIBXLMIG_GUEST_PV, LIBXLMIG_CPU_VENDOR_AMD, "" },
        { "2D5E2B1C-6A1F-4C3E-9B7A-0E1F2A3B4C5D", LIBXLMIG_GUEST_PV,
          LIBXLMIG_CPU_VENDOR_HYGON, FS_B },
    };
    size_t i;

    (void)state;
    for (i = 0; i < ARRAY_LEN(cases); i++) {
        struct xlmig__vm_record r = vm_rec("web1"), back;
        char buf[4096];
        size_t len = 0;

        xlmig__strlcpy(r.uuid, cases[i].uuid, sizeof(r.uuid));
        r.type = cases[i].type;
        r.cpu.vendor = cases[i].vendor;
        r.cpu.features = fs_of(cases[i].features);
        assert_int_equal(xlmig__vm_record_encode(&r, buf, sizeof(buf), &len),
                         0);
        assert_int_equal(len, strlen(buf));
        assert_contains(buf, "\"kind\": \"vm\"");
        assert_contains(buf, cases[i].type == LIBXLMIG_GUEST_PV
                                 ? "\"type\": \"pv\"" : "\"type\": \"hvm\"");
        memset(&back, 0x5a, sizeof(back));
        assert_int_equal(decode_vm(buf, &back), 0);
        assert_vm_same(&r, &back);
    }
}

/* The examples of docs/specs/cpu-records.md, compact and with extras. */
static void test_decode_examples(void **state)
{
    struct xlmig__host_record h;
    struct xlmig__vm_record v;

    (void)state;
    assert_int_equal(
        decode_host("{\"version\":1,\"kind\":\"host\",\"name\":\"h1\","
                    "\"vendor\":\"AuthenticAMD\",\"pv_max\":\"" FS_B "\","
                    "\"hvm_max\":\"" FS_A "\",\"recorded\":1763769600}", &h),
        0);
    assert_string_equal(h.name, "h1");
    assert_int_equal(h.vendor, LIBXLMIG_CPU_VENDOR_AMD);
    assert_int_equal(h.pv_max.nr_words, 4);
    assert_int_equal(h.pv_max.words[1], 0x80082201u);
    assert_int_equal(h.hvm_max.nr_words, 9);
    assert_int_equal(h.recorded, 1763769600);

    /* Unknown members (a later version's) are ignored; short vendor. */
    assert_int_equal(
        decode_vm("{\"later\":{\"a\":[1,2,{\"b\":null}]},\"version\":1,"
                  "\"kind\":\"vm\",\"name\":\"web1\",\"uuid\":\"" UUID1 "\","
                  "\"type\":\"pv\",\"vendor\":\"intel\",\"features\":\"1-2\","
                  "\"host\":\"h1\",\"recorded\":0,\"note\":\"\\u00e9\"}",
                  &v),
        0);
    assert_string_equal(v.name, "web1");
    assert_string_equal(v.uuid, UUID1);
    assert_int_equal(v.type, LIBXLMIG_GUEST_PV);
    assert_int_equal(v.cpu.vendor, LIBXLMIG_CPU_VENDOR_INTEL);
    assert_int_equal(v.cpu.features.nr_words, 2);
    assert_string_equal(v.host, "h1");
    assert_int_equal(v.recorded, 0);
}

static void test_encode_refuses(void **state)
{
    struct xlmig__host_record h;
    struct xlmig__vm_record v;
    char buf[4096];
    size_t len = 0;

    (void)state;
    h = host_rec("h1");
    h.name[0] = '\0';
    assert_int_equal(xlmig__host_record_encode(&h, buf, sizeof(buf), &len),
                     LIBXLMIG_ERR_INVALID_ARGUMENT);
    h = host_rec("a/b");
    assert_int_equal(xlmig__host_record_encode(&h, buf, sizeof(buf), &len),
                     LIBXLMIG_ERR_INVALID_ARGUMENT);
    h = host_rec("h1");
    h.vendor = LIBXLMIG_CPU_VENDOR_UNKNOWN;
    assert_int_equal(xlmig__host_record_encode(&h, buf, sizeof(buf), &len),
                     LIBXLMIG_ERR_INVALID_ARGUMENT);
    h = host_rec("h1");
    h.hvm_max.nr_words = LIBXLMIG_FEATURESET_MAX_WORDS + 1;
    assert_int_equal(xlmig__host_record_encode(&h, buf, sizeof(buf), &len),
                     LIBXLMIG_ERR_INVALID_ARGUMENT);
    h = host_rec("h1");
    h.recorded = -1;
    assert_int_equal(xlmig__host_record_encode(&h, buf, sizeof(buf), &len),
                     LIBXLMIG_ERR_INVALID_ARGUMENT);

    v = vm_rec("web1");
    xlmig__strlcpy(v.uuid, "not-a-uuid", sizeof(v.uuid));
    assert_int_equal(xlmig__vm_record_encode(&v, buf, sizeof(buf), &len),
                     LIBXLMIG_ERR_INVALID_ARGUMENT);
    v = vm_rec("web1");
    memset(v.uuid, 'a', sizeof(v.uuid));         /* no NUL */
    assert_int_equal(xlmig__vm_record_encode(&v, buf, sizeof(buf), &len),
                     LIBXLMIG_ERR_INVALID_ARGUMENT);
    v = vm_rec("web1");
    v.type = (libxlmig_guest_type)7;
    assert_int_equal(xlmig__vm_record_encode(&v, buf, sizeof(buf), &len),
                     LIBXLMIG_ERR_INVALID_ARGUMENT);
    v = vm_rec("web1");
    v.host[0] = '\0';
    assert_int_equal(xlmig__vm_record_encode(&v, buf, sizeof(buf), &len),
                     LIBXLMIG_ERR_INVALID_ARGUMENT);
    v = vm_rec("web1");
    v.cpu.vendor = (libxlmig_cpu_vendor)99;
    assert_int_equal(xlmig__vm_record_encode(&v, buf, sizeof(buf), &len),
                     LIBXLMIG_ERR_INVALID_ARGUMENT);

    /* Save says why, naming the record. */
    h = host_rec("h1");
    h.vendor = LIBXLMIG_CPU_VENDOR_UNKNOWN;
    reset_log();
    assert_int_equal(xlmig__host_record_save(ctx, "/nonexistent", &h),
                     LIBXLMIG_ERR_INVALID_ARGUMENT);
    assert_contains(libxlmig_ctx_last_error(ctx), "host h1");
    assert_contains(libxlmig_ctx_last_error(ctx), "vendor");
    assert_int_equal(cap.count, 1);
}

/* ------------------------------------------------------------ rejections */

/*
 * A record built from its members, one of them replaced (@value, raw
 * JSON) or left out (@value NULL).
 */
struct member_text {
    const char *key;
    const char *value;
};

static const struct member_text host_members[] = {
    { "version", "1" },
    { "kind", "\"host\"" },
    { "name", "\"h1\"" },
    { "vendor", "\"AuthenticAMD\"" },
    { "pv_max", "\"" FS_B "\"" },
    { "hvm_max", "\"" FS_A "\"" },
    { "recorded", "1763769600" },
};

static const struct member_text vm_members[] = {
    { "version", "1" },
    { "kind", "\"vm\"" },
    { "name", "\"web1\"" },
    { "uuid", "\"" UUID1 "\"" },
    { "type", "\"hvm\"" },
    { "vendor", "\"GenuineIntel\"" },
    { "features", "\"" FS_A "\"" },
    { "host", "\"h1\"" },
    { "recorded", "1763769600" },
};

static void build(char *buf, size_t len, const struct member_text *members,
                  size_t nr, const char *key, const char *value)
{
    size_t i, pos;

    pos = (size_t)snprintf(buf, len, "{");
    for (i = 0; i < nr; i++) {
        const char *v = members[i].value;

        if (key && !strcmp(key, members[i].key)) {
            if (!value)
                continue;
            v = value;
        }
        pos += (size_t)snprintf(buf + pos, len - pos, "%s\"%s\":%s",
                                pos > 1 ? "," : "", members[i].key, v);
    }
    snprintf(buf + pos, len - pos, "}");
    assert_true(pos + 1 < len);
}

struct bad_case {
    const char *key;        /* member replaced, or NULL: @value is the text */
    const char *value;      /* raw JSON; NULL with @key: member left out */
    const char *want;       /* in the message */
};

/* Both decoders refuse these the same way. */
static const struct bad_case common_bad[] = {
    { NULL, "", "not valid JSON" },
    { NULL, "{", "not valid JSON" },
    { NULL, "{\"version\":1,}", "not valid JSON" },
    { NULL, "{\"version\":1} x", "trailing garbage" },
    { NULL, "{\"version\":1, /* c */ \"kind\":\"x\"}", "not valid JSON" },
    { NULL, "[1]", "is an array, not an object" },
    { NULL, "null", "is null, not an object" },
    { NULL, "\"text\"", "is a string, not an object" },
    { NULL, "{\"version\":1,\"deep\":[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]}",
      "nested deeper than 16 levels" },
    { NULL, "{\"version\":1,\"x\":\"a\\u0000b\"}", "NUL character" },
    { NULL, "{\"version\":1,\"a\\u0000\":1}", "NUL character" },
    { NULL, "{\"version\":1,\"x\":\"\xff\"}", "not valid JSON" },
    { "version", NULL, "member \"version\" is missing" },
    { "version", "2", "version 2, but this libxlmig reads version 1 only" },
    { "version", "0", "version 0" },
    { "version", "\"1\"", "member \"version\" is a string, not an integer" },
    { "version", "1.0", "member \"version\" is a number that is not an "
                        "integer" },
    { "kind", NULL, "member \"kind\" is missing" },
    { "kind", "\"pool\"", "member \"kind\" is \"pool\", expected" },
    { "kind", "1", "member \"kind\" is an integer, not a string" },
    { "name", NULL, "member \"name\" is missing" },
    { "name", "\"\"", "member \"name\": \"\" is not a valid name: it is "
                      "empty" },
    { "name", "\".hidden\"", "it starts with '.'" },
    { "name", "\"-x\"", "it starts with '-'" },
    { "name", "\"a/b\"", "member \"name\": \"a/b\" is not a valid name: "
                         "byte 1" },
    { "name", "\"a b\"", "byte 1 is not a letter" },
    { "name", "\"\\u00e9t\\u00e9\"", "byte 0 is not a letter" },
    { "name", "\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
              "aaaaaa\"", "longer than 64 bytes" },
    { "name", "5", "member \"name\" is an integer, not a string" },
    { "name", "null", "member \"name\" is null, not a string" },
    { "vendor", NULL, "member \"vendor\" is missing" },
    { "vendor", "\"Intel Corp\"", "member \"vendor\": \"Intel Corp\" is not "
                                  "a CPU vendor" },
    { "vendor", "\"\"", "member \"vendor\": \"\" is not a CPU vendor" },
    { "vendor", "[\"AuthenticAMD\"]", "member \"vendor\" is an array" },
    { "recorded", NULL, "member \"recorded\" is missing" },
    { "recorded", "-1", "member \"recorded\" is -1, before 1970" },
    { "recorded", "1.5", "member \"recorded\" is a number that is not an "
                         "integer" },
    { "recorded", "1e9", "member \"recorded\" is a number that is not" },
    { "recorded", "99999999999999999999", "member \"recorded\" is a number "
                                          "that is not" },
    { "recorded", "\"1763769600\"", "member \"recorded\" is a string" },
    { "recorded", "true", "member \"recorded\" is true, not an integer" },
};

static const struct bad_case host_bad[] = {
    { "kind", "\"vm\"", "member \"kind\" is \"vm\", expected \"host\"" },
    { "pv_max", NULL, "member \"pv_max\" is missing" },
    { "pv_max", "\"zz\"", "member \"pv_max\": \"zz\" is not a featureset "
                          "string" },
    { "hvm_max", "\"1--2\"", "member \"hvm_max\": \"1--2\" is not a "
                             "featureset string: word 2 at offset 2 is "
                             "empty" },
    { "hvm_max", "\"0x1\"", "member \"hvm_max\": \"0x1\"" },
    { "hvm_max", "{}", "member \"hvm_max\" is an object, not a string" },
    { NULL, "{\"version\":1,\"kind\":\"host\",\"name\":\"h1\","
            "\"name\":\"h2\",\"vendor\":\"amd\",\"pv_max\":\"\","
            "\"hvm_max\":\"\",\"recorded\":1}",
      "member \"name\" appears more than once" },
};

static const struct bad_case vm_bad[] = {
    { "kind", "\"host\"", "member \"kind\" is \"host\", expected \"vm\"" },
    { "uuid", NULL, "member \"uuid\" is missing" },
    { "uuid", "\"abc\"", "member \"uuid\": \"abc\" is not a UUID" },
    { "uuid", "\"2d5e2b1c-6a1f-4c3e-9b7a-0e1f2a3b4c5dd\"", "is not a UUID" },
    { "uuid", "\"2d5e2b1c-6a1f-4c3e-9b7a-0e1f2a3b4c5\"", "is not a UUID" },
    { "uuid", "\"2d5e2b1c-6a1f-4c3e-9b7a-0e1f2a3b4c5g\"", "is not a UUID" },
    { "uuid", "\"2d5e2b1c06a1f-4c3e-9b7a-0e1f2a3b4c5d\"", "is not a UUID" },
    { "uuid", "\"{2d5e2b1c-6a1f-4c3e-9b7a-0e1f2a3b4c}\"", "is not a UUID" },
    { "uuid", "null", "member \"uuid\" is null, not a string" },
    { "type", NULL, "member \"type\" is missing" },
    { "type", "\"pvh\"", "member \"type\": \"pvh\" is not a guest type" },
    { "type", "\"HVM\"", "member \"type\": \"HVM\" is not a guest type" },
    { "type", "1", "member \"type\" is an integer, not a string" },
    { "features", NULL, "member \"features\" is missing" },
    { "features", "\"07cbfbff-\"", "member \"features\": \"07cbfbff-\" is "
                                   "not a featureset string" },
    { "features", "\"avx512f\"", "member \"features\": \"avx512f\"" },
    { "host", NULL, "member \"host\" is missing" },
    { "host", "\"\"", "member \"host\": \"\" is not a valid name" },
    { "host", "\"h1/..\"", "member \"host\": \"h1/..\" is not a valid name" },
};

/* Run @c on a decoder; *r must stay as it was. */
static void check_bad(const struct bad_case *c, bool vm)
{
    char text[4096], msg[1200];
    union {
        struct xlmig__host_record h;
        struct xlmig__vm_record v;
    } r, before;
    int rc;

    if (c->key)
        build(text, sizeof(text), vm ? vm_members : host_members,
              vm ? ARRAY_LEN(vm_members) : ARRAY_LEN(host_members), c->key,
              c->value);
    else
        snprintf(text, sizeof(text), "%s", c->value);
    memset(&r, 0xa5, sizeof(r));
    before = r;
    reset_log();
    rc = vm ? decode_vm(text, &r.v) : decode_host(text, &r.h);
    if (rc != LIBXLMIG_ERR_RECORD_INVALID)
        fail_msg("%s decoder gave %d for %s", vm ? "VM" : "host", rc, text);
    snprintf(msg, sizeof(msg), "%s", libxlmig_ctx_last_error(ctx));
    assert_contains(msg, "CPU_RECORD_INVALID: CPU record test.json: ");
    assert_contains(msg, c->want);
    /* Logged once, in our name only. */
    assert_int_equal(cap.count, 1);
    assert_null(strstr(cap.text, "INVALID_FEATURE_STRING"));
    assert_null(strstr(cap.text, "INVALID_CPU_VENDOR"));
    assert_memory_equal(&r, &before, sizeof(r));

    /* Without a context: the same answer, nothing logged. */
    reset_log();
    rc = vm ? xlmig__vm_record_decode(NULL, "x", (const uint8_t *)text,
                                      strlen(text), &r.v)
            : xlmig__host_record_decode(NULL, "x", (const uint8_t *)text,
                                        strlen(text), &r.h);
    assert_int_equal(rc, LIBXLMIG_ERR_RECORD_INVALID);
    assert_int_equal(cap.count, 0);
    assert_memory_equal(&r, &before, sizeof(r));
}

static void test_decode_rejects(void **state)
{
    size_t i;

    (void)state;
    for (i = 0; i < ARRAY_LEN(common_bad); i++) {
        check_bad(&common_bad[i], false);
        check_bad(&common_bad[i], true);
    }
    for (i = 0; i < ARRAY_LEN(host_bad); i++)
        check_bad(&host_bad[i], false);
    for (i = 0; i < ARRAY_LEN(vm_bad); i++)
        check_bad(&vm_bad[i], true);
}

/* The bases of the table decode: each case fails for its own reason. */
static void test_decode_table_bases(void **state)
{
    struct xlmig__host_record h;
    struct xlmig__vm_record v;
    char text[4096];

    (void)state;
    build(text, sizeof(text), host_members, ARRAY_LEN(host_members), NULL,
          NULL);
    assert_int_equal(decode_host(text, &h), 0);
    build(text, sizeof(text), vm_members, ARRAY_LEN(vm_members), NULL, NULL);
    assert_int_equal(decode_vm(text, &v), 0);
}

static void test_decode_bytes(void **state)
{
    static const char good[] =
        "{\"version\":1,\"kind\":\"host\",\"name\":\"h1\",\"vendor\":\"amd\","
        "\"pv_max\":\"\",\"hvm_max\":\"\",\"recorded\":1}";
    struct xlmig__host_record h, before;
    uint8_t *big;

    (void)state;
    memset(&h, 0x11, sizeof(h));
    before = h;
    /* Not NUL-ended: only @len bytes are read. */
    big = malloc(XLMIG__RECORD_FILE_MAX + 2);
    assert_non_null(big);
    memset(big, ' ', XLMIG__RECORD_FILE_MAX + 2);
    memcpy(big, good, strlen(good));
    assert_int_equal(xlmig__host_record_decode(ctx, "t", big, strlen(good),
                                               &h), 0);
    /* Padded with spaces to the cap: still a record. */
    h = before;
    assert_int_equal(xlmig__host_record_decode(ctx, "t", big,
                                               XLMIG__RECORD_FILE_MAX, &h),
                     0);
    /* One byte more: refused before parsing. */
    h = before;
    reset_log();
    assert_int_equal(xlmig__host_record_decode(ctx, "t", big,
                                               XLMIG__RECORD_FILE_MAX + 1,
                                               &h),
                     LIBXLMIG_ERR_RECORD_INVALID);
    assert_contains(libxlmig_ctx_last_error(ctx), "65537 bytes, more than");
    assert_memory_equal(&h, &before, sizeof(h));
    /* A NUL byte in the text. */
    big[strlen(good)] = '\0';
    assert_int_equal(xlmig__host_record_decode(ctx, "t", big,
                                               strlen(good) + 2, &h),
                     LIBXLMIG_ERR_RECORD_INVALID);
    assert_contains(libxlmig_ctx_last_error(ctx), "NUL byte at offset");
    assert_memory_equal(&h, &before, sizeof(h));
    free(big);
    /* NULL text of length 0 is the empty text; NULL record is refused. */
    assert_int_equal(xlmig__host_record_decode(ctx, "t", NULL, 0, &h),
                     LIBXLMIG_ERR_RECORD_INVALID);
    assert_int_equal(xlmig__host_record_decode(NULL, "t",
                                               (const uint8_t *)good,
                                               strlen(good), NULL),
                     LIBXLMIG_ERR_INVALID_ARGUMENT);
    /* No label: still a message. */
    assert_int_equal(xlmig__host_record_decode(ctx, NULL,
                                               (const uint8_t *)"{}", 2, &h),
                     LIBXLMIG_ERR_RECORD_INVALID);
    assert_contains(libxlmig_ctx_last_error(ctx), "CPU record (unnamed): ");
}

/* ------------------------------------------------------------ names */

static void test_name_check(void **state)
{
    static const char *const good[] = {
        "h1", "a", "A.b_c-d", "web1.example.com", "0", "x-", "x.",
        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
    };
    static const struct {
        const char *name, *want;
    } bad[] = {
        { NULL, "no name given" },
        { "", "it is empty" },
        { ".", "starts with '.'" },
        { "..", "starts with '.'" },
        { ".json", "starts with '.'" },
        { "-rf", "starts with '-'" },
        { "a b", "byte 1" },
        { "a/b", "byte 1" },
        { "../x", "starts with '.'" },
        { "x\n", "\"x?\"" },
        { "caf\xc3\xa9", "byte 3" },
        { "a:b", "byte 1" },
        { "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
          "longer than 64 bytes" },
    };
    size_t i;

    (void)state;
    for (i = 0; i < ARRAY_LEN(good); i++) {
        reset_log();
        assert_int_equal(xlmig__name_check(ctx, "VM name", good[i]),
                         0);
        assert_int_equal(cap.count, 0);
    }
    for (i = 0; i < ARRAY_LEN(bad); i++) {
        reset_log();
        assert_int_equal(xlmig__name_check(ctx, "VM name",
                                                  bad[i].name),
                         LIBXLMIG_ERR_INVALID_ARGUMENT);
        assert_contains(libxlmig_ctx_last_error(ctx),
                        "INVALID_VALUE: VM name \"");
        assert_contains(libxlmig_ctx_last_error(ctx), bad[i].want);
        assert_contains(libxlmig_ctx_last_error(ctx), "1 to 64 bytes");
        assert_int_equal(cap.count, 1);
        assert_int_equal(xlmig__name_check(NULL, NULL, bad[i].name),
                         LIBXLMIG_ERR_INVALID_ARGUMENT);
    }
}

static void test_state_dir(void **state)
{
    (void)state;
    assert_string_equal(xlmig__state_dir("/x"), "/x");
    unsetenv("XLMIG_STATE_DIR");
    assert_string_equal(xlmig__state_dir(NULL), XLMIG__STATE_DIR_DEFAULT);
    assert_string_equal(XLMIG__STATE_DIR_DEFAULT, "/var/lib/xlmig");
    setenv("XLMIG_STATE_DIR", "", 1);
    assert_string_equal(xlmig__state_dir(NULL), XLMIG__STATE_DIR_DEFAULT);
    setenv("XLMIG_STATE_DIR", "/srv/st", 1);
    assert_string_equal(xlmig__state_dir(NULL), "/srv/st");
    assert_string_equal(xlmig__state_dir("/x"), "/x");
    unsetenv("XLMIG_STATE_DIR");
}

/* ------------------------------------------------------------ files */

static int dir_setup(void **state)
{
    (void)state;
    return testfs_dir_setup("test-cpurecord");
}

static void test_save_load(void **state)
{
    struct xlmig__host_record h = host_rec("h1"), hb;
    struct xlmig__vm_record v = vm_rec("web1"), vb;
    struct stat st;
    char dir[256];

    (void)state;
    snprintf(dir, sizeof(dir), "%s", at("state"));
    /* The state directory is created on the first save. */
    reset_log();
    assert_ok(xlmig__host_record_save(ctx, dir, &h));
    assert_ok(xlmig__vm_record_save(ctx, dir, &v));
    assert_int_equal(cap.count, 0);
    assert_int_equal(stat(dir, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0700);
    assert_int_equal(stat(at("state/hosts"), &st), 0);
    assert_int_equal(st.st_mode & 0777, 0700);
    assert_int_equal(stat(at("state/vms"), &st), 0);
    assert_int_equal(st.st_mode & 0777, 0700);
    assert_int_equal(stat(at("state/hosts/h1.json"), &st), 0);
    assert_true(S_ISREG(st.st_mode));
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_contains(read_file_tmp(at("state/vms/web1.json")),
                    "\"uuid\": \"" UUID1 "\"");

    memset(&hb, 0, sizeof(hb));
    assert_ok(xlmig__host_record_load(ctx, dir, "h1", &hb));
    assert_host_same(&h, &hb);
    memset(&vb, 0, sizeof(vb));
    assert_ok(xlmig__vm_record_load(ctx, dir, "web1", &vb));
    assert_vm_same(&v, &vb);

    /* Through $XLMIG_STATE_DIR. */
    setenv("XLMIG_STATE_DIR", dir, 1);
    memset(&hb, 0, sizeof(hb));
    assert_ok(xlmig__host_record_load(ctx, NULL, "h1", &hb));
    assert_host_same(&h, &hb);
    unsetenv("XLMIG_STATE_DIR");

    /* A bad name never reaches the file system. */
    reset_log();
    assert_int_equal(xlmig__host_record_load(ctx, dir, "../vms/web1", &hb),
                     LIBXLMIG_ERR_INVALID_ARGUMENT);
    assert_contains(libxlmig_ctx_last_error(ctx), "host name");
    assert_int_equal(xlmig__vm_record_remove(ctx, dir, "a/b"),
                     LIBXLMIG_ERR_INVALID_ARGUMENT);
}

static void test_save_over(void **state)
{
    struct xlmig__host_record h = host_rec("h1"), hb;
    char dir[256];
    int i;

    (void)state;
    snprintf(dir, sizeof(dir), "%s", at("over"));
    for (i = 0; i < 5; i++) {
        h.recorded = 1000 + i;
        h.pv_max.words[0] = (uint32_t)i;
        assert_ok(xlmig__host_record_save(ctx, dir, &h));
    }
    assert_ok(xlmig__host_record_load(ctx, dir, "h1", &hb));
    assert_host_same(&h, &hb);
    assert_int_equal(hb.recorded, 1004);
    assert_int_equal(count_entries(at("over/hosts"), ".tmp."), 0);
    assert_int_equal(count_entries(at("over/hosts"), "h1"), 1);

    /* A leftover temporary of an earlier process with our pid. */
    {
        char tmp[1024];

        snprintf(tmp, sizeof(tmp), "%s/hosts/h1.json.tmp.%ld", dir,
                 (long)getpid());
        write_file(tmp, "junk", 4);
        h.recorded = 2000;
        assert_ok(xlmig__host_record_save(ctx, dir, &h));
        assert_int_equal(access(tmp, F_OK), -1);
        assert_ok(xlmig__host_record_load(ctx, dir, "h1", &hb));
        assert_int_equal(hb.recorded, 2000);
    }
}

/* A save that fails part-way leaves the old record whole and no temporary. */
static void test_save_fails(void **state)
{
    struct xlmig__host_record h = host_rec("h1"), hb;
    char dir[256];
    char old[8192];
    struct fsize_cap fcap;

    (void)state;
    snprintf(dir, sizeof(dir), "%s", at("fail"));
    assert_ok(xlmig__host_record_save(ctx, dir, &h));
    snprintf(old, sizeof(old), "%s", read_file_tmp(at("fail/hosts/h1.json")));

    /* The write fails: files may not grow past 64 bytes (EFBIG). */
    h.recorded = 5;
    fsize_cap_begin(&fcap, 64);
    reset_log();
    assert_int_equal(xlmig__host_record_save(ctx, dir, &h), LIBXLMIG_ERR_IO);
    fsize_cap_end(&fcap);
    assert_contains(libxlmig_ctx_last_error(ctx), "cannot write ");
    assert_contains(libxlmig_ctx_last_error(ctx), "/fail/hosts/h1.json.tmp.");
    assert_contains(libxlmig_ctx_last_error(ctx), "h1.json is unchanged");
    assert_contains(libxlmig_ctx_last_error(ctx), strerror(EFBIG));
    assert_int_equal(cap.count, 1);
    assert_string_equal(read_file_tmp(at("fail/hosts/h1.json")), old);
    assert_int_equal(count_entries(at("fail/hosts"), ".tmp."), 0);
    assert_ok(xlmig__host_record_load(ctx, dir, "h1", &hb));
    assert_int_equal(hb.recorded, 1763769600);

    /* The rename fails: a directory is in the way of the record. */
    assert_int_equal(mkdir(at("fail/hosts/h2.json"), 0700), 0);
    assert_int_equal(mkdir(at("fail/hosts/h2.json/x"), 0700), 0);
    h = host_rec("h2");
    reset_log();
    assert_int_not_equal(xlmig__host_record_save(ctx, dir, &h), 0);
    assert_contains(libxlmig_ctx_last_error(ctx), "cannot rename ");
    assert_int_equal(count_entries(at("fail/hosts"), ".tmp."), 0);

    /* A file in the way of the directory. */
    write_file(at("fail2"), "x", 1);
    reset_log();
    assert_int_equal(xlmig__host_record_save(ctx, at("fail2"), &h),
                     LIBXLMIG_ERR_IO);
    assert_contains(libxlmig_ctx_last_error(ctx), "fail2 is in the way");
    /* The state directory's parent is missing. */
    reset_log();
    assert_int_equal(xlmig__host_record_save(ctx, at("no/such"), &h),
                     LIBXLMIG_ERR_IO);
    assert_contains(libxlmig_ctx_last_error(ctx), "cannot create directory ");
    assert_contains(libxlmig_ctx_last_error(ctx), "/no/such");
    assert_contains(libxlmig_ctx_last_error(ctx), strerror(ENOENT));
}

static void test_load_missing(void **state)
{
    struct xlmig__host_record h, hb;
    struct xlmig__vm_record v, vb;
    char dir[256];

    (void)state;
    snprintf(dir, sizeof(dir), "%s", at("missing"));
    memset(&h, 0x33, sizeof(h));
    hb = h;
    reset_log();
    /* No state directory at all. */
    assert_int_equal(xlmig__host_record_load(ctx, dir, "h9", &h),
                     LIBXLMIG_ERR_NOT_FOUND);
    assert_contains(libxlmig_ctx_last_error(ctx),
                    "NOT_FOUND: no CPU record of host h9 in ");
    assert_contains(libxlmig_ctx_last_error(ctx), "missing/hosts");
    assert_contains(libxlmig_ctx_last_error(ctx),
                    "run `xlmig-xe host-cpu-record` on that host and copy "
                    "the file");
    assert_contains(libxlmig_ctx_last_error(ctx),
                    "`xlmig-xe host-cpu-import file=...`");
    assert_int_equal(cap.count, 1);
    assert_memory_equal(&h, &hb, sizeof(h));

    memset(&v, 0x33, sizeof(v));
    vb = v;
    assert_int_equal(mkdir(dir, 0700), 0);
    assert_int_equal(mkdir(at("missing/vms"), 0700), 0);
    assert_int_equal(xlmig__vm_record_load(ctx, dir, "web9", &v),
                     LIBXLMIG_ERR_NOT_FOUND);
    assert_contains(libxlmig_ctx_last_error(ctx),
                    "no CPU record of VM web9 in ");
    assert_contains(libxlmig_ctx_last_error(ctx),
                    "run `xlmig-xe vm-cpu-record vm=web9` on the host where "
                    "it runs");
    assert_memory_equal(&v, &vb, sizeof(v));
}

static void test_load_renamed(void **state)
{
    struct xlmig__host_record h = host_rec("h1"), hb;
    struct xlmig__vm_record v = vm_rec("web1"), vb;
    char dir[256];

    (void)state;
    snprintf(dir, sizeof(dir), "%s", at("renamed"));
    assert_ok(xlmig__host_record_save(ctx, dir, &h));
    assert_int_equal(rename(at("renamed/hosts/h1.json"),
                            at("renamed/hosts/h2.json")), 0);
    memset(&hb, 0x44, sizeof(hb));
    h = hb;
    reset_log();
    assert_int_equal(xlmig__host_record_load(ctx, dir, "h2", &hb),
                     LIBXLMIG_ERR_RECORD_INVALID);
    assert_contains(libxlmig_ctx_last_error(ctx),
                    "/renamed/hosts/h2.json: member \"name\" is \"h1\" but "
                    "the file is that of host h2");
    assert_int_equal(cap.count, 1);
    assert_memory_equal(&hb, &h, sizeof(hb));

    assert_ok(xlmig__vm_record_save(ctx, dir, &v));
    assert_int_equal(rename(at("renamed/vms/web1.json"),
                            at("renamed/vms/WEB1.json")), 0);
    assert_int_equal(xlmig__vm_record_load(ctx, dir, "WEB1", &vb),
                     LIBXLMIG_ERR_RECORD_INVALID);
    assert_contains(libxlmig_ctx_last_error(ctx), "that of VM WEB1");
}

static void test_load_bad_files(void **state)
{
    struct xlmig__host_record h = host_rec("h1"), hb, before;
    struct xlmig__vm_record vb;
    char dir[256];
    char *big;
    char text[4096];
    size_t len;

    (void)state;
    snprintf(dir, sizeof(dir), "%s", at("bad"));
    assert_ok(xlmig__host_record_save(ctx, dir, &h));
    memset(&hb, 0x55, sizeof(hb));
    before = hb;

    /* Larger than the cap: refused by its size. */
    big = malloc(XLMIG__RECORD_FILE_MAX + 1);
    assert_non_null(big);
    assert_int_equal(xlmig__host_record_encode(&h, text, sizeof(text), &len),
                     0);
    memset(big, ' ', XLMIG__RECORD_FILE_MAX + 1);
    memcpy(big, text, len);
    write_file(at("bad/hosts/h1.json"), big, XLMIG__RECORD_FILE_MAX + 1);
    reset_log();
    assert_int_equal(xlmig__host_record_load(ctx, dir, "h1", &hb),
                     LIBXLMIG_ERR_RECORD_INVALID);
    assert_contains(libxlmig_ctx_last_error(ctx),
                    "/bad/hosts/h1.json: 65537 bytes, more than the 65536");
    assert_memory_equal(&hb, &before, sizeof(hb));
    /* At the cap exactly: read. */
    write_file(at("bad/hosts/h1.json"), big, XLMIG__RECORD_FILE_MAX);
    assert_ok(xlmig__host_record_load(ctx, dir, "h1", &hb));
    assert_host_same(&h, &hb);
    free(big);

    /* Not a regular file: a directory, a FIFO (never opened blocking). */
    hb = before;
    assert_int_equal(mkdir(at("bad/hosts/d.json"), 0700), 0);
    assert_int_equal(xlmig__host_record_load(ctx, dir, "d", &hb),
                     LIBXLMIG_ERR_RECORD_INVALID);
    assert_contains(libxlmig_ctx_last_error(ctx),
                    "/bad/hosts/d.json: not a regular file");
    assert_memory_equal(&hb, &before, sizeof(hb));
    assert_int_equal(mkdir(at("bad/vms"), 0700), 0);
    assert_int_equal(mkfifo(at("bad/vms/f.json"), 0600), 0);
    assert_int_equal(xlmig__vm_record_load(ctx, dir, "f", &vb),
                     LIBXLMIG_ERR_RECORD_INVALID);
    assert_contains(libxlmig_ctx_last_error(ctx), "not a regular file");

    /* A record that does not decode names the file and the member. */
    snprintf(text, sizeof(text), "%s",
             "{\"version\":1,\"kind\":\"vm\",\"name\":\"web1\",\"uuid\":\"\","
             "\"type\":\"hvm\",\"vendor\":\"GenuineIntel\",\"features\":"
             "\"xyz\",\"host\":\"h1\",\"recorded\":1}");
    write_file(at("bad/vms/web1.json"), text, strlen(text));
    reset_log();
    assert_int_equal(xlmig__vm_record_load(ctx, dir, "web1", &vb),
                     LIBXLMIG_ERR_RECORD_INVALID);
    assert_contains(libxlmig_ctx_last_error(ctx),
                    "CPU_RECORD_INVALID: CPU record ");
    assert_contains(libxlmig_ctx_last_error(ctx),
                    "/bad/vms/web1.json: member \"features\": \"xyz\" is not "
                    "a featureset string");
    assert_int_equal(cap.count, 1);

    /* A host record where a VM record belongs. */
    assert_int_equal(xlmig__host_record_encode(&h, text, sizeof(text), &len),
                     0);
    write_file(at("bad/vms/h1.json"), text, len);
    assert_int_equal(xlmig__vm_record_load(ctx, dir, "h1", &vb),
                     LIBXLMIG_ERR_RECORD_INVALID);
    assert_contains(libxlmig_ctx_last_error(ctx),
                    "member \"kind\" is \"host\", expected \"vm\"");

    /* Unreadable: permission denied (not when root, who reads anyway). */
    if (geteuid() != 0) {
        assert_int_equal(chmod(at("bad/hosts/h1.json"), 0), 0);
        assert_int_equal(xlmig__host_record_load(ctx, dir, "h1", &hb),
                         LIBXLMIG_ERR_PERMISSION_DENIED);
        assert_contains(libxlmig_ctx_last_error(ctx), "cannot open ");
    }
}

static void test_remove(void **state)
{
    struct xlmig__vm_record v = vm_rec("web1"), vb;
    char dir[256];

    (void)state;
    snprintf(dir, sizeof(dir), "%s", at("rm"));
    assert_ok(xlmig__vm_record_remove(ctx, dir, "web1"));
    assert_ok(xlmig__vm_record_save(ctx, dir, &v));
    assert_ok(xlmig__vm_record_load(ctx, dir, "web1", &vb));
    assert_ok(xlmig__vm_record_remove(ctx, dir, "web1"));
    assert_int_equal(xlmig__vm_record_load(ctx, dir, "web1", &vb),
                     LIBXLMIG_ERR_NOT_FOUND);
    assert_ok(xlmig__vm_record_remove(ctx, dir, "web1"));
}

static void test_list(void **state)
{
    static const char *const names[] = { "hc", "ha", "h-b", "HZ", "h.10",
                                         "h9" };
    static const char *const sorted[] = { "HZ", "h-b", "h.10", "h9", "ha",
                                          "hc" };
    struct xlmig__host_record *recs = (void *)1;
    char dir[256];
    size_t nr = 99, i;

    (void)state;
    snprintf(dir, sizeof(dir), "%s", at("list"));
    /* No directory: nothing, not an error. */
    assert_ok(xlmig__host_records_list(ctx, dir, &recs, &nr));
    assert_null(recs);
    assert_int_equal(nr, 0);
    assert_int_equal(mkdir(dir, 0700), 0);
    assert_int_equal(mkdir(at("list/hosts"), 0700), 0);
    recs = (void *)1;
    nr = 99;
    assert_ok(xlmig__host_records_list(ctx, dir, &recs, &nr));
    assert_null(recs);
    assert_int_equal(nr, 0);

    for (i = 0; i < ARRAY_LEN(names); i++) {
        struct xlmig__host_record h = host_rec(names[i]);

        h.recorded = (int64_t)i;
        assert_ok(xlmig__host_record_save(ctx, dir, &h));
    }
    /* Leftovers and strangers, all skipped. */
    write_file(at("list/hosts/ha.json.tmp.12345"), "{", 1);
    write_file(at("list/hosts/hq.json.tmp.1"), "", 0);
    write_file(at("list/hosts/notes.txt"), "x", 1);
    write_file(at("list/hosts/.hidden.json"), "x", 1);
    write_file(at("list/hosts/.json"), "x", 1);
    write_file(at("list/hosts/bad name.json"), "x", 1);
    write_file(at("list/hosts/h1.JSON"), "x", 1);
    write_file(at("list/hosts/h1.json~"), "x", 1);
    write_file(at("list/hosts/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
                  "aaaaaaaaaaaaaaaaa.json"), "x", 1);

    reset_log();
    assert_ok(xlmig__host_records_list(ctx, dir, &recs, &nr));
    assert_int_equal(cap.count, 0);
    assert_int_equal(nr, ARRAY_LEN(sorted));
    assert_non_null(recs);
    for (i = 0; i < nr; i++) {
        assert_string_equal(recs[i].name, sorted[i]);
        assert_int_equal(recs[i].vendor, LIBXLMIG_CPU_VENDOR_AMD);
    }
    assert_int_equal(recs[4].recorded, 1);       /* "ha" was saved second */
    free(recs);

    /* One bad record fails the whole list, naming its file. */
    write_file(at("list/hosts/h5.json"), "{\"version\":3}", 13);
    recs = NULL;
    reset_log();
    assert_int_equal(xlmig__host_records_list(ctx, dir, &recs, &nr),
                     LIBXLMIG_ERR_RECORD_INVALID);
    assert_null(recs);
    assert_contains(libxlmig_ctx_last_error(ctx),
                    "/list/hosts/h5.json: version 3");
}

static void test_list_cap(void **state)
{
    char dir[256];
    struct xlmig__host_record *recs = NULL;
    char path[1024];
    size_t nr = 0;
    int i;

    (void)state;
    snprintf(dir, sizeof(dir), "%s", at("many"));
    assert_int_equal(mkdir(dir, 0700), 0);
    assert_int_equal(mkdir(at("many/hosts"), 0700), 0);
    for (i = 0; i < 1025; i++) {
        snprintf(path, sizeof(path), "%s/hosts/h%04d.json", dir, i);
        write_file(path, "{}", 2);
    }
    reset_log();
    assert_int_equal(xlmig__host_records_list(ctx, dir, &recs, &nr),
                     LIBXLMIG_ERR_UNSUPPORTED);
    assert_null(recs);
    assert_contains(libxlmig_ctx_last_error(ctx), "more than 1024 host "
                                                  "records in ");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_host_round_trip),
        cmocka_unit_test(test_vm_round_trip),
        cmocka_unit_test(test_decode_examples),
        cmocka_unit_test(test_encode_refuses),
        cmocka_unit_test(test_decode_table_bases),
        cmocka_unit_test(test_decode_rejects),
        cmocka_unit_test(test_decode_bytes),
        cmocka_unit_test(test_name_check),
        cmocka_unit_test(test_state_dir),
        cmocka_unit_test_setup_teardown(test_save_load, dir_setup,
                                        dir_teardown),
        cmocka_unit_test_setup_teardown(test_save_over, dir_setup,
                                        dir_teardown),
        cmocka_unit_test_setup_teardown(test_save_fails, dir_setup,
                                        dir_teardown),
        cmocka_unit_test_setup_teardown(test_load_missing, dir_setup,
                                        dir_teardown),
        cmocka_unit_test_setup_teardown(test_load_renamed, dir_setup,
                                        dir_teardown),
        cmocka_unit_test_setup_teardown(test_load_bad_files, dir_setup,
                                        dir_teardown),
        cmocka_unit_test_setup_teardown(test_remove, dir_setup,
                                        dir_teardown),
        cmocka_unit_test_setup_teardown(test_list, dir_setup, dir_teardown),
        cmocka_unit_test_setup_teardown(test_list_cap, dir_setup,
                                        dir_teardown),
    };

    return cmocka_run_group_tests_name("cpurecord", tests, group_setup,
                                       group_teardown);
}

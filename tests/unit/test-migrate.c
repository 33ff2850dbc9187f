/* SPDX-License-Identifier: LGPL-2.1-only */
/*
 * vm-migrate's pieces that need no hypervisor (docs/specs/vm-migrate.md):
 *
 * - the journals (libxlmig/migrate-record.c): a full record of either
 *   role in every phase and state, 16 VDIs and 16 NICs, through encode
 *   and decode; every member left out or of a wrong type refused naming
 *   it, bad values refused, the output untouched; the 64 KiB cap before
 *   any parsing; save, load, list and prune in a temporary state
 *   directory (the newest 64 ended journals kept, and every running one);
 * - the checks (libxlmig/migrate-check.c): a host's facts through the
 *   RPC encoder and back, facts refused, SRs found by uuid and name, and
 *   xlmig__mig_check() with hand-made plans and facts, one failure at a
 *   time and all at once: the count returned and the messages collected,
 *   each starting with its stable name;
 * - the control lines and the preamble (libxlmig/migrate-wire.c) over
 *   pipes: a line, two lines read one by one (the second left in the
 *   pipe), too long, a control character, the end before "\n", a
 *   timeout, a cancel; the preamble's round trip, bad headers, a length
 *   over the cap refused before any body is read, a short body.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "internal.h"
#include "jsonfile.h"
#include "migrate-check.h"
#include "migrate-wire.h"
#include "migrate.h"
#include "proc.h"
#include "rpc.h"
#include "testctx.h"
#include "testfs.h"
#include "testutil.h"
#include "transport.h"

static int dir_setup(void **state)
{
    (void)state;
    return testfs_dir_setup("test-migrate");
}

/* A uuid of its own for every @n. */
static void uuid_of(unsigned int n, char out[XLMIG__UUID_LEN + 1])
{
    snprintf(out, XLMIG__UUID_LEN + 1, "%08x-%04x-4%03x-8%03x-%012x", n,
             n & 0xffffu, n & 0xfffu, (n >> 4) & 0xfffu, n);
}

/* ------------------------------------------------------------ records */

static struct xlmig__mig_record full_record(enum xlmig__mig_role role,
                                            enum xlmig__mig_phase phase,
                                            enum xlmig__mig_state state)
{
    struct xlmig__mig_record r;
    size_t i;

    memset(&r, 0, sizeof(r));
    uuid_of(1, r.task);
    r.role = role;
    r.phase = phase;
    r.state = state;
    if (state == XLMIG__MIG_FAILED) {
        strcpy(r.error, "VM_MIGRATE_FAILED");
        strcpy(r.message, "the connection to h2 ended: \"quoted\", a\\b, "
               "caf\xc3\xa9");
    }
    strcpy(r.vm, "web1");
    uuid_of(2, r.vm_uuid);
    r.domid = UINT32_MAX;
    r.live = true;
    r.force = true;
    r.compress = role == XLMIG__MIG_SRC;
    r.priority = role == XLMIG__MIG_SRC;
    r.bwlimit = UINT64_MAX >> 1;
    strcpy(r.source, "h1");
    strcpy(r.destination, "h2.example.com");
    strcpy(r.dest_address, "[fe80::1]:7450");
    strcpy(r.remote_config, "/etc/xlmig/pools/other.conf");
    r.slot_task = 42;
    r.progress = 100;
    r.nr_vdis = XLMIG__MIG_VDIS_MAX;
    for (i = 0; i < r.nr_vdis; i++) {
        struct xlmig__mig_vdi *v = &r.vdis[i];

        snprintf(v->vdev, sizeof(v->vdev), "xvd%c", (char)('a' + i));
        uuid_of(100 + (unsigned int)i, v->vdi);
        if (i % 2)
            uuid_of(200 + (unsigned int)i, v->sr);
        strcpy(v->format, i % 3 == 0 ? "qcow2" : i % 3 == 1 ? "raw" : "");
        if (i % 4) {
            uuid_of(300 + (unsigned int)i, v->dst_task);
            uuid_of(400 + (unsigned int)i, v->dst_vdi);
        }
        v->finalized = i % 4 == 3;
    }
    r.nr_nics = XLMIG__MIG_NICS_MAX;
    for (i = 0; i < r.nr_nics; i++) {
        snprintf(r.nics[i].mac, sizeof(r.nics[i].mac), "00:16:3e:a0:00:%02x",
                 (unsigned int)i);
        if (i % 2)
            snprintf(r.nics[i].bridge, sizeof(r.nics[i].bridge), "xenbr%u",
                     (unsigned int)i);
    }
    r.worker_pid = INT32_MAX;
    r.worker_start = UINT64_MAX >> 1;
    r.started = INT64_MAX;
    r.ended = 1763769600;
    r.downtime_ms = 1234;
    r.total_ms = 98765;
    r.wire_bytes = UINT64_MAX >> 1;
    r.stream_bytes = 1ull << 40;
    return r;
}

static void assert_record_same(const struct xlmig__mig_record *a,
                               const struct xlmig__mig_record *b)
{
    size_t i;

    assert_string_equal(a->task, b->task);
    assert_int_equal(a->role, b->role);
    assert_int_equal(a->phase, b->phase);
    assert_int_equal(a->state, b->state);
    assert_string_equal(a->error, b->error);
    assert_string_equal(a->message, b->message);
    assert_string_equal(a->vm, b->vm);
    assert_string_equal(a->vm_uuid, b->vm_uuid);
    assert_int_equal(a->domid, b->domid);
    assert_int_equal(a->live, b->live);
    assert_int_equal(a->copy, b->copy);
    assert_int_equal(a->force, b->force);
    assert_int_equal(a->compress, b->compress);
    assert_int_equal(a->priority, b->priority);
    assert_int_equal(a->bwlimit, b->bwlimit);
    assert_string_equal(a->source, b->source);
    assert_string_equal(a->destination, b->destination);
    assert_string_equal(a->dest_address, b->dest_address);
    assert_string_equal(a->remote_config, b->remote_config);
    assert_int_equal(a->slot_task, b->slot_task);
    assert_int_equal(a->progress, b->progress);
    assert_int_equal(a->nr_vdis, b->nr_vdis);
    for (i = 0; i < a->nr_vdis; i++) {
        assert_string_equal(a->vdis[i].vdev, b->vdis[i].vdev);
        assert_string_equal(a->vdis[i].vdi, b->vdis[i].vdi);
        assert_string_equal(a->vdis[i].sr, b->vdis[i].sr);
        assert_string_equal(a->vdis[i].format, b->vdis[i].format);
        assert_string_equal(a->vdis[i].dst_task, b->vdis[i].dst_task);
        assert_string_equal(a->vdis[i].dst_vdi, b->vdis[i].dst_vdi);
        assert_int_equal(a->vdis[i].finalized, b->vdis[i].finalized);
    }
    assert_int_equal(a->nr_nics, b->nr_nics);
    for (i = 0; i < a->nr_nics; i++) {
        assert_string_equal(a->nics[i].mac, b->nics[i].mac);
        assert_string_equal(a->nics[i].bridge, b->nics[i].bridge);
    }
    assert_int_equal(a->worker_pid, b->worker_pid);
    assert_int_equal(a->worker_start, b->worker_start);
    assert_int_equal(a->started, b->started);
    assert_int_equal(a->ended, b->ended);
    assert_int_equal(a->downtime_ms, b->downtime_ms);
    assert_int_equal(a->total_ms, b->total_ms);
    assert_int_equal(a->wire_bytes, b->wire_bytes);
    assert_int_equal(a->stream_bytes, b->stream_bytes);
}

static char journal[XLMIG__MIG_RECORD_MAX];

/* @r encoded into journal[]; its length. */
static size_t encode(const struct xlmig__mig_record *r)
{
    size_t len = 0;

    assert_ok(xlmig__mig_record_encode(r, journal, sizeof(journal), &len));
    assert_int_equal(len, strlen(journal));
    return len;
}

static int decode(const char *json, size_t len, struct xlmig__mig_record *r)
{
    return xlmig__mig_record_decode(ctx, "test.json", (const uint8_t *)json,
                                    len, r);
}

static void round_trip(const struct xlmig__mig_record *r)
{
    struct xlmig__mig_record *back = malloc(sizeof(*back));
    size_t len = encode(r);

    assert_non_null(back);
    memset(back, 0x5a, sizeof(*back));
    reset_log();
    assert_ok(decode(journal, len, back));
    assert_int_equal(cap.count, 0);
    assert_record_same(r, back);
    free(back);
}

static void test_record_round_trip(void **state)
{
    static const enum xlmig__mig_role roles[] = { XLMIG__MIG_SRC,
                                                  XLMIG__MIG_DST };
    static const enum xlmig__mig_state states[] = {
        XLMIG__MIG_RUNNING, XLMIG__MIG_DONE, XLMIG__MIG_FAILED };
    struct xlmig__mig_record r;
    size_t i, p, s, len;

    (void)state;
    for (i = 0; i < ARRAY_LEN(roles); i++) {
        for (p = 0; p < XLMIG__MIG_PHASES; p++) {
            for (s = 0; s < ARRAY_LEN(states); s++) {
                r = full_record(roles[i], (enum xlmig__mig_phase)p,
                                states[s]);
                round_trip(&r);
            }
        }
    }
    /* The names as the journal writes them. */
    r = full_record(XLMIG__MIG_DST, XLMIG__MIG_GO_SENT, XLMIG__MIG_FAILED);
    encode(&r);
    assert_contains(journal, "\"role\": \"dst\"");
    assert_contains(journal, "\"phase\": \"go-sent\"");
    assert_contains(journal, "\"state\": \"failed\"");
    assert_contains(journal, "\"version\": 1");

    /* Nothing but a task. */
    memset(&r, 0, sizeof(r));
    uuid_of(7, r.task);
    round_trip(&r);

    /* Every string as long as it may be. */
    r = full_record(XLMIG__MIG_SRC, XLMIG__MIG_CLEANUP, XLMIG__MIG_DONE);
    memset(r.error, 'E', sizeof(r.error) - 1);
    memset(r.message, 'm', sizeof(r.message) - 1);
    memset(r.vm, 'v', sizeof(r.vm) - 1);
    memset(r.source, 's', sizeof(r.source) - 1);
    memset(r.destination, 'd', sizeof(r.destination) - 1);
    memset(r.dest_address, 'a', sizeof(r.dest_address) - 1);
    memset(r.remote_config, 'c', sizeof(r.remote_config) - 1);
    for (i = 0; i < r.nr_vdis; i++)
        memset(r.vdis[i].vdev, 'x', sizeof(r.vdis[i].vdev) - 1);
    for (i = 0; i < r.nr_nics; i++)
        memset(r.nics[i].bridge, 'b', sizeof(r.nics[i].bridge) - 1);
    round_trip(&r);

    /* A buffer one byte short: refused, never cut. */
    len = encode(&r);
    assert_int_equal(xlmig__mig_record_encode(&r, journal, len, &len),
                     LIBXLMIG_ERR_INVALID_ARGUMENT);
    /* What the encoder cannot write. */
    r.phase = XLMIG__MIG_PHASES;
    assert_int_equal(xlmig__mig_record_encode(&r, journal, sizeof(journal),
                                              &len),
                     LIBXLMIG_ERR_INVALID_ARGUMENT);
    r.phase = XLMIG__MIG_QUEUED;
    r.nr_vdis = XLMIG__MIG_VDIS_MAX + 1;
    assert_int_equal(xlmig__mig_record_encode(&r, journal, sizeof(journal),
                                              &len),
                     LIBXLMIG_ERR_INVALID_ARGUMENT);
    assert_null(xlmig__mig_phase_name(XLMIG__MIG_PHASES));
    assert_null(xlmig__mig_state_name((enum xlmig__mig_state)3));
    assert_string_equal(xlmig__mig_phase_name(XLMIG__MIG_ENDED), "ended");
    assert_string_equal(xlmig__mig_state_name(XLMIG__MIG_DONE), "done");
}

/*
 * @v into @g with the member at @target ("phase", "vdis[3].sr")
 * replaced by @with, or left out when @with is NULL.
 */
static void gen_edit(yajl_gen g, yajl_val v, const char *path,
                     const char *target, yajl_val with)
{
    bool obj = YAJL_IS_OBJECT(v);
    size_t i, n;
    char sub[256];

    if (!obj && !YAJL_IS_ARRAY(v)) {
        assert_int_equal(xlmig__rpc_gen_value(g, v), 0);
        return;
    }
    assert_int_equal(obj ? yajl_gen_map_open(g) : yajl_gen_array_open(g),
                     yajl_gen_status_ok);
    n = obj ? v->u.object.len : v->u.array.len;
    for (i = 0; i < n; i++) {
        yajl_val x = obj ? v->u.object.values[i] : v->u.array.values[i];

        if (obj)
            snprintf(sub, sizeof(sub), "%s%s%s", path, *path ? "." : "",
                     v->u.object.keys[i]);
        else
            snprintf(sub, sizeof(sub), "%s[%zu]", path, i);
        if (!strcmp(sub, target))
            x = with;
        if (!x)
            continue;
        if (obj)
            assert_int_equal(
                yajl_gen_string(g, (const unsigned char *)v->u.object.keys[i],
                                strlen(v->u.object.keys[i])),
                yajl_gen_status_ok);
        gen_edit(g, x, sub, target, with);
    }
    assert_int_equal(obj ? yajl_gen_map_close(g) : yajl_gen_array_close(g),
                     yajl_gen_status_ok);
}

/* @json with @target set to the JSON text @with (NULL: left out). */
static char *edited(const char *json, const char *target, const char *with)
{
    yajl_val root = yajl_tree_parse(json, NULL, 0), w = NULL;
    yajl_gen g = yajl_gen_alloc(NULL);
    const unsigned char *buf;
    size_t len;
    char *out;

    assert_non_null(root);
    assert_non_null(g);
    if (with) {
        w = yajl_tree_parse(with, NULL, 0);
        if (!w)
            fail_msg("not JSON: %s", with);
    }
    gen_edit(g, root, "", target, w);
    assert_int_equal(yajl_gen_get_buf(g, &buf, &len), yajl_gen_status_ok);
    out = strndup((const char *)buf, len);
    assert_non_null(out);
    yajl_gen_free(g);
    yajl_tree_free(w);
    yajl_tree_free(root);
    return out;
}

/* @json refused as MIGRATE_RECORD_INVALID saying @says; out untouched. */
static void assert_refused(const char *what, const char *json, size_t len,
                           const char *says)
{
    struct xlmig__mig_record *r = malloc(sizeof(*r)), *before;
    int rc;

    before = malloc(sizeof(*before));
    assert_non_null(r);
    assert_non_null(before);
    memset(before, 0x5a, sizeof(*before));
    *r = *before;
    reset_log();
    rc = decode(json, len, r);
    if (rc != LIBXLMIG_ERR_MIGRATE_RECORD_INVALID)
        fail_msg("%s: rc %d:\n%s", what, rc, json);
    if (cap.count != 1 || !strstr(cap.text, says))
        fail_msg("%s: expected one message with \"%s\", got:\n%s", what, says,
                 cap.text);
    assert_contains(cap.text, "MIGRATE_RECORD_INVALID: migration journal "
                    "test.json: ");
    if (memcmp(r, before, sizeof(*r)))
        fail_msg("%s: the output was written", what);
    /* Without a context: the same, nothing logged. */
    reset_log();
    assert_int_equal(xlmig__mig_record_decode(NULL, "x",
                                              (const uint8_t *)json, len, r),
                     LIBXLMIG_ERR_MIGRATE_RECORD_INVALID);
    assert_int_equal(cap.count, 0);
    free(r);
    free(before);
}

/* A value of another JSON type than @v's. */
static const char *wrong_type(yajl_val v)
{
    if (YAJL_IS_STRING(v))
        return "7";
    if (YAJL_IS_NUMBER(v))
        return "\"7\"";
    if (YAJL_IS_TRUE(v) || YAJL_IS_FALSE(v))
        return "1";
    if (YAJL_IS_ARRAY(v))
        return "{}";
    return "[]";
}

/* Each member of object @o (at @path) left out, then of a wrong type. */
static void each_member_refused(const char *json, yajl_val o,
                                const char *path)
{
    size_t i;

    for (i = 0; i < o->u.object.len; i++) {
        const char *key = o->u.object.keys[i];
        char target[128], says[128], *bad;

        snprintf(target, sizeof(target), "%s%s", path, key);
        snprintf(says, sizeof(says), "member \"%s\"", key);
        /* "priority" may be missing (journals from before it). */
        if (strcmp(target, "priority")) {
            bad = edited(json, target, NULL);
            assert_refused(target, bad, strlen(bad), says);
            free(bad);
        }
        bad = edited(json, target, wrong_type(o->u.object.values[i]));
        assert_refused(target, bad, strlen(bad), says);
        free(bad);
    }
}

static void test_record_members_refused(void **state)
{
    struct xlmig__mig_record r = full_record(XLMIG__MIG_SRC,
                                             XLMIG__MIG_MEMORY,
                                             XLMIG__MIG_RUNNING);
    yajl_val root;
    char *json;

    (void)state;
    encode(&r);
    json = strdup(journal);
    root = yajl_tree_parse(json, NULL, 0);
    assert_non_null(root);
    assert_int_equal(root->u.object.len, 32);
    each_member_refused(json, root, "");
    each_member_refused(json, xlmig__rpc_get(root, "vdis")->u.array.values[0],
                        "vdis[0].");
    each_member_refused(json, xlmig__rpc_get(root, "nics")->u.array.values[0],
                        "nics[0].");
    yajl_tree_free(root);
    free(json);
}

/* A journal written before "priority" existed: read as false. */
static void test_record_without_priority(void **state)
{
    struct xlmig__mig_record r = full_record(XLMIG__MIG_SRC,
                                             XLMIG__MIG_QUEUED,
                                             XLMIG__MIG_RUNNING);
    struct xlmig__mig_record *back = malloc(sizeof(*back));
    char *old;

    (void)state;
    assert_non_null(back);
    assert_true(r.priority);
    encode(&r);
    old = edited(journal, "priority", NULL);
    assert_null(strstr(old, "priority"));
    memset(back, 0x5a, sizeof(*back));
    reset_log();
    assert_ok(decode(old, strlen(old), back));
    assert_int_equal(cap.count, 0);
    assert_false(back->priority);
    r.priority = false;
    assert_record_same(&r, back);
    free(old);
    free(back);
}

static char *seventeen(void)
{
    static char s[64];

    snprintf(s, sizeof(s), "[1%s]",
             ",1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1");
    return s;
}

static void test_record_values_refused(void **state)
{
    static const struct {
        const char *target;
        const char *with;       /* NULL: seventeen() */
        const char *says;
    } cases[] = {
        { "version", "2", "member \"version\" is not 1" },
        { "version", "0", "member \"version\" is not 1" },
        { "version", "1001", "member \"version\" is not an integer in range" },
        { "task", "\"\"", "member \"task\" is empty" },
        { "task", "\"web1\"", "member \"task\" is not a uuid" },
        { "task", "\"5A3C1E2F-8B4D-4E6A-9C7B-1D2E3F405162\"",
          "member \"task\" is not a uuid" },
        { "role", "\"both\"", "member \"role\" has a value not known here" },
        { "role", "\"SRC\"", "member \"role\" has a value not known here" },
        { "phase", "\"flying\"", "member \"phase\" has a value not known" },
        { "phase", "\"a very long phase name that fits nothing\"",
          "member \"phase\" is too long" },
        { "state", "\"paused\"", "member \"state\" has a value not known" },
        { "error", "\"0123456789012345678901234567890123456789012345678901"
          "234567890123\"", "member \"error\" is too long" },
        { "message", "\"a\\u0001b\"",
          "member \"message\" holds a control character" },
        { "message", "\"a\\u007fb\"",
          "member \"message\" holds a control character" },
        { "vm", "\"web\\n1\"", "member \"vm\" holds a control character" },
        { "vm-uuid", "\"x\"", "member \"vm-uuid\" is not a uuid" },
        { "domid", "4294967296",
          "member \"domid\" is not an integer in range" },
        { "domid", "-1", "member \"domid\" is not an integer in range" },
        { "live", "\"true\"", "member \"live\" is not true or false" },
        { "copy", "null", "member \"copy\" is not true or false" },
        { "priority", "1", "member \"priority\" is not true or false" },
        { "bwlimit", "9223372036854775808",
          "member \"bwlimit\" is not an integer in range" },
        { "progress", "101", "member \"progress\" is not an integer in range" },
        { "worker-pid", "2147483648",
          "member \"worker-pid\" is not an integer in range" },
        { "worker-pid", "-1", "member \"worker-pid\" is not an integer" },
        { "started", "-1", "member \"started\" is not an integer in range" },
        { "ended", "1.5", "member \"ended\" is not an integer in range" },
        { "total-ms", "1e3", "member \"total-ms\" is not an integer" },
        { "vdis", NULL, "member \"vdis\" is not an array of at most 16" },
        { "vdis[3]", "\"xvdd\"", "member \"vdis\" holds something not an "
          "object" },
        { "vdis[0].format", "\"vhd\"", "member \"format\" is not qcow2 or "
          "raw" },
        { "vdis[0].format", "\"qcow2x\"", "member \"format\" is not qcow2" },
        { "vdis[0].format", "\"qcow2-raw\"", "member \"format\" is too long" },
        { "vdis[0].vdev", "\"xvdaaaaaaaaaaaaa\"", "member \"vdev\" is too "
          "long" },
        { "vdis[1].sr", "\"x\"", "member \"sr\" is not a uuid" },
        { "vdis[2].dst-vdi", "\"" "00000000-0000-0000-0000-00000000000g"
          "\"", "member \"dst-vdi\" is not a uuid" },
        { "vdis[0].finalized", "0", "member \"finalized\" is not true or "
          "false" },
        { "nics", NULL, "member \"nics\" is not an array of at most 16" },
        { "nics[15]", "null", "member \"nics\" holds something not an "
          "object" },
        { "nics[0].mac", "\"00:16:3e:00:00\"", "member \"mac\" is not a MAC "
          "address" },
        { "nics[0].bridge", "\"xenbr0123456789a\"", "member \"bridge\" is "
          "too long" },
    };
    struct xlmig__mig_record r = full_record(XLMIG__MIG_DST, XLMIG__MIG_READY,
                                             XLMIG__MIG_RUNNING);
    char *json;
    size_t i;

    (void)state;
    encode(&r);
    json = strdup(journal);
    for (i = 0; i < ARRAY_LEN(cases); i++) {
        char *bad = edited(json, cases[i].target,
                           cases[i].with ? cases[i].with : seventeen());

        assert_refused(cases[i].target, bad, strlen(bad), cases[i].says);
        free(bad);
    }
    /* Not a journal at all. */
    assert_refused("not JSON", "{\"version\": 1", 13, "not valid JSON");
    assert_refused("an array", "[]", 2, "is an array, not an object");
    assert_refused("nested 9 deep", "{\"a\": [[[[[[[[1]]]]]]]]}",
                   strlen("{\"a\": [[[[[[[[1]]]]]]]]}"),
                   "nested deeper than 8 levels");
    assert_refused("a NUL byte", "{}\0", 3, "a NUL byte at offset 2");
    free(json);
}

/* Over 64 KiB: refused for its size, before it is parsed. */
static void test_record_size_cap(void **state)
{
    struct xlmig__mig_record r = full_record(XLMIG__MIG_SRC,
                                             XLMIG__MIG_SWITCH,
                                             XLMIG__MIG_RUNNING), back;
    char *big = malloc(XLMIG__MIG_RECORD_MAX + 2);
    size_t len;

    (void)state;
    assert_non_null(big);
    /* Not even JSON: the size is what is said. */
    memset(big, '{', XLMIG__MIG_RECORD_MAX + 1);
    assert_refused("garbage", big, XLMIG__MIG_RECORD_MAX + 1,
                   "65537 bytes, more than the 65536 a migration journal "
                   "may have");
    /* A journal padded to the cap is one; a byte more is not. */
    len = encode(&r);
    memset(big, ' ', XLMIG__MIG_RECORD_MAX + 1);
    memcpy(big, journal, len);
    assert_ok(decode(big, XLMIG__MIG_RECORD_MAX, &back));
    assert_record_same(&r, &back);
    assert_refused("a byte over", big, XLMIG__MIG_RECORD_MAX + 1,
                   "65537 bytes, more than the 65536");
    free(big);
}

static void save(const struct xlmig__mig_record *r)
{
    reset_log();
    assert_ok(xlmig__mig_record_save(ctx, tmpdir, r));
    assert_int_equal(cap.count, 0);
}

static void test_record_files(void **state)
{
    struct xlmig__mig_record src = full_record(XLMIG__MIG_SRC,
                                               XLMIG__MIG_STORAGE,
                                               XLMIG__MIG_RUNNING);
    struct xlmig__mig_record dst = full_record(XLMIG__MIG_DST,
                                               XLMIG__MIG_LISTENING,
                                               XLMIG__MIG_RUNNING);
    struct xlmig__mig_record r, *recs = NULL;
    char other[XLMIG__UUID_LEN + 1], path[128];
    size_t nr = 99;

    (void)state;
    /* Nothing there yet. */
    assert_ok(xlmig__mig_record_list(ctx, tmpdir, XLMIG__MIG_SRC, &recs,
                                     &nr));
    assert_null(recs);
    assert_int_equal(nr, 0);
    xlmig__mig_record_prune(ctx, tmpdir, XLMIG__MIG_SRC);

    uuid_of(11, src.task);
    uuid_of(12, dst.task);
    save(&src);
    save(&dst);
    snprintf(path, sizeof(path), "migrate/%s.json", src.task);
    assert_int_equal(access(at(path), F_OK), 0);
    snprintf(path, sizeof(path), "migrate-in/%s.json", dst.task);
    assert_int_equal(access(at(path), F_OK), 0);
    assert_int_equal(count_entries(at("migrate"), ".tmp"), 0);

    assert_ok(xlmig__mig_record_load(ctx, tmpdir, XLMIG__MIG_SRC, src.task,
                                     &r));
    assert_record_same(&src, &r);
    assert_ok(xlmig__mig_record_load(ctx, tmpdir, XLMIG__MIG_DST, dst.task,
                                     &r));
    assert_record_same(&dst, &r);

    /* A journal of the other role, or none. */
    reset_log();
    assert_int_equal(xlmig__mig_record_load(ctx, tmpdir, XLMIG__MIG_DST,
                                            src.task, &r),
                     LIBXLMIG_ERR_NOT_FOUND);
    assert_contains(cap.text, "NOT_FOUND: no migration task ");
    assert_contains(cap.text, src.task);
    reset_log();
    assert_int_equal(xlmig__mig_record_load(ctx, tmpdir, XLMIG__MIG_SRC,
                                            "web1", &r),
                     LIBXLMIG_ERR_INVALID_ARGUMENT);
    assert_contains(cap.text, "INVALID_VALUE: \"web1\" is not a task uuid");

    /* A file under another task's name, and one of the other role. */
    uuid_of(13, other);
    snprintf(path, sizeof(path), "migrate/%s.json", other);
    encode(&src);
    write_file(at(path), journal, strlen(journal));
    reset_log();
    assert_int_equal(xlmig__mig_record_load(ctx, tmpdir, XLMIG__MIG_SRC,
                                            other, &r),
                     LIBXLMIG_ERR_MIGRATE_RECORD_INVALID);
    assert_contains(cap.text, "holds another task");
    snprintf(path, sizeof(path), "migrate/%s.json", dst.task);
    encode(&dst);
    write_file(at(path), journal, strlen(journal));
    assert_int_equal(xlmig__mig_record_load(ctx, tmpdir, XLMIG__MIG_SRC,
                                            dst.task, &r),
                     LIBXLMIG_ERR_MIGRATE_RECORD_INVALID);
    /* The list says so too: a journal is never passed over. */
    assert_int_equal(xlmig__mig_record_list(ctx, tmpdir, XLMIG__MIG_SRC,
                                            &recs, &nr),
                     LIBXLMIG_ERR_MIGRATE_RECORD_INVALID);
    assert_null(recs);
    unlink(at(path));
    snprintf(path, sizeof(path), "migrate/%s.json", other);
    unlink(at(path));

    /* Saved again: replaced. */
    src.phase = XLMIG__MIG_ROLLBACK;
    src.state = XLMIG__MIG_FAILED;
    strcpy(src.error, "MIRROR_FAILED");
    save(&src);
    assert_ok(xlmig__mig_record_load(ctx, tmpdir, XLMIG__MIG_SRC, src.task,
                                     &r));
    assert_record_same(&src, &r);

    /* Names that are not journals are passed over by the list. */
    write_file(at("migrate/notes.json"), "{", 1);
    snprintf(path, sizeof(path), "migrate/%s.json.tmp.77", other);
    write_file(at(path), "{", 1);
    assert_ok(xlmig__mig_record_list(ctx, tmpdir, XLMIG__MIG_SRC, &recs,
                                     &nr));
    assert_int_equal(nr, 1);
    assert_record_same(&src, &recs[0]);
    free(recs);
    assert_ok(xlmig__mig_record_list(ctx, tmpdir, XLMIG__MIG_DST, &recs,
                                     &nr));
    assert_int_equal(nr, 1);
    assert_string_equal(recs[0].task, dst.task);
    free(recs);
}

/*
 * 70 ended journals and 5 running ones, the running ones the oldest of
 * all and the task uuids in the reverse order of their start: a prune
 * keeps the 64 newest ended ones and every running one.
 */
#define PRUNE_RUNNING 5
#define PRUNE_ENDED 70

static void test_record_prune(void **state)
{
    struct xlmig__mig_record r, *recs = NULL;
    size_t i, nr = 0, ended = 0, running = 0;

    (void)state;
    for (i = 0; i < PRUNE_RUNNING + PRUNE_ENDED; i++) {
        bool run = i < PRUNE_RUNNING;

        r = full_record(XLMIG__MIG_SRC,
                        run ? XLMIG__MIG_MEMORY : XLMIG__MIG_ENDED,
                        run ? XLMIG__MIG_RUNNING
                            : i % 2 ? XLMIG__MIG_DONE : XLMIG__MIG_FAILED);
        uuid_of(9000 - (unsigned int)i, r.task);
        r.started = 1000 + (int64_t)i;
        r.nr_vdis = 0;
        r.nr_nics = 0;
        save(&r);
    }
    /* Another role's journals are not this prune's. */
    r = full_record(XLMIG__MIG_DST, XLMIG__MIG_ENDED, XLMIG__MIG_DONE);
    save(&r);

    /* Fewer ended ones than kept: nothing goes. */
    xlmig__mig_record_prune(ctx, tmpdir, XLMIG__MIG_DST);
    assert_int_equal(count_entries(at("migrate-in"), ".json"), 1);

    xlmig__mig_record_prune(ctx, tmpdir, XLMIG__MIG_SRC);
    assert_ok(xlmig__mig_record_list(ctx, tmpdir, XLMIG__MIG_SRC, &recs,
                                     &nr));
    assert_int_equal(nr, PRUNE_RUNNING + XLMIG__MIG_KEEP);
    for (i = 0; i < nr; i++) {
        /* Oldest first: the running ones, then the kept ended ones. */
        int64_t want = i < PRUNE_RUNNING
                           ? 1000 + (int64_t)i
                           : 1000 + PRUNE_RUNNING + PRUNE_ENDED -
                                 XLMIG__MIG_KEEP +
                                 (int64_t)(i - PRUNE_RUNNING);

        assert_int_equal(recs[i].started, want);
        if (recs[i].state == XLMIG__MIG_RUNNING)
            running++;
        else
            ended++;
    }
    assert_int_equal(running, PRUNE_RUNNING);
    assert_int_equal(ended, XLMIG__MIG_KEEP);
    free(recs);
    assert_int_equal(count_entries(at("migrate"), ".json"),
                     PRUNE_RUNNING + XLMIG__MIG_KEEP);
    assert_int_equal(count_entries(at("migrate-in"), ".json"), 1);

    /* Again: nothing more goes. */
    xlmig__mig_record_prune(ctx, tmpdir, XLMIG__MIG_SRC);
    assert_int_equal(count_entries(at("migrate"), ".json"),
                     PRUNE_RUNNING + XLMIG__MIG_KEEP);
}

/* ------------------------------------------------------------ facts */

/* The VM's features; a host's; the host's without feature 33. */
static const libxlmig_featureset fs_vm = { 2, { 0xf, 0x3 } };
static const libxlmig_featureset fs_all = {
    3, { 0xffffffff, 0xffffffff, 0xffff } };
static const libxlmig_featureset fs_no_33 = {
    3, { 0xffffffff, 0xfffffffd, 0xffff } };

static struct xlmig__host_facts facts(const char *name)
{
    struct xlmig__host_facts f;

    memset(&f, 0, sizeof(f));
    xlmig__strlcpy(f.name, name, sizeof(f.name));
    f.xen_major = 4;
    f.xen_minor = 17;
    strcpy(f.xen_version, "4.17.3");
    strcpy(f.version, "0.1.0");
    f.nr_cpus = 8;
    f.free_memory_kib = 8ull << 20;
    f.vendor = LIBXLMIG_CPU_VENDOR_INTEL;
    f.pv_max = fs_all;
    f.hvm_max = fs_all;
    f.nr_bridges = 2;
    strcpy(f.bridges[0], "xenbr0");
    strcpy(f.bridges[1], "br-dmz");
    return f;
}

static void assert_facts_same(const struct xlmig__host_facts *a,
                              const struct xlmig__host_facts *b)
{
    size_t i;

    assert_string_equal(a->name, b->name);
    assert_int_equal(a->xen_major, b->xen_major);
    assert_int_equal(a->xen_minor, b->xen_minor);
    assert_string_equal(a->xen_version, b->xen_version);
    assert_string_equal(a->version, b->version);
    assert_int_equal(a->nr_cpus, b->nr_cpus);
    assert_int_equal(a->free_memory_kib, b->free_memory_kib);
    assert_int_equal(a->vendor, b->vendor);
    /* The same words, as many of them. */
    assert_int_equal(a->pv_max.nr_words, b->pv_max.nr_words);
    assert_true(libxlmig_featureset_equal(&a->pv_max, &b->pv_max));
    assert_int_equal(a->hvm_max.nr_words, b->hvm_max.nr_words);
    assert_true(libxlmig_featureset_equal(&a->hvm_max, &b->hvm_max));
    assert_int_equal(a->nr_srs, b->nr_srs);
    for (i = 0; i < a->nr_srs; i++) {
        assert_string_equal(a->srs[i].uuid, b->srs[i].uuid);
        assert_string_equal(a->srs[i].name, b->srs[i].name);
        assert_int_equal(a->srs[i].caps, b->srs[i].caps);
        assert_int_equal(a->srs[i].free_space, b->srs[i].free_space);
    }
    assert_int_equal(a->nr_bridges, b->nr_bridges);
    for (i = 0; i < a->nr_bridges; i++)
        assert_string_equal(a->bridges[i], b->bridges[i]);
}

/* @f as host.facts sends it: the text, malloc'd. */
static char *facts_text(const struct xlmig__host_facts *f)
{
    yajl_gen g = yajl_gen_alloc(NULL);
    const unsigned char *buf;
    size_t len;
    char *s;

    assert_non_null(g);
    assert_true(xlmig__host_facts_gen(g, f));
    assert_int_equal(yajl_gen_get_buf(g, &buf, &len), yajl_gen_status_ok);
    s = strndup((const char *)buf, len);
    assert_non_null(s);
    yajl_gen_free(g);
    return s;
}

/* Decode @json; the code, and *f written only on success. */
static int facts_decode(const char *json, struct xlmig__host_facts *f,
                        char *why, size_t why_len)
{
    yajl_val v = yajl_tree_parse(json, NULL, 0);
    int rc;

    if (!v)
        fail_msg("not JSON: %s", json);
    rc = xlmig__host_facts_decode(v, f, why, why_len);
    yajl_tree_free(v);
    return rc;
}

static void test_facts_round_trip(void **state)
{
    struct xlmig__host_facts *f = malloc(sizeof(*f)), *back;
    char why[256], *text;
    size_t i;

    (void)state;
    back = malloc(sizeof(*back));
    assert_non_null(f);
    assert_non_null(back);

    /* As many SRs and bridges as there may be, the widest values. */
    *f = facts("h2.example.com");
    f->xen_major = 1000;
    f->xen_minor = 1000;
    memset(f->xen_version, '9', sizeof(f->xen_version) - 1);
    memset(f->version, '1', sizeof(f->version) - 1);
    f->nr_cpus = 65536;
    f->free_memory_kib = UINT64_MAX >> 1;
    f->vendor = LIBXLMIG_CPU_VENDOR_HYGON;
    for (i = 0; i < LIBXLMIG_FEATURESET_MAX_WORDS; i++)
        f->pv_max.words[i] = (uint32_t)i * 0x01010101u;
    f->pv_max.words[i - 1] = 0xffffffff;
    f->pv_max.nr_words = LIBXLMIG_FEATURESET_MAX_WORDS;
    memset(&f->hvm_max, 0, sizeof(f->hvm_max));
    f->nr_srs = XLMIG__FACTS_SRS_MAX;
    for (i = 0; i < f->nr_srs; i++) {
        uuid_of(500 + (unsigned int)i, f->srs[i].uuid);
        snprintf(f->srs[i].name, sizeof(f->srs[i].name), "sr-%zu", i);
        f->srs[i].caps = (unsigned int)i & XLMIG__SR_CAPS_ALL;
        f->srs[i].free_space = (uint64_t)i << 40;
    }
    memset(f->srs[3].name, 'n', sizeof(f->srs[3].name) - 1);
    f->nr_bridges = XLMIG__FACTS_BRIDGES_MAX;
    for (i = 0; i < f->nr_bridges; i++)
        snprintf(f->bridges[i], sizeof(f->bridges[i]), "xenbr%u",
                 (unsigned int)i);
    memset(f->bridges[5], 'b', sizeof(f->bridges[5]) - 1);
    text = facts_text(f);
    memset(back, 0x5a, sizeof(*back));
    if (facts_decode(text, back, why, sizeof(why)))
        fail_msg("%s:\n%s", why, text);
    assert_facts_same(f, back);
    free(text);

    /* Numbers of every size the decoder takes come back the same. */
    *f = facts("h4");
    f->free_memory_kib = UINT64_MAX;
    f->nr_srs = 2;
    uuid_of(510, f->srs[0].uuid);
    strcpy(f->srs[0].name, "huge");
    f->srs[0].free_space = UINT64_MAX;
    uuid_of(511, f->srs[1].uuid);
    strcpy(f->srs[1].name, "big");
    f->srs[1].free_space = (UINT64_MAX >> 1) + 1;
    text = facts_text(f);
    if (facts_decode(text, back, why, sizeof(why)))
        fail_msg("%s:\n%s", why, text);
    assert_facts_same(f, back);
    free(text);

    /* A host whose vendor is not known, with no SRs or bridges. */
    *f = facts("h3");
    f->vendor = LIBXLMIG_CPU_VENDOR_UNKNOWN;
    f->nr_bridges = 0;
    text = facts_text(f);
    assert_contains(text, "\"vendor\":\"\"");
    assert_int_equal(facts_decode(text, back, why, sizeof(why)), 0);
    assert_facts_same(f, back);
    free(text);
    free(f);
    free(back);
}

/* Host h2's facts with member @key set to the JSON @with (NULL: none). */
static char *facts_edited(const char *key, const char *with)
{
    struct xlmig__host_facts f = facts("h2");
    char *text, *out;

    f.nr_srs = 2;
    uuid_of(600, f.srs[0].uuid);
    strcpy(f.srs[0].name, "fast");
    uuid_of(601, f.srs[1].uuid);
    strcpy(f.srs[1].name, "slow");
    text = facts_text(&f);
    out = edited(text, key, with);
    free(text);
    return out;
}

static char *srs_65(void)
{
    static char s[65 * 120];
    char uuid[XLMIG__UUID_LEN + 1];
    size_t i, n = 0;

    n += (size_t)snprintf(s + n, sizeof(s) - n, "[");
    for (i = 0; i < XLMIG__FACTS_SRS_MAX + 1; i++) {
        uuid_of(700 + (unsigned int)i, uuid);
        n += (size_t)snprintf(s + n, sizeof(s) - n, "%s{\"uuid\": \"%s\", "
                              "\"name\": \"s%zu\", \"caps\": 7, "
                              "\"free_space\": 1}", i ? "," : "", uuid, i);
    }
    snprintf(s + n, sizeof(s) - n, "]");
    return s;
}

static char *bridges_33(void)
{
    static char s[33 * 12];
    size_t i, n = 0;

    n += (size_t)snprintf(s + n, sizeof(s) - n, "[");
    for (i = 0; i < XLMIG__FACTS_BRIDGES_MAX + 1; i++)
        n += (size_t)snprintf(s + n, sizeof(s) - n, "%s\"br%zu\"",
                              i ? "," : "", i);
    snprintf(s + n, sizeof(s) - n, "]");
    return s;
}

static void test_facts_refused(void **state)
{
    static const struct {
        const char *key;
        const char *with;       /* NULL: left out */
        char *(*gen)(void);     /* or this */
        const char *why;
    } cases[] = {
        { "name", NULL, NULL, "a string member" },
        { "name", "\"\"", NULL, "a string member" },
        { "name", "7", NULL, "a string member" },
        { "xen_version", NULL, NULL, "a string member" },
        { "version", "\"\"", NULL, "a string member" },
        { "version", "\"0123456789012345678901234567890123\"", NULL,
          "a string member" },
        { "vendor", NULL, NULL, "a string member" },
        { "pv_max", NULL, NULL, "a string member" },
        { "hvm_max", "[]", NULL, "a string member" },
        { "xen_major", NULL, NULL, "xen_major is missing or out of range" },
        { "xen_major", "1001", NULL, "xen_major is missing or out of range" },
        { "xen_major", "-4", NULL, "xen_major is missing or out of range" },
        { "xen_major", "\"4\"", NULL, "xen_major is missing or out of range" },
        { "xen_minor", NULL, NULL, "xen_minor is missing or out of range" },
        { "xen_minor", "17.5", NULL, "xen_minor is missing or out of range" },
        { "nr_cpus", "65537", NULL, "nr_cpus is missing or out of range" },
        { "nr_cpus", NULL, NULL, "nr_cpus is missing or out of range" },
        { "free_memory_kib", NULL, NULL, "free_memory_kib is missing" },
        { "free_memory_kib", "-1", NULL, "free_memory_kib is missing" },
        { "free_memory_kib", "18446744073709551616", NULL,
          "free_memory_kib is missing" },
        { "vendor", "\"Cyrix\"", NULL, "CPU vendor or featuresets" },
        { "pv_max", "\"zz\"", NULL, "CPU vendor or featuresets" },
        { "hvm_max", "\"1--2\"", NULL, "CPU vendor or featuresets" },
        { "srs", NULL, NULL, "srs is not an array of at most 64" },
        { "srs", "{}", NULL, "srs is not an array of at most 64" },
        { "srs", NULL, srs_65, "srs is not an array of at most 64" },
        { "srs[0]", "\"fast\"", NULL, "an SR of the host's facts" },
        { "srs[0].uuid", "\"fast\"", NULL, "an SR of the host's facts" },
        { "srs[1].uuid", NULL, NULL, "an SR of the host's facts" },
        { "srs[0].name", "\"\"", NULL, "an SR of the host's facts" },
        { "srs[0].caps", "8", NULL, "an SR of the host's facts" },
        { "srs[0].caps", NULL, NULL, "an SR of the host's facts" },
        { "srs[1].free_space", "-1", NULL, "an SR of the host's facts" },
        { "bridges", NULL, NULL, "bridges is not an array of at most 32" },
        { "bridges", "\"xenbr0\"", NULL, "bridges is not an array" },
        { "bridges", NULL, bridges_33, "bridges is not an array of at most" },
        { "bridges[1]", "\"\"", NULL, "a bridge name is malformed" },
        { "bridges[0]", "\"xenbr0123456789a\"", NULL,
          "a bridge name is malformed" },
        { "bridges[0]", "0", NULL, "a bridge name is malformed" },
        { "bridges[0]", "null", NULL, "a bridge name is malformed" },
    };
    struct xlmig__host_facts f, before;
    char why[256];
    size_t i;

    (void)state;
    memset(&before, 0x5a, sizeof(before));
    for (i = 0; i < ARRAY_LEN(cases); i++) {
        char *json = facts_edited(cases[i].key, cases[i].gen
                                                   ? cases[i].gen()
                                                   : cases[i].with);

        f = before;
        why[0] = '\0';
        if (facts_decode(json, &f, why, sizeof(why)) != LIBXLMIG_ERR_PROTOCOL)
            fail_msg("%s: taken:\n%s", cases[i].key, json);
        if (!strstr(why, cases[i].why))
            fail_msg("%s: expected \"%s\", got \"%s\"", cases[i].key,
                     cases[i].why, why);
        assert_memory_equal(&f, &before, sizeof(f));
        free(json);
    }
    /* The edit helper itself: the unedited facts are taken. */
    {
        char *json = facts_edited("none", NULL);

        assert_int_equal(facts_decode(json, &f, why, sizeof(why)), 0);
        free(json);
    }
    /* Not an object; no @why wanted. */
    assert_int_equal(facts_decode("[]", &f, why, sizeof(why)),
                     LIBXLMIG_ERR_PROTOCOL);
    assert_contains(why, "not an object");
    assert_int_equal(facts_decode("1", &f, NULL, 0), LIBXLMIG_ERR_PROTOCOL);
}

static void test_facts_sr(void **state)
{
    struct xlmig__host_facts f = facts("h2");
    char u[4][XLMIG__UUID_LEN + 1];
    size_t i;

    (void)state;
    for (i = 0; i < 4; i++)
        uuid_of(800 + (unsigned int)i, u[i]);
    f.nr_srs = 4;
    strcpy(f.srs[0].uuid, u[0]);
    strcpy(f.srs[0].name, "fast");
    strcpy(f.srs[1].uuid, u[1]);
    strcpy(f.srs[1].name, "twin");
    strcpy(f.srs[2].uuid, u[2]);
    strcpy(f.srs[2].name, "twin");
    strcpy(f.srs[3].uuid, u[3]);
    strcpy(f.srs[3].name, u[0]);        /* a name that is a uuid */
    assert_int_equal(xlmig__host_facts_sr(&f, u[2]), 2);
    assert_int_equal(xlmig__host_facts_sr(&f, "fast"), 0);
    assert_int_equal(xlmig__host_facts_sr(&f, "twin"), -2);
    assert_int_equal(xlmig__host_facts_sr(&f, "slow"), -1);
    assert_int_equal(xlmig__host_facts_sr(&f, ""), -1);
    /* A uuid is looked for as a uuid first. */
    assert_int_equal(xlmig__host_facts_sr(&f, u[0]), 0);
    f.nr_srs = 0;
    assert_int_equal(xlmig__host_facts_sr(&f, "fast"), -1);
}

/* ------------------------------------------------------------ checks */

#define MAC1 "00:16:3e:12:34:56"
#define MAC2 "00:16:3e:12:34:57"

/* A running HVM guest of 1 GiB and 2 vCPUs, no disks, one NIC. */
static struct xlmig__mig_plan *plan_new(void)
{
    struct xlmig__mig_plan *p = calloc(1, sizeof(*p));

    assert_non_null(p);
    strcpy(p->vm, "web1");
    uuid_of(2, p->vm_uuid);
    p->running = true;
    p->domid = 7;
    p->memory_kib = 1u << 20;
    p->vcpus = 2;
    p->has_cpu = true;
    p->cpu.vendor = LIBXLMIG_CPU_VENDOR_INTEL;
    p->cpu.features = fs_vm;
    p->type = LIBXLMIG_GUEST_HVM;
    strcpy(p->cfg.name, "web1");
    strcpy(p->cfg.type, "hvm");
    p->cfg.max_memkb = p->cfg.target_memkb = p->memory_kib;
    p->cfg.max_vcpus = 2;
    p->cfg.nr_nics = 1;
    strcpy(p->cfg.nics[0].mac, MAC1);
    strcpy(p->cfg.nics[0].bridge, "xenbr0");
    return p;
}

struct setup {
    struct xlmig__mig_plan *p;
    struct xlmig__host_facts src, dst;
    libxlmig_cpu_flags level;
    bool with_level;
};

/* What each case changes from a plan and hosts that pass every check. */
static void older_xen(struct setup *s)
{
    s->dst.xen_minor = 16;
    strcpy(s->dst.xen_version, "4.16.5");
}

static void older_xen_major(struct setup *s)
{
    s->dst.xen_major = 3;
    s->dst.xen_minor = 20;
    strcpy(s->dst.xen_version, "3.20.0");
}

static void older_xen_extra(struct setup *s)
{
    strcpy(s->dst.xen_version, "4.17.2");
}

static void newer_xen(struct setup *s)
{
    s->dst.xen_minor = 18;
    strcpy(s->dst.xen_version, "4.18.0");
}

static void xen_extra_10(struct setup *s)
{
    strcpy(s->src.xen_version, "4.17.9");
    strcpy(s->dst.xen_version, "4.17.10");
}

static void older_libxlmig(struct setup *s)
{
    strcpy(s->dst.version, "0.0.9");
}

static void newer_libxlmig(struct setup *s)
{
    strcpy(s->dst.version, "0.10.0");
}

static void little_memory(struct setup *s)
{
    s->dst.free_memory_kib = 512u << 10;
}

static void memory_just_enough(struct setup *s)
{
    s->dst.free_memory_kib = s->p->memory_kib;
}

static void halted_little_memory(struct setup *s)
{
    s->p->running = false;
    s->dst.free_memory_kib = 0;
    s->dst.nr_cpus = 1;
}

static void few_pcpus(struct setup *s)
{
    s->dst.nr_cpus = 1;
}

static void amd(struct setup *s)
{
    s->dst.vendor = LIBXLMIG_CPU_VENDOR_AMD;
}

static void no_feature(struct setup *s)
{
    s->dst.hvm_max = fs_no_33;
}

static void no_pv_feature(struct setup *s)
{
    s->dst.pv_max = fs_no_33;
}

static void pv_no_pv_feature(struct setup *s)
{
    s->p->type = LIBXLMIG_GUEST_PV;
    s->dst.pv_max = fs_no_33;
}

static void halted_amd(struct setup *s)
{
    s->p->running = false;
    s->dst.vendor = LIBXLMIG_CPU_VENDOR_AMD;
}

static void no_cpu_known(struct setup *s)
{
    s->p->has_cpu = false;
    s->dst.vendor = LIBXLMIG_CPU_VENDOR_AMD;
}

static void forced_no_feature(struct setup *s)
{
    s->p->force = true;
    s->dst.hvm_max = fs_no_33;
}

static void level_lacks(struct setup *s)
{
    s->with_level = true;
    s->level.vendor = LIBXLMIG_CPU_VENDOR_INTEL;
    s->level.features = fs_no_33;
}

static void level_ok(struct setup *s)
{
    s->with_level = true;
    s->level.vendor = LIBXLMIG_CPU_VENDOR_INTEL;
    s->level.features = fs_vm;
}

static void level_amd(struct setup *s)
{
    s->with_level = true;
    s->level.vendor = LIBXLMIG_CPU_VENDOR_AMD;
    s->level.features = fs_all;
}

static void forced_level(struct setup *s)
{
    level_lacks(s);
    forced_no_feature(s);
}

static void pci(struct setup *s)
{
    s->p->cfg.nr_pcidevs = 1;
    s->p->cfg.pcidevs[0].domain = 0xfffe;
    s->p->cfg.pcidevs[0].bus = 0xfe;
    s->p->cfg.pcidevs[0].dev = 0x1e;
    s->p->cfg.pcidevs[0].func = 6;
}

static void gfx(struct setup *s)
{
    s->p->cfg.gfx_passthru = true;
}

static void usbctrl(struct setup *s)
{
    s->p->cfg.nr_usbctrls = 1;
}

static void usbdevs(struct setup *s)
{
    s->p->cfg.nr_usbdevs = 2;
}

static void nested(struct setup *s)
{
    s->p->cfg.nested_hvm = true;
}

static void halted_nested(struct setup *s)
{
    s->p->running = false;
    s->p->cfg.nested_hvm = true;
}

static void no_bridge(struct setup *s)
{
    strcpy(s->p->cfg.nics[0].bridge, "xenbr1");
}

static void bridge_mapped(struct setup *s)
{
    no_bridge(s);
    s->p->nr_nics = 1;
    strcpy(s->p->nics[0].mac, MAC1);
    strcpy(s->p->nics[0].bridge, "br-dmz");
}

static void mapped_to_none(struct setup *s)
{
    s->p->nr_nics = 1;
    strcpy(s->p->nics[0].mac, MAC1);
    strcpy(s->p->nics[0].bridge, "br9");
}

static void other_mac_mapped(struct setup *s)
{
    no_bridge(s);
    s->p->nr_nics = 1;
    strcpy(s->p->nics[0].mac, MAC2);
    strcpy(s->p->nics[0].bridge, "xenbr0");
}

static void no_bridge_set(struct setup *s)
{
    s->p->cfg.nics[0].bridge[0] = 0;
    s->dst.nr_bridges = 0;
}

static void two_nics_none_there(struct setup *s)
{
    s->dst.nr_bridges = 0;
    s->p->cfg.nr_nics = 2;
    strcpy(s->p->cfg.nics[1].mac, MAC2);
    strcpy(s->p->cfg.nics[1].bridge, "xenbr1");
}

static void disk_no_vdi(struct setup *s)
{
    s->p->cfg.nr_disks = 1;
    strcpy(s->p->cfg.disks[0].vdev, "xvda");
    strcpy(s->p->cfg.disks[0].path, "/srv/loose/web1.qcow2");
}

static void cdroms_skipped(struct setup *s)
{
    s->p->cfg.nr_disks = 2;
    strcpy(s->p->cfg.disks[0].vdev, "hdc");
    strcpy(s->p->cfg.disks[0].path, "/iso/debian.iso");
    s->p->cfg.disks[0].cdrom = true;
    strcpy(s->p->cfg.disks[1].vdev, "hdd");
}

static void disabled(struct setup *s)
{
    s->p->dst_disabled = true;
}

static void everything(struct setup *s)
{
    disabled(s);
    older_xen(s);
    older_libxlmig(s);
    little_memory(s);
    few_pcpus(s);
    no_feature(s);
    level_lacks(s);
    pci(s);
    gfx(s);
    usbctrl(s);
    nested(s);
    two_nics_none_there(s);
}

static const struct check_case {
    const char *what;
    void (*change)(struct setup *s);
    unsigned int count;
    const char *names[16];      /* the messages' stable names, in order */
    const char *says;           /* in the messages (or the warning) */
    int warnings;               /* logged, not collected, not counted */
} check_cases[] = {
    { "nothing wrong", NULL, 0, { NULL }, NULL },
    { "older Xen", older_xen, 1, { "VM_HOST_INCOMPATIBLE_VERSION_MIGRATE" },
      "host h2 runs Xen 4.16.5, older than Xen 4.17.3 of host h1; upgrade "
      "h2 first" },
    { "older Xen, newer minor", older_xen_major, 1,
      { "VM_HOST_INCOMPATIBLE_VERSION_MIGRATE" }, "runs Xen 3.20.0" },
    { "an older Xen release", older_xen_extra, 1,
      { "VM_HOST_INCOMPATIBLE_VERSION_MIGRATE" }, "runs Xen 4.17.2" },
    { "a newer Xen", newer_xen, 0, { NULL }, NULL },
    { "4.17.10 after 4.17.9", xen_extra_10, 0, { NULL }, NULL },
    { "older libxlmig", older_libxlmig, 1,
      { "VM_HOST_INCOMPATIBLE_VERSION_MIGRATE" },
      "host h2 runs libxlmig 0.0.9, older than 0.1.0 of host h1" },
    { "newer libxlmig", newer_libxlmig, 0, { NULL }, NULL },
    { "not enough memory", little_memory, 1,
      { "HOST_NOT_ENOUGH_FREE_MEMORY" },
      "VM web1 needs 1024 MiB; host h2 has 512 MiB free" },
    { "memory just enough", memory_just_enough, 0, { NULL }, NULL },
    { "halted: memory and pCPUs not needed", halted_little_memory, 0,
      { NULL }, NULL },
    { "fewer pCPUs", few_pcpus, 1, { "HOST_NOT_ENOUGH_PCPUS" },
      "VM web1 has 2 vCPUs; host h2 has 1 physical CPUs" },
    { "another CPU vendor", amd, 1, { "VM_INCOMPATIBLE_WITH_THIS_HOST" },
      "host h2 has CPU vendor AuthenticAMD, VM booted on GenuineIntel" },
    { "a CPU feature missing", no_feature, 1,
      { "VM_INCOMPATIBLE_WITH_THIS_HOST" },
      "missing on host h2 (HVM max featureset)" },
    { "PV max lacks it, an HVM guest", no_pv_feature, 0, { NULL }, NULL },
    { "PV max lacks it, a PV guest", pv_no_pv_feature, 1,
      { "VM_INCOMPATIBLE_WITH_THIS_HOST" }, "(PV max featureset)" },
    { "halted: no CPU check", halted_amd, 0, { NULL }, NULL },
    { "no CPU known: no CPU check", no_cpu_known, 0, { NULL }, NULL },
    { "force=true", forced_no_feature, 0, { NULL },
      "force=true: going on although VM_INCOMPATIBLE_WITH_THIS_HOST: VM "
      "web1 cannot run on host h2", 1 },
    { "the pool level lacks it", level_lacks, 1,
      { "VM_INCOMPATIBLE_WITH_THIS_HOST" },
      "VM web1 cannot run on host h2's pool level" },
    { "the pool level has it", level_ok, 0, { NULL }, NULL },
    { "the pool level of another vendor", level_amd, 1,
      { "VM_INCOMPATIBLE_WITH_THIS_HOST" }, "h2's pool level has CPU vendor "
      "AuthenticAMD" },
    { "force=true, the pool level too", forced_level, 0, { NULL },
      "force=true: going on although VM_INCOMPATIBLE_WITH_THIS_HOST: VM "
      "web1 cannot run on host h2's pool level", 2 },
    { "PCI passthrough", pci, 1, { "VM_HAS_PCI_ATTACHED" },
      "VM web1 has 1 PCI device(s) passed through; detach them" },
    { "graphics passthrough", gfx, 1, { "VM_HAS_VGPU" },
      "VM web1 has a graphics card passed through" },
    { "a USB controller", usbctrl, 1, { "VM_HAS_VUSBS" },
      "VM web1 has USB controllers or devices (1, 0)" },
    { "USB devices", usbdevs, 1, { "VM_HAS_VUSBS" }, "(0, 2)" },
    { "nested virtualisation", nested, 1, { "VM_IS_USING_NESTED_VIRT" },
      "VM web1 runs with nested virtualisation" },
    { "nested, halted", halted_nested, 0, { NULL }, NULL },
    { "a bridge the destination lacks", no_bridge, 1,
      { "BRIDGE_NOT_AVAILABLE" },
      "host h2 has no bridge xenbr1 for VIF " MAC1 " of VM web1; map it "
      "with vif:" MAC1 "=BRIDGE" },
    { "that bridge mapped to one it has", bridge_mapped, 0, { NULL }, NULL },
    { "a bridge it has mapped to one it lacks", mapped_to_none, 1,
      { "BRIDGE_NOT_AVAILABLE" }, "has no bridge br9 for VIF " MAC1 },
    { "another VIF mapped", other_mac_mapped, 1, { "BRIDGE_NOT_AVAILABLE" },
      "no bridge xenbr1" },
    { "a VIF with no bridge", no_bridge_set, 0, { NULL }, NULL },
    { "a disk that is no VDI", disk_no_vdi, 1, { "HOST_CANNOT_SEE_SR" },
      "disk xvda of VM web1 (/srv/loose/web1.qcow2) is in no SR" },
    { "CD-ROMs and empty drives", cdroms_skipped, 0, { NULL }, NULL },
    { "a disabled destination", disabled, 1, { "HOST_DISABLED" },
      "host h2 is disabled (maintenance): VM web1 may not arrive there; "
      "run 'xlmig-xe host-enable host=h2' first, or choose another host" },
    { "everything at once", everything, 13,
      { "VM_INCOMPATIBLE_WITH_THIS_HOST", "VM_INCOMPATIBLE_WITH_THIS_HOST",
        "HOST_DISABLED", "VM_HOST_INCOMPATIBLE_VERSION_MIGRATE",
        "VM_HOST_INCOMPATIBLE_VERSION_MIGRATE", "HOST_NOT_ENOUGH_FREE_MEMORY",
        "HOST_NOT_ENOUGH_PCPUS", "VM_HAS_PCI_ATTACHED", "VM_HAS_VGPU",
        "VM_HAS_VUSBS", "VM_IS_USING_NESTED_VIRT", "BRIDGE_NOT_AVAILABLE",
        "BRIDGE_NOT_AVAILABLE" },
      "no bridge xenbr1 for VIF " MAC2 },
};

static void test_check(void **state)
{
    char missing[LIBXLMIG_FEATURE_NAME_MAX];
    size_t i, k;

    (void)state;
    /* The feature fs_no_33 lacks, as the messages name it. */
    assert_int_equal(libxlmig_feature_name(33, missing, sizeof(missing),
                                           NULL), 0);
    for (i = 0; i < ARRAY_LEN(check_cases); i++) {
        const struct check_case *c = &check_cases[i];
        struct setup s;
        struct xlmig__collect col;
        libxlmig_ctx *sub = NULL;
        unsigned int n;
        size_t names = 0;

        memset(&s, 0, sizeof(s));
        s.p = plan_new();
        s.src = facts("h1");
        s.dst = facts("h2");
        if (c->change)
            c->change(&s);
        reset_log();
        xlmig__collect_init(&col, &cap.vtable);
        assert_ok(libxlmig_ctx_new(&col.vtable, LIBXLMIG_LOG_DEBUG, &sub));
        n = xlmig__mig_check(sub, tmpdir, s.p, &s.src, &s.dst,
                             s.with_level ? &s.level : NULL);
        libxlmig_ctx_free(sub);

        while (names < ARRAY_LEN(c->names) && c->names[names])
            names++;
        if (n != c->count || col.n != names)
            fail_msg("%s: %u failures, %zu messages:\n%s", c->what, n, col.n,
                     cap.text);
        for (k = 0; k < col.n; k++) {
            size_t len = strlen(c->names[k]);

            if (strncmp(col.msgs[k], c->names[k], len) ||
                strncmp(col.msgs[k] + len, ": ", 2))
                fail_msg("%s: message %zu is not %s's:\n%s", c->what, k,
                         c->names[k], col.msgs[k]);
        }
        /* Everything collected was passed on, and nothing more. */
        assert_int_equal(cap.count, (int)col.n + c->warnings);
        if (c->says && !strstr(cap.text, c->says))
            fail_msg("%s: expected \"%s\" in:\n%s", c->what, c->says,
                     cap.text);
        if ((c->change == no_feature || c->change == level_lacks ||
             c->change == forced_no_feature) && !strstr(cap.text, missing))
            fail_msg("%s: the feature %s is not named:\n%s", c->what,
                     missing, cap.text);
        free(s.p);
    }
}

/* ------------------------------------------------------------ lines */

struct pipe_pair {
    int r, w;
};

static struct pipe_pair pipe_new(void)
{
    int fds[2];
    struct pipe_pair p;

    assert_int_equal(pipe2(fds, O_CLOEXEC), 0);
    p.r = fds[0];
    p.w = fds[1];
    return p;
}

static void pipe_close(struct pipe_pair *p)
{
    if (p->r >= 0)
        close(p->r);
    if (p->w >= 0)
        close(p->w);
    p->r = p->w = -1;
}

static void put(int fd, const char *s, size_t len)
{
    assert_int_equal(xlmig__write_all(fd, s, len), 0);
}

static int pending(int fd)
{
    int n = -1;

    assert_int_equal(ioctl(fd, FIONREAD, &n), 0);
    return n;
}

static int line_read(int fd, char *buf, size_t cap_,
                     unsigned int timeout_ms,
                     volatile sig_atomic_t *cancel)
{
    return xlmig__mig_line_read(ctx, fd, "host h2", buf, cap_, timeout_ms,
                                cancel);
}

static void test_line_read(void **state)
{
    static const struct {
        const char *what;
        const char *bytes;
        size_t cap;             /* of the buffer */
        bool close;             /* the writer's end closed after */
        int rc;
        const char *line;       /* rc 0: what is read */
        const char *says;       /* rc != 0: in the message */
    } cases[] = {
        { "a line", XLMIG__MIGL_READY "\n", 64, false, 0, XLMIG__MIGL_READY,
          NULL },
        { "an empty line", "\n", 64, false, 0, "", NULL },
        { "a failure line", XLMIG__MIGL_FAILED " VM_MIGRATE_FAILED restore "
          "failed: caf\xc3\xa9\n", 128, false, 0, XLMIG__MIGL_FAILED
          " VM_MIGRATE_FAILED restore failed: caf\xc3\xa9", NULL },
        { "as long as fits", "1234567\n", 8, false, 0, "1234567", NULL },
        { "a byte too long", "12345678\n", 8, false, LIBXLMIG_ERR_PROTOCOL,
          NULL, "PROTOCOL_ERROR: host h2 sent a control line that is too "
          "long or not text" },
        { "a control character", "xlmig-\001go\n", 64, false,
          LIBXLMIG_ERR_PROTOCOL, NULL, "not text" },
        { "a carriage return", "xlmig-go\r\n", 64, false,
          LIBXLMIG_ERR_PROTOCOL, NULL, "not text" },
        { "a tab", "xlmig-go\t\n", 64, false, LIBXLMIG_ERR_PROTOCOL, NULL,
          "not text" },
        { "a DEL", "xlmig-go\177\n", 64, false, LIBXLMIG_ERR_PROTOCOL, NULL,
          "not text" },
        { "the end before the newline", "xlmig-go", 64, true,
          LIBXLMIG_ERR_IO, NULL, "IO_ERROR: the connection to host h2 "
          "ended" },
        { "the end at once", "", 64, true, LIBXLMIG_ERR_IO, NULL,
          "the connection to host h2 ended" },
    };
    size_t i;

    (void)state;
    for (i = 0; i < ARRAY_LEN(cases); i++) {
        struct pipe_pair p = pipe_new();
        char buf[256];
        int rc;

        put(p.w, cases[i].bytes, strlen(cases[i].bytes));
        if (cases[i].close) {
            close(p.w);
            p.w = -1;
        }
        reset_log();
        memset(buf, 'Z', sizeof(buf));
        rc = line_read(p.r, buf, cases[i].cap, 2000, NULL);
        if (rc != cases[i].rc)
            fail_msg("%s: rc %d:\n%s", cases[i].what, rc, cap.text);
        if (!rc) {
            assert_string_equal(buf, cases[i].line);
            assert_int_equal(cap.count, 0);
        } else {
            assert_int_equal(cap.count, 1);
            assert_contains(cap.text, cases[i].says);
            /* Never a byte beyond the buffer. */
            assert_int_equal(buf[cases[i].cap], 'Z');
        }
        pipe_close(&p);
    }
}

/* Two lines at once: the first read leaves the second in the pipe. */
static void test_line_two(void **state)
{
    struct pipe_pair p = pipe_new();
    char buf[64];
    size_t extra = sizeof(XLMIG__MIGL_GO) + 2;

    (void)state;
    put(p.w, XLMIG__MIGL_READY "\n" XLMIG__MIGL_GO "\n\001\002",
        sizeof(XLMIG__MIGL_READY) + extra);
    assert_ok(line_read(p.r, buf, sizeof(buf), 1000, NULL));
    assert_string_equal(buf, XLMIG__MIGL_READY);
    assert_int_equal(pending(p.r), (int)extra);
    assert_ok(line_read(p.r, buf, sizeof(buf), 1000, NULL));
    assert_string_equal(buf, XLMIG__MIGL_GO);
    /* What follows the lines (the stream) is the caller's, untouched. */
    assert_int_equal(pending(p.r), 2);
    assert_int_equal(read(p.r, buf, 2), 2);
    assert_memory_equal(buf, "\001\002", 2);
    pipe_close(&p);
}

static void test_line_write(void **state)
{
    struct pipe_pair p = pipe_new();
    char *longer = malloc(XLMIG__MIG_LINE_MAX + 100);
    char buf[XLMIG__MIG_LINE_MAX + 2];

    (void)state;
    assert_non_null(longer);
    assert_ok(xlmig__mig_line_write(p.w, XLMIG__MIGL_DONE));
    assert_int_equal(pending(p.r), sizeof(XLMIG__MIGL_DONE));
    assert_ok(line_read(p.r, buf, sizeof(buf), 1000, NULL));
    assert_string_equal(buf, XLMIG__MIGL_DONE);
    /* A line too long goes out cut at XLMIG__MIG_LINE_MAX bytes. */
    memset(longer, 'x', XLMIG__MIG_LINE_MAX + 99);
    longer[XLMIG__MIG_LINE_MAX + 99] = '\0';
    assert_ok(xlmig__mig_line_write(p.w, longer));
    assert_int_equal(pending(p.r), XLMIG__MIG_LINE_MAX + 1);
    assert_ok(line_read(p.r, buf, sizeof(buf), 1000, NULL));
    assert_int_equal(strlen(buf), XLMIG__MIG_LINE_MAX);
    /* Nobody reading: an IO error, not a signal. */
    close(p.r);
    p.r = -1;
    signal(SIGPIPE, SIG_IGN);
    assert_int_equal(xlmig__mig_line_write(p.w, "x"), LIBXLMIG_ERR_IO);
    pipe_close(&p);
    free(longer);
}

struct canceller {
    volatile sig_atomic_t *flag;
    unsigned int after_ms;
};

static void *cancel_main(void *arg)
{
    struct canceller *c = arg;

    xlmig__sleep_ms(c->after_ms);
    *c->flag = 1;
    return NULL;
}

static void test_line_timeout_cancel(void **state)
{
    struct pipe_pair p = pipe_new();
    volatile sig_atomic_t cancel = 0;
    struct canceller c = { &cancel, 300 };
    pthread_t t;
    char buf[64];
    double t0, took;

    (void)state;
    /* Nothing written: the timeout. */
    reset_log();
    t0 = xlmig__now_s();
    assert_int_equal(line_read(p.r, buf, sizeof(buf), 400, &cancel),
                     LIBXLMIG_ERR_TIMEOUT);
    took = xlmig__now_s() - t0;
    if (took < 0.4 || took > 2.0)
        fail_msg("the timeout of 0.4 s took %.2f s", took);
    assert_int_equal(cap.count, 1);
    assert_contains(cap.text, "TIMEOUT: host h2 said nothing");

    /* Half a line, then nothing: the timeout too. */
    put(p.w, "xlmig-", 6);
    reset_log();
    assert_int_equal(line_read(p.r, buf, sizeof(buf), 300, NULL),
                     LIBXLMIG_ERR_TIMEOUT);

    /* Cancelled before: at once. */
    cancel = 1;
    reset_log();
    t0 = xlmig__now_s();
    assert_int_equal(line_read(p.r, buf, sizeof(buf), 10000, &cancel),
                     LIBXLMIG_ERR_CANCELLED);
    assert_true(xlmig__now_s() - t0 < 0.5);
    assert_contains(cap.text, "TASK_CANCELLED: cancelled while waiting for "
                    "host h2");

    /* Cancelled while it waits: within its polling period. */
    cancel = 0;
    reset_log();
    assert_int_equal(pthread_create(&t, NULL, cancel_main, &c), 0);
    t0 = xlmig__now_s();
    assert_int_equal(line_read(p.r, buf, sizeof(buf), 10000, &cancel),
                     LIBXLMIG_ERR_CANCELLED);
    took = xlmig__now_s() - t0;
    assert_int_equal(pthread_join(t, NULL), 0);
    if (took < 0.25 || took > 2.0)
        fail_msg("a cancel after 0.3 s ended the wait after %.2f s", took);
    assert_int_equal(cap.count, 1);
    pipe_close(&p);
}

/* ------------------------------------------------------------ preamble */

static void test_preamble_round_trip(void **state)
{
    static const char cfg[] = "{\"c_info\": {\"type\": \"pvh\", \"name\": "
                              "\"web1\"}, \"b_info\": {\"max_memkb\": 1}}";
    struct pipe_pair p = pipe_new();
    char *json = NULL, buf[64], head[64];
    size_t len = 0;
    yajl_val root = NULL;
    char why[128];

    (void)state;
    assert_ok(xlmig__mig_preamble_write(p.w, cfg, strlen(cfg)));
    assert_ok(xlmig__mig_line_write(p.w, XLMIG__MIGL_GO));
    snprintf(head, sizeof(head), XLMIG__MIGL_CONFIG " %zu\n", strlen(cfg));
    assert_int_equal(pending(p.r),
                     (int)(strlen(head) + strlen(cfg) +
                           sizeof(XLMIG__MIGL_GO)));
    reset_log();
    assert_ok(xlmig__mig_preamble_read(ctx, p.r, "host h1", 1000, NULL,
                                       &json, &len));
    assert_int_equal(cap.count, 0);
    assert_int_equal(len, strlen(cfg));
    assert_memory_equal(json, cfg, len);
    assert_int_equal(json[len], '\0');
    /* Nothing after it was read. */
    assert_ok(line_read(p.r, buf, sizeof(buf), 1000, NULL));
    assert_string_equal(buf, XLMIG__MIGL_GO);
    /* Its tree. */
    assert_ok(xlmig__mig_preamble_tree(json, len, &root, why, sizeof(why)));
    assert_true(YAJL_IS_OBJECT(root));
    yajl_tree_free(root);
    free(json);
    pipe_close(&p);
}

static void test_preamble_refused(void **state)
{
    static const struct {
        const char *what;
        const char *bytes;
        int rc;
        const char *says;
    } cases[] = {
        { "another line", XLMIG__MIGL_READY "\n", LIBXLMIG_ERR_PROTOCOL,
          "PROTOCOL_ERROR: host h1 did not start with the VM's "
          "configuration" },
        { "the word alone", XLMIG__MIGL_CONFIG "\n", LIBXLMIG_ERR_PROTOCOL,
          "did not start with the VM's configuration" },
        { "no length", XLMIG__MIGL_CONFIG " \n", LIBXLMIG_ERR_PROTOCOL,
          "did not start with the VM's configuration" },
        { "a longer word", XLMIG__MIGL_CONFIG "x 2\n{}",
          LIBXLMIG_ERR_PROTOCOL, "did not start with" },
        { "a length not a number", XLMIG__MIGL_CONFIG " 12x\n",
          LIBXLMIG_ERR_PROTOCOL, "announced a configuration of a bad length "
          "(at most 1114112 bytes)" },
        { "length 0", XLMIG__MIGL_CONFIG " 0\n", LIBXLMIG_ERR_PROTOCOL,
          "a bad length" },
        { "length -1", XLMIG__MIGL_CONFIG " -1\n", LIBXLMIG_ERR_PROTOCOL,
          "a bad length" },
        { "a length beyond 64 bits", XLMIG__MIGL_CONFIG
          " 99999999999999999999999\n", LIBXLMIG_ERR_PROTOCOL,
          "a bad length" },
        { "a header too long", XLMIG__MIGL_CONFIG " 000000000000000000000000"
          "00000000000000000000000000000000000000000012\n",
          LIBXLMIG_ERR_PROTOCOL, "too long or not text" },
        { "nothing at all", "", LIBXLMIG_ERR_IO, "the connection to host h1 "
          "ended" },
        { "a short body", XLMIG__MIGL_CONFIG " 100\n{\"c_info\": {}}",
          LIBXLMIG_ERR_IO, "IO_ERROR: the connection to host h1 ended inside "
          "the VM's configuration" },
    };
    size_t i;

    (void)state;
    for (i = 0; i < ARRAY_LEN(cases); i++) {
        struct pipe_pair p = pipe_new();
        char *json = (char *)"untouched";
        size_t len = 77;
        int rc;

        put(p.w, cases[i].bytes, strlen(cases[i].bytes));
        close(p.w);
        p.w = -1;
        reset_log();
        rc = xlmig__mig_preamble_read(ctx, p.r, "host h1", 1000, NULL, &json,
                                      &len);
        if (rc != cases[i].rc)
            fail_msg("%s: rc %d:\n%s", cases[i].what, rc, cap.text);
        assert_int_equal(cap.count, 1);
        if (!strstr(cap.text, cases[i].says))
            fail_msg("%s: expected \"%s\" in:\n%s", cases[i].what,
                     cases[i].says, cap.text);
        assert_string_equal(json, "untouched");
        assert_int_equal(len, 77);
        pipe_close(&p);
    }
}

/*
 * A length over the cap is refused from the header alone: the writer
 * stays open with no body, so a reader that went on to the body would
 * wait for it.  The cap itself is taken (and its short body refused).
 */
static void test_preamble_cap(void **state)
{
    struct pipe_pair p = pipe_new();
    char head[64], *json = NULL;
    size_t len = 0;
    double t0;

    (void)state;
    snprintf(head, sizeof(head), XLMIG__MIGL_CONFIG " %u\n",
             XLMIG__MIG_PREAMBLE_MAX + 1);
    put(p.w, head, strlen(head));
    put(p.w, "{}", 2);
    reset_log();
    t0 = xlmig__now_s();
    assert_int_equal(xlmig__mig_preamble_read(ctx, p.r, "host h1", 5000, NULL,
                                              &json, &len),
                     LIBXLMIG_ERR_PROTOCOL);
    assert_true(xlmig__now_s() - t0 < 1.0);
    assert_contains(cap.text, "a bad length");
    assert_null(json);
    /* The body's bytes are still there: not read. */
    assert_int_equal(pending(p.r), 2);
    pipe_close(&p);

    p = pipe_new();
    snprintf(head, sizeof(head), XLMIG__MIGL_CONFIG " %u\n",
             XLMIG__MIG_PREAMBLE_MAX);
    put(p.w, head, strlen(head));
    put(p.w, "{}", 2);
    close(p.w);
    p.w = -1;
    reset_log();
    assert_int_equal(xlmig__mig_preamble_read(ctx, p.r, "host h1", 5000, NULL,
                                              &json, &len),
                     LIBXLMIG_ERR_IO);
    assert_contains(cap.text, "ended inside the VM's configuration");
    pipe_close(&p);
}

static void test_preamble_tree(void **state)
{
    static const struct {
        const char *json;
        const char *why;        /* NULL: a tree */
    } cases[] = {
        { "{}", NULL },
        { "{\"c_info\": {\"name\": \"web1\"}, \"x\": [1.5e300]}", NULL },
        { "[]", "not a JSON object" },
        { "\"{}\"", "not a JSON object" },
        { "{\"a\": 1", "not valid JSON" },
        { "{\"a\": \"b\\u0000\"}", "NUL character" },
    };
    char why[256];
    size_t i;

    (void)state;
    for (i = 0; i < ARRAY_LEN(cases); i++) {
        yajl_val root = NULL;
        int rc = xlmig__mig_preamble_tree(cases[i].json,
                                          strlen(cases[i].json), &root, why,
                                          sizeof(why));

        if (!cases[i].why) {
            assert_int_equal(rc, 0);
            assert_true(YAJL_IS_OBJECT(root));
            yajl_tree_free(root);
            continue;
        }
        assert_int_equal(rc, LIBXLMIG_ERR_PROTOCOL);
        assert_null(root);
        assert_contains(why, cases[i].why);
    }
    {
        char *big = malloc(XLMIG__MIG_PREAMBLE_MAX + 1);
        yajl_val root = NULL;

        assert_non_null(big);
        memset(big, ' ', XLMIG__MIG_PREAMBLE_MAX + 1);
        assert_int_equal(xlmig__mig_preamble_tree(big,
                                                  XLMIG__MIG_PREAMBLE_MAX + 1,
                                                  &root, why, sizeof(why)),
                         LIBXLMIG_ERR_PROTOCOL);
        assert_contains(why, "more than 1114112 bytes");
        assert_null(root);
        free(big);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_record_round_trip),
        cmocka_unit_test(test_record_members_refused),
        cmocka_unit_test(test_record_without_priority),
        cmocka_unit_test(test_record_values_refused),
        cmocka_unit_test(test_record_size_cap),
        cmocka_unit_test_setup_teardown(test_record_files, dir_setup,
                                        dir_teardown),
        cmocka_unit_test_setup_teardown(test_record_prune, dir_setup,
                                        dir_teardown),
        cmocka_unit_test(test_facts_round_trip),
        cmocka_unit_test(test_facts_refused),
        cmocka_unit_test(test_facts_sr),
        cmocka_unit_test_setup_teardown(test_check, dir_setup, dir_teardown),
        cmocka_unit_test(test_line_read),
        cmocka_unit_test(test_line_two),
        cmocka_unit_test(test_line_write),
        cmocka_unit_test(test_line_timeout_cancel),
        cmocka_unit_test(test_preamble_round_trip),
        cmocka_unit_test(test_preamble_refused),
        cmocka_unit_test(test_preamble_cap),
        cmocka_unit_test(test_preamble_tree),
    };

    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}

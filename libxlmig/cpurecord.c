/* SPDX-License-Identifier: LGPL-2.1-only */
/*
 * CPU records of hosts and VMs in the state directory
 * (docs/specs/cpu-records.md): JSON through yajl, written crash-safely,
 * read with the size capped before anything is allocated.
 *
 * Decoding runs yajl twice over at most XLMIG__RECORD_FILE_MAX bytes
 * (jsonfile.c: a first pass that only watches, then yajl_tree_parse()),
 * and we read the tree member by member.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <yajl/yajl_gen.h>
#include <yajl/yajl_tree.h>

#include "cpurecord.h"
#include "featureset.h"
#include "internal.h"
#include "names.h"
#include "jsonfile.h"
#include "uuid.h"

/* Host records xlmig__host_records_list() takes at most. */
#define HOST_RECORDS_MAX 1024
#define RECORD_PATH_MAX XLMIG__JSONFILE_PATH_MAX

#define JSON_SUFFIX ".json"
#define JSON_SUFFIX_LEN (sizeof(JSON_SUFFIX) - 1)

/* ------------------------------------------------------------ helpers */

static const char *guest_type_string(libxlmig_guest_type t)
{
    switch (t) {
    case LIBXLMIG_GUEST_PV:
        return "pv";
    case LIBXLMIG_GUEST_HVM:
        return "hvm";
    }
    return NULL;
}

/* What differs in records from the other JSON files (jsonfile.h). */
static const struct xlmig__json_kind record_kind = {
    .what = "CPU record",
    .a_what = "a record",
    .invalid_rc = LIBXLMIG_ERR_RECORD_INVALID,
    .max_bytes = XLMIG__RECORD_FILE_MAX,
    .depth_max = 16,            /* records: 1 */
    .read_to_cap = true,
    .dir_before = "directory ",
    .dir_after = " for CPU records",
    .dir_role = "the CPU records' directory",
};

/*
 * A decode error: "CPU record LABEL: ..." as LIBXLMIG_ERR_RECORD_INVALID,
 * logged only when there is a context.
 */
#define record_error(ctx, label, ...) \
    xlmig__json_error(ctx, &record_kind, label, __VA_ARGS__)

/*
 * The featureset module's parsers log their own error (vendor,
 * featureset).  A record's error is ours, CPU_RECORD_INVALID, and is
 * logged once: so they run on a context of our own whose logger drops
 * everything, and their message (without its error name) becomes part
 * of ours.
 */
/* NULL when @ctx is NULL (nothing to say then), else @quiet set up. */
static libxlmig_ctx *quiet_ctx(libxlmig_ctx *ctx, struct libxlmig_ctx *quiet)
{
    if (!ctx)
        return NULL;
    memset(quiet, 0, sizeof(*quiet));
    quiet->logger = xlmig__silent_logger();
    quiet->privcmd_path = XLMIG__PRIVCMD_PATH;
    return quiet;
}

/* The message a quiet context kept for @rc, without "NAME: ". */
static const char *quiet_message(const struct libxlmig_ctx *quiet, int rc)
{
    const char *m = quiet->last_error, *name = libxlmig_strerror_name(rc);
    size_t n = strlen(name);

    if (!strncmp(m, name, n) && m[n] == ':' && m[n + 1] == ' ')
        m += n + 2;
    return m;
}

/* ------------------------------------------------------------ decoding */

enum member_type { MEMBER_STRING, MEMBER_INTEGER };

/*
 * Member @key of object @obj, of @type: present exactly once.  Returns
 * it in *v_r.
 */
static int member(libxlmig_ctx *ctx, const char *label, yajl_val obj,
                  const char *key, enum member_type type, yajl_val *v_r)
{
    yajl_val found = NULL;
    size_t i;

    for (i = 0; i < obj->u.object.len; i++) {
        if (strcmp(obj->u.object.keys[i], key))
            continue;
        if (found)
            return record_error(ctx, label, "member \"%s\" appears more "
                                "than once", key);
        found = obj->u.object.values[i];
    }
    if (!found)
        return record_error(ctx, label, "member \"%s\" is missing", key);
    if (type == MEMBER_STRING && !YAJL_IS_STRING(found))
        return record_error(ctx, label, "member \"%s\" is %s, not a string",
                            key, xlmig__json_type_name(found));
    if (type == MEMBER_INTEGER && !YAJL_IS_INTEGER(found))
        return record_error(ctx, label, "member \"%s\" is %s, not an "
                            "integer", key, xlmig__json_type_name(found));
    *v_r = found;
    return 0;
}

static int member_string(libxlmig_ctx *ctx, const char *label, yajl_val obj,
                         const char *key, const char **s_r)
{
    yajl_val v;
    int rc = member(ctx, label, obj, key, MEMBER_STRING, &v);

    if (!rc)
        *s_r = YAJL_GET_STRING(v);
    return rc;
}

/* A member that holds a record name (the record's own, a host's). */
static int member_name(libxlmig_ctx *ctx, const char *label, yajl_val obj,
                       const char *key, char out[XLMIG__RECORD_NAME_MAX + 1])
{
    char why[96], quoted[XLMIG__QUOTE_MAX + 8];
    const char *s;
    size_t at;
    int rc;

    rc = member_string(ctx, label, obj, key, &s);
    if (rc)
        return rc;
    if (!xlmig__name_ok(s, why, sizeof(why), &at)) {
        xlmig__quote(s, at, quoted, sizeof(quoted));
        return record_error(ctx, label, "member \"%s\": \"%s\" is not a "
                            "valid name: %s; %s", key, quoted, why,
                            XLMIG__NAME_RULE);
    }
    xlmig__strlcpy(out, s, XLMIG__RECORD_NAME_MAX + 1);
    return 0;
}

static int member_vendor(libxlmig_ctx *ctx, const char *label, yajl_val obj,
                         libxlmig_cpu_vendor *vendor_r)
{
    struct libxlmig_ctx quiet;
    libxlmig_ctx *q = quiet_ctx(ctx, &quiet);
    const char *s;
    int rc;

    rc = member_string(ctx, label, obj, "vendor", &s);
    if (rc)
        return rc;
    rc = libxlmig_cpu_vendor_parse(q, "member \"vendor\"", s, vendor_r);
    if (rc)
        return record_error(ctx, label, "%s",
                            q ? quiet_message(q, rc) : "");
    return 0;
}

static int member_featureset(libxlmig_ctx *ctx, const char *label,
                             yajl_val obj, const char *key,
                             libxlmig_featureset *fs_r)
{
    struct libxlmig_ctx quiet;
    libxlmig_ctx *q = quiet_ctx(ctx, &quiet);
    char field[48];
    const char *s;
    int rc;

    rc = member_string(ctx, label, obj, key, &s);
    if (rc)
        return rc;
    snprintf(field, sizeof(field), "member \"%s\"", key);
    rc = libxlmig_featureset_parse(q, field, s, fs_r);
    if (rc)
        return record_error(ctx, label, "%s",
                            q ? quiet_message(q, rc) : "");
    return 0;
}

static int member_recorded(libxlmig_ctx *ctx, const char *label,
                           yajl_val obj, int64_t *t_r)
{
    yajl_val v;
    int rc = member(ctx, label, obj, "recorded", MEMBER_INTEGER, &v);

    if (rc)
        return rc;
    if (YAJL_GET_INTEGER(v) < 0)
        return record_error(ctx, label, "member \"recorded\" is %lld, "
                            "before 1970; expected seconds since the epoch",
                            (long long)YAJL_GET_INTEGER(v));
    *t_r = YAJL_GET_INTEGER(v);
    return 0;
}

/*
 * Parse @len bytes into a tree (*root_r, yajl_tree_free() it) whose top
 * is an object of version 1 and of @kind ("host", "vm").
 */
static int record_parse(libxlmig_ctx *ctx, const char *label,
                        const uint8_t *json, size_t len, const char *kind,
                        yajl_val *root_r)
{
    yajl_val root = NULL, v;
    char quoted[XLMIG__QUOTE_MAX + 8];
    const char *k;
    int rc;

    rc = xlmig__json_load(ctx, &record_kind, label, json, len, &root);
    if (rc)
        goto out;
    rc = member(ctx, label, root, "version", MEMBER_INTEGER, &v);
    if (rc)
        goto out;
    if (YAJL_GET_INTEGER(v) != XLMIG__RECORD_VERSION) {
        rc = record_error(ctx, label, "version %lld, but this libxlmig "
                          "reads version %d only",
                          (long long)YAJL_GET_INTEGER(v),
                          XLMIG__RECORD_VERSION);
        goto out;
    }
    rc = member_string(ctx, label, root, "kind", &k);
    if (rc)
        goto out;
    if (strcmp(k, kind)) {
        xlmig__quote(k, 0, quoted, sizeof(quoted));
        rc = record_error(ctx, label, "member \"kind\" is \"%s\", expected "
                          "\"%s\" (a %s record)", quoted, kind,
                          !strcmp(kind, "vm") ? "VM" : "host");
        goto out;
    }
    *root_r = root;
    root = NULL;                /* the caller frees it now */
    rc = 0;
 out:
    yajl_tree_free(root);
    return rc;
}

int xlmig__host_record_decode(libxlmig_ctx *ctx, const char *label,
                              const uint8_t *json, size_t len,
                              struct xlmig__host_record *r)
{
    struct xlmig__host_record rec;
    yajl_val root = NULL;
    int rc;

    if (!r || (!json && len))
        return xlmig__error_opt(ctx, LIBXLMIG_ERR_INVALID_ARGUMENT,
                                "host record decode: no record or text");
    if (!label)
        label = "(unnamed)";
    if (!json)
        json = (const uint8_t *)"";
    memset(&rec, 0, sizeof(rec));
    rc = record_parse(ctx, label, json, len, "host", &root);
    if (rc) goto out;
    rc = member_name(ctx, label, root, "name", rec.name);
    if (rc) goto out;
    rc = member_vendor(ctx, label, root, &rec.vendor);
    if (rc) goto out;
    rc = member_featureset(ctx, label, root, "pv_max", &rec.pv_max);
    if (rc) goto out;
    rc = member_featureset(ctx, label, root, "hvm_max", &rec.hvm_max);
    if (rc) goto out;
    rc = member_recorded(ctx, label, root, &rec.recorded);
    if (rc) goto out;
    *r = rec;
 out:
    yajl_tree_free(root);
    return rc;
}

int xlmig__vm_record_decode(libxlmig_ctx *ctx, const char *label,
                            const uint8_t *json, size_t len,
                            struct xlmig__vm_record *r)
{
    struct xlmig__vm_record rec;
    char quoted[XLMIG__QUOTE_MAX + 8];
    yajl_val root = NULL;
    const char *s;
    int rc;

    if (!r || (!json && len))
        return xlmig__error_opt(ctx, LIBXLMIG_ERR_INVALID_ARGUMENT,
                                "VM record decode: no record or text");
    if (!label)
        label = "(unnamed)";
    if (!json)
        json = (const uint8_t *)"";
    memset(&rec, 0, sizeof(rec));
    rc = record_parse(ctx, label, json, len, "vm", &root);
    if (rc) goto out;
    rc = member_name(ctx, label, root, "name", rec.name);
    if (rc) goto out;

    rc = member_string(ctx, label, root, "uuid", &s);
    if (rc) goto out;
    if (!xlmig__uuid_valid(s, XLMIG__UUID_ANY_CASE | XLMIG__UUID_EMPTY_OK)) {
        xlmig__quote(s, 0, quoted, sizeof(quoted));
        rc = record_error(ctx, label, "member \"uuid\": \"%s\" is not a "
                          "UUID; expected 36 characters as "
                          "\"01234567-89ab-cdef-0123-456789abcdef\", or "
                          "\"\" when unknown", quoted);
        goto out;
    }
    xlmig__strlcpy(rec.uuid, s, sizeof(rec.uuid));

    rc = member_string(ctx, label, root, "type", &s);
    if (rc) goto out;
    if (!strcmp(s, "pv")) {
        rec.type = LIBXLMIG_GUEST_PV;
    } else if (!strcmp(s, "hvm")) {
        rec.type = LIBXLMIG_GUEST_HVM;
    } else {
        xlmig__quote(s, 0, quoted, sizeof(quoted));
        rc = record_error(ctx, label, "member \"type\": \"%s\" is not a "
                          "guest type; expected \"pv\" or \"hvm\" (HVM and "
                          "PVH guests)", quoted);
        goto out;
    }

    rc = member_vendor(ctx, label, root, &rec.cpu.vendor);
    if (rc) goto out;
    rc = member_featureset(ctx, label, root, "features", &rec.cpu.features);
    if (rc) goto out;
    rc = member_name(ctx, label, root, "host", rec.host);
    if (rc) goto out;
    rc = member_recorded(ctx, label, root, &rec.recorded);
    if (rc) goto out;
    *r = rec;
 out:
    yajl_tree_free(root);
    return rc;
}

/* ------------------------------------------------------------ encoding */

/*
 * Whether a record can be written so that it decodes again: a name, a
 * known vendor, featuresets of at most LIBXLMIG_FEATURESET_MAX_WORDS
 * words, a time not before 1970.  Logs when @ctx is not NULL.
 */
static int featureset_ok(libxlmig_ctx *ctx, const char *what,
                         const char *name, const libxlmig_featureset *fs)
{
    if (fs->nr_words > LIBXLMIG_FEATURESET_MAX_WORDS)
        return xlmig__error_opt(ctx, LIBXLMIG_ERR_INVALID_ARGUMENT,
                                "%s of %s has %u words, more than %d",
                                what, name, fs->nr_words,
                                LIBXLMIG_FEATURESET_MAX_WORDS);
    return 0;
}

static int host_record_ok(libxlmig_ctx *ctx,
                          const struct xlmig__host_record *r)
{
    int rc;

    rc = xlmig__name_check(ctx, "host name", r->name);
    if (rc)
        return rc;
    if (!libxlmig_cpu_vendor_string(r->vendor))
        return xlmig__error_opt(ctx, LIBXLMIG_ERR_INVALID_ARGUMENT,
                                "CPU record of host %s: no known CPU "
                                "vendor (%d)", r->name, (int)r->vendor);
    rc = featureset_ok(ctx, "PV max featureset", r->name, &r->pv_max);
    if (!rc)
        rc = featureset_ok(ctx, "HVM max featureset", r->name, &r->hvm_max);
    if (rc)
        return rc;
    if (r->recorded < 0)
        return xlmig__error_opt(ctx, LIBXLMIG_ERR_INVALID_ARGUMENT,
                                "CPU record of host %s: recorded time %lld "
                                "is before 1970", r->name,
                                (long long)r->recorded);
    return 0;
}

static int vm_record_ok(libxlmig_ctx *ctx, const struct xlmig__vm_record *r)
{
    char quoted[XLMIG__QUOTE_MAX + 8];
    int rc;

    rc = xlmig__name_check(ctx, "VM name", r->name);
    if (rc)
        return rc;
    if (strnlen(r->uuid, sizeof(r->uuid)) == sizeof(r->uuid) ||
        !xlmig__uuid_valid(r->uuid,
                           XLMIG__UUID_ANY_CASE | XLMIG__UUID_EMPTY_OK)) {
        xlmig__quote(r->uuid, 0, quoted, sizeof(quoted));
        return xlmig__error_opt(ctx, LIBXLMIG_ERR_INVALID_ARGUMENT,
                                "CPU record of VM %s: \"%s\" is not a UUID",
                                r->name, quoted);
    }
    if (!guest_type_string(r->type))
        return xlmig__error_opt(ctx, LIBXLMIG_ERR_INVALID_ARGUMENT,
                                "CPU record of VM %s: guest type %d is "
                                "neither PV nor HVM", r->name, (int)r->type);
    if (!libxlmig_cpu_vendor_string(r->cpu.vendor))
        return xlmig__error_opt(ctx, LIBXLMIG_ERR_INVALID_ARGUMENT,
                                "CPU record of VM %s: no known CPU vendor "
                                "(%d)", r->name, (int)r->cpu.vendor);
    rc = featureset_ok(ctx, "featureset", r->name, &r->cpu.features);
    if (rc)
        return rc;
    rc = xlmig__name_check(ctx, "host name of the VM's record",
                                  r->host);
    if (rc)
        return rc;
    if (r->recorded < 0)
        return xlmig__error_opt(ctx, LIBXLMIG_ERR_INVALID_ARGUMENT,
                                "CPU record of VM %s: recorded time %lld "
                                "is before 1970", r->name,
                                (long long)r->recorded);
    return 0;
}

static bool gen_key_featureset(yajl_gen g, const char *key,
                               const libxlmig_featureset *fs)
{
    char text[LIBXLMIG_FEATURESET_STRING_MAX];

    if (libxlmig_featureset_format(fs, text, sizeof(text)))
        return false;
    return xlmig__gen_key_string(g, key, text);
}

int xlmig__host_record_encode(const struct xlmig__host_record *r, char *buf,
                              size_t cap, size_t *len_r)
{
    yajl_gen g = NULL;
    bool ok;
    int rc;

    if (!r || !buf || !len_r)
        return LIBXLMIG_ERR_INVALID_ARGUMENT;
    rc = host_record_ok(NULL, r);
    if (rc)
        return rc;
    g = xlmig__gen_new();
    if (!g)
        return LIBXLMIG_ERR_NO_MEMORY;
    ok = yajl_gen_map_open(g) == yajl_gen_status_ok &&
         xlmig__gen_key_integer(g, "version", XLMIG__RECORD_VERSION) &&
         xlmig__gen_key_string(g, "kind", "host") &&
         xlmig__gen_key_string(g, "name", r->name) &&
         xlmig__gen_key_string(g, "vendor", libxlmig_cpu_vendor_string(r->vendor)) &&
         gen_key_featureset(g, "pv_max", &r->pv_max) &&
         gen_key_featureset(g, "hvm_max", &r->hvm_max) &&
         xlmig__gen_key_integer(g, "recorded", r->recorded) &&
         yajl_gen_map_close(g) == yajl_gen_status_ok;
    rc = ok ? xlmig__gen_finish(g, buf, cap, len_r) : LIBXLMIG_ERR_INTERNAL;
    yajl_gen_free(g);
    return rc;
}

int xlmig__vm_record_encode(const struct xlmig__vm_record *r, char *buf,
                            size_t cap, size_t *len_r)
{
    yajl_gen g = NULL;
    bool ok;
    int rc;

    if (!r || !buf || !len_r)
        return LIBXLMIG_ERR_INVALID_ARGUMENT;
    rc = vm_record_ok(NULL, r);
    if (rc)
        return rc;
    g = xlmig__gen_new();
    if (!g)
        return LIBXLMIG_ERR_NO_MEMORY;
    ok = yajl_gen_map_open(g) == yajl_gen_status_ok &&
         xlmig__gen_key_integer(g, "version", XLMIG__RECORD_VERSION) &&
         xlmig__gen_key_string(g, "kind", "vm") &&
         xlmig__gen_key_string(g, "name", r->name) &&
         xlmig__gen_key_string(g, "uuid", r->uuid) &&
         xlmig__gen_key_string(g, "type", guest_type_string(r->type)) &&
         xlmig__gen_key_string(g, "vendor",
                        libxlmig_cpu_vendor_string(r->cpu.vendor)) &&
         gen_key_featureset(g, "features", &r->cpu.features) &&
         xlmig__gen_key_string(g, "host", r->host) &&
         xlmig__gen_key_integer(g, "recorded", r->recorded) &&
         yajl_gen_map_close(g) == yajl_gen_status_ok;
    rc = ok ? xlmig__gen_finish(g, buf, cap, len_r) : LIBXLMIG_ERR_INTERNAL;
    yajl_gen_free(g);
    return rc;
}

/* ------------------------------------------------------------ files */

/* "STATE/SUB" and "STATE/SUB/NAME.json" into @dir and @path. */
static int record_paths(libxlmig_ctx *ctx, const char *state,
                        const char *sub, const char *name, char *dir,
                        char *path)
{
    int n;

    n = snprintf(dir, RECORD_PATH_MAX, "%s/%s", state, sub);
    if (n < 0 || n >= RECORD_PATH_MAX - XLMIG__RECORD_NAME_MAX - 40)
        return xlmig__error(ctx, LIBXLMIG_ERR_INVALID_ARGUMENT, -1,
                            "state directory path \"%.80s...\" is too long",
                            state);
    if (name)
        snprintf(path, RECORD_PATH_MAX, "%s/%s" JSON_SUFFIX, dir, name);
    return 0;
}

/*
 * Write @text (@len bytes) as STATE/@sub/@name.json: a temporary file in
 * the same directory, fsync, rename over the record, fsync of the
 * directory.  On failure the temporary is removed and the old record, if
 * any, is whole.
 */
static int record_write(libxlmig_ctx *ctx, const char *state_dir,
                        const char *sub, const char *name, const char *text,
                        size_t len)
{
    char dir[RECORD_PATH_MAX], path[RECORD_PATH_MAX];
    const char *state = xlmig__state_dir(state_dir);
    int rc;

    rc = record_paths(ctx, state, sub, name, dir, path);
    if (!rc)
        rc = xlmig__dir_make(ctx, &record_kind, state);
    if (!rc)
        rc = xlmig__dir_make(ctx, &record_kind, dir);
    if (!rc)
        rc = xlmig__file_write(ctx, dir, path, text, len);
    return rc;
}

int xlmig__host_record_save(libxlmig_ctx *ctx, const char *state_dir,
                            const struct xlmig__host_record *r)
{
    char *text = NULL;
    size_t len;
    int rc;

    if (!r)
        return xlmig__error(ctx, LIBXLMIG_ERR_INVALID_ARGUMENT, -1,
                            "no host record to save");
    rc = host_record_ok(ctx, r);
    if (rc) goto out;
    text = malloc(XLMIG__RECORD_FILE_MAX + 1);
    if (!text) {
        rc = xlmig__error(ctx, LIBXLMIG_ERR_NO_MEMORY, -1,
                          "no memory to encode the record of host %s",
                          r->name);
        goto out;
    }
    rc = xlmig__host_record_encode(r, text, XLMIG__RECORD_FILE_MAX + 1,
                                   &len);
    if (rc) {
        rc = xlmig__error(ctx, rc, -1, "cannot encode the CPU record of "
                          "host %s", r->name);
        goto out;
    }
    rc = record_write(ctx, state_dir, "hosts", r->name, text, len);
 out:
    free(text);
    return rc;
}

int xlmig__vm_record_save(libxlmig_ctx *ctx, const char *state_dir,
                          const struct xlmig__vm_record *r)
{
    char *text = NULL;
    size_t len;
    int rc;

    if (!r)
        return xlmig__error(ctx, LIBXLMIG_ERR_INVALID_ARGUMENT, -1,
                            "no VM record to save");
    rc = vm_record_ok(ctx, r);
    if (rc) goto out;
    text = malloc(XLMIG__RECORD_FILE_MAX + 1);
    if (!text) {
        rc = xlmig__error(ctx, LIBXLMIG_ERR_NO_MEMORY, -1,
                          "no memory to encode the record of VM %s",
                          r->name);
        goto out;
    }
    rc = xlmig__vm_record_encode(r, text, XLMIG__RECORD_FILE_MAX + 1, &len);
    if (rc) {
        rc = xlmig__error(ctx, rc, -1, "cannot encode the CPU record of VM "
                          "%s", r->name);
        goto out;
    }
    rc = record_write(ctx, state_dir, "vms", r->name, text, len);
 out:
    free(text);
    return rc;
}

enum record_kind { KIND_HOST, KIND_VM };

/*
 * Read STATE/SUB/NAME.json whole into *text_r (malloc'd, free() it;
 * *len_r bytes), its path into @path.  A missing file is
 * LIBXLMIG_ERR_NOT_FOUND with what to do; a file that is not regular or
 * larger than XLMIG__RECORD_FILE_MAX is refused before it is read.
 */
static int record_read(libxlmig_ctx *ctx, const char *state,
                       enum record_kind kind, const char *name, char *path,
                       char **text_r, size_t *len_r)
{
    char dir[RECORD_PATH_MAX];
    int rc;

    rc = record_paths(ctx, state, kind == KIND_HOST ? "hosts" : "vms",
                      name, dir, path);
    if (rc)
        return rc;
    rc = xlmig__file_read(ctx, &record_kind, path, text_r, len_r);
    if (rc != LIBXLMIG_ERR_NOT_FOUND)
        return rc;
    if (kind == KIND_HOST)
        return xlmig__error(ctx, LIBXLMIG_ERR_NOT_FOUND, -1,
                            "no CPU record of host %s in %s; run "
                            "`xlmig-xe host-cpu-record` on that host and "
                            "copy the file to %s here, or "
                            "`xlmig-xe host-cpu-import file=...`",
                            name, dir, path);
    return xlmig__error(ctx, LIBXLMIG_ERR_NOT_FOUND, -1,
                        "no CPU record of VM %s in %s; run "
                        "`xlmig-xe vm-cpu-record vm=%s` on the host "
                        "where it runs", name, dir, name);
}

/* The record in file @path names @name, the name of its file. */
static int name_matches(libxlmig_ctx *ctx, const char *path,
                        const char *what, const char *in_record,
                        const char *name)
{
    if (!strcmp(in_record, name))
        return 0;
    return record_error(ctx, path, "member \"name\" is \"%s\" but the file "
                        "is that of %s %s; a record keeps the name of its "
                        "file: record %s %s again rather than renaming a "
                        "file", in_record, what, name, what, name);
}

int xlmig__host_record_load(libxlmig_ctx *ctx, const char *state_dir,
                            const char *name, struct xlmig__host_record *r)
{
    char path[RECORD_PATH_MAX], *text = NULL;
    struct xlmig__host_record rec;
    size_t len = 0;
    int rc;

    if (!r)
        return xlmig__error(ctx, LIBXLMIG_ERR_INVALID_ARGUMENT, -1,
                            "no host record to load into");
    rc = xlmig__name_check(ctx, "host name", name);
    if (rc) goto out;
    rc = record_read(ctx, xlmig__state_dir(state_dir), KIND_HOST, name,
                     path, &text, &len);
    if (rc) goto out;
    rc = xlmig__host_record_decode(ctx, path, (const uint8_t *)text, len,
                                   &rec);
    if (rc) goto out;
    rc = name_matches(ctx, path, "host", rec.name, name);
    if (rc) goto out;
    *r = rec;
 out:
    free(text);
    return rc;
}

int xlmig__vm_record_load(libxlmig_ctx *ctx, const char *state_dir,
                          const char *name, struct xlmig__vm_record *r)
{
    char path[RECORD_PATH_MAX], *text = NULL;
    struct xlmig__vm_record rec;
    size_t len = 0;
    int rc;

    if (!r)
        return xlmig__error(ctx, LIBXLMIG_ERR_INVALID_ARGUMENT, -1,
                            "no VM record to load into");
    rc = xlmig__name_check(ctx, "VM name", name);
    if (rc) goto out;
    rc = record_read(ctx, xlmig__state_dir(state_dir), KIND_VM, name, path,
                     &text, &len);
    if (rc) goto out;
    rc = xlmig__vm_record_decode(ctx, path, (const uint8_t *)text, len,
                                 &rec);
    if (rc) goto out;
    rc = name_matches(ctx, path, "VM", rec.name, name);
    if (rc) goto out;
    *r = rec;
 out:
    free(text);
    return rc;
}

int xlmig__vm_record_remove(libxlmig_ctx *ctx, const char *state_dir,
                            const char *name)
{
    char dir[RECORD_PATH_MAX], path[RECORD_PATH_MAX];
    int rc;

    rc = xlmig__name_check(ctx, "VM name", name);
    if (rc)
        return rc;
    rc = record_paths(ctx, xlmig__state_dir(state_dir), "vms", name, dir,
                      path);
    if (rc)
        return rc;
    if (unlink(path)) {
        if (errno == ENOENT)
            return 0;
        return xlmig__error(ctx, xlmig__file_rc(errno), errno,
                            "cannot remove the CPU record %s", path);
    }
    return xlmig__dir_sync(ctx, dir);
}

typedef char record_name[XLMIG__RECORD_NAME_MAX + 1];

static int name_cmp(const void *a, const void *b)
{
    return strcmp(*(const record_name *)a, *(const record_name *)b);
}

int xlmig__host_records_list(libxlmig_ctx *ctx, const char *state_dir,
                             struct xlmig__host_record **recs_r,
                             size_t *nr_r)
{
    const char *state = xlmig__state_dir(state_dir);
    char dir[RECORD_PATH_MAX], why[96];
    struct xlmig__host_record *recs = NULL;
    record_name *names = NULL;
    struct dirent *de;
    DIR *d = NULL;
    size_t nr = 0, i, at;
    int rc;

    if (!recs_r || !nr_r)
        return xlmig__error(ctx, LIBXLMIG_ERR_INVALID_ARGUMENT, -1,
                            "host records list: nowhere to put them");
    rc = record_paths(ctx, state, "hosts", NULL, dir, NULL);
    if (rc) goto out;
    d = opendir(dir);
    if (!d) {
        if (errno == ENOENT) {
            *recs_r = NULL;
            *nr_r = 0;
            rc = 0;
        } else {
            rc = xlmig__error(ctx, xlmig__file_rc(errno), errno,
                              "cannot read the directory %s", dir);
        }
        goto out;
    }
    names = malloc(sizeof(*names) * HOST_RECORDS_MAX);
    if (!names) {
        rc = xlmig__error(ctx, LIBXLMIG_ERR_NO_MEMORY, -1,
                          "no memory to list %s", dir);
        goto out;
    }
    for (;;) {
        size_t n;

        errno = 0;
        de = readdir(d);
        if (!de) {
            if (errno) {
                rc = xlmig__error(ctx, LIBXLMIG_ERR_IO, errno,
                                  "cannot read the directory %s", dir);
                goto out;
            }
            break;
        }
        /* NAME.json only: not NAME.json.tmp.PID, nor other files. */
        n = strlen(de->d_name);
        if (n <= JSON_SUFFIX_LEN ||
            n - JSON_SUFFIX_LEN > XLMIG__RECORD_NAME_MAX ||
            strcmp(de->d_name + n - JSON_SUFFIX_LEN, JSON_SUFFIX))
            continue;
        if (nr == HOST_RECORDS_MAX) {
            rc = xlmig__error(ctx, LIBXLMIG_ERR_UNSUPPORTED, -1,
                              "more than %d host records in %s; remove "
                              "those of hosts that are gone",
                              HOST_RECORDS_MAX, dir);
            goto out;
        }
        memcpy(names[nr], de->d_name, n - JSON_SUFFIX_LEN);
        names[nr][n - JSON_SUFFIX_LEN] = '\0';
        if (xlmig__name_ok(names[nr], why, sizeof(why), &at))
            nr++;
    }
    if (!nr) {
        *recs_r = NULL;
        *nr_r = 0;
        rc = 0;
        goto out;
    }
    qsort(names, nr, sizeof(*names), name_cmp);
    recs = malloc(sizeof(*recs) * nr);
    if (!recs) {
        rc = xlmig__error(ctx, LIBXLMIG_ERR_NO_MEMORY, -1,
                          "no memory for %zu host records", nr);
        goto out;
    }
    for (i = 0; i < nr; i++) {
        rc = xlmig__host_record_load(ctx, state, names[i], &recs[i]);
        if (rc) goto out;
    }
    *recs_r = recs;
    recs = NULL;                /* the caller frees it now */
    *nr_r = nr;
    rc = 0;
 out:
    free(recs);
    free(names);
    if (d)
        closedir(d);
    return rc;
}

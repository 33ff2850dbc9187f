/* SPDX-License-Identifier: LGPL-2.1-only */
/*
 * fake-xen: the stand-in hypervisor of `make check`
 * (docs/specs/fake-xen.md).  xlmig__hv_fake is hv.h's table of
 * operations on a "host" that is a directory ($XLMIG_FAKE_XEN): its
 * facts in host.json, each domain in domains/DOMID.json.  Suspend
 * writes a real libxl v2 stream of the domain's RAM file (the generator
 * of gen-stream.c), restore reads one record by record into a new RAM
 * file, and a domain's device model is a real qemu-storage-daemon that
 * serves its disks.  The guest is a process of the test's, stopped
 * (SIGSTOP) while the domain is paused or suspended.
 *
 * main() is a CLI for the tests; with FAKE_XEN_NO_MAIN defined only the
 * table is compiled (a test build of the daemon links it).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "follow.h"
#include "hv.h"
#include "internal.h"
#include "jsonfile.h"
#include "proc.h"
#include "rpc.h"
#include "sr.h"
#include "vmconfig.h"

#define GEN_STREAM_NO_MAIN
#include "gen-stream.c"

/* The fake's table; hv.h declares the product's. */
extern const struct xlmig__hv_ops xlmig__hv_fake;

#define FX_PATH_MAX 1024                /* bytes of a path we build */
#define FX_PAGE 4096u
#define FX_RAM_MAX (1ull << 30)         /* bytes of a RAM file, at most */
#define FX_RAM_NEW_MAX (64ull << 20)    /* RAM a booted domain gets */
#define FX_DOMID_MAX 0x7fefu            /* below DOMID_FIRST_RESERVED */
#define FX_DOM_FILE_MAX (4u * XLMIG__DOM_CONFIG_MAX)
#define FX_HOST_FILE_MAX 65536u
#define FX_LIBXL_REC_MAX (64u << 20)    /* a libxl record restore skips */
#define FX_ROUNDS_LIVE "20,5"           /* dirty rounds of a live save */
#define FX_DM_GRACE_MS 3000             /* SIGTERM to SIGKILL */
#define FX_SUSPEND_MS_MAX 60000u
#define FX_GONE_CHECK_PAGES 64u         /* suspend looks for its domain */

/* ------------------------------------------------------------ state */

struct xlmig__hv {
    libxlmig_ctx *ctx;
    char dir[FX_PATH_MAX];              /* $XLMIG_FAKE_XEN */
    char domains[FX_PATH_MAX];          /* DIR/domains */
    int lock_fd;                        /* DIR/lock while held, or -1 */
};

/* A domain as its file holds it. */
struct fx_dom {
    struct xlmig__dom d;
    char qmp[FX_PATH_MAX];              /* "" without a device model */
    long long dm_pid;
    long long dm_start;
    long long guest_pid;                /* 0: no guest process */
    long long guest_start;
    char ram[FX_PATH_MAX];
    libxlmig_cpu_flags cpu;
    char *config;                       /* libxl's JSON, malloc'd */
};

/* The host's facts as host.json holds them. */
struct fx_host {
    long long xen_major, xen_minor;
    char xen_extra[64];
    long long nr_cpus, cpu_khz;
    long long total_kib, free_kib;
    char vendor[LIBXLMIG_CPU_VENDOR_STRING_SIZE];
    libxlmig_featureset fs_host, fs_pv_max, fs_hvm_max;
};

static const struct xlmig__json_kind dom_kind = {
    .what = "fake-xen domain file",
    .a_what = "a domain file",
    .invalid_rc = LIBXLMIG_ERR_XEN_CALL_FAILED,
    .max_bytes = FX_DOM_FILE_MAX,
    .depth_max = 40,
    .dir_before = "directory ",
    .dir_after = " for fake-xen's domains",
    .dir_role = "fake-xen's domains",
};

static const struct xlmig__json_kind host_kind = {
    .what = "fake-xen host file",
    .a_what = "a host file",
    .invalid_rc = LIBXLMIG_ERR_XEN_CALL_FAILED,
    .max_bytes = FX_HOST_FILE_MAX,
    .depth_max = 4,
};

static const struct xlmig__json_kind counter_kind = {
    .what = "fake-xen domid counter",
    .a_what = "a counter",
    .invalid_rc = LIBXLMIG_ERR_XEN_CALL_FAILED,
    .max_bytes = 32,
    .depth_max = 1,
};

static const struct xlmig__json_kind cfg_kind = {
    .what = "domain configuration",
    .a_what = "a domain configuration",
    .invalid_rc = LIBXLMIG_ERR_INVALID_ARGUMENT,
    .max_bytes = XLMIG__DOM_CONFIG_MAX,
    .depth_max = 32,
};

/*
 * Plausible featuresets of an AMD EPYC host under Xen 4.17 (14 words):
 * the host's, what HVM guests may get (hypervisor and x2apic added) and
 * what PV guests may get (no svm).
 */
static const char fx_fs_host[] =
    "178bfbff-76d83203-2fd3fbff-75c237ff-0000000f-219c91a9-00400004-"
    "00000100-0001d005-00000000-00000000-00000000-00000000-00000000";
static const char fx_fs_hvm_max[] =
    "178bfbff-f6f83203-2fd3fbff-75c237ff-0000000f-219c91a9-00400004-"
    "00000100-0001d005-00000000-00000000-00000000-00000000-00000000";
static const char fx_fs_pv_max[] =
    "178bfbff-f6f83203-2fd3fbff-75c237fb-0000000f-219c91a9-00400004-"
    "00000100-0001d005-00000000-00000000-00000000-00000000-00000000";

/* ------------------------------------------------------------ helpers */

static int fx_path(struct xlmig__hv *h, char *buf, size_t cap,
                   const char *fmt, ...) XLMIG__PRINTF(4, 5);
static int fx_path(struct xlmig__hv *h, char *buf, size_t cap,
                   const char *fmt, ...)
{
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(buf, cap, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= cap)
        return xlmig__error(h->ctx, LIBXLMIG_ERR_INVALID_ARGUMENT, -1,
                            "fake Xen: a path under %s is too long", h->dir);
    return 0;
}

static void fx_unlink_quiet(const char *path)
{
    if (path[0])
        (void)unlink(path);
}

/* Serialise read-modify-write of the host's files (flock of DIR/lock). */
static int fx_lock(struct xlmig__hv *h)
{
    char path[FX_PATH_MAX];
    int fd, rc;

    rc = fx_path(h, path, sizeof(path), "%s/lock", h->dir);
    if (rc)
        return rc;
    fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0)
        return xlmig__error(h->ctx, xlmig__file_rc(errno), errno,
                            "fake Xen: cannot open %s", path);
    while (flock(fd, LOCK_EX)) {
        if (errno != EINTR) {
            rc = xlmig__error(h->ctx, LIBXLMIG_ERR_IO, errno,
                              "fake Xen: cannot lock %s", path);
            close(fd);
            return rc;
        }
    }
    h->lock_fd = fd;
    return 0;
}

static void fx_unlock(struct xlmig__hv *h)
{
    if (h->lock_fd >= 0) {
        close(h->lock_fd);
        h->lock_fd = -1;
    }
}

static void fx_dom_dispose(struct fx_dom *d)
{
    free(d->config);
    d->config = NULL;
}

/*
 * Members of a file's object: absent is an error when @required, else
 * the output stays as it is.  Errors name the file (@label).
 */
static int fx_member_str(struct xlmig__hv *h, const struct xlmig__json_kind *k,
                         const char *label, yajl_val obj, const char *key,
                         bool required, char *buf, size_t cap)
{
    yajl_val v = xlmig__rpc_get(obj, key);

    if (!v && !required)
        return 0;
    if (!v || !YAJL_IS_STRING(v) || strlen(v->u.string) >= cap)
        return xlmig__json_error(h->ctx, k, label, "member \"%s\" is %s, "
                                 "not a string of at most %zu bytes", key,
                                 v ? xlmig__json_type_name(v) : "missing",
                                 cap - 1);
    memcpy(buf, v->u.string, strlen(v->u.string) + 1);
    return 0;
}

static int fx_member_int(struct xlmig__hv *h, const struct xlmig__json_kind *k,
                         const char *label, yajl_val obj, const char *key,
                         bool required, long long min, long long max,
                         long long *v_r)
{
    yajl_val v = xlmig__rpc_get(obj, key);

    if (!v && !required)
        return 0;
    if (!v || !YAJL_IS_INTEGER(v))
        return xlmig__json_error(h->ctx, k, label, "member \"%s\" is %s, "
                                 "not an integer", key,
                                 v ? xlmig__json_type_name(v) : "missing");
    if (YAJL_GET_INTEGER(v) < min || YAJL_GET_INTEGER(v) > max)
        return xlmig__json_error(h->ctx, k, label, "member \"%s\" is %lld, "
                                 "not from %lld to %lld", key,
                                 (long long)YAJL_GET_INTEGER(v), min, max);
    *v_r = YAJL_GET_INTEGER(v);
    return 0;
}

/* The text of JSON tree @v as libxl writes it (4-space indent), malloc'd. */
static int fx_json_text(yajl_val v, char **text_r, size_t *len_r)
{
    yajl_gen g = yajl_gen_alloc(NULL);
    const unsigned char *buf;
    size_t len;
    int rc;

    *text_r = NULL;
    if (!g)
        return LIBXLMIG_ERR_NO_MEMORY;
    yajl_gen_config(g, yajl_gen_beautify, 1);
    yajl_gen_config(g, yajl_gen_indent_string, "    ");
    yajl_gen_config(g, yajl_gen_validate_utf8, 1);
    rc = xlmig__rpc_gen_value(g, v);
    if (!rc && yajl_gen_get_buf(g, &buf, &len) != yajl_gen_status_ok)
        rc = LIBXLMIG_ERR_INVALID_ARGUMENT;
    if (!rc) {
        *text_r = malloc(len + 1);
        if (*text_r) {
            memcpy(*text_r, buf, len);
            (*text_r)[len] = '\0';
            *len_r = len;
        } else {
            rc = LIBXLMIG_ERR_NO_MEMORY;
        }
    }
    yajl_gen_free(g);
    return rc;
}

/* Is @s a decimal number of 1 to 10 digits without a leading zero? */
static bool fx_decimal(const char *s, size_t len, unsigned long *v_r)
{
    unsigned long v = 0;
    size_t i;

    if (!len || len > 10 || s[0] == '0')
        return false;
    for (i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (unsigned long)(s[i] - '0');
    }
    *v_r = v;
    return true;
}

/* Is process @pid stopped (state T or t in /proc/PID/stat)? */
static bool fx_stopped(pid_t pid)
{
    char path[64], buf[512], *p;
    FILE *f;
    size_t n;

    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    f = fopen(path, "re");
    if (!f)
        return false;
    n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    p = strrchr(buf, ')');
    return p && p[1] == ' ' && (p[2] == 'T' || p[2] == 't');
}

/*
 * Send @sig to a process of a domain if it is still that process.  A
 * stop is cooperative when $XLMIG_FAKE_XEN_PAUSE_SIGNAL is USR1: the
 * guest (nbd-writer run) takes SIGUSR1 between two writes and stops
 * itself there, so that no write is half done when the domain pauses,
 * as a real guest's vCPUs stop between instructions; SIGSTOP after 2 s
 * if it does not.
 */
static void fx_signal(long long pid, long long start, int sig)
{
    const char *coop = getenv("XLMIG_FAKE_XEN_PAUSE_SIGNAL");
    int i;

    if (pid <= 0 || !xlmig__proc_alive((pid_t)pid, (uint64_t)start))
        return;
    if (sig == SIGSTOP && coop && !strcmp(coop, "USR1")) {
        kill((pid_t)pid, SIGUSR1);
        for (i = 0; i < 200 && !fx_stopped((pid_t)pid); i++)
            xlmig__sleep_ms(10);
        if (fx_stopped((pid_t)pid))
            return;
    }
    kill((pid_t)pid, sig);
}

/* ------------------------------------------------------------ host */

static void fx_host_defaults(struct fx_host *o)
{
    memset(o, 0, sizeof(*o));
    o->xen_major = 4;
    o->xen_minor = 17;
    xlmig__strlcpy(o->xen_extra, ".7", sizeof(o->xen_extra));
    o->nr_cpus = 2;
    o->cpu_khz = 2400000;
    o->total_kib = 4ll << 20;
    o->free_kib = 3ll << 20;
    xlmig__strlcpy(o->vendor, "AuthenticAMD", sizeof(o->vendor));
    (void)libxlmig_featureset_parse(NULL, NULL, fx_fs_host, &o->fs_host);
    (void)libxlmig_featureset_parse(NULL, NULL, fx_fs_pv_max,
                                    &o->fs_pv_max);
    (void)libxlmig_featureset_parse(NULL, NULL, fx_fs_hvm_max,
                                    &o->fs_hvm_max);
}

/* Featureset member @key into @fs (absent: unchanged). */
static int fx_member_fs(struct xlmig__hv *h, const char *label, yajl_val obj,
                        const char *key, libxlmig_featureset *fs)
{
    char text[LIBXLMIG_FEATURESET_STRING_MAX], field[FX_PATH_MAX + 64];
    int rc;

    text[0] = '\0';
    if (!xlmig__rpc_get(obj, key))
        return 0;
    rc = fx_member_str(h, &host_kind, label, obj, key, true, text,
                       sizeof(text));
    if (rc)
        return rc;
    snprintf(field, sizeof(field), "member %s of %s", key, label);
    return libxlmig_featureset_parse(h->ctx, field, text, fs);
}

/* DIR/host.json over the defaults; a missing file is all defaults. */
static int fx_host_load(struct xlmig__hv *h, struct fx_host *o)
{
    char path[FX_PATH_MAX], field[FX_PATH_MAX + 64], *text = NULL;
    libxlmig_cpu_vendor vendor;
    yajl_val root = NULL;
    size_t len;
    int rc;

    fx_host_defaults(o);
    rc = fx_path(h, path, sizeof(path), "%s/host.json", h->dir);
    if (rc)
        return rc;
    rc = xlmig__file_read(h->ctx, &host_kind, path, &text, &len);
    if (rc == LIBXLMIG_ERR_NOT_FOUND)
        return 0;
    if (rc)
        return rc;
    rc = xlmig__json_load(h->ctx, &host_kind, path, (const uint8_t *)text,
                          len, &root);
    if (rc) goto out;
    if ((rc = fx_member_int(h, &host_kind, path, root, "xen_major", false,
                            0, 1000, &o->xen_major)) ||
        (rc = fx_member_int(h, &host_kind, path, root, "xen_minor", false,
                            0, 1000, &o->xen_minor)) ||
        (rc = fx_member_str(h, &host_kind, path, root, "xen_extra", false,
                            o->xen_extra, sizeof(o->xen_extra))) ||
        (rc = fx_member_int(h, &host_kind, path, root, "nr_cpus", false, 1,
                            65536, &o->nr_cpus)) ||
        (rc = fx_member_int(h, &host_kind, path, root, "cpu_khz", false, 0,
                            INT32_MAX, &o->cpu_khz)) ||
        (rc = fx_member_int(h, &host_kind, path, root, "total_memory_kib",
                            false, 0, 1ll << 50, &o->total_kib)) ||
        (rc = fx_member_int(h, &host_kind, path, root, "free_memory_kib",
                            false, 0, 1ll << 50, &o->free_kib)) ||
        (rc = fx_member_str(h, &host_kind, path, root, "cpu_vendor", false,
                            o->vendor, sizeof(o->vendor))) ||
        (rc = fx_member_fs(h, path, root, "featureset_host",
                           &o->fs_host)) ||
        (rc = fx_member_fs(h, path, root, "featureset_pv_max",
                           &o->fs_pv_max)) ||
        (rc = fx_member_fs(h, path, root, "featureset_hvm_max",
                           &o->fs_hvm_max)))
        goto out;
    snprintf(field, sizeof(field), "member cpu_vendor of %s", path);
    rc = libxlmig_cpu_vendor_parse(h->ctx, field, o->vendor, &vendor);
 out:
    yajl_tree_free(root);
    free(text);
    return rc;
}

#ifndef FAKE_XEN_NO_MAIN
/* Write @o as DIR/host.json (the CLI's host command). */
static int fx_host_write(struct xlmig__hv *h, const struct fx_host *o)
{
    char path[FX_PATH_MAX], fs[3][LIBXLMIG_FEATURESET_STRING_MAX];
    const unsigned char *buf;
    yajl_gen g = xlmig__gen_new();
    size_t len;
    int rc;

    rc = fx_path(h, path, sizeof(path), "%s/host.json", h->dir);
    if (rc || !g) goto out;
    if (libxlmig_featureset_format(&o->fs_host, fs[0], sizeof(fs[0])) ||
        libxlmig_featureset_format(&o->fs_pv_max, fs[1], sizeof(fs[1])) ||
        libxlmig_featureset_format(&o->fs_hvm_max, fs[2], sizeof(fs[2])) ||
        yajl_gen_map_open(g) != yajl_gen_status_ok ||
        !xlmig__gen_key_integer(g, "xen_major", o->xen_major) ||
        !xlmig__gen_key_integer(g, "xen_minor", o->xen_minor) ||
        !xlmig__gen_key_string(g, "xen_extra", o->xen_extra) ||
        !xlmig__gen_key_integer(g, "nr_cpus", o->nr_cpus) ||
        !xlmig__gen_key_integer(g, "cpu_khz", o->cpu_khz) ||
        !xlmig__gen_key_integer(g, "total_memory_kib", o->total_kib) ||
        !xlmig__gen_key_integer(g, "free_memory_kib", o->free_kib) ||
        !xlmig__gen_key_string(g, "cpu_vendor", o->vendor) ||
        !xlmig__gen_key_string(g, "featureset_host", fs[0]) ||
        !xlmig__gen_key_string(g, "featureset_pv_max", fs[1]) ||
        !xlmig__gen_key_string(g, "featureset_hvm_max", fs[2]) ||
        yajl_gen_map_close(g) != yajl_gen_status_ok ||
        yajl_gen_get_buf(g, &buf, &len) != yajl_gen_status_ok) {
        rc = xlmig__error(h->ctx, LIBXLMIG_ERR_INVALID_ARGUMENT, -1,
                          "fake Xen: the facts of host %s do not make a "
                          "host file", h->dir);
        goto out;
    }
    rc = xlmig__file_write(h->ctx, h->dir, path, (const char *)buf, len);
 out:
    if (g)
        yajl_gen_free(g);
    else if (!rc)
        rc = LIBXLMIG_ERR_NO_MEMORY;
    return rc;
}
#endif

static int fx_host_info(struct xlmig__hv *h, libxlmig_host_info *info_r)
{
    libxlmig_host_info info;
    struct fx_host o;
    int rc = fx_host_load(h, &o);

    if (rc)
        return rc;
    memset(&info, 0, sizeof(info));
    info.xen_major = (int)o.xen_major;
    info.xen_minor = (int)o.xen_minor;
    xlmig__strlcpy(info.xen_extra, o.xen_extra, sizeof(info.xen_extra));
    snprintf(info.xen_version, sizeof(info.xen_version), "%d.%d%s",
             info.xen_major, info.xen_minor, info.xen_extra);
    xlmig__strlcpy(info.capabilities, "xen-3.0-x86_64 hvm-3.0-x86_32 "
                   "hvm-3.0-x86_32p hvm-3.0-x86_64",
                   sizeof(info.capabilities));
    xlmig__strlcpy(info.cpu_vendor, o.vendor, sizeof(info.cpu_vendor));
    info.nr_cpus = (unsigned int)o.nr_cpus;
    info.cpu_khz = (unsigned int)o.cpu_khz;
    info.total_memory_kib = (uint64_t)o.total_kib;
    info.free_memory_kib = (uint64_t)o.free_kib;
    info.cap_hvm = info.cap_pv = info.cap_hap = info.cap_shadow = true;
    info.featureset_host = o.fs_host;
    info.featureset_pv_max = info.featureset_pv_def = o.fs_pv_max;
    info.featureset_hvm_max = info.featureset_hvm_def = o.fs_hvm_max;
    *info_r = info;
    return 0;
}

/* The CPU a new domain of @type gets: the host's vendor and max set. */
static int fx_host_cpu(struct xlmig__hv *h, const char *type,
                       libxlmig_cpu_flags *cpu_r)
{
    struct fx_host o;
    int rc = fx_host_load(h, &o);

    if (rc)
        return rc;
    rc = libxlmig_cpu_vendor_parse(h->ctx, "CPU vendor of the fake host",
                                   o.vendor, &cpu_r->vendor);
    if (rc)
        return rc;
    cpu_r->features = strcmp(type, "pv") ? o.fs_hvm_max : o.fs_pv_max;
    return 0;
}

/* ------------------------------------------------------------ domains */

static int fx_dom_path(struct xlmig__hv *h, uint32_t domid, const char *ext,
                       char *buf, size_t cap)
{
    return fx_path(h, buf, cap, "%s/%" PRIu32 ".%s", h->domains, domid, ext);
}

/* Decode the domain file @path (tree @root) of domain @domid into @d. */
static int fx_dom_decode(struct xlmig__hv *h, const char *path,
                         uint32_t domid, yajl_val root, struct fx_dom *d)
{
    char state[16] = "", vendor[64] = "";
    char fs[LIBXLMIG_FEATURESET_STRING_MAX] = "", field[FX_PATH_MAX + 64];
    long long id = 0, mem = 0, maxmem = 0, vcpus = 0;
    yajl_val cpu, cfg;
    size_t len, i;
    int rc;

    memset(d, 0, sizeof(*d));
    if ((rc = fx_member_int(h, &dom_kind, path, root, "domid", true, 1,
                            FX_DOMID_MAX, &id)) ||
        (rc = fx_member_str(h, &dom_kind, path, root, "name", true,
                            d->d.name, sizeof(d->d.name))) ||
        (rc = fx_member_str(h, &dom_kind, path, root, "uuid", true,
                            d->d.uuid, sizeof(d->d.uuid))) ||
        (rc = fx_member_str(h, &dom_kind, path, root, "state", true, state,
                            sizeof(state))) ||
        (rc = fx_member_str(h, &dom_kind, path, root, "type", true,
                            d->d.type, sizeof(d->d.type))) ||
        (rc = fx_member_int(h, &dom_kind, path, root, "memory_kib", true, 0,
                            1ll << 50, &mem)) ||
        (rc = fx_member_int(h, &dom_kind, path, root, "max_memory_kib", true,
                            0, 1ll << 50, &maxmem)) ||
        (rc = fx_member_int(h, &dom_kind, path, root, "vcpus", true, 1,
                            4096, &vcpus)) ||
        (rc = fx_member_str(h, &dom_kind, path, root, "qmp", true, d->qmp,
                            sizeof(d->qmp))) ||
        (rc = fx_member_int(h, &dom_kind, path, root, "dm_pid", true, 0,
                            INT32_MAX, &d->dm_pid)) ||
        (rc = fx_member_int(h, &dom_kind, path, root, "dm_start", true, 0,
                            INT64_MAX, &d->dm_start)) ||
        (rc = fx_member_int(h, &dom_kind, path, root, "guest_pid", true, 0,
                            INT32_MAX, &d->guest_pid)) ||
        (rc = fx_member_int(h, &dom_kind, path, root, "guest_start", true, 0,
                            INT64_MAX, &d->guest_start)) ||
        (rc = fx_member_str(h, &dom_kind, path, root, "ram", true, d->ram,
                            sizeof(d->ram))))
        return rc;
    if ((uint32_t)id != domid)
        return xlmig__json_error(h->ctx, &dom_kind, path, "member \"domid\" "
                                 "is %lld, the file is of domain %" PRIu32,
                                 id, domid);
    d->d.domid = domid;
    d->d.memory_kib = (uint64_t)mem;
    d->d.max_memory_kib = (uint64_t)maxmem;
    d->d.vcpus = (unsigned int)vcpus;
    for (i = XLMIG__DOM_RUNNING; i <= XLMIG__DOM_DYING &&
         strcmp(state, xlmig__dom_state_name((enum xlmig__dom_state)i));
         i++)
        ;
    if (i > XLMIG__DOM_DYING)
        return xlmig__json_error(h->ctx, &dom_kind, path, "member \"state\" "
                                 "is \"%s\", not running, paused, suspended, "
                                 "shutdown or dying", state);
    d->d.state = (enum xlmig__dom_state)i;
    if (strcmp(d->d.type, "pv") && strcmp(d->d.type, "pvh") &&
        strcmp(d->d.type, "hvm"))
        return xlmig__json_error(h->ctx, &dom_kind, path, "member \"type\" "
                                 "is \"%s\", not pv, pvh or hvm", d->d.type);
    if (!xlmig__uuid_ok(d->d.uuid))
        return xlmig__json_error(h->ctx, &dom_kind, path, "member \"uuid\" "
                                 "is not a lowercase uuid");
    if (!d->d.name[0] || !d->ram[0])
        return xlmig__json_error(h->ctx, &dom_kind, path, "member \"%s\" is "
                                 "empty", d->d.name[0] ? "ram" : "name");
    cpu = xlmig__rpc_get(root, "cpu");
    if (!YAJL_IS_OBJECT(cpu))
        return xlmig__json_error(h->ctx, &dom_kind, path, "member \"cpu\" "
                                 "is not an object");
    if ((rc = fx_member_str(h, &dom_kind, path, cpu, "vendor", true, vendor,
                            sizeof(vendor))) ||
        (rc = fx_member_str(h, &dom_kind, path, cpu, "features", true, fs,
                            sizeof(fs))))
        return rc;
    snprintf(field, sizeof(field), "member cpu.vendor of %s", path);
    rc = libxlmig_cpu_vendor_parse(h->ctx, field, vendor, &d->cpu.vendor);
    if (rc)
        return rc;
    snprintf(field, sizeof(field), "member cpu.features of %s", path);
    rc = libxlmig_featureset_parse(h->ctx, field, fs, &d->cpu.features);
    if (rc)
        return rc;
    cfg = xlmig__rpc_get(root, "config");
    if (!YAJL_IS_OBJECT(cfg))
        return xlmig__json_error(h->ctx, &dom_kind, path, "member "
                                 "\"config\" is not an object");
    rc = fx_json_text(cfg, &d->config, &len);
    if (rc == LIBXLMIG_ERR_NO_MEMORY)
        return rc;
    if (rc || len > XLMIG__DOM_CONFIG_MAX) {
        fx_dom_dispose(d);
        return xlmig__json_error(h->ctx, &dom_kind, path, "member "
                                 "\"config\" does not give a configuration "
                                 "of at most %u bytes",
                                 XLMIG__DOM_CONFIG_MAX);
    }
    return 0;
}

/*
 * Read domain @domid.  NOT_FOUND (not logged) when it has no file;
 * a file that is not a good domain file is an error naming it.
 */
static int fx_dom_read(struct xlmig__hv *h, uint32_t domid, struct fx_dom *d)
{
    char path[FX_PATH_MAX], *text = NULL;
    yajl_val root = NULL;
    size_t len;
    int rc;

    memset(d, 0, sizeof(*d));
    rc = fx_dom_path(h, domid, "json", path, sizeof(path));
    if (rc)
        return rc;
    rc = xlmig__file_read(h->ctx, &dom_kind, path, &text, &len);
    if (rc)
        return rc;
    rc = xlmig__json_load(h->ctx, &dom_kind, path, (const uint8_t *)text,
                          len, &root);
    if (!rc)
        rc = fx_dom_decode(h, path, domid, root, d);
    yajl_tree_free(root);
    free(text);
    return rc;
}

/* fx_dom_read() of a domain that must be there. */
static int fx_dom_get(struct xlmig__hv *h, uint32_t domid, struct fx_dom *d)
{
    int rc = fx_dom_read(h, domid, d);

    if (rc == LIBXLMIG_ERR_NOT_FOUND)
        return xlmig__error(h->ctx, rc, -1, "fake Xen %s has no domain %"
                            PRIu32, h->dir, domid);
    return rc;
}

static int fx_dom_write(struct xlmig__hv *h, const struct fx_dom *d)
{
    char path[FX_PATH_MAX], fs[LIBXLMIG_FEATURESET_STRING_MAX], why[256];
    const char *vendor = libxlmig_cpu_vendor_string(d->cpu.vendor);
    const unsigned char *buf;
    yajl_val cfg = NULL;
    yajl_gen g = NULL;
    size_t len;
    int rc;

    rc = fx_dom_path(h, d->d.domid, "json", path, sizeof(path));
    if (rc)
        return rc;
    rc = xlmig__json_tree(&cfg_kind, (const uint8_t *)d->config,
                          strlen(d->config), &cfg, why, sizeof(why));
    if (rc) {
        rc = xlmig__error(h->ctx, rc, -1, "fake Xen: the configuration of "
                          "domain %" PRIu32 " is not JSON: %s", d->d.domid,
                          why);
        goto out;
    }
    g = xlmig__gen_new();
    if (!g) {
        rc = LIBXLMIG_ERR_NO_MEMORY;
        goto out;
    }
    if (libxlmig_featureset_format(&d->cpu.features, fs, sizeof(fs)) ||
        yajl_gen_map_open(g) != yajl_gen_status_ok ||
        !xlmig__gen_key_integer(g, "domid", d->d.domid) ||
        !xlmig__gen_key_string(g, "name", d->d.name) ||
        !xlmig__gen_key_string(g, "uuid", d->d.uuid) ||
        !xlmig__gen_key_string(g, "state", xlmig__dom_state_name(d->d.state)) ||
        !xlmig__gen_key_string(g, "type", d->d.type) ||
        !xlmig__gen_key_integer(g, "memory_kib",
                                (long long)d->d.memory_kib) ||
        !xlmig__gen_key_integer(g, "max_memory_kib",
                                (long long)d->d.max_memory_kib) ||
        !xlmig__gen_key_integer(g, "vcpus", d->d.vcpus) ||
        !xlmig__gen_key_string(g, "qmp", d->qmp) ||
        !xlmig__gen_key_integer(g, "dm_pid", d->dm_pid) ||
        !xlmig__gen_key_integer(g, "dm_start", d->dm_start) ||
        !xlmig__gen_key_integer(g, "guest_pid", d->guest_pid) ||
        !xlmig__gen_key_integer(g, "guest_start", d->guest_start) ||
        !xlmig__gen_key_string(g, "ram", d->ram) ||
        yajl_gen_string(g, (const unsigned char *)"cpu", 3) !=
            yajl_gen_status_ok ||
        yajl_gen_map_open(g) != yajl_gen_status_ok ||
        !xlmig__gen_key_string(g, "vendor", vendor ? vendor : "") ||
        !xlmig__gen_key_string(g, "features", fs) ||
        yajl_gen_map_close(g) != yajl_gen_status_ok ||
        yajl_gen_string(g, (const unsigned char *)"config", 6) !=
            yajl_gen_status_ok ||
        xlmig__rpc_gen_value(g, cfg) ||
        yajl_gen_map_close(g) != yajl_gen_status_ok ||
        yajl_gen_get_buf(g, &buf, &len) != yajl_gen_status_ok) {
        rc = xlmig__error(h->ctx, LIBXLMIG_ERR_INVALID_ARGUMENT, -1,
                          "fake Xen: domain %" PRIu32 " (%s) does not make "
                          "a domain file", d->d.domid, d->d.name);
        goto out;
    }
    rc = xlmig__file_write(h->ctx, h->domains, path, (const char *)buf, len);
 out:
    if (g)
        yajl_gen_free(g);
    yajl_tree_free(cfg);
    return rc;
}

static int fx_cmp_domid(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

    return x < y ? -1 : x > y;
}

/* The domids that have a file, sorted, at most XLMIG__DOMS_MAX. */
static int fx_domids(struct xlmig__hv *h, uint32_t *ids, size_t *nr_r)
{
    struct dirent *e;
    size_t nr = 0;
    DIR *dir = opendir(h->domains);

    if (!dir)
        return xlmig__error(h->ctx, xlmig__file_rc(errno), errno,
                            "fake Xen: cannot read %s", h->domains);
    while ((e = readdir(dir)) && nr < XLMIG__DOMS_MAX) {
        size_t len = strlen(e->d_name);
        unsigned long v;

        if (len > 5 && !strcmp(e->d_name + len - 5, ".json") &&
            fx_decimal(e->d_name, len - 5, &v) && v <= FX_DOMID_MAX)
            ids[nr++] = (uint32_t)v;
    }
    closedir(dir);
    qsort(ids, nr, sizeof(*ids), fx_cmp_domid);
    *nr_r = nr;
    return 0;
}

static int fx_list(struct xlmig__hv *h, struct xlmig__dom **doms_r,
                   size_t *nr_r)
{
    uint32_t ids[XLMIG__DOMS_MAX];
    struct xlmig__dom *doms = NULL;
    struct fx_dom d;
    size_t nr = 0, n = 0, i;
    int rc;

    rc = fx_domids(h, ids, &nr);
    if (rc)
        return rc;
    doms = xlmig__zalloc(sizeof(*doms) * (nr ? nr : 1));
    if (!doms)
        return LIBXLMIG_ERR_NO_MEMORY;
    for (i = 0; i < nr; i++) {
        rc = fx_dom_read(h, ids[i], &d);
        if (rc == LIBXLMIG_ERR_NOT_FOUND)
            continue;                   /* destroyed since */
        if (rc) {
            free(doms);
            return rc;
        }
        doms[n++] = d.d;
        fx_dom_dispose(&d);
    }
    *doms_r = doms;
    *nr_r = n;
    return 0;
}

static int fx_find(struct xlmig__hv *h, const char *which,
                   struct xlmig__dom *d_r)
{
    return xlmig__hv_find_listed(h, fx_list, which, d_r);
}

/* The domain other than @domid named @name: its domid, or 0. */
static int fx_name_user(struct xlmig__hv *h, const char *name, uint32_t domid,
                        uint32_t *user_r)
{
    struct xlmig__dom *doms = NULL;
    size_t nr = 0, i;
    int rc = fx_list(h, &doms, &nr);

    *user_r = 0;
    if (rc)
        return rc;
    for (i = 0; i < nr && !*user_r; i++) {
        if (doms[i].domid != domid && !strcmp(doms[i].name, name))
            *user_r = doms[i].domid;
    }
    free(doms);
    return 0;
}

/* A new domid (the caller holds the lock): DIR/next-domid counts up. */
static int fx_domid_new(struct xlmig__hv *h, uint32_t *domid_r)
{
    char path[FX_PATH_MAX], *text = NULL, next[16];
    unsigned long v = 1;
    size_t len = 0;
    int rc;

    rc = fx_path(h, path, sizeof(path), "%s/next-domid", h->dir);
    if (rc)
        return rc;
    rc = xlmig__file_read(h->ctx, &counter_kind, path, &text, &len);
    if (rc && rc != LIBXLMIG_ERR_NOT_FOUND)
        return rc;
    if (!rc) {
        if (len && text[len - 1] == '\n')
            len--;
        if (!fx_decimal(text, len, &v))
            rc = xlmig__error(h->ctx, LIBXLMIG_ERR_XEN_CALL_FAILED, -1,
                              "fake Xen: %s does not hold a domid", path);
        free(text);
        if (rc)
            return rc;
    }
    if (v > FX_DOMID_MAX)
        return xlmig__error(h->ctx, LIBXLMIG_ERR_XEN_CALL_FAILED, -1,
                            "fake Xen %s has used every domid", h->dir);
    snprintf(next, sizeof(next), "%lu\n", v + 1);
    rc = xlmig__file_write(h->ctx, h->dir, path, next, strlen(next));
    if (rc)
        return rc;
    *domid_r = (uint32_t)v;
    return 0;
}

/* ------------------------------------------------------------ processes */

/* The device model's files in DIR: QMP and NBD sockets, pid file. */
static int fx_dm_paths(struct xlmig__hv *h, uint32_t domid, char *qmp,
                       char *nbd, char *pidfile)
{
    int rc;

    if ((rc = fx_path(h, qmp, FX_PATH_MAX, "%s/qmp-libxl-%" PRIu32, h->dir,
                      domid)) ||
        (rc = fx_path(h, nbd, FX_PATH_MAX, "%s/dm-%" PRIu32 ".nbd", h->dir,
                      domid)) ||
        (rc = fx_path(h, pidfile, FX_PATH_MAX, "%s/dm-%" PRIu32 ".pid",
                      h->dir, domid)))
        return rc;
    if (strlen(qmp) >= sizeof(((struct sockaddr_un *)0)->sun_path) ||
        strlen(nbd) >= sizeof(((struct sockaddr_un *)0)->sun_path))
        return xlmig__error(h->ctx, LIBXLMIG_ERR_INVALID_ARGUMENT, -1,
                            "fake Xen: %s is too long a path for a unix "
                            "socket", nbd);
    return 0;
}

/*
 * Stop domain @d's device model (SIGTERM, then SIGKILL) and remove the
 * files the fake made for it.
 */
static int fx_dm_stop(struct xlmig__hv *h, const struct fx_dom *d)
{
    char qmp[FX_PATH_MAX], nbd[FX_PATH_MAX], pidfile[FX_PATH_MAX];

    if (!d->d.domid)
        return 0;
    if (d->dm_pid &&
        xlmig__proc_stop((pid_t)d->dm_pid, (uint64_t)d->dm_start,
                         FX_DM_GRACE_MS))
        return xlmig__error(h->ctx, LIBXLMIG_ERR_TIMEOUT, -1,
                            "fake Xen: the device model of domain %" PRIu32
                            " (pid %lld) would not stop", d->d.domid,
                            d->dm_pid);
    if (!fx_dm_paths(h, d->d.domid, qmp, nbd, pidfile)) {
        fx_unlink_quiet(qmp);
        fx_unlink_quiet(nbd);
        fx_unlink_quiet(pidfile);
    }
    return 0;
}

/* Run a QEMU tool; what it prints is dropped, its complaint in @err. */
static int fx_run(const char *bin, char *const argv[], char *err,
                  size_t err_len)
{
    char out[16384];

    return xlmig__proc_run(bin, argv, out, sizeof(out), NULL, err, err_len);
}

/* The QEMU format of a libxl disk format, or NULL. */
static const char *fx_qemu_format(const char *libxl_format)
{
    static const char *const map[][2] = {
        { "", "raw" }, { "unknown", "raw" }, { "raw", "raw" },
        { "qcow2", "qcow2" }, { "qcow", "qcow" }, { "vhd", "vpc" },
        { "qed", "qed" },
    };
    size_t i;

    for (i = 0; i < sizeof(map) / sizeof(map[0]); i++) {
        if (!strcmp(map[i][0], libxl_format))
            return map[i][1];
    }
    return NULL;
}

/* A disk the device model serves (not an empty CD drive). */
static bool fx_disk_served(const struct xlmig__vmcfg_disk *k)
{
    return k->path[0] && strcmp(k->format, "empty");
}

/* What QEMU needs for each disk; @what names the domain. */
static int fx_disks_plan(struct xlmig__hv *h, const struct xlmig__vmcfg *c,
                         const char *what)
{
    size_t i, j;

    for (i = 0; i < c->nr_disks; i++) {
        const struct xlmig__vmcfg_disk *k = &c->disks[i];

        if (!xlmig__vbd_device_ok(k->vdev))
            return xlmig__error(h->ctx, LIBXLMIG_ERR_XEN_CALL_FAILED, -1,
                                "%s: disk vdev \"%s\" is not a device name "
                                "like xvda", what, k->vdev);
        for (j = 0; j < i; j++) {
            if (!strcmp(c->disks[j].vdev, k->vdev))
                return xlmig__error(h->ctx, LIBXLMIG_ERR_XEN_CALL_FAILED,
                                    -1, "%s: two disks are %s", what,
                                    k->vdev);
        }
        if (!fx_disk_served(k)) {
            if (!k->cdrom)
                return xlmig__error(h->ctx, LIBXLMIG_ERR_XEN_CALL_FAILED,
                                    -1, "%s: disk %s has no pdev_path", what,
                                    k->vdev);
            continue;
        }
        if (k->backend[0] && strcmp(k->backend, "qdisk") &&
            strcmp(k->backend, "unknown"))
            return xlmig__error(h->ctx, LIBXLMIG_ERR_XEN_CALL_FAILED, -1,
                                "%s: disk %s has backend %s; fake Xen "
                                "serves disks only as qdisk (through its "
                                "device model)", what, k->vdev, k->backend);
        if (!fx_qemu_format(k->format))
            return xlmig__error(h->ctx, LIBXLMIG_ERR_XEN_CALL_FAILED, -1,
                                "%s: disk %s has format %s, not raw, qcow2, "
                                "qcow, vhd or qed", what, k->vdev,
                                k->format);
    }
    return 0;
}

/* Each served disk opens as QEMU would open it (qemu-img info -U). */
static int fx_disks_check(struct xlmig__hv *h, const struct xlmig__vmcfg *c,
                          const char *what)
{
    char err[XLMIG__PROC_ERR_MAX + 64];
    size_t i;

    for (i = 0; i < c->nr_disks; i++) {
        const struct xlmig__vmcfg_disk *k = &c->disks[i];
        const char *fmt = fx_qemu_format(k->format);
        char *argv[] = { "qemu-img", "info", "-U", "-f", (char *)fmt,
                         (char *)k->path, NULL };

        if (!fx_disk_served(k))
            continue;
        if (fx_run(xlmig__qemu_img_bin(), argv, err, sizeof(err)))
            return xlmig__error(h->ctx, LIBXLMIG_ERR_XEN_CALL_FAILED, -1,
                                "%s: disk %s (%s) does not open as %s: %s",
                                what, k->vdev, k->path, fmt, err);
    }
    return 0;
}

/* Arguments of a device model, built in place. */
struct fx_dm_args {
    char *argv[12 + 6 * XLMIG__VMCFG_DISKS_MAX];
    char opt[3 * XLMIG__VMCFG_DISKS_MAX][2 * FX_PATH_MAX + 128];
    char srv[2 * FX_PATH_MAX + 64];
    char mon[2 * FX_PATH_MAX + 64];
};

/* Append "PREFIX" + @value (QEMU-escaped) to @buf; false if too long. */
static bool fx_opt(char *buf, size_t cap, const char *prefix,
                   const char *value)
{
    size_t len = (size_t)snprintf(buf, cap, "%s", prefix);

    return len < cap && xlmig__qemu_opt_append(buf, cap, &len, value);
}

/*
 * Start domain @d's device model: a qemu-storage-daemon serving each
 * disk of @c as a node named by its vdev (format node over "VDEV-file"),
 * exported over NBD (DIR/dm-DOMID.nbd), with its QMP socket
 * (DIR/qmp-libxl-DOMID).  Fills d->qmp, dm_pid, dm_start; none when
 * there is no disk to serve.
 */
static int fx_dm_start(struct xlmig__hv *h, const struct xlmig__vmcfg *c,
                       const char *what, struct fx_dom *d)
{
    char qmp[FX_PATH_MAX], nbd[FX_PATH_MAX], pidfile[FX_PATH_MAX];
    char err[XLMIG__PROC_ERR_MAX + 64];
    struct fx_dm_args *a = NULL;
    size_t i, n = 0, o = 0, served = 0;
    pid_t pid;
    int rc;

    for (i = 0; i < c->nr_disks; i++)
        served += fx_disk_served(&c->disks[i]);
    if (!served)
        return 0;
    rc = fx_dm_paths(h, d->d.domid, qmp, nbd, pidfile);
    if (rc)
        return rc;
    a = xlmig__zalloc(sizeof(*a));
    if (!a)
        return LIBXLMIG_ERR_NO_MEMORY;
    fx_unlink_quiet(qmp);
    fx_unlink_quiet(nbd);
    fx_unlink_quiet(pidfile);
    a->argv[n++] = "qemu-storage-daemon";
    a->argv[n++] = "--daemonize";
    a->argv[n++] = "--pidfile";
    a->argv[n++] = pidfile;
    for (i = 0; i < c->nr_disks; i++) {
        const struct xlmig__vmcfg_disk *k = &c->disks[i];
        const char *ro = k->readwrite ? "" : ",read-only=on";
        char prefix[128];

        if (!fx_disk_served(k))
            continue;
        snprintf(prefix, sizeof(prefix), "driver=file,node-name=%s-file,"
                 "locking=off%s,filename=", k->vdev, ro);
        if (!fx_opt(a->opt[o], sizeof(a->opt[o]), prefix, k->path)) {
            rc = xlmig__error(h->ctx, LIBXLMIG_ERR_INVALID_ARGUMENT, -1,
                              "%s: disk %s: path too long", what, k->vdev);
            goto out;
        }
        a->argv[n++] = "--blockdev";
        a->argv[n++] = a->opt[o++];
        snprintf(a->opt[o], sizeof(a->opt[o]), "driver=%s,node-name=%s,"
                 "file=%s-file%s", fx_qemu_format(k->format), k->vdev,
                 k->vdev, ro);
        a->argv[n++] = "--blockdev";
        a->argv[n++] = a->opt[o++];
    }
    if (!fx_opt(a->srv, sizeof(a->srv), "addr.type=unix,addr.path=", nbd) ||
        !fx_opt(a->mon, sizeof(a->mon), "socket,id=qmp,server=on,wait=off,"
                "path=", qmp)) {
        rc = xlmig__error(h->ctx, LIBXLMIG_ERR_INVALID_ARGUMENT, -1,
                          "%s: socket path too long", what);
        goto out;
    }
    a->argv[n++] = "--nbd-server";
    a->argv[n++] = a->srv;
    for (i = 0; i < c->nr_disks; i++) {
        const struct xlmig__vmcfg_disk *k = &c->disks[i];

        if (!fx_disk_served(k))
            continue;
        snprintf(a->opt[o], sizeof(a->opt[o]), "type=nbd,id=%s,name=%s,"
                 "node-name=%s,writable=%s", k->vdev, k->vdev, k->vdev,
                 k->readwrite ? "on" : "off");
        a->argv[n++] = "--export";
        a->argv[n++] = a->opt[o++];
    }
    a->argv[n++] = "--chardev";
    a->argv[n++] = a->mon;
    a->argv[n++] = "--monitor";
    a->argv[n++] = "chardev=qmp";
    a->argv[n] = NULL;
    if (fx_run(xlmig__qsd_bin(), a->argv, err, sizeof(err))) {
        rc = xlmig__error(h->ctx, LIBXLMIG_ERR_XEN_CALL_FAILED, -1,
                          "%s: its device model (%s) did not start: %s",
                          what, xlmig__qsd_bin(), err);
        goto out;
    }
    if (xlmig__pidfile_read(pidfile, &pid)) {
        rc = xlmig__error(h->ctx, LIBXLMIG_ERR_XEN_CALL_FAILED, errno,
                          "%s: its device model left no pid in %s", what,
                          pidfile);
        goto out;
    }
    d->dm_pid = pid;
    d->dm_start = (long long)xlmig__proc_start_time(pid);
    if (!d->dm_start) {
        rc = xlmig__error(h->ctx, LIBXLMIG_ERR_XEN_CALL_FAILED, -1,
                          "%s: its device model (pid %d) exited at once",
                          what, (int)pid);
        d->dm_pid = 0;
        goto out;
    }
    xlmig__strlcpy(d->qmp, qmp, sizeof(d->qmp));
 out:
    if (rc) {
        fx_unlink_quiet(qmp);
        fx_unlink_quiet(nbd);
        fx_unlink_quiet(pidfile);
    }
    free(a);
    return rc;
}

/* Kill domain @d's guest process (SIGKILL: Xen's destroy is instant). */
static void fx_guest_kill(const struct fx_dom *d)
{
    int i;

    if (d->guest_pid <= 0 ||
        !xlmig__proc_alive((pid_t)d->guest_pid, (uint64_t)d->guest_start))
        return;
    kill((pid_t)d->guest_pid, SIGKILL);
    for (i = 0; i < 100; i++) {
        if (!xlmig__proc_alive((pid_t)d->guest_pid,
                               (uint64_t)d->guest_start))
            return;
        xlmig__sleep_ms(10);
    }
}

/* Is @path the RAM file the fake made for domain @domid? */
static bool fx_ram_ours(struct xlmig__hv *h, uint32_t domid, const char *path)
{
    char ours[FX_PATH_MAX];

    return !fx_dom_path(h, domid, "ram", ours, sizeof(ours)) &&
           !strcmp(ours, path);
}

/* ------------------------------------------------------------ operations */

static int fx_open(libxlmig_ctx *ctx, struct xlmig__hv **h_r)
{
    const char *dir = getenv("XLMIG_FAKE_XEN");
    struct xlmig__hv *h;
    struct stat st;
    int rc;

    if (!dir || !dir[0])
        return xlmig__error(ctx, LIBXLMIG_ERR_NO_HYPERVISOR, -1,
                            "fake Xen: $XLMIG_FAKE_XEN (the directory of "
                            "the fake host) is not set");
    if (stat(dir, &st) || !S_ISDIR(st.st_mode))
        return xlmig__error(ctx, LIBXLMIG_ERR_NO_HYPERVISOR,
                            access(dir, F_OK) ? errno : ENOTDIR,
                            "fake Xen: no host directory %s", dir);
    if (strlen(dir) + 64 > FX_PATH_MAX)
        return xlmig__error(ctx, LIBXLMIG_ERR_INVALID_ARGUMENT, -1,
                            "fake Xen: host directory %s: path too long",
                            dir);
    h = xlmig__zalloc(sizeof(*h));
    if (!h)
        return LIBXLMIG_ERR_NO_MEMORY;
    h->ctx = ctx;
    h->lock_fd = -1;
    xlmig__strlcpy(h->dir, dir, sizeof(h->dir));
    snprintf(h->domains, sizeof(h->domains), "%s/domains", dir);
    rc = xlmig__dir_make(ctx, &dom_kind, h->domains);
    if (rc) {
        free(h);
        return rc;
    }
    *h_r = h;
    return 0;
}

static void fx_close(struct xlmig__hv *h)
{
    if (!h)
        return;
    fx_unlock(h);
    free(h);
}

static int fx_config(struct xlmig__hv *h, uint32_t domid, char **json_r)
{
    struct fx_dom d;
    int rc = fx_dom_get(h, domid, &d);

    if (rc)
        return rc;
    *json_r = d.config;                 /* the caller's now */
    d.config = NULL;
    return 0;
}

static int fx_cpu(struct xlmig__hv *h, uint32_t domid,
                  libxlmig_cpu_flags *cpu_r)
{
    struct fx_dom d;
    int rc = fx_dom_get(h, domid, &d);

    if (rc)
        return rc;
    *cpu_r = d.cpu;
    fx_dom_dispose(&d);
    return 0;
}

static int fx_dm_qmp(struct xlmig__hv *h, uint32_t domid, char *path,
                     size_t cap)
{
    struct fx_dom d;
    int rc = fx_dom_get(h, domid, &d);

    if (rc)
        return rc;
    fx_dom_dispose(&d);
    if (!d.qmp[0] || access(d.qmp, F_OK))
        return LIBXLMIG_ERR_NOT_FOUND;
    if (strlen(d.qmp) >= cap)
        return xlmig__error(h->ctx, LIBXLMIG_ERR_INVALID_ARGUMENT, -1,
                            "the QMP socket path of domain %" PRIu32 " is "
                            "longer than %zu bytes", domid, cap - 1);
    memcpy(path, d.qmp, strlen(d.qmp) + 1);
    return 0;
}

/*
 * Run @fn on domain @domid under the host's lock (it writes back what
 * it changes).
 */
static int fx_dom_locked(struct xlmig__hv *h, uint32_t domid,
                         int (*fn)(struct xlmig__hv *h, struct fx_dom *d,
                                   const void *arg),
                         const void *arg)
{
    struct fx_dom d;
    int rc;

    memset(&d, 0, sizeof(d));
    rc = fx_lock(h);
    if (rc)
        return rc;
    rc = fx_dom_get(h, domid, &d);
    if (!rc)
        rc = fn(h, &d, arg);
    fx_dom_dispose(&d);
    fx_unlock(h);
    return rc;
}

/* A change of state: from one of @from (a bit per state) to @to, the
 * guest process sent @sig. */
struct fx_transition {
    const char *verb;           /* "resume", for messages */
    unsigned int from;
    enum xlmig__dom_state to;
    int sig;
};

#define FX_FROM(s) (1u << (s))

static const struct fx_transition fx_to_running = {
    "resume", FX_FROM(XLMIG__DOM_SUSPENDED), XLMIG__DOM_RUNNING, SIGCONT,
};
static const struct fx_transition fx_to_paused = {
    "pause", FX_FROM(XLMIG__DOM_RUNNING) | FX_FROM(XLMIG__DOM_PAUSED),
    XLMIG__DOM_PAUSED, SIGSTOP,
};
static const struct fx_transition fx_to_unpaused = {
    "unpause", FX_FROM(XLMIG__DOM_PAUSED), XLMIG__DOM_RUNNING, SIGCONT,
};
static const struct fx_transition fx_to_suspended = {
    "suspend", FX_FROM(XLMIG__DOM_RUNNING), XLMIG__DOM_SUSPENDED, SIGSTOP,
};

static int fx_transit(struct xlmig__hv *h, struct fx_dom *d, const void *arg)
{
    const struct fx_transition *t = arg;

    if (!(t->from & FX_FROM(d->d.state)))
        return xlmig__error(h->ctx, LIBXLMIG_ERR_XEN_CALL_FAILED, -1,
                            "cannot %s domain %" PRIu32 " (%s): it is %s",
                            t->verb, d->d.domid, d->d.name,
                            xlmig__dom_state_name(d->d.state));
    fx_signal(d->guest_pid, d->guest_start, t->sig);
    if (d->d.state == t->to)
        return 0;
    d->d.state = t->to;
    return fx_dom_write(h, d);
}

static int fx_resume(struct xlmig__hv *h, uint32_t domid)
{
    return fx_dom_locked(h, domid, fx_transit, &fx_to_running);
}

static int fx_pause(struct xlmig__hv *h, uint32_t domid)
{
    return fx_dom_locked(h, domid, fx_transit, &fx_to_paused);
}

static int fx_unpause(struct xlmig__hv *h, uint32_t domid)
{
    return fx_dom_locked(h, domid, fx_transit, &fx_to_unpaused);
}

/* A domain name: 1 to XLMIG__DOM_NAME_MAX printable bytes, not a domid. */
static int fx_name_check(struct xlmig__hv *h, const char *name)
{
    unsigned long v;
    size_t i, len = strlen(name);

    for (i = 0; i < len; i++) {
        if ((unsigned char)name[i] < 0x20 || name[i] == 0x7f)
            break;
    }
    if (!len || len > XLMIG__DOM_NAME_MAX || i < len ||
        fx_decimal(name, len, &v) || !strcmp(name, "0"))
        return xlmig__error(h->ctx, LIBXLMIG_ERR_INVALID_ARGUMENT, -1,
                            "\"%.*s\" is not a domain name (1 to %d "
                            "printable bytes, not a number)",
                            len > 64 ? 64 : (int)len, name,
                            XLMIG__DOM_NAME_MAX);
    return 0;
}

/* XEN_CALL_FAILED when domain @user other than @domid has @name. */
static int fx_name_free(struct xlmig__hv *h, const char *name, uint32_t domid)
{
    uint32_t user;
    int rc = fx_name_user(h, name, domid, &user);

    if (!rc && user)
        rc = xlmig__error(h->ctx, LIBXLMIG_ERR_XEN_CALL_FAILED, -1,
                          "a domain named %s exists already (domain %"
                          PRIu32 ")", name, user);
    return rc;
}

/* d->config with c_info's name and uuid set (NULL: unchanged). */
static int fx_config_edit(struct xlmig__hv *h, struct fx_dom *d,
                          const char *name, const char *uuid)
{
    struct xlmig__vmcfg_edit e;
    char *out = NULL;
    int rc;

    memset(&e, 0, sizeof(e));
    e.name = name;
    e.uuid = uuid;
    rc = xlmig__vmcfg_rewrite(h->ctx, d->config, strlen(d->config), &e,
                              &out);
    if (rc)
        return rc;
    free(d->config);
    d->config = out;
    return 0;
}

static int fx_renamed(struct xlmig__hv *h, struct fx_dom *d, const void *arg)
{
    const char *name = arg;
    int rc = fx_name_free(h, name, d->d.domid);

    if (!rc)
        rc = fx_config_edit(h, d, name, NULL);
    if (rc)
        return rc;
    xlmig__strlcpy(d->d.name, name, sizeof(d->d.name));
    return fx_dom_write(h, d);
}

static int fx_rename(struct xlmig__hv *h, uint32_t domid, const char *name)
{
    int rc = fx_name_check(h, name);

    return rc ? rc : fx_dom_locked(h, domid, fx_renamed, name);
}

/*
 * Everything of domain @d but its file: the guest process killed, the
 * device model stopped, the RAM file removed when the fake made it.
 */
static int fx_teardown(struct xlmig__hv *h, const struct fx_dom *d)
{
    int rc;

    fx_guest_kill(d);
    rc = fx_dm_stop(h, d);
    if (!rc && fx_ram_ours(h, d->d.domid, d->ram))
        fx_unlink_quiet(d->ram);
    return rc;
}

static int fx_dom_remove(struct xlmig__hv *h, uint32_t domid)
{
    char path[FX_PATH_MAX];
    int rc = fx_dom_path(h, domid, "json", path, sizeof(path));

    if (rc)
        return rc;
    if (unlink(path) && errno != ENOENT)
        return xlmig__error(h->ctx, xlmig__file_rc(errno), errno,
                            "fake Xen: cannot remove %s", path);
    return xlmig__dir_sync(h->ctx, h->domains);
}

static int fx_destroyed(struct xlmig__hv *h, struct fx_dom *d,
                        const void *arg)
{
    int rc = fx_teardown(h, d);

    (void)arg;
    return rc ? rc : fx_dom_remove(h, d->d.domid);
}

static int fx_destroy(struct xlmig__hv *h, uint32_t domid)
{
    return fx_dom_locked(h, domid, fx_destroyed, NULL);
}

/* ------------------------------------------------------------ suspend */

/* Where suspend's stream goes: the fd, and the guest stopped on time. */
struct fx_sink {
    struct xlmig__hv *h;
    uint32_t domid;
    const char *name;
    int fd;                     /* the stream's */
    int ram_fd;                 /* the RAM file, for the dirtied pages */
    const char *ram;
    const uint8_t *image;
    uint64_t first_pass;        /* pages of the full pass */
    uint64_t stop_at;           /* pages written before the guest stops */
    uint64_t pages;             /* pages written */
    bool in_page;               /* the next write is a page's data */
    bool stopped;
    int rc;                     /* a failure of ours (logged) */
    int err;                    /* errno of a failed write to @fd */
    unsigned int ms_per_mib;    /* $XLMIG_FAKE_XEN_SUSPEND_MS */
    uint64_t owed_ns;
};

static int fx_sink_write(void *opaque, const void *p, size_t n)
{
    struct fx_sink *s = opaque;
    const uint8_t *b = p;
    size_t left = n;

    if (s->rc || s->err)
        return -1;
    /* The first bytes after stop_at pages that are not a page: the
     * header of the last round's first record (or, non-live, the
     * stream's first byte). */
    if (!s->in_page && !s->stopped && s->pages == s->stop_at) {
        s->rc = fx_dom_locked(s->h, s->domid, fx_transit,
                              &fx_to_suspended);
        if (s->rc)
            return -1;
        s->stopped = true;
    }
    while (left) {
        ssize_t r = write(s->fd, b, left);

        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            s->err = r < 0 ? errno : EIO;
            return -1;
        }
        b += r;
        left -= (size_t)r;
    }
    if (s->in_page) {
        s->in_page = false;
        s->pages++;
        /* Destroyed meanwhile (xl destroy, or the guest crashed): libxc
         * can no longer map its pages, and fails. */
        if (s->pages % FX_GONE_CHECK_PAGES == 0) {
            char path[FX_PATH_MAX];

            if (!fx_dom_path(s->h, s->domid, "json", path, sizeof(path)) &&
                access(path, F_OK)) {
                s->rc = xlmig__error(s->h->ctx, LIBXLMIG_ERR_IO, -1,
                                     "saving domain %" PRIu32 " (%s): the "
                                     "domain was destroyed while it was "
                                     "saved", s->domid, s->name);
                return -1;
            }
        }
    }
    if (s->ms_per_mib) {
        s->owed_ns += (uint64_t)s->ms_per_mib * 1000000u * n >> 20;
        if (s->owed_ns >= 1000000u) {
            xlmig__sleep_ms((unsigned int)(s->owed_ns / 1000000u));
            s->owed_ns %= 1000000u;
        }
    }
    return 0;
}

/* A page is about to be sent: after the full pass, the guest dirtied it
 * (gen-stream changed it in the image), so it goes to the RAM file. */
static void fx_sink_page_at(void *opaque, uint64_t off, uint64_t pfn)
{
    struct fx_sink *s = opaque;

    (void)off;
    s->in_page = true;
    if (s->pages < s->first_pass || s->rc || s->err)
        return;
    if (pwrite(s->ram_fd, s->image + pfn * FX_PAGE, FX_PAGE,
               (off_t)(pfn * FX_PAGE)) != (ssize_t)FX_PAGE)
        s->rc = xlmig__error(s->h->ctx, LIBXLMIG_ERR_IO, errno, "saving "
                             "domain %" PRIu32 " (%s): cannot write its RAM "
                             "file %s", s->domid, s->name, s->ram);
}

/* The RAM file of @d whole: *image_r (free it), *fd_r open read-write. */
static int fx_ram_load(struct xlmig__hv *h, const struct fx_dom *d,
                       uint8_t **image_r, uint64_t *npages_r, int *fd_r)
{
    struct stat st;
    uint8_t *image = NULL;
    uint64_t got = 0;
    int fd, rc = 0;

    fd = open(d->ram, O_RDWR | O_CLOEXEC);
    if (fd < 0)
        return xlmig__error(h->ctx, LIBXLMIG_ERR_IO, errno, "saving domain %"
                            PRIu32 " (%s): cannot open its RAM file %s",
                            d->d.domid, d->d.name, d->ram);
    if (fstat(fd, &st) || !S_ISREG(st.st_mode) || st.st_size < FX_PAGE ||
        (uint64_t)st.st_size > FX_RAM_MAX || st.st_size % FX_PAGE) {
        rc = xlmig__error(h->ctx, LIBXLMIG_ERR_IO, -1, "saving domain %"
                          PRIu32 " (%s): its RAM file %s is not a file of "
                          "whole 4 KiB pages up to 1 GiB", d->d.domid,
                          d->d.name, d->ram);
        goto out;
    }
    image = malloc((size_t)st.st_size);
    if (!image) {
        rc = LIBXLMIG_ERR_NO_MEMORY;
        goto out;
    }
    while (got < (uint64_t)st.st_size) {
        ssize_t r = pread(fd, image + got, (size_t)st.st_size - got,
                          (off_t)got);

        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            rc = xlmig__error(h->ctx, LIBXLMIG_ERR_IO, r ? errno : -1,
                              "saving domain %" PRIu32 " (%s): cannot read "
                              "its RAM file %s", d->d.domid, d->d.name,
                              d->ram);
            goto out;
        }
        got += (uint64_t)r;
    }
    *image_r = image;
    image = NULL;
    *npages_r = (uint64_t)st.st_size / FX_PAGE;
    *fd_r = fd;
    fd = -1;                            /* the caller's now */
 out:
    if (fd >= 0)
        close(fd);
    free(image);
    return rc;
}

/* An unsigned number from the environment, @dflt when unset. */
static int fx_env_uint(struct xlmig__hv *h, const char *var,
                       unsigned long max, unsigned long *v_r)
{
    const char *s = getenv(var);
    unsigned long v;

    if (!s || !s[0])
        return 0;
    if (!strcmp(s, "0")) {
        *v_r = 0;
        return 0;
    }
    if (!fx_decimal(s, strlen(s), &v) || v > max)
        return xlmig__error(h->ctx, LIBXLMIG_ERR_INVALID_ARGUMENT, -1,
                            "$%s is \"%s\", not a number up to %lu", var, s,
                            max);
    *v_r = v;
    return 0;
}

static int fx_suspend(struct xlmig__hv *h, uint32_t domid, int fd, bool live)
{
    struct fx_dom d;
    struct fx_sink s;
    struct gs_opts o;
    struct gs_stats st;
    struct gs_sink k;
    sigset_t pipe_set, old_set, pending;
    const char *rounds = getenv("XLMIG_FAKE_XEN_ROUNDS");
    uint8_t *image = NULL;
    uint64_t npages = 0;
    unsigned long ms = 0;
    bool was_pending;
    unsigned int r;
    int ram_fd = -1, rc, g;

    memset(&s, 0, sizeof(s));
    memset(&k, 0, sizeof(k));
    rc = fx_dom_get(h, domid, &d);
    if (rc)
        return rc;
    if (d.d.state != XLMIG__DOM_RUNNING) {
        rc = xlmig__error(h->ctx, LIBXLMIG_ERR_IO, -1, "cannot save domain "
                          "%" PRIu32 " (%s): it is %s, not running", domid,
                          d.d.name, xlmig__dom_state_name(d.d.state));
        goto out;
    }
    gs_opts_default(&o);
    o.layer = GS_LAYER_LIBXL;
    o.hole = false;             /* every page is RAM: RAM files compare */
    o.seed = domid;
    if (live && gs_parse_rounds(rounds ? rounds : FX_ROUNDS_LIVE, &o)) {
        rc = xlmig__error(h->ctx, LIBXLMIG_ERR_INVALID_ARGUMENT, -1,
                          "$XLMIG_FAKE_XEN_ROUNDS is \"%s\", not percents "
                          "joined by ','", rounds);
        goto out;
    }
    rc = fx_env_uint(h, "XLMIG_FAKE_XEN_SUSPEND_MS", FX_SUSPEND_MS_MAX, &ms);
    if (rc) goto out;
    rc = fx_ram_load(h, &d, &image, &npages, &ram_fd);
    if (rc) goto out;

    s.h = h;
    s.domid = domid;
    s.name = d.d.name;
    s.fd = fd;
    s.ram_fd = ram_fd;
    s.ram = d.ram;
    s.image = image;
    s.first_pass = npages;
    s.ms_per_mib = (unsigned int)ms;
    /* The guest stops before the last dirty round (before anything when
     * not live), as libxc suspends it before the final pages. */
    if (o.nrounds) {
        s.stop_at = npages;
        for (r = 0; r + 1 < o.nrounds; r++)
            s.stop_at += npages * o.round_pct[r] / 100;
    }
    k.write = fx_sink_write;
    k.page_at = fx_sink_page_at;
    k.opaque = &s;

    /* A reader gone makes write() fail with EPIPE, not kill us: SIGPIPE
     * blocked in this thread, and the one we caused taken back. */
    sigemptyset(&pipe_set);
    sigaddset(&pipe_set, SIGPIPE);
    sigemptyset(&pending);
    pthread_sigmask(SIG_BLOCK, &pipe_set, &old_set);
    was_pending = !sigpending(&pending) && sigismember(&pending, SIGPIPE);
    g = gs_generate(image, npages, &o, &k, &st);
    if (!g && !s.stopped && !s.rc)
        s.rc = fx_dom_locked(h, domid, fx_transit, &fx_to_suspended);
    if (!was_pending && !sigpending(&pending) &&
        sigismember(&pending, SIGPIPE)) {
        struct timespec zero = { 0, 0 };

        (void)sigtimedwait(&pipe_set, NULL, &zero);
    }
    pthread_sigmask(SIG_SETMASK, &old_set, NULL);

    if (s.rc)
        rc = s.rc;
    else if (g)
        rc = xlmig__error(h->ctx, LIBXLMIG_ERR_IO, s.err ? s.err : -1,
                          "saving domain %" PRIu32 " (%s): writing the "
                          "migration stream failed at byte %" PRIu64 "%s",
                          domid, d.d.name, k.offset,
                          s.err == EPIPE ? " (its reader went away)" : "");
 out:
    if (ram_fd >= 0)
        close(ram_fd);
    free(image);
    fx_dom_dispose(&d);
    return rc;
}

/* ------------------------------------------------------------ restore */

/* The stream restore reads: exact lengths, never a byte past END. */
struct fx_in {
    struct xlmig__hv *h;
    int fd;
    uint64_t off;               /* stream bytes read */
    const char *what;           /* "restoring domain 3 (web1)" */
};

static int fx_in_bad(struct fx_in *in, const char *fmt, ...)
    XLMIG__PRINTF(2, 3);
static int fx_in_bad(struct fx_in *in, const char *fmt, ...)
{
    char msg[256];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    return xlmig__error(in->h->ctx, LIBXLMIG_ERR_XEN_CALL_FAILED, -1,
                        "%s: bad migration stream at byte %" PRIu64 ": %s",
                        in->what, in->off, msg);
}

static int fx_in_read(struct fx_in *in, void *buf, size_t n)
{
    uint8_t *p = buf;

    while (n) {
        ssize_t r = read(in->fd, p, n);

        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return xlmig__error(in->h->ctx, LIBXLMIG_ERR_XEN_CALL_FAILED,
                                errno, "%s: reading the migration stream "
                                "failed at byte %" PRIu64, in->what,
                                in->off);
        if (r == 0)
            return xlmig__error(in->h->ctx, LIBXLMIG_ERR_XEN_CALL_FAILED,
                                -1, "%s: the migration stream ended at byte "
                                "%" PRIu64 ", before its libxl END record",
                                in->what, in->off);
        p += r;
        n -= (size_t)r;
        in->off += (uint64_t)r;
    }
    return 0;
}

/* Skip a record body of @len bytes and its padding to 8. */
static int fx_in_skip(struct fx_in *in, uint64_t len)
{
    uint8_t buf[16384];
    uint64_t left = len + (XLMIG__REC_ALIGN - len % XLMIG__REC_ALIGN) %
                    XLMIG__REC_ALIGN;

    while (left) {
        size_t n = left < sizeof(buf) ? (size_t)left : sizeof(buf);
        int rc = fx_in_read(in, buf, n);

        if (rc)
            return rc;
        left -= n;
    }
    return 0;
}

static uint16_t fx_be16(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t fx_be32(const uint8_t *p)
{
    return (uint32_t)fx_be16(p) << 16 | fx_be16(p + 2);
}

static uint64_t fx_be64(const uint8_t *p)
{
    return (uint64_t)fx_be32(p) << 32 | fx_be32(p + 4);
}

static uint32_t fx_le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
           (uint32_t)p[3] << 24;
}

static uint64_t fx_le64(const uint8_t *p)
{
    return (uint64_t)fx_le32(p) | (uint64_t)fx_le32(p + 4) << 32;
}

/* A PAGE_DATA record's body of @len bytes: its pages into @ram_fd. */
static int fx_page_data(struct fx_in *in, uint32_t len, int ram_fd)
{
    uint8_t hdr[XLMIG__PAGE_DATA_HDR_LEN], page[FX_PAGE];
    uint8_t raw[8 * XLMIG__PAGE_DATA_BATCH_MAX];
    uint32_t count, i, ndata = 0;
    int rc;

    if (len < XLMIG__PAGE_DATA_HDR_LEN)
        return fx_in_bad(in, "PAGE_DATA record of %" PRIu32 " bytes", len);
    rc = fx_in_read(in, hdr, sizeof(hdr));
    if (rc)
        return rc;
    count = fx_le32(hdr);
    if (!count || count > XLMIG__PAGE_DATA_BATCH_MAX)
        return fx_in_bad(in, "PAGE_DATA of %" PRIu32 " pfns (1 to %u)",
                         count, XLMIG__PAGE_DATA_BATCH_MAX);
    if (len < XLMIG__PAGE_DATA_HDR_LEN + 8ull * count)
        return fx_in_bad(in, "PAGE_DATA of %" PRIu32 " bytes for %" PRIu32
                         " pfns", len, count);
    rc = fx_in_read(in, raw, 8u * count);
    if (rc)
        return rc;
    for (i = 0; i < count; i++) {
        uint64_t v = fx_le64(raw + 8 * i);
        unsigned type = (unsigned)(v >> XLMIG__PAGE_DATA_TYPE_SHIFT);
        uint64_t pfn = v & XLMIG__PAGE_DATA_PFN_MASK;

        if (!xlmig__pfinfo_known(type) || (v >> 52 & 0xff))
            return fx_in_bad(in, "PAGE_DATA pfn entry %" PRIu32 " is 0x%016"
                             PRIx64, i, v);
        if (!xlmig__pfinfo_has_data(type))
            continue;
        if (pfn >= FX_RAM_MAX / FX_PAGE)
            return fx_in_bad(in, "pfn 0x%" PRIx64 " is beyond the 1 GiB "
                             "of RAM fake Xen keeps", pfn);
        ndata++;
    }
    if (len != XLMIG__PAGE_DATA_HDR_LEN + 8ull * count +
               (uint64_t)FX_PAGE * ndata)
        return fx_in_bad(in, "PAGE_DATA of %" PRIu32 " bytes for %" PRIu32
                         " pfns, %" PRIu32 " of them with data", len, count,
                         ndata);
    for (i = 0; i < count; i++) {
        uint64_t v = fx_le64(raw + 8 * i);
        uint64_t pfn = v & XLMIG__PAGE_DATA_PFN_MASK;

        if (!xlmig__pfinfo_has_data((unsigned)(v >>
                                               XLMIG__PAGE_DATA_TYPE_SHIFT)))
            continue;
        rc = fx_in_read(in, page, sizeof(page));
        if (rc)
            return rc;
        if (pwrite(ram_fd, page, FX_PAGE, (off_t)(pfn * FX_PAGE)) !=
            (ssize_t)FX_PAGE)
            return xlmig__error(in->h->ctx, LIBXLMIG_ERR_IO, errno,
                                "%s: cannot write the new RAM file",
                                in->what);
    }
    return 0;                   /* whole pages: no padding */
}

/* The libxc stream after LIBXC_CONTEXT, up to and with its END. */
static int fx_libxc_restore(struct fx_in *in, int ram_fd)
{
    uint8_t ih[XLMIG__LIBXC_IHDR_LEN], dh[XLMIG__LIBXC_DHDR_LEN];
    uint8_t rh[XLMIG__REC_HDR_LEN];
    uint32_t v, type, len;
    int rc;

    rc = fx_in_read(in, ih, sizeof(ih));
    if (rc)
        return rc;
    v = fx_be32(ih + 12);
    if (fx_be64(ih) != XLMIG__LIBXC_MARKER || fx_be32(ih + 8) !=
        XLMIG__LIBXC_ID)
        return fx_in_bad(in, "no libxc image header after LIBXC_CONTEXT");
    if (v != 2 && v != XLMIG__LIBXC_VERSION)
        return fx_in_bad(in, "libxc stream version %" PRIu32 ", not 2 or 3",
                         v);
    if (fx_be16(ih + 16) & XLMIG__LIBXC_OPT_BIG_ENDIAN)
        return fx_in_bad(in, "a big-endian libxc stream");
    rc = fx_in_read(in, dh, sizeof(dh));
    if (rc)
        return rc;
    type = fx_le32(dh);
    if (type != XLMIG__LIBXC_DOM_X86_PV && type != XLMIG__LIBXC_DOM_X86_HVM &&
        type != XLMIG__LIBXC_DOM_X86_PVH)
        return fx_in_bad(in, "libxc domain type %" PRIu32 " is not x86",
                         type);
    if ((dh[4] | dh[5] << 8) != 12)
        return fx_in_bad(in, "page shift %u, not 12", dh[4] | dh[5] << 8);
    for (;;) {
        rc = fx_in_read(in, rh, sizeof(rh));
        if (rc)
            return rc;
        type = fx_le32(rh);
        len = fx_le32(rh + 4);
        if (len > XLMIG__LIBXC_REC_LENGTH_MAX)
            return fx_in_bad(in, "libxc record 0x%" PRIx32 " of %" PRIu32
                             " bytes (at most %u)", type, len,
                             XLMIG__LIBXC_REC_LENGTH_MAX);
        switch (type) {
        case XLMIG__LIBXC_REC_END:
            return len ? fx_in_bad(in, "libxc END of %" PRIu32 " bytes", len)
                       : 0;
        case XLMIG__LIBXC_REC_PAGE_DATA:
            rc = fx_page_data(in, len, ram_fd);
            break;
        case XLMIG__LIBXC_REC_CHECKPOINT:
        case XLMIG__LIBXC_REC_CHECKPOINT_DIRTY_PFN_LIST:
            return fx_in_bad(in, "a checkpointed stream (Remus, COLO)");
        default:
            rc = fx_in_skip(in, len);
            break;
        }
        if (rc)
            return rc;
    }
}

/* The libxl stream from its header up to and with its END record. */
static int fx_stream_restore(struct fx_in *in, int ram_fd)
{
    uint8_t hdr[XLMIG__LIBXL_HDR_LEN], rh[XLMIG__REC_HDR_LEN];
    bool memory = false;
    uint32_t type, len;
    int rc;

    rc = fx_in_read(in, hdr, sizeof(hdr));
    if (rc)
        return rc;
    if (fx_be64(hdr) != XLMIG__LIBXL_IDENT)
        return fx_in_bad(in, "not a libxl stream (no LibxlFmt header)");
    if (fx_be32(hdr + 8) != XLMIG__LIBXL_VERSION)
        return fx_in_bad(in, "libxl stream version %" PRIu32 ", not 2",
                         fx_be32(hdr + 8));
    if (fx_be32(hdr + 12) & (XLMIG__LIBXL_OPT_BIG_ENDIAN |
                             XLMIG__LIBXL_OPT_LEGACY))
        return fx_in_bad(in, "a big-endian or legacy libxl stream");
    for (;;) {
        rc = fx_in_read(in, rh, sizeof(rh));
        if (rc)
            return rc;
        type = fx_le32(rh);
        len = fx_le32(rh + 4);
        switch (type) {
        case XLMIG__LIBXL_REC_END:
            if (len)
                return fx_in_bad(in, "libxl END of %" PRIu32 " bytes", len);
            if (!memory)
                return fx_in_bad(in, "libxl END before any memory (no "
                                 "LIBXC_CONTEXT)");
            return 0;
        case XLMIG__LIBXL_REC_LIBXC_CONTEXT:
            if (len || memory)
                return fx_in_bad(in, "%s LIBXC_CONTEXT", memory
                                 ? "a second" : "a non-empty");
            rc = fx_libxc_restore(in, ram_fd);
            memory = true;
            break;
        case XLMIG__LIBXL_REC_EMULATOR_XENSTORE_DATA:
        case XLMIG__LIBXL_REC_EMULATOR_CONTEXT:
            if (len > FX_LIBXL_REC_MAX)
                return fx_in_bad(in, "libxl record %" PRIu32 " of %" PRIu32
                                 " bytes (at most %u)", type, len,
                                 FX_LIBXL_REC_MAX);
            rc = fx_in_skip(in, len);
            break;
        default:
            return fx_in_bad(in, "libxl record type %" PRIu32 " is not one "
                             "fake Xen restores", type);
        }
        if (rc)
            return rc;
    }
}

/* ------------------------------------------------------------ new domains */

/*
 * The uuid of a new domain: @given lowercased (as libxl keeps it), or a
 * new one when @given is "".
 */
static int fx_uuid_pick(struct xlmig__hv *h, const char *given,
                        const char *what, char uuid[XLMIG__UUID_LEN + 1])
{
    size_t i;

    if (!given[0])
        return xlmig__uuid_generate(h->ctx, uuid);
    for (i = 0; given[i] && i < XLMIG__UUID_LEN; i++)
        uuid[i] = (char)(given[i] >= 'A' && given[i] <= 'F'
                         ? given[i] - 'A' + 'a' : given[i]);
    uuid[i] = '\0';
    if (given[i] || !xlmig__uuid_ok(uuid))
        return xlmig__error(h->ctx, LIBXLMIG_ERR_INVALID_ARGUMENT, -1,
                            "%s: uuid %s is not a uuid", what, given);
    return 0;
}

/*
 * The RAM of a booted domain into @fd: gen-stream's synthetic image of
 * its memory, at most FX_RAM_NEW_MAX.
 */
static int fx_ram_synthetic(struct xlmig__hv *h, const struct fx_dom *d,
                            int fd, const char *what)
{
    uint64_t kib = d->d.memory_kib < FX_RAM_NEW_MAX / 1024
                   ? d->d.memory_kib : FX_RAM_NEW_MAX / 1024;
    uint64_t npages = kib / 4 ? kib / 4 : 1, done = 0;
    uint8_t *image = gs_synthetic(npages, d->d.domid);
    int rc = 0;

    if (!image)
        return LIBXLMIG_ERR_NO_MEMORY;
    while (done < npages * FX_PAGE) {
        ssize_t r = pwrite(fd, image + done, npages * FX_PAGE - done,
                           (off_t)done);

        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            rc = xlmig__error(h->ctx, LIBXLMIG_ERR_IO, errno, "%s: cannot "
                              "write its RAM file %s", what, d->ram);
            break;
        }
        done += (uint64_t)r;
    }
    free(image);
    return rc;
}

/*
 * A domain from @config_json: restored from the stream on @fd (left
 * paused), or booted when @fd is -1 (running, synthetic RAM).  The
 * domain's file exists from the start, paused, as libxl's domain does
 * while the stream is read; on failure nothing is left.
 */
static int fx_make(struct xlmig__hv *h, const char *config_json, int fd,
                   uint32_t *domid_r)
{
    struct xlmig__vmcfg *c = NULL;
    struct fx_dom d;
    struct fx_in in;
    char what[XLMIG__DOM_NAME_MAX + 64], uuid[XLMIG__UUID_LEN + 1];
    const char *verb = fd >= 0 ? "restoring" : "creating";
    bool filed = false, ram_made = false;
    int ram_fd = -1, rc;
    size_t len = config_json ? strlen(config_json) : 0;

    memset(&d, 0, sizeof(d));
    snprintf(what, sizeof(what), "%s a domain", verb);
    if (!config_json || len > XLMIG__DOM_CONFIG_MAX)
        return xlmig__error(h->ctx, LIBXLMIG_ERR_INVALID_ARGUMENT, -1,
                            "%s: no configuration, or one over %u bytes",
                            what, XLMIG__DOM_CONFIG_MAX);
    c = xlmig__zalloc(sizeof(*c));
    d.config = malloc(len + 1);
    if (!c || !d.config) {
        rc = LIBXLMIG_ERR_NO_MEMORY;
        goto out;
    }
    memcpy(d.config, config_json, len + 1);
    rc = xlmig__vmcfg_parse(h->ctx, "of the new domain", config_json, len,
                            c);
    if (rc) goto out;
    rc = fx_name_check(h, c->name);
    if (rc) goto out;
    snprintf(what, sizeof(what), "%s domain %s", verb, c->name);
    rc = fx_disks_plan(h, c, what);
    if (rc) goto out;
    rc = fx_uuid_pick(h, c->uuid, what, uuid);
    if (rc) goto out;
    rc = fx_config_edit(h, &d, NULL, uuid);
    if (rc) goto out;
    d.d.state = XLMIG__DOM_PAUSED;
    xlmig__strlcpy(d.d.name, c->name, sizeof(d.d.name));
    xlmig__strlcpy(d.d.uuid, uuid, sizeof(d.d.uuid));
    xlmig__strlcpy(d.d.type, c->type, sizeof(d.d.type));
    d.d.memory_kib = c->target_memkb;
    d.d.max_memory_kib = c->max_memkb;
    d.d.vcpus = c->max_vcpus ? c->max_vcpus : 1;
    rc = fx_host_cpu(h, c->type, &d.cpu);
    if (rc) goto out;

    rc = fx_lock(h);
    if (rc) goto out;
    rc = fx_name_free(h, c->name, 0);
    if (!rc)
        rc = fx_domid_new(h, &d.d.domid);
    if (!rc)
        rc = fx_dom_path(h, d.d.domid, "ram", d.ram, sizeof(d.ram));
    if (!rc) {
        ram_fd = open(d.ram, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        if (ram_fd < 0)
            rc = xlmig__error(h->ctx, LIBXLMIG_ERR_IO, errno, "%s: cannot "
                              "create its RAM file %s", what, d.ram);
    }
    ram_made = ram_fd >= 0;
    if (!rc)
        rc = fx_dom_write(h, &d);
    filed = !rc;
    fx_unlock(h);
    if (rc) goto out;
    snprintf(what, sizeof(what), "%s domain %" PRIu32 " (%s)", verb,
             d.d.domid, d.d.name);

    if (fd >= 0) {
        in.h = h;
        in.fd = fd;
        in.off = 0;
        in.what = what;
        rc = fx_stream_restore(&in, ram_fd);
    } else {
        rc = fx_ram_synthetic(h, &d, ram_fd, what);
    }
    if (rc) goto out;
    /* After END libxl adds the disks: the device model opens them. */
    rc = fx_disks_check(h, c, what);
    if (rc) goto out;
    rc = fx_dm_start(h, c, what, &d);
    if (rc) goto out;
    if (fd < 0)
        d.d.state = XLMIG__DOM_RUNNING;
    rc = fx_lock(h);
    if (!rc) {
        rc = fx_dom_write(h, &d);
        fx_unlock(h);
    }
    if (rc) goto out;
    *domid_r = d.d.domid;
 out:
    if (rc) {
        (void)fx_dm_stop(h, &d);
        if (filed)
            (void)fx_dom_remove(h, d.d.domid);
    }
    if (ram_fd >= 0)
        close(ram_fd);
    if (rc && ram_made)
        fx_unlink_quiet(d.ram);
    free(c);
    fx_dom_dispose(&d);
    return rc;
}

static int fx_restore(struct xlmig__hv *h, const char *config_json, int fd,
                      uint32_t *domid_r)
{
    if (fd < 0)
        return xlmig__error(h->ctx, LIBXLMIG_ERR_INVALID_ARGUMENT, -1,
                            "restoring a domain: no stream");
    return fx_make(h, config_json, fd, domid_r);
}

static int fx_create(struct xlmig__hv *h, const char *config_json,
                     uint32_t *domid_r)
{
    return fx_make(h, config_json, -1, domid_r);
}

const struct xlmig__hv_ops xlmig__hv_fake = {
    .name = "fake",
    .open = fx_open,
    .close = fx_close,
    .host_info = fx_host_info,
    .list = fx_list,
    .find = fx_find,
    .config = fx_config,
    .cpu = fx_cpu,
    .dm_qmp = fx_dm_qmp,
    .suspend = fx_suspend,
    .resume = fx_resume,
    .pause = fx_pause,
    .unpause = fx_unpause,
    .rename = fx_rename,
    .destroy = fx_destroy,
    .restore = fx_restore,
    .create = fx_create,
};

#ifndef FAKE_XEN_NO_MAIN

/* ------------------------------------------------------------ CLI */

struct fx_cmd {
    const char *name;
    int (*run)(const struct fx_cmd *c, int argc, char **argv);
    const char *help;
    const char *usage;
};

/* An option ("--dir") or, with name NULL, a positional argument. */
struct fx_arg {
    const char *name;
    const char **value;         /* its text; a flag gets "1" */
    bool flag;                  /* takes no value */
    bool needed;                /* positional arguments always are */
};
#define FX_NARGS(a) (sizeof(a) / sizeof((a)[0]))

static void fx_cmd_usage(const struct fx_cmd *c, FILE *f)
{
    fprintf(f, "usage: fake-xen %s %s\n%s\n", c->name, c->usage, c->help);
}

static int fx_usage_error(const struct fx_cmd *c, const char *fmt, ...)
    XLMIG__PRINTF(2, 3);
static int fx_usage_error(const struct fx_cmd *c, const char *fmt, ...)
{
    va_list ap;

    fprintf(stderr, "fake-xen %s: ", c->name);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, " (fake-xen %s --help)\n", c->name);
    return 2;
}

/* 0, 2 after a usage error, -1 after --help. */
static int fx_parse(const struct fx_cmd *c, int argc, char **argv,
                    const struct fx_arg *args, size_t nargs)
{
    int i;
    size_t j;

    for (i = 1; i < argc; i++) {
        const char *a = argv[i];

        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            fx_cmd_usage(c, stdout);
            return -1;
        }
        if (a[0] == '-' && a[1]) {
            for (j = 0; j < nargs && (!args[j].name ||
                                      strcmp(args[j].name, a)); j++)
                ;
            if (j == nargs)
                return fx_usage_error(c, "unknown option '%s'", a);
            if (args[j].flag) {
                *args[j].value = "1";
            } else if (i + 1 < argc) {
                *args[j].value = argv[++i];
            } else {
                return fx_usage_error(c, "option %s needs a value", a);
            }
            continue;
        }
        for (j = 0; j < nargs && (args[j].name || *args[j].value); j++)
            ;
        if (j == nargs)
            return fx_usage_error(c, "unexpected argument '%s'", a);
        *args[j].value = a;
    }
    for (j = 0; j < nargs; j++) {
        if ((args[j].needed || !args[j].name) && !*args[j].value)
            return fx_usage_error(c, "missing %s", args[j].name
                                  ? args[j].name : "argument");
    }
    return 0;
}

/* A number of option @opt from @text, up to @max; 2 when bad. */
static int fx_num(const struct fx_cmd *c, const char *opt, const char *text,
                  unsigned long max, unsigned long *v_r)
{
    if (!text)
        return 0;
    if (!fx_decimal(text, strlen(text), v_r) || *v_r > max)
        return fx_usage_error(c, "%s '%s' is not a number from 1 to %lu",
                              opt, text, max);
    return 0;
}

struct fx_cli {
    libxlmig_ctx *ctx;
    struct xlmig__hv *h;
};

/* The fake host at @dir (it becomes $XLMIG_FAKE_XEN); 1 on failure. */
static int fx_cli_open(const char *dir, struct fx_cli *cli)
{
    memset(cli, 0, sizeof(*cli));
    if (setenv("XLMIG_FAKE_XEN", dir, 1) ||
        libxlmig_ctx_new(NULL, LIBXLMIG_LOG_ERROR, &cli->ctx)) {
        fprintf(stderr, "fake-xen: out of memory\n");
        return 1;
    }
    if (xlmig__hv_fake.open(cli->ctx, &cli->h)) {
        libxlmig_ctx_free(cli->ctx);
        cli->ctx = NULL;
        return 1;
    }
    return 0;
}

/* fx_parse(), then the host of --dir opened: as fx_parse, 1 on failure. */
static int fx_cli_begin(const struct fx_cmd *c, int argc, char **argv,
                        const struct fx_arg *args, size_t nargs,
                        struct fx_cli *cli)
{
    int rc = fx_parse(c, argc, argv, args, nargs);
    size_t j;

    if (rc)
        return rc;
    for (j = 0; j < nargs && (!args[j].name || strcmp(args[j].name,
                                                      "--dir")); j++)
        ;
    return fx_cli_open(*args[j].value, cli);
}

static int fx_cli_close(struct fx_cli *cli, int rc)
{
    xlmig__hv_fake.close(cli->h);
    libxlmig_ctx_free(cli->ctx);
    return rc ? 1 : 0;
}

/* The domain @which names: *domid_r; 1 (said) when there is none. */
static int fx_cli_find(struct fx_cli *cli, const char *which,
                       uint32_t *domid_r)
{
    struct xlmig__dom d;
    int rc = xlmig__hv_fake.find(cli->h, which, &d);

    if (rc == LIBXLMIG_ERR_NOT_FOUND)
        fprintf(stderr, "fake-xen: no domain %s in %s\n", which,
                cli->h->dir);
    if (rc)
        return 1;
    *domid_r = d.domid;
    return 0;
}

/* Read a configuration file (at most XLMIG__DOM_CONFIG_MAX bytes) as a
 * NUL-ended text. */
static int fx_cli_config(struct fx_cli *cli, const char *path, char **text_r)
{
    char *text = NULL, *t;
    size_t len;
    int rc = xlmig__file_read(cli->ctx, &cfg_kind, path, &text, &len);

    if (rc == LIBXLMIG_ERR_NOT_FOUND)
        fprintf(stderr, "fake-xen: no configuration file %s\n", path);
    if (rc)
        return 1;
    if (memchr(text, '\0', len)) {
        fprintf(stderr, "fake-xen: %s holds a NUL byte\n", path);
        free(text);
        return 1;
    }
    t = realloc(text, len + 1);
    if (!t) {
        fprintf(stderr, "fake-xen: out of memory\n");
        free(text);
        return 1;
    }
    t[len] = '\0';
    *text_r = t;
    return 0;
}

static int cmd_host(const struct fx_cmd *c, int argc, char **argv)
{
    const char *dir = NULL, *free_mib = NULL, *total_mib = NULL;
    const char *cpus = NULL, *xen = NULL, *vendor = NULL, *hvm = NULL;
    const char *pv = NULL;
    const struct fx_arg args[] = {
        { "--dir", &dir, false, true }, { "--free-mib", &free_mib },
        { "--total-mib", &total_mib }, { "--cpus", &cpus },
        { "--xen", &xen }, { "--vendor", &vendor }, { "--hvm-max", &hvm },
        { "--pv-max", &pv },
    };
    unsigned long fmib = 0, tmib = 0, ncpus = 0;
    libxlmig_cpu_vendor v;
    struct fx_host o;
    struct fx_cli cli;
    int rc = fx_parse(c, argc, argv, args, FX_NARGS(args));

    if (rc)
        return rc < 0 ? 0 : rc;
    if ((rc = fx_num(c, "--free-mib", free_mib, 1ul << 30, &fmib)) ||
        (rc = fx_num(c, "--total-mib", total_mib, 1ul << 30, &tmib)) ||
        (rc = fx_num(c, "--cpus", cpus, 65536, &ncpus)))
        return rc;
    fx_host_defaults(&o);
    if (xen) {
        int n = 0;

        if (sscanf(xen, "%lld.%lld%n", &o.xen_major, &o.xen_minor, &n) != 2 ||
            o.xen_major < 0 || o.xen_major > 1000 || o.xen_minor < 0 ||
            o.xen_minor > 1000 || (xen[n] && xen[n] != '.' && xen[n] != '-') ||
            strlen(xen + n) >= sizeof(o.xen_extra))
            return fx_usage_error(c, "--xen '%s' is not a version like "
                                  "4.17.7", xen);
        xlmig__strlcpy(o.xen_extra, xen + n, sizeof(o.xen_extra));
    }
    if (mkdir(dir, 0700) && errno != EEXIST) {
        fprintf(stderr, "fake-xen: cannot create %s: %s\n", dir,
                strerror(errno));
        return 1;
    }
    rc = fx_cli_open(dir, &cli);
    if (rc)
        return rc;
    if (vendor && !(rc = libxlmig_cpu_vendor_parse(cli.ctx, "--vendor",
                                                   vendor, &v)))
        xlmig__strlcpy(o.vendor, libxlmig_cpu_vendor_string(v),
                       sizeof(o.vendor));
    if (!rc && hvm)
        rc = libxlmig_featureset_parse(cli.ctx, "--hvm-max", hvm,
                                       &o.fs_hvm_max);
    if (!rc && pv)
        rc = libxlmig_featureset_parse(cli.ctx, "--pv-max", pv,
                                       &o.fs_pv_max);
    if (fmib)
        o.free_kib = (long long)fmib * 1024;
    if (tmib)
        o.total_kib = (long long)tmib * 1024;
    if (ncpus)
        o.nr_cpus = (long long)ncpus;
    if (!rc)
        rc = fx_host_write(cli.h, &o);
    return fx_cli_close(&cli, rc);
}

/* A process the test started, as the domain file keeps it. */
static int fx_cli_proc(const char *what, const char *pid_text,
                       long long *pid_r, long long *start_r)
{
    unsigned long pid;

    if (!fx_decimal(pid_text, strlen(pid_text), &pid) || pid > INT32_MAX) {
        fprintf(stderr, "fake-xen: %s '%s' is not a pid\n", what, pid_text);
        return 1;
    }
    *pid_r = (long long)pid;
    *start_r = (long long)xlmig__proc_start_time((pid_t)pid);
    if (!*start_r) {
        fprintf(stderr, "fake-xen: %s %lu: no such process\n", what, pid);
        return 1;
    }
    return 0;
}

/* A RAM file the test made: whole pages, 4 KiB to 1 GiB. */
static int fx_cli_ram(const char *path)
{
    struct stat st;

    if (stat(path, &st) || !S_ISREG(st.st_mode) || st.st_size < FX_PAGE ||
        (uint64_t)st.st_size > FX_RAM_MAX || st.st_size % FX_PAGE) {
        fprintf(stderr, "fake-xen: --ram %s is not a file of whole 4 KiB "
                "pages up to 1 GiB\n", path);
        return 1;
    }
    return 0;
}

/*
 * Register a domain whose device model and guest the test started: its
 * file, and a synthetic RAM file unless --ram names one.
 */
static int cmd_create(const struct fx_cmd *c, int argc, char **argv)
{
    const char *dir = NULL, *name = NULL, *uuid = NULL, *config = NULL;
    const char *qmp = NULL, *dm_pid = NULL, *guest_pid = NULL, *ram = NULL;
    const char *memory = NULL, *vcpus = NULL, *type = NULL;
    const struct fx_arg args[] = {
        { "--dir", &dir, false, true }, { "--name", &name, false, true },
        { "--uuid", &uuid }, { "--config", &config, false, true },
        { "--qmp", &qmp }, { "--dm-pid", &dm_pid },
        { "--guest-pid", &guest_pid }, { "--ram", &ram },
        { "--memory-mib", &memory }, { "--vcpus", &vcpus },
        { "--type", &type },
    };
    char u[XLMIG__UUID_LEN + 1], what[XLMIG__DOM_NAME_MAX + 32];
    unsigned long mib = 0, nvcpus = 0;
    struct xlmig__vmcfg *cfg = NULL;
    struct fx_dom d;
    struct fx_cli cli;
    bool locked = false, ram_made = false;
    int rc = fx_parse(c, argc, argv, args, FX_NARGS(args));
    int ram_fd = -1;

    memset(&d, 0, sizeof(d));
    if (rc)
        return rc < 0 ? 0 : rc;
    if (!qmp != !dm_pid)
        return fx_usage_error(c, "--qmp and --dm-pid go together");
    if (type && strcmp(type, "pv") && strcmp(type, "pvh") &&
        strcmp(type, "hvm"))
        return fx_usage_error(c, "--type must be pv, pvh or hvm");
    if ((qmp && strlen(qmp) >= sizeof(d.qmp)) ||
        (ram && strlen(ram) >= sizeof(d.ram)))
        return fx_usage_error(c, "a path is too long");
    if ((rc = fx_num(c, "--memory-mib", memory, 1ul << 30, &mib)) ||
        (rc = fx_num(c, "--vcpus", vcpus, 4096, &nvcpus)))
        return rc;
    rc = fx_cli_open(dir, &cli);
    if (rc)
        return rc;
    snprintf(what, sizeof(what), "domain %s", name);
    cfg = xlmig__zalloc(sizeof(*cfg));
    rc = !cfg || fx_cli_config(&cli, config, &d.config) ||
         xlmig__vmcfg_parse(cli.ctx, config, d.config, strlen(d.config),
                            cfg) ||
         fx_name_check(cli.h, name) ||
         fx_uuid_pick(cli.h, uuid ? uuid : cfg->uuid, what, u) ||
         fx_config_edit(cli.h, &d, name, u) ||
         (ram && fx_cli_ram(ram)) ||
         (dm_pid && fx_cli_proc("--dm-pid", dm_pid, &d.dm_pid,
                                &d.dm_start)) ||
         (guest_pid && fx_cli_proc("--guest-pid", guest_pid, &d.guest_pid,
                                   &d.guest_start));
    if (rc) goto out;
    xlmig__strlcpy(d.d.name, name, sizeof(d.d.name));
    xlmig__strlcpy(d.d.uuid, u, sizeof(d.d.uuid));
    xlmig__strlcpy(d.d.type, type ? type : cfg->type, sizeof(d.d.type));
    d.d.state = XLMIG__DOM_RUNNING;
    d.d.memory_kib = mib ? mib * 1024 : cfg->target_memkb;
    d.d.max_memory_kib = cfg->max_memkb > d.d.memory_kib ? cfg->max_memkb
                                                         : d.d.memory_kib;
    d.d.vcpus = nvcpus ? (unsigned int)nvcpus
                       : cfg->max_vcpus ? cfg->max_vcpus : 1;
    xlmig__strlcpy(d.qmp, qmp ? qmp : "", sizeof(d.qmp));
    rc = fx_host_cpu(cli.h, d.d.type, &d.cpu) || fx_lock(cli.h);
    if (rc) goto out;
    locked = true;
    rc = fx_name_free(cli.h, name, 0) || fx_domid_new(cli.h, &d.d.domid);
    if (rc) goto out;
    if (ram) {
        xlmig__strlcpy(d.ram, ram, sizeof(d.ram));
    } else {
        rc = fx_dom_path(cli.h, d.d.domid, "ram", d.ram, sizeof(d.ram));
        if (rc) goto out;
        ram_fd = open(d.ram, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        if (ram_fd < 0) {
            fprintf(stderr, "fake-xen: cannot create %s: %s\n", d.ram,
                    strerror(errno));
            rc = 1;
            goto out;
        }
        ram_made = true;
        rc = fx_ram_synthetic(cli.h, &d, ram_fd, what);
        if (rc) goto out;
    }
    rc = fx_dom_write(cli.h, &d);
    if (!rc)
        printf("%" PRIu32 "\n", d.d.domid);
 out:
    if (locked)
        fx_unlock(cli.h);
    if (ram_fd >= 0)
        close(ram_fd);
    if (rc && ram_made)
        fx_unlink_quiet(d.ram);
    free(cfg);
    fx_dom_dispose(&d);
    return fx_cli_close(&cli, rc);
}

/* boot and restore, through the operations: print the new domid. */
static int cmd_new(const struct fx_cmd *c, int argc, char **argv)
{
    const char *dir = NULL, *config = NULL, *in = NULL;
    bool restore = !strcmp(c->name, "restore");
    const struct fx_arg args[] = {
        { "--dir", &dir, false, true }, { "--config", &config, false, true },
        { "--in", &in, false, true },
    };
    struct fx_cli cli;
    char *text = NULL;
    uint32_t domid;
    int fd = -1;
    int rc = fx_cli_begin(c, argc, argv, args, restore ? 3 : 2, &cli);

    if (rc)
        return rc < 0 ? 0 : rc;
    rc = fx_cli_config(&cli, config, &text);
    if (!rc && restore) {
        fd = strcmp(in, "-") ? open(in, O_RDONLY | O_CLOEXEC) : 0;
        if (fd < 0) {
            fprintf(stderr, "fake-xen: cannot open %s: %s\n", in,
                    strerror(errno));
            rc = 1;
        }
    }
    if (!rc)
        rc = restore ? xlmig__hv_fake.restore(cli.h, text, fd, &domid)
                     : xlmig__hv_fake.create(cli.h, text, &domid);
    if (!rc)
        printf("%" PRIu32 "\n", domid);
    if (fd > 0)
        close(fd);
    free(text);
    return fx_cli_close(&cli, rc);
}

static int cmd_suspend(const struct fx_cmd *c, int argc, char **argv)
{
    const char *dir = NULL, *dom = NULL, *out = NULL, *non_live = NULL;
    const struct fx_arg args[] = {
        { "--dir", &dir, false, true }, { "--out", &out, false, true },
        { "--non-live", &non_live, true }, { NULL, &dom },
    };
    struct fx_cli cli;
    uint32_t domid;
    int fd = -1;
    int rc = fx_cli_begin(c, argc, argv, args, FX_NARGS(args), &cli);

    if (rc)
        return rc < 0 ? 0 : rc;
    rc = fx_cli_find(&cli, dom, &domid);
    if (rc) goto out;
    fd = strcmp(out, "-") ? open(out, O_WRONLY | O_CREAT | O_TRUNC |
                                 O_CLOEXEC, 0600) : 1;
    if (fd < 0) {
        fprintf(stderr, "fake-xen: cannot create %s: %s\n", out,
                strerror(errno));
        rc = 1;
        goto out;
    }
    rc = xlmig__hv_fake.suspend(cli.h, domid, fd, !non_live);
    if (fd > 1 && close(fd) && !rc) {
        fprintf(stderr, "fake-xen: closing %s: %s\n", out, strerror(errno));
        rc = 1;
    }
 out:
    return fx_cli_close(&cli, rc);
}

/* The commands that take a domain and nothing else. */
static int cmd_dom(const struct fx_cmd *c, int argc, char **argv)
{
    const char *dir = NULL, *dom = NULL, *name = NULL;
    const struct fx_arg args[] = {
        { "--dir", &dir, false, true }, { NULL, &dom }, { NULL, &name },
    };
    size_t nargs = strcmp(c->name, "rename") ? 2 : 3;
    struct fx_cli cli;
    uint32_t domid;
    int rc = fx_cli_begin(c, argc, argv, args, nargs, &cli);

    if (rc)
        return rc < 0 ? 0 : rc;
    rc = fx_cli_find(&cli, dom, &domid);
    if (rc) goto out;
    if (!strcmp(c->name, "destroy"))
        rc = xlmig__hv_fake.destroy(cli.h, domid);
    else if (!strcmp(c->name, "resume"))
        rc = xlmig__hv_fake.resume(cli.h, domid);
    else if (!strcmp(c->name, "pause"))
        rc = xlmig__hv_fake.pause(cli.h, domid);
    else if (!strcmp(c->name, "unpause"))
        rc = xlmig__hv_fake.unpause(cli.h, domid);
    else if (!strcmp(c->name, "rename"))
        rc = xlmig__hv_fake.rename(cli.h, domid, name);
    else {                              /* show */
        char path[FX_PATH_MAX], *text = NULL;
        size_t len;

        rc = fx_dom_path(cli.h, domid, "json", path, sizeof(path)) ||
             xlmig__file_read(cli.ctx, &dom_kind, path, &text, &len);
        if (!rc)
            fwrite(text, 1, len, stdout);
        free(text);
    }
 out:
    return fx_cli_close(&cli, rc);
}

static int cmd_list(const struct fx_cmd *c, int argc, char **argv)
{
    const char *dir = NULL;
    const struct fx_arg args[] = { { "--dir", &dir, false, true } };
    struct xlmig__dom *doms = NULL;
    struct fx_cli cli;
    size_t nr = 0, i;
    int rc = fx_cli_begin(c, argc, argv, args, 1, &cli);

    if (rc)
        return rc < 0 ? 0 : rc;
    rc = xlmig__hv_fake.list(cli.h, &doms, &nr);
    for (i = 0; !rc && i < nr; i++)
        printf("%" PRIu32 " %s %s %s\n", doms[i].domid, doms[i].name,
               doms[i].uuid, xlmig__dom_state_name(doms[i].state));
    free(doms);
    return fx_cli_close(&cli, rc);
}

/* xlmig's record follower over a stream: where it found the end. */
static int cmd_follow(const struct fx_cmd *c, int argc, char **argv)
{
    const char *in = NULL;
    const struct fx_arg args[] = { { "--in", &in, false, true } };
    struct xlmig__follow *f = NULL;
    uint8_t buf[65536];
    uint64_t total = 0, done_at = 0, pages = 0;
    bool done = false;
    int fd, rc = fx_parse(c, argc, argv, args, 1);

    if (rc)
        return rc < 0 ? 0 : rc;
    fd = strcmp(in, "-") ? open(in, O_RDONLY | O_CLOEXEC) : 0;
    f = malloc(sizeof(*f));
    if (fd < 0 || !f) {
        fprintf(stderr, "fake-xen: cannot open %s: %s\n", in,
                strerror(fd < 0 ? errno : ENOMEM));
        free(f);
        return 1;
    }
    xlmig__follow_init(f);
    for (;;) {
        ssize_t r = read(fd, buf, sizeof(buf));
        size_t pos = 0;

        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            rc = r < 0;
            break;
        }
        while (pos < (size_t)r) {
            struct xlmig__follow_piece p;

            pos += xlmig__follow_next(f, buf + pos, (size_t)r - pos, &p);
            if (p.kind == XLMIG__PIECE_PAGE && p.page_off + p.len == FX_PAGE)
                pages++;
            if (!done && xlmig__follow_status(f) == XLMIG__FOLLOW_DONE) {
                done = true;
                done_at = total + pos;
            }
        }
        total += (uint64_t)r;
    }
    if (fd > 0)
        close(fd);
    if (rc)
        fprintf(stderr, "fake-xen: reading %s: %s\n", in, strerror(errno));
    else if (done)
        printf("follow: done at byte %" PRIu64 " of %" PRIu64 ", %" PRIu64
               " pages\n", done_at, total, pages);
    else if (xlmig__follow_status(f) == XLMIG__FOLLOW_STOPPED)
        printf("follow: stopped: %s\n", xlmig__follow_why(f));
    else
        printf("follow: the stream ended at byte %" PRIu64 " before its END"
               "\n", total);
    free(f);
    return rc || !done;
}

static const struct fx_cmd fx_cmds[] = {
    { "host", cmd_host, "Write the fake host's facts (DIR/host.json), "
      "defaults for what is not given.",
      "--dir DIR [--free-mib N] [--total-mib N] [--cpus N] [--xen X.Y.Z] "
      "[--vendor V] [--hvm-max FS] [--pv-max FS]" },
    { "create", cmd_create, "Register a running domain whose device model "
      "and guest process the caller started; prints its domid.",
      "--dir DIR --name N [--uuid U] --config FILE.json [--qmp SOCK "
      "--dm-pid P] [--guest-pid P] [--ram FILE] [--memory-mib N] "
      "[--vcpus N] [--type pv|pvh|hvm]" },
    { "boot", cmd_new, "Create a domain through the create operation (its "
      "own device model, synthetic RAM, running); prints its domid.",
      "--dir DIR --config FILE.json" },
    { "list", cmd_list, "One line per domain: domid name uuid state.",
      "--dir DIR" },
    { "show", cmd_dom, "Print the domain's file.", "--dir DIR DOM" },
    { "destroy", cmd_dom, "Destroy the domain: guest killed, device model "
      "stopped, files removed.", "--dir DIR DOM" },
    { "suspend", cmd_suspend, "Save the domain "
      "into FILE ('-': standard output) as a libxl v2 stream, live unless "
      "--non-live; it is then suspended.",
      "--dir DIR DOM --out FILE [--non-live]" },
    { "restore", cmd_new, "Restore a domain from the stream in FILE "
      "('-': standard input, read up to its END and no further); prints "
      "its domid, the domain is paused.",
      "--dir DIR --config FILE.json --in FILE" },
    { "resume", cmd_dom, "Run a suspended domain again.", "--dir DIR DOM" },
    { "pause", cmd_dom, "Pause the domain.", "--dir DIR DOM" },
    { "unpause", cmd_dom, "Unpause the domain.", "--dir DIR DOM" },
    { "rename", cmd_dom, "Rename the domain.", "--dir DIR DOM NAME" },
    { "follow", cmd_follow, "Run xlmig's record follower over a stream "
      "('-': standard input) and say where its libxl END ends.",
      "--in FILE" },
};

static void fx_usage(FILE *f)
{
    size_t i;

    fprintf(f, "usage: fake-xen COMMAND [OPTIONS]\n"
            "The fake Xen host of the tests (docs/specs/fake-xen.md); DOM "
            "is a name, uuid or domid.\n\n");
    for (i = 0; i < sizeof(fx_cmds) / sizeof(fx_cmds[0]); i++)
        fprintf(f, "  %-8s %s\n", fx_cmds[i].name, fx_cmds[i].usage);
    fprintf(f, "\nfake-xen COMMAND --help says more.\n");
}

int main(int argc, char **argv)
{
    size_t i;

    if (argc < 2) {
        fx_usage(stderr);
        return 2;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") ||
        !strcmp(argv[1], "help")) {
        fx_usage(stdout);
        return 0;
    }
    for (i = 0; i < sizeof(fx_cmds) / sizeof(fx_cmds[0]); i++) {
        if (!strcmp(argv[1], fx_cmds[i].name))
            return fx_cmds[i].run(&fx_cmds[i], argc - 1, argv + 1);
    }
    fprintf(stderr, "fake-xen: unknown command '%s' (fake-xen --help)\n",
            argv[1]);
    return 2;
}

#endif /* FAKE_XEN_NO_MAIN */

/* SPDX-License-Identifier: LGPL-2.1-only */
/*
 * libxlmig: migration extension for libxl-based Xen hosts.
 *
 * This is the one installed header.  Everything declared here is the
 * stable public API; symbols not declared here are internal.
 *
 * Conventions (docs/style.md):
 *  - actions return int rc: 0 on success or a negative LIBXLMIG_ERR_*;
 *  - output parameters end in _r;
 *  - objects come in _new/_free pairs, every _free is NULL-safe;
 *  - each error is logged once, where it is detected, through the
 *    context's xentoollog logger.
 */
#ifndef LIBXLMIG_H
#define LIBXLMIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(LIBXLMIG_BUILDING) && defined(__GNUC__)
#define LIBXLMIG_API __attribute__((visibility("default")))
#else
#define LIBXLMIG_API
#endif

#define LIBXLMIG_VERSION_MAJOR 0
#define LIBXLMIG_VERSION_MINOR 1
#define LIBXLMIG_VERSION_PATCH 0
#define LIBXLMIG_VERSION_STRING "0.1.0"

/* The version of the library actually linked, as "MAJOR.MINOR.PATCH". */
LIBXLMIG_API const char *libxlmig_version(void);

/* ------------------------------------------------------------------ */
/* Errors                                                             */
/* ------------------------------------------------------------------ */

/*
 * Error codes.  The numbers are stable (only ever appended) and each has
 * a stable name (libxlmig_strerror_name()) that scripts may match on.
 * Where xapi has an error with the same meaning, its name is kept.
 * docs/errors.md lists them with what an operator should do.
 */
typedef enum libxlmig_error {
    LIBXLMIG_OK = 0,
    LIBXLMIG_ERR_INTERNAL = -1,
    LIBXLMIG_ERR_INVALID_ARGUMENT = -2,
    LIBXLMIG_ERR_NO_MEMORY = -3,
    LIBXLMIG_ERR_NO_HYPERVISOR = -4,
    LIBXLMIG_ERR_XEN_CALL_FAILED = -5,
    LIBXLMIG_ERR_PERMISSION_DENIED = -6,
    LIBXLMIG_ERR_NOT_FOUND = -7,
    LIBXLMIG_ERR_IO = -8,
    LIBXLMIG_ERR_PROTOCOL = -9,
    LIBXLMIG_ERR_CANCELLED = -10,
    LIBXLMIG_ERR_TIMEOUT = -11,
    LIBXLMIG_ERR_UNSUPPORTED = -12,
    LIBXLMIG_ERR_AUTH_FAILED = -13,
    LIBXLMIG_ERR_TOO_MANY_MIGRATIONS = -14,
    LIBXLMIG_ERR_VDI_NOT_IN_MAP = -15,
    LIBXLMIG_ERR_SR_DOES_NOT_SUPPORT_MIGRATION = -16,
    LIBXLMIG_ERR_VM_HOST_INCOMPATIBLE_VERSION_MIGRATE = -17,
    LIBXLMIG_ERR_HOST_DISABLED = -18,
    LIBXLMIG_ERR_HOST_NOT_ENOUGH_PCPUS = -19,
    LIBXLMIG_ERR_HOST_NOT_ENOUGH_FREE_MEMORY = -20,
    LIBXLMIG_ERR_VM_INCOMPATIBLE_WITH_THIS_HOST = -21,
    LIBXLMIG_ERR_VDI_CBT_ENABLED = -22,
    LIBXLMIG_ERR_VDI_IS_ENCRYPTED = -23,
    LIBXLMIG_ERR_VDI_ON_BOOT_MODE_INCOMPATIBLE_WITH_OPERATION = -24,
    LIBXLMIG_ERR_VM_HAS_PCI_ATTACHED = -25,
    LIBXLMIG_ERR_VM_HAS_VGPU = -26,
    LIBXLMIG_ERR_VM_HAS_VUSBS = -27,
    LIBXLMIG_ERR_VM_BAD_POWER_STATE = -28,
    LIBXLMIG_ERR_SR_SOURCE_SPACE_INSUFFICIENT = -29,
    LIBXLMIG_ERR_SR_DESTINATION_SPACE_INSUFFICIENT = -30,
    LIBXLMIG_ERR_MIRROR_FAILED = -31,
    LIBXLMIG_ERR_VDI_IN_USE = -32,
    LIBXLMIG_ERR_FEATURESET_INVALID = -33,
    LIBXLMIG_ERR_VENDOR_INVALID = -34,
    LIBXLMIG_ERR_HOSTS_NOT_HOMOGENEOUS = -35,
    LIBXLMIG_ERR_RECORD_INVALID = -36,
    LIBXLMIG_ERR_POOL_STATE_INVALID = -37,
    LIBXLMIG_ERR_QMP_ERROR = -38,
    LIBXLMIG_ERR_SXM_RECORD_INVALID = -39,
    LIBXLMIG_ERR_CANNOT_CONTACT_HOST = -40,
    LIBXLMIG_ERR_HOST_CANNOT_SEE_SR = -41,
    LIBXLMIG_ERR_BRIDGE_NOT_AVAILABLE = -42,
    LIBXLMIG_ERR_VM_HAS_SRIOV_VIF = -43,
    LIBXLMIG_ERR_VM_IS_USING_NESTED_VIRT = -44,
    LIBXLMIG_ERR_OTHER_OPERATION_IN_PROGRESS = -45,
    LIBXLMIG_ERR_VM_MIGRATE_FAILED = -46,
    LIBXLMIG_ERR_MIGRATE_RECORD_INVALID = -47,
    LIBXLMIG_ERR_MIGRATION_OUTCOME_UNKNOWN = -48,
    LIBXLMIG_ERR_WLB_TIMEOUT = -49,
    LIBXLMIG_ERR_WLB_MALFORMED_RESPONSE = -50,
    LIBXLMIG_ERR_WLB_INTERNAL_ERROR = -51,
    LIBXLMIG_ERR_NO_HOSTS_AVAILABLE = -52,
    LIBXLMIG_ERR_NOT_SUPPORTED_DURING_UPGRADE = -53,
    LIBXLMIG_ERR_UPDATE_APPLY_FAILED = -54,
    LIBXLMIG_ERR_UPDATE_APPLY_TIMEOUT = -55,
    LIBXLMIG_ERR_HOST_NOT_BACK_AFTER_UPGRADE = -56,
    LIBXLMIG_ERR_HOST_NOT_UPGRADED = -57,
    /* Append new codes here; keep LIBXLMIG_ERR_LAST the last one. */
    LIBXLMIG_ERR_LAST = -57,
} libxlmig_error;

/*
 * The stable name of an error code ("VDI_CBT_ENABLED"), or
 * "UNKNOWN_ERROR" for a code that is not in the table.  Never NULL; the
 * string is static.
 */
LIBXLMIG_API const char *libxlmig_strerror_name(int rc);

/* A one-line description of an error code, static, never NULL. */
LIBXLMIG_API const char *libxlmig_strerror(int rc);

/*
 * The code whose stable name is @name (case-sensitive), or
 * LIBXLMIG_ERR_INVALID_ARGUMENT with *rc_r untouched when there is none.
 */
LIBXLMIG_API int libxlmig_error_from_name(const char *name, int *rc_r);

/* ------------------------------------------------------------------ */
/* Context and logging                                                */
/* ------------------------------------------------------------------ */

struct xentoollog_logger;
typedef struct libxlmig_ctx libxlmig_ctx;

/* Log levels, the same values as xentoollog's xentoollog_level. */
typedef enum libxlmig_log_level {
    LIBXLMIG_LOG_DEBUG = 1,
    LIBXLMIG_LOG_VERBOSE = 2,
    LIBXLMIG_LOG_DETAIL = 3,
    LIBXLMIG_LOG_PROGRESS = 4,
    LIBXLMIG_LOG_INFO = 5,
    LIBXLMIG_LOG_NOTICE = 6,
    LIBXLMIG_LOG_WARN = 7,
    LIBXLMIG_LOG_ERROR = 8,
    LIBXLMIG_LOG_CRITICAL = 9,
} libxlmig_log_level;

/*
 * Create a context.  All messages of the library, and of libxl/libxc
 * when it talks to Xen through this context, go to @logger.  When
 * @logger is NULL the context creates a xentoollog stdio logger on
 * stderr that shows messages of @min_level and above.  The caller keeps
 * ownership of a logger it passes and must keep it alive until
 * libxlmig_ctx_free().  The caller frees *ctx_r with libxlmig_ctx_free().
 */
LIBXLMIG_API int libxlmig_ctx_new(struct xentoollog_logger *logger,
                                  libxlmig_log_level min_level,
                                  libxlmig_ctx **ctx_r);

/* Free a context and whatever it opened.  NULL-safe. */
LIBXLMIG_API void libxlmig_ctx_free(libxlmig_ctx *ctx);

/* The logger the context writes to (its own or the caller's). */
LIBXLMIG_API struct xentoollog_logger *libxlmig_ctx_logger(libxlmig_ctx *ctx);

/*
 * The message of the last error logged through this context, or "" when
 * there was none.  Valid until the next call on the context.
 */
LIBXLMIG_API const char *libxlmig_ctx_last_error(const libxlmig_ctx *ctx);

/* ------------------------------------------------------------------ */
/* Host facts                                                         */
/* ------------------------------------------------------------------ */

/* Xen 4.17 has 14 featureset words; leave room for words appended later. */
#define LIBXLMIG_FEATURESET_MAX_WORDS 32

typedef struct libxlmig_featureset {
    unsigned int nr_words;
    uint32_t words[LIBXLMIG_FEATURESET_MAX_WORDS];
} libxlmig_featureset;

/* What Xen says about the host this context runs on. */
typedef struct libxlmig_host_info {
    int xen_major;
    int xen_minor;
    char xen_extra[64];          /* ".7" for Xen 4.17.7, as Xen reports */
    char xen_version[80];        /* "4.17.7" */
    char capabilities[256];      /* "xen-3.0-x86_64 hvm-3.0-x86_32 ..." */
    char cpu_vendor[13];         /* CPUID leaf 0: "AuthenticAMD" */
    unsigned int nr_cpus;        /* physical CPUs (threads) Xen runs on */
    unsigned int cpu_khz;
    uint64_t total_memory_kib;
    uint64_t free_memory_kib;
    bool cap_hvm;
    bool cap_pv;
    bool cap_hap;
    bool cap_shadow;
    libxlmig_featureset featureset_host;    /* XEN_SYSCTL_cpu_featureset_host */
    libxlmig_featureset featureset_pv_max;
    libxlmig_featureset featureset_hvm_max;
    libxlmig_featureset featureset_pv_def;
    libxlmig_featureset featureset_hvm_def;
} libxlmig_host_info;

/*
 * Read the facts of the host through libxl and libxc.  Fails with
 * LIBXLMIG_ERR_NO_HYPERVISOR, and a message saying so, when this is not
 * a Xen host (no /dev/xen/privcmd).
 */
LIBXLMIG_API int libxlmig_host_info_get(libxlmig_ctx *ctx,
                                        libxlmig_host_info *info_r);

/* ------------------------------------------------------------------ */
/* CPU featuresets, vendors, levelling (docs/specs/featureset.md)     */
/* ------------------------------------------------------------------ */

/*
 * A featureset is Xen's bitmap of CPU features: word w, bit b is feature
 * number w * 32 + b, the words laid out as Xen's cpufeatureset.h says
 * (libxlmig_featureset_word_source()).  Words at and beyond nr_words are
 * zero ("zero-extended"): [1] and [1;0] are the same set.  Functions
 * read at most LIBXLMIG_FEATURESET_MAX_WORDS words, whatever nr_words
 * claims.  Results of set operations are trimmed: they never end in an
 * all-zero word, so the empty set has nr_words 0 and prints as "".
 * Parsing keeps the words the text has, trailing zeros included, so
 * that parse and format give back the same string.
 */

/* Bytes libxlmig_featureset_format() needs at most (with the NUL). */
#define LIBXLMIG_FEATURESET_STRING_MAX (9 * LIBXLMIG_FEATURESET_MAX_WORDS)

/*
 * Write @fs in XenServer's string form: each 32-bit word as %08x, joined
 * by '-'; the empty set is "".  Needs 9 * nr_words bytes (at least 1).
 * Returns LIBXLMIG_ERR_INVALID_ARGUMENT if @buf is too small, with @buf
 * set to "".
 */
LIBXLMIG_API int libxlmig_featureset_format(const libxlmig_featureset *fs,
                                            char *buf, size_t len);

/*
 * Parse XenServer's string form into *fs_r: 1 to 8 hex digits per word
 * (either case), words joined by single '-', at most
 * LIBXLMIG_FEATURESET_MAX_WORDS words; "" is the empty set.  Nothing else
 * is accepted: no sign, "0x", space or empty word.  On a malformed string
 * returns LIBXLMIG_ERR_FEATURESET_INVALID (INVALID_FEATURE_STRING),
 * leaves *fs_r untouched and, when @ctx is not NULL, logs a message that
 * names @field (the caller's label: "featureset of host h2"), the text
 * (non-printable bytes shown as '?', long text cut around the fault) and
 * the byte offset of the fault (from 0).  @field may be NULL
 * ("featureset").
 */
LIBXLMIG_API int libxlmig_featureset_parse(libxlmig_ctx *ctx,
                                           const char *field,
                                           const char *text,
                                           libxlmig_featureset *fs_r);

/*
 * Set predicates; the shorter set is zero-extended; NULL reads as the
 * empty set.  is_subset: every feature of @a is in @b (a & b == a).  The
 * empty set is a subset of every set, and only the empty set is a subset
 * of the empty set (xapi's helper differs there: see the spec).
 */
LIBXLMIG_API bool libxlmig_featureset_is_subset(const libxlmig_featureset *a,
                                                const libxlmig_featureset *b);
LIBXLMIG_API bool libxlmig_featureset_equal(const libxlmig_featureset *a,
                                           const libxlmig_featureset *b);
LIBXLMIG_API bool libxlmig_featureset_is_empty(const libxlmig_featureset *fs);

/*
 * *result_r = a & b (intersect) or a & ~b (difference: the features of
 * @a missing from @b), trimmed.  @result_r may be @a or @b.  NULL @a or
 * @b reads as the empty set; NULL @result_r gives
 * LIBXLMIG_ERR_INVALID_ARGUMENT.
 */
LIBXLMIG_API int libxlmig_featureset_intersect(const libxlmig_featureset *a,
                                               const libxlmig_featureset *b,
                                               libxlmig_featureset *result_r);
LIBXLMIG_API int libxlmig_featureset_difference(const libxlmig_featureset *a,
                                                const libxlmig_featureset *b,
                                                libxlmig_featureset *result_r);

/* Whether feature @bit (word * 32 + bit) is in @fs; NULL: false. */
LIBXLMIG_API bool libxlmig_featureset_test_bit(const libxlmig_featureset *fs,
                                              unsigned int bit);

/*
 * Add feature @bit to @fs, growing nr_words (new words zeroed) as
 * needed.  LIBXLMIG_ERR_INVALID_ARGUMENT when @bit is beyond
 * LIBXLMIG_FEATURESET_MAX_WORDS words or @fs is NULL.
 */
LIBXLMIG_API int libxlmig_featureset_set_bit(libxlmig_featureset *fs,
                                             unsigned int bit);

/*
 * Where featureset word @word comes from, as "CPUID 0x7:0 EBX" (static
 * string), or NULL for a word Xen 4.17 does not define.
 */
LIBXLMIG_API const char *libxlmig_featureset_word_source(unsigned int word);

/*
 * The name of feature @bit: Xen's name from cpufeatureset.h in lower
 * case, as xen-cpuid prints it ("avx512f", "pku", "sse4_1"), or
 * "wordW-bitB" ("word5-bit17") for a bit Xen does not name.  *named_r
 * (may be NULL) says which.  Needs LIBXLMIG_FEATURE_NAME_MAX bytes at
 * most; LIBXLMIG_ERR_INVALID_ARGUMENT (and "" in a non-empty @buf) when
 * @buf is too small or @bit is beyond LIBXLMIG_FEATURESET_MAX_WORDS
 * words.
 */
#define LIBXLMIG_FEATURE_NAME_MAX 32
LIBXLMIG_API int libxlmig_feature_name(unsigned int bit, char *buf,
                                       size_t len, bool *named_r);

/*
 * The feature number of @name: a Xen name in any case ("AVX512F",
 * "avx512f") or "wordW-bitB" (decimal).  LIBXLMIG_ERR_NOT_FOUND with
 * *bit_r untouched when there is no such feature; the caller says which
 * field it was.
 */
LIBXLMIG_API int libxlmig_feature_from_name(const char *name,
                                            unsigned int *bit_r);

/*
 * The names of the features in @fs, in bit order, joined by ", "
 * ("avx512f, pku"); the empty set gives "".  *needed_r (may be NULL)
 * gets the size the whole list needs, NUL included.  Returns 0 when the
 * whole list fits.  Otherwise returns LIBXLMIG_ERR_INVALID_ARGUMENT and
 * @buf holds the names that fit whole followed by "..." ("avx512f,
 * pku, ..."), never a cut name, so that it can still be shown; a @buf
 * shorter than 4 bytes then holds "".  NULL @fs is the empty set.
 */
LIBXLMIG_API int libxlmig_featureset_names(const libxlmig_featureset *fs,
                                           char *buf, size_t len,
                                           size_t *needed_r);

/*
 * Parse a list of feature names ("avx512f,pku", "avx512f, pku", as
 * libxlmig_featureset_names() writes it, or a CLI's features=) into
 * *fs_r, trimmed.  Names as libxlmig_feature_from_name() takes them,
 * separated by ',', spaces around a name ignored; "" is the empty set.
 * An unknown name or an empty item gives LIBXLMIG_ERR_FEATURESET_INVALID
 * with a message naming @field, the item and its offset, as
 * libxlmig_featureset_parse() does; *fs_r is then untouched.
 */
LIBXLMIG_API int libxlmig_featureset_parse_names(libxlmig_ctx *ctx,
                                                 const char *field,
                                                 const char *text,
                                                 libxlmig_featureset *fs_r);

/* The CPU vendors Xen 4.17 knows (its X86_VENDOR_*). */
typedef enum libxlmig_cpu_vendor {
    LIBXLMIG_CPU_VENDOR_UNKNOWN = 0,    /* not known / not recorded */
    LIBXLMIG_CPU_VENDOR_INTEL = 1,      /* "GenuineIntel" */
    LIBXLMIG_CPU_VENDOR_AMD = 2,        /* "AuthenticAMD" */
    LIBXLMIG_CPU_VENDOR_CENTAUR = 3,    /* "CentaurHauls" */
    LIBXLMIG_CPU_VENDOR_SHANGHAI = 4,   /* "  Shanghai  " */
    LIBXLMIG_CPU_VENDOR_HYGON = 5,      /* "HygonGenuine" */
} libxlmig_cpu_vendor;

/* A CPUID vendor string: 12 characters and the NUL. */
#define LIBXLMIG_CPU_VENDOR_STRING_SIZE 13

/*
 * Parse a vendor as records carry it: the 12-character CPUID string
 * ("GenuineIntel", "AuthenticAMD", "HygonGenuine", "CentaurHauls",
 * "  Shanghai  ") or the short form ("intel", "amd", "hygon",
 * "centaur", "shanghai"), case-insensitive, nothing around it.  Anything
 * else gives LIBXLMIG_ERR_VENDOR_INVALID (INVALID_CPU_VENDOR), *vendor_r
 * untouched, and a message naming @field ("CPU vendor of host h2") and
 * the text (sanitized as libxlmig_featureset_parse() does).
 * libxlmig_host_info's cpu_vendor parses with this.
 */
LIBXLMIG_API int libxlmig_cpu_vendor_parse(libxlmig_ctx *ctx,
                                           const char *field,
                                           const char *text,
                                           libxlmig_cpu_vendor *vendor_r);

/*
 * The CPUID string of @vendor ("GenuineIntel") or its short form
 * ("intel"); static strings; NULL for LIBXLMIG_CPU_VENDOR_UNKNOWN or a
 * value outside the enum.
 */
LIBXLMIG_API const char *libxlmig_cpu_vendor_string(libxlmig_cpu_vendor v);
LIBXLMIG_API const char *libxlmig_cpu_vendor_short_name(libxlmig_cpu_vendor v);

/*
 * What a label must say about libxlmig_cpuid_local()'s result wherever
 * it is shown: it is not what Xen offers guests.
 */
#define LIBXLMIG_CPUID_LOCAL_LABEL "this CPU's own CPUID, not Xen's view"

/*
 * Read the CPUID instruction of the CPU this process runs on into Xen's
 * featureset layout (words 0 to 13, nr_words 14; leaves beyond the CPU's
 * maximum leaves read as zero) and its vendor string from leaf 0.  This
 * is NOT Xen's view: Xen masks and adds features for itself and for its
 * guests (libxlmig_host_info has Xen's featuresets); in a PV dom0 this
 * is the hardware's answer, in an HVM or PVH guest the answer of the
 * hypervisor above.  Use it for diagnostics and on machines without Xen,
 * labelled with LIBXLMIG_CPUID_LOCAL_LABEL.  Returns
 * LIBXLMIG_ERR_UNSUPPORTED on CPUs that are not x86.
 */
LIBXLMIG_API int libxlmig_cpuid_local(
    libxlmig_ctx *ctx, libxlmig_featureset *fs_r,
    char vendor_r[LIBXLMIG_CPU_VENDOR_STRING_SIZE]);

/* A CPU as VM records keep it (xapi's last_boot_CPU_flags). */
typedef struct libxlmig_cpu_flags {
    libxlmig_cpu_vendor vendor;
    libxlmig_featureset features;
} libxlmig_cpu_flags;

/*
 * A pool member for levelling: @name is shown in messages as "host
 * NAME" (borrowed; NULL shows the index as "#N").  Level PV and HVM
 * separately: fill features with each host's PV (or HVM) max featureset.
 */
typedef struct libxlmig_pool_host {
    const char *name;
    libxlmig_cpu_flags cpu;
} libxlmig_pool_host;

/*
 * The level of a pool of @nr hosts (nr >= 1): their common vendor and
 * the intersection of their featuresets, trimmed.  Hosts of different
 * vendors give LIBXLMIG_ERR_HOSTS_NOT_HOMOGENEOUS naming the first host
 * and the first host that differs with both vendors; a host with vendor
 * LIBXLMIG_CPU_VENDOR_UNKNOWN, or no host, gives
 * LIBXLMIG_ERR_INVALID_ARGUMENT.  *level_r is written only on success.
 */
LIBXLMIG_API int libxlmig_pool_level(libxlmig_ctx *ctx,
                                     const libxlmig_pool_host *hosts,
                                     size_t nr, libxlmig_cpu_flags *level_r);

/*
 * A host joining a pool whose current level is @level (@pool_name, like
 * a host's name, for messages).  A different vendor gives
 * LIBXLMIG_ERR_HOSTS_NOT_HOMOGENEOUS naming both vendors.  Otherwise
 * returns 0 and *missing_r (may be NULL) gets level & ~host: the
 * features the host lacks, which the pool loses when it joins (the new
 * level is the intersection).  Whether to allow that is the caller's
 * policy; xapi allows it and lowers the level.
 */
LIBXLMIG_API int libxlmig_pool_join_check(libxlmig_ctx *ctx,
                                          const char *pool_name,
                                          const libxlmig_cpu_flags *level,
                                          const libxlmig_pool_host *joining,
                                          libxlmig_featureset *missing_r);

/* Which of a host's featuresets a guest gets. */
typedef enum libxlmig_guest_type {
    LIBXLMIG_GUEST_PV = 0,      /* PV: the PV max featureset */
    LIBXLMIG_GUEST_HVM = 1,     /* HVM and PVH: the HVM max featureset */
} libxlmig_guest_type;

/* What a destination offers guests, for libxlmig_vm_cpu_check(). */
typedef struct libxlmig_cpu_host {
    const char *name;           /* "h2", shown as "host h2"; borrowed */
    libxlmig_cpu_vendor vendor;
    libxlmig_featureset pv_max;
    libxlmig_featureset hvm_max;
} libxlmig_cpu_host;

/*
 * Fill *host_r from the facts libxlmig_host_info_get() read (vendor
 * parsed from info->cpu_vendor, Xen's PV and HVM max featuresets).
 * @name is borrowed.  A vendor that does not parse gives
 * LIBXLMIG_ERR_VENDOR_INVALID.
 */
LIBXLMIG_API int libxlmig_cpu_host_from_info(libxlmig_ctx *ctx,
                                             const libxlmig_host_info *info,
                                             const char *name,
                                             libxlmig_cpu_host *host_r);

/*
 * Whether VM @vm_name, which booted with CPU @vm, may run on @dest as a
 * guest of @type: same vendor, and vm->features a subset of the
 * destination's PV or HVM max featureset.  Returns 0 or
 * LIBXLMIG_ERR_VM_INCOMPATIBLE_WITH_THIS_HOST with a message such as
 * "VM web1 cannot run on host h2: avx512f, pku missing on host h2 (HVM
 * max featureset)" or "VM web1 cannot run on host h2: host h2 has CPU
 * vendor AuthenticAMD, VM booted on GenuineIntel".  *missing_r (may be
 * NULL) gets the VM's features missing from that featureset, trimmed,
 * whenever the arguments are valid (also on a vendor mismatch).  An
 * UNKNOWN vendor on either side gives LIBXLMIG_ERR_INVALID_ARGUMENT:
 * decide before calling whether to check a VM that has no record (xapi
 * skips halted VMs).  For a cross-pool migration pass the destination
 * pool's level as @dest, as xapi does.  Makes no Xen call.
 */
LIBXLMIG_API int libxlmig_vm_cpu_check(libxlmig_ctx *ctx, const char *vm_name,
                                       const libxlmig_cpu_flags *vm,
                                       libxlmig_guest_type type,
                                       const libxlmig_cpu_host *dest,
                                       libxlmig_featureset *missing_r);

/* ------------------------------------------------------------------ */
/* Transports and the stream channel (docs/specs/channel.md)          */
/* ------------------------------------------------------------------ */

/* A reliable byte transport: a pair of fds, or TLS over a socket. */
typedef struct libxlmig_transport libxlmig_transport;

/*
 * A transport reading @rfd and writing @wfd (the same socket, or two
 * pipe ends).  It takes ownership of both fds (closes them when freed);
 * pass the same fd twice for a socket.
 */
LIBXLMIG_API int libxlmig_transport_fd_new(libxlmig_ctx *ctx, int rfd,
                                           int wfd,
                                           libxlmig_transport **t_r);

/* Frees a transport not handed to a channel.  NULL-safe. */
LIBXLMIG_API void libxlmig_transport_free(libxlmig_transport *t);

/*
 * The default page cache: a sixth of the memory the host has available
 * (MemAvailable), so that the three migrations a pool lets a host run at
 * once (its default limit) take at most half of it;
 * at most 65536 pages (256 MiB), 65536 when /proc/meminfo cannot be read.
 */
#define LIBXLMIG_PAGE_CACHE_AUTO UINT32_MAX

/* Default level of the chosen codec. */
#define LIBXLMIG_LEVEL_DEFAULT (-1000)

typedef struct libxlmig_channel_params {
    const char *codec;          /* "none", "zlib", "zstd", "lz4", "auto" */
    int level;                  /* codec level, or LIBXLMIG_LEVEL_DEFAULT */
    bool page_aware;            /* follow the records: zero pages, deltas */
    uint32_t page_cache_pages;  /* pages remembered for deltas (0: no
                                   deltas), or LIBXLMIG_PAGE_CACHE_AUTO */
    unsigned int threads;       /* encoding threads; 0: one per CPU */
    uint64_t bwlimit;           /* bytes/s on the wire; 0: no limit */
    uint32_t chunk_size;        /* stream bytes per frame; 0: 1 MiB */
} libxlmig_channel_params;

/* Defaults: zstd at its default level, page-aware, no limit. */
LIBXLMIG_API void libxlmig_channel_params_init(libxlmig_channel_params *p);

typedef struct libxlmig_channel_progress {
    uint64_t bytes_in;          /* stream bytes given to send */
    uint64_t bytes_out;         /* bytes written to the transport */
    uint64_t frames_out;
    uint64_t bytes_received;    /* bytes read from the transport */
    uint64_t bytes_delivered;   /* stream bytes handed on by receive */
    uint64_t frames_in;
    uint64_t pages;             /* 4 KiB pages seen by the page transform */
    uint64_t zero_pages;
    uint64_t delta_pages;
    uint64_t rate;              /* wire bytes/s, recent */
    uint64_t bwlimit;           /* bytes/s now in force; 0: none */
    /* CPU time of receive's two stages (each a thread of its own): */
    uint64_t recv_net_cpu_ns;   /* reading and checking frames, codecs */
    uint64_t recv_decode_cpu_ns; /* page ops, handing them on */
} libxlmig_channel_progress;

typedef struct libxlmig_channel libxlmig_channel;

/*
 * Exchange hellos over @t as sender (the side whose stream is
 * compressed) or receiver and return a channel.  Takes ownership of @t,
 * also on failure.  @p may be NULL for defaults; a receiver's
 * own-direction traffic (xl's short replies) is always sent uncompressed.
 * The caller frees *ch_r with libxlmig_channel_free().
 */
LIBXLMIG_API int libxlmig_channel_open(libxlmig_ctx *ctx,
                                       libxlmig_transport *t, bool sender,
                                       const libxlmig_channel_params *p,
                                       libxlmig_channel **ch_r);

/*
 * Send everything read from @in_fd, until its EOF, then an END frame.
 * Bytes are sent as soon as @in_fd pauses, so interactive protocols
 * work.  May run in one thread while libxlmig_channel_recv_fd() runs in
 * another.
 */
LIBXLMIG_API int libxlmig_channel_send_fd(libxlmig_channel *ch, int in_fd);

/*
 * Receive frames until the peer's END and write the stream to @out_fd.
 * Every frame is checked whole (checksums, sequence, lengths) before any
 * of its bytes are written; on any error nothing more is written.
 * Frames are read in a thread of its own and decoded in the caller's.
 */
LIBXLMIG_API int libxlmig_channel_recv_fd(libxlmig_channel *ch, int out_fd);

/* Change the bandwidth cap (bytes/s, 0: none) while sending. */
LIBXLMIG_API void libxlmig_channel_set_bwlimit(libxlmig_channel *ch,
                                               uint64_t bytes_per_sec);

/* A snapshot of the counters; safe from any thread. */
LIBXLMIG_API void libxlmig_channel_get_progress(
    libxlmig_channel *ch, libxlmig_channel_progress *p_r);

/* Close the transport and free everything.  NULL-safe. */
LIBXLMIG_API void libxlmig_channel_free(libxlmig_channel *ch);

/* ------------------------------------------------------------------ */
/* TLS 1.3 transport                                                  */
/* ------------------------------------------------------------------ */

/*
 * How a TLS transport authenticates the peer: either certificates
 * (cert_file, key_file and ca_file all set: both sides present a
 * certificate signed by the pool CA and verify the peer's against it),
 * or a pre-shared key (psk_file set, the others NULL: TLS 1.3 external
 * PSK, no certificates).  The PSK file holds 32 to 64 random bytes as
 * hex (`openssl rand -hex 32`); whitespace is ignored.
 */
typedef struct libxlmig_tls_params {
    const char *cert_file;      /* PEM: this host's certificate (chain) */
    const char *key_file;       /* PEM: its private key */
    const char *ca_file;        /* PEM: the pool CA */
    const char *psk_file;       /* hex pre-shared key */
    const char *peer_name;      /* certificate mode: the name the peer's
                                   certificate must carry, or NULL for
                                   any certificate of the pool CA */
    const char *peer_label;     /* "host:port" for messages, or NULL: the
                                   socket's peer address */
    unsigned int timeout_ms;    /* handshake timeout; 0: 30 s */
} libxlmig_tls_params;

/*
 * Run a TLS 1.3 handshake (TLS 1.3 only) on the connected socket
 * @sockfd as server or client and return a transport over it.  Takes
 * ownership of @sockfd, also on failure (it is closed then).  A peer
 * that fails authentication is refused with LIBXLMIG_ERR_AUTH_FAILED
 * (SESSION_AUTHENTICATION_FAILED) and a message naming the peer and the
 * reason; both sides see it during this call.  The socket is switched to
 * non-blocking mode.  The caller frees *t_r with libxlmig_transport_free()
 * or hands it to libxlmig_channel_open().
 */
LIBXLMIG_API int libxlmig_transport_tls_new(libxlmig_ctx *ctx, int sockfd,
                                            bool server,
                                            const libxlmig_tls_params *p,
                                            libxlmig_transport **t_r);

#ifdef __cplusplus
}
#endif

#endif /* LIBXLMIG_H */

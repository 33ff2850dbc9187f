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
    /* Append new codes here; keep LIBXLMIG_ERR_LAST the last one. */
    LIBXLMIG_ERR_LAST = -33,
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

/*
 * Write @fs in XenServer's string form: each 32-bit word as %08x, joined
 * by '-'; the empty set is "".  Needs 9 * nr_words bytes (at least 1).
 * Returns LIBXLMIG_ERR_INVALID_ARGUMENT if @buf is too small, with @buf
 * set to "".
 */
LIBXLMIG_API int libxlmig_featureset_format(const libxlmig_featureset *fs,
                                            char *buf, size_t len);

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

/* Default level of the chosen codec. */
#define LIBXLMIG_LEVEL_DEFAULT (-1000)

typedef struct libxlmig_channel_params {
    const char *codec;          /* "none", "zlib", "zstd", "lz4", "auto" */
    int level;                  /* codec level, or LIBXLMIG_LEVEL_DEFAULT */
    bool page_aware;            /* follow the records: zero pages, deltas */
    uint32_t page_cache_pages;  /* pages remembered for deltas (default
                                   65536 = 256 MiB; 0: no deltas) */
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

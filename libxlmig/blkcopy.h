/* SPDX-License-Identifier: LGPL-2.1-only */
/*
 * The bulk copier of storage live migration (internal;
 * docs/specs/blkcopy.md): copy a disk from a source NBD export (the
 * temporary snapshot of a running VM's disk, served read-only by the
 * VM's QEMU or a qemu-nbd) into a destination NBD export (the
 * destination's fresh parent image), sending only allocated data.
 *
 *   1. block-status pass: the source's "base:allocation" extents are
 *      walked once, end to end, to learn data_total (the bytes of data
 *      extents: what progress counts towards);
 *   2. copy: the extents are walked again; zero extents are skipped
 *      when the destination reads as zeros (opts.dst_is_zero), written
 *      with NBD_CMD_WRITE_ZEROES otherwise; data extents are read in
 *      pieces of opts.chunk bytes, opts.inflight pieces at a time
 *      (libnbd's asynchronous API, one connection to each side, one
 *      thread), and written back; 64 KiB grains of a piece that read
 *      back as zeros are not written when the destination is zero;
 *   3. NBD_CMD_FLUSH on the destination, then disconnect.
 *
 * Nothing from the servers is trusted beyond what libnbd parses: every
 * extent is checked (length > 0, clamped to the disk, offsets only
 * ever move forward, at most XLMIG__BLKCOPY_EXTENTS_MAX kept per
 * reply), so a lying server can neither make the copier loop nor make
 * it write outside the disk.  A bandwidth cap (a token bucket on bytes
 * read from the source) and cancellation can be changed from another
 * thread while a copy runs; both are seen within about 100 ms.
 *
 *     struct xlmig__blkcopy *c;
 *     struct xlmig__blkcopy_stats st;
 *     rc = xlmig__blkcopy_new(ctx, &opts, &c);
 *     if (!rc) rc = xlmig__blkcopy_run(c, &st);   (other threads may
 *                                                 call _cancel, _set_bwlimit)
 *     xlmig__blkcopy_free(c);
 */
#ifndef XLMIG_BLKCOPY_H
#define XLMIG_BLKCOPY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "libxlmig.h"

#define XLMIG__BLKCOPY_CHUNK_DEFAULT (4u << 20)   /* bytes of a read */
#define XLMIG__BLKCOPY_CHUNK_MIN (64u << 10)
#define XLMIG__BLKCOPY_CHUNK_MAX (32u << 20)      /* qemu-nbd's maximum */
#define XLMIG__BLKCOPY_INFLIGHT_DEFAULT 8u        /* pieces in flight */
#define XLMIG__BLKCOPY_INFLIGHT_MAX 64u
#define XLMIG__BLKCOPY_BUFFERS_MAX (256u << 20)   /* chunk * inflight */
#define XLMIG__BLKCOPY_URI_MAX 4096               /* bytes of a URI */
#define XLMIG__BLKCOPY_PATH_MAX 4096              /* bytes of a TLS path */
#define XLMIG__BLKCOPY_SIZE_MAX (64ull << 40)     /* 64 TiB */
#define XLMIG__BLKCOPY_EXTENTS_MAX 4096           /* kept from one reply */
#define XLMIG__BLKCOPY_STATUS_SPAN (1u << 30)     /* asked per request */
#define XLMIG__BLKCOPY_ZERO_SPAN (1u << 30)       /* per write-zeroes */
#define XLMIG__BLKCOPY_ZERO_GRAIN (64u << 10)     /* zero detection */
#define XLMIG__BLKCOPY_CONNECT_TIMEOUT_MS 30000u
#define XLMIG__BLKCOPY_STALL_DEFAULT_S 300u       /* no reply for so long */

struct xlmig__blkcopy_stats {
    uint64_t virtual_size;  /* bytes of the disk (both exports) */
    uint64_t data_total;    /* bytes of data extents, known after the
                             * block-status pass: progress counts
                             * towards it */
    uint64_t data_done;     /* bytes of data extents read and written
                             * (or found zero); only grows */
    uint64_t zero_skipped;  /* of data_done: bytes that read back as
                             * zeros and were not sent as data */
    uint64_t written;       /* bytes sent with NBD_CMD_WRITE */
    uint64_t zeroed;        /* bytes sent as NBD_CMD_WRITE_ZEROES (only
                             * when the destination is not known zero) */
    double seconds;         /* since xlmig__blkcopy_run() began */
};

struct xlmig__blkcopy_opts {
    /*
     * nbd://HOST[:PORT]/EXPORT, nbd+unix:///EXPORT?socket=PATH, or
     * nbds:// / nbds+unix:// for TLS (libnbd's nbd_connect_uri(); URIs
     * may not name local files such as tls-psk-file=).  Copied.
     */
    const char *src_uri, *dst_uri;
    /*
     * For the nbds URIs: NULL, or a directory with ca-cert.pem,
     * client-cert.pem and client-key.pem (libnbd's names); or a PSK file
     * of "username:hexkey" lines with the username to use (NULL: the
     * login name).  Not both.  Copied.
     */
    const char *tls_certs_dir;
    const char *tls_psk_file, *tls_username;
    uint64_t bwlimit;           /* bytes/s read from the source, 0 = none */
    size_t chunk;               /* bytes per read: 0 = 4 MiB; 64 KiB to
                                 * 32 MiB, a multiple of 4 KiB */
    unsigned int inflight;      /* pieces in flight: 0 = 8; at most 64 */
    unsigned int stall_timeout_s; /* fail when requests are outstanding
                                   * and no reply comes for so long:
                                   * 0 = 300 s */
    bool dst_is_zero;           /* the destination reads as zeros: skip
                                 * zero extents and zero data */
    /*
     * NULL, or called from the thread in xlmig__blkcopy_run(): once the
     * block-status pass is done, then at most every 100 ms, and once at
     * the end of a successful copy (data_done == data_total).
     */
    void (*progress)(void *opaque, const struct xlmig__blkcopy_stats *st);
    void *opaque;
};

struct xlmig__blkcopy;

/* An extent of the source, merged with neighbours of the same kind. */
struct xlmig__blkcopy_extent {
    uint64_t off, len;
    bool zero;                  /* reads as zeros (NBD_STATE_ZERO) */
};

/*
 * The rules for one base:allocation reply (pure, no logging: tests).
 * @entries are libnbd's (length, flags) pairs, @nr_entries uint32s, for
 * a request at @asked on a disk of @size bytes.  Kept in @ext (room for
 * @cap): at most XLMIG__BLKCOPY_EXTENTS_MAX pairs, each of length > 0,
 * the last clamped to the disk, neighbours of one kind merged; *n_r
 * extents kept, *end_r where they end (> @asked on success).  A reply
 * for another offset, a zero length or no extent at all gives
 * LIBXLMIG_ERR_PROTOCOL with @why (@why_len bytes) saying which.
 */
int xlmig__blkcopy_extents_take(uint64_t size, uint64_t asked,
                                uint64_t offset, const uint32_t *entries,
                                size_t nr_entries,
                                struct xlmig__blkcopy_extent *ext, size_t cap,
                                size_t *n_r, uint64_t *end_r, char *why,
                                size_t why_len);

/*
 * Check @o and make a copier (buffers allocated, nothing connected).
 * LIBXLMIG_ERR_INVALID_ARGUMENT for a missing or malformed URI, a chunk
 * or inflight out of range, a TLS directory without ca-cert.pem, both
 * TLS methods, TLS options with no nbds URI; NO_MEMORY.  *c_r, the
 * caller's to xlmig__blkcopy_free(), is written only on success.
 */
int xlmig__blkcopy_new(libxlmig_ctx *ctx, const struct xlmig__blkcopy_opts *o,
                       struct xlmig__blkcopy **c_r);

/*
 * Connect, walk, copy, flush, disconnect; blocks until done.  Once per
 * copier.  @st_r (may be NULL) gets the counters, also on failure.
 * Errors (logged once, naming the URI): INVALID_ARGUMENT (sizes differ,
 * read-only destination, run twice), IO (cannot connect, a read or
 * write failed, the server went away: libnbd's words), AUTH_FAILED
 * (TLS), SR_DESTINATION_SPACE_INSUFFICIENT (ENOSPC on a write),
 * PROTOCOL (a block-status reply that breaks the rules), TIMEOUT (no
 * handshake in 30 s, or a stall), CANCELLED.  After a failure the
 * destination holds a partial copy: the caller discards it.
 */
int xlmig__blkcopy_run(struct xlmig__blkcopy *c,
                       struct xlmig__blkcopy_stats *st_r);

/*
 * Make a running (or later) xlmig__blkcopy_run() stop with
 * LIBXLMIG_ERR_CANCELLED within about 100 ms.  Any thread; sets an
 * atomic flag only, so it is async-signal-safe.
 */
void xlmig__blkcopy_cancel(struct xlmig__blkcopy *c);

/* Change the cap (bytes/s, 0 = none) from any thread; a running copy
 * follows it within about 100 ms.  Async-signal-safe. */
void xlmig__blkcopy_set_bwlimit(struct xlmig__blkcopy *c, uint64_t bps);

/* NULL-safe.  Not while xlmig__blkcopy_run() runs. */
void xlmig__blkcopy_free(struct xlmig__blkcopy *c);

/* Is @uri nbd://, nbd+unix:// (*tls_r false), nbds:// or nbds+unix://
 * (*tls_r true)?  Only the scheme is looked at. */
bool xlmig__blkcopy_uri_scheme(const char *uri, bool *tls_r);

/* Is every byte of @p[0..n) zero? */
bool xlmig__blkcopy_all_zero(const unsigned char *p, size_t n);

#endif /* XLMIG_BLKCOPY_H */

/* SPDX-License-Identifier: LGPL-2.1-only */
/*
 * A disk carried through the stream channel (internal;
 * docs/specs/diskstream.md): the allocated extents of a source NBD
 * export, as a record stream (header, DATA / ZERO records, END) inside
 * the channel's compressed, checksummed, optionally TLS byte stream,
 * written by the receiver into a destination NBD export.
 *
 *     sender:   rc = xlmig__diskstream_send(ctx, &opts, &st);
 *     receiver: rc = xlmig__diskstream_recv(ctx, &opts, &st);
 *
 * The decoder of the record stream is pure and allocation-free (fuzzed
 * by tests/fuzz/fuzz-diskstream.c): every field is checked before use,
 * and DATA payload is handed on as slices of the caller's input.
 */
#ifndef XLMIG_DISKSTREAM_H
#define XLMIG_DISKSTREAM_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "libxlmig.h"

#define XLMIG__DISKSTREAM_MAGIC "XLMIGDSK"
#define XLMIG__DISKSTREAM_VERSION 1u
#define XLMIG__DISKSTREAM_HDR_LEN 32u
#define XLMIG__DISKSTREAM_REC_LEN 16u
#define XLMIG__DISKSTREAM_FLAG_ZEROS 1u           /* ZERO records sent */
#define XLMIG__DISKSTREAM_DATA_MAX (32u << 20)    /* bytes of one DATA */
#define XLMIG__DISKSTREAM_ZERO_MAX (1u << 30)     /* bytes of one ZERO */
#define XLMIG__DISKSTREAM_SIZE_MAX (64ull << 40)  /* 64 TiB */
#define XLMIG__DISKSTREAM_CHUNK_DEFAULT (4u << 20)
#define XLMIG__DISKSTREAM_CHUNK_MIN (64u << 10)
#define XLMIG__DISKSTREAM_GRAIN (64u << 10)       /* zero detection */

enum xlmig__diskstream_type {
    XLMIG__DISKSTREAM_DATA = 1,
    XLMIG__DISKSTREAM_ZERO = 2,
    XLMIG__DISKSTREAM_END = 3,
};

/* ------------------------------------------------------------ encoding */

/* The 32 header bytes for a disk of @size bytes with @flags. */
void xlmig__diskstream_put_header(uint8_t out[XLMIG__DISKSTREAM_HDR_LEN],
                                  uint64_t size, uint32_t flags);

/* The 16 bytes of a record header. */
void xlmig__diskstream_put_record(uint8_t out[XLMIG__DISKSTREAM_REC_LEN],
                                  uint64_t offset, uint32_t length,
                                  uint32_t type);

/* ------------------------------------------------------------ decoding */

enum xlmig__diskstream_ev_type {
    XLMIG__DISKSTREAM_EV_NONE,      /* all input taken, no event yet */
    XLMIG__DISKSTREAM_EV_HEADER,    /* size, flags */
    XLMIG__DISKSTREAM_EV_DATA,      /* offset, data, len: a slice of a
                                     * DATA record's payload */
    XLMIG__DISKSTREAM_EV_ZERO,      /* offset, len */
    XLMIG__DISKSTREAM_EV_END,       /* offset = total DATA bytes */
};

struct xlmig__diskstream_ev {
    enum xlmig__diskstream_ev_type type;
    uint64_t offset;
    uint64_t len;
    const uint8_t *data;            /* EV_DATA: into the caller's input */
    uint64_t size;                  /* EV_HEADER */
    uint32_t flags;                 /* EV_HEADER */
};

enum xlmig__diskstream_dec_state {
    XLMIG__DSD_HEADER,
    XLMIG__DSD_RECORD,
    XLMIG__DSD_PAYLOAD,
    XLMIG__DSD_DONE,                /* after END */
    XLMIG__DSD_FAILED,
};

/* The decoder's state: plain data, no resources (_init only). */
struct xlmig__diskstream_dec {
    enum xlmig__diskstream_dec_state state;
    uint64_t expect_size;           /* 0: any size up to SIZE_MAX */
    uint64_t size;                  /* from the header */
    uint32_t flags;
    uint8_t hold[XLMIG__DISKSTREAM_HDR_LEN];  /* a header being gathered */
    size_t held;
    uint64_t records;               /* records decoded so far */
    uint64_t pos;                   /* end of the last DATA/ZERO record */
    uint64_t data_bytes;            /* sum of DATA lengths so far */
    uint64_t pay_off;               /* DATA: next byte's disk offset */
    uint64_t pay_left;              /* DATA: payload bytes still to come */
    uint64_t consumed;              /* stream bytes taken */
    char why[200];                  /* the broken rule, when FAILED */
};

/*
 * Start decoding a stream whose header must say @expect_size bytes (0:
 * any size up to XLMIG__DISKSTREAM_SIZE_MAX; the caller checks).
 */
void xlmig__diskstream_dec_init(struct xlmig__diskstream_dec *d,
                                uint64_t expect_size);

/*
 * Take bytes from @buf (@len of them, may be 0) until one event is
 * complete: *used_r bytes were taken, *ev describes the event
 * (EV_NONE when all @len bytes were taken without completing one).
 * EV_DATA slices point into @buf.  Call again with the rest.
 * LIBXLMIG_ERR_PROTOCOL when a rule is broken: d->why says which (not
 * logged: pure), and every later call fails the same way.
 */
int xlmig__diskstream_dec_next(struct xlmig__diskstream_dec *d,
                               const uint8_t *buf, size_t len,
                               size_t *used_r,
                               struct xlmig__diskstream_ev *ev);

/*
 * The stream ended (EOF): 0 when it ended right after END, else
 * LIBXLMIG_ERR_PROTOCOL with d->why ("truncated ...").
 */
int xlmig__diskstream_dec_finish(struct xlmig__diskstream_dec *d);

/* -------------------------------------------------------- send, receive */

struct xlmig__diskstream_stats {
    uint64_t virtual_size;      /* bytes of the disk */
    uint64_t data_total;        /* sender: bytes of data extents (first
                                 * walk); receiver: known at END */
    uint64_t data_done;         /* sender: data extent bytes read and
                                 * sent or found zero; receiver: DATA
                                 * bytes written */
    uint64_t zero_skipped;      /* sender: of data_done, 64 KiB grains
                                 * that read as zeros, not sent as DATA */
    uint64_t zeroed;            /* ZERO bytes sent / written */
    uint64_t records;           /* DATA and ZERO records */
    uint64_t stream_bytes;      /* bytes of the record stream */
    uint64_t wire_bytes;        /* the channel's: sender bytes_out,
                                 * receiver bytes_received */
    bool flushed;               /* receiver: END arrived, everything was
                                 * written and flushed */
    double seconds;
};

struct xlmig__diskstream_opts {
    /* Sender: the source export; receiver: the destination export.
     * nbd://, nbd+unix://, nbds://, nbds+unix:// (libnbd's syntax, no
     * local files); < 4096 bytes. */
    const char *src_uri;
    const char *dst_uri;
    /* For an nbds URI: a directory of ca-cert.pem, client-cert.pem,
     * client-key.pem, or a PSK file (+ user name); else NULL. */
    const char *tls_certs_dir;
    const char *tls_psk_file, *tls_username;
    /*
     * The connected transport to the peer (libxlmig_transport_fd_new()
     * or libxlmig_transport_tls_new()).  The call owns it from the
     * start, also on failure; it is freed before the call returns.
     */
    libxlmig_transport *transport;
    /* The socket under the transport, shut down when the channel thread
     * is stuck after a cancel or failure; -1 (or 0): none. */
    int sock_fd;
    /* Who the peer is, for messages ("tcp:10.0.0.2:10811"), or NULL. */
    const char *peer_label;
    /* Sender: codec, level, threads, bwlimit, chunk_size (page_aware
     * is forced off).  NULL: zstd at its default level.  Receiver:
     * ignored. */
    const libxlmig_channel_params *params;
    size_t chunk;               /* sender: bytes per DATA record, 0 = 4
                                 * MiB; 64 KiB to 32 MiB, 4 KiB multiple */
    bool send_zeros;            /* sender: ZERO records for zero extents
                                 * and zero grains (the destination is
                                 * not known to read as zeros) */
    /* NULL, or called on the calling thread about every 100 ms and once
     * at the end of a success. */
    void (*progress)(void *opaque, const struct xlmig__diskstream_stats *st);
    void *opaque;
    /* NULL, or set non-zero (any thread, a signal handler) to stop with
     * LIBXLMIG_ERR_CANCELLED within about 100 ms. */
    volatile sig_atomic_t *cancel;
};

/*
 * Send the allocated extents of opts->src_uri over opts->transport.
 * Blocks until the record stream and the channel's END are handed to
 * the transport.  @st_r (may be NULL) gets the counters, also on
 * failure.  Errors (logged once): INVALID_ARGUMENT, IO, AUTH_FAILED,
 * PROTOCOL (block status), NO_MEMORY, CANCELLED, and the channel's.
 */
int xlmig__diskstream_send(libxlmig_ctx *ctx,
                           const struct xlmig__diskstream_opts *opts,
                           struct xlmig__diskstream_stats *st_r);

/*
 * Receive a record stream from opts->transport and write it into
 * opts->dst_uri; 0 only when END arrived, the channel ended right after
 * it, and every write and the flush succeeded (st_r->flushed).  Errors
 * (logged once): INVALID_ARGUMENT (size differs, read-only), IO,
 * PROTOCOL (a bad record), SR_DESTINATION_SPACE_INSUFFICIENT,
 * AUTH_FAILED, CANCELLED, and the channel's.
 */
int xlmig__diskstream_recv(libxlmig_ctx *ctx,
                           const struct xlmig__diskstream_opts *opts,
                           struct xlmig__diskstream_stats *st_r);

#endif /* XLMIG_DISKSTREAM_H */

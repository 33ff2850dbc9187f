/*
 * The disk stream (diskstream.h, docs/specs/diskstream.md): a record
 * stream of a disk's allocated extents inside the stream channel.
 *
 * Sender: one thread reads the source over NBD (libnbd's synchronous
 * calls; extents checked by blkcopy's xlmig__blkcopy_extents_take())
 * and writes records into a pipe; a second thread runs
 * libxlmig_channel_send_fd() from that pipe.  Receiver: a thread runs
 * libxlmig_channel_recv_fd() into a pipe; the calling thread decodes
 * the records and writes them over NBD.
 *
 * The channel has no cancel of its own, so the transport handed to it
 * is wrapped ("guard"): once the call is stopping, the guard's reads
 * and writes fail with CANCELLED (not logged: the call has said why),
 * which ends the channel without its END frame.  A channel thread
 * still blocked in the kernel after a second is woken by shutting the
 * socket down (opts->sock_fd).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <libnbd.h>

#include "blkcopy.h"
#include "diskstream.h"
#include "internal.h"
#include "transport.h"

/* ------------------------------------------------------------ encoding */

static void put_le32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static void put_le64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t get_le32(const uint8_t *p)
{
    uint32_t v = 0;

    for (int i = 3; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

static uint64_t get_le64(const uint8_t *p)
{
    uint64_t v = 0;

    for (int i = 7; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

void xlmig__diskstream_put_header(uint8_t out[XLMIG__DISKSTREAM_HDR_LEN],
                                  uint64_t size, uint32_t flags)
{
    memset(out, 0, XLMIG__DISKSTREAM_HDR_LEN);
    memcpy(out, XLMIG__DISKSTREAM_MAGIC, 8);
    put_le32(out + 8, XLMIG__DISKSTREAM_VERSION);
    put_le32(out + 12, flags);
    put_le64(out + 16, size);
}

void xlmig__diskstream_put_record(uint8_t out[XLMIG__DISKSTREAM_REC_LEN],
                                  uint64_t offset, uint32_t length,
                                  uint32_t type)
{
    put_le64(out, offset);
    put_le32(out + 8, length);
    put_le32(out + 12, type);
}

/* ------------------------------------------------------------ decoding */

void xlmig__diskstream_dec_init(struct xlmig__diskstream_dec *d,
                                uint64_t expect_size)
{
    memset(d, 0, sizeof(*d));
    d->state = XLMIG__DSD_HEADER;
    d->expect_size = expect_size;
}

XLMIG__PRINTF(2, 3)
static int dec_fail(struct xlmig__diskstream_dec *d, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(d->why, sizeof(d->why), fmt, ap);
    va_end(ap);
    d->state = XLMIG__DSD_FAILED;
    return LIBXLMIG_ERR_PROTOCOL;
}

static int dec_header(struct xlmig__diskstream_dec *d,
                      struct xlmig__diskstream_ev *ev)
{
    const uint8_t *h = d->hold;
    uint32_t version = get_le32(h + 8), flags = get_le32(h + 12);
    uint64_t size = get_le64(h + 16);

    if (memcmp(h, XLMIG__DISKSTREAM_MAGIC, 8))
        return dec_fail(d, "bad magic: not a disk stream");
    if (version != XLMIG__DISKSTREAM_VERSION)
        return dec_fail(d, "version %" PRIu32 ", we know %u", version,
                        XLMIG__DISKSTREAM_VERSION);
    if (flags & ~(uint32_t)XLMIG__DISKSTREAM_FLAG_ZEROS)
        return dec_fail(d, "unknown flags 0x%" PRIx32, flags);
    if (get_le64(h + 24))
        return dec_fail(d, "reserved header field not zero");
    if (size > XLMIG__DISKSTREAM_SIZE_MAX)
        return dec_fail(d, "virtual size %" PRIu64 " beyond 64 TiB", size);
    if (d->expect_size && size != d->expect_size)
        return dec_fail(d, "the stream's disk is %" PRIu64 " bytes but the "
                        "destination is %" PRIu64 " bytes", size,
                        d->expect_size);
    d->size = size;
    d->flags = flags;
    d->state = XLMIG__DSD_RECORD;
    ev->type = XLMIG__DISKSTREAM_EV_HEADER;
    ev->size = size;
    ev->flags = flags;
    return 0;
}

static int dec_record(struct xlmig__diskstream_dec *d,
                      struct xlmig__diskstream_ev *ev)
{
    uint64_t off = get_le64(d->hold);
    uint32_t len = get_le32(d->hold + 8), type = get_le32(d->hold + 12);
    uint64_t n = d->records + 1;

    if (type == XLMIG__DISKSTREAM_END) {
        if (len)
            return dec_fail(d, "record %" PRIu64 ": END with length %" PRIu32,
                            n, len);
        if (off != d->data_bytes)
            return dec_fail(d, "record %" PRIu64 ": END says %" PRIu64 " data "
                            "bytes, %" PRIu64 " came", n, off, d->data_bytes);
        d->state = XLMIG__DSD_DONE;
        ev->type = XLMIG__DISKSTREAM_EV_END;
        ev->offset = off;
        return 0;
    }
    if (type != XLMIG__DISKSTREAM_DATA && type != XLMIG__DISKSTREAM_ZERO)
        return dec_fail(d, "record %" PRIu64 ": unknown type %" PRIu32, n,
                        type);
    if (!len || len > (type == XLMIG__DISKSTREAM_DATA
                           ? XLMIG__DISKSTREAM_DATA_MAX
                           : XLMIG__DISKSTREAM_ZERO_MAX))
        return dec_fail(d, "record %" PRIu64 " at offset %" PRIu64 ": length "
                        "%" PRIu32 " out of range (1 to %u)", n, off, len,
                        type == XLMIG__DISKSTREAM_DATA
                            ? XLMIG__DISKSTREAM_DATA_MAX
                            : XLMIG__DISKSTREAM_ZERO_MAX);
    if (len > d->size || off > d->size - len)
        return dec_fail(d, "record %" PRIu64 ": %" PRIu32 " bytes at offset %"
                        PRIu64 " pass the end of the disk (%" PRIu64 " bytes)",
                        n, len, off, d->size);
    if (off < d->pos)
        return dec_fail(d, "record %" PRIu64 ": offset %" PRIu64 " goes back "
                        "(the previous record ended at %" PRIu64 ")", n, off,
                        d->pos);
    d->records = n;
    d->pos = off + len;
    if (type == XLMIG__DISKSTREAM_ZERO) {
        d->state = XLMIG__DSD_RECORD;
        ev->type = XLMIG__DISKSTREAM_EV_ZERO;
        ev->offset = off;
        ev->len = len;
        return 0;
    }
    d->data_bytes += len;
    d->pay_off = off;
    d->pay_left = len;
    d->state = XLMIG__DSD_PAYLOAD;
    return 0;
}

int xlmig__diskstream_dec_next(struct xlmig__diskstream_dec *d,
                               const uint8_t *buf, size_t len,
                               size_t *used_r,
                               struct xlmig__diskstream_ev *ev)
{
    size_t used = 0, want, take;
    int rc;

    memset(ev, 0, sizeof(*ev));
    *used_r = 0;
    while (used < len || d->state == XLMIG__DSD_FAILED) {
        switch (d->state) {
        case XLMIG__DSD_FAILED:
            return LIBXLMIG_ERR_PROTOCOL;
        case XLMIG__DSD_DONE:
            *used_r = used;
            return dec_fail(d, "%zu bytes after END", len - used);
        case XLMIG__DSD_HEADER:
        case XLMIG__DSD_RECORD:
            want = d->state == XLMIG__DSD_HEADER ? XLMIG__DISKSTREAM_HDR_LEN
                                                 : XLMIG__DISKSTREAM_REC_LEN;
            take = want - d->held;
            if (take > len - used)
                take = len - used;
            memcpy(d->hold + d->held, buf + used, take);
            d->held += take;
            used += take;
            d->consumed += take;
            if (d->held < want)
                break;
            d->held = 0;
            rc = d->state == XLMIG__DSD_HEADER ? dec_header(d, ev)
                                               : dec_record(d, ev);
            *used_r = used;
            if (rc)
                return rc;
            if (ev->type != XLMIG__DISKSTREAM_EV_NONE)
                return 0;
            break;
        case XLMIG__DSD_PAYLOAD:
            take = len - used;
            if (take > d->pay_left)
                take = (size_t)d->pay_left;
            ev->type = XLMIG__DISKSTREAM_EV_DATA;
            ev->offset = d->pay_off;
            ev->len = take;
            ev->data = buf + used;
            d->pay_off += take;
            d->pay_left -= take;
            d->consumed += take;
            if (!d->pay_left)
                d->state = XLMIG__DSD_RECORD;
            *used_r = used + take;
            return 0;
        }
    }
    *used_r = used;
    return 0;
}

int xlmig__diskstream_dec_finish(struct xlmig__diskstream_dec *d)
{
    switch (d->state) {
    case XLMIG__DSD_DONE:
        return 0;
    case XLMIG__DSD_FAILED:
        return LIBXLMIG_ERR_PROTOCOL;
    case XLMIG__DSD_HEADER:
        return dec_fail(d, "truncated: the stream ended in its header (%zu "
                        "of %u bytes)", d->held, XLMIG__DISKSTREAM_HDR_LEN);
    case XLMIG__DSD_RECORD:
        return dec_fail(d, "truncated: the stream ended after record %"
                        PRIu64 " without END", d->records);
    case XLMIG__DSD_PAYLOAD:
        return dec_fail(d, "truncated: the stream ended in record %" PRIu64
                        ", %" PRIu64 " payload bytes missing", d->records,
                        d->pay_left);
    }
    return LIBXLMIG_ERR_PROTOCOL;
}

/* SPDX-License-Identifier: LGPL-2.1-only */
/*
 * nbd-writer: a guest writing to its disk, for the storage live migration
 * tests.  The disk is an NBD export (qemu-storage-daemon, qemu-nbd)
 * reached through libnbd; every acknowledged write is appended to a log,
 * and the log is the truth the tests compare the migrated disk against
 * (replay it into a raw image for `qemu-img compare`, or verify).
 *
 *   nbd-writer fill   --uri URI --log LOG --seed N --percent P
 *                     [--extent BYTES]
 *       Writes P% (0..100) of the disk as extents of --extent bytes
 *       (default 1 MiB, a multiple of 512), chosen from the seed (Knuth's
 *       selection sampling, so in offset order; P=100 is the whole disk),
 *       then flushes.
 *   nbd-writer run    --uri URI --log LOG --seed N [--count N]
 *                     [--max-size BYTES] [--interval-ms N] [--stop-file F]
 *       Random writes one at a time: offset a multiple of 512, length a
 *       multiple of 512 from 512 to --max-size (default 64 KiB), clipped
 *       at the last whole sector.  Stops after --count writes, on SIGTERM
 *       or SIGINT, or when F exists (checked between writes); then
 *       flushes the disk and prints "nbd-writer: N writes, B bytes".
 *       SIGUSR1 stops the process (SIGSTOP to itself) between two
 *       writes, so that a paused guest has no write half done (the
 *       stand-in hypervisor pauses its guests so; SIGCONT goes on).
 *   nbd-writer replay --log LOG --out REF --size BYTES
 *       Builds the raw image REF (sparse, --size bytes) from the log.
 *   nbd-writer verify --uri URI --log LOG
 *       Replays the log into a sparse temporary file in $TMPDIR (or /tmp)
 *       and compares it with the whole disk, 1 MiB at a time.
 *
 * Exit status: 0 done, 1 failed (one line on stderr naming the URI or the
 * file; verify names the first differing byte), 2 bad arguments.  Every
 * subcommand takes --help.  Sizes take a K, M, G or T suffix (KiB...).
 *
 * A write that fails is retried, the same bytes at the same offset, up to
 * 50 times 100 ms apart; when the connection has dropped (the export was
 * disturbed by a storage migration, the server restarted) each retry
 * first reconnects to URI and checks the size is unchanged.  A note goes
 * to stderr on each reconnection.  Fill and run keep SIGTERM and SIGINT
 * blocked and take them only between writes (sigtimedwait), so no NBD
 * request is interrupted and the log is complete when a run stops.
 * Verify's reads and the final flush are retried the same way.
 *
 * The log.  One line per acknowledged write, appended (and fflush()ed)
 * after NBD acknowledged it, in that order:
 *
 *     SEED SEQ OFFSET LENGTH HASH\n
 *
 * SEED, SEQ, OFFSET and LENGTH are unsigned 64-bit decimals; HASH is 16
 * lowercase hex digits; single spaces; at most 255 bytes before the
 * newline.  SEQ counts the writes of one fill or run from 0.  The data of
 * a write is a pure function of (SEED, SEQ, LENGTH), so the log holds no
 * data: with mix() the splitmix64 finaliser, the state starts as
 *     s = mix(mix(SEED ^ 0x6e62642d64617461) ^ SEQ)
 * and each 8 bytes of data are, little-endian, mix(s += 0x9e3779b97f4a7c15)
 * (the last word cut to LENGTH).  HASH is XXH3_64bits (xxhash, seed 0) of
 * those LENGTH bytes, i.e. of what a correct disk holds there right after
 * the write; replay regenerates the data and rejects a line whose data
 * does not hash to HASH (a damaged SEED, SEQ or LENGTH).  OFFSET is only
 * checked against the size.  Where the writes go is a function of SEED
 * and the disk size alone.
 *
 * Several fills and runs append to one log (a fill with one seed, then
 * runs with others); replay applies the lines in file order, so the last
 * line covering a byte gives its value.  Each line's SEQ must be 0 (a run
 * starts) or the previous line's SEQ + 1 with the same SEED, so a lost
 * or reordered line is refused: one writer per log at a time.  Using a
 * seed twice against one disk is the caller's error (not detected): both
 * runs write the same data at the same places, and a lost write of the
 * second would not show.  A run that exits 1 may leave an unlogged,
 * unacknowledged write on the disk.
 *
 * With NBD_WRITER_NO_MAIN defined only the log format part (content,
 * hash, line parser) is compiled, for a unit test or fuzz target that
 * includes this file.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <libnbd.h>
#include <xxhash.h>

#define NW_SECTOR     512u
/* Largest write: qemu's NBD server takes at most 32 MiB per request. */
#define NW_IO_MAX     (32u << 20)
#define NW_LINE_MAX   256u      /* a log line's bytes, newline included */
#define NW_DATA_KEY   0x6e62642d64617461ull /* "nbd-data" */
#define NW_PLACE_KEY  0x6e62642d706c6163ull /* "nbd-plac" */

/* ------------------------------------------------------------ log format */

struct nw_line {
    uint64_t seed, seq, off, len, hash;
};

/* The splitmix64 finaliser. */
static uint64_t nw_mix(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* splitmix64: next number of the stream in *s. */
static uint64_t nw_next(uint64_t *s)
{
    return nw_mix(*s += 0x9e3779b97f4a7c15ull);
}

/* The data of write (seed, seq): @len bytes into @buf. */
static void nw_content(uint64_t seed, uint64_t seq, uint8_t *buf, size_t len)
{
    uint64_t s = nw_mix(nw_mix(seed ^ NW_DATA_KEY) ^ seq), w;
    size_t i, j;

    for (i = 0; i < len; i += 8) {
        w = nw_next(&s);
        for (j = 0; j < 8 && i + j < len; j++)
            buf[i + j] = (uint8_t)(w >> (8 * j));
    }
}

static uint64_t nw_hash(const uint8_t *buf, size_t len)
{
    return (uint64_t)XXH3_64bits(buf, len);
}

/* Decimal digits at *pp (at least one, value below 2^64); advances *pp. */
static int nw_digits(const char **pp, uint64_t *v_r)
{
    const char *p = *pp;
    uint64_t v = 0;
    unsigned d;

    if (*p < '0' || *p > '9')
        return -1;
    for (; *p >= '0' && *p <= '9'; p++) {
        d = (unsigned)(*p - '0');
        if (v > (UINT64_MAX - d) / 10)
            return -1;
        v = v * 10 + d;
    }
    *pp = p;
    *v_r = v;
    return 0;
}

/*
 * Parse one log line @s (NUL-terminated, newline removed) into @l.
 * 0, or -1 with what is wrong in @why.
 */
static int nw_line_parse(const char *s, struct nw_line *l, char *why,
                         size_t whylen)
{
    static const char *const names[] = { "SEED", "SEQ", "OFFSET", "LENGTH" };
    uint64_t *fields[] = { &l->seed, &l->seq, &l->off, &l->len };
    uint64_t h = 0;
    unsigned i;
    int c;

    for (i = 0; i < 4; i++) {
        if (nw_digits(&s, fields[i])) {
            snprintf(why, whylen, "%s is not a decimal number below 2^64",
                     names[i]);
            return -1;
        }
        if (*s != ' ') {
            snprintf(why, whylen, "expected one space after %s", names[i]);
            return -1;
        }
        s++;
    }
    for (i = 0; i < 16; i++) {
        c = (unsigned char)s[i];
        if (c >= '0' && c <= '9')
            h = h << 4 | (uint64_t)(c - '0');
        else if (c >= 'a' && c <= 'f')
            h = h << 4 | (uint64_t)(c - 'a' + 10);
        else
            break;
    }
    if (i != 16 || s[16]) {
        snprintf(why, whylen, "HASH is not 16 lowercase hex digits at the "
                 "end of the line");
        return -1;
    }
    l->hash = h;
    if (l->len == 0 || l->len > NW_IO_MAX) {
        snprintf(why, whylen, "LENGTH %" PRIu64 " is not 1..%u", l->len,
                 NW_IO_MAX);
        return -1;
    }
    return 0;
}

/*
 * Read one line of @f into @buf (@cap bytes: at most cap - 1 characters
 * and the newline), newline dropped.  1: a line; 0: end of file; -1: a
 * bad line (too long, a NUL byte, no newline at the end), what is wrong
 * in @why.
 */
static int nw_read_line(FILE *f, char *buf, size_t cap, char *why,
                        size_t whylen)
{
    size_t n = 0;
    int c;

    while ((c = getc(f)) != EOF && c != '\n') {
        if (n + 1 >= cap) {
            snprintf(why, whylen, "longer than %zu bytes", cap - 1);
            return -1;
        }
        if (c == '\0') {
            snprintf(why, whylen, "a NUL byte in the line");
            return -1;
        }
        buf[n++] = (char)c;
    }
    if (c == EOF) {
        if (ferror(f)) {
            snprintf(why, whylen, "read error: %s", strerror(errno));
            return -1;
        }
        if (n == 0)
            return 0;
        snprintf(why, whylen, "the last line has no newline (cut short?)");
        return -1;
    }
    buf[n] = '\0';
    return 1;
}

#ifndef NBD_WRITER_NO_MAIN

#define NW_RETRIES    50
#define NW_RETRY_MS   100u
#define NW_CHUNK      (1u << 20) /* verify compares this much at a time */
#define NW_INTERVAL_MAX 3600000ull

static void nw_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* The one line of an error, on stderr. */
static void nw_err(const char *fmt, ...)
{
    va_list ap;

    fputs("nbd-writer: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

static const char *nw_nbd_error(void)
{
    const char *e = nbd_get_error();

    return e && *e ? e : "unknown libnbd error";
}

static struct timespec nw_ms(uint64_t ms)
{
    struct timespec ts = { .tv_sec = (time_t)(ms / 1000),
                           .tv_nsec = (long)(ms % 1000) * 1000000L };

    return ts;
}

static void nw_sleep_ms(uint64_t ms)
{
    struct timespec ts = nw_ms(ms);

    while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
        ;
}

static int nw_pwrite_full(int fd, const uint8_t *p, size_t n, uint64_t off)
{
    ssize_t r;

    while (n) {
        r = pwrite(fd, p, n, (off_t)off);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            if (r == 0)
                errno = EIO;
            return -1;
        }
        p += r;
        n -= (size_t)r;
        off += (uint64_t)r;
    }
    return 0;
}

static int nw_pread_full(int fd, uint8_t *p, size_t n, uint64_t off)
{
    ssize_t r;

    while (n) {
        r = pread(fd, p, n, (off_t)off);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            if (r == 0)
                errno = EIO;    /* shorter than we made it */
            return -1;
        }
        p += r;
        n -= (size_t)r;
        off += (uint64_t)r;
    }
    return 0;
}

/* ------------------------------------------------------------ the disk */

struct nw_disk {
    const char *uri;
    struct nbd_handle *h;       /* NULL while disconnected */
    uint64_t size;              /* fixed by the first connection */
    size_t io;                  /* largest request we make */
    bool writable;
};

static void nw_disk_close(struct nw_disk *d)
{
    if (!d->h)
        return;
    if (nbd_aio_is_ready(d->h) == 1)
        nbd_shutdown(d->h, 0);
    nbd_close(d->h);
    d->h = NULL;
}

/*
 * Connect d->h to d->uri.  The first connection sets d->size; later ones
 * must find the same size.  0, or -1 with the reason in @err.
 */
static int nw_disk_connect(struct nw_disk *d, bool first, char *err,
                           size_t errlen)
{
    struct nbd_handle *h = NULL;
    int64_t size, bs;
    int r, rc = -1;

    h = nbd_create();
    if (!h) {
        snprintf(err, errlen, "%s", nw_nbd_error());
        goto out;
    }
    if (nbd_connect_uri(h, d->uri) == -1) {
        snprintf(err, errlen, "%s", nw_nbd_error());
        goto out;
    }
    size = nbd_get_size(h);
    if (size < 0) {
        snprintf(err, errlen, "%s", nw_nbd_error());
        goto out;
    }
    if (first && size < (int64_t)NW_SECTOR) {
        snprintf(err, errlen, "the export has %" PRId64 " bytes, less than "
                 "one %u-byte sector", size, NW_SECTOR);
        goto out;
    }
    if (!first && (uint64_t)size != d->size) {
        snprintf(err, errlen, "the export now has %" PRId64 " bytes, not "
                 "%" PRIu64 " as before the reconnection", size, d->size);
        goto out;
    }
    if (d->writable) {
        r = nbd_is_read_only(h);
        if (r != 0) {
            snprintf(err, errlen, "%s", r == 1 ? "the export is read-only"
                                               : nw_nbd_error());
            goto out;
        }
        bs = nbd_get_block_size(h, LIBNBD_SIZE_MINIMUM);
        if (bs > (int64_t)NW_SECTOR) {
            snprintf(err, errlen, "the export's minimum block size is "
                     "%" PRId64 " bytes; nbd-writer writes %u-byte sectors",
                     bs, NW_SECTOR);
            goto out;
        }
    }
    bs = nbd_get_block_size(h, LIBNBD_SIZE_MAXIMUM);
    if (bs > 0 && (uint64_t)bs < d->io) {
        snprintf(err, errlen, "the export takes at most %" PRId64 " bytes "
                 "per request, less than the %zu asked for", bs, d->io);
        goto out;
    }
    d->size = (uint64_t)size;
    d->h = h;
    h = NULL;                   /* d owns it now */
    rc = 0;
out:
    nbd_close(h);               /* NULL-safe */
    return rc;
}

/* First connection; the error, if any, reported here. */
static int nw_disk_open(struct nw_disk *d, const char *uri, bool writable,
                        size_t io)
{
    char err[512];

    memset(d, 0, sizeof(*d));
    d->uri = uri;
    d->writable = writable;
    d->io = io;
    if (nw_disk_connect(d, true, err, sizeof(err))) {
        nw_err("%s: %s", uri, err);
        return -1;
    }
    return 0;
}

enum nw_op { NW_WRITE, NW_READ, NW_FLUSH };

/*
 * One request, retried NW_RETRIES times NW_RETRY_MS apart, reconnecting
 * when the connection is gone.  Writes and reads are idempotent, so a
 * request that failed half-way is simply made again.  The final failure
 * is reported here.
 */
static int nw_disk_io(struct nw_disk *d, enum nw_op op, void *buf, size_t len,
                      uint64_t off)
{
    static const char *const what[] = { "write", "read", "flush" };
    char err[512] = "not connected";
    unsigned attempt;
    int r;

    for (attempt = 1;; attempt++) {
        if (d->h && nbd_aio_is_ready(d->h) != 1) {
            nbd_close(d->h);    /* dead: nothing to shut down */
            d->h = NULL;
        }
        if (!d->h && nw_disk_connect(d, false, err, sizeof(err)) == 0)
            fprintf(stderr, "nbd-writer: %s: reconnected (%s at offset "
                    "%" PRIu64 ", attempt %u)\n", d->uri, what[op], off,
                    attempt);
        if (d->h) {
            switch (op) {
            case NW_WRITE:
                r = nbd_pwrite(d->h, buf, len, off, 0);
                break;
            case NW_READ:
                r = nbd_pread(d->h, buf, len, off, 0);
                break;
            default:
                r = nbd_can_flush(d->h);    /* 0: nothing to flush */
                if (r == 1)
                    r = nbd_flush(d->h, 0);
                break;
            }
            if (r == 0)
                return 0;
            snprintf(err, sizeof(err), "%s", nw_nbd_error());
        }
        if (attempt == NW_RETRIES)
            break;
        nw_sleep_ms(NW_RETRY_MS);
    }
    if (op == NW_FLUSH)
        nw_err("%s: flush failed %u times over %u ms, giving up: %s", d->uri,
               NW_RETRIES, NW_RETRIES * NW_RETRY_MS, err);
    else
        nw_err("%s: %s of %zu bytes at offset %" PRIu64 " failed %u times "
               "over %u ms, giving up: %s", d->uri, what[op], len, off,
               NW_RETRIES, NW_RETRIES * NW_RETRY_MS, err);
    return -1;
}

/* ------------------------------------------------------------ arguments */

enum {
    A_URI = 1u << 0,
    A_LOG = 1u << 1,
    A_SEED = 1u << 2,
    A_PERCENT = 1u << 3,
    A_EXTENT = 1u << 4,
    A_COUNT = 1u << 5,
    A_MAX_SIZE = 1u << 6,
    A_INTERVAL = 1u << 7,
    A_STOP_FILE = 1u << 8,
    A_OUT = 1u << 9,
    A_SIZE = 1u << 10,
};

struct nw_args {
    unsigned given;             /* A_* seen */
    const char *uri, *log, *out, *stop_file;
    uint64_t seed, percent, extent, count, max_size, interval_ms, size;
};

#define NW_OPT_BASE 1000        /* getopt value of bit i: NW_OPT_BASE + i */

static const struct option nw_options[] = {
    { "uri", required_argument, NULL, NW_OPT_BASE + 0 },
    { "log", required_argument, NULL, NW_OPT_BASE + 1 },
    { "seed", required_argument, NULL, NW_OPT_BASE + 2 },
    { "percent", required_argument, NULL, NW_OPT_BASE + 3 },
    { "extent", required_argument, NULL, NW_OPT_BASE + 4 },
    { "count", required_argument, NULL, NW_OPT_BASE + 5 },
    { "max-size", required_argument, NULL, NW_OPT_BASE + 6 },
    { "interval-ms", required_argument, NULL, NW_OPT_BASE + 7 },
    { "stop-file", required_argument, NULL, NW_OPT_BASE + 8 },
    { "out", required_argument, NULL, NW_OPT_BASE + 9 },
    { "size", required_argument, NULL, NW_OPT_BASE + 10 },
    { NULL, 0, NULL, 0 },
};

/* A number with an optional K/M/G/T (or KiB...) binary suffix. */
static int nw_parse_size(const char *s, uint64_t *v_r)
{
    uint64_t v, mul = 1;

    if (nw_digits(&s, &v))
        return -1;
    switch (*s) {
    case '\0': break;
    case 'k': case 'K': mul = 1ull << 10; break;
    case 'm': case 'M': mul = 1ull << 20; break;
    case 'g': case 'G': mul = 1ull << 30; break;
    case 't': case 'T': mul = 1ull << 40; break;
    default: return -1;
    }
    if (*s) {
        s++;
        if (!strcmp(s, "iB"))
            s += 2;
    }
    if (*s || v > UINT64_MAX / mul)
        return -1;
    *v_r = v * mul;
    return 0;
}

/* A multiple of 512 in 512..NW_IO_MAX. */
static bool nw_io_size_ok(uint64_t v)
{
    return v >= NW_SECTOR && v <= NW_IO_MAX && v % NW_SECTOR == 0;
}

/* Check and store option @bit's value @v; 0 or -1 (reported). */
static int nw_set_option(const char *cmd, struct nw_args *a, unsigned bit,
                         const char *name, const char *v)
{
    uint64_t n = 0;
    bool num = bit != A_URI && bit != A_LOG && bit != A_STOP_FILE &&
               bit != A_OUT;

    if (!*v) {
        nw_err("%s: --%s: empty value", cmd, name);
        return -1;
    }
    if (num && nw_parse_size(v, &n)) {
        nw_err("%s: --%s '%s' is not a number", cmd, name, v);
        return -1;
    }
    switch (bit) {
    case A_URI: a->uri = v; break;
    case A_LOG: a->log = v; break;
    case A_STOP_FILE: a->stop_file = v; break;
    case A_OUT: a->out = v; break;
    case A_SEED: a->seed = n; break;
    case A_COUNT: a->count = n; break;
    case A_PERCENT:
        if (n > 100) {
            nw_err("%s: --percent %s is not 0..100", cmd, v);
            return -1;
        }
        a->percent = n;
        break;
    case A_EXTENT:
    case A_MAX_SIZE:
        if (!nw_io_size_ok(n)) {
            nw_err("%s: --%s %s is not a multiple of 512 from 512 to "
                   "32 MiB", cmd, name, v);
            return -1;
        }
        if (bit == A_EXTENT)
            a->extent = n;
        else
            a->max_size = n;
        break;
    case A_INTERVAL:
        if (n > NW_INTERVAL_MAX) {
            nw_err("%s: --interval-ms %s is more than an hour", cmd, v);
            return -1;
        }
        a->interval_ms = n;
        break;
    case A_SIZE:
        if (n == 0 || n > (uint64_t)INT64_MAX) {
            nw_err("%s: --size %s is not 1..2^63-1 bytes", cmd, v);
            return -1;
        }
        a->size = n;
        break;
    }
    return 0;
}

/* ------------------------------------------------------------ replay */

/*
 * Apply the lines of @log_path in order to @fd, a file of @size bytes
 * named @fd_name.  Counts in *lines_r and *bytes_r.  Errors reported here.
 */
static int nw_apply_log(const char *log_path, int fd, const char *fd_name,
                        uint64_t size, uint64_t *lines_r, uint64_t *bytes_r)
{
    FILE *f = NULL;
    uint8_t *buf = NULL, *nb;
    size_t cap = 0;
    char line[NW_LINE_MAX], why[160];
    struct nw_line l, prev = { 0 };
    uint64_t lineno = 0, bytes = 0, h;
    bool have_prev = false;
    int r, rc = -1;

    f = fopen(log_path, "re");
    if (!f) {
        nw_err("%s: cannot open the log: %s", log_path, strerror(errno));
        goto out;
    }
    for (;;) {
        r = nw_read_line(f, line, sizeof(line), why, sizeof(why));
        if (r == 0)
            break;
        lineno++;
        if (r < 0 || nw_line_parse(line, &l, why, sizeof(why))) {
            nw_err("%s line %" PRIu64 ": malformed: %s", log_path, lineno,
                   why);
            goto out;
        }
        if (l.len > size || l.off > size - l.len) {
            nw_err("%s line %" PRIu64 ": %" PRIu64 " bytes at offset "
                   "%" PRIu64 " go past the end of the %" PRIu64 "-byte disk",
                   log_path, lineno, l.len, l.off, size);
            goto out;
        }
        if (l.seq != 0 &&
            !(have_prev && prev.seed == l.seed && prev.seq + 1 == l.seq)) {
            nw_err("%s line %" PRIu64 ": SEQ %" PRIu64 " of seed %" PRIu64
                   " does not follow the line before (a line lost or out "
                   "of order)", log_path, lineno, l.seq, l.seed);
            goto out;
        }
        if (l.len > cap) {
            nb = realloc(buf, (size_t)l.len);
            if (!nb) {
                nw_err("%s line %" PRIu64 ": out of memory for %" PRIu64
                       " bytes", log_path, lineno, l.len);
                goto out;
            }
            buf = nb;
            cap = (size_t)l.len;
        }
        nw_content(l.seed, l.seq, buf, (size_t)l.len);
        h = nw_hash(buf, (size_t)l.len);
        if (h != l.hash) {
            nw_err("%s line %" PRIu64 ": corrupt: the data of seed %" PRIu64
                   " seq %" PRIu64 " (%" PRIu64 " bytes) hashes to %016"
                   PRIx64 ", the line says %016" PRIx64, log_path, lineno,
                   l.seed, l.seq, l.len, h, l.hash);
            goto out;
        }
        if (nw_pwrite_full(fd, buf, (size_t)l.len, l.off)) {
            nw_err("%s: writing %" PRIu64 " bytes at offset %" PRIu64 ": %s",
                   fd_name, l.len, l.off, strerror(errno));
            goto out;
        }
        bytes += l.len;
        prev = l;
        have_prev = true;
    }
    *lines_r = lineno;
    *bytes_r = bytes;
    rc = 0;
out:
    if (f)
        fclose(f);
    free(buf);
    return rc;
}

static int cmd_replay(const struct nw_args *a)
{
    struct stat st_log, st_out;
    uint64_t lines = 0, bytes = 0;
    int fd = -1, rc = 1;
    bool created = false;

    if (stat(a->log, &st_log)) {
        nw_err("%s: cannot open the log: %s", a->log, strerror(errno));
        goto out;
    }
    fd = open(a->out, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) {
        nw_err("%s: cannot create: %s", a->out, strerror(errno));
        goto out;
    }
    if (fstat(fd, &st_out)) {
        nw_err("%s: %s", a->out, strerror(errno));
        goto out;
    }
    if (!S_ISREG(st_out.st_mode)) {
        nw_err("%s: not a regular file; replay makes a raw image file",
               a->out);
        goto out;
    }
    if (st_out.st_dev == st_log.st_dev && st_out.st_ino == st_log.st_ino) {
        nw_err("%s: is the log itself; give another --out", a->out);
        goto out;
    }
    created = true;             /* ours to remove if replay fails */
    if (ftruncate(fd, 0) || ftruncate(fd, (off_t)a->size)) {
        nw_err("%s: cannot size it to %" PRIu64 " bytes: %s", a->out, a->size,
               strerror(errno));
        goto out;
    }
    if (nw_apply_log(a->log, fd, a->out, a->size, &lines, &bytes))
        goto out;
    if (close(fd)) {
        fd = -1;
        nw_err("%s: %s", a->out, strerror(errno));
        goto out;
    }
    fd = -1;
    printf("nbd-writer: %" PRIu64 " lines, %" PRIu64 " bytes replayed into "
           "%s\n", lines, bytes, a->out);
    rc = 0;
out:
    if (fd >= 0)
        close(fd);
    if (rc && created)
        unlink(a->out);         /* no half-built reference left behind */
    return rc;
}

/* ------------------------------------------------------------ verify */

static int cmd_verify(const struct nw_args *a)
{
    struct nw_disk d;
    const char *tmpdir = getenv("TMPDIR");
    char *path = NULL;
    uint8_t *disk_buf = NULL, *ref_buf = NULL;
    uint64_t lines = 0, bytes = 0, off, i;
    size_t n, len;
    int fd = -1, rc = 1;

    if (nw_disk_open(&d, a->uri, false, NW_CHUNK))
        return 1;
    if (!tmpdir || !*tmpdir)
        tmpdir = "/tmp";
    len = strlen(tmpdir) + sizeof("/nbd-writer-verify.XXXXXX");
    path = malloc(len);
    disk_buf = malloc(NW_CHUNK);
    ref_buf = malloc(NW_CHUNK);
    if (!path || !disk_buf || !ref_buf) {
        nw_err("%s: out of memory", a->uri);
        goto out;
    }
    snprintf(path, len, "%s/nbd-writer-verify.XXXXXX", tmpdir);
    fd = mkostemp(path, O_CLOEXEC);
    if (fd < 0) {
        nw_err("%s: cannot create a temporary file: %s", path,
               strerror(errno));
        goto out;
    }
    unlink(path);               /* gone when we exit */
    if (ftruncate(fd, (off_t)d.size)) {
        nw_err("%s: cannot size it to %" PRIu64 " bytes: %s", path, d.size,
               strerror(errno));
        goto out;
    }
    if (nw_apply_log(a->log, fd, path, d.size, &lines, &bytes))
        goto out;
    for (off = 0; off < d.size; off += n) {
        n = d.size - off < NW_CHUNK ? (size_t)(d.size - off) : NW_CHUNK;
        if (nw_disk_io(&d, NW_READ, disk_buf, n, off))
            goto out;
        if (nw_pread_full(fd, ref_buf, n, off)) {
            nw_err("%s: reading at offset %" PRIu64 ": %s", path, off,
                   strerror(errno));
            goto out;
        }
        if (memcmp(disk_buf, ref_buf, n)) {
            for (i = 0; disk_buf[i] == ref_buf[i]; i++)
                ;
            nw_err("%s: differs from the log %s at offset %" PRIu64
                   " (first differing byte: disk 0x%02x, log 0x%02x)",
                   a->uri, a->log, off + i, disk_buf[i], ref_buf[i]);
            goto out;
        }
    }
    printf("nbd-writer: %s matches %s (%" PRIu64 " lines, %" PRIu64
           " bytes compared)\n", a->uri, a->log, lines, d.size);
    rc = 0;
out:
    if (fd >= 0)
        close(fd);
    free(path);
    free(disk_buf);
    free(ref_buf);
    nw_disk_close(&d);
    return rc;
}

/* ------------------------------------------------------------ writing */

/* What fill and run share: the disk, the log, the data buffer. */
struct nw_writer {
    struct nw_disk disk;
    const char *log_path;
    FILE *log;
    uint8_t *buf;
    uint64_t seed, seq, writes, bytes;
    sigset_t stop_signals;      /* SIGTERM, SIGINT: blocked */
    bool stop;                  /* one of them arrived */
};

static void nw_writer_dispose(struct nw_writer *w)
{
    if (w->log)
        fclose(w->log);
    w->log = NULL;
    free(w->buf);
    w->buf = NULL;
    nw_disk_close(&w->disk);
}

/*
 * Block SIGTERM and SIGINT (nw_writer_wait() takes them), allocate @io
 * bytes of buffer, connect, open the log for appending.  On failure
 * (reported) the caller still calls nw_writer_dispose().
 */
static int nw_writer_init(struct nw_writer *w, const struct nw_args *a,
                          size_t io)
{
    memset(w, 0, sizeof(*w));
    w->log_path = a->log;
    w->seed = a->seed;
    sigemptyset(&w->stop_signals);
    sigaddset(&w->stop_signals, SIGTERM);
    sigaddset(&w->stop_signals, SIGINT);
    sigaddset(&w->stop_signals, SIGUSR1);
    if (sigprocmask(SIG_BLOCK, &w->stop_signals, NULL)) {
        nw_err("sigprocmask: %s", strerror(errno));
        return -1;
    }
    w->buf = malloc(io);
    if (!w->buf) {
        nw_err("%s: out of memory for %zu bytes", a->uri, io);
        return -1;
    }
    if (nw_disk_open(&w->disk, a->uri, true, io))
        return -1;
    w->log = fopen(a->log, "ae");
    if (!w->log) {
        nw_err("%s: cannot open the log for appending: %s", a->log,
               strerror(errno));
        return -1;
    }
    return 0;
}

/*
 * Wait up to @ms (0: just look) for SIGTERM or SIGINT; true, and w->stop
 * set, once one has arrived.
 */
static bool nw_writer_wait(struct nw_writer *w, uint64_t ms)
{
    struct timespec ts = nw_ms(ms);

    while (!w->stop) {
        int sig = sigtimedwait(&w->stop_signals, NULL, &ts);

        if (sig == SIGUSR1)
            raise(SIGSTOP);     /* a pause between two writes */
        else if (sig > 0)
            w->stop = true;
        else if (errno != EINTR)
            break;              /* EAGAIN: the time is up */
    }
    return w->stop;
}

/* Write the next write's data at @off, @len bytes; once acknowledged, log
 * it. */
static int nw_writer_put(struct nw_writer *w, uint64_t off, size_t len)
{
    uint64_t h;

    nw_content(w->seed, w->seq, w->buf, len);
    h = nw_hash(w->buf, len);
    if (nw_disk_io(&w->disk, NW_WRITE, w->buf, len, off))
        return -1;
    if (fprintf(w->log, "%" PRIu64 " %" PRIu64 " %" PRIu64 " %zu %016" PRIx64
                "\n", w->seed, w->seq, off, len, h) < 0 ||
        fflush(w->log)) {
        nw_err("%s: appending to the log: %s", w->log_path, strerror(errno));
        return -1;
    }
    w->seq++;
    w->writes++;
    w->bytes += len;
    return 0;
}

/* Flush the disk and print the summary. */
static int nw_writer_finish(struct nw_writer *w)
{
    if (nw_disk_io(&w->disk, NW_FLUSH, NULL, 0, 0))
        return -1;
    printf("nbd-writer: %" PRIu64 " writes, %" PRIu64 " bytes\n", w->writes,
           w->bytes);
    return fflush(stdout) ? -1 : 0;
}

static int cmd_fill(const struct nw_args *a)
{
    struct nw_writer w;
    uint64_t extent = a->given & A_EXTENT ? a->extent : 1u << 20;
    uint64_t s = nw_mix(a->seed ^ NW_PLACE_KEY), n, want, i, off;
    size_t len;
    int rc = 1;

    if (nw_writer_init(&w, a, (size_t)extent))
        goto out;
    n = w.disk.size / extent + (w.disk.size % extent != 0);
    /* round(n * percent / 100) without overflow */
    want = n / 100 * a->percent + (n % 100 * a->percent + 50) / 100;
    /* Knuth's selection sampling: exactly @want of @n, in order. */
    for (i = 0; i < n && want; i++) {
        if (nw_next(&s) % (n - i) >= want)
            continue;
        want--;
        if (nw_writer_wait(&w, 0)) {
            nw_err("%s: fill interrupted after %" PRIu64 " writes (the log "
                   "is complete)", a->uri, w.writes);
            goto out;
        }
        off = i * extent;
        len = (size_t)(w.disk.size - off < extent ? w.disk.size - off
                                                  : extent);
        if (nw_writer_put(&w, off, len))
            goto out;
    }
    if (nw_writer_finish(&w))
        goto out;
    rc = 0;
out:
    nw_writer_dispose(&w);
    return rc;
}

static int cmd_run(const struct nw_args *a)
{
    struct nw_writer w;
    uint64_t max = a->given & A_MAX_SIZE ? a->max_size : 65536;
    uint64_t s = nw_mix(a->seed ^ NW_PLACE_KEY), sectors, off, len;
    struct stat st;
    int rc = 1;

    if (nw_writer_init(&w, a, (size_t)max))
        goto out;
    sectors = w.disk.size / NW_SECTOR;
    for (;;) {
        if ((a->given & A_COUNT) && w.writes >= a->count)
            break;
        if (nw_writer_wait(&w, 0) ||
            (a->stop_file && stat(a->stop_file, &st) == 0))
            break;
        off = nw_next(&s) % sectors * NW_SECTOR;
        len = (1 + nw_next(&s) % (max / NW_SECTOR)) * NW_SECTOR;
        if (len > sectors * NW_SECTOR - off)
            len = sectors * NW_SECTOR - off;
        if (nw_writer_put(&w, off, (size_t)len))
            goto out;
        if (a->interval_ms)
            nw_writer_wait(&w, a->interval_ms);
    }
    if (nw_writer_finish(&w))
        goto out;
    rc = 0;
out:
    nw_writer_dispose(&w);
    return rc;
}

/* ------------------------------------------------------------ commands */

struct nw_cmd {
    const char *name;
    int (*run)(const struct nw_args *a);
    unsigned required, optional;        /* A_* */
    const char *help;
};

static const struct nw_cmd nw_cmds[] = {
    { "fill", cmd_fill, A_URI | A_LOG | A_SEED | A_PERCENT, A_EXTENT,
      "usage: nbd-writer fill --uri URI --log LOG --seed N --percent P "
      "[--extent BYTES]\n"
      "Write deterministic data over P% (0..100) of the NBD disk at URI, as\n"
      "extents of --extent bytes (default 1M, a multiple of 512, at most\n"
      "32M) chosen from the seed (100: the whole disk), appending one line\n"
      "per acknowledged write to LOG; flush at the end.\n" },
    { "run", cmd_run, A_URI | A_LOG | A_SEED,
      A_COUNT | A_MAX_SIZE | A_INTERVAL | A_STOP_FILE,
      "usage: nbd-writer run --uri URI --log LOG --seed N [--count N]\n"
      "           [--max-size BYTES] [--interval-ms N] [--stop-file PATH]\n"
      "Random writes to the NBD disk at URI, one at a time: offsets and\n"
      "lengths multiples of 512, lengths up to --max-size (default 64K, at\n"
      "most 32M); --interval-ms between writes (default 0).  Each\n"
      "acknowledged write is appended to LOG.  A failed write is retried\n"
      "50 times over 5 s, reconnecting when the connection dropped.  Stops\n"
      "after --count writes, on SIGTERM/SIGINT or once PATH exists, then\n"
      "flushes and prints \"nbd-writer: N writes, B bytes\".\n" },
    { "replay", cmd_replay, A_LOG | A_OUT | A_SIZE, 0,
      "usage: nbd-writer replay --log LOG --out REF --size BYTES\n"
      "Build the raw image REF (sparse, BYTES long; replaced if it exists)\n"
      "by applying every line of LOG in order, each checked against its\n"
      "hash and the size.  A failed replay removes REF.\n" },
    { "verify", cmd_verify, A_URI | A_LOG, 0,
      "usage: nbd-writer verify --uri URI --log LOG\n"
      "Replay LOG into a temporary file in $TMPDIR (default /tmp, needs\n"
      "room for the written data) and compare it with the whole NBD disk\n"
      "at URI; exit 1 naming the first differing byte.\n" },
};

static void nw_usage(FILE *f)
{
    size_t i;

    fputs("usage: nbd-writer COMMAND OPTIONS   (nbd-writer COMMAND --help)\n"
          "A guest writing to its NBD disk, with a log that can rebuild it.\n"
          "Commands:\n", f);
    for (i = 0; i < sizeof(nw_cmds) / sizeof(nw_cmds[0]); i++)
        fprintf(f, "  %s\n", nw_cmds[i].name);
    fputs("Sizes take K, M, G, T.  Exit: 0 done, 1 failed, 2 bad "
          "arguments.\n", f);
}

/* Parse argv (argv[0] is the command); 0, 1 for --help, -1 (reported). */
static int nw_parse_args(const struct nw_cmd *c, int argc, char **argv,
                         struct nw_args *a)
{
    unsigned allowed = c->required | c->optional, bit, missing;
    int i, o, idx;

    memset(a, 0, sizeof(*a));
    for (i = 1; i < argc && strcmp(argv[i], "--"); i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h"))
            return 1;
    }
    opterr = 0;
    optind = 1;
    while ((o = getopt_long(argc, argv, ":", nw_options, &idx)) != -1) {
        if (o == ':') {
            nw_err("%s: %s needs a value", c->name, argv[optind - 1]);
            return -1;
        }
        if (o < NW_OPT_BASE) {
            nw_err("%s: unknown option '%s'", c->name, argv[optind - 1]);
            return -1;
        }
        bit = 1u << (o - NW_OPT_BASE);
        if (!(allowed & bit)) {
            nw_err("%s: does not take --%s", c->name, nw_options[idx].name);
            return -1;
        }
        if (a->given & bit) {
            nw_err("%s: --%s given twice", c->name, nw_options[idx].name);
            return -1;
        }
        if (nw_set_option(c->name, a, bit, nw_options[idx].name, optarg))
            return -1;
        a->given |= bit;
    }
    if (optind < argc) {
        nw_err("%s: unexpected argument '%s'", c->name, argv[optind]);
        return -1;
    }
    missing = c->required & ~a->given;
    if (missing) {
        for (i = 0; !(missing & (1u << i)); i++)
            ;
        nw_err("%s: --%s is required (nbd-writer %s --help)", c->name,
               nw_options[i].name, c->name);
        return -1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    const struct nw_cmd *c = NULL;
    struct nw_args a;
    size_t i;
    int r;

    if (argc < 2) {
        nw_usage(stderr);
        return 2;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") ||
        !strcmp(argv[1], "help")) {
        nw_usage(stdout);
        return 0;
    }
    for (i = 0; i < sizeof(nw_cmds) / sizeof(nw_cmds[0]); i++) {
        if (!strcmp(argv[1], nw_cmds[i].name))
            c = &nw_cmds[i];
    }
    if (!c) {
        nw_err("unknown command '%s' (nbd-writer --help)", argv[1]);
        return 2;
    }
    r = nw_parse_args(c, argc - 1, argv + 1, &a);
    if (r == 1) {
        fputs(c->help, stdout);
        return 0;
    }
    if (r)
        return 2;
    /* A dropped connection must be an error to retry, not a signal. */
    signal(SIGPIPE, SIG_IGN);
    return c->run(&a) ? 1 : 0;
}

#endif /* NBD_WRITER_NO_MAIN */

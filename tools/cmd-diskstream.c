/* SPDX-License-Identifier: LGPL-2.1-only */
/*
 * xlmig sxm-receive-data / sxm-send-data: the snapshot's allocated
 * extents through the stream channel (docs/specs/diskstream.md), into
 * the parent export of a destination made by sxm-receive-start.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <netdb.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "addr.h"
#include "cli.h"
#include "cmd-diskstream.h"
#include "diskstream.h"
#include "internal.h"
#include "net.h"
#include "poolconf.h"
#include "progress.h"
#include "sr.h"
#include "sxm.h"
#include "units.h"

#define MIB (1024.0 * 1024.0)

static volatile sig_atomic_t ds_cancel;

static void on_cancel(int sig)
{
    (void)sig;
    ds_cancel = 1;
}

static void signals(void)
{
    xlmig__cli_on_stop(on_cancel);
    signal(SIGPIPE, SIG_IGN);
}

/*
 * The TLS options' first spelling here (docs/specs/diskstream.md until
 * they took the one of the other commands, cli.h): not in --help.
 */
#define XLMIG_DISKSTREAM_TLS_ALIASES \
    { "cert", required_argument, NULL, XLMIG__OPT_TLS_CERT }, \
    { "key", required_argument, NULL, XLMIG__OPT_TLS_KEY }, \
    { "ca", required_argument, NULL, XLMIG__OPT_TLS_CA }

static int usage(FILE *f, const char *cmd, const char *text, int rc)
{
    fprintf(f, "Usage: xlmig %s %s\n", cmd, text);
    return rc;
}

/*
 * Checks the TLS options (cli.h: --tls-cert, --tls-key, --tls-ca,
 * --psk-file, --no-tls; no default directory); false after saying why.
 */
static bool tls_check(const char *me, struct xlmig__cli_tls *t)
{
    char why[256];

    if (xlmig__cli_tls_check(t, NULL, why, sizeof(why)))
        return true;
    fprintf(stderr, "xlmig %s: %s\n", me, why);
    return false;
}

/* --progress: the printer of every tool (progress.h) on standard error. */
static void progress_line(void *opaque,
                          const struct xlmig__diskstream_stats *st)
{
    struct xlmig__progress *pr = opaque;
    char wire[32], detail[64];

    xlmig__progress_human(wire, sizeof(wire), (double)st->wire_bytes);
    snprintf(detail, sizeof(detail), "%s on the wire", wire);
    xlmig__progress_bytes(pr, "data", st->data_done, st->data_total,
                          st->seconds > 0 ? (uint64_t)((double)st->data_done
                                                       / st->seconds) : 0,
                          detail);
}

/* ------------------------------------------------------ receive-data */

const char xlmig_sxm_receive_data_summary[] =
    "Destination of a storage move: take the disk through the channel";
const char xlmig_sxm_receive_data_usage[] =
    "--task TASK | --dst-uri URI, --listen tcp:HOST:PORT TLS [OPTIONS]\n"
    "For a destination made by sxm-receive-start: accepts one connection "
    "at\nHOST:PORT, receives the disk stream of sxm-send-data (compressed, "
    "checked\nframes) and writes it into the task's parent export.  Prints "
    "a summary\nline; exit 0 once END arrived and everything was written "
    "and flushed.\nTLS, one of:\n"
    XLMIG__CLI_TLS_HELP
    "Options:\n"
    "  --dst-uri URI       write into this NBD export instead of a task's "
    "parent\n"
    "                      (tests, benchmarks)\n"
    "  --nbd-tls-dir DIR   the exporter serves TLS: DIR holds ca-cert.pem\n"
    "                      client-cert.pem client-key.pem\n"
    "  --progress          progress on stderr: a bar on a terminal, else "
    "plain lines\n"
    "  --state-dir DIR     records (default $XLMIG_STATE_DIR or "
    "/var/lib/xlmig)\n"
    "  --verbose           say each step\n"
    "  --help              this text\n"
    "SIGINT or SIGTERM stops it; the parent then holds a partial copy "
    "(sxm-receive-cancel).";

static int find_task(libxlmig_ctx *ctx, const char *state_dir,
                     const char *task, struct xlmig__sxm_record *rec_r)
{
    struct xlmig__sxm_record *recs = NULL;
    size_t nr = 0, i;
    int rc;

    rc = xlmig__sxm_list(ctx, state_dir, &recs, &nr);
    if (rc)
        return rc;
    rc = LIBXLMIG_ERR_NOT_FOUND;
    for (i = 0; i < nr; i++) {
        if (strcmp(recs[i].task, task))
            continue;
        if (recs[i].role != XLMIG__SXM_DST ||
            recs[i].phase != XLMIG__SXM_EXPORTED) {
            rc = xlmig__error(ctx, LIBXLMIG_ERR_INVALID_ARGUMENT, -1,
                              "task %s is a %s in phase %s: sxm-receive-data "
                              "needs a destination being served (exported)",
                              task, recs[i].role == XLMIG__SXM_DST
                                    ? "destination" : "source",
                              xlmig__sxm_phase_name(recs[i].phase));
            goto out;
        }
        *rec_r = recs[i];
        rc = 0;
        goto out;
    }
    rc = xlmig__error(ctx, LIBXLMIG_ERR_NOT_FOUND, -1, "no storage move task "
                      "%s in the state directory; see 'xlmig sxm-list'",
                      task);
 out:
    free(recs);
    return rc;
}

/* Listen on HOST:PORT; the socket, or -1 after saying why. */
static int listen_on(const char *me, const char *host, const char *port)
{
    int gai = 0, fd = xlmig__tcp_listen(host, port, 1, &gai, NULL);

    if (fd < 0 && gai)
        fprintf(stderr, "xlmig %s: cannot resolve %s: %s\n", me, host,
                gai_strerror(gai));
    else if (fd < 0)
        fprintf(stderr, "xlmig %s: cannot listen on %s port %s: %s\n", me,
                host, port, strerror(errno));
    return fd;
}

const struct option xlmig_sxm_receive_data_options[] = {
    { "task", required_argument, NULL, 'T' },
    { "listen", required_argument, NULL, 'l' },
    XLMIG__CLI_TLS_OPTIONS,
    XLMIG_DISKSTREAM_TLS_ALIASES,
    { "nbd-tls-dir", required_argument, NULL, 'N' },
    { "dst-uri", required_argument, NULL, 'D' },
    { "progress", no_argument, NULL, 'p' },
    { "state-dir", required_argument, NULL, 'S' },
    { "verbose", no_argument, NULL, 'v' },
    { "help", no_argument, NULL, 'h' },
    { NULL, 0, NULL, 0 },
};

int xlmig_cmd_sxm_receive_data(int argc, char **argv)
{
    static const char me[] = "sxm-receive-data";
    struct xlmig__progress pr;
    const char *task = NULL, *listen_addr = NULL, *state_dir = NULL;
    const char *nbd_tls = NULL, *dst_uri = NULL;
    struct xlmig__diskstream_opts o;
    struct xlmig__diskstream_stats st;
    struct xlmig__sxm_record rec;
    struct xlmig__cli_tls t;
    char host[256], port[16], uri[1024], peer[300];
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    libxlmig_ctx *ctx = NULL;
    bool verbose = false, progress = false;
    int opt, rc, lfd = -1, fd = -1;

    xlmig__cli_tls_init(&t);
    memset(&o, 0, sizeof(o));
    memset(&st, 0, sizeof(st));
    optind = 1;
    while ((opt = getopt_long(argc, argv, "h",
                              xlmig_sxm_receive_data_options,
                              NULL)) != -1) {
        if (xlmig__cli_tls_opt(&t, opt, optarg))
            continue;
        switch (opt) {
        case 'T': task = optarg; break;
        case 'l': listen_addr = optarg; break;
        case 'N': nbd_tls = optarg; break;
        case 'D': dst_uri = optarg; break;
        case 'p': progress = true; break;
        case 'S': state_dir = optarg; break;
        case 'v': verbose = true; break;
        case 'h': return usage(stdout, me, xlmig_sxm_receive_data_usage, 0);
        default:
            return usage(stderr, me, xlmig_sxm_receive_data_usage,
                         XLMIG__EXIT_USAGE);
        }
    }
    if (!task == !dst_uri || !listen_addr || optind < argc) {
        fprintf(stderr, "xlmig %s: needs --task or --dst-uri, and "
                "--listen\n", me);
        return usage(stderr, me, xlmig_sxm_receive_data_usage,
                     XLMIG__EXIT_USAGE);
    }
    if (xlmig__split_tcp(listen_addr, host, sizeof(host), port,
                         sizeof(port))) {
        fprintf(stderr, "xlmig %s: --listen %s is not tcp:HOST:PORT (an "
                "IPv6 HOST in brackets)\n", me, listen_addr);
        return XLMIG__EXIT_USAGE;
    }
    if (!tls_check(me, &t))
        return usage(stderr, me, xlmig_sxm_receive_data_usage,
                     XLMIG__EXIT_USAGE);
    if (libxlmig_ctx_new(NULL, verbose ? LIBXLMIG_LOG_INFO
                                       : LIBXLMIG_LOG_ERROR, &ctx))
        return XLMIG__EXIT_FAILED;
    signals();
    memset(&rec, 0, sizeof(rec));
    if (dst_uri) {
        task = "-";
        xlmig__strlcpy(uri, dst_uri, sizeof(uri));
        xlmig__strlcpy(rec.parent, "-", sizeof(rec.parent));
    } else if ((rc = find_task(ctx, state_dir, task, &rec))) {
        goto out;
    } else if (xlmig__sxm_export_uri(rec.listen, "parent", nbd_tls != NULL, uri,
                              sizeof(uri))) {
        rc = xlmig__error(ctx, LIBXLMIG_ERR_SXM_RECORD_INVALID, -1,
                          "task %s: its exporter address \"%s\" gives no "
                          "NBD URI", task, rec.listen);
        goto out;
    }
    lfd = listen_on(me, host, port);
    if (lfd < 0) {
        rc = LIBXLMIG_ERR_IO;
        goto out;
    }
    printf("%s: task %s: listening on %s:%s\n", me, task, host, port);
    fflush(stdout);
    while ((fd = accept4(lfd, (struct sockaddr *)&ss, &sl, SOCK_CLOEXEC)) < 0) {
        if (errno == EINTR && !ds_cancel)
            continue;
        rc = errno == EINTR ? xlmig__error(ctx, LIBXLMIG_ERR_CANCELLED, -1,
                                           "task %s: stopped before a sender "
                                           "came", task)
                            : xlmig__error(ctx, LIBXLMIG_ERR_IO, errno,
                                           "task %s: accepting on %s", task,
                                           listen_addr);
        goto out;
    }
    close(lfd);
    lfd = -1;
    if (!xlmig__sockaddr_label((struct sockaddr *)&ss, peer, sizeof(peer)))
        xlmig__strlcpy(peer, "the sender", sizeof(peer));
    o.sock_fd = fd;
    rc = xlmig__tcp_transport(ctx, fd, true, xlmig__cli_tls_params(&t, peer),
                              &o.transport);
    if (rc) {
        fd = -1;                /* closed by the transport */
        goto out;
    }
    fd = -1;                    /* the transport owns it now */
    o.dst_uri = uri;
    o.tls_certs_dir = nbd_tls;
    o.peer_label = peer;
    o.cancel = &ds_cancel;
    o.progress = progress ? progress_line : NULL;
    xlmig__progress_init(&pr, stderr, me, !progress);
    o.opaque = &pr;
    rc = xlmig__diskstream_recv(ctx, &o, &st);
    xlmig__progress_end(&pr);
    if (!rc)
        printf("%s: task %s: %" PRIu64 " data bytes in %" PRIu64 " records "
               "written into parent VDI %s (%" PRIu64 " zeroed), %" PRIu64
               " bytes on the wire, %.2f s, flushed\n", me, task,
               st.data_done, st.records, rec.parent, st.zeroed,
               st.wire_bytes, st.seconds);
 out:
    if (lfd >= 0)
        close(lfd);
    if (fd >= 0)
        close(fd);
    libxlmig_ctx_free(ctx);
    return rc ? XLMIG__EXIT_FAILED : XLMIG__EXIT_OK;
}

/* --------------------------------------------------------- send-data */

const char xlmig_sxm_send_data_summary[] =
    "Source of a storage move: send a disk through the channel";
const char xlmig_sxm_send_data_usage[] =
    "--src-uri URI --to tcp:HOST:PORT TLS [OPTIONS]\n"
    "Sends the allocated extents of the NBD export URI (e.g. the "
    "snapshot's\nreader, nbd+unix:///snapshot?socket=PATH) to "
    "sxm-receive-data at HOST:PORT\nthrough the stream channel.  Prints a "
    "summary line.\nTLS, one of:\n"
    XLMIG__CLI_TLS_HELP
    "Options:\n"
    "  --codec C           " XLMIG__CODEC_RULE " (default zstd)\n"
    "  --level N           the codec's level\n"
    "  --threads N         encoding threads (default: one per CPU)\n"
    "  --bwlimit RATE      " XLMIG__RATE_HELP "\n"
    "  --chunk BYTES       bytes per DATA record (64k to 32M, default 4M)\n"
    "  --send-zeros        send zero extents as ZERO records (a destination"
    "\n                      that does not read as zeros)\n"
    "  --nbd-tls-dir DIR   the source URI is nbds: ca-cert.pem "
    "client-cert.pem\n                      client-key.pem\n"
    "  --progress          progress on stderr: a bar on a terminal, else "
    "plain lines\n"
    "  --verbose           say each step\n"
    "  --help              this text\n"
    "SIGINT or SIGTERM cancels.";

static int connect_tcp(const char *me, const char *host, const char *port)
{
    int fd, r, err;

    fd = xlmig__tcp_connect(host, port, &r);
    if (fd < 0 && r) {
        fprintf(stderr, "xlmig %s: cannot resolve %s: %s\n", me, host,
                gai_strerror(r));
        return -1;
    }
    err = errno;
    if (fd < 0)
        fprintf(stderr, "xlmig %s: cannot connect to %s:%s: %s: is 'xlmig "
                "sxm-receive-data' listening there?\n", me, host, port,
                strerror(err));
    return fd;
}

const struct option xlmig_sxm_send_data_options[] = {
    { "src-uri", required_argument, NULL, 'u' },
    { "to", required_argument, NULL, 't' },
    { "codec", required_argument, NULL, 'C' },
    { "level", required_argument, NULL, 'L' },
    { "threads", required_argument, NULL, 'j' },
    { "bwlimit", required_argument, NULL, 'b' },
    { "chunk", required_argument, NULL, 'c' },
    { "send-zeros", no_argument, NULL, 'z' },
    XLMIG__CLI_TLS_OPTIONS,
    XLMIG_DISKSTREAM_TLS_ALIASES,
    { "nbd-tls-dir", required_argument, NULL, 'N' },
    { "progress", no_argument, NULL, 'p' },
    { "verbose", no_argument, NULL, 'v' },
    { "help", no_argument, NULL, 'h' },
    { NULL, 0, NULL, 0 },
};

int xlmig_cmd_sxm_send_data(int argc, char **argv)
{
    static const char me[] = "sxm-send-data";
    struct xlmig__progress pr;
    const char *to = NULL, *bw = NULL, *chunk = NULL, *level = NULL;
    const char *threads = NULL, *codec = NULL;
    struct xlmig__diskstream_opts o;
    struct xlmig__diskstream_stats st;
    libxlmig_channel_params p;
    struct xlmig__cli_tls t;
    char host[256], port[16], peer[300], why[256];
    libxlmig_ctx *ctx = NULL;
    bool verbose = false, progress = false;
    uint64_t v;
    int opt, rc, fd = -1;

    xlmig__cli_tls_init(&t);
    memset(&o, 0, sizeof(o));
    memset(&st, 0, sizeof(st));
    libxlmig_channel_params_init(&p);
    optind = 1;
    while ((opt = getopt_long(argc, argv, "h",
                              xlmig_sxm_send_data_options,
                              NULL)) != -1) {
        if (xlmig__cli_tls_opt(&t, opt, optarg))
            continue;
        switch (opt) {
        case 'u': o.src_uri = optarg; break;
        case 't': to = optarg; break;
        case 'C': codec = optarg; break;
        case 'L': level = optarg; break;
        case 'j': threads = optarg; break;
        case 'b': bw = optarg; break;
        case 'c': chunk = optarg; break;
        case 'z': o.send_zeros = true; break;
        case 'N': o.tls_certs_dir = optarg; break;
        case 'p': progress = true; break;
        case 'v': verbose = true; break;
        case 'h': return usage(stdout, me, xlmig_sxm_send_data_usage, 0);
        default:
            return usage(stderr, me, xlmig_sxm_send_data_usage,
                         XLMIG__EXIT_USAGE);
        }
    }
    if (!o.src_uri || !to || optind < argc) {
        fprintf(stderr, "xlmig %s: needs --src-uri and --to\n", me);
        return usage(stderr, me, xlmig_sxm_send_data_usage,
                     XLMIG__EXIT_USAGE);
    }
    if (xlmig__split_tcp(to, host, sizeof(host), port, sizeof(port))) {
        fprintf(stderr, "xlmig %s: --to %s is not tcp:HOST:PORT (an IPv6 HOST "
                "in brackets)\n", me, to);
        return XLMIG__EXIT_USAGE;
    }
    if ((codec && !xlmig__cli_codec("--codec", codec, &p.codec, why,
                                    sizeof(why))) ||
        (level && !xlmig__cli_level("--level", level, &p.level, why,
                                    sizeof(why))) ||
        (threads && !xlmig__cli_threads("--threads", threads, &p.threads,
                                        why, sizeof(why)))) {
        fprintf(stderr, "xlmig %s: %s\n", me, why);
        return XLMIG__EXIT_USAGE;
    }
    if (!tls_check(me, &t))
        return usage(stderr, me, xlmig_sxm_send_data_usage,
                     XLMIG__EXIT_USAGE);
    if (libxlmig_ctx_new(NULL, verbose ? LIBXLMIG_LOG_INFO
                                       : LIBXLMIG_LOG_ERROR, &ctx))
        return XLMIG__EXIT_FAILED;
    if (bw && xlmig__rate_parse(ctx, "--bwlimit", bw, &p.bwlimit)) {
        libxlmig_ctx_free(ctx);
        return XLMIG__EXIT_USAGE;
    }
    if (chunk) {
        if (xlmig__size_parse(ctx, "--chunk", chunk, &v)) {
            libxlmig_ctx_free(ctx);
            return XLMIG__EXIT_USAGE;
        }
        o.chunk = (size_t)v;
    }
    signals();
    fd = connect_tcp(me, host, port);
    if (fd < 0) {
        rc = LIBXLMIG_ERR_IO;
        goto out;
    }
    xlmig__join_hostport(host, port, peer, sizeof(peer));
    o.sock_fd = fd;
    rc = xlmig__tcp_transport(ctx, fd, false,
                              xlmig__cli_tls_params(&t, peer), &o.transport);
    fd = -1;                    /* the transport owns it (or closed it) */
    if (rc) goto out;
    o.params = &p;
    o.peer_label = peer;
    o.cancel = &ds_cancel;
    o.progress = progress ? progress_line : NULL;
    xlmig__progress_init(&pr, stderr, me, !progress);
    o.opaque = &pr;
    rc = xlmig__diskstream_send(ctx, &o, &st);
    xlmig__progress_end(&pr);
    if (!rc)
        printf("%s: %" PRIu64 " data bytes of %" PRIu64 " (%" PRIu64 " found "
               "zero), %" PRIu64 " stream bytes, %" PRIu64 " bytes on the "
               "wire (%.3f of the data), %.2f s\n", me, st.data_done,
               st.virtual_size, st.zero_skipped, st.stream_bytes,
               st.wire_bytes, st.data_done ? (double)st.wire_bytes /
                                             (double)st.data_done : 0.0,
               st.seconds);
 out:
    if (fd >= 0)
        close(fd);
    libxlmig_ctx_free(ctx);
    return rc ? XLMIG__EXIT_FAILED : XLMIG__EXIT_OK;
}

/* SPDX-License-Identifier: LGPL-2.1-only */
/*
 * xlmig channel-send / channel-listen (docs/channel-cli.md).
 *
 * channel-send is what `xl migrate -s "xlmig channel-send ..." DOM HOST`
 * runs as `exec xlmig channel-send ... HOST xl migrate-receive ...`: it
 * connects to channel-listen on HOST, authenticates with TLS 1.3, asks
 * it to start the receiving xl (the launch request), opens the channel
 * as sender and relays its stdin (xl's stream) into the channel and the
 * channel (the receiving xl's replies) to its stdout, both at once.
 *
 * channel-listen accepts connections (a child process each, or one with
 * --once), authenticates, checks the launch request against the
 * whitelist, starts xl with pipes on its stdin and stdout and relays
 * between them and the channel.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "addr.h"
#include "cli.h"
#include "cmd-channel.h"
#include "cpurecord.h"
#include "internal.h"
#include "jsonfile.h"
#include "net.h"
#include "poolconf.h"
#include "proc.h"
#include "progress.h"
#include "launch.h"
#include "transport.h"
#include "units.h"

#define DEFAULT_PORT 8022
#define TLS_DIR "/etc/xlmig/tls"
#define FAIL_GRACE_MS 3000

const char xlmig_channel_send_summary[] =
    "Carry an xl migration stream to HOST: the transport of "
    "'xl migrate -s'";
const char xlmig_channel_send_usage[] =
    "[OPTIONS] HOST[:PORT] [xl ... migrate-receive ...]\n"
    "Run by 'xl migrate -s \"xlmig channel-send [OPTIONS]\" DOM HOST', "
    "which appends\nHOST and the receiving xl command.  Relays standard "
    "input to HOST's\n'xlmig channel-listen' (port 8022 unless given) and "
    "its answers to standard\noutput; exits 0 only if both directions "
    "ended cleanly.\n"
    "  --codec=C            " XLMIG__CODEC_RULE " (default zstd)\n"
    "  --level=N            codec level (default: the codec's)\n"
    "  --threads=N          compression threads (default: one per CPU)\n"
    "  --no-page-aware      do not follow the stream's pages (no zero "
    "pages/deltas)\n"
    "  --page-cache=PAGES   pages remembered for deltas, or auto (default: a\n"
    "                       sixth of the memory available, at most 65536)\n"
    "  --bwlimit=RATE       " XLMIG__RATE_HELP "\n"
    XLMIG__CLI_TLS_HELP
    "  (none of these)      TLS with " TLS_DIR "/{cert,key,ca}.pem, else "
    "with\n"
    "                       " TLS_DIR "/psk\n"
    "  --progress           progress on standard error: a line redrawn "
    "each second\n"
    "                       on a terminal, else a line every 10 s; the "
    "totals at the\n"
    "                       end\n"
    "  --control=PATH       unix socket taking 'bwlimit RATE' and "
    "'progress' lines\n"
    "  --vm=NAME            the VM being migrated: send the CPU it booted "
    "with (its\n"
    "                       record in the state directory, or read from "
    "Xen and\n"
    "                       recorded now), so that HOST refuses a VM its "
    "CPU cannot\n"
    "                       run (VM_INCOMPATIBLE_WITH_THIS_HOST, naming "
    "the missing\n"
    "                       features) before anything is sent\n"
    "  --force              let HOST accept the VM whatever its CPU "
    "(warns)\n"
    "  --state-dir=DIR      where CPU records live (default $XLMIG_STATE_DIR "
    "or\n"
    "                       " XLMIG__STATE_DIR_DEFAULT ")\n"
    "  --verbose            debug messages\n"
    "  --help               this text";
const char xlmig_channel_listen_summary[] =
    "Accept channel-send connections and run 'xl migrate-receive' for "
    "them";
const char xlmig_channel_listen_usage[] =
    "[OPTIONS] [--bind ADDR] [--port N] [--once] [--xl PATH]\n"
    "Runs on the destination.  For each connection: TLS, the launch "
    "request (only\n'xl [-v...] [-t] [-T] migrate-receive [-F -e -d -r -p "
    "--colo\n--userspace-colo-proxy]' is ever run), then xl with its "
    "stdin and stdout\nrelayed to the channel; reports xl's exit "
    "status.\n"
    "  --bind=ADDR          address to listen on (default: all)\n"
    "  --port=N             TCP port (default 8022; 0: any free one)\n"
    "  --port-file=F        write the port to F once listening\n"
    "  --once               serve one connection, exit with its status\n"
    "  --xl=PATH            the xl to run (default: xl from PATH)\n"
    "  --tls-cert=F --tls-key=F --tls-ca=F --psk-file=F --peer-name=NAME "
    "--no-tls\n"
    "                       as for channel-send\n"
    "  --codec, --level, --threads, --no-page-aware, --page-cache,\n"
    "  --bwlimit, --progress, --verbose  as for channel-send (they apply "
    "to the\n"
    "                       direction back to the sender)\n"
    "  --control=PATH       as for channel-send; with --once only\n"
    "  --cpu-record=FILE    check incoming VMs (channel-send --vm) against "
    "this host\n"
    "                       record, e.g. the destination pool's level, "
    "instead of\n"
    "                       this host's own featuresets read from Xen\n"
    "  --state-dir=DIR      where an accepted VM's CPU record is kept "
    "(default\n"
    "                       $XLMIG_STATE_DIR or " XLMIG__STATE_DIR_DEFAULT
    ")\n"
    "  --help               this text";

/* ------------------------------------------------------------------ */
/* Options                                                            */
/* ------------------------------------------------------------------ */

struct opts {
    const char *cmd;                /* "channel-send", for messages */
    libxlmig_channel_params ch;
    struct xlmig__cli_tls tls;
    bool progress;
    bool verbose;
    const char *control;
    /* channel-listen */
    const char *bind;
    int port;
    const char *port_file;
    bool once;
    const char *xl;
    /* CPU checks */
    const char *vm;
    bool force;
    const char *state_dir;
    const char *cpu_record;
};

enum {
    O_CODEC = 0x100, O_LEVEL, O_THREADS, O_NO_PAGE, O_PAGE_CACHE,
    O_BWLIMIT, O_PROGRESS, O_CONTROL, O_BIND, O_PORT, O_PORT_FILE, O_ONCE,
    O_XL, O_VM, O_FORCE, O_STATE_DIR, O_CPU_RECORD,
};

/*
 * Each command's table is its one list of options: getopt_long() parses
 * with it and `xlmig --complete options` offers it (an option of the
 * other command is unknown).  The options both take come first (for
 * channel-listen they set the direction back to the sender).
 */
#define CHANNEL_OPTIONS \
    { "codec", required_argument, NULL, O_CODEC }, \
    /* The spelling of old (README, scripts): not in --help. */ \
    { "compress", required_argument, NULL, O_CODEC }, \
    { "level", required_argument, NULL, O_LEVEL }, \
    { "threads", required_argument, NULL, O_THREADS }, \
    { "no-page-aware", no_argument, NULL, O_NO_PAGE }, \
    { "page-cache", required_argument, NULL, O_PAGE_CACHE }, \
    { "bwlimit", required_argument, NULL, O_BWLIMIT }, \
    XLMIG__CLI_TLS_OPTIONS, \
    { "progress", no_argument, NULL, O_PROGRESS }, \
    { "control", required_argument, NULL, O_CONTROL }, \
    { "state-dir", required_argument, NULL, O_STATE_DIR }, \
    { "verbose", no_argument, NULL, 'v' }, \
    { "help", no_argument, NULL, 'h' }

const struct option xlmig_channel_send_options[] = {
    CHANNEL_OPTIONS,
    { "vm", required_argument, NULL, O_VM },
    { "force", no_argument, NULL, O_FORCE },
    { NULL, 0, NULL, 0 },
};

const struct option xlmig_channel_listen_options[] = {
    CHANNEL_OPTIONS,
    { "bind", required_argument, NULL, O_BIND },
    { "port", required_argument, NULL, O_PORT },
    { "port-file", required_argument, NULL, O_PORT_FILE },
    { "once", no_argument, NULL, O_ONCE },
    { "xl", required_argument, NULL, O_XL },
    { "cpu-record", required_argument, NULL, O_CPU_RECORD },
    { NULL, 0, NULL, 0 },
};

static void usage(FILE *f, const char *cmd)
{
    bool send = !strcmp(cmd, "channel-send");

    fprintf(f, "Usage: xlmig %s %s\n\n%s.\n", cmd,
            send ? xlmig_channel_send_usage : xlmig_channel_listen_usage,
            send ? xlmig_channel_send_summary
                 : xlmig_channel_listen_summary);
}

/*
 * Parse the options; returns the index of the first operand, or -1
 * after printing a usage error, or -2 after --help.
 */
static int parse_opts(int argc, char **argv, struct opts *o, bool send)
{
    char why[256];
    int opt;
    unsigned long v;

    memset(o, 0, sizeof(*o));
    o->cmd = send ? "channel-send" : "channel-listen";
    libxlmig_channel_params_init(&o->ch);
    xlmig__cli_tls_init(&o->tls);
    o->port = DEFAULT_PORT;
    optind = 1;
    opterr = 1;
    /* '+': stop at HOST, so that xl's words after it are left alone. */
    while ((opt = getopt_long(argc, argv, "+hv",
                              send ? xlmig_channel_send_options
                                   : xlmig_channel_listen_options,
                              NULL)) != -1) {
        const char *bad = NULL;

        switch (opt) {
        case 'h':
            usage(stdout, o->cmd);
            return -2;
        case 'v':
            o->verbose = true;
            break;
        case O_CODEC:
            if (!xlmig__cli_codec("--codec", optarg, &o->ch.codec, why,
                                  sizeof(why)))
                bad = why;
            break;
        case O_LEVEL:
            if (!xlmig__cli_level("--level", optarg, &o->ch.level, why,
                                  sizeof(why)))
                bad = why;
            break;
        case O_THREADS:
            if (!xlmig__cli_threads("--threads", optarg, &o->ch.threads,
                                    why, sizeof(why)))
                bad = why;
            break;
        case O_NO_PAGE:
            o->ch.page_aware = false;
            break;
        case O_PAGE_CACHE:
            if (!strcmp(optarg, "auto"))
                o->ch.page_cache_pages = LIBXLMIG_PAGE_CACHE_AUTO;
            else if (!xlmig__cli_uint(optarg, 1u << 20, &v))
                bad = "--page-cache takes 0 to 1048576 pages, or auto";
            else
                o->ch.page_cache_pages = (uint32_t)v;
            break;
        case O_BWLIMIT:
            if (!xlmig__rate_ok("--bwlimit", optarg, &o->ch.bwlimit, why,
                                sizeof(why)))
                bad = why;
            break;
        case O_PROGRESS:
            o->progress = true;
            break;
        case O_CONTROL:
            o->control = optarg;
            break;
        case O_STATE_DIR:
            o->state_dir = optarg;
            break;
        case O_VM:
            o->vm = optarg;
            break;
        case O_FORCE:
            o->force = true;
            break;
        case O_CPU_RECORD:
            o->cpu_record = optarg;
            break;
        case O_BIND:
            o->bind = optarg;
            break;
        case O_PORT_FILE:
            o->port_file = optarg;
            break;
        case O_ONCE:
            o->once = true;
            break;
        case O_XL:
            o->xl = optarg;
            break;
        case O_PORT:
            if (!xlmig__cli_uint(optarg, 65535, &v))
                bad = "--port takes 0 to 65535";
            else
                o->port = (int)v;
            break;
        default:
            if (xlmig__cli_tls_opt(&o->tls, opt, optarg))
                break;
            usage(stderr, o->cmd);
            return -1;
        }
        if (bad) {
            fprintf(stderr, "xlmig %s: %s\n", o->cmd, bad);
            return -1;
        }
    }

    /* TLS material: given, or the host's defaults, or --no-tls. */
    if (!xlmig__cli_tls_check(&o->tls, TLS_DIR, why, sizeof(why))) {
        fprintf(stderr, "xlmig %s: %s\n", o->cmd, why);
        return -1;
    }
    return optind;
}

/* ------------------------------------------------------------------ */
/* Progress and the control socket                                    */
/* ------------------------------------------------------------------ */

/* The channel the progress and control threads look at, or NULL. */
static pthread_mutex_t live_lock = PTHREAD_MUTEX_INITIALIZER;
static libxlmig_channel *live_ch;
static char control_path[sizeof(((struct sockaddr_un *)0)->sun_path)];

static void set_live(libxlmig_channel *ch)
{
    pthread_mutex_lock(&live_lock);
    live_ch = ch;
    pthread_mutex_unlock(&live_lock);
}

/*
 * The live channel's counters into *p; false if there is none.  With
 * @full the whole line (the control socket's "progress", the last
 * word), else what the progress printer shows after the bytes and rate.
 */
static bool progress_line(char *buf, size_t len, bool full,
                          libxlmig_channel_progress *p_r)
{
    libxlmig_channel_progress p;
    char in[32], out[32], rate[32], lim[32], rcv[32], dlv[32];
    double ratio;

    pthread_mutex_lock(&live_lock);
    if (!live_ch) {
        pthread_mutex_unlock(&live_lock);
        return false;
    }
    libxlmig_channel_get_progress(live_ch, &p);
    pthread_mutex_unlock(&live_lock);
    xlmig__progress_human(in, sizeof(in), (double)p.bytes_in);
    xlmig__progress_human(out, sizeof(out), (double)p.bytes_out);
    xlmig__progress_human(rcv, sizeof(rcv), (double)p.bytes_received);
    xlmig__progress_human(dlv, sizeof(dlv), (double)p.bytes_delivered);
    xlmig__progress_human(rate, sizeof(rate), (double)p.rate);
    if (p.bwlimit)
        xlmig__progress_human(lim, sizeof(lim), (double)p.bwlimit);
    else
        snprintf(lim, sizeof(lim), "none");
    ratio = p.bytes_out ? (double)p.bytes_in / (double)p.bytes_out : 0;
    if (full)
        snprintf(buf, len, "sent: in %s out %s ratio %.2f pages %" PRIu64
                 " zero %" PRIu64 " delta %" PRIu64 " rate %s/s bwlimit "
                 "%s%s; received: %s wire, %s stream; receive CPU: "
                 "network %.3f s, decode %.3f s",
                 in, out, ratio, p.pages, p.zero_pages, p.delta_pages, rate,
                 lim, p.bwlimit ? "/s" : "", rcv, dlv,
                 (double)p.recv_net_cpu_ns / 1e9,
                 (double)p.recv_decode_cpu_ns / 1e9);
    else
        snprintf(buf, len, "out %s ratio %.2f pages %" PRIu64 " zero %"
                 PRIu64 " delta %" PRIu64 " bwlimit %s%s; received: %s "
                 "wire, %s stream", out, ratio, p.pages, p.zero_pages,
                 p.delta_pages, lim, p.bwlimit ? "/s" : "", rcv, dlv);
    if (p_r)
        *p_r = p;
    return true;
}

/*
 * --progress: the printer of every tool (progress.h) on standard error,
 * fed each second by its own thread; pr_lock keeps it and the last word
 * apart.
 */
static pthread_mutex_t pr_lock = PTHREAD_MUTEX_INITIALIZER;
static struct xlmig__progress pr;
static char pr_label[64];

static void *progress_main(void *arg)
{
    libxlmig_channel_progress p;
    char line[512];

    (void)arg;
    for (;;) {
        sleep(1);
        if (!progress_line(line, sizeof(line), false, &p))
            continue;
        pthread_mutex_lock(&pr_lock);
        xlmig__progress_bytes(&pr, "stream", p.bytes_in, 0, p.rate, line);
        pthread_mutex_unlock(&pr_lock);
    }
    return NULL;
}

/* The last word of --progress: "xlmig CMD: done: sent: ...". */
static void progress_done(void)
{
    char line[512];

    if (!progress_line(line, sizeof(line), true, NULL))
        return;
    pthread_mutex_lock(&pr_lock);
    xlmig__progress_say(&pr, "done: %s", line);
    pthread_mutex_unlock(&pr_lock);
}

static void control_reply(int fd, const char *line)
{
    char reply[600], why[256];
    uint64_t rate;

    if (!strncmp(line, "bwlimit ", 8)) {
        if (!xlmig__rate_ok("bwlimit", line + 8, &rate, why, sizeof(why))) {
            snprintf(reply, sizeof(reply), "error: %s\n", why);
        } else {
            pthread_mutex_lock(&live_lock);
            if (live_ch)
                libxlmig_channel_set_bwlimit(live_ch, rate);
            pthread_mutex_unlock(&live_lock);
            snprintf(reply, sizeof(reply), "ok bwlimit %" PRIu64 "\n",
                     rate);
        }
    } else if (!strcmp(line, "progress")) {
        char p[512];

        if (progress_line(p, sizeof(p), true, NULL))
            snprintf(reply, sizeof(reply), "%s\n", p);
        else
            snprintf(reply, sizeof(reply), "no stream yet\n");
    } else {
        snprintf(reply, sizeof(reply), "error: unknown command: use "
                 "'bwlimit RATE' or 'progress'\n");
    }
    (void)xlmig__write_all(fd, reply, strlen(reply));
}

static void *control_main(void *arg)
{
    int lfd = (int)(intptr_t)arg;

    for (;;) {
        char line[256];
        size_t n = 0;
        int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);

        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            return NULL;
        }
        for (;;) {
            ssize_t r = read(fd, line + n, 1);

            if (r <= 0)
                break;
            if (line[n] == '\n' || n == sizeof(line) - 2) {
                line[n] = '\0';
                if (n && line[n - 1] == '\r')
                    line[n - 1] = '\0';
                control_reply(fd, line);
                n = 0;
                continue;
            }
            n++;
        }
        close(fd);
    }
    return NULL;
}

static void control_cleanup(void)
{
    if (control_path[0])
        unlink(control_path);
}

/* Start the helper threads the options ask for; 0 or -1 (said why). */
static int start_helpers(const struct opts *o)
{
    pthread_t th;

    if (o->control) {
        struct sockaddr_un a = { .sun_family = AF_UNIX };
        int fd;

        if (strlen(o->control) >= sizeof(a.sun_path)) {
            fprintf(stderr, "xlmig %s: --control path too long\n", o->cmd);
            return -1;
        }
        strcpy(a.sun_path, o->control);
        unlink(o->control);
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 ||
            listen(fd, 4) < 0) {
            fprintf(stderr, "xlmig %s: cannot listen on the control socket "
                    "%s: %s\n", o->cmd, o->control, strerror(errno));
            if (fd >= 0)
                close(fd);
            return -1;
        }
        strcpy(control_path, o->control);
        atexit(control_cleanup);
        if (pthread_create(&th, NULL, control_main, (void *)(intptr_t)fd)) {
            fprintf(stderr, "xlmig %s: cannot start a thread\n", o->cmd);
            return -1;
        }
        pthread_detach(th);
    }
    if (o->progress) {
        snprintf(pr_label, sizeof(pr_label), "xlmig %s", o->cmd);
        xlmig__progress_init(&pr, stderr, pr_label, false);
        if (pthread_create(&th, NULL, progress_main, NULL)) {
            fprintf(stderr, "xlmig %s: cannot start a thread\n", o->cmd);
            return -1;
        }
        pthread_detach(th);
    }
    return 0;
}

/* ------------------------------------------------------------------ */
/* The relay: two directions at once                                  */
/* ------------------------------------------------------------------ */

struct relay {
    libxlmig_channel *ch;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int send_rc, recv_rc;
    bool send_done, recv_done;
    int send_in;                /* read by send_fd */
    int recv_out;               /* written by recv_fd; closed after */
};

static void *relay_send(void *arg)
{
    struct relay *r = arg;
    int rc = libxlmig_channel_send_fd(r->ch, r->send_in);

    pthread_mutex_lock(&r->lock);
    r->send_rc = rc;
    r->send_done = true;
    pthread_cond_broadcast(&r->cond);
    pthread_mutex_unlock(&r->lock);
    return NULL;
}

static void *relay_recv(void *arg)
{
    struct relay *r = arg;
    int rc = libxlmig_channel_recv_fd(r->ch, r->recv_out);

    /* The local peer sees the end (or the failure) now. */
    close(r->recv_out);
    pthread_mutex_lock(&r->lock);
    r->recv_rc = rc;
    r->recv_done = true;
    pthread_cond_broadcast(&r->cond);
    pthread_mutex_unlock(&r->lock);
    return NULL;
}

static uint64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/*
 * Relay until both directions are done.  When one fails, @on_fail runs
 * (it unblocks the other direction: shuts the socket down, closes
 * pipes), and if the other direction still has not ended after a grace
 * period the process exits with XLMIG__EXIT_FAILED (the failure has
 * been said).  The exit status: XLMIG__EXIT_OK when both ended cleanly.
 */
static int relay_run(struct relay *r, void (*on_fail)(void *), void *opaque,
                     const char *cmd)
{
    pthread_t ts, tr;
    bool failed = false;
    uint64_t give_up = 0;

    pthread_mutex_init(&r->lock, NULL);
    pthread_cond_init(&r->cond, NULL);
    if (pthread_create(&ts, NULL, relay_send, r) ||
        pthread_create(&tr, NULL, relay_recv, r)) {
        fprintf(stderr, "xlmig %s: cannot start the relay threads\n", cmd);
        fflush(stderr);
        _exit(XLMIG__EXIT_FAILED);
    }
    pthread_mutex_lock(&r->lock);
    while (!(r->send_done && r->recv_done)) {
        struct timespec dl;

        if (!failed && ((r->send_done && r->send_rc) ||
                        (r->recv_done && r->recv_rc))) {
            failed = true;
            give_up = now_ms() + FAIL_GRACE_MS;
            pthread_mutex_unlock(&r->lock);
            on_fail(opaque);
            pthread_mutex_lock(&r->lock);
            continue;
        }
        if (failed && now_ms() >= give_up) {
            pthread_mutex_unlock(&r->lock);
            fprintf(stderr, "xlmig %s: the stream failed; not waiting for "
                    "the other direction\n", cmd);
            fflush(stderr);
            control_cleanup();
            _exit(XLMIG__EXIT_FAILED);
        }
        clock_gettime(CLOCK_REALTIME, &dl);
        dl.tv_nsec += 200 * 1000000L;
        if (dl.tv_nsec >= 1000000000L) {
            dl.tv_sec++;
            dl.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&r->cond, &r->lock, &dl);
    }
    pthread_mutex_unlock(&r->lock);
    pthread_join(ts, NULL);
    pthread_join(tr, NULL);
    pthread_cond_destroy(&r->cond);
    pthread_mutex_destroy(&r->lock);
    return r->send_rc || r->recv_rc ? XLMIG__EXIT_FAILED
                                     : XLMIG__EXIT_OK;
}

/* ------------------------------------------------------------------ */
/* Connections                                                        */
/* ------------------------------------------------------------------ */

static int make_ctx(const struct opts *o, libxlmig_ctx **ctx_r)
{
    int rc = libxlmig_ctx_new(NULL, o->verbose ? LIBXLMIG_LOG_DEBUG
                                               : LIBXLMIG_LOG_WARN, ctx_r);

    if (rc)
        fprintf(stderr, "xlmig %s: %s: cannot create a libxlmig "
                "context\n", o->cmd, libxlmig_strerror_name(rc));
    return rc;
}

/* Wrap @fd (owned from here) in TLS or the plain transport. */
static int open_transport(libxlmig_ctx *ctx, struct opts *o, int fd,
                          bool server, const char *peer,
                          libxlmig_transport **t_r)
{
    return xlmig__tcp_transport(ctx, fd, server,
                                xlmig__cli_tls_params(&o->tls, peer), t_r);
}

static int connect_to(const char *cmd, const char *host, const char *port,
                      const char *label)
{
    int fd, r, err;

    fd = xlmig__tcp_connect(host, port, &r);
    if (fd < 0 && r) {
        fprintf(stderr, "xlmig %s: cannot resolve %s: %s\n", cmd, label,
                gai_strerror(r));
        return -1;
    }
    err = errno;
    if (fd < 0)
        fprintf(stderr, "xlmig %s: cannot connect to %s: %s: is 'xlmig "
                "channel-listen' running there (default port %d), and "
                "does the firewall let it through?\n", cmd, label,
                strerror(err), DEFAULT_PORT);
    return fd;
}

/* ------------------------------------------------------------------ */
/* channel-send                                                       */
/* ------------------------------------------------------------------ */

static int sock_to_shut = -1;

static void send_on_fail(void *opaque)
{
    (void)opaque;
    /* Both threads see the failure; xl sees our end on its pipe. */
    if (sock_to_shut >= 0)
        shutdown(sock_to_shut, SHUT_RDWR);
    close(STDOUT_FILENO);
}

/* ------------------------------------------------------------------ */
/* CPU checks (channel-send --vm, channel-listen)                      */
/* ------------------------------------------------------------------ */

/*
 * The sender: what VM @o->vm booted with, from its record, or read from
 * Xen now (first seen) and recorded.  Fills @m.
 */
static int vm_meta(libxlmig_ctx *ctx, const struct opts *o,
                   struct xlmig__launch_meta *m)
{
    const char *dir = xlmig__state_dir(o->state_dir);
    struct xlmig__vm_record rec;
    int rc;

    memset(m, 0, sizeof(*m));
    rc = xlmig__name_check(ctx, "VM name (--vm)", o->vm);
    if (rc) return rc;
    rc = xlmig__vm_record_load(ctx, dir, o->vm, &rec);
    if (rc == LIBXLMIG_ERR_NOT_FOUND) {
        rc = xlmig__vm_cpu_read(ctx, o->vm, &rec);
        if (rc) return rc;
        rc = xlmig__vm_record_save(ctx, dir, &rec);
        if (rc) return rc;
        fprintf(stderr, "xlmig %s: recorded the CPU VM %s booted with in "
                "%s\n", o->cmd, o->vm, dir);
    } else if (rc) {
        return rc;
    }
    m->has_vm = true;
    xlmig__strlcpy(m->vm, rec.name, sizeof(m->vm));
    m->has_cpu = true;
    m->type = rec.type;
    m->cpu = rec.cpu;
    m->force = o->force;
    return 0;
}

/* A host record from @path (the listener's --cpu-record). */
static int host_record_file(libxlmig_ctx *ctx, const char *path,
                            struct xlmig__host_record *r)
{
    uint8_t *buf = NULL;
    struct stat st;
    size_t got = 0;
    int fd, rc;

    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return xlmig__error(ctx, LIBXLMIG_ERR_NOT_FOUND, errno,
                            "cannot open the host CPU record %s", path);
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) ||
        st.st_size > (off_t)XLMIG__RECORD_FILE_MAX) {
        close(fd);
        return xlmig__error(ctx, LIBXLMIG_ERR_RECORD_INVALID, -1,
                            "%s is not a host CPU record (not a regular "
                            "file of at most %u bytes)", path,
                            XLMIG__RECORD_FILE_MAX);
    }
    buf = malloc((size_t)st.st_size + 1);
    if (!buf) {
        close(fd);
        return LIBXLMIG_ERR_NO_MEMORY;
    }
    while (got < (size_t)st.st_size) {
        ssize_t n = read(fd, buf + got, (size_t)st.st_size - got);

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    close(fd);
    rc = xlmig__host_record_decode(ctx, path, buf, got, r);
    free(buf);
    return rc;
}

/*
 * The listener: may the VM in @m run here?  0 (also when the sender said
 * nothing about a VM), or an error whose last_error is the reason.
 */
static int cpu_gate(libxlmig_ctx *ctx, const struct opts *o,
                    const struct xlmig__launch_meta *m, const char *peer)
{
    struct xlmig__host_record hr;
    libxlmig_cpu_host dest;
    libxlmig_featureset missing;
    char host[XLMIG__RECORD_NAME_MAX + 1];
    int rc;

    if (!m->has_vm)
        return 0;
    if (!m->has_cpu) {
        fprintf(stderr, "xlmig %s: %s sent VM %s without its CPU: not "
                "checked\n", o->cmd, peer, m->vm);
        return 0;
    }
    if (gethostname(host, sizeof(host)) < 0)
        xlmig__strlcpy(host, "unknown", sizeof(host));
    host[sizeof(host) - 1] = '\0';
    memset(&dest, 0, sizeof(dest));
    if (o->cpu_record) {
        rc = host_record_file(ctx, o->cpu_record, &hr);
        if (rc) return rc;
        dest.name = hr.name;
        dest.vendor = hr.vendor;
        dest.pv_max = hr.pv_max;
        dest.hvm_max = hr.hvm_max;
    } else {
        libxlmig_host_info info;

        rc = libxlmig_host_info_get(ctx, &info);
        if (!rc)
            rc = libxlmig_cpu_host_from_info(ctx, &info, host, &dest);
        if (rc) return rc;
    }
    rc = libxlmig_vm_cpu_check(ctx, m->vm, &m->cpu, m->type, &dest,
                               &missing);
    if (rc == LIBXLMIG_ERR_VM_INCOMPATIBLE_WITH_THIS_HOST && m->force) {
        fprintf(stderr, "xlmig %s: accepting VM %s anyway (--force): %s\n",
                o->cmd, m->vm, libxlmig_ctx_last_error(ctx));
        rc = 0;
    }
    if (rc) return rc;
    {
        struct xlmig__vm_record vr;

        memset(&vr, 0, sizeof(vr));
        xlmig__strlcpy(vr.name, m->vm, sizeof(vr.name));
        vr.type = m->type;
        vr.cpu = m->cpu;
        xlmig__strlcpy(vr.host, host, sizeof(vr.host));
        vr.recorded = (int64_t)time(NULL);
        if (xlmig__vm_record_save(ctx, xlmig__state_dir(o->state_dir), &vr))
            fprintf(stderr, "xlmig %s: warning: VM %s's CPU record not "
                    "kept: %s\n", o->cmd, m->vm,
                    libxlmig_ctx_last_error(ctx));
    }
    return 0;
}

int xlmig_cmd_channel_send(int argc, char **argv)
{
    static char *default_cmd[] = { (char *)"xl", (char *)"migrate-receive",
                                   NULL };
    struct opts o;
    libxlmig_ctx *ctx = NULL;
    libxlmig_transport *t = NULL;
    libxlmig_channel *ch = NULL;
    struct relay r;
    char host[256], port[16], label[300];
    char meta[3][XLMIG__LAUNCH_ARG_MAX + 1];
    char *allwords[XLMIG__LAUNCH_ARGC_MAX + 1];
    char **words;
    unsigned int nwords;
    int first, fd, rc, status = XLMIG__EXIT_FAILED;

    signal(SIGPIPE, SIG_IGN);
    first = parse_opts(argc, argv, &o, true);
    if (first == -2)
        return 0;
    if (first < 0)
        return XLMIG__EXIT_USAGE;
    if (first >= argc) {
        fprintf(stderr, "xlmig channel-send: no HOST given\n");
        usage(stderr, o.cmd);
        return XLMIG__EXIT_USAGE;
    }
    if (xlmig__split_hostport_dflt(argv[first], DEFAULT_PORT, host,
                                   sizeof(host), port, sizeof(port))) {
        fprintf(stderr, "xlmig channel-send: '%s' is not HOST[:PORT] "
                "(PORT 1 to 65535; an IPv6 address with a port in "
                "brackets, [V6]:PORT)\n", argv[first]);
        return XLMIG__EXIT_USAGE;
    }
    xlmig__join_hostport(host, port, label, sizeof(label));
    words = argv + first + 1;
    nwords = (unsigned int)(argc - first - 1);
    if (!nwords) {
        words = default_cmd;
        nwords = 2;
    }
    if (make_ctx(&o, &ctx))
        return XLMIG__EXIT_FAILED;
    if (o.vm) {
        struct xlmig__launch_meta m;
        unsigned int k;
        int nm;

        if (vm_meta(ctx, &o, &m)) {
            fprintf(stderr, "xlmig %s: %s\n", o.cmd,
                    libxlmig_ctx_last_error(ctx));
            goto out;
        }
        nm = xlmig__launch_meta_words(&m, meta);
        if (nm < 0) {
            fprintf(stderr, "xlmig %s: VM %s's CPU record does not fit in "
                    "the launch request\n", o.cmd, o.vm);
            goto out;
        }
        if (nwords + (unsigned int)nm > XLMIG__LAUNCH_ARGC_MAX) {
            fprintf(stderr, "xlmig %s: too many words for the receiving "
                    "command\n", o.cmd);
            goto out;
        }
        for (k = 0; k < (unsigned int)nm; k++)
            allwords[k] = meta[k];
        for (k = 0; k < nwords; k++)
            allwords[nm + k] = words[k];
        words = allwords;
        nwords += (unsigned int)nm;
    }
    if (start_helpers(&o))
        goto out;

    fd = connect_to(o.cmd, host, port, label);
    if (fd < 0)
        goto out;
    sock_to_shut = fd;
    rc = open_transport(ctx, &o, fd, false, label, &t);
    if (rc) goto out;           /* said by the library */
    rc = xlmig__launch_request(ctx, t, label, nwords, words);
    if (rc) goto out;
    rc = libxlmig_channel_open(ctx, t, true, &o.ch, &ch);
    t = NULL;                   /* the channel owns it, also on failure */
    if (rc) goto out;
    set_live(ch);

    memset(&r, 0, sizeof(r));
    r.ch = ch;
    r.send_in = STDIN_FILENO;
    r.recv_out = STDOUT_FILENO;
    status = relay_run(&r, send_on_fail, NULL, o.cmd);
    if (o.progress)
        progress_done();
    if (status)
        fprintf(stderr, "xlmig %s: the stream to %s failed%s\n", o.cmd,
                label, r.recv_rc ? "; the receiving side did not finish"
                                 : "");
 out:
    set_live(NULL);
    libxlmig_channel_free(ch);
    libxlmig_transport_free(t);
    libxlmig_ctx_free(ctx);
    return status;
}

/* ------------------------------------------------------------------ */
/* channel-listen                                                     */
/* ------------------------------------------------------------------ */

struct xl_child {
    pid_t pid;
    int in_w;                   /* xl's stdin */
    int out_r;                  /* xl's stdout */
    int sock;
};

/* Start @path with @req's words after argv[0]; 0, or errno. */
static int spawn_xl(const char *path, const struct xlmig__launch_req *req,
                    struct xl_child *x)
{
    int in[2] = { -1, -1 }, out[2] = { -1, -1 }, fds[2];
    char *args[XLMIG__LAUNCH_ARGC_MAX + 1];
    unsigned int i;
    int err;

    if (pipe2(in, O_CLOEXEC) || pipe2(out, O_CLOEXEC)) {
        err = errno;
        goto fail;
    }
    args[0] = (char *)path;
    for (i = 1; i < req->argc; i++)
        args[i] = req->argv[i];
    args[req->argc] = NULL;
    fds[0] = in[0];
    fds[1] = out[1];
    err = xlmig__proc_spawn(path, args, fds, 2, &x->pid);
    if (err)
        goto fail;
    close(in[0]);
    close(out[1]);
    x->in_w = in[1];
    x->out_r = out[0];
    return 0;
 fail:
    for (i = 0; i < 2; i++) {
        if (in[i] >= 0) close(in[i]);
        if (out[i] >= 0) close(out[i]);
    }
    x->pid = -1;
    return err;
}

static void listen_on_fail(void *opaque)
{
    struct xl_child *x = opaque;

    /* Unblock both threads; xl reads EOF and gives up on its own. */
    shutdown(x->sock, SHUT_RDWR);
}

static void describe_status(char *buf, size_t len, int st)
{
    if (WIFEXITED(st))
        snprintf(buf, len, "exited with status %d", WEXITSTATUS(st));
    else if (WIFSIGNALED(st))
        snprintf(buf, len, "was killed by signal %d", WTERMSIG(st));
    else
        snprintf(buf, len, "ended with wait status 0x%x", st);
}

/* One connection, start to end; the exit status. */
static int serve(struct opts *o, int fd, const char *peer)
{
    libxlmig_ctx *ctx = NULL;
    libxlmig_transport *t = NULL;
    libxlmig_channel *ch = NULL;
    struct xlmig__launch_req *req = NULL;
    struct xl_child x = { .pid = -1, .in_w = -1, .out_r = -1, .sock = fd };
    const char *xl = o->xl ? o->xl : "xl";
    char cmdline[512] = "", what[64];
    struct relay r;
    int rc, err, st = 0, status = XLMIG__EXIT_FAILED;
    unsigned int i;

    if (make_ctx(o, &ctx)) {
        close(fd);
        return XLMIG__EXIT_FAILED;
    }
    /* Here, in the process that serves this one connection. */
    if (start_helpers(o)) {
        close(fd);
        goto out;
    }
    rc = open_transport(ctx, o, fd, true, peer, &t);
    if (rc) goto out;
    req = xlmig__zalloc(sizeof(*req));
    if (!req) goto out;
    rc = xlmig__launch_receive(ctx, t, peer, req);
    if (rc) goto out;
    rc = cpu_gate(ctx, o, &req->meta, peer);
    if (rc) {
        /* The reason starts with the error's stable name: the sender
         * reports the same error. */
        (void)xlmig__launch_reply(ctx, t, false,
                                  libxlmig_ctx_last_error(ctx));
        fprintf(stderr, "xlmig channel-listen: refused %s: %s\n", peer,
                libxlmig_ctx_last_error(ctx));
        goto out;
    }
    for (i = 0; i < req->argc; i++) {
        size_t l = strlen(cmdline);

        snprintf(cmdline + l, sizeof(cmdline) - l, "%s%s", i ? " " : "",
                 req->argv[i]);
    }

    err = spawn_xl(xl, req, &x);
    if (err) {
        char why[300];

        snprintf(why, sizeof(why), "cannot run %s on the destination: %s",
                 xl, strerror(err));
        (void)xlmig__launch_reply(ctx, t, false, why);
        fprintf(stderr, "xlmig channel-listen: %s (for %s)\n", why, peer);
        goto out;
    }
    fprintf(stderr, "xlmig channel-listen: %s: running '%s' (pid %d)\n",
            peer, cmdline, (int)x.pid);
    rc = xlmig__launch_reply(ctx, t, true, NULL);
    if (rc) goto out;
    rc = libxlmig_channel_open(ctx, t, false, &o->ch, &ch);
    t = NULL;                   /* the channel owns it */
    if (rc) goto out;
    set_live(ch);

    memset(&r, 0, sizeof(r));
    r.ch = ch;
    r.send_in = x.out_r;
    r.recv_out = x.in_w;
    x.in_w = -1;                /* relay_recv closes it */
    status = relay_run(&r, listen_on_fail, &x, o->cmd);
    if (o->progress)
        progress_done();
 out:
    if (x.in_w >= 0)
        close(x.in_w);
    if (x.pid > 0) {
        while (waitpid(x.pid, &st, 0) < 0 && errno == EINTR)
            ;
        describe_status(what, sizeof(what), st);
        fprintf(stderr, "xlmig channel-listen: %s: '%s' %s%s\n", peer,
                cmdline, what, status ? "; the stream failed" : "");
        if (!WIFEXITED(st) || WEXITSTATUS(st))
            status = XLMIG__EXIT_FAILED;
    }
    if (x.out_r >= 0)
        close(x.out_r);
    set_live(NULL);
    libxlmig_channel_free(ch);
    libxlmig_transport_free(t);
    free(req);
    libxlmig_ctx_free(ctx);
    return status;
}

static int listen_socket(const struct opts *o, int *port_r)
{
    char port[16];
    unsigned int p = 0;
    int fd, gai = 0;

    snprintf(port, sizeof(port), "%d", o->port);
    fd = xlmig__tcp_listen(o->bind, port, 16, &gai, &p);
    if (fd < 0 && gai) {
        fprintf(stderr, "xlmig channel-listen: cannot resolve %s: %s\n",
                o->bind ? o->bind : "*", gai_strerror(gai));
        return -1;
    }
    if (fd < 0) {
        fprintf(stderr, "xlmig channel-listen: cannot listen on %s port "
                "%d: %s\n", o->bind ? o->bind : "all addresses", o->port,
                strerror(errno));
        return -1;
    }
    *port_r = (int)p;
    return fd;
}

static void reap(void)
{
    int st;
    pid_t pid;

    while ((pid = waitpid(-1, &st, WNOHANG)) > 0) {
        char what[64];

        describe_status(what, sizeof(what), st);
        fprintf(stderr, "xlmig channel-listen: connection handler %d %s\n",
                (int)pid, what);
    }
}

int xlmig_cmd_channel_listen(int argc, char **argv)
{
    struct opts o;
    int first, lfd, port = 0;

    signal(SIGPIPE, SIG_IGN);
    first = parse_opts(argc, argv, &o, false);
    if (first == -2)
        return 0;
    if (first < 0)
        return XLMIG__EXIT_USAGE;
    if (first != argc) {
        fprintf(stderr, "xlmig channel-listen: unexpected '%s'\n",
                argv[first]);
        usage(stderr, o.cmd);
        return XLMIG__EXIT_USAGE;
    }
    if (o.control && !o.once) {
        fprintf(stderr, "xlmig channel-listen: --control needs --once "
                "(one stream per control socket)\n");
        return XLMIG__EXIT_USAGE;
    }
    lfd = listen_socket(&o, &port);
    if (lfd < 0)
        return XLMIG__EXIT_FAILED;
    fprintf(stderr, "xlmig channel-listen: listening on %s port %d (%s)\n",
            o.bind ? o.bind : "all addresses", port,
            o.tls.no_tls ? "no TLS"
                         : o.tls.p.psk_file ? "TLS, pre-shared key"
                                            : "TLS, certificates");
    if (o.port_file) {
        FILE *f = fopen(o.port_file, "w");

        if (!f || fprintf(f, "%d\n", port) < 0 || fclose(f)) {
            fprintf(stderr, "xlmig channel-listen: cannot write %s: %s\n",
                    o.port_file, strerror(errno));
            close(lfd);
            return XLMIG__EXIT_FAILED;
        }
    }
    for (;;) {
        struct sockaddr_storage ss;
        socklen_t sl = sizeof(ss);
        struct pollfd pfd = { .fd = lfd, .events = POLLIN };
        char peer[80];
        int fd;
        pid_t pid;

        if (!o.once) {
            reap();
            if (poll(&pfd, 1, 1000) <= 0)
                continue;
        }
        fd = accept4(lfd, (struct sockaddr *)&ss, &sl, SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            fprintf(stderr, "xlmig channel-listen: accept: %s\n",
                    strerror(errno));
            close(lfd);
            return XLMIG__EXIT_FAILED;
        }
        if (!xlmig__sockaddr_label((const struct sockaddr *)&ss, peer,
                                   sizeof(peer)))
            xlmig__strlcpy(peer, "a peer", sizeof(peer));
        if (o.once) {
            close(lfd);
            return serve(&o, fd, peer);
        }
        pid = fork();
        if (pid < 0) {
            fprintf(stderr, "xlmig channel-listen: fork: %s\n",
                    strerror(errno));
            close(fd);
            continue;
        }
        if (pid == 0) {
            close(lfd);
            fflush(stderr);
            _exit(serve(&o, fd, peer));
        }
        close(fd);
    }
}

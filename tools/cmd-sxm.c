/* SPDX-License-Identifier: LGPL-2.1-only */
/*
 * xlmig sxm-*: storage motion from the command line (docs/specs/sxm.md).
 * The destination's commands make, serve, compose or remove the parent
 * and leaf; sxm-send moves a running VM's disk through the QEMU that
 * serves it; sxm-recover finishes or undoes what a crash left.
 */
#include <getopt.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "cmd-sxm.h"
#include "internal.h"
#include "pool-client.h"
#include "poolconf.h"
#include "progress.h"
#include "sr.h"
#include "sxm.h"
#include "units.h"

#define MIB (1024.0 * 1024.0)

static int usage(FILE *f, const char *cmd, const char *text, int rc)
{
    fprintf(f, "Usage: xlmig %s %s\n", cmd, text);
    return rc;
}

static libxlmig_ctx *ctx_new(bool verbose)
{
    libxlmig_ctx *ctx = NULL;

    if (libxlmig_ctx_new(NULL, verbose ? LIBXLMIG_LOG_INFO :
                         LIBXLMIG_LOG_ERROR, &ctx))
        return NULL;
    return ctx;
}

/* ------------------------------------------------------- receive-start */

const char xlmig_sxm_receive_start_summary[] =
    "Destination of a storage move: make the parent and leaf, serve them";
const char xlmig_sxm_receive_start_usage[] =
    "--sr SR --name NAME --size BYTES --listen ADDR [OPTIONS]\n"
    "Makes, in SR (uuid or name), the VDI's parent (the final VDI, empty, "
    "in\n--format) and its leaf (qcow2 over the parent), and serves them "
    "over NBD at\nADDR (tcp:HOST:PORT or unix:PATH) as exports 'parent' "
    "and 'leaf' until\nsxm-receive-finalize or sxm-receive-cancel.  Prints "
    "task=, parent=, leaf=\nand address= lines.\n"
    "  --format qcow2|raw  the parent's format (default qcow2)\n"
    "  --allocated BYTES   the source's allocated bytes, for the space "
    "check\n"
    "                      (default: the whole size; "
    "SR_DESTINATION_SPACE_INSUFFICIENT)\n"
    "  --nbd-tls-dir DIR   serve with TLS: DIR holds ca-cert.pem "
    "server-cert.pem\n"
    "                      server-key.pem; clients need a certificate of "
    "that CA;\n"
    "                      or keys.psk (lines USER:HEXKEY): TLS-PSK\n"
    "  --state-dir DIR     records (default $XLMIG_STATE_DIR or "
    "/var/lib/xlmig)\n"
    "  --verbose           say each step\n"
    "  --help              this text";

const struct option xlmig_sxm_receive_start_options[] = {
    { "sr", required_argument, NULL, 's' },
    { "name", required_argument, NULL, 'n' },
    { "size", required_argument, NULL, 'z' },
    { "listen", required_argument, NULL, 'l' },
    { "format", required_argument, NULL, 'f' },
    { "nbd-tls-dir", required_argument, NULL, 't' },
    { "tls-dir", required_argument, NULL, 't' },  /* of old, hidden */
    { "allocated", required_argument, NULL, 'a' },
    { "state-dir", required_argument, NULL, 'S' },
    { "verbose", no_argument, NULL, 'v' },
    { "help", no_argument, NULL, 'h' },
    { NULL, 0, NULL, 0 },
};

int xlmig_cmd_sxm_receive_start(int argc, char **argv)
{
    static const char me[] = "sxm-receive-start";
    const char *allocated = NULL;
    struct xlmig__sxm_recv_req req;
    struct xlmig__sxm_record rec;
    const char *size = NULL;
    libxlmig_ctx *ctx;
    bool verbose = false;
    int opt, rc;

    memset(&req, 0, sizeof(req));
    optind = 1;
    while ((opt = getopt_long(argc, argv, "h",
                              xlmig_sxm_receive_start_options,
                              NULL)) != -1) {
        switch (opt) {
        case 's': req.sr = optarg; break;
        case 'n': req.name = optarg; break;
        case 'z': size = optarg; break;
        case 'l': req.listen = optarg; break;
        case 'f': req.format = optarg; break;
        case 't': req.tls_dir = optarg; break;
        case 'a': allocated = optarg; break;
        case 'S': req.state_dir = optarg; break;
        case 'v': verbose = true; break;
        case 'h': return usage(stdout, me, xlmig_sxm_receive_start_usage, 0);
        default:
            return usage(stderr, me, xlmig_sxm_receive_start_usage,
                         XLMIG__EXIT_USAGE);
        }
    }
    if (!req.sr || !req.name || !size || !req.listen || optind < argc) {
        fprintf(stderr, "xlmig %s: needs --sr, --name, --size and "
                "--listen\n", me);
        return usage(stderr, me, xlmig_sxm_receive_start_usage,
                     XLMIG__EXIT_USAGE);
    }
    ctx = ctx_new(verbose);
    if (!ctx)
        return XLMIG__EXIT_FAILED;
    rc = xlmig__size_parse(ctx, "--size", size, &req.virtual_size);
    if (!rc && allocated)
        rc = xlmig__size_parse(ctx, "--allocated", allocated,
                               &req.src_allocated);
    if (!rc)
        rc = xlmig__sxm_recv_start(ctx, &req, &rec);
    if (!rc)
        printf("task=%s\nparent=%s\nleaf=%s\naddress=%s\n", rec.task,
               rec.parent, rec.leaf, rec.listen);
    libxlmig_ctx_free(ctx);
    return rc ? XLMIG__EXIT_FAILED : XLMIG__EXIT_OK;
}

/* ------------------------------------------------ receive-finalize/cancel */

const char xlmig_sxm_receive_finalize_summary[] =
    "Destination of a storage move: compose the leaf onto the parent";
const char xlmig_sxm_receive_finalize_usage[] =
    "--task TASK [--state-dir DIR] [--verbose]\n"
    "Stops serving, commits the leaf into the parent and removes the "
    "leaf: one\nVDI is left, whose uuid is printed.  Safe to run again "
    "after a crash.";

const char xlmig_sxm_receive_cancel_summary[] =
    "Destination of a storage move: remove the parent and the leaf";
const char xlmig_sxm_receive_cancel_usage[] =
    "--task TASK [--state-dir DIR] [--verbose]\n"
    "Stops serving and removes everything sxm-receive-start made.";

#define TASK_OPTIONS \
    { "task", required_argument, NULL, 'T' }, \
    { "state-dir", required_argument, NULL, 'S' }, \
    { "verbose", no_argument, NULL, 'v' }, \
    { "help", no_argument, NULL, 'h' }, \
    { NULL, 0, NULL, 0 }

const struct option xlmig_sxm_receive_finalize_options[] = { TASK_OPTIONS };
const struct option xlmig_sxm_receive_cancel_options[] = { TASK_OPTIONS };

static int task_cmd(int argc, char **argv, const char *me,
                    const char *text, const struct option *opts,
                    bool finalize)
{
    const char *task = NULL, *state_dir = NULL;
    char vdi[XLMIG__UUID_LEN + 1];
    libxlmig_ctx *ctx;
    bool verbose = false;
    int opt, rc;

    optind = 1;
    while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (opt) {
        case 'T': task = optarg; break;
        case 'S': state_dir = optarg; break;
        case 'v': verbose = true; break;
        case 'h': return usage(stdout, me, text, 0);
        default:
            return usage(stderr, me, text, XLMIG__EXIT_USAGE);
        }
    }
    if (!task || optind < argc) {
        fprintf(stderr, "xlmig %s: needs --task\n", me);
        return usage(stderr, me, text, XLMIG__EXIT_USAGE);
    }
    ctx = ctx_new(verbose);
    if (!ctx)
        return XLMIG__EXIT_FAILED;
    if (finalize) {
        rc = xlmig__sxm_recv_finalize(ctx, state_dir, task, vdi);
        if (!rc)
            printf("vdi=%s\n", vdi);
    } else {
        rc = xlmig__sxm_recv_cancel(ctx, state_dir, task);
    }
    libxlmig_ctx_free(ctx);
    return rc ? XLMIG__EXIT_FAILED : XLMIG__EXIT_OK;
}

int xlmig_cmd_sxm_receive_finalize(int argc, char **argv)
{
    return task_cmd(argc, argv, "sxm-receive-finalize",
                    xlmig_sxm_receive_finalize_usage,
                    xlmig_sxm_receive_finalize_options, true);
}

int xlmig_cmd_sxm_receive_cancel(int argc, char **argv)
{
    return task_cmd(argc, argv, "sxm-receive-cancel",
                    xlmig_sxm_receive_cancel_usage,
                    xlmig_sxm_receive_cancel_options, false);
}

/* ------------------------------------------------------------ send */

const char xlmig_sxm_send_summary[] =
    "Source of a storage move: snapshot, mirror and copy a running disk";
const char xlmig_sxm_send_usage[] =
    "--vdi UUID --qmp SOCKET (--dest ADDR | --dest-host HOST --sr SR) "
    "[OPTIONS]\n"
    "Moves VDI UUID, served by the QEMU whose QMP socket is SOCKET, to "
    "the\ndestination that sxm-receive-start serves at ADDR, or to SR "
    "(uuid or name)\nof pool host HOST, whose xlmigd makes and serves the "
    "destination (TLS\nwith the pool's material) and composes it once "
    "moved: temporary "
    "snapshot,\nmirror of new writes to the leaf, copy of the snapshot's "
    "allocated extents\nto the parent.  Once in sync it prints 'in sync' "
    "and keeps mirroring until\nthe switch: --switch-file appearing, "
    "SIGUSR1, or at once with --switch-now.\nThe guest must be paused "
    "for the switch (it ends the mirror).  Then the\nsnapshot's overlay "
    "is committed back and the destination can be finalized.\nSIGINT or "
    "SIGTERM cancels: everything is rolled back, the VM never stops.\n"
    "  --dest-host HOST   a host of the pool (name, as host-list shows it);\n"
    "                     when its xlmigd goes away, the move is rolled "
    "back at\n"
    "                     once (CANNOT_CONTACT_HOST)\n"
    "  --sr SR            with --dest-host: the destination SR on HOST\n"
    "  --format qcow2|raw  with --dest-host: the new VDI's format "
    "(default: as\n"
    "                     it is)\n"
    "  --data-via nbd|channel  with --dest-host: how the snapshot's data "
    "goes:\n"
    "                     NBD into the parent (default), or through the "
    "stream\n"
    "                     channel (compressed, checksummed, TLS), "
    "acknowledged\n"
    "                     by the destination once written and flushed\n"
    "  --codec C          with --data-via channel: none, zlib, zstd "
    "(default),\n"
    "                     lz4, auto\n"
    "  --level N          with --data-via channel: the codec's level\n"
    "  --config FILE      with --dest-host: the pool configuration\n"
    "                     (default $XLMIG_CONFIG or " XLMIG__POOLCONF_DEFAULT
    ")\n"
    "  --node NODE        the disk's node (default: found by the VDI's "
    "file)\n"
    "  --vm NAME          the VM whose disk it is (its VBD); another VM's "
    "VBD\n"
    "                     on the VDI refuses the move (VDI_IN_USE)\n"
    "  --nbd-tls-dir DIR  TLS to the destination: ca-cert.pem "
    "client-cert.pem\n"
    "                     client-key.pem, or keys.psk (xlmig:HEXKEY)\n"
    "  --bwlimit RATE     cap of the copy and of the mirror, in\n"
    "                     " XLMIG__RATE_HELP "\n"
    "  --switch-file PATH  switch when PATH exists\n"
    "  --switch-now       switch as soon as in sync (a paused or idle "
    "guest)\n"
    "  --progress         progress on standard error: a bar on a "
    "terminal, else\n"
    "                     a line per phase and per 10% of the copy\n"
    "  --state-dir DIR    records (default $XLMIG_STATE_DIR, else the "
    "pool's\n"
    "                     state-dir with --dest-host)\n"
    "  --verbose          say each step\n"
    "Exit 0 when moved; 1 on failure (rolled back, and with --dest-host "
    "the\ndestination removed), with the error's name.";

static volatile sig_atomic_t send_cancel, send_switch;

static void on_cancel(int sig)
{
    (void)sig;
    send_cancel = 1;
}

static void on_switch(int sig)
{
    (void)sig;
    send_switch = 1;
}

struct send_ui {
    const char *switch_file;
    bool switch_now, progress, said_sync;
    struct xlmig__progress pr;  /* --progress, on standard error */
    /* --dest-host: the connection to the destination's xlmigd, which
     * holds the destination's lease; its socket, watched for its end */
    libxlmig_ctx *ctx;
    libxlmig_transport *t;
    int fd;
    int peer_rc;                /* 0, or the daemon was found gone */
    const char *host, *addr, *task;
};

/*
 * --dest-host: is HOST's xlmigd still there?  Its end shows on the
 * connection: POLLRDHUP or POLLHUP when the daemon died (its exporter
 * serves on), POLLERR when TCP keepalive found the host gone.
 */
static int send_peer_check(void *opaque)
{
    struct send_ui *ui = opaque;
    struct pollfd p = { .fd = ui->fd, .events = POLLRDHUP };
    socklen_t sl = sizeof(int);
    int err = 0;

    if (ui->peer_rc)
        return ui->peer_rc;
    if (poll(&p, 1, 0) <= 0 ||
        !(p.revents & (POLLRDHUP | POLLHUP | POLLERR)))
        return 0;
    /* Keepalive's ETIMEDOUT, say, is worth showing. */
    if (!(p.revents & POLLERR) ||
        getsockopt(ui->fd, SOL_SOCKET, SO_ERROR, &err, &sl) || !err)
        err = -1;
    ui->peer_rc = xlmig__error(ui->ctx, LIBXLMIG_ERR_CANNOT_CONTACT_HOST,
                               err, "host %s (%s): its xlmigd, "
                               "which serves the destination of task %s, "
                               "is gone (the connection to it ended); the "
                               "move is rolled back here.  Check that "
                               "xlmigd runs on %s: started again, it "
                               "removes the destination; or run `xlmig "
                               "sxm-recover` there", ui->host, ui->addr,
                               ui->task, ui->host);
    return ui->peer_rc;
}

/* --data-via channel: the destination's word on the disk stream. */
static int send_data_ack(void *opaque)
{
    struct send_ui *ui = opaque;
    const char *kv[] = { "task", ui->task, NULL };
    struct xlmig__rpc_msg resp;
    bool flushed = false;
    uint64_t data = 0, wire = 0;
    int rc;

    memset(&resp, 0, sizeof(resp));
    rc = xlmig__pool_call(ui->ctx, ui->t, ui->host, 3,
                          "sxm.receive_data_wait", kv, NULL, NULL, &resp);
    if (!rc) {
        (void)xlmig__rpc_get_bool(resp.result, "flushed", &flushed);
        (void)xlmig__rpc_get_uint(resp.result, "data_bytes", &data);
        (void)xlmig__rpc_get_uint(resp.result, "wire_bytes", &wire);
        if (!flushed)
            rc = xlmig__error(ui->ctx, LIBXLMIG_ERR_PROTOCOL, -1, "host %s "
                              "did not say the disk stream was flushed",
                              ui->host);
        else
            printf("sxm-send: host %s wrote and flushed the snapshot's "
                   "%.1f MiB (%.1f MiB on the wire)\n", ui->host,
                   (double)data / MIB, (double)wire / MIB);
    }
    xlmig__rpc_msg_dispose(&resp);
    return rc;
}

static void send_progress(void *opaque, const struct xlmig__sxm_progress *p)
{
    struct send_ui *ui = opaque;
    char mt[32], md[32], detail[96];

    if (p->in_sync && !ui->said_sync) {
        ui->said_sync = true;
        xlmig__progress_end(&ui->pr);   /* a bar's line closed first */
        printf("sxm-send: in sync after %.1f s; waiting for the switch\n",
               p->seconds);
        fflush(stdout);
    }
    xlmig__progress_human(md, sizeof(md), (double)p->mirror_done);
    xlmig__progress_human(mt, sizeof(mt), (double)p->mirror_total);
    snprintf(detail, sizeof(detail), "mirror %s/%s%s", md, mt,
             p->in_sync ? " (in sync)" : "");
    xlmig__progress_bytes(&ui->pr, xlmig__sxm_phase_name(p->phase),
                          p->copy_done, p->copy_total, 0, detail);
}

static int send_switch_ready(void *opaque)
{
    struct send_ui *ui = opaque;
    struct stat st;

    if (ui->switch_now || send_switch)
        return 1;
    if (ui->switch_file && !stat(ui->switch_file, &st))
        return 1;
    return 0;
}

/*
 * --dest-host: HOST's xlmigd makes and serves the destination; the
 * connection stays open until it is finalized or cancelled (when it
 * breaks, the daemon cancels).
 */
static int send_to_host(libxlmig_ctx *ctx, struct xlmig__sxm_send_req *req,
                        const char *config, const char *host,
                        const char *sr_name, const char *format,
                        bool via_channel)
{
    struct send_ui *ui = req->opaque;
    libxlmig_tls_params tp;
    char data[300] = "";
    struct xlmig__pool_conf conf;
    struct xlmig__sxm_record rec;
    struct xlmig__rpc_msg resp;
    struct xlmig__sr sr;
    struct xlmig__vdi vdi;
    libxlmig_transport *t = NULL;
    char addr[256], tls[300], vsz[32], alloc[32];
    char task[XLMIG__UUID_LEN + 1], dest[XLMIG__SXM_ADDR_MAX + 1];
    const char *v;
    uint64_t vsize, phys;
    int rc;

    memset(&resp, 0, sizeof(resp));
    rc = xlmig__pool_conf_load(ctx, config, &conf);
    if (rc)
        return rc;
    if (!req->state_dir && !getenv("XLMIG_STATE_DIR"))
        req->state_dir = conf.state_dir;
    rc = xlmig__vdi_find(ctx, req->state_dir, req->vdi, &sr, &vdi);
    if (!rc)
        rc = xlmig__vdi_sizes(ctx, &sr, &vdi, &vsize, &phys);
    if (!rc)
        rc = xlmig__pool_host_address(ctx, &conf, host, addr, sizeof(addr));
    if (!rc)
        rc = xlmig__pool_nbd_tls_dir(ctx, &conf, tls, sizeof(tls));
    if (!rc)
        rc = xlmig__pool_open_fd(ctx, &conf, addr, &t, &ui->fd);
    if (rc)
        return rc;
    snprintf(vsz, sizeof(vsz), "#%" PRIu64, vsize);
    snprintf(alloc, sizeof(alloc), "#%" PRIu64, phys);
    {
        const char *kv[] = { "sr", sr_name, "name", vdi.name,
                             "virtual_size", vsz, "allocated", alloc,
                             "format", format ? format
                                              : xlmig__vdi_format_name(
                                                    vdi.format),
                             "data_via", via_channel ? "channel" : "nbd",
                             NULL };

        rc = xlmig__pool_call(ctx, t, host, 2, "sxm.receive_start", kv,
                              NULL, NULL, &resp);
    }
    if (!rc) {
        const char *tk = xlmig__rpc_get_str(resp.result, "task");
        const char *ad = xlmig__rpc_get_str(resp.result, "address");

        if (!tk || !ad || strlen(tk) != XLMIG__UUID_LEN ||
            strlen(ad) > XLMIG__SXM_ADDR_MAX)
            rc = xlmig__error(ctx, LIBXLMIG_ERR_PROTOCOL, -1, "host %s: "
                              "sxm.receive_start answered without a task "
                              "and an address", host);
        else {
            const char *da = xlmig__rpc_get_str(resp.result, "data_address");

            xlmig__strlcpy(task, tk, sizeof(task));
            xlmig__strlcpy(dest, ad, sizeof(dest));
            if (via_channel && (!da || strlen(da) >= sizeof(data)))
                rc = xlmig__error(ctx, LIBXLMIG_ERR_PROTOCOL, -1, "host %s: "
                                  "sxm.receive_start answered without the "
                                  "disk stream's address", host);
            else if (via_channel)
                xlmig__strlcpy(data, da, sizeof(data));
        }
    }
    xlmig__rpc_msg_dispose(&resp);
    if (rc) {
        libxlmig_transport_free(t);
        return rc;
    }
    printf("sxm-send: host %s serves the destination in SR %s at %s "
           "(task %s)\n", host, sr_name, dest, task);
    fflush(stdout);
    req->dest = dest;
    req->tls_dir = tls;
    ui->ctx = ctx;
    ui->t = t;
    ui->host = host;
    ui->addr = addr;
    ui->task = task;
    req->peer_check = send_peer_check;
    if (via_channel) {
        xlmig__pool_conf_tls(&conf, &tp, NULL);
        req->data_via = data;
        req->data_tls = &tp;
        req->data_ack = send_data_ack;
    }
    rc = xlmig__sxm_send(ctx, req, &rec);
    {
        const char *kv[] = { "task", task, NULL };

        if (rc && !ui->peer_rc) {
            /* The move's error was reported; the daemon also cancels
             * when the connection is gone. */
            (void)xlmig__pool_call(ctx, t, host, 4, "sxm.receive_cancel",
                                   kv, NULL, NULL, &resp);
        } else if (!rc) {
            rc = xlmig__pool_call(ctx, t, host, 4, "sxm.receive_finalize",
                                  kv, NULL, NULL, &resp);
            v = rc ? NULL : xlmig__rpc_get_str(resp.result, "vdi");
            if (!rc)
                printf("sxm-send: VDI %s (%s) moved to SR %s of host %s: "
                       "VDI %s\n", vdi.name, vdi.uuid, sr_name, host,
                       v ? v : "?");
        }
        xlmig__rpc_msg_dispose(&resp);
    }
    libxlmig_transport_free(t);
    return rc;
}

const struct option xlmig_sxm_send_options[] = {
    { "vdi", required_argument, NULL, 'd' },
    { "qmp", required_argument, NULL, 'q' },
    { "dest", required_argument, NULL, 'D' },
    { "dest-host", required_argument, NULL, 'H' },
    { "sr", required_argument, NULL, 's' },
    { "format", required_argument, NULL, 'F' },
    { "config", required_argument, NULL, 'c' },
    { "data-via", required_argument, NULL, 'V' },
    { "codec", required_argument, NULL, 'C' },
    { "level", required_argument, NULL, 'L' },
    { "node", required_argument, NULL, 'n' },
    { "vm", required_argument, NULL, 'm' },
    { "nbd-tls-dir", required_argument, NULL, 't' },
    { "tls-dir", required_argument, NULL, 't' },  /* of old, hidden */
    { "bwlimit", required_argument, NULL, 'b' },
    { "switch-file", required_argument, NULL, 'f' },
    { "switch-now", no_argument, NULL, 'N' },
    { "progress", no_argument, NULL, 'p' },
    { "state-dir", required_argument, NULL, 'S' },
    { "verbose", no_argument, NULL, 'v' },
    { "help", no_argument, NULL, 'h' },
    { NULL, 0, NULL, 0 },
};

int xlmig_cmd_sxm_send(int argc, char **argv)
{
    static const char me[] = "sxm-send";
    struct xlmig__sxm_send_req req;
    struct xlmig__sxm_record rec;
    struct send_ui ui;
    struct sigaction sa;
    const char *bw = NULL, *host = NULL, *sr = NULL, *format = NULL;
    const char *config = NULL, *via = NULL, *level = NULL, *codec = NULL;
    libxlmig_channel_params cp;
    libxlmig_ctx *ctx;
    char why[256];
    bool verbose = false;
    int opt, rc;

    memset(&req, 0, sizeof(req));
    memset(&ui, 0, sizeof(ui));
    ui.fd = -1;
    libxlmig_channel_params_init(&cp);
    cp.page_aware = false;
    optind = 1;
    while ((opt = getopt_long(argc, argv, "h", xlmig_sxm_send_options,
                              NULL)) != -1) {
        switch (opt) {
        case 'd': req.vdi = optarg; break;
        case 'q': req.qmp = optarg; break;
        case 'D': req.dest = optarg; break;
        case 'H': host = optarg; break;
        case 's': sr = optarg; break;
        case 'F': format = optarg; break;
        case 'c': config = optarg; break;
        case 'V': via = optarg; break;
        case 'C': codec = optarg; break;
        case 'L': level = optarg; break;
        case 'n': req.node = optarg; break;
        case 'm': req.vm = optarg; break;
        case 't': req.tls_dir = optarg; break;
        case 'b': bw = optarg; break;
        case 'f': ui.switch_file = optarg; break;
        case 'N': ui.switch_now = true; break;
        case 'p': ui.progress = true; break;
        case 'S': req.state_dir = optarg; break;
        case 'v': verbose = true; break;
        case 'h': return usage(stdout, me, xlmig_sxm_send_usage, 0);
        default:
            return usage(stderr, me, xlmig_sxm_send_usage, XLMIG__EXIT_USAGE);
        }
    }
    if (!req.vdi || !req.qmp || !req.dest == !host || optind < argc) {
        fprintf(stderr, "xlmig %s: needs --vdi, --qmp, and --dest or "
                "--dest-host\n", me);
        return usage(stderr, me, xlmig_sxm_send_usage, XLMIG__EXIT_USAGE);
    }
    if (via && strcmp(via, "nbd") && strcmp(via, "channel")) {
        fprintf(stderr, "xlmig %s: --data-via %s: nbd or channel\n", me, via);
        return usage(stderr, me, xlmig_sxm_send_usage, XLMIG__EXIT_USAGE);
    }
    if ((codec && !xlmig__cli_codec("--codec", codec, &cp.codec, why,
                                    sizeof(why))) ||
        (level && !xlmig__cli_level("--level", level, &cp.level, why,
                                    sizeof(why)))) {
        fprintf(stderr, "xlmig %s: %s\n", me, why);
        return usage(stderr, me, xlmig_sxm_send_usage, XLMIG__EXIT_USAGE);
    }
    if ((codec || level) && !(via && !strcmp(via, "channel"))) {
        fprintf(stderr, "xlmig %s: --codec and --level go with --data-via "
                "channel\n", me);
        return usage(stderr, me, xlmig_sxm_send_usage, XLMIG__EXIT_USAGE);
    }
    if (host ? !sr || req.tls_dir : sr || format || config || via) {
        fprintf(stderr, "xlmig %s: --dest-host needs --sr (and takes the "
                "pool's TLS, not --nbd-tls-dir); --sr, --format, --config "
                "and --data-via go with --dest-host only\n", me);
        return usage(stderr, me, xlmig_sxm_send_usage, XLMIG__EXIT_USAGE);
    }
    ctx = ctx_new(verbose);
    if (!ctx)
        return XLMIG__EXIT_FAILED;
    if (bw && xlmig__rate_parse(ctx, "--bwlimit", bw, &req.bwlimit)) {
        libxlmig_ctx_free(ctx);
        return XLMIG__EXIT_USAGE;
    }
    xlmig__cli_on_stop(on_cancel);
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_switch;
    sigaction(SIGUSR1, &sa, NULL);
    xlmig__progress_init(&ui.pr, stderr, "sxm-send", !ui.progress);
    req.progress = send_progress;
    req.switch_ready = send_switch_ready;
    req.opaque = &ui;
    req.cancel = &send_cancel;
    if (host) {
        req.data_params = &cp;
        rc = send_to_host(ctx, &req, config, host, sr, format,
                          via && !strcmp(via, "channel"));
        xlmig__progress_end(&ui.pr);
    } else {
        rc = xlmig__sxm_send(ctx, &req, &rec);
        xlmig__progress_end(&ui.pr);
        if (!rc)
            printf("sxm-send: VDI %s (%s) moved to %s; task %s\n",
                   rec.vdi_name, rec.vdi, rec.dest, rec.task);
    }
    libxlmig_ctx_free(ctx);
    return rc ? XLMIG__EXIT_FAILED : XLMIG__EXIT_OK;
}

/* ------------------------------------------------------ recover / list */

const char xlmig_sxm_recover_summary[] =
    "Finish or undo the storage moves a crash interrupted";
const char xlmig_sxm_recover_usage[] =
    "[--state-dir DIR] [--verbose]\n"
    "For each record whose process is gone (a source's sender; a "
    "destination's\nxlmigd or sxm-receive-start, not its exporter): a "
    "destination whose compose\nhad begun is finished; every other "
    "destination is removed (exporter\nstopped; parent, leaf and lease "
    "removed); every source is rolled back\n(mirror cancelled, the "
    "temporary snapshot's overlay committed back into\nthe disk, with "
    "qemu-img when its QEMU is gone).  Prints how many.";

const struct option xlmig_sxm_recover_options[] = {
    { "state-dir", required_argument, NULL, 'S' },
    { "verbose", no_argument, NULL, 'v' },
    { "help", no_argument, NULL, 'h' },
    { NULL, 0, NULL, 0 },
};

int xlmig_cmd_sxm_recover(int argc, char **argv)
{
    const char *state_dir = NULL;
    bool verbose = false;
    unsigned int done = 0;
    libxlmig_ctx *ctx;
    int opt, rc;

    optind = 1;
    while ((opt = getopt_long(argc, argv, "h", xlmig_sxm_recover_options,
                              NULL)) != -1) {
        if (opt == 'h')
            return usage(stdout, "sxm-recover", xlmig_sxm_recover_usage, 0);
        if (opt == 'v')
            verbose = true;
        else if (opt == 'S')
            state_dir = optarg;
        else
            break;
    }
    if (opt != -1 || optind < argc)
        return usage(stderr, "sxm-recover", xlmig_sxm_recover_usage,
                     XLMIG__EXIT_USAGE);
    ctx = ctx_new(verbose);
    if (!ctx)
        return XLMIG__EXIT_FAILED;
    rc = xlmig__sxm_recover(ctx, state_dir, &done);
    printf("sxm-recover: %u task%s handled\n", done, done == 1 ? "" : "s");
    libxlmig_ctx_free(ctx);
    return rc ? XLMIG__EXIT_FAILED : XLMIG__EXIT_OK;
}

const char xlmig_sxm_list_summary[] = "List the storage moves in progress";
const char xlmig_sxm_list_usage[] =
    "[--state-dir DIR] [--json]\n"
    "One line per task: task, role, phase, VDI name, and the process that "
    "runs it.\n"
    "  --json         a JSON array of objects: task, role, phase, "
    "vdi-name-label,\n"
    "                 pid (a number)";

const struct option xlmig_sxm_list_options[] = {
    { "state-dir", required_argument, NULL, 'S' },
    { "json", no_argument, NULL, 'j' },
    { "help", no_argument, NULL, 'h' },
    { NULL, 0, NULL, 0 },
};

int xlmig_cmd_sxm_list(int argc, char **argv)
{
    static const char *const numbers[] = { "pid", NULL };
    struct xlmig__sxm_record *recs = NULL;
    struct xlmig__cli_json out;
    const char *state_dir = NULL;
    libxlmig_ctx *ctx;
    bool json = false;
    size_t nr = 0, i;
    int opt, rc;

    optind = 1;
    while ((opt = getopt_long(argc, argv, "h", xlmig_sxm_list_options,
                              NULL)) != -1) {
        if (opt == 'h')
            return usage(stdout, "sxm-list", xlmig_sxm_list_usage, 0);
        if (opt == 'S')
            state_dir = optarg;
        else if (opt == 'j')
            json = true;
        else
            break;
    }
    if (opt != -1 || optind < argc)
        return usage(stderr, "sxm-list", xlmig_sxm_list_usage,
                     XLMIG__EXIT_USAGE);
    ctx = ctx_new(false);
    if (!ctx)
        return XLMIG__EXIT_FAILED;
    rc = xlmig__sxm_list(ctx, state_dir, &recs, &nr);
    if (!rc && json) {
        if (!xlmig__cli_json_begin(&out, stdout, numbers, NULL))
            rc = LIBXLMIG_ERR_NO_MEMORY;
        for (i = 0; !rc && i < nr; i++) {
            struct xlmig__kv kv[5];
            const struct xlmig__kv *sel[5] = { &kv[0], &kv[1], &kv[2],
                                               &kv[3], &kv[4] };

            kv[0].key = "task";
            xlmig__strlcpy(kv[0].value, recs[i].task, sizeof(kv[0].value));
            kv[1].key = "role";
            xlmig__strlcpy(kv[1].value, recs[i].role == XLMIG__SXM_DST
                                        ? "dst" : "src",
                           sizeof(kv[1].value));
            kv[2].key = "phase";
            xlmig__strlcpy(kv[2].value,
                           xlmig__sxm_phase_name(recs[i].phase),
                           sizeof(kv[2].value));
            kv[3].key = "vdi-name-label";
            xlmig__strlcpy(kv[3].value, recs[i].vdi_name,
                           sizeof(kv[3].value));
            kv[4].key = "pid";
            snprintf(kv[4].value, sizeof(kv[4].value), "%lld",
                     (long long)recs[i].owner_pid);
            if (!xlmig__cli_json_record(&out, sel, 5))
                rc = LIBXLMIG_ERR_INVALID_ARGUMENT;
        }
        xlmig__cli_json_end(&out);
    }
    for (i = 0; !rc && !json && i < nr; i++)
        printf("%s %s %s %s pid=%lld\n", recs[i].task,
               recs[i].role == XLMIG__SXM_DST ? "dst" : "src",
               xlmig__sxm_phase_name(recs[i].phase), recs[i].vdi_name,
               (long long)recs[i].owner_pid);
    free(recs);
    libxlmig_ctx_free(ctx);
    return rc ? XLMIG__EXIT_FAILED : XLMIG__EXIT_OK;
}

/* SPDX-License-Identifier: LGPL-2.1-only */
/*
 * Storage motion, the pieces its sides share: the address check and the
 * NBD URI, the files of a VDI, the tools and daemons it runs, and TLS
 * (sxm.h, sxm-internal.h, docs/specs/sxm.md).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "addr.h"
#include "featureset.h"
#include "proc.h"
#include "sxm-internal.h"

#define STOP_GRACE_MS 3000          /* SIGTERM, then SIGKILL */

/* ------------------------------------------------------------ addresses */

bool xlmig__sxm_addr_ok(const char *addr)
{
    char host[256], port[8];
    const char *path;

    return addr && strlen(addr) <= XLMIG__SXM_ADDR_MAX &&
           !xlmig__endpoint_split(addr, host, sizeof(host), port,
                                  sizeof(port), &path);
}

int xlmig__sxm_addr_check(libxlmig_ctx *ctx, const char *addr)
{
    char quoted[XLMIG__QUOTE_MAX + 8];

    if (xlmig__sxm_addr_ok(addr))
        return 0;
    if (!ctx)
        return LIBXLMIG_ERR_INVALID_ARGUMENT;
    xlmig__quote(addr ? addr : "", 0, quoted, sizeof(quoted));
    return xlmig__error(ctx, LIBXLMIG_ERR_INVALID_ARGUMENT, -1,
                        "address \"%s\" is not tcp:HOST:PORT (a host name, "
                        "an IPv4 address or an IPv6 address in brackets, "
                        "port 1-65535) or unix:/ABSOLUTE/PATH", quoted);
}

int xlmig__sxm_export_uri(const char *addr, const char *export, bool tls,
                          char *uri, size_t cap)
{
    char host[256], port[8], hostport[XLMIG__HOSTPORT_MAX + 1];
    const char *path;
    int n;

    if (!xlmig__sxm_addr_ok(addr) || !export ||
        xlmig__endpoint_split(addr, host, sizeof(host), port, sizeof(port),
                              &path))
        return LIBXLMIG_ERR_INVALID_ARGUMENT;
    if (path) {
        n = snprintf(uri, cap, "nbd%s+unix:///%s?socket=%s", tls ? "s" : "",
                     export, path);
    } else {
        /* An IPv6 address goes in brackets in a URI. */
        xlmig__join_hostport(host, port, hostport, sizeof(hostport));
        n = snprintf(uri, cap, "nbd%s://%s/%s", tls ? "s" : "", hostport,
                     export);
    }
    return n < 0 || (size_t)n >= cap ? LIBXLMIG_ERR_INVALID_ARGUMENT : 0;
}

/* ------------------------------------------------------------ files */

void xlmig__sxm_unlink_quiet(libxlmig_ctx *ctx, const char *path)
{
    if (unlink(path) && errno != ENOENT)
        xlmig__log(ctx, XTL_WARN, errno, "cannot remove %s", path);
}

/* Remove VDI @uuid's image (@fmt), metadata and lock from @sr. */
void xlmig__sxm_vdi_files_remove(libxlmig_ctx *ctx, const struct xlmig__sr *sr,
                                 const char *uuid, enum xlmig__vdi_format fmt)
{
    char path[PATH_MAX_];

    if (!xlmig__vdi_path(sr, uuid, xlmig__vdi_format_name(fmt), path,
                         sizeof(path)))
        xlmig__sxm_unlink_quiet(ctx, path);
    if (!xlmig__vdi_path(sr, uuid, "json", path, sizeof(path)))
        xlmig__sxm_unlink_quiet(ctx, path);
    if (!xlmig__vdi_path(sr, uuid, "lock", path, sizeof(path)))
        xlmig__sxm_unlink_quiet(ctx, path);
    (void)xlmig__dir_sync(ctx, sr->path);
}

/* Write VDI @v's metadata, and a lock naming @task when @task. */
int xlmig__sxm_vdi_meta_write(libxlmig_ctx *ctx, const struct xlmig__sr *sr,
                              const struct xlmig__vdi *v, const char *task)
{
    char path[PATH_MAX_], text[XLMIG__SR_FILE_MAX + 1], lock[128];
    size_t len;
    int rc;

    if (task) {
        if (xlmig__vdi_path(sr, v->uuid, "lock", path, sizeof(path)))
            return xlmig__error(ctx, LIBXLMIG_ERR_INVALID_ARGUMENT, -1,
                                "SR %s: path too long", sr->name);
        len = (size_t)snprintf(lock, sizeof(lock),
                               "storage motion task %s\n", task);
        rc = xlmig__file_write(ctx, sr->path, path, lock, len);
        if (rc)
            return rc;
    }
    rc = xlmig__vdi_encode(v, text, sizeof(text), &len);
    if (rc)
        return xlmig__error(ctx, rc, -1, "cannot encode VDI %s", v->uuid);
    if (xlmig__vdi_path(sr, v->uuid, "json", path, sizeof(path)))
        return xlmig__error(ctx, LIBXLMIG_ERR_INVALID_ARGUMENT, -1,
                            "SR %s: path too long", sr->name);
    return xlmig__file_write(ctx, sr->path, path, text, len);
}

int xlmig__sxm_run_tool(libxlmig_ctx *ctx, const char *bin, char *const argv[],
                        const char *what)
{
    char err[XLMIG__PROC_ERR_MAX + 64];
    int rc = xlmig__proc_run(bin, argv, NULL, 0, NULL, err, sizeof(err));

    if (rc)
        return xlmig__error(ctx, rc, -1, "%s: %s", what, err);
    return 0;
}

/*
 * A TLS directory is x509 (ca-cert.pem and the endpoint's
 * server-/client-cert.pem and -key.pem) or PSK (keys.psk: lines
 * "USER:HEXKEY"; the client speaks as XLMIG__SXM_PSK_USER).  Which one
 * is told by keys.psk being there.
 */
static bool tls_dir_is_psk(const char *dir)
{
    char f[PATH_MAX_];

    return dir && (size_t)snprintf(f, sizeof(f), "%s/keys.psk", dir) <
           sizeof(f) && !access(f, F_OK);
}

/*
 * QEMU's --object for the TLS directory @dir as @server or client (id
 * xlmig-tls) into @buf: x509 (a server verifies its peer) or PSK (a
 * client speaks as XLMIG__SXM_PSK_USER).  False when it does not fit.
 */
bool xlmig__sxm_tls_object(const char *dir, bool server, char *buf, size_t cap)
{
    bool psk = tls_dir_is_psk(dir);
    size_t len = (size_t)snprintf(buf, cap, "tls-creds-%s,id=xlmig-tls,"
                                  "endpoint=%s,%sdir=", psk ? "psk" : "x509",
                                  server ? "server" : "client",
                                  psk ? (server ? "" : "username="
                                         XLMIG__SXM_PSK_USER ",")
                                      : (server ? "verify-peer=on," : ""));

    return len < cap && xlmig__qemu_opt_append(buf, cap, &len, dir);
}

/*
 * Run a qemu-storage-daemon of @argv (with --daemonize and --pidfile
 * @pidfile) and read its pid and start time: the daemon serves on once
 * this returns 0.  @what begins the messages.
 */
int xlmig__sxm_qsd_daemon(libxlmig_ctx *ctx, char *const argv[],
                          const char *what, const char *pidfile, int64_t *pid_r,
                          uint64_t *start_r)
{
    pid_t pid;
    int rc = xlmig__sxm_run_tool(ctx, xlmig__qsd_bin(), argv, what);

    if (rc)
        return rc;
    if (xlmig__pidfile_read(pidfile, &pid))
        return xlmig__error(ctx, LIBXLMIG_ERR_IO, errno, "%s: no pid in %s",
                            what, pidfile);
    *pid_r = pid;
    *start_r = xlmig__proc_start_time(pid);
    if (!*start_r)
        return xlmig__error(ctx, LIBXLMIG_ERR_IO, -1, "%s: it exited", what);
    return 0;
}

/*
 * Stop a task's daemon, *pid_r and *start_r (pid 0: not recorded), named
 * @what in the warning.  A daemon not in its record, whose starter was
 * killed after it began to serve and before the pid was recorded, is
 * found by its pid file @pidfile (NULL: none): *pid_r and *start_r are
 * then set from it, and it is stopped like a recorded one.
 */
void xlmig__sxm_daemon_stop(libxlmig_ctx *ctx, const char *task,
                            const char *what, const char *pidfile,
                            int64_t *pid_r, uint64_t *start_r)
{
    pid_t pid;
    uint64_t start;

    if (!*pid_r && pidfile && xlmig__pidfile_daemon(pidfile, &pid, &start)) {
        xlmig__log(ctx, XTL_INFO, -1, "task %s: %s (pid %d) was started "
                   "but not recorded; found by its pid file %s", task, what,
                   (int)pid, pidfile);
        *pid_r = pid;
        *start_r = start;
    }
    if (*pid_r && xlmig__proc_stop((pid_t)*pid_r, *start_r, STOP_GRACE_MS))
        xlmig__log(ctx, XTL_WARN, -1, "task %s: %s (pid %lld) would not "
                   "stop", task, what, (long long)*pid_r);
}

void xlmig__sxm_nbd_tls(const char *tls_dir, struct xlmig__sxm_nbd_tls *t)
{
    memset(t, 0, sizeof(*t));
    if (tls_dir_is_psk(tls_dir)) {
        snprintf(t->psk_path, sizeof(t->psk_path), "%s/keys.psk", tls_dir);
        t->psk_file = t->psk_path;
        t->username = XLMIG__SXM_PSK_USER;
    } else {
        t->certs_dir = tls_dir;
    }
}

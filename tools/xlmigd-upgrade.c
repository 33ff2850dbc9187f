/* SPDX-License-Identifier: LGPL-2.1-only */
/*
 * host.upgrade: the command of a rolling pool upgrade, run on this host
 * (docs/specs/rolling-upgrade.md).  The caller (xlmig-xe
 * pool-rolling-upgrade) has disabled and evacuated the host; the answer
 * says how the command ended.  A command that reboots the host ends the
 * connection instead: the caller takes that as the reboot.
 *
 * Params: "command" (1 to 1024 bytes of printable ASCII, run by
 * /bin/sh -c as this daemon's user), "timeout" (seconds, 1 to 86400).
 * The command runs as the leader of a process group of its own, its
 * stdin empty, its stdout and stderr together; at the limit its whole
 * group is killed.  One at a time on a host.
 * Answer: "end" ("exited", "signalled", "timed_out"), "status" (the
 * exit status or the signal) and "output" (the last bytes it printed,
 * made one line).
 */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "proc.h"
#include "rolling.h"
#include "xlmigd.h"

static pthread_mutex_t upgrade_lock = PTHREAD_MUTEX_INITIALIZER;
static bool upgrade_running;

int xlmigd_m_host_upgrade(struct conn *c, const struct xlmig__rpc_msg *m)
{
    const char *command = xlmigd_need_str(c, m, "command");
    struct xlmig__proc_filter_io io;
    char *script = NULL, status_text[32];
    char *argv[] = { "/bin/sh", "-c", NULL, NULL };
    const char *end;
    uint64_t timeout = 0;
    double t0;
    yajl_gen g;
    int rc, status = 0;
    bool replied = false;
    size_t len;

    if (!command)
        return 0;
    rc = xlmig__rolling_command_check(c->ctx, command);
    if (rc)
        return xlmigd_reply_error(c, m->id, rc,
                                  libxlmig_ctx_last_error(c->ctx), NULL);
    if (xlmig__rpc_get_uint(m->params, "timeout", &timeout) || !timeout ||
        timeout > XLMIG__ROLLING_TIMEOUT_MAX)
        return xlmigd_reply_error(c, m->id, LIBXLMIG_ERR_INVALID_ARGUMENT,
                                  "host.upgrade needs \"timeout\": 1 to "
                                  "86400 seconds", NULL);
    pthread_mutex_lock(&upgrade_lock);
    if (upgrade_running)
        rc = LIBXLMIG_ERR_OTHER_OPERATION_IN_PROGRESS;
    upgrade_running = true;
    pthread_mutex_unlock(&upgrade_lock);
    if (rc)
        return xlmigd_reply_error(c, m->id, rc, "an upgrade command runs on "
                                  "this host already (host.upgrade); wait "
                                  "for it to end", NULL);
    /* stdout into stderr, whose tail is kept. */
    len = strlen(command) + 16;
    script = malloc(len);
    if (!script) {
        rc = LIBXLMIG_ERR_NO_MEMORY;
        goto out;
    }
    snprintf(script, len, "exec 1>&2\n%s", command);
    argv[2] = script;
    memset(&io, 0, sizeof(io));
    io.in = "";
    io.timeout_ms = (unsigned int)timeout * 1000u;
    xlmigd_log("upgrade command for %s, at most %u s: %s", c->peer,
               (unsigned)timeout, command);
    t0 = xlmig__now_s();
    rc = xlmig__proc_filter("/bin/sh", argv, &io);
    if (rc) {
        xlmigd_log("the upgrade command could not run: %s", io.err);
        rc = xlmig__error(c->ctx, LIBXLMIG_ERR_IO, -1, "the upgrade command "
                          "could not be started: %s", io.err);
        goto out;
    }
    if (io.timed_out) {
        end = "timed_out";
        status = SIGKILL;
        snprintf(status_text, sizeof(status_text), "killed");
    } else if (WIFSIGNALED(io.status)) {
        end = "signalled";
        status = WTERMSIG(io.status);
        snprintf(status_text, sizeof(status_text), "signal %d", status);
    } else {
        end = "exited";
        status = WIFEXITED(io.status) ? WEXITSTATUS(io.status) : 255;
        snprintf(status_text, sizeof(status_text), "status %d", status);
    }
    xlmigd_log("the upgrade command ended after %.1f s (%s, %s)%s%s",
               xlmig__now_s() - t0, end, status_text,
               io.err[0] ? "; its output ends: " : "", io.err);
    g = xlmig__rpc_gen_result(m->id);
    if (!g) {
        rc = LIBXLMIG_ERR_NO_MEMORY;
        goto out;
    }
    yajl_gen_map_open(g);
    xlmigd_gen_kv_str(g, "end", end);
    xlmigd_gen_kv_uint(g, "status", (uint64_t)status);
    xlmigd_gen_kv_str(g, "output", io.err);
    yajl_gen_map_close(g);
    rc = xlmigd_finish_reply(c, g);
    replied = true;
 out:
    free(script);
    pthread_mutex_lock(&upgrade_lock);
    upgrade_running = false;
    pthread_mutex_unlock(&upgrade_lock);
    if (rc && !replied && rc != LIBXLMIG_ERR_NO_MEMORY)
        return xlmigd_reply_error(c, m->id, rc,
                                  libxlmig_ctx_last_error(c->ctx), NULL);
    return rc;
}

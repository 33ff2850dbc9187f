/* SPDX-License-Identifier: LGPL-2.1-only */
/*
 * xlmigd under systemd: sd_notify(3)'s datagram protocol and the
 * journal's stream (systemd.exec(5), $JOURNAL_STREAM).
 *
 * The protocol is written out here rather than linked from libsystemd:
 * it is one datagram on a Unix socket (sd_notify(3), "Notes"), an
 * interface systemd keeps stable, and a root daemon that faces the
 * network keeps libsystemd's own dependencies (liblzma, libgcrypt, ...)
 * out of its address space, as OpenSSH's sshd does since 9.8.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "xlmigd.h"
#include "xlmigd-systemd.h"

int xlmigd_sd_notify(const char *state)
{
    const char *path = getenv("NOTIFY_SOCKET");
    struct sockaddr_un sa;
    socklen_t sl;
    size_t n;
    ssize_t r;
    int fd, saved;

    if (!path || !*path)
        return 0;
    n = strlen(path);
    /* A path, or '@' for an abstract address; not vsock (systemd 254+). */
    if ((path[0] != '/' && path[0] != '@') || n >= sizeof(sa.sun_path)) {
        xlmigd_log("cannot notify systemd (%s): NOTIFY_SOCKET=%s is not a "
                   "Unix socket address", state, path);
        return -1;
    }
    memset(&sa, 0, sizeof(sa));
    sa.sun_family = AF_UNIX;
    memcpy(sa.sun_path, path, n);
    if (path[0] == '@')
        sa.sun_path[0] = '\0';
    sl = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n);

    fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        xlmigd_log("cannot notify systemd (%s): socket: %s", state,
                   strerror(errno));
        return -1;
    }
    r = sendto(fd, state, strlen(state), MSG_NOSIGNAL,
               (struct sockaddr *)&sa, sl);
    saved = errno;
    close(fd);
    if (r < 0) {
        xlmigd_log("cannot notify systemd (%s) at %s: %s", state, path,
                   strerror(saved));
        return -1;
    }
    return 0;
}

static bool stderr_journal;
static pthread_once_t stderr_once = PTHREAD_ONCE_INIT;

static void stderr_decide(void)
{
    const char *js = getenv("JOURNAL_STREAM");
    uintmax_t dev, ino;
    struct stat st;
    char *end;

    /*
     * "DEV:INO", both decimal.  A child inherits the variable with a
     * standard error of its own: only a match counts.
     */
    if (!js || fstat(STDERR_FILENO, &st))
        return;
    errno = 0;
    dev = strtoumax(js, &end, 10);
    if (errno || end == js || *end != ':')
        return;
    js = end + 1;
    ino = strtoumax(js, &end, 10);
    if (errno || end == js || *end)
        return;
    stderr_journal = dev == (uintmax_t)st.st_dev &&
                     ino == (uintmax_t)st.st_ino;
}

bool xlmigd_stderr_is_journal(void)
{
    pthread_once(&stderr_once, stderr_decide);
    return stderr_journal;
}

/* SPDX-License-Identifier: LGPL-2.1-only */
/*
 * Child processes: run a program and collect its output; daemons by pid
 * and start time (proc.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"
#include "proc.h"

static const char *env_or(const char *var, const char *dflt)
{
    const char *env = getenv(var);

    return env && env[0] ? env : dflt;
}

const char *xlmig__qemu_img_bin(void)
{
    return env_or("XLMIG_QEMU_IMG", "qemu-img");
}

const char *xlmig__qemu_nbd_bin(void)
{
    return env_or("XLMIG_QEMU_NBD", "qemu-nbd");
}

const char *xlmig__qsd_bin(void)
{
    return env_or("XLMIG_QSD", "qemu-storage-daemon");
}

/* Append what @fd has to @buf (@cap bytes) at *len_r; past @cap drop. */
static int drain(int fd, char *buf, size_t cap, size_t *len_r, bool *over_r)
{
    char tmp[4096];
    ssize_t r = read(fd, tmp, sizeof(tmp));

    if (r < 0)
        return errno == EINTR || errno == EAGAIN ? 1 : -1;
    if (r == 0)
        return 0;
    if (*len_r + (size_t)r > cap) {
        *over_r = true;
        r = (ssize_t)(cap - *len_r);
    }
    if (r > 0)
        memcpy(buf + *len_r, tmp, (size_t)r);
    *len_r += (size_t)r;
    return 1;
}

void xlmig__child_signals_reset(void)
{
    static const int sigs[] = { SIGPIPE, SIGTERM, SIGINT, SIGHUP };
    sigset_t none;
    size_t i;

    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    for (i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
        signal(sigs[i], SIG_DFL);
}
int xlmig__proc_spawn(const char *path, char *const argv[], const int *fds,
                      int nfds, pid_t *pid_r)
{
    int ep[2] = { -1, -1 }, err = 0, i;
    pid_t pid;
    ssize_t n;

    /* The exec's failure comes back through @ep, closed by a success. */
    if (pipe2(ep, O_CLOEXEC))
        return errno;
    pid = fork();
    if (pid < 0) {
        err = errno;
        close(ep[0]);
        close(ep[1]);
        return err;
    }
    if (pid == 0) {
        xlmig__child_signals_reset();
        for (i = 0; i < nfds && !err; i++) {
            if (fds[i] < 0)
                continue;
            /* dup2 onto itself keeps close-on-exec: clear it instead. */
            if (fds[i] == i ? fcntl(i, F_SETFD, 0) < 0
                            : dup2(fds[i], i) < 0)
                err = errno;
        }
        if (!err) {
            if (strchr(path, '/'))
                execv(path, argv);
            else
                execvp(path, argv);
            err = errno;
        }
        n = write(ep[1], &err, sizeof(err));
        (void)n;
        _exit(127);
    }
    close(ep[1]);
    do {
        n = read(ep[0], &err, sizeof(err));
    } while (n < 0 && errno == EINTR);
    close(ep[0]);
    if (n == (ssize_t)sizeof(err)) {
        while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
            ;
        return err ? err : EIO;
    }
    *pid_r = pid;
    return 0;
}

int xlmig__proc_run(const char *bin, char *const argv[], char *out,
                    size_t out_cap, size_t *out_len_r, char *err,
                    size_t err_len)
{
    int po[2] = { -1, -1 }, pe[2] = { -1, -1 };
    char ebuf[XLMIG__PROC_ERR_MAX], dummy[1];
    size_t olen = 0, elen = 0, i;
    bool oover = false, eover = false, oopen = true, eopen = true;
    pid_t pid = -1;
    int status = 0, rc = LIBXLMIG_ERR_IO;

    if (!out) {
        out = dummy;
        out_cap = 0;
    }
    err[0] = '\0';
    if (pipe2(po, O_CLOEXEC) || pipe2(pe, O_CLOEXEC)) {
        snprintf(err, err_len, "cannot make a pipe: %s", strerror(errno));
        goto out;
    }
    pid = fork();
    if (pid < 0) {
        snprintf(err, err_len, "cannot fork: %s", strerror(errno));
        goto out;
    }
    if (pid == 0) {
        int nul = open("/dev/null", O_RDONLY);

        if (nul >= 0)
            dup2(nul, 0);
        dup2(po[1], 1);
        dup2(pe[1], 2);
        xlmig__child_signals_reset();
        ((char **)argv)[0] = (char *)bin;
        execvp(bin, argv);
        dprintf(2, "cannot run %s: %s\n", bin, strerror(errno));
        _exit(127);
    }
    close(po[1]);
    close(pe[1]);
    po[1] = pe[1] = -1;
    while (oopen || eopen) {
        struct pollfd pf[2] = {
            { .fd = oopen ? po[0] : -1, .events = POLLIN },
            { .fd = eopen ? pe[0] : -1, .events = POLLIN },
        };
        int r = poll(pf, 2, -1);

        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            break;
        if (oopen && pf[0].revents)
            oopen = drain(po[0], out, out_cap, &olen, &oover) > 0;
        if (eopen && pf[1].revents)
            eopen = drain(pe[0], ebuf, sizeof(ebuf) - 1, &elen, &eover) > 0;
    }
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    pid = -1;
    ebuf[elen] = '\0';
    /* One line of text: newlines and control bytes become spaces. */
    for (i = 0; i < elen; i++) {
        if ((unsigned char)ebuf[i] < 0x20 || (unsigned char)ebuf[i] == 0x7f)
            ebuf[i] = ' ';
    }
    while (elen && ebuf[elen - 1] == ' ')
        ebuf[--elen] = '\0';
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
        if (oover) {
            snprintf(err, err_len, "%s printed more than %zu bytes", bin,
                     out_cap);
            goto out;
        }
        if (out_len_r)
            *out_len_r = olen;
        rc = 0;
    } else if (WIFEXITED(status)) {
        snprintf(err, err_len, "%s exited with status %d: %s%s", bin,
                 WEXITSTATUS(status), elen ? ebuf : "(no message)",
                 eover ? "..." : "");
    } else {
        snprintf(err, err_len, "%s was killed by signal %d", bin,
                 WIFSIGNALED(status) ? WTERMSIG(status) : 0);
    }
 out:
    for (i = 0; i < 2; i++) {
        if (po[i] >= 0)
            close(po[i]);
        if (pe[i] >= 0)
            close(pe[i]);
    }
    if (pid > 0)
        waitpid(pid, &status, 0);
    return rc;
}

uint64_t xlmig__proc_start_time(pid_t pid)
{
    char path[64], buf[1024], *p;
    unsigned long long start = 0;
    char state = 0;
    ssize_t n;
    int fd, field;

    if (pid <= 0)
        return 0;
    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (n <= 0)
        return 0;
    buf[n] = '\0';
    /* "PID (COMM) S ...": COMM may hold spaces and ')'; the last ')'
     * ends it.  Then field 3 is the state, field 22 the start time. */
    p = strrchr(buf, ')');
    if (!p || p[1] != ' ')
        return 0;
    p += 2;
    state = *p;
    if (state == 'Z' || state == 'X')
        return 0;
    for (field = 3; field < 22 && p; field++) {
        p = strchr(p, ' ');
        if (p)
            p++;
    }
    if (!p || sscanf(p, "%llu", &start) != 1)
        return 0;
    return start ? (uint64_t)start : 1;
}

bool xlmig__proc_alive(pid_t pid, uint64_t start)
{
    uint64_t now = xlmig__proc_start_time(pid);

    return now && now == start;
}

void xlmig__sleep_ms(unsigned int ms)
{
    struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

    while (nanosleep(&ts, &ts) && errno == EINTR)
        ;
}

double xlmig__now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Reap @pid if it is our child (a daemon we forked ourselves). */
static void reap(pid_t pid)
{
    int status;

    (void)waitpid(pid, &status, WNOHANG);
}

int xlmig__proc_stop(pid_t pid, uint64_t start, unsigned int grace_ms)
{
    unsigned int waited = 0;

    if (!xlmig__proc_alive(pid, start))
        return 0;
    (void)kill(pid, SIGTERM);
    while (waited < grace_ms) {
        reap(pid);
        if (!xlmig__proc_alive(pid, start))
            return 0;
        xlmig__sleep_ms(20);
        waited += 20;
    }
    (void)kill(pid, SIGKILL);
    for (waited = 0; waited < 1000; waited += 20) {
        reap(pid);
        if (!xlmig__proc_alive(pid, start))
            return 0;
        xlmig__sleep_ms(20);
    }
    return LIBXLMIG_ERR_TIMEOUT;
}

int xlmig__pidfile_read(const char *path, pid_t *pid_r)
{
    char buf[33];
    char *end;
    long v;
    ssize_t n;
    int fd = open(path, O_RDONLY | O_CLOEXEC);

    if (fd < 0)
        return LIBXLMIG_ERR_IO;
    n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (n < 0)
        return LIBXLMIG_ERR_IO;
    buf[n] = '\0';
    errno = 0;
    v = strtol(buf, &end, 10);
    while (*end == '\n' || *end == ' ')
        end++;
    if (errno || end == buf || *end || v <= 1 || v > 0x3fffffff)
        return LIBXLMIG_ERR_PROTOCOL;
    *pid_r = (pid_t)v;
    return 0;
}

/* Does /proc/@pid/cmdline hold @arg as one argument? */
static bool cmdline_has(pid_t pid, const char *arg)
{
    char path[64], buf[65536];
    size_t len = 0, alen = strlen(arg), i;
    ssize_t n;
    int fd;

    snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)pid);
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return false;
    while (len < sizeof(buf) - 1 &&
           (n = read(fd, buf + len, sizeof(buf) - 1 - len)) > 0)
        len += (size_t)n;
    close(fd);
    buf[len] = '\0';
    for (i = 0; i < len; i += strlen(buf + i) + 1)
        if (strlen(buf + i) == alen && !memcmp(buf + i, arg, alen))
            return true;
    return false;
}

int xlmig__unix_listening(const char *path)
{
    /* Num RefCount Protocol Flags Type St Inode Path; 00010000 in Flags
     * is __SO_ACCEPTCON, a listening socket. */
    FILE *f = fopen("/proc/net/unix", "re");
    char line[512];
    int found = 0;

    if (!f)
        return -1;
    while (!found && fgets(line, sizeof(line), f)) {
        unsigned long flags;
        int n = -1;
        size_t len;

        if (sscanf(line, "%*s %*s %*s %lx %*x %*x %*u %n", &flags, &n) != 1
            || n < 0)
            continue;
        len = strcspn(line + n, "\n");
        found = (flags & 0x10000) && len == strlen(path) &&
                !memcmp(line + n, path, len);
    }
    fclose(f);
    return found;
}

bool xlmig__pidfile_daemon(const char *path, pid_t *pid_r,
                           uint64_t *start_r)
{
    pid_t pid;
    uint64_t start;

    if (xlmig__pidfile_read(path, &pid))
        return false;
    start = xlmig__proc_start_time(pid);
    if (!start || !cmdline_has(pid, path) ||
        xlmig__proc_start_time(pid) != start)
        return false;
    *pid_r = pid;
    *start_r = start;
    return true;
}

bool xlmig__qemu_opt_append(char *buf, size_t cap, size_t *len_r,
                            const char *value)
{
    size_t len = *len_r;

    for (; *value; value++) {
        size_t need = *value == ',' ? 2 : 1;

        if (len + need >= cap)
            return false;
        buf[len++] = *value;
        if (*value == ',')
            buf[len++] = ',';
    }
    buf[len] = '\0';
    *len_r = len;
    return true;
}

/* ------------------------------------------------------------ filter */

/* Keep the last bytes of a child's stderr: append @n bytes of @buf. */
static void tail_add(struct xlmig__proc_filter_io *io, size_t *len,
                     const char *buf, size_t n)
{
    const size_t cap = sizeof(io->err) - 1;

    if (n >= cap) {
        memcpy(io->err, buf + n - cap, cap);
        *len = cap;
        io->err_cut = true;
        return;
    }
    if (*len + n > cap) {
        size_t drop = *len + n - cap;

        memmove(io->err, io->err + drop, *len - drop);
        *len -= drop;
        io->err_cut = true;
    }
    memcpy(io->err + *len, buf, n);
    *len += n;
}

/* Its stderr's tail as one line: no control bytes, no broken character
 * at the front, no spaces at either end. */
static void tail_finish(struct xlmig__proc_filter_io *io, size_t len)
{
    size_t i, start = 0;

    io->err[len] = '\0';
    for (i = 0; i < len; i++) {
        if ((unsigned char)io->err[i] < 0x20 ||
            (unsigned char)io->err[i] == 0x7f)
            io->err[i] = ' ';
    }
    if (io->err_cut) {
        while (start < len && ((unsigned char)io->err[start] & 0xc0) == 0x80)
            start++;
    }
    while (start < len && io->err[start] == ' ')
        start++;
    while (len > start && io->err[len - 1] == ' ')
        len--;
    memmove(io->err, io->err + start, len - start);
    io->err[len - start] = '\0';
}

/*
 * What @fd has now: stdout into io->out (past out_cap: out_over), or
 * stderr into the tail.  false at end of file or on an error.
 */
static bool filter_read(struct xlmig__proc_filter_io *io, int fd, bool is_out,
                        size_t *elen)
{
    char tmp[4096];
    ssize_t r = read(fd, tmp, sizeof(tmp));

    if (r < 0)
        return errno == EINTR || errno == EAGAIN;
    if (r == 0)
        return false;
    if (!is_out) {
        tail_add(io, elen, tmp, (size_t)r);
    } else if (io->out_len + (size_t)r > io->out_cap) {
        io->out_over = true;
    } else {
        memcpy(io->out + io->out_len, tmp, (size_t)r);
        io->out_len += (size_t)r;
    }
    return true;
}

/* One filter run: the child and our ends of its three streams. */
struct filter_run {
    int sv[2], po[2], pe[2];    /* its stdin (a socket), stdout, stderr */
    bool in_open, out_open, err_open;
    size_t sent, elen;          /* stdin bytes sent; stderr tail length */
    pid_t pid;
};

/* Make the child's streams and start it in its own process group; on
 * failure io->err says why. */
static int filter_spawn(const char *path, char *const argv[],
                        struct xlmig__proc_filter_io *io,
                        struct filter_run *f)
{
    /* Its stdin is a socket, so that we write with MSG_NOSIGNAL: a child
     * that leaves it unread must not SIGPIPE a daemon. */
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, f->sv) ||
        pipe2(f->po, O_CLOEXEC) || pipe2(f->pe, O_CLOEXEC)) {
        snprintf(io->err, sizeof(io->err), "cannot make a pipe: %s",
                 strerror(errno));
        return LIBXLMIG_ERR_IO;
    }
    f->pid = fork();
    if (f->pid < 0) {
        snprintf(io->err, sizeof(io->err), "cannot fork: %s",
                 strerror(errno));
        return LIBXLMIG_ERR_IO;
    }
    if (f->pid == 0) {
        (void)setpgid(0, 0);
        if (dup2(f->sv[1], 0) < 0 || dup2(f->po[1], 1) < 0 ||
            dup2(f->pe[1], 2) < 0)
            _exit(127);
        (void)close_range(3, ~0U, 0);   /* a daemon's sockets stay ours */
        xlmig__child_signals_reset();
        if (strchr(path, '/'))
            execv(path, argv);
        else
            execvp(path, argv);
        dprintf(2, "cannot run %s: %s\n", path, strerror(errno));
        _exit(127);
    }
    /* The child does it too: whoever is first. */
    (void)setpgid(f->pid, f->pid);
    io->pid = f->pid;
    close(f->sv[1]);
    close(f->po[1]);
    close(f->pe[1]);
    f->sv[1] = f->po[1] = f->pe[1] = -1;
    (void)fcntl(f->po[0], F_SETFL, O_NONBLOCK);
    (void)fcntl(f->pe[0], F_SETFL, O_NONBLOCK);
    f->in_open = io->in_len > 0;
    if (!f->in_open) {
        close(f->sv[0]);
        f->sv[0] = -1;
    }
    return 0;
}

/* Send what of io->in its stdin takes now; all sent, or it stopped
 * reading: its stdin is closed. */
static void filter_write(struct xlmig__proc_filter_io *io,
                         struct filter_run *f)
{
    ssize_t n = send(f->sv[0], io->in + f->sent, io->in_len - f->sent,
                     MSG_NOSIGNAL | MSG_DONTWAIT);

    if (n > 0)
        f->sent += (size_t)n;
    /* All sent: end of file.  It stopped reading: so be it. */
    if (f->sent == io->in_len ||
        (n < 0 && errno != EAGAIN && errno != EINTR)) {
        close(f->sv[0]);
        f->sv[0] = -1;
        f->in_open = false;
    }
}

/*
 * Feed and read the child until the leader exits (it may leave a child
 * holding its stdout), its output is over io->out_cap, the timeout
 * passes or poll fails (*poll_errno_r, else 0).  true if it exited.
 */
static bool filter_pump(struct xlmig__proc_filter_io *io,
                        struct filter_run *f, int *poll_errno_r)
{
    double deadline = xlmig__now_s() + io->timeout_ms / 1000.0;
    int r;

    *poll_errno_r = 0;
    for (;;) {
        struct pollfd pf[3] = {
            { .fd = f->in_open ? f->sv[0] : -1, .events = POLLOUT },
            { .fd = f->out_open ? f->po[0] : -1, .events = POLLIN },
            { .fd = f->err_open ? f->pe[0] : -1, .events = POLLIN },
        };
        double left = deadline - xlmig__now_s();
        siginfo_t si;

        if (left <= 0) {
            io->timed_out = true;
            return false;
        }
        if (poll(pf, 3, left < 0.05 ? (int)(left * 1000) + 1 : 50) < 0 &&
            errno != EINTR) {
            *poll_errno_r = errno;
            return false;
        }
        if (f->in_open && pf[0].revents)
            filter_write(io, f);
        if (f->out_open && pf[1].revents)
            f->out_open = filter_read(io, f->po[0], true, &f->elen);
        if (f->err_open && pf[2].revents)
            f->err_open = filter_read(io, f->pe[0], false, &f->elen);
        if (io->out_over)
            return false;
        /* Exited, not reaped: its group's id stays reserved for kill().
         * (ECHILD: reaped by someone else, SIGCHLD ignored.) */
        memset(&si, 0, sizeof(si));
        r = waitid(P_PID, (id_t)f->pid, &si, WEXITED | WNOHANG | WNOWAIT);
        if ((r == 0 && si.si_pid == f->pid) || (r < 0 && errno == ECHILD))
            return true;
    }
}

/* Kill whatever runs of it, read what it wrote before (2 s at most),
 * reap it. */
static void filter_reap(struct xlmig__proc_filter_io *io,
                        struct filter_run *f, bool exited)
{
    double end;

    (void)kill(-f->pid, SIGKILL);
    if (!exited)
        (void)kill(f->pid, SIGKILL);
    end = xlmig__now_s() + 2;
    while ((f->out_open || f->err_open) && xlmig__now_s() < end) {
        struct pollfd pf[2] = {
            { .fd = f->out_open ? f->po[0] : -1, .events = POLLIN },
            { .fd = f->err_open ? f->pe[0] : -1, .events = POLLIN },
        };

        if (poll(pf, 2, 100) < 0 && errno != EINTR)
            break;
        if (f->out_open && pf[0].revents)
            f->out_open = filter_read(io, f->po[0], true, &f->elen);
        if (f->err_open && pf[1].revents)
            f->err_open = filter_read(io, f->pe[0], false, &f->elen);
    }
    while (waitpid(f->pid, &io->status, 0) < 0 && errno == EINTR)
        ;
}

int xlmig__proc_filter(const char *path, char *const argv[],
                       struct xlmig__proc_filter_io *io)
{
    struct filter_run f = {
        .sv = { -1, -1 }, .po = { -1, -1 }, .pe = { -1, -1 },
        .out_open = true, .err_open = true, .pid = -1,
    };
    int rc, poll_errno;
    bool exited;
    size_t i;

    io->out_len = 0;
    io->out_over = io->timed_out = io->err_cut = false;
    io->status = 0;
    io->pid = -1;
    io->err[0] = '\0';
    rc = filter_spawn(path, argv, io, &f);
    if (rc) goto out;

    exited = filter_pump(io, &f, &poll_errno);
    /* Whatever runs of it goes; what it wrote before is still read. */
    filter_reap(io, &f, exited);
    tail_finish(io, f.elen);
    if (poll_errno) {
        snprintf(io->err, sizeof(io->err), "cannot watch it (poll: %s); it "
                 "was killed", strerror(poll_errno));
        rc = LIBXLMIG_ERR_IO;
    }
 out:
    for (i = 0; i < 2; i++) {
        if (f.sv[i] >= 0)
            close(f.sv[i]);
        if (f.po[i] >= 0)
            close(f.po[i]);
        if (f.pe[i] >= 0)
            close(f.pe[i]);
    }
    return rc;
}

/* SPDX-License-Identifier: LGPL-2.1-only */
/*
 * Helpers of the tests that need real NBD servers (test-blkcopy.c,
 * test-diskstream.c): commands run with their output in TMPDIR/cmd.log,
 * images made by qemu-img, qemu-nbd servers started on a unix socket or
 * 127.0.0.1 and stopped.  Include after testctx.h and testfs.h.
 */
#ifndef XLMIG_TESTNBD_H
#define XLMIG_TESTNBD_H

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MiB (1ull << 20)
#define DISK (64 * MiB)

static inline double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Run @argv (PATH lookup), output to TMPDIR/cmd.log; its exit status. */
static inline int run(char *const argv[])
{
    pid_t pid = fork();
    int status;

    assert_true(pid >= 0);
    if (pid == 0) {
        int fd = open(at("cmd.log"), O_WRONLY | O_CREAT | O_APPEND, 0600);

        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
        }
        execvp(argv[0], argv);
        _exit(127);
    }
    assert_int_equal(waitpid(pid, &status, 0), pid);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}

#define RUN_OK(...)                                                        \
    do {                                                                   \
        char *const argv_[] = { __VA_ARGS__, NULL };                       \
        if (run(argv_) != 0)                                               \
            fail_msg("%s failed; see %s", argv_[0], at("cmd.log"));        \
    } while (0)

static inline void img_create(const char *fmt, const char *path, const char *size)
{
    RUN_OK("qemu-img", "create", "-q", "-f", (char *)fmt, (char *)path,
           (char *)size);
}

/* A qemu-nbd server: its pid and the URI to reach it. */
struct server {
    pid_t pid;
    char uri[512];
};

/* Can we connect to @sa yet? */
static inline bool probe(const struct sockaddr *sa, socklen_t len)
{
    int fd = socket(sa->sa_family, SOCK_STREAM, 0);
    bool ok;

    assert_true(fd >= 0);
    ok = connect(fd, sa, len) == 0;
    close(fd);
    return ok;
}

/*
 * Start qemu-nbd serving @img (format @fmt) with @extra arguments
 * (NULL-ended, may be NULL), on the unix socket @sock or, when @port is
 * not 0, on 127.0.0.1:@port; wait until it takes connections.
 */
static inline void start_nbd(struct server *s, const char *img, const char *fmt,
                      bool readonly, const char *sock, int port,
                      const char *const *extra)
{
    char *argv[32], portstr[16];
    struct sockaddr_un un = { .sun_family = AF_UNIX };
    struct sockaddr_in in = { .sin_family = AF_INET };
    size_t n = 0;
    int i, status;

    argv[n++] = "qemu-nbd";
    argv[n++] = "--persistent";
    argv[n++] = "-f";
    argv[n++] = (char *)fmt;
    argv[n++] = "-x";
    argv[n++] = "disk";
    if (readonly)
        argv[n++] = "-r";
    if (port) {
        snprintf(portstr, sizeof(portstr), "%d", port);
        argv[n++] = "-b";
        argv[n++] = "127.0.0.1";
        argv[n++] = "-p";
        argv[n++] = portstr;
    } else {
        argv[n++] = "-k";
        argv[n++] = (char *)sock;
    }
    while (extra && *extra && n < ARRAY_LEN(argv) - 2)
        argv[n++] = (char *)*extra++;
    argv[n++] = (char *)img;
    argv[n] = NULL;

    if (port) {
        in.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        in.sin_port = htons((uint16_t)port);
        snprintf(s->uri, sizeof(s->uri), "nbds://127.0.0.1:%d/disk", port);
    } else {
        snprintf(un.sun_path, sizeof(un.sun_path), "%s", sock);
        snprintf(s->uri, sizeof(s->uri), "nbd+unix:///disk?socket=%s", sock);
    }
    s->pid = fork();
    assert_true(s->pid >= 0);
    if (s->pid == 0) {
        int fd = open(at("nbd.log"), O_WRONLY | O_CREAT | O_APPEND, 0600);

        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
        }
        execvp(argv[0], argv);
        _exit(127);
    }
    for (i = 0; i < 1000; i++) {
        if (port ? probe((struct sockaddr *)&in, sizeof(in))
                 : probe((struct sockaddr *)&un, sizeof(un)))
            return;
        if (waitpid(s->pid, &status, WNOHANG) == s->pid)
            fail_msg("qemu-nbd exited (status %d) before it listened; see "
                     "%s", status, at("nbd.log"));
        usleep(10000);
    }
    fail_msg("qemu-nbd did not listen in 10 s");
}

static inline void stop_nbd(struct server *s)
{
    if (s->pid > 0) {
        kill(s->pid, SIGTERM);
        waitpid(s->pid, NULL, 0);
    }
    s->pid = -1;
}

#endif /* XLMIG_TESTNBD_H */

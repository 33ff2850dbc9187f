/* SPDX-License-Identifier: LGPL-2.1-only */
/*
 * fake-xl: a stand-in for xl that speaks xl's migration protocol byte
 * for byte (xen tools/xl/xl_migrate.c, messages from tools/xl/xl.h), for
 * testing transports without a hypervisor.
 *
 *   fake-xl [-v...] [-t] [-T] migrate-receive [-F] [-e] [-d] [-r] [-p]
 *       The receiver.  Writes the banner, reads the stream and checks it
 *       against the file named by $FAKE_XL_EXPECT (byte for byte; where
 *       the real xl knows the stream's end from its records, this one
 *       knows it from the file's size), answers "domain received", waits
 *       for the sender's permission, reports the status byte (non-zero
 *       with $FAKE_XL_FAIL=1, then hands the domain back).  Exits 0 only
 *       if the stream was exactly the expected one and the handshake
 *       completed (the real xl exits 0 after a reported failure too).
 *
 *   fake-xl migrate [-s COMMAND] [-e] [-p] [--debug] --stream FILE DOM HOST
 *       The sender.  Runs COMMAND as xl does (`exec COMMAND HOST xl
 *       migrate-receive ...` through sh -c, or HOST itself with -s ""),
 *       reads the banner, sends FILE as the stream, waits for "domain
 *       received", gives permission, reads the report.  Prints xl's
 *       messages, then the transport process's exit status.
 *
 * With $FAKE_XL_LOG set, one result line is appended to that file.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* tools/xl/xl.h */
static const char migrate_receiver_banner[] =
    "xl migration receiver ready, send binary domain data.\n";
static const char migrate_receiver_ready[] =
    "domain received, ready to unpause";
static const char migrate_permission_to_go[] =
    "domain is yours, you are cleared to unpause";
static const char migrate_report[] =
    "my copy unpause results are as follows";

static const char *role = "fake-xl";

static void logres(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));

/* Append one result line to $FAKE_XL_LOG, if set. */
static void logres(const char *fmt, ...)
{
    const char *path = getenv("FAKE_XL_LOG");
    va_list ap;
    FILE *f;

    if (!path)
        return;
    f = fopen(path, "a");
    if (!f)
        return;
    fprintf(f, "%s: ", role);
    va_start(ap, fmt);
    vfprintf(f, fmt, ap);
    va_end(ap);
    fputc('\n', f);
    fclose(f);
}

static int write_exactly(int fd, const void *buf, size_t len)
{
    const char *p = buf;

    while (len) {
        ssize_t r = write(fd, p, len);

        if (r < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        p += r;
        len -= (size_t)r;
    }
    return 0;
}

/* Read exactly @len bytes; returns how many came before EOF, or -1. */
static ssize_t read_exactly(int fd, void *buf, size_t len)
{
    char *p = buf;
    size_t got = 0;

    while (got < len) {
        ssize_t r = read(fd, p + got, len - got);

        if (r < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        if (r == 0)
            break;
        got += (size_t)r;
    }
    return (ssize_t)got;
}

/* migrate_read_fixedmessage(): 0 or 1, having said why. */
static int read_fixedmessage(int fd, const void *msg, size_t len,
                             const char *what, const char *rune)
{
    char buf[256];
    const char *stream = rune ? "migration receiver stream"
                              : "migration stream";
    ssize_t got = read_exactly(fd, buf, len);

    if (got < (ssize_t)len) {
        fprintf(stderr, "%s: %s: %s: %s\n", role, stream, what,
                got < 0 ? strerror(errno) : "unexpected EOF");
        return 1;
    }
    if (memcmp(buf, msg, len)) {
        fprintf(stderr, "%s contained unexpected data instead of %s\n",
                stream, what);
        if (rune)
            fprintf(stderr, "(command run was: %s )\n", rune);
        return 1;
    }
    return 0;
}

/* ------------------------------------------------------------------ */
/* Receiver                                                           */
/* ------------------------------------------------------------------ */

/* Read the stream from @fd and compare it with @path. */
static int receive_stream(int fd, const char *path, unsigned long long *n_r)
{
    static char want[1 << 16], got[1 << 16];
    unsigned long long off = 0, size;
    FILE *f = fopen(path, "rb");

    if (!f) {
        fprintf(stderr, "%s: cannot open the expected stream %s: %s\n",
                role, path, strerror(errno));
        return -1;
    }
    fseek(f, 0, SEEK_END);
    size = (unsigned long long)ftell(f);
    fseek(f, 0, SEEK_SET);
    for (;;) {
        size_t n = fread(want, 1, sizeof(want), f);
        ssize_t g;
        size_t i;

        if (n == 0)
            break;
        g = read_exactly(fd, got, n);
        if (g < (ssize_t)n) {
            fprintf(stderr, "%s: the stream ended after %llu of %llu "
                    "bytes\n", role, off + (g > 0 ? (size_t)g : 0), size);
            logres("FAILED: the stream ended after %llu of %llu bytes",
                   off + (g > 0 ? (size_t)g : 0), size);
            fclose(f);
            return -1;
        }
        if (memcmp(want, got, n)) {
            for (i = 0; i < n && want[i] == got[i]; i++)
                ;
            fprintf(stderr, "%s: the stream differs from %s at byte "
                    "%llu\n", role, path, off + i);
            logres("FAILED: the stream differs from the expected one at "
                   "byte %llu", off + i);
            fclose(f);
            return -1;
        }
        off += n;
    }
    fclose(f);
    *n_r = off;
    return 0;
}

static int migrate_receive(void)
{
    const char *expect = getenv("FAKE_XL_EXPECT");
    bool fail = getenv("FAKE_XL_FAIL") && !strcmp(getenv("FAKE_XL_FAIL"),
                                                   "1");
    unsigned long long n = 0;
    char rc_buf;
    int rc;

    role = "fake-xl migrate-receive";
    signal(SIGPIPE, SIG_IGN);
    if (!expect) {
        fprintf(stderr, "%s: set FAKE_XL_EXPECT to the expected stream\n",
                role);
        return 1;
    }
    fprintf(stderr, "migration target: Ready to receive domain.\n");
    if (write_exactly(1, migrate_receiver_banner,
                      sizeof(migrate_receiver_banner) - 1))
        return 1;
    if (receive_stream(0, expect, &n)) {
        fprintf(stderr, "migration target: Domain creation failed "
                "(code -3).\n");
        return 1;
    }
    fprintf(stderr, "migration target: Transfer complete, requesting "
            "permission to start domain.\n");
    if (write_exactly(1, migrate_receiver_ready,
                      sizeof(migrate_receiver_ready)))
        return 1;
    rc = read_fixedmessage(0, migrate_permission_to_go,
                           sizeof(migrate_permission_to_go), "GO message",
                           NULL);
    if (!rc) {
        fprintf(stderr, "migration target: Got permission, starting "
                "domain.\n");
        if (fail)
            rc = 3;             /* "unpause failed" */
        else
            fprintf(stderr, "migration target: Domain started "
                    "successsfully.\n");
    }
    if (write_exactly(1, migrate_report, sizeof(migrate_report)))
        return 1;
    rc_buf = (char)-rc;
    if (write_exactly(1, &rc_buf, 1))
        return 1;
    if (rc) {
        fprintf(stderr, "migration target: Failure, destroying our "
                "copy.\n");
        fprintf(stderr, "migration target: Cleanup OK, granting sender "
                "permission to resume.\n");
        if (write_exactly(1, migrate_permission_to_go,
                          sizeof(migrate_permission_to_go)))
            return 1;
        logres("FAILED: startup failure reported after %llu bytes", n);
        return 1;
    }
    logres("ok: %llu bytes", n);
    return 0;
}

/* ------------------------------------------------------------------ */
/* Sender                                                             */
/* ------------------------------------------------------------------ */

static pid_t child = -1;

/* create_migration_child() */
static pid_t create_migration_child(const char *rune, int *send_fd,
                                    int *recv_fd)
{
    int sendpipe[2], recvpipe[2];
    pid_t pid;

    if (pipe2(sendpipe, O_CLOEXEC) || pipe2(recvpipe, O_CLOEXEC))
        return -1;
    pid = fork();
    if (pid < 0)
        return -1;
    if (!pid) {
        dup2(sendpipe[0], 0);
        dup2(recvpipe[1], 1);
        execlp("sh", "sh", "-c", rune, (char *)0);
        perror("failed to exec sh");
        _exit(1);
    }
    close(sendpipe[0]);
    close(recvpipe[1]);
    *send_fd = sendpipe[1];
    *recv_fd = recvpipe[0];
    signal(SIGPIPE, SIG_IGN);
    return pid;
}

/* Wait (at most 20 s) for the transport and say how it ended. */
static int child_report(void)
{
    int i, st;

    if (child < 0)
        return -1;
    for (i = 0; i < 2000; i++) {
        pid_t r = waitpid(child, &st, WNOHANG);

        if (r == child) {
            if (WIFEXITED(st)) {
                fprintf(stderr, "fake-xl: migration transport process "
                        "exited with status %d\n", WEXITSTATUS(st));
                return WEXITSTATUS(st);
            }
            fprintf(stderr, "fake-xl: migration transport process was "
                    "killed by signal %d\n", WTERMSIG(st));
            return 128 + WTERMSIG(st);
        }
        usleep(10000);
    }
    fprintf(stderr, "fake-xl: migration transport process [%ld] not "
            "exiting, no longer waiting\n", (long)child);
    return -1;
}

static int send_stream(int fd, const char *path)
{
    static char buf[1 << 16];
    int in = open(path, O_RDONLY | O_CLOEXEC);
    ssize_t n;

    if (in < 0) {
        fprintf(stderr, "fake-xl: cannot open %s: %s\n", path,
                strerror(errno));
        return -1;
    }
    while ((n = read(in, buf, sizeof(buf))) > 0) {
        if (write_exactly(fd, buf, (size_t)n)) {
            fprintf(stderr, "fake-xl: writing the stream: %s\n",
                    strerror(errno));
            close(in);
            return -1;
        }
    }
    close(in);
    return n < 0 ? -1 : 0;
}

static int finish(int status, const char *what)
{
    int t = child_report();

    logres("%s (transport status %d)", what, t);
    return status;
}

static int migrate(int argc, char **argv)
{
    const char *ssh_command = "ssh", *stream = NULL, *host;
    int daemonize = 1, debug = 0, pause_after = 0, i, first = -1;
    int send_fd = -1, recv_fd = -1;
    char rune[4096], rc_buf;

    role = "fake-xl migrate";
    for (i = 1; i < argc; i++) {
        const char *a = argv[i];

        if (!strcmp(a, "-s") && i + 1 < argc)
            ssh_command = argv[++i];
        else if (!strcmp(a, "--stream") && i + 1 < argc)
            stream = argv[++i];
        else if (!strcmp(a, "-e") || !strcmp(a, "-F"))
            daemonize = 0;
        else if (!strcmp(a, "-p"))
            pause_after = 1;
        else if (!strcmp(a, "--debug"))
            debug = 1;
        else if (!strcmp(a, "--live") || !strcmp(a, "-D"))
            continue;
        else if (a[0] == '-') {
            fprintf(stderr, "fake-xl migrate: unknown option %s\n", a);
            return 2;
        } else {
            first = i;
            break;
        }
    }
    if (first < 0 || first + 2 != argc || !stream) {
        fprintf(stderr, "usage: fake-xl migrate [-s COMMAND] [-e] [-p] "
                "[--debug] --stream FILE DOM HOST\n");
        return 2;
    }
    host = argv[first + 1];
    if (!ssh_command[0])
        snprintf(rune, sizeof(rune), "%s", host);
    else
        snprintf(rune, sizeof(rune), "exec %s %s xl%s migrate-receive%s%s%s",
                 ssh_command, host, isatty(2) > 0 ? " -t" : "",
                 daemonize ? "" : " -e", debug ? " -d" : "",
                 pause_after ? " -p" : "");

    child = create_migration_child(rune, &send_fd, &recv_fd);
    if (child < 0) {
        perror("fake-xl: cannot start the migration transport");
        return 1;
    }
    if (read_fixedmessage(recv_fd, migrate_receiver_banner,
                          sizeof(migrate_receiver_banner) - 1, "banner",
                          rune)) {
        close(send_fd);
        return finish(1, "FAILED: no banner");
    }
    if (send_stream(send_fd, stream)) {
        fprintf(stderr, "migration sender: libxl_domain_suspend failed "
                "(rc=-3)\n");
        goto failed_resume;
    }
    if (read_fixedmessage(recv_fd, migrate_receiver_ready,
                          sizeof(migrate_receiver_ready), "ready message",
                          rune))
        goto failed_resume;
    fprintf(stderr, "migration sender: Target has acknowledged "
            "transfer.\n");
    fprintf(stderr, "migration sender: Giving target permission to "
            "start.\n");
    if (write_exactly(send_fd, migrate_permission_to_go,
                      sizeof(migrate_permission_to_go)))
        goto failed_badly;
    if (read_fixedmessage(recv_fd, migrate_report, sizeof(migrate_report),
                          "success/failure report message", rune))
        goto failed_badly;
    if (read_exactly(recv_fd, &rc_buf, 1) != 1)
        goto failed_badly;
    if (rc_buf) {
        fprintf(stderr, "migration sender: Target reports startup failure"
                " (status code %d).\n", rc_buf);
        if (read_fixedmessage(recv_fd, migrate_permission_to_go,
                              sizeof(migrate_permission_to_go),
                              "permission for sender to resume", rune))
            goto failed_badly;
        fprintf(stderr, "migration sender: Trying to resume at our end.\n");
        fprintf(stderr, "Migration failed due to problems at target.\n");
        close(send_fd);
        close(recv_fd);
        return finish(1, "FAILED: target reported startup failure, "
                      "resumed");
    }
    fprintf(stderr, "migration sender: Target reports successful "
            "startup.\n");
    fprintf(stderr, "Migration successful.\n");
    close(send_fd);
    close(recv_fd);
    return finish(0, "ok: migration successful");

 failed_resume:
    close(send_fd);
    fprintf(stderr, "Migration failed, resuming at sender.\n");
    close(recv_fd);
    return finish(1, "FAILED: resumed at sender");

 failed_badly:
    fprintf(stderr, "** Migration failed during final handshake **\n");
    close(send_fd);
    close(recv_fd);
    return finish(1, "FAILED: during the final handshake");
}

int main(int argc, char **argv)
{
    int i = 1;

    /* xl's global flags, as `xl migrate` passes them. */
    while (i < argc && argv[i][0] == '-' && strcmp(argv[i], "--help"))
        i++;
    if (i < argc && !strcmp(argv[i], "migrate-receive")) {
        for (i++; i < argc; i++) {
            if (argv[i][0] != '-' || strspn(argv[i] + 1, "Fedrp") !=
                strlen(argv[i] + 1)) {
                fprintf(stderr, "fake-xl migrate-receive: unexpected "
                        "'%s'\n", argv[i]);
                return 2;
            }
        }
        return migrate_receive();
    }
    if (i < argc && !strcmp(argv[i], "migrate"))
        return migrate(argc - i, argv + i);
    fprintf(stderr, "usage: fake-xl [-v] [-t] [-T] migrate-receive [-e] "
            "[-d] [-p] ...\n"
            "       fake-xl migrate [-s COMMAND] [-e] [-p] [--debug] "
            "--stream FILE DOM HOST\n"
            "(see the comment at the top of tests/tools/fake-xl.c)\n");
    return 2;
}

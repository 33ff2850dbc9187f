/* SPDX-License-Identifier: LGPL-2.1-only */
/*
 * Child processes (libxlmig/proc.c): xlmig__proc_spawn with descriptors
 * put in place (stdin, stdout, a fd 3, one already at its number with
 * close-on-exec), the program found in PATH or by its path, and an exec
 * that fails said as its errno with no child left behind.
 * xlmig__proc_filter: stdin in, stdout out (capped: killed at once),
 * stderr's tail, a time limit, no descriptor of ours passed on, and
 * nothing of the child's process group left running.
 * xlmig__pidfile_daemon: the process a pid file names only when its
 * command line has that file as an argument (never a reused pid).
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "proc.h"
#include "testutil.h"

/* All of @fd until EOF, NUL-ended into @buf. */
static void read_all(int fd, char *buf, size_t cap)
{
    size_t n = 0;
    ssize_t r;

    while (n + 1 < cap && (r = read(fd, buf + n, cap - 1 - n)) > 0)
        n += (size_t)r;
    buf[n] = '\0';
}

static int exit_status(pid_t pid)
{
    int st;

    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_true(WIFEXITED(st));
    return WEXITSTATUS(st);
}

static void test_spawn_fds(void **state)
{
    char *argv[] = { "sh", "-c", "read w; echo \"out $w\"; echo three >&3; "
                     "exit 3", NULL };
    int in[2], out[2], three[2], fds[4];
    char buf[64];
    pid_t pid;

    (void)state;
    assert_int_equal(pipe2(in, O_CLOEXEC), 0);
    assert_int_equal(pipe2(out, O_CLOEXEC), 0);
    assert_int_equal(pipe2(three, O_CLOEXEC), 0);
    fds[0] = in[0];
    fds[1] = out[1];
    fds[2] = -1;
    fds[3] = three[1];
    assert_int_equal(xlmig__proc_spawn("sh", argv, fds, 4, &pid), 0);
    close(in[0]);
    close(out[1]);
    close(three[1]);
    assert_int_equal(write(in[1], "w\n", 2), 2);
    close(in[1]);
    read_all(out[0], buf, sizeof(buf));
    assert_string_equal(buf, "out w\n");
    read_all(three[0], buf, sizeof(buf));
    assert_string_equal(buf, "three\n");
    close(out[0]);
    close(three[0]);
    assert_int_equal(exit_status(pid), 3);
}

/* A descriptor already at its number keeps it across the exec. */
static void test_spawn_fd_in_place(void **state)
{
    char *argv[] = { "/bin/sh", "-c", "echo here >&5", NULL };
    int p[2], fds[6] = { -1, -1, -1, -1, -1, 5 };
    char buf[64];
    pid_t pid;

    (void)state;
    assert_int_equal(pipe2(p, O_CLOEXEC), 0);
    if (p[1] != 5) {
        assert_int_equal(dup3(p[1], 5, O_CLOEXEC), 5);
        close(p[1]);
    }
    assert_int_equal(xlmig__proc_spawn("/bin/sh", argv, fds, 6, &pid), 0);
    close(5);
    read_all(p[0], buf, sizeof(buf));
    close(p[0]);
    assert_string_equal(buf, "here\n");
    assert_int_equal(exit_status(pid), 0);
}

static void test_spawn_fails(void **state)
{
    char *argv[] = { "nothing-here", NULL };
    char path[] = "/tmp/test-proc.XXXXXX";
    pid_t pid = 77;
    int fd;

    (void)state;
    assert_int_equal(xlmig__proc_spawn("/nonexistent/nothing-here", argv,
                                       NULL, 0, &pid), ENOENT);
    assert_int_equal(pid, 77);
    assert_int_equal(xlmig__proc_spawn("xlmig-no-such-program", argv, NULL,
                                       0, &pid), ENOENT);
    /* Not executable (mode 0600, whoever we are). */
    fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    assert_int_equal(xlmig__proc_spawn(path, argv, NULL, 0, &pid), EACCES);
    unlink(path);
    /* Nothing left to wait for. */
    assert_int_equal(waitpid(-1, NULL, WNOHANG), -1);
    assert_int_equal(errno, ECHILD);
}

/* ------------------------------------------------------------ filter */

/* Run `sh -c SCRIPT` through xlmig__proc_filter(): the seconds it took. */
static double filter(const char *script, const char *in, size_t in_len,
                     char *out, size_t out_cap, unsigned int timeout_ms,
                     struct xlmig__proc_filter_io *io)
{
    char *argv[] = { "sh", "-c", (char *)script, NULL };
    double t0 = xlmig__now_s();

    memset(io, 0x5a, sizeof(*io));
    io->in = in;
    io->in_len = in_len;
    io->out = out;
    io->out_cap = out_cap;
    io->timeout_ms = timeout_ms;
    assert_int_equal(xlmig__proc_filter("/bin/sh", argv, io), 0);
    return xlmig__now_s() - t0;
}

static void no_child_left(void)
{
    assert_int_equal(waitpid(-1, NULL, WNOHANG), -1);
    assert_int_equal(errno, ECHILD);
}

/* stdin in, stdout out, stderr's words, the exit status. */
static void test_filter_io(void **state)
{
    struct xlmig__proc_filter_io io;
    char out[64];

    (void)state;
    filter("tr a-z A-Z; echo 'it \tbroke' >&2; exit 4", "hello\n", 6, out,
           sizeof(out), 5000, &io);
    assert_int_equal(io.out_len, 6);
    assert_memory_equal(out, "HELLO\n", 6);
    assert_true(WIFEXITED(io.status));
    assert_int_equal(WEXITSTATUS(io.status), 4);
    assert_string_equal(io.err, "it  broke");
    assert_false(io.err_cut);
    assert_false(io.timed_out);
    assert_false(io.out_over);
    assert_true(io.pid > 1);
    no_child_left();
}

/* No descriptor of ours but 0, 1 and 2 reaches it; its group is its own. */
static void test_filter_fds(void **state)
{
    struct xlmig__proc_filter_io io;
    char out[256], *p;
    int fd = dup2(1, 40);       /* not close-on-exec */

    (void)state;
    assert_int_equal(fd, 40);
    filter("cd /proc/$$/fd && echo *; cut -d' ' -f5 /proc/$$/stat", NULL, 0,
           out, sizeof(out) - 1, 5000, &io);
    close(fd);
    out[io.out_len] = '\0';
    /* Its 0 1 2, and the directory the shell reads them from. */
    p = strchr(out, '\n');
    assert_non_null(p);
    *p++ = '\0';
    assert_string_equal(out, "0 1 2 3");
    assert_int_equal(atoi(p), (int)io.pid);
    no_child_left();
}

/* A child that never reads its stdin: no SIGPIPE for us. */
static void test_filter_stdin_unread(void **state)
{
    struct xlmig__proc_filter_io io;
    size_t len = 4u << 20;
    char *in = malloc(len), out[16];

    (void)state;
    assert_non_null(in);
    memset(in, 'x', len);
    filter("head -c 3; exit 0", in, len, out, sizeof(out), 5000, &io);
    assert_int_equal(io.out_len, 3);
    assert_true(WIFEXITED(io.status));
    assert_int_equal(WEXITSTATUS(io.status), 0);
    free(in);
    no_child_left();
}

/* Past the time limit: it and its child are killed, in about that time. */
static void test_filter_timeout(void **state)
{
    struct xlmig__proc_filter_io io;
    char out[64];
    double took;

    (void)state;
    took = filter("sleep 600 & echo $!; wait", NULL, 0, out,
                  sizeof(out) - 1, 300, &io);
    assert_true(io.timed_out);
    assert_true(took >= 0.29);
    assert_true(took < 0.3 + 3);
    assert_true(WIFSIGNALED(io.status));
    assert_int_equal(WTERMSIG(io.status), SIGKILL);
    out[io.out_len] = '\0';
    assert_true(atoi(out) > 1);
    assert_false(still_running(atoi(out)));
    assert_false(still_running(io.pid));
    no_child_left();
}

/* More output than the cap: killed at once, not at the time limit. */
static void test_filter_cap(void **state)
{
    struct xlmig__proc_filter_io io;
    char out[1000];
    double took;

    (void)state;
    took = filter("exec yes", NULL, 0, out, sizeof(out), 20000, &io);
    assert_true(io.out_over);
    assert_false(io.timed_out);
    assert_true(io.out_len <= sizeof(out));
    assert_true(took < 5);
    assert_true(WIFSIGNALED(io.status));
    no_child_left();
}

/* The leader exits, a child of it holds stdout: we end, the child dies. */
static void test_filter_leftover(void **state)
{
    struct xlmig__proc_filter_io io;
    char out[64];
    double took;

    (void)state;
    took = filter("sleep 600 & echo $!", NULL, 0, out, sizeof(out) - 1,
                  20000, &io);
    assert_true(took < 5);
    assert_false(io.timed_out);
    assert_true(WIFEXITED(io.status));
    assert_int_equal(WEXITSTATUS(io.status), 0);
    out[io.out_len] = '\0';
    assert_true(atoi(out) > 1);
    assert_false(still_running(atoi(out)));
    no_child_left();
}

/* Only the tail of a long stderr, one line, no broken character. */
static void test_filter_stderr_tail(void **state)
{
    struct xlmig__proc_filter_io io;
    size_t len;

    (void)state;
    filter("i=0; while [ $i -lt 300 ]; do printf '\\303\\251' >&2; "
           "i=$((i + 1)); done; printf 'the\\nend\\n' >&2", NULL, 0, NULL,
           0, 5000, &io);
    assert_true(io.err_cut);
    len = strlen(io.err);
    assert_true(len <= XLMIG__PROC_ERR_MAX - 1);
    assert_true(len > 500);
    assert_string_equal(io.err + len - 7, "the end");
    /* It starts on a whole character. */
    assert_int_equal((unsigned char)io.err[0], 0xc3);
    no_child_left();
}

/* A program that cannot be run: exit 127 and why, from the child. */
static void test_filter_cannot_exec(void **state)
{
    struct xlmig__proc_filter_io io;
    char *argv[] = { "x", NULL };

    (void)state;
    memset(&io, 0, sizeof(io));
    io.timeout_ms = 5000;
    assert_int_equal(xlmig__proc_filter("/nonexistent/x", argv, &io), 0);
    assert_true(WIFEXITED(io.status));
    assert_int_equal(WEXITSTATUS(io.status), 127);
    assert_string_equal(io.err, "cannot run /nonexistent/x: No such file or "
                        "directory");
    no_child_left();
}

static void pidfile_put(const char *path, long pid)
{
    FILE *f = fopen(path, "w");

    assert_non_null(f);
    fprintf(f, "%ld\n", pid);
    assert_int_equal(fclose(f), 0);
}

/* A daemon found by its pid file; a pid file naming another process,
 * a dead one or garbage finds none. */
static void test_pidfile_daemon(void **state)
{
    char dir[] = "/tmp/xlmig-pidfile-XXXXXX", path[64], other[64];
    uint64_t start = 0;
    pid_t child, pid = 0;

    (void)state;
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/task.pid", dir);
    snprintf(other, sizeof(other), "%s/other.pid", dir);
    child = fork();
    assert_true(child >= 0);
    if (child == 0) {
        execlp("sh", "sh", "-c", "sleep 30", "--pidfile", path,
               (char *)NULL);
        _exit(127);
    }
    /* Until the child has exec'd: its command line names the file. */
    for (int i = 0; i < 500 && !xlmig__pidfile_daemon(path, &pid, &start);
         i++) {
        pidfile_put(path, child);
        xlmig__sleep_ms(10);
    }
    assert_int_equal(pid, child);
    assert_int_equal(start, xlmig__proc_start_time(child));
    /* The same pid under another file's name: not that daemon. */
    pidfile_put(other, child);
    pid = 0;
    assert_false(xlmig__pidfile_daemon(other, &pid, &start));
    assert_int_equal(pid, 0);
    /* Our own pid: alive, but its command line lacks the file. */
    pidfile_put(path, getpid());
    assert_false(xlmig__pidfile_daemon(path, &pid, &start));
    kill(child, SIGKILL);
    assert_int_equal(waitpid(child, NULL, 0), child);
    pidfile_put(path, child);
    assert_false(xlmig__pidfile_daemon(path, &pid, &start));
    pidfile_put(path, -5);
    assert_false(xlmig__pidfile_daemon(path, &pid, &start));
    unlink(path);
    assert_false(xlmig__pidfile_daemon(path, &pid, &start));
    assert_int_equal(pid, 0);
    unlink(other);
    assert_int_equal(rmdir(dir), 0);
}

/* A Unix socket is listened on only between listen() and close(); a
 * path that merely starts like it, or its leftover file, is not. */
static void test_unix_listening(void **state)
{
    char dir[] = "/tmp/xlmig-unix-XXXXXX", path[80], longer[88];
    struct sockaddr_un a = { .sun_family = AF_UNIX };
    int fd;

    (void)state;
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/qmp sock", dir);   /* a space too */
    snprintf(longer, sizeof(longer), "%s-2", path);
    snprintf(a.sun_path, sizeof(a.sun_path), "%s", longer);
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(fd >= 0);
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(listen(fd, 1), 0);
    assert_int_equal(xlmig__unix_listening(longer), 1);
    assert_int_equal(xlmig__unix_listening(path), 0);
    close(fd);
    unlink(longer);

    snprintf(a.sun_path, sizeof(a.sun_path), "%s", path);
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(fd >= 0);
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(xlmig__unix_listening(path), 0);     /* bound only */
    assert_int_equal(listen(fd, 1), 0);
    assert_int_equal(xlmig__unix_listening(path), 1);
    close(fd);                          /* the file stays, nobody listens */
    assert_int_equal(access(path, F_OK), 0);
    assert_int_equal(xlmig__unix_listening(path), 0);
    unlink(path);
    assert_int_equal(rmdir(dir), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_spawn_fds),
        cmocka_unit_test(test_spawn_fd_in_place),
        cmocka_unit_test(test_spawn_fails),
        cmocka_unit_test(test_filter_io),
        cmocka_unit_test(test_filter_fds),
        cmocka_unit_test(test_filter_stdin_unread),
        cmocka_unit_test(test_filter_timeout),
        cmocka_unit_test(test_filter_cap),
        cmocka_unit_test(test_filter_leftover),
        cmocka_unit_test(test_filter_stderr_tail),
        cmocka_unit_test(test_filter_cannot_exec),
        cmocka_unit_test(test_pidfile_daemon),
        cmocka_unit_test(test_unix_listening),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}

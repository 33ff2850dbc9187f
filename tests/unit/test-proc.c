/*
 * Child processes (libxlmig/proc.c): xlmig__proc_spawn with descriptors
 * put in place (stdin, stdout, a fd 3, one already at its number with
 * close-on-exec), the program found in PATH or by its path, and an exec
 * that fails said as its errno with no child left behind.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_spawn_fds),
        cmocka_unit_test(test_spawn_fd_in_place),
        cmocka_unit_test(test_spawn_fails),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}

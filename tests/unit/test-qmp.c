/* SPDX-License-Identifier: LGPL-2.1-only */
/*
 * The QMP client (libxlmig/qmp.c, docs/specs/qmp-client.md).
 *
 * Against a real qemu-storage-daemon (which must be installed: the test
 * fails without it) serving a qcow2 image from a mkdtemp() directory:
 * connect, query-named-block-nodes, dirty bitmaps (and QEMU's
 * GenericError for a duplicate), CommandNotFound, blockdev-add of a
 * second node, a blockdev-backup job and its JOB_STATUS_CHANGE and
 * BLOCK_JOB_COMPLETED events, an NBD export on a unix socket read back
 * by qemu-img, a wait for an event that does not come, a command built
 * wrong (not sent), the daemon killed with SIGKILL mid-session, and a
 * missing socket; a socket another client holds (connect waits, also
 * through a full backlog) and one command per connection.  Against a
 * scripted server: the event queue's cap, and a line over the cap.  And
 * the pure line classifier, table-driven.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"
#include "qmp.h"
#include "testctx.h"

#define QSD "qemu-storage-daemon"
#define TIMEOUT_MS 20000u

static char tmpdir[64];
static char qsd_path[256];      /* "" when not installed */
static pid_t qsd_pid = -1;
static pid_t busy_pid = -1;     /* test_busy_socket's */
static char qsd_sock[128];
static struct xlmig__qmp *qmp;  /* the session of the tests below */

/* ------------------------------------------------------------ helpers */

static bool find_in_path(const char *name, char *out, size_t len)
{
    const char *path = getenv("PATH");
    char buf[4096], *save = NULL, *dir;

    snprintf(buf, sizeof(buf), "%s:/usr/bin:/usr/sbin",
             path ? path : "/usr/local/bin");
    for (dir = strtok_r(buf, ":", &save); dir;
         dir = strtok_r(NULL, ":", &save)) {
        snprintf(out, len, "%s/%s", dir, name);
        if (access(out, X_OK) == 0)
            return true;
    }
    out[0] = '\0';
    return false;
}

static void run_ok(const char *cmd)
{
    int r = system(cmd);

    if (r != 0)
        fail_msg("`%s` failed (status %d)", cmd, r);
}

static void make_image(const char *name, const char *size)
{
    char cmd[512];

    snprintf(cmd, sizeof(cmd), "qemu-img create -q -f qcow2 %s/%s %s",
             tmpdir, name, size);
    run_ok(cmd);
}

/* Start a qemu-storage-daemon serving @img as disk0 with QMP on @sock. */
static pid_t start_qsd(const char *sock, const char *img, const char *log)
{
    char chardev[256], file[256], logpath[256];
    pid_t pid;
    int i;

    snprintf(chardev, sizeof(chardev),
             "socket,id=qmp,path=%s,server=on,wait=off", sock);
    snprintf(file, sizeof(file), "driver=file,node-name=file0,filename=%s",
             img);
    snprintf(logpath, sizeof(logpath), "%s/%s", tmpdir, log);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int fd = open(logpath, O_WRONLY | O_CREAT | O_TRUNC, 0600);

        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
        }
        execl(qsd_path, QSD, "--chardev", chardev, "--monitor",
              "chardev=qmp", "--blockdev", file, "--blockdev",
              "driver=qcow2,node-name=disk0,file=file0", (char *)NULL);
        _exit(127);
    }
    /* QEMU listens once a connection is taken (wait=off): the socket's
     * file is there a moment before (bind, then listen), which a loaded
     * machine makes long enough to see. */
    for (i = 0; i < 1000; i++) {
        struct sockaddr_un sun = { .sun_family = AF_UNIX };
        int status, fd;

        snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", sock);
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd >= 0 && !connect(fd, (struct sockaddr *)&sun, sizeof(sun))) {
            close(fd);
            return pid;
        }
        if (fd >= 0)
            close(fd);
        if (waitpid(pid, &status, WNOHANG) == pid)
            fail_msg(QSD " exited (status %d) before it listened; see %s",
                     status, logpath);
        usleep(10000);
    }
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    fail_msg(QSD " did not create %s in 10 s", sock);
    return -1;
}

/* A daemon of a test's own: image NAME.qcow2 (1 MiB), QMP at NAME.sock
 * (into @sock of @len bytes), log NAME.log. */
static pid_t start_own_qsd(const char *name, char *sock, size_t len)
{
    char file[64], img[128], log[64];

    snprintf(file, sizeof(file), "%s.qcow2", name);
    snprintf(log, sizeof(log), "%s.log", name);
    make_image(file, "1M");
    snprintf(sock, len, "%s/%s.sock", tmpdir, name);
    snprintf(img, sizeof(img), "%s/%s", tmpdir, file);
    return start_qsd(sock, img, log);
}

static void stop_qsd(pid_t *pid)
{
    if (*pid > 0) {
        kill(*pid, SIGTERM);
        waitpid(*pid, NULL, 0);
    }
    *pid = -1;
}

static void remove_tree(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    char p[512];

    if (!d)
        return;
    while ((de = readdir(d))) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
            continue;
        snprintf(p, sizeof(p), "%s/%s", dir, de->d_name);
        unlink(p);
    }
    closedir(d);
    rmdir(dir);
}

static int setup(void **state)
{
    if (group_setup(state))
        return -1;
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/xlmig-qmp-XXXXXX");
    if (!mkdtemp(tmpdir))
        return -1;
    snprintf(qsd_sock, sizeof(qsd_sock), "%s/qmp.sock", tmpdir);
    find_in_path(QSD, qsd_path, sizeof(qsd_path));
    signal(SIGPIPE, SIG_IGN);
    return 0;
}

static int teardown(void **state)
{
    xlmig__qmp_close(qmp);
    qmp = NULL;
    stop_qsd(&qsd_pid);
    stop_qsd(&busy_pid);
    remove_tree(tmpdir);
    return group_teardown(state);
}

static void need_qsd(void)
{
    if (!qsd_path[0])
        fail_msg(QSD " is not installed (it comes with Debian's "
                 "qemu-system-common / qemu-utils); this test needs it");
}

static void need_session(void)
{
    need_qsd();
    if (!qmp)
        fail_msg("no QMP session (the connect test failed)");
}

/* Run @cmd with @args (JSON text or NULL); must succeed. */
static yajl_val exec_ok(const char *cmd, const char *args)
{
    yajl_val ret = NULL;
    int rc;

    reset_log();
    rc = xlmig__qmp_execute(qmp, cmd, args, &ret);
    if (rc)
        fail_msg("%s %s gave %d: %s", cmd, args ? args : "", rc, cap.text);
    assert_non_null(ret);
    return ret;
}

/* Run @cmd with @args; must fail with @want and @needle in the log. */
static void exec_fails(const char *cmd, const char *args, int want,
                       const char *needle)
{
    yajl_val ret = NULL;
    int rc;

    reset_log();
    rc = xlmig__qmp_execute(qmp, cmd, args, &ret);
    if (rc != want)
        fail_msg("%s gave %d, not %d: %s", cmd, rc, want, cap.text);
    assert_null(ret);
    assert_contains(cap.text, needle);
}

/* Run @cmd on @q; must fail with @want and @needle in the log. */
static void exec_fails_on(struct xlmig__qmp *q, const char *cmd, int want,
                          const char *needle)
{
    int rc;

    reset_log();
    rc = xlmig__qmp_execute(q, cmd, NULL, NULL);
    if (rc != want)
        fail_msg("%s gave %d, not %d: %s", cmd, rc, want, cap.text);
    assert_contains(cap.text, needle);
}

/* ------------------------------------------------------------ decoding */

struct decode_case {
    const char *line;
    int rc;                     /* 0 or PROTOCOL */
    enum xlmig__qmp_kind kind;
    const char *expect;         /* a field (id, event, class) or why */
};

static const struct decode_case decode_cases[] = {
    { "{\"QMP\": {\"version\": {\"qemu\": {\"micro\": 22, \"minor\": 2, "
      "\"major\": 7}, \"package\": \"Debian\"}, \"capabilities\": "
      "[\"oob\"]}}\r\n", 0, XLMIG__QMP_GREETING, "" },
    { "{\"return\": {}, \"id\": \"xlmig-1\"}", 0, XLMIG__QMP_RETURN,
      "xlmig-1" },
    { "{\"return\": [1, 2]}\n", 0, XLMIG__QMP_RETURN, "" },
    { "{\"error\": {\"class\": \"GenericError\", \"desc\": \"bad\\nthing\"},"
      " \"id\": \"xlmig-9\"}", 0, XLMIG__QMP_ERROR, "GenericError" },
    { "{\"error\": {\"class\": \"GenericError\", \"desc\": \"x\"}}", 0,
      XLMIG__QMP_ERROR, "GenericError" },
    { "{\"event\": \"BLOCK_JOB_READY\", \"data\": {\"device\": \"j\"}, "
      "\"timestamp\": {\"seconds\": 1, \"microseconds\": 2}}", 0,
      XLMIG__QMP_EVENT, "BLOCK_JOB_READY" },
    { "{\"event\": \"SHUTDOWN\"}", 0, XLMIG__QMP_EVENT, "SHUTDOWN" },
    /* Refused. */
    { "", LIBXLMIG_ERR_PROTOCOL, 0, "empty" },
    { "\r\n", LIBXLMIG_ERR_PROTOCOL, 0, "empty" },
    { "not json", LIBXLMIG_ERR_PROTOCOL, 0, "not valid JSON" },
    { "{\"return\": {}", LIBXLMIG_ERR_PROTOCOL, 0, "not valid JSON" },
    { "{\"return\": {}} {}", LIBXLMIG_ERR_PROTOCOL, 0, "not valid JSON" },
    { "[1, 2, 3]", LIBXLMIG_ERR_PROTOCOL, 0, "not a JSON object" },
    { "\"return\"", LIBXLMIG_ERR_PROTOCOL, 0, "not a JSON object" },
    { "42", LIBXLMIG_ERR_PROTOCOL, 0, "not a JSON object" },
    { "{}", LIBXLMIG_ERR_PROTOCOL, 0, "none of" },
    { "{\"id\": \"xlmig-1\"}", LIBXLMIG_ERR_PROTOCOL, 0, "none of" },
    { "{\"return\": {}, \"event\": \"X\"}", LIBXLMIG_ERR_PROTOCOL, 0,
      "both" },
    { "{\"return\": {}, \"id\": 7}", LIBXLMIG_ERR_PROTOCOL, 0,
      "ours are strings" },
    { "{\"event\": 3}", LIBXLMIG_ERR_PROTOCOL, 0, "not a non-empty" },
    { "{\"event\": \"\"}", LIBXLMIG_ERR_PROTOCOL, 0, "empty" },
    { "{\"event\": null, \"data\": {}}", LIBXLMIG_ERR_PROTOCOL, 0,
      "not a non-empty" },
    { "{\"event\": \"X\", \"data\": []}", LIBXLMIG_ERR_PROTOCOL, 0,
      "not an object" },
    { "{\"event\": \"X\", \"timestamp\": {\"seconds\": \"1\"}}",
      LIBXLMIG_ERR_PROTOCOL, 0, "timestamp" },
    { "{\"error\": \"bad\"}", LIBXLMIG_ERR_PROTOCOL, 0, "not an object" },
    { "{\"error\": {\"desc\": \"x\"}}", LIBXLMIG_ERR_PROTOCOL, 0, "class" },
    { "{\"error\": {\"class\": \"C\"}}", LIBXLMIG_ERR_PROTOCOL, 0, "desc" },
    { "{\"QMP\": {}}", LIBXLMIG_ERR_PROTOCOL, 0, "capabilities" },
    { "{\"QMP\": {\"capabilities\": []}}", LIBXLMIG_ERR_PROTOCOL, 0,
      "version" },
    { "{\"QMP\": {\"version\": {\"qemu\": {\"major\": -1}}, "
      "\"capabilities\": []}}", LIBXLMIG_ERR_PROTOCOL, 0, "major" },
    { "{\"return\": \"a\\u0000b\"}", LIBXLMIG_ERR_PROTOCOL, 0, "NUL" },
    { "{\"return\": \"\xff\"}", LIBXLMIG_ERR_PROTOCOL, 0, "not valid JSON" },
};

static void test_decode_table(void **state)
{
    size_t i;

    (void)state;
    for (i = 0; i < ARRAY_LEN(decode_cases); i++) {
        const struct decode_case *c = &decode_cases[i];
        struct xlmig__qmp_msg m;
        char why[XLMIG__QMP_WHY_MAX];
        int rc;

        rc = xlmig__qmp_decode(c->line, strlen(c->line), &m, why,
                               sizeof(why));
        if (rc != c->rc)
            fail_msg("case %zu (%s): rc %d, not %d (%s)", i, c->line, rc,
                     c->rc, why);
        if (rc) {
            assert_null(m.root);
            assert_null(m.value);
            assert_contains(why, c->expect);
            continue;
        }
        assert_int_equal(m.kind, c->kind);
        assert_non_null(m.root);
        switch (m.kind) {
        case XLMIG__QMP_GREETING:
            assert_int_equal(m.major, 7);
            assert_int_equal(m.minor, 2);
            assert_int_equal(m.micro, 22);
            break;
        case XLMIG__QMP_RETURN:
            assert_non_null(m.value);
            assert_int_equal(m.has_id, c->expect[0] != '\0');
            assert_string_equal(m.id, c->expect);
            break;
        case XLMIG__QMP_ERROR:
            assert_string_equal(m.err_class, c->expect);
            /* A newline in desc is shown as '?'. */
            if (m.has_id)
                assert_string_equal(m.err_desc, "bad?thing");
            break;
        case XLMIG__QMP_EVENT:
            assert_string_equal(m.event, c->expect);
            if (!strcmp(m.event, "BLOCK_JOB_READY")) {
                assert_string_equal(xlmig__qmp_get_str(m.value, "device"),
                                    "j");
                assert_int_equal(m.ts_seconds, 1);
                assert_int_equal(m.ts_microseconds, 2);
            } else {
                assert_null(m.value);
            }
            break;
        }
        xlmig__qmp_msg_dispose(&m);
        xlmig__qmp_msg_dispose(&m);     /* idempotent */
    }
}

static void test_decode_sizes(void **state)
{
    size_t n = XLMIG__QMP_LINE_MAX + 1, body;
    struct xlmig__qmp_msg m;
    char why[XLMIG__QMP_WHY_MAX], *line = malloc(n + 1);
    yajl_val v;

    (void)state;
    assert_non_null(line);
    /* {"return":"xxx...x"} of exactly the cap: taken. */
    body = XLMIG__QMP_LINE_MAX - strlen("{\"return\":\"\"}");
    memcpy(line, "{\"return\":\"", 11);
    memset(line + 11, 'x', body);
    memcpy(line + 11 + body, "\"}", 3);
    assert_int_equal(strlen(line), XLMIG__QMP_LINE_MAX);
    assert_int_equal(xlmig__qmp_decode(line, XLMIG__QMP_LINE_MAX, &m, why,
                                       sizeof(why)), 0);
    assert_int_equal(strlen(m.value->u.string), body);
    /* The return value taken out outlives the message. */
    v = xlmig__qmp_msg_take(&m, m.value);
    assert_non_null(v);
    xlmig__qmp_msg_dispose(&m);
    assert_int_equal(strlen(v->u.string), body);
    yajl_tree_free(v);

    /* One byte more: refused by its length, before parsing. */
    memset(line, ' ', n);
    line[n] = '\0';
    line[0] = '{';
    assert_int_equal(xlmig__qmp_decode(line, n, &m, why, sizeof(why)),
                     LIBXLMIG_ERR_PROTOCOL);
    assert_contains(why, "more than the 1048576");
    assert_null(m.root);

    /* Too deep. */
    memset(line, '[', 200);
    memcpy(line, "{\"return\":", 10);
    memset(line + 200, ']', 190);
    line[390] = '}';
    assert_int_equal(xlmig__qmp_decode(line, 391, &m, why, sizeof(why)),
                     LIBXLMIG_ERR_PROTOCOL);
    assert_contains(why, "deeper");

    /* A NUL byte in the line. */
    assert_int_equal(xlmig__qmp_decode("{\"return\":{}}\0x", 15, &m, why,
                                       sizeof(why)),
                     LIBXLMIG_ERR_PROTOCOL);
    assert_contains(why, "NUL");
    assert_int_equal(xlmig__qmp_decode(NULL, 1, &m, why, sizeof(why)),
                     LIBXLMIG_ERR_INVALID_ARGUMENT);
    free(line);
}

static void test_gen_names(void **state)
{
    char long_name[200];
    yajl_gen g;

    (void)state;
    memset(long_name, 'a', sizeof(long_name) - 1);
    long_name[sizeof(long_name) - 1] = '\0';
    assert_null(xlmig__qmp_gen(NULL));
    assert_null(xlmig__qmp_gen(""));
    assert_null(xlmig__qmp_gen("query version"));
    assert_null(xlmig__qmp_gen("a\"b"));
    assert_null(xlmig__qmp_gen(long_name));
    g = xlmig__qmp_gen("query-version");
    assert_non_null(g);
    yajl_gen_free(g);
    g = xlmig__qmp_gen("qmp_capabilities");
    assert_non_null(g);
    yajl_gen_free(g);
}

/* ------------------------------------------------------------ QEMU */

static void test_qsd_installed(void **state)
{
    (void)state;
    need_qsd();
}

static void test_missing_socket(void **state)
{
    struct xlmig__qmp *q = (struct xlmig__qmp *)&q;
    char path[128];

    (void)state;
    snprintf(path, sizeof(path), "%s/no-such.sock", tmpdir);
    reset_log();
    assert_int_equal(xlmig__qmp_connect(ctx, path, 1000, &q),
                     LIBXLMIG_ERR_NOT_FOUND);
    assert_null(q);
    assert_contains(cap.text, "NOT_FOUND");
    assert_contains(cap.text, path);
    assert_contains(cap.text, "no such socket");
}

static void test_connect(void **state)
{
    unsigned int major, minor, micro;

    (void)state;
    need_qsd();
    make_image("disk0.qcow2", "16M");
    {
        char img[128];

        snprintf(img, sizeof(img), "%s/disk0.qcow2", tmpdir);
        qsd_pid = start_qsd(qsd_sock, img, "qsd.log");
    }
    reset_log();
    if (xlmig__qmp_connect(ctx, qsd_sock, TIMEOUT_MS, &qmp))
        fail_msg("connect: %s", cap.text);
    assert_non_null(qmp);
    xlmig__qmp_version(qmp, &major, &minor, &micro);
    assert_true(major >= 6);
}

static void test_named_block_nodes(void **state)
{
    yajl_val ret;
    bool disk0 = false, file0 = false;
    size_t i;

    (void)state;
    need_session();
    ret = exec_ok("query-named-block-nodes", NULL);
    assert_true(YAJL_IS_ARRAY(ret));
    for (i = 0; i < ret->u.array.len; i++) {
        const char *n = xlmig__qmp_get_str(ret->u.array.values[i],
                                           "node-name");

        disk0 = disk0 || (n && !strcmp(n, "disk0"));
        file0 = file0 || (n && !strcmp(n, "file0"));
    }
    assert_true(disk0);
    assert_true(file0);
    yajl_tree_free(ret);
}

static void test_dirty_bitmap(void **state)
{
    yajl_val ret = NULL;
    yajl_gen g;
    int rc;

    (void)state;
    need_session();
    /* Built with the generator. */
    g = xlmig__qmp_gen("block-dirty-bitmap-add");
    assert_non_null(g);
    assert_int_equal(yajl_gen_string(g, (const unsigned char *)"node", 4),
                     yajl_gen_status_ok);
    assert_int_equal(yajl_gen_string(g, (const unsigned char *)"disk0", 5),
                     yajl_gen_status_ok);
    assert_int_equal(yajl_gen_string(g, (const unsigned char *)"name", 4),
                     yajl_gen_status_ok);
    assert_int_equal(yajl_gen_string(g, (const unsigned char *)"b0", 2),
                     yajl_gen_status_ok);
    reset_log();
    rc = xlmig__qmp_call(qmp, g, &ret);
    if (rc)
        fail_msg("block-dirty-bitmap-add: %s", cap.text);
    assert_true(YAJL_IS_OBJECT(ret) && ret->u.object.len == 0);
    yajl_tree_free(ret);

    /* The same again: QEMU's GenericError, with the command named. */
    exec_fails("block-dirty-bitmap-add", "{\"node\":\"disk0\",\"name\":\"b0\"}",
               LIBXLMIG_ERR_QMP_ERROR, "GenericError");
    assert_contains(cap.text, "QMP_ERROR");
    assert_contains(cap.text, "block-dirty-bitmap-add");
    assert_contains(cap.text, "b0");
    assert_contains(cap.text, qsd_sock);

    /* Still usable. */
    ret = exec_ok("block-dirty-bitmap-remove",
                  "{\"node\":\"disk0\",\"name\":\"b0\"}");
    yajl_tree_free(ret);
}

static void test_unknown_command(void **state)
{
    yajl_val ret;

    (void)state;
    need_session();
    exec_fails("xlmig-no-such-command", NULL, LIBXLMIG_ERR_QMP_ERROR,
               "CommandNotFound");
    assert_contains(cap.text, "xlmig-no-such-command");
    exec_fails("query-version", "[1]", LIBXLMIG_ERR_INVALID_ARGUMENT,
               "not an object");
    exec_fails("query-version", "{", LIBXLMIG_ERR_INVALID_ARGUMENT,
               "not a JSON object");
    ret = exec_ok("query-version", "{}");
    assert_true(YAJL_IS_OBJECT(ret));
    yajl_tree_free(ret);
}

static void test_backup_job_events(void **state)
{
    char args[512];
    yajl_val ret, ev;
    bool concluded = false;
    int rc, i;

    (void)state;
    need_session();
    make_image("tgt.qcow2", "16M");
    snprintf(args, sizeof(args),
             "{\"driver\":\"qcow2\",\"node-name\":\"tgt\",\"file\":"
             "{\"driver\":\"file\",\"filename\":\"%s/tgt.qcow2\"}}", tmpdir);
    yajl_tree_free(exec_ok("blockdev-add", args));
    /* The same node name twice: QEMU says no. */
    exec_fails("blockdev-add", args, LIBXLMIG_ERR_QMP_ERROR, "GenericError");

    yajl_tree_free(exec_ok("blockdev-backup",
                           "{\"job-id\":\"job0\",\"device\":\"disk0\","
                           "\"target\":\"tgt\",\"sync\":\"full\"}"));
    reset_log();
    rc = xlmig__qmp_next_event(qmp, "BLOCK_JOB_COMPLETED", TIMEOUT_MS, &ev);
    if (rc)
        fail_msg("BLOCK_JOB_COMPLETED: %s", cap.text);
    assert_string_equal(xlmig__qmp_get_str(ev, "event"),
                        "BLOCK_JOB_COMPLETED");
    ret = NULL;
    for (i = 0; i < (int)ev->u.object.len; i++) {
        if (!strcmp(ev->u.object.keys[i], "data"))
            ret = ev->u.object.values[i];
    }
    assert_string_equal(xlmig__qmp_get_str(ret, "device"), "job0");
    assert_string_equal(xlmig__qmp_get_str(ret, "type"), "backup");
    assert_null(xlmig__qmp_get_str(ret, "error"));
    yajl_tree_free(ev);

    /* The status changes came before it and were queued, in order. */
    for (i = 0; i < 10 && !concluded; i++) {
        yajl_val data = NULL;
        size_t k;

        rc = xlmig__qmp_next_event(qmp, "JOB_STATUS_CHANGE", 2000, &ev);
        if (rc)
            fail_msg("JOB_STATUS_CHANGE: %s", cap.text);
        for (k = 0; k < ev->u.object.len; k++) {
            if (!strcmp(ev->u.object.keys[k], "data"))
                data = ev->u.object.values[k];
        }
        assert_string_equal(xlmig__qmp_get_str(data, "id"), "job0");
        concluded = !strcmp(xlmig__qmp_get_str(data, "status"), "concluded");
        yajl_tree_free(ev);
    }
    assert_true(concluded);
    assert_int_equal(xlmig__qmp_events_dropped(qmp), 0);
}

static void test_nbd_export(void **state)
{
    char args[512], cmd[512];
    yajl_val ret, ev;
    int rc;

    (void)state;
    need_session();
    snprintf(args, sizeof(args),
             "{\"addr\":{\"type\":\"unix\",\"data\":{\"path\":"
             "\"%s/nbd.sock\"}}}", tmpdir);
    yajl_tree_free(exec_ok("nbd-server-start", args));
    yajl_tree_free(exec_ok("block-export-add",
                           "{\"type\":\"nbd\",\"id\":\"exp0\","
                           "\"node-name\":\"disk0\",\"name\":\"disk0\"}"));
    ret = exec_ok("query-block-exports", NULL);
    assert_true(YAJL_IS_ARRAY(ret) && ret->u.array.len == 1);
    assert_string_equal(xlmig__qmp_get_str(ret->u.array.values[0], "id"),
                        "exp0");
    assert_string_equal(xlmig__qmp_get_str(ret->u.array.values[0], "type"),
                        "nbd");
    yajl_tree_free(ret);

    /* The export serves the disk: qemu-img reads its size over NBD. */
    snprintf(cmd, sizeof(cmd),
             "qemu-img info --output=json "
             "'nbd+unix:///disk0?socket=%s/nbd.sock' | "
             "grep -q '\"virtual-size\": 16777216'", tmpdir);
    run_ok(cmd);

    yajl_tree_free(exec_ok("block-export-del", "{\"id\":\"exp0\"}"));
    rc = xlmig__qmp_next_event(qmp, "BLOCK_EXPORT_DELETED", TIMEOUT_MS, &ev);
    if (rc)
        fail_msg("BLOCK_EXPORT_DELETED: %s", cap.text);
    yajl_tree_free(ev);
    yajl_tree_free(exec_ok("nbd-server-stop", NULL));
}

static void test_event_timeout(void **state)
{
    yajl_val ev = NULL;
    yajl_gen g;

    (void)state;
    need_session();
    reset_log();
    assert_int_equal(xlmig__qmp_next_event(qmp, "XLMIG_NO_SUCH_EVENT", 300,
                                           &ev),
                     LIBXLMIG_ERR_TIMEOUT);
    assert_null(ev);
    assert_contains(cap.text, "TIMEOUT");
    assert_contains(cap.text, "XLMIG_NO_SUCH_EVENT");

    /* Commands built wrong are not sent: an array left open, a key
     * without its value. */
    g = xlmig__qmp_gen("query-version");
    assert_int_equal(yajl_gen_string(g, (const unsigned char *)"x", 1),
                     yajl_gen_status_ok);
    assert_int_equal(yajl_gen_array_open(g), yajl_gen_status_ok);
    reset_log();
    assert_int_equal(xlmig__qmp_call(qmp, g, NULL),
                     LIBXLMIG_ERR_INVALID_ARGUMENT);
    assert_contains(cap.text, "not sending");
    g = xlmig__qmp_gen("query-version");
    assert_int_equal(yajl_gen_string(g, (const unsigned char *)"x", 1),
                     yajl_gen_status_ok);
    assert_int_equal(xlmig__qmp_call(qmp, g, NULL),
                     LIBXLMIG_ERR_INVALID_ARGUMENT);
    assert_int_equal(xlmig__qmp_call(qmp, NULL, NULL),
                     LIBXLMIG_ERR_INVALID_ARGUMENT);

    /* The session is still good. */
    yajl_tree_free(exec_ok("query-version", NULL));
}

static void test_close(void **state)
{
    (void)state;
    need_session();
    xlmig__qmp_close(qmp);
    qmp = NULL;
    xlmig__qmp_close(NULL);
    stop_qsd(&qsd_pid);
}

static void test_killed(void **state)
{
    char sock[128];
    struct xlmig__qmp *q = NULL;
    pid_t pid;

    (void)state;
    need_qsd();
    pid = start_own_qsd("kill", sock, sizeof(sock));
    reset_log();
    if (xlmig__qmp_connect(ctx, sock, TIMEOUT_MS, &q))
        fail_msg("connect: %s", cap.text);
    qmp = q;
    yajl_tree_free(exec_ok("query-version", NULL));

    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    exec_fails("query-version", NULL, LIBXLMIG_ERR_IO,
               "closed its QMP socket");
    assert_contains(cap.text, sock);
    /* Dead for good: the next call says so at once. */
    exec_fails("query-status", NULL, LIBXLMIG_ERR_IO, "unusable");
    reset_log();
    assert_int_equal(xlmig__qmp_next_event(q, NULL, 100, &(yajl_val){ 0 }),
                     LIBXLMIG_ERR_IO);
    xlmig__qmp_close(q);
    qmp = NULL;

    /* Nothing listens on the socket file any more. */
    reset_log();
    assert_int_equal(xlmig__qmp_connect(ctx, sock, 1000, &q),
                     LIBXLMIG_ERR_IO);
    assert_contains(cap.text, sock);
    assert_contains(cap.text, "nothing listens");
}

/* A raw client of @sock: connected (non-blocking), or -1 (EAGAIN: the
 * backlog is full). */
static int raw_client(const char *sock)
{
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0);

    assert_true(fd >= 0);
    xlmig__strlcpy(sa.sun_path, sock, sizeof(sa.sun_path));
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
        assert_int_equal(errno, EAGAIN);
        close(fd);
        return -1;
    }
    return fd;
}

/* Wait up to @ms for QEMU's greeting on raw client @fd. */
static bool raw_greeted(int fd, int ms)
{
    struct pollfd p = { .fd = fd, .events = POLLIN };
    char buf[256];

    return poll(&p, 1, ms) == 1 && read(fd, buf, sizeof(buf)) > 8 &&
           !strncmp(buf, "{\"QMP\"", 6);
}

struct holders {
    int fd[8];
    int n;
    unsigned int after_ms;
};

static void *holders_leave(void *opaque)
{
    struct holders *h = opaque;
    int i;

    usleep(h->after_ms * 1000);
    for (i = 0; i < h->n; i++)
        close(h->fd[i]);
    return NULL;
}

static double mono_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/*
 * QEMU's monitor serves one client at a time: the next waits in its
 * backlog for the greeting, and a full backlog refuses connect() with
 * EAGAIN.  A connect waits for both within its timeout.
 */
static void test_busy_socket(void **state)
{
    char sock[128];
    struct xlmig__qmp *q = NULL;
    struct holders h = { .n = 0, .after_ms = 400 };
    yajl_gen g;
    yajl_val ret = NULL;
    pthread_t th;
    double t0;
    int fd;

    (void)state;
    need_qsd();
    busy_pid = start_own_qsd("busy", sock, sizeof(sock));

    /* Held by another client: no greeting in time, said so. */
    h.fd[h.n] = raw_client(sock);
    assert_true(h.fd[h.n] >= 0);
    assert_true(raw_greeted(h.fd[h.n++], 5000));
    reset_log();
    t0 = mono_s();
    assert_int_equal(xlmig__qmp_connect(ctx, sock, 300, &q),
                     LIBXLMIG_ERR_TIMEOUT);
    assert_true(mono_s() - t0 < 2.0);
    assert_null(q);
    assert_contains(cap.text, "greeting");
    assert_contains(cap.text, "another hold the socket");

    /* Held, and its backlog full: the connect waits for both and gets
     * in once they leave. */
    while (h.n < 8 && (fd = raw_client(sock)) >= 0)
        h.fd[h.n++] = fd;
    assert_true(h.n < 8);       /* the backlog did fill */
    assert_int_equal(pthread_create(&th, NULL, holders_leave, &h), 0);
    reset_log();
    t0 = mono_s();
    if (xlmig__qmp_connect(ctx, sock, 10000, &q))
        fail_msg("connect to a busy socket: %s", cap.text);
    assert_true(mono_s() - t0 >= 0.3);
    pthread_join(th, NULL);
    xlmig__qmp_close(q);
    q = NULL;

    /* One command on its own connection: nothing is held after it. */
    g = xlmig__qmp_gen("query-version");
    reset_log();
    if (xlmig__qmp_call_once(ctx, sock, 5000, g, &ret))
        fail_msg("call_once: %s", cap.text);
    assert_true(YAJL_IS_OBJECT(ret));
    yajl_tree_free(ret);
    fd = raw_client(sock);
    assert_true(fd >= 0);
    assert_true(raw_greeted(fd, 5000));
    /* ...and one that cannot connect frees its command. */
    g = xlmig__qmp_gen("query-version");
    reset_log();
    assert_int_equal(xlmig__qmp_call_once(ctx, sock, 200, g, &ret),
                     LIBXLMIG_ERR_TIMEOUT);
    assert_null(ret);
    close(fd);
    stop_qsd(&busy_pid);
}

/* ------------------------------------------------------------ scripted */

struct fake {
    int lfd;
    int step;       /* 0: the event flood; 1: answers and no greeting */
};

static bool fake_send(int fd, const char *s, size_t n)
{
    while (n) {
        ssize_t r = send(fd, s, n, MSG_NOSIGNAL);

        if (r <= 0)
            return false;
        s += r;
        n -= (size_t)r;
    }
    return true;
}

static bool fake_sends(int fd, const char *s)
{
    return fake_send(fd, s, strlen(s));
}

/* Read one line (up to 4 KiB); false at EOF. */
static bool fake_line(int fd, char *buf, size_t len)
{
    size_t n = 0;

    while (n + 1 < len) {
        char c;

        if (read(fd, &c, 1) != 1)
            return false;
        if (c == '\n')
            break;
        buf[n++] = c;
    }
    buf[n] = '\0';
    return true;
}

static void *fake_main(void *opaque)
{
    struct fake *f = opaque;
    char line[4096], ev[128];
    int fd = accept(f->lfd, NULL, NULL), i;
    char *big;

    if (fd < 0)
        return NULL;
    if (f->step == 1) {
        /* Answers, and never a greeting. */
        for (i = 0; i < 100; i++)
            fake_sends(fd, "{\"return\": {}}\r\n");
        fake_line(fd, line, sizeof(line));
        close(fd);
        return NULL;
    }
    /* What an earlier client left behind comes before the greeting: an
     * event and the answer to its last command. */
    if (!fake_sends(fd, "{\"event\": \"JOB_STATUS_CHANGE\", \"data\": "
                        "{\"id\": \"j\", \"status\": \"ready\"}, "
                        "\"timestamp\": {\"seconds\": 1, "
                        "\"microseconds\": 0}}\r\n") ||
        !fake_sends(fd, "{\"return\": [], \"id\": \"xlmig-7\"}\r\n") ||
        !fake_sends(fd, "{\"QMP\": {\"version\": {\"qemu\": {\"major\": 9, "
                        "\"minor\": 1, \"micro\": 0}}, "
                        "\"capabilities\": []}}\r\n") ||
        !fake_line(fd, line, sizeof(line)) ||
        !strstr(line, "\"qmp_capabilities\"") ||
        !fake_sends(fd, "{\"return\": {}, \"id\": \"xlmig-1\"}\r\n") ||
        !fake_line(fd, line, sizeof(line)) ||
        !strstr(line, "\"id\":\"xlmig-2\""))
        goto out;
    for (i = 0; i < 300; i++) {
        snprintf(ev, sizeof(ev), "{\"event\": \"E\", \"data\": {\"n\": %d}, "
                 "\"timestamp\": {\"seconds\": 1, \"microseconds\": 0}}\r\n",
                 i);
        if (!fake_sends(fd, ev))
            goto out;
    }
    /* A late reply to an earlier command is dropped; then the answer. */
    if (!fake_sends(fd, "{\"return\": {}, \"id\": \"xlmig-1\"}\r\n") ||
        !fake_sends(fd, "{\"return\": {\"ok\": true}, \"id\": "
                        "\"xlmig-2\"}\r\n") ||
        !fake_line(fd, line, sizeof(line)))
        goto out;
    /* A line longer than the cap, without its end. */
    big = malloc(XLMIG__QMP_LINE_MAX + 64);
    if (big) {
        memset(big, ' ', XLMIG__QMP_LINE_MAX + 64);
        big[0] = '{';
        fake_send(fd, big, XLMIG__QMP_LINE_MAX + 64);
        free(big);
    }
 out:
    /* Until the client closes. */
    while (read(fd, line, sizeof(line)) > 0)
        ;
    close(fd);
    return NULL;
}

static int fake_listen(const char *path)
{
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);

    assert_true(fd >= 0);
    unlink(path);
    xlmig__strlcpy(sa.sun_path, path, sizeof(sa.sun_path));
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    assert_int_equal(listen(fd, 1), 0);
    return fd;
}

static yajl_val data_of(yajl_val ev)
{
    size_t k;

    for (k = 0; ev && k < ev->u.object.len; k++) {
        if (!strcmp(ev->u.object.keys[k], "data"))
            return ev->u.object.values[k];
    }
    return NULL;
}

static void test_scripted_queue_and_cap(void **state)
{
    struct fake f = { .step = 0 };
    struct xlmig__qmp *q = NULL;
    unsigned int major;
    char path[128];
    pthread_t th;
    yajl_val ret = NULL, ev = NULL, ok;

    (void)state;
    snprintf(path, sizeof(path), "%s/fake.sock", tmpdir);
    f.lfd = fake_listen(path);
    assert_int_equal(pthread_create(&th, NULL, fake_main, &f), 0);
    reset_log();
    if (xlmig__qmp_connect(ctx, path, 5000, &q))
        fail_msg("connect: %s", cap.text);
    xlmig__qmp_version(q, &major, NULL, NULL);
    assert_int_equal(major, 9);

    reset_log();
    assert_int_equal(xlmig__qmp_execute(q, "flood", NULL, &ret), 0);
    ok = ret && YAJL_IS_OBJECT(ret) && ret->u.object.len == 1
             ? ret->u.object.values[0] : NULL;
    assert_true(YAJL_IS_TRUE(ok));
    yajl_tree_free(ret);
    /* 300 events, 256 kept: the 44 oldest dropped, said once. */
    assert_int_equal(xlmig__qmp_events_dropped(q), 44);
    assert_contains(cap.text, "dropping the oldest");
    assert_int_equal(xlmig__qmp_next_event(q, NULL, 100, &ev), 0);
    assert_int_equal(YAJL_GET_INTEGER(data_of(ev)->u.object.values[0]), 44);
    yajl_tree_free(ev);
    assert_int_equal(xlmig__qmp_next_event(q, "E", 100, &ev), 0);
    assert_int_equal(YAJL_GET_INTEGER(data_of(ev)->u.object.values[0]), 45);
    yajl_tree_free(ev);

    /* A line over the cap kills the session. */
    exec_fails_on(q, "big", LIBXLMIG_ERR_PROTOCOL, "longer than");
    exec_fails_on(q, "again", LIBXLMIG_ERR_PROTOCOL, "unusable");
    xlmig__qmp_close(q);
    pthread_join(th, NULL);
    close(f.lfd);

    /* Not a QMP monitor: answers, and no greeting among the first 64. */
    f.step = 1;
    f.lfd = fake_listen(path);
    assert_int_equal(pthread_create(&th, NULL, fake_main, &f), 0);
    reset_log();
    assert_int_equal(xlmig__qmp_connect(ctx, path, 5000, &q),
                     LIBXLMIG_ERR_PROTOCOL);
    assert_null(q);
    assert_contains(cap.text, "not a QMP greeting");
    assert_contains(cap.text, path);
    pthread_join(th, NULL);
    close(f.lfd);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_decode_table),
        cmocka_unit_test(test_decode_sizes),
        cmocka_unit_test(test_gen_names),
        cmocka_unit_test(test_qsd_installed),
        cmocka_unit_test(test_missing_socket),
        cmocka_unit_test(test_connect),
        cmocka_unit_test(test_named_block_nodes),
        cmocka_unit_test(test_dirty_bitmap),
        cmocka_unit_test(test_unknown_command),
        cmocka_unit_test(test_backup_job_events),
        cmocka_unit_test(test_nbd_export),
        cmocka_unit_test(test_event_timeout),
        cmocka_unit_test(test_close),
        cmocka_unit_test(test_killed),
        cmocka_unit_test(test_busy_socket),
        cmocka_unit_test(test_scripted_queue_and_cap),
    };

    return cmocka_run_group_tests_name("qmp", tests, setup, teardown);
}

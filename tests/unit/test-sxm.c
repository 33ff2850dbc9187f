/* SPDX-License-Identifier: LGPL-2.1-only */
/*
 * Storage motion (libxlmig/sxm*.c): records, addresses, and the
 * destination's life with the real qemu-img and qemu-storage-daemon:
 * receive-start serves parent and leaf over NBD on a unix socket,
 * finalize composes them into one VDI, cancel and recovery leave
 * nothing (no lease file either), and recovery leaves a destination
 * alone while the process that started it lives, not its exporter.
 * The source side runs against a real QEMU block layer in
 * tests/integration/test-sxm.sh.
 */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "pool-client.h"
#include "poolconf.h"
#include "proc.h"
#include "sr.h"
#include "sxm.h"
#include "testctx.h"
#include "testfs.h"

#define STATE at("state")

static pid_t owner_child = -1;  /* test_recover_owner_gone's */

static int dir_setup(void **state)
{
    (void)state;
    reset_log();
    return testfs_dir_setup("test-sxm");
}

/* dir_teardown(), and the owner process a failed test left. */
static int owner_teardown(void **state)
{
    if (owner_child > 0) {
        kill(owner_child, SIGKILL);
        waitpid(owner_child, NULL, 0);
    }
    owner_child = -1;
    return dir_teardown(state);
}

static void test_addresses(void **state)
{
    static const char *const good[] = {
        "tcp:127.0.0.1:10809", "tcp:host-2.example:1", "tcp:h:65535",
        "unix:/run/x.sock", "tcp:[2001:db8::1]:10809", "tcp:a_b:80",
    };
    static const char *const bad[] = {
        "", "tcp:", "tcp:127.0.0.1", "tcp:127.0.0.1:0", "tcp:h:65536",
        "tcp:h:012", "tcp::80", "tcp:-h:80", "tcp:h h:80", "tcp:h:8o",
        "unix:", "unix:rel.sock", "unix:/a b", "udp:1.2.3.4:5",
        "tcp:h:123456", "tcp:2001:db8::1:10809", "tcp:[::1]",
        "unix:/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
    };
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(good) / sizeof(good[0]); i++)
        assert_int_equal(xlmig__sxm_addr_check(NULL, good[i]), 0);
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        reset_log();
        assert_int_equal(xlmig__sxm_addr_check(ctx, bad[i]),
                         LIBXLMIG_ERR_INVALID_ARGUMENT);
        assert_non_null(strstr(cap.text, "tcp:HOST:PORT"));
    }
}

static void test_export_uri(void **state)
{
    static const struct {
        const char *addr, *export;
        bool tls;
        const char *uri;            /* NULL: refused */
    } cases[] = {
        { "tcp:10.0.0.2:10809", "parent", false,
          "nbd://10.0.0.2:10809/parent" },
        { "tcp:h2.example:7", "leaf", true, "nbds://h2.example:7/leaf" },
        { "tcp:[2001:db8::1]:10809", "parent", true,
          "nbds://[2001:db8::1]:10809/parent" },
        { "unix:/run/x.sock", "leaf", false,
          "nbd+unix:///leaf?socket=/run/x.sock" },
        { "unix:/run/x.sock", "parent", true,
          "nbds+unix:///parent?socket=/run/x.sock" },
        { "tcp:h:012", "parent", false, NULL },
        { "h:80", "parent", false, NULL },
        { "tcp:h:80", NULL, false, NULL },
    };
    char uri[128];
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int rc = xlmig__sxm_export_uri(cases[i].addr, cases[i].export,
                                       cases[i].tls, uri, sizeof(uri));

        if (!cases[i].uri) {
            assert_int_equal(rc, LIBXLMIG_ERR_INVALID_ARGUMENT);
            continue;
        }
        assert_int_equal(rc, 0);
        assert_string_equal(uri, cases[i].uri);
    }
    /* A URI that does not fit is refused. */
    assert_int_equal(xlmig__sxm_export_uri("tcp:10.0.0.2:10809", "parent",
                                           false, uri, 27),
                     LIBXLMIG_ERR_INVALID_ARGUMENT);
    assert_int_equal(xlmig__sxm_export_uri("tcp:10.0.0.2:10809", "parent",
                                           false, uri, 28), 0);
}

static struct xlmig__sxm_record a_src(void)
{
    struct xlmig__sxm_record r;

    memset(&r, 0, sizeof(r));
    strcpy(r.task, "9c8b7a6d-5e4f-4a3b-9c2d-1e0f9a8b7c6d");
    r.role = XLMIG__SXM_SRC;
    r.phase = XLMIG__SXM_COPYING;
    strcpy(r.vdi_name, "web01 disk");
    r.virtual_size = 10737418240ull;
    strcpy(r.vdi, "3c4d5e6f-7a8b-4c9d-8e0f-1a2b3c4d5e6f");
    strcpy(r.qmp, "/run/xen/qmp-libxl-7");
    strcpy(r.node, "disk0");
    strcpy(r.dest, "tcp:10.0.0.2:10809");
    r.reader_pid = 1234;
    r.reader_start = 99;
    r.owner_pid = 77;
    r.owner_start = 5;
    return r;
}

static void test_records(void **state)
{
    struct xlmig__sxm_record r = a_src(), back;
    char buf[XLMIG__SXM_RECORD_MAX], bad[XLMIG__SXM_RECORD_MAX];
    static const struct { const char *from, *to; } breaks[] = {
        { "\"version\": 1", "\"version\": 2" },
        { "\"role\": \"src\"", "\"role\": \"both\"" },
        { "\"phase\": \"copying\"", "\"phase\": \"sleeping\"" },
        { "\"dest\": \"tcp:10.0.0.2:10809\"", "\"dest\": \"tcp:10.0.0.2\"" },
        { "\"qmp\": \"/run", "\"qmp\": \"run" },
        { "\"virtual-size\": 10737418240", "\"virtual-size\": 0" },
        { "\"reader-pid\": 1234", "\"reader-pid\": -1" },
        { "\"vdi\": \"3c4d", "\"vdi\": \"XX4d" },
        { "\"task\"", "\"tusk\"" },
    };
    size_t len, i;

    (void)state;
    assert_int_equal(xlmig__sxm_record_encode(&r, buf, sizeof(buf), &len),
                     0);
    memset(&back, 0, sizeof(back));
    assert_int_equal(xlmig__sxm_record_decode(ctx, "t", (uint8_t *)buf, len,
                                              &back), 0);
    assert_memory_equal(&r, &back, sizeof(r));
    /* Every broken member is refused, naming it; nothing written. */
    for (i = 0; i < sizeof(breaks) / sizeof(breaks[0]); i++) {
        char *p = strstr(buf, breaks[i].from);
        struct xlmig__sxm_record before;

        assert_non_null(p);
        snprintf(bad, sizeof(bad), "%.*s%s%s", (int)(p - buf), buf,
                 breaks[i].to, p + strlen(breaks[i].from));
        memset(&back, 0x5a, sizeof(back));
        before = back;
        reset_log();
        assert_int_equal(xlmig__sxm_record_decode(ctx, "t", (uint8_t *)bad,
                                                  strlen(bad), &back),
                         LIBXLMIG_ERR_SXM_RECORD_INVALID);
        assert_memory_equal(&back, &before, sizeof(back));
        assert_non_null(strstr(cap.text, "storage motion record t"));
    }
    /* Too big is refused before parsing. */
    {
        size_t big = XLMIG__SXM_RECORD_MAX + 1;
        char *huge = malloc(big);

        assert_non_null(huge);
        memset(huge, ' ', big);
        assert_int_equal(xlmig__sxm_record_decode(ctx, "t", (uint8_t *)huge,
                                                  big, &back),
                         LIBXLMIG_ERR_SXM_RECORD_INVALID);
        free(huge);
    }
}

/* An SR "dst" in the state dir; the unix address for the exporter. */
static void make_sr(struct xlmig__sr *sr)
{
    assert_int_equal(xlmig__sr_create(ctx, STATE, "dst", "file", at("sr"), 0,
                                      sr), 0);
}

static int count_files(const char *dir)
{
    return count_entries(dir, "") - 2;       /* "." and ".." */
}

/* The lease file xlmigd keeps for destination @task. */
static void lease_make(const struct xlmig__sxm_record *rec, char *path,
                       size_t len)
{
    snprintf(path, len, "%s/sxm/%s.lease", STATE, rec->task);
    write_file(path, "", 0);
}

/* A 1 MiB destination "db" in SR "dst" (made), served at @addr. */
static void db_req(struct xlmig__sxm_recv_req *req, char *addr, size_t len)
{
    struct xlmig__sr sr;

    make_sr(&sr);
    snprintf(addr, len, "unix:%s", at("nbd.sock"));
    memset(req, 0, sizeof(*req));
    req->state_dir = STATE;
    req->sr = "dst";
    req->name = "db";
    req->virtual_size = 1 << 20;
    req->listen = addr;
}

static void test_receive_finalize(void **state)
{
    struct xlmig__sxm_recv_req req = { 0 };
    struct xlmig__sxm_record rec;
    struct xlmig__sr sr;
    char vdi[XLMIG__UUID_LEN + 1], addr[128], leafimg[512], err[600];
    char lease[600];
    char out[4096];
    size_t olen;
    struct stat st;

    (void)state;
    make_sr(&sr);
    snprintf(addr, sizeof(addr), "unix:%s", at("nbd.sock"));
    req.state_dir = STATE;
    req.sr = "dst";
    req.name = "web";
    req.virtual_size = 64 << 20;
    req.format = "raw";
    req.listen = addr;
    assert_int_equal(xlmig__sxm_recv_start(ctx, &req, &rec), 0);
    assert_true(xlmig__proc_alive((pid_t)rec.exporter_pid,
                                  rec.exporter_start));
    /* The leaf is qcow2 over the raw parent; both VDIs are locked. */
    snprintf(leafimg, sizeof(leafimg), "%s/%s.qcow2", at("sr"), rec.leaf);
    assert_int_equal(stat(leafimg, &st), 0);
    assert_int_equal(xlmig__vdi_destroy(ctx, STATE, rec.parent),
                     LIBXLMIG_ERR_VDI_IN_USE);
    lease_make(&rec, lease, sizeof(lease));
    /* Write through the leaf export: it must land in the parent. */
    {
        char uri[300];
        char *argv[] = { "qemu-io", "-f", "raw", uri, "-c",
                         "write -P 0x5a 1M 64k", NULL };

        snprintf(uri, sizeof(uri), "nbd+unix:///leaf?socket=%s",
                 at("nbd.sock"));
        assert_int_equal(xlmig__proc_run("qemu-io", argv, out, sizeof(out),
                                         &olen, err, sizeof(err)), 0);
    }
    assert_int_equal(xlmig__sxm_recv_finalize(ctx, STATE, rec.task, vdi), 0);
    assert_string_equal(vdi, rec.parent);
    assert_false(xlmig__proc_alive((pid_t)rec.exporter_pid,
                                   rec.exporter_start));
    assert_int_not_equal(stat(leafimg, &st), 0);
    /* One VDI (image + metadata), no lock, no record, no lease. */
    assert_int_equal(count_files(at("sr")), 2);
    assert_int_equal(count_files(at("state/sxm")), 0);
    assert_int_not_equal(stat(lease, &st), 0);
    {
        char img[512];
        char *argv[] = { "qemu-io", "-f", "raw", "-r", img, "-c",
                         "read -P 0x5a 1M 64k", NULL };

        snprintf(img, sizeof(img), "%s/%s.raw", at("sr"), vdi);
        assert_int_equal(xlmig__proc_run("qemu-io", argv, out, sizeof(out),
                                         &olen, err, sizeof(err)), 0);
        out[olen] = '\0';
        assert_null(strstr(out, "Pattern verification failed"));
    }
    assert_int_equal(xlmig__vdi_destroy(ctx, STATE, vdi), 0);
    /* Finalize twice: the task is gone. */
    assert_int_equal(xlmig__sxm_recv_finalize(ctx, STATE, rec.task, vdi),
                     LIBXLMIG_ERR_NOT_FOUND);
}

static void test_receive_cancel_and_recover(void **state)
{
    struct xlmig__sxm_recv_req req;
    struct xlmig__sxm_record rec, rec2;
    char addr[128], lease[600];
    struct stat st;

    (void)state;
    db_req(&req, addr, sizeof(addr));
    assert_int_equal(xlmig__sxm_recv_start(ctx, &req, &rec), 0);
    /* The starter owns the task, not the exporter. */
    assert_int_equal(rec.owner_pid, getpid());
    assert_int_not_equal(rec.exporter_pid, getpid());
    lease_make(&rec, lease, sizeof(lease));
    assert_int_equal(xlmig__sxm_recv_cancel(ctx, STATE, rec.task), 0);
    assert_int_equal(count_files(at("sr")), 0);
    assert_false(xlmig__proc_alive((pid_t)rec.exporter_pid,
                                   rec.exporter_start));
    /* Its lease goes with it. */
    assert_int_not_equal(stat(lease, &st), 0);
    assert_int_equal(count_files(at("state/sxm")), 0);

    /* The same address twice: the second start fails, leaving nothing. */
    assert_int_equal(xlmig__sxm_recv_start(ctx, &req, &rec), 0);
    reset_log();
    assert_int_equal(xlmig__sxm_recv_start(ctx, &req, &rec2),
                     LIBXLMIG_ERR_IO);
    assert_non_null(strstr(cap.text, "cannot serve its parent and leaf"));
    assert_int_equal(count_entries(at("state/sxm"), ".json"), 1);
    assert_int_equal(xlmig__sxm_recv_cancel(ctx, STATE, rec.task), 0);
    assert_int_equal(count_files(at("sr")), 0);
}

/*
 * A destination started by another process (as xlmigd does): recovery
 * leaves it alone while that process lives, and once it is gone (kill
 * -9) stops the exporter, which serves on by itself, and removes
 * parent, leaf, record and lease.
 */
static void test_recover_owner_gone(void **state)
{
    struct xlmig__sxm_recv_req req;
    struct xlmig__sxm_record rec;
    unsigned int done = 9;
    char addr[128], lease[600];
    int p[2], status;
    struct stat st;
    pid_t owner;

    (void)state;
    db_req(&req, addr, sizeof(addr));
    assert_int_equal(pipe(p), 0);
    owner = owner_child = fork();
    assert_true(owner >= 0);
    if (owner == 0) {
        int rc = xlmig__sxm_recv_start(ctx, &req, &rec);

        if (write(p[1], &rc, sizeof(rc)) != sizeof(rc) ||
            (!rc && write(p[1], &rec, sizeof(rec)) != sizeof(rec)))
            _exit(1);
        for (;;)
            pause();
    }
    close(p[1]);
    assert_int_equal(read(p[0], &status, sizeof(status)), sizeof(status));
    assert_int_equal(status, 0);
    assert_int_equal(read(p[0], &rec, sizeof(rec)), sizeof(rec));
    close(p[0]);
    assert_int_equal(rec.owner_pid, owner);
    lease_make(&rec, lease, sizeof(lease));

    assert_int_equal(xlmig__sxm_recover(ctx, STATE, &done), 0);
    assert_int_equal(done, 0);
    /* Parent and leaf: image, metadata, lock each. */
    assert_int_equal(count_files(at("sr")), 6);

    kill(owner, SIGKILL);
    assert_int_equal(waitpid(owner, NULL, 0), owner);
    owner_child = -1;
    assert_true(xlmig__proc_alive((pid_t)rec.exporter_pid,
                                  rec.exporter_start));
    assert_int_equal(xlmig__sxm_recover(ctx, STATE, &done), 0);
    assert_int_equal(done, 1);
    assert_false(xlmig__proc_alive((pid_t)rec.exporter_pid,
                                   rec.exporter_start));
    assert_int_equal(count_files(at("sr")), 0);
    assert_int_equal(count_files(at("state/sxm")), 0);
    assert_int_not_equal(stat(lease, &st), 0);
}

static void test_receive_refusals(void **state)
{
    struct xlmig__sxm_recv_req req = { 0 };
    struct xlmig__sxm_record rec;
    struct xlmig__sr sr;

    (void)state;
    assert_int_equal(xlmig__sr_create(ctx, STATE, "nomirror", "file",
                                      at("sr"), XLMIG__SR_CAP_VDI_SNAPSHOT,
                                      &sr), 0);
    req.state_dir = STATE;
    req.sr = "nomirror";
    req.name = "x";
    req.virtual_size = 1 << 20;
    req.listen = "tcp:127.0.0.1:1";
    reset_log();
    assert_int_equal(xlmig__sxm_recv_start(ctx, &req, &rec),
                     LIBXLMIG_ERR_SR_DOES_NOT_SUPPORT_MIGRATION);
    assert_non_null(strstr(cap.text, "VDI_MIRROR_IN"));
    req.virtual_size = 1000;
    assert_int_equal(xlmig__sxm_recv_start(ctx, &req, &rec),
                     LIBXLMIG_ERR_INVALID_ARGUMENT);
    req.virtual_size = 1 << 20;
    req.format = "vhd";
    assert_int_equal(xlmig__sxm_recv_start(ctx, &req, &rec),
                     LIBXLMIG_ERR_INVALID_ARGUMENT);
    assert_int_equal(count_files(at("sr")), 0);
    assert_int_equal(xlmig__sxm_recv_cancel(ctx, STATE, "nonsense"),
                     LIBXLMIG_ERR_INVALID_ARGUMENT);
}

/* The pool's TLS material as QEMU and libnbd read it: links to the
 * certificates, or keys.psk; a change of mode leaves no trace of the
 * other. */
static void test_pool_nbd_tls_dir(void **state)
{
    struct xlmig__pool_conf c;
    char dir[512], link[600], target[600];
    static const char hex[] =
        "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\n";
    ssize_t n;

    (void)state;
    memset(&c, 0, sizeof(c));
    snprintf(c.state_dir, sizeof(c.state_dir), "%s", STATE);
    write_file(at("ca.pem"), "ca", 2);
    write_file(at("cert.pem"), "cert", 4);
    write_file(at("key.pem"), "key", 3);
    snprintf(c.tls_ca, sizeof(c.tls_ca), "%s", at("ca.pem"));
    snprintf(c.tls_cert, sizeof(c.tls_cert), "%s", at("cert.pem"));
    snprintf(c.tls_key, sizeof(c.tls_key), "%s", at("key.pem"));
    assert_int_equal(xlmig__pool_nbd_tls_dir(ctx, &c, dir, sizeof(dir)), 0);
    assert_string_equal(dir, at("state/nbd-tls"));
    snprintf(link, sizeof(link), "%s/server-key.pem", dir);
    n = readlink(link, target, sizeof(target) - 1);
    assert_true(n > 0);
    target[n] = '\0';
    assert_string_equal(target, at("key.pem"));
    snprintf(link, sizeof(link), "%s/client-cert.pem", dir);
    assert_string_equal(read_file_tmp(link), "cert");
    snprintf(link, sizeof(link), "%s/ca-cert.pem", dir);
    assert_string_equal(read_file_tmp(link), "ca");
    assert_int_equal(count_entries(dir, ".pem"), 5);

    /* Now a PSK pool. */
    write_file(at("psk"), hex, sizeof(hex) - 1);
    c.tls_ca[0] = c.tls_cert[0] = c.tls_key[0] = '\0';
    snprintf(c.psk_file, sizeof(c.psk_file), "%s", at("psk"));
    assert_int_equal(xlmig__pool_nbd_tls_dir(ctx, &c, dir, sizeof(dir)), 0);
    snprintf(link, sizeof(link), "%s/keys.psk", dir);
    assert_string_equal(read_file_tmp(link), "xlmig:00112233445566778899aa"
                        "bbccddeeff00112233445566778899aabbccddeeff\n");
    assert_int_equal(count_entries(dir, ".pem"), 0);

    /* A bad key file: refused, naming it. */
    write_file(at("psk"), "not hex", 7);
    reset_log();
    assert_int_equal(xlmig__pool_nbd_tls_dir(ctx, &c, dir, sizeof(dir)),
                     LIBXLMIG_ERR_INVALID_ARGUMENT);
    assert_non_null(strstr(libxlmig_ctx_last_error(ctx), at("psk")));

    /* Back to certificates: keys.psk goes. */
    c.psk_file[0] = '\0';
    snprintf(c.tls_ca, sizeof(c.tls_ca), "%s", at("ca.pem"));
    snprintf(c.tls_cert, sizeof(c.tls_cert), "%s", at("cert.pem"));
    snprintf(c.tls_key, sizeof(c.tls_key), "%s", at("key.pem"));
    assert_int_equal(xlmig__pool_nbd_tls_dir(ctx, &c, dir, sizeof(dir)), 0);
    assert_int_equal(count_entries(dir, "keys.psk"), 0);
    assert_int_equal(count_entries(dir, ".pem"), 5);

    /* A certificate that is not there. */
    snprintf(c.tls_key, sizeof(c.tls_key), "%s", at("missing.pem"));
    assert_int_equal(xlmig__pool_nbd_tls_dir(ctx, &c, dir, sizeof(dir)),
                     LIBXLMIG_ERR_INVALID_ARGUMENT);
    assert_non_null(strstr(libxlmig_ctx_last_error(ctx), "missing.pem"));
}

/* A tool run from a thread that blocks or ignores signals starts with
 * them as a fresh process has them (else a daemon started by xlmigd
 * ignores the SIGTERM that stops it). */
static void test_child_signals(void **state)
{
    char *const argv[] = { "grep", "-E", "^Sig(Blk|Ign)", "/proc/self/status",
                           NULL };
    char out[256], err[XLMIG__PROC_ERR_MAX];
    unsigned long long blk = ~0ull, ign = ~0ull;
    sigset_t set, old;
    size_t olen = 0;
    const char *p;
    void (*was)(int);

    (void)state;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    assert_int_equal(sigprocmask(SIG_BLOCK, &set, &old), 0);
    was = signal(SIGTERM, SIG_IGN);
    assert_int_equal(xlmig__proc_run("grep", argv, out, sizeof(out) - 1,
                                     &olen, err, sizeof(err)), 0);
    signal(SIGTERM, was);
    sigprocmask(SIG_SETMASK, &old, NULL);
    out[olen] = '\0';
    p = strstr(out, "SigBlk:");
    assert_non_null(p);
    blk = strtoull(p + 7, NULL, 16);
    p = strstr(out, "SigIgn:");
    assert_non_null(p);
    ign = strtoull(p + 7, NULL, 16);
    assert_int_equal(blk, 0);
    assert_int_equal(ign & (1ull << (SIGTERM - 1)), 0);
    assert_int_equal(ign & (1ull << (SIGPIPE - 1)), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_addresses),
        cmocka_unit_test(test_export_uri),
        cmocka_unit_test(test_records),
        cmocka_unit_test(test_child_signals),
        cmocka_unit_test_setup_teardown(test_receive_finalize, dir_setup,
                                        dir_teardown),
        cmocka_unit_test_setup_teardown(test_receive_cancel_and_recover,
                                        dir_setup, dir_teardown),
        cmocka_unit_test_setup_teardown(test_recover_owner_gone, dir_setup,
                                        owner_teardown),
        cmocka_unit_test_setup_teardown(test_receive_refusals, dir_setup,
                                        dir_teardown),
        cmocka_unit_test_setup_teardown(test_pool_nbd_tls_dir, dir_setup,
                                        dir_teardown),
    };

    signal(SIGPIPE, SIG_IGN);
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}

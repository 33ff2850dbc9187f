/* SPDX-License-Identifier: LGPL-2.1-only */
/*
 * bench-tls: channel throughput over loopback TCP with and without TLS
 * 1.3, no compression and no page transform, in the same run.  The
 * target: TLS at least 80% of plain TCP.
 */
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"
#include "transport.h"

#define TOTAL (1024ull << 20)      /* bytes through the channel per run */

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *what)
{
    perror(what);
    exit(1);
}

struct side {
    libxlmig_ctx *ctx;
    int sock;
    bool server;                /* the receiving side */
    const char *psk;            /* NULL: plain TCP */
    int data_fd;
    int rc;
};

static void *side_main(void *arg)
{
    struct side *s = arg;
    libxlmig_transport *t = NULL;
    libxlmig_channel *ch = NULL;
    libxlmig_channel_params p;

    if (s->psk) {
        libxlmig_tls_params tp = { .psk_file = s->psk };

        s->rc = libxlmig_transport_tls_new(s->ctx, s->sock, s->server, &tp,
                                           &t);
    } else {
        s->rc = libxlmig_transport_fd_new(s->ctx, s->sock, s->sock, &t);
    }
    if (s->rc)
        return NULL;
    libxlmig_channel_params_init(&p);
    p.codec = "none";
    p.page_aware = false;
    s->rc = libxlmig_channel_open(s->ctx, t, !s->server, &p, &ch);
    if (!s->rc)
        s->rc = s->server ? libxlmig_channel_recv_fd(ch, s->data_fd)
                          : libxlmig_channel_send_fd(ch, s->data_fd);
    libxlmig_channel_free(ch);
    return NULL;
}

/* A pipe fed with TOTAL bytes of noise by a thread. */
struct feed {
    int fd;
};

static void *feed_main(void *arg)
{
    struct feed *f = arg;
    static uint8_t buf[1 << 20];
    uint64_t left = TOTAL;
    size_t i;

    for (i = 0; i < sizeof(buf); i++)
        buf[i] = (uint8_t)(i * 2654435761u >> 11);
    while (left) {
        size_t n = left < sizeof(buf) ? (size_t)left : sizeof(buf);

        if (xlmig__write_all(f->fd, buf, n))
            break;
        left -= n;
    }
    close(f->fd);
    return NULL;
}

static double run(libxlmig_ctx *ctx, const char *psk)
{
    struct sockaddr_in a = { .sin_family = AF_INET };
    socklen_t al = sizeof(a);
    int lfd, cfd, sfd, in[2];
    struct side snd, rcv;
    struct feed f;
    pthread_t ts, tr, tf;
    double t0;

    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    lfd = socket(AF_INET, SOCK_STREAM, 0);
    if (lfd < 0 || bind(lfd, (struct sockaddr *)&a, sizeof(a)) ||
        listen(lfd, 1) || getsockname(lfd, (struct sockaddr *)&a, &al))
        die("listen");
    cfd = socket(AF_INET, SOCK_STREAM, 0);
    if (cfd < 0 || connect(cfd, (struct sockaddr *)&a, sizeof(a)))
        die("connect");
    sfd = accept(lfd, NULL, NULL);
    if (sfd < 0 || pipe(in))
        die("accept");
    close(lfd);
    snd = (struct side){ .ctx = ctx, .sock = cfd, .psk = psk,
                         .data_fd = in[0] };
    rcv = (struct side){ .ctx = ctx, .sock = sfd, .server = true,
                         .psk = psk, .data_fd = open("/dev/null", O_WRONLY) };
    f.fd = in[1];
    t0 = now_s();
    pthread_create(&tf, NULL, feed_main, &f);
    pthread_create(&tr, NULL, side_main, &rcv);
    pthread_create(&ts, NULL, side_main, &snd);
    pthread_join(ts, NULL);
    pthread_join(tr, NULL);
    t0 = now_s() - t0;
    pthread_join(tf, NULL);
    close(in[0]);
    close(rcv.data_fd);
    if (snd.rc || rcv.rc) {
        fprintf(stderr, "bench-tls: %s failed: %s\n", psk ? "TLS" : "TCP",
                libxlmig_ctx_last_error(ctx));
        exit(1);
    }
    return t0;
}

int main(void)
{
    char dir[] = "/tmp/bench-tls-XXXXXX", psk[64];
    libxlmig_ctx *ctx = NULL;
    double tcp = 0, tls = 0;
    FILE *f;
    int i;

    signal(SIGPIPE, SIG_IGN);
    if (!mkdtemp(dir))
        die("mkdtemp");
    snprintf(psk, sizeof(psk), "%s/psk", dir);
    f = fopen(psk, "w");
    if (!f)
        die(psk);
    srand((unsigned)time(NULL));
    for (i = 0; i < 32; i++)
        fprintf(f, "%02x", rand() & 0xff);
    fclose(f);
    if (libxlmig_ctx_new(NULL, LIBXLMIG_LOG_ERROR, &ctx))
        die("ctx");
    /* Alternate, best of three each: both see the same machine state. */
    for (i = 0; i < 3; i++) {
        double a = run(ctx, NULL), b = run(ctx, psk);

        if (!tcp || a < tcp)
            tcp = a;
        if (!tls || b < tls)
            tls = b;
    }
    printf("\n== channel over loopback, codec none, %llu MiB, best of 3\n",
           TOTAL >> 20);
    printf("plain TCP     %7.0f MB/s\n", TOTAL / tcp / 1e6);
    printf("TLS 1.3 (PSK) %7.0f MB/s  (%.0f%% of plain TCP; target >= 80%%)\n",
           TOTAL / tls / 1e6, 100.0 * tcp / tls);
    libxlmig_ctx_free(ctx);
    unlink(psk);
    rmdir(dir);
    return 0;
}

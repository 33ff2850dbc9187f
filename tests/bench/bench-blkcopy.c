/* SPDX-License-Identifier: LGPL-2.1-only */
/*
 * bench-blkcopy: the driver of the block-copy benchmark; run-bench.sh
 * starts the qemu-nbd servers, times this and `qemu-img convert` side
 * by side, and prints the table (docs/bench.md).
 *
 *   bench-blkcopy fill URI PERCENT SEED
 *       write 1 MiB extents of random bytes at scattered 1 MiB-aligned
 *       offsets of the export until PERCENT of it is allocated
 *   bench-blkcopy copy SRC_URI DST_URI
 *       copy with xlmig__blkcopy (destination known zero, defaults
 *       otherwise); prints "SECONDS DATA_BYTES WRITTEN_BYTES"
 *
 * Without arguments (make bench runs every bench-* so) it says that
 * run-bench.sh drives it and exits 0.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libnbd.h>

#include "blkcopy.h"
#include "internal.h"

#define EXTENT (1u << 20)

static uint64_t rng_state;

static uint64_t rng(void)
{
    /* splitmix64 */
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);

    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static int fill(const char *uri, unsigned int percent, uint64_t seed)
{
    struct nbd_handle *h = nbd_create();
    uint64_t *slot = NULL, n, want, i, *buf = NULL;
    int64_t size;
    int rc = 1;

    rng_state = seed;
    if (!h || nbd_connect_uri(h, uri) < 0 || (size = nbd_get_size(h)) < 0) {
        fprintf(stderr, "bench-blkcopy: %s: %s\n", uri, nbd_get_error());
        goto out;
    }
    n = (uint64_t)size / EXTENT;
    want = n * percent / 100;
    slot = malloc(n * sizeof(*slot));
    buf = malloc(EXTENT);
    if (!slot || !buf) {
        fprintf(stderr, "bench-blkcopy: out of memory\n");
        goto out;
    }
    /* The first @want of a Fisher-Yates shuffle of the 1 MiB slots. */
    for (i = 0; i < n; i++)
        slot[i] = i;
    for (i = 0; i < want; i++) {
        uint64_t j = i + rng() % (n - i), t = slot[i], k;

        slot[i] = slot[j];
        slot[j] = t;
        for (k = 0; k < EXTENT / sizeof(*buf); k++)
            buf[k] = rng();
        if (nbd_pwrite(h, buf, EXTENT, slot[i] * EXTENT, 0) < 0) {
            fprintf(stderr, "bench-blkcopy: write: %s\n", nbd_get_error());
            goto out;
        }
    }
    if (nbd_flush(h, 0) < 0 || nbd_shutdown(h, 0) < 0) {
        fprintf(stderr, "bench-blkcopy: flush: %s\n", nbd_get_error());
        goto out;
    }
    rc = 0;
 out:
    free(slot);
    free(buf);
    nbd_close(h);
    return rc;
}

static int copy(const char *src, const char *dst)
{
    struct xlmig__blkcopy_opts o = { .src_uri = src, .dst_uri = dst,
                                     .dst_is_zero = true };
    struct xlmig__blkcopy_stats st;
    struct xlmig__blkcopy *c = NULL;
    libxlmig_ctx *ctx = NULL;
    int rc = 1;

    if (libxlmig_ctx_new(NULL, LIBXLMIG_LOG_ERROR, &ctx))
        return 1;
    if (!xlmig__blkcopy_new(ctx, &o, &c) && !xlmig__blkcopy_run(c, &st)) {
        printf("%.3f %" PRIu64 " %" PRIu64 "\n", st.seconds, st.data_total,
               st.written);
        rc = 0;
    }
    xlmig__blkcopy_free(c);
    libxlmig_ctx_free(ctx);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc == 5 && !strcmp(argv[1], "fill"))
        return fill(argv[2], (unsigned int)atoi(argv[3]),
                    strtoull(argv[4], NULL, 10));
    if (argc == 4 && !strcmp(argv[1], "copy"))
        return copy(argv[2], argv[3]);
    if (argc == 1) {
        printf("bench-blkcopy: run by tests/bench/run-bench.sh blkcopy\n");
        return 0;
    }
    fprintf(stderr, "usage: bench-blkcopy fill URI PERCENT SEED\n"
                    "       bench-blkcopy copy SRC_URI DST_URI\n");
    return 2;
}

/* SPDX-License-Identifier: LGPL-2.1-only */
/*
 * compress=auto's model (libxlmig/channel-adapt.c): with measured encode
 * costs and link rates it must pick the codec that moves the most raw
 * bytes a second, try every candidate first, and refresh the others
 * only now and then.
 */
#include <string.h>

#include "channel-adapt.h"
#include "internal.h"

#include "testutil.h"

#define MB 1000000.0

/* Report that @c at @level costs @ns_per_byte and sends @ratio. */
static void teach(struct xlmig__adapt *a, const struct xlmig__codec_ops *c,
                  int level, double ns_per_byte, double ratio)
{
    size_t raw = 1 << 20;

    xlmig__adapt_report_encode(a, c, level, raw, (size_t)(raw * ratio),
                               (uint64_t)(ns_per_byte * (double)raw));
}

/* The link drained @mbps MB/s. */
static void link_rate(struct xlmig__adapt *a, double mbps)
{
    xlmig__adapt_report_write(a, (size_t)(mbps * MB / 10), 100000000u);
}

/* Figures like the busy guest's on one core. */
static void teach_all(struct xlmig__adapt *a)
{
    teach(a, &xlmig__codec_none, 0, 0.01, 1.0);
    teach(a, &xlmig__codec_lz4, 1, 1.5, 0.50);
    teach(a, &xlmig__codec_zstd, 1, 2.2, 0.39);
    teach(a, &xlmig__codec_zstd, 2, 3.0, 0.37);
    teach(a, &xlmig__codec_zstd, 3, 4.0, 0.35);
}

/* What the next @n frames use: how many went to codec @c at @level. */
static unsigned int count(struct xlmig__adapt *a, unsigned int n,
                          const struct xlmig__codec_ops *c, int level)
{
    unsigned int i, hits = 0;

    for (i = 0; i < n; i++) {
        const struct xlmig__codec_ops *got;
        int lv;

        xlmig__adapt_choose(a, &got, &lv);
        if (got == c && lv == level)
            hits++;
    }
    return hits;
}

static void test_tries_every_candidate_first(void **state)
{
    struct xlmig__adapt *a = NULL;
    const struct xlmig__codec_ops *seen[5];
    int levels[5];
    unsigned int i, j;

    (void)state;
    assert_int_equal(xlmig__adapt_new(2, &a), 0);
    for (i = 0; i < 5; i++) {
        xlmig__adapt_choose(a, &seen[i], &levels[i]);
        for (j = 0; j < i; j++)
            assert_false(seen[i] == seen[j] && levels[i] == levels[j]);
    }
    xlmig__adapt_free(a);
}

static void test_slow_link_compresses(void **state)
{
    struct xlmig__adapt *a = NULL;

    (void)state;
    assert_int_equal(xlmig__adapt_new(2, &a), 0);
    count(a, 5, &xlmig__codec_none, 0);
    teach_all(a);
    /*
     * 125 MB/s and two threads: zstd 1 moves min(2/2.2 GB/s,
     * 125/0.39 MB/s) = 320 MB/s, zstd 2 min(667, 338) = 338 MB/s,
     * zstd 3 min(500, 357) = 357 MB/s, none only 125.  The best is
     * zstd 3; exploration takes at most a few frames in 16.
     */
    link_rate(a, 125);
    assert_true(count(a, 64, &xlmig__codec_zstd, 3) >= 56);
    xlmig__adapt_free(a);
}

static void test_fast_link_sends_raw(void **state)
{
    struct xlmig__adapt *a = NULL;

    (void)state;
    assert_int_equal(xlmig__adapt_new(2, &a), 0);
    count(a, 5, &xlmig__codec_none, 0);
    teach_all(a);
    /* 10 Gb/s: none moves 1250 MB/s, lz4 at most 2/1.5 = 1333... */
    link_rate(a, 1250);
    /* ...but lz4 then fills 667 MB/s of link: none and lz4 both near
     * the top; anything slower than half the best is tried rarely. */
    assert_true(count(a, 64, &xlmig__codec_zstd, 3) <= 2);
    xlmig__adapt_free(a);
}

static void test_unmeasured_link_compresses(void **state)
{
    struct xlmig__adapt *a = NULL;

    (void)state;
    assert_int_equal(xlmig__adapt_new(2, &a), 0);
    count(a, 5, &xlmig__codec_none, 0);
    teach_all(a);
    /* Nothing known of the link: assume it slow, do not send raw. */
    assert_true(count(a, 64, &xlmig__codec_none, 0) <= 4);
    xlmig__adapt_free(a);
}

static void test_idle_link_sends_raw(void **state)
{
    struct xlmig__adapt *a = NULL;

    (void)state;
    assert_int_equal(xlmig__adapt_new(2, &a), 0);
    count(a, 5, &xlmig__codec_none, 0);
    teach_all(a);
    /* The link took everything at once: it is no bottleneck. */
    xlmig__adapt_report_link_idle(a);
    assert_true(count(a, 64, &xlmig__codec_none, 0) >= 56);
    xlmig__adapt_free(a);
}

static void test_summary_names_candidates(void **state)
{
    struct xlmig__adapt *a = NULL;
    char buf[512];

    (void)state;
    assert_int_equal(xlmig__adapt_new(1, &a), 0);
    teach_all(a);
    link_rate(a, 100);
    xlmig__adapt_summary(a, buf, sizeof(buf));
    assert_non_null(strstr(buf, "link 100 MB/s"));
    assert_non_null(strstr(buf, "zstd/2"));
    assert_non_null(strstr(buf, "lz4/1"));
    xlmig__adapt_summary(a, buf, 8);
    assert_int_equal(strlen(buf), 7);
    xlmig__adapt_free(a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tries_every_candidate_first),
        cmocka_unit_test(test_slow_link_compresses),
        cmocka_unit_test(test_fast_link_sends_raw),
        cmocka_unit_test(test_unmeasured_link_compresses),
        cmocka_unit_test(test_idle_link_sends_raw),
        cmocka_unit_test(test_summary_names_candidates),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* SPDX-License-Identifier: LGPL-2.1-only */
/*
 * The progress printer of every tool (libxlmig/progress.c): the plain
 * lines written when the output is not a terminal (one per phase and
 * per 10 percent, transfers in bytes, several tasks, the last word),
 * quiet printing nothing, and the terminal's redrawn line.
 */
#include <stdlib.h>
#include <string.h>

#include "progress.h"
#include "testutil.h"

#define LINES_MAX 32

struct capture {
    char *buf;
    size_t len;
    FILE *f;
};

static void cap_open(struct capture *c)
{
    c->buf = NULL;
    c->len = 0;
    c->f = open_memstream(&c->buf, &c->len);
    assert_non_null(c->f);
}

/*
 * The lines written, each without its " (T s)" time (which the clock
 * decides), compared to @want (NULL-ended).
 */
static void cap_check(struct capture *c, const char *const *want)
{
    char *save = NULL, *line;
    size_t n = 0;

    fclose(c->f);
    for (line = strtok_r(c->buf, "\n", &save); line;
         line = strtok_r(NULL, "\n", &save), n++) {
        char *t = strrchr(line, '(');

        if (t && t > line && t[-1] == ' ' && strstr(t, " s)") &&
            t[strlen(t) - 1] == ')')
            t[-1] = '\0';
        if (!want[n])
            fail_msg("line %zu \"%s\": more lines than expected", n, line);
        assert_string_equal(line, want[n]);
    }
    if (want[n])
        fail_msg("line %zu missing: \"%s\"", n, want[n]);
    free(c->buf);
}

static void test_plain_percent(void **state)
{
    static const char *const want[] = {
        "vm-migrate: precopy 0%",
        "vm-migrate: precopy 10%",
        "vm-migrate: precopy 25%",
        "vm-migrate: precopy 30%",
        "vm-migrate: stopcopy 95%",
        "vm-migrate: stopcopy 100%",
        NULL,
    };
    static const unsigned int pcts[] = { 0, 3, 9, 10, 12, 25, 29, 30, 31 };
    struct xlmig__progress p;
    struct capture c;
    size_t i;

    (void)state;
    cap_open(&c);
    xlmig__progress_init(&p, c.f, "vm-migrate", false);
    assert_false(p.tty);
    for (i = 0; i < sizeof(pcts) / sizeof(pcts[0]); i++)
        xlmig__progress_show(&p, "precopy", pcts[i]);
    xlmig__progress_show(&p, "stopcopy", 95);
    xlmig__progress_show(&p, "stopcopy", 99);
    xlmig__progress_show(&p, "stopcopy", 140);  /* capped at 100 */
    xlmig__progress_show(&p, "stopcopy", 100);  /* said already */
    xlmig__progress_end(&p);                    /* nothing: no terminal */
    cap_check(&c, want);
}

static void test_plain_bytes(void **state)
{
    static const char *const want[] = {
        "sxm-send: copying 0.0 B/1.0 MiB (0%), 2.0 KiB/s, mirror 0",
        "sxm-send: copying 512.0 KiB/1.0 MiB (50%), mirror 1",
        "sxm-send: copying 1.0 MiB/1.0 MiB (100%)",
        "xlmig channel-send: stream 1.5 GiB, 1.0 MiB/s, out 1",
        "xlmig channel-send: stream 3.0 GiB",
        "xlmig channel-send: done: sent: in 3.0 GiB",
        NULL,
    };
    struct xlmig__progress p, q;
    struct capture c;

    (void)state;
    cap_open(&c);
    xlmig__progress_init(&p, c.f, "sxm-send", false);
    xlmig__progress_bytes(&p, "copying", 0, 1 << 20, 2048, "mirror 0");
    xlmig__progress_bytes(&p, "copying", 100 << 10, 1 << 20, 0, "x");
    xlmig__progress_bytes(&p, "copying", 512 << 10, 1 << 20, 0, "mirror 1");
    xlmig__progress_bytes(&p, "copying", 600 << 10, 1 << 20, 0, "y");
    xlmig__progress_bytes(&p, "copying", 1 << 20, 1 << 20, 0, NULL);
    /* Without a total: a phase's first line, then one per p->every s. */
    xlmig__progress_init(&q, c.f, "xlmig channel-send", false);
    xlmig__progress_bytes(&q, "stream", 3ull << 29, 0, 1 << 20, "out 1");
    xlmig__progress_bytes(&q, "stream", 2ull << 30, 0, 0, "not due");
    q.every = 0;
    xlmig__progress_bytes(&q, "stream", 3ull << 30, 0, 0, NULL);
    xlmig__progress_say(&q, "done: sent: in %s", "3.0 GiB");
    cap_check(&c, want);
}

static void test_tasks_and_quiet(void **state)
{
    static const char *const want[] = {
        "host-evacuate: VM web1: precopy 0%",
        "host-evacuate: VM web2: precopy 7%",
        "host-evacuate: VM web1: done 100%",
        NULL,
    };
    static const char *const none[] = { NULL };
    struct xlmig__progress p;
    struct capture c;

    (void)state;
    cap_open(&c);
    xlmig__progress_init(&p, c.f, "host-evacuate", false);
    xlmig__progress_task(&p, "VM web1", "precopy", 0);
    xlmig__progress_task(&p, "VM web2", "precopy", 7);
    xlmig__progress_task(&p, "VM web1", "done", 100);
    cap_check(&c, want);

    cap_open(&c);
    xlmig__progress_init(&p, c.f, "quiet", true);
    xlmig__progress_show(&p, "a", 50);
    xlmig__progress_bytes(&p, "b", 1, 2, 3, "c");
    xlmig__progress_task(&p, "VM x", "d", 1);
    xlmig__progress_say(&p, "e");
    xlmig__progress_end(&p);
    cap_check(&c, none);
}

/* On a terminal: one line redrawn (\r), closed by _end or a task line. */
static void test_terminal(void **state)
{
    struct xlmig__progress p;
    struct capture c;

    (void)state;
    cap_open(&c);
    xlmig__progress_init(&p, c.f, "vm-migrate", false);
    p.tty = true;
    xlmig__progress_show(&p, "precopy", 50);
    xlmig__progress_show(&p, "precopy", 51);
    xlmig__progress_end(&p);
    xlmig__progress_say(&p, "over");
    fclose(c.f);
    assert_non_null(strstr(c.buf, "\rvm-migrate: [###############...............]"
                                  "  50% precopy"));
    assert_non_null(strstr(c.buf, "\rvm-migrate: [###############...............]"
                                  "  51% precopy"));
    assert_null(strstr(c.buf, "precopy 50%"));  /* no plain line */
    assert_non_null(strstr(c.buf, "s\nvm-migrate: over\n"));
    free(c.buf);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plain_percent),
        cmocka_unit_test(test_plain_bytes),
        cmocka_unit_test(test_tasks_and_quiet),
        cmocka_unit_test(test_terminal),
    };

    return cmocka_run_group_tests_name("progress", tests, NULL, NULL);
}

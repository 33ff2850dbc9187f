/* SPDX-License-Identifier: LGPL-2.1-only */
/*
 * The grammar of xlmigd.conf (libxlmig/conffile.c): every form a line
 * may take with what it gives, every refusal with its line and its
 * words, the caps at their edges, and the take hook's own refusals.
 */
#include <stdint.h>
#include <stdlib.h>

#include "conffile.h"
#include "testctx.h"
#include "testutil.h"

enum { K_NAME, K_POOL_NAME, K_PATH, K_N };

static const char *const keys[K_N] = {
    [K_NAME] = "name", [K_POOL_NAME] = "pool-name", [K_PATH] = "path",
};

/* What the take hook saw. */
struct seen {
    char v[K_N][XLMIG__CONF_LINE_MAX + 1];
    unsigned calls;
};

static int take(void *opaque, size_t key, const char *value, char *why,
                size_t why_len)
{
    struct seen *s = opaque;

    if (!strcmp(value, "refuse")) {
        snprintf(why, why_len, "%s: refused by its check", keys[key]);
        return LIBXLMIG_ERR_INVALID_ARGUMENT;
    }
    snprintf(s->v[key], sizeof(s->v[key]), "%s", value);
    s->calls++;
    return 0;
}

static const struct xlmig__conf_spec spec = {
    .keys = keys, .nkeys = K_N, .take = take,
};

/* Parse @text (@len bytes) into *@s; its lines into @lines. */
static int parse(const char *text, size_t len, struct seen *s,
                 unsigned *lines, unsigned *line_r, char *why, size_t why_len)
{
    memset(s, 0, sizeof(*s));
    return xlmig__conf_parse(&spec, s, text, len, lines, line_r, why,
                             why_len);
}

static void test_good(void **state)
{
    static const struct {
        const char *text;
        const char *name, *path;    /* NULL: absent */
        unsigned name_line;
    } good[] = {
        { "", NULL, NULL, 0 },
        { "\n\n   \n\t\n", NULL, NULL, 0 },
        { "# only a comment", NULL, NULL, 0 },
        { "name = h2", "h2", NULL, 1 },                 /* no LF at end */
        { "name = h2\n", "h2", NULL, 1 },
        { "name=h2\n", "h2", NULL, 1 },
        { "  \tname\t=\th2\t \n", "h2", NULL, 1 },
        { "name = h2\r\n", "h2", NULL, 1 },             /* CRLF */
        { "name = h2\r", "h2", NULL, 1 },
        { "\n# c\nname = h2 # this host\n", "h2", NULL, 3 },
        { "name = h2\t# tab before the comment\n", "h2", NULL, 1 },
        { "name = h2 #\n", "h2", NULL, 1 },
        { "name = h2 ## x # y \" z\n", "h2", NULL, 1 },
        { "name = \"h2\"\n", "h2", NULL, 1 },
        { "name = \"h2\"# right after the quote\n", "h2", NULL, 1 },
        { "name = \"h2\"   # after blanks\n", "h2", NULL, 1 },
        { "name = \" a # b \"\n", " a # b ", NULL, 1 },
        { "name = a=b\n", "a=b", NULL, 1 },
        { "name = two words  \n", "two words", NULL, 1 },
        { "path = /etc/x lmig/\xc3\xa9t\xc3\xa9.pem # utf-8\n", NULL,
          "/etc/x lmig/\xc3\xa9t\xc3\xa9.pem", 0 },
        { "# \xc3\xa9 in a comment\npath = /a\n", NULL, "/a", 0 },
        { "name = h2\npath = /a\n# name = h3\n", "h2", "/a", 1 },
    };
    unsigned lines[K_N], line;
    struct seen s;
    char why[256];
    size_t i;

    (void)state;
    for (i = 0; i < ARRAY_LEN(good); i++) {
        if (parse(good[i].text, strlen(good[i].text), &s, lines, &line, why,
                  sizeof(why)))
            fail_msg("case %zu \"%s\" refused: line %u: %s", i,
                     good[i].text, line, why);
        assert_string_equal(s.v[K_NAME], good[i].name ? good[i].name : "");
        assert_string_equal(s.v[K_PATH], good[i].path ? good[i].path : "");
        assert_int_equal(lines[K_NAME], good[i].name_line);
        assert_int_equal(lines[K_POOL_NAME], 0);
        assert_int_equal(s.calls, !!good[i].name + !!good[i].path);
    }
}

static void test_bad(void **state)
{
    static const struct {
        const char *text;
        size_t len;                 /* 0: strlen */
        unsigned line;
        const char *why;
    } bad[] = {
        { "name = h2\nbogus\n", 0, 2, "expected 'KEY = VALUE' or a '#' "
          "comment, found 'bogus'" },
        { "name h2\n", 0, 1, "found 'name'" },
        { "= h2\n", 0, 1, "a value without a key" },
        { "  =\n", 0, 1, "a value without a key" },
        { "pool_name = p\n", 0, 1, "unknown key 'pool_name' (did you mean "
          "'pool-name'?)" },
        { "Name = h2\n", 0, 1, "unknown key 'Name' (did you mean 'name'?)" },
        { "colour = red\n", 0, 1, "unknown key 'colour'" },
        { "name = h2\n\nname = h3\n", 0, 3, "'name' is given twice (first "
          "on line 1)" },
        { "name = h2\nname = h2\n", 0, 2, "'name' is given twice" },
        { "name =\n", 0, 1, "'name' has no value" },
        { "name =   \t\n", 0, 1, "'name' has no value" },
        { "name = # this host\n", 0, 1, "'name' has no value (a '#' starts "
          "a comment" },
        { "name = \"\"\n", 0, 1, "'name' has no value" },
        { "name = h2# x\n", 0, 1, "'name': a '#' right after the value's "
          "text" },
        { "path = /a#b\n", 0, 1, "'path': a '#' right after" },
        { "name = a\"b\"\n", 0, 1, "'name': a '\"' inside the value" },
        { "name = \"h2\n", 0, 1, "'name': the value has no closing '\"'" },
        { "name = \"h2\" x\n", 0, 1, "'name': text after the closing '\"'" },
        { "name = \"h2\"\"\"\n", 0, 1, "text after the closing" },
        { "name = h\0002\n", 11, 1, "a NUL byte (column 9)" },
        { "# a comment \0 too\n", 18, 1, "a NUL byte (column 13)" },
        { "name = h2\n\0", 11, 2, "a NUL byte (column 1)" },
        { "name = h\0332\n", 0, 1, "a control byte 0x1b (column 9)" },
        { "name = h2\rx\n", 0, 1, "a control byte 0x0d (column 10)" },
        { "name = h2\r\r\n", 0, 1, "a control byte 0x0d (column 10)" },
        { "# \177\n", 0, 1, "a control byte 0x7f" },
        { "\f\n", 0, 1, "a control byte 0x0c" },
        { "name = refuse # by take\n", 0, 1, "name: refused by its check" },
        { "path = /a\npool-name = \"refuse\"\n", 0, 2, "pool-name: refused" },
    };
    unsigned lines[K_N], line;
    struct seen s;
    char why[256];
    size_t i;

    (void)state;
    for (i = 0; i < ARRAY_LEN(bad); i++) {
        size_t len = bad[i].len ? bad[i].len : strlen(bad[i].text);

        line = 99;
        if (parse(bad[i].text, len, &s, lines, &line, why, sizeof(why)) !=
            LIBXLMIG_ERR_INVALID_ARGUMENT)
            fail_msg("case %zu was taken", i);
        if (line != bad[i].line)
            fail_msg("case %zu: line %u, not %u (%s)", i, line,
                     bad[i].line, why);
        assert_contains(why, bad[i].why);
    }
}

/* The caps at their edges: a line of 1024 bytes (plus its CR LF) and a
 * file of 64 KiB are taken, one byte more is refused, the line named. */
static void test_caps(void **state)
{
    size_t max = XLMIG__CONF_FILE_MAX, at, n;
    char *text = malloc(max + 1), why[256];
    unsigned lines[K_N], line;
    struct seen s;

    (void)state;
    assert_non_null(text);
    /* "# xxx...x" of 1024 bytes, then CR LF, on line 2. */
    n = (size_t)sprintf(text, "name = h2\n#");
    memset(text + n, 'x', XLMIG__CONF_LINE_MAX - 1);
    n += XLMIG__CONF_LINE_MAX - 1;
    memcpy(text + n, "\r\n", 2);
    assert_ok(parse(text, n + 2, &s, lines, &line, why, sizeof(why)));
    text[n] = 'x';                  /* 1025 bytes, then LF */
    assert_int_equal(parse(text, n + 2, &s, lines, &line, why, sizeof(why)),
                     LIBXLMIG_ERR_INVALID_ARGUMENT);
    assert_int_equal(line, 2);
    assert_contains(why, "longer than 1024 bytes");
    /* The same as the last line, without an LF. */
    assert_int_equal(parse(text, n + 1, &s, lines, &line, why, sizeof(why)),
                     LIBXLMIG_ERR_INVALID_ARGUMENT);
    assert_int_equal(line, 2);

    /* A value of a whole line's length reaches take whole. */
    n = (size_t)sprintf(text, "path=");
    memset(text + n, 'p', XLMIG__CONF_LINE_MAX - n);
    assert_ok(parse(text, XLMIG__CONF_LINE_MAX, &s, lines, &line, why,
                    sizeof(why)));
    assert_int_equal(strlen(s.v[K_PATH]), XLMIG__CONF_LINE_MAX - n);

    /* 64 KiB of comment lines of 64 bytes: taken; one byte more: not. */
    for (at = 0; at < max; at += 64) {
        memset(text + at, ' ', 63);
        text[at] = '#';
        text[at + 63] = '\n';
    }
    assert_ok(parse(text, max, &s, lines, &line, why, sizeof(why)));
    text[max] = '\n';
    assert_int_equal(parse(text, max + 1, &s, lines, &line, why,
                           sizeof(why)), LIBXLMIG_ERR_INVALID_ARGUMENT);
    assert_int_equal(line, 0);
    assert_contains(why, "65537 bytes, more than the 65536");
    free(text);
}

/* Refusals stop at the first error: take saw only the lines before it. */
static void test_stops(void **state)
{
    static const char text[] = "name = h2\nbogus\npath = /a\n";
    unsigned lines[K_N], line;
    struct seen s;
    char why[256];

    (void)state;
    assert_int_equal(parse(text, strlen(text), &s, lines, &line, why,
                           sizeof(why)), LIBXLMIG_ERR_INVALID_ARGUMENT);
    assert_int_equal(s.calls, 1);
    assert_string_equal(s.v[K_PATH], "");
    /* A small buffer for the words is cut, not overrun. */
    assert_int_equal(parse(text, strlen(text), &s, lines, &line, why, 8),
                     LIBXLMIG_ERR_INVALID_ARGUMENT);
    assert_int_equal(strlen(why), 7);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_good),
        cmocka_unit_test(test_bad),
        cmocka_unit_test(test_caps),
        cmocka_unit_test(test_stops),
    };

    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}

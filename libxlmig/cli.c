/* SPDX-License-Identifier: LGPL-2.1-only */
/* What the command-line tools share (cli.h). */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <yajl/yajl_gen.h>

#include "cli.h"
#include "codec.h"
#include "featureset.h"
#include "internal.h"

/* @text quoted for a message (cut around its start when long). */
#define QUOTE(text, buf) (xlmig__quote((text) ? (text) : "", 0, (buf), \
                                       sizeof(buf)), (buf))

void xlmig__cli_on_stop(void (*handler)(int))
{
    struct sigaction sa;

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = handler;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

void xlmig__cli_version(FILE *f, const char *prog)
{
#ifdef XLMIG__XENLIGHT_VERSION
    fprintf(f, "%s %s (built with libxl %s)\n", prog, LIBXLMIG_VERSION_STRING,
            XLMIG__XENLIGHT_VERSION);
#else
    fprintf(f, "%s %s\n", prog, LIBXLMIG_VERSION_STRING);
#endif
}

/* ------------------------------------------------------------------ */
/* Help texts as Markdown (the man pages)                             */
/* ------------------------------------------------------------------ */

/* Does @s[@i] follow a '.' (and what may close a sentence after it)? */
static bool after_period(const char *s, size_t i)
{
    while (i && strchr(")]'\"", s[i - 1]))
        i--;
    return i && s[i - 1] == '.';
}

void xlmig__cli_md_text(FILE *f, const char *s, size_t n)
{
    static const char punct[] = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~";
    size_t i;

    for (i = 0; i < n && s[i]; i++) {
        if (strchr(punct, s[i]) || (s[i] == ' ' && after_period(s, i) &&
                                    (i + 1 == n || s[i + 1] != ' ')))
            fputc('\\', f);
        fputc(s[i] == '\n' || s[i] == '\t' ? ' ' : s[i], f);
    }
}

/* Where xlmig__cli_md_help() is in its text. */
struct md {
    FILE *f;
    enum {
        MD_NONE,            /* between blocks */
        MD_PARA,            /* in a paragraph */
        MD_TERM,            /* in an item's term, which goes on */
        MD_DESC,            /* in an item's description */
    } st;
    bool prose;             /* the last line was at column 0 */
    bool desc_empty;        /* MD_DESC: nothing of it written yet */
    char term_end;          /* MD_TERM: ',' or '|' */
};

static void md_close(struct md *m)
{
    if (m->st == MD_TERM)
        fputs("**\n:   ", m->f);
    if (m->st != MD_NONE)
        fputs("\n\n", m->f);
    m->st = MD_NONE;
}

/* More of a paragraph (a new one from MD_NONE). */
static void md_prose(struct md *m, const char *t, size_t n)
{
    if (m->st == MD_PARA) {
        fputc(' ', m->f);
    } else {
        md_close(m);
        m->st = MD_PARA;
    }
    xlmig__cli_md_text(m->f, t, n);
}

/* (More of) an item's term; its end unless it ends in ',' or '|'. */
static void md_term(struct md *m, const char *t, size_t n)
{
    if (m->st == MD_TERM) {
        if (m->term_end == ',')
            fputc(' ', m->f);
    } else {
        md_close(m);
        fputs("**", m->f);
    }
    xlmig__cli_md_text(m->f, t, n);
    if (n && (t[n - 1] == ',' || t[n - 1] == '|')) {
        m->st = MD_TERM;
        m->term_end = t[n - 1];
        return;
    }
    fputs("**\n:   ", m->f);
    m->st = MD_DESC;
    m->desc_empty = true;
}

static void md_desc(struct md *m, const char *t, size_t n)
{
    if (m->st == MD_TERM) {
        fputs("**\n:   ", m->f);
        m->st = MD_DESC;
        m->desc_empty = true;
    }
    if (!m->desc_empty)
        fputc(' ', m->f);
    xlmig__cli_md_text(m->f, t, n);
    m->desc_empty = false;
}

/* An item's line @t (@n bytes, from its term): term, then description. */
static void md_item(struct md *m, const char *t, size_t n)
{
    size_t term;

    for (term = 0; term < n && !(t[term] == ' ' && term + 1 < n &&
                                 t[term + 1] == ' '); term++)
        ;
    md_term(m, t, term);
    while (term < n && t[term] == ' ')
        term++;
    if (term < n)
        md_desc(m, t + term, n - term);
}

static void md_line(struct md *m, const char *s, size_t len)
{
    size_t ind = 0, n;
    const char *t;
    bool prose = m->prose;

    while (ind < len && s[ind] == ' ')
        ind++;
    t = s + ind;
    n = len - ind;
    while (n && (t[n - 1] == ' ' || t[n - 1] == '\t'))
        n--;
    m->prose = n && ind == 0;
    if (!n) {
        md_close(m);
    } else if (ind == 0) {
        if (!prose)
            md_close(m);
        md_prose(m, t, n);
    } else if (m->st == MD_TERM) {
        md_item(m, t, n);               /* the term goes on */
    } else if (ind > 2) {
        if (m->st == MD_DESC)
            md_desc(m, t, n);
        else
            md_prose(m, t, n);
    } else if (m->st == MD_PARA && !memmem(t, n, "  ", 2)) {
        md_prose(m, t, n);              /* "Fields: a b\n  c d" */
    } else {
        md_item(m, t, n);
    }
}

/* The first @len bytes of help text @text. */
static void md_help(FILE *f, const char *text, size_t len)
{
    struct md m = { .f = f, .st = MD_NONE };
    const char *line = text, *end = text + len, *nl;

    while (line < end) {
        nl = memchr(line, '\n', (size_t)(end - line));
        md_line(&m, line, nl ? (size_t)(nl - line) : (size_t)(end - line));
        line = nl ? nl + 1 : end;
    }
    md_close(&m);
}

void xlmig__cli_md_help(FILE *f, const char *text)
{
    md_help(f, text, strlen(text));
}

/* Does @line (after its spaces) begin with "PROG " or is it PROG? */
static const char *after_prog(const char *line, const char *prog)
{
    size_t n = strlen(prog);

    line += strspn(line, " ");
    if (strncmp(line, prog, n) || (line[n] != ' ' && line[n] != '\n' &&
                                   line[n] != '\0'))
        return NULL;
    return line + n;
}

/* The first line of @text that is an item, or the end of @text. */
static const char *first_item(const char *text)
{
    const char *line = text;

    while (*line && !(line[0] == ' ' && line[1] == ' ' && line[2] > ' ')) {
        line = strchr(line, '\n');
        line = line ? line + 1 : text + strlen(text);
    }
    return line;
}

void xlmig__cli_md_page(FILE *f, const char *prog, const char *text)
{
    static const char usage[] = "Usage: ";
    const char *rest, *nl, *items;

    if (!strncmp(text, usage, strlen(usage))) {
        fputs("# SYNOPSIS\n\n", f);
        text += strlen(usage);
        while ((rest = after_prog(text, prog))) {
            nl = strchr(rest, '\n');
            fputs("**", f);
            xlmig__cli_md_text(f, prog, strlen(prog));
            fputs("**", f);
            xlmig__cli_md_text(f, rest, nl ? (size_t)(nl - rest)
                                            : strlen(rest));
            fputs("\n\n", f);
            text = nl ? nl + 1 : rest + strlen(rest);
        }
    }
    items = first_item(text);
    fputs("# DESCRIPTION\n\n", f);
    md_help(f, text, (size_t)(items - text));
    if (*items) {
        fputs("# OPTIONS\n\n", f);
        xlmig__cli_md_help(f, items);
    }
}

bool xlmig__cli_uint(const char *text, unsigned long max, unsigned long *v_r)
{
    unsigned long v = 0;
    size_t i;

    if (!text || !*text)
        return false;
    for (i = 0; text[i]; i++) {
        unsigned long d = (unsigned long)(text[i] - '0');

        if (text[i] < '0' || text[i] > '9' || d > max ||
            v > (max - d) / 10)
            return false;
        v = v * 10 + d;
    }
    *v_r = v;
    return true;
}

bool xlmig__cli_codec(const char *what, const char *text,
                      const char **codec_r, char *why, size_t len)
{
    static const char *const off[] = { "false", "no", "off" };
    static const char *const on[] = { "true", "yes", "on" };
    const struct xlmig__codec_ops *c;
    char q[XLMIG__QUOTE_MAX + 8];
    size_t i;

    for (i = 0; text && i < sizeof(off) / sizeof(off[0]); i++) {
        if (!strcmp(text, off[i])) {
            *codec_r = "none";
            return true;
        }
        if (!strcmp(text, on[i])) {
            *codec_r = "zstd";
            return true;
        }
    }
    if (text && !strcmp(text, "auto")) {
        *codec_r = "auto";
        return true;
    }
    c = xlmig__codec_by_name(text);
    if (c) {
        *codec_r = c->name;
        return true;
    }
    snprintf(why, len, "%s \"%s\" is not a codec; give " XLMIG__CODEC_RULE,
             what, QUOTE(text, q));
    return false;
}

bool xlmig__cli_level(const char *what, const char *text, int *level_r,
                      char *why, size_t len)
{
    char q[XLMIG__QUOTE_MAX + 8];
    unsigned long v;
    bool neg = text && text[0] == '-';

    if (text && xlmig__cli_uint(text + neg, XLMIG__CLI_LEVEL_MAX, &v)) {
        *level_r = neg ? -(int)v : (int)v;
        return true;
    }
    snprintf(why, len, "%s \"%s\" is not a level; give a number from -%d "
             "to %d", what, QUOTE(text, q), XLMIG__CLI_LEVEL_MAX,
             XLMIG__CLI_LEVEL_MAX);
    return false;
}

bool xlmig__cli_threads(const char *what, const char *text,
                        unsigned int *threads_r, char *why, size_t len)
{
    char q[XLMIG__QUOTE_MAX + 8];
    unsigned long v;

    if (xlmig__cli_uint(text, XLMIG__CLI_THREADS_MAX, &v)) {
        *threads_r = (unsigned int)v;
        return true;
    }
    snprintf(why, len, "%s \"%s\" is not a number of threads; give 0 (one "
             "per CPU) to %d", what, QUOTE(text, q), XLMIG__CLI_THREADS_MAX);
    return false;
}

/* ------------------------------------------------------------------ */
/* TLS                                                                */
/* ------------------------------------------------------------------ */

void xlmig__cli_tls_init(struct xlmig__cli_tls *t)
{
    memset(t, 0, sizeof(*t));
}

bool xlmig__cli_tls_opt(struct xlmig__cli_tls *t, int opt, const char *arg)
{
    switch (opt) {
    case XLMIG__OPT_TLS_CERT: t->p.cert_file = arg; return true;
    case XLMIG__OPT_TLS_KEY: t->p.key_file = arg; return true;
    case XLMIG__OPT_TLS_CA: t->p.ca_file = arg; return true;
    case XLMIG__OPT_PSK_FILE: t->p.psk_file = arg; return true;
    case XLMIG__OPT_PEER_NAME: t->p.peer_name = arg; return true;
    case XLMIG__OPT_NO_TLS: t->no_tls = true; return true;
    default: return false;
    }
}

/* DIR/NAME into @buf when readable. */
static bool default_file(const char *dir, const char *name, char *buf,
                         size_t cap)
{
    int n = snprintf(buf, cap, "%s/%s", dir, name);

    return n > 0 && (size_t)n < cap && access(buf, R_OK) == 0;
}

bool xlmig__cli_tls_check(struct xlmig__cli_tls *t, const char *default_dir,
                          char *why, size_t len)
{
    libxlmig_tls_params *p = &t->p;
    bool certs = p->cert_file || p->key_file || p->ca_file;

    if (t->no_tls) {
        if (certs || p->psk_file) {
            snprintf(why, len, "--no-tls and TLS files do not go "
                     "together");
            return false;
        }
        return true;
    }
    if (p->psk_file && certs) {
        snprintf(why, len, "give --psk-file or --tls-cert/--tls-key/"
                 "--tls-ca, not both");
        return false;
    }
    if (certs && !(p->cert_file && p->key_file && p->ca_file)) {
        snprintf(why, len, "TLS with certificates needs all of "
                 "--tls-cert, --tls-key and --tls-ca");
        return false;
    }
    if (certs || p->psk_file)
        return true;
    if (default_dir &&
        default_file(default_dir, "cert.pem", t->paths[0],
                     sizeof(t->paths[0])) &&
        default_file(default_dir, "key.pem", t->paths[1],
                     sizeof(t->paths[1])) &&
        default_file(default_dir, "ca.pem", t->paths[2],
                     sizeof(t->paths[2]))) {
        p->cert_file = t->paths[0];
        p->key_file = t->paths[1];
        p->ca_file = t->paths[2];
        return true;
    }
    if (default_dir && default_file(default_dir, "psk", t->paths[0],
                                    sizeof(t->paths[0]))) {
        p->psk_file = t->paths[0];
        return true;
    }
    snprintf(why, len, "TLS needs --tls-cert, --tls-key and --tls-ca, or "
             "--psk-file%s%s; plain TCP only with --no-tls",
             default_dir ? ", or the files in " : "",
             default_dir ? default_dir : "");
    return false;
}

libxlmig_tls_params *xlmig__cli_tls_params(struct xlmig__cli_tls *t,
                                           const char *peer_label)
{
    t->p.peer_label = peer_label;
    return t->no_tls ? NULL : &t->p;
}

/* ------------------------------------------------------------------ */
/* --json of the listings                                             */
/* ------------------------------------------------------------------ */

static bool in_list(const char *const *names, const char *name)
{
    size_t i;

    for (i = 0; names && names[i]; i++) {
        if (!strcmp(names[i], name))
            return true;
    }
    return false;
}

/* Is @s a JSON number (RFC 8259: -?int frac? exp?)? */
static bool json_number(const char *s)
{
    const char *p = s;

    if (*p == '-')
        p++;
    if (*p == '0')
        p++;
    else if (*p >= '1' && *p <= '9')
        while (*p >= '0' && *p <= '9')
            p++;
    else
        return false;
    if (*p == '.') {
        if (!(*++p >= '0' && *p <= '9'))
            return false;
        while (*p >= '0' && *p <= '9')
            p++;
    }
    if (*p == 'e' || *p == 'E') {
        p++;
        if (*p == '+' || *p == '-')
            p++;
        if (!(*p >= '0' && *p <= '9'))
            return false;
        while (*p >= '0' && *p <= '9')
            p++;
    }
    return *p == '\0';
}

/* A generator indented by two spaces, validating UTF-8; NULL: no memory. */
static yajl_gen new_gen(void)
{
    yajl_gen g = yajl_gen_alloc(NULL);

    if (g && (!yajl_gen_config(g, yajl_gen_beautify, 1) ||
              !yajl_gen_config(g, yajl_gen_indent_string, "  ") ||
              !yajl_gen_config(g, yajl_gen_validate_utf8, 1))) {
        yajl_gen_free(g);
        g = NULL;
    }
    return g;
}

bool xlmig__cli_json_begin(struct xlmig__cli_json *j, FILE *f,
                           const char *const *numbers,
                           const char *const *flags)
{
    yajl_gen g = new_gen();

    memset(j, 0, sizeof(*j));
    if (!g || yajl_gen_array_open(g) != yajl_gen_status_ok) {
        if (g)
            yajl_gen_free(g);
        fprintf(stderr, "NO_MEMORY: cannot start the JSON output\n");
        return false;
    }
    j->f = f;
    j->g = g;
    j->numbers = numbers;
    j->flags = flags;
    return true;
}

static bool gen_str(yajl_gen g, const char *s)
{
    return yajl_gen_string(g, (const unsigned char *)s, strlen(s)) ==
           yajl_gen_status_ok;
}

bool xlmig__cli_json_record(struct xlmig__cli_json *j,
                            const struct xlmig__kv *const *fields, size_t n)
{
    yajl_gen g = j->g;
    bool ok = true;
    size_t i;

    if (!g || yajl_gen_map_open(g) != yajl_gen_status_ok)
        return false;
    j->nr++;
    for (i = 0; i < n; i++) {
        const char *k = fields[i]->key, *v = fields[i]->value;
        yajl_gen_status st;

        if (!gen_str(g, k))
            return false;       /* our own names: cannot happen */
        if (in_list(j->numbers, k) && !*v)
            st = yajl_gen_null(g);
        else if (in_list(j->numbers, k) && json_number(v))
            st = yajl_gen_number(g, v, strlen(v));
        else if (in_list(j->flags, k) &&
                 (!strcmp(v, "true") || !strcmp(v, "false")))
            st = yajl_gen_bool(g, !strcmp(v, "true"));
        else
            st = yajl_gen_string(g, (const unsigned char *)v, strlen(v));
        if (st != yajl_gen_status_ok) {
            /* The object stays whole: null in its place, said once. */
            fprintf(stderr, "INVALID_VALUE: field '%s' is not valid UTF-8 "
                    "(null in the JSON); list it without --json\n", k);
            (void)yajl_gen_null(g);
            ok = false;
        }
    }
    return yajl_gen_map_close(g) == yajl_gen_status_ok && ok;
}

void xlmig__cli_json_end(struct xlmig__cli_json *j)
{
    yajl_gen g = j->g;
    const unsigned char *out;
    size_t len;

    if (!g)
        return;
    (void)yajl_gen_array_close(g);
    if (!j->nr)
        fputs("[]\n", j->f);   /* not beautify's "[\n\n]" */
    else if (yajl_gen_get_buf(g, &out, &len) == yajl_gen_status_ok) {
        fwrite(out, 1, len, j->f);
        if (!len || out[len - 1] != '\n')
            fputc('\n', j->f);
    }
    fflush(j->f);
    yajl_gen_free(g);
    j->g = NULL;
}

bool xlmig__cli_json_object(FILE *f, const struct xlmig__kv *kv, size_t n,
                            const char *const *numbers,
                            const char *const *flags)
{
    const struct xlmig__kv *sel[64];
    struct xlmig__cli_json j;
    const unsigned char *out;
    size_t len, i;
    bool ok;

    if (n > sizeof(sel) / sizeof(sel[0]))
        return false;
    for (i = 0; i < n; i++)
        sel[i] = &kv[i];
    memset(&j, 0, sizeof(j));
    j.f = f;
    j.g = new_gen();
    j.numbers = numbers;
    j.flags = flags;
    if (!j.g)
        fprintf(stderr, "NO_MEMORY: cannot start the JSON output\n");
    ok = j.g && xlmig__cli_json_record(&j, sel, n) &&
         yajl_gen_get_buf(j.g, &out, &len) == yajl_gen_status_ok;
    if (ok) {
        fwrite(out, 1, len, f);
        if (!len || out[len - 1] != '\n')
            fputc('\n', f);
        fflush(f);
    }
    if (j.g)
        yajl_gen_free(j.g);
    return ok;
}

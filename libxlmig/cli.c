/* The options the command-line tools share (cli.h). */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

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

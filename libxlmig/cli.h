/* SPDX-License-Identifier: LGPL-2.1-only */
/*
 * What the command-line tools share (internal: xlmig, xlmigd, xlmig-xe;
 * nothing here is exported): their exit statuses, and the options that
 * more than one command takes, each with one spelling and one parser
 * (docs/style.md, "One spelling").  Sizes and rates are in units.h,
 * addresses in addr.h.
 *
 * The parsers log nothing: they return false with @why (of @len bytes)
 * one sentence naming @what, the option as the command spells it, and
 * the text; the command prints it with its own prefix.  The output is
 * written only on success.
 */
#ifndef XLMIG_CLI_H
#define XLMIG_CLI_H

#include <getopt.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "libxlmig.h"

/*
 * Each command of xlmig parses with one table of options (struct option,
 * ended by a NULL name), which `xlmig --complete options` also lists for
 * shell completion.  A row whose val repeats an earlier row's is another
 * spelling of that option, one of old: still taken, but neither in
 * --help nor offered for completion (--compress, --cert, --tls-dir).
 */

/* Exit statuses of every tool. */
#define XLMIG__EXIT_OK 0
#define XLMIG__EXIT_FAILED 1        /* the operation failed (said why) */
#define XLMIG__EXIT_USAGE 2         /* bad usage (said why) */
#define XLMIG__EXIT_INTERRUPTED 130 /* 128 + SIGINT, as a shell says it */

/*
 * --version of every tool: "PROG VERSION" (LIBXLMIG_VERSION_STRING),
 * then the libxl it was built against when the build says
 * (XLMIG__XENLIGHT_VERSION), on one line of @f.
 */
void xlmig__cli_version(FILE *f, const char *prog);

/*
 * The man pages' generated parts (`xlmig --man`, `xlmig-xe --man`,
 * `xlmigd --man`; scripts/man-page.sh puts them into docs/man/): the
 * help texts the programs print, in pandoc's Markdown.
 *
 * xlmig__cli_md_text(): @n bytes of @s as inline text, every ASCII
 * punctuation character escaped, so that nothing in it is markup.  One
 * space after a '.' is a non-breaking one: only two end a sentence, as
 * the help texts write them ("e.g. this", "xl ... migrate-receive").
 *
 * xlmig__cli_md_help(): a help text as blocks.  It is read as every
 * --help here writes it: a line that starts at column 0 is prose (the
 * following ones of the same paragraph); a line indented by two spaces
 * is an item "  TERM  DESCRIPTION" (two or more spaces after the term;
 * the description may be missing), and the lines indented deeper go on
 * with its description.  A term ending in ',' or '|' goes on at the
 * next line.  A two-space line without a description right after prose
 * goes on with the prose ("Fields: a b\n  c d").  Prose becomes
 * paragraphs, items a definition list.
 *
 * xlmig__cli_md_page(): a program's whole --help as sections: its
 * "Usage: PROG ..." line and the lines under it that begin with spaces
 * then PROG the SYNOPSIS, what follows up to the first item the
 * DESCRIPTION, the rest the OPTIONS (as md_help).
 */
void xlmig__cli_md_text(FILE *f, const char *s, size_t n);
void xlmig__cli_md_help(FILE *f, const char *text);
void xlmig__cli_md_page(FILE *f, const char *prog, const char *text);

/*
 * SIGINT and SIGTERM run @handler, without SA_RESTART (a blocking call
 * returns EINTR), for the commands that stop cleanly when asked.
 */
void xlmig__cli_on_stop(void (*handler)(int));

/*
 * --codec: "none", "zlib", "zstd", "lz4" (codec.h's table) or "auto";
 * also "false"/"no"/"off" for none and "true"/"yes"/"on" for zstd, as
 * channel-send has always taken.  *codec_r: the canonical name (static).
 */
#define XLMIG__CODEC_RULE "none, zlib, zstd, lz4 or auto"
bool xlmig__cli_codec(const char *what, const char *text,
                      const char **codec_r, char *why, size_t len);

/* --level: -100 to 100 (the codec checks its own range when it opens). */
#define XLMIG__CLI_LEVEL_MAX 100
bool xlmig__cli_level(const char *what, const char *text, int *level_r,
                      char *why, size_t len);

/* --threads: 0 (one per CPU) to 64. */
#define XLMIG__CLI_THREADS_MAX 64
bool xlmig__cli_threads(const char *what, const char *text,
                        unsigned int *threads_r, char *why, size_t len);

/* A whole number, decimal digits only, 0 to @max. */
bool xlmig__cli_uint(const char *text, unsigned long max,
                     unsigned long *v_r);

/*
 * The TLS of a channel the command opens itself (channel-send,
 * channel-listen, sxm-send-data, sxm-receive-data): one of
 *   --tls-cert F --tls-key F --tls-ca F   certificates of the pool CA
 *   --psk-file F                          a pre-shared key (hex)
 *   --no-tls                              plain TCP
 * and --peer-name NAME, the name the peer's certificate must carry.
 * XLMIG__CLI_TLS_OPTIONS are their rows for getopt_long's table;
 * xlmig__cli_tls_opt() takes one that getopt_long returned.
 */
enum {
    XLMIG__OPT_TLS_CERT = 0x1000,
    XLMIG__OPT_TLS_KEY,
    XLMIG__OPT_TLS_CA,
    XLMIG__OPT_PSK_FILE,
    XLMIG__OPT_PEER_NAME,
    XLMIG__OPT_NO_TLS,
};

#define XLMIG__CLI_TLS_OPTIONS \
    { "tls-cert", required_argument, NULL, XLMIG__OPT_TLS_CERT }, \
    { "tls-key", required_argument, NULL, XLMIG__OPT_TLS_KEY }, \
    { "tls-ca", required_argument, NULL, XLMIG__OPT_TLS_CA }, \
    { "psk-file", required_argument, NULL, XLMIG__OPT_PSK_FILE }, \
    { "peer-name", required_argument, NULL, XLMIG__OPT_PEER_NAME }, \
    { "no-tls", no_argument, NULL, XLMIG__OPT_NO_TLS }

/* For the commands' --help (23 columns of options). */
#define XLMIG__CLI_TLS_HELP \
    "  --tls-cert=F --tls-key=F --tls-ca=F  TLS 1.3 with this host's " \
    "certificate,\n" \
    "                       its key and the pool CA\n" \
    "  --psk-file=F         TLS 1.3 with a pre-shared key instead (hex: " \
    "'openssl\n" \
    "                       rand -hex 32')\n" \
    "  --peer-name=NAME     the name the peer's certificate must carry\n" \
    "  --no-tls             plain TCP: only on a trusted network\n"

struct xlmig__cli_tls {
    libxlmig_tls_params p;          /* pointers to argv or to paths[] */
    bool no_tls;
    char paths[3][256];             /* the files found in a default dir */
};

/* Nothing chosen yet. */
void xlmig__cli_tls_init(struct xlmig__cli_tls *t);

/* Take option @opt (with @arg): true when it was one of the TLS ones. */
bool xlmig__cli_tls_opt(struct xlmig__cli_tls *t, int opt, const char *arg);

/*
 * After the options: is the choice whole and one?  With @default_dir
 * (NULL: none) and nothing chosen, DIR/cert.pem, key.pem and ca.pem, or
 * else DIR/psk, when readable.
 */
bool xlmig__cli_tls_check(struct xlmig__cli_tls *t, const char *default_dir,
                          char *why, size_t len);

/* The parameters for xlmig__tcp_transport(): NULL with --no-tls. */
libxlmig_tls_params *xlmig__cli_tls_params(struct xlmig__cli_tls *t,
                                           const char *peer_label);

/*
 * --json of every listing (xlmig-xe's *-list, xlmig pool-stats and
 * sxm-list): one JSON array of objects on @f, one object per record,
 * its keys the field names (as params= selects them), written by yajl's
 * generator.  A field named in @numbers is a JSON number when its text
 * is one (null when empty), one in @flags true or false when its text
 * is; every other value a string.  Both lists NULL-ended, either NULL.
 *
 *   xlmig__cli_json_begin()   the array opened; false when out of memory
 *   xlmig__cli_json_record()  @n fields (pointers into the caller's
 *                             records); false when a value is not UTF-8
 *                             (said on stderr, naming the field)
 *   xlmig__cli_json_end()     the array closed and written, even after
 *                             a failed record (the records before it);
 *                             the generator freed.  Idempotent.
 */
struct xlmig__kv;
struct xlmig__cli_json {
    FILE *f;
    void *g;                    /* yajl_gen; NULL: nothing open */
    const char *const *numbers;
    const char *const *flags;
    size_t nr;                  /* records so far */
};

bool xlmig__cli_json_begin(struct xlmig__cli_json *j, FILE *f,
                           const char *const *numbers,
                           const char *const *flags);
bool xlmig__cli_json_record(struct xlmig__cli_json *j,
                            const struct xlmig__kv *const *fields, size_t n);
void xlmig__cli_json_end(struct xlmig__cli_json *j);

/*
 * One record alone (host-info, pool-stats) as one JSON object on @f,
 * its @n (at most 64) fields typed as above.  False when out of memory
 * or a value is not UTF-8 (said on stderr).
 */
bool xlmig__cli_json_object(FILE *f, const struct xlmig__kv *kv, size_t n,
                            const char *const *numbers,
                            const char *const *flags);

#endif /* XLMIG_CLI_H */

/* SPDX-License-Identifier: LGPL-2.1-only */
/*
 * The grammar of xlmigd.conf (internal; docs/xlmigd.md, "The file's
 * grammar" says the same to users):
 *
 *   - at most XLMIG__CONF_FILE_MAX bytes, no NUL byte; lines end with
 *     LF (a CR before it is dropped; the last line may lack it), each
 *     at most XLMIG__CONF_LINE_MAX bytes before its end;
 *   - blanks are spaces and tabs; no other control byte anywhere;
 *   - a line is blank, a comment ('#' to the end of the line, after
 *     blanks), or an entry "KEY = VALUE" with blanks allowed around the
 *     key, the '=' and the value, and a comment after the value;
 *   - KEY is one of the grammar's keys, each at most once;
 *   - VALUE is bare: it runs to the end of the line or to a comment,
 *     less the blanks before it, and holds no '"' and no '#' (a '#'
 *     right after a non-blank is refused, not taken as a comment); or
 *     quoted: '"', then any bytes but '"', then '"' (no escapes), so
 *     that it may hold '#' and blanks at its ends; never empty.
 *
 * The parser is pure: it takes bytes, calls back for each entry and says
 * what is wrong in a buffer; the file and its name are the caller's.
 */
#ifndef XLMIG_CONFFILE_H
#define XLMIG_CONFFILE_H

#include <stddef.h>

#define XLMIG__CONF_FILE_MAX (64u << 10)
#define XLMIG__CONF_LINE_MAX 1024
#define XLMIG__CONF_KEYS_MAX 32

/* What a file of the grammar holds and who takes it. */
struct xlmig__conf_spec {
    /* The keys a file may hold (each at most once); at most
     * XLMIG__CONF_KEYS_MAX of them. */
    const char *const *keys;
    size_t nkeys;
    /*
     * Called by xlmig__conf_parse() for each entry, in the file's order,
     * with the index of its key and its value (1 to XLMIG__CONF_LINE_MAX
     * bytes, quotes removed, no control byte).  Returns 0 to take it, or
     * an error code with @why saying what is wrong, naming the key,
     * without the file or the line (the caller adds them).
     */
    int (*take)(void *opaque, size_t key, const char *value, char *why,
                size_t why_len);
};

/*
 * Parse @len bytes of @text (any bytes) by @spec, each entry handed to
 * @spec->take with @opaque.  @lines (@spec->nkeys of them) receives the
 * line of each key, 0 for a key absent.  0, or
 * LIBXLMIG_ERR_INVALID_ARGUMENT (or the code take returned) with
 * *@line_r the line at fault (0: the file as a whole) and @why (@why_len
 * bytes) saying what is wrong.  Stops at the first error; logs nothing.
 */
int xlmig__conf_parse(const struct xlmig__conf_spec *spec, void *opaque,
                      const char *text, size_t len, unsigned *lines,
                      unsigned *line_r, char *why, size_t why_len);

#endif /* XLMIG_CONFFILE_H */

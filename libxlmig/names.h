/* SPDX-License-Identifier: LGPL-2.1-only */
/*
 * Names (internal): of hosts, VMs, pools, SRs, VDIs and CPU records, as
 * the tools take them and the records keep them, and the words of the
 * same bytes (phases, versions).  The one home of their rule.
 */
#ifndef XLMIG_NAMES_H
#define XLMIG_NAMES_H

#include <stdbool.h>
#include <stddef.h>

#include "libxlmig.h"

/* Bytes of a name, without the NUL. */
#define XLMIG__NAME_MAX 64

/* What xlmig__name_ok() asks for, for error messages. */
#define XLMIG__NAME_RULE \
    "a name is 1 to 64 bytes of A-Z, a-z, 0-9, '.', '_' and '-', not " \
    "starting with '.' or '-'"

/*
 * The first checks of a text field: given, not empty, at most @max
 * bytes (*n_r its length).  When not, @why (@len bytes) says which and
 * *at_r the offset to quote around.
 */
bool xlmig__text_len_ok(const char *s, size_t max, size_t *n_r, char *why,
                        size_t len, size_t *at_r);

/* A byte of a name or word: [A-Za-z0-9._-]. */
bool xlmig__name_byte_ok(char c);

/*
 * Whether @s is 1 to @max name bytes (and, when @strict, does not
 * start with '.' or '-'); when not, @why (@len bytes) says what is
 * wrong and *at_r the offset to quote around.
 */
bool xlmig__word_ok(const char *s, size_t max, bool strict, char *why,
                    size_t len, size_t *at_r);

/* A name: xlmig__word_ok() of XLMIG__NAME_MAX, strict; NULL is not. */
bool xlmig__name_ok(const char *s, char *why, size_t len, size_t *at_r);

/*
 * 0 when @name is a name, else LIBXLMIG_ERR_INVALID_ARGUMENT with
 * '@what "NAME" is not a valid name: WHY; RULE' (logged when @ctx).
 */
int xlmig__name_check(libxlmig_ctx *ctx, const char *what, const char *name);

#endif /* XLMIG_NAMES_H */

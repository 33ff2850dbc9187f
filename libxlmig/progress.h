/* SPDX-License-Identifier: LGPL-2.1-only */
/*
 * Progress as the command-line tools show it (internal): on a terminal,
 * one line redrawn in place with a bar; elsewhere (a log, a pipe),
 * plain lines, one per phase and per 10 percent, so that a log reads
 * like a story.  NULL-safe nowhere: callers own the struct.
 */
#ifndef XLMIG_PROGRESS_H
#define XLMIG_PROGRESS_H

#include <stdbool.h>
#include <stdio.h>

struct xlmig__progress {
    FILE *f;
    const char *label;          /* "vm-migrate" */
    bool tty;                   /* redraw in place */
    bool quiet;                 /* show nothing */
    bool drawn;                 /* a line is open on the terminal */
    char phase[32];
    unsigned int pct, line_pct;
    double t0;
};

void xlmig__progress_init(struct xlmig__progress *p, FILE *f,
                          const char *label, bool quiet);
/* The task is in @phase at @pct percent (0 to 100). */
void xlmig__progress_show(struct xlmig__progress *p, const char *phase,
                          unsigned int pct);
/* Close the line on a terminal; nothing otherwise. */
void xlmig__progress_end(struct xlmig__progress *p);

#endif /* XLMIG_PROGRESS_H */

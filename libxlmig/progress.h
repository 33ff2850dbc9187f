/* SPDX-License-Identifier: LGPL-2.1-only */
/*
 * Progress as the command-line tools show it (internal), always on the
 * FILE the caller gives (standard error in every tool): on a terminal,
 * one line redrawn in place with a bar; elsewhere (a log, a pipe),
 * plain lines, one per phase and per 10 percent, so that a log reads
 * like a story.  Every tool's progress goes through here: a task with
 * a percent (xlmig__progress_show), a transfer in bytes
 * (xlmig__progress_bytes), several tasks at once (xlmig__progress_task)
 * and the last word (xlmig__progress_say).  Not thread-safe: a caller
 * with threads holds its own lock.  NULL-safe nowhere: callers own the
 * struct.
 */
#ifndef XLMIG_PROGRESS_H
#define XLMIG_PROGRESS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "internal.h"

struct xlmig__progress {
    FILE *f;
    const char *label;          /* "vm-migrate" */
    bool tty;                   /* redraw in place */
    bool quiet;                 /* show nothing */
    bool drawn;                 /* a line is open on the terminal */
    char phase[32];
    unsigned int pct, line_pct;
    double t0;
    double every;               /* without a total: a plain line at most
                                   this often (s); default 10 */
    double last_line;           /* when the last plain line was */
};

/* @tty from isatty(@f); t0 now. */
void xlmig__progress_init(struct xlmig__progress *p, FILE *f,
                          const char *label, bool quiet);

/* The task is in @phase at @pct percent (0 to 100). */
void xlmig__progress_show(struct xlmig__progress *p, const char *phase,
                          unsigned int pct);

/*
 * A transfer in @phase: @done of @total bytes (@total 0: not known), at
 * @rate bytes/s (0: not shown), then @detail (NULL: nothing).  Plain
 * lines: "LABEL: PHASE DONE/TOTAL (P%), RATE/s, DETAIL (T s)", one per
 * phase and per 10 percent; without a total, one per phase and then at
 * most one per p->every seconds.
 */
void xlmig__progress_bytes(struct xlmig__progress *p, const char *phase,
                           uint64_t done, uint64_t total, uint64_t rate,
                           const char *detail);

/*
 * Several tasks at once (host-evacuate, vm-migrate of a list): the
 * caller calls it when @task's phase changes; one plain line "LABEL:
 * TASK: PHASE PCT% (T s)" also on a terminal, where bars of several
 * tasks would overwrite each other.
 */
void xlmig__progress_task(struct xlmig__progress *p, const char *task,
                          const char *phase, unsigned int pct);

/* A line of its own, "LABEL: TEXT", after closing a bar (a summary). */
void xlmig__progress_say(struct xlmig__progress *p, const char *fmt, ...)
    XLMIG__PRINTF(2, 3);

/* Close the line on a terminal; nothing otherwise. */
void xlmig__progress_end(struct xlmig__progress *p);

/* @v bytes as "12.3 MiB" into @buf (B, KiB, MiB, GiB, TiB). */
void xlmig__progress_human(char *buf, size_t len, double v);

#endif /* XLMIG_PROGRESS_H */

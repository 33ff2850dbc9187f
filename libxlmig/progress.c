/* SPDX-License-Identifier: LGPL-2.1-only */
/*
 * Progress lines of the command-line tools (progress.h).
 */
#include <string.h>
#include <unistd.h>

#include "internal.h"
#include "proc.h"
#include "progress.h"

#define BAR 30

void xlmig__progress_init(struct xlmig__progress *p, FILE *f,
                          const char *label, bool quiet)
{
    memset(p, 0, sizeof(*p));
    p->f = f;
    p->label = label;
    p->quiet = quiet;
    p->tty = isatty(fileno(f)) == 1;
    p->t0 = xlmig__now_s();
    p->line_pct = 0;
}

void xlmig__progress_show(struct xlmig__progress *p, const char *phase,
                          unsigned int pct)
{
    bool new_phase = strcmp(p->phase, phase) != 0;
    double t = xlmig__now_s() - p->t0;

    if (pct > 100)
        pct = 100;
    if (p->quiet || (!new_phase && pct == p->pct && p->drawn))
        return;
    if (p->tty) {
        char bar[BAR + 1];
        unsigned int i, full = pct * BAR / 100;

        for (i = 0; i < BAR; i++)
            bar[i] = i < full ? '#' : '.';
        bar[BAR] = '\0';
        fprintf(p->f, "\r%s: [%s] %3u%% %-10s %6.1fs", p->label, bar, pct,
                phase, t);
        p->drawn = true;
    } else if (new_phase || pct >= p->line_pct + 10 || pct == 100) {
        fprintf(p->f, "%s: %s %u%% (%.1f s)\n", p->label, phase, pct, t);
        p->line_pct = pct - pct % 10;
        p->drawn = true;
    }
    fflush(p->f);
    xlmig__strlcpy(p->phase, phase, sizeof(p->phase));
    p->pct = pct;
}

void xlmig__progress_end(struct xlmig__progress *p)
{
    if (p->tty && p->drawn && !p->quiet) {
        fputc('\n', p->f);
        fflush(p->f);
    }
    p->drawn = false;
}

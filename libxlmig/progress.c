/* SPDX-License-Identifier: LGPL-2.1-only */
/*
 * Progress lines of the command-line tools (progress.h).
 */
#include <inttypes.h>
#include <stdarg.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"
#include "proc.h"
#include "progress.h"

#define BAR 30
#define STEP 10                 /* percent between plain lines */
#define EVERY_S 10.0            /* plain lines without a total */

void xlmig__progress_init(struct xlmig__progress *p, FILE *f,
                          const char *label, bool quiet)
{
    memset(p, 0, sizeof(*p));
    p->f = f;
    p->label = label;
    p->quiet = quiet;
    p->tty = isatty(fileno(f)) == 1;
    p->t0 = xlmig__now_s();
    p->every = EVERY_S;
    p->line_pct = 0;
}

void xlmig__progress_human(char *buf, size_t len, double v)
{
    static const char *const unit[] = { "B", "KiB", "MiB", "GiB", "TiB" };
    unsigned int u = 0;

    while (v >= 1024 && u < 4) {
        v /= 1024;
        u++;
    }
    snprintf(buf, len, "%.1f %s", v, unit[u]);
}

static void bar(char *out, unsigned int pct)
{
    unsigned int i, full = pct * BAR / 100;

    for (i = 0; i < BAR; i++)
        out[i] = i < full ? '#' : '.';
    out[BAR] = '\0';
}

/*
 * Is a plain line due for @phase at @pct (@known: there is a percent)?
 * Marks it said when it is.
 */
static bool line_due(struct xlmig__progress *p, bool new_phase, bool known,
                     unsigned int pct, double t)
{
    bool due;

    if (known)
        due = new_phase || pct >= p->line_pct + STEP ||
              (pct == 100 && p->pct != 100);
    else
        due = new_phase || t - p->last_line >= p->every;
    if (due) {
        p->line_pct = pct - pct % STEP;
        p->last_line = t;
    }
    return due;
}

static void remember(struct xlmig__progress *p, const char *phase,
                     unsigned int pct)
{
    fflush(p->f);
    xlmig__strlcpy(p->phase, phase, sizeof(p->phase));
    p->pct = pct;
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
        char b[BAR + 1];

        bar(b, pct);
        fprintf(p->f, "\r%s: [%s] %3u%% %-10s %6.1fs", p->label, b, pct,
                phase, t);
        p->drawn = true;
    } else if (line_due(p, new_phase, true, pct, t)) {
        fprintf(p->f, "%s: %s %u%% (%.1f s)\n", p->label, phase, pct, t);
        p->drawn = true;
    }
    remember(p, phase, pct);
}

void xlmig__progress_bytes(struct xlmig__progress *p, const char *phase,
                           uint64_t done, uint64_t total, uint64_t rate,
                           const char *detail)
{
    bool new_phase = strcmp(p->phase, phase) != 0;
    double t = xlmig__now_s() - p->t0;
    unsigned int pct = 0;
    char d[32], tot[48], r[48];

    if (p->quiet)
        return;
    if (total)
        pct = done >= total ? 100
                            : (unsigned int)((double)done * 100 /
                                             (double)total);
    xlmig__progress_human(d, sizeof(d), (double)done);
    tot[0] = r[0] = '\0';
    if (total) {
        char h[32];

        xlmig__progress_human(h, sizeof(h), (double)total);
        snprintf(tot, sizeof(tot), "/%s (%u%%)", h, pct);
    }
    if (rate) {
        char h[32];

        xlmig__progress_human(h, sizeof(h), (double)rate);
        snprintf(r, sizeof(r), ", %s/s", h);
    }
    if (p->tty) {
        char b[BAR + 1];

        if (total) {
            bar(b, pct);
            fprintf(p->f, "\r%s: [%s] %-10s %s%s%s%s%s %.1fs\033[K", p->label,
                    b, phase, d, tot, r, detail ? ", " : "",
                    detail ? detail : "", t);
        } else {
            fprintf(p->f, "\r%s: %s %s%s%s%s %.1fs\033[K", p->label, phase,
                    d, r, detail ? ", " : "", detail ? detail : "", t);
        }
        p->drawn = true;
    } else if (line_due(p, new_phase, total != 0, pct, t)) {
        fprintf(p->f, "%s: %s %s%s%s%s%s (%.1f s)\n", p->label, phase, d, tot,
                r, detail ? ", " : "", detail ? detail : "", t);
        p->drawn = true;
    }
    remember(p, phase, pct);
}

void xlmig__progress_task(struct xlmig__progress *p, const char *task,
                          const char *phase, unsigned int pct)
{
    if (p->quiet)
        return;
    xlmig__progress_end(p);
    fprintf(p->f, "%s: %s: %s %u%% (%.1f s)\n", p->label, task, phase,
            pct > 100 ? 100 : pct, xlmig__now_s() - p->t0);
    fflush(p->f);
}

void xlmig__progress_say(struct xlmig__progress *p, const char *fmt, ...)
{
    va_list ap;

    if (p->quiet)
        return;
    xlmig__progress_end(p);
    fprintf(p->f, "%s: ", p->label);
    va_start(ap, fmt);
    vfprintf(p->f, fmt, ap);
    va_end(ap);
    fputc('\n', p->f);
    fflush(p->f);
}

void xlmig__progress_end(struct xlmig__progress *p)
{
    if (p->tty && p->drawn && !p->quiet) {
        fputc('\n', p->f);
        fflush(p->f);
    }
    p->drawn = false;
}

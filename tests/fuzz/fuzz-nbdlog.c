/* SPDX-License-Identifier: LGPL-2.1-only */
/*
 * Fuzz target for the log of tests/tools/nbd-writer.c (the guest writer
 * of the storage migration tests): its line reader nw_read_line() and
 * line parser nw_line_parse(), compiled alone with NBD_WRITER_NO_MAIN.
 * A log is written by nbd-writer but read back by replay and verify
 * after tests that may have damaged it, so the bytes are not trusted.
 *
 * The input is a log, taken a line at a time (each line, with its
 * newline if it has one, read back through fmemopen()):
 *
 *   - the reader returns the line exactly when it has a newline, at most
 *     NW_LINE_MAX - 1 bytes and no NUL, then end of file; otherwise it
 *     refuses it with a reason;
 *   - the parser (given each line's text up to a NUL, whatever its
 *     length) agrees with a separate reading of the format: four
 *     decimals below 2^64 and 16 lowercase hex digits, single spaces, a
 *     LENGTH of 1..NW_IO_MAX; what it accepts prints back in the writer's
 *     format in under NW_LINE_MAX bytes and parses again to the same
 *     fields, and to the same text when the line had no leading zeros;
 *   - the lines are replayed, as nw_apply_log() does (it is compiled out
 *     here), into a disk of DISK_SIZE bytes, stopping at the first bad
 *     line: the size check used there must agree with a 128-bit sum, a
 *     SEQ must follow the line before, the data must hash to HASH; the
 *     disk is an exact-size buffer, so ASan sees a write past its end.
 */
#define NBD_WRITER_NO_MAIN
#include "../tools/nbd-writer.c"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define DISK_SIZE (1u << 20)
#define TEXT_MAX 8192u          /* run-fuzzers.sh's -max_len */

struct replay {
    uint8_t *disk, *buf;        /* DISK_SIZE bytes each */
    struct nw_line prev;
    bool have_prev, stopped;
};

/*
 * A decimal field at *pp (digits only, below 2^64), read without
 * nw_digits(); *lead_r set when it has a redundant leading zero.
 */
static bool ref_decimal(const char **pp, uint64_t *v_r, bool *lead_r)
{
    static const char max[] = "18446744073709551615";
    const char *p = *pp, *q;
    size_t n;
    uint64_t v = 0;

    for (q = p; *q >= '0' && *q <= '9'; q++)
        ;
    if (q == p)
        return false;
    if (q - p > 1 && *p == '0')
        *lead_r = true;
    while (q - p > 1 && *p == '0')
        p++;
    n = (size_t)(q - p);
    if (n > sizeof(max) - 1 ||
        (n == sizeof(max) - 1 && memcmp(p, max, n) > 0))
        return false;
    for (; p < q; p++)
        v = v * 10 + (uint64_t)(*p - '0');
    *pp = q;
    *v_r = v;
    return true;
}

/* The format, read another way: true and @l for a valid line. */
static bool ref_parse(const char *s, struct nw_line *l, bool *canonical_r)
{
    uint64_t *fields[] = { &l->seed, &l->seq, &l->off, &l->len };
    bool lead = false;
    unsigned int i;
    int x;

    for (i = 0; i < 4; i++) {
        if (!ref_decimal(&s, fields[i], &lead) || *s++ != ' ')
            return false;
    }
    l->hash = 0;
    for (i = 0; i < 16; i++) {
        x = s[i] >= '0' && s[i] <= '9'   ? s[i] - '0'
            : s[i] >= 'a' && s[i] <= 'f' ? s[i] - 'a' + 10
                                         : -1;
        if (x < 0)
            return false;
        l->hash = l->hash * 16 + (uint64_t)x;
    }
    if (s[16] != '\0' || l->len < 1 || l->len > NW_IO_MAX)
        return false;
    *canonical_r = !lead;
    return true;
}

static bool same(const struct nw_line *a, const struct nw_line *b)
{
    return a->seed == b->seed && a->seq == b->seq && a->off == b->off &&
           a->len == b->len && a->hash == b->hash;
}

/* The parser on @text against ref_parse(); true and @l if accepted. */
static bool check_parse(const char *text, struct nw_line *l)
{
    char why[160], again[NW_LINE_MAX + 64];
    struct nw_line ref, back;
    bool canonical = false, ok;
    int n;

    memset(l, 0xa5, sizeof(*l));
    memset(&ref, 0x5a, sizeof(ref));
    why[0] = '\0';
    ok = nw_line_parse(text, l, why, sizeof(why)) == 0;
    if (ok != ref_parse(text, &ref, &canonical))
        abort();
    if (!ok) {
        if (!why[0] || !memchr(why, '\0', sizeof(why)))
            abort();            /* a refusal must say why */
        return false;
    }
    if (!same(l, &ref) || l->len < 1 || l->len > NW_IO_MAX)
        abort();
    /* The writer's format (nw_writer_put()). */
    n = snprintf(again, sizeof(again),
                 "%" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRIu64 " %016" PRIx64,
                 l->seed, l->seq, l->off, l->len, l->hash);
    if (n < 0 || (size_t)n >= NW_LINE_MAX ||
        nw_line_parse(again, &back, why, sizeof(why)) || !same(l, &back) ||
        canonical != !strcmp(again, text))
        abort();
    return true;
}

/*
 * nw_read_line() on @seg (@len > 0 bytes: a line and its newline, or
 * the last bytes of the log without one).  1 and the text in @line, or
 * -1 (refused, rightly).
 */
static int check_read(const uint8_t *seg, size_t len, char *line)
{
    bool nl = seg[len - 1] == '\n';
    size_t tlen = nl ? len - 1 : len;
    bool good = nl && tlen < NW_LINE_MAX && !memchr(seg, '\0', tlen);
    char why[160] = "";
    FILE *f;
    int r;

    f = fmemopen((void *)(uintptr_t)seg, len, "r");
    if (!f)
        abort();
    r = nw_read_line(f, line, NW_LINE_MAX, why, sizeof(why));
    if (good) {
        if (r != 1 || strlen(line) != tlen || memcmp(line, seg, tlen))
            abort();
        r = nw_read_line(f, line + NW_LINE_MAX, NW_LINE_MAX, why,
                         sizeof(why));
        if (r != 0)
            abort();            /* nothing after the newline */
        r = 1;
    } else if (r != -1 || !why[0]) {
        abort();
    }
    fclose(f);
    return r;
}

/* nw_apply_log()'s checks and write for one line. */
static void replay_line(struct replay *rp, const struct nw_line *l)
{
    bool past, past_big;
    uint64_t big = (uint64_t)INT64_MAX; /* replay's largest --size */

    /* The expression of nw_apply_log(), against plain arithmetic. */
    past = l->len > DISK_SIZE || l->off > DISK_SIZE - l->len;
    if (past != ((unsigned __int128)l->off + l->len > DISK_SIZE))
        abort();
    past_big = l->len > big || l->off > big - l->len;
    if (past_big != ((unsigned __int128)l->off + l->len > big))
        abort();
    if (past ||
        (l->seq != 0 && !(rp->have_prev && rp->prev.seed == l->seed &&
                          rp->prev.seq + 1 == l->seq))) {
        rp->stopped = true;
        return;
    }
    nw_content(l->seed, l->seq, rp->buf, (size_t)l->len);
    if (nw_hash(rp->buf, (size_t)l->len) != l->hash) {
        rp->stopped = true;     /* corrupt: refused */
        return;
    }
    memcpy(rp->disk + l->off, rp->buf, (size_t)l->len);
    if (nw_hash(rp->disk + l->off, (size_t)l->len) != l->hash)
        abort();
    rp->prev = *l;
    rp->have_prev = true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char line[2 * NW_LINE_MAX], text[TEXT_MAX + 1];
    static uint8_t *disk, *buf;  /* allocated once, exactly DISK_SIZE */
    struct replay rp = { 0 };
    struct nw_line l;
    const uint8_t *nl;
    size_t pos, len, tlen;
    bool parsed;
    int r;

    if (!disk)
        disk = malloc(DISK_SIZE);
    if (!buf)
        buf = malloc(DISK_SIZE);
    if (!disk || !buf)
        return 0;
    rp.disk = disk;
    rp.buf = buf;
    for (pos = 0; pos < size; pos += len) {
        nl = memchr(data + pos, '\n', size - pos);
        len = nl ? (size_t)(nl - (data + pos)) + 1 : size - pos;

        r = check_read(data + pos, len, line);
        /* The parser also gets what the reader refuses. */
        tlen = len - (data[pos + len - 1] == '\n');
        if (tlen > TEXT_MAX)
            tlen = TEXT_MAX;
        memcpy(text, data + pos, tlen);
        text[tlen] = '\0';
        parsed = check_parse(text, &l);
        if (r == 1 && strcmp(line, text))
            abort();
        if (rp.stopped)
            continue;
        if (r != 1 || !parsed)
            rp.stopped = true;  /* replay refuses the log here */
        else
            replay_line(&rp, &l);
    }
    return 0;
}

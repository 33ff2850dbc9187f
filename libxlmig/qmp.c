/* SPDX-License-Identifier: LGPL-2.1-only */
/*
 * The QMP client (qmp.h, docs/specs/qmp-client.md).
 *
 * Lines are read into one buffer that grows up to XLMIG__QMP_LINE_MAX
 * plus the line end, never further: a line without its newline by then
 * is refused before anything bigger is allocated.  Each line goes
 * through jsonfile's two passes (xlmig__json_tree) and is classified by
 * xlmig__qmp_decode(), which is pure and fuzzed.  Commands are built
 * with yajl_gen; the call closes the arguments, adds the id and checks
 * the whole text by decoding it once before it is sent.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"
#include "jsonfile.h"
#include "proc.h"
#include "qmp.h"
#include "rpc.h"

/* The parsers' helpers (jsonfile.h), by their short names. */
#define say xlmig__say
#define find xlmig__json_find

#define DEFAULT_TIMEOUT_MS 30000u
#define BUF_START 65536u
#define BUF_MAX (XLMIG__QMP_LINE_MAX + 2u)   /* the line and "\r\n" */
#define ID_PREFIX "xlmig-"
#define CONNECT_RETRY_MS 20u          /* a full backlog: connect again */
#define QMP_STALE_MAX 64             /* messages skipped before a greeting */

/* ------------------------------------------------------------ decoding */

static const struct xlmig__json_kind line_kind = {
    .what = "QMP line",
    .a_what = "a QMP line",
    .invalid_rc = LIBXLMIG_ERR_PROTOCOL,
    .max_bytes = XLMIG__QMP_LINE_MAX,
    .depth_max = XLMIG__QMP_DEPTH_MAX,
};

const char *xlmig__qmp_get_str(yajl_val obj, const char *key)
{
    yajl_val v = key ? find(obj, key) : NULL;

    return YAJL_IS_STRING(v) ? v->u.string : NULL;
}

/*
 * Copy text from QEMU (valid UTF-8: yajl checked it) into @out of @cap
 * bytes for our messages: C0 controls and DEL as '?', C1 controls (two
 * bytes) as "??", cut at a character boundary.
 */
static void copy_safe(const char *s, char *out, size_t cap)
{
    size_t n = strlen(s), i;

    if (n > cap - 1) {
        n = cap - 1;
        while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
            n--;
    }
    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];

        if (c == 0xc2 && i + 1 < n && (unsigned char)s[i + 1] <= 0x9f) {
            out[i] = out[i + 1] = '?';
            i++;
            continue;
        }
        out[i] = c < 0x20 || c == 0x7f ? '?' : (char)c;
    }
    out[n] = '\0';
}

/* An integer member 0..UINT_MAX of @obj; false when absent or not one. */
static bool get_uint(yajl_val obj, const char *key, unsigned int *v)
{
    yajl_val m = find(obj, key);

    if (!YAJL_IS_INTEGER(m) || YAJL_GET_INTEGER(m) < 0 ||
        YAJL_GET_INTEGER(m) > UINT_MAX)
        return false;
    *v = (unsigned int)YAJL_GET_INTEGER(m);
    return true;
}

static int decode_greeting(yajl_val qmp, struct xlmig__qmp_msg *m, char *why,
                           size_t why_len)
{
    yajl_val version, qemu, caps;

    if (!YAJL_IS_OBJECT(qmp)) {
        say(why, why_len, "member \"QMP\" of the greeting is %s, not an "
            "object", xlmig__json_type_name(qmp));
        return LIBXLMIG_ERR_PROTOCOL;
    }
    caps = find(qmp, "capabilities");
    if (!YAJL_IS_ARRAY(caps)) {
        say(why, why_len, "the greeting has no \"capabilities\" array");
        return LIBXLMIG_ERR_PROTOCOL;
    }
    version = find(qmp, "version");
    if (!YAJL_IS_OBJECT(version)) {
        say(why, why_len, "the greeting has no \"version\" object");
        return LIBXLMIG_ERR_PROTOCOL;
    }
    qemu = find(version, "qemu");
    if (qemu && (!get_uint(qemu, "major", &m->major) ||
                 !get_uint(qemu, "minor", &m->minor) ||
                 !get_uint(qemu, "micro", &m->micro))) {
        m->major = m->minor = m->micro = 0;
        say(why, why_len, "the greeting's version.qemu lacks an integer "
            "major, minor or micro");
        return LIBXLMIG_ERR_PROTOCOL;
    }
    m->value = qmp;
    return 0;
}

static int decode_error(yajl_val err, struct xlmig__qmp_msg *m, char *why,
                        size_t why_len)
{
    const char *cls = xlmig__qmp_get_str(err, "class");
    const char *desc = xlmig__qmp_get_str(err, "desc");

    if (!YAJL_IS_OBJECT(err)) {
        say(why, why_len, "member \"error\" is %s, not an object",
            xlmig__json_type_name(err));
        return LIBXLMIG_ERR_PROTOCOL;
    }
    if (!cls || !cls[0] || !desc) {
        say(why, why_len, "an error lacks its string \"%s\"",
            !cls || !cls[0] ? "class" : "desc");
        return LIBXLMIG_ERR_PROTOCOL;
    }
    copy_safe(cls, m->err_class, sizeof(m->err_class));
    copy_safe(desc, m->err_desc, sizeof(m->err_desc));
    m->value = err;
    return 0;
}

static int decode_event(yajl_val name, yajl_val root,
                        struct xlmig__qmp_msg *m, char *why, size_t why_len)
{
    yajl_val data = find(root, "data"), ts = find(root, "timestamp");

    if (!YAJL_IS_STRING(name) || !name->u.string[0]) {
        say(why, why_len, "an event's name is %s, not a non-empty string",
            YAJL_IS_STRING(name) ? "empty" : xlmig__json_type_name(name));
        return LIBXLMIG_ERR_PROTOCOL;
    }
    if (data && !YAJL_IS_OBJECT(data)) {
        say(why, why_len, "the data of event %.64s is %s, not an object",
            name->u.string, xlmig__json_type_name(data));
        return LIBXLMIG_ERR_PROTOCOL;
    }
    if (ts) {
        yajl_val s = find(ts, "seconds"), us = find(ts, "microseconds");

        if (!YAJL_IS_INTEGER(s) || !YAJL_IS_INTEGER(us)) {
            say(why, why_len, "the timestamp of event %.64s lacks integer "
                "seconds and microseconds", name->u.string);
            return LIBXLMIG_ERR_PROTOCOL;
        }
        m->ts_seconds = YAJL_GET_INTEGER(s);
        m->ts_microseconds = YAJL_GET_INTEGER(us);
    }
    copy_safe(name->u.string, m->event, sizeof(m->event));
    m->value = data;
    return 0;
}

static int decode_root(yajl_val root, struct xlmig__qmp_msg *m, char *why,
                       size_t why_len)
{
    static const char *const kinds[] = { "QMP", "return", "error", "event" };
    const char *kind = NULL;
    yajl_val kind_val = NULL, id;
    size_t i;

    if (!YAJL_IS_OBJECT(root)) {
        say(why, why_len, "the line is %s, not a JSON object",
            xlmig__json_type_name(root));
        return LIBXLMIG_ERR_PROTOCOL;
    }
    for (i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
        yajl_val k = find(root, kinds[i]);

        if (!k)
            continue;
        if (kind) {
            say(why, why_len, "the line has both \"%s\" and \"%s\"", kind,
                kinds[i]);
            return LIBXLMIG_ERR_PROTOCOL;
        }
        kind = kinds[i];
        kind_val = k;
    }
    if (!kind) {
        say(why, why_len, "the line has none of \"QMP\", \"return\", "
            "\"error\" and \"event\"");
        return LIBXLMIG_ERR_PROTOCOL;
    }
    if (!strcmp(kind, "QMP")) {
        m->kind = XLMIG__QMP_GREETING;
        return decode_greeting(kind_val, m, why, why_len);
    }
    if (!strcmp(kind, "event")) {
        m->kind = XLMIG__QMP_EVENT;
        return decode_event(kind_val, root, m, why, why_len);
    }
    id = find(root, "id");
    if (id) {
        if (!YAJL_IS_STRING(id)) {
            say(why, why_len, "member \"id\" is %s; ours are strings",
                xlmig__json_type_name(id));
            return LIBXLMIG_ERR_PROTOCOL;
        }
        m->has_id = true;
        copy_safe(id->u.string, m->id, sizeof(m->id));
    }
    if (!strcmp(kind, "return")) {
        m->kind = XLMIG__QMP_RETURN;
        m->value = kind_val;
        return 0;
    }
    m->kind = XLMIG__QMP_ERROR;
    return decode_error(kind_val, m, why, why_len);
}

int xlmig__qmp_decode(const char *line, size_t len, struct xlmig__qmp_msg *m,
                      char *why, size_t why_len)
{
    yajl_val root = NULL;
    int rc;

    say(why, why_len, "%s", "");
    if (!m || !line) {
        say(why, why_len, "no line or no message to decode into");
        if (m)
            memset(m, 0, sizeof(*m));
        return LIBXLMIG_ERR_INVALID_ARGUMENT;
    }
    memset(m, 0, sizeof(*m));
    if (len && line[len - 1] == '\n')
        len--;
    if (len && line[len - 1] == '\r')
        len--;
    if (len == 0) {
        say(why, why_len, "the line is empty");
        return LIBXLMIG_ERR_PROTOCOL;
    }
    if (len > XLMIG__QMP_LINE_MAX) {
        say(why, why_len, "the line has %zu bytes, more than the %u a QMP "
            "line may have", len, XLMIG__QMP_LINE_MAX);
        return LIBXLMIG_ERR_PROTOCOL;
    }
    rc = xlmig__json_tree(&line_kind, (const uint8_t *)line, len, &root, why,
                          why_len);
    if (rc)
        goto out;
    rc = decode_root(root, m, why, why_len);
    if (rc)
        goto out;
    m->root = root;
    root = NULL;                /* m owns it now */
 out:
    if (rc) {
        memset(m, 0, sizeof(*m));
        yajl_tree_free(root);
    }
    return rc;
}

void xlmig__qmp_msg_dispose(struct xlmig__qmp_msg *m)
{
    if (!m)
        return;
    yajl_tree_free(m->root);
    memset(m, 0, sizeof(*m));
}

yajl_val xlmig__qmp_msg_take(struct xlmig__qmp_msg *m, yajl_val v)
{
    size_t i;

    if (!m || !v || !m->root)
        return NULL;
    if (v == m->root) {
        m->root = NULL;         /* the caller owns it now */
        m->value = NULL;
        return v;
    }
    if (!YAJL_IS_OBJECT(m->root))
        return NULL;
    for (i = 0; i < m->root->u.object.len; i++) {
        if (m->root->u.object.values[i] == v) {
            /* yajl_tree_free() skips a NULL value. */
            m->root->u.object.values[i] = NULL;
            if (m->value == v)
                m->value = NULL;
            return v;           /* the caller owns it now */
        }
    }
    return NULL;
}

/* ------------------------------------------------------------ client */

struct xlmig__qmp {
    libxlmig_ctx *ctx;
    int fd;
    char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
    unsigned int timeout_ms;
    uint64_t last_id;           /* of the last command sent */
    char *buf;                  /* bytes read, not yet taken as lines */
    size_t buf_len, buf_cap;
    yajl_val events[XLMIG__QMP_EVENTS_MAX];     /* oldest first */
    size_t nr_events;
    uint64_t dropped;
    unsigned int major, minor, micro;
    int dead_rc;                /* 0, or why the connection is unusable */
    char dead_why[512];
};

static uint64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* Mark @q dead with @rc and say so once, naming the socket. */
static int die(struct xlmig__qmp *q, int rc, int errnoval, const char *fmt,
               ...) XLMIG__PRINTF(4, 5);
static int die(struct xlmig__qmp *q, int rc, int errnoval, const char *fmt,
               ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(q->dead_why, sizeof(q->dead_why), fmt, ap);
    va_end(ap);
    q->dead_rc = rc;
    return xlmig__error(q->ctx, rc, errnoval, "QMP socket %s: %s", q->path,
                        q->dead_why);
}

static int dead_error(struct xlmig__qmp *q, const char *doing)
{
    return xlmig__error(q->ctx, q->dead_rc, -1, "QMP socket %s: cannot %s: "
                        "the connection is unusable since: %s", q->path,
                        doing, q->dead_why);
}

/*
 * Wait until @fd is ready for @events or @deadline (ms, CLOCK_MONOTONIC)
 * passes.  0 ready, 1 timed out, or -errno.
 */
static int wait_fd(int fd, short events, uint64_t deadline)
{
    for (;;) {
        struct pollfd p = { .fd = fd, .events = events };
        uint64_t now = now_ms();
        int r;

        if (now >= deadline)
            return 1;
        r = poll(&p, 1, deadline - now > INT_MAX ? INT_MAX
                                                 : (int)(deadline - now));
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return -errno;
        if (r > 0)
            return 0;
    }
}

/*
 * Read the next line into a malloc'd *line_r (NUL-ended, without its
 * "\n"; the caller frees it) of *len_r bytes.  @waiting names what we
 * wait for, for messages.  TIMEOUT leaves @q usable; IO and PROTOCOL
 * kill it.
 */
static int read_line(struct xlmig__qmp *q, uint64_t deadline,
                     const char *waiting, char **line_r, size_t *len_r)
{
    for (;;) {
        char *nl = q->buf_len ? memchr(q->buf, '\n', q->buf_len) : NULL;
        ssize_t r;
        int w;

        if (nl) {
            size_t n = (size_t)(nl - q->buf);
            char *line = malloc(n + 1);

            if (!line)
                return xlmig__error(q->ctx, LIBXLMIG_ERR_NO_MEMORY, -1,
                                    "QMP socket %s: no memory for a line "
                                    "of %zu bytes", q->path, n);
            memcpy(line, q->buf, n);
            line[n] = '\0';
            q->buf_len -= n + 1;
            memmove(q->buf, nl + 1, q->buf_len);
            *line_r = line;     /* the caller frees it */
            *len_r = n;
            return 0;
        }
        if (q->buf_len >= BUF_MAX)
            return die(q, LIBXLMIG_ERR_PROTOCOL, -1,
                       "QEMU sent a line longer than the %u bytes a QMP "
                       "line may have, while we waited for %s", BUF_MAX - 2,
                       waiting);
        if (q->buf_len == q->buf_cap) {
            size_t cap = q->buf_cap ? q->buf_cap * 2 : BUF_START;
            char *nb;

            if (cap > BUF_MAX)
                cap = BUF_MAX;
            nb = realloc(q->buf, cap);
            if (!nb)
                return xlmig__error(q->ctx, LIBXLMIG_ERR_NO_MEMORY, -1,
                                    "QMP socket %s: no memory for %zu "
                                    "bytes of a line", q->path, cap);
            q->buf = nb;
            q->buf_cap = cap;
        }
        w = wait_fd(q->fd, POLLIN, deadline);
        if (w == 1)
            return xlmig__error(q->ctx, LIBXLMIG_ERR_TIMEOUT, -1,
                                "QMP socket %s: no answer from QEMU in "
                                "time while we waited for %s", q->path,
                                waiting);
        if (w < 0)
            return die(q, LIBXLMIG_ERR_IO, -w, "poll failed while we waited "
                       "for %s", waiting);
        r = read(q->fd, q->buf + q->buf_len, q->buf_cap - q->buf_len);
        if (r < 0 && (errno == EINTR || errno == EAGAIN))
            continue;
        if (r < 0 && errno != ECONNRESET)
            return die(q, LIBXLMIG_ERR_IO, errno, "reading failed while we "
                       "waited for %s", waiting);
        if (r <= 0)
            return die(q, LIBXLMIG_ERR_IO, -1,
                       "QEMU closed its QMP socket (it exited or was "
                       "killed?) while we waited for %s%s", waiting,
                       q->buf_len ? ", inside a line" : "");
        q->buf_len += (size_t)r;
    }
}

/* Read and decode the next line into *m (dispose it). */
static int read_msg(struct xlmig__qmp *q, uint64_t deadline,
                    const char *waiting, struct xlmig__qmp_msg *m)
{
    char why[XLMIG__QMP_WHY_MAX], *line = NULL;
    size_t len = 0;
    int rc;

    memset(m, 0, sizeof(*m));
    rc = read_line(q, deadline, waiting, &line, &len);
    if (rc)
        return rc;
    rc = xlmig__qmp_decode(line, len, m, why, sizeof(why));
    free(line);
    if (rc == LIBXLMIG_ERR_NO_MEMORY)
        return xlmig__error(q->ctx, rc, -1, "QMP socket %s: %s", q->path,
                            why);
    if (rc)
        return die(q, LIBXLMIG_ERR_PROTOCOL, -1, "QEMU sent a line we "
                   "cannot read while we waited for %s: %s", waiting, why);
    return 0;
}

static void queue_event(struct xlmig__qmp *q, struct xlmig__qmp_msg *m)
{
    yajl_val root = xlmig__qmp_msg_take(m, m->root);

    if (q->nr_events == XLMIG__QMP_EVENTS_MAX) {
        if (!q->dropped)
            xlmig__log(q->ctx, XTL_WARN, -1, "QMP socket %s: more than %u "
                       "events waiting; dropping the oldest", q->path,
                       XLMIG__QMP_EVENTS_MAX);
        q->dropped++;
        yajl_tree_free(q->events[0]);
        memmove(q->events, q->events + 1,
                (XLMIG__QMP_EVENTS_MAX - 1) * sizeof(q->events[0]));
        q->nr_events--;
    }
    q->events[q->nr_events++] = root;
}

/* The number N of an id "xlmig-N" (N >= 1), or 0. */
static uint64_t id_number(const char *id)
{
    uint64_t n = 0;
    const char *p;

    if (strncmp(id, ID_PREFIX, strlen(ID_PREFIX)))
        return 0;
    p = id + strlen(ID_PREFIX);
    if (!*p || *p == '0')
        return 0;
    for (; *p; p++) {
        if (*p < '0' || *p > '9' || n > (UINT64_MAX - 9) / 10)
            return 0;
        n = n * 10 + (uint64_t)(*p - '0');
    }
    return n;
}

/*
 * A message that is not what we wait for: queue events, drop late
 * replies to calls that timed out.  0 when dealt with, else the rc (the
 * handle is then dead).
 */
static int other_msg(struct xlmig__qmp *q, struct xlmig__qmp_msg *m,
                     const char *waiting)
{
    uint64_t n;

    switch (m->kind) {
    case XLMIG__QMP_EVENT:
        queue_event(q, m);
        return 0;
    case XLMIG__QMP_GREETING:
        return die(q, LIBXLMIG_ERR_PROTOCOL, -1, "QEMU sent a second "
                   "greeting while we waited for %s", waiting);
    case XLMIG__QMP_RETURN:
    case XLMIG__QMP_ERROR:
        n = m->has_id ? id_number(m->id) : 0;
        if (n && n < q->last_id) {
            xlmig__log(q->ctx, XTL_DEBUG, -1, "QMP socket %s: dropping the "
                       "late reply to %s", q->path, m->id);
            return 0;
        }
        if (!m->has_id && m->kind == XLMIG__QMP_ERROR) {
            xlmig__log(q->ctx, XTL_WARN, -1, "QMP socket %s: QEMU sent an "
                       "error without id while we waited for %s: %s: %s",
                       q->path, waiting, m->err_class, m->err_desc);
            return 0;
        }
        return die(q, LIBXLMIG_ERR_PROTOCOL, -1, "QEMU sent a reply %s%s%s "
                   "while we waited for %s", m->has_id ? "of id " : "",
                   m->has_id ? m->id : "without id",
                   m->has_id ? ", which we did not send or wait for" : "",
                   waiting);
    }
    return die(q, LIBXLMIG_ERR_INTERNAL, -1, "unknown message kind");
}

static int write_all(struct xlmig__qmp *q, const char *data, size_t len,
                     uint64_t deadline, const char *command)
{
    size_t done = 0;

    while (done < len) {
        ssize_t r;
        int w = wait_fd(q->fd, POLLOUT, deadline);

        if (w == 1)
            return die(q, LIBXLMIG_ERR_TIMEOUT, -1, "QEMU did not take "
                       "command %s in time (%zu of %zu bytes written)",
                       command, done, len);
        if (w < 0)
            return die(q, LIBXLMIG_ERR_IO, -w, "poll failed while sending "
                       "%s", command);
        r = send(q->fd, data + done, len - done, MSG_NOSIGNAL);
        if (r < 0 && (errno == EINTR || errno == EAGAIN))
            continue;
        if (r < 0 && (errno == EPIPE || errno == ECONNRESET))
            return die(q, LIBXLMIG_ERR_IO, errno, "QEMU closed its QMP "
                       "socket (it exited or was killed?); cannot send %s",
                       command);
        if (r < 0)
            return die(q, LIBXLMIG_ERR_IO, errno, "sending %s failed",
                       command);
        done += (size_t)r;
    }
    return 0;
}

static bool command_name_ok(const char *s)
{
    size_t n, i;

    if (!s)
        return false;
    n = strnlen(s, XLMIG__QMP_NAME_MAX + 1);
    if (n < 1 || n > XLMIG__QMP_NAME_MAX)
        return false;
    for (i = 0; i < n; i++) {
        char c = s[i];

        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c >= '0' && c <= '9') || c == '-' || c == '_'))
            return false;
    }
    return true;
}

static bool gen_str(yajl_gen g, const char *s)
{
    return yajl_gen_string(g, (const unsigned char *)s, strlen(s)) ==
           yajl_gen_status_ok;
}

yajl_gen xlmig__qmp_gen(const char *command)
{
    yajl_gen g;

    if (!command_name_ok(command))
        return NULL;
    g = yajl_gen_alloc(NULL);
    if (!g)
        return NULL;
    if (!yajl_gen_config(g, yajl_gen_validate_utf8, 1) ||
        yajl_gen_map_open(g) != yajl_gen_status_ok ||
        !gen_str(g, "execute") || !gen_str(g, command) ||
        !gen_str(g, "arguments") ||
        yajl_gen_map_open(g) != yajl_gen_status_ok) {
        yajl_gen_free(g);
        return NULL;
    }
    return g;
}

/*
 * Close the command in @g with @id and check it: one object of exactly
 * "execute" (a name), "arguments" (an object) and "id".  *cmd_r gets the
 * command name; *text_r the text plus "\n" (malloc'd; the caller frees
 * it).
 */
static int finish_command(yajl_gen g, const char *id, char *cmd,
                          size_t cmd_len, char **text_r, size_t *len_r)
{
    struct xlmig__json_kind kind = line_kind;
    const unsigned char *out;
    yajl_val root = NULL, exe;
    size_t len;
    char *text;
    int rc = LIBXLMIG_ERR_INVALID_ARGUMENT;

    if (yajl_gen_map_close(g) != yajl_gen_status_ok || !gen_str(g, "id") ||
        !gen_str(g, id) || yajl_gen_map_close(g) != yajl_gen_status_ok ||
        yajl_gen_map_close(g) != yajl_gen_generation_complete ||
        yajl_gen_get_buf(g, &out, &len) != yajl_gen_status_ok || !len ||
        len > XLMIG__QMP_LINE_MAX)
        return rc;
    kind.invalid_rc = LIBXLMIG_ERR_INVALID_ARGUMENT;
    rc = xlmig__json_tree(&kind, out, len, &root, NULL, 0);
    if (rc)
        return rc;
    exe = find(root, "execute");
    if (!YAJL_IS_OBJECT(root) || root->u.object.len != 3 ||
        !YAJL_IS_STRING(exe) || !command_name_ok(exe->u.string) ||
        !YAJL_IS_OBJECT(find(root, "arguments")) ||
        !xlmig__qmp_get_str(root, "id")) {
        rc = LIBXLMIG_ERR_INVALID_ARGUMENT;
        goto out;
    }
    xlmig__strlcpy(cmd, exe->u.string, cmd_len);
    text = malloc(len + 2);
    if (!text) {
        rc = LIBXLMIG_ERR_NO_MEMORY;
        goto out;
    }
    memcpy(text, out, len);
    text[len] = '\n';
    text[len + 1] = '\0';
    *text_r = text;             /* the caller frees it */
    *len_r = len + 1;
    rc = 0;
 out:
    yajl_tree_free(root);
    return rc;
}

int xlmig__qmp_call(struct xlmig__qmp *q, yajl_gen g, yajl_val *return_r)
{
    char id[32], cmd[XLMIG__QMP_NAME_MAX + 1], waiting[200];
    struct xlmig__qmp_msg m;
    char *text = NULL;
    size_t len = 0;
    uint64_t deadline;
    int rc;

    memset(&m, 0, sizeof(m));
    if (return_r)
        *return_r = NULL;
    if (!q) {
        rc = LIBXLMIG_ERR_INVALID_ARGUMENT;
        goto out;
    }
    if (!g) {
        rc = xlmig__error(q->ctx, LIBXLMIG_ERR_INVALID_ARGUMENT, -1,
                          "QMP socket %s: no command to send (out of "
                          "memory, or a bad command name?)", q->path);
        goto out;
    }
    if (q->dead_rc) {
        rc = dead_error(q, "send a command");
        goto out;
    }
    snprintf(id, sizeof(id), ID_PREFIX "%" PRIu64, q->last_id + 1);
    rc = finish_command(g, id, cmd, sizeof(cmd), &text, &len);
    if (rc) {
        rc = xlmig__error(q->ctx, rc, -1, "QMP socket %s: not sending a "
                          "command that is not one JSON object of "
                          "execute, arguments and id (arguments left "
                          "open or incomplete?)", q->path);
        goto out;
    }
    q->last_id++;
    snprintf(waiting, sizeof(waiting), "the reply to %s (id %s)", cmd, id);
    deadline = now_ms() + q->timeout_ms;
    rc = write_all(q, text, len, deadline, cmd);
    if (rc)
        goto out;
    for (;;) {
        rc = read_msg(q, deadline, waiting, &m);
        if (rc)
            goto out;
        if ((m.kind == XLMIG__QMP_RETURN || m.kind == XLMIG__QMP_ERROR) &&
            ((m.has_id && !strcmp(m.id, id)) ||
             (!m.has_id && m.kind == XLMIG__QMP_ERROR)))
            break;
        rc = other_msg(q, &m, waiting);
        xlmig__qmp_msg_dispose(&m);
        if (rc)
            goto out;
    }
    if (m.kind == XLMIG__QMP_ERROR) {
        rc = xlmig__error(q->ctx, LIBXLMIG_ERR_QMP_ERROR, -1,
                          "QMP socket %s: QEMU refused %s: %s: %s", q->path,
                          cmd, m.err_class, m.err_desc);
        goto out;
    }
    if (return_r) {
        *return_r = xlmig__qmp_msg_take(&m, m.value);
        if (!*return_r) {
            rc = xlmig__error(q->ctx, LIBXLMIG_ERR_INTERNAL, -1,
                              "QMP socket %s: cannot detach the return "
                              "value of %s", q->path, cmd);
            goto out;
        }
    }
    rc = 0;
 out:
    xlmig__qmp_msg_dispose(&m);
    free(text);
    if (g)
        yajl_gen_free(g);
    return rc;
}

int xlmig__qmp_execute(struct xlmig__qmp *q, const char *command,
                       const char *args_json, yajl_val *return_r)
{
    struct xlmig__json_kind kind = line_kind;
    char why[XLMIG__QMP_WHY_MAX];
    yajl_val args = NULL;
    yajl_gen g = NULL;
    size_t i;
    int rc;

    if (return_r)
        *return_r = NULL;
    if (!q)
        return LIBXLMIG_ERR_INVALID_ARGUMENT;
    if (!command_name_ok(command))
        return xlmig__error(q->ctx, LIBXLMIG_ERR_INVALID_ARGUMENT, -1,
                            "QMP socket %s: bad command name \"%.64s\"",
                            q->path, command ? command : "(null)");
    if (args_json) {
        size_t n = strlen(args_json);

        kind.invalid_rc = LIBXLMIG_ERR_INVALID_ARGUMENT;
        rc = n > XLMIG__QMP_LINE_MAX ? LIBXLMIG_ERR_INVALID_ARGUMENT
             : n == 0 ? LIBXLMIG_ERR_INVALID_ARGUMENT
             : xlmig__json_tree(&kind, (const uint8_t *)args_json, n, &args,
                                why, sizeof(why));
        if (!rc && !YAJL_IS_OBJECT(args)) {
            snprintf(why, sizeof(why), "it is %s, not an object",
                     xlmig__json_type_name(args));
            rc = LIBXLMIG_ERR_INVALID_ARGUMENT;
        } else if (rc && n == 0) {
            snprintf(why, sizeof(why), "it is empty");
        } else if (rc && n > XLMIG__QMP_LINE_MAX) {
            snprintf(why, sizeof(why), "it is too long");
        }
        if (rc) {
            rc = xlmig__error(q->ctx, rc, -1, "QMP socket %s: the arguments "
                              "of %s are not a JSON object: %s", q->path,
                              command, why);
            goto out;
        }
    }
    g = xlmig__qmp_gen(command);
    if (!g) {
        rc = xlmig__error(q->ctx, LIBXLMIG_ERR_NO_MEMORY, -1,
                          "QMP socket %s: no memory for command %s",
                          q->path, command);
        goto out;
    }
    for (i = 0; args && i < args->u.object.len; i++) {
        if (!gen_str(g, args->u.object.keys[i]) ||
            xlmig__rpc_gen_value(g, args->u.object.values[i])) {
            rc = xlmig__error(q->ctx, LIBXLMIG_ERR_INVALID_ARGUMENT, -1,
                              "QMP socket %s: cannot copy argument %.64s "
                              "of %s", q->path, args->u.object.keys[i],
                              command);
            goto out;
        }
    }
    rc = xlmig__qmp_call(q, g, return_r);
    g = NULL;                   /* freed by the call */
 out:
    if (g)
        yajl_gen_free(g);
    yajl_tree_free(args);
    return rc;
}

static const char *event_name(yajl_val ev)
{
    return xlmig__qmp_get_str(ev, "event");
}

int xlmig__qmp_take_event(struct xlmig__qmp *q, const char *name,
                          yajl_val *event_r)
{
    size_t i;

    if (!q || !event_r)
        return LIBXLMIG_ERR_INVALID_ARGUMENT;
    *event_r = NULL;
    for (i = 0; i < q->nr_events; i++) {
        const char *n = event_name(q->events[i]);

        if (!name || (n && !strcmp(n, name))) {
            *event_r = q->events[i];    /* the caller owns it now */
            memmove(q->events + i, q->events + i + 1,
                    (q->nr_events - i - 1) * sizeof(q->events[0]));
            q->nr_events--;
            return 0;
        }
    }
    return LIBXLMIG_ERR_NOT_FOUND;
}

int xlmig__qmp_next_event(struct xlmig__qmp *q, const char *name,
                          unsigned int timeout_ms, yajl_val *event_r)
{
    struct xlmig__qmp_msg m;
    char waiting[200];
    uint64_t deadline;
    int rc;

    if (event_r)
        *event_r = NULL;
    if (!q || !event_r)
        return LIBXLMIG_ERR_INVALID_ARGUMENT;
    if (!xlmig__qmp_take_event(q, name, event_r))
        return 0;
    if (q->dead_rc)
        return dead_error(q, "wait for an event");
    snprintf(waiting, sizeof(waiting), "event %.64s",
             name ? name : "(any)");
    deadline = now_ms() + (timeout_ms ? timeout_ms : q->timeout_ms);
    for (;;) {
        rc = read_msg(q, deadline, waiting, &m);
        if (rc)
            return rc;
        if (m.kind == XLMIG__QMP_EVENT &&
            (!name || !strcmp(m.event, name))) {
            *event_r = xlmig__qmp_msg_take(&m, m.root);
            return 0;           /* the caller owns it now */
        }
        rc = other_msg(q, &m, waiting);
        xlmig__qmp_msg_dispose(&m);
        if (rc)
            return rc;
    }
}

uint64_t xlmig__qmp_events_dropped(const struct xlmig__qmp *q)
{
    return q ? q->dropped : 0;
}

void xlmig__qmp_version(const struct xlmig__qmp *q, unsigned int *major,
                        unsigned int *minor, unsigned int *micro)
{
    if (major)
        *major = q ? q->major : 0;
    if (minor)
        *minor = q ? q->minor : 0;
    if (micro)
        *micro = q ? q->micro : 0;
}

void xlmig__qmp_close(struct xlmig__qmp *q)
{
    size_t i;

    if (!q)
        return;
    if (q->fd >= 0)
        close(q->fd);
    for (i = 0; i < q->nr_events; i++)
        yajl_tree_free(q->events[i]);
    free(q->buf);
    free(q);
}

static int connect_rc(int e)
{
    switch (e) {
    case ENOENT:
    case ENOTDIR:
        return LIBXLMIG_ERR_NOT_FOUND;
    case EACCES:
    case EPERM:
        return LIBXLMIG_ERR_PERMISSION_DENIED;
    default:
        return LIBXLMIG_ERR_IO;
    }
}

/*
 * Connect @q->fd to its socket by @deadline.  QEMU's monitor serves one
 * client at a time and takes the next from a short backlog; when that
 * is full too, connect() says EAGAIN: then again, until @deadline.
 */
static int connect_socket(struct xlmig__qmp *q, uint64_t deadline)
{
    struct sockaddr_un sa;
    int e;

    memset(&sa, 0, sizeof(sa));
    sa.sun_family = AF_UNIX;
    memcpy(sa.sun_path, q->path, strlen(q->path));
    for (;;) {
        q->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK,
                       0);
        if (q->fd < 0)
            return xlmig__error(q->ctx, LIBXLMIG_ERR_IO, errno, "QMP socket "
                                "%s: cannot make a socket", q->path);
        if (!connect(q->fd, (struct sockaddr *)&sa, sizeof(sa)))
            return 0;
        e = errno;
        if (e != EAGAIN || now_ms() >= deadline)
            break;
        close(q->fd);
        q->fd = -1;
        xlmig__sleep_ms(CONNECT_RETRY_MS);
    }
    if (e == EINPROGRESS) {
        socklen_t sl = sizeof(e);
        int w = wait_fd(q->fd, POLLOUT, deadline);

        if (w == 1)
            return xlmig__error(q->ctx, LIBXLMIG_ERR_TIMEOUT, -1,
                                "QMP socket %s: connecting timed out",
                                q->path);
        if (w < 0 || getsockopt(q->fd, SOL_SOCKET, SO_ERROR, &e, &sl) < 0)
            e = w < 0 ? -w : errno;
        if (!e)
            return 0;
    }
    return xlmig__error(q->ctx, e == EAGAIN ? LIBXLMIG_ERR_TIMEOUT
                        : connect_rc(e), e, "cannot connect to the QMP "
                        "socket %s of QEMU%s", q->path,
                        e == ENOENT ? " (no such socket: is QEMU running, "
                        "with this QMP path?)"
                        : e == ECONNREFUSED ? " (nothing listens there: "
                        "QEMU exited?)"
                        : e == EAGAIN ? " (other clients hold it and wait "
                        "for it: QEMU serves one at a time)" : "");
}

int xlmig__qmp_connect(libxlmig_ctx *ctx, const char *socket_path,
                       unsigned int timeout_ms, struct xlmig__qmp **q_r)
{
    struct xlmig__qmp *q = NULL;
    struct xlmig__qmp_msg m;
    uint64_t deadline;
    yajl_gen g;
    int rc;

    memset(&m, 0, sizeof(m));
    if (q_r)
        *q_r = NULL;
    if (!socket_path || !q_r)
        return xlmig__error(ctx, LIBXLMIG_ERR_INVALID_ARGUMENT, -1,
                            "QMP connect: no socket path or nowhere to put "
                            "the handle");
    if (!socket_path[0] ||
        strlen(socket_path) >= sizeof(((struct sockaddr_un *)0)->sun_path))
        return xlmig__error(ctx, LIBXLMIG_ERR_INVALID_ARGUMENT, -1,
                            "QMP socket %.200s: the path must have 1 to %zu "
                            "bytes", socket_path,
                            sizeof(((struct sockaddr_un *)0)->sun_path) - 1);
    q = xlmig__zalloc(sizeof(*q));
    if (!q)
        return xlmig__error(ctx, LIBXLMIG_ERR_NO_MEMORY, -1,
                            "QMP socket %s: no memory", socket_path);
    q->ctx = ctx;
    q->fd = -1;
    q->timeout_ms = timeout_ms ? timeout_ms : DEFAULT_TIMEOUT_MS;
    xlmig__strlcpy(q->path, socket_path, sizeof(q->path));
    deadline = now_ms() + q->timeout_ms;

    rc = connect_socket(q, deadline);
    if (rc)
        goto out;
    /* QEMU greets a client once the one before it has left.  What that
     * one left behind can come first on the new connection: an event
     * emitted while the monitor still counted it as negotiated, or the
     * answer to a command it sent just before it went.  Those are
     * skipped, up to QMP_STALE_MAX of them. */
    for (int stale = 0;; stale++) {
        rc = read_msg(q, deadline, "the QMP greeting (QEMU greets one "
                      "client at a time: does another hold the socket?)",
                      &m);
        if (rc)
            goto out;
        if (m.kind == XLMIG__QMP_GREETING || stale >= QMP_STALE_MAX)
            break;
        xlmig__qmp_msg_dispose(&m);
    }
    if (m.kind != XLMIG__QMP_GREETING) {
        rc = xlmig__error(ctx, LIBXLMIG_ERR_PROTOCOL, -1, "QMP socket %s: "
                          "the first line is not a QMP greeting; is this a "
                          "QMP monitor of QEMU?", q->path);
        goto out;
    }
    q->major = m.major;
    q->minor = m.minor;
    q->micro = m.micro;
    xlmig__qmp_msg_dispose(&m);

    g = xlmig__qmp_gen("qmp_capabilities");
    rc = xlmig__qmp_call(q, g, NULL);
    if (rc)
        goto out;
    *q_r = q;
    q = NULL;                   /* the caller owns it now */
 out:
    xlmig__qmp_msg_dispose(&m);
    xlmig__qmp_close(q);
    return rc;
}

int xlmig__qmp_call_once(libxlmig_ctx *ctx, const char *socket_path,
                         unsigned int timeout_ms, yajl_gen g,
                         yajl_val *return_r)
{
    struct xlmig__qmp *q = NULL;
    int rc;

    if (return_r)
        *return_r = NULL;
    rc = xlmig__qmp_connect(ctx, socket_path, timeout_ms, &q);
    if (rc) {
        if (g)
            yajl_gen_free(g);
        return rc;
    }
    rc = xlmig__qmp_call(q, g, return_r);
    xlmig__qmp_close(q);
    return rc;
}

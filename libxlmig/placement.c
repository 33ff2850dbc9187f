/* SPDX-License-Identifier: LGPL-2.1-only */
/*
 * Placement: the candidates' verdicts, the built-in choice, the
 * wlb-hook's request, answer and run (placement.h,
 * docs/specs/wlb-hook.md).
 */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "internal.h"
#include "jsonfile.h"
#include "placement.h"
#include "proc.h"

const char *xlmig__place_source_name(enum xlmig__place_source s)
{
    return s == XLMIG__PLACE_HOOK ? "wlb-hook" : "built-in";
}

void xlmig__place_refusal_name(const char *msg, char *out, size_t cap)
{
    size_t n = strcspn(msg, ":");

    if (n >= cap)
        n = cap - 1;
    memcpy(out, msg, n);
    out[n] = '\0';
}

/* ------------------------------------------------------------ verdicts */

static void refuse(struct xlmig__place_host *h, int rc, const char *fmt, ...)
    XLMIG__PRINTF(3, 4);
static void refuse(struct xlmig__place_host *h, int rc, const char *fmt, ...)
{
    char *m = h->refusals[0];
    size_t len;
    va_list ap;

    h->nr_failures = 1;
    h->nr_refusals = 1;
    len = (size_t)snprintf(m, XLMIG__PLACE_MSG_MAX, "%s: ",
                           libxlmig_strerror_name(rc));
    va_start(ap, fmt);
    vsnprintf(m + len, XLMIG__PLACE_MSG_MAX - len, fmt, ap);
    va_end(ap);
}

int xlmig__place_evaluate(libxlmig_ctx *ctx, const char *state_dir,
                          const struct xlmig__mig_plan *p,
                          const struct xlmig__host_facts *src,
                          const libxlmig_cpu_flags *level,
                          struct xlmig__place_host *hosts, size_t n)
{
    struct xlmig__collect *coll = NULL;
    libxlmig_ctx *sub = NULL;
    size_t i, j;
    int rc;

    if (n > XLMIG__PLACE_HOSTS_MAX) {
        return xlmig__error(ctx, LIBXLMIG_ERR_INVALID_ARGUMENT, -1,
                            "placing VM %s: %zu hosts, more than the %d a "
                            "placement may weigh", p->vm, n,
                            XLMIG__PLACE_HOSTS_MAX);
    }
    for (i = 0; i < n; i++) {
        if (!hosts[i].facts.name[0])
            return xlmig__error(ctx, LIBXLMIG_ERR_INVALID_ARGUMENT, -1,
                                "placing VM %s: host %zu of %zu has no "
                                "name", p->vm, i + 1, n);
        for (j = 0; j < i; j++) {
            if (!strcmp(hosts[i].facts.name, hosts[j].facts.name))
                return xlmig__error(ctx, LIBXLMIG_ERR_INVALID_ARGUMENT, -1,
                                    "placing VM %s: host %s is named twice",
                                    p->vm, hosts[i].facts.name);
        }
    }
    coll = xlmig__zalloc(sizeof(*coll));
    if (!coll)
        return xlmig__error(ctx, LIBXLMIG_ERR_NO_MEMORY, -1, "placing VM "
                            "%s: no memory", p->vm);
    for (i = 0; i < n; i++) {
        struct xlmig__place_host *h = &hosts[i];

        h->nr_failures = 0;
        h->nr_refusals = 0;
        if (!h->enabled) {
            refuse(h, LIBXLMIG_ERR_HOST_DISABLED, "host %s is disabled "
                   "(maintenance) and takes no VMs until it is enabled "
                   "again", h->facts.name);
        } else if (!strcmp(h->facts.name, src->name)) {
            refuse(h, LIBXLMIG_ERR_INVALID_ARGUMENT, "host %s is where VM "
                   "%s is now", h->facts.name, p->vm);
        } else {
            /* Its checks log into the collector, not as our errors. */
            xlmig__collect_init(coll, NULL);
            if (libxlmig_ctx_new(&coll->vtable, LIBXLMIG_LOG_ERROR, &sub)) {
                rc = xlmig__error(ctx, LIBXLMIG_ERR_NO_MEMORY, -1, "placing "
                                  "VM %s: no memory", p->vm);
                goto out;
            }
            h->nr_failures = xlmig__mig_check(sub, state_dir, p, src,
                                              &h->facts, level);
            libxlmig_ctx_free(sub);
            sub = NULL;
            for (j = 0; j < coll->n && j < XLMIG__PLACE_REFUSALS_MAX; j++)
                xlmig__strlcpy(h->refusals[j], coll->msgs[j],
                               XLMIG__PLACE_MSG_MAX);
            h->nr_refusals = j;
            if (h->nr_failures && !h->nr_refusals)
                refuse(h, LIBXLMIG_ERR_INTERNAL, "%u check(s) of host %s "
                       "failed without a word", h->nr_failures,
                       h->facts.name);
        }
        if (h->nr_failures)
            xlmig__log(ctx, XTL_DETAIL, -1, "placing VM %s: host %s cannot "
                       "take it: %s", p->vm, h->facts.name, h->refusals[0]);
        else
            xlmig__log(ctx, XTL_DETAIL, -1, "placing VM %s: host %s can "
                       "take it (%" PRIu64 " MiB free)", p->vm,
                       h->facts.name, h->facts.free_memory_kib / 1024);
    }
    rc = 0;
 out:
    libxlmig_ctx_free(sub);
    free(coll);
    return rc;
}

/* ------------------------------------------------------------ built-in */

/* Does @a go before @b: more free memory, else the smaller name. */
static bool better(const struct xlmig__place_host *a,
                   const struct xlmig__place_host *b)
{
    if (a->facts.free_memory_kib != b->facts.free_memory_kib)
        return a->facts.free_memory_kib > b->facts.free_memory_kib;
    return strcmp(a->facts.name, b->facts.name) < 0;
}

size_t xlmig__place_builtin(const struct xlmig__place_host *hosts, size_t n,
                            struct xlmig__place_ranking *out)
{
    size_t i, k;

    memset(out, 0, sizeof(*out));
    out->source = XLMIG__PLACE_BUILTIN;
    for (i = 0; i < n && i < XLMIG__PLACE_HOSTS_MAX; i++) {
        const struct xlmig__place_host *h = &hosts[i];
        struct xlmig__place_rec *r;
        uint64_t mib = h->facts.free_memory_kib / 1024;

        if (h->nr_failures)
            continue;
        /* Insertion: at most 64 of them. */
        for (k = out->n; k > 0 && better(h, &hosts[out->recs[k - 1].host]);
             k--)
            out->recs[k] = out->recs[k - 1];
        r = &out->recs[k];
        memset(r, 0, sizeof(*r));
        r->host = i;
        xlmig__strlcpy(r->name, h->facts.name, sizeof(r->name));
        r->score = (double)mib;
        snprintf(r->reason, sizeof(r->reason), "most free memory: %" PRIu64
                 " MiB", mib);
        out->n++;
    }
    return out->n;
}

/* ------------------------------------------------------------ request */

static bool gen_key(yajl_gen g, const char *key)
{
    return yajl_gen_string(g, (const unsigned char *)key, strlen(key)) ==
           yajl_gen_status_ok;
}

static bool gen_host(yajl_gen g, const struct xlmig__place_host *h)
{
    size_t i;
    bool ok;

    ok = yajl_gen_map_open(g) == yajl_gen_status_ok &&
         xlmig__gen_key_string(g, "name", h->facts.name) &&
         xlmig__gen_key_bool(g, "enabled", h->enabled) &&
         xlmig__gen_key_bool(g, "can_take", h->nr_failures == 0) &&
         gen_key(g, "refusals") &&
         yajl_gen_array_open(g) == yajl_gen_status_ok;
    for (i = 0; ok && i < h->nr_refusals; i++)
        ok = yajl_gen_string(g, (const unsigned char *)h->refusals[i],
                             strlen(h->refusals[i])) == yajl_gen_status_ok;
    return ok && yajl_gen_array_close(g) == yajl_gen_status_ok &&
           gen_key(g, "facts") && xlmig__host_facts_gen(g, &h->facts) &&
           yajl_gen_map_close(g) == yajl_gen_status_ok;
}

int xlmig__wlb_request(libxlmig_ctx *ctx, const struct xlmig__mig_plan *p,
                       const char *src_name,
                       const struct xlmig__place_host *hosts, size_t n,
                       char **json_r, size_t *len_r)
{
    yajl_gen g = xlmig__gen_new();
    const unsigned char *buf;
    char *text = NULL;
    size_t len, i;
    bool ok;
    int rc;

    if (!g)
        return xlmig__error(ctx, LIBXLMIG_ERR_NO_MEMORY, -1, "no memory "
                            "for the wlb-hook request of VM %s", p->vm);
    ok = yajl_gen_map_open(g) == yajl_gen_status_ok &&
         xlmig__gen_key_integer(g, "version", XLMIG__WLB_VERSION) &&
         gen_key(g, "vm") && yajl_gen_map_open(g) == yajl_gen_status_ok &&
         xlmig__gen_key_string(g, "name", p->vm) &&
         xlmig__gen_key_string(g, "uuid", p->vm_uuid) &&
         xlmig__gen_key_bool(g, "running", p->running) &&
         xlmig__gen_key_integer(g, "memory_kib", (long long)p->memory_kib) &&
         xlmig__gen_key_integer(g, "vcpus", p->vcpus) &&
         yajl_gen_map_close(g) == yajl_gen_status_ok &&
         xlmig__gen_key_string(g, "source", src_name) &&
         gen_key(g, "hosts") && yajl_gen_array_open(g) == yajl_gen_status_ok;
    for (i = 0; ok && i < n; i++)
        ok = gen_host(g, &hosts[i]);
    ok = ok && yajl_gen_array_close(g) == yajl_gen_status_ok &&
         yajl_gen_map_close(g) == yajl_gen_status_ok &&
         yajl_gen_get_buf(g, &buf, &len) == yajl_gen_status_ok;
    if (!ok) {
        rc = xlmig__error(ctx, LIBXLMIG_ERR_INTERNAL, -1, "cannot write the "
                          "wlb-hook request of VM %s (a name that is not "
                          "UTF-8?)", p->vm);
        goto out;
    }
    text = malloc(len + 1);
    if (!text) {
        rc = xlmig__error(ctx, LIBXLMIG_ERR_NO_MEMORY, -1, "no memory for "
                          "the wlb-hook request of VM %s", p->vm);
        goto out;
    }
    memcpy(text, buf, len);
    text[len] = '\0';
    *json_r = text;
    *len_r = len;
    rc = 0;
 out:
    yajl_gen_free(g);
    return rc;
}

/* ------------------------------------------------------------ answer */

static const struct xlmig__json_kind wlb_answer_kind = {
    .what = "wlb-hook answer",
    .a_what = "an answer",
    .invalid_rc = LIBXLMIG_ERR_WLB_MALFORMED_RESPONSE,
    .max_bytes = XLMIG__WLB_ANSWER_MAX,
    .depth_max = XLMIG__WLB_DEPTH_MAX,
};

/* @s (untrusted) quoted into @buf (@cap >= 48): at most 40 bytes, '?'
 * for any byte that is not printable ASCII, "..." when cut. */
static const char *quote(const char *s, char *buf, size_t cap)
{
    size_t i;

    for (i = 0; s[i] && i < 40 && i + 4 < cap; i++)
        buf[i] = s[i] >= 0x20 && s[i] < 0x7f ? s[i] : '?';
    buf[i] = '\0';
    if (s[i])
        memcpy(buf + i, "...", 4);
    return buf;
}

/*
 * Member @key of object @o, or NULL: when absent, or with *@twice set
 * when it is there more than once (yajl_tree keeps them all).
 */
static yajl_val member(yajl_val o, const char *key, bool *twice)
{
    yajl_val v = NULL;
    size_t i;

    *twice = false;
    for (i = 0; i < o->u.object.len; i++) {
        if (strcmp(o->u.object.keys[i], key))
            continue;
        if (v) {
            *twice = true;
            return NULL;
        }
        v = o->u.object.values[i];
    }
    return v;
}

#define SAY(...) snprintf(why, why_len, __VA_ARGS__)

/* One recommendation, @v, the @i-th (from 0), into *@r. */
static bool decode_rec(const struct xlmig__place_host *hosts, size_t n,
                       yajl_val v, size_t i,
                       const struct xlmig__place_ranking *so_far,
                       struct xlmig__place_rec *r, char *why, size_t why_len)
{
    static const char *const keys[] = { "host", "score", "reason" };
    yajl_val m[3];
    char q[64];
    size_t k, len;
    bool twice;

    if (!YAJL_IS_OBJECT(v)) {
        SAY("recommendation %zu is %s, not an object", i + 1,
            xlmig__json_type_name(v));
        return false;
    }
    for (k = 0; k < 3; k++) {
        m[k] = member(v, keys[k], &twice);
        if (twice) {
            SAY("recommendation %zu has member \"%s\" twice", i + 1,
                keys[k]);
            return false;
        }
        if (!m[k]) {
            SAY("recommendation %zu has no member \"%s\"", i + 1, keys[k]);
            return false;
        }
    }
    if (!YAJL_IS_STRING(m[0])) {
        SAY("recommendation %zu: \"host\" is %s, not a string", i + 1,
            xlmig__json_type_name(m[0]));
        return false;
    }
    for (k = 0; k < n; k++) {
        if (!strcmp(hosts[k].facts.name, m[0]->u.string))
            break;
    }
    if (k == n) {
        SAY("recommendation %zu: host \"%s\" is not one of the %zu hosts "
            "of the request", i + 1, quote(m[0]->u.string, q, sizeof(q)), n);
        return false;
    }
    if (hosts[k].nr_failures) {
        SAY("recommendation %zu: host %s cannot take the VM (%s)", i + 1,
            hosts[k].facts.name, hosts[k].refusals[0]);
        return false;
    }
    r->host = k;
    for (k = 0; k < so_far->n; k++) {
        if (so_far->recs[k].host == r->host) {
            SAY("recommendation %zu names host %s again (as recommendation "
                "%zu did)", i + 1, hosts[r->host].facts.name, k + 1);
            return false;
        }
    }
    xlmig__strlcpy(r->name, hosts[r->host].facts.name, sizeof(r->name));
    if (YAJL_IS_DOUBLE(m[1]))
        r->score = m[1]->u.number.d;
    else if (YAJL_IS_INTEGER(m[1]))
        r->score = (double)m[1]->u.number.i;
    if (!YAJL_IS_NUMBER(m[1]) ||
        (!YAJL_IS_DOUBLE(m[1]) && !YAJL_IS_INTEGER(m[1])) ||
        !isfinite(r->score)) {
        SAY("recommendation %zu: \"score\" is %s, not a finite number",
            i + 1, YAJL_IS_NUMBER(m[1]) ? "out of range"
                                        : xlmig__json_type_name(m[1]));
        return false;
    }
    if (!YAJL_IS_STRING(m[2])) {
        SAY("recommendation %zu: \"reason\" is %s, not a string", i + 1,
            xlmig__json_type_name(m[2]));
        return false;
    }
    len = strlen(m[2]->u.string);
    if (!len || len > XLMIG__WLB_REASON_MAX) {
        SAY("recommendation %zu: \"reason\" is %zu bytes long; it must "
            "have 1 to %d", i + 1, len, XLMIG__WLB_REASON_MAX);
        return false;
    }
    for (k = 0; k < len; k++) {
        unsigned char c = (unsigned char)m[2]->u.string[k];

        if (c < 0x20 || c == 0x7f) {
            SAY("recommendation %zu: \"reason\" holds a control character "
                "(byte %zu)", i + 1, k);
            return false;
        }
    }
    memcpy(r->reason, m[2]->u.string, len + 1);
    return true;
}

int xlmig__wlb_answer_decode(const struct xlmig__place_host *hosts, size_t n,
                             const char *text, size_t len,
                             struct xlmig__place_ranking *out, char *why,
                             size_t why_len)
{
    struct xlmig__place_ranking *r = NULL;
    yajl_val root = NULL, v, a;
    char tmp[1];
    size_t i;
    bool twice;
    int rc = LIBXLMIG_ERR_WLB_MALFORMED_RESPONSE;

    if (!why) {
        why = tmp;
        why_len = sizeof(tmp);
    }
    why[0] = '\0';
    /* The cap first: nothing past it is looked at. */
    if (len > XLMIG__WLB_ANSWER_MAX) {
        SAY("the answer is %zu bytes, more than the %u it may have", len,
            XLMIG__WLB_ANSWER_MAX);
        goto out;
    }
    for (i = 0; i < len && strchr(" \t\r\n", text[i]) && text[i]; i++)
        ;
    if (i == len) {
        SAY("the answer is empty; it must be a JSON object");
        goto out;
    }
    rc = xlmig__json_tree(&wlb_answer_kind, (const uint8_t *)text, len,
                          &root, why, why_len);
    if (rc)
        goto out;
    rc = LIBXLMIG_ERR_WLB_MALFORMED_RESPONSE;
    if (!YAJL_IS_OBJECT(root)) {
        SAY("the answer is %s, not an object",
            xlmig__json_type_name(root));
        goto out;
    }
    v = member(root, "version", &twice);
    if (twice) {
        SAY("the answer has member \"version\" twice");
        goto out;
    }
    if (v && (!YAJL_IS_INTEGER(v) || v->u.number.i != XLMIG__WLB_VERSION)) {
        SAY("the answer's \"version\" is not %d, the version of the "
            "request", XLMIG__WLB_VERSION);
        goto out;
    }
    a = member(root, "recommendations", &twice);
    if (twice || !a) {
        SAY("the answer has %s member \"recommendations\"",
            twice ? "more than one" : "no");
        goto out;
    }
    if (!YAJL_IS_ARRAY(a)) {
        SAY("the answer's \"recommendations\" is %s, not an array",
            xlmig__json_type_name(a));
        goto out;
    }
    if (a->u.array.len > XLMIG__WLB_RECS_MAX) {
        SAY("the answer has %zu recommendations, more than the %d there "
            "may be", a->u.array.len, XLMIG__WLB_RECS_MAX);
        goto out;
    }
    r = xlmig__zalloc(sizeof(*r));
    if (!r) {
        SAY("no memory for a ranking");
        rc = LIBXLMIG_ERR_NO_MEMORY;
        goto out;
    }
    r->source = XLMIG__PLACE_HOOK;
    for (i = 0; i < a->u.array.len; i++) {
        if (!decode_rec(hosts, n, a->u.array.values[i], i, r, &r->recs[i],
                        why, why_len))
            goto out;
        r->n++;
    }
    *out = *r;
    rc = 0;
 out:
    free(r);
    if (root)
        yajl_tree_free(root);
    return rc;
}

/* ------------------------------------------------------------ the run */

/* The command, for messages: at most 80 bytes of it. */
static const char *cmd_quote(const char *cmd, char *buf, size_t cap)
{
    size_t len = strlen(cmd);

    if (len <= 80)
        snprintf(buf, cap, "%s", cmd);
    else
        snprintf(buf, cap, "%.77s...", cmd);
    return buf;
}

int xlmig__wlb_run(libxlmig_ctx *ctx, const struct xlmig__wlb_hook *hook,
                   const struct xlmig__mig_plan *p, const char *src_name,
                   const struct xlmig__place_host *hosts, size_t n,
                   struct xlmig__place_ranking *out)
{
    struct xlmig__proc_filter_io *io = NULL;
    char *request = NULL, *answer = NULL, cmd[96], why[400];
    char *argv[] = { "sh", "-c", NULL, NULL };
    unsigned int ms;
    size_t len;
    int rc;

    if (!hook || !hook->command || !hook->command[0])
        return xlmig__error(ctx, LIBXLMIG_ERR_INVALID_ARGUMENT, -1,
                            "placing VM %s: the pool has no wlb-hook",
                            p->vm);
    cmd_quote(hook->command, cmd, sizeof(cmd));
    ms = hook->timeout_ms ? hook->timeout_ms : XLMIG__WLB_TIMEOUT_MS_DEFAULT;
    rc = xlmig__wlb_request(ctx, p, src_name, hosts, n, &request, &len);
    if (rc)
        goto out;
    io = xlmig__zalloc(sizeof(*io));
    answer = malloc(XLMIG__WLB_ANSWER_MAX);
    if (!io || !answer) {
        rc = xlmig__error(ctx, LIBXLMIG_ERR_NO_MEMORY, -1, "no memory to "
                          "run wlb-hook for VM %s", p->vm);
        goto out;
    }
    io->in = request;
    io->in_len = len;
    io->out = answer;
    io->out_cap = XLMIG__WLB_ANSWER_MAX;
    io->timeout_ms = ms;
    argv[2] = (char *)hook->command;
    xlmig__log(ctx, XTL_DEBUG, -1, "placing VM %s: asking wlb-hook '%s'",
               p->vm, cmd);
    if (xlmig__proc_filter("/bin/sh", argv, io)) {
        rc = xlmig__error(ctx, LIBXLMIG_ERR_WLB_INTERNAL_ERROR, -1,
                          "cannot run wlb-hook '%s' for VM %s: %s; check "
                          "the pool's wlb-hook setting", cmd, p->vm,
                          io->err);
        goto out;
    }
    if (io->timed_out) {
        rc = xlmig__error(ctx, LIBXLMIG_ERR_WLB_TIMEOUT, -1, "wlb-hook '%s' "
                          "gave no answer for VM %s within %u.%03u s and "
                          "was killed; make it answer sooner or raise its "
                          "time limit", cmd, p->vm, ms / 1000, ms % 1000);
        goto out;
    }
    if (io->out_over) {
        rc = xlmig__error(ctx, LIBXLMIG_ERR_WLB_MALFORMED_RESPONSE, -1,
                          "wlb-hook '%s' printed more than the %u bytes an "
                          "answer may have for VM %s and was killed; fix "
                          "the balancer (docs/specs/wlb-hook.md)", cmd,
                          XLMIG__WLB_ANSWER_MAX, p->vm);
        goto out;
    }
    if (!WIFEXITED(io->status) || WEXITSTATUS(io->status)) {
        char how[48];

        if (WIFEXITED(io->status))
            snprintf(how, sizeof(how), "exited with status %d",
                     WEXITSTATUS(io->status));
        else
            snprintf(how, sizeof(how), "was killed by signal %d",
                     WIFSIGNALED(io->status) ? WTERMSIG(io->status) : 0);
        rc = xlmig__error(ctx, LIBXLMIG_ERR_WLB_INTERNAL_ERROR, -1,
                          "wlb-hook '%s' %s for VM %s: %s%s; fix the "
                          "balancer", cmd, how, p->vm,
                          io->err_cut ? "..." : "",
                          io->err[0] ? io->err : "(it said nothing on "
                                                 "stderr)");
        goto out;
    }
    rc = xlmig__wlb_answer_decode(hosts, n, answer, io->out_len, out, why,
                                  sizeof(why));
    if (rc == LIBXLMIG_ERR_WLB_MALFORMED_RESPONSE) {
        rc = xlmig__error(ctx, rc, -1, "wlb-hook '%s' answered for VM %s "
                          "not as docs/specs/wlb-hook.md asks: %s; fix the "
                          "balancer", cmd, p->vm, why);
        goto out;
    }
    if (rc) {
        rc = xlmig__error(ctx, rc, -1, "wlb-hook '%s' for VM %s: %s", cmd,
                          p->vm, why);
        goto out;
    }
    xlmig__log(ctx, XTL_DEBUG, -1, "placing VM %s: wlb-hook '%s' "
               "recommended %zu host(s)", p->vm, cmd, out->n);
 out:
    free(answer);
    free(io);
    free(request);
    return rc;
}

/* ------------------------------------------------------------ placing */

/* The NO_HOSTS_AVAILABLE sentence: each host and its first refusal, as
 * many as fit. */
static int no_hosts(libxlmig_ctx *ctx, const struct xlmig__mig_plan *p,
                    const struct xlmig__place_host *hosts, size_t n)
{
    char list[640];
    const size_t room = sizeof(list) - 40;  /* "; and N more host(s)" */
    size_t len = 0, i;
    int r;

    list[0] = '\0';
    for (i = 0; i < n; i++) {
        r = snprintf(list + len, room - len, "%s%s (%s)", i ? "; " : "",
                     hosts[i].facts.name, hosts[i].refusals[0]);
        if (r >= 0 && (size_t)r < room - len) {
            len += (size_t)r;
            continue;
        }
        if (i == 0) {
            len = strlen(list);     /* the first, cut */
            i++;
        } else {
            list[len] = '\0';
        }
        if (i < n)
            snprintf(list + len, sizeof(list) - len, "; and %zu more "
                     "host(s)", n - i);
        break;
    }
    return xlmig__error(ctx, LIBXLMIG_ERR_NO_HOSTS_AVAILABLE, -1, "no host "
                        "can take VM %s: %s; fix what a host lacks, enable "
                        "one, or add one to the pool", p->vm,
                        n ? list : "the pool has no other host");
}

int xlmig__place(libxlmig_ctx *ctx, const struct xlmig__wlb_hook *hook,
                 const struct xlmig__mig_plan *p, const char *src_name,
                 const struct xlmig__place_host *hosts, size_t n,
                 struct xlmig__place_ranking *out)
{
    struct xlmig__place_ranking *builtin = NULL, *asked = NULL;
    libxlmig_ctx *quiet = NULL;
    int rc, hrc;

    builtin = xlmig__zalloc(sizeof(*builtin));
    asked = xlmig__zalloc(sizeof(*asked));
    if (!builtin || !asked) {
        rc = xlmig__error(ctx, LIBXLMIG_ERR_NO_MEMORY, -1, "no memory to "
                          "place VM %s", p->vm);
        goto out;
    }
    if (!xlmig__place_builtin(hosts, n, builtin)) {
        rc = no_hosts(ctx, p, hosts, n);
        goto out;
    }
    if (!hook || !hook->command || !hook->command[0]) {
        *out = *builtin;
        rc = 0;
        goto chosen;
    }
    /* The hook's failure is ours to say, as a warning, once. */
    if (libxlmig_ctx_new(NULL, LIBXLMIG_LOG_CRITICAL, &quiet)) {
        rc = xlmig__error(ctx, LIBXLMIG_ERR_NO_MEMORY, -1, "no memory to "
                          "place VM %s", p->vm);
        goto out;
    }
    hrc = xlmig__wlb_run(quiet, hook, p, src_name, hosts, n, asked);
    if (!hrc && asked->n) {
        *out = *asked;
        rc = 0;
        goto chosen;
    }
    *out = *builtin;
    out->fallback_rc = hrc;
    if (hrc)
        snprintf(out->fallback, sizeof(out->fallback), "%s; placing VM %s "
                 "by the built-in choice (most free memory) instead",
                 libxlmig_ctx_last_error(quiet), p->vm);
    else
        snprintf(out->fallback, sizeof(out->fallback), "wlb-hook "
                 "recommended no host for VM %s; placing it by the "
                 "built-in choice (most free memory) instead", p->vm);
    xlmig__log(ctx, hrc ? XTL_WARN : XTL_NOTICE, -1, "%s", out->fallback);
    rc = 0;
 chosen:
    xlmig__log(ctx, XTL_INFO, -1, "placing VM %s: host %s (%s: %s)", p->vm,
               out->recs[0].name, xlmig__place_source_name(out->source),
               out->recs[0].reason);
 out:
    libxlmig_ctx_free(quiet);
    free(asked);
    free(builtin);
    return rc;
}

/* SPDX-License-Identifier: LGPL-2.1-only */
/*
 * The launch request: encoding, a decoder that checks every length
 * against its cap before using it, the whitelist of the one command a
 * listener runs, and the exchange over a transport
 * (docs/specs/channel.md, "Launch request").
 */
#include <stdio.h>
#include <string.h>

#include "buf.h"
#include "internal.h"
#include "launch.h"
#include "transport.h"

#define WHY(...) snprintf(why, why_len, __VA_ARGS__)

void xlmig__launch_quote(char *dst, size_t len, const char *s)
{
    size_t o = 0, i;

    if (len < 3) {
        if (len)
            dst[0] = '\0';
        return;
    }
    dst[o++] = '\'';
    for (i = 0; s[i] && o + 2 < len; i++) {
        unsigned char c = (unsigned char)s[i];

        dst[o++] = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
    }
    dst[o++] = '\'';
    dst[o] = '\0';
}

int xlmig__launch_encode(unsigned int argc, char *const argv[],
                         uint8_t *buf, size_t cap, size_t *len_r,
                         char *why, size_t why_len)
{
    size_t off = XLMIG__LAUNCH_HDR_LEN, i;

    if (argc < 1 || argc > XLMIG__LAUNCH_ARGC_MAX) {
        WHY("%u arguments: a launch request carries 1 to %u", argc,
            XLMIG__LAUNCH_ARGC_MAX);
        return LIBXLMIG_ERR_INVALID_ARGUMENT;
    }
    for (i = 0; i < argc; i++) {
        size_t n = strlen(argv[i]);

        if (n < 1 || n > XLMIG__LAUNCH_ARG_MAX) {
            WHY("argument %zu is %zu bytes long: each must be 1 to %u",
                i + 1, n, XLMIG__LAUNCH_ARG_MAX);
            return LIBXLMIG_ERR_INVALID_ARGUMENT;
        }
        if (off + 2 + n > XLMIG__LAUNCH_TOTAL_MAX || off + 2 + n > cap) {
            WHY("the command is longer than a launch request allows "
                "(%u bytes)", XLMIG__LAUNCH_TOTAL_MAX);
            return LIBXLMIG_ERR_INVALID_ARGUMENT;
        }
        xlmig__put_be16(buf + off, (uint16_t)n);
        memcpy(buf + off + 2, argv[i], n);
        off += 2 + n;
    }
    memcpy(buf, XLMIG__LAUNCH_MAGIC, 8);
    xlmig__put_be16(buf + 8, XLMIG__LAUNCH_VERSION);
    xlmig__put_be16(buf + 10, (uint16_t)argc);
    *len_r = off;
    return 0;
}

int xlmig__launch_decode(const uint8_t *buf, size_t len,
                         struct xlmig__launch_req *req, size_t *need_r,
                         char *why, size_t why_len)
{
    unsigned int argc, i;
    size_t off = XLMIG__LAUNCH_HDR_LEN, store = 0;
    uint16_t version;

    *need_r = 0;
    if (len < 8 && memcmp(buf, XLMIG__LAUNCH_MAGIC, len)) {
        WHY("not a launch request (bad magic): is the peer "
            "'xlmig channel-send'?");
        return LIBXLMIG_ERR_PROTOCOL;
    }
    if (len < XLMIG__LAUNCH_HDR_LEN) {
        *need_r = XLMIG__LAUNCH_HDR_LEN - len;
        return 0;
    }
    if (memcmp(buf, XLMIG__LAUNCH_MAGIC, 8)) {
        WHY("not a launch request (bad magic): is the peer "
            "'xlmig channel-send'?");
        return LIBXLMIG_ERR_PROTOCOL;
    }
    version = xlmig__get_be16(buf + 8);
    if (version != XLMIG__LAUNCH_VERSION) {
        WHY("launch request version %u, this listener speaks %u",
            version, XLMIG__LAUNCH_VERSION);
        return LIBXLMIG_ERR_PROTOCOL;
    }
    argc = xlmig__get_be16(buf + 10);
    if (argc < 1 || argc > XLMIG__LAUNCH_ARGC_MAX) {
        WHY("%u arguments: a launch request carries 1 to %u", argc,
            XLMIG__LAUNCH_ARGC_MAX);
        return LIBXLMIG_ERR_PROTOCOL;
    }
    for (i = 0; i < argc; i++) {
        size_t n;

        if (off + 2 > XLMIG__LAUNCH_TOTAL_MAX) {
            WHY("the request is longer than %u bytes",
                XLMIG__LAUNCH_TOTAL_MAX);
            return LIBXLMIG_ERR_PROTOCOL;
        }
        if (len < off + 2) {
            *need_r = off + 2 - len;
            return 0;
        }
        n = xlmig__get_be16(buf + off);
        if (n < 1 || n > XLMIG__LAUNCH_ARG_MAX) {
            WHY("argument %u is %zu bytes long: each must be 1 to %u",
                i + 1, n, XLMIG__LAUNCH_ARG_MAX);
            return LIBXLMIG_ERR_PROTOCOL;
        }
        if (off + 2 + n > XLMIG__LAUNCH_TOTAL_MAX) {
            WHY("the request is longer than %u bytes",
                XLMIG__LAUNCH_TOTAL_MAX);
            return LIBXLMIG_ERR_PROTOCOL;
        }
        if (len < off + 2 + n) {
            *need_r = off + 2 + n - len;
            return 0;
        }
        if (memchr(buf + off + 2, '\0', n)) {
            WHY("argument %u contains a NUL byte", i + 1);
            return LIBXLMIG_ERR_PROTOCOL;
        }
        /* store + n + 1 <= off + 2 + n - 12 < 4096: always fits. */
        memcpy(req->args + store, buf + off + 2, n);
        req->args[store + n] = '\0';
        req->argv[i] = req->args + store;
        store += n + 1;
        off += 2 + n;
    }
    if (len > off) {
        WHY("%zu bytes after the end of the launch request", len - off);
        return LIBXLMIG_ERR_PROTOCOL;
    }
    req->argc = argc;
    req->argv[argc] = NULL;
    return 0;
}

/* "-" followed by one or more of @letters. */
static bool short_flags(const char *a, const char *letters)
{
    size_t i;

    if (a[0] != '-' || !a[1])
        return false;
    for (i = 1; a[i]; i++) {
        if (!strchr(letters, a[i]))
            return false;
    }
    return true;
}

/*
 * xl's global flags as `xl migrate` passes them (tools/xl/xl_migrate.c
 * main_migrate: -t when stderr is a tty, -T for timestamps, -v...), and
 * migrate-receive's own flags (main_migrate_receive: -F -e -d -r -p,
 * --colo, --userspace-colo-proxy).  --coloft-script names a script to
 * run, so it is refused.
 */
#define GLOBAL_FLAGS "vtT"
#define RECEIVE_FLAGS "Fedrp"
#define WHITELIST "'xl [-v...] [-t] [-T] migrate-receive [-F] [-e] [-d] " \
                  "[-r] [-p] [--colo] [--userspace-colo-proxy]'"

int xlmig__launch_check(const struct xlmig__launch_req *req, char *why,
                        size_t why_len)
{
    char q[XLMIG__LAUNCH_ARG_MAX + 3];
    unsigned int i = 1;

    if (req->argc < 1 || strcmp(req->argv[0], "xl")) {
        xlmig__launch_quote(q, sizeof(q), req->argc ? req->argv[0] : "");
        WHY("argument 1 (%s) is not allowed: this listener only runs "
            WHITELIST, q);
        return LIBXLMIG_ERR_PERMISSION_DENIED;
    }
    while (i < req->argc && short_flags(req->argv[i], GLOBAL_FLAGS))
        i++;
    if (i >= req->argc) {
        WHY("no 'migrate-receive' in the command: this listener only "
            "runs " WHITELIST);
        return LIBXLMIG_ERR_PERMISSION_DENIED;
    }
    if (strcmp(req->argv[i], "migrate-receive")) {
        xlmig__launch_quote(q, sizeof(q), req->argv[i]);
        WHY("argument %u (%s) is not allowed: this listener only runs "
            WHITELIST, i + 1, q);
        return LIBXLMIG_ERR_PERMISSION_DENIED;
    }
    for (i++; i < req->argc; i++) {
        const char *a = req->argv[i];

        if (short_flags(a, RECEIVE_FLAGS) || !strcmp(a, "--colo") ||
            !strcmp(a, "--userspace-colo-proxy"))
            continue;
        xlmig__launch_quote(q, sizeof(q), a);
        WHY("argument %u (%s) is not allowed: this listener only runs "
            WHITELIST, i + 1, q);
        return LIBXLMIG_ERR_PERMISSION_DENIED;
    }
    return 0;
}

/* The command as one printable line, for messages. */
static void join_args(char *dst, size_t len, unsigned int argc,
                      char *const argv[])
{
    size_t o = 0;
    unsigned int i;

    dst[0] = '\0';
    for (i = 0; i < argc && o + 1 < len; i++) {
        char q[XLMIG__LAUNCH_ARG_MAX + 3];
        int n;

        xlmig__launch_quote(q, sizeof(q), argv[i]);
        /* Drop the quotes: the whole line is quoted by the caller. */
        q[strlen(q) - 1] = '\0';
        n = snprintf(dst + o, len - o, "%s%s", i ? " " : "", q + 1);
        if (n < 0)
            break;
        o += (size_t)n;
    }
}

int xlmig__launch_request(libxlmig_ctx *ctx, libxlmig_transport *t,
                          const char *peer, unsigned int argc,
                          char *const argv[])
{
    uint8_t buf[XLMIG__LAUNCH_TOTAL_MAX];
    uint8_t h[XLMIG__LAUNCH_REPLY_HDR_LEN];
    char why[512], cmd[512], reason[XLMIG__LAUNCH_REASON_MAX + 1];
    size_t len, got, rlen, i;
    int rc;

    join_args(cmd, sizeof(cmd), argc, argv);
    rc = xlmig__launch_encode(argc, argv, buf, sizeof(buf), &len, why,
                              sizeof(why));
    if (rc)
        return xlmig__error(ctx, rc, -1, "cannot ask %s to run '%s': %s",
                            peer, cmd, why);
    rc = t->ops->write(t, buf, len);
    if (rc) return rc;
    rc = xlmig__transport_read_exact(t, h, sizeof(h), &got);
    if (rc) return rc;
    if (got < sizeof(h))
        return xlmig__error(ctx, LIBXLMIG_ERR_PROTOCOL, -1,
                            "%s closed the connection without answering "
                            "the launch request: is it 'xlmig "
                            "channel-listen', with the same TLS "
                            "settings?", peer);
    if (memcmp(h, XLMIG__LAUNCH_REPLY_MAGIC, 8) ||
        xlmig__get_be16(h + 8) != XLMIG__LAUNCH_VERSION ||
        h[10] > XLMIG__LAUNCH_REFUSED || h[11] ||
        xlmig__get_be16(h + 12) > XLMIG__LAUNCH_REASON_MAX)
        return xlmig__error(ctx, LIBXLMIG_ERR_PROTOCOL, -1,
                            "%s answered the launch request with "
                            "something else than a launch reply: is it "
                            "'xlmig channel-listen' of the same version?",
                            peer);
    rlen = xlmig__get_be16(h + 12);
    rc = xlmig__transport_read_exact(t, reason, rlen, &got);
    if (rc) return rc;
    if (got < rlen)
        return xlmig__error(ctx, LIBXLMIG_ERR_PROTOCOL, -1,
                            "%s closed the connection in the middle of "
                            "its launch reply", peer);
    for (i = 0; i < rlen; i++) {
        unsigned char c = (unsigned char)reason[i];

        if (c < 0x20 || c == 0x7f)
            reason[i] = '?';
    }
    reason[rlen] = '\0';
    if (h[10] == XLMIG__LAUNCH_REFUSED) {
        /*
         * A reason that starts with a stable error name ("VM_INCOMPATIBLE
         * _WITH_THIS_HOST: ...") keeps that error here.
         */
        char name[64];
        int code = LIBXLMIG_ERR_PERMISSION_DENIED;
        size_t n = strspn(reason, "ABCDEFGHIJKLMNOPQRSTUVWXYZ_");

        if (n && n < sizeof(name) && reason[n] == ':') {
            memcpy(name, reason, n);
            name[n] = '\0';
            if (libxlmig_error_from_name(name, &code))
                code = LIBXLMIG_ERR_PERMISSION_DENIED;
        }
        if (code != LIBXLMIG_ERR_PERMISSION_DENIED)
            return xlmig__error(ctx, code, -1, "%s refused the migration: %s",
                                peer, reason + n + (reason[n + 1] == ' ' ? 2
                                                                        : 1));
        return xlmig__error(ctx, LIBXLMIG_ERR_PERMISSION_DENIED, -1,
                            "%s refused to run '%s': %s", peer, cmd,
                            rlen ? reason : "no reason given");
    }
    xlmig__log(ctx, XTL_DEBUG, -1, "%s accepted to run '%s'", peer, cmd);
    return 0;
}

int xlmig__launch_reply(libxlmig_ctx *ctx, libxlmig_transport *t,
                        bool accepted, const char *reason)
{
    uint8_t buf[XLMIG__LAUNCH_REPLY_HDR_LEN + XLMIG__LAUNCH_REASON_MAX];
    size_t rlen = accepted || !reason ? 0
                  : strnlen(reason, XLMIG__LAUNCH_REASON_MAX);

    (void)ctx;
    memcpy(buf, XLMIG__LAUNCH_REPLY_MAGIC, 8);
    xlmig__put_be16(buf + 8, XLMIG__LAUNCH_VERSION);
    buf[10] = accepted ? XLMIG__LAUNCH_ACCEPTED : XLMIG__LAUNCH_REFUSED;
    buf[11] = 0;
    xlmig__put_be16(buf + 12, (uint16_t)rlen);
    if (rlen)
        memcpy(buf + XLMIG__LAUNCH_REPLY_HDR_LEN, reason, rlen);
    return t->ops->write(t, buf, XLMIG__LAUNCH_REPLY_HDR_LEN + rlen);
}

int xlmig__launch_receive(libxlmig_ctx *ctx, libxlmig_transport *t,
                          const char *peer, struct xlmig__launch_req *req)
{
    uint8_t buf[XLMIG__LAUNCH_TOTAL_MAX];
    char why[512];
    size_t len = 0, need = 0, got;
    int rc;

    for (;;) {
        rc = xlmig__launch_decode(buf, len, req, &need, why, sizeof(why));
        if (rc) {
            (void)xlmig__launch_reply(ctx, t, false, why);
            return xlmig__error(ctx, rc, -1, "launch request from %s: %s",
                                peer, why);
        }
        if (!need)
            break;
        /* The decoder never asks past the cap; check anyway. */
        if (need > sizeof(buf) - len)
            return xlmig__error(ctx, LIBXLMIG_ERR_INTERNAL, -1,
                                "launch request decoder overran its cap");
        rc = xlmig__transport_read_exact(t, buf + len, need, &got);
        if (rc) return rc;
        len += got;
        if (got < need)
            return xlmig__error(ctx, LIBXLMIG_ERR_PROTOCOL, -1,
                                "%s closed the connection after %zu bytes "
                                "of its launch request", peer, len);
    }
    rc = xlmig__launch_take_meta(req, why, sizeof(why));
    if (!rc)
        rc = xlmig__launch_check(req, why, sizeof(why));
    if (rc) {
        (void)xlmig__launch_reply(ctx, t, false, why);
        return xlmig__error(ctx, rc, -1, "refused the launch request from "
                            "%s: %s", peer, why);
    }
    return 0;
}

/* ------------------------------------------------------------------ */
/* The xlmig: words                                                   */
/* ------------------------------------------------------------------ */

int xlmig__launch_meta_words(const struct xlmig__launch_meta *m,
                             char words[][XLMIG__LAUNCH_ARG_MAX + 1])
{
    const size_t cap = XLMIG__LAUNCH_ARG_MAX + 1;
    int n = 0, w;

    if (m->has_vm) {
        w = snprintf(words[n++], cap, "%svm=%s", XLMIG__LAUNCH_META_PREFIX,
                     m->vm);
        if (w < 0 || (size_t)w >= cap)
            return -1;
    }
    if (m->has_cpu) {
        char fs[LIBXLMIG_FEATURESET_STRING_MAX];
        const char *v = libxlmig_cpu_vendor_short_name(m->cpu.vendor);

        if (!v || libxlmig_featureset_format(&m->cpu.features, fs,
                                             sizeof(fs)))
            return -1;
        w = snprintf(words[n++], cap, "%scpu=%s/%s/%s",
                     XLMIG__LAUNCH_META_PREFIX,
                     m->type == LIBXLMIG_GUEST_PV ? "pv" : "hvm", v, fs);
        if (w < 0 || (size_t)w >= cap)
            return -1;
    }
    if (m->force) {
        w = snprintf(words[n++], cap, "%sforce", XLMIG__LAUNCH_META_PREFIX);
        if (w < 0 || (size_t)w >= cap)
            return -1;
    }
    return n;
}

/* A VM name as records take it: [A-Za-z0-9._-], 1..64, no leading . or -. */
static bool vm_name_ok(const char *s)
{
    size_t n = strlen(s);

    if (!n || n > 64 || s[0] == '.' || s[0] == '-')
        return false;
    return strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                     "0123456789._-") == n;
}

static int meta_cpu(struct xlmig__launch_meta *m, const char *v)
{
    const char *s1 = strchr(v, '/'), *s2 = s1 ? strchr(s1 + 1, '/') : NULL;
    char vendor[32];
    size_t vl;

    if (!s1 || !s2)
        return -1;
    if ((size_t)(s1 - v) == 2 && !strncmp(v, "pv", 2))
        m->type = LIBXLMIG_GUEST_PV;
    else if ((size_t)(s1 - v) == 3 && !strncmp(v, "hvm", 3))
        m->type = LIBXLMIG_GUEST_HVM;
    else
        return -1;
    vl = (size_t)(s2 - s1 - 1);
    if (!vl || vl >= sizeof(vendor))
        return -1;
    memcpy(vendor, s1 + 1, vl);
    vendor[vl] = '\0';
    if (libxlmig_cpu_vendor_parse(NULL, NULL, vendor, &m->cpu.vendor) ||
        libxlmig_featureset_parse(NULL, NULL, s2 + 1, &m->cpu.features))
        return -1;
    return 0;
}

int xlmig__launch_take_meta(struct xlmig__launch_req *req, char *why,
                            size_t why_len)
{
    struct xlmig__launch_meta m;
    const size_t plen = strlen(XLMIG__LAUNCH_META_PREFIX);
    unsigned int i = 0, j;

    memset(&m, 0, sizeof(m));
    for (; i < req->argc &&
           !strncmp(req->argv[i], XLMIG__LAUNCH_META_PREFIX, plen); i++) {
        const char *w = req->argv[i] + plen;
        char q[XLMIG__LAUNCH_ARG_MAX + 3];
        bool dup = false, bad = false;

        if (!strncmp(w, "vm=", 3)) {
            dup = m.has_vm;
            bad = !vm_name_ok(w + 3);
            if (!dup && !bad) {
                m.has_vm = true;
                xlmig__strlcpy(m.vm, w + 3, sizeof(m.vm));
            }
        } else if (!strncmp(w, "cpu=", 4)) {
            dup = m.has_cpu;
            bad = !dup && meta_cpu(&m, w + 4);
            if (!dup && !bad)
                m.has_cpu = true;
        } else if (!strcmp(w, "force")) {
            dup = m.force;
            m.force = true;
        } else {
            bad = true;
        }
        if (dup || bad) {
            xlmig__launch_quote(q, sizeof(q), req->argv[i]);
            WHY("argument %u (%s) is %s", i + 1, q,
                dup ? "given twice" : "not a valid xlmig: word (vm=NAME, "
                "cpu=pv|hvm/VENDOR/FEATURESET or force)");
            return LIBXLMIG_ERR_PROTOCOL;
        }
    }
    if (m.has_cpu && !m.has_vm) {
        WHY("xlmig:cpu= without xlmig:vm=: which VM is it?");
        return LIBXLMIG_ERR_PROTOCOL;
    }
    if (i) {
        for (j = 0; j + i <= req->argc; j++)
            req->argv[j] = req->argv[j + i];
        req->argc -= i;
    }
    req->meta = m;
    return 0;
}

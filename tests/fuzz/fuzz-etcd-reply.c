/* SPDX-License-Identifier: LGPL-2.1-only */
/*
 * Fuzz target for the parsers of etcd's gateway replies
 * (xlmig__etcd_parse_*() in libxlmig/etcd.c; docs/specs/pool-etcd.md),
 * which read what any endpoint of the pool's etcd sends.  The first byte
 * picks the parser (r range, w put/delete, t txn, R a transaction of
 * reads, l lease, W a watch line, s status; any other byte: all of them
 * in turn), the rest is the reply.  A refusal must be PROTOCOL_ERROR
 * (or NO_MEMORY) with a reason and leave the outputs zero.  What
 * parses must hold what etcd.h promises: keys of 1 to KEY_MAX bytes and
 * values of at most VALUE_MAX, NUL-terminated, at most RANGE_MAX of them
 * and no more than the count; a watch event with its revision; a status
 * version of 1 to 31 bytes without control characters.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "etcd.h"
#include "internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void refused(int rc, const char *why)
{
    if ((rc != LIBXLMIG_ERR_PROTOCOL && rc != LIBXLMIG_ERR_NO_MEMORY) ||
        !why[0])
        abort();
}

static void range(const char *j, size_t n)
{
    struct xlmig__etcd_kvs kvs;
    char why[XLMIG__ETCD_WHY_MAX] = "";
    size_t i;
    int rc = xlmig__etcd_parse_range(j, n, &kvs, why, sizeof(why));

    if (rc) {
        refused(rc, why);
        if (kvs.kv || kvs.n || kvs.count || kvs.revision)
            abort();
        return;
    }
    if (kvs.n > XLMIG__ETCD_RANGE_MAX || (int64_t)kvs.n > kvs.count ||
        (kvs.n && !kvs.kv))
        abort();
    for (i = 0; i < kvs.n; i++) {
        const struct xlmig__etcd_kv *kv = &kvs.kv[i];

        if (!kv->key || !kv->value || !kv->key_len ||
            kv->key_len > XLMIG__ETCD_KEY_MAX ||
            kv->value_len > XLMIG__ETCD_VALUE_MAX ||
            kv->key[kv->key_len] || kv->value[kv->value_len])
            abort();
    }
    xlmig__etcd_kvs_free(&kvs);
    if (kvs.kv || kvs.n)
        abort();
}

static void write_reply(const char *j, size_t n)
{
    char why[XLMIG__ETCD_WHY_MAX] = "";
    int64_t rev, deleted;
    int rc = xlmig__etcd_parse_write(j, n, &rev, &deleted, why, sizeof(why));

    if (rc) {
        refused(rc, why);
        if (rev || deleted)
            abort();
    } else if (deleted < 0) {
        abort();
    }
}

static void txn(const char *j, size_t n)
{
    char why[XLMIG__ETCD_WHY_MAX] = "";
    int64_t rev;
    bool ok;
    int rc = xlmig__etcd_parse_txn(j, n, &ok, &rev, why, sizeof(why));

    if (rc) {
        refused(rc, why);
        if (ok || rev)
            abort();
    }
}

/* A transaction of reads: 1 to 3 ranges, as the slots read them. */
static void reads(const char *j, size_t n)
{
    char why[XLMIG__ETCD_WHY_MAX] = "";
    struct xlmig__etcd_kvs kvs[3];
    size_t i, k = 1 + n % 3;
    int rc = xlmig__etcd_parse_reads(j, n, k, kvs, why, sizeof(why));

    for (i = 0; i < k; i++) {
        if (rc && (kvs[i].n || kvs[i].kv))
            abort();
        if (!rc && kvs[i].count < (int64_t)kvs[i].n)
            abort();
        xlmig__etcd_kvs_free(&kvs[i]);
    }
    if (rc)
        refused(rc, why);
}

static void lease(const char *j, size_t n)
{
    char why[XLMIG__ETCD_WHY_MAX] = "";
    int64_t id, ttl;
    int rc = xlmig__etcd_parse_lease(j, n, &id, &ttl, why, sizeof(why));

    if (rc) {
        refused(rc, why);
        if (id || ttl)
            abort();
    } else if (id < 0) {
        abort();
    }
}

static void no_controls(const char *s)
{
    for (; *s; s++) {
        if ((unsigned char)*s < 0x20 || *s == 0x7f)
            abort();
    }
}

static void watch_line(const char *j, size_t n)
{
    struct xlmig__etcd_watch_msg m;
    char why[XLMIG__ETCD_WHY_MAX] = "";
    int rc = xlmig__etcd_parse_watch_line(j, n, &m, why, sizeof(why));

    if (rc) {
        refused(rc, why);
        if (m.error || m.created || m.event || m.revision || m.reason[0])
            abort();
        return;
    }
    if ((m.event && m.event_revision <= 0) || (!m.event && m.deleted) ||
        strlen(m.reason) >= sizeof(m.reason))
        abort();
    no_controls(m.reason);
}

static void status(const char *j, size_t n)
{
    struct xlmig__etcd_status st;
    char why[XLMIG__ETCD_WHY_MAX] = "";
    int rc = xlmig__etcd_parse_status(j, n, &st, why, sizeof(why));

    if (rc) {
        refused(rc, why);
        if (st.version[0] || st.cluster_id || st.leader)
            abort();
        return;
    }
    if (!st.version[0] || strlen(st.version) >= sizeof(st.version) ||
        st.reachable || st.error[0])
        abort();
    no_controls(st.version);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *j = (const char *)data + 1;
    size_t n;

    if (!size)
        return 0;
    n = size - 1;
    switch (data[0]) {
    case 'r':
        range(j, n);
        break;
    case 'w':
        write_reply(j, n);
        break;
    case 't':
        txn(j, n);
        break;
    case 'R':
        reads(j, n);
        break;
    case 'l':
        lease(j, n);
        break;
    case 'W':
        watch_line(j, n);
        break;
    case 's':
        status(j, n);
        break;
    default:
        range(j, n);
        write_reply(j, n);
        txn(j, n);
        reads(j, n);
        lease(j, n);
        watch_line(j, n);
        status(j, n);
        break;
    }
    return 0;
}

/* SPDX-License-Identifier: LGPL-2.1-only */
/*
 * A client of etcd's v3 API through its JSON gateway (internal;
 * docs/specs/pool-etcd.md): libcurl for HTTP(S), yajl for JSON.  Keys and
 * values are bytes (base64 on the wire, which this file hides).
 *
 * Endpoints are tried in the order given; a call that cannot reach one
 * (connection refused, TLS failure, timeout, a 5xx) goes on to the next,
 * and fails with LIBXLMIG_ERR_CANNOT_CONTACT_HOST naming every endpoint
 * and what each said when none answers.  An endpoint that answers with
 * another cluster's certificate fails the TLS check (the pool's CA is
 * the only one trusted) and counts as not answering.
 *
 * Every answer is untrusted: its size is capped (XLMIG__ETCD_REPLY_MAX)
 * before it is parsed, a reply that does not parse or lacks what it must
 * have is LIBXLMIG_ERR_PROTOCOL naming the endpoint and the call, and a
 * key or value longer than XLMIG__ETCD_KEY_MAX / XLMIG__ETCD_VALUE_MAX is
 * refused, not cut.
 *
 * A client is used by one thread at a time; calls block for at most the
 * configured timeout per endpoint (the watch for its own timeout).
 */
#ifndef XLMIG_ETCD_H
#define XLMIG_ETCD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "libxlmig.h"

#define XLMIG__ETCD_ENDPOINTS_MAX 16
#define XLMIG__ETCD_ENDPOINT_MAX 255        /* bytes of one URL, no NUL */
#define XLMIG__ETCD_KEY_MAX 1024            /* bytes */
#define XLMIG__ETCD_VALUE_MAX (1u << 20)    /* bytes */
#define XLMIG__ETCD_REPLY_MAX (8u << 20)    /* bytes of one JSON reply */
#define XLMIG__ETCD_RANGE_MAX 4096          /* keys one range returns */
#define XLMIG__ETCD_TXN_OPS_MAX 64          /* compares, and ops per branch */
#define XLMIG__ETCD_TIMEOUT_MS_DEFAULT 2000

struct xlmig__etcd_conf {
    /*
     * "https://127.0.0.1:2379,https://127.0.0.2:2379": 1 to
     * ENDPOINTS_MAX URLs, comma-separated, http:// or https://, no path.
     */
    const char *endpoints;
    const char *ca_file;        /* PEM; NULL with http:// endpoints */
    const char *cert_file;      /* our client certificate, PEM, or NULL */
    const char *key_file;       /* its key, PEM, or NULL */
    unsigned timeout_ms;        /* per request and endpoint; 0: default */
};

struct xlmig__etcd;

/*
 * A client for @conf (copied).  Checks the configuration only (the URLs'
 * form, the files readable); contacts no endpoint.  INVALID_ARGUMENT with
 * a message naming what is wrong.
 */
int xlmig__etcd_new(libxlmig_ctx *ctx, const struct xlmig__etcd_conf *conf,
                    struct xlmig__etcd **e_r);
void xlmig__etcd_free(struct xlmig__etcd *e);

size_t xlmig__etcd_nr_endpoints(const struct xlmig__etcd *e);
const char *xlmig__etcd_endpoint(const struct xlmig__etcd *e, size_t i);

/* One key-value pair, as etcd keeps it.  key and value are NUL-terminated
 * copies (the NUL not counted in the lengths; the bytes may hold NULs). */
struct xlmig__etcd_kv {
    char *key;
    size_t key_len;
    char *value;
    size_t value_len;
    int64_t create_revision;
    int64_t mod_revision;
    int64_t version;
    int64_t lease;                      /* 0: none */
};

struct xlmig__etcd_kvs {
    struct xlmig__etcd_kv *kv;          /* n of them, malloc'd */
    size_t n;
    int64_t count;                      /* keys in the range, all of them */
    bool more;                          /* the limit cut the answer */
    int64_t revision;                   /* the store's at the answer */
};
void xlmig__etcd_kvs_free(struct xlmig__etcd_kvs *kvs);  /* and zeroes it */

/* A key's (a value's) bytes for a message, in @out of @cap bytes: a
 * control character or a NUL as '?', cut to fit, NUL-ended. */
void xlmig__etcd_key_text(const struct xlmig__etcd_kv *kv, char *out,
                          size_t cap);
void xlmig__etcd_value_text(const struct xlmig__etcd_kv *kv, char *out,
                            size_t cap);

enum xlmig__etcd_sort {
    XLMIG__ETCD_SORT_KEY = 0,           /* by key (etcd's default) */
    XLMIG__ETCD_SORT_CREATE,            /* by create_revision */
};

/* What a range reads; zero-initialised: the one key, sorted by key. */
struct xlmig__etcd_range {
    bool prefix;                        /* every key starting with it */
    size_t limit;                       /* 0: RANGE_MAX; more: refused */
    enum xlmig__etcd_sort sort;
    bool descend;                       /* largest first */
    int64_t max_create_revision;        /* > 0: only keys created at or
                                         * before it */
    bool count_only;                    /* no keys, only kvs->count
                                         * (etcd's count of the whole
                                         * range: max_create_revision
                                         * does not apply to it) */
    int64_t revision;                   /* > 0: as the store was at it */
};

/*
 * Range: the key @key (or the keys under it) as @r says (NULL: the one
 * key).  @kvs_r is freed by the caller with xlmig__etcd_kvs_free(), also
 * on error (it is zeroed then).
 */
int xlmig__etcd_get(struct xlmig__etcd *e, const char *key, size_t key_len,
                    const struct xlmig__etcd_range *r,
                    struct xlmig__etcd_kvs *kvs_r);

/*
 * Several reads at one revision, in one request (a transaction of reads
 * only): @kvs_r[i] (n of them, each freed by the caller, also on error)
 * for @reads[i], each with the store's revision of the read.  1 to
 * TXN_OPS_MAX reads.
 */
struct xlmig__etcd_read {
    const char *key;
    size_t key_len;
    const struct xlmig__etcd_range *range;  /* NULL: the one key */
};
int xlmig__etcd_get_many(struct xlmig__etcd *e,
                         const struct xlmig__etcd_read *reads, size_t n,
                         struct xlmig__etcd_kvs *kvs_r);

/* Put @key = @value, bound to @lease (0: none).  *revision_r (may be
 * NULL): the store's revision after the put. */
int xlmig__etcd_put(struct xlmig__etcd *e, const char *key, size_t key_len,
                    const char *value, size_t value_len, int64_t lease,
                    int64_t *revision_r);

/* Delete @key, or every key under it with @prefix; *deleted_r (may be
 * NULL): how many went. */
int xlmig__etcd_delete(struct xlmig__etcd *e, const char *key,
                       size_t key_len, bool prefix, int64_t *deleted_r);

/* Leases.  grant: a new lease of @ttl_s seconds (1..3600).  keepalive:
 * *ttl_r the seconds it now has, 0 when it has expired or never was.
 * revoke: the lease goes, and every key bound to it. */
int xlmig__etcd_lease_grant(struct xlmig__etcd *e, int64_t ttl_s,
                            int64_t *lease_r);
int xlmig__etcd_lease_keepalive(struct xlmig__etcd *e, int64_t lease,
                                int64_t *ttl_r);
int xlmig__etcd_lease_revoke(struct xlmig__etcd *e, int64_t lease);

/* Transactions: if every compare holds, the success ops run, else the
 * failure ops; atomically. */
enum xlmig__etcd_cmp_target {
    XLMIG__ETCD_CMP_VERSION,            /* 0: the key does not exist */
    XLMIG__ETCD_CMP_CREATE,
    XLMIG__ETCD_CMP_MOD,
    XLMIG__ETCD_CMP_VALUE,
};
enum xlmig__etcd_cmp_result {
    XLMIG__ETCD_EQUAL,
    XLMIG__ETCD_GREATER,
    XLMIG__ETCD_LESS,
    XLMIG__ETCD_NOT_EQUAL,
};
struct xlmig__etcd_cmp {
    const char *key;
    size_t key_len;
    enum xlmig__etcd_cmp_target target;
    enum xlmig__etcd_cmp_result result;
    int64_t number;                     /* VERSION, CREATE, MOD */
    const char *value;                  /* VALUE */
    size_t value_len;
};
enum xlmig__etcd_op_kind {
    XLMIG__ETCD_OP_PUT,
    XLMIG__ETCD_OP_DELETE,
    XLMIG__ETCD_OP_GET,                 /* its answer is not returned */
};
struct xlmig__etcd_op {
    enum xlmig__etcd_op_kind kind;
    const char *key;
    size_t key_len;
    const char *value;                  /* PUT */
    size_t value_len;
    int64_t lease;                      /* PUT; 0: none */
    bool prefix;                        /* DELETE */
};
/*
 * *succeeded_r: whether the compares held; *revision_r (may be NULL):
 * the store's revision after it.  At most TXN_OPS_MAX of each list.
 */
int xlmig__etcd_txn(struct xlmig__etcd *e,
                    const struct xlmig__etcd_cmp *cmp, size_t ncmp,
                    const struct xlmig__etcd_op *then, size_t nthen,
                    const struct xlmig__etcd_op *otherwise, size_t nother,
                    bool *succeeded_r, int64_t *revision_r);

/*
 * Watch: wait until @key (or, with @prefix, a key under it) changes at
 * or after revision @start_revision (0: from now), for at most
 * @timeout_ms, and return the first change: *deleted_r whether it was a
 * delete, *revision_r its revision.  TIMEOUT when nothing changed (an
 * answer, logged at debug level, not an error);
 * CANCELLED when *@cancel (may be NULL) became true meanwhile (checked at
 * least every 100 ms).  An endpoint that goes away mid-watch is noticed
 * at once and the watch goes on on the next one, from the revision
 * already reached.
 */
int xlmig__etcd_watch(struct xlmig__etcd *e, const char *key, size_t key_len,
                      bool prefix, int64_t start_revision,
                      unsigned timeout_ms, const volatile bool *cancel,
                      bool *deleted_r, int64_t *revision_r);

/*
 * Ask every endpoint which cluster it serves, and keep to the one most
 * of those that answer serve (*cluster_id_r, may be NULL): an endpoint of
 * another cluster (another pool's etcd, a member restored from other
 * data) is named in the log and never used by this client again.
 * CANNOT_CONTACT_HOST naming each endpoint when none answers;
 * INVALID_ARGUMENT when as many answer for one cluster as for another.
 * Before it, every endpoint is used.
 */
int xlmig__etcd_check(struct xlmig__etcd *e, uint64_t *cluster_id_r);
bool xlmig__etcd_endpoint_foreign(const struct xlmig__etcd *e, size_t i);

/* One endpoint's health (/v3/maintenance/status). */
struct xlmig__etcd_status {
    bool reachable;
    char error[256];                    /* why not, when !reachable */
    char version[32];                   /* etcd's */
    uint64_t cluster_id;
    uint64_t member_id;
    uint64_t leader;                    /* member id; 0: no leader */
    int64_t raft_term;
    int64_t db_size;                    /* bytes */
};
/* The status of endpoint @i; 0 also when it is not reachable (then
 * st->reachable is false and st->error says why). */
int xlmig__etcd_status(struct xlmig__etcd *e, size_t i,
                       struct xlmig__etcd_status *st);

/* ------------------------------------------------------------ internal */

/*
 * The parsers of etcd's replies, pure (the fuzz target's and the tests'):
 * @json is @len bytes of untrusted text, at most XLMIG__ETCD_REPLY_MAX
 * (more is refused).  0, or LIBXLMIG_ERR_PROTOCOL (or NO_MEMORY) with
 * why in @why (@why_len bytes), logging nothing; outputs are zero on
 * error.  int64 and uint64 fields may be JSON strings (grpc-gateway's
 * form) or integers; a field that is absent is zero (proto3 omits
 * defaults); "header" must be there in every reply.
 */
#define XLMIG__ETCD_WHY_MAX 256

/* /v3/kv/range: @kvs_r as xlmig__etcd_get() gives it (kvs_free() it). */
int xlmig__etcd_parse_range(const char *json, size_t len,
                            struct xlmig__etcd_kvs *kvs_r, char *why,
                            size_t why_len);
/* /v3/kv/put and /v3/kv/deleterange: the header's revision and (for a
 * delete) "deleted". */
int xlmig__etcd_parse_write(const char *json, size_t len,
                            int64_t *revision_r, int64_t *deleted_r,
                            char *why, size_t why_len);
/* /v3/kv/txn: "succeeded" and the header's revision. */
int xlmig__etcd_parse_reads(const char *json, size_t len, size_t n,
                            struct xlmig__etcd_kvs *kvs_r, char *why,
                            size_t why_len);
int xlmig__etcd_parse_txn(const char *json, size_t len, bool *succeeded_r,
                          int64_t *revision_r, char *why, size_t why_len);
/* /v3/lease/grant, or /v3/lease/keepalive (its reply in "result"): the
 * lease's "ID" and "TTL". */
int xlmig__etcd_parse_lease(const char *json, size_t len, int64_t *id_r,
                            int64_t *ttl_r, char *why, size_t why_len);

/* One line of /v3/watch's stream. */
struct xlmig__etcd_watch_msg {
    bool error;                 /* {"error": ...}: the stream failed */
    bool created;
    bool canceled;
    int64_t revision;           /* the header's */
    int64_t compact_revision;   /* canceled: the oldest revision kept */
    bool event;                 /* it holds at least one event */
    bool deleted;               /* the first event is a delete */
    int64_t event_revision;     /* the first event's mod_revision */
    char reason[XLMIG__ETCD_WHY_MAX]; /* error, canceled: etcd's words */
};
int xlmig__etcd_parse_watch_line(const char *json, size_t len,
                                 struct xlmig__etcd_watch_msg *m, char *why,
                                 size_t why_len);
/* /v3/maintenance/status: the fields of @st but reachable and error. */
int xlmig__etcd_parse_status(const char *json, size_t len,
                             struct xlmig__etcd_status *st, char *why,
                             size_t why_len);

#endif

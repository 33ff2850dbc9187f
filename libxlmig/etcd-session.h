/* SPDX-License-Identifier: LGPL-2.1-only */
/*
 * A host's session with the pool's etcd (internal; docs/specs/
 * pool-etcd.md, "Sessions"): one lease, kept alive by a thread of its
 * own, to which the host binds every key that must not outlive it (its
 * migration slots, its place in the queue).  While the host runs, the
 * thread renews the lease every third of its TTL; when the host dies
 * the renewals stop and etcd removes those keys when the lease expires,
 * with nobody's help.
 *
 * The session is lost when etcd says the lease is gone, or when no
 * renewal got through for a whole TTL (etcd unreachable: it may have
 * expired the lease meanwhile).  A lost session stays lost; the host
 * starts another.
 */
#ifndef XLMIG_ETCD_SESSION_H
#define XLMIG_ETCD_SESSION_H

#include <stdbool.h>
#include <stdint.h>

#include "etcd.h"
#include "libxlmig.h"

#define XLMIG__ETCD_SESSION_TTL_MIN 1       /* seconds */
#define XLMIG__ETCD_SESSION_TTL_MAX 60
#define XLMIG__ETCD_SESSION_TTL_DEFAULT 5

struct xlmig__etcd_session;

/*
 * Grant a lease of @ttl_s seconds (TTL_MIN to TTL_MAX) through a client
 * of its own on @conf, and start renewing it.  Errors are those of the
 * client (CANNOT_CONTACT_HOST naming the endpoints) or INVALID_ARGUMENT.
 */
int xlmig__etcd_session_start(libxlmig_ctx *ctx,
                              const struct xlmig__etcd_conf *conf,
                              int64_t ttl_s,
                              struct xlmig__etcd_session **s_r);

int64_t xlmig__etcd_session_lease(const struct xlmig__etcd_session *s);

/* Still alive: no renewal refused, none missed for a whole TTL. */
bool xlmig__etcd_session_alive(struct xlmig__etcd_session *s);

/* Why it was lost ("" while alive). */
void xlmig__etcd_session_why(struct xlmig__etcd_session *s, char *buf,
                             size_t len);

/*
 * Stop renewing and free the session.  With @revoke, the lease is
 * revoked first, and its keys go at once (a host that leaves); without,
 * they go when it expires (as when the host dies).
 */
void xlmig__etcd_session_stop(struct xlmig__etcd_session *s, bool revoke);

#endif

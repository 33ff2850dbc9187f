/* SPDX-License-Identifier: LGPL-2.1-only */
/*
 * Placement (internal): which host a VM goes to when nobody named one
 * (vm-migrate without host=, host evacuation) and the ranking that
 * vm-retrieve-wlb-recommendations shows.
 *
 * The candidates are the pool's hosts, each with its facts and whether
 * it can take the VM (every check of a migration to it, as
 * xlmig__mig_check() runs them).  The built-in choice ranks those that
 * pass by free memory; a pool may name an external balancer instead
 * (the pool setting wlb-hook), a command that reads a request on stdin
 * and answers a ranking on stdout.  Its protocol, its limits and its
 * errors are in docs/specs/wlb-hook.md.  A balancer that fails (no
 * answer in time, a bad answer, a non-zero exit) never stops a
 * placement: the built-in choice is taken, and the log says why.
 *
 * Use: fill an array of struct xlmig__place_host (facts, enabled),
 * xlmig__place_evaluate() it, then xlmig__place().
 */
#ifndef XLMIG_PLACEMENT_H
#define XLMIG_PLACEMENT_H

#include <stdbool.h>
#include <stddef.h>

#include "libxlmig.h"
#include "migrate-check.h"

#define XLMIG__PLACE_HOSTS_MAX 64       /* candidates of one placement */
#define XLMIG__PLACE_REFUSALS_MAX 8     /* refusal sentences kept a host */
#define XLMIG__PLACE_MSG_MAX 600        /* bytes of one sentence */

/* The wire protocol's version and limits (docs/specs/wlb-hook.md). */
#define XLMIG__WLB_VERSION 1
#define XLMIG__WLB_ANSWER_MAX 65536     /* bytes of an answer */
#define XLMIG__WLB_RECS_MAX XLMIG__PLACE_HOSTS_MAX
#define XLMIG__WLB_HOST_MAX 64          /* bytes of a host name */
#define XLMIG__WLB_REASON_MAX 255       /* bytes of a reason */
#define XLMIG__WLB_DEPTH_MAX 8          /* objects and arrays nested */
#define XLMIG__WLB_TIMEOUT_MS_DEFAULT 10000

/*
 * A host that might take the VM.  The caller fills facts and enabled
 * (false: disabled for maintenance, never a candidate), the rest zero;
 * xlmig__place_evaluate() fills the verdict.
 */
struct xlmig__place_host {
    struct xlmig__host_facts facts;
    bool enabled;
    /* The verdict: the checks that failed (0: it can take the VM) and
     * what they said, each "NAME: sentence", the first
     * XLMIG__PLACE_REFUSALS_MAX of them. */
    unsigned int nr_failures;
    size_t nr_refusals;
    char refusals[XLMIG__PLACE_REFUSALS_MAX][XLMIG__PLACE_MSG_MAX];
};

/* Where a ranking came from. */
enum xlmig__place_source {
    XLMIG__PLACE_BUILTIN = 0,   /* the most free memory first */
    XLMIG__PLACE_HOOK,          /* the pool's wlb-hook */
};

/* One host of a ranking. */
struct xlmig__place_rec {
    size_t host;                        /* its index in the hosts array */
    char name[XLMIG__WLB_HOST_MAX + 1];
    double score;                       /* built-in: MiB free */
    char reason[XLMIG__WLB_REASON_MAX + 1];
};

/* The hosts that can take the VM, best first. */
struct xlmig__place_ranking {
    enum xlmig__place_source source;
    size_t n;
    struct xlmig__place_rec recs[XLMIG__WLB_RECS_MAX];
    /* When a wlb-hook was asked but its ranking is not this one: the
     * code of its failure (0 when it recommended no host) and the
     * sentence logged; else 0 and "". */
    int fallback_rc;
    char fallback[XLMIG__PLACE_MSG_MAX + 200];
};

/* The pool's balancer: wlb-hook and its time limit. */
struct xlmig__wlb_hook {
    const char *command;        /* run by /bin/sh -c; NULL or "": none */
    unsigned int timeout_ms;    /* 0: XLMIG__WLB_TIMEOUT_MS_DEFAULT */
};

/* "built-in" or "wlb-hook", static. */
const char *xlmig__place_source_name(enum xlmig__place_source s);

/* The stable name of a refusal "NAME: sentence" into @out (@cap > 0). */
void xlmig__place_refusal_name(const char *msg, char *out, size_t cap);

/*
 * The verdict on each of @hosts[0 .. @n - 1] for a migration of @p from
 * @src: a disabled host, or one named as @src, is refused without
 * checks; the others get every check of xlmig__mig_check() (with
 * @state_dir and @level, the destination pool's CPU level or NULL),
 * their failures kept in the host, not logged as errors of @ctx (they
 * are the hosts' verdicts, said at DETAIL level).  0;
 * LIBXLMIG_ERR_INVALID_ARGUMENT for more than XLMIG__PLACE_HOSTS_MAX
 * hosts, a host without a name or two of one name (nothing filled);
 * LIBXLMIG_ERR_NO_MEMORY.
 */
int xlmig__place_evaluate(libxlmig_ctx *ctx, const char *state_dir,
                          const struct xlmig__mig_plan *p,
                          const struct xlmig__host_facts *src,
                          const libxlmig_cpu_flags *level,
                          struct xlmig__place_host *hosts, size_t n);

/*
 * The built-in ranking into *@out: every host that can take the VM,
 * the most free memory first, equal ones in the order of their names;
 * reasons "most free memory: N MiB".  Returns out->n.  Pure.
 */
size_t xlmig__place_builtin(const struct xlmig__place_host *hosts, size_t n,
                            struct xlmig__place_ranking *out);

/*
 * The request to a wlb-hook for placing @p (now on host @src_name) on
 * one of @hosts (evaluated): JSON text in *@json_r (malloc'd, the
 * caller frees it), *@len_r bytes.  0; LIBXLMIG_ERR_NO_MEMORY, or
 * LIBXLMIG_ERR_INTERNAL for text yajl refuses (not UTF-8), logged.
 */
int xlmig__wlb_request(libxlmig_ctx *ctx, const struct xlmig__mig_plan *p,
                       const char *src_name,
                       const struct xlmig__place_host *hosts, size_t n,
                       char **json_r, size_t *len_r);

/*
 * Decode a wlb-hook's answer, @len bytes of @text (untrusted: any
 * bytes), against @hosts: every host it recommends must be one of them
 * that can take the VM, each at most once.  0 with *@out its ranking
 * (source XLMIG__PLACE_HOOK; n may be 0: no recommendation);
 * LIBXLMIG_ERR_WLB_MALFORMED_RESPONSE with a sentence in @why saying
 * what is wrong (recommendations counted from 1), or
 * LIBXLMIG_ERR_NO_MEMORY; *@out untouched then.  Pure: logs nothing.
 */
int xlmig__wlb_answer_decode(const struct xlmig__place_host *hosts, size_t n,
                             const char *text, size_t len,
                             struct xlmig__place_ranking *out, char *why,
                             size_t why_len);

/*
 * Ask @hook for a ranking: the request on its stdin, its answer decoded
 * into *@out.  The command runs as `/bin/sh -c COMMAND` in a process
 * group of its own, killed whole when it is done or its time is up.  0
 * (out->n may be 0); else logged through @ctx, *@out untouched:
 * LIBXLMIG_ERR_WLB_TIMEOUT (no answer within its time limit),
 * LIBXLMIG_ERR_WLB_MALFORMED_RESPONSE (an answer too large or not as
 * the protocol says), LIBXLMIG_ERR_WLB_INTERNAL_ERROR (it could not be
 * run, exited non-zero or was killed by a signal; its stderr's tail
 * quoted), LIBXLMIG_ERR_INVALID_ARGUMENT (no command),
 * LIBXLMIG_ERR_NO_MEMORY.
 */
int xlmig__wlb_run(libxlmig_ctx *ctx, const struct xlmig__wlb_hook *hook,
                   const struct xlmig__mig_plan *p, const char *src_name,
                   const struct xlmig__place_host *hosts, size_t n,
                   struct xlmig__place_ranking *out);

/*
 * Place @p (now on host @src_name) on one of @hosts (evaluated): the
 * ranking into *@out, from @hook when it has a command and answers
 * with at least one host, else the built-in one (a failed hook is
 * logged as a warning naming its error and that the built-in choice is
 * taken, and said in out->fallback).  0 (out->n >= 1: recs[0] is the
 * choice); LIBXLMIG_ERR_NO_HOSTS_AVAILABLE, logged, naming the VM and
 * each host's first refusal, when no host can take it (the hook is not
 * asked then); LIBXLMIG_ERR_NO_MEMORY.
 */
int xlmig__place(libxlmig_ctx *ctx, const struct xlmig__wlb_hook *hook,
                 const struct xlmig__mig_plan *p, const char *src_name,
                 const struct xlmig__place_host *hosts, size_t n,
                 struct xlmig__place_ranking *out);

#endif /* XLMIG_PLACEMENT_H */

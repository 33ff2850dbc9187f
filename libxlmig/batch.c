/* SPDX-License-Identifier: LGPL-2.1-only */
/*
 * Batches: every VM of an evacuation or a bulk move planned before the
 * first one moves, free memory accounted (batch.h,
 * docs/specs/pool-ops.md).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "batch.h"
#include "internal.h"

#define MEMORY_PREFIX "HOST_NOT_ENOUGH_FREE_MEMORY: "
#define PROMISED_NAMES_MAX 3        /* VMs named in a memory refusal */

/* The memory a VM takes where it goes: a halted VM none. */
static uint64_t need_kib(const struct xlmig__batch_vm *v)
{
    return v->plan->running ? v->plan->memory_kib : 0;
}

/* Is @a planned before @b: more memory, then name, uuid, index. */
static bool first(const struct xlmig__batch_vm *vms, size_t a, size_t b)
{
    uint64_t ma = need_kib(&vms[a]), mb = need_kib(&vms[b]);
    int c;

    if (ma != mb)
        return ma > mb;
    c = strcmp(vms[a].plan->vm, vms[b].plan->vm);
    if (c)
        return c < 0;
    c = strcmp(vms[a].plan->vm_uuid, vms[b].plan->vm_uuid);
    if (c)
        return c < 0;
    return a < b;
}

void xlmig__batch_order(const struct xlmig__batch_vm *vms, size_t nvm,
                        size_t *order_r)
{
    size_t i, k;

    /* Insertion: at most XLMIG__BATCH_VMS_MAX of them. */
    for (i = 0; i < nvm; i++) {
        for (k = i; k > 0 && first(vms, i, order_r[k - 1]); k--)
            order_r[k] = order_r[k - 1];
        order_r[k] = i;
    }
}

/*
 * Say, in each HOST_NOT_ENOUGH_FREE_MEMORY refusal of a host whose free
 * memory was lowered, how much of it was promised and to which VMs
 * planned before (those of @vms placed there, in the order planned;
 * @earlier_kib of it to another batch's).
 */
static void say_promised(struct xlmig__place_host *h, size_t hi,
                         uint64_t asked_kib, uint64_t promised_kib,
                         uint64_t earlier_kib,
                         const struct xlmig__batch_vm *vms,
                         const size_t *order, size_t upto)
{
    char names[256];
    size_t i, k, named = 0, len = 0;

    if (!promised_kib)
        return;
    names[0] = '\0';
    for (k = 0; k < upto; k++) {
        const struct xlmig__batch_vm *v = &vms[order[k]];
        int w;

        if (!v->placed || v->host != hi || !need_kib(v))
            continue;
        if (named == PROMISED_NAMES_MAX) {
            w = snprintf(names + len, sizeof(names) - len, ", ...");
            if (w > 0 && (size_t)w < sizeof(names) - len)
                len += (size_t)w;
            break;
        }
        w = snprintf(names + len, sizeof(names) - len, "%s%s",
                     named ? ", " : "", v->plan->vm);
        if (w > 0 && (size_t)w < sizeof(names) - len)
            len += (size_t)w;
        named++;
    }
    for (i = 0; i < h->nr_refusals; i++) {
        char *m = h->refusals[i];
        size_t used = strlen(m);

        if (strncmp(m, MEMORY_PREFIX, strlen(MEMORY_PREFIX)))
            continue;
        snprintf(m + used, XLMIG__PLACE_MSG_MAX - used, " (of the %" PRIu64
                 " MiB free there now, %" PRIu64 " MiB are promised to "
                 "%s%s%s%s planned there first)", asked_kib / 1024,
                 promised_kib / 1024, named ? "VM(s) " : "", names,
                 named && earlier_kib ? " and " : "",
                 earlier_kib ? "VMs of another host's batch" : "");
    }
}

/* Every different refusal of every host but @src into @v. */
static void keep_refusals(struct xlmig__batch_vm *v, const char *src,
                          const struct xlmig__place_host *hosts, size_t n)
{
    size_t h, i, k;

    v->nr_refusals = 0;
    for (h = 0; h < n; h++) {
        if (src && !strcmp(hosts[h].facts.name, src))
            continue;
        for (i = 0; i < hosts[h].nr_refusals; i++) {
            const char *m = hosts[h].refusals[i];

            for (k = 0; k < v->nr_refusals && strcmp(v->refusals[k], m);
                 k++)
                ;
            if (k < v->nr_refusals)
                continue;
            if (v->nr_refusals == XLMIG__BATCH_REFUSALS_MAX)
                return;
            xlmig__strlcpy(v->refusals[v->nr_refusals++], m,
                           XLMIG__PLACE_MSG_MAX);
        }
    }
}

static void outcome_clear(struct xlmig__batch_vm *v)
{
    v->placed = false;
    v->host = 0;
    v->source = XLMIG__PLACE_BUILTIN;
    v->reason[0] = '\0';
    v->fallback_rc = 0;
    v->fallback[0] = '\0';
    v->msg[0] = '\0';
    v->nr_refusals = 0;
}

int xlmig__batch_plan(libxlmig_ctx *ctx, const struct xlmig__batch *b,
                      struct xlmig__batch_vm *vms, size_t nvm)
{
    struct xlmig__place_host *scratch = NULL;
    struct xlmig__place_ranking *rk = NULL;
    uint64_t reserved[XLMIG__PLACE_HOSTS_MAX];
    uint64_t earlier[XLMIG__PLACE_HOSTS_MAX];
    size_t order[XLMIG__BATCH_VMS_MAX], k, h;
    const struct xlmig__wlb_hook *hook = b->hook;
    char failed_vm[XLMIG__DOM_NAME_MAX + 1] = "";
    int failed_rc = 0, rc;

    if (!nvm || nvm > XLMIG__BATCH_VMS_MAX || b->n > XLMIG__PLACE_HOSTS_MAX ||
        !b->evaluate)
        return xlmig__error(ctx, LIBXLMIG_ERR_INVALID_ARGUMENT, -1,
                            "a batch of %zu VMs on %zu hosts: give 1 to %d "
                            "VMs and at most %d hosts", nvm, b->n,
                            XLMIG__BATCH_VMS_MAX, XLMIG__PLACE_HOSTS_MAX);
    scratch = calloc(b->n ? b->n : 1, sizeof(*scratch));
    rk = xlmig__zalloc(sizeof(*rk));
    if (!scratch || !rk) {
        rc = xlmig__error(ctx, LIBXLMIG_ERR_NO_MEMORY, -1, "no memory to "
                          "plan a batch of %zu VMs", nvm);
        goto out;
    }
    for (h = 0; h < b->n; h++) {
        earlier[h] = b->reserved_kib ? b->reserved_kib[h] : 0;
        reserved[h] = earlier[h];
    }
    xlmig__batch_order(vms, nvm, order);
    for (k = 0; k < nvm; k++) {
        struct xlmig__batch_vm *v = &vms[order[k]];
        libxlmig_ctx *quiet = NULL;
        int prc;

        v->rank = k;
        if (v->rc)
            continue;               /* refused by the caller */
        outcome_clear(v);
        for (h = 0; h < b->n; h++) {
            uint64_t free_kib = b->hosts[h].facts.free_memory_kib;

            memset(&scratch[h], 0, sizeof(scratch[h]));
            scratch[h].facts = b->hosts[h].facts;
            scratch[h].enabled = b->hosts[h].enabled;
            scratch[h].facts.free_memory_kib =
                free_kib > reserved[h] ? free_kib - reserved[h] : 0;
        }
        rc = b->evaluate(b->opaque, order[k], scratch, b->n);
        if (rc) {
            rc = xlmig__error(ctx, rc, -1, "planning VM %s: %s", v->plan->vm,
                              libxlmig_strerror(rc));
            goto out;
        }
        for (h = 0; h < b->n; h++)
            say_promised(&scratch[h], h, b->hosts[h].facts.free_memory_kib,
                         reserved[h], earlier[h], vms, order, k);
        if (libxlmig_ctx_new(NULL, LIBXLMIG_LOG_CRITICAL, &quiet)) {
            rc = xlmig__error(ctx, LIBXLMIG_ERR_NO_MEMORY, -1, "no memory "
                              "to plan VM %s", v->plan->vm);
            goto out;
        }
        prc = xlmig__place(quiet, hook, v->plan, b->src_name, scratch, b->n,
                           rk);
        if (prc == LIBXLMIG_ERR_NO_HOSTS_AVAILABLE) {
            v->rc = prc;
            xlmig__strlcpy(v->msg, libxlmig_ctx_last_error(quiet),
                           sizeof(v->msg));
            keep_refusals(v, b->src_name, scratch, b->n);
            libxlmig_ctx_free(quiet);
            xlmig__log(ctx, XTL_DETAIL, -1, "batch: VM %s stays: %s",
                       v->plan->vm, v->msg);
            continue;
        }
        if (prc) {
            rc = xlmig__error(ctx, prc, -1, "%s",
                              libxlmig_ctx_last_error(quiet));
            libxlmig_ctx_free(quiet);
            goto out;
        }
        libxlmig_ctx_free(quiet);
        v->placed = true;
        v->host = rk->recs[0].host;
        v->source = rk->source;
        xlmig__strlcpy(v->reason, rk->recs[0].reason, sizeof(v->reason));
        v->fallback_rc = rk->fallback_rc;
        xlmig__strlcpy(v->fallback, rk->fallback, sizeof(v->fallback));
        if (rk->fallback_rc) {
            /* Said once; the VMs after it are not asked for. */
            xlmig__log(ctx, XTL_WARN, -1, "%s; the rest of the batch is "
                       "placed by the built-in choice too", rk->fallback);
            failed_rc = rk->fallback_rc;
            xlmig__strlcpy(failed_vm, v->plan->vm, sizeof(failed_vm));
            hook = NULL;
        } else if (!hook && failed_rc) {
            v->fallback_rc = failed_rc;
            snprintf(v->fallback, sizeof(v->fallback), "%s: wlb-hook was "
                     "not asked for VM %s: it failed for VM %s before it "
                     "in this batch; placing VM %s by the built-in choice "
                     "(most free memory) instead",
                     libxlmig_strerror_name(failed_rc), v->plan->vm,
                     failed_vm, v->plan->vm);
        }
        reserved[v->host] += need_kib(v);
        xlmig__log(ctx, XTL_DETAIL, -1, "batch: VM %s (%" PRIu64 " MiB) to "
                   "host %s (%s: %s)", v->plan->vm, need_kib(v) / 1024,
                   b->hosts[v->host].facts.name,
                   xlmig__place_source_name(v->source), v->reason);
    }
    rc = 0;
 out:
    free(rk);
    free(scratch);
    return rc;
}

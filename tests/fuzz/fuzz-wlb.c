/* SPDX-License-Identifier: LGPL-2.1-only */
/*
 * Fuzz target for a wlb-hook's answer (xlmig__wlb_answer_decode() in
 * libxlmig/placement.c; docs/specs/wlb-hook.md): the hook's stdout, any
 * bytes, decoded against four hosts: h2 and h3 can take the VM, h4
 * cannot, h5 is disabled.  A refusal must be WLB_MALFORMED_RESPONSE with
 * a reason and leave the ranking untouched.  Whatever decodes must name
 * only hosts that can take the VM, each once, with a finite score and a
 * reason of 1 to 255 bytes without control characters; written again as
 * an answer, it must decode to the same ranking.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "jsonfile.h"
#include "placement.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define NR_HOSTS 4

static struct xlmig__place_host hosts[NR_HOSTS];

static void hosts_init(void)
{
    static const char *const names[NR_HOSTS] = { "h2", "h3", "h4", "h5" };
    size_t i;

    for (i = 0; i < NR_HOSTS; i++) {
        memset(&hosts[i], 0, sizeof(hosts[i]));
        strcpy(hosts[i].facts.name, names[i]);
        hosts[i].facts.free_memory_kib = (i + 1) << 20;
        hosts[i].enabled = i != 3;
    }
    hosts[2].nr_failures = hosts[2].nr_refusals = 1;
    strcpy(hosts[2].refusals[0], "HOST_NOT_ENOUGH_FREE_MEMORY: VM v needs "
           "4096 MiB; host h4 has 3072 MiB free");
    hosts[3].nr_failures = hosts[3].nr_refusals = 1;
    strcpy(hosts[3].refusals[0], "HOST_DISABLED: host h5 is disabled");
}

static void check(const struct xlmig__place_ranking *r)
{
    size_t i, k, len;

    if (r->source != XLMIG__PLACE_HOOK || r->n > XLMIG__WLB_RECS_MAX ||
        r->fallback_rc || r->fallback[0])
        abort();
    for (i = 0; i < r->n; i++) {
        const struct xlmig__place_rec *x = &r->recs[i];

        if (x->host >= NR_HOSTS || hosts[x->host].nr_failures ||
            strcmp(x->name, hosts[x->host].facts.name) ||
            !isfinite(x->score))
            abort();
        for (k = 0; k < i; k++) {
            if (r->recs[k].host == x->host)
                abort();
        }
        len = strnlen(x->reason, sizeof(x->reason));
        if (!len || len > XLMIG__WLB_REASON_MAX)
            abort();
        for (k = 0; k < len; k++) {
            if ((unsigned char)x->reason[k] < 0x20 || x->reason[k] == 0x7f)
                abort();
        }
    }
}

/* @r as an answer, decoded again: the same ranking. */
static void round_trip(const struct xlmig__place_ranking *r)
{
    static struct xlmig__place_ranking back;
    yajl_gen g = yajl_gen_alloc(NULL);
    const unsigned char *out;
    char why[512];
    size_t len, i;
    bool ok;

    if (!g)
        abort();
    ok = yajl_gen_map_open(g) == yajl_gen_status_ok &&
         yajl_gen_string(g, (const unsigned char *)"recommendations", 15) ==
             yajl_gen_status_ok &&
         yajl_gen_array_open(g) == yajl_gen_status_ok;
    for (i = 0; ok && i < r->n; i++)
        ok = yajl_gen_map_open(g) == yajl_gen_status_ok &&
             xlmig__gen_key_string(g, "host", r->recs[i].name) &&
             yajl_gen_string(g, (const unsigned char *)"score", 5) ==
                 yajl_gen_status_ok &&
             yajl_gen_double(g, r->recs[i].score) == yajl_gen_status_ok &&
             xlmig__gen_key_string(g, "reason", r->recs[i].reason) &&
             yajl_gen_map_close(g) == yajl_gen_status_ok;
    ok = ok && yajl_gen_array_close(g) == yajl_gen_status_ok &&
         yajl_gen_map_close(g) == yajl_gen_status_ok &&
         yajl_gen_get_buf(g, &out, &len) == yajl_gen_status_ok;
    if (!ok || xlmig__wlb_answer_decode(hosts, NR_HOSTS, (const char *)out,
                                        len, &back, why, sizeof(why)))
        abort();
    yajl_gen_free(g);
    if (back.n != r->n)
        abort();
    for (i = 0; i < r->n; i++) {
        if (back.recs[i].host != r->recs[i].host ||
            back.recs[i].score != r->recs[i].score ||
            strcmp(back.recs[i].reason, r->recs[i].reason))
            abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct xlmig__place_ranking r, before;
    static bool ready;
    char why[512];
    int rc;

    if (!ready) {
        hosts_init();
        ready = true;
    }
    memset(&r, 0xa5, sizeof(r));
    before = r;
    why[0] = '\0';
    rc = xlmig__wlb_answer_decode(hosts, NR_HOSTS, (const char *)data, size,
                                  &r, why, sizeof(why));
    if (rc) {
        if (rc != LIBXLMIG_ERR_WLB_MALFORMED_RESPONSE || !why[0] ||
            memcmp(&r, &before, sizeof(r)))
            abort();
        return 0;
    }
    if (size > XLMIG__WLB_ANSWER_MAX)
        abort();
    check(&r);
    round_trip(&r);
    return 0;
}

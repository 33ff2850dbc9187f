/* SPDX-License-Identifier: LGPL-2.1-only */
/*
 * Fuzz target for the launch request decoder (libxlmig/launch.c), the
 * first thing a listener parses from an untrusted peer.  Feeds the input
 * whole and as the listener does (exactly the bytes the decoder asks
 * for), checks that both agree, that the decoder never asks past the
 * 4 KiB cap, and runs the xlmig: word parser and the whitelist on
 * whatever decodes.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "launch.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct xlmig__launch_req req, req2, req3;
    char why[512];
    size_t need = 0, fed = 0;
    int rc_whole, rc;
    unsigned int i;

    rc_whole = xlmig__launch_decode(data, size, &req, &need, why,
                                    sizeof(why));
    if (!rc_whole && !need) {
        if (req.argc < 1 || req.argc > XLMIG__LAUNCH_ARGC_MAX)
            abort();
        for (i = 0; i < req.argc; i++) {
            size_t n = strlen(req.argv[i]);

            if (n < 1 || n > XLMIG__LAUNCH_ARG_MAX)
                abort();
        }
        if (req.argv[req.argc])
            abort();
        (void)xlmig__launch_check(&req, why, sizeof(why));
        /* The xlmig: words, on a copy (argv still points into req). */
        req3 = req;
        if (!xlmig__launch_take_meta(&req3, why, sizeof(why))) {
            if (req3.argc > req.argc || req3.argv[req3.argc])
                abort();
            if (req3.meta.has_cpu && !req3.meta.has_vm)
                abort();
            (void)xlmig__launch_check(&req3, why, sizeof(why));
        }
    }

    /* Incrementally, as xlmig__launch_receive() reads. */
    for (;;) {
        rc = xlmig__launch_decode(data, fed, &req2, &need, why,
                                  sizeof(why));
        if (rc || !need)
            break;
        if (fed + need > XLMIG__LAUNCH_TOTAL_MAX)
            abort();            /* asked past the cap */
        if (fed + need > size)
            break;              /* the peer would have hung up */
        fed += need;
    }
    /* A whole valid request decodes the same both ways. */
    if (!rc_whole && !need && fed == size && !rc) {
        if (req2.argc != req.argc)
            abort();
        for (i = 0; i < req.argc; i++) {
            if (strcmp(req.argv[i], req2.argv[i]))
                abort();
        }
    }
    return 0;
}

/* SPDX-License-Identifier: LGPL-2.1-only */
/* What the hypervisor tables share (hv.h): domain states, find(). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hv.h"

const char *xlmig__dom_state_name(enum xlmig__dom_state s)
{
    static const char *const names[] = { "running", "paused", "suspended",
                                         "shutdown", "dying" };

    return (unsigned)s < sizeof(names) / sizeof(names[0]) ? names[s] : "?";
}

int xlmig__hv_find_listed(struct xlmig__hv *h,
                          int (*list)(struct xlmig__hv *h,
                                      struct xlmig__dom **doms_r,
                                      size_t *nr_r),
                          const char *which, struct xlmig__dom *d_r)
{
    struct xlmig__dom *doms = NULL;
    size_t nr = 0, i;
    int rc = list(h, &doms, &nr);

    if (rc)
        return rc;
    rc = LIBXLMIG_ERR_NOT_FOUND;
    for (i = 0; i < nr; i++) {
        char id[16];

        snprintf(id, sizeof(id), "%" PRIu32, doms[i].domid);
        if (!strcmp(doms[i].name, which) || !strcmp(doms[i].uuid, which) ||
            !strcmp(id, which)) {
            *d_r = doms[i];
            rc = 0;
            break;
        }
    }
    free(doms);
    return rc;
}

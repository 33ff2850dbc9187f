/* SPDX-License-Identifier: LGPL-2.1-only */
/*
 * Fuzz target for a host's facts as another host's xlmigd sends them
 * (xlmig__host_facts_decode() in libxlmig/migrate-check.c): the text is
 * parsed as the RPC layer would hand it over (yajl_tree_parse(), under
 * the RPC frame's size cap), then decoded.  A refusal must be
 * PROTOCOL_ERROR with a reason and leave the output untouched.  Whatever
 * decodes must hold its caps, and the encoder must write it so that it
 * decodes again to the same facts.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "migrate-check.h"
#include "rpc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_caps(const struct xlmig__host_facts *f)
{
    size_t i;

    if (f->nr_srs > XLMIG__FACTS_SRS_MAX ||
        f->nr_bridges > XLMIG__FACTS_BRIDGES_MAX || !f->name[0] ||
        !f->version[0] || f->xen_major < 0 || f->xen_major > 1000 ||
        f->xen_minor < 0 || f->xen_minor > 1000 || f->nr_cpus > 65536)
        abort();
    for (i = 0; i < f->nr_srs; i++) {
        if (!xlmig__uuid_ok(f->srs[i].uuid) || !f->srs[i].name[0] ||
            f->srs[i].caps > XLMIG__SR_CAPS_ALL)
            abort();
    }
    for (i = 0; i < f->nr_bridges; i++) {
        if (!f->bridges[i][0])
            abort();
    }
}

/* Decode the text @json into *f: the code. */
static int decode(const char *json, struct xlmig__host_facts *f, char *why,
                  size_t why_len)
{
    yajl_val v = yajl_tree_parse(json, NULL, 0);
    int rc;

    if (!v)
        return -1;
    rc = xlmig__host_facts_decode(v, f, why, why_len);
    yajl_tree_free(v);
    return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct xlmig__host_facts f, before, first, back;
    char why[256], *text;
    const unsigned char *out;
    size_t len;
    yajl_gen g;
    int rc;

    if (size > XLMIG__RPC_FRAME_MAX)
        return 0;
    text = malloc(size + 1);
    if (!text)
        abort();
    memcpy(text, data, size);
    text[size] = '\0';

    memset(&f, 0xa5, sizeof(f));
    before = f;
    why[0] = '\0';
    rc = decode(text, &f, why, sizeof(why));
    if (rc) {
        /* Not JSON (-1), or facts refused with a reason. */
        if ((rc != -1 && (rc != LIBXLMIG_ERR_PROTOCOL || !why[0])) ||
            memcmp(&f, &before, sizeof(f)))
            abort();
        free(text);
        return 0;
    }
    check_caps(&f);

    /* Zeroed first, so that the two may be compared byte for byte. */
    memset(&first, 0, sizeof(first));
    memset(&back, 0, sizeof(back));
    if (decode(text, &first, why, sizeof(why)))
        abort();
    g = yajl_gen_alloc(NULL);
    if (!g || !xlmig__host_facts_gen(g, &first) ||
        yajl_gen_get_buf(g, &out, &len) != yajl_gen_status_ok)
        abort();
    free(text);
    text = strndup((const char *)out, len);
    yajl_gen_free(g);
    if (!text || decode(text, &back, why, sizeof(why)) ||
        memcmp(&first, &back, sizeof(first)))
        abort();
    free(text);
    return 0;
}

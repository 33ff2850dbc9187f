/* SPDX-License-Identifier: LGPL-2.1-only */
/*
 * Fuzz target for the VM record decoder (libxlmig/vmrec.c): records are
 * files of the state directory, and a halted VM is started again from the
 * configuration one holds.  A refusal must leave the outputs untouched.
 * Whatever decodes must have a uuid and a name, a configuration that the
 * configuration's reader takes, and must decode the same again when its
 * record is written back around that configuration.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "jsonfile.h"
#include "rpc.h"
#include "vmconfig.h"
#include "vmrec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The record of @r around @config, as vmrec_save() writes it: malloc'd. */
static char *record_text(const struct xlmig__vmrec *r, const char *config,
                         size_t *len_r)
{
    yajl_val root = NULL;
    yajl_gen g = xlmig__gen_new();
    const unsigned char *buf;
    char why[256], *text;

    if (!g || xlmig__vmcfg_tree(config, strlen(config), &root, why,
                                sizeof(why)) ||
        yajl_gen_map_open(g) != yajl_gen_status_ok ||
        !xlmig__gen_key_integer(g, "version", 1) ||
        !xlmig__gen_key_string(g, "uuid", r->uuid) ||
        !xlmig__gen_key_string(g, "name", r->name) ||
        yajl_gen_string(g, (const unsigned char *)"config", 6) !=
            yajl_gen_status_ok ||
        xlmig__rpc_gen_value(g, root) ||
        yajl_gen_map_close(g) != yajl_gen_status_ok ||
        yajl_gen_get_buf(g, &buf, len_r) != yajl_gen_status_ok)
        abort();
    text = malloc(*len_r + 1);
    if (!text)
        abort();
    memcpy(text, buf, *len_r);
    text[*len_r] = '\0';
    yajl_gen_free(g);
    yajl_tree_free(root);
    return text;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct xlmig__vmcfg cfg;
    struct xlmig__vmrec r, before, back;
    char *config = (char *)"untouched", *again = NULL, *text;
    size_t len;

    memset(&r, 0xa5, sizeof(r));
    before = r;
    if (xlmig__vmrec_decode(NULL, "fuzz", data, size, &r, &config)) {
        if (memcmp(&r, &before, sizeof(r)) || strcmp(config, "untouched"))
            abort();
        return 0;
    }
    if (!xlmig__uuid_ok(r.uuid) || !r.name[0] ||
        !memchr(r.name, '\0', sizeof(r.name)) ||
        xlmig__vmcfg_parse(NULL, "fuzz", config, strlen(config), &cfg))
        abort();

    text = record_text(&r, config, &len);
    memset(&back, 0, sizeof(back));
    if (xlmig__vmrec_decode(NULL, "again", (const uint8_t *)text, len, &back,
                            &again) ||
        strcmp(back.uuid, r.uuid) || strcmp(back.name, r.name) ||
        strcmp(again, config))
        abort();
    free(text);
    free(again);
    free(config);
    return 0;
}

/* SPDX-License-Identifier: LGPL-2.1-only */
/*
 * Fuzz target for the RPC message decoder (libxlmig/rpc.c), which reads
 * what pool peers send.  Feeds the bytes to xlmig__rpc_decode().  A
 * refusal must be PROTOCOL_ERROR with a reason and leave the message
 * disposed.  Whatever decodes must hold what the spec promises (valid
 * names, a params object, at most 4 error params of at most 255 bytes),
 * and must survive a round trip through the encoders: requests and
 * events through gen_request/gen_event with their params copied by
 * gen_value, results through gen_result, errors with a known name
 * through encode_error; the text decodes again to the same message.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "jsonfile.h"
#include "rpc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Params of a request or event: absent and {} are the same. */
static bool same_params(yajl_val a, yajl_val b)
{
    if (!a && b && YAJL_IS_OBJECT(b) && b->u.object.len == 0)
        return true;
    return xlmig__json_equal(a, b);
}

static void check_invariants(const struct xlmig__rpc_msg *m)
{
    unsigned int i;

    if (!m->root)
        abort();
    switch (m->kind) {
    case XLMIG__RPC_REQUEST:
    case XLMIG__RPC_EVENT:
        if (!xlmig__rpc_method_name_ok(m->method) || m->result ||
            m->is_error || (m->params && !YAJL_IS_OBJECT(m->params)))
            abort();
        if (m->kind == XLMIG__RPC_EVENT && m->id)
            abort();
        break;
    case XLMIG__RPC_RESPONSE:
        if (m->method[0] || m->params)
            abort();
        if (m->is_error) {
            if (m->result || !xlmig__rpc_error_name_ok(m->err_name) ||
                m->nr_err_params > XLMIG__RPC_ERR_PARAMS_MAX ||
                strlen(m->err_message) > XLMIG__RPC_MESSAGE_MAX)
                abort();
            for (i = 0; i < m->nr_err_params; i++) {
                if (strlen(m->err_params[i]) > XLMIG__RPC_ERR_PARAM_MAX)
                    abort();
            }
        } else if (!m->result) {
            abort();
        }
        break;
    default:
        abort();
    }
}

/* Encode @m again; NULL when it is an error of a name we cannot send. */
static char *reencode(const struct xlmig__rpc_msg *m, size_t *len_r)
{
    char *json = NULL;
    yajl_gen g = NULL;
    size_t i;
    int code;

    switch (m->kind) {
    case XLMIG__RPC_REQUEST:
    case XLMIG__RPC_EVENT:
        g = m->kind == XLMIG__RPC_REQUEST
                ? xlmig__rpc_gen_request(m->id, m->method)
                : xlmig__rpc_gen_event(m->method);
        if (!g)
            abort();
        for (i = 0; m->params && i < m->params->u.object.len; i++) {
            const char *k = m->params->u.object.keys[i];

            if (yajl_gen_string(g, (const unsigned char *)k, strlen(k)) !=
                    yajl_gen_status_ok ||
                xlmig__rpc_gen_value(g, m->params->u.object.values[i]))
                abort();
        }
        break;
    case XLMIG__RPC_RESPONSE:
        if (m->is_error) {
            const char *params[XLMIG__RPC_ERR_PARAMS_MAX];

            if (libxlmig_error_from_name(m->err_name, &code) || code >= 0)
                return NULL;
            for (i = 0; i < m->nr_err_params; i++)
                params[i] = m->err_params[i];
            if (xlmig__rpc_encode_error(m->id, code, m->err_message, params,
                                        m->nr_err_params, &json, len_r))
                abort();
            return json;
        }
        g = xlmig__rpc_gen_result(m->id);
        if (!g || xlmig__rpc_gen_value(g, m->result))
            abort();
        break;
    }
    if (xlmig__rpc_gen_finish(g, &json, len_r))
        abort();
    return json;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct xlmig__rpc_msg m, back;
    char why[XLMIG__RPC_WHY_MAX], *json;
    size_t len = 0;
    unsigned int i;
    int rc;

    why[0] = '\0';
    rc = xlmig__rpc_decode((const char *)data, size, &m, why, sizeof(why));
    if (rc) {
        if (rc != LIBXLMIG_ERR_PROTOCOL || !why[0] || m.root || m.params ||
            m.result)
            abort();
        xlmig__rpc_msg_dispose(&m);
        return 0;
    }
    check_invariants(&m);

    json = reencode(&m, &len);
    if (json) {
        if (len != strlen(json) ||
            xlmig__rpc_decode(json, len, &back, why, sizeof(why)))
            abort();
        check_invariants(&back);
        if (back.kind != m.kind || back.id != m.id ||
            strcmp(back.method, m.method) || back.is_error != m.is_error ||
            !same_params(m.params, back.params) ||
            !xlmig__json_equal(m.result, back.result) ||
            strcmp(back.err_name, m.err_name) ||
            strcmp(back.err_message, m.err_message) ||
            back.nr_err_params != m.nr_err_params)
            abort();
        for (i = 0; i < m.nr_err_params; i++) {
            if (strcmp(back.err_params[i], m.err_params[i]))
                abort();
        }
        xlmig__rpc_msg_dispose(&back);
        free(json);
    }
    xlmig__rpc_msg_dispose(&m);
    return 0;
}
